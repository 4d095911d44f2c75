/*
 * bench_log.c: `strom bench log`, the benchmark of issue 2 section 6.
 *
 * Method (bench/README.md says the same in prose):
 *  1. A fresh data directory under --dir (default /tmp); table 'telemetry' with the
 *     20-column grid row (telemetry.h), bucket.num 2, bucket.key = index key = device_id,
 *     time column event_time, ZSTD, flush = sync (group commit).
 *  2. Append: --threads producers (2), each simulating its share of the devices at 1 Hz
 *     (every simulated second each device reports once; 1% late), appending builder
 *     batches of --batch rows (8192). Timed from start to the last acknowledgement.
 *  3. Size: plain Arrow bytes of the values (computed here, independently of the
 *     engine) against the segment bytes on disk.
 *  4. Scans, warm (the data was just written and sits in the page cache; we do not drop
 *     caches): every bucket from the earliest offset, all 20 columns, then only voltage
 *     and current; every value is folded into a checksum so no work is skipped.
 *  5. Key history: random devices and random T, newest 100 rows at or before T with
 *     the scenario-4 projection (device_id, event_time, voltage, current, temperature);
 *     each answer is checked (right device, times <= T, newest first, count).
 *  6. Recovery: a forked child appends in a loop and is SIGKILLed; then we time
 *     strom_db_open + strom_table_open + the first read of every bucket; then, apart,
 *     the first key-history call, which rebuilds the active key indexes (lazy).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "telemetry.h"

#define TABLE "telemetry"
#define HISTORY_N 100

typedef struct bench_ctx {
    bench_opts o;
    int64_t rows, devices, batch, threads, buckets;
    char dir[4096];
    strom_db *db;
    strom_table *t;
    tele_model *m;
    uint64_t seed;
    /* results */
    double gen_rows_per_s, append_s, append_p50_ms, append_p99_ms, append_call_share;
    int64_t appended, late_rows, plain_bytes, seconds;
    strom_bucket_stats st;
    double scan_all_s, scan_2_s, scan_all_sum, scan_2_sum;
    int64_t scan_all_rows, scan_2_rows;
    double kh_p50, kh_p99, kh_max, kh_mean_rows;
    int kh_queries, kh_errors;
    double recovery_s;
    double kh_after_crash_ms;  /* first key history after the SIGKILL (lazy key index rebuild) */
    int64_t recovery_rows_killed;
    bench_size sizes;
} bench_ctx;

/* ------------------------------------------------------------------ setup */

static int bench_setup(bench_ctx *c)
{
    int err = cli_mktemp_dir(c->o.dir, "strom-bench-", c->dir, sizeof c->dir);
    if (err)
        return cli_errorf("cannot create a temporary directory in '%s' (--dir): %s", c->o.dir,
                          strerror(err));
    strom_err e = strom_db_open(c->dir, &c->db);
    if (e)
        return cli_fail(e, "opening the benchmark data directory");
    e = tele_table_create(c->db, TABLE, (int)c->buckets);
    if (e)
        return cli_fail(e, "creating table " TABLE);
    if ((e = strom_table_open(c->db, TABLE, &c->t)))
        return cli_fail(e, "opening table " TABLE);
    c->m = tele_model_create(c->devices, c->seed);
    return c->m ? CLI_OK : cli_errorf("out of memory for %lld devices", (long long)c->devices);
}

static void bench_teardown(bench_ctx *c)
{
    strom_table_close(c->t);
    strom_db_close(c->db);
    c->t = NULL, c->db = NULL;
    tele_model_destroy(c->m);
    if (c->dir[0] && !c->o.keep)
        cli_rmtree(c->dir);
}

/* Rate of the simulator alone (rows/s into a builder), to separate it from the engine. */
static int measure_generator(bench_ctx *c)
{
    strom_builder *b = tele_builder_create();
    if (!b)
        return cli_errorf("out of memory");
    tele_stream ts;
    tele_stream_init(&ts, c->m, 0, c->devices, c->seed ^ 77);
    double t0 = cli_now();
    int64_t n = 0;
    for (int i = 0; i < 20; i++, n += c->batch) {
        strom_builder_reset(b);
        strom_err e = tele_fill(&ts, b, c->batch);
        if (e) {
            strom_builder_destroy(b);
            return cli_fail(e, "simulating telemetry");
        }
    }
    c->gen_rows_per_s = (double)n / (cli_now() - t0);
    strom_builder_destroy(b);
    return CLI_OK;
}

