/* kvapi.c: primary-key tables in the catalog: one kv state per bucket (<dir>/kv-<N>),
 * opened with the buckets, and the strom_table_upsert / delete / lookup calls. */
#include "cat_int.h"
#include "kv/cache.h"
#include "serve.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

static const strom_schema *cur_schema(const cat_entry *e) { return cat_meta_schema(&e->meta); }

strom_err cat_refuse_pk(const strom_table *t, const char *what)
{
    if (cur_schema(t->e)->npk == 0)
        return STROM_OK;
    return strom_fail(STROM_EUNSUPPORTED, "table %s has a primary key: %s is not supported "
                      "(write with strom_table_upsert / strom_table_delete)", cat_tname(t), what);
}

static strom_err need_pk(const strom_table *t, const char *what)
{
    if (cur_schema(t->e)->npk > 0)
        return STROM_OK;
    return strom_fail(STROM_EUNSUPPORTED, "table %s has no primary key: %s needs one",
                      cat_tname(t), what);
}

/* ------------------------------------------------------------ open, close */

static void kv_cfg(const cat_entry *e, int i, kv_config *c)
{
    const strom_schema *s = cur_schema(e);
    const cat_opts *o = &e->meta.opts;
    memset(c, 0, sizeof *c);
    c->name = e->bucket_names[i];
    c->schema = s;
    c->npk = s->npk;
    memcpy(c->pk, s->pk, sizeof(int) * (size_t)s->npk);
    c->nbk = o->nbucket_key;
    memcpy(c->bk, o->bucket_key, sizeof(int) * (size_t)o->nbucket_key);
    c->image_full = o->image_full;
    c->engine = (kv_engine)o->merge_engine;
    c->ver_col = o->ver_col;
    memcpy(c->agg, o->agg, sizeof c->agg);
    fmt_encode_opts_init(&c->enc);
    c->enc.codec = o->codec;
    c->enc.zstd_level = o->zstd_level;
    c->enc.plain_only = o->plain_only;
    c->enc.time_col = o->time_col;
    c->use_vcol = o->kv_vcol >= 0;
    c->vcol = o->kv_vcol;
    c->hist_ttl_ms = o->kv_hist_ttl_ms > 0 ? o->kv_hist_ttl_ms : 0;  /* -1: forever */
    c->ttl_ms = o->kv_ttl_ms;
}

strom_err cat_open_kvs(cat_entry *e)
{
    int n = e->meta.opts.nbuckets;
    if (cur_schema(e)->npk == 0)
        return STROM_OK;
    e->kvs = strom_calloc((size_t)n, sizeof *e->kvs);
    strom_err err = e->kvs ? STROM_OK : STROM_ENOMEM;
    for (int i = 0; err == STROM_OK && i < n; i++) {
        char dir[PATH_MAX];
        kv_config c;
        kv_cfg(e, i, &c);
        err = strom_path(dir, sizeof dir, "%s/kv-%d", e->dir, i);
        if (err == STROM_OK)
            err = kv_open(dir, e->buckets[i], &c, &e->kvs[i]);
    }
    return err;
}

void cat_close_kvs(cat_entry *e)
{
    for (int i = 0; e->kvs && i < e->meta.opts.nbuckets; i++)
        kv_close(e->kvs[i]);
    free(e->kvs);
    e->kvs = NULL;
}

/* ------------------------------------------------------------------ writes */

/* Same column names and types as the table. */
static strom_err check_columns(const strom_table *t, const strom_builder *rows, const char *what)
{
    const strom_schema *s = cur_schema(t->e), *bs = rows ? fmt_builder_schema(rows) : NULL;
    if (!rows)
        return strom_fail(STROM_EINVAL, "table %s: %s: no rows given", cat_tname(t), what);
    for (int i = 0; i < s->ncols || i < bs->ncols; i++)
        if (i >= s->ncols || i >= bs->ncols || strcmp(bs->cols[i].name, s->cols[i].name) ||
            bs->cols[i].type != s->cols[i].type)
            return strom_fail(STROM_ESCHEMA, "table %s: %s: column %d of the rows (%s) does not "
                              "match the table's (%s %s)", cat_tname(t), what, i,
                              i < bs->ncols ? bs->cols[i].name : "missing",
                              i < s->ncols ? s->cols[i].name : "none",
                              i < s->ncols ? strom_type_name(s->cols[i].type) : "");
    return STROM_OK;
}

