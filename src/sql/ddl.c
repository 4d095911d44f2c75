/* ddl.c: sql_translate: classifies a statement and parses the catalog statements
 * (CREATE TABLE / VIEW, DROP, SHOW TABLES, DESCRIBE, SET); queries are rewritten by
 * dialect.c. */
#include "sql_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Column type at x->i: a name with optional (args), or DOUBLE PRECISION. */
static strom_err parse_type(tr *x, strom_type *out)
{
    const sql_tok *t = cur(x);
    if (t->kind != SQL_TK_IDENT)
        return sql_tr_fail(x, t, "expected a column type");
    char buf[96];
    if (t->n >= 48)
        return sql_tr_fail(x, t, "unknown column type '%.*s...'", 32, t->p);
    int n = snprintf(buf, sizeof buf, "%.*s", (int)t->n, t->p);
    x->i++;
    if (sql_tok_is(t, "DOUBLE"))
        eat_kw(x, "PRECISION");
    if (at_p(x, "(")) {
        size_t s = x->i;
        while (!at_p(x, ")") && cur(x)->kind != SQL_TK_END)
            x->i++;
        if (!eat_p(x, ")"))
            return sql_tr_fail(x, cur(x), "expected ')' closing the type arguments");
        size_t len = x->t[x->i - 1].at + 1 - x->t[s].at;
        if (len + (size_t)n >= sizeof buf)
            return sql_tr_fail(x, t, "unknown column type '%.*s(...)'", n, buf);
        n += snprintf(buf + n, sizeof buf - (size_t)n, "%.*s", (int)len, x->sql + x->t[s].at);
    }
    static const struct { const char *name; strom_type t; } alias[] = {
        {"INTEGER", STROM_INT}, {"SMALLINT", STROM_INT}, {"TINYINT", STROM_INT},
        {"REAL", STROM_FLOAT}, {"CHAR", STROM_STRING}, {"VARBINARY", STROM_BYTES},
        {"BINARY", STROM_BYTES}, {"TIMESTAMP_LTZ", STROM_TIMESTAMP}};
    strom_type ty = strom_type_parse(buf);
    for (size_t k = 0; !ty && k < sizeof alias / sizeof alias[0]; k++)
        ty = sql_tok_is(t, alias[k].name) ? alias[k].t : 0;
    if (!ty)
        return sql_tr_fail(x, t, "unknown column type '%s' (known: STRING, VARCHAR(n), BOOLEAN, INT, "
                       "BIGINT, FLOAT, DOUBLE, BYTES, TIMESTAMP, TIMESTAMP(3))", buf);
    *out = ty;
    return STROM_OK;
}

static strom_err add_pk(tr *x, sql_stmt *s, const sql_tok *at, char *name)
{
    if (!name)
        return STROM_ENOMEM;
    if (s->npk >= 8) {
        free(name);
        return sql_tr_fail(x, at, "a primary key has at most 8 columns");
    }
    char **v = strom_realloc(s->pk, (size_t)(s->npk + 1) * sizeof *v);
    if (!v) {
        free(name);
        return STROM_ENOMEM;
    }
    s->pk = v;
    s->pk[s->npk++] = name;
    return STROM_OK;
}

/* PRIMARY KEY (a, b) [NOT ENFORCED] at x->i (after PRIMARY KEY). */
static strom_err parse_pk_list(tr *x, sql_stmt *s, const sql_tok *at)
{
    if (s->npk)
        return sql_tr_fail(x, at, "the primary key is declared twice");
    strom_err e = sql_expect_p(x, "(");
    while (e == STROM_OK) {
        if (!is_name(cur(x)))
            return sql_tr_fail(x, cur(x), "expected a column name in the primary key");
        e = add_pk(x, s, cur(x), sql_tok_text(cur(x)));
        x->i++;
        if (e == STROM_OK && !eat_p(x, ","))
            break;
    }
    if (e == STROM_OK)
        e = sql_expect_p(x, ")");
    if (e == STROM_OK && eat_kw(x, "NOT"))
        e = sql_expect_kw(x, "ENFORCED");
    return e;
}

