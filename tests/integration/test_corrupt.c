/*
 * test_corrupt.c: bad input through the public API (issue 2 section 4).
 *
 * A one-bucket table gets NBATCH batches of self-describing rows (itest.h); the segment
 * file's size is recorded after every acknowledged append, so the test knows which byte
 * range holds which batch. Then, on a fresh copy each time:
 *   - a random byte of a random batch is flipped: every batch before it reads back
 *     intact; a damaged read fails with ECORRUPT and a message naming the table, the
 *     bucket and the offset, or recovery cut the log there; never a wrong row, never a
 *     crash;
 *   - the segment is truncated inside a batch: the log ends exactly before that batch
 *     and takes new appends at that offset;
 *   - the index files are deleted or overwritten with garbage: all data reads back,
 *     seek by time and key history give the answers a brute-force scan gives;
 *   - unknown or bad options are rejected with the list of known ones; rows that do not
 *     fit the schema are rejected naming the column; the table is unchanged.
 * The engine's file names are its documented layout (src/log/log_int.h): segments are
 * *.log, indexes *.index and *.keys, somewhere below the data directory.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>

#include "itest.h"

#define TABLE "meter"
#define NBATCH 40
#define BROWS 50

typedef struct fixture {
    char dir[256];
    int64_t seg_size[NBATCH + 1];   /* segment size before batch j (j = NBATCH: at end) */
    int64_t first[NBATCH];
    char seg[512];
} fixture;

static uint64_t seed;
static int flips_error, flips_cut, flips_unseen;  /* how the flips were noticed */

/* ------------------------------------------------------------------ files */

static char found[64][512];
static int nfound;
static const char *want_suffix;

static int collect(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)ftw;
    size_t n = strlen(p), m = strlen(want_suffix);
    if (flag == FTW_F && n > m && !strcmp(p + n - m, want_suffix) && nfound < 64)
        snprintf(found[nfound++], sizeof found[0], "%s", p);
    return 0;
}

static int find_files(const char *dir, const char *suffix)
{
    nfound = 0;
    want_suffix = suffix;
    nftw(dir, collect, 16, FTW_PHYS);
    return nfound;
}

static int64_t file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (int64_t)st.st_size : -1;
}

static void flip_byte(const char *path, int64_t pos, uint8_t mask)
{
    int fd = open(path, O_RDWR);
    IT_CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    uint8_t c;
    IT_CHECK(pread(fd, &c, 1, pos) == 1, "pread %s at %lld", path, (long long)pos);
    c ^= mask;
    IT_CHECK(pwrite(fd, &c, 1, pos) == 1, "pwrite %s", path);
    close(fd);
}

/* ---------------------------------------------------------------- fixture */

static void open_table(const char *dir, strom_db **db, strom_table **t)
{
    IT_OK(strom_db_open(dir, db));
    IT_OK(strom_table_open(*db, TABLE, t));
}

static void build_batch(strom_builder *b, int64_t j)
{
    strom_builder_reset(b);
    for (int64_t r = 0; r < BROWS; r++)
        it_put_row(b, seed, it_id(1, j, r), 0);
}

/* seg_bytes: 'table.log.segment.bytes' ("1gb": one segment; small: many sealed ones). */
static void fixture_make(fixture *f, const char *seg_bytes)
{
    it_mktemp(f->dir, sizeof f->dir, "strom-corrupt-");
    strom_db *db;
    strom_table *t;
    IT_OK(strom_db_open(f->dir, &db));
    strom_schema *s = it_schema();
    const char *opts[] = {"table.log.index.key", "dev", "table.time-column", "t",
                          "table.log.segment.bytes", seg_bytes,
                          "table.log.index.interval.bytes", "1024",
                          /* batch boundaries are read from the file's size while open */
                          "table.log.segment.preallocate", "0", NULL};
    IT_OK(strom_table_create(db, TABLE, s, opts));
    IT_OK(strom_table_open(db, TABLE, &t));
    strom_builder *b = strom_builder_create(s);
    strom_schema_destroy(s);
    for (int64_t j = 0; j < NBATCH; j++) {
        build_batch(b, j);
        if (j > 0)
            f->seg_size[j] = file_size(f->seg);
        IT_OK(strom_table_append_bucket(t, 0, b, &f->first[j]));
        IT_CHECK(f->first[j] == j * BROWS, "batch %lld got offset %lld", (long long)j,
                 (long long)f->first[j]);
        if (j == 0) {
            IT_CHECK(find_files(f->dir, ".log") == 1, "expected one segment, found %d", nfound);
            snprintf(f->seg, sizeof f->seg, "%s", found[0]);
            f->seg_size[0] = 32; /* the segment header (log_int.h) */
        }
    }
    f->seg_size[NBATCH] = file_size(f->seg);
    strom_builder_destroy(b);
    strom_table_close(t);
    strom_db_close(db);
}

