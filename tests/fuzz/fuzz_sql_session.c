/* libFuzzer target for SQL sessions (src/sql): any script runs against a session with a
 * log table, primary-key tables and a view - through the front end, SQLite's planner and the
 * strom virtual tables (plans, pushdown, xFilter argument conversion, writes) - and either
 * works or fails with a message; nothing crashes. CREATE/DROP are skipped (the catalog is
 * fixed per process), each statement runs at most a bounded number of VM steps and rows, and
 * a stream ends when it has read what is there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sql_session *S;
static strom_db *DB;
static char DIR_[] = "/tmp/strom_fuzz_sql_XXXXXX";

/* At exit only the directory goes: RocksDB's own statics may be gone by then, so the
 * session and database are left open (the process ends anyway). */
static void cleanup(void)
{
    strom_rmtree(DIR_);
}

static const char *const SETUP[] = {
    "CREATE TABLE m (id BIGINT, dev STRING, v DOUBLE, k INT, ts TIMESTAMP(3), b BOOLEAN, "
    "WATERMARK FOR ts AS ts) WITH ('bucket.num' = '2', 'bucket.key' = 'dev', "
    "'table.log.index.key' = 'dev', 'table.log.flush' = 'none')",
    "CREATE TABLE p (dev STRING PRIMARY KEY, region STRING, cap DOUBLE, t TIMESTAMP(3), "
    "WATERMARK FOR t AS t) WITH ('bucket.num' = '2')",
    "CREATE TABLE c (a INT, b STRING, x DOUBLE, PRIMARY KEY (a, b) NOT ENFORCED) "
    "WITH ('bucket.num' = '2', 'bucket.key' = 'a')",
    "CREATE VIEW mv AS SELECT * FROM m",
    "INSERT INTO m VALUES (1, 'd1', 1.5, 3, 1000, true), (2, 'd2', 2.5, 4, 2000, false), "
    "(3, 'd1', 3.5, 5, 1500, NULL), (4, NULL, NULL, NULL, 900, true)",
    "INSERT INTO p VALUES ('d1', 'r1', 10, 500), ('d2', 'r2', 20, 1200), ('d1', 'r1', 11, 1800)",
    "INSERT INTO c VALUES (1, 'x', 0.5), (1, 'y', 1.5), (2, 'x', 2.5)",
};

static int stop_long(void *arg)
{
    return ++*(int *)arg > 2000;   /* x 1000 VM instructions */
}

/* A stream (streaming mode) that has read everything would wait for appends, where no
 * progress handler runs: end it there instead (its first round is still fuzzed). */
static void stop_stream(void *arg)
{
    (void)arg;
    sql_session_interrupt(S);
}

static void setup(void)
{
    if (!mkdtemp(DIR_) || strom_db_open(DIR_, &DB) != STROM_OK || sql_session_open(DB, &S) != STROM_OK)
        abort();
    atexit(cleanup);
    for (size_t i = 0; i < sizeof SETUP / sizeof SETUP[0]; i++) {
        sqlite3_stmt *st = NULL;
        if (sql_session_run(S, SETUP[i], strlen(SETUP[i]), &st) != STROM_OK)
            abort();
        while (st && sqlite3_step(st) == SQLITE_ROW) {
        }
        sqlite3_finalize(st);
    }
    sql_session_set_now(S, 1736782200000);
    sql_session_set_idle(S, stop_stream, NULL);
}

static int is_catalog(const char *sql, size_t len)
{
    sql_tok *t = NULL;
    size_t n = 0;
    int cat = 1;   /* unlexable: let the session refuse it */
    if (sql_lex(sql, len, &t, &n) == STROM_OK)
        cat = sql_tok_is(&t[0], "CREATE") || sql_tok_is(&t[0], "DROP") || sql_tok_is(&t[0], "ATTACH") ||
              sql_tok_is(&t[0], "DETACH") || sql_tok_is(&t[0], "PRAGMA") || sql_tok_is(&t[0], "VACUUM");
    else
        cat = 0;
    free(t);
    return cat;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!S)
        setup();
    if (size > 4096)
        return 0;
    char *sql = malloc(size + 1);
    memcpy(sql, data, size);
    sql[size] = 0;
    size_t *st = NULL, *ln = NULL, n = 0;
    if (sql_split(sql, size, &st, &ln, &n) == STROM_OK) {
        for (size_t i = 0; i < n && i < 8; i++) {
            if (is_catalog(sql + st[i], ln[i]))
                continue;
            int ticks = 0;
            sqlite3_progress_handler(sql_session_db(S), 1000, stop_long, &ticks);
            sqlite3_stmt *q = NULL;
            strom_err e = sql_session_run(S, sql + st[i], ln[i], &q);
            if (e != STROM_OK && !*strom_errmsg())
                abort();   /* every failure says what */
            for (int rows = 0; q && rows < 1000 && sqlite3_step(q) == SQLITE_ROW; rows++) {
                for (int c = 0; c < sqlite3_column_count(q); c++)
                    (void)sqlite3_column_text(q, c);
            }
            sqlite3_finalize(q);
            sqlite3_progress_handler(sql_session_db(S), 0, NULL, NULL);
        }
    }
    free(st);
    free(ln);
    free(sql);
    return 0;
}
