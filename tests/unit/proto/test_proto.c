/* test_proto.c: the wire protocol codec (src/proto). Every request and response with
 * random contents is encoded into a frame, cut back into frames by the frame reader (fed
 * in random pieces), decoded and compared field by field with the original; every
 * truncation of every encoded body is rejected with EPROTO and a message; counts and
 * frames over the limits, bad enums and trailing bytes are rejected; unknown api keys and
 * versions are reported as EUNSUPPORTED; the arena is reused without new allocations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static uint32_t rn(uint32_t n) { return n ? (uint32_t)(rnd() % n) : 0; }

static char pool[4096];
static proto_str rstr(void)
{
    uint32_t len = rn(4) == 0 ? 0 : rn(40);
    return (proto_str){pool + rn(sizeof pool - 64), len};
}

static strom_value rvalue(void)
{
    strom_value v = {.type = (strom_type)(1 + rn(8)), .is_null = rn(5) == 0};
    if (v.is_null)
        return v;
    switch (v.type) {
    case STROM_BOOLEAN: v.v.i = rn(2); break;
    case STROM_INT: v.v.i = (int32_t)rnd(); break;
    case STROM_FLOAT: case STROM_DOUBLE: v.v.d = (double)(int64_t)rnd() / 7.0; break;
    case STROM_STRING: case STROM_BYTES: {
        proto_str s = rstr();
        v.v.s.ptr = s.p;
        v.v.s.len = s.len;
        break;
    }
    default: v.v.i = (int64_t)rnd(); break;
    }
    return v;
}

static proto_key rkey(proto_arena *a)
{
    proto_key k = {.nvalues = 1 + rn(PROTO_MAX_PK)};
    k.values = proto_arena_alloc(a, k.nvalues * sizeof *k.values);
    for (uint32_t i = 0; i < k.nvalues; i++)
        k.values[i] = rvalue();
    return k;
}

static proto_str *rnames(proto_arena *a, uint32_t *n, uint32_t max)
{
    *n = rn(max + 1);
    proto_str *s = proto_arena_alloc(a, (*n + 1) * sizeof *s);
    for (uint32_t i = 0; i < *n; i++)
        s[i] = rstr();
    return s;
}

/* Fake record batches that pass the structural checks (length field, magic). */
static uint8_t batchbuf[64][2048];
static int nbatchbuf;
static proto_records rrecords(void)
{
    uint8_t *b = batchbuf[nbatchbuf++ % 64];
    size_t at = 0;
    int n = (int)rn(4);
    for (int i = 0; i < n; i++) {
        size_t sz = 88 + rn(500);
        for (size_t j = 0; j < sz; j++)
            b[at + j] = (uint8_t)rnd();
        strom_put_u32(b + at + 8, (uint32_t)(sz - 12));
        strom_put_u32(b + at + 12, 0x31425453u);
        at += sz;
    }
    return (proto_records){.bytes = {b, (uint32_t)at}};
}

static void rschema(proto_arena *a, proto_schema *s)
{
    s->ncolumns = rn(12);
    s->columns = proto_arena_alloc(a, (s->ncolumns + 1) * sizeof *s->columns);
    for (uint32_t i = 0; i < s->ncolumns; i++)
        s->columns[i] = (proto_column){rstr(), (uint8_t)(1 + rn(8)), (uint8_t)rn(2)};
    s->npk = s->ncolumns ? rn((s->ncolumns < 8 ? s->ncolumns : 8) + 1) : 0;
    s->pk = proto_arena_alloc(a, (s->npk + 1) * sizeof *s->pk);
    for (uint32_t i = 0; i < s->npk; i++)
        s->pk[i] = i; /* distinct */
    s->noptions = rn(5);
    s->options = proto_arena_alloc(a, (s->noptions + 1) * sizeof *s->options);
    for (uint32_t i = 0; i < s->noptions; i++)
        s->options[i] = (proto_option){rstr(), rstr()};
}