/* ------------------------------------------------------------ reading back */

static void check_error_names_place(strom_err e, const char *what)
{
    const char *m = strom_errmsg();
    IT_CHECK(e == STROM_ECORRUPT || e == STROM_EIO, "%s: expected ECORRUPT, got %s: %s", what,
             strom_strerror(e), m);
    IT_CHECK(strstr(m, TABLE) && strstr(m, "bucket") && strstr(m, "offset"),
             "%s: the message should name table, bucket and offset: '%s'", what, m);
}

/* Scans the bucket from 0. Every row returned must be the one written at that offset.
 * Returns the number of rows read before the end or an error (*err gets the error). */
static int64_t read_prefix(strom_table *t, strom_err *err)
{
    strom_scan *sc;
    const strom_batch *b;
    int64_t next = 0;
    *err = strom_scan_open(t, 0, 0, NULL, &sc);
    if (*err)
        return 0;
    while ((*err = strom_scan_next(sc, &b)) == STROM_OK && b) {
        for (int64_t r = 0; r < strom_batch_nrows(b); r++, next++) {
            it_row got;
            char why[160];
            int64_t id = it_read_row(b, r, &got);
            IT_CHECK(strom_batch_row_offset(b, r) == next, "offset %lld, expected %lld",
                     (long long)strom_batch_row_offset(b, r), (long long)next);
            IT_CHECK(id == it_id(1, next / BROWS, next % BROWS), "offset %lld holds the wrong "
                     "row", (long long)next);
            IT_CHECK(!it_row_differs(seed, id, &got, why, sizeof why), "%s", why);
        }
    }
    if (*err)
        check_error_names_place(*err, "scan after corruption");
    strom_scan_close(sc);
    return next;
}

/* Seek, key history and reads after the damage: any answer or a clean error. */
static void poke_after_damage(strom_table *t, int64_t from)
{
    int64_t off;
    strom_err e = strom_table_seek_time(t, 0, IT_T0 + 1800000, &off);
    IT_CHECK(e == STROM_OK || e == STROM_ECORRUPT, "seek_time: %s", strom_strerror(e));
    strom_value k = {.type = STROM_STRING, .v.s = {"dev-7", 5}};
    strom_batch *out = NULL;
    e = strom_table_key_history(t, &k, 1, IT_T0 + 3600000, 100, NULL, 0, &out);
    IT_CHECK(e == STROM_OK || e == STROM_ECORRUPT, "key_history: %s: %s", strom_strerror(e),
             strom_errmsg());
    strom_batch_destroy(out);
    strom_scan *sc;
    const strom_batch *b;
    if (strom_scan_open(t, 0, from, NULL, &sc) == STROM_OK) {
        while ((e = strom_scan_next(sc, &b)) == STROM_OK && b)
            ;
        strom_scan_close(sc);
    }
}

/* --------------------------------------------------------------- the cases */

static void case_flip(fixture *f, uint64_t h)
{
    int64_t j = 1 + (int64_t)(h % (NBATCH - 1));
    int64_t lo = f->seg_size[j], hi = f->seg_size[j + 1];
    int64_t pos = lo + (int64_t)((h >> 8) % (uint64_t)(hi - lo));
    flip_byte(f->seg, pos, (uint8_t)(1u << ((h >> 40) % 8)));
    strom_db *db;
    strom_table *t;
    open_table(f->dir, &db, &t);
    int64_t earliest, end;
    IT_OK(strom_table_offsets(t, 0, &earliest, &end));
    strom_err e;
    int64_t got = read_prefix(t, &e);
    IT_CHECK(got >= f->first[j], "flip in batch %lld at byte %lld: only %lld rows read back, "
             "the %lld before it should all be there", (long long)j, (long long)pos,
             (long long)got, (long long)f->first[j]);
    IT_CHECK(got == end || e != STROM_OK, "scan stopped at %lld before the end %lld without "
             "an error", (long long)got, (long long)end);
    flips_error += e != STROM_OK;
    flips_cut += e == STROM_OK && end < NBATCH * BROWS;
    flips_unseen += e == STROM_OK && end == NBATCH * BROWS;
    poke_after_damage(t, f->first[j]);
    strom_table_close(t);
    strom_db_close(db);
}

