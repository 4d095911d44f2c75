/*
 * demo_dim.c: the second part of `strom demo`: the seed's device dimension table
 * (scenario 2) as a primary-key table, and the late-alarm question of scenario 3 answered
 * with AS OF lookups. 500k devices are loaded at 08:00; every 100th device (DEVICE_12345
 * among them: devices 45, 145, ...) goes into maintenance at 14:20 and returns at 14:28 with its capacity
 * restored. An alarm stamped 14:25 that arrives late must join the state that held at
 * 14:25 (maintenance), not the latest (in service). The demo checks every answer against
 * what it wrote and says so.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define DIM_TABLE "device_dimension"
#define T_LOAD INT64_C(1736755200000)      /* 2025-01-13 08:00:00 */
#define T_MAINT INT64_C(1736778000000)     /* 2025-01-13 14:20:00 */
#define T_BACK INT64_C(1736778480000)      /* 2025-01-13 14:28:00 */
#define T_ALARM INT64_C(1736778300000)     /* 2025-01-13 14:25:00 */
#define NLOOKUPS 1000000
#define NALARMS 100000

typedef struct dim {
    strom_db *db;
    strom_table *t;
    int64_t devices;
    strom_builder *rows;
} dim;

/* Devices 45, 145, ..., 12345, ... are maintained from 14:20 to 14:28. */
static int in_maintenance_at(int64_t dev, int64_t t)
{
    return dev % 100 == 45 && t >= T_MAINT && t < T_BACK;
}
static double capacity_of(int64_t dev) { return 0.5 + (double)(dev % 40) * 0.05; }

static strom_schema *dim_schema(void)
{
    strom_schema *s = strom_schema_create();
    const char *pk[] = {"device_id"};
    if (!s || strom_schema_add(s, "device_id", STROM_STRING, 1) ||
        strom_schema_add(s, "device_name", STROM_STRING, 0) ||
        strom_schema_add(s, "location", STROM_STRING, 0) ||
        strom_schema_add(s, "capacity_mw", STROM_DOUBLE, 0) ||
        strom_schema_add(s, "status", STROM_STRING, 0) ||
        strom_schema_add(s, "last_update", STROM_TIMESTAMP, 0) ||
        strom_schema_set_primary_key(s, pk, 1)) {
        strom_schema_destroy(s);
        return NULL;
    }
    return s;
}

static strom_err put_device(strom_builder *b, int64_t dev, const char *status, double cap,
                            int64_t t)
{
    char id[32], name[48], loc[48];
    int n = snprintf(id, sizeof id, "DEVICE_%05lld", (long long)dev);
    int nn = snprintf(name, sizeof name, "10kV feeder %lld switch %lld", (long long)(dev / 50),
                      (long long)(dev % 50));
    int nl = snprintf(loc, sizeof loc, "substation %lld", (long long)(dev / 2000));
    strom_err e = strom_builder_put_str(b, 0, id, (size_t)n);
    if (!e)
        e = strom_builder_put_str(b, 1, name, (size_t)nn);
    if (!e)
        e = strom_builder_put_str(b, 2, loc, (size_t)nl);
    if (!e)
        e = strom_builder_put_f64(b, 3, cap);
    if (!e)
        e = strom_builder_put_str(b, 4, status, strlen(status));
    if (!e)
        e = strom_builder_put_int(b, 5, t);
    return e ? e : strom_builder_end_row(b);
}

static int dim_create(dim *d, strom_db *db)
{
    d->db = db;
    strom_err e = strom_table_drop(db, DIM_TABLE);
    if (e != STROM_OK && e != STROM_ENOTFOUND)
        return cli_fail(e, "dropping the earlier demo table " DIM_TABLE);
    strom_schema *s = dim_schema();
    const char *opts[] = {"bucket.num", "4", "table.kv.version-column", "last_update", NULL};
    e = s ? strom_table_create(db, DIM_TABLE, s, opts) : STROM_ENOMEM;
    strom_schema_destroy(s);
    if (e || (e = strom_table_open(db, DIM_TABLE, &d->t)))
        return cli_fail(e, "creating table " DIM_TABLE);
    d->rows = strom_builder_create(strom_table_schema(d->t));
    return d->rows ? CLI_OK : cli_errorf("out of memory");
}

