/* wstream.c: windowed aggregates in streaming mode. SQLite still does the aggregation; this
 * file only decides when a window is complete and which rows it holds.
 *
 * A streaming statement with a window (window.c) runs as
 *     [INSERT INTO sink] SELECT * FROM temp."__win_out"
 * where __win_out (module strom_wstream) drives two statements of the same connection:
 *   src  SELECT rowid, * FROM main."<source>"  - the stream (vtab.c), never ending;
 *   agg  the user's query, rewritten to read temp."__win_rows" (module strom_rows: the rows
 *        of the windows still open, in memory) instead of the source.
 * Each source row goes into __win_rows, unless every window it falls in is already closed
 * (a late row: dropped and counted). The watermark is the greatest row time seen minus the
 * table's delay ('table.watermark.delay-ms', from WATERMARK FOR c AS c - INTERVAL ...), per
 * bucket, and the statement's is the least of those of the buckets that have rows (as
 * Flink's per-partition watermarks: a bucket that stops getting rows holds it back; one
 * with rows the stream has not read yet holds it too; one that has had no rows yet holds it
 * at the statement's first row time minus the delay until the others' watermark is
 * 'table.watermark.idle-ms' (event time) past that, and is idle (holds nothing) from then
 * on: the appends of the buckets are separate requests, so a bucket's first rows may become
 * visible after another bucket's later ones, and must not find their windows closed); when
 * it reaches a window's last millisecond (end - 1) the window is closed: agg runs with
 * strom_window limited to the windows that end in (closed before, closed now] (and
 * __win_rows shows it only the rows that can be in them) and its rows are this statement's
 * rows; the rows of no open window are dropped from __win_rows once they are half of it.
 *
 * Jobs: the positions a job commits (sql_session_stream_pos) are, per bucket, the offset of
 * the oldest row still held for an open window (else the stream's position), and the end
 * of the last closed window goes with them (sql_session_window_closed), so a restarted job
 * reads again every row of the open windows and emits no closed window again.
 */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 'table.watermark.idle-ms' when unset: a bucket with no rows yet holds the watermark for
 * 30 s of event time after the first row (Flink's idle timeouts are of that order). */
#define SQL_WATERMARK_IDLE_MS 30000

typedef struct wcell {
    int type;                  /* SQLITE_INTEGER, _FLOAT, _TEXT, _BLOB, _NULL */
    int len;
    union {
        int64_t i;
        double d;
        size_t off;            /* into bytes */
    } v;
} wcell;

struct sql_wstream {
    /* what the statement is */
    char src[160], col[128];
    int64_t size, slide, delay;
    int64_t idle;              /* a bucket with no rows yet holds the watermark this long */
    char *agg_sql;             /* the query over __win_rows */
    /* the rows of open windows: nrows rows of ncols cells, their source rowids */
    int ncols, tcol;
    wcell *cells;
    int64_t *rid;
    size_t nrows, cap;
    strom_buf bytes;
    /* progress */
    int64_t closed;            /* windows ending at or before this are closed (INT64_MIN: none) */
    int64_t late;              /* rows dropped because all their windows were closed */
    int64_t safe[64];
    strom_table *t;            /* the source (for its buckets' ends) */
};

/* --------------------------------------------------------- the rows store */

static strom_err rows_add(sql_wstream *w, sqlite3_stmt *src)
{
    if (w->nrows == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 1024;
        wcell *c = strom_realloc(w->cells, cap * (size_t)w->ncols * sizeof *c);
        if (c)
            w->cells = c;
        int64_t *r = c ? strom_realloc(w->rid, cap * sizeof *r) : NULL;
        if (!r)
            return strom_fail(STROM_ENOMEM, "streaming window: out of memory for %zu open-window rows", cap);
        w->rid = r;
        w->cap = cap;
    }
    wcell *row = w->cells + w->nrows * (size_t)w->ncols;
    w->rid[w->nrows] = sqlite3_column_int64(src, 0);
    for (int i = 0; i < w->ncols; i++) {
        wcell *c = &row[i];
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
        c->v.off = w->bytes.len;
        strom_err e = c->len ? strom_buf_append(&w->bytes, p, (size_t)c->len) : STROM_OK;
        if (e != STROM_OK)
            return e;
    }
    w->nrows++;
    return STROM_OK;
}

/* Drops the rows whose time is before keep_from (in no open window); compacts. */
static strom_err rows_prune(sql_wstream *w, int64_t keep_from)
{
    size_t drop = 0;
    for (size_t r = 0; r < w->nrows; r++)
        drop += w->cells[r * (size_t)w->ncols + (size_t)w->tcol].v.i < keep_from;
    if (drop == 0 || drop * 2 < w->nrows)
        return STROM_OK;   /* compact when half is dead (amortized); closed windows skip the rest */
    strom_buf nb = {0};
    size_t k = 0;
    strom_err e = STROM_OK;
    for (size_t r = 0; r < w->nrows && e == STROM_OK; r++) {
        wcell *row = w->cells + r * (size_t)w->ncols;
        if (row[w->tcol].type == SQLITE_INTEGER && row[w->tcol].v.i < keep_from)
            continue;
        for (int i = 0; i < w->ncols && e == STROM_OK; i++)
            if (row[i].type == SQLITE_TEXT || row[i].type == SQLITE_BLOB) {
                size_t off = nb.len;
                e = row[i].len ? strom_buf_append(&nb, w->bytes.data + row[i].v.off, (size_t)row[i].len) : STROM_OK;
                row[i].v.off = off;
            }
        if (k != r) {
            memcpy(w->cells + k * (size_t)w->ncols, row, (size_t)w->ncols * sizeof *row);
            w->rid[k] = w->rid[r];
        }
        k++;
    }
    if (e != STROM_OK) {
        strom_buf_free(&nb);
        return e;
    }
    w->nrows = k;
    strom_buf_free(&w->bytes);
    w->bytes = nb;
    return STROM_OK;
}

/* --------------------------------------------------- module strom_rows */

typedef struct rcur {
    sqlite3_vtab_cursor base;
    const sql_vctx *x;
    sql_wstream *w;
    size_t r;
} rcur;

/* xCreate of both modules: declared as sql_wstream_prepare says (wstream_decl). */
static int made_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **err)
{
    (void)argc, (void)argv;
    return sql_ctx_vtab_make(db, ((sql_vctx *)aux)->wstream_decl, aux, out, err);
}

