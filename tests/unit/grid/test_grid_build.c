/* test_grid_build.c: the grid builder: device counts from the template's own counts, unique
 * ids, ties between neighbouring copies only, every copy's plan equal to the template's
 * (untied), plans on tied grids against the brute force, and the 500,000-device build. */
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

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* All n strings distinct. */
static void assert_unique(const char **s, int64_t n, const char *what)
{
    qsort(s, (size_t)n, sizeof *s, cmp_str);
    for (int64_t i = 1; i < n; i++)
        if (!strcmp(s[i - 1], s[i]))
            fail_msg("%s '%s' twice", what, s[i]);
}

static void check_built(const grid_topo *tm, const grid_built *b, int link)
{
    const grid_topo *t = b->topo;
    int64_t meters = 0, nsrc = 0;
    for (int32_t i = 0; i < tm->nbus; i++) {
        meters += tm->bus[i].nloads > 0;
        nsrc += tm->bus[i].source;
    }
    int64_t c = b->copies;
    assert_int_equal(b->count[GRID_DEV_BREAKER], c * nsrc);
    assert_int_equal(b->count[GRID_DEV_SWITCH], c * grid_count_kind(tm, GRID_SWITCH) + (link ? c - 1 : 0));
    assert_int_equal(b->count[GRID_DEV_TRANSFORMER], c * grid_count_kind(tm, GRID_TRANSFORMER));
    assert_int_equal(b->count[GRID_DEV_LINE], c * grid_count_kind(tm, GRID_LINE));
    assert_int_equal(b->count[GRID_DEV_METER], c * meters);
    assert_int_equal(b->ndev, c * (nsrc + tm->nedge + meters) + (link ? c - 1 : 0));
    assert_int_equal(t->nbus, c * (tm->nbus + nsrc));
    assert_true(fabs(grid_total_load(t) - c * grid_total_load(tm)) < 1e-6 * c);
    const char **ids = malloc((size_t)(b->ndev + t->nbus) * sizeof *ids);
    for (int64_t i = 0; i < b->ndev; i++) {
        const grid_device *v = &b->dev[i];
        ids[i] = grid_name(t, v->id);
        char pre[32];
        snprintf(pre, sizeof pre, "F%d/", v->copy);
        if (strncmp(ids[i], pre, strlen(pre)) && strncmp(ids[i], "Tie.", 4))
            fail_msg("device %s not named after its copy F%d", ids[i], v->copy);
    }
    assert_unique(ids, b->ndev, "device id");
    for (int32_t i = 0; i < t->nbus; i++)
        ids[i] = grid_bus_name(t, i);
    assert_unique(ids, t->nbus, "bus name");
    free(ids);
    /* ties: Tie.Fk-Fk+1 joins the same template bus of copies k and k+1, normally open */
    int64_t ties = 0;
    for (int32_t e = 0; e < t->nedge; e++) {
        int k, k2;
        if (sscanf(grid_edge_id(t, e), "Tie.F%d-F%d", &k, &k2) != 2)
            continue;
        ties++;
        const grid_edge *x = &t->edge[e];
        assert_int_equal(k2, k + 1);
        assert_true(x->switchable && !x->closed && !x->normal_closed);
        char want_a[300], want_b[300];
        snprintf(want_a, sizeof want_a, "F%d/%s", k, grid_bus_name(tm, b->tie_bus));
        snprintf(want_b, sizeof want_b, "F%d/%s", k + 1, grid_bus_name(tm, b->tie_bus));
        assert_string_equal(grid_bus_name(t, x->a), want_a);
        assert_string_equal(grid_bus_name(t, x->b), want_b);
    }
    assert_int_equal(ties, link ? c - 1 : 0);
}

