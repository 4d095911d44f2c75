/*
 * test_crash.c: crash test of issue 2 section 5.
 *
 * Each round forks a child that opens the data directory and appends batches in a loop
 * (flush = sync) from one or several threads. After every acknowledged append it writes
 * (writer, batch, bucket, first offset, rows, checksum of the rows' values) to a pipe.
 * The parent SIGKILLs it after a random delay, reopens the database and checks:
 *   - every acknowledged row is there, at its acknowledged offset, with the values the
 *     child generated (recomputed here from the seed), and the checksum matches;
 *   - every row in the table (acknowledged or not) is one the child wrote, intact;
 *   - offsets are contiguous from the earliest offset, nothing acknowledged in an
 *     earlier round was lost, and a single writer's batches appear in its order.
 * STROM_TEST_SEED=<n> replays a run; STROM_CRASH_ROUNDS overrides the round count.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "itest.h"

#define TABLE "crash"
#define NBUCKETS 2
#define MAX_THREADS 4

typedef struct ack {
    int64_t writer, batch, bucket, first, rows;
    uint64_t sum;
} ack;

typedef struct round_ctx {
    const char *dir;
    uint64_t seed;
    int round, nthreads;
    int fd;
    strom_table *t;
} round_ctx;

typedef struct writer_arg {
    round_ctx *rc;
    int64_t writer;
} writer_arg;

/* ------------------------------------------------------------------ child */

static void *writer_main(void *p)
{
    writer_arg *w = p;
    round_ctx *rc = w->rc;
    strom_schema *s = it_schema();
    strom_builder *b = strom_builder_create(s);
    for (int64_t batch = 0;; batch++) {
        uint64_t h = it_mix(rc->seed ^ (uint64_t)it_id(w->writer, batch, 0xFFFF));
        int64_t rows = 1 + (int64_t)(h % 300);
        int bucket = (int)((h >> 20) % NBUCKETS);
        uint64_t sum = 0xcbf29ce484222325ull;
        strom_builder_reset(b);
        for (int64_t r = 0; r < rows; r++)
            sum = it_put_row(b, rc->seed, it_id(w->writer, batch, r), sum);
        int64_t first = -1;
        if (strom_table_append_bucket(rc->t, bucket, b, &first) != STROM_OK) {
            fprintf(stderr, "child: append failed: %s\n", strom_errmsg());
            _exit(3);
        }
        ack a = {w->writer, batch, bucket, first, rows, sum};
        if (write(rc->fd, &a, sizeof a) != (ssize_t)sizeof a)
            _exit(4);
    }
    return NULL;
}

static void child_main(round_ctx *rc)
{
    strom_db *db;
    if (strom_db_open(rc->dir, &db) || strom_table_open(db, TABLE, &rc->t)) {
        fprintf(stderr, "child: open failed: %s\n", strom_errmsg());
        _exit(2);
    }
    pthread_t th[MAX_THREADS];
    writer_arg wa[MAX_THREADS];
    for (int i = 0; i < rc->nthreads; i++) {
        wa[i].rc = rc;
        wa[i].writer = rc->round * MAX_THREADS + i + 1;
        if (pthread_create(&th[i], NULL, writer_main, &wa[i]))
            _exit(5);
    }
    pthread_join(th[0], NULL);
    _exit(6);
}

/* ----------------------------------------------------------------- parent */

typedef struct acks {
    ack *v;
    size_t n, cap;
} acks;

static void read_acks(int fd, acks *out, char *buf, size_t *have)
{
    ssize_t n;
    while ((n = read(fd, buf + *have, 4096 - *have)) > 0) {
        *have += (size_t)n;
        while (*have >= sizeof(ack)) {
            if (out->n == out->cap) {
                out->cap = out->cap ? out->cap * 2 : 256;
                out->v = realloc(out->v, out->cap * sizeof(ack));
                IT_CHECK(out->v != NULL, "out of memory");
            }
            memcpy(&out->v[out->n++], buf, sizeof(ack));
            memmove(buf, buf + sizeof(ack), *have - sizeof(ack));
            *have -= sizeof(ack);
        }
    }
}

