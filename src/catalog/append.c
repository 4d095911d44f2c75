/* append.c: appends. Rows are routed to buckets by the hash of their bucket-key bytes
 * (sticky round-robin per call without a key), each bucket's rows are encoded as one
 * batch and the batches are appended to their buckets in parallel by a small per-db pool
 * of worker threads, so that encoding and fsyncs of different buckets overlap. */
#include "cat_int.h"
#include "serve.h"

#include <stdio.h>
#include <stdlib.h>

#define CAT_POOL_THREADS 4
#define CAT_MSG_CAP 512

typedef struct cat_join {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int left;
} cat_join;

struct cat_task {
    cat_task *next;
    void (*fn)(void *arg);    /* a generic task (cat_run_parallel); NULL: a bucket append */
    void *arg;
    log_bucket *bucket;
    const strom_builder *rows;
    const uint32_t *sel;      /* NULL: all rows */
    size_t nsel;
    const fmt_encode_opts *eo;
    uint32_t patch_id;        /* != 0: the batch's schema id is set to this */
    int bucket_no;
    int64_t first;
    strom_err err;
    char msg[CAT_MSG_CAP];
    cat_join *join;
};

/* -------------------------------------------------------------- one batch */

/* Rewrites the schema id of an encoded batch (header offset 28) and its CRCs. */
static void patch_schema_id(uint8_t *batch, uint32_t id)
{
    strom_put_u32(batch + 28, id);
    fmt_batch_stamp(batch, strom_get_i64(batch), strom_get_i64(batch + 56));
}

static void run_task(cat_task *k, fmt_encoder *enc, strom_buf *out)
{
    strom_buf_clear(out);
    k->first = -1;
    k->err = fmt_encode(enc, k->rows, k->sel, k->nsel, k->eo, out);
    if (k->err == STROM_OK && k->patch_id)
        patch_schema_id(out->data, k->patch_id);
    if (k->err == STROM_OK)
        k->err = log_bucket_append(k->bucket, out->data, out->len, &k->first);
    if (k->err != STROM_OK)
        snprintf(k->msg, sizeof k->msg, "%s", strom_errmsg());
}

/* ------------------------------------------------------------------ pool */

