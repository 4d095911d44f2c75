/* dispatch_io.c: `strom grid dispatch`'s reads and writes besides telemetry and decisions:
 * the device id hash, alarm rules (seeded, followed live), alarms (enriched, written),
 * checkpoints and the restart (docs/grid.md, "The dispatcher"). Public client API only. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dispatch_int.h"

int64_t disp_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

/* The device id hash: eight bytes a step, then murmur3's finaliser (the low bits pick the
 * slot, the high 32 are the slot's tag). */
static uint64_t id_hash(const char *s, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    memcpy(&w, s + i, n - i);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 33);
}

int disp_dev_hash_build(disp *x)
{
    uint64_t cap = 16;
    while (cap < (uint64_t)x->b.ndev * 2)
        cap <<= 1;
    x->hslot = malloc(cap * sizeof *x->hslot);
    if (!x->hslot)
        return grid_errorf(&x->d, "out of memory");
    for (uint64_t h = 0; h < cap; h++)
        x->hslot[h] = (disp_hslot){NULL, -1, 0};
    x->hmask = cap - 1;
    for (int64_t i = 0; i < x->b.ndev; i++) {
        const char *id = grid_name(x->b.topo, x->b.dev[i].id);
        uint64_t hv = id_hash(id, strlen(id)), h = hv & x->hmask;
        while (x->hslot[h].dev >= 0)
            h = (h + 1) & x->hmask;
        x->hslot[h] = (disp_hslot){id, (int32_t)i, (uint32_t)(hv >> 32)};
    }
    return 0;
}

static int32_t find_hashed(const disp *x, uint64_t hv, const char *id, size_t len)
{
    for (uint64_t h = hv & x->hmask; x->hslot[h].dev >= 0; h = (h + 1) & x->hmask) {
        const disp_hslot *s = &x->hslot[h];
        if (s->tag == (uint32_t)(hv >> 32) && !memcmp(s->name, id, len) && s->name[len] == 0)
            return s->dev;
    }
    return -1;
}

int64_t disp_dev_find(const disp *x, const char *id, size_t len)
{
    return find_hashed(x, id_hash(id, len), id, len);
}

int disp_dev_find_rows(disp *x, const strom_column *ids, int64_t n)
{
    if (n > x->crow) {
        int64_t c = n > 2 * x->crow ? n : 2 * x->crow;
        uint64_t *h = realloc(x->hrow, (size_t)c * sizeof *h);
        if (h)
            x->hrow = h;
        int32_t *d = h ? realloc(x->drow, (size_t)c * sizeof *d) : NULL;
        if (!d)
            return grid_errorf(&x->d, "out of memory");
        x->drow = d;
        x->crow = c;
    }
    const char *base = (const char *)ids->data;
    for (int64_t r = 0; r < n; r++) {
        x->hrow[r] = id_hash(base + ids->offsets[r], (size_t)(ids->offsets[r + 1] - ids->offsets[r]));
        __builtin_prefetch(&x->hslot[x->hrow[r] & x->hmask]);
    }
    enum { AHEAD = 8 };   /* rows whose id bytes are fetched while this one is compared */
    for (int64_t r = 0; r < n; r++) {
        if (r + AHEAD < n)
            __builtin_prefetch(x->hslot[x->hrow[r + AHEAD] & x->hmask].name);
        x->drow[r] = find_hashed(x, x->hrow[r], base + ids->offsets[r],
                                 (size_t)(ids->offsets[r + 1] - ids->offsets[r]));
    }
    return 0;
}

uint64_t disp_alarm_hash(const char *dev, const char *type, int64_t t_ms)
{
    char buf[600];
    int n = snprintf(buf, sizeof buf, "%s|%s|%lld", dev, type, (long long)t_ms);
    return fnv(buf, (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1));
}

int disp_known_decision(const disp *x, const char *id)
{
    for (int i = 0; i < x->nknown_dec; i++)
        if (!strcmp(x->known_dec[i], id))
            return 1;
    return 0;
}

/* ---------------------------------------------------------------- reading a whole table */

