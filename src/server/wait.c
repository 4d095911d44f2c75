/* wait.c: parked long-poll fetches and the append listener that wakes them.
 *
 * Per table (canonical name) the registry keeps an append sequence and the parked fetches
 * of that table. The catalog calls srv_wait_notify after every append (serve.h): it bumps
 * the sequence and fires the parked fetches that watch the bucket, waking their loops
 * through the eventfd; the loop re-runs them on a worker. No polling anywhere.
 *
 * The race between a fetch that found nothing and an append right after is closed by the
 * sequence: the worker takes it before reading, and parking fails (re-run) if it moved.
 */
#include "srv_int.h"

#include <stdlib.h>

#include "sql/engine.h"

#define WAIT_HASH 256

typedef struct wtable {
    struct wtable *next;
    uint64_t seq;
    struct srv_wait *waiters;
    char name[];
} wtable;

struct srv_wait {
    srv_wait *next, *prev;
    srv_slot *slot;
    wtable *t;
    atomic_int fired;
};

strom_err srv_waits_init(srv_server *s)
{
    pthread_mutex_init(&s->wmu, NULL);
    s->waits = strom_calloc(WAIT_HASH, sizeof(wtable *));
    return s->waits ? STROM_OK : STROM_ENOMEM;
}

void srv_waits_free(srv_server *s)
{
    wtable **h = s->waits;
    for (int i = 0; h && i < WAIT_HASH; i++)
        while (h[i]) {
            wtable *t = h[i];
            h[i] = t->next;
            free(t);
        }
    free(h);
    s->waits = NULL;
    pthread_mutex_destroy(&s->wmu);
}

/* Under wmu. create: add a missing table (NULL on ENOMEM). */
static wtable *find(srv_server *s, const char *name, int create)
{
    wtable **h = s->waits;
    uint32_t k = (uint32_t)(strom_hash64(name, strlen(name)) % WAIT_HASH);
    for (wtable *t = h[k]; t; t = t->next)
        if (!strcmp(t->name, name))
            return t;
    if (!create)
        return NULL;
    size_t n = strlen(name) + 1;
    wtable *t = calloc(1, sizeof *t + n);
    if (!t)
        return NULL;
    memcpy(t->name, name, n);
    t->next = h[k];
    h[k] = t;
    return t;
}

uint64_t srv_wait_seq(srv_server *s, const char *canonical)
{
    pthread_mutex_lock(&s->wmu);
    wtable *t = find(s, canonical, 1);
    uint64_t seq = t ? t->seq : 0;
    pthread_mutex_unlock(&s->wmu);
    return seq;
}

static int watches(const srv_slot *slot, int bucket)
{
    if (bucket < 0)
        return 1;
    const proto_fetch_bucket *b = slot->msg.req.fetch.buckets;
    for (uint32_t i = 0; i < slot->msg.req.fetch.nbuckets; i++)
        if (b[i].bucket == bucket)
            return 1;
    return 0;
}

/* The loops are kicked after wmu is released: a kicked loop takes wmu at once to cancel
 * the registration (srv_wait_cancel) and would otherwise block on it. */
static void wake(srv_server *s, const char *table, int bucket)
{
    srv_loop *kick[256]; /* loops to kick, each once (server.io-threads: at most 256) */
    uint64_t seen[256 / 64] = {0};
    int nkick = 0;
    pthread_mutex_lock(&s->wmu);
    wtable *t = find(s, table, 0);
    if (t) {
        t->seq++;
        for (srv_wait *w = t->waiters; w; w = w->next) {
            if (atomic_load(&w->fired) || !watches(w->slot, bucket))
                continue;
            atomic_store(&w->fired, 1);
            srv_loop *l = w->slot->conn->loop;
            atomic_store(&l->woken, 1);
            uint64_t bit = 1ull << (l->index % 64);
            if (!(seen[l->index / 64] & bit)) {
                seen[l->index / 64] |= bit;
                kick[nkick++] = l;
            }
        }
    }
    pthread_mutex_unlock(&s->wmu);
    for (int i = 0; i < nkick; i++)
        srv_loop_kick(kick[i]); /* alive: a slot of it was parked */
}

void srv_wait_notify(void *ctx, const char *table, int bucket)
{
    wake(ctx, table, bucket);
    sql_stream_notify(NULL, table, bucket);
}

void srv_wait_wake(srv_server *s, const char *name) { wake(s, name, -1); }

int srv_wait_park(srv_server *s, srv_slot *slot)
{
    srv_wait *w = calloc(1, sizeof *w);
    if (!w)
        return -1;
    pthread_mutex_lock(&s->wmu);
    wtable *t = find(s, slot->table, 1);
    int rc = !t ? -1 : t->seq != slot->seq ? 1 : 0;
    if (rc == 0) {
        w->slot = slot;
        w->t = t;
        w->next = t->waiters;
        if (t->waiters)
            t->waiters->prev = w;
        t->waiters = w;
        slot->wait = w;
    }
    pthread_mutex_unlock(&s->wmu);
    if (rc != 0)
        free(w);
    return rc;
}

int srv_wait_fired(const srv_slot *slot)
{
    return slot->wait && atomic_load(&slot->wait->fired);
}

void srv_wait_cancel(srv_server *s, srv_slot *slot)
{
    srv_wait *w = slot->wait;
    if (!w)
        return;
    pthread_mutex_lock(&s->wmu);
    if (w->prev)
        w->prev->next = w->next;
    else
        w->t->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    pthread_mutex_unlock(&s->wmu);
    free(w);
    slot->wait = NULL;
}
