/*
 * sql.h: the Flink-dialect front end of strom's SQL (prefix sql_). SQLite executes the
 * queries (through virtual tables over strom tables); this layer reads the statements a grid
 * engineer types in the dialect of Flink/Fluss, which SQLite does not understand, and turns
 * them into (a) catalog actions (CREATE TABLE ... WITH (...), SET, SHOW, DESCRIBE) and
 * (b) SQLite SQL for everything else. It never executes anything itself.
 *
 * What is rewritten in a query (everything else passes through unchanged, so plain SQLite
 * SQL keeps working):
 *   TIMESTAMP 'yyyy-MM-dd HH:mm:ss[.SSS]'   -> integer ms since 1970 (zone-less: the wall
 *                                             clock read as UTC, as TIMESTAMP(3) is stored)
 *   INTERVAL 'n' SECOND|MINUTE|HOUR|DAY      -> integer ms (n may have a fraction; a sign)
 *   CURRENT_TIMESTAMP, LOCALTIMESTAMP, NOW() -> integer ms: the statement's start time as a
 *                                             wall clock in the session zone (sql_ctx.tz_ms)
 *   `name`                                   -> "name"
 *   t FOR SYSTEM_TIME AS OF e [AS] a         -> in FROM: t(e) [AS] a: the table as of time e
 *                                             (hidden column 1, "__as_of", of the vtable);
 *                                             right of a JOIN with ON: t [AS] a ON
 *                                             a."__version_at" = (e) AND (on-condition): the
 *                                             version of each key valid at e (hidden column 2)
 *                                             A view 'SELECT * FROM base' named there is
 *                                             replaced by base (aliased by the view's name)
 *   TABLE(TUMBLE(TABLE t, DESCRIPTOR(c), size)), TABLE(HOP(...)), TABLE(CUMULATE(...)), GROUP BY TUMBLE(c, size)
 *   with TUMBLE_START/_END/_ROWTIME (HOP_ likewise) -> a join with strom_window (window.c)
 * Positions in errors are "line L, column C" (1-based, columns in bytes), and
 * sql_error_caret() draws the statement line with a caret under the column.
 */
#ifndef STROM_SQL_H
#define STROM_SQL_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "strom/strom.h"

/* ----------------------------------------------------------------- tokens */

typedef enum sql_tok_kind {
    SQL_TK_END = 0,
    SQL_TK_IDENT,      /* bare identifier or keyword */
    SQL_TK_QIDENT,     /* "quoted" or `quoted` identifier (text excludes the quotes) */
    SQL_TK_STRING,     /* 'string' (text excludes the quotes; '' not yet unescaped) */
    SQL_TK_NUMBER,
    SQL_TK_PUNCT       /* operators and punctuation, 1..2 bytes: ( ) , ; . + - * / % = <> != <= >= < > || */
} sql_tok_kind;

typedef struct sql_tok {
    sql_tok_kind kind;
    const char *p;     /* text in the statement (borrowed) */
    size_t n;
    size_t at;         /* byte offset of the token (with its quotes) in the statement */
    size_t len;        /* bytes of the token with its quotes */
    int line, col;     /* 1-based */
} sql_tok;

/* Splits sql into tokens (comments -- and / * * / and white space dropped). Owned: free
 * (*toks). The last token is SQL_TK_END. ESCHEMA-free: EINVAL naming line and column for an
 * unterminated string, quoted identifier or comment, or a byte that starts no token. */
strom_err sql_lex(const char *sql, size_t len, sql_tok **toks, size_t *ntoks);
/* 1 if t is the bare identifier kw (case-insensitive). */
int sql_tok_is(const sql_tok *t, const char *kw);
/* 1 if t is the punctuation p. */
int sql_tok_punct(const sql_tok *t, const char *p);

/* ------------------------------------------------------------- statements */

typedef enum sql_kind {
    SQL_QUERY = 1,          /* SELECT / WITH / INSERT / VALUES / anything else: to SQLite */
    SQL_CREATE_TABLE,
    SQL_CREATE_VIEW,        /* view name + rewritten body (out.sqlite: the SELECT) */
    SQL_DROP_TABLE,
    SQL_DROP_VIEW,
    SQL_SHOW_TABLES,
    SQL_DESCRIBE,
    SQL_SET,
    SQL_SHOW_JOBS,
    SQL_STOP_JOB            /* name: the job id */
} sql_kind;

