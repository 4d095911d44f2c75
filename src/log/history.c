/* history.c: newest n rows of one key at or before a time, from the key indexes.
 *
 * Phase 1 reads only key indexes: every posting of the key (all segments) carries its
 * batch, row and row time, so the best n rows (time desc, offset desc; times are not
 * monotonic in offsets, late rows included) are chosen with a heap without touching the
 * segments. Phase 2 reads only the batches holding winners: the header, then the
 * projected columns' chunks, and gathers the rows, newest first, into one owned batch. */
#include "log_int.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct hrow {
    int64_t time, off;
    uint32_t seg, pos, row, res;
} hrow;

typedef struct hist {
    log_bucket *b;
    const log_read_spec *spec;
    const uint8_t *key;
    size_t keylen;
    int64_t t, n, hw;
    log_segment **segs;
    uint64_t *limits;      /* acknowledged bytes per segment at the start */
    int nsegs;
    hrow *heap;
    size_t nheap;
    log_bio io;
    strom_batch *scratch;
    log_kxpost *posts;
    size_t nposts, capposts;
} hist;

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
    } else if (h->nheap && row_less(&h->heap[0], r)) {
        h->heap[0] = *r;
        heap_down(h->heap, h->nheap, 0);
    }
}

/* --------------------------------------------------------------- phase 1 */

static strom_err collect_segment(hist *h, int si)
{
    log_segment *s = h->segs[si];
    pthread_mutex_lock(&h->b->kxmu);
    if (!s->kx) { /* dropped after an allocation failure; rebuilt by the next call */
        pthread_mutex_unlock(&h->b->kxmu);
        return strom_fail(STROM_ENOMEM, "%s: key index of segment %020lld unavailable",
                          h->b->name, (long long)s->base);
    }
    strom_err e = log_kx_lookup(s->kx, h->key, h->keylen, &h->posts, &h->nposts, &h->capposts);
    for (size_t i = 0; e == STROM_OK && i < h->nposts; i++) {
        const log_kxpost *p = &h->posts[i];
        const log_kxbatch *bt = &s->kx->batches[p->batch];
        int64_t off = s->base + bt->rel_offset + p->row;
        if (p->time > h->t || bt->position >= h->limits[si] || off >= h->hw)
            continue;
        hrow r = {p->time, off, (uint32_t)si, bt->position, p->row, 0};
        heap_offer(h, &r);
    }
    pthread_mutex_unlock(&h->b->kxmu);
    return e;
}

/* A key index run failed its check: rebuild that segment's key index, look up again. */
static strom_err rebuild_and_retry(hist *h, int si)
{
    log_segment *s = h->segs[si];
    log_warn(h->b, "segment %020lld: %s; key index rebuilt", (long long)s->base, strom_errmsg());
    pthread_mutex_lock(&h->b->wmu);
    pthread_mutex_lock(&h->b->kxmu);
    if (s->kx && (s->kx->fd >= 0 || s->kx->image)) {
        log_kx_destroy(s->kx);
        s->kx = NULL;
        s->kx_state = LOG_KX_NONE;
        char path[PATH_MAX];
        if (log_seg_side_path(s, ".keys", path, sizeof path) == STROM_OK)
            unlink(path);
        s->kx_disk = 0;
    }
    pthread_mutex_unlock(&h->b->kxmu);
    strom_err e = log_kx_ensure(h->b, s);
    pthread_mutex_unlock(&h->b->wmu);
    return e == STROM_OK ? collect_segment(h, si) : e;
}

