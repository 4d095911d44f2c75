/* encode.c: fmt_encode: builder rows -> one record batch (layout in format.h). Each
 * column is encoded into e->raw, compressed into e->body; then header, directory, stats
 * blob, change vector and body are assembled in out. */
#include "fmt_int.h"

void fmt_encode_opts_init(fmt_encode_opts *o)
{
    *o = (fmt_encode_opts){.codec = FMT_CODEC_ZSTD, .zstd_level = 3, .time_col = -1,
                           .writer_id = -1, .batch_seq = -1, .block_size = FMT_BLOCK_SIZE};
}

/* Appends a string bound (truncated to FMT_STAT_STR_MAX) to the stats blob; returns the
 * directory field value (offset | length << 32). */
static uint64_t put_stat_str(fmt_encoder *e, const uint8_t *p, uint32_t len, int *trunc)
{
    *trunc = len > FMT_STAT_STR_MAX;
    len = *trunc ? FMT_STAT_STR_MAX : len;
    uint64_t field = (uint64_t)e->blob.len | (uint64_t)len << 32;
    return strom_buf_append(&e->blob, p, len) == STROM_OK ? field : UINT64_MAX;
}

/* Arrow-layout size of the selected rows of v. */
static uint64_t arrow_bytes(const fmt_vec *v, const uint32_t *sel, uint32_t n, uint32_t nulls)
{
    uint64_t size = nulls ? fmt_bm_bytes(n) : 0;
    if (v->type == STROM_BOOLEAN)
        return size + fmt_bm_bytes(n);
    if (!fmt_type_is_var(v->type))
        return size + (uint64_t)n * (uint64_t)fmt_type_width(v->type);
    const int32_t *off = (const int32_t *)(const void *)v->offsets.data;
    for (uint32_t i = 0; i < n; i++)
        size += (uint64_t)(off[sel[i] + 1] - off[sel[i]]);
    return size + 4 * ((uint64_t)n + 1);
}

static strom_err encode_values(fmt_encoder *e, const fmt_vec *v, const uint32_t *sel,
                               uint32_t n, const uint8_t *bm, int plain_only, fmt_colstat *st,
                               uint8_t *enc)
{
    if (v->type == STROM_BOOLEAN)
        return fmt_enc_bool(e, v, sel, n, bm, st, enc);
    if (fmt_type_is_float(v->type))
        return fmt_enc_float(e, v, sel, n, bm, plain_only, st, enc);
    if (fmt_type_is_var(v->type))
        return fmt_enc_str(e, v, sel, n, bm, plain_only, st, enc);
    return fmt_enc_int(e, v, sel, n, bm, plain_only, st, enc);
}

/* Fills d's stats fields from st (string bounds go to the blob). */
static strom_err set_stats(fmt_encoder *e, fmt_dir *d, const fmt_colstat *st)
{
    d->flags |= st->flags & (FMT_F_STATS | FMT_F_NAN);
    if (!(st->flags & FMT_F_STATS) || !fmt_type_is_var(d->type)) {
        d->min = st->flags & FMT_F_STATS ? st->min : 0;
        d->max = st->flags & FMT_F_STATS ? st->max : 0;
        return STROM_OK;
    }
    int tmin, tmax;
    d->min = put_stat_str(e, st->smin, st->smin_len, &tmin);
    d->max = put_stat_str(e, st->smax, st->smax_len, &tmax);
    d->flags |= tmax ? FMT_F_MAX_TRUNC : 0;
    return d->min == UINT64_MAX || d->max == UINT64_MAX ? STROM_ENOMEM : STROM_OK;
}

/* Encodes one column into e->body and its directory entry into d (data_offset relative
 * to the body); *arrow accumulates the Arrow size. */
