/* test_dialect.c: the Flink-dialect front end: the seed's statements translate to the
 * SQLite text and catalog actions expected (times computed independently with Python's
 * datetime), and bad input is refused with line and column. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql/sql.h"

static const sql_ctx ctx = {.now_ms = 1736782200000, .tz_ms = 8 * 3600000}; /* 15:30 UTC, +08:00 */

static void translate_ok(const char *sql, sql_stmt *s)
{
    strom_err e = sql_translate(sql, strlen(sql), &ctx, s);
    if (e != STROM_OK)
        fail_msg("'%s' -> %s: %s", sql, strom_strerror(e), strom_errmsg());
}

static void query_is(const char *sql, const char *want)
{
    sql_stmt s;
    translate_ok(sql, &s);
    assert_int_equal(s.kind, SQL_QUERY);
    if (strcmp(s.sqlite, want))
        fail_msg("'%s'\n  gave '%s'\n  want '%s'", sql, s.sqlite, want);
    sql_stmt_free(&s);
}

static void fails_at(const char *sql, const char *where, const char *needle)
{
    sql_stmt s;
    strom_err e = sql_translate(sql, strlen(sql), &ctx, &s);
    if (e != STROM_EINVAL || !strstr(strom_errmsg(), where) || !strstr(strom_errmsg(), needle))
        fail_msg("'%s' -> %s '%s', want EINVAL with '%s' and '%s'", sql, strom_strerror(e),
                 strom_errmsg(), where, needle);
}

static void test_seed_ddl(void **state)
{
    (void)state;
    sql_stmt s;
    translate_ok("CREATE TABLE device_dimension (\n    device_id STRING PRIMARY KEY,\n"
                 "    device_name STRING,\n    location STRING,\n    capacity_mw DOUBLE,\n"
                 "    status STRING,\n    last_update TIMESTAMP\n) WITH (\n"
                 "    'connector' = 'fluss',\n    'bootstrap.servers' = 'coordinator-server:9123'\n);", &s);
    assert_int_equal(s.kind, SQL_CREATE_TABLE);
    assert_string_equal(s.name, "device_dimension");
    assert_int_equal(s.ncols, 6);
    static const strom_type types[] = {STROM_STRING, STROM_STRING, STROM_STRING, STROM_DOUBLE,
                                       STROM_STRING, STROM_TIMESTAMP};
    static const char *const names[] = {"device_id", "device_name", "location", "capacity_mw",
                                        "status", "last_update"};
    for (int i = 0; i < 6; i++) {
        assert_string_equal(s.cols[i].name, names[i]);
        assert_int_equal(s.cols[i].type, types[i]);
    }
    assert_int_equal(s.npk, 1);
    assert_string_equal(s.pk[0], "device_id");
    assert_int_equal(s.nopts, 0);          /* connector and bootstrap.servers are dropped */
    sql_stmt_free(&s);
}

