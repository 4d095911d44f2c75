/* output.c: printing a statement's rows as an aligned table, CSV or JSON lines
 * (sql_print, engine.h). */
#include "engine.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *sql_format_time(int64_t ms, char *buf)
{
    int64_t s = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int frac = (int)(ms - s * 1000);
    time_t tt = (time_t)s;
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) {
        snprintf(buf, 32, "%lld", (long long)ms);
        return buf;
    }
    char tmp[24];
    strftime(tmp, sizeof tmp, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf, 32, "%.23s.%03d", tmp, frac);
    return buf;
}

/* The text of column i of the current row; NULL for SQL NULL. tbuf holds formatted times. */
static const char *cell(sqlite3_stmt *st, int i, char *tbuf, int *is_text)
{
    int t = sqlite3_column_type(st, i);
    *is_text = t == SQLITE_TEXT || t == SQLITE_BLOB;
    if (t == SQLITE_NULL)
        return NULL;
    const char *decl = sqlite3_column_decltype(st, i);
    if (t == SQLITE_INTEGER && decl && !sqlite3_stricmp(decl, "TIMESTAMP")) {
        *is_text = 1;
        return sql_format_time(sqlite3_column_int64(st, i), tbuf);
    }
    const char *v = (const char *)sqlite3_column_text(st, i);
    return v ? v : "";
}

static void csv_field(FILE *f, const char *v)
{
    if (!v)
        return;
    if (!strpbrk(v, ",\"\r\n")) {
        fputs(v, f);
        return;
    }
    fputc('"', f);
    for (; *v; v++) {
        if (*v == '"')
            fputc('"', f);
        fputc(*v, f);
    }
    fputc('"', f);
}

static void json_string(FILE *f, const char *v)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* The table format keeps every cell (NUL-separated in one buffer) to size the columns;
 * a streaming printer prints each row at once, in columns sized by the header. */
struct sql_printer {
    sql_format fmt;
    FILE *f;
    int ncols, stream;
    const char **names;        /* borrowed from the caller (table/json) */
    strom_buf cells;
    size_t *width;
    int64_t rows;
    strom_buf tmp;             /* text of a batch's row */
};

static strom_err grid_add(sql_printer *g, const char *v)
{
    const char *s = v ? v : "NULL";
    return strom_buf_append(&g->cells, s, strlen(s) + 1);
}

static size_t disp_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void rule(FILE *f, const sql_printer *g)
{
    for (int i = 0; i < g->ncols; i++) {
        fputc('+', f);
        for (size_t k = 0; k < g->width[i] + 2; k++)
            fputc('-', f);
    }
    fputs("+\n", f);
}

static void grid_line(FILE *f, const sql_printer *g, const char *const *v)
{
    for (int i = 0; i < g->ncols; i++) {
        fprintf(f, "| %s", v[i]);
        for (size_t k = disp_width(v[i]); k < g->width[i] + 1; k++)
            fputc(' ', f);
    }
    fputs("|\n", f);
}

static void grid_print(FILE *f, sql_printer *g)
{
    const char *p = (const char *)g->cells.data;
    const char *end = p + g->cells.len;
    for (const char *q = p; q < end; ) {      /* widths */
        for (int i = 0; i < g->ncols && q < end; i++) {
            size_t w = disp_width(q);
            if (w > g->width[i])
                g->width[i] = w;
            q += strlen(q) + 1;
        }
    }
    rule(f, g);
    const char *v[SQL_MAX_COLS];
    for (int64_t r = 0; r <= g->rows && p < end; r++) {
        for (int i = 0; i < g->ncols && p < end; i++) {
            v[i] = p;
            p += strlen(p) + 1;
        }
        grid_line(f, g, v);
        if (r == 0)
            rule(f, g);
    }
    if (g->rows > 0)
        rule(f, g);
}

