/*
 * serve.h: engine calls that exist for the server (src/server) and are not part of the
 * embedded API in strom.h: an append listener (long-poll fetches are woken by it, no
 * polling), reading stored batches byte for byte (FETCH without projection forwards them
 * unchanged), and databases (CREATE/DROP/LIST_DATABASES). Implemented in serve.c.
 * Prefix: cat_.
 *
 * The append listener: one per strom_db, set before the first append the caller cares
 * about and cleared (NULL) before the listener's context goes away. After every append
 * that made rows visible to readers (strom_table_append*, strom_table_append_encoded,
 * strom_table_write and its wrappers) the appending thread calls
 *     fn(ctx, table, bucket)
 * with the table's canonical name "db.table" (borrowed for the call) and the bucket the
 * rows went to, or -1 when several buckets may have changed. The call happens after the
 * rows are acknowledged, so a scan started inside or after fn sees them. fn must be quick
 * and must not call back into the engine (it runs on an append path, holding no engine
 * lock). A notification may be spurious; none is lost while the listener is set.
 */
#ifndef STROM_CAT_SERVE_H
#define STROM_CAT_SERVE_H

#include "common/common.h"
#include "strom/strom.h"

typedef void (*cat_append_fn)(void *ctx, const char *table, int bucket);

typedef struct cat_listener {
    cat_append_fn fn;
    void *ctx;
} cat_listener;

/* Sets (or with NULL clears) the db's append listener. l is borrowed: it must stay valid
 * until cleared. Not synchronised with itself: one setter at a time. */
void cat_set_append_listener(strom_db *db, const cat_listener *l);
/* Called by the append paths after a successful append (bucket or -1). */
void cat_notify_append(const strom_table *t, int bucket);

/* The table's canonical "db.table" name. Borrowed from t. */
const char *cat_table_canonical(const strom_table *t);

/* Appends the stored batches of bucket from the one holding offset (clamped up to the
 * earliest retained) to out, unchanged, while they fit max_bytes (the first one always).
 * *next: the offset after the last batch copied (the clamped offset if none). ERANGE past
 * the end, EINVAL for a bad bucket. out is the caller's. */
strom_err cat_read_encoded(strom_table *t, int bucket, int64_t offset, size_t max_bytes,
                           strom_buf *out, int64_t *next);

/* Calls fn(ctx, key, value) for every option of the table that has a value (defaults
 * filled in), in registry order, then "fields.<col>.agg" for columns with an aggregate
 * function. Strings are borrowed for the call. */
void cat_table_options_each(const strom_table *t, void (*fn)(void *ctx, const char *key,
                                                             const char *value), void *ctx);

/* Databases are the directories <dir>/<name>/ (catalog.h); "default" always exists.
 * create: EEXIST unless if_not_exists; drop: ENOTFOUND unless if_exists, EBUSY when it
 * holds tables and cascade is 0 (cascade drops them first; a table with an open handle
 * makes it EBUSY), EINVAL for "default". list: owned names, strom_free_names. */
strom_err cat_database_create(strom_db *db, const char *name, int if_not_exists);
strom_err cat_database_drop(strom_db *db, const char *name, int if_exists, int cascade);
strom_err cat_database_list(strom_db *db, char ***names, size_t *n);

#endif
