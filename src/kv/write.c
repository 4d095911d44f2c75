/* write.c: kv_write (merge per key -> changelog batch -> log append -> state apply),
 * kv_replay (log -> state on open) and the write half of row expiry. Merge engines:
 * last_row, first_row, versioned, aggregation (semantics in kv.h). Replay needs no
 * engine: the changelog holds results. A write and the replay of its changelog batch
 * build the state change with the same code (put_history, apply_slots) from the same
 * inputs (the changelog rows, their commit time, the state before), so the versions and
 * the expiry index are reproduced exactly. */
#include "kv_int.h"

#include <stdlib.h>

#define HDR_COMMIT_OFF 56   /* format.h: the header's commit_timestamp */

/* One distinct key of a write: where its bytes are, its value before the write and now
 * (offsets into the write's value arena; len -1 = absent). */
typedef struct kv_slot {
    size_t koff, klen;
    uint64_t hash;           /* strom_hash64 of the key bytes */
    int64_t init_off, init_len, cur_off, cur_len;
    int64_t newest;          /* greatest version time of the key's history (INT64_MIN) */
    int pending;             /* init and newest came from a pending write (load_pending) */
} kv_slot;

/* One put or delete of the state change, kept so that the WriteBatch can be filled in
 * key order: RocksDB's memtable inserts then reuse their skiplist position (perf showed
 * the unordered inserts of hashed keys as a top cost of the write path). */
typedef struct kv_went {
    const uint8_t *k;        /* into wkeys (set once it no longer grows) */
    size_t koff, klen;
    const char *v;           /* into the value arena; NULL: a delete */
    size_t vlen;
    uint32_t seq;            /* order of addition: equal keys keep it */
} kv_went;

/* One changelog row of a write: its key's slot and (+I/+U) its value in the arena. */
typedef struct kv_crow {
    uint32_t slot;
    int64_t off, len;
} kv_crow;

typedef struct kv_wctx {
    kv_state *kv;
    strom_column cols[FMT_MAX_COLUMNS];
    const uint32_t *sel;     /* the rows written (NULL: all); position i is row ROW(w, i) */
    strom_buf keys;          /* every row's key bytes, back to back */
    size_t *rkoff, *rklen;   /* per row */
    uint32_t *rslot;         /* per row: its slot */
    kv_slot *slots;
    size_t nslots;
    uint32_t *table;         /* open addressing: slot index + 1, 0 = empty */
    size_t tcap;
    strom_buf vals;          /* value arena */
    strom_builder *out;      /* changelog rows */
    strom_buf changes;       /* per changelog row strom_change */
    strom_buf tmp;           /* a merged row before it goes to the arena */
    strom_buf crows;         /* per changelog row kv_crow */
    strom_buf vkey;          /* a version or expiry key being built */
    strom_buf wkeys;         /* keys of the state change (kv_went.koff) */
    strom_buf wents;         /* kv_went, in order of addition */
    int64_t commit;          /* commit time of the changelog batch */
    int first_delete;        /* the write adds the deletes marker (kv.h) */
    kv_val *nv, *ov;         /* new row, stored row (aggregation, versioned, partial) */
    const uint8_t *mask;     /* partial update: the columns written; NULL: all */
    int64_t writer;          /* idempotent write: writer id (> 0), else 0 */
    int32_t seq;             /* and its batch sequence */
} kv_wctx;

#define ROW(w, i) ((w)->sel ? (int64_t)(w)->sel[i] : (int64_t)(i))

/* A write whose changelog batch is appended and whose state change is ready in wb, waiting
 * for the batch to be durable and for its turn (log order) to be applied. Its wctx is
 * left unchanged from then on: the next writes read their keys' current rows from it
 * (load_pending) until it leaves kv->pending. */
typedef struct kv_pending {
    kv_wctx *w;
    rocksdb_writebatch_t *wb;
    int64_t end;             /* log offset one past its changelog batch */
    int64_t ckpt;            /* the checkpoint once it is applied */
    int64_t base, changes;   /* its changelog rows */
    struct kv_pending *next;
} kv_pending;

int kv_fenced(kv_state *kv)
{
    return __atomic_load_n(&kv->fenced, __ATOMIC_ACQUIRE);
}

static void set_fenced(kv_state *kv)
{
    __atomic_store_n(&kv->fenced, 1, __ATOMIC_RELEASE);
}

void kv_drain(kv_state *kv)
{
    pthread_mutex_lock(&kv->pmu);
    while (kv->pending)
        pthread_cond_wait(&kv->pcv, &kv->pmu);
    pthread_mutex_unlock(&kv->pmu);
}

static int is_pk(const kv_state *kv, int col)
{
    for (int i = 0; i < kv->cfg.npk; i++)
        if (kv->cfg.pk[i] == col)
            return 1;
    return 0;
}

static strom_err check_schema(kv_state *kv, const strom_schema *s)
{
    const strom_schema *t = kv->cfg.schema;
    for (int i = 0; i < t->ncols; i++) {
        if (i >= s->ncols)
            return strom_fail(STROM_ESCHEMA, "%s: the rows lack column '%s'%s", kv->name,
                              t->cols[i].name, is_pk(kv, i) ? " (primary key)" : "");
        if (strcmp(s->cols[i].name, t->cols[i].name) || s->cols[i].type != t->cols[i].type)
            return strom_fail(STROM_ESCHEMA, "%s: column %d of the rows is '%s' %s, the table "
                              "has '%s' %s", kv->name, i, s->cols[i].name,
                              strom_type_name(s->cols[i].type), t->cols[i].name,
                              strom_type_name(t->cols[i].type));
    }
    if (s->ncols > t->ncols)
        return strom_fail(STROM_ESCHEMA, "%s: the rows have an unknown column '%s'", kv->name,
                          s->cols[t->ncols].name);
    return STROM_OK;
}

