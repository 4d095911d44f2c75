/*
 * test_kv_crash.c: crash test of a primary-key table (issue 3).
 *
 * Each round forks a child that opens the data directory and upserts or deletes batches
 * of keys in a loop (flush = sync); the rows of batch b of round r follow from the seed.
 * After every acknowledged call it writes b to a pipe. The parent SIGKILLs it after a
 * random delay (sometimes while it is still opening, i.e. replaying), reopens and checks:
 *   - the state equals the replay of the changelog (+I/+U put, -D delete, every -U equal
 *     to the row it replaces, offsets contiguous from 0);
 *   - the state and the changelog length equal the reference model after every
 *     acknowledged batch of every round, plus or minus the one batch in flight (which
 *     is all or nothing: one bucket, so one changelog batch);
 *   - nothing acknowledged in an earlier round was lost;
 *   - AS OF lookups (batch and single) at random keys and times (commit times of the
 *     changelog, one ms either side, and the far future) equal the key's history as the
 *     changelog says it is (+I/+U: that row from its batch's commit time on, -D: none).
 * STROM_TEST_SEED=<n> replays a run; STROM_CRASH_ROUNDS overrides the round count (50).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "format/format.h"
#include "itest.h"

#define TABLE "kvcrash"
#define NKEYS 300
#define MAXROWS 20

typedef struct krow {
    int present;
    int64_t ver;
} krow;

typedef struct kmodel {
    krow rows[NKEYS];
    int64_t nlog;
} kmodel;

/* The history of every key by the changelog: one entry per +I/+U/-D, in log order. */
typedef struct kver {
    int64_t id, time, ver;   /* ver -1: a delete */
} kver;

typedef struct khist {
    kver *v;
    size_t n, cap;
} khist;

static void hist_add(khist *h, int64_t id, int64_t time, int64_t ver)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 1024;
        h->v = realloc(h->v, h->cap * sizeof *h->v);
        IT_CHECK(h->v != NULL, "out of memory");
    }
    h->v[h->n++] = (kver){id, time, ver};
}

/* Batch b of round r: *n keys, all upserts or all deletes; ver of row i = ver0 + i. */
static int batch_plan(uint64_t seed, int round, int64_t b, int64_t *keys, int64_t *ver0)
{
    uint64_t h = it_mix(seed ^ ((uint64_t)round << 40) ^ (uint64_t)b);
    int n = 1 + (int)(h % MAXROWS), del = (h >> 8) % 5 == 0;
    for (int i = 0; i < n; i++)
        keys[i] = (int64_t)(it_mix(h + (uint64_t)i + 1) % NKEYS);
    *ver0 = (int64_t)round * 1000000000 + b * 100;
    return del ? -n : n;
}

static void model_apply(kmodel *m, uint64_t seed, int round, int64_t b)
{
    int64_t keys[MAXROWS], ver0;
    int n = batch_plan(seed, round, b, keys, &ver0), del = n < 0;
    for (int i = 0; i < (del ? -n : n); i++) {
        krow *r = &m->rows[keys[i]];
        if (del) {
            m->nlog += r->present;
            r->present = 0;
            continue;
        }
        m->nlog += r->present ? 2 : 1;
        *r = (krow){1, ver0 + i};
    }
}

static strom_schema *kschema(void)
{
    strom_schema *s = strom_schema_create();
    IT_OK(strom_schema_add(s, "id", STROM_BIGINT, 1));
    IT_OK(strom_schema_add(s, "ver", STROM_BIGINT, 1));
    IT_OK(strom_schema_add(s, "tag", STROM_STRING, 0));
    const char *pk[] = {"id"};
    IT_OK(strom_schema_set_primary_key(s, pk, 1));
    return s;
}

/* ------------------------------------------------------------------ child */

static void child_main(const char *dir, uint64_t seed, int round, int fd)
{
    strom_db *db;
    strom_table *t;
    if (strom_db_open(dir, &db) || strom_table_open(db, TABLE, &t))
        _exit(3);
    strom_builder *b = strom_builder_create(strom_table_schema(t));
    for (int64_t batch = 0;; batch++) {
        int64_t keys[MAXROWS], ver0;
        int n = batch_plan(seed, round, batch, keys, &ver0), del = n < 0;
        strom_builder_reset(b);
        for (int i = 0; i < (del ? -n : n); i++) {
            char tag[32];
            int len = snprintf(tag, sizeof tag, "v%lld", (long long)(ver0 + i));
            if (strom_builder_put_int(b, 0, keys[i]) || strom_builder_put_int(b, 1, ver0 + i) ||
                strom_builder_put_str(b, 2, tag, (size_t)len) || strom_builder_end_row(b))
                _exit(4);
        }
        if ((del ? strom_table_delete(t, b) : strom_table_upsert(t, b)) != STROM_OK)
            _exit(5);
        if (write(fd, &batch, sizeof batch) != sizeof batch)
            _exit(6);
    }
}

