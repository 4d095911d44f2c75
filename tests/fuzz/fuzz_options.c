/* fuzz_options.c: libFuzzer target for option values and literals from users: table
 * options (WITH (...) of CREATE TABLE, --option of the command line: cat_opts_parse), sizes
 * and durations (cat_parse_size / cat_parse_duration, src/catalog/options.c), type names
 * (strom_type_parse, src/format/schema.c) and TIMESTAMP literals (sql_parse_timestamp,
 * src/sql/dialect.c), and the stored positions of a continuous job into a log table
 * (srv_job_log_create, src/server/job_log.c). Byte 0 picks (b % 6), the rest is the text:
 *   0, 1  a size / a duration: accepted exactly when a reference reading of the documented
 *         grammar ("[ws] digits [ws] [unit] [ws]", units case-insensitive) gives a value
 *         that fits, and then to the same value; a refusal names the option.
 *   2     a type name: unknown (0) or a type whose own name parses back to it.
 *   3     "key=value" lines as table options of a log table (byte 1 even) or a
 *         primary-key table: refused with EOPTION and a message, or accepted; then the
 *         stored values parse again to the same stored values and typed settings.
 *   4     a TIMESTAMP literal: refused with a message naming it, or a time whose date
 *         and clock (by gmtime) are the ones written, and whose canonical text
 *         "yyyy-MM-dd HH:mm:ss.SSS" parses back to it.
 *   5     a job's positions text "table:r0,r1,...;p0,p1,...": read without a crash or
 *         overrun whatever it holds (a damaged job row). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "catalog/catalog.h"
#include "server/srv_int.h"
#include "sql/sql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

/* ------------------------------------------------------ sizes and durations */

static const char *const size_names[] = {"b", "k", "kb", "kib", "m", "mb", "mib", "g", "gb",
                                         "gib", "t", "tb", "tib", NULL};
static const int size_shift[] = {0, 10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40};
static const char *const time_names[] = {
    "ms", "milli", "millis", "millisecond", "milliseconds", "s", "sec", "secs", "second",
    "seconds", "m", "min", "mins", "minute", "minutes", "h", "hour", "hours", "d", "day",
    "days", NULL};
static const int64_t time_mul[] = {1, 1, 1, 1, 1, 1000, 1000, 1000, 1000, 1000,
                                   60000, 60000, 60000, 60000, 60000, 3600000, 3600000,
                                   3600000, 86400000, 86400000, 86400000};

/* The reference: 1 and *out if v reads as digits and a known unit and fits in int64. */
static int reference(const char *v, int durations, int64_t *out)
{
    const char *p = v;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!isdigit((unsigned char)*p))
        return 0;
    __int128 n = 0;
    for (; isdigit((unsigned char)*p); p++)
        if ((n = n * 10 + (*p - '0')) > INT64_MAX)
            return 0;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t ul = strlen(p);
    while (ul > 0 && (p[ul - 1] == ' ' || p[ul - 1] == '\t'))
        ul--;
    __int128 mul = ul == 0 ? 1 : 0;
    const char *const *names = durations ? time_names : size_names;
    for (int i = 0; ul && names[i]; i++)
        if (strlen(names[i]) == ul && !strncasecmp(names[i], p, ul))
            mul = durations ? time_mul[i] : (int64_t)1 << size_shift[i];
    if (mul == 0 || n * mul > INT64_MAX)
        return 0;
    *out = (int64_t)(n * mul);
    return 1;
}

static void fuzz_scaled(const char *v, int durations)
{
    int64_t got = -1, want = -1;
    strom_err e = durations ? cat_parse_duration("opt.x", v, &got) : cat_parse_size("opt.x", v, &got);
    int ok = reference(v, durations, &want);
    if (e != STROM_OK)
        check(e == STROM_EOPTION && strstr(strom_errmsg(), "opt.x") != NULL);
    check((e == STROM_OK) == ok);
    check(!ok || got == want);
}

/* --------------------------------------------------------------- types */

static void fuzz_type(const char *v)
{
    strom_type t = strom_type_parse(v);
    if (t == 0)
        return;
    check(t >= STROM_BOOLEAN && t <= STROM_TIMESTAMP && strom_type_name(t) != NULL);
    check(strom_type_parse(strom_type_name(t)) == t);
}

/* ------------------------------------------------------------- options */

static strom_schema *schema(int pk)
{
    strom_schema *s = strom_schema_create();
    strom_schema_add(s, "dev", STROM_STRING, pk);
    strom_schema_add(s, "ts", STROM_TIMESTAMP, pk);
    strom_schema_add(s, "v", STROM_DOUBLE, 0);
    strom_schema_add(s, "n", STROM_BIGINT, 0);
    if (pk) {
        const char *key[2] = {"dev", "ts"};
        strom_schema_set_primary_key(s, key, 2);
    }
    return s;
}

