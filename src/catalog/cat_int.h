/*
 * cat_int.h: internals of src/catalog shared by its files: the database, the per-table
 * entry shared by every handle of a table, and the append worker pool.
 *
 * Locking: db->mu guards the entry list, entry refcounts, bucket opening/closing,
 * create and drop. entry->lock (rwlock) guards entry->meta: appends, scans and readers of
 * the schema take it shared; strom_table_add_column takes it exclusive. Bucket pointers
 * do not change while a handle is open (refs > 0).
 */
#ifndef STROM_CAT_INT_H
#define STROM_CAT_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "catalog.h"
#include "kv/kv.h"

typedef struct cat_entry {
    struct cat_entry *next;
    char *name;            /* canonical "db.table" */
    char *display;         /* "table" in the default database, else "db.table" */
    char *dir;             /* <root>/<db>/<table> */
    char *broken;          /* set when the metadata failed to load: the error message */
    cat_meta meta;
    pthread_rwlock_t lock;
    log_bucket **buckets;  /* meta.opts.nbuckets, opened while refs > 0 */
    char **bucket_names;   /* "table 't' bucket 3", alive while the buckets are open */
    kv_state **kvs;        /* primary-key tables: the state of each bucket (<dir>/kv-<N>),
                              open while the buckets are */
    int refs;
    atomic_uint_fast64_t sticky; /* round-robin bucket for key-less appends */
} cat_entry;

typedef struct cat_task cat_task;

/* A fixed pool of threads that run bucket appends in parallel (so fsyncs overlap). */
typedef struct cat_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    cat_task *head, *tail;
    pthread_t *threads;
    int nthreads, started, stop;
} cat_pool;

/* Scratch for one append call (encoder, selection arrays); pooled per db. */
typedef struct cat_scratch {
    struct cat_scratch *next;
    fmt_encoder *enc;
    strom_buf out, key;
    uint32_t *sel, *bucket_of;
    size_t cap_rows;
    uint32_t start[CAT_MAX_BUCKETS + 1];
    cat_task *tasks;
    int cap_tasks;
    fmt_dir *dirs;         /* FMT_MAX_COLUMNS entries, for encoded batches */
} cat_scratch;

struct strom_db {
    char *dir;
    int lock_fd;           /* flock'd <dir>/.lock */
    pthread_mutex_t mu;
    cat_entry *entries;
    uint64_t next_table_id;
    cat_scratch *free_scratch;
    cat_pool pool;
    const struct cat_listener *_Atomic listener; /* serve.h: the append listener or NULL */
};

struct strom_table {
    strom_db *db;
    cat_entry *e;
};

/* db.c */
strom_err cat_split_name(const char *name, char *db, char *table);
cat_entry *cat_find_locked(strom_db *db, const char *canonical);
void cat_entry_free(cat_entry *e);
strom_err cat_table_path(const strom_db *db, const char *dbname, const char *table,
                         char *out, size_t cap);

/* table.c */
strom_err cat_open_buckets(cat_entry *e);
void cat_close_buckets(cat_entry *e);
strom_err cat_check_bucket(const strom_table *t, int bucket);
const char *cat_tname(const strom_table *t);

/* kvapi.c */
strom_err cat_open_kvs(cat_entry *e);
void cat_close_kvs(cat_entry *e);
/* EUNSUPPORTED for a primary-key table (what names the refused call). */
strom_err cat_refuse_pk(const strom_table *t, const char *what);

/* scan.c */
strom_err cat_find_column(const strom_table *t, const strom_schema *s, const char *name, int *out);
/* Projection names -> column indexes (*out NULL for n == 0). Owned: free(). */
strom_err cat_resolve_proj(const strom_table *t, const strom_schema *s, const char *const *names,
                           int n, int **out);
strom_err cat_convert_value(const strom_table *t, const fmt_column_def *c, const strom_value *v,
                            const char *what, strom_value *out);

/* history.c */
/* A new batch of rows rows[i] of batches src[which[i]] (same projection). Owned. */
strom_err cat_batch_gather(strom_batch *const *src, const int *which, const int64_t *rows,
                           int64_t n, int ncols, strom_batch **out);

/* append.c */
void cat_pool_shutdown(strom_db *db);
/* Runs fn(args[i]) for i < n: args[0] in the calling thread, the others on the db's pool
 * (inline when it has no threads), and returns when all are done. fn must not fail
 * silently: it records its own result (and strom_errmsg(), which is per thread) in its
 * argument. */
void cat_run_parallel(strom_db *db, void (*fn)(void *arg), void *const *args, int n);
void cat_scratch_free_all(strom_db *db);
/* strom_table_append with every bucket's batch carrying writer_id + batch_seq, so the
 * log's idempotence (log.h) applies it at most once per bucket (strom_table_write on a log
 * table). */
strom_err cat_append_idem(strom_table *t, const strom_builder *rows, int64_t writer_id, int32_t batch_seq);

#endif /* STROM_CAT_INT_H */
