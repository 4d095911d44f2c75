/* loop.c: the I/O threads. Each runs an epoll loop over its listening socket (SO_REUSEPORT),
 * its connections and an eventfd (completions from workers, wakeups of parked fetches,
 * shutdown). Connections are read into their frame reader, frames go to the connection's
 * protocol (srv_proto), finished responses are written in request order with writev. */
#define _GNU_SOURCE
#include "srv_int.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define LOOP_EVENTS 256
#define LOOP_READ_CHUNK 65536
#define LOOP_READ_ROUNDS 16
#define LOOP_IOV 64
#define LOOP_ACCEPTS 64
#define TAG_EVENT ((void *)2)

static void conn_close(srv_conn *c);

/* ------------------------------------------------------------------ slots */

#define SLOT_SPARES 8                 /* answered slots a conn keeps for reuse */
#define SLOT_SPARE_MAX_RESP (1u << 20) /* ... unless their response buffer grew above this */

/* Sets s->budget from its conn's unsent bytes (loop thread). */
static void slot_budget(srv_slot *s)
{
    size_t limit = (size_t)s->conn->loop->srv->cfg.max_conn_buffer_bytes;
    size_t unsent = s->conn->pending_bytes;
    s->budget = unsent < limit ? limit - unsent : 1;
}

/* A slot from the conn's spares (its response buffer and arena keep their memory, so a
 * steady request stream allocates nothing) or a new one. */
srv_slot *srv_slot_new(srv_conn *c)
{
    srv_slot *s = c->spare;
    if (s) {
        c->spare = s->next;
        c->nspare--;
        strom_buf resp = s->resp;
        proto_arena arena = s->arena;
        memset(s, 0, sizeof *s);
        s->resp = resp;
        s->arena = arena;
        strom_buf_clear(&s->resp);
    } else if (!(s = strom_calloc(1, sizeof *s))) {
        return NULL;
    }
    s->conn = c;
    s->state = SLOT_NEW;
    slot_budget(s);
    if (c->tail)
        c->tail->next = s;
    else
        c->head = s;
    c->tail = s;
    c->nslots++;
    return s;
}

static void slot_destroy(srv_slot *s)
{
    strom_buf_free(&s->resp);
    proto_arena_free(&s->arena);
    free(s);
}

static void slot_recycle(srv_conn *c, srv_slot *s)
{
    if (c->nspare >= SLOT_SPARES || s->resp.cap > SLOT_SPARE_MAX_RESP) {
        slot_destroy(s);
        return;
    }
    s->next = c->spare;
    c->spare = s;
    c->nspare++;
}

void srv_slot_done(srv_slot *s)
{
    s->state = SLOT_DONE;
    s->conn->pending_bytes += s->resp.len;
}

void srv_conn_queue(srv_slot *s)
{
    s->state = SLOT_QUEUED;
    slot_budget(s); /* a parked slot comes back here: what is unsent may have shrunk */
    s->conn->busy = 1;
    s->conn->refs++;
    srv_pool_submit(s->conn->loop->srv, s);
}

/* ----------------------------------------------------------- connections */

/* Requests of one connection execute one after the other, in order (a produce never
 * overtakes an earlier one, a read sees the writes answered before it); I/O is pipelined:
 * frames are read ahead and responses written in batches. While a request is with a
 * worker or parked (busy), the connection's next frames wait in its reader (and the
 * socket is not read), so the frame a worker uses stays where it is: no copy. */
static int conn_paused(const srv_conn *c)
{
    const srv_config *cfg = &c->loop->srv->cfg;
    return c->busy || c->pending_bytes >= (size_t)cfg->max_conn_buffer_bytes ||
           c->nslots >= cfg->max_inflight;
}

/* 1 when the reader holds a whole frame (or a length it will refuse). */
static int frame_ready(const srv_conn *c)
{
    size_t have = proto_reader_buffered(&c->rd);
    if (have < 4)
        return 0;
    int32_t len = (int32_t)strom_get_u32(c->rd.buf.data + c->rd.start);
    return len < 0 || (size_t)len > c->rd.max_frame || have - 4 >= (size_t)len;
}

