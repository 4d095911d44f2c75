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
 *   PLAN_ERROR    a plan that cannot be answered right (e.g. a temporal join without the
 *                 key equality): chosen only when nothing else is possible; xFilter fails
 *                 with the message kept in idxStr
 * idxStr (for the other plans) is "u<colUsed in hex>;" (the projection) and then the xFilter
 * arguments in order, each as "<column><op>[!]," with op '=' equal, 'I' IN list (batch),
 * '<' '{' '>' '}' for < <= > >=, 'L' LIMIT, 'O' OFFSET; columns ncols and ncols+1 are the two
 * hidden columns; '!' marks a constraint SQLite omits (a key the plan answers exactly, or a
 * scan predicate whose constant has the column's class, which strom_pred applies exactly:
 * integers on integer columns, text on string columns).
 */
#ifndef STROM_SQL_ENGINE_H
#define STROM_SQL_ENGINE_H

#include <sqlite3.h>
#include <stdio.h>

#include "sql.h"

/* Registers the module "strom" on db; tables opened through it come from sdb (borrowed,
 * must outlive db's virtual tables). */
strom_err sql_vtab_register(sqlite3 *db, strom_db *sdb);

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
 * '+08:00'; default: the machine's zone) and 'execution.runtime-mode' ('batch' only for
 * now). Others: EOPTION naming the key and the known ones. */
strom_err sql_session_set(sql_session *s, const char *key, const char *value);
/* The session zone's offset east of UTC in ms at the current time. */
int64_t sql_session_tz_ms(sql_session *s);
/* Runs one statement (Flink dialect, sql.h). Catalog statements (CREATE/DROP/SET) are
 * done here and *stmt = NULL; a query, INSERT, SHOW TABLES or DESCRIBE comes back
 * prepared in *stmt (owned: sqlite3_finalize) for the caller to step (a write is done by
 * stepping it). Errors: EINVAL for syntax (with sql_error_at() set when the position is
 * known), ENOTFOUND/EEXIST/EOPTION/ESCHEMA naming the table, column or option. */
strom_err sql_session_run(sql_session *s, const char *sql, size_t len, sqlite3_stmt **stmt);
/* Cancels the statement running in s (sqlite3_interrupt). */
void sql_session_interrupt(sql_session *s);

/* --------------------------------------------------------------- output */

typedef enum sql_format { SQL_FMT_TABLE, SQL_FMT_CSV, SQL_FMT_JSON } sql_format;

/* Steps st to its end and prints its rows to f: table (aligned, with a header; rows are
 * held until the end to size the columns), csv (RFC 4180, a header line) or json (one
 * object per line). Columns declared TIMESTAMP holding integers print as
 * 'yyyy-MM-dd HH:mm:ss.SSS'. *nrows (may be NULL) gets the rows. A step error is EINVAL
 * with SQLite's message (ETIMEOUT "interrupted" after sql_session_interrupt). */
strom_err sql_print(sqlite3_stmt *st, sql_format fmt, FILE *f, int64_t *nrows);
/* 'yyyy-MM-dd HH:mm:ss.SSS' of ms (zone-less) into buf (>= 32 bytes); returns buf. */
const char *sql_format_time(int64_t ms, char *buf);

/* Table created by the SQL layer for its catalog (view definitions); hidden from SQL. */
#define SQL_VIEWS_TABLE "__sql_views"

#endif /* STROM_SQL_ENGINE_H */
