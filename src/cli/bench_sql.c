/* bench_sql.c: `strom bench sql`: SQL over strom tables (src/sql) on generated grid data,
 * in-process, batch mode. Method and figures: bench/README.md.
 *   time_travel_p50_ms/p99_ms  the seed's statement 4 (newest 100 readings of a random device
 *                              at a random time) over `rows` readings, through the session
 *                              (translate + prepare + run), every answer checked
 *   scan_agg_rows_per_s        GROUP BY device over the middle half of the time range of
 *                              `agg_rows` readings (strom table through the virtual table)
 *   scan_agg_vs_sqlite_native  the same statement on a native SQLite table (on-disk file)
 *                              holding the same rows with an index on (device_id,
 *                              event_time): strom rate / native rate; the answers must match
 *   lookup_join_batch_alarms_per_s  the seed's statement 3 in batch mode: alarms enriched
 *                              per second by the versioned dimension (AS OF lookups)
 *   lookup_join_alarms_per_s, lookup_join_p50_ms, lookup_join_p99_ms  statement 3 as a
 *                              streaming query in a server: enriched alarms per second,
 *                              and the delay from append to result row (bench_sql_stream.c) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sql/engine.h"

typedef struct sqlb {
    bench_opts o;
    char dir[512];
    int64_t rows, agg_rows, devices, alarms, t0;
    strom_db *db;
    sql_session *s;
    double tt_p50, tt_p99, eng_p50, eng_p99, agg_rate, native_rate, join_rate, load_s;
    bench_stream_result stream;
    int64_t tt_queries, agg_in_range;
} sqlb;

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int run_sql(sqlb *b, const char *sql)
{
    sqlite3_stmt *st = NULL;
    strom_err e = sql_session_run(b->s, sql, strlen(sql), &st);
    while (e == STROM_OK && st && sqlite3_step(st) == SQLITE_ROW) {
    }
    sqlite3_finalize(st);
    return e == STROM_OK ? CLI_OK : cli_fail(e, sql);
}

/* Reading i: device i % devices at 1 Hz from t0; 1% arrive up to 30 s late. */
static void reading(const sqlb *b, int64_t i, int *dev, int64_t *t)
{
    *dev = (int)(i % b->devices);
    *t = b->t0 + i / b->devices * 1000 + *dev % 1000;
    if (rnd() % 100 == 0)
        *t -= (int64_t)(rnd() % 30000);
}

static void dev_name(int dev, char *buf) { snprintf(buf, 24, "DEVICE_%06d", dev % 1000000); }