static int r_best_index(sqlite3_vtab *v, sqlite3_index_info *ii)
{
    (void)v;
    ii->estimatedCost = 1000;
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

/* Moves c->r to the next row that can be in a closing window (end in (win_lo, win_hi]:
 * time in (win_lo - size, win_hi)), so SQLite sees only those. */
static void r_skip(rcur *c)
{
    const sql_vctx *x = c->x;
    int64_t lo = x->win_lo == INT64_MIN ? INT64_MIN : x->win_lo - c->w->size;
    for (; c->r < c->w->nrows; c->r++) {
        int64_t ts = c->w->cells[c->r * (size_t)c->w->ncols + (size_t)c->w->tcol].v.i;
        if (ts > lo && ts < x->win_hi)
            break;
    }
}

static int r_filter(sqlite3_vtab_cursor *base, int idx, const char *s, int argc, sqlite3_value **argv)
{
    (void)idx, (void)s, (void)argc, (void)argv;
    rcur *c = (rcur *)base;
    c->x = ((sql_ctx_vtab *)base->pVtab)->ctx;
    c->w = c->x->wstream;
    c->r = 0;
    if (c->w)
        r_skip(c);
    return SQLITE_OK;
}

static int r_next(sqlite3_vtab_cursor *base)
{
    rcur *c = (rcur *)base;
    c->r++;
    r_skip(c);
    return SQLITE_OK;
}

static int r_eof(sqlite3_vtab_cursor *base)
{
    rcur *c = (rcur *)base;
    return !c->w || c->r >= c->w->nrows;
}

static int r_column(sqlite3_vtab_cursor *base, sqlite3_context *ctx, int i)
{
    rcur *c = (rcur *)base;
    const wcell *v = &c->w->cells[c->r * (size_t)c->w->ncols + (size_t)i];
    const char *p = (const char *)c->w->bytes.data + (v->len ? v->v.off : 0);
    switch (v->type) {
    case SQLITE_INTEGER: sqlite3_result_int64(ctx, v->v.i); break;
    case SQLITE_FLOAT: sqlite3_result_double(ctx, v->v.d); break;
    case SQLITE_TEXT: sqlite3_result_text(ctx, v->len ? p : "", v->len, SQLITE_STATIC); break;
    case SQLITE_BLOB: sqlite3_result_blob(ctx, v->len ? p : "", v->len, SQLITE_STATIC); break;
    default: sqlite3_result_null(ctx); break;
    }
    return SQLITE_OK;
}

static int any_rowid(sqlite3_vtab_cursor *base, sqlite3_int64 *out, int64_t v)
{
    (void)base;
    *out = v;
    return SQLITE_OK;
}

static int r_rowid(sqlite3_vtab_cursor *base, sqlite3_int64 *out)
{
    return any_rowid(base, out, (int64_t)((rcur *)base)->r);
}

static const sqlite3_module rows_module = {
    .iVersion = 1, .xCreate = made_connect, .xConnect = made_connect, .xBestIndex = r_best_index,
    .xDisconnect = sql_ctx_vtab_free, .xDestroy = sql_ctx_vtab_free, .xOpen = r_open, .xClose = r_close,
    .xFilter = r_filter, .xNext = r_next, .xEof = r_eof, .xColumn = r_column, .xRowid = r_rowid,
};

/* ------------------------------------------------ module strom_wstream */

typedef struct ocur {
    sqlite3_vtab_cursor base;
    sql_vctx *x;
    sqlite3_stmt *src, *agg;
    int agg_on, eof;
    uint64_t seen;             /* buckets with rows */
    int64_t first;             /* the time of the first row kept (seen != 0) */
    int hold;                  /* a bucket with unread rows that holds the watermark, or -1 */
    int64_t max_ts[64];        /* per bucket the greatest row time */
    int64_t rowid;
} ocur;

static int o_open(sqlite3_vtab *v, sqlite3_vtab_cursor **out)
{
    (void)v;
    return sql_cursor_alloc(sizeof(ocur), out);
}

static int o_close(sqlite3_vtab_cursor *base)
{
    ocur *c = (ocur *)base;
    sqlite3_finalize(c->src);
    sqlite3_finalize(c->agg);
    if (c->x) {
        c->x->win_lo = INT64_MIN;
        c->x->win_hi = INT64_MAX;
    }
    sqlite3_free(c);
    return SQLITE_OK;
}

static int o_fail(sqlite3_vtab_cursor *base, const char *what, sqlite3 *db)
{
    sqlite3_free(base->pVtab->zErrMsg);
    base->pVtab->zErrMsg = sqlite3_mprintf("%s%s", what, db ? sqlite3_errmsg(db) : strom_errmsg());
    return SQLITE_ERROR;
}

/* The end of the last window the watermark wm has passed (end - 1 <= wm). */
static int64_t closed_by(const sql_wstream *w, int64_t wm)
{
    if (wm < INT64_MIN / 4)
        return INT64_MIN;
    int64_t a = wm + 1 - w->size;
    int64_t k = a / w->slide - (a % w->slide != 0 && a < 0);
    return k * w->slide + w->size;
}

/* 1 when a bucket with no row seen yet has rows the stream has not read (c->hold: that
 * bucket, so the next rows need not look again until it is seen). */
static int unread_bucket(ocur *c, sql_wstream *w)
{
    if (c->hold >= 0 && !(c->seen >> c->hold & 1))
        return 1;
    const int64_t *pos = c->x->stream_pos;
    int n = c->x->stream_nbuckets;
    for (int b = 0; pos && w->t && b < n && b < 64; b++) {
        int64_t lo = 0, hi = 0;
        if (!(c->seen >> b & 1) && strom_table_offsets(w->t, b, &lo, &hi) == STROM_OK && hi > pos[b]) {
            c->hold = b;
            return 1;
        }
    }
    c->hold = -1;
    return 0;
}

/* The watermark wm of the buckets with rows, held back at the first row's time minus the
 * delay while a bucket has had no rows and wm is less than the idle span past that. */
static int64_t hold_for_empty(const ocur *c, const sql_wstream *w, int64_t wm)
{
    int nb = c->x->stream_nbuckets < 64 ? c->x->stream_nbuckets : 64;
    uint64_t all = nb == 64 ? ~(uint64_t)0 : ((uint64_t)1 << nb) - 1;
    int64_t held = c->first < INT64_MIN + w->delay ? INT64_MIN : c->first - w->delay;
    if ((c->seen & all) == all || wm <= held || (uint64_t)wm - (uint64_t)held >= (uint64_t)w->idle)
        return wm;                  /* (unsigned: wm > held, the difference cannot overflow) */
    return held;
}

/* One source row: kept (or dropped as late); may close windows (then agg is started). */
static strom_err take_row(ocur *c, sql_wstream *w)
{
    if (sqlite3_column_type(c->src, w->tcol + 1) != SQLITE_INTEGER)
        return STROM_OK;                         /* no time: in no window */
    int64_t ts = sqlite3_column_int64(c->src, w->tcol + 1);
    if (w->closed != INT64_MIN && ts < w->closed - w->size + w->slide) {
        w->late++;
        return STROM_OK;
    }
    strom_err e = rows_add(w, c->src);
    if (e != STROM_OK)
        return e;
    int b = (int)((uint64_t)sqlite3_column_int64(c->src, 0) >> 48 & 63);
    if (!c->seen)
        c->first = ts;
    if (!(c->seen >> b & 1) || ts > c->max_ts[b])
        c->max_ts[b] = ts;
    c->seen |= (uint64_t)1 << b;
    int64_t wm = INT64_MAX;                      /* the least of the buckets' watermarks */
    for (int k = 0; k < 64 && k < c->x->stream_nbuckets; k++)
        if ((c->seen >> k & 1) && c->max_ts[k] - w->delay < wm)
            wm = c->max_ts[k] - w->delay;
    int64_t end = closed_by(w, hold_for_empty(c, w, wm));
    if (end > w->closed && unread_bucket(c, w))
        return STROM_OK;                         /* a bucket not read yet holds it back */
    if (end > w->closed) {
        c->x->win_lo = w->closed;
        c->x->win_hi = end;
        w->closed = end;
        sqlite3_reset(c->agg);
        c->agg_on = 1;
    }
    return STROM_OK;
}

/* Moves to the next result row: the closing windows' rows, else more source rows. */
static int o_advance(sqlite3_vtab_cursor *base)
{
    ocur *c = (ocur *)base;
    sql_wstream *w = c->x->wstream;
    sqlite3 *db = sqlite3_db_handle(c->src);
    for (;;) {
        if (c->agg_on) {
            int rc = sqlite3_step(c->agg);
            if (rc == SQLITE_ROW)
                return SQLITE_OK;
            c->agg_on = 0;
            if (rc != SQLITE_DONE)
                return o_fail(base, "streaming window: ", db);
            if (rows_prune(w, w->closed - w->size + w->slide) != STROM_OK)
                return o_fail(base, "streaming window: ", NULL);
            continue;
        }
        int rc = sqlite3_step(c->src);
        if (rc == SQLITE_DONE) {
            c->eof = 1;
            return SQLITE_OK;
        }
        if (rc != SQLITE_ROW)
            return o_fail(base, "", db);
        if (take_row(c, w) != STROM_OK)
            return o_fail(base, "streaming window: ", NULL);
    }
}

static int o_filter(sqlite3_vtab_cursor *base, int idx, const char *s, int argc, sqlite3_value **argv)
{
    (void)idx, (void)s, (void)argc, (void)argv;
    ocur *c = (ocur *)base;
    c->x = ((sql_ctx_vtab *)base->pVtab)->ctx;
    c->hold = -1;
    sql_wstream *w = c->x->wstream;
    sqlite3 *db = c->x->wstream_db;
    char *q = sqlite3_mprintf("SELECT rowid, * FROM main.\"%w\"", w->src);
    int rc = q ? sqlite3_prepare_v2(db, q, -1, &c->src, NULL) : SQLITE_NOMEM;
    sqlite3_free(q);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, w->agg_sql, -1, &c->agg, NULL);
    if (rc != SQLITE_OK)
        return o_fail(base, "streaming window: ", db);
    return o_advance(base);
}

