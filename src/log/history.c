/* history.c: newest n rows of one key at or before a time, from the key indexes.
 *
 * Phase 1 reads only key indexes: every posting of the key (all segments) carries its
 * batch, row and row time, so the best n rows (time desc, offset desc; times are not
 * monotonic in offsets, late rows included) are chosen with a heap without touching the
 * segments. Phase 2 reads only the batches holding winners: the header, then the
 * projected columns' chunks, and gathers the rows, newest first, into one owned batch. */
#include "log_int.h"

#include <limits.h>
#include <stdio.h>
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
    log_kxpost *posts;
    size_t nposts, capposts;
    /* Key columns known from the key itself: every row found has exactly these values, so
     * phase 2 copies them instead of reading and decompressing their chunks. */
    strom_column keycol[LOG_MAX_KEY_COLS];
    int keycol_of[LOG_MAX_KEY_COLS];   /* schema column of keycol[i] */
    int nkeycols;
    uint8_t keyvals[LOG_MAX_KEY_COLS][8];
    int32_t keyoffs[LOG_MAX_KEY_COLS][2];
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
    log_kx_warm_wait(h->b); /* the warm-up after open is building the active key index */
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

/* Phase 2 runs on HIST_THREADS threads when there are enough batches: each has its own
 * reader scratch; they take batches from a shared cursor, decode outside the lock and copy
 * their rows into the shared result under it. */
#define HIST_THREADS 2
#define HIST_MIN_PARALLEL 8

typedef struct hwk {
    log_bio io;
    strom_batch *scratch;
} hwk;

typedef struct hshare {
    hist *h;
    hout *o;
    const int *proj;
    int nproj;
    pthread_mutex_t mu;
    size_t next;           /* heap index of the next batch group to take */
    strom_err err;
    char msg[600];
} hshare;

/* ------------------------------------------------------- known key columns */

/* A one-row column of schema column col holding v (storage in h's slot i). */
static void key_column(hist *h, int i, int col, const strom_value *v)
{
    strom_type t = h->spec->schema->cols[col].type;
    strom_column *c = &h->keycol[i];
    *c = (strom_column){.type = t, .length = 1};
    if (v->is_null) {
        c->null_count = 1;
        c->validity = (const uint8_t *)"\0";
    } else if (fmt_type_is_var(t)) {
        h->keyoffs[i][0] = 0;
        h->keyoffs[i][1] = (int32_t)v->v.s.len;
        c->offsets = h->keyoffs[i];
        c->data = (const uint8_t *)v->v.s.ptr;
    } else {
        int32_t v32 = (int32_t)v->v.i;
        if (t == STROM_BOOLEAN)
            h->keyvals[i][0] = v->v.i != 0;
        else if (t == STROM_INT)
            memcpy(h->keyvals[i], &v32, 4);
        else
            memcpy(h->keyvals[i], &v->v.i, 8);
        c->values = h->keyvals[i];
    }
}

/* Decodes the key into h->keycol; on any surprise simply knows no key column. Float keys
 * are not rebuilt (the canonical form folds -0.0 into 0.0, the stored value may differ). */
static void known_key_columns(hist *h)
{
    const log_config *cfg = &h->b->cfg;
    size_t at = 0;
    h->nkeycols = 0;
    for (int i = 0; i < cfg->nkey_cols; i++) {
        int col = cfg->key_cols[i];
        strom_value v;
        if (col < 0 || col >= h->spec->schema->ncols)
            return;
        size_t used = fmt_key_to_value(h->key + at, h->keylen - at,
                                       h->spec->schema->cols[col].type, &v);
        if (used == 0)
            return;
        key_column(h, i, col, &v);
        at += used;
    }
    if (at != h->keylen)
        return;
    for (int i = 0; i < cfg->nkey_cols; i++)
        if (!fmt_type_is_float(h->keycol[i].type))
            h->keycol_of[h->nkeycols] = cfg->key_cols[i], h->keycol[h->nkeycols++] = h->keycol[i];
}

/* The known one-row column for schema column col, or NULL. */
static const strom_column *known_column(const hist *h, int col)
{
    for (int i = 0; i < h->nkeycols; i++)
        if (h->keycol_of[i] == col)
            return &h->keycol[i];
    return NULL;
}

