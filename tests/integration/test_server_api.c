/*
 * test_server_api.c: every api of the native protocol against the real `strom server`,
 * each answer compared with what the embedded engine answers for the same operations on
 * a second data directory (the reference), and the rows checked against their
 * self-describing values (itest.h). Also: unknown api / version, malformed bodies (error
 * response, the connection stays usable).
 */
#include "srvtest.h"

#define NBATCH 12

static uint64_t seed;
static st_conn C;
static strom_db *ref;        /* the embedded reference */

/* ---------------------------------------------------------------- helpers */

static proto_column col(const char *name, int type, int not_null)
{
    return (proto_column){proto_s(name), (uint8_t)type, (uint8_t)not_null};
}

static void create_log_table(const char *name, const char *const *opts)
{
    static proto_column cols[IT_NCOLS];
    strom_schema *s = it_schema();
    for (int i = 0; i < IT_NCOLS; i++)
        cols[i] = col(strom_schema_col_name(s, i), strom_schema_col_type(s, i),
                      !strom_schema_col_nullable(s, i));
    proto_option o[8];
    uint32_t no = 0;
    for (; opts && opts[2 * no]; no++)
        o[no] = (proto_option){proto_s(opts[2 * no]), proto_s(opts[2 * no + 1])};
    proto_msg m = {0}, r;
    m.req.create_table.name = proto_s(name);
    m.req.create_table.schema = (proto_schema){IT_NCOLS, cols, 0, NULL, no, o};
    ST_OK(&C, PROTO_CREATE_TABLE, &m, &r);
    IT_OK(strom_table_create(ref, name, s, opts));
    strom_schema_destroy(s);
}

/* Compares two batches row by row (ids and every value via itest.h). */
static void same_rows(const strom_batch *got, const strom_batch *want)
{
    IT_CHECK(strom_batch_nrows(got) == strom_batch_nrows(want), "rows %lld vs %lld",
             (long long)strom_batch_nrows(got), (long long)strom_batch_nrows(want));
    for (int64_t r = 0; r < strom_batch_nrows(got); r++) {
        it_row a, b;
        char why[200];
        int64_t ia = it_read_row(got, r, &a), ib = it_read_row(want, r, &b);
        IT_CHECK(ia == ib, "row %lld: id %lld vs %lld", (long long)r, (long long)ia, (long long)ib);
        IT_CHECK(!it_row_differs(seed, ia, &a, why, sizeof why), "%s", why);
    }
}

/* ------------------------------------------------------------------ tests */

static void test_versions_and_errors(void)
{
    proto_msg r;
    ST_OK(&C, PROTO_API_VERSIONS, NULL, &r);
    IT_CHECK(r.resp.api_versions.napis == PROTO_API_COUNT, "%u apis", r.resp.api_versions.napis);
    for (uint32_t i = 0; i < r.resp.api_versions.napis; i++)
        IT_CHECK(r.resp.api_versions.apis[i].key == (int16_t)i &&
                     r.resp.api_versions.apis[i].max_ver == proto_api_max_version((int)i),
                 "api %u", i);
    /* unknown api key and version: EUNSUPPORTED, the connection stays */
    uint8_t f[12];
    strom_put_u32(f, 8);
    strom_put_u16(f + 4, 99);
    strom_put_u16(f + 6, 0);
    strom_put_u32(f + 8, 777);
    st_write(&C, f, sizeof f);
    int32_t rid;
    IT_CHECK(st_recv(&C, PROTO_API_VERSIONS, &rid, &r) == STROM_EUNSUPPORTED && rid == 777,
             "unknown api: %s", C.err);
    IT_CHECK(strstr(C.err, "99"), "message names the key: %s", C.err);
    strom_put_u16(f + 4, PROTO_FETCH_LOG);
    strom_put_u16(f + 6, 3);
    st_write(&C, f, sizeof f);
    IT_CHECK(st_recv(&C, PROTO_FETCH_LOG, &rid, &r) == STROM_EUNSUPPORTED, "version 3");
    IT_CHECK(strstr(C.err, "version 3"), "message names the version: %s", C.err);
    /* a malformed body: op 9 in a predicate -> EPROTO naming the field */
    strom_buf b = {0};
    proto_pred pred = {proto_s("v"), 0, {.type = STROM_DOUBLE, .v.d = 1}};
    proto_fetch_bucket fb = {.bucket = 0, .npreds = 1, .preds = &pred};
    proto_msg m = {0};
    m.req.fetch.table = proto_s("t");
    m.req.fetch.nbuckets = 1;
    m.req.fetch.buckets = &fb;
    IT_OK(proto_encode_request(&b, PROTO_FETCH_LOG, 0, 778, &m));
    b.data[b.len - 11] = 9; /* the op byte: before type, null, f64 */
    st_write(&C, b.data, b.len);
    IT_CHECK(st_recv(&C, PROTO_FETCH_LOG, &rid, &r) == STROM_EPROTO && rid == 778, "bad op");
    IT_CHECK(strstr(C.err, "buckets[0].preds[0].op"), "names the field: %s", C.err);
    /* truncated body */
    b.len -= 3;
    strom_put_u32(b.data, (uint32_t)(b.len - 4));
    st_write(&C, b.data, b.len);
    IT_CHECK(st_recv(&C, PROTO_FETCH_LOG, &rid, &r) == STROM_EPROTO, "truncated: %s", C.err);
    strom_buf_free(&b);
    ST_OK(&C, PROTO_API_VERSIONS, NULL, &r); /* still usable */
}

