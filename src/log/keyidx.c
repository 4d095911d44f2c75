/* keyidx.c: the per-segment key index: canonical key bytes -> every (batch, row, row time)
 * holding the key, so key history knows the rows and their times without decoding
 * anything. Memory form (active segment: hash slots and linked postings) and file form
 * (.keys, see log_int.h: header and batch table in memory, slots, postings and keys read
 * with pread on demand, the whole file CRC-checked once when first used). */
#include "log_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

log_keyidx *log_kx_create(void)
{
    log_keyidx *kx = strom_calloc(1, sizeof *kx);
    if (!kx)
        return NULL;
    kx->fd = -1;
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
    if (kx->fd >= 0)
        close(kx->fd);
    free(kx->batches);
    free(kx->slots);
    free(kx->posts);
    free(kx->prev);
    free(kx->image);
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

/* ------------------------------------------------------------ memory form */

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
    for (uint32_t i = 0; i < kx->nslots; i++) {
        if (kx->slots[i].head == 0)
            continue;
        uint32_t j = (uint32_t)kx->slots[i].hash & (n - 1);
        while (ns[j].head)
            j = (j + 1) & (n - 1);
        ns[j] = kx->slots[i];
    }
    free(kx->slots);
    kx->slots = ns;
    kx->nslots = n;
    return STROM_OK;
}

static strom_err kx_grow_posts(log_keyidx *kx)
{
    if (kx->nposts < kx->cap_posts)
        return STROM_OK;
    if (kx->nposts >= UINT32_MAX - 1)
        return strom_fail(STROM_ELIMIT, "key index: too many rows in one segment");
    size_t cap = kx->cap_posts ? kx->cap_posts * 2 : 4096;
    log_kxpost *np = strom_realloc(kx->posts, cap * sizeof *np);
    if (!np)
        return STROM_ENOMEM;
    kx->posts = np;
    uint32_t *pv = strom_realloc(kx->prev, cap * sizeof *pv);
    if (!pv)
        return STROM_ENOMEM;
    kx->prev = pv;
    kx->cap_posts = cap;
    return STROM_OK;
}

