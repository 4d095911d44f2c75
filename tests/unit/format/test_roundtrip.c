/* Round trips of random batches through fmt_encode / fmt_batch_verify /
 * fmt_decode_column: every type, NULLs, every codec, plain_only on/off, row selections;
 * statistics and time bounds against a reference computed from the model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model.h"

typedef struct decoded {
    fmt_hdr h;
    fmt_dir dirs[FMT_MAX_COLUMNS];
    strom_batch *b;
} decoded;

static void decode_all(const uint8_t *p, size_t len, decoded *d, fmt_decoder *dec)
{
    strom_err err = fmt_batch_verify(p, len, &d->h, d->dirs);
    if (err)
        fprintf(stderr, "verify: %s\n", strom_errmsg());
    assert_int_equal(err, STROM_OK);
    assert_int_equal(fmt_batch_reset(d->b, &d->h, d->h.ncols), STROM_OK);
    for (int c = 0; c < d->h.ncols; c++) {
        err = fmt_decode_column(dec, &d->dirs[c], p + d->dirs[c].data_offset, d->h.nrows, d->b,
                                "x", &d->b->cols[c]);
        if (err)
            fprintf(stderr, "decode: %s\n", strom_errmsg());
        assert_int_equal(err, STROM_OK);
    }
}

/* Expected statistics of column col over rows sel[0..n), checked against dir d. */
static void check_stats(const model *m, int col, const uint32_t *sel, size_t n, const fmt_dir *d)
{
    const mcol *mc = &m->c[col];
    uint32_t nulls = 0;
    int any = 0, nan = 0;
    int64_t imin = 0, imax = 0;
    double dmin = 0, dmax = 0;
    size_t smin = 0, smax = 0;
    for (size_t k = 0; k < n; k++) {
        size_t r = sel ? sel[k] : k;
        if (mc->isnull[r]) { nulls++; continue; }
        if (fmt_type_is_float(mc->type) && isnan(mc->d[r])) { nan = 1; continue; }
        if (!any) { imin = imax = mc->i[r]; dmin = dmax = mc->d[r]; smin = smax = r; any = 1; continue; }
        if (mc->i[r] < imin) imin = mc->i[r];
        if (mc->i[r] > imax) imax = mc->i[r];
        if (mc->d[r] < dmin) dmin = mc->d[r];
        if (mc->d[r] > dmax) dmax = mc->d[r];
        if (!fmt_type_is_var(mc->type)) continue;
        if (ref_strcmp(mc->s[r], mc->slen[r], mc->s[smin], mc->slen[smin]) < 0) smin = r;
        if (ref_strcmp(mc->s[r], mc->slen[r], mc->s[smax], mc->slen[smax]) > 0) smax = r;
    }
    assert_int_equal(d->null_count, nulls);
    assert_int_equal(!!(d->flags & FMT_F_STATS), any);
    if (fmt_type_is_float(mc->type))
        assert_int_equal(!!(d->flags & FMT_F_NAN), nan);
    if (!any)
        return;
    if (fmt_type_is_int(mc->type)) {
        assert_int_equal((int64_t)d->min, imin);
        assert_int_equal((int64_t)d->max, imax);
    } else if (fmt_type_is_float(mc->type)) {
        double a, b;
        memcpy(&a, &d->min, 8);
        memcpy(&b, &d->max, 8);
        assert_true(a == dmin && b == dmax);
    } else {
        size_t l1 = STROM_MIN(mc->slen[smin], (size_t)FMT_STAT_STR_MAX);
        size_t l2 = STROM_MIN(mc->slen[smax], (size_t)FMT_STAT_STR_MAX);
        assert_int_equal(d->smin_len, l1);
        assert_int_equal(d->smax_len, l2);
        assert_memory_equal(d->smin, mc->s[smin], l1);
        assert_memory_equal(d->smax, mc->s[smax], l2);
        assert_int_equal(!!(d->flags & FMT_F_MAX_TRUNC), mc->slen[smax] > FMT_STAT_STR_MAX);
    }
}

/* Any selected non-NULL NaN, infinity or -0.0 (DECIMAL must not be used then). */
static int has_special(const mcol *mc, const uint32_t *sel, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        size_t r = sel ? sel[k] : k;
        if (!mc->isnull[r] && (!isfinite(mc->d[r]) || (mc->d[r] == 0 && signbit(mc->d[r]))))
            return 1;
    }
    return 0;
}

