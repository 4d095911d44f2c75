/* lex.c: the tokenizer of the SQL front end, with line and column positions, and the
 * splitting of scripts into statements. */
#include "sql.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct lexer {
    const char *s;
    size_t len, i;
    int line;
    size_t line_start;
} lexer;

static int col_of(const lexer *x, size_t at) { return (int)(at - x->line_start) + 1; }

static void advance(lexer *x, size_t n)
{
    for (size_t k = 0; k < n && x->i < x->len; k++, x->i++)
        if (x->s[x->i] == '\n') {
            x->line++;
            x->line_start = x->i + 1;
        }
}

static strom_err lex_fail(const lexer *x, size_t at, int line, int col, const char *what)
{
    (void)x;
    sql_set_error_at((long)at);
    return strom_fail(STROM_EINVAL, "line %d, column %d: %s", line, col, what);
}

/* Skips white space and comments; EINVAL for an unterminated block comment. */
static strom_err skip_space(lexer *x)
{
    while (x->i < x->len) {
        char c = x->s[x->i];
        if (isspace((unsigned char)c)) {
            advance(x, 1);
        } else if (c == '-' && x->i + 1 < x->len && x->s[x->i + 1] == '-') {
            while (x->i < x->len && x->s[x->i] != '\n')
                advance(x, 1);
        } else if (c == '/' && x->i + 1 < x->len && x->s[x->i + 1] == '*') {
            size_t at = x->i;
            int line = x->line, col = col_of(x, at);
            const char *end = NULL;
            for (size_t k = x->i + 2; k + 1 < x->len && !end; k++)
                end = x->s[k] == '*' && x->s[k + 1] == '/' ? x->s + k : NULL;
            if (!end)
                return lex_fail(x, at, line, col, "unterminated comment /* ... */");
            advance(x, (size_t)(end - (x->s + x->i)) + 2);
        } else {
            break;
        }
    }
    return STROM_OK;
}

/* A quoted token from x->i (quote q); doubled quotes stay inside. */
static strom_err lex_quoted(lexer *x, char q, sql_tok *t)
{
    size_t k = x->i + 1;
    for (;;) {
        if (k >= x->len) {
            const char *what = q == '\'' ? "unterminated string literal (missing ')"
                                         : "unterminated quoted identifier";
            return lex_fail(x, x->i, t->line, t->col, what);
        }
        if (x->s[k] == q && k + 1 < x->len && x->s[k + 1] == q) {
            k += 2;
            continue;
        }
        if (x->s[k] == q)
            break;
        k++;
    }
    t->kind = q == '\'' ? SQL_TK_STRING : SQL_TK_QIDENT;
    t->p = x->s + x->i + 1;
    t->n = k - x->i - 1;
    t->len = k + 1 - x->i;
    return STROM_OK;
}

static size_t span_number(const lexer *x)
{
    size_t k = x->i;
    while (k < x->len && (isdigit((unsigned char)x->s[k]) || x->s[k] == '.'))
        k++;
    if (k < x->len && (x->s[k] == 'e' || x->s[k] == 'E')) {
        size_t e = k + 1;
        if (e < x->len && (x->s[e] == '+' || x->s[e] == '-'))
            e++;
        if (e < x->len && isdigit((unsigned char)x->s[e])) {
            while (e < x->len && isdigit((unsigned char)x->s[e]))
                e++;
            k = e;
        }
    }
    return k - x->i;
}

static const char *const two_char[] = {"<>", "!=", "<=", ">=", "||", "==", NULL};

