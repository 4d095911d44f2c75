/* keyidx.c: the per-segment key index: canonical key bytes -> ordinals of the batches
 * holding the key. Memory form (active segment: hash slots + linked postings) and file
 * form (.keys, see log_int.h; loaded whole and used in place). */
#include "log_int.h"

#include <stdlib.h>

log_keyidx *log_kx_create(void)
{
    log_keyidx *kx = strom_calloc(1, sizeof *kx);
    if (!kx)
        return NULL;
    kx->nslots = 16;
    kx->slots = strom_calloc(kx->nslots, sizeof *kx->slots);
    if (!kx->slots) {
        free(kx);
        return NULL;
    }
    return kx;
}

void log_kx_destroy(log_keyidx *kx)
{
    if (!kx)
        return;
    free(kx->batches);
    free(kx->slots);
    free(kx->posts);
    free(kx->file);
    strom_buf_free(&kx->keys);
    free(kx);
}

strom_err log_kx_add_batch(log_keyidx *kx, uint32_t pos, uint32_t rel, const fmt_hdr *h)
{
    if (kx->nbatches == kx->cap_batches) {
        size_t cap = kx->cap_batches ? kx->cap_batches * 2 : 256;
        log_kxbatch *nb = strom_realloc(kx->batches, cap * sizeof *nb);
        if (!nb)
            return STROM_ENOMEM;
        kx->batches = nb;
        kx->cap_batches = cap;
    }
    kx->batches[kx->nbatches++] = (log_kxbatch){pos, rel, h->nrows, h->min_time, h->max_time};
    return STROM_OK;
}

static uint32_t kx_probe(const log_keyidx *kx, const uint8_t *key, size_t len, uint64_t hash)
{
    uint32_t mask = kx->nslots - 1;
    for (uint32_t i = (uint32_t)hash & mask;; i = (i + 1) & mask) {
        const log_kxslot *sl = &kx->slots[i];
        if (sl->head == 0)
            return i;
        if (sl->hash == hash && sl->key_len == len && !memcmp(kx->keys.data + sl->key_off, key, len))
            return i;
    }
}

static strom_err kx_rehash(log_keyidx *kx)
{
    uint32_t n = kx->nslots * 2;
    log_kxslot *ns = strom_calloc(n, sizeof *ns);
    if (!ns)
        return STROM_ENOMEM;
    log_kxslot *old = kx->slots;
    uint32_t on = kx->nslots;
    kx->slots = ns;
    kx->nslots = n;
    for (uint32_t i = 0; i < on; i++) {
        if (old[i].head == 0)
            continue;
        uint32_t j = (uint32_t)old[i].hash & (n - 1);
        while (ns[j].head)
            j = (j + 1) & (n - 1);
        ns[j] = old[i];
    }
    free(old);
    return STROM_OK;
}

static strom_err kx_push_post(log_keyidx *kx, uint32_t batch, uint32_t prev)
{
    if (kx->nposts == kx->cap_posts) {
        size_t cap = kx->cap_posts ? kx->cap_posts * 2 : 1024;
        log_kxpost *np = strom_realloc(kx->posts, cap * sizeof *np);
        if (!np)
            return STROM_ENOMEM;
        kx->posts = np;
        kx->cap_posts = cap;
    }
    kx->posts[kx->nposts++] = (log_kxpost){batch, prev};
    return STROM_OK;
}

strom_err log_kx_add_key(log_keyidx *kx, const uint8_t *key, size_t len, uint64_t hash)
{
    uint32_t cur = (uint32_t)kx->nbatches - 1;
    log_kxslot *sl = &kx->slots[kx_probe(kx, key, len, hash)];
    if (sl->head && kx->posts[sl->head - 1].batch == cur)
        return STROM_OK; /* already noted for this batch */
    strom_err e = kx_push_post(kx, cur, sl->head);
    if (e != STROM_OK)
        return e;
    if (sl->head) {
        sl->head = (uint32_t)kx->nposts;
        sl->count++;
        return STROM_OK;
    }
    if (len > UINT32_MAX || kx->keys.len + len > UINT32_MAX)
        return strom_fail(STROM_ELIMIT, "key index: too many key bytes in one segment");
    *sl = (log_kxslot){hash, (uint32_t)kx->keys.len, (uint32_t)len, (uint32_t)kx->nposts, 1};
    e = strom_buf_append(&kx->keys, key, len);
    if (e != STROM_OK)
        return e;
    kx->nkeys++;
    return (uint64_t)kx->nkeys * 2 > kx->nslots ? kx_rehash(kx) : STROM_OK;
}

static strom_err out_reserve(uint32_t **out, size_t *cap, size_t n)
{
    if (n <= *cap)
        return STROM_OK;
    uint32_t *p = strom_realloc(*out, n * sizeof *p);
    if (!p)
        return STROM_ENOMEM;
    *out = p;
    *cap = n;
    return STROM_OK;
}

