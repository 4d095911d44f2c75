/*
 * kv.h: the state of one bucket of a primary-key table: a RocksDB instance holding the
 * latest row per key, the per-key merge that turns writes into a changelog, and the
 * recovery that replays that changelog. Private to the engine. Prefix: kv_.
 *
 * One RocksDB instance per table bucket (not one per table with a bucket prefix): the
 * bucket is already the unit of the log, of recovery and of the checkpoint offset, so a
 * bucket's state can be replayed, rebuilt, dropped or (later) moved to another server on
 * its own, and two buckets never contend for one instance's write path. The instances of
 * a process share one block cache, so their number does not multiply the memory.
 *
 * The bucket's log is the write-ahead log. A write (kv_write) is merged per key against
 * the current state (by the table's merge engine, see kv_write), the resulting changelog rows (+I, -U, +U, -D)
 * are encoded as one record batch with the change-type vector and appended to the bucket's
 * log (durable under flush=sync); only then is the state changed, in one RocksDB
 * WriteBatch together with the checkpoint. RocksDB's own WAL is off: a crash loses at most
 * memtable contents, and the checkpoint (stored in the same WriteBatch, so it never runs
 * ahead of the rows it describes) tells recovery where to start replaying the log.
 *
 * ==========================================================================================
 * ROCKSDB KEY / VALUE LAYOUT, version 2 (version 1 had no 'v'/'e' keys and row values
 * without the three times; version-1 row values still decode, with all times unknown)
 * ==========================================================================================
 * Row key (every key of a row starts with the same 9-byte prefix for one bucket key)
 *   off size field        meaning
 *   0   1    tag          0x72 'r': a row
 *   1   8    bkhash       XXH3-64 (strom_hash64, little-endian) of the canonical bytes of the
 *                         bucket-key columns (fmt_key_from_value, in bucket.key order); the
 *                         RocksDB prefix extractor is "first 9 bytes", so the prefix bloom
 *                         filter and prefix seeks work per bucket key
 *   9   var  key          canonical bytes (fmt_key_from_column/_value, see format.h) of the
 *                         primary-key columns, bucket-key columns first (in bucket.key
 *                         order), then the other primary-key columns (in primary-key order).
 *                         Canonical bytes are self-delimiting per column, so "starts with
 *                         0x72, bkhash, bucket-key bytes" selects exactly one bucket key.
 *
 * Row value (the whole row, key columns included, so a value decodes on its own)
 *   off size field        meaning
 *   0   1    version      2 (KV_ROW_VERSION; 1: no times, the values start at offset 1)
 *   1   8    wtime        i64 LE: commit time of the changelog batch that last wrote the
 *                         key (row TTL 'table.kv.ttl' counts from it)
 *   9   8    vtime        i64 LE: version time of this row (see Versions below)
 *   17  8    newest       i64 LE: greatest version time in the key's history ('v' keys,
 *                         tombstones included) when this row was written; >= vtime.
 *                         vtime == newest means this row is the key's newest version, so
 *                         an AS OF T >= vtime is answered by this value without a seek
 *   25  var  ncols        uvarint: columns encoded (the schema's at write time; columns
 *                         added later decode as NULL)
 *   ..  ceil(ncols/8)     validity bitmap, LSB first, bit set = value present
 *   ..  var  values       for each present column, in schema order:
 *                           BOOLEAN                1 byte (0/1)
 *                           INT, BIGINT, TIMESTAMP zigzag uvarint
 *                           FLOAT                  4 bytes IEEE 754 LE
 *                           DOUBLE                 8 bytes IEEE 754 LE
 *                           STRING, BYTES          uvarint length, then the bytes
 *
 * Versions (the past of a key, for AS OF lookups; its present is the row key's value)
 *   off size field        meaning
 *   0   1    tag          0x76 'v'
 *   1   8    bkhash       as the row key (same 9-byte prefix rule: prefix bloom per
 *                         bucket key)
 *   9   var  key          as the row key
 *   ..  8    inv_time     big-endian ~(vtime XOR 2^63): versions of one key sort newest
 *                         first, so "the version valid at T" is one seek to
 *                         (key, inv(T)) and the first entry of the key found there
 *   value    a row value (layout above; its newest field is not used) or, for a
 *            delete, empty (a tombstone: the key had no row from that time on)
 *   A key's history is its current row (at its vtime) plus these keys: every row that a
 *   +U or -D supersedes is added at its version time (not when the superseding change has
 *   the same time: on equal times the later written counts, and the current row wins
 *   ties), and every -D adds a tombstone. A key written once costs no version key. The version time is the commit time of the changelog
 *   batch (fmt header commit_timestamp, so a replay reproduces it exactly) or, with
 *   'table.kv.version-column', that column's value in the row (a NULL: the commit time).
 *   A delete's version time is always the commit time. Two versions of a key with the
 *   same time: the later written one replaces the earlier (the same WriteBatch order on
 *   write and on replay). Versions older than the history cutoff are dropped by the
 *   compaction filter (version.c), keeping for each key the newest version at or before
 *   the cutoff. The row cache mirrors a key's recent versions from the WriteBatches
 *   that write them (cache.h "History"), so most AS OF lookups need none of these keys.
 *
 * Expiry index (only with 'table.kv.ttl'; one key per row)
 *   off size field        meaning
 *   0   1    tag          0x65 'e'
 *   1   8    wtime        big-endian (wtime XOR 2^63): ordered by last-write time
 *   9   var  row key      the whole row key (tag 'r' included)
 *   value    empty
 *   Written and removed in the WriteBatch that writes or removes the row, so an expiry
 *   pass reads only the entries up to its cutoff.
 *
 * Writer sequence (one key per idempotent writer, kv_write_opts)
 *   key   0x6D 'm' + 'w' + writer id (8 bytes, big-endian) (10 bytes)
 *   value 4 bytes i32 LE: the greatest batch sequence of that writer applied to the bucket.
 *         Written in the WriteBatch of the write's rows; the changelog batch carries the
 *         writer id and sequence in its header (fmt_hdr writer_id/batch_seq), so replay
 *         and a rebuild from the log restore it. A write that changes no row has no
 *         changelog batch: its sequence is written alone with RocksDB's WAL and sync on
 *         (it survives a crash, not the loss of the state directory).
 *
 * Checkpoint (one key)
 *   key   0x6D 'm' + "checkpoint" (11 bytes)
 *   value 8 bytes i64 LE: the log offset the state reflects: every changelog row with
 *         offset < value has been applied. Absent = 0 (replay the whole log).
 *
 * Deletes marker (one key)
 *   key   0x6D 'm' + "deletes" (8 bytes)
 *   value empty. Written with the first tombstone of the bucket (same WriteBatch, so also
 *         on replay). Absent: no key has a history without a current row, so a write with
 *         a version column needs no seek for keys without a row.
 * ==========================================================================================
 */
