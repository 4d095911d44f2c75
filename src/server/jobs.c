/* jobs.c: continuous SQL jobs. In streaming mode `INSERT INTO sink SELECT ...` (sent with
 * EXECUTE_SQL) does not run on the connection: it becomes a job of the server, with a thread
 * of its own that runs the statement for as long as the server runs, and again after a
 * restart.
 *
 * THE JOB TABLE (SQL_JOBS_TABLE, "__sql_jobs", a primary-key table of the database)
 *   id STRING (key), statement STRING, settings STRING ("key=value\n" lines), state STRING
 *   (RUNNING, STOPPED, FAILED), rows BIGINT (rows written so far), positions STRING (the
 *   stream's table, then per bucket the next offset: "table:o0,o1,..."; over a join of two
 *   streams each side's, "t0:...|t1:...", per bucket the offset of the oldest row it still
 *   holds (else the next offset); with a window the
 *   offsets of the oldest rows of its open windows and ";w<end of the last closed window>,
 *   late=<rows dropped as late in this run>"),
 *   error STRING.
 *   A RUNNING job is started again when the server starts (from its positions). A job
 *   into a log table adds its pending batch sequences (job_log.c).
 *
 * EXACTLY ONCE INTO A PRIMARY-KEY SINK
 *   The job's stream calls back each time it has read its table to the end (sql_vctx.idle):
 *   every row before its positions has then gone through the statement. The job writes the
 *   sink rows it buffered (durable on return) and then stores the positions in its row of
 *   the job table (durable too). After a crash the job starts at the stored positions, so no
 *   source row is lost; rows between the stored positions and the crash are read again and
 *   written again as the same upserts of the same keys, so the sink holds each key once with
 *   its last value (no duplicate). A job over a join of two streams stores both tables'
 *   positions, each side's oldest row still held for a match: a restart reads again the
 *   rows that can still match and writes their matches again as the same upserts (a log
 *   sink is refused for it: a match has no one source position for an idempotent append).
 *
 * EXACTLY ONCE INTO A LOG SINK: idempotent appends whose writer ids and sequences come from
 *   the source positions (job_log.c); with a window, from the windows' ends (the positions
 *   are then the window's, as for a primary-key sink).
 */
#include "srv_int.h"

#include <stdio.h>
#include <stdlib.h>

#include "sql/engine.h"

typedef struct srv_job {
    struct srv_job *next;
    srv_server *srv;
    char id[64];
    char *sql, *settings;
    sql_session *sess;
    sqlite3_stmt *st;
    pthread_t th;
    atomic_int stop;           /* 1: STOP JOB, 2: server shutdown */
    int64_t rows, rows_base;   /* rows written (rows_base: before this start) */
    srv_job_log *log;          /* a log-table sink (NULL: a primary-key sink) */
    char positions[2048];
} srv_job;

struct srv_jobs {
    pthread_mutex_t mu;
    srv_job *list;
    int64_t next;
};

/* ----------------------------------------------------------- job table */

static strom_err jobs_table(srv_server *s, strom_table **out)
{
    strom_err e = strom_table_open(s->db, SQL_JOBS_TABLE, out);
    if (e != STROM_ENOTFOUND)
        return e;
    static const char *const cols[] = {"id", "statement", "settings", "state", "rows", "positions", "error"};
    strom_schema *sc = strom_schema_create();
    e = sc ? STROM_OK : STROM_ENOMEM;
    for (int i = 0; i < 7 && e == STROM_OK; i++)
        e = strom_schema_add(sc, cols[i], i == 4 ? STROM_BIGINT : STROM_STRING, i == 0);
    const char *pk[] = {"id"};
    if (e == STROM_OK)
        e = strom_schema_set_primary_key(sc, pk, 1);
    if (e == STROM_OK && (e = strom_table_create(s->db, SQL_JOBS_TABLE, sc, NULL)) == STROM_EEXIST)
        e = STROM_OK;
    strom_schema_destroy(sc);
    return e == STROM_OK ? strom_table_open(s->db, SQL_JOBS_TABLE, out) : e;
}

