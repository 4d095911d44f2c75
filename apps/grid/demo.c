/* demo.c: `strom demo` (make demo): the whole grid dispatch system live in the terminal
 * (live.h): IEEE 123 replicated, telemetry streaming, a line fault every few seconds,
 * each located, isolated and the healthy load transferred by the dispatcher; rows/s,
 * alarms, decisions, sample-to-decision latency and load restored as they happen; a
 * summary and the post-fault analysis of the last fault at the end. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "demo.h"
#include "live.h"

typedef struct demo_args {
    const char *data, *topology;
    int64_t devices, seed;
    double duration, fault_every;
} demo_args;

typedef struct demo_view {
    const demo_args *a;
    char analysis[1300];
    int tty;
    int status_shown;
    double t0;
} demo_view;

static volatile int demo_stop;

static void on_sigint(int sig)
{
    (void)sig;
    demo_stop = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 1234567 -> "1,234,567" */
static const char *thousands(char *buf, size_t n, double v)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%.0f", v);
    size_t len = strlen(tmp), o = 0;
    for (size_t i = 0; i < len && o + 2 < n; i++) {
        if (i && tmp[i - 1] != '-' && (len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = 0;
    return buf;
}

static void clock_of(int64_t ms, char *buf, size_t n)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&s, &tm);
    snprintf(buf, n, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* Clears the status line (a terminal) before an event line is printed above it. */
static void clear_status(demo_view *v)
{
    if (v->tty && v->status_shown)
        fputs("\r\033[K", stdout);
    v->status_shown = 0;
}

static void view_phase(void *ctx, const char *what)
{
    demo_view *v = ctx;
    clear_status(v);
    printf("[%5.1f s] %s\n", now_s() - v->t0, what);
    fflush(stdout);
}

static void view_fault(void *ctx, const grid_live *l, int i)
{
    demo_view *v = ctx;
    const grid_live_fault *f = &l->faults[i];
    char t[32];
    clock_of(f->t_ms, t, sizeof t);
    clear_status(v);
    printf("  %s  FAULT     %s on feeder %s (injected by the simulator; protection will trip %s)\n",
           t, f->section, f->feeder, f->tripped[0] ? f->tripped : "the feeder breaker");
    fflush(stdout);
}

static void view_decision(void *ctx, const grid_live *l, int i)
{
    demo_view *v = ctx;
    const grid_live_decision *x = &l->dec[i];
    char t[32], a[32], b[32], c[32];
    clock_of(x->decision_ms, t, sizeof t);
    clear_status(v);
    printf("  %s  DECISION  feeder %s: fault located on %s, %.1f ms from sensor sample to "
           "decision written\n", t, x->feeder, x->fault, x->latency_ms);
    printf("                open  %s\n", x->nopened ? x->opened : "(nothing)");
    if (x->nclosed)
        printf("                close %s\n", x->closed);
    double pct = x->interrupted_kw > 0 ? 100.0 * x->restored_kw / x->interrupted_kw : 100.0;
    printf("                %s of %s kW interrupted load restored (%.0f%%); %s kW waits for "
           "the repair of the faulted section\n",
           thousands(a, sizeof a, x->restored_kw), thousands(b, sizeof b, x->interrupted_kw), pct,
           thousands(c, sizeof c, x->lost_kw));
    if (x->problem[0])
        printf("                CHECK FAILED: %s\n", x->problem);
    fflush(stdout);
}

static void view_tick(void *ctx, const grid_live *l)
{
    demo_view *v = ctx;
    double it, rs;
    grid_live_load(l, &it, &rs);
    char r[32], a[32], b[32];
    clear_status(v);
    printf("[%5.0f s] %s rows/s in | alarms %lld (active %lld) | faults %d, decided %d | "
           "sample->decision p50 %.1f ms, p99 %.1f ms | restored %s of %s kW",
           now_s() - v->t0, thousands(r, sizeof r, l->sim_rows_per_s), (long long)l->alarms,
           (long long)l->active_alarms, l->nfaults, l->ndec, grid_live_pct(l, 50),
           grid_live_pct(l, 99), thousands(a, sizeof a, rs), thousands(b, sizeof b, it));
    if (v->tty)
        v->status_shown = 1;
    else
        putchar('\n');
    fflush(stdout);
}

static void run_analysis(void *ctx, grid_live *l)
{
    demo_view *v = ctx;
    const demo_args *a = v->a;
    char *out = v->analysis;
    size_t n = sizeof v->analysis;
    int last = -1;
    for (int i = 0; i < l->nfaults; i++)
        if (l->faults[i].decision >= 0)
            last = i;
    out[0] = 0;
    if (last < 0)
        return;
    char dev[32], dir[1200], log[1200];
    snprintf(dev, sizeof dev, "%lld", (long long)a->devices);
    snprintf(dir, sizeof dir, "%s/analysis/%s", l->dir, l->faults[last].id);
    snprintf(log, sizeof log, "%s/analyze.log", l->dir);
    char *argv[] = {(char *)grid_self_exe(), "grid", "analyze", l->faults[last].id, "--server",
                    l->addr, "--topology", (char *)a->topology, "--devices", dev, "--out", dir,
                    NULL};
    grid_proc p;
    grid_diag d = {0};
    view_phase(v, "post-fault analysis of the last fault (strom grid analyze)");
    /* its report goes to the files (report.txt, index.html); stdout is read and dropped */
    if (grid_proc_start(&p, "analyze", argv, 1, log, &d) == 0 && grid_proc_stop(&p, 0, 60000) == 0)
        snprintf(out, n, "%s (report.txt, index.html, plots)", dir);
    else
        snprintf(out, n, "(the analysis of %s failed; see %s)", l->faults[last].id, log);
}

static void summary(const demo_args *a, grid_live *l, const char *analysis, double wall)
{
    double it, rs;
    grid_live_load(l, &it, &rs);
    char r[32], x[32], y[32];
    int ok = grid_live_correct(l);
    printf("\nSummary (%.0f s of telemetry, %.0f s in all):\n", a->duration, wall);
    char nd[32], rps[32], dr[32];
    printf("  telemetry        %s rows from %s devices (%s rows/s); the dispatcher read %s\n",
           thousands(r, sizeof r, (double)l->sim_rows), thousands(nd, sizeof nd, (double)l->built.ndev),
           thousands(rps, sizeof rps, l->sim_rows_per_s), thousands(dr, sizeof dr, (double)l->disp_rows));
    printf("  alarms           %lld raised (%lld still active)\n", (long long)l->alarms,
           (long long)l->active_alarms);
    printf("  faults           %d injected, %d decided, %d isolated correctly (section dead, "
           "network radial)\n", l->nfaults, l->ndec, ok);
    printf("  sample->decision p50 %.1f ms, p99 %.1f ms, max %.1f ms (the seed's budget: 300 ms, "
           "target < 100 ms)\n", grid_live_pct(l, 50), grid_live_pct(l, 99), grid_live_pct(l, 100));
    printf("  load             %s kW interrupted by the faults, %s kW restored by ties (%.0f%%)\n",
           thousands(x, sizeof x, it), thousands(y, sizeof y, rs), it > 0 ? 100 * rs / it : 100.0);
    printf("  resources        %.2f of %ld cores busy, %.0f MB resident (server + simulator + "
           "dispatcher)\n", l->cpu_pct / 100, sysconf(_SC_NPROCESSORS_ONLN), l->rss_mb_max);
    if (l->last_problem[0])
        printf("  check            %s\n", l->last_problem);
    printf("  data and logs    %s\n", l->dir);
    if (analysis[0])
        printf("  last analysis    %s\n", analysis);
}

/* Options; 0 ok, 1 help printed, 2 usage error. */
static int parse(int argc, char **argv, demo_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h"))
            return 1;
        if (i + 1 >= argc) {
            fprintf(stderr, "strom demo: unknown option or missing value: '%s' (see strom demo --help)\n", o);
            return 2;
        }
        const char *v = argv[++i];
        char *end;
        double x = strtod(v, &end);
        int num = end != v && !*end;
        if (!strcmp(o, "--data"))
            a->data = v;
        else if (!strcmp(o, "--topology"))
            a->topology = v;
        else if (!strcmp(o, "--devices") && num && x >= 300 && x <= 2e6)
            a->devices = (int64_t)x;
        else if (!strcmp(o, "--duration") && num && x >= 5 && x <= 86400)
            a->duration = x;
        else if (!strcmp(o, "--fault-every") && num && x >= 1 && x <= 3600)
            a->fault_every = x;
        else if (!strcmp(o, "--seed") && num && x >= 0 && x <= 1e15)
            a->seed = (int64_t)x;
        else {
            fprintf(stderr, "strom demo: %s '%s': unknown option or value out of range (see strom demo --help)\n", o, v);
            return 2;
        }
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: strom demo [--devices N] [--duration S] [--fault-every S] [--data DIR]\n"
               "                  [--topology FILE] [--seed N]\n\n"
               "The grid dispatch system, live: a strom server on a fresh data directory, the IEEE\n"
               "123-node feeder replicated to N devices (default 50,000; 300..2,000,000) and loaded,\n"
               "the telemetry simulator streaming 1 sample/s per device, a line fault every S s\n"
               "(default 5), the dispatcher locating, isolating and restoring each. Shows rows/s,\n"
               "alarms, decisions, sensor-sample-to-decision latency and load restored; ends after\n"
               "--duration S (default 40) or Ctrl-C with a summary and the last fault's analysis.\n"
               "  --data DIR      default ./strom-demo (removed and made anew if an earlier demo's)\n"
               "  --topology FILE default data/grid/ieee123/IEEE123Switches.dss of this source tree\n");
}

int grid_cmd_demo(int argc, char **argv)
{
    demo_args a = {.data = "strom-demo", .devices = 50000, .duration = 40, .fault_every = 5,
                   .seed = 7};
    int rc = parse(argc, argv, &a);
    if (rc) {
        usage(rc == 1 ? stdout : stderr);
        return rc == 1 ? 0 : 2;
    }
    char topo[4200];
    if (!a.topology && grid_default_topology(topo, sizeof topo)) {
        fprintf(stderr, "strom demo: cannot find data/grid/ieee123/IEEE123Switches.dss beside the "
                        "build; give --topology FILE\n");
        return 1;
    }
    if (!a.topology)
        a.topology = topo;
    demo_view v = {.a = &a, .tty = isatty(STDOUT_FILENO), .t0 = now_s()};
    grid_live_opts o = {.data = a.data, .topology = a.topology, .devices = a.devices,
                        .duration_s = a.duration, .fault_every_s = a.fault_every,
                        .seed = (uint64_t)a.seed, .on_tick = view_tick,
                        .on_decision = view_decision, .on_fault = view_fault,
                        .on_phase = view_phase, .ctx = &v};
    grid_diag d = {0};
    grid_live *l = grid_live_create(&o, &d);
    if (!l) {
        fprintf(stderr, "strom demo: %s\n", d.error);
        return 1;
    }
    printf("strom demo: the grid dispatch system, live\n"
           "  feeder     %s, %d copies tied by normally-open switches\n"
           "  devices    %lld: %lld breakers, %lld switches, %lld transformers, %lld line sections, %lld meters\n"
           "  telemetry  1 sample/s per device, 20 values each; a line fault every %.0f s; %.0f s in all\n\n",
           a.topology, l->built.copies, (long long)l->built.ndev,
           (long long)l->built.count[GRID_DEV_BREAKER], (long long)l->built.count[GRID_DEV_SWITCH],
           (long long)l->built.count[GRID_DEV_TRANSFORMER], (long long)l->built.count[GRID_DEV_LINE],
           (long long)l->built.count[GRID_DEV_METER], a.fault_every, a.duration);
    struct sigaction sa = {.sa_handler = on_sigint};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    l->o.on_before_stop = run_analysis;
    rc = grid_live_run(l, &demo_stop, &d);
    clear_status(&v);
    if (rc) {
        fprintf(stderr, "strom demo: %s\n", d.error);
        grid_live_destroy(l);
        return 1;
    }
    summary(&a, l, v.analysis, now_s() - v.t0);
    int bad = grid_live_correct(l) != l->nfaults;
    grid_live_destroy(l);
    return bad ? 1 : 0;
}

static int exists(const char *p)
{
    return access(p, R_OK) == 0;
}

int grid_default_topology(char *out, size_t n)
{
    const char *rel = "data/grid/ieee123/IEEE123Switches.dss";
    char exe[4096];
    snprintf(exe, sizeof exe, "%s", grid_self_exe());
    for (int up = 0; up < 3; up++) {          /* build/strom -> the tree's root */
        char *slash = strrchr(exe, '/');
        if (!slash)
            break;
        *slash = 0;
        snprintf(out, n, "%s/%s", exe, rel);
        if (exists(out))
            return 0;
    }
#ifndef STROM_SOURCE_DIR
#define STROM_SOURCE_DIR "."
#endif
    const char *cands[] = {rel, STROM_SOURCE_DIR "/data/grid/ieee123/IEEE123Switches.dss"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++)
        if (exists(cands[i])) {
            snprintf(out, n, "%s", cands[i]);
            return 0;
        }
    return -1;
}
