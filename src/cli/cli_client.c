/* cli_client.c: text -> values for the client commands (cli_client.h): typed values,
 * timestamps, CSV records, --where predicates, name lists; and connecting. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_client.h"

int cli_connect(const char *server, strom_client **out)
{
    strom_err e = strom_client_connect(server, NULL, out);
    if (e == STROM_OK)
        return CLI_OK;
    return cli_errorf("cannot connect to %s: %s: %s", server, strom_strerror(e), strom_errmsg());
}

/* ------------------------------------------------------------ values */

/* s[0..len) as a NUL-terminated copy in tmp (cap bytes). 0, or -1 if empty, too long or
 * holding a NUL byte (strtoll would stop there: "67\0xyz" is no number). */
static int to_cstr(const char *s, size_t len, char *tmp, size_t cap)
{
    if (len == 0 || len >= cap || memchr(s, '\0', len))
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    errno = 0;
    return 0;
}

static int parse_i64(const char *s, size_t len, int64_t *v)
{
    char tmp[32], *end;
    if (to_cstr(s, len, tmp, sizeof tmp))
        return -1;
    long long x = strtoll(tmp, &end, 10);
    if (errno || *end || end == tmp)
        return -1;
    *v = x;
    return 0;
}

static int parse_f64(const char *s, size_t len, double *v)
{
    char tmp[64], *end;
    if (to_cstr(s, len, tmp, sizeof tmp))
        return -1;
    double x = strtod(tmp, &end);
    if (*end || end == tmp || (errno == ERANGE && isinf(x)))
        return -1;
    *v = x;
    return 0;
}

/* Reads n digits at s[*i]. -1 if not digits. */
static int digits(const char *s, size_t len, size_t *i, int n, int *out)
{
    int v = 0;
    for (int k = 0; k < n; k++, (*i)++) {
        if (*i >= len || !isdigit((unsigned char)s[*i]))
            return -1;
        v = v * 10 + (s[*i] - '0');
    }
    *out = v;
    return 0;
}

/* "YYYY-MM-DD[( |T)HH:MM[:SS[.f{1,3}]]]" */
static int parse_datetime(const char *s, size_t len, int64_t *ms)
{
    size_t i = 0;
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
    if (digits(s, len, &i, 4, &y) || i >= len || s[i++] != '-' || digits(s, len, &i, 2, &mo) ||
        i >= len || s[i++] != '-' || digits(s, len, &i, 2, &d))
        return -1;
    if (i < len && (s[i] == ' ' || s[i] == 'T')) {
        i++;
        if (digits(s, len, &i, 2, &h) || i >= len || s[i++] != ':' || digits(s, len, &i, 2, &mi))
            return -1;
        int have_sec = i < len && s[i] == ':';
        if (have_sec && (i++, digits(s, len, &i, 2, &sec)))
            return -1;
        if (have_sec && i < len && s[i] == '.') {   /* a fraction only after seconds */
            int nd = 0;
            for (i++; i < len && isdigit((unsigned char)s[i]) && nd < 3; i++, nd++)
                frac = frac * 10 + (s[i] - '0');
            if (nd == 0)
                return -1;
            for (; nd < 3; nd++)
                frac *= 10;
        }
    }
    if (i != len || h > 23 || mi > 59 || sec > 59)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                    .tm_min = mi, .tm_sec = sec}, back;
    time_t t = timegm(&tm);
    /* timegm moves 2025-02-31 to March 3: a date that does not come back is no date */
    if (!gmtime_r(&t, &back) || back.tm_year != y - 1900 || back.tm_mon != mo - 1 ||
        back.tm_mday != d)
        return -1;
    *ms = (int64_t)t * 1000 + frac;
    return 0;
}

int cli_parse_time(const char *s, size_t len, int64_t *ms)
{
    if (parse_i64(s, len, ms) == 0)
        return 0;
    return parse_datetime(s, len, ms);
}

static int parse_bool(const char *s, size_t len, int64_t *v)
{
    if ((len == 4 && !strncasecmp(s, "true", 4)) || (len == 1 && s[0] == '1'))
        return *v = 1, 0;
    if ((len == 5 && !strncasecmp(s, "false", 5)) || (len == 1 && s[0] == '0'))
        return *v = 0, 0;
    return -1;
}

int cli_parse_value(strom_type t, const char *s, size_t len, strom_value *out, char *err,
                    size_t errn)
{
    *out = (strom_value){.type = t};
    int rc;
    switch (t) {
    case STROM_BOOLEAN: rc = parse_bool(s, len, &out->v.i); break;
    case STROM_INT:
        rc = parse_i64(s, len, &out->v.i);
        rc = rc == 0 && (out->v.i < INT32_MIN || out->v.i > INT32_MAX) ? -1 : rc;
        break;
    case STROM_BIGINT: rc = parse_i64(s, len, &out->v.i); break;
    case STROM_FLOAT: case STROM_DOUBLE: rc = parse_f64(s, len, &out->v.d); break;
    case STROM_TIMESTAMP: rc = cli_parse_time(s, len, &out->v.i); break;
    case STROM_STRING: case STROM_BYTES:
        out->v.s.ptr = s;
        out->v.s.len = len;
        rc = 0;
        break;
    default: rc = -1;
    }
    if (rc != 0)
        snprintf(err, errn, "'%.*s' is not %s %s", (int)(len > 60 ? 60 : len), s,
                 t == STROM_INT ? "an" : "a", strom_type_name(t) ? strom_type_name(t) : "?");
    return rc;
}

