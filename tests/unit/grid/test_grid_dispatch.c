/* test_grid_dispatch.c: the dispatcher's engines without a server (apps/grid/alarm.c,
 * locate.c). The alarm engine against transitions worked out by hand (hysteresis, hold,
 * late and duplicate samples, live rule edits, scope). The locator against the simulator:
 * for EVERY line section of IEEE 123 (and every branch of case33bw) the readings of
 * grid_sim_read at the fault time, fed in random order, locate exactly the faulted edge
 * (one decision, whose plan is grid_plan_make's for the injected section); with the
 * devices behind the fault silent, the timeout decides on the deepest fault-current edge,
 * the same; two faults on different feeders at once give two decisions; later samples of
 * a decided fault decide nothing more. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dispatch.h"
#include "grid_files.h"
#include "sim.h"


/* ---------------------------------------------------------------- alarm engine */

static grid_sample smp(int64_t dev, int64_t t, double current, double voltage)
{
    grid_sample s = {.dev = dev, .t_ms = t};
    s.v[GRID_M_CURRENT] = current;
    s.v[GRID_M_VOLTAGE] = voltage;
    s.has[GRID_M_CURRENT] = s.has[GRID_M_VOLTAGE] = 1;
    return s;
}

/* Feeds one sample; returns the events as "+type" / "-type" joined by spaces. */
static const char *feed(grid_alarms *a, grid_sample s, int *res)
{
    static char out[256];
    grid_alarm_ev ev[GRID_MAX_RULES];
    int n = 0;
    *res = grid_alarms_feed(a, &s, ev, &n);
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        const grid_rule *r = grid_alarms_rule(a, ev[i].slot);
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%c%s", i ? " " : "", ev[i].raise ? '+' : '-',
                 r->type);
        assert_int_equal(ev[i].dev, s.dev);
        assert_int_equal(ev[i].t_ms, s.t_ms);
    }
    return out;
}

static const grid_rule test_rules[] = {
    {"oc", "overcurrent", GRID_M_CURRENT, GRID_CMP_GT, 100, 80, 2, 1000, 1, -1},
    {"uv", "undervoltage", GRID_M_VOLTAGE, GRID_CMP_LT, 9.3, 9.4, 2, 0, 1, -1},
};

static void test_alarm_transitions(void **state)
{
    (void)state;
    uint8_t types[2] = {GRID_DEV_LINE, GRID_DEV_METER};
    grid_alarms *a = grid_alarms_create(2, types);
    assert_non_null(a);
    assert_int_equal(grid_alarms_set_rules(a, test_rules, 2), 0);
    int res;
    assert_string_equal(feed(a, smp(0, 1000, 50, 10), &res), "");
    assert_string_equal(feed(a, smp(0, 2000, 120, 10), &res), "+overcurrent");
    assert_string_equal(feed(a, smp(0, 2200, 150, 10), &res), "");          /* dedup: still active */
    assert_string_equal(feed(a, smp(0, 2400, 90, 10), &res), "");           /* between 80 and 100 */
    assert_string_equal(feed(a, smp(0, 2600, 80, 10), &res), "-overcurrent");   /* <= clear */
    assert_string_equal(feed(a, smp(0, 2800, 130, 10), &res), "");          /* hold: 800 ms < 1000 */
    assert_int_equal(grid_alarms_counts(a).suppressed, 1);
    assert_string_equal(feed(a, smp(0, 3000, 130, 10), &res), "+overcurrent");   /* 1000 ms after */
    /* late and duplicate samples change nothing */
    assert_string_equal(feed(a, smp(0, 1500, 10, 0), &res), "");
    assert_int_equal(res, GRID_SAMPLE_LATE);
    assert_string_equal(feed(a, smp(0, 3000, 10, 0), &res), "");
    assert_int_equal(res, GRID_SAMPLE_DUP);
    assert_true(grid_alarms_active(a, 0, 0));
    /* two rules at once, the other device independent */
    assert_string_equal(feed(a, smp(1, 6000, 200, 2), &res), "+overcurrent +undervoltage");
    assert_string_equal(feed(a, smp(1, 7000, 200, 9.35), &res), "");        /* hysteresis band */
    assert_string_equal(feed(a, smp(1, 8000, 10, 9.4), &res), "-overcurrent -undervoltage");
    /* a NULL value changes nothing */
    grid_sample s = smp(0, 9000, 0, 10);
    s.has[GRID_M_CURRENT] = 0;
    assert_string_equal(feed(a, s, &res), "");
    assert_true(grid_alarms_active(a, 0, 0));
    grid_alarm_counts n = grid_alarms_counts(a);
    assert_int_equal(n.raised, 4);
    assert_int_equal(n.cleared, 3);
    assert_int_equal(n.active, 1);
    assert_int_equal(n.late, 1);
    assert_int_equal(n.dup, 1);
    grid_alarms_destroy(a);
}

