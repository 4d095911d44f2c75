/* alarm.c: the dispatcher's alarm engine: rules as data, raise / clear transitions with
 * hysteresis, dedup, flapping suppression, late and duplicate samples (dispatch.h). */
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"

struct grid_alarms {
    int64_t ndev;
    uint8_t *dev_type;
    int64_t *newest;                   /* device -> newest event time (INT64_MIN: none) */
    grid_rule rule[GRID_MAX_RULES];
    uint8_t used[GRID_MAX_RULES];      /* slot holds a rule id */
    uint8_t live[GRID_MAX_RULES];      /* the rule is in the current set and enabled */
    uint8_t *active[GRID_MAX_RULES];   /* slot -> device -> active (allocated on use) */
    int64_t *raised[GRID_MAX_RULES];   /* slot -> device -> last raise (INT64_MIN: never) */
    grid_alarm_counts n;
};

static const char *const metric_names[GRID_M_N] = {"current", "voltage", "temperature",
                                                   "frequency_hz"};
static const char *const cmp_names[] = {">", ">=", "<", "<="};

const char *grid_metric_name(grid_metric m)
{
    return (unsigned)m < GRID_M_N ? metric_names[m] : "?";
}

const char *grid_cmp_name(grid_cmp c)
{
    return (unsigned)c <= GRID_CMP_LE ? cmp_names[c] : "?";
}

int grid_metric_parse(const char *s, grid_metric *m)
{
    for (int i = 0; i < GRID_M_N; i++)
        if (!strcmp(s, metric_names[i])) {
            *m = (grid_metric)i;
            return 0;
        }
    return -1;
}

int grid_cmp_parse(const char *s, grid_cmp *c)
{
    for (int i = 0; i <= GRID_CMP_LE; i++)
        if (!strcmp(s, cmp_names[i])) {
            *c = (grid_cmp)i;
            return 0;
        }
    return -1;
}

/* Thresholds from the simulator's model (docs/grid.md): 10 kV +-7% (GB/T 12325), 50 Hz
 * +-0.2 Hz (GB/T 15945), fault current 4000 A against at most a few hundred amperes of
 * load current on the test feeders. */
static const grid_rule defaults[] = {
    {"R01", "fault_current", GRID_M_CURRENT, GRID_CMP_GE, 2000, 1000, 1, 1000, 1, -1},
    {"R02", "overcurrent", GRID_M_CURRENT, GRID_CMP_GT, 600, 500, 2, 5000, 1, -1},
    {"R03", "zero_voltage", GRID_M_VOLTAGE, GRID_CMP_LT, 0.5, 1.0, 1, 5000, 1, -1},
    {"R04", "undervoltage", GRID_M_VOLTAGE, GRID_CMP_LT, 9.3, 9.4, 2, 5000, 1, -1},
    {"R05", "overvoltage", GRID_M_VOLTAGE, GRID_CMP_GT, 10.7, 10.6, 2, 5000, 1, -1},
    {"R06", "over_temperature", GRID_M_TEMPERATURE, GRID_CMP_GT, 90, 80, 2, 5000, 1,
     GRID_DEV_TRANSFORMER},
    {"R07", "frequency_low", GRID_M_FREQ, GRID_CMP_LT, 49.8, 49.85, 2, 5000, 1, GRID_DEV_BREAKER},
    {"R08", "frequency_high", GRID_M_FREQ, GRID_CMP_GT, 50.2, 50.15, 2, 5000, 1, GRID_DEV_BREAKER},
};

const grid_rule *grid_rule_defaults(int *n)
{
    *n = (int)(sizeof defaults / sizeof defaults[0]);
    return defaults;
}

int grid_rule_test(const grid_rule *r, double v)
{
    switch ((grid_cmp)r->op) {
    case GRID_CMP_GT: return v > r->threshold ? 1 : v <= r->clear ? 0 : -1;
    case GRID_CMP_GE: return v >= r->threshold ? 1 : v <= r->clear ? 0 : -1;
    case GRID_CMP_LT: return v < r->threshold ? 1 : v >= r->clear ? 0 : -1;
    case GRID_CMP_LE: return v <= r->threshold ? 1 : v >= r->clear ? 0 : -1;
    }
    return -1;
}

grid_alarms *grid_alarms_create(int64_t ndev, const uint8_t *dev_type)
{
    grid_alarms *a = calloc(1, sizeof *a);
    size_t n = (size_t)ndev + 1;
    if (!a)
        return NULL;
    a->ndev = ndev;
    a->dev_type = malloc(n);
    a->newest = malloc(n * sizeof *a->newest);
    if (!a->dev_type || !a->newest) {
        grid_alarms_destroy(a);
        return NULL;
    }
    memcpy(a->dev_type, dev_type, (size_t)ndev);
    for (int64_t i = 0; i < ndev; i++)
        a->newest[i] = INT64_MIN;
    return a;
}

void grid_alarms_destroy(grid_alarms *a)
{
    if (!a)
        return;
    for (int s = 0; s < GRID_MAX_RULES; s++) {
        free(a->active[s]);
        free(a->raised[s]);
    }
    free(a->dev_type);
    free(a->newest);
    free(a);
}

