/* test_lookup.c: the allocation-free lookups (strom_table_lookup_into, _batch_into,
 * _asof_into) and the row cache behind them, against a reference model (an array of the
 * current row per key) driven by the same random upserts and deletes: found and missing
 * keys, batch order with keys of every bucket, duplicates and misses; the same under a
 * tiny cache budget (evictions, fills from RocksDB) and after reopening (empty cache);
 * bad keys (count, NULL, type, result builder) fail naming the column and append nothing;
 * two lookup threads with a writer only ever see whole rows, never older than one seen
 * before; AS OF answers from the cached row only when it is the newest version; AS OF
 * answers (served from the cache's per-key history when it can) equal a reference model
 * of every version on random histories with out-of-order version-column writes, deletes,
 * several writes of a key in one batch, a reopen, a rebuild from the log, a tiny budget
 * and a history-TTL compaction, and equal the RocksDB-only batch path everywhere; AS OF
 * readers racing a writer only ever get the version that was valid at T. */
#include "cat_test.h"

#include <pthread.h>
#include <unistd.h>

#include "format/format.h"

#define NFEED 6
#define NDEV 30
#define NKEYS (NFEED * NDEV)

typedef struct mrow {
    int present, ver, st_null;
} mrow;

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

/* feeder STRING, dev INT, cap DOUBLE, status STRING; key (feeder, dev), bucket.key feeder. */
static strom_table *open_table(strom_db **db, const char *dir, int create)
{
    CT_OK(strom_db_open(dir, db));
    if (create) {
        strom_schema *s = strom_schema_create();
        CT_OK(strom_schema_add(s, "feeder", STROM_STRING, 0));
        CT_OK(strom_schema_add(s, "dev", STROM_INT, 0));
        CT_OK(strom_schema_add(s, "cap", STROM_DOUBLE, 0));
        CT_OK(strom_schema_add(s, "status", STROM_STRING, 0));
        const char *key[] = {"feeder", "dev"};
        CT_OK(strom_schema_set_primary_key(s, key, 2));
        const char *o[] = {"bucket.num", "3", "bucket.key", "feeder", "table.log.flush", "none",
                           NULL};
        CT_OK(strom_table_create(*db, "dim", s, o));
        strom_schema_destroy(s);
    }
    strom_table *t = NULL;
    CT_OK(strom_table_open(*db, "dim", &t));
    return t;
}

static const char *const fname[NFEED] = {"F0", "F1", "F2", "F3", "F4", "F5"};

/* Key k (dev >= NDEV: a key that never has a row). Thread-safe (constant names). */
static void key_of(int k, strom_value *v)
{
    int f = (k / NDEV) % NFEED;
    v[0] = (strom_value){.type = STROM_STRING, .v.s = {fname[f], strlen(fname[f])}};
    v[1] = (strom_value){.type = STROM_INT, .v.i = k % NDEV + (k >= NKEYS ? NDEV : 0)};
}

static double cap_of(int k, int ver) { return ver * 1000.0 + k; }

static void put_row(strom_builder *b, int k, int ver, int st_null)
{
    strom_value v[2];
    char st[16];
    key_of(k, v);
    CT_OK(strom_builder_put_value(b, 0, &v[0]));
    CT_OK(strom_builder_put_value(b, 1, &v[1]));
    CT_OK(strom_builder_put_f64(b, 2, cap_of(k, ver)));
    int n = snprintf(st, sizeof st, "s%d", ver);
    CT_OK(st_null ? strom_builder_put_null(b, 3) : strom_builder_put_str(b, 3, st, (size_t)n));
    CT_OK(strom_builder_end_row(b));
}

/* Row r of out equals the model's row of key k. */
static void check_row(const strom_builder *out, int64_t r, int k, const mrow *m)
{
    strom_column c;
    char st[16];
    fmt_builder_view(out, 0, &c);
    char want[16];
    snprintf(want, sizeof want, "F%d", k / NDEV);
    assert_int_equal(c.offsets[r + 1] - c.offsets[r], strlen(want));
    assert_memory_equal(c.data + c.offsets[r], want, strlen(want));
    fmt_builder_view(out, 1, &c);
    assert_int_equal(((const int32_t *)c.values)[r], k % NDEV);
    fmt_builder_view(out, 2, &c);
    assert_true(((const double *)c.values)[r] == cap_of(k, m->ver));
    fmt_builder_view(out, 3, &c);
    int valid = !c.validity || ((c.validity[r >> 3] >> (r & 7)) & 1);
    assert_int_equal(valid, !m->st_null);
    int n = snprintf(st, sizeof st, "s%d", m->ver);
    if (valid) {
        assert_int_equal(c.offsets[r + 1] - c.offsets[r], n);
        assert_memory_equal(c.data + c.offsets[r], st, (size_t)n);
    }
}

