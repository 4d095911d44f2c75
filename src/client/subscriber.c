/*
 * subscriber.c: a long-polling reader of a table's buckets (client.h).
 *
 * poll() hands out the batches of the last FETCH_LOG answer one by one; when they are
 * used up it sends the next fetch for every assigned bucket from its position, waiting
 * on the server up to min(max_wait_ms, what is left of the caller's timeout). A bucket's
 * position moves past the last offset of every batch received (filtered rows included),
 * so nothing is read twice. Positions live here only; the server keeps none.
 * The subscriber opens its own connection (to the server of the client it was created
 * from): the server executes one connection's requests in order, one at a time, so a
 * parked long poll must not share a connection with producers or lookups.
 * A bucket whose position fell below the log start (retention removed the rows) is
 * moved to the log start, as Kafka's auto.offset.reset=earliest does.
 */
#include <stdio.h>
#include <stdlib.h>

#include "client/client_int.h"

struct strom_subscriber {
    strom_client *c;         /* its own connection to the server it was created for */
    stc_table t;
    stc_decoder *dec;
    char **cols;
    int ncols;
    proto_pred *preds;
    int npreds;
    strom_buf pred_data;
    int max_wait_ms;
    int32_t max_bytes;
    int64_t *pos;            /* per bucket; -1 = not assigned */
    strom_buf frame;
    proto_arena arena;
    proto_msg resp;
    int have_resp;
    uint32_t bi, ri;         /* next bucket result / batch in it */
    proto_fetch_bucket *req;
};

static strom_err copy_opts(strom_subscriber *s, const strom_subscriber_opts *o)
{
    s->max_wait_ms = o && o->max_wait_ms > 0 ? o->max_wait_ms : 500;
    s->max_bytes = o && o->max_bytes > 0 ? o->max_bytes : 4 << 20;
    if (!o)
        return STROM_OK;
    if (o->ncolumns > 0 && o->columns) {
        if (!(s->cols = strom_calloc((size_t)o->ncolumns, sizeof(char *))))
            return STROM_ENOMEM;
        for (; s->ncols < o->ncolumns; s->ncols++)
            if (!(s->cols[s->ncols] = strom_strdup(o->columns[s->ncols])))
                return STROM_ENOMEM;
    }
    if (o->npreds > PROTO_MAX_PREDS)
        return strom_fail(STROM_EINVAL, "table '%s': %d filter predicates (max %d)", s->t.name,
                          o->npreds, PROTO_MAX_PREDS);
    if (o->npreds > 0 && !(s->preds = strom_calloc((size_t)o->npreds, sizeof *s->preds)))
        return STROM_ENOMEM;
    size_t total = 0;
    for (int i = 0; i < o->npreds; i++)
        total += strlen(o->preds[i].column) + 1 +
                 (fmt_type_is_var(o->preds[i].value.type) ? o->preds[i].value.v.s.len : 0);
    if (strom_buf_reserve(&s->pred_data, total + 1) != STROM_OK)
        return STROM_ENOMEM;
    for (; s->npreds < o->npreds; s->npreds++) {
        const strom_pred *p = &o->preds[s->npreds];
        proto_pred *q = &s->preds[s->npreds];
        q->column = (proto_str){(const char *)s->pred_data.data + s->pred_data.len,
                                (uint32_t)strlen(p->column)};
        strom_buf_append(&s->pred_data, p->column, strlen(p->column));
        q->op = (uint8_t)p->op;
        q->value = p->value;
        if (fmt_type_is_var(p->value.type) && !p->value.is_null) {
            q->value.v.s.ptr = (const char *)s->pred_data.data + s->pred_data.len;
            strom_buf_append(&s->pred_data, p->value.v.s.ptr, p->value.v.s.len);
        }
    }
    return STROM_OK;
}

