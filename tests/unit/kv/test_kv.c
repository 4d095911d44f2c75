/* test_kv.c: the state of a primary-key bucket against a reference model: a plain array
 * indexed by key, driven by the same random upserts and deletes. Checked: point, batch
 * and prefix lookups; the changelog read back from the log equals the +I/-U/+U/-D
 * sequence the model expects (FULL and WAL images); reopen, replay from an older state
 * (a crash that lost RocksDB's memtables) and a rebuild after the state directory was
 * deleted all give the model's state; bad rows fail naming table and column and change
 * nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kv/kv.h"

#define NFEED 5
#define NDEV 20
#define NKEYS (NFEED * NDEV)
#define TNAME "table 'devices' bucket 0"

/* Columns: 0 feeder STRING NOT NULL, 1 dev INT (nullable: the kv itself must refuse a
 * NULL key), 2 cap DOUBLE, 3 status STRING, 4 ts TIMESTAMP NOT NULL.
 * Primary key (dev, feeder), bucket key (feeder). */
typedef struct mrow {
    int present;
    int feeder, dev;
    int cap_null, st_null;
    double cap;
    char st[24];
    int64_t ts;
} mrow;

typedef struct mchange {
    strom_change c;
    mrow row;
} mchange;

typedef struct model {
    mrow rows[NKEYS];
    mchange *log;
    size_t nlog, cap;
    int full;
} model;

typedef struct fixture {
    char dir[128], logdir[160], statedir[160];
    strom_schema *schema;
    log_bucket *log;
    kv_state *kv;
    model m;
} fixture;

static uint64_t rng = 0x243F6A8885A308D3ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static strom_schema *make_schema(int variant)
{
    strom_schema *s = strom_schema_create();
    assert_int_equal(strom_schema_add(s, "feeder", STROM_STRING, 1), STROM_OK);
    assert_int_equal(strom_schema_add(s, "dev", STROM_INT, 0), STROM_OK);
    assert_int_equal(strom_schema_add(s, "cap", variant == 1 ? STROM_BIGINT : STROM_DOUBLE, 0),
                     STROM_OK);
    if (variant != 2) {
        assert_int_equal(strom_schema_add(s, "status", STROM_STRING, 0), STROM_OK);
        assert_int_equal(strom_schema_add(s, "ts", STROM_TIMESTAMP, 1), STROM_OK);
    }
    fmt_schema_set_id(s, 1);
    return s;
}

static void open_all(fixture *f)
{
    log_config lc;
    log_config_init(&lc);
    lc.name = TNAME;
    lc.segment_bytes = 8192; /* several segments: replay crosses segment boundaries */
    assert_int_equal(log_bucket_open(f->logdir, &lc, &f->log), STROM_OK);
    kv_config kc = {.name = TNAME, .schema = f->schema, .pk = {1, 0}, .npk = 2, .bk = {0},
                    .nbk = 1, .image_full = f->m.full};
    fmt_encode_opts_init(&kc.enc);
    strom_err e = kv_open(f->statedir, f->log, &kc, &f->kv);
    if (e != STROM_OK)
        fail_msg("kv_open: %s", strom_errmsg());
}

static void close_all(fixture *f)
{
    kv_close(f->kv);
    log_bucket_close(f->log);
    f->kv = NULL;
    f->log = NULL;
}

static void setup(fixture *f, int full)
{
    memset(f, 0, sizeof *f);
    static int seq;
    snprintf(f->dir, sizeof f->dir, "/tmp/strom_kvtest_%d_%d", (int)getpid(), seq++);
    strom_rmtree(f->dir);
    snprintf(f->logdir, sizeof f->logdir, "%s/bucket-0", f->dir);
    snprintf(f->statedir, sizeof f->statedir, "%s/kv-0", f->dir);
    f->schema = make_schema(0);
    f->m.full = full;
    open_all(f);
}

static void teardown(fixture *f)
{
    close_all(f);
    strom_schema_destroy(f->schema);
    free(f->m.log);
    strom_rmtree(f->dir);
}

/* ------------------------------------------------------------ the model */

static void model_emit(model *m, strom_change c, const mrow *r)
{
    if (m->nlog == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 256;
        m->log = realloc(m->log, m->cap * sizeof *m->log);
    }
    m->log[m->nlog++] = (mchange){c, *r};
}