/* Same column names and types as the table (NOT NULL may differ: keys are checked). */
static strom_err check_rows(const strom_table *t, const strom_builder *rows, const char *what)
{
    const strom_schema *s = cur_schema(t->e);
    strom_err err = check_columns(t, rows, what);
    if (err != STROM_OK)
        return err;
    for (int k = 0; k < s->npk; k++) {
        strom_column c;
        fmt_builder_view(rows, s->pk[k], &c);
        for (int64_t r = 0; c.null_count > 0 && r < c.length; r++)
            if (!((c.validity[r >> 3] >> (r & 7)) & 1))
                return strom_fail(STROM_ESCHEMA, "table %s: %s: row %lld: primary-key column "
                                  "'%s' is NULL", cat_tname(t), what, (long long)r,
                                  s->cols[s->pk[k]].name);
    }
    return STROM_OK;
}

/* sel grouped by bucket: rows of bucket b are sel[start[b] .. start[b+1]). */
static strom_err route(const strom_table *t, const strom_builder *rows, int64_t n, uint32_t *sel,
                       uint32_t *start)
{
    const cat_opts *o = &t->e->meta.opts;
    int nb = o->nbuckets;
    uint32_t *bof = strom_calloc((size_t)n, sizeof *bof), *pos = strom_calloc((size_t)nb, 4);
    strom_column cols[LOG_MAX_KEY_COLS];
    strom_buf key = {0};
    strom_err err = bof && pos ? STROM_OK : STROM_ENOMEM;
    for (int k = 0; k < o->nbucket_key; k++)
        fmt_builder_view(rows, o->bucket_key[k], &cols[k]);
    memset(start, 0, sizeof(uint32_t) * (size_t)(nb + 1));
    for (int64_t r = 0; err == STROM_OK && r < n; r++) {
        strom_buf_clear(&key);
        for (int k = 0; err == STROM_OK && k < o->nbucket_key; k++)
            err = fmt_key_from_column(&key, &cols[k], r);
        bof[r] = (uint32_t)fmt_bucket_of(key.data, key.len, nb);
        start[bof[r] + 1]++;
    }
    for (int i = 0; err == STROM_OK && i < nb; i++) {
        start[i + 1] += start[i];
        pos[i] = start[i];
    }
    for (int64_t r = 0; err == STROM_OK && r < n; r++)
        sel[pos[bof[r]]++] = (uint32_t)r;
    free(bof);
    free(pos);
    strom_buf_free(&key);
    return err;
}

/* One bucket's part of a write, run on the append pool. */
typedef struct kv_job {
    kv_state *kv;
    const strom_builder *rows;
    const uint32_t *sel;
    size_t nsel;
    const uint8_t *ops;
    const kv_write_opts *wo;
    int bucket;
    kv_write_result res;
    strom_err err;
    char msg[512];
} kv_job;

static void run_kv_job(void *arg)
{
    kv_job *j = arg;
    j->err = kv_write_ex(j->kv, j->rows, j->sel, j->nsel, j->ops, j->wo, &j->res);
    if (j->err != STROM_OK)
        snprintf(j->msg, sizeof j->msg, "%s", strom_errmsg());
}

/* The buckets' parts of a write run in parallel (their changelog fsyncs overlap); each
 * bucket is all or nothing, the first failure is reported. */
static strom_err write_buckets(strom_table *t, const strom_builder *rows, int64_t n,
                               const uint8_t *ops, const kv_write_opts *wo, int *dup)
{
    int nb = t->e->meta.opts.nbuckets, njobs = 0, dups = 0;
    uint32_t *sel = strom_calloc((size_t)n, sizeof *sel);
    uint32_t *start = strom_calloc((size_t)nb + 1, sizeof *start);
    kv_job *jobs = strom_calloc((size_t)nb, sizeof *jobs);
    void **args = strom_calloc((size_t)nb, sizeof *args);
    strom_err err = sel && start && jobs && args ? route(t, rows, n, sel, start) : STROM_ENOMEM;
    for (int b = 0; err == STROM_OK && b < nb; b++) {
        if (start[b + 1] == start[b])
            continue;
        jobs[njobs] = (kv_job){.kv = t->e->kvs[b], .rows = rows, .sel = sel + start[b],
                               .nsel = start[b + 1] - start[b], .ops = ops, .wo = wo, .bucket = b};
        args[njobs] = &jobs[njobs];
        njobs++;
    }
    if (err == STROM_OK)
        cat_run_parallel(t->db, run_kv_job, args, njobs);
    for (int i = 0; err == STROM_OK && i < njobs; i++)
        if (jobs[i].err != STROM_OK)
            err = strom_fail(jobs[i].err, "%s", jobs[i].msg);
    for (int i = 0; i < njobs; i++)
        dups += jobs[i].res.duplicate;
    *dup = njobs > 0 && dups == njobs;
    free(sel);
    free(start);
    free(jobs);
    free(args);
    return err;
}

