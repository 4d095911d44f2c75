/*
 * test_server_shutdown.c: SIGTERM with requests in flight. Producers pipeline durable
 * PRODUCE_LOG requests on four connections and a long-poll fetch is parked when the server
 * gets SIGTERM. Expected: the parked fetch is answered at once, every request the server
 * took is answered, the server exits 0, and after a restart on the same directory every
 * acknowledged batch is there, at its acknowledged offsets, with its values (itest.h).
 * Rounds: STROM_SHUTDOWN_ROUNDS (default 3).
 */
#include "srvtest.h"

#include <pthread.h>

#define NPROD 4
#define WINDOW 4
#define ROWS 50
#define MAXACK 100000

typedef struct acked {
    int64_t writer, batch, first;
    int bucket;
} acked;

typedef struct producer {
    int port, w;
    uint32_t schema_id;
    acked *acks;
    int nacks;
    int refused;       /* error responses (shutting down) */
} producer;

static uint64_t seed;

/* Sends requests (WINDOW in flight) until the server stops answering. */
static void *produce_main(void *arg)
{
    producer *p = arg;
    st_conn c;
    st_connect(&c, p->port);
    strom_buf wire = {0}, frame = {0};
    int64_t sent = 0, recvd = 0;
    int open = 1;
    while (recvd < sent || open) {
        while (open && sent - recvd < WINDOW && sent < MAXACK) {
            st_it_batch(seed, p->w, sent, ROWS, p->schema_id, &wire);
            proto_msg m = {0};
            m.req.produce.table = proto_s("s");
            m.req.produce.bucket = p->w % 4;
            m.req.produce.acks = PROTO_ACKS_DURABLE;
            m.req.produce.records.bytes = (proto_bytes){wire.data, (uint32_t)wire.len};
            strom_buf_clear(&frame);
            IT_OK(proto_encode_request(&frame, PROTO_PRODUCE_LOG, 0, (int32_t)sent, &m));
            if (strom_write_full(c.fd, frame.data, frame.len) != 0) {
                open = 0; /* the server closed: what was written may or may not be in */
                break;
            }
            sent++;
        }
        proto_msg r;
        int32_t rid;
        int e = st_recv_or_eof(&c, PROTO_PRODUCE_LOG, &rid, &r);
        if (e < 0)
            break;
        IT_CHECK(rid == (int32_t)recvd, "answer for %d, expected %lld", rid, (long long)recvd);
        if (e == STROM_OK) {
            p->acks[p->nacks++] = (acked){p->w, recvd, r.resp.produce.first_offset, p->w % 4};
        } else {
            p->refused++;
            open = 0;
        }
        recvd++;
    }
    strom_buf_free(&wire);
    strom_buf_free(&frame);
    st_close(&c);
    return NULL;
}

/* After the restart: every acknowledged batch at its offsets with its values. */
static int64_t verify(int port, producer *p)
{
    st_conn c;
    st_connect(&c, port);
    /* first use of the table after the restart: LIST_OFFSETS runs on the I/O thread, which
     * hands it to a worker because the table is not open yet */
    int32_t all[4] = {0, 1, 2, 3};
    proto_msg lm = {0}, lr;
    lm.req.list_offsets.table = proto_s("s");
    lm.req.list_offsets.spec = PROTO_OFFSET_LATEST;
    lm.req.list_offsets.nbuckets = 4;
    lm.req.list_offsets.buckets = all;
    ST_OK(&c, PROTO_LIST_OFFSETS, &lm, &lr);
    int64_t ends[4];
    for (int i = 0; i < 4; i++)
        ends[i] = lr.resp.list_offsets.buckets[i].offset;
    int64_t total = 0;
    for (int bk = 0; bk < 4; bk++) {
        int64_t n = 0, cap = 1 << 16;
        int64_t *ids = malloc((size_t)cap * sizeof *ids);
        for (int64_t off = 0;;) {
            proto_fetch_bucket fb = {.bucket = bk, .offset = off, .max_bytes = 1 << 20};
            proto_msg m = {0}, r;
            m.req.fetch.table = proto_s("s");
            m.req.fetch.nbuckets = 1;
            m.req.fetch.buckets = &fb;
            ST_OK(&c, PROTO_FETCH_LOG, &m, &r);
            size_t pos = 0, len;
            const uint8_t *bp;
            int any = 0;
            while ((bp = st_next_batch(r.resp.fetch.buckets[0].records, &pos, &len)) != NULL) {
                strom_batch *b = st_decode(bp, len);
                IT_CHECK(strom_batch_base_offset(b) == n, "bucket %d: batch at %lld, expected %lld",
                         bk, (long long)strom_batch_base_offset(b), (long long)n);
                for (int64_t i = 0; i < strom_batch_nrows(b); i++) {
                    it_row row;
                    char why[200];
                    int64_t id = it_read_row(b, i, &row);
                    IT_CHECK(!it_row_differs(seed, id, &row, why, sizeof why), "%s", why);
                    if (n == cap)
                        ids = realloc(ids, (size_t)(cap *= 2) * sizeof *ids);
                    ids[n++] = id;
                }
                off = n;
                any = 1;
                strom_batch_destroy(b);
            }
            if (!any)
                break;
        }
        IT_CHECK(n == ends[bk], "bucket %d: read %lld rows, LIST_OFFSETS said %lld", bk,
                 (long long)n, (long long)ends[bk]);
        for (int w = 0; w < NPROD; w++)
            for (int i = 0; i < p[w].nacks; i++) {
                const acked *a = &p[w].acks[i];
                if (a->bucket != bk)
                    continue;
                IT_CHECK(a->first + ROWS <= n, "acknowledged batch %lld of writer %lld at %lld "
                         "is gone (bucket %d has %lld rows)", (long long)a->batch,
                         (long long)a->writer, (long long)a->first, bk, (long long)n);
                for (int r = 0; r < ROWS; r++)
                    IT_CHECK(ids[a->first + r] == it_id(a->writer, a->batch, r),
                             "offset %lld holds id %lld, acknowledged %lld",
                             (long long)(a->first + r), (long long)ids[a->first + r],
                             (long long)it_id(a->writer, a->batch, r));
                total++;
            }
        free(ids);
    }
    st_close(&c);
    return total;
}

