/* telemetry.c: the grid telemetry simulator (see telemetry.h for the model). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry.h"

#define SQRT3 1.7320508075688772

static const struct { const char *name; strom_type type; int not_null; } cols[TELE_NCOLS] = {
    {"device_id", STROM_STRING, 1},          {"event_time", STROM_TIMESTAMP, 1},
    {"voltage", STROM_DOUBLE, 0},            {"current", STROM_DOUBLE, 0},
    {"temperature", STROM_DOUBLE, 0},        {"va", STROM_DOUBLE, 0},
    {"vb", STROM_DOUBLE, 0},                 {"vc", STROM_DOUBLE, 0},
    {"ia", STROM_DOUBLE, 0},                 {"ib", STROM_DOUBLE, 0},
    {"ic", STROM_DOUBLE, 0},                 {"active_power_kw", STROM_DOUBLE, 0},
    {"reactive_power_kvar", STROM_DOUBLE, 0}, {"power_factor", STROM_DOUBLE, 0},
    {"frequency_hz", STROM_DOUBLE, 0},       {"voltage_thd_pct", STROM_DOUBLE, 0},
    {"breaker_closed", STROM_BOOLEAN, 0},    {"quality", STROM_INT, 0},
    {"energy_kwh", STROM_BIGINT, 0},         {"tap_position", STROM_INT, 0},
};

/* IEC 61850-7-3 quality: validity in bits 0-1 (0 good, 1 invalid, 3 questionable),
 * detail bits after it. */
#define Q_INVALID 0x1
#define Q_QUESTIONABLE 0x3
#define Q_OLD_DATA (1 << 7)
#define Q_INACCURATE (1 << 9)

strom_schema *tele_schema(void)
{
    strom_schema *s = strom_schema_create();
    for (int i = 0; s && i < TELE_NCOLS; i++) {
        if (strom_schema_add(s, cols[i].name, cols[i].type, cols[i].not_null) != STROM_OK) {
            strom_schema_destroy(s);
            return NULL;
        }
    }
    return s;
}

strom_builder *tele_builder_create(void)
{
    strom_schema *s = tele_schema();
    strom_builder *b = s ? strom_builder_create(s) : NULL;
    strom_schema_destroy(s);
    return b;
}

strom_err tele_table_create(strom_db *db, const char *name, int nbuckets)
{
    char nb[16];
    snprintf(nb, sizeof nb, "%d", nbuckets);
    const char *opts[] = {"bucket.num", nb, "bucket.key", "device_id",
                          "table.log.index.key", "device_id", "table.time-column", "event_time",
                          "table.log.compression", "ZSTD", "table.log.flush", "sync", NULL};
    return tele_table_create_opts(db, name, opts);
}

strom_err tele_table_create_opts(strom_db *db, const char *name, const char *const *opts)
{
    strom_schema *s = tele_schema();
    if (!s)
        return STROM_ENOMEM;
    strom_err e = strom_table_create(db, name, s, opts);
    strom_schema_destroy(s);
    return e;
}

const char *tele_col_name(int col)
{
    return col >= 0 && col < TELE_NCOLS ? cols[col].name : "?";
}

/* ------------------------------------------------------------------ PRNG */

static inline uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t xorshift64(uint64_t *x)
{
    uint64_t v = *x;
    v ^= v << 13, v ^= v >> 7, v ^= v << 17;
    return *x = v;
}

/* Uniform in [-0.5, 0.5) from 16 bits of r starting at bit k. */
static inline double u16(uint64_t r, int k)
{
    return (double)((r >> k) & 0xFFFF) * (1.0 / 65536.0) - 0.5;
}

static inline double quant(double v, double per_unit)
{
    return nearbyint(v * per_unit) / per_unit;
}

/* ----------------------------------------------------------------- model */

typedef struct tele_device {
    float base_kw;       /* mean load */
    float volt_off;      /* feeder position: voltage offset (per unit) */
    float pf;            /* typical power factor */
    float temp_off;      /* siting: offset to ambient (C) */
    float energy0;       /* meter reading at t0 (kWh) */
    uint16_t phase_ms;   /* millisecond at which it reports */
    uint8_t tap;         /* 1..5, 3 nominal */
    uint8_t open;        /* breaker open (out of service) */
} tele_device;

struct tele_model {
    int64_t n;
    tele_device *dev;
    char (*name)[16];
    uint8_t *name_len;
};

static void device_init(tele_device *d, uint64_t *rng)
{
    uint64_t r = splitmix64(rng), r2 = splitmix64(rng);
    /* distribution transformers 100..1000 kVA, loaded 30..70% on average */
    d->base_kw = (float)(40.0 + 460.0 * pow((double)(r & 0xFFFF) / 65536.0, 2.0));
    d->volt_off = (float)(0.03 - 0.06 * ((double)((r >> 16) & 0xFFFF) / 65536.0));
    d->pf = (float)(0.88 + 0.09 * ((double)((r >> 32) & 0xFFFF) / 65536.0));
    d->temp_off = (float)(8.0 * u16(r, 48));
    d->energy0 = (float)((r2 & 0xFFFFF) * 4.0);
    d->phase_ms = (uint16_t)((r2 >> 20) % 1000);
    d->tap = (uint8_t)(2 + (r2 >> 32) % 3);
    d->open = ((r2 >> 40) % 1000) < 3;   /* 0.3% out of service */
}

