/* seek.c: segment snapshots and seek by time. Times need not grow with offsets, so the
 * search uses the prefix maximum of the index entries' max_time, then batch headers within
 * the span, then the time column of the one batch found. */
#include "log_int.h"

#include <stdlib.h>

strom_err log_snapshot(log_bucket *b, log_segment ***segs, int *n, int64_t *hw)
{
    pthread_mutex_lock(&b->mu);
    *segs = strom_malloc((size_t)b->nsegs * sizeof **segs);
    if (*segs) {
        *n = b->nsegs;
        for (int i = 0; i < b->nsegs; i++) {
            (*segs)[i] = b->segs[i];
            log_seg_ref(b, b->segs[i]);
        }
        *hw = b->hw;
    }
    pthread_mutex_unlock(&b->mu);
    return *segs ? STROM_OK : STROM_ENOMEM;
}

void log_snapshot_release(log_bucket *b, log_segment **segs, int n)
{
    pthread_mutex_lock(&b->mu);
    for (int i = 0; i < n; i++)
        log_seg_unref(b, segs[i]);
    pthread_mutex_unlock(&b->mu);
    free(segs);
}

/* Offset of the first row of the parsed batch with time >= t. */
static strom_err first_row_at(log_bucket *b, log_segment *s, log_bio *io, int64_t t,
                              int64_t *off)
{
    const fmt_hdr *h = &io->h;
    *off = h->base_offset;
    if (h->time_col == FMT_NO_TIME_COLUMN || h->time_col >= h->ncols)
        return STROM_OK;
    strom_batch *bt = fmt_batch_create(1);
    if (!bt)
        return STROM_ENOMEM;
    strom_column c;
    int dix = (int)h->time_col;
    strom_err e = fmt_batch_reset(bt, h, 1);
    if (e == STROM_OK)
        e = log_bio_columns(io, b, s, &dix, 1, bt, NULL, &c);
    const int64_t *v = NULL;
    if (e == STROM_OK)
        e = log_time_values(b, h, &c, &v);
    if (e == STROM_OK) {
        uint32_t r = 0;
        while (r < h->nrows && v[r] < t)
            r++;
        *off = h->base_offset + (r < h->nrows ? r : 0);
    }
    strom_batch_destroy(bt);
    return e;
}

/* Scans segment s from the span the prefix max points at; *found = 1 with *off set. */
static strom_err seek_segment(log_bucket *b, log_segment *s, log_bio *io, int64_t t, int64_t hw,
                              int *found, int64_t *off)
{
    pthread_mutex_lock(&b->mu);
    size_t j = log_index_seek_time(&s->ix, t);
    uint64_t pos = j < s->ix.n ? s->ix.e[j].position : UINT64_MAX;
    uint64_t limit = s->acked_size;
    pthread_mutex_unlock(&b->mu);
    while (pos < limit) {
        strom_err e = log_bio_header(io, b, s, pos, limit);
        if (e != STROM_OK)
            return e;
        if (io->h.base_offset >= hw)
            break;
        if (io->h.max_time >= t) {
            *found = 1;
            return first_row_at(b, s, io, t, off);
        }
        pos += 12 + (uint64_t)io->h.length;
    }
    return STROM_OK;
}

strom_err log_bucket_seek_time(log_bucket *b, int64_t t, int64_t *offset)
{
    log_segment **segs = NULL;
    int n = 0, found = 0;
    int64_t hw = 0;
    log_bio io;
    strom_err e = log_bio_init(&io);
    if (e == STROM_OK)
        e = log_snapshot(b, &segs, &n, &hw);
    *offset = hw;
    for (int i = 0; e == STROM_OK && !found && i < n; i++) {
        pthread_mutex_lock(&b->mu);
        int maybe = segs[i]->max_time >= t;
        pthread_mutex_unlock(&b->mu);
        if (maybe)
            e = seek_segment(b, segs[i], &io, t, hw, &found, offset);
    }
    if (segs)
        log_snapshot_release(b, segs, n);
    log_bio_free(&io);
    return e;
}
