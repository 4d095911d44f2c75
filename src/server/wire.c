/* wire.c: record batches between the wire and the engine, where they cannot be forwarded
 * as they are: a projected or filtered fetch, lookups and key history (engine batches ->
 * one wire batch), and PUT_KV (a wire batch -> a builder for strom_table_write). Values
 * are copied column by column into a builder and encoded by the storage's own encoder, so
 * a wire batch is always exactly what format.h describes. */
#include "srv_int.h"

#include <stdio.h>
#include <stdlib.h>

strom_err srv_scratch_init(srv_scratch *x)
{
    memset(x, 0, sizeof *x);
    x->enc = fmt_encoder_create();
    x->dec = fmt_decoder_create();
    x->dirs = calloc(FMT_MAX_COLUMNS, sizeof *x->dirs);
    x->batch = fmt_batch_create(FMT_MAX_COLUMNS);
    if (x->enc && x->dec && x->dirs && x->batch)
        return STROM_OK;
    srv_scratch_free(x);
    return strom_fail(STROM_ENOMEM, "out of memory for request scratch");
}

void srv_scratch_free(srv_scratch *x)
{
    fmt_encoder_destroy(x->enc);
    if (x->dec)
        fmt_decoder_destroy(x->dec);
    free(x->dirs);
    strom_batch_destroy(x->batch);
    strom_builder_destroy(x->rows);
    strom_buf_free(&x->records);
    strom_buf_free(&x->tmp);
    memset(x, 0, sizeof *x);
}

static int bit(const uint8_t *bm, int64_t r) { return (bm[r >> 3] >> (r & 7)) & 1; }

/* Puts row r of column c into column col of bld. */
static strom_err put_value(strom_builder *bld, int col, const strom_column *c, int64_t r)
{
    if (c->validity && !bit(c->validity, r))
        return strom_builder_put_null(bld, col);
    switch (c->type) {
    case STROM_BOOLEAN:
        return strom_builder_put_int(bld, col, bit(c->values, r));
    case STROM_INT:
        return strom_builder_put_int(bld, col, ((const int32_t *)c->values)[r]);
    case STROM_BIGINT:
    case STROM_TIMESTAMP:
        return strom_builder_put_int(bld, col, ((const int64_t *)c->values)[r]);
    case STROM_FLOAT:
        return strom_builder_put_f64(bld, col, ((const float *)c->values)[r]);
    case STROM_DOUBLE:
        return strom_builder_put_f64(bld, col, ((const double *)c->values)[r]);
    case STROM_STRING:
    case STROM_BYTES:
        return strom_builder_put_str(bld, col, c->data + c->offsets[r],
                                     (size_t)(c->offsets[r + 1] - c->offsets[r]));
    }
    return strom_fail(STROM_ECORRUPT, "column of unknown type %d", (int)c->type);
}

/* Copies rows [from, to) of columns cols[0..n) of b into bld (whose columns are those). */
static strom_err copy_rows(const strom_batch *b, const int *cols, int n, int64_t from,
                           int64_t to, strom_builder *bld)
{
    strom_column cs[FMT_MAX_COLUMNS];
    for (int j = 0; j < n; j++)
        if (strom_batch_column(b, cols ? cols[j] : j, &cs[j]) != STROM_OK)
            return strom_fail(STROM_EINVAL, "batch column %d out of range", cols ? cols[j] : j);
    strom_err e = STROM_OK;
    for (int64_t r = from; e == STROM_OK && r < to; r++) {
        for (int j = 0; e == STROM_OK && j < n; j++)
            e = put_value(bld, j, &cs[j], r);
        if (e == STROM_OK)
            e = strom_builder_end_row(bld);
    }
    return e;
}

strom_err srv_batch_to_builder(const strom_batch *b, int64_t from, int64_t to, strom_builder *bld)
{
    return copy_rows(b, NULL, strom_batch_ncols(b), from, to, bld);
}

/* The builder schema of a result batch: the columns' types. Wire batches carry no column
 * names (the reader knows its projection), so the names are just c0, c1, ... (a projection
 * may name a column twice). */
static strom_schema *schema_of(const strom_batch *b, const int *cols, int n)
{
    strom_schema *s = strom_schema_create();
    for (int j = 0; s && j < n; j++) {
        strom_column c;
        char name[16];
        strom_batch_column(b, cols ? cols[j] : j, &c);
        snprintf(name, sizeof name, "c%d", j);
        if (strom_schema_add(s, name, c.type, 0) != STROM_OK) {
            strom_schema_destroy(s);
            return NULL;
        }
    }
    return s;
}

