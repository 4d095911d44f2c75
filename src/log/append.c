/* append.c: appending batches, group commit, segment rolls and the interval flusher. */
#define _GNU_SOURCE
#include "log_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Makes [.., target) of segment s (up to tpos) durable and visible. Under mu. */
static void advance_locked(log_bucket *b, log_segment *s, int64_t target, uint64_t tpos)
{
    b->durable_off = STROM_MAX(b->durable_off, target);
    if (s->acked_size < tpos)
        s->acked_size = tpos;
    s->acked_end = STROM_MAX(s->acked_end, STROM_MIN(target, s->end_off));
    b->hw = STROM_MAX(b->hw, target);
}

static void fence_locked(log_bucket *b, const char *what, int rc)
{
    if (!b->fenced) {
        b->fenced = 1;
        snprintf(b->fence_msg, sizeof b->fence_msg, "%s: %s failed: %s", b->name, what,
                 strerror(rc));
    }
    pthread_cond_broadcast(&b->cv);
}

static strom_err fenced_error(log_bucket *b)
{
    return strom_fail(STROM_EFENCED, "%s: writes refused until reopened (%s)", b->name,
                      b->fence_msg);
}

/* Leader/follower group commit: returns once everything before my_end is fsynced. */
static strom_err group_commit(log_bucket *b, int64_t my_end)
{
    pthread_mutex_lock(&b->mu);
    while (b->durable_off < my_end && !b->fenced) {
        if (b->syncing) {
            pthread_cond_wait(&b->cv, &b->mu);
            continue;
        }
        b->syncing = 1;
        log_segment *s = b->segs[b->nsegs - 1];
        log_seg_ref(b, s);
        int64_t target = b->written_off;
        uint64_t tpos = s->size;
        pthread_mutex_unlock(&b->mu);
        int rc = log_fsync(s->fd);
        pthread_mutex_lock(&b->mu);
        b->syncing = 0;
        if (rc != 0)
            fence_locked(b, "fdatasync", rc);
        else {
            b->fsyncs++;
            advance_locked(b, s, target, tpos);
        }
        log_seg_unref(b, s);
        pthread_cond_broadcast(&b->cv);
    }
    strom_err e = b->durable_off >= my_end ? STROM_OK : fenced_error(b);
    pthread_mutex_unlock(&b->mu);
    return e;
}

strom_err log_seal(log_bucket *b, log_segment *s)
{
    int rc = log_seg_trim(s);
    if (rc == 0)
        rc = log_fsync(s->fd);
    if (rc != 0) {
        pthread_mutex_lock(&b->mu);
        fence_locked(b, "seal (truncate, fdatasync)", rc);
        pthread_mutex_unlock(&b->mu);
        return fenced_error(b);
    }
    pthread_mutex_lock(&b->mu);
    b->fsyncs++;
    advance_locked(b, s, s->end_off, s->size);
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    if (log_index_file_flush(b, s, 1, 1) != STROM_OK)
        log_warn(b, "%s", strom_errmsg());
    s->sealed = 1;
    if (b->cfg.nkey_cols > 0)
        log_kx_seal(b, s);
    strom_fail_clear();
    return STROM_OK;
}

/* Seals the active segment and starts a new one at the next offset. Under wmu. */
strom_err log_roll(log_bucket *b)
{
    log_segment *old = b->segs[b->nsegs - 1], *s = NULL;
    strom_err e = log_seal(b, old);
    if (e == STROM_OK)
        e = log_seg_create(b, b->written_off, &s);
    if (e != STROM_OK)
        return log_bucket_fence(b, e, "segment roll");
    if (b->cfg.nkey_cols > 0) {
        s->kx = log_kx_create();
        s->kx_state = s->kx ? LOG_KX_READY : LOG_KX_NONE;
    }
    pthread_mutex_lock(&b->mu);
    e = log_segs_push(b, s);
    pthread_mutex_unlock(&b->mu);
    if (e != STROM_OK) {
        log_seg_free(s);
        return log_bucket_fence(b, e, "segment roll");
    }
    log_wr_snapshot(b, s); /* the writers as of the new segment's base (old one fsynced) */
    /* 'table.log.ttl' is applied whenever a segment is sealed (and at open): only sealed
     * segments can expire, so nothing expires between two rolls that a roll would not see. */
    if (log_retention_locked(b, log_retention_clock_ms(), NULL) != STROM_OK)
        log_warn(b, "%s", strom_errmsg());
    return STROM_OK;
}

