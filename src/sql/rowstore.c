/* rowstore.c: rows the streaming operators hold in memory (engine.h, sql_store): the open
 * windows' rows (wstream.c) and the two sides of a join of two streams (jstream.c), shown
 * to SQLite as virtual tables of module strom_rows, and the helpers both operators use to
 * make their temp tables.
 *
 * A store is nrows rows of ncols cells (a type and an integer, a double, or an offset into
 * one byte buffer for text and blobs) plus each row's source rowid (bucket << 48 | offset).
 * `CREATE VIRTUAL TABLE temp.x USING strom_rows(k)` shows ctx->stores[k]: its rows from
 * index `first` on whose time cell is in (ts_lo, ts_hi). A store with a key column keeps a
 * hash index on it, and its table answers `key = value` through it (a join's inner loop
 * then visits the rows of that key, not every row held); SQLite checks the equality again
 * (omit = 0), and a value of the other class (text against a numeric column, or the
 * reverse, which SQLite may convert) reads every row. */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --------------------------------------------------------------- the store */

/* ------------------------------------------------------------- the key index */

/* The hash of a key value: text and blobs by their bytes, numbers as integers when they
 * are whole (1 = 1.0 in SQL) and by their bits otherwise. *ok 0: NULL (equal to nothing). */
static uint64_t key_hash(int type, const void *p, int len, int64_t i, double d, int *ok)
{
    *ok = type != SQLITE_NULL;
    if (type == SQLITE_TEXT || type == SQLITE_BLOB)
        return strom_hash64_seed(p, (size_t)len, (uint64_t)type);
    if (type == SQLITE_FLOAT && d >= -9.2e18 && d <= 9.2e18 && d == (double)(int64_t)d)
        i = (int64_t)d, type = SQLITE_INTEGER;
    if (type == SQLITE_FLOAT)
        memcpy(&i, &d, sizeof i);
    return strom_hash64_seed(&i, sizeof i, 7);
}

static uint64_t row_hash(const sql_store *s, size_t r, int *ok)
{
    const sql_cell *c = &s->cells[r * (size_t)s->ncols + (size_t)s->kcol];
    return key_hash(c->type, s->bytes.data + (c->len ? c->v.off : 0), c->len, c->v.i, c->v.d, ok);
}

static void index_row(sql_store *s, size_t r)
{
    int ok;
    uint64_t h = row_hash(s, r, &ok);
    if (!ok)
        return;
    uint32_t *slot = &s->head[h & (s->hsize - 1)];
    s->next[r] = *slot;
    *slot = (uint32_t)r + 1;
}

/* (Re)builds the index with room for cap rows. */
static strom_err index_build(sql_store *s, size_t cap)
{
    if (s->kcol < 0)
        return STROM_OK;
    size_t hs = 1024;
    while (hs < cap)
        hs *= 2;
    uint32_t *next = strom_realloc(s->next, cap * sizeof *next);
    if (next)
        s->next = next;
    if (next && hs != s->hsize) {
        free(s->head);
        s->head = strom_calloc(hs, sizeof *s->head);
        s->hsize = s->head ? hs : 0;
    } else if (next && s->head) {
        memset(s->head, 0, hs * sizeof *s->head);
    }
    if (!next || !s->head)
        return strom_fail(STROM_ENOMEM, "streaming: out of memory for the index of %zu rows", cap);
    for (size_t r = 0; r < s->nrows; r++)
        index_row(s, r);
    return STROM_OK;
}

static strom_err store_grow(sql_store *s)
{
    size_t cap = s->cap ? 2 * s->cap : 1024;
    sql_cell *c = strom_realloc(s->cells, cap * (size_t)s->ncols * sizeof *c);
    if (c)
        s->cells = c;
    int64_t *r = c ? strom_realloc(s->rid, cap * sizeof *r) : NULL;
    if (r)
        s->rid = r;
    uint8_t *f = r ? strom_realloc(s->flag, cap) : NULL;
    if (!f)
        return strom_fail(STROM_ENOMEM, "streaming: out of memory for %zu rows held", cap);
    s->flag = f;
    s->cap = cap;
    return index_build(s, cap);
}

