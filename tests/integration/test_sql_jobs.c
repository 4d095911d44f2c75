/*
 * test_sql_jobs.c: a continuous SQL job (INSERT INTO sink SELECT ... in streaming mode)
 * survives SIGKILLs of the real server: two thirds of the rows are produced into a log
 * table, the job starts copying them (transformed) into a primary-key sink, the server is
 * killed five times (2 to 50 ms after each start, while the job works on the backlog) and
 * started again on the same directory, and the rest is produced. Afterwards the sink holds every key
 * of the source exactly once with the value of its last source row (nothing lost, no
 * duplicate), computed independently from the source by a batch query; SHOW JOBS shows the
 * job RUNNING with its positions at the source's end; STOP JOB stops it, and it stays
 * stopped across another restart.
 *
 * A second job copies the rows that pass a filter into a log table (no key to absorb a
 * repeat): after the same SIGKILLs the log sink
 * holds every passing source row exactly once (count, distinct values, sum and the derived
 * columns checked against what the test produced).
 */
#define _GNU_SOURCE
#include "sqlit.h"

#define NKEYS 1500
#define NROWS 48000

static st_server SRV;
static char DIR_[256];

static strom_client *client(void) { return sqlit_client(SRV.port); }

static strom_err run(strom_client *c, const char *q, const char *const *settings, char *out, size_t cap)
{
    return sqlit_run(c, q, settings, out, cap);
}

/* Produces rows [from, to): key K(i % NKEYS), v = i, in batches; returns after the acks. */
static void produce(strom_client *c, int from, int to)
{
    strom_producer *p = NULL;
    IT_OK(strom_producer_create(c, "src", NULL, NULL, 0, &p));
    for (int i = from; i < to; i++) {
        char k[16];
        snprintf(k, sizeof k, "K%05d", i % NKEYS);
        strom_value v[2] = {{.type = STROM_STRING, .v.s = {k, strlen(k)}}, {.type = STROM_BIGINT, .v.i = i}};
        IT_OK(strom_producer_send(p, v, 2));
        if (i % 500 == 499) {
            IT_OK(strom_producer_flush(p));
            usleep(2000);
        }
    }
    IT_OK(strom_producer_close(p));
}

static char want[NKEYS * 64], got[NKEYS * 64], jobs[4096];

/* The log sink: each source row i with i % 7 != 3 once, as (K(i % NKEYS), i, 3 i). */
static void check_log_sink(strom_client *c)
{
    int64_t n = 0, sum = 0;
    for (int i = 0; i < NROWS; i++)
        if (i % 7 != 3)
            n++, sum += i;
    char expect[256];
    snprintf(expect, sizeof expect, "%lld|%lld|%lld|%lld|%lld\n", (long long)n, (long long)n, (long long)sum,
             (long long)n, (long long)n);
    const char *q = "SELECT count(*), count(DISTINCT v), sum(v), sum(w = 3 * v), "
                    "sum(k = printf('K%05d', v % 1500)) FROM logsink";
    int64_t until = strom_mono_ns() + (int64_t)60 * 1000000000;
    do {
        IT_OK(run(c, q, NULL, got, sizeof got));
        if (!strcmp(expect, got) || atoll(got) > n)
            break;
        usleep(100000);
    } while (strom_mono_ns() < until);
    IT_CHECK(!strcmp(expect, got), "log sink: want count|distinct|sum|w ok|k ok = %s got %s", expect, got);
}

/* Waits until the sink equals the source's last value per key (or the deadline). */
static void check_sink(strom_client *c)
{
    IT_OK(run(c, "SELECT k, max(v), 2 * max(v) FROM src GROUP BY k ORDER BY k", NULL, want, sizeof want));
    int64_t until = strom_mono_ns() + (int64_t)60 * 1000000000;
    do {
        IT_OK(run(c, "SELECT k, v, n FROM sink ORDER BY k", NULL, got, sizeof got));
        if (!strcmp(want, got))
            break;
        usleep(100000);
    } while (strom_mono_ns() < until);
    int lines = 0;
    for (const char *p = want; *p; p++)
        lines += *p == '\n';
    IT_CHECK(lines == NKEYS, "%d keys in the source", lines);
    IT_CHECK(!strcmp(want, got), "the sink differs from the source's last rows:\n want %.200s\n got  %.200s",
             want, got);
}

