/* state.c: the RocksDB instance of a bucket: options, keys, checkpoint, lookups and the
 * replay of the changelog on open. */
#include "kv_int.h"

#include <stdlib.h>

static const char ckpt_key[] = "\x6D" "checkpoint";
#define CKPT_KEY_LEN 11

/* --------------------------------------------------------------- options */

/* Why each option is set (figures: `strom bench kv`, bench/README.md). Reads of current
 * rows are served by the row cache (cache.c) in front; RocksDB serves what it misses,
 * AS OF seeks into the versions, prefix seeks, and the merge reads of the write path.
 *
 * One block cache for every bucket of every table in the process: 1 GiB of the 24 GiB
 * machine holds the hot blocks of ~5M rows of ~200 bytes (the seed's 500k devices ten
 * times over), and sharing it means the number of buckets does not multiply memory. It
 * is an LRU that only grows as blocks are read.
 *
 * Left at RocksDB's defaults, on purpose: compression below L0 (Snappy; LZ4 used the
 * same CPU for the same 200k-device run, 31.7-37.0 s against 31.6-33.7 s, and 3% more
 * bytes), the skiplist memtable (hash-linked and hash-skiplist memtables, tried
 * 2026-11-26: inserts 2x faster, but each flush then sorts the whole memtable into a
 * skiplist, which made updates 20-30% slower, and a total-order scan, which the snapshot
 * read and the expiry index need, copies the whole memtable), the WAL (off per write: strom's log is the write-ahead log, see open_db). */
static rocksdb_cache_t *shared_cache;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static void make_cache(void) { shared_cache = rocksdb_cache_create_lru((size_t)1 << 30); }

