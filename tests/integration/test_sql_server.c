/*
 * test_sql_server.c: SQL in the server (EXECUTE_SQL / FETCH_SQL / CANCEL_SQL) against the
 * real `strom server`, through the client library:
 *  - the seed's statements (and a few more) give, over the server, exactly the rows the
 *    in-process session gives on the same data directory (test_seed.c checks those
 *    against answers computed independently), including results over many fetches and
 *    columns whose type changes between batches;
 *  - errors name line and column and give the statement byte for the caret;
 *  - SET sticks to its connection and not to others;
 *  - streaming: a SELECT over a log table returns the rows there, then rows appended
 *    later (by another connection), a lookup join enriches them, CANCEL_SQL ends it,
 *    unbounded queries are refused, and a disconnect interrupts a running statement;
 *  - many connections at once run statement 3 and all get the in-process answer.
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "srvtest.h"
#include "sql/engine.h"
#include "strom/client.h"

/* ------------------------------------------------------------- the data */

#include "../unit/sql/seed_ddl.h"   /* GRID_DDL: the grid tables */

/* The seed's statements (statement 5's view is created with the data) and more. */
static const char *const QUERIES[] = {
    "SELECT a.alarm_id, a.device_id, s.device_status, s.capacity\n"
    "FROM alarm_stream a\n"
    "JOIN device_status_stream s\n"
    "ON a.device_id = s.device_id\n"
    "AND a.event_time BETWEEN s.event_time - INTERVAL '5' MINUTE AND s.event_time + INTERVAL '1' MINUTE",
    "SELECT a.alarm_id, a.device_id, d.device_status, d.capacity, d.last_maintenance\n"
    "FROM alarm_stream a\n"
    "JOIN device_dimension_table FOR SYSTEM_TIME AS OF a.event_time AS d\n"
    "ON a.device_id = d.device_id",
    "SELECT device_id, voltage, current, temperature\n"
    "FROM power_equipment_stream \n"
    "FOR SYSTEM_TIME AS OF TIMESTAMP '2025-01-13 14:30:00'\n"
    "WHERE device_id = 'DEVICE_12345'\n"
    "ORDER BY event_time DESC\n"
    "LIMIT 100;",
    "SELECT a.*, d.device_status, d.capacity\n"
    "FROM alarm_stream a\n"
    "JOIN device_status_view FOR SYSTEM_TIME AS OF a.event_time AS d\n"
    "ON a.device_id = d.device_id;",
    "SELECT * FROM power_equipment_stream\n"
    "FOR SYSTEM_TIME AS OF (CURRENT_TIMESTAMP - INTERVAL '1' HOUR)\n"
    "WHERE device_id IN (SELECT device_id FROM current_alarms);",
    "SELECT device_id, count(*) AS n, avg(voltage) AS v, max(event_time) AS last FROM "
    "power_equipment_stream GROUP BY device_id ORDER BY device_id",
    /* 9000 rows: three fetches; a column that is an integer, a text and a real in turn */
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 9000) "
    "SELECT x, CASE WHEN x % 3000 < 1000 THEN x WHEN x % 3000 < 2000 THEN 'v' || x ELSE x / 8.0 END "
    "AS mixed, NULL AS nil FROM c",
    "SHOW TABLES",
    "DESCRIBE device_dimension_table",
};
#define NQ (sizeof QUERIES / sizeof QUERIES[0])

static uint64_t draws;
static uint64_t rnd(void) { return it_mix(++draws); }   /* the same data every run */