static void test_databases_and_tables(void)
{
    proto_msg m = {0}, r;
    m.req.create_database.name = proto_s("grid");
    ST_OK(&C, PROTO_CREATE_DATABASE, &m, &r);
    IT_CHECK(st_call(&C, PROTO_CREATE_DATABASE, &m, &r) == STROM_EEXIST, "twice: %s", C.err);
    m.req.create_database.if_not_exists = 1;
    ST_OK(&C, PROTO_CREATE_DATABASE, &m, &r);
    ST_OK(&C, PROTO_LIST_DATABASES, NULL, &r);
    int has_default = 0, has_grid = 0;
    for (uint32_t i = 0; i < r.resp.list_tables.nnames; i++) {
        has_default |= proto_str_eq(r.resp.list_tables.names[i], "default");
        has_grid |= proto_str_eq(r.resp.list_tables.names[i], "grid");
    }
    IT_CHECK(has_default && has_grid && r.resp.list_tables.nnames == 2, "databases");

    const char *opts[] = {"bucket.num", "2", NULL};
    create_log_table("t", opts);
    const char *hopts[] = {"table.log.index.key", "dev", NULL};
    create_log_table("grid.h", hopts);
    memset(&m, 0, sizeof m);
    m.req.create_table.name = proto_s("t");
    proto_column one = col("x", STROM_INT, 0);
    m.req.create_table.schema = (proto_schema){1, &one, 0, NULL, 0, NULL};
    IT_CHECK(st_call(&C, PROTO_CREATE_TABLE, &m, &r) == STROM_EEXIST, "exists: %s", C.err);
    m.req.create_table.if_not_exists = 1;
    ST_OK(&C, PROTO_CREATE_TABLE, &m, &r);
    m.req.create_table.name = proto_s("9bad");
    IT_CHECK(st_call(&C, PROTO_CREATE_TABLE, &m, &r) == STROM_EINVAL, "bad name: %s", C.err);

    memset(&m, 0, sizeof m);
    ST_OK(&C, PROTO_LIST_TABLES, &m, &r);
    IT_CHECK(r.resp.list_tables.nnames == 2, "all tables: %u", r.resp.list_tables.nnames);
    m.req.list_tables.database = proto_s("grid");
    ST_OK(&C, PROTO_LIST_TABLES, &m, &r);
    IT_CHECK(r.resp.list_tables.nnames == 1 && proto_str_eq(r.resp.list_tables.names[0], "grid.h"),
             "grid tables");
    m.req.list_tables.database = proto_s("default");
    ST_OK(&C, PROTO_LIST_TABLES, &m, &r);
    IT_CHECK(r.resp.list_tables.nnames == 1 && proto_str_eq(r.resp.list_tables.names[0], "t"),
             "default tables");

    memset(&m, 0, sizeof m);
    m.req.get_table_info.name = proto_s("t");
    ST_OK(&C, PROTO_GET_TABLE_INFO, &m, &r);
    strom_table *rt;
    IT_OK(strom_table_open(ref, "t", &rt));
    const strom_schema *rs = strom_table_schema(rt);
    const proto_schema *ps = &r.resp.table_info.schema;
    IT_CHECK(r.resp.table_info.buckets == 2 && ps->ncolumns == IT_NCOLS && ps->npk == 0 &&
                 r.resp.table_info.schema_id == (int32_t)strom_schema_id(rs) &&
                 proto_str_eq(r.resp.table_info.name, "default.t"),
             "table info");
    for (int i = 0; i < IT_NCOLS; i++)
        IT_CHECK(proto_str_eq(ps->columns[i].name, strom_schema_col_name(rs, i)) &&
                     ps->columns[i].type == strom_schema_col_type(rs, i) &&
                     ps->columns[i].not_null == !strom_schema_col_nullable(rs, i),
                 "column %d", i);
    int nopt = 0;
    for (uint32_t i = 0; i < ps->noptions; i++) {
        char k[128];
        snprintf(k, sizeof k, "%.*s", (int)ps->options[i].key.len, ps->options[i].key.p);
        const char *want = strom_table_option(rt, k);
        IT_CHECK(want && proto_str_eq(ps->options[i].value, want), "option %s", k);
        nopt += !strcmp(k, "bucket.num");
    }
    IT_CHECK(nopt == 1, "bucket.num listed");
    strom_table_close(rt);
    m.req.get_table_info.name = proto_s("nope");
    IT_CHECK(st_call(&C, PROTO_GET_TABLE_INFO, &m, &r) == STROM_ENOTFOUND, "missing: %s", C.err);
}

