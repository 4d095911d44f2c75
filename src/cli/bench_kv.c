/*
 * bench_kv.c: `strom bench kv`, the benchmark of issue 3 (primary-key tables).
 *
 * Method (bench/README.md says the same in prose):
 *  1. A fresh data directory under --dir. Table device_dimension (the seed's: device_id
 *     STRING PRIMARY KEY, device_name, location STRING, capacity_mw DOUBLE, status STRING,
 *     last_update TIMESTAMP(3)), bucket.num 2, table.log.flush = sync (group commit), the
 *     changelog on (FULL image, the default). Devices "DEVICE_%05d", ~200 bytes a row.
 *  2. Upsert: 2 writer threads, each upserting its half of the devices in builder batches
 *     of --batch rows (4096); first the inserts (upsert_rows_per_s), then --versions - 1
 *     rounds of updates of every device (update_rows_per_s), each version with its own
 *     capacity_mw and last_update, so keys have a history.
 *  3. Point lookups of random existing devices through strom_table_lookup_into (the
 *     allocation-free call; the builder is reset every 1024 rows): 1 thread, 2 threads,
 *     2 threads while a third upserts, latency (each call timed apart), random absent
 *     keys (misses), batches of 64 (strom_table_lookup_batch_into). A sample is checked
 *     through strom_table_lookup (right row, latest version).
 *  4. AS OF lookups (strom_table_lookup_asof_into) of random devices at random past times:
 *     the table's version column is last_update (version v of a device is stamped hour v
 *     + dev % 1000 ms, hour 0 being two days before the run, inside the default history
 *     TTL of 7 days), T falls in the hour of a random version, after every device's
 *     version v: the answer is version v, found for every key (checked: found).
 *  5. Prefix lookups: table feeder_device keyed (feeder_id, device_id), bucket.key =
 *     feeder_id, 50 devices per feeder; all devices of a random feeder; count checked.
 *  6. The table reopened with the row cache off: the same lookups from RocksDB alone.
 *  7. State bytes per row: files under the table's kv-* directories after a clean close.
 *  8. Recovery: a forked child upserts until SIGKILLed; strom_db_open + strom_table_open
 *     + the first lookup are timed; every acknowledged write is then checked.
 *  9. Rebuild: the state directories are deleted; the reopen that rebuilds them from the
 *     log is timed, then checked.
 * 10. Redis (bench_redis.c): a private redis-server on loopback, the same rows as one
 *     serialized value per key (SET), GET one at a time and pipelined 64 at a time from
 *     one client. strom's figures are in-process calls, Redis's are network round trips.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_kv.h"
#include "bench_redis.h"

#define TDEV KVB_TDEV
#define TFEED "feeder_device"
#define PER_FEEDER 50
/* Hour 0 of the versions: two days ago (set in defaults()), so that every version is
 * inside the default history TTL (7 d) and compactions keep them all. */
static int64_t t0_ms;

/* --------------------------------------------------------------- rows */

static const char *const statuses[] = {"online", "offline", "maintenance", "fault"};
static const char *const regions[] = {"North", "South", "East", "West", "Central"};

double kvb_capacity(int64_t dev, int version)
{
    return (double)version * 1000.0 + (double)(dev % 997) * 0.5;
}

int64_t kvb_last_update(int64_t dev, int version)
{
    return t0_ms + (int64_t)version * KVB_HOUR_MS + dev % 1000;
}

/* Appends str / the decimal digits of x (at least width of them, zero-padded) at p. */
static char *put_s(char *p, const char *str)
{
    size_t n = strlen(str);
    memcpy(p, str, n);
    return p + n;
}

static char *put_u(char *p, uint64_t x, int width)
{
    char d[20];
    int n = 0;
    do {
        d[n++] = (char)('0' + x % 10);
        x /= 10;
    } while (x || n < width);
    while (n > 0)
        *p++ = d[--n];
    return p;
}

/* The device's name and location (lengths in *nn, *nl): the strings of
 *   "Device %05lld, %s substation transformer" and
 *   "Feeder F%07lld, %s substation, cabinet %lld, lat %.5f lon %.5f, 10 kV ring main unit"
 * with lat = 30 + (dev % 9000) / 1000 and lon = 110 + (dev % 7000) / 1000, built without
 * printf (whose floating-point path was 9% of the upsert phase's CPU under perf): the
 * writers' own cost of making rows, which the upsert figures include. */