static strom_err put(strom_builder *b, int col, const char *v)
{
    return v ? strom_builder_put_str(b, col, v, strlen(v)) : strom_builder_put_null(b, col);
}

/* Writes the job's row (durable on return). */
static strom_err save(srv_job *j, const char *state, const char *error)
{
    strom_table *t = NULL;
    strom_err e = jobs_table(j->srv, &t);
    strom_builder *b = e == STROM_OK ? strom_builder_create(strom_table_schema(t)) : NULL;
    if (e == STROM_OK && !b)
        e = STROM_ENOMEM;
    const char *v[] = {j->id, j->sql, j->settings, state, NULL, j->positions, error};
    for (int i = 0; i < 7 && e == STROM_OK; i++)
        e = i == 4 ? strom_builder_put_int(b, 4, j->rows) : put(b, i, v[i]);
    if (e == STROM_OK)
        e = strom_builder_end_row(b);
    if (e == STROM_OK)
        e = strom_table_upsert(t, b);
    strom_builder_destroy(b);
    strom_table_close(t);
    return e;
}

/* ------------------------------------------------------------ positions */

/* "table:o0,o1,..." of pos[0..n) at j->positions + w; the new w. */
static int put_positions(srv_job *j, int w, const char *table, const int64_t *pos, int n)
{
    w += snprintf(j->positions + w, sizeof j->positions - (size_t)w, "%s:", table);
    for (int b = 0; b < n && w > 0 && (size_t)w < sizeof j->positions - 24; b++)
        w += snprintf(j->positions + w, sizeof j->positions - (size_t)w, "%s%lld", b ? "," : "",
                      (long long)pos[b]);
    return w;
}

/* A join of two streams: "t0:o0,...|t1:o0,..." (each side's oldest held rows). 0: no join. */
static int join_positions_of(srv_job *j)
{
    const char *t0, *t1;
    int n0, n1;
    const int64_t *p0 = sql_session_join_pos(j->sess, 0, &t0, &n0), *p1 = sql_session_join_pos(j->sess, 1, &t1, &n1);
    if (!p0 || !p1)
        return 0;
    int w = put_positions(j, 0, t0, p0, n0);
    if (w > 0 && (size_t)w < sizeof j->positions - 200)
        w += snprintf(j->positions + w, sizeof j->positions - (size_t)w, "|");
    if (w > 0 && (size_t)w < sizeof j->positions - 200)
        put_positions(j, w, t1, p1, n1);
    return 1;
}

static void positions_of(srv_job *j)
{
    const char *table;
    int n;
    if (join_positions_of(j))
        return;
    const int64_t *pos = sql_session_stream_pos(j->sess, &table, &n);
    if (!pos || !table)
        return;
    int w = put_positions(j, 0, table, pos, n);
    int64_t closed, late;
    if (sql_session_window(j->sess, &closed, &late) && closed != INT64_MIN && w > 0 &&
        (size_t)w < sizeof j->positions - 24)
        snprintf(j->positions + w, sizeof j->positions - (size_t)w, ";w%lld,late=%lld", (long long)closed,
                 (long long)late);
}

/* "table:o0,o1,..." at s -> table, pos; the count (-1: none). */
static int parse_table_pos(const char *s, char *table, size_t cap, int64_t *pos)
{
    int n = 0;
    const char *colon = strchr(s, ':');
    if (!colon || colon - s >= (long)cap)
        return -1;
    snprintf(table, cap, "%.*s", (int)(colon - s), s);
    for (const char *p = colon + 1; *p && *p != ';' && *p != '|' && n < 64; n++) {
        char *end;
        pos[n] = strtoll(p, &end, 10);
        if (end == p)
            return -1;
        p = *end == ',' ? end + 1 : end;
    }
    return n;
}

