/*
 * lookuper.c: point, batch and prefix lookups on primary-key tables (client.h).
 *
 * Concurrent point lookups are combined per bucket, as a group commit: a caller queues
 * its key on its bucket; if no request of that bucket is in flight it becomes the leader,
 * takes every queued key with the same AS OF, sends them as one LOOKUP, hands each
 * waiter its row and wakes them; keys queued meanwhile go out with the next leader. So
 * under load one request carries many keys, and a lone caller waits for one round trip.
 */
#include <stdio.h>
#include <stdlib.h>

#include "client/client_int.h"

typedef struct lk_waiter {
    struct lk_waiter *next;
    const strom_value *key;
    int has_as_of;
    int64_t as_of;
    int done;
    strom_err err;
    char msg[500];
    strom_batch *row;
} lk_waiter;

#define LK_MAX_KEYS 4096     /* keys one leader sends at most */

typedef struct lk_bucket {
    lk_waiter *head, *tail;
    int busy;
    lk_waiter **w;           /* the leader's waiters and keys (LK_MAX_KEYS each, used */
    proto_key *keys;         /*  by the bucket's leader only) */
    stc_decoder *dec;        /* used by the bucket's leader only */
    strom_buf frame;
    proto_arena arena;
} lk_bucket;

struct strom_lookuper {
    strom_client *c;
    stc_table t;
    char **cols;
    int ncols, npk;
    int pk[FMT_MAX_PK];
    pthread_mutex_t mu, bmu;
    pthread_cond_t cv;
    lk_bucket *bk;
    stc_decoder *bdec;       /* batch and prefix lookups (under bmu) */
};

/* ------------------------------------------------------------ keys */

static strom_err check_key(const strom_lookuper *l, const strom_value *key, int nkey)
{
    if (!key || nkey != l->npk)
        return strom_fail(STROM_EINVAL, "table '%s': a key has %d values (the primary key's "
                          "columns), got %d", l->t.name, l->npk, nkey);
    return STROM_OK;
}

/* Bucket of a key given in primary-key order (prefix 0) or bucket.key order (1). */
static strom_err key_bucket(const strom_lookuper *l, const strom_value *v, int prefix, int *b)
{
    const cat_opts *o = &l->t.opts;
    strom_buf key = {0};
    strom_err e = STROM_OK;
    for (int k = 0; e == STROM_OK && k < o->nbucket_key; k++) {
        int col = o->bucket_key[k], at = k;
        for (int j = 0; !prefix && j < l->npk; j++)
            at = l->pk[j] == col ? j : at;
        e = fmt_key_from_value(&key, strom_schema_col_type(l->t.info->schema, col), &v[at]);
    }
    if (e == STROM_OK)
        *b = stc_bucket_of(&l->t, &key);
    else
        strom_fail_wrap(e, "table '%s': key", l->t.name);
    strom_buf_free(&key);
    return e;
}

static void lookup_msg(const strom_lookuper *l, proto_msg *m, int bucket, int has_as_of,
                       int64_t as_of, proto_str *cols)
{
    memset(m, 0, sizeof *m);
    for (int i = 0; i < l->ncols; i++)
        cols[i] = proto_s(l->cols[i]);
    m->req.lookup.table = proto_s(l->t.name);
    m->req.lookup.bucket = bucket;
    m->req.lookup.has_as_of = (uint8_t)(has_as_of != 0);
    m->req.lookup.as_of = has_as_of ? as_of : 0;
    m->req.lookup.ncolumns = (uint32_t)l->ncols;
    m->req.lookup.columns = cols;
}

