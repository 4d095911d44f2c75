/* sim.c: the grid telemetry simulator's model: energising, flows, fault arcs and trips,
 * switching, the devices each change affects, and readings (sim.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define MAX_FAULTS GRID_SIM_MAX_FAULTS

struct grid_sim {
    const grid_built *b;
    uint8_t *closed;      /* edge -> the model's switch state */
    uint8_t *faulted;     /* edge -> a line fault is on it (never repaired) */
    uint8_t *src_down;    /* bus -> a source tripped (no switchable device upstream) */
    int32_t *parent;      /* bus -> the edge feeding it (-1: source or dead) */
    int32_t *root;        /* bus -> its source bus (-1: dead) */
    int64_t *tin, *tout;  /* subtree of bus x: buses y with tin[x] <= tin[y] < tout[x] */
    int64_t next_pos;     /* the next free subtree position (trees energised again take new
                           * ranges, so the others stay valid) */
    int32_t *depth, maxdepth;
    int32_t *order, *tq, *cq, *rl;   /* energise() and change scratch */
    int64_t *next;
    uint32_t *rstamp, rgen;   /* bus -> rgen: in rl (the roots energised again) */
    double *down_kw;      /* bus -> energised load behind it (its own included) */
    float *base_a;        /* device -> its current in the initial state (A, no noise) */
    float *pf;            /* device -> power factor */
    int64_t *edev;        /* edge -> its device (-1 none) */
    int32_t *moff;        /* bus -> its meters: mdev[moff[b] .. moff[b + 1]) */
    int64_t *mdev;
    uint8_t *dflag;       /* device -> an over-temperature or dropout fault names it */
    double freq_t;        /* start of the first frequency deviation (INFINITY: none) */
    uint64_t rng;
    grid_sim_fault f[MAX_FAULTS];
    double arc_t[MAX_FAULTS];     /* line faults: start of the current arc (NAN: none) */
    int32_t arc_trip[MAX_FAULTS]; /* the edge protection opens (-1: the source trips) */
    int32_t arc_down[MAX_FAULTS]; /* the bus the faulted edge feeds while arcing */
    int nf;
    /* the devices a change affected (report by exception) */
    uint32_t *cstamp, cgen;   /* device -> in the candidate set of this change */
    uint64_t *csig;           /* device -> its signature before the change */
    int64_t *cand, ncand, *chg, nchg;
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

static int32_t parent_bus(const grid_sim *s, int32_t v)
{
    const grid_edge *x = &s->b->topo->edge[s->parent[v]];
    return x->a == v ? x->b : x->a;
}

/* Marks the n buses of list dead: no root, parent, load or subtree range. */
static void clear_buses(grid_sim *s, const int32_t *list, int32_t n)
{
    for (int32_t j = 0; j < n; j++) {
        int32_t u = list[j];
        s->root[u] = s->parent[u] = -1;
        s->depth[u] = 0;
        s->tin[u] = s->tout[u] = -1;
        s->down_kw[u] = 0;
    }
}

/* Breadth-first energising from the sources src[0..nsrc) (ascending) through closed edges
 * into dead buses; s->order gets the buses reached in BFS order; the count. The trees are
 * those of a pass from every source when every bus the sources can reach was dead: a BFS
 * from several sources never lets one component influence another. */
