/* cmd_produce.c: `strom produce TABLE [--format csv|jsonl] [FILE]`: rows from a CSV file
 * (a header line naming the columns first) or JSON Lines (one object per line) into a
 * table on a server, through the batching producer of the client library.
 *
 * A bad line stops the command: the error names file, line and column; every row before
 * that line is sent and acknowledged first, nothing from the bad line on is sent, and the
 * message says how many rows went in. Exit 1 then, so a script can resume after the line.
 * A progress line (rows, rows/s, ETA when the input size is known) is drawn on stderr
 * when stderr is a terminal. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_client.h"

#define MAX_FIELDS 1024

typedef struct produce_ctx {
    const char *file;            /* for messages */
    FILE *in;
    cli_fmt fmt;
    strom_producer *p;
    const strom_schema *s;
    int ncols;
    int map[MAX_FIELDS];         /* CSV field -> column */
    int nfields;
    strom_value vals[MAX_FIELDS];
    char *line, *buf, *rec;      /* getline buffer, unescape buffer, multi-line record */
    size_t line_cap, buf_cap, rec_cap, rec_len;
    int64_t lineno, rows, bytes_read, size;
    double t0, last_draw;
    int progress;
    char err[400];
    int64_t err_line;
    int err_col;
    const char *f[MAX_FIELDS];
    size_t flen[MAX_FIELDS], fstart[MAX_FIELDS];
    int quoted[MAX_FIELDS];
    cli_jfield jf[MAX_FIELDS];
} produce_ctx;

/* ------------------------------------------------------------ input */

/* Next physical line into ctx->line (no newline). Length, or -1 at the end. */
static ssize_t next_line(produce_ctx *c)
{
    ssize_t n = getline(&c->line, &c->line_cap, c->in);
    if (n < 0)
        return -1;
    c->bytes_read += n;
    c->lineno++;
    if (n > 0 && c->line[n - 1] == '\n')
        n--;
    if (n > 0 && c->line[n - 1] == '\r')
        n--;
    return n;
}

static int grow(char **p, size_t *cap, size_t want)
{
    if (*cap >= want)
        return 0;
    size_t n = want * 2;
    char *q = realloc(*p, n);
    if (!q)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

static int bad(produce_ctx *c, int col, const char *fmt, const char *a, const char *b)
{
    c->err_col = col;
    snprintf(c->err, sizeof c->err, fmt, a, b);
    return -1;
}

/* One CSV record (quoted fields may span lines) split into ctx->f. Fields, -1 (error),
 * 0 at the end of the input or -3 for a blank line. */
static int csv_record_or_blank(produce_ctx *c)
{
    ssize_t n = next_line(c);
    if (n < 0)
        return 0;
    c->err_line = c->lineno;
    c->rec_len = 0;
    for (;;) {
        if (grow(&c->rec, &c->rec_cap, c->rec_len + (size_t)n + 2) ||
            grow(&c->buf, &c->buf_cap, c->rec_len + (size_t)n + 2))
            return bad(c, 1, "out of memory%s%s", "", "");
        if (c->rec_len)
            c->rec[c->rec_len++] = '\n';
        memcpy(c->rec + c->rec_len, c->line, (size_t)n);
        c->rec_len += (size_t)n;
        int col = 0;
        int k = cli_csv_split(c->rec, c->rec_len, c->buf, c->f, c->flen, c->quoted, c->fstart,
                              MAX_FIELDS, &col, c->err, sizeof c->err);
        if (k >= 0)
            return k == 1 && c->flen[0] == 0 && !c->quoted[0] && c->rec_len == 0 ? -3 : k;
        if (k == -1) {
            c->err_col = col;
            return -1;
        }
        if ((n = next_line(c)) < 0)
            return bad(c, (int)c->rec_len + 1, "a quoted field is not closed before the end of "
                       "the input%s%s", "", "");
    }
}

/* One CSV record (quoted fields may span lines) split into ctx->f. Fields or -1 (error)
 * or 0 at the end of the input. Blank lines are skipped (in a loop: a file of a million
 * blank lines once took a million nested calls). */
static int csv_record(produce_ctx *c)
{
    int k;
    while ((k = csv_record_or_blank(c)) == -3)
        ;
    return k;
}

/* ------------------------------------------------------------ CSV */

static int csv_header(produce_ctx *c)
{
    int n = csv_record(c);
    if (n <= 0)
        return n == 0 ? bad(c, 1, "the input is empty: a CSV header line naming the columns "
                            "comes first%s%s", "", "") : -1;
    char name[256];
    int seen[MAX_FIELDS] = {0};
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "%.*s", (int)c->flen[i], c->f[i]);
        int col = strom_schema_find(c->s, name);
        if (col < 0)
            return bad(c, (int)c->fstart[i] + 1, "header: the table has no column '%s'%s", name, "");
        if (seen[col]++)
            return bad(c, (int)c->fstart[i] + 1, "header: column '%s' appears twice%s", name, "");
        c->map[i] = col;
    }
    for (int col = 0; col < c->ncols; col++)
        if (!seen[col] && !strom_schema_col_nullable(c->s, col))
            return bad(c, 1, "header: NOT NULL column '%s' is missing%s",
                       strom_schema_col_name(c->s, col), "");
    c->nfields = n;
    return 1;
}

