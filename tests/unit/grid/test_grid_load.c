/* test_grid_load.c: the OpenDSS and MATPOWER loaders against facts of the real feeder files
 * checked by hand (and by a separate script over the files: bus, line, load counts and
 * total load), warnings for skipped statements, and errors naming file and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "grid.h"

static char shared[1024];

static const char *data(const char *rel, char *buf, size_t n)
{
    snprintf(buf, n, "%s/data/grid/%s", shared, rel);
    return buf;
}

/* Warnings collected for inspection. */
typedef struct warns {
    char text[64][300];
    int n;
} warns;

static void collect(void *ctx, const char *msg)
{
    warns *w = ctx;
    if (w->n < 64)
        snprintf(w->text[w->n++], sizeof w->text[0], "%s", msg);
}

static int any_warning(const warns *w, const char *needle)
{
    for (int i = 0; i < w->n; i++)
        if (strstr(w->text[i], needle))
            return 1;
    return 0;
}

static grid_topo *load_ok(const char *path, warns *w)
{
    grid_diag d = {.warn = collect, .ctx = w};
    grid_topo *t = NULL;
    int rc = grid_load(path, &t, &d);
    if (rc)
        fail_msg("%s: %s", path, d.error);
    return t;
}

static const grid_edge *edge(const grid_topo *t, const char *id)
{
    int32_t e = grid_edge_find(t, id);
    if (e < 0)
        fail_msg("no edge %s", id);
    return &t->edge[e];
}

static void test_ieee123(void **state)
{
    (void)state;
    char p[1200];
    warns w = {0};
    grid_topo *t = load_ok(data("ieee123/IEEE123Switches.dss", p, sizeof p), &w);
    /* 118 line sections + 8 switches (grep -ci '^new line\.' = 126), 8 transformers
     * (reg1a, XFM1, reg2a, reg3a, reg4a, reg3c, reg4b, reg4c), 130 buses, 91 loads, 3490 kW */
    assert_int_equal(grid_count_kind(t, GRID_LINE), 118);
    assert_int_equal(grid_count_kind(t, GRID_SWITCH), 8);
    assert_int_equal(grid_count_kind(t, GRID_TRANSFORMER), 8);
    assert_int_equal(t->nedge, 134);
    assert_int_equal(t->nbus, 130);
    assert_int_equal(t->nloads, 91);
    assert_true(fabs(grid_total_load(t) - 3490.0) < 1e-9);
    assert_true(fabs(t->base_kv - 4.16) < 1e-12);
    /* the source is bus 150 */
    int32_t src = grid_bus_find(t, "150");
    assert_true(src >= 0 && t->bus[src].source);
    int nsrc = 0;
    for (int32_t b = 0; b < t->nbus; b++)
        nsrc += t->bus[b].source;
    assert_int_equal(nsrc, 1);
    /* Sw1..Sw6 normally closed, Sw7 151-300 and Sw8 54-94 (54.1 -> 54) opened */
    char id[32];
    for (int i = 1; i <= 8; i++) {
        snprintf(id, sizeof id, "Line.Sw%d", i);
        const grid_edge *x = edge(t, id);
        assert_true(x->switchable);
        assert_int_equal(x->closed, i <= 6);
        assert_int_equal(x->normal_closed, i <= 6);
    }
    const grid_edge *sw8 = edge(t, "Line.Sw8");
    assert_string_equal(grid_bus_name(t, sw8->a), "54");
    assert_string_equal(grid_bus_name(t, sw8->b), "94");
    const grid_edge *l115 = edge(t, "Line.L115");
    assert_string_equal(grid_bus_name(t, l115->a), "149");
    assert_string_equal(grid_bus_name(t, l115->b), "1");
    assert_int_equal(l115->kind, GRID_LINE);
    assert_true(l115->rating_kw == 0);   /* no normamps in the file: unbounded */
    /* ratings: kVA of transformers; banks of single-phase regulators add up */
    assert_true(edge(t, "Transformer.reg1a")->rating_kw == 5000);
    assert_true(edge(t, "Transformer.XFM1")->rating_kw == 150);
    assert_true(edge(t, "Transformer.reg4a")->rating_kw == 6000);   /* reg4a+b+c */
    assert_int_equal(edge(t, "Transformer.reg4b")->parallel, grid_edge_find(t, "Transformer.reg4a"));
    assert_true(edge(t, "Transformer.reg3a")->rating_kw == 4000);   /* reg3a+c */
    assert_true(edge(t, "Transformer.reg2a")->rating_kw == 2000);
    /* load S1a: 40 kW at bus 1 */
    assert_true(t->bus[grid_bus_find(t, "1")].load_kw == 40.0);
    /* skipped statements are named with file and line */
    assert_true(any_warning(&w, "IEEE123Switches.dss:9: skipped"));             /* Set ... */
    assert_true(any_warning(&w, "IEEE123Switches.dss:32") == 0);                /* Redirect: read */
    assert_true(any_warning(&w, "IEEELineCodes.DSS:7: skipped (element class linecode"));
    assert_true(any_warning(&w, "Capacitor.C83"));
    assert_true(any_warning(&w, "IEEE123Regulators.DSS:11: skipped (element class regcontrol"));        /* regcontrol */
    grid_topo_destroy(t);
}

