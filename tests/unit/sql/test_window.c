/* test_window.c: windowed aggregates (src/sql/window.c, wstream.c) against answers
 * computed here from the generated rows:
 *   - batch: TUMBLE, HOP and CUMULATE window TVFs, the legacy GROUP BY TUMBLE / HOP with
 *     TUMBLE_START / HOP_END, against the windows of each row by their definitions;
 *   - streaming (in process: the stream's first idle ends the statement): the windows the
 *     watermark has closed, each with the rows that came before it closed, late rows
 *     dropped and counted, simulated here row by row in arrival order; a bucket with no
 *     rows yet holds the watermark (its first rows, appended after another bucket's later
 *     ones, are in their windows) until 'table.watermark.idle-ms' of event time;
 *   - a windowed job into a log table (its sink hooks faked): the windows are handed over
 *     one end at a time, each end with exactly the model's windows of that end;
 *   - bad input: errors name line and column. */
#include "sqlt.h"

#define NROWS 700
#define BASE 1736776800000LL          /* 2025-01-13 14:00:00 */
#define DELAY 1000

typedef struct row {
    int dev;
    int64_t v, ts;
} row;

static row R[NROWS];

/* Rows in one INSERT (one batch: arrival order = this order), times mostly rising with
 * a fifth of them up to 60 s back (late against a 1 s delay some of the time), and a jump
 * of 150 s half way (the watermark then closes several windows' ends at once). */
static void load(sqlt *t)
{
    sqlt_run(t, "CREATE TABLE pe (device_id STRING, v BIGINT, event_time TIMESTAMP(3), WATERMARK FOR event_time "
                "AS event_time - INTERVAL '1' SECOND) WITH ('bucket.num' = '1')", NULL);
    static char sql[NROWS * 64 + 64];
    int w = snprintf(sql, sizeof sql, "INSERT INTO pe VALUES ");
    for (int i = 0; i < NROWS; i++) {
        R[i].dev = (int)(rnd() % 4);
        R[i].v = (int64_t)(rnd() % 1000);
        R[i].ts = BASE + 1000LL * i + (i >= NROWS / 2 ? 150000 : 0) - (rnd() % 5 == 0 ? (int64_t)(rnd() % 60000) : 0);
        w += snprintf(sql + w, sizeof sql - (size_t)w, "%s('D%d', %lld, %lld)", i ? ", " : "", R[i].dev,
                      (long long)R[i].v, (long long)R[i].ts);
    }
    sqlt_run(t, sql, NULL);
}

/* The windows [s, e) holding time ts, by their definitions: HOP / TUMBLE every
 * [s, s + size) with s a multiple of slide; CUMULATE (cum) every [s, s + j slide) with s
 * the multiple of size at or before ts, j = 1 .. size / slide. */
static int windows_of(int64_t ts, int64_t size, int64_t slide, int cum, int64_t *s, int64_t *e)
{
    int n = 0;
    if (cum) {
        int64_t s0 = ts - ts % size;
        for (int64_t j = 1; j <= size / slide; j++)
            if (s0 + j * slide > ts)
                s[n] = s0, e[n++] = s0 + j * slide;
        return n;
    }
    for (int64_t a = ts - ts % slide; a > ts - size; a -= slide)
        s[n] = a, e[n++] = a + size;
    return n;
}

/* The windows of rows with keep[i] (NULL: all) as "start|end|Ddev|count|sum" rows; only
 * windows ending in (lo, hi]. */