/* Reads the header of the batch holding r and checks it is the expected batch. */
static strom_err winner_header(hist *h, hwk *w, const hrow *r)
{
    log_segment *s = h->segs[r->seg];
    strom_err e = log_bio_header(&w->io, h->b, s, r->pos, h->limits[r->seg]);
    if (e == STROM_OK && (w->io.h.base_offset != r->off - r->row || r->row >= w->io.h.nrows))
        e = strom_fail(STROM_ECORRUPT, "%s: segment %020lld: key index names row %u of a batch "
                       "at position %u that does not hold offset %lld", h->b->name,
                       (long long)s->base, r->row, r->pos, (long long)r->off);
    return e;
}

/* Whether the rows' times (from the key index) can stand for the time column in this batch:
 * a NULL time reads as INT64_MIN in the index, so any INT64_MIN makes us decode instead. */
static int times_known(const hist *h, const fmt_hdr *hd, const hrow *rows, size_t n)
{
    int tc = h->b->cfg.time_col;
    if (tc < 0 || (uint32_t)tc != hd->time_col || tc >= hd->ncols)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (rows[i].time == INT64_MIN)
            return 0;
    return 1;
}

/* Which decoded column holds projected column j (where[j]; -1: missing in the batch, -2: a
 * key column known from the key, -3: the time column known from the key index). */
static int plan_columns(const hist *h, const fmt_hdr *hd, const int *proj, int nproj, int *dix,
                        int *where, int tknown)
{
    int nd = 0;
    for (int j = 0; j < nproj; j++) {
        where[j] = known_column(h, proj[j]) ? -2 : tknown && proj[j] == h->b->cfg.time_col ? -3 : -1;
        if (where[j] < -1)
            continue;
        for (int k = 0; k < nd && proj[j] < hd->ncols; k++)
            if (dix[k] == proj[j])
                where[j] = k;
        if (where[j] < 0 && proj[j] < hd->ncols)
            where[j] = nd, dix[nd++] = proj[j];
    }
    return nd;
}

/* Copies result row i of projected column j from where the plan says it is. */
static void put_planned(hshare *sh, const strom_column *cols, const int *where, int j,
                        const hrow *row, uint32_t i)
{
    if (where[j] == -2) {
        put_row(sh->o, j, known_column(sh->h, sh->proj[j]), 0, row->res);
    } else if (where[j] == -3) {
        strom_column t = {.type = sh->o->res->cols[j].type, .length = 1, .values = &row->time};
        put_row(sh->o, j, &t, 0, row->res);
    } else {
        put_row(sh->o, j, where[j] >= 0 ? &cols[where[j]] : NULL, i, row->res);
    }
}

static strom_err check_types(hshare *sh, const fmt_hdr *hd, const strom_column *cols,
                             const int *where)
{
    for (int j = 0; j < sh->nproj; j++)
        if (where[j] >= 0 && cols[where[j]].type != sh->o->res->cols[j].type)
            return strom_fail(STROM_ECORRUPT, "%s: key history: batch at offset %lld: column "
                              "%d has type %s, the schema says %s", sh->h->b->name,
                              (long long)hd->base_offset, sh->proj[j],
                              strom_type_name(cols[where[j]].type),
                              strom_type_name(sh->o->res->cols[j].type));
    return STROM_OK;
}

