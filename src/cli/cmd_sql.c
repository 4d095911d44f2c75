/* cmd_sql.c: `strom sql`: runs Flink-dialect SQL over the tables of a data directory
 * in-process (src/sql: a SQLite session with virtual tables over strom tables) or in a
 * server (--server: EXECUTE_SQL through the client library, the same session code runs
 * there): statements from -e or -f, or an interactive shell (libedit: line editing,
 * history in ~/.strom_sql_history, multi-line statements ended by ';', timing, Ctrl-C
 * cancels the running statement). Streaming mode (--follow or SET 'execution.runtime-mode'
 * = 'streaming') prints rows as they come until Ctrl-C. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <editline/readline.h>

#include "catalog/serve.h"
#include "cli.h"
#include "cli_client.h"
#include "sql/engine.h"

#define DEFAULT_DATA "./strom-data"
#define FOLLOW_POLL_MS 250

/* Where statements run: an in-process session or a server. */
typedef struct target {
    sql_session *s;            /* --data */
    strom_client *c;           /* --server */
    int streaming;             /* rows are printed as they come */
} target;

static sql_session *volatile running;   /* the session whose statement runs (SIGINT) */
static strom_client *volatile running_c; /* the server connection of a running statement */
static volatile sig_atomic_t got_int;

static void on_sigint(int sig)
{
    (void)sig;
    got_int = 1;
    if (running)
        sql_session_interrupt(running);
    if (running_c)
        strom_client_interrupt(running_c);
}

/* Prints the error of the statement stmt[0..len) (1-based number no in a script). */
static void print_error(const char *stmt, size_t len, int no, int script)
{
    char where[32] = "";
    if (script)
        snprintf(where, sizeof where, "statement %d: ", no);
    fprintf(stderr, "strom sql: %s%s\n", where, strom_errmsg());
    long at = sql_error_at();
    if (at >= 0 && (size_t)at <= len) {
        char caret[1200];
        sql_error_caret(stmt, len, (size_t)at, caret, sizeof caret);
        fprintf(stderr, "%s\n", caret);
    }
}

/* A SET of 'execution.runtime-mode' in stmt: the printing follows it (the server keeps the
 * setting itself). */
static void track_mode(target *t, const char *stmt, size_t len)
{
    sql_stmt st;
    sql_ctx ctx = {0};
    long at = sql_error_at();
    if (sql_translate(stmt, len, &ctx, &st) != STROM_OK) {
        sql_set_error_at(at);
        return;
    }
    if (st.kind == SQL_SET && !strcmp(st.name, "execution.runtime-mode"))
        t->streaming = !strcmp(st.value, "streaming");
    sql_stmt_free(&st);
}

/* Runs one statement in the server and prints its rows (streaming: as they come). */
static strom_err run_remote(target *t, const char *stmt, size_t len, sql_format fmt, int64_t *rows,
                            int *has_rows)
{
    const char *follow[] = {"execution.runtime-mode", "streaming", NULL};
    strom_sql_cursor *r = NULL;
    running_c = t->c;
    strom_err e = strom_client_sql_execute(t->c, stmt, len, t->streaming ? follow : NULL, &r);
    if (e != STROM_OK) {
        running_c = NULL;
        sql_set_error_at(strom_client_sql_error_at());
        return got_int ? strom_fail(STROM_ETIMEOUT, "interrupted") : e;
    }
    track_mode(t, stmt, len);
    int nc = strom_client_sql_ncols(r);
    const char *names[SQL_MAX_COLS];
    for (int i = 0; i < nc && i < SQL_MAX_COLS; i++)
        names[i] = strom_client_sql_col_name(r, i);
    sql_printer *p = NULL;
    *has_rows = nc > 0;
    if (nc > 0)
        e = sql_printer_open(fmt, stdout, nc, names, t->streaming, &p);
    while (e == STROM_OK && nc > 0 && !strom_client_sql_done(r)) {
        const strom_batch *b = NULL;
        e = strom_client_sql_next(r, FOLLOW_POLL_MS, &b);
        if (e == STROM_OK && b)
            e = sql_printer_batch(p, b);
        if (t->streaming)
            fflush(stdout);
    }
    running_c = NULL;
    if (e != STROM_OK && got_int)
        e = strom_fail(STROM_ETIMEOUT, "interrupted");
    *rows = sql_printer_close(p, 1);
    strom_client_sql_close(r);
    return e;
}

