/* dialect.c: the token-level rewriting of the Flink dialect into SQLite SQL (sql.h): time
 * literals, intervals, CURRENT_TIMESTAMP, quoted names and FOR SYSTEM_TIME AS OF. */
#include "sql_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

strom_err sql_tr_fail(const tr *x, const sql_tok *t, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    (void)x;
    sql_set_error_at((long)t->at);
    return strom_fail(STROM_EINVAL, "line %d, column %d: %s", t->line, t->col, msg);
}

strom_err sql_expect_kw(tr *x, const char *kw)
{
    return eat_kw(x, kw) ? STROM_OK : sql_tr_fail(x, cur(x), "expected %s", kw);
}

strom_err sql_expect_p(tr *x, const char *p)
{
    return eat_p(x, p) ? STROM_OK : sql_tr_fail(x, cur(x), "expected '%s'", p);
}

/* Unquoted text of an identifier or string token (doubled quotes collapsed). Owned. */
char *sql_tok_text(const sql_tok *t)
{
    char *s = strom_malloc(t->n + 1);
    if (!s)
        return NULL;
    size_t o = 0;
    char q = t->kind == SQL_TK_STRING ? '\'' : t->kind == SQL_TK_QIDENT ? t->p[-1] : 0;
    for (size_t k = 0; k < t->n; k++) {
        s[o++] = t->p[k];
        if (q && t->p[k] == q && k + 1 < t->n && t->p[k + 1] == q)
            k++;
    }
    s[o] = 0;
    return s;
}


/* name or db.name. Owned in *out. */
strom_err sql_parse_name(tr *x, const char *what, char **out)
{
    *out = NULL;
    if (!is_name(cur(x)))
        return sql_tr_fail(x, cur(x), "expected %s name", what);
    char *a = sql_tok_text(cur(x));
    x->i++;
    if (a && at_p(x, ".") && is_name(&x->t[x->i + 1])) {
        char *b = sql_tok_text(&x->t[x->i + 1]);
        x->i += 2;
        char *ab = b ? strom_malloc(strlen(a) + strlen(b) + 2) : NULL;
        if (ab)
            sprintf(ab, "%s.%s", a, b);
        free(a);
        free(b);
        a = ab;
    }
    *out = a;
    return a ? STROM_OK : STROM_ENOMEM;
}

/* ------------------------------------------------------------ time values */

static int digits(const char *p, size_t n, size_t *i, int count, int *v)
{
    *v = 0;
    for (int k = 0; k < count; k++, (*i)++) {
        if (*i >= n || !isdigit((unsigned char)p[*i]))
            return -1;
        *v = *v * 10 + (p[*i] - '0');
    }
    return 0;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : dm[m - 1];
}

strom_err sql_parse_timestamp(const char *p, size_t n, int64_t *ms)
{
    size_t i = 0;
    int y, mo, d, h = 0, mi = 0, s = 0, frac = 0, bad = 0;
    bad |= digits(p, n, &i, 4, &y) || i >= n || p[i++] != '-';
    bad |= digits(p, n, &i, 2, &mo) || i >= n || p[i++] != '-';
    bad |= digits(p, n, &i, 2, &d);
    if (!bad && i < n && (p[i] == ' ' || p[i] == 'T')) {
        i++;
        bad |= digits(p, n, &i, 2, &h) || i >= n || p[i++] != ':' || digits(p, n, &i, 2, &mi);
        if (!bad && i < n && p[i] == ':') {
            i++;
            bad |= digits(p, n, &i, 2, &s);
            if (!bad && i < n && p[i] == '.') {
                int k = 0, scale = 100;
                for (i++; i < n && isdigit((unsigned char)p[i]); i++, k++) {
                    frac += k < 3 ? (p[i] - '0') * scale : 0;
                    scale /= 10;
                }
                bad |= k == 0 || k > 9;
            }
        }
    }
    bad |= i != n || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
           mi > 59 || s > 59;
    if (bad)
        return strom_fail(STROM_EINVAL, "'%.*s' is not a timestamp 'yyyy-MM-dd HH:mm:ss[.SSS]'",
                          (int)(n > 64 ? 64 : n), p);
    *ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + (int64_t)s * 1000 + frac;
    return STROM_OK;
}

