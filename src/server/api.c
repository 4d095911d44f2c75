/* api.c: the dispatch table of the native protocol (which handler, on which thread) and
 * the helpers the handlers share. */
#include "srv_int.h"

/* api_meta.c */
strom_err srv_api_versions(srv_server *, srv_slot *, srv_scratch *, const proto_msg *, proto_msg *);
strom_err srv_api_create_table(srv_server *, srv_slot *, srv_scratch *, const proto_msg *, proto_msg *);
strom_err srv_api_drop_table(srv_server *, srv_slot *, srv_scratch *, const proto_msg *, proto_msg *);
strom_err srv_api_list_tables(srv_server *, srv_slot *, srv_scratch *, const proto_msg *, proto_msg *);
strom_err srv_api_table_info(srv_server *, srv_slot *, srv_scratch *, const proto_msg *, proto_msg *);
strom_err srv_api_stats(srv_server *, srv_slot *, srv_scratch *, const proto_msg *, proto_msg *);
strom_err srv_api_create_db(srv_server *, srv_slot *, srv_scratch *, const proto_msg *, proto_msg *);
strom_err srv_api_drop_db(srv_server *, srv_slot *, srv_scratch *, const proto_msg *, proto_msg *);
strom_err srv_api_list_dbs(srv_server *, srv_slot *, srv_scratch *, const proto_msg *, proto_msg *);
/* api_log.c */
strom_err srv_api_produce(srv_server *, srv_slot *, srv_scratch *, const proto_msg *, proto_msg *);
strom_err srv_api_fetch(srv_server *, srv_slot *, srv_scratch *, const proto_msg *, proto_msg *);
strom_err srv_api_list_offsets(srv_server *, srv_slot *, srv_scratch *, const proto_msg *, proto_msg *);
/* api_kv.c */
strom_err srv_api_put_kv(srv_server *, srv_slot *, srv_scratch *, const proto_msg *, proto_msg *);
strom_err srv_api_lookup(srv_server *, srv_slot *, srv_scratch *, const proto_msg *, proto_msg *);
strom_err srv_api_prefix_lookup(srv_server *, srv_slot *, srv_scratch *, const proto_msg *, proto_msg *);
strom_err srv_api_scan_kv(srv_server *, srv_slot *, srv_scratch *, const proto_msg *, proto_msg *);
strom_err srv_api_key_history(srv_server *, srv_slot *, srv_scratch *, const proto_msg *, proto_msg *);

/* api_sql.c */
strom_err srv_api_execute_sql(srv_server *, srv_slot *, srv_scratch *, const proto_msg *, proto_msg *);
strom_err srv_api_fetch_sql(srv_server *, srv_slot *, srv_scratch *, const proto_msg *, proto_msg *);
strom_err srv_api_cancel_sql(srv_server *, srv_slot *, srv_scratch *, const proto_msg *, proto_msg *);

/* Requests on the I/O thread must be quick: no fsync, no unbounded scan. LOOKUP is quick
 * when small (a RocksDB multi-get per bucket); a table's first use opens it (once). */
#define SRV_INLINE_LOOKUP_BYTES 4096

static const struct {
    srv_api_fn fn;
    int blocks;
} apis[PROTO_API_COUNT] = {
    [PROTO_API_VERSIONS] = {srv_api_versions, 0},
    [PROTO_CREATE_TABLE] = {srv_api_create_table, 1},
    [PROTO_DROP_TABLE] = {srv_api_drop_table, 1},
    [PROTO_LIST_TABLES] = {srv_api_list_tables, 0},
    [PROTO_GET_TABLE_INFO] = {srv_api_table_info, 1},
    [PROTO_PRODUCE_LOG] = {srv_api_produce, 1},
    [PROTO_FETCH_LOG] = {srv_api_fetch, 1},
    [PROTO_LIST_OFFSETS] = {srv_api_list_offsets, 0},
    [PROTO_PUT_KV] = {srv_api_put_kv, 1},
    [PROTO_LOOKUP] = {srv_api_lookup, 0},
    [PROTO_PREFIX_LOOKUP] = {srv_api_prefix_lookup, 1},
    [PROTO_SCAN_KV] = {srv_api_scan_kv, 1},
    [PROTO_KEY_HISTORY] = {srv_api_key_history, 1},
    [PROTO_STATS] = {srv_api_stats, 0},
    [PROTO_CREATE_DATABASE] = {srv_api_create_db, 1},
    [PROTO_DROP_DATABASE] = {srv_api_drop_db, 1},
    [PROTO_LIST_DATABASES] = {srv_api_list_dbs, 0},
    [PROTO_EXECUTE_SQL] = {srv_api_execute_sql, 1},
    [PROTO_FETCH_SQL] = {srv_api_fetch_sql, 1},
    [PROTO_CANCEL_SQL] = {srv_api_cancel_sql, 1},
};

srv_api_fn srv_api_handler(int api) { return apis[api].fn; }

int srv_api_blocks(int api, size_t body_len)
{
    if (api == PROTO_LOOKUP)
        return body_len > SRV_INLINE_LOOKUP_BYTES;
    return apis[api].blocks;
}

char *srv_cstr(proto_arena *a, proto_str s)
{
    char *p = proto_arena_alloc(a, (size_t)s.len + 1);
    if (p) {
        if (s.len)
            memcpy(p, s.p, s.len);
        p[s.len] = '\0';
    }
    return p;
}

strom_err srv_cstrs(proto_arena *a, const proto_str *names, uint32_t n, const char ***out)
{
    *out = NULL;
    if (n == 0)
        return STROM_OK;
    const char **v = proto_arena_alloc(a, (size_t)n * sizeof *v);
    for (uint32_t i = 0; v && i < n; i++)
        if (!(v[i] = srv_cstr(a, names[i])))
            v = NULL;
    *out = v;
    return v ? STROM_OK : strom_fail(STROM_ENOMEM, "out of memory for names");
}
