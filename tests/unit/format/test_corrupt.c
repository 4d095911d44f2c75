/* Bad input: every single-bit flip of header/directory is rejected by fmt_hdr_parse
 * (header_crc), every flip anywhere by fmt_batch_verify, truncation at every length is
 * rejected without a crash, and decoding chunks whose CRC is not checked never crashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model.h"

static strom_buf encode_blocked(model *m, int codec, uint32_t block, int changes, int plain)
{
    fmt_encoder *e = fmt_encoder_create();
    fmt_encode_opts o;
    fmt_encode_opts_init(&o);
    o.codec = codec;
    o.block_size = block;
    o.plain_only = plain;
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

static strom_buf encode_model(model *m, int codec, int changes)
{
    return encode_blocked(m, codec, 0, changes, 0);
}

static fmt_dir dirs[FMT_MAX_COLUMNS];

static void test_bit_flips(void **state)
{
    (void)state;
    for (int variant = 0; variant < 3; variant++) {
        model *m = model_new(16, variant == 2 ? 200 : 50, -1);
        strom_buf b = variant == 2 ? encode_blocked(m, FMT_CODEC_LZ4, 512, 0, 0)
                                   : encode_model(m, variant ? FMT_CODEC_ZSTD : FMT_CODEC_NONE, variant);
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
        model *m = model_new(16, 1 + (int64_t)rndn(600), -1);
        codec_case cc = codec_cases[rndn(NCODEC_CASES)];
        strom_buf b = encode_blocked(m, cc.codec, cc.block == FMT_BLOCK_SIZE ? 1024 : cc.block, 0,
                                    0);
        uint32_t rows[8];
        for (int i = 0; i < 8; i++)
            rows[i] = (uint32_t)rndn((uint64_t)m->nrows);
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
            (void)fmt_decode_rows(dec, &d, chunk, h.nrows, rows, 8, bt, "x", &col);
            free(chunk);
        }
        strom_buf_free(&b);
        model_free(m);
    }
    strom_batch_destroy(bt);
    fmt_decoder_destroy(dec);
}

/* The columns of m (200+ rows) encoded blocked in 512-byte blocks, with their directory. */
static strom_buf blocked_batch(model *m, int plain, fmt_hdr *h, int *nblocked)
{
    strom_buf b = encode_blocked(m, FMT_CODEC_ZSTD, 512, 0, plain);
    assert_int_equal(fmt_batch_verify(b.data, b.len, h, dirs), STROM_OK);
    *nblocked = 0;
    for (int c = 0; c < h->ncols; c++)
        *nblocked += fmt_codec_blocked(dirs[c].codec);
    return b;
}

/* Every single-bit flip in a blocked chunk makes a point read of all rows (and a full
 * decode) fail with ECORRUPT even though the caller checks no chunk CRC: the block table
 * and every block carry their own CRC. */
static void test_blocked_flips(void **state)
{
    (void)state;
    fmt_decoder *dec = fmt_decoder_create();
    model *m = model_new(16, 300, -1);
    fmt_hdr h;
    int nblocked;
    strom_buf b = blocked_batch(m, 0, &h, &nblocked);
    assert_true(nblocked >= 4); /* the test must exercise the blocked layout */
    strom_batch *bt = fmt_batch_create(16);
    uint32_t *all = malloc(h.nrows * sizeof *all);
    for (uint32_t r = 0; r < h.nrows; r++)
        all[r] = r;
    for (int c = 0; c < h.ncols; c++) {
        const fmt_dir *d = &dirs[c];
        if (!fmt_codec_blocked(d->codec))
            continue;
        uint8_t *chunk = malloc(d->data_length);
        memcpy(chunk, b.data + d->data_offset, d->data_length);
        strom_column col;
        for (uint32_t byte = 0; byte < d->data_length; byte++)
            for (int bit = 0; bit < 8; bit++) {
                chunk[byte] ^= (uint8_t)(1u << bit);
                fmt_batch_reset(bt, &h, h.ncols);
                assert_int_equal(fmt_decode_rows(dec, d, chunk, h.nrows, all, h.nrows, bt, "x",
                                                 &col), STROM_ECORRUPT);
                assert_int_equal(fmt_decode_column(dec, d, chunk, h.nrows, bt, "x", &col),
                                 STROM_ECORRUPT);
                chunk[byte] ^= (uint8_t)(1u << bit);
            }
        for (uint32_t len = 0; len < d->data_length; len++) { /* every truncation */
            fmt_dir t = *d;
            t.data_length = len;
            assert_int_equal(fmt_decode_rows(dec, &t, chunk, h.nrows, all, h.nrows, bt, "x", &col),
                             STROM_ECORRUPT);
        }
        free(chunk);
    }
    free(all);
    strom_batch_destroy(bt);
    strom_buf_free(&b);
    model_free(m);
    fmt_decoder_destroy(dec);
}

/* Random access: a point read of one row decompresses only the blocks holding it, so a
 * corrupted block elsewhere in the chunk does not disturb it, while a corrupted block
 * holding the row's value is detected. */
static void test_blocked_point_read(void **state)
{
    (void)state;
    fmt_decoder *dec = fmt_decoder_create();
    model *m = model_new(16, 2000, P_SMALL);
    fmt_hdr h;
    int nblocked, tested = 0;
    strom_buf b = blocked_batch(m, 1, &h, &nblocked);
    strom_batch *bt = fmt_batch_create(16);
    for (int c = 0; c < h.ncols; c++) {
        fmt_dir *d = &dirs[c];
        if (d->codec != FMT_CODEC_ZSTD_BLOCKS || d->type != STROM_BIGINT)
            continue;
        assert_int_equal(d->encoding, FMT_ENC_PLAIN);
        /* raw chunk: validity (vbm bytes, in block 0), then row r at vbm + 8r; block 1 holds
         * raw bytes [512, 1024) */
        uint32_t vbm = (d->flags & FMT_F_VALIDITY) ? (h.nrows + 7) / 8 : 0;
        uint32_t nb = (d->raw_length + 511) / 512;
        const uint8_t *chunk = b.data + d->data_offset;
        uint32_t end0 = strom_get_u32(chunk + 8), end1 = strom_get_u32(chunk + 16);
        uint8_t *bad = malloc(d->data_length);
        memcpy(bad, chunk, d->data_length);
        bad[8 + 8 * nb + (end0 + end1) / 2] ^= 0x10;  /* a byte inside block 1 */
        uint32_t row_far = h.nrows - 1, row_near = (768 - vbm) / 8;
        strom_column col;
        fmt_batch_reset(bt, &h, h.ncols);
        assert_int_equal(fmt_decode_rows(dec, d, bad, h.nrows, &row_far, 1, bt, "x", &col),
                         STROM_OK);
        assert_true(cell_equal(m, c, &col, 0, row_far));
        assert_int_equal(fmt_decode_rows(dec, d, bad, h.nrows, &row_near, 1, bt, "x", &col),
                         STROM_ECORRUPT);
        assert_int_equal(fmt_decode_column(dec, d, bad, h.nrows, bt, "x", &col), STROM_ECORRUPT);
        free(bad);
        tested++;
    }
    assert_true(tested > 0);
    strom_batch_destroy(bt);
    strom_buf_free(&b);
    model_free(m);
    fmt_decoder_destroy(dec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bit_flips),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_decode_garbage),
        cmocka_unit_test(test_blocked_flips),
        cmocka_unit_test(test_blocked_point_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