/* INTERVAL 'n' UNIT at x->i (which is INTERVAL): *ms; x->i moves past the unit. */
strom_err sql_parse_interval(tr *x, int64_t *ms)
{
    const sql_tok *kw = cur(x);
    x->i++;
    const sql_tok *v = cur(x);
    if (v->kind != SQL_TK_STRING && v->kind != SQL_TK_NUMBER)
        return sql_tr_fail(x, v, "INTERVAL needs a quoted amount, e.g. INTERVAL '5' MINUTE");
    x->i++;
    static const struct { const char *u; int64_t ms; } units[] = {
        {"MILLISECOND", 1}, {"SECOND", 1000}, {"MINUTE", 60000}, {"HOUR", 3600000},
        {"DAY", 86400000}, {"SECONDS", 1000}, {"MINUTES", 60000}, {"HOURS", 3600000},
        {"DAYS", 86400000}};
    int64_t unit = 0;
    for (size_t k = 0; k < sizeof units / sizeof units[0] && !unit; k++)
        unit = eat_kw(x, units[k].u) ? units[k].ms : 0;
    if (!unit)
        return sql_tr_fail(x, cur(x), "INTERVAL unit must be MILLISECOND, SECOND, MINUTE, HOUR or DAY");
    if (eat_p(x, "(")) {      /* SECOND(3): a precision, ignored */
        while (!at_p(x, ")") && cur(x)->kind != SQL_TK_END)
            x->i++;
        if (!eat_p(x, ")"))
            return sql_tr_fail(x, cur(x), "expected ')' after the INTERVAL precision");
    }
    char buf[64];
    if (v->n == 0 || v->n >= sizeof buf)
        return sql_tr_fail(x, v, "bad INTERVAL amount");
    memcpy(buf, v->p, v->n);
    buf[v->n] = 0;
    char *end = NULL;
    double amount = strtod(buf, &end);
    if (*end || amount != amount || amount > 1e12 || amount < -1e12)
        return sql_tr_fail(x, v, "INTERVAL amount '%s' is not a number", buf);
    (void)kw;
    *ms = (int64_t)(amount * (double)unit + (amount < 0 ? -0.5 : 0.5));
    return STROM_OK;
}

/* --------------------------------------------------------------- rewriting */

static strom_err put(strom_buf *o, const char *s, size_t n) { return strom_buf_append(o, s, n); }
static strom_err puts_(strom_buf *o, const char *s) { return put(o, s, strlen(s)); }
static strom_err put_i64(strom_buf *o, int64_t v)
{
    char b[32];
    int n = snprintf(b, sizeof b, "%lld", (long long)v);
    return put(o, b, (size_t)n);
}

static int is_clause_kw(const sql_tok *t)
{
    static const char *const kws[] = {"AS", "ON", "WHERE", "JOIN", "LEFT", "RIGHT", "INNER",
                                      "CROSS", "FULL", "GROUP", "ORDER", "LIMIT", "UNION",
                                      "HAVING", "WINDOW", "EXCEPT", "INTERSECT", "USING",
                                      "NATURAL", NULL};
    for (int k = 0; kws[k]; k++)
        if (sql_tok_is(t, kws[k]))
            return 1;
    return 0;
}

static int ends_operand(const sql_tok *t)
{
    return t->kind == SQL_TK_IDENT || t->kind == SQL_TK_QIDENT || t->kind == SQL_TK_NUMBER ||
           t->kind == SQL_TK_STRING || sql_tok_punct(t, ")");
}

/* Parenthesis nesting of a scan at depth 0: returns 1 when t is inside parentheses (skip
 * it); sets *stop when t is a ')' closing a level the scan did not open. */
