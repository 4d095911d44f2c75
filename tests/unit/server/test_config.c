/* test_config.c: the server settings and the strict "key: value" config parser
 * (src/server/config.c): defaults, every value form, comments and quotes, and every kind
 * of bad input rejected with a message naming file, line and key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server.h"

static strom_err parse(srv_config *c, const char *text)
{
    srv_config_defaults(c);
    return srv_config_parse(c, text, strlen(text), "server.yaml");
}

static void test_defaults(void **state)
{
    (void)state;
    srv_config c;
    srv_config_defaults(&c);
    assert_string_equal(c.data_dir, "./strom-data");
    assert_string_equal(c.host, "127.0.0.1");
    assert_int_equal(c.port, 9123);
    assert_int_equal(c.io_threads, 0);
    assert_int_equal(c.max_frame_bytes, 64 << 20);
    assert_int_equal(c.fetch_max_bytes, 8 << 20);
    /* every setting has a key, a flag, help and a default that parses */
    int n;
    const srv_setting *s = srv_settings(&n);
    assert_true(n >= 10);
    for (int i = 0; i < n; i++) {
        assert_non_null(s[i].key);
        assert_true(!strncmp(s[i].flag, "--", 2));
        assert_true(strlen(s[i].help) > 10);
        assert_int_equal(srv_config_set(&c, s[i].key, s[i].def, "default"), STROM_OK);
    }
}

static void test_values(void **state)
{
    (void)state;
    srv_config c;
    const char *text = "# strom server\n"
                       "\n"
                       "bind.port: 9200\n"
                       "   data.dir:   \"/var/lib/strom data\"   # quoted, with a blank\n"
                       "bind.host: '0.0.0.0'\n"
                       "server.max-frame-bytes: 2MiB\n"
                       "server.fetch.max-bytes: 3k   # x1000\n"
                       "server.io-threads: 2\r\n"
                       "server.shutdown-timeout-ms: 0";
    assert_int_equal(parse(&c, text), STROM_OK);
    assert_int_equal(c.port, 9200);
    assert_string_equal(c.data_dir, "/var/lib/strom data");
    assert_string_equal(c.host, "0.0.0.0");
    assert_int_equal(c.max_frame_bytes, 2 << 20);
    assert_int_equal(c.fetch_max_bytes, 3000);
    assert_int_equal(c.io_threads, 2);
    assert_int_equal(c.shutdown_timeout_ms, 0);
    assert_int_equal(c.max_connections, 10000); /* untouched */
    /* a '#' inside an unquoted value without a blank before it is part of the value */
    assert_int_equal(parse(&c, "data.dir: /tmp/a#b\n"), STROM_OK);
    assert_string_equal(c.data_dir, "/tmp/a#b");
    /* flags by name */
    assert_int_equal(srv_config_set(&c, "--port", "0", "command line"), STROM_OK);
    assert_int_equal(c.port, 0);
    assert_int_equal(srv_config_set(&c, "--max-conn-buffer-bytes", "1GiB", "x"), STROM_OK);
    assert_int_equal(c.max_conn_buffer_bytes, INT64_C(1) << 30);
}

/* text must fail with err and a message containing every needle. */
static void bad(const char *text, strom_err err, const char *n1, const char *n2)
{
    srv_config c;
    strom_err e = parse(&c, text);
    if (e != err || (n1 && !strstr(strom_errmsg(), n1)) || (n2 && !strstr(strom_errmsg(), n2)))
        fail_msg("'%s': got %d '%s', want %d with '%s' '%s'", text, e, strom_errmsg(), err,
                 n1 ? n1 : "", n2 ? n2 : "");
}

static void test_errors(void **state)
{
    (void)state;
    bad("bind.port: 9000\nbind.prot: 1\n", STROM_EOPTION, "server.yaml:2", "bind.prot");
    bad("bind.port: 9000\nbind.prot: 1\n", STROM_EOPTION, "known:", "bind.port");
    bad("bind.port: 70000\n", STROM_EINVAL, "server.yaml:1", "out of range 0..65535");
    bad("bind.port: -1\n", STROM_EINVAL, "bind.port", "out of range");
    bad("bind.port: 12ab\n", STROM_EINVAL, "bind.port", "not an integer");
    bad("bind.port: 99999999999999999999999\n", STROM_EINVAL, "bind.port", "out of range");
    bad("bind.port: 9223372036854775807GiB\n", STROM_EINVAL, "out of range", NULL);
    bad("bind.port: +5\n", STROM_EINVAL, "not an integer", NULL);
    bad("bind.port:\n", STROM_EINVAL, "server.yaml:1", "empty");
    bad("\n\nbind.port 9000\n", STROM_EINVAL, "server.yaml:3", "expected 'key: value'");
    bad(": 5\n", STROM_EINVAL, "key before ':' is empty", NULL);
    bad("bind.port: 1\nbind.port: 2\n", STROM_EINVAL, "server.yaml:2", "set twice");
    bad("data.dir: \"/tmp/x\n", STROM_EINVAL, "not closed", "data.dir");
    bad("data.dir: \"/tmp/x\" y\n", STROM_EINVAL, "after the quoted value", NULL);
    bad("data.dir: \"\"\n", STROM_EINVAL, "data.dir", "empty");
    bad("--port: 5\n", STROM_EOPTION, "unknown setting", "--port");
    bad("bind.port: 5\x01\n", STROM_EINVAL, "control character", NULL);
    bad("server.worker-threads: 0\n", STROM_EINVAL, "server.worker-threads", "1..256");
    /* a NUL byte and an over-long line */
    srv_config c;
    srv_config_defaults(&c);
    assert_int_equal(srv_config_parse(&c, "bind.port: 1\0\n", 14, "f"), STROM_EINVAL);
    assert_non_null(strstr(strom_errmsg(), "NUL"));
    size_t n = 10000;
    char *longl = malloc(n + 1);
    memset(longl, 'a', n);
    longl[n] = '\0';
    assert_int_equal(srv_config_parse(&c, longl, n, "f"), STROM_EINVAL);
    assert_non_null(strstr(strom_errmsg(), "longer than"));
    free(longl);
    /* a string too long for its buffer */
    char host[400];
    memset(host, 'h', sizeof host - 1);
    host[sizeof host - 1] = '\0';
    assert_int_equal(srv_config_set(&c, "bind.host", host, "x"), STROM_EINVAL);
    assert_non_null(strstr(strom_errmsg(), "bind.host"));
}

static void test_load_file(void **state)
{
    (void)state;
    char path[] = "/tmp/strom-cfg-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "bind.port: 9555\nserver.bogus: 1\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    srv_config c;
    srv_config_defaults(&c);
    assert_int_equal(srv_config_load(&c, path), STROM_EOPTION);
    char want[64];
    snprintf(want, sizeof want, "%s:2", path);
    assert_non_null(strstr(strom_errmsg(), want));
    assert_non_null(strstr(strom_errmsg(), "server.bogus"));
    unlink(path);
    assert_int_equal(srv_config_load(&c, path), STROM_ENOTFOUND);
    assert_non_null(strstr(strom_errmsg(), path));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
