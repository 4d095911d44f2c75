/* grid_cmd.c: `strom grid plan` and `strom grid build` (docs/grid.md). Exit codes as every
 * strom command: 0 ok, 1 error (a file that does not load), 2 usage. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dispatch.h"
#include "analyze.h"
#include "grid.h"
#include "sim.h"
#include "store.h"

typedef struct grid_args {
    const char *topology, *fault, *server;
    int64_t devices, sample;
    int json, quiet, no_ties, help;
} grid_args;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: strom grid plan --topology FILE --fault SECTION [--json] [--quiet]\n"
            "       strom grid build --topology FILE --devices N [--json] [--no-ties] [--sample K] [--quiet]\n"
            "       strom grid load --server HOST:PORT --topology FILE --devices N [--no-ties] [--quiet]\n"
            "       strom grid simulate --server HOST:PORT --topology FILE --devices N [--rate-hz 1] [--pmu N]\n"
            "             [--duration S] [--late-pct X] [--dup-pct X] [--fault SECTION --fault-at S]\n"
            "             [--fault-every S] [--seed N] [--no-pace]\n"
            "       strom grid dispatch --server HOST:PORT --topology FILE --devices N [--no-ties] [--id NAME]\n"
            "             [--events] [--duration S] [--timeout-ms 500] [--checkpoint-ms 250] [--quiet]\n"
            "       strom grid analyze FAULT_ID --server HOST:PORT --topology FILE --devices N [--out DIR]\n\n"
            "plan:  the switching plan for a fault on SECTION (an element id: Line.L115 in OpenDSS\n"
            "       files, FROM-TO such as 21-8 in MATPOWER files): protection trip, isolation of the\n"
            "       faulted section, reclose, ties closed within capacity and radiality. With --json\n"
            "       the last line is {\"fault\", \"opened\", \"closed\", \"load_interrupted_kw\",\n"
            "       \"load_lost_kw\", \"load_restored_kw\", \"load_total_kw\"}.\n"
            "build: replicate the feeder up to N devices (copies F1..Fn, a breaker each, neighbours\n"
            "       tied by normally-open switches) and print the device counts and a sample.\n"
            "load:  build as above, create the grid tables in the server (docs/grid.md) and load\n"
            "       the devices, buses and edges through batching producers.\n"
            "simulate: telemetry of every device of the built grid into power_equipment_stream\n"
            "       (docs/grid.md), faults injected and recorded in the faults table.\n"
            "dispatch: follow the telemetry: alarms by the rules of table alarm_rules (into alarm_stream\n"
            "       and current_alarms), faults located, isolated and the load restored (decisions and\n"
            "       grid_edges); --events prints one JSON object per line (decision, stats, summary).\n"
            "       Runs until --duration S (0: no end) or SIGINT/SIGTERM; restarts continue from the\n"
            "       checkpoint of --id (default dispatcher-1).\n"
            "FILE:  an OpenDSS file (.dss; Redirects relative to it) or a MATPOWER case (.m).\n"
            "       Statements not modelled are skipped with a warning (--quiet: counted only).\n");
}

static int parse_int(const char *opt, const char *v, int64_t min, int64_t *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    int64_t mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1000, end++;
    else if (*end == 'M')
        mul = 1000000, end++;
    if (errno || end == v || *end || x < min || x > INT64_MAX / mul) {
        fprintf(stderr, "strom grid: %s: '%s' is not an integer >= %lld\n", opt, v, (long long)min);
        return -1;
    }
    *out = x * mul;
    return 0;
}

/* 0 ok, else the exit code. */
static int parse_args(int argc, char **argv, grid_args *a)
{
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i];
        const char *eq = strchr(o, '=');
        char name[64];
        size_t nl = eq ? (size_t)(eq - o) : strlen(o);
        snprintf(name, sizeof name, "%.*s", (int)(nl < 63 ? nl : 63), o);
        int takes = !strcmp(name, "--topology") || !strcmp(name, "--fault") ||
                    !strcmp(name, "--devices") || !strcmp(name, "--sample") ||
                    !strcmp(name, "--server");
        const char *v = eq ? eq + 1 : NULL;
        if (takes && !v) {
            if (i + 1 >= argc) {
                fprintf(stderr, "strom grid: %s needs a value\n", name);
                return 2;
            }
            v = argv[++i];
        }
        if (!strcmp(name, "--topology"))
            a->topology = v;
        else if (!strcmp(name, "--fault"))
            a->fault = v;
        else if (!strcmp(name, "--server"))
            a->server = v;
        else if (!strcmp(name, "--devices") && parse_int(name, v, 1, &a->devices))
            return 2;
        else if (!strcmp(name, "--sample") && parse_int(name, v, 0, &a->sample))
            return 2;
        else if (!strcmp(o, "--json"))
            a->json = 1;
        else if (!strcmp(o, "--quiet"))
            a->quiet = 1;
        else if (!strcmp(o, "--no-ties"))
            a->no_ties = 1;
        else if (!strcmp(o, "--help") || !strcmp(o, "-h"))
            a->help = 1;
        else if (!takes) {
            fprintf(stderr, "strom grid: unknown option '%s' (see strom grid --help)\n", o);
            return 2;
        }
    }
    return 0;
}

