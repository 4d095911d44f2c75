/* test_grid_event.c: the event lines of the simulator and the dispatcher (proc.h), and the
 * child-process helpers on /bin/sh children. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proc.h"

static int parse(const char *s, grid_ev *ev, char *err)
{
    return grid_ev_parse(s, strlen(s), ev, err, 128);
}

static void test_decision_line(void **state)
{
    (void)state;
    grid_ev ev;
    char err[128];
    const char *s = "{\"event\": \"decision\", \"fault\": \"F3/Line.L60\", \"latency_ms\": 3.25,"
                    " \"opened\": [\"F3/Line.Sw2\", \"F3/Line.Sw4\"], \"closed\": [],"
                    " \"ok\": true, \"bad\": false, \"none\": null, \"msg\": \"a \\\"q\\\" \\u0041\\n\"}";
    assert_int_equal(parse(s, &ev, err), 0);
    assert_int_equal(ev.n, 9);
    assert_string_equal(grid_ev_str(&ev, "event", ""), "decision");
    assert_string_equal(grid_ev_str(&ev, "fault", ""), "F3/Line.L60");
    assert_true(grid_ev_num(&ev, "latency_ms", 0) == 3.25);
    assert_string_equal(grid_ev_arr(&ev, "opened", 0), "F3/Line.Sw2");
    assert_string_equal(grid_ev_arr(&ev, "opened", 1), "F3/Line.Sw4");
    assert_null(grid_ev_arr(&ev, "opened", 2));
    assert_null(grid_ev_arr(&ev, "closed", 0));
    assert_int_equal(grid_ev_get(&ev, "ok")->type, GRID_EV_BOOL);
    assert_true(grid_ev_get(&ev, "ok")->num == 1);
    assert_true(grid_ev_get(&ev, "bad")->num == 0);
    assert_int_equal(grid_ev_get(&ev, "none")->type, GRID_EV_NULL);
    assert_string_equal(grid_ev_str(&ev, "msg", ""), "a \"q\" A\n");
    /* wrong types and absent members give the default */
    assert_true(grid_ev_num(&ev, "fault", -1) == -1);
    assert_string_equal(grid_ev_str(&ev, "latency_ms", "d"), "d");
    assert_string_equal(grid_ev_str(&ev, "nope", "d"), "d");
    assert_int_equal(parse("{}", &ev, err), 0);
    assert_int_equal(ev.n, 0);
}

static void test_bad_lines(void **state)
{
    (void)state;
    grid_ev ev;
    char err[128];
    const char *bad[] = {"", "[1]", "{", "{\"a\"}", "{\"a\": }", "{\"a\": 1,}", "{\"a\": 1} x",
                         "{\"a\": {\"b\": 1}}", "{\"a\": [1]}", "{\"a\": \"unterminated}",
                         "{\"a\": \"\\x\"}", "{\"a\": \"\\u12\"}", "{\"a\": 1e}", "{\"a\": tru}",
                         "{\"a\": [\"x\" \"y\"]}", "{\"a\": 1, \"a\": 2}",
                         "{\"\": [\"x\"], \"\": [\"y\", \"z\"]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(parse(bad[i], &ev, err), -1);
        assert_non_null(strstr(err, "at byte"));
    }
    char big[400];
    memset(big, 'x', sizeof big);
    snprintf(big, sizeof big, "{\"k\": \"%0300d\"}", 1);
    assert_int_equal(parse(big, &ev, err), -1);
    assert_non_null(strstr(err, "too long"));
    /* an array whose strings fill its 1024 bytes exactly, then one more (empty) string */
    char arr[1400] = "{\"a\": [";
    for (int i = 0; i < 8; i++)
        snprintf(arr + strlen(arr), sizeof arr - strlen(arr), "\"%0127d\", ", i);
    strcat(arr, "\"\"]}");
    assert_int_equal(parse(arr, &ev, err), -1);
    assert_non_null(strstr(err, "array too long"));
}

typedef struct lines { char got[8][64]; int n; } lines;

static void collect(void *ctx, grid_proc *p, char *line)
{
    (void)p;
    lines *l = ctx;
    if (l->n < 8)
        snprintf(l->got[l->n++], 64, "%s", line);
}

static void test_child_lines(void **state)
{
    (void)state;
    grid_proc p;
    grid_diag d = {0};
    char *argv[] = {"/bin/sh", "-c", "printf 'one\\ntwo\\nthr'; sleep 0.1; printf 'ee\\nlast'; exit 3",
                    NULL};
    assert_int_equal(grid_proc_start(&p, "sh", argv, 1, NULL, &d), 0);
    lines l = {.n = 0};
    grid_proc *ps[1] = {&p};
    for (int i = 0; i < 200 && grid_proc_poll(ps, 1, 100, collect, &l) >= 0; i++)
        ;
    assert_int_equal(l.n, 4);
    assert_string_equal(l.got[0], "one");
    assert_string_equal(l.got[1], "two");
    assert_string_equal(l.got[2], "three");
    assert_string_equal(l.got[3], "last");   /* the unterminated last line at EOF */
    assert_int_equal(grid_proc_stop(&p, 0, 5000), 3);
    /* a child that ignores SIGTERM is killed after the timeout */
    char *stubborn[] = {"/bin/sh", "-c", "trap '' TERM; sleep 30", NULL};
    assert_int_equal(grid_proc_start(&p, "sh", stubborn, 0, NULL, &d), 0);
    usleep(100000);
    assert_int_equal(grid_proc_stop(&p, SIGTERM, 300), 128 + SIGKILL);
    double cpu = -1, rss = -1;
    assert_int_equal(grid_proc_usage(getpid(), &cpu, &rss), 0);
    assert_true(cpu >= 0 && rss > 1);
    assert_int_equal(grid_proc_usage(p.pid ? p.pid : 999999999, &cpu, &rss), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decision_line),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_child_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
