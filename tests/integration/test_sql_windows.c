/*
 * test_sql_windows.c: windowed aggregates against the real server, checked against
 * aggregates computed here from the rows the test produced.
 *  1. Streaming SELECT with TUMBLE (10 s windows, WATERMARK delay 2 s) over a one-bucket
 *     table: rows arrive out of order (up to 1 s, within the delay) and a few arrive 30 s
 *     late. Each window is emitted once, after the watermark passed its end, with the
 *     late rows left out; a row far ahead closes them all. The same statement in batch
 *     mode gives every window over what is stored (late rows in). The legacy form
 *     GROUP BY TUMBLE(...) with TUMBLE_START gives the batch answer too.
 *  2. A continuous job with HOP (10 s sliding by 5 s) over a three-bucket table into a
 *     primary-key sink (window_start, device_id), and the same into a log sink (each
 *     window's rows exactly once, no key to absorb a repeat): the server is SIGKILLed four
 *     times while
 *     rows come in; the sink ends up with every window's aggregate, as computed here (no
 *     row late: the producer appends each bucket in a request of its own, and a bucket's
 *     first rows, visible after another bucket's later ones, still find their windows open;
 *     one of the three buckets gets no device, and is idle after 30 s of event time).
 *  3. Bad input: a window without DESCRIPTOR, a non-constant size, a size that is not a
 *     multiple of the slide, an aggregate without a window in streaming mode.
 */
#define _GNU_SOURCE
#include "sqlit.h"

#define SIZE_MS 10000
#define BASE_MS 1736776800000LL   /* 2025-01-13 14:00:00 */
#define NROWS 2000
#define NDEV 5

static st_server SRV;
static char DIR_[256];
static char got[1 << 16], want[1 << 16];
static const char *const STREAMING[] = {"execution.runtime-mode", "streaming", NULL};
static const char *const BATCH[] = {"execution.runtime-mode", "batch", NULL};

static strom_client *client(void) { return sqlit_client(SRV.port); }

/* Row i: device D(i*7 % NDEV), v = i, time BASE + 50 i ms minus up to 999 ms (out of order). */
static int64_t time_of(int i) { return BASE_MS + 50LL * i - (int64_t)((i * 7919) % 1000); }
static int dev_of(int i) { return i * 7 % NDEV; }
/* Every 400th row is followed by a late one: device D1, v = -i, 30 s back. */
static int has_late(int i) { return i > 0 && i % 400 == 0; }

static void send_row(strom_producer *p, int dev, int64_t v, int64_t ts)
{
    char k[8];
    snprintf(k, sizeof k, "D%d", dev);
    strom_value row[3] = {{.type = STROM_STRING, .v.s = {k, strlen(k)}}, {.type = STROM_BIGINT, .v.i = v},
                          {.type = STROM_TIMESTAMP, .v.i = ts}};
    IT_OK(strom_producer_send(p, row, 3));
}

/* Rows [from, to) of table (with their late rows when late), acknowledged. */
static void produce(strom_client *c, const char *table, int from, int to, int late)
{
    strom_producer *p = NULL;
    IT_OK(strom_producer_create(c, table, NULL, NULL, 0, &p));
    for (int i = from; i < to; i++) {
        send_row(p, dev_of(i), i, time_of(i));
        if (late && has_late(i))
            send_row(p, 1, -i, time_of(i) - 30000);
        if (i % 100 == 99)
            IT_OK(strom_producer_flush(p));
    }
    IT_OK(strom_producer_close(p));
}

/* ------------------------------------------------- the expected windows */

typedef struct agg {
    int64_t start;
    int dev;
    int64_t n, sum;
} agg;

static agg AGG[8192];
static int NAGG;

static void add(int64_t start, int dev, int64_t v)
{
    for (int k = 0; k < NAGG; k++)
        if (AGG[k].start == start && AGG[k].dev == dev) {
            AGG[k].n++, AGG[k].sum += v;
            return;
        }
    AGG[NAGG++] = (agg){start, dev, 1, v};
}

static int agg_cmp(const void *a, const void *b)
{
    const agg *x = a, *y = b;
    return x->start != y->start ? (x->start < y->start ? -1 : 1) : x->dev - y->dev;
}