static void conn_events(srv_conn *c, int want_out)
{
    int ev = 0;
    if (!c->closing && !conn_paused(c))
        ev |= EPOLLIN | EPOLLRDHUP; /* not reading: no interest in the peer's half-close */
    else if (c->busy && !c->peer_gone)
        ev |= EPOLLRDHUP;           /* ... except to stop the SQL of a client that left */
    if (want_out)
        ev |= EPOLLOUT;
    if (ev == c->events || c->dead)
        return;
    struct epoll_event e = {.events = (uint32_t)ev, .data.ptr = c};
    if (epoll_ctl(c->loop->epfd, EPOLL_CTL_MOD, c->fd, &e) == 0)
        c->events = ev;
}

/* A dead conn with no slot left goes to the loop's graveyard, freed at the end of the
 * loop iteration (callers up the stack may still look at c->dead). */
static void conn_bury(srv_conn *c)
{
    c->next = c->loop->graveyard;
    c->loop->graveyard = c;
}

static void loop_free_graveyard(srv_loop *l)
{
    while (l->graveyard) {
        srv_conn *c = l->graveyard;
        l->graveyard = c->next;
        while (c->spare) {
            srv_slot *s = c->spare;
            c->spare = s->next;
            slot_destroy(s);
        }
        proto_reader_free(&c->rd);
        srv_sql_conn_free(c);
        l->nconns--;
        atomic_fetch_sub(&l->assigned, 1);
        free(c);
    }
}

/* Closes the socket now; a slot with a worker keeps the conn alive (refs) until it returns. */
static void conn_close(srv_conn *c)
{
    if (c->dead)
        return;
    srv_loop *l = c->loop;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    __atomic_store_n(&c->dead, 1, __ATOMIC_SEQ_CST); /* api_sql.c reads it on a worker */
    c->prev->next = c->next;
    c->next->prev = c->prev;
    atomic_fetch_sub(&l->srv->nconns, 1);
    srv_sql_conn_closed(c);
    for (srv_slot *s = c->head, *n; s; s = n) {
        n = s->next;
        if (s->state == SLOT_PARKED) {
            srv_wait_cancel(l->srv, s);
            for (int i = 0; i < l->nparked; i++)
                if (l->parked[i] == s)
                    l->parked[i] = l->parked[--l->nparked];
            c->refs--;
        }
        if (s->state != SLOT_QUEUED)
            slot_destroy(s);
    }
    c->head = c->tail = NULL;
    c->nslots = 0;
    if (c->refs == 0)
        conn_bury(c);
}

/* While the loop handles a round of events, a conn's answers wait on the loop's flush
 * list: every ready request is answered before the first write, which wakes a client
 * that may take this thread's core (with more runnable threads than cores, requests
 * still unread would wait a scheduler slice, ~1 ms, behind it). */
static int conn_defer_flush(srv_conn *c)
{
    srv_loop *l = c->loop;
    if (!l->deferring)
        return 0;
    if (!c->flushq) {
        c->flushq = 1;
        c->fnext = NULL;
        if (l->ftail)
            l->ftail->fnext = c;
        else
            l->fhead = c;
        l->ftail = c;
    }
    return 1;
}

/* Writes finished responses from the head of the list, in order. */
static void conn_flush(srv_conn *c)
{
    if (conn_defer_flush(c))
        return;
    while (c->head && c->head->state == SLOT_DONE) {
        struct iovec iov[LOOP_IOV];
        int n = 0;
        for (srv_slot *s = c->head; s && s->state == SLOT_DONE && n < LOOP_IOV; s = s->next)
            iov[n++] = (struct iovec){s->resp.data + s->sent, s->resp.len - s->sent};
        ssize_t w = writev(c->fd, iov, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            conn_events(c, 1);
            return;
        }
        if (w < 0) {
            conn_close(c);
            return;
        }
        atomic_fetch_add(&c->loop->srv->stats.bytes_out, w);
        for (size_t left = (size_t)w; left > 0;) {
            srv_slot *s = c->head;
            size_t take = STROM_MIN(left, s->resp.len - s->sent);
            s->sent += take;
            left -= take;
            if (s->sent < s->resp.len)
                break;
            c->pending_bytes -= s->resp.len;
            if (!(c->head = s->next))
                c->tail = NULL;
            c->nslots--;
            slot_recycle(c, s);
        }
    }
    if (c->closing && !c->head && (c->fatal || !frame_ready(c))) {
        conn_close(c);
        return;
    }
    conn_events(c, 0);
}