static void model_apply(model *m, const mrow *r, int del)
{
    mrow *cur = &m->rows[r->feeder * NDEV + r->dev];
    if (del) {
        if (cur->present)
            model_emit(m, STROM_DELETE, cur);
        cur->present = 0;
        return;
    }
    if (cur->present && m->full)
        model_emit(m, STROM_UPDATE_BEFORE, cur);
    model_emit(m, cur->present ? STROM_UPDATE_AFTER : STROM_INSERT, r);
    *cur = *r;
    cur->present = 1;
}

/* ------------------------------------------------------------ rows */

static void feeder_name(int feeder, char *out, size_t cap)
{
    snprintf(out, cap, "feeder-%d", feeder);
}

static void put_row(strom_builder *b, const mrow *r)
{
    char fn[32];
    feeder_name(r->feeder, fn, sizeof fn);
    assert_int_equal(strom_builder_put_str(b, 0, fn, strlen(fn)), STROM_OK);
    assert_int_equal(strom_builder_put_int(b, 1, r->dev), STROM_OK);
    if (r->cap_null)
        assert_int_equal(strom_builder_put_null(b, 2), STROM_OK);
    else
        assert_int_equal(strom_builder_put_f64(b, 2, r->cap), STROM_OK);
    if (r->st_null)
        assert_int_equal(strom_builder_put_null(b, 3), STROM_OK);
    else
        assert_int_equal(strom_builder_put_str(b, 3, r->st, strlen(r->st)), STROM_OK);
    assert_int_equal(strom_builder_put_int(b, 4, r->ts), STROM_OK);
    assert_int_equal(strom_builder_end_row(b), STROM_OK);
}

static void random_row(mrow *r, int feeder, int dev)
{
    memset(r, 0, sizeof *r);
    r->present = 1;
    r->feeder = feeder;
    r->dev = dev;
    r->cap_null = rnd() % 5 == 0;
    r->cap = r->cap_null ? 0 : (double)(rnd() % 100000) / 8.0;
    r->st_null = rnd() % 4 == 0;
    if (!r->st_null)
        snprintf(r->st, sizeof r->st, "%s-%u", rnd() % 2 ? "ok" : "fault",
                 (unsigned)(rnd() % 1000));
    r->ts = 1736776200000LL + (int64_t)(rnd() % 1000000);
}

static int col_valid(const strom_column *c, int64_t r)
{
    return !c->validity || (c->validity[r >> 3] >> (r & 7)) & 1;
}

static void col_str(const strom_column *c, int64_t r, char *out, size_t cap)
{
    int32_t a = c->offsets[r], b = c->offsets[r + 1];
    assert_true((size_t)(b - a) < cap);
    memcpy(out, c->data + a, (size_t)(b - a));
    out[b - a] = '\0';
}

/* Row r of columns cols (schema order) as a model row. */
static mrow row_from_cols(const strom_column *cols, int64_t r)
{
    mrow m;
    memset(&m, 0, sizeof m);
    char fn[32];
    m.present = 1;
    col_str(&cols[0], r, fn, sizeof fn);
    assert_int_equal(sscanf(fn, "feeder-%d", &m.feeder), 1);
    assert_true(col_valid(&cols[1], r));
    m.dev = ((const int32_t *)cols[1].values)[r];
    m.cap_null = !col_valid(&cols[2], r);
    m.cap = m.cap_null ? 0 : ((const double *)cols[2].values)[r];
    m.st_null = !col_valid(&cols[3], r);
    if (!m.st_null)
        col_str(&cols[3], r, m.st, sizeof m.st);
    m.ts = ((const int64_t *)cols[4].values)[r];
    return m;
}

static mrow row_from_builder(const strom_builder *b, int64_t r)
{
    strom_column cols[5];
    for (int i = 0; i < 5; i++)
        fmt_builder_view(b, i, &cols[i]);
    return row_from_cols(cols, r);
}

static void assert_row_equal(const mrow *a, const mrow *b)
{
    assert_int_equal(a->feeder, b->feeder);
    assert_int_equal(a->dev, b->dev);
    assert_int_equal(a->cap_null, b->cap_null);
    assert_true(a->cap == b->cap);
    assert_int_equal(a->st_null, b->st_null);
    assert_string_equal(a->st, b->st);
    assert_int_equal(a->ts, b->ts);
}

/* ------------------------------------------------------------ writes */

