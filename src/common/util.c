/* util.c: hashing, clocks, varints, buffers and allocation helpers. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <xxhash.h>

uint64_t strom_hash64(const void *data, size_t len) { return XXH3_64bits(data, len); }

uint64_t strom_hash64_seed(const void *data, size_t len, uint64_t seed)
{
    return XXH3_64bits_withSeed(data, len, seed);
}

int64_t strom_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t strom_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

size_t strom_put_uvarint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

size_t strom_get_uvarint(const uint8_t *p, size_t len, uint64_t *v)
{
    uint64_t r = 0;
    for (size_t i = 0; i < len && i < 10; i++) {
        r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            if (i == 9 && p[i] > 1)
                return 0; /* overflows 64 bits */
            *v = r;
            return i + 1;
        }
    }
    return 0;
}

void *strom_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        strom_fail(STROM_ENOMEM, "out of memory allocating %zu bytes", n);
    return p;
}

void *strom_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        strom_fail(STROM_ENOMEM, "out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

void *strom_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        strom_fail(STROM_ENOMEM, "out of memory growing to %zu bytes", n);
    return q;
}

char *strom_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = strom_malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

void strom_buf_init(strom_buf *b) { memset(b, 0, sizeof *b); }

void strom_buf_free(strom_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

strom_err strom_buf_reserve(strom_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return STROM_OK;
    size_t need = b->len + extra, cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap < ((size_t)1 << 62) ? cap * 2 : need;
    uint8_t *d = strom_realloc(b->data, cap);
    if (!d)
        return STROM_ENOMEM;
    b->data = d;
    b->cap = cap;
    return STROM_OK;
}

strom_err strom_buf_append(strom_buf *b, const void *p, size_t n)
{
    if (strom_buf_reserve(b, n) != STROM_OK)
        return STROM_ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return STROM_OK;
}

uint8_t *strom_buf_grow(strom_buf *b, size_t n)
{
    if (strom_buf_reserve(b, n) != STROM_OK)
        return NULL;
    uint8_t *p = b->data + b->len;
    b->len += n;
    return p;
}

strom_err strom_path(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap)
        return strom_fail(STROM_EINVAL, "path too long (limit %zu bytes): %.80s...", cap - 1, out);
    return STROM_OK;
}
