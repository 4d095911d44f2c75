/* bench_sql_stream.c: the seed's statement 3 as a streaming query in a server (part of
 * `strom bench sql`; method in bench/README.md). A child `strom server` holds the versioned
 * device dimension (devices x 2 versions, all older than the alarms) and an alarm log
 * ('table.log.flush' = 'interval': the delay measured is the query's, not the disk's fsync).
 * One connection runs statement 3, verbatim, in streaming mode from the log's end; a
 * producer (client library, its own connection) appends alarms:
 *   latency   one alarm at a time, about 1000 per second; per alarm the delay from the
 *             producer's send call to the enriched row reaching the query's client
 *             (lookup_join_p50_ms / _p99_ms)
 *   rate      alarms as fast as the producer sends them (batches of 4096); enriched rows
 *             per second from the first send to the last row received
 *             (lookup_join_alarms_per_s)
 * Every alarm must come back exactly once, enriched (its device has a version). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common/common.h"
#include "strom/client.h"

#define STREAM_Q "SELECT a.alarm_id, a.device_id, d.device_status, d.capacity, d.last_maintenance\n" \
                 "FROM alarm_stream a\n"                                                           \
                 "JOIN device_dimension_table FOR SYSTEM_TIME AS OF a.event_time AS d\n"          \
                 "ON a.device_id = d.device_id\n"

typedef struct sstream {
    const char *addr;
    int64_t devices, nlat, nrate;
    int64_t *sent_ns;          /* latency alarms: send time by index */
    double *delay_ms;
    int64_t got_lat, got_rate, got_warm, bad;
    int64_t rate_t0, rate_t1;
    strom_client *qc;
    strom_sql_cursor *cur;
} sstream;

static int64_t mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static strom_err exec_sql(strom_client *c, const char *q)
{
    strom_sql_cursor *r = NULL;
    strom_err e = strom_client_sql_execute(c, q, strlen(q), NULL, &r);
    strom_client_sql_close(r);
    return e;
}

static strom_err setup(sstream *s, strom_client *c)
{
    strom_err e = exec_sql(c, "CREATE TABLE alarm_stream (alarm_id STRING, device_id STRING, "
                              "event_time TIMESTAMP(3), WATERMARK FOR event_time AS event_time) WITH "
                              "('bucket.num' = '2', 'bucket.key' = 'device_id', 'table.log.flush' = 'interval')");
    if (e == STROM_OK)
        e = exec_sql(c, "CREATE TABLE device_dimension_table (device_id STRING, device_status STRING, "
                        "capacity DOUBLE, last_maintenance TIMESTAMP(3), update_time TIMESTAMP(3), "
                        "PRIMARY KEY (device_id) NOT ENFORCED, WATERMARK FOR update_time AS update_time) "
                        "WITH ('bucket.num' = '2')");
    strom_buf q = {0};
    for (int64_t d = 0; e == STROM_OK && d < 2 * s->devices; d++) {
        char row[200];
        if (q.len == 0)
            strom_buf_append(&q, "INSERT INTO device_dimension_table VALUES ", 42);
        snprintf(row, sizeof row, "%s('DEV_%06lld', '%s', %lld.5, TIMESTAMP '2024-06-01 00:00:00', "
                 "TIMESTAMP '2025-01-0%lld 00:00:00')", q.len > 42 ? ", " : "", (long long)(d % s->devices),
                 d < s->devices ? "normal" : "overload", (long long)(d % 500), (long long)(1 + d / s->devices));
        e = strom_buf_append(&q, row, strlen(row));
        if (e == STROM_OK && (d % 2000 == 1999 || d + 1 == 2 * s->devices)) {
            e = strom_buf_append(&q, "", 1);
            if (e == STROM_OK)
                e = exec_sql(c, (const char *)q.data);
            strom_buf_clear(&q);
        }
    }
    strom_buf_free(&q);
    return e;
}

/* The query side: reads enriched rows, matching each to its alarm. */
static void take_rows(sstream *s, const strom_batch *b)
{
    int64_t now = mono();
    for (int64_t r = 0; r < strom_batch_nrows(b); r++) {
        size_t len;
        const char *p = strom_batch_get_str(b, 0, r, &len);
        char id[24];                       /* the value is not NUL-terminated */
        snprintf(id, sizeof id, "%.*s", (int)(len < 23 ? len : 23), p);
        int64_t i = len > 1 ? atoll(id + 1) : -1;
        if (id[0] == 'L' && i >= 0 && i < s->nlat && s->delay_ms[i] < 0) {
            s->delay_ms[i] = (double)(now - s->sent_ns[i]) / 1e6;
            s->got_lat++;
        } else if (id[0] == 'R' && i >= 0 && i < s->nrate) {
            s->got_rate++;
            s->rate_t1 = now;
        } else if (id[0] == 'W') {
            __atomic_add_fetch(&s->got_warm, 1, __ATOMIC_RELAXED);
        } else {
            s->bad++;
        }
    }
}

static void *query_main(void *arg)
{
    sstream *s = arg;
    int64_t until = mono() + (int64_t)600 * 1000000000;
    while ((s->got_lat < s->nlat || s->got_rate < s->nrate) && mono() < until) {
        const strom_batch *b = NULL;
        if (strom_client_sql_next(s->cur, 200, &b) != STROM_OK)
            break;
        if (b)
            take_rows(s, b);
    }
    return NULL;
}

