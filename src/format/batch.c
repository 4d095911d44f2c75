/* batch.c: decoded batches: the 64-byte-aligned arena, per-row metadata, compaction,
 * and the public strom_batch_* accessors. */
#include "fmt_int.h"

#include <stdlib.h>

#define ARENA_ALIGN 64
#define ARENA_MIN (64u << 10)

strom_batch *fmt_batch_create(int ncols)
{
    strom_batch *b = strom_calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->cap_cols = ncols > 0 ? ncols : 1;
    b->cols = strom_calloc((size_t)b->cap_cols, sizeof *b->cols);
    if (!b->cols) {
        free(b);
        return NULL;
    }
    return b;
}

static void free_blocks(strom_batch *b)
{
    for (int i = 0; i < b->nblocks; i++)
        free(b->blocks[i].data);
    b->nblocks = 0;
}

void strom_batch_destroy(strom_batch *b)
{
    if (!b)
        return;
    free_blocks(b);
    free(b->blocks);
    free(b->arena.data);
    free(b->cols);
    free(b);
}

static void *aligned_block(size_t size)
{
    void *p = aligned_alloc(ARENA_ALIGN, size);
    if (!p)
        strom_fail(STROM_ENOMEM, "batch arena: out of memory for %zu bytes", size);
    return p;
}

/* Forgets the contents; if the last use spilled into extra blocks, the main arena is
 * regrown to their total so the next use needs no allocation. */
static strom_err arena_reset(strom_batch *b)
{
    size_t total = b->arena.cap;
    for (int i = 0; i < b->nblocks; i++)
        total += b->blocks[i].cap;
    b->arena.len = 0;
    if (b->nblocks == 0)
        return STROM_OK;
    free_blocks(b);
    free(b->arena.data);
    b->arena.cap = 0;
    b->arena.data = aligned_block(total);
    if (!b->arena.data)
        return STROM_ENOMEM;
    b->arena.cap = total;
    return STROM_OK;
}

strom_err fmt_batch_reset(strom_batch *b, const fmt_hdr *h, int ncols)
{
    if (ncols > b->cap_cols) {
        strom_column *c = strom_realloc(b->cols, (size_t)ncols * sizeof *c);
        if (!c)
            return STROM_ENOMEM;
        b->cols = c;
        b->cap_cols = ncols;
    }
    b->ncols = ncols;
    b->base_offset = h ? h->base_offset : 0;
    b->commit_ts = h ? h->commit_ts : 0;
    b->nrows = h ? h->nrows : 0;
    b->schema_id = h ? h->schema_id : 0;
    b->writer_id = h ? h->writer_id : -1;
    b->batch_seq = h ? h->batch_seq : -1;
    b->row_offsets = b->row_times = NULL;
    b->changes = NULL;
    return arena_reset(b);
}

/* Allocates from a new extra block of at least need bytes. */
static void *alloc_spill(strom_batch *b, size_t need)
{
    if (b->nblocks == b->cap_blocks) {
        int cap = b->cap_blocks ? b->cap_blocks * 2 : 4;
        strom_buf *nb = strom_realloc(b->blocks, (size_t)cap * sizeof *nb);
        if (!nb)
            return NULL;
        b->blocks = nb;
        b->cap_blocks = cap;
    }
    size_t last = b->nblocks ? b->blocks[b->nblocks - 1].cap : b->arena.cap;
    size_t size = STROM_MAX(STROM_MAX(need, 2 * last), (size_t)ARENA_MIN);
    uint8_t *p = aligned_block(size);
    if (!p)
        return NULL;
    b->blocks[b->nblocks++] = (strom_buf){.data = p, .len = need, .cap = size};
    return p;
}

void *fmt_batch_alloc(strom_batch *b, size_t size)
{
    if (size > SIZE_MAX - ARENA_ALIGN)
        return NULL;
    size_t need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    need = need ? need : ARENA_ALIGN;
    strom_buf *cur = b->nblocks ? &b->blocks[b->nblocks - 1] : &b->arena;
    if (cur->data && cur->cap - cur->len >= need) {
        void *p = cur->data + cur->len;
        cur->len += need;
        return p;
    }
    return alloc_spill(b, need);
}