/* ----------------------------------------------------------------- append */

typedef struct producer {
    bench_ctx *c;
    tele_stream s;
    int64_t quota, done;
    double *lat_ms;
    int64_t nlat;
    strom_err err;
    char msg[512];
    pthread_t th;
} producer;

static void *producer_main(void *arg)
{
    producer *p = arg;
    strom_builder *b = tele_builder_create();
    if (!b) {
        p->err = STROM_ENOMEM;
        return NULL;
    }
    while (p->done < p->quota) {
        int64_t n = p->quota - p->done < p->c->batch ? p->quota - p->done : p->c->batch;
        strom_builder_reset(b);
        if ((p->err = tele_fill(&p->s, b, n)) == STROM_OK) {
            double t0 = cli_now();
            p->err = strom_table_append(p->c->t, b, NULL);
            p->lat_ms[p->nlat++] = (cli_now() - t0) * 1000.0;
        }
        if (p->err) {
            snprintf(p->msg, sizeof p->msg, "%s", strom_errmsg());
            break;
        }
        p->done += n;
    }
    strom_builder_destroy(b);
    return NULL;
}


static void producers_init(bench_ctx *c, producer *p)
{
    for (int64_t k = 0; k < c->threads; k++) {
        int64_t lo = c->devices * k / c->threads, hi = c->devices * (k + 1) / c->threads;
        p[k].c = c;
        tele_stream_init(&p[k].s, c->m, lo, hi, c->seed + 1000 + (uint64_t)k);
        p[k].quota = c->rows / c->threads + (k < c->rows % c->threads);
        p[k].lat_ms = malloc(sizeof(double) * (size_t)(p[k].quota / c->batch + 2));
    }
}

/* Collects the producers' results; returns CLI_OK or the first failure. */
static int producers_collect(bench_ctx *c, producer *p, double *lat, int64_t *nlat)
{
    int rc = CLI_OK;
    for (int64_t k = 0; k < c->threads; k++) {
        if (p[k].err && rc == CLI_OK)
            rc = cli_errorf("append failed in producer %lld: %s: %s", (long long)k,
                            strom_strerror(p[k].err), p[k].msg);
        c->appended += p[k].done;
        c->late_rows += p[k].s.late_rows;
        c->plain_bytes += tele_stream_plain_bytes(&p[k].s);
        int64_t secs = p[k].s.second + (p[k].s.dev > p[k].s.lo);
        c->seconds = secs > c->seconds ? secs : c->seconds;
        for (int64_t i = 0; i < p[k].nlat; i++)
            c->append_call_share += p[k].lat_ms[i] / 1000.0 / c->append_s / (double)c->threads;
        memcpy(lat + *nlat, p[k].lat_ms, sizeof(double) * (size_t)p[k].nlat);
        *nlat += p[k].nlat;
        free(p[k].lat_ms);
    }
    return rc;
}

static int run_append(bench_ctx *c)
{
    producer *p = calloc((size_t)c->threads, sizeof *p);
    double *lat = malloc(sizeof(double) * (size_t)(c->rows / c->batch + 2 * c->threads + 2));
    if (!p || !lat) {
        free(p), free(lat);
        return cli_errorf("out of memory");
    }
    producers_init(c, p);
    double t0 = cli_now();
    int64_t started = 0;
    for (; started < c->threads; started++)
        if (!p[started].lat_ms || pthread_create(&p[started].th, NULL, producer_main, &p[started]))
            break;
    for (int64_t k = 0; k < started; k++)
        pthread_join(p[k].th, NULL);
    c->append_s = cli_now() - t0;  /* before collecting: append_call_share uses it */
    int64_t nlat = 0;
    int rc = started < c->threads ? cli_errorf("cannot start producer threads") : CLI_OK;
    int rc2 = producers_collect(c, p, lat, &nlat);
    c->append_p50_ms = cli_percentile(lat, nlat, 0.50);
    c->append_p99_ms = cli_percentile(lat, nlat, 0.99);
    free(p), free(lat);
    if (rc == CLI_OK && rc2 == CLI_OK) {
        strom_err e = cli_table_stats(c->t, &c->st);
        if (e)
            return cli_fail(e, "reading bucket statistics");
    }
    return rc != CLI_OK ? rc : rc2;
}