strom_err strom_subscriber_create(strom_client *c, const char *table,
                                  const strom_subscriber_opts *opts, strom_subscriber **out)
{
    *out = NULL;
    strom_subscriber *s = strom_calloc(1, sizeof *s);
    if (!s)
        return STROM_ENOMEM;
    /* A connection of its own: the server runs one connection's requests one after the
     * other, so a parked long poll would hold up every other call on a shared one. */
    strom_err e = strom_client_connect(c->server, &c->opts, &s->c);
    if (e == STROM_OK)
        e = stc_table_load(s->c, table, &s->t);
    if (e == STROM_OK)
        e = copy_opts(s, opts);
    if (e == STROM_OK)
        e = stc_decoder_create(&s->t, (const char *const *)s->cols, s->ncols,
                               opts ? opts->preds : NULL, opts ? opts->npreds : 0, &s->dec);
    if (e == STROM_OK && opts && opts->project_here)
        stc_decoder_fetch_stored(s->dec);
    int nb = s->t.info ? s->t.opts.nbuckets : 0;
    if (e == STROM_OK && (!(s->pos = strom_malloc(sizeof(int64_t) * (size_t)nb)) ||
                          !(s->req = strom_calloc((size_t)nb, sizeof *s->req))))
        e = STROM_ENOMEM;
    for (int b = 0; e == STROM_OK && b < nb; b++)
        s->pos[b] = -1;
    if (e != STROM_OK) {
        strom_subscriber_close(s);
        return e;
    }
    *out = s;
    return STROM_OK;
}

void strom_subscriber_close(strom_subscriber *s)
{
    if (!s)
        return;
    stc_decoder_free(s->dec);
    for (int i = 0; i < s->ncols; i++)
        free(s->cols[i]);
    free(s->cols);
    free(s->preds);
    strom_buf_free(&s->pred_data);
    free(s->pos);
    free(s->req);
    strom_buf_free(&s->frame);
    proto_arena_free(&s->arena);
    stc_table_free(&s->t);
    strom_client_close(s->c);
    free(s);
}

const strom_schema *strom_subscriber_schema(const strom_subscriber *s)
{
    return s->t.info->schema;
}

int strom_subscriber_nbuckets(const strom_subscriber *s)
{
    return s->t.opts.nbuckets;
}

int64_t strom_subscriber_position(const strom_subscriber *s, int bucket)
{
    return bucket >= 0 && bucket < s->t.opts.nbuckets ? s->pos[bucket] : -1;
}

static strom_err assign_one(strom_subscriber *s, int b, strom_start from, int64_t value)
{
    if (from == STROM_FROM_OFFSET) {
        if (value < 0)
            return strom_fail(STROM_EINVAL, "table '%s' bucket %d: start offset %lld is "
                              "negative", s->t.name, b, (long long)value);
        s->pos[b] = value;
        return STROM_OK;
    }
    if (from < STROM_FROM_EARLIEST || from > STROM_FROM_TIMESTAMP)
        return strom_fail(STROM_EINVAL, "table '%s': unknown start %d", s->t.name, (int)from);
    return strom_client_list_offset(s->c, s->t.name, b, (int)from, value, &s->pos[b]);
}

strom_err strom_subscriber_assign(strom_subscriber *s, int bucket, strom_start from, int64_t value)
{
    int nb = s->t.opts.nbuckets;
    if (bucket < -1 || bucket >= nb)
        return strom_fail(STROM_EINVAL, "table '%s': bucket %d does not exist (0..%d)", s->t.name,
                          bucket, nb - 1);
    s->have_resp = 0; /* positions change: what was fetched is stale */
    for (int b = bucket < 0 ? 0 : bucket; b < (bucket < 0 ? nb : bucket + 1); b++) {
        strom_err e = assign_one(s, b, from, value);
        if (e != STROM_OK)
            return e;
    }
    return STROM_OK;
}

/* ------------------------------------------------------------ fetching */

