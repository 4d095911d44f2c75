/* analyze.c: `strom grid analyze`: gathering the fault, the topology at the fault, the
 * affected devices and their telemetry, alarms, decisions and switching (analyze.h). */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "sim.h"
#include "store.h"

const char *grid_an_role_name(int role)
{
    static const char *const n[] = {"path", "behind the fault", "cut off by the trip"};
    return (unsigned)role < GRID_AN_NROLES ? n[role] : "?";
}

int grid_an_event_add(grid_analysis *a, int64_t t, const char *fmt, ...)
{
    if (a->nev == a->cev) {
        int nc = a->cev ? a->cev * 2 : 32;
        grid_an_event *ne = realloc(a->ev, (size_t)nc * sizeof *ne);
        if (!ne)
            return grid_errorf(&a->d, "out of memory");
        a->ev = ne;
        a->cev = nc;
    }
    grid_an_event *e = &a->ev[a->nev++];
    e->t = t;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->what, sizeof e->what, fmt, ap);
    va_end(ap);
    return 0;
}

void grid_an_free(grid_analysis *a)
{
    for (int i = 0; i < a->ndev; i++)
        free(a->dev[i].s);
    free(a->dev);
    free(a->ev);
    free(a->steps);
    grid_plan_free(&a->plan);
    grid_built_free(&a->b);
}

/* ---------------------------------------------------------------- column access */

static void copy_str(const strom_batch *b, int col, int64_t r, char *out, size_t cap)
{
    size_t len = 0;
    const char *s = col >= 0 && !strom_batch_is_null(b, col, r) ? strom_batch_get_str(b, col, r, &len) : "";
    snprintf(out, cap, "%.*s", (int)len, s);
}

static int64_t get_i(const strom_batch *b, int col, int64_t r)
{
    return col >= 0 && !strom_batch_is_null(b, col, r) ? strom_batch_get_int(b, col, r) : 0;
}

static double get_d(const strom_batch *b, int col, int64_t r)
{
    return col >= 0 && !strom_batch_is_null(b, col, r) ? strom_batch_get_f64(b, col, r) : NAN;
}

/* Reads every row of table committed since from_ms (row time >= from_ms) up to the end of
 * each bucket as it is now; fn gets each batch with the column indexes of names (-1 for a
 * column the table does not have). 0, or -1 (a->d.error). */
typedef int (*an_batch_fn)(grid_analysis *a, const strom_batch *b, const int *col);

static int read_since(grid_analysis *a, strom_client *c, const char *table, const char *const *names,
                      int n, int64_t from_ms, an_batch_fn fn)
{
    strom_subscriber *s = NULL;
    strom_subscriber_opts o = {.max_wait_ms = 100};
    int64_t end[64];
    int col[32], rc = 0;
    if (strom_subscriber_create(c, table, &o, &s) != STROM_OK ||
        strom_subscriber_assign(s, -1, STROM_FROM_TIMESTAMP, from_ms) != STROM_OK) {
        strom_subscriber_close(s);
        return grid_errorf(&a->d, "reading %s: %s", table, strom_errmsg());
    }
    int nb = strom_subscriber_nbuckets(s);
    for (int k = 0; k < n && k < 32; k++)
        col[k] = strom_schema_find(strom_subscriber_schema(s), names[k]);
    for (int bk = 0; !rc && bk < nb && bk < 64; bk++)
        if (strom_client_list_offset(c, table, bk, 1, 0, &end[bk]) != STROM_OK)
            rc = grid_errorf(&a->d, "reading %s: %s", table, strom_errmsg());
    for (;;) {
        int left = 0;
        for (int bk = 0; bk < nb && bk < 64; bk++)
            left += strom_subscriber_position(s, bk) < end[bk];
        if (rc || !left)
            break;
        const strom_batch *b;
        int bucket;
        if (strom_subscriber_poll(s, 1000, &b, &bucket) != STROM_OK)
            rc = grid_errorf(&a->d, "reading %s: %s", table, strom_errmsg());
        else if (!b)
            rc = grid_errorf(&a->d, "reading %s: no answer within 1 s", table);
        else
            rc = fn(a, b, col);
    }
    strom_subscriber_close(s);
    return rc;
}

/* ---------------------------------------------------------------- the fault */

