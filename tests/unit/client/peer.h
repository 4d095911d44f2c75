/*
 * peer.h: a fake strom server for the client unit tests (header-only). It speaks the
 * frame layer and a few apis with the real codec (src/proto), keeps a record of what it
 * got, and misbehaves on request: stays silent (answers held back, then sent late before
 * the next answer once it speaks again), answers with a wrong request id, or
 * drops the connection after taking a PRODUCE_LOG without answering (the batch counts as
 * applied, as after a server that crashed between the append and the answer).
 *
 * Table 't': device STRING NOT NULL, ts TIMESTAMP(3) NOT NULL, v DOUBLE; 4 buckets,
 * bucket.key device. PRODUCE_LOG deduplicates as the server must: per (writer, bucket) a
 * batch whose sequence is not above the last applied one is answered but not applied.
 * KEY_HISTORY records the request and answers a result batch of the asked columns (v and
 * ts only) holding rows i = 2, 1, 0 (newest first: v = 10 i, ts = at_or_before - 100 i);
 * key "none": no rows.
 */
#ifndef TEST_CLIENT_PEER_H
#define TEST_CLIENT_PEER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "format/format.h"
#include "proto/proto.h"

#define PEER_MAX_BATCHES 4096
#define PEER_NB 4

typedef struct peer_batch {
    int bucket;
    int64_t writer;
    int32_t seq;
    uint32_t nrows;
    uint32_t crc;
    int applied;
    char dev[8][16];          /* the first rows' devices */
} peer_batch;

typedef struct peer {
    int lfd, port;
    pthread_t th;
    volatile int stop;
    pthread_mutex_t mu;
    /* behaviour */
    int silent;               /* never answer */
    int wrong_id;             /* answer with request id + 1000 */
    int drop_produce_at;      /* drop the connection on this PRODUCE_LOG (1-based), 0: never */
    int close_after;          /* close the connection after this many answers, 0: never */
    /* record */
    int nreq, nproduce, nconn;
    int32_t ids[4096];
    peer_batch b[PEER_MAX_BATCHES];
    int nb;
    int64_t applied_rows;
    int64_t last_seq[PEER_NB];
    int64_t next_off[PEER_NB];
    char hist_key[32];        /* the last KEY_HISTORY request */
    int64_t hist_at;
    int32_t hist_n;
    int hist_ncols;
    char hist_cols[4][16];
    strom_buf hist_out;       /* its answer's batch bytes */
} peer;

static void peer_schema(proto_schema *s, proto_column *cols, proto_option *opts)
{
    cols[0] = (proto_column){proto_s("device"), STROM_STRING, 1};
    cols[1] = (proto_column){proto_s("ts"), STROM_TIMESTAMP, 1};
    cols[2] = (proto_column){proto_s("v"), STROM_DOUBLE, 0};
    opts[0] = (proto_option){proto_s("bucket.num"), proto_s("4")};
    opts[1] = (proto_option){proto_s("bucket.key"), proto_s("device")};
    *s = (proto_schema){3, cols, 0, NULL, 2, opts};
}

/* Records a produced batch; returns its first offset. */
static int64_t peer_apply(peer *p, int bucket, const uint8_t *bytes, size_t len)
{
    fmt_hdr h;
    static fmt_dir dirs[FMT_MAX_COLUMNS];
    if (fmt_batch_verify(bytes, len, &h, dirs) != STROM_OK || p->nb >= PEER_MAX_BATCHES)
        return -1;
    peer_batch *x = &p->b[p->nb++];
    *x = (peer_batch){bucket, h.writer_id, h.batch_seq, h.nrows, h.crc, 0, {{0}}};
    strom_batch *bt = fmt_batch_create(1);
    fmt_decoder *dec = fmt_decoder_create();
    strom_column c;
    if (fmt_batch_reset(bt, &h, 1) == STROM_OK &&
        fmt_decode_column(dec, &dirs[0], bytes + dirs[0].data_offset, h.nrows, bt, "device", &c) == STROM_OK)
        for (uint32_t r = 0; r < h.nrows && r < 8; r++)
            snprintf(x->dev[r], sizeof x->dev[r], "%.*s", c.offsets[r + 1] - c.offsets[r],
                     (const char *)c.data + c.offsets[r]);
    strom_batch_destroy(bt);
    fmt_decoder_destroy(dec);
    int64_t first = p->next_off[bucket];
    if (h.writer_id < 0 || h.batch_seq > p->last_seq[bucket]) {
        x->applied = 1;
        p->applied_rows += h.nrows;
        p->next_off[bucket] += h.nrows;
        if (h.writer_id >= 0)
            p->last_seq[bucket] = h.batch_seq;
    }
    return first;
}

