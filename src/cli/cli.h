/*
 * cli.h: what the files of the `strom` command share: the subcommand entry points,
 * option parsing (args.c) and a few helpers for output, clocks and temporary data.
 *
 * The command uses only the public embedded API (include/strom/strom.h).
 *
 * Exit codes of every subcommand: 0 ok, 1 error (the engine or the system failed),
 * 2 usage (a bad argument; the message names it).
 */
#ifndef STROM_CLI_H
#define STROM_CLI_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "strom/strom.h"

#define CLI_OK 0
#define CLI_ERR 1
#define CLI_USAGE 2

/* ------------------------------------------------------------ subcommands */

/* Each gets argv starting at its own name (argv[0] = "bench", ...). */
int cmd_bench(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_tables(int argc, char **argv);
int cmd_describe(int argc, char **argv);
int cmd_sql(int argc, char **argv);
int cmd_server(int argc, char **argv);
int cmd_grid(int argc, char **argv);   /* apps/grid/grid_cmd.c: `strom grid plan|build` */
/* demo_dim.c: the device-dimension part of `strom demo` on db (devices >= 100). */
int demo_dimension(strom_db *db, int64_t devices);

/* Named benchmarks (cmd_bench.c dispatches to them). */
typedef struct bench_opts {
    int quick;          /* --quick: a few million rows, < 30 s */
    int json;           /* --json: one JSON object as the last line */
    const char *dir;    /* parent directory for the temporary data (default /tmp) */
    int64_t rows;       /* 0: the default for quick/full */
    int64_t devices;    /* 0: the default */
    int64_t batch_rows; /* rows per append call */
    int64_t threads;    /* producer threads */
    int64_t buckets;    /* bucket.num */
    int keep;           /* --keep: leave the data directory behind */
    const char *only;   /* --only PART: server: ingest, e2e or lookup (NULL: all) */
} bench_opts;

int bench_log(const bench_opts *o);
/* bench_sql.c: SQL over strom tables (bench/README.md). */
int bench_sql(const bench_opts *o);
/* bench_sql_stream.c: statement 3 as a streaming query in a server (bench_sql calls it). */
typedef struct bench_stream_result {
    double alarms_per_s, p50_ms, p99_ms;
    int64_t latency_alarms, rate_alarms;
} bench_stream_result;
int bench_sql_stream(const char *dir, int quick, int64_t devices, bench_stream_result *out);
/* bench_server.c: `strom server --port 0 --data data` as a child (this binary); addr gets
 * "HOST:PORT" from its ready line. */
int bench_server_spawn(const char *data, pid_t *pid, char *addr, size_t cap);
void bench_server_stop(pid_t *pid);
/* bench_kv*.c: the primary-key device table (bench/README.md). */
int bench_kv(const bench_opts *o);

/* bench_sizes.c: the same sample under each encoding x codec (see there). */
#define BENCH_SIZE_VARIANTS 5
typedef struct bench_size {
    int64_t rows;
    double bytes_per_row[BENCH_SIZE_VARIANTS];
    double rows_per_s[BENCH_SIZE_VARIANTS];   /* one thread, flush = none */
} bench_size;
struct tele_model;
int bench_log_sizes(strom_db *db, const struct tele_model *m, int64_t rows, bench_size *out);
/* "plain_none", "auto_zstd", ... into buf. */
const char *bench_size_variant_name(int i, char *buf, size_t n);

/* ---------------------------------------------------------- option parsing */

typedef enum cli_opt_kind {
    CLI_FLAG,   /* int *: set to 1 */
    CLI_STR,    /* const char **: the argument */
    CLI_INT     /* int64_t *: a decimal in [min, max]; suffixes k, M, G (x1000) accepted */
} cli_opt_kind;

typedef struct cli_opt {
    const char *name;   /* "--rows" */
    cli_opt_kind kind;
    void *dst;
    const char *arg;    /* name of the argument in help ("N", "DIR"); NULL for flags */
    const char *help;   /* one line */
    int64_t min, max;   /* CLI_INT bounds */
} cli_opt;

/* A command's usage: "strom demo [options]" plus a paragraph, then the options. */
typedef struct cli_usage {
    const char *synopsis;   /* "strom describe TABLE [--data DIR]" */
    const char *about;      /* a few lines */
    int min_pos, max_pos;   /* positional arguments allowed */
    const char *pos_names;  /* their names for messages ("NAME"), NULL if none */
} cli_usage;

/* Parses argv[1..] (argv[0] is the subcommand). Options may be "--x v" or "--x=v" and
 * may come before or after positional arguments; "--" ends the options. Positional
 * arguments are stored in pos[] (at most max_pos) and counted in *npos.
 * Returns -1 when parsing succeeded, otherwise the exit code the command should return
 * at once: 0 after printing --help, 2 after printing a message naming the bad argument. */
int cli_parse(int argc, char **argv, const cli_usage *u, const cli_opt *opts, int nopts,
              const char **pos, int *npos);
void cli_print_usage(FILE *f, const cli_usage *u, const cli_opt *opts, int nopts);

/* ------------------------------------------------------------------ helpers */

/* "strom: <what>: <error text>: <detail>" on stderr; returns CLI_ERR. */
int cli_fail(strom_err err, const char *what);
/* "strom: <printf>" on stderr; returns CLI_ERR. */
int cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Monotonic seconds. */
double cli_now(void);
/* The q-quantile (0..1, nearest rank) of v[0..n) (sorts v in place); 0 for n <= 0. */
double cli_percentile(double *v, int64_t n, double q);
/* "1,234,567" into buf (at least 32 bytes); returns buf. */
const char *cli_group(int64_t v, char *buf);
/* "12.3 MB" style (decimal units) into buf (at least 32 bytes); returns buf. */
const char *cli_bytes(double v, char *buf);
/* "2025-01-13 14:30:00.000" (zone-less, as TIMESTAMP(3)) into buf (>= 32 bytes); a time
 * outside the years 0000..9999 as its whole number of ms (what cli_parse_time reads back). */
const char *cli_time(int64_t ms, char *buf);
/* rm -rf path; 0 or errno. */
int cli_rmtree(const char *path);
/* Creates a fresh directory "<parent>/<prefix>XXXXXX" into out (size n). 0 or errno. */
int cli_mktemp_dir(const char *parent, const char *prefix, char *out, size_t n);
/* Sum of bucket statistics over a table's buckets. */
strom_err cli_table_stats(strom_table *t, strom_bucket_stats *sum);

#endif /* STROM_CLI_H */