static strom_err write_rows(strom_table *t, const strom_builder *rows, kv_op op, const char *what,
                            const kv_write_opts *wo, int *dup)
{
    strom_err err = need_pk(t, what);
    if (err == STROM_OK)
        err = check_rows(t, rows, what);
    int64_t n = err == STROM_OK ? strom_builder_nrows(rows) : 0;
    int behavior = t->e->meta.opts.delete_behavior;
    if (err != STROM_OK || n == 0 || (op == KV_DELETE && behavior == CAT_DELETE_IGNORE))
        return err;
    if (op == KV_DELETE && behavior == CAT_DELETE_DISABLE)
        return strom_fail(STROM_EUNSUPPORTED, "table %s: deletes are disabled "
                          "(table.delete.behavior = disable)", cat_tname(t));
    uint8_t *ops = op == KV_DELETE ? strom_malloc((size_t)n) : NULL;
    if (op == KV_DELETE && !ops)
        return STROM_ENOMEM;
    if (ops)
        memset(ops, KV_DELETE, (size_t)n);
    pthread_rwlock_rdlock(&t->e->lock);
    err = write_buckets(t, rows, n, ops, wo, dup);
    pthread_rwlock_unlock(&t->e->lock);
    free(ops);
    return err;
}

/* The columns of a partial update as a mask; ESCHEMA naming the column. */
static strom_err partial_mask(const strom_table *t, const char *const *columns, int n,
                              uint8_t *mask)
{
    const strom_schema *s = cur_schema(t->e);
    const char *what = "partial upsert";
    int eng = t->e->meta.opts.merge_engine;
    if (eng == KV_ENGINE_FIRST_ROW || eng == KV_ENGINE_VERSIONED)
        return strom_fail(STROM_EUNSUPPORTED, "table %s: %s: the %s merge engine does not "
                          "support partial updates", cat_tname(t), what,
                          eng == KV_ENGINE_FIRST_ROW ? "first_row" : "versioned");
    if (!columns || n < 1)
        return strom_fail(STROM_EINVAL, "table %s: %s: no columns named", cat_tname(t), what);
    for (int i = 0; i < n; i++) {
        int c = columns[i] ? strom_schema_find(s, columns[i]) : -1;
        if (c < 0)
            return strom_fail(STROM_ESCHEMA, "table %s: %s: no column '%s'", cat_tname(t), what,
                              columns[i] ? columns[i] : "(null)");
        mask[c] = 1;
    }
    for (int k = 0; k < s->npk; k++)
        if (!mask[s->pk[k]])
            return strom_fail(STROM_ESCHEMA, "table %s: %s: primary-key column '%s' must be "
                              "among the columns", cat_tname(t), what, s->cols[s->pk[k]].name);
    for (int c = 0; c < s->ncols; c++)
        if (!mask[c] && s->cols[c].not_null)
            return strom_fail(STROM_ESCHEMA, "table %s: %s: column '%s' is NOT NULL and not "
                              "among the columns (a new key would get NULL)", cat_tname(t),
                              what, s->cols[c].name);
    return STROM_OK;
}

strom_err strom_table_write(strom_table *t, const strom_builder *rows,
                            const strom_write_opts *o, int *duplicate)
{
    static const strom_write_opts none;
    int dup = 0;
    o = o ? o : &none;
    int partial = o->columns != NULL || o->ncolumns != 0;
    const char *what = o->delete_rows ? "delete" : partial ? "partial upsert" : "upsert";
    if (cur_schema(t->e)->npk == 0 && !o->delete_rows && !partial && o->writer_id > 0 && o->batch_seq >= 0) {
        if (duplicate)
            *duplicate = 0;                                             /* not told apart */
        return cat_append_idem(t, rows, o->writer_id, o->batch_seq);   /* a log table */
    }
    strom_err err = need_pk(t, what);
    if (err == STROM_OK && o->writer_id != 0 && (o->writer_id < 0 || o->batch_seq < 0))
        err = strom_fail(STROM_EINVAL, "table %s: %s: writer id %lld / batch sequence %d: "
                         "an idempotent write needs writer_id > 0 and batch_seq >= 0",
                         cat_tname(t), what, (long long)o->writer_id, (int)o->batch_seq);
    if (err == STROM_OK && partial && o->delete_rows)
        err = strom_fail(STROM_EINVAL, "table %s: a delete names no columns", cat_tname(t));
    uint8_t *mask = NULL;
    if (err == STROM_OK && partial) {
        mask = strom_calloc((size_t)cur_schema(t->e)->ncols, 1);
        err = mask ? partial_mask(t, o->columns, o->ncolumns, mask) : STROM_ENOMEM;
    }
    kv_write_opts wo = {.cols = mask, .writer_id = o->writer_id, .batch_seq = o->batch_seq};
    if (err == STROM_OK)
        err = write_rows(t, rows, o->delete_rows ? KV_DELETE : KV_UPSERT, what, &wo, &dup);
    free(mask);
    if (duplicate)
        *duplicate = err == STROM_OK && dup;
    cat_notify_append(t, -1); /* serve.h; even a failed write may have written a bucket */
    return err;
}

