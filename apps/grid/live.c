/* live.c: the whole grid system running live (live.h): server, load, dispatcher, simulator
 * as child processes; their events; the run's own check of every decision. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "live.h"

#define MARKER "strom-demo.run"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

grid_live *grid_live_create(const grid_live_opts *o, grid_diag *d)
{
    grid_live *l = calloc(1, sizeof *l);
    if (!l) {
        grid_errorf(d, "out of memory");
        return NULL;
    }
    l->o = *o;
    if (!l->o.tick_ms)
        l->o.tick_ms = 1000;
    if (!(l->o.rate_hz > 0))
        l->o.rate_hz = 1;
    l->server.status = l->sim.status = l->disp.status = -1;
    l->server.fd = l->sim.fd = l->disp.fd = -1;
    grid_topo *tmpl = NULL;
    int quiet = d->quiet;
    d->quiet = 1;
    int rc = grid_load(o->topology, &tmpl, d);
    d->quiet = quiet;
    if (rc || grid_build(tmpl, o->devices, 1, &l->built, d)) {
        grid_topo_destroy(tmpl);
        free(l);
        return NULL;
    }
    grid_topo_destroy(tmpl);
    return l;
}

static void stop_all(grid_live *l)
{
    if (l->sim.pid)
        grid_proc_stop(&l->sim, SIGTERM, 5000);
    if (l->disp.pid)
        grid_proc_stop(&l->disp, SIGTERM, 10000);
    if (l->server.pid)
        grid_proc_stop(&l->server, SIGTERM, 15000);
}

void grid_live_destroy(grid_live *l)
{
    if (!l)
        return;
    stop_all(l);
    grid_built_free(&l->built);
    free(l->faults);
    free(l->dec);
    free(l);
}

/* ------------------------------------------------------------ the data directory */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int grid_live_remove_dir(const grid_live *l)
{
    return nftw(l->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh directory: created, or an earlier run's (it holds the marker) emptied. */
static int fresh_dir(grid_live *l, grid_diag *d)
{
    char marker[1200];
    snprintf(l->dir, sizeof l->dir, "%s", l->o.data);
    snprintf(marker, sizeof marker, "%s/" MARKER, l->dir);
    struct stat st;
    if (stat(l->dir, &st) == 0) {
        if (access(marker, F_OK))
            return grid_errorf(d, "%s exists and is not a directory an earlier demo made "
                                  "(no %s in it): give another --data", l->dir, MARKER);
        if (nftw(l->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS))
            return grid_errorf(d, "cannot empty %s: %s", l->dir, strerror(errno));
    }
    if (mkdir(l->dir, 0755) && errno != EEXIST)
        return grid_errorf(d, "cannot create %s: %s", l->dir, strerror(errno));
    FILE *f = fopen(marker, "w");
    if (!f)
        return grid_errorf(d, "cannot write %s: %s", marker, strerror(errno));
    fprintf(f, "made by strom demo / strom bench grid; the whole directory is removed by the next run\n");
    fclose(f);
    return 0;
}

/* ------------------------------------------------------------ the run's own check */

static void set_edge(grid_topo *t, const char *id, int closed, grid_live_decision *x)
{
    int32_t e = grid_edge_find(t, id);
    if (e < 0) {
        snprintf(x->problem, sizeof x->problem, "switches an unknown device %.96s", id);
        return;
    }
    t->edge[e].closed = (uint8_t)closed;
}

/* Energises the run's grid from its sources; 0 if radial, else the edge closing a loop.
 * live[b] = 1 for energised buses. */
static int energise(const grid_topo *t, uint8_t *live, uint8_t *used, int32_t *queue, int32_t *loop)
{
    memset(live, 0, (size_t)t->nbus);
    memset(used, 0, (size_t)t->nedge);
    *loop = -1;
    for (int32_t s = 0; s < t->nbus; s++) {
        if (!t->bus[s].source || live[s])
            continue;
        int32_t head = 0, tail = 0;
        live[s] = 1;
        queue[tail++] = s;
        while (head < tail) {
            int32_t u = queue[head++];
            for (int32_t k = t->adj_off[u]; k < t->adj_off[u + 1]; k++) {
                int32_t e = t->adj[k];
                const grid_edge *g = &t->edge[e];
                if (!g->closed || g->parallel >= 0 || used[e])
                    continue;
                used[e] = 1;
                int32_t v = g->a == u ? g->b : g->a;
                if (live[v]) {
                    if (*loop < 0)
                        *loop = e;
                    continue;
                }
                live[v] = 1;
                queue[tail++] = v;
            }
        }
    }
    return *loop < 0 ? 0 : -1;
}

static void check_decision(grid_live *l, grid_live_decision *x, char opened[][96], int no,
                           char closed[][96], int nc)
{
    grid_topo *t = l->built.topo;
    for (int i = 0; i < no; i++)
        set_edge(t, opened[i], 0, x);
    for (int i = 0; i < nc; i++)
        set_edge(t, closed[i], 1, x);
    uint8_t *live = malloc((size_t)t->nbus), *used = malloc((size_t)t->nedge);
    int32_t *queue = malloc(sizeof *queue * (size_t)t->nbus), loop;
    int32_t f = grid_edge_find(t, x->fault);
    if (!live || !used || !queue) {
        snprintf(x->problem, sizeof x->problem, "out of memory for the check");
    } else if (f < 0) {
        snprintf(x->problem, sizeof x->problem, "names an unknown section %s", x->fault);
    } else {
        x->radial = energise(t, live, used, queue, &loop) == 0;
        const grid_edge *g = &t->edge[f];
        x->section_dead = g->switchable ? !g->closed : !live[g->a] && !live[g->b];
        if (!x->radial && !x->problem[0])
            snprintf(x->problem, sizeof x->problem, "not radial: %s closes a loop",
                     grid_edge_id(t, loop));
        else if (!x->section_dead && !x->problem[0])
            snprintf(x->problem, sizeof x->problem, "the faulted section %s is still energised",
                     x->fault);
    }
    if (!x->injected && !x->problem[0])
        snprintf(x->problem, sizeof x->problem, "names %s, where no fault was injected", x->fault);
    free(live), free(used), free(queue);
    if (x->problem[0])
        snprintf(l->last_problem, sizeof l->last_problem, "decision %s: %s", x->id, x->problem);
}

/* ------------------------------------------------------------ events */

static int grow(void **p, int *cap, int n, size_t sz)
{
    if (n < *cap)
        return 0;
    int nc = *cap ? *cap * 2 : 64;
    void *q = realloc(*p, (size_t)nc * sz);
    if (!q)
        return -1;
    *p = q;
    *cap = nc;
    return 0;
}

static int join_ids(const grid_ev *ev, const char *key, char *out, size_t cap, char ids[][96])
{
    int n = 0;
    size_t used = 0;
    out[0] = 0;
    for (const char *s; (s = grid_ev_arr(ev, key, n)) && n < 32; n++) {
        snprintf(ids[n], 96, "%s", s);
        int w = snprintf(out + used, cap - used, "%s%s", n ? ", " : "", s);
        used = used + (size_t)w < cap ? used + (size_t)w : cap - 1;
    }
    return n;
}

static void on_decision(grid_live *l, const grid_ev *ev)
{
    if (grow((void **)&l->dec, &l->cdec, l->ndec, sizeof *l->dec))
        return;
    grid_live_decision *x = &l->dec[l->ndec];
    memset(x, 0, sizeof *x);
    snprintf(x->id, sizeof x->id, "%s", grid_ev_str(ev, "decision_id", "?"));
    snprintf(x->fault, sizeof x->fault, "%s", grid_ev_str(ev, "fault", "?"));
    snprintf(x->feeder, sizeof x->feeder, "%s", grid_ev_str(ev, "feeder", ""));
    x->sample_ms = (int64_t)grid_ev_num(ev, "sample_ms", 0);
    x->alarm_ms = (int64_t)grid_ev_num(ev, "alarm_ms", 0);
    /* the decision counts as made once it is written (acknowledged durable): written_ms */
    x->decision_ms = (int64_t)grid_ev_num(ev, "written_ms", grid_ev_num(ev, "decision_ms", 0));
    x->latency_ms = x->sample_ms > 0 && x->decision_ms > 0 ? (double)(x->decision_ms - x->sample_ms)
                                                           : grid_ev_num(ev, "latency_ms", 0);
    x->interrupted_kw = grid_ev_num(ev, "interrupted_kw", 0);
    x->restored_kw = grid_ev_num(ev, "restored_kw", 0);
    x->lost_kw = grid_ev_num(ev, "lost_kw", 0);
    static char opened[32][96], closed[32][96];
    x->nopened = join_ids(ev, "opened", x->opened, sizeof x->opened, opened);
    x->nclosed = join_ids(ev, "closed", x->closed, sizeof x->closed, closed);
    for (int i = 0; i < l->nfaults; i++)
        if (l->faults[i].decision < 0 && !strcmp(l->faults[i].section, x->fault)) {
            l->faults[i].decision = l->ndec;
            x->injected = 1;
            break;
        }
    check_decision(l, x, opened, x->nopened, closed, x->nclosed);
    l->ndec++;
    if (l->o.on_decision)
        l->o.on_decision(l->o.ctx, l, l->ndec - 1);
}

static void on_fault(grid_live *l, const grid_ev *ev)
{
    if (grow((void **)&l->faults, &l->cfaults, l->nfaults, sizeof *l->faults))
        return;
    grid_live_fault *f = &l->faults[l->nfaults];
    memset(f, 0, sizeof *f);
    snprintf(f->id, sizeof f->id, "%s", grid_ev_str(ev, "fault_id", "?"));
    snprintf(f->type, sizeof f->type, "%s", grid_ev_str(ev, "type", "?"));
    snprintf(f->section, sizeof f->section, "%s", grid_ev_str(ev, "section", ""));
    snprintf(f->feeder, sizeof f->feeder, "%s", grid_ev_str(ev, "feeder", ""));
    snprintf(f->tripped, sizeof f->tripped, "%s", grid_ev_str(ev, "tripped", ""));
    f->t_ms = (int64_t)grid_ev_num(ev, "t_ms", 0);
    f->decision = -1;
    l->nfaults++;
    if (l->o.on_fault)
        l->o.on_fault(l->o.ctx, l, l->nfaults - 1);
}

static void on_stats(grid_live *l, grid_proc *p, const grid_ev *ev)
{
    if (p == &l->sim) {
        l->sim_rows = (int64_t)grid_ev_num(ev, "rows", (double)l->sim_rows);
        l->sim_rows_per_s = grid_ev_num(ev, "rows_per_s", l->sim_rows_per_s);
        return;
    }
    l->disp_rows = (int64_t)grid_ev_num(ev, "rows", (double)l->disp_rows);
    l->disp_rows_per_s = grid_ev_num(ev, "rows_per_s", l->disp_rows_per_s);
    l->alarms = (int64_t)grid_ev_num(ev, "alarms", (double)l->alarms);
    l->active_alarms = (int64_t)grid_ev_num(ev, "active_alarms", (double)l->active_alarms);
    l->disp_p50 = grid_ev_num(ev, "p50_ms", l->disp_p50);
    l->disp_p99 = grid_ev_num(ev, "p99_ms", l->disp_p99);
    l->disp_max = grid_ev_num(ev, "max_ms", l->disp_max);
}

static void on_line(void *ctx, grid_proc *p, char *line)
{
    grid_live *l = ctx;
    if (p == &l->server || !line[0])
        return;
    grid_ev ev;
    char err[128];
    if (line[0] != '{')
        return;                     /* not an event (a human line): ignored */
    if (grid_ev_parse(line, strlen(line), &ev, err, sizeof err)) {
        l->bad_lines++;
        return;
    }
    const char *kind = grid_ev_str(&ev, "event", "");
    if (p == &l->disp && !strcmp(kind, "decision"))
        on_decision(l, &ev);
    else if (p == &l->sim && !strcmp(kind, "fault"))
        on_fault(l, &ev);
    else if (!strcmp(kind, "stats") || !strcmp(kind, "summary"))
        on_stats(l, p, &ev);
}

/* ------------------------------------------------------------ the run */

static void phase(grid_live *l, const char *what)
{
    if (l->o.on_phase)
        l->o.on_phase(l->o.ctx, what);
}

static void sample_usage(grid_live *l, double elapsed)
{
    grid_proc *ps[3] = {&l->server, &l->sim, &l->disp};
    double rss = 0;
    for (int i = 0; i < 3; i++) {
        double cpu, r;
        if (ps[i]->pid && !grid_proc_usage(ps[i]->pid, &cpu, &r)) {
            l->cpu_s[i] = cpu;
            rss += r;
        }
    }
    if (rss > l->rss_mb_max)
        l->rss_mb_max = rss;
    l->cpu_s_total = l->cpu_s[0] + l->cpu_s[1] + l->cpu_s[2];
    if (elapsed > 0)
        l->cpu_pct = 100.0 * l->cpu_s_total / elapsed;
}

/* Runs a child to its end, its stdout read and dropped. Exit code or -1. */
static int run_child(grid_live *l, grid_proc *p, const char *name, char **argv, const char *log,
                     grid_diag *d)
{
    if (grid_proc_start(p, name, argv, 1, log, d))
        return -1;
    grid_proc *ps[2] = {p, &l->server};
    while (grid_proc_poll(ps, 2, 200, on_line, l) >= 0 && p->fd >= 0)
        ;
    return grid_proc_stop(p, 0, 600000);
}

static void logpath(grid_live *l, const char *name)
{
    snprintf(l->log, sizeof l->log, "%s/%s.log", l->dir, name);
}

static int start_services(grid_live *l, grid_diag *d)
{
    char data[1100], dev[32];
    snprintf(data, sizeof data, "%s/data", l->dir);
    snprintf(dev, sizeof dev, "%lld", (long long)l->o.devices);
    logpath(l, "server");
    phase(l, "starting the strom server");
    if (grid_proc_server(&l->server, data, l->log, l->addr, sizeof l->addr, d))
        return -1;
    phase(l, "loading the grid: device dimension, topology (nodes, edges), status");
    double t0 = now_s();
    char *exe = (char *)grid_self_exe();
    char *load[] = {exe, "grid", "load", "--server", l->addr, "--topology", (char *)l->o.topology,
                    "--devices", dev, "--quiet", NULL};
    grid_proc loader;
    logpath(l, "load");
    int rc = run_child(l, &loader, "loader", load, l->log, d);
    if (rc)
        return rc < 0 ? -1 : grid_errorf(d, "loading the grid failed (exit %d); see %s", rc, l->log);
    l->t_load_s = now_s() - t0;
    phase(l, "starting the dispatcher");
    char *disp[] = {exe, "grid", "dispatch", "--server", l->addr, "--topology",
                    (char *)l->o.topology, "--devices", dev, "--events", "--quiet", NULL};
    logpath(l, "dispatcher");
    if (grid_proc_start(&l->disp, "dispatcher", disp, 1, l->log, d))
        return -1;
    grid_proc *ps[2] = {&l->disp, &l->server};
    for (double end = now_s() + 60; !l->disp_rows_per_s && now_s() < end;) {
        int before = l->bad_lines;
        if (grid_proc_poll(ps, 2, 100, on_line, l) > 0 || l->bad_lines != before)
            break;                  /* its first line: it is subscribed */
        if (grid_proc_exited(&l->disp))
            return grid_errorf(d, "the dispatcher stopped at start; see %s", l->log);
    }
    return 0;
}

static int start_sim(grid_live *l, grid_diag *d)
{
    char dev[32], dur[32], every[32], seed[32], rate[32];
    snprintf(dev, sizeof dev, "%lld", (long long)l->o.devices);
    snprintf(dur, sizeof dur, "%g", l->o.duration_s);
    snprintf(every, sizeof every, "%g", l->o.fault_every_s);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)l->o.seed);
    snprintf(rate, sizeof rate, "%g", l->o.rate_hz);
    char *sim[] = {(char *)grid_self_exe(), "grid", "simulate", "--server", l->addr,
                   "--topology", (char *)l->o.topology, "--devices", dev, "--duration", dur,
                   "--fault-every", every, "--fault-types", "line", "--seed", seed,
                   "--rate-hz", rate, "--events", "--quiet", NULL};
    logpath(l, "simulator");
    phase(l, "streaming telemetry; a line fault is injected every few seconds");
    return grid_proc_start(&l->sim, "simulator", sim, 1, l->log, d);
}

