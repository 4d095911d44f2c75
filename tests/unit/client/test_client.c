/* test_client.c: the client library (src/client) against a fake server (peer.h): address
 * parsing and connect errors, pipelining (many calls in flight, answered in order),
 * timeouts, a broken connection and the reconnect, answers with a wrong request id; the
 * producer's batching (batch_rows, linger), its routing (compared with where the embedded
 * engine puts the same rows) and its idempotent retries (a batch resent after the
 * connection dropped carries the same writer id, sequence and bytes, and is applied
 * once); the decoder (projection, filter, start offset) against a model. A connection has
 * no reader thread (its waiting callers read it): none comes with it, and many threads
 * calling at once on one connection each get their own answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "peer.h"

static strom_client *connect_peer(peer *p, int timeout_ms)
{
    char addr[64];
    peer_addr(p, addr, sizeof addr);
    strom_client_opts o = {.connect_timeout_ms = 2000, .request_timeout_ms = timeout_ms};
    strom_client *c = NULL;
    strom_err e = strom_client_connect(addr, &o, &c);
    if (e)
        fail_msg("connect %s: %s", addr, strom_errmsg());
    return c;
}

static void test_bad_addresses(void **st)
{
    (void)st;
    const char *bad[] = {"", "nohost", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:99999", ":9123",
                         "[::1", "host:12x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strom_client *c = (strom_client *)1;
        assert_int_equal(strom_client_connect(bad[i], NULL, &c), STROM_EINVAL);
        assert_null(c);
        assert_non_null(strstr(strom_errmsg(), "server address"));
    }
    /* a port nobody listens on: a free port from a socket we close again */
    peer *p = peer_start();
    char addr[64];
    peer_addr(p, addr, sizeof addr);
    peer_stop(p);
    strom_client *c;
    assert_int_equal(strom_client_connect(addr, NULL, &c), STROM_EIO);
    assert_non_null(strstr(strom_errmsg(), addr));
    assert_non_null(strstr(strom_errmsg(), "cannot connect"));
}

static void test_pipelining(void **st)
{
    (void)st;
    peer *p = peer_start();
    strom_client *c = connect_peer(p, 5000);
    enum { N = 200 };
    stc_call *calls[N];
    proto_msg m = {0};
    m.req.get_table_info.name = proto_s("t");
    for (int i = 0; i < N; i++)
        assert_int_equal(stc_call_start(c, PROTO_GET_TABLE_INFO, &m, 0, &calls[i]), STROM_OK);
    strom_buf frame = {0};
    proto_arena a = {0};
    for (int i = 0; i < N; i++) {
        proto_msg r;
        assert_int_equal(stc_call_wait(c, calls[i], &frame), STROM_OK);
        assert_int_equal(stc_decode(c, PROTO_GET_TABLE_INFO, &frame, &a, &r), STROM_OK);
        assert_int_equal(r.resp.table_info.buckets, PEER_NB);
        assert_int_equal(r.resp.table_info.schema.ncolumns, 3);
        proto_resp_hdr h;
        assert_int_equal(proto_parse_response(frame.data, frame.len, &h), STROM_OK);
        assert_int_equal(h.request_id, p->ids[i]);
    }
    for (int i = 1; i < N; i++) /* distinct ids, in send order */
        assert_true(p->ids[i] == p->ids[i - 1] + 1);
    assert_int_equal(p->nconn, 1);
    strom_table_info *ti;
    assert_int_equal(strom_client_table_info(c, "t", &ti), STROM_OK);
    assert_int_equal(strom_schema_ncols(ti->schema), 3);
    assert_string_equal(strom_schema_col_name(ti->schema, 2), "v");
    assert_int_equal(strom_schema_id(ti->schema), 1);
    strom_table_info_free(ti);
    /* an api the peer does not know: its error comes back with the server named */
    char **names;
    size_t n;
    assert_int_equal(strom_client_list_tables(c, "", &names, &n), STROM_EUNSUPPORTED);
    assert_non_null(strstr(strom_errmsg(), "LIST_TABLES"));
    assert_non_null(strstr(strom_errmsg(), "server 127.0.0.1:"));
    strom_buf_free(&frame);
    proto_arena_free(&a);
    strom_client_close(c);
    peer_stop(p);
}