static int read_fault(grid_analysis *a, strom_client *c)
{
    strom_lookuper *l = NULL;
    strom_batch *b = NULL;
    strom_value key = {.type = STROM_STRING, .v.s = {a->fault_id, strlen(a->fault_id)}};
    if (strom_lookuper_create(c, "faults", NULL, 0, &l) != STROM_OK ||
        strom_lookuper_get(l, &key, 1, 0, 0, &b) != STROM_OK) {
        strom_lookuper_close(l);
        return grid_errorf(&a->d, "reading the faults table: %s", strom_errmsg());
    }
    const strom_schema *s = strom_lookuper_schema(l);
    int rc = b ? 0 : grid_errorf(&a->d, "no fault '%s' in the faults table", a->fault_id);
    if (!rc) {
        copy_str(b, strom_schema_find(s, "fault_type"), 0, a->type, sizeof a->type);
        copy_str(b, strom_schema_find(s, "section"), 0, a->section, sizeof a->section);
        copy_str(b, strom_schema_find(s, "device_id"), 0, a->tripped, sizeof a->tripped);
        copy_str(b, strom_schema_find(s, "detail"), 0, a->detail, sizeof a->detail);
        a->t_fault = get_i(b, strom_schema_find(s, "event_time"), 0);
        grid_store_feeder_of(a->section[0] ? a->section : a->tripped, a->feeder, sizeof a->feeder);
    }
    if (!rc && strcmp(a->type, "line_fault"))
        rc = grid_errorf(&a->d, "fault '%s' is a %s: only line faults are analysed", a->fault_id, a->type);
    strom_batch_destroy(b);
    strom_lookuper_close(l);
    return rc ? rc : grid_an_event_add(a, a->t_fault, "fault on %s (faults table: %s)", a->section, a->detail);
}

/* ---------------------------------------------------------------- the topology at the fault */

/* 1 if edge e belongs to the fault's feeder: its id starts with "F<k>/" or it is a tie
 * naming F<k> ("Tie.F1-F2"). */
static int feeder_edge(const grid_analysis *a, int32_t e)
{
    const char *id = grid_edge_id(a->b.topo, e);
    size_t n = strlen(a->feeder);
    if (!strncmp(id, a->feeder, n) && id[n] == '/')
        return 1;
    const char *p = strstr(id, a->feeder);
    return !strncmp(id, "Tie.", 4) && p && (p[n] == '-' || p[n] == 0) && (p[-1] == '.' || p[-1] == '-');
}

/* Switch states of the feeder's edges AS OF the fault time into the built topology. */
static int topology_at_fault(grid_analysis *a, strom_client *c)
{
    const grid_topo *t = a->b.topo;
    const char *cols[] = {"switch_state"};
    int32_t *idx = malloc(((size_t)t->nedge + 1) * sizeof *idx);
    strom_value *keys = malloc(((size_t)t->nedge + 1) * sizeof *keys);
    uint8_t *found = malloc((size_t)t->nedge + 1);
    strom_lookuper *l = NULL;
    strom_batch *b = NULL;
    size_t n = 0;
    int rc = idx && keys && found ? 0 : grid_errorf(&a->d, "out of memory");
    for (int32_t e = 0; !rc && e < t->nedge; e++)
        if (feeder_edge(a, e)) {
            const char *id = grid_edge_id(t, e);
            idx[n] = e;
            keys[n++] = (strom_value){.type = STROM_STRING, .v.s = {id, strlen(id)}};
        }
    if (!rc && (strom_lookuper_create(c, "grid_edges", cols, 1, &l) != STROM_OK ||
                strom_lookuper_get_batch(l, keys, 1, n, 1, a->t_fault, found, &b) != STROM_OK))
        rc = grid_errorf(&a->d, "grid_edges AS OF the fault: %s", strom_errmsg());
    int64_t r = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        if (!found[i])
            continue;
        char st[16];
        copy_str(b, 0, r++, st, sizeof st);
        a->b.topo->edge[idx[i]].closed = !strcmp(st, "closed");
    }
    strom_batch_destroy(b);
    strom_lookuper_close(l);
    free(idx);
    free(keys);
    free(found);
    return rc;
}

/* ---------------------------------------------------------------- the affected devices */

static int add_dev(grid_analysis *a, int64_t dev, int role)
{
    for (int i = 0; i < a->ndev; i++)
        if (a->dev[i].dev == dev)
            return 0;
    grid_an_dev *nd = realloc(a->dev, (size_t)(a->ndev + 1) * sizeof *nd);
    if (!nd)
        return grid_errorf(&a->d, "out of memory");
    a->dev = nd;
    a->dev[a->ndev++] = (grid_an_dev){.dev = dev, .role = role};
    return 0;
}