strom_err sql_store_add(sql_store *s, sqlite3_stmt *src)
{
    strom_err e = s->nrows == s->cap ? store_grow(s) : STROM_OK;
    if (e != STROM_OK)
        return e;
    sql_cell *row = s->cells + s->nrows * (size_t)s->ncols;
    s->rid[s->nrows] = sqlite3_column_int64(src, 0);
    s->flag[s->nrows] = 0;
    for (int i = 0; i < s->ncols; i++) {
        sql_cell *c = &row[i];
        c->type = sqlite3_column_type(src, i + 1);
        c->len = 0;
        if (c->type == SQLITE_INTEGER)
            c->v.i = sqlite3_column_int64(src, i + 1);
        else if (c->type == SQLITE_FLOAT)
            c->v.d = sqlite3_column_double(src, i + 1);
        if (c->type != SQLITE_TEXT && c->type != SQLITE_BLOB)
            continue;
        const void *p = c->type == SQLITE_TEXT ? (const void *)sqlite3_column_text(src, i + 1)
                                               : sqlite3_column_blob(src, i + 1);
        c->len = sqlite3_column_bytes(src, i + 1);
        c->v.off = s->bytes.len;
        e = c->len ? strom_buf_append(&s->bytes, p, (size_t)c->len) : STROM_OK;
        if (e != STROM_OK)
            return e;
    }
    if (s->kcol >= 0)
        index_row(s, s->nrows);
    s->nrows++;
    return STROM_OK;
}

int64_t sql_store_time(const sql_store *s, size_t r) { return s->cells[r * (size_t)s->ncols + (size_t)s->tcol].v.i; }

strom_err sql_store_prune(sql_store *s, int64_t keep_from)
{
    size_t drop = 0;
    for (size_t r = 0; r < s->nrows; r++)
        drop += sql_store_time(s, r) < keep_from;
    if (drop == 0 || drop * 2 < s->nrows)
        return STROM_OK;   /* compact when half is dead (amortized) */
    strom_buf nb = {0};
    size_t k = 0;
    strom_err e = STROM_OK;
    for (size_t r = 0; r < s->nrows && e == STROM_OK; r++) {
        sql_cell *row = s->cells + r * (size_t)s->ncols;
        if (row[s->tcol].v.i < keep_from)
            continue;
        for (int i = 0; i < s->ncols && e == STROM_OK; i++)
            if (row[i].type == SQLITE_TEXT || row[i].type == SQLITE_BLOB) {
                size_t off = nb.len;
                e = row[i].len ? strom_buf_append(&nb, s->bytes.data + row[i].v.off, (size_t)row[i].len) : STROM_OK;
                row[i].v.off = off;
            }
        if (k != r) {
            memcpy(s->cells + k * (size_t)s->ncols, row, (size_t)s->ncols * sizeof *row);
            s->rid[k] = s->rid[r];
            s->flag[k] = s->flag[r];
        }
        k++;
    }
    if (e != STROM_OK) {
        strom_buf_free(&nb);
        return e;
    }
    s->nrows = k;
    s->first = s->first < k ? s->first : k;
    strom_buf_free(&s->bytes);
    s->bytes = nb;
    return index_build(s, s->cap);
}

void sql_store_free(sql_store *s)
{
    free(s->cells);
    free(s->rid);
    free(s->flag);
    free(s->head);
    free(s->next);
    strom_buf_free(&s->bytes);
    memset(s, 0, sizeof *s);
}

void sql_store_show(sql_store *s, size_t first, int64_t ts_lo, int64_t ts_hi)
{
    s->first = first;
    s->ts_lo = ts_lo;
    s->ts_hi = ts_hi;
}

/* --------------------------------------------------- module strom_rows */

typedef struct rvt {
    sql_ctx_vtab base;
    int k;                     /* ctx->stores[k] */
} rvt;

typedef struct rcur {
    sqlite3_vtab_cursor base;
    const sql_store *s;
    size_t r;
    int chain;                 /* r walks a key's chain (next[]; SQLite drops the other keys) */
} rcur;

/* xCreate / xConnect of strom_rows and of the operators' output tables: declared as
 * ctx->wstream_decl says (sql_make_table); argv[3], when given, names the store. */
