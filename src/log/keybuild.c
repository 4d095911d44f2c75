/* keybuild.c: keeping key indexes up to date: per appended batch, rebuilt from a segment's
 * key columns, loaded from and written to .keys files. */
#include "log_int.h"

#include <limits.h>
#include <stdlib.h>

#define KX_PREFETCH_AHEAD 8

/* Adds the rows of one batch whose key columns are decoded in kc (times: the time column's
 * values, NULL for commit time). All keys are hashed first, so that each row's hash slot
 * can be prefetched a few rows ahead: the probes are cache misses otherwise. */
void log_kxscratch_free(log_kxscratch *ks)
{
    strom_buf_free(&ks->keys);
    strom_buf_free(&ks->hashes);
    strom_buf_free(&ks->starts);
}

static strom_err kx_add_rows(log_bucket *b, log_keyidx *kx, uint32_t pos, uint32_t rel,
                             const fmt_hdr *h, const strom_column *kc, const int64_t *times,
                             log_kxscratch *ks)
{
    strom_err e = log_kx_add_batch(kx, pos, rel, h);
    uint32_t ord = (uint32_t)kx->nbatches - 1, n = h->nrows;
    strom_buf_clear(&ks->keys);
    strom_buf_clear(&ks->hashes);
    strom_buf_clear(&ks->starts);
    uint64_t *hash = e == STROM_OK ? (uint64_t *)strom_buf_grow(&ks->hashes, ((size_t)n + 1) * 8) : NULL;
    uint32_t *at = hash ? (uint32_t *)strom_buf_grow(&ks->starts, ((size_t)n + 1) * 4) : NULL;
    if (e == STROM_OK && !at)
        e = STROM_ENOMEM;
    strom_buf *kb = &ks->keys;
    for (uint32_t r = 0; e == STROM_OK && r < n; r++) {
        at[r] = (uint32_t)kb->len;
        e = log_row_key_append(kb, kc, b->cfg.nkey_cols, r);
        if (e == STROM_OK)
            hash[r] = strom_hash64(kb->data + at[r], kb->len - at[r]);
    }
    if (e == STROM_OK)
        at[n] = (uint32_t)kb->len;
    for (uint32_t r = 0; e == STROM_OK && r < n; r++) {
        if (r + KX_PREFETCH_AHEAD < n)
            log_kx_prefetch(kx, hash[r + KX_PREFETCH_AHEAD]);
        e = log_kx_add_row(kx, kb->data + at[r], at[r + 1] - at[r], hash[r], ord, r,
                           times ? times[r] : h->commit_ts);
    }
    return e;
}

static int has_time_col(const fmt_hdr *h)
{
    return h->time_col != FMT_NO_TIME_COLUMN && h->time_col < h->ncols;
}

/* Decodes the key columns and the time column of an in-memory batch into b->wbatch. */
static strom_err keys_from_memory(log_bucket *b, const uint8_t *batch, const fmt_hdr *h,
                                  const fmt_dir *dirs, strom_column *kc, const int64_t **times)
{
    strom_column tc;
    *times = NULL;
    strom_err e = fmt_batch_reset(b->wbatch, h, b->cfg.nkey_cols);
    for (int i = 0; e == STROM_OK && i < b->cfg.nkey_cols; i++) {
        int c = b->cfg.key_cols[i];
        if (c >= h->ncols)
            e = fmt_null_column(b->wbatch, STROM_STRING, h->nrows, "", &kc[i]);
        else
            e = fmt_decode_column(b->wdec, &dirs[c], batch + dirs[c].data_offset, h->nrows,
                                  b->wbatch, "", &kc[i]);
    }
    if (e == STROM_OK && has_time_col(h)) {
        const fmt_dir *d = &dirs[h->time_col];
        e = fmt_decode_column(b->wdec, d, batch + d->data_offset, h->nrows, b->wbatch, "", &tc);
        if (e == STROM_OK)
            e = log_time_values(b, h, &tc, times);
    }
    return e;
}

