/* cmd_tables.c: `strom tables` (list) and `strom describe TABLE` (schema, options,
 * per-bucket offsets, segments and bytes). */
#include <ctype.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#define DEFAULT_DATA "./strom-data"

/* Opens an existing data directory (tables/describe never create one). */
static int open_existing(const char *dir, strom_db **db)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return cli_errorf("data directory '%s' does not exist (give one with --data DIR)", dir);
    strom_err e = strom_db_open(dir, db);
    if (e) {
        char what[600];
        snprintf(what, sizeof what, "cannot open data directory '%s'", dir);
        return cli_fail(e, what);
    }
    return CLI_OK;
}

static void print_table_line(strom_db *db, const char *name)
{
    strom_table *t;
    if (strom_table_open(db, name, &t) != STROM_OK) {
        printf("%-32s (cannot open: %s)\n", name, strom_errmsg());
        return;
    }
    strom_bucket_stats s;
    char rows[32], bytes[32];
    if (cli_table_stats(t, &s) == STROM_OK)
        printf("%-32s %7d %7d %16s %12s\n", name, strom_schema_ncols(strom_table_schema(t)),
               strom_table_nbuckets(t), cli_group(s.end_offset, rows),
               cli_bytes((double)s.bytes_on_disk, bytes));
    else
        printf("%-32s (statistics unavailable: %s)\n", name, strom_errmsg());
    strom_table_close(t);
}

int cmd_tables(int argc, char **argv)
{
    const char *data = DEFAULT_DATA;
    const cli_opt opts[] = {
        {"--data", CLI_STR, &data, "DIR", "data directory (default " DEFAULT_DATA ")", 0, 0},
    };
    const cli_usage u = {"strom tables [--data DIR]",
                         "Lists the tables of a data directory with their size.", 0, 0, NULL};
    int rc = cli_parse(argc, argv, &u, opts, 1, NULL, NULL);
    if (rc >= 0)
        return rc;
    strom_db *db;
    if ((rc = open_existing(data, &db)) != CLI_OK)
        return rc;
    char **names;
    size_t n;
    strom_err e = strom_table_list(db, &names, &n);
    if (e) {
        strom_db_close(db);
        return cli_fail(e, "cannot list tables");
    }
    printf("%-32s %7s %7s %16s %12s\n", "table", "columns", "buckets", "rows", "on disk");
    for (size_t i = 0; i < n; i++)
        print_table_line(db, names[i]);
    printf("(%zu table%s in %s)\n", n, n == 1 ? "" : "s", data);
    strom_free_names(names, n);
    strom_db_close(db);
    return CLI_OK;
}

/* ---------------------------------------------------------------- describe */

static void print_schema(const strom_schema *s)
{
    printf("schema (id %u, %d columns):\n", strom_schema_id(s), strom_schema_ncols(s));
    for (int i = 0; i < strom_schema_ncols(s); i++) {
        const char *tn = strom_type_name(strom_schema_col_type(s, i));
        printf("  %3d  %-24s %-13s%s\n", i, strom_schema_col_name(s, i), tn ? tn : "?",
               strom_schema_col_nullable(s, i) ? "" : " NOT NULL");
    }
    int pk[8], npk = strom_schema_primary_key(s, pk, 8);
    if (npk == 0)
        return;
    printf("primary key: (");
    for (int i = 0; i < npk && i < 8; i++)
        printf("%s%s", i ? ", " : "", strom_schema_col_name(s, pk[i]));
    printf(")  (a primary-key table: its log is the changelog)\n");
}

/* Copies the option key at the start of a help line ("  bucket.num  ...") into key. */
static int help_line_key(const char *line, size_t len, char *key, size_t cap)
{
    size_t i = 0, k = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\''))
        i++;
    while (i < len && k + 1 < cap && (isalnum((unsigned char)line[i]) || strchr("._-", line[i])))
        key[k++] = line[i++];
    key[k] = '\0';
    return k > 0 && strchr(key, '.') != NULL && isalpha((unsigned char)key[0]);
}

static void print_options(const strom_table *t)
{
    const char *help = strom_table_option_help(), *p = help;
    char seen[4096] = "";
    printf("options:\n");
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char key[128], tagged[132];
        if (help_line_key(p, len, key, sizeof key)) {
            snprintf(tagged, sizeof tagged, "|%s|", key);
            const char *v = strom_table_option(t, key);
            if (v && v[0] && !strstr(seen, tagged) && strlen(seen) + strlen(tagged) < sizeof seen) {
                strcat(seen, tagged);
                printf("  %-32s = %s\n", key, v);
            }
        }
        p = nl ? nl + 1 : NULL;
    }
}

static void print_buckets(strom_table *t)
{
    printf("buckets:\n  %6s %14s %14s %14s %8s %9s %12s %12s %6s\n", "bucket", "earliest", "end",
           "rows", "segments", "batches", "on disk", "raw", "ratio");
    strom_bucket_stats sum = {0};
    for (int b = 0; b < strom_table_nbuckets(t); b++) {
        strom_bucket_stats s;
        if (strom_table_bucket_stats(t, b, &s) != STROM_OK) {
            printf("  %6d (unavailable: %s)\n", b, strom_errmsg());
            continue;
        }
        char c1[32], c2[32], c3[32], c4[32], c5[32];
        printf("  %6d %14s %14s %14s %8lld %9lld %12s %12s %6.1f\n", b, cli_group(s.earliest_offset, c1),
               cli_group(s.end_offset, c2), cli_group(s.end_offset - s.earliest_offset, c3),
               (long long)s.segments, (long long)s.batches, cli_bytes((double)s.bytes_on_disk, c4),
               cli_bytes((double)s.raw_bytes, c5),
               s.bytes_on_disk ? (double)s.raw_bytes / (double)s.bytes_on_disk : 0.0);
        sum.end_offset += s.end_offset - s.earliest_offset;
        sum.bytes_on_disk += s.bytes_on_disk;
        sum.raw_bytes += s.raw_bytes;
    }
    char r[32], d[32], w[32];
    printf("  total: %s rows, %s on disk for %s of column data\n", cli_group(sum.end_offset, r),
           cli_bytes((double)sum.bytes_on_disk, d), cli_bytes((double)sum.raw_bytes, w));
}

int cmd_describe(int argc, char **argv)
{
    const char *data = DEFAULT_DATA, *pos[1];
    const cli_opt opts[] = {
        {"--data", CLI_STR, &data, "DIR", "data directory (default " DEFAULT_DATA ")", 0, 0},
    };
    const cli_usage u = {"strom describe TABLE [--data DIR]",
                         "Shows a table's schema, its options (defaults filled in) and, per\n"
                         "bucket, the offsets, segments and bytes on disk.", 1, 1, "TABLE"};
    int rc = cli_parse(argc, argv, &u, opts, 1, pos, NULL);
    if (rc >= 0)
        return rc;
    strom_db *db;
    if ((rc = open_existing(data, &db)) != CLI_OK)
        return rc;
    strom_table *t;
    strom_err e = strom_table_open(db, pos[0], &t);
    if (e) {
        char what[300];
        snprintf(what, sizeof what, "cannot open table '%s' in '%s'", pos[0], data);
        strom_db_close(db);
        return cli_fail(e, what);
    }
    printf("table %s (%d bucket%s)\n", pos[0], strom_table_nbuckets(t),
           strom_table_nbuckets(t) == 1 ? "" : "s");
    print_schema(strom_table_schema(t));
    print_options(t);
    print_buckets(t);
    strom_table_close(t);
    strom_db_close(db);
    return CLI_OK;
}
