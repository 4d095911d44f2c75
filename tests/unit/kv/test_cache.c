/* test_cache.c: the row cache (src/kv/cache.c) against a reference model: a plain array
 * of the current value per key, driven by the same random puts, deletes and lookups.
 * Checked: with room for everything a lookup always hits with the model's value (and
 * misses a deleted key); under a small budget a hit is never stale and the entries stay
 * within the budget; CLOCK keeps an entry that is hit between evictions; a fill after a
 * concurrent write is refused (the ticket); a WriteBatch applies only its 'r' keys and a
 * range delete clears the cache; two readers with a writer see only whole values; AS OF
 * from an entry's history (kv_cache_get_asof) against a model of every version of a few
 * keys written as the write path writes them (out-of-order times, deletes, a version key
 * removed, fills, the history bounds, a tiny budget). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/cache.h"
#include "kv/kv.h"

#define NKEYS 5000
#define MAXV 300

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

/* Key i: 'r' + 8 bytes + "key-<i>" (the shape of a row key). */
static size_t make_key(int i, uint8_t *k)
{
    memset(k, 0, 9);
    k[0] = 0x72;
    k[1] = (uint8_t)(i * 37);
    return 9 + (size_t)sprintf((char *)k + 9, "key-%d", i);
}

/* Value: length n, every byte = version (so a torn value is visible). */
static size_t make_val(uint8_t ver, size_t n, uint8_t *v)
{
    memset(v, ver, n);
    return n;
}

typedef struct mval {
    int present;
    uint8_t ver;
    size_t len;
} mval;

typedef struct got {
    uint8_t buf[MAXV];
    size_t len;
} got;

static strom_err copy_cb(void *arg, const uint8_t *v, size_t vlen)
{
    got *g = arg;
    assert_true(vlen <= MAXV);
    memcpy(g->buf, v, vlen);
    g->len = vlen;
    return STROM_OK;
}

/* Looks key i up; returns 1 on a hit (value in g), 0 on a miss. */
static int get(kv_cache *c, int i, got *g, uint64_t *ticket)
{
    uint8_t k[32];
    size_t kl = make_key(i, k);
    strom_err e = STROM_OK;
    uint64_t tk = 0;
    int hit = kv_cache_get(c, k, kl, kv_cache_hash(k, kl), copy_cb, g, &e, &tk);
    assert_int_equal(e, STROM_OK);
    if (ticket)
        *ticket = tk;
    return hit;
}

static void put(kv_cache *c, int i, uint8_t ver, size_t n)
{
    uint8_t k[32], v[MAXV];
    size_t kl = make_key(i, k);
    kv_cache_put(c, k, kl, v, make_val(ver, n, v));
}

static void del(kv_cache *c, int i)
{
    uint8_t k[32];
    kv_cache_del(c, k, make_key(i, k));
}

static void same(const got *g, const mval *m)
{
    assert_true(m->present);
    assert_int_equal(g->len, m->len);
    for (size_t j = 0; j < g->len; j++)
        assert_int_equal(g->buf[j], m->ver);
}

/* Random operations; full: the budget holds everything (every lookup must hit). */
static void run_model(kv_cache *c, int nops, int full)
{
    mval *m = calloc(NKEYS, sizeof *m);
    got g;
    for (int op = 0; op < nops; op++) {
        int i = (int)(rnd() % NKEYS), what = (int)(rnd() % 10);
        if (what < 5) {
            m[i] = (mval){1, (uint8_t)(1 + rnd() % 250), 1 + rnd() % (MAXV - 1)};
            put(c, i, m[i].ver, m[i].len);
        } else if (what < 7) {
            m[i].present = 0;
            del(c, i);
        } else if (get(c, i, &g, NULL)) {
            same(&g, &m[i]);
        } else {
            assert_false(full && m[i].present);
        }
    }
    int64_t entries, bytes;
    kv_cache_usage(c, &entries, &bytes);
    int64_t present = 0;
    for (int i = 0; i < NKEYS; i++)
        present += m[i].present;
    if (full)
        assert_int_equal(entries, present);
    free(m);
}

static void test_model_full(void **state)
{
    (void)state;
    kv_cache *c = kv_cache_create();
    assert_non_null(c);
    run_model(c, 200000, 1);
    kv_cache_destroy(c);
    assert_int_equal(kv_cache_used(), 0);
}

