/*
 * srvtest.h: helpers for the black-box server tests (header-only, static functions): start
 * the real `strom server --port 0` binary (STROM_BIN) on a data directory and read the port
 * it prints; a small blocking client over src/proto (send/receive frames, call an api);
 * wire batches built with the storage encoder and decoded with the storage decoder (the
 * server's own conversions in src/server/wire.c are not used, so the tests check them).
 */
#ifndef STROM_SRVTEST_H
#define STROM_SRVTEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "format/format.h"
#include "itest.h"
#include "proto/proto.h"

#define ST_TIMEOUT_MS 20000

/* ------------------------------------------------------------ the server */

typedef struct st_server {
    pid_t pid;
    int port;
    int out_fd;          /* the server's stdout (after the ready line) */
} st_server;

/* Starts `strom server --port 0 --data dir [extra...]` (extra NULL-terminated, may be
 * NULL) and waits for its ready line. */
static inline void st_start(st_server *s, const char *dir, const char *const *extra)
{
    const char *bin = getenv("STROM_BIN");
    IT_CHECK(bin && *bin, "STROM_BIN is not set (run through ctest)");
    const char *argv[32] = {bin, "server", "--port", "0", "--data", dir};
    int n = 6;
    for (int i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    int fds[2];
    s->pid = it_fork_pipe(fds);
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* no orphan server when a test dies */
        dup2(fds[1], 1);
        close(fds[1]);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    s->out_fd = fds[0];
    char line[512];
    size_t len = 0;
    while (len < sizeof line - 1) {
        struct pollfd p = {.fd = s->out_fd, .events = POLLIN};
        IT_CHECK(poll(&p, 1, ST_TIMEOUT_MS) == 1, "server did not print its ready line");
        ssize_t r = read(s->out_fd, line + len, 1);
        IT_CHECK(r == 1, "server exited before it was ready");
        if (line[len++] == '\n')
            break;
    }
    line[len] = '\0';
    const char *colon = strrchr(line, ':');
    IT_CHECK(!strncmp(line, "strom server listening on ", 26) && colon, "ready line: %s", line);
    s->port = atoi(colon + 1);
    IT_CHECK(s->port > 0, "port in ready line: %s", line);
}

/* Sends sig and waits for the exit; returns the exit code (128 + signal if killed). */
static inline int st_stop(st_server *s, int sig)
{
    int status = 0;
    kill(s->pid, sig);
    IT_CHECK(waitpid(s->pid, &status, 0) == s->pid, "waitpid: %s", strerror(errno));
    close(s->out_fd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ------------------------------------------------------------- the client */

typedef struct st_conn {
    int fd;
    proto_reader rd;
    proto_arena arena;
    strom_buf out;
    int32_t rid;
    char err[1024];      /* error message of the last response */
} st_conn;

static inline int st_try_connect(st_conn *c, int port)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    IT_CHECK(c->fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(c->fd);
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    proto_reader_init(&c->rd, 0, 7);
    return 0;
}

static inline void st_connect(st_conn *c, int port)
{
    IT_CHECK(st_try_connect(c, port) == 0, "connect to port %d: %s", port, strerror(errno));
}

static inline void st_close(st_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    proto_reader_free(&c->rd);
    proto_arena_free(&c->arena);
    strom_buf_free(&c->out);
}

static inline void st_write(st_conn *c, const void *p, size_t n)
{
    IT_CHECK(strom_write_full(c->fd, p, n) == 0, "write to server: %s", strerror(errno));
}

/* Encodes and sends one request; returns its request id. */
static inline int32_t st_send(st_conn *c, int api, const proto_msg *m)
{
    static const proto_msg empty;
    strom_buf_clear(&c->out);
    IT_OK(proto_encode_request(&c->out, api, 0, ++c->rid, m ? m : &empty));
    st_write(c, c->out.data, c->out.len);
    return c->rid;
}

/* Reads one whole response frame (timeout: fails the test). NULL when the server closed. */
static inline const uint8_t *st_read_frame(st_conn *c, size_t *len, int timeout_ms)
{
    for (;;) {
        const uint8_t *f;
        IT_OK(proto_reader_next(&c->rd, &f, len));
        if (f)
            return f;
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        IT_CHECK(poll(&p, 1, timeout_ms) == 1, "no response within %d ms", timeout_ms);
        uint8_t *dst;
        size_t cap;
        IT_OK(proto_reader_space(&c->rd, 65536, &dst, &cap));
        ssize_t r = read(c->fd, dst, cap);
        if (r <= 0)
            return NULL;
        proto_reader_commit(&c->rd, (size_t)r);
    }
}

/* As st_recv, but -1 (instead of failing the test) when the server closed the connection. */
static inline int st_recv_or_eof(st_conn *c, int api, int32_t *rid, proto_msg *m);

/* Receives one response of api: its request id in *rid, the body decoded into *m (from
 * c->arena, valid until the next receive) when the error is 0. Returns the error code. */
static inline strom_err st_recv(st_conn *c, int api, int32_t *rid, proto_msg *m)
{
    int e = st_recv_or_eof(c, api, rid, m);
    IT_CHECK(e >= 0, "the server closed the connection instead of answering");
    return (strom_err)e;
}

static inline int st_recv_or_eof(st_conn *c, int api, int32_t *rid, proto_msg *m)
{
    size_t len;
    const uint8_t *f = st_read_frame(c, &len, ST_TIMEOUT_MS);
    if (!f)
        return -1;
    proto_resp_hdr h;
    IT_OK(proto_parse_response(f, len, &h));
    snprintf(c->err, sizeof c->err, "%.*s", (int)h.errmsg.len, h.errmsg.p);
    *rid = h.request_id;
    memset(m, 0, sizeof *m);
    proto_arena_reset(&c->arena);
    if (h.error == 0)
        IT_OK(proto_decode_response(api, 0, h.body, h.body_len, (size_t)(h.body - f), &c->arena, m));
    return h.error;
}

/* One request and its response (ids checked). */
static inline strom_err st_call(st_conn *c, int api, const proto_msg *req, proto_msg *resp)
{
    int32_t rid = st_send(c, api, req), got;
    strom_err e = st_recv(c, api, &got, resp);
    IT_CHECK(got == rid, "response id %d, request id %d", got, rid);
    return e;
}

#define ST_OK(c, api, req, resp)                                                          \
    do {                                                                                  \
        strom_err e2_ = st_call((c), (api), (req), (resp));                               \
        IT_CHECK(e2_ == STROM_OK, "%s: %s: %s", proto_api_name(api), strom_strerror(e2_), \
                 (c)->err);                                                               \
    } while (0)

/* 1 if the server closes the connection within timeout_ms (bytes before EOF skipped). */
static inline int st_wait_eof(st_conn *c, int timeout_ms)
{
    uint8_t buf[4096];
    for (;;) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) != 1)
            return 0;
        ssize_t r = read(c->fd, buf, sizeof buf);
        if (r <= 0)
            return 1;
    }
}

