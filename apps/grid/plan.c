/* plan.c: the switching plan for a fault on one section (docs/grid.md, "The plan"):
 * protection trip, isolation of the faulted section, reclose, and restoration through
 * ties chosen by a search over the ties adjacent to the healthy de-energised buses,
 * maximising the restored load within ratings and radiality. */
#include <stdlib.h>
#include <string.h>

#include "grid.h"

#define PLAN_EPS 1e-9
#define PLAN_MAX_STATES 200000

/* Working state of one plan: a switch state and what it energises. */
typedef struct plan_ws {
    const grid_topo *t;
    uint8_t *closed;      /* per edge */
    uint8_t *dead;        /* per bus: inside the faulted section */
    uint8_t *live;        /* per bus: energised in the last energize() */
    int32_t *parent;      /* per bus: the edge it is fed through (-1: a source or not live) */
    int32_t *root;        /* per bus: the source bus feeding it */
    int32_t *order;       /* live buses in BFS order */
    int32_t nlive;
    double *sub;          /* per bus: load fed through it (itself included) */
    double *base_flow;    /* per edge: flow after isolation, before any tie */
    int cycle;            /* the last energize() found a loop */
    double supplied;      /* load of the buses energised */
    int32_t *srcs;        /* the sources energize() starts from; all if nsrcs < 0 */
    int32_t nsrcs;
} plan_ws;

static int32_t other_end(const grid_edge *e, int32_t u) { return e->a == u ? e->b : e->a; }

static void energize_from(plan_ws *w, int32_t s)
{
    if (!w->t->bus[s].source || w->dead[s] || w->live[s])
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
            if (!w->closed[e] || x->parallel >= 0 || e == w->parent[u])
                continue;
            int32_t v = other_end(x, u);
            if (w->dead[v] || v == u)
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

/* Every rated edge within its rating, or not loaded beyond its flow before any tie. */
static int within_ratings(const plan_ws *w)
{
    for (int32_t h = 0; h < w->nlive; h++) {
        int32_t u = w->order[h], e = w->parent[u];
        if (e < 0)
            continue;
        double r = w->t->edge[e].rating_kw, f = w->sub[u];
        if (r > 0 && f > r + PLAN_EPS && f > w->base_flow[e] + PLAN_EPS)
            return 0;
    }
    return 1;
}

static int ws_init(plan_ws *w, const grid_topo *t)
{
    memset(w, 0, sizeof *w);
    w->t = t;
    size_t nb = (size_t)t->nbus + 1, ne = (size_t)t->nedge + 1;
    w->closed = malloc(ne);
    w->dead = calloc(nb, 1);
    w->live = calloc(nb, 1);
    w->parent = malloc(nb * sizeof *w->parent);
    w->root = malloc(nb * sizeof *w->root);
    w->order = malloc(nb * sizeof *w->order);
    w->sub = calloc(nb, sizeof *w->sub);
    w->base_flow = calloc(ne, sizeof *w->base_flow);
    w->srcs = malloc(nb * sizeof *w->srcs);
    w->nsrcs = -1;
    if (!w->closed || !w->dead || !w->live || !w->parent || !w->root || !w->order || !w->sub ||
        !w->base_flow || !w->srcs)
        return -1;
    for (int32_t b = 0; b < t->nbus; b++)
        w->parent[b] = -1;
    for (int32_t e = 0; e < t->nedge; e++)
        w->closed[e] = t->edge[e].closed;
    return 0;
}

static void ws_free(plan_ws *w)
{
    free(w->closed);
    free(w->dead);
    free(w->live);
    free(w->parent);
    free(w->root);
    free(w->order);
    free(w->sub);
    free(w->base_flow);
    free(w->srcs);
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

/* Marks in *inter the buses that lose supply when `tripped` opens (all of the fault's
 * source if tripped < 0). Returns their load. */
static double mark_interrupted(const plan_ws *w, int32_t f, int32_t tripped, uint8_t *inter)
{
    const grid_topo *t = w->t;
    const grid_edge *x = &t->edge[f];
    double kw = 0;
    if (!x->closed || (!w->live[x->a] && !w->live[x->b]))
        return 0;   /* an open or de-energised section carries no fault current */
    int32_t src = w->live[x->a] ? w->root[x->a] : w->root[x->b];
    for (int32_t h = 0; h < w->nlive; h++) {
        int32_t u = w->order[h], e = w->parent[u];
        if (tripped < 0)
            inter[u] = w->root[u] == src;
        else
            inter[u] = e >= 0 && (e == tripped || inter[other_end(&t->edge[e], u)]);
        if (inter[u])
            kw += t->bus[u].load_kw;
    }
    return kw;
}

/* The faulted section: f's buses and all buses joined to them by non-switchable edges
 * (none if f is itself switchable). Marks w->dead; returns the count. */
static int32_t mark_section(plan_ws *w, int32_t f, int32_t *stack)
{
    const grid_topo *t = w->t;
    if (t->edge[f].switchable)
        return 0;
    int32_t n = 0, sp = 0;
    stack[sp++] = t->edge[f].a;
    stack[sp++] = t->edge[f].b;
    while (sp) {
        int32_t u = stack[--sp];
        if (w->dead[u])
            continue;
        w->dead[u] = 1;
        n++;
        for (int32_t i = t->adj_off[u]; i < t->adj_off[u + 1]; i++) {
            const grid_edge *x = &t->edge[t->adj[i]];
            int32_t v = other_end(x, u);
            if (!x->switchable && !w->dead[v])
                stack[sp++] = v;
        }
    }
    return n;
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
            s->w->closed[s->tie[i]] = v;
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
                  !w->dead[x->a] && !w->dead[x->b];
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
            w->closed[s->tie[i]] = 1;
            energize(w);
            s->states++;
            if (!w->cycle && within_ratings(w) && w->supplied > best)
                best = w->supplied, bi = i;
            w->closed[s->tie[i]] = 0;
        }
        if (bi < 0)
            return;
        chosen[bi] = 1;
        w->closed[s->tie[bi]] = 1;
    }
}