static void test_model_small_budget(void **state)
{
    (void)state;
    size_t budget = 200000;   /* ~1000 entries of ~200 bytes for 5000 keys */
    size_t old = kv_cache_set_budget(budget);
    kv_cache *c = kv_cache_create();
    run_model(c, 200000, 0);
    int64_t entries, bytes;
    kv_cache_usage(c, &entries, &bytes);
    assert_true(bytes <= (int64_t)budget);
    assert_true(entries > 10);   /* it still caches */
    kv_cache_destroy(c);
    kv_cache_set_budget(old);
}

/* An entry hit between evictions survives a stream of new keys (CLOCK second chance);
 * budget 0 caches nothing. */
static void test_clock_keeps_hot(void **state)
{
    (void)state;
    size_t old = kv_cache_set_budget(100 * 400);
    kv_cache *c = kv_cache_create();
    got g;
    put(c, 0, 9, 200);
    for (int i = 1; i < 20000; i++) {
        put(c, i % NKEYS == 0 ? 1 : i, 1, 200);
        assert_true(get(c, 0, &g, NULL));
        assert_int_equal(g.len, 200);
        assert_int_equal(g.buf[0], 9);
    }
    kv_cache_set_budget(0);
    kv_cache_clear(c);
    put(c, 5, 1, 10);
    assert_false(get(c, 5, &g, NULL));
    kv_cache_destroy(c);
    kv_cache_set_budget(old);
}

/* A fill carries the ticket of its miss: a write in between makes it a no-op. */
static void test_fill_ticket(void **state)
{
    (void)state;
    kv_cache *c = kv_cache_create();
    uint8_t k[32], v[MAXV];
    size_t kl = make_key(7, k);
    uint64_t h = kv_cache_hash(k, kl), t;
    got g;
    assert_false(get(c, 7, &g, &t));
    kv_cache_fill(c, t, k, kl, h, v, make_val(1, 50, v));
    assert_true(get(c, 7, &g, NULL));
    assert_int_equal(g.buf[0], 1);
    del(c, 7);
    assert_false(get(c, 7, &g, &t));   /* reader read RocksDB (old value 1) ... */
    put(c, 7, 2, 60);                  /* ... a writer applied value 2 meanwhile */
    kv_cache_fill(c, t, k, kl, h, v, make_val(1, 50, v));
    assert_true(get(c, 7, &g, NULL));
    assert_int_equal(g.buf[0], 2);
    assert_int_equal(g.len, 60);
    del(c, 7);
    assert_false(get(c, 7, &g, &t));
    del(c, 8);                         /* any write to the shard refuses the fill */
    uint8_t k8[32];
    size_t kl8 = make_key(8, k8);
    if (kv_cache_hash(k8, kl8) >> 58 == h >> 58) {
        kv_cache_fill(c, t, k, kl, h, v, make_val(1, 50, v));
        assert_false(get(c, 7, &g, NULL));
    }
    kv_cache_destroy(c);
}

/* kv_cache_apply: 'r' puts and deletes apply, other key spaces do not; a range delete
 * (an operation the walk cannot see) clears the cache. */
static void test_apply_writebatch(void **state)
{
    (void)state;
    kv_cache *c = kv_cache_create();
    uint8_t k[32], v[MAXV];
    got g;
    put(c, 1, 1, 10);
    put(c, 2, 1, 10);
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    size_t kl = make_key(1, k);
    rocksdb_writebatch_put(wb, (char *)k, kl, (char *)v, make_val(5, 30, v));
    kl = make_key(2, k);
    rocksdb_writebatch_delete(wb, (char *)k, kl);
    kl = make_key(3, k);
    k[0] = 'v';   /* a version key: not a row */
    rocksdb_writebatch_put(wb, (char *)k, kl, (char *)v, 30);
    rocksdb_writebatch_put(wb, "\x6D" "checkpoint", 11, "12345678", 8);
    kv_cache_apply(c, wb);
    assert_true(get(c, 1, &g, NULL));
    assert_int_equal(g.len, 30);
    assert_int_equal(g.buf[0], 5);
    assert_false(get(c, 2, &g, NULL));
    assert_false(get(c, 3, &g, NULL));
    int64_t entries, bytes;
    kv_cache_usage(c, &entries, &bytes);
    assert_int_equal(entries, 1);
    rocksdb_writebatch_clear(wb);
    rocksdb_writebatch_delete_range(wb, "\x72", 1, "\x73", 1);
    kv_cache_apply(c, wb);
    assert_false(get(c, 1, &g, NULL));
    rocksdb_writebatch_destroy(wb);
    kv_cache_destroy(c);
}