/* Upserts devices first, first + step, ... in calls of 10,000 rows. */
static strom_err upsert_all(dim *d, int64_t first, int64_t step, const char *status, int half_cap,
                            int64_t t)
{
    strom_err e = STROM_OK;
    strom_builder_reset(d->rows);
    for (int64_t dev = first; dev < d->devices && !e; dev += step) {
        e = put_device(d->rows, dev, status, capacity_of(dev) / (half_cap ? 2 : 1), t);
        if (!e && strom_builder_nrows(d->rows) == 10000) {
            e = strom_table_upsert(d->t, d->rows);
            strom_builder_reset(d->rows);
        }
    }
    if (!e && strom_builder_nrows(d->rows) > 0)
        e = strom_table_upsert(d->t, d->rows);
    return e;
}

static int dim_load(dim *d)
{
    char g[32];
    printf("\n5. A device dimension table (seed scenario 2), a primary-key table:\n"
           "     CREATE TABLE %s (device_id STRING PRIMARY KEY, device_name STRING,\n"
           "       location STRING, capacity_mw DOUBLE, status STRING, last_update TIMESTAMP)\n"
           "     WITH ('table.kv.version-column' = 'last_update')\n", DIM_TABLE);
    double t0 = cli_now();
    strom_err e = upsert_all(d, 0, 1, "in service", 0, T_LOAD);
    double s = cli_now() - t0;
    if (e)
        return cli_fail(e, "loading the device table");
    char g2[32];
    printf("   %s devices upserted in %.2f s (%s rows/s), each write first appended to\n"
           "   the table's changelog (+I) and made durable (fsync), then applied to the state.\n",
           cli_group(d->devices, g), s, cli_group((int64_t)((double)d->devices / s), g2));
    e = upsert_all(d, 45, 100, "maintenance", 1, T_MAINT);
    if (!e)
        e = upsert_all(d, 45, 100, "in service", 0, T_BACK);
    if (e)
        return cli_fail(e, "updating the device table");
    printf("   Every 100th device (DEVICE_00045, ..., DEVICE_12345, ...) went into maintenance\n"
           "   at 14:20 (capacity halved) and came back at 14:28: two more versions of %s\n"
           "   keys, each -U/+U in the changelog.\n",
           cli_group((d->devices + 99) / 100, g));
    return CLI_OK;
}

static void key_of(int64_t dev, char *buf, strom_value *k)
{
    int n = snprintf(buf, 32, "DEVICE_%05lld", (long long)dev);
    *k = (strom_value){.type = STROM_STRING, .v.s = {buf, (size_t)n}};
}

static int dim_lookups(dim *d)
{
    char buf[32], g[32];
    strom_value k;
    int found = 0;
    uint64_t x = 88172645463325252ull;
    strom_err e = STROM_OK;
    double t0 = cli_now();
    int64_t hits = 0;
    for (int i = 0; i < NLOOKUPS && !e; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        key_of((int64_t)(x % (uint64_t)d->devices), buf, &k);
        strom_builder_reset(d->rows);
        e = strom_table_lookup_into(d->t, &k, 1, d->rows, &found);
        hits += found;
    }
    double s = cli_now() - t0;
    if (e)
        return cli_fail(e, "point lookups");
    char rate[32];
    printf("\n6. Point lookups by device_id (the dimension lookups a dispatch service makes):\n"
           "   %s lookups of random devices in %.2f s on one thread: %s lookups/s,\n"
           "   %s found (all exist: %s). No Redis or HBase beside the stream.\n",
           cli_group(NLOOKUPS, g), s, cli_group((int64_t)(NLOOKUPS / s), rate), cli_group(hits, buf),
           hits == NLOOKUPS ? "correct" : "WRONG");
    return hits == NLOOKUPS ? CLI_OK : cli_errorf("lookups missed existing devices");
}

static int status_is(const strom_batch *b, int64_t r, const char *want)
{
    size_t n;
    const char *p = strom_batch_get_str(b, 4, r, &n);
    return n == strlen(want) && !memcmp(p, want, n);
}

