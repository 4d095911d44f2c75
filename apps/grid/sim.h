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
 * The model is stateful and moves forward in time: the caller reads devices at
 * non-decreasing times and applies the events (injections, trips, switching) in time
 * order; a reading reflects the state in force.
 *
 * A line-section fault on edge f (energised and closed, not already faulted) arcs while f
 * is fed: every edge on the path from the source to f, f included, carries the fault
 * current (GRID_SIM_FAULT_A); devices downstream of f (edges in the subtree behind f,
 * meters on its buses) read undervoltage (GRID_SIM_UV_PU of nominal) and zero current.
 * GRID_SIM_FAULT_HOLD_S seconds after the arc started, protection opens the nearest
 * closed switchable edge upstream (f itself if switchable; the source if none:
 * grid_sim_step): everything no longer fed reads zero voltage and current, the devices
 * upstream carry the load less what was cut off. The section stays faulted: switching
 * (grid_sim_switch, e.g. the dispatcher's plan) that feeds it again starts a new arc and
 * a new trip. Transformer over-temperature: one transformer's temperature ramps to
 * 95 + 5/s C (cap 140); frequency deviation: the grid frequency is 50 -0.6 Hz; sensor
 * dropout: a device sends nothing. Each lasts until the simulation ends.
 *
 * Report by exception: after each injection, trip or switching, grid_sim_changed lists
 * the devices whose reading changed (region, switch state or load, noise aside): the
 * devices of the source trees the change touched, before and after, compared.
 *
 * Ownership: a grid_sim borrows the grid_built (which must outlive it) and is freed by
 * grid_sim_destroy. Not thread-safe.
 */
#ifndef STROM_GRID_SIM_H
#define STROM_GRID_SIM_H

#include <stdint.h>

#include "grid.h"
#include "strom/client.h"

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

/* A simulator of the finished built grid b (borrowed). Its switch states start as the
 * topology's edge.closed at this call; the model keeps its own afterwards (b is not
 * modified). NULL and d->error on failure. */
grid_sim *grid_sim_create(const grid_built *b, uint64_t seed, grid_diag *d);
void grid_sim_destroy(grid_sim *s);
/* Injects a fault at f->t_s, the model's current time (f->dev is set for LINE: the
 * device protection will open, or -1). 0 or -1 (d->error: not energised, already
 * faulted, not a section, too many faults). */
int grid_sim_inject(grid_sim *s, grid_sim_fault *f, grid_diag *d);
/* Faults injected so far (at most GRID_SIM_MAX_FAULTS). */
int grid_sim_nfaults(const grid_sim *s);
/* A protection trip applied by grid_sim_step. */
typedef struct grid_sim_event {
    double t_s;           /* the trip time: arc start + GRID_SIM_FAULT_HOLD_S */
    int fault;            /* index of the line fault (injection order) */
    int32_t edge;         /* the edge opened (-1: the source tripped) */
    int64_t dev;          /* its device (-1: none) */
} grid_sim_event;
/* Time of the next trip due (INFINITY: none). */
double grid_sim_next_trip(const grid_sim *s);
/* Applies the earliest trip due at or before t_s: 1 and *ev, or 0 if none is due. */
int grid_sim_step(grid_sim *s, double t_s, grid_sim_event *ev);
/* A switch state (the simulator reads them from grid_edges' changelog). */
typedef struct grid_switch_change {
    int32_t edge;         /* in the built topology */
    int closed;           /* switch_state 'closed' (1) or 'open' (0) */
    int64_t ms;           /* the row's updated time (INT64_MAX if NULL: newer than any) */
} grid_switch_change;
/* Switching by someone else (the dispatcher) at t_s: the states of c[0..n) applied at
 * once and the components they touch re-energised once (the rest of the grid is left as
 * it is). The number of edges whose state changed (0: all already so; bad edges are
 * skipped); -1 on out of memory (nothing changed). */
int grid_sim_switch(grid_sim *s, const grid_switch_change *c, int n, double t_s);
/* The model's state of edge e (1 closed). */
int grid_sim_closed(const grid_sim *s, int32_t e);
/* Devices whose reading changed with the last grid_sim_inject (line faults),
 * grid_sim_step or grid_sim_switch; *n their count. Borrowed until the next such call. */
const int64_t *grid_sim_changed(const grid_sim *s, int64_t *n);
/* Region of device i in the current state (GRID_SIM_*). */
int grid_sim_region(const grid_sim *s, int64_t i);
/* Device i's reading in the current state at simulated time t_s (seconds since the
 * start: load curve, ramps and noise). */
void grid_sim_read(grid_sim *s, int64_t i, double t_s, grid_reading *r);
/* The load device i carries in the current state (kW, no load curve, no noise): a meter
 * its bus's when fed, an edge the energised load behind it. */
double grid_sim_load_kw(const grid_sim *s, int64_t i);
/* Steady-state current of device i before any fault (A, no noise, load curve 1). */
double grid_sim_base_current(const grid_sim *s, int64_t i);
/* A random fault of the given type at t_s (rng state advanced). 0 or -1. */
int grid_sim_random_fault(grid_sim *s, grid_fault_type type, double t_s, uint64_t *rng,
                          grid_sim_fault *f, grid_diag *d);

/* ---------------------------------------------------------------- following the switching */

typedef struct grid_follow grid_follow;
/* Subscribes to grid_edges' changelog from its latest offset (rows written after this
 * call) and starts a thread that queues the state of every +I / +U row of a known edge.
 * t (borrowed; only names are read) and c must outlive it. NULL and d->error on failure. */
grid_follow *grid_follow_start(strom_client *c, const grid_topo *t, grid_diag *d);
/* Takes the queued changes in changelog order (*out owned: free; NULL when none). -1 and
 * d->error once the thread failed (connection lost). */
int grid_follow_take(grid_follow *f, grid_switch_change **out, size_t *n, grid_diag *d);
/* Stops the thread, closes the subscriber, frees. NULL is a no-op. */
void grid_follow_stop(grid_follow *f);

/* `strom grid simulate ...` (argv[0] = "grid", argv[1] = "simulate"). Exit code. */
int grid_cmd_simulate(int argc, char **argv);

#endif /* STROM_GRID_SIM_H */
