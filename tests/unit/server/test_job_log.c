/* test_job_log.c: a continuous job's log-table sink (src/server/job_log.c) writes each
 * source row's output exactly once across crashes at the points that matter. The job is
 * run here as jobs.c runs it (a job session in streaming mode with the sink hooks), one
 * round at a time: the idle hook hands the rows out and then ends the statement. A crash
 * is a failed save: the job's row keeps what was stored before, and the next run starts
 * from it as a restarted server would.
 *   - crash after the appends of an idle flush, before its commit, with new source rows
 *     before the restart: the replay must cut its first flush where the lost one was cut
 *     (a flush over the old and the new rows would carry a higher sequence and be applied,
 *     repeating the old rows);
 *   - crash before the appends (the intent stored, nothing written);
 *   - several threshold flushes in one round (more than 4096 rows).
 * The sink is compared with the source rows that pass the job's filter, computed here. */
#include "../sql/sqlt.h"
#include "server/srv_int.h"

#define JOB "job-test-1"
#define SQL "INSERT INTO sink SELECT k, v FROM src WHERE v % 3 <> 0"

typedef struct store {
    char positions[2048];   /* what the job row holds */
    int saves_left;         /* saves that succeed before the "crash" (-1: all) */
    int crashed;
} store;

static strom_err save_cb(void *arg, const char *positions)
{
    store *s = arg;
    if (s->saves_left == 0) {
        s->crashed = 1;
        return strom_fail(STROM_EIO, "test: the server died here");
    }
    if (s->saves_left > 0)
        s->saves_left--;
    snprintf(s->positions, sizeof s->positions, "%s", positions);
    return STROM_OK;
}

typedef struct run_ctx {
    srv_job_log *log;
    sql_session *sess;
} run_ctx;

static void idle_cb(void *arg)
{
    run_ctx *r = arg;
    srv_job_log_idle(r->log);
    sql_session_interrupt(r->sess);     /* one round per run */
}

/* "src:r0,r1,...;..." -> the session's resume point (as jobs.c's resume_at). */
static void resume(sql_session *sess, const char *positions)
{
    int64_t pos[64];
    int n = 0;
    const char *p = strchr(positions, ':');
    for (p = p ? p + 1 : NULL; p && *p && *p != ';' && n < 64; n++) {
        char *end;
        pos[n] = strtoll(p, &end, 10);
        p = *end == ',' ? end + 1 : end;
    }
    sql_session_set_job(sess, NULL, NULL, 0);
    if (n)
        sql_session_set_job(sess, "src", pos, n);
}

/* One run of the job over what src holds now, from the stored positions. */
static void run_job(sqlt *t, store *st)
{
    run_ctx r = {0};
    assert_int_equal(sql_session_open(t->db, &r.sess), STROM_OK);
    assert_int_equal(sql_session_set(r.sess, "execution.runtime-mode", "streaming"), STROM_OK);
    assert_int_equal(srv_job_log_create(JOB, st->positions[0] ? st->positions : NULL, save_cb, st, &r.log),
                     STROM_OK);
    srv_job_log_attach(r.log, r.sess);
    resume(r.sess, st->positions);
    sql_session_set_idle(r.sess, idle_cb, &r);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sql_session_run(r.sess, SQL, strlen(SQL), &stmt), STROM_OK);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
    }
    sqlite3_finalize(stmt);
    sql_session_close(r.sess);
    srv_job_log_free(r.log);
}

/* A run that "crashes" at save number saves + 1 (it must get there). */
static void run_crashing(sqlt *t, store *st, int saves)
{
    st->saves_left = saves;
    st->crashed = 0;
    run_job(t, st);
    assert_true(st->crashed);
}

/* A run after a restart, with no crash. */
static void run_clean(sqlt *t, store *st)
{
    st->saves_left = -1;
    st->crashed = 0;
    run_job(t, st);
    assert_false(st->crashed);
}

