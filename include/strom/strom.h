/*
 * strom.h: the embedded engine API of strom, a streaming store for power-grid data.
 *
 * Conventions (read once, they hold for every call below):
 *  - Handles are opaque. Every X_create/X_open has an X_destroy/X_close; passing NULL to
 *    a destroy/close is a no-op.
 *  - Calls that can fail return strom_err. On failure strom_errmsg() returns, for the
 *    calling thread, a sentence that names what failed and where (table, bucket, offset,
 *    file, column). The text stays valid until the next failing call on that thread.
 *  - "Borrowed" pointers are owned by the handle they came from and stay valid for the
 *    lifetime stated at that call; "owned" results are freed by the caller with the
 *    named function.
 *  - Thread safety: a strom_db and the strom_table handles opened from it may be used
 *    from many threads at once (appends to one bucket are serialised and group-committed;
 *    readers never block writers). Builders, scans and batches belong to one thread at a
 *    time.
 */
#ifndef STROM_STROM_H
#define STROM_STROM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- errors */

/* X(name, value, message). The one error enum of the project. */
#define STROM_ERRORS(X)                                                        \
    X(STROM_OK, 0, "success")                                                  \
    X(STROM_EINVAL, 1, "invalid argument")                                     \
    X(STROM_ENOMEM, 2, "out of memory")                                        \
    X(STROM_EIO, 3, "input/output error")                                      \
    X(STROM_ECORRUPT, 4, "corrupt data")                                       \
    X(STROM_ENOTFOUND, 5, "not found")                                         \
    X(STROM_EEXIST, 6, "already exists")                                       \
    X(STROM_ESCHEMA, 7, "does not fit the schema")                             \
    X(STROM_EOPTION, 8, "unknown or invalid option")                           \
    X(STROM_EFENCED, 9, "writes refused after a failed write or fsync; reopen to recover") \
    X(STROM_ERANGE, 10, "offset or time out of range")                         \
    X(STROM_ENOSPC, 11, "no space left on device")                             \
    X(STROM_EBUSY, 12, "resource busy")                                        \
    X(STROM_ECLOSED, 13, "handle closed")                                      \
    X(STROM_EUNSUPPORTED, 14, "not supported")                                 \
    X(STROM_ELIMIT, 15, "limit exceeded")                                      \
    X(STROM_ETIMEOUT, 16, "timed out")                                         \
    X(STROM_EPROTO, 17, "protocol error")

typedef enum strom_err {
#define STROM_ERR_ENUM_(name, val, msg) name = val,
    STROM_ERRORS(STROM_ERR_ENUM_)
#undef STROM_ERR_ENUM_
} strom_err;

/* Static text for an error code; never NULL (unknown codes give "unknown error"). */
const char *strom_strerror(strom_err err);

/* Detail of the last failure on the calling thread ("" if none). Borrowed, thread-local,
 * valid until the next failing call on this thread. */
const char *strom_errmsg(void);

/* ----------------------------------------------------------------- types */

typedef enum strom_type {
    STROM_BOOLEAN = 1,   /* Arrow: bit-packed, LSB first */
    STROM_INT = 2,       /* int32 */
    STROM_BIGINT = 3,    /* int64 */
    STROM_FLOAT = 4,     /* IEEE 754 binary32 */
    STROM_DOUBLE = 5,    /* IEEE 754 binary64 */
    STROM_STRING = 6,    /* UTF-8; Arrow: int32 offsets[n+1] + data */
    STROM_BYTES = 7,     /* opaque; same layout as STRING */
    STROM_TIMESTAMP = 8  /* TIMESTAMP(3): int64 ms since 1970-01-01, zone-less (Flink) */
} strom_type;

/* "BOOLEAN", "INT", ..., "TIMESTAMP(3)"; NULL for an unknown code. Static. */
const char *strom_type_name(strom_type t);
/* Parses a type name (case-insensitive; STRING, VARCHAR, VARCHAR(n), TIMESTAMP,
 * TIMESTAMP(3), ...). Returns 0 if unknown. */