static void gen(int api, int resp, proto_arena *a, proto_msg *m)
{
    memset(m, 0, sizeof *m);
    if (!resp) {
        switch (api) {
        case PROTO_CREATE_TABLE:
            m->req.create_table.name = rstr();
            rschema(a, &m->req.create_table.schema);
            m->req.create_table.if_not_exists = (uint8_t)rn(2);
            break;
        case PROTO_DROP_TABLE:
            m->req.drop_table.name = rstr();
            m->req.drop_table.if_exists = (uint8_t)rn(2);
            break;
        case PROTO_LIST_TABLES: m->req.list_tables.database = rstr(); break;
        case PROTO_GET_TABLE_INFO: m->req.get_table_info.name = rstr(); break;
        case PROTO_STATS: m->req.stats.table = rstr(); break;
        case PROTO_PRODUCE_LOG:
        case PROTO_PUT_KV:
            m->req.produce.table = rstr();
            m->req.produce.bucket = (int32_t)rn(1000);
            m->req.produce.acks = (uint8_t)rn(2);
            m->req.produce.records = rrecords();
            if (api == PROTO_PUT_KV)
                m->req.produce.columns = rnames(a, &m->req.produce.ncolumns, 4);
            break;
        case PROTO_CREATE_DATABASE:
            m->req.create_database.name = rstr();
            m->req.create_database.if_not_exists = (uint8_t)rn(2);
            break;
        case PROTO_DROP_DATABASE:
            m->req.drop_database.name = rstr();
            m->req.drop_database.if_exists = (uint8_t)rn(2);
            m->req.drop_database.cascade = (uint8_t)rn(2);
            break;
        case PROTO_FETCH_LOG: {
            m->req.fetch.table = rstr();
            m->req.fetch.max_wait_ms = (int32_t)rn(10000);
            m->req.fetch.min_bytes = (int32_t)rn(10000);
            uint32_t n = m->req.fetch.nbuckets = rn(5);
            m->req.fetch.buckets = proto_arena_alloc(a, (n + 1) * sizeof(proto_fetch_bucket));
            for (uint32_t i = 0; i < n; i++) {
                proto_fetch_bucket *b = &m->req.fetch.buckets[i];
                b->bucket = (int32_t)rn(100);
                b->offset = (int64_t)rnd();
                b->max_bytes = (int32_t)rn(1 << 30);
                b->columns = rnames(a, &b->ncolumns, 5);
                b->npreds = rn(4);
                b->preds = proto_arena_alloc(a, (b->npreds + 1) * sizeof *b->preds);
                for (uint32_t j = 0; j < b->npreds; j++)
                    b->preds[j] = (proto_pred){rstr(), (uint8_t)rn(6), rvalue()};
            }
            break;
        }
        case PROTO_LIST_OFFSETS: {
            m->req.list_offsets.table = rstr();
            m->req.list_offsets.spec = (uint8_t)rn(3);
            m->req.list_offsets.timestamp = (int64_t)rnd();
            uint32_t n = m->req.list_offsets.nbuckets = rn(6);
            m->req.list_offsets.buckets = proto_arena_alloc(a, (n + 1) * 4);
            for (uint32_t i = 0; i < n; i++)
                m->req.list_offsets.buckets[i] = (int32_t)rn(1 << 20);
            break;
        }
        case PROTO_LOOKUP: {
            m->req.lookup.table = rstr();
            m->req.lookup.bucket = (int32_t)rn(64);
            m->req.lookup.has_as_of = (uint8_t)rn(2);
            m->req.lookup.as_of = (int64_t)rnd();
            m->req.lookup.columns = rnames(a, &m->req.lookup.ncolumns, 4);
            uint32_t n = m->req.lookup.nkeys = rn(6);
            m->req.lookup.keys = proto_arena_alloc(a, (n + 1) * sizeof(proto_key));
            for (uint32_t i = 0; i < n; i++)
                m->req.lookup.keys[i] = rkey(a);
            break;
        }
        case PROTO_PREFIX_LOOKUP:
            m->req.prefix_lookup.table = rstr();
            m->req.prefix_lookup.bucket = (int32_t)rn(64);
            m->req.prefix_lookup.prefix = rkey(a);
            m->req.prefix_lookup.columns = rnames(a, &m->req.prefix_lookup.ncolumns, 4);
            m->req.prefix_lookup.limit = (int32_t)rn(1000);
            break;
        case PROTO_SCAN_KV:
            m->req.scan_kv.table = rstr();
            m->req.scan_kv.bucket = (int32_t)rn(64);
            m->req.scan_kv.columns = rnames(a, &m->req.scan_kv.ncolumns, 4);
            m->req.scan_kv.limit = (int32_t)rn(1000);
            m->req.scan_kv.resume = rstr();
            break;
        case PROTO_KEY_HISTORY:
            m->req.key_history.table = rstr();
            m->req.key_history.key = rkey(a);
            m->req.key_history.at_or_before = (int64_t)rnd();
            m->req.key_history.n = 1 + (int32_t)rn(PROTO_MAX_HISTORY);
            m->req.key_history.columns = rnames(a, &m->req.key_history.ncolumns, 4);
            break;
        case PROTO_EXECUTE_SQL: {
            proto_str q = rstr();
            m->req.execute_sql.sql = (proto_bytes){(const uint8_t *)q.p, q.len};
            uint32_t n = m->req.execute_sql.nsettings = rn(4);
            m->req.execute_sql.settings = proto_arena_alloc(a, (n + 1) * sizeof(proto_option));
            for (uint32_t i = 0; i < n; i++)
                m->req.execute_sql.settings[i] = (proto_option){rstr(), rstr()};
            m->req.execute_sql.max_rows = (int32_t)rn(100000);
            break;
        }
        case PROTO_FETCH_SQL:
        case PROTO_CANCEL_SQL:
            m->req.fetch_sql.cursor = 1 + (int64_t)(rnd() >> 2);
            if (api == PROTO_FETCH_SQL) {
                m->req.fetch_sql.max_rows = (int32_t)rn(100000);
                m->req.fetch_sql.max_wait_ms = (int32_t)rn(100000);
            }
            break;
        default: break;
        }
        return;
    }
    switch (api) {
    case PROTO_API_VERSIONS: {
        uint32_t n = m->resp.api_versions.napis = rn(PROTO_API_COUNT + 1);
        m->resp.api_versions.apis = proto_arena_alloc(a, (n + 1) * sizeof(proto_api_range));
        for (uint32_t i = 0; i < n; i++) {
            int16_t lo = (int16_t)rn(5);
            m->resp.api_versions.apis[i] = (proto_api_range){(int16_t)i, lo, (int16_t)(lo + rn(3))};
        }
        break;
    }
    case PROTO_GET_TABLE_INFO:
        m->resp.table_info.name = rstr();
        m->resp.table_info.schema_id = (int32_t)rn(100);
        m->resp.table_info.buckets = 1 + (int32_t)rn(100);
        rschema(a, &m->resp.table_info.schema);
        break;
    case PROTO_LIST_TABLES:
    case PROTO_LIST_DATABASES:
        m->resp.list_tables.names = rnames(a, &m->resp.list_tables.nnames, 8);
        break;
    case PROTO_PRODUCE_LOG:
    case PROTO_PUT_KV:
        m->resp.produce.bucket = (int32_t)rn(100);
        m->resp.produce.first_offset = (int64_t)rnd();
        m->resp.produce.last_offset = (int64_t)rnd();
        m->resp.produce.high_watermark = (int64_t)rnd();
        break;
    case PROTO_FETCH_LOG: {
        uint32_t n = m->resp.fetch.nbuckets = rn(3);
        m->resp.fetch.buckets = proto_arena_alloc(a, (n + 1) * sizeof(proto_fetch_result));
        for (uint32_t i = 0; i < n; i++)
            m->resp.fetch.buckets[i] = (proto_fetch_result){(int32_t)rn(64), (int16_t)rn(18),
                                                            (int64_t)rnd(), (int64_t)rnd(), rrecords()};
        break;
    }
    case PROTO_LIST_OFFSETS: {
        uint32_t n = m->resp.list_offsets.nbuckets = rn(6);
        m->resp.list_offsets.buckets = proto_arena_alloc(a, (n + 1) * sizeof(proto_offset_result));
        for (uint32_t i = 0; i < n; i++)
            m->resp.list_offsets.buckets[i] = (proto_offset_result){(int32_t)rn(64), (int16_t)rn(18),
                                                                    (int64_t)rnd()};
        break;
    }
    case PROTO_LOOKUP: {
        uint32_t n = m->resp.lookup.nfound = rn(10);
        m->resp.lookup.found = proto_arena_alloc(a, n + 1);
        for (uint32_t i = 0; i < n; i++)
            m->resp.lookup.found[i] = (uint8_t)rn(2);
        m->resp.lookup.records = rrecords();
        break;
    }
    case PROTO_PREFIX_LOOKUP: m->resp.prefix_lookup.records = rrecords(); break;
    case PROTO_KEY_HISTORY: m->resp.key_history.records = rrecords(); break;
    case PROTO_SCAN_KV:
        m->resp.scan_kv.records = rrecords();
        m->resp.scan_kv.more = (uint8_t)rn(2);
        m->resp.scan_kv.resume = rstr();
        m->resp.scan_kv.snapshot_offset = (int64_t)rnd();
        break;
    case PROTO_STATS: {
        uint32_t n = m->resp.stats.nstats = rn(6);
        m->resp.stats.stats = proto_arena_alloc(a, (n + 1) * sizeof(proto_stat));
        for (uint32_t i = 0; i < n; i++)
            m->resp.stats.stats[i] = (proto_stat){rstr(), (int64_t)rnd()};
        break;
    }
    case PROTO_EXECUTE_SQL:
        m->resp.execute_sql.cursor = (int64_t)(rnd() >> 2);
        m->resp.execute_sql.columns = rnames(a, &m->resp.execute_sql.ncolumns, 5);
        m->resp.execute_sql.changes = (int64_t)rnd();
        m->resp.execute_sql.records = rrecords();
        m->resp.execute_sql.done = (uint8_t)rn(2);
        break;
    case PROTO_FETCH_SQL:
        m->resp.fetch_sql.records = rrecords();
        m->resp.fetch_sql.done = (uint8_t)rn(2);
        break;
    default: break;
    }
}

