/* build.c: the grid builder: a feeder template replicated into copies F1..FN with distinct
 * ids, a feeder breaker per copy, normally-open ties between neighbouring copies, and one
 * device-dimension row per device (breakers, switches, transformers, line sections,
 * meters). */
#include <stdlib.h>
#include <string.h>

#include "grid.h"

const char *grid_dev_type_name(grid_dev_type t)
{
    static const char *const n[] = {"breaker", "switch", "transformer", "line_section", "meter"};
    return (unsigned)t < GRID_DEV_NTYPES ? n[t] : "?";
}

static int32_t count_sources(const grid_topo *t)
{
    int32_t n = 0;
    for (int32_t i = 0; i < t->nbus; i++)
        n += t->bus[i].source;
    return n;
}

static int32_t count_meters(const grid_topo *t)
{
    int32_t n = 0;
    for (int32_t i = 0; i < t->nbus; i++)
        n += t->bus[i].nloads > 0;
    return n;
}

int64_t grid_devices_per_copy(const grid_topo *tmpl)
{
    return (int64_t)count_sources(tmpl) + tmpl->nedge + count_meters(tmpl);
}

/* The tie point: the template bus behind the most switchable devices from its source,
 * then the farthest in hops (over closed edges), so that a neighbour can pick up the end
 * of the feeder after a fault further up. */
static int32_t far_bus(const grid_topo *t)
{
    size_t nb = (size_t)t->nbus + 1;
    int32_t *q = malloc(nb * sizeof *q), *dist = malloc(nb * sizeof *dist), *nsw = calloc(nb, sizeof *nsw);
    int32_t best = 0, n = 0;
    if (!q || !dist || !nsw) {
        free(q);
        free(dist);
        free(nsw);
        return 0;
    }
    for (int32_t i = 0; i < t->nbus; i++) {
        dist[i] = t->bus[i].source ? 0 : -1;
        if (!dist[i])
            q[n++] = i;
    }
    for (int32_t h = 0; h < n; h++) {
        int32_t u = q[h];
        if (nsw[u] > nsw[best] || (nsw[u] == nsw[best] && dist[u] > dist[best]))
            best = u;
        for (int32_t i = t->adj_off[u]; i < t->adj_off[u + 1]; i++) {
            const grid_edge *x = &t->edge[t->adj[i]];
            int32_t v = x->a == u ? x->b : x->a;
            if (x->closed && dist[v] < 0) {
                dist[v] = dist[u] + 1;
                nsw[v] = nsw[u] + x->switchable;
                q[n++] = v;
            }
        }
    }
    free(q);
    free(dist);
    free(nsw);
    return best;
}

static grid_dev_type dev_type(grid_kind k)
{
    switch (k) {
    case GRID_SWITCH: return GRID_DEV_SWITCH;
    case GRID_BREAKER: return GRID_DEV_BREAKER;
    case GRID_TRANSFORMER: return GRID_DEV_TRANSFORMER;
    default: return GRID_DEV_LINE;
    }
}

static void add_dev(grid_built *b, uint32_t id, grid_dev_type ty, int32_t copy, int32_t edge,
                    int32_t bus, double rating)
{
    b->dev[b->ndev++] = (grid_device){.id = id, .type = (uint8_t)ty, .copy = copy, .edge = edge,
                                      .bus = bus, .rating_kw = rating};
    b->count[ty]++;
}

/* Copy k (1-based) of the template into b; busmap gets the template->built bus indices. */
static int add_copy(const grid_topo *tm, grid_built *b, int32_t k, int32_t *busmap, grid_diag *d)
{
    grid_topo *t = b->topo;
    char name[600];
    for (int32_t i = 0; i < tm->nbus; i++) {
        int n = snprintf(name, sizeof name, "F%d/%s", k, grid_bus_name(tm, i));
        int32_t nb = grid_bus_get(t, name, (size_t)n);
        if (nb < 0)
            return grid_errorf(d, "out of memory");
        grid_bus *x = &t->bus[nb];
        *x = (grid_bus){.name = x->name, .nloads = tm->bus[i].nloads, .load_kw = tm->bus[i].load_kw,
                        .x = tm->bus[i].x, .y = tm->bus[i].y, .has_xy = tm->bus[i].has_xy};
        busmap[i] = nb;
    }
    for (int32_t i = 0; i < tm->nbus; i++) {
        if (!tm->bus[i].source)
            continue;
        int one = count_sources(tm) == 1;
        int n = snprintf(name, sizeof name, one ? "F%d/source" : "F%d/source.%s", k, grid_bus_name(tm, i));
        int32_t s = grid_bus_get(t, name, (size_t)n);
        if (s < 0)
            return grid_errorf(d, "out of memory");
        t->bus[s].source = 1;
        snprintf(name, sizeof name, one ? "F%d/Breaker" : "F%d/Breaker.%s", k, grid_bus_name(tm, i));
        int32_t e = grid_edge_add(t, name, s, busmap[i], GRID_BREAKER, 1, 0, d);
        if (e < 0)
            return -1;
        add_dev(b, t->edge[e].name, GRID_DEV_BREAKER, k, e, s, 0);
    }
    for (int32_t i = 0; i < tm->nedge; i++) {
        const grid_edge *x = &tm->edge[i];
        snprintf(name, sizeof name, "F%d/%s", k, grid_edge_id(tm, i));
        int32_t e = grid_edge_add(t, name, busmap[x->a], busmap[x->b], (grid_kind)x->kind,
                                  x->normal_closed, 0, d);
        if (e < 0)
            return -1;
        /* ratings as loaded: the first of parallel edges holds the bank's sum */
        t->edge[e].rating_kw = x->rating_kw;
        t->edge[e].closed = x->closed;
        add_dev(b, t->edge[e].name, dev_type((grid_kind)x->kind), k, e, busmap[x->a], x->rating_kw);
    }
    for (int32_t i = 0; i < tm->nbus; i++) {
        if (tm->bus[i].nloads <= 0)
            continue;
        int n = snprintf(name, sizeof name, "F%d/Meter.%s", k, grid_bus_name(tm, i));
        uint32_t id = grid_str_add(t, name, (size_t)n);
        if (id == UINT32_MAX)
            return grid_errorf(d, "out of memory");
        add_dev(b, id, GRID_DEV_METER, k, -1, busmap[i], 0);
    }
    t->nloads += tm->nloads;
    return 0;
}

