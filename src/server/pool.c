/* pool.c: the worker threads that run requests which may block (durable writes, fetches,
 * scans, DDL), so that no I/O thread ever waits for an fsync. A worker takes a slot from
 * the queue, runs it through its protocol and hands it back to the slot's loop. */
#define _GNU_SOURCE /* pthread_setname_np */
#include "srv_int.h"

#include <stdlib.h>

static srv_slot *pool_pop(srv_server *s)
{
    pthread_mutex_lock(&s->pmu);
    while (!s->phead && !s->pstop)
        pthread_cond_wait(&s->pcv, &s->pmu);
    srv_slot *slot = s->phead;
    if (slot && !(s->phead = slot->qnext))
        s->ptail = NULL;
    pthread_mutex_unlock(&s->pmu);
    return slot;
}

static void *pool_main(void *arg)
{
    srv_server *s = arg;
    srv_scratch x;
    pthread_setname_np(pthread_self(), "strom-worker");
    srv_scratch_init(&x); /* on ENOMEM the handlers fail for want of their scratch */
    srv_slot *slot;
    while ((slot = pool_pop(s)) != NULL) {
        slot->conn->proto->run(slot, &x);
        atomic_fetch_sub(&s->busy, 1);
        srv_loop_complete(slot);
    }
    srv_scratch_free(&x);
    return NULL;
}

strom_err srv_pool_start(srv_server *s)
{
    pthread_mutex_init(&s->pmu, NULL);
    pthread_cond_init(&s->pcv, NULL);
    int n = (int)s->cfg.worker_threads;
    s->workers = strom_calloc((size_t)n, sizeof *s->workers);
    if (!s->workers)
        return STROM_ENOMEM;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&s->workers[i], NULL, pool_main, s) != 0)
            return strom_fail(STROM_ENOMEM, "cannot start worker thread %d", i);
        s->nworkers++;
    }
    return STROM_OK;
}

void srv_pool_submit(srv_server *s, srv_slot *slot)
{
    slot->qnext = NULL;
    atomic_fetch_add(&s->busy, 1);
    pthread_mutex_lock(&s->pmu);
    if (s->ptail)
        s->ptail->qnext = slot;
    else
        s->phead = slot;
    s->ptail = slot;
    pthread_mutex_unlock(&s->pmu);
    /* signalled after the unlock: a worker woken while the lock is still held would run
     * (often on this core, taking it from the I/O thread), block on the lock and need a
     * second wakeup (two more context switches per request; perf sched showed them) */
    pthread_cond_signal(&s->pcv);
}

/* Stops the workers once the queue is empty (the loops are gone: nothing is queued). */
void srv_pool_stop(srv_server *s)
{
    pthread_mutex_lock(&s->pmu);
    s->pstop = 1;
    pthread_cond_broadcast(&s->pcv);
    pthread_mutex_unlock(&s->pmu);
    for (int i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i], NULL);
    free(s->workers);
    s->workers = NULL;
    s->nworkers = 0;
    pthread_cond_destroy(&s->pcv);
    pthread_mutex_destroy(&s->pmu);
}
