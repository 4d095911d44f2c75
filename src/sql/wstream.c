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
 * Every window's end is a multiple of the slide (CUMULATE: the step) and every multiple is
 * some window's end, so the windows the watermark closes are those ending up to the last
 * multiple at or before it + 1 ms; a row is late when its last window (HOP: the one
 * starting at the multiple of the slide at or before it; CUMULATE: the max-size one) has
 * closed, and counts in its open windows only otherwise.
 *
 * A job into a log-table sink closes the windows one end at a time, skipping ends no held
 * row is in (next_end), and tells the sink after each (sql_job_sink.window_end): each end's
 * rows are one idempotent append, the same on a replay (server/job_log.c).
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

struct sql_wstream {
    /* what the statement is */
    char src[160], col[128];
    int64_t size, slide, delay;
    int cumulate;              /* CUMULATE: size the max size, slide the step */
    int64_t idle;              /* a bucket with no rows yet holds the watermark this long */
    char *agg_sql;             /* the query over __win_rows */
    sql_store rows;            /* the rows of open windows (rowstore.c) */
    /* progress */
    int64_t closed;            /* windows ending at or before this are closed (INT64_MIN: none) */
    int64_t target;            /* one end at a time (a log-sink job): close up to this */
    int64_t late;              /* rows dropped because all their windows were closed */
    int64_t safe[64];
    strom_table *t;            /* the source (for its buckets' ends) */
};

/* ------------------------------------------------ module strom_wstream */

typedef struct ocur {
    sql_out_cursor o;          /* o.rows: agg */
    sql_vctx *x;
    sqlite3_stmt *src;
    int agg_on;
    uint64_t seen;             /* buckets with rows */
    int64_t first;             /* the time of the first row kept (seen != 0) */
    int hold;                  /* a bucket with unread rows that holds the watermark, or -1 */
    int64_t max_ts[64];        /* per bucket the greatest row time */
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
    sqlite3_finalize(c->o.rows);
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

/* The least time of a row that is in a window ending after closed: rows before it are in
 * closed windows only (late). HOP / TUMBLE: the start of the first open window; CUMULATE:
 * the start of the open windows' common start. */
static int64_t open_from(const sql_wstream *w, int64_t closed)
{
    if (closed == INT64_MIN)
        return INT64_MIN;
    return w->cumulate ? sql_floor_div(closed, w->size) * w->size : closed - w->size + w->slide;
}

/* A time before every row that can be in a window ending after lo (the windows closing;
 * the store shows the rows after it). */
static int64_t window_rows_after(const sql_wstream *w, int64_t lo)
{
    if (lo == INT64_MIN)
        return INT64_MIN;
    return w->cumulate ? sql_floor_div(lo, w->size) * w->size - 1 : lo - w->size;
}

/* The end of the last window the watermark wm has passed (end - 1 <= wm); every multiple
 * of the slide (CUMULATE: the step) is some window's end. */
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

/* Starts agg over the windows ending in (closed, end]. */
static void close_windows(ocur *c, sql_wstream *w, int64_t end)
{
    c->x->win_lo = w->closed;
    c->x->win_hi = end;                          /* rows that can be in them: */
    sql_store_show(&w->rows, 0, window_rows_after(w, w->closed), end);
    w->closed = end;
    sqlite3_reset(c->o.rows);
    c->agg_on = 1;
}

/* The least end after closed, up to w->target, of a window holding a row held (w->target
 * when none): a row at ts is in windows ending at the multiples of the slide (CUMULATE:
 * the step) after ts, from the first one. */
static int64_t next_end(const sql_wstream *w)
{
    int64_t best = w->target, from = open_from(w, w->closed);
    int64_t first = w->closed == INT64_MIN ? INT64_MIN : w->closed + w->slide;
    for (size_t r = 0; r < w->rows.nrows && best > first; r++) {
        int64_t ts = sql_store_time(&w->rows, r);
        if (ts < from)
            continue;                            /* its windows are all closed */
        int64_t e = (sql_floor_div(ts, w->slide) + 1) * w->slide;
        e = e > first ? e : first;
        best = e < best ? e : best;
    }
    return best;
}

/* The watermark closes the windows ending up to end: at once, or for a log-sink job one
 * end at a time (each its own append: sql_job_sink.window_end). */
static void close_upto(ocur *c, sql_wstream *w, int64_t end)
{
    if (!c->x->sink.window_end) {
        close_windows(c, w, end);
        return;
    }
    w->target = end;
    close_windows(c, w, next_end(w));
}

/* One source row: kept (or dropped as late); may close windows (then agg is started). */
static strom_err take_row(ocur *c, sql_wstream *w)
{
    if (sqlite3_column_type(c->src, w->rows.tcol + 1) != SQLITE_INTEGER)
        return STROM_OK;                         /* no time: in no window */
    int64_t ts = sqlite3_column_int64(c->src, w->rows.tcol + 1);
    if (w->closed != INT64_MIN && ts < open_from(w, w->closed)) {
        w->late++;
        return STROM_OK;
    }
    strom_err e = sql_store_add(&w->rows, c->src);
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
    if (end > w->closed)
        close_upto(c, w, end);
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
            int rc = sqlite3_step(c->o.rows);
            if (rc == SQLITE_ROW)
                return SQLITE_OK;
            c->agg_on = 0;
            if (rc != SQLITE_DONE)
                return o_fail(base, "streaming window: ", db);
            const sql_job_sink *k = &c->x->sink;
            if (k->window_end && k->window_end(k->arg, w->closed, w->slide) != STROM_OK)
                return o_fail(base, "streaming window: ", NULL);
            if (k->window_end && w->closed < w->target) {
                close_windows(c, w, next_end(w));   /* the next end with rows */
                continue;
            }
            if (sql_store_prune(&w->rows, open_from(w, w->closed)) != STROM_OK)
                return o_fail(base, "streaming window: ", NULL);
            continue;
        }
        int rc = sqlite3_step(c->src);
        if (rc == SQLITE_DONE) {
            c->o.eof = 1;
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
    c->o.advance = o_advance;
    c->hold = -1;
    sql_wstream *w = c->x->wstream;
    sqlite3 *db = c->x->wstream_db;
    char *q = sqlite3_mprintf("SELECT rowid, * FROM main.\"%w\"", w->src);
    int rc = q ? sqlite3_prepare_v2(db, q, -1, &c->src, NULL) : SQLITE_NOMEM;
    sqlite3_free(q);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, w->agg_sql, -1, &c->o.rows, NULL);
    if (rc != SQLITE_OK)
        return o_fail(base, "streaming window: ", db);
    return o_advance(base);
}