static int add_tie(grid_built *b, int32_t k, int32_t a, int32_t c, grid_diag *d)
{
    char name[64];
    snprintf(name, sizeof name, "Tie.F%d-F%d", k, k + 1);
    int32_t e = grid_edge_add(b->topo, name, a, c, GRID_SWITCH, 0, 0, d);
    if (e < 0)
        return -1;
    add_dev(b, b->topo->edge[e].name, GRID_DEV_SWITCH, k, e, a, 0);
    b->ties++;
    return 0;
}

/* Restores the template's parallel-edge marks (grid_topo_finish adds ratings again). */
static void keep_ratings(grid_built *b, const double *ratings)
{
    for (int32_t e = 0; e < b->topo->nedge; e++)
        b->topo->edge[e].rating_kw = ratings[e];
}

int grid_build(const grid_topo *tmpl, int64_t devices, int link, grid_built *out, grid_diag *d)
{
    memset(out, 0, sizeof *out);
    int64_t per = grid_devices_per_copy(tmpl);
    int64_t copies = link ? (devices + 1) / (per + 1) : devices / per;
    if (copies < 1)
        copies = 1;
    if (copies > 10000000 || copies * (int64_t)tmpl->nbus > INT32_MAX / 2 ||
        copies * (per + 1) > INT32_MAX / 2)
        return grid_errorf(d, "--devices %lld is too many for this template", (long long)devices);
    out->topo = grid_topo_create();
    out->dev = malloc((size_t)(copies * (per + 1)) * sizeof *out->dev);
    int32_t *busmap = malloc(((size_t)tmpl->nbus + 1) * sizeof *busmap);
    int32_t *tiebus = malloc((size_t)copies * sizeof *tiebus);
    double *ratings = NULL;
    int rc = (!out->topo || !out->dev || !busmap || !tiebus) ? grid_errorf(d, "out of memory") : 0;
    out->copies = (int32_t)copies;
    out->per_copy = (int32_t)per;
    out->tie_bus = far_bus(tmpl);
    if (out->topo)
        out->topo->base_kv = tmpl->base_kv;
    int32_t nsrc = count_sources(tmpl);
    if (!rc && grid_topo_reserve(out->topo, (int32_t)(copies * (tmpl->nbus + nsrc)),
                                 (int32_t)(copies * (tmpl->nedge + nsrc + 1)),
                                 (size_t)copies * (tmpl->slen + 16 * (size_t)(tmpl->nbus + tmpl->nedge + 2 * nsrc) +
                                                   count_meters(tmpl) * 24)))
        rc = grid_errorf(d, "out of memory");
    for (int32_t k = 1; !rc && k <= copies; k++) {
        rc = add_copy(tmpl, out, k, busmap, d);
        if (!rc)
            tiebus[k - 1] = busmap[out->tie_bus];
    }
    for (int32_t k = 1; !rc && link && k < copies; k++)
        rc = add_tie(out, k, tiebus[k - 1], tiebus[k], d);
    if (!rc) {
        ratings = malloc(((size_t)out->topo->nedge + 1) * sizeof *ratings);
        rc = ratings ? 0 : grid_errorf(d, "out of memory");
        for (int32_t e = 0; !rc && e < out->topo->nedge; e++)
            ratings[e] = out->topo->edge[e].rating_kw;
    }
    if (!rc)
        rc = grid_topo_finish(out->topo, d);
    if (!rc)
        keep_ratings(out, ratings);
    free(ratings);
    free(busmap);
    free(tiebus);
    if (rc)
        grid_built_free(out);
    return rc;
}

void grid_built_free(grid_built *b)
{
    if (!b)
        return;
    grid_topo_destroy(b->topo);
    free(b->dev);
    memset(b, 0, sizeof *b);
}
