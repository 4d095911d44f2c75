/*
 * decode.c: record batches as they come off the wire (format.h) into strom_batch, with the
 * caller's projection and row filter. Two shapes of batch arrive:
 *  - stored batches (schema id >= 1): forwarded unchanged by a plain fetch; column i is
 *    column i of the table (columns added after the batch was written read as NULL, as
 *    in the engine), the time column is the table's;
 *  - result batches (schema id 0): re-encoded by the server for a projected or filtered
 *    fetch and for lookups; column i is the i-th column asked for (stc_decoder_request:
 *    the projection, then the filter columns it lacks), without a time column.
 * The server may skip batches by their statistics but sends kept batches whole, so the
 * client applies the filter to the rows itself: the rows handed out are exactly the
 * matching rows at or after the requested offset.
 */
#include <stdlib.h>

#include "client/client_int.h"

struct stc_decoder {
    const strom_schema *schema;   /* the table's current schema (borrowed) */
    int nproj, *proj;             /* projected schema columns */
    int nreq, *req;               /* columns asked of the server (result batches) */
    const char **req_names;
    int *src;                     /* schema column -> batch column of the current batch */
    int npreds;
    fmt_pred *preds;              /* string constants point into pred_data */
    strom_buf pred_data;
    fmt_decoder *dec;
    strom_batch *batch;
    fmt_dir *dirs;                /* FMT_MAX_COLUMNS */
    strom_column *tmp;            /* decoded columns by schema index */
    uint8_t *need;                /* schema column needed */
    uint8_t *keep;
    size_t keep_cap;
};

int stc_decoder_ncols(const stc_decoder *d)
{
    return d->nproj;
}

int stc_decoder_request(const stc_decoder *d, const char *const **names)
{
    *names = d->req_names;
    return d->nreq;
}

void stc_decoder_fetch_stored(stc_decoder *d)
{
    if (d->npreds == 0)
        d->nreq = 0;
}

/* The columns to ask for: none (all, stored batches) without projection and filter,
 * else the projection (all columns without one) and then the filter columns not in it. */
static strom_err set_request(stc_decoder *d, int all)
{
    d->req = strom_calloc((size_t)(d->nproj + d->npreds) + 1, sizeof(int));
    d->req_names = strom_calloc((size_t)(d->nproj + d->npreds) + 1, sizeof(char *));
    d->src = strom_calloc(FMT_MAX_COLUMNS, sizeof(int));
    if (!d->req || !d->req_names || !d->src)
        return STROM_ENOMEM;
    for (int j = 0; j < d->nproj; j++)
        d->req[d->nreq++] = d->proj[j];
    for (int i = 0; i < d->npreds; i++) {
        int have = 0;
        for (int j = 0; j < d->nreq; j++)
            have |= d->req[j] == d->preds[i].col;
        if (!have)
            d->req[d->nreq++] = d->preds[i].col;
    }
    for (int j = 0; j < d->nreq; j++)
        d->req_names[j] = d->schema->cols[d->req[j]].name;
    if (all && d->npreds == 0)
        d->nreq = 0; /* a plain read: stored batches, all columns */
    return STROM_OK;
}

static strom_err find_col(const stc_table *t, const char *name, const char *what, int *out)
{
    int c = name ? strom_schema_find(t->info->schema, name) : -1;
    if (c < 0)
        return strom_fail(STROM_ESCHEMA, "table '%s': %s: no column '%s'", t->name, what,
                          name ? name : "(null)");
    *out = c;
    return STROM_OK;
}

static strom_err set_proj(stc_decoder *d, const stc_table *t, const char *const *names, int n)
{
    int all = !names || n <= 0;
    d->nproj = all ? strom_schema_ncols(t->info->schema) : n;
    d->proj = strom_calloc((size_t)d->nproj + 1, sizeof(int));
    if (!d->proj)
        return STROM_ENOMEM;
    for (int j = 0; j < d->nproj; j++) {
        d->proj[j] = j;
        strom_err e = all ? STROM_OK : find_col(t, names[j], "projection", &d->proj[j]);
        if (e != STROM_OK)
            return e;
    }
    return STROM_OK;
}

static strom_err set_preds(stc_decoder *d, const stc_table *t, const strom_pred *p, int n)
{
    d->npreds = n;
    d->preds = strom_calloc((size_t)n + 1, sizeof *d->preds);
    if (!d->preds)
        return STROM_ENOMEM;
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += fmt_type_is_var(p[i].value.type) ? p[i].value.v.s.len : 0;
    if (strom_buf_reserve(&d->pred_data, total + 1) != STROM_OK)
        return STROM_ENOMEM;
    for (int i = 0; i < n; i++) {
        strom_err e = find_col(t, p[i].column, "filter", &d->preds[i].col);
        if (e != STROM_OK)
            return e;
        if (p[i].op < STROM_OP_EQ || p[i].op > STROM_OP_GE)
            return strom_fail(STROM_EINVAL, "table '%s': filter on '%s': unknown operator %d",
                              t->name, p[i].column, (int)p[i].op);
        d->preds[i].op = p[i].op;
        d->preds[i].value = p[i].value;
        if (fmt_type_is_var(p[i].value.type) && !p[i].value.is_null) {
            d->preds[i].value.v.s.ptr = (const char *)d->pred_data.data + d->pred_data.len;
            strom_buf_append(&d->pred_data, p[i].value.v.s.ptr, p[i].value.v.s.len);
        }
    }
    return STROM_OK;
}

