/* locate.c: the dispatcher's fault locator: event-driven on the energised topology, one
 * decision per fault (dispatch.h). */
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"

#define NONE INT64_MIN

struct grid_loc {
    const grid_built *b;
    int32_t *dev_edge;       /* device -> carrier edge (-1 meters) */
    int32_t *edge_copy;      /* edge -> copy */
    int32_t *parent;         /* bus -> feeding edge (-1 source or dead) */
    int32_t *root;           /* bus -> source bus (-1 dead) */
    int32_t *down;           /* edge -> bus it feeds (-1 none) */
    int32_t *depth;          /* bus -> hops from its source */
    int32_t *order;          /* BFS scratch */
    int64_t *fc_on;          /* edge -> first sample time of its current fault current */
    int64_t *fc_wall;        /* edge -> wall time that sample was seen */
    int64_t *ok_t;           /* edge -> newest sample time without fault current */
    uint8_t *listed;         /* edge is in fcl */
    int64_t *claim;          /* copy -> onset of the fault decided there (NONE) */
    int64_t *pend_wall;      /* bus (a root) -> wall time of its first unclaimed FC */
    int64_t *pend_t;         /* bus (a root) -> sample time of its first unclaimed FC */
    int64_t stream_ms;       /* every telemetry bucket read up to here (NONE: not known) */
    int32_t *fcl, nfcl, cfcl;      /* edges with fault current */
    int32_t *pend, npend, cpend;   /* roots waiting */
    int32_t ncopy;
    int64_t nstale[2];       /* stale samples ignored: [0] without, [1] with fault current */
};

static void *alloc_n(size_t n, size_t size)
{
    return malloc((n + 1) * size);
}

grid_loc *grid_loc_create(const grid_built *b)
{
    grid_loc *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    const grid_topo *t = b->topo;
    size_t ne = (size_t)t->nedge, nb = (size_t)t->nbus;
    l->b = b;
    l->ncopy = b->copies + 2;
    l->dev_edge = alloc_n((size_t)b->ndev, sizeof(int32_t));
    l->edge_copy = alloc_n(ne, sizeof(int32_t));
    l->parent = alloc_n(nb, sizeof(int32_t));
    l->root = alloc_n(nb, sizeof(int32_t));
    l->depth = alloc_n(nb, sizeof(int32_t));
    l->order = alloc_n(nb, sizeof(int32_t));
    l->down = alloc_n(ne, sizeof(int32_t));
    l->fc_on = alloc_n(ne, sizeof(int64_t));
    l->fc_wall = alloc_n(ne, sizeof(int64_t));
    l->ok_t = alloc_n(ne, sizeof(int64_t));
    l->listed = calloc(ne + 1, 1);
    l->claim = alloc_n((size_t)l->ncopy, sizeof(int64_t));
    l->pend_wall = alloc_n(nb, sizeof(int64_t));
    l->pend_t = alloc_n(nb, sizeof(int64_t));
    if (!l->dev_edge || !l->edge_copy || !l->parent || !l->root || !l->depth || !l->order ||
        !l->down || !l->fc_on || !l->fc_wall || !l->ok_t || !l->listed || !l->claim || !l->pend_wall ||
        !l->pend_t) {
        grid_loc_destroy(l);
        return NULL;
    }
    for (size_t e = 0; e < ne; e++) {
        l->edge_copy[e] = 0;
        l->fc_on[e] = l->ok_t[e] = NONE;
    }
    for (int64_t i = 0; i < b->ndev; i++) {
        int32_t e = b->dev[i].edge;
        if (e >= 0) {
            l->edge_copy[e] = b->dev[i].copy;
            if (t->edge[e].parallel >= 0)
                e = t->edge[e].parallel;
        }
        l->dev_edge[i] = e;
    }
    for (int32_t c = 0; c < l->ncopy; c++)
        l->claim[c] = NONE;
    for (size_t x = 0; x < nb; x++)
        l->pend_wall[x] = NONE;
    l->stream_ms = NONE;
    grid_loc_refresh(l);
    return l;
}

void grid_loc_destroy(grid_loc *l)
{
    if (!l)
        return;
    void *p[] = {l->dev_edge, l->edge_copy, l->parent, l->root, l->depth, l->order, l->down,
                 l->fc_on, l->fc_wall, l->ok_t, l->listed, l->claim, l->pend_wall, l->pend_t, l->fcl, l->pend};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        free(p[i]);
    free(l);
}

