/*
 * test_fulldisk.c: a disk that fills up under a writer.
 *
 * The data directory is a 1 MiB tmpfs mounted in a private mount namespace (we run as root
 * in CI; where mounting is not allowed the file-size limit RLIMIT_FSIZE plays the full
 * disk, failing writes with EFBIG). A writer appends until the disk refuses. Expected:
 *   - the failing append reports STROM_ENOSPC (tmpfs) or STROM_EIO (limit) with a message
 *     that names the table and bucket;
 *   - every later append is refused with STROM_EFENCED;
 *   - after room is made and the table reopened, every acknowledged row is there, intact
 *     and in order, and appends work again.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "strom/strom.h"

#define ROWS_PER_BATCH 200

static char g_dir[256];
static int g_tmpfs; /* 1: tmpfs mounted at g_dir; 0: RLIMIT_FSIZE */

static int mount_small_tmpfs(const char *dir, const char *size)
{
    if (unshare(CLONE_NEWNS) != 0)
        return -1;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return -1;
    char opts[64];
    snprintf(opts, sizeof opts, "size=%s", size);
    return mount("strom-test", dir, "tmpfs", 0, opts);
}

static void make_room(void)
{
    if (g_tmpfs) {
        assert_int_equal(mount(NULL, g_dir, NULL, MS_REMOUNT, "size=64m"), 0);
    } else {
        struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
    }
}

static strom_schema *test_schema(void)
{
    strom_schema *s = strom_schema_create();
    assert_non_null(s);
    assert_int_equal(strom_schema_add(s, "id", STROM_BIGINT, 1), STROM_OK);
    assert_int_equal(strom_schema_add(s, "v", STROM_DOUBLE, 0), STROM_OK);
    assert_int_equal(strom_schema_add(s, "tag", STROM_STRING, 0), STROM_OK);
    return s;
}

/* Row id's values, derived from id alone so the reader can check them independently.
 * The tag is random-looking so that compression cannot hide the bytes. */
static void row_tag(int64_t id, char *out, size_t cap)
{
    uint64_t x = (uint64_t)id * 0x9E3779B97F4A7C15ull;
    snprintf(out, cap, "%016llx%016llx", (unsigned long long)x, (unsigned long long)(x ^ (x >> 29)));
}

static void fill(strom_builder *b, int64_t first)
{
    strom_builder_reset(b);
    for (int64_t id = first; id < first + ROWS_PER_BATCH; id++) {
        char tag[40];
        row_tag(id, tag, sizeof tag);
        assert_int_equal(strom_builder_put_int(b, 0, id), STROM_OK);
        assert_int_equal(strom_builder_put_f64(b, 1, (double)id * 0.5), STROM_OK);
        assert_int_equal(strom_builder_put_str(b, 2, tag, strlen(tag)), STROM_OK);
        assert_int_equal(strom_builder_end_row(b), STROM_OK);
    }
}

/* Appends until the disk refuses; returns the acknowledged row count. */
static int64_t append_until_full(strom_table *t, strom_builder *b)
{
    int64_t acked = 0;
    for (int i = 0; i < 100000; i++) {
        fill(b, acked);
        int64_t first = -1;
        strom_err e = strom_table_append_bucket(t, 0, b, &first);
        if (e != STROM_OK) {
            assert_true(e == (g_tmpfs ? STROM_ENOSPC : STROM_EIO));
            const char *msg = strom_errmsg();
            print_message("disk full after %lld rows: %s: %s\n", (long long)acked,
                          strom_strerror(e), msg);
            assert_non_null(strstr(msg, "full_t"));
            assert_non_null(strstr(msg, "bucket 0"));
            return acked;
        }
        assert_int_equal(first, acked);
        acked += ROWS_PER_BATCH;
    }
    fail_msg("the disk never filled up");
    return -1;
}

