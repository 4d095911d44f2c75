/* options.c: the table option registry (name, type, default, validation, help) and the
 * parsing of option values into cat_opts. */
#include "catalog.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

typedef struct cat_optdef cat_optdef;
/* Parses val into o; may write a canonical spelling into canon (cap 64) to be stored. */
typedef strom_err (*cat_apply_fn)(const cat_optdef *d, const char *val, const strom_schema *s,
                                  cat_opts *o, char *canon);

struct cat_optdef {
    const char *name;
    const char *type;     /* for the help text */
    const char *def;      /* default, "" = none */
    cat_apply_fn apply;
    int kv_only;          /* primary-key table option: rejected until PK tables exist */
    const char *help;
};

/* ----------------------------------------------------------- value parsers */

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Parses a non-negative decimal integer prefix; *end after it. 0 on success, -1 without
 * digits, -2 above INT64_MAX. */
static int parse_u63(const char *p, int64_t *out, const char **end)
{
    if (!isdigit((unsigned char)*p))
        return -1;
    int64_t v = 0;
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (INT64_MAX - (*p - '0')) / 10) {
            *end = p;
            return -2;
        }
        v = v * 10 + (*p - '0');
    }
    *out = v;
    *end = p;
    return 0;
}

typedef struct unit_def { const char *name; int64_t mul; } unit_def;

static int find_unit(const unit_def *u, const char *s, int64_t *mul)
{
    for (; u->name; u++)
        if (!strcasecmp(u->name, s)) {
            *mul = u->mul;
            return 0;
        }
    return -1;
}

static strom_err parse_scaled(const char *opt, const char *v, const unit_def *units,
                              const char *what, int64_t *out)
{
    const char *p = skip_ws(v), *end;
    int64_t n, mul = 1;
    int rc = parse_u63(p, &n, &end);
    if (rc == -2)
        return strom_fail(STROM_EOPTION, "option '%s': '%s' is too large", opt, v);
    if (rc != 0)
        return strom_fail(STROM_EOPTION, "option '%s': '%s' is not a %s", opt, v, what);
    char unit[16];
    p = skip_ws(end);
    size_t ul = strlen(p);
    while (ul > 0 && (p[ul - 1] == ' ' || p[ul - 1] == '\t'))
        ul--;
    if (ul >= sizeof unit)
        return strom_fail(STROM_EOPTION, "option '%s': '%s' has an unknown unit", opt, v);
    memcpy(unit, p, ul);
    unit[ul] = '\0';
    if (ul > 0 && find_unit(units, unit, &mul) != 0)
        return strom_fail(STROM_EOPTION, "option '%s': '%s' has an unknown unit '%s'", opt, v,
                          unit);
    if (mul > 1 && n > INT64_MAX / mul)
        return strom_fail(STROM_EOPTION, "option '%s': '%s' is too large", opt, v);
    *out = n * mul;
    return STROM_OK;
}

static const unit_def size_units[] = {
    {"b", 1}, {"k", 1 << 10}, {"kb", 1 << 10}, {"kib", 1 << 10},
    {"m", 1 << 20}, {"mb", 1 << 20}, {"mib", 1 << 20},
    {"g", 1 << 30}, {"gb", 1 << 30}, {"gib", 1 << 30},
    {"t", 1LL << 40}, {"tb", 1LL << 40}, {"tib", 1LL << 40}, {NULL, 0}};

#define MS_MIN (60 * 1000LL)
#define MS_HOUR (60 * MS_MIN)
#define MS_DAY (24 * MS_HOUR)
static const unit_def time_units[] = {
    {"ms", 1}, {"milli", 1}, {"millis", 1}, {"millisecond", 1}, {"milliseconds", 1},
    {"s", 1000}, {"sec", 1000}, {"secs", 1000}, {"second", 1000}, {"seconds", 1000},
    {"m", MS_MIN}, {"min", MS_MIN}, {"mins", MS_MIN}, {"minute", MS_MIN}, {"minutes", MS_MIN},
    {"h", MS_HOUR}, {"hour", MS_HOUR}, {"hours", MS_HOUR},
    {"d", MS_DAY}, {"day", MS_DAY}, {"days", MS_DAY}, {NULL, 0}};

strom_err cat_parse_size(const char *opt, const char *v, int64_t *out)
{
    return parse_scaled(opt, v, size_units, "size (e.g. 4096, 64kb, 256mb, 1gb)", out);
}

