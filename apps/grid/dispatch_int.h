/* dispatch_int.h: `strom grid dispatch`'s run state, shared by dispatch_cmd.c (arguments,
 * the loop, decisions, output) and dispatch_io.c (rules, alarms, checkpoints, restart).
 * Private to apps/grid. */
#ifndef STROM_GRID_DISPATCH_INT_H
#define STROM_GRID_DISPATCH_INT_H

#include <stdint.h>
#include <stdio.h>

#include "dispatch.h"
#include "store.h"

typedef struct disp_args {
    const char *server, *topology, *id;
    double devices, duration, timeout_ms, checkpoint_ms;
    int no_ties, events, quiet;
} disp_args;

/* Projected telemetry columns, in this order. */
enum { TC_ID, TC_TIME, TC_CURRENT, TC_VOLTAGE, TC_TEMP, TC_FREQ, TC_N };

/* A slot of the device id hash: the device's id (borrowed from the built topology), its
 * index (-1: empty slot) and the high half of the id's hash, compared before the bytes. */
typedef struct disp_hslot {
    const char *name;
    int32_t dev;
    uint32_t tag;
} disp_hslot;

/* A current_alarms change, rendered when its alarm event is processed (the rule behind its
 * slot may change before it is written). */
typedef struct disp_cur {
    const char *dev;            /* the topology's device name (lives as long as the run) */
    char aid[24];
    char type[GRID_RULE_ID_MAX];
    int severity;
    int raise;                  /* 1 upsert, 0 delete */
    int64_t t_ms;
} disp_cur;

typedef struct disp {
    disp_args a;
    grid_built b;
    grid_alarms *al;
    grid_loc *loc;
    grid_plan_ws *plan_ws;      /* reused by every decision (the topology's switch states change) */
    grid_diag d;
    strom_client *c;
    strom_subscriber *tele, *rules_sub;
    strom_lookuper *dim;
    strom_producer *p_alarm, *p_cur, *p_dec, *p_edge, *p_ckpt;
    strom_builder *w_alarm, *w_cur, *w_dec, *w_edge, *w_ckpt;
    disp_hslot *hslot;          /* device id hash (open addressing, linear probing) */
    uint64_t hmask;
    uint64_t *hrow;             /* per-batch scratch: each row's id hash */
    int32_t *drow;              /* per-batch scratch: each row's device index (-1 unknown) */
    int64_t crow;               /* capacity of hrow and drow */
    grid_rule rules[64];        /* alarm_rules as folded from its changelog */
    int nrules;
    int fc_slot;                /* slot of the fault_current rule (-1 none) */
    grid_alarm_ev *ev;          /* alarm events of the current poll */
    int nev, cev;
    struct disp_cur *cur;       /* current_alarms changes waiting for their alarm_stream rows */
    int ncur, ccur;             /* to be durable (see disp_alarms_write) */
    int nbuckets;
    int64_t b_newest[64];       /* per telemetry bucket: newest sample time read */
    int64_t b_seen_ms[64];      /* per telemetry bucket: wall time of its last rows (0 none) */
    int64_t start_ms;           /* wall time the run started */
    int64_t newest_ms;          /* newest sample time seen */
    int64_t last_ckpt_ms, last_rules_ms, last_stats_ms, stats_rows;
    int64_t defer_since_ms;     /* wall time alarms began to wait for a fault picture (0 none) */
    int64_t rows, unknown, decisions, recovered, alarms_written, alarms_suppressed;
    double *lat;                /* decision latencies (ms) */
    int64_t nlat, clat;
    double max_ack_ms;
    char (*known_dec)[64];      /* decision ids already in the decisions table (restart) */
    int nknown_dec;
    uint64_t *known_alarm;      /* alarm id hashes already in alarm_stream (sorted) */
    int64_t nknown_alarm;
} disp;

int64_t disp_wall_ms(void);
/* The device index of id (len bytes), -1 if unknown. */
int64_t disp_dev_find(const disp *x, const char *id, size_t len);
/* The device index of every row of a string column of n rows into x->drow (-1 unknown):
 * the slots are prefetched a batch ahead, so the cache misses of the rows overlap. 0 or -1
 * (out of memory). */
int disp_dev_find_rows(disp *x, const strom_column *ids, int64_t n);
int disp_dev_hash_build(disp *x);

/* Rules: reads alarm_rules (seeding the defaults when empty) and subscribes to its
 * changelog; disp_rules_poll applies changes made since. 0 or -1 (x->d.error). */
int disp_rules_open(disp *x);
int disp_rules_poll(disp *x);
/* Writes the poll's alarm events: raises enriched by a lookup AS OF their event time into
 * alarm_stream; the current_alarms changes (raises upserted, clears deleted) are queued for
 * disp_current_flush. 0 or -1. */
int disp_alarms_write(disp *x);
/* Sends the queued current_alarms changes once alarm_stream has no write in flight (with
 * wait: after flushing alarm_stream, so the queue is always sent). 0 or -1 (x->d says). */
int disp_current_flush(disp *x, int wait);
/* Restart: telemetry start offsets from dispatch_checkpoints, claims of decisions made
 * after the checkpoint, active alarms, alarm ids already written. from[b] gets the start
 * offset of bucket b or -1 (latest). 0 or -1. */
int disp_restore(disp *x, int64_t *from);
/* Flushes the outputs, then writes one checkpoint row per bucket. 0 or -1. */
int disp_checkpoint(disp *x);
/* disp_checkpoint once no output row is pending (then its flushes return at once), so the
 * loop does not wait for the outputs' fsyncs; if rows stay pending for 4 checkpoint
 * periods (at least 1 s), it waits for them. 0 or -1. */
int disp_checkpoint_idle(disp *x, int64_t now);
/* Overlays grid_edges' switch states on the built topology. 0 or -1. */
int disp_overlay_edges(disp *x);
/* The alarm id of a device's alarm at t: "A-" and 16 hex digits; its hash. */
uint64_t disp_alarm_hash(const char *dev, const char *type, int64_t t_ms);
int disp_known_decision(const disp *x, const char *id);

#endif /* STROM_GRID_DISPATCH_INT_H */