strom_err sql_printer_open(sql_format fmt, FILE *f, int ncols, const char *const *names, int stream,
                           sql_printer **out)
{
    *out = NULL;
    if (ncols > SQL_MAX_COLS)
        return strom_fail(STROM_ELIMIT, "a result of %d columns (at most %d)", ncols, SQL_MAX_COLS);
    sql_printer *p = strom_calloc(1, sizeof *p);
    if (!p)
        return STROM_ENOMEM;
    *p = (sql_printer){.fmt = fmt, .f = f, .ncols = ncols, .stream = stream};
    p->width = strom_calloc((size_t)ncols + 1, sizeof *p->width);
    p->names = strom_calloc((size_t)ncols + 1, sizeof *p->names);
    strom_err e = p->width && p->names ? STROM_OK : STROM_ENOMEM;
    for (int i = 0; i < ncols && e == STROM_OK; i++) {
        p->names[i] = names[i];
        if (fmt == SQL_FMT_TABLE && !stream)
            e = grid_add(p, names[i]);
        else if (fmt == SQL_FMT_CSV) {
            if (i)
                fputc(',', f);
            csv_field(f, names[i]);
        }
        p->width[i] = !stream || disp_width(names[i]) > 12 ? disp_width(names[i]) : 12;
    }
    if (fmt == SQL_FMT_CSV && ncols)
        fputc('\n', f);
    if (e == STROM_OK && fmt == SQL_FMT_TABLE && stream && ncols) {
        rule(f, p);
        grid_line(f, p, names);
        rule(f, p);
    }
    if (e != STROM_OK) {
        sql_printer_close(p, 0);
        return e;
    }
    *out = p;
    return STROM_OK;
}

strom_err sql_printer_row(sql_printer *p, const char *const *v, const uint8_t *is_text)
{
    FILE *f = p->f;
    p->rows++;
    if (p->fmt == SQL_FMT_TABLE && p->stream) {
        const char *s[SQL_MAX_COLS];
        for (int i = 0; i < p->ncols; i++)
            s[i] = v[i] ? v[i] : "NULL";
        grid_line(f, p, s);
        return STROM_OK;
    }
    for (int i = 0; i < p->ncols; i++) {
        if (p->fmt == SQL_FMT_TABLE) {
            strom_err e = grid_add(p, v[i]);
            if (e != STROM_OK)
                return e;
        } else if (p->fmt == SQL_FMT_CSV) {
            if (i)
                fputc(',', f);
            csv_field(f, v[i]);
        } else {
            fputs(i ? ", " : "{", f);
            json_string(f, p->names[i]);
            fputs(": ", f);
            if (!v[i])
                fputs("null", f);
            else if (is_text[i])
                json_string(f, v[i]);
            else
                fputs(v[i], f);
        }
    }
    if (p->fmt == SQL_FMT_CSV)
        fputc('\n', f);
    else if (p->fmt == SQL_FMT_JSON)
        fputs(p->ncols ? "}\n" : "{}\n", f);
    return STROM_OK;
}

int64_t sql_printer_close(sql_printer *p, int print)
{
    if (!p)
        return 0;
    int64_t rows = p->rows;
    if (print && p->fmt == SQL_FMT_TABLE && !p->stream && p->ncols)
        grid_print(p->f, p);
    else if (print && p->fmt == SQL_FMT_TABLE && p->stream && p->ncols && rows)
        rule(p->f, p);
    strom_buf_free(&p->cells);
    strom_buf_free(&p->tmp);
    free(p->width);
    free(p->names);
    free(p);
    return rows;
}

/* Text of row r of column c as the SQLite session prints it (sqlite3_column_text): "%lld",
 * doubles with SQLite's "%!.15g", TIMESTAMP as 'yyyy-MM-dd HH:mm:ss.SSS'. Appended to buf
 * with its NUL. *is_text: quoted in JSON. */
