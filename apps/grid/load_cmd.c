/* load_cmd.c: `strom grid load`: build, create the tables, load (docs/grid.md). */
#include <stdio.h>
#include <time.h>

#include "store.h"

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int grid_run_load(const char *server, const grid_topo *tmpl, int64_t devices, int link)
{
    grid_diag d = {0};
    grid_built b;
    double t0 = mono_s();
    if (grid_build(tmpl, devices, link, &b, &d)) {
        fprintf(stderr, "strom grid load: %s\n", d.error);
        return 1;
    }
    double t1 = mono_s();
    strom_client *c = NULL;
    int rc = 0;
    grid_load_counts n = {0};
    if (strom_client_connect(server, NULL, &c) != STROM_OK)
        rc = grid_errorf(&d, "%s", strom_errmsg());
    if (!rc)
        rc = grid_store_create(c, &d);
    double t2 = mono_s();
    if (!rc)
        rc = grid_store_load(c, &b, wall_ms(), &n, &d);
    double t3 = mono_s();
    strom_client_close(c);
    if (rc) {
        fprintf(stderr, "strom grid load: %s\n", d.error);
    } else {
        int64_t rows = 2 * n.devices + n.status + n.nodes + n.edges;
        printf("grid load: %d copies, %lld devices, %lld buses, %lld edges into %s\n", b.copies,
               (long long)n.devices, (long long)n.nodes, (long long)n.edges, server);
        printf("grid load: build %.2f s, tables %.2f s, load %.2f s (%lld rows, %.0f rows/s)\n",
               t1 - t0, t2 - t1, t3 - t2, (long long)rows, rows / (t3 - t2 > 0 ? t3 - t2 : 1e-9));
    }
    grid_built_free(&b);
    return rc ? 1 : 0;
}
