/* grid_ref.h: an independent reference model of the plan's rules (docs/grid.md), written
 * separately from apps/grid/plan.c and as simply as possible, for the tests:
 *  - the faulted section by union-find over non-switchable edges;
 *  - the tripped device as the closed switchable device whose opening alone cuts the
 *    fault off with the least load lost (the nearest one upstream);
 *  - restoration by brute force over every subset of the switchable devices still open
 *    after isolation: energise by depth-first search, radial iff each energised tree has
 *    exactly (buses - 1) distinct bus pairs joined, flows by subtree sums, ratings as the
 *    largest rating among the edges joining the same bus pair.
 * Only for small feeders (at most REF_MAX_TIES open devices). */
#ifndef GRID_REF_H
#define GRID_REF_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "grid.h"

#define REF_MAX_TIES 16

typedef struct ref_state {
    const grid_topo *t;
    uint8_t *closed, *zone, *live;
    int32_t *from;         /* edge a bus was reached through */
    int32_t *stack, *order;
    int32_t norder;
    double *sub;
    double *flow;          /* per edge */
} ref_state;

static void ref_init(ref_state *r, const grid_topo *t)
{
    r->t = t;
    r->closed = calloc((size_t)t->nedge + 1, 1);
    r->zone = calloc((size_t)t->nbus + 1, 1);
    r->live = calloc((size_t)t->nbus + 1, 1);
    r->from = calloc((size_t)t->nbus + 1, sizeof(int32_t));
    r->stack = calloc((size_t)t->nbus + (size_t)t->nedge * 2 + 4, sizeof(int32_t));
    r->order = calloc((size_t)t->nbus + 1, sizeof(int32_t));
    r->sub = calloc((size_t)t->nbus + 1, sizeof(double));
    r->flow = calloc((size_t)t->nedge + 1, sizeof(double));
}

static void ref_free(ref_state *r)
{
    free(r->closed); free(r->zone); free(r->live); free(r->from);
    free(r->stack); free(r->order); free(r->sub); free(r->flow);
}

static int32_t ref_uf_find(int32_t *p, int32_t x)
{
    while (p[x] != x)
        x = p[x] = p[p[x]];
    return x;
}

/* The faulted section: buses in the fault's component of non-switchable edges. */
static void ref_zone(ref_state *r, int32_t f)
{
    const grid_topo *t = r->t;
    memset(r->zone, 0, (size_t)t->nbus);
    if (t->edge[f].switchable)
        return;
    int32_t *p = malloc((size_t)t->nbus * sizeof *p);
    for (int32_t i = 0; i < t->nbus; i++)
        p[i] = i;
    for (int32_t e = 0; e < t->nedge; e++)
        if (!t->edge[e].switchable)
            p[ref_uf_find(p, t->edge[e].a)] = ref_uf_find(p, t->edge[e].b);
    int32_t c = ref_uf_find(p, t->edge[f].a);
    for (int32_t i = 0; i < t->nbus; i++)
        r->zone[i] = ref_uf_find(p, i) == c;
    free(p);
}

/* Energises from sources outside the zone through closed edges (DFS); supplied load of
 * buses with mask[b] set (all if mask is NULL). */
static double ref_energise(ref_state *r, const uint8_t *mask)
{
    const grid_topo *t = r->t;
    memset(r->live, 0, (size_t)t->nbus);
    int32_t sp = 0;
    r->norder = 0;
    for (int32_t b = 0; b < t->nbus; b++)
        if (t->bus[b].source && !r->zone[b]) {
            r->live[b] = 1;
            r->from[b] = -1;
            r->stack[sp++] = b;
        }
    while (sp) {
        int32_t u = r->stack[--sp];
        r->order[r->norder++] = u;
        for (int32_t i = t->adj_off[u]; i < t->adj_off[u + 1]; i++) {
            int32_t e = t->adj[i];
            const grid_edge *x = &t->edge[e];
            if (!r->closed[e])
                continue;
            int32_t v = x->a == u ? x->b : x->a;
            if (r->zone[v] || r->live[v])
                continue;
            r->live[v] = 1;
            r->from[v] = e;
            r->stack[sp++] = v;
        }
    }
    double kw = 0;
    for (int32_t b = 0; b < t->nbus; b++)
        if (r->live[b] && (!mask || mask[b]))
            kw += t->bus[b].load_kw;
    return kw;
}