static int made_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **err)
{
    sql_vctx *x = aux;
    if (!x->wstream_decl) {
        *err = sqlite3_mprintf("this virtual table is made by a streaming window or join only");
        return SQLITE_ERROR;
    }
    int rc = sqlite3_declare_vtab(db, x->wstream_decl);
    rvt *v = rc == SQLITE_OK ? sqlite3_malloc(sizeof *v) : NULL;
    if (!v)
        return rc == SQLITE_OK ? SQLITE_NOMEM : rc;
    memset(v, 0, sizeof *v);
    v->base.ctx = x;
    v->k = argc > 3 ? atoi(argv[3]) : 0;
    v->k = v->k >= 0 && v->k < SQL_NSTORES ? v->k : 0;
    *out = &v->base.base;
    return SQLITE_OK;
}

/* Plan 1: equality on the store's key column (argument 1); else every row. */
static int r_best_index(sqlite3_vtab *v, sqlite3_index_info *ii)
{
    rvt *t = (rvt *)v;
    const sql_store *s = t->base.ctx->stores[t->k];
    ii->estimatedCost = s && s->scan_rows > 0 ? s->scan_rows : 1000;
    for (int i = 0; s && s->kcol >= 0 && i < ii->nConstraint; i++)
        if (ii->aConstraint[i].usable && ii->aConstraint[i].iColumn == s->kcol &&
            ii->aConstraint[i].op == SQLITE_INDEX_CONSTRAINT_EQ) {
            ii->aConstraintUsage[i].argvIndex = 1;
            ii->idxNum = 1;
            ii->estimatedCost = 10;
            ii->estimatedRows = 10;
            break;
        }
    return SQLITE_OK;
}

static int r_open(sqlite3_vtab *v, sqlite3_vtab_cursor **out)
{
    (void)v;
    return sql_cursor_alloc(sizeof(rcur), out);
}

static int r_close(sqlite3_vtab_cursor *c)
{
    sqlite3_free(c);
    return SQLITE_OK;
}

static int shown(const sql_store *s, size_t r)
{
    int64_t ts = sql_store_time(s, r);
    return r >= s->first && ts > s->ts_lo && ts < s->ts_hi && !(s->unflagged_only && s->flag[r]);
}

/* The next row of the chain from c->r (a row number + 1; 0 ends it) that is shown. */
static void chain_skip(rcur *c, uint32_t at)
{
    while (at && !shown(c->s, at - 1))
        at = c->s->next[at - 1];
    c->r = at ? at - 1 : c->s->nrows;
}

/* Moves c->r to the next row shown: from first on, time in (ts_lo, ts_hi). */
static void r_skip(rcur *c)
{
    while (c->r < c->s->nrows && !shown(c->s, c->r))
        c->r++;
}

/* Whether value v can be looked up in s's index (its class is the key column's). */
static int indexable(const sql_store *s, sqlite3_value *v)
{
    int t = sqlite3_value_type(v);
    return s->head && (s->kaff == 'T' ? t == SQLITE_TEXT || t == SQLITE_BLOB : t == SQLITE_INTEGER || t == SQLITE_FLOAT);
}

static int r_filter(sqlite3_vtab_cursor *base, int idx, const char *str, int argc, sqlite3_value **argv)
{
    (void)str;
    rcur *c = (rcur *)base;
    rvt *v = (rvt *)base->pVtab;
    c->s = v->base.ctx->stores[v->k];
    c->chain = 0;
    c->r = c->s ? c->s->first : 0;
    if (!c->s)
        return SQLITE_OK;
    if (idx == 1 && argc == 1 && indexable(c->s, argv[0])) {
        sqlite3_value *k = argv[0];
        int ok;
        uint64_t h = key_hash(sqlite3_value_type(k), sqlite3_value_blob(k), sqlite3_value_bytes(k),
                              sqlite3_value_int64(k), sqlite3_value_double(k), &ok);
        c->chain = 1;
        chain_skip(c, ok ? c->s->head[h & (c->s->hsize - 1)] : 0);
        return SQLITE_OK;
    }
    r_skip(c);
    return SQLITE_OK;
}