/* Produces NBATCH batches to t (buckets alternate) and to the reference; offsets agree. */
static void test_produce(void)
{
    strom_table *rt;
    IT_OK(strom_table_open(ref, "t", &rt));
    strom_schema *s = it_schema();
    strom_builder *b = strom_builder_create(s);
    strom_buf wire = {0};
    for (int k = 0; k < NBATCH; k++) {
        strom_builder_reset(b);
        int rows = 1 + (int)(it_mix(seed + (uint64_t)k) % 300);
        for (int i = 0; i < rows; i++)
            it_put_row(b, seed, it_id(1, k, i), 0);
        strom_buf_clear(&wire);
        st_encode(b, strom_schema_id(strom_table_schema(rt)), NULL, -1, -1, &wire);
        proto_msg m = {0}, r;
        m.req.produce.table = proto_s("t");
        m.req.produce.bucket = k % 2;
        m.req.produce.acks = PROTO_ACKS_DURABLE;
        m.req.produce.records.bytes = (proto_bytes){wire.data, (uint32_t)wire.len};
        ST_OK(&C, PROTO_PRODUCE_LOG, &m, &r);
        int64_t first;
        IT_OK(strom_table_append_encoded(rt, k % 2, wire.data, wire.len, &first));
        IT_CHECK(r.resp.produce.first_offset == first &&
                     r.resp.produce.last_offset == first + rows - 1 &&
                     r.resp.produce.high_watermark == first + rows && r.resp.produce.bucket == k % 2,
                 "produce %d: offsets %lld..%lld hw %lld, reference %lld", k,
                 (long long)r.resp.produce.first_offset, (long long)r.resp.produce.last_offset,
                 (long long)r.resp.produce.high_watermark, (long long)first);
    }
    /* a batch of the wrong schema id and a bucket out of range: refused, named */
    proto_msg m = {0}, r;
    strom_put_u32(wire.data + 28, 7);
    fmt_batch_stamp(wire.data, 0, 0);
    m.req.produce.table = proto_s("t");
    m.req.produce.records.bytes = (proto_bytes){wire.data, (uint32_t)wire.len};
    IT_CHECK(st_call(&C, PROTO_PRODUCE_LOG, &m, &r) == STROM_ESCHEMA, "schema: %s", C.err);
    m.req.produce.bucket = 5;
    IT_CHECK(st_call(&C, PROTO_PRODUCE_LOG, &m, &r) != STROM_OK && strstr(C.err, "5"),
             "bucket: %s", C.err);
    strom_buf_free(&wire);
    strom_builder_destroy(b);
    strom_schema_destroy(s);
    strom_table_close(rt);
}

/* Fetch everything of both buckets, plain and projected + filtered, against reference scans. */
static void fetch_compare(int projected)
{
    strom_table *rt;
    IT_OK(strom_table_open(ref, "t", &rt));
    proto_str cols[2] = {proto_s("id"), proto_s("v")};
    proto_pred pred = {proto_s("v"), STROM_OP_GT, {.type = STROM_DOUBLE, .v.d = 0}};
    for (int bk = 0; bk < 2; bk++) {
        strom_read_opts o = {0};
        const char *names[2] = {"id", "v"};
        strom_pred rp = {"v", STROM_OP_GT, {.type = STROM_DOUBLE, .v.d = 0}};
        if (projected) {
            o.columns = names;
            o.ncolumns = 2;
            o.preds = &rp;
            o.npreds = 1;
            o.batch_level_only = 1;
        }
        strom_scan *sc;
        IT_OK(strom_scan_open(rt, bk, 0, &o, &sc));
        int64_t off = 0, end, earliest;
        IT_OK(strom_table_offsets(rt, bk, &earliest, &end));
        int64_t nref = 0, ngot = 0;
        const strom_batch *want;
        while (off < end) {
            proto_fetch_bucket fb = {.bucket = bk, .offset = off, .max_bytes = 20000};
            if (projected) {
                fb.ncolumns = 2;
                fb.columns = cols;
                fb.npreds = 1;
                fb.preds = &pred;
            }
            proto_msg m = {0}, r;
            m.req.fetch.table = proto_s("t");
            m.req.fetch.nbuckets = 1;
            m.req.fetch.buckets = &fb;
            ST_OK(&C, PROTO_FETCH_LOG, &m, &r);
            const proto_fetch_result *res = &r.resp.fetch.buckets[0];
            IT_CHECK(res->error == 0 && res->high_watermark == end && res->log_start_offset == 0,
                     "fetch result: error %d hw %lld", res->error, (long long)res->high_watermark);
            size_t pos = 0, len;
            const uint8_t *p;
            int got_any = 0;
            while ((p = st_next_batch(res->records, &pos, &len)) != NULL) {
                strom_batch *g = st_decode(p, len);
                IT_OK(strom_scan_next(sc, &want));
                IT_CHECK(want != NULL, "the server returned more batches than the reference");
                IT_CHECK(strom_batch_base_offset(g) == strom_batch_row_offset(want, 0),
                         "batch offset %lld vs %lld", (long long)strom_batch_base_offset(g),
                         (long long)strom_batch_row_offset(want, 0));
                if (!projected) {
                    same_rows(g, want);
                } else {
                    IT_CHECK(strom_batch_ncols(g) == 2 && strom_batch_nrows(g) ==
                                                             strom_batch_nrows(want), "projection");
                    for (int64_t i = 0; i < strom_batch_nrows(g); i++)
                        IT_CHECK(strom_batch_get_int(g, 0, i) == strom_batch_get_int(want, 0, i) &&
                                     strom_batch_is_null(g, 1, i) == strom_batch_is_null(want, 1, i),
                                 "projected row %lld", (long long)i);
                }
                ngot += strom_batch_nrows(g);
                nref += strom_batch_nrows(want);
                off = strom_batch_base_offset(g) + strom_batch_nrows(g);
                got_any = 1;
                strom_batch_destroy(g);
            }
            if (!got_any)
                break; /* a filtered read may skip the rest */
        }
        IT_OK(strom_scan_next(sc, &want));
        IT_CHECK(want == NULL, "the reference has more batches than the server returned");
        IT_CHECK(ngot == nref && (projected || ngot == end), "bucket %d: %lld rows, reference %lld",
                 bk, (long long)ngot, (long long)nref);
        strom_scan_close(sc);
    }
    strom_table_close(rt);
}

