/* test_decode.c: the client's decoding of batches from a server (src/client/decode.c),
 * from fuzz_client_decode findings: each test failed before its fix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"

/* A batch of 15 rows (dev STRING, ts TIMESTAMP) at base offset 0, schema id 1. */
static void encode15(const strom_schema *s, strom_buf *out)
{
    strom_builder *b = strom_builder_create(s);
    for (int r = 0; r < 15; r++) {
        assert_int_equal(strom_builder_put_str(b, 0, "d1", 2), STROM_OK);
        assert_int_equal(strom_builder_put_int(b, 1, 1000 + r), STROM_OK);
        assert_int_equal(strom_builder_end_row(b), STROM_OK);
    }
    fmt_encode_opts o;
    fmt_encode_opts_init(&o);
    o.time_col = 1;
    fmt_encoder *e = fmt_encoder_create();
    assert_int_equal(fmt_encode(e, b, NULL, 0, &o, out), STROM_OK);
    fmt_encoder_destroy(e);
    strom_builder_destroy(b);
}

/* Every row filtered out: the batch said 0 rows but its columns still 15, so a reader of
 * strom_batch_column (or strom_batch_get_*, which checks the column's length) saw rows. */
static void test_no_rows_left_means_empty_columns(void **state)
{
    (void)state;
    strom_schema *s = strom_schema_create();
    strom_schema_add(s, "dev", STROM_STRING, 0);
    strom_schema_add(s, "ts", STROM_TIMESTAMP, 0);
    fmt_schema_set_id(s, 1);
    strom_table_info info = {.name = "t", .schema_id = 1, .nbuckets = 1, .schema = s};
    stc_table t = {.info = &info, .name = "t"};
    strom_pred p = {.column = "dev", .op = STROM_OP_EQ,
                    .value = {.type = STROM_STRING, .v.s = {"d2", 2}}};
    strom_buf bytes = {0};
    encode15(s, &bytes);
    for (int k = 0; k < 2; k++) {   /* by the filter; by the start offset */
        stc_decoder *d = NULL;
        assert_int_equal(stc_decoder_create(&t, NULL, 0, k ? NULL : &p, k ? 0 : 1, &d), STROM_OK);
        const strom_batch *out = NULL;
        int64_t last = 0;
        assert_int_equal(stc_decode_batch(d, bytes.data, bytes.len, k ? 100 : 0, &out, &last),
                         STROM_OK);
        assert_int_equal(strom_batch_nrows(out), 0);
        assert_int_equal(last, 14);
        for (int c = 0; c < 2; c++) {
            strom_column col;
            assert_int_equal(strom_batch_column(out, c, &col), STROM_OK);
            assert_int_equal(col.length, 0);
        }
        assert_true(strom_batch_is_null(out, 1, 0));   /* out of range reads as NULL */
        stc_decoder_free(d);
    }
    strom_buf_free(&bytes);
    strom_schema_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_rows_left_means_empty_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