static void test_ieee123_master(void **state)
{
    (void)state;
    char p[1200];
    warns w = {0};
    grid_topo *t = load_ok(data("ieee123/IEEE123Master.dss", p, sizeof p), &w);
    /* the Master file models the open points as switches to dummy buses, all closed */
    assert_int_equal(grid_count_kind(t, GRID_SWITCH), 8);
    for (int32_t e = 0; e < t->nedge; e++)
        assert_true(t->edge[e].closed);
    assert_true(grid_bus_find(t, "300_open") >= 0);
    assert_true(fabs(grid_total_load(t) - 3490.0) < 1e-9);
    grid_topo_destroy(t);
}

static void test_case33bw(void **state)
{
    (void)state;
    char p[1200];
    warns w = {0};
    grid_topo *t = load_ok(data("case33bw.m", p, sizeof p), &w);
    assert_int_equal(t->nbus, 33);
    assert_int_equal(t->nedge, 37);
    assert_int_equal(grid_count_kind(t, GRID_SWITCH), 37);   /* every branch switchable */
    assert_true(fabs(grid_total_load(t) - 3715.0) < 1e-9);   /* Baran & Wu: 3715 kW */
    assert_int_equal(t->nloads, 32);
    assert_true(fabs(t->base_kv - 12.66) < 1e-12);
    assert_true(t->bus[grid_bus_find(t, "1")].source);
    assert_true(t->bus[grid_bus_find(t, "24")].load_kw == 420);   /* kW, as the file says */
    const char *ties[] = {"21-8", "9-15", "12-22", "18-33", "25-29"};
    int open = 0;
    for (int32_t e = 0; e < t->nedge; e++) {
        open += !t->edge[e].closed;
        assert_true(t->edge[e].rating_kw == 0);   /* rateA 0: unbounded */
    }
    assert_int_equal(open, 5);
    for (int i = 0; i < 5; i++)
        assert_false(edge(t, ties[i])->closed);
    assert_true(edge(t, "2-19")->closed);
    assert_true(any_warning(&w, "case33bw.m:59: skipped (statement not modelled): mpc.gen"));
    grid_topo_destroy(t);
}

static grid_topo *mp_text(const char *text, grid_diag *d)
{
    grid_topo *t = NULL;
    if (grid_load_matpower_text("x.m", text, strlen(text), &t, d))
        return NULL;
    return t;
}

static void test_matpower_units_and_ratings(void **state)
{
    (void)state;
    /* no kW conversion: PD in MW; rateA in MVA; parallel branches get distinct ids */
    const char *txt = "function mpc = x\nmpc.baseMVA = 100;\nmpc.bus = [\n"
                      "1 3 0 0;\n2 1 1.5 0;\n3, 1, 0.25, 0 % comment\n];\n"
                      "mpc.branch = [ 1 2 0 0 0 5 0 0 0 0 1; 2 3 0 0 0 0 0 0 0 0 1;\n"
                      "2 3 0 0 0 0 0 0 0 0 0 ];\n";
    grid_diag d = {.quiet = 1};
    grid_topo *t = mp_text(txt, &d);
    assert_non_null(t);
    assert_true(fabs(grid_total_load(t) - 1750.0) < 1e-9);
    assert_true(edge(t, "1-2")->rating_kw == 5000);
    assert_true(edge(t, "2-3")->closed);
    assert_false(edge(t, "2-3#2")->closed);
    assert_int_equal(d.nwarn, 0);
    grid_topo_destroy(t);
}

