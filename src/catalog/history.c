/* history.c: strom_table_key_history. When 'table.log.index.key' equals 'bucket.key' the
 * key lives in one bucket and that bucket answers; otherwise every bucket is asked and
 * the answers are merged newest-first into one batch. */
#include "cat_int.h"

#include <stdio.h>
#include <stdlib.h>

/* --------------------------------------------------------------- gather */

static strom_err gather_fixed(strom_batch *dst, strom_column *c, strom_batch *const *src,
                              const int *which, const int64_t *rows, int64_t n, int col)
{
    int w = fmt_type_width(c->type);
    size_t bytes = w ? (size_t)n * (size_t)w : (size_t)(n + 7) / 8;
    uint8_t *v = fmt_batch_alloc(dst, bytes + 1);
    if (!v)
        return STROM_ENOMEM;
    memset(v, 0, bytes + 1);
    for (int64_t i = 0; i < n; i++) {
        const strom_column *s = &src[which[i]]->cols[col];
        const uint8_t *sv = s->values;
        if (w)
            memcpy(v + (size_t)i * (size_t)w, sv + (size_t)rows[i] * (size_t)w, (size_t)w);
        else if (sv[rows[i] >> 3] >> (rows[i] & 7) & 1)
            v[i >> 3] |= (uint8_t)(1u << (i & 7));
    }
    c->values = v;
    return STROM_OK;
}

static strom_err gather_var(strom_batch *dst, strom_column *c, strom_batch *const *src,
                            const int *which, const int64_t *rows, int64_t n, int col)
{
    int32_t *off = fmt_batch_alloc(dst, (size_t)(n + 1) * sizeof *off);
    int64_t total = 0;
    for (int64_t i = 0; off && i < n; i++) {
        const strom_column *s = &src[which[i]]->cols[col];
        off[i] = (int32_t)total;
        total += s->offsets[rows[i] + 1] - s->offsets[rows[i]];
    }
    if (total > INT32_MAX)
        return strom_fail(STROM_ELIMIT, "key history: %lld string bytes in one column",
                          (long long)total);
    uint8_t *d = off ? fmt_batch_alloc(dst, (size_t)total + 1) : NULL;
    if (!d)
        return STROM_ENOMEM;
    for (int64_t i = 0; i < n; i++) {
        const strom_column *s = &src[which[i]]->cols[col];
        memcpy(d + off[i], s->data + s->offsets[rows[i]],
               (size_t)(s->offsets[rows[i] + 1] - s->offsets[rows[i]]));
    }
    off[n] = (int32_t)total;
    c->offsets = off;
    c->data = d;
    return STROM_OK;
}

static strom_err gather_validity(strom_batch *dst, strom_column *c, strom_batch *const *src,
                                 const int *which, const int64_t *rows, int64_t n, int col)
{
    uint8_t *bm = fmt_batch_alloc(dst, (size_t)(n + 7) / 8 + 1);
    if (!bm)
        return STROM_ENOMEM;
    memset(bm, 0, (size_t)(n + 7) / 8 + 1);
    c->null_count = 0;
    for (int64_t i = 0; i < n; i++) {
        const strom_column *s = &src[which[i]]->cols[col];
        int valid = !s->validity || (s->validity[rows[i] >> 3] >> (rows[i] & 7) & 1);
        if (valid)
            bm[i >> 3] |= (uint8_t)(1u << (i & 7));
        else
            c->null_count++;
    }
    c->validity = c->null_count ? bm : NULL;
    return STROM_OK;
}

static strom_err gather_meta(strom_batch *b, strom_batch *const *src, const int *which,
                             const int64_t *rows, int64_t n)
{
    int64_t *off = fmt_batch_alloc(b, (size_t)n * sizeof *off);
    int64_t *tm = fmt_batch_alloc(b, (size_t)n * sizeof *tm);
    if (!off || !tm)
        return STROM_ENOMEM;
    for (int64_t i = 0; i < n; i++) {
        off[i] = strom_batch_row_offset(src[which[i]], rows[i]);
        tm[i] = strom_batch_row_time(src[which[i]], rows[i]);
    }
    b->row_offsets = off;
    b->row_times = tm;
    b->base_offset = n ? off[0] : 0;
    return STROM_OK;
}

