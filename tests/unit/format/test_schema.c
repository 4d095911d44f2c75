/* Types, schemas, builder completeness checks and canonical key bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model.h"

static void test_type_names(void **state)
{
    (void)state;
    static const struct { const char *name; strom_type t; } ok[] = {
        {"STRING", STROM_STRING}, {"varchar", STROM_STRING}, {"VARCHAR(32)", STROM_STRING},
        {"BOOLEAN", STROM_BOOLEAN}, {"INT", STROM_INT}, {"integer", STROM_INT},
        {"BIGINT", STROM_BIGINT}, {"FLOAT", STROM_FLOAT}, {"DOUBLE", STROM_DOUBLE},
        {"BYTES", STROM_BYTES}, {"TIMESTAMP", STROM_TIMESTAMP}, {"timestamp(3)", STROM_TIMESTAMP},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_int_equal(strom_type_parse(ok[i].name), ok[i].t);
    static const char *bad[] = {"", "VARCHAR(", "VARCHAR()", "VARCHAR(x)", "TIMESTAMP(6)",
                                "INTX", "DOUBLE(2)", "TIMESTAMP(3", "STRINGS"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(strom_type_parse(bad[i]), 0);
    assert_null(strom_type_parse(NULL));
    for (int t = STROM_BOOLEAN; t <= STROM_TIMESTAMP; t++)
        assert_int_equal(strom_type_parse(strom_type_name((strom_type)t)), t);
    assert_null(strom_type_name((strom_type)0));
    assert_null(strom_type_name((strom_type)9));
}

static void test_schema(void **state)
{
    (void)state;
    strom_schema *s = strom_schema_create();
    assert_int_equal(strom_schema_add(s, "a", STROM_INT, 1), STROM_OK);
    assert_int_equal(strom_schema_add(s, "b", STROM_STRING, 0), STROM_OK);
    assert_int_equal(strom_schema_add(s, "a", STROM_INT, 0), STROM_EINVAL);
    assert_int_equal(strom_schema_add(s, "", STROM_INT, 0), STROM_EINVAL);
    assert_int_equal(strom_schema_add(s, "c", (strom_type)42, 0), STROM_EINVAL);
    assert_int_equal(strom_schema_ncols(s), 2);
    assert_int_equal(strom_schema_find(s, "b"), 1);
    assert_int_equal(strom_schema_find(s, "B"), -1);
    assert_false(strom_schema_col_nullable(s, 0));
    assert_true(strom_schema_col_nullable(s, 1));
    fmt_schema_set_id(s, 7);
    strom_schema *c = fmt_schema_clone(s);
    assert_int_equal(strom_schema_id(c), 7);
    assert_string_equal(strom_schema_col_name(c, 1), "b");
    assert_null(strom_schema_col_name(c, 2));
    for (int i = 2; i < FMT_MAX_COLUMNS; i++) {
        char n[16];
        snprintf(n, sizeof n, "x%d", i);
        assert_int_equal(strom_schema_add(c, n, STROM_BIGINT, 0), STROM_OK);
    }
    assert_int_equal(strom_schema_add(c, "one_too_many", STROM_BIGINT, 0), STROM_EINVAL);
    strom_schema_destroy(c);
    strom_schema_destroy(s);
}

static void test_builder_errors(void **state)
{
    (void)state;
    strom_schema *s = strom_schema_create();
    strom_schema_add(s, "id", STROM_INT, 1);
    strom_schema_add(s, "name", STROM_STRING, 0);
    strom_schema_add(s, "ok", STROM_BOOLEAN, 0);
    strom_builder *b = strom_builder_create(s);
    assert_int_equal(strom_builder_put_int(b, 0, 1), STROM_OK);
    assert_int_equal(strom_builder_put_int(b, 0, 2), STROM_ESCHEMA);      /* two values */
    assert_non_null(strstr(strom_errmsg(), "'id'"));
    assert_int_equal(strom_builder_put_f64(b, 1, 1.0), STROM_ESCHEMA);    /* wrong family */
    assert_int_equal(strom_builder_put_int(b, 2, 2), STROM_ESCHEMA);      /* not 0/1 */
    assert_int_equal(strom_builder_put_int(b, 5, 2), STROM_EINVAL);       /* no column */
    assert_int_equal(strom_builder_put_str(b, 1, "x", 1), STROM_OK);
    assert_int_equal(strom_builder_end_row(b), STROM_ESCHEMA);            /* 'ok' missing */
    assert_non_null(strstr(strom_errmsg(), "'ok'"));
    assert_int_equal(strom_builder_nrows(b), 0);
    assert_int_equal(strom_builder_put_null(b, 0), STROM_ESCHEMA);        /* NOT NULL */
    assert_int_equal(strom_builder_put_int(b, 0, (int64_t)INT32_MAX + 1), STROM_ESCHEMA);
    assert_int_equal(strom_builder_put_int(b, 0, INT32_MIN), STROM_OK);
    assert_int_equal(strom_builder_put_null(b, 1), STROM_OK);
    strom_value v = {.type = STROM_BOOLEAN, .v.i = 1};
    assert_int_equal(strom_builder_put_value(b, 2, &v), STROM_OK);
    assert_int_equal(strom_builder_end_row(b), STROM_OK);
    assert_int_equal(strom_builder_nrows(b), 1);
    strom_column c;
    fmt_builder_view(b, 1, &c);
    assert_int_equal(c.length, 1);
    assert_int_equal(c.null_count, 1);
    assert_int_equal(c.offsets[1], 0);                                    /* half row gone */
    fmt_builder_view(b, 0, &c);
    assert_int_equal(((const int32_t *)c.values)[0], INT32_MIN);
    strom_builder_reset(b);
    assert_int_equal(strom_builder_nrows(b), 0);
    strom_builder_destroy(b);
    strom_schema_destroy(s);
}