strom_err cat_parse_duration(const char *opt, const char *v, int64_t *out)
{
    return parse_scaled(opt, v, time_units, "duration (e.g. 1000 ms, 30 s, 5 min, 168h, 7 d)",
                        out);
}

/* ------------------------------------------------------------ apply functions */

static strom_err range_fail(const cat_optdef *d, const char *v, long long lo, long long hi)
{
    return strom_fail(STROM_EOPTION, "option '%s': '%s' is out of range [%lld, %lld]", d->name, v,
                      lo, hi);
}

static strom_err parse_int_in(const cat_optdef *d, const char *v, int64_t lo, int64_t hi,
                              int64_t *out)
{
    const char *end;
    int64_t n;
    int rc = parse_u63(skip_ws(v), &n, &end);
    if (rc == -2 && *skip_ws(end + strspn(end, "0123456789")) == '\0')
        return range_fail(d, v, lo, hi);
    if (rc != 0 || *skip_ws(end) != '\0')
        return strom_fail(STROM_EOPTION, "option '%s': '%s' is not an integer", d->name, v);
    if (n < lo || n > hi)
        return range_fail(d, v, lo, hi);
    *out = n;
    return STROM_OK;
}

static strom_err apply_bucket_num(const cat_optdef *d, const char *v, const strom_schema *s,
                                  cat_opts *o, char *canon)
{
    int64_t n = 1;
    strom_err e = parse_int_in(d, v, 1, CAT_MAX_BUCKETS, &n);
    o->nbuckets = (int)n;
    snprintf(canon, 64, "%d", o->nbuckets);
    return e;
}

static strom_err apply_zstd_level(const cat_optdef *d, const char *v, const strom_schema *s,
                                  cat_opts *o, char *canon)
{
    int64_t n = 3;
    strom_err e = parse_int_in(d, v, 1, 19, &n);
    o->zstd_level = (int)n;
    snprintf(canon, 64, "%d", o->zstd_level);
    return e;
}