strom_err stc_decoder_create(const stc_table *t, const char *const *names, int n,
                             const strom_pred *preds, int npreds, stc_decoder **out)
{
    *out = NULL;
    stc_decoder *d = strom_calloc(1, sizeof *d);
    if (!d)
        return STROM_ENOMEM;
    d->schema = t->info->schema;
    strom_err e = set_proj(d, t, names, n);
    if (e == STROM_OK)
        e = set_preds(d, t, preds, npreds);
    if (e == STROM_OK)
        e = set_request(d, !names || n <= 0);
    d->dec = fmt_decoder_create();
    d->batch = fmt_batch_create(d->nproj);
    d->dirs = strom_calloc(FMT_MAX_COLUMNS, sizeof *d->dirs);
    d->tmp = strom_calloc(FMT_MAX_COLUMNS, sizeof *d->tmp);
    d->need = strom_calloc(FMT_MAX_COLUMNS, 1);
    if (e == STROM_OK && (!d->dec || !d->batch || !d->dirs || !d->tmp || !d->need))
        e = STROM_ENOMEM;
    if (e != STROM_OK) {
        stc_decoder_free(d);
        return e;
    }
    *out = d;
    return STROM_OK;
}

void stc_decoder_free(stc_decoder *d)
{
    if (!d)
        return;
    free(d->proj);
    free(d->req);
    free(d->req_names);
    free(d->src);
    free(d->preds);
    strom_buf_free(&d->pred_data);
    fmt_decoder_destroy(d->dec);
    strom_batch_destroy(d->batch);
    free(d->dirs);
    free(d->tmp);
    free(d->need);
    free(d->keep);
    free(d);
}

/* Maps schema columns to the batch's columns (src, -1: not in the batch). */
static strom_err map_columns(stc_decoder *d, const fmt_hdr *h)
{
    int ns = strom_schema_ncols(d->schema);
    for (int c = 0; c < ns; c++)
        d->src[c] = h->schema_id ? (c < h->ncols ? c : -1) : -1;
    if (h->schema_id && h->ncols > ns)
        return strom_fail(STROM_ESCHEMA, "batch at offset %lld has %u columns, the table's "
                          "schema %d (describe it again)", (long long)h->base_offset, h->ncols, ns);
    if (h->schema_id)
        return STROM_OK;
    int nreq = d->nreq ? d->nreq : ns; /* no request list: all columns, in order */
    if (h->ncols != nreq)
        return strom_fail(STROM_EPROTO, "result batch at offset %lld has %u columns, %d were "
                          "asked for", (long long)h->base_offset, h->ncols, nreq);
    for (int i = 0; i < nreq; i++)
        d->src[d->nreq ? d->req[i] : i] = i;
    return STROM_OK;
}

/* Marks the batch columns to decode: projection, filter columns, time column. */
static void mark_needed(stc_decoder *d, const fmt_hdr *h)
{
    memset(d->need, 0, (size_t)h->ncols);
    for (int j = 0; j < d->nproj; j++)
        if (d->src[d->proj[j]] >= 0)
            d->need[d->src[d->proj[j]]] = 1;
    for (int i = 0; i < d->npreds; i++)
        if (d->src[d->preds[i].col] >= 0)
            d->need[d->src[d->preds[i].col]] = 1;
    if (h->time_col != FMT_NO_TIME_COLUMN && h->time_col < h->ncols)
        d->need[h->time_col] = 1;
}

static strom_err decode_columns(stc_decoder *d, const uint8_t *p, const fmt_hdr *h,
                                strom_batch *b)
{
    const strom_schema *s = d->schema;
    for (int c = 0; c < s->ncols; c++) {
        int i = d->src[c];
        if (i < 0 || !d->need[i])
            continue;
        if (d->dirs[i].type != s->cols[c].type)
            return strom_fail(STROM_ECORRUPT, "batch at offset %lld: column '%s' is %s, the "
                              "schema says %s", (long long)h->base_offset, s->cols[c].name,
                              strom_type_name(d->dirs[i].type) ? strom_type_name(d->dirs[i].type)
                                                               : "?",
                              strom_type_name(s->cols[c].type));
        strom_err e = fmt_decode_column(d->dec, &d->dirs[i], p + d->dirs[i].data_offset, h->nrows,
                                        b, s->cols[c].name, &d->tmp[c]);
        if (e != STROM_OK)
            return strom_fail_wrap(e, "batch at offset %lld", (long long)h->base_offset);
    }
    for (int j = 0; j < d->nproj; j++) {
        int c = d->proj[j];
        strom_err e = d->src[c] >= 0 ? STROM_OK
                                   : fmt_null_column(b, s->cols[c].type, h->nrows, s->cols[c].name,
                                                     &d->tmp[c]);
        if (e != STROM_OK)
            return e;
        b->cols[j] = d->tmp[c];
    }
    b->ncols = d->nproj;
    const strom_column *tc = h->schema_id && h->time_col != FMT_NO_TIME_COLUMN &&
                                     h->time_col < h->ncols
                                 ? &d->tmp[h->time_col] : NULL;
    return fmt_batch_set_rows(b, h, tc);
}