static strom_err verify_batch(log_bucket *b, const uint8_t *batch, size_t len, fmt_hdr *h,
                              fmt_dir **dirs)
{
    if (len < FMT_HEADER_SIZE || len > FMT_MAX_BATCH_BYTES)
        return strom_fail(STROM_EINVAL, "%s: append: batch of %zu bytes", b->name, len);
    strom_err e = fmt_hdr_parse(batch, len, h, NULL);
    if (e == STROM_OK && (*dirs = strom_malloc((h->ncols ? h->ncols : 1) * sizeof **dirs)) == NULL)
        e = STROM_ENOMEM;
    if (e == STROM_OK)
        e = fmt_batch_verify(batch, len, h, *dirs);
    if (e == STROM_OK && (size_t)h->length + 12 != len)
        e = strom_fail(STROM_EINVAL, "batch length field %u does not match %zu bytes",
                       h->length, len);
    if (e != STROM_OK)
        return strom_fail_wrap(e, "%s: append", b->name);
    return STROM_OK;
}

static int write_batch(log_segment *s, const uint8_t *batch, size_t len)
{
    if (log_test_fail_write > 0 && --log_test_fail_write == 0)
        return EIO;
    return strom_pwrite_full(s->fd, batch, len, s->size);
}

/* Stamps and writes the batch, updates the indexes. Under wmu. */
static strom_err append_locked(log_bucket *b, uint8_t *batch, size_t len, fmt_hdr *h,
                               const fmt_dir *dirs, int64_t *end)
{
    log_segment *s = b->segs[b->nsegs - 1];
    if (s->size > LOG_SEG_HDR &&
        ((int64_t)(s->size + len) > b->cfg.segment_bytes ||
         b->written_off - s->base + h->nrows >= LOG_MAX_SEG_RECORDS)) {
        strom_err e = log_roll(b);
        if (e != STROM_OK)
            return e;
        s = b->segs[b->nsegs - 1];
    }
    fmt_batch_stamp(batch, b->written_off, strom_now_ms());
    h->base_offset = b->written_off;
    h->commit_ts = strom_get_i64(batch + 56);
    h->min_time = strom_get_i64(batch + 64);
    h->max_time = strom_get_i64(batch + 72);
    uint32_t pos = (uint32_t)s->size;
    log_seg_prealloc(b, s, len);
    int rc = write_batch(s, batch, len);
    if (rc != 0) {
        strom_fail_errno(rc, "%s: segment %020lld: write at %u", b->name, (long long)s->base, pos);
        return log_bucket_fence(b, rc == ENOSPC ? STROM_ENOSPC : STROM_EIO, "write");
    }
    pthread_mutex_lock(&b->mu);
    strom_err e = log_index_add(&s->ix, s->base, b->cfg.index_interval_bytes, pos, h);
    log_index_stage(&s->ix, s->ix.n ? s->ix.n - 1 : 0);
    log_seg_account(s, h, len);
    b->written_off = s->end_off;
    if (b->cfg.flush != LOG_FLUSH_SYNC) { /* acknowledged without fsync */
        s->acked_size = s->size;
        s->acked_end = s->end_off;
        b->hw = b->written_off;
    }
    pthread_mutex_unlock(&b->mu);
    if (e != STROM_OK)
        return log_bucket_fence(b, e, "index update");
    if ((e = log_wr_note(b, h)) == STROM_OK)
        e = log_wr_periodic(b, s);
    if (e != STROM_OK)
        return log_bucket_fence(b, e, "writers update");
    if (s->ix.pending.len >= 4096 && log_index_file_flush(b, s, 0, 0) != STROM_OK)
        log_warn(b, "%s", strom_errmsg());
    log_kx_index_batch(b, s, batch, h, dirs, pos);
    *end = b->written_off;
    return STROM_OK;
}