/* The windows (size, slide) of rows [0, n) (+ the late ones when late, + the closing row
 * when closer) as "start|Ddev|count|sum\n" lines sorted, into want. */
static void expect(int64_t size, int64_t slide, int n, int late, int closer)
{
    NAGG = 0;
    for (int i = 0; i < n + closer; i++) {
        int64_t ts = i < n ? time_of(i) : time_of(n) + 60000;
        int dev = i < n ? dev_of(i) : 0;
        int64_t v = i < n ? i : -1;
        for (int64_t s = ts - ts % slide; s > ts - size; s -= slide)
            add(s, dev, v);
        if (late && i < n && has_late(i))
            for (int64_t s = (ts - 30000) - (ts - 30000) % slide; s > ts - 30000 - size; s -= slide)
                add(s, 1, -i);
    }
    qsort(AGG, (size_t)NAGG, sizeof *AGG, agg_cmp);
    size_t w = 0;
    for (int k = 0; k < NAGG; k++)
        w += (size_t)snprintf(want + w, sizeof want - w, "%lld|D%d|%lld|%lld\n", (long long)AGG[k].start,
                              AGG[k].dev, (long long)AGG[k].n, (long long)AGG[k].sum);
}

static int str_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorts the lines of text in place. */
static void sort_lines(char *text)
{
    static char *line[8192];
    static char copy[1 << 16];
    snprintf(copy, sizeof copy, "%s", text);
    int n = 0;
    for (char *s = strtok(copy, "\n"); s && n < 8192; s = strtok(NULL, "\n"))
        line[n++] = s;
    qsort(line, (size_t)n, sizeof *line, str_cmp);
    size_t w = 0;
    text[0] = '\0';
    for (int k = 0; k < n; k++)
        w += (size_t)snprintf(text + w, sizeof copy - w, "%s\n", line[k]);
}

/* When want and got (lines in the same sorted order) differ: every line only in want ("-")
 * and every line only in got ("+") on stderr, then the line counts. Returns 1 when they differ. */
static int print_diff(const char *what, const char *w, const char *g)
{
    if (!strcmp(w, g))
        return 0;
    int nw = 0, ng = 0;
    fprintf(stderr, "%s: want (-) vs got (+), the differing lines:\n", what);
    while (*w || *g) {
        size_t lw = strcspn(w, "\n"), lg = strcspn(g, "\n");
        /* '\n' and '\0' sort before any printable byte: a line before its extensions */
        int c = !*w ? 1 : !*g ? -1 : strncmp(w, g, (lw > lg ? lw : lg) + 1);
        if (c < 0)
            fprintf(stderr, "  - %.*s\n", (int)lw, w);
        if (c > 0)
            fprintf(stderr, "  + %.*s\n", (int)lg, g);
        if (c <= 0)
            w += lw + (w[lw] == '\n'), nw++;
        if (c >= 0)
            g += lg + (g[lg] == '\n'), ng++;
    }
    fprintf(stderr, "%s: %d lines wanted, %d got\n", what, nw, ng);
    return 1;
}

/* ------------------------------------------------------------- the tests */

#define TUMBLE_Q "SELECT window_start, device_id, count(*), sum(v) FROM TABLE(TUMBLE(TABLE s1, " \
                 "DESCRIPTOR(event_time), INTERVAL '10' SECOND)) GROUP BY window_start, window_end, device_id"