/* Case-insensitive choice among names; index into names, canonical spelling stored. */
static strom_err parse_choice(const cat_optdef *d, const char *v, const char *const *names,
                              int *out, char *canon)
{
    for (int i = 0; names[i]; i++)
        if (!strcasecmp(names[i], v)) {
            *out = i;
            snprintf(canon, 64, "%s", names[i]);
            return STROM_OK;
        }
    char list[256] = "";
    for (int i = 0; names[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                 names[i]);
    return strom_fail(STROM_EOPTION, "option '%s': '%s' is not one of %s", d->name, v, list);
}

static strom_err apply_compression(const cat_optdef *d, const char *v, const strom_schema *s,
                                   cat_opts *o, char *canon)
{
    static const char *const names[] = {"NONE", "ZSTD", "LZ4", NULL};
    static const int codecs[] = {FMT_CODEC_NONE, FMT_CODEC_ZSTD, FMT_CODEC_LZ4};
    int i = 0;
    strom_err e = parse_choice(d, v, names, &i, canon);
    o->codec = codecs[i];
    return e;
}

static strom_err apply_encoding(const cat_optdef *d, const char *v, const strom_schema *s,
                                cat_opts *o, char *canon)
{
    static const char *const names[] = {"auto", "plain", NULL};
    int i = 0;
    strom_err e = parse_choice(d, v, names, &i, canon);
    o->plain_only = i == 1;
    return e;
}

static strom_err apply_flush(const cat_optdef *d, const char *v, const strom_schema *s,
                             cat_opts *o, char *canon)
{
    static const char *const names[] = {"sync", "interval", "none", NULL};
    static const log_flush_mode modes[] = {LOG_FLUSH_SYNC, LOG_FLUSH_INTERVAL, LOG_FLUSH_NONE};
    int i = 0;
    strom_err e = parse_choice(d, v, names, &i, canon);
    o->flush = modes[i];
    return e;
}

typedef strom_err (*scaled_fn)(const char *opt, const char *v, int64_t *out);

/* A size or duration within [lo, hi]. */
static strom_err scaled_in(const cat_optdef *d, const char *v, scaled_fn parse, int64_t lo,
                           int64_t hi, int64_t *out)
{
    strom_err e = parse(d->name, v, out);
    if (e == STROM_OK && (*out < lo || *out > hi))
        return range_fail(d, v, lo, hi);
    return e;
}

static strom_err apply_flush_interval(const cat_optdef *d, const char *v, const strom_schema *s,
                                      cat_opts *o, char *canon)
{
    return scaled_in(d, v, cat_parse_duration, 1, MS_HOUR, &o->flush_interval_ms);
}

static strom_err apply_segment_bytes(const cat_optdef *d, const char *v, const strom_schema *s,
                                     cat_opts *o, char *canon)
{
    return scaled_in(d, v, cat_parse_size, 1024, 1LL << 40, &o->segment_bytes);
}

static strom_err apply_prealloc(const cat_optdef *d, const char *v, const strom_schema *s,
                                cat_opts *o, char *canon)
{
    return scaled_in(d, v, cat_parse_size, 0, 1LL << 30, &o->prealloc_bytes);
}

static strom_err apply_index_interval(const cat_optdef *d, const char *v, const strom_schema *s,
                                      cat_opts *o, char *canon)
{
    return scaled_in(d, v, cat_parse_size, 1, 1LL << 30, &o->index_interval_bytes);
}

static strom_err apply_ttl(const cat_optdef *d, const char *v, const strom_schema *s,
                           cat_opts *o, char *canon)
{
    const char *p = skip_ws(v);
    if (!strcasecmp(p, "inf") || !strcasecmp(p, "infinite") || !strcmp(p, "-1")) {
        o->ttl_ms = -1;
        snprintf(canon, 64, "inf");
        return STROM_OK;
    }
    strom_err e = cat_parse_duration(d->name, v, &o->ttl_ms);
    if (e == STROM_OK && o->ttl_ms == 0)
        return strom_fail(STROM_EOPTION, "option '%s': '%s' would keep nothing (use 'inf' to "
                          "keep everything)", d->name, v);
    return e;
}

static strom_err col_fail(const cat_optdef *d, const char *col, const strom_schema *s)
{
    char list[512] = "";
    for (int i = 0; i < s->ncols && strlen(list) < sizeof list - 2; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                 s->cols[i].name);
    return strom_fail(STROM_EOPTION, "option '%s': no column '%s' (columns: %s)", d->name, col,
                      list);
}

/* Comma-separated column names -> indexes (trimmed, distinct, at most LOG_MAX_KEY_COLS). */
static strom_err parse_columns(const cat_optdef *d, const char *v, const strom_schema *s,
                               int *cols, int *ncols)
{
    *ncols = 0;
    const char *p = skip_ws(v);
    if (*p == '\0')
        return STROM_OK;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        char name[CAT_NAME_MAX * 2];
        if (n == 0 || n >= sizeof name)
            return strom_fail(STROM_EOPTION, "option '%s': '%s' is not a list of columns",
                              d->name, v);
        memcpy(name, p, n);
        name[n] = '\0';
        int c = strom_schema_find(s, name);
        if (c < 0)
            return col_fail(d, name, s);
        for (int i = 0; i < *ncols; i++)
            if (cols[i] == c)
                return strom_fail(STROM_EOPTION, "option '%s': column '%s' is named twice",
                                  d->name, name);
        if (*ncols == LOG_MAX_KEY_COLS)
            return strom_fail(STROM_EOPTION, "option '%s': more than %d columns", d->name,
                              LOG_MAX_KEY_COLS);
        cols[(*ncols)++] = c;
        if (!comma)
            return STROM_OK;
        p = skip_ws(comma + 1);
    }
}

static strom_err apply_bucket_key(const cat_optdef *d, const char *v, const strom_schema *s,
                                  cat_opts *o, char *canon)
{
    return parse_columns(d, v, s, o->bucket_key, &o->nbucket_key);
}

static strom_err apply_index_key(const cat_optdef *d, const char *v, const strom_schema *s,
                                 cat_opts *o, char *canon)
{
    return parse_columns(d, v, s, o->index_key, &o->nindex_key);
}

static strom_err apply_time_column(const cat_optdef *d, const char *v, const strom_schema *s,
                                   cat_opts *o, char *canon)
{
    int cols[LOG_MAX_KEY_COLS], n = 0;
    strom_err e = parse_columns(d, v, s, cols, &n);
    if (e != STROM_OK)
        return e;
    if (n > 1)
        return strom_fail(STROM_EOPTION, "option '%s': '%s' names more than one column",
                          d->name, v);
    o->time_col = n ? cols[0] : -1;
    if (n && s->cols[cols[0]].type != STROM_TIMESTAMP && s->cols[cols[0]].type != STROM_BIGINT)
        return strom_fail(STROM_EOPTION, "option '%s': column '%s' is %s, not TIMESTAMP(3) "
                          "or BIGINT", d->name, s->cols[cols[0]].name,
                          strom_type_name(s->cols[cols[0]].type));
    return STROM_OK;
}

