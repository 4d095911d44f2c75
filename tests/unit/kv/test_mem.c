/* test_mem.c: the row cache's memory (src/kv/mem.c) against what mem.h promises: a
 * block has at least the bytes asked for, in its size class, 64-byte aligned; live blocks
 * never overlap (each is filled with its own pattern and checked after every other
 * allocation and free, from two threads at once); the chunks one class empties serve
 * another without new mappings; empty chunks beyond the pool are unmapped. Under
 * AddressSanitizer the blocks are malloc'ed (no chunks): the arena-only checks are
 * skipped there, the others still run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kv/mem.h"

static void test_sizes(void **state)
{
    (void)state;
    size_t prev = 0;
    for (size_t n = 1; n <= KV_MEM_MAX; n += n < 20000 ? 1 : 997) {
        size_t s = kv_mem_size(n);
        assert_true(s >= n);
        assert_int_equal(s % 64, 0);
        assert_true(s >= prev);                      /* monotone */
        assert_int_equal(kv_mem_size(s), s);         /* a class size is its own class */
        if (n <= 8192)
            assert_true(s - n < 64);                 /* 64-byte steps up to 8 KiB */
        else
            assert_true(s < 2 * n);                  /* then powers of two */
        prev = s;
    }
    assert_int_equal(kv_mem_size(KV_MEM_MAX), KV_MEM_MAX);
    assert_int_equal(kv_mem_size(KV_MEM_MAX + 1), KV_MEM_MAX + 1);   /* malloc'ed */
}

static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return *s = x;
}

#define NLIVE 300

typedef struct blk {
    uint8_t *p;
    size_t n;
    uint8_t tag;
} blk;

static void fill(blk *b) { memset(b->p, b->tag, kv_mem_size(b->n)); }

static int intact(const blk *b)
{
    size_t sz = kv_mem_size(b->n);
    for (size_t i = 0; i < sz; i += 61)
        if (b->p[i] != b->tag)
            return 0;
    return b->p[sz - 1] == b->tag;
}

/* Random allocations and frees; every live block keeps its pattern. 0 on a failure. */
static void *churn(void *arg)
{
    uint64_t seed = (uintptr_t)arg;
    blk live[NLIVE] = {{0}};
    int ok = 1;
    for (int round = 0; round < 20000 && ok; round++) {
        blk *b = &live[rnd(&seed) % NLIVE];
        if (b->p) {
            ok = intact(b);
            kv_mem_free(b->p, b->n);
            b->p = NULL;
            continue;
        }
        uint64_t x = rnd(&seed);
        b->n = x % 8 == 0 ? 1 + (x >> 8) % (KV_MEM_MAX + 5000) : 1 + (x >> 8) % 700;
        b->p = kv_mem_alloc(b->n);
        b->tag = (uint8_t)(1 + x % 251);
        ok = b->p != NULL && (b->n > KV_MEM_MAX || (uintptr_t)b->p % 64 == 0);
        if (ok)
            fill(b);
    }
    for (int i = 0; i < NLIVE; i++) {
        ok = ok && (!live[i].p || intact(&live[i]));
        kv_mem_free(live[i].p, live[i].n);
    }
    return ok ? (void *)1 : NULL;
}

static void test_no_overlap_two_threads(void **state)
{
    (void)state;
    pthread_t th;
    void *r1 = NULL, *r2 = NULL;
    assert_int_equal(pthread_create(&th, NULL, churn, (void *)(uintptr_t)12345), 0);
    r2 = churn((void *)(uintptr_t)987654321);
    pthread_join(th, &r1);
    assert_non_null(r1);
    assert_non_null(r2);
}

static void test_zeroed(void **state)
{
    (void)state;
    uint8_t *p = kv_mem_alloc(1000);
    assert_non_null(p);
    memset(p, 0xAB, kv_mem_size(1000));
    kv_mem_free(p, 1000);
    uint8_t *q = kv_mem_calloc(1000);   /* likely the same block: must be zeroed again */
    assert_non_null(q);
    for (size_t i = 0; i < kv_mem_size(1000); i++)
        assert_int_equal(q[i], 0);
    kv_mem_free(q, 1000);
}

