/*
 * demo.h: the grid application's commands that run the whole system (apps/grid): `strom
 * demo` (demo.c) and `strom bench grid` (bench_grid.c), both on live.h.
 */
#ifndef STROM_GRID_DEMO_H
#define STROM_GRID_DEMO_H

#include <stddef.h>
#include <stdint.h>

/* `strom demo ...` (argv[0] = "demo"). Exit code 0, 1 (an error, or a decision that failed
 * the run's check) or 2 (usage). */
int grid_cmd_demo(int argc, char **argv);

typedef struct grid_bench_opts {
    int quick, json;
    int64_t devices;          /* 0: 500,000 (quick: 20,000) */
    double duration_s;        /* 0: 30 (quick: 8) */
    const char *dir;          /* where the run's directory goes */
    const char *topology;     /* NULL: the IEEE 123 file of this source tree */
} grid_bench_opts;

/* `strom bench grid`: exit code 0 (floors printed, pass or fail) or 1 (the run failed). */
int grid_bench(const grid_bench_opts *o);

/* The IEEE 123 feeder file (IEEE123Switches.dss) of this source tree: data/grid/ieee123
 * beside the executable's build directory, else under the current directory, else in the
 * tree the executable was built from. 0 or -1. */
int grid_default_topology(char *out, size_t n);

#endif /* STROM_GRID_DEMO_H */