strom_err fmt_batch_set_rows(strom_batch *b, const fmt_hdr *h, const strom_column *tc)
{
    if (h->changes) {
        uint8_t *ch = fmt_batch_alloc(b, h->nrows);
        if (!ch)
            return STROM_ENOMEM;
        memcpy(ch, h->changes, h->nrows);
        b->changes = ch;
    }
    if (!tc || (!tc->validity && tc->type != STROM_INT)) {
        b->row_times = tc ? tc->values : NULL;
        return STROM_OK;
    }
    int64_t *t = fmt_batch_alloc(b, (size_t)tc->length * 8);
    if (!t)
        return STROM_ENOMEM;
    for (int64_t r = 0; r < tc->length; r++) {
        int valid = !tc->validity || fmt_bit(tc->validity, (uint64_t)r);
        int64_t x = tc->type == STROM_INT ? ((const int32_t *)tc->values)[r]
                                          : ((const int64_t *)tc->values)[r];
        t[r] = valid ? x : INT64_MIN;
    }
    b->row_times = t;
    return STROM_OK;
}

/* ------------------------------------------------------------ compaction */

static void compact_bits(uint8_t *bm, int64_t n, const uint8_t *keep)
{
    int64_t j = 0;
    for (int64_t r = 0; r < n; r++) {
        if (!keep[r])
            continue;
        if (fmt_bit(bm, (uint64_t)r))
            fmt_bit_set(bm, (uint64_t)j);
        else
            fmt_bit_clear(bm, (uint64_t)j);
        j++;
    }
}

static void compact_fixed(uint8_t *v, size_t w, int64_t n, const uint8_t *keep)
{
    int64_t j = 0;
    for (int64_t r = 0; r < n; r++)
        if (keep[r])
            memmove(v + (size_t)j++ * w, v + (size_t)r * w, w);
}

static void compact_var(int32_t *off, uint8_t *data, int64_t n, const uint8_t *keep)
{
    int64_t j = 0;
    int32_t end = 0, start = off[0];
    for (int64_t r = 0; r < n; r++) {
        int32_t a = start, b = off[r + 1];
        start = b;
        if (!keep[r])
            continue;
        memmove(data + end, data + a, (size_t)(b - a));
        end += b - a;
        off[++j] = end;
    }
    off[0] = 0;
}

static void compact_column(strom_column *c, const uint8_t *keep, int64_t kept)
{
    if (c->validity)
        compact_bits((uint8_t *)(uintptr_t)c->validity, c->length, keep);
    if (c->type == STROM_BOOLEAN)
        compact_bits((uint8_t *)(uintptr_t)c->values, c->length, keep);
    else if (fmt_type_is_var(c->type))
        compact_var((int32_t *)(uintptr_t)c->offsets, (uint8_t *)(uintptr_t)c->data, c->length,
                    keep);
    else
        compact_fixed((uint8_t *)(uintptr_t)c->values, (size_t)fmt_type_width(c->type),
                      c->length, keep);
    if (c->validity) {
        int64_t nulls = 0;
        for (int64_t r = 0; r < kept; r++)
            nulls += !fmt_bit(c->validity, (uint64_t)r);
        c->null_count = nulls;
    }
    c->length = kept;
}

/* 1 if p is the values buffer of one of b's columns (compacted with it). */
static int aliases_column(const strom_batch *b, const void *p)
{
    for (int i = 0; i < b->ncols; i++)
        if (b->cols[i].values == p)
            return 1;
    return 0;
}

strom_err fmt_batch_compact(strom_batch *b, const uint8_t *keep)
{
    int64_t n = b->nrows, kept = 0;
    for (int64_t r = 0; r < n; r++)
        kept += keep[r] != 0;
    if (kept == n)
        return STROM_OK;
    if (!b->row_offsets) {
        int64_t *o = fmt_batch_alloc(b, (size_t)n * 8);
        if (!o)
            return STROM_ENOMEM;
        for (int64_t r = 0; r < n; r++)
            o[r] = b->base_offset + r;
        b->row_offsets = o;
    }
    compact_fixed((uint8_t *)(uintptr_t)b->row_offsets, 8, n, keep);
    if (b->row_times && !aliases_column(b, b->row_times))
        compact_fixed((uint8_t *)(uintptr_t)b->row_times, 8, n, keep);
    if (b->changes)
        compact_fixed((uint8_t *)(uintptr_t)b->changes, 1, n, keep);
    for (int i = 0; i < b->ncols; i++)
        compact_column(&b->cols[i], keep, kept);
    b->nrows = kept;
    return STROM_OK;
}