static void test_ddl_forms(void **state)
{
    (void)state;
    sql_stmt s;
    translate_ok("create table if not exists grid.`edges` (feeder VARCHAR(32) NOT NULL, "
                 "edge_id BIGINT, closed BOOLEAN COMMENT 'switch state', rated DOUBLE PRECISION, "
                 "ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '5' SECOND, "
                 "PRIMARY KEY (feeder, edge_id) NOT ENFORCED) "
                 "WITH ('bucket.num' = '4', 'bucket.key' = 'feeder', 'table.merge-engine' = 'versioned')", &s);
    assert_string_equal(s.name, "grid.edges");
    assert_int_equal(s.if_not_exists, 1);
    assert_int_equal(s.ncols, 5);
    assert_int_equal(s.cols[0].type, STROM_STRING);
    assert_int_equal(s.cols[0].not_null, 1);
    assert_int_equal(s.cols[2].type, STROM_BOOLEAN);
    assert_int_equal(s.cols[3].type, STROM_DOUBLE);
    assert_int_equal(s.cols[4].type, STROM_TIMESTAMP);
    assert_int_equal(s.npk, 2);
    assert_string_equal(s.pk[1], "edge_id");
    assert_string_equal(s.time_col, "ts");
    assert_int_equal(s.watermark_delay_ms, 5000);
    assert_int_equal(s.nopts, 3);
    assert_string_equal(s.opts[0], "bucket.num");
    assert_string_equal(s.opts[1], "4");
    assert_string_equal(s.opts[5], "versioned");
    assert_null(s.opts[6]);
    sql_stmt_free(&s);
    translate_ok("DROP TABLE IF EXISTS t1", &s);
    assert_int_equal(s.kind, SQL_DROP_TABLE);
    assert_int_equal(s.if_exists, 1);
    sql_stmt_free(&s);
    translate_ok("SET 'table.local-time-zone' = 'Asia/Shanghai';", &s);
    assert_int_equal(s.kind, SQL_SET);
    assert_string_equal(s.name, "table.local-time-zone");
    assert_string_equal(s.value, "Asia/Shanghai");
    sql_stmt_free(&s);
    translate_ok("show tables", &s);
    assert_int_equal(s.kind, SQL_SHOW_TABLES);
    sql_stmt_free(&s);
    translate_ok("DESCRIBE power_equipment_stream", &s);
    assert_int_equal(s.kind, SQL_DESCRIBE);
    assert_string_equal(s.name, "power_equipment_stream");
    sql_stmt_free(&s);
    translate_ok("CREATE VIEW device_status_view AS\nSELECT * FROM device_status_stream;", &s);
    assert_int_equal(s.kind, SQL_CREATE_VIEW);
    assert_string_equal(s.name, "device_status_view");
    assert_string_equal(s.sqlite, "SELECT * FROM device_status_stream");
    sql_stmt_free(&s);
}

static void test_seed_queries(void **state)
{
    (void)state;
    /* Statement 2: the window join; intervals become ms. */
    query_is("SELECT a.alarm_id, a.device_id, s.device_status, s.capacity\nFROM alarm_stream a\n"
             "JOIN device_status_stream s\nON a.device_id = s.device_id\n"
             "AND a.event_time BETWEEN s.event_time - INTERVAL '5' MINUTE AND s.event_time + INTERVAL '1' MINUTE",
             "SELECT a.alarm_id, a.device_id, s.device_status, s.capacity\nFROM alarm_stream a\n"
             "JOIN device_status_stream s\nON a.device_id = s.device_id\n"
             "AND a.event_time BETWEEN s.event_time - 300000 AND s.event_time + 60000");
    /* Statement 3: the lookup join. */
    query_is("SELECT a.alarm_id, a.device_id, d.device_status, d.capacity, d.last_maintenance\n"
             "FROM alarm_stream a\nJOIN device_dimension_table FOR SYSTEM_TIME AS OF a.event_time AS d\n"
             "ON a.device_id = d.device_id",
             "SELECT a.alarm_id, a.device_id, d.device_status, d.capacity, d.last_maintenance\n"
             "FROM alarm_stream a\nJOIN device_dimension_table AS d ON d.\"__version_at\" = "
             "(a.event_time) AND (a.device_id = d.device_id)");
    /* Statement 4: time travel; 2025-01-13 14:30:00 = 1736778600000 ms. */
    query_is("SELECT device_id, voltage, current, temperature\nFROM power_equipment_stream \n"
             "FOR SYSTEM_TIME AS OF TIMESTAMP '2025-01-13 14:30:00'\nWHERE device_id = 'DEVICE_12345'\n"
             "ORDER BY event_time DESC\nLIMIT 100;",
             "SELECT device_id, voltage, current, temperature\nFROM power_equipment_stream \n"
             "(1736778600000)\nWHERE device_id = 'DEVICE_12345'\nORDER BY event_time DESC\nLIMIT 100");
    /* Statement 5's join, through a view. */
    query_is("SELECT a.*, d.device_status, d.capacity\nFROM alarm_stream a\n"
             "JOIN device_status_view FOR SYSTEM_TIME AS OF a.event_time AS d\nON a.device_id = d.device_id;",
             "SELECT a.*, d.device_status, d.capacity\nFROM alarm_stream a\n"
             "JOIN device_status_view AS d ON d.\"__version_at\" = (a.event_time) AND "
             "(a.device_id = d.device_id)");
    /* Statement 6: CURRENT_TIMESTAMP is the session's wall clock: 15:30 UTC + 8 h - 1 h. */
    query_is("SELECT * FROM power_equipment_stream\nFOR SYSTEM_TIME AS OF (CURRENT_TIMESTAMP - INTERVAL '1' HOUR)\n"
             "WHERE device_id IN (SELECT device_id FROM current_alarms);",
             "SELECT * FROM power_equipment_stream\n((1736811000000 - 3600000))\n"
             "WHERE device_id IN (SELECT device_id FROM current_alarms)");
}

