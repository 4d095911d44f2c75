/* writers.c: idempotent appends. Per bucket, a map writer id -> the writer's last applied
 * batch (sequence, base offset, rows, commit time), consulted and updated under the
 * bucket's writer lock by the append path; snapshots of it in <offset>.writers files
 * (layout in log_int.h) and their recovery at open.
 *
 * Rules (as in src/kv and Kafka's idempotent producer):
 * - only batches with writer_id > 0 and batch_sequence >= 0 take part;
 * - a batch whose sequence is <= its writer's last applied one is a duplicate: nothing is
 *   written; the original's offset is known when the sequence equals the last one (the
 *   producer keeps one batch per bucket in flight, so a retry is always of the last one);
 * - sequences must increase but may skip (a producer whose batch failed for good moves on
 *   to the next sequence; requiring +1 would wedge it), so a gap is not an error;
 * - a writer idle longer than writer_expiry_ms (7 days) is forgotten, and beyond
 *   max_writers (100000) the least recently active eighth of the writers is dropped; a
 *   forgotten writer's next batch is applied whatever its sequence. */
#define _GNU_SOURCE
#include "log_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define WR_SCAN_CHUNK ((size_t)4 << 20)
#define WR_MIN_CAP 64u

/* ------------------------------------------------------------------- the map */

static uint32_t wr_slot(int64_t w, uint32_t cap)
{
    uint64_t x = (uint64_t)w;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (uint32_t)x & (cap - 1);
}

