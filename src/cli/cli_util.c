/* cli_util.c: small helpers shared by the subcommands (output, clocks, temp dirs). */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

int cli_fail(strom_err err, const char *what)
{
    const char *detail = strom_errmsg();
    fprintf(stderr, "strom: %s: %s%s%s\n", what, strom_strerror(err), detail[0] ? ": " : "",
            detail);
    return CLI_ERR;
}

int cli_errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "strom: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return CLI_ERR;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

const char *cli_group(int64_t v, char *buf)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)(v < 0 ? -v : v));
    char *o = buf;
    if (v < 0)
        *o++ = '-';
    for (int i = 0; i < n; i++) {
        *o++ = tmp[i];
        if ((n - i - 1) % 3 == 0 && i != n - 1)
            *o++ = ',';
    }
    *o = '\0';
    return buf;
}

const char *cli_bytes(double v, char *buf)
{
    static const char *units[] = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    while (v >= 1000.0 && u < 4)
        v /= 1000.0, u++;
    snprintf(buf, 32, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
    return buf;
}

/* 0000-01-01 00:00:00.000 and 9999-12-31 23:59:59.999 in ms since 1970 */
#define CLI_TIME_MIN (-62167219200000LL)
#define CLI_TIME_MAX 253402300799999LL

const char *cli_time(int64_t ms, char *buf)
{
    if (ms < CLI_TIME_MIN || ms > CLI_TIME_MAX) {   /* no 4-digit year: the number reads back */
        snprintf(buf, 32, "%lld", (long long)ms);
        return buf;
    }
    time_t s = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int64_t frac = ms - (int64_t)s * 1000;
    struct tm tm;
    gmtime_r(&s, &tm);
    /* not strftime's %Y: it writes the year 999 as "999", which no reader takes */
    char tmp[96];
    int n = snprintf(tmp, sizeof tmp, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
    memcpy(buf, tmp, (size_t)n + 1);   /* 23 bytes and the NUL for these years */
    return buf;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path) == 0 ? 0 : errno;
}

int cli_rmtree(const char *path)
{
    if (access(path, F_OK) != 0)
        return 0;
    return nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

int cli_mktemp_dir(const char *parent, const char *prefix, char *out, size_t n)
{
    if ((size_t)snprintf(out, n, "%s/%sXXXXXX", parent, prefix) >= n)
        return ENAMETOOLONG;
    return mkdtemp(out) ? 0 : errno;
}

strom_err cli_table_stats(strom_table *t, strom_bucket_stats *sum)
{
    memset(sum, 0, sizeof *sum);
    for (int b = 0; b < strom_table_nbuckets(t); b++) {
        strom_bucket_stats s;
        strom_err e = strom_table_bucket_stats(t, b, &s);
        if (e)
            return e;
        sum->end_offset += s.end_offset - s.earliest_offset;
        sum->segments += s.segments;
        sum->bytes_on_disk += s.bytes_on_disk;
        sum->raw_bytes += s.raw_bytes;
        sum->batches += s.batches;
        sum->fsyncs += s.fsyncs;
    }
    return STROM_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double cli_percentile(double *v, int64_t n, double q)
{
    if (n <= 0)
        return 0.0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int64_t i = (int64_t)ceil(q * (double)n) - 1;
    return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}