static strom_err apply_any(const cat_optdef *d, const char *v, const strom_schema *s,
                           cat_opts *o, char *canon)
{
    return STROM_OK;
}

/* A whole number of milliseconds, 0 .. 10 years (the SQL watermark options; read back by the
 * SQL layer as stored). */
static strom_err apply_ms(const cat_optdef *d, const char *v, const strom_schema *s,
                          cat_opts *o, char *canon)
{
    int64_t n = 0;
    strom_err e = parse_int_in(d, v, 0, INT64_C(315360000000), &n);
    snprintf(canon, 64, "%" PRId64, n);
    return e;
}

static const char *const engine_names[] = {"last_row", "first_row", "versioned",
                                           "aggregation", NULL};

static strom_err apply_merge_engine(const cat_optdef *d, const char *v, const strom_schema *s,
                                    cat_opts *o, char *canon)
{
    return parse_choice(d, v, engine_names, &o->merge_engine, canon);
}

/* Versioned engine: the version column must exist and be INT, BIGINT or TIMESTAMP (as
 * Fluss: INT, BIGINT, TIMESTAMP, TIMESTAMP_LTZ). Runs after apply_merge_engine. */
static strom_err apply_ver_column(const cat_optdef *d, const char *v, const strom_schema *s,
                                  cat_opts *o, char *canon)
{
    int cols[LOG_MAX_KEY_COLS], n = 0;
    o->ver_col = -1;
    strom_err e = parse_columns(d, v, s, cols, &n);
    if (e != STROM_OK)
        return e;
    if (o->merge_engine != KV_ENGINE_VERSIONED)
        return n ? strom_fail(STROM_EOPTION, "option '%s' applies only to table.merge-engine "
                              "= versioned, not %s", d->name, engine_names[o->merge_engine])
                 : STROM_OK;
    if (n != 1)
        return strom_fail(STROM_EOPTION, "option '%s': the versioned merge engine needs "
                          "exactly one version column ('%s' given)", d->name, v);
    strom_type t = s->cols[cols[0]].type;
    if (t != STROM_INT && t != STROM_BIGINT && t != STROM_TIMESTAMP)
        return strom_fail(STROM_EOPTION, "option '%s': column '%s' is %s; a version column "
                          "must be INT, BIGINT or TIMESTAMP(3)", d->name, s->cols[cols[0]].name,
                          strom_type_name(t));
    o->ver_col = cols[0];
    return STROM_OK;
}

static strom_err apply_delete_behavior(const cat_optdef *d, const char *v, const strom_schema *s,
                                       cat_opts *o, char *canon)
{
    static const char *const names[] = {"allow", "ignore", "disable", NULL};
    strom_err e = parse_choice(d, v, names, &o->delete_behavior, canon);
    if (e == STROM_OK && o->delete_behavior == CAT_DELETE_ALLOW &&
        (o->merge_engine == KV_ENGINE_FIRST_ROW || o->merge_engine == KV_ENGINE_VERSIONED))
        return strom_fail(STROM_EOPTION, "option '%s': the %s merge engine does not support "
                          "deletes; use ignore or disable", d->name,
                          engine_names[o->merge_engine]);
    return e;
}

/* ------------------------------------------------------ fields.<col>.agg */

static const char *const agg_names[KV_AGG_N] = {
    NULL, "sum", "min", "max", "last_value", "last_value_ignore_nulls", "first_value",
    "first_value_ignore_nulls", "count"};

const char *cat_agg_name(int f) { return f > 0 && f < KV_AGG_N ? agg_names[f] : NULL; }

static int agg_fits(int f, strom_type t)
{
    int num = t == STROM_INT || t == STROM_BIGINT || t == STROM_FLOAT || t == STROM_DOUBLE;
    switch (f) {
    case KV_AGG_SUM: return num;
    case KV_AGG_MIN:
    case KV_AGG_MAX: return num || t == STROM_TIMESTAMP || t == STROM_STRING;
    case KV_AGG_COUNT: return t == STROM_INT || t == STROM_BIGINT;
    default: return 1;
    }
}

