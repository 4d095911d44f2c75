/* api_meta.c: API_VERSIONS, the DDL and list APIs, GET_TABLE_INFO and STATS. */
#include "srv_int.h"

#include <stdio.h>
#include <stdlib.h>

#define API(name) strom_err name(srv_server *s, srv_slot *slot, srv_scratch *x, \
                                 const proto_msg *req, proto_msg *resp)

static void *alloc(srv_slot *slot, size_t n)
{
    void *p = proto_arena_alloc(&slot->arena, n ? n : 1);
    if (!p)
        strom_fail(STROM_ENOMEM, "out of memory for a response");
    return p;
}

static proto_str arena_str(srv_slot *slot, const char *s)
{
    size_t n = strlen(s);
    char *p = alloc(slot, n);
    if (p)
        memcpy(p, s, n);
    return (proto_str){p, (uint32_t)n};
}

API(srv_api_versions)
{
    proto_api_range *r = alloc(slot, PROTO_API_COUNT * sizeof *r);
    if (!r)
        return STROM_ENOMEM;
    for (int i = 0; i < PROTO_API_COUNT; i++)
        r[i] = (proto_api_range){(int16_t)i, 0, (int16_t)proto_api_max_version(i)};
    resp->resp.api_versions.napis = PROTO_API_COUNT;
    resp->resp.api_versions.apis = r;
    return STROM_OK;
}

/* ------------------------------------------------------------------ tables */

static strom_err build_schema(srv_slot *slot, const proto_schema *ps, strom_schema **out)
{
    strom_schema *sc = strom_schema_create();
    strom_err e = sc ? STROM_OK : STROM_ENOMEM;
    for (uint32_t i = 0; e == STROM_OK && i < ps->ncolumns; i++) {
        const char *name = srv_cstr(&slot->arena, ps->columns[i].name);
        e = name ? strom_schema_add(sc, name, (strom_type)ps->columns[i].type,
                                    ps->columns[i].not_null)
                 : STROM_ENOMEM;
    }
    const char *pk[PROTO_MAX_PK];
    for (uint32_t i = 0; e == STROM_OK && i < ps->npk; i++)
        pk[i] = strom_schema_col_name(sc, (int)ps->pk[i]);
    if (e == STROM_OK && ps->npk)
        e = strom_schema_set_primary_key(sc, pk, (int)ps->npk);
    if (e != STROM_OK) {
        strom_schema_destroy(sc);
        sc = NULL;
    }
    *out = sc;
    return e;
}

API(srv_api_create_table)
{
    strom_schema *sc = NULL;
    const proto_schema *ps = &req->req.create_table.schema;
    const char *name = srv_cstr(&slot->arena, req->req.create_table.name);
    const char **opts = alloc(slot, (2 * ps->noptions + 1) * sizeof *opts);
    strom_err e = name && opts ? build_schema(slot, ps, &sc) : STROM_ENOMEM;
    for (uint32_t i = 0; e == STROM_OK && i < ps->noptions; i++)
        if (!(opts[2 * i] = srv_cstr(&slot->arena, ps->options[i].key)) ||
            !(opts[2 * i + 1] = srv_cstr(&slot->arena, ps->options[i].value)))
            e = STROM_ENOMEM;
    if (e == STROM_OK) {
        opts[2 * ps->noptions] = NULL;
        e = strom_table_create(s->db, name, sc, opts);
    }
    strom_schema_destroy(sc);
    if (e == STROM_EEXIST && req->req.create_table.if_not_exists)
        e = STROM_OK;
    return e;
}

API(srv_api_drop_table)
{
    const char *name = srv_cstr(&slot->arena, req->req.drop_table.name);
    strom_err e = name ? srv_table_drop(s, name) : STROM_ENOMEM;
    if (e == STROM_ENOTFOUND && req->req.drop_table.if_exists)
        e = STROM_OK;
    return e;
}

/* Copies names (those for which keep() holds) into the response, then frees them. */
static strom_err names_resp(srv_slot *slot, char **names, size_t n, proto_str db,
                            proto_msg *resp)
{
    proto_str *out = alloc(slot, n * sizeof *out);
    size_t k = 0;
    for (size_t i = 0; out && i < n; i++) {
        const char *dot = strchr(names[i], '.');
        int keep = db.len == 0 ||
                   (proto_str_eq(db, "default") ? !dot
                                                : dot && (size_t)(dot - names[i]) == db.len &&
                                                      !memcmp(names[i], db.p, db.len));
        if (keep && !(out[k++] = arena_str(slot, names[i])).p)
            out = NULL;
    }
    strom_free_names(names, n);
    if (!out)
        return STROM_ENOMEM;
    resp->resp.list_tables.nnames = (uint32_t)k;
    resp->resp.list_tables.names = out;
    return STROM_OK;
}