static void test_alarm_rule_edits(void **state)
{
    (void)state;
    uint8_t types[2] = {GRID_DEV_LINE, GRID_DEV_METER};
    grid_alarms *a = grid_alarms_create(2, types);
    assert_int_equal(grid_alarms_set_rules(a, test_rules, 2), 0);
    int res;
    assert_string_equal(feed(a, smp(0, 1000, 120, 10), &res), "+overcurrent");
    /* threshold raised live: the active alarm clears by the new clear threshold */
    grid_rule r[2] = {test_rules[0], test_rules[1]};
    r[0].threshold = 300;
    r[0].clear = 250;
    assert_int_equal(grid_alarms_set_rules(a, r, 2), 0);
    assert_int_equal(grid_alarms_slot_of_type(a, "overcurrent"), 0);   /* same slot */
    assert_string_equal(feed(a, smp(0, 2000, 200, 10), &res), "-overcurrent");
    assert_string_equal(feed(a, smp(1, 2000, 200, 10), &res), "");     /* 200 < 300 now */
    /* disabled: its active alarm clears at the next sample; removed: the same */
    assert_string_equal(feed(a, smp(1, 3000, 400, 10), &res), "+overcurrent");
    r[0].enabled = 0;
    assert_int_equal(grid_alarms_set_rules(a, r, 2), 0);
    assert_string_equal(feed(a, smp(1, 4000, 400, 10), &res), "-overcurrent");
    assert_int_equal(grid_alarms_slot_of_type(a, "overcurrent"), -1);
    assert_string_equal(feed(a, smp(1, 5000, 400, 5), &res), "+undervoltage");
    assert_int_equal(grid_alarms_set_rules(a, r, 1), 0);               /* uv removed */
    assert_string_equal(feed(a, smp(1, 6000, 400, 5), &res), "-undervoltage");
    /* scope: a transformer-only rule does not see a line */
    grid_rule t = test_rules[0];
    snprintf(t.id, sizeof t.id, "ot");
    t.dev_type = GRID_DEV_TRANSFORMER;
    assert_int_equal(grid_alarms_set_rules(a, &t, 1), 0);
    assert_string_equal(feed(a, smp(0, 7000, 1000, 10), &res), "");
    /* restore after a restart: active without an event, clears normally */
    grid_alarms_restore(a, 0, grid_alarms_slot_of_type(a, "overcurrent"), 6500, 1);
    assert_int_equal(grid_alarms_counts(a).active, 1);
    grid_alarms_destroy(a);
}

static void test_default_rules(void **state)
{
    (void)state;
    int n;
    const grid_rule *r = grid_rule_defaults(&n);
    assert_true(n >= 6);
    grid_metric m;
    grid_cmp c;
    for (int i = 0; i < n; i++) {
        assert_int_equal(grid_metric_parse(grid_metric_name((grid_metric)r[i].metric), &m), 0);
        assert_int_equal(grid_cmp_parse(grid_cmp_name((grid_cmp)r[i].op), &c), 0);
        /* the clear threshold lies on the healthy side of the threshold */
        int upper = r[i].op == GRID_CMP_GT || r[i].op == GRID_CMP_GE;
        assert_true(upper ? r[i].clear < r[i].threshold : r[i].clear > r[i].threshold);
        assert_int_equal(grid_rule_test(&r[i], r[i].clear), 0);
    }
    /* the simulator's readings: 4000 A fault current, 0.2 pu, 10 kV +-7%, 50 +-0.2 Hz */
    assert_int_equal(grid_rule_test(&r[0], GRID_SIM_FAULT_A * 0.97), 1);
    assert_int_equal(grid_rule_test(&r[0], 400), 0);
    assert_int_equal(grid_metric_parse("nope", &m), -1);
    assert_int_equal(grid_cmp_parse("=", &c), -1);
}