/* ------------------------------------------------------------ CSV */

static int quoted_field(const char *line, size_t len, size_t *i, char *buf, size_t *o,
                        int *errcol, char *err, size_t errn)
{
    size_t start = *i;
    for ((*i)++;; (*i)++) {
        if (*i >= len)
            return -2;
        if (line[*i] != '"') {
            buf[(*o)++] = line[*i];
            continue;
        }
        if (*i + 1 < len && line[*i + 1] == '"') {
            buf[(*o)++] = '"';
            (*i)++;
            continue;
        }
        (*i)++;
        if (*i < len && line[*i] != ',') {
            *errcol = (int)*i + 1;
            snprintf(err, errn, "a character after the closing quote of the field that "
                     "starts at column %zu", start + 1);
            return -1;
        }
        return 0;
    }
}

int cli_csv_split(const char *line, size_t len, char *buf, const char **f, size_t *flen,
                  int *quoted, size_t *fstart, int max, int *errcol, char *err, size_t errn)
{
    size_t i = 0, o = 0;
    int n = 0;
    for (;;) {
        if (n >= max) {
            *errcol = (int)i + 1;
            snprintf(err, errn, "more than %d fields", max);
            return -1;
        }
        f[n] = buf + o;
        fstart[n] = i;
        size_t o0 = o;
        quoted[n] = i < len && line[i] == '"';
        if (quoted[n]) {
            int rc = quoted_field(line, len, &i, buf, &o, errcol, err, errn);
            if (rc != 0)
                return rc;
        } else {
            for (; i < len && line[i] != ','; i++) {
                if (line[i] == '"') {
                    *errcol = (int)i + 1;
                    snprintf(err, errn, "a quote inside an unquoted field");
                    return -1;
                }
                buf[o++] = line[i];
            }
        }
        flen[n++] = o - o0;
        if (i >= len)
            return n;
        i++; /* the comma */
    }
}

/* ------------------------------------------------------------ --where, names */

static const struct { const char *s; strom_op op; } ops[] = {
    {"<=", STROM_OP_LE}, {">=", STROM_OP_GE}, {"<>", STROM_OP_NE}, {"!=", STROM_OP_NE},
    {"==", STROM_OP_EQ}, {"=", STROM_OP_EQ}, {"<", STROM_OP_LT}, {">", STROM_OP_GT},
};

int cli_parse_where(const strom_schema *s, const char *text, strom_pred *out, char *err,
                    size_t errn)
{
    static __thread char name[160];
    size_t i = 0, len = strlen(text);
    while (i < len && isspace((unsigned char)text[i]))
        i++;
    size_t n0 = i;
    while (i < len && (isalnum((unsigned char)text[i]) || text[i] == '_'))
        i++;
    size_t nlen = i - n0;
    while (i < len && isspace((unsigned char)text[i]))
        i++;
    int k = -1;
    for (size_t j = 0; k < 0 && j < sizeof ops / sizeof ops[0]; j++)
        if (!strncmp(text + i, ops[j].s, strlen(ops[j].s)))
            k = (int)j;
    if (nlen == 0 || nlen >= sizeof name || k < 0) {
        snprintf(err, errn, "--where '%s': expected 'column op value' with op one of = != <> < "
                 "<= > >=", text);
        return -1;
    }
    memcpy(name, text + n0, nlen);
    name[nlen] = '\0';
    int col = strom_schema_find(s, name);
    if (col < 0) {
        snprintf(err, errn, "--where '%s': no column '%s'", text, name);
        return -1;
    }
    i += strlen(ops[k].s);
    while (i < len && isspace((unsigned char)text[i]))
        i++;
    size_t vlen = len - i;
    while (vlen > 0 && isspace((unsigned char)text[i + vlen - 1]))
        vlen--;
    const char *v = text + i;
    if (vlen >= 2 && (v[0] == '\'' || v[0] == '"') && v[vlen - 1] == v[0])
        v++, vlen -= 2;
    char why[160];
    if (cli_parse_value(strom_schema_col_type(s, col), v, vlen, &out->value, why, sizeof why)) {
        snprintf(err, errn, "--where '%s': %s", text, why);
        return -1;
    }
    out->column = strom_schema_col_name(s, col);
    out->op = ops[k].op;
    return 0;
}

int cli_split_names(const char *list, char *buf, size_t bufn, const char **out, int max)
{
    if (strlen(list) + 1 > bufn)
        return -1;
    strcpy(buf, list);
    int n = 0;
    for (char *p = buf, *tok; (tok = strsep(&p, ","));) {
        if (!*tok || n >= max)
            return -1;
        out[n++] = tok;
    }
    return n;
}

int cli_parse_format(const char *s, cli_fmt *out)
{
    if (!strcmp(s, "csv"))
        return *out = CLI_FMT_CSV, 0;
    if (!strcmp(s, "jsonl") || !strcmp(s, "json"))
        return *out = CLI_FMT_JSONL, 0;
    return -1;
}
