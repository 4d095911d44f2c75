/* recover.c: opening a bucket directory after a clean close or a crash. Sealed segments
 * trust their index files when they validate and are otherwise re-indexed from their batch
 * headers; the active (last) segment is re-verified from its last index entry on and its
 * torn or corrupt tail is truncated. */
#define _GNU_SOURCE
#include "log_int.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static strom_err bases_push(int64_t **v, size_t *n, size_t *cap, int64_t base)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        int64_t *p = strom_realloc(*v, c * sizeof *p);
        if (!p)
            return STROM_ENOMEM;
        *v = p;
        *cap = c;
    }
    (*v)[(*n)++] = base;
    return STROM_OK;
}

strom_err log_list_numbered(log_bucket *b, const char *ext, int drop_tmp, int64_t **bases,
                            size_t *n)
{
    *bases = NULL;
    *n = 0;
    DIR *d = opendir(b->dir);
    if (!d)
        return strom_fail_errno(errno, "%s: open directory %s", b->name, b->dir);
    size_t cap = 0, elen = strlen(ext);
    strom_err e = STROM_OK;
    struct dirent *de;
    while (e == STROM_OK && (de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (drop_tmp && len > 4 && !strcmp(de->d_name + len - 4, ".tmp")) {
            char p[PATH_MAX];
            if (strom_path(p, sizeof p, "%s/%s", b->dir, de->d_name) == STROM_OK)
                unlink(p);
            continue;
        }
        if (len == 20 + elen && !strcmp(de->d_name + 20, ext) && is_digits(de->d_name, 20))
            e = bases_push(bases, n, &cap, strtoll(de->d_name, NULL, 10));
    }
    closedir(d);
    if (e == STROM_OK && *n)
        qsort(*bases, *n, sizeof **bases, cmp_i64);
    return e;
}

/* Writes a sealed segment's index file afresh (after a rebuild). */
static strom_err write_index_file(log_bucket *b, log_segment *s)
{
    char path[PATH_MAX];
    strom_err e = log_seg_side_path(s, ".index", path, sizeof path);
    if (e != STROM_OK)
        return e;
    strom_buf img = {0};
    uint8_t *h = strom_buf_grow(&img, LOG_IDX_HDR);
    if (!h)
        return STROM_ENOMEM;
    log_index_encode_header(h, s->base, b->cfg.index_interval_bytes);
    s->ix.nwritten = 0;
    strom_buf_clear(&s->ix.pending);
    log_index_stage(&s->ix, s->ix.n);
    e = strom_buf_append(&img, s->ix.pending.data, s->ix.pending.len);
    strom_buf_clear(&s->ix.pending);
    if (e == STROM_OK)
        e = strom_write_file_atomic(path, img.data, img.len);
    strom_buf_free(&img);
    return e;
}

static strom_err recover_sealed(log_bucket *b, log_segment *s)
{
    int valid = 0;
    uint64_t fsize = s->size, end = 0;
    strom_err e = log_index_file_load(b, s, &valid);
    if (e != STROM_OK || valid)
        return e;
    log_warn(b, "segment %020lld: index missing or damaged; rebuilt from the segment",
             (long long)s->base);
    log_index_free(&s->ix);
    log_seg_from_index(s);
    e = log_index_rebuild(b, s, LOG_SEG_HDR, 0, &end);
    if (e == STROM_OK && end < fsize)
        log_warn(b, "segment %020lld: unreadable batch at position %llu; later batches of this "
                 "segment are unreachable", (long long)s->base, (unsigned long long)end);
    if (e == STROM_OK && write_index_file(b, s) != STROM_OK)
        log_warn(b, "segment %020lld: index not rewritten: %s", (long long)s->base, strom_errmsg());
    strom_fail_clear();
    return e;
}

/* 1 when [from, to) of fd holds only zero bytes (a preallocated tail, never written). */
static int zero_tail(int fd, uint64_t from, uint64_t to)
{
    uint8_t buf[65536];
    while (from < to) {
        size_t want = (size_t)STROM_MIN((uint64_t)sizeof buf, to - from), got = 0;
        if (strom_pread_full(fd, buf, want, (off_t)from, &got) != 0 || got != want)
            return 0;
        for (size_t i = 0; i < got; i++)
            if (buf[i])
                return 0;
        from += got;
    }
    return 1;
}

/* Cuts the active segment back to its last whole batch. A tail of zeros is what
 * preallocation (log_config.prealloc_bytes) leaves after a crash: cut without a warning. */
static strom_err truncate_tail(log_bucket *b, log_segment *s, uint64_t end, uint64_t fsize)
{
    if (!zero_tail(s->fd, end, fsize))
        log_warn(b, "segment %020lld: torn or corrupt tail: %llu bytes truncated at position "
                 "%llu", (long long)s->base, (unsigned long long)(fsize - end),
                 (unsigned long long)end);
    if (ftruncate(s->fd, (off_t)end) < 0)
        return strom_fail_errno(errno, "%s: truncate %s", b->name, s->path);
    int rc = log_fsync(s->fd);
    if (rc != 0)
        return strom_fail_errno(rc, "%s: fsync %s", b->name, s->path);
    return STROM_OK;
}

static strom_err recover_active(log_bucket *b, log_segment *s)
{
    int valid = 0;
    uint64_t fsize = s->size, end = 0;
    strom_err e = log_index_file_load(b, s, &valid);
    if (e != STROM_OK)
        return e;
    if (s->ix.n)
        s->ix.n--; /* the last span may have grown after its entry was written: re-verify */
    log_seg_from_index(s);
    e = log_index_rebuild(b, s, s->size, 1, &end);
    if (e == STROM_OK && end < fsize)
        e = truncate_tail(b, s, end, fsize);
    if (e == STROM_OK)
        e = log_index_file_open(b, s);
    s->acked_size = s->size;
    s->acked_end = s->end_off;
    return e;
}

static strom_err open_one(log_bucket *b, int64_t base, int last)
{
    char path[PATH_MAX];
    log_segment *s = NULL;
    strom_err e = strom_path(path, sizeof path, "%s/%020lld.log", b->dir, (long long)base);
    if (e == STROM_OK)
        e = log_seg_open_file(b, path, base, &s);
    if (e != STROM_OK)
        return strom_fail_wrap(e, "%s: open", b->name);
    e = last ? recover_active(b, s) : recover_sealed(b, s);
    s->sealed = !last;
    if (e == STROM_OK)
        e = log_segs_push(b, s);
    if (e != STROM_OK) {
        log_seg_free(s);
        return e;
    }
    if (b->nsegs > 1 && b->segs[b->nsegs - 2]->end_off != base)
        log_warn(b, "segment %020lld starts at %lld but the previous one ends at %lld",
                 (long long)base, (long long)base, (long long)b->segs[b->nsegs - 2]->end_off);
    return STROM_OK;
}

/* A crash between creating a segment file and fsyncing its header leaves a last segment
 * with no valid header and no batch. Nothing in it was acknowledged (rows are acknowledged
 * only after an fsync that follows the header's), so it is removed. */
static void drop_torn_last(log_bucket *b, const int64_t *bases, size_t *n)
{
    char path[PATH_MAX];
    log_segment *s = NULL;
    struct stat st;
    if (*n < 1 || strom_path(path, sizeof path, "%s/%020lld.log", b->dir,
                             (long long)bases[*n - 1]) != STROM_OK || stat(path, &st) < 0)
        return;
    if (st.st_size > LOG_SEG_HDR + FMT_HEADER_SIZE)
        return; /* it holds data: a bad header there is damage, handled when opening it */
    strom_err e = log_seg_open_file(b, path, bases[*n - 1], &s);
    if (e == STROM_OK) {
        log_seg_free(s);
        return;
    }
    if (e != STROM_ECORRUPT)
        return;
    log_warn(b, "segment %020lld: %s; removed (it was never acknowledged)",
             (long long)bases[*n - 1], strom_errmsg());
    unlink(path);
    if (strom_path(path, sizeof path, "%s/%020lld.index", b->dir, (long long)bases[*n - 1]) == STROM_OK)
        unlink(path);
    if (strom_path(path, sizeof path, "%s/%020lld.keys", b->dir, (long long)bases[*n - 1]) == STROM_OK)
        unlink(path);
    strom_fsync_dir(b->dir);
    (*n)--;
    strom_fail_clear();
}

strom_err log_recover(log_bucket *b)
{
    int64_t *bases = NULL;
    size_t n = 0;
    strom_err e = log_list_numbered(b, ".log", 1, &bases, &n);
    if (e == STROM_OK)
        drop_torn_last(b, bases, &n);
    for (size_t i = 0; e == STROM_OK && i < n; i++)
        e = open_one(b, bases[i], i + 1 == n);
    free(bases);
    if (e == STROM_OK && b->nsegs == 0) {
        log_segment *s = NULL;
        e = log_seg_create(b, 0, &s);
        if (e == STROM_OK && (e = log_segs_push(b, s)) != STROM_OK)
            log_seg_free(s);
        if (e == STROM_OK && b->cfg.nkey_cols > 0) {
            s->kx = log_kx_create();
            s->kx_state = s->kx ? LOG_KX_READY : LOG_KX_NONE;
        }
    }
    if (e != STROM_OK)
        return e;
    log_segment *a = b->segs[b->nsegs - 1];
    b->written_off = b->durable_off = b->hw = a->end_off;
    return STROM_OK;
}