static strom_err kx_lookup_file(const log_keyidx *kx, const uint8_t *key, size_t len,
                                uint64_t hash, uint32_t **out, size_t *n, size_t *cap)
{
    uint32_t mask = kx->nslots - 1;
    *n = 0;
    for (uint32_t i = (uint32_t)hash & mask, probes = 0; probes < kx->nslots;
         i = (i + 1) & mask, probes++) {
        const uint8_t *sl = kx->fslots + (size_t)i * LOG_KX_SLOT;
        uint32_t count = strom_get_u32(sl + 20);
        if (count == 0)
            return STROM_OK;
        if (strom_get_u64(sl) != hash || strom_get_u32(sl + 12) != len ||
            memcmp(kx->fkeys + strom_get_u32(sl + 8), key, len))
            continue;
        strom_err e = out_reserve(out, cap, count);
        if (e != STROM_OK)
            return e;
        const uint8_t *pp = kx->fposts + (size_t)strom_get_u32(sl + 16) * 4;
        for (uint32_t k = 0; k < count; k++)
            (*out)[k] = strom_get_u32(pp + 4 * (size_t)k);
        *n = count;
        return STROM_OK;
    }
    return STROM_OK;
}

strom_err log_kx_lookup(const log_keyidx *kx, const uint8_t *key, size_t len, uint32_t **out,
                        size_t *n, size_t *cap)
{
    uint64_t hash = strom_hash64(key, len);
    if (kx->file)
        return kx_lookup_file(kx, key, len, hash, out, n, cap);
    *n = 0;
    const log_kxslot *sl = &kx->slots[kx_probe(kx, key, len, hash)];
    if (sl->head == 0)
        return STROM_OK;
    strom_err e = out_reserve(out, cap, sl->count);
    if (e != STROM_OK)
        return e;
    size_t k = sl->count;
    for (uint32_t p = sl->head; p && k; p = kx->posts[p - 1].prev)
        (*out)[--k] = kx->posts[p - 1].batch;
    *n = sl->count;
    return STROM_OK;
}

/* ------------------------------------------------------------------ file form */

static void kx_encode_batches(const log_keyidx *kx, uint8_t *p)
{
    for (size_t i = 0; i < kx->nbatches; i++, p += LOG_KX_BATCH) {
        const log_kxbatch *bt = &kx->batches[i];
        memset(p, 0, LOG_KX_BATCH);
        strom_put_u32(p, bt->position);
        strom_put_u32(p + 4, bt->rel_offset);
        strom_put_u32(p + 8, bt->nrows);
        strom_put_i64(p + 16, bt->min_time);
        strom_put_i64(p + 24, bt->max_time);
    }
}

static void kx_encode_slots(const log_keyidx *kx, uint8_t *sp, uint8_t *pp)
{
    uint32_t off = 0;
    for (uint32_t i = 0; i < kx->nslots; i++, sp += LOG_KX_SLOT) {
        const log_kxslot *sl = &kx->slots[i];
        memset(sp, 0, LOG_KX_SLOT);
        if (sl->head == 0)
            continue;
        strom_put_u64(sp, sl->hash);
        strom_put_u32(sp + 8, sl->key_off);
        strom_put_u32(sp + 12, sl->key_len);
        strom_put_u32(sp + 16, off);
        strom_put_u32(sp + 20, sl->count);
        uint32_t k = sl->count;
        for (uint32_t p = sl->head; p && k; p = kx->posts[p - 1].prev)
            strom_put_u32(pp + 4 * (size_t)(off + --k), kx->posts[p - 1].batch);
        off += sl->count;
    }
}

strom_err log_kx_encode(const log_keyidx *kx, int64_t base, uint64_t data_size, strom_buf *out)
{
    size_t nb = kx->nbatches, ns = kx->nslots, np = kx->nposts, kb = kx->keys.len;
    size_t total = LOG_KX_HDR + nb * LOG_KX_BATCH + ns * LOG_KX_SLOT + np * 4 + kb;
    strom_buf_clear(out);
    uint8_t *p = strom_buf_grow(out, total);
    if (!p)
        return STROM_ENOMEM;
    memset(p, 0, LOG_KX_HDR);
    uint8_t *bp = p + LOG_KX_HDR, *sp = bp + nb * LOG_KX_BATCH, *pp = sp + ns * LOG_KX_SLOT;
    kx_encode_batches(kx, bp);
    kx_encode_slots(kx, sp, pp);
    if (kb)
        memcpy(pp + np * 4, kx->keys.data, kb);
    strom_put_u32(p, LOG_KX_MAGIC);
    strom_put_u16(p + 4, LOG_VERSION);
    strom_put_u16(p + 6, LOG_KX_HDR);
    strom_put_i64(p + 8, base);
    strom_put_u32(p + 16, (uint32_t)nb);
    strom_put_u32(p + 20, kx->nkeys);
    strom_put_u32(p + 24, (uint32_t)ns);
    strom_put_u32(p + 28, (uint32_t)np);
    strom_put_u64(p + 32, kb);
    strom_put_u64(p + 40, data_size);
    strom_put_u32(p + 52, strom_crc32c(0, p + LOG_KX_HDR, total - LOG_KX_HDR));
    strom_put_u32(p + 60, strom_crc32c(0, p, 60));
    return STROM_OK;
}