static int nest(const sql_tok *t, int *depth, int *stop)
{
    if (sql_tok_punct(t, "(")) {
        ++*depth;
        return 1;
    }
    if (sql_tok_punct(t, ")")) {
        *stop = *depth == 0;
        return *depth > 0 ? (--*depth, 1) : 0;
    }
    return *depth > 0;
}

/* End (exclusive) of the expression starting at s: at depth 0, a clause keyword, ',', ')',
 * ';', the end, or a name right after an operand (an alias without AS). */
static size_t expr_end(const tr *x, size_t s)
{
    int depth = 0, stop = 0;
    size_t i = s;
    for (; i < x->n && x->t[i].kind != SQL_TK_END; i++) {
        const sql_tok *t = &x->t[i];
        if (nest(t, &depth, &stop))
            continue;
        if (stop || sql_tok_punct(t, ",") || sql_tok_punct(t, ";") || is_clause_kw(t))
            break;
        if (sql_tok_is(t, "INTERVAL") && i + 2 < x->n) {
            i += 2;   /* INTERVAL 'n' UNIT: the unit is no alias */
            continue;
        }
        if (i > s && is_name(t) && ends_operand(&x->t[i - 1]) && !sql_tok_is(&x->t[i - 1], "TIMESTAMP"))
            break;
    }
    return i;
}

/* End of an ON condition starting at s. */
static size_t cond_end(const tr *x, size_t s)
{
    static const char *const ends[] = {"JOIN", "LEFT", "RIGHT", "INNER", "CROSS", "FULL",
                                       "WHERE", "GROUP", "ORDER", "LIMIT", "UNION", "HAVING",
                                       "WINDOW", "EXCEPT", "INTERSECT", "NATURAL", NULL};
    int depth = 0, stop = 0;
    size_t i = s;
    for (; i < x->n && x->t[i].kind != SQL_TK_END; i++) {
        const sql_tok *t = &x->t[i];
        if (nest(t, &depth, &stop))
            continue;
        int hit = stop || sql_tok_punct(t, ";") || sql_tok_punct(t, ",");
        for (int k = 0; ends[k] && !hit; k++)
            hit = sql_tok_is(t, ends[k]);
        if (hit)
            break;
    }
    return i;
}


/* The text between tokens a (exclusive end) and b (start): white space and comments. */
static strom_err put_gap(tr *x, size_t a, size_t b, strom_buf *o)
{
    size_t from = x->t[a].at + x->t[a].len, to = x->t[b].at;
    return to > from ? put(o, x->sql + from, to - from) : STROM_OK;
}

/* A token as SQLite text: backquoted identifiers become double-quoted. */
static strom_err put_tok(tr *x, const sql_tok *t, strom_buf *o)
{
    if (t->kind != SQL_TK_QIDENT || t->p[-1] != '`')
        return put(o, x->sql + t->at, t->len);
    strom_err e = puts_(o, "\"");
    for (size_t k = 0; k < t->n && e == STROM_OK; k++) {
        if (t->p[k] == '`' && k + 1 < t->n && t->p[k + 1] == '`')
            k++;
        e = t->p[k] == '"' ? puts_(o, "\"\"") : put(o, &t->p[k], 1);
    }
    return e == STROM_OK ? puts_(o, "\"") : e;
}

/* Start of the table reference that ends just before token i (name or db.name). */
static size_t table_ref_start(const tr *x, size_t i)
{
    size_t s = i - 1;
    if (s >= 2 && sql_tok_punct(&x->t[s - 1], ".") && is_name(&x->t[s - 2]))
        s -= 2;
    return s;
}

/* When the table reference [ts, last] (already written to o) names a view the context
 * sees through, replaces it in o by the view's base table (*viewed = 1). */
