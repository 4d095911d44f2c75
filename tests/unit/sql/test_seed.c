/* test_seed.c: the seed's six SQL statements, copied verbatim from
 * ../shared/seeds/000_be87a693d03de740.txt, run against the grid tables filled with
 * generated data (appended out of time order: late rows in every stream and late versions
 * in the dimension table), each result checked against the answer computed here in C from
 * the generated rows (a reference model, not the same SQL). */
#include "sqlt.h"

/* ------------------------------------------------ the statements, verbatim */

static const char S1_DDL[] =
    "-- Fluss原生支持高QPS主键查找\n"
    "CREATE TABLE device_dimension (\n"
    "    device_id STRING PRIMARY KEY,\n"
    "    device_name STRING,\n"
    "    location STRING,\n"
    "    capacity_mw DOUBLE,\n"
    "    status STRING,\n"
    "    last_update TIMESTAMP\n"
    ") WITH (\n"
    "    'connector' = 'fluss',\n"
    "    'bootstrap.servers' = 'coordinator-server:9123'\n"
    ");\n";

static const char S2_WINDOW_JOIN[] =
    "-- Flink复杂窗口JOIN，需要等待窗口关闭\n"
    "SELECT a.alarm_id, a.device_id, s.device_status, s.capacity\n"
    "FROM alarm_stream a\n"
    "JOIN device_status_stream s\n"
    "ON a.device_id = s.device_id\n"
    "AND a.event_time BETWEEN s.event_time - INTERVAL '5' MINUTE AND s.event_time + INTERVAL '1' MINUTE\n";

static const char S3_LOOKUP_JOIN[] =
    "-- Fluss支持流表二元性，实时lookup\n"
    "SELECT a.alarm_id, a.device_id, d.device_status, d.capacity, d.last_maintenance\n"
    "FROM alarm_stream a\n"
    "JOIN device_dimension_table FOR SYSTEM_TIME AS OF a.event_time AS d\n"
    "ON a.device_id = d.device_id\n";

static const char S4_TIME_TRAVEL[] =
    "-- 时间旅行查询，瞬间获取历史数据\n"
    "SELECT device_id, voltage, current, temperature\n"
    "FROM power_equipment_stream \n"
    "FOR SYSTEM_TIME AS OF TIMESTAMP '2025-01-13 14:30:00'\n"
    "WHERE device_id = 'DEVICE_12345'\n"
    "ORDER BY event_time DESC\n"
    "LIMIT 100;\n";

static const char S5_VIEW_JOIN[] =
    "-- 利用Fluss流表二元性\n"
    "CREATE VIEW device_status_view AS\n"
    "SELECT * FROM device_status_stream;\n"
    "\n"
    "-- 实时JOIN，无需窗口等待\n"
    "SELECT a.*, d.device_status, d.capacity\n"
    "FROM alarm_stream a\n"
    "JOIN device_status_view FOR SYSTEM_TIME AS OF a.event_time AS d\n"
    "ON a.device_id = d.device_id;\n";

static const char S6_AS_OF_NOW[] =
    "-- 查询故障前1小时的设备状态\n"
    "SELECT * FROM power_equipment_stream\n"
    "FOR SYSTEM_TIME AS OF (CURRENT_TIMESTAMP - INTERVAL '1' HOUR)\n"
    "WHERE device_id IN (SELECT device_id FROM current_alarms);\n";

/* -------------------------------------------------------- the grid tables */

#include "seed_ddl.h"   /* GRID_DDL: the grid tables */

#define NDEV 40
#define HOURS3 (3 * 3600000LL)

typedef struct prow { int dev; double v, c, temp; int64_t t; } prow;     /* power */
typedef struct srow { int dev; int st; double cap; int64_t t; } srow;    /* status */
typedef struct drow { int dev; int st; double cap; int64_t maint, t; } drow; /* dimension */
typedef struct arow { int id, dev, type; int64_t t; } arow;              /* alarm */

