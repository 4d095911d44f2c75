/* Predicates: fmt_pred_eval against a reference evaluation on the model's values, and
 * fmt_dir_may_match soundness (never 0 when a row matches) on random data, including
 * NaN, NULL constants, mixed int/float comparisons and truncated string maxima; plus
 * fmt_batch_compact and the row accessors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model.h"

static int ref_cmp_op(int cmp, strom_op op)
{
    switch (op) {
    case STROM_OP_EQ: return cmp == 0;
    case STROM_OP_NE: return cmp != 0;
    case STROM_OP_LT: return cmp < 0;
    case STROM_OP_LE: return cmp <= 0;
    case STROM_OP_GT: return cmp > 0;
    default: return cmp >= 0;
    }
}

static int ref_dbl_op(double a, double b, strom_op op)
{
    switch (op) {
    case STROM_OP_EQ: return a == b;
    case STROM_OP_NE: return a != b;
    case STROM_OP_LT: return a < b;
    case STROM_OP_LE: return a <= b;
    case STROM_OP_GT: return a > b;
    default: return a >= b;
    }
}

static int ref_match(const mcol *mc, int64_t r, const strom_value *v, strom_op op)
{
    if (mc->isnull[r] || v->is_null)
        return 0;
    int cvar = fmt_type_is_var(mc->type), vvar = fmt_type_is_var(v->type);
    if (cvar != vvar)
        return 0;
    if (cvar)
        return ref_cmp_op(ref_strcmp(mc->s[r], mc->slen[r], v->v.s.ptr, v->v.s.len), op);
    if (fmt_type_is_int(mc->type) && fmt_type_is_int(v->type))
        return ref_cmp_op((mc->i[r] > v->v.i) - (mc->i[r] < v->v.i), op);
    double a = fmt_type_is_float(mc->type) ? mc->d[r] : (double)mc->i[r];
    double b = fmt_type_is_float(v->type) ? v->v.d : (double)v->v.i;
    return ref_dbl_op(a, b, op);
}

/* A constant for column mc: often a value of the column, sometimes mutated. */
static strom_value pick_value(const mcol *mc, int64_t nrows, char *buf)
{
    int64_t r = (int64_t)rndn((uint64_t)nrows);
    strom_value v = {.type = mc->type};
    int k = (int)rndn(10);
    if (k == 0)
        v.is_null = 1;
    else if (fmt_type_is_int(mc->type)) {
        v.v.i = (int64_t)((uint64_t)mc->i[r] + (uint64_t)(k == 1 ? -1 : k == 2 ? 1 : 0));
        if (k == 3) v.type = STROM_DOUBLE, v.v.d = (double)mc->i[r] + 0.5;
    } else if (fmt_type_is_float(mc->type)) {
        v.v.d = k == 1 ? NAN : k == 2 ? nextafter(mc->d[r], 1e300) : mc->d[r];
        if (k == 3) v.type = STROM_BIGINT, v.v.i = (int64_t)rndn(2000) - 1000;
    } else {
        size_t n = mc->slen[r];
        memcpy(buf, mc->s[r] ? mc->s[r] : "", n);
        if (k == 1 && n) n = rndn(n);                  /* a prefix */
        if (k == 2) buf[n++] = (char)rnd();            /* extended */
        if (k == 3 && n) buf[rndn(n)] ^= 1;            /* perturbed */
        v.v.s.ptr = buf;
        v.v.s.len = n;
    }
    return v;
}

static void test_pred_random(void **state)
{
    (void)state;
    fmt_encoder *e = fmt_encoder_create();
    fmt_decoder *dec = fmt_decoder_create();
    strom_batch *bt = fmt_batch_create(16);
    static fmt_dir dirs[16];
    char buf[256];
    for (int it = 0; it < 60; it++) {
        int64_t nrows = 1 + (int64_t)rndn(it % 3 ? 40 : 600);
        model *m = model_new(16, nrows, -1);
        fmt_encode_opts o;
        fmt_encode_opts_init(&o);
        strom_buf out = {0};
        fmt_hdr h;
        assert_int_equal(fmt_encode(e, m->b, NULL, 0, &o, &out), STROM_OK);
        assert_int_equal(fmt_batch_verify(out.data, out.len, &h, dirs), STROM_OK);
        fmt_batch_reset(bt, &h, 16);
        uint8_t *keep = malloc((size_t)nrows);
        for (int c = 0; c < 16; c++) {
            assert_int_equal(fmt_decode_column(dec, &dirs[c], out.data + dirs[c].data_offset,
                                               h.nrows, bt, "x", &bt->cols[c]), STROM_OK);
            for (int q = 0; q < 30; q++) {
                fmt_pred p = {.col = c, .op = (strom_op)rndn(6)};
                p.value = pick_value(&m->c[c], nrows, buf);
                memset(keep, 1, (size_t)nrows);
                fmt_pred_eval(&bt->cols[c], &p, keep);
                int any = 0;
                for (int64_t r = 0; r < nrows; r++) {
                    int want = ref_match(&m->c[c], r, &p.value, p.op);
                    assert_int_equal(keep[r], want);
                    any |= want;
                }
                if (any)
                    assert_true(fmt_dir_may_match(&dirs[c], &p));
                if (p.value.is_null)
                    assert_false(fmt_dir_may_match(&dirs[c], &p));
            }
        }
        free(keep);
        strom_buf_free(&out);
        model_free(m);
    }
    strom_batch_destroy(bt);
    fmt_encoder_destroy(e);
    fmt_decoder_destroy(dec);
}