strom_type strom_type_parse(const char *name);

/* A single typed value (keys, filter constants). Strings are borrowed. */
typedef struct strom_value {
    strom_type type;
    int is_null;
    union {
        int64_t i;       /* BOOLEAN (0/1), INT, BIGINT, TIMESTAMP */
        double d;        /* FLOAT, DOUBLE */
        struct { const char *ptr; size_t len; } s;  /* STRING, BYTES */
    } v;
} strom_value;

/* --------------------------------------------------------------- schemas */

typedef struct strom_schema strom_schema;

/* Creates an empty schema. Owned: free with strom_schema_destroy. NULL on ENOMEM. */
strom_schema *strom_schema_create(void);
void strom_schema_destroy(strom_schema *s);
/* Appends a column. name is copied. Errors: EINVAL (empty/duplicate name, bad type,
 * more than 1024 columns). */
strom_err strom_schema_add(strom_schema *s, const char *name, strom_type type, int not_null);
int strom_schema_ncols(const strom_schema *s);
/* Borrowed from s, valid while s lives and is not modified. i in [0, ncols). */
const char *strom_schema_col_name(const strom_schema *s, int i);
strom_type strom_schema_col_type(const strom_schema *s, int i);
int strom_schema_col_nullable(const strom_schema *s, int i);
/* Column index by name (case-sensitive), or -1. */
int strom_schema_find(const strom_schema *s, const char *name);
/* The id the table gave this schema (0 for a schema not yet registered). */
uint32_t strom_schema_id(const strom_schema *s);
/* Declares the PRIMARY KEY: names[0..n) are existing columns (1..8, distinct, in key
 * order), which become NOT NULL; n = 0 removes it. A table created with a primary key is
 * a primary-key table (strom_table_upsert and lookups below). Names are not kept.
 * EINVAL naming the column. */
strom_err strom_schema_set_primary_key(strom_schema *s, const char *const *names, int n);
/* Number of primary-key columns (0: none); their indexes go to cols[0..min(n, max)). */
int strom_schema_primary_key(const strom_schema *s, int *cols, int max);

/* -------------------------------------------------------- building rows */

/* A builder accumulates rows column by column in Arrow layout. For each row, put exactly
 * one value (or NULL) in every column, then call strom_builder_end_row. */
typedef struct strom_builder strom_builder;

/* Owned: free with strom_builder_destroy. The schema is copied. NULL on ENOMEM. */
strom_builder *strom_builder_create(const strom_schema *s);
void strom_builder_destroy(strom_builder *b);
/* Forgets all rows, keeps the memory for reuse. */
void strom_builder_reset(strom_builder *b);
/* put_*: the value must match the column's type family (int for BOOLEAN/INT/BIGINT/
 * TIMESTAMP, f64 for FLOAT/DOUBLE, str for STRING/BYTES); EINVAL/ESCHEMA otherwise.
 * INT values outside int32 are ESCHEMA. Data is copied. */
strom_err strom_builder_put_int(strom_builder *b, int col, int64_t v);
strom_err strom_builder_put_f64(strom_builder *b, int col, double v);
strom_err strom_builder_put_str(strom_builder *b, int col, const void *p, size_t len);
strom_err strom_builder_put_null(strom_builder *b, int col); /* ESCHEMA if NOT NULL */
strom_err strom_builder_put_value(strom_builder *b, int col, const strom_value *v);
/* Closes the row. ESCHEMA (naming the column) if a column got no value or two; the
 * half row is then discarded and earlier rows are kept. */
strom_err strom_builder_end_row(strom_builder *b);
int64_t strom_builder_nrows(const strom_builder *b);

/* ---------------------------------------------------------- read results */

/* A column of a decoded batch, as Arrow buffers. All pointers are borrowed from the
 * batch and valid until the batch is released (or the scan moves on). */
