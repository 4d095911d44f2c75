/*
 * engine.h: the SQLite side of strom's SQL (internal to src/sql): the virtual table module
 * "strom" (vtab.c) that shows a strom table to SQLite, and the session (session.c) that
 * owns one sqlite3 connection and the catalog actions.
 *
 * A strom table T is registered in the session's connection as
 *     CREATE VIRTUAL TABLE main."T" USING strom("T")
 * and declares to SQLite (sqlite3_declare_vtab) its columns in table order, with the
 * declared types STRING -> TEXT, BYTES -> BLOB, TIMESTAMP(3) -> TIMESTAMP (INTEGER ms;
 * the output formatter prints it as 'yyyy-MM-dd HH:mm:ss.SSS'), the others by their strom
 * name, then two HIDDEN columns:
 *     "__as_of"       hidden column 1: t(e) in FROM (table-valued-function syntax) reads
 *                     the table as of time e (log table: rows whose time <= e)
 *     "__version_at"  hidden column 2: "__version_at" = e in a join's ON reads, per key,
 *                     the version valid at e (primary-key table: its versioned state;
 *                     log table: the newest row of the key at or before e)
 * Primary-key tables with a one-column key are WITHOUT ROWID with that PRIMARY KEY, so
 * UPDATE and DELETE reach xUpdate with the key; others have a rowid (bucket << 48 | offset
 * for rows read from the log).
 *
 * The plans xBestIndex chooses (idxNum) and what xFilter then calls:
 *   PLAN_SCAN     log: strom_scan_* over every bucket with the pushed predicates
 *                 (strom_pred: batch statistics skip) and time range (from the time column
 *                 and "__as_of"; the start offset from strom_table_seek_time);
 *                 primary-key table: strom_snapshot_* per bucket
 *   PLAN_POINT    primary key fully equal: strom_table_lookup, or with "__as_of" /
 *                 "__version_at" strom_table_lookup_asof_into
 *   PLAN_IN       one-column primary key IN (...): strom_table_lookup_batch (batch
 *                 sqlite3_vtab_in), or _batch_asof_into
 *   PLAN_PREFIX   'bucket.key' (a proper part of the primary key) equal: prefix lookup
 *   PLAN_HIST     log with 'table.log.index.key' all equal: strom_table_key_history
 *                 (newest first, so ORDER BY <time column> DESC is consumed), n from
 *                 LIMIT(+OFFSET), 1 for "__version_at", else fetched by doubling
 *   PLAN_GROUP    log scan (as PLAN_SCAN) whose rows go out grouped and in the order of
 *                 SQLite's aOrderBy (GROUP BY, ORDER BY, DISTINCT ... ORDER BY: orderByConsumed,
 *                 so SQLite needs no sorter): the rows are hashed by key and counting-sorted
 *                 by group in memory, within a budget (vtab_group.h); not for streaming mode,
 *                 ORDER BY with a LIMIT, or a DISTINCT without ORDER BY
 *   PLAN_ERROR    a plan that cannot be answered right (e.g. a temporal join without the
 *                 key equality): chosen only when nothing else is possible; xFilter fails
 *                 with the message kept in idxStr
 * idxStr (for the other plans) is "u<colUsed in hex>;" (the projection) and then the xFilter
 * arguments in order, each as "<column><op>[!]," with op '=' equal, 'I' IN list (batch),
 * '<' '{' '>' '}' for < <= > >=, 'L' LIMIT, 'O' OFFSET; PLAN_GROUP then adds its keys as
 * "g:<column><a|d>,..." (ascending / descending); columns ncols and ncols+1 are the two
 * hidden columns; '!' marks a constraint SQLite omits (a key the plan answers exactly, or a
 * scan predicate whose constant has the column's class, which strom_pred applies exactly:
 * integers on integer columns, text on string columns).
 */
#ifndef STROM_SQL_ENGINE_H
#define STROM_SQL_ENGINE_H

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>

#include "sql.h"