static void expect(int64_t size, int64_t slide, int cum, const uint8_t *keep, int64_t lo, int64_t hi, rows *out)
{
    static int64_t st[NROWS * 8], en[NROWS * 8], n[NROWS * 8], sum[NROWS * 8];
    static int dev[NROWS * 8];
    int k = 0;
    for (int i = 0; i < NROWS; i++) {
        if (keep && !keep[i])
            continue;
        int64_t ws[64], we[64];
        int nw = windows_of(R[i].ts, size, slide, cum, ws, we);
        for (int w = 0; w < nw; w++) {
            if (we[w] <= lo || we[w] > hi)
                continue;
            int j = 0;
            while (j < k && !(st[j] == ws[w] && en[j] == we[w] && dev[j] == R[i].dev))
                j++;
            if (j == k)
                st[k] = ws[w], en[k] = we[w], dev[k] = R[i].dev, n[k] = 0, sum[k++] = 0;
            n[j]++, sum[j] += R[i].v;
        }
    }
    for (int j = 0; j < k; j++)
        rows_addf(out, "%lld|%lld|D%d|%lld|%lld", (long long)st[j], (long long)en[j], dev[j], (long long)n[j],
                  (long long)sum[j]);
}

static void test_batch(void **state)
{
    (void)state;
    sqlt t;
    sqlt_open(&t, "window");
    load(&t);
    rows got = {0}, want = {0};
    sqlt_run(&t, "SELECT window_start, window_end, device_id, count(*), sum(v) FROM TABLE(TUMBLE(TABLE pe, "
                 "DESCRIPTOR(event_time), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end, device_id", &got);
    expect(60000, 60000, 0, NULL, INT64_MIN, INT64_MAX, &want);
    rows_equal_sorted(&got, &want, "TUMBLE");
    rows_free(&got);
    sqlt_run(&t, "SELECT TUMBLE_START(event_time, INTERVAL '1' MINUTE) AS s, TUMBLE_END(event_time, INTERVAL '1' "
                 "MINUTE), device_id, count(*), sum(v) FROM pe "
                 "GROUP BY TUMBLE(event_time, INTERVAL '1' MINUTE), device_id", &got);
    rows_equal_sorted(&got, &want, "legacy TUMBLE");
    sqlite3_stmt *st = NULL;                   /* window_start prints as a time */
    const char *q = "SELECT window_start, count(*) FROM TABLE(TUMBLE(TABLE pe, DESCRIPTOR(event_time), INTERVAL '1' "
                    "MINUTE)) GROUP BY window_start";
    assert_int_equal(sql_session_run(t.s, q, strlen(q), &st), STROM_OK);
    assert_string_equal(sqlite3_column_decltype(st, 0), "TIMESTAMP");
    sqlite3_finalize(st);
    rows_free(&got);
    rows_free(&want);
    sqlt_run(&t, "SELECT w.window_start, w.window_end, w.device_id, count(*), sum(w.v) FROM TABLE(HOP(TABLE pe, DESCRIPTOR(event_time), "
                 "INTERVAL '20' SECOND, INTERVAL '1' MINUTE)) AS w GROUP BY w.window_start, w.window_end, w.device_id",
             &got);
    expect(60000, 20000, 0, NULL, INT64_MIN, INT64_MAX, &want);
    rows_equal_sorted(&got, &want, "HOP");
    rows_free(&got);
    sqlt_run(&t, "SELECT HOP_END(p.event_time, INTERVAL '20' SECOND, INTERVAL '1' MINUTE) - 60000, HOP_END(p.event_time, "
                 "INTERVAL '20' SECOND, INTERVAL '1' MINUTE), device_id, count(*), "
                 "sum(v) FROM pe AS p GROUP BY HOP(p.event_time, INTERVAL '20' SECOND, INTERVAL '1' MINUTE), device_id",
             &got);
    rows_equal_sorted(&got, &want, "legacy HOP");
    rows_free(&got);
    rows_free(&want);
    sqlt_run(&t, "SELECT window_start, window_end, device_id, count(*), sum(v) FROM TABLE(CUMULATE(TABLE pe, "
                 "DESCRIPTOR(event_time), INTERVAL '15' SECOND, INTERVAL '1' MINUTE)) GROUP BY window_start, "
                 "window_end, device_id", &got);
    expect(60000, 15000, 1, NULL, INT64_MIN, INT64_MAX, &want);
    rows_equal_sorted(&got, &want, "CUMULATE");
    rows_free(&got);
    rows_free(&want);
    /* window_time is window_end - 1 ms; each row is in size/step windows at most */
    sqlt_run(&t, "SELECT count(*), sum(window_time = window_end - 1), max(window_end - window_start) FROM "
                 "TABLE(CUMULATE(TABLE pe, DESCRIPTOR(event_time), INTERVAL '20' SECOND, INTERVAL '1' MINUTE))",
             &got);
    int64_t ws[64], we[64], nw = 0;
    for (int i = 0; i < NROWS; i++)
        nw += windows_of(R[i].ts, 60000, 20000, 1, ws, we);
    rows_addf(&want, "%lld|%lld|60000", (long long)nw, (long long)nw);
    rows_equal_sorted(&got, &want, "CUMULATE window_time");
    rows_free(&got);
    rows_free(&want);
    sqlt_close(&t);
}

