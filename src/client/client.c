/*
 * client.c: administration calls of client.h (tables, databases, statistics, offsets)
 * and the table description (schema + parsed options) the producer, subscriber and
 * lookuper share.
 */
#include <stdio.h>
#include <stdlib.h>

#include "client/client_int.h"

/* A call whose answer is decoded into resp, with a frame and an arena owned by the
 * caller's stack. */
typedef struct stc_tmp { strom_buf frame; proto_arena arena; } stc_tmp;

static void tmp_free(stc_tmp *t)
{
    strom_buf_free(&t->frame);
    proto_arena_free(&t->arena);
}

static char *dup_str(proto_str s)
{
    char *p = strom_malloc((size_t)s.len + 1);
    if (p) {
        memcpy(p, s.p, s.len);
        p[s.len] = '\0';
    }
    return p;
}

/* ------------------------------------------------------------ table info */

void strom_table_info_free(strom_table_info *t)
{
    if (!t)
        return;
    free(t->name);
    strom_schema_destroy(t->schema);
    for (int i = 0; t->options && i < 2 * t->noptions; i++)
        free(t->options[i]);
    free(t->options);
    free(t);
}

static strom_err info_schema(const proto_schema *ps, int32_t id, strom_schema **out)
{
    strom_schema *s = strom_schema_create();
    if (!s)
        return STROM_ENOMEM;
    strom_err e = STROM_OK;
    char name[PROTO_MAX_STR + 1];
    for (uint32_t i = 0; e == STROM_OK && i < ps->ncolumns; i++) {
        snprintf(name, sizeof name, "%.*s", (int)ps->columns[i].name.len, ps->columns[i].name.p);
        e = strom_schema_add(s, name, (strom_type)ps->columns[i].type, ps->columns[i].not_null);
    }
    const char *pk[PROTO_MAX_PK];
    for (uint32_t i = 0; e == STROM_OK && i < ps->npk; i++)
        pk[i] = strom_schema_col_name(s, (int)ps->pk[i]);
    if (e == STROM_OK && ps->npk)
        e = strom_schema_set_primary_key(s, pk, (int)ps->npk);
    fmt_schema_set_id(s, (uint32_t)id);
    if (e != STROM_OK) {
        strom_schema_destroy(s);
        return e;
    }
    *out = s;
    return STROM_OK;
}

static strom_err info_options(const proto_schema *ps, strom_table_info *t)
{
    t->options = strom_calloc(2 * (size_t)ps->noptions + 1, sizeof(char *));
    if (!t->options)
        return STROM_ENOMEM;
    for (uint32_t i = 0; i < ps->noptions; i++) {
        if (!(t->options[2 * i] = dup_str(ps->options[i].key)) ||
            !(t->options[2 * i + 1] = dup_str(ps->options[i].value)))
            return STROM_ENOMEM;
        t->noptions++;
    }
    return STROM_OK;
}

strom_err strom_client_table_info(strom_client *c, const char *table, strom_table_info **out)
{
    *out = NULL;
    proto_msg m = {0}, r;
    m.req.get_table_info.name = proto_s(table);
    stc_tmp tmp = {0};
    strom_err e = stc_roundtrip(c, PROTO_GET_TABLE_INFO, &m, 0, &tmp.frame, &tmp.arena, &r);
    strom_table_info *t = NULL;
    if (e == STROM_OK && !(t = strom_calloc(1, sizeof *t)))
        e = STROM_ENOMEM;
    if (e == STROM_OK) {
        t->schema_id = r.resp.table_info.schema_id;
        t->nbuckets = r.resp.table_info.buckets;
        t->name = dup_str(r.resp.table_info.name);
        e = t->name ? info_schema(&r.resp.table_info.schema, t->schema_id, &t->schema) : STROM_ENOMEM;
    }
    if (e == STROM_OK)
        e = info_options(&r.resp.table_info.schema, t);
    tmp_free(&tmp);
    if (e != STROM_OK) {
        strom_table_info_free(t);
        return e;
    }
    *out = t;
    return STROM_OK;
}

/* ------------------------------------------------------------ administration */