static int cmp_row(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The set of ids a plan opens (close=0) or closes, mapped to template ids ("F<k>/" cut). */
static int plan_ids(const grid_topo *t, const grid_plan *p, int close, int k, char out[][300], int max)
{
    int n = 0;
    char pre[32];
    snprintf(pre, sizeof pre, "F%d/", k);
    for (int i = 0; i < p->nsteps && n < max; i++)
        if (p->steps[i].close == close) {
            const char *id = grid_edge_id(t, p->steps[i].edge);
            snprintf(out[n++], 300, "%s", strncmp(id, pre, strlen(pre)) ? id : id + strlen(pre));
        }
    qsort(out, (size_t)n, 300, cmp_row);
    return n;
}

/* Copy k's plan for each template section equals the template's: same switching (the
 * copy's breaker added where the template has no device upstream), same load figures;
 * with ties to neighbours at least the template's restored load. */
static void check_copy_plans(const grid_topo *tm, const grid_built *b, int k, int linked)
{
    static char a[64][300], c[64][300];
    for (int32_t f = 0; f < tm->nedge; f++) {
        char id[300];
        snprintf(id, sizeof id, "F%d/%s", k, grid_edge_id(tm, f));
        int32_t fe = grid_edge_find(b->topo, id);
        assert_true(fe >= 0);
        grid_plan p, q;
        grid_diag d = {0};
        assert_int_equal(grid_plan_make(tm, f, &p, &d), 0);
        assert_int_equal(grid_plan_make(b->topo, fe, &q, &d), 0);
        int na = plan_ids(tm, &p, 0, k, a, 64), nc = plan_ids(b->topo, &q, 0, k, c, 64);
        int extra = p.tripped < 0 && p.interrupted_kw > 0;   /* the copy's breaker trips */
        assert_int_equal(nc, na + extra);
        for (int i = 0, j = 0; i < na; i++, j++) {
            if (extra && !strcmp(c[j], "Breaker"))
                j++;
            assert_string_equal(a[i], c[j]);
        }
        assert_true(fabs(p.interrupted_kw - q.interrupted_kw) < 1e-6);
        if (!linked) {
            na = plan_ids(tm, &p, 1, k, a, 64);
            nc = plan_ids(b->topo, &q, 1, k, c, 64);
            assert_int_equal(na, nc);
            for (int i = 0; i < na; i++)
                assert_string_equal(a[i], c[i]);
            assert_true(fabs(p.restored_kw - q.restored_kw) < 1e-6);
            assert_true(fabs(p.lost_kw - q.lost_kw) < 1e-6);
        } else {
            assert_true(q.restored_kw >= p.restored_kw - 1e-6);
        }
        grid_plan_free(&p);
        grid_plan_free(&q);
    }
}

static void build_and_check(const char *rel, int copies)
{
    grid_topo *tm = load(rel);
    int64_t per = grid_devices_per_copy(tm);
    for (int link = 0; link <= 1; link++) {
        grid_built b;
        grid_diag d = {0};
        assert_int_equal(grid_build(tm, copies * per + (link ? copies - 1 : 0), link, &b, &d), 0);
        assert_int_equal(b.copies, copies);
        check_built(tm, &b, link);
        check_copy_plans(tm, &b, 1, link);
        check_copy_plans(tm, &b, copies, link);
        if (link && copies == 2)
            check_all_faults(b.topo, rel);   /* brute force over the tied grid */
        grid_built_free(&b);
    }
    grid_topo_destroy(tm);
}

static void test_ieee123_replicated(void **state)
{
    (void)state;
    build_and_check("ieee123/IEEE123Switches.dss", 3);
    build_and_check("ieee123/IEEE123Switches.dss", 2);
}

static void test_case33bw_replicated(void **state)
{
    (void)state;
    build_and_check("case33bw.m", 3);
    build_and_check("case33bw.m", 2);
}

static void test_500k(void **state)
{
    (void)state;
    grid_topo *tm = load("ieee123/IEEE123Switches.dss");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    grid_built b;
    grid_diag d = {0};
    assert_int_equal(grid_build(tm, 500000, 1, &b, &d), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t per = grid_devices_per_copy(tm);
    assert_true(b.ndev <= 500000 && b.ndev > 500000 - per - 1);
    check_built(tm, &b, 1);
    printf("# 500k build: %lld devices, %d copies, %.1f ms\n", (long long)b.ndev, b.copies,
           (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
    grid_built_free(&b);
    /* fewer devices than one copy still gives one copy */
    assert_int_equal(grid_build(tm, 1, 1, &b, &d), 0);
    assert_int_equal(b.copies, 1);
    grid_built_free(&b);
    grid_topo_destroy(tm);
}

int main(void)
{
    ref_set_shared();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ieee123_replicated),
        cmocka_unit_test(test_case33bw_replicated),
        cmocka_unit_test(test_500k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