static void row_strings(int64_t dev, char name[64], char loc[160], int *nn, int *nl)
{
    const char *region = regions[dev % 5];
    uint64_t lat = 30000 + (uint64_t)(dev % 9000), lon = 110000 + (uint64_t)(dev % 7000);
    char *p = put_u(put_s(name, "Device "), (uint64_t)dev, 5);
    p = put_s(put_s(put_s(p, ", "), region), " substation transformer");
    *nn = (int)(p - name);
    p = put_u(put_s(loc, "Feeder F"), (uint64_t)(dev / PER_FEEDER), 7);
    p = put_s(put_s(put_s(p, ", "), region), " substation, cabinet ");
    p = put_u(put_s(put_u(p, (uint64_t)(dev % 64), 1), ", lat "), lat / 1000, 1);
    p = put_u(put_s(p, "."), lat % 1000, 3);
    p = put_u(put_s(p, "00 lon "), lon / 1000, 1);
    p = put_u(put_s(p, "."), lon % 1000, 3);
    p = put_s(p, "00, 10 kV ring main unit");
    *nl = (int)(p - loc);
}

int kvb_row_text(const kvb_keys *k, int64_t dev, int version, char *buf, size_t n)
{
    char name[64], loc[160];
    int nn, nl;
    (void)k;
    row_strings(dev, name, loc, &nn, &nl);
    return snprintf(buf, n, "%s|%s|%.3f|%s|%lld", name, loc, kvb_capacity(dev, version),
                    statuses[(dev + version) % 4], (long long)kvb_last_update(dev, version));
}

/* One device row (with_feeder: feeder_id first, for the prefix table). */
static strom_err put_row(strom_builder *b, const kvb_keys *k, int64_t dev, int version,
                         int with_feeder)
{
    char name[64], loc[160];
    int c = 0, nn, nl;
    row_strings(dev, name, loc, &nn, &nl);
    const char *st = statuses[(dev + version) % 4];
    strom_err e = STROM_OK;
    if (with_feeder)
        e = strom_builder_put_str(b, c++, k->feeder[dev / PER_FEEDER], k->flen);
    if (!e)
        e = strom_builder_put_str(b, c++, k->id[dev], KVB_LEN(k, dev));
    if (!e)
        e = strom_builder_put_str(b, c++, name, (size_t)nn);
    if (!e)
        e = strom_builder_put_str(b, c++, loc, (size_t)nl);
    if (!e)
        e = strom_builder_put_f64(b, c++, kvb_capacity(dev, version));
    if (!e)
        e = strom_builder_put_str(b, c++, st, strlen(st));
    if (!e)
        e = strom_builder_put_int(b, c++, kvb_last_update(dev, version));
    return e ? e : strom_builder_end_row(b);
}

strom_err kvb_fill(strom_builder *b, const kvb_keys *k, int64_t lo, int64_t hi, int version,
                   int with_feeder)
{
    strom_builder_reset(b);
    strom_err e = STROM_OK;
    for (int64_t d = lo; d < hi && e == STROM_OK; d++)
        e = put_row(b, k, d, version, with_feeder);
    return e;
}

/* Plain bytes of device 12345's row (values only, as Arrow holds them), for the report. */
static double row_plain_bytes(const kvb_keys *k)
{
    char name[64], loc[160];
    int nn, nl;
    int64_t dev = 12345 % k->n;
    row_strings(dev, name, loc, &nn, &nl);
    return (double)(KVB_LEN(k, dev) + (size_t)nn + (size_t)nl + 8 + 6 + 8);
}

strom_schema *kvb_schema(int with_feeder)
{
    strom_schema *s = strom_schema_create();
    strom_err e = s ? STROM_OK : STROM_ENOMEM;
    if (!e && with_feeder)
        e = strom_schema_add(s, "feeder_id", STROM_STRING, 1);
    static const char *const names[] = {"device_id", "device_name", "location", "capacity_mw",
                                        "status", "last_update"};
    static const strom_type types[] = {STROM_STRING, STROM_STRING, STROM_STRING, STROM_DOUBLE,
                                       STROM_STRING, STROM_TIMESTAMP};
    for (int i = 0; !e && i < 6; i++)
        e = strom_schema_add(s, names[i], types[i], i == 0);
    const char *pk1[] = {"device_id"}, *pk2[] = {"feeder_id", "device_id"};
    if (!e)
        e = strom_schema_set_primary_key(s, with_feeder ? pk2 : pk1, with_feeder ? 2 : 1);
    if (e) {
        strom_schema_destroy(s);
        return NULL;
    }
    return s;
}

