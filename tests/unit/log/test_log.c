/* Unit tests for src/log: append/read round trips with projection, predicates and time
 * ranges, segment rolling, seek by time, key history and retention, each against a
 * reference copy of the appended rows and brute-force answers. */
#include "logtest.h"

#include <unistd.h>

static void fill(log_bucket *b, const strom_schema *s, tref *ref, int nbatches, int ndev)
{
    for (int k = 0; k < nbatches; k++)
        lt_append(b, s, ref, 1 + (int)(lt_rnd() % 120), ndev, 1000000 + ref->n * 10);
}

static void test_roundtrip_all(void **state)
{
    (void)state;
    char dir[256];
    lt_tmpdir(dir, sizeof dir, "rt");
    log_config cfg;
    lt_cfg(&cfg, 0);
    log_bucket *b = NULL;
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    strom_schema *s = lt_schema(0);
    tref ref = {0};
    fill(b, s, &ref, 60, 20);
    int64_t earliest, end;
    log_bucket_offsets(b, &earliest, &end);
    assert_true(earliest == 0 && end == ref.n);
    log_read_spec sp;
    lt_spec(&sp, s);
    int64_t *offs = NULL;
    assert_true(lt_read_all(b, 0, &sp, &ref, &offs) == ref.n);
    for (int64_t k = 0; k < ref.n; k++)
        assert_true(offs[k] == k);
    free(offs);
    /* from the middle: rows before the start offset are not returned */
    int64_t mid = ref.n / 2 + 3;
    assert_true(lt_read_all(b, mid, &sp, &ref, &offs) == ref.n - mid);
    assert_true(offs[0] == mid);
    free(offs);
    log_reader *r = NULL;
    assert_int_equal(log_reader_open(b, ref.n + 1, &sp, &r), STROM_ERANGE);
    strom_bucket_stats st;
    assert_int_equal(log_bucket_stats(b, &st), STROM_OK);
    assert_true(st.end_offset == ref.n && st.batches == 60 && st.raw_bytes > 0);
    log_bucket_close(b);
    /* reopen: same content */
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    assert_true(lt_read_all(b, 0, &sp, &ref, NULL) == ref.n);
    log_bucket_close(b);
    strom_schema_destroy(s);
    free(ref.rows);
    strom_rmtree(dir);
}

/* Brute force: rows matching i > lo AND dev = d AND ts in [tmin, tmax]. */
static int64_t brute_count(const tref *ref, int64_t lo, const char *d, int64_t tmin, int64_t tmax)
{
    int64_t n = 0;
    for (int64_t k = 0; k < ref->n; k++) {
        const trow *w = &ref->rows[k];
        n += !w->inull && w->i > lo && !strcmp(w->dev, d) && w->ts >= tmin && w->ts <= tmax;
    }
    return n;
}

static void test_projection_predicates(void **state)
{
    (void)state;
    char dir[256];
    lt_tmpdir(dir, sizeof dir, "pp");
    log_config cfg;
    lt_cfg(&cfg, 0);
    log_bucket *b = NULL;
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    strom_schema *s = lt_schema(0);
    tref ref = {0};
    fill(b, s, &ref, 80, 30);
    for (int round = 0; round < 20; round++) {
        char d[16];
        snprintf(d, sizeof d, "dev%03d", (int)(lt_rnd() % 30));
        int64_t lo = (int64_t)(lt_rnd() % 1000) - 500;
        int64_t tmin = 1000000 + (int64_t)(lt_rnd() % (uint64_t)(ref.n * 10));
        int64_t tmax = tmin + (int64_t)(lt_rnd() % 20000);
        fmt_pred p[2] = {{3, STROM_OP_GT, {.type = STROM_BIGINT, .v.i = lo}},
                         {0, STROM_OP_EQ, {.type = STROM_STRING, .v.s = {d, strlen(d)}}}};
        int proj[2] = {2, 0};
        log_read_spec sp;
        lt_spec(&sp, s);
        sp.proj = proj;
        sp.nproj = 2;
        sp.preds = p;
        sp.npreds = 2;
        sp.time_min = tmin;
        sp.time_max = tmax;
        int64_t *offs = NULL;
        int64_t got = lt_read_all(b, 0, &sp, &ref, &offs);
        assert_true(got == brute_count(&ref, lo, d, tmin, tmax));
        for (int64_t k = 0; k < got; k++) {
            const trow *w = &ref.rows[offs[k]];
            assert_true(!w->inull && w->i > lo && !strcmp(w->dev, d) && w->ts >= tmin && w->ts <= tmax);
            assert_true(k == 0 || offs[k] > offs[k - 1]);
        }
        free(offs);
        sp.batch_level_only = 1; /* a superset, whole batches */
        assert_true(lt_read_all(b, 0, &sp, &ref, NULL) >= got);
    }
    log_bucket_close(b);
    strom_schema_destroy(s);
    free(ref.rows);
    strom_rmtree(dir);
}

