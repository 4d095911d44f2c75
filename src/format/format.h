/*
 * format.h: types, schemas, row builders and the columnar record batch: its encoder,
 * its decoder, per-column statistics and predicates on them. Private to the engine
 * (the public face is include/strom/strom.h). Prefix: fmt_.
 *
 * ==========================================================================================
 * RECORD BATCH, version 1 (on disk in log segments, and on the wire unchanged)
 * ==========================================================================================
 * All integers little-endian. A batch is self-describing: header, column directory,
 * statistics blob, optional change-type vector, then one chunk per column.
 *
 * Header (88 bytes)
 *   off size field              meaning
 *   0   8    base_offset        offset of row 0; assigned by the log on append
 *   8   4    length             bytes after this field (batch size = 12 + length)
 *   12  4    magic              0x31425453, the bytes "STB1"
 *   16  4    crc                CRC-32C of bytes [20, 12 + length): everything after it
 *   20  4    header_crc         CRC-32C of bytes [24, body_start): the rest of the header,
 *                               the directory, the stats blob and the change vector, so a
 *                               reader that fetches only some columns can trust them
 *   24  2    attributes         bit 0: change-type vector present
 *                               bit 1: row times are the commit time (no time column)
 *                               bits 2-15: zero
 *   26  2    column_count       columns in the directory (<= 1024)
 *   28  4    schema_id          id of the table schema the batch was written under
 *   32  4    record_count       rows (>= 1)
 *   36  4    last_offset_delta  record_count - 1
 *   40  8    writer_id          idempotent producer id, -1 if none
 *   48  4    batch_sequence     producer sequence of this batch, -1 if none
 *   52  4    stats_size         bytes of the stats blob
 *   56  8    commit_timestamp   ms since epoch, server clock; set on append
 *   64  8    min_time           smallest row time (time column, or commit_timestamp)
 *   72  8    max_time           largest row time. With a time column both cover its
 *                               non-NULL values only (= its directory min/max); if all
 *                               are NULL both are INT64_MIN. A row whose time is NULL
 *                               reads back with row time INT64_MIN (fmt_batch_set_rows).
 *                               With FMT_ATTR_COMMIT_TIME both equal commit_timestamp.
 *   80  4    arrow_size         bytes of all columns decoded into Arrow buffers
 *   84  4    time_column        directory index of the time column (INT, BIGINT or
 *                               TIMESTAMP), 0xFFFFFFFF iff attribute bit 1 is set
 *   88       column directory   column_count entries of 40 bytes, in schema order
 *   88+40c   stats blob         stats_size bytes (string min/max values)
 *   ...      change vector      record_count bytes (strom_change), if attribute bit 0
 *   body_start = 88 + 40*column_count + stats_size (+ record_count)
 *   ...      column chunks      contiguous, in directory order: chunk 0 starts at
 *                               body_start, each next one where the previous ended, the
 *                               last ends at 12 + length (so a length flip is detected)
 *
 * base_offset (bytes 0-7) is covered by neither CRC (it is assigned on append, as in
 * Kafka); length and magic are checked structurally; everything from byte 20 on is
 * covered by crc, and everything from 24 to body_start also by header_crc.
 *
 * Column directory entry (40 bytes)
 *   off size field        meaning
 *   0   1    type         strom_type
 *   1   1    codec        FMT_CODEC_*: how the chunk is compressed
 *   2   1    encoding     FMT_ENC_*: how values are laid out before compression
 *   3   1    flags        bit 0 FMT_F_VALIDITY: the chunk starts with a validity bitmap;
 *                               set iff null_count > 0
 *                         bit 1 FMT_F_STATS: min/max are valid: set iff some value is
 *                               neither NULL nor NaN (else min = max = 0)
 *                         bit 2 FMT_F_MAX_TRUNC: string max was truncated (true max is
 *                               greater than the stored prefix; the prefix is then
 *                               exactly FMT_STAT_STR_MAX bytes)
 *                         bit 3 FMT_F_NAN: FLOAT/DOUBLE column holds a NaN (min/max
 *                               cover the other values)
 *   4   4    null_count
 *   8   4    data_offset  chunk start, from the start of the batch
 *   12  4    data_length  stored (compressed) chunk bytes
 *   16  4    raw_length   chunk bytes after decompression
 *   20  4    chunk_crc    CRC-32C of the stored chunk bytes
 *   24  8    min          INT/BIGINT/TIMESTAMP/BOOLEAN: int64; FLOAT/DOUBLE: binary64 bits
 *                         (FLOAT widened to double);
 *   32  8    max          STRING/BYTES: u32 offset into the stats blob | u32 length << 32
 *                         (values truncated to FMT_STAT_STR_MAX bytes; min truncation is
 *                         exact as a lower bound, max sets FMT_F_MAX_TRUNC)
 *
 * Column chunk, after decompression (raw_length bytes)
 *   [validity bitmap, ceil(n/8) bytes, bit set = valid]   if FMT_F_VALIDITY
 *   (bitmap padding bits are ignored), then by encoding (n = record_count). The encoder
 *   stores in a NULL slot the previous non-NULL value (the first one for leading NULLs),
 *   so NULLs widen neither FOR nor DELTA; the decoder zeroes NULL slots of fixed-width
 *   columns. A FOR block is: i64 base, u8 width (0,1,2,4,8), then the values minus base
 *   as unsigned little-endian integers of width bytes (width 0: all equal base; all
 *   arithmetic wraps modulo 2^64).
 *   FMT_ENC_PLAIN    fixed width: n values (BOOLEAN: ceil(n/8) bytes, bit-packed)
 *                    STRING/BYTES: int32 offsets[n+1] (offsets[0] = 0), then the bytes
 *   FMT_ENC_FOR      INT, BIGINT, TIMESTAMP: one FOR block of n values
 *   FMT_ENC_DELTA    INT, BIGINT, TIMESTAMP: i64 first, then a FOR block of the n-1
 *                    deltas v[i] - v[i-1]; value = first + prefix sum (chosen when the
 *                    deltas pack narrower than FOR)
 *   FMT_ENC_DOD      INT, BIGINT, TIMESTAMP, n >= 3: i64 first, i64 first delta
 *                    (v[1] - v[0]), then a FOR block of the n-2 delta-of-deltas
 *                    (v[i] - v[i-1]) - (v[i-1] - v[i-2]), i >= 2; chosen when it packs
 *                    narrower than DELTA and FOR (regularly sampled series of one device,
 *                    e.g. 50 Hz PMU timestamps with jitter)
 *   FMT_ENC_DECIMAL  FLOAT/DOUBLE whose values are all k/10^e for an integer k:
 *                    u8 scale, then a FOR block of the n integers k. scale = e (0..9):
 *                    value = (double)k / 10^e; scale = e | 0x80 (FMT_DECIMAL_MUL):
 *                    value = (double)k * 1e-e (the binary64 nearest 10^-e), for values
 *                    computed as k * resolution. FLOAT: the result rounded to float.
 *                    The encoder checks the bit-exact round trip of every value (so
 *                    NaN, infinities and -0.0 never use it) and |k| < 2^52
 *   FMT_ENC_DICT     STRING/BYTES, when at most n/2 distinct values: u32 ndict (>= 1),
 *                    int32 dict_offsets[ndict+1], dict bytes, u8 width (1,2,4), n
 *                    indices of width bytes (index of a NULL row: ignored)
 *   Every field is bounds-checked on decode; a violation is STROM_ECORRUPT.
 *
 * Codecs: FMT_CODEC_NONE (stored = raw), FMT_CODEC_ZSTD (one zstd frame), FMT_CODEC_LZ4
 * (one LZ4 block; raw_length gives the output size), and the blocked forms of the last two,
 * FMT_CODEC_ZSTD_BLOCKS (3) and FMT_CODEC_LZ4_BLOCKS (4), written (since 2026-11-26) for
 * every chunk of more than fmt_encode_opts.block_size raw bytes (default FMT_BLOCK_SIZE),
 * so that a point read (key history) decompresses only the blocks holding its rows. Codecs
 * 1 and 2 are still written for smaller chunks and still read: batches written before the
 * blocked codecs existed read unchanged. A chunk that the codec does not shrink is stored
 * with FMT_CODEC_NONE, so the codec byte may differ between columns.
 *
 * Blocked chunk (stored bytes, data_length of them; nb = ceil(raw_length / block_size))
 *   off      size  field        meaning
 *   0        4     block_size   raw bytes per block: a power of two in [64, 2^24]; block i
 *                               holds raw bytes [i*block_size, min((i+1)*block_size,
 *                               raw_length))
 *   4        4     table_crc    CRC-32C of bytes [0, 4) followed by the nb table entries
 *   8        8*nb  block table  per block: u32 end: payload bytes up to the end of this
 *                               block (strictly increasing; the last = payload size);
 *                               u32 crc: CRC-32C of the block's stored bytes
 *   8+8nb    ...   payload      block i in [end[i-1], end[i]) (end[-1] = 0): compressed
 *                               alone (one zstd frame / one LZ4 block) when that is
 *                               smaller, else stored as is: a stored size equal to the
 *                               block's raw size means uncompressed, and no block is
 *                               stored larger than its raw size
 * A reader of chosen rows (fmt_decode_rows) checks the table CRC and the CRC of each block
 * it decompresses instead of chunk_crc (which still covers the whole stored chunk, for
 * fmt_batch_verify and full reads); the blocks it skips are not checked.
 * ==========================================================================================
 */
