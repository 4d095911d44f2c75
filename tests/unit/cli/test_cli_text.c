/* Unit tests for the command line's text readers and writers (src/cli: cli_client.c,
 * cli_json.c, cli_util.c), from fuzz_cli_text findings: each test failed before its fix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_client.h"

/* A copy of s[0..len) in a buffer of exactly len bytes (ASan sees a read past it). */
static char *exact(const char *s, size_t len)
{
    char *p = malloc(len ? len : 1);
    memcpy(p, s, len);
    return p;
}

/* tail printed times past year 9999 as "30137-..." and before 1000 as "999-..." (and
 * INT64_MIN was a signed overflow in cli_time), which produce could not read back; now
 * years 0000..9999 print with 4 digits and other times as their number of ms. */
static void test_time_outside_four_digit_years_reads_back(void **state)
{
    (void)state;
    const int64_t ms[] = {888888888888888LL, INT64_MIN, INT64_MAX, -62167219200001LL,
                          253402300800000LL};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        char buf[32];
        int64_t back = 0;
        cli_time(ms[i], buf);
        assert_int_equal(cli_parse_time(buf, strlen(buf), &back), 0);
        assert_true(back == ms[i]);
    }
    char buf[32];
    assert_string_equal(cli_time(0, buf), "1970-01-01 00:00:00.000");
    assert_string_equal(cli_time(253402300799999LL, buf), "9999-12-31 23:59:59.999");
    assert_string_equal(cli_time(-62167219200000LL, buf), "0000-01-01 00:00:00.000");
    /* strftime's %Y wrote "999-..." (Python: timegm((999, 7, 1, 12, 0, 0)) * 1000) */
    assert_string_equal(cli_time(-30626078400000LL, buf), "0999-07-01 12:00:00.000");
    int64_t back = 0;
    assert_int_equal(cli_parse_time(buf, strlen(buf), &back), 0);
    assert_true(back == -30626078400000LL);
}

/* timegm moved 2025-02-31 to March 3 and took second 60: both were silently accepted. */
static void test_time_rejects_dates_that_do_not_exist(void **state)
{
    (void)state;
    const char *bad[] = {"2025-02-31", "2025-02-29", "2025-04-31", "2025-01-13 14:30:60",
                         "2025-01-13 14:30.5", "2025-00-10", "2025-13-01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 0;
        assert_int_equal(cli_parse_time(bad[i], strlen(bad[i]), &ms), -1);
    }
    int64_t ms = 0;   /* expectations from Python's calendar.timegm */
    assert_int_equal(cli_parse_time("2025-01-13 14:30:00.123", 23, &ms), 0);
    assert_true(ms == 1736778600123LL);
    assert_int_equal(cli_parse_time("2024-02-29", 10, &ms), 0);
    assert_true(ms == 1709164800000LL);
    assert_int_equal(cli_parse_time("2025-01-13T14:30", 16, &ms), 0);
    assert_true(ms == 1736778600000LL);
}

/* strtoll stopped at a NUL byte: the field "67\0xyz" was read as 67. */
static void test_value_with_nul_byte_is_refused(void **state)
{
    (void)state;
    const strom_type types[] = {STROM_INT, STROM_BIGINT, STROM_DOUBLE, STROM_TIMESTAMP};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        strom_value v;
        char err[200] = "";
        assert_int_equal(cli_parse_value(types[i], "67\0xyz", 6, &v, err, sizeof err), -1);
        assert_non_null(strstr(err, "is not"));
        assert_int_equal(cli_parse_value(types[i], "67", 2, &v, err, sizeof err), 0);
    }
}

/* cli_json_object on exactly s[0..len): the field count or -1; the message in err. */
static int json_exact(const char *s, size_t len, cli_jfield *f, char *err, int *col)
{
    char *line = exact(s, len), buf[32];
    int n = cli_json_object(line, len, buf, f, 4, col, err, 200);
    free(line);
    return n;
}

/* A line ending in a backslash inside a string: escape() read the byte after the line
 * (here 'u' of "\u0041", so the message was about a \u escape the line does not have). */
static void test_json_backslash_at_end_of_line(void **state)
{
    (void)state;
    char err[200] = "";
    cli_jfield f[4];
    int col = 0;
    char buf[32];   /* the line is the first 8 bytes, {"a":"x\ , of a longer text */
    assert_int_equal(cli_json_object("{\"a\":\"x\\u0041\"}", 8, buf, f, 4, &col, err, 200), -1);
    assert_string_equal(err, "unterminated string");
    assert_int_equal(col, 9);
}

/* A NUL byte counted as a digit of a number (strchr finds the terminator). */
static void test_json_number_stops_at_nul(void **state)
{
    (void)state;
    char err[200] = "";
    cli_jfield f[4];
    int col = 0;
    assert_int_equal(json_exact("{\"a\":1\0}", 8, f, err, &col), -1);
    assert_string_equal(err, "expected ',' or '}'");
    assert_int_equal(col, 7);
    assert_int_equal(json_exact("{\"a\":1}", 7, f, err, &col), 1);
    assert_int_equal(f[0].vlen, 1);
    assert_int_equal(f[0].kind, CLI_J_NUM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_outside_four_digit_years_reads_back),
        cmocka_unit_test(test_time_rejects_dates_that_do_not_exist),
        cmocka_unit_test(test_value_with_nul_byte_is_refused),
        cmocka_unit_test(test_json_backslash_at_end_of_line),
        cmocka_unit_test(test_json_number_stops_at_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
