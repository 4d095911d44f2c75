/*
 * test_sql_join.c: the seed's statement 2 (a join of two streams) against the real server,
 * checked against the join computed here from the rows the test produced.
 *  1. The seed's alarm_stream and device_status_stream (two buckets each) are created; the
 *     statement runs in streaming mode; alarms and status rows are then produced by two
 *     producers, interleaved in small acknowledged batches, times rising on each side. Every
 *     pair the condition matches comes out once (and no more rows come); batch mode over
 *     the same rows gives the same answer.
 *  2. A continuous job over the join into a primary-key sink, across three SIGKILLs of the
 *     server: every pair of all the rows once in the sink; into a log table: refused.
 *  3. A FULL OUTER JOIN of two other tables (alarms of devices no status row has): in
 *     streaming mode, once closing rows far ahead have moved both watermarks past every
 *     other row, the answer is the batch answer over the same rows (less the padding of
 *     the closing rows, which no watermark has passed) and the one computed here.
 */
#define _GNU_SOURCE
#include "sqlit.h"

#include "../unit/sql/seed_ddl.h"   /* GRID_DDL: the grid tables */

#define BASE_MS 1736776800000LL     /* 2025-01-13 14:00:00 */
#define N 600                       /* rows per side */
#define NDEV 7

static st_server SRV;
static char DIR_[256];
static char got[1 << 20], want[1 << 20], jobs_text[8192];
static const char *const STREAMING[] = {"execution.runtime-mode", "streaming", NULL};
static const char *const BATCH[] = {"execution.runtime-mode", "batch", NULL};

#define S2 SEED_WINDOW_JOIN

/* Alarm i: device i*3 % NDEV, every 2 s; status j: device j*5 % NDEV, every 2.5 s. */
static int64_t alarm_time(int i) { return BASE_MS + 2000LL * i; }
static int64_t status_time(int j) { return BASE_MS + 2500LL * j; }
static int alarm_dev(int i) { return i * 3 % NDEV; }
static int status_dev(int j) { return j * 5 % NDEV; }

/* Column c of row i of b as text ("NULL" for a NULL). */
static const char *cell(const strom_batch *b, int c, int64_t i, char *buf, size_t cap)
{
    size_t n = 0;
    const char *v = strom_batch_is_null(b, c, i) ? NULL : c < 3 ? strom_batch_get_str(b, c, i, &n) : buf;
    if (!v)
        return "NULL";
    if (c == 3)
        snprintf(buf, cap, "%.0f", strom_batch_get_f64(b, 3, i));
    else
        snprintf(buf, cap, "%.*s", (int)n, v);
    return buf;
}

/* The rows of b as "alarm|device|status|capacity\n" (capacity an integer-valued DOUBLE). */
static void batch_text(const strom_batch *b, char *out, size_t cap, size_t *w)
{
    for (int64_t i = 0; b && i < strom_batch_nrows(b) && *w + 128 < cap; i++) {
        char c[4][48];
        *w += (size_t)snprintf(out + *w, cap - *w, "%s|%s|%s|%s\n", cell(b, 0, i, c[0], sizeof c[0]),
                               cell(b, 1, i, c[1], sizeof c[1]), cell(b, 2, i, c[2], sizeof c[2]),
                               cell(b, 3, i, c[3], sizeof c[3]));
    }
}

static int str_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorts the lines of text in place. */
static void sort_lines(char *text)
{
    static char *line[1 << 16];
    static char copy[1 << 20];
    size_t n = 0;
    snprintf(copy, sizeof copy, "%s", text);
    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l && n < 1 << 16; l = strtok_r(NULL, "\n", &save))
        line[n++] = l;
    qsort(line, n, sizeof *line, str_cmp);
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        w += (size_t)snprintf(text + w, sizeof copy - w, "%s\n", line[i]);
    text[w] = '\0';
}