static void test_budget_and_evolution(void **state)
{
    (void)state;
    char dir[256];
    lt_tmpdir(dir, sizeof dir, "ev");
    log_config cfg;
    lt_cfg(&cfg, 0);
    log_bucket *b = NULL;
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    strom_schema *s = lt_schema(0), *s2 = lt_schema(1);
    tref ref = {0};
    fill(b, s, &ref, 10, 5);
    int64_t old = ref.n;
    for (int k = 0; k < 5; k++)
        lt_append(b, s2, &ref, 50, 5, 2000000);
    log_read_spec sp;
    lt_spec(&sp, s2);
    assert_true(lt_read_all(b, 0, &sp, &ref, NULL) == ref.n); /* old rows: extra is NULL */
    assert_false(ref.rows[old - 1].has_extra);
    sp.max_rows = 1;
    int64_t got = lt_read_all(b, 0, &sp, &ref, NULL);
    assert_true(got >= 1 && got <= 120);
    log_bucket_close(b);
    strom_schema_destroy(s);
    strom_schema_destroy(s2);
    free(ref.rows);
    strom_rmtree(dir);
}

static void test_rolling_and_retention(void **state)
{
    (void)state;
    char dir[256];
    lt_tmpdir(dir, sizeof dir, "roll");
    log_config cfg;
    lt_cfg(&cfg, 1);
    cfg.segment_bytes = 4096;
    cfg.ttl_ms = 3600 * 1000; /* nothing expires by itself during this test */
    log_bucket *b = NULL;
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    strom_schema *s = lt_schema(0);
    tref ref = {0};
    fill(b, s, &ref, 100, 10);
    strom_bucket_stats st;
    log_bucket_stats(b, &st);
    assert_true(st.segments > 5);
    log_read_spec sp;
    lt_spec(&sp, s);
    assert_true(lt_read_all(b, 0, &sp, &ref, NULL) == ref.n);
    log_bucket_close(b);
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    assert_true(lt_read_all(b, 0, &sp, &ref, NULL) == ref.n);
    /* a reader holding the first segment keeps reading it after retention removes it */
    log_reader *r = NULL;
    assert_int_equal(log_reader_open(b, 0, &sp, &r), STROM_OK);
    int removed = 0;
    assert_int_equal(log_bucket_retention(b, strom_now_ms() - 3600 * 1000, &removed), STROM_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(log_bucket_retention(b, strom_now_ms() + 2 * 3600 * 1000, &removed), STROM_OK);
    log_bucket_stats(b, &st);
    assert_true(removed > 5);
    assert_true(st.segments == 1 && st.earliest_offset > 0 && st.end_offset == ref.n);
    const strom_batch *bt;
    assert_int_equal(log_reader_next(r, &bt), STROM_OK);
    assert_true(bt && bt->base_offset == 0);
    log_reader_close(r);
    int64_t *offs = NULL;
    int64_t n = lt_read_all(b, 0, &sp, &ref, &offs); /* clamped to the earliest */
    assert_true(n == ref.n - st.earliest_offset && offs[0] == st.earliest_offset);
    free(offs);
    log_bucket_close(b);
    strom_schema_destroy(s);
    free(ref.rows);
    strom_rmtree(dir);
}

/* 'table.log.ttl' applies by itself: at every roll and at open, without a retention call.
 * Time is moved forward with the clock-skew hook, so the test does not depend on speed. */
static void test_retention_automatic(void **state)
{
    (void)state;
    char dir[256];
    lt_tmpdir(dir, sizeof dir, "ttl");
    log_config cfg;
    lt_cfg(&cfg, 1);
    cfg.segment_bytes = 4096;
    cfg.ttl_ms = 3600 * 1000;
    log_bucket *b = NULL;
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    strom_schema *s = lt_schema(0);
    tref ref = {0};
    fill(b, s, &ref, 30, 10);
    strom_bucket_stats st;
    log_bucket_stats(b, &st);
    assert_true(st.segments > 3 && st.earliest_offset == 0); /* nothing expired yet */
    log_test_clock_skew_ms = 2 * 3600 * 1000; /* two hours later, every sealed segment expired */
    fill(b, s, &ref, 10, 10);                  /* the next roll removes them */
    log_bucket_stats(b, &st);
    assert_true(st.earliest_offset > 0);
    assert_true(st.end_offset == ref.n);
    log_read_spec sp;
    lt_spec(&sp, s);
    int64_t *offs = NULL;
    int64_t n = lt_read_all(b, 0, &sp, &ref, &offs); /* what is left reads intact */
    assert_true(n == ref.n - st.earliest_offset && offs[0] == st.earliest_offset);
    free(offs);
    log_bucket_close(b);
    log_test_clock_skew_ms = 4 * 3600 * 1000;
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK); /* open applies it too */
    log_bucket_stats(b, &st);
    assert_int_equal(st.segments, 1);
    assert_true(st.end_offset == ref.n);
    log_bucket_close(b);
    log_test_clock_skew_ms = 0;
    strom_schema_destroy(s);
    free(ref.rows);
    strom_rmtree(dir);
}

