/* test_snapshot.c: snapshot reads of primary-key tables: a full read (snapshot, then the
 * changelog from the snapshot's offset) taken while a writer runs must reproduce the
 * writer's own model of the final state with no gap and no duplicate; projection, limit
 * scans and bad input. */
#include "cat_test.h"

#include <pthread.h>
#include <unistd.h>

#define NKEYS 600
#define NBUCKETS 3

/* k BIGINT PRIMARY KEY, v BIGINT, s STRING */
static strom_schema *kv_schema(void)
{
    strom_schema *s = strom_schema_create();
    assert_non_null(s);
    CT_OK(strom_schema_add(s, "k", STROM_BIGINT, 1));
    CT_OK(strom_schema_add(s, "v", STROM_BIGINT, 0));
    CT_OK(strom_schema_add(s, "s", STROM_STRING, 0));
    const char *pk[] = {"k"};
    CT_OK(strom_schema_set_primary_key(s, pk, 1));
    return s;
}

/* The model: per key present?, v, and s = "s<v>". */
typedef struct model {
    int present[NKEYS];
    int64_t v[NKEYS];
} model;

typedef struct writer {
    strom_table *t;
    const strom_schema *s;
    model m;              /* the writer's own model of the state */
    int rounds;
    uint64_t rng;
} writer;

static uint64_t next_rnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void put_row(strom_builder *b, int64_t k, int64_t v)
{
    char s[32];
    int n = snprintf(s, sizeof s, "s%lld", (long long)v);
    CT_OK(strom_builder_put_int(b, 0, k));
    CT_OK(strom_builder_put_int(b, 1, v));
    CT_OK(strom_builder_put_str(b, 2, s, (size_t)n));
    CT_OK(strom_builder_end_row(b));
}

/* One call: up to 40 distinct random keys, all upserts or all deletes. */
static void write_round(writer *w, strom_builder *b, int round)
{
    int del = next_rnd(&w->rng) % 4 == 0, n = 1 + (int)(next_rnd(&w->rng) % 40);
    uint8_t used[NKEYS] = {0};
    strom_builder_reset(b);
    for (int i = 0; i < n; i++) {
        int k = (int)(next_rnd(&w->rng) % NKEYS);
        if (used[k])
            continue;
        used[k] = 1;
        int64_t v = (int64_t)round * 1000 + i;
        put_row(b, k, v);
        w->m.present[k] = !del;
        w->m.v[k] = v;
    }
    strom_write_opts o = {.delete_rows = del};
    CT_OK(strom_table_write(w->t, b, &o, NULL));
}

static void *writer_main(void *arg)
{
    writer *w = arg;
    strom_builder *b = strom_builder_create(w->s);
    for (int r = 1; r <= w->rounds; r++)
        write_round(w, b, r);
    strom_builder_destroy(b);
    return NULL;
}

/* Reads row r of a (k, v, s) batch into the model, failing on a duplicate key. */
static void snap_row(const strom_batch *bt, int64_t r, model *m)
{
    int64_t k = strom_batch_get_int(bt, 0, r), v = strom_batch_get_int(bt, 1, r);
    assert_true(k >= 0 && k < NKEYS);
    if (m->present[k])
        fail_msg("key %lld twice in the snapshot", (long long)k);
    assert_int_equal(strom_batch_row_change(bt, r), STROM_INSERT);
    m->present[k] = 1;
    m->v[k] = v;
}

/* Applies changelog row r to m, checking it against m (FULL image). */
static void apply_change(const strom_batch *bt, int64_t r, model *m)
{
    int64_t k = strom_batch_get_int(bt, 0, r), v = strom_batch_get_int(bt, 1, r);
    strom_change c = strom_batch_row_change(bt, r);
    assert_true(k >= 0 && k < NKEYS);
    if (c == STROM_INSERT || c == STROM_UPDATE_AFTER) {
        if (m->present[k])
            fail_msg("change %d of key %lld at offset %lld: key already present (duplicate)",
                     (int)c, (long long)k, (long long)strom_batch_row_offset(bt, r));
        m->present[k] = 1;
        m->v[k] = v;
    } else {
        if (!m->present[k] || m->v[k] != v)
            fail_msg("change %d of key %lld at offset %lld: before image v=%lld, model %s "
                     "v=%lld (gap)", (int)c, (long long)k, (long long)strom_batch_row_offset(bt, r),
                     (long long)v, m->present[k] ? "has" : "lacks", (long long)m->v[k]);
        m->present[k] = 0;
    }
}

