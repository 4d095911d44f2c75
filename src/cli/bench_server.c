/*
 * bench_server.c: `strom bench server [--quick] [--json]`: the server and the client
 * library over loopback, in one run. It starts `strom server --port 0` (this binary) on a
 * fresh data directory and measures, with the client library:
 *  - ingest_rows_per_s: 20-column telemetry (telemetry.h) through --threads producers (2),
 *    each a thread with its own connection and share of the devices, generating its rows
 *    (strom_producer_send_batch, builders of 8192 rows), acks after the durable append;
 *  - e2e_p50/p99/p999_ms: produce -> subscriber receipt at a steady rate (batches of 100
 *    rows every millisecond = 100,000 rows/s), each row carrying its send time (monotonic
 *    clock, same machine); the subscriber long-polls from the latest offset. Readers see
 *    rows once acknowledged, on a default table after the fsync (group commit), so this
 *    includes the disk's fsync latency; e2e_interval_*: the same on a table with
 *    table.log.flush=interval (acknowledged and visible after the write, fsync every
 *    second in the background);
 *  - lookup_qps, lookup_p99_ms: point lookups of random keys of a device table, one key
 *    per request, 50 connections driven from one thread over the native protocol, one
 *    request outstanding per connection (the way redis-benchmark drives Redis), every
 *    answer checked; lookup_batch16_keys_per_s: the same with 16 keys per request;
 *  - client_lookup_qps, client_lookup_p99_ms, client_batch16_keys_per_s: the same through
 *    the client library (strom_lookuper_get / _get_batch), 50 connections, one thread
 *    each (on 2 cores the 50 client threads' switches cost more than the server does);
 *  - with redis-server on PATH: a private redis-server on a free port, loaded with the same
 *    key count and value size, and redis-benchmark GET with 50 connections, unpipelined
 *    (redis_get_qps, and its request p99 redis_get_p99_ms) and with -P 16
 *    (redis_get_p16_qps); ratios lookup_vs_redis and batch16_vs_redis_p16.
 * Before the lookups of a whole run the data directory is written back (syncfs), so the
 * kernel's writeback of the earlier parts does not run during them.
 * The clients run on the same machine (and cores) as the servers, Redis's too.
 * The table is printed first, the JSON object (--json) last. Floors are printed next to
 * the figures; the exit code is 0 unless something failed to run.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_client.h"
#include "proto/proto.h"
#include "telemetry.h"

#define NCONN 50

typedef struct sb_ctx {
    int quick, json;
    const char *only; /* --only: "ingest", "e2e", "lookup" or NULL (all) */
    char dir[512], addr[64], redis_port[16];
    pid_t server, redis;
    int64_t ingest_rows, keys, value_bytes, threads;
    double ingest_rows_per_s, e2e[3], e2e_interval[3], lookup_qps, lookup_p99_ms, batch16_keys_per_s;
    double client_qps, client_p99_ms, client_batch16_keys_per_s;
    double redis_qps, redis_p16_qps, redis_p99_ms;
    int have_redis;
} sb_ctx;

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int64_t n, double q)
{
    if (n <= 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[(int64_t)floor(q * (double)(n - 1))];
}

/* ------------------------------------------------------------ the server */

/* The server's command line: strom server --port 0 --data DIR, then the words of
 * STROM_BENCH_SERVER_ARGS (an experiment knob: e.g. "--io-sched-batch 1"; at most 16). */
static void server_argv(const char *data, char *words, char **argv)
{
    int n = 0;
    const char *fixed[] = {"strom", "server", "--port", "0", "--data"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        argv[n++] = (char *)fixed[i];
    argv[n++] = (char *)data;
    for (char *save = NULL, *w = strtok_r(words, " \t", &save); w && n < 22;
         w = strtok_r(NULL, " \t", &save))
        argv[n++] = w;
    argv[n] = NULL;
}

int bench_server_spawn(const char *data, pid_t *pid, char *addr, size_t cap)
{
    int pfd[2];
    char words[1024], *argv[24];
    const char *extra = getenv("STROM_BENCH_SERVER_ARGS");
    snprintf(words, sizeof words, "%s", extra ? extra : "");
    server_argv(data, words, argv);
    if (pipe(pfd) != 0)
        return cli_errorf("bench: pipe failed");
    if ((*pid = fork()) == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(pfd[1]);
    char buf[512];
    size_t n = 0;
    while (n < sizeof buf - 1 && !memchr(buf, '\n', n)) {
        ssize_t r = read(pfd[0], buf + n, sizeof buf - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(pfd[0]);
    buf[n] = '\0';
    const char *p = strstr(buf, "listening on ");
    char fmt[16];
    snprintf(fmt, sizeof fmt, "%%%zus", cap - 1);
    if (!p || sscanf(p + 13, fmt, addr) != 1)
        return cli_errorf("bench: the server did not start ('%s')", buf);
    return CLI_OK;
}

static int start_server(sb_ctx *c)
{
    char data[600];
    snprintf(data, sizeof data, "%s/data", c->dir);
    return bench_server_spawn(data, &c->server, c->addr, sizeof c->addr);
}

void bench_server_stop(pid_t *pid)
{
    if (*pid > 0) {
        kill(*pid, SIGTERM);
        waitpid(*pid, NULL, 0);
        *pid = 0;
    }
}

/* ------------------------------------------------------------ ingest */

/* One producer thread of the ingest: its own connection, its share [lo, hi) of the
 * devices, rows rows in builders of 8192. */
typedef struct ing_worker {
    sb_ctx *c;
    const tele_model *m;
    int64_t lo, hi, rows;
    strom_err err;
} ing_worker;

static void *ing_main(void *arg)
{
    ing_worker *w = arg;
    strom_client *cl = NULL;
    strom_producer *p = NULL;
    strom_client_opts co = {0};
    strom_builder *b = tele_builder_create();
    w->err = b ? strom_client_connect(w->c->addr, &co, &cl) : STROM_ENOMEM;
    if (w->err == STROM_OK)
        w->err = strom_producer_create(cl, "tele", NULL, NULL, 0, &p);
    tele_stream ts;
    tele_stream_init(&ts, w->m, w->lo, w->hi, 11 + (uint64_t)w->lo);
    for (int64_t done = 0; w->err == STROM_OK && done < w->rows; done += 8192) {
        strom_builder_reset(b);
        if ((w->err = tele_fill(&ts, b, STROM_MIN(8192, w->rows - done))) == STROM_OK)
            w->err = strom_producer_send_batch(p, b);
    }
    strom_err e2 = p ? strom_producer_close(p) : STROM_OK;
    w->err = w->err ? w->err : e2;
    if (w->err)
        fprintf(stderr, "strom: bench server: ingest: %s\n", strom_errmsg());
    strom_client_close(cl);
    strom_builder_destroy(b);
    return NULL;
}

static int bench_ingest(sb_ctx *c, strom_client *cl)
{
    strom_schema *s = tele_schema();
    const char *opts[] = {"bucket.num", "2", "bucket.key", "device_id", "table.time-column",
                          "event_time", NULL};
    strom_err e = strom_client_create_table(cl, "tele", s, opts, 0);
    strom_schema_destroy(s);
    tele_model *m = tele_model_create(c->quick ? 20000 : 200000, 7);
    ing_worker w[8];
    pthread_t th[8];
    int n = (int)c->threads;
    int64_t nd = m ? tele_model_ndevices(m) : 0;
    e = e ? e : m ? STROM_OK : STROM_ENOMEM;
    double t0 = cli_now();
    for (int i = 0; e == STROM_OK && i < n; i++) {
        w[i] = (ing_worker){.c = c, .m = m, .lo = nd * i / n, .hi = nd * (i + 1) / n,
                            .rows = c->ingest_rows / n + (i < c->ingest_rows % n)};
        pthread_create(&th[i], NULL, ing_main, &w[i]);
    }
    for (int i = 0; e == STROM_OK && i < n; i++) {
        pthread_join(th[i], NULL);
        e = e ? e : w[i].err;
    }
    c->ingest_rows_per_s = (double)c->ingest_rows / (cli_now() - t0);
    tele_model_destroy(m);
    return e ? cli_fail(e, "bench server: ingest") : CLI_OK;
}

/* ------------------------------------------------------------ end to end */

typedef struct e2e_sub {
    strom_subscriber *s;
    double *lat;
    int64_t n, want, batches; /* batches: record batches received (one per request) */
    volatile int ready;
    strom_err err;
} e2e_sub;

static void *e2e_reader(void *arg)
{
    e2e_sub *r = arg;
    pthread_setname_np(pthread_self(), "e2e-subscriber");
    r->ready = 1;
    int64_t idle = 0;
    while (r->n < r->want && idle < 40 && r->err == STROM_OK) {
        const strom_batch *b;
        r->err = strom_subscriber_poll(r->s, 100, &b, NULL);
        if (!b) {
            idle++;
            continue;
        }
        idle = 0;
        r->batches++;
        int64_t now = mono_ns();
        for (int64_t k = 0; k < strom_batch_nrows(b) && r->n < r->want; k++)
            r->lat[r->n++] = (double)(now - strom_batch_get_int(b, 1, k)) / 1e6;
    }
    return NULL;
}

static strom_schema *e2e_schema(void)
{
    strom_schema *s = strom_schema_create();
    strom_schema_add(s, "device", STROM_STRING, 1);
    strom_schema_add(s, "sent_ns", STROM_BIGINT, 1);
    strom_schema_add(s, "v", STROM_DOUBLE, 0);
    return s;
}

static strom_err e2e_table(strom_client *cl, const char *name, int durable)
{
    strom_schema *s = e2e_schema();
    const char *opts[] = {"bucket.num", "1", durable ? NULL : "table.log.flush", "interval", NULL};
    strom_err e = strom_client_create_table(cl, name, s, opts, 0);
    strom_schema_destroy(s);
    return e;
}

/* One producer of the end-to-end run: `rows` rows per millisecond for secs seconds from
 * start, one row at a time, each carrying its send time. With cl NULL it connects its own
 * client (a further producer: STROM_BENCH_E2E_PRODUCERS). */
typedef struct e2e_prod {
    sb_ctx *c;
    strom_client *cl;
    const char *table;
    int rows, secs;
    int64_t start, sent;
    strom_err err;          /* the first error (set before the run: not started) */
} e2e_prod;

/* A millisecond's rows as one batch (STROM_BENCH_E2E_BURSTS=batch): the same rows and send
 * times, handed over in one strom_producer_send_batch, so a burst is never split. */
static strom_err e2e_burst(e2e_prod *w, strom_producer *p, strom_builder *b)
{
    strom_err e = STROM_OK;
    strom_builder_reset(b);
    for (int k = 0; k < w->rows && e == STROM_OK; k++, w->sent++) {
        strom_builder_put_str(b, 0, "dev", 3);
        strom_builder_put_int(b, 1, mono_ns());
        strom_builder_put_f64(b, 2, (double)w->sent);
        e = strom_builder_end_row(b);
    }
    return e ? e : strom_producer_send_batch(p, b);
}

static strom_err e2e_rows(e2e_prod *w, strom_producer *p)
{
    strom_value v[3] = {{.type = STROM_STRING, .v.s = {"dev", 3}}, {.type = STROM_BIGINT},
                        {.type = STROM_DOUBLE}};
    strom_err e = STROM_OK;
    for (int k = 0; k < w->rows && e == STROM_OK; k++, w->sent++) {
        v[1].v.i = mono_ns();
        v[2].v.d = (double)w->sent;
        e = strom_producer_send(p, v, 3);
    }
    return e;
}

static void *e2e_send(void *arg)
{
    e2e_prod *w = arg;
    strom_producer_opts po = {.linger_ms = -1};
    strom_client *own = NULL;
    strom_producer *p = NULL;
    const char *mode = getenv("STROM_BENCH_E2E_BURSTS");
    strom_schema *sch = e2e_schema();
    strom_builder *b = mode && !strcmp(mode, "batch") ? strom_builder_create(sch) : NULL;
    strom_schema_destroy(sch);
    w->err = w->err ? w->err : w->cl ? STROM_OK : strom_client_connect(w->c->addr, NULL, &own);
    if (w->err == STROM_OK)
        w->err = strom_producer_create(w->cl ? w->cl : own, w->table, &po, NULL, 0, &p);
    for (int64_t tick = 0; p && w->err == STROM_OK && tick < (int64_t)w->secs * 1000; tick++) {
        int64_t at = w->start + tick * 1000000; /* a steady rate per millisecond */
        struct timespec ts = {at / 1000000000, at % 1000000000};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ; /* (sleeping, not spinning: the server shares the cores) */
        w->err = b ? e2e_burst(w, p, b) : e2e_rows(w, p);
    }
    strom_err e2 = p ? strom_producer_close(p) : STROM_OK;
    w->err = w->err ? w->err : e2;
    strom_builder_destroy(b);
    strom_client_close(own);
    return NULL;
}

/* Producers of the run: 1, or STROM_BENCH_E2E_PRODUCERS (1-8; an experiment: several
 * writers of one bucket, each on its own connection, sharing the 100 rows/ms). */
static int e2e_producers(void)
{
    const char *v = getenv("STROM_BENCH_E2E_PRODUCERS");
    int n = v ? atoi(v) : 1;
    return n < 1 ? 1 : n > 8 ? 8 : n;
}

/* durable: the table acknowledges (and shows readers) rows after fsync, as every table
 * by default; else table.log.flush=interval (fsync in the background, every second). */
static int bench_e2e(sb_ctx *c, strom_client *cl, int durable)
{
    const char *table = durable ? "lat" : "lat_interval";
    int secs = c->quick ? 2 : 10, np = e2e_producers();
    e2e_sub r = {.want = (int64_t)secs * 100000};
    r.lat = malloc(sizeof(double) * (size_t)r.want);
    strom_err e = r.lat ? e2e_table(cl, table, durable) : STROM_ENOMEM;
    if (e == STROM_OK && (e = strom_subscriber_create(cl, table, NULL, &r.s)) == STROM_OK)
        e = strom_subscriber_assign(r.s, -1, STROM_FROM_LATEST, 0);
    pthread_t th, pth[8];
    if (e == STROM_OK)
        pthread_create(&th, NULL, e2e_reader, &r);
    int64_t start = mono_ns(), sent = 0;
    e2e_prod w[8];
    for (int i = 0; i < np; i++) {
        w[i] = (e2e_prod){c, i ? NULL : cl, table, 100 / np + (i < 100 % np), secs, start, 0, e};
        if (i > 0 && e == STROM_OK)
            pthread_create(&pth[i], NULL, e2e_send, &w[i]);
    }
    e2e_send(&w[0]);
    for (int i = 0; i < np; i++) {
        if (i > 0 && e == STROM_OK)
            pthread_join(pth[i], NULL);
        e = e ? e : w[i].err;
        sent += w[i].sent;
    }
    double tclosed = cli_now();
    if (r.s && w[0].err == STROM_OK)
        pthread_join(th, NULL);
    printf("e2e (%s, %d producer%s): %lld rows sent, all acknowledged after %.2f s, all "
           "received after %.2f s, in %lld batches\n", table, np, np > 1 ? "s" : "",
           (long long)sent, tclosed - (double)start / 1e9, cli_now() - (double)start / 1e9,
           (long long)r.batches);
    e = e ? e : r.err;
    double *q = durable ? c->e2e : c->e2e_interval;
    q[0] = pct(r.lat, r.n, 0.50);
    q[1] = pct(r.lat, r.n, 0.99);
    q[2] = pct(r.lat, r.n, 0.999);
    int64_t got = r.n;
    strom_subscriber_close(r.s);
    free(r.lat);
    if (e)
        return cli_fail(e, "bench server: end to end");
    if (got < r.want)
        return cli_errorf("bench server: the subscriber got %lld of %lld rows", (long long)got,
                          (long long)r.want);
    return CLI_OK;
}

/* ------------------------------------------------------------ lookups */

static void key_name(char *buf, size_t n, int64_t i)
{
    snprintf(buf, n, "DEVICE_%07lld", (long long)i);
}

static int load_devices(sb_ctx *c, strom_client *cl)
{
    strom_schema *s = strom_schema_create();
    strom_schema_add(s, "device_id", STROM_STRING, 1);
    strom_schema_add(s, "feeder", STROM_STRING, 0);
    strom_schema_add(s, "rated_kw", STROM_DOUBLE, 0);
    const char *pk[] = {"device_id"};
    strom_schema_set_primary_key(s, pk, 1);
    const char *opts[] = {"bucket.num", "2", NULL};
    strom_err e = strom_client_create_table(cl, "devices", s, opts, 0);
    strom_producer *p = NULL;
    if (e == STROM_OK)
        e = strom_producer_create(cl, "devices", NULL, NULL, 0, &p);
    strom_builder *b = strom_builder_create(s);
    char key[32], feeder[32];
    for (int64_t i = 0; e == STROM_OK && i < c->keys; i++) {
        key_name(key, sizeof key, i);
        snprintf(feeder, sizeof feeder, "FEEDER_%04lld", (long long)(i / 50));
        strom_builder_put_str(b, 0, key, strlen(key));
        strom_builder_put_str(b, 1, feeder, strlen(feeder));
        strom_builder_put_f64(b, 2, 100.0 + (double)(i % 400));
        strom_builder_end_row(b);
        if (strom_builder_nrows(b) == 8192 || i + 1 == c->keys) {
            e = strom_producer_send_batch(p, b);
            strom_builder_reset(b);
        }
    }
    strom_err e2 = strom_producer_close(p);
    strom_builder_destroy(b);
    strom_schema_destroy(s);
    c->value_bytes = 12 + 12 + 8; /* DEVICE_nnnnnnn, FEEDER_nnnn, a double */
    e = e ? e : e2;
    return e ? cli_fail(e, "bench server: loading the device table") : CLI_OK;
}

typedef struct lk_worker {
    sb_ctx *c;
    int id, batch;
    double secs;
    int64_t done;
    double *lat;
    int64_t nlat, cap;
    strom_err err;
} lk_worker;

static void *lk_main(void *arg)
{
    lk_worker *w = arg;
    strom_client *cl = NULL;
    strom_lookuper *l = NULL;
    strom_client_opts co = {0};
    w->err = strom_client_connect(w->c->addr, &co, &cl);
    if (w->err == STROM_OK)
        w->err = strom_lookuper_create(cl, "devices", NULL, 0, &l);
    uint64_t rng = 0x9E3779B97F4A7C15ull * (uint64_t)(w->id + 1);
    char keys[16][32];
    strom_value v[16];
    uint8_t found[16];
    double end = cli_now() + w->secs;
    while (w->err == STROM_OK && cli_now() < end) {
        for (int k = 0; k < w->batch; k++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            key_name(keys[k], sizeof keys[k], (int64_t)(rng % (uint64_t)w->c->keys));
            v[k] = (strom_value){.type = STROM_STRING, .v.s = {keys[k], strlen(keys[k])}};
        }
        int64_t t0 = mono_ns();
        strom_batch *b = NULL;
        w->err = w->batch == 1 ? strom_lookuper_get(l, v, 1, 0, 0, &b)
                               : strom_lookuper_get_batch(l, v, 1, (size_t)w->batch, 0, 0, found, &b);
        if (w->err == STROM_OK && (!b || strom_batch_nrows(b) != w->batch)) {
            fprintf(stderr, "strom: bench server: a loaded key was not found\n");
            w->err = STROM_ENOTFOUND;
        }
        strom_batch_destroy(b);
        if (w->nlat < w->cap)
            w->lat[w->nlat++] = (double)(mono_ns() - t0) / 1e6;
        w->done += w->batch;
    }
    if (w->err && w->err != STROM_ENOTFOUND)
        fprintf(stderr, "strom: bench server: lookups: %s\n", strom_errmsg());
    strom_lookuper_close(l);
    strom_client_close(cl);
    return NULL;
}

/* NCONN threads with a connection each; returns keys/s, *p99 the request p99 (ms). */
static strom_err run_lookups(sb_ctx *c, int batch, double *keys_per_s, double *p99)
{
    lk_worker w[NCONN];
    pthread_t th[NCONN];
    double secs = c->quick ? 2 : 10;
    int64_t total = 0, nl = 0, cap = 400000;
    double *all = malloc(sizeof(double) * NCONN * (size_t)cap);
    if (!all)
        return STROM_ENOMEM;
    double t0 = cli_now();
    for (int i = 0; i < NCONN; i++) {
        w[i] = (lk_worker){.c = c, .id = i, .batch = batch, .secs = secs, .cap = cap,
                           .lat = all + (size_t)i * (size_t)cap};
        pthread_create(&th[i], NULL, lk_main, &w[i]);
    }
    strom_err e = STROM_OK;
    for (int i = 0; i < NCONN; i++) {
        pthread_join(th[i], NULL);
        total += w[i].done;
        e = e ? e : w[i].err;
    }
    double el = cli_now() - t0;
    for (int i = 0; i < NCONN; i++) /* gather latencies at the front */
        for (int64_t k = 0; k < w[i].nlat; k++)
            all[nl++] = w[i].lat[k];
    *keys_per_s = (double)total / el;
    *p99 = pct(all, nl, 0.99);
    free(all);
    return e;
}

/* ------------------------------------------------------------ lookups, one thread */

/* The lookup shape driven the way redis-benchmark drives Redis: NCONN
 * connections from one thread (epoll), each with one LOOKUP of `batch` random keys
 * outstanding; every answer is checked (all keys found, rows present). The frames are
 * the native protocol's (docs/protocol.md), encoded and decoded with proto.h. */
typedef struct raw_conn {
    int fd;
    proto_reader rd;
    strom_buf out;
    proto_arena arena;
    int32_t rid;
    int64_t t0;
} raw_conn;

typedef struct raw_run {
    sb_ctx *c;
    int batch;
    uint64_t rng;
    int64_t done;
    double *lat;
    int64_t nlat, cap;
} raw_run;

static int raw_connect(const char *addr)
{
    char host[64];
    int port = 0;
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof host)
        return -1;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    port = atoi(colon + 1);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Sends the next request of k (small: the socket takes it whole). */
static strom_err raw_send(raw_run *r, raw_conn *k)
{
    char keys[16][32];
    strom_value v[16];
    proto_key pk[16];
    for (int i = 0; i < r->batch; i++) {
        r->rng ^= r->rng << 13, r->rng ^= r->rng >> 7, r->rng ^= r->rng << 17;
        key_name(keys[i], sizeof keys[i], (int64_t)(r->rng % (uint64_t)r->c->keys));
        v[i] = (strom_value){.type = STROM_STRING, .v.s = {keys[i], strlen(keys[i])}};
        pk[i] = (proto_key){1, &v[i]};
    }
    proto_msg m = {0};
    m.req.lookup.table = proto_s("devices");
    m.req.lookup.nkeys = (uint32_t)r->batch;
    m.req.lookup.keys = pk;
    strom_buf_clear(&k->out);
    strom_err e = proto_encode_request(&k->out, PROTO_LOOKUP, 0, ++k->rid, &m);
    k->t0 = mono_ns();
    for (size_t off = 0; e == STROM_OK && off < k->out.len;) {
        ssize_t w = write(k->fd, k->out.data + off, k->out.len - off);
        if (w < 0 && errno != EINTR)
            e = strom_fail_errno(errno, "bench server: sending a lookup");
        off += w > 0 ? (size_t)w : 0;
    }
    return e;
}

/* Checks one answer of k: every key found, rows present. */
static strom_err raw_check(raw_run *r, raw_conn *k, const uint8_t *f, size_t len)
{
    proto_resp_hdr h;
    proto_msg m;
    proto_arena_reset(&k->arena);
    strom_err e = proto_parse_response(f, len, &h);
    if (e == STROM_OK && h.error)
        e = strom_fail((strom_err)h.error, "bench server: lookup failed: %.*s", (int)h.errmsg.len,
                       h.errmsg.p);
    if (e == STROM_OK)
        e = proto_decode_response(PROTO_LOOKUP, 0, h.body, h.body_len, (size_t)(h.body - f),
                                  &k->arena, &m);
    if (e != STROM_OK)
        return e;
    int all = h.request_id == k->rid && m.resp.lookup.nfound == (uint32_t)r->batch &&
              m.resp.lookup.records.bytes.len > 0;
    for (uint32_t i = 0; all && i < m.resp.lookup.nfound; i++)
        all = m.resp.lookup.found[i] == 1;
    return all ? STROM_OK : strom_fail(STROM_ENOTFOUND, "bench server: a loaded key was not found");
}

/* Reads what k's socket has; for a whole answer, checks it and sets *answered (the
 * caller sends k's next request). */
static strom_err raw_read(raw_run *r, raw_conn *k, int *answered)
{
    *answered = 0;
    uint8_t *p;
    size_t cap;
    strom_err e = proto_reader_space(&k->rd, 4096, &p, &cap);
    ssize_t n = e == STROM_OK ? read(k->fd, p, cap) : 0;
    if (e != STROM_OK || n < 0)
        return e ? e : errno == EINTR || errno == EAGAIN ? STROM_OK
                                                          : strom_fail_errno(errno, "bench read");
    if (n == 0)
        return strom_fail(STROM_EIO, "bench server: the server closed a connection");
    proto_reader_commit(&k->rd, (size_t)n);
    const uint8_t *f;
    size_t len;
    if ((e = proto_reader_next(&k->rd, &f, &len)) != STROM_OK || !f)
        return e;
    if ((e = raw_check(r, k, f, len)) != STROM_OK)
        return e;
    if (r->nlat < r->cap)
        r->lat[r->nlat++] = (double)(mono_ns() - k->t0) / 1e6;
    r->done += r->batch;
    *answered = 1;
    return STROM_OK;
}

static strom_err raw_loop(raw_run *r, raw_conn *k, int ep, double secs)
{
    strom_err e = STROM_OK;
    for (int i = 0; i < NCONN && e == STROM_OK; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &k[i]};
        e = epoll_ctl(ep, EPOLL_CTL_ADD, k[i].fd, &ev) == 0 ? raw_send(r, &k[i])
                                                            : strom_fail_errno(errno, "epoll");
    }
    /* Every answer of a round is read before the round's next requests go out, as
     * redis-benchmark does (it reads a reply, then writes the client's next request when
     * the loop next reports the socket writable): a write wakes a server thread, which may
     * take this thread's core while answers of the round are still unread, and their
     * latency would then include its time slice (the server's loop does the same with
     * its answers, loop.c). */
    double end = cli_now() + secs;
    while (e == STROM_OK && cli_now() < end) {
        struct epoll_event evs[NCONN];
        raw_conn *next[NCONN];
        int n = epoll_wait(ep, evs, NCONN, 100), nnext = 0, answered;
        for (int i = 0; i < n && e == STROM_OK; i++)
            if ((e = raw_read(r, evs[i].data.ptr, &answered)) == STROM_OK && answered)
                next[nnext++] = evs[i].data.ptr;
        for (int i = 0; i < nnext && e == STROM_OK; i++)
            e = raw_send(r, next[i]);
    }
    return e;
}

/* NCONN connections, one thread; keys/s and the request p99 (ms). */
static strom_err raw_lookups(sb_ctx *c, int batch, double *keys_per_s, double *p99)
{
    raw_run r = {.c = c, .batch = batch, .rng = 0x2545F4914F6CDD1Dull, .cap = 4000000};
    raw_conn k[NCONN];
    memset(k, 0, sizeof k);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    r.lat = malloc(sizeof(double) * (size_t)r.cap);
    strom_err e = ep >= 0 && r.lat ? STROM_OK : strom_fail(STROM_ENOMEM, "bench server: setup");
    for (int i = 0; i < NCONN; i++) {
        proto_reader_init(&k[i].rd, 0, 7);
        if (e == STROM_OK && (k[i].fd = raw_connect(c->addr)) < 0)
            e = strom_fail(STROM_EIO, "bench server: cannot connect to %s", c->addr);
    }
    double t0 = cli_now();
    if (e == STROM_OK)
        e = raw_loop(&r, k, ep, c->quick ? 2 : 10);
    *keys_per_s = (double)r.done / (cli_now() - t0);
    *p99 = pct(r.lat, r.nlat, 0.99);
    for (int i = 0; i < NCONN; i++) {
        if (k[i].fd > 0)
            close(k[i].fd);
        proto_reader_free(&k[i].rd);
        strom_buf_free(&k[i].out);
        proto_arena_free(&k[i].arena);
    }
    if (ep >= 0)
        close(ep);
    free(r.lat);
    return e;
}

/* ------------------------------------------------------------ redis */

static int have_prog(const char *name)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

/* redis-benchmark --csv: the "GET" line's requests/s (returned) and p99 latency (*p99, ms):
 * "GET","rps","avg","min","p50","p95","p99","max". */
static double redis_bench(sb_ctx *c, int pipeline, double *p99)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "redis-benchmark -p %s -t get -n %lld -r %lld -d %lld -c %d -P %d "
             "--csv 2>/dev/null", c->redis_port, (long long)(c->quick ? 200000 : 2000000),
             (long long)c->keys, (long long)c->value_bytes, NCONN, pipeline);
    FILE *f = popen(cmd, "r");
    double v[7] = {0};
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "\"GET\"", 5) != 0)
            continue;
        char *p = line + 5;
        for (int i = 0; i < 7 && *p == ','; i++) {
            p += *p == ',' ? 1 : 0;
            p += *p == '"' ? 1 : 0;
            v[i] = strtod(p, &p);
            p += *p == '"' ? 1 : 0;
        }
    }
    if (f)
        pclose(f);
    *p99 = v[5];
    return v[0];
}

