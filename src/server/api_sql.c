/* api_sql.c: EXECUTE_SQL, FETCH_SQL and CANCEL_SQL: SQL over the server's own open
 * database, with the session code of src/sql (the same front end and virtual tables as
 * `strom sql --data`; no second copy of the data, no other process).
 *
 * SESSIONS AND CURSORS
 *   A connection keeps its SET settings (srv_sql.settings). Each statement gets its own
 *   sql_session opened with them (so it sees the tables as they are now and holds table
 *   handles only while it runs); after the statement the session's settings are copied
 *   back, which is how a SET statement sticks to the connection. A query that does not
 *   end within its first response becomes a cursor of the connection (at most
 *   SRV_SQL_MAX_CURSORS), read on with FETCH_SQL and closed by its end, CANCEL_SQL or
 *   the connection's close.
 *
 *   batch cursor      stepped by the worker that runs the FETCH_SQL (max_rows rows, or
 *                     the response budget), so it costs no thread between requests
 *   streaming cursor  (session in streaming mode) stepped by a thread of its own, since
 *                     a stream read blocks until rows arrive: it encodes rows into
 *                     record batches and queues them (at most SRV_SQL_QUEUE_BYTES, then
 *                     it waits); a FETCH_SQL that finds the queue empty is parked like a
 *                     long-poll FETCH_LOG (wait.c, under the name "sql:<cursor id>") and
 *                     woken when the thread queues rows, so no worker or I/O thread
 *                     waits for a stream. The stream hands out its rows each time it
 *                     waits for appends (sql_vctx.idle), so a row arrives with no delay.
 *   A closed connection interrupts its cursors' statements (loop thread) and frees them
 *   when its last request is done; a streaming thread that is still stepping frees its
 *   cursor itself when it ends (within one wait slice). The server waits for those
 *   threads before it closes the database.
 */
#include "srv_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sql/engine.h"

#define API(name) strom_err name(srv_server *s, srv_slot *slot, srv_scratch *x, \
                                 const proto_msg *req, proto_msg *resp)

#define SRV_SQL_MAX_CURSORS 64
#define SRV_SQL_DEFAULT_ROWS 4096
#define SRV_SQL_QUEUE_BYTES ((size_t)8 << 20)
#define SRV_SQL_RESP_BYTES ((size_t)16 << 20)
#define SRV_SQL_MAX_SETTINGS 8

typedef struct sqlcur {
    struct sqlcur *next;
    int64_t id;
    srv_server *srv;
    sql_session *sess;
    sqlite3_stmt *st;
    sql_rows *rows;
    int streaming;
    /* streaming: shared by the thread and the requests, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* queue drained / cancelled */
    strom_buf queue;            /* encoded batches not yet fetched */
    strom_buf tmp;              /* thread: batches being encoded */
    int finished, orphan;
    atomic_int cancel;
    strom_err err;
    char errmsg[1024];
    char wname[48];             /* wait.c name */
} sqlcur;

/* A connection's SQL state. Its requests run one at a time on workers; mu guards what the
 * loop thread also touches when the connection closes (the list, running, closed). */
struct srv_sql {
    char *settings[SRV_SQL_MAX_SETTINGS][2];
    int nsettings;
    pthread_mutex_t mu;
    sqlcur *curs;
    int ncurs;
    sql_session *running;       /* the session of the EXECUTE_SQL under way */
    int closed;                 /* the connection closed: interrupt whatever runs */
};

static atomic_llong next_id = 1;

/* ------------------------------------------------------------- cursors */

static void cur_free(sqlcur *c)
{
    sql_rows_free(c->rows);
    sqlite3_finalize(c->st);
    sql_session_close(c->sess);
    strom_buf_free(&c->queue);
    strom_buf_free(&c->tmp);
    if (c->streaming) {
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
    }
    free(c);
}

/* cur_free, keeping the error e's message (closing a session may overwrite it). */
static strom_err cur_free_keep(sqlcur *c, strom_err e)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", e != STROM_OK ? strom_errmsg() : "");
    cur_free(c);
    return e != STROM_OK ? strom_fail(e, "%s", msg) : e;
}