static strom_err fetch(strom_subscriber *s, int wait_ms)
{
    proto_msg m = {0};
    uint32_t n = 0;
    proto_str cols[PROTO_MAX_COLUMNS];
    const char *const *names;
    int ncols = stc_decoder_request(s->dec, &names);
    for (int i = 0; i < ncols && i < PROTO_MAX_COLUMNS; i++)
        cols[i] = proto_s(names[i]);
    for (int b = 0; b < s->t.opts.nbuckets; b++)
        if (s->pos[b] >= 0)
            s->req[n++] = (proto_fetch_bucket){b, s->pos[b], s->max_bytes, (uint32_t)ncols,
                                               cols, (uint32_t)s->npreds, s->preds};
    if (n == 0)
        return strom_fail(STROM_EINVAL, "table '%s': poll without any assigned bucket", s->t.name);
    m.req.fetch.table = proto_s(s->t.name);
    m.req.fetch.max_wait_ms = wait_ms;
    m.req.fetch.nbuckets = n;
    m.req.fetch.buckets = s->req;
    proto_arena_reset(&s->arena);
    strom_err e = stc_roundtrip(s->c, PROTO_FETCH_LOG, &m, wait_ms, &s->frame, &s->arena, &s->resp);
    s->have_resp = e == STROM_OK;
    s->bi = s->ri = 0;
    return e;
}

/* Checks a bucket result before its batches are read; moves past retention. */
static strom_err bucket_result(strom_subscriber *s, const proto_fetch_result *r)
{
    if (r->bucket < 0 || r->bucket >= s->t.opts.nbuckets || s->pos[r->bucket] < 0)
        return strom_fail(STROM_EPROTO, "server %s: FETCH_LOG: answer for bucket %d, which was "
                          "not asked", s->c->server, (int)r->bucket);
    if (r->error == STROM_ERANGE && s->pos[r->bucket] < r->log_start_offset) {
        s->pos[r->bucket] = r->log_start_offset;
        return STROM_OK;
    }
    if (r->error)
        return strom_fail(r->error > 0 && r->error <= STROM_EPROTO ? (strom_err)r->error : STROM_EIO,
                          "server %s: FETCH_LOG: table '%s' bucket %d at offset %lld: %s",
                          s->c->server, s->t.name, (int)r->bucket, (long long)s->pos[r->bucket],
                          strom_strerror((strom_err)r->error));
    return STROM_OK;
}

/* The next non-empty batch of the current answer, or *out = NULL when it is used up. */
static strom_err next_batch(strom_subscriber *s, const strom_batch **out, int *bucket)
{
    *out = NULL;
    while (s->have_resp && s->bi < s->resp.resp.fetch.nbuckets) {
        const proto_fetch_result *r = &s->resp.resp.fetch.buckets[s->bi];
        strom_err e = s->ri == 0 ? bucket_result(s, r) : STROM_OK;
        if (e != STROM_OK) {
            s->bi++;
            return e;
        }
        if (r->error || s->ri >= r->records.nbatches) {
            s->bi++, s->ri = 0;
            continue;
        }
        const proto_bytes *bb = &r->records.batches[s->ri++];
        int64_t last = -1;
        e = stc_decode_batch(s->dec, bb->p, bb->len, s->pos[r->bucket], out, &last);
        if (e != STROM_OK)
            return strom_fail_wrap(e, "server %s: table '%s' bucket %d", s->c->server, s->t.name,
                                   (int)r->bucket);
        if (last + 1 > s->pos[r->bucket])
            s->pos[r->bucket] = last + 1;
        *bucket = r->bucket;
        if (strom_batch_nrows(*out) > 0)
            return STROM_OK;
        *out = NULL;
    }
    s->have_resp = 0;
    return STROM_OK;
}

strom_err strom_subscriber_poll(strom_subscriber *s, int timeout_ms, const strom_batch **out,
                                int *bucket)
{
    *out = NULL;
    int64_t deadline = strom_mono_ns() + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000;
    for (;;) {
        int bk = -1;
        strom_err e = next_batch(s, out, &bk);
        if (e != STROM_OK || *out) {
            if (bucket)
                *bucket = bk;
            return e;
        }
        int64_t left = (deadline - strom_mono_ns()) / 1000000;
        if (left < 0)
            return STROM_OK;
        if ((e = fetch(s, (int)STROM_MIN(left, (int64_t)s->max_wait_ms))) != STROM_OK)
            return e;
    }
}
