/* window.c: windowed aggregates, Flink syntax, executed by SQLite.
 *
 * THE REWRITE (the front end, sql.h). Both of Flink's forms become a join of the source
 * table with the table-valued function strom_window, which gives each row the windows it
 * falls in; SQLite then groups as written:
 *   FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(c), size)) [AS a]
 *   FROM TABLE(HOP(TABLE t, DESCRIPTOR(c), slide, size)) [AS a]
 *   FROM TABLE(CUMULATE(TABLE t, DESCRIPTOR(c), step, max_size)) [AS a]
 *     -> FROM (SELECT __ws.*, __w.window_start, __w.window_end, __w.window_time
 *              FROM t AS __ws, strom_window(size, slide, __ws."c", cumulate) AS __w) [AS a]
 *        (CUMULATE: size = max_size, slide = step, cumulate = 1; else 0)
 *   legacy group window: SELECT ... FROM t [AS a] ... GROUP BY TUMBLE(c, size), k
 *     (or HOP(c, slide, size)): FROM t becomes the same subquery (aliased a, else t), the
 *     GROUP BY item becomes window_start, window_end, and TUMBLE_START(...) / HOP_START,
 *     TUMBLE_END / HOP_END, TUMBLE_ROWTIME / HOP_ROWTIME become window_start, window_end,
 *     window_time.
 * size and slide must be constant INTERVALs (ms), size a multiple of slide. Windows are
 * aligned to 1970-01-01 00:00 (Flink's default offset 0): [k slide, k slide + size); a
 * CUMULATE's windows all start at a multiple of max_size and grow by a step up to it:
 * [k max_size, k max_size + j step) for j = 1 .. max_size / step (Flink's).
 * In streaming mode (sql_ctx.window_rows) the subquery reads the rows of open windows
 * (wstream.c) instead of t.
 *
 * THE FUNCTION strom_window(size, slide, ts[, cumulate]): one row per window holding ts,
 * in start (CUMULATE: end) order, columns window_start, window_end, window_time (= window_end - 1 ms), declared
 * TIMESTAMP (so they print as times); only windows whose end is in (ctx->win_lo,
 * ctx->win_hi] (streaming: the windows being closed; else every window).
 */
#include "engine.h"
#include "sql_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ the rewrite */

static strom_err put_s(strom_buf *o, const char *s) { return strom_buf_append(o, s, strlen(s)); }

/* Index of the ')' matching the '(' at i (or the END token). */
static size_t close_of(const tr *x, size_t i)
{
    int depth = 0;
    for (; i < x->n && x->t[i].kind != SQL_TK_END; i++) {
        depth += sql_tok_punct(&x->t[i], "(") - sql_tok_punct(&x->t[i], ")");
        if (depth == 0)
            return i;
    }
    return x->n - 1;
}

/* A constant INTERVAL at x->i -> *ms > 0 (what names the argument in errors). */
static strom_err window_interval(tr *x, const char *fn, const char *what, int64_t *ms)
{
    const sql_tok *t = cur(x);
    if (!sql_tok_is(t, "INTERVAL"))
        return sql_tr_fail(x, t, "%s: the window %s must be a constant INTERVAL, e.g. INTERVAL '1' MINUTE",
                           fn, what);
    strom_err e = sql_parse_interval(x, ms);
    if (e == STROM_OK && *ms <= 0)
        e = sql_tr_fail(x, t, "%s: the window %s must be positive", fn, what);
    return e;
}

/* The size (and for HOP the slide, for CUMULATE the step, first) at x->i; checks that
 * size is a multiple of slide. */
static strom_err window_sizes(tr *x, int hop, const char *fn, sql_window *w)
{
    const sql_tok *at = cur(x);
    const char *slide = w->cumulate ? "step" : "slide", *size = w->cumulate ? "max size" : "size";
    strom_err e = window_interval(x, fn, hop ? slide : "size", hop ? &w->slide : &w->size);
    if (e == STROM_OK && hop && !(e = sql_expect_p(x, ",")))
        at = cur(x), e = window_interval(x, fn, size, &w->size);
    if (e == STROM_OK && !hop)
        w->slide = w->size;
    if (e == STROM_OK && w->size % w->slide)
        e = sql_tr_fail(x, at, "%s: the window %s (%lld ms) must be a multiple of the %s (%lld ms)", fn, size,
                        (long long)w->size, slide, (long long)w->slide);
    return e;
}