/* Runs the child for delay_ms, kills it, returns the acknowledged appends. */
static void run_child(round_ctx *rc, int delay_ms, acks *out)
{
    int fds[2];
    pid_t pid = it_fork_pipe(fds);
    if (pid == 0) {
        rc->fd = fds[1];
        child_main(rc);
    }
    fcntl(fds[0], F_SETFL, O_NONBLOCK);   /* read what is there while the child runs */
    char buf[4096];
    size_t have = 0;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long el = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (el >= delay_ms)
            break;
        struct pollfd pf = {fds[0], POLLIN, 0};
        if (poll(&pf, 1, (int)(delay_ms - el)) > 0) {
            if (pf.revents & POLLHUP && !(pf.revents & POLLIN))
                break;
            read_acks(fds[0], out, buf, &have);
        }
    }
    kill(pid, SIGKILL);
    int status;
    IT_CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    fcntl(fds[0], F_SETFL, 0);            /* the child is gone: read to the end */
    read_acks(fds[0], out, buf, &have);
    close(fds[0]);
    IT_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
             "round %d: the child ended by itself (status 0x%x) before it was killed",
             rc->round, status);
}

/* Reads a whole bucket; checks every row is intact and offsets are contiguous; returns
 * the ids by offset (owned, *n rows from offset 0). */
static int64_t *read_bucket(strom_table *t, int bucket, uint64_t seed, int64_t *n)
{
    int64_t earliest, end;
    IT_OK(strom_table_offsets(t, bucket, &earliest, &end));
    IT_CHECK(earliest == 0, "bucket %d: earliest offset %lld, nothing should be removed",
             bucket, (long long)earliest);
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)(end + 1));
    IT_CHECK(ids != NULL, "out of memory");
    *n = end;
    if (end == 0)
        return ids;
    strom_scan *sc;
    const strom_batch *b;
    IT_OK(strom_scan_open(t, bucket, 0, NULL, &sc));
    int64_t next = 0;
    while (next < end) {
        IT_OK(strom_scan_next(sc, &b));
        IT_CHECK(b != NULL, "bucket %d: scan ended at %lld, end is %lld", bucket,
                 (long long)next, (long long)end);
        for (int64_t r = 0; r < strom_batch_nrows(b); r++, next++) {
            it_row got;
            char why[160];
            IT_CHECK(strom_batch_row_offset(b, r) == next, "bucket %d: offset %lld where %lld "
                     "was expected", bucket, (long long)strom_batch_row_offset(b, r),
                     (long long)next);
            ids[next] = it_read_row(b, r, &got);
            IT_CHECK(!it_row_differs(seed, ids[next], &got, why, sizeof why),
                     "bucket %d offset %lld: %s", bucket, (long long)next, why);
        }
    }
    strom_scan_close(sc);
    return ids;
}

/* Every acknowledged batch at its offsets, with the right rows and checksum. */
static void check_acks(const acks *a, int64_t *const ids[], const int64_t nrows[], uint64_t seed)
{
    for (size_t i = 0; i < a->n; i++) {
        const ack *k = &a->v[i];
        IT_CHECK(k->bucket >= 0 && k->bucket < NBUCKETS, "bad bucket in ack");
        IT_CHECK(k->first >= 0 && k->first + k->rows <= nrows[k->bucket],
                 "writer %lld batch %lld: acknowledged at bucket %lld offsets %lld..%lld but "
                 "the bucket ends at %lld (acknowledged data lost)", (long long)k->writer,
                 (long long)k->batch, (long long)k->bucket, (long long)k->first,
                 (long long)(k->first + k->rows - 1), (long long)nrows[k->bucket]);
        uint64_t sum = 0xcbf29ce484222325ull;
        for (int64_t r = 0; r < k->rows; r++) {
            int64_t id = ids[k->bucket][k->first + r];
            IT_CHECK(id == it_id(k->writer, k->batch, r), "bucket %lld offset %lld holds row "
                     "%llx, expected %llx", (long long)k->bucket, (long long)(k->first + r),
                     (long long)id, (long long)it_id(k->writer, k->batch, r));
            it_row e;
            it_expect(seed, id, &e);
            sum = it_row_sum(sum, id, &e);
        }
        IT_CHECK(sum == k->sum, "checksum of writer %lld batch %lld differs",
                 (long long)k->writer, (long long)k->batch);
    }
}