strom_err strom_table_upsert(strom_table *t, const strom_builder *rows)
{
    return strom_table_write(t, rows, NULL, NULL);
}

strom_err strom_table_delete(strom_table *t, const strom_builder *rows)
{
    strom_write_opts o = {.delete_rows = 1};
    return strom_table_write(t, rows, &o, NULL);
}

strom_err strom_table_upsert_partial(strom_table *t, const strom_builder *rows,
                                     const char *const *columns, int ncolumns)
{
    strom_write_opts o = {.columns = columns, .ncolumns = ncolumns};
    if (!columns)
        o.ncolumns = -1;   /* still a partial update: refused for naming no columns */
    return strom_table_write(t, rows, &o, NULL);
}

/* ----------------------------------------------------------------- lookups */

/* The rows of b as an owned batch (NULL for none): encoded plainly, then decoded. */
static strom_err to_batch(const strom_builder *b, strom_batch **out)
{
    *out = NULL;
    if (strom_builder_nrows(b) == 0)
        return STROM_OK;
    const strom_schema *s = fmt_builder_schema(b);
    fmt_encoder *enc = fmt_encoder_create();
    fmt_decoder *dec = fmt_decoder_create();
    fmt_dir *dirs = strom_calloc(FMT_MAX_COLUMNS, sizeof *dirs);
    strom_batch *bt = fmt_batch_create(s->ncols);
    strom_buf buf = {0};
    fmt_encode_opts o;
    fmt_encode_opts_init(&o);
    o.codec = FMT_CODEC_NONE;
    o.plain_only = 1;
    fmt_hdr h;
    strom_err err = enc && dec && dirs && bt ? fmt_encode(enc, b, NULL, 0, &o, &buf) : STROM_ENOMEM;
    if (err == STROM_OK)
        err = fmt_hdr_parse(buf.data, buf.len, &h, dirs);
    if (err == STROM_OK)
        err = fmt_batch_reset(bt, &h, s->ncols);
    for (int i = 0; err == STROM_OK && i < s->ncols; i++) {
        size_t nl = strlen(s->cols[i].name) + 1;
        char *name = fmt_batch_alloc(bt, nl);
        err = name ? STROM_OK : STROM_ENOMEM;
        if (name)
            memcpy(name, s->cols[i].name, nl);
        if (err == STROM_OK)
            err = fmt_decode_column(dec, &dirs[i], buf.data + dirs[i].data_offset, h.nrows, bt,
                                    name, &bt->cols[i]);
    }
    if (err == STROM_OK)
        err = fmt_batch_set_rows(bt, &h, NULL);
    fmt_encoder_destroy(enc);
    fmt_decoder_destroy(dec);
    free(dirs);
    strom_buf_free(&buf);
    if (err != STROM_OK)
        strom_batch_destroy(bt);
    else
        *out = bt;
    return err;
}

/* Converts n key values, for columns cols[0..want), to the columns' types into conv:
 * EINVAL for a wrong count, ESCHEMA naming the column for a NULL or a wrong type. */
static strom_err convert_key(const strom_table *t, const strom_value *v, const int *cols, int n,
                             int want, const char *what, strom_value *conv)
{
    const strom_schema *s = cur_schema(t->e);
    if (!v || n != want)
        return strom_fail(STROM_EINVAL, "table %s: %s: %d key values given, the key has %d",
                          cat_tname(t), what, n, want);
    for (int i = 0; i < n; i++) {
        strom_err err = v[i].is_null ? strom_fail(STROM_ESCHEMA, "table %s: %s: key column '%s' "
                                                  "is NULL", cat_tname(t), what,
                                                  s->cols[cols[i]].name)
                                     : cat_convert_value(t, &s->cols[cols[i]], &v[i], what,
                                                         &conv[i]);
        if (err != STROM_OK)
            return err;
    }
    return STROM_OK;
}

