/* test_pk.c: primary-key tables through the public API, against a reference model (an
 * array indexed by key) driven by the same random upserts and deletes: point, batch and
 * prefix lookups; the changelog read with strom_scan (per key, the model's +I/-U/+U/-D
 * sequence); reopen; rebuild after every state directory was deleted; the metadata
 * record; options; bad input naming table and column with nothing written. */
#define _GNU_SOURCE
#include "cat_test.h"

#include <unistd.h>

#define NFEED 6
#define NDEV 15
#define NKEYS (NFEED * NDEV)

typedef struct prow {
    int present, feeder, dev, cap_null;
    double cap;
    char st[24];
} prow;

typedef struct pchange {
    int key;
    strom_change c;
    prow row;
} pchange;

typedef struct pmodel {
    prow rows[NKEYS];
    pchange *log;
    size_t nlog, cap;
} pmodel;

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* feeder STRING, dev INT, cap DOUBLE, status STRING; primary key (feeder, dev) if pk. */
static strom_schema *pk_schema(int pk)
{
    strom_schema *s = strom_schema_create();
    CT_OK(strom_schema_add(s, "feeder", STROM_STRING, 0));
    CT_OK(strom_schema_add(s, "dev", STROM_INT, 0));
    CT_OK(strom_schema_add(s, "cap", STROM_DOUBLE, 0));
    CT_OK(strom_schema_add(s, "status", STROM_STRING, 0));
    const char *key[] = {"feeder", "dev"};
    if (pk)
        CT_OK(strom_schema_set_primary_key(s, key, 2));
    return s;
}

static void emit(pmodel *m, int key, strom_change c, const prow *r)
{
    if (m->nlog == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 256;
        m->log = realloc(m->log, m->cap * sizeof *m->log);
    }
    m->log[m->nlog++] = (pchange){key, c, *r};
}

static void model_apply(pmodel *m, const prow *r, int del)
{
    int k = r->feeder * NDEV + r->dev;
    prow *cur = &m->rows[k];
    if (del && cur->present)
        emit(m, k, STROM_DELETE, cur);
    if (del) {
        cur->present = 0;
        return;
    }
    if (cur->present)
        emit(m, k, STROM_UPDATE_BEFORE, cur);
    emit(m, k, cur->present ? STROM_UPDATE_AFTER : STROM_INSERT, r);
    *cur = *r;
}

static void put(strom_builder *b, const prow *r)
{
    char fn[16];
    snprintf(fn, sizeof fn, "F%d", r->feeder);
    CT_OK(strom_builder_put_str(b, 0, fn, strlen(fn)));
    CT_OK(strom_builder_put_int(b, 1, r->dev));
    CT_OK(r->cap_null ? strom_builder_put_null(b, 2) : strom_builder_put_f64(b, 2, r->cap));
    CT_OK(strom_builder_put_str(b, 3, r->st, strlen(r->st)));
    CT_OK(strom_builder_end_row(b));
}

static prow batch_row(const strom_batch *b, int64_t r)
{
    prow p = {.present = 1};
    size_t n;
    const char *f = strom_batch_get_str(b, 0, r, &n);
    char fn[16];
    assert_true(n >= 2 && n < sizeof fn && f[0] == 'F');
    memcpy(fn, f + 1, n - 1); /* not NUL-terminated */
    fn[n - 1] = '\0';
    p.feeder = atoi(fn);
    p.dev = (int)strom_batch_get_int(b, 1, r);
    p.cap_null = strom_batch_is_null(b, 2, r);
    p.cap = p.cap_null ? 0 : strom_batch_get_f64(b, 2, r);
    const char *st = strom_batch_get_str(b, 3, r, &n);
    assert_true(n < sizeof p.st);
    memcpy(p.st, st, n);
    p.st[n] = '\0';
    return p;
}

static void same_row(const prow *a, const prow *b)
{
    assert_int_equal(a->feeder, b->feeder);
    assert_int_equal(a->dev, b->dev);
    assert_int_equal(a->cap_null, b->cap_null);
    assert_true(a->cap == b->cap);
    assert_string_equal(a->st, b->st);
}

static void random_write(strom_table *t, pmodel *m)
{
    strom_schema *s = pk_schema(1);
    strom_builder *b = strom_builder_create(s);
    int del = rnd() % 4 == 0, n = 1 + (int)(rnd() % 30);
    for (int i = 0; i < n; i++) {
        prow r = {.present = 1, .feeder = (int)(rnd() % NFEED), .dev = (int)(rnd() % NDEV)};
        r.cap_null = rnd() % 5 == 0;
        r.cap = r.cap_null ? 0 : (double)(rnd() % 10000) / 4;
        snprintf(r.st, sizeof r.st, "s%u", (unsigned)(rnd() % 100));
        put(b, &r);
        model_apply(m, &r, del);
    }
    CT_OK(del ? strom_table_delete(t, b) : strom_table_upsert(t, b));
    strom_builder_destroy(b);
    strom_schema_destroy(s);
}

static void key_of(int k, char *fn, strom_value *v)
{
    snprintf(fn, 16, "F%d", k / NDEV);
    v[0] = (strom_value){.type = STROM_STRING, .v.s = {fn, strlen(fn)}};
    v[1] = (strom_value){.type = STROM_INT, .v.i = k % NDEV};
}

static void check_lookups(strom_table *t, const pmodel *m)
{
    static char fns[NKEYS][16];
    strom_value keys[2 * NKEYS];
    for (int k = 0; k < NKEYS; k++) {
        key_of(k, fns[k], &keys[2 * k]);
        strom_batch *b = NULL;
        CT_OK(strom_table_lookup(t, &keys[2 * k], 2, &b));
        assert_int_equal(b != NULL, m->rows[k].present);
        if (b) {
            assert_int_equal(strom_batch_nrows(b), 1);
            prow got = batch_row(b, 0);
            same_row(&got, &m->rows[k]);
        }
        strom_batch_destroy(b);
    }
    uint8_t found[NKEYS];
    strom_batch *all = NULL;
    CT_OK(strom_table_lookup_batch(t, keys, 2, NKEYS, found, &all));
    int64_t r = 0;
    for (int k = 0; k < NKEYS; k++) {
        assert_int_equal(found[k], m->rows[k].present);
        if (found[k]) {
            prow got = batch_row(all, r++);
            same_row(&got, &m->rows[k]);
        }
    }
    assert_int_equal(all ? strom_batch_nrows(all) : 0, r);
    strom_batch_destroy(all);
    for (int f = 0; f < NFEED; f++) {
        strom_batch *b = NULL;
        CT_OK(strom_table_prefix_lookup(t, &keys[2 * f * NDEV], 1, &b));
        int expect = 0, seen[NDEV] = {0};
        for (int d = 0; d < NDEV; d++)
            expect += m->rows[f * NDEV + d].present;
        assert_int_equal(b ? strom_batch_nrows(b) : 0, expect);
        for (int64_t i = 0; b && i < strom_batch_nrows(b); i++) {
            prow got = batch_row(b, i);
            assert_int_equal(got.feeder, f);
            assert_false(seen[got.dev]++);
            same_row(&got, &m->rows[f * NDEV + got.dev]);
        }
        strom_batch_destroy(b);
    }
}

