/* test_kvttl.c: history TTL (versions dropped by a manual compaction, AS OF answers for
 * times >= the cutoff unchanged) and row TTL (expiry: -D changelog rows with the right
 * before images, state and AS OF consistent, the expiry index across reopen and rebuild,
 * the background expiry), each against a reference model driven by the same writes. */
#define _GNU_SOURCE
#include "cat_test.h"

#include <unistd.h>

#define NK 24          /* keys */
#define NV 10          /* versions per key (history test) */
#define HOUR 3600000LL

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static strom_table *open_table(const char *dir, strom_db **db, const char *const *opts)
{
    strom_table *t;
    strom_schema *s = ct_kv_schema();
    CT_OK(strom_db_open(dir, db));
    if (opts)
        CT_OK(strom_table_create(*db, "t", s, opts));
    CT_OK(strom_table_open(*db, "t", &t));
    strom_schema_destroy(s);
    return t;
}

/* ------------------------------------------------------------ history TTL */

/* Reference: key k has version i (value k*100+i) at time vt[k][i]; AS OF at: the greatest
 * time <= at (the test's times are distinct per key), of the versions kept (all, or with
 * kept_from set, those not older than kept_from[k] and the current row, the version
 * written last, cur[k], which no compaction drops). */
static int cur[NK];

static int64_t model_asof(int64_t vt[NK][NV], int k, int64_t at, const int64_t *kept_from)
{
    int64_t best = -1, bt = INT64_MIN;
    for (int i = 0; i < NV; i++)
        if (vt[k][i] <= at && vt[k][i] > bt &&
            (!kept_from || vt[k][i] >= kept_from[k] || i == cur[k])) {
            bt = vt[k][i];
            best = k * 100 + i;
        }
    return best;
}

static void test_history_ttl(void **state)
{
    char *dir = ct_tmpdir();
    strom_db *db;
    const char *o[] = {"table.kv.version-column", "ts", "table.kv.history.ttl", "1 h",
                       "bucket.num", "2", NULL};
    strom_table *t = open_table(dir, &db, o);
    strom_schema *s = ct_kv_schema();
    int64_t now = strom_now_ms(), vt[NK][NV], cutoff = now - HOUR;
    /* versions spread over the last 10 hours, written in a random order (late rows) */
    for (int k = 0; k < NK; k++)
        for (int i = 0; i < NV; i++)
            vt[k][i] = now - 10 * HOUR + i * HOUR + (int64_t)(rnd() % 1000) * 1000 + 7;
    for (int round = 0; round < NV; round++) {
        strom_builder *b = strom_builder_create(s);
        for (int k = 0; k < NK; k++) {
            int i = (int)((round + (int)(rnd() % NV)) % NV);
            while (vt[k][i] < 0)   /* written: marked negative until all are */
                i = (i + 1) % NV;
            ct_kv_put(b, k, k * 100 + i, vt[k][i]);
            vt[k][i] = -vt[k][i];
            cur[k] = i;
        }
        CT_OK(strom_table_upsert(t, b));
        strom_builder_destroy(b);
    }
    for (int k = 0; k < NK; k++)
        for (int i = 0; i < NV; i++)
            vt[k][i] = -vt[k][i];
    for (int k = 0; k < NK; k++)    /* before compaction every version is there */
        for (int i = 0; i < NV; i++)
            assert_int_equal(ct_kv_val(t, k, vt[k][i]), k * 100 + i);
    CT_OK(strom_table_compact(t, now));
    int64_t kept_from[NK];
    for (int k = 0; k < NK; k++) {   /* the newest past version at or before the cutoff */
        kept_from[k] = INT64_MIN;
        for (int i = 0; i < NV; i++)
            if (i != cur[k] && vt[k][i] <= cutoff && vt[k][i] > kept_from[k])
                kept_from[k] = vt[k][i];
    }
    for (int k = 0; k < NK; k++) {
        for (int i = 0; i < NV; i++) {
            for (int d = -1; d <= 1; d++) {
                int64_t at = vt[k][i] + d;
                int64_t want = model_asof(vt, k, at, kept_from);
                if (at >= cutoff)   /* unchanged by the compaction */
                    assert_int_equal(want, model_asof(vt, k, at, NULL));
                assert_int_equal(ct_kv_val(t, k, at), want);
            }
        }
        assert_int_equal(ct_kv_val(t, k, cutoff), model_asof(vt, k, cutoff, NULL));
        assert_int_equal(ct_kv_val(t, k, INT64_MAX), model_asof(vt, k, INT64_MAX, NULL));
        /* the older ones are gone (but for the current row) */
        int64_t c = vt[k][cur[k]] < kept_from[k] ? k * 100 + cur[k] : -1;
        assert_int_equal(ct_kv_val(t, k, kept_from[k] - 1), c);
    }
    strom_table_close(t);
    strom_db_close(db);
    strom_schema_destroy(s);
    ct_rmdir(dir);
}

