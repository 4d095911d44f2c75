/* sim.c: the grid telemetry simulator's model: energising, flows, fault regions and
 * readings (sim.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define MAX_FAULTS GRID_SIM_MAX_FAULTS

struct grid_sim {
    const grid_built *b;
    int32_t *parent;      /* bus -> the edge feeding it (-1: source or dead) */
    int32_t *root;        /* bus -> its source bus (-1: dead) */
    int32_t *tin, *tout;  /* subtree of bus x: buses y with tin[x] <= tin[y] < tout[x] */
    int32_t *depth, maxdepth;
    double *down_kw;      /* bus -> load behind it (its own included) */
    float *pf;            /* device -> power factor */
    uint64_t rng;
    grid_sim_fault f[MAX_FAULTS];
    int32_t fdown[MAX_FAULTS], ftrip[MAX_FAULTS];   /* fault's downstream bus, trip's */
    int nf;
};

const char *grid_fault_type_name(grid_fault_type t)
{
    static const char *const n[] = {"line_fault", "transformer_overtemp", "frequency_deviation",
                                     "sensor_dropout"};
    return (unsigned)t < GRID_FAULT_NTYPES ? n[t] : "?";
}

static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double unif(uint64_t *s)   /* [0, 1) */
{
    return (double)(next_u64(s) >> 11) / 9007199254740992.0;
}

static double noise(uint64_t *s)  /* [-1, 1) */
{
    return 2 * unif(s) - 1;
}

/* The downstream bus of edge e (the one it feeds), -1 if it feeds none (open, dead,
 * parallel device: then the first edge of the bank). */
static int32_t down_bus(const grid_sim *s, int32_t e)
{
    const grid_edge *x = &s->b->topo->edge[e];
    if (x->parallel >= 0)
        x = &s->b->topo->edge[e = x->parallel];
    if (s->parent[x->b] == e)
        return x->b;
    return s->parent[x->a] == e ? x->a : -1;
}

/* Breadth-first energising from the sources; order gets the buses in BFS order. */
static int32_t energise(grid_sim *s, int32_t *order)
{
    const grid_topo *t = s->b->topo;
    int32_t n = 0;
    for (int32_t i = 0; i < t->nbus; i++) {
        s->parent[i] = -1;
        s->root[i] = t->bus[i].source ? i : -1;
        s->depth[i] = 0;
        if (t->bus[i].source)
            order[n++] = i;
    }
    for (int32_t h = 0; h < n; h++) {
        int32_t u = order[h];
        for (int32_t k = t->adj_off[u]; k < t->adj_off[u + 1]; k++) {
            int32_t e = t->adj[k];
            const grid_edge *x = &t->edge[e];
            int32_t v = x->a == u ? x->b : x->a;
            if (!x->closed || x->parallel >= 0 || s->root[v] >= 0)
                continue;
            s->parent[v] = e;
            s->root[v] = s->root[u];
            s->depth[v] = s->depth[u] + 1;
            if (s->depth[v] > s->maxdepth)
                s->maxdepth = s->depth[v];
            order[n++] = v;
        }
    }
    return n;
}

static int32_t parent_bus(const grid_sim *s, int32_t v)
{
    const grid_edge *x = &s->b->topo->edge[s->parent[v]];
    return x->a == v ? x->b : x->a;
}

/* Loads behind each bus (reverse BFS order) and subtree intervals (subtree sizes give
 * each child a contiguous range after its parent: a pre-order numbering). */
static void flows(grid_sim *s, const int32_t *order, int32_t n, int32_t *next)
{
    const grid_topo *t = s->b->topo;
    for (int32_t i = 0; i < t->nbus; i++) {
        s->down_kw[i] = t->bus[i].load_kw;
        s->tout[i] = 1;    /* subtree size for now */
    }
    for (int32_t h = n - 1; h >= 0; h--) {
        int32_t v = order[h];
        if (s->parent[v] >= 0) {
            int32_t u = parent_bus(s, v);
            s->down_kw[u] += s->down_kw[v];
            s->tout[u] += s->tout[v];
        }
    }
    int32_t pos = 0;
    for (int32_t h = 0; h < n; h++) {
        int32_t v = order[h];
        if (s->parent[v] < 0) {
            s->tin[v] = pos;
            pos += s->tout[v];
        }
        next[v] = s->tin[v] + 1;   /* where v's next child starts */
    }
    for (int32_t h = 0; h < n; h++) {
        int32_t v = order[h];
        if (s->parent[v] >= 0) {
            int32_t u = parent_bus(s, v);
            s->tin[v] = next[u];
            next[u] += s->tout[v];
            next[v] = s->tin[v] + 1;
        }
    }
    for (int32_t h = 0; h < n; h++)
        s->tout[order[h]] += s->tin[order[h]];
    for (int32_t i = 0; i < t->nbus; i++)
        if (s->root[i] < 0)
            s->tin[i] = s->tout[i] = -1;
}