static strom_err see_through_view(tr *x, size_t ts, size_t last, strom_buf *o, int *viewed)
{
    *viewed = 0;
    if (!x->ctx->view_base)
        return STROM_OK;
    char name[300], base[300];
    int n = 0;
    for (size_t k = ts; k <= last && n >= 0 && n < (int)sizeof name; k++) {
        char *txt = is_name(&x->t[k]) ? sql_tok_text(&x->t[k]) : NULL;
        n += snprintf(name + n, sizeof name - (size_t)n, "%s", txt ? txt : ".");
        free(txt);
    }
    if (n < 0 || n >= (int)sizeof name)
        return STROM_OK;
    int r = x->ctx->view_base(x->ctx->view_arg, name, base, sizeof base);
    if (r < 0)
        return sql_tr_fail(x, &x->t[ts], "FOR SYSTEM_TIME AS OF on view '%s': only a view of the "
                           "form SELECT * FROM <table> can be read as of a time", name);
    if (r == 0)
        return STROM_OK;
    strom_buf was = {0};
    strom_err e = put_tok(x, &x->t[ts], &was);
    for (size_t k = ts + 1; k <= last && e == STROM_OK; k++) {
        e = put_gap(x, k - 1, k, &was);
        if (e == STROM_OK)
            e = put_tok(x, &x->t[k], &was);
    }
    if (e == STROM_OK)       /* and the gap before FOR, written too */
        e = put_gap(x, last, last + 1, &was);
    if (e == STROM_OK && (was.len > o->len || memcmp(o->data + o->len - was.len, was.data, was.len)))
        e = sql_tr_fail(x, &x->t[ts], "cannot rewrite the view reference '%s'", name);
    size_t drop = was.len;
    strom_buf_free(&was);
    if (e != STROM_OK)
        return e;
    o->len -= drop;
    e = puts_(o, "\"");
    for (const char *p = base; *p && e == STROM_OK; p++)
        e = *p == '"' ? puts_(o, "\"\"") : put(o, p, 1);
    *viewed = 1;
    return e == STROM_OK ? puts_(o, "\" ") : e;
}

/* FOR SYSTEM_TIME AS OF at x->i (tokens [ts, x->i) are the table name, already written). */
static strom_err rewrite_as_of(tr *x, size_t ts, strom_buf *o)
{
    const sql_tok *for_tok = cur(x);
    if (ts == 0 || !is_name(&x->t[x->i - 1]))
        return sql_tr_fail(x, for_tok, "FOR SYSTEM_TIME AS OF must follow a table name");
    int join = ts > 0 && sql_tok_is(&x->t[ts - 1], "JOIN");
    size_t name_last = x->i - 1;
    int viewed = 0;
    strom_err ve = see_through_view(x, ts, name_last, o, &viewed);
    if (ve != STROM_OK)
        return ve;
    x->i += 4;
    size_t es = x->i, ee = expr_end(x, es);
    if (ee == es)
        return sql_tr_fail(x, cur(x), "FOR SYSTEM_TIME AS OF needs a time expression");
    strom_buf ex = {0};
    strom_err e = sql_rewrite_range(x, es, ee, &ex);
    x->i = ee;
    if (e == STROM_OK && !join) {       /* FROM t(e) [AS] a */
        e = puts_(o, "(");
        if (e == STROM_OK)
            e = put(o, (const char *)ex.data, ex.len);
        if (e == STROM_OK)
            e = puts_(o, ")");
        if (e == STROM_OK && viewed && !at_kw(x, "AS") && !(is_name(cur(x)) && !is_clause_kw(cur(x)))) {
            e = puts_(o, " AS ");     /* the view's name stays the alias */
            if (e == STROM_OK)
                e = put_tok(x, &x->t[name_last], o);
        }
    } else if (e == STROM_OK) {         /* JOIN t [AS] a ON a.__version_at = (e) AND (...) */
        size_t alias = name_last;
        int has_as = eat_kw(x, "AS");
        if (is_name(cur(x)) && !sql_tok_is(cur(x), "ON"))
            alias = x->i++;
        else if (has_as)
            e = sql_tr_fail(x, cur(x), "expected an alias after AS");
        if (e == STROM_OK && !at_kw(x, "ON"))
            e = sql_tr_fail(x, cur(x), "a temporal join (FOR SYSTEM_TIME AS OF) needs ON with the "
                        "key equality, e.g. ON a.device_id = d.device_id");
        size_t cs = x->i + 1, ce = e == STROM_OK ? cond_end(x, cs) : cs;
        if (e == STROM_OK) {
            e = puts_(o, "AS ");
            if (e == STROM_OK)
                e = put_tok(x, &x->t[alias], o);
            if (e == STROM_OK)
                e = puts_(o, " ON ");
            if (e == STROM_OK)
                e = put_tok(x, &x->t[alias], o);
            if (e == STROM_OK)
                e = puts_(o, ".\"__version_at\" = (");
            if (e == STROM_OK)
                e = put(o, (const char *)ex.data, ex.len);
            if (e == STROM_OK)
                e = puts_(o, ") AND (");
            if (e == STROM_OK)
                e = sql_rewrite_range(x, cs, ce, o);
            if (e == STROM_OK)
                e = puts_(o, ")");
            x->i = ce;
        }
    }
    strom_buf_free(&ex);
    return e;
}