static int r_next(sqlite3_vtab_cursor *base)
{
    rcur *c = (rcur *)base;
    if (c->chain) {
        chain_skip(c, c->s->next[c->r]);
        return SQLITE_OK;
    }
    c->r++;
    r_skip(c);
    return SQLITE_OK;
}

static int r_eof(sqlite3_vtab_cursor *base)
{
    rcur *c = (rcur *)base;
    return !c->s || c->r >= c->s->nrows;
}

static int r_column(sqlite3_vtab_cursor *base, sqlite3_context *ctx, int i)
{
    rcur *c = (rcur *)base;
    const sql_cell *v = &c->s->cells[c->r * (size_t)c->s->ncols + (size_t)i];
    const char *p = (const char *)c->s->bytes.data + (v->len ? v->v.off : 0);
    switch (v->type) {
    case SQLITE_INTEGER: sqlite3_result_int64(ctx, v->v.i); break;
    case SQLITE_FLOAT: sqlite3_result_double(ctx, v->v.d); break;
    case SQLITE_TEXT: sqlite3_result_text(ctx, v->len ? p : "", v->len, SQLITE_STATIC); break;
    case SQLITE_BLOB: sqlite3_result_blob(ctx, v->len ? p : "", v->len, SQLITE_STATIC); break;
    default: sqlite3_result_null(ctx); break;
    }
    return SQLITE_OK;
}

static int r_rowid(sqlite3_vtab_cursor *base, sqlite3_int64 *out)
{
    *out = (sqlite3_int64)((rcur *)base)->r;
    return SQLITE_OK;
}

static const sqlite3_module rows_module = {
    .iVersion = 1, .xCreate = made_connect, .xConnect = made_connect, .xBestIndex = r_best_index,
    .xDisconnect = sql_ctx_vtab_free, .xDestroy = sql_ctx_vtab_free, .xOpen = r_open, .xClose = r_close,
    .xFilter = r_filter, .xNext = r_next, .xEof = r_eof, .xColumn = r_column, .xRowid = r_rowid,
};

/* ------------------------------------------- the operators' output tables */

static int out_eof(sqlite3_vtab_cursor *base) { return ((sql_out_cursor *)base)->eof; }

static int out_next(sqlite3_vtab_cursor *base)
{
    sql_out_cursor *c = (sql_out_cursor *)base;
    c->rowid++;
    return c->advance(base);
}

static int out_column(sqlite3_vtab_cursor *base, sqlite3_context *ctx, int i)
{
    sqlite3_result_value(ctx, sqlite3_column_value(((sql_out_cursor *)base)->rows, i));
    return SQLITE_OK;
}

static int out_rowid(sqlite3_vtab_cursor *base, sqlite3_int64 *out)
{
    *out = ((sql_out_cursor *)base)->rowid;
    return SQLITE_OK;
}

strom_err sql_store_output(sqlite3 *db, sql_vctx *ctx, const char *name, sqlite3_module *m)
{
    m->iVersion = 1;
    m->xCreate = m->xConnect = made_connect;
    m->xBestIndex = r_best_index;
    m->xDisconnect = m->xDestroy = sql_ctx_vtab_free;
    m->xNext = out_next;
    m->xEof = out_eof;
    m->xColumn = out_column;
    m->xRowid = out_rowid;
    int rc = sqlite3_create_module(db, name, m, ctx);
    return rc == SQLITE_OK ? STROM_OK
                           : strom_fail(STROM_EINVAL, "sqlite3_create_module: %s", sqlite3_errmsg(db));
}

strom_err sql_store_register(sqlite3 *db, sql_vctx *ctx)
{
    int rc = sqlite3_create_module(db, "strom_rows", &rows_module, ctx);
    return rc == SQLITE_OK ? STROM_OK
                           : strom_fail(STROM_EINVAL, "sqlite3_create_module: %s", sqlite3_errmsg(db));
}

/* ----------------------------------------------------- making the tables */

strom_err sql_exec(sqlite3 *db, const char *what, const char *q)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, q, NULL, NULL, &err);
    strom_err e = rc == SQLITE_OK ? STROM_OK : strom_fail(STROM_EINVAL, "%s: %s", what, err ? err : "?");
    sqlite3_free(err);
    return e;
}

