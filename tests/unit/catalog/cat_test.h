/* cat_test.h: helpers shared by the catalog unit tests (header-only, static). */
#ifndef STROM_CAT_TEST_H
#define STROM_CAT_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"

/* A fresh temporary directory; free with ct_rmdir. */
static inline char *ct_tmpdir(void)
{
    char tmpl[] = "/tmp/strom-cat-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static inline void ct_rmdir(char *d)
{
    strom_rmtree(d);
    free(d);
}

/* device_id STRING NOT NULL, event_time TIMESTAMP, voltage DOUBLE, seq BIGINT */
static inline strom_schema *ct_schema(void)
{
    strom_schema *s = strom_schema_create();
    assert_non_null(s);
    assert_int_equal(strom_schema_add(s, "device_id", STROM_STRING, 1), STROM_OK);
    assert_int_equal(strom_schema_add(s, "event_time", STROM_TIMESTAMP, 0), STROM_OK);
    assert_int_equal(strom_schema_add(s, "voltage", STROM_DOUBLE, 0), STROM_OK);
    assert_int_equal(strom_schema_add(s, "seq", STROM_BIGINT, 0), STROM_OK);
    return s;
}

/* Primary-key test tables: id BIGINT primary key, val BIGINT, ts TIMESTAMP. */
static inline strom_schema *ct_kv_schema(void)
{
    strom_schema *s = strom_schema_create();
    assert_non_null(s);
    assert_int_equal(strom_schema_add(s, "id", STROM_BIGINT, 0), STROM_OK);
    assert_int_equal(strom_schema_add(s, "val", STROM_BIGINT, 0), STROM_OK);
    assert_int_equal(strom_schema_add(s, "ts", STROM_TIMESTAMP, 0), STROM_OK);
    const char *key[] = {"id"};
    assert_int_equal(strom_schema_set_primary_key(s, key, 1), STROM_OK);
    return s;
}

/* One row of ct_kv_schema into b. */
static inline void ct_kv_put(strom_builder *b, int64_t id, int64_t val, int64_t ts)
{
    assert_int_equal(strom_builder_put_int(b, 0, id), STROM_OK);
    assert_int_equal(strom_builder_put_int(b, 1, val), STROM_OK);
    assert_int_equal(strom_builder_put_int(b, 2, ts), STROM_OK);
    assert_int_equal(strom_builder_end_row(b), STROM_OK);
}

/* Integer column col of row r of builder b. */
static inline int64_t ct_col_int(const strom_builder *b, int col, int64_t r)
{
    strom_column c;
    fmt_builder_view(b, col, &c);
    assert_true(r < c.length);
    return ((const int64_t *)c.values)[r];
}

/* val of row id of a ct_kv_schema table, -1 if none (AS OF at unless at == INT64_MIN). */
static inline int64_t ct_kv_val(strom_table *t, int64_t id, int64_t at)
{
    strom_schema *s = ct_kv_schema();
    strom_builder *b = strom_builder_create(s);
    strom_value key = {.type = STROM_BIGINT, .v.i = id};
    int f = -1;
    if (at == INT64_MIN)
        assert_int_equal(strom_table_lookup_into(t, &key, 1, b, &f), STROM_OK);
    else
        assert_int_equal(strom_table_lookup_asof_into(t, &key, 1, at, b, &f), STROM_OK);
    assert_int_equal(strom_builder_nrows(b), f);
    int64_t n = f ? ct_col_int(b, 1, 0) : -1;
    strom_builder_destroy(b);
    strom_schema_destroy(s);
    return n;
}

#define CT_OK(expr)                                                                      \
    do {                                                                                 \
        strom_err ct_e_ = (expr);                                                        \
        if (ct_e_ != STROM_OK)                                                           \
            fail_msg("%s -> %s: %s", #expr, strom_strerror(ct_e_), strom_errmsg());     \
    } while (0)

#define CT_ERR(expr, code, needle)                                                       \
    do {                                                                                 \
        strom_err ct_e_ = (expr);                                                        \
        if (ct_e_ != (code))                                                             \
            fail_msg("%s -> %s (%s), expected %s", #expr, strom_strerror(ct_e_),         \
                     strom_errmsg(), strom_strerror(code));                              \
        if (!strstr(strom_errmsg(), (needle)))                               \
            fail_msg("%s: message '%s' lacks '%s'", #expr, strom_errmsg(), (needle));   \
    } while (0)

#endif