#ifndef STROM_KV_H
#define STROM_KV_H

#include "log/log.h"

#define KV_TAG_ROW 0x72
#define KV_TAG_META 0x6D
#define KV_PREFIX_LEN 9
#define KV_ROW_VERSION 2
#define KV_TAG_VERSION 0x76
#define KV_TAG_EXPIRY 0x65
#define KV_ROW_HDR 25          /* version + wtime + vtime + newest */

/* Merge engines ('table.merge-engine') and aggregate functions ('fields.<col>.agg'). */
typedef enum kv_engine {
    KV_ENGINE_LAST_ROW = 0, KV_ENGINE_FIRST_ROW = 1, KV_ENGINE_VERSIONED = 2,
    KV_ENGINE_AGGREGATION = 3
} kv_engine;
typedef enum kv_agg {
    KV_AGG_DEFAULT = 0,        /* unset: last_value_ignore_nulls (as Fluss) */
    KV_AGG_SUM, KV_AGG_MIN, KV_AGG_MAX, KV_AGG_LAST_VALUE, KV_AGG_LAST_VALUE_IGNORE_NULLS,
    KV_AGG_FIRST_VALUE, KV_AGG_FIRST_VALUE_IGNORE_NULLS, KV_AGG_COUNT, KV_AGG_N
} kv_agg;

/* Per-row operation of a write. */
typedef enum kv_op { KV_UPSERT = 0, KV_DELETE = 1 } kv_op;

