/* keybuild.c: keeping key indexes up to date: per appended batch, rebuilt from a segment's
 * key columns, loaded from and written to .keys files. */
#include "log_int.h"

#include <limits.h>
#include <stdlib.h>

/* Adds the keys of one batch whose key columns are decoded in kc. Under kxmu. */
static strom_err kx_add_rows(log_bucket *b, log_keyidx *kx, uint32_t pos, uint32_t rel,
                             const fmt_hdr *h, const strom_column *kc)
{
    strom_err e = log_kx_add_batch(kx, pos, rel, h);
    for (uint32_t r = 0; e == STROM_OK && r < h->nrows; r++) {
        e = log_row_key(&b->wkey, kc, b->cfg.nkey_cols, r);
        if (e == STROM_OK)
            e = log_kx_add_key(kx, b->wkey.data, b->wkey.len, strom_hash64(b->wkey.data, b->wkey.len));
    }
    return e;
}

/* Decodes the key columns of an in-memory batch into b->wbatch. */
static strom_err keys_from_memory(log_bucket *b, const uint8_t *batch, const fmt_hdr *h,
                                  const fmt_dir *dirs, strom_column *kc)
{
    strom_err e = fmt_batch_reset(b->wbatch, h, b->cfg.nkey_cols);
    for (int i = 0; e == STROM_OK && i < b->cfg.nkey_cols; i++) {
        int c = b->cfg.key_cols[i];
        if (c >= h->ncols)
            e = fmt_null_column(b->wbatch, STROM_STRING, h->nrows, "", &kc[i]);
        else
            e = fmt_decode_column(b->wdec, &dirs[c], batch + dirs[c].data_offset, h->nrows,
                                  b->wbatch, "", &kc[i]);
    }
    return e;
}

strom_err log_kx_index_batch(log_bucket *b, log_segment *s, const uint8_t *batch,
                             const fmt_hdr *h, const fmt_dir *dirs, uint32_t pos)
{
    if (b->cfg.nkey_cols == 0 || s->kx_state != LOG_KX_READY)
        return STROM_OK;
    strom_column kc[LOG_MAX_KEY_COLS];
    strom_err e = keys_from_memory(b, batch, h, dirs, kc);
    pthread_mutex_lock(&b->kxmu);
    if (e == STROM_OK)
        e = kx_add_rows(b, s->kx, pos, (uint32_t)(h->base_offset - s->base), h, kc);
    if (e != STROM_OK) { /* the index is an accelerator: drop it, rebuild from disk later */
        log_kx_destroy(s->kx);
        s->kx = NULL;
        s->kx_state = LOG_KX_NONE;
    }
    pthread_mutex_unlock(&b->kxmu);
    strom_fail_clear();
    return STROM_OK;
}