strom_err cat_batch_gather(strom_batch *const *src, const int *which, const int64_t *rows,
                           int64_t n, int ncols, strom_batch **out)
{
    *out = NULL;
    strom_batch *b = fmt_batch_create(ncols);
    fmt_hdr h = {.nrows = (uint32_t)n, .ncols = (uint16_t)ncols};
    strom_err err = b ? fmt_batch_reset(b, &h, ncols) : STROM_ENOMEM;
    if (err == STROM_OK) {
        b->nrows = n;
        b->ncols = ncols;
        b->schema_id = n ? src[which[0]]->schema_id : 0;
        b->commit_ts = n ? src[which[0]]->commit_ts : 0;
        b->changes = NULL;
        err = gather_meta(b, src, which, rows, n);
    }
    for (int c = 0; err == STROM_OK && c < ncols; c++) {
        strom_column *col = &b->cols[c];
        *col = src[which[0]]->cols[c];
        col->length = n;
        err = fmt_type_is_var(col->type) ? gather_var(b, col, src, which, rows, n, c)
                                         : gather_fixed(b, col, src, which, rows, n, c);
        if (err == STROM_OK)
            err = gather_validity(b, col, src, which, rows, n, c);
    }
    if (err != STROM_OK) {
        strom_batch_destroy(b);
        return err == STROM_ENOMEM ? strom_fail(err, "key history: out of memory") : err;
    }
    *out = b;
    return STROM_OK;
}

/* ---------------------------------------------------------------- merge */

/* Merges per-bucket answers (each newest first) into the newest n rows. */
static strom_err merge_answers(strom_batch *const *res, int nres, int64_t n, int ncols,
                               strom_batch **out)
{
    int64_t total = 0, pos[CAT_MAX_BUCKETS] = {0};
    int first = -1;
    for (int i = 0; i < nres; i++) {
        total += res[i] ? res[i]->nrows : 0;
        if (first < 0 && res[i])
            first = i;
    }
    if (first < 0)
        return strom_fail(STROM_EIO, "key history: no bucket answered");
    total = STROM_MIN(total, n);
    int *which = strom_malloc((size_t)(total + 1) * sizeof *which);
    int64_t *rows = strom_malloc((size_t)(total + 1) * sizeof *rows);
    strom_err err = which && rows ? STROM_OK : STROM_ENOMEM;
    for (int64_t k = 0; err == STROM_OK && k < total; k++) {
        int best = -1;
        int64_t bt = 0;
        for (int i = 0; i < nres; i++) {
            if (!res[i] || pos[i] >= res[i]->nrows)
                continue;
            int64_t tm = strom_batch_row_time(res[i], pos[i]);
            if (best < 0 || tm > bt) {
                best = i;
                bt = tm;
            }
        }
        which[k] = best;
        rows[k] = pos[best]++;
    }
    if (err == STROM_OK && total == 0) /* an empty answer keeps the projection's columns */
        err = cat_batch_gather(res, &first, rows, 0, ncols, out);
    else if (err == STROM_OK)
        err = cat_batch_gather(res, which, rows, total, ncols, out);
    free(which);
    free(rows);
    return err;
}

/* ------------------------------------------------------------------ key */

