/* Unit tests for appends and reads through the public API: bucketing by key (checked
 * against an independent computation of the canonical key hash), sticky round-robin,
 * scans with projection and predicates against a reference, schema evolution, key
 * history against brute force, encoded batches, concurrent appends. */
#include <pthread.h>

#include "cat_test.h"

typedef struct row {
    char dev[16];
    int64_t time, seq;
    double volt;
    int volt_null;
} row;

typedef struct env {
    char *dir;
    strom_db *db;
    strom_table *t;
} env;

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void env_open(env *e, const char *const *opts)
{
    strom_schema *s = ct_schema();
    e->dir = ct_tmpdir();
    CT_OK(strom_db_open(e->dir, &e->db));
    CT_OK(strom_table_create(e->db, "t", s, opts));
    CT_OK(strom_table_open(e->db, "t", &e->t));
    strom_schema_destroy(s);
}

static void env_close(env *e)
{
    strom_table_close(e->t);
    strom_db_close(e->db);
    ct_rmdir(e->dir);
}

static void gen_rows(row *r, int n, int ndev, int64_t seq0)
{
    for (int i = 0; i < n; i++) {
        snprintf(r[i].dev, sizeof r[i].dev, "dev%d", (int)(rnd() % (uint64_t)ndev));
        r[i].seq = seq0 + i;
        r[i].time = 1736776200000 + (int64_t)(rnd() % 1000000) * 1000 + (seq0 + i) % 1000;
        r[i].volt_null = rnd() % 10 == 0;
        r[i].volt = 200.0 + (double)(rnd() % 4000) / 100.0;
    }
}

static strom_builder *build(const strom_schema *s, const row *r, int n)
{
    strom_builder *b = strom_builder_create(s);
    for (int i = 0; i < n; i++) {
        CT_OK(strom_builder_put_str(b, 0, r[i].dev, strlen(r[i].dev)));
        CT_OK(strom_builder_put_int(b, 1, r[i].time));
        CT_OK(r[i].volt_null ? strom_builder_put_null(b, 2) : strom_builder_put_f64(b, 2, r[i].volt));
        CT_OK(strom_builder_put_int(b, 3, r[i].seq));
        for (int c = 4; c < strom_schema_ncols(s); c++)
            CT_OK(strom_builder_put_null(b, c));
        CT_OK(strom_builder_end_row(b));
    }
    return b;
}

static void append_rows(strom_table *t, const row *r, int n, strom_append_result *res)
{
    strom_builder *b = build(strom_table_schema(t), r, n);
    CT_OK(strom_table_append(t, b, res));
    strom_builder_destroy(b);
}

/* Independent computation of the bucket: canonical key bytes of a non-NULL string
 * (1 byte 1, u32 length LE, bytes; format.h), XXH3-64, modulo the bucket count. */
static int expected_bucket(const char *dev, int nb)
{
    uint8_t k[64];
    uint32_t len = (uint32_t)strlen(dev);
    k[0] = 1;
    memcpy(k + 1, &len, 4);
    memcpy(k + 5, dev, len);
    return (int)(strom_hash64(k, 5 + len) % (uint64_t)nb);
}

typedef void (*row_fn)(void *ctx, int bucket, const strom_batch *b, int64_t r);

static void scan_bucket(strom_table *t, int bucket, const strom_read_opts *o, row_fn fn,
                        void *ctx)
{
    strom_scan *sc;
    CT_OK(strom_scan_open(t, bucket, 0, o, &sc));
    const strom_batch *b;
    for (;;) {
        CT_OK(strom_scan_next(sc, &b));
        if (!b)
            break;
        for (int64_t r = 0; r < strom_batch_nrows(b); r++)
            fn(ctx, bucket, b, r);
    }
    strom_scan_close(sc);
}

/* ------------------------------------------------------------- bucketing */

typedef struct dev_map { int bucket_of[200]; int64_t per_bucket[8]; int64_t rows; } dev_map;