/* ---------------------------------------------------------------- row TTL */

typedef struct tmodel {
    int present[NK];
    int64_t val[NK], ts[NK];
} tmodel;

static void write_keys(strom_table *t, tmodel *m, const int *keys, int n, int64_t val)
{
    strom_schema *s = ct_kv_schema();
    strom_builder *b = strom_builder_create(s);
    for (int i = 0; i < n; i++) {
        int k = keys[i];
        m->present[k] = 1;
        m->val[k] = val + k;
        m->ts[k] = (int64_t)(rnd() % 1000);
        ct_kv_put(b, k, m->val[k], m->ts[k]);
    }
    CT_OK(strom_table_upsert(t, b));
    strom_builder_destroy(b);
    strom_schema_destroy(s);
}

/* The changelog rows from offset from on (every bucket): the -D rows must be exactly the
 * keys expired (gone[k]), each with the model's row before the expiry as before image. */
static void check_deletes(strom_table *t, const int64_t *from, const tmodel *before,
                          const int *gone)
{
    int seen[NK] = {0};
    for (int bk = 0; bk < strom_table_nbuckets(t); bk++) {
        strom_scan *sc;
        const strom_batch *b;
        CT_OK(strom_scan_open(t, bk, from[bk], NULL, &sc));
        while (strom_scan_next(sc, &b) == STROM_OK && b) {
            for (int64_t r = 0; r < strom_batch_nrows(b); r++) {
                int k = (int)strom_batch_get_int(b, 0, r);
                assert_int_equal(strom_batch_row_change(b, r), STROM_DELETE);
                assert_true(gone[k] && before->present[k] && !seen[k]);
                assert_int_equal(strom_batch_get_int(b, 1, r), before->val[k]);
                assert_int_equal(strom_batch_get_int(b, 2, r), before->ts[k]);
                seen[k] = 1;
            }
        }
        strom_scan_close(sc);
    }
    for (int k = 0; k < NK; k++)
        assert_int_equal(seen[k], gone[k]);
}

static void check_state(strom_table *t, const tmodel *m)
{
    for (int k = 0; k < NK; k++) {
        strom_value key = {.type = STROM_BIGINT, .v.i = k};
        strom_batch *b = NULL;
        CT_OK(strom_table_lookup(t, &key, 1, &b));
        assert_int_equal(b != NULL, m->present[k]);
        if (b)
            assert_int_equal(strom_batch_get_int(b, 1, 0), m->val[k]);
        strom_batch_destroy(b);
        assert_int_equal(ct_kv_val(t, k, INT64_MAX), m->present[k] ? m->val[k] : -1);
    }
}

static void ends(strom_table *t, int64_t *end)
{
    for (int bk = 0; bk < strom_table_nbuckets(t); bk++) {
        int64_t e0;
        CT_OK(strom_table_offsets(t, bk, &e0, &end[bk]));
    }
}

static void sleep_ms(int ms) { usleep((useconds_t)ms * 1000); }