static rocksdb_options_t *make_options(void)
{
    pthread_once(&cache_once, make_cache);
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(t, shared_cache);
    /* Full bloom filter, 10 bits/key (~1% false positives): a lookup of a missing key
     * (a new device's first upsert, a join miss) skips the data block read. */
    rocksdb_block_based_options_set_filter_policy(t, rocksdb_filterpolicy_create_bloom_full(10));
    /* Whole keys go into the filter too (point lookups), not only the 9-byte prefixes. */
    rocksdb_block_based_options_set_whole_key_filtering(t, 1);
    /* A hash index inside each data block: point lookups find the key without a binary
     * search of the restart points (RocksDB measures ~10% less CPU per Get). */
    rocksdb_block_based_options_set_data_block_index_type(
        t, rocksdb_block_based_table_data_block_index_type_binary_search_and_hash);
    rocksdb_block_based_options_set_data_block_hash_ratio(t, 0.75);
    /* Index and filter blocks live in the (bounded) shared cache; L0's are pinned so the
     * newest files never miss on their filter. */
    rocksdb_block_based_options_set_cache_index_and_filter_blocks(t, 1);
    rocksdb_block_based_options_set_pin_l0_filter_and_index_blocks_in_cache(t, 1);
    rocksdb_options_set_block_based_table_factory(o, t);
    rocksdb_block_based_options_destroy(t);
    /* Keys start with tag + XXH3 of the bucket key (9 bytes): prefix bloom filters and
     * prefix seeks make "all devices of a feeder" one seek. */
    rocksdb_options_set_prefix_extractor(o, rocksdb_slicetransform_create_fixed_prefix(KV_PREFIX_LEN));
    /* No bloom filter over the memtable (RocksDB's default). It had one (prefixes and
     * whole keys, ~10% of its size) so that a read of a key the memtable does not hold
     * skipped the skiplist search: absent-key lookups 230k/s -> 830k/s, and the write
     * path's read-before-write of new keys. But every insert then set bits for its prefix
     * and its whole key at random places of a multi-MB array (two cache misses), and
     * since the row cache of a new table is complete (cache.h) neither kind of read comes
     * here any more on the hot paths: new keys and absent-key lookups are answered by the
     * cache. Without it (branch kvup, five A/B pairs of the insert phase of `strom bench
     * kv`): 206k against 186k inserted rows per CPU-second (medians). The SST files keep
     * their bloom filters (above). */
    /* 2 cores: one flush and one compaction thread at most. */
    rocksdb_options_increase_parallelism(o, 2);
    /* 64 MiB memtables: 500k rows of ~200 bytes flush about twice; fewer L0 files.
     * 16 MiB was measured worse: 35% more CPU for the same run (more flushes and
     * compactions) and RocksDB-only lookups 7k/s against 45-57k/s (more files). */
    rocksdb_options_set_write_buffer_size(o, (size_t)64 << 20);
    /* Level sizes follow the data: little space amplification for a table that only
     * grows to a few hundred MB per bucket. */
    rocksdb_options_set_level_compaction_dynamic_level_bytes(o, 1);
    /* Bounded descriptors per instance (one instance per bucket). */
    rocksdb_options_set_max_open_files(o, 256);
    rocksdb_options_set_create_if_missing(o, 1);
    /* L0 uncompressed, the rest Snappy (the default): L0 files are short-lived (written by
     * a memtable flush, merged into the base level by the next compaction, which then
     * reads them without decompressing), so their compression was CPU spent on the write
     * path's flushes for bytes that are rewritten soon after (perf of the upsert phase:
     * Snappy in flushes ~3% of the CPU; A/B in one session: +8% inserted rows per
     * CPU-s). The price is disk: until four L0 files trigger a compaction, flushed rows
     * sit uncompressed (`strom bench kv`, after a clean close: 637 instead of 406 state
     * bytes per device). */
    static const int per_level[7] = {rocksdb_no_compression, rocksdb_snappy_compression,
                                     rocksdb_snappy_compression, rocksdb_snappy_compression,
                                     rocksdb_snappy_compression, rocksdb_snappy_compression,
                                     rocksdb_snappy_compression};
    rocksdb_options_set_compression_per_level(o, per_level, 7);
    /* Unordered writes: the memtable insert takes the concurrent path, and with the write
     * option memtable_insert_hint_per_batch (open_db) each insert of a WriteBatch starts
     * its skiplist search from where the previous key of the batch went, repairing only
     * the levels that do not bracket the new key (the default single-writer insert
     * recomputes every level unless the key lands right after the previous one). The
     * state change is filled in key order (write.c went_fill), so the search is
     * O(log D) for the key distance D instead of O(log N): perf of the insert phase of
     * `strom bench kv`, memtable inserts 50% -> 45% of the CPU, +6-14% rows per CPU-s.
     * What it relaxes: RocksDB publishes a batch's sequence before its memtable insert
     * ends, so a read without a snapshot concurrent with a state write may see some keys
     * of the batch changed and others not yet (each key whole: a key's row is one
     * entry), as the row cache's readers already may (cache.h). Reads that need one
     * point in time take their RocksDB snapshot under kv->amu, which every state write
     * holds until rocksdb_write has returned with the batch wholly inserted
     * (kv_snap_open), so they still see whole batches. */
    rocksdb_options_set_unordered_write(o, 1);
    return o;
}

/* ---------------------------------------------------------------- keys */

static strom_err key_finish(kv_state *kv, strom_buf *out, size_t bk_end)
{
    uint64_t h = strom_hash64(out->data + KV_PREFIX_LEN, bk_end - KV_PREFIX_LEN);
    out->data[0] = KV_TAG_ROW;
    strom_put_u64(out->data + 1, h);
    return STROM_OK;
}

strom_err kv_key_from_columns(kv_state *kv, const strom_column *cols, int64_t r, strom_buf *out)
{
    strom_buf_clear(out);
    if (!strom_buf_grow(out, KV_PREFIX_LEN))
        return STROM_ENOMEM;
    size_t bk_end = KV_PREFIX_LEN;
    for (int i = 0; i < kv->cfg.npk; i++) {
        const strom_column *c = &cols[kv->korder[i]];
        if (c->validity && !((c->validity[r >> 3] >> (r & 7)) & 1))
            return strom_fail(STROM_ESCHEMA, "%s: row %lld: primary-key column '%s' is NULL",
                              kv->name, (long long)r, kv->cfg.schema->cols[kv->korder[i]].name);
        strom_err e = fmt_key_from_column(out, c, r);
        if (e != STROM_OK)
            return e;
        if (i + 1 == kv->cfg.nbk)
            bk_end = out->len;
    }
    return key_finish(kv, out, bk_end);
}