static strom_err to_proto_schema(const strom_schema *s, const char *const *options,
                                 proto_arena *a, proto_schema *ps)
{
    int n = strom_schema_ncols(s), nopt = 0;
    while (options && options[2 * nopt])
        nopt++;
    ps->ncolumns = (uint32_t)n;
    ps->columns = proto_arena_alloc(a, sizeof(proto_column) * (size_t)(n + 1));
    ps->pk = proto_arena_alloc(a, sizeof(uint32_t) * PROTO_MAX_PK);
    ps->options = proto_arena_alloc(a, sizeof(proto_option) * (size_t)(nopt + 1));
    if (!ps->columns || !ps->pk || !ps->options)
        return STROM_ENOMEM;
    for (int i = 0; i < n; i++)
        ps->columns[i] = (proto_column){proto_s(strom_schema_col_name(s, i)),
                                        (uint8_t)strom_schema_col_type(s, i),
                                        (uint8_t)!strom_schema_col_nullable(s, i)};
    int pk[PROTO_MAX_PK];
    ps->npk = (uint32_t)strom_schema_primary_key(s, pk, PROTO_MAX_PK);
    for (uint32_t i = 0; i < ps->npk; i++)
        ps->pk[i] = (uint32_t)pk[i];
    ps->noptions = (uint32_t)nopt;
    for (int i = 0; i < nopt; i++)
        ps->options[i] = (proto_option){proto_s(options[2 * i]), proto_s(options[2 * i + 1])};
    return STROM_OK;
}

strom_err strom_client_create_table(strom_client *c, const char *name, const strom_schema *s,
                                    const char *const *options, int if_not_exists)
{
    proto_msg m = {0}, r;
    stc_tmp tmp = {0};
    m.req.create_table.name = proto_s(name);
    m.req.create_table.if_not_exists = (uint8_t)(if_not_exists != 0);
    strom_err e = to_proto_schema(s, options, &tmp.arena, &m.req.create_table.schema);
    if (e == STROM_OK)
        e = stc_roundtrip(c, PROTO_CREATE_TABLE, &m, 0, &tmp.frame, &tmp.arena, &r);
    tmp_free(&tmp);
    return e;
}

strom_err strom_client_drop_table(strom_client *c, const char *name, int if_exists)
{
    proto_msg m = {0}, r;
    stc_tmp tmp = {0};
    m.req.drop_table.name = proto_s(name);
    m.req.drop_table.if_exists = (uint8_t)(if_exists != 0);
    strom_err e = stc_roundtrip(c, PROTO_DROP_TABLE, &m, 0, &tmp.frame, &tmp.arena, &r);
    tmp_free(&tmp);
    return e;
}

strom_err strom_client_list_tables(strom_client *c, const char *database, char ***names,
                                   size_t *n)
{
    *names = NULL;
    *n = 0;
    proto_msg m = {0}, r;
    stc_tmp tmp = {0};
    m.req.list_tables.database = proto_s(database ? database : "");
    strom_err e = stc_roundtrip(c, PROTO_LIST_TABLES, &m, 0, &tmp.frame, &tmp.arena, &r);
    uint32_t cnt = e == STROM_OK ? r.resp.list_tables.nnames : 0;
    char **v = e == STROM_OK ? strom_calloc((size_t)cnt + 1, sizeof *v) : NULL;
    if (e == STROM_OK && !v)
        e = STROM_ENOMEM;
    for (uint32_t i = 0; e == STROM_OK && i < cnt; i++)
        if (!(v[i] = dup_str(r.resp.list_tables.names[i])))
            e = STROM_ENOMEM;
    tmp_free(&tmp);
    if (e != STROM_OK) {
        if (v)
            strom_free_names(v, cnt);
        return e;
    }
    *names = v;
    *n = cnt;
    return STROM_OK;
}

void strom_client_stats_free(strom_stat *stats, size_t n)
{
    for (size_t i = 0; stats && i < n; i++)
        free(stats[i].name);
    free(stats);
}