/* Four groups of up to 10 writes, each key at most once per group (the table applies a
 * group's deletes before its upserts; the model needs no order then). */
static void random_writes(strom_table *t, mrow *m, int ver)
{
    strom_builder *up = strom_builder_create(strom_table_schema(t));
    strom_builder *del = strom_builder_create(strom_table_schema(t));
    for (int g = 0; g < 4; g++) {
        int used[NKEYS] = {0};
        for (int i = 0; i < 10; i++) {
            int k = (int)(rnd() % NKEYS);
            if (used[k]++)
                continue;
            if (rnd() % 4 == 0) {
                put_row(del, k, 0, 1);
                m[k].present = 0;
            } else {
                m[k] = (mrow){1, ver * 100 + g * 10 + i, (int)(rnd() % 5 == 0)};
                put_row(up, k, m[k].ver, m[k].st_null);
            }
        }
        CT_OK(strom_table_delete(t, del));
        CT_OK(strom_table_upsert(t, up));
        strom_builder_reset(del);
        strom_builder_reset(up);
    }
    strom_builder_destroy(up);
    strom_builder_destroy(del);
}

/* Every key one by one, then a batch of random keys (every bucket, duplicates, keys that
 * never exist), into one builder each. */
static void check_all(strom_table *t, const mrow *m)
{
    strom_builder *out = strom_builder_create(strom_table_schema(t));
    strom_value keys[2 * 300];
    uint8_t found[300];
    int idx[300];
    int64_t r = 0;
    for (int k = 0; k < NKEYS + 20; k++) {
        int f = -1;
        key_of(k, keys);
        CT_OK(strom_table_lookup_into(t, keys, 2, out, &f));
        assert_int_equal(f, k < NKEYS && m[k].present);
        if (f)
            check_row(out, r++, k, &m[k]);
        assert_int_equal(strom_builder_nrows(out), r);
    }
    strom_builder_reset(out);
    for (int i = 0; i < 300; i++) {
        idx[i] = (int)(rnd() % (NKEYS + 30));
        key_of(idx[i], &keys[2 * i]);
    }
    CT_OK(strom_table_lookup_batch_into(t, keys, 2, 300, found, out));
    r = 0;
    for (int i = 0; i < 300; i++) {
        int want = idx[i] < NKEYS && m[idx[i]].present;
        assert_int_equal(found[i], want);
        if (want)
            check_row(out, r++, idx[i], &m[idx[i]]);
    }
    assert_int_equal(strom_builder_nrows(out), r);
    strom_builder_destroy(out);
}

static void run_model(size_t budget)
{
    char *dir = ct_tmpdir();
    strom_db *db;
    size_t old = strom_kv_cache_set_budget(budget);
    strom_table *t = open_table(&db, dir, 1);
    mrow m[NKEYS] = {{0}};
    for (int round = 1; round <= 30; round++) {
        random_writes(t, m, round);
        check_all(t, m);
    }
    strom_table_close(t);
    strom_db_close(db);
    t = open_table(&db, dir, 0);   /* the cache starts empty */
    check_all(t, m);
    check_all(t, m);
    strom_table_close(t);
    strom_db_close(db);
    strom_kv_cache_set_budget(old);
    ct_rmdir(dir);
}

static void test_model_default_budget(void **state)
{
    (void)state;
    run_model((size_t)512 << 20);
}

static void test_model_tiny_budget(void **state)
{
    (void)state;
    run_model(6000);   /* a few dozen rows: evictions and fills from RocksDB all the time */
}

static void test_model_no_cache(void **state)
{
    (void)state;
    run_model(0);
}