static void check_case(model *m, codec_case cs, int plain_only, const uint32_t *sel, size_t nsel,
                       fmt_encoder *e, fmt_decoder *dec, decoded *d)
{
    fmt_encode_opts o;
    fmt_encode_opts_init(&o);
    o.codec = cs.codec;
    o.block_size = cs.block;
    o.plain_only = plain_only;
    int codec = cs.codec;
    o.time_col = 7; /* c7 is TIMESTAMP */
    strom_buf out = {0};
    assert_int_equal(fmt_encode(e, m->b, sel, nsel, &o, &out), STROM_OK);
    decode_all(out.data, out.len, d, dec);
    size_t n = sel ? nsel : (size_t)m->nrows;
    assert_int_equal(d->h.nrows, n);
    uint64_t arrow = 0;
    for (int c = 0; c < m->ncols; c++) {
        for (size_t k = 0; k < n; k++)
            if (!cell_equal(m, c, &d->b->cols[c], (int64_t)k, sel ? sel[k] : (int64_t)k)) {
                fprintf(stderr, "col %d type %d profile %d enc %d codec %d row %zu of %zu\n", c,
                        m->c[c].type, m->c[c].profile, d->dirs[c].encoding, codec, k, n);
                const strom_column *cc = &d->b->cols[c];
                size_t r = sel ? sel[k] : k;
                fprintf(stderr, "got %.9s want %.9s nulls %d sel %d\n", cc->data + cc->offsets[k], m->c[c].s[r], (int)cc->null_count, sel != NULL);
                for (size_t q = 0; q < n; q++) fprintf(stderr, "%u:%d ", sel ? sel[q] : (unsigned)q, m->c[c].isnull[sel ? sel[q] : q]);
                fprintf(stderr, "null %d model null %d len %d/%zu\n", cc->validity ? !((cc->validity[k>>3]>>(k&7))&1) : 0, m->c[c].isnull[r], cc->offsets[k+1]-cc->offsets[k], m->c[c].slen[r]);
                fail();
            }
        check_stats(m, c, sel, n, &d->dirs[c]);
        arrow += fmt_column_bytes(&d->b->cols[c]) -
                 (d->b->cols[c].validity && !d->dirs[c].null_count ? (n + 7) / 8 : 0);
        if (plain_only)
            assert_int_equal(d->dirs[c].encoding, FMT_ENC_PLAIN);
        if (fmt_type_is_float(m->c[c].type) && has_special(&m->c[c], sel, n))
            assert_int_not_equal(d->dirs[c].encoding, FMT_ENC_DECIMAL);
    }
    assert_int_equal(d->h.arrow_size, arrow);
    const fmt_dir *t = &d->dirs[7];
    assert_int_equal(d->h.min_time, t->flags & FMT_F_STATS ? (int64_t)t->min : INT64_MIN);
    strom_buf_free(&out);
}

static void test_roundtrip_random(void **state)
{
    (void)state;
    static const int64_t sizes[] = {1, 2, 7, 9, 100, 1000, 4097};
    fmt_encoder *e = fmt_encoder_create();
    fmt_decoder *dec = fmt_decoder_create();
    decoded *d = calloc(1, sizeof *d);
    d->b = fmt_batch_create(1);
    for (int it = 0; it < 40; it++) {
        int64_t nrows = sizes[it % 7];
        model *m = model_new(16, nrows, it < 6 ? it : -1);
        size_t nsel = 1 + rndn((uint64_t)nrows * 2);
        uint32_t *sel = malloc(nsel * 4);
        for (size_t k = 0; k < nsel; k++)
            sel[k] = (uint32_t)rndn((uint64_t)nrows);
        for (int k = 0; k < NCODEC_CASES; k++)
            for (int po = 0; po < 2; po++) {
                check_case(m, codec_cases[k], po, NULL, 0, e, dec, d);
                check_case(m, codec_cases[k], po, sel, nsel, e, dec, d);
            }
        free(sel);
        model_free(m);
    }
    strom_batch_destroy(d->b);
    free(d);
    fmt_encoder_destroy(e);
    fmt_decoder_destroy(dec);
}

/* Encodings are chosen where they pay: FOR, DELTA, DECIMAL, DICT. */
static void test_encodings_chosen(void **state)
{
    (void)state;
    fmt_encoder *e = fmt_encoder_create();
    strom_schema *s = strom_schema_create();
    strom_schema_add(s, "small", STROM_BIGINT, 1);
    strom_schema_add(s, "ts", STROM_TIMESTAMP, 1);
    strom_schema_add(s, "kv", STROM_DOUBLE, 1);
    strom_schema_add(s, "dev", STROM_STRING, 1);
    strom_schema_add(s, "nan", STROM_DOUBLE, 1);
    strom_builder *b = strom_builder_create(s);
    for (int r = 0; r < 1000; r++) {
        char dev[16];
        snprintf(dev, sizeof dev, "dev%d", r % 10);
        strom_builder_put_int(b, 0, 500 + (r * 7919) % 200);
        strom_builder_put_int(b, 1, 1700000000000LL + r * 100000 + r % 3);
        strom_builder_put_f64(b, 2, 10.0 + (r % 50) * 0.001);
        strom_builder_put_str(b, 3, dev, strlen(dev));
        strom_builder_put_f64(b, 4, r == 5 ? -0.0 : r * 0.5);
        assert_int_equal(strom_builder_end_row(b), STROM_OK);
    }
    fmt_encode_opts o;
    fmt_encode_opts_init(&o);
    strom_buf out = {0};
    assert_int_equal(fmt_encode(e, b, NULL, 0, &o, &out), STROM_OK);
    fmt_hdr h;
    fmt_dir dirs[5];
    assert_int_equal(fmt_batch_verify(out.data, out.len, &h, dirs), STROM_OK);
    assert_int_equal(dirs[0].encoding, FMT_ENC_FOR);
    assert_int_equal(dirs[1].encoding, FMT_ENC_DELTA);
    assert_int_equal(dirs[2].encoding, FMT_ENC_DECIMAL);
    assert_int_equal(dirs[3].encoding, FMT_ENC_DICT);
    assert_int_equal(dirs[4].encoding, FMT_ENC_PLAIN); /* -0.0 forbids DECIMAL */
    assert_int_equal(h.attributes, FMT_ATTR_COMMIT_TIME);
    strom_buf_free(&out);
    strom_builder_destroy(b);
    strom_schema_destroy(s);
    fmt_encoder_destroy(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_random),
        cmocka_unit_test(test_encodings_chosen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
