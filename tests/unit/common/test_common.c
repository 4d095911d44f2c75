/* Unit tests for src/common: CRC-32C against published check values, varints, buffers,
 * error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/common.h"

static void test_crc32c_check_values(void **state)
{
    (void)state;
    /* RFC 3720 B.4 / the CRC catalogue check value for "123456789". */
    assert_int_equal(strom_crc32c(0, "123456789", 9), 0xE3069283u);
    uint8_t zeros[32] = {0}, ones[32];
    memset(ones, 0xff, sizeof ones);
    assert_int_equal(strom_crc32c(0, zeros, 32), 0x8A9136AAu); /* RFC 3720 B.4 */
    assert_int_equal(strom_crc32c(0, ones, 32), 0x62A8AB43u);
    uint8_t inc[32];
    for (int i = 0; i < 32; i++)
        inc[i] = (uint8_t)i;
    assert_int_equal(strom_crc32c(0, inc, 32), 0x46DD794Eu);
}

static void test_crc32c_incremental(void **state)
{
    (void)state;
    uint8_t buf[1000];
    for (int i = 0; i < 1000; i++)
        buf[i] = (uint8_t)(i * 31 + 7);
    uint32_t whole = strom_crc32c(0, buf, sizeof buf);
    for (size_t cut = 0; cut <= 1000; cut += 37)
        assert_int_equal(strom_crc32c(strom_crc32c(0, buf, cut), buf + cut, 1000 - cut), whole);
}

static void test_varint_roundtrip(void **state)
{
    (void)state;
    uint64_t vals[] = {0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX, (uint64_t)1 << 63, UINT64_MAX};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        uint8_t b[10];
        size_t n = strom_put_uvarint(b, vals[i]);
        uint64_t v;
        assert_int_equal(strom_get_uvarint(b, n, &v), n);
        assert_true(v == vals[i]);
        assert_int_equal(strom_get_uvarint(b, n - 1, &v), 0); /* truncated */
    }
    uint8_t bad[11];
    memset(bad, 0x80, sizeof bad);
    uint64_t v;
    assert_int_equal(strom_get_uvarint(bad, sizeof bad, &v), 0); /* too long */
    for (int64_t s = -1000; s <= 1000; s++)
        assert_true(strom_unzigzag(strom_zigzag(s)) == s);
    assert_true(strom_zigzag(-1) == 1 && strom_zigzag(1) == 2);
}

static void test_buf_and_errors(void **state)
{
    (void)state;
    strom_buf b = {0};
    for (int i = 0; i < 10000; i++)
        assert_int_equal(strom_buf_append(&b, &i, sizeof i), STROM_OK);
    assert_int_equal(b.len, 10000 * sizeof(int));
    int x;
    memcpy(&x, b.data + 9999 * sizeof(int), sizeof x);
    assert_int_equal(x, 9999);
    strom_buf_free(&b);
    assert_int_equal(strom_fail(STROM_ECORRUPT, "bucket %d bad", 3), STROM_ECORRUPT);
    assert_string_equal(strom_errmsg(), "bucket 3 bad");
    strom_fail_wrap(STROM_ECORRUPT, "table t");
    assert_string_equal(strom_errmsg(), "table t: bucket 3 bad");
    assert_string_equal(strom_strerror(STROM_EFENCED),
                        "writes refused after a failed write or fsync; reopen to recover");
    assert_string_equal(strom_strerror((strom_err)999), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_check_values),
        cmocka_unit_test(test_crc32c_incremental),
        cmocka_unit_test(test_varint_roundtrip),
        cmocka_unit_test(test_buf_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
