/*
 * test_server_io.c: the server's I/O behaviour, black-box against `strom server`:
 *  - long-poll: a parked FETCH_LOG is answered the moment a PRODUCE on another connection
 *    makes data visible (the produce -> fetch latency is measured and printed), or at its
 *    max_wait when nothing comes; min_bytes holds the answer back until the deadline;
 *  - parked fetches stall neither other connections nor the workers;
 *  - pipelining: hundreds of mixed requests sent before reading are answered in order;
 *  - limits: maximum connections (ELIMIT then close), oversized and negative frame lengths
 *    (error then close), backpressure on a connection that does not read;
 *  - 1,000 concurrent connections;
 *  - server.io-sched-batch: the I/O threads' scheduling policy, read back from the kernel.
 */
#include "srvtest.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

static uint64_t seed;
static uint32_t schema_id;

static int64_t now_ns(void) { return strom_mono_ns(); }

static void make_batch(int64_t w, int64_t k, int rows, strom_buf *out)
{
    st_it_batch(seed, w, k, rows, schema_id, out);
}

static proto_msg produce_msg(const char *table, int bucket, const strom_buf *wire)
{
    proto_msg m = {0};
    m.req.produce.table = proto_s(table);
    m.req.produce.bucket = bucket;
    m.req.produce.acks = PROTO_ACKS_DURABLE;
    m.req.produce.records.bytes = (proto_bytes){wire->data, (uint32_t)wire->len};
    return m;
}

static int64_t end_offset(st_conn *c, const char *table, int bucket)
{
    proto_msg m = {0}, r;
    m.req.list_offsets.table = proto_s(table);
    m.req.list_offsets.spec = PROTO_OFFSET_LATEST;
    m.req.list_offsets.nbuckets = 1;
    m.req.list_offsets.buckets = &bucket;
    ST_OK(c, PROTO_LIST_OFFSETS, &m, &r);
    return r.resp.list_offsets.buckets[0].offset;
}

/* Sends a FETCH of one bucket from offset (no projection); returns its request id. */
static int32_t send_fetch(st_conn *c, const char *table, int bucket, int64_t offset, int wait_ms,
                          int min_bytes)
{
    static proto_fetch_bucket fb;
    fb = (proto_fetch_bucket){.bucket = bucket, .offset = offset};
    proto_msg m = {0};
    m.req.fetch.table = proto_s(table);
    m.req.fetch.max_wait_ms = wait_ms;
    m.req.fetch.min_bytes = min_bytes;
    m.req.fetch.nbuckets = 1;
    m.req.fetch.buckets = &fb;
    return st_send(c, PROTO_FETCH_LOG, &m);
}