strom_err srv_batch_to_wire(srv_scratch *x, const strom_batch *b, const int *cols, int ncols,
                            int64_t from, int64_t to, int with_changes, strom_buf *out)
{
    if (!x->enc)
        return strom_fail(STROM_ENOMEM, "no encoder");
    if (!b || to <= from)
        return STROM_OK;
    int n = cols ? ncols : strom_batch_ncols(b);
    int64_t nrows = to - from;
    strom_schema *s = schema_of(b, cols, n);
    strom_builder *bld = s ? strom_builder_create(s) : NULL;
    strom_err e = bld ? copy_rows(b, cols, n, from, to, bld)
                      : strom_fail(STROM_ENOMEM, "out of memory for a result batch");
    fmt_encode_opts o;
    fmt_encode_opts_init(&o);
    o.codec = FMT_CODEC_LZ4;
    o.time_col = -1;
    strom_buf_clear(&x->tmp);
    uint8_t *ch = with_changes && e == STROM_OK ? strom_buf_grow(&x->tmp, (size_t)nrows) : NULL;
    for (int64_t r = 0; ch && r < nrows; r++)
        ch[r] = (uint8_t)strom_batch_row_change(b, from + r);
    o.changes = ch;
    size_t start = out->len;
    if (e == STROM_OK && (e = fmt_encode(x->enc, bld, NULL, 0, &o, out)) == STROM_OK)
        fmt_batch_stamp(out->data + start, strom_batch_row_offset(b, from),
                        strom_batch_commit_time(b));
    strom_builder_destroy(bld);
    strom_schema_destroy(s);
    return e;
}

strom_err srv_wire_decode(srv_scratch *x, strom_table *t, const uint8_t *bytes, size_t len,
                          fmt_hdr *h)
{
    if (!x->dec || !x->batch)
        return strom_fail(STROM_ENOMEM, "no decoder");
    const strom_schema *s = strom_table_schema(t);
    strom_err e = fmt_batch_verify(bytes, len, h, x->dirs);
    if (e != STROM_OK)
        return e;
    int n = strom_schema_ncols(s);
    if (h->schema_id != strom_schema_id(s) || h->ncols != (uint32_t)n)
        return strom_fail(STROM_ESCHEMA, "batch of schema %u with %u columns; the table's "
                          "schema is %u with %d columns", h->schema_id, h->ncols,
                          strom_schema_id(s), n);
    if ((e = fmt_batch_reset(x->batch, h, n)) != STROM_OK)
        return e;
    for (int i = 0; i < n && e == STROM_OK; i++) {
        if (x->dirs[i].type != strom_schema_col_type(s, i))
            return strom_fail(STROM_ESCHEMA, "batch column %d is %s, column '%s' is %s", i,
                              strom_type_name(x->dirs[i].type) ? strom_type_name(x->dirs[i].type)
                                                               : "?",
                              strom_schema_col_name(s, i),
                              strom_type_name(strom_schema_col_type(s, i)));
        e = fmt_decode_column(x->dec, &x->dirs[i], bytes + x->dirs[i].data_offset, h->nrows,
                              x->batch, strom_schema_col_name(s, i), &x->batch->cols[i]);
    }
    if (e == STROM_OK)
        e = fmt_batch_set_rows(x->batch, h, NULL);
    return e;
}

/* 1 if builder b can hold rows of schema s: same column types and nullability. */
static int rows_fit(const strom_builder *b, const strom_schema *s)
{
    const strom_schema *bs = fmt_builder_schema(b);
    int n = strom_schema_ncols(s);
    if (strom_schema_ncols(bs) != n)
        return 0;
    for (int i = 0; i < n; i++)
        if (strom_schema_col_type(bs, i) != strom_schema_col_type(s, i) ||
            strom_schema_col_nullable(bs, i) != strom_schema_col_nullable(s, i))
            return 0;
    return 1;
}

strom_err srv_scratch_rows(srv_scratch *x, const strom_schema *s, strom_builder **out)
{
    if (x->rows && !rows_fit(x->rows, s)) {
        strom_builder_destroy(x->rows);
        x->rows = NULL;
    }
    if (!x->rows) {
        if (!(x->rows = strom_builder_create(s)))
            return strom_fail(STROM_ENOMEM, "out of memory for a lookup builder");
        /* schema id 0: the wire batch is read by position, like every result batch */
        fmt_schema_set_id((strom_schema *)fmt_builder_schema(x->rows), 0);
    }
    strom_builder_reset(x->rows);
    *out = x->rows;
    return STROM_OK;
}

strom_err srv_rows_to_wire(srv_scratch *x, const strom_builder *b, const int *cols, int ncols,
                           strom_buf *out)
{
    if (!x->enc || !x->batch)
        return strom_fail(STROM_ENOMEM, "no encoder");
    if (strom_builder_nrows(b) == 0)
        return STROM_OK;
    if (cols) { /* a projection: through a batch of the projected columns */
        strom_err e = fmt_batch_from_builder(b, cols, ncols, x->batch);
        return e ? e : srv_batch_to_wire(x, x->batch, NULL, 0, 0, strom_batch_nrows(x->batch),
                                         0, out);
    }
    fmt_encode_opts o;
    fmt_encode_opts_init(&o);
    o.codec = FMT_CODEC_NONE; /* a few rows: compressing costs more than it saves */
    o.time_col = -1;
    return fmt_encode(x->enc, b, NULL, 0, &o, out);
}