/* ---------------------------------------------------------------- locator */


static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

static void shuffle(int64_t *v, int64_t n, uint64_t *rng)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(rng_next(rng) % (uint64_t)(i + 1)), t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

/* Feeds every device's reading at t_s (ms = t_s * 1000) in random order; skip(i) devices
 * are left out. Returns the decisions made (found[0..]). */
static int feed_all(grid_loc *l, grid_sim *s, const grid_built *b, double t_s, uint64_t *rng,
                    int (*leave_out)(grid_sim *, int64_t, double), grid_fault_found *found, int cap)
{
    int64_t *order = malloc((size_t)b->ndev * sizeof *order);
    for (int64_t i = 0; i < b->ndev; i++)
        order[i] = i;
    shuffle(order, b->ndev, rng);
    int n = 0;
    for (int64_t k = 0; k < b->ndev; k++) {
        int64_t i = order[k];
        if (leave_out && leave_out(s, i, t_s))
            continue;
        grid_reading r;
        grid_sim_read(s, i, t_s, &r);
        grid_fault_found f;
        if (grid_loc_feed(l, i, (int64_t)(t_s * 1000), r.current >= 2000, 5000, &f)) {
            assert_true(n < cap);
            found[n++] = f;
        }
    }
    free(order);
    return n;
}

static int behind_fault(grid_sim *s, int64_t i, double t_s)
{
    (void)t_s;
    return grid_sim_region(s, i) == GRID_SIM_DOWN;
}

/* The lagging-bucket test's devices: the faulted edge's own and those behind the fault. */
static int32_t lag_edge;
static const grid_loc *lag_loc;

static int in_lagging_bucket(grid_sim *s, int64_t i, double t_s)
{
    return behind_fault(s, i, t_s) || grid_loc_edge_of(lag_loc, i) == lag_edge;
}

static int lagging_only(grid_sim *s, int64_t i, double t_s)
{
    return !in_lagging_bucket(s, i, t_s);
}

/* A fault on f while the bucket with f's devices and those behind it lags: the locator has
 * seen fault current only above f. With the stream position known it waits for that bucket
 * (no decision by timeout), then decides f from the late samples; returns 1 if the wall-clock
 * timeout alone (no stream position) would have decided another edge, 0 if not, -1 if f is
 * not energised or has no fault current above it. */
static int lagging_fault(const grid_built *b, int32_t f, uint64_t *rng)
{
    grid_diag d = {0};
    int wrong = -1;
    for (int gated = 0; gated < 2; gated++) {
        grid_sim *s = grid_sim_create(b, 7, &d);
        grid_loc *l = grid_loc_create(b);
        grid_fault_found got[4];
        assert_int_equal(feed_all(l, s, b, 0, rng, NULL, got, 4), 0);
        grid_sim_fault sf = {.type = GRID_FAULT_LINE, .edge = f, .dev = -1, .t_s = 1};
        lag_edge = f;
        lag_loc = l;
        int n = grid_sim_inject(s, &sf, &d) ? -1 : feed_all(l, s, b, 1, rng, in_lagging_bucket, got, 4);
        if (n == 0 && gated) {
            grid_loc_set_stream(l, 1000 + 499);      /* the lagging bucket: read up to 1.499 s */
            assert_int_equal(grid_loc_timeout(l, 5000 + 500, 500, &got[0]), 0);
            n = feed_all(l, s, b, 1, rng, lagging_only, got, 4);
            assert_int_equal(n, 1);
            assert_int_equal(got[0].edge, f);
            assert_int_equal(got[0].by_timeout, 0);
        } else if (n == 0) {
            n = grid_loc_timeout(l, 5000 + 500, 500, &got[0]);
            wrong = n == 1 ? got[0].edge != f : -1;
        }
        grid_loc_destroy(l);
        grid_sim_destroy(s);
        if (wrong < 0)
            return -1;
    }
    return wrong;
}