/* ------------------------------------------------------------- compare */

static void eq_str(proto_str a, proto_str b)
{
    assert_int_equal(a.len, b.len);
    if (a.len)
        assert_memory_equal(a.p, b.p, a.len);
}

static void eq_value(const strom_value *a, const strom_value *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->is_null, b->is_null);
    if (a->is_null)
        return;
    if (a->type == STROM_FLOAT || a->type == STROM_DOUBLE)
        assert_memory_equal(&a->v.d, &b->v.d, 8);
    else if (a->type == STROM_STRING || a->type == STROM_BYTES)
        eq_str((proto_str){a->v.s.ptr, (uint32_t)a->v.s.len}, (proto_str){b->v.s.ptr, (uint32_t)b->v.s.len});
    else
        assert_int_equal(a->v.i, b->v.i);
}

static void eq_key(const proto_key *a, const proto_key *b)
{
    assert_int_equal(a->nvalues, b->nvalues);
    for (uint32_t i = 0; i < a->nvalues; i++)
        eq_value(&a->values[i], &b->values[i]);
}

static void eq_names(uint32_t na, const proto_str *a, uint32_t nb, const proto_str *b)
{
    assert_int_equal(na, nb);
    for (uint32_t i = 0; i < na; i++)
        eq_str(a[i], b[i]);
}

/* The decoded records are views into the frame [f, f+flen) and each batch view is one
 * whole batch. */
static const uint8_t *frame_lo, *frame_hi;
static void eq_records(const proto_records *orig, const proto_records *dec)
{
    assert_int_equal(orig->bytes.len, dec->bytes.len);
    if (!dec->bytes.len) {
        assert_int_equal(dec->nbatches, 0);
        return;
    }
    assert_memory_equal(orig->bytes.p, dec->bytes.p, dec->bytes.len);
    assert_true(dec->bytes.p >= frame_lo && dec->bytes.p + dec->bytes.len <= frame_hi);
    size_t at = 0;
    for (uint32_t i = 0; i < dec->nbatches; i++) {
        assert_ptr_equal(dec->batches[i].p, dec->bytes.p + at);
        assert_int_equal(dec->batches[i].len, 12 + strom_get_u32(dec->batches[i].p + 8));
        at += dec->batches[i].len;
    }
    assert_int_equal(at, dec->bytes.len);
}

static void eq_schema(const proto_schema *a, const proto_schema *b)
{
    assert_int_equal(a->ncolumns, b->ncolumns);
    for (uint32_t i = 0; i < a->ncolumns; i++) {
        eq_str(a->columns[i].name, b->columns[i].name);
        assert_int_equal(a->columns[i].type, b->columns[i].type);
        assert_int_equal(a->columns[i].not_null, b->columns[i].not_null);
    }
    assert_int_equal(a->npk, b->npk);
    for (uint32_t i = 0; i < a->npk; i++)
        assert_int_equal(a->pk[i], b->pk[i]);
    assert_int_equal(a->noptions, b->noptions);
    for (uint32_t i = 0; i < a->noptions; i++) {
        eq_str(a->options[i].key, b->options[i].key);
        eq_str(a->options[i].value, b->options[i].value);
    }
}