static void test_offsets(void)
{
    strom_table *rt;
    IT_OK(strom_table_open(ref, "t", &rt));
    int32_t buckets[3] = {0, 1, 9};
    for (int spec = 0; spec <= 2; spec++) {
        proto_msg m = {0}, r;
        m.req.list_offsets.table = proto_s("t");
        m.req.list_offsets.spec = (uint8_t)spec;
        m.req.list_offsets.timestamp = strom_now_ms() - 1000;
        m.req.list_offsets.nbuckets = 3;
        m.req.list_offsets.buckets = buckets;
        ST_OK(&C, PROTO_LIST_OFFSETS, &m, &r);
        IT_CHECK(r.resp.list_offsets.nbuckets == 3, "3 results");
        for (int i = 0; i < 2; i++) {
            int64_t e, end, want;
            IT_OK(strom_table_offsets(rt, i, &e, &end));
            want = spec == 0 ? e : end;
            if (spec == 2)
                IT_OK(strom_table_seek_time(rt, i, m.req.list_offsets.timestamp, &want));
            IT_CHECK(r.resp.list_offsets.buckets[i].error == 0 &&
                         r.resp.list_offsets.buckets[i].offset == want,
                     "spec %d bucket %d: %lld, reference %lld", spec, i,
                     (long long)r.resp.list_offsets.buckets[i].offset, (long long)want);
        }
        IT_CHECK(r.resp.list_offsets.buckets[2].error != 0, "bucket 9 is an error");
    }
    strom_table_close(rt);
}

static void test_key_history(void)
{
    strom_table *rt;
    IT_OK(strom_table_open(ref, "grid.h", &rt));
    strom_schema *s = it_schema();
    strom_builder *b = strom_builder_create(s);
    for (int i = 0; i < 400; i++)
        it_put_row(b, seed, it_id(2, 0, i), 0);
    strom_buf wire = {0};
    st_encode(b, strom_schema_id(strom_table_schema(rt)), NULL, -1, -1, &wire);
    proto_msg m = {0}, r;
    m.req.produce.table = proto_s("grid.h");
    m.req.produce.acks = 1;
    m.req.produce.records.bytes = (proto_bytes){wire.data, (uint32_t)wire.len};
    ST_OK(&C, PROTO_PRODUCE_LOG, &m, &r);
    IT_OK(strom_table_append_encoded(rt, 0, wire.data, wire.len, NULL));
    for (int d = 0; d < 50; d += 7) {
        char dev[16];
        snprintf(dev, sizeof dev, "dev-%d", d);
        strom_value key = {.type = STROM_STRING, .v.s = {dev, strlen(dev)}};
        memset(&m, 0, sizeof m);
        m.req.key_history.table = proto_s("grid.h");
        m.req.key_history.key = (proto_key){1, &key};
        m.req.key_history.at_or_before = IT_T0 + 1800000;
        m.req.key_history.n = 5;
        ST_OK(&C, PROTO_KEY_HISTORY, &m, &r);
        strom_batch *want = NULL;
        IT_OK(strom_table_key_history(rt, &key, 1, IT_T0 + 1800000, 5, NULL, 0, &want));
        size_t pos = 0, len;
        const uint8_t *p = st_next_batch(r.resp.key_history.records, &pos, &len);
        IT_CHECK((p != NULL) == (want != NULL && strom_batch_nrows(want) > 0), "dev %d", d);
        if (p) {
            strom_batch *g = st_decode(p, len);
            same_rows(g, want);
            strom_batch_destroy(g);
        }
        strom_batch_destroy(want);
    }
    strom_buf_free(&wire);
    strom_builder_destroy(b);
    strom_schema_destroy(s);
    strom_table_close(rt);
}

/* ------------------------------------------------------ primary-key tables */

/* A 3-column table name keyed by its column 0, with nbuckets buckets, on the server and
 * on the reference (not_null[i]: column i is NOT NULL). */
static void create_pk_table(const char *name, const char *const *names, const int *types,
                            const int *not_null, const char *nbuckets)
{
    proto_column cols[3];
    strom_schema *s = strom_schema_create();
    for (int i = 0; i < 3; i++) {
        cols[i] = col(names[i], types[i], not_null[i]);
        IT_OK(strom_schema_add(s, names[i], types[i], not_null[i]));
    }
    uint32_t pk = 0;
    proto_option o = {proto_s("bucket.num"), proto_s(nbuckets)};
    proto_msg m = {0}, r;
    m.req.create_table.name = proto_s(name);
    m.req.create_table.schema = (proto_schema){3, cols, 1, &pk, 1, &o};
    ST_OK(&C, PROTO_CREATE_TABLE, &m, &r);
    IT_OK(strom_schema_set_primary_key(s, &names[0], 1));
    const char *opts[] = {"bucket.num", nbuckets, NULL};
    IT_OK(strom_table_create(ref, name, s, opts));
    strom_schema_destroy(s);
}

static void create_kv(void)
{
    const char *names[] = {"k", "name", "v"};
    create_pk_table("grid.kv", names, (int[]){STROM_BIGINT, STROM_STRING, STROM_DOUBLE},
                    (int[]){1, 0, 0}, "3");
}

/* Rows k in [0, n): upserts (round 0) or every third key deleted (round 1), as one wire
 * batch to the server (writer 7, sequence round) and the same write to the reference. */
static void kv_round(strom_table *rt, int round, int n, int retry)
{
    strom_builder *b = strom_builder_create(strom_table_schema(rt));
    uint8_t *changes = calloc((size_t)n, 1);
    int rows = 0;
    for (int k = 0; k < n; k++) {
        if (round == 1 && k % 3)
            continue;
        char name[32];
        snprintf(name, sizeof name, "n%d-%d", k, round);
        IT_OK(strom_builder_put_int(b, 0, k));
        IT_OK(strom_builder_put_str(b, 1, name, strlen(name)));
        IT_OK(k % 5 ? strom_builder_put_f64(b, 2, k * 1.5) : strom_builder_put_null(b, 2));
        IT_OK(strom_builder_end_row(b));
        changes[rows++] = round == 1 ? STROM_DELETE : STROM_INSERT;
    }
    strom_buf wire = {0};
    st_encode(b, strom_schema_id(strom_table_schema(rt)), changes, 7, round, &wire);
    proto_msg m = {0}, r;
    m.req.produce.table = proto_s("grid.kv");
    m.req.produce.acks = 1;
    m.req.produce.records.bytes = (proto_bytes){wire.data, (uint32_t)wire.len};
    ST_OK(&C, PROTO_PUT_KV, &m, &r);
    if (!retry) {
        strom_write_opts o = {.delete_rows = round == 1};
        IT_OK(strom_table_write(rt, b, &o, NULL));
    }
    strom_buf_free(&wire);
    free(changes);
    strom_builder_destroy(b);
}