static strom_err run_local(target *t, const char *stmt, size_t len, sql_format fmt, int64_t *rows,
                           int *has_rows)
{
    sqlite3_stmt *st = NULL;
    running = t->s;
    strom_err e = sql_session_run(t->s, stmt, len, &st);
    *has_rows = st && sqlite3_column_count(st) > 0;
    if (e == STROM_OK && st) {
        fflush(stdout);
        e = sql_print_stream(st, fmt, stdout, sql_session_streaming(t->s), rows);
        sqlite3_finalize(st);
    }
    int64_t closed, late;
    if (sql_session_window(t->s, &closed, &late) && late > 0)
        fprintf(stderr, "strom sql: %lld late rows dropped (their windows had closed)\n", (long long)late);
    int64_t jlate[2];
    if (sql_session_join(t->s, jlate) && jlate[0] + jlate[1] > 0)
        fprintf(stderr, "strom sql: %lld + %lld late rows dropped (below their side's watermark)\n",
                (long long)jlate[0], (long long)jlate[1]);
    running = NULL;
    return e;
}

/* Runs one statement and prints its rows. 0 ok, 1 error. */
static int run_one(target *t, const char *stmt, size_t len, sql_format fmt, int timing, int no,
                   int script)
{
    double t0 = cli_now();
    int64_t rows = 0;
    int has_rows = 0;
    strom_err e = t->c ? run_remote(t, stmt, len, fmt, &rows, &has_rows)
                       : run_local(t, stmt, len, fmt, &rows, &has_rows);
    fflush(stdout);
    if (e != STROM_OK) {
        sql_set_error_at(e == STROM_EINVAL || e == STROM_EUNSUPPORTED ? sql_error_at() : -1);
        print_error(stmt, len, no, script);
        return 1;
    }
    if (timing) {
        if (has_rows)
            printf("%lld row%s in set (%.3f s)\n", (long long)rows, rows == 1 ? "" : "s", cli_now() - t0);
        else
            printf("OK (%.3f s)\n", cli_now() - t0);
    }
    return 0;
}