static void eq_msg(int api, int resp, const proto_msg *a, const proto_msg *b)
{
    if (!resp) {
        switch (api) {
        case PROTO_CREATE_TABLE:
            eq_str(a->req.create_table.name, b->req.create_table.name);
            eq_schema(&a->req.create_table.schema, &b->req.create_table.schema);
            assert_int_equal(a->req.create_table.if_not_exists, b->req.create_table.if_not_exists);
            break;
        case PROTO_DROP_TABLE:
            eq_str(a->req.drop_table.name, b->req.drop_table.name);
            assert_int_equal(a->req.drop_table.if_exists, b->req.drop_table.if_exists);
            break;
        case PROTO_LIST_TABLES: eq_str(a->req.list_tables.database, b->req.list_tables.database); break;
        case PROTO_GET_TABLE_INFO: eq_str(a->req.get_table_info.name, b->req.get_table_info.name); break;
        case PROTO_STATS: eq_str(a->req.stats.table, b->req.stats.table); break;
        case PROTO_PRODUCE_LOG:
        case PROTO_PUT_KV:
            eq_str(a->req.produce.table, b->req.produce.table);
            assert_int_equal(a->req.produce.bucket, b->req.produce.bucket);
            assert_int_equal(a->req.produce.acks, b->req.produce.acks);
            eq_records(&a->req.produce.records, &b->req.produce.records);
            if (api == PROTO_PUT_KV)
                eq_names(a->req.produce.ncolumns, a->req.produce.columns, b->req.produce.ncolumns,
                         b->req.produce.columns);
            else
                assert_int_equal(b->req.produce.ncolumns, 0);
            break;
        case PROTO_CREATE_DATABASE:
            eq_str(a->req.create_database.name, b->req.create_database.name);
            assert_int_equal(a->req.create_database.if_not_exists, b->req.create_database.if_not_exists);
            break;
        case PROTO_DROP_DATABASE:
            eq_str(a->req.drop_database.name, b->req.drop_database.name);
            assert_int_equal(a->req.drop_database.if_exists, b->req.drop_database.if_exists);
            assert_int_equal(a->req.drop_database.cascade, b->req.drop_database.cascade);
            break;
        case PROTO_FETCH_LOG:
            eq_str(a->req.fetch.table, b->req.fetch.table);
            assert_int_equal(a->req.fetch.max_wait_ms, b->req.fetch.max_wait_ms);
            assert_int_equal(a->req.fetch.min_bytes, b->req.fetch.min_bytes);
            assert_int_equal(a->req.fetch.nbuckets, b->req.fetch.nbuckets);
            for (uint32_t i = 0; i < a->req.fetch.nbuckets; i++) {
                const proto_fetch_bucket *x = &a->req.fetch.buckets[i], *y = &b->req.fetch.buckets[i];
                assert_int_equal(x->bucket, y->bucket);
                assert_int_equal(x->offset, y->offset);
                assert_int_equal(x->max_bytes, y->max_bytes);
                eq_names(x->ncolumns, x->columns, y->ncolumns, y->columns);
                assert_int_equal(x->npreds, y->npreds);
                for (uint32_t j = 0; j < x->npreds; j++) {
                    eq_str(x->preds[j].column, y->preds[j].column);
                    assert_int_equal(x->preds[j].op, y->preds[j].op);
                    eq_value(&x->preds[j].value, &y->preds[j].value);
                }
            }
            break;
        case PROTO_LIST_OFFSETS:
            eq_str(a->req.list_offsets.table, b->req.list_offsets.table);
            assert_int_equal(a->req.list_offsets.spec, b->req.list_offsets.spec);
            assert_int_equal(a->req.list_offsets.timestamp, b->req.list_offsets.timestamp);
            assert_int_equal(a->req.list_offsets.nbuckets, b->req.list_offsets.nbuckets);
            for (uint32_t i = 0; i < a->req.list_offsets.nbuckets; i++)
                assert_int_equal(a->req.list_offsets.buckets[i], b->req.list_offsets.buckets[i]);
            break;
        case PROTO_LOOKUP:
            eq_str(a->req.lookup.table, b->req.lookup.table);
            assert_int_equal(a->req.lookup.bucket, b->req.lookup.bucket);
            assert_int_equal(a->req.lookup.has_as_of, b->req.lookup.has_as_of);
            assert_int_equal(a->req.lookup.as_of, b->req.lookup.as_of);
            eq_names(a->req.lookup.ncolumns, a->req.lookup.columns, b->req.lookup.ncolumns,
                     b->req.lookup.columns);
            assert_int_equal(a->req.lookup.nkeys, b->req.lookup.nkeys);
            for (uint32_t i = 0; i < a->req.lookup.nkeys; i++)
                eq_key(&a->req.lookup.keys[i], &b->req.lookup.keys[i]);
            break;
        case PROTO_PREFIX_LOOKUP:
            eq_str(a->req.prefix_lookup.table, b->req.prefix_lookup.table);
            assert_int_equal(a->req.prefix_lookup.bucket, b->req.prefix_lookup.bucket);
            eq_key(&a->req.prefix_lookup.prefix, &b->req.prefix_lookup.prefix);
            eq_names(a->req.prefix_lookup.ncolumns, a->req.prefix_lookup.columns,
                     b->req.prefix_lookup.ncolumns, b->req.prefix_lookup.columns);
            assert_int_equal(a->req.prefix_lookup.limit, b->req.prefix_lookup.limit);
            break;
        case PROTO_SCAN_KV:
            eq_str(a->req.scan_kv.table, b->req.scan_kv.table);
            assert_int_equal(a->req.scan_kv.bucket, b->req.scan_kv.bucket);
            eq_names(a->req.scan_kv.ncolumns, a->req.scan_kv.columns, b->req.scan_kv.ncolumns,
                     b->req.scan_kv.columns);
            assert_int_equal(a->req.scan_kv.limit, b->req.scan_kv.limit);
            eq_str(a->req.scan_kv.resume, b->req.scan_kv.resume);
            break;
        case PROTO_KEY_HISTORY:
            eq_str(a->req.key_history.table, b->req.key_history.table);
            eq_key(&a->req.key_history.key, &b->req.key_history.key);
            assert_int_equal(a->req.key_history.at_or_before, b->req.key_history.at_or_before);
            assert_int_equal(a->req.key_history.n, b->req.key_history.n);
            eq_names(a->req.key_history.ncolumns, a->req.key_history.columns,
                     b->req.key_history.ncolumns, b->req.key_history.columns);
            break;
        case PROTO_EXECUTE_SQL:
            assert_int_equal(a->req.execute_sql.sql.len, b->req.execute_sql.sql.len);
            assert_memory_equal(a->req.execute_sql.sql.p ? a->req.execute_sql.sql.p : (const uint8_t *)"",
                                b->req.execute_sql.sql.p ? b->req.execute_sql.sql.p : (const uint8_t *)"",
                                a->req.execute_sql.sql.len);
            assert_int_equal(a->req.execute_sql.nsettings, b->req.execute_sql.nsettings);
            for (uint32_t i = 0; i < a->req.execute_sql.nsettings; i++) {
                eq_str(a->req.execute_sql.settings[i].key, b->req.execute_sql.settings[i].key);
                eq_str(a->req.execute_sql.settings[i].value, b->req.execute_sql.settings[i].value);
            }
            assert_int_equal(a->req.execute_sql.max_rows, b->req.execute_sql.max_rows);
            break;
        case PROTO_FETCH_SQL:
        case PROTO_CANCEL_SQL:
            assert_int_equal(a->req.fetch_sql.cursor, b->req.fetch_sql.cursor);
            assert_int_equal(a->req.fetch_sql.max_rows, b->req.fetch_sql.max_rows);
            assert_int_equal(a->req.fetch_sql.max_wait_ms, b->req.fetch_sql.max_wait_ms);
            break;
        default: break;
        }
        return;
    }
    switch (api) {
    case PROTO_API_VERSIONS:
        assert_int_equal(a->resp.api_versions.napis, b->resp.api_versions.napis);
        for (uint32_t i = 0; i < a->resp.api_versions.napis; i++)
            assert_memory_equal(&a->resp.api_versions.apis[i], &b->resp.api_versions.apis[i],
                                sizeof(proto_api_range));
        break;
    case PROTO_GET_TABLE_INFO:
        eq_str(a->resp.table_info.name, b->resp.table_info.name);
        assert_int_equal(a->resp.table_info.schema_id, b->resp.table_info.schema_id);
        assert_int_equal(a->resp.table_info.buckets, b->resp.table_info.buckets);
        eq_schema(&a->resp.table_info.schema, &b->resp.table_info.schema);
        break;
    case PROTO_LIST_TABLES:
    case PROTO_LIST_DATABASES:
        eq_names(a->resp.list_tables.nnames, a->resp.list_tables.names, b->resp.list_tables.nnames,
                 b->resp.list_tables.names);
        break;
    case PROTO_PRODUCE_LOG:
    case PROTO_PUT_KV:
        assert_int_equal(a->resp.produce.bucket, b->resp.produce.bucket);
        assert_int_equal(a->resp.produce.first_offset, b->resp.produce.first_offset);
        assert_int_equal(a->resp.produce.last_offset, b->resp.produce.last_offset);
        assert_int_equal(a->resp.produce.high_watermark, b->resp.produce.high_watermark);
        break;
    case PROTO_FETCH_LOG:
        assert_int_equal(a->resp.fetch.nbuckets, b->resp.fetch.nbuckets);
        for (uint32_t i = 0; i < a->resp.fetch.nbuckets; i++) {
            const proto_fetch_result *x = &a->resp.fetch.buckets[i], *y = &b->resp.fetch.buckets[i];
            assert_int_equal(x->bucket, y->bucket);
            assert_int_equal(x->error, y->error);
            assert_int_equal(x->high_watermark, y->high_watermark);
            assert_int_equal(x->log_start_offset, y->log_start_offset);
            eq_records(&x->records, &y->records);
        }
        break;
    case PROTO_LIST_OFFSETS:
        assert_int_equal(a->resp.list_offsets.nbuckets, b->resp.list_offsets.nbuckets);
        for (uint32_t i = 0; i < a->resp.list_offsets.nbuckets; i++) {
            assert_int_equal(a->resp.list_offsets.buckets[i].bucket, b->resp.list_offsets.buckets[i].bucket);
            assert_int_equal(a->resp.list_offsets.buckets[i].error, b->resp.list_offsets.buckets[i].error);
            assert_int_equal(a->resp.list_offsets.buckets[i].offset, b->resp.list_offsets.buckets[i].offset);
        }
        break;
    case PROTO_LOOKUP:
        assert_int_equal(a->resp.lookup.nfound, b->resp.lookup.nfound);
        if (a->resp.lookup.nfound)
            assert_memory_equal(a->resp.lookup.found, b->resp.lookup.found, a->resp.lookup.nfound);
        eq_records(&a->resp.lookup.records, &b->resp.lookup.records);
        break;
    case PROTO_PREFIX_LOOKUP: eq_records(&a->resp.prefix_lookup.records, &b->resp.prefix_lookup.records); break;
    case PROTO_KEY_HISTORY: eq_records(&a->resp.key_history.records, &b->resp.key_history.records); break;
    case PROTO_SCAN_KV:
        eq_records(&a->resp.scan_kv.records, &b->resp.scan_kv.records);
        assert_int_equal(a->resp.scan_kv.more, b->resp.scan_kv.more);
        eq_str(a->resp.scan_kv.resume, b->resp.scan_kv.resume);
        assert_int_equal(a->resp.scan_kv.snapshot_offset, b->resp.scan_kv.snapshot_offset);
        break;
    case PROTO_STATS:
        assert_int_equal(a->resp.stats.nstats, b->resp.stats.nstats);
        for (uint32_t i = 0; i < a->resp.stats.nstats; i++) {
            eq_str(a->resp.stats.stats[i].name, b->resp.stats.stats[i].name);
            assert_int_equal(a->resp.stats.stats[i].value, b->resp.stats.stats[i].value);
        }
        break;
    case PROTO_EXECUTE_SQL:
        assert_int_equal(a->resp.execute_sql.cursor, b->resp.execute_sql.cursor);
        eq_names(a->resp.execute_sql.ncolumns, a->resp.execute_sql.columns, b->resp.execute_sql.ncolumns,
                 b->resp.execute_sql.columns);
        assert_int_equal(a->resp.execute_sql.changes, b->resp.execute_sql.changes);
        eq_records(&a->resp.execute_sql.records, &b->resp.execute_sql.records);
        assert_int_equal(a->resp.execute_sql.done, b->resp.execute_sql.done);
        break;
    case PROTO_FETCH_SQL:
        eq_records(&a->resp.fetch_sql.records, &b->resp.fetch_sql.records);
        assert_int_equal(a->resp.fetch_sql.done, b->resp.fetch_sql.done);
        break;
    default: break;
    }
}

