/* logtest.h: helpers for the src/log tests: a telemetry schema, a reference copy of every
 * appended row (indexed by offset), batch building, and brute-force answers. Header-only. */
#ifndef STROM_TEST_LOGTEST_H
#define STROM_TEST_LOGTEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include "log/log_int.h"

/* Columns: 0 dev STRING NOT NULL, 1 ts TIMESTAMP NOT NULL, 2 v DOUBLE, 3 i BIGINT (nulls),
 * 4 flag BOOLEAN, [5 extra INT, only in the evolved schema]. */
typedef struct trow {
    char dev[16];
    int64_t ts;
    double v;
    int64_t i;
    int inull, flag;
    int has_extra;
    int32_t extra;
} trow;

typedef struct tref {
    trow *rows;
    int64_t n, cap;
} tref;

static uint64_t lt_rng = 0x9E3779B97F4A7C15ull;
static inline uint64_t lt_rnd(void)
{
    lt_rng ^= lt_rng << 13;
    lt_rng ^= lt_rng >> 7;
    lt_rng ^= lt_rng << 17;
    return lt_rng;
}

static __attribute__((unused)) strom_schema *lt_schema(int extra)
{
    strom_schema *s = strom_schema_create();
    assert_int_equal(strom_schema_add(s, "dev", STROM_STRING, 1), STROM_OK);
    assert_int_equal(strom_schema_add(s, "ts", STROM_TIMESTAMP, 1), STROM_OK);
    assert_int_equal(strom_schema_add(s, "v", STROM_DOUBLE, 0), STROM_OK);
    assert_int_equal(strom_schema_add(s, "i", STROM_BIGINT, 0), STROM_OK);
    assert_int_equal(strom_schema_add(s, "flag", STROM_BOOLEAN, 0), STROM_OK);
    if (extra)
        assert_int_equal(strom_schema_add(s, "extra", STROM_INT, 0), STROM_OK);
    fmt_schema_set_id(s, extra ? 2 : 1);
    return s;
}

static __attribute__((unused)) void lt_tmpdir(char *out, size_t cap, const char *tag)
{
    snprintf(out, cap, "/tmp/strom_logtest_%s_%d", tag, (int)getpid());
    strom_rmtree(out);
}

static __attribute__((unused)) void lt_cfg(log_config *c, int keyed)
{
    log_config_init(c);
    c->name = "table 't' bucket 0";
    c->time_col = 1;
    c->index_interval_bytes = 1024;
    if (keyed) {
        c->key_cols[0] = 0;
        c->nkey_cols = 1;
    }
}

/* Random rows: ndev devices, times around t0 with late arrivals. */
static __attribute__((unused)) void lt_gen(trow *r, int n, int ndev, int64_t t0, int extra)
{
    for (int k = 0; k < n; k++) {
        memset(&r[k], 0, sizeof r[k]);
        snprintf(r[k].dev, sizeof r[k].dev, "dev%03d", (int)(lt_rnd() % (uint64_t)ndev));
        r[k].ts = t0 + k * 10 - (lt_rnd() % 8 == 0 ? (int64_t)(lt_rnd() % 100000) : 0);
        r[k].v = (double)(lt_rnd() % 100000) / 100.0;
        r[k].inull = lt_rnd() % 5 == 0;
        r[k].i = (int64_t)(lt_rnd() % 1000) - 500;
        r[k].flag = (int)(lt_rnd() & 1);
        r[k].has_extra = extra;
        r[k].extra = (int32_t)(lt_rnd() % 50);
    }
}

/* Raw bytes per block of the chunks lt_encode writes (tests set small blocks to exercise
 * the blocked chunk layout). */
static uint32_t lt_block_size __attribute__((unused)) = FMT_BLOCK_SIZE;

/* Encodes rows into out (cleared first). */
static __attribute__((unused)) void lt_encode(const strom_schema *s, const trow *r, int n, int codec, strom_buf *out)
{
    strom_builder *b = strom_builder_create(s);
    for (int k = 0; k < n; k++) {
        assert_int_equal(strom_builder_put_str(b, 0, r[k].dev, strlen(r[k].dev)), STROM_OK);
        assert_int_equal(strom_builder_put_int(b, 1, r[k].ts), STROM_OK);
        assert_int_equal(strom_builder_put_f64(b, 2, r[k].v), STROM_OK);
        if (r[k].inull)
            assert_int_equal(strom_builder_put_null(b, 3), STROM_OK);
        else
            assert_int_equal(strom_builder_put_int(b, 3, r[k].i), STROM_OK);
        assert_int_equal(strom_builder_put_int(b, 4, r[k].flag), STROM_OK);
        if (s->ncols > 5)
            assert_int_equal(strom_builder_put_int(b, 5, r[k].extra), STROM_OK);
        assert_int_equal(strom_builder_end_row(b), STROM_OK);
    }
    fmt_encoder *e = fmt_encoder_create();
    fmt_encode_opts o;
    fmt_encode_opts_init(&o);
    o.codec = codec;
    o.time_col = 1;
    o.block_size = lt_block_size;
    strom_buf_clear(out);
    assert_int_equal(fmt_encode(e, b, NULL, 0, &o, out), STROM_OK);
    fmt_encoder_destroy(e);
    strom_builder_destroy(b);
}

