/*
 * test_server_load.c: the server under load (issue 4): 1,000 concurrent connections are
 * all served; a slow consumer that stops reading its answers (its responses pile up past
 * the per-connection buffer limit) never blocks producers or other clients, and when it
 * reads again it gets every answer, in order and correct.
 */
#define _GNU_SOURCE
#include <sys/resource.h>
#include <time.h>

#include "srvtest.h"

#define NCONN 1000
#define NPRODUCE 200
#define LIMIT (1 << 20)       /* --max-conn-buffer-bytes of the server */
#define MAX_BATCH (64 << 10)  /* well above one stored 500-row batch */
#define NSLOW 16

static uint64_t seed;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Resident memory of process pid in MB (from /proc). */
static double rss_mb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    IT_CHECK(f != NULL, "open %s", path);
    double kb = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            kb = atof(line + 6);
    fclose(f);
    return kb / 1024.0;
}

static void create_table(st_conn *c, const char *name)
{
    static proto_column cols[IT_NCOLS];
    strom_schema *s = it_schema();
    for (int i = 0; i < IT_NCOLS; i++)
        cols[i] = (proto_column){proto_s(strom_schema_col_name(s, i)),
                                 (uint8_t)strom_schema_col_type(s, i),
                                 (uint8_t)!strom_schema_col_nullable(s, i)};
    proto_option o = {proto_s("bucket.num"), proto_s("1")};
    proto_msg m = {0}, r;
    m.req.create_table.name = proto_s(name);
    m.req.create_table.schema = (proto_schema){IT_NCOLS, cols, 0, NULL, 1, &o};
    ST_OK(c, PROTO_CREATE_TABLE, &m, &r);
    strom_schema_destroy(s);
}

/* One wire batch of rows ids (writer 1, batch k, rows 0..n). */
static void batch_of(int k, int n, strom_buf *wire)
{
    strom_schema *s = it_schema();
    strom_builder *b = strom_builder_create(s);
    for (int i = 0; i < n; i++)
        it_put_row(b, seed, it_id(1, k, i), 0);
    strom_buf_clear(wire);
    st_encode(b, 1, NULL, -1, -1, wire);
    strom_builder_destroy(b);
    strom_schema_destroy(s);
}

static double produce_one(st_conn *c, int k, strom_buf *wire)
{
    proto_msg m = {0}, r;
    batch_of(k, 500, wire);
    m.req.produce.table = proto_s("t");
    m.req.produce.acks = PROTO_ACKS_DURABLE;
    m.req.produce.records.bytes = (proto_bytes){wire->data, (uint32_t)wire->len};
    int64_t t0 = now_ns();
    ST_OK(c, PROTO_PRODUCE_LOG, &m, &r);
    IT_CHECK(r.resp.produce.last_offset - r.resp.produce.first_offset == 499, "produce %d", k);
    return st_ms(now_ns() - t0);
}

/* 1,000 connections at once, each with two pipelined requests; all answered. */
static void test_many_connections(int port)
{
    static st_conn cs[NCONN];
    int64_t t0 = now_ns();
    for (int i = 0; i < NCONN; i++)
        st_connect(&cs[i], port);
    for (int i = 0; i < NCONN; i++) {
        proto_msg m = {0};
        m.req.list_tables.database = proto_s("");
        st_send(&cs[i], PROTO_API_VERSIONS, NULL);
        st_send(&cs[i], PROTO_LIST_TABLES, &m);
    }
    for (int i = 0; i < NCONN; i++) {
        proto_msg r;
        int32_t rid;
        IT_CHECK(st_recv(&cs[i], PROTO_API_VERSIONS, &rid, &r) == STROM_OK && rid == 1,
                 "connection %d: API_VERSIONS: %s", i, cs[i].err);
        IT_CHECK(r.resp.api_versions.napis >= 17, "connection %d: %u apis", i,
                 r.resp.api_versions.napis);
        IT_CHECK(st_recv(&cs[i], PROTO_LIST_TABLES, &rid, &r) == STROM_OK && rid == 2,
                 "connection %d: LIST_TABLES: %s", i, cs[i].err);
        IT_CHECK(r.resp.list_tables.nnames == 1 && proto_str_eq(r.resp.list_tables.names[0], "t"),
                 "connection %d: tables", i);
    }
    printf("%d connections, 2 requests each, all answered in %.0f ms\n", NCONN,
           st_ms(now_ns() - t0));
    for (int i = 0; i < NCONN; i++)
        st_close(&cs[i]);
}

