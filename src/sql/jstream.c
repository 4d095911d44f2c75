/* jstream.c: a join of two streams (an interval join) in streaming mode. SQLite still does
 * the joining; this file only decides which rows are held and which are joined when.
 *
 * THE STATEMENT. `... FROM t0 [AS] a [INNER | LEFT | RIGHT | FULL [OUTER]] JOIN t1 [AS] b
 * ON <cond> ...` where t0 and t1
 * are log tables with a time column (WATERMARK FOR / 'table.time-column'), and <cond> is a
 * conjunction (AND) holding an equality of a column of each side (a.k = b.k) and bounds of
 * the time columns against each other by constants: `a.t BETWEEN b.t - INTERVAL '5' MINUTE
 * AND b.t + INTERVAL '1' MINUTE`, or comparisons `a.t >= b.t - INTERVAL ...`, `b.t + ... >
 * a.t`, ... Together they say a.t - b.t in [lo, hi] (both bounds needed). The other
 * conjuncts and the rest of the query pass to SQLite unchanged.
 *
 * THE RUN. The statement becomes SELECT * FROM temp."__join_out", whose cursor (module
 * strom_jstream) reads the two tables in rounds, t0 and t1 in turns, each round a scan of
 * the table from its positions to the end seen then (vtab.c, sql_vctx.round_pos), and keeps
 * each side's rows in memory (temp."__join_l" / "__join_r", rowstore.c, hashed on the
 * column of the first equality of the two sides). After a round of side k that brought new
 * rows, the user's query - rewritten to read the two stores - runs once with side k showing
 * only its new rows and the other side all its held rows: so each pair of rows is joined
 * once, when the later of the two arrives (an inner join emits a match as soon as both rows
 * are there). The query is prepared twice, planned with side k's rows as the outer loop and
 * the other side's looked up by key, so a round costs its new rows' matches, not a scan of
 * what is held. When two rounds bring nothing the cursor waits for an append (stream.c).
 *
 * WATERMARKS AND STATE. Each side's watermark is its greatest row time minus its table's
 * WATERMARK delay, per bucket, and the least over the buckets; a bucket that has had no
 * row yet holds it back (unlike a window's, where that would hold the output back: here it
 * only holds rows in memory longer, the matches are emitted anyway). A row whose time is below its own
 * side's watermark when it is read is late: it is dropped and counted (sql_session_join),
 * not joined. So every row that is joined finds all its matches: a row of t1 is held
 * while a row of t0 not late can still match it (b.t >= wm(t0) - hi), a row of t0 while
 * b.t >= wm(t1) + lo; the others are dropped from memory (once they are half of a side).
 * The answer is the batch answer over the rows that were not late.
 *
 * OUTER JOINS (LEFT / RIGHT / FULL, Flink's semantics). The query runs made inner (the
 * matches, as above); before it, in each round, a second statement - the ON condition alone,
 * `SELECT a.rowid, b.rowid FROM <stores> JOIN ... ON <cond>`, planned the same way - flags
 * the held rows of both sides that found a match. A row of a kept side that can no longer
 * get one (the same test as for dropping it from memory: after a round of side k, a row of
 * the other side with time < wm(0) - hi, resp. wm(1) + lo; and a round's own new rows by
 * the other side's watermark, as a row may arrive after that has passed it) and has no
 * flag is emitted once,
 * padded with NULLs: the query as written runs with that side showing only those rows and
 * side k showing none, so SQLite pads them and applies the WHERE and the projection; they
 * are then flagged emitted. So once both watermarks have passed a row's matching range the
 * answer is the batch answer over the rows that were not late. A row with a NULL time is
 * neither joined nor padded.
 */
#include "engine.h"
#include "sql_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================= the statement */

typedef struct side {
    char table[160], tcol[128];
    char key[128];                    /* the column of the first equality of the two sides */
    const sql_tok *name, *alias;      /* the table's token, its alias's (or NULL) */
} side;

typedef struct term {
    int side;                         /* 0, 1; -1: not a time column of a side */
    int64_t k;                        /* + k ms */
} term;

struct sql_join {
    side s[2];
    int64_t lo, hi;                   /* t0 - t1 in [lo, hi] */
    int has_eq;
    int keep[2];                      /* an outer join: side k's rows without a match are kept */
    size_t kw_at, kw_end;             /* bytes of the join's keywords (LEFT OUTER JOIN) */
    size_t on_end;                    /* byte offset of the end of ON's condition */
};

static int is_clause_end(const sql_tok *t)
{
    static const char *const kw[] = {"WHERE", "GROUP", "ORDER", "LIMIT", "UNION", "EXCEPT", "INTERSECT",
                                     "JOIN", "LEFT", "RIGHT", "INNER", "CROSS", "FULL", "WINDOW", "HAVING", NULL};
    if (t->kind == SQL_TK_END || sql_tok_punct(t, ";") || sql_tok_punct(t, ")") || sql_tok_punct(t, ","))
        return 1;
    for (int i = 0; kw[i]; i++)
        if (sql_tok_is(t, kw[i]))
            return 1;
    return 0;
}