typedef int (*row_fn)(disp *x, const strom_batch *b, int64_t r, void *ctx);

static int str_col(const strom_batch *b, int col, int64_t r, char *out, size_t cap)
{
    size_t len = 0;
    const char *s = strom_batch_is_null(b, col, r) ? "" : strom_batch_get_str(b, col, r, &len);
    snprintf(out, cap, "%.*s", (int)len, s);
    return (int)len;
}

/* Polls s until every bucket's position reaches its end offset (read before), feeding
 * every row to fn. */
static int drain(disp *x, strom_subscriber *s, const char *table, row_fn fn, void *ctx)
{
    int nb = strom_subscriber_nbuckets(s);
    int64_t end[64];
    for (int b = 0; b < nb && b < 64; b++)
        if (strom_client_list_offset(x->c, table, b, 1, 0, &end[b]) != STROM_OK)
            return grid_errorf(&x->d, "end of %s: %s", table, strom_errmsg());
    int64_t deadline = disp_wall_ms() + 30000;
    for (;;) {
        int behind = 0;
        for (int b = 0; b < nb && b < 64; b++)
            behind |= strom_subscriber_position(s, b) < end[b];
        if (!behind)
            return 0;
        if (disp_wall_ms() > deadline)
            return grid_errorf(&x->d, "reading %s: no progress within 30 s", table);
        const strom_batch *bt;
        int bucket;
        if (strom_subscriber_poll(s, 200, &bt, &bucket) != STROM_OK)
            return grid_errorf(&x->d, "reading %s: %s", table, strom_errmsg());
        for (int64_t r = 0; bt && r < strom_batch_nrows(bt); r++)
            if (fn(x, bt, r, ctx))
                return -1;
    }
}

/* Reads table (projected) from `from` to its current end; keep: the subscriber stays
 * open there (else closed). */
static int read_table(disp *x, const char *table, const char *const *cols, int ncols,
                      strom_start from, int64_t value, row_fn fn, void *ctx,
                      strom_subscriber **keep)
{
    strom_subscriber_opts o = {.columns = cols, .ncolumns = ncols, .max_wait_ms = 100};
    strom_subscriber *s;
    if (strom_subscriber_create(x->c, table, &o, &s) != STROM_OK)
        return grid_errorf(&x->d, "subscribing to %s: %s", table, strom_errmsg());
    int rc = strom_subscriber_assign(s, -1, from, value) != STROM_OK
                 ? grid_errorf(&x->d, "subscribing to %s: %s", table, strom_errmsg())
                 : drain(x, s, table, fn, ctx);
    if (keep && !rc)
        *keep = s;
    else
        strom_subscriber_close(s);
    return rc;
}

static int is_upsert(const strom_batch *b, int64_t r)
{
    strom_change c = strom_batch_row_change(b, r);
    return c == STROM_INSERT || c == STROM_UPDATE_AFTER || c == STROM_APPEND;
}

/* ---------------------------------------------------------------- rules */

static const char *const rule_cols[] = {"rule_id", "metric", "op", "threshold", "clear_threshold",
                                        "severity", "alarm_type", "hold_ms", "enabled", "device_type"};
enum { RC_ID, RC_METRIC, RC_OP, RC_THR, RC_CLR, RC_SEV, RC_TYPE, RC_HOLD, RC_EN, RC_DEVTYPE, RC_N };

static void rule_remove(disp *x, const char *id)
{
    for (int i = 0; i < x->nrules; i++)
        if (!strcmp(x->rules[i].id, id)) {
            x->rules[i] = x->rules[--x->nrules];
            return;
        }
}

static int dev_type_parse(const char *s)
{
    for (int k = 0; k < GRID_DEV_NTYPES; k++)
        if (!strcmp(s, grid_dev_type_name((grid_dev_type)k)))
            return k;
    return -2;
}

