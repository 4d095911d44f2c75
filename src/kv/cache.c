/* cache.c: the row cache (design in cache.h). */
#include "cache.h"

#include <pthread.h>

#include "kv.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>

#define NSHARDS 64
#define SHARD_OF(h) ((unsigned)((h) >> 58))
#define INIT_SLOTS 64
/* Charged per entry besides its block (mem.h): its slot and a share of the slot array's
 * empty half. */
#define OVERHEAD 24
/* CLOCK bits of an entry: REF set by hits; PINNED while reserve() makes room for it. */
#define REF 1
#define PINNED 2

typedef struct entry {
    int64_t from;               /* history complete from this time (cache.h); INT64_MAX:
                                   no AS OF from memory */
    uint32_t klen, vlen, hlen, cap;  /* cap: bytes for key + value + history */
    uint8_t ref;                /* CLOCK bits (REF: relaxed atomics; PINNED: writers) */
    uint8_t nhist;              /* history records */
    uint8_t data[];             /* key, then value, then history (cache.h) */
} entry;

/* A history record: time (8, native), length (4; HIST_TOMB: a delete), bytes. */
#define REC_HDR 12
#define HIST_TOMB UINT32_MAX

/* Open addressing with linear probing: a slot holds the key's hash inline beside the
 * entry, so a probe compares hashes without touching entries; e NULL = empty. Removal
 * shifts the following run back (no tombstones). */
typedef struct slot {
    uint64_t h;
    entry *e;
} slot;