int main(void)
{
    it_mktemp(DIR_, sizeof DIR_, "strom-sqljobs-");
    printf("test_sql_jobs: data %s\n", DIR_);
    st_start(&SRV, DIR_, NULL);
    strom_client *c = client();
    IT_OK(run(c, "CREATE TABLE src (k STRING, v BIGINT) WITH ('bucket.num' = '3', 'bucket.key' = 'k')", NULL, NULL, 0));
    IT_OK(run(c, "CREATE TABLE sink (k STRING PRIMARY KEY, v BIGINT, n BIGINT)", NULL, NULL, 0));
    IT_OK(run(c, "CREATE TABLE logsink (k STRING, v BIGINT, w BIGINT) WITH ('bucket.num' = '2', "
                 "'bucket.key' = 'k')", NULL, NULL, 0));
    const char *stream[] = {"execution.runtime-mode", "streaming", NULL};
    produce(c, 0, 2 * NROWS / 3);                 /* a backlog for the jobs */
    IT_OK(run(c, "INSERT INTO logsink SELECT k, v, v * 3 FROM src WHERE v % 7 <> 3", stream, jobs, sizeof jobs));
    IT_CHECK(!strncmp(jobs, "job-", 4), "the log job's id: %s", jobs);
    IT_OK(run(c, "INSERT INTO sink SELECT k, v, v * 2 FROM src", stream, jobs, sizeof jobs));
    IT_CHECK(!strncmp(jobs, "job-", 4), "the job's id: %s", jobs);
    char id[64];
    snprintf(id, sizeof id, "%.*s", (int)strcspn(jobs, "\n"), jobs);
    static const int after_ms[] = {2, 6, 12, 25, 50};
    for (int k = 0; k < 5; k++) {                 /* kills while the jobs work on a backlog */
        strom_client_close(c);
        usleep(after_ms[k] * 1000);
        IT_CHECK(st_stop(&SRV, SIGKILL) == 128 + SIGKILL, "killed");
        st_start(&SRV, DIR_, NULL);
        c = client();
    }
    produce(c, 2 * NROWS / 3, NROWS);
    check_sink(c);
    check_log_sink(c);
    IT_OK(run(c, "SHOW JOBS", NULL, jobs, sizeof jobs));
    IT_CHECK(strstr(jobs, id) && strstr(jobs, "|RUNNING|") && strstr(jobs, "|src:"), "SHOW JOBS: %s", jobs);
    printf("  after SIGKILL and restart: %d keys, each once with its last value; %s", NKEYS, jobs);
    char stop[128];
    snprintf(stop, sizeof stop, "STOP JOB '%s'", id);
    IT_OK(run(c, stop, NULL, NULL, 0));
    strom_err e = run(c, stop, NULL, NULL, 0);
    IT_CHECK(e == STROM_ENOTFOUND, "stopping it again: %s", strom_errmsg());
    strom_client_close(c);
    IT_CHECK(st_stop(&SRV, SIGTERM) == 0, "clean stop");
    st_start(&SRV, DIR_, NULL);
    c = client();
    IT_OK(run(c, "INSERT INTO src VALUES ('K00001', 999999)", NULL, NULL, 0));
    usleep(300000);
    IT_OK(run(c, "SELECT v FROM sink WHERE k = 'K00001'", NULL, got, sizeof got));
    IT_CHECK(strcmp(got, "999999\n") != 0, "a stopped job wrote after a restart");
    IT_OK(run(c, "SHOW JOBS", NULL, jobs, sizeof jobs));
    IT_CHECK(strstr(jobs, "|STOPPED|"), "SHOW JOBS after STOP: %s", jobs);
    strom_client_close(c);
    IT_CHECK(st_stop(&SRV, SIGTERM) == 0, "clean stop");
    it_rmtree(DIR_);
    printf("test_sql_jobs: ok\n");
    return 0;
}
