/* cli_rows.c: rows as text (CSV with a header line, or JSON Lines) for tail and lookup;
 * the value forms are in cli_client.h. Output goes through stdio buffers: no per-row
 * system call. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_client.h"

/* Shortest of %.15g..%.17g that reads back to v. */
static void fmt_double(char *buf, size_t n, double v, int is_float)
{
    if (isnan(v)) {
        snprintf(buf, n, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, n, v > 0 ? "inf" : "-inf");
        return;
    }
    for (int p = is_float ? 6 : 15; p <= 17; p++) {
        snprintf(buf, n, "%.*g", p, v);
        double back = strtod(buf, NULL);
        if (is_float ? (float)back == (float)v : back == v)
            return;
    }
}

static void csv_str(FILE *f, const char *s, size_t len)
{
    int quote = len == 0 || memchr(s, ',', len) || memchr(s, '"', len) || memchr(s, '\n', len) ||
                memchr(s, '\r', len);
    if (!quote) {
        fwrite(s, 1, len, f);
        return;
    }
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            fputc('"', f);
        fputc(s[i], f);
    }
    fputc('"', f);
}

static void json_str(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch == '\n')
            fputs("\\n", f);
        else if (ch == '\t')
            fputs("\\t", f);
        else if (ch == '\r')
            fputs("\\r", f);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void print_value(FILE *f, const strom_batch *b, int c, int64_t r, strom_type t, cli_fmt fmt)
{
    char buf[64];
    if (strom_batch_is_null(b, c, r)) {
        if (fmt == CLI_FMT_JSONL)
            fputs("null", f);
        return;
    }
    switch (t) {
    case STROM_BOOLEAN: fputs(strom_batch_get_int(b, c, r) ? "true" : "false", f); return;
    case STROM_INT: case STROM_BIGINT:
        fprintf(f, "%lld", (long long)strom_batch_get_int(b, c, r));
        return;
    case STROM_FLOAT: case STROM_DOUBLE: {
        double v = strom_batch_get_f64(b, c, r);
        fmt_double(buf, sizeof buf, v, t == STROM_FLOAT);
        if (fmt == CLI_FMT_JSONL && !isfinite(v))
            json_str(f, buf, strlen(buf));
        else
            fputs(buf, f);
        return;
    }
    case STROM_TIMESTAMP:
        cli_time(strom_batch_get_int(b, c, r), buf);
        if (fmt == CLI_FMT_JSONL)
            json_str(f, buf, strlen(buf));
        else
            fputs(buf, f);
        return;
    default: {
        size_t len;
        const char *s = strom_batch_get_str(b, c, r, &len);
        if (fmt == CLI_FMT_JSONL)
            json_str(f, s, len);
        else
            csv_str(f, s, len);
    }
    }
}

void cli_print_names(FILE *f, const char *const *names, int n, cli_fmt fmt)
{
    if (fmt != CLI_FMT_CSV)
        return;
    for (int i = 0; i < n; i++) {
        if (i)
            fputc(',', f);
        csv_str(f, names[i], strlen(names[i]));
    }
    fputc('\n', f);
}

void cli_print_header(FILE *f, const strom_batch *b, cli_fmt fmt)
{
    const char *names[1024];
    int n = strom_batch_ncols(b);
    for (int i = 0; i < n && i < 1024; i++) {
        strom_column c;
        strom_batch_column(b, i, &c);
        names[i] = c.name ? c.name : "";
    }
    cli_print_names(f, names, n < 1024 ? n : 1024, fmt);
}

void cli_print_rows(FILE *f, const strom_batch *b, cli_fmt fmt)
{
    int n = strom_batch_ncols(b);
    strom_column cols[1024];
    for (int i = 0; i < n && i < 1024; i++)
        strom_batch_column(b, i, &cols[i]);
    for (int64_t r = 0; r < strom_batch_nrows(b); r++) {
        if (fmt == CLI_FMT_JSONL)
            fputc('{', f);
        for (int i = 0; i < n && i < 1024; i++) {
            if (i)
                fputc(',', f);
            if (fmt == CLI_FMT_JSONL) {
                json_str(f, cols[i].name, strlen(cols[i].name));
                fputc(':', f);
            }
            print_value(f, b, i, r, cols[i].type, fmt);
        }
        fputs(fmt == CLI_FMT_JSONL ? "}\n" : "\n", f);
    }
}