/* Source rows [from, to) as k = 'K' || (i % 17), v = i, in batches of `per` rows. */
static void produce(sqlt *t, int from, int to, int per)
{
    char sql[1 << 16];
    for (int i = from; i < to;) {
        int w = snprintf(sql, sizeof sql, "INSERT INTO src VALUES ");
        for (int k = 0; k < per && i < to; k++, i++)
            w += snprintf(sql + w, sizeof sql - (size_t)w, "%s('K%d', %d)", k ? ", " : "", i % 17, i);
        sqlt_run(t, sql, NULL);
    }
}

/* The sink holds each source row i < n with i % 3 != 0 once, with its key. */
static void check_sink(sqlt *t, int n)
{
    int64_t m = (n + 2) / 3;            /* 0, 3, ..., 3 (m - 1) fail the filter */
    int64_t cnt = n - m, sum = (int64_t)n * (n - 1) / 2 - 3 * m * (m - 1) / 2;
    char want[128];
    snprintf(want, sizeof want, "%lld|%lld|%lld|%lld", (long long)cnt, (long long)cnt, (long long)sum,
             (long long)cnt);
    rows got = {0};
    sqlt_run(t, "SELECT count(*), count(DISTINCT v), sum(v), sum(k = 'K' || (v % 17)) FROM sink", &got);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.r[0], want);
    rows_free(&got);
}

static void setup_tables(sqlt *t)
{
    sqlt_run(t, "CREATE TABLE src (k STRING, v BIGINT) WITH ('bucket.num' = '3', 'bucket.key' = 'k')", NULL);
    sqlt_run(t, "CREATE TABLE sink (k STRING, v BIGINT) WITH ('bucket.num' = '2', 'bucket.key' = 'k')", NULL);
}

static void test_crash_after_appends(void **state)
{
    (void)state;
    sqlt t;
    sqlt_open(&t, "joblog1");
    setup_tables(&t);
    store st = {.saves_left = -1};
    produce(&t, 0, 40, 4);
    run_crashing(&t, &st, 1);           /* the intent is stored, the appends go out, the commit fails */
    assert_non_null(strchr(st.positions, ';'));   /* the pending sequences were stored */
    check_sink(&t, 40);
    produce(&t, 40, 70, 5);             /* new rows before the restart */
    run_clean(&t, &st);                 /* from the intent: a replay, then the new rows */
    check_sink(&t, 70);
    sqlt_close(&t);
}

static void test_replay_from_intent(void **state)
{
    (void)state;
    sqlt t;
    sqlt_open(&t, "joblog2");
    setup_tables(&t);
    store st = {.saves_left = -1};
    produce(&t, 0, 30, 3);
    run_clean(&t, &st);                 /* a clean round: committed */
    check_sink(&t, 30);
    char committed[2048];
    snprintf(committed, sizeof committed, "%s", st.positions);
    produce(&t, 30, 60, 4);
    run_crashing(&t, &st, 1);           /* intent stored, appends, commit lost */
    check_sink(&t, 60);
    assert_string_not_equal(st.positions, committed);
    produce(&t, 60, 100, 7);            /* more rows: the replay's round is longer */
    run_clean(&t, &st);
    check_sink(&t, 100);
    assert_null(strchr(st.positions, ';'));       /* committed: no pending sequences */
    produce(&t, 100, 130, 10);
    run_crashing(&t, &st, 0);           /* the intent itself fails: nothing is written */
    check_sink(&t, 100);
    run_clean(&t, &st);
    check_sink(&t, 130);
    sqlt_close(&t);
}

static void test_threshold_flushes(void **state)
{
    (void)state;
    sqlt t;
    sqlt_open(&t, "joblog3");
    setup_tables(&t);
    store st = {.saves_left = -1};
    produce(&t, 0, 15000, 1000);
    run_crashing(&t, &st, 2);           /* two flushes' intents, then the crash */
    produce(&t, 15000, 16000, 1000);
    run_clean(&t, &st);
    check_sink(&t, 16000);
    sqlt_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_after_appends),
        cmocka_unit_test(test_replay_from_intent),
        cmocka_unit_test(test_threshold_flushes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