static strom_err encode_column(fmt_encoder *e, const fmt_vec *v, const uint32_t *sel,
                               uint32_t n, const fmt_encode_opts *o, fmt_dir *d, uint64_t *arrow)
{
    fmt_colstat st = {0};
    const uint8_t *bm = NULL;
    e->raw.len = 0;
    if (v->null_count) {
        e->bits.len = 0;
        uint8_t *b = strom_buf_grow(&e->bits, fmt_bm_bytes(n));
        if (!b)
            return STROM_ENOMEM;
        st.nulls = fmt_gather_validity(v, sel, n, b);
        if (st.nulls && strom_buf_append(&e->raw, b, fmt_bm_bytes(n)) != STROM_OK)
            return STROM_ENOMEM;
        bm = st.nulls ? b : NULL;
    }
    *d = (fmt_dir){.type = v->type, .null_count = st.nulls, .flags = bm ? FMT_F_VALIDITY : 0};
    strom_err err = encode_values(e, v, sel, n, bm, o->plain_only, &st, &d->encoding);
    if (err == STROM_OK)
        err = set_stats(e, d, &st);
    if (err != STROM_OK)
        return err;
    *arrow += arrow_bytes(v, sel, n, st.nulls);
    d->raw_length = (uint32_t)e->raw.len;
    d->data_offset = (uint32_t)e->body.len;
    if (e->raw.len > FMT_MAX_BATCH_BYTES)
        return strom_fail(STROM_ELIMIT, "encode: column chunk of %zu bytes is too large", e->raw.len);
    err = fmt_compress(e, o->codec, o->zstd_level, o->block_size, e->raw.data, e->raw.len,
                       &e->body, &d->codec);
    d->data_length = (uint32_t)(e->body.len - d->data_offset);
    d->crc = strom_crc32c(0, e->body.data + d->data_offset, d->data_length);
    return err;
}

static strom_err check_opts(const strom_builder *b, const uint32_t *sel, size_t n,
                            const fmt_encode_opts *o)
{
    if (n == 0)
        return strom_fail(STROM_EINVAL, "encode: no rows");
    if (n > INT32_MAX)
        return strom_fail(STROM_ELIMIT, "encode: %zu rows in one batch", n);
    if (o->codec < FMT_CODEC_NONE || o->codec > FMT_CODEC_LZ4)
        return strom_fail(STROM_EINVAL, "encode: unknown codec %d", o->codec);
    if (o->block_size && (o->block_size < 64 || o->block_size > (1u << 24) ||
                          (o->block_size & (o->block_size - 1))))
        return strom_fail(STROM_EINVAL, "encode: block size %u is not 0 or a power of two in "
                          "[64, 16 MiB]", o->block_size);
    const strom_schema *s = b->schema;
    if (o->time_col >= s->ncols || o->time_col < -1 ||
        (o->time_col >= 0 && (!fmt_type_is_int(s->cols[o->time_col].type) ||
                              s->cols[o->time_col].type == STROM_BOOLEAN)))
        return strom_fail(STROM_EINVAL, "encode: time column %d is not an INT/BIGINT/TIMESTAMP "
                          "column", o->time_col);
    for (size_t i = 0; sel && i < n; i++)
        if (sel[i] >= (uint64_t)b->nrows)
            return strom_fail(STROM_EINVAL, "encode: selected row %u of %lld", sel[i],
                              (long long)b->nrows);
    return STROM_OK;
}

/* The selection as an array: sel itself, or the identity 0..n-1. */
static const uint32_t *selection(fmt_encoder *e, const uint32_t *sel, uint32_t n)
{
    if (sel)
        return sel;
    size_t have = e->ident.len / 4;
    if (have < n) {
        if (!strom_buf_grow(&e->ident, ((size_t)n - have) * 4))
            return NULL;
        uint32_t *id = (uint32_t *)(void *)e->ident.data;
        for (size_t i = have; i < n; i++)
            id[i] = (uint32_t)i;
    }
    return (const uint32_t *)(void *)e->ident.data;
}

static strom_err gather_changes(fmt_encoder *e, const uint32_t *sel, uint32_t n,
                                const uint8_t *changes)
{
    e->changes.len = 0;
    uint8_t *p = strom_buf_grow(&e->changes, n);
    if (!p)
        return STROM_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        p[i] = changes[sel[i]];
        if (p[i] > STROM_DELETE)
            return strom_fail(STROM_EINVAL, "encode: row %u has change type %u", sel[i], p[i]);
    }
    return STROM_OK;
}