/* ---------------------------------------------------------------- tests */

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof pool; i++)
        pool[i] = (char)rnd();
    return 0;
}

/* Encodes one message of every api and direction into a stream of frames, feeds the
 * stream to readers in random pieces, decodes each frame and compares; then every
 * truncation of the body must be refused. */
static void test_roundtrip_and_truncations(void **state)
{
    (void)state;
    proto_arena gen_a = {0}, dec_a = {0};
    for (int round = 0; round < 1000; round++) {
        strom_buf stream = {0};
        proto_msg orig[2 * PROTO_API_COUNT];
        proto_arena_reset(&gen_a);
        for (int api = 0; api < PROTO_API_COUNT; api++) {
            gen(api, 0, &gen_a, &orig[2 * api]);
            gen(api, 1, &gen_a, &orig[2 * api + 1]);
            assert_int_equal(proto_encode_request(&stream, api, 0, round * 100 + api, &orig[2 * api]), STROM_OK);
            assert_int_equal(proto_encode_response(&stream, api, 0, round * 100 + api, STROM_OK, NULL,
                                                   &orig[2 * api + 1]), STROM_OK);
        }
        /* the reader sees requests and responses alike (min frame 7) */
        proto_reader r;
        proto_reader_init(&r, 0, 7);
        size_t fed = 0;
        int got = 0;
        while (got < 2 * PROTO_API_COUNT) {
            const uint8_t *f;
            size_t flen;
            assert_int_equal(proto_reader_next(&r, &f, &flen), STROM_OK);
            if (!f) {
                assert_true(fed < stream.len);
                size_t piece = 1 + rn(round % 3 == 0 ? 3 : 700);
                if (piece > stream.len - fed)
                    piece = stream.len - fed;
                assert_int_equal(proto_reader_feed(&r, stream.data + fed, piece), STROM_OK);
                fed += piece;
                continue;
            }
            int api = got / 2, resp = got % 2;
            proto_msg dec;
            const uint8_t *body;
            size_t blen, boff;
            frame_lo = f;
            frame_hi = f + flen;
            proto_arena_reset(&dec_a);
            if (!resp) {
                proto_req_hdr h;
                assert_int_equal(proto_parse_request(f, flen, &h), STROM_OK);
                assert_int_equal(h.api_key, api);
                assert_int_equal(h.api_version, 0);
                assert_int_equal(h.request_id, round * 100 + api);
                body = h.body;
                blen = h.body_len;
                assert_int_equal(proto_decode_request(api, 0, body, blen, PROTO_REQ_HDR, &dec_a, &dec), STROM_OK);
            } else {
                proto_resp_hdr h;
                assert_int_equal(proto_parse_response(f, flen, &h), STROM_OK);
                assert_int_equal(h.request_id, round * 100 + api);
                assert_int_equal(h.error, 0);
                assert_int_equal(h.errmsg.len, 0);
                body = h.body;
                blen = h.body_len;
                assert_int_equal(proto_decode_response(api, 0, body, blen, (size_t)(body - f), &dec_a, &dec),
                                 STROM_OK);
            }
            eq_msg(api, resp, &orig[got], &dec);
            boff = (size_t)(body - f);
            /* every truncation of the body (a few rounds: the check is quadratic) */
            if (round < 50)
                for (size_t cut = 0; cut < blen; cut++) {
                    proto_msg t;
                    uint8_t *copy = malloc(cut ? cut : 1); /* exact size: ASan sees overreads */
                    memcpy(copy, body, cut);
                    strom_err e = resp ? proto_decode_response(api, 0, copy, cut, boff, &dec_a, &t)
                                       : proto_decode_request(api, 0, copy, cut, boff, &dec_a, &t);
                    free(copy);
                    assert_int_equal(e, STROM_EPROTO);
                    assert_non_null(strstr(strom_errmsg(), "at byte"));
                    assert_non_null(strstr(strom_errmsg(), proto_api_name(api)));
                }
            /* a trailing byte is refused too */
            uint8_t *longer = malloc(blen + 1);
            memcpy(longer, body, blen);
            longer[blen] = 0;
            proto_msg t;
            assert_int_equal(resp ? proto_decode_response(api, 0, longer, blen + 1, boff, &dec_a, &t)
                                  : proto_decode_request(api, 0, longer, blen + 1, boff, &dec_a, &t),
                             STROM_EPROTO);
            free(longer);
            got++;
        }
        assert_int_equal(fed, stream.len);
        assert_int_equal(proto_reader_buffered(&r), 0);
        proto_reader_free(&r);
        strom_buf_free(&stream);
    }
    proto_arena_free(&gen_a);
    proto_arena_free(&dec_a);
}