/* Runs the child for delay_ms, kills it; returns the last acknowledged batch (-1: none). */
static int64_t run_child(const char *dir, uint64_t seed, int round, int delay_ms)
{
    int fds[2];
    pid_t pid = it_fork_pipe(fds);
    if (pid == 0)
        child_main(dir, seed, round, fds[1]);
    usleep((useconds_t)delay_ms * 1000);
    kill(pid, SIGKILL);
    int status;
    IT_CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    IT_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
             "round %d: the child ended by itself (status 0x%x)", round, status);
    int64_t last = -1, b;
    while (read(fds[0], &b, sizeof b) == sizeof b) {
        IT_CHECK(b == last + 1, "round %d: ack %lld after %lld", round, (long long)b,
                 (long long)last);
        last = b;
    }
    close(fds[0]);
    return last;
}

/* ------------------------------------------------------------------ checks */

/* The state as the changelog says it is, checking every before image. */
static void replay(strom_table *t, kmodel *out, khist *h)
{
    memset(out, 0, sizeof *out);
    int64_t earliest, end, next = 0;
    IT_OK(strom_table_offsets(t, 0, &earliest, &end));
    strom_scan *sc;
    const strom_batch *b;
    IT_OK(strom_scan_open(t, 0, 0, NULL, &sc));
    while (next < end) {
        IT_OK(strom_scan_next(sc, &b));
        IT_CHECK(b != NULL, "changelog ends at %lld, end is %lld", (long long)next,
                 (long long)end);
        for (int64_t r = 0; r < strom_batch_nrows(b); r++, next++) {
            int64_t id = strom_batch_get_int(b, 0, r), ver = strom_batch_get_int(b, 1, r);
            strom_change c = strom_batch_row_change(b, r);
            IT_CHECK(strom_batch_row_offset(b, r) == next && id >= 0 && id < NKEYS,
                     "offset %lld: bad row", (long long)next);
            krow *k = &out->rows[id];
            int ok = c == STROM_INSERT ? !k->present
                   : c == STROM_DELETE || c == STROM_UPDATE_BEFORE ? k->present && k->ver == ver
                   : c == STROM_UPDATE_AFTER ? k->present : 0;
            IT_CHECK(ok, "offset %lld: change %d of key %lld (ver %lld) does not follow the "
                     "earlier changes", (long long)next, (int)c, (long long)id, (long long)ver);
            if (c == STROM_INSERT || c == STROM_UPDATE_AFTER)
                *k = (krow){1, ver};
            else if (c == STROM_DELETE)
                k->present = 0;
            if (c != STROM_UPDATE_BEFORE)
                hist_add(h, id, strom_batch_commit_time(b), c == STROM_DELETE ? -1 : ver);
        }
    }
    strom_scan_close(sc);
    out->nlog = end;
}

static void read_state(strom_table *t, kmodel *out)
{
    strom_value keys[NKEYS];
    uint8_t found[NKEYS];
    for (int k = 0; k < NKEYS; k++)
        keys[k] = (strom_value){.type = STROM_BIGINT, .v.i = k};
    strom_batch *b = NULL;
    IT_OK(strom_table_lookup_batch(t, keys, 1, NKEYS, found, &b));
    int64_t r = 0;
    for (int k = 0; k < NKEYS; k++) {
        out->rows[k].present = found[k];
        out->rows[k].ver = 0;
        if (!found[k])
            continue;
        IT_CHECK(strom_batch_get_int(b, 0, r) == k, "batch lookup: row %lld is key %lld, not "
                 "%d", (long long)r, (long long)strom_batch_get_int(b, 0, r), k);
        out->rows[k].ver = strom_batch_get_int(b, 1, r++);
        size_t len;
        const char *tag = strom_batch_get_str(b, 2, r - 1, &len);
        char want[32];
        snprintf(want, sizeof want, "v%lld", (long long)out->rows[k].ver);
        IT_CHECK(len == strlen(want) && !memcmp(tag, want, len), "key %d: tag does not match", k);
    }
    strom_batch_destroy(b);
}

/* Expected AS OF at of key id by the history: ver, or -1 for none. */
static int64_t hist_asof(const khist *h, int64_t id, int64_t at)
{
    int64_t best = -1, bt = INT64_MIN;
    for (size_t i = 0; i < h->n; i++)
        if (h->v[i].id == id && h->v[i].time <= at && h->v[i].time >= bt) {
            bt = h->v[i].time;
            best = h->v[i].ver;
        }
    return best;
}

#define NASOF 48