static const char *const STATUS[] = {"normal", "overload", "fault", "maintenance"};
static const char *const ATYPE[] = {"overvoltage", "overheat", "trip"};

typedef struct grid {
    int64_t w0;                     /* 2025-01-13 13:00:00 (wall clock ms) */
    prow *p; size_t np;
    srow *s; size_t ns;
    drow *d; size_t nd;
    arow *a; size_t na;
    int cur_dev[12]; int ncur;
} grid;

static void dev_name(int dev, char *buf) { snprintf(buf, 24, "DEVICE_%05d", (12320 + dev) % 100000); }

static void shuffle(void *base, size_t n, size_t size)
{
    char tmp[64];
    for (size_t i = n; i > 1; i--) {
        size_t j = rnd() % i;
        memcpy(tmp, (char *)base + (i - 1) * size, size);
        memcpy((char *)base + (i - 1) * size, (char *)base + j * size, size);
        memcpy((char *)base + j * size, tmp, size);
    }
}

/* Times are distinct per device (j * step + dev), so every "newest" has one answer. */
static void generate(grid *g)
{
    assert_int_equal(sql_parse_timestamp("2025-01-13 13:00:00", 19, &g->w0), STROM_OK);
    g->p = calloc(NDEV * 400, sizeof *g->p);
    g->s = calloc(NDEV * 30, sizeof *g->s);
    g->d = calloc(NDEV * 10, sizeof *g->d);
    g->a = calloc(300, sizeof *g->a);
    for (int dev = 0; dev < NDEV; dev++) {
        int m = dev == 25 ? 400 : 60;            /* dev 25 is DEVICE_12345 */
        for (int j = 0; j < m; j++)
            g->p[g->np++] = (prow){dev, 200 + (double)(rnd() % 4000) / 100, (double)(rnd() % 1000) / 10,
                                   20 + (double)(rnd() % 600) / 10, g->w0 + j * (HOURS3 / m) + dev};
        for (int j = 0; j < 30; j++)
            g->s[g->ns++] = (srow){dev, (int)(rnd() % 4), (double)(rnd() % 5000) / 10,
                                   g->w0 + j * 360000 + dev};
        for (int j = 0; j < 10; j++)
            g->d[g->nd++] = (drow){dev, (int)(rnd() % 4), (double)(rnd() % 5000) / 10,
                                   g->w0 - (int64_t)(rnd() % 1000) * 86400000 / 10,
                                   g->w0 + j * 1080000 + dev * 7};
    }
    for (int i = 0; i < 300; i++)
        g->a[g->na++] = (arow){i, (int)(rnd() % NDEV), (int)(rnd() % 3),
                               g->w0 - 600000 + (int64_t)(rnd() % (uint64_t)(HOURS3 + 600000))};
    /* out of time order: late rows everywhere */
    shuffle(g->p, g->np, sizeof *g->p);
    shuffle(g->s, g->ns, sizeof *g->s);
    shuffle(g->d, g->nd, sizeof *g->d);
    shuffle(g->a, g->na, sizeof *g->a);
    int cur[] = {25, 3, 7, 7, 11, 19, 25, 30, 31, 39};
    g->ncur = 10;
    memcpy(g->cur_dev, cur, sizeof cur);
}

static void put_s(strom_builder *b, int col, const char *s)
{
    assert_int_equal(strom_builder_put_str(b, col, s, strlen(s)), STROM_OK);
}

/* Appends (log) or upserts (pk) the builder in chunks of `chunk` rows. */
typedef void (*fill_fn)(const grid *g, size_t i, strom_builder *b);