/* A continuous job's log-table sink (server/job_log.c): rows(arg, sink, b) is the builder
 * (of the sink's schema, the hook's) that takes the sink rows produced from source bucket b;
 * batch_end(arg, b, next) is called when the stream has finished a batch of bucket b whose
 * last row read was at offset next - 1 (so every row of b before next has produced its
 * output). A streaming window (wstream.c) then closes its windows one end at a time and
 * calls window_end(arg, end, slide) once the rows of the windows ending at end have all been
 * given to the builder (a window job's rows, whatever b says, belong to their window's end;
 * window_end NULL: a window job into a log sink is refused). An error from any fails the
 * statement. */
typedef struct sql_job_sink {
    strom_builder *(*rows)(void *arg, strom_table *sink, int src_bucket);
    strom_err (*batch_end)(void *arg, int src_bucket, int64_t next);
    strom_err (*window_end)(void *arg, int64_t end, int64_t slide);
    void *arg;
} sql_job_sink;

typedef struct sql_store sql_store;
#define SQL_NSTORES 3          /* sql_vctx.stores: 0 the window's rows, 1 and 2 a join's sides */

/* What the virtual tables of one session share with it. */
typedef struct sql_vctx {
    strom_db *db;              /* borrowed: must outlive the session */
    atomic_int cancel;         /* set by sql_session_interrupt: a waiting stream read ends
                                  within SQL_STREAM_SLICE_MS with "interrupted" */
    int streaming;             /* 'execution.runtime-mode' = 'streaming' */
    int from_latest;           /* 'scan.startup.mode' = 'latest': a stream starts at the end */
    void *stream;              /* the cursor that is the statement's stream (at most one) */
    void (*idle)(void *arg);   /* called once before a stream read starts to wait: the
                                  caller may hand out the rows it has so far */
    void *idle_arg;
    /* the stream's positions (set when a stream starts): per bucket the next offset; at
     * an idle call every row before them has been produced */
    const char *stream_table;
    const int64_t *stream_pos;
    int stream_nbuckets;
    /* a continuous job (sql_session_set_job): writes go out in batches while the
     * statement runs (sql_session_flush_writes), the stream resumes at resume_pos */
    int job;
    char resume_table[160];
    int64_t resume_pos[64];
    int resume_n;
    /* a job into a log-table sink (sql_session_set_job_sink): the sink's rows go to the
     * builder the hook gives for the stream's current source bucket, and the hook hears
     * of every source batch the stream has finished (all its output produced) */
    sql_job_sink sink;
    int stream_bucket;         /* the bucket of the stream's current batch (-1: none) */
    int64_t stream_from[64];   /* where the stream started, per bucket (<= 64 buckets) */
    void *writers[16];         /* tables with buffered writes (vtab.c) */
    int nwriters;
    int64_t rows_written;      /* rows the statements of the session wrote so far */
    /* strom_window (window.c) gives only windows whose end is in (win_lo, win_hi]:
     * streaming, the windows being closed; else INT64_MIN, INT64_MAX */
    int64_t win_lo, win_hi;
    /* a streaming window (wstream.c): its state (owned, sql_wstream_free), the declaration
     * its virtual tables take while they are created, the connection, and where a
     * restarted job's windows resume (the end of its last closed window; INT64_MIN) */
    struct sql_wstream *wstream;
    const char *wstream_decl;
    sqlite3 *wstream_db;
    int64_t win_resume_closed;
    sql_store *stores[SQL_NSTORES];   /* what the strom_rows tables show (borrowed) */
    /* a join of two streams (jstream.c): its state (owned, sql_jstream_free), and the
     * positions a scan of table round_table reads from (per bucket, updated as it reads):
     * such a scan reads to the end once and ends (a round), instead of waiting */
    struct sql_jstream *jstream;
    const char *round_table;
    int64_t *round_pos;
    /* a job over a join of two streams: where side k's table resumes (sql_session_set_job_join) */
    char jresume_table[2][160];
    int64_t jresume_pos[2][64];
    int jresume_n[2];
} sql_vctx;

