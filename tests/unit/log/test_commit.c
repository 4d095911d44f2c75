/* Unit tests for src/log durability modes: group commit under concurrent appenders
 * (contiguous unique offsets, fewer fsyncs than appends), a tailing reader running
 * alongside, an append during a stalled fdatasync starting its own (overlapped), and the
 * interval / none flush modes. */
#include "logtest.h"

#include <pthread.h>
#include <time.h>

#define NTHREADS 4
#define PER_THREAD 150

typedef struct job {
    log_bucket *b;
    const strom_buf *batch;
    int64_t rows;
    int64_t bases[PER_THREAD];
    int fails;
} job;

/* Appends a copy of batch (the append stamps the bytes it is given). */
static strom_err append_copy(log_bucket *b, const strom_buf *batch, int64_t *base)
{
    uint8_t *copy = malloc(batch->len);
    memcpy(copy, batch->data, batch->len);
    strom_err e = log_bucket_append(b, copy, batch->len, base);
    free(copy);
    return e;
}

static void *appender(void *arg)
{
    job *j = arg;
    for (int k = 0; k < PER_THREAD; k++)
        j->fails += append_copy(j->b, j->batch, &j->bases[k]) != STROM_OK;
    return NULL;
}

typedef struct tail {
    log_bucket *b;
    const strom_schema *s;
    int64_t target, seen;
    int gaps;
} tail;

static void *tailer(void *arg)
{
    tail *t = arg;
    log_read_spec sp;
    lt_spec(&sp, t->s);
    int proj[1] = {1};
    sp.proj = proj;
    sp.nproj = 1;
    log_reader *r = NULL;
    if (log_reader_open(t->b, 0, &sp, &r) != STROM_OK)
        return NULL;
    while (t->seen < t->target) {
        const strom_batch *bt;
        if (log_reader_next(r, &bt) != STROM_OK)
            break;
        if (!bt) {
            usleep(100);
            continue;
        }
        t->gaps += bt->base_offset != t->seen;
        t->seen = bt->base_offset + bt->nrows;
    }
    log_reader_close(r);
    return NULL;
}

typedef struct hjob {
    log_bucket *b;
    const strom_schema *s;
    volatile int *stop;
    int calls, bad;
} hjob;

/* Key history while appends and rolls run: every answer holds only rows of the key. */
static void *historian(void *arg)
{
    hjob *j = arg;
    log_read_spec sp;
    lt_spec(&sp, j->s);
    while (!__atomic_load_n(j->stop, __ATOMIC_ACQUIRE)) {
        char d[16];
        snprintf(d, sizeof d, "dev%03d", j->calls % 5);
        strom_value v = {.type = STROM_STRING, .v.s = {d, strlen(d)}};
        strom_buf key = {0};
        fmt_key_from_value(&key, STROM_STRING, &v);
        strom_batch *out = NULL;
        if (log_bucket_key_history(j->b, key.data, key.len, INT64_MAX, 7, &sp, &out) != STROM_OK) {
            j->bad++;
        } else {
            for (int64_t r = 0; r < out->nrows; r++) {
                const strom_column *c = &out->cols[0];
                j->bad += (size_t)(c->offsets[r + 1] - c->offsets[r]) != strlen(d) ||
                          memcmp(c->data + c->offsets[r], d, strlen(d));
            }
            strom_batch_destroy(out);
        }
        strom_buf_free(&key);
        j->calls++;
    }
    return NULL;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* A fresh bucket (seg_bytes 0: the default segment size) and an encoded batch of n rows. */
typedef struct fixture {
    char dir[256];
    log_bucket *b;
    strom_schema *s;
    strom_buf batch;
} fixture;

static void fixture_open(fixture *f, const char *tag, int keyed, int64_t seg_bytes, int n,
                         int codec)
{
    lt_tmpdir(f->dir, sizeof f->dir, tag);
    log_config cfg;
    lt_cfg(&cfg, keyed);
    if (seg_bytes)
        cfg.segment_bytes = seg_bytes;
    f->b = NULL;
    assert_int_equal(log_bucket_open(f->dir, &cfg, &f->b), STROM_OK);
    f->s = lt_schema(0);
    trow rows[20];
    lt_gen(rows, n, 5, 1000000, 0);
    f->batch = (strom_buf){0};
    lt_encode(f->s, rows, n, codec, &f->batch);
}

static void fixture_close(fixture *f)
{
    log_bucket_close(f->b);
    strom_buf_free(&f->batch);
    strom_schema_destroy(f->s);
    strom_rmtree(f->dir);
}

static void test_group_commit(void **state)
{
    (void)state;
    fixture f;
    fixture_open(&f, "gc", 1, 64 * 1024, 20, FMT_CODEC_LZ4); /* rolls while appenders run */
    log_bucket *b = f.b;
    strom_schema *s = f.s;
    strom_buf batch = f.batch;
    job jobs[NTHREADS];
    pthread_t th[NTHREADS + 2];
    volatile int stop = 0;
    hjob hj = {b, s, &stop, 0, 0};
    pthread_create(&th[NTHREADS + 1], NULL, historian, &hj);
    tail tl = {b, s, (int64_t)NTHREADS * PER_THREAD * 20, 0, 0};
    pthread_create(&th[NTHREADS], NULL, tailer, &tl);
    for (int i = 0; i < NTHREADS; i++) {
        jobs[i] = (job){.b = b, .batch = &batch};
        pthread_create(&th[i], NULL, appender, &jobs[i]);
    }
    for (int i = 0; i <= NTHREADS; i++)
        pthread_join(th[i], NULL);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    pthread_join(th[NTHREADS + 1], NULL);
    assert_true(hj.calls > 0 && hj.bad == 0);
    int64_t all[NTHREADS * PER_THREAD];
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(jobs[i].fails, 0);
        memcpy(all + i * PER_THREAD, jobs[i].bases, sizeof jobs[i].bases);
    }
    qsort(all, NTHREADS * PER_THREAD, sizeof *all, cmp64);
    for (int i = 0; i < NTHREADS * PER_THREAD; i++)
        assert_true(all[i] == (int64_t)i * 20); /* contiguous and unique */
    assert_true(tl.seen == tl.target && tl.gaps == 0);
    strom_bucket_stats st;
    log_bucket_stats(b, &st);
    assert_true(st.end_offset == tl.target && st.segments > 1);
    fprintf(stderr, "group commit: %d appends, %lld fsyncs\n", NTHREADS * PER_THREAD,
            (long long)st.fsyncs);
    assert_true(st.fsyncs < NTHREADS * PER_THREAD);
    fixture_close(&f);
}