static void load(strom_db *db, const char *table, const grid *g, size_t n, size_t chunk, fill_fn fill)
{
    strom_table *t;
    assert_int_equal(strom_table_open(db, table, &t), STROM_OK);
    strom_builder *b = strom_builder_create(strom_table_schema(t));
    int pk = strom_schema_primary_key(strom_table_schema(t), NULL, 0) > 0;
    for (size_t i = 0; i < n; i++) {
        fill(g, i, b);
        assert_int_equal(strom_builder_end_row(b), STROM_OK);
        if (strom_builder_nrows(b) == (int64_t)chunk || i + 1 == n) {
            strom_err e = pk ? strom_table_upsert(t, b) : strom_table_append(t, b, NULL);
            if (e != STROM_OK)
                fail_msg("%s: %s", table, strom_errmsg());
            strom_builder_reset(b);
        }
    }
    strom_builder_destroy(b);
    strom_table_close(t);
}

static void fill_power(const grid *g, size_t i, strom_builder *b)
{
    char n[24];
    dev_name(g->p[i].dev, n);
    put_s(b, 0, n);
    strom_builder_put_f64(b, 1, g->p[i].v);
    strom_builder_put_f64(b, 2, g->p[i].c);
    strom_builder_put_f64(b, 3, g->p[i].temp);
    strom_builder_put_int(b, 4, g->p[i].t);
}

static void fill_status(const grid *g, size_t i, strom_builder *b)
{
    char n[24];
    dev_name(g->s[i].dev, n);
    put_s(b, 0, n);
    put_s(b, 1, STATUS[g->s[i].st]);
    strom_builder_put_f64(b, 2, g->s[i].cap);
    strom_builder_put_int(b, 3, g->s[i].t);
}

static void fill_dim(const grid *g, size_t i, strom_builder *b)
{
    char n[24];
    dev_name(g->d[i].dev, n);
    put_s(b, 0, n);
    put_s(b, 1, STATUS[g->d[i].st]);
    strom_builder_put_f64(b, 2, g->d[i].cap);
    strom_builder_put_int(b, 3, g->d[i].maint);
    strom_builder_put_int(b, 4, g->d[i].t);
}

static void fill_alarm(const grid *g, size_t i, strom_builder *b)
{
    char n[24], id[16];
    dev_name(g->a[i].dev, n);
    snprintf(id, sizeof id, "A%04d", g->a[i].id);
    put_s(b, 0, id);
    put_s(b, 1, n);
    put_s(b, 2, ATYPE[g->a[i].type]);
    strom_builder_put_int(b, 3, g->a[i].t);
}

static void fill_current(const grid *g, size_t i, strom_builder *b)
{
    char n[24], id[16];
    dev_name(g->cur_dev[i], n);
    snprintf(id, sizeof id, "C%02zu", i);
    put_s(b, 0, id);
    put_s(b, 1, n);
    strom_builder_put_int(b, 2, (int64_t)(i % 3));
}

static grid G;
static sqlt T;

static int setup(void **state)
{
    (void)state;
    generate(&G);
    sqlt_open(&T, "seed");
    for (size_t i = 0; i < sizeof GRID_DDL / sizeof GRID_DDL[0]; i++)
        sqlt_run(&T, GRID_DDL[i], NULL);
    load(T.db, "power_equipment_stream", &G, G.np, 700, fill_power);
    load(T.db, "device_status_stream", &G, G.ns, 150, fill_status);
    load(T.db, "device_dimension_table", &G, G.nd, 37, fill_dim);
    load(T.db, "alarm_stream", &G, G.na, 50, fill_alarm);
    load(T.db, "current_alarms", &G, (size_t)G.ncur, 10, fill_current);
    /* the session zone is Shanghai (+08:00); its clock reads 2025-01-13 15:40:00 there */
    sqlt_run(&T, "SET 'table.local-time-zone' = 'Asia/Shanghai'", NULL);
    sql_session_set_now(T.s, G.w0 + 2 * 3600000 + 40 * 60000 - 8 * 3600000);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sqlt_close(&T);
    free(G.p);
    free(G.s);
    free(G.d);
    free(G.a);
    return 0;
}