/* A writer's batches in one bucket appear in the order it appended them. */
static void check_order(const acks *a, const int64_t prev_end[], int nthreads)
{
    for (size_t i = 0; i < a->n; i++)
        for (size_t j = i + 1; j < a->n; j++) {
            const ack *x = &a->v[i], *y = &a->v[j];
            if (x->writer == y->writer && x->bucket == y->bucket)
                IT_CHECK((x->batch < y->batch) == (x->first < y->first),
                         "writer %lld: batches %lld and %lld out of order", (long long)x->writer,
                         (long long)x->batch, (long long)y->batch);
        }
    if (nthreads != 1)
        return;
    for (int b = 0; b < NBUCKETS; b++) {   /* one writer: it starts where recovery ended */
        int64_t first = -1;
        for (size_t i = 0; i < a->n; i++)
            if (a->v[i].bucket == b && (first < 0 || a->v[i].first < first))
                first = a->v[i].first;
        IT_CHECK(first < 0 || first == prev_end[b], "bucket %d: the round's first append got "
                 "offset %lld, but the bucket ended at %lld after the previous recovery",
                 b, (long long)first, (long long)prev_end[b]);
    }
}

static void verify(const char *dir, uint64_t seed, const acks *a, int64_t prev_end[],
                   int nthreads)
{
    strom_db *db;
    strom_table *t;
    IT_OK(strom_db_open(dir, &db));
    IT_OK(strom_table_open(db, TABLE, &t));
    int64_t *ids[NBUCKETS], n[NBUCKETS];
    for (int b = 0; b < NBUCKETS; b++) {
        ids[b] = read_bucket(t, b, seed, &n[b]);
        IT_CHECK(n[b] >= prev_end[b], "bucket %d shrank from %lld to %lld rows", b,
                 (long long)prev_end[b], (long long)n[b]);
    }
    check_acks(a, ids, n, seed);
    check_order(a, prev_end, nthreads);
    for (int b = 0; b < NBUCKETS; b++) {
        prev_end[b] = n[b];
        free(ids[b]);
    }
    strom_table_close(t);
    strom_db_close(db);
}

static void create_table(const char *dir)
{
    strom_db *db;
    IT_OK(strom_db_open(dir, &db));
    strom_schema *s = it_schema();
    const char *opts[] = {"bucket.num", "2", "table.log.flush", "sync",
                          "table.log.segment.bytes", "1mb", NULL};
    IT_OK(strom_table_create(db, TABLE, s, opts));
    strom_schema_destroy(s);
    strom_db_close(db);
}

int main(void)
{
    char dir[256];
    int rounds;
    uint64_t seed = it_crash_begin("test_crash", "strom-crash-", 60, dir, sizeof dir, &rounds);
    create_table(dir);
    int64_t prev_end[NBUCKETS] = {0};
    size_t total_acks = 0;
    for (int round = 0; round < rounds; round++) {
        uint64_t h = it_mix(seed + (uint64_t)round);
        round_ctx rc = {dir, seed, round, round % 5 == 4 ? 3 : 1, -1, NULL};
        int delay = round % 10 == 7 ? (int)(h % 5) : 10 + (int)(h % 90);
        acks a = {0};
        run_child(&rc, delay, &a);
        verify(dir, seed, &a, prev_end, rc.nthreads);
        total_acks += a.n;
        free(a.v);
    }
    printf("test_crash: %d rounds, %zu acknowledged appends verified, buckets end at "
           "%lld and %lld\n", rounds, total_acks, (long long)prev_end[0], (long long)prev_end[1]);
    it_rmtree(dir);
    return 0;
}