typedef struct kv_config {
    const char *name;           /* "table 't' bucket 0", in every error message */
    const strom_schema *schema; /* current table schema; borrowed for the kv's lifetime */
    int pk[LOG_MAX_KEY_COLS], npk;   /* primary-key columns (>= 1) */
    int bk[LOG_MAX_KEY_COLS], nbk;   /* bucket-key columns, a subset of pk (0: = pk) */
    int image_full;             /* 'table.changelog.image' FULL (1, -U emitted) or WAL (0) */
    kv_engine engine;           /* merge engine (semantics: kv_write) */
    int ver_col;                /* versioned: the version column (INT/BIGINT/TIMESTAMP) */
    uint8_t agg[FMT_MAX_COLUMNS]; /* aggregation: kv_agg per column (key columns ignored) */
    fmt_encode_opts enc;        /* codec etc. of changelog batches (changes is set here) */
    int use_vcol;               /* 1: versions are timed by column vcol (TIMESTAMP/BIGINT/INT,
                                   'table.kv.version-column'); 0: by the commit time */
    int vcol;
    int64_t hist_ttl_ms;        /* 'table.kv.history.ttl': versions older than now - this
                                   are dropped by compactions; <= 0: kept forever */
    int64_t ttl_ms;             /* 'table.kv.ttl': rows not written for this long expire
                                   (-D); <= 0: never. > 0 keeps the 'e' expiry index and
                                   runs a background expiry (kv_expire) every
                                   min(ttl/4, 1 s) while the kv is open */
} kv_config;

typedef struct kv_state kv_state;

/* Opens (creating if missing) the state directory dir of the bucket whose changelog is
 * log (borrowed; must outlive the kv) and replays the log from the checkpoint to its end.
 * A missing or empty dir is rebuilt from the whole log. cfg is copied (schema borrowed).
 * Owned: kv_close. */
strom_err kv_open(const char *dir, log_bucket *log, const kv_config *cfg, kv_state **out);
/* Flushes RocksDB's memtables (so the next open replays nothing) and closes. */
void kv_close(kv_state *kv);
/* Log offset the state reflects (see the checkpoint above). */
int64_t kv_checkpoint(kv_state *kv);

typedef struct kv_write_result {
    int64_t changes;            /* changelog rows appended (0: nothing changed) */
    int64_t base_offset;        /* offset of the first, -1 if none */
    int duplicate;              /* idempotent write already applied: nothing done */
} kv_write_result;

/* Merges rows sel[0..nsel) of b (sel NULL: all rows; schema = the table's; ops[r] per
 * builder row r, NULL = all upserts; for a delete only the key columns matter) per key,
 * in that order, against the state, by the merge engine:
 *   last_row     an upsert replaces the row (+I, or -U/+U); a delete removes it (-D).
 *   first_row    an upsert of a key with a row changes nothing; deletes change nothing.
 *   versioned    an upsert replaces the row iff its version column is >= the row's (ties:
 *                the newer write wins, as Fluss); a NULL version changes nothing (also as
 *                a key's first row); deletes change nothing.
 *   aggregation  an upsert of a new key inserts the row (count columns: 1, or 0 for a
 *                NULL); of an existing key, each non-key column merges by its function
 *                (sum/min/max/first_value_ignore_nulls ignore NULLs on either side;
 *                last_value takes the new value even NULL; last_value_ignore_nulls (the
 *                default) a non-NULL new value; first_value keeps the stored value;
 *                count adds 1 per non-NULL value); emits -U/+U. An integer sum that
 *                overflows fails the write (ELIMIT). A delete removes the row.
 * (table.delete.behavior is applied by the caller.) Appends
 * the changelog batch to the log; then applies it to the state. All or nothing: a bad row
 * (NULL key: ESCHEMA naming table, key and column; a builder of another schema: ESCHEMA
 * naming the column) fails before anything is written. Writes merge one at a time per kv
 * and are applied in log order; a write merges (against the one before it, whose state is
 * not applied yet) while the one before waits for its changelog fsync (write.c).
 * res may be NULL. A failed state write after a log append, or a failed changelog fsync,
 * fences the kv (EFENCED; reopen replays). */
strom_err kv_write(kv_state *kv, const strom_builder *b, const uint32_t *sel, size_t nsel,
                   const uint8_t *ops, kv_write_result *res);

/* Options of a write (kv_write_ex). */
typedef struct kv_write_opts {
    /* Partial update: cols[c] != 0 for the columns the write sets (every primary-key column
     * among them; the caller checks). NULL: every column. Engines last_row and aggregation
     * only (the caller refuses the others). An upsert of a key with a row changes only the
     * named columns (aggregation: merges only them) and keeps the others; of a new key,
     * the others are NULL (aggregation count columns: 0). The changelog carries the whole
     * rows, before and after. */
    const uint8_t *cols;
    /* Idempotent write: writer_id > 0 and batch_seq >= 0. The write is applied only if
     * batch_seq is greater than the last one of this writer applied to this bucket;
     * otherwise it is a duplicate (a retry) and changes nothing (res->duplicate = 1). */
    int64_t writer_id;
    int32_t batch_seq;
} kv_write_opts;

