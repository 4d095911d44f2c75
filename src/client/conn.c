/*
 * conn.c: one connection to a strom server (see client.h for the contract).
 *
 * Requests are written whole under wmu, in the same order as their calls are queued;
 * the server answers in order, so the reader hands each answer to the head of the queue
 * after checking that the request ids match (a mismatch is EPROTO and breaks the
 * connection: the stream can no longer be trusted). There is no reader thread: a caller
 * waiting for an answer reads the socket itself when nobody else does (leader/follower,
 * wait_done), handing the others theirs, so the server's write wakes a waiting caller
 * directly. A caller waits with a deadline; on timeout it marks its call abandoned, and
 * whoever reads its late answer frees it (or the end of the connection does). Answers
 * nobody waits for stay in the socket until somebody does. A broken connection (EOF,
 * error, a frame over the limit, a half-written request) fails every queued call with EIO;
 * the next call reconnects (and first looks for an EOF the server left meanwhile).
 */
#define _GNU_SOURCE /* POLLRDHUP */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client/client_int.h"

struct stc_call {
    stc_call *next;
    int32_t id;
    int api;
    int done, abandoned;
    strom_err err;
    char msg[400];
    strom_buf frame;           /* the answer */
    int64_t deadline_ns;
    int timeout_ms;
};

static const char *api_name(int api)
{
    const char *n = proto_api_name(api);
    return n ? n : "?";
}

/* ------------------------------------------------------------ address */

static strom_err parse_server(strom_client *c, const char *s)
{
    if (!s || !*s || strlen(s) >= sizeof c->server)
        return strom_fail(STROM_EINVAL, "server address '%s': expected HOST:PORT", s ? s : "");
    snprintf(c->server, sizeof c->server, "%s", s);
    const char *colon = strrchr(s, ':');
    const char *h = s, *he = colon;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            return strom_fail(STROM_EINVAL, "server address '%s': expected [IPV6]:PORT", s);
        h = s + 1, he = rb, colon = rb + 1;
    }
    if (!colon || he == h || (size_t)(he - h) >= sizeof c->host)
        return strom_fail(STROM_EINVAL, "server address '%s': expected HOST:PORT", s);
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end || port < 1 || port > 65535)
        return strom_fail(STROM_EINVAL, "server address '%s': port '%s' is not a number in "
                          "1..65535", s, colon + 1);
    snprintf(c->host, sizeof c->host, "%.*s", (int)(he - h), h);
    snprintf(c->port, sizeof c->port, "%ld", port);
    return STROM_OK;
}

/* Non-blocking connect to one address, waiting until deadline_ns. fd or -1 (errno). */
static int connect_one(const struct addrinfo *ai, int64_t deadline_ns)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)
        goto fail;
    struct pollfd p = {fd, POLLOUT, 0};
    int64_t left = (deadline_ns - strom_mono_ns()) / 1000000;
    int r = poll(&p, 1, left > 0 ? (int)left : 0);
    if (r == 0) {
        errno = ETIMEDOUT;
        goto fail;
    }
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
        goto fail;
    if (soerr) {
        errno = soerr;
        goto fail;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
fail:;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

static strom_err open_socket(strom_client *c, int *fdp)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int g = getaddrinfo(c->host, c->port, &hints, &res);
    if (g != 0)
        return strom_fail(STROM_EIO, "server %s: cannot resolve '%s': %s", c->server, c->host,
                          gai_strerror(g));
    int64_t deadline = strom_mono_ns() + (int64_t)c->opts.connect_timeout_ms * 1000000;
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
        if ((fd = connect_one(ai, deadline)) < 0)
            err = errno;
    freeaddrinfo(res);
    if (fd < 0 && err == ETIMEDOUT)
        return strom_fail(STROM_ETIMEOUT, "server %s: connect timed out after %d ms", c->server,
                          c->opts.connect_timeout_ms);
    if (fd < 0)
        return strom_fail(STROM_EIO, "server %s: cannot connect: %s", c->server, strerror(err));
    *fdp = fd;
    return STROM_OK;
}

/* ------------------------------------------------------------ the queue */

static void call_free(stc_call *k)
{
    if (k) {
        strom_buf_free(&k->frame);
        free(k);
    }
}

/* Completes k (mu held): abandoned calls are freed, others woken. */
static void complete(strom_client *c, stc_call *k, strom_err err, const char *msg)
{
    k->done = 1;
    k->err = err;
    if (err)
        snprintf(k->msg, sizeof k->msg, "%s", msg);
    if (k->abandoned)
        call_free(k);
    else
        pthread_cond_broadcast(&c->cv);
}