/* The fsync hook of test_overlapped_sync: the first fdatasync stalls until a second one
 * has started (or 5 s passed: then syncs do not overlap and the test fails). */
static pthread_mutex_t ov_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ov_cv = PTHREAD_COND_INITIALIZER;
static int ov_calls, ov_second_seen;

static void ov_hook(void)
{
    pthread_mutex_lock(&ov_mu);
    int me = ++ov_calls;
    pthread_cond_broadcast(&ov_cv);
    if (me == 1) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 5;
        while (ov_calls < 2 && pthread_cond_timedwait(&ov_cv, &ov_mu, &ts) == 0)
            ;
        ov_second_seen = ov_calls >= 2;
    }
    pthread_mutex_unlock(&ov_mu);
}

typedef struct ov_job {
    fixture *f;
    int64_t base;
    strom_err e;
} ov_job;

static void *ov_append(void *arg)
{
    ov_job *j = arg;
    j->e = append_copy(j->f->b, &j->f->batch, &j->base);
    return NULL;
}

/* An append whose batch arrives while an earlier append's fdatasync is in flight starts
 * its own fdatasync and returns durable without waiting for the stalled one; afterwards
 * both are durable and acknowledged, offsets in order. */
static void test_overlapped_sync(void **state)
{
    (void)state;
    fixture f;
    fixture_open(&f, "ov", 0, 0, 10, FMT_CODEC_NONE);
    log_bucket *b = f.b;
    ov_calls = ov_second_seen = 0;
    log_test_fsync_hook = ov_hook;
    ov_job first = {&f, -1, STROM_OK}, second = {&f, -1, STROM_OK};
    pthread_t th;
    pthread_create(&th, NULL, ov_append, &first);
    pthread_mutex_lock(&ov_mu);
    while (ov_calls < 1) /* the first append is in its fdatasync */
        pthread_cond_wait(&ov_cv, &ov_mu);
    pthread_mutex_unlock(&ov_mu);
    ov_append(&second);
    pthread_join(th, NULL);
    log_test_fsync_hook = NULL;
    assert_int_equal(first.e, STROM_OK);
    assert_int_equal(second.e, STROM_OK);
    assert_true(ov_second_seen);
    assert_int_equal(first.base, 0);
    assert_int_equal(second.base, 10);
    assert_int_equal(b->syncs_overlapped, 1);
    strom_bucket_stats st;
    log_bucket_stats(b, &st);
    assert_int_equal(st.end_offset, 20); /* acknowledged = both */
    assert_int_equal(st.fsyncs, 2);
    assert_int_equal(b->durable_off, 20);
    fixture_close(&f);
}

static void test_interval_and_none(void **state)
{
    (void)state;
    char dir[256];
    lt_tmpdir(dir, sizeof dir, "iv");
    strom_schema *s = lt_schema(0);
    for (int mode = LOG_FLUSH_INTERVAL; mode <= LOG_FLUSH_NONE; mode++) {
        log_config cfg;
        lt_cfg(&cfg, 0);
        cfg.flush = (log_flush_mode)mode;
        cfg.flush_interval_ms = 20;
        log_bucket *b = NULL;
        assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
        tref ref = {0};
        int64_t e0;
        log_bucket_offsets(b, NULL, &e0);
        ref.n = 0;
        for (int k = 0; k < 10; k++) {
            trow r[5];
            strom_buf buf = {0};
            lt_gen(r, 5, 3, 1000000, 0);
            lt_encode(s, r, 5, FMT_CODEC_ZSTD, &buf);
            assert_int_equal(log_bucket_append(b, buf.data, buf.len, NULL), STROM_OK);
            strom_buf_free(&buf);
        }
        int64_t end;
        log_bucket_offsets(b, NULL, &end);
        assert_true(end == e0 + 50); /* visible without waiting for an fsync */
        strom_bucket_stats st;
        usleep(150 * 1000);
        log_bucket_stats(b, &st);
        if (mode == LOG_FLUSH_INTERVAL)
            assert_true(st.fsyncs >= 1 && st.fsyncs <= 3);
        else
            assert_true(st.fsyncs == 0);
        assert_int_equal(log_bucket_flush(b), STROM_OK);
        log_bucket_close(b);
        free(ref.rows);
    }
    strom_schema_destroy(s);
    strom_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_commit),
        cmocka_unit_test(test_overlapped_sync),
        cmocka_unit_test(test_interval_and_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
