/*
 * cmd_demo.c: `strom tour`: a guided tour of the storage layer (the grid demo is `strom
 * demo`, apps/grid/demo.c): a log
 * table of grid telemetry (write a few seconds of simulated 1 Hz readings, read them
 * back with a projection, ask the seed's scenario-4 question (the newest 100 readings
 * of DEVICE_12345 at or before 2025-01-13 14:30:00), seek by time, show the sizes), then
 * the device dimension table of scenarios 2 and 3 (demo_dim.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "telemetry.h"

#define DEMO_TABLE "grid_telemetry"
/* 2025-01-13 14:30:00.000: the time of the seed's scenario-4 query. */
#define QUERY_T_MS INT64_C(1736778600000)

typedef struct demo {
    const char *data;
    int64_t rows, devices, seconds, t0_ms, dim_devices;
    strom_db *db;
    strom_table *t;
    tele_model *m;
    int64_t late_rows, plain_bytes;
    double write_s;
} demo;

/* ------------------------------------------------------------------ write */

static int demo_create(demo *d)
{
    strom_err e = strom_db_open(d->data, &d->db);
    if (e) {
        char what[600];
        snprintf(what, sizeof what, "cannot open data directory '%s'", d->data);
        return cli_fail(e, what);
    }
    e = strom_table_drop(d->db, DEMO_TABLE);
    if (e == STROM_OK)
        printf("(dropped the table %s left by an earlier demo)\n", DEMO_TABLE);
    else if (e != STROM_ENOTFOUND)
        return cli_fail(e, "dropping the earlier demo table " DEMO_TABLE);
    e = tele_table_create(d->db, DEMO_TABLE, 2);
    if (e || (e = strom_table_open(d->db, DEMO_TABLE, &d->t)))
        return cli_fail(e, "creating table " DEMO_TABLE);
    d->m = tele_model_create(d->devices, 12345);
    return d->m ? CLI_OK : cli_errorf("out of memory for %lld devices", (long long)d->devices);
}

static int demo_write(demo *d)
{
    strom_builder *b = tele_builder_create();
    if (!b)
        return cli_errorf("out of memory");
    tele_stream ts;
    tele_stream_init(&ts, d->m, 0, d->devices, 42);
    tele_stream_start(&ts, d->t0_ms, 0);
    strom_err e = STROM_OK;
    double t0 = cli_now();
    for (int64_t done = 0; done < d->rows && !e; done += 8192) {
        strom_builder_reset(b);
        e = tele_fill(&ts, b, d->rows - done < 8192 ? d->rows - done : 8192);
        if (!e)
            e = strom_table_append(d->t, b, NULL);
    }
    d->write_s = cli_now() - t0;
    d->late_rows = ts.late_rows;
    d->plain_bytes = tele_stream_plain_bytes(&ts);
    strom_builder_destroy(b);
    return e ? cli_fail(e, "appending telemetry to " DEMO_TABLE) : CLI_OK;
}

static void report_write(const demo *d)
{
    char r[32], dv[32], l[32], a[32], b[32], rate[32];
    strom_bucket_stats st;
    cli_table_stats(d->t, &st);
    printf("\n1. Writing. %s readings from %s feeder devices: %lld s of 1 Hz telemetry,\n"
           "   %s to %s.\n   %s of them (%.1f%%) arrived late, up to 30 s after they were "
           "measured,\n   as field data does.\n",
           cli_group(d->rows, r), cli_group(d->devices, dv), (long long)d->seconds,
           cli_time(d->t0_ms, a), cli_time(d->t0_ms + d->seconds * 1000, b),
           cli_group(d->late_rows, l), 100.0 * (double)d->late_rows / (double)d->rows);
    printf("   Stored in %.2f s (%s readings/s), each batch on disk (fsync) before it was\n"
           "   acknowledged: %lld fsyncs, %lld batches in %lld segment(s).\n",
           d->write_s, cli_group((int64_t)(d->rows / d->write_s), rate), (long long)st.fsyncs,
           (long long)st.batches, (long long)st.segments);
    double plain = (double)d->plain_bytes;
    printf("   On disk: %s for %s of plain column values: %.1fx smaller, %.1f bytes per\n"
           "   reading of 20 measurements.\n",
           cli_bytes((double)st.bytes_on_disk, a), cli_bytes(plain, b),
           st.bytes_on_disk ? plain / (double)st.bytes_on_disk : 0.0,
           (double)st.bytes_on_disk / (double)d->rows);
}

/* ------------------------------------------------------------------- read */

typedef struct volt_summary {
    int64_t rows, out_of_band;
    double vmin, vmax, tmax;
} volt_summary;