/* Key values checked as convert_key does (the converted values are not kept). */
static strom_err check_values(const strom_table *t, const strom_value *v, const int *cols, int n,
                              int want, const char *what)
{
    strom_value conv[LOG_MAX_KEY_COLS];
    return convert_key(t, v, cols, n, want, what, conv);
}

/* Checks common to the _into calls; *k = the thread's key buffer. */
static strom_err lookup_start(const strom_table *t, const strom_builder *out, const char *what,
                              strom_buf **k)
{
    strom_err err = need_pk(t, what);
    if (err == STROM_OK)
        err = check_columns(t, out, what);
    if (err == STROM_OK && (*k = kv_key_scratch()) == NULL)
        err = STROM_ENOMEM;
    return err;
}

/* Bucket of a key just encoded by kv_key_from_values: its bucket-key hash % bucket.num,
 * as strom_table_upsert routes rows. */
static kv_state *key_kv(const strom_table *t, const strom_buf *k)
{
    uint64_t h = strom_get_u64(k->data + 1);
    return t->e->kvs[h % (uint64_t)t->e->meta.opts.nbuckets];
}

/* Bucket of key values (primary-key order; prefix 1: bucket.key order). */
static strom_err bucket_of(const strom_table *t, const strom_value *v, int prefix, int *bucket)
{
    strom_buf *k = kv_key_scratch();
    strom_err err = k ? kv_key_from_values(t->e->kvs[0], v, prefix, k) : STROM_ENOMEM;
    if (err == STROM_OK)
        *bucket = (int)(strom_get_u64(k->data + 1) % (uint64_t)t->e->meta.opts.nbuckets);
    return err;
}

/* One key, converted, in primary-key order (table lock held): its current row, or with
 * asof its row AS OF time at (the row cache's current row and recent history when they
 * answer, else RocksDB's versions). */
static strom_err lookup_one(strom_table *t, const strom_value *conv, strom_buf *k, int asof,
                            int64_t at, strom_builder *out, int *found)
{
    strom_err err = kv_key_from_values(t->e->kvs[0], conv, 0, k);
    if (err != STROM_OK)
        return err;
    kv_state *kv = key_kv(t, k);
    int answered = 0;
    if (!asof)
        return kv_lookup_key(kv, k->data, k->len, out, found);
    err = kv_lookup_asof_cached(kv, k->data, k->len, at, out, found, &answered);
    return err != STROM_OK || answered ? err : kv_lookup_asof(kv, conv, at, out, found);
}

/* Point lookup, current or AS OF. */
static strom_err point(strom_table *t, const char *what, const strom_value *key, int nkey,
                       int asof, int64_t at, strom_builder *out, int *found)
{
    strom_value conv[LOG_MAX_KEY_COLS];
    strom_buf *k = NULL;
    int f = 0;
    strom_err err = lookup_start(t, out, what, &k);
    if (err == STROM_OK) {
        const strom_schema *s = cur_schema(t->e);
        pthread_rwlock_rdlock(&t->e->lock);
        err = convert_key(t, key, s->pk, nkey, s->npk, what, conv);
        if (err == STROM_OK)
            err = lookup_one(t, conv, k, asof, at, out, &f);
        pthread_rwlock_unlock(&t->e->lock);
    }
    if (found)
        *found = err == STROM_OK && f;
    return err;
}

strom_err strom_table_lookup_into(strom_table *t, const strom_value *key, int nkey,
                                  strom_builder *out, int *found)
{
    return point(t, "lookup", key, nkey, 0, 0, out, found);
}

/* A batch is looked up GROUP keys at a time: the group's row keys are encoded, then each
 * key's home slot is asked for, then each key's entry (kv_lookup_prefetch), then the keys
 * are looked up: the group's memory misses overlap instead of following one another. */
#define GROUP 16

typedef struct group_key {
    kv_state *kv;
    size_t off, len;           /* the row key in the group's buffer */
    uint64_t h;
} group_key;