/* Ends a cursor taken off its connection: a batch one at once, a streaming one is
 * cancelled and freed by its thread (or here when the thread is done). */
static void cur_close(sqlcur *c)
{
    if (!c->streaming) {
        cur_free(c);
        return;
    }
    pthread_mutex_lock(&c->mu);
    atomic_store(&c->cancel, 1);
    sql_session_interrupt(c->sess);
    int done = c->finished;
    c->orphan = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (done)
        cur_free(c);
}

static sqlcur *cur_find(srv_sql *q, int64_t id, int unlink)
{
    if (!q)
        return NULL;
    sqlcur *c = NULL;
    pthread_mutex_lock(&q->mu);
    for (sqlcur **p = &q->curs; *p; p = &(*p)->next)
        if ((*p)->id == id) {
            c = *p;
            if (unlink) {
                *p = c->next;
                q->ncurs--;
            }
            break;
        }
    pthread_mutex_unlock(&q->mu);
    return c;
}

static void cur_add(srv_sql *q, sqlcur *c)
{
    pthread_mutex_lock(&q->mu);
    c->next = q->curs;
    q->curs = c;
    q->ncurs++;
    pthread_mutex_unlock(&q->mu);
}

/* The EXECUTE_SQL under way is sess (NULL: none); interrupted at once if the connection
 * closed meanwhile. */
static void set_running(srv_conn *conn, srv_sql *q, sql_session *sess)
{
    pthread_mutex_lock(&q->mu);
    q->running = sess;
    int closed = q->closed || __atomic_load_n(&conn->dead, __ATOMIC_SEQ_CST) ||
                 __atomic_load_n(&conn->peer_gone, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&q->mu);
    if (closed && sess)
        sql_session_interrupt(sess);
}

void srv_sql_conn_closed(srv_conn *conn)
{
    srv_sql *q = __atomic_load_n(&conn->sql, __ATOMIC_SEQ_CST);
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    if (q->running)
        sql_session_interrupt(q->running);
    for (sqlcur *c = q->curs; c; c = c->next)
        if (c->streaming) {
            pthread_mutex_lock(&c->mu);
            atomic_store(&c->cancel, 1);
            sql_session_interrupt(c->sess);
            pthread_cond_broadcast(&c->cv);
            pthread_mutex_unlock(&c->mu);
        } else {
            sql_session_interrupt(c->sess);
        }
    pthread_mutex_unlock(&q->mu);
}

void srv_sql_conn_free(srv_conn *conn)
{
    srv_sql *q = conn->sql;
    if (!q)
        return;
    while (q->curs) {
        sqlcur *c = q->curs;
        q->curs = c->next;
        cur_close(c);
    }
    for (int i = 0; i < q->nsettings; i++) {
        free(q->settings[i][0]);
        free(q->settings[i][1]);
    }
    pthread_mutex_destroy(&q->mu);
    free(q);
    conn->sql = NULL;
}

void srv_sql_wait_threads(srv_server *s)
{
    while (atomic_load(&s->sql_threads) > 0)
        usleep(2000);
}

/* ------------------------------------------------------------- settings */

static strom_err keep_settings(srv_sql *q, sql_session *sess)
{
    const char *kv[SRV_SQL_MAX_SETTINGS][2];
    int n = sql_session_settings(sess, kv);
    for (int i = 0; i < q->nsettings; i++) {
        free(q->settings[i][0]);
        free(q->settings[i][1]);
    }
    q->nsettings = 0;
    for (int i = 0; i < n && i < SRV_SQL_MAX_SETTINGS; i++) {
        q->settings[i][0] = strom_strdup(kv[i][0]);
        q->settings[i][1] = strom_strdup(kv[i][1]);
        q->nsettings++;
        if (!q->settings[i][0] || !q->settings[i][1])
            return STROM_ENOMEM;
    }
    return STROM_OK;
}

static strom_err drop_table(void *ctx, const char *name) { return srv_table_drop(ctx, name); }

