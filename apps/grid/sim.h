/*
 * sim.h: the grid telemetry simulator (apps/grid, prefix grid_sim_): per-device readings
 * of a built grid (grid_build) from its electrical state, and fault signatures.
 *
 * The model (docs/grid.md, "The simulator"): the network is energised from the sources
 * through closed edges (breadth first); each edge's downstream bus is the one farther from
 * the source, its flow the sum of the loads behind it. A device reads the voltage of its
 * upstream bus (meters: of their bus) and the current of its edge (meters: of their bus's
 * load): I = P / (sqrt3 * U * pf). Load follows a daily curve with per-device noise;
 * voltage 10 kV +-7% (GB/T 12325), frequency 50 Hz +-0.2 Hz (GB/T 15945).
 *
 * A line-section fault on edge f (energised and closed) has two phases:
 *  - fault (GRID_SIM_FAULT_HOLD_S seconds from the fault time): every edge on the path from
 *    the source to f, f included, carries the fault current (GRID_SIM_FAULT_A); devices
 *    downstream of f (edges in the subtree behind f, meters on its buses) read
 *    undervoltage (GRID_SIM_UV_PU of nominal) and zero current;
 *  - tripped (afterwards): the protection device (grid_plan_make's tripped device) is open
 *    (breaker_closed false): everything behind it reads zero voltage and current.
 * Transformer over-temperature: one transformer's temperature ramps to 95 + 5/s C (cap
 * 140); frequency deviation: the grid frequency is 50 -0.6 Hz; sensor dropout: a device
 * sends nothing. Each lasts until the simulation ends.
 *
 * Ownership: a grid_sim borrows the grid_built (which must outlive it) and is freed by
 * grid_sim_destroy. Not thread-safe.
 */
#ifndef STROM_GRID_SIM_H
#define STROM_GRID_SIM_H

#include <stdint.h>

#include "grid.h"

#define GRID_SIM_NOMINAL_KV 10.0
#define GRID_SIM_FAULT_A 4000.0
#define GRID_SIM_UV_PU 0.2
#define GRID_SIM_FAULT_HOLD_S 2
#define GRID_SIM_MAX_FAULTS 256

typedef enum grid_fault_type {
    GRID_FAULT_LINE = 0, GRID_FAULT_OVERTEMP, GRID_FAULT_FREQ, GRID_FAULT_DROPOUT, GRID_FAULT_NTYPES
} grid_fault_type;
const char *grid_fault_type_name(grid_fault_type t);   /* static */

/* A device's region under the active line fault. */
enum { GRID_SIM_NORMAL = 0, GRID_SIM_PATH = 1, GRID_SIM_DOWN = 2, GRID_SIM_DEAD = 3 };

typedef struct grid_sim_fault {
    grid_fault_type type;
    int32_t edge;         /* LINE: the faulted edge */
    int64_t dev;          /* OVERTEMP / DROPOUT: the device; LINE: the tripped device or -1 */
    double t_s;           /* simulated seconds at which it starts */
} grid_sim_fault;

/* One reading (the telemetry row's values). */
typedef struct grid_reading {
    double voltage, current, temperature, va, vb, vc, ia, ib, ic, p_kw, q_kvar, pf, freq;
    double thd;
    int breaker_closed, quality, tap;
    int64_t energy_kwh;
    int present;          /* 0: sensor dropout (no row) */
} grid_reading;

typedef struct grid_sim grid_sim;

/* A simulator of the finished built grid b (borrowed). NULL and d->error on failure. */
grid_sim *grid_sim_create(const grid_built *b, uint64_t seed, grid_diag *d);
void grid_sim_destroy(grid_sim *s);
/* Injects a fault (f->dev is set for LINE: the tripped device's index, or -1). 0 or -1
 * (d->error: not energised, not a section, too many faults). */
int grid_sim_inject(grid_sim *s, grid_sim_fault *f, grid_diag *d);
/* Faults injected so far (at most GRID_SIM_MAX_FAULTS). */
int grid_sim_nfaults(const grid_sim *s);
/* Region of device i under the line faults at time t_s (GRID_SIM_*). */
int grid_sim_region(const grid_sim *s, int64_t i, double t_s);
/* Device i's reading at simulated time t_s (seconds since the start). */
void grid_sim_read(grid_sim *s, int64_t i, double t_s, grid_reading *r);
/* 1 if device i is the device a line fault trips. */
int grid_sim_is_trip(const grid_sim *s, int64_t i);
/* Steady-state current of device i before any fault (A, no noise, load curve 1). */
double grid_sim_base_current(const grid_sim *s, int64_t i);
/* A random fault of the given type at t_s (rng state advanced). 0 or -1. */
int grid_sim_random_fault(grid_sim *s, grid_fault_type type, double t_s, uint64_t *rng,
                          grid_sim_fault *f, grid_diag *d);

/* `strom grid simulate ...` (argv[0] = "grid", argv[1] = "simulate"). Exit code. */
int grid_cmd_simulate(int argc, char **argv);

#endif /* STROM_GRID_SIM_H */