/* Parses a rule row; a bad one is reported (naming rule and field) and skipped. */
static int rule_row(disp *x, const strom_batch *b, int64_t r, void *ctx)
{
    (void)ctx;
    grid_rule u = {.dev_type = -1, .enabled = 1};
    char metric[32], op[8], dt[32];
    str_col(b, RC_ID, r, u.id, sizeof u.id);
    if (strom_batch_row_change(b, r) == STROM_DELETE) {
        rule_remove(x, u.id);
        return 0;
    }
    if (!is_upsert(b, r))
        return 0;
    str_col(b, RC_METRIC, r, metric, sizeof metric);
    str_col(b, RC_OP, r, op, sizeof op);
    str_col(b, RC_TYPE, r, u.type, sizeof u.type);
    str_col(b, RC_DEVTYPE, r, dt, sizeof dt);
    grid_metric m;
    grid_cmp c;
    const char *bad = grid_metric_parse(metric, &m) ? "metric (current, voltage, temperature, frequency_hz)"
                      : grid_cmp_parse(op, &c) ? "op (>, >=, <, <=)"
                      : strom_batch_is_null(b, RC_THR, r) ? "threshold (NULL)"
                      : !u.type[0] ? "alarm_type (empty)"
                      : dt[0] && dev_type_parse(dt) < 0 ? "device_type (breaker, switch, transformer, line_section, meter or NULL)"
                      : NULL;
    rule_remove(x, u.id);
    if (bad) {
        fprintf(stderr, "strom grid dispatch: alarm_rules row '%s': bad %s: rule ignored\n", u.id, bad);
        return 0;
    }
    u.metric = (uint8_t)m;
    u.op = (uint8_t)c;
    u.threshold = strom_batch_get_f64(b, RC_THR, r);
    u.clear = strom_batch_is_null(b, RC_CLR, r) ? u.threshold : strom_batch_get_f64(b, RC_CLR, r);
    u.severity = strom_batch_is_null(b, RC_SEV, r) ? 2 : (int)strom_batch_get_int(b, RC_SEV, r);
    u.hold_ms = strom_batch_is_null(b, RC_HOLD, r) ? 0 : strom_batch_get_int(b, RC_HOLD, r);
    u.enabled = strom_batch_is_null(b, RC_EN, r) || strom_batch_get_int(b, RC_EN, r);
    u.dev_type = dt[0] ? dev_type_parse(dt) : -1;
    if (x->nrules < (int)(sizeof x->rules / sizeof x->rules[0]))
        x->rules[x->nrules++] = u;
    return 0;
}

static int rules_apply(disp *x)
{
    if (grid_alarms_set_rules(x->al, x->rules, x->nrules))
        fprintf(stderr, "strom grid dispatch: more than %d alarm rule ids: the new ones are ignored\n",
                GRID_MAX_RULES);
    x->fc_slot = grid_alarms_slot_of_type(x->al, "fault_current");
    return 0;
}

static int seed_rules(disp *x)
{
    strom_producer *p;
    if (strom_producer_create(x->c, "alarm_rules", NULL, NULL, 0, &p) != STROM_OK)
        return grid_errorf(&x->d, "producer for alarm_rules: %s", strom_errmsg());
    int n;
    const grid_rule *r = grid_rule_defaults(&n);
    strom_err e = STROM_OK;
    for (int i = 0; e == STROM_OK && i < n; i++) {
        const char *dt = r[i].dev_type >= 0 ? grid_dev_type_name((grid_dev_type)r[i].dev_type) : NULL;
        strom_value v[11] = {
            {STROM_STRING, 0, {.s = {r[i].id, strlen(r[i].id)}}},
            {STROM_STRING, 0, {.s = {grid_metric_name((grid_metric)r[i].metric), strlen(grid_metric_name((grid_metric)r[i].metric))}}},
            {STROM_STRING, 0, {.s = {grid_cmp_name((grid_cmp)r[i].op), strlen(grid_cmp_name((grid_cmp)r[i].op))}}},
            {STROM_DOUBLE, 0, {.d = r[i].threshold}},
            {STROM_DOUBLE, 0, {.d = r[i].clear}},
            {STROM_INT, 0, {.i = r[i].severity}},
            {STROM_STRING, 0, {.s = {r[i].type, strlen(r[i].type)}}},
            {STROM_BIGINT, 0, {.i = r[i].hold_ms}},
            {STROM_BOOLEAN, 0, {.i = r[i].enabled}},
            {STROM_STRING, dt == NULL, {.s = {dt ? dt : "", dt ? strlen(dt) : 0}}},
            {STROM_TIMESTAMP, 0, {.i = disp_wall_ms()}}};
        e = strom_producer_send(p, v, 11);
    }
    strom_err f = strom_producer_close(p);
    if (e != STROM_OK || f != STROM_OK)
        return grid_errorf(&x->d, "seeding alarm_rules: %s", strom_errmsg());
    return 0;
}