/* Appends n readings to table (and, when nat != NULL, inserts them into the native one). */
static int load_readings(sqlb *b, const char *table, int64_t n, sqlite3_stmt *nat)
{
    strom_table *t;
    strom_err e = strom_table_open(b->db, table, &t);
    if (e != STROM_OK)
        return cli_fail(e, table);
    strom_builder *bl = strom_builder_create(strom_table_schema(t));
    for (int64_t i = 0; i < n && e == STROM_OK; i++) {
        int dev;
        int64_t ts;
        char name[24];
        reading(b, i, &dev, &ts);
        dev_name(dev, name);
        double v = 10 + (double)(rnd() % 1400) / 1000, c = (double)(rnd() % 4000) / 10,
               temp = 20 + (double)(rnd() % 500) / 10;
        strom_builder_put_str(bl, 0, name, strlen(name));
        strom_builder_put_f64(bl, 1, v);
        strom_builder_put_f64(bl, 2, c);
        strom_builder_put_f64(bl, 3, temp);
        strom_builder_put_int(bl, 4, ts);
        e = strom_builder_end_row(bl);
        if (nat) {
            sqlite3_bind_text(nat, 1, name, -1, SQLITE_TRANSIENT);
            sqlite3_bind_double(nat, 2, v);
            sqlite3_bind_double(nat, 3, c);
            sqlite3_bind_double(nat, 4, temp);
            sqlite3_bind_int64(nat, 5, ts);
            if (sqlite3_step(nat) != SQLITE_DONE)
                e = strom_fail(STROM_EIO, "native insert: %s", sqlite3_errmsg(sqlite3_db_handle(nat)));
            sqlite3_reset(nat);
        }
        if (e == STROM_OK && (strom_builder_nrows(bl) == 8192 || i + 1 == n)) {
            e = strom_table_append(t, bl, NULL);
            strom_builder_reset(bl);
        }
    }
    strom_builder_destroy(bl);
    strom_table_close(t);
    return e == STROM_OK ? CLI_OK : cli_fail(e, table);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Statement 4 with random devices and times; each answer has 100 rows (T is late enough). */
static int time_travel(sqlb *b)
{
    int64_t q = b->o.quick ? 200 : 500, span = b->rows / b->devices * 1000;
    double *ms = malloc((size_t)q * sizeof *ms), *eng = malloc((size_t)q * sizeof *eng);
    strom_table *t = NULL;
    int rc = ms && eng ? CLI_OK : cli_errorf("out of memory");
    strom_err te = strom_table_open(b->db, "power_equipment_stream", &t);
    if (te != STROM_OK)
        rc = cli_fail(te, "power_equipment_stream");
    for (int64_t i = 0; i < q && rc == CLI_OK; i++) {
        char name[24], when[32], sql[512];
        dev_name((int)(rnd() % (uint64_t)b->devices), name);
        sql_format_time(b->t0 + 200000 + (int64_t)(rnd() % (uint64_t)(span - 200000)), when);
        snprintf(sql, sizeof sql, "SELECT device_id, voltage, current, temperature\n"
                 "FROM power_equipment_stream \nFOR SYSTEM_TIME AS OF TIMESTAMP '%s'\n"
                 "WHERE device_id = '%s'\nORDER BY event_time DESC\nLIMIT 100;", when, name);
        double t0 = cli_now();
        sqlite3_stmt *st = NULL;
        strom_err e = sql_session_run(b->s, sql, strlen(sql), &st);
        int n = 0, bad = 0;
        while (e == STROM_OK && sqlite3_step(st) == SQLITE_ROW)
            bad |= strcmp((const char *)sqlite3_column_text(st, 0), name) != 0, n++;
        sqlite3_finalize(st);
        ms[i] = (cli_now() - t0) * 1000;
        if (e != STROM_OK)
            rc = cli_fail(e, "time travel");
        else if (n != 100 || bad)
            rc = cli_errorf("time travel for %s at %s: %d rows%s, want 100", name, when, n,
                            bad ? " of another device" : "");
        /* the same read through the engine alone: the SQL layer's share */
        static const char *const cols[] = {"device_id", "voltage", "current", "temperature"};
        strom_value key = {.type = STROM_STRING, .v.s = {name, strlen(name)}};
        int64_t at = 0;
        sql_parse_timestamp(when, strlen(when), &at);
        strom_batch *hb = NULL;
        t0 = cli_now();
        te = rc == CLI_OK ? strom_table_key_history(t, &key, 1, at, 100, cols, 4, &hb) : STROM_OK;
        eng[i] = (cli_now() - t0) * 1000;
        if (te != STROM_OK || (hb && strom_batch_nrows(hb) != 100))
            rc = cli_errorf("engine key history for %s: %s", name, strom_errmsg());
        strom_batch_destroy(hb);
    }
    if (rc == CLI_OK) {
        qsort(eng, (size_t)q, sizeof *eng, cmp_double);
        b->eng_p50 = eng[q / 2];
        b->eng_p99 = eng[(q * 99) / 100];
    }
    free(eng);
    strom_table_close(t);
    if (rc == CLI_OK) {
        qsort(ms, (size_t)q, sizeof *ms, cmp_double);
        b->tt_p50 = ms[q / 2];
        b->tt_p99 = ms[(q * 99) / 100];
        b->tt_queries = q;
    }
    free(ms);
    return rc;
}

/* The aggregate's text on table over [lo, hi], after prefix (e.g. EXPLAIN QUERY PLAN). */
static void agg_sql(char *sql, size_t cap, const char *prefix, const char *table, int64_t lo, int64_t hi)
{
    snprintf(sql, cap, "%sSELECT device_id, count(*), sum(voltage), max(current) FROM %s "
             "WHERE event_time BETWEEN %lld AND %lld GROUP BY device_id", prefix, table, (long long)lo,
             (long long)hi);
}

/* Runs the aggregate on db; *rate = rows in range / s; *sum folds the answer. */
static int aggregate(sqlite3 *db, const char *table, int64_t lo, int64_t hi, int64_t in_range,
                     double *rate, double *sum, int64_t *groups)
{
    char sql[512];
    agg_sql(sql, sizeof sql, "", table, lo, hi);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return cli_errorf("%s: %s", sql, sqlite3_errmsg(db));
    double t0 = cli_now();
    *sum = 0;
    *groups = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *sum += (double)sqlite3_column_int64(st, 1) + sqlite3_column_double(st, 2) + sqlite3_column_double(st, 3);
        ++*groups;
    }
    double s = cli_now() - t0;
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return cli_errorf("%s: %s", sql, sqlite3_errmsg(db));
    *rate = (double)in_range / s;
    return CLI_OK;
}