/* Frames over the limit, negative and too small lengths: fatal, sticky, clear errors. */
static void test_frame_limits(void **state)
{
    (void)state;
    proto_reader r;
    uint8_t hdr[12] = {0};
    proto_reader_init(&r, 1000, 8);
    strom_put_u32(hdr, 1001);
    const uint8_t *f;
    size_t flen;
    assert_int_equal(proto_reader_feed(&r, hdr, 4), STROM_OK);
    assert_int_equal(proto_reader_next(&r, &f, &flen), STROM_ELIMIT);
    assert_null(f);
    assert_non_null(strstr(strom_errmsg(), "over the limit of 1000"));
    assert_int_equal(proto_reader_next(&r, &f, &flen), STROM_ELIMIT); /* sticky */
    proto_reader_free(&r);

    proto_reader_init(&r, 0, 8);
    strom_put_u32(hdr, 0x80000000u);
    proto_reader_feed(&r, hdr, 4);
    assert_int_equal(proto_reader_next(&r, &f, &flen), STROM_EPROTO);
    proto_reader_free(&r);

    proto_reader_init(&r, 0, 8);
    strom_put_u32(hdr, 7);
    proto_reader_feed(&r, hdr, 4);
    assert_int_equal(proto_reader_next(&r, &f, &flen), STROM_EPROTO);
    assert_non_null(strstr(strom_errmsg(), "length"));
    proto_reader_free(&r);

    /* exactly at the limit is fine, and the frame is handed out whole */
    proto_reader_init(&r, 1000, 8);
    uint8_t *big = calloc(1, 1004);
    strom_put_u32(big, 1000);
    uint8_t *p;
    size_t cap;
    assert_int_equal(proto_reader_space(&r, 1004, &p, &cap), STROM_OK);
    assert_true(cap >= 1004);
    memcpy(p, big, 1004);
    proto_reader_commit(&r, 1004);
    assert_int_equal(proto_reader_next(&r, &f, &flen), STROM_OK);
    assert_non_null(f);
    assert_int_equal(flen, 1004);
    free(big);
    proto_reader_free(&r);

    /* a frame header whose length disagrees with the frame */
    strom_put_u32(hdr, 9);
    proto_req_hdr h;
    assert_int_equal(proto_parse_request(hdr, 12, &h), STROM_EPROTO);
    assert_int_equal(proto_parse_request(hdr, 5, &h), STROM_EPROTO);
    /* an error response with a body */
    strom_buf b = {0};
    assert_int_equal(proto_encode_response(&b, PROTO_STATS, 0, 7, STROM_ENOTFOUND, "no table x", NULL), STROM_OK);
    proto_resp_hdr rh;
    assert_int_equal(proto_parse_response(b.data, b.len, &rh), STROM_OK);
    assert_int_equal(rh.error, STROM_ENOTFOUND);
    assert_true(proto_str_eq(rh.errmsg, "no table x"));
    assert_int_equal(rh.body_len, 0);
    strom_buf_append(&b, "x", 1);
    strom_put_u32(b.data, (uint32_t)(b.len - 4));
    assert_int_equal(proto_parse_response(b.data, b.len, &rh), STROM_EPROTO);
    strom_buf_free(&b);
}

