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
