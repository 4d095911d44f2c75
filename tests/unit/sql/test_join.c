/* test_join.c: the join of two streams (src/sql/jstream.c) - the seed's statement 2,
 * verbatim - against answers computed here from the generated rows:
 *   - streaming, in process: the rows arrive in chunks, each appended by the statement's
 *     idle hook (so the two sides interleave over many rounds), times out of order within
 *     the watermark delay and some late; the answer must be the join of the rows that were
 *     not late (simulated here per side in arrival order), each pair once, and the late
 *     counts must match; batch mode over the same rows gives the join of all rows;
 *   - the same with the seed's tables (2 buckets each) and rows in time order (none late);
 *   - LEFT, RIGHT and FULL OUTER joins of random rows (with and without late rows; closing
 *     rows far ahead on every device move both watermarks past all others): each row of a
 *     kept side that matched none comes once, padded with NULLs, as the brute force over
 *     every pair says; with no late row streaming = batch;
 *   - bad input: errors name line and column. */
#include "sqlt.h"

#include "catalog/serve.h"
#include "seed_ddl.h"

#define BASE 1736776800000LL          /* 2025-01-13 14:00:00 */
#define DELAY 5000                    /* the tables' WATERMARK delay */
#define NCHUNKS 80
#define MAXROWS 4000
#define NDEV 5                        /* devices of the inner joins' rows */

#define S2 SEED_WINDOW_JOIN

typedef struct ev {
    int side;                         /* 0 alarm, 1 status */
    int id, dev, chunk;
    int64_t ts;
    int late;                         /* set by the model */
} ev;

static ev E[MAXROWS];
static int NE, NCH;                   /* rows, chunks */
static int ndev = NDEV;               /* devices (the outer joins': more, so fewer matches) */

/* Chunks of rows of one side each (the side picked at random), times rising by chunk
 * with jitter; with `disorder` some rows are up to 40 s back (late against the 5 s delay
 * when their side has moved on), else every side's times rise strictly. */
static void generate(int disorder)
{
    NE = 0;
    NCH = NCHUNKS;
    int64_t last[2] = {BASE, BASE};
    for (int c = 0; c < NCHUNKS; c++) {
        int side = (int)(rnd() % 2), n = 5 + (int)(rnd() % 20);
        for (int i = 0; i < n && NE < MAXROWS; i++, NE++) {
            ev *e = &E[NE];
            e->side = side, e->id = NE, e->dev = (int)(rnd() % (uint64_t)ndev), e->chunk = c;
            if (disorder)
                e->ts = BASE + 15000LL * c + (int64_t)(rnd() % 15000) - (rnd() % 5 == 0 ? (int64_t)(rnd() % 40000) : 0);
            else
                e->ts = last[side] += 1 + (int64_t)(rnd() % 2000);
        }
    }
}

/* Two last chunks, statuses then alarms, a row per device each at the same time far
 * ahead: each side's watermark passes every earlier row's, so every row without a match
 * is known to have none (and is emitted by an outer join), and these rows match each other.
 * The alarms' chunk starts with an alarm of a device of its own, 400 s before them: not
 * late, but the statuses' watermark has passed it when it comes (it meets only the rows
 * held, then is known to have no match). */
