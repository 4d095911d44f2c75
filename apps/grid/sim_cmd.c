/* sim_cmd.c: `strom grid simulate`: telemetry of the built grid into power_equipment_stream
 * (docs/grid.md, "The simulator"). At R Hz device i of N samples at (k + i/N) / R s of
 * tick k; paced, the rows due are written every 5 ms with their sample time as event
 * time. Faults on command (--fault SECTION --fault-at S) or at random (--fault-every S,
 * --fault-types) are recorded in the faults table; at a line fault and at its trip every
 * device whose reading changed reports at once (report by exception), flushed. The
 * switching others write to grid_edges is followed (sim_follow.c). --events: JSON lines. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "sim.h"
#include "store.h"

#define PACE_STEP_S 0.005
#define NOPACE_STEP_S 0.05

typedef struct sim_args {
    const char *server, *topology, *fault, *types;
    double devices, rate_hz, pmu, duration, late_pct, dup_pct, fault_every, fault_at, seed;
    int no_pace, no_ties, quiet, events;
} sim_args;

typedef struct sim_run {
    sim_args a;
    grid_built b;
    grid_sim *sim;
    strom_client *c;
    grid_follow *follow;
    strom_producer *tele, *faults, *edges, *status;
    strom_builder *tb, *fb, *eb, *sb;
    int64_t t0_ms, rows, late, dup, nfault, dropped, skipped, exc, switches, trips;
    uint64_t rng;
    unsigned types;           /* bit per grid_fault_type allowed at random */
    int64_t nticks, sk, si;   /* SCADA cursor: tick sk, device si */
    int64_t pk;               /* PMU cursor: tick pk, sub-sample pj (1 .. sub - 1) */
    int pj, sub;
    int64_t npmu;
    double model_t;           /* time of the last sample or event */
    double next_ev;           /* the next fault or trip due */
    int cmd_done;             /* the commanded fault was injected */
    double next_rand;         /* the next random fault's time (whole ms) */
    int64_t nrand;            /* random fault times so far: next_rand = (nrand + 1) x every */
    int64_t *last_ms;         /* edge -> time of the model's last change of it */
    int64_t *pend, npend;     /* devices to report by exception (each once) */
    uint32_t *pstamp, pgen;   /* device -> pgen: in pend */
    char fid[GRID_SIM_MAX_FAULTS][48];
    grid_diag d;
} sim_run;

static const grid_num_opt num_opts[] = {
    {"--devices", offsetof(sim_args, devices), 1, 1e8},
    {"--rate-hz", offsetof(sim_args, rate_hz), 0.01, 100},
    {"--pmu", offsetof(sim_args, pmu), 0, 1e6},
    {"--duration", offsetof(sim_args, duration), 0.01, 1e7},
    {"--late-pct", offsetof(sim_args, late_pct), 0, 100},
    {"--dup-pct", offsetof(sim_args, dup_pct), 0, 100},
    {"--fault-every", offsetof(sim_args, fault_every), 0, 1e7},
    {"--fault-at", offsetof(sim_args, fault_at), 0, 1e7},
    {"--seed", offsetof(sim_args, seed), 0, 1e15},
};

static int usage_err(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "strom grid simulate: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return 2;
}

static int set_num(sim_args *a, const char *name, const char *v, int *found)
{
    int r = grid_num_opt_set(num_opts, sizeof num_opts / sizeof num_opts[0], a, name, v);
    *found = r >= 0;
    return r > 0 ? usage_err("%s: '%s' is not a number in range", name, v) : 0;
}

/* --fault-types a,b,..: line, overtemp, freq, dropout. 0 or 2. */
static int parse_types(const char *v, unsigned *mask)
{
    static const char *const n[GRID_FAULT_NTYPES] = {"line", "overtemp", "freq", "dropout"};
    *mask = 0;
    for (const char *p = v; *p;) {
        size_t len = strcspn(p, ",");
        int k = 0;
        while (k < GRID_FAULT_NTYPES && !(strlen(n[k]) == len && !strncmp(p, n[k], len)))
            k++;
        if (k == GRID_FAULT_NTYPES) {
            fprintf(stderr, "strom grid simulate: --fault-types: '%.*s' is not one of line, overtemp, freq, dropout\n",
                    (int)len, p);
            return 2;
        }
        *mask |= 1u << k;
        p += len + (p[len] == ',');
    }
    if (!*mask)
        return usage_err("--fault-types: empty list%s%s", "", "");
    return 0;
}

