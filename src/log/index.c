/* index.c: the sparse offset/time index of a segment, in memory and in its .index file. */
#define _GNU_SOURCE
#include "log_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void log_index_free(log_index *ix)
{
    free(ix->e);
    free(ix->pmax);
    strom_buf_free(&ix->pending);
    memset(ix, 0, sizeof *ix);
}

static strom_err index_grow(log_index *ix)
{
    if (ix->n < ix->cap)
        return STROM_OK;
    size_t cap = ix->cap ? ix->cap * 2 : 64;
    log_ient *e = strom_realloc(ix->e, cap * sizeof *e);
    if (!e)
        return STROM_ENOMEM;
    ix->e = e;
    int64_t *pm = strom_realloc(ix->pmax, cap * sizeof *pm);
    if (!pm)
        return STROM_ENOMEM;
    ix->pmax = pm;
    ix->cap = cap;
    return STROM_OK;
}

static void index_set_pmax(log_index *ix, size_t i)
{
    int64_t prev = i ? ix->pmax[i - 1] : INT64_MIN;
    ix->pmax[i] = STROM_MAX(prev, ix->e[i].max_time);
}

static strom_err index_push(log_index *ix, const log_ient *en)
{
    strom_err e = index_grow(ix);
    if (e != STROM_OK)
        return e;
    ix->e[ix->n] = *en;
    index_set_pmax(ix, ix->n);
    ix->n++;
    return STROM_OK;
}

strom_err log_index_add(log_index *ix, int64_t seg_base, int64_t interval, uint32_t pos,
                        const fmt_hdr *h)
{
    uint32_t len = 12 + h->length;
    uint32_t rel = (uint32_t)(h->base_offset - seg_base);
    log_ient *last = ix->n ? &ix->e[ix->n - 1] : NULL;
    if (!last || (int64_t)(pos - last->position) >= interval) {
        log_ient en = {rel, h->nrows, pos, len, 1, h->min_time, h->max_time, h->commit_ts,
                       h->arrow_size};
        return index_push(ix, &en);
    }
    last->nrecords = rel + h->nrows - last->rel_offset;
    last->span_bytes += len;
    last->nbatches++;
    last->min_time = STROM_MIN(last->min_time, h->min_time);
    last->max_time = STROM_MAX(last->max_time, h->max_time);
    last->max_commit = STROM_MAX(last->max_commit, h->commit_ts);
    last->raw_bytes += h->arrow_size;
    index_set_pmax(ix, ix->n - 1);
    return STROM_OK;
}

static void ient_encode(uint8_t *p, const log_ient *en)
{
    memset(p, 0, LOG_IDX_ENTRY);
    strom_put_u32(p, en->rel_offset);
    strom_put_u32(p + 4, en->nrecords);
    strom_put_u32(p + 8, en->position);
    strom_put_u32(p + 12, en->span_bytes);
    strom_put_u32(p + 16, en->nbatches);
    strom_put_i64(p + 24, en->min_time);
    strom_put_i64(p + 32, en->max_time);
    strom_put_i64(p + 40, en->max_commit);
    strom_put_u64(p + 48, en->raw_bytes);
    strom_put_u32(p + 60, strom_crc32c(0, p, 60));
}

static int ient_decode(const uint8_t *p, log_ient *en)
{
    if (strom_get_u32(p + 60) != strom_crc32c(0, p, 60))
        return 0;
    en->rel_offset = strom_get_u32(p);
    en->nrecords = strom_get_u32(p + 4);
    en->position = strom_get_u32(p + 8);
    en->span_bytes = strom_get_u32(p + 12);
    en->nbatches = strom_get_u32(p + 16);
    en->min_time = strom_get_i64(p + 24);
    en->max_time = strom_get_i64(p + 32);
    en->max_commit = strom_get_i64(p + 40);
    en->raw_bytes = strom_get_u64(p + 48);
    return en->nrecords > 0 && en->nbatches > 0 && en->span_bytes >= FMT_HEADER_SIZE;
}

void log_index_stage(log_index *ix, size_t upto)
{
    for (; ix->nwritten < upto; ix->nwritten++) {
        uint8_t *p = strom_buf_grow(&ix->pending, LOG_IDX_ENTRY);
        if (!p)
            return; /* retried at the next stage; the index is only an accelerator */
        ient_encode(p, &ix->e[ix->nwritten]);
    }
}

