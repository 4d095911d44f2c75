/* cmd_bench.c: `strom bench NAME [options]`: runs a named benchmark. */
#include <string.h>

#include "cli.h"
#include "demo.h"

int bench_server(const bench_opts *o); /* bench_server.c */

static int bench_grid(const bench_opts *o)
{
    grid_bench_opts g = {.quick = o->quick, .json = o->json, .devices = o->devices, .dir = o->dir};
    return grid_bench(&g);
}

typedef struct bench_entry {
    const char *name;
    int (*run)(const bench_opts *o);
    const char *summary;
} bench_entry;

static const bench_entry benches[] = {
    {"log", bench_log,
     "log table of grid telemetry: append, compression, projected scans, key history, recovery"},
    {"sql", bench_sql, "SQL: time travel (statement 4), GROUP BY scan vs native SQLite, lookup join"},
    {"kv", bench_kv,
     "primary-key device table: upserts, lookups (point, batch, AS OF, prefix), recovery, "
     "Redis"},
    {"server", bench_server,
     "a server on loopback: ingest, produce->subscriber latency, lookups (vs Redis if installed)"},
    {"grid", bench_grid,
     "server, simulator and dispatcher together: 500k devices at 1 Hz, faults, decision latency"},
};
#define NBENCHES ((int)(sizeof benches / sizeof benches[0]))

static void list_benches(FILE *f)
{
    fprintf(f, "benchmarks:\n");
    for (int i = 0; i < NBENCHES; i++)
        fprintf(f, "  %-6s %s\n", benches[i].name, benches[i].summary);
}

int cmd_bench(int argc, char **argv)
{
    bench_opts o = {.dir = "/tmp"};
    const char *pos[1];
    int npos = 0;
    const cli_opt opts[] = {
        {"--quick", CLI_FLAG, &o.quick, NULL, "a small run, under 30 s", 0, 0},
        {"--json", CLI_FLAG, &o.json, NULL, "print one JSON object as the last line", 0, 0},
        {"--dir", CLI_STR, &o.dir, "DIR", "where the temporary data directory goes (/tmp)", 0, 0},
        {"--rows", CLI_INT, &o.rows, "N", "log: rows to append (50M, quick 4M); kv: lookups per figure (2M, quick 300k)", 10000,
         INT64_C(10000000000)},
        {"--devices", CLI_INT, &o.devices, "N", "devices (default 500k; quick: log 20k, kv 50k)",
         100, 100000000},
        {"--batch", CLI_INT, &o.batch_rows, "N", "rows per append/upsert call (log 8192, kv 4096)", 1, 1000000},
        {"--threads", CLI_INT, &o.threads, "N", "producer threads (default 2)", 1, 64},
        {"--buckets", CLI_INT, &o.buckets, "N", "bucket.num of the table (default 2)", 1, 256},
        {"--keep", CLI_FLAG, &o.keep, NULL, "keep the data directory afterwards", 0, 0},
        {"--only", CLI_STR, &o.only, "PART", "server: run one part: ingest, e2e or lookup (with Redis)", 0, 0},
    };
    const cli_usage u = {"strom bench NAME [--quick] [--json] [options]",
                         "Runs a benchmark in a fresh temporary data directory and checks the\n"
                         "results against the floors of the issue that asked for them.",
                         1, 1, "NAME"};
    int rc = cli_parse(argc, argv, &u, opts, (int)(sizeof opts / sizeof opts[0]), pos, &npos);
    if (rc == CLI_OK || rc == CLI_USAGE)
        list_benches(rc == CLI_OK ? stdout : stderr);
    if (rc >= 0)
        return rc;
    for (int i = 0; i < NBENCHES; i++)
        if (!strcmp(pos[0], benches[i].name))
            return benches[i].run(&o);
    fprintf(stderr, "strom: unknown benchmark '%s'\n", pos[0]);
    list_benches(stderr);
    return CLI_USAGE;
}
