/* store.c: the grid application's tables (definitions, creation) and the loading of a built
 * grid into them through batching producers (store.h, docs/grid.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define S STROM_STRING
#define TS STROM_TIMESTAMP
#define D STROM_DOUBLE

/* The 20-column IEC 61850 MMXU-like telemetry row (same names as src/cli/telemetry.h). */
static const grid_col tele_cols[] = {
    {"device_id", S, 1}, {"event_time", TS, 1}, {"voltage", D, 0}, {"current", D, 0},
    {"temperature", D, 0}, {"va", D, 0}, {"vb", D, 0}, {"vc", D, 0}, {"ia", D, 0}, {"ib", D, 0},
    {"ic", D, 0}, {"active_power_kw", D, 0}, {"reactive_power_kvar", D, 0}, {"power_factor", D, 0},
    {"frequency_hz", D, 0}, {"voltage_thd_pct", D, 0}, {"breaker_closed", STROM_BOOLEAN, 0},
    {"quality", STROM_INT, 0}, {"energy_kwh", STROM_BIGINT, 0}, {"tap_position", STROM_INT, 0}};
static const grid_col alarm_cols[] = {
    {"alarm_id", S, 1}, {"device_id", S, 1}, {"event_time", TS, 1}, {"alarm_type", S, 0},
    {"severity", STROM_INT, 0}, {"value", D, 0}, {"message", S, 0}};
static const grid_col status_cols[] = {
    {"device_id", S, 1}, {"event_time", TS, 1}, {"device_status", S, 0}, {"capacity", D, 0}};
static const grid_col dim_cols[] = {
    {"device_id", S, 1}, {"device_name", S, 0}, {"location", S, 0}, {"capacity_mw", D, 0},
    {"status", S, 0}, {"last_update", TS, 0}};
static const grid_col dimt_cols[] = {
    {"device_id", S, 1}, {"device_type", S, 0}, {"feeder", S, 0}, {"bus", S, 0},
    {"device_status", S, 0}, {"capacity", D, 0}, {"last_maintenance", TS, 0}};
static const grid_col cur_cols[] = {
    {"device_id", S, 1}, {"alarm_id", S, 0}, {"alarm_type", S, 0}, {"severity", STROM_INT, 0},
    {"event_time", TS, 0}};
static const grid_col node_cols[] = {
    {"bus_id", S, 1}, {"feeder", S, 0}, {"load_kw", D, 0}, {"nloads", STROM_INT, 0},
    {"x", D, 0}, {"y", D, 0}, {"is_source", STROM_BOOLEAN, 0}};
static const grid_col edge_cols[] = {
    {"edge_id", S, 1}, {"from_bus", S, 0}, {"to_bus", S, 0}, {"kind", S, 0},
    {"switch_state", S, 0}, {"normal_state", S, 0}, {"rating_kw", D, 0}, {"feeder", S, 0},
    {"updated", TS, 0}};
static const grid_col decision_cols[] = {
    {"decision_id", S, 1}, {"step", STROM_INT, 1}, {"event_time", TS, 1}, {"feeder", S, 0},
    {"section", S, 0}, {"action", S, 0}, {"device_id", S, 0}, {"reason", S, 0},
    {"sample_time", TS, 0}, {"alarm_time", TS, 0}, {"decision_time", TS, 0},
    {"interrupted_kw", D, 0}, {"restored_kw", D, 0}, {"lost_kw", D, 0}, {"dispatcher", S, 0}};
static const grid_col rule_cols[] = {
    {"rule_id", S, 1}, {"metric", S, 0}, {"op", S, 0}, {"threshold", D, 0},
    {"clear_threshold", D, 0}, {"severity", STROM_INT, 0}, {"alarm_type", S, 0},
    {"hold_ms", STROM_BIGINT, 0}, {"enabled", STROM_BOOLEAN, 0}, {"device_type", S, 0},
    {"updated", TS, 0}};
static const grid_col ckpt_cols[] = {
    {"dispatcher", S, 1}, {"bucket", STROM_INT, 1}, {"next_offset", STROM_BIGINT, 0},
    {"sample_time", TS, 0}, {"updated", TS, 0}, {"decisions", STROM_BIGINT, 0}};
static const grid_col fault_cols[] = {
    {"fault_id", S, 1}, {"fault_type", S, 0}, {"section", S, 0}, {"device_id", S, 0},
    {"event_time", TS, 0}, {"cleared_time", TS, 0}, {"detail", S, 0}};

static const char *const pk_dev[] = {"device_id"}, *const pk_bus[] = {"bus_id"},
                         *const pk_edge[] = {"edge_id"}, *const pk_fault[] = {"fault_id"};