void log_index_encode_header(uint8_t *out, int64_t base, int64_t interval)
{
    memset(out, 0, LOG_IDX_HDR);
    strom_put_u32(out, LOG_IDX_MAGIC);
    strom_put_u16(out + 4, LOG_VERSION);
    strom_put_u16(out + 6, LOG_IDX_ENTRY);
    strom_put_i64(out + 8, base);
    strom_put_i64(out + 16, interval);
    strom_put_u32(out + 28, strom_crc32c(0, out, 28));
}

/* Entries must chain: each starts where the previous ended, offsets contiguous. */
static int ient_follows(const log_ient *prev, const log_ient *en)
{
    uint32_t pos = prev ? prev->position + prev->span_bytes : LOG_SEG_HDR;
    uint32_t rel = prev ? prev->rel_offset + prev->nrecords : 0;
    return en->position == pos && en->rel_offset == rel &&
           (uint64_t)en->position + en->span_bytes <= UINT32_MAX &&
           (uint64_t)en->rel_offset + en->nrecords <= UINT32_MAX;
}

strom_err log_index_decode(const uint8_t *p, size_t len, int64_t base, log_index *ix, int *clean)
{
    *clean = 0;
    if (len < LOG_IDX_HDR || strom_get_u32(p) != LOG_IDX_MAGIC ||
        strom_get_u32(p + 28) != strom_crc32c(0, p, 28) || strom_get_u16(p + 4) != LOG_VERSION ||
        strom_get_u16(p + 6) != LOG_IDX_ENTRY || strom_get_i64(p + 8) != base)
        return strom_fail(STROM_ECORRUPT, "bad index header");
    size_t nent = (len - LOG_IDX_HDR) / LOG_IDX_ENTRY;
    for (size_t i = 0; i < nent; i++) {
        log_ient en;
        if (!ient_decode(p + LOG_IDX_HDR + i * LOG_IDX_ENTRY, &en) ||
            !ient_follows(ix->n ? &ix->e[ix->n - 1] : NULL, &en))
            return STROM_OK;
        strom_err e = index_push(ix, &en);
        if (e != STROM_OK)
            return e;
    }
    *clean = (len - LOG_IDX_HDR) % LOG_IDX_ENTRY == 0;
    return STROM_OK;
}

size_t log_index_seek_time(const log_index *ix, int64_t t)
{
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->pmax[mid] >= t)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

size_t log_index_find_offset(const log_index *ix, uint32_t rel)
{
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->e[mid].rel_offset <= rel)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? lo - 1 : 0;
}

/* ------------------------------------------------------------------ files */

strom_err log_index_file_open(log_bucket *b, log_segment *s)
{
    char path[PATH_MAX];
    strom_err e = log_seg_side_path(s, ".index", path, sizeof path);
    if (e != STROM_OK)
        return e;
    if (s->ixfd >= 0)
        close(s->ixfd);
    s->ixfd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (s->ixfd < 0)
        return strom_fail_errno(errno, "%s: create %s", b->name, path);
    uint8_t hdr[LOG_IDX_HDR];
    log_index_encode_header(hdr, s->base, b->cfg.index_interval_bytes);
    /* Entries already known (a recovered active segment) are rewritten; the last one stays
     * open in memory because later batches may still extend its span. */
    s->ix.nwritten = 0;
    strom_buf_clear(&s->ix.pending);
    log_index_stage(&s->ix, s->ix.n ? s->ix.n - 1 : 0);
    int rc = strom_write_full(s->ixfd, hdr, sizeof hdr);
    if (rc == 0)
        return log_index_file_flush(b, s, 0, 0);
    return strom_fail_errno(rc, "%s: write %s", b->name, path);
}

strom_err log_index_file_flush(log_bucket *b, log_segment *s, int all, int sync)
{
    if (all)
        log_index_stage(&s->ix, s->ix.n);
    if (s->ixfd < 0 || s->ix.pending.len == 0)
        return STROM_OK;
    int rc = strom_write_full(s->ixfd, s->ix.pending.data, s->ix.pending.len);
    strom_buf_clear(&s->ix.pending);
    if (rc == 0 && sync)
        rc = log_fsync(s->ixfd);
    if (rc != 0)
        return strom_fail_errno(rc, "%s: segment %020lld: write index", b->name,
                                (long long)s->base);
    return STROM_OK;
}