static int flag(sim_args *a, const char *o)
{
    static const struct { const char *name; size_t off; } f[] = {
        {"--no-pace", offsetof(sim_args, no_pace)}, {"--no-ties", offsetof(sim_args, no_ties)},
        {"--quiet", offsetof(sim_args, quiet)}, {"--events", offsetof(sim_args, events)}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (!strcmp(o, f[i].name))
            return *(int *)((char *)a + f[i].off) = 1;
    return 0;
}

static int sim_usage(void)
{
    printf("usage: strom grid simulate --server HOST:PORT --topology FILE --devices N [options]\n\n"
           "Telemetry of every device of the grid built from FILE (as `strom grid load`) into\n"
           "power_equipment_stream, faults injected and recorded (docs/grid.md, \"The simulator\").\n\n"
           "  --rate-hz R          samples per device per second (default 1); device i of N samples\n"
           "                       at (k + i/N) / R s of tick k\n"
           "  --duration S         simulated seconds (default 10)\n"
           "  --pmu N              the first N devices also report at 50 Hz\n"
           "  --late-pct X         X%% of rows 1-30 s late (out of order)\n"
           "  --dup-pct X          X%% of rows sent twice\n"
           "  --fault SECTION      a line fault on SECTION (e.g. F2/Line.L60) at --fault-at S (default 1)\n"
           "  --fault-every S      a random fault at every multiple of S\n"
           "  --fault-types LIST   types of the random faults: line,overtemp,freq,dropout (default all)\n"
           "  --events             JSON lines on stdout: fault, trip, switch, stats (1/s), summary\n"
           "  --no-pace            as fast as possible instead of real time\n"
           "  --no-ties            copies not tied (as grid load --no-ties)\n"
           "  --seed N, --quiet\n\n"
           "At a line fault and at its trip every device whose reading changed reports at once\n"
           "(report by exception); switching written to grid_edges by others is followed.\n");
    return 1;
}

static int parse(int argc, char **argv, sim_args *a)
{
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help"))
            return sim_usage();
        if (flag(a, o))
            continue;
        if (i + 1 >= argc || strncmp(o, "--", 2))
            return usage_err("unknown option or missing value: '%s'%s", o, " (see strom grid --help)");
        const char *v = argv[++i];
        int found = 0;
        if (set_num(a, o, v, &found))
            return 2;
        if (!strcmp(o, "--server"))
            a->server = v;
        else if (!strcmp(o, "--topology"))
            a->topology = v;
        else if (!strcmp(o, "--fault"))
            a->fault = v;
        else if (!strcmp(o, "--fault-types"))
            a->types = v;
        else if (!found)
            return usage_err("unknown option '%s'%s", o, " (see strom grid --help)");
    }
    if (a->fault && a->fault_at >= a->duration) {
        fprintf(stderr, "strom grid simulate: --fault-at %g is not before the end of the run (--duration %g)\n",
                a->fault_at, a->duration);
        return 2;
    }
    if (!a->server || !a->topology || !a->devices)
        return usage_err("missing %s%s", !a->server ? "--server HOST:PORT" : !a->topology ? "--topology FILE" : "--devices N", "");
    return 0;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int open_producer(sim_run *r, const char *table, strom_producer **p, strom_builder **b)
{
    strom_producer_opts o = {.linger_ms = 5};
    if (strom_producer_create(r->c, table, &o, NULL, 0, p) != STROM_OK)
        return grid_errorf(&r->d, "producer for %s: %s", table, strom_errmsg());
    *b = strom_builder_create(strom_producer_schema(*p));
    return *b ? 0 : grid_errorf(&r->d, "out of memory");
}

static int send(sim_run *r, strom_producer *p, strom_builder *b, const char *table)
{
    if (!strom_builder_nrows(b))
        return 0;
    if (strom_producer_send_batch(p, b) != STROM_OK)
        return grid_errorf(&r->d, "writing %s: %s", table, strom_errmsg());
    strom_builder_reset(b);
    return 0;
}

/* Sends and waits for the acknowledgement (events: seen within one round trip). */
static int send_now(sim_run *r, strom_producer *p, strom_builder *b, const char *table)
{
    int rc = send(r, p, b, table);
    if (!rc && strom_producer_flush(p) != STROM_OK)
        rc = grid_errorf(&r->d, "flushing %s: %s", table, strom_errmsg());
    return rc;
}

static strom_err put_s(strom_builder *b, int col, const char *s)
{
    return strom_builder_put_str(b, col, s, strlen(s));
}

/* One telemetry row of device i at event time ms. */
static strom_err put_reading(strom_builder *b, const char *id, int64_t ms, const grid_reading *x)
{
    const double v[] = {x->voltage, x->current, x->temperature, x->va, x->vb, x->vc, x->ia, x->ib,
                        x->ic, x->p_kw, x->q_kvar, x->pf, x->freq, x->thd};
    strom_err e = put_s(b, 0, id);
    e = e ? e : strom_builder_put_int(b, 1, ms);
    for (int c = 0; !e && c < 14; c++)
        e = c == 11 && x->pf == 0 ? strom_builder_put_null(b, 2 + c)
                                  : strom_builder_put_f64(b, 2 + c, round(v[c] * 1000) / 1000);
    e = e ? e : strom_builder_put_int(b, 16, x->breaker_closed);
    e = e ? e : strom_builder_put_int(b, 17, x->quality);
    e = e ? e : strom_builder_put_int(b, 18, x->energy_kwh);
    e = e ? e : strom_builder_put_int(b, 19, x->tap);
    return e ? e : strom_builder_end_row(b);
}

static double unif(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/* Event time of simulated time t_s: the ms it falls in. Events happen on whole ms, so a
 * sample taken before an event never shares the event's ms (a consumer that drops a
 * device's samples not newer than its last one keeps the event's report). */
static int64_t ms_of(const sim_run *r, double t_s)
{
    return r->t0_ms + (int64_t)floor(t_s * 1000 + 1e-6);
}

/* The next whole ms after t_s. */
static double next_ms(double t_s)
{
    return (floor(t_s * 1000 + 1e-6) + 1) / 1000;
}

static const char *dev_id(const sim_run *r, int64_t i)
{
    return grid_name(r->b.topo, r->b.dev[i].id);
}

/* Device i's sample at simulated time t_s: late (event time moved back up to 30 s,
 * arriving out of order) and duplicated at the configured rates. */
static int sample(sim_run *r, int64_t i, double t_s)
{
    grid_reading x;
    grid_sim_read(r->sim, i, t_s, &x);
    if (!x.present) {
        r->dropped++;
        return 0;
    }
    int64_t ms = ms_of(r, t_s);
    if (r->a.late_pct > 0 && unif(&r->rng) * 100 < r->a.late_pct) {
        ms -= 1000 + (int64_t)(unif(&r->rng) * 29000);
        r->late++;
    }
    int copies = r->a.dup_pct > 0 && unif(&r->rng) * 100 < r->a.dup_pct ? 2 : 1;
    r->dup += copies - 1;
    for (int k = 0; k < copies; k++)
        if (put_reading(r->tb, dev_id(r, i), ms, &x) != STROM_OK)
            return grid_errorf(&r->d, "telemetry row of %s: %s", dev_id(r, i), strom_errmsg());
    r->rows += copies;
    return strom_builder_nrows(r->tb) >= 32768 ? send(r, r->tele, r->tb, "power_equipment_stream") : 0;
}

/* Adds the devices the model's last change altered to those to report (each once). */
static void collect_changed(sim_run *r)
{
    int64_t n;
    const int64_t *chg = grid_sim_changed(r->sim, &n);
    for (int64_t j = 0; j < n; j++)
        if (r->pstamp[chg[j]] != r->pgen) {
            r->pstamp[chg[j]] = r->pgen;
            r->pend[r->npend++] = chg[j];
        }
}

/* Report by exception: every device collected reports at t_s (event time = t_s exactly,
 * no late or duplicate copies), sent and flushed. */
static int report_changed(sim_run *r, double t_s)
{
    int64_t n = r->npend;
    for (int64_t j = 0; j < n; j++) {
        grid_reading x;
        grid_sim_read(r->sim, r->pend[j], t_s, &x);
        if (!x.present)
            continue;
        if (put_reading(r->tb, dev_id(r, r->pend[j]), ms_of(r, t_s), &x) != STROM_OK)
            return grid_errorf(&r->d, "telemetry row of %s: %s", dev_id(r, r->pend[j]), strom_errmsg());
        r->rows++;
        r->exc++;
    }
    r->npend = 0;
    if (++r->pgen == 0) {
        memset(r->pstamp, 0, ((size_t)r->b.ndev + 1) * sizeof *r->pstamp);
        r->pgen = 1;
    }
    return n ? send_now(r, r->tele, r->tb, "power_equipment_stream") : 0;
}

/* ---------------------------------------------------------------- events */

static void json_kv(const char *key, const char *v)
{
    printf(", \"%s\": ", key);
    if (v)
        grid_json_str(stdout, v);
    else
        fputs("null", stdout);
}

static void event_fault(const sim_run *r, const grid_sim_fault *f, const char *fid)
{
    const grid_topo *t = r->b.topo;
    const char *sec = f->edge >= 0 ? grid_edge_id(t, f->edge) : NULL;
    const char *dev = f->dev >= 0 ? dev_id(r, f->dev) : NULL;
    char feeder[32] = "";
    grid_store_feeder_of(sec ? sec : dev ? dev : "", feeder, sizeof feeder);
    printf("{\"event\": \"fault\"");
    json_kv("fault_id", fid);
    json_kv("type", grid_fault_type_name(f->type));
    json_kv("section", sec);
    json_kv("feeder", feeder);
    printf(", \"t_ms\": %lld", (long long)ms_of(r, f->t_s));
    json_kv(f->type == GRID_FAULT_LINE ? "tripped" : "device", dev);
    printf("}\n");
    fflush(stdout);
}

/* Records fault f: the faults row (sent, not waited for: the devices' reports of the fault
 * go out first, inject flushes it after them) and, with --events, its JSON line. */
static int record_fault(sim_run *r, const grid_sim_fault *f)
{
    char *fid = r->fid[grid_sim_nfaults(r->sim) - 1], detail[200];
    const grid_topo *t = r->b.topo;
    snprintf(fid, sizeof r->fid[0], "FLT-%lld-%04lld", (long long)r->t0_ms, (long long)++r->nfault);
    if (f->type == GRID_FAULT_LINE)
        snprintf(detail, sizeof detail, "fault current %.0f A upstream for %d s, then trip",
                 GRID_SIM_FAULT_A, GRID_SIM_FAULT_HOLD_S);
    else
        snprintf(detail, sizeof detail, "%s", grid_fault_type_name(f->type));
    strom_builder *b = r->fb;
    strom_err e = put_s(b, 0, fid);
    e = e ? e : put_s(b, 1, grid_fault_type_name(f->type));
    e = e ? e : f->edge >= 0 ? put_s(b, 2, grid_edge_id(t, f->edge)) : strom_builder_put_null(b, 2);
    e = e ? e : f->dev >= 0 ? put_s(b, 3, dev_id(r, f->dev)) : strom_builder_put_null(b, 3);
    e = e ? e : strom_builder_put_int(b, 4, ms_of(r, f->t_s));
    e = e ? e : strom_builder_put_null(b, 5);
    e = e ? e : put_s(b, 6, detail);
    e = e ? e : strom_builder_end_row(b);
    if (e)
        return grid_errorf(&r->d, "faults row: %s", strom_errmsg());
    if (r->a.events)
        event_fault(r, f, fid);
    return send(r, r->faults, r->fb, "faults");
}

/* Writes edge e's grid_edges row with the model's state at ms (flushed). */
static int record_edge(sim_run *r, int32_t e, int64_t ms)
{
    grid_edge *x = &r->b.topo->edge[e];
    uint8_t keep = x->closed;
    x->closed = (uint8_t)grid_sim_closed(r->sim, e);   /* the row's state: the model's */
    strom_err err = (strom_err)grid_store_put_edge(r->eb, r->b.topo, e, ms);
    x->closed = keep;
    err = err ? err : strom_builder_end_row(r->eb);
    if (err)
        return grid_errorf(&r->d, "grid_edges row: %s", strom_errmsg());
    r->last_ms[e] = ms;
    return send_now(r, r->edges, r->eb, "grid_edges");
}

/* A protection trip: the device's grid_edges row (open) and a `tripped` status row. */
static int record_trip(sim_run *r, const grid_sim_event *ev)
{
    int64_t ms = ms_of(r, ev->t_s);
    r->trips++;
    if (ev->edge < 0)
        return 0;
    int rc = record_edge(r, ev->edge, ms);
    strom_err e = put_s(r->sb, 0, dev_id(r, ev->dev));
    e = e ? e : strom_builder_put_int(r->sb, 1, ms);
    e = e ? e : put_s(r->sb, 2, "tripped");
    e = e ? e : strom_builder_put_null(r->sb, 3);
    e = e ? e : strom_builder_end_row(r->sb);
    if (!rc && e)
        rc = grid_errorf(&r->d, "status row: %s", strom_errmsg());
    if (!rc && r->a.events) {
        printf("{\"event\": \"trip\"");
        json_kv("fault_id", r->fid[ev->fault]);
        json_kv("device", dev_id(r, ev->dev));
        printf(", \"t_ms\": %lld}\n", (long long)ms);
        fflush(stdout);
    }
    return rc ? rc : send_now(r, r->status, r->sb, "device_status_stream");
}

static grid_fault_type random_type(sim_run *r)
{
    int n = 0, pick;
    for (int k = 0; k < GRID_FAULT_NTYPES; k++)
        n += r->types >> k & 1;
    pick = (int)(unif(&r->rng) * n);
    for (int k = 0; k < GRID_FAULT_NTYPES; k++)
        if ((r->types >> k & 1) && pick-- == 0)
            return (grid_fault_type)k;
    return GRID_FAULT_LINE;
}

/* Injects the commanded (or a random) fault at t_s, records it and reports what changed. */
static int inject(sim_run *r, double t_s, int commanded)
{
    grid_sim_fault f = {.type = GRID_FAULT_LINE, .edge = -1, .dev = -1, .t_s = t_s};
    if (grid_sim_nfaults(r->sim) >= GRID_SIM_MAX_FAULTS && !commanded) {
        r->skipped++;   /* the model holds GRID_SIM_MAX_FAULTS faults */
        return 0;
    }
    if (commanded) {
        f.edge = grid_edge_find(r->b.topo, r->a.fault);
        if (grid_sim_inject(r->sim, &f, &r->d))
            return -1;
    } else if (grid_sim_random_fault(r->sim, random_type(r), t_s, &r->rng, &f, &r->d)) {
        r->skipped++;   /* e.g. no energised healthy section left */
        return 0;
    }
    collect_changed(r);
    int rc = record_fault(r, &f);
    rc = rc ? rc : report_changed(r, t_s);
    if (!rc && strom_producer_flush(r->faults) != STROM_OK)
        rc = grid_errorf(&r->d, "flushing faults: %s", strom_errmsg());
    return rc;
}

static void next_event(sim_run *r)
{
    double t = grid_sim_next_trip(r->sim);
    if (r->a.fault && !r->cmd_done && r->a.fault_at < t)
        t = r->a.fault_at;
    if (r->next_rand < t)
        t = r->next_rand;
    r->next_ev = t < r->a.duration ? t : INFINITY;
}

/* Every event due at te: trips first, then the faults. */
static int do_events(sim_run *r, double te)
{
    grid_sim_event ev;
    int rc = 0;
    r->model_t = te > r->model_t ? te : r->model_t;
    while (!rc && grid_sim_step(r->sim, te, &ev)) {
        collect_changed(r);
        rc = record_trip(r, &ev);
        rc = rc ? rc : report_changed(r, ev.t_s);
    }
    if (!rc && r->a.fault && !r->cmd_done && r->a.fault_at <= te) {
        r->cmd_done = 1;
        rc = inject(r, r->a.fault_at, 1);
    }
    if (!rc && r->next_rand <= te) {
        rc = inject(r, r->next_rand, 0);
        r->next_rand = round(++r->nrand * r->a.fault_every * 1000) / 1000;
    }
    next_event(r);
    return rc;
}

static void event_switch(const sim_run *r, int32_t e, int closed, double t_s)
{
    if (!r->a.events)
        return;
    printf("{\"event\": \"switch\"");
    json_kv("edge", grid_edge_id(r->b.topo, e));
    json_kv("state", closed ? "closed" : "open");
    printf(", \"t_ms\": %lld}\n", (long long)ms_of(r, t_s));
    fflush(stdout);
}

/* Applies the switching others wrote to grid_edges (newer than the model's own change of
 * that edge, and changing its state) at the next whole ms, all at once; the devices it
 * altered report once, together. */
static int follow_switching(sim_run *r)
{
    grid_switch_change *q;
    size_t n, k = 0;
    if (grid_follow_take(r->follow, &q, &n, &r->d))
        return -1;
    double t = next_ms(r->model_t);
    for (size_t j = 0; j < n; j++) {
        if (q[j].ms < r->last_ms[q[j].edge] || grid_sim_closed(r->sim, q[j].edge) == q[j].closed)
            continue;
        r->last_ms[q[j].edge] = q[j].ms == INT64_MAX ? ms_of(r, t) : q[j].ms;
        event_switch(r, q[j].edge, q[j].closed, t);
        q[k++] = q[j];
    }
    int rc = k ? grid_sim_switch(r->sim, q, (int)k, t) : 0;
    if (rc > 0) {
        r->model_t = t;
        r->switches += (int64_t)k;
        collect_changed(r);
    }
    free(q);
    if (rc < 0)
        return grid_errorf(&r->d, "out of memory");
    next_event(r);
    return r->npend ? report_changed(r, t) : 0;
}

/* ---------------------------------------------------------------- sampling */

static double scada_time(const sim_run *r)
{
    return r->sk < r->nticks ? (r->sk + (double)r->si / (double)r->b.ndev) / r->a.rate_hz : INFINITY;
}

static double pmu_time(const sim_run *r)
{
    return r->npmu && r->pk < r->nticks ? r->pk / r->a.rate_hz + r->pj * 0.02 : INFINITY;
}

/* SCADA samples of tick sk from device si while their time is <= lim. */
static int scada_run(sim_run *r, double lim)
{
    int64_t n = r->b.ndev, last = (int64_t)floor((lim * r->a.rate_hz - (double)r->sk) * (double)n);
    int rc = 0;
    if (last >= n)
        last = n - 1;
    if (last < r->si)
        last = r->si;   /* the caller saw the next sample due */
    for (; !rc && r->si <= last; r->si++) {
        double t = scada_time(r);
        rc = sample(r, r->si, t);
        r->model_t = t > r->model_t ? t : r->model_t;
    }
    if (r->si == n)
        r->si = 0, r->sk++;
    return rc;
}

/* The PMU devices' 50 Hz samples at one instant (synchronised). */
static int pmu_run(sim_run *r)
{
    double t = pmu_time(r);
    int rc = 0;
    r->model_t = t > r->model_t ? t : r->model_t;
    for (int64_t i = 0; !rc && i < r->npmu; i++)
        rc = sample(r, i, t);
    if (++r->pj >= r->sub)
        r->pj = 1, r->pk++;
    return rc;
}

/* Every sample and event due at or before t_end, in time order. */
static int emit_until(sim_run *r, double t_end)
{
    int rc = 0;
    while (!rc) {
        double ts = scada_time(r), tp = pmu_time(r), t = ts < tp ? ts : tp;
        if (r->next_ev <= t && r->next_ev <= t_end) {
            rc = do_events(r, r->next_ev);
            continue;
        }
        if (t > t_end)
            break;
        double lim = t_end < tp ? t_end : tp;
        lim = lim < r->next_ev ? lim : nextafter(r->next_ev, -INFINITY);
        rc = ts <= tp ? scada_run(r, lim) : pmu_run(r);
    }
    return rc;
}

static int finished(const sim_run *r)
{
    return isinf(scada_time(r)) && isinf(pmu_time(r)) && isinf(r->next_ev);
}

/* ---------------------------------------------------------------- the run */

static double cpu_s(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

typedef struct stats_clock {
    double last;
    int64_t rows;
} stats_clock;

static void stats(const sim_run *r, stats_clock *c, double now)
{
    if (!r->a.events || now - c->last < 1.0)
        return;
    printf("{\"event\": \"stats\", \"rows\": %lld, \"rows_per_s\": %.0f, \"t_s\": %.3f}\n",
           (long long)r->rows, (r->rows - c->rows) / (now - c->last), r->model_t);
    fflush(stdout);
    c->last = now;
    c->rows = r->rows;
}

static void pause_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Paced: every PACE_STEP_S the rows come due (sample time <= wall time since the start)
 * are written; --no-pace: NOPACE_STEP_S of simulated time per step, as fast as possible. */
static int run(sim_run *r)
{
    int rc = 0;
    double start = mono_s(), upto = 0;
    stats_clock sc = {start, 0};
    next_event(r);
    while (!rc && !finished(r)) {
        double now = mono_s();
        upto = r->a.no_pace ? upto + NOPACE_STEP_S : now - start;
        rc = emit_until(r, upto);
        rc = rc ? rc : send(r, r->tele, r->tb, "power_equipment_stream");
        rc = rc ? rc : follow_switching(r);
        stats(r, &sc, now);
        if (!r->a.no_pace)
            pause_s(start + upto + PACE_STEP_S - mono_s());
    }
    return rc;
}

static int setup(sim_run *r, const grid_topo *tmpl)
{
    if (grid_build(tmpl, (int64_t)r->a.devices, !r->a.no_ties, &r->b, &r->d))
        return -1;
    if (r->a.fault && grid_edge_find(r->b.topo, r->a.fault) < 0)
        return grid_errorf(&r->d, "--fault: no section '%s' in the built grid (ids like F1/Line.L60)", r->a.fault);
    r->sim = grid_sim_create(&r->b, (uint64_t)r->a.seed, &r->d);
    r->last_ms = calloc((size_t)r->b.topo->nedge + 1, sizeof *r->last_ms);
    if (!r->sim || !r->last_ms)
        return r->sim ? grid_errorf(&r->d, "out of memory") : -1;
    r->nticks = (int64_t)ceil(r->a.duration * r->a.rate_hz);
    r->npmu = (int64_t)r->a.pmu < r->b.ndev ? (int64_t)r->a.pmu : r->b.ndev;
    r->sub = (int)llround(50.0 / r->a.rate_hz);
    r->npmu = r->sub > 1 ? r->npmu : 0;
    r->pj = 1;
    r->next_rand = r->a.fault_every > 0 ? round(r->a.fault_every * 1000) / 1000 : INFINITY;
    r->nrand = 1;
    r->a.fault_at = round(r->a.fault_at * 1000) / 1000;
    r->pend = calloc((size_t)r->b.ndev + 1, sizeof *r->pend);
    r->pstamp = calloc((size_t)r->b.ndev + 1, sizeof *r->pstamp);
    r->pgen = 1;
    if (!r->pend || !r->pstamp)
        return grid_errorf(&r->d, "out of memory");
    if (strom_client_connect(r->a.server, NULL, &r->c) != STROM_OK)
        return grid_errorf(&r->d, "%s", strom_errmsg());
    if (grid_store_create(r->c, &r->d))
        return -1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    r->t0_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    r->t0_ms -= r->t0_ms % 1000;
    if (open_producer(r, "power_equipment_stream", &r->tele, &r->tb) ||
        open_producer(r, "faults", &r->faults, &r->fb) || open_producer(r, "grid_edges", &r->edges, &r->eb) ||
        open_producer(r, "device_status_stream", &r->status, &r->sb))
        return -1;
    r->follow = grid_follow_start(r->c, r->b.topo, &r->d);
    if (!r->follow)
        return -1;
    /* paced: the wall clock's second the run starts in is t0: wait for it */
    if (!r->a.no_pace) {
        clock_gettime(CLOCK_REALTIME, &ts);
        pause_s((double)(r->t0_ms + 1000) / 1000 - ts.tv_sec - ts.tv_nsec / 1e9);
        r->t0_ms += 1000;
    }
    return 0;
}

static int close_all(sim_run *r, int rc)
{
    grid_follow_stop(r->follow);
    strom_producer *p[] = {r->tele, r->faults, r->edges, r->status};
    strom_builder *b[] = {r->tb, r->fb, r->eb, r->sb};
    for (int i = 0; i < 4; i++) {
        if (p[i] && strom_producer_close(p[i]) != STROM_OK && !rc)
            rc = grid_errorf(&r->d, "flushing: %s", strom_errmsg());
        strom_builder_destroy(b[i]);
    }
    strom_client_close(r->c);
    grid_sim_destroy(r->sim);
    grid_built_free(&r->b);
    free(r->last_ms);
    free(r->pend);
    free(r->pstamp);
    return rc;
}

static void summary(const sim_run *r, double secs, double cpu)
{
    FILE *o = r->a.events ? stderr : stdout;
    double rps = r->rows / (secs > 0 ? secs : 1e-9);
    fprintf(o, "grid simulate: %lld rows (%lld late, %lld duplicates, %lld dropped) in %.2f s: %.0f rows/s; %lld fault(s), t0 %lld\n",
            (long long)r->rows, (long long)r->late, (long long)r->dup, (long long)r->dropped, secs,
            rps, (long long)r->nfault, (long long)r->t0_ms);
    fprintf(o, "grid simulate: %lld rows by exception, %lld trip(s), %lld switching(s) followed; CPU %.2f s (%.2f us per row)\n",
            (long long)r->exc, (long long)r->trips, (long long)r->switches, cpu, r->rows ? cpu * 1e6 / r->rows : 0);
    if (r->skipped)
        fprintf(o, "grid simulate: %lld random fault(s) not injected (the model holds %d, or no healthy energised section)\n",
                (long long)r->skipped, GRID_SIM_MAX_FAULTS);
    if (r->a.events)
        printf("{\"event\": \"summary\", \"rows\": %lld, \"faults\": %lld, \"trips\": %lld, \"switches\": %lld, "
               "\"exception_rows\": %lld, \"late\": %lld, \"duplicates\": %lld, \"dropped\": %lld, "
               "\"skipped_faults\": %lld, \"seconds\": %.3f, \"rows_per_s\": %.0f, \"cpu_s\": %.3f, "
               "\"cpu_us_per_row\": %.3f, \"t0\": %lld}\n",
               (long long)r->rows, (long long)r->nfault, (long long)r->trips, (long long)r->switches,
               (long long)r->exc, (long long)r->late, (long long)r->dup, (long long)r->dropped,
               (long long)r->skipped, secs, rps, cpu, r->rows ? cpu * 1e6 / r->rows : 0, (long long)r->t0_ms);
}

int grid_cmd_simulate(int argc, char **argv)
{
    static sim_run r;
    memset(&r, 0, sizeof r);
    r.a = (sim_args){.rate_hz = 1, .duration = 10, .fault_at = 1, .seed = 1};
    int rc = parse(argc, argv, &r.a);
    if (rc == 1)
        return 0;   /* --help */
    r.types = (1u << GRID_FAULT_NTYPES) - 1;
    if (!rc && r.a.types)
        rc = parse_types(r.a.types, &r.types);
    if (rc)
        return rc;
    r.rng = (uint64_t)r.a.seed * 2654435761u + 1;
    grid_topo *t = NULL;
    r.d.quiet = r.a.quiet;
    if (grid_load(r.a.topology, &t, &r.d)) {
        fprintf(stderr, "strom grid simulate: %s\n", r.d.error);
        return 1;
    }
    rc = setup(&r, t);
    double t0 = mono_s(), c0 = cpu_s();
    if (!rc)
        rc = run(&r);
    double secs = mono_s() - t0, cpu = cpu_s() - c0;
    rc = close_all(&r, rc);
    grid_topo_destroy(t);
    if (rc) {
        fprintf(stderr, "strom grid simulate: %s\n", r.d.error);
        return 1;
    }
    summary(&r, secs, cpu);
    return 0;
}
