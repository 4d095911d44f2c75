/* bench_kv_read.c: the lookups of `strom bench kv` (method: bench_kv.c). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_kv.h"

#define RESET_EVERY 1024
#define NMISS 4096
#define BATCH_KEYS 64

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* ------------------------------------------------------------ checks */

int kvb_check_sample(kvb *c, int n, int version)
{
    uint64_t s = c->seed ^ 0xC0FFEE;
    for (int i = 0; i < n; i++) {
        int64_t dev = (int64_t)(kvb_rand(&s) % (uint64_t)c->devices);
        strom_value k = kvb_key(&c->keys, dev);
        strom_batch *b = NULL;
        strom_err e = strom_table_lookup(c->t, &k, 1, &b);
        if (e)
            return cli_fail(e, "checking lookups");
        size_t len = 0;
        const char *id = b ? strom_batch_get_str(b, 0, 0, &len) : NULL;
        int ok = b && strom_batch_nrows(b) == 1 && len == KVB_LEN(&c->keys, dev) &&
                 !memcmp(id, c->keys.id[dev], len) &&
                 strom_batch_get_f64(b, 3, 0) == kvb_capacity(dev, version);
        strom_batch_destroy(b);
        if (!ok)
            return cli_errorf("lookup of %s returned a wrong or no row (version %d expected)",
                              c->keys.id[dev], version);
    }
    return CLI_OK;
}

/* ------------------------------------------------------------ readers */

typedef struct reader {
    kvb *c;
    int64_t n;
    uint64_t seed;
    int miss;            /* look up absent keys */
    int asof;            /* AS OF a random time of a random version (all keys exist) */
    double *lat;         /* non-NULL: time each call (us) */
    volatile int *stop;  /* non-NULL: run until set (n is then a cap) */
    int64_t done, found;
    double secs, cpu;    /* wall and thread CPU seconds */
    strom_err err;
    char msg[256];
} reader;

static void miss_keys(char (*m)[24], size_t *len)
{
    for (int i = 0; i < NMISS; i++)
        len[i] = (size_t)snprintf(m[i], sizeof m[i], "ABSENT_%07d", i * 7919);
}

static strom_value pick_key(reader *r, char (*miss)[24], const size_t *mlen, char buf[24])
{
    uint64_t x = kvb_rand(&r->seed);
    if (!r->miss)
        return kvb_key_fmt((int64_t)(x % (uint64_t)r->c->devices), buf);
    strom_value v = {.type = STROM_STRING};
    v.v.s.ptr = miss[x % NMISS];
    v.v.s.len = mlen[x % NMISS];
    return v;
}

/* A time inside the hour of a random version v, after every device's version v
 * (last_update = hour v + dev % 1000 ms) and before any version v + 1. */
static int64_t asof_time(reader *r)
{
    uint64_t x = kvb_rand(&r->seed);
    int v = (int)(x % (uint64_t)r->c->versions);
    return kvb_last_update(0, v) + 1000 + (int64_t)((x >> 16) % (uint64_t)(KVB_HOUR_MS - 1000));
}

static void *reader_main(void *arg)
{
    reader *r = arg;
    strom_builder *b = strom_builder_create(strom_table_schema(r->c->t));
    char (*miss)[24] = malloc(NMISS * sizeof *miss);
    size_t *mlen = malloc(NMISS * sizeof *mlen);
    r->err = b && miss && mlen ? STROM_OK : STROM_ENOMEM;
    if (miss && mlen)
        miss_keys(miss, mlen);
    double t0 = cli_now(), c0 = thread_cpu_s();
    for (int64_t i = 0; i < r->n && !r->err && !(r->stop && *r->stop); i++, r->done++) {
        char kb[24];
        strom_value k = pick_key(r, miss, mlen, kb);
        int f = 0;
        if ((i & (RESET_EVERY - 1)) == 0)
            strom_builder_reset(b);
        int64_t at = r->asof ? asof_time(r) : 0;
        double a = r->lat ? now_us() : 0;
        r->err = r->asof ? strom_table_lookup_asof_into(r->c->t, &k, 1, at, b, &f)
                         : strom_table_lookup_into(r->c->t, &k, 1, b, &f);
        if (r->lat)
            r->lat[i] = now_us() - a;
        r->found += f;
    }
    r->secs = cli_now() - t0;
    r->cpu = thread_cpu_s() - c0;
    if (r->err)
        snprintf(r->msg, sizeof r->msg, "%s", strom_errmsg());
    strom_builder_destroy(b);
    free(miss);
    free(mlen);
    return NULL;
}

/* Runs nthreads readers of n lookups each; lookups/s over all of them. */
/* Lookups per CPU-second of the last readers() call (over all its threads). */
static double last_cpu_rate;

