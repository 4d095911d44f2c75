/* segment.c: segment files: create, open, header, reference counting, error context. */
#define _GNU_SOURCE
#include "log_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int log_test_fail_fsync;
int log_test_fail_write;

int log_fsync(int fd)
{
    if (log_test_fail_fsync > 0 && --log_test_fail_fsync == 0)
        return EIO;
    return fdatasync(fd) < 0 ? errno : 0;
}

void log_seg_encode_header(uint8_t *out, int64_t base)
{
    memset(out, 0, LOG_SEG_HDR);
    strom_put_u32(out, LOG_SEG_MAGIC);
    strom_put_u16(out + 4, LOG_VERSION);
    strom_put_u16(out + 6, LOG_SEG_HDR);
    strom_put_i64(out + 8, base);
    strom_put_i64(out + 16, strom_now_ms());
    strom_put_u32(out + 28, strom_crc32c(0, out, 28));
}

static strom_err seg_check_header(const uint8_t *p, int64_t base, const char *path)
{
    if (strom_get_u32(p) != LOG_SEG_MAGIC || strom_get_u32(p + 28) != strom_crc32c(0, p, 28))
        return strom_fail(STROM_ECORRUPT, "%s: bad segment header (magic or CRC)", path);
    if (strom_get_u16(p + 4) != LOG_VERSION || strom_get_u16(p + 6) != LOG_SEG_HDR)
        return strom_fail(STROM_ECORRUPT, "%s: unsupported segment version %u", path,
                          strom_get_u16(p + 4));
    if (strom_get_i64(p + 8) != base)
        return strom_fail(STROM_ECORRUPT, "%s: header base offset %lld does not match the name",
                          path, (long long)strom_get_i64(p + 8));
    return STROM_OK;
}

static log_segment *seg_alloc(int64_t base)
{
    log_segment *s = strom_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->base = s->end_off = s->acked_end = base;
    s->fd = s->ixfd = -1;
    s->refs = 1;
    s->max_commit = s->max_time = INT64_MIN;
    s->min_time = INT64_MAX;
    return s;
}

strom_err log_seg_create(log_bucket *b, int64_t base, log_segment **out)
{
    log_segment *s = seg_alloc(base);
    if (!s)
        return STROM_ENOMEM;
    strom_err e = strom_path(s->path, sizeof s->path, "%s/%020lld.log", b->dir, (long long)base);
    if (e != STROM_OK) {
        free(s);
        return e;
    }
    s->fd = open(s->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s->fd < 0) {
        e = strom_fail_errno(errno, "%s: create %s", b->name, s->path);
        free(s);
        return e;
    }
    uint8_t hdr[LOG_SEG_HDR];
    log_seg_encode_header(hdr, base);
    int rc = strom_pwrite_full(s->fd, hdr, sizeof hdr, 0);
    if (rc == 0)
        rc = log_fsync(s->fd);
    if (rc == 0)
        rc = strom_fsync_dir(b->dir);
    s->size = s->acked_size = LOG_SEG_HDR;
    if (rc == 0) {
        e = log_index_file_open(b, s);
        if (e == STROM_OK) {
            *out = s;
            return STROM_OK;
        }
    } else {
        e = strom_fail_errno(rc, "%s: write %s", b->name, s->path);
    }
    log_seg_free(s);
    return e;
}

strom_err log_seg_open_file(log_bucket *b, const char *path, int64_t base, log_segment **out)
{
    log_segment *s = seg_alloc(base);
    if (!s)
        return STROM_ENOMEM;
    snprintf(s->path, sizeof s->path, "%s", path);
    s->fd = open(path, O_RDWR | O_CLOEXEC);
    strom_err e = STROM_OK;
    if (s->fd < 0) {
        e = strom_fail_errno(errno, "%s: open %s", b->name, path);
        free(s);
        return e;
    }
    off_t end = lseek(s->fd, 0, SEEK_END);
    uint8_t hdr[LOG_SEG_HDR];
    size_t got = 0;
    if (end < 0 || strom_pread_full(s->fd, hdr, sizeof hdr, 0, &got) != 0)
        e = strom_fail_errno(errno, "%s: read %s", b->name, path);
    else if (got < LOG_SEG_HDR)
        e = strom_fail(STROM_ECORRUPT, "%s: segment header truncated", path);
    else if ((e = seg_check_header(hdr, base, path)) == STROM_ECORRUPT &&
             end > LOG_SEG_HDR + FMT_HEADER_SIZE) {
        /* bit rot in the header of a segment holding data: its batches carry their own
         * CRCs and offsets (checked against the file name), so keep going */
        log_warn(b, "%s; batches are checked on their own", strom_errmsg());
        e = STROM_OK;
    }
    if (e != STROM_OK) {
        log_seg_free(s);
        return e;
    }
    s->size = s->acked_size = (uint64_t)end;
    *out = s;
    return STROM_OK;
}

/* The step grows with the segment (64 KiB, then its size, up to prealloc_bytes), so that a
 * table written rarely holds little unused space and a busy one extends its file rarely. */
#define SEG_PREALLOC_MIN ((uint64_t)64 << 10)

void log_seg_prealloc(log_bucket *b, log_segment *s, size_t len)
{
    if (b->cfg.prealloc_bytes <= 0 || s->noalloc || s->size + len <= s->alloc)
        return;
    uint64_t step = STROM_MIN((uint64_t)b->cfg.prealloc_bytes, STROM_MAX(SEG_PREALLOC_MIN, s->size));
    uint64_t want = s->size + len + step;
    if (fallocate(s->fd, 0, (off_t)s->size, (off_t)(want - s->size)) == 0)
        s->alloc = want;
    else if (errno == EOPNOTSUPP)
        s->noalloc = 1;
    /* else (no fallocate on this file system, or no space): appends extend the file as
     * they go, and a full disk is reported by the write itself */
}

int log_seg_trim(log_segment *s)
{
    if (s->alloc <= s->size)
        return 0;
    if (ftruncate(s->fd, (off_t)s->size) < 0)
        return errno;
    s->alloc = 0;
    return 0;
}

void log_seg_free(log_segment *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    if (s->ixfd >= 0)
        close(s->ixfd);
    log_index_free(&s->ix);
    log_kx_destroy(s->kx);
    free(s);
}

void log_seg_ref(log_bucket *b, log_segment *s)
{
    STROM_UNUSED(b);
    s->refs++;
}

void log_seg_unref(log_bucket *b, log_segment *s)
{
    STROM_UNUSED(b);
    if (s && --s->refs == 0)
        log_seg_free(s);
}

strom_err log_seg_side_path(const log_segment *s, const char *ext, char *out, size_t cap)
{
    size_t n = strlen(s->path);
    return strom_path(out, cap, "%.*s%s", (int)(n - 4), s->path, ext);
}

strom_err log_seg_fail(log_bucket *b, log_segment *s, strom_err e)
{
    return strom_fail_wrap(e, "%s: segment %020lld", b->name, (long long)s->base);
}

void log_seg_account(log_segment *s, const fmt_hdr *h, uint64_t len)
{
    s->size += len;
    s->end_off = h->base_offset + (int64_t)h->nrows;
    s->max_commit = STROM_MAX(s->max_commit, h->commit_ts);
    s->max_time = STROM_MAX(s->max_time, h->max_time);
    s->min_time = STROM_MIN(s->min_time, h->min_time);
    s->raw_bytes += h->arrow_size;
    s->nbatches++;
}