/* Decodes the projected columns of the batch holding rows[0..n) and copies the rows. */
static strom_err gather_batch(hshare *sh, hwk *w, const hrow *rows, size_t n)
{
    hist *h = sh->h;
    int dix[FMT_MAX_COLUMNS], where[FMT_MAX_COLUMNS], nd = 0;
    strom_column tmp[64], *cols = sh->nproj <= 64 ? tmp : strom_calloc((size_t)sh->nproj, sizeof *cols);
    if (!cols)
        return STROM_ENOMEM;
    strom_err e = winner_header(h, w, &rows[0]);
    const fmt_hdr *hd = &w->io.h;
    for (size_t i = 1; e == STROM_OK && i < n; i++)
        if (rows[i].row >= hd->nrows)
            e = strom_fail(STROM_ECORRUPT, "%s: key index names row %u of a %u-row batch",
                           h->b->name, rows[i].row, hd->nrows);
    if (e == STROM_OK) {
        nd = plan_columns(h, hd, sh->proj, sh->nproj, dix, where, times_known(h, hd, rows, n));
        e = fmt_batch_reset(w->scratch, hd, nd ? nd : 1);
    }
    uint32_t sel[256], *rsel = n <= 256 ? sel : strom_malloc(n * sizeof *rsel);
    if (e == STROM_OK && !rsel)
        e = STROM_ENOMEM;
    for (size_t i = 0; e == STROM_OK && i < n; i++)
        rsel[i] = rows[i].row;
    if (e == STROM_OK && nd) /* decode only the winners' rows: column row i = rows[i] */
        e = log_bio_columns_rows(&w->io, h->b, h->segs[rows[0].seg], dix, nd, rsel, (uint32_t)n,
                                 w->scratch, NULL, cols);
    if (rsel && rsel != sel)
        free(rsel);
    if (e == STROM_OK)
        e = check_types(sh, hd, cols, where);
    pthread_mutex_lock(&sh->mu);
    for (size_t i = 0; e == STROM_OK && i < n; i++)
        for (int j = 0; j < sh->nproj; j++)
            put_planned(sh, cols, where, j, &rows[i], (uint32_t)i);
    pthread_mutex_unlock(&sh->mu);
    if (cols != tmp)
        free(cols);
    return e;
}

/* Takes the next group of winners that share a batch; 0 when none is left. */
static int take_group(hshare *sh, size_t *i, size_t *j)
{
    hist *h = sh->h;
    pthread_mutex_lock(&sh->mu);
    *i = *j = sh->next;
    while (*j < h->nheap && h->heap[*j].seg == h->heap[*i].seg && h->heap[*j].pos == h->heap[*i].pos)
        (*j)++;
    sh->next = *j;
    int more = *i < h->nheap && sh->err == STROM_OK;
    pthread_mutex_unlock(&sh->mu);
    return more;
}

static void run_groups(hshare *sh, hwk *w)
{
    size_t i, j;
    while (take_group(sh, &i, &j)) {
        strom_err e = gather_batch(sh, w, sh->h->heap + i, j - i);
        if (e == STROM_OK)
            continue;
        pthread_mutex_lock(&sh->mu);
        if (sh->err == STROM_OK) {
            sh->err = e;
            snprintf(sh->msg, sizeof sh->msg, "%s", strom_errmsg());
        }
        pthread_mutex_unlock(&sh->mu);
        return;
    }
}

static strom_err hwk_init(hwk *w)
{
    strom_err e = log_bio_init(&w->io);
    if (e == STROM_OK && !(w->scratch = fmt_batch_create(8)))
        e = STROM_ENOMEM;
    return e;
}

static void hwk_free(hwk *w)
{
    log_bio_free(&w->io);
    strom_batch_destroy(w->scratch);
}

static void *helper_main(void *arg)
{
    hshare *sh = arg;
    hwk w = {0};
    if (hwk_init(&w) == STROM_OK)
        run_groups(sh, &w);
    hwk_free(&w);
    return NULL;
}

/* Gathers every winner's row, in parallel when there are enough batches. */
static strom_err gather_all(hist *h, hout *o, const int *proj, int nproj)
{
    hshare sh = {.h = h, .o = o, .proj = proj, .nproj = nproj};
    pthread_mutex_init(&sh.mu, NULL);
    size_t groups = 0;
    for (size_t i = 0; i < h->nheap; i++)
        groups += i == 0 || h->heap[i].seg != h->heap[i - 1].seg || h->heap[i].pos != h->heap[i - 1].pos;
    pthread_t th[HIST_THREADS];
    int nth = 0;
    for (; groups >= HIST_MIN_PARALLEL && nth < HIST_THREADS - 1; nth++)
        if (pthread_create(&th[nth], NULL, helper_main, &sh) != 0)
            break;
    hwk w = {0};
    strom_err e = hwk_init(&w);
    if (e == STROM_OK)
        run_groups(&sh, &w);
    for (int i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
    hwk_free(&w);
    pthread_mutex_destroy(&sh.mu);
    if (e == STROM_OK && sh.err != STROM_OK)
        e = strom_fail(sh.err, "%s", sh.msg);
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
    if (e == STROM_OK)
        e = gather_all(h, &o, proj, nproj);
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
    known_key_columns(&h);
    strom_err e = run(&h, proj, nproj, out);
    free(h.heap);
    free(h.posts);
    free(proj);
    return e;
}