/* Arena only: the chunks a class empties serve another class without new mappings, and
 * chunks beyond the pool are given back. */
static void test_chunks_move_between_classes(void **state)
{
    (void)state;
    enum { N = 3000 };   /* 3000 blocks of 1 KiB: two chunks of one class */
    static void *a[N], *b[N];
    int ready = kv_mem_set_ready(0);   /* no filler: the pool's order is this thread's */
    void *probe = kv_mem_alloc(100);
    assert_non_null(probe);
    kv_mem_free(probe, 100);
    if (kv_mem_mapped() == 0) {   /* AddressSanitizer: malloc'ed blocks, no chunks */
        kv_mem_set_ready(ready);
        skip();
    }
    for (int i = 0; i < N; i++)
        assert_non_null(a[i] = kv_mem_alloc(1024));
    uintptr_t mask = ~(uintptr_t)(KV_MEM_CHUNK - 1), used[8];
    int nused = 0;
    for (int i = 0; i < N; i++) {
        int k = 0;
        while (k < nused && used[k] != ((uintptr_t)a[i] & mask))
            k++;
        if (k == nused && nused < 8)
            used[nused++] = (uintptr_t)a[i] & mask;
    }
    assert_true(nused >= 2 && nused <= 3);
    for (int i = 0; i < N; i++)
        kv_mem_free(a[i], 1024);
    /* The same bytes in another class (1088-byte blocks) come from the chunks the 1024-byte
     * blocks emptied (the pool hands out the last returned first). With free lists per
     * class over shared chunks they would come from new memory. */
    int m = N * 1024 / 1088 - 64;
    for (int i = 0; i < m; i++) {
        assert_non_null(b[i] = kv_mem_alloc(1088));
        int k = 0;
        while (k < nused && used[k] != ((uintptr_t)b[i] & mask))
            k++;
        assert_true(k < nused);
    }
    for (int i = 0; i < m; i++)
        kv_mem_free(b[i], 1088);
    /* Twenty chunks' worth freed at once: the pool keeps 8 empty chunks, the rest go. */
    static void *c[20 * 8];
    for (int i = 0; i < 20 * 8; i++)
        assert_non_null(c[i] = kv_mem_alloc(KV_MEM_MAX));   /* 7 per chunk */
    size_t peak = kv_mem_mapped();
    for (int i = 0; i < 20 * 8; i++)
        kv_mem_free(c[i], KV_MEM_MAX);
    assert_true(kv_mem_mapped() + 10 * KV_MEM_CHUNK <= peak);
    assert_true(kv_mem_mapped() >= 8 * KV_MEM_CHUNK);
    kv_mem_set_ready(ready);
}

/* Arena only: with the filler on, taking pooled chunks makes it map new ones, faulted in,
 * until 4 are ready again (checked by the mapped bytes, waiting up to 30 s on a loaded
 * machine: the filler runs at idle priority). */
static void test_filler_refills(void **state)
{
    (void)state;
    kv_mem_set_ready(4);
    enum { N = 8 * 7 };
    static void *c[N];
    for (int i = 0; i < N; i++)   /* 8 chunks of 256 KiB blocks: empties the pool */
        assert_non_null(c[i] = kv_mem_alloc(KV_MEM_MAX));
    if (kv_mem_mapped() == 0)
        skip();
    size_t live = 8 * KV_MEM_CHUNK;
    int ok = 0;
    for (int t = 0; t < 3000 && !ok; t++) {
        ok = kv_mem_mapped() >= live + 4 * KV_MEM_CHUNK;
        if (!ok)
            usleep(10000);
    }
    assert_true(ok);
    for (int i = 0; i < N; i++)
        kv_mem_free(c[i], KV_MEM_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunks_move_between_classes),
        cmocka_unit_test(test_filler_refills),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_no_overlap_two_threads),
        cmocka_unit_test(test_zeroed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
