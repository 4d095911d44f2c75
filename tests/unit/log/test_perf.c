/* Measurements of src/log on a 20-column grid telemetry table (device_id, event_time,
 * 18 measurements and flags): append rows/s (one thread, four threads with group commit,
 * fsyncs per append), scan rows/s over all columns and over 2 of 20, key history latency
 * (newest 100 rows of one device at or before T) and reopen time. Small by default so the
 * suite stays fast; STROM_LOG_PERF_ROWS=5000000 for a larger run. Figures go to stderr;
 * the asserts only check that the answers are complete. */
#include "logtest.h"

#include <pthread.h>

#define BATCH_ROWS 10000
#define NCOLS 20

static const char *col_names[NCOLS] = {
    "device_id", "event_time", "voltage", "current", "temperature", "va", "vb", "vc", "ia",
    "ib", "ic", "p", "q", "pf", "freq", "energy", "breaker", "quality", "alarm", "seq"};

static strom_schema *grid_schema(void)
{
    strom_schema *s = strom_schema_create();
    for (int c = 0; c < NCOLS; c++) {
        strom_type t = c == 0 ? STROM_STRING : c == 1 ? STROM_TIMESTAMP
                     : c >= 16 && c <= 18 ? STROM_INT : c == 19 ? STROM_BIGINT : STROM_DOUBLE;
        assert_int_equal(strom_schema_add(s, col_names[c], t, c < 2), STROM_OK);
    }
    fmt_schema_set_id(s, 1);
    return s;
}

static double dround(double v, double q) { return (double)(int64_t)(v / q) * q; }

static void grid_row(strom_builder *b, int64_t i, int64_t ndev, int64_t t0)
{
    char dev[16];
    int64_t d = (int64_t)(lt_rnd() % (uint64_t)ndev);
    int n = snprintf(dev, sizeof dev, "dev%07lld", (long long)d);
    int64_t t = t0 + i / 50 - (lt_rnd() % 100 == 0 ? (int64_t)(lt_rnd() % 600000) : 0);
    strom_builder_put_str(b, 0, dev, (size_t)n);
    strom_builder_put_int(b, 1, t);
    double base = 220.0 + (double)(d % 7);
    for (int c = 2; c < 16; c++)
        strom_builder_put_f64(b, c, dround(base / (c % 3 + 1) + (double)(lt_rnd() % 100) / 10.0, 0.1));
    for (int c = 16; c < 19; c++)
        strom_builder_put_int(b, c, lt_rnd() % 50 == 0);
    strom_builder_put_int(b, 19, i);
    strom_builder_end_row(b);
}

typedef struct enc_set {
    strom_buf *b;
    int n;
    int64_t rows, raw;
} enc_set;

static void encode_all(enc_set *es, int64_t rows, int64_t ndev, const strom_schema *s)
{
    strom_builder *b = strom_builder_create(s);
    fmt_encoder *e = fmt_encoder_create();
    fmt_encode_opts o;
    fmt_encode_opts_init(&o);
    o.time_col = 1;
    es->n = (int)(rows / BATCH_ROWS);
    es->b = calloc((size_t)es->n, sizeof *es->b);
    for (int k = 0; k < es->n; k++) {
        strom_builder_reset(b);
        for (int r = 0; r < BATCH_ROWS; r++)
            grid_row(b, (int64_t)k * BATCH_ROWS + r, ndev, 1700000000000LL);
        assert_int_equal(fmt_encode(e, b, NULL, 0, &o, &es->b[k]), STROM_OK);
        es->raw += strom_get_u32(es->b[k].data + 80);
    }
    es->rows = (int64_t)es->n * BATCH_ROWS;
    fmt_encoder_destroy(e);
    strom_builder_destroy(b);
}

typedef struct ajob {
    log_bucket *bk;
    enc_set *es;
    int from, step;
} ajob;