static strom_err set_name(char *dst, size_t cap, const sql_tok *t)
{
    char *s = sql_tok_text(t);
    if (!s)
        return STROM_ENOMEM;
    snprintf(dst, cap, "%s", s);
    free(s);
    return STROM_OK;
}

/* The windowed subquery of table token tab with w's sizes and time column. */
static strom_err put_windowed(tr *x, const sql_window *w, strom_buf *o)
{
    char *q = sqlite3_mprintf("(SELECT __ws.*, __w.window_start, __w.window_end, __w.window_time FROM \"%w\" "
                              "AS __ws, strom_window(%lld, %lld, __ws.\"%w\", %d) AS __w)",
                              x->ctx->window_rows ? x->ctx->window_rows : w->table, (long long)w->size,
                              (long long)w->slide, w->col, w->cumulate);
    strom_err e = q ? put_s(o, q) : STROM_ENOMEM;
    sqlite3_free(q);
    return e;
}

/* Records w as the statement's window (the first one). */
static void keep_window(tr *x, const sql_window *w)
{
    if (x->win && x->win->size == 0)
        *x->win = *w;
    if (x->win)
        x->win->count++;
}

int sql_window_tvf_at(const tr *x)
{
    const sql_tok *t = cur(x);
    return sql_tok_is(t, "TABLE") && sql_tok_punct(t + 1, "(") &&
           (sql_tok_is(t + 2, "TUMBLE") || sql_tok_is(t + 2, "HOP") || sql_tok_is(t + 2, "CUMULATE")) &&
           sql_tok_punct(t + 3, "(");
}

strom_err sql_window_tvf(tr *x, strom_buf *o)
{
    size_t outer_close = close_of(x, x->i + 1);
    x->i += 2;
    sql_window w = {.cumulate = sql_tok_is(cur(x), "CUMULATE")};
    int hop = w.cumulate || sql_tok_is(cur(x), "HOP");     /* two INTERVALs */
    const char *fn = w.cumulate ? "CUMULATE" : hop ? "HOP" : "TUMBLE";
    x->i += 2;
    strom_err e = sql_expect_kw(x, "TABLE");
    const sql_tok *tab = cur(x);
    if (e == STROM_OK && !is_name(tab))
        e = sql_tr_fail(x, tab, "%s: expected TABLE <name> as the first argument", fn);
    if (e == STROM_OK)
        e = set_name(w.table, sizeof w.table, tab);
    x->i += e == STROM_OK;
    if (e == STROM_OK)
        e = sql_expect_p(x, ",");
    if (e == STROM_OK && !at_kw(x, "DESCRIPTOR"))
        e = sql_tr_fail(x, cur(x), "%s: the window needs its time column: DESCRIPTOR(event_time)", fn);
    x->i += e == STROM_OK;
    if (e == STROM_OK)
        e = sql_expect_p(x, "(");
    if (e == STROM_OK && !is_name(cur(x)))
        e = sql_tr_fail(x, cur(x), "%s: DESCRIPTOR needs the name of the time column", fn);
    if (e == STROM_OK)
        e = set_name(w.col, sizeof w.col, cur(x));
    x->i += e == STROM_OK;
    if (e == STROM_OK)
        e = sql_expect_p(x, ")");
    if (e == STROM_OK)
        e = sql_expect_p(x, ",");
    if (e == STROM_OK)
        e = window_sizes(x, hop, fn, &w);
    if (e == STROM_OK && !(e = sql_expect_p(x, ")")) && x->i != outer_close)
        e = sql_tr_fail(x, cur(x), "expected ')' closing TABLE(%s(...))", fn);
    if (e != STROM_OK)
        return e;
    x->i = outer_close + 1;
    keep_window(x, &w);
    return put_windowed(x, &w, o);
}

/* ------------------------------------------------------ legacy group window */

static int is_level_end(const sql_tok *t)
{
    return t->kind == SQL_TK_END || sql_tok_punct(t, ";") || sql_tok_is(t, "UNION") ||
           sql_tok_is(t, "EXCEPT") || sql_tok_is(t, "INTERSECT");
}