static const char *const pk_alarm[] = {"device_id", "alarm_type"},
                         *const pk_dec[] = {"decision_id", "step"}, *const pk_rule[] = {"rule_id"},
                         *const pk_ckpt[] = {"dispatcher", "bucket"};
static const char *const log_by_dev[] = {"bucket.num", "2", "bucket.key", "device_id",
                                         "table.log.index.key", "device_id",
                                         "table.time-column", "event_time", NULL};
/* Telemetry is flushed every 100 ms rather than per append: readers (the dispatcher) see
 * a sample without waiting for an fsync, and a crash of the server loses at most the last
 * 100 ms of samples, which the devices send again a second later (docs/grid.md, tables). */
static const char *const log_tele[] = {"bucket.num", "2", "bucket.key", "device_id",
                                       "table.log.index.key", "device_id",
                                       "table.time-column", "event_time",
                                       "table.log.flush", "interval",
                                       "table.log.flush.interval", "100 ms", NULL};
static const char *const pk_two[] = {"bucket.num", "2", NULL};
static const char *const pk_one[] = {"bucket.num", "1", NULL};
/* grid_edges: a row's version time is its `updated` (the switching's time), so the topology
 * AS OF a time is the one that held then even when a row is written late. */
static const char *const pk_edges[] = {"bucket.num", "2", "table.kv.version-column", "updated", NULL};

#define T(name, cols, pk, npk, opts, writer) \
    {name, cols, (int)(sizeof cols / sizeof cols[0]), pk, npk, opts, writer}
static const grid_table_def tables[] = {
    T("power_equipment_stream", tele_cols, NULL, 0, log_tele, "grid simulate"),
    T("alarm_stream", alarm_cols, NULL, 0, log_by_dev, "grid dispatch"),
    T("device_status_stream", status_cols, NULL, 0, log_by_dev, "grid load, grid simulate"),
    T("device_dimension", dim_cols, pk_dev, 1, pk_two, "grid load"),
    T("device_dimension_table", dimt_cols, pk_dev, 1, pk_two, "grid load, grid simulate"),
    T("current_alarms", cur_cols, pk_alarm, 2, pk_two, "grid dispatch"),
    T("grid_nodes", node_cols, pk_bus, 1, pk_two, "grid load"),
    T("grid_edges", edge_cols, pk_edge, 1, pk_edges, "grid load, switch operations"),
    T("decisions", decision_cols, pk_dec, 2, pk_one, "grid dispatch"),
    T("faults", fault_cols, pk_fault, 1, pk_one, "grid simulate"),
    T("alarm_rules", rule_cols, pk_rule, 1, pk_one, "grid dispatch (defaults), operators"),
    T("dispatch_checkpoints", ckpt_cols, pk_ckpt, 2, pk_one, "grid dispatch"),
};
#undef T

const grid_table_def *grid_store_tables(int *n)
{
    *n = (int)(sizeof tables / sizeof tables[0]);
    return tables;
}

const grid_table_def *grid_store_table(const char *name)
{
    int n;
    const grid_table_def *t = grid_store_tables(&n);
    for (int i = 0; i < n; i++)
        if (!strcmp(t[i].name, name))
            return &t[i];
    return NULL;
}

strom_schema *grid_store_schema(const grid_table_def *t)
{
    strom_schema *s = strom_schema_create();
    for (int i = 0; s && i < t->ncols; i++)
        if (strom_schema_add(s, t->cols[i].name, t->cols[i].type, t->cols[i].not_null) != STROM_OK) {
            strom_schema_destroy(s);
            return NULL;
        }
    if (s && t->pk && strom_schema_set_primary_key(s, t->pk, t->npk) != STROM_OK) {
        strom_schema_destroy(s);
        return NULL;
    }
    return s;
}

int grid_store_create(strom_client *c, grid_diag *d)
{
    int n;
    const grid_table_def *t = grid_store_tables(&n);
    for (int i = 0; i < n; i++) {
        strom_schema *s = grid_store_schema(&t[i]);
        if (!s)
            return grid_errorf(d, "out of memory");
        strom_err e = strom_client_create_table(c, t[i].name, s, t[i].options, 1);
        strom_schema_destroy(s);
        if (e != STROM_OK)
            return grid_errorf(d, "creating table %s: %s", t[i].name, strom_errmsg());
    }
    return 0;
}

const char *grid_state_name(int closed)
{
    return closed ? "closed" : "open";
}

/* ---------------------------------------------------------------- loading */

/* One table being loaded: a producer and a builder sent every GRID_LOAD_ROWS rows. */
#define GRID_LOAD_ROWS 32768
typedef struct loader {
    strom_client *c;            /* its own connection: the server runs one connection's
                                   requests one at a time, so tables load in parallel */
    strom_producer *p;
    strom_builder *b;
    const char *table;
    int64_t rows;
} loader;