typedef struct strom_column {
    strom_type type;
    int64_t length;            /* rows */
    int64_t null_count;
    const uint8_t *validity;   /* bitmap, bit set = valid; NULL when null_count == 0 */
    const void *values;        /* fixed-width values (bit-packed for BOOLEAN); NULL for var */
    const int32_t *offsets;    /* STRING/BYTES: length+1 offsets into data */
    const uint8_t *data;       /* STRING/BYTES bytes */
    const char *name;          /* column name */
} strom_column;

/* Change types of a changelog row (Fluss/Flink RowKind). */
typedef enum strom_change {
    STROM_APPEND = 0,          /* +A: log table row */
    STROM_INSERT = 1,          /* +I */
    STROM_UPDATE_BEFORE = 2,   /* -U */
    STROM_UPDATE_AFTER = 3,    /* +U */
    STROM_DELETE = 4           /* -D */
} strom_change;

/* A decoded (possibly projected) batch. */
typedef struct strom_batch strom_batch;

int64_t strom_batch_base_offset(const strom_batch *b);  /* offset of row 0 */
int64_t strom_batch_nrows(const strom_batch *b);
int strom_batch_ncols(const strom_batch *b);             /* projected columns */
uint32_t strom_batch_schema_id(const strom_batch *b);
int64_t strom_batch_commit_time(const strom_batch *b);   /* ms since epoch */
/* Offset of row r (base offset + r unless rows were filtered out; see strom_read_opts). */
int64_t strom_batch_row_offset(const strom_batch *b, int64_t r);
/* Row time of row r: the table's time column, or the commit time without one. */
int64_t strom_batch_row_time(const strom_batch *b, int64_t r);
/* Change type of row r (STROM_APPEND for log tables). */
strom_change strom_batch_row_change(const strom_batch *b, int64_t r);
/* Fills *out with borrowed views of projected column i. EINVAL for a bad index. */
strom_err strom_batch_column(const strom_batch *b, int i, strom_column *out);
/* Convenience accessors (slow path; use strom_column in loops). */
int strom_batch_is_null(const strom_batch *b, int col, int64_t r);
int64_t strom_batch_get_int(const strom_batch *b, int col, int64_t r);
double strom_batch_get_f64(const strom_batch *b, int col, int64_t r);
/* Borrowed pointer into the batch; *len receives the byte length. */
const char *strom_batch_get_str(const strom_batch *b, int col, int64_t r, size_t *len);
/* Frees a batch handed out as owned (key history results). */
void strom_batch_destroy(strom_batch *b);
/* A copy of the builder's completed rows as a decoded batch (to read what a *_into call
 * appended with the strom_batch accessors). Offsets and commit time are 0. Owned:
 * strom_batch_destroy. */
strom_err strom_builder_to_batch(const strom_builder *b, strom_batch **out);

/* --------------------------------------------------------- the database */

typedef struct strom_db strom_db;
typedef struct strom_table strom_table;

/* Opens (creating if missing) the data directory dir. Owned: close with strom_db_close.
 * Recovers every table found (torn tails truncated, indexes rebuilt where damaged). */
strom_err strom_db_open(const char *dir, strom_db **out);
/* Closes the database; every table handle from it must be closed first. */
void strom_db_close(strom_db *db);

/* Creates a table. options is a NULL-terminated array of key, value strings (or NULL):
 *   "bucket.num" "4", "bucket.key" "device_id", "table.log.compression" "ZSTD", ...
 * (the full list with defaults: strom_table_option_help()). Unknown keys are EOPTION
 * with the list of known ones. name: [A-Za-z_][A-Za-z0-9_]* up to 128 bytes, optionally
 * "db.table". A failed create leaves nothing behind. */
strom_err strom_table_create(strom_db *db, const char *name, const strom_schema *schema,
                             const char *const *options);