grid_sim *grid_sim_create(const grid_built *b, uint64_t seed, grid_diag *d)
{
    grid_sim *s = calloc(1, sizeof *s);
    size_t nb = (size_t)b->topo->nbus + 1;
    int32_t *order = malloc(nb * sizeof *order), *next = malloc(nb * sizeof *next);
    if (s) {
        s->b = b;
        s->rng = seed;
        s->parent = malloc(nb * sizeof *s->parent);
        s->root = malloc(nb * sizeof *s->root);
        s->tin = malloc(nb * sizeof *s->tin);
        s->tout = malloc(nb * sizeof *s->tout);
        s->depth = malloc(nb * sizeof *s->depth);
        s->down_kw = malloc(nb * sizeof *s->down_kw);
        s->pf = malloc(((size_t)b->ndev + 1) * sizeof *s->pf);
    }
    if (!s || !order || !next || !s->parent || !s->root || !s->tin || !s->tout || !s->depth ||
        !s->down_kw || !s->pf) {
        free(order);
        free(next);
        grid_sim_destroy(s);
        grid_errorf(d, "out of memory");
        return NULL;
    }
    int32_t n = energise(s, order);
    flows(s, order, n, next);
    for (int64_t i = 0; i < b->ndev; i++)
        s->pf[i] = (float)(0.86 + 0.12 * unif(&s->rng));
    free(order);
    free(next);
    return s;
}

void grid_sim_destroy(grid_sim *s)
{
    if (!s)
        return;
    free(s->parent);
    free(s->root);
    free(s->tin);
    free(s->tout);
    free(s->depth);
    free(s->down_kw);
    free(s->pf);
    free(s);
}

static int in_subtree(const grid_sim *s, int32_t x, int32_t top)
{
    return x >= 0 && top >= 0 && s->tin[x] >= 0 && s->tin[top] <= s->tin[x] && s->tin[x] < s->tout[top];
}

static int64_t device_of_edge(const grid_built *b, int32_t e)
{
    for (int64_t i = 0; i < b->ndev; i++)
        if (b->dev[i].edge == e)
            return i;
    return -1;
}

int grid_sim_inject(grid_sim *s, grid_sim_fault *f, grid_diag *d)
{
    if (s->nf >= MAX_FAULTS)
        return grid_errorf(d, "more than %d faults", MAX_FAULTS);
    int32_t down = -1, trip = -1;
    if (f->type == GRID_FAULT_LINE) {
        if (f->edge < 0 || f->edge >= s->b->topo->nedge || (down = down_bus(s, f->edge)) < 0)
            return grid_errorf(d, "section %s is open or not energised: no fault current",
                               f->edge >= 0 && f->edge < s->b->topo->nedge ? grid_edge_id(s->b->topo, f->edge) : "?");
        grid_plan p;
        if (grid_plan_make(s->b->topo, f->edge, &p, d))
            return -1;
        f->dev = p.tripped >= 0 ? device_of_edge(s->b, p.tripped) : -1;
        trip = p.tripped >= 0 ? down_bus(s, p.tripped) : s->root[down];
        grid_plan_free(&p);
    } else if (f->type != GRID_FAULT_FREQ && (f->dev < 0 || f->dev >= s->b->ndev)) {
        return grid_errorf(d, "%s: no device %lld", grid_fault_type_name(f->type), (long long)f->dev);
    }
    s->fdown[s->nf] = down;
    s->ftrip[s->nf] = trip;
    s->f[s->nf++] = *f;
    return 0;
}

/* The bus whose voltage device i reads and the bus behind its edge (-1: none). */
static void device_buses(const grid_sim *s, int64_t i, int32_t *vbus, int32_t *behind)
{
    const grid_device *v = &s->b->dev[i];
    if (v->edge < 0) {
        *vbus = *behind = v->bus;
        return;
    }
    int32_t x = down_bus(s, v->edge);
    const grid_edge *e = &s->b->topo->edge[v->edge];
    *behind = x;
    *vbus = x < 0 ? (s->root[e->a] >= 0 ? e->a : e->b) : (x == e->a ? e->b : e->a);
}