static int loader_open(loader *l, strom_client *c, const char *table, grid_diag *d)
{
    memset(l, 0, sizeof *l);
    l->table = table;
    strom_producer_opts o = {.linger_ms = -1, .max_in_flight = 8};
    if (strom_client_connect(strom_client_server(c), NULL, &l->c) != STROM_OK)
        return grid_errorf(d, "connection for %s: %s", table, strom_errmsg());
    if (strom_producer_create(l->c, table, &o, NULL, 0, &l->p) != STROM_OK)
        return grid_errorf(d, "producer for %s: %s", table, strom_errmsg());
    l->b = strom_builder_create(strom_producer_schema(l->p));
    return l->b ? 0 : grid_errorf(d, "out of memory");
}

static int loader_send(loader *l, grid_diag *d)
{
    if (!strom_builder_nrows(l->b))
        return 0;
    if (strom_producer_send_batch(l->p, l->b) != STROM_OK)
        return grid_errorf(d, "loading %s: %s", l->table, strom_errmsg());
    strom_builder_reset(l->b);
    return 0;
}

/* Ends a row (sending a full builder); e: the first put error of the row. */
static int loader_end(loader *l, strom_err e, grid_diag *d)
{
    if (e == STROM_OK)
        e = strom_builder_end_row(l->b);
    if (e != STROM_OK)
        return grid_errorf(d, "row %lld of %s: %s", (long long)l->rows, l->table, strom_errmsg());
    l->rows++;
    return strom_builder_nrows(l->b) >= GRID_LOAD_ROWS ? loader_send(l, d) : 0;
}

/* Sends the rest, flushes and closes; rc: the result so far. */
static int loader_close(loader *l, int rc, grid_diag *d)
{
    if (!rc && l->b)
        rc = loader_send(l, d);
    if (l->p) {
        strom_err e = strom_producer_close(l->p);
        if (!rc && e != STROM_OK)
            rc = grid_errorf(d, "flushing %s: %s", l->table, strom_errmsg());
    }
    strom_builder_destroy(l->b);
    strom_client_close(l->c);
    l->c = NULL;
    l->p = NULL;
    l->b = NULL;
    return rc;
}

static strom_err put_s(strom_builder *b, int col, const char *s)
{
    return strom_builder_put_str(b, col, s, strlen(s));
}

/* "F12" of an id "F12/..."; "" for ids without a copy prefix (ties). */
void grid_store_feeder_of(const char *id, char *out, size_t cap)
{
    const char *sl = strchr(id, '/');
    size_t n = sl && id[0] == 'F' ? (size_t)(sl - id) : 0;
    snprintf(out, cap, "%.*s", (int)n, id);
}

/* Status of a device: switchable devices by normal state, the others in service. */
static const char *dev_status(const grid_built *b, const grid_device *v)
{
    if (v->edge < 0 || !b->topo->edge[v->edge].switchable)
        return "in_service";
    return grid_state_name(b->topo->edge[v->edge].normal_closed);
}

static int put_dim(loader *l, const grid_built *b, const grid_device *v, int64_t now, grid_diag *d)
{
    const grid_topo *t = b->topo;
    const char *id = grid_name(t, v->id), *bus = grid_bus_name(t, v->bus);
    char name[600], loc[700];
    snprintf(name, sizeof name, "%s %s", grid_dev_type_name((grid_dev_type)v->type), id);
    if (t->bus[v->bus].has_xy)
        snprintf(loc, sizeof loc, "%s (%.3f, %.3f)", bus, t->bus[v->bus].x, t->bus[v->bus].y);
    else
        snprintf(loc, sizeof loc, "%s", bus);
    strom_builder *w = l->b;
    strom_err e = put_s(w, 0, id);
    e = e ? e : put_s(w, 1, name);
    e = e ? e : put_s(w, 2, loc);
    e = e ? e : v->rating_kw > 0 ? strom_builder_put_f64(w, 3, v->rating_kw / 1000) : strom_builder_put_null(w, 3);
    e = e ? e : put_s(w, 4, dev_status(b, v));
    e = e ? e : strom_builder_put_int(w, 5, now);
    return loader_end(l, e, d);
}

static int put_dimt(loader *l, const grid_built *b, const grid_device *v, int64_t now, grid_diag *d)
{
    const grid_topo *t = b->topo;
    const char *id = grid_name(t, v->id);
    char feeder[32];
    snprintf(feeder, sizeof feeder, "F%d", v->copy);
    strom_builder *w = l->b;
    strom_err e = put_s(w, 0, id);
    e = e ? e : put_s(w, 1, grid_dev_type_name((grid_dev_type)v->type));
    e = e ? e : put_s(w, 2, feeder);
    e = e ? e : put_s(w, 3, grid_bus_name(t, v->bus));
    e = e ? e : put_s(w, 4, dev_status(b, v));
    e = e ? e : v->rating_kw > 0 ? strom_builder_put_f64(w, 5, v->rating_kw) : strom_builder_put_null(w, 5);
    e = e ? e : strom_builder_put_int(w, 6, now);
    return loader_end(l, e, d);
}