void grid_loc_refresh(grid_loc *l)
{
    const grid_topo *t = l->b->topo;
    int32_t n = 0;
    for (int32_t i = 0; i < t->nbus; i++) {
        l->parent[i] = -1;
        l->root[i] = t->bus[i].source ? i : -1;
        l->depth[i] = 0;
        if (t->bus[i].source)
            l->order[n++] = i;
    }
    for (int32_t e = 0; e < t->nedge; e++)
        l->down[e] = -1;
    for (int32_t h = 0; h < n; h++) {
        int32_t u = l->order[h];
        for (int32_t k = t->adj_off[u]; k < t->adj_off[u + 1]; k++) {
            int32_t e = t->adj[k];
            const grid_edge *x = &t->edge[e];
            int32_t v = x->a == u ? x->b : x->a;
            if (!x->closed || x->parallel >= 0 || l->root[v] >= 0)
                continue;
            l->parent[v] = e;
            l->root[v] = l->root[u];
            l->depth[v] = l->depth[u] + 1;
            l->down[e] = v;
            l->order[n++] = v;
        }
    }
}

int32_t grid_loc_edge_of(const grid_loc *l, int64_t dev)
{
    return dev >= 0 && dev < l->b->ndev ? l->dev_edge[dev] : -1;
}

int32_t grid_loc_copy_of_edge(const grid_loc *l, int32_t e)
{
    return e >= 0 && e < l->b->topo->nedge ? l->edge_copy[e] : -1;
}

void grid_loc_claim(grid_loc *l, int32_t copy, int64_t onset_ms)
{
    if (copy >= 0 && copy < l->ncopy && (l->claim[copy] == NONE || l->claim[copy] < onset_ms))
        l->claim[copy] = onset_ms;
}

static int claimed(const grid_loc *l, int32_t e)
{
    int64_t c = l->claim[l->edge_copy[e]];
    return c != NONE && (l->ok_t[e] == NONE || l->ok_t[e] <= c);
}

static int32_t *push(int32_t *a, int32_t *n, int32_t *cap, int32_t v)
{
    if (*n == *cap) {
        int32_t nc = *cap ? *cap * 2 : 64;
        int32_t *na = realloc(a, (size_t)nc * sizeof *na);
        if (!na)
            return a;   /* out of memory: the entry is dropped (the timeout path misses it) */
        a = na;
        *cap = nc;
    }
    a[(*n)++] = v;
    return a;
}

/* 1 if every child edge of e reported a sample without fault current at or after e's
 * fault onset; *newest gets the newest such sample time. */
static int children_ok(const grid_loc *l, int32_t e, int64_t *newest)
{
    const grid_topo *t = l->b->topo;
    int32_t x = l->down[e];
    for (int32_t k = t->adj_off[x]; k < t->adj_off[x + 1]; k++) {
        int32_t c = t->adj[k];
        if (c == e || l->down[c] < 0 || l->down[c] == x)
            continue;
        if (l->ok_t[c] == NONE || l->ok_t[c] < l->fc_on[e])
            return 0;
        if (l->ok_t[c] > *newest)
            *newest = l->ok_t[c];
    }
    return 1;
}

static void drop_pending(grid_loc *l, int32_t r)
{
    for (int32_t i = 0; i < l->npend; i++)
        if (l->pend[i] == r) {
            l->pend[i] = l->pend[--l->npend];
            break;
        }
    l->pend_wall[r] = NONE;
}

/* Decides edge e: fills *out, claims the copies of the root's fault-current edges. */
static int decide(grid_loc *l, int32_t e, int64_t newest, int by_timeout, grid_fault_found *out)
{
    int32_t r = l->root[l->down[e]];
    *out = (grid_fault_found){.edge = e, .copy = l->edge_copy[e], .onset_ms = l->fc_on[e],
                              .sample_ms = newest > l->fc_on[e] ? newest : l->fc_on[e],
                              .alarm_ms = l->fc_wall[e], .by_timeout = by_timeout};
    int64_t onset = l->fc_on[e];
    grid_loc_claim(l, l->edge_copy[e], onset);
    for (int32_t i = 0; i < l->nfcl; i++) {
        int32_t c = l->fcl[i];
        if (l->fc_on[c] != NONE && l->down[c] >= 0 && l->root[l->down[c]] == r)
            grid_loc_claim(l, l->edge_copy[c], onset);
    }
    drop_pending(l, r);
    return 1;
}

/* Samples reach the locator in order per device, not per edge: the devices of a parallel
 * bank (Transformer.reg4a/b/c) report for one edge and may sit in different telemetry
 * buckets, read in either order. A sample older than one of the other kind the edge
 * already has is stale and says nothing about the edge now: a fault-current sample not
 * newer than the edge's newest sample without, or a sample without fault current older
 * than the edge's fault onset. */