/* ------------------------------------------------------------------- scans */

/* Folds every value of a column into a checksum (so no work can be skipped). */
static double column_sum(const strom_column *col)
{
    double s = 0;
    int64_t n = col->length;
    switch (col->type) {
    case STROM_DOUBLE:
        for (int64_t i = 0; i < n; i++)
            s += ((const double *)col->values)[i];
        break;
    case STROM_FLOAT:
        for (int64_t i = 0; i < n; i++)
            s += ((const float *)col->values)[i];
        break;
    case STROM_INT:
        for (int64_t i = 0; i < n; i++)
            s += ((const int32_t *)col->values)[i];
        break;
    case STROM_BIGINT:
    case STROM_TIMESTAMP: {
        int64_t x = 0;
        for (int64_t i = 0; i < n; i++)
            x ^= ((const int64_t *)col->values)[i];
        s = (double)(x & 0xFFFFFF);
        break;
    }
    case STROM_BOOLEAN:
        for (int64_t i = 0; i < (n + 7) / 8; i++)
            s += __builtin_popcount(((const uint8_t *)col->values)[i]);
        break;
    default: {
        uint64_t x = 0;
        for (int32_t i = col->offsets[0]; i < col->offsets[n]; i++)
            x = x * 31 + col->data[i];
        s = (double)(x & 0xFFFF) + (double)(col->offsets[n] - col->offsets[0]);
    }
    }
    return s;
}

static strom_err scan_bucket(strom_table *t, int bucket, const strom_read_opts *ro,
                             int64_t *rows, double *sum)
{
    int64_t earliest, end;
    strom_err e = strom_table_offsets(t, bucket, &earliest, &end);
    if (e || earliest >= end)
        return e;
    strom_scan *sc;
    if ((e = strom_scan_open(t, bucket, earliest, ro, &sc)))
        return e;
    const strom_batch *b;
    while ((e = strom_scan_next(sc, &b)) == STROM_OK && b) {
        *rows += strom_batch_nrows(b);
        for (int i = 0; i < strom_batch_ncols(b); i++) {
            strom_column col;
            if ((e = strom_batch_column(b, i, &col)))
                break;
            *sum += column_sum(&col);
        }
        if (e || strom_scan_position(sc) >= end)
            break;
    }
    strom_scan_close(sc);
    return e;
}

static int scan_table(bench_ctx *c, const char *const *cols, int ncols, double *secs,
                      int64_t *rows, double *sum)
{
    strom_read_opts ro = {.columns = cols, .ncolumns = ncols};
    double t0 = cli_now();
    for (int b = 0; b < strom_table_nbuckets(c->t); b++) {
        strom_err e = scan_bucket(c->t, b, &ro, rows, sum);
        if (e)
            return cli_fail(e, "scanning table " TABLE);
    }
    *secs = cli_now() - t0;
    if (*rows != c->appended)
        return cli_errorf("scan of %d column(s) returned %lld rows, %lld were appended",
                          ncols ? ncols : TELE_NCOLS, (long long)*rows, (long long)c->appended);
    return CLI_OK;
}

static int run_scans(bench_ctx *c)
{
    static const char *const two[] = {"voltage", "current"};
    int rc = scan_table(c, NULL, 0, &c->scan_all_s, &c->scan_all_rows, &c->scan_all_sum);
    if (rc == CLI_OK)
        rc = scan_table(c, two, 2, &c->scan_2_s, &c->scan_2_rows, &c->scan_2_sum);
    return rc;
}