static int put_status(loader *l, const grid_built *b, const grid_device *v, int64_t now, grid_diag *d)
{
    strom_builder *w = l->b;
    strom_err e = put_s(w, 0, grid_name(b->topo, v->id));
    e = e ? e : strom_builder_put_int(w, 1, now);
    e = e ? e : put_s(w, 2, dev_status(b, v));
    e = e ? e : v->rating_kw > 0 ? strom_builder_put_f64(w, 3, v->rating_kw) : strom_builder_put_null(w, 3);
    return loader_end(l, e, d);
}

static int put_node(loader *l, const grid_topo *t, int32_t i, grid_diag *d)
{
    const grid_bus *x = &t->bus[i];
    const char *name = grid_bus_name(t, i);
    char feeder[32];
    grid_store_feeder_of(name, feeder, sizeof feeder);
    strom_builder *w = l->b;
    strom_err e = put_s(w, 0, name);
    e = e ? e : put_s(w, 1, feeder);
    e = e ? e : strom_builder_put_f64(w, 2, x->load_kw);
    e = e ? e : strom_builder_put_int(w, 3, x->nloads);
    e = e ? e : x->has_xy ? strom_builder_put_f64(w, 4, x->x) : strom_builder_put_null(w, 4);
    e = e ? e : x->has_xy ? strom_builder_put_f64(w, 5, x->y) : strom_builder_put_null(w, 5);
    e = e ? e : strom_builder_put_int(w, 6, x->source);
    return loader_end(l, e, d);
}

int grid_store_put_edge(strom_builder *w, const grid_topo *t, int32_t i, int64_t now)
{
    const grid_edge *x = &t->edge[i];
    const char *id = grid_edge_id(t, i);
    char feeder[32];
    grid_store_feeder_of(id, feeder, sizeof feeder);
    strom_err e = put_s(w, 0, id);
    e = e ? e : put_s(w, 1, grid_bus_name(t, x->a));
    e = e ? e : put_s(w, 2, grid_bus_name(t, x->b));
    e = e ? e : put_s(w, 3, grid_kind_name((grid_kind)x->kind));
    e = e ? e : put_s(w, 4, grid_state_name(x->closed));
    e = e ? e : put_s(w, 5, grid_state_name(x->normal_closed));
    e = e ? e : x->rating_kw > 0 ? strom_builder_put_f64(w, 6, x->rating_kw) : strom_builder_put_null(w, 6);
    e = e ? e : put_s(w, 7, feeder);
    e = e ? e : strom_builder_put_int(w, 8, now);
    return (int)e;
}

enum { L_DIM, L_DIMT, L_STATUS, L_NODE, L_EDGE, L_N };

static int load_rows(loader *l, const grid_built *b, int64_t now, grid_diag *d)
{
    int rc = 0;
    for (int64_t i = 0; !rc && i < b->ndev; i++) {
        const grid_device *v = &b->dev[i];
        rc = put_dim(&l[L_DIM], b, v, now, d);
        rc = rc ? rc : put_dimt(&l[L_DIMT], b, v, now, d);
        rc = rc ? rc : put_status(&l[L_STATUS], b, v, now, d);
    }
    for (int32_t i = 0; !rc && i < b->topo->nbus; i++)
        rc = put_node(&l[L_NODE], b->topo, i, d);
    for (int32_t i = 0; !rc && i < b->topo->nedge; i++)
        rc = loader_end(&l[L_EDGE], (strom_err)grid_store_put_edge(l[L_EDGE].b, b->topo, i, now), d);
    return rc;
}

int grid_store_load(strom_client *c, const grid_built *b, int64_t now_ms, grid_load_counts *out,
                    grid_diag *d)
{
    static const char *const names[L_N] = {"device_dimension", "device_dimension_table",
                                           "device_status_stream", "grid_nodes", "grid_edges"};
    loader l[L_N];
    memset(l, 0, sizeof l);
    int rc = 0;
    for (int i = 0; i < L_N && !rc; i++)
        rc = loader_open(&l[i], c, names[i], d);
    if (!rc)
        rc = load_rows(l, b, now_ms, d);
    for (int i = 0; i < L_N; i++)
        rc = loader_close(&l[i], rc, d);
    *out = (grid_load_counts){.devices = l[L_DIM].rows, .nodes = l[L_NODE].rows,
                              .edges = l[L_EDGE].rows, .status = l[L_STATUS].rows};
    return rc;
}