/* mode: 0 existing keys, 1 absent keys, 2 AS OF. */
static int readers(kvb *c, int nthreads, int64_t n, int mode, double *lat, double *rate)
{
    reader r[2];
    int miss = mode == 1;
    for (int i = 0; i < nthreads; i++)
        r[i] = (reader){.c = c, .n = n, .seed = c->seed + 17 * (uint64_t)(i + 1) + (uint64_t)mode,
                        .miss = miss, .asof = mode == 2, .lat = lat};
    int rc = kvb_run_threads(nthreads, reader_main, r, sizeof r[0]);
    double secs = 0, cpu = 0;
    for (int i = 0; i < nthreads && rc == CLI_OK; i++) {
        if (r[i].err)
            return cli_errorf("lookup failed: %s: %s", strom_strerror(r[i].err), r[i].msg);
        if (r[i].found != (miss ? 0 : r[i].done))
            return cli_errorf("%lld of %lld %s keys found", (long long)r[i].found,
                              (long long)r[i].done, miss ? "absent" : "existing");
        secs = r[i].secs > secs ? r[i].secs : secs;
        cpu += r[i].cpu;
    }
    *rate = (double)n * nthreads / secs;
    last_cpu_rate = (double)n * nthreads / cpu;
    return rc;
}

/* Latency of n lookups, each timed: p50 and p99 in us. */
static int latency(kvb *c, int64_t n, int mode, double *p50, double *p99)
{
    double *lat = malloc(sizeof(double) * (size_t)n), rate = 0;
    if (!lat)
        return cli_errorf("out of memory");
    int rc = readers(c, 1, n, mode, lat, &rate);
    if (p50)
        *p50 = cli_percentile(lat, n, 0.50);
    *p99 = cli_percentile(lat, n, 0.99);
    free(lat);
    return rc;
}

/* ------------------------------------------- readers with a writer */

typedef struct busy_writer {
    kvb *c;
    volatile int *stop;
    int64_t rows;
    strom_err err;
} busy_writer;

/* Re-upserts the latest version (same values: real writes, same state) until stopped. */
static void *busy_writer_main(void *arg)
{
    busy_writer *w = arg;
    strom_builder *b = strom_builder_create(strom_table_schema(w->c->t));
    w->err = b ? STROM_OK : STROM_ENOMEM;
    for (int64_t d = 0; !w->err && !*w->stop; d = (d + w->c->batch) % w->c->devices) {
        int64_t hi = d + w->c->batch < w->c->devices ? d + w->c->batch : w->c->devices;
        w->err = kvb_fill(b, &w->c->keys, d, hi, w->c->versions - 1, 0);
        if (!w->err)
            w->err = strom_table_upsert(w->c->t, b);
        w->rows += w->err ? 0 : hi - d;
    }
    strom_builder_destroy(b);
    return NULL;
}

static int with_writer(kvb *c)
{
    volatile int stop = 0;
    busy_writer w = {c, &stop, 0, STROM_OK};
    pthread_t th;
    if (pthread_create(&th, NULL, busy_writer_main, &w))
        return cli_errorf("cannot start the writer thread");
    double t0 = cli_now();
    int rc = readers(c, 2, c->lookups / 2, 0, NULL, &c->look2w);
    stop = 1;
    pthread_join(th, NULL);
    c->look2w_writer = (double)w.rows / (cli_now() - t0);
    if (w.err)
        return cli_fail(w.err, "upserting during lookups");
    return rc;
}

/* ------------------------------------------------------------ batches */

static int batches(kvb *c)
{
    strom_builder *b = strom_builder_create(strom_table_schema(c->t));
    strom_value keys[BATCH_KEYS];
    char kb[BATCH_KEYS][24];
    uint8_t found[BATCH_KEYS];
    uint64_t s = c->seed ^ 0xBA7C4;
    int64_t nb = c->lookups / BATCH_KEYS, nfound = 0;
    strom_err e = b ? STROM_OK : STROM_ENOMEM;
    double t0 = cli_now();
    for (int64_t i = 0; i < nb && !e; i++) {
        for (int k = 0; k < BATCH_KEYS; k++)
            keys[k] = kvb_key_fmt((int64_t)(kvb_rand(&s) % (uint64_t)c->devices), kb[k]);
        strom_builder_reset(b);
        e = strom_table_lookup_batch_into(c->t, keys, 1, BATCH_KEYS, found, b);
        for (int k = 0; k < BATCH_KEYS; k++)
            nfound += found[k];
    }
    c->batch_kps = (double)(nb * BATCH_KEYS) / (cli_now() - t0);
    strom_builder_destroy(b);
    if (e)
        return cli_fail(e, "batch lookup");
    return nfound == nb * BATCH_KEYS ? CLI_OK
                                     : cli_errorf("batch lookups found %lld of %lld keys",
                                                  (long long)nfound, (long long)(nb * BATCH_KEYS));
}