/* Drops a table and removes its data. EBUSY if a handle to it is open. */
strom_err strom_table_drop(strom_db *db, const char *name);
/* Lists table names. Owned: *names is freed with strom_free_names(*names, *n). */
strom_err strom_table_list(strom_db *db, char ***names, size_t *n);
void strom_free_names(char **names, size_t n);
/* Static, multi-line text: every table option, its default and meaning. */
const char *strom_table_option_help(void);

/* Opens a table. Owned: close with strom_table_close. Many handles may be open. */
strom_err strom_table_open(strom_db *db, const char *name, strom_table **out);
void strom_table_close(strom_table *t);
/* Current schema. Borrowed from t, valid until t is closed or its schema changes. */
const strom_schema *strom_table_schema(const strom_table *t);
/* Adds a nullable column at the end; older batches read it as NULL. The new schema id
 * is returned in *schema_id (may be NULL). */
strom_err strom_table_add_column(strom_table *t, const char *name, strom_type type,
                                 uint32_t *schema_id);
int strom_table_nbuckets(const strom_table *t);
/* Value of an option as stored (defaults filled in). Borrowed from t; NULL if unknown.
 * "fields.<col>.agg" gives a column's aggregate function ("" = the default). */
const char *strom_table_option(const strom_table *t, const char *key);

/* ---------------------------------------------------------------- writes */

typedef struct strom_append_result {
    int64_t rows;            /* rows appended */
    int nbuckets;            /* entries below that were filled (= table buckets) */
    int64_t *first_offset;   /* optional caller array [nbuckets]: first offset per bucket,
                                -1 for buckets that got no rows */
    int64_t *last_offset;    /* optional caller array [nbuckets] */
} strom_append_result;

/* Appends the builder's rows: each row goes to the bucket chosen by the hash of its
 * 'bucket.key' columns (round-robin per call without a key), each bucket's rows become
 * one batch. Returns when the batches are acknowledged under 'table.log.flush' (sync: on
 * disk). res may be NULL. The builder is not modified. EFENCED after a failed fsync. */
strom_err strom_table_append(strom_table *t, const strom_builder *rows, strom_append_result *res);
/* Appends the builder's rows to one bucket as one batch; *first_offset may be NULL. */
strom_err strom_table_append_bucket(strom_table *t, int bucket, const strom_builder *rows,
                                    int64_t *first_offset);
/* Appends an already encoded batch (wire bytes, see src/format/format.h). It is
 * validated (CRC, schema id, layout); base offset and commit time are assigned.
 * Idempotent producers: a batch whose header carries writer_id > 0 and batch_sequence >= 0
 * is appended only if the sequence is above the last one applied for that writer in this
 * bucket (sequences increase per writer and bucket and may skip); otherwise it is a
 * duplicate (a retry of a batch already appended): nothing is written and the call
 * succeeds once the original is acknowledged. The writers survive close, crashes,
 * segment rolls and retention; a writer idle for 7 days (or beyond 100000 writers per
 * bucket, the least recently active) is forgotten and its next batch applied.
 * *first_offset (may be NULL): the batch's first offset; for a duplicate the original's
 * when its sequence is the writer's last one, else -1. */
strom_err strom_table_append_encoded(strom_table *t, int bucket, const void *batch, size_t len,
                                     int64_t *first_offset);
/* What strom_table_append_encoded_ex did. */
typedef struct strom_encoded_result {
    int64_t first_offset;  /* as strom_table_append_encoded's *first_offset */
    int64_t nrows;         /* rows from first_offset on (0 when first_offset is -1) */
    int duplicate;         /* 1: a retry of an applied batch; nothing was written */
} strom_encoded_result;
/* strom_table_append_encoded telling duplicates apart. res may be NULL; it is filled
 * (first_offset -1, nrows 0, duplicate 0) on failure too. The caller owns res. */
strom_err strom_table_append_encoded_ex(strom_table *t, int bucket, const void *batch,
                                        size_t len, strom_encoded_result *res);