static void check_asof(strom_table *t, const khist *h, uint64_t seed, int round)
{
    strom_value keys[NASOF];
    int64_t at[NASOF];
    uint8_t found[NASOF];
    strom_builder *b = strom_builder_create(strom_table_schema(t));
    strom_builder *one = strom_builder_create(strom_table_schema(t));
    for (int i = 0; i < NASOF; i++) {
        uint64_t x = it_mix(seed ^ ((uint64_t)round << 20) ^ (uint64_t)i);
        const kver *v = h->n ? &h->v[x % h->n] : NULL;
        keys[i] = (strom_value){.type = STROM_BIGINT, .v.i = v && x % 4 ? v->id
                                                                 : (int64_t)(x % NKEYS)};
        at[i] = !v || x % 7 == 0 ? INT64_MAX : v->time + (int64_t)((x >> 8) % 3) - 1;
    }
    IT_OK(strom_table_lookup_batch_asof_into(t, keys, 1, NASOF, at, found, b));
    strom_column idc, verc;
    fmt_builder_view(b, 0, &idc);
    fmt_builder_view(b, 1, &verc);
    int64_t r = 0;
    for (int i = 0; i < NASOF; i++) {
        int64_t want = hist_asof(h, keys[i].v.i, at[i]), got = -1;
        int f = -1;
        if (found[i]) {
            IT_CHECK(((const int64_t *)idc.values)[r] == keys[i].v.i, "AS OF: row order");
            got = ((const int64_t *)verc.values)[r++];
        }
        IT_CHECK(got == want, "round %d: key %lld AS OF %lld: ver %lld, the changelog says "
                 "%lld", round, (long long)keys[i].v.i, (long long)at[i], (long long)got,
                 (long long)want);
        strom_builder_reset(one);
        IT_OK(strom_table_lookup_asof_into(t, &keys[i], 1, at[i], one, &f));
        IT_CHECK(f == found[i], "round %d: single and batch AS OF differ", round);
    }
    strom_builder_destroy(b);
    strom_builder_destroy(one);
}

static int same_state(const kmodel *a, const kmodel *b)
{
    for (int k = 0; k < NKEYS; k++)
        if (a->rows[k].present != b->rows[k].present ||
            (a->rows[k].present && a->rows[k].ver != b->rows[k].ver))
            return 0;
    return 1;
}

static void verify(const char *dir, uint64_t seed, int round, int64_t acked, kmodel *m)
{
    strom_db *db;
    strom_table *t;
    IT_OK(strom_db_open(dir, &db));
    IT_OK(strom_table_open(db, TABLE, &t));
    kmodel *st = calloc(1, sizeof *st), *rp = calloc(1, sizeof *rp), *m1 = malloc(sizeof *m1);
    khist h = {0};
    read_state(t, st);
    replay(t, rp, &h);
    check_asof(t, &h, seed, round);
    free(h.v);
    IT_CHECK(same_state(st, rp), "round %d: the state differs from the replay of the changelog",
             round);
    for (int64_t b = 0; b <= acked; b++)
        model_apply(m, seed, round, b);
    *m1 = *m;
    model_apply(m1, seed, round, acked + 1);
    if (same_state(st, m1) && rp->nlog == m1->nlog)
        *m = *m1;   /* the batch in flight made it */
    IT_CHECK(same_state(st, m) && rp->nlog == m->nlog, "round %d (%lld batches acknowledged): "
             "state/changelog (%lld rows) match neither the acknowledged writes (%lld) nor "
             "those plus the batch in flight (%lld)", round, (long long)acked + 1,
             (long long)rp->nlog, (long long)m->nlog, (long long)m1->nlog);
    free(st);
    free(rp);
    free(m1);
    strom_table_close(t);
    strom_db_close(db);
}

int main(void)
{
    char dir[256];
    int rounds;
    uint64_t seed = it_crash_begin("test_kv_crash", "strom-kvcrash-", 50, dir, sizeof dir, &rounds);
    strom_db *db;
    IT_OK(strom_db_open(dir, &db));
    strom_schema *s = kschema();
    const char *opts[] = {"bucket.num", "1", "table.log.segment.bytes", "64kb", NULL};
    IT_OK(strom_table_create(db, TABLE, s, opts));
    strom_schema_destroy(s);
    strom_db_close(db);
    kmodel *m = calloc(1, sizeof *m);
    int64_t acks = 0;
    for (int round = 0; round < rounds; round++) {
        uint64_t h = it_mix(seed ^ ((uint64_t)round << 32));
        /* every tenth round dies while opening (replaying), the others while writing */
        int64_t acked = run_child(dir, seed, round, round % 10 == 7 ? (int)(h % 5)
                                                                    : 20 + (int)(h % 100));
        verify(dir, seed, round, acked, m);
        acks += acked + 1;
    }
    printf("test_kv_crash: %d rounds, %lld acknowledged writes verified, changelog %lld rows\n",
           rounds, (long long)acks, (long long)m->nlog);
    free(m);
    it_rmtree(dir);
    return 0;
}
