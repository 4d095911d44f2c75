/* sim_follow.c: the simulator follows the switching written by others: a thread reads
 * grid_edges' changelog (a subscriber from the latest offset, projected to edge_id,
 * switch_state, updated) and queues every +I / +U row's state for the simulator's loop
 * (sim.h, grid_follow_*). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

struct grid_follow {
    const grid_topo *t;
    strom_subscriber *sub;
    pthread_t th;
    int started;
    pthread_mutex_t mu;
    grid_switch_change *q;   /* queued, not yet taken (under mu) */
    size_t n, cap;
    int stop;                /* under mu */
    char err[300];           /* the thread's failure (under mu), "" if none */
};

static int push(grid_follow *f, const grid_switch_change *c)
{
    if (f->n == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 64;
        grid_switch_change *nq = realloc(f->q, nc * sizeof *nq);
        if (!nq)
            return -1;
        f->q = nq;
        f->cap = nc;
    }
    f->q[f->n++] = *c;
    return 0;
}

/* Queues the state rows of one changelog batch (columns: edge_id, switch_state, updated). */
static int take_batch(grid_follow *f, const strom_batch *b)
{
    int rc = 0;
    pthread_mutex_lock(&f->mu);
    for (int64_t r = 0; !rc && r < strom_batch_nrows(b); r++) {
        strom_change ch = strom_batch_row_change(b, r);
        if ((ch != STROM_INSERT && ch != STROM_UPDATE_AFTER) || strom_batch_is_null(b, 0, r) ||
            strom_batch_is_null(b, 1, r))
            continue;
        size_t len, slen;
        const char *id = strom_batch_get_str(b, 0, r, &len);
        const char *st = strom_batch_get_str(b, 1, r, &slen);
        char name[256];
        if (len >= sizeof name)
            continue;
        memcpy(name, id, len);
        name[len] = 0;
        grid_switch_change c = {.edge = grid_edge_find(f->t, name),
                                .closed = slen == 6 && !memcmp(st, "closed", 6),
                                .ms = strom_batch_is_null(b, 2, r) ? INT64_MAX : strom_batch_get_int(b, 2, r)};
        if (c.edge >= 0 && (c.closed || (slen == 4 && !memcmp(st, "open", 4))))
            rc = push(f, &c);
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static void *follow_main(void *arg)
{
    grid_follow *f = arg;
    for (;;) {
        pthread_mutex_lock(&f->mu);
        int stop = f->stop;
        pthread_mutex_unlock(&f->mu);
        if (stop)
            return NULL;
        const strom_batch *b;
        int bucket;
        strom_err e = strom_subscriber_poll(f->sub, 100, &b, &bucket);
        if (e == STROM_OK && b && take_batch(f, b))
            e = STROM_ENOMEM;
        if (e != STROM_OK) {
            pthread_mutex_lock(&f->mu);
            snprintf(f->err, sizeof f->err, "following grid_edges: %s", strom_errmsg());
            pthread_mutex_unlock(&f->mu);
            return NULL;
        }
    }
}

grid_follow *grid_follow_start(strom_client *c, const grid_topo *t, grid_diag *d)
{
    static const char *const cols[] = {"edge_id", "switch_state", "updated"};
    grid_follow *f = calloc(1, sizeof *f);
    if (!f) {
        grid_errorf(d, "out of memory");
        return NULL;
    }
    f->t = t;
    pthread_mutex_init(&f->mu, NULL);
    strom_subscriber_opts o = {.columns = cols, .ncolumns = 3, .max_wait_ms = 100};
    if (strom_subscriber_create(c, "grid_edges", &o, &f->sub) != STROM_OK ||
        strom_subscriber_assign(f->sub, -1, STROM_FROM_LATEST, 0) != STROM_OK) {
        grid_errorf(d, "subscribing to grid_edges: %s", strom_errmsg());
        grid_follow_stop(f);
        return NULL;
    }
    if (pthread_create(&f->th, NULL, follow_main, f)) {
        grid_errorf(d, "cannot start the grid_edges thread");
        grid_follow_stop(f);
        return NULL;
    }
    f->started = 1;
    return f;
}

int grid_follow_take(grid_follow *f, grid_switch_change **out, size_t *n, grid_diag *d)
{
    pthread_mutex_lock(&f->mu);
    int rc = f->err[0] ? grid_errorf(d, "%s", f->err) : 0;
    *out = f->q;
    *n = f->n;
    f->q = NULL;
    f->n = f->cap = 0;
    pthread_mutex_unlock(&f->mu);
    return rc;
}

void grid_follow_stop(grid_follow *f)
{
    if (!f)
        return;
    if (f->started) {
        pthread_mutex_lock(&f->mu);
        f->stop = 1;
        pthread_mutex_unlock(&f->mu);
        pthread_join(f->th, NULL);
    }
    strom_subscriber_close(f->sub);
    pthread_mutex_destroy(&f->mu);
    free(f->q);
    free(f);
}
