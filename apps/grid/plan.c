/* plan.c: the switching plan for a fault on one section (docs/grid.md, "The plan"):
 * protection trip, isolation of the faulted section, reclose, and restoration through
 * ties chosen by a search over the ties adjacent to the healthy de-energised buses,
 * maximising the restored load within ratings and radiality.
 *
 * Only the part of the network a plan can touch is walked: the component (through
 * closed edges) of the faulted section and the components on the far side of the open
 * switchable devices touching its interrupted buses. Energising those components from
 * their own sources in index order gives each of them exactly the trees the whole-grid
 * pass would give (a breadth-first search from all sources never lets one component
 * influence another), so the plan equals the whole-grid one; the workspace keeps every
 * per-bus and per-edge array between plans and is reset through what a plan touched
 * (lists and generation stamps), so a plan costs O(size of those components). */
#include <stdlib.h>
#include <string.h>

#include "grid.h"

#define PLAN_EPS 1e-9
#define PLAN_MAX_STATES 200000

/* Working state of plans on one topology (grid_plan_ws). Arrays are sized once; entries
 * are valid per plan as stated. */
struct grid_plan_ws {
    const grid_topo *t;
    double total_kw;      /* the topology's load, summed once */
    int whole;            /* 1: the old whole-grid passes (a reference for tests) */
    uint32_t gen;         /* this plan's stamp: x_g[i] == gen means "set in this plan" */
    uint8_t *ovr;         /* per edge: 0 = the topology's state, 1 = open, 2 = closed */
    int32_t *touched;     /* edges with ovr set in this plan */
    int32_t ntouched;
    uint32_t *dead_g;     /* per bus: inside the faulted section */
    uint32_t *inter_g;    /* per bus: loses supply when the tripped device opens */
    uint32_t *comp_g;     /* per bus: seen by a component walk */
    uint32_t *src_g;      /* per bus: a source in srcs */
    uint32_t *open_g;     /* per edge: opened by the plan (bounds the section) */
    uint32_t *base_g;     /* per edge: base_flow set */
    uint32_t *cand_g;     /* per edge: cand_g[e] == cgen: seen by this candidates() call */
    uint32_t cgen;
    uint32_t *foc_g;      /* per bus: foc_g[b] == fgen: already in the focused srcs */
    uint32_t fgen;
    uint8_t *live;        /* per bus: energised in the last energize() (reset by it) */
    int32_t *parent;      /* per live bus: the edge it is fed through (-1: a source) */
    int32_t *root;        /* per live bus: the source bus feeding it */
    int32_t *order;       /* live buses in BFS order */
    int32_t nlive;
    double *sub;          /* per live bus: load fed through it (itself included) */
    double *base_flow;    /* per edge (base_g): flow after isolation, before any tie */
    int cycle;            /* the last energize() found a loop */
    double supplied;      /* load of the buses energised */
    int32_t *srcs;        /* the sources energize() starts from; all if nsrcs < 0 */
    int32_t nsrcs;
    int32_t *queue;       /* component walks; the section's buses */
    int32_t *stack;       /* the section walk (2 * edges + 4) */
    int32_t *inter;       /* the interrupted buses, in BFS order */
    int32_t ninter;
    int32_t *cand;        /* candidate edges (bounds, then ties), sorted */
};

typedef struct grid_plan_ws plan_ws;

static int32_t other_end(const grid_edge *e, int32_t u) { return e->a == u ? e->b : e->a; }

static int is_closed(const plan_ws *w, int32_t e)
{
    uint8_t o = w->ovr[e];
    return o ? o - 1 : w->t->edge[e].closed;
}

static void set_closed(plan_ws *w, int32_t e, int v)
{
    if (!w->ovr[e])
        w->touched[w->ntouched++] = e;
    w->ovr[e] = (uint8_t)(v ? 2 : 1);
}

static int is_dead(const plan_ws *w, int32_t b) { return w->dead_g[b] == w->gen; }

static void energize_from(plan_ws *w, int32_t s)
{
    if (!w->t->bus[s].source || is_dead(w, s) || w->live[s])
        return;
    w->live[s] = 1;
    w->parent[s] = -1;
    w->root[s] = s;
    w->order[w->nlive++] = s;
}

