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

/* The table format keeps every cell (NUL-separated in one buffer) to size the columns. */
typedef struct grid {
    strom_buf cells;
    size_t *width;
    int ncols;
} grid;

static strom_err grid_add(grid *g, const char *v)
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

static void rule(FILE *f, const grid *g)
{
    for (int i = 0; i < g->ncols; i++) {
        fputc('+', f);
        for (size_t k = 0; k < g->width[i] + 2; k++)
            fputc('-', f);
    }
    fputs("+\n", f);
}

static void grid_print(FILE *f, grid *g, int64_t rows)
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
    for (int64_t r = 0; r <= rows && p < end; r++) {
        for (int i = 0; i < g->ncols && p < end; i++) {
            fprintf(f, "| %s", p);
            for (size_t k = disp_width(p); k < g->width[i] + 1; k++)
                fputc(' ', f);
            p += strlen(p) + 1;
        }
        fputs("|\n", f);
        if (r == 0)
            rule(f, g);
    }
    if (rows > 0)
        rule(f, g);
}

static strom_err step_error(sqlite3_stmt *st, int rc)
{
    sqlite3 *db = sqlite3_db_handle(st);
    if (rc == SQLITE_INTERRUPT)
        return strom_fail(STROM_ETIMEOUT, "interrupted");
    return strom_fail(STROM_EINVAL, "%s", sqlite3_errmsg(db));
}

strom_err sql_print(sqlite3_stmt *st, sql_format fmt, FILE *f, int64_t *nrows)
{
    int nc = sqlite3_column_count(st);
    grid g = {.ncols = nc};
    g.width = nc ? strom_calloc((size_t)nc, sizeof *g.width) : NULL;
    strom_err e = nc && !g.width ? STROM_ENOMEM : STROM_OK;
    for (int i = 0; i < nc && e == STROM_OK; i++) {
        if (fmt == SQL_FMT_TABLE)
            e = grid_add(&g, sqlite3_column_name(st, i));
        else if (fmt == SQL_FMT_CSV) {
            if (i)
                fputc(',', f);
            csv_field(f, sqlite3_column_name(st, i));
        }
    }
    if (fmt == SQL_FMT_CSV && nc)
        fputc('\n', f);
    int64_t rows = 0;
    int rc;
    char tbuf[32];
    while (e == STROM_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        rows++;
        for (int i = 0; i < nc && e == STROM_OK; i++) {
            int is_text;
            const char *v = cell(st, i, tbuf, &is_text);
            if (fmt == SQL_FMT_TABLE) {
                e = grid_add(&g, v);
            } else if (fmt == SQL_FMT_CSV) {
                if (i)
                    fputc(',', f);
                csv_field(f, v);
            } else {
                fputs(i ? ", " : "{", f);
                json_string(f, sqlite3_column_name(st, i));
                fputs(": ", f);
                if (!v)
                    fputs("null", f);
                else if (is_text)
                    json_string(f, v);
                else
                    fputs(v, f);
            }
        }
        if (fmt == SQL_FMT_CSV)
            fputc('\n', f);
        else if (fmt == SQL_FMT_JSON)
            fputs(nc ? "}\n" : "{}\n", f);
    }
    if (e == STROM_OK && rc != SQLITE_DONE)
        e = step_error(st, rc);
    if (fmt == SQL_FMT_TABLE && nc && (e == STROM_OK || rows))
        grid_print(f, &g, rows);
    strom_buf_free(&g.cells);
    free(g.width);
    if (nrows)
        *nrows = rows;
    return e;
}