#ifndef STROM_FORMAT_H
#define STROM_FORMAT_H

#include "common/common.h"

#define FMT_MAGIC 0x31425453u
#define FMT_HEADER_SIZE 88
#define FMT_DIR_ENTRY_SIZE 40
#define FMT_MAX_COLUMNS 1024
#define FMT_MAX_BATCH_BYTES (256u << 20)  /* no batch is larger (encoder and decoder) */
#define FMT_STAT_STR_MAX 64
#define FMT_NO_TIME_COLUMN 0xFFFFFFFFu

#define FMT_DECIMAL_MUL 0x80   /* DECIMAL scale byte: value = packed * 1e-e, not / 10^e */

#define FMT_ATTR_CHANGES 0x1
#define FMT_ATTR_COMMIT_TIME 0x2

enum { FMT_CODEC_NONE = 0, FMT_CODEC_ZSTD = 1, FMT_CODEC_LZ4 = 2, FMT_CODEC_ZSTD_BLOCKS = 3,
       FMT_CODEC_LZ4_BLOCKS = 4 };
/* Default raw bytes per block of a blocked chunk (fmt_encode_opts.block_size). */
#define FMT_BLOCK_SIZE 4096u
/* Whether codec is a blocked one (every block CRC-checked on its own when decoded, so a
 * point read need not check the whole chunk's CRC). */
