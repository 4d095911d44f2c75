/* test_grid_plan.c: for EVERY single-section fault on IEEE 123 (both files) and on
 * case33bw (as published, and with ratings that bind), the plan isolates exactly the
 * faulted section and restores the largest restorable load within ratings and radiality,
 * compared with the independent brute-force reference in grid_ref.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "grid.h"
#include "grid_ref.h"

static void test_ieee123_every_fault(void **state)
{
    (void)state;
    grid_topo *t = load("ieee123/IEEE123Switches.dss");
    check_all_faults(t, "ieee123");
    /* hand-checked: a fault on L60 (60-61) trips Sw2, isolates with Sw4 and Sw6, and Sw7
     * picks up the 1425 kW beyond Sw4 */
    grid_plan p;
    grid_diag d = {0};
    assert_int_equal(grid_plan_make(t, grid_edge_find(t, "Line.L60"), &p, &d), 0);
    assert_int_equal(p.nsteps, 4);
    assert_string_equal(grid_edge_id(t, p.steps[0].edge), "Line.Sw2");
    assert_int_equal(p.steps[0].reason, GRID_R_TRIP);
    assert_string_equal(grid_edge_id(t, p.steps[3].edge), "Line.Sw7");
    assert_int_equal(p.steps[3].reason, GRID_R_TIE);
    assert_true(p.interrupted_kw == 1975 && p.restored_kw == 1425 && p.lost_kw == 550);
    grid_plan_free(&p);
    grid_topo_destroy(t);
    t = load("ieee123/IEEE123Master.dss");
    check_all_faults(t, "ieee123-master");
    grid_topo_destroy(t);
}

static void test_case33bw_every_fault(void **state)
{
    (void)state;
    grid_topo *t = load("case33bw.m");
    check_all_faults(t, "case33bw");
    /* hand-checked: 7-8 trips itself; 21-8 picks up 8..18 (875 kW) */
    grid_plan p;
    grid_diag d = {0};
    assert_int_equal(grid_plan_make(t, grid_edge_find(t, "7-8"), &p, &d), 0);
    assert_true(p.interrupted_kw == 875 && p.restored_kw == 875);
    grid_plan_free(&p);
    grid_topo_destroy(t);
}

/* case33bw with rateA set on branches from a fixed pseudo-random sequence, so that
 * ratings bind: the plan must still match the brute force. */
static char *rated_case33(const char *text, unsigned seed)
{
    size_t n = strlen(text);
    char *out = malloc(n * 2 + 4096), *o = out;
    const char *br = strstr(text, "mpc.branch = [");
    const char *end = br ? strstr(br, "];") : NULL;
    assert_non_null(end);
    memcpy(o, text, (size_t)(br - text));
    o += br - text;
    o += sprintf(o, "mpc.branch = [\n");
    const char *line = strchr(br, '\n') + 1;
    while (line < end) {
        double v[13];
        int k = sscanf(line, "%lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf", &v[0], &v[1],
                       &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11], &v[12]);
        if (k == 13) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = seed >> 16;
            v[5] = (r % 3 == 0) ? 0.2 + (r % 97) / 40.0 : 0;   /* MVA; a third rated */
            o += sprintf(o, "%g %g %g %g %g %g 0 0 0 0 %g -360 360;\n", v[0], v[1], v[2], v[3],
                         v[4], v[5], v[10]);
        }
        line = strchr(line, '\n') + 1;
    }
    strcpy(o, end);
    return out;
}

static void test_case33bw_rated(void **state)
{
    (void)state;
    char p[1200];
    snprintf(p, sizeof p, "%s/data/grid/case33bw.m", shared);
    char *text;
    size_t len;
    grid_diag d = {.quiet = 1};
    assert_int_equal(grid_read_file(p, &text, &len, &d), 0);
    rating_rejections = 0;
    for (unsigned seed = 1; seed <= 12; seed++) {
        char *v = rated_case33(text, seed);
        grid_topo *t = NULL;
        if (grid_load_matpower_text("case33bw-rated.m", v, strlen(v), &t, &d))
            fail_msg("%s", d.error);
        int rated = 0;
        for (int32_t e = 0; e < t->nedge; e++)
            rated += t->edge[e].rating_kw > 0;
        assert_true(rated > 3);
        char what[32];
        snprintf(what, sizeof what, "case33bw seed %u", seed);
        check_all_faults(t, what);
        grid_topo_destroy(t);
        free(v);
    }
    free(text);
    assert_true(rating_rejections > 0);   /* the ratings did bind somewhere */
}

/* Two sources and ratings in OpenDSS form (normamps, transformer kVA): a feeder whose tie
 * can carry only one of two islands. */
static void test_two_sources_capacity(void **state)
{
    (void)state;
    const char *txt =
        "New Circuit.a bus1=S1 basekv=10\n"
        "New Vsource.b bus1=S2 basekv=10\n"
        "New Line.B1 S1 A switch=yes\n"
        "New Line.LA1 A B\nNew Line.K1 B C switch=yes\nNew Line.LC C D\n"
        "New Line.K2 B E switch=yes\nNew Line.LE E F\n"
        "New Transformer.T2 buses=[S2 X] kva=300\n"   /* the second feeder: 300 kVA */
        "New Line.LX X Y normamps=1000\n"
        "New Line.Tie1 D Y switch=yes\nopen Line.Tie1\n"
        "New Line.Tie2 F Y switch=yes\nopen Line.Tie2\n"
        "New Load.a A kW=100\nNew Load.b B kW=50\nNew Load.d D kW=200\nNew Load.f F kW=150\n"
        "New Load.y Y kW=100\n"
        "New Line.Q1 Q R\nNew Line.KQ R T switch=yes\nNew Load.q Q kW=7\n";   /* never fed */
    grid_diag d = {.quiet = 1};
    grid_topo *t = NULL;
    if (grid_load_opendss_text("two.dss", txt, strlen(txt), 0, &t, &d))
        fail_msg("%s", d.error);
    rating_rejections = 0;
    check_all_faults(t, "two-sources");
    assert_true(rating_rejections > 0);
    /* fault on LA1: B1 trips, K1/K2 isolate; 200 spare kVA: Tie1 (200 kW) fits, both
     * (350 kW) do not; the search takes the larger island that fits */
    grid_plan p;
    assert_int_equal(grid_plan_make(t, grid_edge_find(t, "Line.LA1"), &p, &d), 0);
    assert_true(p.interrupted_kw == 500);
    assert_true(p.restored_kw == 200);
    assert_string_equal(grid_edge_id(t, p.steps[p.nsteps - 1].edge), "Line.Tie1");
    grid_plan_free(&p);
    /* a fault in a part no source feeds interrupts nothing */
    assert_int_equal(grid_plan_make(t, grid_edge_find(t, "Line.Q1"), &p, &d), 0);
    assert_true(p.interrupted_kw == 0 && p.lost_kw == 0 && p.tripped == -1);
    grid_plan_free(&p);
    grid_topo_destroy(t);
}

int main(void)
{
    ref_set_shared();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ieee123_every_fault),
        cmocka_unit_test(test_case33bw_every_fault),
        cmocka_unit_test(test_case33bw_rated),
        cmocka_unit_test(test_two_sources_capacity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
