/*
 * itest.h: helpers shared by the C integration tests (header-only, static functions).
 *
 * Rows are self-describing: column 0 holds the row's id, and every other value is a
 * pure function of (seed, id), computed here independently of the engine. A reader can
 * therefore check any row it gets back without knowing how it got there.
 *
 *   id    BIGINT NOT NULL   writer << 40 | batch << 16 | row
 *   dev   STRING NOT NULL   "dev-<n>", n < 50
 *   t     TIMESTAMP NOT NULL
 *   v     DOUBLE            NULL for about 1 row in 8
 *   n     INT               NULL for about 1 row in 5
 *   flag  BOOLEAN
 *   blob  BYTES             0..40 bytes
 *   f     FLOAT
 */
#ifndef STROM_ITEST_H
#define STROM_ITEST_H

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "strom/strom.h"

#define IT_NCOLS 8
#define IT_T0 INT64_C(1736776800000)

#define IT_CHECK(cond, ...)                                                              \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                                \
            fprintf(stderr, "\n");                                                       \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

#define IT_OK(call)                                                                      \
    do {                                                                                 \
        strom_err e_ = (call);                                                           \
        IT_CHECK(e_ == STROM_OK, "%s: %s", strom_strerror(e_), strom_errmsg());          \
    } while (0)

static inline uint64_t it_mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static inline int64_t it_id(int64_t writer, int64_t batch, int64_t row)
{
    return writer << 40 | batch << 16 | row;
}

/* The expected values of row id. */
typedef struct it_row {
    char dev[16];
    size_t dev_len;
    int64_t t;
    int v_null, n_null, flag;
    double v;
    int32_t n;
    uint8_t blob[40];
    size_t blob_len;
    float f;
} it_row;

static inline void it_expect(uint64_t seed, int64_t id, it_row *r)
{
    uint64_t h = it_mix(seed ^ (uint64_t)id), h2 = it_mix(h);
    r->dev_len = (size_t)snprintf(r->dev, sizeof r->dev, "dev-%d", (int)(h % 50));
    r->t = IT_T0 + (int64_t)((h >> 8) % 3600000);
    r->v_null = (h >> 40) % 8 == 0;
    r->v = (double)(int64_t)(h2 % 2000001) / 1000.0 - 1000.0;
    r->n_null = (h >> 44) % 5 == 0;
    r->n = (int32_t)(uint32_t)(h2 >> 32);
    r->flag = (int)((h >> 50) & 1);
    r->blob_len = (size_t)((h2 >> 8) % 41);
    for (size_t i = 0; i < r->blob_len; i++)
        r->blob[i] = (uint8_t)it_mix(h2 + i);
    r->f = (float)((int32_t)(h2 >> 40) % 100000) / 8.0f;
}

static inline strom_schema *it_schema(void)
{
    strom_schema *s = strom_schema_create();
    IT_CHECK(s != NULL, "schema_create");
    IT_OK(strom_schema_add(s, "id", STROM_BIGINT, 1));
    IT_OK(strom_schema_add(s, "dev", STROM_STRING, 1));
    IT_OK(strom_schema_add(s, "t", STROM_TIMESTAMP, 1));
    IT_OK(strom_schema_add(s, "v", STROM_DOUBLE, 0));
    IT_OK(strom_schema_add(s, "n", STROM_INT, 0));
    IT_OK(strom_schema_add(s, "flag", STROM_BOOLEAN, 0));
    IT_OK(strom_schema_add(s, "blob", STROM_BYTES, 0));
    IT_OK(strom_schema_add(s, "f", STROM_FLOAT, 0));
    return s;
}

/* FNV-1a over the values of one row (the checksum of acknowledged batches). */
static inline uint64_t it_fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001B3ull;
    return h;
}

static inline uint64_t it_row_sum(uint64_t h, int64_t id, const it_row *r)
{
    h = it_fnv(h, &id, 8);
    h = it_fnv(h, r->dev, r->dev_len);
    h = it_fnv(h, &r->t, 8);
    if (!r->v_null)
        h = it_fnv(h, &r->v, 8);
    if (!r->n_null)
        h = it_fnv(h, &r->n, 4);
    h = it_fnv(h, &r->flag, sizeof r->flag);
    h = it_fnv(h, r->blob, r->blob_len);
    return it_fnv(h, &r->f, 4);
}