static strom_err key_bytes(const strom_table *t, const strom_value *key, int nkey,
                           strom_buf *out)
{
    const cat_opts *o = &t->e->meta.opts;
    const strom_schema *s = cat_meta_schema(&t->e->meta);
    if (o->nindex_key == 0)
        return strom_fail(STROM_EUNSUPPORTED, "table %s: key history needs the option "
                          "'table.log.index.key'", cat_tname(t));
    if (nkey != o->nindex_key || !key)
        return strom_fail(STROM_EINVAL, "table %s: key history: %d key values given, "
                          "'table.log.index.key' = '%s' has %d columns", cat_tname(t), nkey,
                          cat_opts_get(o, "table.log.index.key"), o->nindex_key);
    for (int k = 0; k < nkey; k++) {
        const fmt_column_def *c = &s->cols[o->index_key[k]];
        strom_value v;
        char what[64];
        snprintf(what, sizeof what, "key value %d", k);
        strom_err err = cat_convert_value(t, c, &key[k], what, &v);
        if (err == STROM_OK)
            err = fmt_key_from_value(out, c->type, &v);
        if (err != STROM_OK)
            return err;
    }
    return STROM_OK;
}

/* The one bucket holding the key, or -1 when every bucket must be asked. */
static int key_bucket(const cat_opts *o, const strom_buf *key)
{
    if (o->nbuckets == 1)
        return 0;
    if (o->nbucket_key != o->nindex_key ||
        memcmp(o->bucket_key, o->index_key, sizeof(int) * (size_t)o->nindex_key))
        return -1;
    return fmt_bucket_of(key->data, key->len, o->nbuckets);
}

static strom_err ask_buckets(strom_table *t, const strom_buf *key, int64_t time, int64_t n,
                             const log_read_spec *spec, strom_batch **out)
{
    int nb = t->e->meta.opts.nbuckets;
    strom_batch **res = strom_calloc((size_t)nb, sizeof *res);
    if (!res)
        return STROM_ENOMEM;
    strom_err err = STROM_OK;
    for (int i = 0; err == STROM_OK && i < nb; i++)
        if ((err = log_bucket_key_history(t->e->buckets[i], key->data, key->len, time, n, spec,
                                          &res[i])) != STROM_OK)
            strom_fail_wrap(err, "table %s: key history in bucket %d", cat_tname(t), i);
    int ncols = spec->proj ? spec->nproj : spec->schema->ncols;
    if (err == STROM_OK)
        err = merge_answers(res, nb, n, ncols, out);
    for (int i = 0; i < nb; i++)
        strom_batch_destroy(res[i]);
    free(res);
    return err;
}

static strom_err history_locked(strom_table *t, const strom_value *key, int nkey, int64_t time,
                                int64_t n, const char *const *columns, int ncolumns,
                                strom_batch **out)
{
    const strom_schema *s = cat_meta_schema(&t->e->meta);
    strom_buf kb = {0};
    int *proj = NULL;
    strom_err err = key_bytes(t, key, nkey, &kb);
    if (err == STROM_OK)
        err = cat_resolve_proj(t, s, columns, columns ? ncolumns : 0, &proj);
    log_read_spec spec = {.schema = s, .proj = proj, .nproj = proj ? ncolumns : 0,
                          .time_min = INT64_MIN, .time_max = INT64_MAX};
    int bk = err == STROM_OK ? key_bucket(&t->e->meta.opts, &kb) : 0;
    if (err == STROM_OK && bk >= 0 &&
        (err = log_bucket_key_history(t->e->buckets[bk], kb.data, kb.len, time, n, &spec, out)))
        strom_fail_wrap(err, "table %s: key history in bucket %d", cat_tname(t), bk);
    else if (err == STROM_OK && bk < 0)
        err = ask_buckets(t, &kb, time, n, &spec, out);
    free(proj);
    strom_buf_free(&kb);
    return err;
}

strom_err strom_table_key_history(strom_table *t, const strom_value *key, int nkey, int64_t time,
                                  int64_t n, const char *const *columns, int ncolumns,
                                  strom_batch **out)
{
    *out = NULL;
    if (n < 1)
        return strom_fail(STROM_EINVAL, "table %s: key history: n = %lld, must be >= 1",
                          cat_tname(t), (long long)n);
    pthread_rwlock_rdlock(&t->e->lock);
    strom_err err = history_locked(t, key, nkey, time, n, columns, ncolumns, out);
    pthread_rwlock_unlock(&t->e->lock);
    return err;
}