strom_err log_kx_index_batch(log_bucket *b, log_segment *s, const uint8_t *batch,
                             const fmt_hdr *h, const fmt_dir *dirs, uint32_t pos)
{
    if (b->cfg.nkey_cols == 0 || s->kx_state != LOG_KX_READY)
        return STROM_OK;
    strom_column kc[LOG_MAX_KEY_COLS];
    const int64_t *times = NULL;
    strom_err e = keys_from_memory(b, batch, h, dirs, kc, &times);
    pthread_mutex_lock(&b->kxmu);
    if (e == STROM_OK)
        e = kx_add_rows(b, s->kx, pos, (uint32_t)(h->base_offset - s->base), h, kc, times,
                        &b->wkx);
    if (e != STROM_OK) { /* the index is an accelerator: drop it, rebuild from disk later */
        log_kx_destroy(s->kx);
        s->kx = NULL;
        s->kx_state = LOG_KX_NONE;
    }
    pthread_mutex_unlock(&b->kxmu);
    strom_fail_clear();
    return STROM_OK;
}

/* Decodes the key columns and the time column of the batch parsed in io (missing key
 * columns are NULL). */
static strom_err keys_from_file(log_bucket *b, log_segment *s, log_bio *io, strom_batch *dst,
                                strom_column *kc, const int64_t **times)
{
    int dirix[LOG_MAX_KEY_COLS + 1], n = 0;
    strom_column tmp[LOG_MAX_KEY_COLS + 1];
    *times = NULL;
    if (has_time_col(&io->h))
        dirix[n++] = (int)io->h.time_col;
    for (int i = 0; i < b->cfg.nkey_cols; i++) {
        int c = b->cfg.key_cols[i], dup = 0;
        for (int k = 0; k < n; k++)
            dup |= dirix[k] == c;
        if (c < io->h.ncols && !dup)
            dirix[n++] = c;
    }
    strom_err e = fmt_batch_reset(dst, &io->h, b->cfg.nkey_cols + 1);
    if (e == STROM_OK && n)
        e = log_bio_columns(io, b, s, dirix, n, dst, NULL, tmp);
    if (e == STROM_OK && has_time_col(&io->h))
        e = log_time_values(b, &io->h, &tmp[0], times);
    for (int i = 0; e == STROM_OK && i < b->cfg.nkey_cols; i++) {
        int k = -1;
        for (int j = 0; j < n; j++)
            if (dirix[j] == b->cfg.key_cols[i])
                k = j;
        if (k >= 0)
            kc[i] = tmp[k];
        else
            e = fmt_null_column(dst, STROM_STRING, io->h.nrows, "", &kc[i]);
    }
    return e;
}

/* Adds the batches of s in [from, limit) to *kx (created when NULL) by decoding their key
 * and time columns. Touches no shared state of the bucket but warnings, so it may run
 * without the writer lock on bytes below the acknowledged size (they never change). */
static strom_err kx_rebuild_range(log_bucket *b, log_segment *s, uint64_t from, uint64_t limit,
                                  log_keyidx **kx)
{
    log_bio io;
    log_kxscratch ks = {0};
    strom_err e = log_bio_init(&io);
    if (e != STROM_OK)
        return e;
    if (!*kx)
        *kx = log_kx_create();
    strom_batch *dst = fmt_batch_create(LOG_MAX_KEY_COLS + 1);
    if (!*kx || !dst)
        e = STROM_ENOMEM;
    for (uint64_t pos = from; e == STROM_OK && pos < limit; pos += 12 + io.h.length) {
        strom_column kc[LOG_MAX_KEY_COLS];
        const int64_t *times = NULL;
        strom_err re = log_bio_header(&io, b, s, pos, limit);
        if (re == STROM_OK)
            re = keys_from_file(b, s, &io, dst, kc, &times);
        if (re == STROM_ENOMEM)
            e = re;
        if (re != STROM_OK) {
            log_warn(b, "segment %020lld: key index stops at position %llu: %s",
                     (long long)s->base, (unsigned long long)pos, strom_errmsg());
            break;
        }
        e = kx_add_rows(b, *kx, (uint32_t)pos, (uint32_t)(io.h.base_offset - s->base), &io.h, kc,
                        times, &ks);
    }
    log_bio_free(&io);
    strom_batch_destroy(dst);
    log_kxscratch_free(&ks);
    if (e != STROM_OK) {
        log_kx_destroy(*kx);
        *kx = NULL;
    }
    return e;
}