/* Receives a fetch response; returns the rows in it (checks every row's values). */
static int64_t recv_fetch_rows(st_conn *c, int32_t rid, int64_t *first_id)
{
    proto_msg r;
    int32_t got;
    IT_CHECK(st_recv(c, PROTO_FETCH_LOG, &got, &r) == STROM_OK && got == rid, "fetch: %s", c->err);
    size_t pos = 0, len;
    const uint8_t *p;
    int64_t rows = 0;
    while ((p = st_next_batch(r.resp.fetch.buckets[0].records, &pos, &len)) != NULL) {
        strom_batch *b = st_decode(p, len);
        for (int64_t i = 0; i < strom_batch_nrows(b); i++) {
            it_row row;
            char why[200];
            int64_t id = it_read_row(b, i, &row);
            IT_CHECK(!it_row_differs(seed, id, &row, why, sizeof why), "%s", why);
            if (rows == 0 && i == 0 && first_id)
                *first_id = id;
        }
        rows += strom_batch_nrows(b);
        strom_batch_destroy(b);
    }
    return rows;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* --------------------------------------------------------------- long-poll */

static void test_longpoll_wakeup(int port)
{
    enum { ROUNDS = 30 };
    st_conn a, b;
    st_connect(&a, port);
    st_connect(&b, port);
    strom_buf wire = {0};
    int64_t lat[ROUNDS], ack[ROUNDS];
    for (int k = 0; k < ROUNDS; k++) {
        int64_t end = end_offset(&b, "lp", 0);
        int32_t rid = send_fetch(&a, "lp", 0, end, 5000, 0);
        usleep(20000); /* let it park */
        make_batch(3, k, 10, &wire);
        proto_msg m = produce_msg("lp", 0, &wire), r;
        int64_t t0 = now_ns();
        ST_OK(&b, PROTO_PRODUCE_LOG, &m, &r);
        ack[k] = now_ns() - t0;
        IT_CHECK(r.resp.produce.first_offset == end, "produce at %lld, end was %lld",
                 (long long)r.resp.produce.first_offset, (long long)end);
        int64_t first = -1;
        int64_t rows = recv_fetch_rows(&a, rid, &first);
        lat[k] = now_ns() - t0;
        IT_CHECK(rows == 10 && first == it_id(3, k, 0), "the fetch got the produced batch "
                 "(%lld rows, first id %lld)", (long long)rows, (long long)first);
        IT_CHECK(lat[k] < INT64_C(1000) * 1000000, "woken after %.1f ms (max_wait 5000)",
                 st_ms(lat[k]));
    }
    qsort(lat, ROUNDS, sizeof lat[0], cmp_i64);
    qsort(ack, ROUNDS, sizeof ack[0], cmp_i64);
    printf("long-poll: produce sent -> parked fetch answered (incl. the produce's fsync): "
           "median %.3f ms, p90 %.3f ms, max %.3f ms over %d rounds; the produce's own "
           "acknowledgement (durable): median %.3f ms, p90 %.3f ms\n",
           st_ms(lat[ROUNDS / 2]), st_ms(lat[ROUNDS * 9 / 10]), st_ms(lat[ROUNDS - 1]), ROUNDS,
           st_ms(ack[ROUNDS / 2]), st_ms(ack[ROUNDS * 9 / 10]));
    strom_buf_free(&wire);
    st_close(&a);
    st_close(&b);
}

/* Nothing comes: answered empty at max_wait; min_bytes holds a small batch to the deadline. */
static void test_longpoll_deadline(int port)
{
    st_conn a, b;
    st_connect(&a, port);
    st_connect(&b, port);
    int64_t end = end_offset(&b, "lp", 1);
    int64_t t0 = now_ns();
    int32_t rid = send_fetch(&a, "lp", 1, end, 300, 0);
    IT_CHECK(recv_fetch_rows(&a, rid, NULL) == 0, "empty at the deadline");
    double ms = st_ms(now_ns() - t0);
    IT_CHECK(ms >= 290 && ms < 2000, "answered after %.1f ms, max_wait 300", ms);

    t0 = now_ns();
    rid = send_fetch(&a, "lp", 1, end, 600, 1 << 20);
    usleep(50000);
    strom_buf wire = {0};
    make_batch(4, 0, 5, &wire);
    proto_msg m = produce_msg("lp", 1, &wire), r;
    ST_OK(&b, PROTO_PRODUCE_LOG, &m, &r);
    IT_CHECK(recv_fetch_rows(&a, rid, NULL) == 5, "the data at the deadline");
    ms = st_ms(now_ns() - t0);
    IT_CHECK(ms >= 590 && ms < 3000, "min_bytes: answered after %.1f ms, max_wait 600", ms);
    strom_buf_free(&wire);
    st_close(&a);
    st_close(&b);
}

/* Parked fetches (more than the server has workers) delay neither other connections'
 * requests nor a produce (which needs a worker). */
static void test_parked_do_not_stall(int port)
{
    enum { PARKED = 12 };
    st_conn p[PARKED], c;
    int32_t rids[PARKED];
    st_connect(&c, port);
    int64_t end = end_offset(&c, "lp", 2);
    for (int i = 0; i < PARKED; i++) {
        st_connect(&p[i], port);
        rids[i] = send_fetch(&p[i], "lp", 2, end, 2500, 0);
    }
    usleep(50000);
    int64_t t0 = now_ns(), worst = 0;
    for (int i = 0; i < 200; i++) {
        int64_t s = now_ns();
        proto_msg r;
        ST_OK(&c, PROTO_API_VERSIONS, NULL, &r);
        (void)end_offset(&c, "lp", 0);
        worst = STROM_MAX(worst, now_ns() - s);
    }
    strom_buf wire = {0};
    make_batch(5, 0, 3, &wire);
    proto_msg m = produce_msg("lp", 0, &wire), r;
    int64_t ps = now_ns();
    ST_OK(&c, PROTO_PRODUCE_LOG, &m, &r); /* bucket 0: the parked fetches watch bucket 2 */
    double produce_ms = st_ms(now_ns() - ps), total_ms = st_ms(now_ns() - t0);
    printf("with %d parked fetches: 400 requests in %.1f ms (worst %.3f ms), a produce in "
           "%.1f ms\n", PARKED, total_ms, st_ms(worst), produce_ms);
    IT_CHECK(total_ms < 2000 && produce_ms < 2000, "parked fetches stalled the server");
    for (int i = 0; i < PARKED; i++) { /* still parked: bucket 2 got nothing */
        struct pollfd pf = {.fd = p[i].fd, .events = POLLIN};
        IT_CHECK(poll(&pf, 1, 0) == 0, "fetch %d answered early", i);
    }
    for (int i = 0; i < PARKED; i++) {
        IT_CHECK(recv_fetch_rows(&p[i], rids[i], NULL) == 0, "empty");
        st_close(&p[i]);
    }
    strom_buf_free(&wire);
    st_close(&c);
}

/* --------------------------------------------------------------- pipelining */

static void test_pipelining(int port)
{
    enum { N = 400 };
    st_conn c;
    st_connect(&c, port);
    strom_buf all = {0}, wire = {0};
    int kinds[N];
    make_batch(6, 0, 4, &wire);
    int64_t end = end_offset(&c, "lp", 3);
    proto_fetch_bucket fb = {.bucket = 3, .offset = 0};
    for (int i = 0; i < N; i++) {
        proto_msg m = {0};
        kinds[i] = (int)(it_mix(seed + (uint64_t)i) % 4);
        int api = kinds[i] == 0 ? PROTO_API_VERSIONS : kinds[i] == 1 ? PROTO_PRODUCE_LOG
                  : kinds[i] == 2 ? PROTO_FETCH_LOG : PROTO_LIST_OFFSETS;
        if (kinds[i] == 1)
            m = produce_msg("lp", 3, &wire);
        if (kinds[i] == 2) {
            m.req.fetch.table = proto_s("lp");
            m.req.fetch.nbuckets = 1;
            m.req.fetch.buckets = &fb;
        }
        int32_t b3 = 3;
        if (kinds[i] == 3) {
            m.req.list_offsets.table = proto_s("lp");
            m.req.list_offsets.spec = PROTO_OFFSET_LATEST;
            m.req.list_offsets.nbuckets = 1;
            m.req.list_offsets.buckets = &b3;
        }
        IT_OK(proto_encode_request(&all, api, 0, 1000 + i, &m));
    }
    st_write(&c, all.data, all.len); /* everything before reading anything */
    int64_t next = end;
    for (int i = 0; i < N; i++) {
        int api = kinds[i] == 0 ? PROTO_API_VERSIONS : kinds[i] == 1 ? PROTO_PRODUCE_LOG
                  : kinds[i] == 2 ? PROTO_FETCH_LOG : PROTO_LIST_OFFSETS;
        proto_msg r;
        int32_t rid;
        IT_CHECK(st_recv(&c, api, &rid, &r) == STROM_OK, "request %d: %s", i, c.err);
        IT_CHECK(rid == 1000 + i, "response %d has request id %d: out of order", i, rid);
        if (kinds[i] == 1) {
            IT_CHECK(r.resp.produce.first_offset == next, "produce %d at %lld, expected %lld", i,
                     (long long)r.resp.produce.first_offset, (long long)next);
            next += 4;
        }
        if (kinds[i] == 3) /* sees exactly the produces answered before it */
            IT_CHECK(r.resp.list_offsets.buckets[0].offset == next, "offsets %d: %lld vs %lld", i,
                     (long long)r.resp.list_offsets.buckets[0].offset, (long long)next);
    }
    strom_buf_free(&all);
    strom_buf_free(&wire);
    st_close(&c);
}

/* ------------------------------------------------------------------ limits */

static void test_max_connections(const char *dir)
{
    const char *extra[] = {"--max-connections", "3", NULL};
    st_server srv;
    st_start(&srv, dir, extra);
    st_conn c[4];
    proto_msg r;
    for (int i = 0; i < 3; i++) {
        st_connect(&c[i], srv.port);
        ST_OK(&c[i], PROTO_API_VERSIONS, NULL, &r);
    }
    st_connect(&c[3], srv.port);
    int32_t rid;
    IT_CHECK(st_recv(&c[3], PROTO_API_VERSIONS, &rid, &r) == STROM_ELIMIT, "over the limit");
    IT_CHECK(strstr(c[3].err, "max-connections"), "message: %s", c[3].err);
    IT_CHECK(st_wait_eof(&c[3], 5000), "closed after ELIMIT");
    st_close(&c[3]);
    st_close(&c[0]);
    int ok = 0;
    for (int tries = 0; tries < 200 && !ok; tries++) { /* the slot frees once the close is seen */
        st_connect(&c[3], srv.port);
        int32_t sent = st_send(&c[3], PROTO_API_VERSIONS, NULL), got = -1;
        int e = st_recv_or_eof(&c[3], PROTO_API_VERSIONS, &got, &r);
        ok = e == STROM_OK && got == sent;
        IT_CHECK(ok || (e == STROM_ELIMIT && got == 0) || e < 0, "retry: error %d id %d", e, got);
        if (!ok) {
            st_close(&c[3]);
            usleep(10000);
        }
    }
    IT_CHECK(ok, "a connection is accepted again after one closed");
    for (int i = 1; i < 4; i++)
        st_close(&c[i]);
    IT_CHECK(st_stop(&srv, SIGINT) == 0, "SIGINT: exit 0");
}

static void test_bad_frames(const char *dir)
{
    const char *extra[] = {"--max-frame-bytes", "1MiB", NULL};
    st_server srv;
    st_start(&srv, dir, extra);
    st_conn c;
    proto_msg r;
    int32_t rid;
    uint8_t f[12];
    /* over the limit: ELIMIT naming it, then close (even if the peer keeps sending) */
    st_connect(&c, srv.port);
    ST_OK(&c, PROTO_API_VERSIONS, NULL, &r);
    strom_put_u32(f, 2u << 20);
    strom_put_u16(f + 4, PROTO_PRODUCE_LOG);
    strom_put_u16(f + 6, 0);
    strom_put_u32(f + 8, 55);
    st_write(&c, f, sizeof f);
    IT_CHECK(st_recv(&c, PROTO_PRODUCE_LOG, &rid, &r) == STROM_ELIMIT && rid == 55, "oversized");
    IT_CHECK(strstr(c.err, "limit"), "message: %s", c.err);
    uint8_t junk[4096] = {0};
    (void)!write(c.fd, junk, sizeof junk);
    IT_CHECK(st_wait_eof(&c, 5000), "closed after an oversized frame");
    st_close(&c);
    /* a negative length: EPROTO, then close */
    st_connect(&c, srv.port);
    strom_put_u32(f, 0xfffffff0u);
    st_write(&c, f, sizeof f);
    IT_CHECK(st_recv(&c, PROTO_API_VERSIONS, &rid, &r) == STROM_EPROTO, "negative length");
    IT_CHECK(st_wait_eof(&c, 5000), "closed after a negative length");
    st_close(&c);
    /* a frame just under the limit is fine */
    st_connect(&c, srv.port);
    strom_buf big = {0};
    proto_msg m = {0};
    char *name = calloc(1, 60000);
    memset(name, 'x', 59999);
    m.req.get_table_info.name = proto_s(name);
    IT_OK(proto_encode_request(&big, PROTO_GET_TABLE_INFO, 0, 9, &m));
    st_write(&c, big.data, big.len);
    IT_CHECK(st_recv(&c, PROTO_GET_TABLE_INFO, &rid, &r) == STROM_EINVAL && rid == 9,
             "a long name is a bad name: %s", c.err);
    ST_OK(&c, PROTO_API_VERSIONS, NULL, &r);
    free(name);
    strom_buf_free(&big);
    st_close(&c);
    int rc_ = st_stop(&srv, SIGTERM);
    IT_CHECK(rc_ == 0, "server exit status %d", rc_);
}

static int64_t stat_value(st_conn *c, const char *name)
{
    proto_msg m = {0}, r;
    ST_OK(c, PROTO_STATS, &m, &r);
    for (uint32_t i = 0; i < r.resp.stats.nstats; i++)
        if (proto_str_eq(r.resp.stats.stats[i].name, name))
            return r.resp.stats.stats[i].value;
    IT_CHECK(0, "no stat %s", name);
    return -1;
}

/* A connection that sends fetches without reading the answers: the server stops taking
 * its requests once the unsent answers pass max-conn-buffer-bytes (the rest stays in the
 * socket buffers), other connections are served meanwhile, and once the client reads, the
 * answers come, in order. */
static void test_backpressure(const char *dir)
{
    const char *extra[] = {"--max-conn-buffer-bytes", "256KiB", NULL};
    st_server srv;
    st_start(&srv, dir, extra);
    st_conn c, o;
    st_connect(&c, srv.port);
    st_connect(&o, srv.port);
    strom_buf wire = {0}, reqs = {0};
    make_batch(7, 0, 20000, &wire); /* some 100 KiB per fetch answer */
    proto_msg m = produce_msg("lp", 3, &wire), r;
    ST_OK(&c, PROTO_PRODUCE_LOG, &m, &r);
    int64_t at = r.resp.produce.first_offset;
    proto_fetch_bucket fb = {.bucket = 3, .offset = at, .max_bytes = 1};
    memset(&m, 0, sizeof m);
    m.req.fetch.table = proto_s("lp");
    m.req.fetch.nbuckets = 1;
    m.req.fetch.buckets = &fb;
    ST_OK(&o, PROTO_FETCH_LOG, &m, &r);
    size_t answer = r.resp.fetch.buckets[0].records.bytes.len + 40;
    enum { MAXREQ = 20000 };
    for (int i = 0; i < MAXREQ; i++)
        IT_OK(proto_encode_request(&reqs, PROTO_FETCH_LOG, 0, i, &m));
    size_t frame = reqs.len / MAXREQ;
    int64_t before = stat_value(&o, "requests");
    int fl = fcntl(c.fd, F_GETFL);
    fcntl(c.fd, F_SETFL, fl | O_NONBLOCK);
    size_t sent = 0;
    int64_t stuck_since = 0;
    while (sent < reqs.len) {
        ssize_t w = write(c.fd, reqs.data + sent, reqs.len - sent);
        if (w > 0) {
            sent += (size_t)w;
            stuck_since = 0;
            continue;
        }
        if (!stuck_since)
            stuck_since = now_ns();
        if (now_ns() - stuck_since > INT64_C(300) * 1000000)
            break;
        usleep(1000);
    }
    usleep(100000);
    int64_t taken = stat_value(&o, "requests") - before - 1;
    /* taken answers are in the server's buffer (<= 256 KiB + one answer) or in the kernel's
     * socket buffers (a few MiB each way); without backpressure it would take them all */
    size_t bound = ((256u << 10) + (32u << 20)) / answer + 2;
    printf("backpressure: the client wrote %zu requests without reading; the server took "
           "%lld of them (answers of %zu bytes, limit 256 KiB)\n", sent / frame,
           (long long)taken, answer);
    IT_CHECK(taken >= 1 && (size_t)taken <= bound && (size_t)taken < sent / frame,
             "the server took %lld of %zu requests: more than its buffer limit and the socket "
             "buffers allow (%zu)", (long long)taken, sent / frame, bound);
    fcntl(c.fd, F_SETFL, fl);
    size_t whole = (sent + frame - 1) / frame;
    if (whole * frame > sent) /* finish the partial frame */
        st_write(&c, reqs.data + sent, whole * frame - sent);
    for (size_t i = 0; i < STROM_MIN(whole, (size_t)600); i++) {
        int32_t rid;
        IT_CHECK(st_recv(&c, PROTO_FETCH_LOG, &rid, &r) == STROM_OK && rid == (int32_t)i,
                 "answer %zu: id %d %s", i, rid, c.err);
    }
    strom_buf_free(&wire);
    strom_buf_free(&reqs);
    st_close(&c);
    st_close(&o);
    int rc_ = st_stop(&srv, SIGTERM);
    IT_CHECK(rc_ == 0, "server exit status %d", rc_);
}

/* -------------------------------------------------------- many connections */

static int64_t stat_of(const proto_msg *r, const char *name)
{
    for (uint32_t i = 0; i < r->resp.stats.nstats; i++)
        if (proto_str_eq(r->resp.stats.stats[i].name, name))
            return r->resp.stats.stats[i].value;
    return -1;
}

/* Opens n connections and has each answer one request (so each is accepted and added). */
static void connect_all(st_conn *c, int n, int port)
{
    for (int i = 0; i < n; i++) {
        st_connect(&c[i], port);
        st_send(&c[i], PROTO_API_VERSIONS, NULL);
    }
    for (int i = 0; i < n; i++) {
        proto_msg r;
        int32_t rid;
        IT_CHECK(st_recv(&c[i], PROTO_API_VERSIONS, &rid, &r) == STROM_OK, "conn %d", i);
    }
}

static void test_many_connections(int port)
{
    enum { N = 1000 };
    static st_conn c[N];
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    IT_CHECK(rl.rlim_cur >= N + 64 || rl.rlim_max >= N + 64, "RLIMIT_NOFILE %lu too low",
             (unsigned long)rl.rlim_max);
    int64_t t0 = now_ns();
    connect_all(c, N, port);
    st_conn s;
    st_connect(&s, port);
    proto_msg m = {0}, r;
    ST_OK(&s, PROTO_STATS, &m, &r);
    int64_t conns = stat_of(&r, "connections");
    IT_CHECK(conns == N + 1, "the server counts %lld connections, %d open", (long long)conns,
             N + 1);
    printf("%d concurrent connections, one request each: %.1f ms\n", N, st_ms(now_ns() - t0));
    for (int i = 0; i < N; i++)
        st_close(&c[i]);
    st_close(&s);
}

/* Connections are spread evenly over the I/O threads (the kernel's SO_REUSEPORT hash alone
 * puts 40 connections on 4 threads as e.g. 14/11/8/7): each goes to the thread with the
 * fewest, whichever thread accepted it. */
static void test_balance(const char *dir)
{
    enum { N = 39 };
    st_server srv;
    const char *extra[] = {"--io-threads", "4", NULL};
    st_start(&srv, dir, extra);
    static st_conn c[N];
    connect_all(c, N, srv.port);
    st_conn s;
    st_connect(&s, srv.port);
    proto_msg m = {0}, r;
    ST_OK(&s, PROTO_STATS, &m, &r);
    int64_t lo = stat_of(&r, "io_thread_connections_min"), hi = stat_of(&r, "io_thread_connections_max");
    IT_CHECK(stat_of(&r, "io_threads") == 4 && stat_of(&r, "connections") == N + 1,
             "4 I/O threads and %d connections expected", N + 1);
    /* 2, not 1: two threads accepting at the same moment may both pick the same one */
    IT_CHECK(lo >= 0 && hi - lo <= 2 && lo * 4 <= N + 1 && hi * 4 >= N + 1,
             "connections per I/O thread from %lld to %lld (40 on 4 threads)", (long long)lo,
             (long long)hi);
    printf("40 connections on 4 I/O threads: %lld to %lld each\n", (long long)lo, (long long)hi);
    for (int i = 0; i < N; i++)
        st_close(&c[i]);
    st_close(&s);
    int rc = st_stop(&srv, SIGTERM);
    IT_CHECK(rc == 0, "server exit status %d", rc);
}

/* Scheduling policies of the server's I/O threads (named strom-io<N>), as the kernel has
 * them (/proc/PID/task/TID/stat field 41): how many there are and how many are policy. */
static int io_policies(pid_t pid, int policy, int *nio)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    int n = 0;
    *nio = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        char f[400], buf[1024] = "";
        snprintf(f, sizeof f, "/proc/%d/task/%s/stat", (int)pid, e->d_name);
        FILE *fp = e->d_name[0] == '.' ? NULL : fopen(f, "r");
        size_t len = fp ? fread(buf, 1, sizeof buf - 1, fp) : 0;
        if (fp)
            fclose(fp);
        buf[len] = '\0';
        char *end = strrchr(buf, ')');
        if (!strstr(buf, "(strom-io") || !end)
            continue;
        (*nio)++;
        char *save = NULL, *tok = strtok_r(end + 2, " ", &save); /* field 3 */
        for (int field = 3; tok && field < 41; field++)
            tok = strtok_r(NULL, " ", &save);
        n += tok && atoi(tok) == policy;
    }
    if (d)
        closedir(d);
    return n;
}

