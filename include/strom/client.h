/*
 * client.h: the strom client library: talks to a strom server over the native protocol
 * (docs/protocol.md). Implementation: src/client (prefix stc_ inside, strom_client_ and
 * strom_producer_ / strom_subscriber_ / strom_lookuper_ here; strom_client_key_history).
 *
 * Conventions are strom.h's: opaque handles with create/close pairs (NULL is a no-op for
 * close/destroy), strom_err results, strom_errmsg() for the calling thread naming the
 * server, the api and what failed ("server 127.0.0.1:9123: FETCH_LOG: table 't' ...").
 *
 * Objects and threads
 *  - strom_client: one TCP connection (re-opened on demand after it broke), with any number
 *    of requests in flight (pipelining; the server answers in order, answers are matched by
 *    request id). SAFE for concurrent callers: any number of threads may call it and the
 *    producers / subscribers / lookupers made from it at once. No background thread: a
 *    caller waiting for an answer reads the connection when no other caller does and
 *    hands the others theirs. Every call has a deadline (request_timeout_ms); a call
 *    that passes it fails with STROM_ETIMEOUT and its late answer is dropped; the
 *    connection stays, so the next call works as soon as the server answers again.
 *    The server answers one connection's requests in order and runs them one at a time:
 *    pipelining saves round trips, not server time; use several clients for parallelism.
 *    A connection that broke (EOF, reset, a half-written request) fails every call in
 *    flight with STROM_EIO; the next call reconnects.
 *  - strom_producer: safe for concurrent senders (rows are queued under a lock); one
 *    background sender thread per producer seals, sends, awaits and retries batches.
 *  - strom_subscriber: one thread at a time (with a connection of its own).
 *  - strom_lookuper: safe for concurrent callers; concurrent lookups to one bucket are
 *    sent together as one LOOKUP request (the first caller sends for everyone queued while
 *    the previous request of that bucket was in flight).
 * Every object made from a client must be closed before the client.
 */
#ifndef STROM_CLIENT_H
#define STROM_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "strom/strom.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STROM_DEFAULT_SERVER "127.0.0.1:9123"

/* ------------------------------------------------------------ connection */

typedef struct strom_client strom_client;

typedef struct strom_client_opts {
    int connect_timeout_ms;   /* default 5000 */
    int request_timeout_ms;   /* default 30000: every call, added to a fetch's max wait */
} strom_client_opts;

/* Connects to "HOST:PORT" (a name or IPv4/IPv6 address; "[::1]:9123" for IPv6). opts may
 * be NULL (defaults). EINVAL for a malformed address, EIO / ETIMEOUT naming the address
 * when nobody answers. Owned: strom_client_close. */
strom_err strom_client_connect(const char *server, const strom_client_opts *opts,
                               strom_client **out);
/* Fails every call still in flight with ECLOSED, closes the connection, frees. */
void strom_client_close(strom_client *c);
/* "HOST:PORT" as given. Borrowed from c. */
const char *strom_client_server(const strom_client *c);

/* A table as the server describes it (GET_TABLE_INFO). Owned: strom_table_info_free. */
typedef struct strom_table_info {
    char *name;
    int32_t schema_id, nbuckets;
    strom_schema *schema;      /* with its primary key; strom_schema_id() = schema_id */
    char **options;            /* NULL-terminated key, value pairs (as strom_table_create) */
    int noptions;              /* pairs */
} strom_table_info;
strom_err strom_client_table_info(strom_client *c, const char *table, strom_table_info **out);
void strom_table_info_free(strom_table_info *t);

/* Table and database administration. options: as strom_table_create (NULL-terminated
 * key, value strings, or NULL). */
strom_err strom_client_create_table(strom_client *c, const char *name, const strom_schema *s,
                                    const char *const *options, int if_not_exists);
strom_err strom_client_drop_table(strom_client *c, const char *name, int if_exists);
/* database "" or NULL: every table. Owned: strom_free_names(*names, *n). */
strom_err strom_client_list_tables(strom_client *c, const char *database, char ***names,
                                   size_t *n);
