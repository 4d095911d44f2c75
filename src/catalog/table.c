/* table.c: table handles (shared buckets, refcounted), schema evolution, options and the
 * per-bucket calls that go straight to the log. */
#include "cat_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

const char *cat_tname(const strom_table *t) { return t->e->display; }

strom_err cat_check_bucket(const strom_table *t, int bucket)
{
    if (bucket < 0 || bucket >= t->e->meta.opts.nbuckets)
        return strom_fail(STROM_EINVAL, "table %s: bucket %d out of range (the table has %d)",
                          cat_tname(t), bucket, t->e->meta.opts.nbuckets);
    return STROM_OK;
}

/* ------------------------------------------------------------- buckets */

static void bucket_config(const cat_entry *e, const char *name, log_config *c)
{
    const cat_opts *o = &e->meta.opts;
    log_config_init(c);
    c->name = name;
    c->flush = o->flush;
    c->flush_interval_ms = o->flush_interval_ms;
    c->segment_bytes = o->segment_bytes;
    c->prealloc_bytes = o->prealloc_bytes;
    c->ttl_ms = o->ttl_ms < 0 ? 0 : o->ttl_ms;
    c->index_interval_bytes = o->index_interval_bytes;
    c->time_col = o->time_col;
    c->nkey_cols = o->nindex_key;
    memcpy(c->key_cols, o->index_key, sizeof c->key_cols);
    /* log tables deduplicate producer retries (writer id + batch sequence); a primary-key
     * table's changelog is deduplicated by src/kv before it is appended */
    c->idempotent = cat_meta_schema(&e->meta)->npk == 0;
}

strom_err cat_open_buckets(cat_entry *e)
{
    int n = e->meta.opts.nbuckets;
    e->buckets = strom_calloc((size_t)n, sizeof *e->buckets);
    e->bucket_names = strom_calloc((size_t)n, sizeof *e->bucket_names);
    strom_err err = e->buckets && e->bucket_names ? STROM_OK : STROM_ENOMEM;
    for (int i = 0; err == STROM_OK && i < n; i++) {
        char dir[PATH_MAX], name[CAT_NAME_MAX * 2 + 64];
        log_config c;
        snprintf(name, sizeof name, "table '%s' bucket %d", e->display, i);
        err = strom_path(dir, sizeof dir, "%s/bucket-%d", e->dir, i);
        if (err == STROM_OK && !(e->bucket_names[i] = strom_strdup(name)))
            err = STROM_ENOMEM;
        if (err == STROM_OK) {
            bucket_config(e, e->bucket_names[i], &c);
            err = log_bucket_open(dir, &c, &e->buckets[i]);
        }
    }
    if (err == STROM_OK)
        err = cat_open_kvs(e);
    if (err != STROM_OK)
        cat_close_buckets(e);
    return err;
}

void cat_close_buckets(cat_entry *e)
{
    int n = e->meta.opts.nbuckets;
    cat_close_kvs(e);
    for (int i = 0; e->buckets && i < n; i++)
        if (e->buckets[i])
            log_bucket_close(e->buckets[i]);
    for (int i = 0; e->bucket_names && i < n; i++)
        free(e->bucket_names[i]);
    free(e->buckets);
    free(e->bucket_names);
    e->buckets = NULL;
    e->bucket_names = NULL;
}

/* -------------------------------------------------------------- handles */

strom_err strom_table_open(strom_db *db, const char *name, strom_table **out)
{
    char dbn[CAT_NAME_MAX + 1], tn[CAT_NAME_MAX + 1], canon[2 * CAT_NAME_MAX + 2];
    *out = NULL;
    strom_err err = cat_split_name(name, dbn, tn);
    if (err != STROM_OK)
        return err;
    snprintf(canon, sizeof canon, "%s.%s", dbn, tn);
    strom_table *t = strom_calloc(1, sizeof *t);
    if (!t)
        return STROM_ENOMEM;
    pthread_mutex_lock(&db->mu);
    cat_entry *e = cat_find_locked(db, canon);
    if (!e)
        err = strom_fail(STROM_ENOTFOUND, "table %s does not exist", name);
    else if (e->broken)
        err = strom_fail(STROM_ECORRUPT, "table %s cannot be opened: %s", name, e->broken);
    else if (e->refs == 0 && (err = cat_open_buckets(e)) != STROM_OK)
        strom_fail_wrap(err, "open table %s", name);
    if (err == STROM_OK)
        e->refs++;
    pthread_mutex_unlock(&db->mu);
    if (err != STROM_OK) {
        free(t);
        return err;
    }
    t->db = db;
    t->e = e;
    *out = t;
    return STROM_OK;
}

void strom_table_close(strom_table *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->db->mu);
    if (--t->e->refs == 0)
        cat_close_buckets(t->e);
    pthread_mutex_unlock(&t->db->mu);
    free(t);
}

const strom_schema *strom_table_schema(const strom_table *t)
{
    pthread_rwlock_rdlock(&t->e->lock);
    const strom_schema *s = cat_meta_schema(&t->e->meta);
    pthread_rwlock_unlock(&t->e->lock);
    return s;
}

int strom_table_nbuckets(const strom_table *t) { return t->e->meta.opts.nbuckets; }

