/* test_join.c: the join of two streams (src/sql/jstream.c) - the seed's statement 2,
 * verbatim - against answers computed here from the generated rows:
 *   - streaming, in process: the rows arrive in chunks, each appended by the statement's
 *     idle hook (so the two sides interleave over many rounds), times out of order within
 *     the watermark delay and some late; the answer must be the join of the rows that were
 *     not late (simulated here per side in arrival order), each pair once, and the late
 *     counts must match; batch mode over the same rows gives the join of all rows;
 *   - the same with the seed's tables (2 buckets each) and rows in time order (none late);
 *   - bad input: errors name line and column. */
#include "sqlt.h"

#include "catalog/serve.h"
#include "seed_ddl.h"

#define BASE 1736776800000LL          /* 2025-01-13 14:00:00 */
#define DELAY 5000                    /* the tables' WATERMARK delay */
#define NCHUNKS 80
#define MAXROWS 4000
#define NDEV 5

#define S2 SEED_WINDOW_JOIN

typedef struct ev {
    int side;                         /* 0 alarm, 1 status */
    int id, dev, chunk;
    int64_t ts;
    int late;                         /* set by the model */
} ev;

static ev E[MAXROWS];
static int NE;

/* Chunks of rows of one side each (the side picked at random), times rising by chunk
 * with jitter; with `disorder` some rows are up to 40 s back (late against the 5 s delay
 * when their side has moved on), else every side's times rise strictly. */
static void generate(int disorder)
{
    NE = 0;
    int64_t last[2] = {BASE, BASE};
    for (int c = 0; c < NCHUNKS; c++) {
        int side = (int)(rnd() % 2), n = 5 + (int)(rnd() % 20);
        for (int i = 0; i < n && NE < MAXROWS; i++, NE++) {
            ev *e = &E[NE];
            e->side = side, e->id = NE, e->dev = (int)(rnd() % NDEV), e->chunk = c;
            if (disorder)
                e->ts = BASE + 15000LL * c + (int64_t)(rnd() % 15000) - (rnd() % 5 == 0 ? (int64_t)(rnd() % 40000) : 0);
            else
                e->ts = last[side] += 1 + (int64_t)(rnd() % 2000);
        }
    }
}

/* The model: per side in arrival order, a row is late when its time is below that side's
 * watermark (greatest time of the side's rows kept so far - DELAY). */
static int64_t mark_late(int64_t late[2])
{
    int64_t max[2] = {INT64_MIN, INT64_MIN};
    late[0] = late[1] = 0;
    for (int i = 0; i < NE; i++) {
        ev *e = &E[i];
        e->late = max[e->side] != INT64_MIN && e->ts < max[e->side] - DELAY;
        late[e->side] += e->late;
        if (!e->late && e->ts > max[e->side])
            max[e->side] = e->ts;
    }
    return late[0] + late[1];
}

/* The join of the rows (without the late ones when skip_late) as result strings. */
static void expect(int skip_late, rows *out)
{
    for (int i = 0; i < NE; i++)
        for (int j = 0; j < NE; j++) {
            const ev *a = &E[i], *s = &E[j];
            if (a->side != 0 || s->side != 1 || a->dev != s->dev || (skip_late && (a->late || s->late)))
                continue;
            if (a->ts >= s->ts - 300000 && a->ts <= s->ts + 60000)
                rows_addf(out, "A%d|D%d|S%d|%d", a->id, a->dev, s->id, s->id);
        }
}

typedef struct feed {
    sqlt *t;
    strom_table *tab[2];
    int chunk;
} feed;

/* One chunk appended to its table (one batch). */
static void append_chunk(feed *f, int c)
{
    int side = -1;
    for (int i = 0; i < NE; i++)
        if (E[i].chunk == c)
            side = E[i].side;
    if (side < 0)
        return;
    strom_builder *b = strom_builder_create(strom_table_schema(f->tab[side]));
    assert_non_null(b);
    char id[16], dev[16], st[16];
    for (int i = 0; i < NE; i++) {
        const ev *e = &E[i];
        if (e->chunk != c)
            continue;
        snprintf(id, sizeof id, "%c%d", side ? 'S' : 'A', e->id);
        snprintf(dev, sizeof dev, "D%d", e->dev);
        snprintf(st, sizeof st, "S%d", e->id);
        if (side == 0) {              /* alarm_id, device_id, alarm_type, event_time */
            assert_int_equal(strom_builder_put_str(b, 0, id, strlen(id)), STROM_OK);
            assert_int_equal(strom_builder_put_str(b, 1, dev, strlen(dev)), STROM_OK);
            assert_int_equal(strom_builder_put_str(b, 2, "trip", 4), STROM_OK);
            assert_int_equal(strom_builder_put_int(b, 3, e->ts), STROM_OK);
        } else {                      /* device_id, device_status, capacity, event_time */
            assert_int_equal(strom_builder_put_str(b, 0, dev, strlen(dev)), STROM_OK);
            assert_int_equal(strom_builder_put_str(b, 1, st, strlen(st)), STROM_OK);
            assert_int_equal(strom_builder_put_f64(b, 2, e->id), STROM_OK);
            assert_int_equal(strom_builder_put_int(b, 3, e->ts), STROM_OK);
        }
        assert_int_equal(strom_builder_end_row(b), STROM_OK);
    }
    assert_int_equal(strom_table_append(f->tab[side], b, NULL), STROM_OK);
    strom_builder_destroy(b);
}