/* Two readers and a writer: every hit is a whole value of some version (ASan: no use
 * after free of replaced or evicted entries). */
typedef struct conc {
    kv_cache *c;
    volatile int stop;
    int64_t hits, torn;
} conc;

static void *conc_reader(void *arg)
{
    conc *x = arg;
    uint64_t s = (uint64_t)(uintptr_t)arg | 1;
    got g;
    while (!x->stop) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        if (!get(x->c, (int)(s % 64), &g, NULL))
            continue;
        __atomic_fetch_add(&x->hits, 1, __ATOMIC_RELAXED);
        int torn = g.len < 1 || g.len != (size_t)g.buf[0];
        for (size_t j = 0; j < g.len; j++)
            torn |= g.buf[j] != g.buf[0];
        x->torn += torn;
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    size_t old = kv_cache_set_budget(40 * 300);   /* evictions too */
    conc x[2] = {{kv_cache_create(), 0, 0, 0}, {NULL, 0, 0, 0}};
    x[1].c = x[0].c;
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, conc_reader, &x[i]), 0);
    /* 200,000 writes, and more until a reader has hit (on a loaded machine the readers
     * may not have run at all before the 200,000th) */
    for (int n = 0; n < 200000 || (__atomic_load_n(&x[0].hits, __ATOMIC_RELAXED) +
                                    __atomic_load_n(&x[1].hits, __ATOMIC_RELAXED) == 0 &&
                                    n < 200000000); n++) {
        int i = (int)(rnd() % 64);
        uint8_t ver = (uint8_t)(1 + rnd() % 250);
        if (rnd() % 5 == 0)
            del(x[0].c, i);
        else
            put(x[0].c, i, ver, ver);   /* length = version byte */
    }
    x[0].stop = x[1].stop = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_true(x[0].hits + x[1].hits > 0);
    assert_int_equal(x[0].torn + x[1].torn, 0);
    kv_cache_destroy(x[0].c);
    kv_cache_set_budget(old);
}

/* ------------------------------------------------------- AS OF history */

#define HN 6            /* keys */
#define HV 400          /* versions per key at most */

/* A key's versions as the state holds them: the 'v' keys (time -> id, -1 a delete) and
 * the current row (id, vtime; newest). Ids name values. */
typedef struct hkey {
    int n;
    int64_t t[HV];
    int id[HV];
    int present, cur_id;
    int64_t cur_t, newest;
} hkey;

/* A row value: header with the times, then the id (4 bytes). */
static size_t hval(uint8_t *v, int id, int64_t vt, int64_t newest)
{
    memset(v, 0, KV_ROW_HDR);
    v[0] = KV_ROW_VERSION;
    kv_row_set_times(v, &(kv_times){0, vt, newest});
    memcpy(v + KV_ROW_HDR, &id, 4);
    return KV_ROW_HDR + 4;
}

/* The version key of key i at time t (kv.h layout). */
static size_t hvkey(int i, int64_t t, uint8_t *k)
{
    size_t n = make_key(i, k);
    k[0] = 0x76;
    uint64_t x = ~((uint64_t)t ^ ((uint64_t)1 << 63));
    for (int j = 0; j < 8; j++)
        k[n + (size_t)j] = (uint8_t)(x >> (56 - 8 * j));
    return n + 8;
}

/* The key's 'v' entry at time t (replacing one of the same time) into wb and the model. */
static void hput_version(rocksdb_writebatch_t *wb, hkey *m, int i, int64_t t, int id)
{
    uint8_t k[48], v[64];
    size_t kl = hvkey(i, t, k), vl = id < 0 ? 0 : hval(v, id, t, m->newest);
    rocksdb_writebatch_put(wb, (char *)k, kl, (char *)v, vl);
    for (int j = 0; j < m->n; j++)
        if (m->t[j] == t) {
            m->id[j] = id;
            return;
        }
    assert_true(m->n < HV);
    m->t[m->n] = t;
    m->id[m->n++] = id;
}

/* Model AS OF T: the id of the newest version at or before T (the current row wins a
 * tie); -1 for none or a delete. */
static int hexpect(const hkey *m, int64_t T)
{
    int64_t bt = INT64_MIN;
    int best = -1, any = 0;
    for (int j = 0; j < m->n; j++)
        if (m->t[j] <= T && (!any || m->t[j] > bt)) {
            bt = m->t[j];
            best = m->id[j];
            any = 1;
        }
    if (m->present && m->cur_t <= T && (!any || m->cur_t >= bt))
        best = m->cur_id;
    return best;
}