strom_err strom_client_stats(strom_client *c, const char *table, strom_stat **stats, size_t *n)
{
    *stats = NULL;
    *n = 0;
    proto_msg m = {0}, r;
    stc_tmp tmp = {0};
    m.req.stats.table = proto_s(table ? table : "");
    strom_err e = stc_roundtrip(c, PROTO_STATS, &m, 0, &tmp.frame, &tmp.arena, &r);
    uint32_t cnt = e == STROM_OK ? r.resp.stats.nstats : 0;
    strom_stat *v = e == STROM_OK ? strom_calloc((size_t)cnt + 1, sizeof *v) : NULL;
    if (e == STROM_OK && !v)
        e = STROM_ENOMEM;
    for (uint32_t i = 0; e == STROM_OK && i < cnt; i++) {
        v[i].value = r.resp.stats.stats[i].value;
        if (!(v[i].name = dup_str(r.resp.stats.stats[i].name)))
            e = STROM_ENOMEM;
    }
    tmp_free(&tmp);
    if (e != STROM_OK) {
        strom_client_stats_free(v, cnt);
        return e;
    }
    *stats = v;
    *n = cnt;
    return STROM_OK;
}

strom_err strom_client_list_offset(strom_client *c, const char *table, int bucket, int spec,
                                   int64_t timestamp, int64_t *offset)
{
    proto_msg m = {0}, r;
    stc_tmp tmp = {0};
    int32_t b = bucket;
    m.req.list_offsets.table = proto_s(table);
    m.req.list_offsets.spec = (uint8_t)spec;
    m.req.list_offsets.timestamp = timestamp;
    m.req.list_offsets.nbuckets = 1;
    m.req.list_offsets.buckets = &b;
    strom_err e = stc_roundtrip(c, PROTO_LIST_OFFSETS, &m, 0, &tmp.frame, &tmp.arena, &r);
    if (e == STROM_OK && r.resp.list_offsets.nbuckets != 1)
        e = strom_fail(STROM_EPROTO, "server %s: LIST_OFFSETS: %u buckets in the answer for 1 "
                       "asked", c->server, r.resp.list_offsets.nbuckets);
    if (e == STROM_OK && r.resp.list_offsets.buckets[0].error)
        e = strom_fail((strom_err)r.resp.list_offsets.buckets[0].error, "server %s: LIST_OFFSETS: "
                       "table '%s' bucket %d: %s", c->server, table, bucket,
                       strom_strerror((strom_err)r.resp.list_offsets.buckets[0].error));
    if (e == STROM_OK)
        *offset = r.resp.list_offsets.buckets[0].offset;
    tmp_free(&tmp);
    return e;
}

/* ------------------------------------------------------------ stc_table */

strom_err stc_table_load(strom_client *c, const char *table, stc_table *t)
{
    memset(t, 0, sizeof *t);
    strom_err e = strom_client_table_info(c, table, &t->info);
    const char **kv = NULL;
    if (e == STROM_OK && !(kv = strom_calloc(2 * (size_t)t->info->noptions + 2, sizeof *kv)))
        e = STROM_ENOMEM;
    int k = 0;
    for (int i = 0; e == STROM_OK && i < t->info->noptions; i++)
        if (t->info->options[2 * i + 1][0]) { /* "" = unset: the parser's default */
            kv[k++] = t->info->options[2 * i];
            kv[k++] = t->info->options[2 * i + 1];
        }
    if (e == STROM_OK && (e = cat_opts_parse(kv, t->info->schema, &t->opts)) != STROM_OK)
        strom_fail_wrap(e, "server %s: table '%s': options", c->server, table);
    free(kv);
    if (e == STROM_OK && t->opts.nbuckets != t->info->nbuckets)
        e = strom_fail(STROM_EPROTO, "server %s: table '%s': %d buckets, but bucket.num says %d",
                       c->server, table, t->info->nbuckets, t->opts.nbuckets);
    if (e == STROM_OK && !(t->name = strom_strdup(table)))
        e = STROM_ENOMEM;
    if (e != STROM_OK)
        stc_table_free(t);
    return e;
}

void stc_table_free(stc_table *t)
{
    if (t->info)
        cat_opts_free(&t->opts);
    strom_table_info_free(t->info);
    free(t->name);
    memset(t, 0, sizeof *t);
}

int stc_bucket_of(const stc_table *t, const strom_buf *key)
{
    return fmt_bucket_of(key->data, key->len, t->opts.nbuckets);
}
