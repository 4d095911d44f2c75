/* test_group.c: GROUP BY, DISTINCT and ORDER BY over a log table served by the grouped read
 * (PLAN_GROUP, src/sql/vtab_group.c) give SQLite's own answers on a native copy of the same
 * rows: random rows with NULLs, -0.0, empty strings, several key types and predicates, in
 * one pass and, with a tiny memory budget, in many; the plans use no SQLite sorter. */
#include "sql/vtab_group.h"
#include "sqlt.h"

#define NROWS 6000

static void exec_native(sqlt *t, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(sql_session_db(t->s), sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("'%s': %s", sql, err);
}

static void rand_text(char *buf, size_t cap, const char *null_or)
{
    int r = (int)(rnd() % 40);
    if (r < 4)
        snprintf(buf, cap, "%s", null_or);
    else if (r < 6)
        snprintf(buf, cap, "''");
    else if (r < 8)
        snprintf(buf, cap, "'long-key-%d-%s'", r, "with-more-text-than-a-short-one");
    else
        snprintf(buf, cap, "'k%02d'", (int)(rnd() % 23));
}

static void rand_double(char *buf, size_t cap)
{
    int r = (int)(rnd() % 12);
    if (r == 0)
        snprintf(buf, cap, "NULL");
    else if (r == 1)
        snprintf(buf, cap, "-0.0");
    else
        snprintf(buf, cap, "%.3f", (double)((int)(rnd() % 40) - 20) / 4);
}

/* Log table g (2 buckets) and its native twin n_g with the same rows, written in chunks
 * (several batches per bucket). */
static void load(sqlt *t)
{
    sqlt_run(t, "CREATE TABLE g (id BIGINT, s STRING, i INT, b BOOLEAN, f DOUBLE, ts TIMESTAMP(3), "
                "note STRING, WATERMARK FOR ts AS ts) WITH ('bucket.num' = '2', 'bucket.key' = 'id')", NULL);
    exec_native(t, "CREATE TABLE n_g (id INTEGER, s TEXT, i INT, b INT, f REAL, ts INTEGER, note TEXT)");
    for (int chunk = 0; chunk < NROWS / 500; chunk++) {
        sqlite3_str *ins = sqlite3_str_new(NULL);
        sqlite3_str_appendall(ins, "INSERT INTO g VALUES ");
        exec_native(t, "BEGIN");
        for (int j = 0; j < 500; j++) {
            char s[96], f[32], note[96], i[16], b[8], row[400];
            rand_text(s, sizeof s, "NULL");
            rand_text(note, sizeof note, "NULL");
            rand_double(f, sizeof f);
            int ri = (int)(rnd() % 30);
            snprintf(i, sizeof i, ri == 0 ? "NULL" : "%d", ri - 12);
            int rb = (int)(rnd() % 5);
            snprintf(b, sizeof b, "%s", rb == 0 ? "NULL" : rb % 2 ? "1" : "0");
            snprintf(row, sizeof row, "(%d, %s, %s, %s, %s, %lld, %s)", chunk * 500 + j, s, i, b, f,
                     1736780000000LL + (long long)(rnd() % 3600000), note);
            sqlite3_str_appendf(ins, "%s%s", j ? ", " : "", row);
            char nat[480];
            snprintf(nat, sizeof nat, "INSERT INTO n_g VALUES %s", row);
            exec_native(t, nat);
        }
        exec_native(t, "COMMIT");
        char *sql = sqlite3_str_finish(ins);
        sqlt_run(t, sql, NULL);
        sqlite3_free(sql);
    }
}

/* sql with "@g" run on g and on n_g: the same rows, in the same order when ordered. */
static void same(sqlt *t, const char *sql, int ordered)
{
    char mine[1024], nat[1024];
    size_t w = 0, x = 0;
    for (const char *p = sql; *p && w + 4 < sizeof mine; p++) {
        if (*p == '@') {
            nat[x++] = 'n';
            nat[x++] = '_';
            continue;
        }
        mine[w++] = nat[x++] = *p;
    }
    mine[w] = nat[x] = 0;
    rows a = {0}, b = {0};
    sqlt_run(t, mine, &a);
    sqlt_run(t, nat, &b);
    if (ordered)
        rows_equal(&a, &b, sql);
    else
        rows_equal_sorted(&a, &b, sql);
    rows_free(&a);
    rows_free(&b);
}

/* The plan of sql (no '@') reads g by a grouped read, with no sorter of SQLite's. */
static void grouped_plan(sqlt *t, const char *sql, int want)
{
    char q[1024];
    snprintf(q, sizeof q, "EXPLAIN QUERY PLAN %s", sql);
    rows r = {0};
    sqlt_run(t, q, &r);
    int grouped = 0, sorter = 0;
    for (size_t k = 0; k < r.n; k++) {
        grouped |= strstr(r.r[k], "SCAN g VIRTUAL TABLE INDEX 6:") != NULL;
        sorter |= strstr(r.r[k], "TEMP B-TREE FOR ORDER BY") || strstr(r.r[k], "TEMP B-TREE FOR GROUP BY");
    }
    if (want && (!grouped || sorter))
        fail_msg("%s: want a grouped read and no sorter, plan has grouped %d sorter %d", sql, grouped, sorter);
    if (!want && grouped)
        fail_msg("%s: want no grouped read", sql);
    rows_free(&r);
}

static void random_where(char *buf, size_t cap)
{
    long long t = 1736780000000LL + (long long)(rnd() % 3600000);
    switch (rnd() % 6) {
    case 0: buf[0] = 0; break;
    case 1: snprintf(buf, cap, " WHERE ts BETWEEN %lld AND %lld", t - 900000, t); break;
    case 2: snprintf(buf, cap, " WHERE i > %d", (int)(rnd() % 20) - 10); break;
    case 3: snprintf(buf, cap, " WHERE s >= 'k1' AND ts < %lld", t); break;
    case 4: snprintf(buf, cap, " WHERE f IS NOT NULL OR b = 1"); break;
    default: snprintf(buf, cap, " WHERE note = 'k03'"); break;
    }
}

static const char *const QUERIES[] = {
    "SELECT s, count(*), sum(i), min(f) + 0.0, max(ts), max(note) FROM @g%s GROUP BY s",
    "SELECT i, b, count(*), sum(f) + 0.0, count(DISTINCT note) FROM @g%s GROUP BY i, b",
    "SELECT f + 0.0, count(*), min(s), max(id) FROM @g%s GROUP BY f",
    "SELECT s, note, count(*) FROM @g%s GROUP BY note, s",
    "SELECT DISTINCT s FROM @g%s",
    "SELECT DISTINCT b, i FROM @g%s",
};

/* Ordered: ORDER BY over columns that order every row (id last), or that are all projected. */
static const char *const ORDERED[] = {
    "SELECT s, i, id FROM @g%s ORDER BY s, i DESC, id",
    "SELECT f + 0.0, b, id, note FROM @g%s ORDER BY f DESC, b, id DESC",
    "SELECT s, count(*) FROM @g%s GROUP BY s ORDER BY s",
    "SELECT i, max(f) + 0.0 FROM @g%s GROUP BY i ORDER BY i DESC",
    "SELECT DISTINCT note FROM @g%s ORDER BY note",
    "SELECT DISTINCT i, s FROM @g%s ORDER BY i, s DESC",
};

static void run_all(sqlt *t, int rounds)
{
    for (int q = 0; q < rounds; q++) {
        char where[160], sql[512];
        random_where(where, sizeof where);
        snprintf(sql, sizeof sql, QUERIES[q % 6], where);
        same(t, sql, 0);
        random_where(where, sizeof where);
        snprintf(sql, sizeof sql, ORDERED[q % 6], where);
        same(t, sql, 1);
    }
}

static void test_plans(void **state)
{
    (void)state;
    sqlt t;
    sqlt_rng = 0x243F6A8885A308D3ULL;
    sqlt_open(&t, "group");
    load(&t);
    grouped_plan(&t, "SELECT s, count(*) FROM g GROUP BY s", 1);
    grouped_plan(&t, "SELECT s, count(*) FROM g WHERE ts > 1736781000000 GROUP BY s ORDER BY s", 1);
    grouped_plan(&t, "SELECT DISTINCT i, s FROM g ORDER BY i, s DESC", 1);
    grouped_plan(&t, "SELECT * FROM g ORDER BY f DESC, s", 1);
    /* not: a plain ORDER BY whose LIMIT SQLite's top-N sort serves, a DISTINCT without
     * ORDER BY (SQLite keeps its b-tree for it), expressions, other collations */
    grouped_plan(&t, "SELECT DISTINCT i, b FROM g", 0);
    grouped_plan(&t, "SELECT * FROM g ORDER BY f LIMIT 3", 0);
    grouped_plan(&t, "SELECT count(*) FROM g GROUP BY i + 1", 0);
    grouped_plan(&t, "SELECT s FROM g GROUP BY s COLLATE NOCASE", 0);
    same(&t, "SELECT s COLLATE NOCASE, count(*) FROM @g GROUP BY s COLLATE NOCASE", 0);
    same(&t, "SELECT id, f + 0.0 FROM @g ORDER BY f, id LIMIT 20", 1);
    /* in joins, either side of the loop */
    exec_native(&t, "CREATE TABLE pick (x TEXT, w INT); INSERT INTO pick VALUES ('k03', 1), ('k07', 2), "
                    "('', 3), (NULL, 4), ('k03', 5)");
    same(&t, "SELECT g.s, count(*), sum(pick.w), max(g.i) FROM pick JOIN @g AS g ON g.s = pick.x GROUP BY g.s", 0);
    same(&t, "SELECT g.s, pick.w, g.id FROM @g AS g JOIN pick ON pick.x = g.s ORDER BY g.s, g.id DESC, pick.w", 1);
    same(&t, "SELECT pick.x, count(g.id) FROM pick LEFT JOIN @g AS g ON g.s = pick.x AND g.i > 3 "
             "GROUP BY pick.x ORDER BY pick.x", 1);
    /* a grouped read filtered again and again (a correlated subquery) */
    same(&t, "SELECT x.id, (SELECT group_concat(s, '/') FROM (SELECT s FROM @g WHERE id >= x.id * 150 "
             "GROUP BY s ORDER BY s DESC)) FROM @g AS x WHERE x.id < 40", 0);
    sqlt_close(&t);
}

static void test_one_pass(void **state)
{
    (void)state;
    sqlt t;
    sqlt_rng = 0x13198A2E03707344ULL;
    sqlt_open(&t, "group1");
    load(&t);
    int64_t before = sqlg_passes_total();
    run_all(&t, 60);
    /* every grouped query above was one pass: the 60 ordered ones and 40 of the others (not
     * the 20 DISTINCT ones without ORDER BY) */
    assert_int_equal(sqlg_passes_total() - before, 100);
    sqlt_close(&t);
}

/* A budget of 64 KiB: each query needs several passes (about 100 bytes a row here); the
 * answers and their order must not change. */
static void test_over_budget(void **state)
{
    (void)state;
    sqlt t;
    sqlt_rng = 0xA4093822299F31D0ULL;
    sqlt_open(&t, "group2");
    load(&t);
    sqlg_budget(64 << 10);
    int64_t before = sqlg_passes_total();
    run_all(&t, 24);
    same(&t, "SELECT id, s, f + 0.0 FROM @g ORDER BY id DESC", 1);
    int64_t passes = sqlg_passes_total() - before;
    sqlg_budget(-1);
    assert_int_equal(sqlg_budget(0), SQLG_DEFAULT_BUDGET);
    print_message("over budget: %lld passes for 41 grouped queries\n", (long long)passes);
    assert_true(passes > 41 * 2);
    sqlt_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plans),
        cmocka_unit_test(test_one_pass),
        cmocka_unit_test(test_over_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
