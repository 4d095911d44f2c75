/* cmd_lookup.c: `strom lookup TABLE KEY... [--as-of TIMESTAMP]`: the rows of primary keys
 * of a table on a server, as CSV (header first) or JSON Lines. A KEY is one value per
 * primary-key column, comma-separated in key order (CSV quoting for values holding a
 * comma). All keys go in one batch lookup (one request per bucket, all in flight at
 * once). Keys without a row are listed on stderr ("not found: KEY"); the exit code is 0
 * when the lookup itself worked. */
#include <stdlib.h>
#include <string.h>

#include "cli_client.h"

#define MAX_KEYS 65536

typedef struct lookup_keys {
    strom_value *vals;
    char **bufs;
    int n, npk;
} lookup_keys;

static void keys_free(lookup_keys *k)
{
    for (int i = 0; k->bufs && i < k->n; i++)
        free(k->bufs[i]);
    free(k->bufs);
    free(k->vals);
}

/* Parses KEY text i into npk values. */
static int parse_key(lookup_keys *k, int i, const char *text, const strom_schema *s, const int *pk)
{
    size_t len = strlen(text);
    const char *f[8];
    size_t flen[8], fstart[8];
    int quoted[8], col = 0;
    char err[300];
    if (!(k->bufs[i] = malloc(len + 1)))
        return cli_errorf("out of memory");
    int n = cli_csv_split(text, len, k->bufs[i], f, flen, quoted, fstart, 8, &col, err, sizeof err);
    if (n != k->npk)
        return cli_errorf("lookup: key '%s': %d value%s for a primary key of %d column%s "
                          "(separate them with commas)", text, n < 0 ? 0 : n, n == 1 ? "" : "s",
                          k->npk, k->npk == 1 ? "" : "s"), CLI_USAGE;
    for (int j = 0; j < n; j++)
        if (cli_parse_value(strom_schema_col_type(s, pk[j]), f[j], flen[j],
                            &k->vals[i * k->npk + j], err, sizeof err))
            return cli_errorf("lookup: key '%s': column '%s': %s", text,
                              strom_schema_col_name(s, pk[j]), err), CLI_USAGE;
    return CLI_OK;
}

static int parse_keys(lookup_keys *k, const strom_schema *s, char **texts, int n)
{
    int pk[8];
    k->npk = strom_schema_primary_key(s, pk, 8);
    if (k->npk == 0)
        return cli_errorf("lookup: the table has no primary key (lookups need one)");
    k->vals = calloc((size_t)n * (size_t)k->npk, sizeof *k->vals);
    k->bufs = calloc((size_t)n, sizeof *k->bufs);
    if (!k->vals || !k->bufs)
        return cli_errorf("out of memory");
    for (k->n = 0; k->n < n; k->n++) {
        int rc = parse_key(k, k->n, texts[k->n], s, pk);
        if (rc != CLI_OK) {
            k->n++;
            return rc;
        }
    }
    return CLI_OK;
}

static int print_result(strom_lookuper *l, char **texts, int n, const uint8_t *found,
                        const strom_batch *b, cli_fmt fmt, int ncols, const char *const *cols)
{
    const strom_schema *s = strom_lookuper_schema(l);
    const char *names[1024];
    if (ncols == 0)
        for (; ncols < strom_schema_ncols(s) && ncols < 1024; ncols++)
            names[ncols] = strom_schema_col_name(s, ncols);
    else
        memcpy(names, cols, sizeof(char *) * (size_t)ncols);
    cli_print_names(stdout, names, ncols, fmt);
    if (b)
        cli_print_rows(stdout, b, fmt);
    for (int i = 0; i < n; i++)
        if (!found[i])
            fprintf(stderr, "not found: %s\n", texts[i]);
    return CLI_OK;
}

static int run_lookup(strom_client *cl, const char *table, char **texts, int n, const char *as_of,
                      const char *columns, cli_fmt fmt)
{
    int64_t t = 0;
    if (as_of && cli_parse_time(as_of, strlen(as_of), &t))
        return cli_errorf("lookup: --as-of '%s': use a time such as '2025-01-13 14:30:00' or ms",
                          as_of), CLI_USAGE;
    char buf[4096];
    const char *cols[1024];
    int ncols = 0;
    if (columns && (ncols = cli_split_names(columns, buf, sizeof buf, cols, 1024)) <= 0)
        return cli_errorf("lookup: --columns '%s': expected names separated by commas", columns),
               CLI_USAGE;
    strom_lookuper *l;
    strom_err e = strom_lookuper_create(cl, table, ncols ? cols : NULL, ncols, &l);
    if (e)
        return cli_fail(e, "lookup");
    lookup_keys k = {0};
    int rc = parse_keys(&k, strom_lookuper_schema(l), texts, n);
    uint8_t *found = calloc((size_t)n, 1);
    strom_batch *b = NULL;
    if (rc == CLI_OK && !found)
        rc = cli_errorf("out of memory");
    if (rc == CLI_OK &&
        (e = strom_lookuper_get_batch(l, k.vals, k.npk, (size_t)n, as_of != NULL, t, found, &b)))
        rc = cli_fail(e, "lookup");
    if (rc == CLI_OK)
        rc = print_result(l, texts, n, found, b, fmt, ncols, cols);
    strom_batch_destroy(b);
    free(found);
    keys_free(&k);
    strom_lookuper_close(l);
    return rc;
}

int cmd_lookup(int argc, char **argv)
{
    const char *server = STROM_DEFAULT_SERVER, *as_of = NULL, *columns = NULL, *format = "csv";
    const cli_opt opts[] = {
        {"--server", CLI_STR, &server, "HOST:PORT", CLI_SERVER_HELP, 0, 0},
        {"--as-of", CLI_STR, &as_of, "TIME", "the rows as they were at TIME (a time or ms)", 0, 0},
        {"--columns", CLI_STR, &columns, "A,B", "print only these columns", 0, 0},
        {"--format", CLI_STR, &format, "FMT", "csv (default, header first) or jsonl", 0, 0},
    };
    const cli_usage u = {"strom lookup TABLE KEY... [--as-of TIMESTAMP] [--server HOST:PORT]",
                         "Looks up primary keys of TABLE on a server. A KEY holds one value per\n"
                         "primary-key column, separated by commas: strom lookup devices 'f1,d7'.",
                         2, MAX_KEYS + 1, "TABLE KEY"};
    const char **pos = calloc(MAX_KEYS + 1, sizeof *pos);
    int npos = 0;
    if (!pos)
        return cli_errorf("out of memory");
    int rc = cli_parse(argc, argv, &u, opts, 4, pos, &npos);
    cli_fmt fmt = CLI_FMT_CSV;
    if (rc < 0 && cli_parse_format(format, &fmt))
        rc = (cli_errorf("lookup: --format '%s': use csv or jsonl", format), CLI_USAGE);
    strom_client *cl = NULL;
    if (rc < 0 && (rc = cli_connect(server, &cl)) == CLI_OK)
        rc = run_lookup(cl, pos[0], (char **)pos + 1, npos - 1, as_of, columns, fmt);
    strom_client_close(cl);
    free(pos);
    return rc;
}
