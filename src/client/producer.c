/*
 * producer.c: the batching producer (client.h).
 *
 * Rows are routed to buckets with the engine's rule (fmt_bucket_of over the canonical
 * bytes of the 'bucket.key' columns) and appended to that bucket's open builder. A bucket's
 * open batch is sealed when it reaches batch_rows or batch_bytes (by the sending thread),
 * when it is linger_ms old, or on flush/close (by the producer's sender thread). Sealed
 * batches wait in their bucket's queue; the sender thread encodes them with the table's
 * encoding options, the producer's writer id and the bucket's next sequence number
 * (format.h writer_id / batch_seq), and sends them: many requests in flight over the
 * connection, but at most one per bucket. One per bucket is what keeps retries safe: the
 * server applies a batch only if its sequence is above the last one applied for this
 * writer and bucket, so a batch resent after a later one of the same bucket was applied
 * would be dropped as a duplicate. A failed batch (connection broken, timeout, a server
 * error that may pass: EIO, EBUSY, EFENCED) is resent with the same bytes after
 * retry_backoff_ms, up to 'retries' times; a batch that fails for good sets the producer's
 * sticky error (naming bucket, rows and cause), which send and flush then return.
 *
 * Primary-key tables: PUT_KV; each batch holds only upserts or only deletes (a change of
 * kind seals the open batch first); the batch's change vector says which.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

#include "client/client_int.h"

typedef struct pb {
    struct pb *next;
    int bucket;
    int32_t seq;
    int64_t rows;
    int is_delete;
    strom_builder *b;        /* until encoded */
    strom_buf chg;           /* per-row change types (PK tables) */
    strom_buf bytes;         /* the encoded batch */
    int attempts;
    int64_t not_before_ns;
    stc_call *call;
    int ready;               /* 0 while strom_producer_send_batch still encodes it */
    struct pb *gnext;        /* the next batch sent in the same request */
} pb;

typedef struct pbucket {
    strom_builder *open;
    strom_buf chg;
    int64_t rows, bytes, since_ns;
    int is_delete;
    int32_t next_seq;
    int busy;                /* a batch of this bucket is in flight */
    pb *qhead, *qtail;       /* sealed, waiting (sequence order) */
} pbucket;

struct strom_producer {
    strom_client *c;
    stc_table t;
    strom_producer_opts o;
    int pk;
    char **partial;
    int npartial;
    pthread_mutex_t mu;
    pthread_cond_t wake, space;
    pthread_t thread;
    int started, stop, flushing;
    pbucket *bk;
    int sticky;              /* key-less tables: the bucket being filled */
    strom_builder **spare;
    int nspare;
    pb *inflight, *inflight_tail;
    int64_t pending, acked;
    strom_err err;
    char errmsg[600];
    strom_buf key;
    fmt_encoder *enc;
    pthread_mutex_t smu;     /* send_batch callers, one at a time: */
    fmt_encoder *benc;       /*   their encoder, */
    strom_buf bkey;          /*   key bytes, */
    uint32_t *sel, *bof;     /*   rows by bucket */
    size_t sel_cap;
    strom_buf frame;
    proto_arena arena;
    strom_buf reqbuf;        /* the records of a request of several batches */
};

static int64_t now_ns(void)
{
    return strom_mono_ns();
}

/* ------------------------------------------------------------ sealing */

static strom_builder *take_builder(strom_producer *p)
{
    if (p->nspare > 0)
        return p->spare[--p->nspare];
    return strom_builder_create(p->t.info->schema);
}

/* Moves bucket b's open rows to its queue (mu held). */
static strom_err seal(strom_producer *p, int b)
{
    pbucket *k = &p->bk[b];
    if (!k->open || k->rows == 0)
        return STROM_OK;
    pb *x = strom_calloc(1, sizeof *x);
    strom_builder *fresh = x ? take_builder(p) : NULL;
    if (!fresh) {
        free(x);
        return STROM_ENOMEM;
    }
    x->bucket = b;
    x->rows = k->rows;
    x->is_delete = k->is_delete;
    x->b = k->open;
    x->chg = k->chg;
    x->seq = k->next_seq++;
    x->ready = 1;
    memset(&k->chg, 0, sizeof k->chg);
    k->open = fresh;
    k->rows = k->bytes = 0;
    if (k->qtail)
        k->qtail->next = x;
    else
        k->qhead = x;
    k->qtail = x;
    if (p->t.opts.nbucket_key == 0 && b == p->sticky)
        p->sticky = (p->sticky + 1) % p->t.opts.nbuckets;
    pthread_cond_signal(&p->wake);
    return STROM_OK;
}