/* From FROM at x->i: the GROUP BY TUMBLE(/HOP( of this SELECT level, or 0. */
static size_t group_window_at(const tr *x)
{
    int depth = 0, in_group = 0;
    for (size_t i = x->i + 1; i + 1 < x->n; i++) {
        const sql_tok *t = &x->t[i];
        if (sql_tok_punct(t, "("))
            depth++;
        else if (sql_tok_punct(t, ")") && --depth < 0)
            return 0;
        else if (depth == 0 && is_level_end(t))
            return 0;
        else if (depth == 0 && sql_tok_is(t, "GROUP") && sql_tok_is(t + 1, "BY"))
            in_group = 1;
        else if (depth == 0 && in_group && (sql_tok_is(t, "HAVING") || sql_tok_is(t, "ORDER") ||
                                            sql_tok_is(t, "LIMIT") || sql_tok_is(t, "WINDOW")))
            return 0;
        else if (depth == 0 && in_group && (sql_tok_is(t, "TUMBLE") || sql_tok_is(t, "HOP")) &&
                 sql_tok_punct(t + 1, "("))
            return i;
    }
    return 0;
}

int sql_window_group_at(const tr *x) { return sql_tok_is(cur(x), "FROM") && group_window_at(x) > 0; }

/* TUMBLE(c, size) / HOP(c, slide, size) at index at -> w (time column and sizes). */
static strom_err group_window_args(tr *x, size_t at, sql_window *w)
{
    size_t save = x->i;
    x->i = at;
    int hop = sql_tok_is(cur(x), "HOP");
    const char *fn = hop ? "HOP" : "TUMBLE";
    x->i += 2;
    strom_err e = STROM_OK;
    if (is_name(cur(x)) && sql_tok_punct(cur(x) + 1, ".") && is_name(cur(x) + 2))
        x->i += 2;                           /* alias.column */
    if (!is_name(cur(x)) || !sql_tok_punct(cur(x) + 1, ","))
        e = sql_tr_fail(x, cur(x), "%s: the group window needs its time column first, e.g. %s(event_time, %s"
                        "INTERVAL '1' MINUTE)", fn, fn, hop ? "INTERVAL '30' SECOND, " : "");
    if (e == STROM_OK)
        e = set_name(w->col, sizeof w->col, cur(x));
    x->i += 2;
    if (e == STROM_OK)
        e = window_sizes(x, hop, fn, w);
    if (e == STROM_OK && !at_p(x, ")"))
        e = sql_tr_fail(x, cur(x), "expected ')' closing %s(...)", fn);
    x->i = save;
    return e;
}

strom_err sql_window_group_from(tr *x, strom_buf *o)
{
    sql_window w = {0};
    strom_err e = group_window_args(x, group_window_at(x), &w);
    if (e != STROM_OK)
        return e;
    x->i++;                                  /* FROM */
    const sql_tok *tab = cur(x);
    if (!is_name(tab) || sql_tok_punct(tab + 1, ".") || sql_tok_punct(tab + 1, "("))
        return sql_tr_fail(x, tab, "a group window (GROUP BY TUMBLE/HOP) reads one table, named after FROM");
    if ((e = set_name(w.table, sizeof w.table, tab)) != STROM_OK)
        return e;
    x->i++;
    static const char *const joins[] = {"JOIN", "LEFT", "RIGHT", "INNER", "CROSS", "FULL", "NATURAL", NULL};
    int join = at_p(x, ",");
    for (int k = 0; joins[k]; k++)
        join |= at_kw(x, joins[k]);
    const sql_tok *alias = tab;
    if (!join && (eat_kw(x, "AS") || (is_name(cur(x)) && !at_kw(x, "WHERE") && !at_kw(x, "GROUP"))))
        alias = cur(x), x->i++;
    for (int k = 0; joins[k]; k++)
        join |= at_kw(x, joins[k]);
    if (join || at_p(x, ","))
        return sql_tr_fail(x, cur(x), "a group window (GROUP BY TUMBLE/HOP) reads one table: no joins");
    keep_window(x, &w);
    e = put_s(o, "FROM ");
    if (e == STROM_OK)
        e = put_windowed(x, &w, o);
    char *name = sql_tok_text(alias);
    char *q = name ? sqlite3_mprintf(" AS \"%w\"", name) : NULL;
    if (e == STROM_OK)
        e = q ? put_s(o, q) : STROM_ENOMEM;
    sqlite3_free(q);
    free(name);
    return e;
}