/* Every bucket's changelog, row by row: per key the model's sequence, none left over. */
static void check_changelog(strom_table *t, const pmodel *m)
{
    size_t *cursor = calloc(NKEYS, sizeof *cursor), seen = 0;
    for (int bk = 0; bk < strom_table_nbuckets(t); bk++) {
        strom_scan *sc;
        const strom_batch *b;
        CT_OK(strom_scan_open(t, bk, 0, NULL, &sc));
        while (strom_scan_next(sc, &b) == STROM_OK && b) {
            for (int64_t r = 0; r < strom_batch_nrows(b); r++, seen++) {
                prow got = batch_row(b, r);
                int k = got.feeder * NDEV + got.dev;
                size_t *c = &cursor[k];
                while (*c < m->nlog && m->log[*c].key != k)
                    (*c)++;
                assert_true(*c < m->nlog);
                assert_int_equal(strom_batch_row_change(b, r), m->log[*c].c);
                same_row(&got, &m->log[*c].row);
                (*c)++;
            }
        }
        strom_scan_close(sc);
    }
    assert_int_equal(seen, m->nlog);
    free(cursor);
}

static void test_pk_model(void **state)
{
    char *dir = ct_tmpdir();
    strom_db *db;
    strom_table *t;
    pmodel *m = calloc(1, sizeof *m);
    strom_schema *s = pk_schema(1);
    const char *opts[] = {"bucket.num", "3", "bucket.key", "feeder", NULL};
    CT_OK(strom_db_open(dir, &db));
    CT_OK(strom_table_create(db, "devices", s, opts));
    CT_OK(strom_table_open(db, "devices", &t));
    assert_string_equal(strom_table_option(t, "table.merge-engine"), "last_row");
    assert_string_equal(strom_table_option(t, "table.log.ttl"), "inf");
    int pk[4];
    assert_int_equal(strom_schema_primary_key(strom_table_schema(t), pk, 4), 2);
    assert_int_equal(pk[0], 0);
    assert_int_equal(pk[1], 1);
    for (int w = 0; w < 40; w++)
        random_write(t, m);
    check_lookups(t, m);
    check_changelog(t, m);

    for (int round = 0; round < 2; round++) { /* reopen; then rebuild from the log alone */
        strom_table_close(t);
        strom_db_close(db);
        for (int bk = 0; round == 1 && bk < 3; bk++) {
            char p[512];
            snprintf(p, sizeof p, "%s/default/devices/kv-%d", dir, bk);
            assert_int_equal(access(p, F_OK), 0);
            assert_int_equal(strom_rmtree(p), 0);
        }
        CT_OK(strom_db_open(dir, &db));
        CT_OK(strom_table_open(db, "devices", &t));
        check_lookups(t, m);
        check_changelog(t, m);
    }
    for (int w = 0; w < 10; w++) /* and keeps working */
        random_write(t, m);
    check_lookups(t, m);
    check_changelog(t, m);

    char path[512];
    snprintf(path, sizeof path, "%s/default/devices/table.meta", dir);
    uint8_t *meta;
    size_t len;
    CT_OK(strom_read_file(path, 1 << 20, &meta, &len));
    char *txt = strndup((const char *)meta, len);
    assert_non_null(strstr(txt, "primary_key feeder\nprimary_key dev\ncrc32c"));
    assert_non_null(strstr(txt, "option table.merge-engine last_row\n"));
    assert_non_null(strstr(txt, "option table.changelog.image FULL\n"));
    free(txt);
    free(meta);
    strom_table_close(t);
    strom_db_close(db);
    strom_schema_destroy(s);
    free(m->log);
    free(m);
    ct_rmdir(dir);
}

static void one_row(strom_builder *b, const char *feeder, int dev_null, int dev)
{
    CT_OK(strom_builder_put_str(b, 0, feeder, strlen(feeder)));
    CT_OK(dev_null ? strom_builder_put_null(b, 1) : strom_builder_put_int(b, 1, dev));
    CT_OK(strom_builder_put_f64(b, 2, 1.5));
    CT_OK(strom_builder_put_str(b, 3, "ok", 2));
    CT_OK(strom_builder_end_row(b));
}