static void full_read_bucket(strom_table *t, int bucket, model *snap_m, int64_t *offset)
{
    strom_snapshot *sn = NULL;
    CT_OK(strom_snapshot_open(t, bucket, NULL, &sn));
    *offset = strom_snapshot_offset(sn);
    const strom_batch *bt;
    for (;;) {
        CT_OK(strom_snapshot_next(sn, &bt));
        if (!bt)
            break;
        assert_int_equal(strom_batch_base_offset(bt), *offset);
        for (int64_t r = 0; r < strom_batch_nrows(bt); r++)
            snap_row(bt, r, snap_m);
    }
    strom_snapshot_close(sn);
}

static void follow_changelog(strom_table *t, int bucket, int64_t from, model *m)
{
    strom_scan *sc = NULL;
    const strom_batch *bt;
    CT_OK(strom_scan_open(t, bucket, from, NULL, &sc));
    for (;;) {
        CT_OK(strom_scan_next(sc, &bt));
        if (!bt)
            break;
        for (int64_t r = 0; r < strom_batch_nrows(bt); r++)
            apply_change(bt, r, m);
    }
    strom_scan_close(sc);
}

static strom_db *open_table(const char *dir, strom_table **t, const char *image)
{
    strom_db *db = NULL;
    strom_schema *s = kv_schema();
    const char *opts[] = {"bucket.num", "3", "table.changelog.image", image, NULL};
    CT_OK(strom_db_open(dir, &db));
    CT_OK(strom_table_create(db, "dim", s, opts));
    strom_schema_destroy(s);
    CT_OK(strom_table_open(db, "dim", t));
    return db;
}

/* Full reads of every bucket at random moments while a writer runs. */
static void test_full_read_concurrent(void **state)
{
    (void)state;
    char *dir = ct_tmpdir();
    strom_table *t = NULL;
    strom_db *db = open_table(dir, &t, "FULL");
    writer w = {.t = t, .s = strom_table_schema(t), .rounds = 400, .rng = 88172645463325252ull};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
    model snap_m[NBUCKETS];
    int64_t off[NBUCKETS];
    memset(snap_m, 0, sizeof snap_m);
    for (int b = 0; b < NBUCKETS; b++) {
        usleep(2000 + 3000 * (useconds_t)b);
        full_read_bucket(t, b, &snap_m[b], &off[b]);
    }
    pthread_join(th, NULL);
    int64_t snapshot_rows_seen = 0, changes_after = 0;
    model all = {0};
    for (int b = 0; b < NBUCKETS; b++) {
        for (int k = 0; k < NKEYS; k++)
            snapshot_rows_seen += snap_m[b].present[k];
        int64_t e0, end;
        CT_OK(strom_table_offsets(t, b, &e0, &end));
        changes_after += end - off[b];
        follow_changelog(t, b, off[b], &snap_m[b]);
        for (int k = 0; k < NKEYS; k++)
            if (snap_m[b].present[k]) {
                if (all.present[k])
                    fail_msg("key %d in two buckets", k);
                all.present[k] = 1;
                all.v[k] = snap_m[b].v[k];
            }
    }
    for (int k = 0; k < NKEYS; k++) {
        if (all.present[k] != w.m.present[k] || (all.present[k] && all.v[k] != w.m.v[k]))
            fail_msg("key %d: full read gives %s v=%lld, the writer wrote %s v=%lld", k,
                     all.present[k] ? "row" : "none", (long long)all.v[k],
                     w.m.present[k] ? "row" : "none", (long long)w.m.v[k]);
    }
    /* The reads must have overlapped the writes, or the test proved nothing. */
    assert_true(changes_after > 0);
    strom_table_close(t);
    strom_db_close(db);
    ct_rmdir(dir);
}