static void test_locate_lagging_bucket(void **state)
{
    (void)state;
    grid_topo *t = load("ieee123/IEEE123Switches.dss");
    grid_built b;
    grid_diag d = {0};
    assert_int_equal(grid_build(t, 1, 0, &b, &d), 0);
    uint64_t rng = 0x51ed270b27a2c5f3ULL;
    int tried = 0, old_wrong = 0;
    for (int32_t e = 0; e < b.topo->nedge; e++) {
        const grid_edge *x = &b.topo->edge[e];
        if (x->parallel >= 0 || x->kind != GRID_LINE)
            continue;
        int w = lagging_fault(&b, e, &rng);
        tried += w >= 0;
        old_wrong += w == 1;
    }
    /* the wall-clock timeout alone decided a healthy edge above the fault each time */
    assert_true(tried >= 100);
    assert_int_equal(old_wrong, tried);
    grid_built_free(&b);
    grid_topo_destroy(t);
}

/* The plans for the located and the injected edge are the same switching. */
static void same_plan(const grid_topo *t, int32_t located, int32_t injected)
{
    grid_plan a, b;
    grid_diag d = {0};
    assert_int_equal(grid_plan_make(t, located, &a, &d), 0);
    assert_int_equal(grid_plan_make(t, injected, &b, &d), 0);
    assert_int_equal(a.nsteps, b.nsteps);
    for (int i = 0; i < a.nsteps; i++) {
        assert_int_equal(a.steps[i].edge, b.steps[i].edge);
        assert_int_equal(a.steps[i].close, b.steps[i].close);
    }
    grid_plan_free(&a);
    grid_plan_free(&b);
}

/* One fault on edge f: 1 decision from the readings at the fault time (located = f),
 * nothing more from the readings during the hold and after the trip. timeout: the
 * devices behind the fault are silent, the timeout decides. 0 if f is not energised. */
static int one_fault(const grid_built *b, int32_t f, uint64_t *rng, int timeout)
{
    grid_diag d = {0};
    grid_sim *s = grid_sim_create(b, 7, &d);
    grid_loc *l = grid_loc_create(b);
    assert_non_null(s);
    assert_non_null(l);
    grid_fault_found got[4];
    assert_int_equal(feed_all(l, s, b, 0, rng, NULL, got, 4), 0);     /* steady state */
    grid_sim_fault sf = {.type = GRID_FAULT_LINE, .edge = f, .dev = -1, .t_s = 1};
    if (grid_sim_inject(s, &sf, &d)) {
        grid_loc_destroy(l);
        grid_sim_destroy(s);
        return 0;
    }
    int n = feed_all(l, s, b, 1, rng, timeout ? behind_fault : NULL, got, 4);
    if (timeout && n == 0) {
        assert_int_equal(grid_loc_timeout(l, 5000 + 499, 500, &got[0]), 0);
        n = grid_loc_timeout(l, 5000 + 500, 500, &got[0]);
        assert_int_equal(got[0].by_timeout, 1);
    }
    if (n != 1 || got[0].edge != f)
        fail_msg("fault on %s: %d decision(s), located %s", grid_edge_id(b->topo, f), n,
                 n ? grid_edge_id(b->topo, got[0].edge) : "-");
    assert_int_equal(got[0].onset_ms, 1000);
    assert_int_equal(got[0].copy, b->dev[0].copy);
    same_plan(b->topo, got[0].edge, f);
    assert_int_equal(feed_all(l, s, b, 2, rng, NULL, got, 4), 0);      /* same fault, held */
    assert_int_equal(feed_all(l, s, b, 1 + GRID_SIM_FAULT_HOLD_S + 0.5, rng, NULL, got, 4), 0);
    assert_int_equal(grid_loc_timeout(l, 99999, 500, &got[0]), 0);
    grid_loc_destroy(l);
    grid_sim_destroy(s);
    return 1;
}