/* Finds or adds the slot of row r's key. */
static strom_err slot_of(kv_wctx *w, int64_t r)
{
    const uint8_t *k = w->keys.data + w->rkoff[r];
    size_t kl = w->rklen[r], mask = w->tcap - 1;
    uint64_t hash = strom_hash64(k, kl);
    for (size_t h = hash & mask;; h = (h + 1) & mask) {
        uint32_t s = w->table[h];
        if (s == 0) {
            kv_slot *n = &w->slots[w->nslots];
            *n = (kv_slot){w->rkoff[r], kl, hash, 0, -1, 0, -1, INT64_MIN, 0};
            w->table[h] = (uint32_t)++w->nslots;
            w->rslot[r] = (uint32_t)(w->nslots - 1);
            return STROM_OK;
        }
        kv_slot *o = &w->slots[s - 1];
        if (o->klen == kl && !memcmp(w->keys.data + o->koff, k, kl)) {
            w->rslot[r] = s - 1;
            return STROM_OK;
        }
    }
}

/* Keys of every row (NULL keys fail here, before anything is written) and their slots. */
static strom_err collect_keys(kv_wctx *w, int64_t n)
{
    strom_buf one = {0};
    strom_err e = STROM_OK;
    for (int64_t r = 0; r < n && e == STROM_OK; r++) {
        e = kv_key_from_columns(w->kv, w->cols, ROW(w, r), &one);
        w->rkoff[r] = w->keys.len;
        w->rklen[r] = one.len;
        if (e == STROM_OK)
            e = strom_buf_append(&w->keys, one.data, one.len);
    }
    strom_buf_free(&one);
    for (int64_t r = 0; r < n && e == STROM_OK; r++)
        e = slot_of(w, r);
    return e;
}

/* The newest version time of every key: from its row's value; a key without a row has
 * history only if it was deleted: with the commit time as version time that delete is
 * older than this write (INT64_MIN will do), with a version column its history is read
 * with one seek (one iterator for the write) unless the bucket never had a delete. */
static strom_err load_newest(kv_wctx *w)
{
    rocksdb_iterator_t *it = NULL;
    strom_err e = STROM_OK;
    for (size_t i = 0; i < w->nslots && e == STROM_OK; i++) {
        kv_slot *s = &w->slots[i];
        kv_times t;
        if (s->pending)
            continue;   /* known from the pending write */
        if (s->init_len >= 0 && !kv_row_times(w->vals.data + s->init_off, (size_t)s->init_len, &t))
            s->newest = t.newest;
        else if (s->init_len < 0 && w->kv->cfg.use_vcol && w->kv->any_delete) {
            if (!it)
                it = kv_prefix_iter(w->kv);
            e = kv_newest_version(w->kv, it, w->keys.data + s->koff, s->klen, &w->vkey,
                                  &s->newest);
        }
    }
    if (it)
        rocksdb_iter_destroy(it);
    return e;
}

/* A cached current value of a slot, copied into the value arena. */
typedef struct cache_copy {
    kv_wctx *w;
    kv_slot *s;
} cache_copy;

static strom_err cache_copy_cb(void *arg, const uint8_t *v, size_t vlen)
{
    cache_copy *c = arg;
    c->s->init_off = c->s->cur_off = (int64_t)c->w->vals.len;
    c->s->init_len = c->s->cur_len = (int64_t)vlen;
    return strom_buf_append(&c->w->vals, v, vlen);
}

/* The slot of key k in write w (a pending one), or NULL. */
static const kv_slot *pending_slot(const kv_wctx *w, const uint8_t *k, size_t kl, uint64_t hash)
{
    size_t mask = w->tcap - 1;
    for (size_t h = hash & mask;; h = (h + 1) & mask) {
        uint32_t i = w->table[h];
        if (i == 0)
            return NULL;
        const kv_slot *o = &w->slots[i - 1];
        if (o->hash == hash && o->klen == kl && !memcmp(w->keys.data + o->koff, k, kl))
            return o;
    }
}

/* The slots whose keys a pending write has (appended, not yet applied: the row cache and
 * RocksDB do not show it yet) take their current row and newest version time from the
 * latest such write. Writes join kv->pending only under kv->mu, which this write holds,
 * and leave it only after they are applied: a key found in none of them has its current
 * row in the cache / RocksDB. */
static strom_err load_pending(kv_wctx *w)
{
    strom_err e = STROM_OK;
    kv_state *kv = w->kv;
    pthread_mutex_lock(&kv->pmu);
    for (kv_pending *p = kv->pending; p && e == STROM_OK; p = p->next) {   /* oldest first */
        for (size_t i = 0; i < w->nslots && e == STROM_OK; i++) {
            kv_slot *s = &w->slots[i];
            const kv_slot *o = pending_slot(p->w, w->keys.data + s->koff, s->klen, s->hash);
            if (!o)
                continue;
            s->pending = 1;
            s->newest = o->newest;
            s->init_off = s->cur_off = (int64_t)w->vals.len;
            s->init_len = s->cur_len = o->cur_len;
            if (o->cur_len >= 0)
                e = strom_buf_append(&w->vals, p->w->vals.data + o->cur_off, (size_t)o->cur_len);
        }
    }
    pthread_mutex_unlock(&kv->pmu);
    return e;
}

/* The greatest batch sequence of writer id writer among the pending writes (or *last). */
static void pending_writer_seq(kv_state *kv, int64_t writer, int32_t *last)
{
    pthread_mutex_lock(&kv->pmu);
    for (kv_pending *p = kv->pending; p; p = p->next)
        if (p->w->writer == writer && p->w->seq > *last)
            *last = p->w->seq;
    pthread_mutex_unlock(&kv->pmu);
}

/* The slots whose current value the row cache holds get it from there (the cache is
 * written through as writes are applied, and a key it could be behind on is in a pending
 * write, load_pending, so it is exact); a miss in a complete shard (cache.h) means no row;
 * the indexes of the others into miss (*nmiss). */