static void *append_job(void *arg)
{
    ajob *j = arg;
    strom_buf copy = {0};
    for (int k = j->from; k < j->es->n; k += j->step) {
        strom_buf_clear(&copy);
        strom_buf_append(&copy, j->es->b[k].data, j->es->b[k].len);
        assert_int_equal(log_bucket_append(j->bk, copy.data, copy.len, NULL), STROM_OK);
    }
    strom_buf_free(&copy);
    return NULL;
}

static double now_s(void) { return (double)strom_mono_ns() / 1e9; }

static double append_run(const char *dir, enc_set *es, int nthreads, int64_t *fsyncs);

/* Small batches from many threads: what group commit buys. */
static void small_batches(const char *dir, const strom_schema *s, int nthreads)
{
    strom_rmtree(dir);
    strom_builder *b = strom_builder_create(s);
    for (int r = 0; r < 100; r++)
        grid_row(b, r, 1000, 1700000000000LL);
    fmt_encoder *e = fmt_encoder_create();
    fmt_encode_opts o;
    fmt_encode_opts_init(&o);
    o.time_col = 1;
    enc_set small = {0};
    small.n = 2000;
    small.b = calloc((size_t)small.n, sizeof *small.b);
    for (int k = 0; k < small.n; k++)
        assert_int_equal(fmt_encode(e, b, NULL, 0, &o, &small.b[k]), STROM_OK);
    small.rows = (int64_t)small.n * 100;
    int64_t fs;
    double rate = append_run(dir, &small, nthreads, &fs);
    fprintf(stderr, "append sync, 100-row batches, %d threads: %.0f rows/s, %.0f appends/s, "
            "%.2f fsyncs/append\n", nthreads, rate, rate / 100, (double)fs / small.n);
    strom_rmtree(dir);
    for (int k = 0; k < small.n; k++)
        strom_buf_free(&small.b[k]);
    free(small.b);
    fmt_encoder_destroy(e);
    strom_builder_destroy(b);
}