/* Puts row id into b; returns the row's checksum folded into h. */
static inline uint64_t it_put_row(strom_builder *b, uint64_t seed, int64_t id, uint64_t h)
{
    it_row r;
    it_expect(seed, id, &r);
    IT_OK(strom_builder_put_int(b, 0, id));
    IT_OK(strom_builder_put_str(b, 1, r.dev, r.dev_len));
    IT_OK(strom_builder_put_int(b, 2, r.t));
    IT_OK(r.v_null ? strom_builder_put_null(b, 3) : strom_builder_put_f64(b, 3, r.v));
    IT_OK(r.n_null ? strom_builder_put_null(b, 4) : strom_builder_put_int(b, 4, r.n));
    IT_OK(strom_builder_put_int(b, 5, r.flag));
    IT_OK(strom_builder_put_str(b, 6, r.blob, r.blob_len));
    IT_OK(strom_builder_put_f64(b, 7, r.f));
    IT_OK(strom_builder_end_row(b));
    return it_row_sum(h, id, &r);
}

/* Reads row r of a full-width batch into got (as a reader sees it) and returns its id. */
static inline int64_t it_read_row(const strom_batch *b, int64_t r, it_row *got)
{
    memset(got, 0, sizeof *got);
    int64_t id = strom_batch_get_int(b, 0, r);
    size_t len = 0;
    const char *s = strom_batch_get_str(b, 1, r, &len);
    got->dev_len = len < sizeof got->dev ? len : sizeof got->dev - 1;
    if (s)
        memcpy(got->dev, s, got->dev_len);
    got->t = strom_batch_get_int(b, 2, r);
    got->v_null = strom_batch_is_null(b, 3, r);
    got->v = got->v_null ? 0 : strom_batch_get_f64(b, 3, r);
    got->n_null = strom_batch_is_null(b, 4, r);
    got->n = got->n_null ? 0 : (int32_t)strom_batch_get_int(b, 4, r);
    got->flag = (int)strom_batch_get_int(b, 5, r);
    const char *bl = strom_batch_get_str(b, 6, r, &len);
    got->blob_len = len <= sizeof got->blob ? len : sizeof got->blob;
    if (bl)
        memcpy(got->blob, bl, got->blob_len);
    got->f = (float)strom_batch_get_f64(b, 7, r);
    return id;
}

/* 0 if got holds exactly the values expected for id, else a short description in why. */
static inline int it_row_differs(uint64_t seed, int64_t id, const it_row *got, char *why,
                                 size_t n)
{
    it_row e;
    it_expect(seed, id, &e);
    const char *what = NULL;
    if (got->dev_len != e.dev_len || memcmp(got->dev, e.dev, e.dev_len))
        what = "dev";
    else if (got->t != e.t)
        what = "t";
    else if (got->v_null != e.v_null || (!e.v_null && got->v != e.v))
        what = "v";
    else if (got->n_null != e.n_null || (!e.n_null && got->n != e.n))
        what = "n";
    else if (got->flag != e.flag)
        what = "flag";
    else if (got->blob_len != e.blob_len || memcmp(got->blob, e.blob, e.blob_len))
        what = "blob";
    else if (got->f != e.f)
        what = "f";
    if (what)
        snprintf(why, n, "row id %lld: column %s differs from what was written", (long long)id,
                 what);
    return what != NULL;
}

static inline int it_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static inline void it_rmtree(const char *path)
{
    nftw(path, it_rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

static inline void it_mktemp(char *buf, size_t n, const char *prefix)
{
    snprintf(buf, n, "/tmp/%sXXXXXX", prefix);
    IT_CHECK(mkdtemp(buf) != NULL, "mkdtemp %s: %s", buf, strerror(errno));
}

static inline uint64_t it_seed(void)
{
    const char *s = getenv("STROM_TEST_SEED");
    if (s && *s)
        return strtoull(s, NULL, 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
}

/* pipe + fork: the child gets 0 and keeps fds[1] (write end), the parent gets the pid
 * and keeps fds[0]. */
static inline pid_t it_fork_pipe(int fds[2])
{
    IT_CHECK(pipe(fds) == 0, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    IT_CHECK(pid >= 0, "fork: %s", strerror(errno));
    close(fds[pid == 0 ? 0 : 1]);
    return pid;
}

/* Start of a crash test named name: its seed (STROM_TEST_SEED replays one), its rounds
 * (STROM_CRASH_ROUNDS, else def_rounds) and a fresh directory /tmp/<prefix>XXXXXX. */
static inline uint64_t it_crash_begin(const char *name, const char *prefix, int def_rounds,
                                      char *dir, size_t cap, int *rounds)
{
    uint64_t seed = it_seed();
    const char *env = getenv("STROM_CRASH_ROUNDS");
    *rounds = env && atoi(env) > 0 ? atoi(env) : def_rounds;
    it_mktemp(dir, cap, prefix);
    printf("%s: seed %llu (STROM_TEST_SEED to replay), %d rounds in %s\n", name,
           (unsigned long long)seed, *rounds, dir);
    return seed;
}

#endif /* STROM_ITEST_H */