/* printf arguments of side k's alias (or table) token, for "%.*s" */
#define SIDE_NAME(j, k) (int)((j)->s[k].alias ? (j)->s[k].alias : (j)->s[k].name)->n, \
                        ((j)->s[k].alias ? (j)->s[k].alias : (j)->s[k].name)->p

/* The side whose alias (or table name, without an alias) is token t, or -1. */
static int side_of(const struct sql_join *j, const sql_tok *t)
{
    for (int k = 0; k < 2; k++) {
        const sql_tok *a = j->s[k].alias ? j->s[k].alias : j->s[k].name;
        if (a->n == t->n && !strncasecmp(a->p, t->p, t->n))
            return k;
    }
    return -1;
}

/* alias.col at x->i: the side when col is that side's time column (else -1); *col_side
 * gets the side of any qualified column (-1 unqualified). Moves past it. */
static int column_at(tr *x, const struct sql_join *j, int *col_side)
{
    const sql_tok *t = cur(x);
    *col_side = -1;
    if (!is_name(t))
        return -1;
    if (!sql_tok_punct(t + 1, ".") || !is_name(t + 2)) {
        x->i++;
        return -1;
    }
    int s = side_of(j, t);
    x->i += 3;
    *col_side = s;
    return s >= 0 && strlen(j->s[s].tcol) == t[2].n && !strncasecmp(j->s[s].tcol, t[2].p, t[2].n) ? s : -1;
}

/* A time term at x->i: side.tcol [(+|-) INTERVAL 'n' UNIT], ending at a comparison, AND
 * or the clause end. */
static strom_err time_term(tr *x, const struct sql_join *j, term *out)
{
    const sql_tok *at = cur(x);
    int cs;
    out->side = column_at(x, j, &cs);
    out->k = 0;
    if (out->side < 0)
        return sql_tr_fail(x, at, "a join of two streams: a time bound must be the time column of one side "
                                  "(%.*s.%s or %.*s.%s) plus or minus a constant INTERVAL",
                           SIDE_NAME(j, 0), j->s[0].tcol, SIDE_NAME(j, 1), j->s[1].tcol);
    if (at_p(x, "+") || at_p(x, "-")) {
        int minus = at_p(x, "-");
        x->i++;
        const sql_tok *it = cur(x);
        if (!at_kw(x, "INTERVAL"))
            return sql_tr_fail(x, it, "a join of two streams: a time bound must be a constant INTERVAL, "
                                      "e.g. INTERVAL '5' MINUTE");
        strom_err e = sql_parse_interval(x, &out->k);
        if (e != STROM_OK)
            return e;
        out->k = minus ? -out->k : out->k;
    }
    const sql_tok *t = cur(x);
    if (!(sql_tok_is(t, "AND") || sql_tok_is(t, "BETWEEN") || is_clause_end(t) || sql_tok_punct(t, "<") || sql_tok_punct(t, "<=") ||
          sql_tok_punct(t, ">") || sql_tok_punct(t, ">=")))
        return sql_tr_fail(x, t, "a join of two streams: a time bound must be the time column of one side plus "
                                 "or minus a constant INTERVAL");
    return STROM_OK;
}

/* t_x + kx  op  t_y + ky  ->  the bounds of t0 - t1. */
static strom_err add_bound(tr *x, const sql_tok *at, struct sql_join *j, term a, const char *op, term b)
{
    if (a.side == b.side)
        return sql_tr_fail(x, at, "a join of two streams: a time bound compares the time columns of the two "
                                  "sides");
    int64_t c = b.k - a.k;               /* t_a - t_b  op  c */
    int le = op[0] == '<', strict = op[1] == 0;
    int64_t v = strict ? (le ? c - 1 : c + 1) : c;
    if (a.side == 1)                     /* t1 - t0 op c  <=>  t0 - t1 (reversed op) -c */
        le = !le, v = -v;
    if (le && v < j->hi)
        j->hi = v;
    if (!le && v > j->lo)
        j->lo = v;
    return STROM_OK;
}

static const char *cmp_op(const sql_tok *t)
{
    static const char *const ops[] = {"<=", ">=", "<", ">", NULL};
    for (int i = 0; ops[i]; i++)
        if (sql_tok_punct(t, ops[i]))
            return ops[i];
    return NULL;
}

