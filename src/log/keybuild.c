/* keybuild.c: keeping key indexes up to date: per appended batch, rebuilt from a segment's
 * key columns, loaded from and written to .keys files. */
#include "log_int.h"

#include <limits.h>
#include <stdlib.h>

#define KX_PREFETCH_AHEAD 8

/* Adds the rows of one batch whose key columns are decoded in kc (times: the time column's
 * values, NULL for commit time). All keys are hashed first, so that each row's hash slot
 * can be prefetched a few rows ahead: the probes are cache misses otherwise. */
static strom_err kx_add_rows(log_bucket *b, log_keyidx *kx, uint32_t pos, uint32_t rel,
                             const fmt_hdr *h, const strom_column *kc, const int64_t *times)
{
    strom_err e = log_kx_add_batch(kx, pos, rel, h);
    uint32_t ord = (uint32_t)kx->nbatches - 1, n = h->nrows;
    uint64_t *hash = e == STROM_OK ? strom_malloc(((size_t)n + 1) * sizeof *hash) : NULL;
    uint32_t *at = hash ? strom_malloc(((size_t)n + 1) * sizeof *at) : NULL;
    if (e == STROM_OK && !at)
        e = STROM_ENOMEM;
    strom_buf_clear(&b->wkey);
    for (uint32_t r = 0; e == STROM_OK && r < n; r++) {
        at[r] = (uint32_t)b->wkey.len;
        e = log_row_key_append(&b->wkey, kc, b->cfg.nkey_cols, r);
        if (e == STROM_OK)
            hash[r] = strom_hash64(b->wkey.data + at[r], b->wkey.len - at[r]);
    }
    if (e == STROM_OK)
        at[n] = (uint32_t)b->wkey.len;
    for (uint32_t r = 0; e == STROM_OK && r < n; r++) {
        if (r + KX_PREFETCH_AHEAD < n)
            log_kx_prefetch(kx, hash[r + KX_PREFETCH_AHEAD]);
        e = log_kx_add_row(kx, b->wkey.data + at[r], at[r + 1] - at[r], hash[r], ord, r,
                           times ? times[r] : h->commit_ts);
    }
    free(hash);
    free(at);
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
        e = kx_add_rows(b, s->kx, pos, (uint32_t)(h->base_offset - s->base), h, kc, times);
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

/* Builds a key index by decoding the key columns of every batch of s up to s->size. */
static strom_err kx_rebuild(log_bucket *b, log_segment *s, log_keyidx **out)
{
    log_bio io;
    strom_err e = log_bio_init(&io);
    if (e != STROM_OK)
        return e;
    log_keyidx *kx = log_kx_create();
    strom_batch *dst = fmt_batch_create(LOG_MAX_KEY_COLS + 1);
    if (!kx || !dst)
        e = STROM_ENOMEM;
    for (uint64_t pos = LOG_SEG_HDR; e == STROM_OK && pos < s->size; pos += 12 + io.h.length) {
        strom_column kc[LOG_MAX_KEY_COLS];
        const int64_t *times = NULL;
        strom_err re = log_bio_header(&io, b, s, pos, s->size);
        if (re == STROM_OK)
            re = keys_from_file(b, s, &io, dst, kc, &times);
        if (re == STROM_ENOMEM)
            e = re;
        if (re != STROM_OK) {
            log_warn(b, "segment %020lld: key index stops at position %llu: %s",
                     (long long)s->base, (unsigned long long)pos, strom_errmsg());
            break;
        }
        e = kx_add_rows(b, kx, (uint32_t)pos, (uint32_t)(io.h.base_offset - s->base), &io.h, kc,
                        times);
    }
    log_bio_free(&io);
    strom_batch_destroy(dst);
    if (e != STROM_OK) {
        log_kx_destroy(kx);
        return e;
    }
    *out = kx;
    return STROM_OK;
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

static strom_err kx_load_file(log_bucket *b, log_segment *s, log_keyidx **out)
{
    char path[PATH_MAX];
    strom_err e = log_seg_side_path(s, ".keys", path, sizeof path);
    if (e == STROM_OK)
        e = log_kx_open(path, s->base, s->size, !s->sealed, out);
    if (e == STROM_OK && !s->sealed) {
        log_keyidx *f = *out;
        e = kx_thaw(f, out);
        log_kx_destroy(f);
    }
    if (e == STROM_OK)
        s->kx_disk = s->size;
    return e;
}

/* Writes a rebuilt sealed index and switches to its file form (small memory). */
static log_keyidx *kx_persist(log_bucket *b, log_segment *s, log_keyidx *kx)
{
    log_keyidx *f = NULL;
    s->kx = kx; /* log_kx_write writes s->kx; nobody reads it before the state is READY */
    if (log_kx_write(b, s) == STROM_OK && kx_load_file(b, s, &f) == STROM_OK) {
        log_kx_destroy(kx);
        kx = f;
    }
    s->kx = NULL;
    return kx;
}

strom_err log_kx_ensure(log_bucket *b, log_segment *s)
{
    if (b->cfg.nkey_cols == 0)
        return strom_fail(STROM_EUNSUPPORTED, "%s: no key index ('table.log.index.key')", b->name);
    if (s->kx_state == LOG_KX_READY)
        return STROM_OK;
    log_keyidx *kx = NULL;
    strom_err e = kx_load_file(b, s, &kx);
    if (e != STROM_OK) {
        if (e == STROM_ECORRUPT)
            log_warn(b, "segment %020lld: %s; rebuilt", (long long)s->base, strom_errmsg());
        e = kx_rebuild(b, s, &kx);
        if (e == STROM_OK && s->sealed)
            kx = kx_persist(b, s, kx);
    }
    if (e != STROM_OK)
        return e;
    pthread_mutex_lock(&b->kxmu);
    s->kx = kx;
    s->kx_state = LOG_KX_READY;
    pthread_mutex_unlock(&b->kxmu);
    strom_fail_clear();
    return STROM_OK;
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
