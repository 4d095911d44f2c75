/* topo.c: the topology model: buses, edges, names (one string arena, hashed lookup),
 * parallel-edge marking and the adjacency (CSR) the plan walks. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "grid.h"

/* ---------------------------------------------------------------- diagnostics */

void grid_warnf(grid_diag *d, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!d) {
        fprintf(stderr, "warning: %s\n", msg);
        return;
    }
    d->nwarn++;
    if (d->quiet)
        return;
    if (d->warn)
        d->warn(d->ctx, msg);
    else
        fprintf(stderr, "warning: %s\n", msg);
}

int grid_errorf(grid_diag *d, const char *fmt, ...)
{
    if (!d)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->error, sizeof d->error, fmt, ap);
    va_end(ap);
    return -1;
}

int grid_error_at(grid_diag *d, const char *file, int line)
{
    if (!d)
        return -1;
    char tmp[sizeof d->error];
    snprintf(tmp, sizeof tmp, "%s", d->error);
    return grid_errorf(d, "%s:%d: %s", file, line, tmp);
}

const char *grid_kind_name(grid_kind k)
{
    static const char *const n[] = {"line", "switch", "breaker", "transformer"};
    return (unsigned)k < 4 ? n[k] : "?";
}

/* ---------------------------------------------------------------- names */

static uint32_t hash_name(const char *s, size_t len)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    h ^= h >> 16;   /* spread into the low bits the table uses */
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    return h;
}

/* Copies len bytes of s into the arena; the offset, or UINT32_MAX on failure. */
uint32_t grid_str_add(grid_topo *t, const char *s, size_t len)
{
    if (t->slen + len + 1 > t->scap) {
        size_t cap = t->scap ? t->scap * 2 : 4096;
        while (cap < t->slen + len + 1)
            cap *= 2;
        if (cap > UINT32_MAX)
            return UINT32_MAX;
        char *p = realloc(t->strs, cap);
        if (!p)
            return UINT32_MAX;
        t->strs = p;
        t->scap = cap;
    }
    uint32_t off = (uint32_t)t->slen;
    memcpy(t->strs + off, s, len);
    t->strs[off + len] = 0;
    t->slen += len + 1;
    return off;
}

const char *grid_name(const grid_topo *t, uint32_t off) { return t->strs + off; }
const char *grid_edge_id(const grid_topo *t, int32_t e) { return t->strs + t->edge[e].name; }
const char *grid_bus_name(const grid_topo *t, int32_t b) { return t->strs + t->bus[b].name; }

/* Slot of name in table h (capacity cap, a power of two): the index found or -1, and in
 * *slot the slot holding it or the empty slot where it would go. */
static int32_t hash_probe(const grid_topo *t, const int32_t *h, uint32_t cap, int edges,
                          const char *name, size_t len, uint32_t *slot)
{
    uint32_t i = hash_name(name, len) & (cap - 1);
    for (;; i = (i + 1) & (cap - 1)) {
        int32_t v = h[i];
        if (v < 0) {
            *slot = i;
            return -1;
        }
        const char *s = t->strs + (edges ? t->edge[v].name : t->bus[v].name);
        if (strlen(s) == len && !memcmp(s, name, len)) {
            *slot = i;
            return v;
        }
    }
}

/* Grows table *h (holding the first n names) so that want+1 entries fill at most half. */
static int hash_grow(grid_topo *t, int32_t **h, uint32_t *cap, int32_t n, int32_t want, int edges)
{
    if ((uint32_t)(want + 1) * 2 <= *cap)
        return 0;
    uint32_t nc = *cap ? *cap * 2 : 256;
    while ((uint32_t)(want + 1) * 2 > nc)
        nc *= 2;
    int32_t *nh = malloc(nc * sizeof *nh);
    if (!nh)
        return -1;
    memset(nh, 0xff, nc * sizeof *nh);
    free(*h);
    *h = nh;
    *cap = nc;
    for (int32_t v = 0; v < n; v++) {
        const char *s = t->strs + (edges ? t->edge[v].name : t->bus[v].name);
        uint32_t slot;
        hash_probe(t, nh, nc, edges, s, strlen(s), &slot);
        nh[slot] = v;
    }
    return 0;
}