static void test_bad_keys(void **state)
{
    (void)state;
    char *dir = ct_tmpdir();
    strom_db *db;
    strom_table *t = open_table(&db, dir, 1);
    strom_builder *out = strom_builder_create(strom_table_schema(t));
    strom_builder *b = strom_builder_create(strom_table_schema(t));
    put_row(b, 3, 1, 0);
    CT_OK(strom_table_upsert(t, b));
    strom_value k[2 * 4];
    for (int i = 0; i < 4; i++)
        key_of(3, &k[2 * i]);
    int f = 7;
    CT_ERR(strom_table_lookup_into(t, k, 1, out, &f), STROM_EINVAL, "key has 2");
    assert_int_equal(f, 0);
    CT_ERR(strom_table_lookup_into(t, NULL, 2, out, &f), STROM_EINVAL, "key");
    k[1].is_null = 1;
    CT_ERR(strom_table_lookup_into(t, k, 2, out, &f), STROM_ESCHEMA, "'dev'");
    k[1] = (strom_value){.type = STROM_STRING, .v.s = {"x", 1}};
    CT_ERR(strom_table_lookup_into(t, k, 2, out, &f), STROM_ESCHEMA, "'dev'");
    k[0] = (strom_value){.type = STROM_DOUBLE, .v.d = 1.5};
    CT_ERR(strom_table_lookup_into(t, k, 2, out, &f), STROM_ESCHEMA, "'feeder'");
    /* a batch with one bad key (the third) appends nothing */
    key_of(3, &k[0]);
    uint8_t found[4];
    k[5].is_null = 1;
    CT_ERR(strom_table_lookup_batch_into(t, k, 2, 4, found, out), STROM_ESCHEMA, "'dev'");
    assert_int_equal(strom_builder_nrows(out), 0);
    CT_ERR(strom_table_lookup_batch_into(t, k, 1, 4, found, out), STROM_EINVAL, "key has 2");
    /* a result builder of another schema */
    strom_schema *s2 = strom_schema_create();
    CT_OK(strom_schema_add(s2, "feeder", STROM_STRING, 0));
    strom_builder *bad = strom_builder_create(s2);
    key_of(3, k);
    CT_ERR(strom_table_lookup_into(t, k, 2, bad, &f), STROM_ESCHEMA, "column");
    CT_ERR(strom_table_lookup_into(t, k, 2, NULL, &f), STROM_EINVAL, "no rows");
    /* INT key values given as BIGINT are converted: found */
    k[1].type = STROM_BIGINT;
    CT_OK(strom_table_lookup_into(t, k, 2, out, &f));
    assert_int_equal(f, 1);
    mrow want = {1, 1, 0};
    check_row(out, 0, 3, &want);
    strom_builder_destroy(bad);
    strom_schema_destroy(s2);
    strom_builder_destroy(out);
    strom_builder_destroy(b);
    strom_table_close(t);
    strom_db_close(db);
    ct_rmdir(dir);
}

/* ------------------------------------------- readers with a writer */

typedef struct reader {
    strom_table *t;
    int *stop;               /* atomic: the writer is done */
    uint64_t seed;
    int64_t lookups, bad, back;   /* lookups: atomic (the writer waits for the first) */
    char first[160];         /* the first bad or backward answer, for the failure message */
} reader;

/* Waits (up to 10 s) until both readers have looked up at least once: on a loaded machine
 * a reader may not have run yet when the writes are done (this adds no race, only the
 * lookups the check needs). */
static void wait_first_lookups(int64_t *a, int64_t *b)
{
    for (int i = 0; i < 1000 && (!__atomic_load_n(a, __ATOMIC_RELAXED) ||
                                 !__atomic_load_n(b, __ATOMIC_RELAXED)); i++)
        usleep(10000);
}

static void reader_note(reader *r, const char *what, int key, int ver, int before)
{
    if (!r->first[0])
        snprintf(r->first, sizeof r->first, "%s: key %d version %d (seen before: %d) after %lld lookups",
                 what, key, ver, before, (long long)r->lookups);
}