/* Key bytes from a builder column equal those from an equal strom_value, and differ for
 * different values. */
static void test_key_bytes(void **state)
{
    (void)state;
    model *m = model_new(16, 200, -1);
    for (int col = 0; col < m->ncols; col++) {
        strom_column c;
        fmt_builder_view(m->b, col, &c);
        for (int64_t r = 0; r < m->nrows; r++) {
            const mcol *mc = &m->c[col];
            strom_value v = {.type = mc->type, .is_null = mc->isnull[r]};
            if (fmt_type_is_int(mc->type)) v.v.i = mc->i[r];
            else if (fmt_type_is_float(mc->type)) v.v.d = mc->d[r];
            else v.v.s.ptr = mc->s[r], v.v.s.len = mc->slen[r];
            strom_buf a = {0}, b = {0};
            assert_int_equal(fmt_key_from_column(&a, &c, r), STROM_OK);
            assert_int_equal(fmt_key_from_value(&b, mc->type, &v), STROM_OK);
            assert_int_equal(a.len, b.len);
            assert_memory_equal(a.data, b.data, a.len);
            size_t want = mc->isnull[r] ? 1 : fmt_type_is_var(mc->type) ? 5 + mc->slen[r] : 9;
            assert_int_equal(a.len, want);
            strom_buf_free(&a);
            strom_buf_free(&b);
        }
    }
    model_free(m);
    strom_buf a = {0}, b = {0};
    strom_value z = {.type = STROM_DOUBLE, .v.d = 0.0}, nz = {.type = STROM_DOUBLE, .v.d = -0.0};
    fmt_key_from_value(&a, STROM_DOUBLE, &z);
    fmt_key_from_value(&b, STROM_DOUBLE, &nz);
    assert_memory_equal(a.data, b.data, 9);
    strom_value s1 = {.type = STROM_STRING, .v.s = {"ab", 2}};
    assert_int_equal(fmt_key_from_value(&a, STROM_INT, &s1), STROM_ESCHEMA);
    strom_buf_free(&a);
    strom_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_builder_errors),
        cmocka_unit_test(test_key_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