/* Checks a LOOKUP answer for nkeys keys and decodes its rows (*rows NULL when none). */
static strom_err lookup_answer(strom_lookuper *l, stc_decoder *dec, const proto_msg *r,
                               uint32_t nkeys, strom_batch **rows)
{
    *rows = NULL;
    uint32_t nfound = 0;
    if (r->resp.lookup.nfound != nkeys)
        return strom_fail(STROM_EPROTO, "server %s: LOOKUP: %u answers for %u keys", l->c->server,
                          r->resp.lookup.nfound, nkeys);
    for (uint32_t i = 0; i < nkeys; i++)
        nfound += r->resp.lookup.found[i] != 0;
    strom_err e = stc_decode_all(dec, &r->resp.lookup.records, rows);
    int64_t got = *rows ? strom_batch_nrows(*rows) : 0;
    if (e == STROM_OK && got != (int64_t)nfound)
        e = strom_fail(STROM_EPROTO, "server %s: LOOKUP: %u keys found but %lld rows sent",
                       l->c->server, nfound, (long long)got);
    if (e != STROM_OK) {
        strom_batch_destroy(*rows);
        *rows = NULL;
    }
    return e;
}

/* ------------------------------------------------------------ combining */

/* The leader's request for the waiters w[0..n) (mu not held). */
static strom_err lead(strom_lookuper *l, int bucket, lk_waiter **w, uint32_t n)
{
    lk_bucket *k = &l->bk[bucket];
    proto_str cols[PROTO_MAX_COLUMNS];
    proto_msg m, r;
    lookup_msg(l, &m, bucket, w[0]->has_as_of, w[0]->as_of, cols);
    for (uint32_t i = 0; i < n; i++)
        k->keys[i] = (proto_key){(uint32_t)l->npk, (strom_value *)w[i]->key};
    m.req.lookup.nkeys = n;
    m.req.lookup.keys = k->keys;
    proto_arena_reset(&k->arena);
    strom_batch *rows = NULL;
    strom_err e = stc_roundtrip(l->c, PROTO_LOOKUP, &m, 0, &k->frame, &k->arena, &r);
    if (e == STROM_OK)
        e = lookup_answer(l, k->dec, &r, n, &rows);
    int64_t at = 0;
    for (uint32_t i = 0; e == STROM_OK && i < n; i++) {
        if (!r.resp.lookup.found[i])
            continue;
        int which = 0;
        if (n == 1) { /* the answer is the caller's row: no copy */
            w[i]->row = rows;
            rows = NULL;
            break;
        }
        e = cat_batch_gather(&rows, &which, &at, 1, stc_decoder_ncols(k->dec), &w[i]->row);
        at++;
    }
    strom_batch_destroy(rows);
    return e;
}

/* Takes the queued waiters of bucket k with the head's AS OF (mu held). */
static uint32_t take_batch(lk_bucket *k, lk_waiter **w, uint32_t max)
{
    uint32_t n = 0;
    lk_waiter **pp = &k->head, *prev = NULL, *first = k->head;
    while (*pp && n < max) {
        lk_waiter *x = *pp;
        if (x->has_as_of == first->has_as_of && (!x->has_as_of || x->as_of == first->as_of)) {
            *pp = x->next;
            w[n++] = x;
        } else {
            prev = x;
            pp = &x->next;
        }
    }
    k->tail = prev;
    for (lk_waiter *x = k->head; x; x = x->next)
        k->tail = x;
    return n;
}

static void run_leader(strom_lookuper *l, int bucket)
{
    lk_bucket *k = &l->bk[bucket];
    lk_waiter **w = k->w;
    uint32_t n = take_batch(k, w, LK_MAX_KEYS);
    pthread_mutex_unlock(&l->mu);
    strom_err e = lead(l, bucket, w, n);
    char msg[500];
    snprintf(msg, sizeof msg, "%s", e != STROM_OK ? strom_errmsg() : "");
    pthread_mutex_lock(&l->mu);
    for (uint32_t i = 0; i < n; i++) {
        w[i]->done = 1;
        w[i]->err = e;
        if (e != STROM_OK) {
            snprintf(w[i]->msg, sizeof w[i]->msg, "%s", msg);
            strom_batch_destroy(w[i]->row);
            w[i]->row = NULL;
        }
    }
    k->busy = 0;
    pthread_cond_broadcast(&l->cv);
}