static strom_err thaw_key(void *arg, const uint8_t *key, size_t len, uint64_t hash,
                          const log_kxpost *posts, size_t n)
{
    return log_kx_add_rows(arg, key, len, hash, posts, n);
}

/* Memory form of a file form (so the active segment can keep growing it). */
static strom_err kx_thaw(const log_keyidx *f, log_keyidx **out)
{
    log_keyidx *kx = log_kx_create();
    if (!kx)
        return STROM_ENOMEM;
    kx->batches = f->nbatches ? strom_malloc(f->nbatches * sizeof *kx->batches) : NULL;
    strom_err e = f->nbatches && !kx->batches ? STROM_ENOMEM : STROM_OK;
    if (e == STROM_OK && f->nbatches) {
        memcpy(kx->batches, f->batches, f->nbatches * sizeof *kx->batches);
        kx->nbatches = kx->cap_batches = f->nbatches;
    }
    if (e == STROM_OK)
        e = log_kx_each_key(f, thaw_key, kx);
    if (e != STROM_OK) {
        log_kx_destroy(kx);
        return e;
    }
    *out = kx;
    return STROM_OK;
}

/* Loads the .keys file of s when it covers exactly limit bytes (thawed into the memory form
 * for the active segment). The caller records kx_disk. */
static strom_err kx_load_file(log_bucket *b, log_segment *s, uint64_t limit, int sealed,
                              log_keyidx **out)
{
    char path[PATH_MAX];
    strom_err e = log_seg_side_path(s, ".keys", path, sizeof path);
    if (e == STROM_OK)
        e = log_kx_open(path, s->base, limit, !sealed, out);
    if (e == STROM_OK && !sealed) {
        log_keyidx *f = *out;
        e = kx_thaw(f, out);
        log_kx_destroy(f);
    }
    return e;
}

/* Writes a rebuilt sealed index and switches to its file form (small memory). */
static log_keyidx *kx_persist(log_bucket *b, log_segment *s, log_keyidx *kx)
{
    log_keyidx *f = NULL;
    s->kx = kx; /* log_kx_write writes s->kx; nobody reads it before the state is READY */
    if (log_kx_write(b, s) == STROM_OK && kx_load_file(b, s, s->size, 1, &f) == STROM_OK) {
        s->kx_disk = s->size;
        log_kx_destroy(kx);
        kx = f;
    }
    s->kx = NULL;
    return kx;
}

/* Builds the key index of s over [header, limit): from its .keys file when that covers
 * exactly limit bytes (*from_file = 1), else by decoding the segment. Lock-free as
 * kx_rebuild_range. */
static strom_err kx_build(log_bucket *b, log_segment *s, uint64_t limit, int sealed,
                          log_keyidx **out, int *from_file)
{
    *from_file = 0;
    *out = NULL;
    strom_err e = kx_load_file(b, s, limit, sealed, out);
    if (e == STROM_OK) {
        *from_file = 1;
        return STROM_OK;
    }
    if (e == STROM_ECORRUPT)
        log_warn(b, "segment %020lld: %s; rebuilt", (long long)s->base, strom_errmsg());
    *out = NULL;
    return kx_rebuild_range(b, s, LOG_SEG_HDR, limit, out);
}

/* Makes kx the ready key index of s. Under wmu. */
static void kx_install(log_bucket *b, log_segment *s, log_keyidx *kx)
{
    pthread_mutex_lock(&b->kxmu);
    s->kx = kx;
    s->kx_state = LOG_KX_READY;
    pthread_mutex_unlock(&b->kxmu);
}

strom_err log_kx_ensure(log_bucket *b, log_segment *s)
{
    if (b->cfg.nkey_cols == 0)
        return strom_fail(STROM_EUNSUPPORTED, "%s: no key index ('table.log.index.key')", b->name);
    if (s->kx_state == LOG_KX_READY)
        return STROM_OK;
    log_keyidx *kx = NULL;
    int from_file = 0;
    strom_err e = kx_build(b, s, s->size, s->sealed, &kx, &from_file);
    if (e != STROM_OK)
        return e;
    if (from_file)
        s->kx_disk = s->size;
    else if (s->sealed)
        kx = kx_persist(b, s, kx);
    kx_install(b, s, kx);
    strom_fail_clear();
    return STROM_OK;
}