static strom_err kx_bad(const char *what)
{
    return strom_fail(STROM_ECORRUPT, "key index: %s", what);
}

/* Every slot's key and postings lie inside the file; every posting names a batch. */
static strom_err kx_check_slots(const log_keyidx *kx, uint64_t np, uint64_t kb)
{
    for (uint32_t i = 0; i < kx->nslots; i++) {
        const uint8_t *sl = kx->fslots + (size_t)i * LOG_KX_SLOT;
        uint64_t count = strom_get_u32(sl + 20);
        if (count == 0)
            continue;
        if ((uint64_t)strom_get_u32(sl + 8) + strom_get_u32(sl + 12) > kb ||
            (uint64_t)strom_get_u32(sl + 16) + count > np)
            return kx_bad("slot out of range");
    }
    for (uint64_t k = 0; k < np; k++)
        if (strom_get_u32(kx->fposts + 4 * k) >= kx->nbatches)
            return kx_bad("posting names a missing batch");
    return STROM_OK;
}

static strom_err kx_check_header(const uint8_t *p, size_t len, int64_t base, uint64_t data_size)
{
    if (len < LOG_KX_HDR || strom_get_u32(p) != LOG_KX_MAGIC ||
        strom_get_u32(p + 60) != strom_crc32c(0, p, 60))
        return kx_bad("bad header (magic or CRC)");
    if (strom_get_u16(p + 4) != LOG_VERSION || strom_get_u16(p + 6) != LOG_KX_HDR ||
        strom_get_i64(p + 8) != base || strom_get_u64(p + 40) != data_size)
        return kx_bad("header does not match the segment");
    uint64_t nb = strom_get_u32(p + 16), ns = strom_get_u32(p + 24), np = strom_get_u32(p + 28);
    uint64_t kb = strom_get_u64(p + 32);
    if (ns == 0 || (ns & (ns - 1)) || strom_get_u32(p + 20) >= ns || kb > len ||
        LOG_KX_HDR + nb * LOG_KX_BATCH + ns * LOG_KX_SLOT + np * 4 + kb != len)
        return kx_bad("sizes do not add up");
    if (strom_get_u32(p + 52) != strom_crc32c(0, p + LOG_KX_HDR, len - LOG_KX_HDR))
        return kx_bad("body CRC mismatch");
    return STROM_OK;
}

static strom_err kx_load_batches(log_keyidx *kx, const uint8_t *bp, uint64_t data_size)
{
    kx->batches = strom_calloc(kx->nbatches ? kx->nbatches : 1, sizeof *kx->batches);
    if (!kx->batches)
        return STROM_ENOMEM;
    for (size_t i = 0; i < kx->nbatches; i++, bp += LOG_KX_BATCH) {
        log_kxbatch *bt = &kx->batches[i];
        bt->position = strom_get_u32(bp);
        bt->rel_offset = strom_get_u32(bp + 4);
        bt->nrows = strom_get_u32(bp + 8);
        bt->min_time = strom_get_i64(bp + 16);
        bt->max_time = strom_get_i64(bp + 24);
        if (bt->position < LOG_SEG_HDR || bt->position >= data_size)
            return kx_bad("batch position out of range");
    }
    return STROM_OK;
}

strom_err log_kx_load(uint8_t *p, size_t len, int64_t base, uint64_t data_size, log_keyidx **out)
{
    strom_err e = kx_check_header(p, len, base, data_size);
    if (e != STROM_OK)
        return e;
    log_keyidx *kx = strom_calloc(1, sizeof *kx);
    if (!kx)
        return STROM_ENOMEM;
    kx->nbatches = strom_get_u32(p + 16);
    kx->nkeys = strom_get_u32(p + 20);
    kx->nslots = strom_get_u32(p + 24);
    uint64_t np = strom_get_u32(p + 28), kb = strom_get_u64(p + 32);
    kx->fslots = p + LOG_KX_HDR + kx->nbatches * LOG_KX_BATCH;
    kx->fposts = kx->fslots + (size_t)kx->nslots * LOG_KX_SLOT;
    kx->fkeys = kx->fposts + np * 4;
    e = kx_load_batches(kx, p + LOG_KX_HDR, data_size);
    if (e == STROM_OK)
        e = kx_check_slots(kx, np, kb);
    if (e != STROM_OK) {
        log_kx_destroy(kx);
        return e;
    }
    kx->file = p;
    *out = kx;
    return STROM_OK;
}