/* Makes everything appended so far durable (for 'table.log.flush' = interval/none). */
strom_err strom_table_flush(strom_table *t);

/* ----------------------------------------------------------------- reads */

typedef enum strom_op { STROM_OP_EQ, STROM_OP_NE, STROM_OP_LT, STROM_OP_LE, STROM_OP_GT,
                        STROM_OP_GE } strom_op;

/* One predicate: column <op> constant. A read's predicates are ANDed. */
typedef struct strom_pred {
    const char *column;
    strom_op op;
    strom_value value;
} strom_pred;

#define STROM_TIME_MIN INT64_MIN
#define STROM_TIME_MAX INT64_MAX

typedef struct strom_read_opts {
    const char *const *columns; /* projection by name; NULL = all columns */
    int ncolumns;
    const strom_pred *preds;    /* ANDed predicates; batches whose statistics exclude them
                                   are skipped without being decompressed */
    int npreds;
    int64_t time_min;           /* rows with time in [time_min, time_max] only;        */
    int64_t time_max;           /* use STROM_TIME_MIN/MAX (or 0/0 = no bound) for none  */
    int64_t max_rows;           /* stop after about this many rows (0 = no limit)       */
    int64_t max_bytes;          /* stop after about this many decoded bytes (0 = none)  */
    int batch_level_only;       /* 1: skip batches by statistics but return the rows of
                                   kept batches unfiltered (cheaper); 0 (default): rows
                                   that fail a predicate or the time range are dropped  */
} strom_read_opts;

typedef struct strom_scan strom_scan;

/* Starts reading bucket from offset (clamped up to the earliest retained offset; ERANGE
 * if beyond the end). opts may be NULL (all columns, no filter). The scan sees what was
 * acknowledged when it started and what is acknowledged while it runs. Owned: close
 * with strom_scan_close. */
strom_err strom_scan_open(strom_table *t, int bucket, int64_t offset, const strom_read_opts *opts,
                          strom_scan **out);
/* Next non-empty batch. *out is borrowed until the next call or close; NULL at the end of
 * what is acknowledged (call again later to follow the log). */
strom_err strom_scan_next(strom_scan *s, const strom_batch **out);
/* Offset the next call will read from. */
int64_t strom_scan_position(const strom_scan *s);
void strom_scan_close(strom_scan *s);

/* Offsets of a bucket: the first retained and one past the last acknowledged. */
strom_err strom_table_offsets(strom_table *t, int bucket, int64_t *earliest, int64_t *end);
/* The smallest offset o such that every row with time >= T is at an offset >= o (rows
 * may arrive late: times need not grow with offsets). *offset = end if none. */
strom_err strom_table_seek_time(strom_table *t, int bucket, int64_t time, int64_t *offset);

/* Newest n rows (by row time, ties by offset) of the key whose time is <= T, newest
 * first, with the given projection (NULL = all). Needs 'table.log.index.key'; key is one
 * value per index-key column. Owned result: strom_batch_destroy. */
strom_err strom_table_key_history(strom_table *t, const strom_value *key, int nkey, int64_t time,
                                  int64_t n, const char *const *columns, int ncolumns,
                                  strom_batch **out);

/* Applies 'table.log.ttl' now: removes whole segments whose newest commit time is older
 * than now - ttl (never the active segment). *removed gets the count (may be NULL). */
strom_err strom_table_retention(strom_table *t, int64_t now_ms, int *removed);

/* ---------------------------------------------------- primary-key tables */

/* A table created with a primary key (strom_schema_set_primary_key) keeps the latest row
 * per key; strom_table_append* and strom_table_add_column are refused (EUNSUPPORTED).
 * Every write is merged per key by 'table.merge-engine' (last_row: the write replaces the
 * row; first_row, versioned, aggregation: see strom_table_option_help()) into changelog rows
 * (+I, -U, +U, -D; -U only with 'table.changelog.image' = FULL) appended to the bucket's
 * log, which strom_scan_* reads (strom_batch_row_change); the state changes only once
 * that changelog is durable, and is recovered from it on open. */