/* Key (or, with nvals = nbk, the bucket-key prefix) from values; vals in pk order for a
 * full key, in bucket.key order for a prefix. */
strom_err kv_key_from_values(kv_state *kv, const strom_value *vals, int prefix, strom_buf *out)
{
    strom_buf_clear(out);
    if (!strom_buf_grow(out, KV_PREFIX_LEN))
        return STROM_ENOMEM;
    int n = prefix ? kv->cfg.nbk : kv->cfg.npk;
    size_t bk_end = KV_PREFIX_LEN;
    for (int i = 0; i < n; i++) {
        const strom_value *v = &vals[prefix ? i : kv->kpos[i]];
        const fmt_column_def *c = &kv->cfg.schema->cols[kv->korder[i]];
        if (v->is_null)
            return strom_fail(STROM_ESCHEMA, "%s: key column '%s' is NULL", kv->name, c->name);
        strom_err e = fmt_key_from_value(out, c->type, v);
        if (e != STROM_OK)
            return strom_fail_wrap(e, "%s: key column '%s'", kv->name, c->name);
        if (i + 1 == kv->cfg.nbk)
            bk_end = out->len;
    }
    return key_finish(kv, out, bk_end);
}

/* ----------------------------------------------------------- raw access */

void kv_perf_off(void)
{
    static __thread int off;
    if (!off) {
        rocksdb_set_perf_level(rocksdb_disable);
        off = 1;
    }
}

static strom_err rocks_fail(kv_state *kv, char *err, const char *what)
{
    strom_err e = strom_fail(STROM_EIO, "%s: state store %s: %s", kv->name, what, err);
    rocksdb_free(err);
    return e;
}

strom_err kv_get_raw(kv_state *kv, const uint8_t *key, size_t klen, char **val, size_t *vlen)
{
    char *err = NULL;
    kv_perf_off();
    *val = rocksdb_get(kv->db, kv->ro, (const char *)key, klen, vlen, &err);
    return err ? rocks_fail(kv, err, "get") : STROM_OK;
}

void kv_writer_key(int64_t writer, uint8_t k[10])
{
    k[0] = KV_TAG_META;
    k[1] = 'w';
    for (int i = 0; i < 8; i++)
        k[2 + i] = (uint8_t)((uint64_t)writer >> (56 - 8 * i));
}

strom_err kv_writer_seq(kv_state *kv, int64_t writer, int32_t *seq)
{
    uint8_t k[10];
    char *v = NULL;
    size_t vlen = 0;
    kv_writer_key(writer, k);
    *seq = -1;
    strom_err e = kv_get_raw(kv, k, sizeof k, &v, &vlen);
    if (e == STROM_OK && v && vlen != 4)
        e = strom_fail(STROM_ECORRUPT, "%s: writer sequence has %zu bytes, not 4", kv->name, vlen);
    else if (e == STROM_OK && v)
        *seq = (int32_t)strom_get_u32((const uint8_t *)v);
    rocksdb_free(v);
    return e;
}

strom_err kv_apply_batch(kv_state *kv, rocksdb_writebatch_t *wb, int64_t new_ckpt)
{
    uint8_t v[8];
    strom_put_i64(v, new_ckpt);
    rocksdb_writebatch_put(wb, ckpt_key, CKPT_KEY_LEN, (const char *)v, 8);
    char *err = NULL;
    pthread_mutex_lock(&kv->amu);
    kv_perf_off();
    uint64_t window = kv_cache_begin(kv->cache, wb);
    rocksdb_write(kv->db, kv->wo, wb, &err);
    if (!err) {
        /* Only now, with RocksDB holding the batch (and the changelog durable before it),
         * do readers of the cache see the new rows. */
        kv_cache_apply(kv->cache, wb);
        kv->checkpoint = new_ckpt;
    }
    kv_cache_end(kv->cache, window);
    pthread_mutex_unlock(&kv->amu);
    if (err) {
        __atomic_store_n(&kv->fenced, 1, __ATOMIC_RELEASE);
        return rocks_fail(kv, err, "write");
    }
    return STROM_OK;
}