static void same_kv_rows(const strom_batch *g, const strom_batch *w, int ncols_g, const int *map)
{
    IT_CHECK(strom_batch_nrows(g) == strom_batch_nrows(w), "rows %lld vs %lld",
             (long long)strom_batch_nrows(g), (long long)strom_batch_nrows(w));
    for (int64_t r = 0; r < strom_batch_nrows(g); r++)
        for (int c = 0; c < ncols_g; c++) {
            int wc = map ? map[c] : c;
            IT_CHECK(strom_batch_is_null(g, c, r) == strom_batch_is_null(w, wc, r), "null");
            if (strom_batch_is_null(g, c, r))
                continue;
            if (wc == 0)
                IT_CHECK(strom_batch_get_int(g, c, r) == strom_batch_get_int(w, wc, r), "k");
            else if (wc == 2)
                IT_CHECK(strom_batch_get_f64(g, c, r) == strom_batch_get_f64(w, wc, r), "v");
            else {
                size_t la, lb;
                const char *a = strom_batch_get_str(g, c, r, &la);
                const char *b = strom_batch_get_str(w, wc, r, &lb);
                IT_CHECK(la == lb && !memcmp(a, b, la), "name");
            }
        }
}

/* LOOKUP AS OF a time between the rounds: the rows before the deletes, as the reference. */
static void test_asof(strom_table *rt, const strom_value *keys, proto_key *pk, int n, int64_t at)
{
    int64_t *times = calloc((size_t)n, sizeof *times);
    uint8_t *found = calloc((size_t)n, 1);
    for (int i = 0; i < n; i++)
        times[i] = at;
    strom_builder *b = strom_builder_create(strom_table_schema(rt));
    IT_OK(strom_table_lookup_batch_asof_into(rt, keys, 1, (size_t)n, times, found, b));
    strom_batch *want = fmt_batch_create(3);
    IT_OK(fmt_batch_from_builder(b, NULL, 0, want));
    int nfound = 0;
    for (int i = 0; i < n; i++)
        nfound += found[i];
    IT_CHECK(nfound > n / 2, "AS OF before the deletes finds most keys (%d of %d)", nfound, n);
    proto_msg m = {0}, r;
    m.req.lookup.table = proto_s("grid.kv");
    m.req.lookup.nkeys = (uint32_t)n;
    m.req.lookup.keys = pk;
    m.req.lookup.has_as_of = 1;
    m.req.lookup.as_of = at;
    ST_OK(&C, PROTO_LOOKUP, &m, &r);
    IT_CHECK(r.resp.lookup.nfound == (uint32_t)n && !memcmp(r.resp.lookup.found, found, (size_t)n),
             "AS OF found flags");
    size_t pos = 0, len;
    const uint8_t *p = st_next_batch(r.resp.lookup.records, &pos, &len);
    IT_CHECK(p != NULL, "AS OF rows");
    strom_batch *g = st_decode(p, len);
    same_kv_rows(g, want, 3, NULL);
    strom_batch_destroy(g);
    strom_batch_destroy(want);
    strom_builder_destroy(b);
    free(times);
    free(found);
}

/* SCAN_KV of a bucket in pages of 7 rows, projected (v, k), against a reference snapshot. */
static void test_scan(strom_table *rt, int bucket)
{
    const char *names[2] = {"v", "k"};
    strom_read_opts o = {.columns = names, .ncolumns = 2};
    strom_snapshot *snap;
    IT_OK(strom_snapshot_open(rt, bucket, &o, &snap));
    proto_str proj[2] = {proto_s("v"), proto_s("k")};
    char resume[64] = "";
    int64_t wrow = 0, pages = 0;
    const strom_batch *want = NULL;
    IT_OK(strom_snapshot_next(snap, &want));
    for (;;) {
        proto_msg m = {0}, r;
        m.req.scan_kv.table = proto_s("grid.kv");
        m.req.scan_kv.bucket = bucket;
        m.req.scan_kv.columns = proj;
        m.req.scan_kv.ncolumns = 2;
        m.req.scan_kv.limit = 7;
        m.req.scan_kv.resume = proto_s(resume);
        ST_OK(&C, PROTO_SCAN_KV, &m, &r);
        IT_CHECK(r.resp.scan_kv.snapshot_offset == strom_snapshot_offset(snap),
                 "snapshot offset %lld vs %lld", (long long)r.resp.scan_kv.snapshot_offset,
                 (long long)strom_snapshot_offset(snap));
        size_t pos = 0, len;
        const uint8_t *p;
        int64_t got = 0;
        while ((p = st_next_batch(r.resp.scan_kv.records, &pos, &len)) != NULL) {
            strom_batch *g = st_decode(p, len);
            for (int64_t i = 0; i < strom_batch_nrows(g); i++, wrow++, got++) {
                if (want && wrow == strom_batch_nrows(want)) {
                    IT_OK(strom_snapshot_next(snap, &want));
                    wrow = 0;
                }
                IT_CHECK(want != NULL, "the server scans more rows than the reference");
                IT_CHECK(strom_batch_get_int(g, 1, i) == strom_batch_get_int(want, 1, wrow) &&
                             strom_batch_is_null(g, 0, i) == strom_batch_is_null(want, 0, wrow),
                         "bucket %d row %lld", bucket, (long long)i);
            }
            strom_batch_destroy(g);
        }
        IT_CHECK(got <= 7, "page of %lld rows, limit 7", (long long)got);
        pages++;
        if (!r.resp.scan_kv.more)
            break;
        IT_CHECK(got == 7, "a page before the last is full");
        snprintf(resume, sizeof resume, "%.*s", (int)r.resp.scan_kv.resume.len,
                 r.resp.scan_kv.resume.p);
        if (pages == 1) { /* the token belongs to this bucket */
            m.req.scan_kv.bucket = (bucket + 1) % 3;
            m.req.scan_kv.resume = proto_s(resume);
            IT_CHECK(st_call(&C, PROTO_SCAN_KV, &m, &r) == STROM_EINVAL, "other bucket: %s", C.err);
        }
    }
    IT_CHECK(!want || wrow == strom_batch_nrows(want), "the server scanned fewer rows");
    IT_OK(strom_snapshot_next(snap, &want));
    IT_CHECK(want == NULL, "the reference has more rows");
    strom_snapshot_close(snap);
    proto_msg m = {0}, r;
    m.req.scan_kv.table = proto_s("grid.kv");
    m.req.scan_kv.resume = proto_s(resume);
    IT_CHECK(st_call(&C, PROTO_SCAN_KV, &m, &r) == STROM_ENOTFOUND, "finished token: %s", C.err);
}