/* Candidate ties: open switchable edges, other than those the plan opened, touching a
 * healthy de-energised bus that was interrupted. */
static int collect_ties(plan_ws *w, const uint8_t *inter, const uint8_t *opened, int32_t **out)
{
    const grid_topo *t = w->t;
    int n = 0;
    int32_t *tie = malloc(((size_t)t->nedge + 1) * sizeof *tie);
    if (!tie)
        return -1;
    for (int32_t e = 0; e < t->nedge; e++) {
        const grid_edge *x = &t->edge[e];
        if (!x->switchable || w->closed[e] || opened[e])
            continue;
        int ha = inter[x->a] && !w->dead[x->a] && !w->live[x->a];
        int hb = inter[x->b] && !w->dead[x->b] && !w->live[x->b];
        if (ha || hb)
            tie[n++] = e;
    }
    *out = tie;
    return n;
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
        w->closed[tie[pick]] = 1;
        chosen[pick] = 0;
        energize(w);
        if (add_step(p, cap, tie[pick], 1, GRID_R_TIE, w->supplied - before, via))
            return -1;
    }
}

static int restore(plan_ws *w, grid_plan *p, int *cap, const uint8_t *inter, const uint8_t *opened)
{
    tie_search s = {.w = w, .best_kw = -1};
    int k = collect_ties(w, inter, opened, &s.tie);
    if (k < 0)
        return -1;
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
            w->closed[s.tie[i]] = 0;
    }
    p->searched = s.states;
    if (!rc)
        rc = emit_ties(w, p, cap, s.tie, chosen, k);
    free(chosen);
    free(s.tie);
    free(s.seen);
    return rc;
}

/* ---------------------------------------------------------------- the plan */

/* Restricts energize() to the sources that matter after the pre-fault energize: the one
 * feeding the fault and those feeding the far end of any open switchable device touching
 * an interrupted bus (the only ties restoration may close). */