/* "table:o0,o1,..." (a join: "t0:...|t1:...") -> the job session's resume point. */
static void resume_at(srv_job *j)
{
    char table[160];
    int64_t pos[64];
    const char *bar = strchr(j->positions, '|');
    int n = parse_table_pos(j->positions, table, sizeof table, pos);
    if (n >= 0 && bar) {
        sql_session_set_job_join(j->sess, 0, table, pos, n);
        if ((n = parse_table_pos(bar + 1, table, sizeof table, pos)) >= 0)
            sql_session_set_job_join(j->sess, 1, table, pos, n);
        return;
    }
    if (n < 0)
        return;
    const char *colon = strchr(j->positions, ':');
    sql_session_set_job(j->sess, table, pos, n);
    const char *w = strstr(colon, ";w");
    if (w)                            /* a window job: its windows closed so far */
        sql_session_set_window_resume(j->sess, strtoll(w + 2, NULL, 10));
}

/* srv_job_log_save: the job row with these positions. */
static strom_err save_positions(void *arg, const char *positions)
{
    srv_job *j = arg;
    j->rows = j->rows_base + srv_job_log_rows(j->log);
    snprintf(j->positions, sizeof j->positions, "%s", positions);
    return save(j, "RUNNING", NULL);
}

/* sql_vctx.idle: the stream read its table to the end: write, then commit the positions. */
static void job_idle(void *arg)
{
    srv_job *j = arg;
    int64_t closed, late;
    if (j->log && !sql_session_window(j->sess, &closed, &late)) {
        srv_job_log_idle(j->log);  /* a failure fails the statement's next write */
        return;
    }
    int64_t rows = 0;              /* (a window job into a log table wrote at each end) */
    if (sql_session_flush_writes(j->sess, &rows) != STROM_OK)
        return;                    /* the statement's next write fails and ends the job */
    j->rows = j->rows_base + (j->log ? srv_job_log_rows(j->log) : sql_session_rows_written(j->sess));
    positions_of(j);
    save(j, "RUNNING", NULL);
}

/* ---------------------------------------------------------------- run */

static strom_err apply_settings(sql_session *sess, char *settings)
{
    strom_err e = STROM_OK;
    for (char *save_p = NULL, *line = strtok_r(settings, "\n", &save_p); line && e == STROM_OK;
         line = strtok_r(NULL, "\n", &save_p)) {
        char *eq = strchr(line, '=');
        if (eq) {
            *eq = '\0';
            e = sql_session_set(sess, line, eq + 1);
            *eq = '=';
        }
    }
    return e;
}

/* The job's session with its statement prepared (in job mode, from its positions). */
static strom_err job_prepare(srv_job *j)
{
    strom_err e = sql_session_open(j->srv->db, &j->sess);
    char *copy = e == STROM_OK ? strom_strdup(j->settings) : NULL;
    if (e == STROM_OK && !copy)
        e = STROM_ENOMEM;
    if (e == STROM_OK)
        e = apply_settings(j->sess, copy);
    free(copy);
    if (e == STROM_OK && j->log)
        srv_job_log_attach(j->log, j->sess);
    if (e == STROM_OK) {
        sql_session_set_job(j->sess, NULL, NULL, 0);
        resume_at(j);
        sql_session_set_idle(j->sess, job_idle, j);
        e = sql_session_run(j->sess, j->sql, strlen(j->sql), &j->st);
    }
    if (e == STROM_OK && !j->st)
        e = strom_fail(STROM_EINVAL, "job %s: the statement is no INSERT INTO ... SELECT", j->id);
    return e;
}

static void *job_main(void *arg)
{
    srv_job *j = arg;
    int rc;
    while ((rc = sqlite3_step(j->st)) == SQLITE_ROW) {
    }
    int stop = atomic_load(&j->stop);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", rc == SQLITE_DONE ? "" : sqlite3_errmsg(sql_session_db(j->sess)));
    if (stop == 1)
        save(j, "STOPPED", NULL);
    else if (stop == 0)
        save(j, rc == SQLITE_DONE ? "STOPPED" : "FAILED", msg);
    if (stop == 0)
        fprintf(stderr, "strom server: job %s ended: %s\n", j->id, msg[0] ? msg : "its stream ended");
    return NULL;                   /* stop 2 (shutdown): stays RUNNING, restarted at start */
}