static __attribute__((unused)) void lt_ref_add(tref *ref, const trow *r, int n)
{
    if (ref->n + n > ref->cap) {
        ref->cap = (ref->n + n) * 2;
        ref->rows = realloc(ref->rows, (size_t)ref->cap * sizeof *ref->rows);
    }
    memcpy(ref->rows + ref->n, r, (size_t)n * sizeof *r);
    ref->n += n;
}

/* Appends one random batch of n rows and records it; returns its base offset. */
static __attribute__((unused)) int64_t lt_append(log_bucket *b, const strom_schema *s, tref *ref, int n, int ndev,
                         int64_t t0)
{
    trow *r = calloc((size_t)n, sizeof *r);
    strom_buf buf = {0};
    lt_gen(r, n, ndev, t0, s->ncols > 5);
    lt_encode(s, r, n, (int)(lt_rnd() % 3), &buf);
    int64_t base = -1;
    strom_err e = log_bucket_append(b, buf.data, buf.len, &base);
    if (e != STROM_OK)
        fprintf(stderr, "append: %s\n", strom_errmsg());
    assert_int_equal(e, STROM_OK);
    assert_true(base == ref->n);
    lt_ref_add(ref, r, n);
    free(r);
    strom_buf_free(&buf);
    return base;
}

static __attribute__((unused)) int lt_bit(const uint8_t *bm, int64_t r) { return bm[r >> 3] >> (r & 7) & 1; }

/* Checks cell (row r of column c, schema column sc) against the reference row. */
static __attribute__((unused)) void lt_check_cell(const strom_column *c, int sc, int64_t r, const trow *w)
{
    int valid = !c->validity || lt_bit(c->validity, r);
    switch (sc) {
    case 0: {
        size_t len = (size_t)(c->offsets[r + 1] - c->offsets[r]);
        assert_int_equal(len, strlen(w->dev));
        assert_memory_equal(c->data + c->offsets[r], w->dev, len);
        break;
    }
    case 1: assert_true(((const int64_t *)c->values)[r] == w->ts); break;
    case 2: assert_true(((const double *)c->values)[r] == w->v); break;
    case 3:
        assert_int_equal(!valid, w->inull);
        if (valid)
            assert_true(((const int64_t *)c->values)[r] == w->i);
        break;
    case 4: assert_int_equal(lt_bit(c->values, r), w->flag); break;
    case 5:
        assert_int_equal(valid, w->has_extra);
        if (valid)
            assert_int_equal(((const int32_t *)c->values)[r], w->extra);
        break;
    }
}

static __attribute__((unused)) int64_t lt_row_off(const strom_batch *b, int64_t r)
{
    return b->row_offsets ? b->row_offsets[r] : b->base_offset + r;
}

/* Reads everything from offset with spec; checks each row against ref; returns the rows
 * seen, their offsets in *offs (malloc'd, may be NULL). */
static __attribute__((unused)) int64_t lt_read_all(log_bucket *b, int64_t from, const log_read_spec *spec,
                           const tref *ref, int64_t **offs)
{
    log_reader *r = NULL;
    assert_int_equal(log_reader_open(b, from, spec, &r), STROM_OK);
    int64_t n = 0, cap = 0;
    int64_t *o = NULL;
    const strom_batch *bt;
    for (;;) {
        strom_err e = log_reader_next(r, &bt);
        if (e != STROM_OK)
            fprintf(stderr, "read: %s\n", strom_errmsg());
        assert_int_equal(e, STROM_OK);
        if (!bt)
            break;
        for (int64_t k = 0; k < bt->nrows; k++) {
            int64_t off = lt_row_off(bt, k);
            assert_true(off >= 0 && off < ref->n);
            const trow *w = &ref->rows[off];
            assert_true(bt->row_times && bt->row_times[k] == w->ts);
            for (int j = 0; j < bt->ncols; j++)
                lt_check_cell(&bt->cols[j], spec->proj ? spec->proj[j] : j, k, w);
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                o = realloc(o, (size_t)cap * sizeof *o);
            }
            o[n++] = off;
        }
    }
    log_reader_close(r);
    if (offs)
        *offs = o;
    else
        free(o);
    return n;
}

static __attribute__((unused)) void lt_spec(log_read_spec *sp, const strom_schema *s)
{
    memset(sp, 0, sizeof *sp);
    sp->schema = s;
    sp->time_min = INT64_MIN;
    sp->time_max = INT64_MAX;
}

#endif