static void idle_stop(void *arg) { sql_session_interrupt(arg); }

/* The streaming window (size, slide, cum) of query over pe against the model: rows in
 * arrival order; a row is late when every window it is in has closed; windows close when
 * max time - delay reaches their last millisecond. */
static void model_stream(int64_t size, int64_t slide, int cum, rows *want, int64_t *closed_out, int64_t *late_out)
{
    static uint8_t kept[NROWS];
    int64_t max = INT64_MIN, closed = INT64_MIN, late = 0;
    for (int i = 0; i < NROWS; i++) {
        int64_t ws[64], we[64];
        int nw = windows_of(R[i].ts, size, slide, cum, ws, we);
        int64_t last = INT64_MIN;
        for (int w = 0; w < nw; w++)
            last = we[w] > last ? we[w] : last;
        kept[i] = closed == INT64_MIN || last > closed;          /* a window still open */
        late += !kept[i];
        if (!kept[i])
            continue;
        max = R[i].ts > max ? R[i].ts : max;
        int64_t a = max - DELAY + 1, end = (a / slide - (a % slide && a < 0)) * slide;
        if (end > closed) {
            uint8_t upto[NROWS] = {0};
            memcpy(upto, kept, (size_t)i + 1);
            expect(size, slide, cum, upto, closed, end, want);
            closed = end;
        }
    }
    *closed_out = closed;
    *late_out = late;
}

static void check_streaming(sqlt *t, int64_t size, int64_t slide, int cum, const char *q, const char *what)
{
    int64_t closed, late;
    rows want = {0};
    model_stream(size, slide, cum, &want, &closed, &late);
    assert_true(late > 0);                      /* the data has late rows */
    assert_int_equal(sql_session_set(t->s, "execution.runtime-mode", "streaming"), STROM_OK);
    sql_session_set_idle(t->s, idle_stop, t->s);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sql_session_run(t->s, q, strlen(q), &st), STROM_OK);
    rows got = {0};
    char buf[256];
    while (sqlite3_step(st) == SQLITE_ROW) {
        row_text(st, buf, sizeof buf);
        rows_add(&got, buf);
    }
    int64_t wclosed = 0, wlate = 0;
    assert_true(sql_session_window(t->s, &wclosed, &wlate));
    assert_int_equal(wlate, late);
    assert_int_equal(wclosed, closed);
    sqlite3_finalize(st);
    rows_equal_sorted(&got, &want, what);
    rows_free(&got);
    rows_free(&want);
    sql_session_set_idle(t->s, NULL, NULL);
    assert_int_equal(sql_session_set(t->s, "execution.runtime-mode", "batch"), STROM_OK);
}