/* One conjunct [s, e) of ON: an equality of the two sides, time bounds, or other. */
static strom_err conjunct(tr *x, struct sql_join *j, size_t s, size_t e)
{
    int times[2] = {0, 0};
    for (size_t i = s; i + 2 < e; i++)
        if (is_name(&x->t[i]) && sql_tok_punct(&x->t[i + 1], ".") && is_name(&x->t[i + 2])) {
            int k = side_of(j, &x->t[i]);
            const sql_tok *c = &x->t[i + 2];
            times[k < 0 ? 0 : k] |= k >= 0 && strlen(j->s[k].tcol) == c->n && !strncasecmp(j->s[k].tcol, c->p, c->n);
        }
    x->i = s;
    int cs0, cs1;
    if (e - s == 7 && sql_tok_punct(&x->t[s + 3], "=")) {    /* a.c = b.d */
        column_at(x, j, &cs0);
        x->i++;
        column_at(x, j, &cs1);
        if (cs0 >= 0 && cs1 >= 0 && cs0 != cs1 && !j->has_eq) {   /* the first: the stores' keys */
            const sql_tok *c0 = &x->t[s + 2], *c1 = &x->t[s + 6];
            char *k0 = sql_tok_text(c0), *k1 = sql_tok_text(c1);
            if (k0 && k1) {
                snprintf(j->s[cs0].key, sizeof j->s[cs0].key, "%s", k0);
                snprintf(j->s[cs1].key, sizeof j->s[cs1].key, "%s", k1);
            }
            free(k0);
            free(k1);
            j->has_eq = 1;
        }
        return STROM_OK;
    }
    if (!times[0] || !times[1])
        return STROM_OK;                 /* not about both time columns: SQLite's */
    const sql_tok *at = cur(x);
    term a, b, c;
    strom_err err = time_term(x, j, &a);
    if (err == STROM_OK && at_kw(x, "BETWEEN")) {
        x->i++;
        err = time_term(x, j, &b);
        if (err == STROM_OK)
            err = sql_expect_kw(x, "AND");
        if (err == STROM_OK)
            err = time_term(x, j, &c);
        if (err == STROM_OK)
            err = add_bound(x, at, j, a, ">=", b);
        if (err == STROM_OK)
            err = add_bound(x, at, j, a, "<=", c);
    } else if (err == STROM_OK && cmp_op(cur(x))) {
        const char *op = cmp_op(cur(x));
        x->i++;
        err = time_term(x, j, &b);
        if (err == STROM_OK)
            err = add_bound(x, at, j, a, op, b);
    } else if (err == STROM_OK) {
        err = sql_tr_fail(x, cur(x), "a join of two streams: the time columns are compared by BETWEEN, <, <=, "
                                     ">, >= with constant INTERVALs");
    }
    if (err == STROM_OK && x->i != e)
        err = sql_tr_fail(x, cur(x), "a join of two streams: a time bound must be the time column of one side "
                                     "plus or minus a constant INTERVAL");
    return err;
}

/* The ON condition from x->i to the clause end, split at AND (not BETWEEN's). */
static strom_err on_condition(tr *x, struct sql_join *j, const sql_tok *on)
{
    int depth = 0, between = 0;
    size_t s = x->i, i = x->i;
    strom_err e = STROM_OK;
    for (; e == STROM_OK; i++) {
        const sql_tok *t = &x->t[i];
        if (t->kind == SQL_TK_END)
            depth = 0;                   /* unbalanced: the condition ends here anyway */
        if (depth == 0 && (is_clause_end(t) || sql_tok_is(t, "AND"))) {
            if (sql_tok_is(t, "AND") && between) {
                between = 0;
                continue;
            }
            j->on_end = t->kind == SQL_TK_END ? x->len : t->at;
            if (i == s)
                break;
            e = conjunct(x, j, s, i);
            s = i + 1;
            if (is_clause_end(t))
                break;
            continue;
        }
        if (depth == 0 && sql_tok_is(t, "OR"))
            return sql_tr_fail(x, t, "a join of two streams: the ON condition must be a conjunction (AND) "
                                     "of an equality of the two sides and time bounds");
        between |= depth == 0 && sql_tok_is(t, "BETWEEN");
        depth += sql_tok_punct(t, "(") - sql_tok_punct(t, ")");
    }
    if (e != STROM_OK)
        return e;
    if (!j->has_eq)
        return sql_tr_fail(x, on, "a join of two streams needs an equality of a column of each side in ON "
                                  "(e.g. a.device_id = s.device_id)");
    if (j->lo == INT64_MIN || j->hi == INT64_MAX)
        return sql_tr_fail(x, on, "a join of two streams needs a lower and an upper bound of the time columns in "
                                  "ON (e.g. %.*s.%s BETWEEN %.*s.%s - INTERVAL '5' MINUTE AND %.*s.%s + INTERVAL "
                                  "'1' MINUTE)", SIDE_NAME(j, 0), j->s[0].tcol, SIDE_NAME(j, 1), j->s[1].tcol,
                           SIDE_NAME(j, 1), j->s[1].tcol);
    return STROM_OK;
}

/* name [AS] [alias] at x->i into side s (when it is a log table with a time column). */
static int table_at(tr *x, side *s, const sql_join_tables *lt)
{
    const sql_tok *t = cur(x);
    if (!is_name(t) || sql_tok_punct(t + 1, ".") || sql_tok_punct(t + 1, "("))
        return 0;
    char *name = sql_tok_text(t);
    int ok = name && lt->log_time(lt->arg, name, s->tcol, sizeof s->tcol) > 0;
    if (ok)
        snprintf(s->table, sizeof s->table, "%s", name);
    free(name);
    if (!ok)
        return 0;
    s->name = t;
    x->i++;
    eat_kw(x, "AS");
    s->alias = NULL;
    if (is_name(cur(x)) && !is_clause_end(cur(x)) && !at_kw(x, "ON") && !at_kw(x, "FOR"))
        s->alias = cur(x), x->i++;
    return 1;
}