int kvb_keys_init(kvb_keys *k, int64_t n)
{
    memset(k, 0, sizeof *k);
    k->n = n;
    k->nfeed = (n + PER_FEEDER - 1) / PER_FEEDER;
    k->id = aligned_alloc(64, (size_t)n * sizeof *k->id);
    k->feeder = calloc((size_t)k->nfeed, sizeof *k->feeder);
    k->flen = 8;
    if (!k->id || !k->feeder)
        return -1;
    for (int64_t i = 0; i < n; i++)
        k->id[i][31] = (char)snprintf(k->id[i], 31, "DEVICE_%05lld", (long long)i);
    for (int64_t f = 0; f < k->nfeed; f++)
        snprintf(k->feeder[f], sizeof k->feeder[f], "F%07lld", (long long)f);
    return 0;
}

void kvb_keys_free(kvb_keys *k)
{
    free(k->id), free(k->feeder);
    memset(k, 0, sizeof *k);
}

strom_value kvb_key(const kvb_keys *k, int64_t dev)
{
    strom_value v = {.type = STROM_STRING};
    v.v.s.ptr = k->id[dev];
    v.v.s.len = KVB_LEN(k, dev);
    return v;
}

strom_value kvb_key_fmt(int64_t dev, char buf[24])
{
    char d[20];
    int n = 0;
    for (uint64_t x = (uint64_t)dev; x || n < 5; x /= 10)
        d[n++] = (char)('0' + x % 10);
    memcpy(buf, "DEVICE_", 7);
    for (int i = 0; i < n; i++)
        buf[7 + i] = d[n - 1 - i];
    strom_value v = {.type = STROM_STRING};
    v.v.s.ptr = buf;
    v.v.s.len = (size_t)(7 + n);
    return v;
}

/* ------------------------------------------------------------- helpers */


uint64_t kvb_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return *s = x;
}

/* Runs fn(arg + i * size) on n threads and joins them. */
int kvb_run_threads(int n, void *(*fn)(void *), void *arg, size_t size)
{
    pthread_t th[16];
    int started = 0;
    for (; started < n && started < 16; started++)
        if (pthread_create(&th[started], NULL, fn, (char *)arg + (size_t)started * size))
            break;
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    return started == n ? CLI_OK : cli_errorf("cannot start threads");
}

/* ---------------------------------------------------------------- setup */

static strom_err create_tables(strom_db *db, int buckets)
{
    char nb[16];
    snprintf(nb, sizeof nb, "%d", buckets);
    const char *o1[] = {"bucket.num", nb, "table.log.flush", "sync", "table.kv.version-column",
                        "last_update", NULL};
    const char *o2[] = {"bucket.num", nb, "bucket.key", "feeder_id", "table.log.flush", "sync",
                        NULL};
    strom_schema *s1 = kvb_schema(0), *s2 = kvb_schema(1);
    strom_err e = s1 && s2 ? strom_table_create(db, TDEV, s1, o1) : STROM_ENOMEM;
    if (!e)
        e = strom_table_create(db, TFEED, s2, o2);
    strom_schema_destroy(s1);
    strom_schema_destroy(s2);
    return e;
}

int kvb_open(kvb *c)
{
    strom_err e = strom_db_open(c->dir, &c->db);
    if (!e)
        e = strom_table_open(c->db, TDEV, &c->t);
    if (!e)
        e = strom_table_open(c->db, TFEED, &c->tf);
    return e ? cli_fail(e, "opening the benchmark tables") : CLI_OK;
}

void kvb_close(kvb *c)
{
    strom_table_close(c->t);
    strom_table_close(c->tf);
    strom_db_close(c->db);
    c->t = c->tf = NULL;
    c->db = NULL;
}

static int setup(kvb *c)
{
    int err = cli_mktemp_dir(c->o.dir, "strom-bench-kv-", c->dir, sizeof c->dir);
    if (err)
        return cli_errorf("cannot create a temporary directory in '%s' (--dir): %s", c->o.dir,
                          strerror(err));
    if (kvb_keys_init(&c->keys, c->devices))
        return cli_errorf("out of memory for %lld keys", (long long)c->devices);
    strom_err e = strom_db_open(c->dir, &c->db);
    if (!e)
        e = create_tables(c->db, (int)c->buckets);
    strom_db_close(c->db);
    c->db = NULL;
    return e ? cli_fail(e, "creating the benchmark tables") : kvb_open(c);
}