typedef struct hgot {
    int found, id;
} hgot;

static strom_err hget_cb(void *arg, const uint8_t *v, size_t vlen)
{
    hgot *g = arg;
    g->found = v != NULL;
    if (v) {
        assert_int_equal(vlen, KV_ROW_HDR + 4);
        memcpy(&g->id, v + KV_ROW_HDR, 4);
    }
    return STROM_OK;
}

/* One write of key i as the write path makes it: the superseded row to its version key
 * (unless the new change has its time), a delete's tombstone, the row key last in the
 * batch's key order ('r' before 'v', as RocksDB sorts them). */
static void hwrite(kv_cache *c, hkey *m, int i, int del, int64_t t, int id)
{
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    uint8_t k[48], v[64];
    size_t kl = make_key(i, k);
    m->newest = t > m->newest ? t : m->newest;
    if (del) {
        rocksdb_writebatch_delete(wb, (char *)k, kl);
    } else {
        rocksdb_writebatch_put(wb, (char *)k, kl, (char *)v, hval(v, id, t, m->newest));
    }
    if (m->present && m->cur_t != t)
        hput_version(wb, m, i, m->cur_t, m->cur_id);
    if (del)
        hput_version(wb, m, i, t, -1);
    m->present = !del;
    m->cur_t = t;
    m->cur_id = id;
    kv_cache_apply(c, wb);
    rocksdb_writebatch_destroy(wb);
}

/* Random writes, fills, version-key removals; after each, AS OF of every key at random
 * times: an answer from the cache equals the model. Returns the answers compared. */
static int64_t hrun(kv_cache *c, int steps)
{
    static hkey m[HN];
    memset(m, 0, sizeof m);
    int64_t clock = 1000, answered = 0;
    int id = 0;
    for (int step = 0; step < steps; step++) {
        int i = (int)(rnd() % HN), x = (int)(rnd() % 20);
        hkey *k = &m[i];
        clock += 1 + (int64_t)(rnd() % 5);
        if (k->n + 2 >= HV)
            continue;
        if (x == 0 && k->present) {
            hwrite(c, k, i, 1, clock, -1);
        } else if (x == 1 && k->present) {   /* a read fill of the current row */
            uint8_t key[48], v[64];
            size_t kl = make_key(i, key);
            kv_cache_del(c, key, kl);
            uint64_t h = kv_cache_hash(key, kl), tk = 0;
            strom_err e;
            hgot g;
            assert_false(kv_cache_get(c, key, kl, h, hget_cb, &g, &e, &tk));
            kv_cache_fill(c, tk, key, kl, h, v, hval(v, k->cur_id, k->cur_t, k->newest));
        } else if (x == 2 && k->n > 0) {   /* a version key removed */
            int j = (int)(rnd() % (uint64_t)k->n);
            uint8_t vk[48];
            rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
            rocksdb_writebatch_delete(wb, (char *)vk, hvkey(i, k->t[j], vk));
            k->t[j] = k->t[--k->n];
            k->id[j] = k->id[k->n];
            kv_cache_apply(c, wb);
            rocksdb_writebatch_destroy(wb);
        } else {   /* an upsert: in order, or late (x < 6), or at the current time */
            int64_t t = x < 6 ? clock - (int64_t)(rnd() % 60) : x == 6 ? k->cur_t : clock;
            hwrite(c, k, i, 0, t, ++id);
        }
        for (int j = 0; j < HN; j++) {
            uint8_t key[48];
            size_t kl = make_key(j, key);
            int64_t T = rnd() % 4 == 0 ? INT64_MAX : clock - (int64_t)(rnd() % (rnd() % 2 ? 80 : 400));
            hgot g = {0, 0};
            strom_err e = STROM_OK;
            if (!kv_cache_get_asof(c, key, kl, kv_cache_hash(key, kl), T, hget_cb, &g, &e))
                continue;
            int want = hexpect(&m[j], T);
            if ((want >= 0) != g.found || (g.found && g.id != want))
                fail_msg("step %d key %d AS OF %lld: id %d (found %d), expected %d", step, j,
                         (long long)T, g.id, g.found, want);
            answered++;
        }
    }
    return answered;
}