static void test_rewrites(void **state)
{
    (void)state;
    query_is("select `my col`, \"x\" from t where ts >= TIMESTAMP '1969-12-31 23:59:59' -- c\n",
             "select \"my col\", \"x\" from t where ts >= -1000");
    query_is("SELECT TIMESTAMP '2024-02-29 00:00:00.123', INTERVAL '1.5' SECOND, NOW()",
             "SELECT 1709164800123, 1500, 1736811000000");
    /* Alias without AS, LEFT JOIN, a second join after the condition. */
    query_is("SELECT * FROM a LEFT JOIN dim FOR SYSTEM_TIME AS OF a.ts d ON a.k = d.k JOIN e ON e.k = a.k",
             "SELECT * FROM a LEFT JOIN dim AS d ON d.\"__version_at\" = (a.ts) AND (a.k = d.k) "
             "JOIN e ON e.k = a.k");
    /* No alias: the table's name. A string with a quote inside passes through. */
    query_is("SELECT 'it''s' FROM a JOIN dim FOR SYSTEM_TIME AS OF a.ts ON a.k = dim.k",
             "SELECT 'it''s' FROM a JOIN dim AS dim ON dim.\"__version_at\" = (a.ts) AND (a.k = dim.k)");
    /* Plain SQLite SQL is untouched. */
    query_is("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r",
             "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r");
}

static void test_bad_input(void **state)
{
    (void)state;
    fails_at("SELECT 'abc", "line 1, column 8", "unterminated string");
    fails_at("SELECT 1 /* x", "line 1, column 10", "unterminated comment");
    fails_at("SELECT\n  TIMESTAMP '2025-02-30 00:00:00'", "line 2, column 13", "not a timestamp");
    fails_at("SELECT INTERVAL '5' WEEK", "line 1, column 21", "INTERVAL unit");
    fails_at("SELECT INTERVAL 'x' SECOND", "line 1, column 17", "not a number");
    fails_at("CREATE TABLE t (a DECIMAL(10, 2))", "line 1, column 19", "unknown column type");
    fails_at("CREATE TABLE t (a INT PRIMARY KEY, b INT PRIMARY KEY)", "line 1, column 42", "twice");
    fails_at("CREATE TABLE t (a INT) WITH ('x' = 'y', 'x' = 'z')", "line 1, column 41", "twice");
    fails_at("CREATE TABLE t (a INT) WITH (x = 'y')", "line 1, column 30", "quoted option name");
    fails_at("CREATE TABLE t (ts TIMESTAMP, WATERMARK FOR ts AS other)", "line 1, column 51", "watermark");
    fails_at("SELECT * FROM a JOIN d FOR SYSTEM_TIME AS OF a.ts AS d WHERE 1", "line 1, column 56", "needs ON");
    fails_at("SELECT * FROM a FOR SYSTEM_TIME AS a", "line 1, column 33", "AS OF");
    fails_at("SELECT 1 # 2", "line 1, column 10", "unexpected character");
    fails_at("", "line 1, column 1", "empty statement");
    fails_at("SHOW TABLES extra", "line 1, column 13", "after the end");
    /* The caret points at the column. */
    char buf[256];
    const char *sql = "SELECT 1\nFROM t WHERE x ! 2";
    sql_error_caret(sql, strlen(sql), 24, buf, sizeof buf);
    assert_string_equal(buf, "  FROM t WHERE x ! 2\n" "  " "               ^"); /* 2 + 15 */
}

