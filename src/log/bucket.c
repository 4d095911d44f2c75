/* bucket.c: opening and closing a bucket, fencing, warnings, offsets, statistics,
 * retention and seek by time. */
#define _GNU_SOURCE
#include "log_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void log_config_init(log_config *c)
{
    memset(c, 0, sizeof *c);
    c->name = "bucket";
    c->flush = LOG_FLUSH_SYNC;
    c->flush_interval_ms = 1000;
    c->segment_bytes = (int64_t)256 << 20;
    c->ttl_ms = (int64_t)7 * 24 * 3600 * 1000;
    c->index_interval_bytes = 4096;
    c->time_col = -1;
    c->writer_expiry_ms = (int64_t)7 * 24 * 3600 * 1000;
    c->max_writers = 100000;
    c->writer_snapshot_bytes = (int64_t)64 << 20;
}

void log_warn(log_bucket *b, const char *fmt, ...)
{
    char line[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&b->mu);
    size_t old = b->warnings ? strlen(b->warnings) : 0;
    char *w = old > 64 * 1024 ? NULL : realloc(b->warnings, old + strlen(b->name) + strlen(line) + 4);
    if (w) {
        sprintf(w + old, "%s: %s\n", b->name, line);
        b->warnings = w;
    }
    pthread_mutex_unlock(&b->mu);
}

const char *log_bucket_warnings(log_bucket *b)
{
    return b->warnings ? b->warnings : "";
}

strom_err log_bucket_fence(log_bucket *b, strom_err e, const char *what)
{
    pthread_mutex_lock(&b->mu);
    if (!b->fenced) {
        b->fenced = 1;
        snprintf(b->fence_msg, sizeof b->fence_msg, "%s", strom_errmsg());
    }
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    return strom_fail_wrap(e, "%s: %s failed, bucket fenced", b->name, what);
}

static void config_clamp(log_config *c)
{
    if (c->segment_bytes < 1024)
        c->segment_bytes = 1024;
    if (c->segment_bytes > LOG_MAX_SEG_BYTES - FMT_MAX_BATCH_BYTES)
        c->segment_bytes = LOG_MAX_SEG_BYTES - FMT_MAX_BATCH_BYTES;
    if (c->index_interval_bytes < 1)
        c->index_interval_bytes = 1;
    if (c->flush_interval_ms < 1)
        c->flush_interval_ms = 1;
    if (c->nkey_cols < 0 || c->nkey_cols > LOG_MAX_KEY_COLS)
        c->nkey_cols = 0;
    if (c->writer_expiry_ms < 1)
        c->writer_expiry_ms = 1;
    if (c->writer_snapshot_bytes < 4096)
        c->writer_snapshot_bytes = 4096;
    if (c->max_writers < 16)
        c->max_writers = 16;
    if (c->max_writers > LOG_WR_MAX)
        c->max_writers = LOG_WR_MAX;
}

static strom_err bucket_alloc(const char *dir, const log_config *cfg, log_bucket **out)
{
    log_bucket *b = strom_calloc(1, sizeof *b);
    if (!b)
        return STROM_ENOMEM;
    b->cfg = *cfg;
    config_clamp(&b->cfg);
    b->dir = strom_strdup(dir);
    b->name = strom_strdup(cfg->name ? cfg->name : dir);
    b->wdirs = strom_calloc(FMT_MAX_COLUMNS, sizeof *b->wdirs);
    b->wdec = fmt_decoder_create();
    b->wbatch = fmt_batch_create(LOG_MAX_KEY_COLS);
    pthread_mutex_init(&b->mu, NULL);
    pthread_mutex_init(&b->wmu, NULL);
    pthread_mutex_init(&b->kxmu, NULL);
    pthread_cond_init(&b->cv, NULL);
    pthread_cond_init(&b->flush_cv, NULL);
    pthread_cond_init(&b->kx_warm_cv, NULL);
    *out = b;
    if (!b->dir || !b->name || !b->wdirs || !b->wdec || !b->wbatch)
        return strom_fail(STROM_ENOMEM, "out of memory opening %s", dir);
    b->cfg.name = b->name;
    return STROM_OK;
}

static void bucket_free(log_bucket *b)
{
    for (int i = 0; i < b->nsegs; i++)
        log_seg_unref(b, b->segs[i]);
    free(b->segs);
    free(b->wdirs);
    if (b->wdec)
        fmt_decoder_destroy(b->wdec);
    strom_batch_destroy(b->wbatch);
    log_kxscratch_free(&b->wkx);
    log_wr_free(&b->wr);
    pthread_mutex_destroy(&b->mu);
    pthread_mutex_destroy(&b->wmu);
    pthread_mutex_destroy(&b->kxmu);
    pthread_cond_destroy(&b->cv);
    pthread_cond_destroy(&b->flush_cv);
    pthread_cond_destroy(&b->kx_warm_cv);
    free(b->warnings);
    free(b->dir);
    free(b->name);
    free(b);
}