tele_model *tele_model_create(int64_t ndevices, uint64_t seed)
{
    tele_model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->n = ndevices;
    m->dev = malloc((size_t)ndevices * sizeof *m->dev);
    m->name = malloc((size_t)ndevices * sizeof *m->name);
    m->name_len = malloc((size_t)ndevices);
    if (!m->dev || !m->name || !m->name_len) {
        tele_model_destroy(m);
        return NULL;
    }
    uint64_t rng = seed;
    for (int64_t i = 0; i < ndevices; i++) {
        device_init(&m->dev[i], &rng);
        m->name_len[i] = (uint8_t)snprintf(m->name[i], 16, "DEVICE_%05lld", (long long)i);
    }
    return m;
}

void tele_model_destroy(tele_model *m)
{
    if (!m)
        return;
    free(m->dev);
    free(m->name);
    free(m->name_len);
    free(m);
}

int64_t tele_model_ndevices(const tele_model *m)
{
    return m->n;
}

const char *tele_device_name(const tele_model *m, int64_t i, size_t *len)
{
    if (len)
        *len = m->name_len[i];
    return m->name[i];
}

int64_t tele_device_index(const tele_model *m, const char *name)
{
    if (strncmp(name, "DEVICE_", 7) != 0)
        return -1;
    char *end;
    long long i = strtoll(name + 7, &end, 10);
    if (*end || i < 0 || i >= m->n || strcmp(m->name[i], name) != 0)
        return -1;
    return i;
}

int64_t tele_report_time(const tele_model *m, int64_t t0_ms, int64_t dev, int64_t sec)
{
    return t0_ms + sec * 1000 + m->dev[dev].phase_ms;
}

/* ---------------------------------------------------------------- stream */

/* Daily load curve (per unit of the base load) at ms since the epoch: night valley
 * ~0.55, morning and evening peaks ~1.2. */
static double load_curve(int64_t ms)
{
    double h = (double)(ms % 86400000) / 3600000.0;
    double day = 0.85 - 0.30 * cos(2 * M_PI * (h - 3.0) / 24.0);
    double evening = 0.25 * exp(-(h - 19.5) * (h - 19.5) / 4.0);
    double morning = 0.12 * exp(-(h - 10.0) * (h - 10.0) / 3.0);
    return day + evening + morning;
}

/* Grid frequency of a second: slow deterministic wander within +-0.1 Hz, the same in
 * every stream, so producer threads agree. */
static double grid_freq(int64_t ms)
{
    double s = (double)ms / 1000.0;
    return 50.0 + 0.06 * sin(s / 97.0) + 0.03 * sin(s / 13.7) + 0.01 * sin(s / 3.1);
}

static void enter_second(tele_stream *s)
{
    int64_t ms = s->t0_ms + s->second * 1000;
    double h = (double)(ms % 86400000) / 3600000.0;
    s->curve = load_curve(ms);
    s->freq_hz = grid_freq(ms);
    s->ambient_c = 8.0 + 7.0 * sin(2 * M_PI * (h - 9.0) / 24.0);
}

void tele_stream_init(tele_stream *s, const tele_model *m, int64_t lo, int64_t hi,
                      uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->m = m;
    s->lo = lo, s->hi = hi, s->dev = lo;
    s->t0_ms = TELE_DEFAULT_T0_MS;
    s->rng = seed ? seed : 0x2545F4914F6CDD1Dull;
    splitmix64(&s->rng);
    s->late_share = 0.01;
    s->max_late_s = 30;
    enter_second(s);
}

void tele_stream_start(tele_stream *s, int64_t t0_ms, int64_t sec)
{
    s->t0_ms = t0_ms;
    s->second = sec;
    s->dev = s->lo;
    enter_second(s);
}

/* The measured values of one row, by column: doubles in v[], integers in n[]. */
typedef struct tele_row {
    double v[TELE_NCOLS];
    int64_t n[TELE_NCOLS];
} tele_row;

#define V(c) r->v[TELE_COL_##c]
#define N(c) r->n[TELE_COL_##c]

static void simulate_load(tele_row *r, const tele_device *d, const tele_stream *s,
                          uint64_t x)
{
    double load = s->curve * (1.0 + 0.06 * (u16(x, 0) + u16(x, 16)));
    V(ACTIVE_POWER) = d->open ? 0.0 : quant(d->base_kw * load, 10);
    double pf = quant(fmin(0.999, fmax(0.80, d->pf + 0.02 * u16(x, 32))), 1000);
    V(POWER_FACTOR) = pf;
    double tap_pu = ((int)d->tap - 3) * 0.025;
    double u = 10.0 * (1.02 + d->volt_off + tap_pu - 0.025 * (load - 0.8) + 0.004 * u16(x, 48));
    V(VOLTAGE) = quant(fmin(10.69, fmax(9.31, u)), 1000);
    V(CURRENT) = d->open ? 0.0 : V(ACTIVE_POWER) / (SQRT3 * V(VOLTAGE) * pf);
    V(REACTIVE_POWER) = quant(V(ACTIVE_POWER) * sqrt(1.0 / (pf * pf) - 1.0), 10);
    N(TAP) = d->tap;
    N(BREAKER) = !d->open;
}