API(srv_api_list_tables)
{
    char **names = NULL;
    size_t n = 0;
    strom_err e = strom_table_list(s->db, &names, &n);
    return e == STROM_OK ? names_resp(slot, names, n, req->req.list_tables.database, resp) : e;
}

typedef struct opt_acc {
    srv_slot *slot;
    proto_option *opts;
    uint32_t n, cap;
    int fail;
} opt_acc;

static void add_option(void *ctx, const char *key, const char *value)
{
    opt_acc *a = ctx;
    if (a->fail || a->n == a->cap) {
        a->fail = 1;
        return;
    }
    proto_option *o = &a->opts[a->n++];
    o->key = arena_str(a->slot, key);
    o->value = arena_str(a->slot, value);
    a->fail = !o->key.p || !o->value.p;
}

static strom_err info_schema(srv_slot *slot, strom_table *t, proto_schema *ps)
{
    const strom_schema *sc = strom_table_schema(t);
    int n = strom_schema_ncols(sc), pk[PROTO_MAX_PK];
    ps->ncolumns = (uint32_t)n;
    ps->columns = alloc(slot, (size_t)n * sizeof *ps->columns);
    ps->npk = (uint32_t)strom_schema_primary_key(sc, pk, PROTO_MAX_PK);
    ps->pk = alloc(slot, PROTO_MAX_PK * sizeof *ps->pk);
    opt_acc a = {.slot = slot, .cap = PROTO_MAX_OPTIONS};
    a.opts = alloc(slot, PROTO_MAX_OPTIONS * sizeof *a.opts);
    if (!ps->columns || !ps->pk || !a.opts)
        return STROM_ENOMEM;
    for (int i = 0; i < n; i++) {
        ps->columns[i].name = arena_str(slot, strom_schema_col_name(sc, i));
        ps->columns[i].type = (uint8_t)strom_schema_col_type(sc, i);
        ps->columns[i].not_null = (uint8_t)!strom_schema_col_nullable(sc, i);
        if (!ps->columns[i].name.p)
            return STROM_ENOMEM;
    }
    for (uint32_t i = 0; i < ps->npk; i++)
        ps->pk[i] = (uint32_t)pk[i];
    cat_table_options_each(t, add_option, &a);
    if (a.fail)
        return strom_fail(STROM_ELIMIT, "the table's options do not fit a response");
    ps->noptions = a.n;
    ps->options = a.opts;
    return STROM_OK;
}

API(srv_api_table_info)
{
    srv_table *h;
    strom_table *t;
    strom_err e = srv_table_get(s, slot, req->req.get_table_info.name, &h, &t);
    if (e != STROM_OK)
        return e;
    resp->resp.table_info.name = arena_str(slot, cat_table_canonical(t));
    resp->resp.table_info.schema_id = (int32_t)strom_schema_id(strom_table_schema(t));
    resp->resp.table_info.buckets = strom_table_nbuckets(t);
    e = resp->resp.table_info.name.p ? info_schema(slot, t, &resp->resp.table_info.schema)
                                     : STROM_ENOMEM;
    srv_table_put(s, h);
    return e;
}

/* ------------------------------------------------------------------- stats */

typedef struct stat_acc {
    srv_slot *slot;
    proto_stat *v;
    uint32_t n, cap;
} stat_acc;

static void stat_put(stat_acc *a, const char *name, int64_t value)
{
    if (a->n < a->cap && (a->v[a->n].name = arena_str(a->slot, name)).p)
        a->v[a->n++].value = value;
}

