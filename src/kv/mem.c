/* mem.c: the row cache's memory on transparent huge pages (design in mem.h). */
#define _GNU_SOURCE
#include "mem.h"

#include <pthread.h>
#include <sched.h>
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

int kv_mem_set_ready(int n)
{
    (void)n;
    return 0;
}

#else

typedef struct free_block {
    struct free_block *next;
} free_block;

/* A chunk's header, in its first 64 bytes; its blocks follow, all of one class. */
typedef struct chunk {
    int cls;
    int partial;                 /* on its class's list of chunks with room */
    uint32_t live;               /* blocks handed out */
    uint8_t *bump;               /* never handed out: [bump, end of chunk) */
    free_block *free;            /* handed out and freed since */
    struct chunk *prev, *next;   /* the class's list of chunks with room */
} chunk;

_Static_assert(sizeof(chunk) <= LINE, "a chunk header fits one line");

/* Empty chunks kept for reuse by any class (beyond: unmapped); the filler thread keeps at
 * least READY of them mapped and faulted in once the arena is in use. */
#define POOL_MAX 8
#define READY 4
static int g_ready = READY;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;   /* the pool fell below READY */
static chunk *g_partial[NCLASS];
static chunk *g_pool[POOL_MAX];
static int g_npool;
static int g_filler;   /* the filler thread runs (in this process: reset after fork) */

static chunk *chunk_of(const void *p)
{
    return (chunk *)((uintptr_t)p & ~(uintptr_t)(KV_MEM_CHUNK - 1));
}

static uint8_t *chunk_end(chunk *ch) { return (uint8_t *)ch + KV_MEM_CHUNK; }

static void list_add(chunk *ch)
{
    ch->prev = NULL;
    ch->next = g_partial[ch->cls];
    if (ch->next)
        ch->next->prev = ch;
    g_partial[ch->cls] = ch;
    ch->partial = 1;
}

static void list_del(chunk *ch)
{
    if (ch->prev)
        ch->prev->next = ch->next;
    else
        g_partial[ch->cls] = ch->next;
    if (ch->next)
        ch->next->prev = ch->prev;
    ch->partial = 0;
}

/* Faults every page of a chunk in (a huge page's first write clears 2 MiB: on this
 * project's VM often over a millisecond, as the host backs fresh guest memory then). */
static void populate(uint8_t *a)
{
#ifdef MADV_POPULATE_WRITE
    if (madvise(a, KV_MEM_CHUNK, MADV_POPULATE_WRITE) == 0)
        return;
#endif
    for (size_t i = 0; i < KV_MEM_CHUNK; i += 4096)   /* older kernels */
        ((volatile uint8_t *)a)[i] = 0;
}

/* Maps a 2 MiB-aligned chunk marked for huge pages, faulted in. Called without g_mu (it
 * is slow). NULL on ENOMEM. */
static chunk *map_chunk(void)
{
    size_t len = 2 * KV_MEM_CHUNK;
    uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    uint8_t *a = (uint8_t *)(((uintptr_t)p + KV_MEM_CHUNK - 1) & ~(uintptr_t)(KV_MEM_CHUNK - 1));
    if (a > p)
        munmap(p, (size_t)(a - p));
    if (a + KV_MEM_CHUNK < p + len)
        munmap(a + KV_MEM_CHUNK, (size_t)(p + len - (a + KV_MEM_CHUNK)));
    (void)madvise(a, KV_MEM_CHUNK, MADV_HUGEPAGE);   /* a hint: 4 KiB pages otherwise */
    populate(a);
    __atomic_fetch_add(&g_mapped, KV_MEM_CHUNK, __ATOMIC_RELAXED);
    return (chunk *)a;
}

static void unmap_chunk(chunk *ch)
{
    munmap(ch, KV_MEM_CHUNK);
    __atomic_fetch_sub(&g_mapped, KV_MEM_CHUNK, __ATOMIC_RELAXED);
}

/* Puts an empty mapped chunk in the pool, or unmaps it if the pool is full (g_mu held). */
static void pool_put(chunk *ch)
{
    if (g_npool < POOL_MAX)
        g_pool[g_npool++] = ch;
    else
        unmap_chunk(ch);
}