static void test_pk_bad_input(void **state)
{
    char *dir = ct_tmpdir();
    strom_db *db;
    strom_table *t, *lt;
    strom_schema *s = pk_schema(1), *plain = pk_schema(0);
    CT_OK(strom_db_open(dir, &db));
    const char *badbk[] = {"bucket.key", "status", NULL};
    CT_ERR(strom_table_create(db, "a", s, badbk), STROM_EOPTION, "not part of the primary key");
    const char *ttl[] = {"table.kv.ttl", "0 s", NULL};
    CT_ERR(strom_table_create(db, "a", s, ttl), STROM_EOPTION, "table.kv.ttl");
    const char *httl[] = {"table.kv.history.ttl", "soon", NULL};
    CT_ERR(strom_table_create(db, "a", s, httl), STROM_EOPTION, "table.kv.history.ttl");
    const char *vcol[] = {"table.kv.version-column", "status", NULL};
    CT_ERR(strom_table_create(db, "a", s, vcol), STROM_EOPTION, "TIMESTAMP(3) or BIGINT");
    const char *vcol2[] = {"table.kv.version-column", "nope", NULL};
    CT_ERR(strom_table_create(db, "a", s, vcol2), STROM_EOPTION, "no column 'nope'");
    const char *noagg[] = {"fields.cap.agg", "sum", NULL};
    CT_ERR(strom_table_create(db, "a", s, noagg), STROM_EOPTION, "fields.cap.agg");
    const char *wal[] = {"table.changelog.image", "WAL", "bucket.num", "2", NULL};
    CT_OK(strom_table_create(db, "d", s, wal));
    CT_OK(strom_table_create(db, "log", plain, NULL));
    CT_OK(strom_table_open(db, "d", &t));
    CT_OK(strom_table_open(db, "log", &lt));

    strom_builder *b = strom_builder_create(s), *nb = strom_builder_create(plain);
    one_row(b, "F1", 0, 7);
    CT_ERR(strom_table_upsert(lt, b), STROM_EUNSUPPORTED, "no primary key");
    CT_ERR(strom_table_append(t, b, NULL), STROM_EUNSUPPORTED, "has a primary key");
    CT_ERR(strom_table_add_column(t, "x", STROM_INT, NULL), STROM_EUNSUPPORTED, "primary key");
    CT_OK(strom_table_upsert(t, b));
    CT_OK(strom_table_upsert(t, b)); /* WAL image: +I, +U, no -U */

    one_row(nb, "F2", 0, 1);
    one_row(nb, "F3", 1, 0); /* NULL key in row 1: nothing of the call is written */
    CT_ERR(strom_table_upsert(t, nb), STROM_ESCHEMA, "table d: upsert: row 1: primary-key "
           "column 'dev' is NULL");
    strom_value key[2] = {{.type = STROM_STRING, .v.s = {"F2", 2}}, {.type = STROM_INT, .v.i = 1}};
    strom_batch *out = NULL;
    CT_OK(strom_table_lookup(t, key, 2, &out));
    assert_null(out);
    CT_ERR(strom_table_lookup(t, key, 1, &out), STROM_EINVAL, "key has 2");
    key[1] = (strom_value){.type = STROM_STRING, .v.s = {"x", 1}};
    CT_ERR(strom_table_lookup(t, key, 2, &out), STROM_ESCHEMA, "'dev'");

    int64_t changes[3] = {0}, total = 0;
    for (int bk = 0; bk < 2; bk++) {
        strom_scan *sc;
        const strom_batch *bt;
        CT_OK(strom_scan_open(t, bk, 0, NULL, &sc));
        while (strom_scan_next(sc, &bt) == STROM_OK && bt)
            for (int64_t r = 0; r < strom_batch_nrows(bt); r++, total++)
                changes[strom_batch_row_change(bt, r) - 1]++;
        strom_scan_close(sc);
    }
    assert_int_equal(total, 2);
    assert_int_equal(changes[STROM_INSERT - 1], 1);
    assert_int_equal(changes[STROM_UPDATE_AFTER - 1], 1);
    strom_table_close(t);

    for (int beh = 0; beh < 2; beh++) { /* delete.behavior ignore / disable */
        const char *o[] = {"table.delete.behavior", beh ? "disable" : "ignore", NULL};
        const char *name = beh ? "dis" : "ign";
        CT_OK(strom_table_create(db, name, s, o));
        CT_OK(strom_table_open(db, name, &t));
        CT_OK(strom_table_upsert(t, b));
        if (beh)
            CT_ERR(strom_table_delete(t, b), STROM_EUNSUPPORTED, "deletes are disabled");
        else
            CT_OK(strom_table_delete(t, b));
        key[0] = (strom_value){.type = STROM_STRING, .v.s = {"F1", 2}};
        key[1] = (strom_value){.type = STROM_INT, .v.i = 7};
        CT_OK(strom_table_lookup(t, key, 2, &out));
        assert_non_null(out); /* still there */
        strom_batch_destroy(out);
        strom_table_close(t);
    }
    strom_builder_destroy(b);
    strom_builder_destroy(nb);
    strom_table_close(lt);
    strom_db_close(db);
    strom_schema_destroy(s);
    strom_schema_destroy(plain);
    ct_rmdir(dir);
}

/* The primary_key records of table.meta: parsed onto every schema version, formatted back
 * the same; bad ones are ECORRUPT naming the line. */
static strom_err parse_meta(const char *body, cat_meta *m)
{
    char buf[2048];
    snprintf(buf, sizeof buf, "%scrc32c %08X\n", body,
             strom_crc32c(0, body, strlen(body)));
    return cat_meta_parse((const uint8_t *)buf, strlen(buf), "t.meta", m);
}

static void test_pk_meta_records(void **state)
{
    const char *head = "strom-table-meta 1\ntable_id 7\ncreated_ms 5\n"
                       "option table.changelog.image WAL\n"
                       "schema 1 3\ncolumn f STRING NOT_NULL\ncolumn d INT NOT_NULL\n"
                       "column v DOUBLE NULL\nschema 2 4\ncolumn f STRING NOT_NULL\n"
                       "column d INT NOT_NULL\ncolumn v DOUBLE NULL\ncolumn w INT NULL\n";
    char body[1024];
    cat_meta m;
    snprintf(body, sizeof body, "%sprimary_key d\nprimary_key f\n", head);
    CT_OK(parse_meta(body, &m));
    for (int i = 0; i < 2; i++) {
        assert_int_equal(m.schemas[i]->npk, 2);
        assert_int_equal(m.schemas[i]->pk[0], 1);
        assert_int_equal(m.schemas[i]->pk[1], 0);
    }
    assert_int_equal(m.opts.image_full, 0);
    assert_int_equal(m.opts.nbucket_key, 2); /* defaults to the primary key */
    strom_buf out = {0};
    CT_OK(cat_meta_format(&m, &out));
    assert_non_null(memmem(out.data, out.len, "primary_key d\nprimary_key f\ncrc32c", 34));
    assert_non_null(memmem(out.data, out.len, "option table.merge-engine last_row\n", 35));
    cat_meta again;
    CT_OK(cat_meta_parse(out.data, out.len, "again", &again));
    assert_int_equal(cat_meta_schema(&again)->npk, 2);
    assert_int_equal(cat_meta_schema(&again)->pk[0], 1);
    cat_meta_free(&again);
    strom_buf_free(&out);
    cat_meta_free(&m);

    /* no primary_key line: a log table, and primary-key options are then invalid */
    CT_ERR(parse_meta(head, &m), STROM_ECORRUPT, "t.meta");
    const char *bad[] = {"primary_key x\n", "primary_key v\n", "primary_key d\nprimary_key d\n",
                         "primary_key\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(body, sizeof body, "%s%s", head, bad[i]);
        CT_ERR(parse_meta(body, &m), STROM_ECORRUPT, "primary_key");
    }
    snprintf(body, sizeof body, "strom-table-meta 1\nprimary_key d\n%s", head + 19);
    CT_ERR(parse_meta(body, &m), STROM_ECORRUPT, "after the schemas");
}