/* Fails every queued call of the current connection and closes it (mu held). */
static void break_locked(strom_client *c, strom_err err, const char *msg)
{
    while (c->head) {
        stc_call *k = c->head;
        c->head = k->next;
        complete(c, k, err, msg);
    }
    c->tail = NULL;
    c->broken = 1;
    if (c->fd >= 0)
        shutdown(c->fd, SHUT_RDWR);
}

/* Hands frame to the head of the queue. 0, or -1 if the stream is broken. */
static int deliver(strom_client *c, const uint8_t *f, size_t len)
{
    proto_resp_hdr h;
    char msg[600];
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    int32_t id = len >= 8 ? (int32_t)strom_get_u32(f + 4) : -1;
    while (c->head && c->head->abandoned && c->head->id != id) { /* never answered */
        stc_call *x = c->head;
        c->head = x->next;
        c->tail = c->head ? c->tail : NULL;
        call_free(x);
    }
    stc_call *k = c->head;
    if (proto_parse_response(f, len, &h) != STROM_OK || !k || h.request_id != k->id) {
        snprintf(msg, sizeof msg, "server %s: answer with request id %d%s%d: protocol error, "
                 "connection closed", c->server, (int)strom_get_u32(f + 4),
                 k ? " where the next expected is " : " without any request in flight", k ? k->id : 0);
        break_locked(c, STROM_EPROTO, msg);
        rc = -1;
    } else {
        c->head = k->next;
        if (!c->head)
            c->tail = NULL;
        strom_buf_clear(&k->frame);
        strom_err e = strom_buf_append(&k->frame, f, len);
        complete(c, k, e, "out of memory for an answer");
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* One read into r: 1 (bytes read), 0 (EOF), -1 (error), 2 (nothing there: EAGAIN). */
static int read_once(proto_reader *r, int fd)
{
    uint8_t *p;
    size_t cap;
    if (proto_reader_space(r, 64 * 1024, &p, &cap) != STROM_OK)
        return -1;
    for (;;) {
        ssize_t n = read(fd, p, cap);
        if (n > 0) {
            proto_reader_commit(r, (size_t)n);
            return 1;
        }
        if (n == 0)
            return 0;
        if (errno != EINTR)
            return errno == EAGAIN ? 2 : -1;
    }
}

/* Hands the whole frames in r to their calls. 0, or -1 when the stream broke (bad frame,
 * id mismatch: the connection is closed). */
static int deliver_all(strom_client *c, proto_reader *r)
{
    const uint8_t *f;
    size_t len;
    strom_err e;
    while ((e = proto_reader_next(r, &f, &len)) == STROM_OK && f)
        if (deliver(c, f, len) != 0)
            return -1;
    if (e == STROM_OK)
        return 0;
    char msg[400];
    snprintf(msg, sizeof msg, "server %s: a malformed or oversized answer frame", c->server);
    pthread_mutex_lock(&c->mu);
    break_locked(c, STROM_EIO, msg);
    pthread_mutex_unlock(&c->mu);
    return -1;
}

/* 1 when the server closed the connection (or it failed). With no thread reading between
 * calls nobody sees the EOF of a connection the server closed meanwhile: the next call
 * looks first, so that it reconnects instead of failing. */
static int peer_closed(int fd)
{
    struct pollfd pf = {fd, POLLIN | POLLRDHUP, 0};
    return poll(&pf, 1, 0) == 1 && (pf.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Connects if there is no live connection (cmu held by the caller). */
static strom_err ensure_connected(strom_client *c)
{
    pthread_mutex_lock(&c->mu);
    int live = c->fd >= 0 && !c->broken, closing = c->closing;
    if (live && peer_closed(c->fd)) {
        char msg[360];
        snprintf(msg, sizeof msg, "server %s: the server closed the connection", c->server);
        break_locked(c, STROM_EIO, msg); /* fails the calls in flight, if any */
        live = 0;
    }
    while (!live && c->reading) /* the shutdown ends its read at once */
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    if (closing)
        return strom_fail(STROM_ECLOSED, "server %s: client is closing", c->server);
    if (live)
        return STROM_OK;
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    int fd = -1;
    strom_err e = open_socket(c, &fd);
    if (e != STROM_OK)
        return e;
    proto_reader_free(&c->rd);
    proto_reader_init(&c->rd, 0, 7);
    pthread_mutex_lock(&c->mu);
    c->fd = fd;
    c->broken = 0;
    c->gen++;
    pthread_mutex_unlock(&c->mu);
    return STROM_OK;
}

/* ------------------------------------------------------------ calls */

/* Writes all of p before deadline. 0 or an errno value. */
static int write_all(int fd, const uint8_t *p, size_t n, int64_t deadline_ns)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w, n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno != EAGAIN)
            return errno;
        int64_t left = (deadline_ns - strom_mono_ns()) / 1000000;
        if (left <= 0)
            return ETIMEDOUT;
        struct pollfd pf = {fd, POLLOUT, 0};
        poll(&pf, 1, (int)left);
    }
    return 0;
}

/* Queues k and writes its frame (wmu held). */
static strom_err send_frame(strom_client *c, stc_call *k, strom_buf *req)
{
    pthread_mutex_lock(&c->mu);
    int fd = c->fd;
    if (fd < 0 || c->broken) {
        pthread_mutex_unlock(&c->mu);
        return strom_fail(STROM_EIO, "server %s: %s: the connection broke before the request "
                          "was sent", c->server, api_name(k->api));
    }
    k->id = c->next_id++;
    if (c->next_id < 0)
        c->next_id = 0;
    strom_put_u32(req->data + 8, (uint32_t)k->id);
    if (c->tail)
        c->tail->next = k;
    else
        c->head = k;
    c->tail = k;
    pthread_mutex_unlock(&c->mu);
    int werr = write_all(fd, req->data, req->len, k->deadline_ns);
    if (werr == 0)
        return STROM_OK;
    char msg[400];
    snprintf(msg, sizeof msg, "server %s: %s: sending the request failed: %s; connection closed",
             c->server, api_name(k->api), werr == ETIMEDOUT ? "timed out" : strerror(werr));
    pthread_mutex_lock(&c->mu);
    break_locked(c, werr == ETIMEDOUT ? STROM_ETIMEOUT : STROM_EIO, msg);
    pthread_mutex_unlock(&c->mu);
    return STROM_OK; /* k was completed with the error: the wait reports it */
}

strom_err stc_call_start(strom_client *c, int api, const proto_msg *m, int extra_ms,
                         stc_call **out)
{
    *out = NULL;
    stc_call *k = strom_calloc(1, sizeof *k);
    if (!k)
        return STROM_ENOMEM;
    k->api = api;
    k->timeout_ms = c->opts.request_timeout_ms + (extra_ms > 0 ? extra_ms : 0);
    k->deadline_ns = strom_mono_ns() + (int64_t)k->timeout_ms * 1000000;
    pthread_mutex_lock(&c->cmu);
    strom_err e = ensure_connected(c);
    pthread_mutex_unlock(&c->cmu);
    if (e == STROM_OK) {
        pthread_mutex_lock(&c->wmu);
        strom_buf_clear(&c->wbuf);
        e = proto_encode_request(&c->wbuf, api, 0, 0, m);
        if (e != STROM_OK)
            strom_fail_wrap(e, "server %s: %s request", c->server, api_name(api));
        else
            e = send_frame(c, k, &c->wbuf);
        pthread_mutex_unlock(&c->wmu);
    }
    if (e != STROM_OK) {
        call_free(k);
        return e;
    }
    *out = k;
    return STROM_OK;
}

/* The reader (c->reading, set by the caller): reads fd and hands out answers until k is
 * answered (1), k's deadline passes (0) or the connection breaks (1: every call in
 * flight, k included, was failed). */
static int read_for(strom_client *c, int fd, stc_call *k)
{
    for (;;) {
        pthread_mutex_lock(&c->mu);
        int done = k->done;
        pthread_mutex_unlock(&c->mu);
        if (done)
            return 1;
        int64_t left = (k->deadline_ns - strom_mono_ns() + 999999) / 1000000;
        struct pollfd pf = {fd, POLLIN, 0};
        int r = left > 0 ? poll(&pf, 1, (int)STROM_MIN(left, INT32_MAX)) : 0;
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            return 0;
        int n = r < 0 ? -1 : read_once(&c->rd, fd);
        if (n == 2 || (n == 1 && deliver_all(c, &c->rd) == 0))
            continue;
        if (n <= 0) {
            char msg[400];
            snprintf(msg, sizeof msg, "server %s: %s", c->server,
                     n == 0 ? "the server closed the connection" : "read failed");
            pthread_mutex_lock(&c->mu);
            break_locked(c, STROM_EIO, msg);
            pthread_mutex_unlock(&c->mu);
        }
        return 1; /* broken: k was completed with the error */
    }
}

/* Leader/follower (mu held): a waiter becomes the connection's reader when nobody reads,
 * until its own answer is in; meanwhile it hands the other callers theirs (complete wakes
 * them). When it stops, another waiter takes over. So an answer wakes the thread that waits
 * for it, or the reader that hands it over: no reader thread, no hand-off to it. */
static strom_err wait_done(strom_client *c, stc_call *k)
{
    struct timespec ts = {k->deadline_ns / 1000000000, k->deadline_ns % 1000000000};
    while (!k->done) {
        int timed_out = 0;
        if (!c->reading && c->fd >= 0 && !c->broken) {
            c->reading = 1;
            int fd = c->fd;
            pthread_mutex_unlock(&c->mu);
            timed_out = !read_for(c, fd, k);
            pthread_mutex_lock(&c->mu);
            c->reading = 0;
            pthread_cond_broadcast(&c->cv); /* a waiter reads on; a reconnect may go on */
        } else {
            timed_out = pthread_cond_timedwait(&c->cv, &c->mu, &ts) == ETIMEDOUT;
        }
        if (timed_out && !k->done) {
            k->abandoned = 1;
            return strom_fail(STROM_ETIMEOUT, "server %s: %s: no answer within %d ms",
                              c->server, api_name(k->api), k->timeout_ms);
        }
    }
    return STROM_OK;
}

strom_err stc_call_wait(strom_client *c, stc_call *k, strom_buf *frame)
{
    pthread_mutex_lock(&c->mu);
    strom_err e = wait_done(c, k);
    pthread_mutex_unlock(&c->mu);
    if (e != STROM_OK)
        return e; /* abandoned: freed when its answer comes (or the connection ends) */
    if (k->err != STROM_OK) {
        e = strom_fail(k->err, "%s", k->msg);
    } else {
        strom_buf t = *frame;
        *frame = k->frame;
        k->frame = t;
    }
    call_free(k);
    return e;
}

strom_err stc_decode(strom_client *c, int api, const strom_buf *frame, proto_arena *arena,
                     proto_msg *m)
{
    proto_resp_hdr h;
    strom_err e = proto_parse_response(frame->data, frame->len, &h);
    if (e != STROM_OK)
        return strom_fail_wrap(e, "server %s: %s answer", c->server, api_name(api));
    if (h.error != 0) {
        strom_err code = h.error > 0 && h.error <= STROM_EPROTO ? (strom_err)h.error : STROM_EIO;
        return strom_fail(code, "server %s: %s: %.*s", c->server, api_name(api),
                          (int)h.errmsg.len, h.errmsg.p);
    }
    memset(m, 0, sizeof *m);
    e = proto_decode_response(api, 0, h.body, h.body_len, (size_t)(h.body - frame->data), arena, m);
    if (e != STROM_OK)
        return strom_fail_wrap(e, "server %s", c->server);
    return STROM_OK;
}

strom_err stc_roundtrip(strom_client *c, int api, const proto_msg *m, int extra_ms, strom_buf *frame,
                   proto_arena *arena, proto_msg *resp)
{
    stc_call *k;
    strom_err e = stc_call_start(c, api, m, extra_ms, &k);
    if (e == STROM_OK)
        e = stc_call_wait(c, k, frame);
    if (e == STROM_OK)
        e = stc_decode(c, api, frame, arena, resp);
    return e;
}

/* ------------------------------------------------------------ public */

strom_err strom_client_connect(const char *server, const strom_client_opts *opts,
                               strom_client **out)
{
    *out = NULL;
    strom_client *c = strom_calloc(1, sizeof *c);
    if (!c)
        return STROM_ENOMEM;
    c->fd = -1;
    c->opts.connect_timeout_ms = opts && opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 5000;
    c->opts.request_timeout_ms = opts && opts->request_timeout_ms > 0 ? opts->request_timeout_ms : 30000;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->wmu, NULL);
    pthread_mutex_init(&c->cmu, NULL);
    strom_err e = parse_server(c, server);
    if (e == STROM_OK)
        e = ensure_connected(c);
    if (e != STROM_OK) {
        strom_client_close(c);
        return e;
    }
    *out = c;
    return STROM_OK;
}

void strom_client_close(strom_client *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->cmu);
    pthread_mutex_lock(&c->mu);
    c->closing = 1;
    char msg[360];
    snprintf(msg, sizeof msg, "server %s: the client was closed", c->server);
    break_locked(c, STROM_ECLOSED, msg);
    while (c->reading) /* (a call still waiting while the client closes: the shutdown ends it) */
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    if (c->fd >= 0)
        close(c->fd);
    proto_reader_free(&c->rd);
    pthread_mutex_unlock(&c->cmu);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->wmu);
    pthread_mutex_destroy(&c->cmu);
    strom_buf_free(&c->wbuf);
    free(c);
}

const char *strom_client_server(const strom_client *c)
{
    return c->server;
}