static void test_streaming(void **state)
{
    (void)state;
    sqlt t;
    sqlt_open(&t, "wstream");
    load(&t);
    check_streaming(&t, 60000, 30000, 0, "SELECT window_start, window_end, device_id, count(*), sum(v) FROM "
                    "TABLE(HOP(TABLE pe, DESCRIPTOR(event_time), INTERVAL '30' SECOND, INTERVAL '1' MINUTE)) "
                    "GROUP BY window_start, window_end, device_id", "streaming HOP");
    check_streaming(&t, 60000, 20000, 1, "SELECT window_start, window_end, device_id, count(*), sum(v) FROM "
                    "TABLE(CUMULATE(TABLE pe, DESCRIPTOR(event_time), INTERVAL '20' SECOND, INTERVAL '1' MINUTE)) "
                    "GROUP BY window_start, window_end, device_id", "streaming CUMULATE");
    check_streaming(&t, 40000, 10000, 1, "SELECT window_start, window_end, device_id, count(*), sum(v) FROM "
                    "TABLE(CUMULATE(TABLE pe, DESCRIPTOR(event_time), INTERVAL '10' SECOND, INTERVAL '40' SECOND)) "
                    "GROUP BY window_start, window_end, device_id", "streaming CUMULATE 10 s / 40 s");
    assert_int_equal(sql_session_set(t.s, "execution.runtime-mode", "streaming"), STROM_OK);
    sqlt_fails(&t, "SELECT device_id, count(*) FROM pe GROUP BY device_id", "without a window");
    sqlt_close(&t);
}

/* ---- a windowed job into a log table: its windows closed one end at a time */

typedef struct ends {
    strom_builder *b;
    int64_t end[4096], n[4096];
    int k;
} ends;

static strom_builder *ends_rows(void *arg, strom_table *sink, int src_bucket)
{
    (void)src_bucket;
    ends *r = arg;
    if (!r->b)
        r->b = strom_builder_create(strom_table_schema(sink));
    return r->b;
}

static strom_err ends_batch_end(void *arg, int src_bucket, int64_t next)
{
    (void)arg, (void)src_bucket, (void)next;
    return STROM_OK;
}

/* sql_job_sink.window_end: the rows given since the last end (ends with rows only). */
static strom_err ends_window_end(void *arg, int64_t end, int64_t slide)
{
    ends *r = arg;
    assert_true(slide > 0 && end % slide == 0);  /* an end of a window */
    int64_t n = r->b ? strom_builder_nrows(r->b) : 0;
    if (n > 0 && r->k < 4096)
        r->end[r->k] = end, r->n[r->k++] = n;
    if (r->b)
        strom_builder_reset(r->b);
    return STROM_OK;
}

/* The job INSERT INTO wl <q> with the log-sink hooks: each end the hook hears of has
 * exactly the model's windows of that end, the ends in order, every end with windows. */
static void check_job_ends(sqlt *t, int64_t size, int64_t slide, int cum, const char *q)
{
    int64_t closed, late;
    rows want = {0};
    model_stream(size, slide, cum, &want, &closed, &late);
    static ends r;
    memset(&r, 0, sizeof r);
    sql_job_sink h = {ends_rows, ends_batch_end, ends_window_end, &r};
    sql_session_set_job(t->s, NULL, NULL, 0);
    sql_session_set_job_sink(t->s, &h);
    assert_int_equal(sql_session_set(t->s, "execution.runtime-mode", "streaming"), STROM_OK);
    sql_session_set_idle(t->s, idle_stop, t->s);
    char ins[1024];
    snprintf(ins, sizeof ins, "INSERT INTO wl %s", q);
    sqlite3_stmt *st = NULL;
    if (sql_session_run(t->s, ins, strlen(ins), &st) != STROM_OK)
        fail_msg("%s: %s", ins, strom_errmsg());
    while (sqlite3_step(st) == SQLITE_ROW) {
    }
    assert_non_null(strstr(sqlite3_errmsg(sql_session_db(t->s)), "interrupted"));
    sqlite3_finalize(st);
    int64_t total = 0;
    for (int k = 0; k < r.k; k++) {
        int64_t n = 0;                          /* the model's windows ending there */
        char key[48];                           /* ("start|end|Ddev|count|sum") */
        snprintf(key, sizeof key, "|%lld|", (long long)r.end[k]);
        for (size_t i = 0; i < want.n; i++)
            n += strstr(want.r[i], key) && strstr(want.r[i], key) == strchr(want.r[i], '|');
        assert_int_equal(r.n[k], n);
        if (k > 0)
            assert_true(r.end[k] > r.end[k - 1]);
        assert_true(r.end[k] <= closed);
        total += n;
    }
    assert_int_equal(total, (int64_t)want.n);   /* no end with windows left out */
    assert_true(r.k > 10);
    strom_builder_destroy(r.b);
    rows_free(&want);
    sql_session_set_idle(t->s, NULL, NULL);
    sql_session_set_job_sink(t->s, NULL);
}