/* One random write of 1..40 rows (keys repeat within a write), applied to both. */
static void random_write(fixture *f)
{
    strom_builder *b = strom_builder_create(f->schema);
    int n = 1 + (int)(rnd() % 40);
    uint8_t ops[40];
    for (int i = 0; i < n; i++) {
        mrow r;
        random_row(&r, (int)(rnd() % NFEED), (int)(rnd() % NDEV));
        ops[i] = rnd() % 4 == 0 ? KV_DELETE : KV_UPSERT;
        if (ops[i] == KV_DELETE) { /* only the key counts: other columns are noise */
            r.cap_null = 1;
            r.st_null = 1;
        }
        put_row(b, &r);
        model_apply(&f->m, &r, ops[i] == KV_DELETE);
    }
    kv_write_result res;
    strom_err e = kv_write(f->kv, b, NULL, 0, ops, &res);
    if (e != STROM_OK)
        fail_msg("kv_write: %s", strom_errmsg());
    strom_builder_destroy(b);
}

/* ------------------------------------------------------------ checks */

static strom_value str_val(const char *s)
{
    strom_value v = {.type = STROM_STRING};
    v.v.s.ptr = s;
    v.v.s.len = strlen(s);
    return v;
}

static void key_vals(strom_value *kv2, char *fn, size_t cap, int feeder, int dev)
{
    feeder_name(feeder, fn, cap);
    kv2[0] = (strom_value){.type = STROM_INT, .v.i = dev}; /* primary key order: dev, feeder */
    kv2[1] = str_val(fn);
}

static void check_point_lookups(fixture *f)
{
    strom_builder *b = strom_builder_create(f->schema);
    for (int k = 0; k < NKEYS; k++) {
        char fn[32];
        strom_value key[2];
        key_vals(key, fn, sizeof fn, k / NDEV, k % NDEV);
        int found = -1;
        strom_builder_reset(b);
        assert_int_equal(kv_lookup(f->kv, key, b, &found), STROM_OK);
        assert_int_equal(found, f->m.rows[k].present);
        assert_int_equal(strom_builder_nrows(b), found);
        if (found) {
            mrow got = row_from_builder(b, 0);
            assert_row_equal(&got, &f->m.rows[k]);
        }
    }
    strom_builder_destroy(b);
}

static void check_batch_lookup(fixture *f)
{
    static char fns[NKEYS][32];
    strom_value keys[NKEYS * 2];
    uint8_t found[NKEYS];
    for (int k = 0; k < NKEYS; k++)
        key_vals(&keys[2 * k], fns[k], sizeof fns[k], k / NDEV, k % NDEV);
    strom_builder *b = strom_builder_create(f->schema);
    assert_int_equal(kv_lookup_batch(f->kv, keys, NKEYS, b, found), STROM_OK);
    int64_t r = 0;
    for (int k = 0; k < NKEYS; k++) {
        assert_int_equal(found[k], f->m.rows[k].present);
        if (found[k]) {
            mrow got = row_from_builder(b, r++);
            assert_row_equal(&got, &f->m.rows[k]);
        }
    }
    assert_int_equal(strom_builder_nrows(b), r);
    strom_builder_destroy(b);
}

static void check_prefix_lookups(fixture *f)
{
    strom_builder *b = strom_builder_create(f->schema);
    for (int fd = 0; fd < NFEED; fd++) {
        char fn[32];
        feeder_name(fd, fn, sizeof fn);
        strom_value bk = str_val(fn);
        int64_t n = -1;
        strom_builder_reset(b);
        assert_int_equal(kv_prefix_lookup(f->kv, &bk, b, &n), STROM_OK);
        int expect = 0, seen[NDEV] = {0};
        for (int d = 0; d < NDEV; d++)
            expect += f->m.rows[fd * NDEV + d].present;
        assert_int_equal(n, expect);
        assert_int_equal(strom_builder_nrows(b), n);
        for (int64_t r = 0; r < n; r++) {
            mrow got = row_from_builder(b, r);
            assert_int_equal(got.feeder, fd);
            assert_false(seen[got.dev]++);
            assert_row_equal(&got, &f->m.rows[fd * NDEV + got.dev]);
        }
    }
    strom_builder_destroy(b);
}