/* WATERMARK FOR col AS col [- INTERVAL ...] */
static strom_err parse_watermark(tr *x, sql_stmt *s)
{
    strom_err e = sql_expect_kw(x, "FOR");
    const sql_tok *c = cur(x);
    if (e == STROM_OK && !is_name(c))
        return sql_tr_fail(x, c, "expected the time column after WATERMARK FOR");
    if (e != STROM_OK)
        return e;
    x->i++;
    e = sql_expect_kw(x, "AS");
    const sql_tok *c2 = cur(x);
    if (e == STROM_OK && (!is_name(c2) || c2->n != c->n || memcmp(c2->p, c->p, c->n)))
        return sql_tr_fail(x, c2, "the watermark must be '%.*s' or '%.*s - INTERVAL ...'", (int)c->n,
                       c->p, (int)c->n, c->p);
    if (e != STROM_OK)
        return e;
    x->i++;
    if (eat_p(x, "-")) {
        if (!at_kw(x, "INTERVAL"))
            return sql_tr_fail(x, cur(x), "expected INTERVAL in the watermark delay");
        e = sql_parse_interval(x, &s->watermark_delay_ms);
    }
    s->time_col = sql_tok_text(c);
    return e == STROM_OK && !s->time_col ? STROM_ENOMEM : e;
}

static strom_err add_col(tr *x, sql_stmt *s, const sql_tok *name)
{
    if (s->ncols >= SQL_MAX_COLS)
        return sql_tr_fail(x, name, "more than %d columns", SQL_MAX_COLS);
    sql_col *v = strom_realloc(s->cols, (size_t)(s->ncols + 1) * sizeof *v);
    if (!v)
        return STROM_ENOMEM;
    s->cols = v;
    sql_col *c = &s->cols[s->ncols];
    *c = (sql_col){.name = sql_tok_text(name)};
    if (!c->name)
        return STROM_ENOMEM;
    s->ncols++;
    strom_err e = parse_type(x, &c->type);
    for (int more = 1; e == STROM_OK && more;) {
        const sql_tok *at = cur(x);
        if (eat_kw(x, "NOT")) {
            e = sql_expect_kw(x, "NULL");
            c->not_null = 1;
        } else if (eat_kw(x, "NULL")) {
        } else if (eat_kw(x, "PRIMARY")) {
            e = sql_expect_kw(x, "KEY");
            if (e == STROM_OK && s->npk)
                e = sql_tr_fail(x, at, "the primary key is declared twice");
            if (e == STROM_OK)
                e = add_pk(x, s, at, strdup(c->name));
            if (e == STROM_OK && eat_kw(x, "NOT"))
                e = sql_expect_kw(x, "ENFORCED");
        } else if (eat_kw(x, "COMMENT")) {
            e = cur(x)->kind == SQL_TK_STRING ? (x->i++, STROM_OK)
                                              : sql_tr_fail(x, cur(x), "expected a string after COMMENT");
        } else {
            more = 0;
        }
    }
    return e;
}

static strom_err add_opt(tr *x, sql_stmt *s, const sql_tok *k, const sql_tok *v)
{
    char *key = sql_tok_text(k), *val = sql_tok_text(v);
    if (!key || !val || !strcmp(key, "connector") || !strcmp(key, "bootstrap.servers")) {
        free(key);
        free(val);
        return key && val ? STROM_OK : STROM_ENOMEM;
    }
    for (int i = 0; i < s->nopts; i++)
        if (!strcmp(s->opts[2 * i], key)) {
            free(key);
            free(val);
            return sql_tr_fail(x, k, "option '%s' is given twice", s->opts[2 * i]);
        }
    char **o = s->nopts < SQL_MAX_OPTS ? strom_realloc(s->opts, (size_t)(2 * s->nopts + 3) * sizeof *o) : NULL;
    if (!o) {
        free(key);
        free(val);
        return s->nopts < SQL_MAX_OPTS ? STROM_ENOMEM : sql_tr_fail(x, k, "too many options");
    }
    s->opts = o;
    o[2 * s->nopts] = key;
    o[2 * s->nopts + 1] = val;
    s->nopts++;
    o[2 * s->nopts] = NULL;
    return STROM_OK;
}