static void test_log_job_ends(void **state)
{
    (void)state;
    sqlt t;
    sqlt_open(&t, "wjob");
    load(&t);
    sqlt_run(&t, "CREATE TABLE wl (ws TIMESTAMP(3), we TIMESTAMP(3), device_id STRING, n BIGINT, total BIGINT)", NULL);
    check_job_ends(&t, 60000, 30000, 0, "SELECT window_start, window_end, device_id, count(*), sum(v) FROM "
                   "TABLE(HOP(TABLE pe, DESCRIPTOR(event_time), INTERVAL '30' SECOND, INTERVAL '1' MINUTE)) "
                   "GROUP BY window_start, window_end, device_id");
    check_job_ends(&t, 60000, 20000, 1, "SELECT window_start, window_end, device_id, count(*), sum(v) FROM "
                   "TABLE(CUMULATE(TABLE pe, DESCRIPTOR(event_time), INTERVAL '20' SECOND, INTERVAL '1' MINUTE)) "
                   "GROUP BY window_start, window_end, device_id");
    sqlt_close(&t);
}

/* ---- a bucket with no rows yet: its first rows may come after another bucket's later ones */

typedef struct late_bucket {
    sqlt *t;
    const char *table;
    int idles;          /* idle calls so far */
    int append_at;      /* at this idle call, bucket 1's rows are appended (0: never) */
} late_bucket;

/* Appends rows (device dev, v, times BASE + ms[i]) to bucket b of table, one batch. */
static void put_bucket(strom_db *db, const char *table, int b, int dev, const int64_t *v, const int64_t *ms, int n)
{
    strom_table *tb = NULL;
    assert_int_equal(strom_table_open(db, table, &tb), STROM_OK);
    strom_builder *bl = strom_builder_create(strom_table_schema(tb));
    char k[8];
    snprintf(k, sizeof k, "D%d", dev);
    for (int i = 0; i < n; i++) {
        assert_int_equal(strom_builder_put_str(bl, 0, k, strlen(k)), STROM_OK);
        assert_int_equal(strom_builder_put_int(bl, 1, v[i]), STROM_OK);
        assert_int_equal(strom_builder_put_int(bl, 2, BASE + ms[i]), STROM_OK);
        assert_int_equal(strom_builder_end_row(bl), STROM_OK);
    }
    assert_int_equal(strom_table_append_bucket(tb, b, bl, NULL), STROM_OK);
    strom_builder_destroy(bl);
    strom_table_close(tb);
}

/* sql_vctx.idle: bucket 1's first rows arrive at idle call append_at; the next idle ends. */
static void late_bucket_idle(void *arg)
{
    late_bucket *l = arg;
    if (++l->idles != l->append_at) {
        sql_session_interrupt(l->t->s);
        return;
    }
    static const int64_t v[] = {100, 200}, ms[] = {2000, 25000};
    put_bucket(l->t->db, l->table, 1, 1, v, ms, 2);
}