/* Counts over their maximum: refused by the encoder (EINVAL) and by the decoder
 * (EPROTO naming the field), without allocating for the claimed count. */
static void test_count_limits(void **state)
{
    (void)state;
    proto_arena a = {0};
    proto_msg m, d;
    strom_buf b = {0};
    memset(&m, 0, sizeof m);
    m.req.fetch.table = proto_s("t");
    m.req.fetch.nbuckets = PROTO_MAX_BUCKETS + 1;
    m.req.fetch.buckets = calloc(PROTO_MAX_BUCKETS + 1, sizeof(proto_fetch_bucket));
    assert_int_equal(proto_encode_request(&b, PROTO_FETCH_LOG, 0, 1, &m), STROM_EINVAL);
    assert_non_null(strstr(strom_errmsg(), "buckets"));
    assert_int_equal(b.len, 0);
    free(m.req.fetch.buckets);

    /* body: table "t", max_wait 0, min_bytes 0, buckets = huge varint */
    uint8_t body[32] = {1, 't', 0, 0, 0, 0, 0, 0, 0, 0};
    size_t n = 10 + strom_put_uvarint(body + 10, 5000);
    assert_int_equal(proto_decode_request(PROTO_FETCH_LOG, 0, body, n, 12, &a, &d), STROM_EPROTO);
    assert_non_null(strstr(strom_errmsg(), "'buckets' at byte 22"));
    /* a count under the maximum but larger than the bytes left */
    n = 10 + strom_put_uvarint(body + 10, 4000);
    assert_int_equal(proto_decode_request(PROTO_FETCH_LOG, 0, body, n, 12, &a, &d), STROM_EPROTO);
    assert_non_null(strstr(strom_errmsg(), "than the 0 left"));
    /* a string longer than the limit */
    n = strom_put_uvarint(body, PROTO_MAX_STR + 1);
    assert_int_equal(proto_decode_request(PROTO_STATS, 0, body, n, 12, &a, &d), STROM_EPROTO);
    /* an overlong varint */
    memset(body, 0xff, 11);
    assert_int_equal(proto_decode_request(PROTO_STATS, 0, body, 11, 12, &a, &d), STROM_EPROTO);
    assert_non_null(strstr(strom_errmsg(), "varint"));

    /* bad enums: acks 2, op 6, value type 9, pk index out of range / repeated */
    memset(&m, 0, sizeof m);
    m.req.produce.table = proto_s("t");
    m.req.produce.acks = 2;
    assert_int_equal(proto_encode_request(&b, PROTO_PRODUCE_LOG, 0, 1, &m), STROM_EINVAL);
    m.req.produce.acks = 1;
    assert_int_equal(proto_encode_request(&b, PROTO_PRODUCE_LOG, 0, 1, &m), STROM_OK);
    b.data[PROTO_REQ_HDR + 2 + 4] = 2; /* acks */
    assert_int_equal(proto_decode_request(PROTO_PRODUCE_LOG, 0, b.data + PROTO_REQ_HDR, b.len - PROTO_REQ_HDR,
                                          PROTO_REQ_HDR, &a, &d), STROM_EPROTO);
    assert_non_null(strstr(strom_errmsg(), "'acks' at byte 18"));
    b.len = 0;
    /* records whose batch length field lies */
    uint8_t batch[100] = {0};
    strom_put_u32(batch + 8, 100); /* says 112 bytes */
    strom_put_u32(batch + 12, 0x31425453u);
    m.req.produce.records.bytes = (proto_bytes){batch, sizeof batch};
    assert_int_equal(proto_encode_request(&b, PROTO_PRODUCE_LOG, 0, 1, &m), STROM_EINVAL);
    strom_put_u32(batch + 8, 88);
    assert_int_equal(proto_encode_request(&b, PROTO_PRODUCE_LOG, 0, 1, &m), STROM_OK);
    strom_put_u32(b.data + b.len - 100 + 8, 100);
    assert_int_equal(proto_decode_request(PROTO_PRODUCE_LOG, 0, b.data + PROTO_REQ_HDR, b.len - PROTO_REQ_HDR,
                                          PROTO_REQ_HDR, &a, &d), STROM_EPROTO);
    assert_non_null(strstr(strom_errmsg(), "batch length"));
    b.len = 0;

    proto_column cols[2] = {{proto_s("a"), STROM_INT, 1}, {proto_s("b"), STROM_STRING, 0}};
    uint32_t pk[2] = {1, 1};
    memset(&m, 0, sizeof m);
    m.req.create_table.name = proto_s("t");
    m.req.create_table.schema = (proto_schema){2, cols, 2, pk, 0, NULL};
    assert_int_equal(proto_encode_request(&b, PROTO_CREATE_TABLE, 0, 1, &m), STROM_EINVAL);
    pk[1] = 2;
    assert_int_equal(proto_encode_request(&b, PROTO_CREATE_TABLE, 0, 1, &m), STROM_EINVAL);
    cols[1].type = 9;
    pk[1] = 0;
    assert_int_equal(proto_encode_request(&b, PROTO_CREATE_TABLE, 0, 1, &m), STROM_EINVAL);
    cols[1].type = STROM_STRING;
    assert_int_equal(proto_encode_request(&b, PROTO_CREATE_TABLE, 0, 1, &m), STROM_OK);
    /* body: name 0-1, ncols 2, a 3-6, b 7-10, npk 11, pk 12-13 */
    assert_int_equal(proto_decode_request(PROTO_CREATE_TABLE, 0, b.data + PROTO_REQ_HDR, b.len - PROTO_REQ_HDR,
                                          PROTO_REQ_HDR, &a, &d), STROM_OK);
    assert_int_equal(d.req.create_table.schema.pk[0], 1);
    b.data[PROTO_REQ_HDR + 13] = 2; /* out of range */
    assert_int_equal(proto_decode_request(PROTO_CREATE_TABLE, 0, b.data + PROTO_REQ_HDR, b.len - PROTO_REQ_HDR,
                                          PROTO_REQ_HDR, &a, &d), STROM_EPROTO);
    b.data[PROTO_REQ_HDR + 13] = 1; /* repeated */
    assert_int_equal(proto_decode_request(PROTO_CREATE_TABLE, 0, b.data + PROTO_REQ_HDR, b.len - PROTO_REQ_HDR,
                                          PROTO_REQ_HDR, &a, &d), STROM_EPROTO);
    assert_non_null(strstr(strom_errmsg(), "field 'primary_key[1]' at byte 25"));
    assert_non_null(strstr(strom_errmsg(), "primary_key"));
    strom_buf_free(&b);
    proto_arena_free(&a);
}