static int line_region(const grid_sim *s, int k, int64_t i, double t_s)
{
    const grid_sim_fault *f = &s->f[k];
    if (f->type != GRID_FAULT_LINE || t_s < f->t_s)
        return GRID_SIM_NORMAL;
    int32_t vbus, x;
    device_buses(s, i, &vbus, &x);
    int meter = s->b->dev[i].edge < 0;
    if (t_s >= f->t_s + GRID_SIM_FAULT_HOLD_S)
        return in_subtree(s, x, s->ftrip[k]) ? GRID_SIM_DEAD : GRID_SIM_NORMAL;
    if (!meter && in_subtree(s, s->fdown[k], x))
        return GRID_SIM_PATH;
    return in_subtree(s, x, s->fdown[k]) ? GRID_SIM_DOWN : GRID_SIM_NORMAL;
}

int grid_sim_nfaults(const grid_sim *s)
{
    return s->nf;
}

int grid_sim_region(const grid_sim *s, int64_t i, double t_s)
{
    int r = GRID_SIM_NORMAL;
    for (int k = 0; k < s->nf; k++) {
        int x = line_region(s, k, i, t_s);
        r = x > r ? x : r;
    }
    return r;
}

static double v_pu(grid_sim *s, int32_t bus)
{
    double drop = s->maxdepth ? 0.06 * s->depth[bus] / s->maxdepth : 0;
    double v = 1.035 - drop + 0.004 * noise(&s->rng);
    return v < 0.93 ? 0.93 : v > 1.07 ? 1.07 : v;
}

static double amps(double kw, double kv, double pf)
{
    return kv > 0 ? kw / (sqrt(3.0) * kv * pf) : 0;
}

double grid_sim_base_current(const grid_sim *s, int64_t i)
{
    int32_t vbus, x;
    device_buses(s, i, &vbus, &x);
    double kw = x < 0 ? 0 : s->b->dev[i].edge < 0 ? s->b->topo->bus[x].load_kw : s->down_kw[x];
    return amps(kw, GRID_SIM_NOMINAL_KV, s->pf[i]);
}

static double load_curve(double t_s)
{
    /* a slow swing around the afternoon level: +-5% over 15 minutes */
    return 0.9 + 0.05 * sin(2 * M_PI * t_s / 900.0);
}

static double grid_freq(const grid_sim *s, double t_s)
{
    double f = 50.0 + 0.08 * sin(2 * M_PI * t_s / 300.0);
    for (int k = 0; k < s->nf; k++)
        if (s->f[k].type == GRID_FAULT_FREQ && t_s >= s->f[k].t_s)
            f = 50.0 - 0.6;
    return f;
}

/* Fault effects other than line faults on device i. */
static void other_faults(const grid_sim *s, int64_t i, double t_s, grid_reading *r)
{
    for (int k = 0; k < s->nf; k++) {
        const grid_sim_fault *f = &s->f[k];
        if (f->dev != i || t_s < f->t_s)
            continue;
        if (f->type == GRID_FAULT_OVERTEMP) {
            double c = 95 + 5 * (t_s - f->t_s);
            r->temperature = c > 140 ? 140 : c;
        } else if (f->type == GRID_FAULT_DROPOUT) {
            r->present = 0;
        }
    }
}

static void phases(grid_sim *s, grid_reading *r)
{
    double vp = r->voltage / sqrt(3.0);
    r->va = vp * (1 + 0.003 * noise(&s->rng));
    r->vb = vp * (1 + 0.003 * noise(&s->rng));
    r->vc = vp * (1 + 0.003 * noise(&s->rng));
    r->ia = r->current * (1 + 0.02 * noise(&s->rng));
    r->ib = r->current * (1 + 0.02 * noise(&s->rng));
    r->ic = r->current * (1 + 0.02 * noise(&s->rng));
}

int grid_sim_is_trip(const grid_sim *s, int64_t i)
{
    for (int k = 0; k < s->nf; k++)
        if (s->f[k].type == GRID_FAULT_LINE && s->f[k].dev == i)
            return 1;
    return 0;
}