/* One 'fields.<col>.agg' = fn. */
static strom_err apply_agg(const char *key, const char *val, const strom_schema *s, cat_opts *o)
{
    size_t cl = strlen(key) - 11;   /* "fields." + col + ".agg" */
    const char *col = key + 7;
    int c = -1, f = 0;
    for (int i = 0; i < s->ncols && c < 0; i++)
        if (strlen(s->cols[i].name) == cl && !strncmp(s->cols[i].name, col, cl))
            c = i;
    if (c < 0)
        return strom_fail(STROM_EOPTION, "table option '%s': no column '%.*s'", key, (int)cl, col);
    if (o->merge_engine != KV_ENGINE_AGGREGATION)
        return strom_fail(STROM_EOPTION, "table option '%s' needs table.merge-engine = "
                          "aggregation (not %s)", key, engine_names[o->merge_engine]);
    for (int i = 0; i < s->npk; i++)
        if (s->pk[i] == c)
            return strom_fail(STROM_EOPTION, "table option '%s': column '%s' is part of the "
                              "primary key and is not aggregated", key, s->cols[c].name);
    for (int i = 1; i < KV_AGG_N && !f; i++)
        if (!strcasecmp(val, agg_names[i]))
            f = i;
    if (!f)
        return strom_fail(STROM_EOPTION, "table option '%s': unknown aggregate function '%s' "
                          "(sum, min, max, last_value, last_value_ignore_nulls, first_value, "
                          "first_value_ignore_nulls, count)", key, val);
    if (!agg_fits(f, s->cols[c].type))
        return strom_fail(STROM_EOPTION, "table option '%s': %s does not apply to column '%s' "
                          "of type %s", key, agg_names[f], s->cols[c].name,
                          strom_type_name(s->cols[c].type));
    if (o->agg[c])
        return strom_fail(STROM_EOPTION, "table option '%s' is given twice", key);
    o->agg[c] = (uint8_t)f;
    return STROM_OK;
}

static int is_agg_key(const char *key);

static strom_err apply_aggs(const char *const *kv, const strom_schema *s, cat_opts *o)
{
    for (size_t k = 0; kv && kv[k]; k += 2) {
        strom_err e = is_agg_key(kv[k]) ? apply_agg(kv[k], kv[k + 1], s, o) : STROM_OK;
        if (e != STROM_OK)
            return e;
    }
    return STROM_OK;
}

static strom_err apply_image(const cat_optdef *d, const char *v, const strom_schema *s,
                             cat_opts *o, char *canon)
{
    static const char *const names[] = {"FULL", "WAL", NULL};
    int i = 0;
    strom_err e = parse_choice(d, v, names, &i, canon);
    o->image_full = i == 0;
    return e;
}

/* Row TTL: "" (none) or a positive duration. */
static strom_err apply_kv_ttl(const cat_optdef *d, const char *v, const strom_schema *s,
                              cat_opts *o, char *canon)
{
    o->kv_ttl_ms = 0;
    if (*skip_ws(v) == '\0')
        return STROM_OK;
    strom_err e = cat_parse_duration(d->name, v, &o->kv_ttl_ms);
    if (e == STROM_OK && o->kv_ttl_ms <= 0)
        return strom_fail(STROM_EOPTION, "option '%s': '%s' would expire every row at once "
                          "(leave it unset for no expiry)", d->name, v);
    return e;
}

/* History TTL: a positive duration, or inf (-1: versions kept forever). */
static strom_err apply_kv_history_ttl(const cat_optdef *d, const char *v, const strom_schema *s,
                                      cat_opts *o, char *canon)
{
    const char *p = skip_ws(v);
    if (!strcasecmp(p, "inf") || !strcasecmp(p, "infinite") || !strcmp(p, "-1")) {
        o->kv_hist_ttl_ms = -1;
        snprintf(canon, 64, "inf");
        return STROM_OK;
    }
    strom_err e = cat_parse_duration(d->name, v, &o->kv_hist_ttl_ms);
    if (e == STROM_OK && o->kv_hist_ttl_ms <= 0)
        return strom_fail(STROM_EOPTION, "option '%s': '%s' would keep no past version (use "
                          "'inf' to keep them all)", d->name, v);
    return e;
}

