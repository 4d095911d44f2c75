/*
 * dispatch.h: the grid dispatcher's engines (apps/grid, prefixes grid_alarms_, grid_loc_,
 * grid_rule_): the alarm engine (rules as data, transitions with hysteresis, dedup,
 * flapping suppression, late and duplicate samples) and the fault locator (event-driven,
 * on the energised topology). Pure: no I/O; `strom grid dispatch` (dispatch_cmd.c) feeds
 * them from the telemetry subscription and writes what they produce (docs/grid.md,
 * "The dispatcher").
 *
 * The alarm engine. A rule is: metric (current, voltage, temperature, frequency_hz), op
 * (>, >=, <, <=), threshold, clear threshold (hysteresis), severity, alarm type,
 * hold_ms, enabled, device type scope (-1 all). Per device and rule one state: active or
 * not, time of the last raise. A sample of device i at event time t:
 *  - t older than the device's newest sample (late), or equal to it (a duplicate): nothing
 *    is raised or cleared (counted);
 *  - for each enabled rule in scope: not active and the value violates (value op
 *    threshold): raise, unless the last raise of that device and rule is less than
 *    hold_ms before t (flapping: suppressed, counted); active and the value is past the
 *    clear threshold (upper rules: value <= clear; lower rules: value >= clear): clear;
 *    between the two: no change. A NULL value changes nothing;
 *  - an active alarm of a rule now disabled or removed is cleared at the device's next
 *    sample.
 * Rules keep their slot (index) by rule id across grid_alarms_set_rules calls.
 *
 * The locator. Devices map to their edge (a parallel device to the first edge of its
 * bank; meters take no part). On the energised topology (breadth first from the sources
 * through closed edges) an edge with fault current (a sample of a rule of type
 * "fault_current" in violation) is the faulted edge once every child edge (edges fed from
 * its downstream bus) has reported a sample without fault current at or after the edge's
 * first fault-current sample; an edge without children is decided at once. A root (the
 * source's tree) with unclaimed fault current and no decision after timeout_ms of wall
 * time is decided on its deepest fault-current edge (a child that dropped out). After a
 * decision the copies (feeders F<k>) of the fault-current edges are claimed from the fault
 * onset: a fault-current sample of an edge of a claimed copy is ignored until that edge
 * has reported a sample without fault current after the onset (one decision per fault).
 * Samples come in order per device but not per edge (a bank's devices may be in different
 * telemetry buckets): a sample older than one of the other kind its edge already has is
 * stale and ignored (grid_loc_stale).
 *
 * Ownership: a grid_alarms / grid_loc is created and destroyed in pairs; grid_loc borrows
 * the grid_built (and reads its topology's current switch states at grid_loc_refresh):
 * it must outlive the locator. Not thread-safe.
 */
#ifndef STROM_GRID_DISPATCH_H
#define STROM_GRID_DISPATCH_H

#include <stdint.h>

#include "grid.h"

/* ---------------------------------------------------------------- rules */

typedef enum grid_metric { GRID_M_CURRENT = 0, GRID_M_VOLTAGE, GRID_M_TEMPERATURE, GRID_M_FREQ,
                           GRID_M_N } grid_metric;
typedef enum grid_cmp { GRID_CMP_GT = 0, GRID_CMP_GE, GRID_CMP_LT, GRID_CMP_LE } grid_cmp;

#define GRID_MAX_RULES 16
#define GRID_RULE_ID_MAX 48

typedef struct grid_rule {
    char id[GRID_RULE_ID_MAX];      /* rule_id */
    char type[GRID_RULE_ID_MAX];    /* alarm_type, e.g. "fault_current" */
    uint8_t metric;                 /* grid_metric */
    uint8_t op;                     /* grid_cmp */
    double threshold, clear;
    int severity;                   /* 1 critical .. 3 minor */
    int64_t hold_ms;                /* no re-raise within this time of the last raise */
    int enabled;
    int dev_type;                   /* grid_dev_type in scope, -1 every device */
} grid_rule;

/* Column names of the metrics ("current", "voltage", "temperature", "frequency_hz") and
 * ops (">", ">=", "<", "<="). Static. */
const char *grid_metric_name(grid_metric m);
const char *grid_cmp_name(grid_cmp c);
/* Parse them: 0 or -1. */
int grid_metric_parse(const char *s, grid_metric *m);
int grid_cmp_parse(const char *s, grid_cmp *c);
/* The default rules (docs/grid.md): *n gets their number. Static. */
const grid_rule *grid_rule_defaults(int *n);
/* 1 if value violates rule r, 0 if it is past the clear threshold, -1 in between. */
int grid_rule_test(const grid_rule *r, double value);

/* ---------------------------------------------------------------- alarm engine */

/* One telemetry sample (the projected columns). */
typedef struct grid_sample {
    int64_t dev;                    /* device index (grid_built.dev) */
    int64_t t_ms;                   /* event time */
    double v[GRID_M_N];             /* metric values */
    uint8_t has[GRID_M_N];          /* 0: NULL */
} grid_sample;

/* An alarm raised or cleared. */
typedef struct grid_alarm_ev {
    int64_t dev;
    int slot;                       /* the rule's slot (grid_alarms_rule) */
    int raise;                      /* 1 raised, 0 cleared */
    int64_t t_ms;                   /* the sample's event time */
    double value;
} grid_alarm_ev;