static void note_dev(void *ctx, int bucket, const strom_batch *b, int64_t r)
{
    dev_map *m = ctx;
    size_t len;
    const char *s = strom_batch_get_str(b, 0, r, &len);
    char dev[16] = "";
    memcpy(dev, s, len < 15 ? len : 15);
    int d = atoi(dev + 3);
    assert_true(m->bucket_of[d] == -1 || m->bucket_of[d] == bucket);
    m->bucket_of[d] = bucket;
    assert_int_equal(bucket, expected_bucket(dev, 8));
    m->per_bucket[bucket]++;
    m->rows++;
}

static void test_bucketing_by_key(void **state)
{
    (void)state;
    env e;
    const char *opts[] = {"bucket.num", "8", "bucket.key", "device_id", NULL};
    env_open(&e, opts);
    enum { N = 20000 };
    row *r = malloc(N * sizeof *r);
    gen_rows(r, N, 200, 0);
    int64_t first[8], last[8];
    for (int off = 0; off < N; off += 2500) {
        strom_append_result res = {.first_offset = first, .last_offset = last};
        append_rows(e.t, r + off, 2500, &res);
        assert_int_equal(res.rows, 2500);
        assert_int_equal(res.nbuckets, 8);
        int64_t sum = 0;
        for (int b = 0; b < 8; b++)
            sum += first[b] < 0 ? 0 : last[b] - first[b] + 1;
        assert_int_equal(sum, 2500);
    }
    dev_map m;
    memset(&m, 0, sizeof m);
    memset(m.bucket_of, -1, sizeof m.bucket_of);
    const char *cols[] = {"device_id"};
    strom_read_opts o = {.columns = cols, .ncolumns = 1};
    for (int b = 0; b < 8; b++)
        scan_bucket(e.t, b, &o, note_dev, &m);
    assert_int_equal(m.rows, N);
    for (int b = 0; b < 8; b++) { /* roughly even: 200 keys over 8 buckets */
        assert_true(m.per_bucket[b] > N / 8 / 3);
        assert_true(m.per_bucket[b] < N / 8 * 3);
        int64_t earliest, end;
        CT_OK(strom_table_offsets(e.t, b, &earliest, &end));
        assert_int_equal(end, m.per_bucket[b]);
    }
    free(r);
    env_close(&e);
}

static void test_sticky_without_key(void **state)
{
    (void)state;
    env e;
    const char *opts[] = {"bucket.num", "4", NULL};
    env_open(&e, opts);
    row r[50];
    int hits[4] = {0};
    for (int call = 0; call < 8; call++) {
        gen_rows(r, 50, 10, call * 50);
        int64_t first[4];
        strom_append_result res = {.first_offset = first};
        append_rows(e.t, r, 50, &res);
        int used = 0;
        for (int b = 0; b < 4; b++)
            if (first[b] >= 0) {
                used++;
                hits[b]++;
            }
        assert_int_equal(used, 1); /* one call, one bucket */
    }
    for (int b = 0; b < 4; b++)
        assert_int_equal(hits[b], 2); /* round-robin over calls */
    env_close(&e);
}

/* ---------------------------------------------------- projection, predicates */

typedef struct seen { int64_t *seq; int n; } seen;

