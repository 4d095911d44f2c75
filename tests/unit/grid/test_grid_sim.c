/* test_grid_sim.c: the simulator's model (apps/grid/sim.c) on a small feeder whose answers
 * are worked out by hand: source s - L1 - a - Sw1 (switch) - b - L2 - c - L3 - e, and a
 * branch a - L4 - d; loads c 100 kW, e 50 kW, d 30 kW. A fault on L2: fault current on the
 * breaker, L1, Sw1 and L2; L3 and the meters of c and e behind it read undervoltage and no
 * current; L4 and the meter of d are untouched; after the hold time Sw1 (the nearest
 * switchable device upstream) is open and everything behind it reads zero. Plus the
 * steady state (flows, I = P / (sqrt3 U pf), GB limits) and the other fault types. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "grid.h"
#include "sim.h"

static const char feeder[] =
    "New Circuit.c bus1=s\n"
    "New Line.L1 bus1=s bus2=a\n"
    "New Line.Sw1 bus1=a bus2=b switch=yes\n"
    "New Line.L2 bus1=b bus2=c\n"
    "New Line.L3 bus1=c bus2=e\n"
    "New Line.L4 bus1=a bus2=d\n"
    "New Load.lc bus1=c kW=100\n"
    "New Load.le bus1=e kW=50\n"
    "New Load.ld bus1=d kW=30\n";

typedef struct fix {
    grid_topo *t;
    grid_built b;
    grid_sim *s;
} fix;

static int setup(void **state)
{
    static fix f;
    grid_diag d = {.quiet = 1};
    memset(&f, 0, sizeof f);
    if (grid_load_opendss_text("small.dss", feeder, sizeof feeder - 1, 0, &f.t, &d) ||
        grid_build(f.t, 1, 0, &f.b, &d))
        return -1;
    f.s = grid_sim_create(&f.b, 42, &d);
    *state = &f;
    return f.s ? 0 : -1;
}

static int teardown(void **state)
{
    fix *f = *state;
    grid_sim_destroy(f->s);
    grid_built_free(&f->b);
    grid_topo_destroy(f->t);
    return 0;
}

static int64_t dev(const fix *f, const char *id)
{
    for (int64_t i = 0; i < f->b.ndev; i++)
        if (!strcmp(grid_name(f->b.topo, f->b.dev[i].id), id))
            return i;
    fail_msg("no device %s", id);
    return -1;
}

/* Load behind each device by hand (kW). */
static const struct { const char *id; double kw; } behind[] = {
    {"F1/Breaker", 180}, {"F1/Line.L1", 180}, {"F1/Line.Sw1", 150}, {"F1/Line.L2", 150},
    {"F1/Line.L3", 50}, {"F1/Line.L4", 30}, {"F1/Meter.c", 100}, {"F1/Meter.e", 50},
    {"F1/Meter.d", 30}};

static void test_steady_state(void **state)
{
    fix *f = *state;
    assert_int_equal(f->b.ndev, 9);
    for (size_t k = 0; k < sizeof behind / sizeof behind[0]; k++) {
        int64_t i = dev(f, behind[k].id);
        for (int t = 0; t < 20; t++) {
            grid_reading r;
            grid_sim_read(f->s, i, t, &r);
            assert_int_equal(grid_sim_region(f->s, i), GRID_SIM_NORMAL);
            assert_true(r.present && r.breaker_closed);
            /* load curve 0.85..0.95 of the load behind, +-2% noise */
            assert_true(r.p_kw >= behind[k].kw * 0.85 * 0.98 - 1e-9);
            assert_true(r.p_kw <= behind[k].kw * 0.95 * 1.02 + 1e-9);
            assert_true(r.voltage >= 9.3 && r.voltage <= 10.7);
            assert_true(r.freq >= 49.8 && r.freq <= 50.2);
            assert_true(r.pf >= 0.8 && r.pf < 1);
            assert_true(fabs(r.current - r.p_kw / (sqrt(3.0) * r.voltage * r.pf)) < 1e-9);
            assert_true(fabs(r.q_kvar - r.p_kw * tan(acos(r.pf))) < 1e-6);
        }
    }
}

static void expect(fix *f, const char *id, double t, int region, double amin, double amax,
                   double vmin, double vmax, int closed)
{
    int64_t i = dev(f, id);
    grid_reading r;
    grid_sim_read(f->s, i, t, &r);
    if (grid_sim_region(f->s, i) != region || r.current < amin || r.current > amax ||
        r.voltage < vmin || r.voltage > vmax || r.breaker_closed != closed)
        fail_msg("%s at %.1f s: region %d (want %d), %.1f A, %.3f kV, closed %d", id, t,
                 grid_sim_region(f->s, i), region, r.current, r.voltage, r.breaker_closed);
}