/* Energises from the sources (all, or w->srcs) outside the section through closed edges (a
 * parallel edge is a device only: its first edge carries the connection). The buses left
 * out of w->srcs's trees are not touched by the plan, so comparing states on the trees
 * of w->srcs alone is exact; live/parent/root are only valid for live buses. */
static void energize(plan_ws *w)
{
    const grid_topo *t = w->t;
    for (int32_t h = 0; h < w->nlive; h++)
        w->live[w->order[h]] = 0;
    w->nlive = 0;
    w->cycle = 0;
    w->supplied = 0;
    if (w->nsrcs < 0)
        for (int32_t s = 0; s < t->nbus; s++)
            energize_from(w, s);
    for (int32_t i = 0; i < w->nsrcs; i++)
        energize_from(w, w->srcs[i]);
    for (int32_t h = 0; h < w->nlive; h++) {
        int32_t u = w->order[h];
        for (int32_t i = t->adj_off[u]; i < t->adj_off[u + 1]; i++) {
            int32_t e = t->adj[i];
            const grid_edge *x = &t->edge[e];
            if (x->parallel >= 0 || e == w->parent[u] || !is_closed(w, e))
                continue;
            int32_t v = other_end(x, u);
            if (v == u || is_dead(w, v))
                continue;
            if (w->live[v]) {
                w->cycle = 1;
                continue;
            }
            w->live[v] = 1;
            w->parent[v] = e;
            w->root[v] = w->root[u];
            w->order[w->nlive++] = v;
        }
    }
    for (int32_t h = 0; h < w->nlive; h++)
        w->sub[w->order[h]] = t->bus[w->order[h]].load_kw;
    for (int32_t h = w->nlive - 1; h >= 0; h--) {
        int32_t u = w->order[h];
        w->supplied += t->bus[u].load_kw;
        if (w->parent[u] >= 0)
            w->sub[other_end(&t->edge[w->parent[u]], u)] += w->sub[u];
    }
}

static double base_flow(const plan_ws *w, int32_t e)
{
    return w->base_g[e] == w->gen ? w->base_flow[e] : 0;
}