/* A session with the connection's settings, then the request's. */
static strom_err open_session(srv_server *s, srv_slot *slot, srv_sql *q, const proto_msg *req,
                              sql_session **out)
{
    strom_err e = sql_session_open(s->db, out);
    if (e != STROM_OK)
        return e;
    sql_session_set_drop(*out, drop_table, s);
    srv_jobs_hooks(s, *out);
    for (int i = 0; e == STROM_OK && i < q->nsettings; i++)
        e = sql_session_set(*out, q->settings[i][0], q->settings[i][1]);
    for (uint32_t i = 0; e == STROM_OK && i < req->req.execute_sql.nsettings; i++) {
        const proto_option *o = &req->req.execute_sql.settings[i];
        char *k = srv_cstr(&slot->arena, o->key), *v = srv_cstr(&slot->arena, o->value);
        e = k && v ? sql_session_set(*out, k, v) : STROM_ENOMEM;
    }
    if (e != STROM_OK) {
        sql_session_close(*out);
        *out = NULL;
    }
    return e;
}

/* --------------------------------------------------------------- batch */

/* Steps a batch cursor into x->records: up to max rows, or the response budget. */
static strom_err fill(sqlcur *c, srv_scratch *x, srv_slot *slot, int32_t max_rows)
{
    int64_t max = max_rows > 0 ? max_rows : SRV_SQL_DEFAULT_ROWS, got = 0;
    size_t cap = STROM_MIN(SRV_SQL_RESP_BYTES, slot->budget);
    strom_err e = STROM_OK;
    while (e == STROM_OK && !sql_rows_done(c->rows) && got < max && x->records.len < cap) {
        int64_t before = sql_rows_pending(c->rows);
        e = sql_rows_step(c->rows, &x->records);
        got += sql_rows_pending(c->rows) > before;
    }
    return e == STROM_OK ? sql_rows_flush(c->rows, &x->records) : e;
}

/* --------------------------------------------------------------- stream */

/* Thread: moves the encoded batches of c->tmp to the queue; waits while it is full. */
static void stream_push(sqlcur *c)
{
    if (c->tmp.len == 0)
        return;
    pthread_mutex_lock(&c->mu);
    while (c->queue.len >= SRV_SQL_QUEUE_BYTES && !atomic_load(&c->cancel))
        pthread_cond_wait(&c->cv, &c->mu);
    strom_err e = strom_buf_append(&c->queue, c->tmp.data, c->tmp.len);
    if (e != STROM_OK)
        atomic_store(&c->cancel, 1);
    pthread_mutex_unlock(&c->mu);
    strom_buf_clear(&c->tmp);
    srv_wait_wake(c->srv, c->wname);
}

/* sql_vctx.idle: the stream is about to wait for appends: hand out what it has. */
static void stream_idle(void *arg)
{
    sqlcur *c = arg;
    if (sql_rows_flush(c->rows, &c->tmp) == STROM_OK)
        stream_push(c);
}

static void *stream_main(void *arg)
{
    sqlcur *c = arg;
    srv_server *s = c->srv;
    strom_err e = STROM_OK;
    while (e == STROM_OK && !sql_rows_done(c->rows) && !atomic_load(&c->cancel)) {
        e = sql_rows_step(c->rows, &c->tmp);
        if (e == STROM_OK && sql_rows_pending(c->rows) >= SRV_SQL_DEFAULT_ROWS)
            e = sql_rows_flush(c->rows, &c->tmp);
        stream_push(c);
    }
    if (e == STROM_OK && !atomic_load(&c->cancel))
        e = sql_rows_flush(c->rows, &c->tmp);
    stream_push(c);
    pthread_mutex_lock(&c->mu);
    c->finished = 1;
    c->err = e;
    snprintf(c->errmsg, sizeof c->errmsg, "%s", e != STROM_OK ? strom_errmsg() : "");
    int orphan = c->orphan;
    pthread_mutex_unlock(&c->mu);
    srv_wait_wake(s, c->wname);
    if (orphan)
        cur_free(c);
    atomic_fetch_sub(&s->sql_threads, 1);
    return NULL;
}