static void clear_vals(produce_ctx *c)
{
    for (int i = 0; i < c->ncols; i++)
        c->vals[i] = (strom_value){.type = strom_schema_col_type(c->s, i), .is_null = 1};
}

/* Sets column col from text; an empty unquoted CSV field is NULL. */
static int set_val(produce_ctx *c, int col, const char *p, size_t len, int is_null, size_t at)
{
    char why[200];
    if (is_null) {
        if (strom_schema_col_nullable(c->s, col))
            return 0;
        return bad(c, (int)at + 1, "column '%s' is NOT NULL but the value is empty/null%s",
                   strom_schema_col_name(c->s, col), "");
    }
    if (cli_parse_value(strom_schema_col_type(c->s, col), p, len, &c->vals[col], why, sizeof why))
        return bad(c, (int)at + 1, "column '%s': %s", strom_schema_col_name(c->s, col), why);
    return 0;
}

/* The next CSV row into vals: 1, 0 at the end, -1 on a bad line. */
static int csv_row(produce_ctx *c)
{
    int n = csv_record(c);
    if (n <= 0)
        return n;
    if (n != c->nfields) {
        char a[32], b[32];
        snprintf(a, sizeof a, "%d", n);
        snprintf(b, sizeof b, "%d", c->nfields);
        return bad(c, n > c->nfields ? (int)c->fstart[c->nfields] + 1 : (int)c->rec_len + 1,
                   "%s fields where the header has %s", a, b);
    }
    clear_vals(c);
    for (int i = 0; i < n; i++)
        if (set_val(c, c->map[i], c->f[i], c->flen[i], c->flen[i] == 0 && !c->quoted[i],
                    c->fstart[i]))
            return -1;
    return 1;
}

/* ------------------------------------------------------------ JSON Lines */

static int json_field(produce_ctx *c, const cli_jfield *f)
{
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)f->klen, f->key);
    int col = strom_schema_find(c->s, name);
    if (col < 0)
        return bad(c, (int)f->kcol + 1, "the table has no column '%s'%s", name, "");
    strom_type t = strom_schema_col_type(c->s, col);
    int is_str = t == STROM_STRING || t == STROM_BYTES;
    if ((f->kind == CLI_J_STR && !is_str && t != STROM_TIMESTAMP && t != STROM_DOUBLE &&
         t != STROM_FLOAT && t != STROM_BIGINT && t != STROM_INT) ||
        (f->kind != CLI_J_STR && f->kind != CLI_J_NULL && is_str) ||
        (f->kind == CLI_J_BOOL && t != STROM_BOOLEAN))
        return bad(c, (int)f->col + 1, "column '%s': a JSON %s does not fit the column type",
                   name, f->kind == CLI_J_STR ? "string" : f->kind == CLI_J_BOOL ? "boolean" : "number");
    return set_val(c, col, f->val, f->vlen, f->kind == CLI_J_NULL, f->col);
}

static int json_row(produce_ctx *c)
{
    ssize_t n;
    do { /* blank lines are skipped */
        if ((n = next_line(c)) < 0)
            return 0;
        c->err_line = c->lineno;
    } while (strspn(c->line, " \t") == (size_t)n);
    if (grow(&c->buf, &c->buf_cap, (size_t)n + 1))
        return bad(c, 1, "out of memory%s%s", "", "");
    int col = 0;
    int k = cli_json_object(c->line, (size_t)n, c->buf, c->jf, MAX_FIELDS, &col, c->err,
                            sizeof c->err);
    if (k < 0) {
        c->err_col = col;
        return -1;
    }
    clear_vals(c);
    for (int i = 0; i < k; i++)
        if (json_field(c, &c->jf[i]))
            return -1;
    for (int col2 = 0; col2 < c->ncols; col2++)
        if (c->vals[col2].is_null && !strom_schema_col_nullable(c->s, col2))
            return bad(c, 1, "NOT NULL column '%s' is missing%s", strom_schema_col_name(c->s, col2), "");
    return 1;
}

/* ------------------------------------------------------------ progress */

static void draw(produce_ctx *c, int final)
{
    double now = cli_now();
    if (!c->progress || (!final && now - c->last_draw < 0.2))
        return;
    c->last_draw = now;
    double el = now - c->t0 > 1e-6 ? now - c->t0 : 1e-6;
    char r[32], rs[32];
    fprintf(stderr, "\r%s rows  %s rows/s", cli_group(c->rows, r), cli_group((int64_t)(c->rows / el), rs));
    if (c->size > 0 && c->bytes_read > 0 && !final)
        fprintf(stderr, "  %3.0f%%  ETA %.0f s   ", 100.0 * (double)c->bytes_read / (double)c->size,
                el * (double)(c->size - c->bytes_read) / (double)c->bytes_read);
    else
        fputs("                    ", stderr);
    if (final)
        fputc('\n', stderr);
}