/* Version-time column of the key history: one TIMESTAMP or BIGINT column. */
static strom_err apply_kv_vcol(const cat_optdef *d, const char *v, const strom_schema *s,
                               cat_opts *o, char *canon)
{
    int cols[LOG_MAX_KEY_COLS], n = 0;
    o->kv_vcol = -1;
    strom_err e = parse_columns(d, v, s, cols, &n);
    if (e != STROM_OK || n == 0)
        return e;
    if (n != 1)
        return strom_fail(STROM_EOPTION, "option '%s': one column, not %d ('%s')", d->name, n,
                          v);
    strom_type t = s->cols[cols[0]].type;
    if (t != STROM_TIMESTAMP && t != STROM_BIGINT)
        return strom_fail(STROM_EOPTION, "option '%s': column '%s' is %s; a version-time "
                          "column must be TIMESTAMP(3) or BIGINT (ms)", d->name,
                          s->cols[cols[0]].name, strom_type_name(t));
    o->kv_vcol = cols[0];
    return STROM_OK;
}

/* ---------------------------------------------------------------- registry */

static const cat_optdef registry[] = {
    {"bucket.num", "int 1..1024", "1", apply_bucket_num, 0,
     "number of buckets; rows go to a bucket by hash of bucket.key"},
    {"bucket.key", "columns", "", apply_bucket_key, 0,
     "comma list of columns hashed to choose the bucket (all rows of a key in one bucket);\n"
     "      without one, each append goes to one bucket, round-robin per call"},
    {"table.log.compression", "ZSTD|LZ4|NONE", "ZSTD", apply_compression, 0,
     "per-column codec of log batches (case-insensitive); primary-key tables' changelog: "
     "LZ4 unless given"},
    {"table.log.compression.zstd.level", "int 1..19", "3", apply_zstd_level, 0,
     "ZSTD level"},
    {"table.log.encoding", "auto|plain", "auto", apply_encoding, 0,
     "plain disables the FOR/DELTA/DECIMAL/DICT encodings"},
    {"table.log.flush", "sync|interval|none", "sync", apply_flush, 0,
     "sync: appends return after fsync (group commit); interval: background flush;\n"
     "      none: the OS decides (strom_table_flush forces)"},
    {"table.log.flush.interval", "duration", "1 s", apply_flush_interval, 0,
     "flush period for table.log.flush=interval"},
    {"table.log.segment.bytes", "size", "256mb", apply_segment_bytes, 0,
     "roll the active segment past this size (e.g. 64mb, 1gb, plain bytes)"},
    {"table.log.segment.preallocate", "size", "8mb", apply_prealloc, 0,
     "grow the active segment's file up to this far ahead of the writes (fallocate,\n"
     "      steps from 64kb growing with the segment), so an fsync writes data, not a new\n"
     "      file size; 0: off"},
    {"table.log.ttl", "duration|inf", "7 d", apply_ttl, 0,
     "retention: whole segments older than this are removed ('inf' or -1: forever)"},
    {"table.log.index.key", "columns", "", apply_index_key, 0,
     "comma list of columns with a per-key history index (strom_table_key_history)"},
    {"table.log.index.interval.bytes", "size", "4096", apply_index_interval, 0,
     "one sparse offset/time index entry per this many segment bytes"},
    {"table.time-column", "column", "", apply_time_column, 0,
     "TIMESTAMP(3) or BIGINT column holding row times (default: the commit time)"},
    {"table.watermark.delay-ms", "ms", "0", apply_ms, 0,
     "streaming SQL windows: the watermark is the greatest row time seen minus this (set by\n"
     "      WATERMARK FOR c AS c - INTERVAL ...)"},
    {"table.watermark.idle-ms", "ms", "30000", apply_ms, 0,
     "streaming SQL windows: a bucket with no rows yet holds the watermark at the first row's\n"
     "      time until the other buckets' watermark is this far (event time) past it"},
    {"connector", "string", "", apply_any, 0, "accepted and stored (Fluss DDL), not used"},
    {"bootstrap.servers", "string", "", apply_any, 0, "accepted and stored (Fluss DDL), not used"},
    {"table.merge-engine", "last_row|first_row|versioned|aggregation", "last_row",
     apply_merge_engine, 1,
     "primary-key tables: how a write merges with the key's row: last_row replaces it,\n"
     "      first_row keeps the first, versioned keeps the greatest ver-column (ties: the\n"
     "      newer write), aggregation merges each column by fields.<col>.agg"},
    {"table.merge-engine.versioned.ver-column", "column", "", apply_ver_column, 1,
     "primary-key tables: version column (INT, BIGINT, TIMESTAMP) of the versioned engine"},
    {"table.delete.behavior", "allow|ignore|disable", "allow", apply_delete_behavior, 1,
     "primary-key tables: deletes apply, are dropped silently, or are refused (default\n"
     "      ignore for first_row/versioned/aggregation; allow is refused with\n"
     "      first_row/versioned)"},
    {"table.changelog.image", "FULL|WAL", "FULL", apply_image, 1,
     "primary-key tables: FULL writes -U before images, WAL does not"},
    {"table.kv.ttl", "duration", "", apply_kv_ttl, 1,
     "primary-key tables: rows not written for this long expire with a -D changelog row\n"
     "      (checked every min(ttl/4, 1 s) and by strom_table_expire); unset: never"},
    {"table.kv.history.ttl", "duration|inf", "7 d", apply_kv_history_ttl, 1,
     "primary-key tables: past versions (AS OF lookups) are kept this long; compactions\n"
     "      drop older ones, keeping each key's version valid at now - ttl"},
    {"table.kv.version-column", "column", "", apply_kv_vcol, 1,
     "primary-key tables: TIMESTAMP(3)/BIGINT column giving each version its time for AS\n"
     "      OF lookups (late rows land in the past); unset: the commit time. A delete's\n"
     "      version time is its commit time"},
};
#define NREG ((int)(sizeof registry / sizeof registry[0]))