/* Decodes the key columns of the batch parsed in io (missing columns are NULL). */
static strom_err keys_from_file(log_bucket *b, log_segment *s, log_bio *io, strom_batch *dst,
                                strom_column *kc)
{
    int dirix[LOG_MAX_KEY_COLS], slot[LOG_MAX_KEY_COLS], n = 0;
    strom_column tmp[LOG_MAX_KEY_COLS];
    strom_err e = fmt_batch_reset(dst, &io->h, b->cfg.nkey_cols);
    for (int i = 0; e == STROM_OK && i < b->cfg.nkey_cols; i++) {
        int c = b->cfg.key_cols[i];
        if (c >= io->h.ncols)
            e = fmt_null_column(dst, STROM_STRING, io->h.nrows, "", &kc[i]);
        else {
            int dup = 0;
            for (int k = 0; k < n; k++)
                dup |= dirix[k] == c;
            if (!dup) {
                dirix[n] = c;
                slot[n++] = i;
            }
        }
    }
    if (e == STROM_OK && n)
        e = log_bio_columns(io, b, s, dirix, n, dst, NULL, tmp);
    for (int k = 0; e == STROM_OK && k < n; k++)
        kc[slot[k]] = tmp[k];
    for (int i = 0; e == STROM_OK && i < b->cfg.nkey_cols; i++)
        for (int k = 0; k < n; k++)
            if (b->cfg.key_cols[i] == dirix[k])
                kc[i] = tmp[k];
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
    strom_batch *dst = fmt_batch_create(LOG_MAX_KEY_COLS);
    if (!kx || !dst)
        e = STROM_ENOMEM;
    for (uint64_t pos = LOG_SEG_HDR; e == STROM_OK && pos < s->size; pos += 12 + io.h.length) {
        strom_column kc[LOG_MAX_KEY_COLS];
        strom_err re = log_bio_header(&io, b, s, pos, s->size);
        if (re == STROM_OK)
            re = keys_from_file(b, s, &io, dst, kc);
        if (re == STROM_ENOMEM)
            e = re;
        if (re != STROM_OK) {
            log_warn(b, "segment %020lld: key index stops at position %llu: %s",
                     (long long)s->base, (unsigned long long)pos, strom_errmsg());
            break;
        }
        e = kx_add_rows(b, kx, (uint32_t)pos, (uint32_t)(io.h.base_offset - s->base), &io.h, kc);
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

/* Memory form of a loaded file form (so the active segment can keep growing it). */
static strom_err kx_thaw(const log_keyidx *f, log_keyidx **out)
{
    log_keyidx *kx = log_kx_create();
    if (!kx)
        return STROM_ENOMEM;
    strom_err e = STROM_OK;
    for (size_t i = 0; e == STROM_OK && i < f->nbatches; i++)
        e = log_kx_add_batch(kx, 0, 0, &(fmt_hdr){.nrows = 0});
    if (e == STROM_OK && f->nbatches)
        memcpy(kx->batches, f->batches, f->nbatches * sizeof *kx->batches);
    uint32_t *ords = NULL;
    size_t n = 0, cap = 0;
    for (uint32_t i = 0; e == STROM_OK && i < f->nslots; i++) {
        const uint8_t *sl = f->fslots + (size_t)i * LOG_KX_SLOT;
        if (strom_get_u32(sl + 20) == 0)
            continue;
        const uint8_t *key = f->fkeys + strom_get_u32(sl + 8);
        size_t len = strom_get_u32(sl + 12);
        e = log_kx_lookup(f, key, len, &ords, &n, &cap);
        for (size_t k = 0; e == STROM_OK && k < n; k++) {
            kx->nbatches = ords[k] + 1; /* add_key notes the key for the last batch */
            e = log_kx_add_key(kx, key, len, strom_get_u64(sl));
        }
    }
    kx->nbatches = f->nbatches;
    free(ords);
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
    uint8_t *p = NULL;
    size_t len = 0;
    strom_err e = log_seg_side_path(s, ".keys", path, sizeof path);
    if (e == STROM_OK)
        e = strom_read_file(path, (size_t)1 << 32, &p, &len);
    if (e != STROM_OK)
        return e;
    e = log_kx_load(p, len, s->base, s->size, out);
    if (e != STROM_OK) {
        free(p);
        return e;
    }
    if (s->sealed)
        return STROM_OK;
    log_keyidx *f = *out;
    e = kx_thaw(f, out);
    log_kx_destroy(f);
    return e;
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
        if (e == STROM_OK && s->sealed) {
            s->kx = kx; /* write needs it */
            log_kx_write(b, s);
        }
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

strom_err log_kx_write(log_bucket *b, log_segment *s)
{
    if (!s->kx || s->kx->file)
        return STROM_OK;
    char path[PATH_MAX];
    strom_buf img = {0};
    strom_err e = log_seg_side_path(s, ".keys", path, sizeof path);
    if (e == STROM_OK)
        e = log_kx_encode(s->kx, s->base, s->size, &img);
    if (e == STROM_OK)
        e = strom_write_file_atomic(path, img.data, img.len);
    strom_buf_free(&img);
    if (e != STROM_OK)
        log_warn(b, "segment %020lld: key index not written: %s", (long long)s->base,
                 strom_errmsg());
    return e;
}