/* STATS: table "" or NULL: server-wide. Owned: strom_client_stats_free. */
typedef struct strom_stat { char *name; int64_t value; } strom_stat;
strom_err strom_client_stats(strom_client *c, const char *table, strom_stat **stats, size_t *n);
void strom_client_stats_free(strom_stat *stats, size_t n);
/* LIST_OFFSETS of one bucket: spec 0 earliest, 1 latest (one past the last row), 2 the
 * first offset whose row time >= timestamp. */
strom_err strom_client_list_offset(strom_client *c, const char *table, int bucket, int spec,
                                   int64_t timestamp, int64_t *offset);

/* ------------------------------------------------------------- producer */

typedef struct strom_producer strom_producer;

typedef struct strom_producer_opts {
    int linger_ms;            /* a batch waits at most this long for more rows (0: the
                                 default 5; negative: no wait) */
    int64_t batch_bytes;      /* a bucket's batch is sent when its rows take about this
                                 many bytes (Arrow layout; default 1 MiB) */
    int64_t batch_rows;       /* ... or this many rows (default 65536) */
    int max_in_flight;        /* requests sent but not answered (default 8; at most one
                                 per bucket, which keeps retries in sequence order) */
    int acks_none;            /* 0 (default): a batch is acknowledged after the durable
                                 append; 1: as soon as it is written (acks none) */
    int retries;              /* resends of a batch after a failure (0: the default 5;
                                 negative: none) */
    int retry_backoff_ms;     /* pause before a resend (default 100) */
    int64_t buffer_rows;      /* rows queued or in flight before a send blocks (default
                                 4 * batch_rows * buckets) */
    int64_t writer_id;        /* idempotence: > 0 to choose; 0 (default): a random one */
} strom_producer_opts;

/* A producer for one table (log table: PRODUCE_LOG; primary-key table: PUT_KV). Rows are
 * routed to buckets exactly as the server's engine routes them (hash of the 'bucket.key'
 * columns; without a key, all rows of a batch go to one bucket, round-robin per batch),
 * batched per bucket and encoded as storage batches carrying the producer's writer id and
 * a per-bucket sequence, so a batch resent after a failure can be applied once: primary-key
 * tables deduplicate on them (the engine's idempotent writes); log tables do not yet (the
 * server appends a resent PRODUCE_LOG batch again: README, status). While a bucket's
 * request is in flight its new rows keep filling one batch, so batches grow with load.
 * partial_columns (PK tables, may be NULL): partial update of
 * those columns. opts may be NULL. Owned: strom_producer_close. */
strom_err strom_producer_create(strom_client *c, const char *table, const strom_producer_opts *opts,
                                const char *const *partial_columns, int npartial,
                                strom_producer **out);
/* The table's schema (columns in order). Borrowed from p. */
const strom_schema *strom_producer_schema(const strom_producer *p);
/* Queues one row: vals[i] is column i (ncols = the schema's count; is_null for NULL).
 * Strings are copied. ESCHEMA naming column and value for a mismatch; blocks while
 * buffer_rows rows are pending; returns the sticky error of a batch that failed for
 * good (after its retries), naming bucket and rows. */
strom_err strom_producer_send(strom_producer *p, const strom_value *vals, int ncols);
/* Queues every row of a builder with the table's columns (strom_producer_schema): the
 * fast path for bulk loads. Rows are routed as by strom_producer_send; each bucket's rows
 * are encoded by the calling thread into one batch, sent without lingering, after the
 * bucket's rows queued before. PK tables: upserts. The builder is not modified and may be
 * reset as soon as the call returns. Calls of several threads are serialised. */
strom_err strom_producer_send_batch(strom_producer *p, const strom_builder *rows);
/* Primary-key tables: queues a delete of the row's key (only key columns are read). */
strom_err strom_producer_delete(strom_producer *p, const strom_value *vals, int ncols);
/* Sends every queued row now and waits until all are acknowledged (or failed for good:
 * the error is returned). */
strom_err strom_producer_flush(strom_producer *p);
/* Rows acknowledged by the server so far. */
int64_t strom_producer_acked(const strom_producer *p);
/* Rows queued but not yet acknowledged (nor failed for good). 0: every row queued so far
 * is done, so strom_producer_flush returns at once (with the error of a failed one): a
 * caller can wait for its rows without blocking. */