/* Hands complete buffered frames to the protocol while the conn may take them. */
static void conn_frames(srv_conn *c)
{
    while (!c->fatal && !c->dead && !conn_paused(c)) {
        const uint8_t *f;
        size_t len;
        strom_err e = proto_reader_next(&c->rd, &f, &len);
        if (e != STROM_OK) {
            c->proto->fatal(c, e, strom_errmsg());
            c->fatal = c->closing = 1;
            break;
        }
        if (!f)
            break;
        atomic_fetch_add(&c->loop->srv->stats.requests, 1);
        if (c->proto->frame(c, f, len) < 0)
            c->fatal = c->closing = 1;
    }
}

/* Frames, then responses, as long as answering unblocks more frames. */
static void conn_pump(srv_conn *c)
{
    do {
        conn_frames(c);
        if (!c->dead)
            conn_flush(c);
    } while (!c->dead && !c->fatal && !conn_paused(c) && frame_ready(c));
}

static void conn_read(srv_conn *c)
{
    for (int round = 0; round < LOOP_READ_ROUNDS && !c->closing && !conn_paused(c); round++) {
        uint8_t *p;
        size_t cap;
        if (proto_reader_space(&c->rd, LOOP_READ_CHUNK, &p, &cap) != STROM_OK) {
            conn_close(c);
            return;
        }
        ssize_t n = read(c->fd, p, cap);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            conn_close(c);
            return;
        }
        if (n == 0) { /* EOF: answer what was asked, then close */
            c->closing = 1;
            break;
        }
        atomic_fetch_add(&c->loop->srv->stats.bytes_in, n);
        proto_reader_commit(&c->rd, (size_t)n);
        conn_frames(c);
        if (c->dead || (size_t)n < cap)
            break;
    }
    if (!c->dead)
        conn_pump(c);
}

static void conn_event(srv_conn *c, uint32_t ev)
{
    if (ev & (EPOLLERR | EPOLLHUP)) { /* reset or both directions shut: nothing to answer */
        conn_close(c);
        return;
    }
    if ((ev & EPOLLRDHUP) && c->busy && !c->peer_gone) {
        /* the client shut its side while a request runs: its SQL statements are
         * interrupted (what it asked is still answered, then the conn closes) */
        __atomic_store_n(&c->peer_gone, 1, __ATOMIC_SEQ_CST);
        srv_sql_conn_closed(c);
        conn_events(c, 0);
        return;
    }
    if (ev & EPOLLOUT)
        conn_pump(c);
    if (!c->dead && (ev & (EPOLLIN | EPOLLRDHUP)))
        conn_read(c);
}

/* ------------------------------------------------------------- accepting */

/* Over max-connections: one ELIMIT response (request id 0), then close. */
static void refuse(srv_server *s, int fd)
{
    strom_buf b = {0};
    char msg[160];
    snprintf(msg, sizeof msg, "the server has reached its maximum of %lld connections "
             "(server.max-connections); closing", (long long)s->cfg.max_connections);
    if (proto_encode_response(&b, PROTO_API_VERSIONS, 0, 0, STROM_ELIMIT, msg, NULL) == STROM_OK)
        (void)!write(fd, b.data, b.len);
    strom_buf_free(&b);
    atomic_fetch_add(&s->stats.connections_refused, 1);
    close(fd);
}

/* A new conn of loop l (already counted in l->assigned and the server's nconns). */
static void conn_add(srv_loop *l, const srv_proto *proto, int fd)
{
    srv_conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        atomic_fetch_sub(&l->srv->nconns, 1);
        atomic_fetch_sub(&l->assigned, 1);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->loop = l;
    c->kind = SRV_KIND_CONN;
    c->proto = proto;
    c->fd = fd;
    proto_reader_init(&c->rd, (size_t)l->srv->cfg.max_frame_bytes, c->proto->min_frame);
    c->events = EPOLLIN | EPOLLRDHUP;
    struct epoll_event e = {.events = (uint32_t)c->events, .data.ptr = c};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &e) != 0) {
        close(fd);
        free(c);
        atomic_fetch_sub(&l->srv->nconns, 1);
        atomic_fetch_sub(&l->assigned, 1);
        return;
    }
    c->next = l->conns.next;
    c->prev = &l->conns;
    l->conns.next->prev = c;
    l->conns.next = c;
    l->nconns++;
    atomic_fetch_add(&l->srv->stats.connections_total, 1);
}