static int slot_alloc(grid_alarms *a, int s)
{
    if (a->active[s])
        return 0;
    size_t n = (size_t)a->ndev + 1;
    a->active[s] = calloc(n, 1);
    a->raised[s] = malloc(n * sizeof *a->raised[s]);
    if (!a->active[s] || !a->raised[s])
        return -1;
    for (int64_t i = 0; i < a->ndev; i++)
        a->raised[s][i] = INT64_MIN;
    return 0;
}

/* The slot of rule id (a new one for an unknown id), -1 when none is left. */
static int slot_for(grid_alarms *a, const char *id)
{
    int fresh = -1;
    for (int s = 0; s < GRID_MAX_RULES; s++) {
        if (a->used[s] && !strcmp(a->rule[s].id, id))
            return s;
        if (!a->used[s] && fresh < 0)
            fresh = s;
    }
    return fresh;
}

int grid_alarms_set_rules(grid_alarms *a, const grid_rule *r, int n)
{
    uint8_t live[GRID_MAX_RULES] = {0};
    for (int i = 0; i < n; i++) {
        int s = slot_for(a, r[i].id);
        if (s < 0 || slot_alloc(a, s))
            return -1;
        a->rule[s] = r[i];
        a->used[s] = 1;
        live[s] = r[i].enabled != 0;
    }
    memcpy(a->live, live, sizeof live);
    return 0;
}

const grid_rule *grid_alarms_rule(const grid_alarms *a, int s)
{
    return s >= 0 && s < GRID_MAX_RULES && a->used[s] ? &a->rule[s] : NULL;
}

int grid_alarms_slot_of_type(const grid_alarms *a, const char *type)
{
    for (int s = 0; s < GRID_MAX_RULES; s++)
        if (a->used[s] && a->live[s] && !strcmp(a->rule[s].type, type))
            return s;
    return -1;
}

static void emit(grid_alarms *a, const grid_sample *x, int s, int raise, double v,
                 grid_alarm_ev *out, int *nout)
{
    a->active[s][x->dev] = (uint8_t)raise;
    if (raise) {
        a->raised[s][x->dev] = x->t_ms;
        a->n.raised++;
        a->n.active++;
    } else {
        a->n.cleared++;
        a->n.active--;
    }
    out[(*nout)++] = (grid_alarm_ev){.dev = x->dev, .slot = s, .raise = raise, .t_ms = x->t_ms,
                                     .value = v};
}

/* Rule slot s on sample x. */
static void eval(grid_alarms *a, const grid_sample *x, int s, grid_alarm_ev *out, int *nout)
{
    const grid_rule *r = &a->rule[s];
    int on = a->active[s][x->dev];
    if (!a->live[s] || (r->dev_type >= 0 && r->dev_type != a->dev_type[x->dev])) {
        if (on)
            emit(a, x, s, 0, 0, out, nout);   /* rule disabled, removed or rescoped */
        return;
    }
    if (!x->has[r->metric])
        return;
    double v = x->v[r->metric];
    int t = grid_rule_test(r, v);
    if (on && t == 0) {
        emit(a, x, s, 0, v, out, nout);
    } else if (!on && t == 1) {
        int64_t last = a->raised[s][x->dev];
        if (last != INT64_MIN && x->t_ms - last < r->hold_ms)
            a->n.suppressed++;
        else
            emit(a, x, s, 1, v, out, nout);
    }
}

int grid_alarms_feed(grid_alarms *a, const grid_sample *x, grid_alarm_ev *out, int *nout)
{
    a->n.samples++;
    int64_t newest = a->newest[x->dev];
    if (x->t_ms < newest) {
        a->n.late++;
        return GRID_SAMPLE_LATE;
    }
    if (x->t_ms == newest) {
        a->n.dup++;
        return GRID_SAMPLE_DUP;
    }
    a->newest[x->dev] = x->t_ms;
    for (int s = 0; s < GRID_MAX_RULES; s++)
        if (a->used[s])
            eval(a, x, s, out, nout);
    return GRID_SAMPLE_OK;
}

int grid_alarms_active(const grid_alarms *a, int64_t dev, int slot)
{
    return slot >= 0 && slot < GRID_MAX_RULES && a->active[slot] && a->active[slot][dev];
}

void grid_alarms_restore(grid_alarms *a, int64_t dev, int slot, int64_t t_ms, int on)
{
    if (slot < 0 || slot >= GRID_MAX_RULES || !a->active[slot] || dev < 0 || dev >= a->ndev ||
        a->active[slot][dev] == (on != 0))
        return;
    a->active[slot][dev] = on != 0;
    if (on)
        a->raised[slot][dev] = t_ms;
    if (on && t_ms > a->newest[dev])
        a->newest[dev] = t_ms;   /* replayed older samples must not clear it */
    a->n.active += on ? 1 : -1;
}

void grid_alarms_floor(grid_alarms *a, int64_t t_ms)
{
    for (int64_t i = 0; i < a->ndev; i++)
        if (a->newest[i] < t_ms)
            a->newest[i] = t_ms;
}

grid_alarm_counts grid_alarms_counts(const grid_alarms *a)
{
    return a->n;
}