/* The stream's idle hook: the next chunk, or the end of the statement. */
static void next_chunk(void *arg)
{
    feed *f = arg;
    if (f->chunk < NCHUNKS)
        append_chunk(f, f->chunk++);
    else
        sql_session_interrupt(f->t->s);
}

static void make_tables(sqlt *t, int buckets)
{
    char q[512];
    snprintf(q, sizeof q, "CREATE TABLE alarm_stream (alarm_id STRING, device_id STRING, alarm_type STRING, "
             "event_time TIMESTAMP(3), WATERMARK FOR event_time AS event_time - INTERVAL '5' SECOND) "
             "WITH ('bucket.num' = '%d', 'bucket.key' = 'device_id')", buckets);
    sqlt_run(t, q, NULL);
    snprintf(q, sizeof q, "CREATE TABLE device_status_stream (device_id STRING, device_status STRING, capacity "
             "DOUBLE, event_time TIMESTAMP(3), WATERMARK FOR event_time AS event_time - INTERVAL '5' SECOND) "
             "WITH ('bucket.num' = '%d', 'bucket.key' = 'device_id')", buckets);
    sqlt_run(t, q, NULL);
}

/* The statement's rows as "A<id>|D<dev>|S<id>|<capacity>". */
static void collect(sqlite3_stmt *st, rows *out, int streaming)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s|%s|%s|%d", (const char *)sqlite3_column_text(st, 0),
                 (const char *)sqlite3_column_text(st, 1), (const char *)sqlite3_column_text(st, 2),
                 (int)sqlite3_column_double(st, 3));
        rows_add(out, buf);
    }
    if (streaming)
        assert_string_equal(sqlite3_errmsg(sqlite3_db_handle(st)), "interrupted");
    else
        assert_int_equal(rc, SQLITE_DONE);
}

static void run_case(int buckets, int disorder, const char *tag)
{
    sqlt t;
    sqlt_open(&t, tag);
    make_tables(&t, buckets);
    generate(disorder);
    int64_t want_late[2];
    int64_t nlate = mark_late(want_late);
    if (disorder)
        assert_true(want_late[0] > 0 && want_late[1] > 0);   /* the data has late rows */
    else
        assert_int_equal(nlate, 0);
    static cat_listener wake = {sql_stream_notify, NULL};   /* appends wake the stream (as in strom sql) */
    cat_set_append_listener(t.db, &wake);
    feed f = {.t = &t};
    assert_int_equal(strom_table_open(t.db, "alarm_stream", &f.tab[0]), STROM_OK);
    assert_int_equal(strom_table_open(t.db, "device_status_stream", &f.tab[1]), STROM_OK);
    /* streaming: the chunks arrive while the statement runs */
    assert_int_equal(sql_session_set(t.s, "execution.runtime-mode", "streaming"), STROM_OK);
    sql_session_set_idle(t.s, next_chunk, &f);
    sqlite3_stmt *st = NULL;
    if (sql_session_run(t.s, S2, strlen(S2), &st) != STROM_OK)
        fail_msg("streaming statement 2: %s", strom_errmsg());
    sqlite3_stmt *plan = NULL;                  /* the inner loop looks up the key in the held rows */
    assert_int_equal(sqlite3_prepare_v2(sql_session_db(t.s), "EXPLAIN QUERY PLAN SELECT * FROM temp.\"__join_l\" a "
                                        "JOIN temp.\"__join_r\" s ON a.device_id = s.device_id", -1, &plan, NULL),
                     SQLITE_OK);
    int indexed = 0;
    while (sqlite3_step(plan) == SQLITE_ROW)
        indexed += strstr((const char *)sqlite3_column_text(plan, 3), "VIRTUAL TABLE INDEX 1:") != NULL;
    sqlite3_finalize(plan);
    assert_int_equal(indexed, 1);
    rows got = {0}, want = {0};
    collect(st, &got, 1);
    assert_int_equal(f.chunk, NCHUNKS);
    int64_t late[2] = {-1, -1};
    assert_true(sql_session_join(t.s, late));
    assert_int_equal(late[0], want_late[0]);
    assert_int_equal(late[1], want_late[1]);
    sqlite3_finalize(st);
    expect(1, &want);
    assert_true(want.n > 100);
    rows_equal_sorted(&got, &want, "streaming join");
    printf("  %s: %zu rows joined in streaming mode, late rows %lld + %lld\n", tag, got.n,
           (long long)late[0], (long long)late[1]);
    rows_free(&got);
    rows_free(&want);
    /* batch: every stored row */
    sql_session_set_idle(t.s, NULL, NULL);
    assert_int_equal(sql_session_set(t.s, "execution.runtime-mode", "batch"), STROM_OK);
    assert_int_equal(sql_session_run(t.s, S2, strlen(S2), &st), STROM_OK);
    collect(st, &got, 0);
    sqlite3_finalize(st);
    expect(0, &want);
    rows_equal_sorted(&got, &want, "batch join");
    rows_free(&got);
    rows_free(&want);
    strom_table_close(f.tab[0]);
    strom_table_close(f.tab[1]);
    sqlt_close(&t);
}

