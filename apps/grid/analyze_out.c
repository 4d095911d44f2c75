/* analyze_out.c: `strom grid analyze`: the command, the report, the CSV files, the plots
 * (gnuplot) and the HTML page (analyze.h). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "analyze.h"

#define AN_MAX_PLOTTED 8

static void fmt_time(int64_t ms, char *out, size_t cap)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out, cap, "%s.%03d", buf, (int)(ms % 1000));
}

static const char *dev_name(const grid_analysis *a, int d)
{
    return grid_name(a->b.topo, a->b.dev[a->dev[d].dev].id);
}

/* ---------------------------------------------------------------- the report */

static void report_events(const grid_analysis *a, FILE *f)
{
    fprintf(f, "Sequence of events (UTC, ms; relative to the fault):\n");
    for (int i = 0; i < a->nev; i++) {
        char ts[40];
        fmt_time(a->ev[i].t, ts, sizeof ts);
        fprintf(f, "  %s  %+9.3f s  %s\n", ts, (a->ev[i].t - a->t_fault) / 1000.0, a->ev[i].what);
    }
    if (a->decision_time)
        fprintf(f, "  decision latency: %.0f ms after the fault%s\n",
                (double)(a->decision_time - a->t_fault),
                a->sample_time ? "" : " (no sensor sample time recorded)");
    if (a->decision_time && a->sample_time)
        fprintf(f, "  decision latency from the sensor sample: %lld ms\n",
                (long long)(a->decision_time - a->sample_time));
}

static void report_switching(const grid_analysis *a, FILE *f)
{
    if (a->nsteps) {
        fprintf(f, "\nSwitching list of decision %s (decisions table):\n", a->decision_id);
        for (int i = 0; i < a->nsteps; i++)
            fprintf(f, "  %2d. %-5s %-24s %s\n", a->steps[i].step, a->steps[i].action, a->steps[i].device,
                    a->steps[i].reason);
    } else {
        fprintf(f, "\nNo decision recorded for this fault (%s).\n",
                a->has_decisions_table ? "none in the decisions table" : "no decisions table: no dispatcher ran");
    }
    if (!a->has_plan)
        return;
    fprintf(f, "Plan for the topology at the fault (grid_plan_make, for comparison):\n");
    for (int i = 0; i < a->plan.nsteps; i++) {
        const grid_step *s = &a->plan.steps[i];
        fprintf(f, "  %2d. %-5s %-24s %s\n", i + 1, s->close ? "close" : "open",
                grid_edge_id(a->b.topo, s->edge), grid_reason_text((grid_reason)s->reason));
    }
}

static void report_load(const grid_analysis *a, FILE *f)
{
    fprintf(f, "\nLoad (kW):\n");
    fprintf(f, "  observed (topology at the fault, then the switching in grid_edges up to %+.0f s):\n"
               "    interrupted %.1f, restored %.1f, lost %.1f\n",
            a->after_ms / 1000.0, a->interrupted, a->restored, a->lost);
    if (!isnan(a->dec_interrupted))
        fprintf(f, "  the decision's own figures: interrupted %.1f, restored %.1f, lost %.1f\n",
                a->dec_interrupted, isnan(a->dec_restored) ? 0 : a->dec_restored,
                isnan(a->dec_lost) ? 0 : a->dec_lost);
    if (a->has_plan)
        fprintf(f, "  the plan: interrupted %.1f, restored %.1f, lost %.1f\n", a->plan.interrupted_kw,
                a->plan.restored_kw, a->plan.lost_kw);
}

/* The fault current and voltage each role read at the fault time (its first sample at or
 * after it). */
static void report_devices(const grid_analysis *a, FILE *f)
{
    int count[GRID_AN_NROLES] = {0};
    for (int d = 0; d < a->ndev; d++)
        count[a->dev[d].role]++;
    fprintf(f, "\nDevices analysed: %d on the path from the source to the section, %d behind the fault, "
               "%d cut off by the trip; %lld telemetry rows from %+.0f s to %+.0f s\n",
            count[0], count[1], count[2], (long long)a->rows, -a->before_ms / 1000.0, a->after_ms / 1000.0);
    fprintf(f, "  %-26s %-20s %10s %9s  at the fault\n", "device", "role", "current A", "voltage kV");
    int shown = 0;
    for (int d = 0; d < a->ndev && shown < 12; d++) {
        const grid_an_dev *x = &a->dev[d];
        for (int64_t k = 0; k < x->n; k++)
            if (x->s[k].t >= a->t_fault) {
                fprintf(f, "  %-26s %-20s %10.1f %9.2f  %+.3f s\n", dev_name(a, d), grid_an_role_name(x->role),
                        x->s[k].i, x->s[k].v, (x->s[k].t - a->t_fault) / 1000.0);
                shown++;
                break;
            }
    }
}