/* 1: streaming TUMBLE vs batch vs the independent answer. */
static void test_streaming_tumble(strom_client *c)
{
    IT_OK(sqlit_run(c, "CREATE TABLE s1 (device_id STRING, v BIGINT, event_time TIMESTAMP(3), WATERMARK FOR "
                       "event_time AS event_time - INTERVAL '2' SECOND) WITH ('bucket.num' = '1')", NULL, NULL, 0));
    strom_sql_cursor *r = NULL;
    IT_OK(strom_client_sql_execute(c, TUMBLE_Q, strlen(TUMBLE_Q), STREAMING, &r));
    strom_client *pc = client();
    produce(pc, "s1", 0, NROWS, 1);
    strom_producer *p = NULL;                       /* the row far ahead closes every window */
    IT_OK(strom_producer_create(pc, "s1", NULL, NULL, 0, &p));
    send_row(p, 0, -1, time_of(NROWS) + 60000);
    IT_OK(strom_producer_close(p));
    expect(SIZE_MS, SIZE_MS, NROWS, 0, 0);
    int lines = NAGG;
    size_t w = 0;
    got[0] = '\0';
    int64_t until = strom_mono_ns() + (int64_t)60 * 1000000000;
    int n = 0;
    while (n < lines && strom_mono_ns() < until) {
        const strom_batch *b = NULL;
        IT_OK(strom_client_sql_next(r, 500, &b));
        n += b ? (int)strom_batch_nrows(b) : 0;
        sqlit_batch_text(b, got, sizeof got, &w);
    }
    const strom_batch *b = NULL;                    /* nothing more: the last window is open */
    IT_OK(strom_client_sql_next(r, 300, &b));
    IT_CHECK(!b || strom_batch_nrows(b) == 0, "a row of a window still open was emitted");
    strom_client_sql_close(r);
    static char want_sorted[1 << 16];
    snprintf(want_sorted, sizeof want_sorted, "%s", want);
    sort_lines(got);                                /* emitted by window, then group */
    sort_lines(want_sorted);
    IT_CHECK(!print_diff("streaming TUMBLE", want_sorted, got), "streaming TUMBLE: wrong windows (diff above)");
    printf("  streaming TUMBLE: %d windows, each once after its end, late rows left out\n", lines);
    /* batch: every window over what is stored, late rows and the last row included */
    expect(SIZE_MS, SIZE_MS, NROWS, 1, 1);
    IT_OK(sqlit_run(c, TUMBLE_Q " ORDER BY window_start, device_id", BATCH, got, sizeof got));
    IT_CHECK(!print_diff("batch TUMBLE", want, got), "batch TUMBLE: wrong windows (diff above)");
    IT_OK(sqlit_run(c, "SELECT TUMBLE_START(event_time, INTERVAL '10' SECOND) AS ws, device_id, count(*), sum(v) "
                       "FROM s1 GROUP BY TUMBLE(event_time, INTERVAL '10' SECOND), device_id ORDER BY ws, device_id",
                    BATCH, got, sizeof got));
    IT_CHECK(!print_diff("legacy TUMBLE", want, got), "legacy TUMBLE: wrong windows (diff above)");
    strom_client_close(pc);
}

#define HOP_JOB "INSERT INTO hsink SELECT window_start, device_id, count(*), sum(v) FROM TABLE(HOP(TABLE s3, " \
                "DESCRIPTOR(event_time), INTERVAL '5' SECOND, INTERVAL '10' SECOND)) GROUP BY window_start, " \
                "window_end, device_id"

#define HOP_LOG_JOB "INSERT INTO hlog SELECT window_start, device_id, count(*), sum(v) FROM TABLE(HOP(TABLE s3, " \
                    "DESCRIPTOR(event_time), INTERVAL '5' SECOND, INTERVAL '10' SECOND)) GROUP BY window_start, " \
                    "window_end, device_id"

/* The sink table's windows ("start|Ddev|count|sum" lines, ordered) equal want, waiting
 * for the job to catch up (60 s at most). */
static void check_sink_windows(strom_client *c, const char *table, const char *what)
{
    char q[256];
    snprintf(q, sizeof q, "SELECT ws, device_id, n, total FROM %s ORDER BY ws, device_id, n, total", table);
    int64_t until = strom_mono_ns() + (int64_t)60 * 1000000000;
    do {
        IT_OK(sqlit_run(c, q, BATCH, got, sizeof got));
        if (!strcmp(got, want))
            break;
        usleep(200000);
    } while (strom_mono_ns() < until);
    IT_CHECK(!print_diff(what, want, got), "%s: the sink differs from the windows computed here (diff above)", what);
}

/* 2: a HOP job into a primary-key sink, and one into a log sink (each window's rows exactly
 * once: no key absorbs a repeat), across SIGKILLs. */
