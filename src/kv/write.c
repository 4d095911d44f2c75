/* write.c: kv_write (merge per key -> changelog batch -> log append -> state apply) and
 * kv_replay (log -> state on open). Merge engines: last_row, first_row, versioned,
 * aggregation (semantics in kv.h). Replay needs no engine: the changelog holds results. */
#include "kv_int.h"

#include <stdlib.h>

/* One distinct key of a write: where its bytes are, its value before the write and now
 * (offsets into the write's value arena; len -1 = absent). */
typedef struct kv_slot {
    size_t koff, klen;
    int64_t init_off, init_len, cur_off, cur_len;
} kv_slot;

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
    kv_val *nv, *ov;         /* new row, stored row (aggregation, versioned, partial) */
    const uint8_t *mask;     /* partial update: the columns written; NULL: all */
    int64_t writer;          /* idempotent write: writer id (> 0), else 0 */
    int32_t seq;             /* and its batch sequence */
} kv_wctx;

#define ROW(w, i) ((w)->sel ? (int64_t)(w)->sel[i] : (int64_t)(i))

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
    for (size_t h = strom_hash64(k, kl) & mask;; h = (h + 1) & mask) {
        uint32_t s = w->table[h];
        if (s == 0) {
            kv_slot *n = &w->slots[w->nslots];
            *n = (kv_slot){w->rkoff[r], kl, 0, -1, 0, -1};
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

/* Current state of every distinct key (one multi-get). */
static strom_err load_state(kv_wctx *w)
{
    size_t n = w->nslots;
    size_t *kl = strom_calloc(n * 2, sizeof(size_t)), *vl = kl + n;
    char **kp = strom_calloc(n * 3, sizeof(char *)), **vp = kp + n, **ep = kp + 2 * n;
    strom_err e = kl && kp ? STROM_OK : STROM_ENOMEM;
    if (e == STROM_OK) {
        for (size_t i = 0; i < n; i++) {
            kp[i] = (char *)w->keys.data + w->slots[i].koff;
            kl[i] = w->slots[i].klen;
        }
        rocksdb_multi_get(w->kv->db, w->kv->ro, n, (const char *const *)kp, kl, vp, vl, ep);
    }
    for (size_t i = 0; e == STROM_OK && i < n; i++) {
        if (ep[i])
            e = strom_fail(STROM_EIO, "%s: state store multi-get: %s", w->kv->name, ep[i]);
        else if (vp[i]) {
            w->slots[i].init_off = w->slots[i].cur_off = (int64_t)w->vals.len;
            w->slots[i].init_len = w->slots[i].cur_len = (int64_t)vl[i];
            e = strom_buf_append(&w->vals, vp[i], vl[i]);
        }
    }
    for (size_t i = 0; kp && i < n; i++) {
        rocksdb_free(vp[i]);
        rocksdb_free(ep[i]);
    }
    free(kl);
    free(kp);
    return e;
}

static strom_err emit(kv_wctx *w, strom_change c, int64_t off, int64_t len)
{
    uint8_t b = (uint8_t)c;
    strom_err e = kv_row_decode(w->out, w->kv->cfg.schema, w->vals.data + off, (size_t)len);
    return e ? e : strom_buf_append(&w->changes, &b, 1);
}

/* Makes the row value at [off, off+len) of the arena the key's row: +I, or -U/+U. */
static strom_err put_row(kv_wctx *w, kv_slot *s, int64_t off, int64_t len)
{
    strom_err e = STROM_OK;
    if (s->cur_len >= 0 && w->kv->cfg.image_full)
        e = emit(w, STROM_UPDATE_BEFORE, s->cur_off, s->cur_len);
    if (e == STROM_OK)
        e = emit(w, s->cur_len >= 0 ? STROM_UPDATE_AFTER : STROM_INSERT, off, len);
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
            e = emit(w, STROM_DELETE, s->cur_off, s->cur_len);
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

/* Appends the changelog batch; the log is made durable whatever its flush mode. */
static strom_err append_changelog(kv_wctx *w, int64_t *base)
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
        e = log_bucket_append(kv->log, batch.data, batch.len, base);
    if (e == STROM_OK)
        e = log_bucket_flush(kv->log);
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

/* An idempotent write that changed no row: its sequence alone, with RocksDB's WAL. */
static strom_err store_seq_alone(kv_wctx *w)
{
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

static strom_err apply_slots(kv_wctx *w, int64_t new_ckpt)
{
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    if (w->writer > 0)
        put_writer_seq(wb, w->writer, w->seq);
    for (size_t i = 0; i < w->nslots; i++) {
        kv_slot *s = &w->slots[i];
        const char *k = (const char *)w->keys.data + s->koff;
        if (s->cur_len >= 0)
            rocksdb_writebatch_put(wb, k, s->klen, (const char *)w->vals.data + s->cur_off,
                                   (size_t)s->cur_len);
        else if (s->init_len >= 0)
            rocksdb_writebatch_delete(wb, k, s->klen);
    }
    strom_err e = kv_apply_batch(w->kv, wb, new_ckpt);
    rocksdb_writebatch_destroy(wb);
    return e;
}

static strom_err wctx_init(kv_wctx *w, kv_state *kv, const strom_builder *b, int64_t n)
{
    w->kv = kv;  /* the rest was zeroed by the caller */
    for (int i = 0; i < kv->cfg.schema->ncols; i++)
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
    free(w->nv);
}

static strom_err write_locked(kv_state *kv, kv_wctx *w, const strom_builder *b,
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
    int64_t changes = strom_builder_nrows(w->out), base = -1;
    if (changes == 0)
        return w->writer ? store_seq_alone(w) : STROM_OK;
    e = append_changelog(w, &base);
    if (e == STROM_OK)
        e = apply_slots(w, base + changes);
    if (res && e == STROM_OK)
        *res = (kv_write_result){changes, base, 0};
    return e;
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
    memset(&w, 0, sizeof w);
    pthread_mutex_lock(&kv->mu);
    strom_err e = kv->fenced ? strom_fail(STROM_EFENCED, "%s: the state store failed a write "
                                          "after the changelog was durable; reopen to replay",
                                          kv->name)
                             : write_locked(kv, &w, b, sel, nsel, ops, o, res);
    pthread_mutex_unlock(&kv->mu);
    wctx_free(&w);
    return e;
}

/* ----------------------------------------------------------------- replay */

/* Applies one changelog batch of the log to the state. */
static strom_err replay_batch(kv_state *kv, const strom_batch *b, strom_buf *key, strom_buf *val)
{
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    strom_err e = STROM_OK;
    int64_t last = kv->checkpoint;
    for (int64_t r = 0; r < b->nrows && e == STROM_OK; r++) {
        int64_t off = strom_batch_row_offset(b, r);
        strom_change c = strom_batch_row_change(b, r);
        if (off < kv->checkpoint || c == STROM_UPDATE_BEFORE) {
            last = off + 1 > last ? off + 1 : last;
            continue;
        }
        e = kv_key_from_columns(kv, b->cols, r, key);
        strom_buf_clear(val);
        if (e == STROM_OK && c == STROM_DELETE)
            rocksdb_writebatch_delete(wb, (const char *)key->data, key->len);
        else if (e == STROM_OK && (e = kv_row_encode(val, b->cols, b->ncols, r)) == STROM_OK)
            rocksdb_writebatch_put(wb, (const char *)key->data, key->len,
                                   (const char *)val->data, val->len);
        last = off + 1;
    }
    int32_t seq = -1;
    if (e == STROM_OK && b->writer_id > 0 && b->batch_seq >= 0)  /* idempotent writer */
        e = kv_writer_seq(kv, b->writer_id, &seq);
    if (e == STROM_OK && b->writer_id > 0 && b->batch_seq > seq)
        put_writer_seq(wb, b->writer_id, b->batch_seq);
    if (e == STROM_OK)
        e = kv_apply_batch(kv, wb, last);
    rocksdb_writebatch_destroy(wb);
    return e;
}

static strom_err replay_from(kv_state *kv, int64_t end)
{
    log_read_spec spec = {.schema = kv->cfg.schema, .time_min = INT64_MIN, .time_max = INT64_MAX};
    log_reader *rd = NULL;
    strom_buf key = {0}, val = {0};
    strom_err e = log_reader_open(kv->log, kv->checkpoint, &spec, &rd);
    while (e == STROM_OK && kv->checkpoint < end) {
        const strom_batch *b = NULL;
        e = log_reader_next(rd, &b);
        if (e != STROM_OK || !b)
            break;
        e = replay_batch(kv, b, &key, &val);
    }
    log_reader_close(rd);
    strom_buf_free(&key);
    strom_buf_free(&val);
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