/* INSERT statements of generated rows (40 devices, late rows mixed in). */
static void load_sql(sql_session *s)
{
    static const char *const st[] = {"normal", "overload", "fault", "maintenance"};
    strom_buf q = {0};
    char row[256];
    for (int part = 0; part < 5; part++) {
        strom_buf_clear(&q);
        const char *head[] = {"INSERT INTO power_equipment_stream VALUES ", "INSERT INTO device_status_stream VALUES ",
                              "INSERT INTO device_dimension_table VALUES ", "INSERT INTO alarm_stream VALUES ",
                              "INSERT INTO current_alarms VALUES "};
        int n[] = {1600, 600, 200, 300, 10};
        strom_buf_append(&q, head[part], strlen(head[part]));
        for (int i = 0; i < n[part]; i++) {
            int dev = (int)(rnd() % 40);
            int64_t t = (int64_t)(rnd() % 10800000);   /* 3 hours after 13:00 */
            const char *dn = dev == 25 ? "DEVICE_12345" : "DEVICE_%05d";
            char dname[24];
            snprintf(dname, sizeof dname, dn, dev);
            switch (part) {
            case 0: snprintf(row, sizeof row, "('%s', %.2f, %.1f, %.1f, TIMESTAMP '2025-01-13 13:00:00' + %lld)",
                             dname, 200 + (double)(rnd() % 4000) / 100, (double)(rnd() % 1000) / 10,
                             20 + (double)(rnd() % 600) / 10, (long long)(t / 1000 * 1000 + dev)); break;
            case 1: snprintf(row, sizeof row, "('%s', '%s', %.1f, TIMESTAMP '2025-01-13 13:00:00' + %lld)",
                             dname, st[rnd() % 4], (double)(rnd() % 5000) / 10, (long long)(t / 1000 * 1000 + dev)); break;
            case 2: snprintf(row, sizeof row, "('%s', '%s', %.1f, TIMESTAMP '2024-12-01 00:00:00', "
                             "TIMESTAMP '2025-01-13 13:00:00' + %lld)", dname, st[rnd() % 4],
                             (double)(rnd() % 5000) / 10, (long long)(t / 1000 * 1000 + dev)); break;
            case 3: snprintf(row, sizeof row, "('A%04d', '%s', 'trip', TIMESTAMP '2025-01-13 13:00:00' + %lld)",
                             i, dname, (long long)t); break;
            default: snprintf(row, sizeof row, "('C%02d', '%s', %d)", i, dname, i % 3); break;
            }
            if (i)
                strom_buf_append(&q, ", ", 2);
            strom_buf_append(&q, row, strlen(row));
        }
        sqlite3_stmt *stmt = NULL;
        IT_OK(sql_session_run(s, (const char *)q.data, q.len, &stmt));
        IT_CHECK(sqlite3_step(stmt) == SQLITE_DONE, "insert part %d: %s", part,
                 sqlite3_errmsg(sql_session_db(s)));
        sqlite3_finalize(stmt);
    }
    strom_buf_free(&q);
}

static void run_local(sql_session *s, const char *q, sql_format fmt, char **out)
{
    size_t n = 0;
    FILE *f = open_memstream(out, &n);
    sqlite3_stmt *st = NULL;
    IT_OK(sql_session_run(s, q, strlen(q), &st));
    IT_CHECK(st, "no rows: %s", q);
    IT_OK(sql_print(st, fmt, f, NULL));
    sqlite3_finalize(st);
    fclose(f);
}

/* In-process answers, CSV, written before the server opens the directory. */
static char *want[NQ], *want_json[NQ];

static void prepare(const char *dir)
{
    strom_db *db;
    sql_session *s;
    IT_OK(strom_db_open(dir, &db));
    IT_OK(sql_session_open(db, &s));
    IT_OK(sql_session_set(s, "table.local-time-zone", "UTC"));
    for (size_t i = 0; i < sizeof GRID_DDL / sizeof GRID_DDL[0]; i++) {
        sqlite3_stmt *st = NULL;
        IT_OK(sql_session_run(s, GRID_DDL[i], strlen(GRID_DDL[i]), &st));
    }
    load_sql(s);
    sqlite3_stmt *st = NULL;
    const char *v = "CREATE VIEW device_status_view AS\nSELECT * FROM device_status_stream;";
    IT_OK(sql_session_run(s, v, strlen(v), &st));
    for (size_t i = 0; i < NQ; i++) {
        run_local(s, QUERIES[i], SQL_FMT_CSV, &want[i]);
        run_local(s, QUERIES[i], SQL_FMT_JSON, &want_json[i]);
    }
    sql_session_close(s);
    strom_db_close(db);
}

/* ------------------------------------------------------------- helpers */

static st_server SRV;
static char ADDR[64];

static strom_client *client(void)
{
    strom_client *c;
    strom_client_opts o = {.request_timeout_ms = 20000};
    IT_OK(strom_client_connect(ADDR, &o, &c));
    return c;
}