/* --------------------------------------------------------------- batches */

/* Encodes the builder's rows as one wire batch of schema id schema_id (the table's),
 * appended to out. changes (per row) may be NULL; writer -1: not idempotent. */
static inline void st_encode(const strom_builder *b, uint32_t schema_id, const uint8_t *changes,
                             int64_t writer, int32_t seq, strom_buf *out)
{
    fmt_encoder *enc = fmt_encoder_create();
    fmt_encode_opts o;
    fmt_encode_opts_init(&o);
    o.time_col = -1;
    o.changes = changes;
    o.writer_id = writer;
    o.batch_seq = seq;
    size_t start = out->len;
    IT_OK(fmt_encode(enc, b, NULL, 0, &o, out));
    fmt_encoder_destroy(enc);
    strom_put_u32(out->data + start + 28, schema_id);
    fmt_batch_stamp(out->data + start, 0, 0);
}

/* Decodes one wire batch (all its columns; names from names[] or ""). Owned result. */
static inline strom_batch *st_decode(const uint8_t *p, size_t len)
{
    static fmt_dir dirs[FMT_MAX_COLUMNS];
    fmt_hdr h;
    IT_OK(fmt_batch_verify(p, len, &h, dirs));
    strom_batch *b = fmt_batch_create((int)h.ncols);
    fmt_decoder *d = fmt_decoder_create();
    IT_CHECK(b && d, "out of memory");
    IT_OK(fmt_batch_reset(b, &h, (int)h.ncols));
    for (uint32_t i = 0; i < h.ncols; i++)
        IT_OK(fmt_decode_column(d, &dirs[i], p + dirs[i].data_offset, h.nrows, b, "",
                                &b->cols[i]));
    IT_OK(fmt_batch_set_rows(b, &h, NULL));
    fmt_decoder_destroy(d);
    return b;
}

/* The batches of records, one by one: *off walks the bytes; NULL at the end. */
static inline const uint8_t *st_next_batch(proto_records r, size_t *off, size_t *len)
{
    if (*off >= r.bytes.len)
        return NULL;
    const uint8_t *p = r.bytes.p + *off;
    *len = 12 + (size_t)strom_get_u32(p + 8);
    *off += *len;
    return p;
}

/* out = one wire batch of the itest.h rows it_id(w, k, 0..rows) of seed. */
static inline void st_it_batch(uint64_t seed, int64_t w, int64_t k, int rows, uint32_t schema_id,
                               strom_buf *out)
{
    strom_schema *s = it_schema();
    strom_builder *b = strom_builder_create(s);
    for (int i = 0; i < rows; i++)
        it_put_row(b, seed, it_id(w, k, i), 0);
    strom_buf_clear(out);
    st_encode(b, schema_id, NULL, -1, -1, out);
    strom_builder_destroy(b);
    strom_schema_destroy(s);
}

/* Creates (if missing) the itest.h table name with buckets buckets through c; returns its
 * schema id (for st_encode). */
static inline uint32_t st_create_it_table(st_conn *c, const char *name, int buckets)
{
    proto_column cols[IT_NCOLS];
    strom_schema *s = it_schema();
    for (int i = 0; i < IT_NCOLS; i++)
        cols[i] = (proto_column){proto_s(strom_schema_col_name(s, i)),
                                 (uint8_t)strom_schema_col_type(s, i),
                                 (uint8_t)!strom_schema_col_nullable(s, i)};
    char nb[16];
    snprintf(nb, sizeof nb, "%d", buckets);
    proto_option o = {proto_s("bucket.num"), proto_s(nb)};
    proto_msg m = {0}, r;
    m.req.create_table.name = proto_s(name);
    m.req.create_table.if_not_exists = 1;
    m.req.create_table.schema = (proto_schema){IT_NCOLS, cols, 0, NULL, 1, &o};
    ST_OK(c, PROTO_CREATE_TABLE, &m, &r);
    strom_schema_destroy(s);
    memset(&m, 0, sizeof m);
    m.req.get_table_info.name = proto_s(name);
    ST_OK(c, PROTO_GET_TABLE_INFO, &m, &r);
    return (uint32_t)r.resp.table_info.schema_id;
}

static inline double st_ms(int64_t ns) { return (double)ns / 1e6; }

#endif /* STROM_SRVTEST_H */