static void teardown(kvb *c)
{
    kvb_close(c);
    kvb_keys_free(&c->keys);
    if (c->dir[0] && !c->o.keep)
        cli_rmtree(c->dir);
}

/* --------------------------------------------------------------- upsert */

typedef struct writer {
    kvb *c;
    strom_table *t;
    int64_t lo, hi;
    int version, feeder;
    int64_t rows;
    strom_err err;
    char msg[256];
} writer;

static void *writer_main(void *arg)
{
    writer *w = arg;
    strom_builder *b = strom_builder_create(strom_table_schema(w->t));
    w->err = b ? STROM_OK : STROM_ENOMEM;
    for (int64_t d = w->lo; d < w->hi && !w->err; d += w->c->batch) {
        int64_t hi = d + w->c->batch < w->hi ? d + w->c->batch : w->hi;
        w->err = kvb_fill(b, &w->c->keys, d, hi, w->version, w->feeder);
        if (!w->err)
            w->err = strom_table_upsert(w->t, b);
        if (!w->err)
            w->rows += hi - d;
    }
    if (w->err)
        snprintf(w->msg, sizeof w->msg, "%s", strom_errmsg());
    strom_builder_destroy(b);
    return NULL;
}

/* CPU seconds of the process so far (every thread: writers, RocksDB's flushes and
 * compactions, the group-commit fsync waits are not CPU). */
static double process_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double round_cpu_rate;   /* rows per process CPU-second of the last round */

/* Upserts version v of every device of table t with nthreads writers; rows/s. */
static int upsert_round(kvb *c, strom_table *t, int v, int feeder, int nthreads, double *rps)
{
    writer w[2];
    for (int i = 0; i < nthreads; i++)
        w[i] = (writer){c, t, c->devices * i / nthreads, c->devices * (i + 1) / nthreads, v,
                        feeder, 0, STROM_OK, ""};
    double t0 = cli_now(), c0 = process_cpu_s();
    int rc = kvb_run_threads(nthreads, writer_main, w, sizeof w[0]);
    double s = cli_now() - t0, cpu = process_cpu_s() - c0;
    int64_t rows = 0;
    for (int i = 0; i < nthreads && rc == CLI_OK; i++) {
        if (w[i].err)
            return cli_errorf("upsert failed: %s: %s", strom_strerror(w[i].err), w[i].msg);
        rows += w[i].rows;
    }
    *rps = (double)rows / s;
    round_cpu_rate = (double)rows / cpu;
    return rc;
}

static int run_upserts(kvb *c)
{
    double r = 0, sum = 0, sumc = 0;
    int rc = upsert_round(c, c->t, 0, 0, 2, &c->upsert_rps);
    c->upsert_cpu = round_cpu_rate;
    const char *only = getenv("STROM_BENCH_KV_UPSERTS_ONLY");
    if (only && !strcmp(only, "inserts"))
        return rc;   /* profiling the inserts alone */
    for (int v = 1; rc == CLI_OK && v < c->versions; v++, sum += r, sumc += round_cpu_rate)
        rc = upsert_round(c, c->t, v, 0, 2, &r);
    c->cache_bpr = (double)strom_kv_cache_used() / (double)c->devices;
    c->update_rps = c->versions > 1 ? sum / (c->versions - 1) : 0;
    c->update_cpu = c->versions > 1 ? sumc / (c->versions - 1) : 0;
    if (rc == CLI_OK)
        rc = upsert_round(c, c->tf, 0, 1, 2, &c->feeder_upsert_rps);
    printf("upserted %lld devices x %d versions (+ the feeder table): inserts %.0f rows/s "
           "(%.0f per CPU-s), updates %.0f rows/s (%.0f per CPU-s)\n", (long long)c->devices,
           c->versions, c->upsert_rps, c->upsert_cpu, c->update_rps, c->update_cpu);
    fflush(stdout);
    return rc;
}

/* ------------------------------------------------------------ the report */

typedef struct metric {
    const char *key;
    double value;       /* NAN: not measured (JSON null) */
    const char *unit;
    int cmp;            /* 0 none, 1 value >= floor, -1 value <= floor */
    double floor;
    int decimals;
} metric;