static void *reader_main(void *arg)
{
    reader *r = arg;
    strom_builder *out = strom_builder_create(strom_table_schema(r->t));
    int seen[NKEYS] = {0};
    strom_value k[2];
    while (!__atomic_load_n(r->stop, __ATOMIC_ACQUIRE)) {
        r->seed ^= r->seed << 13, r->seed ^= r->seed >> 7, r->seed ^= r->seed << 17;
        int key = (int)(r->seed % NKEYS), f = 0;
        key_of(key, k);
        strom_builder_reset(out);
        strom_err e = strom_table_lookup_into(r->t, k, 2, out, &f);
        if (e != STROM_OK || !f) {
            r->bad++;   /* every key has a row from the start */
            reader_note(r, e != STROM_OK ? strom_errmsg() : "no row", key, -1, seen[key]);
            continue;
        }
        strom_column c, s;
        fmt_builder_view(out, 2, &c);
        fmt_builder_view(out, 3, &s);
        int ver = (int)((((const double *)c.values)[0] - key) / 1000.0);
        char st[16];
        int n = snprintf(st, sizeof st, "s%d", ver);
        int bad = ((const double *)c.values)[0] != cap_of(key, ver) || s.offsets[1] != n ||
                  memcmp(s.data, st, (size_t)n);
        r->bad += bad;
        r->back += ver < seen[key];
        if (bad || ver < seen[key])
            reader_note(r, bad ? "a torn row" : "back in time", key, ver, seen[key]);
        seen[key] = ver;
        __atomic_store_n(&r->lookups, r->lookups + 1, __ATOMIC_RELAXED);
    }
    strom_builder_destroy(out);
    return NULL;
}

static void test_readers_with_writer(void **state)
{
    (void)state;
    char *dir = ct_tmpdir();
    strom_db *db;
    size_t old = strom_kv_cache_set_budget(20000);   /* evictions during the run too */
    strom_table *t = open_table(&db, dir, 1);
    strom_builder *b = strom_builder_create(strom_table_schema(t));
    for (int k = 0; k < NKEYS; k++)
        put_row(b, k, 1, 0);
    CT_OK(strom_table_upsert(t, b));
    int stop = 0;
    reader r[2] = {{.t = t, .stop = &stop, .seed = 11}, {.t = t, .stop = &stop, .seed = 23}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader_main, &r[i]), 0);
    for (int ver = 2; ver < 60; ver++) {
        strom_builder_reset(b);
        for (int k = 0; k < NKEYS; k++)
            if (rnd() % 2)
                put_row(b, k, ver, 0);
        CT_OK(strom_table_upsert(t, b));
    }
    wait_first_lookups(&r[0].lookups, &r[1].lookups);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_true(r[0].lookups > 0 && r[1].lookups > 0);
    for (int i = 0; i < 2; i++)
        if (r[i].bad || r[i].back)
            fail_msg("reader %d: %lld bad, %lld backward of %lld lookups; first: %s", i,
                     (long long)r[i].bad, (long long)r[i].back, (long long)r[i].lookups, r[i].first);
    strom_builder_destroy(b);
    strom_table_close(t);
    strom_db_close(db);
    strom_kv_cache_set_budget(old);
    ct_rmdir(dir);
}

/* ------------------------------------------------------------- AS OF */

/* id BIGINT key, val DOUBLE, ts TIMESTAMP (the version column). Writes of key 1:
 * ts 100 (val 1), 200 (2), 300 (3), then a late one, ts 150 (val 4): the current row is
 * then val 4 but not the newest version, so the cache must not answer for t >= 300. */
static void test_asof_cache(void **state)
{
    (void)state;
    char *dir = ct_tmpdir();
    strom_db *db;
    CT_OK(strom_db_open(dir, &db));
    strom_schema *s = strom_schema_create();
    CT_OK(strom_schema_add(s, "id", STROM_BIGINT, 0));
    CT_OK(strom_schema_add(s, "val", STROM_DOUBLE, 0));
    CT_OK(strom_schema_add(s, "ts", STROM_TIMESTAMP, 0));
    const char *key[] = {"id"};
    CT_OK(strom_schema_set_primary_key(s, key, 1));
    const char *o[] = {"table.kv.version-column", "ts", "table.log.flush", "none", NULL};
    CT_OK(strom_table_create(db, "v", s, o));
    strom_table *t;
    CT_OK(strom_table_open(db, "v", &t));
    strom_builder *b = strom_builder_create(s), *out = strom_builder_create(s);
    static const int64_t ts[] = {100, 200, 300, 150};
    /* expected val AS OF t, before and after the late write */
    static const int64_t at[] = {50, 100, 199, 250, 300, 1000};
    static const double before[] = {0, 1, 1, 2, 3, 3}, after[] = {0, 1, 4, 2, 3, 3};
    for (int w = 0; w < 4; w++) {
        strom_builder_reset(b);
        CT_OK(strom_builder_put_int(b, 0, 1));
        CT_OK(strom_builder_put_f64(b, 1, w + 1));
        CT_OK(strom_builder_put_int(b, 2, ts[w]));
        CT_OK(strom_builder_end_row(b));
        CT_OK(strom_table_upsert(t, b));
        if (w < 2)
            continue;
        strom_value k = {.type = STROM_BIGINT, .v.i = 1};
        int f = 0;
        CT_OK(strom_table_lookup_into(t, &k, 1, out, &f));   /* the row is cached now */
        for (int i = 0; i < 6; i++) {
            double want = w == 2 ? before[i] : after[i];
            strom_builder_reset(out);
            CT_OK(strom_table_lookup_asof_into(t, &k, 1, at[i], out, &f));
            assert_int_equal(f, want != 0);
            strom_column c;
            fmt_builder_view(out, 1, &c);
            if (f)
                assert_true(((const double *)c.values)[0] == want);
        }
    }
    strom_builder_destroy(b);
    strom_builder_destroy(out);
    strom_schema_destroy(s);
    strom_table_close(t);
    strom_db_close(db);
    ct_rmdir(dir);
}