/* The join of rows [0, nrows) of each side computed here, sorted; the number of rows. */
static int expect_n(int nrows)
{
    size_t w = 0;
    int n = 0;
    want[0] = '\0';
    for (int i = 0; i < nrows; i++)
        for (int j = 0; j < nrows; j++)
            if (alarm_dev(i) == status_dev(j) && alarm_time(i) >= status_time(j) - 300000 &&
                alarm_time(i) <= status_time(j) + 60000) {
                w += (size_t)snprintf(want + w, sizeof want - w, "A%d|D%d|S%d|%d\n", i, alarm_dev(i), j, j);
                n++;
            }
    sort_lines(want);
    return n;
}

static int expect(void) { return expect_n(N); }

static void send_alarm(strom_producer *p, int i)
{
    char id[16], dev[8];
    snprintf(id, sizeof id, "A%d", i);
    snprintf(dev, sizeof dev, "D%d", alarm_dev(i));
    strom_value row[4] = {{.type = STROM_STRING, .v.s = {id, strlen(id)}},
                          {.type = STROM_STRING, .v.s = {dev, strlen(dev)}},
                          {.type = STROM_STRING, .v.s = {"trip", 4}},
                          {.type = STROM_TIMESTAMP, .v.i = alarm_time(i)}};
    IT_OK(strom_producer_send(p, row, 4));
}

static void send_status(strom_producer *p, int j)
{
    char st[16], dev[8];
    snprintf(st, sizeof st, "S%d", j);
    snprintf(dev, sizeof dev, "D%d", status_dev(j));
    strom_value row[4] = {{.type = STROM_STRING, .v.s = {dev, strlen(dev)}},
                          {.type = STROM_STRING, .v.s = {st, strlen(st)}},
                          {.type = STROM_DOUBLE, .v.d = j},
                          {.type = STROM_TIMESTAMP, .v.i = status_time(j)}};
    IT_OK(strom_producer_send(p, row, 4));
}

/* The streaming statement r's rows into got (sorted) until rows have come (60 s at most),
 * then checks that no more come; the rows read. */
static int read_stream(strom_sql_cursor *r, int rows)
{
    size_t w = 0;
    got[0] = '\0';
    int n = 0;
    int64_t until = strom_mono_ns() + (int64_t)60 * 1000000000;
    while (n < rows && strom_mono_ns() < until) {
        const strom_batch *b = NULL;
        IT_OK(strom_client_sql_next(r, 500, &b));
        n += b ? (int)strom_batch_nrows(b) : 0;
        batch_text(b, got, sizeof got, &w);
    }
    const strom_batch *b = NULL;                 /* and nothing more */
    IT_OK(strom_client_sql_next(r, 300, &b));
    IT_CHECK(!b || strom_batch_nrows(b) == 0, "a row more than the join's");
    strom_client_sql_close(r);
    sort_lines(got);
    return n;
}

/* q in batch mode: its rows into got, sorted. */
static void read_batch(strom_client *c, const char *q)
{
    strom_sql_cursor *bq = NULL;
    IT_OK(strom_client_sql_execute(c, q, strlen(q), BATCH, &bq));
    size_t w = 0;
    got[0] = '\0';
    while (!strom_client_sql_done(bq)) {
        const strom_batch *b = NULL;
        IT_OK(strom_client_sql_next(bq, 1000, &b));
        batch_text(b, got, sizeof got, &w);
    }
    strom_client_sql_close(bq);
    sort_lines(got);
}

/* Alarms and status rows [from, to), interleaved in acknowledged batches of 20 of each;
 * closes the producers. */
static void produce_pairs(strom_producer *pa, strom_producer *ps, int from, int to)
{
    for (int k = from; k < to; k += 20) {
        for (int i = k; i < k + 20; i++)
            send_alarm(pa, i);
        IT_OK(strom_producer_flush(pa));
        for (int j = k; j < k + 20; j++)
            send_status(ps, j);
        IT_OK(strom_producer_flush(ps));
    }
    IT_OK(strom_producer_close(pa));
    IT_OK(strom_producer_close(ps));
}