static int build_metrics(const kvb *c, metric *m)
{
    const double na = NAN;
    metric list[] = {
        {"upsert_rows_per_s", c->upsert_rps, "rows/s", 1, 300000, 0},
        {"update_rows_per_s", c->update_rps, "rows/s", 0, 0, 0},
        {"upsert_rows_per_cpu_s", c->upsert_cpu, "rows/s", 0, 0, 0},
        {"update_rows_per_cpu_s", c->update_cpu, "rows/s", 0, 0, 0},
        {"lookup_per_s_1thread", c->look1, "/s", 1, 1e6, 0},
        {"lookup_per_cpu_s_1thread", c->look1_cpu, "/s", 0, 0, 0},
        {"lookup_per_s_2threads", c->look2, "/s", 0, 0, 0},
        {"lookup_per_s_2threads_with_writer", c->look2w, "/s", 0, 0, 0},
        {"writer_rows_per_s_during_lookups", c->look2w_writer, "rows/s", 0, 0, 0},
        {"batch_lookup_keys_per_s", c->batch_kps, "keys/s", 0, 0, 0},
        {"lookup_p50_us", c->look_p50, "us", 0, 0, 2},
        {"lookup_p99_us", c->look_p99, "us", -1, 20, 2},
        {"miss_lookup_per_s", c->miss_rps, "/s", 0, 0, 0},
        {"miss_lookup_p99_us", c->miss_p99, "us", 0, 0, 2},
        {"lookup_per_s_no_cache", c->nocache_rps, "/s", 0, 0, 0},
        {"lookup_p99_us_no_cache", c->nocache_p99, "us", 0, 0, 2},
        {"asof_lookup_per_s", c->asof_measured ? c->asof_rps : na, "/s", 1, 300000, 0},
        {"asof_lookup_per_cpu_s", c->asof_measured ? c->asof_cpu : na, "/s", 0, 0, 0},
        {"asof_lookup_p99_us", c->asof_measured ? c->asof_p99 : na, "us", 0, 0, 2},
        {"prefix_lookup_p50_us", c->prefix_p50, "us", 0, 0, 1},
        {"prefix_lookup_p99_us", c->prefix_p99, "us", 0, 0, 1},
        {"prefix_rows_per_lookup", c->prefix_rows, "rows", 0, 0, 1},
        {"state_bytes_per_row", c->state_bpr, "B", 0, 0, 1},
        {"cache_bytes_per_row", c->cache_bpr, "B", 0, 0, 1},
        {"row_plain_bytes", c->row_bytes, "B", 0, 0, 0},
        {"recovery_s", c->recovery_s, "s", -1, 3, 3},
        {"recovery_acked_rows_checked", (double)c->recovery_checked, "rows", 0, 0, 0},
        {"rebuild_s", c->rebuild_s, "s", 0, 0, 2},
        {"redis_get_per_s", c->redis_ok ? c->redis_get_rps : na, "/s", 0, 0, 0},
        {"redis_get_p99_us", c->redis_ok ? c->redis_get_p99 : na, "us", 0, 0, 1},
        {"redis_get_pipelined64_keys_per_s", c->redis_ok ? c->redis_pipe_kps : na, "keys/s", 0,
         0, 0},
        {"redis_load_rows_per_s", c->redis_ok ? c->redis_load_rps : na, "rows/s", 0, 0, 0},
        {"redis_bytes_per_row", c->redis_ok ? c->redis_bpr : na, "B", 0, 0, 1},
        {"devices", (double)c->devices, "", 0, 0, 0},
        {"versions", (double)c->versions, "", 0, 0, 0},
        {"buckets", (double)c->buckets, "", 0, 0, 0},
        {"batch_rows", (double)c->batch, "", 0, 0, 0},
    };
    memcpy(m, list, sizeof list);
    return (int)(sizeof list / sizeof list[0]);
}

static void print_value(const metric *m)
{
    char g[32];
    if (isnan(m->value))
        printf("%18s", "not measured");
    else if (m->decimals == 0 && fabs(m->value) >= 1e4)
        printf("%18s", cli_group((int64_t)llround(m->value), g));
    else
        printf("%18.*f", m->decimals, m->value);
}