#define SQL_MAX_COLS 1024
#define SQL_MAX_OPTS 256

typedef struct sql_col {
    char *name;
    strom_type type;
    int not_null;
} sql_col;

/* A window of a windowed aggregate (window.c): source table, time column, size and slide
 * in ms (TUMBLE: slide = size; CUMULATE: size the max size, slide the step). */
typedef struct sql_window {
    char table[160], col[128];
    int64_t size, slide;
    int cumulate;             /* CUMULATE: windows [k size, k size + j slide), j = 1 .. size/slide */
    int count;                /* windows in the statement (the first is described) */
} sql_window;

/* A parsed statement. Strings are owned by it (sql_stmt_free). */
typedef struct sql_stmt {
    sql_kind kind;
    char *name;               /* table or view (CREATE/DROP/DESCRIBE); SET: the key */
    char *value;              /* SET: the value */
    int if_not_exists, if_exists;
    sql_col *cols;            /* CREATE TABLE */
    int ncols;
    char **pk;                /* primary-key column names, in key order */
    int npk;
    char **opts;              /* WITH: key, value, key, value, ..., NULL (strom's option
                                 array; 'connector' and 'bootstrap.servers' are dropped) */
    int nopts;                /* pairs */
    char *time_col;           /* WATERMARK FOR <col> AS ...: the table's time column */
    int64_t watermark_delay_ms; /* <col> - INTERVAL ...: the delay (0 if none) */
    char *sqlite;             /* SQL_QUERY / SQL_CREATE_VIEW: the SQLite text */
    sql_window win;           /* SQL_QUERY: its window (win.count 0: none) */
} sql_stmt;

/* Session context of a translation. */
typedef struct sql_ctx {
    int64_t now_ms;           /* CURRENT_TIMESTAMP: UTC ms at the statement's start */
    int64_t tz_ms;            /* session zone offset ('table.local-time-zone'), ms east */
    /* Views that FOR SYSTEM_TIME AS OF sees through (NULL: none). Returns 1 with the base
     * table's name in out when name is a view of the form SELECT * FROM base, 0 when name
     * is no view, -1 when it is a view of another form (then the rewrite is refused). */
    int (*view_base)(void *arg, const char *name, char *out, size_t cap);
    void *view_arg;
    /* Streaming windows: the windowed subquery reads this table (the open windows' rows,
     * wstream.c) instead of the source; NULL: the source. */
    const char *window_rows;
} sql_ctx;

/* Parses and translates one statement (a trailing ';' is allowed). Errors (EINVAL) say
 * what and where ("line 2, column 14: ..."). On success *out is filled (free with
 * sql_stmt_free); on failure it holds nothing. */
strom_err sql_translate(const char *sql, size_t len, const sql_ctx *ctx, sql_stmt *out);
void sql_stmt_free(sql_stmt *s);

/* Splits a script into statements at top-level ';' (not inside strings, quoted
 * identifiers or comments): *starts/lens (owned, free) get each statement's byte range
 * without the ';'; empty statements are skipped. */
strom_err sql_split(const char *sql, size_t len, size_t **starts, size_t **lens, size_t *n);

/* "yyyy-MM-dd[ HH:mm[:ss[.SSS]]]" -> ms since 1970 read as UTC. EINVAL naming the text. */
strom_err sql_parse_timestamp(const char *p, size_t n, int64_t *ms);

/* Byte offset in the statement of the last front-end error on this thread (-1: none):
 * for sql_error_caret. sql_set_error_at is the setter (internal; -1 clears). */
long sql_error_at(void);
void sql_set_error_at(long at);

/* Writes into buf (cap bytes) the line of sql that holds byte offset at, and under it a
 * caret at that column: for error messages. */
void sql_error_caret(const char *sql, size_t len, size_t at, char *buf, size_t cap);

#endif /* STROM_SQL_H */