/* The whole changelog in the log equals the model's expected sequence. */
static void check_changelog(fixture *f)
{
    log_read_spec spec = {.schema = f->schema, .time_min = INT64_MIN, .time_max = INT64_MAX};
    log_reader *rd = NULL;
    assert_int_equal(log_reader_open(f->log, 0, &spec, &rd), STROM_OK);
    size_t i = 0;
    const strom_batch *b;
    while (log_reader_next(rd, &b) == STROM_OK && b) {
        for (int64_t r = 0; r < b->nrows; r++, i++) {
            assert_true(i < f->m.nlog);
            assert_int_equal(strom_batch_row_offset(b, r), (int64_t)i);
            assert_int_equal(strom_batch_row_change(b, r), f->m.log[i].c);
            mrow got = row_from_cols(b->cols, r);
            assert_row_equal(&got, &f->m.log[i].row);
        }
    }
    log_reader_close(rd);
    assert_int_equal(i, f->m.nlog);
    int64_t earliest, end;
    log_bucket_offsets(f->log, &earliest, &end);
    assert_int_equal(end, (int64_t)f->m.nlog);
    assert_int_equal(kv_checkpoint(f->kv), end);
}

static void check_all(fixture *f)
{
    check_point_lookups(f);
    check_batch_lookup(f);
    check_prefix_lookups(f);
}

/* ------------------------------------------------------------ tests */

static void run_model(int full)
{
    fixture f;
    setup(&f, full);
    for (int w = 0; w < 60; w++) {
        random_write(&f);
        if (w % 10 == 0)
            check_all(&f);
    }
    check_all(&f);
    check_changelog(&f);

    /* reopen: the same state, nothing replayed */
    close_all(&f);
    open_all(&f);
    check_all(&f);
    check_changelog(&f);

    /* state directory lost: rebuilt from the log alone */
    close_all(&f);
    assert_int_equal(strom_rmtree(f.statedir), 0);
    open_all(&f);
    check_all(&f);
    check_changelog(&f);
    teardown(&f);
}

static void test_model_full(void **st) { run_model(1); }
static void test_model_wal(void **st) { run_model(0); }

/* Closes and copies the state directory aside (an older state to restore later). */
static void save_state(fixture *f)
{
    char cmd[512];
    close_all(f);
    snprintf(cmd, sizeof cmd, "cp -r %s %s/saved", f->statedir, f->dir);
    assert_int_equal(system(cmd), 0);
}

/* Closes, puts the saved state back (losing what came after it) and reopens. */
static void restore_state(fixture *f)
{
    char saved[200];
    close_all(f);
    snprintf(saved, sizeof saved, "%s/saved", f->dir);
    assert_int_equal(strom_rmtree(f->statedir), 0);
    assert_int_equal(rename(saved, f->statedir), 0);
    open_all(f);
}

/* An older copy of the state (as if a crash lost what RocksDB had not flushed) catches up
 * by replaying the changelog from its checkpoint. */
static void test_replay_from_checkpoint(void **st)
{
    fixture f;
    setup(&f, 1);
    for (int w = 0; w < 20; w++)
        random_write(&f);
    save_state(&f);
    int64_t old_end = (int64_t)f.m.nlog;
    open_all(&f);
    for (int w = 0; w < 20; w++)
        random_write(&f);
    assert_true((int64_t)f.m.nlog > old_end);
    restore_state(&f);
    check_all(&f);
    check_changelog(&f);
    teardown(&f);
}

/* One idempotent write of writer 5 (random rows, the model applies it unless expect_dup);
 * checks res.duplicate. */
static void idem_write(fixture *f, int32_t seq, int expect_dup)
{
    strom_builder *b = strom_builder_create(f->schema);
    for (int i = 0; i < 5; i++) {
        mrow r;
        random_row(&r, (int)(rnd() % NFEED), (int)(rnd() % NDEV));
        put_row(b, &r);
        if (!expect_dup)
            model_apply(&f->m, &r, 0);
    }
    kv_write_opts o = {.writer_id = 5, .batch_seq = seq};
    kv_write_result res;
    size_t nlog = f->m.nlog;
    assert_int_equal(kv_write_ex(f->kv, b, NULL, 0, NULL, &o, &res), STROM_OK);
    assert_int_equal(res.duplicate, expect_dup);
    if (expect_dup)
        assert_int_equal(res.changes, 0);
    assert_int_equal(f->m.nlog, nlog);
    strom_builder_destroy(b);
}

/* Idempotent writes: a sequence not above the writer's last one changes nothing, also
 * after the state was set back to before those writes (a crash that lost RocksDB's
 * memtables): replay restores the sequence from the changelog batch headers. */
