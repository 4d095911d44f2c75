/* reader.c: sequential reads of a bucket with projection, batch skipping by the index
 * (time) and by statistics (predicates), and row filtering. */
#include "log_int.h"

#include <stdlib.h>

struct log_reader {
    log_bucket *b;
    strom_schema *schema;
    int *proj, nproj;
    fmt_pred *preds;
    int npreds;
    char *strs;                /* copies of the predicates' string constants */
    int64_t tmin, tmax, max_rows, max_bytes;
    int blo, timed, done;
    log_segment *seg;          /* referenced */
    uint64_t pos;              /* next batch position in seg */
    int64_t next_off, start_off;
    log_bio io;
    strom_batch *batch;
    uint8_t *keep;
    size_t keep_cap;
    int *need, *slot;          /* directory indexes to read; slot[dir] = index in tmp */
    int nneed;
    const char **names;
    strom_column *tmp;
    int64_t rows_out, bytes_out;
};

static strom_err copy_preds(log_reader *r, const log_read_spec *spec)
{
    size_t sbytes = 0;
    for (int i = 0; i < spec->npreds; i++)
        if (fmt_type_is_var(spec->preds[i].value.type) && !spec->preds[i].value.is_null)
            sbytes += spec->preds[i].value.v.s.len;
    r->preds = strom_calloc((size_t)spec->npreds + 1, sizeof *r->preds);
    r->strs = strom_malloc(sbytes + 1);
    if (!r->preds || !r->strs)
        return STROM_ENOMEM;
    size_t at = 0;
    for (int i = 0; i < spec->npreds; i++) {
        fmt_pred *p = &r->preds[i];
        *p = spec->preds[i];
        if (p->col < 0 || p->col >= spec->schema->ncols)
            return strom_fail(STROM_EINVAL, "%s: predicate on column %d of a %d-column schema",
                              r->b->name, p->col, spec->schema->ncols);
        if (fmt_type_is_var(p->value.type) && !p->value.is_null) {
            if (p->value.v.s.len)
                memcpy(r->strs + at, p->value.v.s.ptr, p->value.v.s.len);
            p->value.v.s.ptr = r->strs + at;
            at += p->value.v.s.len;
        }
    }
    r->npreds = spec->npreds;
    return STROM_OK;
}

static strom_err copy_spec(log_reader *r, const log_read_spec *spec)
{
    r->schema = fmt_schema_clone(spec->schema);
    int n = spec->proj ? spec->nproj : spec->schema->ncols;
    r->proj = strom_calloc((size_t)n + 1, sizeof *r->proj);
    r->need = strom_calloc(FMT_MAX_COLUMNS, sizeof *r->need);
    r->slot = strom_calloc(FMT_MAX_COLUMNS, sizeof *r->slot);
    r->names = strom_calloc(FMT_MAX_COLUMNS, sizeof *r->names);
    r->tmp = strom_calloc(FMT_MAX_COLUMNS, sizeof *r->tmp);
    r->batch = fmt_batch_create(n ? n : 1);
    if (!r->schema || !r->proj || !r->need || !r->slot || !r->names || !r->tmp || !r->batch)
        return STROM_ENOMEM;
    for (int i = 0; i < FMT_MAX_COLUMNS; i++)
        r->slot[i] = -1;
    for (int i = 0; i < n; i++) {
        r->proj[i] = spec->proj ? spec->proj[i] : i;
        if (r->proj[i] < 0 || r->proj[i] >= spec->schema->ncols)
            return strom_fail(STROM_EINVAL, "%s: projected column %d of a %d-column schema",
                              r->b->name, r->proj[i], spec->schema->ncols);
    }
    r->nproj = n;
    r->tmin = spec->time_min;
    r->tmax = spec->time_max;
    if (r->tmin == 0 && r->tmax == 0) { /* strom_read_opts: 0/0 = no bound */
        r->tmin = INT64_MIN;
        r->tmax = INT64_MAX;
    }
    r->timed = r->tmin != INT64_MIN || r->tmax != INT64_MAX;
    r->blo = spec->batch_level_only;
    r->max_rows = spec->max_rows;
    r->max_bytes = spec->max_bytes;
    return copy_preds(r, spec);
}

/* Positions r at the index span holding offset off of segment s. Under mu. */
static void seek_in_segment(log_reader *r, log_segment *s, int64_t off)
{
    r->pos = LOG_SEG_HDR;
    r->next_off = s->base;
    if (s->ix.n == 0 || off <= s->base)
        return;
    const log_ient *en = &s->ix.e[log_index_find_offset(&s->ix, (uint32_t)(off - s->base))];
    r->pos = en->position;
    r->next_off = s->base + en->rel_offset;
}