int kvb_run_lookups(kvb *c)
{
    int64_t n = c->lookups, nlat = n / 4;
    int rc = kvb_check_sample(c, 1000, c->versions - 1);
    if (rc == CLI_OK)   /* warm-up pass, not reported */
        rc = readers(c, 1, n / 4, 0, NULL, &c->look1);
    if (rc == CLI_OK)
        rc = readers(c, 1, n, 0, NULL, &c->look1);
    c->look1_cpu = last_cpu_rate;
    if (rc == CLI_OK)
        rc = readers(c, 2, n, 0, NULL, &c->look2);
    if (rc == CLI_OK)
        rc = latency(c, nlat, 0, &c->look_p50, &c->look_p99);
    if (rc == CLI_OK)
        rc = readers(c, 1, n / 4, 1, NULL, &c->miss_rps);
    if (rc == CLI_OK)
        rc = latency(c, nlat, 1, NULL, &c->miss_p99);
    if (rc == CLI_OK)
        rc = batches(c);
    if (rc == CLI_OK)
        rc = with_writer(c);
    if (rc == CLI_OK)
        rc = kvb_check_sample(c, 1000, c->versions - 1);
    printf("lookups: %.0f/s on 1 thread, %.0f/s on 2, p99 %.2f us; batches of 64: %.0f keys/s\n",
           c->look1, c->look2, c->look_p99, c->batch_kps);
    fflush(stdout);
    return rc;
}

/* ------------------------------------------------------------- AS OF */

int kvb_run_asof(kvb *c)
{
    int rc = readers(c, 1, c->lookups / 4, 2, NULL, &c->asof_rps);
    c->asof_cpu = last_cpu_rate;
    if (rc == CLI_OK)
        rc = latency(c, c->lookups / 8, 2, NULL, &c->asof_p99);
    c->asof_measured = rc == CLI_OK;
    printf("AS OF lookups: %.0f/s, p99 %.2f us\n", c->asof_rps, c->asof_p99);
    fflush(stdout);
    return rc;
}

/* ------------------------------------------------------------ prefix */

int kvb_run_prefix(kvb *c)
{
    int64_t n = c->o.quick ? 2000 : 20000, rows = 0;
    double *lat = malloc(sizeof(double) * (size_t)n);
    strom_builder *b = strom_builder_create(strom_table_schema(c->tf));
    uint64_t s = c->seed ^ 0x9E37;
    strom_err e = lat && b ? STROM_OK : STROM_ENOMEM;
    int bad = 0;
    for (int64_t i = 0; i < n && !e && !bad; i++) {
        int64_t f = (int64_t)(kvb_rand(&s) % (uint64_t)c->keys.nfeed), got = 0;
        strom_value k = {.type = STROM_STRING};
        k.v.s.ptr = c->keys.feeder[f];
        k.v.s.len = c->keys.flen;
        int64_t want = c->devices - f * 50 < 50 ? c->devices - f * 50 : 50;
        strom_builder_reset(b);
        double a = now_us();
        e = strom_table_prefix_lookup_into(c->tf, &k, 1, b, &got);
        lat[i] = now_us() - a;
        rows += got;
        if (!e && got != want)
            bad = cli_errorf("feeder %s: %lld devices found, %lld expected", c->keys.feeder[f],
                             (long long)got, (long long)want);
    }
    c->prefix_rows = (double)rows / (double)n;
    c->prefix_p50 = cli_percentile(lat, n, 0.50);
    c->prefix_p99 = cli_percentile(lat, n, 0.99);
    free(lat);
    strom_builder_destroy(b);
    return e ? cli_fail(e, "prefix lookup") : bad;
}

/* ---------------------------------------------------- the cache's worth */

/* Reopens with the row cache off: the same lookups from RocksDB alone (after a pass that
 * warms its block cache). */
int kvb_run_nocache(kvb *c)
{
    kvb_close(c);
    size_t budget = strom_kv_cache_set_budget(0);
    int rc = kvb_open(c);
    double warm = 0;
    if (rc == CLI_OK)   /* warms RocksDB's block cache (not reported) */
        rc = readers(c, 1, c->lookups / 4, 0, NULL, &warm);
    if (rc == CLI_OK)
        rc = readers(c, 1, c->lookups / 4, 0, NULL, &c->nocache_rps);
    if (rc == CLI_OK)
        rc = latency(c, c->lookups / 8, 0, NULL, &c->nocache_p99);
    strom_kv_cache_set_budget(budget);
    printf("without the row cache: %.0f lookups/s, p99 %.2f us\n", c->nocache_rps,
           c->nocache_p99);
    fflush(stdout);
    return rc;
}