/* ----------------------------------------------------------- statement 1 */

static void test_s1_ddl(void **state)
{
    (void)state;
    sqlt_run(&T, S1_DDL, NULL);
    rows got = {0}, want = {0};
    sqlt_run(&T, "DESCRIBE device_dimension", &got);
    rows_add(&want, "device_id|STRING|NOT NULL|PRIMARY KEY");
    rows_add(&want, "device_name|STRING||");
    rows_add(&want, "location|STRING||");
    rows_add(&want, "capacity_mw|DOUBLE||");
    rows_add(&want, "status|STRING||");
    rows_add(&want, "last_update|TIMESTAMP(3)||");
    rows_equal(&got, &want, "DESCRIBE device_dimension");
    rows_free(&got);
    rows_free(&want);
    /* its rows: the last write per key; a point lookup answers */
    sqlt_run(&T, "INSERT INTO device_dimension VALUES ('DEVICE_1', 'T1', 'Beijing', 120.5, 'ok', "
                 "TIMESTAMP '2025-01-13 14:00:00'), ('DEVICE_2', 'T2', 'Shanghai', 80, 'fault', "
                 "TIMESTAMP '2025-01-13 14:05:00')", NULL);
    sqlt_run(&T, "INSERT INTO device_dimension VALUES ('DEVICE_1', 'T1', 'Beijing', 121.5, 'ok', "
                 "TIMESTAMP '2025-01-13 14:10:00')", NULL);
    int64_t t1, t2;
    sql_parse_timestamp("2025-01-13 14:10:00", 19, &t1);
    sql_parse_timestamp("2025-01-13 14:05:00", 19, &t2);
    sqlt_run(&T, "SELECT * FROM device_dimension", &got);
    rows_addf(&want, "DEVICE_1|T1|Beijing|121.5|ok|%lld", (long long)t1);
    rows_addf(&want, "DEVICE_2|T2|Shanghai|80|fault|%lld", (long long)t2);
    rows_equal_sorted(&got, &want, "device_dimension rows");
    rows_free(&got);
    rows_free(&want);
}

/* ----------------------------------------------------------- statement 2 */

static void test_s2_window_join(void **state)
{
    (void)state;
    rows got = {0}, want = {0};
    sqlt_run(&T, S2_WINDOW_JOIN, &got);
    for (size_t i = 0; i < G.na; i++)
        for (size_t j = 0; j < G.ns; j++) {
            const arow *a = &G.a[i];
            const srow *s = &G.s[j];
            if (a->dev == s->dev && a->t >= s->t - 300000 && a->t <= s->t + 60000) {
                char n[24];
                dev_name(a->dev, n);
                rows_addf(&want, "A%04d|%s|%s|%.17g", a->id, n, STATUS[s->st], s->cap);
            }
        }
    assert_true(want.n > 20);
    rows_equal_sorted(&got, &want, "statement 2 (window join)");
    rows_free(&got);
    rows_free(&want);
}

/* ----------------------------------------------------------- statement 3 */

static void test_s3_lookup_join(void **state)
{
    (void)state;
    rows got = {0}, want = {0};
    sqlt_run(&T, S3_LOOKUP_JOIN, &got);
    for (size_t i = 0; i < G.na; i++) {
        const arow *a = &G.a[i];
        const drow *best = NULL;
        for (size_t j = 0; j < G.nd; j++)
            if (G.d[j].dev == a->dev && G.d[j].t <= a->t && (!best || G.d[j].t > best->t))
                best = &G.d[j];
        if (best) {
            char n[24];
            dev_name(a->dev, n);
            rows_addf(&want, "A%04d|%s|%s|%.17g|%lld", a->id, n, STATUS[best->st], best->cap,
                      (long long)best->maint);
        }
    }
    assert_true(want.n > 200 && want.n < G.na);   /* early alarms have no version yet */
    rows_equal_sorted(&got, &want, "statement 3 (lookup join, versioned dimension)");
    rows_free(&got);
    rows_free(&want);
}