static void test_kv(void)
{
    create_kv();
    strom_table *rt;
    IT_OK(strom_table_open(ref, "grid.kv", &rt));
    kv_round(rt, 0, 90, 0);
    usleep(20000);
    int64_t between = strom_now_ms(); /* after round 0 on both sides, before round 1 */
    usleep(20000);
    kv_round(rt, 1, 90, 0);
    kv_round(rt, 1, 90, 1); /* the same idempotent batch again: a retry, nothing changes */
    enum { NK = 100 };
    strom_value keys[NK];
    proto_key pk[NK];
    for (int i = 0; i < NK; i++) {
        keys[i] = (strom_value){.type = STROM_BIGINT, .v.i = (i * 7) % 120};
        pk[i] = (proto_key){1, &keys[i]};
    }
    uint8_t found[NK];
    strom_batch *want = NULL;
    IT_OK(strom_table_lookup_batch(rt, keys, 1, NK, found, &want));
    proto_str proj[2] = {proto_s("v"), proto_s("k")};
    int map[2] = {2, 0};
    for (int projected = 0; projected < 2; projected++) {
        proto_msg m = {0}, r;
        m.req.lookup.table = proto_s("grid.kv");
        m.req.lookup.nkeys = NK;
        m.req.lookup.keys = pk;
        m.req.lookup.ncolumns = projected ? 2 : 0;
        m.req.lookup.columns = proj;
        ST_OK(&C, PROTO_LOOKUP, &m, &r);
        IT_CHECK(r.resp.lookup.nfound == NK && !memcmp(r.resp.lookup.found, found, NK), "found");
        size_t pos = 0, len;
        const uint8_t *p = st_next_batch(r.resp.lookup.records, &pos, &len);
        IT_CHECK(p && want, "rows found");
        strom_batch *g = st_decode(p, len);
        same_kv_rows(g, want, projected ? 2 : 3, projected ? map : NULL);
        strom_batch_destroy(g);
    }
    /* a column named twice comes twice */
    {
        proto_str kk[2] = {proto_s("k"), proto_s("k")};
        proto_msg m = {0}, r;
        m.req.lookup.table = proto_s("grid.kv");
        m.req.lookup.nkeys = NK;
        m.req.lookup.keys = pk;
        m.req.lookup.ncolumns = 2;
        m.req.lookup.columns = kk;
        ST_OK(&C, PROTO_LOOKUP, &m, &r);
        size_t pos = 0, len = 0;
        const uint8_t *p = st_next_batch(r.resp.lookup.records, &pos, &len);
        IT_CHECK(p != NULL, "rows with a doubled column");
        strom_batch *g = st_decode(p, len);
        int kmap[2] = {0, 0};
        same_kv_rows(g, want, 2, kmap);
        strom_batch_destroy(g);
    }
    strom_batch_destroy(want);
    /* prefix lookup (bucket.key = the key): one key */
    strom_value k3 = {.type = STROM_BIGINT, .v.i = 4};
    proto_msg m = {0}, r;
    m.req.prefix_lookup.table = proto_s("grid.kv");
    m.req.prefix_lookup.prefix = (proto_key){1, &k3};
    ST_OK(&C, PROTO_PREFIX_LOOKUP, &m, &r);
    IT_OK(strom_table_prefix_lookup(rt, &k3, 1, &want));
    size_t pos = 0, len;
    const uint8_t *p = st_next_batch(r.resp.prefix_lookup.records, &pos, &len);
    IT_CHECK(p && want, "prefix rows");
    strom_batch *g = st_decode(p, len);
    same_kv_rows(g, want, 3, NULL);
    strom_batch_destroy(g);
    strom_batch_destroy(want);
    /* a wrong key arity */
    memset(&m, 0, sizeof m);
    strom_value two[2] = {k3, k3};
    proto_key bad = {2, two};
    m.req.lookup.table = proto_s("grid.kv");
    m.req.lookup.nkeys = 1;
    m.req.lookup.keys = &bad;
    IT_CHECK(st_call(&C, PROTO_LOOKUP, &m, &r) == STROM_EINVAL, "arity: %s", C.err);
    test_asof(rt, keys, pk, NK, between);
    for (int bk = 0; bk < 3; bk++)
        test_scan(rt, bk);
    /* the changelog is a log: a plain fetch returns the stored changelog batches */
    int64_t e0, end0;
    IT_OK(strom_table_offsets(rt, 0, &e0, &end0));
    proto_fetch_bucket fb = {.bucket = 0};
    memset(&m, 0, sizeof m);
    m.req.fetch.table = proto_s("grid.kv");
    m.req.fetch.nbuckets = 1;
    m.req.fetch.buckets = &fb;
    ST_OK(&C, PROTO_FETCH_LOG, &m, &r);
    IT_CHECK(r.resp.fetch.buckets[0].high_watermark == end0, "changelog end %lld vs %lld",
             (long long)r.resp.fetch.buckets[0].high_watermark, (long long)end0);
    strom_table_close(rt);
}