static strom_err stream_start(srv_server *s, sqlcur *c)
{
    c->streaming = 1;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    snprintf(c->wname, sizeof c->wname, "sql:%lld", (long long)c->id);
    sql_session_set_idle(c->sess, stream_idle, c);
    atomic_fetch_add(&s->sql_threads, 1);
    pthread_t th;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&th, &a, stream_main, c);
    pthread_attr_destroy(&a);
    if (rc == 0)
        return STROM_OK;
    atomic_fetch_sub(&s->sql_threads, 1);
    return strom_fail(STROM_ENOMEM, "cannot start the thread of a streaming query");
}

/* Takes what the stream has queued into x->records (whole batches, at most the response
 * budget), or parks the request until the stream queues rows or max_wait_ms passes. */
static strom_err stream_take(srv_server *s, srv_slot *slot, srv_scratch *x, sqlcur *c,
                             int32_t max_wait_ms, uint8_t *done)
{
    snprintf(slot->table, sizeof slot->table, "%s", c->wname);
    slot->seq = srv_wait_seq(s, slot->table); /* before looking: see wait.c */
    size_t cap = STROM_MIN(SRV_SQL_RESP_BYTES, slot->budget), take = 0;
    pthread_mutex_lock(&c->mu);
    while (take < c->queue.len && (take == 0 || take + 12 + strom_get_u32(c->queue.data + take + 8) <= cap))
        take += 12 + (size_t)strom_get_u32(c->queue.data + take + 8);
    strom_err e = strom_buf_append(&x->records, c->queue.data, take);
    if (e == STROM_OK && take) {
        memmove(c->queue.data, c->queue.data + take, c->queue.len - take);
        c->queue.len -= take;
        pthread_cond_broadcast(&c->cv);
    }
    int finished = c->finished && c->queue.len == 0;
    strom_err err = c->err;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", c->errmsg);
    pthread_mutex_unlock(&c->mu);
    *done = (uint8_t)finished;
    if (e != STROM_OK || take || finished)
        return e == STROM_OK && finished && err != STROM_OK ? strom_fail(err, "%s", msg) : e;
    int64_t now = strom_mono_ns();
    if (slot->deadline_ns == 0)
        slot->deadline_ns = now + STROM_MIN((int64_t)max_wait_ms, s->cfg.max_wait_ms) * 1000000;
    if (!slot->final && now < slot->deadline_ns && !atomic_load(&s->stopping))
        slot->park = 1;
    return STROM_OK;
}

/* --------------------------------------------------------------- the apis */

static srv_sql *conn_sql(srv_slot *slot)
{
    srv_sql *q = slot->conn->sql;
    if (q)
        return q;
    if (!(q = strom_calloc(1, sizeof *q)))
        return NULL;
    pthread_mutex_init(&q->mu, NULL);
    __atomic_store_n(&slot->conn->sql, q, __ATOMIC_SEQ_CST);
    return q;
}

/* The error of a statement, with the statement byte the front end pointed at (the client
 * draws its caret from it). */
static strom_err sql_error(strom_err e)
{
    long at = sql_error_at();
    if (e == STROM_OK || at < 0)
        return e;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", strom_errmsg());
    return strom_fail(e, "%s [statement byte %ld]", msg, at);
}

static strom_err column_names(srv_slot *slot, sqlite3_stmt *st, proto_msg *resp)
{
    int n = sqlite3_column_count(st);
    proto_str *names = proto_arena_alloc(&slot->arena, (size_t)(n + 1) * sizeof *names);
    if (!names)
        return strom_fail(STROM_ENOMEM, "out of memory for column names");
    for (int i = 0; i < n; i++) {
        const char *nm = sqlite3_column_name(st, i);
        char *p = srv_cstr(&slot->arena, proto_s(nm ? nm : ""));
        if (!p)
            return STROM_ENOMEM;
        names[i] = proto_s(p);
    }
    resp->resp.execute_sql.ncolumns = (uint32_t)n;
    resp->resp.execute_sql.columns = names;
    return STROM_OK;
}

/* Runs the statement text of req in sess: *st the prepared query or NULL (done). */
static strom_err run_statement(sql_session *sess, const proto_msg *req, sqlite3_stmt **st)
{
    sql_set_error_at(-1);
    const proto_bytes *q = &req->req.execute_sql.sql;
    return sql_error(sql_session_run(sess, (const char *)q->p, q->len, st));
}