/* Keys [0, n) (n <= GROUP, already checked) into out; k, kb: the thread's scratch. */
static strom_err group_locked(strom_table *t, const strom_value *keys, int nkey, size_t n,
                              uint8_t *found, strom_builder *out, strom_buf *k, strom_buf *kb)
{
    const strom_schema *s = cur_schema(t->e);
    strom_value conv[LOG_MAX_KEY_COLS];
    group_key g[GROUP];
    strom_err err = STROM_OK;
    kb->len = 0;
    for (size_t i = 0; err == STROM_OK && i < n; i++) {
        err = convert_key(t, keys + i * (size_t)nkey, s->pk, nkey, s->npk, "batch lookup", conv);
        if (err == STROM_OK)
            err = kv_key_from_values(t->e->kvs[0], conv, 0, k);
        if (err == STROM_OK) {
            g[i] = (group_key){key_kv(t, k), kb->len, k->len, kv_key_hash(k->data, k->len)};
            err = strom_buf_append(kb, k->data, k->len);
        }
    }
    for (int stage = 0; err == STROM_OK && n > 1 && stage < 2; stage++)   /* one key: no gain */
        for (size_t i = 0; i < n; i++)
            kv_lookup_prefetch(g[i].kv, g[i].h, stage);
    for (size_t i = 0; err == STROM_OK && i < n; i++) {
        int f = 0;
        err = kv_lookup_key_h(g[i].kv, kb->data + g[i].off, g[i].len, g[i].h, out, &f);
        found[i] = (uint8_t)(err == STROM_OK && f);
    }
    return err;
}

/* Every key checked before any is looked up (a bad key appends nothing). */
static strom_err batch_locked(strom_table *t, const strom_value *keys, int nkey, size_t n,
                              uint8_t *found, strom_builder *out, strom_buf *k)
{
    const strom_schema *s = cur_schema(t->e);
    strom_value conv[LOG_MAX_KEY_COLS];
    strom_buf *kb = kv_keys_scratch();
    strom_err err = kb ? STROM_OK : STROM_ENOMEM;
    for (size_t i = 0; err == STROM_OK && i < n; i++)
        err = convert_key(t, keys + i * (size_t)nkey, s->pk, nkey, s->npk, "batch lookup", conv);
    for (size_t i = 0; err == STROM_OK && i < n; i += GROUP)
        err = group_locked(t, keys + i * (size_t)nkey, nkey, n - i < GROUP ? n - i : GROUP,
                           found + i, out, k, kb);
    return err;
}

strom_err strom_table_lookup_batch_into(strom_table *t, const strom_value *keys, int nkey,
                                        size_t n, uint8_t *found, strom_builder *out)
{
    const char *what = "batch lookup";
    strom_buf *k = NULL;
    strom_err err = lookup_start(t, out, what, &k);
    if (err == STROM_OK && nkey != cur_schema(t->e)->npk)
        err = strom_fail(STROM_EINVAL, "table %s: %s: keys of %d values, the key has %d",
                         cat_tname(t), what, nkey, cur_schema(t->e)->npk);
    if (err == STROM_OK && n > 0 && (!keys || !found))
        err = strom_fail(STROM_EINVAL, "table %s: %s: no keys or no found array", cat_tname(t),
                         what);
    if (err != STROM_OK || n == 0)
        return err;
    memset(found, 0, n);
    pthread_rwlock_rdlock(&t->e->lock);
    err = batch_locked(t, keys, nkey, n, found, out, k);
    pthread_rwlock_unlock(&t->e->lock);
    return err;
}

/* The owned-batch calls: one of the _into calls into a fresh builder, then a batch. */
typedef enum owned_kind { OWN_POINT, OWN_BATCH, OWN_PREFIX } owned_kind;
typedef struct owned_call {
    owned_kind kind;
    const strom_value *keys;
    int nkey;
    size_t n;
    uint8_t *found;
} owned_call;

strom_err strom_table_prefix_lookup_into(strom_table *t, const strom_value *bkey, int nbkey,
                                         strom_builder *out, int64_t *nfound);

static strom_err as_batch(strom_table *t, const char *what, const owned_call *c,
                          strom_batch **out)
{
    *out = NULL;
    strom_err err = need_pk(t, what);
    strom_builder *rows = err == STROM_OK ? strom_builder_create(cur_schema(t->e)) : NULL;
    if (err == STROM_OK && !rows)
        err = STROM_ENOMEM;
    if (err == STROM_OK && c->kind == OWN_POINT)
        err = strom_table_lookup_into(t, c->keys, c->nkey, rows, NULL);
    else if (err == STROM_OK && c->kind == OWN_BATCH)
        err = strom_table_lookup_batch_into(t, c->keys, c->nkey, c->n, c->found, rows);
    else if (err == STROM_OK)
        err = strom_table_prefix_lookup_into(t, c->keys, c->nkey, rows, NULL);
    if (err == STROM_OK)
        err = to_batch(rows, out);
    strom_builder_destroy(rows);
    return err;
}

