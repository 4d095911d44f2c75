/* stream.c: the append notification that wakes stream reads (engine.h). One sequence and
 * condition variable for the process: an append anywhere wakes every waiting stream, which
 * looks at its own table's offsets (a few loads) and waits again if nothing is new. */
#include "engine.h"

#include <pthread.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static uint64_t seq;

static void init_cv(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&cv, &a);
    pthread_condattr_destroy(&a);
}

void sql_stream_notify(void *ctx, const char *table, int bucket)
{
    (void)ctx;
    (void)table;
    (void)bucket;
    pthread_once(&once, init_cv);
    pthread_mutex_lock(&mu);
    seq++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

uint64_t sql_stream_seq(void)
{
    pthread_mutex_lock(&mu);
    uint64_t s = seq;
    pthread_mutex_unlock(&mu);
    return s;
}

void sql_stream_wait(uint64_t seen, int ms)
{
    pthread_once(&once, init_cv);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&mu);
    while (seq == seen && pthread_cond_timedwait(&cv, &mu, &ts) == 0)
        ;
    pthread_mutex_unlock(&mu);
}