/* Upserts the builder's rows (columns as the table's): each row is merged into its key's
 * row (last_row: replaces it), in row order. Rows go to buckets by 'bucket.key'
 * (default: the primary key); the buckets' parts are written in parallel (their
 * changelog fsyncs overlap). Every row is checked first (ESCHEMA naming table, row and
 * column for a NULL key or a column that does not match): nothing is written then. Each
 * bucket's rows are applied all or nothing; a failure in one bucket (I/O, an aggregate
 * overflow) leaves the other buckets' parts written (use an idempotent strom_table_write
 * to retry safely). The builder is not modified. */
strom_err strom_table_upsert(strom_table *t, const strom_builder *rows);
/* Partial update: as strom_table_upsert, but only columns[0..ncolumns) (names) are
 * written; the builder still has the table's columns, the others are not read. A key
 * with a row keeps its other columns (aggregation: only the named columns are merged);
 * a new key gets NULL in them. Every primary-key column must be named; an unknown
 * column, a key column not named, or a NOT NULL column not named is ESCHEMA naming table
 * and column. Merge engines last_row and aggregation only (first_row and versioned:
 * EUNSUPPORTED, as in Fluss). The changelog carries the whole rows, before and after. */
strom_err strom_table_upsert_partial(strom_table *t, const strom_builder *rows,
                                     const char *const *columns, int ncolumns);

/* Every kind of write in one call (strom_table_upsert, _delete and _upsert_partial are
 * this with one field set). Zero-initialised: a plain upsert. */
typedef struct strom_write_opts {
    int delete_rows;               /* 1: delete the rows' keys (as strom_table_delete) */
    const char *const *columns;    /* partial update (as strom_table_upsert_partial); NULL: */
    int ncolumns;                  /* every column */
    /* Idempotent write: writer_id > 0 (chosen by the writer, unique per writer process or
     * session) and batch_seq >= 0, increasing with every call of that writer. In each
     * bucket the call touches, it is applied only if batch_seq is greater than the last
     * one of the writer applied there; otherwise that bucket's part is a retry of a write
     * already applied and changes nothing. So a call retried after a failure or a crash
     * (even one that wrote some buckets) applies each bucket's rows exactly once. The last
     * sequence per writer and bucket is kept in the state and in the changelog batch
     * headers, so it survives reopening, a crash and (except for a write that changed no
     * row) a rebuild from the log. 0: not idempotent. */
    int64_t writer_id;
    int32_t batch_seq;
} strom_write_opts;
/* Writes rows as o says. *duplicate (may be NULL) gets 1 when the write was a retry
 * already applied in every bucket it touches. On a log table only an idempotent append
 * is a write (writer_id > 0, batch_seq >= 0, no delete, no columns): the rows are routed
 * as strom_table_append's, and each bucket's batch carries writer_id + batch_seq, so a
 * bucket that already applied that sequence (or a later one) of the writer skips its part
 * (*duplicate is then 0: not told apart); anything else on a log table is EUNSUPPORTED. */
strom_err strom_table_write(strom_table *t, const strom_builder *rows,
                            const strom_write_opts *o, int *duplicate);
/* Deletes the keys of the builder's rows (only the primary-key columns are read; put any
 * value in the others). Keys without a row are skipped. With 'table.delete.behavior'
 * = ignore this does nothing; = disable refuses it (EUNSUPPORTED). */
strom_err strom_table_delete(strom_table *t, const strom_builder *rows);
/* Lookups read the state: the rows of every write acknowledged so far, and only those
 * (a row shows once its changelog is durable). A row cache in memory sits in front of the
 * state store (see strom_kv_cache_set_budget). Key values may be given in any type of the
 * column's family (an INT value for a BIGINT key, ...). Bad keys: a wrong number of
 * values is EINVAL; a NULL or a value of the wrong type is ESCHEMA naming the column.
 * Safe from any number of threads, concurrently with writes. */

