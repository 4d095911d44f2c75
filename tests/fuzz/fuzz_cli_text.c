/* fuzz_cli_text.c: libFuzzer target for the text that the client commands read (src/cli:
 * cli_client.c, cli_json.c; forms in cli_client.h): `strom produce`'s CSV records and JSON
 * Lines objects, typed values, timestamps and `--where` filters. Byte 0 picks the parser
 * (b % 4), the rest is its text, copied to an exact-size buffer (ASan sees any overread):
 *   0  CSV record (cli_csv_split): a malformed record names a column inside the text and
 *      says why; a split one joins back (quoted fields re-quoted) to the same bytes.
 *   1  JSON object (cli_json_object): a refusal names a column and says why; an accepted
 *      object written back as JSON parses to the same keys, kinds and values.
 *   2  a value of type 1 + byte 1 % 8 (cli_parse_value): refused with a message, or put
 *      into a one-row batch, printed by cli_print_rows as CSV and as JSON Lines, and read
 *      back from both to the same value ("what tail prints, produce reads"). A TIMESTAMP
 *      also parses the same as SQL's TIMESTAMP literal where that is defined.
 *   3  --where text (cli_parse_where) against a fixed schema: a refusal says why; an
 *      accepted filter names a column of the schema. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli_client.h"
#include "format/format.h"
#include "sql/sql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXF 64

static void check(int ok)
{
    if (!ok)
        abort();
}

/* ------------------------------------------------------------------ CSV */

typedef struct csv_rec {
    const char *f[MAXF];
    size_t flen[MAXF], fstart[MAXF];
    int quoted[MAXF];
    int n;
} csv_rec;

static int split(const char *s, size_t len, char *buf, csv_rec *r, int *errcol, char *err)
{
    r->n = cli_csv_split(s, len, buf, r->f, r->flen, r->quoted, r->fstart, MAXF, errcol, err, 200);
    return r->n;
}

static void csv_join(const csv_rec *r, strom_buf *o)
{
    for (int i = 0; i < r->n; i++) {
        if (i)
            strom_buf_append(o, ",", 1);
        if (r->quoted[i])
            strom_buf_append(o, "\"", 1);
        for (size_t k = 0; k < r->flen[i]; k++) {
            if (r->quoted[i] && r->f[i][k] == '"')
                strom_buf_append(o, "\"", 1);
            strom_buf_append(o, &r->f[i][k], 1);
        }
        if (r->quoted[i])
            strom_buf_append(o, "\"", 1);
    }
}

static void fuzz_csv(const char *s, size_t len)
{
    char *buf = malloc(len + 1), err[200] = "";
    csv_rec r;
    int col = 0;
    int n = split(s, len, buf, &r, &col, err);
    if (n == -1)
        check(col >= 1 && (size_t)col <= len + 1 && err[0]);
    else if (n == -2)
        check(memchr(s, '"', len) != NULL);
    else {
        check(n >= 1 && n <= MAXF);
        for (int i = 0; i < n; i++)
            check(r.fstart[i] <= len && r.flen[i] <= len);
        strom_buf o = {0};
        csv_join(&r, &o);
        check(o.len == len && (len == 0 || memcmp(o.data, s, len) == 0));
        strom_buf_free(&o);
    }
    free(buf);
}

/* ----------------------------------------------------------------- JSON */

static void json_put_str(strom_buf *o, const char *s, size_t n)
{
    strom_buf_append(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\' || c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            strom_buf_append(o, esc, 6);
        } else {
            strom_buf_append(o, &s[i], 1);
        }
    }
    strom_buf_append(o, "\"", 1);
}

static int json_parse(const char *s, size_t len, char *buf, cli_jfield *f, int *col, char *err)
{
    return cli_json_object(s, len, buf, f, MAXF, col, err, 200);
}

static void fuzz_json(const char *s, size_t len)
{
    char *buf = malloc(len + 1), err[200] = "";
    cli_jfield f[MAXF], g[MAXF];
    int col = 0;
    int n = json_parse(s, len, buf, f, &col, err);
    if (n < 0) {
        check(n == -1 && col >= 1 && (size_t)col <= len + 1 && err[0]);
        free(buf);
        return;
    }
    strom_buf o = {0};
    strom_buf_append(&o, "{", 1);
    for (int i = 0; i < n; i++) {
        check(f[i].col < len && f[i].kcol < len);
        if (i)
            strom_buf_append(&o, ",", 1);
        json_put_str(&o, f[i].key, f[i].klen);
        strom_buf_append(&o, ":", 1);
        if (f[i].kind == CLI_J_STR)
            json_put_str(&o, f[i].val, f[i].vlen);
        else
            strom_buf_append(&o, f[i].val, f[i].vlen);
    }
    strom_buf_append(&o, "}", 1);
    char *buf2 = malloc(o.len + 1);
    check(json_parse((const char *)o.data, o.len, buf2, g, &col, err) == n);
    for (int i = 0; i < n; i++)
        check(g[i].kind == f[i].kind && g[i].klen == f[i].klen && g[i].vlen == f[i].vlen &&
              memcmp(g[i].key, f[i].key, f[i].klen) == 0 &&
              memcmp(g[i].val, f[i].val, f[i].vlen) == 0);
    strom_buf_free(&o);
    free(buf2);
    free(buf);
}

/* --------------------------------------------------------------- values */

