/* Unit tests for src/log recovery: torn tails cut at every byte of the last batch, flipped
 * bits, damaged or missing index files, corrupt data in a sealed segment, and fencing
 * after a failed write or fsync. */
#include "logtest.h"

#include <fcntl.h>

static uint8_t *slurp(const char *path, size_t *len)
{
    uint8_t *p = NULL;
    assert_int_equal(strom_read_file(path, (size_t)1 << 30, &p, len), STROM_OK);
    return p;
}

static void spit(const char *path, const uint8_t *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(strom_write_full(fd, p, len), 0);
    close(fd);
}

static void seg_path(char *out, size_t cap, const char *dir, int64_t base, const char *ext)
{
    snprintf(out, cap, "%s/%020lld%s", dir, (long long)base, ext);
}

/* Reopens and checks that exactly the first `keep` rows are there and intact. */
static void expect_rows(const char *dir, const log_config *cfg, const strom_schema *s,
                        const tref *ref, int64_t keep)
{
    log_bucket *b = NULL;
    assert_int_equal(log_bucket_open(dir, cfg, &b), STROM_OK);
    int64_t end;
    log_bucket_offsets(b, NULL, &end);
    assert_true(end == keep);
    log_read_spec sp;
    lt_spec(&sp, s);
    tref part = *ref;
    part.n = keep;
    assert_true(lt_read_all(b, 0, &sp, &part, NULL) == keep);
    log_bucket_close(b);
}

static void test_torn_tail_every_byte(void **state)
{
    (void)state;
    char dir[256], seg[512], idx[512];
    lt_tmpdir(dir, sizeof dir, "torn");
    log_config cfg;
    lt_cfg(&cfg, 1);
    cfg.index_interval_bytes = 300;
    log_bucket *b = NULL;
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    strom_schema *s = lt_schema(0);
    tref ref = {0};
    for (int k = 0; k < 12; k++)
        lt_append(b, s, &ref, 5 + k, 8, 1000000);
    int64_t before = ref.n;
    seg_path(seg, sizeof seg, dir, 0, ".log");
    struct stat st;
    stat(seg, &st);
    off_t p0 = st.st_size;
    lt_append(b, s, &ref, 7, 8, 2000000);
    log_bucket_close(b);
    seg_path(idx, sizeof idx, dir, 0, ".index");
    size_t slen, ilen;
    uint8_t *sb = slurp(seg, &slen), *ib = slurp(idx, &ilen);
    for (size_t cut = (size_t)p0; cut < slen; cut++) {
        spit(seg, sb, cut);
        spit(idx, ib, ilen);
        expect_rows(dir, &cfg, s, &ref, before);
    }
    /* every single bit of the last batch flipped in turn (sampled bytes) */
    for (size_t at = (size_t)p0; at < slen; at += 7) {
        sb[at] ^= (uint8_t)(1u << (at % 8));
        spit(seg, sb, slen);
        spit(idx, ib, ilen);
        expect_rows(dir, &cfg, s, &ref, before);
        sb[at] ^= (uint8_t)(1u << (at % 8));
    }
    spit(seg, sb, slen);
    spit(idx, ib, ilen);
    expect_rows(dir, &cfg, s, &ref, ref.n);
    free(sb);
    free(ib);
    strom_schema_destroy(s);
    free(ref.rows);
    strom_rmtree(dir);
}