void log_wr_free(log_writers *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static log_wentry *wr_find(const log_writers *m, int64_t w)
{
    if (!m->cap)
        return NULL;
    for (uint32_t i = wr_slot(w, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->slots[i].writer_id == w)
            return &m->slots[i];
        if (m->slots[i].writer_id == 0)
            return NULL;
    }
}

static void wr_place(log_wentry *slots, uint32_t cap, const log_wentry *e)
{
    uint32_t i = wr_slot(e->writer_id, cap);
    while (slots[i].writer_id != 0)
        i = (i + 1) & (cap - 1);
    slots[i] = *e;
}

/* Rebuilds the table with cap slots, keeping the entries with commit_ms >= keep_from. */
static strom_err wr_rehash(log_writers *m, uint32_t cap, int64_t keep_from)
{
    log_wentry *n = strom_calloc(cap, sizeof *n);
    if (!n)
        return strom_fail(STROM_ENOMEM, "out of memory for %u writer slots", cap);
    uint32_t cnt = 0;
    for (uint32_t i = 0; i < m->cap; i++)
        if (m->slots[i].writer_id != 0 && m->slots[i].commit_ms >= keep_from) {
            wr_place(n, cap, &m->slots[i]);
            cnt++;
        }
    free(m->slots);
    m->slots = n;
    m->cap = cap;
    m->n = cnt;
    return STROM_OK;
}

static uint32_t wr_cap_for(uint32_t n)
{
    uint32_t c = WR_MIN_CAP;
    while (c < 2 * (uint64_t)n + 2)
        c *= 2;
    return c;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Drops the least recently active eighth (at least one) of the writers. */
static strom_err wr_evict(log_bucket *b)
{
    log_writers *m = &b->wr;
    int64_t *t = strom_malloc((size_t)m->n * sizeof *t);
    if (!t)
        return strom_fail(STROM_ENOMEM, "%s: out of memory evicting writers", b->name);
    uint32_t k = 0;
    for (uint32_t i = 0; i < m->cap; i++)
        if (m->slots[i].writer_id != 0)
            t[k++] = m->slots[i].commit_ms;
    qsort(t, k, sizeof *t, cmp_i64);
    int64_t keep_from = t[k / 8] == INT64_MAX ? INT64_MAX : t[k / 8] + 1;
    free(t);
    uint32_t before = m->n;
    strom_err e = wr_rehash(m, m->cap, keep_from);
    if (e == STROM_OK) {
        m->evicted += before - m->n;
        log_warn(b, "%u idle writers forgotten (more than %lld writers)", before - m->n,
                 (long long)b->cfg.max_writers);
    }
    return e;
}

/* Inserts or replaces the writer's entry. */
static strom_err wr_put(log_bucket *b, const log_wentry *e)
{
    log_writers *m = &b->wr;
    log_wentry *x = wr_find(m, e->writer_id);
    if (x) {
        *x = *e;
        return STROM_OK;
    }
    strom_err err = STROM_OK;
    if ((int64_t)m->n >= b->cfg.max_writers)
        err = wr_evict(b);
    if (err == STROM_OK && 2 * ((uint64_t)m->n + 1) > m->cap)
        err = wr_rehash(m, wr_cap_for(m->n + 1), INT64_MIN);
    if (err != STROM_OK)
        return err;
    wr_place(m->slots, m->cap, e);
    m->n++;
    return STROM_OK;
}

static int64_t wr_expiry_limit(const log_bucket *b)
{
    return log_retention_clock_ms() - b->cfg.writer_expiry_ms;
}

/* Forgets the writers idle longer than writer_expiry_ms. */
static strom_err wr_expire(log_bucket *b)
{
    log_writers *m = &b->wr;
    int64_t limit = wr_expiry_limit(b);
    uint32_t old = 0;
    for (uint32_t i = 0; i < m->cap; i++)
        old += m->slots[i].writer_id != 0 && m->slots[i].commit_ms < limit;
    return old ? wr_rehash(m, wr_cap_for(m->n - old), limit) : STROM_OK;
}

/* ------------------------------------------------------------ append path */

strom_err log_wr_check(log_bucket *b, const fmt_hdr *h, log_append_result *res, int *dup,
                       int64_t *wait_end)
{
    *dup = 0;
    if (!b->cfg.idempotent || h->writer_id <= 0 || h->batch_seq < 0)
        return STROM_OK;
    const log_wentry *x = wr_find(&b->wr, h->writer_id);
    if (!x || h->batch_seq > x->seq || x->commit_ms < wr_expiry_limit(b))
        return STROM_OK;
    if (h->batch_seq == x->seq && h->nrows != x->nrecords)
        return strom_fail(STROM_EINVAL, "%s: writer %lld reused batch sequence %d for a batch "
                          "of %u rows (the applied one has %u rows at offset %lld)", b->name,
                          (long long)h->writer_id, (int)h->batch_seq, h->nrows, x->nrecords,
                          (long long)x->base_offset);
    *dup = 1;
    res->duplicate = 1;
    res->base_offset = h->batch_seq == x->seq ? x->base_offset : -1;
    res->nrecords = h->batch_seq == x->seq ? x->nrecords : 0;
    *wait_end = x->base_offset + x->nrecords;
    return STROM_OK;
}

strom_err log_wr_note(log_bucket *b, const fmt_hdr *h)
{
    if (!b->cfg.idempotent || h->writer_id <= 0 || h->batch_seq < 0)
        return STROM_OK;
    log_wentry e = {.writer_id = h->writer_id, .seq = h->batch_seq, .nrecords = h->nrows,
                    .base_offset = h->base_offset, .commit_ms = h->commit_ts};
    return wr_put(b, &e);
}

/* -------------------------------------------------------------- snapshots */

static strom_err wr_path(const log_bucket *b, int64_t off, char *out, size_t cap)
{
    return strom_path(out, cap, "%s/%020lld.writers", b->dir, (long long)off);
}

static strom_err wr_encode(const log_writers *m, int64_t off, const log_segment *s,
                           strom_buf *out)
{
    uint8_t *h = strom_buf_grow(out, LOG_WR_HDR + (size_t)m->n * LOG_WR_ENTRY);
    if (!h)
        return STROM_ENOMEM;
    uint8_t *p = h + LOG_WR_HDR;
    for (uint32_t i = 0; i < m->cap; i++) {
        const log_wentry *e = &m->slots[i];
        if (e->writer_id == 0)
            continue;
        strom_put_i64(p, e->writer_id);
        strom_put_u32(p + 8, (uint32_t)e->seq);
        strom_put_u32(p + 12, e->nrecords);
        strom_put_i64(p + 16, e->base_offset);
        strom_put_i64(p + 24, e->commit_ms);
        p += LOG_WR_ENTRY;
    }
    strom_put_u32(h, LOG_WR_MAGIC);
    strom_put_u16(h + 4, LOG_VERSION);
    strom_put_u16(h + 6, LOG_WR_ENTRY);
    strom_put_i64(h + 8, off);
    strom_put_i64(h + 16, s->base);
    strom_put_u32(h + 24, (uint32_t)s->size);
    strom_put_u32(h + 28, m->n);
    strom_put_i64(h + 32, strom_now_ms());
    strom_put_u32(h + 40, strom_crc32c(0, h + LOG_WR_HDR, (size_t)m->n * LOG_WR_ENTRY));
    strom_put_u32(h + 44, strom_crc32c(0, h, 44));
    return STROM_OK;
}

/* The offsets of the snapshot files, newest first. */
static strom_err wr_list(log_bucket *b, int64_t **v, size_t *n)
{
    strom_err e = log_list_numbered(b, ".writers", 0, v, n);
    for (size_t i = 0; e == STROM_OK && i < *n / 2; i++) {
        int64_t t = (*v)[i];
        (*v)[i] = (*v)[*n - 1 - i];
        (*v)[*n - 1 - i] = t;
    }
    return e;
}

static void wr_unlink(log_bucket *b, int64_t off)
{
    char p[PATH_MAX];
    if (wr_path(b, off, p, sizeof p) == STROM_OK)
        unlink(p);
}

/* Keeps the LOG_WR_KEEP newest snapshots. */
static void wr_prune(log_bucket *b)
{
    int64_t *v = NULL;
    size_t n = 0;
    if (wr_list(b, &v, &n) == STROM_OK)
        for (size_t i = LOG_WR_KEEP; i < n; i++)
            wr_unlink(b, v[i]);
    free(v);
}

void log_wr_snapshot(log_bucket *b, log_segment *s)
{
    if (!b->cfg.idempotent)
        return;
    char path[PATH_MAX];
    strom_buf img = {0};
    strom_err e = wr_expire(b);
    if (e == STROM_OK)
        e = wr_path(b, s->end_off, path, sizeof path);
    if (e == STROM_OK)
        e = wr_encode(&b->wr, s->end_off, s, &img);
    if (e == STROM_OK)
        e = strom_write_file_atomic(path, img.data, img.len);
    strom_buf_free(&img);
    if (e != STROM_OK)
        log_warn(b, "writers snapshot at offset %lld not written: %s", (long long)s->end_off,
                 strom_errmsg());
    else
        wr_prune(b);
    b->wr_snap_at = s->size;
    b->wr_snap_off = e == STROM_OK ? s->end_off : -1;
    strom_fail_clear();
}

strom_err log_wr_periodic(log_bucket *b, log_segment *s)
{
    if (!b->cfg.idempotent || s->size < b->wr_snap_at + (uint64_t)b->cfg.writer_snapshot_bytes)
        return STROM_OK;
    int rc = log_fsync(s->fd); /* the snapshot must not cover batches a crash could lose */
    if (rc != 0)
        return strom_fail_errno(rc, "%s: segment %020lld: fdatasync before a writers snapshot",
                                b->name, (long long)s->base);
    log_wr_snapshot(b, s);
    return STROM_OK;
}

/* --------------------------------------------------------------- recovery */

/* Where a snapshot says to resume the header scan. */
typedef struct wr_from {
    int seg;               /* index into b->segs */
    uint64_t pos;
    int64_t off;
} wr_from;

static strom_err wr_bad(int64_t off, const char *what)
{
    return strom_fail(STROM_ECORRUPT, "writers snapshot %020lld: %s", (long long)off, what);
}

static int seg_index(const log_bucket *b, int64_t base)
{
    for (int i = b->nsegs - 1; i >= 0; i--)
        if (b->segs[i]->base == base)
            return i;
    return -1;
}

/* Checks the header of a snapshot image and where it resumes. */
static strom_err wr_check_header(log_bucket *b, int64_t off, const uint8_t *p, size_t len,
                                 wr_from *from)
{
    if (len < LOG_WR_HDR || strom_get_u32(p) != LOG_WR_MAGIC)
        return wr_bad(off, "bad magic or short file");
    if (strom_get_u32(p + 44) != strom_crc32c(0, p, 44))
        return wr_bad(off, "header CRC mismatch");
    uint32_t count = strom_get_u32(p + 28);
    if (strom_get_u16(p + 4) != LOG_VERSION || strom_get_u16(p + 6) != LOG_WR_ENTRY ||
        strom_get_i64(p + 8) != off || len != LOG_WR_HDR + (uint64_t)count * LOG_WR_ENTRY)
        return wr_bad(off, "version, entry size, offset or length wrong");
    if (strom_get_u32(p + 40) != strom_crc32c(0, p + LOG_WR_HDR, len - LOG_WR_HDR))
        return wr_bad(off, "entries CRC mismatch");
    from->seg = seg_index(b, strom_get_i64(p + 16));
    from->pos = strom_get_u32(p + 24);
    from->off = off;
    if (from->seg < 0)
        return wr_bad(off, "its segment is gone");
    const log_segment *s = b->segs[from->seg];
    if (from->pos < LOG_SEG_HDR || from->pos > s->size || (from->pos == s->size && s->end_off != off))
        return wr_bad(off, "its position is not inside its segment");
    return STROM_OK;
}

static strom_err wr_load_entries(log_bucket *b, int64_t off, const uint8_t *p, size_t len)
{
    strom_err e = STROM_OK;
    for (const uint8_t *q = p + LOG_WR_HDR; e == STROM_OK && q < p + len; q += LOG_WR_ENTRY) {
        log_wentry x = {.writer_id = strom_get_i64(q), .seq = (int32_t)strom_get_u32(q + 8),
                        .nrecords = strom_get_u32(q + 12), .base_offset = strom_get_i64(q + 16),
                        .commit_ms = strom_get_i64(q + 24)};
        if (x.writer_id <= 0 || x.seq < 0 || x.base_offset < 0 || x.base_offset >= off)
            return wr_bad(off, "an entry is out of range");
        e = wr_put(b, &x);
    }
    return e;
}

/* Notes the writer of the batch header at p (position pos of s), checking that the batch
 * starts at *expect and ends inside the segment; advances *expect and *pos. */
static strom_err wr_scan_header(log_bucket *b, const log_segment *s, const uint8_t *p,
                                uint64_t *pos, int64_t *expect)
{
    int64_t base = strom_get_i64(p);
    uint32_t length = strom_get_u32(p + 8), nrows = strom_get_u32(p + 32);
    if (strom_get_u32(p + 12) != FMT_MAGIC || base != *expect ||
        length < FMT_HEADER_SIZE - 12 || *pos + 12 + length > s->size)
        return strom_fail(STROM_ECORRUPT, "%s: segment %020lld: writers scan: no batch at "
                          "offset %lld at position %llu", b->name, (long long)s->base,
                          (long long)*expect, (unsigned long long)*pos);
    log_wentry x = {.writer_id = strom_get_i64(p + 40), .seq = (int32_t)strom_get_u32(p + 48),
                    .nrecords = nrows, .base_offset = base, .commit_ms = strom_get_i64(p + 56)};
    *expect = base + nrows;
    *pos += 12 + (uint64_t)length;
    return x.writer_id > 0 && x.seq >= 0 ? wr_put(b, &x) : STROM_OK;
}

/* Replays the batch headers of s from pos to its end, reading WR_SCAN_CHUNK at a time. */
static strom_err wr_scan_seg(log_bucket *b, const log_segment *s, uint64_t pos, int64_t *expect,
                             uint8_t *buf)
{
    uint64_t at = 0;
    size_t have = 0;
    posix_fadvise(s->fd, (off_t)pos, 0, POSIX_FADV_SEQUENTIAL);
    while (pos < s->size) {
        if (pos < at || pos + FMT_HEADER_SIZE > at + have) {
            size_t want = (size_t)STROM_MIN((uint64_t)WR_SCAN_CHUNK, s->size - pos), got = 0;
            int rc = strom_pread_full(s->fd, buf, want, pos, &got);
            if (rc != 0)
                return strom_fail_errno(rc, "%s: segment %020lld: read at %llu", b->name,
                                        (long long)s->base, (unsigned long long)pos);
            if (got < FMT_HEADER_SIZE)
                return strom_fail(STROM_ECORRUPT, "%s: segment %020lld: writers scan: short "
                                  "batch header at position %llu", b->name, (long long)s->base,
                                  (unsigned long long)pos);
            at = pos;
            have = got;
        }
        strom_err e = wr_scan_header(b, s, buf + (pos - at), &pos, expect);
        if (e != STROM_OK)
            return e;
    }
    return STROM_OK;
}

/* Replays every segment from `from` to the end of the log. */
static strom_err wr_scan(log_bucket *b, const wr_from *from)
{
    uint8_t *buf = strom_malloc(WR_SCAN_CHUNK);
    if (!buf)
        return strom_fail(STROM_ENOMEM, "%s: out of memory for the writers scan", b->name);
    int64_t expect = from->off;
    strom_err e = STROM_OK;
    for (int i = from->seg; e == STROM_OK && i < b->nsegs; i++) {
        const log_segment *s = b->segs[i];
        if (i > from->seg)
            expect = s->base; /* a gap between segments is warned about by recovery */
        e = wr_scan_seg(b, s, i == from->seg ? from->pos : LOG_SEG_HDR, &expect, buf);
        posix_fadvise(s->fd, 0, 0, POSIX_FADV_NORMAL); /* readers share the descriptor */
    }
    free(buf);
    return e;
}

/* Loads snapshot off and replays the log after it; on failure the map is left empty. */
static strom_err wr_try(log_bucket *b, int64_t off)
{
    char path[PATH_MAX];
    uint8_t *img = NULL;
    size_t len = 0;
    wr_from from;
    strom_err e = wr_path(b, off, path, sizeof path);
    if (e == STROM_OK)
        e = strom_read_file(path, LOG_WR_HDR + (size_t)LOG_WR_MAX * LOG_WR_ENTRY, &img, &len);
    if (e == STROM_OK)
        e = wr_check_header(b, off, img, len, &from);
    if (e == STROM_OK)
        e = wr_load_entries(b, off, img, len);
    free(img);
    b->wr_snap_at = e == STROM_OK && from.seg == b->nsegs - 1 ? from.pos : LOG_SEG_HDR;
    if (e == STROM_OK)
        e = wr_scan(b, &from);
    if (e != STROM_OK)
        log_wr_free(&b->wr);
    return e;
}

/* No usable snapshot: every retained segment's headers. */
static strom_err wr_full_scan(log_bucket *b, size_t nsnap)
{
    if (nsnap > 0 || b->segs[0]->base > 0)
        log_warn(b, "no usable writers snapshot: writers rebuilt from the batch headers of "
                 "the retained segments (from offset %lld); writers whose last batch was in a "
                 "removed segment are forgotten", (long long)b->segs[0]->base);
    wr_from from = {.seg = 0, .pos = LOG_SEG_HDR, .off = b->segs[0]->base};
    b->wr_snap_at = LOG_SEG_HDR;
    strom_err e = wr_scan(b, &from);
    if (e != STROM_OK) {
        log_wr_free(&b->wr);
        return strom_fail_wrap(e, "%s: rebuilding the idempotent writers", b->name);
    }
    return STROM_OK;
}

strom_err log_wr_recover(log_bucket *b)
{
    if (!b->cfg.idempotent)
        return STROM_OK;
    int64_t *v = NULL;
    size_t n = 0, i = 0;
    b->wr_snap_off = -1;
    strom_err e = wr_list(b, &v, &n);
    for (; e == STROM_OK && i < n && v[i] > b->written_off; i++) {
        log_warn(b, "writers snapshot %020lld is past the end of the log (%lld): removed",
                 (long long)v[i], (long long)b->written_off);
        wr_unlink(b, v[i]);
    }
    int loaded = 0;
    for (; e == STROM_OK && i < n && !loaded; i++) {
        strom_err t = wr_try(b, v[i]);
        b->wr_snap_off = t == STROM_OK ? v[i] : -1;
        if (t == STROM_OK)
            loaded = 1;
        else if (t == STROM_ENOMEM)
            e = t;
        else
            log_warn(b, "%s; trying an older one", strom_errmsg());
    }
    if (e == STROM_OK && !loaded)
        e = wr_full_scan(b, n);
    free(v);
    if (e == STROM_OK)
        e = wr_expire(b);
    strom_fail_clear();
    return e;
}