static void job_free(srv_job *j)
{
    srv_job_log_free(j->log);
    sqlite3_finalize(j->st);
    sql_session_close(j->sess);
    free(j->sql);
    free(j->settings);
    free(j);
}

/* Checks the statement is INSERT INTO <existing table> ...; *is_log: the sink is a log table. */
static strom_err check_sink(srv_server *s, const char *sql, size_t len, int *is_log)
{
    sql_tok *t = NULL;
    size_t n = 0;
    strom_err e = sql_lex(sql, len, &t, &n);
    if (e == STROM_OK && (n < 4 || !sql_tok_is(&t[0], "INSERT") || !sql_tok_is(&t[1], "INTO")))
        e = strom_fail(STROM_EINVAL, "a job is INSERT INTO sink SELECT ...");
    char name[200];
    strom_table *sink = NULL;
    if (e == STROM_OK) {
        snprintf(name, sizeof name, "%.*s", (int)t[2].n, t[2].p);
        e = strom_table_open(s->db, name, &sink);
    }
    *is_log = e == STROM_OK && strom_schema_primary_key(strom_table_schema(sink), NULL, 0) == 0;
    strom_table_close(sink);
    free(t);
    return e;
}

/* Starts the prepared job's thread and lists it. */
static strom_err job_spawn(srv_server *s, srv_job *j)
{
    strom_err e = STROM_OK;
    if (pthread_create(&j->th, NULL, job_main, j) != 0)
        e = strom_fail(STROM_ENOMEM, "cannot start the thread of job %s", j->id);
    if (e != STROM_OK)
        return e;
    pthread_mutex_lock(&s->jobs->mu);
    j->next = s->jobs->list;
    s->jobs->list = j;
    pthread_mutex_unlock(&s->jobs->mu);
    return STROM_OK;
}

/* A job (not started); positions: its stored ones (NULL: none). */
static srv_job *job_new(srv_server *s, const char *id, const char *sql, size_t len, const char *settings,
                        const char *positions)
{
    int is_log = 0;
    if (check_sink(s, sql, len, &is_log) != STROM_OK)
        return NULL;
    srv_job *j = strom_calloc(1, sizeof *j);
    if (!j)
        return NULL;
    snprintf(j->positions, sizeof j->positions, "%s", positions ? positions : "");
    if (is_log && srv_job_log_create(id, positions, save_positions, j, &j->log) != STROM_OK) {
        free(j);
        return NULL;
    }
    j->srv = s;
    snprintf(j->id, sizeof j->id, "%s", id);
    j->sql = strndup(sql, len);
    j->settings = strom_strdup(settings);
    if (!j->sql || !j->settings) {
        job_free(j);
        return NULL;
    }
    return j;
}

/* sql_job_hooks.start: a new job with the session's settings (streaming mode included). */
static strom_err hook_start(void *ctx, sql_session *from, const char *sql, size_t len, char *id, size_t cap)
{
    srv_server *s = ctx;
    int is_log = 0;
    strom_err e = check_sink(s, sql, len, &is_log);
    if (e != STROM_OK)
        return e;
    const char *kv[8][2];
    int n = sql_session_settings(from, kv);
    char settings[1024] = "";
    for (int i = 0, w = 0; i < n && w >= 0 && (size_t)w < sizeof settings; i++)
        w += snprintf(settings + w, sizeof settings - (size_t)w, "%s=%s\n", kv[i][0], kv[i][1]);
    pthread_mutex_lock(&s->jobs->mu);
    int64_t k = ++s->jobs->next;
    pthread_mutex_unlock(&s->jobs->mu);
    char jid[64];
    snprintf(jid, sizeof jid, "job-%lld-%lld", (long long)(strom_now_ms() / 1000), (long long)k);
    srv_job *j = job_new(s, jid, sql, len, settings, NULL);
    if (!j)
        return strom_errmsg()[0] ? strom_fail(STROM_EINVAL, "%s", strom_errmsg()) : STROM_ENOMEM;
    if ((e = job_prepare(j)) == STROM_OK && (e = save(j, "RUNNING", NULL)) == STROM_OK)
        e = job_spawn(s, j);
    if (e != STROM_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", strom_errmsg());
        job_free(j);
        return strom_fail(e, "%s", msg);
    }
    snprintf(id, cap, "%s", jid);
    return STROM_OK;
}