/* Drops rows below min_offset and rows failing the filter. */
static strom_err filter_rows(stc_decoder *d, strom_batch *b, const fmt_hdr *h, int64_t min_offset)
{
    size_t n = (size_t)b->nrows;
    if (n > d->keep_cap) {
        uint8_t *k = strom_realloc(d->keep, n);
        if (!k)
            return STROM_ENOMEM;
        d->keep = k;
        d->keep_cap = n;
    }
    memset(d->keep, 1, n);
    for (int i = 0; i < d->npreds; i++) {
        if (d->src[d->preds[i].col] < 0)
            memset(d->keep, 0, n); /* a column newer than the batch: NULL never matches */
        else
            fmt_pred_eval(&d->tmp[d->preds[i].col], &d->preds[i], d->keep);
    }
    for (int64_t r = 0; r < (int64_t)n && b->base_offset + r < min_offset; r++)
        d->keep[r] = 0;
    size_t kept = 0;
    for (size_t r = 0; r < n; r++)
        kept += d->keep[r];
    if (kept == 0) {   /* no rows: no column has any either (strom_batch_column) */
        b->nrows = 0;
        for (int j = 0; j < b->ncols; j++) {
            b->cols[j].length = b->cols[j].null_count = 0;
            b->cols[j].validity = NULL;
        }
    } else if (kept < n)
        return fmt_batch_compact(b, d->keep);
    return STROM_OK;
}

static strom_err decode_into(stc_decoder *d, const uint8_t *p, size_t len, int64_t min_offset,
                             strom_batch *b, int64_t *last)
{
    fmt_hdr h;
    strom_err e = fmt_batch_verify(p, len, &h, d->dirs);
    if (e == STROM_OK && (size_t)h.length + 12 != len)
        e = strom_fail(STROM_ECORRUPT, "batch of %zu bytes says it has %zu", len,
                       (size_t)h.length + 12);
    if (e == STROM_OK)
        e = map_columns(d, &h);
    if (e != STROM_OK)
        return e;
    if (last)
        *last = h.base_offset + (int64_t)h.last_offset_delta;
    mark_needed(d, &h);
    if ((e = fmt_batch_reset(b, &h, d->nproj)) == STROM_OK &&
        (e = decode_columns(d, p, &h, b)) == STROM_OK)
        e = filter_rows(d, b, &h, min_offset);
    return e;
}

strom_err stc_decode_batch(stc_decoder *d, const uint8_t *p, size_t len, int64_t min_offset,
                           const strom_batch **out, int64_t *last_offset)
{
    *out = NULL;
    strom_err e = decode_into(d, p, len, min_offset, d->batch, last_offset);
    if (e == STROM_OK)
        *out = d->batch;
    return e;
}

/* Rows of every batch in order, gathered into one owned batch. */
static strom_err gather(strom_batch **bs, int nb, int ncols, strom_batch **out)
{
    int64_t total = 0;
    for (int i = 0; i < nb; i++)
        total += bs[i]->nrows;
    int *which = strom_calloc((size_t)total + 1, sizeof *which);
    int64_t *rows = strom_calloc((size_t)total + 1, sizeof *rows);
    strom_err e = which && rows ? STROM_OK : STROM_ENOMEM;
    int64_t k = 0;
    for (int i = 0; e == STROM_OK && i < nb; i++)
        for (int64_t r = 0; r < bs[i]->nrows; r++, k++)
            which[k] = i, rows[k] = r;
    if (e == STROM_OK)
        e = cat_batch_gather(bs, which, rows, total, ncols, out);
    free(which);
    free(rows);
    return e;
}

strom_err stc_decode_all(stc_decoder *d, const proto_records *r, strom_batch **out)
{
    *out = NULL;
    strom_batch **bs = strom_calloc((size_t)r->nbatches + 1, sizeof *bs);
    if (!bs)
        return STROM_ENOMEM;
    strom_err e = STROM_OK;
    int nb = 0;
    int64_t rows = 0;
    for (uint32_t i = 0; e == STROM_OK && i < r->nbatches; i++) {
        if (!(bs[nb] = fmt_batch_create(d->nproj)))
            e = STROM_ENOMEM;
        else if ((e = decode_into(d, r->batches[i].p, r->batches[i].len, INT64_MIN, bs[nb],
                                  NULL)) == STROM_OK)
            rows += bs[nb]->nrows;
        nb += bs[nb] != NULL;
    }
    if (e == STROM_OK && rows > 0 && nb == 1) {
        *out = bs[0];
        bs[0] = NULL;
    } else if (e == STROM_OK && rows > 0) {
        e = gather(bs, nb, d->nproj, out);
    }
    for (int i = 0; i < nb; i++)
        strom_batch_destroy(bs[i]);
    free(bs);
    return e;
}