/* ------------------------------------------- AS OF history: model */

#define HK 24          /* keys */
#define HMAXEV 4096    /* events over the test */

/* One write of a key: an upsert (val, version time t) or a delete (committed at a time in
 * [t, hi], the wall clock around the call). ord: order of application. */
typedef struct hev {
    int key, del;
    int64_t t, hi, val, ord;
} hev;

typedef struct hmodel {
    hev ev[HMAXEV];
    int n;
    int64_t ord, val;
    int present[HK];
    int64_t amb[HK];   /* a delete whose time window holds an upsert's time: AS OF at or
                          after this is not predictable (INT64_MAX: none) */
} hmodel;

static strom_table *open_hist(strom_db **db, const char *dir, int create)
{
    CT_OK(strom_db_open(dir, db));
    if (create) {
        strom_schema *s = strom_schema_create();
        CT_OK(strom_schema_add(s, "id", STROM_BIGINT, 0));
        CT_OK(strom_schema_add(s, "val", STROM_BIGINT, 0));
        CT_OK(strom_schema_add(s, "ts", STROM_TIMESTAMP, 0));
        const char *key[] = {"id"};
        CT_OK(strom_schema_set_primary_key(s, key, 1));
        const char *o[] = {"bucket.num", "2", "table.kv.version-column", "ts",
                           "table.kv.history.ttl", "1 h", "table.log.flush", "none", NULL};
        CT_OK(strom_table_create(*db, "h", s, o));
        strom_schema_destroy(s);
    }
    strom_table *t = NULL;
    CT_OK(strom_table_open(*db, "h", &t));
    return t;
}

/* Is time t inside a delete window of key k? */
static int in_window(const hmodel *m, int k, int64_t t)
{
    for (int i = 0; i < m->n; i++)
        if (m->ev[i].key == k && m->ev[i].del && t >= m->ev[i].t && t <= m->ev[i].hi)
            return 1;
    return 0;
}

/* A version time near now, outside the key's delete windows: mostly in order (now to
 * now + 20 ms), one in five late (up to 300 ms back). */
static int64_t hist_time(const hmodel *m, int k)
{
    int64_t t;
    do
        t = strom_now_ms() + (rnd() % 5 == 0 ? -(int64_t)(rnd() % 300) : (int64_t)(rnd() % 20));
    while (in_window(m, k, t));
    return t;
}

/* One random batch: upserts of random keys (a key maybe several times), or deletes of
 * present keys. */