static double append_run(const char *dir, enc_set *es, int nthreads, int64_t *fsyncs)
{
    log_config cfg;
    lt_cfg(&cfg, 1);
    cfg.index_interval_bytes = 4096;
    cfg.time_col = 1;
    log_bucket *b = NULL;
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    pthread_t th[8];
    ajob jobs[8];
    double t0 = now_s();
    for (int i = 0; i < nthreads; i++) {
        jobs[i] = (ajob){b, es, i, nthreads};
        pthread_create(&th[i], NULL, append_job, &jobs[i]);
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    double dt = now_s() - t0;
    strom_bucket_stats st;
    log_bucket_stats(b, &st);
    *fsyncs = st.fsyncs;
    assert_true(st.end_offset == es->rows);
    log_bucket_close(b);
    return (double)es->rows / dt;
}

static double scan_run(log_bucket *b, const strom_schema *s, const int *proj, int nproj,
                       int64_t want)
{
    log_read_spec sp;
    lt_spec(&sp, s);
    sp.proj = proj;
    sp.nproj = nproj;
    log_reader *r = NULL;
    double t0 = now_s();
    assert_int_equal(log_reader_open(b, 0, &sp, &r), STROM_OK);
    int64_t rows = 0;
    const strom_batch *bt;
    while (log_reader_next(r, &bt) == STROM_OK && bt)
        rows += bt->nrows;
    log_reader_close(r);
    assert_true(rows == want);
    return (double)rows / (now_s() - t0);
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void history_run(log_bucket *b, const strom_schema *s, int64_t ndev, const int *proj,
                        int nproj, const char *label)
{
    enum { N = 200 };
    double ms[N];
    int64_t got = 0;
    log_read_spec sp;
    lt_spec(&sp, s);
    sp.proj = proj;
    sp.nproj = nproj;
    for (int k = -1; k < N; k++) { /* k = -1: the first call, which loads key indexes */
        char dev[16];
        int n = snprintf(dev, sizeof dev, "dev%07lld", (long long)(lt_rnd() % (uint64_t)ndev));
        strom_value v = {.type = STROM_STRING, .v.s = {dev, (size_t)n}};
        strom_buf key = {0};
        fmt_key_from_value(&key, STROM_STRING, &v);
        strom_batch *out = NULL;
        double t0 = now_s();
        assert_int_equal(log_bucket_key_history(b, key.data, key.len, INT64_MAX - 1, 100, &sp, &out),
                         STROM_OK);
        if (k < 0) {
            fprintf(stderr, "key history (%s): first call %.2f ms\n", label, (now_s() - t0) * 1000);
            strom_batch_destroy(out);
            strom_buf_free(&key);
            continue;
        }
        ms[k] = (now_s() - t0) * 1000;
        got += out->nrows;
        strom_batch_destroy(out);
        strom_buf_free(&key);
    }
    qsort(ms, N, sizeof *ms, cmpd);
    fprintf(stderr, "key history (%s): p50 %.2f ms, p99 %.2f ms, %.1f rows/query\n", label,
            ms[N / 2], ms[N * 99 / 100], (double)got / N);
}

static void test_perf(void **state)
{
    (void)state;
    const char *env = getenv("STROM_LOG_PERF_ROWS");
    int64_t rows = env ? atoll(env) : 50000;
    int64_t ndev = rows / 100 > 0 ? rows / 100 : 1;
    char dir[512], dir2[600];
    snprintf(dir, sizeof dir, "%s/strom_logperf_%d", getenv("STROM_PERF_DIR") ? getenv("STROM_PERF_DIR") : ".", (int)getpid());
    snprintf(dir2, sizeof dir2, "%s_mt", dir);
    strom_rmtree(dir);
    strom_rmtree(dir2);
    strom_schema *s = grid_schema();
    enc_set es = {0};
    double t0 = now_s();
    encode_all(&es, rows, ndev, s);
    fprintf(stderr, "encode: %.0f rows/s (format layer)\n", (double)es.rows / (now_s() - t0));
    int64_t f1, f4;
    double a1 = append_run(dir, &es, 1, &f1);
    double a4 = append_run(dir2, &es, 4, &f4);
    fprintf(stderr, "append sync, %d-row batches: 1 thread %.0f rows/s (%.2f fsyncs/append), "
            "4 threads %.0f rows/s (%.2f fsyncs/append)\n", BATCH_ROWS, a1, (double)f1 / es.n,
            a4, (double)f4 / es.n);
    small_batches(dir2, s, 1);
    small_batches(dir2, s, 4);
    log_config cfg;
    lt_cfg(&cfg, 1);
    t0 = now_s();
    log_bucket *b = NULL;
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    fprintf(stderr, "reopen (clean): %.3f s for %lld rows\n", now_s() - t0, (long long)es.rows);
    int two[2] = {2, 3};
    double all = scan_run(b, s, NULL, 0, es.rows), p2 = scan_run(b, s, two, 2, es.rows);
    fprintf(stderr, "scan: all 20 columns %.0f rows/s, 2 of 20 %.0f rows/s (x%.1f)\n", all, p2,
            p2 / all);
    int three[3] = {1, 2, 3};
    history_run(b, s, ndev, three, 3, "3 columns");
    history_run(b, s, ndev, NULL, 0, "all columns");
    log_bucket_close(b);
    char cmd[1200]; /* crash-like: the active segment's index and key files lost */
    snprintf(cmd, sizeof cmd, "cd %s && f=$(ls *.log | tail -1) && rm -f ${f%%.log}.index ${f%%.log}.keys", dir);
    assert_int_equal(system(cmd), 0);
    t0 = now_s();
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    double rec = now_s() - t0;
    t0 = now_s();
    history_run(b, s, ndev, three, 3, "3 columns, first after recovery");
    fprintf(stderr, "recovery open: %.3f s (active index rebuilt)\n", rec);
    log_bucket_close(b);
    for (int k = 0; k < es.n; k++)
        strom_buf_free(&es.b[k]);
    free(es.b);
    strom_schema_destroy(s);
    strom_rmtree(dir);
    strom_rmtree(dir2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_perf)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