/* Point lookup, the fast path: allocates nothing once out has grown (out is the
 * caller's, of the table's column types, e.g. strom_builder_create(table schema); reuse
 * it with strom_builder_reset). key[0..nkey) holds one value per primary-key column, in
 * key order; borrowed for the call. If the key has a row, it is appended to out as one
 * row and *found = 1; else *found = 0 (found may be NULL). */
strom_err strom_table_lookup_into(strom_table *t, const strom_value *key, int nkey,
                                  strom_builder *out, int *found);
/* Batch lookup: keys[i*nkey .. i*nkey+nkey) is key i, i < n (borrowed). found (caller
 * array of n) gets 1 for the keys with a row, whose rows are appended to out in key order
 * (one per found key). Every key is checked first: a bad key appends nothing. */
strom_err strom_table_lookup_batch_into(strom_table *t, const strom_value *keys, int nkey,
                                        size_t n, uint8_t *found, strom_builder *out);
/* Prefix lookup into out: every row whose 'bucket.key' columns equal bkey[0..nbkey) (in
 * bucket.key order), in key-byte order; *nfound (may be NULL) gets their number. Reads
 * the state store (one prefix seek), not the row cache. */
strom_err strom_table_prefix_lookup_into(strom_table *t, const strom_value *bkey, int nbkey,
                                         strom_builder *out, int64_t *nfound);
/* The same three returning an owned batch (free with strom_batch_destroy), NULL when
 * nothing was found; convenient, slower (a builder and a batch per call). */
strom_err strom_table_lookup(strom_table *t, const strom_value *key, int nkey,
                             strom_batch **out);
strom_err strom_table_lookup_batch(strom_table *t, const strom_value *keys, int nkey, size_t n,
                                   uint8_t *found, strom_batch **out);
/* E.g. all devices of a feeder when the key is (feeder, device). */
strom_err strom_table_prefix_lookup(strom_table *t, const strom_value *bkey, int nbkey,
                                    strom_batch **out);
/* The row cache: one memory budget for the whole process, over every primary-key table
 * (default 1 GiB; 0 turns caching off). Rows enter when written and when looked up;
 * over the budget the least recently used (CLOCK) go; a row not cached is read from the
 * state store. Lowering the budget takes effect as rows enter. */
size_t strom_kv_cache_set_budget(size_t bytes);   /* returns the previous budget */
/* Bytes the row caches of the process hold now. */
size_t strom_kv_cache_used(void);

/* Snapshot read of one bucket of a primary-key table: its rows exactly as the changelog
 * up to strom_snapshot_offset() left them, in key order, while writes go on. A "full read"
 * is this followed by strom_scan_open(t, bucket, strom_snapshot_offset(s), ...): every
 * change after the snapshot comes once, none is missed or repeated. opts (may be NULL):
 * columns (projection) and max_rows (a limit) only; predicates or a time range are
 * EUNSUPPORTED. Errors: EUNSUPPORTED for a log table, EINVAL for a bad bucket. The handle
 * borrows t (close it first). Owned: strom_snapshot_close. */
typedef struct strom_snapshot strom_snapshot;
strom_err strom_snapshot_open(strom_table *t, int bucket, const strom_read_opts *opts,
                              strom_snapshot **out);
/* The changelog offset the snapshot reflects (every change at a smaller offset is in it). */
int64_t strom_snapshot_offset(const strom_snapshot *s);
/* Next batch of up to 4096 rows (change type +I, base offset = the snapshot offset),
 * borrowed until the next call or close; NULL at the end. */
strom_err strom_snapshot_next(strom_snapshot *s, const strom_batch **out);
void strom_snapshot_close(strom_snapshot *s);
/* Limit scan: the rows of every bucket (each bucket's own snapshot, buckets in order,
 * keys in key order within one), projected, at most opts->max_rows of them (0: all), as
 * one owned batch (strom_batch_destroy), or NULL when the table is empty. */