int fmt_codec_blocked(int codec);
enum { FMT_ENC_PLAIN = 0, FMT_ENC_FOR = 1, FMT_ENC_DELTA = 2, FMT_ENC_DECIMAL = 3, FMT_ENC_DICT = 4,
       FMT_ENC_DOD = 5 };
enum { FMT_F_VALIDITY = 0x1, FMT_F_STATS = 0x2, FMT_F_MAX_TRUNC = 0x4, FMT_F_NAN = 0x8 };

/* ------------------------------------------------------------ types, schemas */

/* Byte width of a fixed-width type's values in Arrow layout (BOOLEAN: 0 = bit-packed,
 * STRING/BYTES: 0 = variable). */
int fmt_type_width(strom_type t);
int fmt_type_is_var(strom_type t);    /* STRING, BYTES */
int fmt_type_is_int(strom_type t);    /* BOOLEAN, INT, BIGINT, TIMESTAMP */
int fmt_type_is_float(strom_type t);  /* FLOAT, DOUBLE */

/* struct strom_schema is defined here so the engine can reach its columns directly. */
typedef struct fmt_column_def {
    char *name;
    strom_type type;
    int not_null;
} fmt_column_def;

#define FMT_MAX_PK 8   /* primary-key columns (= LOG_MAX_KEY_COLS) */