/* [INNER] JOIN, LEFT / RIGHT / FULL [OUTER] JOIN at x->i: j->keep and the keywords' bytes;
 * 0 (x->i unchanged) when it is none of them. */
static int join_kind(tr *x, struct sql_join *j)
{
    const sql_tok *kw = cur(x);
    size_t save = x->i;
    int left = eat_kw(x, "LEFT"), right = !left && eat_kw(x, "RIGHT"), full = !left && !right && eat_kw(x, "FULL");
    if (left || right || full)
        eat_kw(x, "OUTER");
    else
        eat_kw(x, "INNER");
    if (!eat_kw(x, "JOIN")) {
        x->i = save;
        return 0;
    }
    j->keep[0] = left || full;
    j->keep[1] = right || full;
    j->kw_at = kw->at;
    j->kw_end = x->t[x->i - 1].at + x->t[x->i - 1].len;
    return 1;
}

/* From the top-level FROM: t0 [AS] a [INNER | LEFT | RIGHT | FULL [OUTER]] JOIN t1 [AS] b
 * ON ... (both log tables). */
static strom_err join_at(tr *x, struct sql_join *j, const sql_join_tables *lt, int *found)
{
    x->i++;
    if (!table_at(x, &j->s[0], lt))
        return STROM_OK;
    if (!join_kind(x, j) || !table_at(x, &j->s[1], lt) || at_kw(x, "FOR"))
        return STROM_OK;
    *found = 1;
    const sql_tok *on = cur(x);
    if (!eat_kw(x, "ON"))
        return sql_tr_fail(x, on, "a join of two streams needs ON with an equality of the two sides and time "
                                  "bounds");
    if (!j->s[0].tcol[0] || !j->s[1].tcol[0])
        return sql_tr_fail(x, j->s[j->s[0].tcol[0] != 0].name, "a join of two streams: table %s has no time "
                           "column (WATERMARK FOR ... in its CREATE TABLE)", j->s[j->s[0].tcol[0] != 0].table);
    j->lo = INT64_MIN;
    j->hi = INT64_MAX;
    return on_condition(x, j, on);
}

/* What would apply to each round's rows alone, not to the whole stream: DISTINCT, ORDER BY,
 * LIMIT at the top level (an aggregate without a window is refused before). */
static strom_err per_round_only(tr *x)
{
    int depth = 0;
    for (size_t i = 0; i < x->n && x->t[i].kind != SQL_TK_END; i++) {
        const sql_tok *t = &x->t[i];
        depth += sql_tok_punct(t, "(") - sql_tok_punct(t, ")");
        if (depth == 0 && (sql_tok_is(t, "DISTINCT") || sql_tok_is(t, "LIMIT") ||
                           (sql_tok_is(t, "ORDER") && sql_tok_is(t + 1, "BY"))))
            return sql_tr_fail(x, t, "a join of two streams emits each match as it is found: %.*s would "
                                     "apply to each batch of matches alone (run it in batch mode)", (int)t->n, t->p);
    }
    return STROM_OK;
}

strom_err sql_join_detect(const char *sql, size_t len, const sql_join_tables *lt, sql_join **out)
{
    *out = NULL;
    sql_tok *t = NULL;
    size_t n = 0;
    strom_err e = sql_lex(sql, len, &t, &n);
    if (e != STROM_OK)
        return e;
    sql_ctx ctx = {0};
    tr x = {.sql = sql, .len = len, .t = t, .n = n, .ctx = &ctx};
    int depth = 0, found = 0;
    struct sql_join *j = strom_calloc(1, sizeof *j);
    if (!j)
        e = STROM_ENOMEM;
    for (size_t i = 0; e == STROM_OK && i < n && t[i].kind != SQL_TK_END; i++) {
        depth += sql_tok_punct(&t[i], "(") - sql_tok_punct(&t[i], ")");
        if (depth == 0 && sql_tok_is(&t[i], "FROM")) {
            x.i = i;
            e = join_at(&x, j, lt, &found);
            break;
        }
    }
    if (e == STROM_OK && found)
        e = per_round_only(&x);
    free(t);
    if (e == STROM_OK && found) {
        j->s[0].name = j->s[1].name = j->s[0].alias = j->s[1].alias = NULL;   /* tokens are gone */
        *out = j;
        return STROM_OK;
    }
    free(j);
    return e;
}

/* Side k's table as the text names it: its alias as written, or the quoted table name. */
static void side_name(sqlite3_str *o, const char *sql, const side *s)
{
    if (s->alias)
        sqlite3_str_appendf(o, "%.*s", (int)s->alias->len, sql + s->alias->at);
    else
        sqlite3_str_appendf(o, "\"%w\"", s->table);
}