static void hist_write(strom_table *t, hmodel *m)
{
    strom_builder *b = strom_builder_create(strom_table_schema(t));
    int del = rnd() % 6 == 0, nrows = 1 + (int)(rnd() % 8);
    int keys[8], nk = 0;
    for (int i = 0; i < nrows; i++) {
        int k = (int)(rnd() % HK);
        if (del && !m->present[k])
            continue;
        int dup = 0;
        for (int j = 0; j < nk; j++)
            dup |= keys[j] == k;
        if (del && dup)
            continue;
        keys[nk++] = k;
        CT_OK(strom_builder_put_int(b, 0, k));
        int64_t ts = del ? 0 : hist_time(m, k);
        CT_OK(strom_builder_put_int(b, 1, ++m->val));
        CT_OK(strom_builder_put_int(b, 2, ts));
        CT_OK(strom_builder_end_row(b));
        assert_true(m->n < HMAXEV);
        m->ev[m->n++] = (hev){k, del, ts, ts, m->val, ++m->ord};
    }
    int64_t lo = strom_now_ms();
    if (nk > 0)
        CT_OK(del ? strom_table_delete(t, b) : strom_table_upsert(t, b));
    int64_t hi = strom_now_ms();
    for (int i = m->n - nk; i < m->n; i++) {
        hev *e = &m->ev[i];
        m->present[e->key] = !del;
        if (!del)
            continue;
        e->t = lo;
        e->hi = hi;
        for (int j = 0; j < i; j++)   /* an older upsert inside this window: ambiguous */
            if (m->ev[j].key == e->key && !m->ev[j].del && m->ev[j].t >= lo && m->ev[j].t <= hi &&
                lo < m->amb[e->key])
                m->amb[e->key] = lo;
    }
    strom_builder_destroy(b);
}

/* Model answer of key k AS OF T: the val of the newest version at or before T (the later
 * written on ties); 0 for none or a delete. -1: unpredictable (a delete window holds T). */
static int64_t hist_expect(const hmodel *m, int k, int64_t T)
{
    if (T >= m->amb[k])
        return -1;
    const hev *best = NULL;
    for (int i = 0; i < m->n; i++) {
        const hev *e = &m->ev[i];
        if (e->key != k)
            continue;
        if (e->del && T >= e->t && T < e->hi)
            return -1;
        if (e->t > T || (best && e->t < best->t))
            continue;
        best = e;   /* events are in order of application: a tie goes to the later */
    }
    return best && !best->del ? best->val : 0;
}

static int64_t val_of(const strom_builder *b, int64_t r)
{
    strom_column c;
    fmt_builder_view(b, 1, &c);
    return ((const int64_t *)c.values)[r];
}

/* A time to ask key k about: a version time of it (mostly a recent one), one ms either
 * side, or anything. */
static int64_t hist_pick(const hmodel *m, int k)
{
    int x = (int)(rnd() % 10);
    if (x == 0)
        return INT64_MAX;
    if (x == 1 || m->n == 0)
        return strom_now_ms() + (int64_t)(rnd() % 1200) - 600;
    int recent = x < 6 && m->n > 60;   /* mostly the recent past: what the cache holds */
    for (int tries = 0; tries < 16; tries++) {
        const hev *e = &m->ev[recent ? m->n - 1 - (int)(rnd() % 60) : (int)(rnd() % (uint64_t)m->n)];
        if (e->key == k)
            return (e->del ? e->hi : e->t) + (int64_t)(rnd() % 3) - 1;
    }
    return strom_now_ms() - (int64_t)(rnd() % 600);
}

/* Every key at random times, single (cache when it answers, else RocksDB) and batch
 * (RocksDB): both against the model where it is predictable (at or after from_t), and
 * against each other always. *cmp counts the answers compared with the model. */
static void hist_check(strom_table *t, const hmodel *m, int64_t from_t, int64_t *cmp)
{
    const strom_schema *s = strom_table_schema(t);
    strom_builder *one = strom_builder_create(s), *all = strom_builder_create(s);
    strom_value keys[HK];
    int64_t at[HK], want[HK], got[HK];
    uint8_t found[HK];
    for (int round = 0; round < 4; round++) {
        strom_builder_reset(one);
        strom_builder_reset(all);
        for (int k = 0; k < HK; k++) {
            keys[k] = (strom_value){.type = STROM_BIGINT, .v.i = k};
            at[k] = hist_pick(m, k);
            want[k] = at[k] >= from_t ? hist_expect(m, k, at[k]) : -1;
            int f = 0;
            CT_OK(strom_table_lookup_asof_into(t, &keys[k], 1, at[k], one, &f));
            got[k] = f ? val_of(one, strom_builder_nrows(one) - 1) : 0;
            if (want[k] >= 0 && got[k] != want[k])
                fail_msg("key %d AS OF %lld: val %lld, expected %lld", k, (long long)at[k],
                         (long long)got[k], (long long)want[k]);
            *cmp += want[k] >= 0;
        }
        CT_OK(strom_table_lookup_batch_asof_into(t, keys, 1, HK, at, found, all));
        int64_t r = 0;
        for (int k = 0; k < HK; k++) {
            int64_t v = found[k] ? val_of(all, r++) : 0;
            if (v != got[k])
                fail_msg("key %d AS OF %lld: single %lld, batch (RocksDB) %lld", k,
                         (long long)at[k], (long long)got[k], (long long)v);
        }
    }
    strom_builder_destroy(one);
    strom_builder_destroy(all);
}

