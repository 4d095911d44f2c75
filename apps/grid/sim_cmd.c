/* sim_cmd.c: `strom grid simulate`: telemetry of the built grid into power_equipment_stream,
 * faults injected on command (--fault SECTION --fault-at S) or at random (--fault-every S)
 * and recorded in the faults table (docs/grid.md, "The simulator"). */
#include <errno.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"
#include "store.h"

typedef struct sim_args {
    const char *server, *topology, *fault;
    double devices, rate_hz, pmu, duration, late_pct, dup_pct, fault_every, fault_at, seed;
    int no_pace, no_ties, quiet;
} sim_args;

typedef struct sim_run {
    sim_args a;
    grid_built b;
    grid_sim *sim;
    strom_client *c;
    strom_producer *tele, *faults, *edges, *status;
    strom_builder *tb, *fb, *eb, *sb;
    int64_t t0_ms, rows, late, dup, nfault, dropped, skipped;
    uint64_t rng;
    grid_diag d;
} sim_run;

static const struct { const char *name; size_t off; double min, max; } num_opts[] = {
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
    for (size_t i = 0; i < sizeof num_opts / sizeof num_opts[0]; i++) {
        if (strcmp(name, num_opts[i].name))
            continue;
        char *end;
        errno = 0;
        double x = strtod(v, &end);
        *found = 1;
        if (errno || end == v || *end || !(x >= num_opts[i].min && x <= num_opts[i].max))
            return usage_err("%s: '%s' is not a number in range", name, v);
        *(double *)((char *)a + num_opts[i].off) = x;
        return 0;
    }
    return 0;
}

static int parse(int argc, char **argv, sim_args *a)
{
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--no-pace") || !strcmp(o, "--no-ties") || !strcmp(o, "--quiet")) {
            *(o[5] == 'p' ? &a->no_pace : o[5] == 't' ? &a->no_ties : &a->quiet) = 1;
            continue;
        }
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
    int64_t ms = r->t0_ms + (int64_t)llround(t_s * 1000);
    if (r->a.late_pct > 0 && unif(&r->rng) * 100 < r->a.late_pct) {
        ms -= 1000 + (int64_t)(unif(&r->rng) * 29000);
        r->late++;
    }
    int copies = r->a.dup_pct > 0 && unif(&r->rng) * 100 < r->a.dup_pct ? 2 : 1;
    r->dup += copies - 1;
    const char *id = grid_name(r->b.topo, r->b.dev[i].id);
    for (int k = 0; k < copies; k++)
        if (put_reading(r->tb, id, ms, &x) != STROM_OK)
            return grid_errorf(&r->d, "telemetry row of %s: %s", id, strom_errmsg());
    r->rows += copies;
    return strom_builder_nrows(r->tb) >= 32768 ? send(r, r->tele, r->tb, "power_equipment_stream") : 0;
}

/* Records fault f (the faults row; for a line fault, the tripped device's edge and status
 * rows at the trip time). */
static int record_fault(sim_run *r, const grid_sim_fault *f)
{
    char fid[64], detail[200];
    const grid_topo *t = r->b.topo;
    int64_t ms = r->t0_ms + (int64_t)llround(f->t_s * 1000);
    snprintf(fid, sizeof fid, "FLT-%lld-%04lld", (long long)r->t0_ms, (long long)++r->nfault);
    if (f->type == GRID_FAULT_LINE)
        snprintf(detail, sizeof detail, "fault current %.0f A upstream for %d s, then trip",
                 GRID_SIM_FAULT_A, GRID_SIM_FAULT_HOLD_S);
    else
        snprintf(detail, sizeof detail, "%s", grid_fault_type_name(f->type));
    strom_builder *b = r->fb;
    strom_err e = put_s(b, 0, fid);
    e = e ? e : put_s(b, 1, grid_fault_type_name(f->type));
    e = e ? e : f->edge >= 0 ? put_s(b, 2, grid_edge_id(t, f->edge)) : strom_builder_put_null(b, 2);
    e = e ? e : f->dev >= 0 ? put_s(b, 3, grid_name(t, r->b.dev[f->dev].id)) : strom_builder_put_null(b, 3);
    e = e ? e : strom_builder_put_int(b, 4, ms);
    e = e ? e : strom_builder_put_null(b, 5);
    e = e ? e : put_s(b, 6, detail);
    e = e ? e : strom_builder_end_row(b);
    if (e)
        return grid_errorf(&r->d, "faults row: %s", strom_errmsg());
    if (f->type == GRID_FAULT_LINE && f->dev >= 0 && r->b.dev[f->dev].edge >= 0) {
        int32_t te = r->b.dev[f->dev].edge;
        int64_t trip_ms = ms + GRID_SIM_FAULT_HOLD_S * 1000;
        r->b.topo->edge[te].closed = 0;   /* the table's copy only: the model keeps its own */
        e = (strom_err)grid_store_put_edge(r->eb, t, te, trip_ms);
        r->b.topo->edge[te].closed = 1;
        e = e ? e : strom_builder_end_row(r->eb);
        e = e ? e : put_s(r->sb, 0, grid_name(t, r->b.dev[f->dev].id));
        e = e ? e : strom_builder_put_int(r->sb, 1, trip_ms);
        e = e ? e : put_s(r->sb, 2, "tripped");
        e = e ? e : strom_builder_put_null(r->sb, 3);
        e = e ? e : strom_builder_end_row(r->sb);
        if (e)
            return grid_errorf(&r->d, "trip rows: %s", strom_errmsg());
    }
    return 0;
}