size_t fmt_column_bytes(const strom_column *c)
{
    size_t n = (size_t)c->length, size = c->validity ? fmt_bm_bytes(n) : 0;
    if (c->type == STROM_BOOLEAN)
        return size + fmt_bm_bytes(n);
    if (fmt_type_is_var(c->type))
        return size + 4 * (n + 1) + (size_t)(c->offsets[n] - c->offsets[0]);
    return size + n * (size_t)fmt_type_width(c->type);
}

/* ------------------------------------------------------ public accessors */

int64_t strom_batch_base_offset(const strom_batch *b) { return b->base_offset; }
int64_t strom_batch_nrows(const strom_batch *b) { return b->nrows; }
int strom_batch_ncols(const strom_batch *b) { return b->ncols; }
uint32_t strom_batch_schema_id(const strom_batch *b) { return b->schema_id; }
int64_t strom_batch_commit_time(const strom_batch *b) { return b->commit_ts; }

int64_t strom_batch_row_offset(const strom_batch *b, int64_t r)
{
    return b->row_offsets ? b->row_offsets[r] : b->base_offset + r;
}

int64_t strom_batch_row_time(const strom_batch *b, int64_t r)
{
    return b->row_times ? b->row_times[r] : b->commit_ts;
}

strom_change strom_batch_row_change(const strom_batch *b, int64_t r)
{
    return b->changes ? (strom_change)b->changes[r] : STROM_APPEND;
}

strom_err strom_batch_column(const strom_batch *b, int i, strom_column *out)
{
    if (i < 0 || i >= b->ncols)
        return strom_fail(STROM_EINVAL, "batch: column index %d out of range [0, %d)", i,
                          b->ncols);
    *out = b->cols[i];
    return STROM_OK;
}

/* Column col if (col, r) is in range and the value is not NULL, else NULL. */
static const strom_column *cell(const strom_batch *b, int col, int64_t r)
{
    if (col < 0 || col >= b->ncols || r < 0 || r >= b->cols[col].length)
        return NULL;
    const strom_column *c = &b->cols[col];
    return c->validity && !fmt_bit(c->validity, (uint64_t)r) ? NULL : c;
}

int strom_batch_is_null(const strom_batch *b, int col, int64_t r) { return !cell(b, col, r); }

/* Truncation toward zero; 0 for NaN and values outside int64. */
static int64_t f64_to_int(double d)
{
    return d > -9223372036854775808.0 && d < 9223372036854775808.0 ? (int64_t)d : 0;
}

int64_t strom_batch_get_int(const strom_batch *b, int col, int64_t r)
{
    const strom_column *c = cell(b, col, r);
    if (!c)
        return 0;
    switch (c->type) {
    case STROM_BOOLEAN: return fmt_bit(c->values, (uint64_t)r);
    case STROM_INT: return ((const int32_t *)c->values)[r];
    case STROM_BIGINT: case STROM_TIMESTAMP: return ((const int64_t *)c->values)[r];
    case STROM_FLOAT: return f64_to_int(((const float *)c->values)[r]);
    case STROM_DOUBLE: return f64_to_int(((const double *)c->values)[r]);
    default: return 0;
    }
}

double strom_batch_get_f64(const strom_batch *b, int col, int64_t r)
{
    const strom_column *c = cell(b, col, r);
    if (!c)
        return 0;
    if (c->type == STROM_FLOAT)
        return ((const float *)c->values)[r];
    if (c->type == STROM_DOUBLE)
        return ((const double *)c->values)[r];
    return fmt_type_is_var(c->type) ? 0 : (double)strom_batch_get_int(b, col, r);
}

const char *strom_batch_get_str(const strom_batch *b, int col, int64_t r, size_t *len)
{
    const strom_column *c = cell(b, col, r);
    *len = 0;
    if (!c || !fmt_type_is_var(c->type))
        return NULL;
    *len = (size_t)(c->offsets[r + 1] - c->offsets[r]);
    return (const char *)c->data + c->offsets[r];
}