static void report(const grid_analysis *a, FILE *f)
{
    char ts[40];
    fmt_time(a->t_fault, ts, sizeof ts);
    fprintf(f, "Post-fault analysis of %s: %s on %s (feeder %s) at %s UTC\n", a->fault_id, a->type,
            a->section, a->feeder, ts);
    fprintf(f, "Protection device: %s\n\n", a->tripped[0] ? a->tripped : "(none recorded)");
    report_events(a, f);
    report_switching(a, f);
    report_load(a, f);
    report_devices(a, f);
}

/* ---------------------------------------------------------------- files */

static FILE *open_out(grid_analysis *a, const char *name)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", a->dir, name);
    FILE *f = fopen(p, "w");
    if (!f)
        grid_errorf(&a->d, "%s: %s", p, strerror(errno));
    return f;
}

static int close_out(grid_analysis *a, FILE *f, const char *name)
{
    int bad = ferror(f);
    if (fclose(f) || bad)
        return grid_errorf(&a->d, "%s/%s: write error", a->dir, name);
    return 0;
}

static int write_csv(grid_analysis *a)
{
    FILE *f = open_out(a, "telemetry.csv");
    if (!f)
        return -1;
    fprintf(f, "device_id,role,event_time_ms,t_rel_s,voltage_kv,current_a,breaker_closed\n");
    for (int d = 0; d < a->ndev; d++)
        for (int64_t k = 0; k < a->dev[d].n; k++) {
            const grid_an_sample *s = &a->dev[d].s[k];
            fprintf(f, "%s,%s,%lld,%.3f,%.3f,%.3f,%d\n", dev_name(a, d), grid_an_role_name(a->dev[d].role),
                    (long long)s->t, (s->t - a->t_fault) / 1000.0, s->v, s->i, s->closed);
        }
    if (close_out(a, f, "telemetry.csv"))
        return -1;
    if (!(f = open_out(a, "events.csv")))
        return -1;
    fprintf(f, "event_time_ms,t_rel_s,event\n");
    for (int i = 0; i < a->nev; i++) {
        fprintf(f, "%lld,%.3f,\"", (long long)a->ev[i].t, (a->ev[i].t - a->t_fault) / 1000.0);
        for (const char *p = a->ev[i].what; *p; p++)
            fprintf(f, *p == '"' ? "\"\"" : "%c", *p);
        fprintf(f, "\"\n");
    }
    return close_out(a, f, "events.csv");
}

/* Devices to plot: the tripped device and the faulted section's device, then up to 3 more
 * of the path from the source, 2 behind the fault, and any others up to AN_MAX_PLOTTED. */
static int pick_plotted(const grid_analysis *a, int *pick)
{
    static const int quota[4] = {AN_MAX_PLOTTED, 3, 2, AN_MAX_PLOTTED};
    uint8_t *taken = calloc((size_t)a->ndev + 1, 1);
    int n = 0;
    for (int pass = 0; taken && pass < 4; pass++)
        for (int d = 0, got = 0; d < a->ndev && n < AN_MAX_PLOTTED && got < quota[pass]; d++) {
            const char *id = dev_name(a, d);
            int role = a->dev[d].role, want = pass == 0 ? !strcmp(id, a->tripped) || !strcmp(id, a->section)
                                              : pass == 1 ? role == GRID_AN_PATH
                                              : pass == 2 ? role == GRID_AN_BEHIND : 1;
            if (want && !taken[d] && a->dev[d].n) {
                taken[d] = 1;
                pick[n++] = d;
                got++;
            }
        }
    free(taken);
    return n;
}

/* plot.dat: one block per plotted device (t_rel_s, voltage, current), blocks separated by
 * two blank lines (gnuplot's index). */
static int write_plot_data(grid_analysis *a, const int *pick, int n)
{
    FILE *f = open_out(a, "plot.dat");
    if (!f)
        return -1;
    for (int j = 0; j < n; j++) {
        const grid_an_dev *x = &a->dev[pick[j]];
        fprintf(f, "# %s\n", dev_name(a, pick[j]));
        for (int64_t k = 0; k < x->n; k++)
            fprintf(f, "%.3f %.3f %.3f\n", (x->s[k].t - a->t_fault) / 1000.0, x->s[k].v, x->s[k].i);
        fprintf(f, "\n\n");
    }
    return close_out(a, f, "plot.dat");
}

