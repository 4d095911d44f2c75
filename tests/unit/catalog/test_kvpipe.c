/* test_kvpipe.c: pipelined primary-key writes (src/kv/write.c: the next write of a bucket
 * merges against the writes whose changelog is still being fsynced) and the complete row
 * cache of a new table (cache.h), through the public API:
 *   - several threads add to the same keys of an aggregation (sum) table: every sum is the
 *     total of what the threads wrote (each thread counts its own), and every key's
 *     changelog is a chain (+I, then -U equal to the previous image and +U), before and
 *     after a rebuild of the state from the log;
 *   - several threads upsert and delete the same keys of a table with a version column,
 *     late rows included: every AS OF answer of the live state equals the answer after a
 *     reopen (state from RocksDB, cold cache) and after a rebuild from the log alone
 *     (writes replayed one after the other);
 *   - a new table whose row cache evicts (tiny budget): the second upsert of every key
 *     still finds its row (-U/+U, never a second +I). */
#define _GNU_SOURCE
#include "cat_test.h"

#include <pthread.h>
#include <time.h>


#define NTHREADS 4
#define NKEYS 40

static uint64_t rnd_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static strom_table *open_t(const char *dir, strom_db **db, const char *const *opts)
{
    strom_table *t;
    CT_OK(strom_db_open(dir, db));
    if (opts) {
        strom_schema *s = ct_kv_schema();
        CT_OK(strom_table_create(*db, "t", s, opts));
        strom_schema_destroy(s);
    }
    CT_OK(strom_table_open(*db, "t", &t));
    return t;
}

static void close_t(strom_db *db, strom_table *t)
{
    strom_table_close(t);
    strom_db_close(db);
}

/* Closes, deletes every bucket's state directory, reopens: the state rebuilt from the log. */
static strom_table *rebuild(const char *dir, strom_db **db, strom_table *t)
{
    int nb = strom_table_nbuckets(t);
    close_t(*db, t);
    for (int bk = 0; bk < nb; bk++) {
        char p[512];
        snprintf(p, sizeof p, "%s/default/t/kv-%d", dir, bk);
        assert_int_equal(strom_rmtree(p), 0);
    }
    return open_t(dir, db, NULL);
}

/* ------------------------------------------------------------- sums */

/* One writer thread of a test: its table, random seed and number; what it added per key
 * (sums). */
typedef struct wthread {
    strom_table *t;
    uint64_t seed;
    int id;
    int64_t sum[NKEYS];
} wthread;