/* Every rated edge within its rating, or not loaded beyond its flow before any tie. */
static int within_ratings(const plan_ws *w)
{
    for (int32_t h = 0; h < w->nlive; h++) {
        int32_t u = w->order[h], e = w->parent[u];
        if (e < 0)
            continue;
        double r = w->t->edge[e].rating_kw, f = w->sub[u];
        if (r > 0 && f > r + PLAN_EPS && f > base_flow(w, e) + PLAN_EPS)
            return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- the workspace */

/* Writes one byte per page of p (n bytes): the pages are mapped now, not at first use. */
static void touch_pages(void *p, size_t n)
{
    for (size_t i = 0; i < n; i += 4096)
        ((volatile char *)p)[i] = 0;
}

/* A workspace; touch: map every page now (a reusable workspace then takes no page fault
 * on a component it walks for the first time; a one-plan workspace leaves them). */
static plan_ws *ws_new(const grid_topo *t, int touch)
{
    plan_ws *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->t = t;
    w->total_kw = grid_total_load(t);
    w->gen = 1;
    w->nsrcs = -1;
    size_t nb = (size_t)t->nbus + 1, ne = (size_t)t->nedge + 1;
#define WS_ALLOC(f, n) \
    ok &= (w->f = calloc((n), sizeof *w->f)) != NULL; \
    if (ok && touch) \
        touch_pages(w->f, (n) * sizeof *w->f)
    int ok = 1;
    WS_ALLOC(ovr, ne);
    WS_ALLOC(touched, ne);
    WS_ALLOC(dead_g, nb);
    WS_ALLOC(inter_g, nb);
    WS_ALLOC(comp_g, nb);
    WS_ALLOC(src_g, nb);
    WS_ALLOC(open_g, ne);
    WS_ALLOC(base_g, ne);
    WS_ALLOC(cand_g, ne);
    WS_ALLOC(foc_g, nb);
    WS_ALLOC(live, nb);
    WS_ALLOC(parent, nb);
    WS_ALLOC(root, nb);
    WS_ALLOC(order, nb);
    WS_ALLOC(sub, nb);
    WS_ALLOC(base_flow, ne);
    WS_ALLOC(srcs, nb);
    WS_ALLOC(queue, nb);
    WS_ALLOC(stack, ne * 2 + 4);
    WS_ALLOC(inter, nb);
    WS_ALLOC(cand, ne);
#undef WS_ALLOC
    if (!ok) {
        grid_plan_ws_destroy(w);
        return NULL;
    }
    return w;
}

grid_plan_ws *grid_plan_ws_create(const grid_topo *t)
{
    return ws_new(t, 1);
}

void grid_plan_ws_destroy(grid_plan_ws *w)
{
    if (!w)
        return;
    void *a[] = {w->ovr, w->touched, w->dead_g, w->inter_g, w->comp_g, w->src_g, w->open_g,
                 w->base_g, w->cand_g, w->foc_g, w->live, w->parent, w->root, w->order, w->sub,
                 w->base_flow, w->srcs, w->queue, w->stack, w->inter, w->cand};
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++)
        free(a[i]);
    free(w);
}

void grid_plan_ws_whole(grid_plan_ws *w, int whole) { w->whole = !!whole; }

/* Starts a plan: a fresh stamp (all stamp arrays cleared on the rare wrap). */
static void ws_begin(plan_ws *w)
{
    if (++w->gen == 0) {
        size_t nb = (size_t)w->t->nbus + 1, ne = (size_t)w->t->nedge + 1;
        uint32_t *bs[] = {w->dead_g, w->inter_g, w->comp_g, w->src_g};
        uint32_t *es[] = {w->open_g, w->base_g, w->cand_g};
        for (int i = 0; i < 4; i++)
            memset(bs[i], 0, nb * sizeof *bs[i]);
        for (int i = 0; i < 3; i++)
            memset(es[i], 0, ne * sizeof *es[i]);
        w->gen = 1;
    }
    w->nsrcs = -1;
    w->ninter = 0;
}

/* Ends a plan: the switch states back to the topology's. */
static void ws_end(plan_ws *w)
{
    for (int32_t i = 0; i < w->ntouched; i++)
        w->ovr[w->touched[i]] = 0;
    w->ntouched = 0;
}

/* ---------------------------------------------------------------- steps */

static int add_step(grid_plan *p, int *cap, int32_t e, int close, grid_reason r, double kw,
                    int32_t via)
{
    if (p->nsteps == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        grid_step *ns = realloc(p->steps, (size_t)nc * sizeof *ns);
        if (!ns)
            return -1;
        p->steps = ns;
        *cap = nc;
    }
    p->steps[p->nsteps++] = (grid_step){.edge = e, .close = (uint8_t)close, .reason = (uint8_t)r,
                                        .kw = kw, .via = via};
    return 0;
}

/* The device protection trips for a fault on edge f in the pre-fault state energised in w:
 * f itself if switchable, else the first closed switchable edge on the path from f to
 * its source; -1 if none. */
static int32_t find_tripped(const plan_ws *w, int32_t f)
{
    const grid_topo *t = w->t;
    const grid_edge *x = &t->edge[f];
    if (!x->closed || (!w->live[x->a] && !w->live[x->b]))
        return -1;   /* not fed: nothing trips */
    if (x->switchable)
        return f;
    int32_t fe = x->parallel >= 0 ? x->parallel : f;
    int32_t up = t->edge[fe].a;
    if (w->live[t->edge[fe].a] && w->parent[t->edge[fe].a] == fe)
        up = t->edge[fe].b;
    for (int32_t u = up; w->parent[u] >= 0;) {
        int32_t e = w->parent[u];
        if (t->edge[e].switchable)
            return e;
        u = other_end(&t->edge[e], u);
    }
    return -1;
}

static int is_inter(const plan_ws *w, int32_t b) { return w->inter_g[b] == w->gen; }

/* Marks (inter_g, w->inter) the buses that lose supply when `tripped` opens (all of the
 * fault's source if tripped < 0). Returns their load. */
static double mark_interrupted(plan_ws *w, int32_t f, int32_t tripped)
{
    const grid_topo *t = w->t;
    const grid_edge *x = &t->edge[f];
    double kw = 0;
    if (!x->closed || (!w->live[x->a] && !w->live[x->b]))
        return 0;   /* an open or de-energised section carries no fault current */
    int32_t src = w->live[x->a] ? w->root[x->a] : w->root[x->b];
    for (int32_t h = 0; h < w->nlive; h++) {
        int32_t u = w->order[h], e = w->parent[u];
        int in = tripped < 0 ? w->root[u] == src
                             : e >= 0 && (e == tripped || is_inter(w, other_end(&t->edge[e], u)));
        if (!in)
            continue;
        w->inter_g[u] = w->gen;
        w->inter[w->ninter++] = u;
        kw += t->bus[u].load_kw;
    }
    return kw;
}

/* The faulted section: f's buses and all buses joined to them by non-switchable edges
 * (none if f is itself switchable). Marks dead_g and lists them in w->queue; returns the
 * count. */
static int32_t mark_section(plan_ws *w, int32_t f)
{
    const grid_topo *t = w->t;
    if (t->edge[f].switchable)
        return 0;
    int32_t n = 0, sp = 0, *stack = w->stack;
    stack[sp++] = t->edge[f].a;
    stack[sp++] = t->edge[f].b;
    while (sp) {
        int32_t u = stack[--sp];
        if (is_dead(w, u))
            continue;
        w->dead_g[u] = w->gen;
        w->queue[n++] = u;
        for (int32_t i = t->adj_off[u]; i < t->adj_off[u + 1]; i++) {
            const grid_edge *x = &t->edge[t->adj[i]];
            int32_t v = other_end(x, u);
            if (!x->switchable && !is_dead(w, v))
                stack[sp++] = v;
        }
    }
    return n;
}

/* ---------------------------------------------------------------- candidates */

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Candidate edges of a plan, in index order: keep(w, e, arg) over every edge (whole), or
 * over the edges touching the n buses of list (each edge once). Into w->cand; the count. */
typedef int (*cand_fn)(const plan_ws *w, int32_t e, const void *arg);

static int32_t candidates(plan_ws *w, const int32_t *list, int32_t n, cand_fn keep, const void *arg)
{
    const grid_topo *t = w->t;
    int32_t k = 0;
    if (w->whole) {
        for (int32_t e = 0; e < t->nedge; e++)
            if (keep(w, e, arg))
                w->cand[k++] = e;
        return k;
    }
    uint32_t g = ++w->cgen;
    if (g == 0) {
        memset(w->cand_g, 0, ((size_t)t->nedge + 1) * sizeof *w->cand_g);
        g = w->cgen = 1;
    }
    for (int32_t j = 0; j < n; j++)
        for (int32_t i = t->adj_off[list[j]]; i < t->adj_off[list[j] + 1]; i++) {
            int32_t e = t->adj[i];
            if (w->cand_g[e] == g)
                continue;
            w->cand_g[e] = g;
            if (keep(w, e, arg))
                w->cand[k++] = e;
        }
    qsort(w->cand, (size_t)k, sizeof *w->cand, cmp_i32);
    return k;
}
/* ---------------------------------------------------------------- restoration search */

typedef struct tie_search {
    plan_ws *w;
    int32_t *tie;         /* candidate ties */
    int k;
    uint64_t *seen;       /* open-addressing set of masks (0 = empty; masks stored +1) */
    size_t seen_cap, seen_n;
    uint64_t best_mask;
    double best_kw;
    int best_n;
    int states;
    int truncated;
} tie_search;

static void apply_mask(tie_search *s, uint64_t m, uint8_t v)
{
    for (int i = 0; i < s->k; i++)
        if (m >> i & 1)
            set_closed(s->w, s->tie[i], v);
}

/* 1 if m was already seen (else records it); -1 on out of memory. */
static int seen_add(tie_search *s, uint64_t m)
{
    if ((s->seen_n + 1) * 2 > s->seen_cap) {
        size_t nc = s->seen_cap ? s->seen_cap * 2 : 1024;
        uint64_t *ns = calloc(nc, sizeof *ns);
        if (!ns)
            return -1;
        for (size_t i = 0; i < s->seen_cap; i++)
            if (s->seen[i]) {
                size_t j = (s->seen[i] * 0x9E3779B97F4A7C15ull) >> 20 & (nc - 1);
                while (ns[j])
                    j = (j + 1) & (nc - 1);
                ns[j] = s->seen[i];
            }
        free(s->seen);
        s->seen = ns;
        s->seen_cap = nc;
    }
    uint64_t key = m + 1;
    size_t j = (key * 0x9E3779B97F4A7C15ull) >> 20 & (s->seen_cap - 1);
    for (; s->seen[j]; j = (j + 1) & (s->seen_cap - 1))
        if (s->seen[j] == key)
            return 1;
    s->seen[j] = key;
    s->seen_n++;
    return 0;
}

static int better(const tie_search *s, double kw, int n, uint64_t m)
{
    if (kw > s->best_kw + PLAN_EPS)
        return 1;
    if (kw < s->best_kw - PLAN_EPS)
        return 0;
    return n < s->best_n || (n == s->best_n && m < s->best_mask);
}

/* Depth-first over tie sets grown one tie at a time, each closing onto an energised bus
 * and picking up a de-energised healthy one; every state reached is radial and within
 * ratings. */
static int search(tie_search *s, uint64_t m, int n)
{
    plan_ws *w = s->w;
    int r = seen_add(s, m);
    if (r)
        return r < 0 ? -1 : 0;
    if (++s->states > PLAN_MAX_STATES) {
        s->truncated = 1;
        return 0;
    }
    apply_mask(s, m, 1);
    energize(w);
    int ok = !w->cycle && within_ratings(w);
    if (ok && better(s, w->supplied, n, m)) {
        s->best_kw = w->supplied;
        s->best_n = n;
        s->best_mask = m;
    }
    uint8_t next[64];
    int nn = 0;
    for (int i = 0; ok && i < s->k; i++) {
        const grid_edge *x = &w->t->edge[s->tie[i]];
        next[i] = !(m >> i & 1) && (w->live[x->a] != w->live[x->b]) &&
                  !is_dead(w, x->a) && !is_dead(w, x->b);
        nn += next[i];
    }
    apply_mask(s, m, 0);
    for (int i = 0; ok && nn && i < s->k; i++)
        if (next[i] && search(s, m | (1ull << i), n + 1))
            return -1;
    return 0;
}

/* Greedy fallback for more than 64 candidate ties: close, one at a time, the tie that
 * picks up most while staying radial and within ratings. */
static void greedy(tie_search *s, uint8_t *chosen)
{
    plan_ws *w = s->w;
    for (;;) {
        energize(w);
        double base = w->supplied, best = base + PLAN_EPS;
        int bi = -1;
        for (int i = 0; i < s->k; i++) {
            if (chosen[i])
                continue;
            set_closed(w, s->tie[i], 1);
            energize(w);
            s->states++;
            if (!w->cycle && within_ratings(w) && w->supplied > best)
                best = w->supplied, bi = i;
            set_closed(w, s->tie[i], 0);
        }
        if (bi < 0)
            return;
        chosen[bi] = 1;
        set_closed(w, s->tie[bi], 1);
    }
}

/* A candidate tie: an open switchable edge, other than those the plan opened, touching a
 * healthy de-energised bus that was interrupted. */
static int keep_tie(const plan_ws *w, int32_t e, const void *arg)
{
    (void)arg;
    const grid_edge *x = &w->t->edge[e];
    if (!x->switchable || is_closed(w, e) || w->open_g[e] == w->gen)
        return 0;
    int ha = is_inter(w, x->a) && !is_dead(w, x->a) && !w->live[x->a];
    int hb = is_inter(w, x->b) && !is_dead(w, x->b) && !w->live[x->b];
    return ha || hb;
}

/* Emits the chosen ties in an order where each closes onto an energised bus. */
static int emit_ties(plan_ws *w, grid_plan *p, int *cap, const int32_t *tie, uint8_t *chosen, int k)
{
    for (int left = 0;; left = 0) {
        energize(w);
        double before = w->supplied;
        int pick = -1;
        for (int i = 0; i < k; i++) {
            if (!chosen[i])
                continue;
            left++;
            const grid_edge *x = &w->t->edge[tie[i]];
            if (pick < 0 && w->live[x->a] != w->live[x->b])
                pick = i;
        }
        if (!left)
            return 0;
        if (pick < 0)
            pick = 0;
        while (!chosen[pick])
            pick++;
        const grid_edge *x = &w->t->edge[tie[pick]];
        int32_t via = w->live[x->a] ? x->a : x->b;
        set_closed(w, tie[pick], 1);
        chosen[pick] = 0;
        energize(w);
        if (add_step(p, cap, tie[pick], 1, GRID_R_TIE, w->supplied - before, via))
            return -1;
    }
}

static int restore(plan_ws *w, grid_plan *p, int *cap)
{
    tie_search s = {.w = w, .best_kw = -1};
    int k = candidates(w, w->inter, w->ninter, keep_tie, NULL);
    s.tie = w->cand;
    s.k = k;
    uint8_t *chosen = calloc((size_t)k + 1, 1);
    int rc = chosen ? 0 : -1;
    p->exhaustive = k <= 64;
    if (!rc && k <= 64) {
        rc = search(&s, 0, 0);
        for (int i = 0; i < k; i++)
            chosen[i] = s.best_mask >> i & 1;
        p->exhaustive = !s.truncated;
    } else if (!rc) {
        greedy(&s, chosen);
        for (int i = 0; i < k; i++)
            set_closed(w, s.tie[i], 0);
    }
    p->searched = s.states;
    if (!rc)
        rc = emit_ties(w, p, cap, s.tie, chosen, k);
    free(chosen);
    free(s.seen);
    return rc;
}

/* ---------------------------------------------------------------- the plan */

/* Adds to w->srcs, in the order met, the sources of the component of bus b (through
 * closed edges, pre-fault) not yet in it. */
static void component_sources(plan_ws *w, int32_t b)
{
    const grid_topo *t = w->t;
    if (w->comp_g[b] == w->gen)
        return;
    int32_t n = 0;
    w->comp_g[b] = w->gen;
    w->queue[n++] = b;
    for (int32_t h = 0; h < n; h++) {
        int32_t u = w->queue[h];
        if (t->bus[u].source && w->src_g[u] != w->gen) {
            w->src_g[u] = w->gen;
            w->srcs[w->nsrcs++] = u;
        }
        for (int32_t i = t->adj_off[u]; i < t->adj_off[u + 1]; i++) {
            const grid_edge *x = &t->edge[t->adj[i]];
            int32_t v = other_end(x, u);
            if (x->parallel < 0 && x->closed && w->comp_g[v] != w->gen) {
                w->comp_g[v] = w->gen;
                w->queue[n++] = v;
            }
        }
    }
}

/* The pre-fault state: energised from the sources of the fault's component (all sources
 * when whole), sorted, which gives that component the whole-grid pass's trees. */
static void energize_prefault(plan_ws *w, int32_t f)
{
    w->nsrcs = -1;
    if (!w->whole) {
        w->nsrcs = 0;
        component_sources(w, w->t->edge[f].a);
        component_sources(w, w->t->edge[f].b);
        qsort(w->srcs, (size_t)w->nsrcs, sizeof *w->srcs, cmp_i32);
    }
    energize(w);
}

/* Outside whole mode: energises, with the fault's component, the components on the far
 * side of the open switchable devices touching an interrupted bus, from all their sources
 * in index order (the whole-grid pass's trees). Before the section is marked dead. */
static void energize_far_sides(plan_ws *w)
{
    const grid_topo *t = w->t;
    if (w->whole)
        return;
    int32_t n0 = w->nsrcs;
    for (int32_t j = 0; j < w->ninter; j++)
        for (int32_t i = t->adj_off[w->inter[j]]; i < t->adj_off[w->inter[j] + 1]; i++) {
            const grid_edge *x = &t->edge[t->adj[i]];
            if (x->switchable && !x->closed)
                component_sources(w, other_end(x, w->inter[j]));
        }
    if (w->nsrcs == n0)
        return;
    qsort(w->srcs, (size_t)w->nsrcs, sizeof *w->srcs, cmp_i32);
    energize(w);
}

/* Restricts energize() to the sources that matter after the pre-fault energize: the one
 * feeding the fault and those feeding the far end of any open switchable device touching
 * an interrupted bus (the only ties restoration may close). */
static void focus_sources(plan_ws *w, int32_t f)
{
    const grid_topo *t = w->t;
    uint32_t g = ++w->fgen;
    if (g == 0) {
        memset(w->foc_g, 0, ((size_t)t->nbus + 1) * sizeof *w->foc_g);
        g = w->fgen = 1;
    }
    int32_t n = 0;
    const grid_edge *fx = &t->edge[f];
    int32_t ends[2] = {fx->a, fx->b};
    for (int i = 0; i < 2; i++)
        if (w->live[ends[i]] && w->foc_g[w->root[ends[i]]] != g)
            w->foc_g[w->root[ends[i]]] = g, w->srcs[n++] = w->root[ends[i]];
    for (int32_t j = 0; j < w->ninter; j++) {
        int32_t u = w->inter[j];
        for (int32_t i = t->adj_off[u]; i < t->adj_off[u + 1]; i++) {
            const grid_edge *x = &t->edge[t->adj[i]];
            int32_t v = other_end(x, u);
            if (x->switchable && !x->closed && w->live[v] && w->foc_g[w->root[v]] != g)
                w->foc_g[w->root[v]] = g, w->srcs[n++] = w->root[v];
        }
    }
    w->nsrcs = n;
}

/* A bound of the section: f if switchable, else a switchable edge with one end in it. */
static int keep_bound(const plan_ws *w, int32_t e, const void *arg)
{
    const grid_edge *x = &w->t->edge[e];
    if (e == *(const int32_t *)arg)
        return x->switchable;
    return x->switchable && is_dead(w, x->a) != is_dead(w, x->b);
}

static int isolate(plan_ws *w, grid_plan *p, int *cap, int32_t f, int32_t nsection)
{
    const grid_topo *t = w->t;
    if (p->tripped >= 0) {
        if (add_step(p, cap, p->tripped, 0, GRID_R_TRIP, p->interrupted_kw, -1))
            return -1;
        set_closed(w, p->tripped, 0);
    }
    int trip_bounds = p->tripped == f;
    int32_t fa = t->edge[f].a;
    int32_t k = candidates(w, nsection ? w->queue : &fa, nsection ? nsection : 1, keep_bound, &f);
    for (int32_t j = 0; j < k; j++) {
        int32_t e = w->cand[j];
        w->open_g[e] = w->gen;
        if (e == p->tripped) {
            trip_bounds = 1;
            continue;
        }
        if (is_closed(w, e)) {
            if (add_step(p, cap, e, 0, GRID_R_ISOLATE, 0, -1))
                return -1;
            set_closed(w, e, 0);
        }
    }
    if (p->tripped >= 0 && !trip_bounds) {
        if (add_step(p, cap, p->tripped, 1, GRID_R_RECLOSE, 0, -1))
            return -1;
        set_closed(w, p->tripped, 1);
    }
    return 0;
}

static void plan_run(plan_ws *w, int32_t fault, grid_plan *p, int *cap, int *rc)
{
    energize_prefault(w, fault);
    p->total_kw = w->total_kw;
    p->tripped = find_tripped(w, fault);
    p->interrupted_kw = mark_interrupted(w, fault, p->tripped);
    energize_far_sides(w);
    p->section_buses = mark_section(w, fault);
    focus_sources(w, fault);
    *rc = isolate(w, p, cap, fault, p->section_buses);
    if (*rc)
        return;
    energize(w);
    for (int32_t h = 0; h < w->nlive; h++) {
        int32_t e = w->parent[w->order[h]];
        if (e >= 0)
            w->base_flow[e] = w->sub[w->order[h]], w->base_g[e] = w->gen;
    }
    *rc = restore(w, p, cap);
    if (*rc)
        return;
    energize(w);
    for (int32_t j = 0; j < w->ninter; j++)
        if (!w->live[w->inter[j]])
            p->lost_kw += w->t->bus[w->inter[j]].load_kw;
    p->restored_kw = p->interrupted_kw - p->lost_kw;
}

int grid_plan_make_ws(grid_plan_ws *w, int32_t fault, grid_plan *p, grid_diag *d)
{
    memset(p, 0, sizeof *p);
    p->fault = fault;
    p->tripped = -1;
    if (fault < 0 || fault >= w->t->nedge)
        return grid_errorf(d, "no such section");
    int cap = 0, rc = 0;
    ws_begin(w);
    plan_run(w, fault, p, &cap, &rc);
    ws_end(w);
    if (rc) {
        grid_plan_free(p);
        return grid_errorf(d, "out of memory");
    }
    return 0;
}

int grid_plan_make(const grid_topo *t, int32_t fault, grid_plan *p, grid_diag *d)
{
    grid_plan_ws *w = ws_new(t, 0);
    if (!w) {
        memset(p, 0, sizeof *p);
        return grid_errorf(d, "out of memory");
    }
    int rc = grid_plan_make_ws(w, fault, p, d);
    grid_plan_ws_destroy(w);
    return rc;
}

void grid_plan_free(grid_plan *p)
{
    if (!p)
        return;
    free(p->steps);
    p->steps = NULL;
    p->nsteps = 0;
}

const char *grid_reason_text(grid_reason r)
{
    switch (r) {
    case GRID_R_TRIP: return "protection trip: nearest closed switchable device upstream of the fault";
    case GRID_R_ISOLATE: return "isolate: bounds the faulted section";
    case GRID_R_RECLOSE: return "reclose: the section is isolated downstream";
    case GRID_R_TIE: return "restore: tie picks up healthy de-energised load within capacity, radial";
    }
    return "?";
}

/* ---------------------------------------------------------------- output */

void grid_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_ids(const grid_topo *t, const grid_plan *p, int close, FILE *f)
{
    fputc('[', f);
    int first = 1;
    for (int i = 0; i < p->nsteps; i++)
        if (p->steps[i].close == close) {
            if (!first)
                fputs(", ", f);
            first = 0;
            grid_json_str(f, grid_edge_id(t, p->steps[i].edge));
        }
    fputc(']', f);
}

void grid_plan_json(const grid_topo *t, const grid_plan *p, FILE *f)
{
    fputs("{\"fault\": ", f);
    grid_json_str(f, grid_edge_id(t, p->fault));
    fputs(", \"opened\": ", f);
    json_ids(t, p, 0, f);
    fputs(", \"closed\": ", f);
    json_ids(t, p, 1, f);
    fprintf(f, ", \"load_interrupted_kw\": %.3f, \"load_lost_kw\": %.3f, \"load_restored_kw\": %.3f, "
               "\"load_total_kw\": %.3f}",
            p->interrupted_kw, p->lost_kw, p->restored_kw, p->total_kw);
}

void grid_plan_print(const grid_topo *t, const grid_plan *p, FILE *f)
{
    const grid_edge *x = &t->edge[p->fault];
    fprintf(f, "fault on %s (%s %s - %s)\n", grid_edge_id(t, p->fault),
            grid_kind_name((grid_kind)x->kind), grid_bus_name(t, x->a), grid_bus_name(t, x->b));
    fprintf(f, "faulted section: %d bus(es) de-energised until repaired\n", p->section_buses);
    fprintf(f, "switching list:\n");
    if (!p->nsteps)
        fprintf(f, "  (none: the section is not energised)\n");
    for (int i = 0; i < p->nsteps; i++) {
        const grid_step *s = &p->steps[i];
        fprintf(f, "  %2d. %-5s %-20s %s", i + 1, s->close ? "close" : "open",
                grid_edge_id(t, s->edge), grid_reason_text((grid_reason)s->reason));
        if (s->reason == GRID_R_TRIP)
            fprintf(f, " (%.1f kW interrupted)", s->kw);
        if (s->reason == GRID_R_TIE)
            fprintf(f, " (+%.1f kW from bus %s)", s->kw, grid_bus_name(t, s->via));
        fputc('\n', f);
    }
    fprintf(f, "load: %.1f kW interrupted, %.1f kW restored, %.1f kW lost (of %.1f kW total)\n",
            p->interrupted_kw, p->restored_kw, p->lost_kw, p->total_kw);
    if (!p->exhaustive)
        fprintf(f, "note: restoration search was not exhaustive (%d states)\n", p->searched);
}