static void plot_one(FILE *f, const char *png, const char *title, const char *ylabel, int col,
                     double from, double to, const char *names, int n)
{
    fprintf(f, "set output '%s'\nset title \"%s\"\nset ylabel '%s'\n", png, title, ylabel);
    fprintf(f, "set xrange [%g:%g]\n", from, to);
    fprintf(f, "plot for [i=0:%d] 'plot.dat' index i using 1:%d with steps lw 2 title word(names, i+1)\n",
            n - 1, col);
    (void)names;
}

/* Writes plot.gp and runs gnuplot in the output directory: 1 if the plots were made, 0 if
 * gnuplot is not installed, -1 on an error. */
static int plots(grid_analysis *a)
{
    int pick[AN_MAX_PLOTTED], n = pick_plotted(a, pick);
    if (!n || write_plot_data(a, pick, n))
        return n ? -1 : 0;
    FILE *f = open_out(a, "plot.gp");
    if (!f)
        return -1;
    char names[AN_MAX_PLOTTED * 130] = "";
    for (int j = 0; j < n; j++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", j ? " " : "", dev_name(a, pick[j]));
    fprintf(f, "set terminal png size 1000,560\nnames = \"%s\"\nset grid\nset key outside right\n", names);
    fprintf(f, "set xlabel 'seconds from the fault (%s)'\n", a->fault_id);
    plot_one(f, "voltage.png", "Voltage around the fault", "kV", 2, -5, a->after_ms / 1000.0, names, n);
    plot_one(f, "current.png", "Current around the fault", "A", 3, -5, a->after_ms / 1000.0, names, n);
    plot_one(f, "overview.png", "Current over the analysed window", "A", 3, -a->before_ms / 1000.0,
             a->after_ms / 1000.0, names, n);
    if (close_out(a, f, "plot.gp"))
        return -1;
    if (system("gnuplot --version >/dev/null 2>&1") != 0)
        return 0;
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "cd '%s' && gnuplot plot.gp 2>gnuplot.err", a->dir);
    if (system(cmd) != 0)
        return grid_errorf(&a->d, "gnuplot failed: see %s/gnuplot.err", a->dir);
    return 1;
}

static void html_escape(FILE *f, const char *s)
{
    for (; *s; s++)
        fputs(*s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;" : (char[2]){*s, 0}, f);
}

static int write_html(grid_analysis *a, const char *text, int plotted)
{
    FILE *f = open_out(a, "index.html");
    if (!f)
        return -1;
    fprintf(f, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Fault %s</title>\n"
               "<style>body{font-family:sans-serif;margin:2em}pre{background:#f4f4f4;padding:1em}"
               "img{max-width:100%%;display:block;margin:1em 0}</style></head><body>\n", a->fault_id);
    fprintf(f, "<h1>Post-fault analysis: ");
    html_escape(f, a->fault_id);
    fprintf(f, "</h1>\n<pre>");
    html_escape(f, text);
    fprintf(f, "</pre>\n");
    if (plotted)
        fprintf(f, "<h2>Around the fault</h2><img src=\"voltage.png\" alt=\"voltage\"><img src=\"current.png\" "
                   "alt=\"current\"><h2>The analysed window</h2><img src=\"overview.png\" alt=\"overview\">\n");
    else
        fprintf(f, "<p>Plots skipped: gnuplot is not installed (Debian package gnuplot-nox).</p>\n");
    fprintf(f, "<p>Data: <a href=\"telemetry.csv\">telemetry.csv</a>, <a href=\"events.csv\">events.csv</a>, "
               "<a href=\"report.txt\">report.txt</a></p>\n</body></html>\n");
    return close_out(a, f, "index.html");
}

static int make_dir(grid_analysis *a)
{
    if (a->out)
        snprintf(a->dir, sizeof a->dir, "%s", a->out);
    else
        snprintf(a->dir, sizeof a->dir, "strom-analysis/%s", a->fault_id);
    for (char *p = a->dir + 1;; p++) {
        char c = *p;
        if (c != '/' && c)
            continue;
        *p = 0;
        int bad = mkdir(a->dir, 0777) && errno != EEXIST;
        *p = c;
        if (bad)
            return grid_errorf(&a->d, "cannot create %s: %s", a->dir, strerror(errno));
        if (!c)
            return 0;
    }
}

int grid_an_write(grid_analysis *a, FILE *out)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m)
        return grid_errorf(&a->d, "out of memory");
    report(a, m);
    fclose(m);
    int rc = make_dir(a);
    FILE *f = rc ? NULL : open_out(a, "report.txt");
    rc = f ? 0 : -1;
    if (!rc) {
        fputs(text, f);
        rc = close_out(a, f, "report.txt");
    }
    rc = rc ? rc : write_csv(a);
    int plotted = rc ? 0 : plots(a);
    rc = rc ? rc : plotted < 0 ? -1 : write_html(a, text, plotted);
    if (!rc) {
        fputs(text, out);
        fprintf(out, "\n%s: %s/index.html (report.txt, telemetry.csv, events.csv%s)\n",
                plotted ? "written" : "written without plots (gnuplot is not installed: Debian package gnuplot-nox)",
                a->dir, plotted ? ", voltage.png, current.png, overview.png" : "");
    }
    free(text);
    return rc;
}

