/* cmd_stats.c: `strom stats [TABLE]`: the statistics a server reports (STATS), server-wide
 * or for one table, one "name value" line each; and `strom tables` / `strom describe`
 * against a server (cmd_tables.c calls cli_remote_* when --server is given). */
#include <stdlib.h>
#include <string.h>

#include "cli_client.h"

int cmd_stats(int argc, char **argv)
{
    const char *server = STROM_DEFAULT_SERVER, *pos[1] = {NULL};
    int npos = 0;
    const cli_opt opts[] = {
        {"--server", CLI_STR, &server, "HOST:PORT", CLI_SERVER_HELP, 0, 0},
    };
    const cli_usage u = {"strom stats [TABLE] [--server HOST:PORT]",
                         "Prints the statistics of a server, or of one of its tables.", 0, 1,
                         "TABLE"};
    int rc = cli_parse(argc, argv, &u, opts, 1, pos, &npos);
    if (rc >= 0)
        return rc;
    strom_client *cl;
    if ((rc = cli_connect(server, &cl)) != CLI_OK)
        return rc;
    strom_stat *st;
    size_t n;
    strom_err e = strom_client_stats(cl, npos ? pos[0] : NULL, &st, &n);
    if (e == STROM_OK) {
        size_t w = 8;
        for (size_t i = 0; i < n; i++)
            w = strlen(st[i].name) > w ? strlen(st[i].name) : w;
        for (size_t i = 0; i < n; i++)
            printf("%-*s %lld\n", (int)w, st[i].name, (long long)st[i].value);
        strom_client_stats_free(st, n);
    } else {
        rc = cli_fail(e, "stats");
    }
    strom_client_close(cl);
    return rc;
}

/* ------------------------------------------------------------ tables, describe */

static void table_line(strom_client *cl, const char *name)
{
    strom_table_info *ti;
    if (strom_client_table_info(cl, name, &ti) != STROM_OK) {
        printf("%-32s (cannot describe: %s)\n", name, strom_errmsg());
        return;
    }
    int64_t rows = 0, a, b;
    for (int k = 0; k < ti->nbuckets; k++)
        if (strom_client_list_offset(cl, name, k, 0, 0, &a) == STROM_OK &&
            strom_client_list_offset(cl, name, k, 1, 0, &b) == STROM_OK)
            rows += b - a;
    char r[32];
    printf("%-32s %7d %7d %16s %s\n", name, strom_schema_ncols(ti->schema), ti->nbuckets,
           cli_group(rows, r), strom_schema_primary_key(ti->schema, NULL, 0) ? "primary key" : "log");
    strom_table_info_free(ti);
}

int cli_remote_tables(const char *server)
{
    strom_client *cl;
    int rc = cli_connect(server, &cl);
    if (rc != CLI_OK)
        return rc;
    char **names;
    size_t n;
    strom_err e = strom_client_list_tables(cl, NULL, &names, &n);
    if (e == STROM_OK) {
        printf("%-32s %7s %7s %16s %s\n", "table", "columns", "buckets", "rows", "kind");
        for (size_t i = 0; i < n; i++)
            table_line(cl, names[i]);
        printf("(%zu table%s on %s)\n", n, n == 1 ? "" : "s", server);
        strom_free_names(names, n);
    } else {
        rc = cli_fail(e, "cannot list tables");
    }
    strom_client_close(cl);
    return rc;
}

static void describe_buckets(strom_client *cl, const strom_table_info *ti)
{
    printf("buckets:\n  %6s %14s %14s %14s\n", "bucket", "earliest", "end", "rows");
    for (int k = 0; k < ti->nbuckets; k++) {
        int64_t a, b;
        char c1[32], c2[32], c3[32];
        if (strom_client_list_offset(cl, ti->name, k, 0, 0, &a) != STROM_OK ||
            strom_client_list_offset(cl, ti->name, k, 1, 0, &b) != STROM_OK) {
            printf("  %6d (unavailable: %s)\n", k, strom_errmsg());
            continue;
        }
        printf("  %6d %14s %14s %14s\n", k, cli_group(a, c1), cli_group(b, c2), cli_group(b - a, c3));
    }
}

int cli_remote_describe(const char *server, const char *table)
{
    strom_client *cl;
    int rc = cli_connect(server, &cl);
    if (rc != CLI_OK)
        return rc;
    strom_table_info *ti;
    strom_err e = strom_client_table_info(cl, table, &ti);
    if (e != STROM_OK) {
        strom_client_close(cl);
        return cli_fail(e, "describe");
    }
    const strom_schema *s = ti->schema;
    printf("table %s (%d bucket%s) on %s\n", ti->name, ti->nbuckets, ti->nbuckets == 1 ? "" : "s",
           server);
    printf("schema (id %d, %d columns):\n", ti->schema_id, strom_schema_ncols(s));
    int pk[8], npk = strom_schema_primary_key(s, pk, 8);
    for (int i = 0; i < strom_schema_ncols(s); i++) {
        const char *tn = strom_type_name(strom_schema_col_type(s, i));
        int in_pk = 0;
        for (int j = 0; j < npk; j++)
            in_pk |= pk[j] == i;
        printf("  %3d  %-24s %-13s%s%s\n", i, strom_schema_col_name(s, i), tn ? tn : "?",
               strom_schema_col_nullable(s, i) ? "" : " NOT NULL", in_pk ? " PRIMARY KEY" : "");
    }
    printf("options:\n");
    for (int i = 0; i < ti->noptions; i++)
        if (ti->options[2 * i + 1][0])
            printf("  %-32s = %s\n", ti->options[2 * i], ti->options[2 * i + 1]);
    describe_buckets(cl, ti);
    strom_table_info_free(ti);
    strom_client_close(cl);
    return CLI_OK;
}