static int bench_redis(sb_ctx *c)
{
    if (!have_prog("redis-server") || !have_prog("redis-benchmark"))
        return CLI_OK;
    snprintf(c->redis_port, sizeof c->redis_port, "%d", 20000 + (int)(getpid() % 20000));
    if ((c->redis = fork()) == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execlp("redis-server", "redis-server", "--port", c->redis_port, "--save", "",
               "--appendonly", "no", "--dir", c->dir, "--bind", "127.0.0.1",
               "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    char cmd[512];
    snprintf(cmd, sizeof cmd, "for i in $(seq 50); do redis-cli -p %s ping >/dev/null 2>&1 && exit 0;"
             " sleep 0.1; done; exit 1", c->redis_port);
    if (system(cmd) != 0)
        return cli_errorf("bench server: redis-server did not start on port %s", c->redis_port);
    /* load: every key once (SET with -r draws keys at random: 3x the count covers most) */
    snprintf(cmd, sizeof cmd, "redis-benchmark -p %s -t set -n %lld -r %lld -d %lld -c %d -P 64 -q "
             ">/dev/null 2>&1", c->redis_port, (long long)(3 * c->keys), (long long)c->keys,
             (long long)c->value_bytes, NCONN);
    if (system(cmd) != 0)
        return cli_errorf("bench server: loading redis failed");
    double p99_16;
    c->redis_qps = redis_bench(c, 1, &c->redis_p99_ms);
    c->redis_p16_qps = redis_bench(c, 16, &p99_16);
    c->have_redis = c->redis_qps > 0;
    bench_server_stop(&c->redis);
    return CLI_OK;
}

/* ------------------------------------------------------------ output */

typedef struct sb_metric { const char *key, *unit; double v, floor; int cmp; } sb_metric;

static int metrics(const sb_ctx *c, sb_metric *m)
{
    int n = 0;
    m[n++] = (sb_metric){"ingest_rows_per_s", "rows/s", c->ingest_rows_per_s, 1e6, 1};
    m[n++] = (sb_metric){"e2e_p50_ms", "ms", c->e2e[0], 0, 0};
    m[n++] = (sb_metric){"e2e_p99_ms", "ms", c->e2e[1], 2, -1};
    m[n++] = (sb_metric){"e2e_p999_ms", "ms", c->e2e[2], 0, 0};
    m[n++] = (sb_metric){"e2e_interval_p50_ms", "ms", c->e2e_interval[0], 0, 0};
    m[n++] = (sb_metric){"e2e_interval_p99_ms", "ms", c->e2e_interval[1], 0, 0};
    m[n++] = (sb_metric){"e2e_interval_p999_ms", "ms", c->e2e_interval[2], 0, 0};
    m[n++] = (sb_metric){"lookup_qps", "req/s", c->lookup_qps, 0, 0};
    m[n++] = (sb_metric){"lookup_p99_ms", "ms", c->lookup_p99_ms, 1, -1};
    m[n++] = (sb_metric){"lookup_batch16_keys_per_s", "keys/s", c->batch16_keys_per_s, 0, 0};
    m[n++] = (sb_metric){"client_lookup_qps", "req/s", c->client_qps, 0, 0};
    m[n++] = (sb_metric){"client_lookup_p99_ms", "ms", c->client_p99_ms, 0, 0};
    m[n++] = (sb_metric){"client_batch16_keys_per_s", "keys/s", c->client_batch16_keys_per_s, 0, 0};
    if (c->have_redis) {
        m[n++] = (sb_metric){"redis_get_qps", "req/s", c->redis_qps, 0, 0};
        m[n++] = (sb_metric){"redis_get_p16_qps", "keys/s", c->redis_p16_qps, 0, 0};
        m[n++] = (sb_metric){"redis_get_p99_ms", "ms", c->redis_p99_ms, 0, 0};
        m[n++] = (sb_metric){"lookup_vs_redis", "x", c->lookup_qps / c->redis_qps, 1, 1};
        m[n++] = (sb_metric){"batch16_vs_redis_p16", "x",
                             c->redis_p16_qps > 0 ? c->batch16_keys_per_s / c->redis_p16_qps : 0, 1, 1};
    }
    return n;
}

static void report(const sb_ctx *c)
{
    sb_metric m[24];
    int n = metrics(c, m), fails = 0;
    printf("\n%-28s %16s %-7s %10s  %s\n", "metric", "value", "unit", "floor", "result");
    for (int i = 0; i < n; i++) {
        int ok = m[i].cmp == 0 || (m[i].cmp > 0 ? m[i].v >= m[i].floor : m[i].v <= m[i].floor);
        fails += !ok;
        printf("%-28s %16.3f %-7s", m[i].key, m[i].v, m[i].unit);
        if (m[i].cmp)
            printf(" %s %7g  %s\n", m[i].cmp > 0 ? ">=" : "<=", m[i].floor, ok ? "ok" : "BELOW");
        else
            printf("\n");
    }
    if (!c->have_redis)
        printf("(redis-server / redis-benchmark not on PATH: no Redis comparison)\n");
    if (c->quick)
        printf("(--quick: a smoke run; the floors are for the full run on an idle machine)\n");
    if (!c->json)
        return;
    printf("{\"bench\":\"server\",\"quick\":%s,\"keys\":%lld", c->quick ? "true" : "false",
           (long long)c->keys);
    for (int i = 0; i < n; i++)
        printf(",\"%s\":%.3f", m[i].key, m[i].v);
    printf(",\"floors_failed\":%d}\n", fails);
}

/* 1 when --only names this part of the run (or is not given). */
static int part(const sb_ctx *c, const char *name)
{
    return !c->only || !strcmp(c->only, name);
}

/* Writes back what the ingest and e2e parts left dirty in the page cache (gigabytes on a
 * full run) before the lookups start, so that the kernel's writeback of an earlier part
 * does not run during the lookups' measurement (their p99 was 1.6-2.5 ms after them, 0.7-0.9
 * ms alone; bench/README.md). Best effort: a failure only means no such pause. */
static void quiesce(const sb_ctx *c)
{
    int fd = open(c->dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)syncfs(fd);
        close(fd);
    }
}

static int run_all(sb_ctx *c)
{
    strom_client *cl;
    int rc = cli_connect(c->addr, &cl);
    if (rc != CLI_OK)
        return rc;
    printf("server at %s; ingest %lld rows, e2e %d s at 100,000 rows/s, lookups over %lld keys "
           "with %d connections\n", c->addr, (long long)c->ingest_rows, c->quick ? 2 : 10,
           (long long)c->keys, NCONN);
    fflush(stdout);
    if (part(c, "ingest"))
        rc = bench_ingest(c, cl);
    if (rc == CLI_OK && part(c, "e2e") && (rc = bench_e2e(c, cl, 1)) == CLI_OK)
        rc = bench_e2e(c, cl, 0);
    if (rc == CLI_OK && part(c, "lookup") && !c->only)
        quiesce(c);
    if (rc == CLI_OK && part(c, "lookup") && (rc = load_devices(c, cl)) == CLI_OK) {
        double p99b;
        strom_err e = raw_lookups(c, 1, &c->lookup_qps, &c->lookup_p99_ms);
        if (e == STROM_OK)
            e = raw_lookups(c, 16, &c->batch16_keys_per_s, &p99b);
        if (e == STROM_OK && !c->only)
            e = run_lookups(c, 1, &c->client_qps, &c->client_p99_ms);
        if (e == STROM_OK && !c->only)
            e = run_lookups(c, 16, &c->client_batch16_keys_per_s, &p99b);
        rc = e ? cli_fail(e, "bench server: lookups") : CLI_OK;
    }
    strom_client_close(cl);
    return rc;
}

int bench_server(const bench_opts *o)
{
    sb_ctx c = {.quick = o->quick, .json = o->json, .only = o->only};
    if (c.only && !part(&c, "ingest") && !part(&c, "e2e") && !part(&c, "lookup"))
        return cli_errorf("bench server: --only takes ingest, e2e or lookup, not '%s'", c.only),
               CLI_USAGE;
    c.ingest_rows = o->rows ? o->rows : o->quick ? 1000000 : 10000000;
    c.keys = o->devices ? o->devices : o->quick ? 50000 : 500000;
    c.threads = o->threads > 0 ? STROM_MIN(o->threads, 8) : 2;
    signal(SIGPIPE, SIG_IGN);
    if (cli_mktemp_dir(o->dir, "strom-bench-server-", c.dir, sizeof c.dir) != 0)
        return cli_errorf("bench server: cannot create a directory in %s", o->dir);
    int rc = start_server(&c);
    if (rc == CLI_OK)
        rc = run_all(&c);
    bench_server_stop(&c.server);
    if (rc == CLI_OK && part(&c, "lookup"))
        rc = bench_redis(&c);
    bench_server_stop(&c.redis);
    if (rc == CLI_OK)
        report(&c);
    if (!o->keep)
        cli_rmtree(c.dir);
    return rc;
}