static int o_eof(sqlite3_vtab_cursor *base) { return ((ocur *)base)->eof; }

static int o_next(sqlite3_vtab_cursor *base)
{
    ((ocur *)base)->rowid++;
    return o_advance(base);
}

static int o_column(sqlite3_vtab_cursor *base, sqlite3_context *ctx, int i)
{
    sqlite3_result_value(ctx, sqlite3_column_value(((ocur *)base)->agg, i));
    return SQLITE_OK;
}

static int o_rowid(sqlite3_vtab_cursor *base, sqlite3_int64 *out) { return any_rowid(base, out, ((ocur *)base)->rowid); }

static const sqlite3_module out_module = {
    .iVersion = 1, .xCreate = made_connect, .xConnect = made_connect, .xBestIndex = r_best_index,
    .xDisconnect = sql_ctx_vtab_free, .xDestroy = sql_ctx_vtab_free, .xOpen = o_open, .xClose = o_close,
    .xFilter = o_filter, .xNext = o_next, .xEof = o_eof, .xColumn = o_column, .xRowid = o_rowid,
};

/* ------------------------------------------------------------- set up */

strom_err sql_wstream_register(sqlite3 *db, sql_vctx *ctx)
{
    ctx->wstream_db = db;
    ctx->win_resume_closed = INT64_MIN;
    int rc = sqlite3_create_module(db, "strom_rows", &rows_module, ctx);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_module(db, "strom_wstream", &out_module, ctx);
    return rc == SQLITE_OK ? STROM_OK
                           : strom_fail(STROM_EINVAL, "sqlite3_create_module: %s", sqlite3_errmsg(db));
}