/* Prints the table; returns the number of floors failed (*unmeasured: floors not run). */
static int print_report(const kvb *c, const metric *m, int n, int *unmeasured)
{
    int fails = 0;
    *unmeasured = 0;
    printf("\n%-34s %18s %-7s %14s  %s\n", "metric", "value", "unit", "floor", "result");
    for (int i = 0; i < n; i++) {
        printf("%-34s ", m[i].key);
        print_value(&m[i]);
        printf(" %-7s", m[i].unit);
        if (m[i].cmp == 0) {
            printf("\n");
            continue;
        }
        int nan = isnan(m[i].value);
        int pass = !nan && (m[i].cmp > 0 ? m[i].value >= m[i].floor : m[i].value <= m[i].floor);
        printf(" %s %11g  %s\n", m[i].cmp > 0 ? ">=" : "<=", m[i].floor,
               nan ? "not measured" : pass ? "pass" : "FAIL");
        fails += !nan && !pass;
        *unmeasured += nan;
    }
    if (c->redis_ok)
        printf("strom's lookups are in-process calls; Redis's are GETs over loopback TCP from "
               "one client (values: one serialized string per key, SET)\n");
    else
        printf("Redis: skipped: %s\n", c->redis_msg);
    printf("*_per_cpu_s: the same work per CPU-second (thread CPU time for lookups, process "
           "CPU time for upserts): what the machine gives when other work shares its cores\n");
    if (c->o.quick)
        printf("(--quick: a smoke run; the floors hold for the full run)\n");
    return fails;
}

static void print_json(const kvb *c, const metric *m, int n, int fails, int unmeasured)
{
    printf("{\"bench\":\"kv\",\"quick\":%s", c->o.quick ? "true" : "false");
    for (int i = 0; i < n; i++) {
        if (isnan(m[i].value))
            printf(",\"%s\":null", m[i].key);
        else if (m[i].decimals == 0 && fabs(m[i].value) < 9e15)
            printf(",\"%s\":%lld", m[i].key, (long long)llround(m[i].value));
        else
            printf(",\"%s\":%.*f", m[i].key, m[i].decimals + 3, m[i].value);
    }
    printf(",\"redis_note\":\"%s\",\"floors_failed\":%d,\"floors_not_measured\":%d}\n",
           c->redis_ok ? "loopback TCP, one client; strom in-process" : "skipped", fails,
           unmeasured);
}

/* ------------------------------------------------------------------- main */

static void describe_run(const kvb *c)
{
    struct utsname un;
    char d[32];
    uname(&un);
    printf("strom bench kv%s: %s devices x %d versions, table %s with %lld buckets, "
           "flush=sync, changelog FULL; batches of %lld rows; %lld lookups per figure\n",
           c->o.quick ? " --quick" : "", cli_group(c->devices, d), c->versions, TDEV,
           (long long)c->buckets, (long long)c->batch, (long long)c->lookups);
    printf("machine: %s %s, %ld CPUs; data in %s\n", un.sysname, un.machine,
           sysconf(_SC_NPROCESSORS_ONLN), c->dir);
    fflush(stdout);
}

static void defaults(kvb *c, const bench_opts *o)
{
    c->o = *o;
    c->devices = o->devices ? o->devices : o->quick ? 50000 : 500000;
    c->lookups = o->rows ? o->rows : o->quick ? 300000 : 2000000;
    c->batch = o->batch_rows ? o->batch_rows : 4096;
    c->buckets = o->buckets ? o->buckets : 2;
    c->versions = o->quick ? 2 : 3;
    c->seed = 20250113;
    t0_ms = ((int64_t)time(NULL) * 1000 / KVB_HOUR_MS - 48) * KVB_HOUR_MS;
}

static int run_steps(kvb *c)
{
    int rc = run_upserts(c);
    c->row_bytes = row_plain_bytes(&c->keys);
    if (getenv("STROM_BENCH_KV_UPSERTS_ONLY"))   /* profiling the write path: stop here */
        return rc;
    if (rc == CLI_OK)
        rc = kvb_run_lookups(c);
    if (rc == CLI_OK)
        rc = kvb_run_asof(c);
    if (rc == CLI_OK)
        rc = kvb_run_prefix(c);
    if (rc == CLI_OK)
        rc = kvb_run_nocache(c);
    if (rc == CLI_OK)
        rc = kvb_run_recovery(c);
    if (rc == CLI_OK)
        rc = kvb_run_rebuild(c);
    if (rc == CLI_OK)
        kvb_run_redis(c);
    return rc;
}

int bench_kv(const bench_opts *o)
{
    kvb *c = calloc(1, sizeof *c);
    if (!c)
        return cli_errorf("out of memory");
    defaults(c, o);
    int rc = setup(c);
    if (rc == CLI_OK) {
        describe_run(c);
        rc = run_steps(c);
    }
    if (rc == CLI_OK) {
        metric m[64];
        int unmeasured = 0, n = build_metrics(c, m);
        int fails = print_report(c, m, n, &unmeasured);
        if (c->o.json)
            print_json(c, m, n, fails, unmeasured);
    }
    teardown(c);
    free(c);
    return rc;
}