static void one_round(const char *dir, int round)
{
    st_server srv;
    const char *extra[] = {"--worker-threads", "3", NULL};
    st_start(&srv, dir, extra);
    st_conn c, parked;
    st_connect(&c, srv.port);
    uint32_t sid = st_create_it_table(&c, "s", 4);
    st_create_it_table(&c, "idle", 1);
    producer p[NPROD];
    pthread_t th[NPROD];
    for (int w = 0; w < NPROD; w++) {
        p[w] = (producer){.port = srv.port, .w = round * NPROD + w + 1, .schema_id = sid};
        p[w].acks = calloc(MAXACK, sizeof *p[w].acks);
        pthread_create(&th[w], NULL, produce_main, &p[w]);
    }
    st_connect(&parked, srv.port);
    proto_fetch_bucket fb = {.bucket = 0, .offset = 0};
    proto_msg m = {0}, r;
    m.req.fetch.table = proto_s("idle");
    m.req.fetch.max_wait_ms = 30000;
    m.req.fetch.nbuckets = 1;
    m.req.fetch.buckets = &fb;
    int32_t rid = st_send(&parked, PROTO_FETCH_LOG, &m);
    usleep(300000 + (useconds_t)(it_mix(seed + (uint64_t)round) % 400000));
    int64_t t0 = strom_mono_ns();
    kill(srv.pid, SIGTERM);
    int32_t got;
    IT_CHECK(st_recv(&parked, PROTO_FETCH_LOG, &got, &r) == STROM_OK && got == rid,
             "the parked fetch is answered at shutdown: %s", parked.err);
    double parked_ms = st_ms(strom_mono_ns() - t0);
    IT_CHECK(parked_ms < 3000, "parked fetch answered %.1f ms after SIGTERM", parked_ms);
    for (int w = 0; w < NPROD; w++)
        pthread_join(th[w], NULL);
    int rc = st_stop(&srv, 0);
    double stop_ms = st_ms(strom_mono_ns() - t0);
    IT_CHECK(rc == 0, "exit status %d after SIGTERM", rc);
    st_close(&c);
    st_close(&parked);
    int nacks = 0;
    for (int w = 0; w < NPROD; w++)
        nacks += p[w].nacks;
    st_start(&srv, dir, NULL);
    int64_t checked = verify(srv.port, p);
    IT_CHECK(checked == nacks, "checked %lld of %d acknowledged batches", (long long)checked,
             nacks);
    rc = st_stop(&srv, SIGTERM);
    IT_CHECK(rc == 0, "exit status %d", rc);
    printf("round %d: %d acknowledged batches all present after restart; parked fetch "
           "answered %.1f ms and the server gone %.1f ms after SIGTERM\n", round, nacks,
           parked_ms, stop_ms);
    for (int w = 0; w < NPROD; w++)
        free(p[w].acks);
}

int main(void)
{
    seed = it_seed();
    signal(SIGPIPE, SIG_IGN);
    const char *env = getenv("STROM_SHUTDOWN_ROUNDS");
    int rounds = env && atoi(env) > 0 ? atoi(env) : 3;
    char dir[256];
    it_mktemp(dir, sizeof dir, "strom-srv-stop-");
    printf("test_server_shutdown: seed %llu, %d rounds in %s\n", (unsigned long long)seed,
           rounds, dir);
    for (int r = 0; r < rounds; r++)
        one_round(dir, r);
    it_rmtree(dir);
    printf("test_server_shutdown: ok\n");
    return 0;
}