typedef struct shard {
    pthread_rwlock_t lock;
    slot *slots;
    size_t nslots;              /* power of two */
    size_t count;
    size_t hand;                /* CLOCK hand: a slot index */
    uint64_t gen;               /* bumped by every put / del / clear and write window */
    int writing;                /* write windows open on this shard (kv_cache_begin) */
    int complete;               /* holds every row of the state whose key hashes here
                                   (kv_cache_set_complete); cleared, for good, by any
                                   entry leaving other than by a delete of its row */
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

static size_t block_size(const entry *e) { return sizeof *e + e->cap; }
static size_t charge(const entry *e) { return block_size(e) + OVERHEAD; }

/* A block for an entry with room for cap bytes after its header; *cap gets the room the
 * block really has (its size class's, mem.h), all usable. NULL on ENOMEM. */
static entry *entry_alloc(size_t *cap)
{
    entry *e = kv_mem_alloc(sizeof *e + *cap);
    if (e)
        *cap = kv_mem_size(sizeof *e + *cap) - sizeof *e;
    return e;
}

static void entry_free(entry *e)
{
    if (e)
        kv_mem_free(e, block_size(e));
}

/* ------------------------------------------------------------ life cycle */

kv_cache *kv_cache_create(void)
{
    kv_cache *c = strom_calloc(1, sizeof *c);
    for (int i = 0; c && i < NSHARDS; i++) {
        shard *s = &c->sh[i];
        pthread_rwlock_init(&s->lock, NULL);
        s->nslots = INIT_SLOTS;
        s->slots = kv_mem_calloc(INIT_SLOTS * sizeof *s->slots);
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
    __atomic_store_n(&s->complete, 0, __ATOMIC_RELEASE);
    for (size_t i = 0; i < s->nslots; i++) {
        entry *e = s->slots[i].e;
        if (e) {
            __atomic_fetch_sub(&g_used, charge(e), __ATOMIC_RELAXED);
            entry_free(e);
        }
        s->slots[i] = (slot){0, NULL};
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
        kv_mem_free(s->slots, s->nslots * sizeof *s->slots);
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
            if (s->slots[j].e)
                *bytes += (int64_t)charge(s->slots[j].e);
        pthread_rwlock_unlock(&s->lock);
    }
}

/* --------------------------------------------------------------- lookup */

/* Asks for the first PREFETCH_LINES cache lines of an entry at once: its header, key and
 * (for rows of up to ~200 bytes) whole current value. Decoding a value walks it field by
 * field, each field's place known only from the previous one's length, so without this
 * each line would be a miss of its own, one after another. A hint: never faults. */
#define PREFETCH_LINES 4
static inline void prefetch_entry(const entry *e)
{
    for (int i = 0; i < PREFETCH_LINES; i++)
        __builtin_prefetch((const char *)e + 64 * i);
}

/* The slot holding k, or the empty slot ending its probe run (the load factor is kept
 * at most 1/2, so there always is one). */
static size_t find(const shard *s, const uint8_t *k, size_t klen, uint64_t h)
{
    size_t mask = s->nslots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const slot *sl = &s->slots[i];
        if (!sl->e)
            return i;
        if (sl->h == h) {
            prefetch_entry(sl->e);
            if (sl->e->klen == klen && !memcmp(sl->e->data, k, klen))
                return i;
        }
    }
}

void kv_cache_prefetch(kv_cache *c, uint64_t h, int stage)
{
    shard *s = &c->sh[SHARD_OF(h)];
    pthread_rwlock_rdlock(&s->lock);
    size_t mask = s->nslots - 1;
    if (stage == 0)
        __builtin_prefetch(&s->slots[h & mask]);
    for (size_t i = h & mask; stage != 0 && s->slots[i].e; i = (i + 1) & mask)
        if (s->slots[i].h == h) {
            prefetch_entry(s->slots[i].e);
            break;
        }
    pthread_rwlock_unlock(&s->lock);
}

static void touch(entry *e)
{
    if (!(__atomic_load_n(&e->ref, __ATOMIC_RELAXED) & REF))
        __atomic_fetch_or(&e->ref, REF, __ATOMIC_RELAXED);
}

int kv_cache_get(kv_cache *c, const uint8_t *k, size_t klen, uint64_t h, kv_cache_fn fn,
                 void *arg, strom_err *err, uint64_t *ticket)
{
    shard *s = &c->sh[SHARD_OF(h)];
    pthread_rwlock_rdlock(&s->lock);
    entry *e = s->slots[find(s, k, klen, h)].e;
    if (e) {
        touch(e);
        *err = fn(arg, e->data + e->klen, e->vlen);
    } else {
        *ticket = s->gen;
    }
    pthread_rwlock_unlock(&s->lock);
    return e != NULL;
}

/* History record at byte offset off of e's history: its time, value and length. */
static int64_t rec_time(const entry *e, size_t off)
{
    int64_t t;
    memcpy(&t, e->data + e->klen + e->vlen + off, 8);
    return t;
}

static uint32_t rec_len(const entry *e, size_t off)
{
    uint32_t n;
    memcpy(&n, e->data + e->klen + e->vlen + off + 8, 4);
    return n;
}

static size_t rec_size(const entry *e, size_t off)
{
    uint32_t n = rec_len(e, off);
    return REC_HDR + (n == HIST_TOMB ? 0 : n);
}

/* Version time of the current value (INT64_MIN: unknown, a version-1 value). */
static int64_t cur_vtime(const entry *e)
{
    kv_times t;
    return kv_row_times(e->data + e->klen, e->vlen, &t) ? INT64_MIN : t.vtime;
}

/* The value answering AS OF t from e (t >= e->from): the newest version at or before t,
 * the current row winning a tie. 1 with *v and *vlen (*v NULL: a delete), 0 if none. */
static int asof_pick(const entry *e, int64_t t, const uint8_t **v, size_t *vlen)
{
    int64_t ct = cur_vtime(e);
    size_t off = 0;
    for (int i = 0; i < e->nhist; i++, off += rec_size(e, off))
        if (rec_time(e, off) <= t)
            break;
    int rec = off < e->hlen;
    if (ct != INT64_MIN && ct <= t && (!rec || ct >= rec_time(e, off))) {
        *v = e->data + e->klen;
        *vlen = e->vlen;
        return 1;
    }
    if (!rec)
        return 0;
    uint32_t n = rec_len(e, off);
    *v = n == HIST_TOMB ? NULL : e->data + e->klen + e->vlen + off + REC_HDR;
    *vlen = n == HIST_TOMB ? 0 : n;
    return 1;
}

int kv_cache_get_asof(kv_cache *c, const uint8_t *k, size_t klen, uint64_t h, int64_t t,
                      kv_cache_fn fn, void *arg, strom_err *err)
{
    shard *s = &c->sh[SHARD_OF(h)];
    pthread_rwlock_rdlock(&s->lock);
    entry *e = s->slots[find(s, k, klen, h)].e;
    const uint8_t *v = NULL;
    size_t vlen = 0;
    int answered = e && e->from != INT64_MAX && t >= e->from && asof_pick(e, t, &v, &vlen);
    if (answered) {
        touch(e);
        *err = fn(arg, v, vlen);
    }
    pthread_rwlock_unlock(&s->lock);
    return answered;
}

/* ---------------------------------------------------------------- writes */

/* Empties slot i and shifts the rest of its probe run back, so that every key stays
 * reachable from its home slot without tombstones. */
static void slot_remove(shard *s, size_t i)
{
    size_t mask = s->nslots - 1;
    s->slots[i] = (slot){0, NULL};
    for (size_t j = (i + 1) & mask; s->slots[j].e; j = (j + 1) & mask) {
        size_t home = s->slots[j].h & mask;
        /* j's entry may move to i iff i lies cyclically in [home, j) */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            s->slots[i] = s->slots[j];
            s->slots[j] = (slot){0, NULL};
            i = j;
        }
    }
}