/* kv_write with options (o NULL: none). */
strom_err kv_write_ex(kv_state *kv, const strom_builder *b, const uint32_t *sel, size_t nsel,
                      const uint8_t *ops, const kv_write_opts *o, kv_write_result *res);

/* Point lookup: key holds one value per primary-key column (in primary-key order). If
 * found, appends the row to out (a builder of the table's schema) and sets *found = 1. */
strom_err kv_lookup(kv_state *kv, const strom_value *key, strom_builder *out, int *found);
/* Batch lookup (one RocksDB multi-get): keys[i*npk .. i*npk+npk) is key i. found[i] = 1
 * and one row appended to out (in key order) for each key found. */
strom_err kv_lookup_batch(kv_state *kv, const strom_value *keys, size_t n, strom_builder *out,
                          uint8_t *found);
/* Prefix lookup: every row whose bucket key equals bkey (one value per bucket-key column,
 * in bucket.key order), appended to out in key-byte order; *nfound gets the count. */
strom_err kv_prefix_lookup(kv_state *kv, const strom_value *bkey, strom_builder *out,
                           int64_t *nfound);

/* The fast path (no allocation once warm). Row key of key values (one per primary-key
 * column in primary-key order, prefix 0; or one per bucket-key column in bucket.key
 * order, prefix 1: the 9-byte prefix plus the bucket-key bytes) into out (cleared
 * first). The values must have the columns' types (no conversion here). Bytes 1..8 of
 * the key are the bucket-key hash: the table's bucket is that % bucket.num. ESCHEMA
 * naming the column for a NULL. */
strom_err kv_key_from_values(kv_state *kv, const strom_value *vals, int prefix, strom_buf *out);
/* A buffer of the calling thread for kv_key_from_values (freed when the thread ends);
 * NULL on ENOMEM. */
strom_buf *kv_key_scratch(void);
/* A second buffer of the calling thread, for a batch's row keys side by side (freed when
 * the thread ends); NULL on ENOMEM. */
strom_buf *kv_keys_scratch(void);
/* Point lookup of row key k (from kv_key_from_values): the row cache, else RocksDB
 * (then the row is offered to the cache). Appends the row to out if found. */
strom_err kv_lookup_key(kv_state *kv, const uint8_t *k, size_t klen, strom_builder *out,
                        int *found);
/* The same with h = kv_key_hash(k, klen) computed by the caller. */
strom_err kv_lookup_key_h(kv_state *kv, const uint8_t *k, size_t klen, uint64_t h,
                          strom_builder *out, int *found);
uint64_t kv_key_hash(const uint8_t *k, size_t klen);
/* Prefetch hints for a coming kv_lookup_key_h of hash h (kv_cache_prefetch): a batch calls
 * stage 0 for a group of keys, then stage 1 for the group, then looks them up, so the
 * memory misses of the group overlap instead of following one another. */
void kv_lookup_prefetch(kv_state *kv, uint64_t h, int stage);
/* AS OF t of row key k from the row cache alone: *answered = 1 (and the row appended
 * with *found = 1, or *found = 0 for no row at t) when the key's cache entry knows every
 * version from a time <= t on (its current row and recent history, cache.h "History")
 * and t is not older than the history TTL's greatest cutoff (now - history.ttl, or
 * kv_compact's); the answer is then exactly kv_lookup_asof's. Otherwise *answered = 0
 * and kv_lookup_asof must answer. */
strom_err kv_lookup_asof_cached(kv_state *kv, const uint8_t *k, size_t klen, int64_t t,
                                strom_builder *out, int *found, int *answered);
/* Row cache of this kv: entries and bytes charged. */
void kv_cache_stats(kv_state *kv, int64_t *entries, int64_t *bytes);
/* ------------------------------------------------- versions (version.c) */

/* AS OF lookup: the key's row as it was at time t (ms): the version with the greatest
 * version time <= t (see Versions above); none if that version is a delete or there is
 * none, or if it was dropped by the history TTL (t older than now - history.ttl: the
 * answer is then the oldest kept version at or before t, or none). Appends the row to out
 * and sets *found = 1 when there is one. Warm lookups whose answer is the current row
 * (the common case: t at or after the key's newest version) cost one get, no seek. */
strom_err kv_lookup_asof(kv_state *kv, const strom_value *key, int64_t t, strom_builder *out,
                         int *found);