static strom_err load_cached(kv_wctx *w, size_t *miss, size_t *nmiss)
{
    strom_err e = STROM_OK;
    *nmiss = 0;
    for (size_t i = 0; i < w->nslots && e == STROM_OK; i++) {
        kv_slot *s = &w->slots[i];
        const uint8_t *k = w->keys.data + s->koff;
        cache_copy c = {w, s};
        uint64_t ticket;
        uint64_t h = kv_cache_hash(k, s->klen);
        if (s->pending)
            continue;
        if (!kv_cache_get(w->kv->cache, k, s->klen, h, cache_copy_cb, &c, &e, &ticket) &&
            !kv_cache_complete(w->kv->cache, h))   /* a complete shard's miss: no row */
            miss[(*nmiss)++] = i;
    }
    return e;
}

static strom_err load_pending(kv_wctx *w);

/* Current state of every distinct key: the pending writes, the row cache, then one
 * batched multi-get of the keys neither holds. */
static strom_err load_state(kv_wctx *w)
{
    size_t n = w->nslots, m = 0;
    size_t *kl = strom_calloc(n * 2, sizeof(size_t)), *miss = kl ? kl + n : NULL;
    char **kp = strom_calloc(n * 2, sizeof(char *)), **ep = kp ? kp + n : NULL;
    rocksdb_pinnableslice_t **vp = strom_calloc(n, sizeof *vp);
    strom_err e = kl && kp && vp ? load_pending(w) : STROM_ENOMEM;
    if (e == STROM_OK)
        e = load_cached(w, miss, &m);
    if (e == STROM_OK && m > 0) {
        for (size_t i = 0; i < m; i++) {
            kp[i] = (char *)w->keys.data + w->slots[miss[i]].koff;
            kl[i] = w->slots[miss[i]].klen;
        }
        kv_perf_off();
        rocksdb_batched_multi_get_cf(w->kv->db, w->kv->ro, w->kv->cf, m,
                                     (const char *const *)kp, kl, vp, ep, 0);
    }
    for (size_t i = 0; e == STROM_OK && i < m; i++) {
        size_t vl = 0;
        const char *v = vp[i] ? rocksdb_pinnableslice_value(vp[i], &vl) : NULL;
        kv_slot *s = &w->slots[miss[i]];
        if (ep[i])
            e = strom_fail(STROM_EIO, "%s: state store multi-get: %s", w->kv->name, ep[i]);
        else if (v) {
            s->init_off = s->cur_off = (int64_t)w->vals.len;
            s->init_len = s->cur_len = (int64_t)vl;
            e = strom_buf_append(&w->vals, v, vl);
        }
    }
    for (size_t i = 0; kp && vp && i < m; i++) {
        rocksdb_pinnableslice_destroy(vp[i]);
        rocksdb_free(ep[i]);
    }
    free(kl);
    free(kp);
    free(vp);
    return e ? e : load_newest(w);
}

static strom_err emit(kv_wctx *w, kv_slot *s, strom_change c, int64_t off, int64_t len)
{
    uint8_t b = (uint8_t)c;
    kv_crow cr = {(uint32_t)(s - w->slots), off, len};
    strom_err e = kv_row_decode(w->out, w->kv->cfg.schema, w->vals.data + off, (size_t)len);
    if (e == STROM_OK)
        e = strom_buf_append(&w->crows, &cr, sizeof cr);
    return e ? e : strom_buf_append(&w->changes, &b, 1);
}

/* Makes the row value at [off, off+len) of the arena the key's row: +I, or -U/+U. */
static strom_err put_row(kv_wctx *w, kv_slot *s, int64_t off, int64_t len)
{
    strom_err e = STROM_OK;
    if (s->cur_len >= 0 && w->kv->cfg.image_full)
        e = emit(w, s, STROM_UPDATE_BEFORE, s->cur_off, s->cur_len);
    if (e == STROM_OK)
        e = emit(w, s, s->cur_len >= 0 ? STROM_UPDATE_AFTER : STROM_INSERT, off, len);
    s->cur_off = off;
    s->cur_len = len;
    return e;
}

static int cmp_val(strom_type t, const kv_val *a, const kv_val *b)
{
    if (t == STROM_FLOAT || t == STROM_DOUBLE)
        return (a->f > b->f) - (a->f < b->f);
    if (t == STROM_STRING || t == STROM_BYTES) {
        int c = memcmp(a->p ? (const void *)a->p : "", b->p ? (const void *)b->p : "",
                       a->n < b->n ? a->n : b->n);
        return c ? c : (a->n > b->n) - (a->n < b->n);
    }
    return (a->i > b->i) - (a->i < b->i);
}

/* Merges the new value n of column c into the stored value o (aggregation). */
static strom_err agg_col(kv_wctx *w, int c, kv_val *o, const kv_val *n)
{
    strom_type t = w->kv->cfg.schema->cols[c].type;
    int f = w->kv->cfg.agg[c];
    switch (f) {
    case KV_AGG_SUM:
        if (n->null)
            return STROM_OK;
        if (o->null) {
            *o = *n;
        } else if (t == STROM_FLOAT || t == STROM_DOUBLE) {
            o->f += n->f;
        } else {
            int64_t r;
            if (__builtin_add_overflow(o->i, n->i, &r) ||
                (t == STROM_INT && (r < INT32_MIN || r > INT32_MAX)))
                return strom_fail(STROM_ELIMIT, "%s: column '%s': sum %lld + %lld overflows "
                                  "%s", w->kv->name, w->kv->cfg.schema->cols[c].name,
                                  (long long)o->i, (long long)n->i, strom_type_name(t));
            o->i = r;
        }
        return STROM_OK;
    case KV_AGG_MIN:
    case KV_AGG_MAX:
        if (!n->null && (o->null || (f == KV_AGG_MIN ? cmp_val(t, n, o) < 0
                                                      : cmp_val(t, n, o) > 0)))
            *o = *n;
        return STROM_OK;
    case KV_AGG_LAST_VALUE:
        *o = *n;
        return STROM_OK;
    case KV_AGG_FIRST_VALUE:
        return STROM_OK;
    case KV_AGG_FIRST_VALUE_IGNORE_NULLS:
        if (o->null)
            *o = *n;
        return STROM_OK;
    case KV_AGG_COUNT:
        if (!n->null) {
            o->i = (o->null ? 0 : o->i) + 1;
            o->null = 0;
        }
        return STROM_OK;
    default: /* last_value_ignore_nulls */
        if (!n->null)
            *o = *n;
        return STROM_OK;
    }
}