/* ------------------------------------------------------------- lookups */

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
    strom_buf *b = p;
    strom_buf_free(&b[0]);
    strom_buf_free(&b[1]);
    free(p);
}

static void scratch_init(void) { (void)pthread_key_create(&scratch_key, scratch_free); }

/* The calling thread's scratch buffers: [0] kv_key_scratch, [1] kv_keys_scratch. */
strom_buf *kv_key_scratch(void)
{
    pthread_once(&scratch_once, scratch_init);
    strom_buf *b = pthread_getspecific(scratch_key);
    if (!b && (b = strom_calloc(2, sizeof *b)) != NULL && pthread_setspecific(scratch_key, b)) {
        free(b);
        b = NULL;
    }
    return b;
}

strom_buf *kv_keys_scratch(void)
{
    strom_buf *b = kv_key_scratch();
    return b ? b + 1 : NULL;
}

typedef struct decode_arg {
    strom_builder *out;
    const strom_schema *s;
    int found;               /* AS OF: the answer was a row */
} decode_arg;

static strom_err decode_cb(void *arg, const uint8_t *v, size_t vlen)
{
    decode_arg *a = arg;
    return kv_row_decode(a->out, a->s, v, vlen);
}

uint64_t kv_key_hash(const uint8_t *k, size_t klen) { return kv_cache_hash(k, klen); }

void kv_lookup_prefetch(kv_state *kv, uint64_t h, int stage)
{
    kv_cache_prefetch(kv->cache, h, stage);
}

strom_err kv_lookup_key(kv_state *kv, const uint8_t *k, size_t klen, strom_builder *out,
                        int *found)
{
    return kv_lookup_key_h(kv, k, klen, kv_cache_hash(k, klen), out, found);
}

strom_err kv_lookup_key_h(kv_state *kv, const uint8_t *k, size_t klen, uint64_t h,
                          strom_builder *out, int *found)
{
    decode_arg a = {out, kv->cfg.schema, 0};
    uint64_t ticket = 0;
    strom_err e = STROM_OK;
    *found = kv_cache_get(kv->cache, k, klen, h, decode_cb, &a, &e, &ticket);
    if (*found) {
        *found = e == STROM_OK;
        return e;
    }
    if (kv_cache_complete(kv->cache, h))
        return STROM_OK;   /* a miss in a complete shard: no row (cache.h) */
    char *v = NULL;
    size_t vlen = 0;
    e = kv_get_raw(kv, k, klen, &v, &vlen);
    if (e == STROM_OK && v) {
        kv_cache_fill(kv->cache, ticket, k, klen, h, (const uint8_t *)v, vlen);
        e = kv_row_decode(out, kv->cfg.schema, (const uint8_t *)v, vlen);
        *found = e == STROM_OK;
    }
    rocksdb_free(v);
    return e;
}

/* AS OF through the cache: the answer from the entry's current row and history
 * (cache.h), decoded into out; NULL: no row at t. */
static strom_err asof_cb(void *arg, const uint8_t *v, size_t vlen)
{
    decode_arg *a = arg;
    a->found = v != NULL;
    return v ? kv_row_decode(a->out, a->s, v, vlen) : STROM_OK;
}

/* Could a history TTL compaction have dropped the answer of AS OF t from RocksDB? Then
 * the cache must not answer either (it may still hold the dropped version). */