/* Segment totals from the index entries. */
void log_seg_from_index(log_segment *s)
{
    s->max_commit = s->max_time = INT64_MIN;
    s->min_time = INT64_MAX;
    s->raw_bytes = s->nbatches = 0;
    s->end_off = s->base;
    s->size = LOG_SEG_HDR;
    for (size_t i = 0; i < s->ix.n; i++) {
        const log_ient *en = &s->ix.e[i];
        s->max_commit = STROM_MAX(s->max_commit, en->max_commit);
        s->max_time = STROM_MAX(s->max_time, en->max_time);
        s->min_time = STROM_MIN(s->min_time, en->min_time);
        s->raw_bytes += en->raw_bytes;
        s->nbatches += en->nbatches;
        s->end_off = s->base + en->rel_offset + en->nrecords;
        s->size = (uint64_t)en->position + en->span_bytes;
    }
}

/* The batch header at pos parses and starts at offset off. */
static int header_ok(log_bucket *b, log_segment *s, uint64_t pos, int64_t off, uint64_t limit)
{
    log_bio io;
    if (log_bio_init(&io) != STROM_OK)
        return 0;
    int ok = log_bio_header(&io, b, s, pos, limit) == STROM_OK && io.h.base_offset == off;
    log_bio_free(&io);
    return ok;
}

strom_err log_index_file_load(log_bucket *b, log_segment *s, int *valid)
{
    char path[PATH_MAX];
    uint8_t *p = NULL;
    size_t len = 0;
    int clean = 0;
    *valid = 0;
    strom_err e = log_seg_side_path(s, ".index", path, sizeof path);
    if (e == STROM_OK && strom_read_file(path, (size_t)1 << 31, &p, &len) == STROM_OK) {
        e = log_index_decode(p, len, s->base, &s->ix, &clean);
        free(p);
        if (e == STROM_ENOMEM)
            return e;
    }
    strom_fail_clear();
    /* Drop entries that point past the file or at something that is not their batch. */
    while (s->ix.n) {
        const log_ient *last = &s->ix.e[s->ix.n - 1];
        uint64_t end = (uint64_t)last->position + last->span_bytes;
        if (end <= s->size &&
            header_ok(b, s, last->position, s->base + last->rel_offset, s->size))
            break;
        s->ix.n--;
        clean = 0;
    }
    uint64_t fsize = s->size;
    log_seg_from_index(s);
    *valid = clean && s->size == fsize && (s->ix.n > 0 || fsize == LOG_SEG_HDR);
    s->size = fsize;
    return STROM_OK;
}

static strom_err scan_one(log_bucket *b, log_segment *s, log_bio *io, uint64_t pos, int verify,
                          strom_buf *whole)
{
    strom_err e = log_bio_header(io, b, s, pos, s->size);
    if (e != STROM_OK)
        return e;
    if (io->h.base_offset != s->end_off)
        return strom_fail(STROM_ECORRUPT, "%s: segment %020lld: batch at position %llu has "
                          "offset %lld, expected %lld", b->name, (long long)s->base,
                          (unsigned long long)pos, (long long)io->h.base_offset,
                          (long long)s->end_off);
    if (!verify)
        return STROM_OK;
    size_t blen = 12 + (size_t)io->h.length;
    strom_buf_clear(whole);
    uint8_t *dst = strom_buf_grow(whole, blen);
    size_t got = 0;
    if (!dst)
        return STROM_ENOMEM;
    int rc = strom_pread_full(s->fd, dst, blen, pos, &got);
    if (rc != 0 || got != blen)
        return strom_fail(STROM_ECORRUPT, "%s: batch at position %llu truncated", b->name,
                          (unsigned long long)pos);
    return fmt_batch_verify(dst, blen, &io->h, io->dirs);
}

strom_err log_index_rebuild(log_bucket *b, log_segment *s, uint64_t from, int verify,
                            uint64_t *valid_end)
{
    log_bio io;
    strom_buf whole = {0};
    strom_err e = log_bio_init(&io);
    uint64_t pos = from;
    s->size = from; /* accounting restarts here */
    uint64_t fsize = (uint64_t)lseek(s->fd, 0, SEEK_END);
    while (e == STROM_OK && pos < fsize) {
        uint64_t save = s->size;
        s->size = fsize;
        strom_err se = scan_one(b, s, &io, pos, verify, &whole);
        s->size = save;
        if (se == STROM_ENOMEM)
            e = se;
        if (se != STROM_OK)
            break;
        e = log_index_add(&s->ix, s->base, b->cfg.index_interval_bytes, (uint32_t)pos, &io.h);
        log_seg_account(s, &io.h, 12 + (uint64_t)io.h.length);
        pos += 12 + (uint64_t)io.h.length;
    }
    strom_fail_clear();
    *valid_end = pos;
    s->size = pos;
    log_bio_free(&io);
    strom_buf_free(&whole);
    return e;
}