static void test_row_ttl(void **state)
{
    char *dir = ct_tmpdir();
    strom_db *db;
    const char *o[] = {"table.kv.ttl", "1 h", "bucket.num", "2", NULL};
    strom_table *t = open_table(dir, &db, o);
    tmodel m = {0}, before;
    int wave_a[NK], na = 0, wave_b[NK], nb = 0, gone[NK] = {0};
    for (int k = 0; k < NK; k++)
        wave_a[na++] = k;
    int64_t t0 = strom_now_ms() - 1;   /* before every write */
    write_keys(t, &m, wave_a, na, 1000);
    sleep_ms(3);
    int64_t mid = strom_now_ms();   /* every wave-A write is at or before mid */
    sleep_ms(3);
    for (int k = 0; k < NK; k += 3)
        wave_b[nb++] = k;           /* rewritten after mid: they survive */
    write_keys(t, &m, wave_b, nb, 2000);
    int64_t after_b = strom_now_ms(), end0[8], n = -1;
    sleep_ms(2);   /* the expiry's deletes are later than after_b */
    CT_OK(strom_table_expire(t, t0 + HOUR, &n));   /* cutoff before every write */
    assert_int_equal(n, 0);
    ends(t, end0);
    before = m;
    CT_OK(strom_table_expire(t, mid + HOUR, &n));
    int want = 0;
    for (int k = 0; k < NK; k++) {
        gone[k] = k % 3 != 0;
        want += gone[k];
        if (gone[k])
            m.present[k] = 0;
    }
    assert_int_equal(n, want);
    check_deletes(t, end0, &before, gone);
    check_state(t, &m);
    for (int k = 0; k < NK; k++)     /* the history still holds the expired rows */
        assert_int_equal(ct_kv_val(t, k, after_b), before.val[k]);
    CT_OK(strom_table_expire(t, mid + HOUR, &n));
    assert_int_equal(n, 0);
    for (int round = 0; round < 2; round++) {   /* reopen; rebuild from the log alone */
        strom_table_close(t);
        strom_db_close(db);
        for (int bk = 0; round == 1 && bk < 2; bk++) {
            char p[512];
            snprintf(p, sizeof p, "%s/default/t/kv-%d", dir, bk);
            assert_int_equal(strom_rmtree(p), 0);
        }
        t = open_table(dir, &db, NULL);
        check_state(t, &m);
        for (int k = 0; k < NK; k++)
            assert_int_equal(ct_kv_val(t, k, after_b), before.val[k]);
        CT_OK(strom_table_expire(t, mid + HOUR, &n));
        assert_int_equal(n, 0);
    }
    ends(t, end0);   /* the expiry index after the rebuild finds wave B */
    before = m;
    CT_OK(strom_table_expire(t, after_b + HOUR, &n));
    assert_int_equal(n, nb);
    for (int k = 0; k < NK; k++) {
        gone[k] = before.present[k];
        m.present[k] = 0;
    }
    check_deletes(t, end0, &before, gone);
    check_state(t, &m);
    strom_table_close(t);
    strom_db_close(db);
    ct_rmdir(dir);
}

/* The background expiry (every ttl/4 here) deletes rows on its own, and stops at close. */
static void test_row_ttl_background(void **state)
{
    char *dir = ct_tmpdir();
    strom_db *db;
    const char *o[] = {"table.kv.ttl", "200 ms", NULL};
    strom_table *t = open_table(dir, &db, o);
    tmodel m = {0};
    int keys[NK];
    for (int k = 0; k < NK; k++)
        keys[k] = k;
    write_keys(t, &m, keys, NK, 10);
    check_state(t, &m);   /* well within the TTL */
    int left = NK;
    for (int i = 0; i < 100 && left > 0; i++) {
        sleep_ms(20);
        left = 0;
        for (int k = 0; k < NK; k++)
            left += ct_kv_val(t, k, INT64_MAX) >= 0;
    }
    assert_int_equal(left, 0);
    strom_table_close(t);
    strom_db_close(db);
    ct_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history_ttl),
        cmocka_unit_test(test_row_ttl),
        cmocka_unit_test(test_row_ttl_background),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