/* ------------------------------------------------------------ merge engines
 * Table: k INT (primary key), ver BIGINT, a DOUBLE, b BIGINT, c INT, s STRING, ts TIMESTAMP.
 * The model below computes each engine's result per key on its own (plain C over an
 * array), from the same random upserts and deletes; lookups and the changelog must match
 * it, also after a reopen and after a rebuild from the log. */
#define EK 8
#define ENC 7

typedef struct ecell {
    int null;
    int64_t i;
    double f;
    char s[8];
} ecell;

typedef struct erow {
    int present;
    ecell v[ENC];
} erow;

typedef struct echange {
    int key;
    strom_change c;
    erow row;
} echange;

enum { EF_NONE, EF_SUM, EF_MIN, EF_MAX, EF_LAST, EF_LAST_NN, EF_FIRST, EF_FIRST_NN, EF_COUNT };

typedef struct emodel {
    int engine;               /* 0 last_row 1 first_row 2 versioned 3 aggregation */
    int fn[ENC];              /* aggregation: EF_* per column */
    int deletes;              /* deletes reach the state (delete.behavior allow) */
    int partial;              /* half the upserts are partial updates of random columns */
    int idem;                 /* idempotent writes (writer 42), each retried 0-2 times */
    int32_t seq;
    strom_builder *last;      /* the last idempotent write */
    strom_write_opts last_o;
    const char *last_named[ENC];
    size_t last_changes;      /* changelog rows the last write produced */
    int vcol;                 /* versions timed by column ts ('table.kv.version-column') */
    erow rows[EK];
    echange *log;
    size_t nlog, cap;
} emodel;

static const strom_type etypes[ENC] = {STROM_INT, STROM_BIGINT, STROM_DOUBLE, STROM_BIGINT,
                                       STROM_INT, STROM_STRING, STROM_TIMESTAMP};
static const char *const enames[ENC] = {"k", "ver", "a", "b", "c", "s", "ts"};

static strom_schema *e_schema(void)
{
    strom_schema *s = strom_schema_create();
    for (int i = 0; i < ENC; i++)
        CT_OK(strom_schema_add(s, enames[i], etypes[i], 0));
    const char *key[] = {"k"};
    CT_OK(strom_schema_set_primary_key(s, key, 1));
    return s;
}

static void e_emit(emodel *m, int key, strom_change c, const erow *r)
{
    if (m->nlog == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 256;
        m->log = realloc(m->log, m->cap * sizeof *m->log);
    }
    m->log[m->nlog++] = (echange){key, c, *r};
}

static int e_less(int col, const ecell *x, const ecell *y)
{
    if (etypes[col] == STROM_DOUBLE)
        return x->f < y->f;
    if (etypes[col] == STROM_STRING)
        return strcmp(x->s, y->s) < 0;
    return x->i < y->i;
}

/* The aggregation of column col: stored value o, new value n. */
static ecell e_agg(int col, int fn, ecell o, ecell n)
{
    switch (fn) {
    case EF_SUM:
        if (n.null)
            return o;
        if (o.null)
            return n;
        o.i += n.i;
        o.f += n.f;
        return o;
    case EF_MIN:
        return !n.null && (o.null || e_less(col, &n, &o)) ? n : o;
    case EF_MAX:
        return !n.null && (o.null || e_less(col, &o, &n)) ? n : o;
    case EF_LAST:
        return n;
    case EF_FIRST:
        return o;
    case EF_FIRST_NN:
        return o.null ? n : o;
    case EF_COUNT:
        o.i = (o.null ? 0 : o.i) + !n.null;
        o.null = 0;
        return o;
    default:
        return n.null ? o : n;
    }
}

/* mask: the columns a partial update writes (NULL: all). */
static void e_apply(emodel *m, const erow *r, int del, const int *mask)
{
    int k = (int)r->v[0].i;
    erow *cur = &m->rows[k], next = *r;
    if (del) {
        if (!m->deletes)
            return;
        if (cur->present)
            e_emit(m, k, STROM_DELETE, cur);
        cur->present = 0;
        return;
    }
    if (m->engine == 1 && cur->present)
        return;
    if (m->engine == 2 && (r->v[1].null || (cur->present && r->v[1].i < cur->v[1].i)))
        return;
    for (int c = 1; c < ENC; c++) {
        int written = !mask || mask[c];
        if (!cur->present) {
            if (!written)
                next.v[c] = (ecell){.null = 1};
            if (m->engine == 3 && m->fn[c] == EF_COUNT)
                next.v[c] = (ecell){.i = !next.v[c].null};
        } else if (!written) {
            next.v[c] = cur->v[c];
        } else if (m->engine == 3) {
            next.v[c] = e_agg(c, m->fn[c], cur->v[c], r->v[c]);
        }
    }
    if (cur->present)
        e_emit(m, k, STROM_UPDATE_BEFORE, cur);
    e_emit(m, k, cur->present ? STROM_UPDATE_AFTER : STROM_INSERT, &next);
    *cur = next;
    cur->present = 1;
}

static void e_put(strom_builder *b, const erow *r)
{
    for (int c = 0; c < ENC; c++) {
        const ecell *v = &r->v[c];
        if (v->null)
            CT_OK(strom_builder_put_null(b, c));
        else if (etypes[c] == STROM_DOUBLE)
            CT_OK(strom_builder_put_f64(b, c, v->f));
        else if (etypes[c] == STROM_STRING)
            CT_OK(strom_builder_put_str(b, c, v->s, strlen(v->s)));
        else
            CT_OK(strom_builder_put_int(b, c, v->i));
    }
    CT_OK(strom_builder_end_row(b));
}

static erow e_get(const strom_batch *b, int64_t r)
{
    erow e = {.present = 1};
    for (int c = 0; c < ENC; c++) {
        ecell *v = &e.v[c];
        v->null = strom_batch_is_null(b, c, r);
        if (v->null)
            continue;
        if (etypes[c] == STROM_DOUBLE) {
            v->f = strom_batch_get_f64(b, c, r);
        } else if (etypes[c] == STROM_STRING) {
            size_t n;
            const char *p = strom_batch_get_str(b, c, r, &n);
            assert_true(n < sizeof v->s);
            memcpy(v->s, p, n);
        } else {
            v->i = strom_batch_get_int(b, c, r);
        }
    }
    return e;
}