/* Under wmu: a duplicate (see log_wr_check) or the append itself. */
static strom_err append_or_dedup(log_bucket *b, uint8_t *batch, size_t len, fmt_hdr *h,
                                 const fmt_dir *dirs, log_append_result *res, int64_t *end)
{
    int dup = 0;
    if (b->fenced)
        return fenced_error(b);
    strom_err e = log_wr_check(b, h, res, &dup, end);
    if (e == STROM_OK && !dup) {
        e = append_locked(b, batch, len, h, dirs, end);
        res->base_offset = h->base_offset;
        res->nrecords = h->nrows;
    }
    return e;
}

/* Verifies and appends (or deduplicates) a batch without waiting for the flush mode;
 * *end: the bucket's written end after it. */
static strom_err append_nowait(log_bucket *b, uint8_t *batch, size_t len,
                               log_append_result *r, int64_t *end)
{
    fmt_hdr h;
    fmt_dir *dirs = NULL;
    *r = (log_append_result){.base_offset = -1};
    *end = 0;
    strom_err e = verify_batch(b, batch, len, &h, &dirs);
    if (e == STROM_OK) {
        pthread_mutex_lock(&b->wmu);
        e = append_or_dedup(b, batch, len, &h, dirs, r, end);
        pthread_mutex_unlock(&b->wmu);
    }
    free(dirs);
    return e;
}

strom_err log_bucket_append_ex(log_bucket *b, uint8_t *batch, size_t len,
                               log_append_result *res)
{
    log_append_result r;
    int64_t end = 0;
    strom_err e = append_nowait(b, batch, len, &r, &end);
    if (e == STROM_OK && b->cfg.flush == LOG_FLUSH_SYNC)
        e = group_commit(b, end);
    if (res)
        *res = e == STROM_OK ? r : (log_append_result){.base_offset = -1};
    return e;
}

strom_err log_bucket_append(log_bucket *b, uint8_t *batch, size_t len, int64_t *base_offset)
{
    log_append_result r;
    strom_err e = log_bucket_append_ex(b, batch, len, &r);
    if (e == STROM_OK && base_offset)
        *base_offset = r.base_offset;
    return e;
}

strom_err log_bucket_append_nowait(log_bucket *b, uint8_t *batch, size_t len,
                                   int64_t *base_offset, int64_t *end)
{
    log_append_result r;
    strom_err e = append_nowait(b, batch, len, &r, end);
    if (base_offset)
        *base_offset = e == STROM_OK ? r.base_offset : -1;
    return e;
}

strom_err log_bucket_flush_to(log_bucket *b, int64_t end)
{
    pthread_mutex_lock(&b->mu);
    int fenced = b->fenced;
    pthread_mutex_unlock(&b->mu);
    return fenced ? fenced_error(b) : group_commit(b, end);
}

strom_err log_bucket_flush(log_bucket *b)
{
    pthread_mutex_lock(&b->mu);
    int64_t end = b->written_off;
    pthread_mutex_unlock(&b->mu);
    return log_bucket_flush_to(b, end);
}

/* ------------------------------------------------------------- the flusher */

static void *flusher_main(void *arg)
{
    log_bucket *b = arg;
    pthread_mutex_lock(&b->mu);
    while (!b->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (b->cfg.flush_interval_ms % 1000) * 1000000;
        ts.tv_sec += b->cfg.flush_interval_ms / 1000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&b->flush_cv, &b->mu, &ts);
        if (b->stopping || b->fenced || b->durable_off >= b->written_off)
            continue;
        pthread_mutex_unlock(&b->mu);
        log_bucket_flush(b);
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

strom_err log_flusher_start(log_bucket *b)
{
    int rc = pthread_create(&b->flusher, NULL, flusher_main, b);
    if (rc != 0)
        return strom_fail_errno(rc, "%s: start the flush thread", b->name);
    b->flusher_on = 1;
    return STROM_OK;
}

void log_flusher_stop(log_bucket *b)
{
    if (!b->flusher_on)
        return;
    pthread_mutex_lock(&b->mu);
    b->stopping = 1;
    pthread_cond_broadcast(&b->flush_cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->flusher, NULL);
    b->flusher_on = 0;
}