/* ------------------------------------------------------------ the command */

static int run(produce_ctx *c)
{
    if (c->fmt == CLI_FMT_CSV && csv_header(c) < 0)
        return -1;
    for (;;) {
        int r = c->fmt == CLI_FMT_CSV ? csv_row(c) : json_row(c);
        if (r <= 0)
            return r;
        if (strom_producer_send(c->p, c->vals, c->ncols) != STROM_OK) {
            c->err_col = 1;
            snprintf(c->err, sizeof c->err, "%s", strom_errmsg());
            return -1;
        }
        c->rows++;
        if ((c->rows & 1023) == 0)
            draw(c, 0);
    }
}

static int finish(produce_ctx *c, const char *table, int bad_line)
{
    strom_err e = strom_producer_close(c->p);
    draw(c, 1);
    int64_t acked = c->rows;
    char msg[700];
    snprintf(msg, sizeof msg, "%s", e ? strom_errmsg() : "");
    if (bad_line)
        fprintf(stderr, "strom: produce: %s:%lld:%d: %s\n", c->file, (long long)c->err_line,
                c->err_col, c->err);
    if (e) {
        fprintf(stderr, "strom: produce: table %s: %s: %s\n", table, strom_strerror(e), msg);
        return CLI_ERR;
    }
    char r[32];
    if (bad_line) {
        fprintf(stderr, "strom: produce: the %s row%s before line %lld %s sent and "
                "acknowledged; nothing from line %lld on was sent\n", cli_group(acked, r),
                acked == 1 ? "" : "s", (long long)c->err_line, acked == 1 ? "was" : "were",
                (long long)c->err_line);
        return CLI_ERR;
    }
    double el = cli_now() - c->t0;
    fprintf(stderr, "produced %s rows to %s in %.2f s\n", cli_group(acked, r), table, el);
    return CLI_OK;
}

static int open_input(produce_ctx *c, const char *path)
{
    c->file = path ? path : "<stdin>";
    c->in = path ? fopen(path, "r") : stdin;
    if (!c->in)
        return cli_errorf("produce: cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(c->in), &st) == 0 && S_ISREG(st.st_mode))
        c->size = st.st_size;
    return CLI_OK;
}

static int pick_format(produce_ctx *c, const char *fmt, const char *path)
{
    if (fmt && cli_parse_format(fmt, &c->fmt) != 0)
        return cli_errorf("produce: --format '%s': use csv or jsonl", fmt), CLI_USAGE;
    if (!fmt && path) {
        const char *dot = strrchr(path, '.');
        c->fmt = dot && (!strcmp(dot, ".jsonl") || !strcmp(dot, ".json") || !strcmp(dot, ".ndjson"))
                     ? CLI_FMT_JSONL : CLI_FMT_CSV;
    }
    return CLI_OK;
}

int cmd_produce(int argc, char **argv)
{
    const char *server = STROM_DEFAULT_SERVER, *fmt = NULL, *pos[2] = {NULL, NULL};
    int npos = 0;
    const cli_opt opts[] = {
        {"--server", CLI_STR, &server, "HOST:PORT", CLI_SERVER_HELP, 0, 0},
        {"--format", CLI_STR, &fmt, "FMT", "csv or jsonl (default: by the file name, else csv)", 0, 0},
    };
    const cli_usage u = {"strom produce TABLE [--format csv|jsonl] [FILE] [--server HOST:PORT]",
                         "Writes rows from FILE (stdin without one) into TABLE on a server. CSV\n"
                         "starts with a header line naming the columns (any order; missing\n"
                         "nullable columns are NULL; an empty unquoted field is NULL). JSON Lines:\n"
                         "one object per line. The first bad line stops the command with its line\n"
                         "and column; the rows before it are written, nothing after it.",
                         1, 2, "TABLE"};
    int rc = cli_parse(argc, argv, &u, opts, 2, pos, &npos);
    if (rc >= 0)
        return rc;
    produce_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return cli_errorf("out of memory");
    strom_client *cl = NULL;
    if ((rc = pick_format(c, fmt, pos[1])) == CLI_OK && (rc = open_input(c, pos[1])) == CLI_OK &&
        (rc = cli_connect(server, &cl)) == CLI_OK) {
        strom_err e = strom_producer_create(cl, pos[0], NULL, NULL, 0, &c->p);
        if (e)
            rc = cli_fail(e, "produce: cannot open the table");
    }
    if (rc == CLI_OK) {
        c->s = strom_producer_schema(c->p);
        c->ncols = strom_schema_ncols(c->s);
        c->progress = isatty(STDERR_FILENO);
        c->t0 = cli_now();
        rc = finish(c, pos[0], run(c) < 0);
    }
    if (c->in && c->in != stdin)
        fclose(c->in);
    strom_client_close(cl);
    free(c->line);
    free(c->buf);
    free(c->rec);
    free(c);
    return rc;
}