/* The simulator's model on the topology at the fault: the devices a fault on the section
 * changes (the path: fault current; behind it: undervoltage) and those its trip cuts off. */
static int affected_devices(grid_analysis *a)
{
    grid_sim *s = grid_sim_create(&a->b, 1, &a->d);
    if (!s)
        return -1;
    grid_sim_fault f = {.type = GRID_FAULT_LINE, .edge = a->fedge, .dev = -1, .t_s = 0};
    int rc = grid_sim_inject(s, &f, &a->d);
    int64_t n;
    const int64_t *chg = grid_sim_changed(s, &n);
    for (int64_t j = 0; !rc && j < n; j++)
        rc = add_dev(a, chg[j], grid_sim_region(s, chg[j]) == GRID_SIM_PATH ? GRID_AN_PATH : GRID_AN_BEHIND);
    grid_sim_event ev;
    if (!rc && grid_sim_step(s, GRID_SIM_FAULT_HOLD_S, &ev)) {
        chg = grid_sim_changed(s, &n);
        for (int64_t j = 0; !rc && j < n; j++)
            rc = add_dev(a, chg[j], GRID_AN_TRIPPED_OFF);
    }
    grid_sim_destroy(s);
    if (rc)
        grid_errorf(&a->d, "the topology at the fault time: %s (grid_edges AS OF the fault uses the "
                    "times its rows were written: a simulation run with --no-pace writes its trips "
                    "before their event times)", a->d.error);
    return rc;
}

/* ---------------------------------------------------------------- telemetry */

static int device_history(grid_analysis *a, strom_client *c, grid_an_dev *x)
{
    static const char *const cols[] = {"event_time", "voltage", "current", "breaker_closed"};
    const char *id = grid_name(a->b.topo, a->b.dev[x->dev].id);
    strom_value key = {.type = STROM_STRING, .v.s = {id, strlen(id)}};
    int64_t span_s = (a->before_ms + a->after_ms) / 1000 + 1;
    int32_t n = (int32_t)(span_s * 2 + 200 < 1000000 ? span_s * 2 + 200 : 1000000);
    strom_batch *b = NULL;
    if (strom_client_key_history(c, "power_equipment_stream", &key, 1, a->t_fault + a->after_ms, n,
                                 cols, 4, &b) != STROM_OK)
        return grid_errorf(&a->d, "telemetry of %s: %s", id, strom_errmsg());
    int64_t rows = b ? strom_batch_nrows(b) : 0;
    x->s = malloc(((size_t)rows + 1) * sizeof *x->s);
    if (!x->s) {
        strom_batch_destroy(b);
        return grid_errorf(&a->d, "out of memory");
    }
    for (int64_t r = rows - 1; r >= 0; r--) {   /* newest first: reversed */
        int64_t t = get_i(b, 0, r);
        if (t < a->t_fault - a->before_ms)
            continue;
        x->s[x->n++] = (grid_an_sample){.t = t, .v = get_d(b, 1, r), .i = get_d(b, 2, r),
                                        .closed = strom_batch_is_null(b, 3, r) ? -1 : (int)get_i(b, 3, r)};
    }
    a->rows += x->n;
    strom_batch_destroy(b);
    return 0;
}

/* The first sample at or after the fault of a device of the role that passes test. */
static void first_sample(grid_analysis *a, int role, int (*test)(const grid_an_sample *),
                         const char *what, const char *unit, int field_v)
{
    int best = -1;
    int64_t bi = 0;
    for (int d = 0; d < a->ndev; d++) {
        if (a->dev[d].role != role)
            continue;
        for (int64_t k = 0; k < a->dev[d].n; k++) {
            const grid_an_sample *s = &a->dev[d].s[k];
            if (s->t >= a->t_fault - 1000 && test(s)) {
                if (best < 0 || s->t < a->dev[best].s[bi].t)
                    best = d, bi = k;
                break;
            }
        }
    }
    if (best < 0)
        return;
    const grid_an_sample *s = &a->dev[best].s[bi];
    grid_an_event_add(a, s->t, "%s: %s %.1f %s", what, grid_name(a->b.topo, a->b.dev[a->dev[best].dev].id),
                      field_v ? s->v : s->i, unit);
}

static int is_fault_current(const grid_an_sample *s) { return s->i >= GRID_AN_FAULT_A; }
static int is_undervoltage(const grid_an_sample *s) { return s->v > 0 && s->v < GRID_AN_UV_KV; }
static int is_open(const grid_an_sample *s) { return s->closed == 0; }

