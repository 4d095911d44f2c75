/*
 * kv_int.h: internals of src/kv shared by its files. Locking: kv->mu serialises the
 * first half of writes (kv_write's read-merge-append, write.c) and recovery; a write then
 * leaves kv->mu while its changelog is fsynced and is applied in log order under kv->amu
 * (every state write: kv_apply_batch), so the next write merges during that fsync, against
 * the pending writes (kv->pending) first. Lookups read RocksDB without a lock (RocksDB
 * reads are thread-safe; with unordered writes, state.c make_options, a read without a
 * snapshot sees each key's change whole but may see a concurrent batch in part; snapshots
 * taken under kv->amu see whole batches). Lock order: mu, then amu or pmu; amu and pmu
 * are never held together.
 */
#ifndef STROM_KV_INT_H
#define STROM_KV_INT_H

#include <pthread.h>
#include <rocksdb/c.h>

#include "cache.h"
#include "kv.h"

struct kv_state {
    kv_config cfg;
    char *name;                 /* copy of cfg.name */
    log_bucket *log;
    rocksdb_t *db;
    rocksdb_column_family_handle_t *cf;  /* the default column family */
    rocksdb_options_t *opts;
    rocksdb_readoptions_t *ro;
    rocksdb_writeoptions_t *wo;
    rocksdb_writeoptions_t *wo_sync;  /* WAL + sync: a writer sequence without a changelog */
    pthread_mutex_t mu;
    int korder[LOG_MAX_KEY_COLS]; /* schema columns in key-byte order: bk, then rest of pk */
    int kpos[LOG_MAX_KEY_COLS];   /* korder[i] is primary-key column kpos[i] (pk order) */
    int64_t checkpoint;         /* log offset the state reflects (written under amu) */
    int fenced;                 /* a state write failed after a durable log append, or a
                                   changelog fsync failed (atomic: kv_fenced) */
    pthread_mutex_t amu;        /* held while a batch is applied (kv_apply_batch) */
    pthread_mutex_t pmu;        /* the pending list */
    pthread_cond_t pcv;         /* the head of the pending list left it */
    struct kv_pending *pending, *pending_tail; /* writes appended, not yet applied, in log
                                   order; the next write merges against them (write.c) */
    fmt_encoder *enc;
    kv_cache *cache;            /* rows in memory (cache.h); updated by kv_apply_batch */
    /* versions (version.c) */
    rocksdb_compactionfilterfactory_t *hist_filter; /* NULL without a history TTL */
    int64_t compact_now;        /* kv_compact's clock for the filter (0: wall clock) */
    int64_t max_cutoff;         /* greatest history cutoff kv_compact used (INT64_MIN):
                                   the cache answers no AS OF older (state.c) */
    int any_delete;             /* the deletes marker (kv.h) is in the state or in a
                                   pending write (read and written under mu) */
    /* row TTL (ttl.c) */
    pthread_t ttl_thread;
    int ttl_running, ttl_stop;
    pthread_mutex_t ttl_mu;
    pthread_cond_t ttl_cv;
};

/* state.c */
/* Row key of row r of cols (schema-order columns) into out (cleared first). ESCHEMA
 * naming table and column for a NULL key column. */
strom_err kv_key_from_columns(kv_state *kv, const strom_column *cols, int64_t r, strom_buf *out);
/* Turns RocksDB's per-thread perf counters off for the calling thread (once per thread).
 * They are on by default (kEnableCount): every memtable key comparison then bumped a
 * thread-local counter through __tls_get_addr, 4-5% of the insert phase of `strom bench
 * kv` under perf; nothing in strom reads them. Called before the state's writes and
 * reads (kv_apply_batch, kv_get_raw, the write path's multi-get). */
void kv_perf_off(void);
/* Applies a WriteBatch with the checkpoint set to new_ckpt (under kv->amu). */
strom_err kv_apply_batch(kv_state *kv, rocksdb_writebatch_t *wb, int64_t new_ckpt);
/* Writer sequence keys (kv.h): key into k (10 bytes); the stored sequence (-1: none). */
void kv_writer_key(int64_t writer, uint8_t k[10]);
strom_err kv_writer_seq(kv_state *kv, int64_t writer, int32_t *seq);
/* Key from values (state.c): vals in pk order (prefix 0, a row key) or the bucket-key
 * prefix from bucket.key-order values (prefix 1). */
strom_err kv_key_from_values(kv_state *kv, const strom_value *vals, int prefix, strom_buf *out);

/* write.c */
/* Under kv->mu: waits until every pending write is applied (or failed). */
void kv_drain(kv_state *kv);
/* Is the kv fenced (see fenced)? */
int kv_fenced(kv_state *kv);

/* version.c */
/* The version key (kv.h) of row key rk[0..klen) at time t into out (cleared first). */
void kv_version_key(const uint8_t *rk, size_t klen, int64_t t, strom_buf *out);
/* The expiry key (kv.h) of row key rk[0..klen) last written at wtime into out. */
void kv_expiry_key(const uint8_t *rk, size_t klen, int64_t wtime, strom_buf *out);
/* An iterator for seeks within one 9-byte prefix. Owned: rocksdb_iter_destroy. */
rocksdb_iterator_t *kv_prefix_iter(kv_state *kv);
/* Newest version time of row key rk (INT64_MIN: no version) with it; scratch for the key. */
strom_err kv_newest_version(kv_state *kv, rocksdb_iterator_t *it, const uint8_t *rk,
                            size_t klen, strom_buf *scratch, int64_t *newest);
/* The deletes marker key (kv.h) and its length; reads it into kv->any_delete. */
extern const char kv_deletes_key[];
#define KV_DELETES_KEY_LEN 8
strom_err kv_versions_open(kv_state *kv);
/* Installs the history compaction filter into opts (no-op without a history TTL). */
void kv_history_setup(kv_state *kv, rocksdb_options_t *opts);
void kv_history_free(kv_state *kv);

/* ttl.c */
/* Starts the background expiry (ttl_ms > 0) / stops and joins it (before closing). */
strom_err kv_ttl_start(kv_state *kv);
void kv_ttl_stop(kv_state *kv);

/* write.c: expires the rows of the row keys keys[koff[i], +klen[i]) (i < n) last written
 * at or before cutoff (-D changes), and deletes the expiry keys ekeys (same layout) found
 * for them. *nexpired gets the rows expired. */
strom_err kv_expire_keys(kv_state *kv, const strom_buf *keys, const size_t *koff,
                         const size_t *klen, size_t n, const strom_buf *ekeys,
                         const size_t *eoff, const size_t *elen, int64_t cutoff,
                         int64_t *nexpired);

/* Fetches the value of key (owned by the caller: rocksdb_free; NULL if absent). */
strom_err kv_get_raw(kv_state *kv, const uint8_t *key, size_t klen, char **val, size_t *vlen);

#endif /* STROM_KV_INT_H */