static void test_timeout(void **st)
{
    (void)st;
    peer *p = peer_start();
    p->silent = 1;
    strom_client *c = connect_peer(p, 300);
    strom_table_info *ti = NULL;
    int64_t t0 = strom_mono_ns();
    assert_int_equal(strom_client_table_info(c, "t", &ti), STROM_ETIMEOUT);
    int64_t ms = (strom_mono_ns() - t0) / 1000000;
    assert_true(ms >= 290 && ms < 3000);
    assert_non_null(strstr(strom_errmsg(), "GET_TABLE_INFO"));
    assert_non_null(strstr(strom_errmsg(), "300 ms"));
    /* the connection stays: once the peer answers again, calls work (the late answer of
     * the abandoned call is dropped, not given to the next call) */
    p->silent = 0;
    assert_int_equal(strom_client_table_info(c, "t", &ti), STROM_OK);
    strom_table_info_free(ti);
    strom_client_close(c);
    peer_stop(p);
}

static void test_reconnect(void **st)
{
    (void)st;
    peer *p = peer_start();
    p->close_after = 1;
    strom_client *c = connect_peer(p, 2000);
    strom_table_info *ti;
    assert_int_equal(strom_client_table_info(c, "t", &ti), STROM_OK);
    strom_table_info_free(ti);
    usleep(100 * 1000); /* the peer has closed: the next call reconnects */
    p->close_after = 0;
    assert_int_equal(strom_client_table_info(c, "t", &ti), STROM_OK);
    strom_table_info_free(ti);
    assert_int_equal(p->nconn, 2);
    /* a wrong request id breaks the connection with EPROTO */
    p->wrong_id = 1;
    assert_int_equal(strom_client_table_info(c, "t", &ti), STROM_EPROTO);
    assert_non_null(strstr(strom_errmsg(), "request id"));
    p->wrong_id = 0;
    usleep(100 * 1000);
    assert_int_equal(strom_client_table_info(c, "t", &ti), STROM_OK);
    strom_table_info_free(ti);
    strom_client_close(c);
    peer_stop(p);
}