static int before_cutoff(kv_state *kv, int64_t t)
{
    if (kv->cfg.hist_ttl_ms <= 0)
        return 0;
    int64_t manual = __atomic_load_n(&kv->max_cutoff, __ATOMIC_ACQUIRE);
    return t < manual || t < strom_now_ms() - kv->cfg.hist_ttl_ms;
}

strom_err kv_lookup_asof_cached(kv_state *kv, const uint8_t *k, size_t klen, int64_t t,
                                strom_builder *out, int *found, int *answered)
{
    decode_arg a = {out, kv->cfg.schema, 0};
    strom_err e = STROM_OK;
    *answered = !before_cutoff(kv, t) &&
                kv_cache_get_asof(kv->cache, k, klen, kv_cache_hash(k, klen), t, asof_cb, &a, &e);
    *found = *answered && e == STROM_OK && a.found;
    return e;
}

strom_err kv_lookup(kv_state *kv, const strom_value *key, strom_builder *out, int *found)
{
    strom_buf *k = kv_key_scratch();
    *found = 0;
    strom_err e = k ? kv_key_from_values(kv, key, 0, k) : STROM_ENOMEM;
    return e == STROM_OK ? kv_lookup_key(kv, k->data, k->len, out, found) : e;
}

void kv_cache_stats(kv_state *kv, int64_t *entries, int64_t *bytes)
{
    kv_cache_usage(kv->cache, entries, bytes);
}

/* Decodes the multi-get results into out; frees them all. */
static strom_err batch_collect(kv_state *kv, size_t n, char **vals, size_t *vlens, char **errs,
                               strom_builder *out, uint8_t *found)
{
    strom_err e = STROM_OK;
    for (size_t i = 0; i < n; i++) {
        found[i] = 0;
        if (errs[i] && e == STROM_OK)
            e = strom_fail(STROM_EIO, "%s: state store multi-get: %s", kv->name, errs[i]);
        else if (vals[i] && e == STROM_OK) {
            e = kv_row_decode(out, kv->cfg.schema, (const uint8_t *)vals[i], vlens[i]);
            found[i] = e == STROM_OK;
        }
        rocksdb_free(errs[i]);
        rocksdb_free(vals[i]);
    }
    return e;
}

strom_err kv_lookup_batch(kv_state *kv, const strom_value *keys, size_t n, strom_builder *out,
                          uint8_t *found)
{
    if (n == 0)
        return STROM_OK;
    strom_buf kb = {0}, one = {0};
    size_t *klen = strom_calloc(n * 3, sizeof(size_t)), *koff = klen + n, *vlens = klen + 2 * n;
    char **ptrs = strom_calloc(n * 3, sizeof(char *)), **vals = ptrs + n, **errs = ptrs + 2 * n;
    strom_err e = klen && ptrs ? STROM_OK : STROM_ENOMEM;
    for (size_t i = 0; i < n && e == STROM_OK; i++) {
        e = kv_key_from_values(kv, keys + i * (size_t)kv->cfg.npk, 0, &one);
        koff[i] = kb.len;
        klen[i] = one.len;
        if (e == STROM_OK)
            e = strom_buf_append(&kb, one.data, one.len);
    }
    if (e == STROM_OK) {
        for (size_t i = 0; i < n; i++)
            ptrs[i] = (char *)kb.data + koff[i];
        rocksdb_multi_get(kv->db, kv->ro, n, (const char *const *)ptrs, klen, vals, vlens, errs);
        e = batch_collect(kv, n, vals, vlens, errs, out, found);
    }
    free(klen);
    free(ptrs);
    strom_buf_free(&kb);
    strom_buf_free(&one);
    return e;
}

