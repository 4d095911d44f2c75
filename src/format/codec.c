/* codec.c: chunk compression (ZSTD, LZ4, NONE), encoder/decoder state, bit-width
 * packing. */
#include "fmt_int.h"

#include <lz4.h>
#include <stdlib.h>

fmt_encoder *fmt_encoder_create(void)
{
    fmt_encoder *e = strom_calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->zc = ZSTD_createCCtx();
    if (!e->zc) {
        free(e);
        strom_fail(STROM_ENOMEM, "encoder: cannot create a zstd context");
        return NULL;
    }
    return e;
}

void fmt_encoder_destroy(fmt_encoder *e)
{
    if (!e)
        return;
    ZSTD_freeCCtx(e->zc);
    strom_buf *bufs[] = {&e->raw, &e->body, &e->blob, &e->scratch, &e->scratch2, &e->ident,
                          &e->bits, &e->dir, &e->changes};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        strom_buf_free(bufs[i]);
    free(e->dict.slots);
    free(e);
}

fmt_decoder *fmt_decoder_create(void)
{
    fmt_decoder *d = strom_calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->zd = ZSTD_createDCtx();
    if (!d->zd) {
        free(d);
        strom_fail(STROM_ENOMEM, "decoder: cannot create a zstd context");
        return NULL;
    }
    return d;
}

void fmt_decoder_destroy(fmt_decoder *d)
{
    if (!d)
        return;
    ZSTD_freeDCtx(d->zd);
    strom_buf_free(&d->raw);
    strom_buf_free(&d->done);
    free(d);
}

/* Compressed size into dst (cap bytes), or 0 if the codec failed / did not fit. */
static size_t compress_into(fmt_encoder *e, int codec, int level, const uint8_t *src, size_t len,
                            uint8_t *dst, size_t cap)
{
    if (codec == FMT_CODEC_ZSTD) {
        ZSTD_CCtx_setParameter(e->zc, ZSTD_c_compressionLevel, level);
        size_t r = ZSTD_compress2(e->zc, dst, cap, src, len);
        return ZSTD_isError(r) ? 0 : r;
    }
    int r = LZ4_compress_default((const char *)src, (char *)dst, (int)len, (int)cap);
    return r > 0 ? (size_t)r : 0;
}

strom_err fmt_compress(fmt_encoder *e, int codec, int level, uint32_t block_size,
                       const uint8_t *src, size_t len, strom_buf *out, uint8_t *codec_used)
{
    *codec_used = FMT_CODEC_NONE;
    if (codec != FMT_CODEC_NONE && block_size && len > block_size)
        return fmt_compress_blocks(e, codec, level, block_size, src, len, out, codec_used);
    if (codec != FMT_CODEC_NONE && len > 0 && len <= (size_t)LZ4_MAX_INPUT_SIZE) {
        size_t cap = len - 1; /* only a strictly smaller result is kept */
        if (strom_buf_reserve(out, cap) != STROM_OK)
            return STROM_ENOMEM;
        size_t n = compress_into(e, codec, level, src, len, out->data + out->len, cap);
        if (n > 0 && n < len) {
            out->len += n;
            *codec_used = (uint8_t)codec;
            return STROM_OK;
        }
    }
    return strom_buf_append(out, src, len);
}

strom_err fmt_decompress(fmt_decoder *d, int codec, const uint8_t *src, size_t len, uint8_t *dst,
                         size_t raw_len)
{
    if (codec == FMT_CODEC_NONE) {
        if (len != raw_len)
            return strom_fail(STROM_ECORRUPT, "stored length %zu != raw length %zu", len, raw_len);
        if (len)
            memcpy(dst, src, len);
        return STROM_OK;
    }
    if (fmt_codec_blocked(codec))
        return fmt_blocks_all(d, codec, src, len, dst, raw_len);
    if (codec == FMT_CODEC_ZSTD) {
        size_t r = ZSTD_decompressDCtx(d->zd, dst, raw_len, src, len);
        if (ZSTD_isError(r))
            return strom_fail(STROM_ECORRUPT, "zstd: %s", ZSTD_getErrorName(r));
        if (r != raw_len)
            return strom_fail(STROM_ECORRUPT, "zstd gave %zu bytes, raw length is %zu", r, raw_len);
        return STROM_OK;
    }
    if (len > INT32_MAX || raw_len > INT32_MAX)
        return strom_fail(STROM_ECORRUPT, "lz4 block too large");
    int r = LZ4_decompress_safe((const char *)src, (char *)dst, (int)len, (int)raw_len);
    if (r < 0 || (size_t)r != raw_len)
        return strom_fail(STROM_ECORRUPT, "lz4 block does not decompress to %zu bytes", raw_len);
    return STROM_OK;
}

/* ---------------------------------------------------------------- packing */

#define PACK_LOOP(T)                                                          \
    do {                                                                      \
        T *d = (T *)(void *)dst;                                              \
        for (size_t i = 0; i < n; i++) {                                      \
            T x = (T)((uint64_t)v[i] - (uint64_t)base);                       \
            memcpy(d + i, &x, sizeof x);                                      \
        }                                                                     \
    } while (0)

void fmt_pack(uint8_t *dst, const int64_t *v, size_t n, int64_t base, unsigned w)
{
    switch (w) {
    case 1: PACK_LOOP(uint8_t); break;
    case 2: PACK_LOOP(uint16_t); break;
    case 4: PACK_LOOP(uint32_t); break;
    case 8: PACK_LOOP(uint64_t); break;
    default: break;
    }
}

#define UNPACK_LOOP(T)                                                        \
    do {                                                                      \
        for (size_t i = 0; i < n; i++) {                                      \
            T x;                                                              \
            memcpy(&x, src + i * sizeof(T), sizeof x);                        \
            out[i] = (int64_t)((uint64_t)base + x);                           \
        }                                                                     \
    } while (0)

void fmt_unpack(int64_t *out, const uint8_t *src, size_t n, int64_t base, unsigned w)
{
    switch (w) {
    case 0: for (size_t i = 0; i < n; i++) out[i] = base; break;
    case 1: UNPACK_LOOP(uint8_t); break;
    case 2: UNPACK_LOOP(uint16_t); break;
    case 4: UNPACK_LOOP(uint32_t); break;
    default: UNPACK_LOOP(uint64_t); break;
    }
}

int fmt_strcmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return alen < blen ? -1 : alen > blen;
}