/* Side k's table replaced by its store, under its alias (or its table's name). */
static void side_store(sqlite3_str *o, const side *s, int k)
{
    sqlite3_str_appendall(o, k ? "\"__join_r\"" : "\"__join_l\"");
    if (!s->alias)
        sqlite3_str_appendf(o, " AS \"%w\"", s->table);
}

char *sql_join_text(const char *sql, size_t len, const sql_join_tables *lt, int which)
{
    sql_tok *t = NULL;
    size_t n = 0;
    if (sql_lex(sql, len, &t, &n) != STROM_OK)
        return NULL;
    sql_ctx ctx = {0};
    tr x = {.sql = sql, .len = len, .t = t, .n = n, .ctx = &ctx};
    struct sql_join j = {0};
    int depth = 0, found = 0;
    char *out = NULL;
    for (size_t i = 0; i < n && t[i].kind != SQL_TK_END && !found; i++) {
        depth += sql_tok_punct(&t[i], "(") - sql_tok_punct(&t[i], ")");
        if (depth == 0 && sql_tok_is(&t[i], "FROM")) {
            x.i = i;
            if (join_at(&x, &j, lt, &found) != STROM_OK)
                found = 0;
            break;
        }
    }
    if (found) {
        const sql_tok *a = j.s[0].name, *b = j.s[1].name;
        sqlite3_str *o = sqlite3_str_new(NULL);
        if (which == SQL_JOIN_MARKS) {
            sqlite3_str_appendall(o, "SELECT ");
            side_name(o, sql, &j.s[0]);
            sqlite3_str_appendall(o, ".rowid, ");
            side_name(o, sql, &j.s[1]);
            sqlite3_str_appendall(o, ".rowid FROM ");
        } else {
            sqlite3_str_appendf(o, "%.*s", (int)a->at, sql);
        }
        side_store(o, &j.s[0], 0);
        sqlite3_str_appendf(o, "%.*s", (int)(j.kw_at - a->at - a->len), sql + a->at + a->len);
        if (which == SQL_JOIN_AS_WRITTEN)
            sqlite3_str_appendf(o, "%.*s", (int)(j.kw_end - j.kw_at), sql + j.kw_at);
        else
            sqlite3_str_appendall(o, "JOIN");
        sqlite3_str_appendf(o, "%.*s", (int)(b->at - j.kw_end), sql + j.kw_end);
        side_store(o, &j.s[1], 1);
        size_t end = which == SQL_JOIN_MARKS ? j.on_end : len;
        sqlite3_str_appendf(o, "%.*s", (int)(end - b->at - b->len), sql + b->at + b->len);
        out = sqlite3_str_finish(o);
    }
    free(t);
    return out;
}

int sql_join_outer(const sql_join *j) { return j->keep[0] || j->keep[1]; }

/* ==================================================================== the run */

struct sql_jstream {
    struct sql_join j;
    char *q;                          /* the user's query over the stores (made inner) */
    char *pad, *marks;                /* an outer join's: the query as written, the matches */
    sql_store st[2];                  /* t0's rows (__join_l), t1's (__join_r) */
    strom_table *t[2];
    int nb[2];
    int64_t *pos[2];                  /* per bucket the next offset to read */
    int64_t max_ts[2][64];
    uint64_t seen[2];
    int64_t delay[2], wm[2], late[2];
    int64_t safe[2][64];              /* sql_jstream_safe_pos */
};

typedef struct jcur {
    sql_out_cursor o;         /* o.rows: the user's query over the stores, or pad */
    sql_vctx *x;
    sqlite3_stmt *src[2];
    sqlite3_stmt *q[2];       /* the query planned for new rows of side 0, of side 1 */
    sqlite3_stmt *m[2];       /* an outer join's matches, planned likewise */
    sqlite3_stmt *pad;        /* an outer join's query as written: the padded rows */
    int q_on, q_side;
    int pad_on, pad_side;     /* pad runs over pad_side's rows before pad_until, unmatched */
    int pad_next;             /* after the query: 0 pad the other side next, 1 its own, 2 done */
    int64_t pad_until;
    int next, quiet, idled;   /* the side of the next round, rounds with no rows since */
    uint64_t seen;            /* the append sequence before the quiet rounds */
} jcur;

static int j_open(sqlite3_vtab *v, sqlite3_vtab_cursor **out)
{
    (void)v;
    return sql_cursor_alloc(sizeof(jcur), out);
}

static int j_close(sqlite3_vtab_cursor *base)
{
    jcur *c = (jcur *)base;
    sqlite3_finalize(c->src[0]);
    sqlite3_finalize(c->src[1]);
    sqlite3_finalize(c->q[0]);
    sqlite3_finalize(c->q[1]);
    sqlite3_finalize(c->m[0]);
    sqlite3_finalize(c->m[1]);
    sqlite3_finalize(c->pad);
    if (c->x) {
        c->x->round_table = NULL;
        c->x->round_pos = NULL;
    }
    sqlite3_free(c);
    return SQLITE_OK;
}