struct strom_schema {
    uint32_t id;
    int ncols, cap;
    fmt_column_def *cols;
    int pk[FMT_MAX_PK], npk;  /* primary key (column indexes, key order); npk 0: none */
};

/* Deep copy. Owned: strom_schema_destroy. NULL on ENOMEM. */
strom_schema *fmt_schema_clone(const strom_schema *s);
void fmt_schema_set_id(strom_schema *s, uint32_t id);

/* --------------------------------------------------------------- builders */

/* A builder column: Arrow buffers being filled. Views of it are strom_columns. */
typedef struct fmt_vec {
    strom_type type;
    strom_buf validity;   /* bit-packed; kept even when no NULLs (all bits set) */
    strom_buf values;     /* fixed-width values, or bit-packed booleans */
    strom_buf offsets;    /* int32, length+1 entries, for var types */
    strom_buf data;       /* var bytes */
    int64_t length, null_count;
} fmt_vec;

/* Borrowed Arrow view of builder column col: its completed rows (call between rows;
 * valid until the builder changes). */
void fmt_builder_view(const strom_builder *b, int col, strom_column *out);
const strom_schema *fmt_builder_schema(const strom_builder *b);
/* Makes dst (reset first) a decoded batch of the builder's completed rows, columns
 * cols[0..ncols) of its schema in that order (cols NULL: every column), by copying the
 * Arrow buffers into dst's arena (view.c). Offsets, commit time and schema id are 0,
 * writer -1, no change vector; the caller sets what it needs. */
strom_err fmt_batch_from_builder(const strom_builder *b, const int *cols, int ncols,
                                 strom_batch *dst);

/* -------------------------------------------------------------- key bytes */

/* Canonical bytes of a key (one value per key column), used for bucket hashing and key
 * indexes; equal values give equal bytes whatever the source. Per column: one byte
 * 0 = NULL / 1 = value, then INT/BIGINT/TIMESTAMP/BOOLEAN: int64 LE; FLOAT/DOUBLE:
 * binary64 LE (-0.0 as 0.0); STRING/BYTES: u32 length LE + bytes. Appends to out. */
strom_err fmt_key_from_column(strom_buf *out, const strom_column *c, int64_t row);
strom_err fmt_key_from_value(strom_buf *out, strom_type col_type, const strom_value *v);
/* The inverse for one column: reads the value of a col_type column from canonical key
 * bytes p[0..len) into *out (strings point into p). Returns the bytes consumed, 0 if the
 * bytes are malformed. FLOAT/DOUBLE come back as the canonical double (-0.0 as 0.0). */
size_t fmt_key_to_value(const uint8_t *p, size_t len, strom_type col_type, strom_value *out);

/* The routing rule of strom: a row's bucket is strom_hash64 of the canonical bytes (above)
 * of its 'bucket.key' columns, in bucket.key order, modulo the bucket count. The engine
 * (appends, writes, lookups) and the client library's producer and lookuper route with
 * this, so a client puts a row in the bucket the server would. */
static inline int fmt_bucket_of(const void *key, size_t len, int nbuckets)
{
    return (int)(strom_hash64(key, len) % (uint64_t)nbuckets);
}

/* ---------------------------------------------------------------- encoding */

typedef struct fmt_encode_opts {
    int codec;            /* FMT_CODEC_*; default ZSTD */
    int zstd_level;       /* default 3 */
    int plain_only;       /* 1: no FOR/DELTA/DECIMAL/DICT (to measure what they buy) */
    int time_col;         /* schema column holding row times, -1: commit time */
    int64_t writer_id;    /* -1 if none */
    int32_t batch_seq;    /* -1 if none */
    const uint8_t *changes; /* per-row strom_change (indexed like the builder rows), or NULL */
    uint32_t block_size;  /* chunks with more raw bytes are stored blocked (ZSTD/LZ4 only):
                             0 or a power of two in [64, 16 MiB]; default FMT_BLOCK_SIZE */
} fmt_encode_opts;