/* Radial: the number of distinct bus pairs joined by closed edges among energised buses
 * equals energised buses minus energised sources. Call after ref_energise. */
static int ref_radial(ref_state *r)
{
    const grid_topo *t = r->t;
    int64_t *pairs = malloc(((size_t)t->nedge + 1) * sizeof *pairs);
    int32_t np = 0, nlive = 0, nsrc = 0;
    for (int32_t e = 0; e < t->nedge; e++) {
        const grid_edge *x = &t->edge[e];
        if (r->closed[e] && r->live[x->a] && r->live[x->b] && x->a != x->b) {
            int32_t lo = x->a < x->b ? x->a : x->b, hi = x->a < x->b ? x->b : x->a;
            int64_t key = (int64_t)lo * 4000000000LL + hi;
            int dup = 0;
            for (int32_t i = 0; i < np && !dup; i++)
                dup = pairs[i] == key;
            if (!dup)
                pairs[np++] = key;
        }
    }
    for (int32_t b = 0; b < t->nbus; b++) {
        nlive += r->live[b];
        nsrc += r->live[b] && t->bus[b].source;
    }
    free(pairs);
    return np == nlive - nsrc;
}

/* Per-edge flow of a radial energised state (subtree sums along the DFS tree). */
static void ref_flows(ref_state *r)
{
    const grid_topo *t = r->t;
    memset(r->flow, 0, (size_t)t->nedge * sizeof(double));
    for (int32_t b = 0; b < t->nbus; b++)
        r->sub[b] = r->live[b] ? t->bus[b].load_kw : 0;
    for (int32_t i = r->norder - 1; i >= 0; i--) {
        int32_t u = r->order[i], e = r->from[u];
        if (e < 0)
            continue;
        r->flow[e] = r->sub[u];
        r->sub[t->edge[e].a == u ? t->edge[e].b : t->edge[e].a] += r->sub[u];
    }
}

/* The rating of the connection edge e belongs to (0 unbounded): the largest among the
 * edges joining the same bus pair (the loader sums a bank's ratings into its first). */
static double ref_rating(const grid_topo *t, int32_t e)
{
    const grid_edge *x = &t->edge[e];
    double r = x->rating_kw;
    for (int32_t i = 0; i < t->nedge; i++) {
        const grid_edge *y = &t->edge[i];
        if ((y->a == x->a && y->b == x->b) || (y->a == x->b && y->b == x->a))
            if (!y->switchable && !x->switchable && y->rating_kw > r)
                r = y->rating_kw;
    }
    return r;
}

typedef struct ref_result {
    int32_t tripped;
    uint8_t *opened;           /* per edge: the plan must open it (caller frees) */
    int32_t nopened;
    double interrupted, best_restored;
    int feasible_subsets;
    int rating_rejected;       /* radial subsets refused by a rating */
} ref_result;