static int inject(sim_run *r, double t_s, int commanded)
{
    grid_sim_fault f = {.type = GRID_FAULT_LINE, .edge = -1, .dev = -1, .t_s = t_s};
    int rc;
    if (commanded) {
        f.edge = grid_edge_find(r->b.topo, r->a.fault);
        if (f.edge < 0)
            return grid_errorf(&r->d, "--fault: no section '%s' in the built grid (ids like F1/Line.L60)", r->a.fault);
        rc = grid_sim_inject(r->sim, &f, &r->d);
    } else {
        grid_fault_type ty = (grid_fault_type)(unif(&r->rng) * GRID_FAULT_NTYPES);
        rc = grid_sim_random_fault(r->sim, ty, t_s, &r->rng, &f, &r->d);
    }
    return rc ? rc : record_fault(r, &f);
}

/* Faults due in (t_prev, t_s]. */
static int due_faults(sim_run *r, double t_prev, double t_s)
{
    int rc = 0;
    if (r->a.fault && t_prev < r->a.fault_at && r->a.fault_at <= t_s)
        rc = inject(r, r->a.fault_at, 1);
    double ev = r->a.fault_every;
    if (!rc && ev > 0 && floor(t_s / ev) > floor(t_prev / ev) && t_s > 0) {
        if (grid_sim_nfaults(r->sim) < GRID_SIM_MAX_FAULTS)
            rc = inject(r, floor(t_s / ev) * ev, 0);
        else
            r->skipped++;   /* the model holds GRID_SIM_MAX_FAULTS faults */
    }
    return rc;
}

static void pace(const sim_run *r, double start, double t_s)
{
    double wait = start + t_s - mono_s();
    if (r->a.no_pace || wait <= 0)
        return;
    struct timespec ts = {(time_t)wait, (long)((wait - floor(wait)) * 1e9)};
    nanosleep(&ts, NULL);
}

/* One SCADA tick at t_s, then the PMU devices' 50 Hz samples until the next tick. */
static int tick(sim_run *r, double t_s)
{
    int rc = 0;
    for (int64_t i = 0; !rc && i < r->b.ndev; i++)
        rc = sample(r, i, t_s);
    int64_t npmu = (int64_t)r->a.pmu < r->b.ndev ? (int64_t)r->a.pmu : r->b.ndev;
    int sub = (int)llround(50.0 / r->a.rate_hz);
    for (int k = 1; !rc && k < sub; k++)
        for (int64_t i = 0; !rc && i < npmu; i++)
            rc = sample(r, i, t_s + k * 0.02);
    return rc ? rc : send(r, r->tele, r->tb, "power_equipment_stream");
}

static int run(sim_run *r)
{
    int rc = 0;
    double start = mono_s(), t_prev = -1;
    int64_t nticks = (int64_t)ceil(r->a.duration * r->a.rate_hz);
    for (int64_t k = 0; !rc && k < nticks; k++) {
        double t_s = k / r->a.rate_hz;
        pace(r, start, t_s);
        rc = due_faults(r, t_prev, t_s);
        rc = rc ? rc : tick(r, t_s);
        rc = rc ? rc : send(r, r->faults, r->fb, "faults");
        rc = rc ? rc : send(r, r->edges, r->eb, "grid_edges");
        rc = rc ? rc : send(r, r->status, r->sb, "device_status_stream");
        t_prev = t_s;
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
    if (!r->sim)
        return -1;
    if (strom_client_connect(r->a.server, NULL, &r->c) != STROM_OK)
        return grid_errorf(&r->d, "%s", strom_errmsg());
    if (grid_store_create(r->c, &r->d))
        return -1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    r->t0_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    r->t0_ms -= r->t0_ms % 1000;
    if (open_producer(r, "power_equipment_stream", &r->tele, &r->tb) ||
        open_producer(r, "faults", &r->faults, &r->fb) || open_producer(r, "grid_edges", &r->edges, &r->eb))
        return -1;
    return open_producer(r, "device_status_stream", &r->status, &r->sb);
}

static int close_all(sim_run *r, int rc)
{
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
    return rc;
}

int grid_cmd_simulate(int argc, char **argv)
{
    static sim_run r;
    memset(&r, 0, sizeof r);
    r.a = (sim_args){.rate_hz = 1, .duration = 10, .fault_at = 1, .seed = 1};
    int rc = parse(argc, argv, &r.a);
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
    double t0 = mono_s();
    if (!rc)
        rc = run(&r);
    double secs = mono_s() - t0;
    rc = close_all(&r, rc);
    grid_topo_destroy(t);
    if (rc) {
        fprintf(stderr, "strom grid simulate: %s\n", r.d.error);
        return 1;
    }
    printf("grid simulate: %lld rows (%lld late, %lld duplicates, %lld dropped) in %.2f s: %.0f rows/s; %lld fault(s), t0 %lld\n",
           (long long)r.rows, (long long)r.late, (long long)r.dup, (long long)r.dropped, secs,
           r.rows / (secs > 0 ? secs : 1e-9), (long long)r.nfault, (long long)r.t0_ms);
    if (r.skipped)
        printf("grid simulate: %lld random fault(s) not injected: the model holds %d\n", (long long)r.skipped,
               GRID_SIM_MAX_FAULTS);
    return 0;
}