enum { GRID_SAMPLE_OK = 0, GRID_SAMPLE_LATE = 1, GRID_SAMPLE_DUP = 2 };

typedef struct grid_alarms grid_alarms;

typedef struct grid_alarm_counts {
    int64_t samples, late, dup, raised, cleared, suppressed, active;
} grid_alarm_counts;

/* An engine for ndev devices; dev_type[i] is device i's grid_dev_type (copied). NULL on
 * out of memory. */
grid_alarms *grid_alarms_create(int64_t ndev, const uint8_t *dev_type);
void grid_alarms_destroy(grid_alarms *a);
/* Installs rules r[0..n) (copied): a rule id already known keeps its slot; a slot whose
 * rule is gone is disabled. 0, or -1 when more than GRID_MAX_RULES ids were ever seen or
 * out of memory. */
int grid_alarms_set_rules(grid_alarms *a, const grid_rule *r, int n);
/* The rule in slot s (NULL for an unused slot), the slot of an alarm type (-1 none). */
const grid_rule *grid_alarms_rule(const grid_alarms *a, int s);
int grid_alarms_slot_of_type(const grid_alarms *a, const char *type);
/* Feeds one sample: events go to out[*nout ..] (room for GRID_MAX_RULES more needed).
 * GRID_SAMPLE_OK, _LATE or _DUP. */
int grid_alarms_feed(grid_alarms *a, const grid_sample *s, grid_alarm_ev *out, int *nout);
/* 1 if the device's alarm of slot s is active. */
int grid_alarms_active(const grid_alarms *a, int64_t dev, int slot);
/* Sets an alarm active (on = 1, raised at t_ms: the device's samples up to t_ms are then
 * late) or not, without an event (restoring the state after a restart). */
void grid_alarms_restore(grid_alarms *a, int64_t dev, int slot, int64_t t_ms, int on);
/* Every device's newest sample time becomes at least t_ms (after a restart, the
 * checkpoint's newest sample time less a margin stands in for the times lost). */
void grid_alarms_floor(grid_alarms *a, int64_t t_ms);
grid_alarm_counts grid_alarms_counts(const grid_alarms *a);

/* ---------------------------------------------------------------- locator */

typedef struct grid_loc grid_loc;

/* A located fault. */
typedef struct grid_fault_found {
    int32_t edge;                   /* the faulted edge (topology index) */
    int32_t copy;                   /* its copy (feeder F<copy>) */
    int64_t onset_ms;               /* its first fault-current sample's event time */
    int64_t sample_ms;              /* newest sample time the decision used */
    int64_t alarm_ms;               /* wall time the fault current of edge was first seen */
    int by_timeout;                 /* 1: decided on the deepest edge after the timeout */
} grid_fault_found;

/* A locator on b (borrowed); the tree is built from b->topo's current states. NULL on out
 * of memory. */
grid_loc *grid_loc_create(const grid_built *b);
void grid_loc_destroy(grid_loc *l);
/* Rebuilds the energised tree after the topology's switch states changed. */
void grid_loc_refresh(grid_loc *l);
/* Feeds an in-order sample of device dev at event time t_ms (fc: it shows fault current)
 * seen at wall time now_ms. Returns 1 and fills *out when it decides a fault, else 0. */
int grid_loc_feed(grid_loc *l, int64_t dev, int64_t t_ms, int fc, int64_t now_ms,
                  grid_fault_found *out);
/* How far every telemetry source has been read (sample time, ms; INT64_MIN: unknown, the
 * default). A root is then decided by timeout only once this is timeout_ms past its first
 * fault-current sample as well: a dispatcher behind on one telemetry bucket does not decide
 * on the deepest fault current it has seen so far while the samples from below it are still
 * unread in that bucket (it would isolate a healthy section upstream of the fault). */
void grid_loc_set_stream(grid_loc *l, int64_t stream_ms);
/* Roots waiting longer than timeout_ms (wall): decides the first on its deepest
 * fault-current edge. 1 and *out, else 0. */
int grid_loc_timeout(grid_loc *l, int64_t now_ms, int64_t timeout_ms, grid_fault_found *out);
/* Claims copy from onset_ms (after a decision; at a restart, for decisions already made). */
void grid_loc_claim(grid_loc *l, int32_t copy, int64_t onset_ms);
/* The edge a device reports for (-1: a meter), an edge's copy. */
int32_t grid_loc_edge_of(const grid_loc *l, int64_t dev);
int32_t grid_loc_copy_of_edge(const grid_loc *l, int32_t e);
/* Stale samples ignored so far (fc: with fault current, else without): a sample of a
 * parallel bank's device older than what another device of the bank already reported
 * for their edge (with fault current: not newer than its newest sample without; without:
 * older than its fault onset). Samples are in order per device, not per edge. */
int64_t grid_loc_stale(const grid_loc *l, int fc);
/* Edges with unclaimed fault current now (diagnostics, tests). */
int grid_loc_pending(const grid_loc *l);

/* Applies plan p's steps to t's current switch states. */
void grid_plan_apply(grid_topo *t, const grid_plan *p);

/* `strom grid dispatch ...` (argv[0] = "grid", argv[1] = "dispatch"). Exit code. */
int grid_cmd_dispatch(int argc, char **argv);

#endif /* STROM_GRID_DISPATCH_H */