static void test_history_model(void **state)
{
    (void)state;
    size_t used = kv_cache_used();
    kv_cache *c = kv_cache_create();
    assert_true(hrun(c, 3000) > 3000);   /* the cache answered often */
    kv_cache_destroy(c);
    size_t old = kv_cache_set_budget(used + 60000);   /* a tiny budget: evictions */
    c = kv_cache_create();
    assert_true(hrun(c, 2000) > 0);
    kv_cache_destroy(c);
    kv_cache_set_budget(old);
    assert_int_equal(kv_cache_used(), used);   /* every charge given back */
}

/* A version larger than the history's byte bound: the entry forgets its history (no AS
 * OF before its current row, the newest version, which re-arms it at its time); the
 * next writes add to the history from there. */
static void test_history_too_big(void **state)
{
    (void)state;
    kv_cache *c = kv_cache_create();
    uint8_t k[48], v[64], vk[48];
    static uint8_t big[KV_CACHE_HIST_BYTES + 100];
    size_t kl = make_key(1, k);
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    rocksdb_writebatch_put(wb, (char *)k, kl, (char *)v, hval(v, 1, 100, 100));
    kv_cache_apply(c, wb);
    rocksdb_writebatch_clear(wb);
    rocksdb_writebatch_put(wb, (char *)k, kl, (char *)v, hval(v, 2, 200, 200));
    memset(big, 0, sizeof big);
    hval(big, 1, 100, 100);
    rocksdb_writebatch_put(wb, (char *)vk, hvkey(1, 100, vk), (char *)big, sizeof big);
    kv_cache_apply(c, wb);
    hgot g = {0, 0};
    strom_err e = STROM_OK;
    uint64_t h = kv_cache_hash(k, kl);
    assert_false(kv_cache_get_asof(c, k, kl, h, 150, hget_cb, &g, &e));
    assert_true(kv_cache_get_asof(c, k, kl, h, 250, hget_cb, &g, &e));
    assert_int_equal(g.id, 2);
    rocksdb_writebatch_clear(wb);
    rocksdb_writebatch_put(wb, (char *)k, kl, (char *)v, hval(v, 3, 300, 300));
    rocksdb_writebatch_put(wb, (char *)vk, hvkey(1, 200, vk), (char *)v, hval(v, 2, 200, 200));
    kv_cache_apply(c, wb);
    assert_true(kv_cache_get_asof(c, k, kl, h, 350, hget_cb, &g, &e));
    assert_int_equal(g.id, 3);
    assert_true(kv_cache_get_asof(c, k, kl, h, 250, hget_cb, &g, &e));
    assert_int_equal(g.id, 2);
    assert_false(kv_cache_get_asof(c, k, kl, h, 199, hget_cb, &g, &e));
    rocksdb_writebatch_destroy(wb);
    kv_cache_destroy(c);
}

/* Completeness (cache.h): set on an empty cache, kept by puts and by deletes of rows,
 * lost for good by an eviction (in the evicting shard, then everywhere once all are
 * swept) and by a clear. */
static int all_complete(kv_cache *c, int n)
{
    int all = 1;
    for (int i = 0; i < n; i++) {
        uint8_t k[32];
        size_t kl = make_key(i, k);
        all &= kv_cache_complete(c, kv_cache_hash(k, kl));
    }
    return all;
}

static void test_complete(void **state)
{
    (void)state;
    kv_cache *c = kv_cache_create();
    assert_false(all_complete(c, 200));   /* a new cache knows nothing */
    kv_cache_set_complete(c);
    for (int i = 0; i < 200; i++)
        put(c, i, 1, 100);
    for (int i = 0; i < 200; i += 3)
        del(c, i);
    put(c, 1, 2, 200);   /* a bigger value: the entry is moved */
    assert_true(all_complete(c, 200));
    size_t old = kv_cache_set_budget(kv_cache_used() + 300);   /* room for ~1 more row */
    for (int i = 200; i < 260; i++)
        put(c, i, 1, 100);
    assert_false(all_complete(c, 260));
    kv_cache_set_budget(old);
    kv_cache_set_complete(c);
    kv_cache_clear(c);
    assert_false(all_complete(c, 1) || all_complete(c, 200));
    kv_cache_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_full),
        cmocka_unit_test(test_model_small_budget),
        cmocka_unit_test(test_clock_keeps_hot),
        cmocka_unit_test(test_fill_ticket),
        cmocka_unit_test(test_apply_writebatch),
        cmocka_unit_test(test_concurrent),
        cmocka_unit_test(test_history_model),
        cmocka_unit_test(test_history_too_big),
        cmocka_unit_test(test_complete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