/* ----------------------------------------------------- warming up after open */

/* Takes (under wmu) the active segment to warm, with a reference; NULL if ready. It is
 * built as active (unsealed); if it is sealed meanwhile, the result is dropped. */
static log_segment *warm_target(log_bucket *b, uint64_t *limit)
{
    pthread_mutex_lock(&b->wmu);
    log_segment *s = b->nsegs ? b->segs[b->nsegs - 1] : NULL;
    if (s && s->kx_state == LOG_KX_READY)
        s = NULL;
    if (s) {
        *limit = s->size;
        pthread_mutex_lock(&b->mu);
        log_seg_ref(b, s);
        pthread_mutex_unlock(&b->mu);
    }
    pthread_mutex_unlock(&b->wmu);
    return s;
}

/* The warm-up thread: builds the active segment's key index from the bytes present at
 * start without the writer lock (appends go on meanwhile, unindexed), then under the lock
 * adds the batches appended since and installs it. If a key-history call or a seal got
 * there first, the work is dropped. Waiters (key history) are woken at the end. */
static void *kx_warm_main(void *arg)
{
    log_bucket *b = arg;
    uint64_t limit = 0;
    log_segment *s = warm_target(b, &limit);
    log_keyidx *kx = NULL;
    int from_file = 0;
    strom_err e = s ? kx_build(b, s, limit, 0, &kx, &from_file) : STROM_OK;
    pthread_mutex_lock(&b->wmu);
    if (s && e == STROM_OK && s->kx_state != LOG_KX_READY && !s->sealed &&
        kx_rebuild_range(b, s, limit, s->size, &kx) == STROM_OK) {
        if (from_file)
            s->kx_disk = limit;
        kx_install(b, s, kx);
        kx = NULL;
    }
    b->kx_warming = 0;
    pthread_cond_broadcast(&b->kx_warm_cv);
    pthread_mutex_unlock(&b->wmu);
    log_kx_destroy(kx);
    if (s) {
        pthread_mutex_lock(&b->mu);
        log_seg_unref(b, s);
        pthread_mutex_unlock(&b->mu);
    }
    strom_fail_clear();
    return NULL;
}

void log_kx_warm_start(log_bucket *b)
{
    if (b->cfg.nkey_cols == 0)
        return;
    b->kx_warming = 1;
    if (pthread_create(&b->kx_warm_thread, NULL, kx_warm_main, b) != 0)
        b->kx_warming = 0; /* no thread: the first key-history call builds it */
    else
        b->kx_warm_started = 1;
}

void log_kx_warm_wait(log_bucket *b)
{
    while (b->kx_warming)
        pthread_cond_wait(&b->kx_warm_cv, &b->wmu);
}

void log_kx_warm_join(log_bucket *b)
{
    if (b->kx_warm_started)
        pthread_join(b->kx_warm_thread, NULL);
    b->kx_warm_started = 0;
}

strom_err log_kx_seal(log_bucket *b, log_segment *s)
{
    strom_err e = log_kx_ensure(b, s);
    if (e != STROM_OK || !s->kx || s->kx->fd >= 0 || s->kx->image)
        return e;
    pthread_mutex_lock(&b->kxmu);
    log_keyidx *mem = s->kx;
    s->kx = kx_persist(b, s, mem);
    pthread_mutex_unlock(&b->kxmu);
    return STROM_OK;
}

strom_err log_kx_write(log_bucket *b, log_segment *s)
{
    if (!s->kx || s->kx->fd >= 0 || s->kx->image || s->kx_disk == s->size)
        return STROM_OK; /* file form, or the file on disk is already this index */
    char path[PATH_MAX];
    strom_buf img = {0};
    strom_err e = log_seg_side_path(s, ".keys", path, sizeof path);
    if (e == STROM_OK)
        e = log_kx_encode(s->kx, s->base, s->size, &img);
    if (e == STROM_OK)
        e = strom_write_file_atomic(path, img.data, img.len);
    strom_buf_free(&img);
    if (e == STROM_OK)
        s->kx_disk = s->size;
    if (e != STROM_OK)
        log_warn(b, "segment %020lld: key index not written: %s", (long long)s->base,
                 strom_errmsg());
    return e;
}