/* Encodes vals into the arena (through tmp: vals may point into the arena); *off, *len. */
static strom_err vals_to_arena(kv_wctx *w, const kv_val *vals, int64_t *off, int64_t *len)
{
    strom_buf_clear(&w->tmp);
    strom_err e = kv_vals_encode(&w->tmp, w->kv->cfg.schema, vals);
    *off = (int64_t)w->vals.len;
    *len = (int64_t)w->tmp.len;
    return e ? e : strom_buf_append(&w->vals, w->tmp.data, w->tmp.len);
}

/* Upsert of row r by merging values (aggregation, or a partial update under last_row):
 * a new key takes the written columns (the rest NULL; aggregation count columns 1 or 0 by
 * the value); an existing key merges the written non-key columns (aggregation: by their
 * function; last_row: the new value) and keeps the others. */
static strom_err merge_vals(kv_wctx *w, kv_slot *s, int64_t r)
{
    const strom_schema *sc = w->kv->cfg.schema;
    int agg = w->kv->cfg.engine == KV_ENGINE_AGGREGATION;
    kv_cols_vals(w->cols, sc->ncols, ROW(w, r), w->nv);
    strom_err e = s->cur_len < 0 ? STROM_OK
                                 : kv_row_vals(sc, w->vals.data + s->cur_off,
                                               (size_t)s->cur_len, w->ov);
    for (int c = 0; c < sc->ncols && e == STROM_OK; c++) {
        int written = !w->mask || w->mask[c];
        if (is_pk(w->kv, c))
            continue;
        if (s->cur_len < 0) {
            if (!written)
                w->nv[c] = (kv_val){.null = 1};
            if (agg && w->kv->cfg.agg[c] == KV_AGG_COUNT)
                w->nv[c] = (kv_val){.i = !w->nv[c].null};
        } else if (!written) {
            w->nv[c] = w->ov[c];
        } else if (agg) {
            e = agg_col(w, c, &w->ov[c], &w->nv[c]);
            w->nv[c] = w->ov[c];
        }
    }
    int64_t off = 0, len = 0;
    if (e == STROM_OK)
        e = vals_to_arena(w, w->nv, &off, &len);
    return e ? e : put_row(w, s, off, len);
}

/* Versioned: does row r win over the key's row? */
static strom_err version_wins(kv_wctx *w, kv_slot *s, int64_t r, int *wins)
{
    const strom_schema *sc = w->kv->cfg.schema;
    int vc = w->kv->cfg.ver_col;
    kv_val nv;
    kv_cols_vals(&w->cols[vc], 1, ROW(w, r), &nv);
    *wins = !nv.null;
    if (nv.null || s->cur_len < 0)
        return STROM_OK;
    strom_err e = kv_row_vals(sc, w->vals.data + s->cur_off, (size_t)s->cur_len, w->ov);
    *wins = e == STROM_OK && (w->ov[vc].null || nv.i >= w->ov[vc].i);
    return e;
}

/* Row r merged into its key's current row by the merge engine (see kv.h). */
static strom_err merge_row(kv_wctx *w, int64_t r, int del)
{
    kv_slot *s = &w->slots[w->rslot[r]];
    kv_engine eng = w->kv->cfg.engine;
    strom_err e = STROM_OK;
    if (del && (eng == KV_ENGINE_FIRST_ROW || eng == KV_ENGINE_VERSIONED))
        return STROM_OK;
    if (del) {
        if (s->cur_len >= 0)
            e = emit(w, s, STROM_DELETE, s->cur_off, s->cur_len);
        s->cur_len = -1;
        return e;
    }
    if (eng == KV_ENGINE_FIRST_ROW && s->cur_len >= 0)
        return STROM_OK;
    if (eng == KV_ENGINE_AGGREGATION || w->mask)
        return merge_vals(w, s, r);
    if (eng == KV_ENGINE_VERSIONED) {
        int wins = 0;
        e = version_wins(w, s, r, &wins);
        if (e != STROM_OK || !wins)
            return e;
    }
    int64_t off = (int64_t)w->vals.len;
    e = kv_row_encode(&w->vals, w->cols, w->kv->cfg.schema->ncols, ROW(w, r));
    return e ? e : put_row(w, s, off, (int64_t)w->vals.len - off);
}

/* Appends the changelog batch without waiting for it to be durable (*end: for
 * log_bucket_flush_to, which finish_write calls whatever the flush mode). */
static strom_err append_changelog(kv_wctx *w, int64_t *base, int64_t *end)
{
    kv_state *kv = w->kv;
    fmt_encode_opts o = kv->cfg.enc;
    o.changes = w->changes.data;
    if (w->writer > 0) {
        o.writer_id = w->writer;
        o.batch_seq = w->seq;
    }
    strom_buf batch = {0};
    strom_err e = fmt_encode(kv->enc, w->out, NULL, 0, &o, &batch);
    if (e == STROM_OK)
        e = log_bucket_append_nowait(kv->log, batch.data, batch.len, base, end);
    if (e == STROM_OK)  /* the append stamped the header in place */
        w->commit = strom_get_i64(batch.data + HDR_COMMIT_OFF);
    strom_buf_free(&batch);
    return e == STROM_OK ? e : strom_fail_wrap(e, "%s: changelog append", kv->name);
}

/* The writer's sequence into wb (idempotent writes). */
static void put_writer_seq(rocksdb_writebatch_t *wb, int64_t writer, int32_t seq)
{
    uint8_t k[10], v[4];
    kv_writer_key(writer, k);
    strom_put_u32(v, (uint32_t)seq);
    rocksdb_writebatch_put(wb, (const char *)k, sizeof k, (const char *)v, sizeof v);
}

/* An idempotent write that changed no row: its sequence alone, with RocksDB's WAL, once
 * the pending writes (which may carry older sequences of the writer) are applied. */
