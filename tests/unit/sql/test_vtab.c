/* test_vtab.c: the virtual tables against SQLite's own answers: the same rows are loaded
 * into native SQLite tables (the reference) in the session's connection, and random
 * projections, predicates, joins, GROUP BY and LIMIT must give the same results on both.
 * Also: the pushdown plans (EXPLAIN QUERY PLAN), INSERT/UPDATE/DELETE round trips against
 * a model, and bad input. */
#include <pthread.h>
#include <unistd.h>

#include "sqlt.h"

#define NROWS 3000
#define NDEV 25

static void exec_native(sqlt *t, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(sql_session_db(t->s), sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("'%s': %s", sql, err);
}

/* Log table m (readings, 2 buckets, index key dev, time column ts) and primary-key table
 * p (devices), each with a native twin n_m / n_p holding the same rows. */
static void load(sqlt *t)
{
    sqlt_run(t, "CREATE TABLE m (id BIGINT, dev STRING, v DOUBLE, k INT, ts TIMESTAMP(3), note STRING, "
                "WATERMARK FOR ts AS ts) WITH ('bucket.num' = '2', 'bucket.key' = 'dev', "
                "'table.log.index.key' = 'dev')", NULL);
    sqlt_run(t, "CREATE TABLE p (dev STRING PRIMARY KEY, region STRING, cap DOUBLE, n INT)", NULL);
    exec_native(t, "CREATE TABLE n_m (id INTEGER, dev TEXT, v REAL, k INT, ts INTEGER, note TEXT)");
    exec_native(t, "CREATE TABLE n_p (dev TEXT PRIMARY KEY, region TEXT, cap REAL, n INT)");
    sqlite3 *q = sql_session_db(t->s);
    exec_native(t, "BEGIN");
    for (int chunk = 0; chunk < NROWS / 500; chunk++) {
        sqlite3_str *ins = sqlite3_str_new(NULL);
        sqlite3_str_appendall(ins, "INSERT INTO m VALUES ");
        for (int i = 0; i < 500; i++) {
            int id = chunk * 500 + i;
            int dev = (int)(rnd() % NDEV);
            double v = (double)(rnd() % 10000) / 8;
            int k = (int)(rnd() % 50) - 10;
            long long ts = 1736780000000LL + (long long)(rnd() % 3600000);
            char note[16] = "NULL";
            if (rnd() % 4)
                snprintf(note, sizeof note, "'n%d'", (int)(rnd() % 7));
            char row[200];
            snprintf(row, sizeof row, "%s(%d, 'd%02d', %.3f, %d, %lld, %s)", i ? ", " : "", id, dev, v, k, ts, note);
            sqlite3_str_appendall(ins, row);
            char nat[220];
            snprintf(nat, sizeof nat, "INSERT INTO n_m VALUES %s", row + (i ? 2 : 0));
            exec_native(t, nat);
        }
        char *sql = sqlite3_str_finish(ins);
        exec_native(t, "COMMIT");
        sqlt_run(t, sql, NULL);          /* through the vtab (xUpdate, written at commit) */
        exec_native(t, "BEGIN");
        sqlite3_free(sql);
    }
    exec_native(t, "COMMIT");
    for (int d = 0; d < NDEV - 3; d++) {     /* three devices have no row in p */
        char sql[200];
        snprintf(sql, sizeof sql, "INSERT INTO %%s VALUES ('d%02d', 'r%d', %d.5, %d)", d, d % 4, d * 10, d);
        char a[220], b[220];
        snprintf(a, sizeof a, sql, "p");
        snprintf(b, sizeof b, sql, "n_p");
        sqlt_run(t, a, NULL);
        exec_native(t, b);
    }
    (void)q;
}

/* Runs sql on the strom tables and on the native ones (names prefixed n_); the results
 * must be equal (as multisets, or in order when ordered). */
static void same(sqlt *t, const char *sql, int ordered)
{
    char mine[2048], nat[2048];
    size_t w = 0, x = 0;
    for (const char *p = sql; *p && w + 4 < sizeof mine && x + 4 < sizeof nat; p++) {
        if (*p == '@') {           /* @m / @p: the strom table or its native twin */
            nat[x++] = 'n';
            nat[x++] = '_';
            continue;
        }
        mine[w++] = *p;
        nat[x++] = *p;
    }
    mine[w] = nat[x] = 0;
    rows a = {0}, b = {0};
    sqlt_run(t, mine, &a);
    sqlt_run(t, nat, &b);
    char what[2200];
    snprintf(what, sizeof what, "%s", sql);
    if (ordered)
        rows_equal(&a, &b, what);
    else
        rows_equal_sorted(&a, &b, what);
    rows_free(&a);
    rows_free(&b);
}

static const char *const COLS[] = {"id", "dev", "v", "k", "ts", "note"};

static void random_pred(char *buf, size_t cap, const char *q)
{
    static const char *const ops[] = {"=", "<", "<=", ">", ">=", "<>"};
    const char *op = ops[rnd() % 6];
    switch (rnd() % 6) {
    case 0: snprintf(buf, cap, "%sid %s %d", q, op, (int)(rnd() % NROWS)); break;
    case 1: snprintf(buf, cap, "%sdev %s 'd%02d'", q, op, (int)(rnd() % (NDEV + 2))); break;
    case 2: snprintf(buf, cap, "%sv %s %.3f", q, op, (double)(rnd() % 10000) / 8); break;
    case 3: snprintf(buf, cap, "%sk %s %d", q, op, (int)(rnd() % 50) - 12); break;
    case 4: snprintf(buf, cap, "%sts %s %lld", q, op, 1736780000000LL + (long long)(rnd() % 3600000)); break;
    default: snprintf(buf, cap, "%snote %s 'n%d'", q, op, (int)(rnd() % 8)); break;
    }
}

static void test_random_queries(void **state)
{
    (void)state;
    sqlt t;
    sqlt_rng = 0x9E3779B97F4A7C15ULL;
    sqlt_open(&t, "vtab");
    load(&t);
    same(&t, "SELECT * FROM @m AS m", 0);
    same(&t, "SELECT * FROM @p AS p", 0);
    for (int q = 0; q < 400; q++) {
        char proj[128] = "", where[512] = "", sql[1024];
        int w = 0;
        for (int c = 0; c < 6; c++)
            if (rnd() % 2 || (c == 5 && !w))
                w += snprintf(proj + w, sizeof proj - (size_t)w, "%s%s", w ? ", " : "", COLS[c]);
        int np = (int)(rnd() % 4);
        int ww = 0;
        for (int i = 0; i < np; i++) {
            char p[128];
            random_pred(p, sizeof p, q % 5 == 4 ? "m." : "");
            ww += snprintf(where + ww, sizeof where - (size_t)ww, "%s%s", i ? (rnd() % 4 ? " AND " : " OR ") : " WHERE ", p);
        }
        switch (q % 5) {
        case 0: case 1:
            snprintf(sql, sizeof sql, "SELECT %s FROM @m AS m%s", proj, where);
            same(&t, sql, 0);
            break;
        case 2:
            snprintf(sql, sizeof sql, "SELECT dev, count(*), sum(k), min(v), max(ts) FROM @m AS m%s GROUP BY dev", where);
            same(&t, sql, 0);
            break;
        case 3:
            snprintf(sql, sizeof sql, "SELECT %s FROM @m AS m%s ORDER BY id DESC LIMIT %d", proj, where, (int)(rnd() % 40));
            same(&t, sql, 1);
            break;
        default:
            snprintf(sql, sizeof sql, "SELECT m.id, m.dev, p.region, p.cap FROM @m AS m JOIN @p AS p ON m.dev = p.dev%s%s",
                     where[0] ? " AND " : "", where[0] ? where + 7 : "");
            same(&t, sql, 0);
            break;
        }
    }
    same(&t, "SELECT * FROM @m AS m WHERE dev = 'd03' ORDER BY ts DESC LIMIT 7", 1);
    same(&t, "SELECT id FROM @m AS m WHERE dev IN ('d01', 'd02', 'zz') AND ts <= 1736781000000", 0);
    /* LIMIT with a predicate the key history does not apply: SQLite must not get the LIMIT */
    same(&t, "SELECT id, v FROM @m AS m WHERE dev = 'd04' AND v > 600 ORDER BY ts DESC LIMIT 5", 1);
    same(&t, "SELECT id FROM @m AS m WHERE dev = 'd04' AND ts > 1736781000000 AND ts <= 1736782000000 "
             "ORDER BY ts DESC LIMIT 5 OFFSET 2", 1);
    rows x = {0}, y = {0};
    sqlt_run(&t, "SELECT id, v FROM m FOR SYSTEM_TIME AS OF 1736782000000 WHERE dev = 'd04' AND v > 600 "
                 "AND k <> 3 ORDER BY ts DESC LIMIT 4", &x);
    sqlt_run(&t, "SELECT id, v FROM n_m WHERE ts <= 1736782000000 AND dev = 'd04' AND v > 600 AND k <> 3 "
                 "ORDER BY ts DESC LIMIT 4", &y);
    assert_int_equal(y.n, 4);
    rows_equal(&x, &y, "AS OF with a predicate and LIMIT");
    rows_free(&x);
    rows_free(&y);
    same(&t, "SELECT * FROM @p AS p WHERE dev IN ('d01', 'd05', 'd24', 'x')", 0);
    same(&t, "SELECT * FROM @p AS p WHERE dev = 'd07'", 0);
    same(&t, "SELECT p.region, count(*), avg(m.v) FROM @m AS m LEFT JOIN @p AS p ON p.dev = m.dev GROUP BY p.region", 0);
    same(&t, "WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x < 5) "
             "SELECT x, (SELECT count(*) FROM @m AS m WHERE k = x) FROM c", 0);
    same(&t, "SELECT id, dev, sum(v) OVER (PARTITION BY dev ORDER BY id) FROM @m AS m WHERE k > 30", 0);
    sqlt_close(&t);
}

/* EXPLAIN QUERY PLAN's detail of the scan of table `tab` (the vtab's idxNum:idxStr). */
static void plan_has(sqlt *t, const char *sql, const char *tab, const char *want, const char *reject)
{
    char q[1024];
    snprintf(q, sizeof q, "EXPLAIN QUERY PLAN %s", sql);
    rows r = {0};
    sqlt_run(t, q, &r);
    char all[4096] = "";
    int found = 0;
    for (size_t i = 0; i < r.n; i++) {
        strncat(all, r.r[i], sizeof all - strlen(all) - 2);
        strncat(all, "\n", sizeof all - strlen(all) - 1);
        char pat[64];
        snprintf(pat, sizeof pat, "SCAN %s VIRTUAL TABLE INDEX ", tab);
        if (strstr(r.r[i], pat) && strstr(r.r[i], want))
            found = 1;
    }
    if (!found || (reject && strstr(all, reject)))
        fail_msg("%s\nplan:\n%swant '%s' on %s%s%s", sql, all, want, tab, reject ? ", not " : "", reject ? reject : "");
    rows_free(&r);
}

static void test_plans(void **state)
{
    (void)state;
    sqlt t;
    sqlt_open(&t, "plan");
    load(&t);
    /* projection: colUsed is the bit set of the columns read (dev = bit 1, ts = bit 4) */
    plan_has(&t, "SELECT dev FROM m", "m", "0:u2;", NULL);
    plan_has(&t, "SELECT dev, ts FROM m", "m", "0:u12;", NULL);
    /* log: predicates with constants and time ranges are pushed */
    plan_has(&t, "SELECT id FROM m WHERE v > 5 AND ts <= 1736781000000", "m", "2>,4{!,", NULL);
    /* log: index key + AS OF + ORDER BY time DESC LIMIT -> key history, no sort */
    plan_has(&t, "SELECT * FROM m FOR SYSTEM_TIME AS OF 1736781000000 WHERE dev = 'd01' ORDER BY ts DESC LIMIT 3",
             "m", "4:u", "TEMP B-TREE");
    plan_has(&t, "SELECT * FROM m FOR SYSTEM_TIME AS OF 1736781000000 WHERE dev = 'd01' ORDER BY ts DESC LIMIT 3",
             "m", "-1L!,", NULL);
    /* primary key: point, IN (batch) and temporal joins by key */
    plan_has(&t, "SELECT * FROM p WHERE dev = 'd01'", "p", "1:u", NULL);
    plan_has(&t, "SELECT * FROM p WHERE dev IN ('d01', 'd02')", "p", "2:u", NULL);
    plan_has(&t, "SELECT m.id, q.cap FROM m JOIN p FOR SYSTEM_TIME AS OF m.ts AS q ON m.dev = q.dev", "q", "1:u", NULL);
    plan_has(&t, "SELECT a.id, b.id FROM m a JOIN m FOR SYSTEM_TIME AS OF a.ts AS b ON a.dev = b.dev", "b", "4:u", NULL);
    /* a join by key: the small p outside, m read by key history inside */
    plan_has(&t, "SELECT m.id, p.cap FROM m JOIN p ON m.dev = p.dev", "m", "4:u", NULL);
    /* OR of two key reads: both halves, no row lost or repeated */
    same(&t, "SELECT id FROM @m AS m WHERE (dev = 'd01' AND ts < 1736781000000) OR (dev = 'd02' AND k > 3) "
             "OR (dev = 'd01' AND k > 30)", 0);
    /* the temporal join answers: version at the left row's time, newest row per key */
    rows got = {0}, want = {0};
    sqlt_run(&t, "SELECT a.id, b.id FROM m a JOIN m FOR SYSTEM_TIME AS OF a.ts AS b ON a.dev = b.dev", &got);
    sqlt_run(&t, "SELECT a.id, (SELECT b.id FROM n_m b WHERE b.dev = a.dev AND b.ts <= a.ts "
                 "ORDER BY b.ts DESC, b.id DESC LIMIT 1) FROM n_m a", &want);
    rows_equal_sorted(&got, &want, "log temporal self-join");
    rows_free(&got);
    rows_free(&want);
    sqlt_close(&t);
}

static void test_writes(void **state)
{
    (void)state;
    sqlt t;
    sqlt_open(&t, "write");
    sqlt_run(&t, "CREATE TABLE kv (k STRING PRIMARY KEY, v BIGINT, t TIMESTAMP, b BOOLEAN, f FLOAT)", NULL);
    sqlt_run(&t, "CREATE TABLE lg (a INT, s STRING)", NULL);
    /* model: k -> v */
    long long model[50];
    for (int i = 0; i < 50; i++)
        model[i] = -1;
    for (int round = 0; round < 30; round++) {
        char sql[256];
        int k = (int)(rnd() % 50);
        long long v = (long long)(rnd() % 1000);
        switch (rnd() % 3) {
        case 0:
            snprintf(sql, sizeof sql, "INSERT INTO kv VALUES ('k%d', %lld, '2025-01-13 14:30:00', 'true', 1.5)", k, v);
            model[k] = v;
            break;
        case 1:
            snprintf(sql, sizeof sql, "UPDATE kv SET v = %lld WHERE k = 'k%d'", v, k);
            if (model[k] >= 0)
                model[k] = v;
            break;
        default:
            snprintf(sql, sizeof sql, "DELETE FROM kv WHERE k = 'k%d'", k);
            model[k] = -1;
            break;
        }
        sqlt_run(&t, sql, NULL);
    }
    rows got = {0}, want = {0};
    sqlt_run(&t, "SELECT k, v FROM kv", &got);
    for (int i = 0; i < 50; i++)
        if (model[i] >= 0)
            rows_addf(&want, "k%d|%lld", i, model[i]);
    rows_equal_sorted(&got, &want, "kv after INSERT/UPDATE/DELETE");
    rows_free(&got);
    rows_free(&want);
    /* INSERT ... SELECT and types round trip */
    sqlt_run(&t, "INSERT INTO lg SELECT v, k FROM kv", NULL);
    sqlt_run(&t, "SELECT count(*) FROM lg", &got);
    sqlt_run(&t, "SELECT count(*) FROM kv", &want);
    rows_equal(&got, &want, "INSERT ... SELECT");
    rows_free(&got);
    rows_free(&want);
    sqlt_run(&t, "INSERT INTO kv VALUES ('z', 1, TIMESTAMP '2025-01-13 14:30:00.250', false, 2.5)", NULL);
    sqlt_run(&t, "SELECT * FROM kv WHERE k = 'z'", &got);
    rows_add(&want, "z|1|1736778600250|0|2.5");
    rows_equal(&got, &want, "typed round trip");
    rows_free(&got);
    rows_free(&want);
    /* a failed statement writes nothing */
    sqlt_fails(&t, "INSERT INTO lg VALUES (1, 'a'), ('x', 'b')", "column a");
    sqlt_run(&t, "SELECT count(*) FROM lg WHERE s IN ('a', 'b')", &got);
    rows_add(&want, "0");
    rows_equal(&got, &want, "nothing written by a failed INSERT");
    rows_free(&got);
    rows_free(&want);
    sqlt_close(&t);
}

/* A composite primary key with 'bucket.key' its first column: point and prefix lookups,
 * OR of point lookups (rowids are key hashes), against a native twin. */
static void test_composite_key(void **state)
{
    (void)state;
    sqlt t;
    sqlt_open(&t, "comp");
    sqlt_run(&t, "CREATE TABLE c (a INT, b STRING, x DOUBLE, PRIMARY KEY (a, b) NOT ENFORCED) "
                 "WITH ('bucket.num' = '3', 'bucket.key' = 'a')", NULL);
    exec_native(&t, "CREATE TABLE n_c (a INT, b TEXT, x REAL, PRIMARY KEY (a, b))");
    for (int i = 0; i < 300; i++) {
        char sql[200];
        int a = (int)(rnd() % 20);
        snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO %%s VALUES (%d, 'b%d', %d.25)", a, (int)(rnd() % 30), i);
        char x[220], y[220];
        snprintf(x, sizeof x, sql, "c");
        snprintf(y, sizeof y, sql, "n_c");
        sqlt_run(&t, x, NULL);   /* a primary-key table upserts; OR REPLACE makes the twin do so */
        exec_native(&t, y);
    }
    same(&t, "SELECT * FROM @c AS c", 0);
    same(&t, "SELECT * FROM @c AS c WHERE a = 7", 0);
    same(&t, "SELECT b, x FROM @c AS c WHERE a = 7 AND b = 'b3'", 0);
    same(&t, "SELECT * FROM @c AS c WHERE (a = 1 AND b = 'b2') OR (a = 2 AND b = 'b5') OR (a = 1 AND x > 100)", 0);
    same(&t, "SELECT a, count(*), sum(x) FROM @c AS c WHERE a IN (1, 3, 5) GROUP BY a", 0);
    plan_has(&t, "SELECT * FROM c WHERE a = 7", "c", "3:u", NULL);
    plan_has(&t, "SELECT * FROM c WHERE a = 7 AND b = 'b3'", "c", "1:u", NULL);
    sqlt_fails(&t, "UPDATE c SET x = 1 WHERE a = 7", "composite key");
    sqlt_fails(&t, "DELETE FROM c WHERE a = 7", "composite key");
    sqlt_close(&t);
}

static void test_bad_input(void **state)
{
    (void)state;
    sqlt t;
    sqlt_open(&t, "bad");
    sqlt_run(&t, "CREATE TABLE a (id STRING PRIMARY KEY, x INT, ts TIMESTAMP)", NULL);
    sqlt_run(&t, "CREATE TABLE l (id STRING, x INT)", NULL);
    sqlt_fails(&t, "SELECT * FROM nosuch", "no such table: nosuch");
    sqlt_fails(&t, "SELECT nocol FROM a", "no such column: nocol");
    sqlt_fails(&t, "SELEC * FROM a", "syntax error");
    sqlt_fails(&t, "CREATE TABLE b (x INT) WITH ('bucket.nmu' = '2')", "bucket.nmu");
    sqlt_fails(&t, "CREATE TABLE b (x BLOBBY)", "unknown column type 'BLOBBY'");
    sqlt_fails(&t, "CREATE TABLE b (x INT, x INT)", "x");
    sqlt_fails(&t, "CREATE TABLE b (x INT, PRIMARY KEY (y) NOT ENFORCED)", "y");
    sqlt_fails(&t, "CREATE TABLE b (x INT, WATERMARK FOR y AS y)", "y");
    sqlt_fails(&t, "CREATE TABLE a (x INT)", "already exists");
    /* strom accepts it, SQLite cannot register it: the strom table is dropped again */
    sqlt_fails(&t, "CREATE TABLE b (__as_of INT, x INT)", "duplicate column name: __as_of");
    rows r = {0}, want = {0};
    sqlt_run(&t, "SHOW TABLES", &r);             /* no half-created table b */
    rows_add(&want, "a|TABLE");
    rows_add(&want, "l|TABLE");
    rows_equal(&r, &want, "tables after failed CREATEs");
    rows_free(&r);
    rows_free(&want);
    char **names;
    size_t n;
    assert_int_equal(strom_table_list(t.db, &names, &n), STROM_OK);
    assert_int_equal(n, 2);
    strom_free_names(names, n);
    sqlt_fails(&t, "INSERT INTO a VALUES ('k', 'notanint', 0)", "column x");
    sqlt_fails(&t, "INSERT INTO a VALUES ('k', 1, 'yesterday')", "column ts");
    sqlt_fails(&t, "INSERT INTO a VALUES (NULL, 1, 0)", "id");
    sqlt_run(&t, "INSERT INTO l VALUES ('r', 1)", NULL);
    sqlt_fails(&t, "DELETE FROM l", "append-only");
    sqlt_fails(&t, "UPDATE l SET x = 2", "append-only");
    sqlt_fails(&t, "SELECT * FROM l a JOIN a FOR SYSTEM_TIME AS OF 5 AS d ON a.x = d.x", "whole primary key (id)");
    sqlt_fails(&t, "SELECT * FROM l x JOIN l FOR SYSTEM_TIME AS OF 5 AS d ON x.id = d.id", "table.log.index.key");
    sqlt_fails(&t, "SELECT * FROM a FOR SYSTEM_TIME AS OF 5", "whole primary key");
    sqlt_fails(&t, "SET 'no.such' = '1'", "no.such");
    sqlt_fails(&t, "SET 'table.local-time-zone' = 'Mars/Base'", "Mars/Base");
    sqlt_fails(&t, "SET 'execution.runtime-mode' = 'continuous'", "'batch' or 'streaming'");
    sqlt_fails(&t, "DROP TABLE nosuch", "nosuch");
    sqlt_fails(&t, "DESCRIBE nosuch", "nosuch");
    sqlt_fails(&t, "SELECT TIMESTAMP '2025-02-30 00:00:00'", "line 1, column 18");
    /* CURRENT_TIMESTAMP is the session's clock in the session zone */
    sql_session_set_now(t.s, 1736778600000);     /* 2025-01-13 14:30:00 UTC */
    sqlt_run(&t, "SET 'table.local-time-zone' = '+08:00'", NULL);
    sqlt_run(&t, "SELECT CURRENT_TIMESTAMP", &r);
    rows_add(&want, "1736807400000");
    rows_equal(&r, &want, "CURRENT_TIMESTAMP at +08:00");
    rows_free(&r);
    rows_free(&want);
    /* views survive a new session; DROP removes tables and views */
    sqlt_run(&t, "CREATE VIEW v AS SELECT id, x + 1 AS y FROM a", NULL);
    sqlt_fails(&t, "SELECT * FROM v FOR SYSTEM_TIME AS OF 5", "SELECT * FROM <table>");
    sqlt_reopen(&t);
    sqlt_run(&t, "INSERT INTO a VALUES ('k', 41, 0)", NULL);
    sqlt_run(&t, "SELECT * FROM v", &r);
    rows_add(&want, "k|42");
    rows_equal(&r, &want, "view after reopening");
    rows_free(&r);
    rows_free(&want);
    sqlt_run(&t, "DROP VIEW v", NULL);
    sqlt_run(&t, "DROP TABLE l", NULL);
    sqlt_reopen(&t);
    sqlt_run(&t, "SHOW TABLES", &r);
    rows_add(&want, "a|TABLE");
    rows_equal(&r, &want, "after DROP");
    rows_free(&r);
    rows_free(&want);
    sqlt_close(&t);
}

/* Streaming mode in-process: refusals; a stream reads what is there, then a row appended
 * later by another thread, and ends when interrupted. */
typedef struct appender { sqlt *t; } appender;

static void *append_then_interrupt(void *arg)
{
    sqlt *t = ((appender *)arg)->t;
    usleep(150000);
    strom_table *l;
    assert_int_equal(strom_table_open(t->db, "l", &l), STROM_OK);
    strom_builder *b = strom_builder_create(strom_table_schema(l));
    strom_builder_put_str(b, 0, "late", 4);
    strom_builder_put_int(b, 1, 42);
    strom_builder_end_row(b);
    strom_table_append(l, b, NULL);      /* no append listener here: the stream sees it
                                            at the end of its wait slice */
    strom_builder_destroy(b);
    strom_table_close(l);
    usleep(300000);
    sql_session_interrupt(t->s);
    return NULL;
}

static void test_streaming(void **state)
{
    (void)state;
    sqlt t;
    rows r = {0};
    sqlt_open(&t, "stream");
    sqlt_run(&t, "CREATE TABLE l (id STRING, x INT)", NULL);
    sqlt_run(&t, "CREATE TABLE k (id STRING PRIMARY KEY, name STRING)", NULL);
    sqlt_run(&t, "INSERT INTO l VALUES ('a', 1), ('b', 20), ('late', 3)", NULL);
    sqlt_run(&t, "INSERT INTO k VALUES ('b', 'bee'), ('late', 'latecomer')", NULL);
    sqlt_run(&t, "SET 'execution.runtime-mode' = 'streaming'", NULL);
    sqlt_fails(&t, "SELECT count(*) FROM l", "window");
    sqlt_fails(&t, "SELECT id FROM l GROUP BY id", "window");
    sqlt_fails(&t, "SELECT * FROM l ORDER BY x", "ORDER BY without LIMIT");
    sqlt_fails(&t, "INSERT INTO k SELECT id, id FROM l", "continuous job");
    sqlt_fails(&t, "STOP JOB 'x'", "server");
    sqlt_fails(&t, "SELECT * FROM l a, l b WHERE a.id = b.id", "one log table as a stream");
    sqlt_fails(&t, "SELECT * FROM l a JOIN l b ON a.id = b.id",    /* a join of two streams: */
               "line 1, column 15: a join of two streams: table l has no time column");
    sqlt_run(&t, "SHOW JOBS", &r);
    assert_int_equal(r.n, 0);
    /* a filtered, projected lookup join over the stream */
    const char *q = "SELECT l.id, l.x, k.name FROM l JOIN k ON k.id = l.id WHERE l.x > 2";
    sqlite3_stmt *st = NULL;
    assert_int_equal(sql_session_run(t.s, q, strlen(q), &st), STROM_OK);
    appender a = {&t};
    pthread_t th;
    pthread_create(&th, NULL, append_then_interrupt, &a);
    char got[256] = "";
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        size_t w = strlen(got);
        snprintf(got + w, sizeof got - w, "%s,%d,%s;", sqlite3_column_text(st, 0), sqlite3_column_int(st, 1),
                 sqlite3_column_text(st, 2));
    }
    pthread_join(th, NULL);
    assert_int_not_equal(rc, SQLITE_DONE);          /* it ended by the interrupt */
    assert_string_equal(got, "b,20,bee;late,3,latecomer;late,42,latecomer;");
    sqlite3_finalize(st);
    sqlt_run(&t, "SET 'execution.runtime-mode' = 'batch'", NULL);
    sqlt_run(&t, "SELECT count(*) FROM l", &r);
    rows_free(&r);
    sqlt_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_streaming),
        cmocka_unit_test(test_random_queries),
        cmocka_unit_test(test_plans),
        cmocka_unit_test(test_writes),
        cmocka_unit_test(test_composite_key),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
