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
 * History (AS OF from memory): an entry also holds up to KV_CACHE_HIST_MAX records
 * (at most KV_CACHE_HIST_BYTES in all) of its key's past versions, newest first, and a
 * bound "from": every version of the key (current row and 'v' keys, kv.h) with a time
 * >= from is in the entry, and so is the version at time from itself. So an AS OF T >=
 * from is answered exactly from memory: the newest version at or before T among the
 * current row and the records (the current row wins a tie, as in RocksDB; a tombstone
 * record answers "no row"); an older T, or from = INT64_MAX ("nothing known"), goes to
 * RocksDB's seek (kv_lookup_asof). How from is kept:
 *   - a new entry (read fill, or write-through of a key not cached) knows only its
 *     current row: from = its vtime if that is the key's newest version (vtime ==
 *     newest in the row value), else INT64_MAX (an out-of-order version-column write
 *     left a newer 'v' key that the entry does not hold).
 *   - the write-through walk mirrors every 'v' put of the batch into the entry's records
 *     (a put of an existing time replaces that record, as the RocksDB key is replaced),
 *     so a key's records gain exactly the versions its writes add, out-of-order version
 *     times included (records older than from are kept too; they are true versions).
 *     The 'v' keys are applied before the 'r' keys (see kv_cache_apply). A put of a
 *     row that is its key's newest version lowers from to its vtime if that is lower
 *     (so an entry that knew nothing learns again once the key is written in order).
 *   - a record evicted by the bounds (the oldest go first) raises from to the oldest kept
 *     record's time; a version larger than KV_CACHE_HIST_BYTES makes the entry forget
 *     its history (from = INT64_MAX); a removed 'v' key or a removed row drops the entry.
 *   - the history TTL compaction drops only versions that no AS OF at or after its
 *     cutoff can return; the caller (kv_lookup_asof_cached) sends T older than the
 *     greatest cutoff (now - history.ttl, or kv_compact's) to RocksDB, so both answer
 *     alike. Replay and rebuild apply batches through the same walk.
 * Records are charged to the budget with their entry.
 *
 * Concurrency: 64 shards by key hash, each an open-addressed hash table (linear probing,
 * the key's hash inline in the slot beside the entry pointer, load factor <= 1/2, removal
 * by backward shift) under a reader-writer lock; lookups take it shared and decode the
 * value while holding it (no copy, no allocation), writes and fills take it exclusively. Writes to one cache come from one
 * writer at a time (kv->amu), lookups from any number of threads.
 *
 * Memory: entries and slot arrays are blocks of mem.h (64-byte aligned, on transparent
 * huge pages: a lookup's two random reads then rarely miss the TLB as well). One process-wide budget (kv_cache_set_budget, public as
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

/* 1 GiB: the seed's 500k devices with three versions each need ~360 MB (current value
 * ~200 B + key + 72 B per entry, plus ~212 B per history record), the bench's second
 * table of 500k rows ~150 MB: ~510 MB together, the old 512 MiB budget. A small share of the
 * 24 GiB machine, the size of RocksDB's shared block cache (state.c). */
#define KV_CACHE_DEFAULT_BUDGET ((size_t)1 << 30)

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

/* Per-entry history bounds (records, bytes of record values and headers). */
#define KV_CACHE_HIST_MAX 8
#define KV_CACHE_HIST_BYTES 4096

/* Called with the cached value under the shard's read lock: must not call back into the
 * cache nor keep v. */
typedef strom_err (*kv_cache_fn)(void *arg, const uint8_t *v, size_t vlen);

/* Looks up k (h = kv_cache_hash(k)). Hit: calls fn, stores its result in *err and returns
 * 1. Miss: returns 0 and sets *ticket for a kv_cache_fill after reading the store. */
int kv_cache_get(kv_cache *c, const uint8_t *k, size_t klen, uint64_t h, kv_cache_fn fn,
                 void *arg, strom_err *err, uint64_t *ticket);
/* AS OF t of k from memory (see History above): if the entry answers, calls fn with the
 * answer (v NULL, vlen 0: no row at t), stores its result in *err and returns 1; else 0
 * (not cached, or t older than what the entry knows). */
int kv_cache_get_asof(kv_cache *c, const uint8_t *k, size_t klen, uint64_t h, int64_t t,
                      kv_cache_fn fn, void *arg, strom_err *err);
/* Hints for a lookup of hash h coming soon (a batch prefetches its keys in stages before
 * it looks any up, so their cache misses overlap): stage 0 asks for the key's home slot,
 * stage 1 (once stage 0's line has arrived) for the first lines of the entry whose slot
 * holds h. Changes nothing; takes the shard's read lock briefly. */
void kv_cache_prefetch(kv_cache *c, uint64_t h, int stage);
/* Offers the value read from the store after a miss that returned ticket. */
void kv_cache_fill(kv_cache *c, uint64_t ticket, const uint8_t *k, size_t klen, uint64_t h,
                   const uint8_t *v, size_t vlen);
/* Write path: the key now has value v / has no row. */
void kv_cache_put(kv_cache *c, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen);
void kv_cache_del(kv_cache *c, const uint8_t *k, size_t klen);
/* Forgets everything. */
void kv_cache_clear(kv_cache *c);
/* Completeness (an empty state's cache, as long as it forgets nothing): called when the
 * state holds no row and the cache is empty (kv_open), it marks every shard complete: it
 * holds every row of the state whose key hashes into it. A shard stays complete while
 * every row written reaches it and no entry leaves it other than by the delete of its
 * row (kv_cache_del); an eviction, an insert refused (budget, memory), a dropped entry
 * (version removed) or a clear ends it for good. kv_cache_complete(c, h): a miss of a key
 * with hash h then proves the key has no row, so the write path's read-before-write
 * skips the store for it (a bulk load into a new table). Read with a miss under the
 * write path's ordering: a key evicted before the miss cleared the flag before it. */
void kv_cache_set_complete(kv_cache *c);
int kv_cache_complete(kv_cache *c, uint64_t h);
/* Applies the 'r' puts and deletes and the 'v' puts and deletes (history) of a
 * WriteBatch RocksDB has just taken: the 'v' keys first, then the 'r' keys. A batch with
 * an operation the walk does not see (e.g. a range delete) clears the cache. */
void kv_cache_apply(kv_cache *c, rocksdb_writebatch_t *wb);
/* The write window of a state write (kv_apply_batch): kv_cache_begin before the batch goes
 * to RocksDB, kv_cache_end after kv_cache_apply (also when the write failed). A lookup that
 * missed the cache and read RocksDB fills the cache only if no window was open on its
 * shard at any time since its miss: otherwise it could have read the row from before the
 * write and put it back after a reader saw the new row (reads would go back in time).
 * Returns the shards touched (a mask for kv_cache_end). */
uint64_t kv_cache_begin(kv_cache *c, rocksdb_writebatch_t *wb);
void kv_cache_end(kv_cache *c, uint64_t mask);
/* Entries and charged bytes of this cache. */
void kv_cache_usage(kv_cache *c, int64_t *entries, int64_t *bytes);

#endif /* STROM_KV_CACHE_H */