static strom_err store_seq_alone(kv_wctx *w)
{
    kv_drain(w->kv);
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    put_writer_seq(wb, w->writer, w->seq);
    char *err = NULL;
    rocksdb_write(w->kv->db, w->kv->wo_sync, wb, &err);
    rocksdb_writebatch_destroy(wb);
    strom_err e = err ? strom_fail(STROM_EIO, "%s: state store write (writer sequence): %s",
                                   w->kv->name, err) : STROM_OK;
    rocksdb_free(err);
    return e;
}

/* Adds a put (v != NULL) or delete of key k to the state change. */
static strom_err went_add(kv_wctx *w, const uint8_t *k, size_t klen, const char *v, size_t vlen)
{
    kv_went e = {NULL, w->wkeys.len, klen, v, vlen,
                 (uint32_t)(w->wents.len / sizeof(kv_went))};
    strom_err err = strom_buf_append(&w->wkeys, k, klen);
    return err ? err : strom_buf_append(&w->wents, &e, sizeof e);
}

static int went_cmp(const void *pa, const void *pb)
{
    const kv_went *a = pa, *b = pb;
    int av = a->k[0] != KV_TAG_VERSION, bv = b->k[0] != KV_TAG_VERSION;
    if (av != bv)
        return av - bv;   /* version keys first: see went_fill */
    int c = memcmp(a->k, b->k, a->klen < b->klen ? a->klen : b->klen);
    if (c == 0)
        c = (a->klen > b->klen) - (a->klen < b->klen);
    return c ? c : (a->seq > b->seq) - (a->seq < b->seq);
}

/* The state change into wb: the version keys, then the rest, each part in key order
 * (equal keys in order of addition). RocksDB inserts a batch into the memtable in batch
 * order, and with unordered writes (state.c) readers without a snapshot see the inserts
 * as they land, so the versions a batch adds are visible before the rows that supersede
 * them: an AS OF read from RocksDB (a get of the current row, then a seek into the
 * versions) that sees a key's new row finds the version it replaced. Key order within
 * each part keeps the memtable insert hint effective. */
static void went_fill(kv_wctx *w, rocksdb_writebatch_t *wb)
{
    kv_went *e = (kv_went *)w->wents.data;
    size_t n = w->wents.len / sizeof *e;
    for (size_t i = 0; i < n; i++)
        e[i].k = w->wkeys.data + e[i].koff;
    qsort(e, n, sizeof *e, went_cmp);
    for (size_t i = 0; i < n; i++) {
        if (e[i].v)
            rocksdb_writebatch_put(wb, (const char *)e[i].k, e[i].klen, e[i].v, e[i].vlen);
        else
            rocksdb_writebatch_delete(wb, (const char *)e[i].k, e[i].klen);
    }
}

/* Version time of changelog row j (vc: the version column of the changelog rows). */
static int64_t version_time(const strom_column *vc, int64_t j, int64_t commit)
{
    kv_val v;
    if (!vc)
        return commit;
    kv_cols_vals(vc, 1, j, &v);
    return v.null ? commit : v.i;
}

/* Adds the version key of slot s at time t with value v (vlen; v "" and 0: a delete). */
static strom_err put_version(kv_wctx *w, const kv_slot *s, int64_t t, const char *v,
                             size_t vlen)
{
    kv_version_key(w->keys.data + s->koff, s->klen, t, &w->vkey);
    return w->vkey.len ? went_add(w, w->vkey.data, w->vkey.len, v, vlen) : STROM_ENOMEM;
}

/* Version time of the slot's current row (INT64_MIN if unknown: a version-1 value). */
static int64_t cur_vtime(const kv_wctx *w, const kv_slot *s)
{
    kv_times t;
    return kv_row_times(w->vals.data + s->cur_off, (size_t)s->cur_len, &t) ? INT64_MIN
                                                                             : t.vtime;
}

/* The history of the changelog rows (changes[0..n), in order) into the state change:
 * each row a change supersedes goes to its version key at its version time (unless the
 * change has the same time: the later row counts on ties anyway), each delete adds a
 * tombstone; the current row stays only in the row key. Sets the times of the new
 * values and every slot's final row (cur) and newest version time. */
static strom_err put_history(kv_wctx *w, const strom_column *vc, const uint8_t *changes,
                             int64_t n)
{
    strom_err e = STROM_OK;
    const kv_crow *cr = (const kv_crow *)w->crows.data;
    for (size_t i = 0; i < w->nslots; i++) {
        w->slots[i].cur_off = w->slots[i].init_off;
        w->slots[i].cur_len = w->slots[i].init_len;
    }
    for (int64_t j = 0; j < n && e == STROM_OK; j++) {
        if (changes[j] == STROM_UPDATE_BEFORE)
            continue;
        kv_slot *s = &w->slots[cr[j].slot];
        int del = changes[j] == STROM_DELETE;
        int64_t t = del ? w->commit : version_time(vc, j, w->commit);
        int64_t ct = s->cur_len >= 0 ? cur_vtime(w, s) : t;
        if (ct != t)   /* the superseded row joins the history */
            e = put_version(w, s, ct, (const char *)w->vals.data + s->cur_off,
                            (size_t)s->cur_len);
        s->newest = t > s->newest ? t : s->newest;
        if (e == STROM_OK && del)
            e = put_version(w, s, t, "", 0);
        else if (e == STROM_OK)
            kv_row_set_times(w->vals.data + cr[j].off, &(kv_times){w->commit, t, s->newest});
        if (e == STROM_OK && del && !w->kv->any_delete && !w->first_delete++)
            e = went_add(w, (const uint8_t *)kv_deletes_key, KV_DELETES_KEY_LEN, "", 0);
        s->cur_off = del ? 0 : cr[j].off;
        s->cur_len = del ? -1 : cr[j].len;
    }
    return e;
}