/* Bucket 0 gets D0 rows at BASE + 1 s .. 25 s (v 1); then the streaming TUMBLE (10 s,
 * delay 1 s) runs with bucket 1's rows appended at idle call append_at; the windows it
 * emitted into got, the closed end and the late count out. */
static void run_late_bucket(sqlt *t, const char *table, int append_at, rows *got, int64_t *closed, int64_t *late)
{
    int64_t v[25], ms[25];
    for (int i = 0; i < 25; i++)
        v[i] = 1, ms[i] = 1000LL * (i + 1);
    put_bucket(t->db, table, 0, 0, v, ms, 25);
    late_bucket l = {t, table, 0, append_at};
    assert_int_equal(sql_session_set(t->s, "execution.runtime-mode", "streaming"), STROM_OK);
    sql_session_set_idle(t->s, late_bucket_idle, &l);
    char q[256];
    snprintf(q, sizeof q, "SELECT window_start, device_id, count(*), sum(v) FROM TABLE(TUMBLE(TABLE %s, "
             "DESCRIPTOR(event_time), INTERVAL '10' SECOND)) GROUP BY window_start, window_end, device_id", table);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sql_session_run(t->s, q, strlen(q), &st), STROM_OK);
    char buf[256];
    while (sqlite3_step(st) == SQLITE_ROW) {
        row_text(st, buf, sizeof buf);
        rows_add(got, buf);
    }
    assert_true(sql_session_window(t->s, closed, late));
    sqlite3_finalize(st);
    sql_session_set_idle(t->s, NULL, NULL);
    assert_int_equal(sql_session_set(t->s, "execution.runtime-mode", "batch"), STROM_OK);
}

#define LATE_BUCKET_DDL "(device_id STRING, v BIGINT, event_time TIMESTAMP(3), WATERMARK FOR event_time AS " \
                        "event_time - INTERVAL '1' SECOND) WITH ('bucket.num' = '2'"

static void test_streaming_empty_bucket(void **state)
{
    (void)state;
    sqlt t;
    sqlt_open(&t, "wempty");
    /* 1. bucket 1's rows come after bucket 0 has rows 24 s past the first one: bucket 1,
     *    with no rows yet, held the watermark, so its row at 2 s is in window [0, 10 s) */
    sqlt_run(&t, "CREATE TABLE pb " LATE_BUCKET_DDL ")", NULL);
    rows got = {0}, want = {0};
    int64_t closed = 0, late = -1;
    run_late_bucket(&t, "pb", 1, &got, &closed, &late);
    rows_addf(&want, "%lld|D0|9|9", (long long)BASE);
    rows_addf(&want, "%lld|D1|1|100", (long long)BASE);
    rows_addf(&want, "%lld|D0|10|10", (long long)BASE + 10000);
    rows_equal_sorted(&got, &want, "late first rows of a bucket");
    assert_int_equal(late, 0);
    assert_int_equal(closed, BASE + 20000);       /* watermark 25 s - 1 s: [10 s, 20 s) closed */
    rows_free(&got);
    rows_free(&want);
    /* 2. bucket 1 never gets rows: 24 s of event time is within the default idle span (30 s),
     *    nothing closes; with 'table.watermark.idle-ms' = 10000 bucket 1 is idle by then */
    sqlt_run(&t, "CREATE TABLE pc " LATE_BUCKET_DDL ")", NULL);
    run_late_bucket(&t, "pc", 0, &got, &closed, &late);
    assert_int_equal(got.n, 0);
    assert_int_equal(closed, BASE);               /* held at 1 s - 1 s: no window with rows */
    sqlt_run(&t, "CREATE TABLE pd " LATE_BUCKET_DDL ", 'table.watermark.idle-ms' = '10000')", NULL);
    run_late_bucket(&t, "pd", 0, &got, &closed, &late);
    rows_addf(&want, "%lld|D0|9|9", (long long)BASE);
    rows_addf(&want, "%lld|D0|10|10", (long long)BASE + 10000);
    rows_equal_sorted(&got, &want, "an empty bucket idle after 10 s");
    assert_int_equal(closed, BASE + 20000);
    rows_free(&got);
    rows_free(&want);
    sqlt_close(&t);
}