static void add_closing(void)
{
    for (int side = 1; side >= 0; side--, NCH++) {
        if (side == 0 && NE < MAXROWS)
            E[NE] = (ev){.side = 0, .id = NE, .dev = ndev, .chunk = NCH, .ts = BASE + 10000000LL - 400000}, NE++;
        for (int d = 0; d < ndev && NE < MAXROWS; d++, NE++)
            E[NE] = (ev){.side = side, .id = NE, .dev = d, .chunk = NCH, .ts = BASE + 10000000LL + d};
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

enum { INNER, LEFT, RIGHT, FULL };

/* The join (kind) of the rows (without the late ones when skip_late) as result strings,
 * by brute force over every pair: the matches, and for an outer join each row of a kept
 * side that matched none, padded with NULLs. */
static void expect(int kind, int skip_late, rows *out)
{
    static uint8_t matched[MAXROWS];
    memset(matched, 0, sizeof matched);
    for (int i = 0; i < NE; i++)
        for (int j = 0; j < NE; j++) {
            const ev *a = &E[i], *s = &E[j];
            if (a->side != 0 || s->side != 1 || a->dev != s->dev || (skip_late && (a->late || s->late)))
                continue;
            if (a->ts >= s->ts - 300000 && a->ts <= s->ts + 60000) {
                rows_addf(out, "A%d|D%d|S%d|%d", a->id, a->dev, s->id, s->id);
                matched[i] = matched[j] = 1;
            }
        }
    for (int i = 0; i < NE; i++) {
        const ev *e = &E[i];
        if (matched[i] || (skip_late && e->late))
            continue;
        if (e->side == 0 && (kind == LEFT || kind == FULL))
            rows_addf(out, "A%d|D%d|NULL|NULL", e->id, e->dev);
        if (e->side == 1 && (kind == RIGHT || kind == FULL))
            rows_addf(out, "NULL|NULL|S%d|%d", e->id, e->id);
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
    if (f->chunk < NCH)
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

/* Column i of st as text ("NULL" for NULL). */
static const char *col_text(sqlite3_stmt *st, int i)
{
    const char *v = (const char *)sqlite3_column_text(st, i);
    return v ? v : "NULL";
}

/* The statement's rows as "A<id>|D<dev>|S<id>|<capacity>" (NULL for NULLs). */
static void collect(sqlite3_stmt *st, rows *out, int streaming)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char buf[128], cap[32] = "NULL";
        if (sqlite3_column_type(st, 3) != SQLITE_NULL)
            snprintf(cap, sizeof cap, "%d", (int)sqlite3_column_double(st, 3));
        snprintf(buf, sizeof buf, "%s|%s|%s|%s", col_text(st, 0), col_text(st, 1), col_text(st, 2), cap);
        rows_add(out, buf);
    }
    if (streaming)
        assert_string_equal(sqlite3_errmsg(sqlite3_db_handle(st)), "interrupted");
    else
        assert_int_equal(rc, SQLITE_DONE);
}

/* Statement 2 of the seed with its JOIN as kind. */
static const char *statement(int kind, char *buf, size_t cap)
{
    static const char *const kw[] = {"JOIN", "LEFT JOIN", "RIGHT OUTER JOIN", "FULL OUTER JOIN"};
    if (kind == INNER)
        return S2;
    snprintf(buf, cap, "SELECT a.alarm_id, a.device_id, s.device_status, s.capacity\nFROM alarm_stream a\n%s "
             "device_status_stream s\nON a.device_id = s.device_id\nAND a.event_time BETWEEN s.event_time - "
             "INTERVAL '5' MINUTE AND s.event_time + INTERVAL '1' MINUTE\n", kw[kind]);
    return buf;
}

/* The join (kind) of rows generated (disorder) over tables of buckets buckets: in
 * streaming mode against the model over the rows not late, in batch mode against the
 * model over all rows, and with no late row the two answers equal. */
static void run_case(int buckets, int disorder, int kind, const char *tag)
{
    sqlt t;
    sqlt_open(&t, tag);
    make_tables(&t, buckets);
    generate(disorder);
    add_closing();
    char sbuf[512];
    const char *q = statement(kind, sbuf, sizeof sbuf);
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
    if (sql_session_run(t.s, q, strlen(q), &st) != STROM_OK)
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
    assert_int_equal(f.chunk, NCH);
    int64_t late[2] = {-1, -1};
    assert_true(sql_session_join(t.s, late));
    assert_int_equal(late[0], want_late[0]);
    assert_int_equal(late[1], want_late[1]);
    sqlite3_finalize(st);
    expect(kind, 1, &want);
    assert_true(want.n > 100);
    rows_equal_sorted(&got, &want, "streaming join");
    size_t padded = 0;
    for (size_t i = 0; i < got.n; i++)
        padded += strstr(got.r[i], "NULL") != NULL;
    if (kind != INNER)
        assert_true(padded > 10);                /* the data has rows without a match */
    printf("  %s: %zu rows joined in streaming mode (%zu padded), late rows %lld + %lld\n", tag, got.n, padded,
           (long long)late[0], (long long)late[1]);
    rows_free(&want);
    /* batch: every stored row */
    sql_session_set_idle(t.s, NULL, NULL);
    assert_int_equal(sql_session_set(t.s, "execution.runtime-mode", "batch"), STROM_OK);
    assert_int_equal(sql_session_run(t.s, q, strlen(q), &st), STROM_OK);
    rows batch = {0};
    collect(st, &batch, 0);
    sqlite3_finalize(st);
    expect(kind, 0, &want);
    rows_equal_sorted(&batch, &want, "batch join");
    if (!disorder)                               /* the whole stream: streaming = batch */
        rows_equal_sorted(&got, &batch, "streaming vs batch");
    rows_free(&got);
    rows_free(&batch);
    rows_free(&want);
    strom_table_close(f.tab[0]);
    strom_table_close(f.tab[1]);
    sqlt_close(&t);
}

static void test_streaming_late(void **state)
{
    (void)state;
    run_case(1, 1, INNER, "join_late");
}

static void test_streaming_buckets(void **state)
{
    (void)state;
    run_case(2, 0, INNER, "join_buckets");
}

/* Outer joins: each row of a kept side without a match is emitted once, padded, when the
 * other side's watermark shows no match can come; random rows in and out of order. */
static void test_streaming_outer(void **state)
{
    (void)state;
    ndev = 150;
    run_case(1, 1, LEFT, "join_left_late");
    run_case(2, 0, RIGHT, "join_right");
    run_case(1, 1, FULL, "join_full_late");
    run_case(2, 0, FULL, "join_full");
    ndev = NDEV;
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
    sqlt_fails(&t, "SELECT * FROM alarm_stream a LEFT OUTER JOIN device_status_stream s\n"
                   "ON a.device_id = s.device_id AND a.event_time <= s.event_time + INTERVAL '1' SECOND",
               "line 2, column 1: a join of two streams needs a lower and an upper bound");
    sqlt_fails(&t, "SELECT * FROM alarm_stream a FULL JOIN device_status_stream s\n"
                   "ON a.event_time BETWEEN s.event_time - INTERVAL '5' MINUTE AND s.event_time",
               "line 2, column 1: a join of two streams needs an equality of a column of each side");
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
        cmocka_unit_test(test_streaming_outer),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