struct srv_handoff {
    int fd;
    const srv_proto *proto;
};

/* The loop with the fewest connections (l on a tie). SO_REUSEPORT spreads connections by
 * a hash of their addresses: 50 of them came as 31/19 or 30/20 onto two loops. */
static srv_loop *least_loaded(srv_loop *l)
{
    srv_server *s = l->srv;
    srv_loop *best = l;
    int least = atomic_load(&l->assigned);
    for (int i = 0; i < s->nloops; i++) {
        int n = atomic_load(&s->loops[i].assigned);
        if (n < least) {
            least = n;
            best = &s->loops[i];
        }
    }
    return best;
}

/* Gives accepted fd to loop t (its thread adds it); 0, or -1 on ENOMEM. */
static int handoff(srv_loop *t, const srv_proto *proto, int fd)
{
    pthread_mutex_lock(&t->mu);
    if (t->nhand == t->cap_hand) {
        int cap = t->cap_hand ? t->cap_hand * 2 : 16;
        struct srv_handoff *h = realloc(t->hand, (size_t)cap * sizeof *h);
        if (!h) {
            pthread_mutex_unlock(&t->mu);
            return -1;
        }
        t->hand = h;
        t->cap_hand = cap;
    }
    t->hand[t->nhand++] = (struct srv_handoff){fd, proto};
    pthread_mutex_unlock(&t->mu);
    srv_loop_kick(t);
    return 0;
}

/* Adds the connections other loops handed to l (closed instead once the server stops:
 * they arrived after l began to close its own). */
static void loop_take_handoffs(srv_loop *l)
{
    pthread_mutex_lock(&l->mu);
    struct srv_handoff *h = l->hand;
    int n = l->nhand;
    l->hand = NULL;
    l->nhand = l->cap_hand = 0;
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < n; i++) {
        if (!atomic_load(&l->srv->stopping)) {
            conn_add(l, h[i].proto, h[i].fd);
            continue;
        }
        close(h[i].fd);
        atomic_fetch_sub(&l->srv->nconns, 1);
        atomic_fetch_sub(&l->assigned, 1);
    }
    free(h);
}

