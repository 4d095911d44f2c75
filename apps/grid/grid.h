/*
 * grid.h: the grid application's core (apps/grid, prefix grid_): the topology model of a
 * distribution feeder, its loaders (OpenDSS subset, MATPOWER case files), the fault
 * isolation and restoration plan, and the grid builder that replicates a feeder template.
 *
 * The application uses only strom's public API (include/strom/); this part needs no
 * storage. The model and the plan's rules are documented in docs/grid.md; the
 * definitions there (interrupted, lost, restored load; ids) are normative.
 *
 * Ownership: a grid_topo is created by grid_topo_create or a loader and freed by
 * grid_topo_destroy; every name (grid_name) it returns is borrowed from it and valid
 * until it is destroyed. A grid_plan is filled by grid_plan_make and freed by
 * grid_plan_free. Nothing here is thread-safe: one topology per thread at a time
 * (a plan only reads the topology, so many threads may plan on one topology once it is
 * finished and no longer modified).
 */
#ifndef STROM_GRID_H
#define STROM_GRID_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---------------------------------------------------------------- diagnostics */

/* Warnings (skipped statements) and the error of a failed call. */
typedef struct grid_diag {
    /* Called once per warning with "file:line: text"; NULL: warnings go to stderr. */
    void (*warn)(void *ctx, const char *msg);
    void *ctx;
    int quiet;          /* 1: warnings are only counted */
    int nwarn;          /* warnings so far */
    char error[512];    /* "file:line: what" after a failure */
} grid_diag;