static void e_same(const erow *x, const erow *y)
{
    for (int c = 0; c < ENC; c++) {
        if (x->v[c].null != y->v[c].null)
            fail_msg("column %s: null %d, expected %d", enames[c], x->v[c].null, y->v[c].null);
        if (x->v[c].null)
            continue;
        if (x->v[c].i != y->v[c].i || x->v[c].f != y->v[c].f || strcmp(x->v[c].s, y->v[c].s))
            fail_msg("column %s: %lld/%g/%s, expected %lld/%g/%s", enames[c],
                     (long long)x->v[c].i, x->v[c].f, x->v[c].s, (long long)y->v[c].i,
                     y->v[c].f, y->v[c].s);
    }
}

/* Sends the last idempotent write again: a duplicate (unless deletes are dropped before
 * they reach the state: then nothing is written either way). */
static void e_retry(strom_table *t, emodel *m, int rebuilt)
{
    int dup = -1;
    size_t before = m->nlog;
    CT_OK(strom_table_write(t, m->last, &m->last_o, &dup));
    /* a write that changed no row kept its sequence only in the state (kv.h): after a
     * rebuild from the log it runs again, and again changes nothing */
    int zero = m->last_changes == 0;
    assert_int_equal(dup, !(m->last_o.delete_rows && !m->deletes) && !(rebuilt && zero));
    assert_int_equal(m->nlog, before);
}

static void e_random_write(strom_table *t, emodel *m, int allow_del)
{
    strom_schema *s = e_schema();
    strom_builder *b = strom_builder_create(s);
    int del = allow_del && rnd() % 6 == 0, n = 1 + (int)(rnd() % 12);
    int partial = !del && m->partial && rnd() % 2, mask[ENC] = {1}, nnamed = 1;
    const char *named[ENC] = {"k"};
    size_t nlog0 = m->nlog;
    for (int c = 1; partial && c < ENC; c++)
        if ((mask[c] = rnd() % 2))
            named[nnamed++] = enames[c];
    for (int i = 0; i < n; i++) {
        erow r = {.present = 1};
        r.v[0].i = (int64_t)(rnd() % EK);
        for (int c = 1; c < ENC; c++) {
            ecell *v = &r.v[c];
            v->null = rnd() % 4 == 0;
            if (v->null)
                continue;
            if (etypes[c] == STROM_DOUBLE)
                v->f = (double)((int64_t)(rnd() % 2001) - 1000) / 8;
            else if (etypes[c] == STROM_STRING)
                snprintf(v->s, sizeof v->s, "s%u", (unsigned)(rnd() % 50));
            else
                v->i = (int64_t)(rnd() % 41) - (c == 1 ? 0 : 20);  /* ver: 0..40, ties */
        }
        e_put(b, &r);
        e_apply(m, &r, del, partial ? mask : NULL);
    }
    if (!m->idem) {
        CT_OK(del ? strom_table_delete(t, b)
                  : partial ? strom_table_upsert_partial(t, b, named, nnamed)
                            : strom_table_upsert(t, b));
        strom_builder_destroy(b);
        strom_schema_destroy(s);
        return;
    }
    /* idempotent: the model applied it once; every retry must change nothing */
    strom_builder_destroy(m->last);
    m->last = b;
    m->last_o = (strom_write_opts){.delete_rows = del, .writer_id = 42,
                                   .batch_seq = m->seq++};
    memcpy(m->last_named, named, sizeof named);
    if (partial) {
        m->last_o.columns = m->last_named;
        m->last_o.ncolumns = nnamed;
    }
    int dup = -1;
    CT_OK(strom_table_write(t, b, &m->last_o, &dup));
    assert_int_equal(dup, 0);
    m->last_changes = m->nlog - nlog0;
    for (int retry = (int)(rnd() % 3); retry > 0; retry--)
        e_retry(t, m, 0);
    strom_schema_destroy(s);
}

/* AS OF reference: the version time of model changelog entry j, whose batch was
 * committed at ctime[j]: the commit time, or with vcol the row's ts (NULL: commit). */
static int64_t e_vtime(const emodel *m, size_t j, const int64_t *ctime)
{
    const echange *c = &m->log[j];
    if (!m->vcol || c->c == STROM_DELETE || c->row.v[6].null)
        return ctime[j];
    return c->row.v[6].i;
}

/* Expected AS OF T of key k: the entry with the greatest version time <= T, the later
 * written on ties; NULL for none or a delete. */
static const erow *e_asof(const emodel *m, int k, int64_t T, const int64_t *ctime)
{
    const echange *best = NULL;
    int64_t bt = INT64_MIN;
    for (size_t j = 0; j < m->nlog; j++) {
        const echange *c = &m->log[j];
        int64_t vt = e_vtime(m, j, ctime);
        if (c->key != k || c->c == STROM_UPDATE_BEFORE || vt > T || (best && vt < bt))
            continue;
        best = c;
        bt = vt;
    }
    return best && best->c != STROM_DELETE ? &best->row : NULL;
}

/* A time to ask about: a version time of the key, one ms either side, or anything. */
static int64_t e_pick_time(const emodel *m, int k, const int64_t *ctime)
{
    if (m->nlog == 0 || rnd() % 8 == 0)
        return rnd() % 2 ? INT64_MAX : (int64_t)(rnd() % 64) - 30;
    size_t j = (size_t)(rnd() % m->nlog);
    for (size_t n = 0; n < m->nlog && m->log[j % m->nlog].key != k; n++)
        j++;
    return e_vtime(m, j % m->nlog, ctime) + (int64_t)(rnd() % 3) - 1;
}