/* WITH ('k' = 'v', ...) */
static strom_err parse_with(tr *x, sql_stmt *s)
{
    strom_err e = sql_expect_p(x, "(");
    while (e == STROM_OK && !at_p(x, ")")) {
        const sql_tok *k = cur(x), *v;
        if (k->kind != SQL_TK_STRING)
            return sql_tr_fail(x, k, "expected a quoted option name, e.g. 'bucket.num' = '4'");
        x->i++;
        e = sql_expect_p(x, "=");
        v = cur(x);
        if (e == STROM_OK && v->kind != SQL_TK_STRING && v->kind != SQL_TK_NUMBER)
            return sql_tr_fail(x, v, "expected a quoted value for option '%.*s'", (int)k->n, k->p);
        if (e == STROM_OK) {
            x->i++;
            e = add_opt(x, s, k, v);
        }
        if (e == STROM_OK && !eat_p(x, ","))
            break;
    }
    return e == STROM_OK ? sql_expect_p(x, ")") : e;
}

/* [IF NOT EXISTS] */
static strom_err parse_if_not_exists(tr *x, sql_stmt *s)
{
    if (!eat_kw(x, "IF"))
        return STROM_OK;
    strom_err e = sql_expect_kw(x, "NOT");
    if (e == STROM_OK)
        e = sql_expect_kw(x, "EXISTS");
    s->if_not_exists = e == STROM_OK;
    return e;
}

static strom_err parse_create_table(tr *x, sql_stmt *s)
{
    s->kind = SQL_CREATE_TABLE;
    strom_err e = parse_if_not_exists(x, s);
    if (e == STROM_OK)
        e = sql_parse_name(x, "table", &s->name);
    if (e == STROM_OK)
        e = sql_expect_p(x, "(");
    while (e == STROM_OK) {
        const sql_tok *t = cur(x);
        if (eat_kw(x, "PRIMARY")) {
            e = sql_expect_kw(x, "KEY");
            if (e == STROM_OK)
                e = parse_pk_list(x, s, t);
        } else if (eat_kw(x, "CONSTRAINT")) {
            x->i += is_name(cur(x));
            const sql_tok *p = cur(x);
            e = sql_expect_kw(x, "PRIMARY");
            if (e == STROM_OK)
                e = sql_expect_kw(x, "KEY");
            if (e == STROM_OK)
                e = parse_pk_list(x, s, p);
        } else if (eat_kw(x, "WATERMARK")) {
            e = parse_watermark(x, s);
        } else if (is_name(t)) {
            x->i++;
            e = add_col(x, s, t);
        } else {
            e = sql_tr_fail(x, t, "expected a column definition");
        }
        if (e == STROM_OK && !eat_p(x, ","))
            break;
    }
    if (e == STROM_OK)
        e = sql_expect_p(x, ")");
    if (e == STROM_OK && eat_kw(x, "WITH"))
        e = parse_with(x, s);
    return e;
}

static strom_err parse_drop(tr *x, sql_stmt *s)
{
    s->kind = eat_kw(x, "VIEW") ? SQL_DROP_VIEW : SQL_DROP_TABLE;
    strom_err e = s->kind == SQL_DROP_TABLE ? sql_expect_kw(x, "TABLE") : STROM_OK;
    if (e == STROM_OK && eat_kw(x, "IF")) {
        e = sql_expect_kw(x, "EXISTS");
        s->if_exists = 1;
    }
    return e == STROM_OK ? sql_parse_name(x, s->kind == SQL_DROP_VIEW ? "view" : "table", &s->name) : e;
}

static strom_err parse_set(tr *x, sql_stmt *s)
{
    s->kind = SQL_SET;
    const sql_tok *k = cur(x);
    if (k->kind != SQL_TK_STRING && !is_name(k))
        return sql_tr_fail(x, k, "expected SET 'key' = 'value'");
    x->i++;
    strom_err e = sql_expect_p(x, "=");
    const sql_tok *v = cur(x);
    if (e == STROM_OK && v->kind != SQL_TK_STRING && v->kind != SQL_TK_NUMBER && !is_name(v))
        return sql_tr_fail(x, v, "expected a value in SET 'key' = 'value'");
    if (e != STROM_OK)
        return e;
    x->i++;
    s->name = sql_tok_text(k);
    s->value = sql_tok_text(v);
    return s->name && s->value ? STROM_OK : STROM_ENOMEM;
}

