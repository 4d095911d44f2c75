/* cmd_tail.c: `strom tail TABLE [--from earliest|latest|TIMESTAMP|OFFSET] [--columns a,b]
 * [--where 'col op value']...`: follows every bucket of a table on a server (long-poll
 * fetches) and prints the rows as CSV (a header line first) or JSON Lines until Ctrl-C
 * (or --limit rows). Rows of one bucket come in offset order; buckets interleave. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli_client.h"

#define MAX_WHERE 64

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

typedef struct tail_args {
    const char *server, *from, *columns, *format, *table;
    int64_t limit;
    const char *where[MAX_WHERE];
    int nwhere;
} tail_args;

/* Takes every --where out of argv (cli_parse keeps one value per option). */
static int take_where(int *argc, char **argv, tail_args *a)
{
    int o = 1;
    for (int i = 1; i < *argc; i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], "--where") && i + 1 < *argc)
            v = argv[++i];
        else if (!strncmp(argv[i], "--where=", 8))
            v = argv[i] + 8;
        else if (!strcmp(argv[i], "--")) {
            while (i < *argc)
                argv[o++] = argv[i++];
            break;
        }
        if (!v) {
            argv[o++] = argv[i];
            continue;
        }
        if (a->nwhere >= MAX_WHERE) {
            cli_errorf("tail: at most %d --where", MAX_WHERE);
            return CLI_USAGE;
        }
        a->where[a->nwhere++] = v;
    }
    *argc = o;
    return -1;
}

/* --from: earliest, latest, a date-time or @MS (timestamp), or a whole number (offset). */
static int parse_from(const char *s, strom_start *from, int64_t *value)
{
    *value = 0;
    if (!strcmp(s, "earliest"))
        return *from = STROM_FROM_EARLIEST, 0;
    if (!strcmp(s, "latest"))
        return *from = STROM_FROM_LATEST, 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s && !*end && v >= 0)
        return *from = STROM_FROM_OFFSET, *value = v, 0;
    *from = STROM_FROM_TIMESTAMP;
    if (s[0] == '@')
        return cli_parse_time(s + 1, strlen(s + 1), value);
    return cli_parse_time(s, strlen(s), value);
}

static int follow(strom_subscriber *sub, const tail_args *a, cli_fmt fmt, int ncols,
                  const char *const *names)
{
    cli_print_names(stdout, names, ncols, fmt);
    fflush(stdout);
    int64_t rows = 0;
    while (!stop_flag && (a->limit <= 0 || rows < a->limit)) {
        const strom_batch *b;
        strom_err e = strom_subscriber_poll(sub, 500, &b, NULL);
        if (e == STROM_ETIMEOUT || e == STROM_EIO)
            fprintf(stderr, "strom: tail: %s (retrying)\n", strom_errmsg());
        else if (e)
            return cli_fail(e, "tail");
        if (e || !b)
            continue;
        cli_print_rows(stdout, b, fmt);
        rows += strom_batch_nrows(b);
        fflush(stdout);
    }
    return CLI_OK;
}

static int run_tail(strom_client *cl, tail_args *a, cli_fmt fmt, strom_start from, int64_t value)
{
    char buf[4096];
    const char *cols[1024];
    int ncols = 0;
    if (a->columns && (ncols = cli_split_names(a->columns, buf, sizeof buf, cols, 1024)) <= 0)
        return cli_errorf("tail: --columns '%s': expected names separated by commas", a->columns),
               CLI_USAGE;
    strom_table_info *ti;
    strom_err e = strom_client_table_info(cl, a->table, &ti);
    if (e)
        return cli_fail(e, "tail");
    strom_pred preds[MAX_WHERE];
    char err[400];
    int rc = CLI_OK;
    for (int i = 0; i < a->nwhere && rc == CLI_OK; i++)
        if (cli_parse_where(ti->schema, a->where[i], &preds[i], err, sizeof err))
            rc = (cli_errorf("tail: %s", err), CLI_USAGE);
    strom_subscriber_opts so = {.columns = ncols ? cols : NULL, .ncolumns = ncols,
                                .preds = preds, .npreds = a->nwhere};
    strom_subscriber *sub = NULL;
    if (rc == CLI_OK && (e = strom_subscriber_create(cl, a->table, &so, &sub)) != STROM_OK)
        rc = cli_fail(e, "tail");
    if (rc == CLI_OK && (e = strom_subscriber_assign(sub, -1, from, value)) != STROM_OK)
        rc = cli_fail(e, "tail: --from");
    if (rc == CLI_OK && !ncols)
        for (; ncols < strom_schema_ncols(ti->schema) && ncols < 1024; ncols++)
            cols[ncols] = strom_schema_col_name(ti->schema, ncols);
    if (rc == CLI_OK)
        rc = follow(sub, a, fmt, ncols, cols);
    strom_subscriber_close(sub);
    strom_table_info_free(ti);
    return rc;
}

int cmd_tail(int argc, char **argv)
{
    tail_args a = {.server = STROM_DEFAULT_SERVER, .from = "latest", .format = "csv"};
    int rc = take_where(&argc, argv, &a);
    if (rc >= 0)
        return rc;
    const cli_opt opts[] = {
        {"--server", CLI_STR, &a.server, "HOST:PORT", CLI_SERVER_HELP, 0, 0},
        {"--from", CLI_STR, &a.from, "WHERE", "earliest, latest (default), a time "
         "('2025-01-13 14:30', @MS) or an offset", 0, 0},
        {"--columns", CLI_STR, &a.columns, "A,B", "print only these columns", 0, 0},
        {"--where", CLI_STR, NULL, "'COL OP V'", "only rows where COL OP V (= != < <= > >=); "
         "repeat to AND", 0, 0},
        {"--format", CLI_STR, &a.format, "FMT", "csv (default, header first) or jsonl", 0, 0},
        {"--limit", CLI_INT, &a.limit, "N", "stop after N rows (default: follow until Ctrl-C)",
         0, INT64_MAX},
    };
    const cli_usage u = {"strom tail TABLE [--from earliest|latest|TIMESTAMP|OFFSET] "
                         "[--columns a,b] [--where 'col op value']... [--server HOST:PORT]",
                         "Follows TABLE on a server and prints its rows as they arrive, until\n"
                         "Ctrl-C. An OFFSET applies to every bucket.", 1, 1, "TABLE"};
    const char *pos[1];
    if ((rc = cli_parse(argc, argv, &u, opts, 6, pos, NULL)) >= 0)
        return rc;
    a.table = pos[0];
    cli_fmt fmt;
    strom_start from;
    int64_t value;
    if (cli_parse_format(a.format, &fmt))
        return cli_errorf("tail: --format '%s': use csv or jsonl", a.format), CLI_USAGE;
    if (parse_from(a.from, &from, &value))
        return cli_errorf("tail: --from '%s': use earliest, latest, a time such as "
                          "'2025-01-13 14:30:00' or @MS, or an offset", a.from), CLI_USAGE;
    strom_client *cl;
    if ((rc = cli_connect(a.server, &cl)) != CLI_OK)
        return rc;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rc = run_tail(cl, &a, fmt, from, value);
    strom_client_close(cl);
    return rc;
}