int grid_topo_reserve(grid_topo *t, int32_t nbus, int32_t nedge, size_t strbytes)
{
    if (nbus > t->cbus) {
        grid_bus *nb = realloc(t->bus, (size_t)nbus * sizeof *nb);
        if (!nb)
            return -1;
        t->bus = nb;
        t->cbus = nbus;
    }
    if (nedge > t->cedge) {
        grid_edge *ne = realloc(t->edge, (size_t)nedge * sizeof *ne);
        if (!ne)
            return -1;
        t->edge = ne;
        t->cedge = nedge;
    }
    if (strbytes > t->scap) {
        char *p = realloc(t->strs, strbytes);
        if (!p)
            return -1;
        t->strs = p;
        t->scap = strbytes;
    }
    if (hash_grow(t, &t->bhash, &t->bhcap, t->nbus, nbus, 0) ||
        hash_grow(t, &t->ehash, &t->ehcap, t->nedge, nedge, 1))
        return -1;
    return 0;
}

grid_topo *grid_topo_create(void)
{
    return calloc(1, sizeof(grid_topo));
}

void grid_topo_destroy(grid_topo *t)
{
    if (!t)
        return;
    free(t->strs);
    free(t->bus);
    free(t->edge);
    free(t->bhash);
    free(t->ehash);
    free(t->title);
    free(t->adj_off);
    free(t->adj);
    free(t);
}

int32_t grid_bus_get(grid_topo *t, const char *name, size_t len)
{
    if (hash_grow(t, &t->bhash, &t->bhcap, t->nbus, t->nbus, 0))
        return -1;
    uint32_t slot;
    int32_t v = hash_probe(t, t->bhash, t->bhcap, 0, name, len, &slot);
    if (v >= 0)
        return v;
    if (t->nbus == t->cbus) {
        int32_t nc = t->cbus ? t->cbus * 2 : 256;
        grid_bus *nb = realloc(t->bus, (size_t)nc * sizeof *nb);
        if (!nb)
            return -1;
        t->bus = nb;
        t->cbus = nc;
    }
    uint32_t off = grid_str_add(t, name, len);
    if (off == UINT32_MAX)
        return -1;
    t->bus[t->nbus] = (grid_bus){.name = off};
    t->bhash[slot] = t->nbus;
    return t->nbus++;
}

int32_t grid_bus_find(const grid_topo *t, const char *name)
{
    if (!t->bhcap)
        return -1;
    uint32_t slot;
    return hash_probe(t, t->bhash, t->bhcap, 0, name, strlen(name), &slot);
}

int32_t grid_edge_find(const grid_topo *t, const char *id)
{
    if (!t->ehcap)
        return -1;
    uint32_t slot;
    return hash_probe(t, t->ehash, t->ehcap, 1, id, strlen(id), &slot);
}

int32_t grid_edge_add(grid_topo *t, const char *id, int32_t a, int32_t b, grid_kind kind,
                      int closed, double rating_kw, grid_diag *d)
{
    if (hash_grow(t, &t->ehash, &t->ehcap, t->nedge, t->nedge, 1))
        return grid_errorf(d, "out of memory");
    uint32_t slot;
    size_t len = strlen(id);
    if (hash_probe(t, t->ehash, t->ehcap, 1, id, len, &slot) >= 0)
        return grid_errorf(d, "element %s defined twice", id);
    if (t->nedge == t->cedge) {
        int32_t nc = t->cedge ? t->cedge * 2 : 256;
        grid_edge *ne = realloc(t->edge, (size_t)nc * sizeof *ne);
        if (!ne)
            return grid_errorf(d, "out of memory");
        t->edge = ne;
        t->cedge = nc;
    }
    uint32_t off = grid_str_add(t, id, len);
    if (off == UINT32_MAX)
        return grid_errorf(d, "out of memory");
    int sw = kind == GRID_SWITCH || kind == GRID_BREAKER;
    t->edge[t->nedge] = (grid_edge){.name = off, .a = a, .b = b, .kind = (uint8_t)kind,
                                    .switchable = (uint8_t)sw, .normal_closed = (uint8_t)!!closed,
                                    .closed = (uint8_t)!!closed, .parallel = -1,
                                    .rating_kw = rating_kw > 0 ? rating_kw : 0};
    t->ehash[slot] = t->nedge;
    return t->nedge++;
}