/* The expiry index entries of a slot: the old one out, the new one in. */
static strom_err put_expiry(kv_wctx *w, const kv_slot *s)
{
    kv_times t;
    const uint8_t *k = w->keys.data + s->koff;
    strom_err e = STROM_OK;
    if (s->init_len >= 0 &&
        !kv_row_times(w->vals.data + s->init_off, (size_t)s->init_len, &t)) {
        kv_expiry_key(k, s->klen, t.wtime, &w->vkey);
        e = w->vkey.len ? went_add(w, w->vkey.data, w->vkey.len, NULL, 0) : STROM_ENOMEM;
    }
    if (e == STROM_OK && s->cur_len >= 0) {
        kv_expiry_key(k, s->klen, w->commit, &w->vkey);
        e = w->vkey.len ? went_add(w, w->vkey.data, w->vkey.len, "", 0) : STROM_ENOMEM;
    }
    return e;
}

/* The rows, versions and expiry entries of the changelog rows (vc, changes: see
 * put_history) into wb; the slots' cur and newest are then final. */
static strom_err prepare_slots(kv_wctx *w, rocksdb_writebatch_t *wb, const strom_column *vc,
                               const uint8_t *changes, int64_t n)
{
    strom_err e = put_history(w, vc, changes, n);
    for (size_t i = 0; i < w->nslots && e == STROM_OK; i++) {
        kv_slot *s = &w->slots[i];
        const char *k = (const char *)w->keys.data + s->koff;
        if (s->cur_off == s->init_off && s->cur_len == s->init_len)
            continue;   /* unchanged */
        if (s->cur_len >= 0) {
            uint8_t *v = w->vals.data + s->cur_off;
            kv_times t;
            if (!kv_row_times(v, (size_t)s->cur_len, &t)) {
                t.newest = s->newest;
                kv_row_set_times(v, &t);
            }
            e = went_add(w, (const uint8_t *)k, s->klen, (const char *)v, (size_t)s->cur_len);
        } else {
            e = went_add(w, (const uint8_t *)k, s->klen, NULL, 0);
        }
        if (e == STROM_OK && w->kv->cfg.ttl_ms > 0)
            e = put_expiry(w, s);
    }
    if (e == STROM_OK)
        went_fill(w, wb);
    return e;
}

/* prepare_slots, then applied with the checkpoint new_ckpt (replay). */
static strom_err apply_slots(kv_wctx *w, rocksdb_writebatch_t *wb, const strom_column *vc,
                             const uint8_t *changes, int64_t n, int64_t new_ckpt)
{
    strom_err e = prepare_slots(w, wb, vc, changes, n);
    if (e == STROM_OK)
        e = kv_apply_batch(w->kv, wb, new_ckpt);
    if (e == STROM_OK && w->first_delete)
        w->kv->any_delete = 1;
    return e;
}

/* The version column of the changelog rows of the write (NULL: commit time). */
static const strom_column *out_vcol(kv_wctx *w, strom_column *c)
{
    if (!w->kv->cfg.use_vcol)
        return NULL;
    fmt_builder_view(w->out, w->kv->cfg.vcol, c);
    return c;
}

/* Under kv->mu: appends the write's changelog rows (not waiting for the fsync), prepares
 * the state change in p->wb (with the writer's sequence) and makes p the newest pending
 * write, which the next write merges against. */
static strom_err stage_write(kv_wctx *w, kv_pending *p)
{
    strom_column vc;
    p->changes = strom_builder_nrows(w->out);
    strom_err e = append_changelog(w, &p->base, &p->end);
    if (e != STROM_OK)
        return e;
    if (w->writer > 0)
        put_writer_seq(p->wb, w->writer, w->seq);
    e = prepare_slots(w, p->wb, out_vcol(w, &vc), w->changes.data, p->changes);
    if (e != STROM_OK) {
        set_fenced(w->kv);   /* the changelog is appended, the state cannot follow: reopen */
        return e;
    }
    if (w->first_delete)
        w->kv->any_delete = 1;   /* for the next writes' load_newest */
    p->ckpt = p->base + p->changes;
    p->w = w;
    pthread_mutex_lock(&w->kv->pmu);
    if (w->kv->pending_tail)
        w->kv->pending_tail->next = p;
    else
        w->kv->pending = p;
    w->kv->pending_tail = p;
    pthread_mutex_unlock(&w->kv->pmu);
    return STROM_OK;
}

/* Without kv->mu: waits for p's changelog to be durable and for the writes before it to
 * be applied, then applies p's state change; p leaves kv->pending. Any failure fences the
 * kv (the writes after p merged against it; reopen replays what the log holds), and a
 * fenced kv applies nothing more. */
static strom_err finish_write(kv_state *kv, kv_pending *p)
{
    strom_err e = log_bucket_flush_to(kv->log, p->end);
    if (e != STROM_OK)
        e = strom_fail_wrap(e, "%s: changelog append", kv->name);
    pthread_mutex_lock(&kv->pmu);
    while (kv->pending != p)
        pthread_cond_wait(&kv->pcv, &kv->pmu);
    pthread_mutex_unlock(&kv->pmu);
    if (e == STROM_OK && kv_fenced(kv))
        e = strom_fail(STROM_EFENCED, "%s: a state write before this one failed after its "
                       "changelog was appended; reopen to replay", kv->name);
    if (e == STROM_OK)
        e = kv_apply_batch(kv, p->wb, p->ckpt);
    if (e != STROM_OK)
        set_fenced(kv);
    pthread_mutex_lock(&kv->pmu);
    kv->pending = p->next;
    if (!kv->pending)
        kv->pending_tail = NULL;
    pthread_cond_broadcast(&kv->pcv);
    pthread_mutex_unlock(&kv->pmu);
    return e;
}

/* Appends the write's changelog rows and applies them, waiting for both (kv->mu held). */
static strom_err commit_write(kv_wctx *w, rocksdb_writebatch_t *wb, int64_t *base)
{
    kv_pending p = {.wb = wb};
    strom_err e = stage_write(w, &p);
    if (e == STROM_OK)
        e = finish_write(w->kv, &p);
    *base = p.base;
    return e;
}

