/* hdr.c: writing, parsing and verifying the batch header and column directory (the
 * byte layout is the table in format.h). Parsing trusts nothing: every field is checked
 * and every failure names it. */
#include "fmt_int.h"

#define CORRUPT(...) strom_fail(STROM_ECORRUPT, "record batch: " __VA_ARGS__)

void fmt_hdr_write(uint8_t *p, const fmt_hdr *h)
{
    strom_put_i64(p + 0, h->base_offset);
    strom_put_u32(p + 8, h->length);
    strom_put_u32(p + 12, FMT_MAGIC);
    strom_put_u32(p + 16, h->crc);
    strom_put_u32(p + 20, h->header_crc);
    strom_put_u16(p + 24, h->attributes);
    strom_put_u16(p + 26, h->ncols);
    strom_put_u32(p + 28, h->schema_id);
    strom_put_u32(p + 32, h->nrows);
    strom_put_u32(p + 36, h->last_offset_delta);
    strom_put_i64(p + 40, h->writer_id);
    strom_put_u32(p + 48, (uint32_t)h->batch_seq);
    strom_put_u32(p + 52, h->stats_size);
    strom_put_i64(p + 56, h->commit_ts);
    strom_put_i64(p + 64, h->min_time);
    strom_put_i64(p + 72, h->max_time);
    strom_put_u32(p + 80, h->arrow_size);
    strom_put_u32(p + 84, h->time_col);
}

void fmt_dir_write(uint8_t *p, const fmt_dir *d)
{
    p[0] = (uint8_t)d->type;
    p[1] = d->codec;
    p[2] = d->encoding;
    p[3] = d->flags;
    strom_put_u32(p + 4, d->null_count);
    strom_put_u32(p + 8, d->data_offset);
    strom_put_u32(p + 12, d->data_length);
    strom_put_u32(p + 16, d->raw_length);
    strom_put_u32(p + 20, d->crc);
    strom_put_u64(p + 24, d->min);
    strom_put_u64(p + 32, d->max);
}

static void hdr_read(const uint8_t *p, fmt_hdr *h)
{
    *h = (fmt_hdr){
        .base_offset = strom_get_i64(p), .length = strom_get_u32(p + 8),
        .crc = strom_get_u32(p + 16), .header_crc = strom_get_u32(p + 20),
        .attributes = strom_get_u16(p + 24), .ncols = strom_get_u16(p + 26),
        .schema_id = strom_get_u32(p + 28), .nrows = strom_get_u32(p + 32),
        .last_offset_delta = strom_get_u32(p + 36), .writer_id = strom_get_i64(p + 40),
        .batch_seq = (int32_t)strom_get_u32(p + 48), .stats_size = strom_get_u32(p + 52),
        .commit_ts = strom_get_i64(p + 56), .min_time = strom_get_i64(p + 64),
        .max_time = strom_get_i64(p + 72), .arrow_size = strom_get_u32(p + 80),
        .time_col = strom_get_u32(p + 84)};
}

static strom_err check_time_fields(const fmt_hdr *h)
{
    if (h->attributes & FMT_ATTR_COMMIT_TIME) {
        if (h->time_col != FMT_NO_TIME_COLUMN)
            return CORRUPT("time_column %u set with the commit-time attribute", h->time_col);
        if (h->min_time != h->commit_ts || h->max_time != h->commit_ts)
            return CORRUPT("min_time/max_time differ from commit_timestamp");
        return STROM_OK;
    }
    if (h->time_col >= h->ncols)
        return CORRUPT("time_column %u out of range (%u columns)", h->time_col, h->ncols);
    if (h->min_time > h->max_time)
        return CORRUPT("min_time %lld > max_time %lld", (long long)h->min_time,
                       (long long)h->max_time);
    return STROM_OK;
}