/* server.io-sched-batch: every I/O thread runs as SCHED_BATCH (STATS and the kernel agree);
 * by default none does. */
static void test_sched_batch(const char *dir, const st_server *plain)
{
    int nio = 0;
    IT_CHECK(io_policies(plain->pid, SCHED_BATCH, &nio) == 0 && nio >= 1,
             "a default server has %d I/O threads, none SCHED_BATCH expected", nio);
    st_server srv;
    const char *extra[] = {"--io-threads", "3", "--io-sched-batch", "1", NULL};
    char sub[300]; /* dir is the running plain server's */
    snprintf(sub, sizeof sub, "%s/sched-batch", dir);
    st_start(&srv, sub, extra);
    st_conn s;
    st_connect(&s, srv.port);
    proto_msg m = {0}, r;
    ST_OK(&s, PROTO_STATS, &m, &r);
    IT_CHECK(stat_of(&r, "io_threads_sched_batch") == 3, "STATS io_threads_sched_batch %lld, "
             "3 expected", (long long)stat_of(&r, "io_threads_sched_batch"));
    int batch = io_policies(srv.pid, SCHED_BATCH, &nio);
    IT_CHECK(nio == 3 && batch == 3, "%d of %d I/O threads SCHED_BATCH, 3 of 3 expected", batch,
             nio);
    st_close(&s);
    int rc = st_stop(&srv, SIGTERM);
    IT_CHECK(rc == 0, "server exit status %d", rc);
    printf("server.io-sched-batch 1: 3 of 3 I/O threads SCHED_BATCH\n");
}

int main(void)
{
    seed = it_seed();
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
        rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096; /* the server inherits it */
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    char dir[256];
    it_mktemp(dir, sizeof dir, "strom-srv-io-");
    printf("test_server_io: seed %llu, data %s\n", (unsigned long long)seed, dir);
    st_server srv;
    const char *extra[] = {"--worker-threads", "2", NULL};
    st_start(&srv, dir, extra);
    st_conn c;
    st_connect(&c, srv.port);
    schema_id = st_create_it_table(&c, "lp", 4);
    st_close(&c);
    test_longpoll_wakeup(srv.port);
    test_longpoll_deadline(srv.port);
    test_parked_do_not_stall(srv.port);
    test_pipelining(srv.port);
    test_many_connections(srv.port);
    test_sched_batch(dir, &srv);
    int rc_ = st_stop(&srv, SIGTERM);
    IT_CHECK(rc_ == 0, "server exit status %d", rc_);
    test_max_connections(dir);
    test_bad_frames(dir);
    test_backpressure(dir);
    test_balance(dir);
    it_rmtree(dir);
    printf("test_server_io: ok\n");
    return 0;
}
