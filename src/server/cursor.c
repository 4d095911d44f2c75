/* cursor.c: SCAN_KV snapshot cursors. A scan that does not fit one response keeps its
 * snapshot (strom_snapshot_*) open on the server under a resume token, so every page of
 * the scan reads the same point in time; the client passes the token back for the next
 * page. A cursor not resumed within server.scan.cursor-timeout-ms is closed (the token
 * then gets ENOTFOUND); one request at a time may use a cursor. */
#include "srv_int.h"

#include <stdio.h>
#include <stdlib.h>

struct srv_cursor {
    srv_cursor *next;
    uint64_t id;
    char token[32];
    char table[300];       /* canonical */
    int32_t bucket;
    srv_table *h;          /* keeps the table handle open for the snapshot */
    strom_table *t;
    strom_snapshot *snap;
    const strom_batch *cur; /* current batch of the snapshot (borrowed from it) */
    int64_t row;           /* next row of cur */
    int64_t last_ns;       /* last use */
    int busy;
};

static void cursor_free(srv_server *s, srv_cursor *c)
{
    strom_snapshot_close(c->snap);
    srv_table_put(s, c->h);
    free(c);
}

strom_err srv_cursor_new(srv_server *s, srv_table *h, strom_table *t, strom_snapshot *snap,
                         int32_t bucket, srv_cursor **out)
{
    srv_cursor *c = strom_calloc(1, sizeof *c);
    if (!c)
        return STROM_ENOMEM;
    c->h = h;
    c->t = t;
    c->snap = snap;
    c->bucket = bucket;
    c->busy = 1;
    c->last_ns = strom_mono_ns();
    snprintf(c->table, sizeof c->table, "%s", cat_table_canonical(t));
    pthread_mutex_lock(&s->cmu);
    c->id = ++s->next_cursor;
    snprintf(c->token, sizeof c->token, "scan-%llu", (unsigned long long)c->id);
    c->next = s->cursors;
    s->cursors = c;
    pthread_mutex_unlock(&s->cmu);
    *out = c;
    return STROM_OK;
}

strom_err srv_cursor_take(srv_server *s, proto_str token, const char *table, int32_t bucket,
                          srv_cursor **out)
{
    pthread_mutex_lock(&s->cmu);
    srv_cursor *c = s->cursors;
    while (c && !proto_str_eq(token, c->token))
        c = c->next;
    strom_err e = STROM_OK;
    if (!c)
        e = strom_fail(STROM_ENOTFOUND, "SCAN_KV: resume token '%.*s' is unknown or expired "
                       "(cursors live %lld ms unused); start the scan again",
                       (int)STROM_MIN(token.len, 64), token.p, (long long)s->cfg.cursor_timeout_ms);
    else if (c->busy)
        e = strom_fail(STROM_EBUSY, "SCAN_KV: resume token %s is in use by another request",
                       c->token);
    else if (strcmp(c->table, table) != 0 || c->bucket != bucket)
        e = strom_fail(STROM_EINVAL, "SCAN_KV: resume token %s belongs to %s bucket %d, not %s "
                       "bucket %d", c->token, c->table, c->bucket, table, bucket);
    if (e == STROM_OK)
        c->busy = 1;
    pthread_mutex_unlock(&s->cmu);
    *out = e == STROM_OK ? c : NULL;
    return e;
}

void srv_cursor_release(srv_server *s, srv_cursor *c, int done)
{
    pthread_mutex_lock(&s->cmu);
    c->busy = 0;
    c->last_ns = strom_mono_ns();
    if (done)
        for (srv_cursor **p = &s->cursors; *p; p = &(*p)->next)
            if (*p == c) {
                *p = c->next;
                break;
            }
    pthread_mutex_unlock(&s->cmu);
    if (done)
        cursor_free(s, c);
}

/* Closes idle cursors older than the timeout (all = every idle one). */
void srv_cursors_expire(srv_server *s, int all)
{
    int64_t cutoff = strom_mono_ns() - s->cfg.cursor_timeout_ms * 1000000;
    srv_cursor *dead = NULL;
    pthread_mutex_lock(&s->cmu);
    for (srv_cursor **p = &s->cursors; *p;) {
        srv_cursor *c = *p;
        if (!c->busy && (all || c->last_ns < cutoff)) {
            *p = c->next;
            c->next = dead;
            dead = c;
        } else {
            p = &c->next;
        }
    }
    pthread_mutex_unlock(&s->cmu);
    while (dead) {
        srv_cursor *c = dead;
        dead = c->next;
        cursor_free(s, c);
    }
}

const char *srv_cursor_token(const srv_cursor *c) { return c->token; }
strom_snapshot *srv_cursor_snapshot(const srv_cursor *c) { return c->snap; }
const strom_batch **srv_cursor_batch(srv_cursor *c, int64_t **row)
{
    *row = &c->row;
    return &c->cur;
}