static void loop_accept(srv_loop *l, srv_listen *ls)
{
    srv_server *s = l->srv;
    for (int i = 0; i < LOOP_ACCEPTS && ls->fd >= 0; i++) {
        int fd = accept4(ls->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or a transient error (EMFILE...): try on the next event */
        if (atomic_fetch_add(&s->nconns, 1) >= s->cfg.max_connections) {
            atomic_fetch_sub(&s->nconns, 1);
            refuse(s, fd);
            continue;
        }
        srv_loop *t = least_loaded(l);
        atomic_fetch_add(&t->assigned, 1);
        if (t != l && handoff(t, ls->proto, fd) == 0)
            continue;
        if (t != l) { /* no memory to hand it over: keep it */
            atomic_fetch_sub(&t->assigned, 1);
            atomic_fetch_add(&l->assigned, 1);
        }
        conn_add(l, ls->proto, fd);
    }
}

/* -------------------------------------------------------- cross-thread */

void srv_loop_kick(srv_loop *l)
{
    if (atomic_exchange(&l->kicked, 1) == 0) {
        uint64_t one = 1;
        (void)!write(l->evfd, &one, sizeof one);
    }
}

void srv_loop_complete(srv_slot *slot)
{
    srv_loop *l = slot->conn->loop;
    slot->qnext = NULL;
    pthread_mutex_lock(&l->mu);
    slot->qnext = l->done;
    l->done = slot;
    pthread_mutex_unlock(&l->mu);
    srv_loop_kick(l);
}

static void park_add(srv_loop *l, srv_slot *s)
{
    if (l->nparked == l->cap_parked) {
        int cap = l->cap_parked ? l->cap_parked * 2 : 64;
        srv_slot **p = realloc(l->parked, (size_t)cap * sizeof *p);
        if (!p) { /* cannot park: answer now */
            s->final = 1;
            srv_wait_cancel(l->srv, s);
            s->conn->refs--;
            srv_conn_queue(s);
            return;
        }
        l->parked = p;
        l->cap_parked = cap;
    }
    l->parked[l->nparked++] = s;
    s->state = SLOT_PARKED;
    if (s->deadline_ns < l->next_deadline)
        l->next_deadline = s->deadline_ns;
}

/* A worker asked to park slot s (its fetch found too little). */
static void slot_park(srv_loop *l, srv_slot *s)
{
    s->park = 0;
    int rc = atomic_load(&l->srv->stopping) ? 1 : srv_wait_park(l->srv, s);
    if (rc == 0) {
        atomic_fetch_add(&l->srv->stats.fetch_parked, 1);
        s->conn->refs++; /* released when it is queued again or its conn closes */
        park_add(l, s);
        return;
    }
    if (rc < 0 || atomic_load(&l->srv->stopping))
        s->final = 1;
    srv_conn_queue(s); /* data arrived meanwhile (or we stop): read again */
}

static void loop_completions(srv_loop *l)
{
    uint64_t v;
    (void)!read(l->evfd, &v, sizeof v);
    atomic_store(&l->kicked, 0);
    pthread_mutex_lock(&l->mu);
    srv_slot *list = l->done;
    l->done = NULL;
    int hand = l->nhand;
    pthread_mutex_unlock(&l->mu);
    if (hand)
        loop_take_handoffs(l);
    srv_slot *fifo = NULL;
    while (list) { /* reverse into arrival order */
        srv_slot *n = list->qnext;
        list->qnext = fifo;
        fifo = list;
        list = n;
    }
    for (srv_slot *s = fifo, *n; s; s = n) {
        n = s->qnext;
        srv_conn *c = s->conn;
        c->refs--;
        if (c->dead) {
            slot_destroy(s);
            if (c->refs == 0)
                conn_bury(c);
        } else if (s->park) {
            slot_park(l, s);
        } else {
            c->busy = 0;
            srv_slot_done(s);
            conn_pump(c);
        }
    }
}

/* A woken slot the protocol may re-run right here (a small read of data just appended):
 * two thread hand-offs fewer between an append and the subscriber. Otherwise a worker. */
static void rerun_woken(srv_loop *l, srv_slot *s)
{
    srv_conn *c = s->conn;
    slot_budget(s);
    if (!c->proto->rerun_inline || !c->proto->rerun_inline(s, &l->scratch)) {
        srv_conn_queue(s);
        return;
    }
    if (s->park) {
        slot_park(l, s);
        return;
    }
    c->busy = 0;
    srv_slot_done(s);
    conn_pump(c);
}

/* Re-runs parked slots that were woken, expired, or must end (shutdown). */
static void loop_parked(srv_loop *l, int all)
{
    int64_t now = strom_mono_ns();
    srv_slot *woken = NULL;
    atomic_store(&l->woken, 0);
    l->next_deadline = INT64_MAX;
    for (int i = 0; i < l->nparked;) {
        srv_slot *s = l->parked[i];
        int expired = now >= s->deadline_ns, fired = srv_wait_fired(s);
        if (all || expired || fired) {
            srv_wait_cancel(l->srv, s);
            s->final = all || expired;
            atomic_fetch_add(s->final ? &l->srv->stats.fetch_expired : &l->srv->stats.fetch_woken,
                             1);
            l->parked[i] = l->parked[--l->nparked];
            s->conn->refs--;
            if (s->final) {
                srv_conn_queue(s);
            } else { /* after the scan: running it may change the parked list */
                s->qnext = woken;
                woken = s;
            }
            continue;
        }
        if (s->deadline_ns < l->next_deadline)
            l->next_deadline = s->deadline_ns;
        i++;
    }
    while (woken) {
        srv_slot *s = woken;
        woken = s->qnext;
        rerun_woken(l, s);
    }
}

/* ---------------------------------------------------------------- the loop */

static int loop_timeout(const srv_loop *l)
{
    if (l->next_deadline == INT64_MAX)
        return atomic_load(&l->srv->stopping) ? 50 : -1;
    int64_t d = l->next_deadline - strom_mono_ns();
    return d <= 0 ? 0 : (int)STROM_MIN((d + 999999) / 1000000, 60000);
}

/* Shutdown, once per loop: stop accepting, answer parked fetches, finish what each conn
 * has buffered, then close conns as they become idle. */
static void loop_begin_stop(srv_loop *l)
{
    for (int i = 0; i < l->nls; i++)
        if (l->ls[i].fd >= 0) {
            epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->ls[i].fd, NULL);
            close(l->ls[i].fd);
            l->ls[i].fd = -1;
        }
    loop_parked(l, 1);
    for (srv_conn *c = l->conns.next, *n; c != &l->conns; c = n) {
        n = c->next;
        c->closing = 1; /* frames already read are still answered, then it closes */
        conn_pump(c);
    }
}