/* Seals what is due: everything when flushing or stopping, else batches past linger of
 * buckets with nothing queued or in flight. While a bucket's request is in flight its new
 * rows keep filling one batch (until batch_rows / batch_bytes), so under load batches grow
 * instead of queueing up small: the latency stays about one round trip, the batch count
 * per second about one per round trip. Returns the earliest time a still-open batch
 * becomes due (INT64_MAX: none; finishing a request wakes the loop). */
static int64_t seal_due(strom_producer *p)
{
    int64_t next = INT64_MAX, now = now_ns(), linger = (int64_t)p->o.linger_ms * 1000000;
    for (int b = 0; b < p->t.opts.nbuckets; b++) {
        pbucket *k = &p->bk[b];
        if (k->rows == 0)
            continue;
        if (p->flushing || p->stop || (now - k->since_ns >= linger && !k->busy && !k->qhead))
            seal(p, b);
        else if (!k->busy && !k->qhead && k->since_ns + linger < next)
            next = k->since_ns + linger;
    }
    return next;
}

/* ------------------------------------------------------------ sending */

static int retriable(strom_err e)
{
    return e == STROM_EIO || e == STROM_ETIMEOUT || e == STROM_EBUSY || e == STROM_EFENCED;
}

static void encode_opts(const strom_producer *p, int32_t seq, fmt_encode_opts *eo)
{
    fmt_encode_opts_init(eo);
    eo->codec = p->t.opts.codec;
    eo->zstd_level = p->t.opts.zstd_level;
    eo->plain_only = p->t.opts.plain_only;
    eo->time_col = p->t.opts.time_col;
    eo->writer_id = p->o.writer_id;
    eo->batch_seq = seq;
}

static strom_err encode(strom_producer *p, pb *x)
{
    fmt_encode_opts eo;
    encode_opts(p, x->seq, &eo);
    eo.changes = p->pk ? x->chg.data : NULL;
    strom_err e = fmt_encode(p->enc, x->b, NULL, 0, &eo, &x->bytes);
    if (e != STROM_OK)
        strom_fail_wrap(e, "table '%s' bucket %d: encoding a batch of %lld rows", p->t.name,
                        x->bucket, (long long)x->rows);
    return e;
}

/* Sends the batches of group x (one or more of one bucket) as one request: the records
 * of a produce may hold many batches, so batches that queued up while the bucket's
 * previous request was in flight go out together. */
static strom_err send_group(strom_producer *p, pb *x)
{
    proto_msg m = {0};
    m.req.produce.table = proto_s(p->t.name);
    m.req.produce.bucket = x->bucket;
    m.req.produce.acks = p->o.acks_none ? PROTO_ACKS_NONE : PROTO_ACKS_DURABLE;
    const strom_buf *rec = &x->bytes;
    if (x->gnext) {
        strom_buf_clear(&p->reqbuf);
        for (pb *g = x; g; g = g->gnext)
            if (strom_buf_append(&p->reqbuf, g->bytes.data, g->bytes.len) != STROM_OK)
                return STROM_ENOMEM;
        rec = &p->reqbuf;
    }
    m.req.produce.records.bytes = (proto_bytes){rec->data, (uint32_t)rec->len};
    proto_str cols[PROTO_MAX_COLUMNS];
    for (int i = 0; i < p->npartial; i++)
        cols[i] = proto_s(p->partial[i]);
    m.req.produce.ncolumns = (uint32_t)p->npartial;
    m.req.produce.columns = cols;
    for (pb *g = x; g; g = g->gnext)
        g->attempts++;
    return stc_call_start(p->c, p->pk ? PROTO_PUT_KV : PROTO_PRODUCE_LOG, &m, 0, &x->call);
}