static void summarise(const strom_batch *b, volt_summary *s)
{
    strom_column v, tcol;
    if (strom_batch_column(b, 0, &v) || strom_batch_column(b, 2, &tcol))
        return;
    for (int64_t r = 0; r < v.length; r++) {
        double x = ((const double *)v.values)[r], t = ((const double *)tcol.values)[r];
        s->vmin = fmin(s->vmin, x), s->vmax = fmax(s->vmax, x), s->tmax = fmax(s->tmax, t);
        s->out_of_band += x < 9.3 || x > 10.7;
    }
    s->rows += v.length;
}

static strom_err read_all(demo *d, const char *const *cols, int ncols, volt_summary *s)
{
    strom_read_opts ro = {.columns = cols, .ncolumns = ncols};
    for (int bk = 0; bk < strom_table_nbuckets(d->t); bk++) {
        strom_scan *sc;
        const strom_batch *b;
        int64_t earliest, end;
        strom_err e = strom_table_offsets(d->t, bk, &earliest, &end);
        if (!e && earliest >= end)
            continue;
        if (e || (e = strom_scan_open(d->t, bk, earliest, &ro, &sc)))
            return e;
        while (!(e = strom_scan_next(sc, &b)) && b) {
            if (cols)
                summarise(b, s);
            else
                s->rows += strom_batch_nrows(b);
        }
        strom_scan_close(sc);
        if (e)
            return e;
    }
    return STROM_OK;
}

static int demo_read(demo *d)
{
    static const char *const three[] = {"voltage", "current", "temperature"};
    volt_summary all = {0, 0, INFINITY, -INFINITY, -INFINITY}, proj = all;
    double t0 = cli_now();
    strom_err e = read_all(d, NULL, 0, &all);
    double t_all = cli_now() - t0;
    t0 = cli_now();
    if (!e)
        e = read_all(d, three, 3, &proj);
    double t_proj = cli_now() - t0;
    if (e)
        return cli_fail(e, "reading " DEMO_TABLE " back");
    char r[32];
    printf("\n2. Reading back. All 20 columns of %s readings: %.2f s. Only voltage, current\n"
           "   and temperature (what fault detection needs): %.2f s, %.1fx faster, because\n"
           "   the other 17 columns are not even read from disk.\n",
           cli_group(all.rows, r), t_all, t_proj, t_proj > 0 ? t_all / t_proj : 0.0);
    printf("   Line voltage ranged %.3f..%.3f kV; %lld readings outside 10 kV +-7%% "
           "(GB/T 12325).\n   Hottest equipment: %.1f C.\n",
           proj.vmin, proj.vmax, (long long)proj.out_of_band, proj.tmax);
    if (all.rows != d->rows || proj.rows != d->rows)
        return cli_errorf("read %lld / %lld rows back, %lld were written", (long long)all.rows,
                          (long long)proj.rows, (long long)d->rows);
    return CLI_OK;
}

/* ------------------------------------------------------------ key history */

static void print_history_rows(const strom_batch *b)
{
    int64_t n = strom_batch_nrows(b);
    printf("   %-14s %-23s %9s %9s %8s\n", "device_id", "event_time", "voltage", "current",
           "temp");
    for (int64_t r = 0; r < n; r++) {
        if (r == 5 && n > 7) {
            printf("   ... %lld more ...\n", (long long)(n - 7));
            r = n - 2;
        }
        size_t len;
        char tb[32];
        const char *dev = strom_batch_get_str(b, 0, r, &len);
        printf("   %-14.*s %-23s %9.3f %9.1f %8.1f\n", (int)len, dev,
               cli_time(strom_batch_get_int(b, 1, r), tb), strom_batch_get_f64(b, 2, r),
               strom_batch_get_f64(b, 3, r), strom_batch_get_f64(b, 4, r));
    }
}

/* One sentence on the answer: the ranges of voltage, current and temperature. */
static void print_history_summary(const strom_batch *b, const char *dev)
{
    double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
    int64_t n = strom_batch_nrows(b);
    for (int64_t r = 0; r < n; r++)
        for (int c = 0; c < 3; c++) {
            double v = strom_batch_get_f64(b, c + 2, r);
            lo[c] = fmin(lo[c], v), hi[c] = fmax(hi[c], v);
        }
    if (n == 0)
        return;
    printf("   Over these readings %s ran at %.3f..%.3f kV, %.1f..%.1f A, %.1f..%.1f C: %s.\n",
           dev, lo[0], hi[0], lo[1], hi[1], lo[2], hi[2],
           lo[0] >= 9.3 && hi[0] <= 10.7 ? "voltage within 10 kV +-7%" : "voltage out of band");
}