static strom_client *test_hop_job(strom_client *c)
{
    IT_OK(sqlit_run(c, "CREATE TABLE s3 (device_id STRING, v BIGINT, event_time TIMESTAMP(3), WATERMARK FOR "
                       "event_time AS event_time - INTERVAL '2' SECOND) WITH ('bucket.num' = '3', "
                       "'bucket.key' = 'device_id')", NULL, NULL, 0));
    IT_OK(sqlit_run(c, "CREATE TABLE hsink (ws TIMESTAMP(3), device_id STRING, n BIGINT, total BIGINT, "
                       "PRIMARY KEY (ws, device_id) NOT ENFORCED)", NULL, NULL, 0));
    IT_OK(sqlit_run(c, "CREATE TABLE hlog (ws TIMESTAMP(3), device_id STRING, n BIGINT, total BIGINT) WITH "
                       "('bucket.num' = '2', 'bucket.key' = 'device_id')", NULL, NULL, 0));
    IT_OK(sqlit_run(c, HOP_JOB, STREAMING, got, sizeof got));
    IT_CHECK(!strncmp(got, "job-", 4), "the job's id: %s", got);
    IT_OK(sqlit_run(c, HOP_LOG_JOB, STREAMING, got, sizeof got));
    IT_CHECK(!strncmp(got, "job-", 4), "the log job's id: %s", got);
    static const int after_ms[] = {0, 5, 20, 1};
    for (int part = 0; part < 4; part++) {      /* kills just after a part, or while the jobs work on it */
        produce(c, "s3", part * NROWS / 6, (part + 1) * NROWS / 6, 0);
        strom_client_close(c);
        usleep(after_ms[part] * 1000);
        IT_CHECK(st_stop(&SRV, SIGKILL) == 128 + SIGKILL, "killed");
        st_start(&SRV, DIR_, NULL);
        c = client();
    }
    produce(c, "s3", 4 * NROWS / 6, NROWS, 0);
    strom_producer *p = NULL;
    IT_OK(strom_producer_create(c, "s3", NULL, NULL, 0, &p));
    for (int d = 0; d < NDEV; d++)             /* every bucket's watermark past the end */
        send_row(p, d, -1, time_of(NROWS) + 60000);
    IT_OK(strom_producer_close(p));
    expect(SIZE_MS, SIZE_MS / 2, NROWS, 0, 0);
    check_sink_windows(c, "hsink", "HOP job after four SIGKILLs");
    check_sink_windows(c, "hlog", "HOP job into a log table after four SIGKILLs");
    printf("  HOP jobs into a primary-key and a log sink: %d windows right (each once) after four SIGKILLs\n", NAGG);
    return c;
}

/* 3: bad input is refused with the place. */
static void test_bad_input(strom_client *c)
{
    static const struct { const char *q, *msg; } bad[] = {
        {"SELECT count(*) FROM TABLE(TUMBLE(TABLE s1, event_time, INTERVAL '1' MINUTE)) GROUP BY window_start",
         "DESCRIPTOR"},
        {"SELECT count(*) FROM TABLE(TUMBLE(TABLE s1, DESCRIPTOR(event_time), 60000)) GROUP BY window_start",
         "constant INTERVAL"},
        {"SELECT count(*) FROM TABLE(HOP(TABLE s1, DESCRIPTOR(event_time), INTERVAL '40' SECOND, INTERVAL '1' "
         "MINUTE)) GROUP BY window_start", "multiple of the slide"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        strom_err e = sqlit_run(c, bad[k].q, BATCH, NULL, 0);
        IT_CHECK(e == STROM_EINVAL && strstr(strom_errmsg(), bad[k].msg) && strstr(strom_errmsg(), "column"),
                 "%s: %s", bad[k].q, strom_errmsg());
    }
    strom_err e = sqlit_run(c, "SELECT device_id, count(*) FROM s1 GROUP BY device_id", STREAMING, NULL, 0);
    IT_CHECK(e == STROM_EUNSUPPORTED && strstr(strom_errmsg(), "window"), "unbounded aggregate: %s",
             strom_errmsg());
}

int main(void)
{
    it_mktemp(DIR_, sizeof DIR_, "strom-sqlwin-");
    printf("test_sql_windows: data %s\n", DIR_);
    st_start(&SRV, DIR_, NULL);
    strom_client *c = client();
    test_streaming_tumble(c);
    test_bad_input(c);
    c = test_hop_job(c);
    strom_client_close(c);
    IT_CHECK(st_stop(&SRV, SIGTERM) == 0, "clean stop");
    it_rmtree(DIR_);
    printf("test_sql_windows: ok\n");
    return 0;
}
