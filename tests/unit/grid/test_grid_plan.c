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
#include <time.h>
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

static void assert_same_plan(const grid_topo *t, const grid_plan *a, const grid_plan *b)
{
    const char *id = grid_edge_id(t, a->fault);
    if (a->tripped != b->tripped || a->nsteps != b->nsteps || a->section_buses != b->section_buses)
        fail_msg("%s: tripped %d/%d steps %d/%d section %d/%d", id, a->tripped, b->tripped,
                 a->nsteps, b->nsteps, a->section_buses, b->section_buses);
    for (int i = 0; i < a->nsteps; i++) {
        const grid_step *x = &a->steps[i], *y = &b->steps[i];
        if (x->edge != y->edge || x->close != y->close || x->reason != y->reason ||
            x->kw != y->kw || x->via != y->via)
            fail_msg("%s: step %d: %s/%s", id, i, grid_edge_id(t, x->edge), grid_edge_id(t, y->edge));
    }
    assert_true(a->interrupted_kw == b->interrupted_kw && a->lost_kw == b->lost_kw);
    assert_true(a->restored_kw == b->restored_kw && a->total_kw == b->total_kw);
    assert_true(a->searched == b->searched && a->exhaustive == b->exhaustive);
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The focused plan (grid_plan_make_ws) equals the whole-grid plan for random faults on a
 * built grid of IEEE 123 copies tied together (20,000 devices; STROM_PLAN_DEVICES for
 * more), also after plans were applied to the topology's switch states (the dispatcher's
 * way: a workspace re-used while states change). Prints the time per plan (not asserted). */
static void test_focused_equals_whole(void **state)
{
    (void)state;
    grid_topo *tm = load("ieee123/IEEE123Switches.dss");
    const char *env = getenv("STROM_PLAN_DEVICES");
    int64_t devices = env ? atoll(env) : 20000;
    grid_built b;
    grid_diag d = {.quiet = 1};
    assert_int_equal(grid_build(tm, devices, 1, &b, &d), 0);
    grid_topo *t = b.topo;
    grid_plan_ws *fw = grid_plan_ws_create(t), *ww = grid_plan_ws_create(t);
    assert_non_null(fw);
    assert_non_null(ww);
    grid_plan_ws_whole(ww, 1);
    enum { N = 300 };
    double ft[N], wt[N];
    unsigned seed = 12345;
    int restored = 0;
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        int32_t f = (int32_t)((seed >> 8) % (unsigned)t->nedge);
        grid_plan a, c;
        double t0 = now_ms();
        assert_int_equal(grid_plan_make_ws(fw, f, &a, &d), 0);
        double t1 = now_ms();
        assert_int_equal(grid_plan_make_ws(ww, f, &c, &d), 0);
        ft[i] = t1 - t0;
        wt[i] = now_ms() - t1;
        assert_same_plan(t, &a, &c);
        restored += a.restored_kw > 0;
        if (i % 3 == 0)   /* apply every third plan: later plans start from changed states */
            for (int s = 0; s < a.nsteps; s++)
                t->edge[a.steps[s].edge].closed = a.steps[s].close;
        grid_plan_free(&a);
        grid_plan_free(&c);
    }
    assert_true(restored > 10);   /* ties were exercised */
    qsort(ft, N, sizeof ft[0], cmp_dbl);
    qsort(wt, N, sizeof wt[0], cmp_dbl);
    printf("plan on %lld devices (%d buses, %d edges): focused median %.3f ms p99 %.3f ms; "
           "whole-grid median %.3f ms p99 %.3f ms\n", (long long)b.ndev, t->nbus, t->nedge,
           ft[N / 2], ft[N * 99 / 100], wt[N / 2], wt[N * 99 / 100]);
    grid_plan_ws_destroy(fw);
    grid_plan_ws_destroy(ww);
    grid_built_free(&b);
    grid_topo_destroy(tm);
}

int main(void)
{
    ref_set_shared();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ieee123_every_fault),
        cmocka_unit_test(test_case33bw_every_fault),
        cmocka_unit_test(test_case33bw_rated),
        cmocka_unit_test(test_two_sources_capacity),
        cmocka_unit_test(test_focused_equals_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