static void test_seek_time(void **state)
{
    (void)state;
    char dir[256];
    lt_tmpdir(dir, sizeof dir, "seek");
    log_config cfg;
    lt_cfg(&cfg, 0);
    cfg.segment_bytes = 8192;
    log_bucket *b = NULL;
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    strom_schema *s = lt_schema(0);
    tref ref = {0};
    fill(b, s, &ref, 120, 10);
    for (int round = 0; round < 300; round++) {
        int64_t t = 1000000 - 200000 + (int64_t)(lt_rnd() % (uint64_t)(ref.n * 10 + 400000));
        int64_t want = ref.n;
        for (int64_t k = 0; k < ref.n && want == ref.n; k++)
            if (ref.rows[k].ts >= t)
                want = k;
        int64_t got = -1;
        assert_int_equal(log_bucket_seek_time(b, t, &got), STROM_OK);
        assert_true(got == want);
    }
    log_bucket_close(b);
    strom_schema_destroy(s);
    free(ref.rows);
    strom_rmtree(dir);
}


static void check_history(log_bucket *b, const strom_schema *s, const tref *ref, int ndev)
{
    int64_t total = 0;
    for (int round = 0; round < 60; round++) {
        char d[16];
        snprintf(d, sizeof d, "dev%03d", (int)(lt_rnd() % (uint64_t)ndev));
        int64_t t = 1000000 + (int64_t)(lt_rnd() % (uint64_t)(ref->n * 10 + 1000));
        int64_t n = 1 + (int64_t)(lt_rnd() % 40);
        /* brute force: rows of d with ts <= t, newest by (ts, offset) */
        int64_t *best = calloc((size_t)n, sizeof *best), nb = 0;
        for (int64_t k = 0; k < ref->n; k++) {
            const trow *w = &ref->rows[k];
            if (strcmp(w->dev, d) || w->ts > t)
                continue;
            int64_t pos = nb;
            while (pos > 0 && (ref->rows[best[pos - 1]].ts < w->ts ||
                               (ref->rows[best[pos - 1]].ts == w->ts && best[pos - 1] < k)))
                pos--;
            if (pos >= n)
                continue;
            if (nb < n)
                nb++;
            memmove(best + pos + 1, best + pos, (size_t)(nb - 1 - pos) * sizeof *best);
            best[pos] = k;
        }
        strom_buf key = {0};
        strom_value v = {.type = STROM_STRING, .v.s = {d, strlen(d)}};
        assert_int_equal(fmt_key_from_value(&key, STROM_STRING, &v), STROM_OK);
        log_read_spec sp;
        lt_spec(&sp, s);
        strom_batch *out = NULL;
        strom_err e = log_bucket_key_history(b, key.data, key.len, t, n, &sp, &out);
        if (e != STROM_OK)
            fprintf(stderr, "history: %s\n", strom_errmsg());
        assert_int_equal(e, STROM_OK);
        assert_true(out->nrows == nb);
        total += nb;
        for (int64_t k = 0; k < nb; k++) {
            assert_true(out->row_offsets[k] == best[k]);
            assert_true(out->row_times[k] == ref->rows[best[k]].ts);
            for (int j = 0; j < out->ncols; j++)
                lt_check_cell(&out->cols[j], j, k, &ref->rows[best[k]]);
        }
        strom_batch_destroy(out);
        strom_buf_free(&key);
        free(best);
    }
    assert_true(total > 100);
}