static int demo_history(demo *d)
{
    static const char *const cols[] = {"device_id", "event_time", "voltage", "current",
                                       "temperature"};
    int64_t dev = d->devices > 12345 ? 12345 : d->devices / 2;
    size_t len;
    const char *name = tele_device_name(d->m, dev, &len);
    strom_value key = {.type = STROM_STRING, .v.s = {name, len}};
    char tb[32];
    printf("\n3. Time travel (seed scenario 4):\n"
           "     SELECT device_id, voltage, current, temperature FROM %s\n"
           "     FOR SYSTEM_TIME AS OF TIMESTAMP '%.19s'\n"
           "     WHERE device_id = '%s' ORDER BY event_time DESC LIMIT 100;\n",
           DEMO_TABLE, cli_time(QUERY_T_MS, tb), name);
    strom_batch *out;
    double t0 = cli_now();
    strom_err e = strom_table_key_history(d->t, &key, 1, QUERY_T_MS, 100, cols, 5, &out);
    double ms = (cli_now() - t0) * 1000.0;
    if (e)
        return cli_fail(e, "key history query");
    printf("   %lld readings in %.2f ms, read through the per-device index (no replay):\n",
           (long long)strom_batch_nrows(out), ms);
    print_history_rows(out);
    print_history_summary(out, name);
    strom_batch_destroy(out);
    return CLI_OK;
}

/* ------------------------------------------------------------ seek by time */

static int demo_seek(demo *d)
{
    int64_t T = QUERY_T_MS - 60000, rows_after = 0, read_rows = 0, total = 0;
    char tb[32], a[32], b2[32], c[32];
    for (int bk = 0; bk < strom_table_nbuckets(d->t); bk++) {
        int64_t off, earliest, end;
        strom_err e = strom_table_seek_time(d->t, bk, T, &off);
        if (!e)
            e = strom_table_offsets(d->t, bk, &earliest, &end);
        if (e)
            return cli_fail(e, "seeking by time");
        total += end - earliest;
        read_rows += end - off;
        strom_read_opts ro = {.time_min = T, .time_max = STROM_TIME_MAX};
        strom_scan *sc;
        const strom_batch *bt;
        if (off < end && !(e = strom_scan_open(d->t, bk, off, &ro, &sc))) {
            while (!(e = strom_scan_next(sc, &bt)) && bt)
                rows_after += strom_batch_nrows(bt);
            strom_scan_close(sc);
        }
        if (e)
            return cli_fail(e, "reading from the seek position");
    }
    printf("\n4. Seek by time: \"everything measured since %.19s\" starts at the\n"
           "   offsets the time index gives and reads %s of %s rows, finding the %s\n"
           "   readings at or after that time (late arrivals included: the index does not\n"
           "   assume that times grow with offsets).\n",
           cli_time(T, tb), cli_group(read_rows, a), cli_group(total, b2),
           cli_group(rows_after, c));
    return CLI_OK;
}

/* ------------------------------------------------------------------- main */

static void demo_close(demo *d)
{
    strom_table_close(d->t);
    strom_db_close(d->db);
    tele_model_destroy(d->m);
}

int cmd_demo(int argc, char **argv)
{
    demo d = {.data = "./strom-data", .rows = 4000000, .devices = 20000, .dim_devices = 500000};
    const cli_opt opts[] = {
        {"--data", CLI_STR, &d.data, "DIR", "data directory (default ./strom-data)", 0, 0},
        {"--rows", CLI_INT, &d.rows, "N", "readings to write (default 4M)", 1, INT64_C(1000000000)},
        {"--devices", CLI_INT, &d.devices, "N", "feeder devices (default 20k)", 1, 10000000},
        {"--dim-devices", CLI_INT, &d.dim_devices, "N",
         "devices in the device dimension table (default 500k)", 100, 10000000},
    };
    const cli_usage u = {"strom tour [--data DIR] [--rows N] [--devices N] [--dim-devices N]",
                         "Writes simulated 10 kV grid telemetry into the table " DEMO_TABLE
                         " (replacing it),\nreads it back, asks a time-travel question, then "
                         "loads the device dimension\ntable device_dimension (a primary-key "
                         "table), looks devices up and joins late\nalarms to the state that "
                         "held at their time (AS OF), explaining what happened.", 0, 0, NULL};
    int rc = cli_parse(argc, argv, &u, opts, 4, NULL, NULL);
    if (rc >= 0)
        return rc;
    d.seconds = (d.rows + d.devices - 1) / d.devices;
    d.t0_ms = QUERY_T_MS - (d.seconds * 3 / 4) * 1000;
    printf("strom tour: a log table of grid telemetry in %s\n", d.data);
    if ((rc = demo_create(&d)) == CLI_OK && (rc = demo_write(&d)) == CLI_OK) {
        report_write(&d);
        if ((rc = demo_read(&d)) == CLI_OK && (rc = demo_history(&d)) == CLI_OK)
            rc = demo_seek(&d);
        if (rc == CLI_OK)
            rc = demo_dimension(d.db, d.dim_devices);
    }
    if (rc == CLI_OK)
        printf("\nSee the tables with: strom describe %s --data %s\n"
               "                      strom describe device_dimension --data %s\n",
               DEMO_TABLE, d.data, d.data);
    demo_close(&d);
    return rc;
}