static void verify_rows(strom_table *t, int64_t acked)
{
    strom_scan *sc = NULL;
    assert_int_equal(strom_scan_open(t, 0, 0, NULL, &sc), STROM_OK);
    int64_t next = 0;
    const strom_batch *bt;
    while (strom_scan_next(sc, &bt) == STROM_OK && bt) {
        for (int64_t r = 0; r < strom_batch_nrows(bt); r++, next++) {
            assert_int_equal(strom_batch_row_offset(bt, r), next);
            assert_int_equal(strom_batch_get_int(bt, 0, r), next);
            assert_true(strom_batch_get_f64(bt, 1, r) == (double)next * 0.5);
            char tag[40];
            size_t len;
            row_tag(next, tag, sizeof tag);
            const char *got = strom_batch_get_str(bt, 2, r, &len);
            assert_int_equal(len, strlen(tag));
            assert_memory_equal(got, tag, len);
        }
    }
    strom_scan_close(sc);
    /* Acknowledged rows are all there; the log may also hold the failed batch if it
     * reached the disk whole before the fsync failed, but never a partial one. */
    assert_true(next >= acked);
    assert_true(next == acked || next == acked + ROWS_PER_BATCH);
}

static void test_disk_full(void **state)
{
    (void)state;
    /* On tmpfs, small segments so that rolling and index files meet the full disk too; under
     * RLIMIT_FSIZE (a per-file limit) one segment must outgrow the limit. */
    const char *opts[] = {"table.log.flush", "sync", "table.log.segment.bytes",
                          g_tmpfs ? "65536" : "16777216", NULL};
    strom_db *db = NULL;
    assert_int_equal(strom_db_open(g_dir, &db), STROM_OK);
    strom_schema *s = test_schema();
    assert_int_equal(strom_table_create(db, "full_t", s, opts), STROM_OK);
    strom_table *t = NULL;
    assert_int_equal(strom_table_open(db, "full_t", &t), STROM_OK);
    strom_builder *b = strom_builder_create(s);

    int64_t acked = append_until_full(t, b);
    assert_true(acked > 0);
    fill(b, acked);
    assert_int_equal(strom_table_append_bucket(t, 0, b, NULL), STROM_EFENCED);
    strom_table_close(t);
    strom_db_close(db);

    make_room();
    assert_int_equal(strom_db_open(g_dir, &db), STROM_OK);
    strom_err e = strom_table_open(db, "full_t", &t);
    if (e != STROM_OK)
        fail_msg("reopen after the disk filled: %s: %s", strom_strerror(e), strom_errmsg());
    verify_rows(t, acked);
    int64_t earliest, end;
    assert_int_equal(strom_table_offsets(t, 0, &earliest, &end), STROM_OK);
    fill(b, end);
    int64_t first = -1;
    assert_int_equal(strom_table_append_bucket(t, 0, b, &first), STROM_OK);
    assert_int_equal(first, end);
    strom_builder_destroy(b);
    strom_schema_destroy(s);
    strom_table_close(t);
    strom_db_close(db);
}

/* Runs the scenario in a child process with the full disk played by a tmpfs (use_tmpfs)
 * or by RLIMIT_FSIZE. Returns the child's exit status; 77 when tmpfs cannot be mounted. */
static int run_mode(int use_tmpfs)
{
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid > 0) {
        int st = 0;
        waitpid(pid, &st, 0);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    }
    snprintf(g_dir, sizeof g_dir, "/tmp/strom-fulldisk-%d", (int)getpid());
    if (mkdir(g_dir, 0755) != 0)
        _exit(1);
    g_tmpfs = use_tmpfs;
    if (use_tmpfs && mount_small_tmpfs(g_dir, "1m") != 0) {
        rmdir(g_dir);
        _exit(77);
    }
    if (!use_tmpfs) {
        signal(SIGXFSZ, SIG_IGN); /* writes past the limit then fail with EFBIG */
        struct rlimit rl = {1 << 20, RLIM_INFINITY};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(1);
    }
    printf("full disk played by %s\n", use_tmpfs ? "a 1 MiB tmpfs" : "RLIMIT_FSIZE = 1 MiB");
    fflush(stdout);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_disk_full)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (use_tmpfs)
        umount(g_dir);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0)
        rc = 1;
    _exit(rc ? 1 : 0);
}

int main(void)
{
    int rc_tmpfs = run_mode(1);
    if (rc_tmpfs == 77)
        printf("tmpfs cannot be mounted here (not root?): ENOSPC case not run, EFBIG case only\n");
    int rc_limit = run_mode(0);
    printf("%d passed, %d failed\n", (rc_tmpfs == 0) + (rc_limit == 0),
           (rc_tmpfs != 0 && rc_tmpfs != 77) + (rc_limit != 0));
    return (rc_tmpfs != 0 && rc_tmpfs != 77) || rc_limit != 0;
}