static void every_section(const char *rel, int lines_only, int min_faults)
{
    grid_topo *t = load(rel);
    grid_built b;
    grid_diag d = {0};
    assert_int_equal(grid_build(t, 1, 0, &b, &d), 0);
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    int faults = 0, timeouts = 0;
    for (int32_t e = 0; e < b.topo->nedge; e++) {
        const grid_edge *x = &b.topo->edge[e];
        if (x->parallel >= 0 || x->kind == GRID_BREAKER || (lines_only && x->kind != GRID_LINE))
            continue;
        faults += one_fault(&b, e, &rng, 0);
        timeouts += one_fault(&b, e, &rng, 1);
    }
    assert_true(faults >= min_faults);
    assert_int_equal(timeouts, faults);
    grid_built_free(&b);
    grid_topo_destroy(t);
}

static void test_locate_ieee123_every_section(void **state)
{
    (void)state;
    every_section("ieee123/IEEE123Switches.dss", 1, 110);
}

static void test_locate_case33bw_every_branch(void **state)
{
    (void)state;
    every_section("case33bw.m", 0, 32);
}

/* Two faults on different copies at once; then the decisions applied, a third fault on
 * the first copy's feeder after its devices saw the end of the first. */
static void test_locate_two_feeders(void **state)
{
    (void)state;
    grid_topo *t = load("ieee123/IEEE123Switches.dss");
    grid_built b;
    grid_diag d = {0};
    assert_int_equal(grid_build(t, 3 * grid_devices_per_copy(t) + 2, 1, &b, &d), 0);
    assert_int_equal(b.copies, 3);
    int32_t f1 = grid_edge_find(b.topo, "F1/Line.L60"), f3 = grid_edge_find(b.topo, "F3/Line.L25");
    assert_true(f1 >= 0 && f3 >= 0);
    grid_sim *s = grid_sim_create(&b, 3, &d);
    grid_loc *l = grid_loc_create(&b);
    uint64_t rng = 12345;
    grid_fault_found got[4];
    assert_int_equal(feed_all(l, s, &b, 0, &rng, NULL, got, 4), 0);
    grid_sim_fault a = {.type = GRID_FAULT_LINE, .edge = f1, .t_s = 1}, c = {.type = GRID_FAULT_LINE, .edge = f3, .t_s = 1};
    assert_int_equal(grid_sim_inject(s, &a, &d), 0);
    assert_int_equal(grid_sim_inject(s, &c, &d), 0);
    assert_int_equal(feed_all(l, s, &b, 1, &rng, NULL, got, 4), 2);
    int32_t x = got[0].edge, y = got[1].edge;
    assert_true((x == f1 && y == f3) || (x == f3 && y == f1));
    assert_int_equal(got[0].copy == 1 ? got[1].copy : got[0].copy, 3);
    /* apply both plans, as the dispatcher does; the feeders' later samples decide nothing */
    for (int i = 0; i < 2; i++) {
        grid_plan p;
        assert_int_equal(grid_plan_make(b.topo, got[i].edge, &p, &d), 0);
        grid_plan_apply(b.topo, &p);
        grid_plan_free(&p);
    }
    grid_loc_refresh(l);
    assert_int_equal(feed_all(l, s, &b, 2, &rng, NULL, got, 4), 0);
    assert_int_equal(grid_loc_pending(l), 0);
    grid_loc_destroy(l);
    grid_sim_destroy(s);
    grid_built_free(&b);
    grid_topo_destroy(t);
}

/* A claim (as restored after a restart) makes the fault's samples decide nothing. */
static void test_locate_claimed(void **state)
{
    (void)state;
    grid_topo *t = load("ieee123/IEEE123Switches.dss");
    grid_built b;
    grid_diag d = {0};
    assert_int_equal(grid_build(t, 1, 0, &b, &d), 0);
    grid_sim *s = grid_sim_create(&b, 3, &d);
    grid_loc *l = grid_loc_create(&b);
    uint64_t rng = 99;
    grid_fault_found got[4];
    assert_int_equal(feed_all(l, s, &b, 0, &rng, NULL, got, 4), 0);
    grid_sim_fault a = {.type = GRID_FAULT_LINE, .edge = grid_edge_find(b.topo, "F1/Line.L60"), .t_s = 1};
    assert_int_equal(grid_sim_inject(s, &a, &d), 0);
    grid_loc_claim(l, 1, 1000);
    assert_int_equal(feed_all(l, s, &b, 1, &rng, NULL, got, 4), 0);
    assert_int_equal(grid_loc_timeout(l, 99999, 500, &got[0]), 0);
    grid_loc_destroy(l);
    grid_sim_destroy(s);
    grid_built_free(&b);
    grid_topo_destroy(t);
}