/* Row r of builder b (the e schema) as a model row. */
static erow e_get_b(const strom_builder *b, int64_t r)
{
    erow e = {.present = 1};
    for (int c = 0; c < ENC; c++) {
        strom_column col;
        ecell *v = &e.v[c];
        fmt_builder_view(b, c, &col);
        assert_true(r < col.length);
        v->null = col.validity && !((col.validity[r >> 3] >> (r & 7)) & 1);
        if (v->null)
            continue;
        if (etypes[c] == STROM_DOUBLE) {
            v->f = ((const double *)col.values)[r];
        } else if (etypes[c] == STROM_STRING) {
            size_t n = (size_t)(col.offsets[r + 1] - col.offsets[r]);
            assert_true(n < sizeof v->s);
            memcpy(v->s, col.data + col.offsets[r], n);
        } else {
            v->i = etypes[c] == STROM_INT ? ((const int32_t *)col.values)[r]
                                          : ((const int64_t *)col.values)[r];
        }
    }
    return e;
}

/* AS OF lookups (single and batch) at random times against the model. */
static void e_check_asof(strom_table *t, const emodel *m, const int64_t *ctime)
{
    strom_schema *s = e_schema();
    strom_value keys[EK];
    int64_t times[EK];
    uint8_t found[EK];
    for (int round = 0; round < 6; round++) {
        strom_builder *b = strom_builder_create(s), *bb = strom_builder_create(s);
        for (int k = 0; k < EK; k++) {
            keys[k] = (strom_value){.type = STROM_INT, .v.i = k};
            times[k] = e_pick_time(m, k, ctime);
            int f = -1;
            CT_OK(strom_table_lookup_asof_into(t, &keys[k], 1, times[k], b, &f));
            const erow *want = e_asof(m, k, times[k], ctime);
            if (f != (want != NULL))
                fail_msg("key %d AS OF %lld: found %d, expected %d", k, (long long)times[k], f,
                         want != NULL);
        }
        CT_OK(strom_table_lookup_batch_asof_into(t, keys, 1, EK, times, found, bb));
        int64_t r = 0;
        for (int k = 0; k < EK; k++) {
            const erow *want = e_asof(m, k, times[k], ctime);
            assert_int_equal(found[k], want != NULL);
            if (!want)
                continue;
            erow x = e_get_b(b, r), y = e_get_b(bb, r++);
            e_same(&x, want);
            e_same(&y, want);
        }
        assert_int_equal(strom_builder_nrows(b), r);
        assert_int_equal(strom_builder_nrows(bb), r);
        strom_builder_destroy(b);
        strom_builder_destroy(bb);
    }
    strom_schema_destroy(s);
}

static void e_check(strom_table *t, const emodel *m)
{
    for (int k = 0; k < EK; k++) {
        strom_value key = {.type = STROM_INT, .v.i = k};
        strom_batch *b = NULL;
        CT_OK(strom_table_lookup(t, &key, 1, &b));
        if ((b != NULL) != m->rows[k].present)
            fail_msg("key %d: found %d, expected %d", k, b != NULL, m->rows[k].present);
        if (b) {
            erow got = e_get(b, 0);
            e_same(&got, &m->rows[k]);
        }
        strom_batch_destroy(b);
    }
    size_t *cursor = calloc(EK, sizeof *cursor), seen = 0;
    int64_t *ctime = calloc(m->nlog + 1, sizeof *ctime);
    for (int bk = 0; bk < strom_table_nbuckets(t); bk++) {
        strom_scan *sc;
        const strom_batch *b;
        CT_OK(strom_scan_open(t, bk, 0, NULL, &sc));
        while (strom_scan_next(sc, &b) == STROM_OK && b) {
            for (int64_t r = 0; r < strom_batch_nrows(b); r++, seen++) {
                erow got = e_get(b, r);
                int k = (int)got.v[0].i;
                size_t *c = &cursor[k];
                while (*c < m->nlog && m->log[*c].key != k)
                    (*c)++;
                assert_true(*c < m->nlog);
                assert_int_equal(strom_batch_row_change(b, r), m->log[*c].c);
                e_same(&got, &m->log[*c].row);
                ctime[*c] = strom_batch_commit_time(b);
                (*c)++;
            }
        }
        strom_scan_close(sc);
    }
    assert_int_equal(seen, m->nlog);
    free(cursor);
    e_check_asof(t, m, ctime);
    free(ctime);
}

/* One engine configuration: opts, the model's view of it, whether deletes are sent. */
static void e_run(const char *const *opts, emodel *m, int send_deletes)
{
    char *dir = ct_tmpdir();
    strom_db *db;
    strom_table *t;
    strom_schema *s = e_schema();
    CT_OK(strom_db_open(dir, &db));
    CT_OK(strom_table_create(db, "e", s, opts));
    CT_OK(strom_table_open(db, "e", &t));
    for (int w = 0; w < 60; w++)
        e_random_write(t, m, send_deletes);
    e_check(t, m);
    for (int round = 0; round < 2; round++) { /* reopen; rebuild from the log alone */
        strom_table_close(t);
        strom_db_close(db);
        for (int bk = 0; round == 1 && bk < 2; bk++) {
            char p[512];
            snprintf(p, sizeof p, "%s/default/e/kv-%d", dir, bk);
            assert_int_equal(strom_rmtree(p), 0);
        }
        CT_OK(strom_db_open(dir, &db));
        CT_OK(strom_table_open(db, "e", &t));
        if (m->idem)   /* a retry after reopening (round 1: after a rebuild from the log) */
            e_retry(t, m, round == 1);
        e_check(t, m);
        for (int w = 0; w < 20; w++) /* the engine and its functions survive the reopen */
            e_random_write(t, m, send_deletes);
        e_check(t, m);
    }
    strom_table_close(t);
    strom_db_close(db);
    strom_schema_destroy(s);
    strom_builder_destroy(m->last);
    free(m->log);
    ct_rmdir(dir);
}

static void test_pk_engine_first_row(void **state)
{
    emodel m = {.engine = 1};
    const char *o[] = {"table.merge-engine", "first_row", "bucket.num", "2", NULL};
    e_run(o, &m, 1);   /* deletes are sent and ignored (the default behaviour) */
}

static void test_pk_engine_versioned(void **state)
{
    emodel m = {.engine = 2};
    const char *o[] = {"table.merge-engine", "versioned", "bucket.num", "2",
                       "table.merge-engine.versioned.ver-column", "ver", NULL};
    e_run(o, &m, 1);
}

static void test_pk_engine_last_row(void **state)
{
    emodel m = {.engine = 0, .deletes = 1};
    const char *o[] = {"bucket.num", "2", NULL};
    e_run(o, &m, 1);
}