/* b: the rows written (NULL: the caller sets cols). */
static strom_err wctx_init(kv_wctx *w, kv_state *kv, const strom_builder *b, int64_t n)
{
    w->kv = kv;  /* the rest was zeroed by the caller */
    for (int i = 0; b && i < kv->cfg.schema->ncols; i++)
        fmt_builder_view(b, i, &w->cols[i]);
    for (w->tcap = 16; w->tcap < (size_t)n * 2; w->tcap *= 2)
        ;
    w->rkoff = strom_calloc((size_t)n * 2, sizeof(size_t));
    w->rklen = w->rkoff ? w->rkoff + n : NULL;
    w->rslot = strom_calloc((size_t)n, sizeof(uint32_t));
    w->slots = strom_calloc((size_t)n, sizeof(kv_slot));
    w->table = strom_calloc(w->tcap, sizeof(uint32_t));
    w->out = strom_builder_create(kv->cfg.schema);
    w->nv = strom_calloc((size_t)kv->cfg.schema->ncols * 2, sizeof(kv_val));
    w->ov = w->nv ? w->nv + kv->cfg.schema->ncols : NULL;
    return w->rkoff && w->rslot && w->slots && w->table && w->out && w->nv ? STROM_OK
                                                                            : STROM_ENOMEM;
}

static void wctx_free(kv_wctx *w)
{
    free(w->rkoff);
    free(w->rslot);
    free(w->slots);
    free(w->table);
    strom_builder_destroy(w->out);
    strom_buf_free(&w->keys);
    strom_buf_free(&w->vals);
    strom_buf_free(&w->changes);
    strom_buf_free(&w->tmp);
    strom_buf_free(&w->crows);
    strom_buf_free(&w->vkey);
    strom_buf_free(&w->wkeys);
    strom_buf_free(&w->wents);
    free(w->nv);
}

/* The part of a write under kv->mu: merged, appended and staged as p (p->w set), or done
 * (p->w NULL: nothing changed, or a duplicate). */
static strom_err write_locked(kv_state *kv, kv_wctx *w, kv_pending *p, const strom_builder *b,
                              const uint32_t *sel, size_t nsel, const uint8_t *ops,
                              const kv_write_opts *o, kv_write_result *res)
{
    int64_t n = sel ? (int64_t)nsel : strom_builder_nrows(b);
    w->sel = sel;
    w->mask = o ? o->cols : NULL;
    w->writer = o && o->writer_id > 0 && o->batch_seq >= 0 ? o->writer_id : 0;
    w->seq = w->writer ? o->batch_seq : -1;
    strom_err e = check_schema(kv, fmt_builder_schema(b));
    if (e == STROM_OK && n == 0)
        return STROM_OK;
    int32_t last = -1;
    if (e == STROM_OK && w->writer)
        e = kv_writer_seq(kv, w->writer, &last);
    if (e == STROM_OK && w->writer)
        pending_writer_seq(kv, w->writer, &last);
    if (e == STROM_OK && w->writer && w->seq <= last) {
        if (res)
            res->duplicate = 1;   /* a retry of a write already applied */
        return STROM_OK;
    }
    if (e == STROM_OK && n > UINT32_MAX / 2)
        return strom_fail(STROM_ELIMIT, "%s: %lld rows in one write", kv->name, (long long)n);
    if (e == STROM_OK)
        e = wctx_init(w, kv, b, n);
    if (e == STROM_OK)
        e = collect_keys(w, n);
    if (e == STROM_OK)
        e = load_state(w);
    for (int64_t r = 0; r < n && e == STROM_OK; r++)
        e = merge_row(w, r, ops && ops[ROW(w, r)] == KV_DELETE);
    if (e != STROM_OK)
        return e;
    if (strom_builder_nrows(w->out) == 0)
        return w->writer ? store_seq_alone(w) : STROM_OK;
    p->wb = rocksdb_writebatch_create();
    return p->wb ? stage_write(w, p) : STROM_ENOMEM;
}

static strom_err fenced_fail(kv_state *kv)
{
    return strom_fail(STROM_EFENCED, "%s: the state store failed a write after the changelog "
                      "was durable; reopen to replay", kv->name);
}

strom_err kv_write(kv_state *kv, const strom_builder *b, const uint32_t *sel, size_t nsel,
                   const uint8_t *ops, kv_write_result *res)
{
    return kv_write_ex(kv, b, sel, nsel, ops, NULL, res);
}

strom_err kv_write_ex(kv_state *kv, const strom_builder *b, const uint32_t *sel, size_t nsel,
                      const uint8_t *ops, const kv_write_opts *o, kv_write_result *res)
{
    if (res)
        *res = (kv_write_result){0, -1, 0};
    kv_wctx w;
    kv_pending p = {0};
    memset(&w, 0, sizeof w);
    pthread_mutex_lock(&kv->mu);
    strom_err e = kv_fenced(kv) ? fenced_fail(kv)
                                : write_locked(kv, &w, &p, b, sel, nsel, ops, o, res);
    pthread_mutex_unlock(&kv->mu);
    if (p.w)   /* staged: the next write may merge while this one's changelog is fsynced */
        e = finish_write(kv, &p);
    if (res && p.w && e == STROM_OK)
        *res = (kv_write_result){p.changes, p.base, 0};
    if (p.wb)
        rocksdb_writebatch_destroy(p.wb);
    wctx_free(&w);
    return e;
}

/* ----------------------------------------------------------------- replay */

/* The changelog rows of batch b as crows, their +I/+U values encoded into the arena;
 * rows before the checkpoint (already applied) become -U (ignored). */
static strom_err replay_rows(kv_wctx *w, const strom_batch *b, uint8_t *changes, int64_t *last)
{
    strom_err e = STROM_OK;
    for (int64_t r = 0; r < b->nrows && e == STROM_OK; r++) {
        int64_t off = strom_batch_row_offset(b, r);
        strom_change c = strom_batch_row_change(b, r);
        kv_crow cr = {w->rslot[r], (int64_t)w->vals.len, 0};
        changes[r] = off < w->kv->checkpoint ? STROM_UPDATE_BEFORE : (uint8_t)c;
        *last = off + 1 > *last ? off + 1 : *last;
        if (changes[r] == STROM_INSERT || changes[r] == STROM_UPDATE_AFTER)
            e = kv_row_encode(&w->vals, b->cols, b->ncols, r);
        cr.len = (int64_t)w->vals.len - cr.off;
        if (e == STROM_OK)
            e = strom_buf_append(&w->crows, &cr, sizeof cr);
    }
    return e;
}