static void note_seq(void *ctx, int bucket, const strom_batch *b, int64_t r)
{
    seen *s = ctx;
    (void)bucket;
    s->seq[s->n++] = strom_batch_get_int(b, 0, r);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void test_scan_projection_predicates(void **state)
{
    (void)state;
    env e;
    const char *opts[] = {"bucket.num", "3", "bucket.key", "device_id", "table.time-column",
                          "event_time", NULL};
    env_open(&e, opts);
    enum { N = 6000 };
    row *r = malloc(N * sizeof *r);
    gen_rows(r, N, 40, 0);
    for (int off = 0; off < N; off += 1000)
        append_rows(e.t, r + off, 1000, NULL);
    int64_t tmid = 1736776200000 + 500000LL * 1000;
    strom_pred preds[3] = {
        {.column = "voltage", .op = STROM_OP_GE, .value = {.type = STROM_DOUBLE, .v.d = 220.0}},
        {.column = "device_id", .op = STROM_OP_NE,
         .value = {.type = STROM_STRING, .v.s = {"dev7", 4}}},
        {.column = "event_time", .op = STROM_OP_LT, .value = {.type = STROM_TIMESTAMP, .v.i = tmid}},
    };
    const char *cols[] = {"seq", "voltage"};
    strom_read_opts o = {.columns = cols, .ncolumns = 2, .preds = preds, .npreds = 3};
    seen got = {malloc(N * sizeof(int64_t)), 0};
    for (int b = 0; b < 3; b++)
        scan_bucket(e.t, b, &o, note_seq, &got);
    int64_t *want = malloc(N * sizeof *want);
    int nw = 0;
    for (int i = 0; i < N; i++)
        if (!r[i].volt_null && r[i].volt >= 220.0 && strcmp(r[i].dev, "dev7") && r[i].time < tmid)
            want[nw++] = r[i].seq;
    qsort(got.seq, (size_t)got.n, sizeof *got.seq, cmp_i64);
    assert_int_equal(got.n, nw);
    assert_memory_equal(got.seq, want, (size_t)nw * sizeof *want);
    /* An int constant on a DOUBLE column is converted; plain scan returns everything. */
    strom_pred p2 = {.column = "voltage", .op = STROM_OP_LT, .value = {.type = STROM_INT, .v.i = 210}};
    strom_read_opts o2 = {.columns = cols, .ncolumns = 1, .preds = &p2, .npreds = 1};
    got.n = 0;
    for (int b = 0; b < 3; b++)
        scan_bucket(e.t, b, &o2, note_seq, &got);
    nw = 0;
    for (int i = 0; i < N; i++)
        nw += !r[i].volt_null && r[i].volt < 210.0;
    assert_int_equal(got.n, nw);
    free(got.seq);
    free(want);
    free(r);
    env_close(&e);
}

static void test_scan_errors(void **state)
{
    (void)state;
    env e;
    env_open(&e, NULL);
    strom_scan *sc;
    const char *bad[] = {"seq", "volts"};
    strom_read_opts o = {.columns = bad, .ncolumns = 2};
    CT_ERR(strom_scan_open(e.t, 0, 0, &o, &sc), STROM_EINVAL,
           "no column 'volts' (columns: device_id, event_time, voltage, seq)");
    strom_pred p = {.column = "voltage", .op = STROM_OP_EQ,
                    .value = {.type = STROM_STRING, .v.s = {"x", 1}}};
    strom_read_opts o2 = {.preds = &p, .npreds = 1};
    CT_ERR(strom_scan_open(e.t, 0, 0, &o2, &sc), STROM_ESCHEMA, "'voltage' of type DOUBLE");
    p.column = "nope";
    CT_ERR(strom_scan_open(e.t, 0, 0, &o2, &sc), STROM_EINVAL, "no column 'nope'");
    CT_ERR(strom_scan_open(e.t, 1, 0, NULL, &sc), STROM_EINVAL, "bucket 1 out of range");
    int64_t a, b;
    CT_ERR(strom_table_offsets(e.t, -1, &a, &b), STROM_EINVAL, "bucket -1");
    env_close(&e);
}

/* ------------------------------------------------------------ evolution */

static void test_add_column_reads_nulls(void **state)
{
    (void)state;
    env e;
    env_open(&e, NULL);
    row r[100];
    gen_rows(r, 100, 5, 0);
    append_rows(e.t, r, 60, NULL);
    strom_builder *old = strom_builder_create(strom_table_schema(e.t)); /* schema 1 */
    uint32_t id;
    CT_OK(strom_table_add_column(e.t, "current", STROM_DOUBLE, &id));
    assert_int_equal(id, 2);
    const strom_schema *s2 = strom_table_schema(e.t);
    strom_builder *b = strom_builder_create(s2);
    for (int i = 60; i < 100; i++) {
        CT_OK(strom_builder_put_str(b, 0, r[i].dev, strlen(r[i].dev)));
        CT_OK(strom_builder_put_int(b, 1, r[i].time));
        CT_OK(strom_builder_put_f64(b, 2, r[i].volt));
        CT_OK(strom_builder_put_int(b, 3, r[i].seq));
        CT_OK(strom_builder_put_f64(b, 4, (double)r[i].seq / 2));
        CT_OK(strom_builder_end_row(b));
    }
    CT_OK(strom_table_append(e.t, b, NULL));
    strom_builder_destroy(b);
    strom_builder_destroy(old);
    const char *cols[] = {"seq", "current"};
    strom_read_opts o = {.columns = cols, .ncolumns = 2};
    strom_scan *sc;
    CT_OK(strom_scan_open(e.t, 0, 0, &o, &sc));
    const strom_batch *bt;
    int64_t n = 0;
    while (strom_scan_next(sc, &bt) == STROM_OK && bt)
        for (int64_t i = 0; i < strom_batch_nrows(bt); i++, n++) {
            int64_t seq = strom_batch_get_int(bt, 0, i);
            assert_int_equal(seq, n);
            if (seq < 60) {
                assert_true(strom_batch_is_null(bt, 1, i));
            } else {
                assert_false(strom_batch_is_null(bt, 1, i));
                assert_true(strom_batch_get_f64(bt, 1, i) == (double)seq / 2);
            }
        }
    assert_int_equal(n, 100);
    strom_scan_close(sc);
    strom_table_close(e.t); /* reopen: data and schema version survive */
    strom_db_close(e.db);
    CT_OK(strom_db_open(e.dir, &e.db));
    CT_OK(strom_table_open(e.db, "t", &e.t));
    int64_t earliest, end;
    CT_OK(strom_table_offsets(e.t, 0, &earliest, &end));
    assert_int_equal(end, 100);
    assert_int_equal(strom_schema_id(strom_table_schema(e.t)), 2);
    env_close(&e);
}

static void test_schema_mismatch(void **state)
{
    (void)state;
    env e;
    env_open(&e, NULL);
    strom_schema *s = strom_schema_create();
    CT_OK(strom_schema_add(s, "device_id", STROM_STRING, 1));
    CT_OK(strom_schema_add(s, "event_time", STROM_BIGINT, 0));
    strom_builder *b = strom_builder_create(s);
    CT_OK(strom_builder_put_str(b, 0, "d", 1));
    CT_OK(strom_builder_put_int(b, 1, 5));
    CT_OK(strom_builder_end_row(b));
    CT_ERR(strom_table_append(e.t, b, NULL), STROM_ESCHEMA, "column 1 'event_time' BIGINT");
    strom_builder_destroy(b);
    strom_schema_destroy(s);
    /* Same columns, built from a schema the table did not register: accepted. */
    s = ct_schema();
    row r[3];
    gen_rows(r, 3, 2, 0);
    b = build(s, r, 3);
    int64_t first = -2;
    CT_OK(strom_table_append_bucket(e.t, 0, b, &first));
    assert_int_equal(first, 0);
    CT_ERR(strom_table_append_bucket(e.t, 1, b, &first), STROM_EINVAL, "bucket 1");
    strom_builder_destroy(b);
    strom_schema_destroy(s);
    env_close(&e);
}

/* --------------------------------------------------------------- encoded */

static void test_append_encoded(void **state)
{
    (void)state;
    env e;
    env_open(&e, NULL);
    row r[20];
    gen_rows(r, 20, 3, 0);
    strom_builder *b = build(strom_table_schema(e.t), r, 20);
    fmt_encoder *enc = fmt_encoder_create();
    fmt_encode_opts eo;
    fmt_encode_opts_init(&eo);
    strom_buf out = {0};
    CT_OK(fmt_encode(enc, b, NULL, 0, &eo, &out));
    int64_t first = -1;
    CT_OK(strom_table_append_encoded(e.t, 0, out.data, out.len, &first));
    assert_int_equal(first, 0);
    CT_OK(strom_table_append_encoded(e.t, 0, out.data, out.len, &first));
    assert_int_equal(first, 20);
    /* schema id 9: not one of the table's */
    strom_put_u32(out.data + 28, 9);
    fmt_batch_stamp(out.data, 0, 0);
    CT_ERR(strom_table_append_encoded(e.t, 0, out.data, out.len, &first), STROM_ESCHEMA,
           "schema id 9");
    out.data[out.len / 2] ^= 0x55;
    CT_ERR(strom_table_append_encoded(e.t, 0, out.data, out.len, &first), STROM_ECORRUPT, "");
    CT_ERR(strom_table_append_encoded(e.t, 0, out.data, 10, &first), STROM_ECORRUPT, "");
    int64_t earliest, end;
    CT_OK(strom_table_offsets(e.t, 0, &earliest, &end));
    assert_int_equal(end, 40);
    strom_buf_free(&out);
    fmt_encoder_destroy(enc);
    strom_builder_destroy(b);
    env_close(&e);
}

/* ----------------------------------------------------------- key history */

static int cmp_time_desc(const void *a, const void *b)
{
    const row *x = a, *y = b;
    return (x->time < y->time) - (x->time > y->time);
}

static void check_history(strom_table *t, const row *r, int n, const char *dev, int64_t T,
                          int64_t want_n)
{
    row *ref = malloc((size_t)n * sizeof *ref);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!strcmp(r[i].dev, dev) && r[i].time <= T)
            ref[m++] = r[i];
    qsort(ref, (size_t)m, sizeof *ref, cmp_time_desc);
    strom_value key = {.type = STROM_STRING, .v.s = {dev, strlen(dev)}};
    const char *cols[] = {"seq", "event_time"};
    strom_batch *b;
    CT_OK(strom_table_key_history(t, &key, 1, T, want_n, cols, 2, &b));
    int64_t expect = m < want_n ? m : want_n;
    assert_int_equal(strom_batch_nrows(b), expect);
    assert_int_equal(strom_batch_ncols(b), 2);
    for (int64_t i = 0; i < expect; i++) {
        assert_int_equal(strom_batch_get_int(b, 0, i), ref[i].seq);
        assert_int_equal(strom_batch_row_time(b, i), ref[i].time);
    }
    strom_batch_destroy(b);
    free(ref);
}