/* rowstore.c: rows held in memory by the streaming operators (see there). */
typedef struct sql_cell {
    int type;                  /* SQLITE_INTEGER, _FLOAT, _TEXT, _BLOB, _NULL */
    int len;
    union {
        int64_t i;
        double d;
        size_t off;            /* into bytes */
    } v;
} sql_cell;
struct sql_store {
    int ncols, tcol;           /* tcol: the time column (every row held has an integer there) */
    sql_cell *cells;           /* nrows x ncols */
    int64_t *rid;              /* each row's source rowid */
    size_t nrows, cap;
    strom_buf bytes;
    size_t first;              /* strom_rows shows rows [first, nrows) with time in (ts_lo, ts_hi) */
    int64_t ts_lo, ts_hi;
    /* a hash index on column kcol (-1: none; kaff 'T' text/blob, 'N' numeric): chains of
     * row numbers + 1 from head[hash & (hsize - 1)] through next[] */
    int kcol;
    char kaff;
    double scan_rows;          /* what a full scan is planned to cost (0: 1000 rows) */
    uint32_t *head, *next;
    size_t hsize;
    /* per row a flag of the operator's (an outer join: 1 matched, 2 emitted padded; 0 when
     * added); unflagged_only: strom_rows shows only rows whose flag is 0 */
    uint8_t *flag;
    int unflagged_only;
};
/* Appends the current row of src (column 0 its rowid, then ncols columns). */
strom_err sql_store_add(sql_store *s, sqlite3_stmt *src);
/* Drops the rows whose time is before keep_from, once they are half the rows. */
strom_err sql_store_prune(sql_store *s, int64_t keep_from);
int64_t sql_store_time(const sql_store *s, size_t r);
void sql_store_show(sql_store *s, size_t first, int64_t ts_lo, int64_t ts_hi);
void sql_store_free(sql_store *s);
/* Registers module strom_rows on db (ctx borrowed). */
strom_err sql_store_register(sqlite3 *db, sql_vctx *ctx);
/* The cursor of an operator's output table (wstream.c, jstream.c) starts with this: its
 * row is the current row of statement rows, advance moves to the next (or sets eof). */
typedef struct sql_out_cursor {
    sqlite3_vtab_cursor base;
    sqlite3_stmt *rows;
    int eof;
    int64_t rowid;
    int (*advance)(sqlite3_vtab_cursor *c);
} sql_out_cursor;
/* Registers an operator's output module m as name: m's xOpen, xClose and xFilter are the
 * caller's; connect (declared as ctx->wstream_decl says), planning, xNext (advance), xEof,
 * xColumn and xRowid are filled in here. m must live as long as db. */
strom_err sql_store_output(sqlite3 *db, sql_vctx *ctx, const char *name, sqlite3_module *m);
/* CREATE VIRTUAL TABLE temp.name USING module (e.g. "strom_rows(1)") declared as decl. */
strom_err sql_make_table(sql_vctx *x, const char *name, const char *module, const char *decl);
strom_err sql_exec(sqlite3 *db, const char *what, const char *q);
/* The declaration of table's columns (owned: sqlite3_free) and s->ncols, s->tcol (col),
 * s->kcol (key: the column a strom_rows table of s answers equality on; NULL: none). */
strom_err sql_source_decl(sql_vctx *x, const char *table, const char *col, const char *key, sql_store *s,
                          char **decl);
/* The declaration of q's result columns (names made unique; owned: sqlite3_free). */
strom_err sql_result_decl(sql_vctx *x, const char *q, char **decl);
/* A table's WATERMARK delay ('table.watermark.delay-ms'; 0 when none). */
int64_t sql_table_delay(sql_vctx *x, const char *table);
/* A table's option key as milliseconds (>= 0; an unparsable value counts as 0), def when the
 * option is unset or the table cannot be opened (a view). */
int64_t sql_table_option_ms(sql_vctx *x, const char *table, const char *key, int64_t def);

/* wstream.c: windowed aggregates in streaming mode (see there). */
typedef struct sql_wstream sql_wstream;
/* Registers the modules strom_rows and strom_wstream on db (ctx borrowed). */
strom_err sql_wstream_register(sqlite3 *db, sql_vctx *ctx);
/* Makes temp."__win_rows" and temp."__win_out" for window win and agg_sql (the query over
 * __win_rows); the statement then reads SELECT * FROM temp."__win_out". */