/* Runs q in the server and prints its rows like the in-process CLI. */
static strom_err run_remote(strom_client *c, const char *q, const char *const *settings, sql_format fmt,
                            char **out)
{
    size_t n = 0;
    FILE *f = open_memstream(out, &n);
    strom_sql_cursor *r = NULL;
    strom_err e = strom_client_sql_execute(c, q, strlen(q), settings, &r);
    sql_printer *p = NULL;
    const char *names[64];
    for (int i = 0; e == STROM_OK && i < strom_client_sql_ncols(r); i++)
        names[i] = strom_client_sql_col_name(r, i);
    if (e == STROM_OK && strom_client_sql_ncols(r))
        e = sql_printer_open(fmt, f, strom_client_sql_ncols(r), names, 0, &p);
    int batches = 0;
    while (e == STROM_OK && p && !strom_client_sql_done(r)) {
        const strom_batch *b;
        e = strom_client_sql_next(r, 1000, &b);
        if (e == STROM_OK && b) {
            batches++;
            e = sql_printer_batch(p, b);
        }
    }
    sql_printer_close(p, e == STROM_OK);
    strom_client_sql_close(r);
    fclose(f);
    return e;
}

static void same(const char *what, const char *want_text, const char *got)
{
    if (strcmp(want_text, got)) {
        size_t i = 0;
        while (want_text[i] && want_text[i] == got[i])
            i++;
        IT_CHECK(0, "%s: the server's rows differ from in-process at byte %zu:\n want ...%.80s\n "
                 "got  ...%.80s", what, i, want_text + (i > 20 ? i - 20 : 0), got + (i > 20 ? i - 20 : 0));
    }
}

/* ------------------------------------------------------------- the tests */

static void test_same_answers(void)
{
    strom_client *c = client();
    const char *utc[] = {"table.local-time-zone", "UTC", NULL};
    for (size_t i = 0; i < NQ; i++) {
        char *got = NULL;
        IT_OK(run_remote(c, QUERIES[i], utc, SQL_FMT_CSV, &got));
        same(QUERIES[i], want[i], got);
        free(got);
        IT_OK(run_remote(c, QUERIES[i], NULL, SQL_FMT_JSON, &got));
        same(QUERIES[i], want_json[i], got);
        free(got);
    }
    /* the big result really came in several answers, and its checksum is right */
    char *got = NULL;
    IT_OK(run_remote(c, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 9000) "
                        "SELECT sum(x) AS s FROM c", NULL, SQL_FMT_CSV, &got));
    same("sum", "s\n40504500\n", got);
    free(got);
    strom_client_close(c);
    printf("  same answers as in-process: %zu statements, csv and json\n", NQ);
}

static void test_errors_and_settings(void)
{
    strom_client *c = client(), *c2 = client();
    strom_sql_cursor *r = NULL;
    const char *bad = "SELECT device_id\nFROM alarm_stream WHERE event_time > TIMESTAMP '2025-01-13 25:00:00'";
    strom_err e = strom_client_sql_execute(c, bad, strlen(bad), NULL, &r);
    IT_CHECK(e == STROM_EINVAL && strstr(strom_errmsg(), "line 2, column 48") &&
             strstr(strom_errmsg(), "is not a timestamp"), "bad timestamp: %s: %s", strom_strerror(e),
             strom_errmsg());
    IT_CHECK(strom_client_sql_error_at() == (long)(strstr(bad, "'2025-01-13 25") - bad),
             "error at byte %ld", strom_client_sql_error_at());
    e = strom_client_sql_execute(c, "SELECT * FROM nosuch", 20, NULL, &r);
    IT_CHECK(e == STROM_EINVAL && strstr(strom_errmsg(), "no such table: nosuch"), "%s", strom_errmsg());
    e = strom_client_sql_execute(c, "CREATE TABLE t2 (a INT) WITH ('bucket.nmu' = '3')", 49, NULL, &r);
    IT_CHECK(e == STROM_EOPTION && strstr(strom_errmsg(), "bucket.nmu"), "%s", strom_errmsg());
    const char *bad_set[] = {"execution.runtime-mode", "sideways", NULL};
    e = strom_client_sql_execute(c, "SELECT 1", 8, bad_set, &r);
    IT_CHECK(e == STROM_EOPTION && strstr(strom_errmsg(), "sideways"), "%s", strom_errmsg());
    /* SET sticks to its connection */
    const char *set = "SET 'execution.runtime-mode' = 'streaming'";
    IT_OK(strom_client_sql_execute(c, set, strlen(set), NULL, &r));
    IT_CHECK(strom_client_sql_done(r) && strom_client_sql_ncols(r) == 0, "SET has no rows");
    strom_client_sql_close(r);
    const char *agg = "SELECT count(*) FROM alarm_stream";
    e = strom_client_sql_execute(c, agg, strlen(agg), NULL, &r);
    IT_CHECK(e == STROM_EUNSUPPORTED && strstr(strom_errmsg(), "window"), "aggregate in streaming "
             "mode: %s", strom_errmsg());
    e = strom_client_sql_execute(c, "SELECT * FROM alarm_stream ORDER BY event_time", 46, NULL, &r);
    IT_CHECK(e == STROM_EUNSUPPORTED && strstr(strom_errmsg(), "ORDER BY without LIMIT"), "%s", strom_errmsg());
    char *got = NULL;
    IT_OK(run_remote(c2, agg, NULL, SQL_FMT_CSV, &got));   /* the other connection: batch */
    same("count on another connection", "count(*)\n300\n", got);
    free(got);
    e = strom_client_sql_execute(c, "SELECT 1", 8, NULL, &r);   /* a cursor that is no query */
    IT_OK(e);
    strom_client_sql_close(r);
    strom_client_close(c);
    strom_client_close(c2);
    printf("  errors with positions, per-connection SET, streaming refusals\n");
}