/* Column by column, row by row: got (a wire batch) equals want (the reference's). */
static void same_batch(const strom_batch *got, const strom_batch *want, const char *what)
{
    IT_CHECK(strom_batch_nrows(got) == strom_batch_nrows(want) &&
                 strom_batch_ncols(got) == strom_batch_ncols(want),
             "%s: %lld rows x %d columns, want %lld x %d", what, (long long)strom_batch_nrows(got),
             strom_batch_ncols(got), (long long)strom_batch_nrows(want), strom_batch_ncols(want));
    for (int c = 0; c < strom_batch_ncols(want); c++) {
        strom_column cw;
        IT_OK(strom_batch_column(want, c, &cw));
        for (int64_t r = 0; r < strom_batch_nrows(want); r++) {
            int nul = strom_batch_is_null(want, c, r);
            IT_CHECK(strom_batch_is_null(got, c, r) == nul, "%s: row %lld col %d null", what,
                     (long long)r, c);
            if (nul)
                continue;
            size_t la, lb;
            int same = cw.type == STROM_STRING
                           ? (strom_batch_get_str(got, c, r, &la),
                              strom_batch_get_str(want, c, r, &lb), la == lb) &&
                                 !memcmp(strom_batch_get_str(got, c, r, &la),
                                         strom_batch_get_str(want, c, r, &lb), la)
                       : cw.type == STROM_DOUBLE
                           ? strom_batch_get_f64(got, c, r) == strom_batch_get_f64(want, c, r)
                           : strom_batch_get_int(got, c, r) == strom_batch_get_int(want, c, r);
            IT_CHECK(same, "%s: row %lld col %d differs", what, (long long)r, c);
        }
    }
}

/* grid.kv2 (id STRING key, x DOUBLE nullable, n INT): 300 rows, on both sides. */
static strom_table *create_kv2(void)
{
    const char *names[] = {"id", "x", "n"};
    create_pk_table("grid.kv2", names, (int[]){STROM_STRING, STROM_DOUBLE, STROM_INT},
                    (int[]){1, 0, 1}, "2");
    strom_table *rt;
    IT_OK(strom_table_open(ref, "grid.kv2", &rt));
    proto_msg m = {0}, r;
    strom_builder *b = strom_builder_create(strom_table_schema(rt));
    uint8_t changes[300] = {0};
    for (int k = 0; k < 300; k++) {
        char id[32];
        snprintf(id, sizeof id, "dev-%04d", k);
        IT_OK(strom_builder_put_str(b, 0, id, strlen(id)));
        IT_OK(k % 4 ? strom_builder_put_f64(b, 1, (double)(seed % 1000) + k / 8.0)
                    : strom_builder_put_null(b, 1));
        IT_OK(strom_builder_put_int(b, 2, k * 3 - 400));
        IT_OK(strom_builder_end_row(b));
        changes[k] = STROM_INSERT;
    }
    strom_buf wire = {0};
    st_encode(b, strom_schema_id(strom_table_schema(rt)), changes, 8, 0, &wire);
    memset(&m, 0, sizeof m);
    m.req.produce.table = proto_s("grid.kv2");
    m.req.produce.acks = 1;
    m.req.produce.records.bytes = (proto_bytes){wire.data, (uint32_t)wire.len};
    ST_OK(&C, PROTO_PUT_KV, &m, &r);
    strom_write_opts wo = {0};
    IT_OK(strom_table_write(rt, b, &wo, NULL));
    strom_buf_free(&wire);
    strom_builder_destroy(b);
    return rt;
}

/* One LOOKUP of keys[0..n) of table name on the server against the reference. */
static void lookup_vs_ref(strom_table *rt, const char *name, const strom_value *keys, int n)
{
    proto_key *pk = calloc((size_t)n, sizeof *pk);
    uint8_t *found = calloc((size_t)n, 1);
    for (int i = 0; i < n; i++)
        pk[i] = (proto_key){1, (strom_value *)&keys[i]};
    strom_batch *want = NULL;
    IT_OK(strom_table_lookup_batch(rt, keys, 1, (size_t)n, found, &want));
    proto_msg m = {0}, r;
    m.req.lookup.table = proto_s(name);
    m.req.lookup.nkeys = (uint32_t)n;
    m.req.lookup.keys = pk;
    ST_OK(&C, PROTO_LOOKUP, &m, &r);
    IT_CHECK(r.resp.lookup.nfound == (uint32_t)n && !memcmp(r.resp.lookup.found, found, (size_t)n),
             "%s: found flags of %d keys", name, n);
    size_t pos = 0, len;
    const uint8_t *p = st_next_batch(r.resp.lookup.records, &pos, &len);
    IT_CHECK(!p == !want, "%s: %s rows", name, want ? "no" : "unexpected");
    if (p) {
        strom_batch *g = st_decode(p, len);
        char what[64];
        snprintf(what, sizeof what, "%s, %d keys", name, n);
        same_batch(g, want, what);
        strom_batch_destroy(g);
        IT_CHECK(st_next_batch(r.resp.lookup.records, &pos, &len) == NULL, "one result batch");
    }
    strom_batch_destroy(want);
    free(pk);
    free(found);
}