static void case_truncate(fixture *f, uint64_t h)
{
    int64_t j = 1 + (int64_t)(h % (NBATCH - 1));
    int64_t lo = f->seg_size[j], hi = f->seg_size[j + 1];
    int64_t cut = lo + 1 + (int64_t)((h >> 8) % (uint64_t)(hi - lo - 1));
    IT_CHECK(truncate(f->seg, cut) == 0, "truncate: %s", strerror(errno));
    strom_db *db;
    strom_table *t;
    open_table(f->dir, &db, &t);
    int64_t earliest, end;
    IT_OK(strom_table_offsets(t, 0, &earliest, &end));
    IT_CHECK(end == f->first[j], "segment cut inside batch %lld (byte %lld): the log ends at "
             "%lld, expected %lld", (long long)j, (long long)cut, (long long)end,
             (long long)f->first[j]);
    strom_err e;
    IT_CHECK(read_prefix(t, &e) == end && e == STROM_OK, "rows before the cut");
    strom_schema *s = it_schema();
    strom_builder *b = strom_builder_create(s);
    strom_schema_destroy(s);
    build_batch(b, j);
    int64_t first;
    IT_OK(strom_table_append_bucket(t, 0, b, &first));
    IT_CHECK(first == f->first[j], "append after recovery at %lld, expected %lld",
             (long long)first, (long long)f->first[j]);
    strom_builder_destroy(b);
    strom_table_close(t);
    strom_db_close(db);
}

/* All rows of the table, by offset (ids and times), for brute-force answers. */
static void all_rows(strom_table *t, int64_t *ids, int64_t *times, char (*devs)[16], int64_t n)
{
    strom_scan *sc;
    const strom_batch *b;
    int64_t next = 0;
    IT_OK(strom_scan_open(t, 0, 0, NULL, &sc));
    while (next < n) {
        IT_OK(strom_scan_next(sc, &b));
        IT_CHECK(b != NULL, "scan ended at %lld of %lld", (long long)next, (long long)n);
        for (int64_t r = 0; r < strom_batch_nrows(b); r++, next++) {
            it_row got;
            ids[next] = it_read_row(b, r, &got);
            times[next] = got.t;
            snprintf(devs[next], 16, "%s", got.dev);
        }
    }
    strom_scan_close(sc);
}

static void check_seek(strom_table *t, const int64_t *times, int64_t n, int64_t T)
{
    int64_t off;
    IT_OK(strom_table_seek_time(t, 0, T, &off));
    for (int64_t o = 0; o < off && o < n; o++)
        IT_CHECK(times[o] < T, "seek_time(%lld) gave offset %lld but offset %lld has time "
                 "%lld >= T", (long long)T, (long long)off, (long long)o, (long long)times[o]);
}

static void check_history(strom_table *t, const int64_t *ids, const int64_t *times,
                          char (*devs)[16], int64_t n, const char *dev, int64_t T)
{
    static const char *const cols[] = {"id", "t"};
    strom_value k = {.type = STROM_STRING, .v.s = {dev, strlen(dev)}};
    strom_batch *out;
    IT_OK(strom_table_key_history(t, &k, 1, T, 10, cols, 2, &out));
    int64_t expect = 0, nth_time = INT64_MIN;   /* brute force: rows of dev with t <= T */
    int64_t *ts = malloc(sizeof(int64_t) * (size_t)n);
    for (int64_t o = 0; o < n; o++)
        if (!strcmp(devs[o], dev) && times[o] <= T)
            ts[expect++] = times[o];
    for (int64_t i = 0; i < expect && i < 10; i++) {  /* the 10th newest time */
        int64_t best = INT64_MIN;
        for (int64_t x = 0; x < expect; x++)
            best = ts[x] > best ? ts[x] : best;
        nth_time = best;
        for (int64_t x = 0; x < expect; x++)
            if (ts[x] == best) { ts[x] = INT64_MIN; break; }
    }
    free(ts);
    int64_t got = strom_batch_nrows(out);
    IT_CHECK(got == (expect < 10 ? expect : 10), "key history of %s at %lld: %lld rows, "
             "brute force %lld", dev, (long long)T, (long long)got, (long long)expect);
    for (int64_t r = 0; r < got; r++) {
        int64_t id = strom_batch_get_int(out, 0, r), tm = strom_batch_get_int(out, 1, r);
        IT_CHECK(tm <= T && tm >= nth_time, "key history row time %lld outside [%lld, %lld]",
                 (long long)tm, (long long)nth_time, (long long)T);
        IT_CHECK(r == 0 || tm <= strom_batch_get_int(out, 1, r - 1), "not newest first");
        it_row e;
        it_expect(seed, id, &e);
        IT_CHECK(!strcmp(e.dev, dev) && e.t == tm, "key history returned a row of another key");
        (void)ids;
    }
    strom_batch_destroy(out);
}