/* Reads keys [0, HK/2) so that the cache fills from RocksDB (entries knowing only their
 * current row). */
static void hist_fill(strom_table *t)
{
    strom_builder *b = strom_builder_create(strom_table_schema(t));
    for (int k = 0; k < HK / 2; k++) {
        strom_value key = {.type = STROM_BIGINT, .v.i = k};
        int f = 0;
        CT_OK(strom_table_lookup_into(t, &key, 1, b, &f));
    }
    strom_builder_destroy(b);
}

static void hist_rounds(strom_table *t, hmodel *m, int n, int64_t *cmp)
{
    for (int i = 0; i < n; i++) {
        hist_write(t, m);
        if (i % 10 == 9)
            hist_check(t, m, INT64_MIN, cmp);
    }
}

static void test_asof_history_model(void **state)
{
    (void)state;
    char *dir = ct_tmpdir();
    strom_db *db;
    static hmodel m;
    memset(&m, 0, sizeof m);
    for (int k = 0; k < HK; k++)
        m.amb[k] = INT64_MAX;
    int64_t cmp = 0;
    strom_table *t = open_hist(&db, dir, 1);
    hist_rounds(t, &m, 120, &cmp);
    for (int phase = 0; phase < 3; phase++) {   /* reopen; rebuild from the log; tiny budget */
        strom_table_close(t);
        strom_db_close(db);
        for (int bk = 0; phase == 1 && bk < 2; bk++) {
            char p[512];
            snprintf(p, sizeof p, "%s/default/h/kv-%d", dir, bk);
            assert_int_equal(strom_rmtree(p), 0);
        }
        size_t old = phase == 2 ? strom_kv_cache_set_budget(3000) : 0;
        t = open_hist(&db, dir, 0);
        hist_check(t, &m, INT64_MIN, &cmp);
        hist_fill(t);
        hist_rounds(t, &m, 60, &cmp);
        if (phase == 2)
            strom_kv_cache_set_budget(old);
    }
    /* history TTL: a compaction as if 1 h 10 s later drops versions before the cutoff;
     * answers at or after it must not change, older ones must agree with RocksDB */
    hist_rounds(t, &m, 40, &cmp);   /* the cache full again (after the tiny budget) */
    int64_t cutoff = strom_now_ms() + 10000;
    CT_OK(strom_table_compact(t, cutoff + 3600 * 1000));
    hist_check(t, &m, cutoff, &cmp);
    assert_true(cmp > 1000);   /* the model was really consulted */
    strom_table_close(t);
    strom_db_close(db);
    ct_rmdir(dir);
}

/* --------------------------------------- AS OF history: readers racing */

#define RK 16
#define RVERS 150

/* Version times: from 10 minutes ago on (inside the 1 h history TTL, so the cache may
 * answer). */
static int64_t RBASE;

typedef struct hreader {
    strom_table *t;
    int *stop, *done;            /* atomics; done: versions fully written */
    uint64_t seed;
    int64_t lookups, bad;
    int nkeys;                   /* keys 0..nkeys-1 (0: RK) */
    int latest;                  /* ask only for the newest version written */
    char first[160];             /* the first wrong answer, for the failure message */
} hreader;

/* Version v of every key has ts RBASE + 10 v and val v: AS OF RBASE + 10 x + (0..9) of a
 * written version x must answer x, whatever the writer does meanwhile. */