static int undecided(const grid_live *l)
{
    int n = 0;
    for (int i = 0; i < l->nfaults; i++)
        n += l->faults[i].decision < 0;
    return n;
}

/* Gathers events until the simulator ends (or stop), then up to 3 s for the last
 * decisions. */
static void gather(grid_live *l, volatile int *stop)
{
    grid_proc *ps[3] = {&l->sim, &l->disp, &l->server};
    double next = now_s() + l->o.tick_ms / 1000.0, tail_end = 0;
    for (;;) {
        grid_proc_poll(ps, 3, 50, on_line, l);
        double t = now_s();
        if (t >= next) {
            sample_usage(l, t - l->t_stream_start);
            if (l->o.on_tick)
                l->o.on_tick(l->o.ctx, l);
            next = t + l->o.tick_ms / 1000.0;
        }
        if (*stop)
            break;
        if (l->sim.fd < 0 && !tail_end)
            tail_end = t + 3;
        if (tail_end && (t > tail_end || !undecided(l)))
            break;
        if (grid_proc_exited(&l->disp) && l->disp.fd < 0)
            break;
    }
}

int grid_live_run(grid_live *l, volatile int *stop, grid_diag *d)
{
    l->t_start = now_s();
    if (fresh_dir(l, d) || start_services(l, d))
        goto fail;
    l->t_stream_start = now_s();
    if (start_sim(l, d))
        goto fail;
    gather(l, stop);
    phase(l, "stopping: simulator, dispatcher (finishes its writes), server (flushes)");
    int rs = l->sim.pid ? grid_proc_stop(&l->sim, SIGTERM, 5000) : 0;
    sample_usage(l, now_s() - l->t_stream_start);
    grid_proc *ps[2] = {&l->disp, &l->server};
    if (l->disp.pid)
        kill(l->disp.pid, SIGTERM);
    for (double end = now_s() + 10; l->disp.fd >= 0 && now_s() < end;)
        grid_proc_poll(ps, 2, 100, on_line, l);
    int rd = grid_proc_stop(&l->disp, SIGTERM, 5000);
    if (l->o.on_before_stop && !*stop)
        l->o.on_before_stop(l->o.ctx, l);
    int rv = grid_proc_stop(&l->server, SIGTERM, 15000);
    if (!*stop && (rs || rd || rv)) {
        grid_errorf(d, "a service failed: simulator exit %d, dispatcher exit %d, server exit %d "
                       "(logs in %s)", rs, rd, rv, l->dir);
        return -1;
    }
    return 0;
fail:
    stop_all(l);
    return -1;
}

double grid_live_pct(const grid_live *l, double p)
{
    double *v = l->ndec ? malloc(sizeof *v * (size_t)l->ndec) : NULL, q = p / 100, r = 0;
    if (!v)
        return 0;
    for (int i = 0; i < l->ndec; i++)
        v[i] = l->dec[i].latency_ms;
    grid_percentiles(v, l->ndec, &q, &r, 1);
    free(v);
    return r;
}

int grid_live_correct(const grid_live *l)
{
    int n = 0;
    for (int i = 0; i < l->nfaults; i++) {
        int k = l->faults[i].decision;
        n += k >= 0 && !l->dec[k].problem[0];
    }
    return n;
}

void grid_live_load(const grid_live *l, double *interrupted, double *restored)
{
    *interrupted = *restored = 0;
    for (int i = 0; i < l->ndec; i++)
        *interrupted += l->dec[i].interrupted_kw, *restored += l->dec[i].restored_kw;
}