strom_err strom_lookuper_get(strom_lookuper *l, const strom_value *key, int nkey, int has_as_of,
                             int64_t as_of, strom_batch **out)
{
    *out = NULL;
    int b = 0;
    strom_err e = check_key(l, key, nkey);
    if (e == STROM_OK)
        e = key_bucket(l, key, 0, &b);
    if (e != STROM_OK)
        return e;
    lk_waiter me = {.key = key, .has_as_of = has_as_of, .as_of = as_of};
    lk_bucket *k = &l->bk[b];
    pthread_mutex_lock(&l->mu);
    if (k->tail)
        k->tail->next = &me;
    else
        k->head = &me;
    k->tail = &me;
    while (!me.done) {
        if (!k->busy) {
            k->busy = 1;
            run_leader(l, b);
        } else {
            pthread_cond_wait(&l->cv, &l->mu);
        }
    }
    pthread_mutex_unlock(&l->mu);
    if (me.err != STROM_OK)
        return strom_fail(me.err, "%s", me.msg);
    *out = me.row;
    return STROM_OK;
}

/* ------------------------------------------------------------ batch, prefix */

typedef struct lk_part {
    uint32_t n;
    uint32_t *idx;            /* key indexes of this bucket, in order */
    proto_key *keys;
    stc_call *call;
    strom_buf frame;
    proto_arena arena;
    strom_batch *rows;
} lk_part;

static strom_err batch_send(strom_lookuper *l, lk_part *parts, int has_as_of, int64_t as_of)
{
    proto_str cols[PROTO_MAX_COLUMNS];
    for (int b = 0; b < l->t.opts.nbuckets; b++) {
        if (!parts[b].n)
            continue;
        proto_msg m;
        lookup_msg(l, &m, b, has_as_of, as_of, cols);
        m.req.lookup.nkeys = parts[b].n;
        m.req.lookup.keys = parts[b].keys;
        strom_err e = stc_call_start(l->c, PROTO_LOOKUP, &m, 0, &parts[b].call);
        if (e != STROM_OK)
            return e;
    }
    return STROM_OK;
}

/* Waits for every request sent (even after a failure, so that none is left behind). */
static strom_err batch_wait(strom_lookuper *l, lk_part *parts, uint8_t *found)
{
    strom_err first = STROM_OK;
    for (int b = 0; b < l->t.opts.nbuckets; b++) {
        lk_part *p = &parts[b];
        if (!p->call)
            continue;
        proto_msg r;
        strom_err e = stc_call_wait(l->c, p->call, &p->frame);
        p->call = NULL;
        if (e == STROM_OK)
            e = stc_decode(l->c, PROTO_LOOKUP, &p->frame, &p->arena, &r);
        if (e == STROM_OK)
            e = lookup_answer(l, l->bdec, &r, p->n, &p->rows);
        for (uint32_t i = 0; e == STROM_OK && i < p->n; i++)
            found[p->idx[i]] = r.resp.lookup.found[i] != 0;
        first = first ? first : e;
    }
    return first;
}

/* The found rows in key order from the per-bucket answers. */
static strom_err batch_merge(strom_lookuper *l, lk_part *parts, const uint8_t *found, size_t n,
                             const int *bucket_of, strom_batch **out)
{
    int nb = l->t.opts.nbuckets;
    strom_batch **src = strom_calloc((size_t)nb, sizeof *src);
    int *which = strom_calloc(n + 1, sizeof *which);
    int64_t *rows = strom_calloc(n + 1, sizeof *rows), *next = strom_calloc((size_t)nb, 8);
    strom_err e = src && which && rows && next ? STROM_OK : STROM_ENOMEM;
    int64_t total = 0;
    for (int b = 0; e == STROM_OK && b < nb; b++)
        src[b] = parts[b].rows;
    for (size_t i = 0; e == STROM_OK && i < n; i++)
        if (found[i]) {
            which[total] = bucket_of[i];
            rows[total++] = next[bucket_of[i]]++;
        }
    if (e == STROM_OK && total > 0)
        e = cat_batch_gather(src, which, rows, total, stc_decoder_ncols(l->bdec), out);
    free(src);
    free(which);
    free(rows);
    free(next);
    return e;
}