static strom_err server_stats(srv_server *s, stat_acc *a)
{
    const srv_stats *st = &s->stats;
    char **names = NULL;
    size_t ntables = 0;
    if (strom_table_list(s->db, &names, &ntables) == STROM_OK)
        strom_free_names(names, ntables);
    stat_put(a, "connections", atomic_load(&s->nconns));
    stat_put(a, "connections_total", atomic_load(&st->connections_total));
    stat_put(a, "connections_refused", atomic_load(&st->connections_refused));
    stat_put(a, "requests", atomic_load(&st->requests));
    stat_put(a, "errors", atomic_load(&st->errors));
    stat_put(a, "bytes_in", atomic_load(&st->bytes_in));
    stat_put(a, "bytes_out", atomic_load(&st->bytes_out));
    stat_put(a, "fetch_parked", atomic_load(&st->fetch_parked));
    stat_put(a, "fetch_woken", atomic_load(&st->fetch_woken));
    stat_put(a, "fetch_expired", atomic_load(&st->fetch_expired));
    stat_put(a, "tables", (int64_t)ntables);
    stat_put(a, "io_threads", s->nloops);
    stat_put(a, "io_threads_sched_batch", atomic_load(&s->io_batch));
    stat_put(a, "worker_threads", s->nworkers);
    int lo = INT32_MAX, hi = 0;
    for (int i = 0; i < s->nloops; i++) {
        int n = atomic_load(&s->loops[i].assigned);
        lo = STROM_MIN(lo, n);
        hi = STROM_MAX(hi, n);
    }
    stat_put(a, "io_thread_connections_min", s->nloops ? lo : 0);
    stat_put(a, "io_thread_connections_max", hi);
    stat_put(a, "uptime_ms", strom_now_ms() - s->started_ms);
    return STROM_OK;
}

static strom_err table_stats(srv_server *s, srv_slot *slot, proto_str name, stat_acc *a)
{
    srv_table *h;
    strom_table *t;
    strom_err e = srv_table_get(s, slot, name, &h, &t);
    if (e != STROM_OK)
        return e;
    int nb = strom_table_nbuckets(t);
    strom_bucket_stats sum = {0};
    stat_put(a, "buckets", nb);
    for (int b = 0; e == STROM_OK && b < nb; b++) {
        strom_bucket_stats bs;
        if ((e = strom_table_bucket_stats(t, b, &bs)) != STROM_OK)
            break;
        char k[64];
        snprintf(k, sizeof k, "bucket.%d.earliest_offset", b);
        stat_put(a, k, bs.earliest_offset);
        snprintf(k, sizeof k, "bucket.%d.end_offset", b);
        stat_put(a, k, bs.end_offset);
        sum.end_offset += bs.end_offset - bs.earliest_offset;
        sum.segments += bs.segments;
        sum.bytes_on_disk += bs.bytes_on_disk;
        sum.raw_bytes += bs.raw_bytes;
        sum.batches += bs.batches;
        sum.fsyncs += bs.fsyncs;
    }
    stat_put(a, "rows", sum.end_offset);
    stat_put(a, "segments", sum.segments);
    stat_put(a, "bytes_on_disk", sum.bytes_on_disk);
    stat_put(a, "raw_bytes", sum.raw_bytes);
    stat_put(a, "batches", sum.batches);
    stat_put(a, "fsyncs", sum.fsyncs);
    srv_table_put(s, h);
    return e;
}

API(srv_api_stats)
{
    stat_acc a = {.slot = slot, .cap = 32 + 2 * 1024};
    if (!(a.v = alloc(slot, a.cap * sizeof *a.v)))
        return STROM_ENOMEM;
    strom_err e = req->req.stats.table.len ? table_stats(s, slot, req->req.stats.table, &a)
                                           : server_stats(s, &a);
    resp->resp.stats.nstats = a.n;
    resp->resp.stats.stats = a.v;
    return e;
}

/* --------------------------------------------------------------- databases */

API(srv_api_create_db)
{
    const char *name = srv_cstr(&slot->arena, req->req.create_database.name);
    return name ? cat_database_create(s->db, name, req->req.create_database.if_not_exists)
                : STROM_ENOMEM;
}

API(srv_api_drop_db)
{
    const char *name = srv_cstr(&slot->arena, req->req.drop_database.name);
    return name ? srv_database_drop(s, name, req->req.drop_database.if_exists,
                                    req->req.drop_database.cascade)
                : STROM_ENOMEM;
}

API(srv_api_list_dbs)
{
    char **names = NULL;
    size_t n = 0;
    strom_err e = cat_database_list(s->db, &names, &n);
    return e == STROM_OK ? names_resp(slot, names, n, (proto_str){NULL, 0}, resp) : e;
}