static void history_case(const char *const *opts)
{
    env e;
    env_open(&e, opts);
    enum { N = 8000 };
    row *r = malloc(N * sizeof *r);
    gen_rows(r, N, 30, 0); /* times unique (seq in the low digits), out of order */
    for (int off = 0; off < N; off += 500)
        append_rows(e.t, r + off, 500, NULL);
    for (int q = 0; q < 40; q++) {
        char dev[16];
        snprintf(dev, sizeof dev, "dev%d", (int)(rnd() % 32)); /* dev30, dev31: no rows */
        int64_t T = 1736776200000 + (int64_t)(rnd() % 1100000) * 1000;
        check_history(e.t, r, N, dev, T, 1 + (int64_t)(rnd() % 100));
    }
    strom_value k2[2] = {{.type = STROM_STRING, .v.s = {"a", 1}}, {.type = STROM_INT}};
    strom_batch *b;
    CT_ERR(strom_table_key_history(e.t, k2, 2, 0, 5, NULL, 0, &b), STROM_EINVAL,
           "2 key values given");
    strom_value kb = {.type = STROM_DOUBLE, .v.d = 1.0};
    CT_ERR(strom_table_key_history(e.t, &kb, 1, 0, 5, NULL, 0, &b), STROM_ESCHEMA, "device_id");
    free(r);
    env_close(&e);
}