static void test_pk_engine_aggregation(void **state)
{
    /* every function twice over two tables, on numeric, string and timestamp columns */
    emodel m1 = {.engine = 3, .deletes = 1,
                 .fn = {0, EF_FIRST_NN, EF_SUM, EF_MAX, EF_COUNT, EF_LAST, EF_MIN}};
    const char *o1[] = {"table.merge-engine", "aggregation", "bucket.num", "2",
                        "table.delete.behavior", "allow", "fields.ver.agg",
                        "first_value_ignore_nulls", "fields.a.agg", "sum", "fields.b.agg",
                        "MAX", "fields.c.agg", "count", "fields.s.agg", "last_value",
                        "fields.ts.agg", "min", NULL};
    e_run(o1, &m1, 1);
    emodel m2 = {.engine = 3, .deletes = 0,
                 .fn = {0, EF_LAST_NN, EF_MIN, EF_SUM, EF_FIRST, EF_MAX, EF_NONE}};
    const char *o2[] = {"table.merge-engine", "aggregation", "bucket.num", "2",
                        "fields.ver.agg", "last_value_ignore_nulls", "fields.a.agg", "min",
                        "fields.b.agg", "sum", "fields.c.agg", "first_value", "fields.s.agg",
                        "max", NULL};
    e_run(o2, &m2, 1);  /* deletes sent, ignored by default */
}

/* Versions timed by a column (ts: -20..20 ms or NULL, so out of order and tied), one
 * bucket (the batch AS OF multi-get path), under last_row with deletes and versioned;
 * and commit-time versions in one bucket with partial updates. */
static void test_pk_asof_version_column(void **state)
{
    emodel m = {.engine = 0, .deletes = 1, .vcol = 1};
    const char *o[] = {"table.kv.version-column", "ts", "table.kv.history.ttl", "inf", NULL};
    e_run(o, &m, 1);
    emodel m2 = {.engine = 2, .vcol = 1};
    const char *o2[] = {"table.merge-engine", "versioned", "table.kv.history.ttl", "inf",
                        "table.merge-engine.versioned.ver-column", "ver",
                        "table.kv.version-column", "ts", NULL};
    e_run(o2, &m2, 1);
    emodel m3 = {.engine = 0, .deletes = 1, .partial = 1};
    const char *o3[] = {"bucket.num", "1", NULL};
    e_run(o3, &m3, 1);
}

static void test_pk_partial_last_row(void **state)
{
    emodel m = {.engine = 0, .deletes = 1, .partial = 1};
    const char *o[] = {"bucket.num", "2", NULL};
    e_run(o, &m, 1);
}

static void test_pk_partial_aggregation(void **state)
{
    emodel m = {.engine = 3, .deletes = 1, .partial = 1,
                .fn = {0, EF_LAST, EF_SUM, EF_MIN, EF_COUNT, EF_FIRST_NN, EF_NONE}};
    const char *o[] = {"table.merge-engine", "aggregation", "bucket.num", "2",
                       "table.delete.behavior", "allow", "fields.ver.agg", "last_value",
                       "fields.a.agg", "sum", "fields.b.agg", "min", "fields.c.agg", "count",
                       "fields.s.agg", "first_value_ignore_nulls", NULL};
    e_run(o, &m, 1);
}

/* Idempotent writes: every write retried 0-2 times, also after reopen and rebuild, under
 * aggregation (a replayed sum would show) and last_row with partial updates and deletes. */
static void test_pk_idempotent(void **state)
{
    emodel m1 = {.engine = 3, .deletes = 1, .partial = 1, .idem = 1,
                 .fn = {0, EF_LAST, EF_SUM, EF_MIN, EF_COUNT, EF_FIRST_NN, EF_NONE}};
    const char *o1[] = {"table.merge-engine", "aggregation", "bucket.num", "3",
                        "table.delete.behavior", "allow", "fields.ver.agg", "last_value",
                        "fields.a.agg", "sum", "fields.b.agg", "min", "fields.c.agg", "count",
                        "fields.s.agg", "first_value_ignore_nulls", NULL};
    e_run(o1, &m1, 1);
    emodel m2 = {.engine = 0, .deletes = 1, .partial = 1, .idem = 1};
    const char *o2[] = {"bucket.num", "2", NULL};
    e_run(o2, &m2, 1);
    emodel m3 = {.engine = 3, .deletes = 0, .idem = 1, .fn = {0, EF_SUM, EF_SUM, EF_SUM}};
    const char *o3[] = {"table.merge-engine", "aggregation", "fields.ver.agg", "sum",
                        "fields.a.agg", "sum", "fields.b.agg", "sum", NULL};
    e_run(o3, &m3, 1);   /* deletes ignored: not duplicates, nothing written */
}

static void test_pk_partial_bad_input(void **state)
{
    char *dir = ct_tmpdir();
    strom_db *db;
    strom_table *t;
    strom_schema *s = e_schema(), *nn = e_schema();
    CT_OK(strom_schema_add(nn, "must", STROM_INT, 1));   /* NOT NULL, not a key column */
    CT_OK(strom_db_open(dir, &db));
    CT_OK(strom_table_create(db, "p", s, NULL));
    CT_OK(strom_table_create(db, "nn", nn, NULL));
    const char *fr[] = {"table.merge-engine", "first_row", NULL};
    CT_OK(strom_table_create(db, "fr", s, fr));
    CT_OK(strom_table_open(db, "p", &t));
    strom_builder *b = strom_builder_create(s);
    erow r = {.present = 1};
    r.v[2].f = 2.5;
    r.v[5].null = 1;
    e_put(b, &r);
    const char *unknown[] = {"k", "a", "nope"}, *nokey[] = {"a"};
    CT_ERR(strom_table_upsert_partial(t, b, unknown, 3), STROM_ESCHEMA,
           "table p: partial upsert: no column 'nope'");
    CT_ERR(strom_table_upsert_partial(t, b, nokey, 1), STROM_ESCHEMA,
           "primary-key column 'k' must be among the columns");
    CT_ERR(strom_table_upsert_partial(t, b, NULL, 0), STROM_EINVAL, "no columns");
    strom_value key = {.type = STROM_INT, .v.i = 0};
    strom_batch *out = NULL;
    CT_OK(strom_table_lookup(t, &key, 1, &out));
    assert_null(out);   /* nothing written */
    strom_table_close(t);
    CT_OK(strom_table_open(db, "fr", &t));
    const char *ka[] = {"k", "a"};
    CT_ERR(strom_table_upsert_partial(t, b, ka, 2), STROM_EUNSUPPORTED,
           "first_row merge engine does not support partial updates");
    strom_table_close(t);
    CT_OK(strom_table_open(db, "nn", &t));
    strom_builder *nb = strom_builder_create(nn);
    CT_ERR(strom_table_upsert_partial(t, nb, ka, 2), STROM_ESCHEMA,
           "column 'must' is NOT NULL and not among the columns");
    strom_builder_destroy(nb);
    strom_table_close(t);
    strom_builder_destroy(b);
    strom_db_close(db);
    strom_schema_destroy(s);
    strom_schema_destroy(nn);
    ct_rmdir(dir);
}