strom_err sql_wstream_prepare(sql_vctx *ctx, const sql_window *win, const char *agg_sql);
void sql_wstream_free(sql_wstream *w);
/* Drops the last statement's window tables and state (its statement is finalized). */
void sql_wstream_end(sql_vctx *ctx);
/* Per bucket the offset of the oldest row held for an open window, else pos[b]
 * (borrowed until the next call). */
const int64_t *sql_wstream_safe_pos(sql_wstream *w, const int64_t *pos, int n);
int64_t sql_wstream_closed(const sql_wstream *w);
int64_t sql_wstream_late(const sql_wstream *w);

/* jstream.c: a join of two streams (an interval join) in streaming mode (see there). */
typedef struct sql_join sql_join;
typedef struct sql_jstream sql_jstream;
/* Which tables are log tables: 1 with the time column in tcol ("" when none), 0 not a
 * log table. */
typedef struct sql_join_tables {
    int (*log_time)(void *arg, const char *table, char *tcol, size_t cap);
    void *arg;
} sql_join_tables;
/* Whether the statement (Flink dialect) joins two log tables at its top-level FROM: then
 * *out (owned: given to sql_jstream_prepare) with the bounds; errors (EINVAL) name line and
 * column of a condition that cannot be streamed (no equality, bounds not constant). */
strom_err sql_join_detect(const char *sql, size_t len, const sql_join_tables *lt, sql_join **out);
/* The statement with the two tables replaced by temp."__join_l" / "__join_r" (owned:
 * sqlite3_free; NULL when it is no such join): SQL_JOIN_AS_WRITTEN; SQL_JOIN_PAIRS with
 * the join made an inner one (LEFT / RIGHT / FULL [OUTER] JOIN -> JOIN); SQL_JOIN_MARKS
 * `SELECT a.rowid, b.rowid FROM <the stores> JOIN ... ON <the ON condition>` (the pairs
 * the ON condition matches, as the stores' row numbers). */
enum { SQL_JOIN_AS_WRITTEN, SQL_JOIN_PAIRS, SQL_JOIN_MARKS };
char *sql_join_text(const char *sql, size_t len, const sql_join_tables *lt, int which);
/* Whether j is an outer join (LEFT, RIGHT or FULL). */
int sql_join_outer(const sql_join *j);
/* Makes the two sides' stores (temp."__join_l", "__join_r"); takes j. */
strom_err sql_jstream_prepare(sql_vctx *ctx, sql_join *j);
/* Makes temp."__join_out" running q (the query over the stores, SQLite text; an outer
 * join's made inner: SQL_JOIN_PAIRS). An outer join also needs pad (the query as written:
 * it gives the rows without a match, padded with NULLs) and marks (SQL_JOIN_MARKS); NULL
 * for an inner join. */
strom_err sql_jstream_output(sql_vctx *ctx, const char *q, const char *pad, const char *marks);
strom_err sql_jstream_register(sqlite3 *db, sql_vctx *ctx);
void sql_jstream_free(sql_jstream *js);
/* Drops the last statement's join tables and state (its statement is finalized). */
void sql_jstream_end(sql_vctx *ctx);
/* The rows dropped as late, per side. */
void sql_jstream_late(const sql_jstream *js, int64_t late[2]);
/* Side k's table and, per bucket, the offset of its oldest row held, else the next offset
 * to read (borrowed until the next call): where a restarted job resumes that side. */
const int64_t *sql_jstream_safe_pos(sql_jstream *js, int k, const char **table, int *n);

/* The virtual tables of the SQL layer's own (window.c, wstream.c): the base and the
 * session's context. make: an xConnect body (declares decl, err when decl is NULL);
 * free: xDisconnect; sql_cursor_alloc: a zeroed cursor of size bytes. */
typedef struct sql_ctx_vtab {
    sqlite3_vtab base;
    sql_vctx *ctx;
} sql_ctx_vtab;
int sql_ctx_vtab_make(sqlite3 *db, const char *decl, sql_vctx *ctx, sqlite3_vtab **out, char **err);
int sql_ctx_vtab_free(sqlite3_vtab *v);
int sql_cursor_alloc(size_t size, sqlite3_vtab_cursor **out);

/* window.c: registers the table-valued function strom_window(size, slide, ts[, cumulate]) on db
 * (ctx borrowed, must outlive db). */
