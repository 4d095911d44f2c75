/* mem.c: the row cache's memory on transparent huge pages (design in mem.h). */
#define _GNU_SOURCE
#include "mem.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#define KV_MEM_PLAIN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KV_MEM_PLAIN 1
#endif
#endif

#define LINE 64
#define SMALL_MAX ((size_t)8192)
#define NSMALL ((int)(SMALL_MAX / LINE))     /* classes 0..127: 64, 128, .., 8192 bytes */
#define NCLASS (NSMALL + 5)                  /* then 16, 32, 64, 128, 256 KiB */

static int class_of(size_t n)
{
    if (n <= SMALL_MAX)
        return (int)((n + LINE - 1) / LINE) - 1;
    int c = NSMALL;
    for (size_t sz = 2 * SMALL_MAX; sz < n; sz <<= 1)
        c++;
    return c;
}

static size_t class_size(int c)
{
    return c < NSMALL ? (size_t)(c + 1) * LINE : SMALL_MAX << (c - NSMALL + 1);
}

size_t kv_mem_size(size_t n)
{
    return n == 0 || n > KV_MEM_MAX ? n : class_size(class_of(n));
}

static size_t g_mapped;

size_t kv_mem_mapped(void) { return __atomic_load_n(&g_mapped, __ATOMIC_RELAXED); }

#ifdef KV_MEM_PLAIN

void *kv_mem_alloc(size_t n)
{
    return n > KV_MEM_MAX ? malloc(n) : aligned_alloc(LINE, kv_mem_size(n ? n : 1));
}

void kv_mem_free(void *p, size_t n)
{
    (void)n;
    free(p);
}

#else

typedef struct free_block {
    struct free_block *next;
} free_block;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static free_block *g_free[NCLASS];
static uint8_t *g_bump, *g_end;   /* the rest of the current chunk */

static void push(int c, void *p)
{
    free_block *b = p;
    b->next = g_free[c];
    g_free[c] = b;
}

/* Cuts [g_bump, g_end) into blocks of the largest classes that fit (every class size
 * and the rest are multiples of 64, so nothing is left over). */
static void retire_rest(void)
{
    for (int c = NCLASS - 1; c >= 0; c--)
        while ((size_t)(g_end - g_bump) >= class_size(c)) {
            push(c, g_bump);
            g_bump += class_size(c);
        }
}

/* Maps a 2 MiB-aligned chunk marked for huge pages. 0 on ENOMEM. */
static int new_chunk(void)
{
    size_t len = 2 * KV_MEM_CHUNK;
    uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 0;
    uint8_t *a = (uint8_t *)(((uintptr_t)p + KV_MEM_CHUNK - 1) & ~(uintptr_t)(KV_MEM_CHUNK - 1));
    if (a > p)
        munmap(p, (size_t)(a - p));
    if (a + KV_MEM_CHUNK < p + len)
        munmap(a + KV_MEM_CHUNK, (size_t)(p + len - (a + KV_MEM_CHUNK)));
    (void)madvise(a, KV_MEM_CHUNK, MADV_HUGEPAGE);   /* a hint: 4 KiB pages otherwise */
    retire_rest();
    g_bump = a;
    g_end = a + KV_MEM_CHUNK;
    __atomic_fetch_add(&g_mapped, KV_MEM_CHUNK, __ATOMIC_RELAXED);
    return 1;
}

void *kv_mem_alloc(size_t n)
{
    if (n > KV_MEM_MAX)
        return malloc(n);
    int c = class_of(n ? n : 1);
    size_t sz = class_size(c);
    void *p = NULL;
    pthread_mutex_lock(&g_mu);
    if (g_free[c]) {
        p = g_free[c];
        g_free[c] = g_free[c]->next;
    } else if ((size_t)(g_end - g_bump) >= sz || new_chunk()) {
        p = g_bump;
        g_bump += sz;
    }
    pthread_mutex_unlock(&g_mu);
    return p;
}

void kv_mem_free(void *p, size_t n)
{
    if (!p)
        return;
    if (n > KV_MEM_MAX) {
        free(p);
        return;
    }
    pthread_mutex_lock(&g_mu);
    push(class_of(n ? n : 1), p);
    pthread_mutex_unlock(&g_mu);
}

#endif

void *kv_mem_calloc(size_t n)
{
    void *p = kv_mem_alloc(n);
    if (p)
        memset(p, 0, kv_mem_size(n ? n : 1));
    return p;
}
