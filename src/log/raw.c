/* raw.c: reading stored batches as they are on disk (no decoding), for a server that
 * forwards them to clients unchanged (FETCH_LOG without projection or filter). */
#include "log_int.h"

/* Where reading offset starts in segment s: the index span holding it. Under mu. */
static uint64_t raw_seek(const log_segment *s, int64_t off)
{
    if (s->ix.n == 0 || off <= s->base)
        return LOG_SEG_HDR;
    return s->ix.e[log_index_find_offset(&s->ix, (uint32_t)(off - s->base))].position;
}

/* Reads the 88-byte header at pos into dst; the batch's size, base and row count. */
static strom_err raw_header(log_bucket *b, log_segment *s, uint64_t pos, uint64_t limit,
                            uint8_t *dst, size_t *size, int64_t *base, int64_t *nrows)
{
    size_t got = 0;
    int rc = pos + FMT_HEADER_SIZE <= limit
                 ? strom_pread_full(s->fd, dst, FMT_HEADER_SIZE, pos, &got) : 0;
    if (rc != 0)
        return strom_fail_errno(rc, "%s: segment %020lld: read at %llu", b->name,
                                (long long)s->base, (unsigned long long)pos);
    *size = 12 + (size_t)strom_get_u32(dst + 8);
    *base = strom_get_i64(dst);
    *nrows = strom_get_u32(dst + 32);
    if (got != FMT_HEADER_SIZE || strom_get_u32(dst + 12) != FMT_MAGIC ||
        *size < FMT_HEADER_SIZE || pos + *size > limit)
        return strom_fail(STROM_ECORRUPT, "%s: segment %020lld: bad batch header at position "
                          "%llu", b->name, (long long)s->base, (unsigned long long)pos);
    return STROM_OK;
}

/* Copies the batches of s from *pos up to limit that end after offset into out while
 * they fit max_bytes (the first batch of the read always). 1 when max_bytes stopped it. */
static strom_err raw_segment(log_bucket *b, log_segment *s, uint64_t *pos, uint64_t limit,
                             int64_t offset, size_t max_bytes, size_t start, strom_buf *out,
                             int64_t *next, int *full)
{
    while (*pos < limit) {
        size_t size = 0, at = out->len;
        int64_t base = 0, nrows = 0;
        if (!strom_buf_grow(out, FMT_HEADER_SIZE))
            return STROM_ENOMEM;
        strom_err e = raw_header(b, s, *pos, limit, out->data + at, &size, &base, &nrows);
        out->len = at;
        if (e != STROM_OK)
            return e;
        if (base + nrows <= offset) {
            *pos += size;
            continue;
        }
        if (at > start && at - start + size > max_bytes) {
            *full = 1;
            return STROM_OK;
        }
        size_t got = 0;
        if (!strom_buf_grow(out, size))
            return STROM_ENOMEM;
        int rc = strom_pread_full(s->fd, out->data + at, size, *pos, &got);
        if (rc != 0 || got != size) {
            out->len = at;
            return rc ? strom_fail_errno(rc, "%s: read at %llu", b->name, (unsigned long long)*pos)
                      : strom_fail(STROM_ECORRUPT, "%s: truncated batch at %llu", b->name,
                                   (unsigned long long)*pos);
        }
        *pos += size;
        *next = base + nrows;
    }
    return STROM_OK;
}

/* The segment after s holding *next, with its start and limit; NULL at the end. Under mu
 * (s is unreferenced when another is returned). */
static log_segment *raw_advance(log_bucket *b, log_segment *s, int64_t next, uint64_t *pos,
                                uint64_t *limit)
{
    if (next >= b->hw)
        return NULL;
    log_segment *n = log_seg_for_offset(b, next);
    if (n == s) {
        log_seg_unref(b, n);
        return NULL;
    }
    log_seg_unref(b, s);
    *pos = raw_seek(n, next);
    *limit = n->acked_size;
    return n;
}

strom_err log_bucket_read_raw(log_bucket *b, int64_t offset, size_t max_bytes, strom_buf *out,
                              int64_t *next)
{
    pthread_mutex_lock(&b->mu);
    if (offset > b->hw) {
        int64_t hw = b->hw;
        pthread_mutex_unlock(&b->mu);
        return strom_fail(STROM_ERANGE, "%s: offset %lld is beyond the end %lld", b->name,
                          (long long)offset, (long long)hw);
    }
    offset = STROM_MAX(offset, b->segs[0]->base);
    *next = offset;
    log_segment *s = log_seg_for_offset(b, offset);
    uint64_t pos = raw_seek(s, offset), limit = s->acked_size;
    pthread_mutex_unlock(&b->mu);
    size_t start = out->len;
    int full = 0;
    strom_err e = STROM_OK;
    for (;;) {
        e = raw_segment(b, s, &pos, limit, offset, max_bytes, start, out, next, &full);
        pthread_mutex_lock(&b->mu);
        log_segment *n = e == STROM_OK && !full ? raw_advance(b, s, *next, &pos, &limit) : NULL;
        if (!n)
            log_seg_unref(b, s);
        pthread_mutex_unlock(&b->mu);
        if (!n)
            break;
        s = n;
    }
    if (e != STROM_OK)
        out->len = start;
    return e;
}