static void test_key_history(void **state)
{
    (void)state;
    char dir[256];
    lt_tmpdir(dir, sizeof dir, "hist");
    log_config cfg;
    lt_cfg(&cfg, 1);
    cfg.segment_bytes = 16384;
    log_bucket *b = NULL;
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    strom_schema *s = lt_schema(0);
    tref ref = {0};
    fill(b, s, &ref, 120, 25);
    check_history(b, s, &ref, 25);
    log_bucket_close(b);
    /* reopened: sealed key indexes from files, the active one rebuilt lazily */
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    check_history(b, s, &ref, 25);
    assert_string_equal(log_bucket_warnings(b), ""); /* the files were used, not rebuilt */
    fill(b, s, &ref, 10, 25);
    check_history(b, s, &ref, 25);
    log_bucket_close(b);
    /* key index files gone or damaged: rebuilt */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cd %s && rm -f $(ls *.keys | head -2) && for f in $(ls *.keys | head -2); do "
             "printf 'XXXX' | dd of=$f bs=1 seek=100 conv=notrunc 2>/dev/null; done", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    check_history(b, s, &ref, 25);
    assert_non_null(strstr(log_bucket_warnings(b), "key index"));
    log_bucket_close(b);
    /* damage inside the runs (found only when a lookup reads them): rebuilt on the fly */
    snprintf(cmd, sizeof cmd, "cd %s && for f in $(ls *.keys | head -3); do s=$(stat -c %%s $f); "
             "for o in 40 120 300 700; do printf 'Z' | dd of=$f bs=1 seek=$((s - o)) conv=notrunc "
             "2>/dev/null; done; done", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    check_history(b, s, &ref, 25);
    assert_non_null(strstr(log_bucket_warnings(b), "run CRC mismatch"));
    log_bucket_close(b);
    strom_schema_destroy(s);
    free(ref.rows);
    strom_rmtree(dir);
}

/* Blocked chunks of the columns key history decodes (v, i, flag) in the segments of dir. */
static int count_blocked(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cat %s/*.log", dir);
    FILE *f = popen(cmd, "r");
    strom_buf all = {0};
    uint8_t chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        assert_int_equal(strom_buf_append(&all, chunk, got), STROM_OK);
    pclose(f);
    int blocked = 0;
    fmt_dir *dirs = calloc(FMT_MAX_COLUMNS, sizeof *dirs);
    for (size_t pos = 0; pos + 4 <= all.len; pos++) { /* find batches by their magic */
        fmt_hdr h;
        if (pos < 12 || strom_get_u32(all.data + pos) != FMT_MAGIC ||
            fmt_hdr_parse(all.data + pos - 12, all.len - (pos - 12), &h, dirs) != STROM_OK)
            continue;
        for (int c = 2; c < h.ncols; c++)
            blocked += fmt_codec_blocked(dirs[c].codec);
    }
    free(dirs);
    strom_buf_free(&all);
    return blocked;
}