static void free_pb(strom_producer *p, pb *x)
{
    if (x->b && p->nspare < p->t.opts.nbuckets * 2) {
        strom_builder_reset(x->b);
        p->spare[p->nspare++] = x->b;
    } else {
        strom_builder_destroy(x->b);
    }
    strom_buf_free(&x->chg);
    strom_buf_free(&x->bytes);
    free(x);
}

/* A batch is done (acked or failed for good): mu held. */
static void finish(strom_producer *p, pb *x, strom_err e)
{
    p->bk[x->bucket].busy = 0;
    p->pending -= x->rows;
    if (e == STROM_OK) {
        p->acked += x->rows;
    } else if (p->err == STROM_OK) {
        p->err = e;
        snprintf(p->errmsg, sizeof p->errmsg, "table '%s' bucket %d: batch %d of %lld rows "
                 "failed after %d attempt%s: %s", p->t.name, x->bucket, (int)x->seq,
                 (long long)x->rows, x->attempts, x->attempts == 1 ? "" : "s", strom_errmsg());
    }
    free_pb(p, x);
    pthread_cond_broadcast(&p->space);
}

/* Finishes every batch of group x (mu held). */
static void finish_group(strom_producer *p, pb *x, strom_err e)
{
    while (x) {
        pb *n = x->gnext;
        finish(p, x, e);
        x = n;
    }
}

/* Puts group x back at the front of its bucket's queue, in order, to be resent after the
 * backoff with the same bytes and sequences (mu held). */
static void requeue_group(strom_producer *p, pb *x)
{
    pbucket *k = &p->bk[x->bucket];
    pb *last = x;
    for (pb *g = x; g; g = g->gnext) {
        g->next = g->gnext;
        g->not_before_ns = now_ns() + (int64_t)p->o.retry_backoff_ms * 1000000;
        last = g;
    }
    for (pb *g = x; g; g = g->next)
        g->gnext = NULL;
    last->next = k->qhead;
    if (!k->qhead)
        k->qtail = last;
    k->qhead = x;
    k->busy = 0;
}

/* Takes the head of bucket k's queue and the ready batches behind it, up to 4 x
 * batch_bytes of encoded or about-to-be-encoded rows, as one group (mu held). */
static pb *take_group(strom_producer *p, pbucket *k)
{
    pb *x = k->qhead, *tail = x;
    int64_t bytes = (int64_t)x->bytes.len, limit = 4 * p->o.batch_bytes;
    k->qhead = x->next;
    x->next = NULL;
    for (int n = 1; k->qhead && k->qhead->ready && n < 64 && bytes < limit; n++) {
        pb *g = k->qhead;
        if (g->not_before_ns > now_ns())
            break;
        k->qhead = g->next;
        g->next = NULL;
        tail->gnext = g;
        tail = g;
        bytes += g->bytes.len ? (int64_t)g->bytes.len : p->o.batch_bytes;
    }
    if (!k->qhead)
        k->qtail = NULL;
    k->busy = 1;
    return x;
}

/* Sends the queued batches of every idle bucket, one request per bucket (mu held;
 * dropped while encoding and writing). Returns 1 if anything was sent. */
static int send_ready(strom_producer *p, int64_t *retry_at)
{
    int sent = 0, n = 0;
    for (pb *x = p->inflight; x; x = x->next)
        n++;
    for (int b = 0; b < p->t.opts.nbuckets && n < p->o.max_in_flight; b++) {
        pbucket *k = &p->bk[b];
        if (k->busy || !k->qhead || !k->qhead->ready)
            continue;
        if (k->qhead->not_before_ns > now_ns()) {
            *retry_at = STROM_MIN(*retry_at, k->qhead->not_before_ns);
            continue;
        }
        pb *x = take_group(p, k);
        pthread_mutex_unlock(&p->mu);
        strom_err e = STROM_OK;
        for (pb *g = x; g && e == STROM_OK; g = g->gnext)
            e = g->bytes.len ? STROM_OK : encode(p, g);
        if (e == STROM_OK)
            e = send_group(p, x);
        pthread_mutex_lock(&p->mu);
        if (e != STROM_OK && !(retriable(e) && x->attempts <= p->o.retries)) {
            finish_group(p, x, e);
            continue;
        }
        if (e != STROM_OK) { /* could not even be sent */
            requeue_group(p, x);
            *retry_at = STROM_MIN(*retry_at, x->not_before_ns); /* wake up for the resend */
            continue;
        }
        if (p->inflight_tail)
            p->inflight_tail->next = x;
        else
            p->inflight = x;
        p->inflight_tail = x;
        sent = 1;
        n++;
    }
    return sent;
}