strom_err sql_make_table(sql_vctx *x, const char *name, const char *module, const char *decl)
{
    x->wstream_decl = decl;
    char *q = sqlite3_mprintf("CREATE VIRTUAL TABLE temp.\"%w\" USING %s", name, module);
    strom_err e = q ? sql_exec(x->wstream_db, "streaming", q) : STROM_ENOMEM;
    sqlite3_free(q);
    x->wstream_decl = NULL;
    return e;
}

strom_err sql_source_decl(sql_vctx *x, const char *table, const char *col, const char *key, sql_store *s,
                          char **decl)
{
    s->kcol = -1;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(x->wstream_db, "SELECT name, type FROM pragma_table_info(?)", -1, &st, NULL);
    if (rc == SQLITE_OK)
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    s->tcol = -1;
    s->ncols = 0;
    sqlite3_str *d = sqlite3_str_new(NULL);
    sqlite3_str_appendall(d, "CREATE TABLE x(");
    while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *n = (const char *)sqlite3_column_text(st, 0), *t = (const char *)sqlite3_column_text(st, 1);
        if (!sqlite3_stricmp(n, col))
            s->tcol = s->ncols;
        if (key && !sqlite3_stricmp(n, key)) {
            s->kcol = s->ncols;
            s->kaff = t && (sqlite3_strlike("%TEXT%", t, 0) == 0 || sqlite3_strlike("%BLOB%", t, 0) == 0 ||
                            sqlite3_strlike("%CHAR%", t, 0) == 0) ? 'T' : 'N';
        }
        sqlite3_str_appendf(d, "%s\"%w\" %s", s->ncols++ ? ", " : "", n, t ? t : "");
    }
    sqlite3_str_appendall(d, ")");
    sqlite3_finalize(st);
    *decl = sqlite3_str_finish(d);
    if (!*decl)
        return STROM_ENOMEM;
    if (s->ncols == 0)
        return strom_fail(STROM_ENOTFOUND, "streaming: no table %s", table);
    if (s->tcol < 0)
        return strom_fail(STROM_ESCHEMA, "streaming: table %s has no column %s", table, col);
    return STROM_OK;
}

strom_err sql_result_decl(sql_vctx *x, const char *q, char **decl)
{
    sqlite3_stmt *st = NULL;
    *decl = NULL;
    if (sqlite3_prepare_v2(x->wstream_db, q, -1, &st, NULL) != SQLITE_OK)
        return strom_fail(STROM_EINVAL, "%s", sqlite3_errmsg(x->wstream_db));
    sqlite3_str *d = sqlite3_str_new(NULL);
    sqlite3_str_appendall(d, "CREATE TABLE x(");
    int n = sqlite3_column_count(st);
    for (int i = 0; i < n; i++) {
        const char *name = sqlite3_column_name(st, i), *t = sqlite3_column_decltype(st, i);
        int dup = 0;
        for (int j = 0; j < i; j++)
            dup += !sqlite3_stricmp(name, sqlite3_column_name(st, j));
        char suffix[16] = "";
        if (dup)
            snprintf(suffix, sizeof suffix, "_%d", dup + 1);
        sqlite3_str_appendf(d, "%s\"%w%s\" %s", i ? ", " : "", name, suffix, t ? t : "");
    }
    sqlite3_str_appendall(d, ")");
    sqlite3_finalize(st);
    *decl = sqlite3_str_finish(d);
    return *decl ? STROM_OK : STROM_ENOMEM;
}

int64_t sql_table_option_ms(sql_vctx *x, const char *table, const char *key, int64_t def)
{
    strom_table *t = NULL;
    if (strom_table_open(x->db, table, &t) != STROM_OK)
        return def;
    const char *v = strom_table_option(t, key);
    int64_t d = v && *v ? strtoll(v, NULL, 10) : def;
    strom_table_close(t);
    return d > 0 ? d : 0;
}

int64_t sql_table_delay(sql_vctx *x, const char *table)
{
    return sql_table_option_ms(x, table, "table.watermark.delay-ms", 0);
}
