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
    free(kx->pkid);
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

void log_kx_prefetch(const log_keyidx *kx, uint64_t hash)
{
    __builtin_prefetch(&kx->slots[(uint32_t)hash & (kx->nslots - 1)]);
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
    uint32_t *pk = strom_realloc(kx->pkid, cap * sizeof *pk);
    if (!pk)
        return STROM_ENOMEM;
    kx->pkid = pk;
    kx->cap_posts = cap;
    return STROM_OK;
}

strom_err log_kx_add_row(log_keyidx *kx, const uint8_t *key, size_t len, uint64_t hash,
                         uint32_t batch, uint32_t row, int64_t time)
{
    log_kxpost p = {batch, row, time};
    return log_kx_add_rows(kx, key, len, hash, &p, 1);
}

strom_err log_kx_add_rows(log_keyidx *kx, const uint8_t *key, size_t len, uint64_t hash,
                          const log_kxpost *p, size_t n)
{
    log_kxslot *sl = &kx->slots[kx_probe(kx, key, len, hash)];
    int fresh = sl->head == 0;
    uint32_t kid = fresh ? kx->nkeys : sl->kid;
    for (size_t i = 0; i < n; i++) {
        strom_err e = kx_grow_posts(kx);
        if (e != STROM_OK)
            return e;
        kx->posts[kx->nposts] = p[i];
        kx->prev[kx->nposts] = sl->head;
        kx->pkid[kx->nposts] = kid;
        kx->nposts++;
        sl->count += sl->head != 0;
        sl->head = (uint32_t)kx->nposts;
    }
    if (!fresh || n == 0)
        return STROM_OK;
    if (len > UINT32_MAX || kx->keys.len + len > UINT32_MAX)
        return strom_fail(STROM_ELIMIT, "key index: too many key bytes in one segment");
    *sl = (log_kxslot){hash, (uint32_t)kx->keys.len, (uint32_t)len, sl->head, sl->count + 1, kid};
    strom_err e = strom_buf_append(&kx->keys, key, len);
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

/* A key's run: u32 crc, u32 key_len, key, then per posting three varints. */
#define KX_RUN_MAX ((size_t)1 << 30)

/* Decodes the postings of a CRC-checked run, checking each against the batch table. */
static strom_err kx_decode_run(const log_keyidx *kx, const uint8_t *p, size_t len, uint32_t count,
                               log_kxpost **out, size_t *n, size_t *cap)
{
    strom_err e = out_reserve(out, cap, count);
    uint64_t batch = 0, row, zt;
    int64_t time = 0;
    size_t at = 0;
    for (uint32_t k = 0; e == STROM_OK && k < count; k++) {
        uint64_t db;
        size_t a = strom_get_uvarint(p + at, len - at, &db);
        size_t b = a ? strom_get_uvarint(p + at + a, len - at - a, &row) : 0;
        size_t c = b ? strom_get_uvarint(p + at + a + b, len - at - a - b, &zt) : 0;
        if (!c)
            return kx_bad("truncated postings");
        at += a + b + c;
        batch += db;
        time += strom_unzigzag(zt);
        if (batch >= kx->nbatches || row >= kx->batches[batch].nrows)
            return kx_bad("posting names a missing batch or row");
        (*out)[k] = (log_kxpost){(uint32_t)batch, (uint32_t)row, time};
    }
    if (e == STROM_OK)
        *n = count;
    return e;
}

/* Reads and checks the run of a slot; *match = 0 when its key differs. */
static strom_err kx_read_run(const log_keyidx *kx, const uint8_t *sl, const uint8_t *key,
                             size_t len, int *match, strom_buf *run)
{
    uint64_t off = strom_get_u64(sl + 8), rlen = strom_get_u32(sl + 16);
    *match = 0;
    if (rlen < 8 || off > kx->runs_bytes || rlen > kx->runs_bytes - off || rlen > KX_RUN_MAX)
        return kx_bad("run out of range");
    strom_buf_clear(run);
    if (!strom_buf_grow(run, rlen))
        return STROM_ENOMEM;
    strom_err e = kx_read(kx, kx->runs_at + off, run->data, rlen);
    if (e != STROM_OK)
        return e;
    if (strom_get_u32(run->data) != strom_crc32c(0, run->data + 4, rlen - 4))
        return kx_bad("run CRC mismatch");
    uint64_t klen = strom_get_u32(run->data + 4);
    if (klen > rlen - 8)
        return kx_bad("key longer than its run");
    *match = !key || (klen == len && !memcmp(run->data + 8, key, len));
    return STROM_OK;
}

/* Reads slot i and checks its CRC. */
static strom_err kx_read_slot(const log_keyidx *kx, uint32_t i, uint8_t *sl)
{
    strom_err e = kx_read(kx, kx->slots_at + (uint64_t)i * LOG_KX_SLOT, sl, LOG_KX_SLOT);
    if (e == STROM_OK && strom_get_u32(sl + 28) != strom_crc32c(0, sl, 28))
        e = kx_bad("slot CRC mismatch");
    return e;
}

static strom_err kx_lookup_file(const log_keyidx *kx, const uint8_t *key, size_t len,
                                log_kxpost **out, size_t *n, size_t *cap)
{
    uint64_t hash = strom_hash64(key, len);
    uint32_t mask = kx->nslots - 1;
    strom_buf run = {0};
    strom_err e = STROM_OK;
    for (uint32_t i = (uint32_t)hash & mask, probes = 0; e == STROM_OK && probes < kx->nslots;
         i = (i + 1) & mask, probes++) {
        uint8_t sl[LOG_KX_SLOT];
        int match = 0;
        e = kx_read_slot(kx, i, sl);
        uint32_t count = e == STROM_OK ? strom_get_u32(sl + 20) : 0;
        if (count == 0)
            break;
        if (strom_get_u64(sl) != hash)
            continue;
        e = kx_read_run(kx, sl, key, len, &match, &run);
        if (e == STROM_OK && match) {
            e = kx_decode_run(kx, run.data + 8 + len, run.len - 8 - len, count, out, n, cap);
            break;
        }
    }
    strom_buf_free(&run);
    return e;
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

/* Appends the run of memory slot sl to runs: its postings run[0..count), oldest first,
 * delta-coded. */
static strom_err kx_encode_run(const log_keyidx *kx, const log_kxslot *sl, strom_buf *runs,
                               const log_kxpost *run)
{
    size_t start = runs->len;
    uint8_t *h = strom_buf_grow(runs, 8 + sl->key_len + (size_t)sl->count * 30);
    if (!h)
        return STROM_ENOMEM;
    strom_put_u32(h + 4, sl->key_len);
    memcpy(h + 8, kx->keys.data + sl->key_off, sl->key_len);
    uint8_t *q = h + 8 + sl->key_len;
    uint32_t pb = 0;
    int64_t pt = 0;
    for (uint32_t i = 0; i < sl->count; i++) {
        const log_kxpost *ps = &run[i];
        q += strom_put_uvarint(q, ps->batch - pb);
        q += strom_put_uvarint(q, ps->row);
        q += strom_put_uvarint(q, strom_zigzag((int64_t)((uint64_t)ps->time - (uint64_t)pt)));
        pb = ps->batch;
        pt = ps->time;
    }
    runs->len = (size_t)(q - runs->data);
    strom_put_u32(runs->data + start, strom_crc32c(0, runs->data + start + 4, runs->len - start - 4));
    return STROM_OK;
}

/* Groups the postings by key id with a counting sort (one sequential pass; the chains of
 * prev links would cost a dependent cache miss per posting): the postings of key k are
 * (*grouped)[(*start)[k] .. (*start)[k+1]), oldest first. Owned results, free(). */
static strom_err kx_group(const log_keyidx *kx, log_kxpost **grouped, uint64_t **start)
{
    uint64_t *st = strom_calloc((size_t)kx->nkeys + 2, sizeof *st);
    uint64_t *cur = strom_malloc(((size_t)kx->nkeys + 1) * sizeof *cur);
    log_kxpost *g = strom_malloc((kx->nposts + 1) * sizeof *g);
    if (!st || !cur || !g) {
        free(st), free(cur), free(g);
        return STROM_ENOMEM;
    }
    for (size_t p = 0; p < kx->nposts; p++)
        st[kx->pkid[p] + 1]++;
    for (uint32_t k = 0; k < kx->nkeys; k++)
        st[k + 1] += st[k];
    memcpy(cur, st, ((size_t)kx->nkeys + 1) * sizeof *cur);
    for (size_t p = 0; p < kx->nposts; p++)
        g[cur[kx->pkid[p]]++] = kx->posts[p];
    free(cur);
    *grouped = g;
    *start = st;
    return STROM_OK;
}

static strom_err kx_encode_slots(const log_keyidx *kx, uint8_t *sp, strom_buf *runs)
{
    log_kxpost *g = NULL;
    uint64_t *st = NULL;
    strom_err e = kx_group(kx, &g, &st);
    for (uint32_t i = 0; e == STROM_OK && i < kx->nslots; i++, sp += LOG_KX_SLOT) {
        const log_kxslot *sl = &kx->slots[i];
        memset(sp, 0, LOG_KX_SLOT);
        strom_put_u32(sp + 28, strom_crc32c(0, sp, 28));
        if (sl->head == 0)
            continue;
        if (sl->kid >= kx->nkeys || st[sl->kid + 1] - st[sl->kid] != sl->count) {
            e = strom_fail(STROM_EINVAL, "key index: slot %u disagrees with its postings", i);
            break;
        }
        uint64_t off = runs->len;
        e = kx_encode_run(kx, sl, runs, g + st[sl->kid]);
        strom_put_u64(sp, sl->hash);
        strom_put_u64(sp + 8, off);
        strom_put_u32(sp + 16, (uint32_t)(runs->len - off));
        strom_put_u32(sp + 20, sl->count);
        strom_put_u32(sp + 28, strom_crc32c(0, sp, 28));
    }
    free(g);
    free(st);
    return e;
}

strom_err log_kx_encode(const log_keyidx *kx, int64_t base, uint64_t data_size, strom_buf *out)
{
    size_t nb = kx->nbatches, ns = kx->nslots;
    size_t fixed = LOG_KX_HDR + nb * LOG_KX_BATCH + ns * LOG_KX_SLOT;
    strom_buf runs = {0};
    strom_buf_clear(out);
    uint8_t *p = strom_buf_grow(out, fixed);
    strom_err e = p ? kx_encode_slots(kx, p + LOG_KX_HDR + nb * LOG_KX_BATCH, &runs) : STROM_ENOMEM;
    if (e == STROM_OK)
        e = strom_buf_append(out, runs.data, runs.len);
    strom_buf_free(&runs);
    if (e != STROM_OK)
        return e;
    p = out->data;
    memset(p, 0, LOG_KX_HDR);
    kx_encode_batches(kx, p + LOG_KX_HDR);
    strom_put_u32(p, LOG_KX_MAGIC);
    strom_put_u16(p + 4, LOG_VERSION);
    strom_put_u16(p + 6, LOG_KX_HDR);
    strom_put_i64(p + 8, base);
    strom_put_u32(p + 16, (uint32_t)nb);
    strom_put_u32(p + 20, kx->nkeys);
    strom_put_u32(p + 24, (uint32_t)ns);
    strom_put_u64(p + 32, out->len - fixed);
    strom_put_u64(p + 40, data_size);
    strom_put_u32(p + 48, strom_crc32c(0, p + LOG_KX_HDR, nb * LOG_KX_BATCH));
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
    uint64_t nb = strom_get_u32(p + 16), ns = strom_get_u32(p + 24), rb = strom_get_u64(p + 32);
    if (ns == 0 || (ns & (ns - 1)) || strom_get_u32(p + 20) >= ns || rb > len ||
        LOG_KX_HDR + nb * LOG_KX_BATCH + ns * LOG_KX_SLOT + rb != len)
        return kx_bad("sizes do not add up");
    kx->nbatches = nb;
    kx->nkeys = strom_get_u32(p + 20);
    kx->nslots = (uint32_t)ns;
    kx->runs_bytes = rb;
    kx->file_size = len;
    kx->slots_at = LOG_KX_HDR + nb * LOG_KX_BATCH;
    kx->runs_at = kx->slots_at + ns * LOG_KX_SLOT;
    return STROM_OK;
}

/* Loads and checks the batch table (the rest is checked run by run when read). */
static strom_err kx_load_batches(log_keyidx *kx, uint32_t want, uint64_t data_size)
{
    size_t bytes = kx->nbatches * LOG_KX_BATCH;
    uint8_t *raw = strom_malloc(bytes + 1);
    kx->batches = strom_calloc(kx->nbatches + 1, sizeof *kx->batches);
    strom_err e = raw && kx->batches ? kx_read(kx, LOG_KX_HDR, raw, bytes) : STROM_ENOMEM;
    if (e == STROM_OK && strom_crc32c(0, raw, bytes) != want)
        e = kx_bad("batch table CRC mismatch");
    for (size_t i = 0; e == STROM_OK && i < kx->nbatches; i++) {
        const uint8_t *p = raw + i * LOG_KX_BATCH;
        log_kxbatch *bt = &kx->batches[i];
        *bt = (log_kxbatch){strom_get_u32(p), strom_get_u32(p + 4), strom_get_u32(p + 8),
                            strom_get_i64(p + 16), strom_get_i64(p + 24)};
        if (bt->position < LOG_SEG_HDR || bt->position >= data_size)
            e = kx_bad("batch position out of range");
    }
    free(raw);
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
    uint8_t *image = NULL;
    if (e == STROM_OK && whole && !(image = strom_malloc(kx->file_size)))
        e = STROM_ENOMEM;
    if (e == STROM_OK && whole) {
        e = kx_read(kx, 0, image, kx->file_size); /* with pread: image is not set yet */
        kx->image = image;
        close(kx->fd);
        kx->fd = -1;
    }
    if (e == STROM_OK)
        e = kx_load_batches(kx, strom_get_u32(hdr + 48), data_size);
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
    strom_buf run = {0};
    strom_err e = STROM_OK;
    for (uint32_t i = 0; e == STROM_OK && i < kx->nslots; i++) {
        uint8_t sl[LOG_KX_SLOT];
        int match = 0;
        e = kx_read_slot(kx, i, sl);
        if (e != STROM_OK || strom_get_u32(sl + 20) == 0)
            continue;
        e = kx_read_run(kx, sl, NULL, 0, &match, &run);
        uint32_t klen = e == STROM_OK ? strom_get_u32(run.data + 4) : 0;
        if (e == STROM_OK)
            e = kx_decode_run(kx, run.data + 8 + klen, run.len - 8 - klen, strom_get_u32(sl + 20),
                              &posts, &n, &cap);
        if (e == STROM_OK)
            e = fn(arg, run.data + 8, klen, strom_get_u64(sl), posts, n);
    }
    free(posts);
    strom_buf_free(&run);
    return e;
}