strom_err sql_window_register(sqlite3 *db, sql_vctx *ctx);
/* a / b rounded toward minus infinity (b > 0). */
int64_t sql_floor_div(int64_t a, int64_t b);

/* vtab.c: writes every table's buffered rows of the running statement now (a job). *rows
 * (may be NULL) gets the rows written. */
strom_err sql_vtab_flush_writes(sql_vctx *ctx, int64_t *rows);

/* Registers the module "strom" on db; tables opened through it come from ctx->db. ctx is
 * borrowed and must outlive db's virtual tables.
 *
 * STREAMING MODE (ctx->streaming): the scan of a log table (plan PLAN_SCAN) is a stream:
 * it reads each bucket up to the end seen when the round began, then waits for an append
 * (sql_stream_wait, in slices of SQL_STREAM_SLICE_MS so that a cancel is seen quickly) and
 * reads the new rows, and never ends by itself. Batches are whole appends, so a round that
 * stops at the end offset seen at its start neither splits nor repeats one. One stream per
 * statement, and it must be the outer loop (read once): a second full read of a log table
 * is refused with a message (a join of two streams reads its tables in rounds instead:
 * sql_vctx.round_pos, jstream.c). Lookups, key histories and primary-key tables read as in
 * batch mode (the state as it is when the row is joined). */
strom_err sql_vtab_register(sqlite3 *db, sql_vctx *ctx);

/* ------------------------------------------------------------- stream wakeups */

#define SQL_STREAM_SLICE_MS 50

/* Process-wide append notification for stream reads (stream.c): the engine's append
 * listener (catalog/serve.h) calls sql_stream_notify after appends; a stream reader takes
 * sql_stream_seq() before it looks for rows and sql_stream_wait()s with it, so an append
 * in between is not missed. Spurious wakeups are harmless. */
void sql_stream_notify(void *ctx, const char *table, int bucket);
uint64_t sql_stream_seq(void);
/* Waits until the sequence differs from seen or ms pass. */
void sql_stream_wait(uint64_t seen, int ms);

/* ---------------------------------------------------------------- session */

/* A session: one sqlite3 connection with every strom table of a strom_db registered, the
 * views defined through it (kept in the strom table SQL_VIEWS_TABLE, so they survive the
 * session), and the settings of SET. One thread at a time; sql_session_interrupt may be
 * called from another thread or a signal handler. */
typedef struct sql_session sql_session;

/* Opens a session over db (borrowed: it must outlive the session). Owned: close with
 * sql_session_close. Registers every table (one that cannot be opened, e.g. damaged, is
 * left out with a line on stderr naming it) and recreates the stored views. */
strom_err sql_session_open(strom_db *db, sql_session **out);
void sql_session_close(sql_session *s);
/* The connection (borrowed, lives as long as s). */
sqlite3 *sql_session_db(sql_session *s);
/* Fixes the clock CURRENT_TIMESTAMP reads (UTC ms; 0: the wall clock again). For tests. */
void sql_session_set_now(sql_session *s, int64_t now_ms);
/* SET key = value: 'table.local-time-zone' (IANA name such as 'Asia/Shanghai', 'UTC' or
 * '+08:00'; default: the machine's zone), 'execution.runtime-mode' ('batch', the default,
 * or 'streaming': see STREAMING MODE above) and 'scan.startup.mode' ('earliest' (= 'full'),
 * the default, or 'latest': where a stream starts). Others: EOPTION naming the key and the
 * known ones. In streaming mode a query whose result needs the whole input (aggregates or
 * GROUP BY without a window, ORDER BY without LIMIT) and writes other than a continuous
 * job are refused by sql_session_run with EUNSUPPORTED saying why; a query with a window
 * runs as wstream.c says. */
strom_err sql_session_set(sql_session *s, const char *key, const char *value);
/* The session's settings as key/value pairs into kv (room for 8; strings borrowed until
 * the next call on this thread or a change of s): what a new session needs to behave the
 * same (sql_session_set each). Returns the count. */
int sql_session_settings(sql_session *s, const char *kv[][2]);
int sql_session_streaming(const sql_session *s);
/* DROP TABLE calls fn(ctx, name) instead of strom_table_drop (a server closes its own idle
 * handle of the table first). */