/* Lines "key=value" of text into a NULL-terminated pair list (pointers into text). */
static int pairs(char *text, const char **kv, int max)
{
    int n = 0;
    for (char *line, *rest = text; n + 2 < max && (line = strsep(&rest, "\n"));) {
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        kv[n++] = line;
        kv[n++] = eq + 1;
    }
    kv[n] = NULL;
    return n;
}

static void same_opts(const cat_opts *a, const cat_opts *b)
{
    for (int i = 0; i < cat_opt_count(); i++)
        check(!strcmp(a->vals[i], b->vals[i]));
    check(a->nbuckets == b->nbuckets && a->nbucket_key == b->nbucket_key &&
          a->segment_bytes == b->segment_bytes && a->ttl_ms == b->ttl_ms &&
          a->flush == b->flush && a->flush_interval_ms == b->flush_interval_ms &&
          a->codec == b->codec && a->merge_engine == b->merge_engine &&
          a->kv_ttl_ms == b->kv_ttl_ms && a->kv_hist_ttl_ms == b->kv_hist_ttl_ms &&
          a->time_col == b->time_col && a->ver_col == b->ver_col &&
          memcmp(a->agg, b->agg, sizeof a->agg) == 0);
}

static void fuzz_opts(char *text, int pk)
{
    strom_schema *s = schema(pk);
    const char *kv[129];
    pairs(text, kv, 128);
    cat_opts o;
    strom_err e = cat_opts_parse(kv, s, &o);
    if (e != STROM_OK) {
        check(e == STROM_EOPTION && strom_errmsg()[0] != '\0');
        strom_schema_destroy(s);
        return;
    }
    for (int i = 0; kv[i]; i += 2)
        if (strncmp(kv[i], "fields.", 7) != 0)   /* per-column keys are not registry keys */
            check(cat_opts_get(&o, kv[i]) != NULL);
    const char *again[256];
    int n = 0;
    for (int i = 0; i < cat_opt_count(); i++)
        if (o.vals[i][0])
            again[n++] = cat_opt_name(i), again[n++] = o.vals[i];
    for (int i = 0; kv[i]; i += 2)
        if (strncmp(kv[i], "fields.", 7) == 0 && n < 254)
            again[n++] = kv[i], again[n++] = kv[i + 1];
    again[n] = NULL;
    cat_opts o2;
    check(cat_opts_parse(again, s, &o2) == STROM_OK);
    same_opts(&o, &o2);
    cat_opts_free(&o2);
    cat_opts_free(&o);
    strom_schema_destroy(s);
}

/* ----------------------------------------------------------- timestamps */

static void fuzz_timestamp(const char *p, size_t n)
{
    int64_t ms = 0;
    if (sql_parse_timestamp(p, n, &ms) != STROM_OK) {
        check(strom_errmsg()[0] != '\0');
        return;
    }
    check(n >= 10);
    int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    time_t t = (time_t)sec;
    struct tm tm;
    check(gmtime_r(&t, &tm) != NULL);
    int y = atoi(p), mo = atoi(p + 5), d = atoi(p + 8);
    check(tm.tm_year + 1900 == y && tm.tm_mon + 1 == mo && tm.tm_mday == d);
    if (n >= 16)
        check(tm.tm_hour == atoi(p + 11) && tm.tm_min == atoi(p + 14));
    char text[64];
    int len = snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d.%03d",
                       tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                       tm.tm_sec, (int)(ms - sec * 1000));
    int64_t back = 0;
    check(sql_parse_timestamp(text, (size_t)len, &back) == STROM_OK && back == ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int mode = data[0] % 6;
    size_t skip = mode == 3 ? 2 : 1, len = size - skip;
    char *text = malloc(len + 1);
    memcpy(text, data + skip, len);
    text[len] = '\0';     /* C strings stop at a NUL byte, as they do from argv or SQL */
    if (mode <= 1)
        fuzz_scaled(text, mode);
    else if (mode == 2)
        fuzz_type(text);
    else if (mode == 3)
        fuzz_opts(text, data[1] & 1);
    else if (mode == 4)
        fuzz_timestamp(text, len);
    else {
        srv_job_log *l = NULL;
        check(srv_job_log_create("fuzz job", text, NULL, NULL, &l) == STROM_OK);
        srv_job_log_free(l);
    }
    free(text);
    strom_fail_clear();
    return 0;
}