static int32_t bfs(grid_sim *s, const int32_t *src, int32_t nsrc)
{
    const grid_topo *t = s->b->topo;
    int32_t n = 0, *order = s->order;
    for (int32_t i = 0; i < nsrc; i++)
        if (!s->src_down[src[i]] && s->root[src[i]] < 0) {
            s->root[src[i]] = src[i];
            order[n++] = src[i];
        }
    for (int32_t h = 0; h < n; h++) {
        int32_t u = order[h];
        for (int32_t k = t->adj_off[u]; k < t->adj_off[u + 1]; k++) {
            int32_t e = t->adj[k];
            const grid_edge *x = &t->edge[e];
            int32_t v = x->a == u ? x->b : x->a;
            if (!s->closed[e] || x->parallel >= 0 || s->root[v] >= 0)
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

/* Energised loads behind the n buses just energised (reverse BFS order) and their subtree
 * ranges (sizes give each child a contiguous range after its parent: a pre-order
 * numbering), taken from s->next_pos on, so the ranges of other trees stay valid. */
static void flows(grid_sim *s, int32_t n)
{
    const grid_topo *t = s->b->topo;
    const int32_t *order = s->order;
    int64_t *next = s->next;
    for (int32_t h = 0; h < n; h++) {
        s->down_kw[order[h]] = t->bus[order[h]].load_kw;
        s->tout[order[h]] = 1;    /* subtree size for now */
    }
    for (int32_t h = n - 1; h >= 0; h--) {
        int32_t v = order[h];
        if (s->parent[v] >= 0) {
            int32_t u = parent_bus(s, v);
            s->down_kw[u] += s->down_kw[v];
            s->tout[u] += s->tout[v];
        }
    }
    for (int32_t h = 0; h < n; h++) {
        int32_t v = order[h];
        if (s->parent[v] < 0) {
            s->tin[v] = s->next_pos;
            s->next_pos += s->tout[v];
        } else {
            int32_t u = parent_bus(s, v);
            s->tin[v] = next[u];
            next[u] += s->tout[v];
        }
        next[v] = s->tin[v] + 1;   /* where v's next child starts */
    }
    for (int32_t h = 0; h < n; h++)
        s->tout[order[h]] += s->tin[order[h]];
}

/* The buses of the tree rooted at r into out (BFS through its tree edges); the count. */
static int32_t tree_buses(const grid_sim *s, int32_t r, int32_t *out)
{
    const grid_topo *t = s->b->topo;
    int32_t n = 0;
    out[n++] = r;
    for (int32_t h = 0; h < n; h++)
        for (int32_t k = t->adj_off[out[h]]; k < t->adj_off[out[h] + 1]; k++) {
            const grid_edge *x = &t->edge[t->adj[k]];
            int32_t v = x->a == out[h] ? x->b : x->a;
            if (v != out[h] && s->parent[v] == t->adj[k])
                out[n++] = v;
        }
    return n;
}

static int in_subtree(const grid_sim *s, int32_t x, int32_t top)
{
    return x >= 0 && top >= 0 && s->tin[x] >= 0 && s->tin[top] <= s->tin[x] && s->tin[x] < s->tout[top];
}

/* The edge protection opens for an arc on edge f in the current state: f if switchable,
 * else the first closed switchable edge on the path from f to its source; -1 if none. */
static int32_t find_trip(const grid_sim *s, int32_t f)
{
    const grid_topo *t = s->b->topo;
    if (t->edge[f].switchable)
        return f;
    int32_t x = down_bus(s, f);
    if (x < 0)
        return -1;
    for (int32_t u = parent_bus(s, x); s->parent[u] >= 0; u = parent_bus(s, u))
        if (t->edge[s->parent[u]].switchable)
            return s->parent[u];
    return -1;
}

static int is_line(const grid_sim *s, int k) { return s->f[k].type == GRID_FAULT_LINE; }
static int arcing(const grid_sim *s, int k) { return is_line(s, k) && !isnan(s->arc_t[k]); }

static void arc_start(grid_sim *s, int k, double t_s)
{
    s->arc_t[k] = t_s;
    s->arc_trip[k] = find_trip(s, s->f[k].edge);
    s->arc_down[k] = down_bus(s, s->f[k].edge);
}

/* After energising: an arc whose section is no longer fed ends; a faulted section fed
 * again arcs again from t_s. */
static void update_arcs(grid_sim *s, double t_s)
{
    for (int k = 0; k < s->nf; k++) {
        if (!is_line(s, k))
            continue;
        int fed = down_bus(s, s->f[k].edge) >= 0;
        if (!fed)
            s->arc_t[k] = NAN;
        else if (!arcing(s, k))
            arc_start(s, k, t_s);
        else
            s->arc_down[k] = down_bus(s, s->f[k].edge), s->arc_trip[k] = find_trip(s, s->f[k].edge);
    }
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void add_root(grid_sim *s, int32_t r, int32_t *nr)
{
    if (r >= 0 && s->rstamp[r] != s->rgen) {
        s->rstamp[r] = s->rgen;
        s->rl[(*nr)++] = r;
    }
}

/* Re-energises, after switch states changed at t_s, the components (through closed
 * edges, as they were) of the buses seeds[0..nseeds): the trees of their roots and of
 * every tree joined to those by a closed edge, cleared and energised again from their
 * sources in index order; the rest of the grid is untouched. */
static void energise(grid_sim *s, const int32_t *seeds, int nseeds, double t_s)
{
    const grid_topo *t = s->b->topo;
    int32_t nr = 0, nl = 0;
    if (++s->rgen == 0) {
        memset(s->rstamp, 0, ((size_t)t->nbus + 1) * sizeof *s->rstamp);
        s->rgen = 1;
    }
    for (int j = 0; j < nseeds; j++)
        add_root(s, s->root[seeds[j]], &nr);
    for (int32_t i = 0; i < nr; i++) {   /* nr grows: the closure over closed edges */
        int32_t n0 = nl;
        nl += tree_buses(s, s->rl[i], s->tq + nl);
        for (int32_t j = n0; j < nl; j++)
            for (int32_t k = t->adj_off[s->tq[j]]; k < t->adj_off[s->tq[j] + 1]; k++) {
                const grid_edge *x = &t->edge[t->adj[k]];
                int32_t v = x->a == s->tq[j] ? x->b : x->a;
                if (s->closed[t->adj[k]] && x->parallel < 0)
                    add_root(s, s->root[v], &nr);
            }
    }
    clear_buses(s, s->tq, nl);
    for (int j = 0; j < nseeds; j++)   /* a source cut off from its own tree */
        if (t->bus[seeds[j]].source)
            add_root(s, seeds[j], &nr);
    qsort(s->rl, (size_t)nr, sizeof *s->rl, cmp_i32);
    flows(s, bfs(s, s->rl, nr));
    update_arcs(s, t_s);
}

/* Energises the whole grid from every source (at creation). */
static void energise_all(grid_sim *s)
{
    const grid_topo *t = s->b->topo;
    int32_t n = 0;
    for (int32_t u = 0; u < t->nbus; u++) {
        s->tq[u] = u;
        if (t->bus[u].source)
            s->rl[n++] = u;
    }
    clear_buses(s, s->tq, t->nbus);
    flows(s, bfs(s, s->rl, n));
}

/* ---------------------------------------------------------------- create */

static void device_buses(const grid_sim *s, int64_t i, int32_t *vbus, int32_t *behind);
static double device_kw(const grid_sim *s, int64_t i, int32_t x);
static double amps(double kw, double kv, double pf);

static void index_devices(grid_sim *s)
{
    const grid_built *b = s->b;
    const grid_topo *t = b->topo;
    for (int32_t e = 0; e < t->nedge; e++)
        s->edev[e] = -1;
    for (int64_t i = 0; i < b->ndev; i++) {
        if (b->dev[i].edge >= 0)
            s->edev[b->dev[i].edge] = i;
        else
            s->moff[b->dev[i].bus + 1]++;
    }
    for (int32_t u = 0; u < t->nbus; u++)
        s->moff[u + 1] += s->moff[u];
    int32_t *fill = s->tq;
    memcpy(fill, s->moff, (size_t)t->nbus * sizeof *fill);
    for (int64_t i = 0; i < b->ndev; i++)
        if (b->dev[i].edge < 0)
            s->mdev[fill[b->dev[i].bus]++] = i;
}

grid_sim *grid_sim_create(const grid_built *b, uint64_t seed, grid_diag *d)
{
    grid_sim *s = calloc(1, sizeof *s);
    if (!s) {
        grid_errorf(d, "out of memory");
        return NULL;
    }
    s->b = b;
    s->rng = seed;
    s->freq_t = INFINITY;
    size_t nb = (size_t)b->topo->nbus + 1, ne = (size_t)b->topo->nedge + 1, nd = (size_t)b->ndev + 1;
    int ok = 1;
#define SIM_ALLOC(f, n) ok &= (s->f = calloc((n), sizeof *s->f)) != NULL
    SIM_ALLOC(closed, ne);
    SIM_ALLOC(faulted, ne);
    SIM_ALLOC(src_down, nb);
    SIM_ALLOC(parent, nb);
    SIM_ALLOC(root, nb);
    SIM_ALLOC(tin, nb);
    SIM_ALLOC(tout, nb);
    SIM_ALLOC(tq, nb);
    SIM_ALLOC(cq, nb);
    SIM_ALLOC(rl, nb);
    SIM_ALLOC(rstamp, nb);
    SIM_ALLOC(depth, nb);
    SIM_ALLOC(order, nb);
    SIM_ALLOC(next, nb);
    SIM_ALLOC(down_kw, nb);
    SIM_ALLOC(base_a, nd);
    SIM_ALLOC(pf, nd);
    SIM_ALLOC(edev, ne);
    SIM_ALLOC(moff, nb + 1);
    SIM_ALLOC(mdev, nd);
    SIM_ALLOC(dflag, nd);
    SIM_ALLOC(cstamp, nd);
    SIM_ALLOC(csig, nd);
    SIM_ALLOC(cand, nd);
    SIM_ALLOC(chg, nd);
#undef SIM_ALLOC
    if (!ok) {
        grid_sim_destroy(s);
        grid_errorf(d, "out of memory");
        return NULL;
    }
    for (int32_t e = 0; e < b->topo->nedge; e++)
        s->closed[e] = b->topo->edge[e].closed;
    index_devices(s);
    energise_all(s);
    for (int64_t i = 0; i < b->ndev; i++) {
        int32_t vbus, x;
        s->pf[i] = (float)(0.86 + 0.12 * unif(&s->rng));
        device_buses(s, i, &vbus, &x);
        s->base_a[i] = (float)amps(device_kw(s, i, x), GRID_SIM_NOMINAL_KV, s->pf[i]);
    }
    return s;
}

void grid_sim_destroy(grid_sim *s)
{
    if (!s)
        return;
    void *a[] = {s->closed, s->faulted, s->src_down, s->parent, s->root, s->tin, s->tout, s->tq, s->cq, s->rl, s->rstamp,
                 s->depth, s->order, s->next, s->down_kw, s->base_a, s->pf, s->edev, s->moff,
                 s->mdev, s->dflag, s->cstamp, s->csig, s->cand, s->chg};
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++)
        free(a[i]);
    free(s);
}

/* ---------------------------------------------------------------- readings */

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

static int region_of(const grid_sim *s, int64_t i, int32_t vbus, int32_t x)
{
    if (s->root[vbus] < 0)
        return GRID_SIM_DEAD;
    int r = GRID_SIM_NORMAL, meter = s->b->dev[i].edge < 0;
    for (int k = 0; k < s->nf; k++) {
        if (!arcing(s, k))
            continue;
        int x_r = !meter && in_subtree(s, s->arc_down[k], x) ? GRID_SIM_PATH
                  : in_subtree(s, x, s->arc_down[k])         ? GRID_SIM_DOWN
                                                              : GRID_SIM_NORMAL;
        r = x_r > r ? x_r : r;
    }
    return r;
}

int grid_sim_region(const grid_sim *s, int64_t i)
{
    int32_t vbus, x;
    device_buses(s, i, &vbus, &x);
    return region_of(s, i, vbus, x);
}

int grid_sim_nfaults(const grid_sim *s)
{
    return s->nf;
}

int grid_sim_closed(const grid_sim *s, int32_t e)
{
    return s->closed[e];
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

/* The load device i carries in the current state without noise (kW): a meter its bus's,
 * an edge the energised load behind it. */
static double device_kw(const grid_sim *s, int64_t i, int32_t x)
{
    if (x < 0 || s->root[x] < 0)
        return 0;
    return s->b->dev[i].edge < 0 ? s->b->topo->bus[x].load_kw : s->down_kw[x];
}

double grid_sim_load_kw(const grid_sim *s, int64_t i)
{
    int32_t vbus, x;
    device_buses(s, i, &vbus, &x);
    return device_kw(s, i, x);
}

double grid_sim_base_current(const grid_sim *s, int64_t i)
{
    return s->base_a[i];
}

static double load_curve(double t_s)
{
    /* a slow swing around the afternoon level: +-5% over 15 minutes */
    return 0.9 + 0.05 * sin(2 * M_PI * t_s / 900.0);
}

static double grid_freq(const grid_sim *s, double t_s)
{
    return t_s >= s->freq_t ? 50.0 - 0.6 : 50.0 + 0.08 * sin(2 * M_PI * t_s / 300.0);
}

/* Fault effects other than line faults on device i. */
static void other_faults(const grid_sim *s, int64_t i, double t_s, grid_reading *r)
{
    for (int k = 0; s->dflag[i] && k < s->nf; k++) {
        const grid_sim_fault *f = &s->f[k];
        if (f->dev != i || t_s < f->t_s || f->type == GRID_FAULT_LINE)
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

void grid_sim_read(grid_sim *s, int64_t i, double t_s, grid_reading *r)
{
    const grid_device *v = &s->b->dev[i];
    int32_t vbus, x;
    device_buses(s, i, &vbus, &x);
    int region = region_of(s, i, vbus, x);
    double pf = s->pf[i], kw = device_kw(s, i, x) * load_curve(t_s) * (1 + 0.02 * noise(&s->rng));
    double pu = region == GRID_SIM_DEAD ? 0 : v_pu(s, vbus);
    memset(r, 0, sizeof *r);
    r->present = 1;
    r->breaker_closed = v->edge < 0 || s->closed[v->edge];
    if (region == GRID_SIM_DOWN) {
        pu = GRID_SIM_UV_PU * (1 + 0.05 * noise(&s->rng));
        kw = 0;
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

/* ---------------------------------------------------------------- changes */

/* What a device reads, without noise: region, switch state and load (W). */
static uint64_t sig_of(int region, int closed, double kw)
{
    return (uint64_t)llround(kw * 1000) << 3 | (uint64_t)region << 1 | (uint64_t)(closed != 0);
}

static uint64_t dev_sig(const grid_sim *s, int64_t i)
{
    int32_t vbus, x;
    device_buses(s, i, &vbus, &x);
    int region = region_of(s, i, vbus, x), e = (int)s->b->dev[i].edge;
    double kw = region == GRID_SIM_NORMAL ? device_kw(s, i, x) : 0;
    return sig_of(region, e < 0 || s->closed[e], kw);
}

static void cand_add(grid_sim *s, int64_t i, int after)
{
    if (i < 0 || s->cstamp[i] == s->cgen)
        return;
    s->cstamp[i] = s->cgen;
    s->cand[s->ncand++] = i;
    /* a device first met after the change was in no tree the change touched: dead */
    int e = (int)s->b->dev[i].edge;
    s->csig[i] = after ? sig_of(GRID_SIM_DEAD, e < 0 || s->closed[e], 0) : dev_sig(s, i);
}

/* Adds the devices of the tree feeding bus u (meters of its buses, devices of the edges
 * touching them). */
static void cand_tree(grid_sim *s, int32_t u, int after)
{
    const grid_topo *t = s->b->topo;
    if (u < 0 || s->root[u] < 0)
        return;
    int32_t n = tree_buses(s, s->root[u], s->cq);
    for (int32_t j = 0; j < n; j++) {
        int32_t v = s->cq[j];
        for (int32_t m = s->moff[v]; m < s->moff[v + 1]; m++)
            cand_add(s, s->mdev[m], after);
        for (int32_t k = t->adj_off[v]; k < t->adj_off[v + 1]; k++)
            cand_add(s, s->edev[t->adj[k]], after);
    }
}

static void change_reset(grid_sim *s)
{
    if (++s->cgen == 0) {
        memset(s->cstamp, 0, ((size_t)s->b->ndev + 1) * sizeof *s->cstamp);
        s->cgen = 1;
    }
    s->ncand = s->nchg = 0;
}

/* The candidates of a change of edge e: its device and the trees of its ends (before the
 * change: after = 0; after it: 1). */
static void change_edge(grid_sim *s, int32_t e, int after)
{
    const grid_edge *x = &s->b->topo->edge[e];
    if (!after)
        cand_add(s, s->edev[e], 0);
    cand_tree(s, x->a, after);
    cand_tree(s, x->b, after);
}

static void change_begin(grid_sim *s, int32_t e)
{
    change_reset(s);
    change_edge(s, e, 0);
}

/* Lists the candidates whose signature changed. */
static void change_list(grid_sim *s)
{
    for (int64_t j = 0; j < s->ncand; j++)
        if (dev_sig(s, s->cand[j]) != s->csig[s->cand[j]])
            s->chg[s->nchg++] = s->cand[j];
}

static void change_end(grid_sim *s, int32_t e)
{
    change_edge(s, e, 1);
    change_list(s);
}

const int64_t *grid_sim_changed(const grid_sim *s, int64_t *n)
{
    *n = s->nchg;
    return s->chg;
}

/* ---------------------------------------------------------------- events */

int grid_sim_inject(grid_sim *s, grid_sim_fault *f, grid_diag *d)
{
    const grid_topo *t = s->b->topo;
    s->nchg = 0;
    if (s->nf >= MAX_FAULTS)
        return grid_errorf(d, "more than %d faults", MAX_FAULTS);
    if (f->type == GRID_FAULT_LINE) {
        int ok = f->edge >= 0 && f->edge < t->nedge;
        if (!ok || down_bus(s, f->edge) < 0)
            return grid_errorf(d, "section %s is open or not energised: no fault current",
                               ok ? grid_edge_id(t, f->edge) : "?");
        if (s->faulted[f->edge])
            return grid_errorf(d, "section %s is already faulted", grid_edge_id(t, f->edge));
        change_begin(s, f->edge);
        int k = s->nf++;
        s->f[k] = *f;
        s->faulted[f->edge] = 1;
        arc_start(s, k, f->t_s);
        f->dev = s->arc_trip[k] >= 0 ? s->edev[s->arc_trip[k]] : -1;
        s->f[k].dev = f->dev;
        change_end(s, f->edge);
        return 0;
    }
    if (f->type != GRID_FAULT_FREQ && (f->dev < 0 || f->dev >= s->b->ndev))
        return grid_errorf(d, "%s: no device %lld", grid_fault_type_name(f->type), (long long)f->dev);
    if (f->type == GRID_FAULT_FREQ && f->t_s < s->freq_t)
        s->freq_t = f->t_s;
    if (f->dev >= 0)
        s->dflag[f->dev] = 1;
    s->arc_t[s->nf] = NAN;
    s->f[s->nf++] = *f;
    return 0;
}

double grid_sim_next_trip(const grid_sim *s)
{
    double t = INFINITY;
    for (int k = 0; k < s->nf; k++)
        if (arcing(s, k) && s->arc_t[k] + GRID_SIM_FAULT_HOLD_S < t)
            t = s->arc_t[k] + GRID_SIM_FAULT_HOLD_S;
    return t;
}

int grid_sim_step(grid_sim *s, double t_s, grid_sim_event *ev)
{
    const grid_topo *t = s->b->topo;
    int k = -1;
    for (int j = 0; j < s->nf; j++)
        if (arcing(s, j) && s->arc_t[j] + GRID_SIM_FAULT_HOLD_S <= t_s &&
            (k < 0 || s->arc_t[j] < s->arc_t[k]))
            k = j;
    if (k < 0)
        return 0;
    int32_t e = s->arc_trip[k], f = s->f[k].edge;
    *ev = (grid_sim_event){.t_s = s->arc_t[k] + GRID_SIM_FAULT_HOLD_S, .fault = k, .edge = e,
                           .dev = e >= 0 ? s->edev[e] : -1};
    change_begin(s, e >= 0 ? e : f);
    int32_t seeds[2] = {e >= 0 ? t->edge[e].a : s->root[s->arc_down[k]], e >= 0 ? t->edge[e].b : -1};
    if (e >= 0)
        s->closed[e] = 0;
    else
        s->src_down[seeds[0]] = 1;
    energise(s, seeds, e >= 0 ? 2 : 1, ev->t_s);
    change_end(s, e >= 0 ? e : f);
    return 1;
}

int grid_sim_switch(grid_sim *s, const grid_switch_change *c, int n, double t_s)
{
    const grid_topo *t = s->b->topo;
    int32_t *e = malloc(((size_t)n + 1) * sizeof *e), *seeds = malloc(((size_t)n + 1) * 2 * sizeof *seeds);
    int k = 0;
    change_reset(s);
    for (int j = 0; e && seeds && j < n; j++) {
        int32_t x = c[j].edge;
        if (x < 0 || x >= t->nedge || s->closed[x] == !!c[j].closed)
            continue;
        change_edge(s, x, 0);
        s->closed[x] = (uint8_t)!!c[j].closed;   /* a later row of the same edge wins */
        seeds[2 * k] = t->edge[x].a;             /* both ends of every edge switched */
        seeds[2 * k + 1] = t->edge[x].b;
        e[k++] = x;
    }
    if (k) {
        energise(s, seeds, 2 * k, t_s);
        for (int j = 0; j < k; j++)
            change_edge(s, e[j], 1);
        change_list(s);
    }
    int rc = e && seeds ? k : -1;
    free(seeds);
    free(e);
    return rc;
}

/* ---------------------------------------------------------------- random faults */

/* A random energised, closed, non-switchable line section not already faulted. */
static int32_t random_section(const grid_sim *s, uint64_t *rng)
{
    const grid_topo *t = s->b->topo;
    for (int tries = 0; tries < 10000; tries++) {
        int32_t e = (int32_t)(unif(rng) * t->nedge);
        if (t->edge[e].kind == GRID_LINE && !s->faulted[e] && s->closed[e] && down_bus(s, e) >= 0)
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