/* Waits for the oldest request in flight (mu held; dropped while waiting). */
static void await_oldest(strom_producer *p)
{
    pb *x = p->inflight;
    p->inflight = x->next;
    if (!p->inflight)
        p->inflight_tail = NULL;
    x->next = NULL;
    pthread_mutex_unlock(&p->mu);
    proto_msg r;
    strom_err e = stc_call_wait(p->c, x->call, &p->frame);
    x->call = NULL;
    if (e == STROM_OK) {
        proto_arena_reset(&p->arena);
        e = stc_decode(p->c, p->pk ? PROTO_PUT_KV : PROTO_PRODUCE_LOG, &p->frame, &p->arena, &r);
    }
    pthread_mutex_lock(&p->mu);
    if (e == STROM_OK || !retriable(e) || x->attempts > p->o.retries)
        finish_group(p, x, e);
    else
        requeue_group(p, x); /* resent first: same bytes, same sequences */
}

static int queued(const strom_producer *p)
{
    for (int b = 0; b < p->t.opts.nbuckets; b++)
        if (p->bk[b].qhead || p->bk[b].rows)
            return 1;
    return 0;
}

static void wait_until(strom_producer *p, int64_t t_ns)
{
    if (t_ns == INT64_MAX) {
        pthread_cond_wait(&p->wake, &p->mu);
        return;
    }
    struct timespec ts = {t_ns / 1000000000, t_ns % 1000000000};
    pthread_cond_timedwait(&p->wake, &p->mu, &ts);
}