/* Key history where the decoded columns are blocked chunks (256-byte blocks): the point
 * reads decompress only some blocks and must still give the brute-force answer. */
static void test_key_history_blocked(void **state)
{
    (void)state;
    char dir[256];
    lt_tmpdir(dir, sizeof dir, "histblk");
    log_config cfg;
    lt_cfg(&cfg, 1);
    cfg.segment_bytes = 32768;
    log_bucket *b = NULL;
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    strom_schema *s = lt_schema(0);
    tref ref = {0};
    lt_block_size = 256;
    for (int k = 0; k < 16; k++)
        lt_append(b, s, &ref, 500 + (int)(lt_rnd() % 1500), 15, 1000000 + ref.n * 10);
    lt_block_size = FMT_BLOCK_SIZE;
    check_history(b, s, &ref, 15);
    log_bucket_close(b);
    assert_true(count_blocked(dir) >= 4); /* the test must exercise the blocked layout */
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    check_history(b, s, &ref, 15);
    log_bucket_close(b);
    strom_schema_destroy(s);
    free(ref.rows);
    strom_rmtree(dir);
}

/* After open, a warm-up thread rebuilds the active key index while appends go on: batches
 * appended meanwhile must be found by key history (the catch-up under the writer lock). */
static void test_key_history_warm_up(void **state)
{
    (void)state;
    char dir[256];
    lt_tmpdir(dir, sizeof dir, "warm");
    log_config cfg;
    lt_cfg(&cfg, 1);
    cfg.segment_bytes = 64 << 20; /* everything stays in the active segment */
    log_bucket *b = NULL;
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    strom_schema *s = lt_schema(0);
    tref ref = {0};
    fill(b, s, &ref, 200, 25);
    log_bucket_close(b);
    char cmd[512]; /* as after a crash: no key index file for the active segment */
    snprintf(cmd, sizeof cmd, "rm -f %s/*.keys", dir);
    assert_int_equal(system(cmd), 0);
    for (int round = 0; round < 3; round++) {
        assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
        fill(b, s, &ref, 20, 25); /* races with the warm-up */
        check_history(b, s, &ref, 25);
        fill(b, s, &ref, 5, 25);  /* indexed normally once ready */
        check_history(b, s, &ref, 25);
        log_bucket_close(b);
    }
    strom_schema_destroy(s);
    free(ref.rows);
    strom_rmtree(dir);
}

static void test_no_key_index(void **state)
{
    (void)state;
    char dir[256];
    lt_tmpdir(dir, sizeof dir, "nokey");
    log_config cfg;
    lt_cfg(&cfg, 0);
    log_bucket *b = NULL;
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    strom_schema *s = lt_schema(0);
    log_read_spec sp;
    lt_spec(&sp, s);
    strom_batch *out = NULL;
    assert_int_equal(log_bucket_key_history(b, (const uint8_t *)"x", 1, 0, 1, &sp, &out),
                     STROM_EUNSUPPORTED);
    uint8_t junk[200] = {0};
    assert_int_not_equal(log_bucket_append(b, junk, sizeof junk, NULL), STROM_OK);
    log_bucket_close(b);
    strom_schema_destroy(s);
    strom_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all),
        cmocka_unit_test(test_projection_predicates),
        cmocka_unit_test(test_budget_and_evolution),
        cmocka_unit_test(test_rolling_and_retention),
        cmocka_unit_test(test_retention_automatic),
        cmocka_unit_test(test_seek_time),
        cmocka_unit_test(test_key_history),
        cmocka_unit_test(test_key_history_warm_up),
        cmocka_unit_test(test_key_history_blocked),
        cmocka_unit_test(test_no_key_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