static strom_err lex_one(lexer *x, sql_tok *t)
{
    char c = x->s[x->i];
    t->p = x->s + x->i;
    t->len = 1;
    if (c == '\'' || c == '"' || c == '`')
        return lex_quoted(x, c, t);
    if (isalpha((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80) {
        size_t k = x->i;
        while (k < x->len && (isalnum((unsigned char)x->s[k]) || x->s[k] == '_' ||
                              x->s[k] == '$' || (unsigned char)x->s[k] >= 0x80))
            k++;
        t->kind = SQL_TK_IDENT;
        t->len = k - x->i;
    } else if (isdigit((unsigned char)c) ||
               (c == '.' && x->i + 1 < x->len && isdigit((unsigned char)x->s[x->i + 1]))) {
        t->kind = SQL_TK_NUMBER;
        t->len = span_number(x);
    } else if (strchr("(),;.+-*/%=<>!|?:[]{}~&^", c)) {
        t->kind = SQL_TK_PUNCT;
        for (int k = 0; two_char[k] && x->i + 1 < x->len; k++)
            if (x->s[x->i] == two_char[k][0] && x->s[x->i + 1] == two_char[k][1])
                t->len = 2;
        if (t->len == 1 && (c == '!' || c == '|'))
            return lex_fail(x, x->i, t->line, t->col, "unexpected character (did you mean != or ||?)");
    } else {
        char what[64];
        snprintf(what, sizeof what, "unexpected character 0x%02x", (unsigned char)c);
        return lex_fail(x, x->i, t->line, t->col, what);
    }
    t->n = t->len;
    return STROM_OK;
}

strom_err sql_lex(const char *sql, size_t len, sql_tok **toks, size_t *ntoks)
{
    lexer x = {.s = sql, .len = len, .line = 1};
    size_t cap = 64, n = 0;
    sql_tok *v = strom_malloc(cap * sizeof *v);
    strom_err e = v ? STROM_OK : STROM_ENOMEM;
    for (;;) {
        if (e == STROM_OK)
            e = skip_space(&x);
        if (e != STROM_OK)
            break;
        if (n + 1 >= cap) {
            sql_tok *nv = strom_realloc(v, 2 * cap * sizeof *nv);
            if (!nv) {
                e = STROM_ENOMEM;
                break;
            }
            v = nv;
            cap *= 2;
        }
        sql_tok *t = &v[n];
        *t = (sql_tok){.at = x.i, .line = x.line, .col = col_of(&x, x.i), .p = sql + x.i};
        if (x.i >= len)
            break;
        e = lex_one(&x, t);
        if (e == STROM_OK) {
            advance(&x, t->len);
            n++;
        }
    }
    if (e != STROM_OK) {
        free(v);
        *toks = NULL;
        *ntoks = 0;
        return e;
    }
    v[n].kind = SQL_TK_END;
    *toks = v;
    *ntoks = n + 1;
    return STROM_OK;
}

int sql_tok_is(const sql_tok *t, const char *kw)
{
    size_t n = strlen(kw);
    return t->kind == SQL_TK_IDENT && t->n == n && !strncasecmp(t->p, kw, n);
}

int sql_tok_punct(const sql_tok *t, const char *p)
{
    size_t n = strlen(p);
    return t->kind == SQL_TK_PUNCT && t->n == n && !memcmp(t->p, p, n);
}

strom_err sql_split(const char *sql, size_t len, size_t **starts, size_t **lens, size_t *n)
{
    sql_tok *t = NULL;
    size_t nt = 0, cnt = 0, begin = 0;
    *starts = *lens = NULL;
    *n = 0;
    strom_err e = sql_lex(sql, len, &t, &nt);
    if (e != STROM_OK)
        return e;
    size_t *s = strom_malloc((nt + 1) * sizeof *s), *l = strom_malloc((nt + 1) * sizeof *l);
    if (!s || !l) {
        free(s);
        free(l);
        free(t);
        return STROM_ENOMEM;
    }
    int have = 0;
    size_t last_end = 0;
    for (size_t i = 0; i < nt; i++) {
        int end = t[i].kind == SQL_TK_END || sql_tok_punct(&t[i], ";");
        if (!end) {
            begin = have ? begin : t[i].at;
            last_end = t[i].at + t[i].len;
            have = 1;
            continue;
        }
        if (have) {
            s[cnt] = begin;
            l[cnt++] = last_end - begin;
        }
        have = 0;
    }
    free(t);
    *starts = s;
    *lens = l;
    *n = cnt;
    return STROM_OK;
}

static __thread long err_at = -1;

void sql_set_error_at(long at) { err_at = at; }
long sql_error_at(void) { return err_at; }

void sql_error_caret(const char *sql, size_t len, size_t at, char *buf, size_t cap)
{
    if (at > len)
        at = len;
    size_t b = at, e = at;
    while (b > 0 && sql[b - 1] != '\n')
        b--;
    while (e < len && sql[e] != '\n')
        e++;
    int w = snprintf(buf, cap, "  %.*s\n  ", (int)(e - b), sql + b);
    for (size_t k = b; k < at && w >= 0 && (size_t)w + 2 < cap; k++)
        buf[w++] = sql[k] == '\t' ? '\t' : ' ';
    if (w >= 0 && (size_t)w + 2 < cap) {
        buf[w++] = '^';
        buf[w] = 0;
    }
}