/* Rows in the table (every bucket). */
static int64_t total_rows(strom_table *t)
{
    int64_t n = 0;
    for (int b = 0; b < strom_table_nbuckets(t); b++) {
        int64_t lo = 0, hi = 0;
        CT_OK(strom_table_offsets(t, b, &lo, &hi));
        n += hi - lo;
    }
    return n;
}

/* strom_table_write on a log table: an idempotent append per bucket (a sequence applied in
 * a bucket, or a lower one, skips that bucket's part), across a reopen; other writes are
 * refused. */
static void test_idempotent_write(void **state)
{
    (void)state;
    static const char *const opts[] = {"bucket.num", "3", "bucket.key", "device_id", NULL};
    env e;
    env_open(&e, opts);
    row r[300];
    gen_rows(r, 300, 40, 0);
    strom_builder *b = build(strom_table_schema(e.t), r, 200), *tail = build(strom_table_schema(e.t), r + 200, 100);
    strom_write_opts o = {.writer_id = 77, .batch_seq = 5};
    CT_OK(strom_table_write(e.t, b, &o, NULL));
    assert_int_equal(total_rows(e.t), 200);
    CT_OK(strom_table_write(e.t, b, &o, NULL));                 /* a retry */
    o.batch_seq = 4;
    CT_OK(strom_table_write(e.t, tail, &o, NULL));              /* an older sequence */
    assert_int_equal(total_rows(e.t), 200);
    strom_table_close(e.t);
    CT_OK(strom_table_open(e.db, "t", &e.t));
    o.batch_seq = 5;
    CT_OK(strom_table_write(e.t, b, &o, NULL));                 /* still known after a reopen */
    o.writer_id = 78;                                           /* another writer: applied */
    CT_OK(strom_table_write(e.t, b, &o, NULL));
    o = (strom_write_opts){.writer_id = 77, .batch_seq = 6};
    CT_OK(strom_table_write(e.t, tail, &o, NULL));
    assert_int_equal(total_rows(e.t), 500);
    o = (strom_write_opts){0};                                  /* not idempotent: refused */
    assert_int_equal(strom_table_write(e.t, b, &o, NULL), STROM_EUNSUPPORTED);
    o = (strom_write_opts){.writer_id = 77, .batch_seq = 7, .delete_rows = 1};
    assert_int_equal(strom_table_write(e.t, b, &o, NULL), STROM_EUNSUPPORTED);
    assert_int_equal(total_rows(e.t), 500);
    strom_builder_destroy(b);
    strom_builder_destroy(tail);
    env_close(&e);
}