/* The device reporting for edge id (a parallel bank's devices each have one). */
static int64_t dev_of(const grid_built *b, const char *id)
{
    int32_t e = grid_edge_find(b->topo, id);
    for (int64_t i = 0; e >= 0 && i < b->ndev; i++)
        if (b->dev[i].edge == e)
            return i;
    fail_msg("no device for %s", id);
    return -1;
}

/* A regulator bank (Transformer.reg4a/b/c, one edge) on the path of a fault beyond Sw5.
 * The fault is decided and its plan (open Sw5) applied: the arc goes out and the path
 * reports at 1.010 s (the bank's reg4a and the edges below it without fault current).
 * Then reg4b's periodic sample of 1.004 s, taken during the arc, arrives (read from the
 * other telemetry bucket): it is older than what its bank already reported and must
 * decide nothing. (Before: the edge was unclaimed by reg4a's sample and its children
 * were clear, so it decided Transformer.reg4a, a spurious isolation; seen in `strom
 * bench grid`.) */
static void test_locate_bank_out_of_order(void **state)
{
    (void)state;
    grid_topo *t = load("ieee123/IEEE123Switches.dss");
    grid_built b;
    grid_diag d = {0};
    assert_int_equal(grid_build(t, 1, 0, &b, &d), 0);
    int32_t f = grid_edge_find(b.topo, "F1/Line.L118"), sw5 = grid_edge_find(b.topo, "F1/Line.Sw5");
    int64_t reg4b = dev_of(&b, "F1/Transformer.reg4b");
    assert_true(f >= 0 && sw5 >= 0);
    grid_sim *s = grid_sim_create(&b, 5, &d);
    grid_loc *l = grid_loc_create(&b);
    uint64_t rng = 4242;
    grid_fault_found got[4];
    assert_int_equal(feed_all(l, s, &b, 0, &rng, NULL, got, 4), 0);
    grid_sim_fault a = {.type = GRID_FAULT_LINE, .edge = f, .t_s = 1};
    assert_int_equal(grid_sim_inject(s, &a, &d), 0);
    assert_int_equal(feed_all(l, s, &b, 1, &rng, NULL, got, 4), 1);
    assert_int_equal(got[0].edge, f);
    grid_reading held;
    grid_sim_read(s, reg4b, 1.004, &held);
    assert_true(held.current >= 2000);
    grid_plan p;
    assert_int_equal(grid_plan_make(b.topo, f, &p, &d), 0);
    assert_int_equal(p.nsteps, 1);
    assert_int_equal(p.steps[0].edge, sw5);
    grid_plan_apply(b.topo, &p);
    grid_plan_free(&p);
    grid_loc_refresh(l);
    grid_switch_change sc = {.edge = sw5, .closed = 0, .ms = 1010};
    assert_int_equal(grid_sim_switch(s, &sc, 1, 1.010), 1);
    /* every device but reg4b reports the end of the arc */
    int64_t nch;
    const int64_t *ch = grid_sim_changed(s, &nch);
    int seen_bank = 0;
    for (int64_t k = 0; k < nch; k++) {
        if (ch[k] == reg4b)
            continue;
        grid_reading r;
        grid_sim_read(s, ch[k], 1.010, &r);
        assert_true(r.current < 1000);
        seen_bank += grid_loc_edge_of(l, ch[k]) == grid_loc_edge_of(l, reg4b);
        assert_int_equal(grid_loc_feed(l, ch[k], 1010, 0, 6000, &got[0]), 0);
    }
    assert_int_equal(seen_bank, 2);   /* reg4a and reg4c */
    /* the late sample of the bank: nothing, now or by the timeout */
    if (grid_loc_feed(l, reg4b, 1004, 1, 6001, &got[0]))
        fail_msg("spurious decision on %s from a bank sample older than its sibling's", grid_edge_id(b.topo, got[0].edge));
    assert_int_equal(grid_loc_stale(l, 1), 1);
    assert_int_equal(grid_loc_stale(l, 0), 0);
    assert_int_equal(grid_loc_timeout(l, 99999, 500, &got[0]), 0);
    assert_int_equal(grid_loc_pending(l), 0);
    assert_int_equal(grid_loc_feed(l, reg4b, 1010, 0, 6002, &got[0]), 0);
    grid_loc_destroy(l);
    grid_sim_destroy(s);
    grid_built_free(&b);
    grid_topo_destroy(t);
}