static void tripped_sample(grid_analysis *a)
{
    for (int d = 0; d < a->ndev; d++) {
        if (strcmp(grid_name(a->b.topo, a->b.dev[a->dev[d].dev].id), a->tripped))
            continue;
        for (int64_t k = 0; k < a->dev[d].n; k++)
            if (a->dev[d].s[k].t >= a->t_fault && is_open(&a->dev[d].s[k])) {
                grid_an_event_add(a, a->dev[d].s[k].t, "telemetry: %s reports open (breaker_closed false)", a->tripped);
                return;
            }
    }
}

/* ---------------------------------------------------------------- alarms, decisions */

static int alarm_rows(grid_analysis *a, const strom_batch *b, const int *col)
{
    size_t n = strlen(a->feeder);
    for (int64_t r = 0; r < strom_batch_nrows(b); r++) {
        char dev[96], type[64];
        int64_t t = get_i(b, col[1], r);
        copy_str(b, col[0], r, dev, sizeof dev);
        if (strncmp(dev, a->feeder, n) || dev[n] != '/' || t < a->t_fault - 1000 || t > a->t_fault + a->after_ms)
            continue;
        copy_str(b, col[2], r, type, sizeof type);
        if (!a->alarm_count++ || t < a->alarm_t) {
            a->alarm_t = t;
            snprintf(a->alarm_what, sizeof a->alarm_what, "%s on %s (severity %lld)", type, dev,
                     (long long)get_i(b, col[3], r));
        }
    }
    return 0;
}

static int read_alarms(grid_analysis *a, strom_client *c)
{
    static const char *const names[] = {"device_id", "event_time", "alarm_type", "severity"};
    a->alarm_count = 0;
    if (read_since(a, c, "alarm_stream", names, 4, a->t_fault - 1000, alarm_rows))
        return -1;
    if (a->alarm_count)
        return grid_an_event_add(a, a->alarm_t, "first alarm on %s: %s; %lld alarm(s) on the feeder",
                                 a->feeder, a->alarm_what, (long long)a->alarm_count);
    return 0;
}

enum { D_ID, D_STEP, D_TIME, D_FAULT, D_SECTION, D_ACTION, D_DEVICE, D_REASON, D_SAMPLE, D_ALARM,
       D_DECISION, D_INTER, D_REST, D_LOST, D_N };

/* 1 if decision row r is about this fault: its fault_id, else its section within the window. */
static int decision_matches(const grid_analysis *a, const strom_batch *b, const int *col, int64_t r)
{
    char s[128];
    if (col[D_FAULT] >= 0 && !strom_batch_is_null(b, col[D_FAULT], r)) {
        copy_str(b, col[D_FAULT], r, s, sizeof s);
        return !strcmp(s, a->fault_id);
    }
    int64_t t = get_i(b, col[D_TIME], r);
    copy_str(b, col[D_SECTION], r, s, sizeof s);
    return !strcmp(s, a->section) && t >= a->t_fault - 1000 && t <= a->t_fault + a->after_ms;
}

static void decision_meta(grid_analysis *a, const strom_batch *b, const int *col, int64_t r)
{
    a->decision_time = get_i(b, col[D_DECISION], r);
    a->sample_time = get_i(b, col[D_SAMPLE], r);
    a->alarm_time = get_i(b, col[D_ALARM], r);
    a->dec_interrupted = get_d(b, col[D_INTER], r);
    a->dec_restored = get_d(b, col[D_REST], r);
    a->dec_lost = get_d(b, col[D_LOST], r);
}

static int decision_rows(grid_analysis *a, const strom_batch *b, const int *col)
{
    for (int64_t r = 0; r < strom_batch_nrows(b); r++) {
        strom_change ch = strom_batch_row_change(b, r);
        if (ch == STROM_UPDATE_BEFORE || ch == STROM_DELETE || !decision_matches(a, b, col, r))
            continue;
        char id[96];
        copy_str(b, col[D_ID], r, id, sizeof id);
        if (!a->decision_id[0])
            snprintf(a->decision_id, sizeof a->decision_id, "%s", id);
        if (strcmp(id, a->decision_id))
            continue;   /* another decision for the same fault: the first is reported */
        grid_an_step *ns = realloc(a->steps, (size_t)(a->nsteps + 1) * sizeof *ns);
        if (!ns)
            return grid_errorf(&a->d, "out of memory");
        a->steps = ns;
        grid_an_step *x = &a->steps[a->nsteps++];
        x->step = (int)get_i(b, col[D_STEP], r);
        x->t = get_i(b, col[D_TIME], r);
        copy_str(b, col[D_ACTION], r, x->action, sizeof x->action);
        copy_str(b, col[D_DEVICE], r, x->device, sizeof x->device);
        copy_str(b, col[D_REASON], r, x->reason, sizeof x->reason);
        decision_meta(a, b, col, r);
    }
    return 0;
}