/* Reads n pipelined FETCH_LOG answers (bucket 0 from offset 0) of c: in order, each row
 * right, at least one row (a fetch always returns a stored batch), and no answer above
 * the connection buffer limit plus one stored batch (the server's backpressure bound). */
static void read_answers(st_conn *c, int n, int first_id)
{
    for (int i = 0; i < n; i++) {
        proto_msg r;
        int32_t rid;
        IT_CHECK(st_recv(c, PROTO_FETCH_LOG, &rid, &r) == STROM_OK, "fetch %d: %s", i, c->err);
        IT_CHECK(rid == first_id + i, "fetch answer %d has request id %d", first_id + i, rid);
        IT_CHECK(r.resp.fetch.nbuckets == 1 && r.resp.fetch.buckets[0].error == 0,
                 "fetch %d: bucket error", i);
        uint32_t bytes = r.resp.fetch.buckets[0].records.bytes.len;
        IT_CHECK(bytes <= LIMIT + MAX_BATCH, "fetch %d: %u bytes of records, over the %d-byte "
                 "connection limit plus a batch", i, bytes, LIMIT);
        size_t off = 0, len;
        int64_t rows = 0;
        const uint8_t *p;
        while ((p = st_next_batch(r.resp.fetch.buckets[0].records, &off, &len))) {
            strom_batch *b = st_decode(p, len);
            for (int64_t j = 0; j < strom_batch_nrows(b); j++, rows++) {
                it_row got;
                char why[200];
                int64_t id = it_read_row(b, j, &got);
                IT_CHECK(!it_row_differs(seed, id, &got, why, sizeof why), "fetch %d: %s", i, why);
                IT_CHECK(id == it_id(1, rows / 500, (int)(rows % 500)),
                         "fetch %d: row %lld is not the next from offset 0", i, (long long)rows);
            }
            strom_batch_destroy(b);
        }
        IT_CHECK(rows >= 500, "fetch %d returned %lld rows", i, (long long)rows);
    }
}

/* A consumer that sends fetches and does not read; producers and others go on. */
static void test_slow_consumer(int port, pid_t server, st_conn *prod)
{
    strom_buf wire = {0};
    for (int k = 0; k < 40; k++)             /* 20,000 rows to fetch, a few MB */
        produce_one(prod, k, &wire);
    st_conn slow, other;
    st_connect(&slow, port);
    st_connect(&other, port);
    proto_fetch_bucket fb = {.bucket = 0, .offset = 0, .max_bytes = 8 << 20};
    proto_msg f = {0};
    f.req.fetch.table = proto_s("t");
    f.req.fetch.nbuckets = 1;
    f.req.fetch.buckets = &fb;
    enum { NFETCH = 60 };   /* ~2 MB each: far past the socket buffers and the 1 MiB limit */
    double rss0 = rss_mb(server);
    for (int i = 0; i < NFETCH; i++)
        st_send(&slow, PROTO_FETCH_LOG, &f);
    /* Producers and another client while the slow one's answers pile up. */
    double worst = 0, sum = 0, pings = 0;
    for (int k = 40; k < 40 + NPRODUCE; k++) {
        double ms = produce_one(prod, k, &wire);
        worst = ms > worst ? ms : worst;
        sum += ms;
        if (k % 20 == 0) {
            proto_msg r;
            int64_t t0 = now_ns();
            ST_OK(&other, PROTO_API_VERSIONS, NULL, &r);
            double p = st_ms(now_ns() - t0);
            pings = p > pings ? p : pings;
        }
    }
    /* Backpressure: the answers are not all buffered in the server. */
    double rss = rss_mb(server);
    IT_CHECK(rss - rss0 < 16, "server grew by %.0f MB while a consumer does not read", rss - rss0);
    printf("slow consumer holding %d unread fetches: %d produces (500 rows, durable): mean "
           "%.2f ms, worst %.2f ms; other client worst %.2f ms; server RSS %.0f -> %.0f MB\n",
           NFETCH, NPRODUCE, sum / NPRODUCE, worst, pings, rss0, rss);
    IT_CHECK(worst < 2000 && pings < 500, "a slow consumer delayed others: produce %.0f ms, "
             "other %.0f ms", worst, pings);
    /* The slow consumer reads now: every answer, in order, complete and right. */
    read_answers(&slow, NFETCH, 1);
    st_close(&slow);
    st_close(&other);
    strom_buf_free(&wire);
}