static void focus_sources(plan_ws *w, const uint8_t *inter, int32_t f)
{
    const grid_topo *t = w->t;
    uint8_t *in = calloc((size_t)t->nbus + 1, 1);
    if (!in)
        return;   /* keep energising from all sources: slower, same result */
    int32_t n = 0;
    const grid_edge *fx = &t->edge[f];
    int32_t ends[2] = {fx->a, fx->b};
    for (int i = 0; i < 2; i++)
        if (w->live[ends[i]] && !in[w->root[ends[i]]])
            in[w->root[ends[i]]] = 1, w->srcs[n++] = w->root[ends[i]];
    for (int32_t h = 0; h < w->nlive; h++) {
        int32_t u = w->order[h];
        if (!inter[u])
            continue;
        for (int32_t i = t->adj_off[u]; i < t->adj_off[u + 1]; i++) {
            const grid_edge *x = &t->edge[t->adj[i]];
            int32_t v = other_end(x, u);
            if (x->switchable && !x->closed && w->live[v] && !in[w->root[v]])
                in[w->root[v]] = 1, w->srcs[n++] = w->root[v];
        }
    }
    w->nsrcs = n;
    free(in);
}

static int isolate(plan_ws *w, grid_plan *p, int *cap, int32_t f, uint8_t *opened)
{
    const grid_topo *t = w->t;
    if (p->tripped >= 0) {
        if (add_step(p, cap, p->tripped, 0, GRID_R_TRIP, p->interrupted_kw, -1))
            return -1;
        w->closed[p->tripped] = 0;
    }
    int trip_bounds = p->tripped == f;
    for (int32_t e = 0; e < t->nedge; e++) {
        const grid_edge *x = &t->edge[e];
        int bound = e == f ? x->switchable
                           : x->switchable && w->dead[x->a] != w->dead[x->b];
        if (!bound)
            continue;
        opened[e] = 1;
        if (e == p->tripped) {
            trip_bounds = 1;
            continue;
        }
        if (w->closed[e]) {
            if (add_step(p, cap, e, 0, GRID_R_ISOLATE, 0, -1))
                return -1;
            w->closed[e] = 0;
        }
    }
    if (p->tripped >= 0 && !trip_bounds) {
        if (add_step(p, cap, p->tripped, 1, GRID_R_RECLOSE, 0, -1))
            return -1;
        w->closed[p->tripped] = 1;
    }
    return 0;
}

int grid_plan_make(const grid_topo *t, int32_t fault, grid_plan *p, grid_diag *d)
{
    memset(p, 0, sizeof *p);
    p->fault = fault;
    p->tripped = -1;
    if (fault < 0 || fault >= t->nedge)
        return grid_errorf(d, "no such section");
    plan_ws w;
    uint8_t *inter = calloc((size_t)t->nbus + 1, 1), *opened = calloc((size_t)t->nedge + 1, 1);
    int32_t *stack = malloc(((size_t)t->nedge * 2 + 4) * sizeof *stack);
    int cap = 0, rc = (ws_init(&w, t) || !inter || !opened || !stack) ? -1 : 0;
    if (!rc) {
        energize(&w);
        p->total_kw = grid_total_load(t);
        p->tripped = find_tripped(&w, fault);
        p->interrupted_kw = mark_interrupted(&w, fault, p->tripped, inter);
        p->section_buses = mark_section(&w, fault, stack);
        focus_sources(&w, inter, fault);
        rc = isolate(&w, p, &cap, fault, opened);
    }
    if (!rc) {
        energize(&w);
        for (int32_t h = 0; h < w.nlive; h++)
            if (w.parent[w.order[h]] >= 0)
                w.base_flow[w.parent[w.order[h]]] = w.sub[w.order[h]];
        rc = restore(&w, p, &cap, inter, opened);
    }
    if (!rc) {
        energize(&w);
        for (int32_t u = 0; u < t->nbus; u++)
            if (inter[u] && !w.live[u])
                p->lost_kw += t->bus[u].load_kw;
        p->restored_kw = p->interrupted_kw - p->lost_kw;
    }
    ws_free(&w);
    free(inter);
    free(opened);
    free(stack);
    if (rc) {
        grid_plan_free(p);
        return grid_errorf(d, "out of memory");
    }
    return 0;
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