int disp_rules_open(disp *x)
{
    if (read_table(x, "alarm_rules", rule_cols, RC_N, STROM_FROM_EARLIEST, 0, rule_row, NULL,
                   &x->rules_sub))
        return -1;
    if (!x->nrules) {
        if (seed_rules(x) || drain(x, x->rules_sub, "alarm_rules", rule_row, NULL))
            return -1;
        fprintf(stderr, "strom grid dispatch: alarm_rules was empty: %d default rules written\n", x->nrules);
    }
    return rules_apply(x);
}

int disp_rules_poll(disp *x)
{
    int changed = 0;
    for (;;) {
        const strom_batch *bt;
        int bucket;
        if (strom_subscriber_poll(x->rules_sub, 0, &bt, &bucket) != STROM_OK)
            return grid_errorf(&x->d, "reading alarm_rules: %s", strom_errmsg());
        if (!bt)
            break;
        for (int64_t r = 0; r < strom_batch_nrows(bt); r++)
            rule_row(x, bt, r, NULL);
        changed = 1;
    }
    if (changed)
        fprintf(stderr, "strom grid dispatch: alarm_rules changed: %d rule(s) in force\n", x->nrules);
    return changed ? rules_apply(x) : 0;
}

/* ---------------------------------------------------------------- alarms */

static const char *const units[GRID_M_N] = {"A", "kV", "C", "Hz"};

static strom_err put_s(strom_builder *w, int col, const char *s)
{
    return strom_builder_put_str(w, col, s, strlen(s));
}

/* current_alarms: a raise upserts the (device, type) row, a clear deletes it. The change is
 * queued, not sent: a restart takes the alarms in current_alarms as raised and does not raise
 * them again, so a row there must never be durable before its alarm_stream row is (a SIGKILL
 * in between lost the alarm). disp_current_flush sends the queue once alarm_stream has no
 * write in flight. */
static int queue_current(disp *x, const grid_alarm_ev *v)
{
    if (x->ncur == x->ccur) {
        int nc = x->ccur ? x->ccur * 2 : 256;
        disp_cur *n = realloc(x->cur, (size_t)nc * sizeof *n);
        if (!n)
            return grid_errorf(&x->d, "out of memory");
        x->cur = n;
        x->ccur = nc;
    }
    const grid_rule *r = grid_alarms_rule(x->al, v->slot);
    disp_cur *c = &x->cur[x->ncur++];
    c->dev = grid_name(x->b.topo, x->b.dev[v->dev].id);
    snprintf(c->aid, sizeof c->aid, "A-%016" PRIx64, disp_alarm_hash(c->dev, r->type, v->t_ms));
    snprintf(c->type, sizeof c->type, "%s", r->type);
    c->severity = r->severity;
    c->raise = v->raise;
    c->t_ms = v->t_ms;
    return 0;
}

int disp_current_flush(disp *x, int wait)
{
    if (!x->ncur)
        return 0;
    if (wait && strom_producer_flush(x->p_alarm) != STROM_OK)
        return grid_errorf(&x->d, "writing alarm_stream: %s", strom_errmsg());
    if (strom_producer_pending(x->p_alarm) > 0)
        return 0;   /* the alarms are on their way: at the next tick */
    strom_err e = STROM_OK;
    for (int i = 0; e == STROM_OK && i < x->ncur; i++) {
        const disp_cur *c = &x->cur[i];
        strom_value k[5] = {{STROM_STRING, 0, {.s = {c->dev, strlen(c->dev)}}},
                            {STROM_STRING, 0, {.s = {c->aid, strlen(c->aid)}}},
                            {STROM_STRING, 0, {.s = {c->type, strlen(c->type)}}},
                            {STROM_INT, 0, {.i = c->severity}},
                            {STROM_TIMESTAMP, 0, {.i = c->t_ms}}};
        e = c->raise ? strom_producer_send(x->p_cur, k, 5) : strom_producer_delete(x->p_cur, k, 5);
    }
    x->ncur = 0;
    return e == STROM_OK ? 0 : grid_errorf(&x->d, "current_alarms: %s", strom_errmsg());
}