strom_err log_reader_open(log_bucket *b, int64_t offset, const log_read_spec *spec,
                          log_reader **out)
{
    log_reader *r = strom_calloc(1, sizeof *r);
    if (!r)
        return STROM_ENOMEM;
    r->b = b;
    strom_err e = log_bio_init(&r->io);
    if (e == STROM_OK)
        e = copy_spec(r, spec);
    if (e == STROM_OK) {
        pthread_mutex_lock(&b->mu);
        if (offset > b->hw)
            e = strom_fail(STROM_ERANGE, "%s: offset %lld is beyond the end %lld", b->name,
                           (long long)offset, (long long)b->hw);
        else {
            offset = STROM_MAX(offset, b->segs[0]->base);
            r->seg = log_seg_for_offset(b, offset);
            seek_in_segment(r, r->seg, offset);
            r->start_off = offset;
        }
        pthread_mutex_unlock(&b->mu);
    }
    if (e != STROM_OK) {
        log_reader_close(r);
        return e;
    }
    *out = r;
    return STROM_OK;
}

void log_reader_close(log_reader *r)
{
    if (!r)
        return;
    if (r->seg) {
        pthread_mutex_lock(&r->b->mu);
        log_seg_unref(r->b, r->seg);
        pthread_mutex_unlock(&r->b->mu);
    }
    log_bio_free(&r->io);
    strom_schema_destroy(r->schema);
    strom_batch_destroy(r->batch);
    free(r->proj);
    free(r->preds);
    free(r->strs);
    free(r->need);
    free(r->slot);
    free(r->names);
    free(r->tmp);
    free(r->keep);
    free(r);
}

int64_t log_reader_position(const log_reader *r)
{
    return r->next_off;
}

/* Skips the index span at r->pos when its times exclude the range. Under mu. */
static int skip_span(log_reader *r, uint64_t limit)
{
    log_segment *s = r->seg;
    if (!r->timed || s->ix.n == 0 || r->next_off < s->base)
        return 0;
    const log_ient *en = &s->ix.e[log_index_find_offset(&s->ix, (uint32_t)(r->next_off - s->base))];
    if (en->position != r->pos || r->pos + en->span_bytes > limit ||
        (en->max_time >= r->tmin && en->min_time <= r->tmax))
        return 0;
    r->pos += en->span_bytes;
    r->next_off = s->base + en->rel_offset + en->nrecords;
    return 1;
}

/* Moves to the next segment when the current one is exhausted; 0 at the high watermark. */
static int reader_where(log_reader *r, uint64_t *limit)
{
    log_bucket *b = r->b;
    int ok = 1;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        *limit = r->seg->acked_size;
        if (r->pos < *limit) {
            if (skip_span(r, *limit))
                continue;
            break;
        }
        if (r->next_off >= b->hw) {
            ok = 0;
            break;
        }
        log_segment *n = log_seg_for_offset(b, r->next_off);
        if (n == r->seg) {
            log_seg_unref(b, n);
            ok = 0;
            break;
        }
        log_seg_unref(b, r->seg);
        r->seg = n;
        seek_in_segment(r, n, r->next_off);
    }
    pthread_mutex_unlock(&b->mu);
    return ok;
}

static int batch_may_match(const log_reader *r, const fmt_hdr *h)
{
    if (h->base_offset + (int64_t)h->nrows <= r->start_off)
        return 0;
    if (h->max_time < r->tmin || h->min_time > r->tmax)
        return 0;
    for (int i = 0; i < r->npreds; i++) {
        int c = r->preds[i].col;
        if (c >= h->ncols || !fmt_dir_may_match(&r->io.dirs[c], &r->preds[i]))
            return 0;
    }
    return 1;
}

static void need_col(log_reader *r, int c, int *n)
{
    if (r->slot[c] >= 0)
        return;
    r->slot[c] = *n;
    r->need[*n] = c;
    r->names[*n] = c < r->schema->ncols ? r->schema->cols[c].name : "";
    (*n)++;
}

static strom_err reader_decode(log_reader *r)
{
    const fmt_hdr *h = &r->io.h;
    int n = 0;
    for (int j = 0; j < r->nproj; j++)
        if (r->proj[j] < h->ncols)
            need_col(r, r->proj[j], &n);
    for (int i = 0; i < r->npreds; i++)
        need_col(r, r->preds[i].col, &n);
    if (h->time_col != FMT_NO_TIME_COLUMN && h->time_col < h->ncols)
        need_col(r, (int)h->time_col, &n);
    r->nneed = n;
    strom_err e = fmt_batch_reset(r->batch, h, r->nproj);
    if (e == STROM_OK)
        e = log_bio_columns(&r->io, r->b, r->seg, r->need, n, r->batch, r->names, r->tmp);
    for (int j = 0; e == STROM_OK && j < r->nproj; j++) {
        int c = r->proj[j];
        if (c < h->ncols && r->tmp[r->slot[c]].type != r->schema->cols[c].type)
            e = strom_fail(STROM_ECORRUPT, "%s: batch at offset %lld: column '%s' is %s, the "
                           "schema says %s", r->b->name, (long long)h->base_offset,
                           r->schema->cols[c].name, strom_type_name(r->tmp[r->slot[c]].type),
                           strom_type_name(r->schema->cols[c].type));
        else if (c < h->ncols)
            r->batch->cols[j] = r->tmp[r->slot[c]];
        else
            e = fmt_null_column(r->batch, r->schema->cols[c].type, h->nrows,
                                r->schema->cols[c].name, &r->batch->cols[j]);
    }
    if (e == STROM_OK && h->time_col != FMT_NO_TIME_COLUMN && h->time_col < h->ncols)
        e = log_time_values(r->b, h, &r->tmp[r->slot[h->time_col]], &r->batch->row_times);
    if (e == STROM_OK && h->changes) { /* changelog batches (primary-key tables) */
        uint8_t *ch = fmt_batch_alloc(r->batch, h->nrows);
        if (!ch)
            return STROM_ENOMEM;
        memcpy(ch, h->changes, h->nrows);
        r->batch->changes = ch;
    }
    return e;
}