static int64_t count_rows(strom_sql_cursor *r, int nwant, int64_t *sum_id, int max_ms)
{
    int64_t n = 0;
    int64_t until = strom_mono_ns() + (int64_t)max_ms * 1000000;
    while (n < nwant && strom_mono_ns() < until) {
        const strom_batch *b = NULL;
        IT_OK(strom_client_sql_next(r, 200, &b));
        for (int64_t i = 0; b && i < strom_batch_nrows(b); i++) {
            size_t len;
            const char *p = strom_batch_get_str(b, 0, i, &len);
            char id[32];                   /* not NUL-terminated in the batch */
            snprintf(id, sizeof id, "%.*s", (int)(len < 31 ? len : 31), p);
            *sum_id += atoi(id + 1);
            n++;
        }
    }
    return n;
}

static void test_streaming(void)
{
    strom_client *c = client(), *w = client();
    const char *mode[] = {"execution.runtime-mode", "streaming", NULL};
    /* statement 3 as a stream: the 300 alarms there, then new ones as they come */
    strom_sql_cursor *r = NULL;
    IT_OK(strom_client_sql_execute(c, QUERIES[1], strlen(QUERIES[1]), mode, &r));
    IT_CHECK(strom_client_sql_ncols(r) == 5 && !strom_client_sql_done(r), "a streaming cursor");
    int64_t lines = 0;                   /* the in-process answer's rows (and its header) */
    for (const char *p = want[1]; *p; p++)
        lines += *p == '\n';
    int64_t sum = 0, n = count_rows(r, (int)lines - 1, &sum, 15000);
    int64_t joined_before = n;
    IT_CHECK(n == lines - 1 && n > 100, "%lld rows of the existing alarms, in-process %lld", (long long)n,
             (long long)lines - 1);
    const strom_batch *b;
    IT_OK(strom_client_sql_next(r, 300, &b));
    IT_CHECK(!b, "no more rows before the append");
    /* appended by another connection: rows for a device with a dimension row now */
    const char *ins = "INSERT INTO alarm_stream VALUES ('A9001', 'DEVICE_00003', 'trip', TIMESTAMP "
                      "'2025-01-13 17:00:00'), ('A9002', 'DEVICE_00004', 'trip', TIMESTAMP '2025-01-13 "
                      "17:00:01'), ('A9003', 'NO_SUCH_DEVICE', 'trip', TIMESTAMP '2025-01-13 17:00:02')";
    strom_sql_cursor *wr = NULL;
    IT_OK(strom_client_sql_execute(w, ins, strlen(ins), NULL, &wr));
    IT_CHECK(strom_client_sql_changes(wr) == 3, "3 rows inserted, %lld", (long long)strom_client_sql_changes(wr));
    strom_client_sql_close(wr);
    sum = 0;
    n = count_rows(r, 2, &sum, 15000);
    IT_CHECK(n == 2 && sum == 9001 + 9002, "the appended alarms came (%lld rows, ids %lld)",
             (long long)n, (long long)sum);
    IT_OK(strom_client_sql_next(r, 300, &b));
    IT_CHECK(!b, "the alarm of an unknown device joins nothing");
    IT_OK(strom_client_sql_cancel(r));
    IT_CHECK(strom_client_sql_done(r), "done after cancel");
    IT_OK(strom_client_sql_next(r, 100, &b));
    IT_CHECK(!b, "no rows after cancel");
    strom_client_sql_close(r);
    /* the connection goes on */
    char *got = NULL;
    IT_OK(run_remote(c, "SELECT count(*) AS n FROM alarm_stream", (const char *const[]){
                     "execution.runtime-mode", "batch", NULL}, SQL_FMT_CSV, &got));
    same("count after the stream", "n\n303\n", got);
    free(got);
    strom_client_close(c);
    strom_client_close(w);
    printf("  streaming: %lld existing rows, appended rows arrive, cancel\n", (long long)joined_before);
}