typedef strom_err (*sql_drop_fn)(void *ctx, const char *name);
void sql_session_set_drop(sql_session *s, sql_drop_fn fn, void *ctx);
/* sql_vctx.idle of the session's tables (NULL: none). */
void sql_session_set_idle(sql_session *s, void (*fn)(void *), void *arg);

/* CONTINUOUS JOBS. In streaming mode `INSERT INTO sink SELECT ...` is a job run by whoever
 * set the hooks (a server: jobs.c): start gets the statement (and the session, for its
 * settings) and answers the job's id (then the statement answers one row, job_id), stop
 * ends job id. Without hooks such an INSERT is refused. SHOW JOBS reads the table
 * SQL_JOBS_TABLE; STOP JOB 'id' calls stop. */
typedef struct sql_job_hooks {
    strom_err (*start)(void *ctx, sql_session *from, const char *sql, size_t len, char *id, size_t cap);
    strom_err (*stop)(void *ctx, const char *id);
    void *ctx;
} sql_job_hooks;
void sql_session_set_jobs(sql_session *s, const sql_job_hooks *h);
/* Makes s a job's session: its streaming INSERT runs (writes are flushed by
 * sql_session_flush_writes, e.g. from the idle hook, not at the end), and its stream on
 * table resume_table starts at pos[0..n) when given (n = the table's bucket count). */
void sql_session_set_job(sql_session *s, const char *resume_table, const int64_t *pos, int n);
strom_err sql_session_flush_writes(sql_session *s, int64_t *rows);
/* A job's log-table sink hooks (sql_job_sink); h NULL: none. */
void sql_session_set_job_sink(sql_session *s, const sql_job_sink *h);
/* Rows the session's statements have written so far (jobs: also before the end). */
int64_t sql_session_rows_written(const sql_session *s);
/* The stream's table and positions (NULL when no stream runs); borrowed. */
const int64_t *sql_session_stream_pos(sql_session *s, const char **table, int *n);
/* A streaming window's progress: the end of its last closed window (INT64_MIN: none) and
 * the late rows it dropped; 0 when the session runs no streaming window. */
int sql_session_window(sql_session *s, int64_t *closed, int64_t *late);
/* A job over a join of two streams: side k's table resumes at pos[0..n) (n = its bucket
 * count; the positions sql_session_join_pos gave before). */
void sql_session_set_job_join(sql_session *s, int k, const char *table, const int64_t *pos, int n);
/* A running join of two streams: side k's table and resume positions (sql_jstream_safe_pos);
 * NULL when the session runs no such join. */
const int64_t *sql_session_join_pos(sql_session *s, int k, const char **table, int *n);
/* A streaming join of two streams: the rows each side dropped as late; 0 when the session
 * runs none. */
int sql_session_join(sql_session *s, int64_t late[2]);
/* A restarted job's windows: those ending at or before closed were emitted already. */
void sql_session_set_window_resume(sql_session *s, int64_t closed);
/* Where the running stream started, per bucket (n of them; NULL when no stream runs or it
 * has more than 64 buckets); borrowed. */
const int64_t *sql_session_stream_from(sql_session *s, int *n);
/* The session zone's offset east of UTC in ms at the current time. */
int64_t sql_session_tz_ms(sql_session *s);
/* Runs one statement (Flink dialect, sql.h). Catalog statements (CREATE/DROP/SET) are
 * done here and *stmt = NULL; a query, INSERT, SHOW TABLES or DESCRIBE comes back
 * prepared in *stmt (owned: sqlite3_finalize) for the caller to step (a write is done by
 * stepping it). Errors: EINVAL for syntax (with sql_error_at() set when the position is
 * known), ENOTFOUND/EEXIST/EOPTION/ESCHEMA naming the table, column or option. */
strom_err sql_session_run(sql_session *s, const char *sql, size_t len, sqlite3_stmt **stmt);
/* Cancels the statement running in s (sqlite3_interrupt; a stream read that waits sees
 * it within SQL_STREAM_SLICE_MS). Any thread, or a signal handler. The next
 * sql_session_run clears it. */