/* The filler: maps chunks ahead of need, so a writer taking a chunk (under its cache
 * shard's write lock) rarely waits for page faults. */
static void *filler_main(void *arg)
{
    (void)arg;
    /* SCHED_IDLE: it runs when a core has nothing else to do (a writer waiting for its
     * fsync), so the page faults it takes ahead cost the writers no time of their own. */
    struct sched_param sp = {0};
    (void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
    (void)pthread_setname_np(pthread_self(), "strom-kvmem");
    pthread_mutex_lock(&g_mu);
    for (;;) {
        while (g_npool >= g_ready)
            pthread_cond_wait(&g_cv, &g_mu);
        pthread_mutex_unlock(&g_mu);
        chunk *ch = map_chunk();
        pthread_mutex_lock(&g_mu);
        if (!ch) {   /* ENOMEM: wait to be asked again */
            pthread_cond_wait(&g_cv, &g_mu);
            continue;
        }
        pool_put(ch);
    }
    return NULL;
}

/* Asks the filler for chunks, starting it the first time (g_mu held). Without a thread
 * (none could be started) the allocator maps its own. */
static void want_chunks(void)
{
    if (g_ready == 0)
        return;
    if (!g_filler) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        g_filler = pthread_create(&t, &a, filler_main, NULL) == 0;
        pthread_attr_destroy(&a);
    }
    pthread_cond_signal(&g_cv);
}

/* fork: the child has no filler thread and must not inherit g_mu locked by one. */
static void fork_prepare(void) { pthread_mutex_lock(&g_mu); }
static void fork_parent(void) { pthread_mutex_unlock(&g_mu); }
static void fork_child(void)
{
    g_filler = 0;
    pthread_cond_init(&g_cv, NULL);
    pthread_mutex_unlock(&g_mu);
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void mem_init(void) { pthread_atfork(fork_prepare, fork_parent, fork_child); }

/* A chunk of class c with room: the first on c's list, else one from the pool put on it
 * (g_mu held); NULL if there is none. */
static chunk *class_chunk(int c)
{
    if (g_partial[c])
        return g_partial[c];
    if (g_npool == 0)
        return NULL;
    chunk *ch = g_pool[--g_npool];
    if (g_npool < g_ready)
        want_chunks();
    *ch = (chunk){.cls = c, .bump = (uint8_t *)ch + LINE};
    list_add(ch);
    return ch;
}

/* An empty chunk goes back to the pool, or to the kernel when the pool is full. */
static void release_chunk(chunk *ch)
{
    list_del(ch);
    pool_put(ch);
}

static void *take(chunk *ch, size_t sz)
{
    void *p;
    if (ch->free) {
        p = ch->free;
        ch->free = ch->free->next;
    } else {
        p = ch->bump;
        ch->bump += sz;
    }
    ch->live++;
    if (!ch->free && (size_t)(chunk_end(ch) - ch->bump) < sz)
        list_del(ch);   /* full */
    return p;
}

int kv_mem_set_ready(int n)
{
    n = n < 0 ? 0 : n > POOL_MAX ? POOL_MAX : n;
    pthread_mutex_lock(&g_mu);
    int old = g_ready;
    g_ready = n;
    pthread_mutex_unlock(&g_mu);
    return old;
}

void *kv_mem_alloc(size_t n)
{
    if (n > KV_MEM_MAX)
        return malloc(n);
    int c = class_of(n ? n : 1);
    pthread_once(&g_once, mem_init);
    pthread_mutex_lock(&g_mu);
    chunk *ch = class_chunk(c);
    while (!ch) {   /* the pool is empty: map one here, outside the lock */
        want_chunks();
        pthread_mutex_unlock(&g_mu);
        chunk *m = map_chunk();
        pthread_mutex_lock(&g_mu);
        if (!m)
            break;
        pool_put(m);
        ch = class_chunk(c);
    }
    void *p = ch ? take(ch, class_size(c)) : NULL;
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
    chunk *ch = chunk_of(p);
    free_block *b = p;
    b->next = ch->free;
    ch->free = b;
    if (!ch->partial)
        list_add(ch);
    if (--ch->live == 0)
        release_chunk(ch);
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
