/* blocks.c: blocked chunk codecs (FMT_CODEC_ZSTD_BLOCKS, FMT_CODEC_LZ4_BLOCKS; layout in
 * format.h): the raw chunk cut into blocks of block_size bytes, each compressed alone and
 * CRC-checked alone, so a point read decompresses only the blocks holding its bytes. */
#include "fmt_int.h"

#include <lz4.h>

#define BLK_HDR 8
#define BLK_ENTRY 8
#define BLK_MIN_SIZE 64u
#define BLK_MAX_SIZE (1u << 24)

int fmt_codec_blocked(int codec)
{
    return codec == FMT_CODEC_ZSTD_BLOCKS || codec == FMT_CODEC_LZ4_BLOCKS;
}

static int base_codec(int codec)
{
    return codec == FMT_CODEC_ZSTD_BLOCKS ? FMT_CODEC_ZSTD : FMT_CODEC_LZ4;
}

static uint32_t nblocks_of(size_t raw_len, uint32_t bsize)
{
    return (uint32_t)((raw_len + bsize - 1) / bsize);
}

/* CRC-32C of the block size field and the nb table entries of the chunk at p. */
static uint32_t table_crc(const uint8_t *p, uint32_t nb)
{
    return strom_crc32c(strom_crc32c(0, p, 4), p + BLK_HDR, (size_t)nb * BLK_ENTRY);
}

/* One block into out: compressed when that is strictly smaller, else copied. */
static strom_err put_block(fmt_encoder *e, int codec, int level, const uint8_t *src, size_t len,
                           strom_buf *out)
{
    uint8_t used;
    return fmt_compress(e, codec, level, 0, src, len, out, &used);
}

strom_err fmt_compress_blocks(fmt_encoder *e, int codec, int level, uint32_t bsize,
                              const uint8_t *src, size_t len, strom_buf *out, uint8_t *codec_used)
{
    uint32_t nb = nblocks_of(len, bsize);
    size_t start = out->len, table = start + BLK_HDR;
    strom_err err = strom_buf_reserve(out, BLK_HDR + (size_t)nb * BLK_ENTRY);
    if (err != STROM_OK)
        return err;
    out->len += BLK_HDR + (size_t)nb * BLK_ENTRY;
    size_t payload = out->len;
    for (uint32_t i = 0; i < nb; i++) {
        size_t at = out->len, off = (size_t)i * bsize, n = STROM_MIN((size_t)bsize, len - off);
        if ((err = put_block(e, codec, level, src + off, n, out)) != STROM_OK)
            return err;
        uint8_t *ent = out->data + table + (size_t)i * BLK_ENTRY;
        strom_put_u32(ent, (uint32_t)(out->len - payload));
        strom_put_u32(ent + 4, strom_crc32c(0, out->data + at, out->len - at));
    }
    if (out->len - start >= len) { /* blocking did not pay: store the chunk as it is */
        out->len = start;
        *codec_used = FMT_CODEC_NONE;
        return strom_buf_append(out, src, len);
    }
    strom_put_u32(out->data + start, bsize);
    strom_put_u32(out->data + start + 4, table_crc(out->data + start, nb));
    *codec_used = (uint8_t)(codec == FMT_CODEC_ZSTD ? FMT_CODEC_ZSTD_BLOCKS : FMT_CODEC_LZ4_BLOCKS);
    return STROM_OK;
}

/* ------------------------------------------------------------------ reading */

