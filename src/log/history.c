/* history.c: newest n rows of one key at or before a time, from the key indexes.
 *
 * Phase 1 gathers the batches the key indexes name (all segments), drops those whose
 * rows are all newer than t, and visits them by descending batch max_time, decoding only
 * the key columns and the time column, keeping the best n rows in a heap. It stops as soon
 * as the n-th best row is newer than every remaining batch's max_time (row times are not
 * monotonic in offsets, batch max_time bounds them). Phase 2 re-reads only the batches
 * holding winners, decodes the projected columns and gathers the rows, newest first, into
 * one owned batch. */
#include "log_int.h"

#include <stdlib.h>

typedef struct hcand {
    log_segment *s;
    uint64_t pos, limit;
    int64_t base, max_time;
} hcand;

typedef struct hrow {
    int64_t time, off;
    uint32_t cand, row, res;
} hrow;

typedef struct hist {
    log_bucket *b;
    const log_read_spec *spec;
    const uint8_t *key;
    size_t keylen;
    int64_t t, n, hw;
    hcand *c;
    size_t nc, capc;
    hrow *heap;
    size_t nheap;
    log_bio io;
    strom_batch *scratch;
    strom_buf kbuf;
    uint32_t *ords;
    size_t nords, capords;
} hist;

/* ------------------------------------------------------------ candidates */

static strom_err cand_push(hist *h, const hcand *c)
{
    if (h->nc == h->capc) {
        size_t cap = h->capc ? h->capc * 2 : 64;
        hcand *n = strom_realloc(h->c, cap * sizeof *n);
        if (!n)
            return STROM_ENOMEM;
        h->c = n;
        h->capc = cap;
    }
    h->c[h->nc++] = *c;
    return STROM_OK;
}

static strom_err collect_segment(hist *h, log_segment *s)
{
    pthread_mutex_lock(&h->b->mu);
    uint64_t limit = s->acked_size;
    pthread_mutex_unlock(&h->b->mu);
    pthread_mutex_lock(&h->b->kxmu);
    if (!s->kx) { /* dropped after an allocation failure; rebuilt by the next call */
        pthread_mutex_unlock(&h->b->kxmu);
        return strom_fail(STROM_ENOMEM, "%s: key index of segment %020lld unavailable",
                          h->b->name, (long long)s->base);
    }
    strom_err e = log_kx_lookup(s->kx, h->key, h->keylen, &h->ords, &h->nords, &h->capords);
    for (size_t i = 0; e == STROM_OK && i < h->nords; i++) {
        const log_kxbatch *bt = &s->kx->batches[h->ords[i]];
        int64_t base = s->base + bt->rel_offset;
        if (bt->position >= limit || base >= h->hw || bt->min_time > h->t)
            continue;
        hcand c = {s, bt->position, limit, base, bt->max_time};
        e = cand_push(h, &c);
    }
    pthread_mutex_unlock(&h->b->kxmu);
    return e;
}

static int cand_cmp(const void *a, const void *b)
{
    const hcand *x = a, *y = b;
    if (x->max_time != y->max_time)
        return x->max_time > y->max_time ? -1 : 1;
    return (x->base < y->base) - (x->base > y->base);
}

static strom_err collect(hist *h, log_segment **segs, int n)
{
    strom_err e = STROM_OK;
    pthread_mutex_lock(&h->b->wmu);
    for (int i = 0; e == STROM_OK && i < n; i++)
        e = log_kx_ensure(h->b, segs[i]);
    pthread_mutex_unlock(&h->b->wmu);
    for (int i = n - 1; e == STROM_OK && i >= 0; i--)
        e = collect_segment(h, segs[i]);
    if (e == STROM_OK && h->nc > 1)
        qsort(h->c, h->nc, sizeof *h->c, cand_cmp);
    return e;
}

/* ---------------------------------------------------------------- the heap */

static int row_less(const hrow *a, const hrow *b) /* a is older (worse) than b */
{
    return a->time < b->time || (a->time == b->time && a->off < b->off);
}

static void heap_down(hrow *hp, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && row_less(&hp[l], &hp[m]))
            m = l;
        if (l + 1 < n && row_less(&hp[l + 1], &hp[m]))
            m = l + 1;
        if (m == i)
            return;
        hrow t = hp[i];
        hp[i] = hp[m];
        hp[m] = t;
        i = m;
    }
}