/* Batch AS OF: key i (keys[i*npk ..]) at time t[one_time ? 0 : i]. One multi-get of the
 * current rows, then one iterator for the keys that need a seek. found[i] and rows as
 * kv_lookup_batch (appended to out in key order). */
strom_err kv_lookup_batch_asof(kv_state *kv, const strom_value *keys, size_t n,
                               const int64_t *t, int one_time, strom_builder *out,
                               uint8_t *found);
/* Batch AS OF as kv_lookup_batch_asof (key i at t[i]), the answers as row values (layout
 * above) appended to arena: key i's at off[i], len[i] bytes (len -1: no row). For callers
 * that merge the answers of several buckets in their own order (kv_row_decode). */
strom_err kv_lookup_batch_asof_raw(kv_state *kv, const strom_value *keys, size_t n,
                                   const int64_t *t, strom_buf *arena, int64_t *off,
                                   int64_t *len);
/* Manual compaction of the whole state with the history cutoff now_ms - hist_ttl_ms
 * (background compactions use the wall clock). Drops versions older than the cutoff
 * except each key's newest one at or before it; AS OF answers for t >= cutoff do not
 * change. */
strom_err kv_compact(kv_state *kv, int64_t now_ms);

/* ------------------------------------------------------ row TTL (ttl.c) */

/* Expires every row whose last write is at or before now_ms - ttl_ms: one -D changelog
 * row per expired row (before image as the delete of a last_row table, whatever the
 * merge engine and table.delete.behavior), appended and applied like a write, in
 * batches of at most 4096 keys. Reads only the expiry index entries up to the cutoff.
 * *nexpired (may be NULL) gets the rows expired. Nothing to do without a TTL. */
strom_err kv_expire(kv_state *kv, int64_t now_ms, int64_t *nexpired);

/* Row value codec (row.c). Appends the value of row r of cols (ncols columns, schema
 * order) to out, with all times 0 (kv_row_set_times sets them). */
strom_err kv_row_encode(strom_buf *out, const strom_column *cols, int ncols, int64_t r);
/* The times of a row value (version 2). -1 for a version-1 or malformed value. */
typedef struct kv_times {
    int64_t wtime, vtime, newest;
} kv_times;
int kv_row_times(const uint8_t *v, size_t len, kv_times *t);
/* Overwrites the times of an encoded version-2 row value (at least KV_ROW_HDR bytes). */
void kv_row_set_times(uint8_t *v, const kv_times *t);
/* Appends the decoded value as one row to b (schema s). ECORRUPT on a malformed value. */
strom_err kv_row_decode(strom_builder *b, const strom_schema *s, const uint8_t *v, size_t len);

/* One decoded value: i for BOOLEAN/INT/BIGINT/TIMESTAMP, f for FLOAT/DOUBLE, p/n for
 * STRING/BYTES (pointing into the source). */
typedef struct kv_val {
    int null;
    int64_t i;
    double f;
    const uint8_t *p;
    size_t n;
} kv_val;
/* Decodes a row value into vals[0..s->ncols) (pointers into v). ECORRUPT if malformed. */
strom_err kv_row_vals(const strom_schema *s, const uint8_t *v, size_t len, kv_val *vals);
/* Row r of cols as values (pointers into cols). */
void kv_cols_vals(const strom_column *cols, int ncols, int64_t r, kv_val *vals);
/* Appends the row value of vals (schema s) to out. */
strom_err kv_vals_encode(strom_buf *out, const strom_schema *s, const kv_val *vals);

/* Snapshot reads (snapshot.c). A snapshot is the state exactly as the changelog up to
 * kv_snap_offset left it (every row with offset < it applied, none after): rows read from
 * it followed by the changelog from that offset give every change once, with no gap and
 * no duplicate. Writes go on meanwhile (RocksDB snapshot; the state does not block).
 * Owned: kv_snap_close, before kv_close. */
typedef struct kv_snap kv_snap;
strom_err kv_snap_open(kv_state *kv, kv_snap **out);
int64_t kv_snap_offset(const kv_snap *s);
/* Appends up to max rows (in key-byte order) to out (a builder of the table's schema);
 * *nread gets the count. 0 rows and kv_snap_done() = 1 at the end. */
strom_err kv_snap_next(kv_snap *s, strom_builder *out, int64_t max, int64_t *nread);
int kv_snap_done(const kv_snap *s);
void kv_snap_close(kv_snap *s);

#endif /* STROM_KV_H */