/* Error text must start with "name:line:". */
static void expect_error(int rc, const grid_diag *d, const char *where)
{
    assert_int_equal(rc, -1);
    if (strncmp(d->error, where, strlen(where)))
        fail_msg("error '%s' does not start with '%s'", d->error, where);
}

static void dss_bad(const char *text, const char *where)
{
    grid_diag d = {.quiet = 1};
    grid_topo *t = NULL;
    int rc = grid_load_opendss_text("f.dss", text, strlen(text), 0, &t, &d);
    expect_error(rc, &d, where);
    assert_null(t);
}

static void mp_bad(const char *text, const char *where)
{
    grid_diag d = {.quiet = 1};
    grid_topo *t = NULL;
    int rc = grid_load_matpower_text("f.m", text, strlen(text), &t, &d);
    expect_error(rc, &d, where);
}

static void test_bad_files(void **state)
{
    (void)state;
    const char *c = "New Circuit.c bus1=a\n";
    char buf[512];
    snprintf(buf, sizeof buf, "%s! x\nNew Line.L1 bus1=a\n", c);
    dss_bad(buf, "f.dss:3: Line.L1 needs bus1 and bus2");
    snprintf(buf, sizeof buf, "%sNew Load.x bus1=a\n~ kW=abc\n", c);
    dss_bad(buf, "f.dss:3: kW=abc is not a number");
    snprintf(buf, sizeof buf, "%sNew Load.g bus1=a kW=-50\n", c);
    dss_bad(buf, "f.dss:2: Load.g: negative load (generation) is not modelled");
    snprintf(buf, sizeof buf, "%sNew Line.L1 bus1=[a b\n", c);
    dss_bad(buf, "f.dss:2: unterminated");
    snprintf(buf, sizeof buf, "%sopen Line.Nope terminal=1\n", c);
    dss_bad(buf, "f.dss:2: open Line.Nope: no such element");
    snprintf(buf, sizeof buf, "%sNew Line.L1 a b\nNew Line.L1 a c\n", c);
    dss_bad(buf, "f.dss:3: element Line.L1 defined twice");
    snprintf(buf, sizeof buf, "%s~ kw=3\n", "");
    dss_bad(buf, "f.dss:1: continuation without an element");
    snprintf(buf, sizeof buf, "%sNew Line\n", c);
    dss_bad(buf, "f.dss:2: New needs CLASS.NAME");
    snprintf(buf, sizeof buf, "%sRedirect other.dss\n", c);
    dss_bad(buf, "f.dss:2: Redirect is not allowed");
    dss_bad("New Line.L1 a b\n", "f.dss: no New Circuit");
    /* fuzz_grid_load: windings= was converted to int unchecked (UB for 1e112) */
    snprintf(buf, sizeof buf, "%sNew Transformer.T1 windings=1e112 buses=[a b]\n", c);
    dss_bad(buf, "f.dss:2: windings=1e112 out of range 1..3");
    snprintf(buf, sizeof buf, "%sNew Transformer.T1 windings=4 buses=[a b]\n", c);
    dss_bad(buf, "f.dss:2: windings=4 out of range 1..3");
    mp_bad("mpc.bus = [1 3 0 0;\n2 1 x 0];\nmpc.branch=[1 2 0 0 0 0 0 0 0 0 1];", "f.m:2: PD 'x' is not a number");
    mp_bad("mpc.bus = [1 3 0 0;\n2 1 -100 0];\nmpc.branch=[1 2 0 0 0 0 0 0 0 0 1];",
           "f.m:2: bus 2: negative PD (generation) is not modelled");
    mp_bad("mpc.bus = [1 3 0 0];\nmpc.branch=[\n1 2 0 0 0 0 0 0 0 0 1];", "f.m:3: branch 1-2: bus 2 is not in mpc.bus");
    mp_bad("mpc.bus = [1 3 0 0];\nmpc.branch=[\n1 1 0 0 0 0 0 1];", "f.m:3: mpc.branch row has 8 columns");
    mp_bad("mpc.bus = [1 3 0 0;\n", "f.m:1: unclosed bracket");
    mp_bad("mpc.bus = [1 1 0 0];\nmpc.branch=[1 1 0 0 0 0 0 0 0 0 1];", "f.m:1: no reference bus");
    mp_bad("mpc.bus = [1 3 0 0;\n1 1 0 0];\nmpc.branch=[1 1 0 0 0 0 0 0 0 0 1];", "f.m:2: bus 1 defined twice");
    mp_bad("mpc.bus = [1 3 0 0];\n", "f.m: no mpc.branch");
    /* a file that does not exist */
    grid_diag d = {.quiet = 1};
    grid_topo *t;
    assert_int_equal(grid_load("/nonexistent/x.dss", &t, &d), -1);
    assert_non_null(strstr(d.error, "/nonexistent/x.dss: cannot open"));
}

