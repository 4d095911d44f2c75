/* main.c: the `strom` command. Subcommands are dispatched from the table below; each
 * lives in its own file (cmd_*.c) and parses its own options (args.c). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_client.h"
#include "demo.h"

typedef struct cli_cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cli_cmd;

static const cli_cmd commands[] = {
    {"server", cmd_server, "run the network server (native protocol) over a data directory"},
    {"demo", grid_cmd_demo, "the grid dispatch system live: telemetry, faults located, isolated, load restored"},
    {"tour", cmd_demo, "a guided tour of the storage: telemetry log table, time travel, device dimension"},
    {"bench", cmd_bench, "run a named benchmark (log) and check it against the floors"},
    {"tables", cmd_tables, "list the tables of a data directory or a server"},
    {"describe", cmd_describe, "show a table's schema, options and per-bucket storage"},
    {"sql", cmd_sql, "run Flink-dialect SQL over the tables (-e, -f or an interactive shell)"},
    {"produce", cmd_produce, "write rows from CSV or JSON Lines into a table on a server"},
    {"tail", cmd_tail, "follow a table on a server and print its rows"},
    {"lookup", cmd_lookup, "look up primary keys of a table on a server"},
    {"stats", cmd_stats, "print the statistics of a server or of one of its tables"},
    {"grid", cmd_grid, "grid application: fault isolation/restoration plan, grid builder"},
};
#define NCOMMANDS ((int)(sizeof commands / sizeof commands[0]))

static void print_help(FILE *f)
{
    fprintf(f, "usage: strom <command> [options]   (strom <command> --help for its options)\n\n"
               "strom: a streaming store for real-time power-grid data.\n\n"
               "commands:\n");
    for (int i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nexit codes: 0 ok, 1 error, 2 bad usage\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        print_help(stdout);
        return CLI_OK;
    }
    for (int i = 0; i < NCOMMANDS; i++)
        if (!strcmp(name, commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "strom: unknown command '%s'; commands:", name);
    for (int i = 0; i < NCOMMANDS; i++)
        fprintf(stderr, " %s", commands[i].name);
    fprintf(stderr, " (see strom --help)\n");
    return CLI_USAGE;
}