/* Records a KEY_HISTORY request and makes its answer's records (peer header). */
static strom_err peer_history(peer *p, const proto_msg *m, proto_records *rec)
{
    const proto_key *k = &m->req.key_history.key;
    snprintf(p->hist_key, sizeof p->hist_key, "%.*s", (int)k->values[0].v.s.len, k->values[0].v.s.ptr);
    p->hist_at = m->req.key_history.at_or_before;
    p->hist_n = m->req.key_history.n;
    p->hist_ncols = (int)m->req.key_history.ncolumns;
    strom_schema *rs = strom_schema_create();
    for (int i = 0; i < p->hist_ncols && i < 4; i++) {
        const proto_str *c = &m->req.key_history.columns[i];
        snprintf(p->hist_cols[i], sizeof p->hist_cols[i], "%.*s", (int)c->len, c->p);
        strom_schema_add(rs, p->hist_cols[i], p->hist_cols[i][0] == 'v' ? STROM_DOUBLE : STROM_TIMESTAMP, 0);
    }
    strom_builder *b = strom_builder_create(rs);
    for (int i = 2; i >= 0 && strcmp(p->hist_key, "none"); i--) {
        for (int c = 0; c < p->hist_ncols; c++)
            if (p->hist_cols[c][0] == 'v')
                strom_builder_put_f64(b, c, 10.0 * i);
            else
                strom_builder_put_int(b, c, p->hist_at - 100 * i);
        strom_builder_end_row(b);
    }
    fmt_encoder *enc = fmt_encoder_create();
    fmt_encode_opts eo;
    fmt_encode_opts_init(&eo);
    strom_buf_clear(&p->hist_out);
    strom_err e = strom_builder_nrows(b) ? fmt_encode(enc, b, NULL, 0, &eo, &p->hist_out) : STROM_OK;
    *rec = (proto_records){.bytes = {p->hist_out.data, p->hist_out.len}};
    fmt_encoder_destroy(enc);
    strom_builder_destroy(b);
    strom_schema_destroy(rs);
    return e;
}