/* Checks the fixed header fields that do not need the directory. */
static strom_err check_fixed(const uint8_t *p, fmt_hdr *h)
{
    hdr_read(p, h);
    if (strom_get_u32(p + 12) != FMT_MAGIC)
        return CORRUPT("bad magic 0x%08x", strom_get_u32(p + 12));
    if (h->length < FMT_HEADER_SIZE - 12 || h->length > FMT_MAX_BATCH_BYTES - 12)
        return CORRUPT("length %u out of range", h->length);
    if (h->attributes & ~(FMT_ATTR_CHANGES | FMT_ATTR_COMMIT_TIME))
        return CORRUPT("unknown attribute bits 0x%04x", h->attributes);
    if (h->ncols > FMT_MAX_COLUMNS)
        return CORRUPT("column_count %u > %d", h->ncols, FMT_MAX_COLUMNS);
    if (h->nrows == 0 || h->nrows > INT32_MAX)
        return CORRUPT("record_count %u out of range", h->nrows);
    if (h->last_offset_delta != h->nrows - 1)
        return CORRUPT("last_offset_delta %u != record_count - 1", h->last_offset_delta);
    if (h->base_offset < 0 || h->base_offset > INT64_MAX - (int64_t)h->nrows)
        return CORRUPT("base_offset %lld out of range", (long long)h->base_offset);
    uint64_t bs = FMT_HEADER_SIZE + (uint64_t)FMT_DIR_ENTRY_SIZE * h->ncols + h->stats_size +
                  (h->attributes & FMT_ATTR_CHANGES ? h->nrows : 0);
    if (bs > 12 + (uint64_t)h->length)
        return CORRUPT("stats_size %u: header and directory exceed the batch length %u",
                       h->stats_size, h->length);
    h->body_start = (uint32_t)bs;
    return check_time_fields(h);
}

size_t fmt_hdr_need(const uint8_t *buf, size_t len)
{
    fmt_hdr h;
    if (len < FMT_HEADER_SIZE)
        return FMT_HEADER_SIZE;
    return check_fixed(buf, &h) == STROM_OK ? h.body_start : 0;
}

static int encoding_fits(strom_type t, unsigned enc)
{
    switch (enc) {
    case FMT_ENC_PLAIN: return 1;
    case FMT_ENC_FOR: case FMT_ENC_DELTA: case FMT_ENC_DOD:
        return fmt_type_is_int(t) && t != STROM_BOOLEAN;
    case FMT_ENC_DECIMAL: return fmt_type_is_float(t);
    case FMT_ENC_DICT: return fmt_type_is_var(t);
    default: return 0;
    }
}

static strom_err check_dir_kind(const fmt_dir *d, int c, uint32_t nrows)
{
    if (d->type < STROM_BOOLEAN || d->type > STROM_TIMESTAMP)
        return CORRUPT("column %d: unknown type %d", c, (int)d->type);
    if (d->codec > FMT_CODEC_LZ4_BLOCKS)
        return CORRUPT("column %d: unknown codec %u", c, d->codec);
    if (!encoding_fits(d->type, d->encoding))
        return CORRUPT("column %d: encoding %u invalid for %s", c, d->encoding,
                       strom_type_name(d->type));
    unsigned allowed = FMT_F_VALIDITY | FMT_F_STATS |
                       (fmt_type_is_var(d->type) ? FMT_F_MAX_TRUNC : 0) |
                       (fmt_type_is_float(d->type) ? FMT_F_NAN : 0);
    if (d->flags & ~allowed)
        return CORRUPT("column %d: invalid flags 0x%02x", c, d->flags);
    if (d->null_count > nrows)
        return CORRUPT("column %d: null_count %u > record_count %u", c, d->null_count, nrows);
    if (!(d->flags & FMT_F_VALIDITY) != !d->null_count)
        return CORRUPT("column %d: validity flag disagrees with null_count %u", c, d->null_count);
    return STROM_OK;
}

static strom_err check_num_stats(const fmt_dir *d, int c)
{
    if (fmt_type_is_float(d->type)) {
        double mn, mx;
        memcpy(&mn, &d->min, 8);
        memcpy(&mx, &d->max, 8);
        if (!(mn <= mx))
            return CORRUPT("column %d: float min/max invalid", c);
        return STROM_OK;
    }
    int64_t mn = (int64_t)d->min, mx = (int64_t)d->max;
    int64_t lo = d->type == STROM_BOOLEAN ? 0 : d->type == STROM_INT ? INT32_MIN : INT64_MIN;
    int64_t hi = d->type == STROM_BOOLEAN ? 1 : d->type == STROM_INT ? INT32_MAX : INT64_MAX;
    if (mn > mx || mn < lo || mx > hi)
        return CORRUPT("column %d: min %lld / max %lld invalid for %s", c, (long long)mn,
                       (long long)mx, strom_type_name(d->type));
    return STROM_OK;
}