/* ---------------------------------------------------------------- the command */

static int parse_i64(const char *opt, const char *v, int64_t min, int64_t *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < min) {
        fprintf(stderr, "strom grid analyze: %s: '%s' is not an integer >= %lld\n", opt, v, (long long)min);
        return -1;
    }
    *out = x;
    return 0;
}

static int an_usage(FILE *f, int rc)
{
    fprintf(f, "usage: strom grid analyze FAULT_ID --server HOST:PORT --topology FILE --devices N\n"
               "             [--out DIR] [--before S] [--after S] [--no-ties]\n\n"
               "Post-fault analysis of a line fault (docs/grid.md): the sequence of events with ms\n"
               "times, the switching list, the load interrupted / restored / lost, and plots of the\n"
               "voltage and current of the affected devices (gnuplot) in an HTML page under --out\n"
               "(default ./strom-analysis/FAULT_ID/). --topology and --devices as given to the\n"
               "simulator; --before S of telemetry before the fault (default 3600), --after S after\n"
               "it (default 10).\n");
    return rc;
}

static int an_parse(int argc, char **argv, grid_analysis *a)
{
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t s;
        if (!strcmp(o, "--help"))
            return an_usage(stdout, 1);
        if (!strcmp(o, "--no-ties")) {
            a->no_ties = 1;
            continue;
        }
        if (strncmp(o, "--", 2)) {
            if (a->fault_id)
                return fprintf(stderr, "strom grid analyze: one FAULT_ID, got '%s' and '%s'\n", a->fault_id, o), 2;
            a->fault_id = o;
            continue;
        }
        if (!v)
            return fprintf(stderr, "strom grid analyze: %s needs a value\n", o), 2;
        i++;
        if (!strcmp(o, "--server"))
            a->server = v;
        else if (!strcmp(o, "--topology"))
            a->topology = v;
        else if (!strcmp(o, "--out"))
            a->out = v;
        else if (!strcmp(o, "--devices")) {
            if (parse_i64(o, v, 1, &a->devices))
                return 2;
        } else if (!strcmp(o, "--before") || !strcmp(o, "--after")) {
            if (parse_i64(o, v, 0, &s))
                return 2;
            *(o[2] == 'b' ? &a->before_ms : &a->after_ms) = s * 1000;
        } else
            return fprintf(stderr, "strom grid analyze: unknown option '%s' (see --help)\n", o), 2;
    }
    if (!a->fault_id || !a->server || !a->topology || !a->devices)
        return fprintf(stderr, "strom grid analyze: missing %s (see --help)\n",
                       !a->fault_id ? "FAULT_ID" : !a->server ? "--server HOST:PORT"
                       : !a->topology ? "--topology FILE" : "--devices N"), 2;
    return 0;
}

int grid_cmd_analyze(int argc, char **argv)
{
    static grid_analysis a;
    memset(&a, 0, sizeof a);
    a.before_ms = 3600 * 1000;
    a.after_ms = 10 * 1000;
    int rc = an_parse(argc, argv, &a);
    if (rc)
        return rc == 1 ? 0 : rc;
    rc = grid_an_gather(&a);
    rc = rc ? rc : grid_an_write(&a, stdout);
    if (rc)
        fprintf(stderr, "strom grid analyze: %s\n", a.d.error);
    grid_an_free(&a);
    return rc ? 1 : 0;
}
