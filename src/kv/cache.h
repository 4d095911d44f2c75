/*
 * cache.h: the in-memory row cache in front of a bucket's RocksDB state. Private to
 * src/kv. Prefix: kv_cache_.
 *
 * What it holds: row key bytes ('r' keys, layout in kv.h) -> row value bytes, exactly
 * as RocksDB holds them. It is filled two ways:
 *   - write-through: after every state apply (kv_apply_batch, once RocksDB took the
 *     WriteBatch, so once the changelog it came from is durable) the batch is walked
 *     and each 'r' put replaces, each 'r' delete drops, the cached row; other key
 *     spaces are ignored. A reader therefore never sees a row a crash could take back.
 *   - read fill: a lookup that misses reads RocksDB and offers the row with the ticket
 *     it took before the read; the row goes in only if no write touched the key's shard
 *     in between (otherwise it might be older than what the writer just installed).
 * Misses of absent keys are not cached: RocksDB's bloom filter keeps them cheap.
 *
 * Concurrency: 64 shards by key hash, each a chained hash table under a reader-writer
 * lock; lookups take it shared and decode the value while holding it (no copy, no
 * allocation), writes and fills take it exclusively. Writes to one cache come from one
 * writer at a time (kv->mu), lookups from any number of threads.
 *
 * Memory: one process-wide budget (kv_cache_set_budget, public as
 * strom_kv_cache_set_budget; default KV_CACHE_DEFAULT_BUDGET) over every cache of the
 * process; an entry is charged its allocation plus bookkeeping. An insert over the budget
 * first evicts in its own shard by CLOCK (a hit sets the entry's reference bit; the hand
 * clears it or evicts), and is dropped if the shard cannot make room; dropping is safe
 * since a miss falls back to RocksDB. Budget 0 disables caching.
 */
#ifndef STROM_KV_CACHE_H
#define STROM_KV_CACHE_H

#include <rocksdb/c.h>

#include "common/common.h"

/* 512 MiB: the seed's 500k devices need ~150 MB (value ~200 B + key + ~56 B per entry),
 * so two or three such tables fit, a small share of the 24 GiB machine. */
#define KV_CACHE_DEFAULT_BUDGET ((size_t)512 << 20)

typedef struct kv_cache kv_cache;

/* Owned: kv_cache_destroy. NULL on ENOMEM. */
kv_cache *kv_cache_create(void);
void kv_cache_destroy(kv_cache *c);

/* Process-wide budget in bytes (0: cache nothing). Returns the previous one. Shrinking
 * takes effect as inserts evict. */
size_t kv_cache_set_budget(size_t bytes);
/* Bytes charged now over every cache of the process. */
size_t kv_cache_used(void);

/* Hash of a key as the cache uses it (the caller computes it once per lookup). */
static inline uint64_t kv_cache_hash(const uint8_t *k, size_t klen)
{
    return strom_hash64(k, klen);
}

/* Called with the cached value under the shard's read lock: must not call back into the
 * cache nor keep v. */
typedef strom_err (*kv_cache_fn)(void *arg, const uint8_t *v, size_t vlen);

/* Looks up k (h = kv_cache_hash(k)). Hit: calls fn, stores its result in *err and returns
 * 1. Miss: returns 0 and sets *ticket for a kv_cache_fill after reading the store. */
int kv_cache_get(kv_cache *c, const uint8_t *k, size_t klen, uint64_t h, kv_cache_fn fn,
                 void *arg, strom_err *err, uint64_t *ticket);
/* Offers the value read from the store after a miss that returned ticket. */
void kv_cache_fill(kv_cache *c, uint64_t ticket, const uint8_t *k, size_t klen, uint64_t h,
                   const uint8_t *v, size_t vlen);
/* Write path: the key now has value v / has no row. */
void kv_cache_put(kv_cache *c, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen);
void kv_cache_del(kv_cache *c, const uint8_t *k, size_t klen);
/* Forgets everything. */
void kv_cache_clear(kv_cache *c);
/* Applies the 'r' puts and deletes of a WriteBatch RocksDB has just taken. A batch with
 * an operation the walk does not see (e.g. a range delete) clears the cache. */
void kv_cache_apply(kv_cache *c, rocksdb_writebatch_t *wb);
/* Entries and charged bytes of this cache. */
void kv_cache_usage(kv_cache *c, int64_t *entries, int64_t *bytes);

#endif /* STROM_KV_CACHE_H */