int64_t strom_producer_pending(const strom_producer *p);
int64_t strom_producer_writer_id(const strom_producer *p);
/* Flushes, stops the sender thread, frees. Returns the flush result (p is freed anyway). */
strom_err strom_producer_close(strom_producer *p);

/* ----------------------------------------------------------- subscriber */

typedef struct strom_subscriber strom_subscriber;

typedef enum strom_start { STROM_FROM_EARLIEST = 0, STROM_FROM_LATEST = 1,
                           STROM_FROM_TIMESTAMP = 2, STROM_FROM_OFFSET = 3 } strom_start;

typedef struct strom_subscriber_opts {
    const char *const *columns;  /* projection by name; NULL = all (copied) */
    int ncolumns;
    const strom_pred *preds;     /* ANDed row filter (copied) */
    int npreds;
    int max_wait_ms;             /* long-poll wait per fetch (default 500) */
    int32_t max_bytes;           /* per bucket and fetch (default 4 MiB) */
    int project_here;            /* 1: without preds, fetch the stored batches whole (the
                                    server sends its stored bytes without re-encoding) and
                                    decode only the projected columns here: less server
                                    CPU, more bytes on the connection. 0 (default): the
                                    server projects */
} strom_subscriber_opts;

/* A subscriber of one table. Positions are the caller's: nothing is committed on the
 * server. It opens a connection of its own to c's server (with c's options): the server
 * runs the requests of one connection one after the other, so a long poll parked on a
 * shared connection would hold up the producers and lookups using it. opts may be NULL.
 * Owned: strom_subscriber_close. */
strom_err strom_subscriber_create(strom_client *c, const char *table,
                                  const strom_subscriber_opts *opts, strom_subscriber **out);
/* Adds bucket (or every bucket with bucket = -1) starting at from: EARLIEST, LATEST
 * (rows produced after this call), TIMESTAMP (the first row with time >= value, ms) or
 * OFFSET (value). Asks the server (LIST_OFFSETS) for all but OFFSET. */
strom_err strom_subscriber_assign(strom_subscriber *s, int bucket, strom_start from, int64_t value);
/* Next batch of rows of any assigned bucket: *out borrowed until the next poll or close,
 * *bucket its bucket; *out = NULL when nothing arrived within timeout_ms. Rows are those
 * at or after the bucket's position that pass the filter, projected. */
strom_err strom_subscriber_poll(strom_subscriber *s, int timeout_ms, const strom_batch **out,
                                int *bucket);
/* Next offset to read of an assigned bucket (-1 if not assigned). */
int64_t strom_subscriber_position(const strom_subscriber *s, int bucket);
/* The table's schema and bucket count (borrowed from s). */
const strom_schema *strom_subscriber_schema(const strom_subscriber *s);
int strom_subscriber_nbuckets(const strom_subscriber *s);
void strom_subscriber_close(strom_subscriber *s);

/* ------------------------------------------------------------- lookuper */

typedef struct strom_lookuper strom_lookuper;

/* Lookups on a primary-key table. columns: projection (NULL = all, copied). Owned:
 * strom_lookuper_close. */
strom_err strom_lookuper_create(strom_client *c, const char *table, const char *const *columns,
                                int ncolumns, strom_lookuper **out);
const strom_schema *strom_lookuper_schema(const strom_lookuper *l);
/* Point lookup; key: one value per primary-key column in key order. has_as_of: the row
 * as it was at time as_of (ms). *out: owned batch of one row (strom_batch_destroy), or
 * NULL when the key has no row. Concurrent calls for one bucket share one request. */
strom_err strom_lookuper_get(strom_lookuper *l, const strom_value *key, int nkey, int has_as_of,
                             int64_t as_of, strom_batch **out);
/* Batch lookup: keys[i*nkey ..] is key i, i < n; one request per bucket, all in flight
 * at once. found[i] = 1 for found keys; *out: owned batch of the found rows in key order,
 * NULL if none. */
strom_err strom_lookuper_get_batch(strom_lookuper *l, const strom_value *keys, int nkey, size_t n,
                                   int has_as_of, int64_t as_of, uint8_t *found, strom_batch **out);
