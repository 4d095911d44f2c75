/*
 * proto.c: message bodies of the native protocol (layout: proto.h, docs/protocol.md).
 *
 * Each message layout is written once, as a function over a codec context that either
 * encodes (reads the struct, appends bytes) or decodes (reads bytes, fills the struct,
 * validating as it goes). So encoder and decoder cannot disagree about a layout, and
 * every check (enum ranges, counts, primary key indexes) applies to both directions:
 * an encoder refuses with EINVAL what a decoder would refuse with EPROTO.
 */
#include <stdio.h>
#include <stdlib.h>

#include "proto/proto.h"

#define BATCH_MAGIC 0x31425453u
#define BATCH_MIN 88u /* record batch header size */

typedef struct cx {
    int enc;
    strom_buf *out;            /* encode */
    const uint8_t *p;          /* decode */
    size_t len, pos, base;
    proto_arena *arena;
    const char *what;          /* "FETCH_LOG request" */
    strom_err err;
    uint32_t idx[2];           /* indexes of the enclosing array elements, by nesting level */
} cx;

/* Loop over an array's elements, recording the index for messages: the k-th "[]" of a field
 * name is printed as "[idx[k]]" ("buckets[2].preds[0].op"). */
#define EACH(c, lvl, i, n) for (uint32_t i = 0; i < (n) && ((c)->idx[lvl] = i, 1); i++)

#define TRY(x) do { if (x) return -1; } while (0)