/* Redirect relative to the file, BusCoords, Vsource, switch= spellings, normamps rating,
 * `more`, phase suffixes, and a Redirect to a missing file named with file:line. */
static void test_opendss_features(void **state)
{
    (void)state;
    char dir[] = "/tmp/strom-grid-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[1200], sub[1200], coords[1200], bad[1200];
    snprintf(p, sizeof p, "%s/main.dss", dir);
    snprintf(sub, sizeof sub, "%s/part.dss", dir);
    snprintf(coords, sizeof coords, "%s/xy.csv", dir);
    snprintf(bad, sizeof bad, "%s/bad.dss", dir);
    FILE *f = fopen(p, "w");
    fprintf(f, "Clear\nNew Circuit.two basekv=10 bus1=A\nNew Vsource.s2 bus1=Z.1.2.3 basekv=10\n"
               "Redirect part.dss\n// comment\nNew Line.T1 bus1=C bus2=Y switch=true\n"
               "open Line.T1 term=1\nBusCoords xy.csv\n");
    fclose(f);
    f = fopen(sub, "w");
    fprintf(f, "New Line.L1 A.1.2 B.1.2 normamps=100\nNew Line.L2\nmore bus1=B bus2=C\n"
               "New Line.L3 bus1=Z bus2=Y\nNew Load.ld bus1=C.1 kW=12.5\nNew Load.ld2 bus1=Y kva=10 pf=0.5\n"
               "New Load.off bus1=Y kW=1000 enabled=no\nNew Line.L4 bus1=A bus2=C\nopen Line.L4 terminal=2\n");
    fclose(f);
    f = fopen(coords, "w");
    fprintf(f, "A, 1, 2\nB 3 4\nnowhere 5 6\n");
    fclose(f);
    f = fopen(bad, "w");
    fprintf(f, "New Circuit.x\nRedirect missing.dss\n");
    fclose(f);
    warns w = {0};
    grid_topo *t = load_ok(p, &w);
    assert_int_equal(t->nbus, 5);
    assert_true(t->bus[grid_bus_find(t, "a")].source && t->bus[grid_bus_find(t, "z")].source);
    const grid_edge *l1 = edge(t, "Line.L1");
    assert_true(fabs(l1->rating_kw - sqrt(3.0) * 10 * 100) < 1e-9);
    assert_string_equal(grid_bus_name(t, edge(t, "Line.L2")->a), "b");
    assert_false(edge(t, "Line.T1")->closed);
    assert_true(edge(t, "Line.L4")->switchable && !edge(t, "Line.L4")->closed);
    assert_true(any_warning(&w, "part.dss:9: Line.L4 is opened but has no switch=yes"));
    assert_true(any_warning(&w, "part.dss:7: skipped (enabled=no): off"));
    assert_true(edge(t, "Line.T1")->switchable);
    assert_true(fabs(grid_total_load(t) - 17.5) < 1e-9);
    int32_t b = grid_bus_find(t, "b");
    assert_true(t->bus[b].has_xy && t->bus[b].x == 3 && t->bus[b].y == 4);
    assert_true(any_warning(&w, "main.dss:8: BusCoords: 1 buses"));
    grid_diag d = {.quiet = 1};
    grid_topo *t2 = NULL;
    assert_int_equal(grid_load(bad, &t2, &d), -1);
    assert_non_null(strstr(d.error, "bad.dss:2: Redirect:"));
    grid_topo_destroy(t);
    unlink(p), unlink(sub), unlink(coords), unlink(bad), rmdir(dir);
}

int main(void)
{
    const char *s = getenv("STROM_SHARED");
    snprintf(shared, sizeof shared, "%s", s ? s : ".");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ieee123),
        cmocka_unit_test(test_ieee123_master),
        cmocka_unit_test(test_case33bw),
        cmocka_unit_test(test_matpower_units_and_ratings),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_opendss_features),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
