/*
 * live.h: a live run of the whole grid system (apps/grid, prefix grid_live_): a strom server
 * on a fresh data directory, the grid loaded into it, the dispatcher and the telemetry
 * simulator (with faults injected every few seconds) running together as separate
 * processes of this executable, their JSON Lines events (proc.h) gathered here. Used by
 * `strom demo` (a live terminal view) and `strom bench grid` (figures and correctness).
 *
 * Correctness is checked here, independently of the dispatcher's code: the run keeps its
 * own copy of the built grid, applies every decision's switching to it in order, and after
 * each decision re-energises it from the sources by its own breadth-first walk: the faulted
 * section must be dead, the network radial (no loop, no two sources joined), and the
 * decision must name the section the simulator faulted.
 *
 * Ownership: grid_live_create copies the options' strings it keeps; grid_live_destroy stops
 * whatever still runs and frees everything. Not thread-safe.
 */
#ifndef STROM_GRID_LIVE_H
#define STROM_GRID_LIVE_H

#include <stdint.h>
#include <stdio.h>

#include "grid.h"
#include "proc.h"

struct grid_live;

typedef struct grid_live_opts {
    const char *data;         /* data directory: must not exist or be an earlier run's */
    const char *topology;     /* feeder template file */
    int64_t devices;
    double duration_s;        /* telemetry seconds */
    double fault_every_s;     /* a line fault at every multiple of this */
    double rate_hz;           /* telemetry rate per device (1) */
    uint64_t seed;
    int tick_ms;              /* how often on_tick is called (1000) */
    void (*on_tick)(void *ctx, const struct grid_live *l);          /* may be NULL */
    void (*on_decision)(void *ctx, const struct grid_live *l, int i); /* may be NULL */
    void (*on_fault)(void *ctx, const struct grid_live *l, int i);    /* may be NULL */
    void (*on_phase)(void *ctx, const char *what);                   /* may be NULL */
    /* Called once the simulator and dispatcher have stopped, while the server still runs
     * (l->addr), e.g. for an analysis; may be NULL. */
    void (*on_before_stop)(void *ctx, struct grid_live *l);
    void *ctx;
} grid_live_opts;

/* One fault the simulator injected. */
typedef struct grid_live_fault {
    char id[64], section[96], feeder[32], type[32], tripped[96];
    int64_t t_ms;
    int decision;             /* index into decisions, -1 until one names the section */
} grid_live_fault;

/* One decision of the dispatcher, with the run's own check. */
typedef struct grid_live_decision {
    char id[64], fault[96], feeder[32];
    int64_t sample_ms, alarm_ms, decision_ms;   /* decision_ms: when written (acknowledged) */
    double latency_ms, interrupted_kw, restored_kw, lost_kw;
    char opened[512], closed[256];     /* ids, ", "-separated */
    int nopened, nclosed;
    int injected;             /* 1: names a section the simulator faulted */
    int section_dead, radial; /* the run's own check after applying it */
    char problem[160];        /* why the check failed ("" when it passed) */
} grid_live_decision;

typedef struct grid_live {
    grid_live_opts o;
    grid_built built;         /* the run's own copy of the grid */
    char addr[64], dir[1024], log[1100];
    grid_proc server, sim, disp;
    double t_start, t_load_s, t_stream_start;
    int64_t load_rows;
    /* from the children's events */
    int64_t sim_rows, disp_rows, alarms, active_alarms;
    double sim_rows_per_s, disp_rows_per_s, disp_p50, disp_p99, disp_max;
    grid_live_fault *faults;
    int nfaults, cfaults;
    grid_live_decision *dec;
    int ndec, cdec;
    int bad_lines;            /* event lines that did not parse */
    /* resources, sampled every tick over server + simulator + dispatcher */
    double cpu_s_total, rss_mb_max, cpu_pct;
    double cpu_s[3];
    char last_problem[256];
} grid_live;

/* Builds the grid copy; nothing is started. NULL and d->error on failure. */
grid_live *grid_live_create(const grid_live_opts *o, grid_diag *d);
/* Starts the server, loads the grid, starts the dispatcher and the simulator, gathers
 * events until the simulator ends (or *stop becomes nonzero), lets the dispatcher finish
 * the last decisions, stops everything in order. 0 or -1 (d->error). */
int grid_live_run(grid_live *l, volatile int *stop, grid_diag *d);
void grid_live_destroy(grid_live *l);
/* Removes the run's directory (data and logs). 0 or -1. */
int grid_live_remove_dir(const grid_live *l);

/* Latency percentile (0..100) of the decisions so far (ms), 0 when none. */
double grid_live_pct(const grid_live *l, double p);
/* Faults whose decision passed the check. */
int grid_live_correct(const grid_live *l);
/* Sums of the decisions' interrupted and restored load (kW). */
void grid_live_load(const grid_live *l, double *interrupted, double *restored);

#endif /* STROM_GRID_LIVE_H */