/* Threads of this process now. */
static int nthreads(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* No thread comes with a connection: its waiting callers read it. */
static void test_no_reader_thread(void **st)
{
    (void)st;
    peer *p = peer_start();
    int before = nthreads();
    strom_client *c = connect_peer(p, 2000);
    assert_int_equal(nthreads(), before);
    strom_table_info *ti;
    assert_int_equal(strom_client_table_info(c, "t", &ti), STROM_OK);
    assert_int_equal(strom_schema_ncols(ti->schema), 3);
    strom_table_info_free(ti);
    assert_int_equal(nthreads(), before);
    strom_client_close(c);
    peer_stop(p);
}

/* Threads calling at once on one connection: whichever waits reads for all (and hands the
 * reading on when its own answer is in); every call gets its own answer. */
typedef struct caller { strom_client *c; int ok; } caller;

static void *caller_main(void *arg)
{
    caller *k = arg;
    for (int i = 0; i < 200; i++) {
        strom_table_info *ti = NULL;
        if (strom_client_table_info(k->c, "t", &ti) == STROM_OK && ti &&
            strom_schema_ncols(ti->schema) == 3)
            k->ok++;
        strom_table_info_free(ti);
    }
    return NULL;
}

static void test_concurrent_callers(void **st)
{
    (void)st;
    peer *p = peer_start();
    strom_client *c = connect_peer(p, 5000);
    enum { T = 8 };
    caller k[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
        k[i] = (caller){c, 0};
        assert_int_equal(pthread_create(&th[i], NULL, caller_main, &k[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(k[i].ok, 200);
    }
    assert_int_equal(p->nconn, 1);
    strom_client_close(c);
    peer_stop(p);
}

/* ------------------------------------------------------------ producer */

static void row(strom_value *v, const char *dev, int64_t ts, double x)
{
    v[0] = (strom_value){.type = STROM_STRING, .v.s = {dev, strlen(dev)}};
    v[1] = (strom_value){.type = STROM_TIMESTAMP, .v.i = ts};
    v[2] = (strom_value){.type = STROM_DOUBLE, .v.d = x};
}

static void test_batching(void **st)
{
    (void)st;
    peer *p = peer_start();
    strom_client *c = connect_peer(p, 5000);
    strom_producer_opts o = {.linger_ms = 60000, .batch_rows = 100};
    strom_producer *pr;
    assert_int_equal(strom_producer_create(c, "t", &o, NULL, 0, &pr), STROM_OK);
    strom_value v[3];
    for (int i = 0; i < 250; i++) {
        row(v, "feeder-7", 1000 + i, i * 0.5);
        assert_int_equal(strom_producer_send(pr, v, 3), STROM_OK);
    }
    for (int w = 0; w < 200 && strom_producer_acked(pr) < 200; w++)
        usleep(10000);
    assert_int_equal(strom_producer_acked(pr), 200); /* two full batches, no linger wait */
    assert_int_equal(strom_producer_flush(pr), STROM_OK);
    assert_int_equal(strom_producer_acked(pr), 250);
    assert_int_equal(p->nb, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(p->b[i].seq, i);
        assert_int_equal(p->b[i].nrows, i < 2 ? 100 : 50);
        assert_int_equal(p->b[i].bucket, p->b[0].bucket);
        assert_true(p->b[i].writer == strom_producer_writer_id(pr));
        assert_string_equal(p->b[i].dev[0], "feeder-7");
    }
    /* linger: a lone row goes out after linger_ms without flush */
    strom_producer_opts o2 = {.linger_ms = 80};
    strom_producer *p2;
    assert_int_equal(strom_producer_create(c, "t", &o2, NULL, 0, &p2), STROM_OK);
    int64_t t0 = strom_mono_ns();
    row(v, "x", 1, 1);
    assert_int_equal(strom_producer_send(p2, v, 3), STROM_OK);
    while (strom_producer_acked(p2) < 1 && strom_mono_ns() - t0 < 5000000000ll)
        usleep(2000);
    int64_t ms = (strom_mono_ns() - t0) / 1000000;
    assert_int_equal(strom_producer_acked(p2), 1);
    assert_true(ms >= 75 && ms < 2000);
    assert_true(strom_producer_writer_id(p2) != strom_producer_writer_id(pr));
    /* a row that does not fit the schema is refused, naming the column */
    v[2].type = STROM_STRING;
    v[2].v.s.ptr = "abc";
    v[2].v.s.len = 3;
    assert_int_equal(strom_producer_send(p2, v, 3) != STROM_OK, 1);
    assert_non_null(strstr(strom_errmsg(), "'v'"));
    assert_int_equal(strom_producer_send(p2, v, 2), STROM_EINVAL);
    assert_int_equal(strom_producer_close(p2), STROM_OK);
    assert_int_equal(strom_producer_close(pr), STROM_OK);
    strom_client_close(c);
    peer_stop(p);
}

/* Where the embedded engine puts each device of 'devs' in a 4-bucket table keyed on it. */
static void engine_buckets(const char devs[][16], int n, int *bucket_of)
{
    char dir[] = "/tmp/strom-client-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    strom_db *db;
    assert_int_equal(strom_db_open(dir, &db), STROM_OK);
    strom_schema *s = strom_schema_create();
    strom_schema_add(s, "device", STROM_STRING, 1);
    strom_schema_add(s, "ts", STROM_TIMESTAMP, 1);
    strom_schema_add(s, "v", STROM_DOUBLE, 0);
    const char *opts[] = {"bucket.num", "4", "bucket.key", "device", NULL};
    assert_int_equal(strom_table_create(db, "t", s, opts), STROM_OK);
    strom_table *t;
    assert_int_equal(strom_table_open(db, "t", &t), STROM_OK);
    strom_builder *b = strom_builder_create(s);
    for (int i = 0; i < n; i++) {
        strom_builder_put_str(b, 0, devs[i], strlen(devs[i]));
        strom_builder_put_int(b, 1, i);
        strom_builder_put_f64(b, 2, i);
        assert_int_equal(strom_builder_end_row(b), STROM_OK);
    }
    assert_int_equal(strom_table_append(t, b, NULL), STROM_OK);
    for (int bk = 0; bk < 4; bk++) {
        strom_scan *sc;
        const strom_batch *bt;
        assert_int_equal(strom_scan_open(t, bk, 0, NULL, &sc), STROM_OK);
        while (strom_scan_next(sc, &bt) == STROM_OK && bt)
            for (int64_t r = 0; r < strom_batch_nrows(bt); r++)
                bucket_of[strom_batch_get_int(bt, 1, r)] = bk;
        strom_scan_close(sc);
    }
    strom_builder_destroy(b);
    strom_schema_destroy(s);
    strom_table_close(t);
    strom_db_close(db);
    strom_rmtree(dir);
}

static void test_routing(void **st)
{
    (void)st;
    enum { N = 64 };
    char devs[N][16];
    int expect[N];
    for (int i = 0; i < N; i++)
        snprintf(devs[i], sizeof devs[i], "dev-%d", i * 7919);
    memset(expect, -1, sizeof expect);
    engine_buckets((const char(*)[16])devs, N, expect);
    peer *p = peer_start();
    strom_client *c = connect_peer(p, 5000);
    strom_producer_opts o = {.batch_rows = 1}; /* one row per batch: each batch names a device */
    strom_producer *pr;
    assert_int_equal(strom_producer_create(c, "t", &o, NULL, 0, &pr), STROM_OK);
    strom_value v[3];
    for (int i = 0; i < N; i++) {
        row(v, devs[i], i, i);
        assert_int_equal(strom_producer_send(pr, v, 3), STROM_OK);
    }
    assert_int_equal(strom_producer_close(pr), STROM_OK);
    assert_int_equal(p->nb, N);
    int used[4] = {0};
    for (int k = 0; k < p->nb; k++) {
        int i;
        assert_int_equal(sscanf(p->b[k].dev[0], "dev-%d", &i), 1);
        i /= 7919;
        assert_int_equal(p->b[k].bucket, expect[i]);
        used[p->b[k].bucket] = 1;
    }
    assert_true(used[0] + used[1] + used[2] + used[3] >= 3);
    /* the same rows as one builder: one batch per bucket, each row in its bucket */
    strom_producer *p2;
    assert_int_equal(strom_producer_create(c, "t", NULL, NULL, 0, &p2), STROM_OK);
    strom_builder *b = strom_builder_create(strom_producer_schema(p2));
    for (int i = 0; i < N; i++) {
        strom_builder_put_str(b, 0, devs[i], strlen(devs[i]));
        strom_builder_put_int(b, 1, i);
        strom_builder_put_f64(b, 2, i);
        assert_int_equal(strom_builder_end_row(b), STROM_OK);
    }
    int before = p->nb;
    assert_int_equal(strom_producer_send_batch(p2, b), STROM_OK);
    assert_int_equal(strom_producer_close(p2), STROM_OK);
    int rows = 0, nused = used[0] + used[1] + used[2] + used[3];
    assert_int_equal(p->nb - before, nused);
    for (int k = before; k < p->nb; k++) {
        rows += (int)p->b[k].nrows;
        assert_int_equal(p->b[k].seq, 0);
        for (uint32_t r = 0; r < p->b[k].nrows && r < 8; r++) {
            int i;
            assert_int_equal(sscanf(p->b[k].dev[r], "dev-%d", &i), 1);
            assert_int_equal(p->b[k].bucket, expect[i / 7919]);
        }
    }
    assert_int_equal(rows, N);
    strom_builder_destroy(b);
    strom_client_close(c);
    peer_stop(p);
}

static void test_idempotent_retry(void **st)
{
    (void)st;
    peer *p = peer_start();
    p->drop_produce_at = 1; /* applies the 1st request, then drops the connection unanswered */
    strom_client *c = connect_peer(p, 5000);
    strom_producer_opts o = {.batch_rows = 10, .retry_backoff_ms = 20};
    strom_producer *pr;
    assert_int_equal(strom_producer_create(c, "t", &o, NULL, 0, &pr), STROM_OK);
    strom_value v[3];
    for (int i = 0; i < 40; i++) {
        row(v, "one-device", i, i);
        assert_int_equal(strom_producer_send(pr, v, 3), STROM_OK);
    }
    assert_int_equal(strom_producer_close(pr), STROM_OK);
    /* 4 batches (seq 0..3); the first request (one or more batches: batches that queue up
     * go out together) was applied and dropped, then resent: the same batches, same bytes */
    int sends[4] = {0}, applied[4] = {0};
    uint32_t crc[4] = {0};
    for (int i = 0; i < p->nb; i++) {
        int q = p->b[i].seq;
        assert_true(q >= 0 && q < 4);
        assert_true(p->b[i].writer == p->b[0].writer);
        assert_true(sends[q] == 0 || crc[q] == p->b[i].crc);
        crc[q] = p->b[i].crc;
        sends[q]++;
        applied[q] += p->b[i].applied;
    }
    int resent = 0;
    for (int q = 0; q < 4; q++) {
        assert_int_equal(applied[q], 1);
        assert_true(sends[q] == 1 || sends[q] == 2);
        resent += sends[q] == 2;
    }
    assert_true(resent >= 1);
    assert_int_equal(sends[0], 2); /* the first request, applied but unanswered, was resent */
    assert_int_equal(p->applied_rows, 40);
    assert_int_equal(p->nconn, 2);
    strom_client_close(c);
    peer_stop(p);
}

static void test_retry_gives_up(void **st)
{
    (void)st;
    peer *p = peer_start();
    p->silent = 1;
    strom_client *c = connect_peer(p, 150);
    strom_producer_opts o = {.batch_rows = 5, .retries = 2, .retry_backoff_ms = 10};
    strom_producer *pr;
    p->silent = 0;
    assert_int_equal(strom_producer_create(c, "t", &o, NULL, 0, &pr), STROM_OK);
    p->silent = 1;
    strom_value v[3];
    for (int i = 0; i < 5; i++) {
        row(v, "d", i, i);
        assert_int_equal(strom_producer_send(pr, v, 3), STROM_OK);
    }
    assert_int_equal(strom_producer_flush(pr), STROM_ETIMEOUT);
    assert_non_null(strstr(strom_errmsg(), "after 3 attempts"));
    assert_non_null(strstr(strom_errmsg(), "5 rows"));
    assert_int_equal(strom_producer_send(pr, v, 3), STROM_ETIMEOUT); /* sticky */
    assert_int_equal(strom_producer_close(pr), STROM_ETIMEOUT);
    assert_int_equal(p->nb, 3); /* the first attempt and two resends, all the same seq */
    for (int i = 0; i < 3; i++)
        assert_int_equal(p->b[i].seq, 0);
    strom_client_close(c);
    peer_stop(p);
}

/* ------------------------------------------------------------ key history */

/* strom_client_key_history: the request carries key, time, n and projection; the answer's
 * rows come back in the server's order (newest first) with the asked columns; no rows
 * give NULL; bad arguments are refused before anything is sent. */
static void test_key_history(void **st)
{
    (void)st;
    peer *p = peer_start();
    strom_client *c = connect_peer(p, 5000);
    strom_value key = {.type = STROM_STRING, .v.s = {"d3", 2}};
    const char *cols[] = {"ts", "v"};
    strom_batch *b = NULL;
    assert_int_equal(strom_client_key_history(c, "t", &key, 1, 90000, 7, cols, 2, &b), STROM_OK);
    assert_string_equal(p->hist_key, "d3");
    assert_true(p->hist_at == 90000 && p->hist_n == 7 && p->hist_ncols == 2);
    assert_string_equal(p->hist_cols[0], "ts");
    assert_string_equal(p->hist_cols[1], "v");
    assert_non_null(b);
    assert_int_equal(strom_batch_nrows(b), 3);
    assert_int_equal(strom_batch_ncols(b), 2);
    for (int r = 0; r < 3; r++) {   /* rows i = 2, 1, 0 */
        assert_int_equal(strom_batch_get_int(b, 0, r), 90000 - 100 * (2 - r));
        assert_true(strom_batch_get_f64(b, 1, r) == 10.0 * (2 - r));
    }
    strom_batch_destroy(b);
    key.v.s = (typeof(key.v.s)){"none", 4};
    assert_int_equal(strom_client_key_history(c, "t", &key, 1, 90000, 7, cols, 2, &b), STROM_OK);
    assert_null(b);
    int nreq = p->nreq;
    assert_int_equal(strom_client_key_history(c, "t", &key, 1, 90000, 0, NULL, 0, &b), STROM_EINVAL);
    assert_int_equal(strom_client_key_history(c, "t", &key, 0, 90000, 5, NULL, 0, &b), STROM_EINVAL);
    assert_int_equal(strom_client_key_history(c, "t", &key, 1, 90000, 5, NULL, 2, &b), STROM_EINVAL);
    assert_non_null(strstr(strom_errmsg(), "key history of 't'"));
    assert_int_equal(p->nreq, nreq);   /* nothing sent */
    strom_client_close(c);
    peer_stop(p);
}

/* ------------------------------------------------------------ decoder */

static void test_decoder(void **st)
{
    (void)st;
    strom_table_info ti = {0};
    ti.schema = strom_schema_create();
    strom_schema_add(ti.schema, "device", STROM_STRING, 1);
    strom_schema_add(ti.schema, "ts", STROM_TIMESTAMP, 1);
    strom_schema_add(ti.schema, "v", STROM_DOUBLE, 0);
    fmt_schema_set_id(ti.schema, 1);
    stc_table t = {.info = &ti, .name = "t"};
    strom_builder *b = strom_builder_create(ti.schema);
    for (int i = 0; i < 100; i++) {
        char d[16];
        int n = snprintf(d, sizeof d, "d%d", i % 5);
        strom_builder_put_str(b, 0, d, (size_t)n);
        strom_builder_put_int(b, 1, 5000 + i);
        if (i % 9 == 0)
            strom_builder_put_null(b, 2);
        else
            strom_builder_put_f64(b, 2, i * 1.5);
        strom_builder_end_row(b);
    }
    fmt_encoder *enc = fmt_encoder_create();
    fmt_encode_opts eo;
    fmt_encode_opts_init(&eo);
    eo.time_col = 1;
    strom_buf out = {0};
    assert_int_equal(fmt_encode(enc, b, NULL, 0, &eo, &out), STROM_OK);
    fmt_batch_stamp(out.data, 1000, 42);
    const char *proj[] = {"v", "device"};
    strom_pred pr = {"v", STROM_OP_GE, {.type = STROM_DOUBLE, .v.d = 30.0}};
    stc_decoder *d;
    assert_int_equal(stc_decoder_create(&t, proj, 2, &pr, 1, &d), STROM_OK);
    const strom_batch *bt;
    int64_t last;
    assert_int_equal(stc_decode_batch(d, out.data, out.len, 1050, &bt, &last), STROM_OK);
    assert_int_equal(last, 1099);
    int64_t k = 0;
    for (int i = 50; i < 100; i++) { /* model: offset >= 1050, v not NULL and >= 30 */
        if (i % 9 == 0 || i * 1.5 < 30.0)
            continue;
        assert_true(k < strom_batch_nrows(bt));
        assert_int_equal(strom_batch_row_offset(bt, k), 1000 + i);
        assert_int_equal(strom_batch_row_time(bt, k), 5000 + i);
        assert_true(strom_batch_get_f64(bt, 0, k) == i * 1.5);
        size_t len;
        const char *s = strom_batch_get_str(bt, 1, k, &len);
        char want[16];
        snprintf(want, sizeof want, "d%d", i % 5);
        assert_int_equal(len, strlen(want));
        assert_memory_equal(s, want, len);
        k++;
    }
    assert_int_equal(strom_batch_nrows(bt), k);
    assert_int_equal(strom_batch_ncols(bt), 2);
    out.data[out.len - 1] ^= 1; /* a damaged batch is refused */
    assert_int_equal(stc_decode_batch(d, out.data, out.len, 0, &bt, &last), STROM_ECORRUPT);
    const char *bad[] = {"nope"};
    stc_decoder *d2;
    assert_int_equal(stc_decoder_create(&t, bad, 1, NULL, 0, &d2), STROM_ESCHEMA);
    assert_non_null(strstr(strom_errmsg(), "'nope'"));
    stc_decoder_free(d);
    fmt_encoder_destroy(enc);
    strom_buf_free(&out);
    strom_builder_destroy(b);
    strom_schema_destroy(ti.schema);
}

/* A result batch (schema id 0) of a projected, filtered fetch: its columns are the ones
 * asked for, by position: the projection, then the filter column outside it. */
static void test_result_batch(void **st)
{
    (void)st;
    strom_table_info ti = {0};
    ti.schema = strom_schema_create();
    strom_schema_add(ti.schema, "device", STROM_STRING, 1);
    strom_schema_add(ti.schema, "ts", STROM_TIMESTAMP, 1);
    strom_schema_add(ti.schema, "v", STROM_DOUBLE, 0);
    fmt_schema_set_id(ti.schema, 3);
    stc_table t = {.info = &ti, .name = "t"};
    const char *proj[] = {"v"};
    strom_pred pr = {"device", STROM_OP_EQ, {.type = STROM_STRING, .v.s = {"b", 1}}};
    stc_decoder *d;
    assert_int_equal(stc_decoder_create(&t, proj, 1, &pr, 1, &d), STROM_OK);
    const char *const *names;
    assert_int_equal(stc_decoder_request(d, &names), 2);
    assert_string_equal(names[0], "v");
    assert_string_equal(names[1], "device");
    strom_schema *rs = strom_schema_create(); /* what the server encodes: asked columns */
    strom_schema_add(rs, "v", STROM_DOUBLE, 0);
    strom_schema_add(rs, "device", STROM_STRING, 0);
    strom_builder *b = strom_builder_create(rs);
    for (int i = 0; i < 30; i++) {
        strom_builder_put_f64(b, 0, i);
        strom_builder_put_str(b, 1, i % 3 == 1 ? "b" : "a", 1);
        strom_builder_end_row(b);
    }
    fmt_encoder *enc = fmt_encoder_create();
    fmt_encode_opts eo;
    fmt_encode_opts_init(&eo);
    strom_buf out = {0};
    assert_int_equal(fmt_encode(enc, b, NULL, 0, &eo, &out), STROM_OK);
    fmt_batch_stamp(out.data, 500, 1);
    const strom_batch *bt;
    int64_t last;
    assert_int_equal(stc_decode_batch(d, out.data, out.len, 0, &bt, &last), STROM_OK);
    assert_int_equal(last, 529);
    assert_int_equal(strom_batch_ncols(bt), 1);
    assert_int_equal(strom_batch_nrows(bt), 10);
    for (int64_t k = 0; k < 10; k++) {
        assert_true(strom_batch_get_f64(bt, 0, k) == (double)(3 * k + 1));
        assert_int_equal(strom_batch_row_offset(bt, k), 500 + 3 * k + 1);
    }
    /* a plain decoder (no projection, no filter) asks for nothing: stored batches */
    stc_decoder *d2;
    assert_int_equal(stc_decoder_create(&t, NULL, 0, NULL, 0, &d2), STROM_OK);
    assert_int_equal(stc_decoder_request(d2, &names), 0);
    /* ... and refuses a result batch whose columns are not the table's */
    assert_int_equal(stc_decode_batch(d2, out.data, out.len, 0, &bt, &last), STROM_EPROTO);
    stc_decoder_free(d2);
    stc_decoder_free(d);
    fmt_encoder_destroy(enc);
    strom_buf_free(&out);
    strom_builder_destroy(b);
    strom_schema_destroy(rs);
    strom_schema_destroy(ti.schema);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_addresses),  cmocka_unit_test(test_pipelining),
        cmocka_unit_test(test_timeout),        cmocka_unit_test(test_reconnect),
        cmocka_unit_test(test_no_reader_thread), cmocka_unit_test(test_concurrent_callers),
        cmocka_unit_test(test_batching),       cmocka_unit_test(test_routing),
        cmocka_unit_test(test_idempotent_retry), cmocka_unit_test(test_retry_gives_up),
        cmocka_unit_test(test_key_history),
        cmocka_unit_test(test_decoder),        cmocka_unit_test(test_result_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