API(srv_api_execute_sql)
{
    srv_sql *q = conn_sql(slot);
    if (!q)
        return strom_fail(STROM_ENOMEM, "out of memory for a SQL connection");
    if (q->ncurs >= SRV_SQL_MAX_CURSORS)
        return strom_fail(STROM_ELIMIT, "this connection has %d open SQL cursors (the most); "
                          "read them to the end or cancel some", q->ncurs);
    sqlcur *c = strom_calloc(1, sizeof *c);
    if (!c)
        return STROM_ENOMEM;
    c->srv = s;
    strom_err e = open_session(s, slot, q, req, &c->sess);
    if (e == STROM_OK)
        set_running(slot->conn, q, c->sess);
    if (e == STROM_OK)
        e = run_statement(c->sess, req, &c->st);
    if (c->sess && keep_settings(q, c->sess) != STROM_OK && e == STROM_OK)
        e = STROM_ENOMEM;
    if (e == STROM_OK && c->st)
        e = sql_rows_create(c->st, &c->rows);
    if (e == STROM_OK && c->st)
        e = column_names(slot, c->st, resp);
    strom_buf_clear(&x->records);
    resp->resp.execute_sql.done = 1;
    if (e == STROM_OK && c->st && sql_session_streaming(c->sess) && sqlite3_column_count(c->st) > 0) {
        c->id = atomic_fetch_add(&next_id, 1);
        set_running(slot->conn, q, NULL);
        cur_add(q, c);
        if ((e = stream_start(s, c)) != STROM_OK) {
            cur_find(q, c->id, 1);
            c->streaming = 0;
            return cur_free_keep(c, e);
        }
        resp->resp.execute_sql.cursor = c->id;
        resp->resp.execute_sql.done = 0;
        return STROM_OK;
    }
    if (e == STROM_OK && c->st)
        e = fill(c, x, slot, req->req.execute_sql.max_rows);
    if (e == STROM_OK && c->st)
        resp->resp.execute_sql.changes = sqlite3_changes64(sql_session_db(c->sess));
    resp->resp.execute_sql.records.bytes = (proto_bytes){x->records.data, (uint32_t)x->records.len};
    set_running(slot->conn, q, NULL);
    if (e != STROM_OK || !c->rows || sql_rows_done(c->rows))
        return cur_free_keep(c, e);
    c->id = atomic_fetch_add(&next_id, 1);
    cur_add(q, c);
    resp->resp.execute_sql.cursor = c->id;
    resp->resp.execute_sql.done = 0;
    return STROM_OK;
}

static strom_err no_cursor(int64_t id)
{
    return strom_fail(STROM_ENOTFOUND, "no SQL cursor %lld on this connection (it ended, was "
                      "cancelled, or belongs to another connection)", (long long)id);
}

API(srv_api_fetch_sql)
{
    int64_t id = req->req.fetch_sql.cursor;
    sqlcur *c = cur_find(slot->conn->sql, id, 0);
    if (!c)
        return no_cursor(id);
    strom_buf_clear(&x->records);
    strom_err e;
    if (c->streaming) {
        e = stream_take(s, slot, x, c, req->req.fetch_sql.max_wait_ms, &resp->resp.fetch_sql.done);
        if (slot->park)
            return STROM_OK;
    } else {
        e = fill(c, x, slot, req->req.fetch_sql.max_rows);
        resp->resp.fetch_sql.done = (uint8_t)sql_rows_done(c->rows);
    }
    resp->resp.fetch_sql.records.bytes = (proto_bytes){x->records.data, (uint32_t)x->records.len};
    if (e != STROM_OK || resp->resp.fetch_sql.done) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", e != STROM_OK ? strom_errmsg() : "");
        cur_close(cur_find(slot->conn->sql, id, 1));
        if (e != STROM_OK)
            strom_fail(e, "%s", msg);
    }
    return e;
}

API(srv_api_cancel_sql)
{
    int64_t id = req->req.fetch_sql.cursor;
    sqlcur *c = cur_find(slot->conn->sql, id, 1);
    if (!c)
        return no_cursor(id);
    cur_close(c);
    return STROM_OK;
}