static void test_idempotent_replay(void **st)
{
    fixture f;
    setup(&f, 1);
    for (int w = 0; w < 5; w++)
        random_write(&f);
    save_state(&f);
    open_all(&f);
    idem_write(&f, 0, 0);
    idem_write(&f, 0, 1);   /* the retry */
    idem_write(&f, 3, 0);   /* gaps are fine */
    idem_write(&f, 2, 1);   /* below the last: a late retry */
    random_write(&f);       /* writes without a writer id are never deduplicated */
    restore_state(&f);
    check_all(&f);
    check_changelog(&f);
    idem_write(&f, 3, 1);
    idem_write(&f, 0, 1);
    idem_write(&f, 4, 0);
    close_all(&f);
    assert_int_equal(strom_rmtree(f.statedir), 0);   /* rebuild from the log alone */
    open_all(&f);
    idem_write(&f, 4, 1);
    idem_write(&f, 5, 0);
    check_all(&f);
    check_changelog(&f);
    teardown(&f);
}

/* Bad rows: an error naming table and column, nothing appended, nothing applied. */
static void test_bad_rows(void **st)
{
    fixture f;
    setup(&f, 1);
    random_write(&f);
    size_t nlog = f.m.nlog;

    strom_builder *b = strom_builder_create(f.schema);
    mrow r;
    random_row(&r, 1, 3);
    put_row(b, &r);
    char fn[] = "feeder-2";
    assert_int_equal(strom_builder_put_str(b, 0, fn, strlen(fn)), STROM_OK);
    assert_int_equal(strom_builder_put_null(b, 1), STROM_OK);
    assert_int_equal(strom_builder_put_null(b, 2), STROM_OK);
    assert_int_equal(strom_builder_put_null(b, 3), STROM_OK);
    assert_int_equal(strom_builder_put_int(b, 4, 5), STROM_OK);
    assert_int_equal(strom_builder_end_row(b), STROM_OK);
    assert_int_equal(kv_write(f.kv, b, NULL, 0, NULL, NULL), STROM_ESCHEMA);
    assert_non_null(strstr(strom_errmsg(), TNAME));
    assert_non_null(strstr(strom_errmsg(), "'dev'"));
    assert_non_null(strstr(strom_errmsg(), "NULL"));
    strom_builder_destroy(b);

    for (int variant = 1; variant <= 2; variant++) { /* wrong type; missing columns */
        strom_schema *s = make_schema(variant);
        b = strom_builder_create(s);
        assert_int_equal(strom_builder_put_str(b, 0, fn, strlen(fn)), STROM_OK);
        assert_int_equal(strom_builder_put_int(b, 1, 7), STROM_OK);
        assert_int_equal(strom_builder_put_null(b, 2), STROM_OK);
        for (int c = 3; c < s->ncols; c++)
            assert_int_equal(strom_builder_put_null(b, c), c == 4 ? STROM_ESCHEMA : STROM_OK);
        if (s->ncols == 5)
            assert_int_equal(strom_builder_put_int(b, 4, 1), STROM_OK);
        assert_int_equal(strom_builder_end_row(b), STROM_OK);
        assert_int_equal(kv_write(f.kv, b, NULL, 0, NULL, NULL), STROM_ESCHEMA);
        assert_non_null(strstr(strom_errmsg(), TNAME));
        assert_non_null(strstr(strom_errmsg(), variant == 1 ? "'cap'" : "'status'"));
        strom_builder_destroy(b);
        strom_schema_destroy(s);
    }

    /* a delete of a missing key changes nothing and appends nothing */
    b = strom_builder_create(f.schema);
    random_row(&r, 4, 19);
    if (!f.m.rows[4 * NDEV + 19].present) {
        put_row(b, &r);
        uint8_t op = KV_DELETE;
        kv_write_result res;
        assert_int_equal(kv_write(f.kv, b, NULL, 0, &op, &res), STROM_OK);
        assert_int_equal(res.changes, 0);
        assert_int_equal(res.base_offset, -1);
    }
    strom_builder_destroy(b);

    assert_int_equal(f.m.nlog, nlog);
    check_all(&f);
    check_changelog(&f);
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_full),
        cmocka_unit_test(test_model_wal),
        cmocka_unit_test(test_replay_from_checkpoint),
        cmocka_unit_test(test_bad_rows),
        cmocka_unit_test(test_idempotent_replay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