static void loop_force_close(srv_loop *l)
{
    while (l->conns.next != &l->conns)
        conn_close(l->conns.next);
}

/* Writes the answers deferred during a round of events (conn_defer_flush). */
static void loop_flush(srv_loop *l)
{
    l->deferring = 0;
    while (l->fhead) {
        srv_conn *c = l->fhead;
        if (!(l->fhead = c->fnext))
            l->ftail = NULL;
        c->flushq = 0;
        if (!c->dead)
            conn_pump(c);
    }
}

static void *loop_main(void *arg)
{
    srv_loop *l = arg;
    srv_server *s = l->srv;
    struct epoll_event ev[LOOP_EVENTS];
    int stopping = 0;
    for (;;) {
        int n = epoll_wait(l->epfd, ev, LOOP_EVENTS, loop_timeout(l));
        l->deferring = 1;
        for (int i = 0; i < n; i++) {
            void *p = ev[i].data.ptr;
            if (p == TAG_EVENT)
                loop_completions(l);
            else if (*(int *)p == SRV_KIND_LISTEN)
                loop_accept(l, p);
            else
                conn_event(p, ev[i].events);
        }
        if (atomic_load(&l->woken) || (l->nparked && strom_mono_ns() >= l->next_deadline))
            loop_parked(l, stopping);
        loop_flush(l);
        int st = atomic_load(&s->stopping);
        if (st && !stopping) {
            stopping = 1;
            loop_begin_stop(l);
        }
        if (st == 2)
            loop_force_close(l);
        loop_free_graveyard(l);
        if (stopping && l->nconns == 0 && l->nparked == 0)
            break;
    }
    return NULL;
}

/* -------------------------------------------------------------- sockets */

static strom_err listen_socket(const char *host, int port, int *out, int *bound_port)
{
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE}, *res = NULL;
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0)
        return strom_fail(STROM_EINVAL, "bind.host %s: %s", host, gai_strerror(rc));
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    int err = fd < 0 ? errno : 0;
    if (!err && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
                 setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
                 bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0))
        err = errno;
    freeaddrinfo(res);
    if (err) {
        if (fd >= 0)
            close(fd);
        return strom_fail_errno(err, "listen on %s:%d", host, port);
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    *out = fd;
    return STROM_OK;
}

/* The loop's socket for each listener of the server, on the listener's port (the first
 * loop resolves port 0; the others share what it got, SO_REUSEPORT). */
static strom_err loop_listen(srv_loop *l, srv_server *s)
{
    struct epoll_event ev = {.events = EPOLLIN};
    l->ls = strom_calloc((size_t)s->nlisteners, sizeof *l->ls);
    if (!l->ls)
        return STROM_ENOMEM;
    for (int i = 0; i < s->nlisteners; i++)
        l->ls[i] = (srv_listen){.kind = SRV_KIND_LISTEN, .proto = s->listeners[i].proto, .fd = -1};
    l->nls = s->nlisteners;
    for (int i = 0; i < s->nlisteners; i++) {
        srv_listener *d = &s->listeners[i];
        int bound = 0;
        strom_err e = listen_socket(d->host, d->port, &l->ls[i].fd, &bound);
        if (e != STROM_OK)
            return strom_fail_wrap(e, "%s listener", d->proto->name);
        d->port = bound;
        ev.data.ptr = &l->ls[i];
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->ls[i].fd, &ev) != 0)
            return strom_fail_errno(errno, "epoll_ctl for I/O thread %d", l->index);
    }
    return STROM_OK;
}