static strom_err send_alarm(strom_producer *p, char kind, int64_t i, int64_t dev)
{
    char id[24], name[24];
    snprintf(id, sizeof id, "%c%09lld", kind, (long long)i);
    snprintf(name, sizeof name, "DEV_%06lld", (long long)dev);
    strom_value v[3] = {{.type = STROM_STRING, .v.s = {id, strlen(id)}},
                        {.type = STROM_STRING, .v.s = {name, strlen(name)}},
                        {.type = STROM_TIMESTAMP, .v.i = strom_now_ms()}};
    return strom_producer_send(p, v, 3);
}

static strom_err produce(sstream *s, strom_client *pc)
{
    strom_producer_opts po = {.linger_ms = -1};
    strom_producer *p = NULL;
    strom_err e = strom_producer_create(pc, "alarm_stream", &po, NULL, 0, &p);
    /* 'latest' is the end of the log when the query's scan starts, a moment after
     * EXECUTE_SQL answered: warm-up alarms until one comes back, then the timed ones */
    for (int64_t i = 0; e == STROM_OK && !__atomic_load_n(&s->got_warm, __ATOMIC_RELAXED) && i < 1000; i++) {
        e = send_alarm(p, 'W', i, 0);
        usleep(10000);
    }
    for (int64_t i = 0; e == STROM_OK && i < s->nlat; i++) {
        s->sent_ns[i] = mono();
        e = send_alarm(p, 'L', i, (i * 7919) % s->devices);
        usleep(1000);
    }
    if (e == STROM_OK)
        e = strom_producer_flush(p);
    while (e == STROM_OK && __atomic_load_n(&s->got_lat, __ATOMIC_RELAXED) < s->nlat && mono() - s->sent_ns[s->nlat - 1] < (int64_t)5e9)
        usleep(1000);                      /* the latency rows first, then the rate phase */
    s->rate_t0 = mono();
    for (int64_t i = 0; e == STROM_OK && i < s->nrate; i++)
        e = send_alarm(p, 'R', i, (i * 104729) % s->devices);
    strom_err fe = strom_producer_close(p);
    return e != STROM_OK ? e : fe;
}

static strom_err run(sstream *s)
{
    strom_client *pc = NULL;
    strom_err e = strom_client_connect(s->addr, NULL, &s->qc);
    if (e == STROM_OK)
        e = strom_client_connect(s->addr, NULL, &pc);
    if (e == STROM_OK)
        e = setup(s, pc);
    const char *set[] = {"execution.runtime-mode", "streaming", "scan.startup.mode", "latest", NULL};
    if (e == STROM_OK)
        e = strom_client_sql_execute(s->qc, STREAM_Q, strlen(STREAM_Q), set, &s->cur);
    pthread_t th;
    int started = e == STROM_OK && pthread_create(&th, NULL, query_main, s) == 0;
    if (e == STROM_OK && !started)
        e = strom_fail(STROM_ENOMEM, "cannot start the query thread");
    if (e == STROM_OK)
        e = produce(s, pc);
    if (started)
        pthread_join(th, NULL);
    strom_client_sql_close(s->cur);
    strom_client_close(s->qc);
    strom_client_close(pc);
    return e;
}

int bench_sql_stream(const char *dir, int quick, int64_t devices, bench_stream_result *out)
{
    sstream s = {.devices = devices, .nlat = quick ? 2000 : 10000, .nrate = quick ? 100000 : 1000000};
    s.sent_ns = calloc((size_t)s.nlat, sizeof *s.sent_ns);
    s.delay_ms = calloc((size_t)s.nlat, sizeof *s.delay_ms);
    for (int64_t i = 0; s.delay_ms && i < s.nlat; i++)
        s.delay_ms[i] = -1;
    char data[600], addr[128];
    snprintf(data, sizeof data, "%s/stream", dir);
    pid_t pid = 0;
    int rc = s.sent_ns && s.delay_ms ? bench_server_spawn(data, &pid, addr, sizeof addr)
                                     : cli_errorf("out of memory");
    s.addr = addr;
    strom_err e = rc == CLI_OK ? run(&s) : STROM_OK;
    bench_server_stop(&pid);
    if (rc == CLI_OK && e != STROM_OK)
        rc = cli_fail(e, "streaming lookup join");
    if (rc == CLI_OK && (s.got_lat != s.nlat || s.got_rate != s.nrate || s.bad))
        rc = cli_errorf("streaming lookup join: %lld of %lld timed alarms and %lld of %lld others came "
                        "back, %lld unexpected rows", (long long)s.got_lat, (long long)s.nlat,
                        (long long)s.got_rate, (long long)s.nrate, (long long)s.bad);
    if (rc == CLI_OK) {
        out->latency_alarms = s.nlat;
        out->rate_alarms = s.nrate;
        out->alarms_per_s = (double)s.nrate / ((double)(s.rate_t1 - s.rate_t0) / 1e9);
        out->p50_ms = cli_percentile(s.delay_ms, s.nlat, 0.50);
        out->p99_ms = cli_percentile(s.delay_ms, s.nlat, 0.99);
    }
    free(s.sent_ns);
    free(s.delay_ms);
    return rc;
}