/* Prints SQLite's plan of the aggregate on db (one line per step). */
static void agg_plan(sqlite3 *db, const char *table, int64_t lo, int64_t hi)
{
    char sql[512];
    agg_sql(sql, sizeof sql, "EXPLAIN QUERY PLAN ", table, lo, hi);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return;
    while (sqlite3_step(st) == SQLITE_ROW)
        printf("scan_agg plan (%s): %s\n", table, (const char *)sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
}

static int scan_agg(sqlb *b, sqlite3 *nat)
{
    int64_t span = b->agg_rows / b->devices * 1000;
    int64_t lo = b->t0 + span / 4, hi = b->t0 + 3 * span / 4;
    sqlite3_stmt *st = NULL;
    char q[256];
    snprintf(q, sizeof q, "SELECT count(*) FROM n_agg WHERE event_time BETWEEN %lld AND %lld",
             (long long)lo, (long long)hi);
    if (sqlite3_prepare_v2(nat, q, -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
        return cli_errorf("native count: %s", sqlite3_errmsg(nat));
    b->agg_in_range = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    agg_plan(sql_session_db(b->s), "agg_stream", lo, hi);
    agg_plan(nat, "n_agg", lo, hi);
    double s1 = 0, s2 = 0, r;
    int64_t g1 = 0, g2 = 0;
    int rc = CLI_OK;
    b->agg_rate = b->native_rate = 0;
    for (int rep = 0; rep < 3 && rc == CLI_OK; rep++) {     /* best of 3, warm */
        rc = aggregate(sql_session_db(b->s), "agg_stream", lo, hi, b->agg_in_range, &r, &s1, &g1);
        b->agg_rate = r > b->agg_rate ? r : b->agg_rate;
        if (rc == CLI_OK)
            rc = aggregate(nat, "n_agg", lo, hi, b->agg_in_range, &r, &s2, &g2);
        b->native_rate = r > b->native_rate ? r : b->native_rate;
    }
    if (rc == CLI_OK && (g1 != g2 || fabs(s1 - s2) > 1e-9 * fabs(s2)))
        rc = cli_errorf("scan_agg: strom and native SQLite disagree (%lld/%lld groups, %.10g/%.10g)",
                        (long long)g1, (long long)g2, s1, s2);
    return rc;
}

/* Statement 3, batch: alarms x the versioned dimension (5 versions per device). */
static int lookup_join(sqlb *b)
{
    int rc = run_sql(b, "CREATE TABLE alarm_stream (alarm_id STRING, device_id STRING, event_time TIMESTAMP(3), "
                        "WATERMARK FOR event_time AS event_time) WITH ('bucket.num' = '2', 'bucket.key' = 'device_id')");
    if (rc == CLI_OK)
        rc = run_sql(b, "CREATE TABLE device_dimension_table (device_id STRING, device_status STRING, "
                        "capacity DOUBLE, last_maintenance TIMESTAMP(3), update_time TIMESTAMP(3), "
                        "PRIMARY KEY (device_id) NOT ENFORCED, WATERMARK FOR update_time AS update_time) "
                        "WITH ('bucket.num' = '2')");
    strom_table *dt = NULL, *at = NULL;
    strom_err e = rc == CLI_OK ? strom_table_open(b->db, "device_dimension_table", &dt) : STROM_OK;
    if (e == STROM_OK && rc == CLI_OK)
        e = strom_table_open(b->db, "alarm_stream", &at);
    strom_builder *db = e == STROM_OK && dt ? strom_builder_create(strom_table_schema(dt)) : NULL;
    strom_builder *ab = e == STROM_OK && at ? strom_builder_create(strom_table_schema(at)) : NULL;
    int64_t span = b->rows / b->devices * 1000;
    for (int v = 0; v < 5 && db && ab && e == STROM_OK; v++) {
        for (int64_t d = 0; d < b->devices && e == STROM_OK; d++) {
            char name[24];
            dev_name((int)d, name);
            strom_builder_put_str(db, 0, name, strlen(name));
            strom_builder_put_str(db, 1, v % 2 ? "normal" : "overload", v % 2 ? 6 : 8);
            strom_builder_put_f64(db, 2, (double)(rnd() % 5000) / 10);
            strom_builder_put_int(db, 3, b->t0 - 86400000);
            strom_builder_put_int(db, 4, b->t0 + v * span / 5 + d % 1000);
            e = strom_builder_end_row(db);
            if (e == STROM_OK && strom_builder_nrows(db) == 8192) {
                e = strom_table_upsert(dt, db);
                strom_builder_reset(db);
            }
        }
    }
    if (e == STROM_OK && db && strom_builder_nrows(db))
        e = strom_table_upsert(dt, db);
    for (int64_t i = 0; i < b->alarms && ab && e == STROM_OK; i++) {
        char id[24], name[24];
        snprintf(id, sizeof id, "A%08lld", (long long)i);
        dev_name((int)(rnd() % (uint64_t)b->devices), name);
        strom_builder_put_str(ab, 0, id, strlen(id));
        strom_builder_put_str(ab, 1, name, strlen(name));
        strom_builder_put_int(ab, 2, b->t0 + (int64_t)(rnd() % (uint64_t)span));
        e = strom_builder_end_row(ab);
        if (e == STROM_OK && (strom_builder_nrows(ab) == 8192 || i + 1 == b->alarms)) {
            e = strom_table_append(at, ab, NULL);
            strom_builder_reset(ab);
        }
    }
    strom_builder_destroy(db);
    strom_builder_destroy(ab);
    strom_table_close(dt);
    strom_table_close(at);
    if (rc != CLI_OK || e != STROM_OK)
        return rc != CLI_OK ? rc : cli_fail(e, "lookup join data");
    const char *q = "SELECT a.alarm_id, a.device_id, d.device_status, d.capacity, d.last_maintenance\n"
                    "FROM alarm_stream a\n"
                    "JOIN device_dimension_table FOR SYSTEM_TIME AS OF a.event_time AS d\n"
                    "ON a.device_id = d.device_id\n";
    double t0 = cli_now();
    sqlite3_stmt *st = NULL;
    e = sql_session_run(b->s, q, strlen(q), &st);
    int64_t n = 0;
    while (e == STROM_OK && sqlite3_step(st) == SQLITE_ROW)
        n++;
    sqlite3_finalize(st);
    if (e != STROM_OK)
        return cli_fail(e, "lookup join");
    b->join_rate = (double)b->alarms / (cli_now() - t0);
    printf("lookup join: %lld of %lld alarms had a version at their time\n", (long long)n, (long long)b->alarms);
    return CLI_OK;
}

static int setup_tables(sqlb *b, sqlite3 **nat)
{
    int rc = run_sql(b, "CREATE TABLE power_equipment_stream (device_id STRING, voltage DOUBLE, current DOUBLE, "
                        "temperature DOUBLE, event_time TIMESTAMP(3), WATERMARK FOR event_time AS event_time - "
                        "INTERVAL '5' SECOND) WITH ('bucket.num' = '2', 'bucket.key' = 'device_id', "
                        "'table.log.index.key' = 'device_id')");
    if (rc == CLI_OK)
        rc = run_sql(b, "CREATE TABLE agg_stream (device_id STRING, voltage DOUBLE, current DOUBLE, "
                        "temperature DOUBLE, event_time TIMESTAMP(3), WATERMARK FOR event_time AS event_time) "
                        "WITH ('bucket.num' = '2', 'bucket.key' = 'device_id')");
    char path[600];
    snprintf(path, sizeof path, "%s/native.sqlite", b->dir);
    if (rc == CLI_OK && sqlite3_open(path, nat) != SQLITE_OK)
        rc = cli_errorf("cannot open %s", path);
    if (rc == CLI_OK &&
        sqlite3_exec(*nat, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;"
                           "CREATE TABLE n_agg (device_id TEXT, voltage REAL, current REAL, temperature REAL, "
                           "event_time INTEGER); BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        rc = cli_errorf("native table: %s", sqlite3_errmsg(*nat));
    return rc;
}

static int load_all(sqlb *b, sqlite3 *nat)
{
    double t0 = cli_now();
    int rc = load_readings(b, "power_equipment_stream", b->rows, NULL);
    sqlite3_stmt *ins = NULL;
    if (rc == CLI_OK && sqlite3_prepare_v2(nat, "INSERT INTO n_agg VALUES (?, ?, ?, ?, ?)", -1, &ins, NULL) != SQLITE_OK)
        rc = cli_errorf("native insert: %s", sqlite3_errmsg(nat));
    rng_state = 0x2545F4914F6CDD1DULL;
    if (rc == CLI_OK)
        rc = load_readings(b, "agg_stream", b->agg_rows, ins);
    sqlite3_finalize(ins);
    if (rc == CLI_OK && sqlite3_exec(nat, "COMMIT; CREATE INDEX n_agg_dev_time ON n_agg (device_id, event_time); "
                                          "ANALYZE", NULL, NULL, NULL) != SQLITE_OK)
        rc = cli_errorf("native index: %s", sqlite3_errmsg(nat));
    b->load_s = cli_now() - t0;
    return rc;
}

static void report(const sqlb *b)
{
    char r[32], a[32];
    double ratio = b->agg_rate / b->native_rate;
    printf("\n%-28s %14s\n", "metric", "value");
    printf("%-28s %14.3f  (floor <= 10: %s)\n", "time_travel_p50_ms", b->tt_p50, b->tt_p50 <= 10 ? "pass" : "FAIL");
    printf("%-28s %14.3f  (floor <= 10: %s)\n", "time_travel_p99_ms", b->tt_p99, b->tt_p99 <= 10 ? "pass" : "FAIL");
    printf("%-28s %14.3f\n", "engine_key_history_p50_ms", b->eng_p50);
    printf("%-28s %14.3f\n", "engine_key_history_p99_ms", b->eng_p99);
    printf("%-28s %14.0f\n", "scan_agg_rows_per_s", b->agg_rate);
    printf("%-28s %14.0f\n", "sqlite_native_rows_per_s", b->native_rate);
    printf("%-28s %14.3f  (floor >= 1.0: %s)\n", "scan_agg_vs_sqlite_native", ratio, ratio >= 1.0 ? "pass" : "FAIL");
    printf("%-28s %14.0f\n", "lookup_join_batch_alarms_per_s", b->join_rate);
    printf("%-28s %14.0f  (streaming, in a server)\n", "lookup_join_alarms_per_s", b->stream.alarms_per_s);
    printf("%-28s %14.3f\n", "lookup_join_p50_ms", b->stream.p50_ms);
    printf("%-28s %14.3f  (floor <= 2: %s)\n", "lookup_join_p99_ms", b->stream.p99_ms,
           b->stream.p99_ms <= 2 ? "pass" : "FAIL");
    printf("(%s readings for time travel, %s for the aggregate; warm page cache; best of 3 for the "
           "aggregates)\n", cli_group(b->rows, r), cli_group(b->agg_rows, a));
    if (b->rows < 50000000)
        printf("(the issue asks time travel over >= 50,000,000 rows: this run has fewer)\n");
    if (b->o.json)
        printf("{\"bench\":\"sql\",\"quick\":%s,\"rows\":%lld,\"agg_rows\":%lld,\"devices\":%lld,"
               "\"time_travel_p50_ms\":%.3f,\"time_travel_p99_ms\":%.3f,\"time_travel_queries\":%lld,"
               "\"engine_key_history_p50_ms\":%.3f,\"engine_key_history_p99_ms\":%.3f,"
               "\"scan_agg_rows_per_s\":%.0f,\"sqlite_native_rows_per_s\":%.0f,"
               "\"scan_agg_vs_sqlite_native\":%.3f,\"lookup_join_batch_alarms_per_s\":%.0f,"
               "\"lookup_join_alarms_per_s\":%.0f,\"lookup_join_p50_ms\":%.3f,\"lookup_join_p99_ms\":%.3f,"
               "\"lookup_join_latency_alarms\":%lld,\"lookup_join_rate_alarms\":%lld,"
               "\"load_s\":%.1f,\"warm_cache\":true}\n",
               b->o.quick ? "true" : "false", (long long)b->rows, (long long)b->agg_rows,
               (long long)b->devices, b->tt_p50, b->tt_p99, (long long)b->tt_queries, b->eng_p50, b->eng_p99, b->agg_rate,
               b->native_rate, ratio, b->join_rate, b->stream.alarms_per_s, b->stream.p50_ms,
               b->stream.p99_ms, (long long)b->stream.latency_alarms, (long long)b->stream.rate_alarms,
               b->load_s);
}

int bench_sql(const bench_opts *o)
{
    sqlb b = {.o = *o};
    b.rows = o->rows ? o->rows : o->quick ? 2000000 : 50000000;
    b.devices = o->devices ? o->devices : o->quick ? 4000 : 100000;
    b.agg_rows = b.rows < 5000000 ? b.rows : 5000000;
    b.alarms = o->quick ? 20000 : 200000;
    if (b.rows / b.devices < 400)
        return fprintf(stderr, "strom: bench sql needs >= 400 readings per device (--rows / --devices)\n"),
               CLI_USAGE;
    sql_parse_timestamp("2025-01-13 00:00:00", 19, &b.t0);
    if (cli_mktemp_dir(o->dir, "strom-bench-sql-", b.dir, sizeof b.dir))
        return cli_errorf("cannot create a directory under %s", o->dir);
    printf("strom bench sql%s: %lld readings of %lld devices, data in %s\n", o->quick ? " --quick" : "",
           (long long)b.rows, (long long)b.devices, b.dir);
    fflush(stdout);
    sqlite3 *nat = NULL;
    strom_err e = strom_db_open(b.dir, &b.db);
    if (e == STROM_OK)
        e = sql_session_open(b.db, &b.s);
    int rc = e == STROM_OK ? setup_tables(&b, &nat) : cli_fail(e, "open");
    if (rc == CLI_OK)
        rc = load_all(&b, nat);
    if (rc == CLI_OK)
        printf("loaded in %.1f s\n", b.load_s), fflush(stdout);
    if (rc == CLI_OK)
        rc = time_travel(&b);
    if (rc == CLI_OK)
        rc = scan_agg(&b, nat);
    if (rc == CLI_OK)
        rc = lookup_join(&b);
    if (rc == CLI_OK)
        printf("streaming lookup join in a server...\n"), fflush(stdout);
    if (rc == CLI_OK)
        rc = bench_sql_stream(b.dir, o->quick, b.devices, &b.stream);
    if (rc == CLI_OK)
        report(&b);
    sqlite3_close(nat);
    sql_session_close(b.s);
    strom_db_close(b.db);
    if (!o->keep)
        cli_rmtree(b.dir);
    if (rc == CLI_OK && (b.tt_p99 > 10 || b.agg_rate < b.native_rate) && !o->quick)
        rc = CLI_ERR;
    return rc;
}