static strom_err loop_init(srv_loop *l, srv_server *s, int index)
{
    l->srv = s;
    l->index = index;
    l->epfd = l->evfd = -1;
    l->conns.next = l->conns.prev = &l->conns;
    l->next_deadline = INT64_MAX;
    pthread_mutex_init(&l->mu, NULL);
    strom_err e = srv_scratch_init(&l->scratch);
    if (e == STROM_OK && ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
                          (l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0))
        e = strom_fail_errno(errno, "epoll/eventfd for I/O thread %d", index);
    struct epoll_event ee = {.events = EPOLLIN, .data.ptr = TAG_EVENT};
    if (e == STROM_OK && epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ee) != 0)
        e = strom_fail_errno(errno, "epoll_ctl for I/O thread %d", index);
    return e == STROM_OK ? loop_listen(l, s) : e;
}

static void loop_free(srv_loop *l)
{
    for (int i = 0; i < l->nls; i++)
        if (l->ls[i].fd >= 0)
            close(l->ls[i].fd);
    free(l->ls);
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->evfd >= 0)
        close(l->evfd);
    free(l->parked);
    for (int i = 0; i < l->nhand; i++)
        close(l->hand[i].fd);
    free(l->hand);
    srv_scratch_free(&l->scratch);
    pthread_mutex_destroy(&l->mu);
}

/* Starts l's thread, named strom-io<N> (top -H, perf sched) and with
 * server.io-sched-batch made SCHED_BATCH, both before the server reports ready
 * (unprivileged; glibc's thread attributes take only OTHER/FIFO/RR, hence after the
 * create; if the kernel refuses, it keeps the default). 0 or an errno value. */
static int loop_thread_start(srv_server *s, srv_loop *l)
{
    int rc = pthread_create(&l->thread, NULL, loop_main, l);
    struct sched_param sp = {0};
    char name[16];
    snprintf(name, sizeof name, "strom-io%d", l->index);
    if (rc == 0)
        pthread_setname_np(l->thread, name);
    if (rc == 0 && s->cfg.io_sched_batch &&
        pthread_setschedparam(l->thread, SCHED_BATCH, &sp) == 0)
        atomic_fetch_add(&s->io_batch, 1);
    return rc;
}

strom_err srv_loops_start(srv_server *s)
{
    int n = (int)s->cfg.io_threads;
    if (n <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores > 0 ? (int)STROM_MIN(cores, 64) : 1;
    }
    s->loops = strom_calloc((size_t)n, sizeof *s->loops);
    if (!s->loops)
        return STROM_ENOMEM;
    strom_err e = STROM_OK;
    for (int i = 0; e == STROM_OK && i < n; i++) {
        e = loop_init(&s->loops[i], s, i);
        s->nloops = i + 1;
    }
    for (int i = 0; e == STROM_OK && i < n; i++)
        if (loop_thread_start(s, &s->loops[i]) != 0)
            e = strom_fail(STROM_ENOMEM, "cannot start I/O thread %d", i);
        else
            s->loops[i].running = 1;
    return e;
}

void srv_loops_drain(srv_server *s)
{
    atomic_store(&s->stopping, 1);
    for (int i = 0; i < s->nloops; i++)
        srv_loop_kick(&s->loops[i]);
    int64_t deadline = strom_mono_ns() + s->cfg.shutdown_timeout_ms * 1000000;
    for (int i = 0; i < s->nloops; i++) {
        srv_loop *l = &s->loops[i];
        while (l->running && atomic_load(&s->stopping) == 1) {
            if (pthread_tryjoin_np(l->thread, NULL) == 0) {
                l->running = 0;
                break;
            }
            if (strom_mono_ns() >= deadline) {
                atomic_store(&s->stopping, 2); /* cut the connections that still talk */
                for (int j = 0; j < s->nloops; j++)
                    srv_loop_kick(&s->loops[j]);
                break;
            }
            usleep(2000);
        }
        if (l->running) {
            pthread_join(l->thread, NULL);
            l->running = 0;
        }
    }
}

void srv_loops_stop(srv_server *s)
{
    for (int i = 0; i < s->nloops; i++)
        loop_free(&s->loops[i]);
    free(s->loops);
    s->loops = NULL;
    s->nloops = 0;
}