static int cmp_step(const void *x, const void *y)
{
    const grid_an_step *a = x, *b = y;
    return (a->step > b->step) - (a->step < b->step);
}

static int read_decisions(grid_analysis *a, strom_client *c)
{
    static const char *const names[D_N] = {
        "decision_id", "step", "event_time", "fault_id", "section", "action", "device_id", "reason",
        "sample_time", "alarm_time", "decision_time", "interrupted_kw", "restored_kw", "lost_kw"};
    strom_table_info *ti = NULL;
    a->dec_interrupted = a->dec_restored = a->dec_lost = NAN;
    if (strom_client_table_info(c, "decisions", &ti) != STROM_OK)
        return 0;   /* no dispatcher has written decisions here */
    strom_table_info_free(ti);
    a->has_decisions_table = 1;
    if (read_since(a, c, "decisions", names, D_N, a->t_fault - 1000, decision_rows))
        return -1;
    if (!a->nsteps)
        return 0;
    qsort(a->steps, (size_t)a->nsteps, sizeof *a->steps, cmp_step);
    int64_t t = a->decision_time ? a->decision_time : a->steps[0].t;
    int rc = grid_an_event_add(a, t, "decision %s written: %d step(s)", a->decision_id, a->nsteps);
    if (!rc && a->sample_time)
        rc = grid_an_event_add(a, a->sample_time, "the decision's sensor sample time");
    if (!rc && a->alarm_time)
        rc = grid_an_event_add(a, a->alarm_time, "the decision's alarm time");
    return rc;
}

/* ---------------------------------------------------------------- switching, loads */

static int switch_rows(grid_analysis *a, const strom_batch *b, const int *col)
{
    for (int64_t r = 0; r < strom_batch_nrows(b); r++) {
        strom_change ch = strom_batch_row_change(b, r);
        char id[128], st[16];
        copy_str(b, col[0], r, id, sizeof id);
        copy_str(b, col[1], r, st, sizeof st);
        int64_t t = get_i(b, col[2], r);
        int32_t e = grid_edge_find(a->b.topo, id);
        if ((ch != STROM_INSERT && ch != STROM_UPDATE_AFTER) || e < 0 || !feeder_edge(a, e) ||
            t < a->t_fault || t > a->t_fault + a->after_ms || a->end_closed[e] == !strcmp(st, "closed"))
            continue;
        a->end_closed[e] = !strcmp(st, "closed");
        a->nswitch++;
        int trip = e == a->tedge && !a->end_closed[e];
        if (grid_an_event_add(a, t, "%s: %s %s (grid_edges)", trip ? "trip" : "switching", st, id))
            return -1;
    }
    return 0;
}

/* Breadth-first from the sources through closed edges: live[], parent edge[] of each live
 * bus, order[] the BFS order; the count. */
static int32_t an_energise(const grid_topo *t, const uint8_t *closed, uint8_t *live, int32_t *parent,
                           int32_t *order)
{
    int32_t n = 0;
    for (int32_t u = 0; u < t->nbus; u++) {
        live[u] = t->bus[u].source;
        parent[u] = -1;
        if (live[u])
            order[n++] = u;
    }
    for (int32_t h = 0; h < n; h++)
        for (int32_t k = t->adj_off[order[h]]; k < t->adj_off[order[h] + 1]; k++) {
            const grid_edge *x = &t->edge[t->adj[k]];
            int32_t v = x->a == order[h] ? x->b : x->a;
            if (closed[t->adj[k]] && x->parallel < 0 && !live[v]) {
                live[v] = 1;
                parent[v] = t->adj[k];
                order[n++] = v;
            }
        }
    return n;
}

/* Observed load: interrupted = load behind the tripped device at the fault; restored = the
 * part of it fed at the end of the window (the switching rows applied); lost = the rest. */