/* The devices listed by grid_sim_changed, as a sorted comma-separated list of ids. */
static void changed_ids(const grid_sim *s, const grid_built *b, char *out, size_t cap)
{
    int64_t n;
    const int64_t *c = grid_sim_changed(s, &n);
    const char *ids[64];
    assert_true(n < 64);
    for (int64_t j = 0; j < n; j++)
        ids[j] = grid_name(b->topo, b->dev[c[j]].id);
    for (int64_t j = 1; j < n; j++)   /* insertion sort */
        for (int64_t k = j; k > 0 && strcmp(ids[k - 1], ids[k]) > 0; k--) {
            const char *x = ids[k];
            ids[k] = ids[k - 1];
            ids[k - 1] = x;
        }
    size_t o = 0;
    out[0] = 0;
    for (int64_t j = 0; j < n; j++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s", j ? "," : "", ids[j]);
}

static void test_line_fault(void **state)
{
    fix *f = *state;
    grid_diag d = {0};
    char ids[1024];
    expect(f, "F1/Line.L1", 9.5, GRID_SIM_NORMAL, 5, 15, 9.3, 10.7, 1);
    grid_sim_fault ft = {.type = GRID_FAULT_LINE, .edge = grid_edge_find(f->b.topo, "F1/Line.L2"),
                         .dev = -1, .t_s = 10};
    assert_int_equal(grid_sim_inject(f->s, &ft, &d), 0);
    assert_int_equal(ft.dev, dev(f, "F1/Line.Sw1"));
    /* reported by exception at the fault: the path (fault current) and what is behind the
     * fault (undervoltage, no current); L4 and the meter of d do not change */
    changed_ids(f->s, &f->b, ids, sizeof ids);
    assert_string_equal(ids, "F1/Breaker,F1/Line.L1,F1/Line.L2,F1/Line.L3,F1/Line.Sw1,F1/Meter.c,F1/Meter.e");
    assert_true(grid_sim_next_trip(f->s) == 12);
    double fa = GRID_SIM_FAULT_A, uv = GRID_SIM_NOMINAL_KV * GRID_SIM_UV_PU;
    const char *path[] = {"F1/Breaker", "F1/Line.L1", "F1/Line.Sw1", "F1/Line.L2"};
    for (double t = 10; t < 12; t += 0.5) {
        grid_sim_event ev;
        assert_int_equal(grid_sim_step(f->s, t, &ev), 0);   /* no trip before the hold time */
        for (int k = 0; k < 4; k++)
            expect(f, path[k], t, GRID_SIM_PATH, fa * 0.97, fa * 1.03, 9.3, 10.7, 1);
        expect(f, "F1/Line.L3", t, GRID_SIM_DOWN, 0, 0, uv * 0.95, uv * 1.05, 1);
        expect(f, "F1/Meter.c", t, GRID_SIM_DOWN, 0, 0, uv * 0.95, uv * 1.05, 1);
        expect(f, "F1/Meter.e", t, GRID_SIM_DOWN, 0, 0, uv * 0.95, uv * 1.05, 1);
        expect(f, "F1/Line.L4", t, GRID_SIM_NORMAL, 1, 5, 9.3, 10.7, 1);
        expect(f, "F1/Meter.d", t, GRID_SIM_NORMAL, 1, 5, 9.3, 10.7, 1);
    }
    grid_sim_event ev;
    assert_int_equal(grid_sim_step(f->s, 12, &ev), 1);
    assert_true(ev.t_s == 12 && ev.dev == dev(f, "F1/Line.Sw1") && ev.fault == 0);
    assert_int_equal(grid_sim_step(f->s, 12, &ev), 0);
    assert_true(isinf(grid_sim_next_trip(f->s)));
    /* at the trip: the breaker and L1 lose the load behind Sw1, Sw1 opens, the rest dies */
    changed_ids(f->s, &f->b, ids, sizeof ids);
    assert_string_equal(ids, "F1/Breaker,F1/Line.L1,F1/Line.L2,F1/Line.L3,F1/Line.Sw1,F1/Meter.c,F1/Meter.e");
    for (double t = 12; t < 15; t += 0.5) {
        expect(f, "F1/Line.Sw1", t, GRID_SIM_NORMAL, 0, 0, 9.3, 10.7, 0);   /* open, live side */
        expect(f, "F1/Line.L2", t, GRID_SIM_DEAD, 0, 0, 0, 0, 1);
        expect(f, "F1/Line.L3", t, GRID_SIM_DEAD, 0, 0, 0, 0, 1);
        expect(f, "F1/Meter.c", t, GRID_SIM_DEAD, 0, 0, 0, 0, 1);
        expect(f, "F1/Line.L4", t, GRID_SIM_NORMAL, 1, 5, 9.3, 10.7, 1);
        /* the breaker now carries d's 30 kW only */
        expect(f, "F1/Breaker", t, GRID_SIM_NORMAL, 1, 30 * 0.95 * 1.02 / (sqrt(3.0) * 9.3 * 0.86), 9.3, 10.7, 1);
    }
}

/* One switching row applied; the number of edges changed. */
static int sw(fix *f, const char *edge, int closed, double t)
{
    grid_switch_change c = {.edge = grid_edge_find(f->b.topo, edge), .closed = closed};
    assert_true(c.edge >= 0);
    return grid_sim_switch(f->s, &c, 1, t);
}

/* Two copies of s - L1 - a - Sw1 - b - L2 - c - Sw2 - d - L3 - e (loads c 100 kW, e 50 kW),
 * tied at e by the normally-open Tie.F1-F2. A fault on F1's L2 trips F1's Sw1; the
 * dispatcher's switching (open F1 Sw2, close the tie) is followed: F1's d-e is fed from
 * F2 again; closing F1 Sw2 onto the faulted L2 starts a new arc that trips F1 Sw2. */
static const char tie_feeder[] = "New Circuit.c bus1=s\nNew Line.L1 bus1=s bus2=a\n"
                                 "New Line.Sw1 bus1=a bus2=b switch=yes\nNew Line.L2 bus1=b bus2=c\n"
                                 "New Line.Sw2 bus1=c bus2=d switch=yes\nNew Line.L3 bus1=d bus2=e\n"
                                 "New Load.lc bus1=c kW=100\nNew Load.le bus1=e kW=50\n";
static const char restored_ids[] = "F1/Line.L3,F1/Line.Sw2,F1/Meter.e,F2/Breaker,F2/Line.L1,F2/Line.L2,"
                                   "F2/Line.L3,F2/Line.Sw1,F2/Line.Sw2,Tie.F1-F2";

/* The two tied copies, a fault on F1's L2 at 1 s and its trip at 3 s. */
static void tie_setup(fix *f)
{
    grid_diag d = {.quiet = 1};
    memset(f, 0, sizeof *f);
    assert_int_equal(grid_load_opendss_text("tie.dss", tie_feeder, sizeof tie_feeder - 1, 0, &f->t, &d), 0);
    assert_int_equal(grid_build(f->t, 2 * grid_devices_per_copy(f->t) + 1, 1, &f->b, &d), 0);
    assert_int_equal(f->b.copies, 2);
    f->s = grid_sim_create(&f->b, 7, &d);
    assert_non_null(f->s);
    grid_sim_fault ft = {.type = GRID_FAULT_LINE, .edge = grid_edge_find(f->b.topo, "F1/Line.L2"), .dev = -1, .t_s = 1};
    assert_int_equal(grid_sim_inject(f->s, &ft, &d), 0);
    grid_sim_event ev;
    assert_int_equal(grid_sim_step(f->s, 3, &ev), 1);
    assert_true(ev.dev == dev(f, "F1/Line.Sw1"));
}

static void tie_teardown(fix *f)
{
    grid_sim_destroy(f->s);
    grid_built_free(&f->b);
    grid_topo_destroy(f->t);
}

static void test_follow_switching(void **state)
{
    (void)state;
    fix f;
    char ids[1024];
    tie_setup(&f);
    grid_sim_event ev;
    expect(&f, "F1/Line.L3", 3, GRID_SIM_DEAD, 0, 0, 0, 0, 1);
    /* a change to a state already in force changes nothing */
    assert_int_equal(sw(&f, "F1/Line.Sw1", 0, 3.1), 0);
    /* isolate: F1 Sw2 opens (dead on both sides: only its own state changes) */
    assert_int_equal(sw(&f, "F1/Line.Sw2", 0, 3.2), 1);
    changed_ids(f.s, &f.b, ids, sizeof ids);
    assert_string_equal(ids, "F1/Line.Sw2");
    /* restore: the tie closes; F1's L3 and meter e are fed from F2, whose path carries
     * 50 kW more; F1 Sw2 now has a live side */
    assert_int_equal(sw(&f, "Tie.F1-F2", 1, 3.3), 1);
    changed_ids(f.s, &f.b, ids, sizeof ids);
    assert_string_equal(ids, restored_ids);
    double a50 = 50 * 0.85 * 0.98 / (sqrt(3.0) * 10.7), b50 = 50 * 0.95 * 1.02 / (sqrt(3.0) * 9.3 * 0.86);
    for (double x = 3.3; x < 5; x += 0.5) {
        expect(&f, "F1/Line.L3", x, GRID_SIM_NORMAL, 0, 0, 9.3, 10.7, 1);   /* fed, nothing behind */
        expect(&f, "Tie.F1-F2", x, GRID_SIM_NORMAL, a50, b50, 9.3, 10.7, 1);
        expect(&f, "F1/Meter.e", x, GRID_SIM_NORMAL, a50, b50, 9.3, 10.7, 1);
        expect(&f, "F2/Breaker", x, GRID_SIM_NORMAL, 4 * a50, 4 * b50, 9.3, 10.7, 1);   /* 200 kW */
        expect(&f, "F1/Line.L2", x, GRID_SIM_DEAD, 0, 0, 0, 0, 1);
        expect(&f, "F1/Meter.c", x, GRID_SIM_DEAD, 0, 0, 0, 0, 1);
    }
    assert_true(isinf(grid_sim_next_trip(f.s)));
    /* closing F1 Sw2 onto the faulted L2: fault current from F2 through the tie, then F1
     * Sw2 (the nearest switchable device upstream on the new path) trips */
    assert_int_equal(sw(&f, "F1/Line.Sw2", 1, 6), 1);
    expect(&f, "Tie.F1-F2", 6.5, GRID_SIM_PATH, 3880, 4120, 9.3, 10.7, 1);
    expect(&f, "F1/Line.L2", 6.5, GRID_SIM_PATH, 3880, 4120, 9.3, 10.7, 1);
    assert_true(grid_sim_next_trip(f.s) == 8);
    assert_int_equal(grid_sim_step(f.s, 8, &ev), 1);
    assert_true(ev.dev == dev(&f, "F1/Line.Sw2") && ev.fault == 0);
    expect(&f, "F1/Line.L3", 8, GRID_SIM_NORMAL, 0, 0, 9.3, 10.7, 1);
    expect(&f, "F1/Meter.e", 8, GRID_SIM_NORMAL, a50, b50, 9.3, 10.7, 1);
    expect(&f, "F1/Line.L2", 8, GRID_SIM_DEAD, 0, 0, 0, 0, 1);
    tie_teardown(&f);
}

/* The dispatcher's switching as one batch (isolate and restore, plus a row of an edge
 * already in that state): applied at once, the union of the changes reported once. */
static void test_switching_batch(void **state)
{
    (void)state;
    fix f;
    char ids[1024];
    tie_setup(&f);
    grid_switch_change c[3] = {{.edge = grid_edge_find(f.b.topo, "F1/Line.Sw1"), .closed = 0},
                               {.edge = grid_edge_find(f.b.topo, "F1/Line.Sw2"), .closed = 0},
                               {.edge = grid_edge_find(f.b.topo, "Tie.F1-F2"), .closed = 1}};
    assert_int_equal(grid_sim_switch(f.s, c, 3, 3.5), 2);
    changed_ids(f.s, &f.b, ids, sizeof ids);
    assert_string_equal(ids, restored_ids);
    assert_true(isinf(grid_sim_next_trip(f.s)));   /* the faulted L2 stays unfed */
    assert_int_equal(grid_sim_switch(f.s, c, 3, 3.6), 0);
    tie_teardown(&f);
}

static void test_other_faults(void **state)
{
    fix *f = *state;
    grid_diag d = {0};
    int64_t m = dev(f, "F1/Meter.d"), l4 = dev(f, "F1/Line.L4");
    grid_sim_fault a = {.type = GRID_FAULT_FREQ, .edge = -1, .dev = -1, .t_s = 20};
    grid_sim_fault b = {.type = GRID_FAULT_OVERTEMP, .edge = -1, .dev = l4, .t_s = 20};
    grid_sim_fault c = {.type = GRID_FAULT_DROPOUT, .edge = -1, .dev = m, .t_s = 25};
    assert_int_equal(grid_sim_inject(f->s, &a, &d), 0);
    assert_int_equal(grid_sim_inject(f->s, &b, &d), 0);
    assert_int_equal(grid_sim_inject(f->s, &c, &d), 0);
    grid_reading r;
    grid_sim_read(f->s, l4, 19, &r);
    assert_true(r.freq > 49.8 && r.temperature < 60);
    grid_sim_read(f->s, l4, 23, &r);
    assert_true(fabs(r.freq - 49.4) < 0.0031);
    assert_true(fabs(r.temperature - 110) < 1e-9);
    grid_sim_read(f->s, l4, 40, &r);
    assert_true(fabs(r.temperature - 140) < 1e-9);
    grid_sim_read(f->s, m, 24, &r);
    assert_true(r.present);
    grid_sim_read(f->s, m, 25, &r);
    assert_false(r.present);
    /* bad injections say why */
    grid_sim_fault bad = {.type = GRID_FAULT_OVERTEMP, .edge = -1, .dev = 99, .t_s = 1};
    assert_int_equal(grid_sim_inject(f->s, &bad, &d), -1);
    assert_non_null(strstr(d.error, "no device 99"));
}

static void test_fault_on_open_section(void **state)
{
    (void)state;
    static const char txt[] = "New Circuit.c bus1=s\nNew Line.L1 bus1=s bus2=a\n"
                              "New Line.T bus1=a bus2=b switch=yes enabled=yes\nOpen Line.T\n"
                              "New Load.l bus1=b kW=10\n";
    grid_diag d = {.quiet = 1};
    grid_topo *t;
    grid_built b;
    assert_int_equal(grid_load_opendss_text("open.dss", txt, sizeof txt - 1, 0, &t, &d), 0);
    assert_int_equal(grid_build(t, 1, 0, &b, &d), 0);
    grid_sim *s = grid_sim_create(&b, 1, &d);
    assert_non_null(s);
    grid_sim_fault ft = {.type = GRID_FAULT_LINE, .edge = grid_edge_find(b.topo, "F1/Line.T"), .dev = -1};
    assert_int_equal(grid_sim_inject(s, &ft, &d), -1);
    assert_non_null(strstr(d.error, "F1/Line.T is open or not energised"));
    grid_sim_destroy(s);
    grid_built_free(&b);
    grid_topo_destroy(t);
}

/* Switching re-energises only the components it touches: after every batch of random
 * switching (1-3 edges, on a built grid of tied IEEE 123 copies) every device's region and
 * load equal those of a simulator made afresh on the same switch states (a whole-grid
 * pass). */
static void test_local_energise(void **state)
{
    (void)state;
    grid_diag d = {.quiet = 1};
    grid_topo *tm = NULL;
    grid_built b;
    const char *sh = getenv("STROM_SHARED");
    char path[1200];
    snprintf(path, sizeof path, "%s/data/grid/ieee123/IEEE123Switches.dss", sh ? sh : "../shared");
    if (grid_load(path, &tm, &d))
        fail_msg("%s", d.error);
    assert_int_equal(grid_build(tm, 5000, 1, &b, &d), 0);
    grid_sim *s = grid_sim_create(&b, 3, &d);
    assert_non_null(s);
    int32_t sw[4096], nsw = 0;
    for (int32_t e = 0; e < b.topo->nedge && nsw < 4096; e++)
        if (b.topo->edge[e].switchable)
            sw[nsw++] = e;
    unsigned seed = 99;
    int changed = 0;
    for (int round = 0; round < 60; round++) {
        grid_switch_change c[3];
        int n = 1 + round % 3;
        for (int j = 0; j < n; j++) {
            seed = seed * 1103515245u + 12345u;
            int32_t e = sw[(seed >> 8) % (unsigned)nsw];
            c[j] = (grid_switch_change){.edge = e, .closed = !grid_sim_closed(s, e)};
        }
        changed += grid_sim_switch(s, c, n, round) > 0;
        if (round % 6 != 5)
            continue;
        for (int32_t e = 0; e < b.topo->nedge; e++)
            b.topo->edge[e].closed = (uint8_t)grid_sim_closed(s, e);
        grid_sim *fresh = grid_sim_create(&b, 3, &d);
        assert_non_null(fresh);
        for (int64_t i = 0; i < b.ndev; i++)
            if (grid_sim_region(s, i) != grid_sim_region(fresh, i) ||
                grid_sim_load_kw(s, i) != grid_sim_load_kw(fresh, i))
                fail_msg("round %d: %s: region %d / %d, %.3f / %.3f kW", round,
                         grid_name(b.topo, b.dev[i].id), grid_sim_region(s, i), grid_sim_region(fresh, i),
                         grid_sim_load_kw(s, i), grid_sim_load_kw(fresh, i));
        grid_sim_destroy(fresh);
    }
    assert_true(changed > 50);
    grid_sim_destroy(s);
    grid_built_free(&b);
    grid_topo_destroy(tm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steady_state),
        cmocka_unit_test(test_line_fault),
        cmocka_unit_test(test_other_faults),
        cmocka_unit_test(test_fault_on_open_section),
        cmocka_unit_test(test_follow_switching),
        cmocka_unit_test(test_switching_batch),
        cmocka_unit_test(test_local_energise),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