typedef struct intr { strom_client *c; int ms; } intr;

static void *interrupter(void *arg)
{
    intr *x = arg;
    usleep((useconds_t)x->ms * 1000);
    strom_client_interrupt(x->c);
    return NULL;
}

/* A disconnect interrupts a running batch statement and a waiting stream; the server goes
 * on (the statements' threads end, the next statement works). */
static void test_interrupt(void)
{
    strom_client *c = client();
    const char *forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
    for (int round = 0; round < 2; round++) {
        intr x = {c, 300};
        pthread_t th;
        pthread_create(&th, NULL, interrupter, &x);
        int64_t t0 = strom_mono_ns();
        strom_sql_cursor *r = NULL;
        const char *stream = "SELECT * FROM alarm_stream";
        const char *mode[] = {"execution.runtime-mode", round ? "streaming" : "batch", NULL};
        strom_err e = strom_client_sql_execute(c, round ? stream : forever, strlen(round ? stream : forever),
                                               mode, &r);
        while (e == STROM_OK && !strom_client_sql_done(r)) {
            const strom_batch *b;
            e = strom_client_sql_next(r, 200, &b);
        }
        strom_client_sql_close(r);
        pthread_join(th, NULL);
        double s = (double)(strom_mono_ns() - t0) / 1e9;
        IT_CHECK(e == STROM_EIO && s < 10, "round %d: interrupted after %.2f s: %s", round, s,
                 strom_errmsg());
    }
    char *got = NULL;
    IT_OK(run_remote(c, "SELECT 7 AS x", (const char *const[]){"execution.runtime-mode", "batch", NULL},
                     SQL_FMT_CSV, &got));
    same("after interrupts", "x\n7\n", got);
    free(got);
    strom_client_close(c);
    printf("  a disconnect interrupts a running statement and a stream\n");
}

static void *many_main(void *arg)
{
    (void)arg;
    strom_client *c = client();
    for (int i = 0; i < 4; i++) {
        char *got = NULL;
        IT_OK(run_remote(c, QUERIES[i % 2 ? 1 : 4], (const char *const[]){"table.local-time-zone", "UTC", NULL},
                         SQL_FMT_CSV, &got));
        same("many connections", want[i % 2 ? 1 : 4], got);
        free(got);
    }
    strom_client_close(c);
    return NULL;
}

static void test_many_connections(void)
{
    enum { N = 8 };
    pthread_t th[N];
    for (int i = 0; i < N; i++)
        pthread_create(&th[i], NULL, many_main, NULL);
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    printf("  %d connections at once: same answers\n", N);
}

int main(void)
{
    char dir[256];
    it_mktemp(dir, sizeof dir, "strom-sqlsrv-");
    printf("test_sql_server: data %s\n", dir);
    prepare(dir);
    st_start(&SRV, dir, NULL);
    snprintf(ADDR, sizeof ADDR, "127.0.0.1:%d", SRV.port);
    test_same_answers();
    test_many_connections();   /* before the streaming test appends alarms */
    test_errors_and_settings();
    test_streaming();
    test_interrupt();
    IT_CHECK(st_stop(&SRV, SIGTERM) == 0, "server stopped cleanly");
    for (size_t i = 0; i < NQ; i++) {
        free(want[i]);
        free(want_json[i]);
    }
    it_rmtree(dir);
    printf("test_sql_server: ok\n");
    return 0;
}