strom_err strom_table_lookup(strom_table *t, const strom_value *key, int nkey, strom_batch **out)
{
    owned_call c = {OWN_POINT, key, nkey, 1, NULL};
    return as_batch(t, "lookup", &c, out);
}

strom_err strom_table_lookup_batch(strom_table *t, const strom_value *keys, int nkey, size_t n,
                                   uint8_t *found, strom_batch **out)
{
    owned_call c = {OWN_BATCH, keys, nkey, n, found};
    return as_batch(t, "batch lookup", &c, out);
}

strom_err strom_table_prefix_lookup_into(strom_table *t, const strom_value *bkey, int nbkey,
                                         strom_builder *out, int64_t *nfound)
{
    const char *what = "prefix lookup";
    strom_value conv[LOG_MAX_KEY_COLS];
    strom_buf *k = NULL;
    int64_t nf = 0;
    strom_err err = lookup_start(t, out, what, &k);
    if (err == STROM_OK) {
        const cat_opts *o = &t->e->meta.opts;
        pthread_rwlock_rdlock(&t->e->lock);
        err = convert_key(t, bkey, o->bucket_key, nbkey, o->nbucket_key, what, conv);
        if (err == STROM_OK)
            err = kv_key_from_values(t->e->kvs[0], conv, 1, k);
        if (err == STROM_OK)
            err = kv_prefix_lookup(key_kv(t, k), conv, out, &nf);
        pthread_rwlock_unlock(&t->e->lock);
    }
    if (nfound)
        *nfound = err == STROM_OK ? nf : 0;
    return err;
}

strom_err strom_table_prefix_lookup(strom_table *t, const strom_value *bkey, int nbkey,
                                    strom_batch **out)
{
    owned_call c = {OWN_PREFIX, bkey, nbkey, 1, NULL};
    return as_batch(t, "prefix lookup", &c, out);
}

size_t strom_kv_cache_set_budget(size_t bytes) { return kv_cache_set_budget(bytes); }

size_t strom_kv_cache_used(void) { return kv_cache_used(); }

/* ------------------------------------------------- AS OF lookups, expiry */

strom_err strom_table_lookup_asof_into(strom_table *t, const strom_value *key, int nkey,
                                       int64_t as_of_ms, strom_builder *out, int *found)
{
    return point(t, "AS OF lookup", key, nkey, 1, as_of_ms, out, found);
}

/* Every key checked; *one_bucket = the bucket of them all, or -1 if they differ. */
static strom_err asof_check_keys(strom_table *t, const strom_value *keys, size_t n,
                                 int *one_bucket)
{
    const strom_schema *s = cur_schema(t->e);
    strom_err err = STROM_OK;
    *one_bucket = 0;
    for (size_t i = 0; err == STROM_OK && i < n; i++) {
        int b = 0;
        const strom_value *k = &keys[i * (size_t)s->npk];
        err = check_values(t, k, s->pk, s->npk, s->npk, "batch AS OF lookup");
        if (err == STROM_OK && t->e->meta.opts.nbuckets > 1)
            err = bucket_of(t, k, 0, &b);
        if (i == 0)
            *one_bucket = b;
        else if (*one_bucket != b)
            *one_bucket = -1;
    }
    return err;
}

/* Batch AS OF over keys of several buckets: one raw batch per bucket (its keys gathered),
 * the answers then decoded into out in key order. */
typedef struct asof_multi {
    int *bucket;             /* per key */
    size_t *idx;             /* per key of the bucket at hand: its position */
    strom_value *keys;       /* the bucket's keys, gathered */
    int64_t *at, *boff, *blen, *off, *len;
    strom_buf arena;
} asof_multi;

static strom_err asof_bucket(strom_table *t, asof_multi *x, const strom_value *keys,
                             size_t n, const int64_t *as_of_ms, int b)
{
    size_t npk = (size_t)cur_schema(t->e)->npk, m = 0;
    for (size_t i = 0; i < n; i++) {
        if (x->bucket[i] != b)
            continue;
        memcpy(&x->keys[m * npk], &keys[i * npk], sizeof *keys * npk);
        x->at[m] = as_of_ms[i];
        x->idx[m++] = i;
    }
    strom_err err = m ? kv_lookup_batch_asof_raw(t->e->kvs[b], x->keys, m, x->at, &x->arena,
                                                 x->boff, x->blen)
                      : STROM_OK;
    for (size_t j = 0; err == STROM_OK && j < m; j++) {
        x->off[x->idx[j]] = x->boff[j];
        x->len[x->idx[j]] = x->blen[j];
    }
    return err;
}