/* ----------------------------------------------------------- statement 4 */

static int prow_desc(const void *x, const void *y)
{
    const prow *a = x, *b = y;
    return a->t < b->t ? 1 : a->t > b->t ? -1 : 0;
}

static void test_s4_time_travel(void **state)
{
    (void)state;
    rows got = {0}, want = {0};
    sqlt_run(&T, S4_TIME_TRAVEL, &got);
    int64_t T4 = G.w0 + 90 * 60000;                /* 2025-01-13 14:30:00 */
    prow *m = calloc(G.np, sizeof *m);
    size_t k = 0;
    for (size_t i = 0; i < G.np; i++)
        if (G.p[i].dev == 25 && G.p[i].t <= T4)
            m[k++] = G.p[i];
    qsort(m, k, sizeof *m, prow_desc);
    assert_true(k > 100);                          /* the LIMIT matters */
    for (size_t i = 0; i < k && i < 100; i++)
        rows_addf(&want, "DEVICE_12345|%.17g|%.17g|%.17g", m[i].v, m[i].c, m[i].temp);
    rows_equal(&got, &want, "statement 4 (time travel, newest first)");
    free(m);
    rows_free(&got);
    rows_free(&want);
    /* the plan: key history with the LIMIT pushed and the ORDER BY consumed */
    char eqp[1024];
    snprintf(eqp, sizeof eqp, "EXPLAIN QUERY PLAN %s", S4_TIME_TRAVEL + strlen("-- 时间旅行查询，瞬间获取历史数据\n"));
    sqlt_run(&T, eqp, &got);
    assert_int_equal(got.n, 1);
    if (!strstr(got.r[0], "INDEX 4:") || !strstr(got.r[0], "L!,") || strstr(got.r[0], "TEMP B-TREE"))
        fail_msg("statement 4 plan: %s", got.r[0]);
    rows_free(&got);
}

/* ----------------------------------------------------------- statement 5 */

static void test_s5_view_join(void **state)
{
    (void)state;
    size_t *st, *ln, n;
    assert_int_equal(sql_split(S5_VIEW_JOIN, strlen(S5_VIEW_JOIN), &st, &ln, &n), STROM_OK);
    assert_int_equal(n, 2);
    char *create = strndup(S5_VIEW_JOIN + st[0], ln[0]), *query = strndup(S5_VIEW_JOIN + st[1], ln[1]);
    rows got = {0}, want = {0};
    sqlt_run(&T, create, NULL);
    for (int pass = 0; pass < 2; pass++) {       /* the view survives a new session */
        sqlt_run(&T, query, &got);
        for (size_t i = 0; i < G.na; i++) {
            const arow *a = &G.a[i];
            const srow *best = NULL;
            for (size_t j = 0; j < G.ns; j++)
                if (G.s[j].dev == a->dev && G.s[j].t <= a->t && (!best || G.s[j].t > best->t))
                    best = &G.s[j];
            if (best) {
                char nm[24];
                dev_name(a->dev, nm);
                rows_addf(&want, "A%04d|%s|%s|%lld|%s|%.17g", a->id, nm, ATYPE[a->type], (long long)a->t,
                          STATUS[best->st], best->cap);
            }
        }
        assert_true(want.n > 200 && want.n < G.na);
        rows_equal_sorted(&got, &want, "statement 5 (temporal join through the view)");
        rows_free(&got);
        rows_free(&want);
        sqlt_reopen(&T);
        sqlt_run(&T, "SET 'table.local-time-zone' = 'Asia/Shanghai'", NULL);
        sql_session_set_now(T.s, G.w0 + 2 * 3600000 + 40 * 60000 - 8 * 3600000);
    }
    free(create);
    free(query);
    free(st);
    free(ln);
}

/* ----------------------------------------------------------- statement 6 */