strom_err log_kx_add_row(log_keyidx *kx, const uint8_t *key, size_t len, uint64_t hash,
                         uint32_t batch, uint32_t row, int64_t time)
{
    strom_err e = kx_grow_posts(kx);
    if (e != STROM_OK)
        return e;
    log_kxslot *sl = &kx->slots[kx_probe(kx, key, len, hash)];
    kx->posts[kx->nposts] = (log_kxpost){batch, row, time};
    kx->prev[kx->nposts] = sl->head;
    kx->nposts++;
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

static strom_err out_reserve(log_kxpost **out, size_t *cap, size_t n)
{
    if (n <= *cap)
        return STROM_OK;
    log_kxpost *p = strom_realloc(*out, n * sizeof *p);
    if (!p)
        return STROM_ENOMEM;
    *out = p;
    *cap = n;
    return STROM_OK;
}

static strom_err kx_lookup_mem(const log_keyidx *kx, const uint8_t *key, size_t len,
                               log_kxpost **out, size_t *n, size_t *cap)
{
    const log_kxslot *sl = &kx->slots[kx_probe(kx, key, len, strom_hash64(key, len))];
    if (sl->head == 0)
        return STROM_OK;
    strom_err e = out_reserve(out, cap, sl->count);
    if (e != STROM_OK)
        return e;
    size_t k = sl->count;
    for (uint32_t p = sl->head; p && k; p = kx->prev[p - 1])
        (*out)[--k] = kx->posts[p - 1];
    *n = sl->count;
    return STROM_OK;
}

/* ------------------------------------------------------------- file form */

static strom_err kx_bad(const char *what)
{
    return strom_fail(STROM_ECORRUPT, "key index: %s", what);
}

/* len bytes at off of the file form (from the loaded image or with pread). */
static strom_err kx_read(const log_keyidx *kx, uint64_t off, void *dst, size_t len)
{
    if (kx->image) {
        if (off + len > kx->file_size)
            return kx_bad("read past the end");
        memcpy(dst, kx->image + off, len);
        return STROM_OK;
    }
    size_t got = 0;
    int rc = strom_pread_full(kx->fd, dst, len, off, &got);
    if (rc != 0)
        return strom_fail_errno(rc, "key index: read");
    return got == len ? STROM_OK : kx_bad("truncated");
}

/* Reads the postings of a slot, checking every one against the batch table. */
static strom_err kx_read_posts(const log_keyidx *kx, uint64_t first, uint32_t count,
                               log_kxpost **out, size_t *n, size_t *cap)
{
    if (first + count > kx->npostings)
        return kx_bad("postings out of range");
    strom_err e = out_reserve(out, cap, count);
    uint8_t buf[16 * 64];
    for (uint32_t k = 0; e == STROM_OK && k < count; k += 64) {
        uint32_t m = STROM_MIN(64u, count - k);
        e = kx_read(kx, kx->posts_at + (first + k) * 16, buf, (size_t)m * 16);
        for (uint32_t i = 0; e == STROM_OK && i < m; i++) {
            log_kxpost *p = &(*out)[k + i];
            p->batch = strom_get_u32(buf + 16 * i);
            p->row = strom_get_u32(buf + 16 * i + 4);
            p->time = strom_get_i64(buf + 16 * i + 8);
            if (p->batch >= kx->nbatches || p->row >= kx->batches[p->batch].nrows)
                e = kx_bad("posting names a missing batch or row");
        }
    }
    if (e == STROM_OK)
        *n = count;
    return e;
}

static int kx_key_equal(const log_keyidx *kx, uint64_t koff, const uint8_t *key, size_t len)
{
    uint8_t buf[256];
    for (size_t k = 0; k < len; k += sizeof buf) {
        size_t m = STROM_MIN(sizeof buf, len - k);
        if (koff + k + m > kx->key_bytes || kx_read(kx, kx->keys_at + koff + k, buf, m) != STROM_OK ||
            memcmp(buf, key + k, m))
            return 0;
    }
    return 1;
}

static strom_err kx_lookup_file(const log_keyidx *kx, const uint8_t *key, size_t len,
                                log_kxpost **out, size_t *n, size_t *cap)
{
    uint64_t hash = strom_hash64(key, len);
    uint32_t mask = kx->nslots - 1;
    for (uint32_t i = (uint32_t)hash & mask, probes = 0; probes < kx->nslots;
         i = (i + 1) & mask, probes++) {
        uint8_t sl[LOG_KX_SLOT];
        strom_err e = kx_read(kx, kx->slots_at + (uint64_t)i * LOG_KX_SLOT, sl, sizeof sl);
        if (e != STROM_OK)
            return e;
        uint32_t count = strom_get_u32(sl + 20);
        if (count == 0)
            return STROM_OK;
        if (strom_get_u64(sl) == hash && strom_get_u32(sl + 12) == len &&
            kx_key_equal(kx, strom_get_u32(sl + 8), key, len))
            return kx_read_posts(kx, strom_get_u32(sl + 16), count, out, n, cap);
    }
    return STROM_OK;
}

strom_err log_kx_lookup(const log_keyidx *kx, const uint8_t *key, size_t len, log_kxpost **out,
                        size_t *n, size_t *cap)
{
    *n = 0;
    if (kx->fd >= 0 || kx->image)
        return kx_lookup_file(kx, key, len, out, n, cap);
    return kx_lookup_mem(kx, key, len, out, n, cap);
}

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
        for (uint32_t p = sl->head; p && k; p = kx->prev[p - 1]) {
            uint8_t *q = pp + 16 * (size_t)(off + --k);
            strom_put_u32(q, kx->posts[p - 1].batch);
            strom_put_u32(q + 4, kx->posts[p - 1].row);
            strom_put_i64(q + 8, kx->posts[p - 1].time);
        }
        off += sl->count;
    }
}

strom_err log_kx_encode(const log_keyidx *kx, int64_t base, uint64_t data_size, strom_buf *out)
{
    size_t nb = kx->nbatches, ns = kx->nslots, np = kx->nposts, kb = kx->keys.len;
    size_t total = LOG_KX_HDR + nb * LOG_KX_BATCH + ns * LOG_KX_SLOT + np * 16 + kb;
    strom_buf_clear(out);
    uint8_t *p = strom_buf_grow(out, total);
    if (!p)
        return STROM_ENOMEM;
    memset(p, 0, LOG_KX_HDR);
    uint8_t *bp = p + LOG_KX_HDR, *sp = bp + nb * LOG_KX_BATCH, *pp = sp + ns * LOG_KX_SLOT;
    kx_encode_batches(kx, bp);
    kx_encode_slots(kx, sp, pp);
    if (kb)
        memcpy(pp + np * 16, kx->keys.data, kb);
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

static strom_err kx_check_header(log_keyidx *kx, const uint8_t *p, uint64_t len, int64_t base,
                                 uint64_t data_size)
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
        LOG_KX_HDR + nb * LOG_KX_BATCH + ns * LOG_KX_SLOT + np * 16 + kb != len)
        return kx_bad("sizes do not add up");
    kx->nbatches = nb;
    kx->nkeys = strom_get_u32(p + 20);
    kx->nslots = (uint32_t)ns;
    kx->npostings = np;
    kx->key_bytes = kb;
    kx->file_size = len;
    kx->slots_at = LOG_KX_HDR + nb * LOG_KX_BATCH;
    kx->posts_at = kx->slots_at + ns * LOG_KX_SLOT;
    kx->keys_at = kx->posts_at + np * 16;
    return STROM_OK;
}