/* Removes the entry of slot i: its row is deleted (row_gone) or the cache just forgets it
 * (the shard is then no longer complete). */
static void unlink_entry(shard *s, size_t i, int row_gone)
{
    entry *e = s->slots[i].e;
    if (!row_gone)
        __atomic_store_n(&s->complete, 0, __ATOMIC_RELEASE);
    slot_remove(s, i);
    s->count--;
    __atomic_fetch_sub(&g_used, charge(e), __ATOMIC_RELAXED);
    entry_free(e);
}

static void unlink_free(shard *s, size_t i)
{
    unlink_entry(s, i, 0);
}

/* Doubles the slot array (best effort: on ENOMEM the table fills further; insert
 * refuses a key rather than pass the load factor of 3/4). */
static void grow(shard *s)
{
    size_t n = s->nslots * 2;
    slot *slots = kv_mem_calloc(n * sizeof *slots);
    if (!slots)
        return;
    for (size_t i = 0; i < s->nslots; i++) {
        if (!s->slots[i].e)
            continue;
        size_t j = s->slots[i].h & (n - 1);
        while (slots[j].e)
            j = (j + 1) & (n - 1);
        slots[j] = s->slots[i];
    }
    __atomic_fetch_add(&g_used, (n - s->nslots) * sizeof *slots, __ATOMIC_RELAXED);
    kv_mem_free(s->slots, s->nslots * sizeof *s->slots);
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
 * a referenced entry loses its bit, an unreferenced one goes (a pinned one stays). 1 if
 * they fit. A removal shifts the next slot's entry into the hand's slot, which is then
 * looked at again. */
static int sweep(shard *s, size_t need)
{
    for (size_t step = 0; over(need) && s->count > 0 && step < s->nslots; step++) {
        size_t i = s->hand;
        for (int again = 1; again && over(need);) {
            entry *e = s->slots[i].e;
            again = 0;
            if (!e || (e->ref & PINNED))
                break;
            if (e->ref & REF) {
                __atomic_fetch_and(&e->ref, (uint8_t)~REF, __ATOMIC_RELAXED);
            } else {
                unlink_free(s, i);
                again = 1;
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
 * cost one test each; with the budget at 0 nothing is swept. Slot indexes of s may
 * change (removals shift probe runs): callers find their key again afterwards. */
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

/* Where a new entry's history starts: a value that is its key's newest version (vtime ==
 * newest) answers every AS OF at or after its vtime; otherwise nothing is known. */
static int64_t fresh_from(const uint8_t *v, size_t vlen)
{
    kv_times t;
    return !kv_row_times(v, vlen, &t) && t.vtime == t.newest ? t.vtime : INT64_MAX;
}

/* Gives the entry of key k (hash h, in slot *i of shard s, locked) room for cap bytes
 * after its header: itself if they fit, else a copy (key, value, history) in a block of
 * that size's class (mem.h: up to 63 bytes more, used as room; a slack of a quarter,
 * measured, cost 25% more memory per row for no gain in write speed: the write is
 * dominated by RocksDB's memtable insert). The entry is pinned while
 * room is made (a sweep cannot evict it) and *i updated (removals move slots). NULL on
 * ENOMEM or over budget: the key is then uncached. */
static entry *reserve(kv_cache *c, shard *s, size_t *i, const uint8_t *k, size_t klen,
                      uint64_t h, size_t cap)
{
    entry *e = s->slots[*i].e;
    if (cap <= e->cap)
        return e;
    e->ref |= PINNED;
    __atomic_fetch_sub(&g_used, charge(e), __ATOMIC_RELAXED);
    int room = cap < UINT32_MAX / 2 && make_room(c, s, kv_mem_size(sizeof *e + cap) + OVERHEAD);
    entry *n = room ? entry_alloc(&cap) : NULL;
    e->ref &= (uint8_t)~PINNED;
    *i = find(s, k, klen, h);
    if (!n) {
        __atomic_fetch_add(&g_used, charge(e), __ATOMIC_RELAXED);
        unlink_free(s, *i);
        return NULL;
    }
    memcpy(n, e, sizeof *e + e->klen + e->vlen + e->hlen);
    n->cap = (uint32_t)cap;
    s->slots[*i].e = n;
    __atomic_fetch_add(&g_used, charge(n), __ATOMIC_RELAXED);
    entry_free(e);
    return n;
}

/* Inserts a new entry for k with value v (lock held exclusively). A value that
 * does not fit the budget leaves the key uncached. */
static void insert(kv_cache *c, shard *s, const uint8_t *k, size_t klen, uint64_t h,
                   const uint8_t *v, size_t vlen)
{
    size_t cap = klen + vlen, need = kv_mem_size(sizeof(entry) + cap) + OVERHEAD;
    int ok = klen <= UINT32_MAX / 4 && vlen <= UINT32_MAX / 4 && make_room(c, s, need);
    if (ok && (s->count + 1) * 2 > s->nslots)   /* load factor <= 1/2: short probe runs */
        grow(s);
    ok = ok && (s->count + 1) * 4 <= s->nslots * 3;   /* else: could not grow */
    entry *e = ok ? entry_alloc(&cap) : NULL;
    if (!e) {
        __atomic_store_n(&s->complete, 0, __ATOMIC_RELEASE);   /* the key is not cached */
        return;
    }
    *e = (entry){.from = fresh_from(v, vlen), .klen = (uint32_t)klen, .vlen = (uint32_t)vlen,
                 .cap = (uint32_t)cap};
    memcpy(e->data, k, klen);
    memcpy(e->data + klen, v, vlen);
    s->slots[find(s, k, klen, h)] = (slot){h, e};
    s->count++;
    __atomic_fetch_add(&g_used, charge(e), __ATOMIC_RELAXED);
}

/* The key's current value becomes v (lock held exclusively); its history stays. */
static void store(kv_cache *c, shard *s, size_t i, const uint8_t *k, size_t klen, uint64_t h,
                  const uint8_t *v, size_t vlen)
{
    entry *e = s->slots[i].e;
    if (!e) {
        insert(c, s, k, klen, h, v, vlen);
        return;
    }
    if (vlen > UINT32_MAX / 4) {
        unlink_free(s, i);
        return;
    }
    if (!(e = reserve(c, s, &i, k, klen, h, e->klen + vlen + e->hlen)))
        return;
    uint8_t *val = e->data + e->klen;
    memmove(val + vlen, val + e->vlen, e->hlen);
    memcpy(val, v, vlen);
    e->vlen = (uint32_t)vlen;
    int64_t f = fresh_from(v, vlen);   /* the newest version: known from its time on */
    e->from = f < e->from ? f : e->from;
}

void kv_cache_fill(kv_cache *c, uint64_t ticket, const uint8_t *k, size_t klen, uint64_t h,
                   const uint8_t *v, size_t vlen)
{
    shard *s = &c->sh[SHARD_OF(h)];
    pthread_rwlock_wrlock(&s->lock);
    if (s->gen == ticket && s->writing == 0 && !s->slots[find(s, k, klen, h)].e)
        insert(c, s, k, klen, h, v, vlen);
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
    size_t i = find(s, k, klen, h);
    if (s->slots[i].e)
        unlink_entry(s, i, 1);   /* the row is deleted: a complete shard stays complete */
    pthread_rwlock_unlock(&s->lock);
}

void kv_cache_set_complete(kv_cache *c)
{
    for (int i = 0; i < NSHARDS; i++) {
        pthread_rwlock_wrlock(&c->sh[i].lock);
        __atomic_store_n(&c->sh[i].complete, 1, __ATOMIC_RELEASE);
        pthread_rwlock_unlock(&c->sh[i].lock);
    }
}

int kv_cache_complete(kv_cache *c, uint64_t h)
{
    return __atomic_load_n(&c->sh[SHARD_OF(h)].complete, __ATOMIC_ACQUIRE);
}

/* ------------------------------------------------------------- history */

/* Drops the oldest records of e while it holds more than KV_CACHE_HIST_MAX of them or
 * more than KV_CACHE_HIST_BYTES, raising from to the oldest kept record's time (every
 * version from there on is still known, and so is the one at it). With no record left,
 * from falls back to the current row's rule (fresh_from). */
static void hist_trim(entry *e)
{
    while (e->nhist > KV_CACHE_HIST_MAX || e->hlen > KV_CACHE_HIST_BYTES) {
        size_t off = 0;
        for (int i = 0; i + 1 < e->nhist; i++)
            off += rec_size(e, off);
        e->hlen = (uint32_t)off;   /* the last record is the oldest */
        e->nhist--;
        if (e->nhist == 0) {
            int64_t f = fresh_from(e->data + e->klen, e->vlen);
            e->from = f > e->from ? f : e->from;
            return;
        }
        size_t last = 0;
        for (int i = 0; i + 1 < e->nhist; i++)
            last += rec_size(e, last);
        int64_t t = rec_time(e, last);
        e->from = t > e->from ? t : e->from;
    }
}

/* e forgets its history: no AS OF from memory until it is evicted and filled again. */
static void hist_forget(entry *e)
{
    e->hlen = 0;
    e->nhist = 0;
    e->from = INT64_MAX;
}

/* Removes e's record at time t, if any. */
static void hist_remove(entry *e, int64_t t)
{
    size_t off = 0;
    for (int i = 0; i < e->nhist; i++, off += rec_size(e, off))
        if (rec_time(e, off) == t) {
            size_t n = rec_size(e, off);
            uint8_t *h = e->data + e->klen + e->vlen;
            memmove(h + off, h + off + n, e->hlen - off - n);
            e->hlen -= (uint32_t)n;
            e->nhist--;
            return;
        }
}

/* Adds the record (t, v) (v NULL: a delete) to the cached entry of row key rk (hash hh)
 * in slot i, in time order (newest first), replacing one of the same time. */
static void hist_add(kv_cache *c, shard *s, size_t i, const strom_buf *rk, uint64_t hh,
                     int64_t t, const uint8_t *v, size_t vlen)
{
    entry *e = s->slots[i].e;
    hist_remove(e, t);
    size_t n = REC_HDR + (v ? vlen : 0);
    if (vlen > KV_CACHE_HIST_BYTES) {   /* too big to keep: older times are unknown */
        hist_forget(e);
        return;
    }
    if (!(e = reserve(c, s, &i, rk->data, rk->len, hh, e->klen + e->vlen + e->hlen + n)))
        return;
    uint8_t *h = e->data + e->klen + e->vlen;
    size_t off = 0;
    for (int r = 0; r < e->nhist && rec_time(e, off) > t; r++)
        off += rec_size(e, off);
    memmove(h + off + n, h + off, e->hlen - off);
    uint32_t len = v ? (uint32_t)vlen : HIST_TOMB;
    memcpy(h + off, &t, 8);
    memcpy(h + off + 8, &len, 4);
    if (v)
        memcpy(h + off + REC_HDR, v, vlen);
    e->hlen += (uint32_t)n;
    e->nhist++;
    hist_trim(e);
}

/* The row key of version key vk (klen + 8 bytes) into b and its time; 0 if vk is too
 * short or on ENOMEM. */
static int row_key_of(const uint8_t *vk, size_t vklen, strom_buf *b, int64_t *t)
{
    if (vklen < KV_PREFIX_LEN + 8)
        return 0;
    strom_buf_clear(b);
    if (strom_buf_append(b, vk, vklen - 8) != STROM_OK)
        return 0;
    b->data[0] = KV_TAG_ROW;
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | vk[vklen - 8 + i];
    *t = (int64_t)(~x ^ ((uint64_t)1 << 63));   /* kv.h: inv_time */
    return 1;
}

/* A version put (v: the value; tomb: a delete) or removal (del) for a cached key. */
static void hist_op(kv_cache *c, const strom_buf *rk, int64_t t, const uint8_t *v,
                    size_t vlen, int tomb, int del)
{
    uint64_t h = kv_cache_hash(rk->data, rk->len);
    shard *s = &c->sh[SHARD_OF(h)];
    pthread_rwlock_wrlock(&s->lock);
    size_t i = find(s, rk->data, rk->len, h);
    if (s->slots[i].e && del)
        unlink_free(s, i);   /* a version removed: the history is no longer known */
    else if (s->slots[i].e)
        hist_add(c, s, i, rk, h, t, tomb ? NULL : v, vlen);
    pthread_rwlock_unlock(&s->lock);
}

/* ---------------------------------------------------- WriteBatch walk */

/* Two passes over the batch: first the 'v' keys (each cached key's history gains the
 * versions the batch adds, while its current row is still the one before), then the 'r'
 * keys. A reader between the two finds the state before plus versions the state after
 * also has, so each AS OF answer it gets is the answer of one of the two states. */
typedef struct walk {
    kv_cache *c;
    int ops, pass;
    strom_buf rk;
} walk;

static void on_put(void *arg, const char *k, size_t klen, const char *v, size_t vlen)
{
    walk *w = arg;
    const uint8_t *u = (const uint8_t *)k;
    int64_t t = 0;
    w->ops++;
    if (w->pass == 1 && klen > 0 && u[0] == KV_TAG_ROW)
        kv_cache_put(w->c, u, klen, (const uint8_t *)v, vlen);
    else if (w->pass == 0 && klen > 0 && u[0] == KV_TAG_VERSION &&
             row_key_of(u, klen, &w->rk, &t))
        hist_op(w->c, &w->rk, t, (const uint8_t *)v, vlen, vlen == 0, 0);
}

static void on_del(void *arg, const char *k, size_t klen)
{
    walk *w = arg;
    const uint8_t *u = (const uint8_t *)k;
    int64_t t = 0;
    w->ops++;
    if (w->pass == 1 && klen > 0 && u[0] == KV_TAG_ROW)
        kv_cache_del(w->c, u, klen);
    else if (w->pass == 0 && klen > 0 && u[0] == KV_TAG_VERSION &&
             row_key_of(u, klen, &w->rk, &t))
        hist_op(w->c, &w->rk, t, NULL, 0, 0, 1);
}

void kv_cache_apply(kv_cache *c, rocksdb_writebatch_t *wb)
{
    walk w = {c, 0, 0, {0}};
    rocksdb_writebatch_iterate(wb, &w, on_put, on_del);
    if (w.ops == rocksdb_writebatch_count(wb)) {
        w.pass = 1;
        rocksdb_writebatch_iterate(wb, &w, on_put, on_del);
    } else {
        kv_cache_clear(c);
    }
    strom_buf_free(&w.rk);
}

/* ------------------------------------------------------------ write windows */

/* Collects the shards of a batch's row keys into a 64-bit mask (NSHARDS = 64). */
static void mark_put(void *arg, const char *k, size_t klen, const char *v, size_t vlen)
{
    (void)v;
    (void)vlen;
    const uint8_t *u = (const uint8_t *)k;
    if (klen > 0 && u[0] == KV_TAG_ROW)
        *(uint64_t *)arg |= UINT64_C(1) << SHARD_OF(kv_cache_hash(u, klen));
}

static void mark_del(void *arg, const char *k, size_t klen)
{
    mark_put(arg, k, klen, NULL, 0);
}

/* Opens or closes the write window on the shards of mask: while open, and for every
 * ticket taken before it closed, a read-miss fill is refused (gen changes, writing > 0). */
static void window(kv_cache *c, uint64_t mask, int open)
{
    for (int i = 0; i < NSHARDS; i++) {
        if (!((mask >> i) & 1))
            continue;
        shard *s = &c->sh[i];
        pthread_rwlock_wrlock(&s->lock);
        s->writing += open ? 1 : -1;
        s->gen++;
        pthread_rwlock_unlock(&s->lock);
    }
}

uint64_t kv_cache_begin(kv_cache *c, rocksdb_writebatch_t *wb)
{
    uint64_t mask = 0;
    rocksdb_writebatch_iterate(wb, &mask, mark_put, mark_del);
    window(c, mask, 1);
    return mask;
}

void kv_cache_end(kv_cache *c, uint64_t mask)
{
    window(c, mask, 0);
}