/* Rewrites the token at x->i (advancing past what it consumed). */
static strom_err rewrite_one(tr *x, size_t range_start, strom_buf *o)
{
    const sql_tok *t = cur(x);
    int64_t v;
    if (sql_window_tvf_at(x))
        return sql_window_tvf(x, o);
    if (sql_window_group_at(x))
        return sql_window_group_from(x, o);
    if (sql_window_fn_at(x))
        return sql_window_fn(x, o);
    if (sql_tok_is(t, "TIMESTAMP") && x->t[x->i + 1].kind == SQL_TK_STRING) {
        const sql_tok *s = &x->t[x->i + 1];
        if (sql_parse_timestamp(s->p, s->n, &v) != STROM_OK)
            return sql_tr_fail(x, s, "%s", strom_errmsg());
        x->i += 2;
        return put_i64(o, v);
    }
    if (sql_tok_is(t, "INTERVAL")) {
        strom_err e = sql_parse_interval(x, &v);
        return e == STROM_OK ? put_i64(o, v) : e;
    }
    if (sql_tok_is(t, "CURRENT_TIMESTAMP") || sql_tok_is(t, "LOCALTIMESTAMP") ||
        (sql_tok_is(t, "NOW") && sql_tok_punct(&x->t[x->i + 1], "(") &&
         sql_tok_punct(&x->t[x->i + 2], ")"))) {
        x->i += sql_tok_is(t, "NOW") ? 3 : 1;
        return put_i64(o, x->ctx->now_ms + x->ctx->tz_ms);
    }
    if (sql_tok_is(t, "FOR") && sql_tok_is(&x->t[x->i + 1], "SYSTEM_TIME")) {
        if (!sql_tok_is(&x->t[x->i + 2], "AS") || !sql_tok_is(&x->t[x->i + 3], "OF"))
            return sql_tr_fail(x, &x->t[x->i + 2], "expected AS OF after FOR SYSTEM_TIME");
        size_t ts = x->i > range_start ? table_ref_start(x, x->i) : 0;
        return rewrite_as_of(x, ts, o);
    }
    x->i++;
    return put_tok(x, t, o);
}

strom_err sql_rewrite_range(tr *x, size_t s, size_t e, strom_buf *o)
{
    size_t save = x->i;
    strom_err err = STROM_OK;
    x->i = s;
    while (err == STROM_OK && x->i < e) {
        if (x->i > s)
            err = put_gap(x, x->i - 1, x->i, o);
        if (err == STROM_OK)
            err = rewrite_one(x, s, o);
    }
    if (err == STROM_OK && x->i > e)
        x->i = e;
    (void)save;
    return err;
}