/* Every row whose 'bucket.key' columns equal bkey[0..nbkey) (limit 0 = all). *out owned or
 * NULL. */
strom_err strom_lookuper_prefix(strom_lookuper *l, const strom_value *bkey, int nbkey,
                                int32_t limit, strom_batch **out);
void strom_lookuper_close(strom_lookuper *l);

/* -------------------------------------------------------- key history */

/* KEY_HISTORY on a log table with 'table.log.index.key': the newest n rows (1..1,000,000)
 * of the key whose row time (the table's time column) is <= at_or_before (ms), newest
 * first (ties by offset), projected to columns (NULL / 0 = all, in table order). key: one
 * value per index-key column (e.g. device_id of power_equipment_stream). One round trip
 * for the table's description, one for the rows. *out: owned batch (strom_batch_destroy),
 * NULL when the key has no such row. EINVAL for bad arguments; the server's error (e.g. a
 * table without the index) naming the table otherwise. */
strom_err strom_client_key_history(strom_client *c, const char *table, const strom_value *key,
                                   int nkey, int64_t at_or_before, int32_t n,
                                   const char *const *columns, int ncolumns, strom_batch **out);
/* ------------------------------------------------------------------ SQL */

/* A statement run in the server (EXECUTE_SQL) and its result rows. Rows come as
 * strom_batch, one column per result column, typed by the server per batch: integers
 * BIGINT (TIMESTAMP for columns declared TIMESTAMP), reals DOUBLE, text STRING, blobs
 * BYTES; a column computed by an expression may change type between batches. One thread
 * at a time per cursor. Several cursors may be open on one client; each request of them
 * goes over the client's connection in turn (a streaming cursor's fetch waits up to its
 * timeout there, so give a streaming query a client of its own). */
typedef struct strom_sql_cursor strom_sql_cursor;

/* Runs one statement (Flink dialect, as `strom sql`) in the server. settings: NULL or a
 * NULL-terminated list of key, value strings applied as SET on this connection's session
 * before the statement (they stay for later statements of the connection, like SET
 * itself; e.g. "execution.runtime-mode", "streaming"). A statement without rows (DDL, SET,
 * INSERT) is complete on return (strom_client_sql_changes: rows written). Errors name line
 * and column where the front end knows them; strom_client_sql_error_at() then gives the
 * byte of the statement to point at. Owned: strom_client_sql_close (before the client). */
strom_err strom_client_sql_execute(strom_client *c, const char *sql, size_t len,
                                   const char *const *settings, strom_sql_cursor **out);
/* Byte offset in the last failed statement (this thread) the error points at, or -1. */
long strom_client_sql_error_at(void);
/* Result columns: count and names (borrowed from r). */
int strom_client_sql_ncols(const strom_sql_cursor *r);
const char *strom_client_sql_col_name(const strom_sql_cursor *r, int i);
int64_t strom_client_sql_changes(const strom_sql_cursor *r);
/* Next batch of rows: *out borrowed until the next call or close, or NULL when there is
 * none: the end (strom_client_sql_done) or, for a streaming query, nothing within
 * timeout_ms (call again). A failed statement (e.g. interrupted) returns its error and
 * is done. */
strom_err strom_client_sql_next(strom_sql_cursor *r, int timeout_ms, const strom_batch **out);
/* 1 once every row was handed out (a streaming query: only after a cancel or an error). */
int strom_client_sql_done(const strom_sql_cursor *r);
/* Ends the statement in the server (CANCEL_SQL); later next calls give no rows. */
strom_err strom_client_sql_cancel(strom_sql_cursor *r);
/* Cancels if not done, frees r. */
void strom_client_sql_close(strom_sql_cursor *r);
/* Async-signal-safe (e.g. from a SIGINT handler): shuts the client's connection down, so
 * every call in flight fails at once with STROM_EIO; the server then interrupts the
 * statements of that connection and drops its cursors. The next call reconnects. */
void strom_client_interrupt(strom_client *c);

#ifdef __cplusplus
}
#endif
#endif /* STROM_CLIENT_H */
