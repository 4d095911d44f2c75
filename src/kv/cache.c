/* cache.c: the row cache (design in cache.h). */
#include "cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NSHARDS 64
#define SHARD_OF(h) ((unsigned)((h) >> 58))
#define INIT_SLOTS 64
/* Charged per entry besides its allocation: malloc's header and the slot share. */
#define OVERHEAD 24

typedef struct entry {
    struct entry *next;
    uint64_t h;
    uint32_t klen, vlen, cap;   /* cap: bytes for key + value after the header */
    uint8_t ref;                /* CLOCK reference bit (set by hits, relaxed atomics) */
    uint8_t data[];             /* key, then value */
} entry;

typedef struct shard {
    pthread_rwlock_t lock;
    entry **slots;
    size_t nslots;              /* power of two */
    size_t count;
    size_t hand;                /* CLOCK hand: a slot index */
    uint64_t gen;               /* bumped by every put / del / clear */
    char pad[64];
} shard;

struct kv_cache {
    shard sh[NSHARDS];
};

static size_t g_budget = KV_CACHE_DEFAULT_BUDGET;
static size_t g_used;

size_t kv_cache_set_budget(size_t bytes)
{
    return __atomic_exchange_n(&g_budget, bytes, __ATOMIC_RELAXED);
}

size_t kv_cache_used(void) { return __atomic_load_n(&g_used, __ATOMIC_RELAXED); }

static size_t charge(const entry *e) { return sizeof *e + e->cap + OVERHEAD; }

/* ------------------------------------------------------------ life cycle */

kv_cache *kv_cache_create(void)
{
    kv_cache *c = strom_calloc(1, sizeof *c);
    for (int i = 0; c && i < NSHARDS; i++) {
        shard *s = &c->sh[i];
        pthread_rwlock_init(&s->lock, NULL);
        s->nslots = INIT_SLOTS;
        s->slots = strom_calloc(INIT_SLOTS, sizeof *s->slots);
        if (!s->slots) {
            for (int j = i; j < NSHARDS; j++)   /* destroy skips nslots == 0 */
                c->sh[j].nslots = 0;
            pthread_rwlock_destroy(&s->lock);
            kv_cache_destroy(c);
            return NULL;
        }
    }
    return c;
}

static void shard_clear(shard *s)
{
    for (size_t i = 0; i < s->nslots; i++) {
        for (entry *e = s->slots[i], *n; e; e = n) {
            n = e->next;
            __atomic_fetch_sub(&g_used, charge(e), __ATOMIC_RELAXED);
            free(e);
        }
        s->slots[i] = NULL;
    }
    s->count = 0;
    s->gen++;
}

void kv_cache_destroy(kv_cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < NSHARDS; i++) {
        shard *s = &c->sh[i];
        if (s->nslots == 0)
            continue;
        shard_clear(s);
        __atomic_fetch_sub(&g_used, (s->nslots - INIT_SLOTS) * sizeof *s->slots, __ATOMIC_RELAXED);
        free(s->slots);
        pthread_rwlock_destroy(&s->lock);
    }
    free(c);
}

void kv_cache_clear(kv_cache *c)
{
    for (int i = 0; i < NSHARDS; i++) {
        pthread_rwlock_wrlock(&c->sh[i].lock);
        shard_clear(&c->sh[i]);
        pthread_rwlock_unlock(&c->sh[i].lock);
    }
}

void kv_cache_usage(kv_cache *c, int64_t *entries, int64_t *bytes)
{
    *entries = *bytes = 0;
    for (int i = 0; i < NSHARDS; i++) {
        shard *s = &c->sh[i];
        pthread_rwlock_rdlock(&s->lock);
        *entries += (int64_t)s->count;
        for (size_t j = 0; j < s->nslots; j++)
            for (entry *e = s->slots[j]; e; e = e->next)
                *bytes += (int64_t)charge(e);
        pthread_rwlock_unlock(&s->lock);
    }
}