/* ---------------------------------------------------------------- finishing */

/* Marks non-switchable edges on a bus pair already joined by an edge of the same kind
 * as parallel to it (and adds their ratings to it, unbounded if either is). */
static int mark_parallel(grid_topo *t, grid_diag *d)
{
    for (int32_t e = 0; e < t->nedge; e++)
        t->edge[e].parallel = -1;
    for (int32_t bi = 0; bi < t->nbus; bi++)
        for (int32_t i = t->adj_off[bi]; i < t->adj_off[bi + 1]; i++) {
            grid_edge *x = &t->edge[t->adj[i]];
            if (x->switchable || x->parallel >= 0 || x->a != bi)
                continue;
            for (int32_t j = i + 1; j < t->adj_off[bi + 1]; j++) {
                grid_edge *y = &t->edge[t->adj[j]];
                int same = (y->a == x->a && y->b == x->b) || (y->a == x->b && y->b == x->a);
                if (y == x || y->switchable || y->kind != x->kind || y->parallel >= 0 || !same)
                    continue;
                y->parallel = t->adj[i];
                x->rating_kw = (x->rating_kw > 0 && y->rating_kw > 0) ? x->rating_kw + y->rating_kw : 0;
            }
        }
    (void)d;
    return 0;
}

int grid_topo_finish(grid_topo *t, grid_diag *d)
{
    free(t->adj_off);
    free(t->adj);
    t->adj_off = calloc((size_t)t->nbus + 1, sizeof *t->adj_off);
    t->adj = malloc(((size_t)t->nedge * 2 + 1) * sizeof *t->adj);
    if (!t->adj_off || !t->adj)
        return grid_errorf(d, "out of memory");
    for (int32_t e = 0; e < t->nedge; e++) {
        t->adj_off[t->edge[e].a + 1]++;
        if (t->edge[e].b != t->edge[e].a)
            t->adj_off[t->edge[e].b + 1]++;
    }
    for (int32_t i = 0; i < t->nbus; i++)
        t->adj_off[i + 1] += t->adj_off[i];
    int32_t *fill = malloc(((size_t)t->nbus + 1) * sizeof *fill);
    if (!fill)
        return grid_errorf(d, "out of memory");
    memcpy(fill, t->adj_off, (size_t)t->nbus * sizeof *fill);
    for (int32_t e = 0; e < t->nedge; e++) {
        t->adj[fill[t->edge[e].a]++] = e;
        if (t->edge[e].b != t->edge[e].a)
            t->adj[fill[t->edge[e].b]++] = e;
    }
    free(fill);
    return mark_parallel(t, d);
}

double grid_total_load(const grid_topo *t)
{
    double s = 0;
    for (int32_t i = 0; i < t->nbus; i++)
        s += t->bus[i].load_kw;
    return s;
}

int32_t grid_count_kind(const grid_topo *t, grid_kind k)
{
    int32_t n = 0;
    for (int32_t e = 0; e < t->nedge; e++)
        n += t->edge[e].kind == k;
    return n;
}

int grid_read_file(const char *path, char **buf, size_t *len, grid_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return grid_errorf(d, "%s: cannot open: %m", path);
    size_t cap = 65536, n = 0;
    char *p = malloc(cap);
    for (;;) {
        if (!p) {
            fclose(f);
            return grid_errorf(d, "%s: out of memory", path);
        }
        n += fread(p + n, 1, cap - n - 1, f);
        if (n < cap - 1)
            break;
        cap *= 2;
        char *np = realloc(p, cap);
        if (!np)
            free(p);
        p = np;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(p);
        return grid_errorf(d, "%s: read error", path);
    }
    p[n] = 0;
    *buf = p;
    *len = n;
    return 0;
}

int grid_load(const char *path, grid_topo **out, grid_diag *d)
{
    size_t n = strlen(path);
    if (n >= 2 && !strcmp(path + n - 2, ".m"))
        return grid_load_matpower(path, out, d);
    return grid_load_opendss(path, out, d);
}