/* Checks the arguments (have: the subcommand's own required option given) and loads the
 * topology. 0 or the exit code. */
static int load(const grid_args *a, const char *cmd, int have, const char *need, grid_topo **t,
                grid_diag *d)
{
    if (!a->topology || !have) {
        fprintf(stderr, "strom grid %s: missing %s\n", cmd, a->topology ? need : "--topology FILE");
        return 2;
    }
    d->quiet = a->quiet;
    if (grid_load(a->topology, t, d)) {
        fprintf(stderr, "strom grid: %s\n", d->error);
        return 1;
    }
    if (d->nwarn)
        fprintf(stderr, "strom grid: %s: %d statement(s) skipped (not modelled)%s\n", a->topology,
                d->nwarn, a->quiet ? "; without --quiet each is named" : "");
    return 0;
}

static int32_t find_section(const grid_topo *t, const char *id)
{
    int32_t e = grid_edge_find(t, id);
    for (int32_t i = 0; e < 0 && i < t->nedge; i++)
        if (!strcasecmp(grid_edge_id(t, i), id))
            e = i;
    return e;
}

static int run_plan(const grid_args *a)
{
    grid_diag d = {0};
    grid_topo *t;
    int rc = load(a, "plan", a->fault != NULL, "--fault SECTION", &t, &d);
    if (rc)
        return rc;
    int32_t f = find_section(t, a->fault);
    if (f < 0) {
        fprintf(stderr, "strom grid plan: --fault: no section '%s' in %s (ids: %s, ...)\n", a->fault,
                a->topology, t->nedge ? grid_edge_id(t, 0) : "none");
        grid_topo_destroy(t);
        return 2;
    }
    grid_plan p;
    if (grid_plan_make(t, f, &p, &d)) {
        fprintf(stderr, "strom grid plan: %s\n", d.error);
        grid_topo_destroy(t);
        return 1;
    }
    grid_plan_print(t, &p, stdout);
    if (a->json) {
        grid_plan_json(t, &p, stdout);
        fputc('\n', stdout);
    }
    grid_plan_free(&p);
    grid_topo_destroy(t);
    return 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void print_sample_json(const grid_built *b, int64_t n)
{
    const grid_topo *t = b->topo;
    printf(", \"sample\": [");
    for (int64_t i = 0; i < n && i < b->ndev; i++) {
        int64_t k = b->ndev <= n ? i : i * (b->ndev - 1) / (n > 1 ? n - 1 : 1);
        const grid_device *v = &b->dev[k];
        printf("%s{\"device_id\": ", i ? ", " : "");
        grid_json_str(stdout, grid_name(t, v->id));
        printf(", \"type\": \"%s\", \"feeder\": \"F%d\", \"bus\": ", grid_dev_type_name((grid_dev_type)v->type),
               v->copy);
        grid_json_str(stdout, grid_bus_name(t, v->bus));
        printf(", \"rating_kw\": %.3f}", v->rating_kw);
    }
    printf("]");
}

static void print_built(const grid_built *b, const grid_args *a, double ms)
{
    const grid_topo *t = b->topo;
    printf("grid: %d copies of %s (%d devices each), %lld devices, %d buses, %lld ties, %.1f ms\n",
           b->copies, a->topology, b->per_copy, (long long)b->ndev, t->nbus, (long long)b->ties, ms);
    for (int k = 0; k < GRID_DEV_NTYPES; k++)
        printf("  %-13s %lld\n", grid_dev_type_name((grid_dev_type)k), (long long)b->count[k]);
    printf("sample (device_id, type, feeder, bus, rating_kw):\n");
    for (int64_t i = 0; i < a->sample && i < b->ndev; i++) {
        int64_t k = b->ndev <= a->sample ? i : i * (b->ndev - 1) / (a->sample > 1 ? a->sample - 1 : 1);
        const grid_device *v = &b->dev[k];
        printf("  %-28s %-13s F%-6d %-16s %.1f\n", grid_name(t, v->id),
               grid_dev_type_name((grid_dev_type)v->type), v->copy, grid_bus_name(t, v->bus), v->rating_kw);
    }
    if (!a->json)
        return;
    printf("{\"devices\": %lld, \"copies\": %d, \"per_copy\": %d, \"buses\": %d, \"ties\": %lld",
           (long long)b->ndev, b->copies, b->per_copy, t->nbus, (long long)b->ties);
    static const char *const key[GRID_DEV_NTYPES] = {"breakers", "switches", "transformers",
                                                     "line_sections", "meters"};
    for (int k = 0; k < GRID_DEV_NTYPES; k++)
        printf(", \"%s\": %lld", key[k], (long long)b->count[k]);
    printf(", \"load_total_kw\": %.3f, \"build_ms\": %.3f", grid_total_load(t), ms);
    print_sample_json(b, a->sample);
    printf("}\n");
}

static int run_build(const grid_args *a)
{
    grid_diag d = {0};
    grid_topo *t;
    int rc = load(a, "build", a->devices > 0, "--devices N", &t, &d);
    if (rc)
        return rc;
    grid_built b;
    double t0 = now_ms();
    rc = grid_build(t, a->devices, !a->no_ties, &b, &d);
    double ms = now_ms() - t0;
    if (rc) {
        fprintf(stderr, "strom grid build: %s\n", d.error);
        grid_topo_destroy(t);
        return 1;
    }
    print_built(&b, a, ms);
    grid_built_free(&b);
    grid_topo_destroy(t);
    return 0;
}

static int run_load(const grid_args *a)
{
    grid_diag d = {0};
    grid_topo *t;
    if (!a->server) {
        fprintf(stderr, "strom grid load: missing --server HOST:PORT\n");
        return 2;
    }
    int rc = load(a, "load", a->devices > 0, "--devices N", &t, &d);
    if (rc)
        return rc;
    rc = grid_run_load(a->server, t, a->devices, !a->no_ties);
    grid_topo_destroy(t);
    return rc;
}

int cmd_grid(int argc, char **argv)
{
    grid_args a = {.sample = 5};
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    if (!strcmp(argv[1], "simulate"))
        return grid_cmd_simulate(argc, argv);
    if (!strcmp(argv[1], "dispatch"))
        return grid_cmd_dispatch(argc, argv);
    if (!strcmp(argv[1], "analyze"))
        return grid_cmd_analyze(argc, argv);
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc;
    if (a.help) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "plan"))
        return run_plan(&a);
    if (!strcmp(argv[1], "build"))
        return run_build(&a);
    if (!strcmp(argv[1], "load"))
        return run_load(&a);
    fprintf(stderr, "strom grid: unknown subcommand '%s' (plan, build, load, simulate, dispatch)\n", argv[1]);
    return 2;
}