int cat_opt_count(void) { return NREG; }
const char *cat_opt_name(int i) { return registry[i].name; }
int cat_opt_pk_only(int i) { return registry[i].kv_only; }

static int find_opt(const char *key)
{
    for (int i = 0; i < NREG; i++)
        if (!strcmp(registry[i].name, key))
            return i;
    return -1;
}

static int is_agg_key(const char *key)
{
    size_t n = strlen(key);
    return n > 11 && !strncmp(key, "fields.", 7) && !strcmp(key + n - 4, ".agg");
}

static strom_err unknown_fail(const char *key)
{
    char list[800] = "";
    for (int i = 0; i < NREG; i++)
        if (!registry[i].kv_only)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                     registry[i].name);
    return strom_fail(STROM_EOPTION, "unknown table option '%s'; known options: %s", key, list);
}

/* Finds the registry slot of key, or fails (unknown, PK-only on a log table, control
 * characters). */
static strom_err check_key(const char *key, const char *val, int pk, int *slot)
{
    int i = find_opt(key);
    if (!pk && ((i >= 0 && registry[i].kv_only) || is_agg_key(key)))
        return strom_fail(STROM_EOPTION, "table option '%s' applies to primary-key tables "
                          "only (declare one with strom_schema_set_primary_key)", key);
    if (i < 0 && is_agg_key(key))
        return val ? STROM_OK : strom_fail(STROM_EOPTION, "table option '%s' has no value", key);
    if (i < 0)
        return unknown_fail(key);
    if (!val)
        return strom_fail(STROM_EOPTION, "table option '%s' has no value", key);
    for (const char *p = val; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return strom_fail(STROM_EOPTION, "table option '%s': value contains a control "
                              "character", key);
    *slot = i;
    return STROM_OK;
}

static void opts_reset(cat_opts *o)
{
    memset(o, 0, sizeof *o);
    o->time_col = -1;
    o->ver_col = -1;
    o->kv_vcol = -1;
}

static int engine_is_last_row(const char *v)
{
    v = skip_ws(v ? v : "");
    return !*v || !strncasecmp(v, "last_row", 8);
}

/* Stores the given values into o->vals (defaults for the rest). */
static strom_err collect_values(const char *const *kv, cat_opts *o)
{
    for (size_t k = 0; kv && kv[k]; k += 2) {
        int i = -1;
        strom_err e = check_key(kv[k], kv[k + 1], o->pk_table, &i);
        if (e != STROM_OK)
            return e;
        if (i < 0)
            continue;   /* fields.<col>.agg: apply_aggs */
        if (o->vals[i])
            return strom_fail(STROM_EOPTION, "table option '%s' is given twice", kv[k]);
        if (!(o->vals[i] = strom_strdup(kv[k + 1])))
            return STROM_ENOMEM;
    }
    for (int i = 0; i < NREG; i++) {
        const char *def = registry[i].kv_only && !o->pk_table ? "" : registry[i].def;
        if (o->pk_table && !strcmp(registry[i].name, "table.log.ttl"))
            def = "inf";  /* the changelog is what the state is rebuilt from */
        if (o->pk_table && !strcmp(registry[i].name, "table.log.compression"))
            def = "LZ4";  /* the changelog is the write path's WAL: `strom bench kv` inserts
                             +6-12% rows per CPU-s against ZSTD 3, for 49 instead of 29
                             changelog bytes per row (bench/README.md, branch kvup) */
        if (o->pk_table && !strcmp(registry[i].name, "table.delete.behavior") &&
            !engine_is_last_row(o->vals[find_opt("table.merge-engine")]))
            def = "ignore";  /* Fluss: first_row, versioned, aggregation drop deletes */
        if (!o->vals[i] && !(o->vals[i] = strom_strdup(def)))
            return STROM_ENOMEM;
    }
    return STROM_OK;
}

/* Primary-key tables: bucket.key defaults to the primary key and must be part of it. */
static strom_err pk_bucket_key(const strom_schema *s, cat_opts *o)
{
    if (o->nbucket_key == 0) {
        memcpy(o->bucket_key, s->pk, sizeof(int) * (size_t)s->npk);
        o->nbucket_key = s->npk;
    }
    for (int i = 0; i < o->nbucket_key; i++) {
        int in = 0;
        for (int j = 0; j < s->npk; j++)
            in |= s->pk[j] == o->bucket_key[i];
        if (!in)
            return strom_fail(STROM_EOPTION, "option 'bucket.key': column '%s' is not part of "
                              "the primary key", s->cols[o->bucket_key[i]].name);
    }
    return STROM_OK;
}

static strom_err apply_all(const strom_schema *s, cat_opts *o)
{
    for (int i = 0; i < NREG; i++) {
        if (registry[i].kv_only && !o->pk_table)
            continue;
        char canon[64] = "";
        strom_err e = registry[i].apply(&registry[i], o->vals[i], s, o, canon);
        if (e != STROM_OK)
            return e;
        if (canon[0] && strcmp(canon, o->vals[i])) {
            char *c = strom_strdup(canon);
            if (!c)
                return STROM_ENOMEM;
            free(o->vals[i]);
            o->vals[i] = c;
        }
    }
    return STROM_OK;
}

strom_err cat_opts_parse(const char *const *kv, const strom_schema *s, cat_opts *o)
{
    opts_reset(o);
    o->vals = strom_calloc(NREG, sizeof *o->vals);
    if (!o->vals)
        return STROM_ENOMEM;
    o->pk_table = s->npk > 0;
    strom_err e = collect_values(kv, o);
    if (e == STROM_OK)
        e = apply_all(s, o);
    if (e == STROM_OK && o->pk_table)
        e = apply_aggs(kv, s, o);
    if (e == STROM_OK && o->pk_table)
        e = pk_bucket_key(s, o);
    if (e != STROM_OK)
        cat_opts_free(o);
    return e;
}

void cat_opts_free(cat_opts *o)
{
    if (o->vals)
        for (int i = 0; i < NREG; i++)
            free(o->vals[i]);
    free(o->vals);
    opts_reset(o);
}

const char *cat_opts_get(const cat_opts *o, const char *key)
{
    int i = find_opt(key);
    return i < 0 || !o->vals ? NULL : o->vals[i];
}

/* ------------------------------------------------------------------- help */

static char help_text[8192];
static pthread_once_t help_once = PTHREAD_ONCE_INIT;

static void build_help(void)
{
    size_t n = 0, cap = sizeof help_text;
    n += (size_t)snprintf(help_text + n, cap - n, "Table options (key = value):\n");
    for (int i = 0; i < NREG && n < cap; i++) {
        const cat_optdef *d = &registry[i];
        n += (size_t)snprintf(help_text + n, cap - n, "  %-40s %s, default %s\n      %s%s\n",
                              d->name, d->type, d->def[0] ? d->def : "(none)", d->help,
                              d->kv_only ? " (primary-key tables only)" : "");
    }
    if (n < cap)
        snprintf(help_text + n, cap - n, "  %-40s %s\n      %s\n", "fields.<col>.agg",
                 "aggregate function", "primary-key tables, aggregation engine: sum, min, max, "
                 "last_value,\n      last_value_ignore_nulls (default), first_value, "
                 "first_value_ignore_nulls, count");
}

const char *strom_table_option_help(void)
{
    pthread_once(&help_once, build_help);
    return help_text;
}
