/* Bad input: every single-bit flip of header/directory is rejected by fmt_hdr_parse
 * (header_crc), every flip anywhere by fmt_batch_verify, truncation at every length is
 * rejected without a crash, and decoding chunks whose CRC is not checked never crashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model.h"

static strom_buf encode_model(model *m, int codec, int changes)
{
    fmt_encoder *e = fmt_encoder_create();
    fmt_encode_opts o;
    fmt_encode_opts_init(&o);
    o.codec = codec;
    o.time_col = changes ? -1 : 7;
    uint8_t *ch = calloc((size_t)m->nrows, 1);
    for (int64_t r = 0; r < m->nrows; r++)
        ch[r] = (uint8_t)(r % 5);
    o.changes = changes ? ch : NULL;
    strom_buf out = {0};
    assert_int_equal(fmt_encode(e, m->b, NULL, 0, &o, &out), STROM_OK);
    fmt_batch_stamp(out.data, 1000, 1700000000000LL);
    free(ch);
    fmt_encoder_destroy(e);
    return out;
}

static fmt_dir dirs[FMT_MAX_COLUMNS];

static void test_bit_flips(void **state)
{
    (void)state;
    for (int variant = 0; variant < 2; variant++) {
        model *m = model_new(16, 50, -1);
        strom_buf b = encode_model(m, variant ? FMT_CODEC_ZSTD : FMT_CODEC_NONE, variant);
        fmt_hdr h;
        assert_int_equal(fmt_batch_verify(b.data, b.len, &h, dirs), STROM_OK);
        assert_int_equal(h.base_offset, 1000);
        assert_int_equal(h.commit_ts, 1700000000000LL);
        uint32_t body = h.body_start;
        for (size_t byte = 8; byte < b.len; byte++)
            for (int bit = 0; bit < 8; bit++) {
                b.data[byte] ^= (uint8_t)(1u << bit);
                if (byte < 16 || (byte >= 20 && byte < body))
                    assert_int_equal(fmt_hdr_parse(b.data, b.len, &h, dirs), STROM_ECORRUPT);
                assert_int_equal(fmt_batch_verify(b.data, b.len, &h, dirs), STROM_ECORRUPT);
                b.data[byte] ^= (uint8_t)(1u << bit);
            }
        assert_int_equal(fmt_batch_verify(b.data, b.len, &h, dirs), STROM_OK);
        strom_buf_free(&b);
        model_free(m);
    }
}

static void test_truncation(void **state)
{
    (void)state;
    model *m = model_new(16, 40, -1);
    strom_buf b = encode_model(m, FMT_CODEC_LZ4, 1);
    fmt_hdr h;
    for (size_t len = 0; len < b.len; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, b.data, len);
        assert_int_equal(fmt_batch_verify(copy, len, &h, dirs), STROM_ECORRUPT);
        size_t need = fmt_hdr_need(copy, len);
        assert_true(need == FMT_HEADER_SIZE || need > len || need == 0 ||
                    fmt_hdr_parse(copy, len, &h, dirs) == STROM_OK);
        free(copy);
    }
    assert_int_equal(fmt_hdr_need(b.data, b.len), h.body_start);
    strom_buf_free(&b);
    model_free(m);
}

/* Chunks with flipped bits decoded without CRC checks: any result but a crash. */
static void test_decode_garbage(void **state)
{
    (void)state;
    fmt_decoder *dec = fmt_decoder_create();
    strom_batch *bt = fmt_batch_create(16);
    for (int it = 0; it < 20; it++) {
        model *m = model_new(16, 1 + (int64_t)rndn(300), -1);
        strom_buf b = encode_model(m, (int)rndn(3), 0);
        fmt_hdr h;
        assert_int_equal(fmt_batch_verify(b.data, b.len, &h, dirs), STROM_OK);
        for (int k = 0; k < 300; k++) {
            int c = (int)rndn(h.ncols);
            fmt_dir d = dirs[c];
            uint8_t *chunk = malloc(d.data_length + 1);
            memcpy(chunk, b.data + d.data_offset, d.data_length);
            chunk[rndn(d.data_length)] ^= (uint8_t)(1u << rndn(8));
            if (rndn(4) == 0)
                d.data_length = (uint32_t)rndn(d.data_length + 1);
            fmt_batch_reset(bt, &h, h.ncols);
            strom_column col;
            (void)fmt_decode_column(dec, &d, chunk, h.nrows, bt, "x", &col);
            free(chunk);
        }
        strom_buf_free(&b);
        model_free(m);
    }
    strom_batch_destroy(bt);
    fmt_decoder_destroy(dec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bit_flips),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_decode_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