/* A fault on the bank itself (Transformer.reg4a/b/c): reg4a reports the fault current at
 * 1.000 s, then reg4b's periodic sample of 0.999 s (before the fault, no fault current)
 * arrives from the other bucket, and reg4b and reg4c then drop out. The older sample must
 * not wipe the bank's onset: the bank is decided when the edges below it report. (Before:
 * the onset was reset and the fault was never decided, not even by the timeout.) */
static void test_locate_bank_stale_clear(void **state)
{
    (void)state;
    grid_topo *t = load("ieee123/IEEE123Switches.dss");
    grid_built b;
    grid_diag d = {0};
    assert_int_equal(grid_build(t, 1, 0, &b, &d), 0);
    int32_t f = grid_edge_find(b.topo, "F1/Transformer.reg4a");
    int64_t r4a = dev_of(&b, "F1/Transformer.reg4a"), r4b = dev_of(&b, "F1/Transformer.reg4b"),
            r4c = dev_of(&b, "F1/Transformer.reg4c");
    grid_sim *s = grid_sim_create(&b, 6, &d);
    grid_loc *l = grid_loc_create(&b);
    uint64_t rng = 777;
    grid_fault_found got[4];
    assert_int_equal(feed_all(l, s, &b, 0, &rng, NULL, got, 4), 0);
    grid_reading before, r;
    grid_sim_read(s, r4b, 0.999, &before);
    assert_true(before.current < 1000);
    grid_sim_fault a = {.type = GRID_FAULT_LINE, .edge = f, .t_s = 1};
    assert_int_equal(grid_sim_inject(s, &a, &d), 0);
    grid_sim_read(s, r4a, 1, &r);
    assert_true(r.current >= 2000);
    assert_int_equal(grid_loc_feed(l, r4a, 1000, 1, 5000, &got[0]), 0);
    assert_int_equal(grid_loc_feed(l, r4b, 999, 0, 5000, &got[0]), 0);
    assert_int_equal(grid_loc_stale(l, 0), 1);
    int n = 0;
    for (int64_t i = 0; i < b.ndev; i++) {
        if (i == r4a || i == r4b || i == r4c)
            continue;
        grid_sim_read(s, i, 1, &r);
        if (grid_loc_feed(l, i, 1000, r.current >= 2000, 5001, &got[n])) {
            assert_true(n < 3);
            n++;
        }
    }
    n += grid_loc_timeout(l, 99999, 500, &got[n]);
    if (n != 1 || got[0].edge != f)
        fail_msg("fault on the bank: %d decision(s), located %s", n, n ? grid_edge_id(b.topo, got[0].edge) : "-");
    assert_int_equal(got[0].onset_ms, 1000);
    assert_int_equal(got[0].by_timeout, 0);
    grid_loc_destroy(l);
    grid_sim_destroy(s);
    grid_built_free(&b);
    grid_topo_destroy(t);
}

int main(void)
{
    ref_set_shared();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alarm_transitions),
        cmocka_unit_test(test_alarm_rule_edits),
        cmocka_unit_test(test_default_rules),
        cmocka_unit_test(test_locate_ieee123_every_section),
        cmocka_unit_test(test_locate_case33bw_every_branch),
        cmocka_unit_test(test_locate_two_feeders),
        cmocka_unit_test(test_locate_claimed),
        cmocka_unit_test(test_locate_bank_out_of_order),
        cmocka_unit_test(test_locate_bank_stale_clear),
        cmocka_unit_test(test_locate_lagging_bucket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