/* Answers one request into out. Returns 0 to answer, 1 to stay silent, -1 to drop. */
static int peer_answer(peer *p, const uint8_t *f, size_t len, strom_buf *out, proto_arena *a)
{
    proto_req_hdr h;
    if (proto_parse_request(f, len, &h) != STROM_OK)
        return -1;
    pthread_mutex_lock(&p->mu);
    int n = p->nreq++;
    if (n < 4096)
        p->ids[n] = h.request_id;
    int rc = p->silent ? 1 : 0;
    proto_msg m, r = {0};
    proto_column cols[3];
    proto_option opts[2];
    proto_arena_reset(a);
    strom_err e = proto_decode_request(h.api_key, h.api_version, h.body, h.body_len,
                                       (size_t)(h.body - f), a, &m);
    if (e == STROM_OK && h.api_key == PROTO_GET_TABLE_INFO) {
        r.resp.table_info.name = m.req.get_table_info.name;
        r.resp.table_info.schema_id = 1;
        r.resp.table_info.buckets = PEER_NB;
        peer_schema(&r.resp.table_info.schema, cols, opts);
    } else if (e == STROM_OK && h.api_key == PROTO_PRODUCE_LOG) {
        int k = ++p->nproduce;
        int64_t first = -1;
        for (uint32_t i = 0; i < m.req.produce.records.nbatches; i++)
            first = peer_apply(p, m.req.produce.bucket, m.req.produce.records.batches[i].p,
                               m.req.produce.records.batches[i].len);
        r.resp.produce = (typeof(r.resp.produce)){m.req.produce.bucket, first, first, first};
        if (k == p->drop_produce_at)
            rc = -1;
    } else if (e == STROM_OK && h.api_key == PROTO_KEY_HISTORY) {
        e = peer_history(p, &m, &r.resp.key_history.records);
    } else if (e == STROM_OK) {
        e = strom_fail(STROM_EUNSUPPORTED, "fake peer: api %d", h.api_key);
    }
    int32_t id = p->wrong_id ? h.request_id + 1000 : h.request_id;
    if (p->close_after && p->nreq >= p->close_after)
        rc = rc == 0 ? 2 : rc;
    pthread_mutex_unlock(&p->mu);
    proto_encode_response(out, h.api_key, 0, id, e, e ? strom_errmsg() : NULL, e ? NULL : &r);
    return rc;
}

static void peer_serve(peer *p, int fd)
{
    proto_reader rd = {0};
    proto_reader_init(&rd, 0, 8);
    strom_buf out = {0}, held = {0}; /* answers held back while silent: sent late */
    proto_arena a = {0};
    while (!p->stop) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        uint8_t *sp;
        size_t cap;
        proto_reader_space(&rd, 65536, &sp, &cap);
        ssize_t n = read(fd, sp, cap);
        if (n <= 0)
            break;
        proto_reader_commit(&rd, (size_t)n);
        const uint8_t *f;
        size_t len;
        int rc = 0;
        while (rc >= 0 && proto_reader_next(&rd, &f, &len) == STROM_OK && f) {
            strom_buf_clear(&out);
            rc = peer_answer(p, f, len, &out, &a);
            if (rc == 1)
                strom_buf_append(&held, out.data, out.len);
            if ((rc == 0 || rc == 2) && held.len) {
                (void)!write(fd, held.data, held.len);
                strom_buf_clear(&held);
            }
            if (rc == 0 || rc == 2)
                (void)!write(fd, out.data, out.len);
            if (rc == 2)
                rc = -1;
        }
        if (rc < 0)
            break;
    }
    close(fd);
    proto_reader_free(&rd);
    strom_buf_free(&out);
    strom_buf_free(&held);
    proto_arena_free(&a);
}

static void *peer_main(void *arg)
{
    peer *p = arg;
    while (!p->stop) {
        struct pollfd pf = {p->lfd, POLLIN, 0};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        int fd = accept(p->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&p->mu);
        p->nconn++;
        pthread_mutex_unlock(&p->mu);
        peer_serve(p, fd);
    }
    return NULL;
}

static peer *peer_start(void)
{
    peer *p = calloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    for (int b = 0; b < PEER_NB; b++)
        p->last_seq[b] = -1;
    p->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (bind(p->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(p->lfd, 16) != 0 ||
        getsockname(p->lfd, (struct sockaddr *)&sa, &sl) != 0)
        abort();
    p->port = ntohs(sa.sin_port);
    pthread_create(&p->th, NULL, peer_main, p);
    return p;
}

static void peer_addr(const peer *p, char *buf, size_t n)
{
    snprintf(buf, n, "127.0.0.1:%d", p->port);
}

static void peer_stop(peer *p)
{
    p->stop = 1;
    pthread_join(p->th, NULL);
    close(p->lfd);
    pthread_mutex_destroy(&p->mu);
    strom_buf_free(&p->hist_out);
    free(p);
}

#endif
