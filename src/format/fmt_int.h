/*
 * fmt_int.h: internals shared by the files of src/format (builder layout, encoder and
 * decoder state, bitmap helpers, per-column statistics). Not for other subsystems.
 */
#ifndef STROM_FMT_INT_H
#define STROM_FMT_INT_H

#include "format/format.h"

#include <zstd.h>

struct strom_builder {
    strom_schema *schema;   /* owned clone */
    fmt_vec *cols;          /* schema->ncols vectors */
    int64_t nrows;          /* completed rows */
};

static inline int fmt_bit(const uint8_t *bm, uint64_t i) { return (bm[i >> 3] >> (i & 7)) & 1; }
static inline void fmt_bit_set(uint8_t *bm, uint64_t i) { bm[i >> 3] |= (uint8_t)(1u << (i & 7)); }
static inline void fmt_bit_clear(uint8_t *bm, uint64_t i) { bm[i >> 3] &= (uint8_t)~(1u << (i & 7)); }
static inline size_t fmt_bm_bytes(uint64_t n) { return (size_t)((n + 7) / 8); }

/* Bytes (0, 1, 2, 4, 8) needed to hold unsigned values up to range. */
static inline unsigned fmt_width_for(uint64_t range)
{
    return range == 0 ? 0 : range <= 0xff ? 1 : range <= 0xffff ? 2 : range <= 0xffffffffu ? 4 : 8;
}

/* Statistics of one column of one batch (directory fields). String bounds point into
 * the builder (valid during fmt_encode) and are truncated when written. */
typedef struct fmt_colstat {
    uint32_t nulls;
    uint8_t flags;            /* FMT_F_STATS, FMT_F_NAN */
    uint64_t min, max;
    const uint8_t *smin, *smax;
    uint32_t smin_len, smax_len;
} fmt_colstat;

/* Open-addressing string hash table reused by the DICT encoder. */
typedef struct fmt_dict_tab {
    uint32_t *slots;          /* dictionary index + 1, 0 = empty */
    uint32_t cap;             /* allocated slots */
    uint32_t mask;            /* slots in use - 1 (a power of two minus one) */
} fmt_dict_tab;

struct fmt_encoder {
    ZSTD_CCtx *zc;
    strom_buf raw;            /* one chunk before compression */
    strom_buf body;           /* all stored chunks of the batch being built */
    strom_buf blob;           /* stats blob of the batch being built */
    strom_buf scratch;        /* int64/double values of one column */
    strom_buf scratch2;       /* dictionary entries / decimal integers */
    strom_buf ident;          /* identity selection 0..n-1 */
    strom_buf bits;           /* validity of the selected rows of one column */
    strom_buf dir;            /* directory entries of the batch being built */
    strom_buf changes;        /* change vector of the batch being built */
    fmt_dict_tab dict;
};

struct fmt_decoder {
    ZSTD_DCtx *zd;
    strom_buf raw;            /* one decompressed chunk */
    strom_buf done;           /* blocked chunks: bitmap of the blocks in raw */
};

/* Selected rows' validity into bm (ceil(n/8) bytes, zero padded); returns null count. */
uint32_t fmt_gather_validity(const fmt_vec *v, const uint32_t *sel, uint32_t n, uint8_t *bm);

/* Encoders: append the encoded values (after the validity bitmap) of the selected rows
 * to e->raw, fill st (except nulls), return the FMT_ENC_* used via *enc. */
strom_err fmt_enc_int(fmt_encoder *e, const fmt_vec *v, const uint32_t *sel, uint32_t n,
                      const uint8_t *bm, int plain_only, fmt_colstat *st, uint8_t *enc);
strom_err fmt_enc_float(fmt_encoder *e, const fmt_vec *v, const uint32_t *sel, uint32_t n,
                        const uint8_t *bm, int plain_only, fmt_colstat *st, uint8_t *enc);
strom_err fmt_enc_bool(fmt_encoder *e, const fmt_vec *v, const uint32_t *sel, uint32_t n,
                       const uint8_t *bm, fmt_colstat *st, uint8_t *enc);
strom_err fmt_enc_str(fmt_encoder *e, const fmt_vec *v, const uint32_t *sel, uint32_t n,
                      const uint8_t *bm, int plain_only, fmt_colstat *st, uint8_t *enc);

/* Packs n unsigned values (v[i] - base, as uint64) of width w (0,1,2,4,8) to dst. */
void fmt_pack(uint8_t *dst, const int64_t *v, size_t n, int64_t base, unsigned w);
/* Unpacks n values of width w from src: out[i] = base + packed (wrapping). */
void fmt_unpack(int64_t *out, const uint8_t *src, size_t n, int64_t base, unsigned w);

/* Codecs. Compress appends to out (stores NONE when it would not shrink) and sets
 * *codec_used; block_size > 0 and len > block_size: the blocked form of codec (blocks.c).
 * Decompress fills dst[0..raw_len) exactly or fails with ECORRUPT (any codec). */
strom_err fmt_compress(fmt_encoder *e, int codec, int level, uint32_t block_size,
                       const uint8_t *src, size_t len, strom_buf *out, uint8_t *codec_used);
strom_err fmt_decompress(fmt_decoder *d, int codec, const uint8_t *src, size_t len,
                         uint8_t *dst, size_t raw_len);

/* ------------------------------------------------ blocked codecs (blocks.c) */

/* The validated block table of one blocked chunk (pointers into the chunk). */
typedef struct fmt_blkview {
    int codec;                /* FMT_CODEC_ZSTD or FMT_CODEC_LZ4: how blocks are compressed */
    uint32_t bsize, nblocks;
    const uint8_t *table, *payload;
    size_t raw_len, payload_len;
} fmt_blkview;

/* Blocked form of codec (ZSTD or LZ4) of src[0..len) in blocks of bsize raw bytes, appended
 * to out; NONE (a plain copy) if that is not smaller than len. */
strom_err fmt_compress_blocks(fmt_encoder *e, int codec, int level, uint32_t bsize,
                              const uint8_t *src, size_t len, strom_buf *out, uint8_t *codec_used);
/* Parses and checks the header and block table of a blocked chunk (stored bytes
 * chunk[0..len), raw_len bytes once decompressed). ECORRUPT naming what is wrong. */
strom_err fmt_blocks_open(fmt_blkview *v, int codec, const uint8_t *chunk, size_t len,
                          size_t raw_len);
/* Decompresses every block (each CRC-checked) into dst[0..raw_len). */
strom_err fmt_blocks_all(fmt_decoder *d, int codec, const uint8_t *chunk, size_t len,
                         uint8_t *dst, size_t raw_len);
/* Makes raw bytes dst[off..off+n) valid: decompresses (CRC-checked) the blocks holding them
 * that done (one bit per block) does not yet mark, and marks them. */
strom_err fmt_blocks_need(fmt_decoder *d, const fmt_blkview *v, uint8_t *done, uint8_t *dst,
                          size_t off, size_t n);

/* Writes the fixed header h (88 bytes) to p; the CRC fields are written as given. */
void fmt_hdr_write(uint8_t *p, const fmt_hdr *h);
/* Writes directory entry d (40 bytes) to p; string stats as given in d->min/max. */
void fmt_dir_write(uint8_t *p, const fmt_dir *d);
/* Recomputes header_crc and crc of a complete batch of len bytes in place. */
void fmt_batch_seal(uint8_t *batch, size_t len, uint32_t body_start);

/* Three-way byte-string comparison (memcmp order, shorter prefix first). */
int fmt_strcmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);


#endif /* STROM_FMT_INT_H */