static void test_key_history(void **state)
{
    (void)state;
    const char *same[] = {"bucket.num", "4", "bucket.key", "device_id", "table.log.index.key",
                          "device_id", "table.time-column", "event_time", NULL};
    history_case(same);
    const char *spread[] = {"bucket.num", "3", "table.log.index.key", "device_id",
                            "table.time-column", "event_time", NULL};
    history_case(spread);
    env e;
    env_open(&e, NULL);
    strom_value k = {.type = STROM_STRING, .v.s = {"a", 1}};
    strom_batch *b;
    CT_ERR(strom_table_key_history(e.t, &k, 1, 0, 5, NULL, 0, &b), STROM_EUNSUPPORTED,
           "table.log.index.key");
    env_close(&e);
}

/* ------------------------------------------------------------ concurrency */

enum { THREADS = 4, CALLS = 40, ROWS = 100 };
typedef struct worker {
    strom_table *t;
    int id;
    int64_t first[CALLS][2], last[CALLS][2];
} worker;

static void *append_loop(void *arg)
{
    worker *w = arg;
    row r[ROWS];
    for (int c = 0; c < CALLS; c++) {
        for (int i = 0; i < ROWS; i++) {
            snprintf(r[i].dev, sizeof r[i].dev, "dev%d", (w->id * 7 + i) % 23);
            r[i].seq = (int64_t)w->id * 1000000 + c * ROWS + i;
            r[i].time = r[i].seq;
            r[i].volt_null = 1;
        }
        strom_append_result res = {.first_offset = w->first[c], .last_offset = w->last[c]};
        strom_builder *b = build(strom_table_schema(w->t), r, ROWS);
        if (strom_table_append(w->t, b, &res) != STROM_OK)
            w->first[c][0] = -100;
        strom_builder_destroy(b);
    }
    return NULL;
}