static void heap_offer(hist *h, const hrow *r)
{
    if ((int64_t)h->nheap < h->n) {
        size_t i = h->nheap++;
        h->heap[i] = *r;
        while (i && row_less(&h->heap[i], &h->heap[(i - 1) / 2])) {
            hrow t = h->heap[i];
            h->heap[i] = h->heap[(i - 1) / 2];
            h->heap[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
    } else if (row_less(&h->heap[0], r)) {
        h->heap[0] = *r;
        heap_down(h->heap, h->nheap, 0);
    }
}

/* No row of candidate c (or of any later one) can enter the full heap. */
static int can_stop(const hist *h, const hcand *c)
{
    if ((int64_t)h->nheap < h->n)
        return 0;
    const hrow *w = &h->heap[0];
    return w->time > c->max_time;
}

/* --------------------------------------------------------------- phase 1 */

static int row_matches(hist *h, const strom_column *kc, int nk, int64_t r)
{
    if (nk == 1 && fmt_type_is_var(kc[0].type) && h->keylen >= 5 && h->key[0] == 1) {
        if (kc[0].validity && !(kc[0].validity[r >> 3] & (1u << (r & 7))))
            return 0;
        uint32_t len = (uint32_t)(kc[0].offsets[r + 1] - kc[0].offsets[r]);
        return len == h->keylen - 5 && len == strom_get_u32(h->key + 1) &&
               !memcmp(kc[0].data + kc[0].offsets[r], h->key + 5, len);
    }
    if (log_row_key(&h->kbuf, kc, nk, r) != STROM_OK)
        return 0;
    return h->kbuf.len == h->keylen && !memcmp(h->kbuf.data, h->key, h->keylen);
}

/* Decodes key columns (and the time column) of the parsed batch; NULL for missing ones. */
static strom_err decode_keys(hist *h, hcand *c, strom_column *kc, const int64_t **times)
{
    const fmt_hdr *hd = &h->io.h;
    const log_config *cfg = &h->b->cfg;
    int dix[LOG_MAX_KEY_COLS + 1], n = 0;
    strom_column tmp[LOG_MAX_KEY_COLS + 1];
    strom_err e = fmt_batch_reset(h->scratch, hd, cfg->nkey_cols + 1);
    int has_time = hd->time_col != FMT_NO_TIME_COLUMN && hd->time_col < hd->ncols;
    if (has_time)
        dix[n++] = (int)hd->time_col;
    for (int i = 0; i < cfg->nkey_cols; i++)
        if (cfg->key_cols[i] < hd->ncols && !(has_time && cfg->key_cols[i] == dix[0]))
            dix[n++] = cfg->key_cols[i];
    for (int i = 1; i < n; i++)
        for (int j = 0; j < i; j++)
            if (dix[i] == dix[j])
                dix[i--] = dix[--n];
    if (e == STROM_OK)
        e = log_bio_columns(&h->io, h->b, c->s, dix, n, h->scratch, NULL, tmp);
    *times = NULL;
    if (has_time && e == STROM_OK)
        e = log_time_values(h->b, hd, &tmp[0], times);
    for (int i = 0; e == STROM_OK && i < cfg->nkey_cols; i++) {
        int k = -1;
        for (int j = 0; j < n; j++)
            if (dix[j] == cfg->key_cols[i])
                k = j;
        if (k >= 0)
            kc[i] = tmp[k];
        else
            e = fmt_null_column(h->scratch, STROM_STRING, hd->nrows, "", &kc[i]);
    }
    return e;
}

static strom_err scan_candidate(hist *h, uint32_t ci)
{
    hcand *c = &h->c[ci];
    strom_column kc[LOG_MAX_KEY_COLS];
    const int64_t *times = NULL;
    strom_err e = log_bio_header(&h->io, h->b, c->s, c->pos, c->limit);
    if (e == STROM_OK && h->io.h.base_offset != c->base)
        e = strom_fail(STROM_ECORRUPT, "batch at position %llu is not offset %lld",
                       (unsigned long long)c->pos, (long long)c->base);
    if (e == STROM_OK)
        e = decode_keys(h, c, kc, &times);
    if (e != STROM_OK)
        return strom_fail_wrap(e, "%s: key history: batch at offset %lld", h->b->name,
                               (long long)c->base);
    const fmt_hdr *hd = &h->io.h;
    for (uint32_t r = 0; r < hd->nrows; r++) {
        int64_t t = times ? times[r] : hd->commit_ts;
        if (t > h->t || !row_matches(h, kc, h->b->cfg.nkey_cols, r))
            continue;
        hrow row = {t, c->base + r, ci, r, 0};
        heap_offer(h, &row);
    }
    return STROM_OK;
}

/* --------------------------------------------------------------- phase 2 */

typedef struct hout {
    strom_batch *res;
    uint8_t **valid;
    uint8_t **vals;
    strom_buf *var;          /* per var column: bytes in arrival order */
    uint64_t **vstart;       /* per var column and result row: start in var */
    int64_t *nulls;
} hout;

static int res_cmp(const void *a, const void *b) /* newest first */
{
    const hrow *x = a, *y = b;
    return row_less(y, x) ? -1 : row_less(x, y) ? 1 : 0;
}

static int cand_row_cmp(const void *a, const void *b)
{
    const hrow *x = a, *y = b;
    if (x->cand != y->cand)
        return x->cand < y->cand ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

static void put_row(hout *o, int j, const strom_column *src, uint32_t r, uint32_t k)
{
    strom_type t = o->res->cols[j].type;
    int valid = src && (!src->validity || (src->validity[r >> 3] >> (r & 7) & 1));
    if (!valid) {
        o->nulls[j]++;
        if (fmt_type_is_var(t))
            o->vstart[j][k] = o->var[j].len, o->vstart[j][(size_t)k + o->res->nrows] = 0;
        return;
    }
    o->valid[j][k >> 3] |= (uint8_t)(1u << (k & 7));
    if (t == STROM_BOOLEAN) {
        if (((const uint8_t *)src->values)[r >> 3] >> (r & 7) & 1)
            o->vals[j][k >> 3] |= (uint8_t)(1u << (k & 7));
    } else if (fmt_type_is_var(t)) {
        uint32_t len = (uint32_t)(src->offsets[r + 1] - src->offsets[r]);
        o->vstart[j][k] = o->var[j].len;
        o->vstart[j][(size_t)k + o->res->nrows] = len;
        if (strom_buf_append(&o->var[j], src->data + src->offsets[r], len) != STROM_OK)
            o->vstart[j][(size_t)k + o->res->nrows] = 0;
    } else {
        int w = fmt_type_width(t);
        memcpy(o->vals[j] + (size_t)k * w, (const uint8_t *)src->values + (size_t)r * w, (size_t)w);
    }
}

/* Decodes the projected columns of the batch of candidate rows[0..n) and copies the rows. */
static strom_err gather_batch(hist *h, hout *o, const int *proj, int nproj, const hrow *rows,
                              size_t n)
{
    hcand *c = &h->c[rows[0].cand];
    int dix[FMT_MAX_COLUMNS], nd = 0, where[FMT_MAX_COLUMNS];
    strom_column tmp[64], *cols = nproj <= 64 ? tmp : strom_calloc((size_t)nproj, sizeof *cols);
    if (!cols)
        return STROM_ENOMEM;
    strom_err e = log_bio_header(&h->io, h->b, c->s, c->pos, c->limit);
    const fmt_hdr *hd = &h->io.h;
    for (int j = 0; e == STROM_OK && j < nproj; j++) {
        where[j] = -1;
        for (int k = 0; k < nd && proj[j] < hd->ncols; k++)
            if (dix[k] == proj[j])
                where[j] = k;
        if (where[j] < 0 && proj[j] < hd->ncols)
            where[j] = nd, dix[nd++] = proj[j];
    }
    if (e == STROM_OK)
        e = fmt_batch_reset(h->scratch, hd, nd ? nd : 1);
    if (e == STROM_OK && nd)
        e = log_bio_columns(&h->io, h->b, c->s, dix, nd, h->scratch, NULL, cols);
    for (int j = 0; e == STROM_OK && j < nproj; j++)
        if (where[j] >= 0 && cols[where[j]].type != o->res->cols[j].type)
            e = strom_fail(STROM_ECORRUPT, "%s: key history: batch at offset %lld: column %d "
                           "has type %s, the schema says %s", h->b->name, (long long)c->base,
                           proj[j], strom_type_name(cols[where[j]].type),
                           strom_type_name(o->res->cols[j].type));
    for (size_t i = 0; e == STROM_OK && i < n; i++)
        for (int j = 0; j < nproj; j++)
            put_row(o, j, where[j] >= 0 ? &cols[where[j]] : NULL, rows[i].row, rows[i].res);
    if (cols != tmp)
        free(cols);
    return e;
}

static strom_err out_init(hout *o, const log_read_spec *spec, const int *proj, int nproj,
                          int64_t nres)
{
    size_t bits = ((size_t)nres + 7) / 8 + 1;
    o->valid = strom_calloc((size_t)nproj + 1, sizeof *o->valid);
    o->vals = strom_calloc((size_t)nproj + 1, sizeof *o->vals);
    o->var = strom_calloc((size_t)nproj + 1, sizeof *o->var);
    o->vstart = strom_calloc((size_t)nproj + 1, sizeof *o->vstart);
    o->nulls = strom_calloc((size_t)nproj + 1, sizeof *o->nulls);
    if (!o->valid || !o->vals || !o->var || !o->vstart || !o->nulls)
        return STROM_ENOMEM;
    for (int j = 0; j < nproj; j++) {
        const fmt_column_def *d = &spec->schema->cols[proj[j]];
        strom_column *c = &o->res->cols[j];
        size_t nl = strlen(d->name) + 1;
        char *name = fmt_batch_alloc(o->res, nl);
        int w = fmt_type_width(d->type);
        size_t vb = d->type == STROM_BOOLEAN ? bits : fmt_type_is_var(d->type) ? 0 : (size_t)w * (size_t)nres + 1;
        o->valid[j] = fmt_batch_alloc(o->res, bits);
        o->vals[j] = vb ? fmt_batch_alloc(o->res, vb) : NULL;
        if (fmt_type_is_var(d->type))
            o->vstart[j] = strom_calloc((size_t)nres * 2 + 1, sizeof **o->vstart);
        if (!name || !o->valid[j] || (vb && !o->vals[j]) || (fmt_type_is_var(d->type) && !o->vstart[j]))
            return STROM_ENOMEM;
        memcpy(name, d->name, nl);
        memset(o->valid[j], 0, bits);
        if (vb)
            memset(o->vals[j], 0, vb);
        *c = (strom_column){.type = d->type, .length = nres, .name = name};
    }
    return STROM_OK;
}

static strom_err out_finish_col(hout *o, int j)
{
    strom_column *c = &o->res->cols[j];
    int64_t n = c->length;
    c->null_count = o->nulls[j];
    c->validity = c->null_count ? o->valid[j] : NULL;
    c->values = o->vals[j];
    if (!fmt_type_is_var(c->type))
        return STROM_OK;
    int32_t *offs = fmt_batch_alloc(o->res, ((size_t)n + 1) * sizeof *offs);
    uint8_t *data = fmt_batch_alloc(o->res, o->var[j].len + 1);
    if (!offs || !data)
        return STROM_ENOMEM;
    offs[0] = 0;
    for (int64_t k = 0; k < n; k++) {
        uint64_t len = o->vstart[j][k + n];
        memcpy(data + offs[k], o->var[j].data + o->vstart[j][k], len);
        offs[k + 1] = offs[k] + (int32_t)len;
    }
    c->offsets = offs;
    c->data = data;
    c->values = NULL;
    return STROM_OK;
}

static void out_free(hout *o, int nproj)
{
    for (int j = 0; j < nproj && o->var; j++) {
        strom_buf_free(&o->var[j]);
        if (o->vstart)
            free(o->vstart[j]);
    }
    free(o->valid);
    free(o->vals);
    free(o->var);
    free(o->vstart);
    free(o->nulls);
}

static strom_err out_rows(hist *h, hout *o)
{
    int64_t *offs = fmt_batch_alloc(o->res, (h->nheap + 1) * sizeof *offs);
    int64_t *times = fmt_batch_alloc(o->res, (h->nheap + 1) * sizeof *times);
    if (!offs || !times)
        return STROM_ENOMEM;
    qsort(h->heap, h->nheap, sizeof *h->heap, res_cmp);
    for (size_t i = 0; i < h->nheap; i++) {
        h->heap[i].res = (uint32_t)i;
        offs[i] = h->heap[i].off;
        times[i] = h->heap[i].time;
    }
    o->res->row_offsets = offs;
    o->res->row_times = times;
    o->res->base_offset = h->nheap ? offs[0] : 0;
    qsort(h->heap, h->nheap, sizeof *h->heap, cand_row_cmp);
    return STROM_OK;
}

static strom_err materialise(hist *h, const int *proj, int nproj, strom_batch **out)
{
    hout o = {0};
    fmt_hdr fake = {0};
    fake.nrows = (uint32_t)h->nheap;
    fake.schema_id = h->spec->schema->id;
    o.res = fmt_batch_create(nproj ? nproj : 1);
    strom_err e = o.res ? fmt_batch_reset(o.res, &fake, nproj) : STROM_ENOMEM;
    if (e == STROM_OK)
        e = out_rows(h, &o);
    if (e == STROM_OK)
        e = out_init(&o, h->spec, proj, nproj, (int64_t)h->nheap);
    for (size_t i = 0; e == STROM_OK && i < h->nheap;) {
        size_t j = i;
        while (j < h->nheap && h->heap[j].cand == h->heap[i].cand)
            j++;
        e = gather_batch(h, &o, proj, nproj, h->heap + i, j - i);
        i = j;
    }
    for (int j = 0; e == STROM_OK && j < nproj; j++)
        e = out_finish_col(&o, j);
    out_free(&o, nproj);
    if (e != STROM_OK) {
        strom_batch_destroy(o.res);
        return e;
    }
    o.res->nrows = (int64_t)h->nheap;
    o.res->ncols = nproj;
    *out = o.res;
    return STROM_OK;
}

/* ------------------------------------------------------------------ entry */

static strom_err run(hist *h, const int *proj, int nproj, strom_batch **out)
{
    log_segment **segs = NULL;
    int nsegs = 0;
    strom_err e = log_snapshot(h->b, &segs, &nsegs, &h->hw);
    if (e == STROM_OK)
        e = collect(h, segs, nsegs);
    size_t hn = (size_t)STROM_MIN(h->n, (int64_t)1 << 24);
    if (e == STROM_OK && !(h->heap = strom_malloc((hn + 1) * sizeof *h->heap)))
        e = STROM_ENOMEM;
    for (size_t i = 0; e == STROM_OK && i < h->nc && !can_stop(h, &h->c[i]); i++)
        e = scan_candidate(h, (uint32_t)i);
    if (e == STROM_OK)
        e = materialise(h, proj, nproj, out);
    if (segs)
        log_snapshot_release(h->b, segs, nsegs);
    return e;
}

strom_err log_bucket_key_history(log_bucket *b, const uint8_t *key, size_t keylen, int64_t t,
                                 int64_t n, const log_read_spec *spec, strom_batch **out)
{
    if (b->cfg.nkey_cols == 0)
        return strom_fail(STROM_EUNSUPPORTED, "%s: key history needs a key index "
                          "('table.log.index.key')", b->name);
    int nproj = spec->proj ? spec->nproj : spec->schema->ncols;
    int *proj = strom_calloc((size_t)nproj + 1, sizeof *proj);
    if (!proj)
        return STROM_ENOMEM;
    for (int j = 0; j < nproj; j++)
        proj[j] = spec->proj ? spec->proj[j] : j;
    for (int j = 0; j < nproj; j++)
        if (proj[j] < 0 || proj[j] >= spec->schema->ncols) {
            int bad = proj[j];
            free(proj);
            return strom_fail(STROM_EINVAL, "%s: key history: bad projected column %d", b->name,
                              bad);
        }
    hist h = {.b = b, .spec = spec, .key = key, .keylen = keylen, .t = t, .n = n < 0 ? 0 : n};
    strom_err e = log_bio_init(&h.io);
    if (e == STROM_OK && !(h.scratch = fmt_batch_create(LOG_MAX_KEY_COLS + 1)))
        e = STROM_ENOMEM;
    if (e == STROM_OK)
        e = run(&h, proj, nproj, out);
    log_bio_free(&h.io);
    strom_batch_destroy(h.scratch);
    strom_buf_free(&h.kbuf);
    free(h.c);
    free(h.heap);
    free(h.ords);
    free(proj);
    return e;
}