static void parts_free(lk_part *parts, int nb)
{
    for (int b = 0; parts && b < nb; b++) {
        free(parts[b].idx);
        free(parts[b].keys);
        strom_buf_free(&parts[b].frame);
        proto_arena_free(&parts[b].arena);
        strom_batch_destroy(parts[b].rows);
    }
    free(parts);
}

static strom_err batch_route(strom_lookuper *l, const strom_value *keys, size_t n, int *bucket_of,
                             lk_part *parts)
{
    int nb = l->t.opts.nbuckets;
    for (size_t i = 0; i < n; i++) {
        strom_err e = key_bucket(l, &keys[i * (size_t)l->npk], 0, &bucket_of[i]);
        if (e != STROM_OK)
            return strom_fail_wrap(e, "key %zu", i);
        parts[bucket_of[i]].n++;
    }
    for (int b = 0; b < nb; b++) {
        if (parts[b].n > PROTO_MAX_KEYS)
            return strom_fail(STROM_ELIMIT, "table '%s': %u keys in bucket %d (max %d per "
                              "request)", l->t.name, parts[b].n, b, PROTO_MAX_KEYS);
        parts[b].idx = strom_calloc(parts[b].n + 1, sizeof(uint32_t));
        parts[b].keys = strom_calloc(parts[b].n + 1, sizeof(proto_key));
        if (!parts[b].idx || !parts[b].keys)
            return STROM_ENOMEM;
        parts[b].n = 0;
    }
    for (size_t i = 0; i < n; i++) {
        lk_part *p = &parts[bucket_of[i]];
        p->idx[p->n] = (uint32_t)i;
        p->keys[p->n++] = (proto_key){(uint32_t)l->npk, (strom_value *)&keys[i * (size_t)l->npk]};
    }
    return STROM_OK;
}

strom_err strom_lookuper_get_batch(strom_lookuper *l, const strom_value *keys, int nkey, size_t n,
                                   int has_as_of, int64_t as_of, uint8_t *found, strom_batch **out)
{
    *out = NULL;
    strom_err e = check_key(l, keys, nkey);
    if (e != STROM_OK || n == 0)
        return e;
    int nb = l->t.opts.nbuckets;
    int *bucket_of = strom_calloc(n, sizeof *bucket_of);
    lk_part *parts = strom_calloc((size_t)nb, sizeof *parts);
    memset(found, 0, n);
    e = bucket_of && parts ? batch_route(l, keys, n, bucket_of, parts) : STROM_ENOMEM;
    pthread_mutex_lock(&l->bmu); /* one batch or prefix call at a time uses bdec */
    if (e == STROM_OK)
        e = batch_send(l, parts, has_as_of, as_of);
    strom_err w = parts ? batch_wait(l, parts, found) : STROM_OK;
    e = e ? e : w;
    pthread_mutex_unlock(&l->bmu);
    if (e == STROM_OK)
        e = batch_merge(l, parts, found, n, bucket_of, out);
    parts_free(parts, nb);
    free(bucket_of);
    return e;
}

strom_err strom_lookuper_prefix(strom_lookuper *l, const strom_value *bkey, int nbkey,
                                int32_t limit, strom_batch **out)
{
    *out = NULL;
    if (!bkey || nbkey != l->t.opts.nbucket_key)
        return strom_fail(STROM_EINVAL, "table '%s': a prefix has %d values (the bucket.key "
                          "columns), got %d", l->t.name, l->t.opts.nbucket_key, nbkey);
    int b = 0;
    strom_err e = key_bucket(l, bkey, 1, &b);
    if (e != STROM_OK)
        return e;
    proto_str cols[PROTO_MAX_COLUMNS];
    for (int i = 0; i < l->ncols; i++)
        cols[i] = proto_s(l->cols[i]);
    proto_msg m = {0}, r;
    m.req.prefix_lookup.table = proto_s(l->t.name);
    m.req.prefix_lookup.bucket = b;
    m.req.prefix_lookup.prefix = (proto_key){(uint32_t)nbkey, (strom_value *)bkey};
    m.req.prefix_lookup.ncolumns = (uint32_t)l->ncols;
    m.req.prefix_lookup.columns = cols;
    m.req.prefix_lookup.limit = limit;
    strom_buf frame = {0};
    proto_arena arena = {0};
    e = stc_roundtrip(l->c, PROTO_PREFIX_LOOKUP, &m, 0, &frame, &arena, &r);
    pthread_mutex_lock(&l->bmu);
    if (e == STROM_OK)
        e = stc_decode_all(l->bdec, &r.resp.prefix_lookup.records, out);
    pthread_mutex_unlock(&l->bmu);
    strom_buf_free(&frame);
    proto_arena_free(&arena);
    return e;
}