/* Starts streaming q on c and makes producers into tables ta and ts on a client of their
 * own (returned: strom_client_close after the producers). */
static strom_client *start_join(strom_client *c, const char *q, const char *ta, const char *ts, strom_sql_cursor **r,
                                strom_producer **pa, strom_producer **ps)
{
    IT_OK(strom_client_sql_execute(c, q, strlen(q), STREAMING, r));
    strom_client *pc = sqlit_client(SRV.port);
    IT_OK(strom_producer_create(pc, ta, NULL, NULL, 0, pa));
    IT_OK(strom_producer_create(pc, ts, NULL, NULL, 0, ps));
    return pc;
}

/* 1: streaming = batch = the join computed here. */
static void test_streaming_join(strom_client *c)
{
    for (size_t i = 0; i < 2; i++)
        IT_OK(sqlit_run(c, GRID_DDL[i], NULL, NULL, 0));
    int rows = expect();
    strom_sql_cursor *r = NULL;
    strom_producer *pa = NULL, *ps = NULL;
    strom_client *pc = start_join(c, S2, "alarm_stream", "device_status_stream", &r, &pa, &ps);
    produce_pairs(pa, ps, 0, N);
    int n = read_stream(r, rows);
    IT_CHECK(!strcmp(got, want), "streaming join (%d rows, want %d):\n want %.300s\n got  %.300s", n, rows, want,
             got);
    printf("  streaming join: %d rows, each pair once\n", rows);
    read_batch(c, S2);                           /* batch: the same */
    IT_CHECK(!strcmp(got, want), "batch join:\n want %.300s\n got  %.300s", want, got);
    strom_client_close(pc);
}

/* ---- 3: a FULL OUTER JOIN: alarms of devices D0..D8, status rows of D0..D6 */

#define ODEV 9
#define CLOSE_MS (BASE_MS + 100000000LL)   /* the closing rows: far ahead of every other */
static int oalarm_dev(int i) { return i * 4 % ODEV; }

/* The FULL OUTER JOIN computed here by brute force: the matching pairs (the closing rows,
 * i, j = N, match each other on each device both sides have), and each alarm and status
 * row of [0, N) that matched none, padded with NULLs (the closing rows are never known to
 * have no match). The number of rows. */
static int expect_outer(int nclose_a, int nclose_s)
{
    static uint8_t ma[N + 16], ms[N + 16];
    memset(ma, 0, sizeof ma);
    memset(ms, 0, sizeof ms);
    size_t w = 0;
    int n = 0;
    want[0] = '\0';
    for (int i = 0; i < N + nclose_a; i++)
        for (int j = 0; j < N + nclose_s; j++) {
            int ad = i < N ? oalarm_dev(i) : i - N, sd = j < N ? status_dev(j) : j - N;
            int64_t at = i < N ? alarm_time(i) : CLOSE_MS, st = j < N ? status_time(j) : CLOSE_MS;
            if (ad != sd || at < st - 300000 || at > st + 60000)
                continue;
            w += (size_t)snprintf(want + w, sizeof want - w, "A%d|D%d|S%d|%d\n", i, ad, j, j);
            ma[i] = ms[j] = 1;
            n++;
        }
    for (int i = 0; i < N; i++)
        if (!ma[i])
            w += (size_t)snprintf(want + w, sizeof want - w, "A%d|D%d|NULL|NULL\n", i, oalarm_dev(i)), n++;
    for (int j = 0; j < N; j++)
        if (!ms[j])
            w += (size_t)snprintf(want + w, sizeof want - w, "NULL|NULL|S%d|%d\n", j, j), n++;
    sort_lines(want);
    return n;
}

#define OUTER_Q "SELECT a.alarm_id, a.device_id, s.device_status, s.capacity FROM oalarm a FULL OUTER JOIN " \
                "ostatus s ON a.device_id = s.device_id AND a.event_time BETWEEN s.event_time - INTERVAL '5' " \
                "MINUTE AND s.event_time + INTERVAL '1' MINUTE"