static void test_pk_engine_options(void **state)
{
    char *dir = ct_tmpdir();
    strom_db *db;
    strom_table *t;
    strom_schema *s = e_schema();
    CT_OK(strom_db_open(dir, &db));
    const char *const bad[][9] = {
        {"table.merge-engine", "versioned", NULL},
        {"table.merge-engine", "versioned", "table.merge-engine.versioned.ver-column", "s", NULL},
        {"table.merge-engine", "versioned", "table.merge-engine.versioned.ver-column", "zz", NULL},
        {"table.merge-engine.versioned.ver-column", "ver", NULL},
        {"table.merge-engine", "first_row", "table.delete.behavior", "allow", NULL},
        {"table.merge-engine", "versioned", "table.merge-engine.versioned.ver-column", "ver",
         "table.delete.behavior", "allow", NULL},
        {"fields.a.agg", "sum", NULL},
        {"table.merge-engine", "aggregation", "fields.a.agg", "avg", NULL},
        {"table.merge-engine", "aggregation", "fields.zz.agg", "sum", NULL},
        {"table.merge-engine", "aggregation", "fields.k.agg", "sum", NULL},
        {"table.merge-engine", "aggregation", "fields.s.agg", "sum", NULL},
        {"table.merge-engine", "aggregation", "fields.a.agg", "count", NULL},
        {"table.merge-engine", "newest", NULL},
    };
    const char *needle[] = {"exactly one version column", "column 's' is STRING",
                            "zz", "applies only to table.merge-engine = versioned",
                            "first_row merge engine does not support deletes",
                            "versioned merge engine does not support deletes",
                            "needs table.merge-engine = aggregation",
                            "unknown aggregate function 'avg'", "no column 'zz'",
                            "part of the primary key", "sum does not apply to column 's'",
                            "count does not apply to column 'a'", "newest"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CT_ERR(strom_table_create(db, "x", s, bad[i]), STROM_EOPTION, needle[i]);

    /* defaults and the stored values */
    const char *agg[] = {"table.merge-engine", "Aggregation", "fields.a.agg", "SUM",
                         "fields.b.agg", "sum", NULL};
    CT_OK(strom_table_create(db, "ag", s, agg));
    CT_OK(strom_table_open(db, "ag", &t));
    assert_string_equal(strom_table_option(t, "table.merge-engine"), "aggregation");
    assert_string_equal(strom_table_option(t, "table.delete.behavior"), "ignore");
    assert_string_equal(strom_table_option(t, "fields.a.agg"), "sum");
    assert_string_equal(strom_table_option(t, "fields.c.agg"), "");
    assert_null(strom_table_option(t, "fields.nope.agg"));
    strom_builder *ob = strom_builder_create(s);   /* a sum that overflows: nothing written */
    erow big = {.present = 1};
    big.v[2].f = 1;
    big.v[3].i = INT64_MAX;
    e_put(ob, &big);
    CT_OK(strom_table_upsert(t, ob));
    big.v[0].i = 1;
    e_put(ob, &big);           /* key 1: a new row, fine; key 0: INT64_MAX + INT64_MAX */
    CT_ERR(strom_table_upsert(t, ob), STROM_ELIMIT, "column 'b': sum");
    strom_value k1 = {.type = STROM_INT, .v.i = 1};
    strom_batch *none = NULL;
    CT_OK(strom_table_lookup(t, &k1, 1, &none));
    assert_null(none);
    strom_builder_destroy(ob);
    strom_table_close(t);
    const char *ver[] = {"table.merge-engine", "versioned",
                         "table.merge-engine.versioned.ver-column", "ts",
                         "table.delete.behavior", "disable", NULL};
    CT_OK(strom_table_create(db, "vt", s, ver));
    CT_OK(strom_table_open(db, "vt", &t));
    strom_builder *b = strom_builder_create(s);
    erow r = {.present = 1};
    r.v[5].null = 1;
    r.v[6].i = 100;
    e_put(b, &r);
    CT_OK(strom_table_upsert(t, b));
    CT_ERR(strom_table_delete(t, b), STROM_EUNSUPPORTED, "deletes are disabled");
    strom_table_close(t);
    strom_db_close(db);  /* the options come back from table.meta */
    CT_OK(strom_db_open(dir, &db));
    CT_OK(strom_table_open(db, "ag", &t));
    assert_string_equal(strom_table_option(t, "fields.a.agg"), "sum");
    strom_table_close(t);
    CT_OK(strom_table_open(db, "vt", &t));
    assert_string_equal(strom_table_option(t, "table.merge-engine.versioned.ver-column"), "ts");
    strom_value key = {.type = STROM_INT, .v.i = 0};
    strom_batch *out = NULL;
    CT_OK(strom_table_lookup(t, &key, 1, &out));
    assert_non_null(out);
    strom_batch_destroy(out);
    strom_builder_destroy(b);
    strom_table_close(t);
    strom_db_close(db);
    strom_schema_destroy(s);
    ct_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pk_model),
        cmocka_unit_test(test_pk_bad_input),
        cmocka_unit_test(test_pk_meta_records),
        cmocka_unit_test(test_pk_engine_last_row),
        cmocka_unit_test(test_pk_engine_first_row),
        cmocka_unit_test(test_pk_engine_versioned),
        cmocka_unit_test(test_pk_engine_aggregation),
        cmocka_unit_test(test_pk_engine_options),
        cmocka_unit_test(test_pk_partial_last_row),
        cmocka_unit_test(test_pk_asof_version_column),
        cmocka_unit_test(test_pk_partial_aggregation),
        cmocka_unit_test(test_pk_partial_bad_input),
        cmocka_unit_test(test_pk_idempotent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