/* The whole reference plan for a fault on f. */
static void ref_plan(const grid_topo *t, int32_t f, ref_result *res)
{
    ref_state r;
    ref_init(&r, t);
    memset(res, 0, sizeof *res);
    res->opened = calloc((size_t)t->nedge + 1, 1);
    uint8_t *pre = calloc((size_t)t->nbus + 1, 1), *inter = calloc((size_t)t->nbus + 1, 1);
    for (int32_t e = 0; e < t->nedge; e++)
        r.closed[e] = t->edge[e].closed;
    ref_energise(&r, NULL);
    memcpy(pre, r.live, (size_t)t->nbus);
    const grid_edge *fx = &t->edge[f];
    int fed = fx->closed && (pre[fx->a] || pre[fx->b]);
    /* the tripped device */
    res->tripped = -1;
    if (fed && fx->switchable) {
        res->tripped = f;
    } else if (fed) {
        double least = INFINITY;
        for (int32_t s = 0; s < t->nedge; s++) {
            if (!t->edge[s].switchable || !r.closed[s])
                continue;
            r.closed[s] = 0;
            double kw = ref_energise(&r, NULL);
            int cut = !r.live[fx->a] && !r.live[fx->b];
            r.closed[s] = 1;
            double lost = 0;
            for (int32_t b = 0; b < t->nbus; b++)
                if (pre[b] && !r.live[b])
                    lost += t->bus[b].load_kw + 1e-6;   /* + a tiny count of buses */
            (void)kw;
            if (cut && lost < least)
                least = lost, res->tripped = s;
        }
    }
    /* interrupted */
    if (fed) {
        if (res->tripped >= 0)
            r.closed[res->tripped] = 0;
        else
            for (int32_t b = 0; b < t->nbus; b++)
                r.zone[b] = 1;   /* no device upstream: the source trips */
        ref_energise(&r, NULL);
        for (int32_t b = 0; b < t->nbus; b++)
            if (pre[b] && !r.live[b]) {
                inter[b] = 1;
                res->interrupted += t->bus[b].load_kw;
            }
        if (res->tripped < 0) {   /* only the fault's own source component */
            res->interrupted = 0;
            memset(inter, 0, (size_t)t->nbus);
            memset(r.zone, 0, (size_t)t->nbus);
            for (int32_t e = 0; e < t->nedge; e++)
                r.closed[e] = t->edge[e].closed;
            int32_t *p = malloc((size_t)t->nbus * sizeof *p);
            for (int32_t i = 0; i < t->nbus; i++)
                p[i] = i;
            for (int32_t e = 0; e < t->nedge; e++)
                if (r.closed[e])
                    p[ref_uf_find(p, t->edge[e].a)] = ref_uf_find(p, t->edge[e].b);
            for (int32_t b = 0; b < t->nbus; b++)
                if (pre[b] && ref_uf_find(p, b) == ref_uf_find(p, fx->a)) {
                    inter[b] = 1;
                    res->interrupted += t->bus[b].load_kw;
                }
            free(p);
        }
        if (res->tripped >= 0)
            r.closed[res->tripped] = 1;
    }
    /* isolation */
    ref_zone(&r, f);
    for (int32_t e = 0; e < t->nedge; e++) {
        const grid_edge *x = &t->edge[e];
        int bound = x->switchable && (e == f || r.zone[x->a] != r.zone[x->b]);
        if (bound && (r.closed[e] || e == res->tripped)) {
            res->opened[e] = 1;
            res->nopened++;
        }
    }
    if (res->tripped >= 0 && !res->opened[res->tripped]) {
        res->opened[res->tripped] = 1;   /* opened by the trip, closed again */
        res->nopened++;
    }
    for (int32_t e = 0; e < t->nedge; e++)
        if (res->opened[e] && e != res->tripped)
            r.closed[e] = 0;
    if (res->tripped >= 0)
        r.closed[res->tripped] = (uint8_t)!(res->tripped == f || r.zone[t->edge[res->tripped].a] !=
                                                                   r.zone[t->edge[res->tripped].b]);
    /* brute force over the open devices not opened by the plan */
    int32_t ties[REF_MAX_TIES];
    int k = 0;
    for (int32_t e = 0; e < t->nedge; e++)
        if (t->edge[e].switchable && !r.closed[e] && !res->opened[e] && k < REF_MAX_TIES)
            ties[k++] = e;
    double *base = calloc((size_t)t->nedge + 1, sizeof *base);
    ref_energise(&r, NULL);
    ref_flows(&r);
    memcpy(base, r.flow, (size_t)t->nedge * sizeof *base);
    res->best_restored = -1;
    for (uint32_t m = 0; m < (1u << k); m++) {
        for (int i = 0; i < k; i++)
            r.closed[ties[i]] = (uint8_t)(m >> i & 1);
        double kw = ref_energise(&r, inter);
        if (!ref_radial(&r))
            continue;
        ref_flows(&r);
        int ok = 1;
        for (int32_t e = 0; e < t->nedge && ok; e++) {
            double rt = ref_rating(t, e);
            if (rt > 0 && r.flow[e] > rt + 1e-9 && r.flow[e] > base[e] + 1e-9)
                ok = 0;
        }
        if (!ok) {
            res->rating_rejected++;
            continue;
        }
        res->feasible_subsets++;
        if (kw > res->best_restored)
            res->best_restored = kw;
    }
    free(base);
    free(pre);
    free(inter);
    ref_free(&r);
}