static int same_value(strom_type t, const strom_value *a, const strom_value *b)
{
    if (a->is_null || b->is_null)
        return a->is_null == b->is_null;
    if (fmt_type_is_var(t))
        return a->v.s.len == b->v.s.len && memcmp(a->v.s.ptr, b->v.s.ptr, a->v.s.len) == 0;
    if (t == STROM_FLOAT)
        return (float)a->v.d == (float)b->v.d || (isnan(a->v.d) && isnan(b->v.d));
    if (t == STROM_DOUBLE)
        return a->v.d == b->v.d || (isnan(a->v.d) && isnan(b->v.d));
    return a->v.i == b->v.i;
}

/* v printed by cli_print_rows in format fmt; the text in *out (malloc'd), its length. */
static size_t print_one(strom_type t, const strom_value *v, cli_fmt fmt, char **out)
{
    strom_schema *s = strom_schema_create();
    strom_schema_add(s, "v", t, 0);
    strom_builder *b = strom_builder_create(s);
    check(strom_builder_put_value(b, 0, v) == STROM_OK && strom_builder_end_row(b) == STROM_OK);
    strom_batch *bt = fmt_batch_create(1);
    check(fmt_batch_from_builder(b, NULL, 0, bt) == STROM_OK);
    size_t len = 0;
    FILE *f = open_memstream(out, &len);
    cli_print_rows(f, bt, fmt);
    fclose(f);
    strom_batch_destroy(bt);
    strom_builder_destroy(b);
    strom_schema_destroy(s);
    check(len > 0 && (*out)[len - 1] == '\n');
    return len - 1;
}

/* The printed CSV line read back as `strom produce` reads a field. */
static void reread_csv(strom_type t, const strom_value *want, const char *line, size_t len)
{
    char *buf = malloc(len + 1), err[200];
    csv_rec r;
    int col;
    check(split(line, len, buf, &r, &col, err) == 1);
    strom_value got = {.type = t, .is_null = 1};
    if (r.flen[0] || r.quoted[0])
        check(cli_parse_value(t, r.f[0], r.flen[0], &got, err, sizeof err) == 0);
    check(same_value(t, want, &got));
    free(buf);
}

/* The printed JSON line read back as `strom produce` reads a field. */
static void reread_json(strom_type t, const strom_value *want, const char *line, size_t len)
{
    char *buf = malloc(len + 1), err[200];
    cli_jfield f[MAXF];
    int col;
    check(json_parse(line, len, buf, f, &col, err) == 1 && f[0].klen == 1 && f[0].key[0] == 'v');
    strom_value got = {.type = t, .is_null = 1};
    if (f[0].kind != CLI_J_NULL)
        check(cli_parse_value(t, f[0].val, f[0].vlen, &got, err, sizeof err) == 0);
    check(same_value(t, want, &got));
    free(buf);
}

/* Digits after the '.' of a timestamp text (0: none). */
static size_t frac_digits(const char *s, size_t len)
{
    const char *dot = memchr(s, '.', len);
    size_t n = 0;
    while (dot && (size_t)(dot - s) + 1 + n < len && dot[1 + n] >= '0' && dot[1 + n] <= '9')
        n++;
    return n;
}

/* A timestamp that is not a whole number of ms parses as SQL's TIMESTAMP literal does. */
static void check_timestamp(const char *s, size_t len, int cli_ok, int64_t cli_ms)
{
    int64_t ms = 0;
    strom_err e = sql_parse_timestamp(s, len, &ms);
    strom_fail_clear();
    if (len < 5 || s[4] != '-' || s[0] < '0' || s[0] > '9')
        return;   /* a number of ms, or no date at all */
    if (frac_digits(s, len) > 3)
        return;   /* SQL reads up to 9 digits, the command line 3 */
    check((e == STROM_OK) == cli_ok);
    check(!cli_ok || ms == cli_ms);
}

static void fuzz_value(strom_type t, const char *s, size_t len)
{
    strom_value v;
    char err[200] = "";
    int rc = cli_parse_value(t, s, len, &v, err, sizeof err);
    if (t == STROM_TIMESTAMP)
        check_timestamp(s, len, rc == 0, v.v.i);
    if (rc != 0) {
        check(err[0] != '\0');
        return;
    }
    char *text = NULL;
    size_t n = print_one(t, &v, CLI_FMT_CSV, &text);
    reread_csv(t, &v, text, n);
    free(text);
    n = print_one(t, &v, CLI_FMT_JSONL, &text);
    reread_json(t, &v, text, n);
    free(text);
}

/* ---------------------------------------------------------------- where */

static void fuzz_where(const char *s, size_t len)
{
    static strom_schema *sc;
    if (!sc) {
        sc = strom_schema_create();
        static const strom_type types[] = {STROM_BOOLEAN, STROM_INT, STROM_BIGINT, STROM_FLOAT,
                                           STROM_DOUBLE, STROM_STRING, STROM_BYTES,
                                           STROM_TIMESTAMP};
        static const char *names[] = {"b", "i", "big", "f", "d", "s", "by", "ts"};
        for (int i = 0; i < 8; i++)
            strom_schema_add(sc, names[i], types[i], 0);
    }
    char *text = malloc(len + 1);
    memcpy(text, s, len);
    text[len] = '\0';
    strom_pred p;
    char err[300] = "";
    if (cli_parse_where(sc, text, &p, err, sizeof err) != 0)
        check(err[0] != '\0');
    else
        check(strom_schema_find(sc, p.column) >= 0);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int mode = data[0] % 4;
    size_t skip = mode == 2 ? 2 : 1, len = size - skip;
    char *s = malloc(len ? len : 1);
    memcpy(s, data + skip, len);
    if (mode == 0)
        fuzz_csv(s, len);
    else if (mode == 1)
        fuzz_json(s, len);
    else if (mode == 2)
        fuzz_value((strom_type)(1 + data[1] % 8), s, len);
    else
        fuzz_where(s, len);
    free(s);
    return 0;
}
