/* test_mem.c: the row cache's memory (src/kv/mem.c) against what mem.h promises: a
 * block has at least the bytes asked for, in its size class, 64-byte aligned; live blocks
 * never overlap (each is filled with its own pattern and checked after every other
 * allocation and free, from two threads at once); a freed block is the next one of its
 * class; the rest of a chunk that cannot hold a block serves smaller classes. Under
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

/* Arena only: a freed block is the next of its class; a chunk's rest is not lost. */
static void test_reuse_and_rest(void **state)
{
    (void)state;
    void *probe = kv_mem_alloc(100);
    assert_non_null(probe);
    if (kv_mem_mapped() == 0) {   /* AddressSanitizer: malloc'ed blocks, no chunks */
        kv_mem_free(probe, 100);
        skip();
    }
    kv_mem_free(probe, 100);
    assert_ptr_equal(kv_mem_alloc(128), probe);   /* 100 and 128: one class */
    kv_mem_free(probe, 128);

    /* Fill chunks with 256 KiB blocks until one more forces a new chunk... */
    void *big[64];
    int nbig = 0;
    size_t before = kv_mem_mapped();
    while (nbig < 64 && kv_mem_mapped() == before)
        assert_non_null(big[nbig++] = kv_mem_alloc(KV_MEM_MAX));
    assert_true(kv_mem_mapped() > before);
    /* ...the old chunk's rest (after its last 256 KiB block, bump-allocated one after
     * another) was cut into blocks, the largest first: the next block of the largest class
     * that fits the rest is the rest's start. Run first in the process, the rest is
     * 256 KiB - 128 (the probe's block, then seven 256 KiB blocks). */
    size_t mapped = kv_mem_mapped();
    int checked = 0;
    if (nbig >= 3 && (uint8_t *)big[nbig - 2] == (uint8_t *)big[nbig - 3] + KV_MEM_MAX) {
        uint8_t *rest = (uint8_t *)big[nbig - 2] + KV_MEM_MAX;
        uint8_t *end = (uint8_t *)(((uintptr_t)big[nbig - 2] & ~(uintptr_t)(KV_MEM_CHUNK - 1)) +
                                   KV_MEM_CHUNK);
        size_t r = (size_t)(end - rest), c = 64;
        while (c < r && kv_mem_size(c + 1) <= r)
            c = kv_mem_size(c + 1);
        if (r >= 64) {
            void *p = kv_mem_alloc(c);
            assert_ptr_equal(p, rest);
            kv_mem_free(p, c);
            checked = 1;
        }
    }
    assert_true(checked);
    for (int i = 0; i < nbig; i++)
        kv_mem_free(big[i], KV_MEM_MAX);
    /* The freed 256 KiB blocks serve the next ones: no new chunk. */
    for (int i = 0; i < nbig; i++)
        assert_non_null(big[i] = kv_mem_alloc(KV_MEM_MAX));
    assert_int_equal(kv_mem_mapped(), mapped);
    for (int i = 0; i < nbig; i++)
        kv_mem_free(big[i], KV_MEM_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_and_rest),   /* first: it reasons about fresh chunks */
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_no_overlap_two_threads),
        cmocka_unit_test(test_zeroed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