static void test_bad_input(void **state)
{
    (void)state;
    sqlt t;
    sqlt_open(&t, "wbad");
    sqlt_run(&t, "CREATE TABLE pe (device_id STRING, event_time TIMESTAMP(3))", NULL);
    sqlt_fails(&t, "SELECT count(*) FROM TABLE(TUMBLE(TABLE pe, event_time, INTERVAL '1' MINUTE)) GROUP BY window_start",
               "line 1, column 45: TUMBLE: the window needs its time column: DESCRIPTOR(event_time)");
    sqlt_fails(&t, "SELECT count(*) FROM TABLE(TUMBLE(TABLE pe, DESCRIPTOR(event_time), 60 * 1000)) GROUP BY 1",
               "line 1, column 69: TUMBLE: the window size must be a constant INTERVAL");
    sqlt_fails(&t, "SELECT count(*)\nFROM TABLE(HOP(TABLE pe, DESCRIPTOR(event_time), INTERVAL '40' SECOND,\n"
                   "  INTERVAL '1' MINUTE)) GROUP BY window_start",
               "line 3, column 3: HOP: the window size (60000 ms) must be a multiple of the slide (40000 ms)");
    sqlt_fails(&t, "SELECT count(*) FROM pe GROUP BY TUMBLE(INTERVAL '1' MINUTE)",
               "line 1, column 41: TUMBLE: the group window needs its time column first");
    sqlt_fails(&t, "SELECT count(*) FROM TABLE(TUMBLE(TABLE pe, DESCRIPTOR(nope), INTERVAL '1' MINUTE)) GROUP BY 1",
               "nope");
    sqlt_fails(&t, "SELECT count(*) FROM TABLE(CUMULATE(TABLE pe, DESCRIPTOR(event_time), INTERVAL '7' SECOND,\n"
                   "  INTERVAL '1' MINUTE)) GROUP BY window_start",
               "line 2, column 3: CUMULATE: the window max size (60000 ms) must be a multiple of the step (7000 ms)");
    sqlt_fails(&t, "SELECT count(*) FROM TABLE(CUMULATE(TABLE pe, DESCRIPTOR(event_time), INTERVAL '1' MINUTE)) "
                   "GROUP BY 1", "line 1, column 90: expected ','");
    sqlt_fails(&t, "SELECT count(*) FROM TABLE(CUMULATE(TABLE pe, DESCRIPTOR(event_time), INTERVAL '0' SECOND, "
                   "INTERVAL '1' MINUTE)) GROUP BY 1", "line 1, column 71: CUMULATE: the window step must be positive");
    sqlt_fails(&t, "SELECT count(*) FROM TABLE(CUMULATE(TABLE pe, DESCRIPTOR(event_time), INTERVAL '1' MINUTE, "
                   "INTERVAL '30' SECOND)) GROUP BY 1",
               "CUMULATE: the window max size (30000 ms) must be a multiple of the step (60000 ms)");
    sqlt_fails(&t, "SELECT count(*) FROM TABLE(CUMULATE(TABLE pe, DESCRIPTOR(event_time), INTERVAL '1' SECOND, "
                   "5000)) GROUP BY 1", "CUMULATE: the window max size must be a constant INTERVAL");
    sqlt_fails(&t, "SELECT count(*) FROM pe JOIN pe AS q ON 1 GROUP BY TUMBLE(pe.event_time, INTERVAL '1' MINUTE)",
               "line 1, column 25: a group window (GROUP BY TUMBLE/HOP) reads one table: no joins");
    sqlt_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_streaming),
        cmocka_unit_test(test_streaming_empty_bucket),
        cmocka_unit_test(test_log_job_ends),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