static void check_indexes_work(fixture *f, uint64_t h)
{
    strom_db *db;
    strom_table *t;
    open_table(f->dir, &db, &t);
    int64_t earliest, end;
    IT_OK(strom_table_offsets(t, 0, &earliest, &end));
    IT_CHECK(end == NBATCH * BROWS, "log ends at %lld after index damage, expected %d",
             (long long)end, NBATCH * BROWS);
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)end), *times = malloc(sizeof(int64_t) * (size_t)end);
    char(*devs)[16] = malloc(16 * (size_t)end);
    all_rows(t, ids, times, devs, end);
    strom_err e;
    IT_CHECK(read_prefix(t, &e) == end && e == STROM_OK, "full read after index damage");
    for (int q = 0; q < 20; q++) {
        uint64_t x = it_mix(h + (uint64_t)q);
        int64_t T = IT_T0 + (int64_t)(x % 3700000);
        char dev[16];
        snprintf(dev, sizeof dev, "dev-%d", (int)((x >> 32) % 50));
        check_seek(t, times, end, T);
        check_history(t, ids, times, devs, end, dev, T);
    }
    free(ids), free(times), free(devs);
    strom_table_close(t);
    strom_db_close(db);
}

static void damage_indexes(fixture *f, uint64_t h, int delete)
{
    const char *sfx[] = {".index", ".keys"};
    for (int s = 0; s < 2; s++) {
        find_files(f->dir, sfx[s]);
        for (int i = 0; i < nfound; i++) {
            int64_t sz = file_size(found[i]);
            if (delete || sz <= 0)
                unlink(found[i]);
            else
                for (int k = 0; k < 8; k++)
                    flip_byte(found[i], (int64_t)(it_mix(h + (uint64_t)k) % (uint64_t)sz), 0x5a);
        }
    }
}

/* A flipped bit in the segment header: a clean error or intact data, never a crash. */
static void case_header(fixture *f, uint64_t h)
{
    flip_byte(f->seg, (int64_t)(h % 32), (uint8_t)(1u << ((h >> 8) % 8)));
    strom_db *db = NULL;
    strom_table *t = NULL;
    strom_err e = strom_db_open(f->dir, &db);
    if (e == STROM_OK && (e = strom_table_open(db, TABLE, &t)) == STROM_OK) {
        int64_t got = read_prefix(t, &e);
        IT_CHECK(e != STROM_OK || got == NBATCH * BROWS, "header damage lost rows silently");
    }
    if (e)
        IT_CHECK((e == STROM_ECORRUPT || e == STROM_EIO) && strstr(strom_errmsg(), TABLE),
                 "segment header damage: %s: %s", strom_strerror(e), strom_errmsg());
    strom_table_close(t);
    strom_db_close(db);
}

static void copy_fixture(const fixture *src, fixture *dst)
{
    *dst = *src;
    it_mktemp(dst->dir, sizeof dst->dir, "strom-corrupt-");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp -a '%s/.' '%s/'", src->dir, dst->dir);
    IT_CHECK(system(cmd) == 0, "%s", cmd);
    snprintf(dst->seg, sizeof dst->seg, "%s%s", dst->dir, src->seg + strlen(src->dir));
}

/* --------------------------------------------------------- options, schema */

static void case_options(const char *dir)
{
    strom_db *db;
    IT_OK(strom_db_open(dir, &db));
    strom_schema *s = it_schema();
    const char *unknown[] = {"bucket.nmu", "2", NULL};
    strom_err e = strom_table_create(db, "opt1", s, unknown);
    IT_CHECK(e == STROM_EOPTION, "unknown option: %s", strom_strerror(e));
    const char *m = strom_errmsg();
    IT_CHECK(strstr(m, "bucket.nmu") && strstr(m, "bucket.num") &&
             strstr(m, "table.log.compression"), "message should list the known options: %s", m);
    const char *bad[][3] = {{"bucket.num", "zero", NULL}, {"table.log.compression", "GZIP", NULL},
                            {"bucket.key", "no_such_col", NULL}, {"table.time-column", "dev", NULL},
                            {"table.log.flush", "sometimes", NULL}};
    for (int i = 0; i < 5; i++) {
        e = strom_table_create(db, "opt2", s, bad[i]);
        IT_CHECK(e == STROM_EOPTION || e == STROM_EINVAL, "%s=%s accepted", bad[i][0], bad[i][1]);
        IT_CHECK(strstr(strom_errmsg(), bad[i][0]), "message should name %s: %s", bad[i][0],
                 strom_errmsg());
    }
    char **names;
    size_t n;
    IT_OK(strom_table_list(db, &names, &n));
    for (size_t i = 0; i < n; i++)
        IT_CHECK(strncmp(names[i], "opt", 3) != 0, "a failed create left table %s", names[i]);
    strom_free_names(names, n);
    strom_schema_destroy(s);
    strom_db_close(db);
}