static strom_err batch_cell(const strom_batch *b, int c, int64_t r, strom_buf *buf, int *is_text)
{
    strom_column col;
    strom_err e = strom_batch_column(b, c, &col);
    if (e != STROM_OK)
        return e;
    char tmp[64];
    const char *s = tmp;
    size_t n;
    *is_text = col.type == STROM_STRING || col.type == STROM_BYTES || col.type == STROM_TIMESTAMP;
    switch (col.type) {
    case STROM_STRING:
    case STROM_BYTES:
        s = strom_batch_get_str(b, c, r, &n);
        break;
    case STROM_TIMESTAMP:
        sql_format_time(strom_batch_get_int(b, c, r), tmp);
        n = strlen(tmp);
        break;
    case STROM_FLOAT:
    case STROM_DOUBLE:
        sqlite3_snprintf(sizeof tmp, tmp, "%!.15g", strom_batch_get_f64(b, c, r));
        n = strlen(tmp);
        break;
    default:
        n = (size_t)snprintf(tmp, sizeof tmp, "%lld", (long long)strom_batch_get_int(b, c, r));
        break;
    }
    e = strom_buf_append(buf, s, n);
    return e == STROM_OK ? strom_buf_append(buf, "", 1) : e;
}

strom_err sql_printer_batch(sql_printer *p, const strom_batch *b)
{
    if (strom_batch_ncols(b) != p->ncols)
        return strom_fail(STROM_EPROTO, "a result batch of %d columns; the result has %d",
                          strom_batch_ncols(b), p->ncols);
    const char *v[SQL_MAX_COLS];
    uint8_t txt[SQL_MAX_COLS];
    size_t at[SQL_MAX_COLS];
    strom_err e = STROM_OK;
    for (int64_t r = 0; r < strom_batch_nrows(b) && e == STROM_OK; r++) {
        strom_buf_clear(&p->tmp);
        for (int i = 0; i < p->ncols && e == STROM_OK; i++) {
            int t = 0;
            at[i] = p->tmp.len;
            if (strom_batch_is_null(b, i, r))
                at[i] = SIZE_MAX;
            else
                e = batch_cell(b, i, r, &p->tmp, &t);
            txt[i] = (uint8_t)t;
        }
        for (int i = 0; i < p->ncols; i++)
            v[i] = at[i] == SIZE_MAX ? NULL : (const char *)p->tmp.data + at[i];
        if (e == STROM_OK)
            e = sql_printer_row(p, v, txt);
    }
    return e;
}

static strom_err step_error(sqlite3_stmt *st, int rc)
{
    sqlite3 *db = sqlite3_db_handle(st);
    if (rc == SQLITE_INTERRUPT)
        return strom_fail(STROM_ETIMEOUT, "interrupted");
    return strom_fail(STROM_EINVAL, "%s", sqlite3_errmsg(db));
}

strom_err sql_print_stream(sqlite3_stmt *st, sql_format fmt, FILE *f, int stream, int64_t *nrows)
{
    int nc = sqlite3_column_count(st);
    const char *names[SQL_MAX_COLS];
    for (int i = 0; i < nc && i < SQL_MAX_COLS; i++)
        names[i] = sqlite3_column_name(st, i);
    sql_printer *p = NULL;
    strom_err e = sql_printer_open(fmt, f, nc, names, stream, &p);
    int rc = SQLITE_DONE;
    char *tbuf = strom_malloc((size_t)nc * 32 + 1);   /* a formatted time per column */
    const char *v[SQL_MAX_COLS];
    uint8_t txt[SQL_MAX_COLS];
    if (e == STROM_OK && !tbuf)
        e = STROM_ENOMEM;
    while (e == STROM_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < nc; i++) {
            int t;
            v[i] = cell(st, i, tbuf + 32 * i, &t);
            txt[i] = (uint8_t)t;
        }
        e = sql_printer_row(p, v, txt);
        if (stream)
            fflush(f);
    }
    free(tbuf);
    if (e == STROM_OK && rc != SQLITE_DONE)
        e = step_error(st, rc);
    int64_t rows = sql_printer_close(p, e == STROM_OK || (p && p->rows));
    if (nrows)
        *nrows = rows;
    return e;
}

strom_err sql_print(sqlite3_stmt *st, sql_format fmt, FILE *f, int64_t *nrows)
{
    return sql_print_stream(st, fmt, f, 0, nrows);
}
