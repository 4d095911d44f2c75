/*
 * test_server_garbage.c: malformed requests against the real server. Valid requests of
 * every api are mutated (truncated, bytes flipped, bytes appended; the frame header stays
 * well-formed) and sent, pipelined, on a few connections. Every request must get its own
 * answer, in order (OK, or an error with a message; a malformed body is EPROTO naming a
 * field), the connections must stay usable, and the server must survive and exit 0 on
 * SIGTERM (under ASan: without a memory error or a leak). Iterations: STROM_GARBAGE_N
 * (default 3000).
 */
#include "srvtest.h"

static uint64_t rng;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A valid request of api (small, touching table "g" or "kvg"). */
static void valid_request(int api, strom_buf *out, int32_t rid, const strom_buf *batch)
{
    static proto_column cols[2] = {{{"k", 1}, STROM_BIGINT, 1}, {{"v", 1}, STROM_DOUBLE, 0}};
    static uint32_t pk = 0;
    static proto_str names[2] = {{"k", 1}, {"v", 1}};
    static strom_value key = {.type = STROM_BIGINT, .v.i = 3};
    static proto_key k = {1, &key};
    static proto_pred pred = {{"v", 1}, STROM_OP_GT, {.type = STROM_DOUBLE, .v.d = 0.5}};
    static int32_t buckets[2] = {0, 1};
    proto_fetch_bucket fb = {.bucket = 0, .offset = 0, .max_bytes = 4096, .ncolumns = 1,
                             .columns = names, .npreds = 1, .preds = &pred};
    proto_msg m = {0};
    const char *table = rnd() % 2 ? "g" : "kvg";
    switch (api) {
    case PROTO_CREATE_TABLE:
        m.req.create_table.name = proto_s(rnd() % 2 ? "g2" : "kvg2");
        m.req.create_table.schema = (proto_schema){2, cols, (uint32_t)(rnd() % 2), &pk, 0, NULL};
        m.req.create_table.if_not_exists = 1;
        break;
    case PROTO_DROP_TABLE:
        m.req.drop_table.name = proto_s(rnd() % 2 ? "g2" : "kvg2");
        m.req.drop_table.if_exists = 1;
        break;
    case PROTO_LIST_TABLES: m.req.list_tables.database = proto_s("default"); break;
    case PROTO_GET_TABLE_INFO: m.req.get_table_info.name = proto_s(table); break;
    case PROTO_PRODUCE_LOG:
    case PROTO_PUT_KV:
        m.req.produce.table = proto_s(api == PROTO_PUT_KV ? "kvg" : "g");
        m.req.produce.acks = 1;
        m.req.produce.records.bytes = (proto_bytes){batch->data, (uint32_t)batch->len};
        break;
    case PROTO_FETCH_LOG:
        m.req.fetch.table = proto_s(table);
        m.req.fetch.max_wait_ms = 10;
        m.req.fetch.nbuckets = 1;
        m.req.fetch.buckets = &fb;
        break;
    case PROTO_LIST_OFFSETS:
        m.req.list_offsets.table = proto_s(table);
        m.req.list_offsets.spec = (uint8_t)(rnd() % 3);
        m.req.list_offsets.nbuckets = 2;
        m.req.list_offsets.buckets = buckets;
        break;
    case PROTO_LOOKUP:
        m.req.lookup.table = proto_s("kvg");
        m.req.lookup.has_as_of = (uint8_t)(rnd() % 2);
        m.req.lookup.as_of = strom_now_ms();
        m.req.lookup.nkeys = 1;
        m.req.lookup.keys = &k;
        break;
    case PROTO_PREFIX_LOOKUP:
        m.req.prefix_lookup.table = proto_s("kvg");
        m.req.prefix_lookup.prefix = k;
        break;
    case PROTO_SCAN_KV:
        m.req.scan_kv.table = proto_s("kvg");
        m.req.scan_kv.limit = 2;
        break;
    case PROTO_KEY_HISTORY:
        m.req.key_history.table = proto_s(table);
        m.req.key_history.key = k;
        m.req.key_history.at_or_before = strom_now_ms();
        m.req.key_history.n = 3;
        break;
    case PROTO_STATS: m.req.stats.table = proto_s(rnd() % 2 ? table : ""); break;
    case PROTO_CREATE_DATABASE: m.req.create_database.name = proto_s("gdb"); m.req.create_database.if_not_exists = 1; break;
    case PROTO_DROP_DATABASE: m.req.drop_database.name = proto_s("gdb"); m.req.drop_database.if_exists = 1; break;
    case PROTO_EXECUTE_SQL: {
        static const char *const q[] = {"SELECT * FROM g", "SELECT count(*) FROM kvg", "SHOW TABLES",
                                        "SELEC 1", "SET 'execution.runtime-mode' = 'streaming'",
                                        "SET 'execution.runtime-mode' = 'batch'", "DESCRIBE g"};
        const char *t = q[rnd() % (sizeof q / sizeof q[0])];
        m.req.execute_sql.sql = (proto_bytes){(const uint8_t *)t, (uint32_t)strlen(t)};
        m.req.execute_sql.max_rows = (int32_t)(rnd() % 3);
        break;
    }
    case PROTO_FETCH_SQL:
    case PROTO_CANCEL_SQL:
        m.req.fetch_sql.cursor = 1 + (int64_t)(rnd() % 64);
        m.req.fetch_sql.max_rows = 2;
        m.req.fetch_sql.max_wait_ms = 10;
        break;
    default: break;
    }
    IT_OK(proto_encode_request(out, api, 0, rid, &m));
}