/* 3: streaming FULL OUTER JOIN = batch = the join computed here, once closing rows far
 * ahead on every device have moved both sides' watermarks past every other row. */
static void test_streaming_outer(strom_client *c)
{
    IT_OK(sqlit_run(c, "CREATE TABLE oalarm (alarm_id STRING, device_id STRING, alarm_type STRING, event_time "
                       "TIMESTAMP(3), WATERMARK FOR event_time AS event_time - INTERVAL '5' SECOND) WITH "
                       "('bucket.num' = '2', 'bucket.key' = 'device_id')", NULL, NULL, 0));
    IT_OK(sqlit_run(c, "CREATE TABLE ostatus (device_id STRING, device_status STRING, capacity DOUBLE, event_time "
                       "TIMESTAMP(3), WATERMARK FOR event_time AS event_time - INTERVAL '5' SECOND) WITH "
                       "('bucket.num' = '2', 'bucket.key' = 'device_id')", NULL, NULL, 0));
    int rows = expect_outer(ODEV, NDEV);
    strom_sql_cursor *r = NULL;
    strom_producer *pa = NULL, *ps = NULL;
    strom_client *pc = start_join(c, OUTER_Q, "oalarm", "ostatus", &r, &pa, &ps);
    char id[16], dev[8];
    for (int k = 0; k <= N; k += 20) {           /* interleaved; k = N: the closing rows */
        for (int i = k; i < (k < N ? k + 20 : N + ODEV); i++) {
            snprintf(id, sizeof id, "A%d", i);
            snprintf(dev, sizeof dev, "D%d", i < N ? oalarm_dev(i) : i - N);
            strom_value row[4] = {{.type = STROM_STRING, .v.s = {id, strlen(id)}},
                                  {.type = STROM_STRING, .v.s = {dev, strlen(dev)}},
                                  {.type = STROM_STRING, .v.s = {"trip", 4}},
                                  {.type = STROM_TIMESTAMP, .v.i = i < N ? alarm_time(i) : CLOSE_MS}};
            IT_OK(strom_producer_send(pa, row, 4));
        }
        IT_OK(strom_producer_flush(pa));
        for (int j = k; j < (k < N ? k + 20 : N + NDEV); j++) {
            snprintf(id, sizeof id, "S%d", j);
            snprintf(dev, sizeof dev, "D%d", j < N ? status_dev(j) : j - N);
            strom_value row[4] = {{.type = STROM_STRING, .v.s = {dev, strlen(dev)}},
                                  {.type = STROM_STRING, .v.s = {id, strlen(id)}},
                                  {.type = STROM_DOUBLE, .v.d = j},
                                  {.type = STROM_TIMESTAMP, .v.i = j < N ? status_time(j) : CLOSE_MS}};
            IT_OK(strom_producer_send(ps, row, 4));
        }
        IT_OK(strom_producer_flush(ps));
    }
    IT_OK(strom_producer_close(pa));
    IT_OK(strom_producer_close(ps));
    int n = read_stream(r, rows);
    IT_CHECK(!strcmp(got, want), "streaming FULL OUTER JOIN (%d rows, want %d):\n want %.300s\n got  %.300s", n,
             rows, want, got);
    int padded = 0;
    for (const char *p = want; (p = strstr(p, "NULL|NULL")); p++)
        padded++;
    IT_CHECK(padded > 50, "only %d padded rows: the data should have alarms without a match", padded);
    printf("  streaming FULL OUTER JOIN: %d rows, %d of them padded\n", rows, padded);
    read_batch(c, OUTER_Q);                      /* batch: the same plus the closing rows' padding */
    size_t wl = strlen(want);                    /* the closing alarms of D7, D8 match nothing */
    for (int d = NDEV; d < ODEV; d++)
        wl += (size_t)snprintf(want + wl, sizeof want - wl, "A%d|D%d|NULL|NULL\n", N + d, d);
    sort_lines(want);
    IT_CHECK(!strcmp(got, want), "batch FULL OUTER JOIN:\n want %.300s\n got  %.300s", want, got);
    strom_client_close(pc);
}