/* The statement's error (a cancel: "interrupted", as a stream's). */
static int j_fail(sqlite3_vtab_cursor *base, sqlite3 *db)
{
    int cancel = atomic_load(&((sql_ctx_vtab *)base->pVtab)->ctx->cancel);
    sqlite3_free(base->pVtab->zErrMsg);
    base->pVtab->zErrMsg = cancel ? sqlite3_mprintf("interrupted")
                                  : sqlite3_mprintf("join of two streams: %s", db ? sqlite3_errmsg(db) : strom_errmsg());
    return cancel ? SQLITE_INTERRUPT : SQLITE_ERROR;
}

/* Side k's watermark: the least over its buckets of max time - delay; a bucket that has
 * had no row yet holds it (INT64_MIN), as a Flink source split that has emitted nothing. */
static int64_t watermark(sql_jstream *js, int k)
{
    int64_t wm = INT64_MAX;
    for (int b = 0; b < js->nb[k]; b++) {
        if (!(js->seen[k] >> b & 1))
            return INT64_MIN;
        wm = js->max_ts[k][b] - js->delay[k] < wm ? js->max_ts[k][b] - js->delay[k] : wm;
    }
    return wm == INT64_MAX ? INT64_MIN : wm;
}

/* One row of side k: held, or dropped as late. */
static strom_err take_row(sql_jstream *js, int k, sqlite3_stmt *src)
{
    sql_store *s = &js->st[k];
    if (sqlite3_column_type(src, s->tcol + 1) != SQLITE_INTEGER)
        return STROM_OK;                            /* no time: joins nothing */
    int64_t ts = sqlite3_column_int64(src, s->tcol + 1);
    if (ts < js->wm[k]) {
        js->late[k]++;
        return STROM_OK;
    }
    strom_err e = sql_store_add(s, src);
    int b = (int)((uint64_t)sqlite3_column_int64(src, 0) >> 48 & 63);
    if (!(js->seen[k] >> b & 1) || ts > js->max_ts[k][b]) {
        js->max_ts[k][b] = ts;
        js->seen[k] |= (uint64_t)1 << b;
        int64_t wm = watermark(js, k);              /* never back: the state was cut by it */
        js->wm[k] = wm > js->wm[k] ? wm : js->wm[k];
    }
    return e;
}

/* An outer join: flags (1) the rows of both sides that the ON condition matches with a
 * row of the other side (statement m, over the rows shown); the step's last code. */
static int mark_matches(sql_jstream *js, sqlite3_stmt *m)
{
    sqlite3_reset(m);
    int rc;
    while ((rc = sqlite3_step(m)) == SQLITE_ROW)
        for (int k = 0; k < 2; k++) {
            sqlite3_int64 r = sqlite3_column_int64(m, k);
            if (r >= 0 && (size_t)r < js->st[k].nrows && !js->st[k].flag[r])
                js->st[k].flag[r] = 1;
        }
    return rc;
}

/* A round of side k: its new rows into its store; 1 when there were any. */
static int round_of(jcur *c, int k, int *news)
{
    sql_jstream *js = c->x->jstream;
    size_t before = js->st[k].nrows;
    c->x->round_table = js->j.s[k].table;
    c->x->round_pos = js->pos[k];
    sqlite3_reset(c->src[k]);
    int rc;
    strom_err e = STROM_OK;
    while (e == STROM_OK && (rc = sqlite3_step(c->src[k])) == SQLITE_ROW)
        e = take_row(js, k, c->src[k]);
    c->x->round_table = NULL;
    c->x->round_pos = NULL;
    if (e != STROM_OK)
        return j_fail(&c->o.base, NULL);
    if (rc != SQLITE_DONE)
        return j_fail(&c->o.base, sqlite3_db_handle(c->src[k]));
    *news = js->st[k].nrows > before;
    if (*news) {                                    /* the new rows against the other side's */
        sql_store_show(&js->st[k], before, INT64_MIN, INT64_MAX);
        sql_store_show(&js->st[!k], 0, INT64_MIN, INT64_MAX);
        if (c->m[k] && mark_matches(js, c->m[k]) != SQLITE_DONE)
            return j_fail(&c->o.base, sqlite3_db_handle(c->m[k]));
        c->o.rows = c->q[k];
        sqlite3_reset(c->o.rows);
        c->q_on = 1;
        c->pad_next = 0;
        c->q_side = k;
        c->idled = 0;
    }
    return SQLITE_OK;
}

/* After a join of side k's new rows: the time before which the other side's rows can
 * match no row of k that is not late (INT64_MIN: none yet). */
static int64_t final_before(const sql_jstream *js, int k)
{
    if (js->wm[k] == INT64_MIN)
        return INT64_MIN;
    return k == 0 ? js->wm[0] - js->j.hi : js->wm[1] + js->j.lo;
}

/* After a join of side k's new rows: the other side keeps only rows a row of k not late
 * can still match. */
static strom_err prune(sql_jstream *js, int k)
{
    int64_t before = final_before(js, k);
    return before == INT64_MIN ? STROM_OK : sql_store_prune(&js->st[!k], before);
}