strom_err kv_prefix_lookup(kv_state *kv, const strom_value *bkey, strom_builder *out,
                           int64_t *nfound)
{
    strom_buf p = {0};
    *nfound = 0;
    strom_err e = kv_key_from_values(kv, bkey, 1, &p);
    if (e != STROM_OK) {
        strom_buf_free(&p);
        return e;
    }
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_prefix_same_as_start(ro, 1);
    rocksdb_iterator_t *it = rocksdb_create_iterator(kv->db, ro);
    for (rocksdb_iter_seek(it, (const char *)p.data, p.len); e == STROM_OK && rocksdb_iter_valid(it);
         rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl), *v = rocksdb_iter_value(it, &vl);
        if (kl < p.len || memcmp(k, p.data, p.len))
            break;
        e = kv_row_decode(out, kv->cfg.schema, (const uint8_t *)v, vl);
        *nfound += e == STROM_OK;
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    if (err && e == STROM_OK)
        e = rocks_fail(kv, err, "prefix scan");
    else
        rocksdb_free(err);
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    strom_buf_free(&p);
    return e;
}

/* ------------------------------------------------------------- open, close */

static strom_err check_config(const kv_config *c)
{
    if (c->npk < 1 || c->npk > LOG_MAX_KEY_COLS || c->nbk < 0 || c->nbk > c->npk)
        return strom_fail(STROM_EINVAL, "%s: bad primary key (%d columns) or bucket key (%d)",
                          c->name, c->npk, c->nbk);
    return STROM_OK;
}

/* korder: bucket-key columns first, then the other primary-key columns. */
static strom_err make_order(kv_state *kv)
{
    kv_config *c = &kv->cfg;
    if (c->nbk == 0) {
        memcpy(c->bk, c->pk, sizeof c->pk);
        c->nbk = c->npk;
    }
    int n = 0;
    for (int i = 0; i < c->nbk + c->npk; i++) {
        int col = i < c->nbk ? c->bk[i] : c->pk[i - c->nbk], pos = -1, dup = 0;
        for (int j = 0; j < c->npk; j++)
            pos = c->pk[j] == col ? j : pos;
        for (int j = 0; j < n; j++)
            dup |= kv->korder[j] == col;
        if (pos < 0)
            return strom_fail(STROM_EOPTION, "%s: bucket-key column '%s' is not part of the "
                              "primary key", c->name, c->schema->cols[col].name);
        if (dup)
            continue;
        kv->kpos[n] = pos;
        kv->korder[n++] = col;
    }
    return STROM_OK;
}

static strom_err read_checkpoint(kv_state *kv)
{
    char *v = NULL;
    size_t vlen = 0;
    strom_err e = kv_get_raw(kv, (const uint8_t *)ckpt_key, CKPT_KEY_LEN, &v, &vlen);
    kv->checkpoint = 0;
    if (e == STROM_OK && v && vlen != 8)
        e = strom_fail(STROM_ECORRUPT, "%s: state checkpoint has %zu bytes, not 8", kv->name, vlen);
    else if (e == STROM_OK && v)
        kv->checkpoint = strom_get_i64((const uint8_t *)v);
    rocksdb_free(v);
    return e;
}

strom_err kv_replay(kv_state *kv);   /* write.c */

/* A state without rows (a new table, or one being rebuilt): its row cache, empty, is
 * complete (cache.h), so the first writes of its keys read nothing from RocksDB. */
static strom_err mark_cache_complete(kv_state *kv)
{
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_total_order_seek(ro, 1);
    rocksdb_iterator_t *it = rocksdb_create_iterator(kv->db, ro);
    const char tag = (char)KV_TAG_ROW;
    rocksdb_iter_seek(it, &tag, 1);
    size_t kl = 0;
    int rows = rocksdb_iter_valid(it) && rocksdb_iter_key(it, &kl)[0] == tag;
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    if (err)
        return rocks_fail(kv, err, "open (first row)");
    if (!rows)
        kv_cache_set_complete(kv->cache);
    return STROM_OK;
}