/* Resolves string stats against the blob (blob = stats_size bytes). */
static strom_err check_str_stats(fmt_dir *d, int c, const uint8_t *blob, uint32_t stats_size)
{
    uint32_t o1 = (uint32_t)d->min, l1 = (uint32_t)(d->min >> 32);
    uint32_t o2 = (uint32_t)d->max, l2 = (uint32_t)(d->max >> 32);
    if (l1 > FMT_STAT_STR_MAX || l2 > FMT_STAT_STR_MAX || o1 > stats_size ||
        l1 > stats_size - o1 || o2 > stats_size || l2 > stats_size - o2)
        return CORRUPT("column %d: string min/max outside the stats blob", c);
    if ((d->flags & FMT_F_MAX_TRUNC) && l2 != FMT_STAT_STR_MAX)
        return CORRUPT("column %d: truncated max of length %u", c, l2);
    d->smin = blob + o1, d->smin_len = l1;
    d->smax = blob + o2, d->smax_len = l2;
    if (fmt_strcmp(d->smin, l1, d->smax, l2) > 0)
        return CORRUPT("column %d: string min > max", c);
    return STROM_OK;
}

static strom_err check_dir_stats(fmt_dir *d, int c, uint32_t nrows, const uint8_t *blob,
                                 uint32_t stats_size)
{
    int has = !!(d->flags & FMT_F_STATS);
    int nan_only = (d->flags & FMT_F_NAN) && d->null_count < nrows;
    if (has && d->null_count == nrows)
        return CORRUPT("column %d: statistics flag on an all-NULL column", c);
    if (!has && d->null_count < nrows && !nan_only)
        return CORRUPT("column %d: statistics missing", c);
    if ((d->flags & FMT_F_MAX_TRUNC) && !has)
        return CORRUPT("column %d: max-truncated flag without statistics", c);
    if (!has)
        return d->min || d->max ? CORRUPT("column %d: min/max set without statistics", c)
                                : STROM_OK;
    if (fmt_type_is_var(d->type))
        return check_str_stats(d, c, blob, stats_size);
    return check_num_stats(d, c);
}

/* The chunk must start where the previous ended (*next) and lie inside the batch. */
static strom_err check_dir_chunk(const fmt_dir *d, int c, uint64_t *next, uint64_t end)
{
    if (d->data_offset != *next)
        return CORRUPT("column %d: data_offset %u, expected %llu", c, d->data_offset,
                       (unsigned long long)*next);
    if ((uint64_t)d->data_offset + d->data_length > end)
        return CORRUPT("column %d: data_length %u runs past the batch end", c, d->data_length);
    if (d->raw_length > FMT_MAX_BATCH_BYTES || d->raw_length == 0)
        return CORRUPT("column %d: raw_length %u out of range", c, d->raw_length);
    if (d->codec == FMT_CODEC_NONE && d->raw_length != d->data_length)
        return CORRUPT("column %d: uncompressed chunk with raw_length %u != data_length %u", c,
                       d->raw_length, d->data_length);
    *next += d->data_length;
    return STROM_OK;
}

static void dir_read(const uint8_t *p, fmt_dir *d)
{
    *d = (fmt_dir){.type = p[0], .codec = p[1], .encoding = p[2], .flags = p[3],
                   .null_count = strom_get_u32(p + 4), .data_offset = strom_get_u32(p + 8),
                   .data_length = strom_get_u32(p + 12), .raw_length = strom_get_u32(p + 16),
                   .crc = strom_get_u32(p + 20), .min = strom_get_u64(p + 24),
                   .max = strom_get_u64(p + 32)};
}

/* The time column's type and its stats agree with min_time/max_time. */
static strom_err check_time_column(const fmt_hdr *h, const fmt_dir *dirs)
{
    if (h->time_col == FMT_NO_TIME_COLUMN)
        return STROM_OK;
    const fmt_dir *t = &dirs[h->time_col];
    if (!fmt_type_is_int(t->type) || t->type == STROM_BOOLEAN)
        return CORRUPT("time column %u has type %s", h->time_col, strom_type_name(t->type));
    int64_t mn = t->flags & FMT_F_STATS ? (int64_t)t->min : INT64_MIN;
    int64_t mx = t->flags & FMT_F_STATS ? (int64_t)t->max : INT64_MIN;
    if (mn != h->min_time || mx != h->max_time)
        return CORRUPT("min_time/max_time disagree with the time column statistics");
    return STROM_OK;
}