/* TUMBLE( / HOP( (the group item) and the _START / _END / _ROWTIME functions. */
int sql_window_fn_at(const tr *x)
{
    static const char *const fns[] = {"TUMBLE", "HOP", "TUMBLE_START", "HOP_START", "TUMBLE_END", "HOP_END",
                                      "TUMBLE_ROWTIME", "HOP_ROWTIME", NULL};
    for (int k = 0; fns[k]; k++)
        if (sql_tok_is(cur(x), fns[k]) && sql_tok_punct(cur(x) + 1, "("))
            return 1;
    return 0;
}

strom_err sql_window_fn(tr *x, strom_buf *o)
{
    const sql_tok *t = cur(x);           /* (the FROM rewrite checks the group window) */
    const char *repl = sql_tok_is(t, "TUMBLE") || sql_tok_is(t, "HOP")             ? "window_start, window_end"
                       : sql_tok_is(t, "TUMBLE_START") || sql_tok_is(t, "HOP_START") ? "window_start"
                       : sql_tok_is(t, "TUMBLE_END") || sql_tok_is(t, "HOP_END")     ? "window_end"
                                                                                      : "window_time";
    x->i = close_of(x, x->i + 1) + 1;
    return put_s(o, repl);
}

/* ----------------------------------------- strom_window(size, slide, ts[, cumulate]) */

/* The windows of one ts, as (start, end) advanced by (dstart, dend) until end > last_end:
 * HOP / TUMBLE dstart = dend = slide; CUMULATE start fixed, dend = step. */
typedef struct wcur {
    sqlite3_vtab_cursor base;
    int64_t start, end, dstart, dend, last_end, size, slide, rowid;
} wcur;

enum { W_START, W_END, W_TIME, W_SIZE, W_SLIDE, W_TS, W_CUM };

int sql_ctx_vtab_make(sqlite3 *db, const char *decl, sql_vctx *ctx, sqlite3_vtab **out, char **err)
{
    if (!decl) {
        *err = sqlite3_mprintf("this virtual table is made by a streaming window only");
        return SQLITE_ERROR;
    }
    int rc = sqlite3_declare_vtab(db, decl);
    sql_ctx_vtab *v = rc == SQLITE_OK ? sqlite3_malloc(sizeof *v) : NULL;
    if (!v)
        return rc == SQLITE_OK ? SQLITE_NOMEM : rc;
    memset(v, 0, sizeof *v);
    v->ctx = ctx;
    *out = &v->base;
    return SQLITE_OK;
}

int sql_ctx_vtab_free(sqlite3_vtab *v)
{
    sqlite3_free(v);
    return SQLITE_OK;
}

int sql_cursor_alloc(size_t size, sqlite3_vtab_cursor **out)
{
    sqlite3_vtab_cursor *c = sqlite3_malloc((int)size);
    if (!c)
        return SQLITE_NOMEM;
    memset(c, 0, size);
    *out = c;
    return SQLITE_OK;
}

static int w_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **err)
{
    (void)argc, (void)argv;
    return sql_ctx_vtab_make(db, "CREATE TABLE x(window_start TIMESTAMP, window_end TIMESTAMP, window_time "
                                 "TIMESTAMP, size HIDDEN, slide HIDDEN, ts HIDDEN, cumulate HIDDEN)", aux, out, err);
}

/* size, slide and ts must be given (equal constraints): the function's arguments;
 * cumulate may be. */
static int w_best_index(sqlite3_vtab *base, sqlite3_index_info *ii)
{
    (void)base;
    int have = 0;
    for (int i = 0; i < ii->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &ii->aConstraint[i];
        if (c->iColumn < W_SIZE || c->op != SQLITE_INDEX_CONSTRAINT_EQ)
            continue;
        if (!c->usable)
            return SQLITE_CONSTRAINT;
        ii->aConstraintUsage[i].argvIndex = c->iColumn - W_SIZE + 1;
        ii->aConstraintUsage[i].omit = 1;
        have |= 1 << (c->iColumn - W_SIZE);
    }
    if ((have & 7) != 7)
        return SQLITE_CONSTRAINT;
    ii->estimatedCost = 1;
    ii->estimatedRows = 2;
    return SQLITE_OK;
}