/* The late alarm of DEVICE_12345 (or the nearest maintained device), latest vs AS OF. */
static int dim_one_alarm(dim *d, int64_t dev)
{
    char buf[32], tb[32], tb2[32];
    strom_value k;
    int found = 0;
    key_of(dev, buf, &k);
    strom_batch *latest = NULL, *asof = NULL;
    strom_builder_reset(d->rows);
    strom_err e = strom_table_lookup(d->t, &k, 1, &latest);
    if (!e)
        e = strom_table_lookup_asof_into(d->t, &k, 1, T_ALARM, d->rows, &found);
    if (!e && found)
        e = strom_builder_to_batch(d->rows, &asof);
    if (e || !latest || !asof) {
        strom_batch_destroy(latest);
        return e ? cli_fail(e, "AS OF lookup") : cli_errorf("%s has no row", buf);
    }
    size_t n1, n2;
    const char *s1 = strom_batch_get_str(latest, 4, 0, &n1), *s2 = strom_batch_get_str(asof, 4, 0, &n2);
    printf("\n7. A late alarm (seed scenario 3): %s raised an alarm at %.19s that reaches\n"
           "   the dispatcher only now. The lookup join\n"
           "     ... JOIN %s FOR SYSTEM_TIME AS OF a.event_time AS d ON a.device_id = d.device_id\n"
           "   must use the device's state at the alarm's time, not the latest:\n"
           "     latest:            status '%.*s', capacity %.2f MW (last_update %.19s)\n",
           buf, cli_time(T_ALARM, tb), DIM_TABLE, (int)n1, s1, strom_batch_get_f64(latest, 3, 0),
           cli_time(strom_batch_get_int(latest, 5, 0), tb2));
    printf("     AS OF %.8s:    status '%.*s', capacity %.2f MW (last_update %.19s)\n",
           cli_time(T_ALARM, tb) + 11, (int)n2, s2, strom_batch_get_f64(asof, 3, 0),
           cli_time(strom_batch_get_int(asof, 5, 0), tb2));
    int ok = status_is(asof, 0, "maintenance") && status_is(latest, 0, "in service");
    strom_batch_destroy(latest);
    strom_batch_destroy(asof);
    printf("   %s\n", ok ? "The device was under maintenance when it alarmed: the alarm goes to the "
                      "maintenance crew,\n   not to fault handling (correct)."
                    : "WRONG ANSWER");
    return ok ? CLI_OK : cli_errorf("AS OF answered the wrong version");
}

/* NALARMS alarms of random devices at random times between 14:00 and 14:40, enriched by
 * batch AS OF lookups of 64; every answer checked against what was written. */
static int dim_alarm_join(dim *d)
{
    enum { BATCH = 64 };
    char names[BATCH][32];
    strom_value keys[BATCH];
    int64_t times[BATCH], devs[BATCH];
    uint8_t found[BATCH];
    uint64_t x = 0x9E3779B97F4A7C15ull;
    int64_t wrong = 0, maint = 0;
    double spent = 0;
    strom_err e = STROM_OK;
    for (int64_t a = 0; a < NALARMS && !e; a += BATCH) {
        for (int i = 0; i < BATCH; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            devs[i] = (int64_t)(x % (uint64_t)d->devices);
            if (i % 4 == 0 && devs[i] - devs[i] % 100 + 45 < d->devices)
                devs[i] += 45 - devs[i] % 100;     /* a quarter are maintained devices */
            times[i] = T_MAINT - 1200000 + (int64_t)((x >> 20) % 2400000);
            key_of(devs[i], names[i], &keys[i]);
        }
        strom_builder_reset(d->rows);
        double t0 = cli_now();
        e = strom_table_lookup_batch_asof_into(d->t, keys, 1, BATCH, times, found, d->rows);
        spent += cli_now() - t0;
        strom_batch *b = NULL;
        if (!e)
            e = strom_builder_to_batch(d->rows, &b);
        for (int i = 0, r = 0; !e && i < BATCH; i++) {
            int want = in_maintenance_at(devs[i], times[i]);
            wrong += !found[i] || (status_is(b, r, "maintenance") != want);
            maint += want;
            r += found[i];
        }
        strom_batch_destroy(b);
    }
    if (e)
        return cli_fail(e, "batch AS OF lookups");
    char g[32], g2[32], g3[32];
    printf("   %s alarms of random devices at random times 14:00..14:40 joined the same way\n"
           "   (batches of 64): %s alarms/s; %s of them hit a device under maintenance at\n"
           "   its alarm time; answers checked against the writes: %s.\n",
           cli_group(NALARMS, g), cli_group((int64_t)(NALARMS / spent), g3), cli_group(maint, g2),
           wrong ? "WRONG" : "all correct");
    return wrong ? cli_errorf("%lld AS OF answers were wrong", (long long)wrong) : CLI_OK;
}

int demo_dimension(strom_db *db, int64_t devices)
{
    dim d = {.devices = devices};
    int rc = dim_create(&d, db);
    if (rc == CLI_OK)
        rc = dim_load(&d);
    if (rc == CLI_OK)
        rc = dim_lookups(&d);
    if (rc == CLI_OK)
        rc = dim_one_alarm(&d, devices > 12345 ? 12345 : 45);
    if (rc == CLI_OK)
        rc = dim_alarm_join(&d);
    strom_builder_destroy(d.rows);
    strom_table_close(d.t);
    return rc;
}