static strom_err parse_dirs(const uint8_t *buf, const fmt_hdr *h, fmt_dir *dirs)
{
    const uint8_t *blob = buf + FMT_HEADER_SIZE + FMT_DIR_ENTRY_SIZE * h->ncols;
    uint64_t next = h->body_start, end = 12 + (uint64_t)h->length;
    for (int c = 0; c < h->ncols; c++) {
        fmt_dir *d = &dirs[c];
        dir_read(buf + FMT_HEADER_SIZE + FMT_DIR_ENTRY_SIZE * c, d);
        strom_err err = check_dir_kind(d, c, h->nrows);
        if (!err)
            err = check_dir_stats(d, c, h->nrows, blob, h->stats_size);
        if (!err)
            err = check_dir_chunk(d, c, &next, end);
        if (err)
            return err;
    }
    if (next != end)
        return CORRUPT("column chunks end at %llu, batch at %llu", (unsigned long long)next,
                       (unsigned long long)end);
    return check_time_column(h, dirs);
}

strom_err fmt_hdr_parse(const uint8_t *buf, size_t len, fmt_hdr *h, fmt_dir *dirs)
{
    if (len < FMT_HEADER_SIZE)
        return CORRUPT("header truncated: %zu of %d bytes", len, FMT_HEADER_SIZE);
    strom_err err = check_fixed(buf, h);
    if (err)
        return err;
    if (len < h->body_start)
        return CORRUPT("header truncated: %zu of %u bytes", len, h->body_start);
    if (strom_crc32c(0, buf + 24, h->body_start - 24) != h->header_crc)
        return CORRUPT("header_crc mismatch");
    const uint8_t *ch = buf + h->body_start - (h->attributes & FMT_ATTR_CHANGES ? h->nrows : 0);
    h->changes = h->attributes & FMT_ATTR_CHANGES ? ch : NULL;
    for (uint32_t r = 0; h->changes && r < h->nrows; r++)
        if (ch[r] > STROM_DELETE)
            return CORRUPT("row %u: change type %u", r, ch[r]);
    return dirs ? parse_dirs(buf, h, dirs) : STROM_OK;
}

strom_err fmt_batch_verify(const uint8_t *batch, size_t len, fmt_hdr *h, fmt_dir *dirs)
{
    strom_err err = fmt_hdr_parse(batch, len, h, dirs);
    if (err)
        return err;
    size_t total = 12 + (size_t)h->length;
    if (len < total)
        return CORRUPT("truncated: %zu of %zu bytes", len, total);
    if (strom_crc32c(0, batch + 20, total - 20) != h->crc)
        return CORRUPT("crc mismatch");
    for (int c = 0; c < h->ncols; c++)
        if (strom_crc32c(0, batch + dirs[c].data_offset, dirs[c].data_length) != dirs[c].crc)
            return CORRUPT("column %d: chunk_crc mismatch", c);
    return STROM_OK;
}

static uint32_t body_start_of(const uint8_t *p)
{
    fmt_hdr h;
    hdr_read(p, &h);
    return FMT_HEADER_SIZE + FMT_DIR_ENTRY_SIZE * h.ncols + h.stats_size +
           (h.attributes & FMT_ATTR_CHANGES ? h.nrows : 0);
}

void fmt_batch_seal(uint8_t *batch, size_t len, uint32_t body_start)
{
    strom_put_u32(batch + 20, strom_crc32c(0, batch + 24, body_start - 24));
    strom_put_u32(batch + 16, strom_crc32c(0, batch + 20, len - 20));
}

void fmt_batch_stamp(uint8_t *batch, int64_t base_offset, int64_t commit_ts)
{
    strom_put_i64(batch, base_offset);
    strom_put_i64(batch + 56, commit_ts);
    if (strom_get_u16(batch + 24) & FMT_ATTR_COMMIT_TIME) {
        strom_put_i64(batch + 64, commit_ts);
        strom_put_i64(batch + 72, commit_ts);
    }
    fmt_batch_seal(batch, 12 + (size_t)strom_get_u32(batch + 8), body_start_of(batch));
}