/* 2: a continuous job over the join into a primary-key sink (alarm, status) survives
 * SIGKILLs: it starts over the rows of test 1, the server is killed three times while it
 * works, then N more rows per side come; the sink ends up with every pair of the 2 N rows
 * once (a pair written again after a restart replaces itself). A log-table sink is refused. */
static void test_job(strom_client **c)
{
    IT_OK(sqlit_run(*c, "CREATE TABLE jsink (alarm_id STRING, device_id STRING, device_status STRING, capacity "
                        "DOUBLE, PRIMARY KEY (alarm_id, device_status) NOT ENFORCED)", NULL, NULL, 0));
    IT_OK(sqlit_run(*c, "CREATE TABLE jlog (alarm_id STRING, device_id STRING, device_status STRING, capacity "
                        "DOUBLE)", NULL, NULL, 0));
    char q[1024], out[256];
    snprintf(q, sizeof q, "INSERT INTO jlog %s", S2);
    strom_err e = sqlit_run(*c, q, STREAMING, NULL, 0);
    IT_CHECK(e != STROM_OK && strstr(strom_errmsg(), "a job over a join of two streams writes into a primary-key "
                                                       "table"), "a join job into a log table: %s", strom_errmsg());
    snprintf(q, sizeof q, "INSERT INTO jsink %s", S2);
    IT_OK(sqlit_run(*c, q, STREAMING, out, sizeof out));
    IT_CHECK(!strncmp(out, "job-", 4), "the join job's id: %s", out);
    static const int after_ms[] = {3, 15, 40};
    for (int k = 0; k < 3; k++) {                /* kills while the job works */
        strom_client_close(*c);
        usleep(after_ms[k] * 1000);
        IT_CHECK(st_stop(&SRV, SIGKILL) == 128 + SIGKILL, "killed");
        st_start(&SRV, DIR_, NULL);
        *c = sqlit_client(SRV.port);
    }
    strom_client *pc = sqlit_client(SRV.port);
    strom_producer *pa = NULL, *ps = NULL;
    IT_OK(strom_producer_create(pc, "alarm_stream", NULL, NULL, 0, &pa));
    IT_OK(strom_producer_create(pc, "device_status_stream", NULL, NULL, 0, &ps));
    produce_pairs(pa, ps, N, 2 * N);
    strom_client_close(pc);
    int rows = expect_n(2 * N);
    const char *sq = "SELECT alarm_id, device_id, device_status, CAST(capacity AS INTEGER) FROM jsink";
    int64_t until = strom_mono_ns() + (int64_t)60 * 1000000000;
    do {                                         /* the job catches up */
        read_batch(*c, sq);
        if (!strcmp(got, want))
            break;
        usleep(100000);
    } while (strom_mono_ns() < until);
    IT_CHECK(!strcmp(got, want), "the join job's sink (want %d rows):\n want %.300s\n got  %.300s", rows, want,
             got);
    IT_OK(sqlit_run(*c, "SHOW JOBS", NULL, jobs_text, sizeof jobs_text));
    IT_CHECK(strstr(jobs_text, "|RUNNING|") && strstr(jobs_text, "|alarm_stream:") &&
             strstr(jobs_text, "|device_status_stream:"), "SHOW JOBS: %s", jobs_text);
    printf("  join job after 3 SIGKILLs: %d pairs in the sink, each once\n", rows);
}

int main(void)
{
    it_mktemp(DIR_, sizeof DIR_, "strom-sqljoin-");
    printf("test_sql_join: data %s\n", DIR_);
    st_start(&SRV, DIR_, NULL);
    strom_client *c = sqlit_client(SRV.port);
    test_streaming_join(c);
    test_streaming_outer(c);
    test_job(&c);
    strom_client_close(c);
    IT_CHECK(st_stop(&SRV, SIGTERM) == 0, "clean stop");
    it_rmtree(DIR_);
    printf("test_sql_join: ok\n");
    return 0;
}