static void test_concurrent_appends(void **state)
{
    (void)state;
    env e;
    const char *opts[] = {"bucket.num", "2", "bucket.key", "device_id", NULL};
    env_open(&e, opts);
    worker w[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i].t = e.t;
        w[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, append_loop, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    for (int bk = 0; bk < 2; bk++) {
        int64_t earliest, end;
        CT_OK(strom_table_offsets(e.t, bk, &earliest, &end));
        uint8_t *used = calloc((size_t)end + 1, 1);
        int64_t total = 0;
        for (int i = 0; i < THREADS; i++)
            for (int c = 0; c < CALLS; c++) {
                assert_true(w[i].first[c][0] != -100);
                if (w[i].first[c][bk] < 0)
                    continue;
                for (int64_t o = w[i].first[c][bk]; o <= w[i].last[c][bk]; o++) {
                    assert_true(o < end);
                    assert_int_equal(used[o], 0); /* offsets unique */
                    used[o] = 1;
                    total++;
                }
            }
        assert_int_equal(total, end);
        free(used);
    }
    int64_t e0, e1, x;
    CT_OK(strom_table_offsets(e.t, 0, &x, &e0));
    CT_OK(strom_table_offsets(e.t, 1, &x, &e1));
    assert_int_equal(e0 + e1, THREADS * CALLS * ROWS);
    env_close(&e);
}

/* ------------------------------------------------- stats, seek, retention */

typedef struct times { int64_t off[4000], tm[4000]; int n; } times;

static void note_time(void *ctx, int bucket, const strom_batch *b, int64_t r)
{
    times *t = ctx;
    (void)bucket;
    t->off[t->n] = strom_batch_row_offset(b, r);
    t->tm[t->n++] = strom_batch_row_time(b, r);
}

static void test_stats_seek_retention(void **state)
{
    (void)state;
    env e;
    const char *opts[] = {"table.time-column", "event_time", "table.log.segment.bytes", "2kb",
                          "table.log.ttl", "1 h", "table.log.flush", "none", NULL};
    env_open(&e, opts);
    row r[4000];
    gen_rows(r, 4000, 50, 0);
    for (int off = 0; off < 4000; off += 200)
        append_rows(e.t, r + off, 200, NULL);
    CT_OK(strom_table_flush(e.t));
    strom_bucket_stats st;
    CT_OK(strom_table_bucket_stats(e.t, 0, &st));
    assert_int_equal(st.end_offset, 4000);
    assert_int_equal(st.batches, 20);
    assert_true(st.segments > 1);
    times *tt = calloc(1, sizeof *tt);
    scan_bucket(e.t, 0, NULL, note_time, tt);
    assert_int_equal(tt->n, 4000);
    for (int q = 0; q < 50; q++) { /* every row with time >= T lies at or after the seek */
        int64_t T = 1736776200000 + (int64_t)(rnd() % 1000000) * 1000, o;
        CT_OK(strom_table_seek_time(e.t, 0, T, &o));
        for (int i = 0; i < tt->n; i++)
            if (tt->tm[i] >= T)
                assert_true(tt->off[i] >= o);
    }
    int removed = -1;
    CT_OK(strom_table_retention(e.t, strom_now_ms() - 1000, &removed));
    assert_int_equal(removed, 0); /* nothing is an hour old */
    CT_OK(strom_table_retention(e.t, strom_now_ms() + 2 * 3600 * 1000, &removed));
    assert_int_equal(removed, st.segments - 1); /* all but the active segment */
    int64_t earliest, end;
    CT_OK(strom_table_offsets(e.t, 0, &earliest, &end));
    assert_true(earliest > 0);
    assert_int_equal(end, 4000);
    free(tt);
    env_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucketing_by_key),
        cmocka_unit_test(test_sticky_without_key),
        cmocka_unit_test(test_scan_projection_predicates),
        cmocka_unit_test(test_scan_errors),
        cmocka_unit_test(test_add_column_reads_nulls),
        cmocka_unit_test(test_schema_mismatch),
        cmocka_unit_test(test_append_encoded),
        cmocka_unit_test(test_idempotent_write),
        cmocka_unit_test(test_key_history),
        cmocka_unit_test(test_concurrent_appends),
        cmocka_unit_test(test_stats_seek_retention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