static void describe(disp *x, const grid_alarm_ev *v, const strom_batch *dim, int64_t row,
                     char *msg, size_t cap)
{
    const grid_rule *r = grid_alarms_rule(x->al, v->slot);
    const char *dev = grid_name(x->b.topo, x->b.dev[v->dev].id);
    int n = snprintf(msg, cap, "%s: %s %.3f %s %s %g at %s", r->type, grid_metric_name((grid_metric)r->metric),
                     v->value, units[r->metric], grid_cmp_name((grid_cmp)r->op), r->threshold, dev);
    if (n < 0 || (size_t)n >= cap)
        return;
    if (!dim) {
        snprintf(msg + n, cap - (size_t)n, " (not in device_dimension_table at that time)");
        return;
    }
    char type[32], feeder[32], bus[256], capy[48] = "unbounded";
    str_col(dim, 1, row, type, sizeof type);
    str_col(dim, 2, row, feeder, sizeof feeder);
    str_col(dim, 3, row, bus, sizeof bus);
    if (!strom_batch_is_null(dim, 4, row))
        snprintf(capy, sizeof capy, "%.1f kW", strom_batch_get_f64(dim, 4, row));
    snprintf(msg + n, cap - (size_t)n, " (%s, feeder %s, bus %s, capacity %s)", type, feeder, bus, capy);
}

static int known_alarm(const disp *x, uint64_t h)
{
    int64_t lo = 0, hi = x->nknown_alarm;
    while (lo < hi) {
        int64_t m = (lo + hi) / 2;
        if (x->known_alarm[m] < h)
            lo = m + 1;
        else
            hi = m;
    }
    return lo < x->nknown_alarm && x->known_alarm[lo] == h;
}

static int alarm_row(disp *x, const grid_alarm_ev *v, const strom_batch *dim, int64_t row)
{
    const grid_rule *r = grid_alarms_rule(x->al, v->slot);
    const char *dev = grid_name(x->b.topo, x->b.dev[v->dev].id);
    uint64_t h = disp_alarm_hash(dev, r->type, v->t_ms);
    if (x->nknown_alarm && known_alarm(x, h)) {
        x->alarms_suppressed++;   /* written before a restart */
        return 0;
    }
    char aid[24], msg[700];
    snprintf(aid, sizeof aid, "A-%016" PRIx64, h);
    describe(x, v, dim, row, msg, sizeof msg);
    strom_builder *w = x->w_alarm;
    strom_err e = put_s(w, 0, aid);
    e = e ? e : put_s(w, 1, dev);
    e = e ? e : strom_builder_put_int(w, 2, v->t_ms);
    e = e ? e : put_s(w, 3, r->type);
    e = e ? e : strom_builder_put_int(w, 4, r->severity);
    e = e ? e : strom_builder_put_f64(w, 5, v->value);
    e = e ? e : put_s(w, 6, msg);
    e = e ? e : strom_builder_end_row(w);
    x->alarms_written++;
    return e == STROM_OK ? 0 : grid_errorf(&x->d, "alarm_stream row: %s", strom_errmsg());
}

static int cmp_ev_time(const void *a, const void *b, void *ctx)
{
    const grid_alarm_ev *ev = ctx;
    int64_t ta = ev[*(const int *)a].t_ms, tb = ev[*(const int *)b].t_ms;
    return ta < tb ? -1 : ta > tb;
}

/* Keys per batch lookup (a LOOKUP request holds at most 65,536). */
#define LOOKUP_KEYS 16384