/* View resolver of the tests: sv is 'SELECT * FROM s', cv is some other view. */
static int views(void *arg, const char *name, char *out, size_t cap)
{
    (void)arg;
    if (!strcmp(name, "sv")) {
        snprintf(out, cap, "s");
        return 1;
    }
    return !strcmp(name, "cv") ? -1 : 0;
}

static void test_views_seen_through(void **state)
{
    (void)state;
    sql_ctx vc = ctx;
    vc.view_base = views;
    const struct { const char *in, *want; } cases[] = {
        {"SELECT a.*, d.x FROM a JOIN sv FOR SYSTEM_TIME AS OF a.ts AS d ON a.k = d.k",
         "SELECT a.*, d.x FROM a JOIN \"s\" AS d ON d.\"__version_at\" = (a.ts) AND (a.k = d.k)"},
        {"SELECT sv.x FROM a JOIN sv FOR SYSTEM_TIME AS OF a.ts ON a.k = sv.k",
         "SELECT sv.x FROM a JOIN \"s\" AS sv ON sv.\"__version_at\" = (a.ts) AND (a.k = sv.k)"},
        {"SELECT * FROM sv FOR SYSTEM_TIME AS OF 5 WHERE x = 1",
         "SELECT * FROM \"s\" (5) AS sv WHERE x = 1"},
        {"SELECT * FROM sv FOR SYSTEM_TIME AS OF 5 v WHERE x = 1",
         "SELECT * FROM \"s\" (5) v WHERE x = 1"},
        {"SELECT * FROM sv WHERE x = 1", "SELECT * FROM sv WHERE x = 1"},   /* no AS OF: the view */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sql_stmt st;
        assert_int_equal(sql_translate(cases[i].in, strlen(cases[i].in), &vc, &st), STROM_OK);
        if (strcmp(st.sqlite, cases[i].want))
            fail_msg("'%s'\n  gave '%s'\n  want '%s'", cases[i].in, st.sqlite, cases[i].want);
        sql_stmt_free(&st);
    }
    sql_stmt st;
    const char *bad = "SELECT * FROM a JOIN cv FOR SYSTEM_TIME AS OF a.ts AS d ON a.k = d.k";
    assert_int_equal(sql_translate(bad, strlen(bad), &vc, &st), STROM_EINVAL);
    assert_non_null(strstr(strom_errmsg(), "view 'cv'"));
    assert_int_equal(sql_error_at(), 21);            /* the byte offset of cv, for the caret */
    const char *good = "SELECT 1";
    assert_int_equal(sql_translate(good, strlen(good), &vc, &st), STROM_OK);
    assert_int_equal(sql_error_at(), -1);
    sql_stmt_free(&st);
}

static void test_split(void **state)
{
    (void)state;
    const char *sql = "SELECT ';' ; -- a;b\nCREATE TABLE t (a INT);;\n  SELECT 2";
    size_t *st, *ln, n;
    assert_int_equal(sql_split(sql, strlen(sql), &st, &ln, &n), STROM_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(sql + st[0], "SELECT ';'", ln[0]);
    assert_memory_equal(sql + st[1], "CREATE TABLE t (a INT)", ln[1]);
    assert_memory_equal(sql + st[2], "SELECT 2", ln[2]);
    free(st);
    free(ln);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_ddl),     cmocka_unit_test(test_ddl_forms),
        cmocka_unit_test(test_seed_queries), cmocka_unit_test(test_rewrites),
        cmocka_unit_test(test_bad_input),    cmocka_unit_test(test_split),
        cmocka_unit_test(test_views_seen_through),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