void sql_wstream_free(sql_wstream *w)
{
    if (!w)
        return;
    strom_table_close(w->t);
    free(w->agg_sql);
    free(w->cells);
    free(w->rid);
    strom_buf_free(&w->bytes);
    free(w);
}

static strom_err exec(sqlite3 *db, const char *q)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, q, NULL, NULL, &err);
    strom_err e = rc == SQLITE_OK ? STROM_OK : strom_fail(STROM_EINVAL, "streaming window: %s", err ? err : "?");
    sqlite3_free(err);
    return e;
}

/* CREATE VIRTUAL TABLE temp.name USING module, declared as decl (owned by the caller). */
static strom_err make_table(sql_vctx *x, const char *name, const char *module, char *decl)
{
    x->wstream_decl = decl;
    char *q = sqlite3_mprintf("CREATE VIRTUAL TABLE temp.\"%w\" USING %s", name, module);
    strom_err e = q ? exec(x->wstream_db, q) : STROM_ENOMEM;
    sqlite3_free(q);
    x->wstream_decl = NULL;
    return e;
}

/* The source's columns as a declaration; w->ncols, w->tcol. */
static strom_err source_decl(sql_vctx *x, sql_wstream *w, sqlite3_str *d)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(x->wstream_db, "SELECT name, type FROM pragma_table_info(?)", -1, &st, NULL);
    if (rc == SQLITE_OK)
        sqlite3_bind_text(st, 1, w->src, -1, SQLITE_STATIC);
    w->tcol = -1;
    sqlite3_str_appendall(d, "CREATE TABLE x(");
    while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *n = (const char *)sqlite3_column_text(st, 0), *t = (const char *)sqlite3_column_text(st, 1);
        if (!sqlite3_stricmp(n, w->col))
            w->tcol = w->ncols;
        sqlite3_str_appendf(d, "%s\"%w\" %s", w->ncols++ ? ", " : "", n, t ? t : "");
    }
    sqlite3_str_appendall(d, ")");
    sqlite3_finalize(st);
    if (w->ncols == 0)
        return strom_fail(STROM_ENOTFOUND, "streaming window: no table %s", w->src);
    if (w->tcol < 0)
        return strom_fail(STROM_ESCHEMA, "streaming window: table %s has no column %s", w->src, w->col);
    return STROM_OK;
}