/* ------------------------------------------------------------- key history */

/* Checks one answer; returns the number of problems found (0 = right). */
static int check_history(const strom_batch *b, const char *dev, int64_t T, int expect_full)
{
    int bad = 0;
    int64_t n = strom_batch_nrows(b), prev = INT64_MAX;
    if (n > HISTORY_N || (expect_full && n != HISTORY_N))
        bad++;
    for (int64_t r = 0; r < n; r++) {
        size_t len;
        const char *s = strom_batch_get_str(b, 0, r, &len);
        int64_t tm = strom_batch_get_int(b, 1, r);
        if (!s || len != strlen(dev) || memcmp(s, dev, len) != 0 || tm > T || tm > prev)
            bad++;
        prev = tm;
    }
    return bad;
}

static int run_key_history(bench_ctx *c)
{
    static const char *const cols[] = {"device_id", "event_time", "voltage", "current",
                                       "temperature"};
    int nq = c->o.quick ? 200 : 500;
    double *lat = calloc((size_t)nq, sizeof *lat);
    uint64_t rng = c->seed ^ 0xABCDEF;
    int64_t lo = TELE_DEFAULT_T0_MS, hi = TELE_DEFAULT_T0_MS + c->seconds * 1000 - 1;
    int full_ok = c->seconds > HISTORY_N + 1;
    if (full_ok)
        lo = TELE_DEFAULT_T0_MS + (HISTORY_N + 1) * 1000 - 1;
    int64_t total_rows = 0;
    for (int q = 0; lat && q < nq; q++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        int64_t dev = (int64_t)((rng >> 17) % (uint64_t)c->devices);
        int64_t T = lo + (int64_t)((rng >> 5) % (uint64_t)(hi - lo + 1));
        size_t len;
        const char *name = tele_device_name(c->m, dev, &len);
        strom_value key = {.type = STROM_STRING, .v.s = {name, len}};
        strom_batch *out = NULL;
        double t0 = cli_now();
        strom_err e = strom_table_key_history(c->t, &key, 1, T, HISTORY_N, cols, 5, &out);
        lat[q] = (cli_now() - t0) * 1000.0;
        if (e) {
            free(lat);
            return cli_fail(e, "key history query");
        }
        c->kh_errors += check_history(out, name, T, full_ok);
        total_rows += strom_batch_nrows(out);
        strom_batch_destroy(out);
    }
    if (!lat)
        return cli_errorf("out of memory");
    c->kh_queries = nq;
    c->kh_mean_rows = (double)total_rows / nq;
    c->kh_p50 = cli_percentile(lat, nq, 0.50);
    c->kh_p99 = cli_percentile(lat, nq, 0.99);
    c->kh_max = lat[nq - 1];
    free(lat);
    return CLI_OK;
}

/* ---------------------------------------------------------------- recovery */

/* The child: appends until killed; one byte on fd after every acknowledged append. */
static void recovery_child(bench_ctx *c, int fd)
{
    strom_db *db;
    strom_table *t;
    if (strom_db_open(c->dir, &db) || strom_table_open(db, TABLE, &t))
        _exit(3);
    strom_builder *b = tele_builder_create();
    tele_stream ts;
    tele_stream_init(&ts, c->m, 0, c->devices, c->seed + 99);
    ts.second = c->seconds;
    for (;;) {
        strom_builder_reset(b);
        if (tele_fill(&ts, b, c->batch) || strom_table_append(t, b, NULL))
            _exit(4);
        if (write(fd, "a", 1) != 1)
            _exit(5);
    }
}

/* Forks the appending child, waits for a few acknowledgements, kills it. */
static int crash_appender(bench_ctx *c)
{
    int fds[2];
    if (pipe(fds) != 0)
        return cli_errorf("pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return cli_errorf("fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        recovery_child(c, fds[1]);
    }
    close(fds[1]);
    char buf[64];
    int64_t acks = 0;
    ssize_t n;
    while (acks < 5 && (n = read(fds[0], buf, sizeof buf)) > 0)
        acks += n;
    usleep((useconds_t)(10000 + (c->seed % 50) * 1000));
    kill(pid, SIGKILL);
    while ((n = read(fds[0], buf, sizeof buf)) > 0)
        acks += n;
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    c->recovery_rows_killed = acks * c->batch;
    if (!WIFSIGNALED(status))
        return cli_errorf("the appending child exited (status %d) before it was killed",
                          WEXITSTATUS(status));
    return acks >= 5 ? CLI_OK : cli_errorf("the appending child acknowledged nothing");
}