strom_err strom_table_scan_kv(strom_table *t, const strom_read_opts *opts, strom_batch **out);

/* ------------------------------------------------- versions and AS OF */

/* Every key of a primary-key table keeps its past versions for 'table.kv.history.ttl'
 * (default 7 d). A version's time is the commit time of the write (default) or, with
 * 'table.kv.version-column', that column's value in the written row (a NULL: the commit
 * time), so a late row with an older event time lands at its place in the past and does
 * not change the answers for times after a newer version. A delete's version time is its
 * commit time in both modes. Two versions of a key with the same time: the later written
 * one counts. The latest-value lookups (strom_table_lookup*) return the merge engine's
 * row, which with a version column is the last written, not necessarily the one with the
 * greatest version time (use merge-engine versioned on the same column for that). The
 * history is that of the changelog: a row the merge engine discards (first_row, a losing
 * versioned row) does not enter it. */

/* AS OF lookup: appends to out (a builder of the table's schema, owned by the caller;
 * rows are appended, nothing else is touched) the key's row as it was at as_of_ms: the
 * version with the greatest time <= as_of_ms, and sets *found = 1; *found = 0 and nothing
 * appended if that version is a delete or there is none. Times older than now -
 * history.ttl may have lost their versions to compaction: such an answer is the oldest
 * version kept at or before the time, or none. key is as strom_table_lookup's. When the
 * answer is the key's newest version (the common case) it costs one state get, no seek;
 * a warm call allocates no strom memory (RocksDB's get may). */
strom_err strom_table_lookup_asof_into(strom_table *t, const strom_value *key, int nkey,
                                       int64_t as_of_ms, strom_builder *out, int *found);
/* Batch AS OF lookup (for joins): key i (keys[i*nkey .. i*nkey+nkey), i < n) at time
 * as_of_ms[i] (n times: pass the same value n times for one time). found (caller array
 * of n) gets 1 for the keys with a row; their rows are appended to out in key order.
 * Per bucket touched: one multi-get of the current rows plus one iterator for the keys
 * that need a seek. Keys all in one bucket (always with bucket.num = 1) decode straight
 * into out; keys of several buckets go through a per-call buffer (allocated). */
strom_err strom_table_lookup_batch_asof_into(strom_table *t, const strom_value *keys, int nkey,
                                             size_t n, const int64_t *as_of_ms,
                                             uint8_t *found, strom_builder *out);
/* Row TTL ('table.kv.ttl') now: every row last written at or before now_ms - ttl is
 * deleted with a -D changelog row carrying its before image (whatever the merge engine
 * and table.delete.behavior), durable and replayed like any write. Reads only the expiry
 * index up to the cutoff. A background thread per bucket does the same with the wall
 * clock every min(ttl/4, 1 s) while the table is open; this call is for deterministic
 * control (tests, operations). *nexpired (may be NULL) gets the rows expired. Nothing to
 * do without a TTL. */
strom_err strom_table_expire(strom_table *t, int64_t now_ms, int64_t *nexpired);
/* Compacts the state of every bucket now, with the history cutoff now_ms -
 * 'table.kv.history.ttl': versions older than that are dropped except each key's newest
 * one at or before the cutoff, so AS OF answers for times >= the cutoff are unchanged
 * (background compactions do the same with the wall clock). */
strom_err strom_table_compact(strom_table *t, int64_t now_ms);

/* Statistics for one bucket (for `strom stats` and benchmarks). */
typedef struct strom_bucket_stats {
    int64_t earliest_offset, end_offset;
    int64_t segments;
    int64_t bytes_on_disk;      /* segment files */
    int64_t raw_bytes;          /* decoded (Arrow layout) size of all batches */
    int64_t batches;
    int64_t fsyncs;             /* since open */
} strom_bucket_stats;
strom_err strom_table_bucket_stats(strom_table *t, int bucket, strom_bucket_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* STROM_STROM_H */