/* The result columns of agg as a declaration (names made unique). */
static strom_err result_decl(sql_vctx *x, const char *agg, sqlite3_str *d)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(x->wstream_db, agg, -1, &st, NULL) != SQLITE_OK)
        return strom_fail(STROM_EINVAL, "%s", sqlite3_errmsg(x->wstream_db));
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
    return STROM_OK;
}

/* The table's option key in ms (>= 0; def when unset or no table): the watermark's delay
 * ('table.watermark.delay-ms') and idle span ('table.watermark.idle-ms'). */
static int64_t option_ms(sql_vctx *x, const char *table, const char *key, int64_t def)
{
    strom_table *t = NULL;
    if (strom_table_open(x->db, table, &t) != STROM_OK)
        return def;
    const char *v = strom_table_option(t, key);
    int64_t d = v && *v ? strtoll(v, NULL, 10) : def;
    strom_table_close(t);
    return d > 0 ? d : 0;
}

void sql_wstream_end(sql_vctx *x)
{
    if (!x->wstream)
        return;
    char msg[1024];                     /* keep the caller's message */
    snprintf(msg, sizeof msg, "%s", strom_errmsg());
    exec(x->wstream_db, "DROP TABLE IF EXISTS temp.\"__win_out\"; DROP TABLE IF EXISTS temp.\"__win_rows\"");
    sql_wstream_free(x->wstream);
    x->wstream = NULL;
    strom_fail(STROM_OK, "%s", msg);
}