/* Streams the body through CRC-32C and loads the batch table. */
static strom_err kx_check_body(log_keyidx *kx, uint32_t want, uint64_t data_size)
{
    uint8_t *buf = strom_malloc(1 << 20);
    if (!buf)
        return STROM_ENOMEM;
    uint32_t crc = 0;
    strom_err e = STROM_OK;
    for (uint64_t off = LOG_KX_HDR; e == STROM_OK && off < kx->file_size; off += 1 << 20) {
        size_t m = (size_t)STROM_MIN((uint64_t)1 << 20, kx->file_size - off);
        e = kx_read(kx, off, buf, m);
        crc = strom_crc32c(crc, buf, m);
    }
    free(buf);
    if (e == STROM_OK && crc != want)
        e = kx_bad("body CRC mismatch");
    kx->batches = e == STROM_OK ? strom_calloc(kx->nbatches + 1, sizeof *kx->batches) : NULL;
    if (e == STROM_OK && !kx->batches)
        e = STROM_ENOMEM;
    for (size_t i = 0; e == STROM_OK && i < kx->nbatches; i++) {
        uint8_t p[LOG_KX_BATCH];
        log_kxbatch *bt = &kx->batches[i];
        e = kx_read(kx, LOG_KX_HDR + i * LOG_KX_BATCH, p, sizeof p);
        *bt = (log_kxbatch){strom_get_u32(p), strom_get_u32(p + 4), strom_get_u32(p + 8),
                            strom_get_i64(p + 16), strom_get_i64(p + 24)};
        if (e == STROM_OK && (bt->position < LOG_SEG_HDR || bt->position >= data_size))
            e = kx_bad("batch position out of range");
    }
    return e;
}

strom_err log_kx_open(const char *path, int64_t base, uint64_t data_size, int whole,
                      log_keyidx **out)
{
    log_keyidx *kx = strom_calloc(1, sizeof *kx);
    if (!kx)
        return STROM_ENOMEM;
    kx->fd = open(path, O_RDONLY | O_CLOEXEC);
    strom_err e = kx->fd < 0 ? strom_fail_errno(errno, "open %s", path) : STROM_OK;
    uint8_t hdr[LOG_KX_HDR];
    off_t len = e == STROM_OK ? lseek(kx->fd, 0, SEEK_END) : 0;
    if (e == STROM_OK && len < LOG_KX_HDR)
        e = kx_bad("file shorter than its header");
    if (e == STROM_OK)
        e = kx_read(kx, 0, hdr, sizeof hdr);
    if (e == STROM_OK)
        e = kx_check_header(kx, hdr, (uint64_t)len, base, data_size);
    if (e == STROM_OK && whole && !(kx->image = strom_malloc(kx->file_size)))
        e = STROM_ENOMEM;
    if (e == STROM_OK && whole) {
        e = kx_read(kx, 0, kx->image, kx->file_size);
        close(kx->fd);
        kx->fd = -1;
    }
    if (e == STROM_OK)
        e = kx_check_body(kx, strom_get_u32(hdr + 52), data_size);
    if (e != STROM_OK) {
        log_kx_destroy(kx);
        return e;
    }
    *out = kx;
    return STROM_OK;
}

strom_err log_kx_each_key(const log_keyidx *kx, log_kx_fn fn, void *arg)
{
    log_kxpost *posts = NULL;
    size_t n = 0, cap = 0;
    uint8_t *key = NULL;
    strom_err e = STROM_OK;
    for (uint32_t i = 0; e == STROM_OK && i < kx->nslots; i++) {
        uint8_t sl[LOG_KX_SLOT];
        e = kx_read(kx, kx->slots_at + (uint64_t)i * LOG_KX_SLOT, sl, sizeof sl);
        uint32_t klen = strom_get_u32(sl + 12), koff = strom_get_u32(sl + 8);
        if (e != STROM_OK || strom_get_u32(sl + 20) == 0)
            continue;
        if ((uint64_t)koff + klen > kx->key_bytes)
            e = kx_bad("key out of range");
        if (e == STROM_OK && !(key = strom_realloc(key, klen + 1)))
            e = STROM_ENOMEM;
        if (e == STROM_OK)
            e = kx_read(kx, kx->keys_at + koff, key, klen);
        if (e == STROM_OK)
            e = kx_read_posts(kx, strom_get_u32(sl + 16), strom_get_u32(sl + 20), &posts, &n, &cap);
        if (e == STROM_OK)
            e = fn(arg, key, klen, strom_get_u64(sl), posts, n);
    }
    free(posts);
    free(key);
    return e;
}