static strom_err collect(hist *h)
{
    strom_err e = STROM_OK;
    pthread_mutex_lock(&h->b->wmu);
    for (int i = 0; e == STROM_OK && i < h->nsegs; i++)
        e = log_kx_ensure(h->b, h->segs[i]);
    pthread_mutex_unlock(&h->b->wmu);
    pthread_mutex_lock(&h->b->mu);
    for (int i = 0; i < h->nsegs; i++)
        h->limits[i] = h->segs[i]->acked_size;
    pthread_mutex_unlock(&h->b->mu);
    for (int i = h->nsegs - 1; e == STROM_OK && i >= 0; i--) {
        size_t had = h->nheap;
        e = collect_segment(h, i);
        if (e == STROM_ECORRUPT && h->nheap == had)
            e = rebuild_and_retry(h, i);
    }
    return e;
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

static int batch_row_cmp(const void *a, const void *b)
{
    const hrow *x = a, *y = b;
    if (x->seg != y->seg)
        return x->seg < y->seg ? -1 : 1;
    if (x->pos != y->pos)
        return x->pos < y->pos ? -1 : 1;
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

/* Reads the header of the batch holding rows[0] and checks it is the expected batch. */
static strom_err winner_header(hist *h, const hrow *r)
{
    log_segment *s = h->segs[r->seg];
    strom_err e = log_bio_header(&h->io, h->b, s, r->pos, h->limits[r->seg]);
    if (e == STROM_OK && (h->io.h.base_offset != r->off - r->row || r->row >= h->io.h.nrows))
        e = strom_fail(STROM_ECORRUPT, "%s: segment %020lld: key index names row %u of a batch "
                       "at position %u that does not hold offset %lld", h->b->name,
                       (long long)s->base, r->row, r->pos, (long long)r->off);
    return e;
}

/* Decodes the projected columns of the batch holding rows[0..n) and copies the rows. */
static strom_err gather_batch(hist *h, hout *o, const int *proj, int nproj, const hrow *rows,
                              size_t n)
{
    log_segment *s = h->segs[rows[0].seg];
    int dix[FMT_MAX_COLUMNS], nd = 0, where[FMT_MAX_COLUMNS];
    strom_column tmp[64], *cols = nproj <= 64 ? tmp : strom_calloc((size_t)nproj, sizeof *cols);
    if (!cols)
        return STROM_ENOMEM;
    strom_err e = winner_header(h, &rows[0]);
    const fmt_hdr *hd = &h->io.h;
    for (size_t i = 1; e == STROM_OK && i < n; i++)
        if (rows[i].row >= hd->nrows)
            e = strom_fail(STROM_ECORRUPT, "%s: key index names row %u of a %u-row batch",
                           h->b->name, rows[i].row, hd->nrows);
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
        e = log_bio_columns(&h->io, h->b, s, dix, nd, h->scratch, NULL, cols);
    for (int j = 0; e == STROM_OK && j < nproj; j++)
        if (where[j] >= 0 && cols[where[j]].type != o->res->cols[j].type)
            e = strom_fail(STROM_ECORRUPT, "%s: key history: batch at offset %lld: column %d "
                           "has type %s, the schema says %s", h->b->name, (long long)hd->base_offset,
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
    qsort(h->heap, h->nheap, sizeof *h->heap, batch_row_cmp);
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
        while (j < h->nheap && h->heap[j].seg == h->heap[i].seg && h->heap[j].pos == h->heap[i].pos)
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
    strom_err e = log_snapshot(h->b, &h->segs, &h->nsegs, &h->hw);
    if (e == STROM_OK && !(h->limits = strom_calloc((size_t)h->nsegs + 1, sizeof *h->limits)))
        e = STROM_ENOMEM;
    size_t hn = (size_t)STROM_MIN(h->n, (int64_t)1 << 24);
    if (e == STROM_OK && !(h->heap = strom_malloc((hn + 1) * sizeof *h->heap)))
        e = STROM_ENOMEM;
    if (e == STROM_OK)
        e = collect(h);
    if (e == STROM_OK)
        e = materialise(h, proj, nproj, out);
    if (h->segs)
        log_snapshot_release(h->b, h->segs, h->nsegs);
    free(h->limits);
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
    free(h.heap);
    free(h.posts);
    free(proj);
    return e;
}
