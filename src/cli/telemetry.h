/*
 * telemetry.h: a simulator of the seed's grid telemetry (../shared/seeds), used by
 * `strom bench` and `strom demo`.
 *
 * The row has 20 columns (TELE_COL_*): what a feeder terminal unit / distribution
 * transformer monitor on a 10 kV grid reports once a second. Values are realistic and
 * quantised to sensor resolution:
 *   voltage (line-to-line, kV, 0.001)  10 kV nominal, within +-7% (GB/T 12325)
 *   va/vb/vc (phase-to-neutral kV)     ~5.774 kV with a small imbalance
 *   current, ia/ib/ic (A, 0.1)         from the load: I = P / (sqrt3 * U * pf)
 *   active_power_kw (0.1)              per-device base load x daily load curve x noise
 *   reactive_power_kvar (0.1)          P * tan(acos pf)
 *   power_factor (0.001)               0.80..0.999; NULL while the breaker is open
 *   frequency_hz (0.001)               grid-wide 50 Hz +-0.2 (GB/T 15945) + meter noise
 *   temperature (C, 0.1)               ambient (daily curve) + load heating
 *   voltage_thd_pct (0.01)             harmonic distortion, below 4% (GB/T 14549)
 *   breaker_closed, quality (IEC 61850 quality bits), energy_kwh, tap_position (1..5)
 *
 * Device i is "DEVICE_%05d" (so the seed's 'DEVICE_12345' exists). Each device reports
 * once per simulated second at a fixed millisecond phase; a configurable share of rows
 * arrives late: its event_time lies up to max_late_s seconds in the past (out of order).
 *
 * Speed: no allocation per row, a splitmix/xorshift PRNG, values go straight into a
 * strom_builder. A tele_model (static per-device parameters) is shared read-only by
 * many tele_streams (one per producer thread, each owning a device range).
 */
#ifndef STROM_CLI_TELEMETRY_H
#define STROM_CLI_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "strom/strom.h"

enum {
    TELE_COL_DEVICE_ID, TELE_COL_EVENT_TIME, TELE_COL_VOLTAGE, TELE_COL_CURRENT,
    TELE_COL_TEMPERATURE, TELE_COL_VA, TELE_COL_VB, TELE_COL_VC, TELE_COL_IA, TELE_COL_IB,
    TELE_COL_IC, TELE_COL_ACTIVE_POWER, TELE_COL_REACTIVE_POWER, TELE_COL_POWER_FACTOR,
    TELE_COL_FREQUENCY, TELE_COL_THD, TELE_COL_BREAKER, TELE_COL_QUALITY, TELE_COL_ENERGY,
    TELE_COL_TAP, TELE_NCOLS
};

/* 2025-01-13 14:00:00.000, zone-less: half an hour before the seed's scenario-4 query. */
#define TELE_DEFAULT_T0_MS INT64_C(1736776800000)

/* The 20-column schema (device_id and event_time NOT NULL). Owned: strom_schema_destroy.
 * NULL on ENOMEM. */
strom_schema *tele_schema(void);
/* Column name of TELE_COL_x (static). */
const char *tele_col_name(int col);

/* A builder for tele_schema() rows. Owned: strom_builder_destroy. NULL on ENOMEM. */
strom_builder *tele_builder_create(void);
/* Creates table name with the telemetry schema as the seed's scenarios use it:
 * bucket.num nbuckets, bucket.key = table.log.index.key = device_id, time column
 * event_time, ZSTD, flush = sync. */
strom_err tele_table_create(strom_db *db, const char *name, int nbuckets);
/* Creates table name with the telemetry schema and the given options. */
strom_err tele_table_create_opts(strom_db *db, const char *name, const char *const *opts);

typedef struct tele_model tele_model;

/* Per-device parameters for ndevices devices, derived from seed. Owned:
 * tele_model_destroy. NULL on ENOMEM. */
tele_model *tele_model_create(int64_t ndevices, uint64_t seed);
void tele_model_destroy(tele_model *m);
int64_t tele_model_ndevices(const tele_model *m);
/* "DEVICE_12345" of device i. Borrowed from m. */
const char *tele_device_name(const tele_model *m, int64_t i, size_t *len);
/* Device index of a name made by tele_device_name, or -1. */
int64_t tele_device_index(const tele_model *m, const char *name);

/* One producer's view: devices [lo, hi), one row per device per simulated second. */
typedef struct tele_stream {
    const tele_model *m;
    int64_t lo, hi, dev;        /* device range and the next device */
    int64_t second;             /* simulated seconds since t0 */
    int64_t t0_ms;
    uint64_t rng;
    double late_share;          /* share of rows that arrive late (0..1) */
    int max_late_s;             /* how late at most */
    int64_t rows, late_rows;    /* produced so far */
    int64_t value_bytes;        /* their plain Arrow bytes, bitmaps excepted */
    /* per-second values, shared by every device in that second */
    double curve, freq_hz, ambient_c;
} tele_stream;

/* Defaults: t0 TELE_DEFAULT_T0_MS, 1% of rows late by up to 30 s. */
void tele_stream_init(tele_stream *s, const tele_model *m, int64_t lo, int64_t hi,
                      uint64_t seed);
/* Moves the stream to simulated second sec after t0_ms (default TELE_DEFAULT_T0_MS). */
void tele_stream_start(tele_stream *s, int64_t t0_ms, int64_t sec);
/* Appends n rows to b (which must have tele_schema()'s columns). Returns the first
 * builder error (the builder then holds the rows before it). */
strom_err tele_fill(tele_stream *s, strom_builder *b, int64_t n);
/* Plain Arrow size of the rows produced so far: fixed-width values, string offsets and
 * bytes, the bit-packed BOOLEAN column (validity bitmaps not counted). */
int64_t tele_stream_plain_bytes(const tele_stream *s);
/* Event time of device dev's regular (not late) report in second sec. */
int64_t tele_report_time(const tele_model *m, int64_t t0_ms, int64_t dev, int64_t sec);

#endif /* STROM_CLI_TELEMETRY_H */