/* Runs every statement of a script; stops at the first error. 0 ok, 1 error. */
static int run_script(target *s, const char *text, size_t len, sql_format fmt, int timing)
{
    size_t *starts = NULL, *lens = NULL, n = 0;
    strom_err e = sql_split(text, len, &starts, &lens, &n);
    if (e != STROM_OK) {
        sql_set_error_at(sql_error_at());
        print_error(text, len, 1, 0);
        return 1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = run_one(s, text + starts[i], lens[i], fmt, timing, (int)i + 1, n > 1);
    free(starts);
    free(lens);
    return rc;
}

/* 1 when buf holds complete statements: its last token is a top-level ';'. */
static int complete(const char *buf, size_t len)
{
    sql_tok *t = NULL;
    size_t n = 0;
    if (sql_lex(buf, len, &t, &n) != STROM_OK) {     /* an open string or comment */
        free(t);
        return 0;
    }
    int done = n >= 2 && sql_tok_punct(&t[n - 2], ";");
    free(t);
    return done;
}

static int shell(target *s, sql_format fmt)
{
    char hist[1024] = "";
    const char *home = getenv("HOME");
    if (home)
        snprintf(hist, sizeof hist, "%s/.strom_sql_history", home);
    using_history();
    if (*hist)
        read_history(hist);
    printf("strom sql: Flink SQL over strom tables (SQLite engine%s). Statements end with ';'.\n"
           "SHOW TABLES; DESCRIBE t; SET 'table.local-time-zone' = 'Asia/Shanghai'; "
           "Ctrl-C cancels a statement, Ctrl-D quits.\n", s->c ? ", in the server" : "");
    strom_buf buf = {0};
    for (;;) {
        got_int = 0;
        char *line = readline(buf.len ? "    -> " : "strom> ");
        if (!line && got_int) {
            strom_buf_clear(&buf);
            printf("\n");
            continue;
        }
        if (!line)
            break;
        if (buf.len)
            strom_buf_append(&buf, "\n", 1);
        strom_buf_append(&buf, line, strlen(line));
        free(line);
        if (!complete((const char *)buf.data, buf.len))
            continue;
        char *text = strndup((const char *)buf.data, buf.len);
        if (text) {
            add_history(text);
            run_script(s, text, strlen(text), fmt, 1);
            free(text);
        }
        strom_buf_clear(&buf);
    }
    printf("\n");
    if (*hist)
        write_history(hist);
    strom_buf_free(&buf);
    return CLI_OK;
}

static int parse_format(const char *f, sql_format *out)
{
    if (!strcmp(f, "table"))
        *out = SQL_FMT_TABLE;
    else if (!strcmp(f, "csv"))
        *out = SQL_FMT_CSV;
    else if (!strcmp(f, "json"))
        *out = SQL_FMT_JSON;
    else
        return -1;
    return 0;
}

static int read_script(const char *path, char **text, size_t *len)
{
    uint8_t *data = NULL;
    strom_err e = strom_read_file(path, (size_t)1 << 30, &data, len);
    if (e != STROM_OK) {
        char what[600];
        snprintf(what, sizeof what, "cannot read SQL file '%s'", path);
        return cli_fail(e, what);
    }
    *text = (char *)data;
    return CLI_OK;
}

static int open_local(const char *data, strom_db **db, target *t)
{
    strom_err e = strom_db_open(data, db);
    if (e == STROM_OK)
        e = sql_session_open(*db, &t->s);
    if (e == STROM_OK) {
        static cat_listener l = {sql_stream_notify, NULL};   /* wakes stream reads */
        cat_set_append_listener(*db, &l);
        if (t->streaming)
            e = sql_session_set(t->s, "execution.runtime-mode", "streaming");
    }
    if (e == STROM_OK)
        return CLI_OK;
    char what[600];
    snprintf(what, sizeof what, "cannot open data directory '%s'", data);
    return cli_fail(e, what);
}

int cmd_sql(int argc, char **argv)
{
    const char *data = NULL, *expr = NULL, *file = NULL, *format = "table", *server = NULL;
    int follow = 0;
    const cli_opt opts[] = {
        {"--data", CLI_STR, &data, "DIR", "data directory, in-process (default " DEFAULT_DATA "; created if missing)", 0, 0},
        {"--server", CLI_STR, &server, "HOST:PORT", "run the statements in a strom server instead", 0, 0},
        {"-e", CLI_STR, &expr, "SQL", "run these statements (';'-separated) and exit", 0, 0},
        {"-f", CLI_STR, &file, "FILE", "run the statements of FILE and exit", 0, 0},
        {"--format", CLI_STR, &format, "FMT", "table (default), csv or json (one object per line)", 0, 0},
        {"--follow", CLI_FLAG, &follow, NULL, "streaming mode: a SELECT over a log table keeps running "
         "and prints rows as they are appended, until Ctrl-C", 0, 0},
    };
    const cli_usage u = {
        "strom sql [--server HOST:PORT | --data DIR] [-e SQL | -f FILE] [--format table|csv|json] [--follow]",
        "Runs Flink-dialect SQL (CREATE TABLE ... WITH, FOR SYSTEM_TIME AS OF, TIMESTAMP '...',\n"
        "INTERVAL, CURRENT_TIMESTAMP, INSERT, SHOW TABLES, DESCRIBE, SET) over the tables of a\n"
        "data directory or of a server (--server: executed in the server), by SQLite through\n"
        "virtual tables. Without -e/-f: an interactive shell. SET 'table.local-time-zone' =\n"
        "'Asia/Shanghai' sets the zone of CURRENT_TIMESTAMP (default: this machine's zone).\n"
        "Streaming mode (--follow, or SET 'execution.runtime-mode' = 'streaming'): a SELECT over\n"
        "a log table prints its rows and then each appended row until Ctrl-C (with --data only\n"
        "this process could append: use --server). Stops at the first failing statement.",
        0, 0, NULL};
    int rc = cli_parse(argc, argv, &u, opts, (int)(sizeof opts / sizeof opts[0]), NULL, NULL);
    if (rc >= 0)
        return rc;
    sql_format fmt;
    if (parse_format(format, &fmt))
        return fprintf(stderr, "strom: --format '%s': use table, csv or json\n", format), CLI_USAGE;
    if (server && data)
        return fprintf(stderr, "strom: give --server or --data, not both\n"), CLI_USAGE;
    if (expr && file)
        return fprintf(stderr, "strom: give -e or -f, not both\n"), CLI_USAGE;
    char *text = NULL;
    size_t len = 0;
    if (file && (rc = read_script(file, &text, &len)) != CLI_OK)
        return rc;
    strom_db *db = NULL;
    target t = {.streaming = follow};
    rc = server ? cli_connect(server, &t.c) : open_local(data ? data : DEFAULT_DATA, &db, &t);
    if (rc == CLI_OK) {
        struct sigaction sa = {.sa_handler = on_sigint};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        if (expr)
            rc = run_script(&t, expr, strlen(expr), fmt, 0) ? CLI_ERR : CLI_OK;
        else if (file)
            rc = run_script(&t, text, len, fmt, 0) ? CLI_ERR : CLI_OK;
        else
            rc = shell(&t, fmt);
    }
    free(text);
    strom_client_close(t.c);
    if (db)
        cat_set_append_listener(db, NULL);
    sql_session_close(t.s);
    strom_db_close(db);
    return rc;
}