/* ------------------------------------------------ checks (need cmocka.h included first) */

#include "grid_files.h"


static int rating_rejections;   /* over a test: radial states the reference refused by rating */

/* Applies the plan's steps to the pre-fault state and checks, with the reference's own
 * energising: the section is dead, the state radial and within ratings, and the supplied
 * interrupted load equals the plan's restored figure. */
static void check_final_state(const grid_topo *t, const grid_plan *p)
{
    ref_state r;
    ref_init(&r, t);
    for (int32_t e = 0; e < t->nedge; e++)
        r.closed[e] = t->edge[e].closed;
    double before = ref_energise(&r, NULL);
    for (int i = 0; i < p->nsteps; i++) {
        const grid_step *s = &p->steps[i];
        assert_true(t->edge[s->edge].switchable);
        if (s->close)   /* only a tie or the reclose of the tripped device is closed */
            assert_true(!t->edge[s->edge].closed || s->edge == p->tripped);
        r.closed[s->edge] = s->close;
    }
    ref_zone(&r, p->fault);
    double after = ref_energise(&r, NULL);
    assert_true(ref_radial(&r));
    /* supplied after = supplied before - lost (interrupted - restored) */
    if (fabs(after - (before - p->lost_kw)) > 1e-6)
        fail_msg("%s: supplied %.3f after, %.3f before, %.3f lost", grid_edge_id(t, p->fault), after,
                 before, p->lost_kw);
    const grid_edge *f = &t->edge[p->fault];
    if (f->switchable)
        assert_false(r.closed[p->fault] && (r.live[f->a] || r.live[f->b]));
    /* the section stays dead: no live bus reaches it through a closed edge */
    for (int32_t e = 0; e < t->nedge; e++) {
        const grid_edge *x = &t->edge[e];
        if (r.closed[e] && (r.zone[x->a] != r.zone[x->b]))
            assert_false(r.live[x->a] || r.live[x->b]);
    }
    ref_free(&r);
}

static void check_all_faults(const grid_topo *t, const char *what)
{
    for (int32_t f = 0; f < t->nedge; f++) {
        grid_plan p;
        grid_diag d = {0};
        assert_int_equal(grid_plan_make(t, f, &p, &d), 0);
        ref_result ref;
        ref_plan(t, f, &ref);
        const char *id = grid_edge_id(t, f);
        if (p.tripped != ref.tripped)
            fail_msg("%s %s: tripped %s, reference %s", what, id,
                     p.tripped >= 0 ? grid_edge_id(t, p.tripped) : "-",
                     ref.tripped >= 0 ? grid_edge_id(t, ref.tripped) : "-");
        uint8_t *opened = calloc((size_t)t->nedge + 1, 1);
        for (int i = 0; i < p.nsteps; i++)
            if (!p.steps[i].close)
                opened[p.steps[i].edge] = 1;
        for (int32_t e = 0; e < t->nedge; e++)
            if (opened[e] != ref.opened[e])
                fail_msg("%s %s: %s %s by the plan, not by the reference", what, id,
                         grid_edge_id(t, e), opened[e] ? "opened" : "not opened");
        if (fabs(p.interrupted_kw - ref.interrupted) > 1e-6)
            fail_msg("%s %s: interrupted %.3f, reference %.3f", what, id, p.interrupted_kw, ref.interrupted);
        double best = ref.interrupted > 0 ? ref.best_restored : 0;
        if (fabs(p.restored_kw - best) > 1e-6)
            fail_msg("%s %s: restored %.3f, brute force %.3f", what, id, p.restored_kw, best);
        assert_true(fabs(p.restored_kw + p.lost_kw - p.interrupted_kw) < 1e-6);
        assert_true(fabs(p.total_kw - grid_total_load(t)) < 1e-9);
        assert_true(p.exhaustive);
        check_final_state(t, &p);
        rating_rejections += ref.rating_rejected;
        free(ref.opened);
        free(opened);
        grid_plan_free(&p);
    }
}

#endif /* GRID_REF_H */