/* An outer join, after a join of some side's new rows: when side !k is kept and has rows
 * without a match that can get none any more by side k's watermark, starts pad over them
 * (side k shows nothing, so the query as written gives them padded with NULLs). 1 when
 * started. Both sides are looked at after each round: the other side's rows by the new
 * watermark, and the round's own new rows, which may come after the other side's
 * watermark has passed them (they meet only the rows held, once). */
static int start_pad(jcur *c, int k)
{
    sql_jstream *js = c->x->jstream;
    int o = !k;
    int64_t before = final_before(js, k);
    if (!c->pad || !js->j.keep[o] || before == INT64_MIN)
        return 0;
    size_t r = 0;
    while (r < js->st[o].nrows && (js->st[o].flag[r] || sql_store_time(&js->st[o], r) >= before))
        r++;
    if (r == js->st[o].nrows)
        return 0;
    sql_store_show(&js->st[o], 0, INT64_MIN, before);
    js->st[o].unflagged_only = 1;
    sql_store_show(&js->st[k], js->st[k].nrows, INT64_MIN, INT64_MAX);
    c->o.rows = c->pad;
    sqlite3_reset(c->pad);
    c->pad_on = 1;
    c->pad_side = o;
    c->pad_until = before;
    return 1;
}

/* After pad: its rows are flagged emitted (2). */
static void end_pad(jcur *c)
{
    sql_store *s = &c->x->jstream->st[c->pad_side];
    s->unflagged_only = 0;
    for (size_t r = 0; r < s->nrows; r++)
        if (!s->flag[r] && sql_store_time(s, r) < c->pad_until)
            s->flag[r] = 2;
    c->pad_on = 0;
}

static int j_advance(sqlite3_vtab_cursor *base)
{
    jcur *c = (jcur *)base;
    sql_jstream *js = c->x->jstream;
    for (;;) {
        if (c->q_on || c->pad_on) {
            int rc = sqlite3_step(c->o.rows);
            if (rc == SQLITE_ROW)
                return SQLITE_OK;
            if (rc != SQLITE_DONE)
                return j_fail(base, sqlite3_db_handle(c->o.rows));
            if (c->pad_on)
                end_pad(c);
            c->q_on = 0;
            while (c->pad_next < 2 && !start_pad(c, c->pad_next++ ? !c->q_side : c->q_side)) {
            }
            if (c->pad_on)
                continue;                        /* the rows that can no longer match */
            if (prune(js, c->q_side) != STROM_OK || prune(js, !c->q_side) != STROM_OK)
                return j_fail(base, NULL);
        }
        if (c->quiet == 0)
            c->seen = sql_stream_seq();          /* an append after this ends the wait */
        int news = 0, rc = round_of(c, c->next, &news);
        if (rc != SQLITE_OK)
            return rc;
        c->next = !c->next;                      /* the sides take turns */
        c->quiet = news ? 0 : c->quiet + 1;
        if (c->q_on || c->quiet < 2)
            continue;
        c->quiet = 0;
        if (atomic_load(&c->x->cancel))
            return j_fail(base, NULL);
        if (!c->idled && c->x->idle)
            c->x->idle(c->x->idle_arg);          /* hand out the rows so far */
        c->idled = 1;
        sql_stream_wait(c->seen, SQL_STREAM_SLICE_MS);
    }
}

static int j_filter(sqlite3_vtab_cursor *base, int idx, const char *s, int argc, sqlite3_value **argv)
{
    (void)idx, (void)s, (void)argc, (void)argv;
    jcur *c = (jcur *)base;
    c->x = ((sql_ctx_vtab *)base->pVtab)->ctx;
    c->o.advance = j_advance;
    sql_jstream *js = c->x->jstream;
    sqlite3 *db = c->x->wstream_db;
    int rc = js ? SQLITE_OK : SQLITE_ERROR;
    for (int k = 0; k < 2 && rc == SQLITE_OK; k++) {
        char *q = sqlite3_mprintf("SELECT rowid, * FROM main.\"%w\"", js->j.s[k].table);
        rc = q ? sqlite3_prepare_v2(db, q, -1, &c->src[k], NULL) : SQLITE_NOMEM;
        sqlite3_free(q);
    }
    for (int k = 0; k < 2 && rc == SQLITE_OK; k++) {   /* side k's few new rows outside, the */
        js->st[k].scan_rows = 1;                          /* other side's looked up by key */
        js->st[!k].scan_rows = 1e9;
        rc = sqlite3_prepare_v2(db, js->q, -1, &c->q[k], NULL);
        if (rc == SQLITE_OK && js->marks)
            rc = sqlite3_prepare_v2(db, js->marks, -1, &c->m[k], NULL);
    }
    if (rc == SQLITE_OK && js->pad)
        rc = sqlite3_prepare_v2(db, js->pad, -1, &c->pad, NULL);
    js->st[0].scan_rows = js->st[1].scan_rows = 0;
    if (rc != SQLITE_OK)
        return js ? j_fail(base, db) : SQLITE_ERROR;
    return j_advance(base);
}

static sqlite3_module join_module = {.xOpen = j_open, .xClose = j_close, .xFilter = j_filter};

/* ================================================================= set up */