/* Lookups alternating between two key-value tables of different column types on one
 * connection (the server's per-thread result builder is remade for each), a key count of
 * 1, 9 and 700 (that one runs on a worker), missing keys and NULLs: every answer is the
 * embedded engine's. */
static void test_lookup_tables(void)
{
    strom_table *r1, *r2 = create_kv2();
    IT_OK(strom_table_open(ref, "grid.kv", &r1));
    enum { NK = 705 }; /* 700 keys from any of the 5 rounds' starts */
    static strom_value k1[NK], k2[NK];
    static char ids[NK][32];
    uint64_t x = seed | 1;
    for (int i = 0; i < NK; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        k1[i] = (strom_value){.type = STROM_BIGINT, .v.i = (int64_t)(x % 150)}; /* 0..89 exist */
        snprintf(ids[i], sizeof ids[i], "dev-%04d", (int)(x % 400));          /* 0..299 exist */
        k2[i] = (strom_value){.type = STROM_STRING, .v.s = {ids[i], strlen(ids[i])}};
    }
    const int counts[] = {1, 9, 700, 1, 9};
    for (int round = 0; round < 5; round++) {
        lookup_vs_ref(r2, "grid.kv2", k2 + round, counts[round]);
        lookup_vs_ref(r1, "grid.kv", k1 + round, counts[round]);
    }
    strom_value none = {.type = STROM_STRING, .v.s = {"no-such", 7}};
    lookup_vs_ref(r2, "grid.kv2", &none, 1);
    strom_table_close(r1);
    strom_table_close(r2);
}

static void test_stats_and_drops(void)
{
    proto_msg m = {0}, r;
    ST_OK(&C, PROTO_STATS, &m, &r);
    int64_t requests = -1, conns = -1;
    for (uint32_t i = 0; i < r.resp.stats.nstats; i++) {
        if (proto_str_eq(r.resp.stats.stats[i].name, "requests"))
            requests = r.resp.stats.stats[i].value;
        if (proto_str_eq(r.resp.stats.stats[i].name, "connections"))
            conns = r.resp.stats.stats[i].value;
    }
    IT_CHECK(requests > 20 && conns == 1, "server stats: requests %lld conns %lld",
             (long long)requests, (long long)conns);
    m.req.stats.table = proto_s("t");
    ST_OK(&C, PROTO_STATS, &m, &r);
    strom_table *rt;
    IT_OK(strom_table_open(ref, "t", &rt));
    int64_t rows = 0;
    for (int b = 0; b < 2; b++) {
        int64_t e, end;
        IT_OK(strom_table_offsets(rt, b, &e, &end));
        rows += end - e;
    }
    strom_table_close(rt);
    int ok = 0;
    for (uint32_t i = 0; i < r.resp.stats.nstats; i++)
        ok |= proto_str_eq(r.resp.stats.stats[i].name, "rows") && r.resp.stats.stats[i].value == rows;
    IT_CHECK(ok, "table stats rows = %lld", (long long)rows);

    memset(&m, 0, sizeof m);
    m.req.drop_table.name = proto_s("t");
    ST_OK(&C, PROTO_DROP_TABLE, &m, &r);
    IT_CHECK(st_call(&C, PROTO_DROP_TABLE, &m, &r) == STROM_ENOTFOUND, "again: %s", C.err);
    m.req.drop_table.if_exists = 1;
    ST_OK(&C, PROTO_DROP_TABLE, &m, &r);
    memset(&m, 0, sizeof m);
    m.req.drop_database.name = proto_s("grid");
    IT_CHECK(st_call(&C, PROTO_DROP_DATABASE, &m, &r) == STROM_EBUSY, "not empty: %s", C.err);
    m.req.drop_database.cascade = 1;
    ST_OK(&C, PROTO_DROP_DATABASE, &m, &r);
    memset(&m, 0, sizeof m);
    ST_OK(&C, PROTO_LIST_TABLES, &m, &r);
    IT_CHECK(r.resp.list_tables.nnames == 0, "no tables left: %u", r.resp.list_tables.nnames);
    ST_OK(&C, PROTO_LIST_DATABASES, &m, &r);
    IT_CHECK(r.resp.list_tables.nnames == 1, "only default left");
}

int main(void)
{
    seed = it_seed();
    char dir[256], refdir[256];
    it_mktemp(dir, sizeof dir, "strom-srv-api-");
    it_mktemp(refdir, sizeof refdir, "strom-srv-ref-");
    printf("test_server_api: seed %llu, data %s\n", (unsigned long long)seed, dir);
    IT_OK(strom_db_open(refdir, &ref));
    st_server srv;
    st_start(&srv, dir, NULL);
    st_connect(&C, srv.port);
    test_versions_and_errors();
    test_databases_and_tables();
    test_produce();
    fetch_compare(0);
    fetch_compare(1);
    test_offsets();
    test_key_history();
    test_kv();
    test_lookup_tables();
    test_stats_and_drops();
    st_close(&C);
    IT_CHECK(st_stop(&srv, SIGTERM) == 0, "server exit status");
    strom_db_close(ref);
    it_rmtree(dir);
    it_rmtree(refdir);
    printf("test_server_api: ok\n");
    return 0;
}