static void finish_task(cat_task *k)
{
    cat_join *j = k->join;
    pthread_mutex_lock(&j->mu);
    if (--j->left == 0)
        pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

static cat_task *pool_pop(cat_pool *p)
{
    pthread_mutex_lock(&p->mu);
    while (!p->head && !p->stop)
        pthread_cond_wait(&p->cv, &p->mu);
    cat_task *k = p->head;
    if (k && !(p->head = k->next))
        p->tail = NULL;
    pthread_mutex_unlock(&p->mu);
    return k;
}

static void *pool_main(void *arg)
{
    cat_pool *p = arg;
    fmt_encoder *enc = fmt_encoder_create();
    strom_buf out = {0};
    cat_task *k;
    while ((k = pool_pop(p)) != NULL) {
        if (k->fn)
            k->fn(k->arg);
        else if (enc)
            run_task(k, enc, &out);
        else
            k->err = strom_fail(STROM_ENOMEM, "append worker: no encoder");
        finish_task(k);
    }
    strom_buf_free(&out);
    fmt_encoder_destroy(enc);
    return NULL;
}

/* Starts the workers on first use (caller holds p->mu). Returns 0 if none could start. */
static int pool_start_locked(cat_pool *p)
{
    if (p->started)
        return p->nthreads;
    p->started = 1;
    p->threads = calloc(CAT_POOL_THREADS, sizeof *p->threads);
    for (int i = 0; p->threads && i < CAT_POOL_THREADS; i++) {
        if (pthread_create(&p->threads[i], NULL, pool_main, p) != 0)
            break;
        p->nthreads++;
    }
    return p->nthreads;
}

/* Queues tasks (all share one join); returns 0 if the pool has no threads. */
static int pool_submit(cat_pool *p, cat_task *tasks, int n)
{
    pthread_mutex_lock(&p->mu);
    int ok = pool_start_locked(p) > 0 && !p->stop;
    for (int i = 0; ok && i < n; i++) {
        tasks[i].next = NULL;
        if (p->tail)
            p->tail->next = &tasks[i];
        else
            p->head = &tasks[i];
        p->tail = &tasks[i];
    }
    if (ok)
        pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return ok;
}

void cat_pool_shutdown(strom_db *db)
{
    cat_pool *p = &db->pool;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    p->threads = NULL;
    p->nthreads = 0;
}

/* --------------------------------------------------------------- scratch */

static cat_scratch *scratch_get(strom_db *db)
{
    pthread_mutex_lock(&db->pool.mu);
    cat_scratch *s = db->free_scratch;
    if (s)
        db->free_scratch = s->next;
    pthread_mutex_unlock(&db->pool.mu);
    if (s)
        return s;
    s = strom_calloc(1, sizeof *s);
    if (s && !(s->enc = fmt_encoder_create())) {
        free(s);
        s = NULL;
    }
    if (!s)
        strom_fail(STROM_ENOMEM, "append: out of memory");
    return s;
}

static void scratch_put(strom_db *db, cat_scratch *s)
{
    pthread_mutex_lock(&db->pool.mu);
    s->next = db->free_scratch;
    db->free_scratch = s;
    pthread_mutex_unlock(&db->pool.mu);
}

static void scratch_free(cat_scratch *s)
{
    fmt_encoder_destroy(s->enc);
    strom_buf_free(&s->out);
    strom_buf_free(&s->key);
    free(s->sel);
    free(s->bucket_of);
    free(s->tasks);
    free(s->dirs);
    free(s);
}

void cat_scratch_free_all(strom_db *db)
{
    while (db->free_scratch) {
        cat_scratch *s = db->free_scratch;
        db->free_scratch = s->next;
        scratch_free(s);
    }
}

static strom_err scratch_reserve(cat_scratch *s, size_t rows, int ntasks)
{
    if (rows > s->cap_rows) {
        uint32_t *a = realloc(s->sel, rows * sizeof *a), *b;
        if (a)
            s->sel = a;
        b = a ? realloc(s->bucket_of, rows * sizeof *b) : NULL;
        if (!b)
            return strom_fail(STROM_ENOMEM, "append: out of memory for %zu rows", rows);
        s->bucket_of = b;
        s->cap_rows = rows;
    }
    if (ntasks > s->cap_tasks) {
        cat_task *t = realloc(s->tasks, (size_t)ntasks * sizeof *t);
        if (!t)
            return strom_fail(STROM_ENOMEM, "append: out of memory");
        s->tasks = t;
        s->cap_tasks = ntasks;
    }
    return STROM_OK;
}

/* ---------------------------------------------------------------- checks */

/* The table schema version the rows were built for; patch = its id if the builder's
 * schema carries another id. ESCHEMA if the columns match no version. */
static strom_err match_schema(const strom_table *t, const strom_builder *b, uint32_t *patch)
{
    const strom_schema *bs = fmt_builder_schema(b);
    const cat_meta *m = &t->e->meta;
    for (int i = m->nschemas - 1; i >= 0; i--)
        if (cat_schema_same_columns(bs, m->schemas[i])) {
            *patch = bs->id == m->schemas[i]->id ? 0 : m->schemas[i]->id;
            return STROM_OK;
        }
    const strom_schema *cur = cat_meta_schema(m);
    for (int c = 0; c < bs->ncols && c < cur->ncols; c++)
        if (strcmp(bs->cols[c].name, cur->cols[c].name) || bs->cols[c].type != cur->cols[c].type
            || bs->cols[c].not_null != cur->cols[c].not_null)
            return strom_fail(STROM_ESCHEMA, "table %s: the rows' column %d '%s' %s does not "
                              "match the table's column '%s' %s%s", cat_tname(t), c,
                              bs->cols[c].name, strom_type_name(bs->cols[c].type),
                              cur->cols[c].name, strom_type_name(cur->cols[c].type),
                              cur->cols[c].not_null ? " NOT NULL" : "");
    return strom_fail(STROM_ESCHEMA, "table %s: the rows have %d columns; no schema version of "
                      "the table has those columns (current: %d)", cat_tname(t), bs->ncols,
                      cur->ncols);
}

static void encode_opts(const cat_opts *o, fmt_encode_opts *eo)
{
    fmt_encode_opts_init(eo);
    eo->codec = o->codec;
    eo->zstd_level = o->zstd_level;
    eo->plain_only = o->plain_only;
    eo->time_col = o->time_col;
}

/* --------------------------------------------------------------- routing */

/* Fills s->sel with row indexes grouped by bucket; s->start[b] .. s->start[b+1]. */
static strom_err route_by_key(const strom_table *t, const strom_builder *b, int64_t nrows,
                              cat_scratch *s)
{
    const cat_opts *o = &t->e->meta.opts;
    int nb = o->nbuckets;
    strom_column cols[LOG_MAX_KEY_COLS];
    for (int k = 0; k < o->nbucket_key; k++)
        fmt_builder_view(b, o->bucket_key[k], &cols[k]);
    memset(s->start, 0, sizeof(uint32_t) * (size_t)(nb + 1));
    for (int64_t r = 0; r < nrows; r++) {
        strom_buf_clear(&s->key);
        for (int k = 0; k < o->nbucket_key; k++) {
            strom_err err = fmt_key_from_column(&s->key, &cols[k], r);
            if (err != STROM_OK)
                return err;
        }
        uint32_t bk = (uint32_t)fmt_bucket_of(s->key.data, s->key.len, nb);
        s->bucket_of[r] = bk;
        s->start[bk + 1]++;
    }
    for (int i = 0; i < nb; i++)
        s->start[i + 1] += s->start[i];
    uint32_t pos[CAT_MAX_BUCKETS];
    memcpy(pos, s->start, sizeof(uint32_t) * (size_t)nb);
    for (int64_t r = 0; r < nrows; r++)
        s->sel[pos[s->bucket_of[r]]++] = (uint32_t)r;
    return STROM_OK;
}

/* One task per bucket that got rows. Returns the task count. */
static int make_tasks(const strom_table *t, const strom_builder *b, const fmt_encode_opts *eo,
                      uint32_t patch, cat_scratch *s)
{
    int n = 0;
    for (int i = 0; i < t->e->meta.opts.nbuckets; i++) {
        uint32_t cnt = s->start[i + 1] - s->start[i];
        if (!cnt)
            continue;
        cat_task *k = &s->tasks[n++];
        memset(k, 0, offsetof(cat_task, msg));
        k->msg[0] = '\0';
        k->bucket = t->e->buckets[i];
        k->bucket_no = i;
        k->rows = b;
        k->sel = s->sel + s->start[i];
        k->nsel = cnt;
        k->eo = eo;
        k->patch_id = patch;
    }
    return n;
}

/* Waits for the pooled tasks of j (if pooled), then destroys j. */
static void join_wait(cat_join *j, int pooled)
{
    pthread_mutex_lock(&j->mu);
    while (pooled && j->left > 0)
        pthread_cond_wait(&j->cv, &j->mu);
    pthread_mutex_unlock(&j->mu);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
}

/* Runs tasks: the first in this thread, the others on the pool (inline if it has none). */
static void run_tasks(strom_table *t, cat_scratch *s, int n)
{
    cat_join j = {.left = n - 1};
    pthread_mutex_init(&j.mu, NULL);
    pthread_cond_init(&j.cv, NULL);
    for (int i = 0; i < n; i++)
        s->tasks[i].join = &j;
    int pooled = n > 1 && pool_submit(&t->db->pool, s->tasks + 1, n - 1);
    run_task(&s->tasks[0], s->enc, &s->out);
    for (int i = 1; !pooled && i < n; i++)
        run_task(&s->tasks[i], s->enc, &s->out);
    join_wait(&j, pooled);
}

void cat_run_parallel(strom_db *db, void (*fn)(void *arg), void *const *args, int n)
{
    if (n <= 0)
        return;
    cat_task stack[8], *tasks = n <= 8 ? stack : strom_calloc((size_t)n, sizeof *tasks);
    cat_join j = {.left = n - 1};
    int pooled = 0;
    if (tasks) {
        pthread_mutex_init(&j.mu, NULL);
        pthread_cond_init(&j.cv, NULL);
        for (int i = 0; i < n; i++)
            tasks[i] = (cat_task){.fn = fn, .arg = args[i], .join = &j};
        pooled = n > 1 && pool_submit(&db->pool, tasks + 1, n - 1);
    }
    fn(args[0]);
    for (int i = 1; !pooled && i < n; i++)
        fn(args[i]);
    if (!tasks)
        return;
    join_wait(&j, pooled);
    if (tasks != stack)
        free(tasks);
}

static strom_err collect(strom_table *t, cat_scratch *s, int n, strom_append_result *res)
{
    strom_err err = STROM_OK;
    int nb = t->e->meta.opts.nbuckets;
    if (res) {
        res->rows = 0;
        res->nbuckets = nb;
        for (int i = 0; i < nb; i++) {
            if (res->first_offset)
                res->first_offset[i] = -1;
            if (res->last_offset)
                res->last_offset[i] = -1;
        }
    }
    for (int i = 0; i < n; i++) {
        cat_task *k = &s->tasks[i];
        if (k->err != STROM_OK) {
            if (err == STROM_OK)
                err = strom_fail(k->err, "table %s: append to bucket %d: %s", cat_tname(t),
                                 k->bucket_no, k->msg);
            continue;
        }
        if (!res)
            continue;
        res->rows += (int64_t)k->nsel;
        if (res->first_offset)
            res->first_offset[k->bucket_no] = k->first;
        if (res->last_offset)
            res->last_offset[k->bucket_no] = k->first + (int64_t)k->nsel - 1;
    }
    return err;
}

/* ---------------------------------------------------------------- public */

static strom_err check_rows(const strom_table *t, const strom_builder *rows, int64_t *nrows)
{
    strom_err err = cat_refuse_pk(t, "append");
    if (err != STROM_OK)
        return err;
    if (!rows)
        return strom_fail(STROM_EINVAL, "table %s: append: no rows given", cat_tname(t));
    *nrows = strom_builder_nrows(rows);
    if (*nrows > (int64_t)UINT32_MAX)
        return strom_fail(STROM_ELIMIT, "table %s: append: %lld rows in one call", cat_tname(t),
                          (long long)*nrows);
    return STROM_OK;
}

static void empty_result(const strom_table *t, strom_append_result *res)
{
    if (!res)
        return;
    res->rows = 0;
    res->nbuckets = t->e->meta.opts.nbuckets;
    for (int i = 0; i < res->nbuckets; i++) {
        if (res->first_offset)
            res->first_offset[i] = -1;
        if (res->last_offset)
            res->last_offset[i] = -1;
    }
}

static strom_err append_locked(strom_table *t, const strom_builder *rows, int64_t nrows,
                               const int64_t idem[2], strom_append_result *res, cat_scratch *s)
{
    const cat_opts *o = &t->e->meta.opts;
    fmt_encode_opts eo;
    uint32_t patch = 0;
    strom_err err = match_schema(t, rows, &patch);
    if (err == STROM_OK)
        err = scratch_reserve(s, (size_t)nrows, o->nbuckets);
    if (err == STROM_OK && o->nbucket_key > 0 && o->nbuckets > 1) {
        err = route_by_key(t, rows, nrows, s);
    } else if (err == STROM_OK) {
        int bk = (int)(atomic_fetch_add(&t->e->sticky, 1) % (uint64_t)o->nbuckets);
        for (int64_t r = 0; r < nrows; r++)
            s->sel[r] = (uint32_t)r;
        for (int i = 0; i <= o->nbuckets; i++)
            s->start[i] = i <= bk ? 0 : (uint32_t)nrows;
    }
    if (err != STROM_OK)
        return err;
    encode_opts(o, &eo);
    eo.writer_id = idem ? idem[0] : -1;
    eo.batch_seq = idem ? (int32_t)idem[1] : -1;
    int n = make_tasks(t, rows, &eo, patch, s);
    run_tasks(t, s, n);
    return collect(t, s, n, res);
}

/* idem: NULL, or {writer id, batch sequence} for every bucket's batch (cat_append_idem). */
static strom_err append_rows(strom_table *t, const strom_builder *rows, const int64_t idem[2],
                             strom_append_result *res)
{
    int64_t nrows = 0;
    strom_err err = check_rows(t, rows, &nrows);
    if (err != STROM_OK || nrows == 0) {
        empty_result(t, res);
        return err;
    }
    cat_scratch *s = scratch_get(t->db);
    if (!s)
        return STROM_ENOMEM;
    pthread_rwlock_rdlock(&t->e->lock);
    err = append_locked(t, rows, nrows, idem, res, s);
    pthread_rwlock_unlock(&t->e->lock);
    scratch_put(t->db, s);
    cat_notify_append(t, -1); /* also after a partial failure: some buckets may have rows */
    return err;
}

strom_err strom_table_append(strom_table *t, const strom_builder *rows, strom_append_result *res)
{
    return append_rows(t, rows, NULL, res);
}

strom_err cat_append_idem(strom_table *t, const strom_builder *rows, int64_t writer_id, int32_t batch_seq)
{
    const int64_t idem[2] = {writer_id, batch_seq};
    return append_rows(t, rows, idem, NULL);
}

strom_err strom_table_append_bucket(strom_table *t, int bucket, const strom_builder *rows,
                                    int64_t *first_offset)
{
    int64_t nrows = 0;
    if (first_offset)
        *first_offset = -1;
    strom_err err = cat_check_bucket(t, bucket);
    if (err == STROM_OK)
        err = check_rows(t, rows, &nrows);
    if (err != STROM_OK || nrows == 0)
        return err;
    cat_scratch *s = scratch_get(t->db);
    if (!s)
        return STROM_ENOMEM;
    fmt_encode_opts eo;
    cat_task k = {.bucket = t->e->buckets[bucket], .bucket_no = bucket, .rows = rows,
                  .nsel = (size_t)nrows, .eo = &eo};
    pthread_rwlock_rdlock(&t->e->lock);
    encode_opts(&t->e->meta.opts, &eo);
    err = match_schema(t, rows, &k.patch_id);
    if (err == STROM_OK) {
        run_task(&k, s->enc, &s->out);
        err = k.err == STROM_OK ? STROM_OK
                                : strom_fail(k.err, "table %s: append to bucket %d: %s",
                                             cat_tname(t), bucket, k.msg);
    }
    pthread_rwlock_unlock(&t->e->lock);
    scratch_put(t->db, s);
    if (err == STROM_OK && first_offset)
        *first_offset = k.first;
    if (err == STROM_OK)
        cat_notify_append(t, bucket);
    return err;
}

/* ------------------------------------------------------------- encoded */

static strom_err check_encoded(const strom_table *t, const fmt_hdr *h, const fmt_dir *dirs)
{
    const cat_meta *m = &t->e->meta;
    if (h->schema_id < 1 || h->schema_id > (uint32_t)m->nschemas)
        return strom_fail(STROM_ESCHEMA, "table %s: batch schema id %u is not one of the "
                          "table's (1..%d)", cat_tname(t), h->schema_id, m->nschemas);
    const strom_schema *s = m->schemas[h->schema_id - 1];
    if (h->ncols != s->ncols)
        return strom_fail(STROM_ESCHEMA, "table %s: batch has %u columns, schema %u has %d",
                          cat_tname(t), h->ncols, h->schema_id, s->ncols);
    for (int i = 0; i < s->ncols; i++) {
        if (dirs[i].type != s->cols[i].type)
            return strom_fail(STROM_ESCHEMA, "table %s: batch column %d is %s, schema %u "
                              "column '%s' is %s", cat_tname(t), i,
                              strom_type_name(dirs[i].type) ? strom_type_name(dirs[i].type)
                                                            : "?", h->schema_id,
                              s->cols[i].name, strom_type_name(s->cols[i].type));
        if (s->cols[i].not_null && dirs[i].null_count)
            return strom_fail(STROM_ESCHEMA, "table %s: batch has %u NULLs in NOT NULL column "
                              "'%s'", cat_tname(t), dirs[i].null_count, s->cols[i].name);
    }
    uint32_t tc = m->opts.time_col < 0 ? FMT_NO_TIME_COLUMN : (uint32_t)m->opts.time_col;
    if (h->time_col != tc)
        return strom_fail(STROM_ESCHEMA, "table %s: batch time column %d, the table's is %d",
                          cat_tname(t), (int)h->time_col, (int)tc);
    return STROM_OK;
}

static strom_err append_encoded(strom_table *t, int bucket, const void *batch, size_t len,
                                cat_scratch *s, log_append_result *res)
{
    fmt_hdr h;
    if (!s->dirs && !(s->dirs = strom_calloc(FMT_MAX_COLUMNS, sizeof *s->dirs)))
        return STROM_ENOMEM;
    strom_buf_clear(&s->out);
    strom_err err = strom_buf_append(&s->out, batch, len);
    if (err == STROM_OK && (err = fmt_batch_verify(s->out.data, len, &h, s->dirs)) != STROM_OK)
        strom_fail_wrap(err, "table %s bucket %d: encoded batch", cat_tname(t), bucket);
    if (err == STROM_OK && (size_t)h.length + 12 != len)
        err = strom_fail(STROM_ECORRUPT, "table %s bucket %d: encoded batch is %zu bytes, its "
                         "header says %zu", cat_tname(t), bucket, len, (size_t)h.length + 12);
    if (err == STROM_OK)
        err = check_encoded(t, &h, s->dirs);
    if (err == STROM_OK && (err = log_bucket_append_ex(t->e->buckets[bucket], s->out.data, len,
                                                       res)) != STROM_OK)
        strom_fail_wrap(err, "table %s: append to bucket %d", cat_tname(t), bucket);
    return err;
}

strom_err strom_table_append_encoded_ex(strom_table *t, int bucket, const void *batch,
                                        size_t len, strom_encoded_result *res)
{
    log_append_result r = {.base_offset = -1};
    strom_err err = cat_refuse_pk(t, "append");
    if (err == STROM_OK)
        err = cat_check_bucket(t, bucket);
    if (err == STROM_OK && (!batch || len == 0))
        err = strom_fail(STROM_EINVAL, "table %s: append_encoded: empty batch", cat_tname(t));
    cat_scratch *s = err == STROM_OK ? scratch_get(t->db) : NULL;
    if (err == STROM_OK && !s)
        err = strom_fail(STROM_ENOMEM, "table %s: out of memory for an append", cat_tname(t));
    if (err == STROM_OK) {
        pthread_rwlock_rdlock(&t->e->lock);
        err = append_encoded(t, bucket, batch, len, s, &r);
        pthread_rwlock_unlock(&t->e->lock);
        scratch_put(t->db, s);
    }
    if (res) {
        res->first_offset = err == STROM_OK ? r.base_offset : -1;
        res->nrows = err == STROM_OK ? r.nrecords : 0;
        res->duplicate = err == STROM_OK && r.duplicate;
    }
    if (err == STROM_OK && !r.duplicate)
        cat_notify_append(t, bucket);
    return err;
}

strom_err strom_table_append_encoded(strom_table *t, int bucket, const void *batch, size_t len,
                                     int64_t *first_offset)
{
    strom_encoded_result r;
    strom_err err = strom_table_append_encoded_ex(t, bucket, batch, len, &r);
    if (first_offset)
        *first_offset = r.first_offset;
    return err;
}
