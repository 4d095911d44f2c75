/*
 * analyze.h: `strom grid analyze FAULT_ID` (apps/grid, prefix grid_an_): the post-fault
 * analysis (docs/grid.md, "Post-fault analysis"). analyze.c gathers, through the public
 * client API only: the fault (faults), the topology as it stood at the fault (grid_edges
 * AS OF the fault time), the affected devices (the path from the source to the section and
 * the devices behind it, as the simulator's model sees them on that topology), their
 * telemetry over the hour before and the seconds after (key history of
 * power_equipment_stream), the alarms, the decisions (read by column name: both decision
 * table layouts) and the switching that followed (grid_edges' changelog). analyze_out.c
 * writes the report, the CSV files, the plots (gnuplot, when installed) and the HTML page.
 *
 * Ownership: grid_analysis is filled by grid_an_gather and freed by grid_an_free; every
 * string in it is a copy it owns.
 */
#ifndef STROM_GRID_ANALYZE_H
#define STROM_GRID_ANALYZE_H

#include <stdint.h>

#include "grid.h"

#define GRID_AN_FAULT_A 1000.0      /* a current at or above this is fault current */
#define GRID_AN_UV_KV 5.0           /* a voltage above 0 and below this is undervoltage */

enum { GRID_AN_PATH = 0, GRID_AN_BEHIND, GRID_AN_TRIPPED_OFF, GRID_AN_NROLES };
const char *grid_an_role_name(int role);   /* "path", "behind the fault", ...: static */

typedef struct grid_an_sample {
    int64_t t;            /* event_time, ms */
    double v, i;          /* kV, A (NAN if NULL) */
    int closed;           /* breaker_closed (-1 if NULL) */
} grid_an_sample;

typedef struct grid_an_dev {
    int64_t dev;          /* index in the built grid */
    int role;             /* GRID_AN_* */
    grid_an_sample *s;    /* ascending time (owned) */
    int64_t n;
} grid_an_dev;

typedef struct grid_an_event {
    int64_t t;            /* ms */
    char what[300];
} grid_an_event;

typedef struct grid_an_step {
    int step;
    int64_t t;            /* the decision row's event_time */
    char action[16], device[128], reason[256];
} grid_an_step;

typedef struct grid_analysis {
    /* arguments */
    const char *fault_id, *server, *topology, *out;
    int64_t devices, before_ms, after_ms;
    int no_ties, quiet;
    /* the fault */
    char type[48], section[128], tripped[128], feeder[32], detail[256];
    int64_t t_fault;
    grid_built b;
    int32_t fedge, tedge;     /* the faulted edge, the tripped edge (-1) */
    /* what was gathered */
    grid_an_dev *dev;
    int ndev;
    grid_an_event *ev;
    int nev, cev;
    grid_an_step *steps;      /* the dispatcher's switching list, in step order */
    int nsteps;
    char decision_id[96];
    int64_t decision_time, sample_time, alarm_time;   /* 0: not recorded */
    double dec_interrupted, dec_restored, dec_lost;   /* NAN: not recorded */
    int has_decisions_table;
    grid_plan plan;           /* the plan on the topology at the fault */
    int has_plan;
    double interrupted, restored, lost;   /* observed: topology at the end of the window */
    int nswitch;              /* switching rows seen in grid_edges after the fault */
    int64_t rows;             /* telemetry rows read */
    int64_t alarm_t, alarm_count;   /* the first alarm of the feeder in the window, count */
    char alarm_what[256];
    uint8_t *end_closed;      /* while reading the switching: edge -> state at the end */
    char dir[1024];           /* the output directory */
    grid_diag d;
} grid_analysis;

/* Everything above from the server at a->server. 0 or -1 (a->d.error). */
int grid_an_gather(grid_analysis *a);
void grid_an_free(grid_analysis *a);
/* Adds an event (copied, printf format). 0 or -1 (out of memory). */
int grid_an_event_add(grid_analysis *a, int64_t t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes report.txt, telemetry.csv, events.csv, the plots (voltage.png, current.png,
 * overview.png: skipped without gnuplot) and index.html into a->dir (created), prints
 * the report and the directory on f. 0 or -1. */
int grid_an_write(grid_analysis *a, FILE *f);

/* `strom grid analyze FAULT_ID ...` (argv[0] = "grid", argv[1] = "analyze"). Exit code. */
int grid_cmd_analyze(int argc, char **argv);

#endif /* STROM_GRID_ANALYZE_H */