static void job_end(srv_job *j, int how)
{
    atomic_store(&j->stop, how);
    sql_session_interrupt(j->sess);
    pthread_join(j->th, NULL);
    job_free(j);
}

/* sql_job_hooks.stop */
static strom_err hook_stop(void *ctx, const char *id)
{
    srv_server *s = ctx;
    pthread_mutex_lock(&s->jobs->mu);
    srv_job **p = &s->jobs->list;
    while (*p && strcmp((*p)->id, id))
        p = &(*p)->next;
    srv_job *j = *p;
    if (j)
        *p = j->next;
    pthread_mutex_unlock(&s->jobs->mu);
    if (!j)
        return strom_fail(STROM_ENOTFOUND, "STOP JOB '%s': no running job with that id (SHOW JOBS)", id);
    job_end(j, 1);
    return STROM_OK;
}

void srv_jobs_hooks(srv_server *s, sql_session *sess)
{
    sql_job_hooks h = {hook_start, hook_stop, s};
    sql_session_set_jobs(sess, &h);
}

/* ------------------------------------------------------- start / stop */

static char *col_str(const strom_batch *b, int col, int64_t r)
{
    size_t n = 0;
    const char *p = strom_batch_is_null(b, col, r) ? "" : strom_batch_get_str(b, col, r, &n);
    return strndup(p, n);
}

/* Starts again the jobs that were RUNNING. */
static void restart_jobs(srv_server *s)
{
    strom_table *t = NULL;
    strom_batch *b = NULL;
    if (strom_table_open(s->db, SQL_JOBS_TABLE, &t) != STROM_OK || strom_table_scan_kv(t, NULL, &b) != STROM_OK) {
        strom_table_close(t);
        return;
    }
    for (int64_t r = 0; b && r < strom_batch_nrows(b); r++) {
        char *id = col_str(b, 0, r), *sql = col_str(b, 1, r), *set = col_str(b, 2, r), *state = col_str(b, 3, r),
             *pos = col_str(b, 5, r);
        srv_job *j = id && sql && set && state && !strcmp(state, "RUNNING")
                         ? job_new(s, id, sql, strlen(sql), set, pos) : NULL;
        if (!j && state && !strcmp(state, "RUNNING"))
            fprintf(stderr, "strom server: job %s could not restart: %s\n", id ? id : "?", strom_errmsg());
        if (j) {
            j->rows = j->rows_base = strom_batch_get_int(b, 4, r);
            if (job_prepare(j) != STROM_OK || job_spawn(s, j) != STROM_OK) {
                fprintf(stderr, "strom server: job %s could not restart: %s\n", id, strom_errmsg());
                save(j, "FAILED", strom_errmsg());
                job_free(j);
            }
        }
        free(id), free(sql), free(set), free(state), free(pos);
    }
    strom_batch_destroy(b);
    strom_table_close(t);
}

strom_err srv_jobs_start(srv_server *s)
{
    s->jobs = strom_calloc(1, sizeof *s->jobs);
    if (!s->jobs)
        return STROM_ENOMEM;
    pthread_mutex_init(&s->jobs->mu, NULL);
    restart_jobs(s);
    return STROM_OK;
}

void srv_jobs_stop(srv_server *s)
{
    if (!s->jobs)
        return;
    for (;;) {
        pthread_mutex_lock(&s->jobs->mu);
        srv_job *j = s->jobs->list;
        if (j)
            s->jobs->list = j->next;
        pthread_mutex_unlock(&s->jobs->mu);
        if (!j)
            break;
        job_end(j, 2);
    }
    pthread_mutex_destroy(&s->jobs->mu);
    free(s->jobs);
    s->jobs = NULL;
}