static void test_streaming_late(void **state)
{
    (void)state;
    run_case(1, 1, "join_late");
}

static void test_streaming_buckets(void **state)
{
    (void)state;
    run_case(2, 0, "join_buckets");
}

static void test_bad_input(void **state)
{
    (void)state;
    sqlt t;
    sqlt_open(&t, "join_bad");
    make_tables(&t, 1);
    sqlt_run(&t, "CREATE TABLE plain (device_id STRING, event_time TIMESTAMP(3))", NULL);
    sqlt_run(&t, "INSERT INTO alarm_stream VALUES ('A1', 'D1', 'trip', 1000)", NULL);   /* a match to run */
    sqlt_run(&t, "INSERT INTO device_status_stream VALUES ('D1', 'up', 1.0, 1000)", NULL);
    assert_int_equal(sql_session_set(t.s, "execution.runtime-mode", "streaming"), STROM_OK);
    sqlt_fails(&t, "SELECT * FROM alarm_stream a JOIN device_status_stream s\n"
                   "ON a.event_time BETWEEN s.event_time - INTERVAL '5' MINUTE AND s.event_time",
               "line 2, column 1: a join of two streams needs an equality of a column of each side");
    sqlt_fails(&t, "SELECT * FROM alarm_stream a JOIN device_status_stream s\n"
                   "ON a.device_id = s.device_id AND a.event_time BETWEEN s.event_time - a.event_time AND "
                   "s.event_time",
               "line 2, column 70: a join of two streams: a time bound must be a constant INTERVAL");
    sqlt_fails(&t, "SELECT * FROM alarm_stream a JOIN device_status_stream s\n"
                   "ON a.device_id = s.device_id AND a.event_time >= s.event_time - 60000",
               "line 2, column 65: a join of two streams: a time bound must be a constant INTERVAL");
    sqlt_fails(&t, "SELECT * FROM alarm_stream a JOIN device_status_stream s\n"
                   "ON a.device_id = s.device_id AND a.event_time >= s.event_time",
               "line 2, column 1: a join of two streams needs a lower and an upper bound");
    sqlt_fails(&t, "SELECT * FROM alarm_stream a JOIN device_status_stream s\n"
                   "ON a.device_id = s.device_id OR a.event_time = s.event_time",
               "line 2, column 30: a join of two streams: the ON condition must be a conjunction");
    sqlt_fails(&t, "SELECT * FROM alarm_stream a JOIN device_status_stream s ON a.device_id = s.device_id\n"
                   "AND abs(a.event_time - s.event_time) < 1000",
               "line 2, column 5: a join of two streams: a time bound must be the time column");
    sqlt_fails(&t, "SELECT * FROM alarm_stream a JOIN plain p ON a.device_id = p.device_id",
               "line 1, column 35: a join of two streams: table plain has no time column");
    sqlt_fails(&t, "SELECT DISTINCT a.device_id FROM alarm_stream a JOIN device_status_stream s ON a.device_id = "
                   "s.device_id AND a.event_time BETWEEN s.event_time AND s.event_time + INTERVAL '1' SECOND",
               "line 1, column 8: a join of two streams emits each match as it is found: DISTINCT would apply");
    sqlt_fails(&t, "SELECT * FROM alarm_stream a JOIN device_status_stream s ON a.device_id = s.device_id AND "
                   "a.event_time BETWEEN s.event_time AND s.event_time + INTERVAL '1' SECOND\nORDER BY 1 LIMIT 5",
               "line 2, column 1: a join of two streams emits each match as it is found: ORDER would apply");
    sqlt_fails(&t, "SELECT * FROM alarm_stream a JOIN device_status_stream s ON a.device_id = s.device_id AND "
                   "a.event_time BETWEEN s.event_time AND s.event_time + INTERVAL '1' SECOND JOIN plain p ON "
                   "p.device_id = a.device_id",
               "a join of two streams reads no third log table in full (log table plain");
    sqlt_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_streaming_late),
        cmocka_unit_test(test_streaming_buckets),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