/* Projection, max_rows, limit scans across buckets, and their errors. */
static void test_projection_and_limits(void **state)
{
    (void)state;
    char *dir = ct_tmpdir();
    strom_table *t = NULL;
    strom_db *db = open_table(dir, &t, "WAL");
    writer w = {.t = t, .s = strom_table_schema(t), .rounds = 60, .rng = 7};
    writer_main(&w);
    int live = 0;
    for (int k = 0; k < NKEYS; k++)
        live += w.m.present[k];
    assert_true(live > 100);
    const char *cols[] = {"s", "k"};
    strom_read_opts o = {.columns = cols, .ncolumns = 2};
    strom_batch *all = NULL;
    CT_OK(strom_table_scan_kv(t, &o, &all));
    assert_non_null(all);
    assert_int_equal(strom_batch_nrows(all), live);
    assert_int_equal(strom_batch_ncols(all), 2);
    for (int64_t r = 0; r < strom_batch_nrows(all); r++) {
        int64_t k = strom_batch_get_int(all, 1, r);
        size_t n;
        const char *s = strom_batch_get_str(all, 0, r, &n);
        char want[32];
        snprintf(want, sizeof want, "s%lld", (long long)w.m.v[k]);
        assert_true(w.m.present[k]);
        assert_int_equal(n, strlen(want));
        assert_memory_equal(s, want, n);
    }
    strom_batch_destroy(all);
    o.max_rows = 7;
    CT_OK(strom_table_scan_kv(t, &o, &all));
    assert_int_equal(strom_batch_nrows(all), 7);
    strom_batch_destroy(all);
    /* A snapshot with a limit stops at it; bad input is refused. */
    strom_snapshot *sn = NULL;
    const strom_batch *bt;
    o.max_rows = 3;
    CT_OK(strom_snapshot_open(t, 1, &o, &sn));
    CT_OK(strom_snapshot_next(sn, &bt));
    assert_non_null(bt);
    assert_int_equal(strom_batch_nrows(bt), 3);
    CT_OK(strom_snapshot_next(sn, &bt));
    assert_null(bt);
    strom_snapshot_close(sn);
    CT_ERR(strom_snapshot_open(t, 3, NULL, &sn), STROM_EINVAL, "bucket 3");
    const char *bad[] = {"nope"};
    strom_read_opts ob = {.columns = bad, .ncolumns = 1};
    CT_ERR(strom_snapshot_open(t, 0, &ob, &sn), STROM_EINVAL, "nope");
    strom_pred p = {.column = "v", .op = STROM_OP_EQ, .value = {.type = STROM_BIGINT}};
    strom_read_opts op = {.preds = &p, .npreds = 1};
    CT_ERR(strom_snapshot_open(t, 0, &op, &sn), STROM_EUNSUPPORTED, "predicates");
    strom_table_close(t);
    /* A log table has no snapshot. */
    strom_schema *ls = ct_schema();
    CT_OK(strom_table_create(db, "log", ls, NULL));
    strom_schema_destroy(ls);
    CT_OK(strom_table_open(db, "log", &t));
    CT_ERR(strom_snapshot_open(t, 0, NULL, &sn), STROM_EUNSUPPORTED, "no primary key");
    CT_ERR(strom_table_scan_kv(t, NULL, &all), STROM_EUNSUPPORTED, "no primary key");
    strom_table_close(t);
    strom_db_close(db);
    ct_rmdir(dir);
}

/* An empty table: no batch at all. */
static void test_empty(void **state)
{
    (void)state;
    char *dir = ct_tmpdir();
    strom_table *t = NULL;
    strom_db *db = open_table(dir, &t, "FULL");
    strom_batch *all = (strom_batch *)1;
    CT_OK(strom_table_scan_kv(t, NULL, &all));
    assert_null(all);
    strom_snapshot *sn = NULL;
    const strom_batch *bt;
    CT_OK(strom_snapshot_open(t, 0, NULL, &sn));
    assert_int_equal(strom_snapshot_offset(sn), 0);
    CT_OK(strom_snapshot_next(sn, &bt));
    assert_null(bt);
    strom_snapshot_close(sn);
    strom_table_close(t);
    strom_db_close(db);
    ct_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_read_concurrent),
        cmocka_unit_test(test_projection_and_limits),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
