/* fmt_batch_from_builder / strom_builder_to_batch: a batch made from a builder holds
 * exactly the model's values (every type, NULL densities, empty strings), projected in the
 * requested order, and stays valid after the builder is reset or destroyed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model.h"

static void check_same(const model *m, const strom_batch *b, const int *cols, int ncols)
{
    assert_int_equal(b->nrows, m->nrows);
    assert_int_equal(b->ncols, ncols);
    for (int i = 0; i < ncols; i++) {
        int c = cols ? cols[i] : i;
        int64_t nulls = 0;
        for (int64_t r = 0; r < m->nrows; r++) {
            nulls += m->c[c].isnull[r];
            if (!cell_equal(m, c, &b->cols[i], r, r))
                fail_msg("column %d (%s) row %lld differs", c, strom_type_name(b->cols[i].type),
                         (long long)r);
        }
        assert_int_equal(b->cols[i].null_count, nulls);
    }
}

static void test_view_matches_model(void **state)
{
    (void)state;
    for (int it = 0; it < 40; it++) {
        model *m = model_new(12, (int64_t)rndn(2000), it < P_NPROFILES ? it : -1);
        strom_batch *all = NULL;
        assert_int_equal(strom_builder_to_batch(m->b, &all), STROM_OK);
        int cols[5];
        for (int i = 0; i < 5; i++)
            cols[i] = (int)rndn((uint64_t)m->ncols);   /* repeats allowed */
        strom_batch *some = fmt_batch_create(5);
        assert_int_equal(fmt_batch_from_builder(m->b, cols, 5, some), STROM_OK);
        strom_builder_reset(m->b);                    /* the batches own their copies */
        check_same(m, all, NULL, m->ncols);
        check_same(m, some, cols, 5);
        assert_int_equal(strom_batch_row_change(all, 0), STROM_APPEND);
        strom_batch_destroy(all);
        strom_batch_destroy(some);
        model_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_view_matches_model)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