static int w_open(sqlite3_vtab *base, sqlite3_vtab_cursor **out)
{
    (void)base;
    return sql_cursor_alloc(sizeof(wcur), out);
}

static int w_close(sqlite3_vtab_cursor *c)
{
    sqlite3_free(c);
    return SQLITE_OK;
}

int64_t sql_floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

/* Skips windows whose end is outside (win_lo, win_hi]. */
static void w_skip(wcur *c, const sql_vctx *x)
{
    while (c->end <= c->last_end && c->end <= x->win_lo)
        c->start += c->dstart, c->end += c->dend;
    if (c->end <= c->last_end && c->end > x->win_hi)
        c->end = c->last_end + 1;
}

static int w_filter(sqlite3_vtab_cursor *base, int idx, const char *s, int argc, sqlite3_value **argv)
{
    (void)idx, (void)s;
    wcur *c = (wcur *)base;
    c->end = 1, c->last_end = 0;                    /* empty */
    if (argc < 3 || sqlite3_value_type(argv[2]) != SQLITE_INTEGER)
        return SQLITE_OK;                           /* a NULL time is in no window */
    c->size = sqlite3_value_int64(argv[0]);
    c->slide = sqlite3_value_int64(argv[1]);
    if (c->slide <= 0 || c->size <= 0 || c->size > INT64_MAX / 8 || c->size % c->slide)
        return SQLITE_OK;
    int64_t ts = sqlite3_value_int64(argv[2]);
    if (ts > INT64_MAX / 2 - c->size || ts < INT64_MIN / 2 + c->size)
        return SQLITE_OK;                           /* no window ends before overflowing */
    int64_t last = sql_floor_div(ts, c->slide) * c->slide;   /* the start of the last window */
    if (argc > 3 && sqlite3_value_int64(argv[3])) {        /* CUMULATE: one start, growing ends */
        c->start = sql_floor_div(ts, c->size) * c->size;
        c->end = last + c->slide;
        c->last_end = c->start + c->size;
        c->dstart = 0;
    } else {
        c->start = last - (c->size / c->slide - 1) * c->slide;
        c->end = c->start + c->size;
        c->last_end = last + c->size;
        c->dstart = c->slide;
    }
    c->dend = c->slide;
    w_skip(c, ((sql_ctx_vtab *)base->pVtab)->ctx);
    return SQLITE_OK;
}

static int w_next(sqlite3_vtab_cursor *base)
{
    wcur *c = (wcur *)base;
    c->start += c->dstart;
    c->end += c->dend;
    c->rowid++;
    w_skip(c, ((sql_ctx_vtab *)base->pVtab)->ctx);
    return SQLITE_OK;
}

static int w_eof(sqlite3_vtab_cursor *base) { return ((wcur *)base)->end > ((wcur *)base)->last_end; }

static int w_column(sqlite3_vtab_cursor *base, sqlite3_context *ctx, int i)
{
    wcur *c = (wcur *)base;
    int64_t v[] = {c->start, c->end, c->end - 1, c->size, c->slide, 0, c->dstart == 0};
    sqlite3_result_int64(ctx, v[i >= 0 && i < 7 ? i : 5]);
    return SQLITE_OK;
}

static int w_rowid(sqlite3_vtab_cursor *base, sqlite3_int64 *out)
{
    *out = ((wcur *)base)->rowid;
    return SQLITE_OK;
}

static const sqlite3_module window_module = {
    .iVersion = 1,
    .xConnect = w_connect,
    .xBestIndex = w_best_index,
    .xDisconnect = sql_ctx_vtab_free,
    .xOpen = w_open,
    .xClose = w_close,
    .xFilter = w_filter,
    .xNext = w_next,
    .xEof = w_eof,
    .xColumn = w_column,
    .xRowid = w_rowid,
};

strom_err sql_window_register(sqlite3 *db, sql_vctx *ctx)
{
    ctx->win_lo = INT64_MIN;
    ctx->win_hi = INT64_MAX;
    int rc = sqlite3_create_module(db, "strom_window", &window_module, ctx);
    return rc == SQLITE_OK ? STROM_OK
                           : strom_fail(STROM_EINVAL, "sqlite3_create_module: %s", sqlite3_errmsg(db));
}
