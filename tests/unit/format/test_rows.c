/* fmt_decode_rows: decoding only chosen rows of a chunk must give exactly the model's values
 * for those rows, for every type, encoding profile (FOR, DELTA, DECIMAL, DICT, PLAIN via the
 * profiles of model.h), codec and NULL density; rows may repeat and come in any order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model.h"

static void check_rows(model *m, codec_case cc, fmt_encoder *e, fmt_decoder *dec)
{
    fmt_encode_opts o;
    fmt_encode_opts_init(&o);
    o.codec = cc.codec;
    o.block_size = cc.block;
    int codec = cc.codec;
    strom_buf out = {0};
    assert_int_equal(fmt_encode(e, m->b, NULL, 0, &o, &out), STROM_OK);
    fmt_hdr h;
    fmt_dir *dirs = calloc(FMT_MAX_COLUMNS, sizeof *dirs);
    assert_int_equal(fmt_batch_verify(out.data, out.len, &h, dirs), STROM_OK);
    strom_batch *b = fmt_batch_create(m->ncols);
    assert_int_equal(fmt_batch_reset(b, &h, m->ncols), STROM_OK);
    uint32_t rows[64];
    uint32_t nsel = 1 + (uint32_t)rndn(63);
    for (uint32_t i = 0; i < nsel; i++) /* random order, repeats allowed */
        rows[i] = (uint32_t)rndn((uint64_t)m->nrows);
    for (int c = 0; c < m->ncols; c++) {
        strom_column col;
        const fmt_dir *d = &dirs[c];
        strom_err err = fmt_decode_rows(dec, d, out.data + d->data_offset, h.nrows, rows, nsel, b,
                                        "c", &col);
        assert_int_equal(err, STROM_OK);
        assert_int_equal(col.length, nsel);
        int64_t nulls = 0;
        for (uint32_t i = 0; i < nsel; i++) {
            nulls += m->c[c].isnull[rows[i]];
            if (!cell_equal(m, c, &col, i, rows[i]))
                fail_msg("column %d (%s, encoding %d, codec %d): row %u differs", c,
                         strom_type_name(col.type), d->encoding, codec, rows[i]);
        }
        assert_int_equal(col.null_count, nulls);
    }
    uint32_t bad = h.nrows;
    strom_column col;
    assert_int_equal(fmt_decode_rows(dec, &dirs[0], out.data + dirs[0].data_offset, h.nrows, &bad, 1,
                                     b, "c", &col), STROM_EINVAL);
    strom_batch_destroy(b);
    free(dirs);
    strom_buf_free(&out);
}

static void test_decode_rows_matches_model(void **state)
{
    (void)state;
    fmt_encoder *e = fmt_encoder_create();
    fmt_decoder *dec = fmt_decoder_create();
    for (int it = 0; it < 90; it++) {
        model *m = model_new(16, 1 + (int64_t)rndn(3000), it < P_NPROFILES ? it : -1);
        check_rows(m, codec_cases[it % NCODEC_CASES], e, dec);
        model_free(m);
    }
    fmt_decoder_destroy(dec);
    fmt_encoder_destroy(e);
}

/* Series whose deltas drift but whose delta-of-deltas stay small must be stored as DOD and
 * read back exactly (also across 2^64 wrap-around). */
static void test_delta_of_delta(void **state)
{
    (void)state;
    strom_schema *s = strom_schema_create();
    strom_schema_add(s, "energy", STROM_BIGINT, 1);   /* consumption rising: r*r + 7r */
    strom_schema_add(s, "t", STROM_TIMESTAMP, 1);      /* sampling slowing down, jitter 0..1 */
    strom_schema_add(s, "wrap", STROM_BIGINT, 1);      /* crosses INT64_MAX */
    strom_builder *b = strom_builder_create(s);
    enum { N = 3000 };
    int64_t ref[3][N];
    for (int64_t r = 0; r < N; r++) {
        ref[0][r] = r * r + 7 * r;
        ref[1][r] = 1736776800000 + r * 20 + r * r / 4 + (int64_t)rndn(2);
        ref[2][r] = (int64_t)((uint64_t)INT64_MAX - 4000000 + (uint64_t)(r * r));
        for (int c = 0; c < 3; c++)
            assert_int_equal(strom_builder_put_int(b, c, ref[c][r]), STROM_OK);
        assert_int_equal(strom_builder_end_row(b), STROM_OK);
    }
    fmt_encoder *e = fmt_encoder_create();
    fmt_decoder *dec = fmt_decoder_create();
    fmt_encode_opts o;
    fmt_encode_opts_init(&o);
    strom_buf out = {0};
    assert_int_equal(fmt_encode(e, b, NULL, 0, &o, &out), STROM_OK);
    fmt_hdr h;
    fmt_dir dirs[3];
    assert_int_equal(fmt_batch_verify(out.data, out.len, &h, dirs), STROM_OK);
    strom_batch *bt = fmt_batch_create(3);
    assert_int_equal(fmt_batch_reset(bt, &h, 3), STROM_OK);
    for (int c = 0; c < 3; c++) {
        if (dirs[c].encoding != FMT_ENC_DOD)
            fail_msg("column %d stored with encoding %d, not DOD", c, dirs[c].encoding);
        strom_column col;
        assert_int_equal(fmt_decode_column(dec, &dirs[c], out.data + dirs[c].data_offset, N, bt,
                                           "x", &col), STROM_OK);
        assert_memory_equal(col.values, ref[c], sizeof ref[c]);
        uint32_t rows[3] = {N - 1, 0, 1234};
        assert_int_equal(fmt_decode_rows(dec, &dirs[c], out.data + dirs[c].data_offset, N, rows, 3,
                                         bt, "x", &col), STROM_OK);
        for (int i = 0; i < 3; i++)
            assert_true(((const int64_t *)col.values)[i] == ref[c][rows[i]]);
    }
    strom_batch_destroy(bt);
    strom_buf_free(&out);
    fmt_decoder_destroy(dec);
    fmt_encoder_destroy(e);
    strom_builder_destroy(b);
    strom_schema_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_decode_rows_matches_model),
                                       cmocka_unit_test(test_delta_of_delta)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