static void test_s6_as_of_now(void **state)
{
    (void)state;
    rows got = {0}, want = {0};
    sqlt_run(&T, S6_AS_OF_NOW, &got);
    int64_t T6 = G.w0 + 100 * 60000;   /* Shanghai wall clock 15:40 - 1 h */
    for (size_t i = 0; i < G.np; i++) {
        int in = 0;
        for (int k = 0; k < G.ncur; k++)
            in |= G.cur_dev[k] == G.p[i].dev;
        if (in && G.p[i].t <= T6) {
            char n[24];
            dev_name(G.p[i].dev, n);
            rows_addf(&want, "%s|%.17g|%.17g|%.17g|%lld", n, G.p[i].v, G.p[i].c, G.p[i].temp,
                      (long long)G.p[i].t);
        }
    }
    assert_true(want.n > 300);
    rows_equal_sorted(&got, &want, "statement 6 (AS OF CURRENT_TIMESTAMP - 1 h, IN subquery)");
    rows_free(&got);
    rows_free(&want);
}

/* The plans of statements 3, 5 and 6: key reads inside, never a scan of the right side. */
static void plan_of(const char *stmt, const char *tab, const char *want)
{
    char q[2048];
    snprintf(q, sizeof q, "EXPLAIN QUERY PLAN %s", stmt);
    rows r = {0};
    sqlt_run(&T, q, &r);
    int ok = 0;
    char pat[128];
    snprintf(pat, sizeof pat, "SCAN %s VIRTUAL TABLE INDEX %s", tab, want);
    for (size_t i = 0; i < r.n; i++)
        ok |= strstr(r.r[i], pat) != NULL;
    if (!ok)
        fail_msg("plan of %s: want '%s' in:\n%s%s", stmt, pat, r.n ? r.r[0] : "", r.n > 1 ? r.r[1] : "");
    rows_free(&r);
}

static void test_plans(void **state)
{
    (void)state;
    plan_of(S3_LOOKUP_JOIN, "d", "1:");      /* AS OF lookup by primary key */
    plan_of(S5_VIEW_JOIN + strlen("-- 利用Fluss流表二元性\nCREATE VIEW device_status_view AS\n"
                                  "SELECT * FROM device_status_stream;\n"), "d", "4:");   /* key history n = 1 */
    plan_of(S6_AS_OF_NOW, "power_equipment_stream", "4:");   /* key history per device */
}

/* AS OF in FROM on the versioned primary-key table, with its key: the version at T. */
static void test_pk_as_of_in_from(void **state)
{
    (void)state;
    for (int dev = 0; dev < NDEV; dev += 7) {
        int64_t at = G.w0 + (int64_t)(rnd() % HOURS3);
        char n[24], sql[256];
        dev_name(dev, n);
        snprintf(sql, sizeof sql, "SELECT device_status, capacity, update_time FROM device_dimension_table "
                 "FOR SYSTEM_TIME AS OF %lld WHERE device_id = '%s'", (long long)at, n);
        rows got = {0}, want = {0};
        sqlt_run(&T, sql, &got);
        const drow *best = NULL;
        for (size_t j = 0; j < G.nd; j++)
            if (G.d[j].dev == dev && G.d[j].t <= at && (!best || G.d[j].t > best->t))
                best = &G.d[j];
        if (best)
            rows_addf(&want, "%s|%.17g|%lld", STATUS[best->st], best->cap, (long long)best->t);
        rows_equal(&got, &want, sql);
        rows_free(&got);
        rows_free(&want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s1_ddl),
        cmocka_unit_test(test_s2_window_join),
        cmocka_unit_test(test_s3_lookup_join),
        cmocka_unit_test(test_s4_time_travel),
        cmocka_unit_test(test_s5_view_join),
        cmocka_unit_test(test_s6_as_of_now),
        cmocka_unit_test(test_plans),
        cmocka_unit_test(test_pk_as_of_in_from),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