/* Runs fn on NTHREADS writers of table t (seeds from seed0) and waits for them. */
static void run_writers(strom_table *t, void *(*fn)(void *), wthread *w, uint64_t seed0)
{
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (wthread){.t = t, .seed = seed0 * (uint64_t)(i + 1), .id = i + 1};
        assert_int_equal(pthread_create(&th[i], NULL, fn, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
}

static void *adder_main(void *arg)
{
    wthread *a = arg;
    strom_schema *s = ct_kv_schema();
    strom_builder *b = strom_builder_create(s);
    for (int round = 0; round < 40; round++) {
        strom_builder_reset(b);
        for (int i = 0; i < 30; i++) {   /* a key may come twice in a batch */
            int64_t k = (int64_t)(rnd_next(&a->seed) % NKEYS);
            int64_t n = 1 + (int64_t)(rnd_next(&a->seed) % 1000);
            ct_kv_put(b, k, n, 1000);
            a->sum[k] += n;
        }
        CT_OK(strom_table_upsert(a->t, b));
    }
    strom_builder_destroy(b);
    strom_schema_destroy(s);
    return NULL;
}

/* Every key's changelog: +I first, then -U (= the last image) / +U (greater: every
 * addition is positive) pairs; its last image is want[k] (-1: the key has none). */
static void check_chains(strom_table *t, const int64_t *want)
{
    int64_t last[NKEYS];
    int pending_before[NKEYS] = {0};
    for (int k = 0; k < NKEYS; k++)
        last[k] = -1;
    for (int bk = 0; bk < strom_table_nbuckets(t); bk++) {
        strom_scan *sc;
        const strom_batch *b;
        CT_OK(strom_scan_open(t, bk, 0, NULL, &sc));
        while (strom_scan_next(sc, &b) == STROM_OK && b) {
            for (int64_t r = 0; r < strom_batch_nrows(b); r++) {
                int64_t k = strom_batch_get_int(b, 0, r), n = strom_batch_get_int(b, 1, r);
                strom_change c = strom_batch_row_change(b, r);
                assert_true(k >= 0 && k < NKEYS);
                if (c == STROM_INSERT) {
                    assert_int_equal(last[k], -1);
                } else if (c == STROM_UPDATE_BEFORE) {
                    assert_int_equal(n, last[k]);
                    pending_before[k] = 1;
                    continue;
                } else {
                    assert_int_equal(c, STROM_UPDATE_AFTER);
                    assert_true(pending_before[k]);
                    assert_true(n > last[k]);
                }
                pending_before[k] = 0;
                last[k] = n;
            }
        }
        strom_scan_close(sc);
    }
    for (int k = 0; k < NKEYS; k++)
        assert_int_equal(last[k], want[k]);
}

static void test_concurrent_sums(void **state)
{
    (void)state;
    char *dir = ct_tmpdir();
    strom_db *db;
    const char *opts[] = {"bucket.num", "2", "table.merge-engine", "aggregation",
                          "fields.val.agg", "sum", NULL};
    strom_table *t = open_t(dir, &db, opts);
    wthread a[NTHREADS];
    run_writers(t, adder_main, a, 0x9E3779B97F4A7C15ull);
    int64_t want[NKEYS];
    for (int k = 0; k < NKEYS; k++) {
        int64_t sum = 0;
        for (int i = 0; i < NTHREADS; i++)
            sum += a[i].sum[k];
        want[k] = sum ? sum : -1;
        assert_int_equal(ct_kv_val(t, k, INT64_MIN), want[k]);
    }
    check_chains(t, want);
    t = rebuild(dir, &db, t);
    for (int k = 0; k < NKEYS; k++)
        assert_int_equal(ct_kv_val(t, k, INT64_MIN), want[k]);
    close_t(db, t);
    ct_rmdir(dir);
}

/* ------------------------------------------------------------- versions */

#define NTIMES 64
static int64_t T0;   /* an hour ago: inside the default history TTL (main) */

static void *vwriter_main(void *arg)
{
    wthread *w = arg;
    strom_schema *s = ct_kv_schema();
    strom_builder *b = strom_builder_create(s);
    for (int round = 0; round < 40; round++) {
        strom_builder_reset(b);
        int del = rnd_next(&w->seed) % 6 == 0;
        for (int i = 0; i < 12; i++) {   /* times at random: late rows land in the past */
            int64_t k = (int64_t)(rnd_next(&w->seed) % NKEYS);
            int64_t ts = T0 + 1000 * (int64_t)(rnd_next(&w->seed) % NTIMES);
            ct_kv_put(b, k, w->id * 100000 + round * 100 + i, ts);
        }
        CT_OK(del ? strom_table_delete(w->t, b) : strom_table_upsert(w->t, b));
    }
    strom_builder_destroy(b);
    strom_schema_destroy(s);
    return NULL;
}

/* The current row and the AS OF answer at every time step (and between) of every key. */
static void answers(strom_table *t, int64_t *out)
{
    for (int k = 0; k < NKEYS; k++) {
        *out++ = ct_kv_val(t, k, INT64_MIN);
        for (int i = -1; i <= 2 * NTIMES; i++)
            *out++ = ct_kv_val(t, k, T0 + 500 * (int64_t)i);
    }
}

static void test_concurrent_versions(void **state)
{
    (void)state;
    char *dir = ct_tmpdir();
    strom_db *db;
    const char *opts[] = {"bucket.num", "2", "table.kv.version-column", "ts",
                          "table.delete.behavior", "allow", NULL};
    strom_table *t = open_t(dir, &db, opts);
    wthread w[NTHREADS];
    run_writers(t, vwriter_main, w, 0xD1B54A32D192ED03ull);
    size_t n = (size_t)NKEYS * (2 * NTIMES + 3);
    int64_t *live = calloc(n, sizeof *live), *reopened = calloc(n, sizeof *live),
            *rebuilt = calloc(n, sizeof *live);
    answers(t, live);
    close_t(db, t);
    t = open_t(dir, &db, NULL);   /* cold cache: RocksDB's answers */
    answers(t, reopened);
    t = rebuild(dir, &db, t);     /* the changelog replayed write by write */
    answers(t, rebuilt);
    int64_t found = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(live[i], rebuilt[i]);
        assert_int_equal(reopened[i], rebuilt[i]);
        found += live[i] >= 0;
    }
    assert_true(found > 0);
    free(live);
    free(reopened);
    free(rebuilt);
    close_t(db, t);
    ct_rmdir(dir);
}

/* ------------------------------------------------------------- complete cache */

static void count_changes(strom_table *t, int64_t counts[5])
{
    memset(counts, 0, 5 * sizeof *counts);
    for (int bk = 0; bk < strom_table_nbuckets(t); bk++) {
        strom_scan *sc;
        const strom_batch *b;
        CT_OK(strom_scan_open(t, bk, 0, NULL, &sc));
        while (strom_scan_next(sc, &b) == STROM_OK && b)
            for (int64_t r = 0; r < strom_batch_nrows(b); r++)
                counts[strom_batch_row_change(b, r)]++;
        strom_scan_close(sc);
    }
}

static void test_evicting_new_table(void **state)
{
    (void)state;
    char *dir = ct_tmpdir();
    strom_db *db;
    size_t old = strom_kv_cache_set_budget(16 << 10);   /* ~100 rows of 2,000 */
    const char *opts[] = {"bucket.num", "2", NULL};
    strom_table *t = open_t(dir, &db, opts);
    strom_schema *s = ct_kv_schema();
    strom_builder *b = strom_builder_create(s);
    for (int round = 0; round < 2; round++)
        for (int64_t k0 = 0; k0 < 2000; k0 += 500) {
            strom_builder_reset(b);
            for (int64_t k = k0; k < k0 + 500; k++)
                ct_kv_put(b, k, round * 10000 + k, T0);
            CT_OK(strom_table_upsert(t, b));
        }
    int64_t c[5];
    count_changes(t, c);
    assert_int_equal(c[STROM_INSERT], 2000);
    assert_int_equal(c[STROM_UPDATE_BEFORE], 2000);
    assert_int_equal(c[STROM_UPDATE_AFTER], 2000);
    for (int64_t k = 0; k < 2000; k += 37)
        assert_int_equal(ct_kv_val(t, k, INT64_MIN), 10000 + k);
    strom_builder_destroy(b);
    strom_schema_destroy(s);
    close_t(db, t);
    strom_kv_cache_set_budget(old);
    ct_rmdir(dir);
}

int main(void)
{
    T0 = ((int64_t)time(NULL) - 3600) * 1000;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_sums),
        cmocka_unit_test(test_concurrent_versions),
        cmocka_unit_test(test_evicting_new_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