/* --------------------------------------------------------------- lookup */

/* The link pointing at k's entry (or at the NULL ending its chain). */
static entry **find(shard *s, const uint8_t *k, size_t klen, uint64_t h)
{
    entry **p = &s->slots[h & (s->nslots - 1)];
    for (; *p; p = &(*p)->next)
        if ((*p)->h == h && (*p)->klen == klen && !memcmp((*p)->data, k, klen))
            return p;
    return p;
}

int kv_cache_get(kv_cache *c, const uint8_t *k, size_t klen, uint64_t h, kv_cache_fn fn,
                 void *arg, strom_err *err, uint64_t *ticket)
{
    shard *s = &c->sh[SHARD_OF(h)];
    pthread_rwlock_rdlock(&s->lock);
    entry *e = *find(s, k, klen, h);
    if (e) {
        if (!__atomic_load_n(&e->ref, __ATOMIC_RELAXED))
            __atomic_store_n(&e->ref, 1, __ATOMIC_RELAXED);
        *err = fn(arg, e->data + e->klen, e->vlen);
    } else {
        *ticket = s->gen;
    }
    pthread_rwlock_unlock(&s->lock);
    return e != NULL;
}

/* ---------------------------------------------------------------- writes */

static void unlink_free(shard *s, entry **p)
{
    entry *e = *p;
    *p = e->next;
    s->count--;
    __atomic_fetch_sub(&g_used, charge(e), __ATOMIC_RELAXED);
    free(e);
}

/* Doubles the slot array (best effort: on ENOMEM chains just grow longer). */
static void grow(shard *s)
{
    size_t n = s->nslots * 2;
    entry **slots = calloc(n, sizeof *slots);
    if (!slots)
        return;
    for (size_t i = 0; i < s->nslots; i++)
        for (entry *e = s->slots[i], *next; e; e = next) {
            next = e->next;
            e->next = slots[e->h & (n - 1)];
            slots[e->h & (n - 1)] = e;
        }
    __atomic_fetch_add(&g_used, (n - s->nslots) * sizeof *slots, __ATOMIC_RELAXED);
    free(s->slots);
    s->slots = slots;
    s->nslots = n;
    s->hand = 0;
}

static int over(size_t need)
{
    return __atomic_load_n(&g_used, __ATOMIC_RELAXED) + need >
           __atomic_load_n(&g_budget, __ATOMIC_RELAXED);
}

/* One CLOCK sweep (at most every slot once) over a shard until need more bytes fit:
 * a referenced entry loses its bit, an unreferenced one goes. 1 if they fit. */
static int sweep(shard *s, size_t need)
{
    for (size_t step = 0; over(need) && s->count > 0 && step < s->nslots; step++) {
        entry **p = &s->slots[s->hand];
        while (*p && over(need)) {
            if ((*p)->ref) {
                (*p)->ref = 0;
                p = &(*p)->next;
            } else {
                unlink_free(s, p);
            }
        }
        if (over(need))
            s->hand = (s->hand + 1) & (s->nslots - 1);
    }
    return !over(need);
}

/* Makes room for need bytes from shard s (locked): a sweep of s, then of the other
 * shards of the cache that are free to lock (trylock: never waits while holding s), then
 * a second sweep of s (its bits now clear). So a hot entry of a nearly empty shard is not
 * evicted while other shards hold cold ones. 0 if the bytes do not fit. Empty shards
 * cost one test each; with the budget at 0 nothing is swept. */
static int make_room(kv_cache *c, shard *s, size_t need)
{
    if (need > __atomic_load_n(&g_budget, __ATOMIC_RELAXED))
        return 0;   /* budget 0 (caching off) or a row larger than the budget */
    if (sweep(s, need))
        return 1;
    for (int i = 1; i < NSHARDS && over(need); i++) {
        shard *o = &c->sh[(s - c->sh + i) % NSHARDS];
        if (pthread_rwlock_trywrlock(&o->lock) == 0) {
            sweep(o, need);
            pthread_rwlock_unlock(&o->lock);
        }
    }
    return !over(need) || sweep(s, need);
}