static void test_index_files_rebuilt(void **state)
{
    (void)state;
    char dir[256], p[512];
    lt_tmpdir(dir, sizeof dir, "idx");
    log_config cfg;
    lt_cfg(&cfg, 0);
    cfg.segment_bytes = 4096;
    log_bucket *b = NULL;
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    strom_schema *s = lt_schema(0);
    tref ref = {0};
    for (int k = 0; k < 60; k++)
        lt_append(b, s, &ref, 1 + (int)(lt_rnd() % 80), 8, 1000000 + ref.n * 10);
    log_bucket_close(b);
    char cmd[1024];
    /* first index deleted, second bit-flipped, third truncated mid-entry, fourth emptied */
    snprintf(cmd, sizeof cmd, "cd %s && set -- $(ls *.index) && rm $1 && "
             "printf '\\001' | dd of=$2 bs=1 seek=70 conv=notrunc 2>/dev/null && "
             "truncate -s -10 $3 && : > $4", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    assert_non_null(strstr(log_bucket_warnings(b), "index missing or damaged"));
    log_read_spec sp;
    lt_spec(&sp, s);
    assert_true(lt_read_all(b, 0, &sp, &ref, NULL) == ref.n);
    for (int round = 0; round < 50; round++) {
        int64_t t = 1000000 + (int64_t)(lt_rnd() % (uint64_t)(ref.n * 10));
        int64_t want = ref.n, got;
        for (int64_t k = 0; k < ref.n && want == ref.n; k++)
            if (ref.rows[k].ts >= t)
                want = k;
        assert_int_equal(log_bucket_seek_time(b, t, &got), STROM_OK);
        assert_true(got == want);
    }
    log_bucket_close(b);
    /* rebuilt files are valid again: no warnings on the next open */
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    assert_string_equal(log_bucket_warnings(b), "");
    log_bucket_close(b);
    seg_path(p, sizeof p, dir, 0, ".index");
    strom_schema_destroy(s);
    free(ref.rows);
    strom_rmtree(dir);
}

static void test_corrupt_active_middle(void **state)
{
    (void)state;
    char dir[256], seg[512];
    lt_tmpdir(dir, sizeof dir, "sealed");
    log_config cfg;
    lt_cfg(&cfg, 0);
    cfg.segment_bytes = 1 << 20;
    log_bucket *b = NULL;
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    strom_schema *s = lt_schema(0);
    tref ref = {0};
    int64_t bases[10];
    for (int k = 0; k < 10; k++)
        bases[k] = lt_append(b, s, &ref, 40, 8, 1000000 + ref.n * 10);
    log_bucket_close(b);
    /* damage the last chunk of batch 4 (inside the batch; its header stays intact) */
    seg_path(seg, sizeof seg, dir, 0, ".log");
    size_t len;
    uint8_t *sb = slurp(seg, &len);
    size_t pos = LOG_SEG_HDR;
    for (int k = 0; k < 5; k++)
        pos += 12 + strom_get_u32(sb + pos + 8);
    size_t end4 = pos;
    sb[end4 - 3] ^= 0x40;
    spit(seg, sb, len);
    free(sb);
    /* a damaged batch inside the active segment (not its tail) is kept: the reads of that
     * batch fail with ECORRUPT, every other batch stays readable, nothing is truncated */
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    int64_t end;
    log_bucket_offsets(b, NULL, &end);
    assert_true(end == ref.n);
    log_read_spec sp;
    lt_spec(&sp, s);
    log_reader *r = NULL;
    const strom_batch *bt;
    assert_int_equal(log_reader_open(b, 0, &sp, &r), STROM_OK);
    int64_t rows = 0;
    strom_err e;
    while ((e = log_reader_next(r, &bt)) == STROM_OK && bt)
        rows += bt->nrows;
    assert_int_equal(e, STROM_ECORRUPT);
    assert_true(rows == bases[4]);
    char want[64];
    snprintf(want, sizeof want, "offset %lld", (long long)bases[4]);
    assert_non_null(strstr(strom_errmsg(), want));
    while (log_reader_next(r, &bt) == STROM_OK && bt)
        rows += bt->nrows;
    assert_true(rows == ref.n - 40);
    log_reader_close(r);
    log_bucket_close(b);
    free(ref.rows);
    strom_schema_destroy(s);
    strom_rmtree(dir);
}

static void test_corrupt_chunk_reads_fail_cleanly(void **state)
{
    (void)state;
    char dir[256], seg[512];
    lt_tmpdir(dir, sizeof dir, "chunk");
    log_config cfg;
    lt_cfg(&cfg, 0);
    cfg.segment_bytes = 1024;
    log_bucket *b = NULL;
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    strom_schema *s = lt_schema(0);
    tref ref = {0};
    for (int k = 0; k < 6; k++)
        lt_append(b, s, &ref, 40, 8, 1000000 + ref.n * 10);
    log_bucket_close(b);
    /* segment 0 is sealed (one batch); damage its last chunk byte */
    seg_path(seg, sizeof seg, dir, 0, ".log");
    size_t len;
    uint8_t *sb = slurp(seg, &len);
    sb[len - 2] ^= 0x10;
    spit(seg, sb, len);
    free(sb);
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    log_read_spec sp;
    lt_spec(&sp, s);
    log_reader *r = NULL;
    const strom_batch *bt;
    assert_int_equal(log_reader_open(b, 0, &sp, &r), STROM_OK);
    assert_int_equal(log_reader_next(r, &bt), STROM_ECORRUPT);
    assert_non_null(strstr(strom_errmsg(), "table 't' bucket 0"));
    assert_non_null(strstr(strom_errmsg(), "offset 0"));
    int64_t rows = 0; /* the rest stays readable */
    while (log_reader_next(r, &bt) == STROM_OK && bt)
        rows += bt->nrows;
    assert_true(rows == ref.n - 40);
    log_reader_close(r);
    log_bucket_close(b);
    free(ref.rows);
    strom_schema_destroy(s);
    strom_rmtree(dir);
}

static void test_fencing(void **state)
{
    (void)state;
    char dir[256];
    lt_tmpdir(dir, sizeof dir, "fence");
    log_config cfg;
    lt_cfg(&cfg, 1);
    log_bucket *b = NULL;
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    strom_schema *s = lt_schema(0);
    tref ref = {0};
    for (int k = 0; k < 5; k++)
        lt_append(b, s, &ref, 10, 4, 1000000);
    strom_buf buf = {0};
    trow rows[10];
    lt_gen(rows, 10, 4, 1000000, 0);
    lt_encode(s, rows, 10, FMT_CODEC_NONE, &buf);
    log_test_fail_fsync = 1;
    assert_int_equal(log_bucket_append(b, buf.data, buf.len, NULL), STROM_EFENCED);
    assert_int_equal(log_bucket_append(b, buf.data, buf.len, NULL), STROM_EFENCED);
    assert_non_null(strstr(strom_errmsg(), "table 't' bucket 0"));
    assert_non_null(strstr(strom_errmsg(), "fdatasync"));
    int64_t end;
    log_bucket_offsets(b, NULL, &end);
    assert_true(end == ref.n); /* not acknowledged */
    log_bucket_close(b);
    /* the fsync failed but the write reached the page cache: it survives the reopen */
    lt_ref_add(&ref, rows, 10);
    expect_rows(dir, &cfg, s, &ref, ref.n);
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    log_test_fail_write = 1;
    assert_int_equal(log_bucket_append(b, buf.data, buf.len, NULL), STROM_EIO);
    assert_int_equal(log_bucket_append(b, buf.data, buf.len, NULL), STROM_EFENCED);
    assert_int_equal(log_bucket_flush(b), STROM_EFENCED);
    log_bucket_close(b);
    expect_rows(dir, &cfg, s, &ref, ref.n);
    strom_buf_free(&buf);
    free(ref.rows);
    strom_schema_destroy(s);
    strom_rmtree(dir);
}

static void test_torn_segment_creation(void **state)
{
    (void)state;
    char dir[256], p[512];
    lt_tmpdir(dir, sizeof dir, "create");
    log_config cfg;
    lt_cfg(&cfg, 1);
    log_bucket *b = NULL;
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    strom_schema *s = lt_schema(0);
    tref ref = {0};
    for (int k = 0; k < 3; k++)
        lt_append(b, s, &ref, 10, 4, 1000000);
    log_bucket_close(b);
    /* a crash right after creating the next segment file, before its header was written */
    seg_path(p, sizeof p, dir, ref.n, ".log");
    spit(p, (const uint8_t *)"", 0);
    expect_rows(dir, &cfg, s, &ref, ref.n);
    spit(p, (const uint8_t *)"STEG", 4);
    expect_rows(dir, &cfg, s, &ref, ref.n);
    /* bit rot in the header of segments holding data: warned about, data intact */
    log_bucket *b2 = NULL;
    cfg.segment_bytes = 1024;
    assert_int_equal(log_bucket_open(dir, &cfg, &b2), STROM_OK);
    for (int k = 0; k < 4; k++)
        lt_append(b2, s, &ref, 10, 4, 1000000);
    log_bucket_close(b2);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cd %s && for f in *.log; do printf 'X' | dd of=$f bs=1 seek=9 "
             "conv=notrunc 2>/dev/null; done", dir);
    assert_int_equal(system(cmd), 0);
    expect_rows(dir, &cfg, s, &ref, ref.n);
    assert_int_equal(log_bucket_open(dir, &cfg, &b2), STROM_OK);
    assert_non_null(strstr(log_bucket_warnings(b2), "bad segment header"));
    log_bucket_close(b2);
    /* a fresh bucket killed while creating its first segment */
    strom_rmtree(dir);
    strom_mkdirs(dir, 0755);
    seg_path(p, sizeof p, dir, 0, ".log");
    spit(p, (const uint8_t *)"", 0);
    tref none = {0};
    expect_rows(dir, &cfg, s, &none, 0);
    free(ref.rows);
    strom_schema_destroy(s);
    strom_rmtree(dir);
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* Preallocated segments (log_config.prealloc_bytes): the active segment's file runs ahead
 * of its data while open; a sealed segment and a closed bucket are cut back to their data;
 * after a crash (a copy of the open bucket's files) recovery cuts the zero tail without a
 * warning, keeps every row, leaves the same files as a clean close, and appends go on. */
static void test_preallocated_segments(void **state)
{
    (void)state;
    char dir[256], crash[300], p[512], cmd[1024];
    lt_tmpdir(dir, sizeof dir, "prealloc");
    snprintf(crash, sizeof crash, "%s-crash", dir);
    log_config cfg;
    lt_cfg(&cfg, 1);
    cfg.prealloc_bytes = 64 << 10;
    cfg.segment_bytes = 16 << 10;
    log_bucket *b = NULL;
    assert_int_equal(log_bucket_open(dir, &cfg, &b), STROM_OK);
    strom_schema *s = lt_schema(0);
    tref ref = {0};
    lt_append(b, s, &ref, 10, 4, 1000000);
    seg_path(p, sizeof p, dir, 0, ".log");
    assert_true(file_size(p) >= (off_t)cfg.prealloc_bytes); /* ahead of its data */
    while (file_size(p) >= (off_t)cfg.prealloc_bytes)     /* until it is sealed */
        lt_append(b, s, &ref, 5 + (int)(lt_rnd() % 20), 4, 1000000 + ref.n * 10);
    for (int k = 0; k < 10; k++)
        lt_append(b, s, &ref, 5 + (int)(lt_rnd() % 20), 4, 1000000 + ref.n * 10);
    assert_true(file_size(p) <= cfg.segment_bytes + 4096); /* sealed: cut to its data */
    /* the crash: the files as they are while the bucket is open */
    snprintf(cmd, sizeof cmd, "rm -rf %s && cp -r %s %s", crash, dir, crash);
    assert_int_equal(system(cmd), 0);
    log_bucket_close(b);
    assert_int_equal(log_bucket_open(crash, &cfg, &b), STROM_OK);
    assert_string_equal(log_bucket_warnings(b), "");
    log_bucket_close(b);
    snprintf(cmd, sizeof cmd, "cd %s && ls *.log | wc -l | grep -qv '^1$' && for f in *.log; "
             "do cmp -s $f %s/$f || exit 1; done", dir, crash);
    assert_int_equal(system(cmd), 0); /* same segment files as after the clean close */
    expect_rows(crash, &cfg, s, &ref, ref.n);
    assert_int_equal(log_bucket_open(crash, &cfg, &b), STROM_OK);
    lt_append(b, s, &ref, 12, 4, 3000000);
    log_bucket_close(b);
    expect_rows(crash, &cfg, s, &ref, ref.n);
    free(ref.rows);
    strom_schema_destroy(s);
    strom_rmtree(dir);
    strom_rmtree(crash);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torn_tail_every_byte),
        cmocka_unit_test(test_index_files_rebuilt),
        cmocka_unit_test(test_corrupt_active_middle),
        cmocka_unit_test(test_corrupt_chunk_reads_fail_cleanly),
        cmocka_unit_test(test_fencing),
        cmocka_unit_test(test_torn_segment_creation),
        cmocka_unit_test(test_preallocated_segments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