/* ------------------------------------------------------------ create / close */

static strom_err lk_init(strom_lookuper *l, const char *const *columns, int ncolumns)
{
    l->npk = strom_schema_primary_key(l->t.info->schema, l->pk, FMT_MAX_PK);
    if (l->npk == 0)
        return strom_fail(STROM_EUNSUPPORTED, "table '%s': lookups need a primary-key table",
                          l->t.name);
    if (ncolumns > 0 && columns) {
        if (!(l->cols = strom_calloc((size_t)ncolumns, sizeof(char *))))
            return STROM_ENOMEM;
        for (; l->ncols < ncolumns; l->ncols++)
            if (!(l->cols[l->ncols] = strom_strdup(columns[l->ncols])))
                return STROM_ENOMEM;
    }
    int nb = l->t.opts.nbuckets;
    if (!(l->bk = strom_calloc((size_t)nb, sizeof *l->bk)))
        return STROM_ENOMEM;
    for (int b = 0; b < nb; b++) {
        strom_err e = stc_decoder_create(&l->t, (const char *const *)l->cols, l->ncols, NULL, 0,
                                         &l->bk[b].dec);
        if (e != STROM_OK)
            return e;
        l->bk[b].w = strom_calloc(LK_MAX_KEYS, sizeof *l->bk[b].w);
        l->bk[b].keys = strom_calloc(LK_MAX_KEYS, sizeof *l->bk[b].keys);
        if (!l->bk[b].w || !l->bk[b].keys)
            return STROM_ENOMEM;
    }
    return stc_decoder_create(&l->t, (const char *const *)l->cols, l->ncols, NULL, 0, &l->bdec);
}

strom_err strom_lookuper_create(strom_client *c, const char *table, const char *const *columns,
                                int ncolumns, strom_lookuper **out)
{
    *out = NULL;
    strom_lookuper *l = strom_calloc(1, sizeof *l);
    if (!l)
        return STROM_ENOMEM;
    l->c = c;
    pthread_mutex_init(&l->mu, NULL);
    pthread_mutex_init(&l->bmu, NULL);
    pthread_cond_init(&l->cv, NULL);
    strom_err e = stc_table_load(c, table, &l->t);
    if (e == STROM_OK)
        e = lk_init(l, columns, ncolumns);
    if (e != STROM_OK) {
        strom_lookuper_close(l);
        return e;
    }
    *out = l;
    return STROM_OK;
}

const strom_schema *strom_lookuper_schema(const strom_lookuper *l)
{
    return l->t.info->schema;
}

void strom_lookuper_close(strom_lookuper *l)
{
    if (!l)
        return;
    for (int b = 0; l->bk && b < l->t.opts.nbuckets; b++) {
        stc_decoder_free(l->bk[b].dec);
        free(l->bk[b].w);
        free(l->bk[b].keys);
        strom_buf_free(&l->bk[b].frame);
        proto_arena_free(&l->bk[b].arena);
    }
    free(l->bk);
    stc_decoder_free(l->bdec);
    for (int i = 0; i < l->ncols; i++)
        free(l->cols[i]);
    free(l->cols);
    stc_table_free(&l->t);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    pthread_mutex_destroy(&l->bmu);
    free(l);
}