static sqlite3_module out_module = {.xOpen = o_open, .xClose = o_close, .xFilter = o_filter};

/* ------------------------------------------------------------- set up */

strom_err sql_wstream_register(sqlite3 *db, sql_vctx *ctx)
{
    ctx->wstream_db = db;
    ctx->win_resume_closed = INT64_MIN;
    strom_err e = sql_store_register(db, ctx);
    return e == STROM_OK ? sql_store_output(db, ctx, "strom_wstream", &out_module) : e;
}

void sql_wstream_free(sql_wstream *w)
{
    if (!w)
        return;
    strom_table_close(w->t);
    free(w->agg_sql);
    sql_store_free(&w->rows);
    free(w);
}

void sql_wstream_end(sql_vctx *x)
{
    if (!x->wstream)
        return;
    char msg[1024];                     /* keep the caller's message */
    snprintf(msg, sizeof msg, "%s", strom_errmsg());
    sql_exec(x->wstream_db, "streaming window",
             "DROP TABLE IF EXISTS temp.\"__win_out\"; DROP TABLE IF EXISTS temp.\"__win_rows\"");
    x->stores[0] = NULL;
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
    w->cumulate = win->cumulate;
    w->delay = sql_table_delay(x, win->table);
    w->idle = sql_table_option_ms(x, win->table, "table.watermark.idle-ms", SQL_WATERMARK_IDLE_MS);
    w->closed = x->win_resume_closed;
    sql_store_show(&w->rows, 0, INT64_MIN, INT64_MAX);
    x->stores[0] = &w->rows;
    if (strom_table_open(x->db, w->src, &w->t) != STROM_OK)
        w->t = NULL;                              /* a view or no table: named by the prepare */
    char *decl = NULL;
    strom_err e = sql_source_decl(x, w->src, w->col, NULL, &w->rows, &decl);
    if (e == STROM_OK)
        e = sql_make_table(x, "__win_rows", "strom_rows(0)", decl);
    sqlite3_free(decl);
    decl = NULL;
    if (e == STROM_OK)
        e = sql_result_decl(x, agg_sql, &decl);
    if (e == STROM_OK)
        e = sql_make_table(x, "__win_out", "strom_wstream", decl);
    sqlite3_free(decl);
    return e;
}

const int64_t *sql_wstream_safe_pos(sql_wstream *w, const int64_t *pos, int n)
{
    if (n > 64)
        return pos;
    memcpy(w->safe, pos, (size_t)n * sizeof *pos);
    for (size_t r = 0; r < w->rows.nrows; r++) {
        int b = (int)(w->rows.rid[r] >> 48);
        int64_t off = w->rows.rid[r] & (((int64_t)1 << 48) - 1);
        if (b >= 0 && b < n && off < w->safe[b])
            w->safe[b] = off;
    }
    return w->safe;
}

int64_t sql_wstream_closed(const sql_wstream *w) { return w->closed; }
int64_t sql_wstream_late(const sql_wstream *w) { return w->late; }