static int STROM_PRINTF(3, 4) c_fail(cx *c, const char *field, const char *fmt, ...)
{
    char m[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    char f[96];
    size_t o = 0;
    unsigned k = 0;
    for (const char *q = field; *q && o < sizeof f - 16; q++) {
        if (q[0] == '[' && q[1] == ']' && k < 2) {
            o += (size_t)snprintf(f + o, sizeof f - o, "[%u]", c->idx[k++]);
            q++;
        } else {
            f[o++] = *q;
        }
    }
    f[o] = '\0';
    if (c->enc)
        c->err = strom_fail(STROM_EINVAL, "%s: field '%s': %s", c->what, f, m);
    else
        c->err = strom_fail(STROM_EPROTO, "%s: field '%s' at byte %zu: %s", c->what, f,
                            c->base + c->pos, m);
    return -1;
}

static int c_need(cx *c, size_t n, const char *field)
{
    if (c->len - c->pos < n)
        return c_fail(c, field, "truncated (needs %zu bytes, %zu left)", n, c->len - c->pos);
    return 0;
}

static int c_put(cx *c, const void *p, size_t n)
{
    if (strom_buf_append(c->out, p, n) != STROM_OK) {
        c->err = STROM_ENOMEM;
        return -1;
    }
    return 0;
}

/* Fixed-width little-endian integer of n bytes (the host is little-endian). */
static int c_fixed(cx *c, void *v, size_t n, const char *field)
{
    if (c->enc)
        return c_put(c, v, n);
    TRY(c_need(c, n, field));
    memcpy(v, c->p + c->pos, n);
    c->pos += n;
    return 0;
}

/* u8 in [0, max]. */
static int c_u8(cx *c, uint8_t *v, unsigned max, const char *field)
{
    if (c->enc && *v > max)
        return c_fail(c, field, "%u is out of range 0..%u", *v, max);
    TRY(c_fixed(c, v, 1, field));
    if (*v > max) {
        c->pos--;
        return c_fail(c, field, "%u is out of range 0..%u", *v, max);
    }
    return 0;
}

static int c_i16(cx *c, int16_t *v, const char *field) { return c_fixed(c, v, 2, field); }
static int c_i64(cx *c, int64_t *v, const char *field) { return c_fixed(c, v, 8, field); }

/* i32 >= min. */
static int c_i32(cx *c, int32_t *v, int32_t min, const char *field)
{
    if (c->enc && *v < min)
        return c_fail(c, field, "%d is below %d", *v, min);
    TRY(c_fixed(c, v, 4, field));
    if (*v < min) {
        c->pos -= 4;
        return c_fail(c, field, "%d is below %d", *v, min);
    }
    return 0;
}

static int c_uv(cx *c, uint64_t *v, const char *field)
{
    if (c->enc) {
        uint8_t b[10];
        return c_put(c, b, strom_put_uvarint(b, *v));
    }
    size_t n = strom_get_uvarint(c->p + c->pos, c->len - c->pos, v);
    if (n == 0)
        return c_fail(c, field, "truncated or overlong varint");
    c->pos += n;
    return 0;
}

/* A count in [min, max]; when decoding also at most (bytes left / minelem), so that a
 * small frame cannot ask for a huge array. */
static int c_count(cx *c, uint32_t *n, uint32_t min, uint32_t max, size_t minelem,
                   const char *field)
{
    uint64_t v = *n;
    size_t at = c->pos;
    if (c->enc && (v < min || v > max))
        return c_fail(c, field, "count %llu is out of range %u..%u", (unsigned long long)v, min, max);
    TRY(c_uv(c, &v, field));
    if (c->enc)
        return 0;
    if (v < min || v > max) {
        c->pos = at;
        return c_fail(c, field, "count %llu is out of range %u..%u", (unsigned long long)v, min, max);
    }
    size_t left = c->len - c->pos;
    if (minelem && v > left / minelem) {
        c->pos = at;
        return c_fail(c, field, "count %llu needs more bytes than the %zu left",
                      (unsigned long long)v, left);
    }
    *n = (uint32_t)v;
    return 0;
}

/* Decoding: *arr = arena array of n elements of size sz (zeroed). Encoding: nothing. */
static int c_arr(cx *c, void *arr, uint32_t n, size_t sz)
{
    if (c->enc)
        return 0;
    void *a = NULL;
    if (n) {
        a = proto_arena_alloc(c->arena, (size_t)n * sz);
        if (!a) {
            c->err = STROM_ENOMEM;
            return -1;
        }
        memset(a, 0, (size_t)n * sz);
    }
    memcpy(arr, &a, sizeof a);
    return 0;
}

static int c_str(cx *c, proto_str *s, const char *field)
{
    uint32_t n = s->len;
    TRY(c_count(c, &n, 0, PROTO_MAX_STR, 1, field));
    if (c->enc)
        return n ? c_put(c, s->p, n) : 0;
    s->p = (const char *)c->p + c->pos;
    s->len = n;
    c->pos += n;
    return 0;
}

static int c_value(cx *c, strom_value *v, const char *field)
{
    uint8_t t = (uint8_t)v->type, isnull = (uint8_t)(v->is_null != 0);
    size_t at = c->pos;
    TRY(c_u8(c, &t, STROM_TIMESTAMP, field));
    if (t < STROM_BOOLEAN) {
        c->pos = at;
        return c_fail(c, field, "type %u is not a strom_type", t);
    }
    TRY(c_u8(c, &isnull, 1, field));
    v->type = (strom_type)t;
    v->is_null = isnull;
    if (isnull)
        return 0;
    switch (v->type) {
    case STROM_FLOAT:
    case STROM_DOUBLE:
        return c_fixed(c, &v->v.d, 8, field);
    case STROM_STRING:
    case STROM_BYTES: {
        proto_str s = {v->v.s.ptr, (uint32_t)v->v.s.len};
        if (c->enc && v->v.s.len > PROTO_MAX_STR)
            return c_fail(c, field, "string of %zu bytes is over %u", v->v.s.len, PROTO_MAX_STR);
        TRY(c_str(c, &s, field));
        v->v.s.ptr = s.p;
        v->v.s.len = s.len;
        return 0;
    }
    default: {
        uint64_t z = strom_zigzag(v->v.i);
        TRY(c_uv(c, &z, field));
        v->v.i = strom_unzigzag(z);
        if (v->type == STROM_BOOLEAN && (v->v.i < 0 || v->v.i > 1))
            return c_fail(c, field, "boolean %lld is not 0 or 1", (long long)v->v.i);
        if (v->type == STROM_INT && (v->v.i < INT32_MIN || v->v.i > INT32_MAX))
            return c_fail(c, field, "INT %lld is out of int32 range", (long long)v->v.i);
        return 0;
    }
    }
}

/* Walks the batches tiling [p, p+n): counts them and, if views != NULL, fills views.
 * Returns the byte index of the first bad batch's problem via *bad and a reason. */
static const char *walk_batches(const uint8_t *p, size_t n, uint32_t *count, proto_bytes *views,
                                size_t *bad)
{
    size_t at = 0;
    uint32_t k = 0;
    while (at < n) {
        *bad = at;
        if (n - at < BATCH_MIN)
            return "batch shorter than its 88-byte header";
        size_t sz = 12 + (size_t)strom_get_u32(p + at + 8);
        if (strom_get_u32(p + at + 12) != BATCH_MAGIC)
            return "batch magic is not \"STB1\"";
        if (sz < BATCH_MIN || sz > n - at) {
            *bad = at + 8;
            return "batch length field does not fit the records";
        }
        if (views)
            views[k] = (proto_bytes){p + at, (uint32_t)sz};
        k++;
        at += sz;
    }
    *count = k;
    return NULL;
}

static int c_records(cx *c, proto_records *r, const char *field)
{
    uint32_t n = r->bytes.len;
    TRY(c_fixed(c, &n, 4, field));
    const uint8_t *p = c->enc ? r->bytes.p : c->p + c->pos;
    if (!c->enc && n > c->len - c->pos) {
        c->pos -= 4;
        return c_fail(c, field, "records of %u bytes, only %zu left", n, c->len - c->pos - 4);
    }
    uint32_t count = 0;
    size_t bad = 0;
    const char *why = walk_batches(p, n, &count, NULL, &bad);
    if (why) {
        if (c->enc)
            return c_fail(c, field, "%s (byte %zu of the records)", why, bad);
        c->pos += bad;
        return c_fail(c, field, "%s", why);
    }
    if (c->enc)
        return n ? c_put(c, p, n) : 0;
    r->bytes = (proto_bytes){p, n};
    r->nbatches = count;
    TRY(c_arr(c, &r->batches, count, sizeof(proto_bytes)));
    walk_batches(p, n, &count, r->batches, &bad);
    c->pos += n;
    return 0;
}

static int c_names(cx *c, uint32_t *n, proto_str **arr, uint32_t max, const char *field)
{
    TRY(c_count(c, n, 0, max, 1, field));
    TRY(c_arr(c, arr, *n, sizeof(proto_str)));
    for (uint32_t i = 0; i < *n; i++)
        TRY(c_str(c, &(*arr)[i], field));
    return 0;
}

static int c_key(cx *c, proto_key *k, const char *field)
{
    TRY(c_count(c, &k->nvalues, 1, PROTO_MAX_PK, 2, field));
    TRY(c_arr(c, &k->values, k->nvalues, sizeof(strom_value)));
    for (uint32_t i = 0; i < k->nvalues; i++)
        TRY(c_value(c, &k->values[i], field));
    return 0;
}

static int c_schema(cx *c, proto_schema *s)
{
    TRY(c_count(c, &s->ncolumns, 0, PROTO_MAX_COLUMNS, 3, "columns"));
    TRY(c_arr(c, &s->columns, s->ncolumns, sizeof(proto_column)));
    EACH(c, 0, i, s->ncolumns) {
        proto_column *col = &s->columns[i];
        size_t at;
        TRY(c_str(c, &col->name, "columns[].name"));
        at = c->pos;
        TRY(c_u8(c, &col->type, STROM_TIMESTAMP, "columns[].type"));
        if (col->type < STROM_BOOLEAN) {
            c->pos = at;
            return c_fail(c, "columns[].type", "type %u is not a strom_type", col->type);
        }
        TRY(c_u8(c, &col->not_null, 1, "columns[].not_null"));
    }
    TRY(c_count(c, &s->npk, 0, PROTO_MAX_PK, 1, "primary_key"));
    TRY(c_arr(c, &s->pk, s->npk, sizeof(uint32_t)));
    EACH(c, 0, i, s->npk) {
        size_t at = c->pos;
        TRY(c_count(c, &s->pk[i], 0, s->ncolumns ? s->ncolumns - 1 : 0, 0, "primary_key[]"));
        int dup = s->ncolumns == 0;
        for (uint32_t j = 0; j < i; j++)
            dup |= s->pk[j] == s->pk[i];
        if (dup) {
            c->pos = at;
            return c_fail(c, "primary_key[]", "column %u repeated or out of range", s->pk[i]);
        }
    }
    TRY(c_count(c, &s->noptions, 0, PROTO_MAX_OPTIONS, 2, "options"));
    TRY(c_arr(c, &s->options, s->noptions, sizeof(proto_option)));
    EACH(c, 0, i, s->noptions) {
        TRY(c_str(c, &s->options[i].key, "options[].key"));
        TRY(c_str(c, &s->options[i].value, "options[].value"));
    }
    return 0;
}

/* ------------------------------------------------------------ the bodies */

static int req_empty(cx *c, proto_msg *m) { (void)c; (void)m; return 0; }

static int req_create_table(cx *c, proto_msg *m)
{
    TRY(c_str(c, &m->req.create_table.name, "name"));
    TRY(c_schema(c, &m->req.create_table.schema));
    return c_u8(c, &m->req.create_table.if_not_exists, 1, "if_not_exists");
}

static int req_drop_table(cx *c, proto_msg *m)
{
    TRY(c_str(c, &m->req.drop_table.name, "name"));
    return c_u8(c, &m->req.drop_table.if_exists, 1, "if_exists");
}

static int req_list_tables(cx *c, proto_msg *m) { return c_str(c, &m->req.list_tables.database, "database"); }
static int req_table_info(cx *c, proto_msg *m) { return c_str(c, &m->req.get_table_info.name, "name"); }
static int req_stats(cx *c, proto_msg *m) { return c_str(c, &m->req.stats.table, "table"); }

static int req_produce(cx *c, proto_msg *m)
{
    TRY(c_str(c, &m->req.produce.table, "table"));
    TRY(c_i32(c, &m->req.produce.bucket, 0, "bucket"));
    TRY(c_u8(c, &m->req.produce.acks, PROTO_ACKS_DURABLE, "acks"));
    return c_records(c, &m->req.produce.records, "records");
}

/* PRODUCE_LOG's layout, then the target columns of a partial update. */
static int req_put_kv(cx *c, proto_msg *m)
{
    TRY(req_produce(c, m));
    return c_names(c, &m->req.produce.ncolumns, &m->req.produce.columns, PROTO_MAX_COLUMNS, "columns");
}

static int req_create_database(cx *c, proto_msg *m)
{
    TRY(c_str(c, &m->req.create_database.name, "name"));
    return c_u8(c, &m->req.create_database.if_not_exists, 1, "if_not_exists");
}

static int req_drop_database(cx *c, proto_msg *m)
{
    TRY(c_str(c, &m->req.drop_database.name, "name"));
    TRY(c_u8(c, &m->req.drop_database.if_exists, 1, "if_exists"));
    return c_u8(c, &m->req.drop_database.cascade, 1, "cascade");
}

static int req_fetch(cx *c, proto_msg *m)
{
    TRY(c_str(c, &m->req.fetch.table, "table"));
    TRY(c_i32(c, &m->req.fetch.max_wait_ms, 0, "max_wait_ms"));
    TRY(c_i32(c, &m->req.fetch.min_bytes, 0, "min_bytes"));
    TRY(c_count(c, &m->req.fetch.nbuckets, 0, PROTO_MAX_BUCKETS, 18, "buckets"));
    TRY(c_arr(c, &m->req.fetch.buckets, m->req.fetch.nbuckets, sizeof(proto_fetch_bucket)));
    EACH(c, 0, i, m->req.fetch.nbuckets) {
        proto_fetch_bucket *b = &m->req.fetch.buckets[i];
        TRY(c_i32(c, &b->bucket, 0, "buckets[].bucket"));
        TRY(c_i64(c, &b->offset, "buckets[].offset"));
        TRY(c_i32(c, &b->max_bytes, 0, "buckets[].max_bytes"));
        TRY(c_names(c, &b->ncolumns, &b->columns, PROTO_MAX_COLUMNS, "buckets[].columns"));
        TRY(c_count(c, &b->npreds, 0, PROTO_MAX_PREDS, 4, "buckets[].preds"));
        TRY(c_arr(c, &b->preds, b->npreds, sizeof(proto_pred)));
        EACH(c, 1, j, b->npreds) {
            TRY(c_str(c, &b->preds[j].column, "buckets[].preds[].column"));
            TRY(c_u8(c, &b->preds[j].op, STROM_OP_GE, "buckets[].preds[].op"));
            TRY(c_value(c, &b->preds[j].value, "buckets[].preds[].value"));
        }
    }
    return 0;
}

static int req_list_offsets(cx *c, proto_msg *m)
{
    TRY(c_str(c, &m->req.list_offsets.table, "table"));
    TRY(c_u8(c, &m->req.list_offsets.spec, PROTO_OFFSET_TIMESTAMP, "spec"));
    TRY(c_i64(c, &m->req.list_offsets.timestamp, "timestamp"));
    TRY(c_count(c, &m->req.list_offsets.nbuckets, 0, PROTO_MAX_BUCKETS, 4, "buckets"));
    TRY(c_arr(c, &m->req.list_offsets.buckets, m->req.list_offsets.nbuckets, sizeof(int32_t)));
    EACH(c, 0, i, m->req.list_offsets.nbuckets)
        TRY(c_i32(c, &m->req.list_offsets.buckets[i], 0, "buckets[]"));
    return 0;
}

static int req_lookup(cx *c, proto_msg *m)
{
    TRY(c_str(c, &m->req.lookup.table, "table"));
    TRY(c_i32(c, &m->req.lookup.bucket, 0, "bucket"));
    TRY(c_u8(c, &m->req.lookup.has_as_of, 1, "has_as_of"));
    TRY(c_i64(c, &m->req.lookup.as_of, "as_of"));
    TRY(c_names(c, &m->req.lookup.ncolumns, &m->req.lookup.columns, PROTO_MAX_COLUMNS, "columns"));
    TRY(c_count(c, &m->req.lookup.nkeys, 0, PROTO_MAX_KEYS, 3, "keys"));
    TRY(c_arr(c, &m->req.lookup.keys, m->req.lookup.nkeys, sizeof(proto_key)));
    EACH(c, 0, i, m->req.lookup.nkeys)
        TRY(c_key(c, &m->req.lookup.keys[i], "keys[]"));
    return 0;
}

static int req_prefix_lookup(cx *c, proto_msg *m)
{
    TRY(c_str(c, &m->req.prefix_lookup.table, "table"));
    TRY(c_i32(c, &m->req.prefix_lookup.bucket, 0, "bucket"));
    TRY(c_key(c, &m->req.prefix_lookup.prefix, "prefix"));
    TRY(c_names(c, &m->req.prefix_lookup.ncolumns, &m->req.prefix_lookup.columns,
                PROTO_MAX_COLUMNS, "columns"));
    return c_i32(c, &m->req.prefix_lookup.limit, 0, "limit");
}

static int req_scan_kv(cx *c, proto_msg *m)
{
    TRY(c_str(c, &m->req.scan_kv.table, "table"));
    TRY(c_i32(c, &m->req.scan_kv.bucket, 0, "bucket"));
    TRY(c_names(c, &m->req.scan_kv.ncolumns, &m->req.scan_kv.columns, PROTO_MAX_COLUMNS, "columns"));
    TRY(c_i32(c, &m->req.scan_kv.limit, 0, "limit"));
    return c_str(c, &m->req.scan_kv.resume, "resume");
}

static int req_key_history(cx *c, proto_msg *m)
{
    TRY(c_str(c, &m->req.key_history.table, "table"));
    TRY(c_key(c, &m->req.key_history.key, "key"));
    TRY(c_i64(c, &m->req.key_history.at_or_before, "at_or_before"));
    size_t at = c->pos;
    TRY(c_i32(c, &m->req.key_history.n, 1, "n"));
    if (m->req.key_history.n > PROTO_MAX_HISTORY) {
        if (!c->enc)
            c->pos = at;
        return c_fail(c, "n", "%d is over %d", m->req.key_history.n, PROTO_MAX_HISTORY);
    }
    return c_names(c, &m->req.key_history.ncolumns, &m->req.key_history.columns,
                   PROTO_MAX_COLUMNS, "columns");
}

/* text: u32 byte length (<= max), then the bytes. */
static int c_text(cx *c, proto_bytes *t, uint32_t max, const char *field)
{
    uint32_t n = t->len;
    if (c->enc && n > max)
        return c_fail(c, field, "%u bytes is over %u", n, max);
    TRY(c_fixed(c, &n, 4, field));
    if (c->enc)
        return n ? c_put(c, t->p, n) : 0;
    if (n > max || n > c->len - c->pos) {
        c->pos -= 4;
        return n > max ? c_fail(c, field, "%u bytes is over %u", n, max)
                       : c_fail(c, field, "text of %u bytes, only %zu left", n, c->len - c->pos - 4);
    }
    t->p = c->p + c->pos;
    t->len = n;
    c->pos += n;
    return 0;
}

static int req_execute_sql(cx *c, proto_msg *m)
{
    TRY(c_text(c, &m->req.execute_sql.sql, PROTO_MAX_SQL, "sql"));
    TRY(c_count(c, &m->req.execute_sql.nsettings, 0, PROTO_MAX_SETTINGS, 2, "settings"));
    TRY(c_arr(c, &m->req.execute_sql.settings, m->req.execute_sql.nsettings, sizeof(proto_option)));
    EACH(c, 0, i, m->req.execute_sql.nsettings) {
        TRY(c_str(c, &m->req.execute_sql.settings[i].key, "settings[].key"));
        TRY(c_str(c, &m->req.execute_sql.settings[i].value, "settings[].value"));
    }
    return c_i32(c, &m->req.execute_sql.max_rows, 0, "max_rows");
}

static int c_cursor(cx *c, int64_t *v)
{
    if (c->enc && *v < 1)
        return c_fail(c, "cursor", "%lld is below 1", (long long)*v);
    TRY(c_i64(c, v, "cursor"));
    if (*v < 1) {
        c->pos -= 8;
        return c_fail(c, "cursor", "%lld is below 1", (long long)*v);
    }
    return 0;
}

static int req_fetch_sql(cx *c, proto_msg *m)
{
    TRY(c_cursor(c, &m->req.fetch_sql.cursor));
    TRY(c_i32(c, &m->req.fetch_sql.max_rows, 0, "max_rows"));
    return c_i32(c, &m->req.fetch_sql.max_wait_ms, 0, "max_wait_ms");
}

static int req_cancel_sql(cx *c, proto_msg *m) { return c_cursor(c, &m->req.fetch_sql.cursor); }

static int resp_empty(cx *c, proto_msg *m) { (void)c; (void)m; return 0; }

static int resp_execute_sql(cx *c, proto_msg *m)
{
    TRY(c_i64(c, &m->resp.execute_sql.cursor, "cursor"));
    if (m->resp.execute_sql.cursor < 0) {
        if (!c->enc)
            c->pos -= 8;
        return c_fail(c, "cursor", "%lld is negative", (long long)m->resp.execute_sql.cursor);
    }
    TRY(c_names(c, &m->resp.execute_sql.ncolumns, &m->resp.execute_sql.columns, PROTO_MAX_COLUMNS,
                "columns"));
    TRY(c_i64(c, &m->resp.execute_sql.changes, "changes"));
    TRY(c_records(c, &m->resp.execute_sql.records, "records"));
    return c_u8(c, &m->resp.execute_sql.done, 1, "done");
}

static int resp_fetch_sql(cx *c, proto_msg *m)
{
    TRY(c_records(c, &m->resp.fetch_sql.records, "records"));
    return c_u8(c, &m->resp.fetch_sql.done, 1, "done");
}

static int resp_api_versions(cx *c, proto_msg *m)
{
    TRY(c_count(c, &m->resp.api_versions.napis, 0, 32767, 6, "apis"));
    TRY(c_arr(c, &m->resp.api_versions.apis, m->resp.api_versions.napis, sizeof(proto_api_range)));
    EACH(c, 0, i, m->resp.api_versions.napis) {
        proto_api_range *a = &m->resp.api_versions.apis[i];
        TRY(c_i16(c, &a->key, "apis[].key"));
        TRY(c_i16(c, &a->min_ver, "apis[].min_ver"));
        TRY(c_i16(c, &a->max_ver, "apis[].max_ver"));
        if (a->min_ver < 0 || a->max_ver < a->min_ver) {
            if (!c->enc)
                c->pos -= 4;
            return c_fail(c, "apis[].min_ver", "bad range %d..%d", a->min_ver, a->max_ver);
        }
    }
    return 0;
}

static int resp_table_info(cx *c, proto_msg *m)
{
    TRY(c_str(c, &m->resp.table_info.name, "name"));
    TRY(c_i32(c, &m->resp.table_info.schema_id, 0, "schema_id"));
    TRY(c_i32(c, &m->resp.table_info.buckets, 1, "buckets"));
    return c_schema(c, &m->resp.table_info.schema);
}

static int resp_list_tables(cx *c, proto_msg *m)
{
    return c_names(c, &m->resp.list_tables.nnames, &m->resp.list_tables.names, PROTO_MAX_NAMES, "names");
}

static int resp_produce(cx *c, proto_msg *m)
{
    TRY(c_i32(c, &m->resp.produce.bucket, 0, "bucket"));
    TRY(c_i64(c, &m->resp.produce.first_offset, "first_offset"));
    TRY(c_i64(c, &m->resp.produce.last_offset, "last_offset"));
    return c_i64(c, &m->resp.produce.high_watermark, "high_watermark");
}

static int resp_fetch(cx *c, proto_msg *m)
{
    TRY(c_count(c, &m->resp.fetch.nbuckets, 0, PROTO_MAX_BUCKETS, 26, "buckets"));
    TRY(c_arr(c, &m->resp.fetch.buckets, m->resp.fetch.nbuckets, sizeof(proto_fetch_result)));
    EACH(c, 0, i, m->resp.fetch.nbuckets) {
        proto_fetch_result *b = &m->resp.fetch.buckets[i];
        TRY(c_i32(c, &b->bucket, 0, "buckets[].bucket"));
        TRY(c_i16(c, &b->error, "buckets[].error"));
        TRY(c_i64(c, &b->high_watermark, "buckets[].high_watermark"));
        TRY(c_i64(c, &b->log_start_offset, "buckets[].log_start_offset"));
        TRY(c_records(c, &b->records, "buckets[].records"));
    }
    return 0;
}

static int resp_list_offsets(cx *c, proto_msg *m)
{
    TRY(c_count(c, &m->resp.list_offsets.nbuckets, 0, PROTO_MAX_BUCKETS, 14, "buckets"));
    TRY(c_arr(c, &m->resp.list_offsets.buckets, m->resp.list_offsets.nbuckets,
              sizeof(proto_offset_result)));
    EACH(c, 0, i, m->resp.list_offsets.nbuckets) {
        proto_offset_result *b = &m->resp.list_offsets.buckets[i];
        TRY(c_i32(c, &b->bucket, 0, "buckets[].bucket"));
        TRY(c_i16(c, &b->error, "buckets[].error"));
        TRY(c_i64(c, &b->offset, "buckets[].offset"));
    }
    return 0;
}

static int resp_lookup(cx *c, proto_msg *m)
{
    TRY(c_count(c, &m->resp.lookup.nfound, 0, PROTO_MAX_KEYS, 1, "found"));
    TRY(c_arr(c, &m->resp.lookup.found, m->resp.lookup.nfound, 1));
    EACH(c, 0, i, m->resp.lookup.nfound)
        TRY(c_u8(c, &m->resp.lookup.found[i], 1, "found[]"));
    return c_records(c, &m->resp.lookup.records, "records");
}

static int resp_records(cx *c, proto_msg *m)
{
    /* prefix_lookup and key_history: records only (same position in the union). */
    return c_records(c, &m->resp.prefix_lookup.records, "records");
}

static int resp_scan_kv(cx *c, proto_msg *m)
{
    TRY(c_records(c, &m->resp.scan_kv.records, "records"));
    TRY(c_u8(c, &m->resp.scan_kv.more, 1, "more"));
    TRY(c_str(c, &m->resp.scan_kv.resume, "resume"));
    return c_i64(c, &m->resp.scan_kv.snapshot_offset, "snapshot_offset");
}

static int resp_stats(cx *c, proto_msg *m)
{
    TRY(c_count(c, &m->resp.stats.nstats, 0, PROTO_MAX_NAMES, 9, "stats"));
    TRY(c_arr(c, &m->resp.stats.stats, m->resp.stats.nstats, sizeof(proto_stat)));
    EACH(c, 0, i, m->resp.stats.nstats) {
        TRY(c_str(c, &m->resp.stats.stats[i].name, "stats[].name"));
        TRY(c_i64(c, &m->resp.stats.stats[i].value, "stats[].value"));
    }
    return 0;
}

typedef int (*codec_fn)(cx *c, proto_msg *m);
static const struct api_def {
    const char *name;
    int max_version;
    codec_fn req, resp;
} apis[PROTO_API_COUNT] = {
    [PROTO_API_VERSIONS] = {"API_VERSIONS", 0, req_empty, resp_api_versions},
    [PROTO_CREATE_TABLE] = {"CREATE_TABLE", 0, req_create_table, resp_empty},
    [PROTO_DROP_TABLE] = {"DROP_TABLE", 0, req_drop_table, resp_empty},
    [PROTO_LIST_TABLES] = {"LIST_TABLES", 0, req_list_tables, resp_list_tables},
    [PROTO_GET_TABLE_INFO] = {"GET_TABLE_INFO", 0, req_table_info, resp_table_info},
    [PROTO_PRODUCE_LOG] = {"PRODUCE_LOG", 0, req_produce, resp_produce},
    [PROTO_FETCH_LOG] = {"FETCH_LOG", 0, req_fetch, resp_fetch},
    [PROTO_LIST_OFFSETS] = {"LIST_OFFSETS", 0, req_list_offsets, resp_list_offsets},
    [PROTO_PUT_KV] = {"PUT_KV", 0, req_put_kv, resp_produce},
    [PROTO_LOOKUP] = {"LOOKUP", 0, req_lookup, resp_lookup},
    [PROTO_PREFIX_LOOKUP] = {"PREFIX_LOOKUP", 0, req_prefix_lookup, resp_records},
    [PROTO_SCAN_KV] = {"SCAN_KV", 0, req_scan_kv, resp_scan_kv},
    [PROTO_KEY_HISTORY] = {"KEY_HISTORY", 0, req_key_history, resp_records},
    [PROTO_STATS] = {"STATS", 0, req_stats, resp_stats},
    [PROTO_CREATE_DATABASE] = {"CREATE_DATABASE", 0, req_create_database, resp_empty},
    [PROTO_DROP_DATABASE] = {"DROP_DATABASE", 0, req_drop_database, resp_empty},
    [PROTO_LIST_DATABASES] = {"LIST_DATABASES", 0, req_empty, resp_list_tables},
    [PROTO_EXECUTE_SQL] = {"EXECUTE_SQL", 0, req_execute_sql, resp_execute_sql},
    [PROTO_FETCH_SQL] = {"FETCH_SQL", 0, req_fetch_sql, resp_fetch_sql},
    [PROTO_CANCEL_SQL] = {"CANCEL_SQL", 0, req_cancel_sql, resp_empty},
};

const char *proto_api_name(int api_key)
{
    return api_key >= 0 && api_key < PROTO_API_COUNT ? apis[api_key].name : NULL;
}

int proto_api_max_version(int api_key)
{
    return api_key >= 0 && api_key < PROTO_API_COUNT ? apis[api_key].max_version : -1;
}

strom_err proto_check_api(int api_key, int api_version)
{
    if (api_key < 0 || api_key >= PROTO_API_COUNT)
        return strom_fail(STROM_EUNSUPPORTED, "unknown api key %d (known: 0..%d)", api_key,
                          PROTO_API_COUNT - 1);
    if (api_version < 0 || api_version > apis[api_key].max_version)
        return strom_fail(STROM_EUNSUPPORTED, "api %s version %d is not supported (0..%d)",
                          apis[api_key].name, api_version, apis[api_key].max_version);
    return STROM_OK;
}

int proto_str_eq(proto_str a, const char *s)
{
    size_t n = strlen(s);
    return a.len == n && (n == 0 || memcmp(a.p, s, n) == 0);
}

/* ---------------------------------------------------------------- encode */

static strom_err encode(strom_buf *out, int api, int resp, const proto_msg *m, size_t hdr_start)
{
    char what[48];
    snprintf(what, sizeof what, "%s %s", apis[api].name, resp ? "response" : "request");
    cx c = {.enc = 1, .out = out, .what = what};
    codec_fn fn = resp ? apis[api].resp : apis[api].req;
    if (fn(&c, (proto_msg *)m) != 0) {
        out->len = hdr_start;
        return c.err ? c.err : STROM_EINVAL;
    }
    size_t flen = out->len - hdr_start - 4;
    if (flen > PROTO_MAX_FRAME) {
        out->len = hdr_start;
        return strom_fail(STROM_ELIMIT, "%s: frame of %zu bytes is over the limit of %u", what,
                          flen, PROTO_MAX_FRAME);
    }
    strom_put_u32(out->data + hdr_start, (uint32_t)flen);
    return STROM_OK;
}

strom_err proto_encode_request(strom_buf *out, int api, int version, int32_t request_id,
                               const proto_msg *m)
{
    strom_err e = proto_check_api(api, version);
    if (e)
        return strom_fail(STROM_EINVAL, "%s", strom_errmsg());
    size_t start = out->len;
    uint8_t *h = strom_buf_grow(out, PROTO_REQ_HDR);
    if (!h)
        return STROM_ENOMEM;
    strom_put_u16(h + 4, (uint16_t)api);
    strom_put_u16(h + 6, (uint16_t)version);
    strom_put_u32(h + 8, (uint32_t)request_id);
    return encode(out, api, 0, m, start);
}

strom_err proto_encode_response(strom_buf *out, int api, int version, int32_t request_id,
                                strom_err err, const char *errmsg, const proto_msg *m)
{
    size_t start = out->len;
    if (err == STROM_OK && proto_check_api(api, version) != STROM_OK)
        return strom_fail(STROM_EINVAL, "%s", strom_errmsg());
    size_t mlen = errmsg ? strnlen(errmsg, PROTO_MAX_STR) : 0;
    uint8_t *h = strom_buf_grow(out, 10 + 3 + mlen);
    if (!h)
        return STROM_ENOMEM;
    strom_put_u32(h + 4, (uint32_t)request_id);
    strom_put_u16(h + 8, (uint16_t)(int16_t)err);
    size_t vl = strom_put_uvarint(h + 10, mlen);
    memcpy(h + 10 + vl, errmsg ? errmsg : "", mlen);
    out->len = start + 10 + vl + mlen;
    if (err != STROM_OK) {
        strom_put_u32(out->data + start, (uint32_t)(out->len - start - 4));
        return STROM_OK;
    }
    return encode(out, api, 1, m, start);
}

/* ---------------------------------------------------------------- decode */

static strom_err decode(int api, int version, int resp, const uint8_t *body, size_t len,
                        size_t body_off, proto_arena *arena, proto_msg *m)
{
    strom_err e = proto_check_api(api, version);
    if (e)
        return e;
    char what[48];
    snprintf(what, sizeof what, "%s %s", apis[api].name, resp ? "response" : "request");
    memset(m, 0, sizeof *m);
    cx c = {.p = body, .len = len, .base = body_off, .arena = arena, .what = what};
    codec_fn fn = resp ? apis[api].resp : apis[api].req;
    if (fn(&c, m) != 0)
        return c.err ? c.err : STROM_EPROTO;
    if (c.pos != len) {
        c_fail(&c, "(end)", "%zu trailing bytes after the body", len - c.pos);
        return c.err;
    }
    return STROM_OK;
}

strom_err proto_decode_request(int api, int version, const uint8_t *body, size_t len,
                               size_t body_off, proto_arena *arena, proto_msg *m)
{
    return decode(api, version, 0, body, len, body_off, arena, m);
}

strom_err proto_decode_response(int api, int version, const uint8_t *body, size_t len,
                                size_t body_off, proto_arena *arena, proto_msg *m)
{
    return decode(api, version, 1, body, len, body_off, arena, m);
}

strom_err proto_parse_request(const uint8_t *frame, size_t len, proto_req_hdr *h)
{
    if (len < PROTO_REQ_HDR)
        return strom_fail(STROM_EPROTO, "request frame: field 'length' at byte 0: frame of %zu "
                          "bytes is shorter than the 12-byte header", len);
    uint32_t flen = strom_get_u32(frame);
    if ((size_t)flen + 4 != len)
        return strom_fail(STROM_EPROTO, "request frame: field 'length' at byte 0: says %u, "
                          "frame has %zu bytes after it", flen, len - 4);
    h->api_key = (int16_t)strom_get_u16(frame + 4);
    h->api_version = (int16_t)strom_get_u16(frame + 6);
    h->request_id = (int32_t)strom_get_u32(frame + 8);
    h->body = frame + PROTO_REQ_HDR;
    h->body_len = len - PROTO_REQ_HDR;
    return STROM_OK;
}

strom_err proto_parse_response(const uint8_t *frame, size_t len, proto_resp_hdr *h)
{
    if (len < 11)
        return strom_fail(STROM_EPROTO, "response frame: field 'length' at byte 0: frame of "
                          "%zu bytes is shorter than the 11-byte minimum", len);
    uint32_t flen = strom_get_u32(frame);
    if ((size_t)flen + 4 != len)
        return strom_fail(STROM_EPROTO, "response frame: field 'length' at byte 0: says %u, "
                          "frame has %zu bytes after it", flen, len - 4);
    cx c = {.p = frame, .len = len, .pos = 8, .what = "response frame"};
    h->request_id = (int32_t)strom_get_u32(frame + 4);
    if (c_i16(&c, &h->error, "error") != 0)
        return c.err;
    if (h->error < 0) {
        c.pos -= 2;
        c_fail(&c, "error", "negative error code %d", h->error);
        return c.err;
    }
    if (c_str(&c, &h->errmsg, "error_message") != 0)
        return c.err;
    h->body = frame + c.pos;
    h->body_len = len - c.pos;
    if (h->error != 0 && h->body_len != 0) {
        c_fail(&c, "body", "an error response carries %zu body bytes", h->body_len);
        return c.err;
    }
    return STROM_OK;
}

/* ------------------------------------------------------------- the arena */

struct proto_arena_blk {
    proto_arena_blk *next;
    size_t cap, used;
    _Alignas(16) uint8_t data[];
};

void *proto_arena_alloc(proto_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    proto_arena_blk *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = b ? b->cap * 2 : 4096;
        while (cap < n)
            cap *= 2;
        proto_arena_blk *nb = strom_malloc(sizeof *nb + cap);
        if (!nb)
            return NULL;
        nb->next = b;
        nb->cap = cap;
        nb->used = 0;
        a->head = b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

void proto_arena_reset(proto_arena *a)
{
    /* The head is the newest and largest block: keep it, free the rest. */
    proto_arena_blk *b = a->head;
    if (!b)
        return;
    for (proto_arena_blk *o = b->next, *n; o; o = n) {
        n = o->next;
        free(o);
    }
    b->next = NULL;
    b->used = 0;
}

void proto_arena_free(proto_arena *a)
{
    proto_arena_reset(a);
    free(a->head);
    a->head = NULL;
}