void fmt_encode_opts_init(fmt_encode_opts *o);

/* Reusable encoder state (compression contexts and scratch); one per thread. */
typedef struct fmt_encoder fmt_encoder;
fmt_encoder *fmt_encoder_create(void);          /* owned; NULL on ENOMEM */
void fmt_encoder_destroy(fmt_encoder *e);

/* Encodes rows sel[0..nsel) of builder b (sel == NULL: all rows, in order) into one batch
 * appended to out. base_offset and commit_timestamp are 0 until fmt_batch_stamp. EINVAL
 * for zero rows; ELIMIT if the batch would exceed FMT_MAX_BATCH_BYTES. */
strom_err fmt_encode(fmt_encoder *e, const strom_builder *b, const uint32_t *sel, size_t nsel,
                     const fmt_encode_opts *o, strom_buf *out);

/* Sets base_offset and commit_timestamp (and, with FMT_ATTR_COMMIT_TIME, min/max time)
 * of a complete, verified batch in place and recomputes header_crc and crc. */
void fmt_batch_stamp(uint8_t *batch, int64_t base_offset, int64_t commit_ts);

/* ----------------------------------------------------------- header parsing */

typedef struct fmt_dir {
    strom_type type;
    uint8_t codec, encoding, flags;
    uint32_t null_count, data_offset, data_length, raw_length, crc;
    uint64_t min, max;        /* raw 8-byte stats fields */
    const uint8_t *smin, *smax; /* string stats (pointers into the parsed bytes), or NULL */
    uint32_t smin_len, smax_len;
} fmt_dir;

typedef struct fmt_hdr {
    int64_t base_offset;
    uint32_t length, crc, header_crc;
    uint16_t attributes, ncols;
    uint32_t schema_id, nrows, last_offset_delta;
    int64_t writer_id;
    int32_t batch_seq;
    uint32_t stats_size;
    int64_t commit_ts, min_time, max_time;
    uint32_t arrow_size, time_col;
    uint32_t body_start;      /* bytes of header + directory + stats + change vector */
    const uint8_t *changes;   /* into the parsed bytes, or NULL */
} fmt_hdr;

/* Bytes needed to parse the header of the batch starting at buf: FMT_HEADER_SIZE when
 * len < FMT_HEADER_SIZE, else body_start (0 and ECORRUPT-style message if the fixed
 * header is already invalid). */
size_t fmt_hdr_need(const uint8_t *buf, size_t len);
/* Parses and validates header, directory, stats and change vector from buf[0..len) (len
 * >= body_start; the column chunks need not be present). Checks magic, sizes, limits,
 * header_crc and that every chunk lies inside the batch. dirs must hold FMT_MAX_COLUMNS
 * entries (or h->ncols after a first call with dirs == NULL). ECORRUPT with a message
 * naming the field. */
strom_err fmt_hdr_parse(const uint8_t *buf, size_t len, fmt_hdr *h, fmt_dir *dirs);
/* Full verification of a complete batch: fmt_hdr_parse + crc + every chunk_crc. */
strom_err fmt_batch_verify(const uint8_t *batch, size_t len, fmt_hdr *h, fmt_dir *dirs);

/* ------------------------------------------------------------- predicates */

typedef struct fmt_pred {
    int col;              /* directory / schema column index */
    strom_op op;
    strom_value value;    /* strings borrowed */
} fmt_pred;

/* 0 if the column statistics prove that no row of the batch satisfies p, else 1.
 * Columns missing from the batch (added later) hold NULL: p never matches then.
 * Semantics (shared with fmt_pred_eval): C comparison. NULL rows and a NULL constant
 * never match; NaN matches only NE; integer vs floating compares as double; strings
 * compare bytewise (memcmp, a proper prefix first); a string constant on a numeric
 * column (or the reverse) never matches. A truncated string max is treated as "some
 * string with this prefix, above it". */
int fmt_dir_may_match(const fmt_dir *d, const fmt_pred *p);
/* keep[r] &= (row r of c satisfies p) for r in [0, c->length). NULL never satisfies. */
void fmt_pred_eval(const strom_column *c, const fmt_pred *p, uint8_t *keep);

