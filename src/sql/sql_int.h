/* sql_int.h: internals shared by the files of src/sql: the translation cursor over a
 * statement's tokens and the helpers of the parsers. */
#ifndef STROM_SQL_INT_H
#define STROM_SQL_INT_H

#include "sql.h"

typedef struct tr {
    const char *sql;
    size_t len;
    sql_tok *t;
    size_t n, i;
    const sql_ctx *ctx;
    sql_window *win;          /* the statement's window (may be NULL) */
} tr;

/* EINVAL "line L, column C: <message>" at token t. */
strom_err sql_tr_fail(const tr *x, const sql_tok *t, const char *fmt, ...) STROM_PRINTF(3, 4);

static inline const sql_tok *cur(const tr *x) { return &x->t[x->i < x->n ? x->i : x->n - 1]; }
static inline int at_kw(const tr *x, const char *kw) { return sql_tok_is(cur(x), kw); }
static inline int at_p(const tr *x, const char *p) { return sql_tok_punct(cur(x), p); }
static inline int eat_kw(tr *x, const char *kw) { return at_kw(x, kw) ? (x->i++, 1) : 0; }
static inline int eat_p(tr *x, const char *p) { return at_p(x, p) ? (x->i++, 1) : 0; }
static inline int is_name(const sql_tok *t)
{
    return t->kind == SQL_TK_IDENT || t->kind == SQL_TK_QIDENT;
}
strom_err sql_expect_kw(tr *x, const char *kw);
strom_err sql_expect_p(tr *x, const char *p);
/* Unquoted text of an identifier or string token (doubled quotes collapsed). Owned. */
char *sql_tok_text(const sql_tok *t);
/* name or db.name at x->i. Owned in *out. */
strom_err sql_parse_name(tr *x, const char *what, char **out);
/* INTERVAL 'n' UNIT at x->i (which is INTERVAL): *ms; x->i moves past it. */
strom_err sql_parse_interval(tr *x, int64_t *ms);
/* Appends the SQLite text of tokens [s, e) to o, rewriting the dialect (sql.h). */
strom_err sql_rewrite_range(tr *x, size_t s, size_t e, strom_buf *o);

/* window.c: the window rewrites (see there). _at: whether the construct starts at x->i;
 * the rewriter then writes its SQLite text to o and moves x->i past it. */
int sql_window_tvf_at(const tr *x);                /* TABLE(TUMBLE(...)) / TABLE(HOP(...)) */
strom_err sql_window_tvf(tr *x, strom_buf *o);
int sql_window_group_at(const tr *x);              /* FROM of a SELECT with GROUP BY TUMBLE( */
strom_err sql_window_group_from(tr *x, strom_buf *o);
int sql_window_fn_at(const tr *x);                 /* TUMBLE( HOP( TUMBLE_START( ... */
strom_err sql_window_fn(tr *x, strom_buf *o);

#endif /* STROM_SQL_INT_H */