strom_err fmt_blocks_open(fmt_blkview *v, int codec, const uint8_t *chunk, size_t len,
                          size_t raw_len)
{
    if (len < BLK_HDR)
        return strom_fail(STROM_ECORRUPT, "blocked chunk: %zu bytes, shorter than its header", len);
    uint32_t bs = strom_get_u32(chunk);
    if (bs < BLK_MIN_SIZE || bs > BLK_MAX_SIZE || (bs & (bs - 1)))
        return strom_fail(STROM_ECORRUPT, "blocked chunk: block size %u is not a power of two "
                          "in [%u, %u]", bs, BLK_MIN_SIZE, BLK_MAX_SIZE);
    uint32_t nb = nblocks_of(raw_len, bs);
    if ((uint64_t)nb * BLK_ENTRY > len - BLK_HDR)
        return strom_fail(STROM_ECORRUPT, "blocked chunk: %u block entries do not fit in %zu "
                          "bytes", nb, len);
    const uint8_t *tab = chunk + BLK_HDR;
    if (table_crc(chunk, nb) != strom_get_u32(chunk + 4))
        return strom_fail(STROM_ECORRUPT, "blocked chunk: block table CRC mismatch");
    *v = (fmt_blkview){.codec = base_codec(codec), .bsize = bs, .nblocks = nb, .table = tab,
                       .payload = tab + (size_t)nb * BLK_ENTRY, .raw_len = raw_len,
                       .payload_len = len - BLK_HDR - (size_t)nb * BLK_ENTRY};
    uint32_t prev = 0;
    for (uint32_t i = 0; i < nb; i++) {
        uint32_t end = strom_get_u32(tab + (size_t)i * BLK_ENTRY);
        size_t raw = STROM_MIN((size_t)bs, raw_len - (size_t)i * bs);
        if (end <= prev || end - prev > raw || end > v->payload_len)
            return strom_fail(STROM_ECORRUPT, "blocked chunk: block %u ends at %u (previous end "
                              "%u, raw size %zu, payload %zu bytes)", i, end, prev, raw,
                              v->payload_len);
        prev = end;
    }
    if (prev != v->payload_len)
        return strom_fail(STROM_ECORRUPT, "blocked chunk: blocks end at %u, payload has %zu "
                          "bytes", prev, v->payload_len);
    return STROM_OK;
}

/* Decompresses block i of v into dst + i * bsize after checking its CRC. */
static strom_err block_load(fmt_decoder *d, const fmt_blkview *v, uint32_t i, uint8_t *dst)
{
    uint32_t start = i ? strom_get_u32(v->table + (size_t)(i - 1) * BLK_ENTRY) : 0;
    uint32_t end = strom_get_u32(v->table + (size_t)i * BLK_ENTRY);
    const uint8_t *src = v->payload + start;
    size_t raw = STROM_MIN((size_t)v->bsize, v->raw_len - (size_t)i * v->bsize);
    if (strom_crc32c(0, src, end - start) != strom_get_u32(v->table + (size_t)i * BLK_ENTRY + 4))
        return strom_fail(STROM_ECORRUPT, "blocked chunk: block %u CRC mismatch", i);
    strom_err e = fmt_decompress(d, end - start == raw ? FMT_CODEC_NONE : v->codec, src,
                                 end - start, dst + (size_t)i * v->bsize, raw);
    return e ? strom_fail_wrap(e, "blocked chunk: block %u", i) : STROM_OK;
}

strom_err fmt_blocks_all(fmt_decoder *d, int codec, const uint8_t *chunk, size_t len,
                         uint8_t *dst, size_t raw_len)
{
    fmt_blkview v;
    strom_err e = fmt_blocks_open(&v, codec, chunk, len, raw_len);
    for (uint32_t i = 0; e == STROM_OK && i < v.nblocks; i++)
        e = block_load(d, &v, i, dst);
    return e;
}

strom_err fmt_blocks_need(fmt_decoder *d, const fmt_blkview *v, uint8_t *done, uint8_t *dst,
                          size_t off, size_t n)
{
    if (n == 0 || off >= v->raw_len)
        return STROM_OK;
    size_t last = STROM_MIN(off + n, v->raw_len) - 1;
    for (size_t i = off / v->bsize; i <= last / v->bsize; i++) {
        if (fmt_bit(done, i))
            continue;
        strom_err e = block_load(d, v, (uint32_t)i, dst);
        if (e != STROM_OK)
            return e;
        fmt_bit_set(done, i);
    }
    return STROM_OK;
}