/* ------------------------------------------------------------------ decoding */

/* The decoded batch (the public strom_batch). Buffers live in the batch's arena and are
 * reused by the next fmt_batch_reset. */
struct strom_batch {
    int64_t base_offset, commit_ts, nrows;
    uint32_t schema_id;
    int ncols, cap_cols;
    strom_column *cols;       /* projected columns, Arrow views */
    const int64_t *row_offsets; /* NULL: base_offset + r */
    const int64_t *row_times;   /* NULL: commit_ts for every row; set it with
                                   fmt_batch_set_rows (INT time columns, NULL times) */
    const uint8_t *changes;     /* NULL: STROM_APPEND for every row */
    int64_t writer_id;          /* from the header (-1: none) */
    int32_t batch_seq;          /* from the header (-1: none) */
    strom_buf arena;            /* backing store (see fmt_batch_alloc) */
    strom_buf *blocks;          /* extra arena blocks */
    int nblocks, cap_blocks;
};

/* Creates an empty batch with room for ncols columns. Owned: strom_batch_destroy. */
strom_batch *fmt_batch_create(int ncols);
/* Prepares b to receive the columns of batch h (forgets previous contents, keeps memory). */
strom_err fmt_batch_reset(strom_batch *b, const fmt_hdr *h, int ncols);
/* size bytes of 64-byte-aligned memory owned by b until the next reset. NULL on ENOMEM. */
void *fmt_batch_alloc(strom_batch *b, size_t size);

/* Reusable decoder scratch (decompression context, buffers); one per reader thread. */
typedef struct fmt_decoder fmt_decoder;
fmt_decoder *fmt_decoder_create(void);
void fmt_decoder_destroy(fmt_decoder *d);

/* Decodes one column chunk (chunk = the data_length stored bytes of directory entry d,
 * already CRC-checked by the caller or not) of a batch with nrows rows into out, with
 * buffers allocated from dst. name is stored in out->name (borrowed). ECORRUPT on any
 * inconsistency; never reads outside chunk[0..d->data_length). */
strom_err fmt_decode_column(fmt_decoder *dec, const fmt_dir *d, const uint8_t *chunk,
                            uint32_t nrows, strom_batch *dst, const char *name,
                            strom_column *out);
/* Like fmt_decode_column, but out holds only rows rows[0..nsel) of the chunk, in that
 * order (each < nrows). For FOR/DECIMAL/PLAIN fixed-width columns only those values are
 * read after decompression (no full decode), and of a blocked chunk only the blocks holding
 * them (and the value block's header) are decompressed, each CRC-checked, so the caller
 * may skip chunk_crc for blocked chunks; other encodings decode fully, then gather.
 * Used by point reads (key history). EINVAL for a row out of range. */
strom_err fmt_decode_rows(fmt_decoder *dec, const fmt_dir *d, const uint8_t *chunk,
                          uint32_t nrows, const uint32_t *rows, uint32_t nsel, strom_batch *dst,
                          const char *name, strom_column *out);
/* Fills out with an all-NULL column of nrows rows (a column added after the batch). */
strom_err fmt_null_column(strom_batch *dst, strom_type type, uint32_t nrows, const char *name,
                          strom_column *out);
/* After the columns are decoded: copies h's change vector into b's arena and sets the
 * row times from tc, the decoded time column of this batch (borrowed; may be a column
 * not in b->cols, allocated from b), or NULL for commit-time batches. Rows whose time is
 * NULL get row time INT64_MIN. */
strom_err fmt_batch_set_rows(strom_batch *b, const fmt_hdr *h, const strom_column *tc);
/* Drops the rows with keep[r] == 0, in place (columns, row offsets, times, changes). */
strom_err fmt_batch_compact(strom_batch *b, const uint8_t *keep);
/* Decoded (Arrow) size of a column, for budgets and statistics. */
size_t fmt_column_bytes(const strom_column *c);

#endif /* STROM_FORMAT_H */