static int stale(const grid_loc *l, int32_t e, int64_t t_ms, int fc)
{
    return fc ? l->ok_t[e] != NONE && t_ms <= l->ok_t[e] : l->fc_on[e] != NONE && t_ms < l->fc_on[e];
}

static int feed_fc(grid_loc *l, int32_t e, int64_t t_ms, int64_t now_ms, grid_fault_found *out)
{
    if (l->fc_on[e] == NONE) {
        l->fc_on[e] = t_ms;
        l->fc_wall[e] = now_ms;
    }
    if (l->down[e] < 0 || claimed(l, e))
        return 0;
    if (!l->listed[e]) {
        l->listed[e] = 1;
        l->fcl = push(l->fcl, &l->nfcl, &l->cfcl, e);
    }
    int32_t r = l->root[l->down[e]];
    if (l->pend_wall[r] == NONE) {
        l->pend_wall[r] = now_ms;
        l->pend_t[r] = t_ms;
        l->pend = push(l->pend, &l->npend, &l->cpend, r);
    }
    int64_t newest = t_ms;
    return children_ok(l, e, &newest) ? decide(l, e, newest, 0, out) : 0;
}

static int feed_ok(grid_loc *l, int32_t e, int64_t t_ms, grid_fault_found *out)
{
    l->fc_on[e] = NONE;
    if (l->ok_t[e] == NONE || t_ms > l->ok_t[e])
        l->ok_t[e] = t_ms;
    int32_t x = l->down[e];
    if (x < 0)
        return 0;
    const grid_edge *g = &l->b->topo->edge[e];
    int32_t up = g->a == x ? g->b : g->a, p = l->parent[up];
    if (p < 0 || l->fc_on[p] == NONE || claimed(l, p))
        return 0;
    int64_t newest = t_ms;
    return children_ok(l, p, &newest) ? decide(l, p, newest, 0, out) : 0;
}

int grid_loc_feed(grid_loc *l, int64_t dev, int64_t t_ms, int fc, int64_t now_ms,
                  grid_fault_found *out)
{
    int32_t e = grid_loc_edge_of(l, dev);
    if (e < 0)
        return 0;
    if (stale(l, e, t_ms, fc)) {
        l->nstale[fc != 0]++;
        return 0;
    }
    return fc ? feed_fc(l, e, t_ms, now_ms, out) : feed_ok(l, e, t_ms, out);
}

/* Drops list entries without unclaimed, energised fault current. */
static void compact(grid_loc *l)
{
    int32_t n = 0;
    for (int32_t i = 0; i < l->nfcl; i++) {
        int32_t e = l->fcl[i];
        if (l->fc_on[e] != NONE && l->down[e] >= 0 && !claimed(l, e))
            l->fcl[n++] = e;
        else
            l->listed[e] = 0;
    }
    l->nfcl = n;
}

int grid_loc_timeout(grid_loc *l, int64_t now_ms, int64_t timeout_ms, grid_fault_found *out)
{
    if (!l->npend)
        return 0;
    compact(l);
    for (int32_t i = 0; i < l->npend; i++) {
        int32_t r = l->pend[i], best = -1;
        for (int32_t k = 0; k < l->nfcl; k++) {
            int32_t e = l->fcl[k];
            if (l->root[l->down[e]] == r && (best < 0 || l->depth[l->down[e]] > l->depth[l->down[best]]))
                best = e;
        }
        if (best < 0) {
            drop_pending(l, r);
            i--;
        } else if (now_ms - l->pend_wall[r] >= timeout_ms &&
                   (l->stream_ms == NONE || (__int128)l->stream_ms - l->pend_t[r] >= timeout_ms)) {
            return decide(l, best, l->fc_on[best], 1, out);
        }
    }
    return 0;
}

void grid_loc_set_stream(grid_loc *l, int64_t stream_ms)
{
    l->stream_ms = stream_ms;
}

int64_t grid_loc_stale(const grid_loc *l, int fc)
{
    return l->nstale[fc != 0];
}

int grid_loc_pending(const grid_loc *l)
{
    int n = 0;
    for (int32_t i = 0; i < l->nfcl; i++)
        n += l->fc_on[l->fcl[i]] != NONE && l->down[l->fcl[i]] >= 0 && !claimed(l, l->fcl[i]);
    return n;
}

void grid_plan_apply(grid_topo *t, const grid_plan *p)
{
    for (int i = 0; i < p->nsteps; i++)
        t->edge[p->steps[i].edge].closed = p->steps[i].close;
}