strom_err sql_jstream_register(sqlite3 *db, sql_vctx *ctx)
{
    return sql_store_output(db, ctx, "strom_jstream", &join_module);
}

void sql_jstream_free(sql_jstream *js)
{
    if (!js)
        return;
    for (int k = 0; k < 2; k++) {
        strom_table_close(js->t[k]);
        sql_store_free(&js->st[k]);
        free(js->pos[k]);
    }
    free(js->q);
    free(js->pad);
    free(js->marks);
    free(js);
}

void sql_jstream_end(sql_vctx *x)
{
    if (!x->jstream)
        return;
    char msg[1024];                     /* keep the caller's message */
    snprintf(msg, sizeof msg, "%s", strom_errmsg());
    sql_exec(x->wstream_db, "join of two streams", "DROP TABLE IF EXISTS temp.\"__join_out\"; DROP TABLE IF "
             "EXISTS temp.\"__join_l\"; DROP TABLE IF EXISTS temp.\"__join_r\"");
    x->stores[1] = x->stores[2] = NULL;
    sql_jstream_free(x->jstream);
    x->jstream = NULL;
    strom_fail(STROM_OK, "%s", msg);
}

/* Side k's table, positions (the start, or the end with 'scan.startup.mode' = 'latest'). */
static strom_err open_side(sql_vctx *x, sql_jstream *js, int k)
{
    strom_err e = strom_table_open(x->db, js->j.s[k].table, &js->t[k]);
    if (e != STROM_OK)
        return e;
    js->nb[k] = strom_table_nbuckets(js->t[k]);
    if (js->nb[k] > 64)
        return strom_fail(STROM_EUNSUPPORTED, "a join of two streams: table %s has %d buckets (at most 64)",
                          js->j.s[k].table, js->nb[k]);
    js->pos[k] = strom_calloc((size_t)js->nb[k], sizeof *js->pos[k]);
    if (!js->pos[k])
        return STROM_ENOMEM;
    for (int b = 0; b < js->nb[k] && x->from_latest && e == STROM_OK; b++) {
        int64_t lo = 0;
        e = strom_table_offsets(js->t[k], b, &lo, &js->pos[k][b]);
    }
    if (x->jresume_n[k] == js->nb[k] && !strcmp(x->jresume_table[k], js->j.s[k].table))
        memcpy(js->pos[k], x->jresume_pos[k], (size_t)js->nb[k] * sizeof *js->pos[k]);
    js->delay[k] = sql_table_delay(x, js->j.s[k].table);
    js->wm[k] = INT64_MIN;
    return e;
}

strom_err sql_jstream_prepare(sql_vctx *x, sql_join *j)
{
    sql_jstream_end(x);
    sql_jstream *js = x->jstream = strom_calloc(1, sizeof *js);
    if (!js) {
        free(j);
        return STROM_ENOMEM;
    }
    js->j = *j;
    free(j);
    static const char *const names[2] = {"__join_l", "__join_r"}, *const mods[2] = {"strom_rows(1)", "strom_rows(2)"};
    strom_err e = STROM_OK;
    for (int k = 0; k < 2 && e == STROM_OK; k++) {
        char *decl = NULL;
        x->stores[k + 1] = &js->st[k];
        e = open_side(x, js, k);
        if (e == STROM_OK)
            e = sql_source_decl(x, js->j.s[k].table, js->j.s[k].tcol, js->j.s[k].key[0] ? js->j.s[k].key : NULL,
                                &js->st[k], &decl);
        if (e == STROM_OK)
            e = sql_make_table(x, names[k], mods[k], decl);
        sqlite3_free(decl);
    }
    return e;
}

strom_err sql_jstream_output(sql_vctx *x, const char *q, const char *pad, const char *marks)
{
    sql_jstream *js = x->jstream;
    if (!(js->q = strom_strdup(q)) || (pad && !(js->pad = strom_strdup(pad))) ||
        (marks && !(js->marks = strom_strdup(marks))))
        return STROM_ENOMEM;
    char *decl = NULL;
    strom_err e = sql_result_decl(x, q, &decl);
    if (e == STROM_OK)
        e = sql_make_table(x, "__join_out", "strom_jstream", decl);
    sqlite3_free(decl);
    return e;
}

void sql_jstream_late(const sql_jstream *js, int64_t late[2])
{
    late[0] = js->late[0];
    late[1] = js->late[1];
}

const int64_t *sql_jstream_safe_pos(sql_jstream *js, int k, const char **table, int *n)
{
    *table = js->j.s[k].table;
    *n = js->nb[k];
    if (!js->pos[k])
        return NULL;
    memcpy(js->safe[k], js->pos[k], (size_t)js->nb[k] * sizeof *js->pos[k]);
    const sql_store *s = &js->st[k];
    for (size_t r = 0; r < s->nrows; r++) {
        int b = (int)((uint64_t)s->rid[r] >> 48 & 63);
        int64_t off = s->rid[r] & (((int64_t)1 << 48) - 1);
        if (b < js->nb[k] && off < js->safe[k][b])
            js->safe[k][b] = off;
    }
    return js->safe[k];
}