/* The raises idx[0..n) (one event time): one batch lookup AS OF that time. */
static int write_group(disp *x, const int *idx, int n)
{
    strom_value *keys = malloc((size_t)n * sizeof *keys);
    uint8_t *found = malloc((size_t)n);
    strom_batch *dim = NULL;
    if (!keys || !found) {
        free(keys);
        free(found);
        return grid_errorf(&x->d, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        const char *dev = grid_name(x->b.topo, x->b.dev[x->ev[idx[i]].dev].id);
        keys[i] = (strom_value){STROM_STRING, 0, {.s = {dev, strlen(dev)}}};
    }
    int rc = 0;
    if (strom_lookuper_get_batch(x->dim, keys, 1, (size_t)n, 1, x->ev[idx[0]].t_ms, found, &dim) != STROM_OK)
        rc = grid_errorf(&x->d, "lookup in device_dimension_table: %s", strom_errmsg());
    for (int i = 0, row = 0; !rc && i < n; i++) {
        rc = alarm_row(x, &x->ev[idx[i]], found[i] ? dim : NULL, row);
        row += found[i];
    }
    strom_batch_destroy(dim);
    free(keys);
    free(found);
    return rc;
}

int disp_alarms_write(disp *x)
{
    int rc = 0, nr = 0;
    if (!x->nev)
        return 0;
    int *idx = malloc((size_t)x->nev * sizeof *idx);
    if (!idx)
        return grid_errorf(&x->d, "out of memory");
    for (int i = 0; !rc && i < x->nev; i++) {
        rc = queue_current(x, &x->ev[i]);
        if (x->ev[i].raise)
            idx[nr++] = i;
    }
    qsort_r(idx, (size_t)nr, sizeof *idx, cmp_ev_time, x->ev);
    for (int i = 0, j; !rc && i < nr; i = j) {
        for (j = i + 1; j < nr && j - i < LOOKUP_KEYS && x->ev[idx[j]].t_ms == x->ev[idx[i]].t_ms; j++)
            ;
        rc = write_group(x, idx + i, j - i);
    }
    free(idx);
    x->nev = 0;
    if (!rc && strom_builder_nrows(x->w_alarm)) {
        if (strom_producer_send_batch(x->p_alarm, x->w_alarm) != STROM_OK)
            rc = grid_errorf(&x->d, "writing alarm_stream: %s", strom_errmsg());
        strom_builder_reset(x->w_alarm);
    }
    return rc;   /* the current_alarms changes go at the tick (disp_current_flush) */
}

/* ---------------------------------------------------------------- checkpoints */

int disp_checkpoint(disp *x)
{
    strom_producer *out[] = {x->p_alarm, x->p_cur, x->p_dec, x->p_edge};
    if (disp_current_flush(x, 1))
        return -1;
    for (int i = 0; i < 4; i++)
        if (strom_producer_flush(out[i]) != STROM_OK)
            return grid_errorf(&x->d, "flushing the outputs: %s", strom_errmsg());
    int64_t now = disp_wall_ms();
    strom_builder *w = x->w_ckpt;
    for (int b = 0; b < x->nbuckets; b++) {
        strom_err e = put_s(w, 0, x->a.id);
        e = e ? e : strom_builder_put_int(w, 1, b);
        e = e ? e : strom_builder_put_int(w, 2, strom_subscriber_position(x->tele, b));
        e = e ? e : strom_builder_put_int(w, 3, x->newest_ms > 0 ? x->newest_ms : now);
        e = e ? e : strom_builder_put_int(w, 4, now);
        e = e ? e : strom_builder_put_int(w, 5, x->decisions);
        e = e ? e : strom_builder_end_row(w);
        if (e)
            return grid_errorf(&x->d, "checkpoint row: %s", strom_errmsg());
    }
    strom_err e = strom_producer_send_batch(x->p_ckpt, w);
    strom_builder_reset(w);
    x->last_ckpt_ms = now;
    return e == STROM_OK ? 0 : grid_errorf(&x->d, "writing dispatch_checkpoints: %s", strom_errmsg());
}

int disp_checkpoint_idle(disp *x, int64_t now)
{
    strom_producer *out[] = {x->p_alarm, x->p_cur, x->p_dec, x->p_edge};
    int64_t pending = x->ncur;
    for (int i = 0; i < 4; i++)
        pending += strom_producer_pending(out[i]);
    int64_t overdue = x->a.checkpoint_ms * 4 > 1000 ? (int64_t)(x->a.checkpoint_ms * 4) : 1000;
    if (pending > 0 && now - x->last_ckpt_ms < overdue)
        return 0;   /* the outputs are on their way: try again at the next tick */
    return disp_checkpoint(x);
}

/* ---------------------------------------------------------------- restart */

static int lookup_ckpt(disp *x, int64_t *from, int64_t *sample_ms)
{
    strom_lookuper *l;
    if (strom_lookuper_create(x->c, "dispatch_checkpoints", NULL, 0, &l) != STROM_OK)
        return grid_errorf(&x->d, "dispatch_checkpoints: %s", strom_errmsg());
    strom_value keys[128];
    uint8_t found[64];
    strom_batch *out = NULL;
    int n = x->nbuckets < 64 ? x->nbuckets : 64;
    for (int b = 0; b < n; b++) {
        keys[2 * b] = (strom_value){STROM_STRING, 0, {.s = {x->a.id, strlen(x->a.id)}}};
        keys[2 * b + 1] = (strom_value){STROM_INT, 0, {.i = b}};
    }
    strom_err e = strom_lookuper_get_batch(l, keys, 2, (size_t)n, 0, 0, found, &out);
    *sample_ms = INT64_MAX;
    for (int b = 0, row = 0; e == STROM_OK && b < n; b++) {
        from[b] = -1;
        if (!found[b])
            continue;
        from[b] = strom_batch_get_int(out, 2, row);
        int64_t s = strom_batch_get_int(out, 3, row++);
        *sample_ms = s < *sample_ms ? s : *sample_ms;
    }
    strom_batch_destroy(out);
    strom_lookuper_close(l);
    return e == STROM_OK ? 0 : grid_errorf(&x->d, "reading the checkpoint: %s", strom_errmsg());
}

/* decisions rows: known ids; recent ones claim their feeder from the fault onset. */
static int decision_row(disp *x, const strom_batch *b, int64_t r, void *ctx)
{
    int64_t since = *(const int64_t *)ctx;
    char id[64], feeder[32];
    if (!is_upsert(b, r))
        return 0;
    str_col(b, 0, r, id, sizeof id);
    str_col(b, 2, r, feeder, sizeof feeder);
    int64_t onset = strom_batch_get_int(b, 1, r);
    if (x->nknown_dec && !strcmp(x->known_dec[x->nknown_dec - 1], id))
        return 0;
    if (!disp_known_decision(x, id)) {
        char (*k)[64] = realloc(x->known_dec, (size_t)(x->nknown_dec + 1) * sizeof *k);
        if (!k)
            return grid_errorf(&x->d, "out of memory");
        x->known_dec = k;
        snprintf(k[x->nknown_dec++], 64, "%s", id);
    }
    if (onset >= since && feeder[0] == 'F')
        grid_loc_claim(x->loc, atoi(feeder + 1), onset);
    return 0;
}

static int current_row(disp *x, const strom_batch *b, int64_t r, void *ctx)
{
    (void)ctx;
    char type[GRID_RULE_ID_MAX];
    size_t len;
    const char *dev = strom_batch_get_str(b, 0, r, &len);
    int64_t i = disp_dev_find(x, dev, len);
    str_col(b, 1, r, type, sizeof type);
    int slot = grid_alarms_slot_of_type(x->al, type);
    strom_change c = strom_batch_row_change(b, r);
    if (i >= 0 && slot >= 0 && c != STROM_UPDATE_BEFORE)
        grid_alarms_restore(x->al, i, slot, strom_batch_is_null(b, 2, r) ? 0 : strom_batch_get_int(b, 2, r),
                            c != STROM_DELETE);
    return 0;
}

static int alarm_id_row(disp *x, const strom_batch *b, int64_t r, void *ctx)
{
    (void)ctx;
    char id[32];
    str_col(b, 0, r, id, sizeof id);
    if (strncmp(id, "A-", 2))
        return 0;
    uint64_t *k = realloc(x->known_alarm, (size_t)(x->nknown_alarm + 1) * sizeof *k);
    if (!k)
        return grid_errorf(&x->d, "out of memory");
    x->known_alarm = k;
    k[x->nknown_alarm++] = strtoull(id + 2, NULL, 16);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* After a restart, samples older than the checkpoint's newest less this are late: the
 * devices' own newest times are not checkpointed; SCADA devices report every second. */
#define RESTART_FLOOR_MS 2000

int disp_restore(disp *x, int64_t *from)
{
    static const char *const dcols[] = {"decision_id", "event_time", "feeder"};
    static const char *const ccols[] = {"device_id", "alarm_type", "event_time"};
    static const char *const acols[] = {"alarm_id"};
    int64_t sample_ms;
    if (lookup_ckpt(x, from, &sample_ms))
        return -1;
    if (sample_ms != INT64_MAX)   /* devices report at least every RESTART_FLOOR_MS */
        grid_alarms_floor(x->al, sample_ms - RESTART_FLOOR_MS);
    if (read_table(x, "current_alarms", ccols, 3, STROM_FROM_EARLIEST, 0, current_row, NULL, NULL))
        return -1;
    if (sample_ms == INT64_MAX)
        return 0;   /* no checkpoint: a fresh start from the latest telemetry */
    int64_t since = sample_ms - 10000;
    if (read_table(x, "decisions", dcols, 3, STROM_FROM_EARLIEST, 0, decision_row, &since, NULL) ||
        read_table(x, "alarm_stream", acols, 1, STROM_FROM_TIMESTAMP, sample_ms - 60000, alarm_id_row,
                   NULL, NULL))
        return -1;
    qsort(x->known_alarm, (size_t)x->nknown_alarm, sizeof *x->known_alarm, cmp_u64);
    return 0;
}

/* ---------------------------------------------------------------- topology */

#define OVERLAY_CHUNK 16384

static int overlay_chunk(disp *x, strom_lookuper *l, const int32_t *edges, int n)
{
    grid_topo *t = x->b.topo;
    static strom_value keys[OVERLAY_CHUNK];
    static uint8_t found[OVERLAY_CHUNK];
    strom_batch *out = NULL;
    for (int i = 0; i < n; i++) {
        const char *id = grid_edge_id(t, edges[i]);
        keys[i] = (strom_value){STROM_STRING, 0, {.s = {id, strlen(id)}}};
    }
    if (strom_lookuper_get_batch(l, keys, 1, (size_t)n, 0, 0, found, &out) != STROM_OK)
        return grid_errorf(&x->d, "reading grid_edges: %s", strom_errmsg());
    for (int i = 0, row = 0; i < n; i++) {
        if (!found[i])
            continue;
        char st[16];
        str_col(out, 1, row++, st, sizeof st);
        t->edge[edges[i]].closed = !strcmp(st, "closed");
    }
    strom_batch_destroy(out);
    return 0;
}

int disp_overlay_edges(disp *x)
{
    static const char *const cols[] = {"edge_id", "switch_state"};
    strom_lookuper *l;
    if (strom_lookuper_create(x->c, "grid_edges", cols, 2, &l) != STROM_OK)
        return grid_errorf(&x->d, "grid_edges: %s", strom_errmsg());
    static int32_t chunk[OVERLAY_CHUNK];
    int n = 0, rc = 0;
    const grid_topo *t = x->b.topo;
    for (int32_t e = 0; !rc && e < t->nedge; e++) {
        if (!t->edge[e].switchable)
            continue;
        chunk[n++] = e;
        if (n == OVERLAY_CHUNK) {
            rc = overlay_chunk(x, l, chunk, n);
            n = 0;
        }
    }
    if (!rc && n)
        rc = overlay_chunk(x, l, chunk, n);
    strom_lookuper_close(l);
    return rc;
}
