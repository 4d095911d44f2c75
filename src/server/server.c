/* server.c: srv_run: start-up (database, workers, I/O threads, the append listener),
 * waiting for SIGTERM/SIGINT, and the graceful shutdown. */
#include "srv_int.h"

#include <signal.h>
#include <stdlib.h>

static void srv_free(srv_server *s)
{
    srv_loops_stop(s);
    srv_jobs_stop(s);
    srv_sql_wait_threads(s);
    srv_cursors_expire(s, 1);
    pthread_mutex_destroy(&s->cmu);
    if (s->db)
        cat_set_append_listener(s->db, NULL);
    srv_tables_close(s);
    strom_db_close(s->db);
    if (s->waits)
        srv_waits_free(s);
    pthread_mutex_destroy(&s->tmu);
    free(s);
}

static strom_err srv_start(srv_server *s)
{
    strom_err e = strom_db_open(s->cfg.data_dir, &s->db);
    if (e != STROM_OK)
        return strom_fail_wrap(e, "open data directory %s", s->cfg.data_dir);
    if ((e = srv_waits_init(s)) != STROM_OK)
        return e;
    s->listener = (cat_listener){srv_wait_notify, s};
    cat_set_append_listener(s->db, &s->listener);
    if ((e = srv_pool_start(s)) != STROM_OK)
        return e;
    if ((e = srv_jobs_start(s)) != STROM_OK)
        return e;
    /* the listeners: the native protocol; a Kafka/RESP/HTTP listener is one more line */
    s->listeners[s->nlisteners++] = (srv_listener){&srv_native_proto, s->cfg.host,
                                                   (int)s->cfg.port};
    return srv_loops_start(s);
}

/* Stops in the order that lets every accepted request finish: loops drain (parked
 * fetches answered, in-flight requests completed and written), then the workers stop, then
 * tables are flushed and closed and the database closed. */
static void srv_shutdown(srv_server *s)
{
    srv_loops_drain(s);
    srv_pool_stop(s);
}

int srv_run(const srv_config *c)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread inherits it */
    srv_server *s = calloc(1, sizeof *s);
    if (!s) {
        fprintf(stderr, "strom server: out of memory\n");
        return 1;
    }
    s->cfg = *c;
    s->started_ms = strom_now_ms();
    pthread_mutex_init(&s->tmu, NULL);
    pthread_mutex_init(&s->cmu, NULL);
    strom_err e = srv_start(s);
    if (e != STROM_OK) {
        fprintf(stderr, "strom server: %s: %s\n", strom_strerror(e), strom_errmsg());
        if (s->nworkers || s->nloops) {
            srv_shutdown(s);
        }
        srv_free(s);
        return 1;
    }
    for (int i = 0; i < s->nlisteners; i++) /* the native one first: scripts read line 1 */
        printf("strom server %s%s%slistening on %s:%d\n", i ? "(" : "",
               i ? s->listeners[i].proto->name : "", i ? ") " : "", s->listeners[i].host,
               s->listeners[i].port);
    fflush(stdout);
    sigdelset(&set, SIGPIPE);
    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    fprintf(stderr, "strom server: %s received, shutting down\n",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
    srv_shutdown(s);
    srv_free(s);
    fprintf(stderr, "strom server: stopped\n");
    return 0;
}
