/* test_row.c: the row value codec of primary-key state (src/kv/row.c, layout in kv.h), from
 * fuzz_kv_row findings: each test failed before its fix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"

static strom_schema *one_col(strom_type t)
{
    strom_schema *s = strom_schema_create();
    assert_int_equal(strom_schema_add(s, "n", t, 0), STROM_OK);
    return s;
}

/* A stored INT value outside int32 (a damaged value): kv_row_decode refused it (the
 * builder did) but kv_row_vals, which the write path merges with, took 2^40 for an INT. */
static void test_int_value_out_of_range_is_corrupt(void **state)
{
    (void)state;
    strom_schema *wide = one_col(STROM_BIGINT), *narrow = one_col(STROM_INT);
    const int64_t vals_in[] = {(int64_t)1 << 40, (int64_t)INT32_MAX + 1, (int64_t)INT32_MIN - 1};
    for (size_t k = 0; k < sizeof vals_in / sizeof vals_in[0]; k++) {
        kv_val v = {.i = vals_in[k]}, out[1];
        strom_buf b = {0};
        assert_int_equal(kv_vals_encode(&b, wide, &v), STROM_OK);
        assert_int_equal(kv_row_vals(narrow, b.data, b.len, out), STROM_ECORRUPT);
        assert_non_null(strstr(strom_errmsg(), "column 'n'"));
        strom_builder *bl = strom_builder_create(narrow);
        assert_int_equal(kv_row_decode(bl, narrow, b.data, b.len), STROM_ECORRUPT);
        strom_builder_destroy(bl);
        strom_buf_free(&b);
    }
    /* the extremes of INT still decode, through both */
    const int64_t ok[] = {INT32_MAX, INT32_MIN, 0, -1};
    for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++) {
        kv_val v = {.i = ok[k]}, out[1];
        strom_buf b = {0};
        assert_int_equal(kv_vals_encode(&b, narrow, &v), STROM_OK);
        assert_int_equal(kv_row_vals(narrow, b.data, b.len, out), STROM_OK);
        assert_true(out[0].i == ok[k] && !out[0].null);
        strom_buf_free(&b);
    }
    strom_schema_destroy(wide);
    strom_schema_destroy(narrow);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int_value_out_of_range_is_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