strom_err sql_wstream_prepare(sql_vctx *x, const sql_window *win, const char *agg_sql)
{
    sql_wstream_end(x);
    sql_wstream *w = x->wstream = strom_calloc(1, sizeof *w);
    if (!w || !(w->agg_sql = strom_strdup(agg_sql)))
        return STROM_ENOMEM;
    snprintf(w->src, sizeof w->src, "%s", win->table);
    snprintf(w->col, sizeof w->col, "%s", win->col);
    w->size = win->size;
    w->slide = win->slide;
    w->delay = option_ms(x, win->table, "table.watermark.delay-ms", 0);
    w->idle = option_ms(x, win->table, "table.watermark.idle-ms", SQL_WATERMARK_IDLE_MS);
    w->closed = x->win_resume_closed;
    if (strom_table_open(x->db, w->src, &w->t) != STROM_OK)
        w->t = NULL;                              /* a view or no table: named by the prepare */
    sqlite3_str *d = sqlite3_str_new(NULL);
    strom_err e = source_decl(x, w, d);
    char *decl = sqlite3_str_finish(d);
    if (e == STROM_OK)
        e = decl ? make_table(x, "__win_rows", "strom_rows", decl) : STROM_ENOMEM;
    sqlite3_free(decl);
    d = sqlite3_str_new(NULL);
    if (e == STROM_OK)
        e = result_decl(x, agg_sql, d);
    decl = sqlite3_str_finish(d);
    if (e == STROM_OK)
        e = decl ? make_table(x, "__win_out", "strom_wstream", decl) : STROM_ENOMEM;
    sqlite3_free(decl);
    return e;
}

const int64_t *sql_wstream_safe_pos(sql_wstream *w, const int64_t *pos, int n)
{
    if (n > 64)
        return pos;
    memcpy(w->safe, pos, (size_t)n * sizeof *pos);
    for (size_t r = 0; r < w->nrows; r++) {
        int b = (int)(w->rid[r] >> 48);
        int64_t off = w->rid[r] & (((int64_t)1 << 48) - 1);
        if (b >= 0 && b < n && off < w->safe[b])
            w->safe[b] = off;
    }
    return w->safe;
}

int64_t sql_wstream_closed(const sql_wstream *w) { return w->closed; }
int64_t sql_wstream_late(const sql_wstream *w) { return w->late; }