static strom_err asof_several(strom_table *t, asof_multi *x, const strom_value *keys, size_t n,
                              const int64_t *as_of_ms, uint8_t *found, strom_builder *out)
{
    const strom_schema *s = cur_schema(t->e);
    strom_err err = STROM_OK;
    for (size_t i = 0; err == STROM_OK && i < n; i++)
        err = bucket_of(t, &keys[i * (size_t)s->npk], 0, &x->bucket[i]);
    for (int b = 0; err == STROM_OK && b < t->e->meta.opts.nbuckets; b++)
        err = asof_bucket(t, x, keys, n, as_of_ms, b);
    for (size_t i = 0; err == STROM_OK && i < n; i++) {
        found[i] = x->len[i] >= 0;
        if (found[i])
            err = kv_row_decode(out, s, x->arena.data + x->off[i], (size_t)x->len[i]);
    }
    return err;
}

static strom_err asof_batch_locked(strom_table *t, const strom_value *keys, size_t n,
                                   const int64_t *as_of_ms, uint8_t *found, strom_builder *out)
{
    int one = 0;
    strom_err err = asof_check_keys(t, keys, n, &one);
    if (err != STROM_OK || one >= 0)
        return err ? err : kv_lookup_batch_asof(t->e->kvs[one], keys, n, as_of_ms, 0, out,
                                                found);
    asof_multi x = {strom_calloc(n, sizeof(int)), strom_calloc(n, sizeof(size_t)),
                    strom_calloc(n * (size_t)cur_schema(t->e)->npk, sizeof(strom_value)),
                    strom_calloc(n * 5, sizeof(int64_t)), NULL, NULL, NULL, NULL, {0}};
    if (x.at) {
        x.boff = x.at + n;
        x.blen = x.at + 2 * n;
        x.off = x.at + 3 * n;
        x.len = x.at + 4 * n;
    }
    err = x.bucket && x.idx && x.keys && x.at ? asof_several(t, &x, keys, n, as_of_ms, found, out)
                                              : STROM_ENOMEM;
    free(x.bucket);
    free(x.idx);
    free(x.keys);
    free(x.at);
    strom_buf_free(&x.arena);
    return err;
}

strom_err strom_table_lookup_batch_asof_into(strom_table *t, const strom_value *keys, int nkey,
                                             size_t n, const int64_t *as_of_ms, uint8_t *found,
                                             strom_builder *out)
{
    const char *what = "batch AS OF lookup";
    strom_err err = need_pk(t, what);
    if (err == STROM_OK && nkey != cur_schema(t->e)->npk)
        err = strom_fail(STROM_EINVAL, "table %s: %s: keys of %d values, the key has %d",
                         cat_tname(t), what, nkey, cur_schema(t->e)->npk);
    if (err == STROM_OK)
        err = check_columns(t, out, what);
    if (err == STROM_OK && n > 0 && (!keys || !as_of_ms || !found))
        err = strom_fail(STROM_EINVAL, "table %s: %s: keys, times or found missing",
                         cat_tname(t), what);
    if (err != STROM_OK || n == 0)
        return err;
    memset(found, 0, n);
    pthread_rwlock_rdlock(&t->e->lock);
    err = asof_batch_locked(t, keys, n, as_of_ms, found, out);
    pthread_rwlock_unlock(&t->e->lock);
    return err;
}

strom_err strom_table_expire(strom_table *t, int64_t now_ms, int64_t *nexpired)
{
    int64_t total = 0;
    strom_err err = need_pk(t, "expire");
    if (nexpired)
        *nexpired = 0;
    if (err != STROM_OK)
        return err;
    pthread_rwlock_rdlock(&t->e->lock);
    for (int b = 0; err == STROM_OK && b < t->e->meta.opts.nbuckets; b++) {
        int64_t n = 0;
        err = kv_expire(t->e->kvs[b], now_ms, &n);
        total += n;
    }
    pthread_rwlock_unlock(&t->e->lock);
    if (nexpired)
        *nexpired = total;
    return err;
}

strom_err strom_table_compact(strom_table *t, int64_t now_ms)
{
    strom_err err = need_pk(t, "compact");
    if (err != STROM_OK)
        return err;
    pthread_rwlock_rdlock(&t->e->lock);
    for (int b = 0; err == STROM_OK && b < t->e->meta.opts.nbuckets; b++)
        err = kv_compact(t->e->kvs[b], now_ms);
    pthread_rwlock_unlock(&t->e->lock);
    return err;
}