static void reset_slots(log_reader *r)
{
    for (int i = 0; i < r->nneed; i++)
        r->slot[r->need[i]] = -1;
    r->nneed = 0;
}

/* Row filters; returns the number of rows kept (the batch is compacted). */
static int64_t reader_filter(log_reader *r, strom_err *e)
{
    strom_batch *bt = r->batch;
    size_t n = (size_t)bt->nrows;
    if (n > r->keep_cap) {
        uint8_t *k = strom_realloc(r->keep, n);
        if (!k) {
            *e = STROM_ENOMEM;
            return 0;
        }
        r->keep = k;
        r->keep_cap = n;
    }
    memset(r->keep, 1, n);
    for (int i = 0; i < r->npreds; i++)
        fmt_pred_eval(&r->tmp[r->slot[r->preds[i].col]], &r->preds[i], r->keep);
    for (size_t i = 0; r->timed && i < n; i++) {
        int64_t t = bt->row_times ? bt->row_times[i] : bt->commit_ts;
        r->keep[i] &= t >= r->tmin && t <= r->tmax;
    }
    for (int64_t i = 0; i < r->start_off - bt->base_offset && i < (int64_t)n; i++)
        r->keep[i] = 0;
    int64_t kept = 0;
    for (size_t i = 0; i < n; i++)
        kept += r->keep[i];
    if (kept > 0 && kept < (int64_t)n)
        *e = fmt_batch_compact(bt, r->keep);
    return kept;
}

static void reader_account(log_reader *r)
{
    r->rows_out += r->batch->nrows;
    for (int j = 0; j < r->batch->ncols; j++)
        r->bytes_out += (int64_t)fmt_column_bytes(&r->batch->cols[j]);
    if ((r->max_rows > 0 && r->rows_out >= r->max_rows) ||
        (r->max_bytes > 0 && r->bytes_out >= r->max_bytes))
        r->done = 1;
}

/* After a damaged batch header: continue at the next index span, if there is one. */
static void skip_damage(log_reader *r)
{
    log_segment *s = r->seg;
    pthread_mutex_lock(&r->b->mu);
    size_t j = s->ix.n ? log_index_find_offset(&s->ix, (uint32_t)(r->next_off - s->base)) : 0;
    if (s->ix.n && s->ix.e[j].position <= r->pos && s->ix.e[j].position + s->ix.e[j].span_bytes > r->pos) {
        r->pos = s->ix.e[j].position + s->ix.e[j].span_bytes;
        r->next_off = s->base + s->ix.e[j].rel_offset + s->ix.e[j].nrecords;
    }
    pthread_mutex_unlock(&r->b->mu);
}

static strom_err read_header(log_reader *r, uint64_t limit)
{
    strom_err e = log_bio_header(&r->io, r->b, r->seg, r->pos, limit);
    if (e == STROM_OK && r->io.h.base_offset != r->next_off)
        e = strom_fail(STROM_ECORRUPT, "%s: segment %020lld: batch at position %llu has offset "
                       "%lld, expected %lld", r->b->name, (long long)r->seg->base,
                       (unsigned long long)r->pos, (long long)r->io.h.base_offset,
                       (long long)r->next_off);
    if (e != STROM_OK && e != STROM_ENOMEM) {
        e = strom_fail_wrap(e, "offset %lld", (long long)r->next_off);
        skip_damage(r);
    }
    return e;
}

strom_err log_reader_next(log_reader *r, const strom_batch **out)
{
    *out = NULL;
    uint64_t limit;
    while (!r->done && reader_where(r, &limit)) {
        strom_err e = read_header(r, limit);
        if (e != STROM_OK)
            return e;
        const fmt_hdr *h = &r->io.h;
        r->pos += 12 + (uint64_t)h->length;
        r->next_off = h->base_offset + (int64_t)h->nrows;
        if (!batch_may_match(r, h))
            continue;
        e = reader_decode(r);
        int64_t kept = e == STROM_OK && !r->blo ? reader_filter(r, &e) : (int64_t)h->nrows;
        reset_slots(r);
        if (e != STROM_OK)
            return e;
        if (kept == 0)
            continue;
        reader_account(r);
        *out = r->batch;
        return STROM_OK;
    }
    return STROM_OK;
}