strom_err log_bucket_open(const char *dir, const log_config *cfg, log_bucket **out)
{
    log_config def;
    if (!cfg) {
        log_config_init(&def);
        cfg = &def;
    }
    log_bucket *b = NULL;
    strom_err e = bucket_alloc(dir, cfg, &b);
    if (e == STROM_OK) {
        int rc = strom_mkdirs(dir, 0755);
        if (rc != 0)
            e = strom_fail_errno(rc, "%s: create directory %s", b->name, dir);
    }
    if (e == STROM_OK)
        e = log_recover(b);
    if (e == STROM_OK)
        e = log_wr_recover(b);
    if (e == STROM_OK && log_bucket_retention(b, log_retention_clock_ms(), NULL) != STROM_OK)
        log_warn(b, "%s", strom_errmsg()); /* expired segments stay until the next roll */
    if (e == STROM_OK && b->cfg.flush == LOG_FLUSH_INTERVAL)
        e = log_flusher_start(b);
    if (e == STROM_OK)
        log_kx_warm_start(b);
    if (e != STROM_OK) {
        if (b)
            bucket_free(b);
        return e;
    }
    *out = b;
    return STROM_OK;
}

void log_bucket_close(log_bucket *b)
{
    if (!b)
        return;
    log_kx_warm_join(b);
    log_flusher_stop(b);
    pthread_mutex_lock(&b->wmu);
    log_segment *s = b->nsegs ? b->segs[b->nsegs - 1] : NULL;
    if (s && !b->fenced && log_seg_trim(s) == 0 && log_fsync(s->fd) == 0) {
        if (b->wr_snap_off != s->end_off) /* nothing appended since the newest one */
            log_wr_snapshot(b, s); /* only after the fsync: it must not cover lost batches */
        if (log_index_file_flush(b, s, 1, 1) == STROM_OK && s->kx_state == LOG_KX_READY)
            log_kx_write(b, s);
    }
    pthread_mutex_unlock(&b->wmu);
    strom_fail_clear();
    bucket_free(b);
}

void log_bucket_offsets(log_bucket *b, int64_t *earliest, int64_t *end)
{
    pthread_mutex_lock(&b->mu);
    if (earliest)
        *earliest = b->segs[0]->base;
    if (end)
        *end = b->hw;
    pthread_mutex_unlock(&b->mu);
}

strom_err log_segs_push(log_bucket *b, log_segment *s)
{
    if (b->nsegs == b->cap_segs) {
        int cap = b->cap_segs ? b->cap_segs * 2 : 16;
        log_segment **n = strom_realloc(b->segs, (size_t)cap * sizeof *n);
        if (!n)
            return STROM_ENOMEM;
        b->segs = n;
        b->cap_segs = cap;
    }
    b->segs[b->nsegs++] = s;
    return STROM_OK;
}

log_segment *log_seg_for_offset(log_bucket *b, int64_t off)
{
    int lo = 0, hi = b->nsegs;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (b->segs[mid]->base <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    log_segment *s = b->segs[lo ? lo - 1 : 0];
    log_seg_ref(b, s);
    return s;
}

strom_err log_bucket_stats(log_bucket *b, strom_bucket_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&b->mu);
    out->earliest_offset = b->segs[0]->base;
    out->end_offset = b->hw;
    out->segments = b->nsegs;
    for (int i = 0; i < b->nsegs; i++) {
        out->bytes_on_disk += (int64_t)b->segs[i]->size;
        out->raw_bytes += (int64_t)b->segs[i]->raw_bytes;
        out->batches += (int64_t)b->segs[i]->nbatches;
    }
    out->fsyncs = b->fsyncs;
    pthread_mutex_unlock(&b->mu);
    return STROM_OK;
}

static void seg_unlink(log_segment *s)
{
    char p[PATH_MAX];
    unlink(s->path);
    if (log_seg_side_path(s, ".index", p, sizeof p) == STROM_OK)
        unlink(p);
    if (log_seg_side_path(s, ".keys", p, sizeof p) == STROM_OK)
        unlink(p);
    s->removed = 1;
}

int64_t log_test_clock_skew_ms;

int64_t log_retention_clock_ms(void) { return strom_now_ms() + log_test_clock_skew_ms; }

/* Removes the expired sealed segments at the front. Under wmu (takes mu). */
strom_err log_retention_locked(log_bucket *b, int64_t now_ms, int *removed)
{
    int n = 0;
    pthread_mutex_lock(&b->mu);
    if (b->cfg.ttl_ms > 0) {
        while (n < b->nsegs - 1 && b->segs[n]->sealed &&
               b->segs[n]->max_commit < now_ms - b->cfg.ttl_ms)
            n++;
        for (int i = 0; i < n; i++) {
            seg_unlink(b->segs[i]);
            log_seg_unref(b, b->segs[i]);
        }
        memmove(b->segs, b->segs + n, (size_t)(b->nsegs - n) * sizeof *b->segs);
        b->nsegs -= n;
    }
    pthread_mutex_unlock(&b->mu);
    if (removed)
        *removed = n;
    int rc = n ? strom_fsync_dir(b->dir) : 0;
    if (rc != 0)
        return strom_fail_errno(rc, "%s: retention: fsync of %s", b->name, b->dir);
    return STROM_OK;
}

strom_err log_bucket_retention(log_bucket *b, int64_t now_ms, int *removed)
{
    pthread_mutex_lock(&b->wmu);
    strom_err e = log_retention_locked(b, now_ms, removed);
    pthread_mutex_unlock(&b->wmu);
    return e;
}