/* Mutates the body of the last frame in out (starting at start), keeping the header. */
static void mutate(strom_buf *out, size_t start)
{
    size_t body = start + PROTO_REQ_HDR, n = out->len - body;
    switch (rnd() % 3) {
    case 0: /* truncate */
        out->len = body + (n ? rnd() % n : 0);
        break;
    case 1: /* flip 1..3 bytes */
        for (int i = 0, k = 1 + (int)(rnd() % 3); n && i < k; i++)
            out->data[body + rnd() % n] ^= (uint8_t)(1 + rnd() % 255);
        break;
    default: { /* append 1..16 bytes */
        size_t k = 1 + rnd() % 16;
        uint8_t *p = strom_buf_grow(out, k);
        for (size_t i = 0; i < k; i++)
            p[i] = (uint8_t)rnd();
    }
    }
    strom_put_u32(out->data + start, (uint32_t)(out->len - start - 4));
}

static void setup_tables(st_conn *c, strom_buf *batch)
{
    proto_column cols[2] = {{proto_s("k"), STROM_BIGINT, 1}, {proto_s("v"), STROM_DOUBLE, 0}};
    uint32_t pk = 0;
    proto_option o = {proto_s("table.log.index.key"), proto_s("k")};
    proto_msg m = {0}, r;
    m.req.create_table.name = proto_s("g");
    m.req.create_table.schema = (proto_schema){2, cols, 0, NULL, 1, &o};
    ST_OK(c, PROTO_CREATE_TABLE, &m, &r);
    m.req.create_table.name = proto_s("kvg");
    m.req.create_table.schema = (proto_schema){2, cols, 1, &pk, 0, NULL};
    ST_OK(c, PROTO_CREATE_TABLE, &m, &r);
    /* both tables have schema id 1 and the same columns: one batch fits both */
    strom_schema *s = strom_schema_create();
    IT_OK(strom_schema_add(s, "k", STROM_BIGINT, 1));
    IT_OK(strom_schema_add(s, "v", STROM_DOUBLE, 0));
    strom_builder *b = strom_builder_create(s);
    for (int i = 0; i < 20; i++) {
        IT_OK(strom_builder_put_int(b, 0, i % 7));
        IT_OK(strom_builder_put_f64(b, 1, i * 0.25));
        IT_OK(strom_builder_end_row(b));
    }
    st_encode(b, 1, NULL, -1, -1, batch);
    strom_builder_destroy(b);
    strom_schema_destroy(s);
}

int main(void)
{
    uint64_t seed = it_seed();
    rng = seed | 1;
    const char *env = getenv("STROM_GARBAGE_N");
    int iters = env && atoi(env) > 0 ? atoi(env) : 3000;
    char dir[256];
    it_mktemp(dir, sizeof dir, "strom-srv-garbage-");
    printf("test_server_garbage: seed %llu, %d requests, data %s\n", (unsigned long long)seed,
           iters, dir);
    const char *extra[] = {"--fetch-max-wait-ms", "20", NULL};
    st_server srv;
    st_start(&srv, dir, extra);
    enum { NCONN = 4, DEPTH = 16 };
    st_conn c[NCONN];
    for (int i = 0; i < NCONN; i++)
        st_connect(&c[i], srv.port);
    strom_buf batch = {0}, out = {0};
    setup_tables(&c[0], &batch);
    int counts[64] = {0}, sent = 0;
    while (sent < iters) {
        int ci = (int)(rnd() % NCONN), apis[DEPTH];
        strom_buf_clear(&out);
        for (int d = 0; d < DEPTH; d++) {
            size_t start = out.len;
            apis[d] = (int)(rnd() % PROTO_API_COUNT);
            valid_request(apis[d], &out, 5000 + d, &batch);
            if (rnd() % 4)
                mutate(&out, start);
        }
        st_write(&c[ci], out.data, out.len);
        for (int d = 0; d < DEPTH; d++) {
            proto_msg r;
            int32_t rid;
            size_t len;
            const uint8_t *f = st_read_frame(&c[ci], &len, ST_TIMEOUT_MS);
            IT_CHECK(f != NULL, "request %d (api %s): the server closed the connection", sent + d,
                     proto_api_name(apis[d]));
            proto_resp_hdr h;
            IT_OK(proto_parse_response(f, len, &h));
            rid = h.request_id;
            IT_CHECK(rid == 5000 + d, "answer %d has id %d", d, rid);
            IT_CHECK(h.error == 0 || h.errmsg.len > 0, "error %d without a message", h.error);
            if (h.error == 0) /* an OK answer decodes as the api's response */
                IT_OK(proto_decode_response(apis[d], 0, h.body, h.body_len, (size_t)(h.body - f),
                                            &c[ci].arena, &r));
            counts[h.error & 63]++;
        }
        sent += DEPTH;
    }
    for (int i = 0; i < NCONN; i++) {
        proto_msg r;
        ST_OK(&c[i], PROTO_API_VERSIONS, NULL, &r);
        st_close(&c[i]);
    }
    printf("answers by error code:");
    for (int e = 0; e < 64; e++)
        if (counts[e])
            printf(" %s=%d", e == 0 ? "OK" : strom_strerror((strom_err)e), counts[e]);
    printf("\n");
    IT_CHECK(counts[STROM_EPROTO] > iters / 10, "few malformed bodies were detected (%d)",
             counts[STROM_EPROTO]);
    int rc = st_stop(&srv, SIGTERM);
    IT_CHECK(rc == 0, "server exit status %d", rc);
    strom_buf_free(&batch);
    strom_buf_free(&out);
    it_rmtree(dir);
    printf("test_server_garbage: ok\n");
    return 0;
}