/* Applies one changelog batch of the log to the state, as its write did. */
static strom_err replay_batch(kv_state *kv, const strom_batch *b)
{
    kv_wctx w;
    memset(&w, 0, sizeof w);
    int64_t last = kv->checkpoint;
    uint8_t *changes = strom_malloc((size_t)b->nrows + 1);
    strom_err e = changes ? wctx_init(&w, kv, NULL, b->nrows) : STROM_ENOMEM;
    w.commit = strom_batch_commit_time(b);
    memcpy(w.cols, b->cols, sizeof(strom_column) * (size_t)b->ncols);
    if (e == STROM_OK)
        e = collect_keys(&w, b->nrows);
    if (e == STROM_OK)
        e = load_state(&w);
    if (e == STROM_OK)
        e = replay_rows(&w, b, changes, &last);
    int32_t seq = -1;
    if (e == STROM_OK && b->writer_id > 0 && b->batch_seq >= 0)  /* idempotent writer */
        e = kv_writer_seq(kv, b->writer_id, &seq);
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    if (e == STROM_OK && b->writer_id > 0 && b->batch_seq > seq)
        put_writer_seq(wb, b->writer_id, b->batch_seq);
    if (e == STROM_OK)
        e = apply_slots(&w, wb, kv->cfg.use_vcol ? &b->cols[kv->cfg.vcol] : NULL, changes,
                        b->nrows, last);
    rocksdb_writebatch_destroy(wb);
    wctx_free(&w);
    free(changes);
    return e;
}

static strom_err replay_from(kv_state *kv, int64_t end)
{
    log_read_spec spec = {.schema = kv->cfg.schema, .time_min = INT64_MIN, .time_max = INT64_MAX};
    log_reader *rd = NULL;
    strom_err e = log_reader_open(kv->log, kv->checkpoint, &spec, &rd);
    while (e == STROM_OK && kv->checkpoint < end) {
        const strom_batch *b = NULL;
        e = log_reader_next(rd, &b);
        if (e != STROM_OK || !b)
            break;
        e = replay_batch(kv, b);
    }
    log_reader_close(rd);
    return e;
}

strom_err kv_replay(kv_state *kv)
{
    int64_t earliest, end;
    log_bucket_offsets(kv->log, &earliest, &end);
    if (kv->checkpoint > end)
        return strom_fail(STROM_ECORRUPT, "%s: state reflects log offset %lld but the log ends "
                          "at %lld; remove the state directory to rebuild it from the log",
                          kv->name, (long long)kv->checkpoint, (long long)end);
    if (kv->checkpoint < earliest)
        return strom_fail(STROM_ECORRUPT, "%s: state needs the changelog from offset %lld but "
                          "the log starts at %lld (retention removed it)", kv->name,
                          (long long)kv->checkpoint, (long long)earliest);
    return kv->checkpoint < end ? replay_from(kv, end) : STROM_OK;
}

/* ----------------------------------------------------------------- expiry */

/* The expired rows among the keys as -D changes, committed like a write; the expiry
 * keys found are deleted in the same WriteBatch (stale ones too). */
static strom_err expire_locked(kv_state *kv, kv_wctx *w, const strom_buf *keys,
                               const size_t *koff, const size_t *klen, size_t n,
                               const strom_buf *ekeys, const size_t *eoff, const size_t *elen,
                               int64_t cutoff, int64_t *nexpired)
{
    kv_drain(kv);   /* a pass is rare: it runs alone */
    strom_err e = wctx_init(w, kv, NULL, (int64_t)n);
    for (size_t i = 0; i < n && e == STROM_OK; i++) {
        w->rkoff[i] = w->keys.len;
        w->rklen[i] = klen[i];
        e = strom_buf_append(&w->keys, keys->data + koff[i], klen[i]);
    }
    for (size_t i = 0; i < n && e == STROM_OK; i++)
        e = slot_of(w, (int64_t)i);
    if (e == STROM_OK)
        e = load_state(w);
    for (size_t i = 0; i < w->nslots && e == STROM_OK; i++) {
        kv_slot *s = &w->slots[i];
        kv_times t;
        if (s->cur_len < 0 || kv_row_times(w->vals.data + s->cur_off, (size_t)s->cur_len, &t) ||
            t.wtime > cutoff)
            continue;
        e = emit(w, s, STROM_DELETE, s->cur_off, s->cur_len);
        s->cur_len = -1;
    }
    if (e != STROM_OK)
        return e;
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    for (size_t i = 0; i < n; i++)
        rocksdb_writebatch_delete(wb, (const char *)ekeys->data + eoff[i], elen[i]);
    int64_t base = -1;
    *nexpired = strom_builder_nrows(w->out);
    e = *nexpired ? commit_write(w, wb, &base) : kv_apply_batch(kv, wb, kv->checkpoint);
    rocksdb_writebatch_destroy(wb);
    return e;
}

strom_err kv_expire_keys(kv_state *kv, const strom_buf *keys, const size_t *koff,
                         const size_t *klen, size_t n, const strom_buf *ekeys,
                         const size_t *eoff, const size_t *elen, int64_t cutoff,
                         int64_t *nexpired)
{
    kv_wctx w;
    memset(&w, 0, sizeof w);
    *nexpired = 0;
    pthread_mutex_lock(&kv->mu);
    strom_err e = kv_fenced(kv) ? fenced_fail(kv)
                                : expire_locked(kv, &w, keys, koff, klen, n, ekeys, eoff, elen,
                                             cutoff, nexpired);
    pthread_mutex_unlock(&kv->mu);
    wctx_free(&w);
    return e;
}