const char *strom_table_option(const strom_table *t, const char *key)
{
    size_t n = key ? strlen(key) : 0;
    if (n > 11 && !strncmp(key, "fields.", 7) && !strcmp(key + n - 4, ".agg")) {
        const strom_schema *s = cat_meta_schema(&t->e->meta);  /* aggregation functions */
        for (int i = 0; s->npk && i < s->ncols; i++)
            if (strlen(s->cols[i].name) == n - 11 && !strncmp(s->cols[i].name, key + 7, n - 11))
                return t->e->meta.opts.agg[i] ? cat_agg_name(t->e->meta.opts.agg[i]) : "";
        return NULL;
    }
    return key ? cat_opts_get(&t->e->meta.opts, key) : NULL;
}

/* ------------------------------------------------------- schema evolution */

static strom_err write_meta(const cat_entry *e)
{
    char path[PATH_MAX];
    strom_buf b = {0};
    strom_err err = cat_meta_format(&e->meta, &b);
    if (err == STROM_OK)
        err = strom_path(path, sizeof path, "%s/%s", e->dir, CAT_META_FILE);
    if (err == STROM_OK)
        err = strom_write_file_atomic(path, b.data, b.len);
    strom_buf_free(&b);
    return err;
}

static strom_err new_version(const strom_table *t, const char *name, strom_type type,
                             strom_schema **out)
{
    const cat_meta *m = &t->e->meta;
    if (!name || !name[0] || strlen(name) > 2 * CAT_NAME_MAX)
        return strom_fail(STROM_EINVAL, "table %s: add column: bad column name", cat_tname(t));
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return strom_fail(STROM_EINVAL, "table %s: add column: name contains a control "
                              "character", cat_tname(t));
    if (m->nschemas >= CAT_MAX_SCHEMAS)
        return strom_fail(STROM_ELIMIT, "table %s: add column: %d schema versions already",
                          cat_tname(t), m->nschemas);
    strom_schema *s = fmt_schema_clone(cat_meta_schema(m));
    strom_err err = s ? strom_schema_add(s, name, type, 0) : STROM_ENOMEM;
    if (err != STROM_OK) {
        strom_schema_destroy(s);
        return strom_fail_wrap(err, "table %s: add column '%s'", cat_tname(t), name);
    }
    fmt_schema_set_id(s, (uint32_t)m->nschemas + 1);
    *out = s;
    return STROM_OK;
}

strom_err strom_table_add_column(strom_table *t, const char *name, strom_type type,
                                 uint32_t *schema_id)
{
    cat_entry *e = t->e;
    strom_schema *s = NULL;
    strom_err err = cat_refuse_pk(t, "add column");
    if (err != STROM_OK)
        return err;
    pthread_rwlock_wrlock(&e->lock);
    err = new_version(t, name, type, &s);
    strom_schema **ss = NULL;
    if (err == STROM_OK) {
        ss = realloc(e->meta.schemas, (size_t)(e->meta.nschemas + 1) * sizeof *ss);
        err = ss ? STROM_OK : strom_fail(STROM_ENOMEM, "table %s: out of memory", cat_tname(t));
    }
    if (err == STROM_OK) {
        e->meta.schemas = ss;
        ss[e->meta.nschemas++] = s;
        err = write_meta(e);
        if (err != STROM_OK)  /* the file still holds the old version: forget the new one */
            e->meta.nschemas--;
    }
    if (err != STROM_OK)
        strom_schema_destroy(s);
    else if (schema_id)
        *schema_id = s->id;
    pthread_rwlock_unlock(&e->lock);
    return err;
}

/* ----------------------------------------------------------- per bucket */

strom_err strom_table_flush(strom_table *t)
{
    for (int i = 0; i < t->e->meta.opts.nbuckets; i++) {
        strom_err err = log_bucket_flush(t->e->buckets[i]);
        if (err != STROM_OK)
            return err;
    }
    return STROM_OK;
}

strom_err strom_table_offsets(strom_table *t, int bucket, int64_t *earliest, int64_t *end)
{
    strom_err err = cat_check_bucket(t, bucket);
    int64_t a = 0, b = 0;
    if (err == STROM_OK)
        log_bucket_offsets(t->e->buckets[bucket], &a, &b);
    if (earliest)
        *earliest = a;
    if (end)
        *end = b;
    return err;
}

strom_err strom_table_seek_time(strom_table *t, int bucket, int64_t time, int64_t *offset)
{
    strom_err err = cat_check_bucket(t, bucket);
    return err != STROM_OK ? err : log_bucket_seek_time(t->e->buckets[bucket], time, offset);
}

strom_err strom_table_retention(strom_table *t, int64_t now_ms, int *removed)
{
    int total = 0;
    strom_err err = STROM_OK;
    for (int i = 0; err == STROM_OK && i < t->e->meta.opts.nbuckets; i++) {
        int r = 0;
        err = log_bucket_retention(t->e->buckets[i], now_ms, &r);
        total += r;
    }
    if (removed)
        *removed = total;
    return err;
}

strom_err strom_table_bucket_stats(strom_table *t, int bucket, strom_bucket_stats *out)
{
    strom_err err = cat_check_bucket(t, bucket);
    return err != STROM_OK ? err : log_bucket_stats(t->e->buckets[bucket], out);
}