static int run_recovery(bench_ctx *c)
{
    int64_t before = c->appended;
    strom_table_close(c->t);
    strom_db_close(c->db);
    c->t = NULL, c->db = NULL;
    int rc = crash_appender(c);
    if (rc != CLI_OK)
        return rc;
    double t0 = cli_now();
    strom_err e = strom_db_open(c->dir, &c->db);
    if (!e)
        e = strom_table_open(c->db, TABLE, &c->t);
    static const char *const two[] = {"voltage", "current"};
    strom_read_opts ro = {.columns = two, .ncolumns = 2};
    int64_t total = 0;
    for (int b = 0; !e && b < strom_table_nbuckets(c->t); b++) {
        int64_t earliest, end;
        strom_scan *sc;
        const strom_batch *bt;
        if (!(e = strom_table_offsets(c->t, b, &earliest, &end)) &&
            !(e = strom_scan_open(c->t, b, earliest, &ro, &sc))) {
            e = strom_scan_next(sc, &bt);
            strom_scan_close(sc);
        }
        total += end - earliest;
    }
    c->recovery_s = cli_now() - t0;
    if (e)
        return cli_fail(e, "reopening after SIGKILL");
    /* The active segments' key indexes are rebuilt on first use, not at open: time it. */
    static const char *const hc[] = {"event_time", "voltage"};
    size_t nlen;
    const char *name = tele_device_name(c->m, 12345 % c->devices, &nlen);
    strom_value key = {.type = STROM_STRING, .v.s = {name, nlen}};
    strom_batch *out = NULL;
    double t1 = cli_now();
    e = strom_table_key_history(c->t, &key, 1, STROM_TIME_MAX, 100, hc, 2, &out);
    c->kh_after_crash_ms = (cli_now() - t1) * 1000.0;
    strom_batch_destroy(out);
    if (e)
        return cli_fail(e, "key history after SIGKILL");
    if (total < before + c->recovery_rows_killed)
        return cli_errorf("after SIGKILL the table has %lld rows, %lld were acknowledged",
                          (long long)total, (long long)(before + c->recovery_rows_killed));
    return CLI_OK;
}

/* ------------------------------------------------------------------ report */

typedef struct metric {
    const char *key;
    double value;
    const char *unit;
    int cmp;           /* 0 none, 1 value >= floor, -1 value <= floor */
    double floor;
    int decimals;
} metric;

static int metric_pass(const metric *m)
{
    return m->cmp == 0 || (m->cmp > 0 ? m->value >= m->floor : m->value <= m->floor);
}

/* Bytes per row and rows/s of each encoding x codec (bench_sizes.c). */
static int size_metrics(const bench_ctx *c, metric *m)
{
    static char keys[2 * BENCH_SIZE_VARIANTS][48];
    for (int i = 0; i < BENCH_SIZE_VARIANTS; i++) {
        char vn[32];
        bench_size_variant_name(i, vn, sizeof vn);
        snprintf(keys[2 * i], sizeof keys[0], "bytes_per_row_%s", vn);
        snprintf(keys[2 * i + 1], sizeof keys[0], "rows_per_s_%s", vn);
        m[2 * i] = (metric){keys[2 * i], c->sizes.bytes_per_row[i], "B", 0, 0, 1};
        m[2 * i + 1] = (metric){keys[2 * i + 1], c->sizes.rows_per_s[i], "rows/s", 0, 0, 0};
    }
    return 2 * BENCH_SIZE_VARIANTS;
}