/* Exclusion is not vacuous: a range outside [min, max] is excluded. */
static void test_may_match_excludes(void **state)
{
    (void)state;
    fmt_dir d = {.type = STROM_BIGINT, .flags = FMT_F_STATS, .min = 10, .max = 20};
    fmt_pred p = {.op = STROM_OP_GT, .value = {.type = STROM_BIGINT, .v.i = 20}};
    assert_false(fmt_dir_may_match(&d, &p));
    p.op = STROM_OP_GE;
    assert_true(fmt_dir_may_match(&d, &p));
    p.op = STROM_OP_LT, p.value.v.i = 10;
    assert_false(fmt_dir_may_match(&d, &p));
    p.op = STROM_OP_EQ, p.value.v.i = 15;
    assert_true(fmt_dir_may_match(&d, &p));
    d.min = d.max = 15, p.op = STROM_OP_NE;
    assert_false(fmt_dir_may_match(&d, &p));
    fmt_dir all_null = {.type = STROM_BIGINT, .null_count = 5};
    assert_false(fmt_dir_may_match(&all_null, &p));
    /* truncated max "aaa..." (64 bytes): "aab" is above every value, "aaaz" may not be */
    char pre[FMT_STAT_STR_MAX];
    memset(pre, 'a', sizeof pre);
    fmt_dir s = {.type = STROM_STRING, .flags = FMT_F_STATS | FMT_F_MAX_TRUNC,
                 .smin = (const uint8_t *)"a", .smin_len = 1, .smax = (const uint8_t *)pre,
                 .smax_len = FMT_STAT_STR_MAX};
    fmt_pred ps = {.op = STROM_OP_GE, .value = {.type = STROM_STRING, .v.s = {"aab", 3}}};
    assert_false(fmt_dir_may_match(&s, &ps));
    char longer[FMT_STAT_STR_MAX + 1];
    memset(longer, 'a', sizeof longer);
    longer[FMT_STAT_STR_MAX] = 'z';
    ps.value.v.s.ptr = longer, ps.value.v.s.len = sizeof longer;
    assert_true(fmt_dir_may_match(&s, &ps));
}

static void test_compact(void **state)
{
    (void)state;
    model *m = model_new(16, 300, -1);
    fmt_encoder *e = fmt_encoder_create();
    fmt_decoder *dec = fmt_decoder_create();
    strom_batch *bt = fmt_batch_create(2);
    static fmt_dir dirs[16];
    fmt_encode_opts o;
    fmt_encode_opts_init(&o);
    o.time_col = 7;
    strom_buf out = {0};
    fmt_hdr h;
    assert_int_equal(fmt_encode(e, m->b, NULL, 0, &o, &out), STROM_OK);
    fmt_batch_stamp(out.data, 500, 42);
    assert_int_equal(fmt_batch_verify(out.data, out.len, &h, dirs), STROM_OK);
    fmt_batch_reset(bt, &h, 16);
    for (int c = 0; c < 16; c++)
        assert_int_equal(fmt_decode_column(dec, &dirs[c], out.data + dirs[c].data_offset,
                                           h.nrows, bt, "x", &bt->cols[c]), STROM_OK);
    assert_int_equal(fmt_batch_set_rows(bt, &h, &bt->cols[7]), STROM_OK);
    uint8_t keep[300];
    int64_t kept[300], nk = 0;
    for (int r = 0; r < 300; r++)
        if ((keep[r] = rndn(3) == 0))
            kept[nk++] = r;
    assert_int_equal(fmt_batch_compact(bt, keep), STROM_OK);
    assert_int_equal(strom_batch_nrows(bt), nk);
    for (int64_t k = 0; k < nk; k++) {
        assert_int_equal(strom_batch_row_offset(bt, k), 500 + kept[k]);
        assert_int_equal(strom_batch_row_time(bt, k), m->c[7].isnull[kept[k]] ? INT64_MIN : m->c[7].i[kept[k]]);
        for (int c = 0; c < 16; c++)
            assert_true(cell_equal(m, c, &bt->cols[c], k, kept[k]));
    }
    assert_int_equal(strom_batch_commit_time(bt), 42);
    assert_int_equal(strom_batch_row_change(bt, 0), STROM_APPEND);
    strom_buf_free(&out);
    strom_batch_destroy(bt);
    fmt_encoder_destroy(e);
    fmt_decoder_destroy(dec);
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pred_random),
        cmocka_unit_test(test_may_match_excludes),
        cmocka_unit_test(test_compact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