static void test_unknown_api(void **state)
{
    (void)state;
    proto_arena a = {0};
    proto_msg m = {0}, d;
    strom_buf b = {0};
    assert_int_equal(proto_check_api(PROTO_API_COUNT, 0), STROM_EUNSUPPORTED);
    assert_non_null(strstr(strom_errmsg(), "unknown api key 20"));
    assert_int_equal(proto_check_api(-1, 0), STROM_EUNSUPPORTED);
    assert_int_equal(proto_check_api(PROTO_FETCH_LOG, 1), STROM_EUNSUPPORTED);
    assert_non_null(strstr(strom_errmsg(), "FETCH_LOG version 1"));
    assert_int_equal(proto_check_api(PROTO_FETCH_LOG, 0), STROM_OK);
    assert_int_equal(proto_decode_request(99, 0, (const uint8_t *)"", 0, 12, &a, &d), STROM_EUNSUPPORTED);
    assert_int_equal(proto_decode_response(PROTO_STATS, 3, (const uint8_t *)"", 0, 12, &a, &d), STROM_EUNSUPPORTED);
    assert_int_equal(proto_encode_request(&b, 99, 0, 1, &m), STROM_EINVAL);
    assert_int_equal(proto_encode_request(&b, PROTO_STATS, 1, 1, &m), STROM_EINVAL);
    assert_int_equal(b.len, 0);
    /* the error response to an unknown api can still be written */
    assert_int_equal(proto_encode_response(&b, 99, 0, 5, STROM_EUNSUPPORTED, "unknown api key 99", NULL), STROM_OK);
    assert_null(proto_api_name(99));
    assert_string_equal(proto_api_name(PROTO_KEY_HISTORY), "KEY_HISTORY");
    assert_int_equal(proto_api_max_version(99), -1);
    strom_buf_free(&b);
    proto_arena_free(&a);
}

/* Decoding the same FETCH request again after a reset reuses the arena's block. */
static void test_arena_reuse(void **state)
{
    (void)state;
    proto_arena g = {0}, a = {0};
    proto_msg m, d;
    strom_buf b = {0};
    gen(PROTO_FETCH_LOG, 0, &g, &m);
    while (m.req.fetch.nbuckets == 0)
        gen(PROTO_FETCH_LOG, 0, &g, &m);
    assert_int_equal(proto_encode_request(&b, PROTO_FETCH_LOG, 0, 1, &m), STROM_OK);
    assert_int_equal(proto_decode_request(PROTO_FETCH_LOG, 0, b.data + 12, b.len - 12, 12, &a, &d), STROM_OK);
    void *head = a.head;
    for (int i = 0; i < 100; i++) {
        proto_arena_reset(&a);
        assert_int_equal(proto_decode_request(PROTO_FETCH_LOG, 0, b.data + 12, b.len - 12, 12, &a, &d), STROM_OK);
        assert_ptr_equal(a.head, head);
    }
    strom_buf_free(&b);
    proto_arena_free(&a);
    proto_arena_free(&g);
}

/* The FETCH_LOG example of docs/protocol.md, byte for byte. */
static void test_doc_example(void **state)
{
    (void)state;
    static const uint8_t want[] = {
        0x25, 0, 0, 0, 6, 0, 0, 0, 7, 0, 0, 0, 1, 't', 0xf4, 1, 0, 0, 0, 0, 0, 0,
        1, 0, 0, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0};
    proto_fetch_bucket fb = {.bucket = 0, .offset = 42, .max_bytes = 1 << 20};
    proto_msg m;
    memset(&m, 0, sizeof m);
    m.req.fetch.table = proto_s("t");
    m.req.fetch.max_wait_ms = 500;
    m.req.fetch.nbuckets = 1;
    m.req.fetch.buckets = &fb;
    strom_buf b = {0};
    assert_int_equal(proto_encode_request(&b, PROTO_FETCH_LOG, 0, 7, &m), STROM_OK);
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    strom_buf_free(&b);
}

/* A bad enum deep inside: the message names the element indexes and the byte. */
static void test_nested_field_message(void **state)
{
    (void)state;
    proto_pred preds[2] = {{proto_s("p"), STROM_OP_GT, {.type = STROM_DOUBLE, .v.d = 1}},
                           {proto_s("q"), STROM_OP_EQ, {.type = STROM_INT, .v.i = 3}}};
    proto_fetch_bucket fb[2] = {{.bucket = 0, .offset = 1}, {.bucket = 1, .offset = 2, .npreds = 2, .preds = preds}};
    proto_msg m, d;
    memset(&m, 0, sizeof m);
    m.req.fetch.table = proto_s("t");
    m.req.fetch.nbuckets = 2;
    m.req.fetch.buckets = fb;
    strom_buf b = {0};
    proto_arena a = {0};
    assert_int_equal(proto_encode_request(&b, PROTO_FETCH_LOG, 0, 1, &m), STROM_OK);
    /* the op of preds[1]: the last value is INT 3 (type, null, zigzag 6) after op */
    size_t op_at = b.len - 4;
    assert_int_equal(b.data[op_at], STROM_OP_EQ);
    b.data[op_at] = 9;
    assert_int_equal(proto_decode_request(PROTO_FETCH_LOG, 0, b.data + 12, b.len - 12, 12, &a, &d), STROM_EPROTO);
    char want[128];
    snprintf(want, sizeof want, "FETCH_LOG request: field 'buckets[1].preds[1].op' at byte %zu: 9 is out of range 0..5",
             op_at);
    assert_string_equal(strom_errmsg(), want);
    strom_buf_free(&b);
    proto_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_and_truncations),
        cmocka_unit_test(test_frame_limits),
        cmocka_unit_test(test_count_limits),
        cmocka_unit_test(test_unknown_api),
        cmocka_unit_test(test_arena_reuse),
        cmocka_unit_test(test_doc_example),
        cmocka_unit_test(test_nested_field_message),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
