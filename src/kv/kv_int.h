/*
 * kv_int.h: internals of src/kv shared by its files. Locking: kv->mu serialises writes
 * (kv_write's read-merge-append-apply) and recovery; lookups read RocksDB without it
 * (RocksDB reads are thread-safe and see whole WriteBatches).
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
    rocksdb_options_t *opts;
    rocksdb_readoptions_t *ro;
    rocksdb_writeoptions_t *wo;
    rocksdb_writeoptions_t *wo_sync;  /* WAL + sync: a writer sequence without a changelog */
    pthread_mutex_t mu;
    int korder[LOG_MAX_KEY_COLS]; /* schema columns in key-byte order: bk, then rest of pk */
    int kpos[LOG_MAX_KEY_COLS];   /* korder[i] is primary-key column kpos[i] (pk order) */
    int64_t checkpoint;         /* log offset the state reflects */
    int fenced;                 /* a state write failed after a durable log append */
    fmt_encoder *enc;
    kv_cache *cache;            /* rows in memory (cache.h); updated by kv_apply_batch */
};

/* state.c */
/* Row key of row r of cols (schema-order columns) into out (cleared first). ESCHEMA
 * naming table and column for a NULL key column. */
strom_err kv_key_from_columns(kv_state *kv, const strom_column *cols, int64_t r, strom_buf *out);
/* Applies a WriteBatch with the checkpoint set to new_ckpt. */
strom_err kv_apply_batch(kv_state *kv, rocksdb_writebatch_t *wb, int64_t new_ckpt);
/* Writer sequence keys (kv.h): key into k (10 bytes); the stored sequence (-1: none). */
void kv_writer_key(int64_t writer, uint8_t k[10]);
strom_err kv_writer_seq(kv_state *kv, int64_t writer, int32_t *seq);
/* Fetches the value of key (owned by the caller: rocksdb_free; NULL if absent). */
strom_err kv_get_raw(kv_state *kv, const uint8_t *key, size_t klen, char **val, size_t *vlen);

#endif /* STROM_KV_INT_H */