static int build_metrics(const bench_ctx *c, metric *m)
{
    double ratio = c->st.bytes_on_disk ? (double)c->plain_bytes / (double)c->st.bytes_on_disk : 0;
    double all = c->scan_all_s > 0 ? c->scan_all_rows / c->scan_all_s : 0;
    double two = c->scan_2_s > 0 ? c->scan_2_rows / c->scan_2_s : 0;
    int big = c->appended >= 50000000;
    metric list[] = {
        {"append_rows_per_s", c->appended / c->append_s, "rows/s", 1, 1e6, 0},
        {"append_mb_per_s", c->plain_bytes / 1e6 / c->append_s, "MB/s", 0, 0, 1},
        {"compression_ratio", ratio, "x", 1, 5, 2},
        {"scan_all_rows_per_s", all, "rows/s", 0, 0, 0},
        {"scan_2of20_rows_per_s", two, "rows/s", 0, 0, 0},
        {"projection_speedup", all > 0 ? two / all : 0, "x", 1, 6, 2},
        {"key_history_p50_ms", c->kh_p50, "ms", 0, 0, 3},
        {"key_history_p99_ms", c->kh_p99, "ms", big ? -1 : 0, 10, 3},
        {"history_rows", (double)c->appended, "rows", 0, 0, 0},
        {"recovery_s", c->recovery_s, "s", -1, 2, 3},
        {"first_key_history_after_crash_ms", c->kh_after_crash_ms, "ms", 0, 0, 1},
        {"key_history_max_ms", c->kh_max, "ms", 0, 0, 3},
        {"key_history_mean_rows", c->kh_mean_rows, "rows", 0, 0, 1},
        {"key_history_queries", c->kh_queries, "", 0, 0, 0},
        {"key_history_errors", c->kh_errors, "", -1, 0, 0},
        {"append_s", c->append_s, "s", 0, 0, 2},
        {"append_p50_ms", c->append_p50_ms, "ms", 0, 0, 2},
        {"append_p99_ms", c->append_p99_ms, "ms", 0, 0, 2},
        {"append_call_share", c->append_call_share, "", 0, 0, 3},
        {"generate_rows_per_s", c->gen_rows_per_s, "rows/s", 0, 0, 0},
        {"late_rows", (double)c->late_rows, "rows", 0, 0, 0},
        {"plain_bytes", (double)c->plain_bytes, "B", 0, 0, 0},
        {"engine_raw_bytes", (double)c->st.raw_bytes, "B", 0, 0, 0},
        {"bytes_on_disk", (double)c->st.bytes_on_disk, "B", 0, 0, 0},
        {"segments", (double)c->st.segments, "", 0, 0, 0},
        {"batches", (double)c->st.batches, "", 0, 0, 0},
        {"fsyncs", (double)c->st.fsyncs, "", 0, 0, 0},
        {"rows_per_fsync", c->st.fsyncs ? (double)c->appended / c->st.fsyncs : 0, "", 0, 0, 0},
        {"devices", (double)c->devices, "", 0, 0, 0},
        {"simulated_seconds", (double)c->seconds, "s", 0, 0, 0},
        {"threads", (double)c->threads, "", 0, 0, 0},
        {"buckets", (double)c->buckets, "", 0, 0, 0},
        {"batch_rows", (double)c->batch, "", 0, 0, 0},
    };
    memcpy(m, list, sizeof list);
    return (int)(sizeof list / sizeof list[0]) + size_metrics(c, m + sizeof list / sizeof list[0]);
}

static void print_value(FILE *f, const metric *m)
{
    if (m->decimals == 0 && fabs(m->value) >= 1e4) {
        char g[32];
        fprintf(f, "%18s", cli_group((int64_t)llround(m->value), g));
    } else {
        fprintf(f, "%18.*f", m->decimals, m->value);
    }
}