static void *sender_main(void *arg)
{
    strom_producer *p = arg;
    pthread_setname_np(pthread_self(), "stc-sender");
    pthread_mutex_lock(&p->mu);
    for (;;) {
        int64_t due = seal_due(p), retry_at = INT64_MAX;
        if (send_ready(p, &retry_at))
            continue;
        if (p->inflight) {
            await_oldest(p);
            continue;
        }
        if (p->stop && !queued(p))
            break;
        wait_until(p, STROM_MIN(due, retry_at));
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ------------------------------------------------------------ rows */

static strom_err route(strom_producer *p, const strom_value *vals, int *bucket)
{
    const cat_opts *o = &p->t.opts;
    if (o->nbucket_key == 0) {
        *bucket = p->sticky;
        return STROM_OK;
    }
    strom_buf_clear(&p->key);
    for (int k = 0; k < o->nbucket_key; k++) {
        int col = o->bucket_key[k];
        strom_err e = fmt_key_from_value(&p->key, strom_schema_col_type(p->t.info->schema, col),
                                         &vals[col]);
        if (e != STROM_OK)
            return strom_fail_wrap(e, "table '%s': bucket key column '%s'", p->t.name,
                                   strom_schema_col_name(p->t.info->schema, col));
    }
    *bucket = stc_bucket_of(&p->t, &p->key);
    return STROM_OK;
}

static int64_t row_bytes(const strom_value *vals, int n)
{
    int64_t s = 0;
    for (int i = 0; i < n; i++)
        s += fmt_type_is_var(vals[i].type) && !vals[i].is_null ? (int64_t)vals[i].v.s.len + 4 : 8;
    return s;
}

/* A delete reads only the key columns: a NULL elsewhere becomes a zero value of the
 * column's type when the column is NOT NULL. */
static strom_err put_value(strom_builder *b, const strom_schema *s, int i, const strom_value *v,
                           int del)
{
    if (!v->is_null)
        return strom_builder_put_value(b, i, v);
    if (!del || strom_schema_col_nullable(s, i))
        return strom_builder_put_null(b, i);
    strom_type t = strom_schema_col_type(s, i);
    if (fmt_type_is_var(t))
        return strom_builder_put_str(b, i, "", 0);
    return fmt_type_is_float(t) ? strom_builder_put_f64(b, i, 0) : strom_builder_put_int(b, i, 0);
}

static strom_err put_row(strom_producer *p, pbucket *k, const strom_value *vals, int n, int del)
{
    const strom_schema *s = p->t.info->schema;
    for (int i = 0; i < n; i++) {
        strom_err e = put_value(k->open, s, i, &vals[i], del);
        if (e != STROM_OK) {
            strom_builder_end_row(k->open); /* discards the half row */
            return strom_fail_wrap(e, "table '%s' column '%s'", p->t.name,
                                   strom_schema_col_name(s, i));
        }
    }
    strom_err e = strom_builder_end_row(k->open);
    if (e == STROM_OK && p->pk) {
        uint8_t ch = del ? STROM_DELETE : STROM_INSERT;
        e = strom_buf_append(&k->chg, &ch, 1);
    }
    return e;
}

/* Queues one row (mu held); *wake: the sender must be woken (after the unlock). */
static strom_err queue_row(strom_producer *p, const strom_value *vals, int ncols, int del,
                           int *wake)
{
    int b = 0;
    strom_err e = route(p, vals, &b);
    if (e != STROM_OK)
        return e;
    pbucket *k = &p->bk[b];
    if (k->rows && k->is_delete != del)
        e = seal(p, b);
    if (e == STROM_OK && !k->open && !(k->open = take_builder(p)))
        e = STROM_ENOMEM;
    if (e == STROM_OK)
        e = put_row(p, k, vals, ncols, del);
    if (e != STROM_OK)
        return e;
    if (k->rows++ == 0) {
        k->since_ns = now_ns();
        k->is_delete = del;
        *wake = 1; /* the sender times the linger */
    }
    k->bytes += row_bytes(vals, ncols);
    p->pending++;
    if (k->rows >= p->o.batch_rows || k->bytes >= p->o.batch_bytes)
        e = seal(p, b);
    return e;
}

static strom_err send_row(strom_producer *p, const strom_value *vals, int ncols, int del)
{
    int want = strom_schema_ncols(p->t.info->schema);
    if (!vals || ncols != want)
        return strom_fail(STROM_EINVAL, "table '%s': a row has %d columns, got %d values",
                          p->t.name, want, ncols);
    if (del && !p->pk)
        return strom_fail(STROM_EUNSUPPORTED, "table '%s': delete needs a primary-key table",
                          p->t.name);
    pthread_mutex_lock(&p->mu);
    while (p->pending >= p->o.buffer_rows && p->err == STROM_OK)
        pthread_cond_wait(&p->space, &p->mu);
    strom_err e = p->err;
    int wake = 0;
    if (e != STROM_OK)
        strom_fail(e, "%s", p->errmsg);
    else
        e = queue_row(p, vals, ncols, del, &wake);
    pthread_mutex_unlock(&p->mu);
    if (wake) /* after the unlock: woken under it, the sender would only block on mu */
        pthread_cond_signal(&p->wake);
    return e;
}

strom_err strom_producer_send(strom_producer *p, const strom_value *vals, int ncols)
{
    return send_row(p, vals, ncols, 0);
}

strom_err strom_producer_delete(strom_producer *p, const strom_value *vals, int ncols)
{
    return send_row(p, vals, ncols, 1);
}

/* ------------------------------------------------------------ whole builders */

static strom_err check_builder(const strom_producer *p, const strom_builder *rows)
{
    const strom_schema *bs = fmt_builder_schema(rows), *ts = p->t.info->schema;
    int ok = bs->ncols == ts->ncols;
    for (int i = 0; ok && i < ts->ncols; i++)
        ok = bs->cols[i].type == ts->cols[i].type;
    if (!ok)
        return strom_fail(STROM_ESCHEMA, "table '%s': the builder's columns are not the "
                          "table's (%d columns of the same types, in order)", p->t.name, ts->ncols);
    return STROM_OK;
}

/* Groups the builder's rows by bucket: rows of bucket b are sel[start[b] .. start[b+1]). */
static strom_err route_rows(strom_producer *p, const strom_builder *rows, int64_t n,
                            uint32_t *start)
{
    const cat_opts *o = &p->t.opts;
    if ((size_t)n > p->sel_cap) {
        free(p->sel);
        free(p->bof);
        p->sel = strom_malloc(sizeof(uint32_t) * (size_t)n);
        p->bof = strom_malloc(sizeof(uint32_t) * (size_t)n);
        p->sel_cap = p->sel && p->bof ? (size_t)n : 0;
        if (!p->sel_cap)
            return STROM_ENOMEM;
    }
    strom_column cols[LOG_MAX_KEY_COLS];
    for (int k = 0; k < o->nbucket_key; k++)
        fmt_builder_view(rows, o->bucket_key[k], &cols[k]);
    memset(start, 0, sizeof(uint32_t) * (size_t)(o->nbuckets + 1));
    int sticky = p->sticky;
    for (int64_t r = 0; r < n; r++) {
        strom_buf_clear(&p->bkey);
        for (int k = 0; k < o->nbucket_key; k++)
            if (fmt_key_from_column(&p->bkey, &cols[k], r) != STROM_OK)
                return STROM_ENOMEM;
        p->bof[r] = o->nbucket_key ? (uint32_t)stc_bucket_of(&p->t, &p->bkey) : (uint32_t)sticky;
        start[p->bof[r] + 1]++;
    }
    uint32_t pos[CAT_MAX_BUCKETS + 1];
    for (int b = 0; b < o->nbuckets; b++) {
        pos[b] = start[b];
        start[b + 1] += start[b];
    }
    for (int64_t r = 0; r < n; r++)
        p->sel[pos[p->bof[r]]++] = (uint32_t)r;
    return STROM_OK;
}

/* Reserves bucket b's next place in its queue (mu held): the batch keeps the sequence
 * order while it is being encoded outside the lock. */
static pb *reserve(strom_producer *p, int b, int64_t rows)
{
    pb *x = strom_calloc(1, sizeof *x);
    if (!x || seal(p, b) != STROM_OK) {
        free(x);
        return NULL;
    }
    pbucket *k = &p->bk[b];
    x->bucket = b;
    x->rows = rows;
    x->seq = k->next_seq++;
    if (k->qtail)
        k->qtail->next = x;
    else
        k->qhead = x;
    k->qtail = x;
    p->pending += rows;
    if (p->t.opts.nbucket_key == 0)
        p->sticky = (b + 1) % p->t.opts.nbuckets;
    return x;
}

/* A reserved batch that could not be encoded fails like a batch that failed for good
 * (mu held). */
static void drop_reserved(strom_producer *p, pb *x, strom_err e)
{
    pbucket *k = &p->bk[x->bucket];
    pb **pp = &k->qhead, *prev = NULL;
    while (*pp != x)
        prev = *pp, pp = &(*pp)->next;
    *pp = x->next;
    if (k->qtail == x)
        k->qtail = prev;
    int busy = k->busy;
    finish(p, x, e); /* counts it, sets the sticky error, frees it */
    k->busy = busy;
}

static strom_err send_bucket(strom_producer *p, const strom_builder *rows, int b,
                             const uint32_t *sel, uint32_t n)
{
    pthread_mutex_lock(&p->mu);
    while (p->pending >= p->o.buffer_rows && p->err == STROM_OK)
        pthread_cond_wait(&p->space, &p->mu);
    pb *x = p->err == STROM_OK ? reserve(p, b, n) : NULL;
    strom_err e = p->err ? strom_fail(p->err, "%s", p->errmsg) : x ? STROM_OK : STROM_ENOMEM;
    pthread_mutex_unlock(&p->mu);
    if (e != STROM_OK)
        return e;
    fmt_encode_opts eo;
    encode_opts(p, x->seq, &eo);
    size_t all = (size_t)strom_builder_nrows(rows); /* changes are indexed by builder row */
    uint8_t *chg = p->pk ? strom_malloc(all) : NULL;
    if (chg)
        memset(chg, STROM_INSERT, all);
    eo.changes = chg;
    /* The batch header takes its schema id from the builder's own schema copy: a caller's
     * builder made from strom_producer_schema() or an equal schema may carry another id
     * (0), so the table's id is set for the encoding and put back (callers of
     * send_batch are serialised, and the caller does not use the builder meanwhile). */
    strom_schema *bs = (strom_schema *)fmt_builder_schema(rows);
    uint32_t id = strom_schema_id(bs);
    fmt_schema_set_id(bs, strom_schema_id(p->t.info->schema));
    e = p->pk && !chg ? STROM_ENOMEM : fmt_encode(p->benc, rows, sel, n, &eo, &x->bytes);
    fmt_schema_set_id(bs, id);
    free(chg);
    pthread_mutex_lock(&p->mu);
    if (e != STROM_OK) {
        strom_fail_wrap(e, "table '%s' bucket %d: encoding", p->t.name, b);
        drop_reserved(p, x, e);
    } else {
        x->ready = 1;
        pthread_cond_signal(&p->wake);
    }
    pthread_mutex_unlock(&p->mu);
    return e;
}

strom_err strom_producer_send_batch(strom_producer *p, const strom_builder *rows)
{
    int64_t n = strom_builder_nrows(rows);
    strom_err e = check_builder(p, rows);
    if (e != STROM_OK || n == 0)
        return e;
    uint32_t start[CAT_MAX_BUCKETS + 1];
    pthread_mutex_lock(&p->smu);
    e = route_rows(p, rows, n, start);
    for (int b = 0; e == STROM_OK && b < p->t.opts.nbuckets; b++)
        if (start[b + 1] > start[b])
            e = send_bucket(p, rows, b, p->sel + start[b], start[b + 1] - start[b]);
    pthread_mutex_unlock(&p->smu);
    return e;
}

strom_err strom_producer_flush(strom_producer *p)
{
    pthread_mutex_lock(&p->mu);
    p->flushing++;
    pthread_cond_signal(&p->wake);
    while (p->pending > 0)
        pthread_cond_wait(&p->space, &p->mu);
    p->flushing--;
    strom_err e = p->err;
    if (e != STROM_OK)
        strom_fail(e, "%s", p->errmsg);
    pthread_mutex_unlock(&p->mu);
    return e;
}

/* A counter of p read under its lock (the sender thread updates it). */
static int64_t read_locked(const strom_producer *p, const int64_t *counter)
{
    strom_producer *q = (strom_producer *)p;
    pthread_mutex_lock(&q->mu);
    int64_t n = *counter;
    pthread_mutex_unlock(&q->mu);
    return n;
}

int64_t strom_producer_acked(const strom_producer *p)
{
    return read_locked(p, &p->acked);
}

int64_t strom_producer_pending(const strom_producer *p)
{
    return read_locked(p, &p->pending);
}

int64_t strom_producer_writer_id(const strom_producer *p)
{
    return p->o.writer_id;
}

const strom_schema *strom_producer_schema(const strom_producer *p)
{
    return p->t.info->schema;
}

/* ------------------------------------------------------------ create / close */

static void set_defaults(strom_producer *p, const strom_producer_opts *o)
{
    if (o)
        p->o = *o;
    p->o.linger_ms = p->o.linger_ms > 0 ? p->o.linger_ms : p->o.linger_ms < 0 ? 0 : 5;
    p->o.batch_bytes = p->o.batch_bytes > 0 ? p->o.batch_bytes : 1 << 20;
    p->o.batch_rows = p->o.batch_rows > 0 ? p->o.batch_rows : 65536;
    p->o.max_in_flight = p->o.max_in_flight > 0 ? p->o.max_in_flight : 8;
    p->o.acks_none = p->o.acks_none != 0;
    p->o.retries = p->o.retries > 0 ? p->o.retries : (o && o->retries < 0 ? 0 : 5);
    p->o.retry_backoff_ms = p->o.retry_backoff_ms > 0 ? p->o.retry_backoff_ms : 100;
    if (p->o.buffer_rows <= 0)
        p->o.buffer_rows = 4 * p->o.batch_rows * p->t.opts.nbuckets;
    if (p->o.writer_id <= 0) {
        uint64_t w = 0;
        if (getrandom(&w, sizeof w, 0) != sizeof w)
            w = (uint64_t)strom_now_ms() * 2654435761u ^ (uint64_t)strom_mono_ns();
        p->o.writer_id = (int64_t)(w & (uint64_t)INT64_MAX) | 1;
    }
}

static strom_err copy_partial(strom_producer *p, const char *const *cols, int n)
{
    if (n <= 0 || !cols)
        return STROM_OK;
    if (!p->pk)
        return strom_fail(STROM_EUNSUPPORTED, "table '%s': partial updates need a primary-key "
                          "table", p->t.name);
    if (n > PROTO_MAX_COLUMNS)
        return strom_fail(STROM_EINVAL, "table '%s': %d partial-update columns (max %d)",
                          p->t.name, n, PROTO_MAX_COLUMNS);
    if (!(p->partial = strom_calloc((size_t)n, sizeof(char *))))
        return STROM_ENOMEM;
    for (; p->npartial < n; p->npartial++)
        if (!(p->partial[p->npartial] = strom_strdup(cols[p->npartial])))
            return STROM_ENOMEM;
    return STROM_OK;
}

static strom_err init_buckets(strom_producer *p)
{
    int nb = p->t.opts.nbuckets;
    p->bk = strom_calloc((size_t)nb, sizeof *p->bk);
    p->spare = strom_calloc((size_t)nb * 2 + 1, sizeof *p->spare);
    p->enc = fmt_encoder_create();
    p->benc = fmt_encoder_create();
    return p->bk && p->spare && p->enc && p->benc ? STROM_OK : STROM_ENOMEM;
}

strom_err strom_producer_create(strom_client *c, const char *table, const strom_producer_opts *opts,
                                const char *const *partial_columns, int npartial,
                                strom_producer **out)
{
    *out = NULL;
    strom_producer *p = strom_calloc(1, sizeof *p);
    if (!p)
        return STROM_ENOMEM;
    p->c = c;
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->smu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->wake, &ca);
    pthread_cond_init(&p->space, &ca);
    pthread_condattr_destroy(&ca);
    strom_err e = stc_table_load(c, table, &p->t);
    if (e == STROM_OK) {
        p->pk = strom_schema_primary_key(p->t.info->schema, NULL, 0) > 0;
        set_defaults(p, opts);
        e = copy_partial(p, partial_columns, npartial);
    }
    if (e == STROM_OK)
        e = init_buckets(p);
    if (e == STROM_OK && pthread_create(&p->thread, NULL, sender_main, p) != 0)
        e = strom_fail(STROM_ENOMEM, "table '%s': cannot start the producer thread", table);
    p->started = e == STROM_OK;
    if (e != STROM_OK) {
        strom_producer_close(p);
        return e;
    }
    *out = p;
    return STROM_OK;
}

static void free_buckets(strom_producer *p)
{
    for (int b = 0; p->bk && b < p->t.opts.nbuckets; b++) {
        strom_builder_destroy(p->bk[b].open);
        strom_buf_free(&p->bk[b].chg);
        while (p->bk[b].qhead) {
            pb *x = p->bk[b].qhead;
            p->bk[b].qhead = x->next;
            strom_builder_destroy(x->b);
            x->b = NULL;
            free_pb(p, x);
        }
    }
    free(p->bk);
}

strom_err strom_producer_close(strom_producer *p)
{
    if (!p)
        return STROM_OK;
    strom_err e = STROM_OK;
    if (p->started) {
        e = strom_producer_flush(p);
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
    }
    char msg[700];
    snprintf(msg, sizeof msg, "%s", e != STROM_OK ? strom_errmsg() : "");
    free_buckets(p);
    for (int i = 0; i < p->nspare; i++)
        strom_builder_destroy(p->spare[i]);
    free(p->spare);
    for (int i = 0; i < p->npartial; i++)
        free(p->partial[i]);
    free(p->partial);
    fmt_encoder_destroy(p->enc);
    fmt_encoder_destroy(p->benc);
    strom_buf_free(&p->key);
    strom_buf_free(&p->bkey);
    free(p->sel);
    free(p->bof);
    pthread_mutex_destroy(&p->smu);
    strom_buf_free(&p->frame);
    strom_buf_free(&p->reqbuf);
    proto_arena_free(&p->arena);
    stc_table_free(&p->t);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->space);
    pthread_mutex_destroy(&p->mu);
    free(p);
    if (e != STROM_OK)
        strom_fail(e, "%s", msg);
    return e;
}
