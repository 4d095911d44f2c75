/*
 * test_sql_join.c: the seed's statement 2 (a join of two streams) against the real server,
 * checked against the join computed here from the rows the test produced.
 *  1. The seed's alarm_stream and device_status_stream (two buckets each) are created; the
 *     statement runs in streaming mode; alarms and status rows are then produced by two
 *     producers, interleaved in small acknowledged batches, times rising on each side. Every
 *     pair the condition matches comes out once (and no more rows come); batch mode over
 *     the same rows gives the same answer.
 *  2. A join of two streams as a continuous job is refused with a message.
 */
#define _GNU_SOURCE
#include "sqlit.h"

#include "../unit/sql/seed_ddl.h"   /* GRID_DDL: the grid tables */

#define BASE_MS 1736776800000LL     /* 2025-01-13 14:00:00 */
#define N 600                       /* rows per side */
#define NDEV 7

static st_server SRV;
static char DIR_[256];
static char got[1 << 20], want[1 << 20];
static const char *const STREAMING[] = {"execution.runtime-mode", "streaming", NULL};
static const char *const BATCH[] = {"execution.runtime-mode", "batch", NULL};

#define S2 SEED_WINDOW_JOIN

/* Alarm i: device i*3 % NDEV, every 2 s; status j: device j*5 % NDEV, every 2.5 s. */
static int64_t alarm_time(int i) { return BASE_MS + 2000LL * i; }
static int64_t status_time(int j) { return BASE_MS + 2500LL * j; }
static int alarm_dev(int i) { return i * 3 % NDEV; }
static int status_dev(int j) { return j * 5 % NDEV; }

/* The rows of b as "alarm|device|status|capacity\n" (capacity an integer-valued DOUBLE). */
static void batch_text(const strom_batch *b, char *out, size_t cap, size_t *w)
{
    for (int64_t i = 0; b && i < strom_batch_nrows(b) && *w + 128 < cap; i++) {
        size_t n0, n1, n2;
        const char *a = strom_batch_get_str(b, 0, i, &n0), *d = strom_batch_get_str(b, 1, i, &n1),
                   *s = strom_batch_get_str(b, 2, i, &n2);
        *w += (size_t)snprintf(out + *w, cap - *w, "%.*s|%.*s|%.*s|%.0f\n", (int)n0, a, (int)n1, d, (int)n2, s,
                               strom_batch_get_f64(b, 3, i));
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

/* The join computed here, sorted; the number of rows. */
static int expect(void)
{
    size_t w = 0;
    int n = 0;
    want[0] = '\0';
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (alarm_dev(i) == status_dev(j) && alarm_time(i) >= status_time(j) - 300000 &&
                alarm_time(i) <= status_time(j) + 60000) {
                w += (size_t)snprintf(want + w, sizeof want - w, "A%d|D%d|S%d|%d\n", i, alarm_dev(i), j, j);
                n++;
            }
    sort_lines(want);
    return n;
}

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

/* 1: streaming = batch = the join computed here. */
static void test_streaming_join(strom_client *c)
{
    for (size_t i = 0; i < 2; i++)
        IT_OK(sqlit_run(c, GRID_DDL[i], NULL, NULL, 0));
    int rows = expect();
    strom_sql_cursor *r = NULL;
    IT_OK(strom_client_sql_execute(c, S2, strlen(S2), STREAMING, &r));
    strom_client *pc = sqlit_client(SRV.port);
    strom_producer *pa = NULL, *ps = NULL;
    IT_OK(strom_producer_create(pc, "alarm_stream", NULL, NULL, 0, &pa));
    IT_OK(strom_producer_create(pc, "device_status_stream", NULL, NULL, 0, &ps));
    for (int k = 0; k < N; k += 20) {            /* interleaved: 20 alarms, then 20 status rows */
        for (int i = k; i < k + 20; i++)
            send_alarm(pa, i);
        IT_OK(strom_producer_flush(pa));
        for (int j = k; j < k + 20; j++)
            send_status(ps, j);
        IT_OK(strom_producer_flush(ps));
    }
    IT_OK(strom_producer_close(pa));
    IT_OK(strom_producer_close(ps));
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
    IT_CHECK(!strcmp(got, want), "streaming join (%d rows, want %d):\n want %.300s\n got  %.300s", n, rows, want,
             got);
    printf("  streaming join: %d rows, each pair once\n", rows);
    strom_sql_cursor *bq = NULL;                 /* batch: the same */
    IT_OK(strom_client_sql_execute(c, S2, strlen(S2), BATCH, &bq));
    w = 0;
    got[0] = '\0';
    while (!strom_client_sql_done(bq)) {
        IT_OK(strom_client_sql_next(bq, 1000, &b));
        batch_text(b, got, sizeof got, &w);
    }
    strom_client_sql_close(bq);
    sort_lines(got);
    IT_CHECK(!strcmp(got, want), "batch join:\n want %.300s\n got  %.300s", want, got);
    strom_client_close(pc);
}

/* 2: no continuous job over a join of two streams (yet). */
static void test_no_job(strom_client *c)
{
    IT_OK(sqlit_run(c, "CREATE TABLE jsink (alarm_id STRING PRIMARY KEY, device_id STRING, device_status STRING, "
                       "capacity DOUBLE)", NULL, NULL, 0));
    char q[1024];
    snprintf(q, sizeof q, "INSERT INTO jsink %s", S2);
    strom_err e = sqlit_run(c, q, STREAMING, NULL, 0);
    IT_CHECK(e != STROM_OK && strstr(strom_errmsg(), "a join of two streams runs as a query"),
             "a job over a join of two streams: %s", strom_errmsg());
}

int main(void)
{
    it_mktemp(DIR_, sizeof DIR_, "strom-sqljoin-");
    printf("test_sql_join: data %s\n", DIR_);
    st_start(&SRV, DIR_, NULL);
    strom_client *c = sqlit_client(SRV.port);
    test_streaming_join(c);
    test_no_job(c);
    strom_client_close(c);
    IT_CHECK(st_stop(&SRV, SIGTERM) == 0, "clean stop");
    it_rmtree(DIR_);
    printf("test_sql_join: ok\n");
    return 0;
}