/* Load behind bus x at t_s: less the parts cut off by trips already made. */
static double live_kw(const grid_sim *s, int32_t x, double t_s)
{
    double kw = s->down_kw[x];
    for (int k = 0; k < s->nf; k++)
        if (s->f[k].type == GRID_FAULT_LINE && t_s >= s->f[k].t_s + GRID_SIM_FAULT_HOLD_S &&
            in_subtree(s, s->ftrip[k], x))
            kw -= s->down_kw[s->ftrip[k]];
    return kw > 0 ? kw : 0;
}

/* A meter reads its own bus's load, an edge the live load behind it. */
static double meter_or_live_kw(const grid_sim *s, int64_t i, int32_t x, double t_s)
{
    return s->b->dev[i].edge < 0 ? s->b->topo->bus[x].load_kw : live_kw(s, x, t_s);
}

void grid_sim_read(grid_sim *s, int64_t i, double t_s, grid_reading *r)
{
    const grid_device *v = &s->b->dev[i];
    int32_t vbus, x;
    device_buses(s, i, &vbus, &x);
    int region = grid_sim_region(s, i, t_s);
    double pf = s->pf[i], kw = x < 0 ? 0 : meter_or_live_kw(s, i, x, t_s) * load_curve(t_s) * (1 + 0.02 * noise(&s->rng));
    double pu = s->root[vbus] >= 0 ? v_pu(s, vbus) : 0;
    memset(r, 0, sizeof *r);
    r->present = 1;
    r->breaker_closed = v->edge < 0 || s->b->topo->edge[v->edge].closed;
    if (region == GRID_SIM_DOWN) {
        pu = GRID_SIM_UV_PU * (1 + 0.05 * noise(&s->rng));
        kw = 0;
    } else if (region == GRID_SIM_DEAD && grid_sim_is_trip(s, i)) {
        kw = 0;                    /* the tripped device: open, its upstream side live */
        r->breaker_closed = 0;
    } else if (region == GRID_SIM_DEAD) {
        pu = kw = 0;
    }
    r->voltage = GRID_SIM_NOMINAL_KV * pu;
    r->current = amps(kw, r->voltage, pf);
    if (region == GRID_SIM_PATH)
        r->current = GRID_SIM_FAULT_A * (1 + 0.03 * noise(&s->rng));
    r->p_kw = kw;
    r->pf = kw > 0 ? pf : 0;
    r->q_kvar = kw > 0 ? kw * tan(acos(pf)) : 0;
    r->freq = grid_freq(s, t_s) + 0.003 * noise(&s->rng);
    double rated = v->rating_kw > 0 ? amps(v->rating_kw, GRID_SIM_NOMINAL_KV, 1) : 2 * grid_sim_base_current(s, i) + 1;
    double load = r->current / rated;
    r->temperature = 25 + 30 * (load > 3 ? 9 : load * load) + 0.3 * noise(&s->rng);
    r->thd = 1.5 + 0.5 * unif(&s->rng);
    r->tap = 3;
    r->energy_kwh = (int64_t)(kw * (t_s / 3600.0));
    phases(s, r);
    other_faults(s, i, t_s, r);
}

/* A random energised line section (not a breaker: those are feeder heads). */
static int32_t random_section(const grid_sim *s, uint64_t *rng)
{
    const grid_topo *t = s->b->topo;
    for (int tries = 0; tries < 1000; tries++) {
        int32_t e = (int32_t)(unif(rng) * t->nedge);
        if (t->edge[e].kind == GRID_LINE && down_bus(s, e) >= 0)
            return e;
    }
    return -1;
}

static int64_t random_device(const grid_sim *s, uint64_t *rng, int want_type)
{
    for (int tries = 0; tries < 10000; tries++) {
        int64_t i = (int64_t)(unif(rng) * s->b->ndev);
        if (want_type < 0 || s->b->dev[i].type == want_type)
            return i;
    }
    return -1;
}

int grid_sim_random_fault(grid_sim *s, grid_fault_type type, double t_s, uint64_t *rng,
                          grid_sim_fault *f, grid_diag *d)
{
    *f = (grid_sim_fault){.type = type, .edge = -1, .dev = -1, .t_s = t_s};
    if (type == GRID_FAULT_LINE)
        f->edge = random_section(s, rng);
    else if (type == GRID_FAULT_OVERTEMP)
        f->dev = random_device(s, rng, GRID_DEV_TRANSFORMER);
    else if (type == GRID_FAULT_DROPOUT)
        f->dev = random_device(s, rng, -1);
    return grid_sim_inject(s, f, d);
}