static strom_err open_db(kv_state *kv, const char *dir)
{
    char *err = NULL;
    int rc = strom_mkdirs(dir, 0755);
    if (rc != 0)
        return strom_fail_errno(rc, "%s: cannot create state directory %s", kv->name, dir);
    kv->opts = make_options();
    kv_history_setup(kv, kv->opts);
    /* Opened through the column-family call only to get the default family's handle,
     * which the batched (sorted, filter-batched) multi-get of the write path needs. */
    const char *cfname = "default";
    const rocksdb_options_t *cfopts = kv->opts;
    kv->db = rocksdb_open_column_families(kv->opts, dir, 1, &cfname, &cfopts, &kv->cf, &err);
    if (err)
        return rocks_fail(kv, err, "open");
    kv->ro = rocksdb_readoptions_create();
    kv->wo = rocksdb_writeoptions_create();
    /* No RocksDB WAL, no sync: strom's log is the write-ahead log; the checkpoint says
     * what to replay after a crash lost the memtables. */
    rocksdb_writeoptions_disable_WAL(kv->wo, 1);
    rocksdb_writeoptions_set_sync(kv->wo, 0);
    rocksdb_writeoptions_set_memtable_insert_hint_per_batch(kv->wo, 1); /* make_options */
    kv->wo_sync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(kv->wo_sync, 1);
    return STROM_OK;
}

strom_err kv_open(const char *dir, log_bucket *log, const kv_config *cfg, kv_state **out)
{
    *out = NULL;
    strom_err e = check_config(cfg);
    if (e != STROM_OK)
        return e;
    kv_state *kv = strom_calloc(1, sizeof *kv);
    if (!kv)
        return STROM_ENOMEM;
    kv->cfg = *cfg;
    kv->log = log;
    pthread_mutex_init(&kv->mu, NULL);
    pthread_mutex_init(&kv->amu, NULL);
    pthread_mutex_init(&kv->pmu, NULL);
    pthread_cond_init(&kv->pcv, NULL);
    kv->name = strom_strdup(cfg->name ? cfg->name : "kv");
    kv->enc = fmt_encoder_create();
    kv->max_cutoff = INT64_MIN;
    kv->cache = kv_cache_create();
    e = kv->name && kv->enc && kv->cache ? make_order(kv) : STROM_ENOMEM;
    if (e == STROM_OK)
        e = open_db(kv, dir);
    if (e == STROM_OK)
        e = read_checkpoint(kv);
    if (e == STROM_OK)
        e = kv_versions_open(kv);
    if (e == STROM_OK)
        e = mark_cache_complete(kv);
    if (e == STROM_OK)
        e = kv_replay(kv);
    if (e == STROM_OK)
        e = kv_ttl_start(kv);
    if (e != STROM_OK) {
        kv_close(kv);
        return e;
    }
    *out = kv;
    return STROM_OK;
}

void kv_close(kv_state *kv)
{
    if (!kv)
        return;
    kv_ttl_stop(kv);
    if (kv->db) {
        rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
        rocksdb_flushoptions_set_wait(fo, 1);
        char *err = NULL;
        rocksdb_flush(kv->db, fo, &err);  /* best effort: a failure only means a replay */
        rocksdb_free(err);
        rocksdb_flushoptions_destroy(fo);
        if (kv->cf)
            rocksdb_column_family_handle_destroy(kv->cf);
        rocksdb_close(kv->db);
    }
    if (kv->ro)
        rocksdb_readoptions_destroy(kv->ro);
    if (kv->wo)
        rocksdb_writeoptions_destroy(kv->wo);
    if (kv->wo_sync)
        rocksdb_writeoptions_destroy(kv->wo_sync);
    if (kv->opts)
        rocksdb_options_destroy(kv->opts);
    kv_history_free(kv);
    fmt_encoder_destroy(kv->enc);
    kv_cache_destroy(kv->cache);
    pthread_mutex_destroy(&kv->mu);
    pthread_mutex_destroy(&kv->amu);
    pthread_mutex_destroy(&kv->pmu);
    pthread_cond_destroy(&kv->pcv);
    free(kv->name);
    free(kv);
}

int64_t kv_checkpoint(kv_state *kv)
{
    pthread_mutex_lock(&kv->amu);
    int64_t c = kv->checkpoint;
    pthread_mutex_unlock(&kv->amu);
    return c;
}