static int print_report(const bench_ctx *c, const metric *m, int n)
{
    int fails = 0;
    printf("\n%-24s %18s %-7s %14s  %s\n", "metric", "value", "unit", "floor", "result");
    for (int i = 0; i < n; i++) {
        printf("%-24s ", m[i].key);
        print_value(stdout, &m[i]);
        printf(" %-7s", m[i].unit);
        if (m[i].cmp == 0) {
            printf("\n");
            continue;
        }
        printf(" %s %11g  %s\n", m[i].cmp > 0 ? ">=" : "<=", m[i].floor,
               metric_pass(&m[i]) ? "pass" : "FAIL");
        fails += !metric_pass(&m[i]);
    }
    if (c->appended < 50000000)
        printf("(key_history_p99_ms is judged only with history_rows >= 50,000,000)\n");
    if (c->o.quick)
        printf("(--quick: a smoke run; the floors hold for the full run)\n");
    printf("scans were measured warm (page cache not dropped); checksums %.6g / %.6g\n",
           c->scan_all_sum, c->scan_2_sum);
    return fails;
}

static void print_json(const bench_ctx *c, const metric *m, int n, int fails)
{
    printf("{\"bench\":\"log\",\"quick\":%s", c->o.quick ? "true" : "false");
    for (int i = 0; i < n; i++) {
        if (m[i].decimals == 0 && fabs(m[i].value) < 9e15)
            printf(",\"%s\":%lld", m[i].key, (long long)llround(m[i].value));
        else
            printf(",\"%s\":%.*f", m[i].key, m[i].decimals + 3, m[i].value);
    }
    printf(",\"floors_failed\":%d,\"warm_cache\":true}\n", fails);
}

/* ------------------------------------------------------------------- main */

static void describe_run(const bench_ctx *c)
{
    struct utsname un;
    char r[32], d[32];
    uname(&un);
    printf("strom bench log%s: %s rows from %s devices at 1 Hz (%lld producer threads, "
           "batches of %lld rows), table with %lld buckets, ZSTD, flush=sync\n",
           c->o.quick ? " --quick" : "", cli_group(c->rows, r), cli_group(c->devices, d),
           (long long)c->threads, (long long)c->batch, (long long)c->buckets);
    printf("machine: %s %s, %ld CPUs; data in %s\n", un.sysname, un.machine,
           sysconf(_SC_NPROCESSORS_ONLN), c->dir);
    fflush(stdout);
}

static void defaults(bench_ctx *c, const bench_opts *o)
{
    c->o = *o;
    c->rows = o->rows ? o->rows : o->quick ? 4000000 : 60000000;
    c->devices = o->devices ? o->devices : o->quick ? 20000 : 500000;
    c->batch = o->batch_rows ? o->batch_rows : 8192;
    c->threads = o->threads ? o->threads : 2;
    c->buckets = o->buckets ? o->buckets : 2;
    c->seed = 20250113;
}

static int run_steps(bench_ctx *c)
{
    int rc;
    int64_t sample = c->o.quick ? 500000 : 1000000;
    if ((rc = measure_generator(c)) != CLI_OK ||
        (rc = bench_log_sizes(c->db, c->m, sample < c->rows ? sample : c->rows, &c->sizes)))
        return rc;
    printf("measured encodings and codecs on a sample of %lld rows\n", (long long)c->sizes.rows);
    fflush(stdout);
    if ((rc = run_append(c)) != CLI_OK)
        return rc;
    printf("appended %lld rows in %.2f s\n", (long long)c->appended, c->append_s);
    fflush(stdout);
    if ((rc = run_scans(c)) != CLI_OK)
        return rc;
    printf("scanned all columns in %.2f s, 2 of 20 in %.2f s\n", c->scan_all_s, c->scan_2_s);
    fflush(stdout);
    if ((rc = run_key_history(c)) != CLI_OK)
        return rc;
    return run_recovery(c);
}

int bench_log(const bench_opts *o)
{
    bench_ctx c;
    memset(&c, 0, sizeof c);
    defaults(&c, o);
    int rc = bench_setup(&c);
    if (rc == CLI_OK) {
        describe_run(&c);
        rc = run_steps(&c);
    }
    if (rc == CLI_OK) {
        metric m[64];
        int n = build_metrics(&c, m);
        int fails = print_report(&c, m, n);
        if (c.o.json)
            print_json(&c, m, n, fails);
    }
    bench_teardown(&c);
    return rc;
}