/* NSLOW consumers each pipeline fetches of ~4 MB (max_bytes 8 MiB) and read nothing:
 * each connection holds about LIMIT, not a whole answer (~4 MB; ~70 MB in all without
 * the bound), then every answer arrives, in order and right. */
static void test_many_slow_consumers(int port, pid_t server)
{
    static st_conn slow[NSLOW];
    proto_fetch_bucket fb = {.bucket = 0, .offset = 0, .max_bytes = 8 << 20};
    proto_msg f = {0};
    f.req.fetch.table = proto_s("t");
    f.req.fetch.nbuckets = 1;
    f.req.fetch.buckets = &fb;
    double rss0 = rss_mb(server), peak = rss0;
    for (int i = 0; i < NSLOW; i++) {
        st_connect(&slow[i], port);
        for (int k = 0; k < 3; k++)
            st_send(&slow[i], PROTO_FETCH_LOG, &f);
    }
    for (int t = 0; t < 30; t++) { /* 1.5 s for the server to do what it will */
        usleep(50000);
        double r = rss_mb(server);
        peak = r > peak ? r : peak;
    }
    double bound = NSLOW * 2.0 * LIMIT / 1048576.0 + 8;
    printf("%d slow consumers with 3 unread ~4 MB fetches each: server RSS %.0f -> peak %.0f MB "
           "(bound %.0f MB)\n", NSLOW, rss0, peak, bound);
    IT_CHECK(peak - rss0 < bound, "server grew by %.0f MB for %d slow consumers (limit %d bytes "
             "each)", peak - rss0, NSLOW, LIMIT);
    for (int i = 0; i < NSLOW; i++) {
        read_answers(&slow[i], 3, 1);
        st_close(&slow[i]);
    }
}

int main(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < NCONN + 64 && rl.rlim_max >= NCONN + 64) {
        rl.rlim_cur = NCONN + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    IT_CHECK(rl.rlim_cur >= NCONN + 64, "need %d file descriptors, have %llu", NCONN + 64,
             (unsigned long long)rl.rlim_cur);
    seed = it_seed();
    char dir[256];
    it_mktemp(dir, sizeof dir, "strom-load");
    st_server srv;
    const char *extra[] = {"--max-conn-buffer-bytes", "1MiB", NULL};
    st_start(&srv, dir, extra);
    st_conn prod;
    st_connect(&prod, srv.port);
    create_table(&prod, "t");
    test_many_connections(srv.port);
    test_slow_consumer(srv.port, srv.pid, &prod);
    test_many_slow_consumers(srv.port, srv.pid);
    st_close(&prod);
    IT_CHECK(st_stop(&srv, SIGTERM) == 0, "server exit status");
    it_rmtree(dir);
    printf("test_server_load: ok\n");
    return 0;
}