void sql_session_interrupt(sql_session *s);

/* --------------------------------------------------------------- output */

typedef enum sql_format { SQL_FMT_TABLE, SQL_FMT_CSV, SQL_FMT_JSON } sql_format;

/* Steps st to its end and prints its rows to f: table (aligned, with a header; rows are
 * held until the end to size the columns), csv (RFC 4180, a header line) or json (one
 * object per line). Columns declared TIMESTAMP holding integers print as
 * 'yyyy-MM-dd HH:mm:ss.SSS'. *nrows (may be NULL) gets the rows. A step error is EINVAL
 * with SQLite's message (ETIMEOUT "interrupted" after sql_session_interrupt). */
strom_err sql_print(sqlite3_stmt *st, sql_format fmt, FILE *f, int64_t *nrows);
/* sql_print; stream: each row is printed (and f flushed) as it comes (the table format in
 * columns sized by the header), for a streaming query that never ends. */
strom_err sql_print_stream(sqlite3_stmt *st, sql_format fmt, FILE *f, int stream, int64_t *nrows);

/* A printer of rows that come from elsewhere (a server's result batches). */
typedef struct sql_printer sql_printer;
/* names[0..ncols) borrowed until close. Prints the CSV header (or, stream, the table's).
 * Owned: sql_printer_close. */
strom_err sql_printer_open(sql_format fmt, FILE *f, int ncols, const char *const *names, int stream,
                           sql_printer **out);
/* One row: v[i] the text of column i (NULL: SQL NULL), is_text[i]: quoted in JSON. */
strom_err sql_printer_row(sql_printer *p, const char *const *v, const uint8_t *is_text);
/* Every row of a result batch (EXECUTE_SQL/FETCH_SQL), printed as SQLite prints the same
 * values: integers, doubles as "%!.15g", TIMESTAMP as 'yyyy-MM-dd HH:mm:ss.SSS'. */
strom_err sql_printer_batch(sql_printer *p, const strom_batch *b);
/* print: print what the table format held. Frees p; returns the rows printed. */
int64_t sql_printer_close(sql_printer *p, int print);
/* 'yyyy-MM-dd HH:mm:ss.SSS' of ms (zone-less) into buf (>= 32 bytes); returns buf. */
const char *sql_format_time(int64_t ms, char *buf);

/* ------------------------------------------------------------ result batches */

/* The rows of a statement as record batches (format.h) with schema id 0 and one column per
 * result column: INTEGER values are BIGINT (TIMESTAMP in a column declared TIMESTAMP),
 * REAL DOUBLE, TEXT STRING, BLOB BYTES, a NULL takes the declared type (STRING when none).
 * The types are those of each batch's first row; a row that does not fit them ends the
 * batch (sql_rows_step encodes the pending rows to out and keeps the row for the next). */
typedef struct sql_rows sql_rows;
/* st is borrowed (stepped by sql_rows_step; the caller finalizes it after sql_rows_free).
 * Owned: sql_rows_free. */
strom_err sql_rows_create(sqlite3_stmt *st, sql_rows **out);
void sql_rows_free(sql_rows *r);
/* Steps one row into the pending rows (encoding them to out first when the row does not
 * fit them); at the end, encodes the rest and sets done. Step errors: EINVAL with SQLite's
 * message, ETIMEOUT "interrupted". */
strom_err sql_rows_step(sql_rows *r, strom_buf *out);
/* Encodes the pending rows (if any) as one batch appended to out. */
strom_err sql_rows_flush(sql_rows *r, strom_buf *out);
int64_t sql_rows_pending(const sql_rows *r);
int sql_rows_done(const sql_rows *r);

/* Table created by the SQL layer for its catalog (view definitions); hidden from SQL. */
#define SQL_VIEWS_TABLE "__sql_views"
/* The continuous jobs of a server (jobs.c writes it, SHOW JOBS reads it): a primary-key
 * table (id STRING, statement STRING, settings STRING, state STRING, rows BIGINT,
 * positions STRING, error STRING); hidden from SHOW TABLES. */
#define SQL_JOBS_TABLE "__sql_jobs"

#endif /* STROM_SQL_ENGINE_H */