static void case_bad_rows(const char *dir)
{
    strom_db *db;
    strom_table *t;
    open_table(dir, &db, &t);
    strom_schema *s = it_schema();
    strom_builder *b = strom_builder_create(s);
    it_put_row(b, seed, it_id(9, 0, 0), 0);
    IT_CHECK(strom_builder_put_str(b, 3, "x", 1) != STROM_OK, "string into DOUBLE accepted");
    IT_CHECK(strom_builder_put_int(b, 4, INT64_C(1) << 40) == STROM_ESCHEMA, "2^40 into INT");
    IT_CHECK(strom_builder_put_null(b, 0) == STROM_ESCHEMA, "NULL into NOT NULL id accepted");
    IT_CHECK(strom_builder_put_f64(b, 99, 1.0) != STROM_OK, "column 99 accepted");
    IT_OK(strom_builder_put_int(b, 0, 1));
    strom_err e = strom_builder_end_row(b);
    IT_CHECK(e == STROM_ESCHEMA && strstr(strom_errmsg(), "dev"), "half row: %s: %s",
             strom_strerror(e), strom_errmsg());
    IT_CHECK(strom_builder_nrows(b) == 1, "the good row before the half row was lost");
    strom_schema *other = strom_schema_create();
    IT_OK(strom_schema_add(other, "x", STROM_STRING, 0));
    strom_builder *ob = strom_builder_create(other);
    IT_OK(strom_builder_put_str(ob, 0, "abc", 3));
    IT_OK(strom_builder_end_row(ob));
    int64_t e0, end0, e1, end1;
    IT_OK(strom_table_offsets(t, 0, &e0, &end0));
    IT_CHECK(strom_table_append(t, ob, NULL) != STROM_OK, "rows of another schema appended");
    IT_OK(strom_table_offsets(t, 0, &e1, &end1));
    IT_CHECK(end1 == end0, "a rejected append changed the table");
    strom_builder_destroy(ob);
    strom_schema_destroy(other);
    strom_builder_destroy(b);
    strom_schema_destroy(s);
    strom_table_close(t);
    strom_db_close(db);
}

int main(void)
{
    seed = it_seed();
    printf("test_corrupt: seed %llu (STROM_TEST_SEED to replay)\n", (unsigned long long)seed);
    fixture base, f, multi;
    fixture_make(&base, "1gb");
    fixture_make(&multi, "16kb");
    IT_CHECK(find_files(multi.dir, ".log") > 3, "expected several segments, found %d", nfound);
    for (int i = 0; i < 30; i++) {
        copy_fixture(&base, &f);
        case_flip(&f, it_mix(seed + (uint64_t)i));
        it_rmtree(f.dir);
    }
    for (int i = 0; i < 10; i++) {
        copy_fixture(&base, &f);
        case_truncate(&f, it_mix(seed * 3 + (uint64_t)i));
        it_rmtree(f.dir);
    }
    for (int del = 0; del < 4; del++) {
        copy_fixture(del < 2 ? &base : &multi, &f);
        damage_indexes(&f, seed + (uint64_t)del, del % 2);
        printf("index files %s, %s\n", del % 2 ? "deleted" : "overwritten in 8 places",
               del < 2 ? "one segment" : "many sealed segments");
        fflush(stdout);
        check_indexes_work(&f, seed + (uint64_t)del);
        it_rmtree(f.dir);
    }
    for (int i = 0; i < 4; i++) {
        copy_fixture(&base, &f);
        case_header(&f, it_mix(seed * 5 + (uint64_t)i));
        it_rmtree(f.dir);
    }
    it_rmtree(multi.dir);
    case_options(base.dir);
    case_bad_rows(base.dir);
    it_rmtree(base.dir);
    printf("test_corrupt: all passed; of 30 flipped bytes %d gave ECORRUPT, %d cut the log "
           "at recovery, %d changed nothing a reader sees\n", flips_error, flips_cut,
           flips_unseen);
    return 0;
}