static strom_err parse_create_view(tr *x, sql_stmt *s)
{
    s->kind = SQL_CREATE_VIEW;
    strom_err e = parse_if_not_exists(x, s);
    if (e == STROM_OK)
        e = sql_parse_name(x, "view", &s->name);
    if (e == STROM_OK)
        e = sql_expect_kw(x, "AS");
    size_t b = x->i, end = b;
    while (x->t[end].kind != SQL_TK_END && !sql_tok_punct(&x->t[end], ";"))
        end++;
    if (e == STROM_OK && end == b)
        e = sql_tr_fail(x, cur(x), "expected the view's SELECT after AS");
    strom_buf o = {0};
    if (e == STROM_OK)
        e = sql_rewrite_range(x, b, end, &o);
    if (e == STROM_OK)
        e = strom_buf_append(&o, "", 1);
    if (e == STROM_OK) {
        s->sqlite = (char *)o.data;
        x->i = end;
    } else {
        strom_buf_free(&o);
    }
    return e;
}

static strom_err parse_query(tr *x, sql_stmt *s)
{
    s->kind = SQL_QUERY;
    size_t end = x->n - 1;
    if (end > 0 && sql_tok_punct(&x->t[end - 1], ";"))
        end--;
    strom_buf o = {0};
    strom_err e = sql_rewrite_range(x, 0, end, &o);
    if (e == STROM_OK)
        e = strom_buf_append(&o, "", 1);
    if (e != STROM_OK) {
        strom_buf_free(&o);
        return e;
    }
    s->sqlite = (char *)o.data;
    x->i = end;
    return STROM_OK;
}

static strom_err parse_stmt(tr *x, sql_stmt *s)
{
    if (eat_kw(x, "CREATE")) {
        eat_kw(x, "TEMPORARY");
        if (eat_kw(x, "TABLE"))
            return parse_create_table(x, s);
        if (eat_kw(x, "VIEW"))
            return parse_create_view(x, s);
        return sql_tr_fail(x, cur(x), "expected TABLE or VIEW after CREATE");
    }
    if (eat_kw(x, "DROP"))
        return parse_drop(x, s);
    if (eat_kw(x, "SET"))
        return parse_set(x, s);
    if (eat_kw(x, "SHOW")) {
        s->kind = eat_kw(x, "JOBS") ? SQL_SHOW_JOBS : SQL_SHOW_TABLES;
        return s->kind == SQL_SHOW_JOBS ? STROM_OK : sql_expect_kw(x, "TABLES");
    }
    if (eat_kw(x, "STOP")) {
        s->kind = SQL_STOP_JOB;
        strom_err e = sql_expect_kw(x, "JOB");
        if (e == STROM_OK && cur(x)->kind != SQL_TK_STRING && !is_name(cur(x)))
            e = sql_tr_fail(x, cur(x), "expected STOP JOB 'id'");
        if (e == STROM_OK && !(s->name = sql_tok_text(cur(x))))
            e = STROM_ENOMEM;
        x->i += e == STROM_OK;
        return e;
    }
    if (eat_kw(x, "DESCRIBE") || eat_kw(x, "DESC")) {
        s->kind = SQL_DESCRIBE;
        return sql_parse_name(x, "table", &s->name);
    }
    return parse_query(x, s);
}

strom_err sql_translate(const char *sql, size_t len, const sql_ctx *ctx, sql_stmt *out)
{
    memset(out, 0, sizeof *out);
    sql_set_error_at(-1);
    tr x = {.sql = sql, .len = len, .ctx = ctx, .win = &out->win};
    strom_err e = sql_lex(sql, len, &x.t, &x.n);
    if (e != STROM_OK)
        return e;
    if (x.t[0].kind == SQL_TK_END)
        e = sql_tr_fail(&x, &x.t[0], "empty statement");
    if (e == STROM_OK)
        e = parse_stmt(&x, out);
    eat_p(&x, ";");
    if (e == STROM_OK && cur(&x)->kind != SQL_TK_END)
        e = sql_tr_fail(&x, cur(&x), "unexpected '%.*s' after the end of the statement",
                    (int)cur(&x)->len, x.sql + cur(&x)->at);
    free(x.t);
    if (e != STROM_OK)
        sql_stmt_free(out);
    return e;
}

void sql_stmt_free(sql_stmt *s)
{
    for (int i = 0; i < s->ncols; i++)
        free(s->cols[i].name);
    for (int i = 0; i < s->npk; i++)
        free(s->pk[i]);
    for (int i = 0; i < 2 * s->nopts; i++)
        free(s->opts[i]);
    free(s->cols);
    free(s->pk);
    free(s->opts);
    free(s->name);
    free(s->value);
    free(s->time_col);
    free(s->sqlite);
    memset(s, 0, sizeof *s);
}