/* Inserts or replaces k (lock held exclusively). A value that does not fit the budget
 * leaves the key uncached. */
static void store(kv_cache *c, shard *s, entry **p, const uint8_t *k, size_t klen, uint64_t h,
                  const uint8_t *v, size_t vlen)
{
    entry *e = *p;
    if (e && e->klen + vlen <= e->cap) {
        memcpy(e->data + klen, v, vlen);
        e->vlen = (uint32_t)vlen;
        return;
    }
    if (e)
        unlink_free(s, p);
    size_t cap = klen + vlen, need = sizeof *e + cap + OVERHEAD;
    if (klen > UINT32_MAX / 2 || vlen > UINT32_MAX / 2 || !make_room(c, s, need))
        return;
    if (s->count >= s->nslots)
        grow(s);
    e = malloc(sizeof *e + cap);
    if (!e)
        return;
    e->h = h;
    e->klen = (uint32_t)klen;
    e->vlen = (uint32_t)vlen;
    e->cap = (uint32_t)cap;
    e->ref = 0;
    memcpy(e->data, k, klen);
    memcpy(e->data + klen, v, vlen);
    size_t at = h & (s->nslots - 1);
    e->next = s->slots[at];
    s->slots[at] = e;
    s->count++;
    __atomic_fetch_add(&g_used, charge(e), __ATOMIC_RELAXED);
}

void kv_cache_fill(kv_cache *c, uint64_t ticket, const uint8_t *k, size_t klen, uint64_t h,
                   const uint8_t *v, size_t vlen)
{
    shard *s = &c->sh[SHARD_OF(h)];
    pthread_rwlock_wrlock(&s->lock);
    entry **p = find(s, k, klen, h);
    if (s->gen == ticket && !*p)
        store(c, s, p, k, klen, h, v, vlen);
    pthread_rwlock_unlock(&s->lock);
}

void kv_cache_put(kv_cache *c, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
    uint64_t h = kv_cache_hash(k, klen);
    shard *s = &c->sh[SHARD_OF(h)];
    pthread_rwlock_wrlock(&s->lock);
    s->gen++;
    store(c, s, find(s, k, klen, h), k, klen, h, v, vlen);
    pthread_rwlock_unlock(&s->lock);
}

void kv_cache_del(kv_cache *c, const uint8_t *k, size_t klen)
{
    uint64_t h = kv_cache_hash(k, klen);
    shard *s = &c->sh[SHARD_OF(h)];
    pthread_rwlock_wrlock(&s->lock);
    s->gen++;
    entry **p = find(s, k, klen, h);
    if (*p)
        unlink_free(s, p);
    pthread_rwlock_unlock(&s->lock);
}

/* ---------------------------------------------------- WriteBatch walk */

typedef struct walk {
    kv_cache *c;
    int ops;
} walk;

static void on_put(void *arg, const char *k, size_t klen, const char *v, size_t vlen)
{
    walk *w = arg;
    w->ops++;
    if (klen > 0 && (uint8_t)k[0] == 0x72)
        kv_cache_put(w->c, (const uint8_t *)k, klen, (const uint8_t *)v, vlen);
}

static void on_del(void *arg, const char *k, size_t klen)
{
    walk *w = arg;
    w->ops++;
    if (klen > 0 && (uint8_t)k[0] == 0x72)
        kv_cache_del(w->c, (const uint8_t *)k, klen);
}

void kv_cache_apply(kv_cache *c, rocksdb_writebatch_t *wb)
{
    walk w = {c, 0};
    rocksdb_writebatch_iterate(wb, &w, on_put, on_del);
    if (w.ops != rocksdb_writebatch_count(wb))
        kv_cache_clear(c);
}