static void simulate_phases(tele_row *r, uint64_t x)
{
    double un = V(VOLTAGE) / SQRT3, i = V(CURRENT);
    V(VA) = quant(un * (1.0 + 0.006 * u16(x, 0)), 1000);
    V(VB) = quant(un * (1.0 + 0.006 * u16(x, 16)), 1000);
    V(VC) = quant(un * (1.0 + 0.006 * u16(x, 32)), 1000);
    double ia = i * (1.0 + 0.04 * u16(x, 48)), ib = i * (1.0 + 0.04 * u16(x, 8));
    V(IA) = quant(ia, 10), V(IB) = quant(ib, 10), V(IC) = quant(fmax(0.0, 3.0 * i - ia - ib), 10);
    V(CURRENT) = quant(i, 10);
}

/* Quality bits and lateness; a late row's event_time lies in the past. */
static void simulate_arrival(tele_stream *s, tele_row *r, uint64_t x, uint64_t y)
{
    uint32_t q = (uint32_t)(y >> 54);                  /* 10 bits: 1/1024 granularity */
    N(QUALITY) = q < 3 ? Q_QUESTIONABLE | Q_INACCURATE : q < 4 ? Q_INVALID : 0;
    if ((double)(x >> 11) * (1.0 / 9007199254740992.0) < s->late_share) {
        uint64_t span = (uint64_t)(s->max_late_s > 0 ? s->max_late_s : 1);
        N(EVENT_TIME) -= 1000 * (int64_t)(1 + (y >> 5) % span);
        N(QUALITY) |= Q_OLD_DATA;
        s->late_rows++;
    }
}

static void simulate_row(tele_stream *s, int64_t dev, tele_row *r)
{
    const tele_device *d = &s->m->dev[dev];
    uint64_t x = xorshift64(&s->rng), y = xorshift64(&s->rng);
    simulate_load(r, d, s, x);
    simulate_phases(r, y);
    double loading = d->open ? 0.0 : V(ACTIVE_POWER) / 600.0;
    V(TEMPERATURE) = quant(s->ambient_c + d->temp_off + 30.0 * loading * loading +
                           0.3 * u16(y, 24), 10);
    V(FREQUENCY) = quant(s->freq_hz + 0.002 * u16(x, 40), 1000);
    V(THD) = quant(1.2 + 1.5 * loading + 0.3 * u16(y, 40), 100);
    N(ENERGY) = (int64_t)d->energy0 + (int64_t)(d->open ? 0 : d->base_kw * 0.8 * s->second / 3600.0);
    N(EVENT_TIME) = s->t0_ms + s->second * 1000 + d->phase_ms;
    simulate_arrival(s, r, x, y);
}

#define PUT(call)                                                                        \
    do {                                                                                 \
        strom_err e_ = (call);                                                           \
        if (e_ != STROM_OK)                                                              \
            return e_;                                                                   \
    } while (0)

static strom_err put_row(strom_builder *b, const tele_model *m, int64_t dev, const tele_row *r)
{
    PUT(strom_builder_put_str(b, TELE_COL_DEVICE_ID, m->name[dev], m->name_len[dev]));
    for (int c = TELE_COL_EVENT_TIME; c < TELE_NCOLS; c++) {
        if (c == TELE_COL_POWER_FACTOR && !N(BREAKER))
            PUT(strom_builder_put_null(b, c));     /* undefined without current */
        else if (cols[c].type == STROM_DOUBLE)
            PUT(strom_builder_put_f64(b, c, r->v[c]));
        else
            PUT(strom_builder_put_int(b, c, r->n[c]));
    }
    return strom_builder_end_row(b);
}

/* string offset, event_time, 14 DOUBLEs, quality, energy_kwh, tap_position */
#define ROW_FIXED_BYTES (4 + 8 + 14 * 8 + 4 + 8 + 4)

int64_t tele_stream_plain_bytes(const tele_stream *s)
{
    return s->value_bytes + (s->rows + 7) / 8;
}

strom_err tele_fill(tele_stream *s, strom_builder *b, int64_t n)
{
    for (int64_t k = 0; k < n; k++) {
        tele_row r;
        simulate_row(s, s->dev, &r);
        PUT(put_row(b, s->m, s->dev, &r));
        s->rows++;
        s->value_bytes += ROW_FIXED_BYTES + s->m->name_len[s->dev];
        if (++s->dev >= s->hi) {
            s->dev = s->lo;
            s->second++;
            enter_second(s);
        }
    }
    return STROM_OK;
}