void grid_warnf(grid_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefixes d->error with "file:line: "; returns -1. */
int grid_error_at(grid_diag *d, const char *file, int line);
/* Sets d->error; returns -1 (every failing call here returns -1). */
int grid_errorf(grid_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------- topology */

typedef enum grid_kind {
    GRID_LINE = 0,        /* a line section (not switchable) */
    GRID_SWITCH = 1,      /* a switchable line (OpenDSS switch=yes; every MATPOWER branch) */
    GRID_BREAKER = 2,     /* a feeder breaker (switchable; the builder's feeder heads) */
    GRID_TRANSFORMER = 3  /* a transformer (not switchable) */
} grid_kind;

const char *grid_kind_name(grid_kind k);   /* "line", "switch", ...: static */

typedef struct grid_edge {
    uint32_t name;        /* offset of its id in the string arena (grid_name) */
    int32_t a, b;         /* bus indices (a = Bus1 / FROM) */
    uint8_t kind;         /* grid_kind */
    uint8_t switchable;   /* 1 for GRID_SWITCH and GRID_BREAKER */
    uint8_t normal_closed;
    uint8_t closed;       /* current state */
    int32_t parallel;     /* -1, or the first edge of the same kind on the same bus pair:
                           * that edge carries the electrical connection (banks of
                           * single-phase transformers), this one is a device only */
    double rating_kw;     /* 0: unbounded; parallel edges' ratings add to the first */
} grid_edge;

typedef struct grid_bus {
    uint32_t name;        /* offset of its name in the string arena */
    int32_t nloads;       /* loads connected here */
    double load_kw;       /* their sum */
    double x, y;          /* BusCoords, if has_xy */
    uint8_t has_xy;
    uint8_t source;       /* a source (OpenDSS circuit bus, MATPOWER reference bus) */
} grid_bus;

typedef struct grid_topo {
    char *strs;           /* string arena: NUL-terminated names */
    size_t slen, scap;
    grid_bus *bus;
    int32_t nbus, cbus;
    grid_edge *edge;
    int32_t nedge, cedge;
    int32_t *bhash, *ehash;   /* open-addressing name -> index tables (-1 empty) */
    uint32_t bhcap, ehcap;
    int32_t nloads;
    double base_kv;       /* nominal kV of the source (0 unknown) */
    char *title;          /* circuit / case name (owned) */
    int32_t *adj_off;     /* after grid_topo_finish: adjacency of bus i is */
    int32_t *adj;         /* adj[adj_off[i] .. adj_off[i+1]) (edge indices) */
} grid_topo;

grid_topo *grid_topo_create(void);             /* NULL on out of memory */
void grid_topo_destroy(grid_topo *t);          /* NULL is a no-op */
/* Makes room for nbus buses, nedge edges and strbytes of names (a hint). 0 or -1. */
int grid_topo_reserve(grid_topo *t, int32_t nbus, int32_t nedge, size_t strbytes);
const char *grid_name(const grid_topo *t, uint32_t off);   /* borrowed */
/* Copies len bytes of s into t's string arena: the offset, UINT32_MAX on out of memory. */
uint32_t grid_str_add(grid_topo *t, const char *s, size_t len);
const char *grid_edge_id(const grid_topo *t, int32_t e);    /* borrowed */
const char *grid_bus_name(const grid_topo *t, int32_t b);   /* borrowed */
/* The bus of that name (len bytes), created if absent; -1 on out of memory. */
int32_t grid_bus_get(grid_topo *t, const char *name, size_t len);
int32_t grid_bus_find(const grid_topo *t, const char *name);      /* -1 if absent */
int32_t grid_edge_find(const grid_topo *t, const char *id);       /* -1 if absent */
/* Adds an edge (id copied); -1 on out of memory or a duplicate id (d->error set). */
int32_t grid_edge_add(grid_topo *t, const char *id, int32_t a, int32_t b, grid_kind kind,
                      int closed, double rating_kw, grid_diag *d);
/* Marks parallel edges and builds the adjacency; call after the last edge. 0 or -1. */
int grid_topo_finish(grid_topo *t, grid_diag *d);
double grid_total_load(const grid_topo *t);
int32_t grid_count_kind(const grid_topo *t, grid_kind k);

/* ---------------------------------------------------------------- loaders */

/* Loads an OpenDSS file (Redirects relative to it). 0 or -1 (d->error "file:line: ..."). */
int grid_load_opendss(const char *path, grid_topo **out, grid_diag *d);
/* The same over text in memory; name is used in messages; Redirect is refused unless
 * allow_redirect (the fuzzer passes 0). */
int grid_load_opendss_text(const char *name, const char *text, size_t len, int allow_redirect,
                           grid_topo **out, grid_diag *d);
/* Loads a MATPOWER case file (mpc.bus, mpc.branch, mpc.baseMVA). 0 or -1. */
int grid_load_matpower(const char *path, grid_topo **out, grid_diag *d);
int grid_load_matpower_text(const char *name, const char *text, size_t len, grid_topo **out,
                            grid_diag *d);
/* By extension: .m is MATPOWER, anything else OpenDSS. */
int grid_load(const char *path, grid_topo **out, grid_diag *d);
/* The whole file into *buf (NUL-terminated, owned: free). 0 or -1. */
int grid_read_file(const char *path, char **buf, size_t *len, grid_diag *d);

/* ---------------------------------------------------------------- the plan */

typedef enum grid_reason {
    GRID_R_TRIP = 0,      /* protection trips the nearest closed switchable device upstream */
    GRID_R_ISOLATE,       /* opened to bound the faulted section */
    GRID_R_RECLOSE,       /* the tripped device, not bounding the section, closed again */
    GRID_R_TIE            /* a tie closed to pick up healthy de-energised load */
} grid_reason;

typedef struct grid_step {
    int32_t edge;
    uint8_t close;        /* 0 open, 1 close */
    uint8_t reason;       /* grid_reason */
    double kw;            /* GRID_R_TIE: load picked up; GRID_R_TRIP: load interrupted */
    int32_t via;          /* GRID_R_TIE: the bus on the energised side */
} grid_step;

typedef struct grid_plan {
    int32_t fault;        /* the faulted edge */
    int32_t tripped;      /* the device protection trips; -1 if none (fault on the source side) */
    grid_step *steps;     /* in order (owned) */
    int nsteps;
    double interrupted_kw, lost_kw, restored_kw, total_kw;
    int32_t section_buses;    /* buses inside the faulted section (de-energised for good) */
    int searched;         /* restoration states examined */
    int exhaustive;       /* 1: the restoration search was exhaustive (else greedy) */
} grid_plan;

/* The plan for a fault on edge `fault` of the finished topology t (its current switch
 * states are the pre-fault state; t is not modified). 0 or -1 (out of memory). */
int grid_plan_make(const grid_topo *t, int32_t fault, grid_plan *p, grid_diag *d);

/* A reusable workspace for plans on one finished topology: grid_plan_make_ws walks only
 * the components a plan can touch (the fault's and those beyond the open devices next to
 * its interrupted buses), so a plan on a 500,000-device grid takes well under a
 * millisecond; grid_plan_make builds and frees one per call (O(grid) each time).
 * The workspace borrows t: t must outlive it, and its buses, loads and edges must not
 * change while it exists; switch states (edge.closed) may change between plans (each plan
 * reads the current ones). One thread at a time per workspace. create: NULL on out of
 * memory; destroy: NULL is a no-op. */
typedef struct grid_plan_ws grid_plan_ws;
grid_plan_ws *grid_plan_ws_create(const grid_topo *t);
void grid_plan_ws_destroy(grid_plan_ws *w);
/* As grid_plan_make, on w's topology. 0 or -1. */
int grid_plan_make_ws(grid_plan_ws *w, int32_t fault, grid_plan *p, grid_diag *d);
/* 1: plans use the whole-grid passes (every source, every edge scanned): slower, the same
 * plan; kept as the reference the tests compare the focused passes with. */
void grid_plan_ws_whole(grid_plan_ws *w, int whole);
void grid_plan_free(grid_plan *p);
const char *grid_reason_text(grid_reason r);
/* Human-readable plan on f. */
void grid_plan_print(const grid_topo *t, const grid_plan *p, FILE *f);
/* The JSON object, one line, no newline. */
void grid_plan_json(const grid_topo *t, const grid_plan *p, FILE *f);
/* Writes a JSON string (quoted, escaped). */
void grid_json_str(FILE *f, const char *s);

/* ---------------------------------------------------------------- the grid builder */

typedef enum grid_dev_type {
    GRID_DEV_BREAKER = 0, GRID_DEV_SWITCH, GRID_DEV_TRANSFORMER, GRID_DEV_LINE, GRID_DEV_METER,
    GRID_DEV_NTYPES
} grid_dev_type;
const char *grid_dev_type_name(grid_dev_type t);   /* static */

/* One row of the device dimension. */
typedef struct grid_device {
    uint32_t id;          /* string offset in the built topology's arena */
    uint8_t type;         /* grid_dev_type */
    int32_t copy;         /* which copy of the template */
    int32_t edge;         /* its edge in the built topology, -1 for meters */
    int32_t bus;          /* meters: the bus metered; else the edge's Bus1 */
    double rating_kw;     /* 0 unbounded */
} grid_device;

typedef struct grid_built {
    grid_topo *topo;      /* owned: the replicated network */
    grid_device *dev;     /* owned: one row per device */
    int64_t ndev;
    int32_t copies;
    int32_t per_copy;     /* devices per copy (ties excluded) */
    int32_t tie_bus;      /* template bus at which neighbouring copies are tied */
    int64_t count[GRID_DEV_NTYPES];
    int64_t ties;         /* of the switches: neighbour ties */
} grid_built;

/* Replicates the finished template up to `devices` devices (at least one copy): copy k's
 * ids are "F<k>/<template id>" (bus names alike), copy k's feeder head gets a breaker
 * "F<k>/Breaker" from a source bus "F<k>/source", and with link, copies k and k+1 are tied
 * by a normally-open switch "Tie.F<k>-F<k+1>" between their tie buses. 0 or -1. */
int grid_build(const grid_topo *tmpl, int64_t devices, int link, grid_built *out, grid_diag *d);
void grid_built_free(grid_built *b);
/* Devices one copy of the template yields (breaker + edges + meters). */
int64_t grid_devices_per_copy(const grid_topo *tmpl);

/* ---------------------------------------------------------------- small helpers */

/* A numeric option of a command: its value (a double) goes to the field at off of the
 * command's argument struct when it lies in [min, max]. */
typedef struct grid_num_opt { const char *name; size_t off; double min, max; } grid_num_opt;

/* Looks name up in opts[0..n): -1 not one of them, 0 value stored in args, 1 the value is
 * not a number in range (nothing stored; the caller says so). */
int grid_num_opt_set(const grid_num_opt *opts, size_t n, void *args, const char *name,
                     const char *value);

/* out[i] = the q[i]-quantile (0..1, nearest rank) of v[0..n), 0 when n is 0; v is not
 * changed (a sorted copy is made). */
void grid_percentiles(const double *v, int64_t n, const double *q, double *out, int nq);

/* ---------------------------------------------------------------- command */

/* `strom grid plan|build ...`: argv[0] = "grid". Exit code 0, 1 or 2. */
int cmd_grid(int argc, char **argv);

#endif /* STROM_GRID_H */