static int observed_loads(grid_analysis *a)
{
    const grid_topo *t = a->b.topo;
    size_t nb = (size_t)t->nbus + 1;
    uint8_t *live = malloc(nb), *inter = calloc(nb, 1), *closed = malloc((size_t)t->nedge + 1);
    int32_t *parent = malloc(nb * sizeof *parent), *order = malloc(nb * sizeof *order);
    if (!live || !inter || !closed || !parent || !order || a->tedge < 0) {
        free(live), free(inter), free(closed), free(parent), free(order);
        return a->tedge < 0 ? 0 : grid_errorf(&a->d, "out of memory");
    }
    for (int32_t e = 0; e < t->nedge; e++)
        closed[e] = t->edge[e].closed;
    int32_t n = an_energise(t, closed, live, parent, order);
    for (int32_t h = 0; h < n; h++) {
        int32_t u = order[h], e = parent[u];
        inter[u] = e >= 0 && (e == a->tedge || inter[t->edge[e].a == u ? t->edge[e].b : t->edge[e].a]);
        a->interrupted += inter[u] ? t->bus[u].load_kw : 0;
    }
    an_energise(t, a->end_closed, live, parent, order);
    for (int32_t u = 0; u < t->nbus; u++)
        a->restored += inter[u] && live[u] ? t->bus[u].load_kw : 0;
    a->lost = a->interrupted - a->restored;
    free(live), free(inter), free(closed), free(parent), free(order);
    return 0;
}

static int read_switching(grid_analysis *a, strom_client *c)
{
    static const char *const names[] = {"edge_id", "switch_state", "updated"};
    const grid_topo *t = a->b.topo;
    a->end_closed = malloc((size_t)t->nedge + 1);
    if (!a->end_closed)
        return grid_errorf(&a->d, "out of memory");
    for (int32_t e = 0; e < t->nedge; e++)
        a->end_closed[e] = t->edge[e].closed;
    int rc = read_since(a, c, "grid_edges", names, 3, a->t_fault - 5000, switch_rows);
    rc = rc ? rc : observed_loads(a);
    free(a->end_closed);
    a->end_closed = NULL;
    return rc;
}

/* ---------------------------------------------------------------- gather */

static int build(grid_analysis *a)
{
    grid_topo *tm = NULL;
    grid_diag d = {.quiet = 1};
    if (grid_load(a->topology, &tm, &d))
        return grid_errorf(&a->d, "%s", d.error);
    int rc = grid_build(tm, a->devices, !a->no_ties, &a->b, &a->d);
    grid_topo_destroy(tm);
    if (rc)
        return -1;
    a->fedge = grid_edge_find(a->b.topo, a->section);
    a->tedge = a->tripped[0] ? grid_edge_find(a->b.topo, a->tripped) : -1;
    if (a->fedge < 0)
        return grid_errorf(&a->d, "section %s of fault %s is not in the grid built from %s with %lld "
                           "devices (use the simulator's --topology and --devices)", a->section,
                           a->fault_id, a->topology, (long long)a->devices);
    return 0;
}

static int cmp_event(const void *x, const void *y)
{
    const grid_an_event *a = x, *b = y;
    return (a->t > b->t) - (a->t < b->t);
}

int grid_an_gather(grid_analysis *a)
{
    strom_client *c = NULL;
    if (strom_client_connect(a->server, NULL, &c) != STROM_OK)
        return grid_errorf(&a->d, "%s", strom_errmsg());
    int rc = read_fault(a, c);
    rc = rc ? rc : build(a);
    rc = rc ? rc : topology_at_fault(a, c);
    grid_plan_ws *w = rc ? NULL : grid_plan_ws_create(a->b.topo);
    if (!rc && w && !grid_plan_make_ws(w, a->fedge, &a->plan, &a->d))
        a->has_plan = 1;
    grid_plan_ws_destroy(w);
    rc = rc ? rc : affected_devices(a);
    for (int i = 0; !rc && i < a->ndev; i++)
        rc = device_history(a, c, &a->dev[i]);
    if (!rc) {
        first_sample(a, GRID_AN_PATH, is_fault_current, "first fault-current sample", "A", 0);
        first_sample(a, GRID_AN_BEHIND, is_undervoltage, "first undervoltage sample behind the fault", "kV", 1);
        tripped_sample(a);
    }
    rc = rc ? rc : read_alarms(a, c);
    rc = rc ? rc : read_decisions(a, c);
    rc = rc ? rc : read_switching(a, c);
    strom_client_close(c);
    if (!rc)
        qsort(a->ev, (size_t)a->nev, sizeof *a->ev, cmp_event);
    return rc;
}