static void *hreader_main(void *arg)
{
    hreader *r = arg;
    strom_builder *b = strom_builder_create(strom_table_schema(r->t));
    uint64_t nk = (uint64_t)(r->nkeys ? r->nkeys : RK);
    while (!__atomic_load_n(r->stop, __ATOMIC_ACQUIRE)) {
        int done = __atomic_load_n(r->done, __ATOMIC_ACQUIRE);
        if (done < 1)
            continue;
        r->seed ^= r->seed << 13, r->seed ^= r->seed >> 7, r->seed ^= r->seed << 17;
        int x = r->latest ? done : 1 + (int)(r->seed % (uint64_t)done);
        strom_value k = {.type = STROM_BIGINT, .v.i = (int64_t)((r->seed >> 20) % nk)};
        int f = 0;
        int64_t at = RBASE + 10 * x + (int64_t)(r->seed >> 40) % 10;
        strom_builder_reset(b);
        strom_err e = strom_table_lookup_asof_into(r->t, &k, 1, at, b, &f);
        if (e != STROM_OK || !f || val_of(b, 0) != x) {
            if (!r->bad++)
                snprintf(r->first, sizeof r->first, "key %lld AS OF RBASE + %lld: %s, expected val %d",
                         (long long)k.v.i, (long long)(at - RBASE),
                         e != STROM_OK ? strom_errmsg() : !f ? "no row" : "another val", x);
        }
        __atomic_store_n(&r->lookups, r->lookups + 1, __ATOMIC_RELAXED);
    }
    strom_builder_destroy(b);
    return NULL;
}

/* Two readers (hreader_main: latest, nkeys) while versions 1..nvers of keys 0..nkeys-1
 * are written with ts RBASE + 10 v + shift, done = v after each (pin: done = nvers from
 * the start, for a rewrite of versions already written); no reader may get a wrong row. */
static void race_round(strom_table *t, strom_builder *b, int nkeys, int nvers, int shift,
                       int pin, int latest, uint64_t seed)
{
    int stop = 0, done = 0;
    hreader r[2] = {{.t = t, .stop = &stop, .done = &done, .seed = seed, .nkeys = nkeys,
                     .latest = latest},
                    {.t = t, .stop = &stop, .done = &done, .seed = seed + 92, .nkeys = nkeys,
                     .latest = latest}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hreader_main, &r[i]), 0);
    for (int v = 1; v <= nvers; v++) {
        strom_builder_reset(b);
        for (int k = 0; k < nkeys; k++) {
            CT_OK(strom_builder_put_int(b, 0, k));
            CT_OK(strom_builder_put_int(b, 1, v));
            CT_OK(strom_builder_put_int(b, 2, RBASE + 10 * v + shift));
            CT_OK(strom_builder_end_row(b));
        }
        CT_OK(strom_table_upsert(t, b));
        __atomic_store_n(&done, pin ? nvers : v, __ATOMIC_RELEASE);
    }
    wait_first_lookups(&r[0].lookups, &r[1].lookups);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_true(r[0].lookups > 0 && r[1].lookups > 0);
    for (int i = 0; i < 2; i++)
        if (r[i].bad)
            fail_msg("AS OF reader %d: %lld wrong of %lld lookups; first: %s", i,
                     (long long)r[i].bad, (long long)r[i].lookups, r[i].first);
}

static void test_asof_history_race(void **state)
{
    (void)state;
    char *dir = ct_tmpdir();
    strom_db *db;
    strom_table *t = open_hist(&db, dir, 1);
    strom_builder *b = strom_builder_create(strom_table_schema(t));
    RBASE = strom_now_ms() - 600 * 1000;
    race_round(t, b, RK, RVERS, 0, 0, 0, 7);   /* room for all in the cache */
    /* evictions and fills; each version rewritten 1 ms later: still version v at T */
    size_t old = strom_kv_cache_set_budget(4000);
    race_round(t, b, RK, RVERS, 1, 1, 0, 8);
    /* Every AS OF answered by RocksDB (cache off), big batches, readers asking between the
     * newest written version and the next: a write inserts its rows and versions into the
     * memtable while they ask, and one that sees a key's new row must also see the version
     * that row superseded (write.c went_fill puts the versions first; with the rows first
     * ~25,000 of the lookups answered the version before). */
    strom_kv_cache_set_budget(0);
    RBASE += 10 * 1000;   /* after every version of the rounds above */
    race_round(t, b, 2048, 40, 0, 0, 1, 11);
    strom_kv_cache_set_budget(old);
    strom_builder_destroy(b);
    strom_table_close(t);
    strom_db_close(db);
    ct_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_default_budget),
        cmocka_unit_test(test_model_tiny_budget),
        cmocka_unit_test(test_model_no_cache),
        cmocka_unit_test(test_bad_keys),
        cmocka_unit_test(test_readers_with_writer),
        cmocka_unit_test(test_asof_cache),
        cmocka_unit_test(test_asof_history_model),
        cmocka_unit_test(test_asof_history_race),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