/* Header fields of the batch being built (time bounds from the time column's stats). */
static void fill_header(fmt_hdr *h, const fmt_encode_opts *o, uint32_t n, int ncols,
                        const fmt_dir *dirs, uint32_t stats_size, int with_changes)
{
    *h = (fmt_hdr){.ncols = (uint16_t)ncols, .nrows = n, .last_offset_delta = n - 1,
                   .writer_id = o->writer_id, .batch_seq = o->batch_seq,
                   .stats_size = stats_size, .time_col = FMT_NO_TIME_COLUMN};
    h->attributes = with_changes ? FMT_ATTR_CHANGES : 0;
    h->body_start = FMT_HEADER_SIZE + FMT_DIR_ENTRY_SIZE * (uint32_t)ncols + stats_size +
                    (with_changes ? n : 0);
    if (o->time_col < 0) {
        h->attributes |= FMT_ATTR_COMMIT_TIME;
        return;
    }
    const fmt_dir *t = &dirs[o->time_col];
    h->time_col = (uint32_t)o->time_col;
    h->min_time = t->flags & FMT_F_STATS ? (int64_t)t->min : INT64_MIN;
    h->max_time = t->flags & FMT_F_STATS ? (int64_t)t->max : INT64_MIN;
}

/* Writes header, directory, blob, changes and body to out. */
static strom_err assemble(fmt_encoder *e, fmt_hdr *h, fmt_dir *dirs, strom_buf *out)
{
    uint64_t total = (uint64_t)h->body_start + e->body.len;
    if (total > FMT_MAX_BATCH_BYTES)
        return strom_fail(STROM_ELIMIT, "encode: batch of %llu bytes exceeds the %u limit",
                          (unsigned long long)total, FMT_MAX_BATCH_BYTES);
    uint8_t *p = strom_buf_grow(out, (size_t)total);
    if (!p)
        return STROM_ENOMEM;
    h->length = (uint32_t)(total - 12);
    fmt_hdr_write(p, h);
    for (int c = 0; c < h->ncols; c++) {
        dirs[c].data_offset += h->body_start;
        fmt_dir_write(p + FMT_HEADER_SIZE + FMT_DIR_ENTRY_SIZE * c, &dirs[c]);
    }
    uint8_t *q = p + FMT_HEADER_SIZE + FMT_DIR_ENTRY_SIZE * h->ncols;
    memcpy(q, e->blob.data ? e->blob.data : (const uint8_t *)"", e->blob.len);
    if (h->attributes & FMT_ATTR_CHANGES)
        memcpy(q + e->blob.len, e->changes.data, h->nrows);
    if (e->body.len)
        memcpy(p + h->body_start, e->body.data, e->body.len);
    fmt_batch_seal(p, (size_t)total, h->body_start);
    return STROM_OK;
}

strom_err fmt_encode(fmt_encoder *e, const strom_builder *b, const uint32_t *sel, size_t nsel,
                     const fmt_encode_opts *o, strom_buf *out)
{
    size_t n0 = sel ? nsel : (size_t)b->nrows;
    strom_err err = check_opts(b, sel, n0, o);
    if (err != STROM_OK)
        return err;
    uint32_t n = (uint32_t)n0;
    int ncols = b->schema->ncols;
    const uint32_t *rows = selection(e, sel, n);
    e->body.len = e->blob.len = e->dir.len = 0;
    fmt_dir *dirs = (fmt_dir *)(void *)strom_buf_grow(&e->dir, sizeof(fmt_dir) * (size_t)(ncols + 1));
    if (!rows || !dirs)
        return STROM_ENOMEM;
    uint64_t arrow = 0;
    for (int c = 0; c < ncols && err == STROM_OK; c++)
        err = encode_column(e, &b->cols[c], rows, n, o, &dirs[c], &arrow);
    if (err == STROM_OK && o->changes)
        err = gather_changes(e, rows, n, o->changes);
    if (err == STROM_OK && arrow > UINT32_MAX)
        err = strom_fail(STROM_ELIMIT, "encode: decoded size %llu exceeds 4 GiB",
                         (unsigned long long)arrow);
    if (err != STROM_OK)
        return err == STROM_ENOMEM ? strom_fail(err, "encode: out of memory") : err;
    fmt_hdr h;
    fill_header(&h, o, n, ncols, dirs, (uint32_t)e->blob.len, o->changes != NULL);
    h.schema_id = b->schema->id;
    h.arrow_size = (uint32_t)arrow;
    return assemble(e, &h, dirs, out);
}
