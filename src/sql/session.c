/* session.c: an SQL session (engine.h): the sqlite3 connection, registration of strom
 * tables, the catalog statements (CREATE/DROP TABLE and VIEW, SET, SHOW TABLES,
 * DESCRIBE), the stored views and the session zone. */
#define _GNU_SOURCE 1
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

typedef struct view {
    char *name, *body;
} view;

struct sql_session {
    strom_db *db;
    sqlite3 *q;
    sql_vctx vctx;             /* shared with the virtual tables */
    sql_drop_fn drop;          /* DROP TABLE through the caller (NULL: strom_table_drop) */
    void *drop_ctx;
    sql_job_hooks jobs;        /* start/stop of continuous jobs (a server's) */
    int64_t now_ms;            /* 0: wall clock */
    char zone[128];            /* "" = the machine's zone */
    int64_t fixed_tz_ms;       /* zone given as +HH:MM / UTC */
    int fixed_tz;
    view *views;
    int nviews;
};

/* ------------------------------------------------------------------- zone */

static int64_t offset_in_zone(const char *zone, int64_t now_ms)
{
    char *old = getenv("TZ") ? strom_strdup(getenv("TZ")) : NULL;
    if (*zone)
        setenv("TZ", zone, 1);
    tzset();
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    if (*zone) {
        if (old)
            setenv("TZ", old, 1);
        else
            unsetenv("TZ");
        tzset();
    }
    free(old);
    return (int64_t)tm.tm_gmtoff * 1000;
}

static int64_t now_of(const sql_session *s) { return s->now_ms ? s->now_ms : strom_now_ms(); }

int64_t sql_session_tz_ms(sql_session *s)
{
    return s->fixed_tz ? s->fixed_tz_ms : offset_in_zone(s->zone, now_of(s));
}

/* "+08:00", "-05:30", "UTC", "Z", "GMT": a fixed offset. 1 if v is one. */
static int fixed_offset(const char *v, int64_t *ms)
{
    if (!strcmp(v, "UTC") || !strcmp(v, "Z") || !strcmp(v, "GMT")) {
        *ms = 0;
        return 1;
    }
    int h, m = 0;
    char sign;
    if ((sscanf(v, "%c%2d:%2d", &sign, &h, &m) >= 2) && (sign == '+' || sign == '-') && h <= 18 && m < 60) {
        *ms = (sign == '-' ? -1 : 1) * ((int64_t)h * 3600000 + (int64_t)m * 60000);
        return 1;
    }
    return 0;
}

static strom_err set_zone(sql_session *s, const char *v)
{
    int64_t ms;
    if (fixed_offset(v, &ms)) {
        s->fixed_tz = 1;
        s->fixed_tz_ms = ms;
        return STROM_OK;
    }
    char path[300];
    struct stat st;
    if (strlen(v) > 100 || strstr(v, "..") || v[0] == '/' || !*v ||
        snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", v) < 0 || stat(path, &st) || !S_ISREG(st.st_mode))
        return strom_fail(STROM_EOPTION, "'table.local-time-zone' = '%s': unknown time zone (use an "
                          "IANA name such as 'Asia/Shanghai', 'UTC' or an offset such as '+08:00')", v);
    s->fixed_tz = 0;
    snprintf(s->zone, sizeof s->zone, "%s", v);
    return STROM_OK;
}

strom_err sql_session_set(sql_session *s, const char *key, const char *value)
{
    if (!strcmp(key, "table.local-time-zone"))
        return set_zone(s, value);
    if (!strcmp(key, "execution.runtime-mode")) {
        if (strcmp(value, "batch") && strcmp(value, "streaming"))
            return strom_fail(STROM_EOPTION, "'execution.runtime-mode' = '%s': use 'batch' or "
                              "'streaming'", value);
        s->vctx.streaming = !strcmp(value, "streaming");
        return STROM_OK;
    }
    if (!strcmp(key, "scan.startup.mode")) {
        if (strcmp(value, "earliest") && strcmp(value, "full") && strcmp(value, "latest"))
            return strom_fail(STROM_EOPTION, "'scan.startup.mode' = '%s': use 'earliest' (or "
                              "'full') or 'latest'", value);
        s->vctx.from_latest = !strcmp(value, "latest");
        return STROM_OK;
    }
    return strom_fail(STROM_EOPTION, "SET '%s': unknown setting (known: 'table.local-time-zone', "
                      "'execution.runtime-mode', 'scan.startup.mode')", key);
}

int sql_session_settings(sql_session *s, const char *kv[][2])
{
    int n = 0;
    if (s->fixed_tz || s->zone[0]) {
        static __thread char off[16];
        if (s->fixed_tz)
            snprintf(off, sizeof off, "%+03d:%02d", (int)(s->fixed_tz_ms / 3600000),
                     (int)(llabs(s->fixed_tz_ms) / 60000 % 60));
        kv[n][0] = "table.local-time-zone";
        kv[n++][1] = s->fixed_tz ? off : s->zone;
    }
    kv[n][0] = "execution.runtime-mode";
    kv[n++][1] = s->vctx.streaming ? "streaming" : "batch";
    kv[n][0] = "scan.startup.mode";
    kv[n++][1] = s->vctx.from_latest ? "latest" : "earliest";
    return n;
}

int sql_session_streaming(const sql_session *s) { return s->vctx.streaming; }

void sql_session_set_drop(sql_session *s, sql_drop_fn fn, void *ctx)
{
    s->drop = fn;
    s->drop_ctx = ctx;
}

void sql_session_set_idle(sql_session *s, void (*fn)(void *), void *arg)
{
    s->vctx.idle = fn;
    s->vctx.idle_arg = arg;
}

void sql_session_set_jobs(sql_session *s, const sql_job_hooks *h)
{
    s->jobs = h ? *h : (sql_job_hooks){0};
}

void sql_session_set_job(sql_session *s, const char *resume_table, const int64_t *pos, int n)
{
    s->vctx.job = 1;
    s->vctx.resume_n = 0;
    if (resume_table && pos && n > 0 && n <= 64) {
        snprintf(s->vctx.resume_table, sizeof s->vctx.resume_table, "%s", resume_table);
        memcpy(s->vctx.resume_pos, pos, (size_t)n * sizeof *pos);
        s->vctx.resume_n = n;
    }
}

void sql_session_set_job_sink(sql_session *s, const sql_job_sink *h)
{
    s->vctx.sink = h ? *h : (sql_job_sink){0};
}

int64_t sql_session_rows_written(const sql_session *s) { return s->vctx.rows_written; }

strom_err sql_session_flush_writes(sql_session *s, int64_t *rows)
{
    return sql_vtab_flush_writes(&s->vctx, rows);
}

const int64_t *sql_session_stream_pos(sql_session *s, const char **table, int *n)
{
    *table = s->vctx.stream_table;
    *n = s->vctx.stream_nbuckets;
    if (s->vctx.stream_pos && s->vctx.wstream)      /* a window: its open rows too */
        return sql_wstream_safe_pos(s->vctx.wstream, s->vctx.stream_pos, *n);
    return s->vctx.stream_pos;
}

int sql_session_window(sql_session *s, int64_t *closed, int64_t *late)
{
    if (!s->vctx.wstream)
        return 0;
    *closed = sql_wstream_closed(s->vctx.wstream);
    *late = sql_wstream_late(s->vctx.wstream);
    return 1;
}

void sql_session_set_window_resume(sql_session *s, int64_t closed) { s->vctx.win_resume_closed = closed; }

const int64_t *sql_session_stream_from(sql_session *s, int *n)
{
    *n = s->vctx.stream_nbuckets;
    return s->vctx.stream_pos && *n <= 64 ? s->vctx.stream_from : NULL;
}

void sql_session_set_now(sql_session *s, int64_t now_ms) { s->now_ms = now_ms; }
sqlite3 *sql_session_db(sql_session *s) { return s->q; }
void sql_session_interrupt(sql_session *s)
{
    atomic_store(&s->vctx.cancel, 1);
    sqlite3_interrupt(s->q);
}

/* ------------------------------------------------------------------ views */

static view *find_view(sql_session *s, const char *name)
{
    for (int i = 0; i < s->nviews; i++)
        if (!strcmp(s->views[i].name, name))
            return &s->views[i];
    return NULL;
}

static strom_err remember_view(sql_session *s, const char *name, const char *body)
{
    view *n = strom_realloc(s->views, (size_t)(s->nviews + 1) * sizeof *n);
    if (!n)
        return STROM_ENOMEM;
    s->views = n;
    n[s->nviews].name = strom_strdup(name);
    n[s->nviews].body = strom_strdup(body);
    if (!n[s->nviews].name || !n[s->nviews].body) {
        free(n[s->nviews].name);
        free(n[s->nviews].body);
        return STROM_ENOMEM;
    }
    s->nviews++;
    return STROM_OK;
}

static void forget_view(sql_session *s, const char *name)
{
    view *v = find_view(s, name);
    if (!v)
        return;
    free(v->name);
    free(v->body);
    *v = s->views[--s->nviews];
}

/* sql_ctx.view_base: a view 'SELECT * FROM base' is seen through. */
static int view_base(void *arg, const char *name, char *out, size_t cap)
{
    view *v = find_view(arg, name);
    if (!v)
        return 0;
    sql_tok *t = NULL;
    size_t n = 0;
    if (sql_lex(v->body, strlen(v->body), &t, &n) != STROM_OK)
        return -1;
    size_t k = n - 1;                       /* tokens before the END token */
    if (k > 0 && sql_tok_punct(&t[k - 1], ";"))
        k--;
    int ok = k == 4 && sql_tok_is(&t[0], "SELECT") && sql_tok_punct(&t[1], "*") &&
             sql_tok_is(&t[2], "FROM") && (t[3].kind == SQL_TK_IDENT || t[3].kind == SQL_TK_QIDENT);
    if (ok)
        snprintf(out, cap, "%.*s", (int)t[3].n, t[3].p);
    free(t);
    return ok ? 1 : -1;
}

static strom_err views_table(sql_session *s, int create, strom_table **out)
{
    strom_err e = strom_table_open(s->db, SQL_VIEWS_TABLE, out);
    if (e != STROM_ENOTFOUND || !create)
        return e;
    strom_schema *sc = strom_schema_create();
    const char *pk[] = {"name"};
    e = sc ? strom_schema_add(sc, "name", STROM_STRING, 1) : STROM_ENOMEM;
    if (e == STROM_OK)
        e = strom_schema_add(sc, "body", STROM_STRING, 0);
    if (e == STROM_OK)
        e = strom_schema_set_primary_key(sc, pk, 1);
    if (e == STROM_OK)
        e = strom_table_create(s->db, SQL_VIEWS_TABLE, sc, NULL);
    strom_schema_destroy(sc);
    return e == STROM_OK ? strom_table_open(s->db, SQL_VIEWS_TABLE, out) : e;
}

/* Writes (body != NULL) or deletes the stored definition of view name. */
static strom_err store_view(sql_session *s, const char *name, const char *body)
{
    strom_table *t = NULL;
    strom_err e = views_table(s, 1, &t);
    strom_builder *b = e == STROM_OK ? strom_builder_create(strom_table_schema(t)) : NULL;
    if (e == STROM_OK && !b)
        e = STROM_ENOMEM;
    if (e == STROM_OK)
        e = strom_builder_put_str(b, 0, name, strlen(name));
    if (e == STROM_OK)
        e = strom_builder_put_str(b, 1, body ? body : "", body ? strlen(body) : 0);
    if (e == STROM_OK)
        e = strom_builder_end_row(b);
    if (e == STROM_OK)
        e = body ? strom_table_upsert(t, b) : strom_table_delete(t, b);
    strom_builder_destroy(b);
    strom_table_close(t);
    return e;
}

static int exec_fmt(sql_session *s, const char *fmt, const char *a, const char *b)
{
    char *q = sqlite3_mprintf(fmt, a, b);
    int rc = q ? sqlite3_exec(s->q, q, NULL, NULL, NULL) : SQLITE_NOMEM;
    sqlite3_free(q);
    return rc;
}

/* Recreates the stored views (a view may use another: retried until none is left or no
 * progress is made; the rest are reported). */
static strom_err load_views(sql_session *s)
{
    strom_table *t = NULL;
    strom_err e = views_table(s, 0, &t);
    if (e == STROM_ENOTFOUND)
        return STROM_OK;
    strom_batch *b = NULL;
    if (e == STROM_OK)
        e = strom_table_scan_kv(t, NULL, &b);
    int64_t n = b ? strom_batch_nrows(b) : 0;
    uint8_t *done = n ? strom_calloc((size_t)n, 1) : NULL;
    for (int progress = 1; e == STROM_OK && progress && done;) {
        progress = 0;
        for (int64_t r = 0; r < n && e == STROM_OK; r++) {
            size_t nl, bl;
            const char *nm = strom_batch_get_str(b, 0, r, &nl), *bd = strom_batch_get_str(b, 1, r, &bl);
            char *name = strndup(nm, nl), *body = strndup(bd, bl);
            if (!done[r] && name && body &&
                exec_fmt(s, "CREATE VIEW \"%w\" AS %s", name, body) == SQLITE_OK) {
                done[r] = 1;
                progress = 1;
                e = remember_view(s, name, body);
            }
            free(name);
            free(body);
        }
    }
    for (int64_t r = 0; r < n && done && e == STROM_OK; r++)
        if (!done[r]) {
            size_t nl;
            const char *nm = strom_batch_get_str(b, 0, r, &nl);
            fprintf(stderr, "strom sql: stored view '%.*s' could not be recreated: %s\n", (int)nl, nm,
                    sqlite3_errmsg(s->q));
        }
    free(done);
    strom_batch_destroy(b);
    strom_table_close(t);
    return e;
}

/* ------------------------------------------------------------ open / close */

static strom_err register_table(sql_session *s, const char *name)
{
    char *err = NULL;
    char *q = sqlite3_mprintf("CREATE VIRTUAL TABLE main.\"%w\" USING strom(\"%w\")", name, name);
    int rc = q ? sqlite3_exec(s->q, q, NULL, NULL, &err) : SQLITE_NOMEM;
    sqlite3_free(q);
    strom_err e = rc == SQLITE_OK ? STROM_OK                       /* the module's message names it */
                  : err ? strom_fail(STROM_EINVAL, "%s", err)
                        : strom_fail(STROM_EINVAL, "table %s: %s", name, sqlite3_errstr(rc));
    sqlite3_free(err);
    return e;
}

strom_err sql_session_open(strom_db *db, sql_session **out)
{
    *out = NULL;
    sql_session *s = strom_calloc(1, sizeof *s);
    if (!s)
        return STROM_ENOMEM;
    s->db = db;
    s->vctx.db = db;
    s->vctx.stream_bucket = -1;
    strom_err e = sqlite3_open_v2(":memory:", &s->q, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) == SQLITE_OK
                      ? sql_vtab_register(s->q, &s->vctx)
                      : strom_fail(STROM_ENOMEM, "sqlite3_open: cannot open a connection");
    if (e == STROM_OK)
        e = sql_window_register(s->q, &s->vctx);
    if (e == STROM_OK)
        e = sql_wstream_register(s->q, &s->vctx);
    if (e == STROM_OK)
        e = sql_jstream_register(s->q, &s->vctx);
    char **names = NULL;
    size_t n = 0;
    if (e == STROM_OK)
        e = strom_table_list(db, &names, &n);
    for (size_t i = 0; i < n && e == STROM_OK; i++)   /* a table that cannot open is left out */
        if (strcmp(names[i], SQL_VIEWS_TABLE) && register_table(s, names[i]) != STROM_OK)
            fprintf(stderr, "strom sql: table %s is not available to SQL: %s\n", names[i], strom_errmsg());
    strom_free_names(names, n);
    if (e == STROM_OK)
        e = load_views(s);
    if (e != STROM_OK) {
        sql_session_close(s);
        return e;
    }
    *out = s;
    return STROM_OK;
}

void sql_session_close(sql_session *s)
{
    if (!s)
        return;
    char msg[1024];                      /* closing tables may set the message: keep it */
    snprintf(msg, sizeof msg, "%s", strom_errmsg());
    sqlite3_close(s->q);
    sql_wstream_free(s->vctx.wstream);
    sql_jstream_free(s->vctx.jstream);
    for (int i = 0; i < s->nviews; i++) {
        free(s->views[i].name);
        free(s->views[i].body);
    }
    free(s->views);
    free(s);
    if (msg[0])
        strom_fail(STROM_OK, "%s", msg);
}

/* ---------------------------------------------------------------- catalog */

static strom_err build_schema(const sql_stmt *st, strom_schema **out)
{
    strom_schema *sc = strom_schema_create();
    strom_err e = sc ? STROM_OK : STROM_ENOMEM;
    for (int i = 0; i < st->ncols && e == STROM_OK; i++)
        if ((e = strom_schema_add(sc, st->cols[i].name, st->cols[i].type, st->cols[i].not_null)))
            strom_fail_wrap(e, "table %s, column %s", st->name, st->cols[i].name);
    if (e == STROM_OK && st->npk)
        e = strom_schema_set_primary_key(sc, (const char *const *)st->pk, st->npk);
    if (e == STROM_OK && st->time_col && strom_schema_find(sc, st->time_col) < 0)
        e = strom_fail(STROM_ESCHEMA, "table %s: WATERMARK FOR %s: no such column", st->name, st->time_col);
    if (e != STROM_OK)
        strom_schema_destroy(sc);
    *out = e == STROM_OK ? sc : NULL;
    return e;
}

/* The WITH options plus the time column of WATERMARK FOR: 'table.time-column' for a log
 * table, 'table.kv.version-column' (the versions' times) for a primary-key table. */
static strom_err build_options(const sql_stmt *st, const char ***out)
{
    const char **o = strom_calloc((size_t)(2 * st->nopts + 5), sizeof *o);
    if (!o)
        return STROM_ENOMEM;
    int n = 0;
    const char *tkey = st->npk ? "table.kv.version-column" : "table.time-column";
    int has = 0;
    for (int i = 0; i < 2 * st->nopts; i += 2) {
        o[n++] = st->opts[i];
        o[n++] = st->opts[i + 1];
        has |= !strcmp(st->opts[i], tkey);
    }
    if (st->time_col && !has) {
        o[n++] = tkey;
        o[n++] = st->time_col;
    }
    static __thread char delay[24];
    if (st->time_col && st->watermark_delay_ms > 0) {
        snprintf(delay, sizeof delay, "%lld", (long long)st->watermark_delay_ms);
        o[n++] = "table.watermark.delay-ms";
        o[n++] = delay;
    }
    *out = o;
    return STROM_OK;
}

static strom_err create_table(sql_session *s, const sql_stmt *st)
{
    strom_table *t = NULL;
    if (strom_table_open(s->db, st->name, &t) == STROM_OK) {
        strom_table_close(t);
        return st->if_not_exists ? STROM_OK : strom_fail(STROM_EEXIST, "table %s already exists", st->name);
    }
    if (!strcmp(st->name, SQL_VIEWS_TABLE) || find_view(s, st->name))
        return strom_fail(STROM_EEXIST, "%s already exists (as a view or the view catalog)", st->name);
    strom_schema *sc = NULL;
    const char **opts = NULL;
    strom_err e = build_schema(st, &sc);
    if (e == STROM_OK)
        e = build_options(st, &opts);
    if (e == STROM_OK)
        e = strom_table_create(s->db, st->name, sc, opts);
    if (e == STROM_OK && (e = register_table(s, st->name)) != STROM_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", strom_errmsg());
        strom_table_drop(s->db, st->name);   /* no half-created table */
        e = strom_fail(e, "%s", msg);
    }
    strom_schema_destroy(sc);
    free(opts);
    return e;
}

static strom_err drop_table(sql_session *s, const sql_stmt *st)
{
    strom_table *t = NULL;
    strom_err e = strom_table_open(s->db, st->name, &t);
    strom_table_close(t);
    if (e == STROM_ENOTFOUND || !strcmp(st->name, SQL_VIEWS_TABLE))
        return st->if_exists ? STROM_OK : strom_fail(STROM_ENOTFOUND, "table %s does not exist", st->name);
    if (e != STROM_OK)
        return e;
    if (exec_fmt(s, "DROP TABLE main.\"%w\"", st->name, NULL) != SQLITE_OK)
        return strom_fail(STROM_EBUSY, "table %s: %s", st->name, sqlite3_errmsg(s->q));
    e = s->drop ? s->drop(s->drop_ctx, st->name) : strom_table_drop(s->db, st->name);
    if (e != STROM_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", strom_errmsg());
        register_table(s, st->name);
        e = strom_fail(e, "%s", msg);
    }
    return e;
}

static strom_err create_view(sql_session *s, const sql_stmt *st)
{
    if (find_view(s, st->name))
        return st->if_not_exists ? STROM_OK : strom_fail(STROM_EEXIST, "view %s already exists", st->name);
    if (exec_fmt(s, "CREATE VIEW \"%w\" AS %s", st->name, st->sqlite) != SQLITE_OK)
        return strom_fail(STROM_EINVAL, "view %s: %s", st->name, sqlite3_errmsg(s->q));
    strom_err e = store_view(s, st->name, st->sqlite);
    if (e == STROM_OK)
        e = remember_view(s, st->name, st->sqlite);
    if (e != STROM_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", strom_errmsg());
        exec_fmt(s, "DROP VIEW \"%w\"", st->name, NULL);
        e = strom_fail(e, "view %s: %s", st->name, msg);
    }
    return e;
}

static strom_err drop_view(sql_session *s, const sql_stmt *st)
{
    if (!find_view(s, st->name))
        return st->if_exists ? STROM_OK : strom_fail(STROM_ENOTFOUND, "view %s does not exist", st->name);
    if (exec_fmt(s, "DROP VIEW \"%w\"", st->name, NULL) != SQLITE_OK)
        return strom_fail(STROM_EINVAL, "view %s: %s", st->name, sqlite3_errmsg(s->q));
    strom_err e = store_view(s, st->name, NULL);
    forget_view(s, st->name);
    return e;
}

static strom_err prepare(sql_session *s, const char *q, sqlite3_stmt **stmt, const char *orig, size_t olen)
{
    const char *tail = NULL;
    int rc = sqlite3_prepare_v2(s->q, q, -1, stmt, &tail);
    if (rc == SQLITE_OK && *stmt == NULL)
        return strom_fail(STROM_EINVAL, "empty statement");
    if (rc == SQLITE_OK)
        return STROM_OK;
    /* SQLite's position is in the rewritten text: find the word there in the original */
    int off = sqlite3_error_offset(s->q);
    if (orig && off >= 0 && (size_t)off < strlen(q)) {
        size_t w = 0;
        while (q[off + w] && (q[off + w] == '_' || q[off + w] == '"' || (q[off + w] | 32) >= 'a') &&
               (q[off + w] | 32) <= 'z' && w < 60)
            w++;
        char word[64];
        snprintf(word, sizeof word, "%.*s", (int)w, q + off);
        const char *hit = w ? memmem(orig, olen, word, w) : NULL;
        sql_set_error_at(hit ? (long)(hit - orig) : -1);
    }
    return strom_fail(STROM_EINVAL, "%s", sqlite3_errmsg(s->q));
}

static strom_err describe(sql_session *s, const char *name, sqlite3_stmt **stmt)
{
    strom_table *t = NULL;
    strom_err e = strcmp(name, SQL_VIEWS_TABLE) ? strom_table_open(s->db, name, &t) : STROM_ENOTFOUND;
    if (e == STROM_ENOTFOUND && find_view(s, name)) {
        char *q = sqlite3_mprintf("SELECT name, type, CASE WHEN \"notnull\" THEN 'NOT NULL' ELSE '' END AS "
                                  "\"null\", '' AS \"key\" FROM pragma_table_info(%Q)", name);
        e = q ? prepare(s, q, stmt, NULL, 0) : STROM_ENOMEM;
        sqlite3_free(q);
        return e;
    }
    if (e != STROM_OK)
        return e == STROM_ENOTFOUND ? strom_fail(e, "no table or view named %s", name) : e;
    const strom_schema *sc = strom_table_schema(t);
    int pk[8], npk = strom_schema_primary_key(sc, pk, 8);
    const char *tc = strom_table_option(t, npk ? "table.kv.version-column" : "table.time-column");
    sqlite3_str *q = sqlite3_str_new(NULL);
    sqlite3_str_appendall(q, "SELECT column1 AS name, column2 AS type, column3 AS \"null\", column4 AS \"key\" "
                             "FROM (VALUES ");
    for (int i = 0; i < strom_schema_ncols(sc); i++) {
        int k = 0;
        for (int j = 0; j < npk; j++)
            k |= pk[j] == i;
        const char *cn = strom_schema_col_name(sc, i);
        sqlite3_str_appendf(q, "%s(%Q, %Q, %Q, %Q)", i ? ", " : "", cn,
                            strom_type_name(strom_schema_col_type(sc, i)),
                            strom_schema_col_nullable(sc, i) ? "" : "NOT NULL",
                            k ? "PRIMARY KEY" : tc && !strcmp(tc, cn) ? "TIME" : "");
    }
    sqlite3_str_appendall(q, ")");
    strom_table_close(t);
    char *text = sqlite3_str_finish(q);
    e = text ? prepare(s, text, stmt, NULL, 0) : STROM_ENOMEM;
    sqlite3_free(text);
    return e;
}

/* ------------------------------------------------------------- streaming */

static int is_aggregate(const sql_tok *t)
{
    static const char *const fns[] = {"count", "sum", "avg", "min", "max", "total",
                                      "group_concat", "string_agg", NULL};
    for (int i = 0; fns[i]; i++)
        if (sql_tok_is(t, fns[i]) && sql_tok_punct(t + 1, "("))
            return 1;
    return 0;
}

/* What a streaming query cannot do, or NULL: a result that needs the whole (endless)
 * input - an aggregate or GROUP BY without a window (windowed: the statement has one),
 * ORDER BY without LIMIT - and, unless allow_write (a continuous INSERT job), a write.
 * *at: the token. */
static const char *unbounded(const sql_tok *t, size_t n, size_t *at, int allow_write, int windowed)
{
    int depth = 0;
    size_t order = 0;
    int has_order = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        *at = t[i].at;
        if (sql_tok_punct(&t[i], "("))
            depth++;
        else if (sql_tok_punct(&t[i], ")"))
            depth--;
        else if (i == 0 && !allow_write && (sql_tok_is(&t[i], "INSERT") || sql_tok_is(&t[i], "UPDATE") ||
                            sql_tok_is(&t[i], "DELETE") || sql_tok_is(&t[i], "REPLACE")))
            return "a write in streaming mode is a continuous job: only INSERT INTO sink SELECT ... "
                   "in a server (strom sql --server); UPDATE and DELETE run in batch mode";
        else if (!windowed && (is_aggregate(&t[i]) || (sql_tok_is(&t[i], "GROUP") && sql_tok_is(&t[i + 1], "BY"))))
            return "an aggregate (GROUP BY, count, sum, ...) over a stream never ends without a "
                   "window: group by a window (FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(event_time), "
                   "INTERVAL '1' MINUTE)) ... GROUP BY window_start, window_end, ...) or run it in "
                   "batch mode (SET 'execution.runtime-mode' = 'batch')";
        else if (depth == 0 && sql_tok_is(&t[i], "ORDER") && sql_tok_is(&t[i + 1], "BY"))
            has_order = 1, order = t[i].at;
        else if (depth == 0 && sql_tok_is(&t[i], "LIMIT"))
            has_order = 0;
    }
    *at = order;
    return has_order ? "ORDER BY without LIMIT over a stream cannot emit a row before the "
                       "stream ends (add LIMIT n, or run it in batch mode)" : NULL;
}

static int is_write(const char *sql, size_t len)
{
    sql_tok *t = NULL;
    size_t n = 0;
    int w = sql_lex(sql, len, &t, &n) == STROM_OK && n > 1 && sql_tok_is(&t[0], "INSERT");
    free(t);
    return w;
}

/* A streaming INSERT: a job's own statement runs; otherwise it starts a job (hooks) and
 * the statement answers its id. */
static strom_err start_job(sql_session *s, const char *sql, size_t len, sqlite3_stmt **stmt)
{
    if (!s->jobs.start)
        return strom_fail(STROM_EUNSUPPORTED, "streaming mode: INSERT INTO ... SELECT is a continuous "
                          "job, which runs in a server (strom sql --server); here run it in batch mode");
    char id[64], *q = NULL;
    strom_err e = s->jobs.start(s->jobs.ctx, s, sql, len, id, sizeof id);
    if (e == STROM_OK && !(q = sqlite3_mprintf("SELECT %Q AS job_id", id)))
        e = STROM_ENOMEM;
    if (e == STROM_OK && sqlite3_prepare_v2(s->q, q, -1, stmt, NULL) != SQLITE_OK)
        e = strom_fail(STROM_ENOMEM, "%s", sqlite3_errmsg(s->q));
    sqlite3_free(q);
    return e;
}

static strom_err show_jobs(sql_session *s, sqlite3_stmt **stmt)
{
    int have = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->q, "SELECT 1 FROM sqlite_schema WHERE name = '" SQL_JOBS_TABLE "'", -1, &st,
                           NULL) == SQLITE_OK)
        have = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return prepare(s, have ? "SELECT id, statement, state, rows, positions, error FROM main.\"" SQL_JOBS_TABLE
                             "\" ORDER BY id"
                           : "SELECT NULL AS id, NULL AS statement, NULL AS state, NULL AS rows, NULL AS "
                             "positions, NULL AS error WHERE 0", stmt, NULL, 0);
}

static strom_err check_streamable(const char *sql, size_t len, int allow_write, int windowed)
{
    sql_tok *t = NULL;
    size_t n = 0, at = 0;
    strom_err e = sql_lex(sql, len, &t, &n);
    const char *why = e == STROM_OK ? unbounded(t, n, &at, allow_write, windowed) : NULL;
    free(t);
    if (!why)
        return e;
    sql_set_error_at((long)at);
    return strom_fail(STROM_EUNSUPPORTED, "streaming mode: %s", why);
}

/* Offset in q of its first SELECT (or WITH) outside parentheses: where an INSERT's query
 * starts (0 for a query). */
static size_t query_start(const char *q)
{
    sql_tok *t = NULL;
    size_t n = 0, at = 0;
    int depth = 0;
    if (sql_lex(q, strlen(q), &t, &n) != STROM_OK)
        return 0;
    for (size_t i = 0; i < n && t[i].kind != SQL_TK_END; i++) {
        depth += sql_tok_punct(&t[i], "(") - sql_tok_punct(&t[i], ")");
        if (depth == 0 && (sql_tok_is(&t[i], "SELECT") || sql_tok_is(&t[i], "WITH"))) {
            at = t[i].at;
            break;
        }
    }
    free(t);
    return at;
}

/* A streaming statement with a window (wstream.c): translated again to read the open
 * windows' rows, run by temp."__win_out". */
static strom_err run_windowed(sql_session *s, const char *sql, size_t len, sql_ctx *ctx, sqlite3_stmt **stmt)
{
    if (s->vctx.job && s->vctx.sink.rows && !s->vctx.sink.window_end)
        return strom_fail(STROM_EUNSUPPORTED, "streaming mode: a job with a window writes into a primary-key "
                          "table (window_start and the group keys as its key): a window that is emitted "
                          "again after a restart then replaces itself");
    ctx->window_rows = "__win_rows";
    sql_stmt st;
    strom_err e = sql_translate(sql, len, ctx, &st);
    int translated = e == STROM_OK;
    if (e == STROM_OK && st.win.count > 1)
        e = strom_fail(STROM_EUNSUPPORTED, "streaming mode: one window per statement (this one has %d)",
                       st.win.count);
    size_t at = e == STROM_OK ? query_start(st.sqlite) : 0;
    if (e == STROM_OK)
        e = sql_wstream_prepare(&s->vctx, &st.win, st.sqlite + at);
    char *q = e == STROM_OK ? sqlite3_mprintf("%.*sSELECT * FROM temp.\"__win_out\"", (int)at, st.sqlite) : NULL;
    if (e == STROM_OK)
        e = q ? prepare(s, q, stmt, NULL, 0) : STROM_ENOMEM;
    sqlite3_free(q);
    if (translated)
        sql_stmt_free(&st);
    return e;
}

/* sql_join_tables.log_time: a log table and its time column. */
static int log_time(void *arg, const char *table, char *tcol, size_t cap)
{
    strom_table *t = NULL;
    if (strom_table_open(((sql_session *)arg)->db, table, &t) != STROM_OK)
        return 0;
    int pk[1], log = strom_schema_primary_key(strom_table_schema(t), pk, 1) == 0;
    const char *c = strom_table_option(t, "table.time-column");
    snprintf(tcol, cap, "%s", c ? c : "");
    strom_table_close(t);
    return log;
}

/* A streaming join of two log tables (jstream.c): the statement read again with the
 * tables replaced by the two sides' stores, run by temp."__join_out". */
static strom_err run_joined(sql_session *s, const char *sql, size_t len, sql_ctx *ctx, sql_join *j,
                            sqlite3_stmt **stmt)
{
    if (s->vctx.sink.rows) {
        free(j);
        return strom_fail(STROM_EUNSUPPORTED, "streaming mode: a job over a join of two streams writes into a "
                          "primary-key table (a match is written again after a restart, and replaces itself "
                          "there); its sink is a log table");
    }
    sql_join_tables lt = {log_time, s};
    int outer = sql_join_outer(j);
    strom_err e = sql_jstream_prepare(&s->vctx, j);
    char *q[3] = {NULL, NULL, NULL};          /* pairs, and for an outer join as written, marks */
    static const int which[3] = {SQL_JOIN_PAIRS, SQL_JOIN_AS_WRITTEN, SQL_JOIN_MARKS};
    sql_stmt st[3];
    int n = 0;
    size_t at = 0;                              /* a job: where its INSERT's query starts */
    for (; e == STROM_OK && n < (outer ? 3 : 1); n++) {
        char *text = sql_join_text(sql, len, &lt, which[n]);
        e = text ? sql_translate(text, strlen(text), ctx, &st[n]) : STROM_ENOMEM;
        sqlite3_free(text);
        if (e != STROM_OK)
            break;
        size_t qs = which[n] == SQL_JOIN_MARKS ? 0 : query_start(st[n].sqlite);
        at = n == 0 ? qs : at;
        q[n] = st[n].sqlite + qs;
    }
    if (e == STROM_OK)
        e = sql_jstream_output(&s->vctx, q[0], q[1], q[2]);
    char *out = e == STROM_OK ? sqlite3_mprintf("%.*sSELECT * FROM temp.\"__join_out\"", (int)at, st[0].sqlite)
                              : NULL;
    if (e == STROM_OK)
        e = out ? prepare(s, out, stmt, NULL, 0) : STROM_ENOMEM;
    sqlite3_free(out);
    for (int k = 0; k < 3; k++)
        if (q[k])
            sql_stmt_free(&st[k]);
    return e;
}

void sql_session_set_job_join(sql_session *s, int k, const char *table, const int64_t *pos, int n)
{
    s->vctx.job = 1;
    s->vctx.jresume_n[k] = 0;
    if (k >= 0 && k < 2 && table && pos && n > 0 && n <= 64) {
        snprintf(s->vctx.jresume_table[k], sizeof s->vctx.jresume_table[k], "%s", table);
        memcpy(s->vctx.jresume_pos[k], pos, (size_t)n * sizeof *pos);
        s->vctx.jresume_n[k] = n;
    }
}

const int64_t *sql_session_join_pos(sql_session *s, int k, const char **table, int *n)
{
    return s->vctx.jstream ? sql_jstream_safe_pos(s->vctx.jstream, k, table, n) : NULL;
}

int sql_session_join(sql_session *s, int64_t late[2])
{
    if (!s->vctx.jstream)
        return 0;
    sql_jstream_late(s->vctx.jstream, late);
    return 1;
}

strom_err sql_session_run(sql_session *s, const char *sql, size_t len, sqlite3_stmt **stmt)
{
    *stmt = NULL;
    atomic_store(&s->vctx.cancel, 0);
    s->vctx.stream = NULL;
    sql_wstream_end(&s->vctx);                 /* the last statement's window, if any */
    sql_jstream_end(&s->vctx);                 /* or join of two streams */
    sql_ctx ctx = {.now_ms = now_of(s), .tz_ms = sql_session_tz_ms(s), .view_base = view_base, .view_arg = s};
    sql_stmt st;
    strom_err e = sql_translate(sql, len, &ctx, &st);
    if (e != STROM_OK)
        return e;
    int new_job;                               /* a streaming INSERT that starts a job */
    switch (st.kind) {
    case SQL_CREATE_TABLE: e = create_table(s, &st); break;
    case SQL_DROP_TABLE: e = drop_table(s, &st); break;
    case SQL_CREATE_VIEW: e = create_view(s, &st); break;
    case SQL_DROP_VIEW: e = drop_view(s, &st); break;
    case SQL_SET: e = sql_session_set(s, st.name, st.value); break;
    case SQL_DESCRIBE: e = describe(s, st.name, stmt); break;
    case SQL_SHOW_TABLES:
        e = prepare(s, "SELECT name AS table_name, CASE type WHEN 'view' THEN 'VIEW' ELSE 'TABLE' END AS "
                       "kind FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE '\\_\\_sql\\_%' "
                       "ESCAPE '\\' ORDER BY name", stmt, NULL, 0);
        break;
    case SQL_SHOW_JOBS: e = show_jobs(s, stmt); break;
    case SQL_STOP_JOB:
        e = s->jobs.stop ? s->jobs.stop(s->jobs.ctx, st.name)
                         : strom_fail(STROM_EUNSUPPORTED, "STOP JOB: continuous jobs run in a server");
        break;
    default:
        new_job = s->vctx.streaming && !s->vctx.job && is_write(sql, len) && s->jobs.start;
        if (s->vctx.streaming && st.win.count == 0 && !new_job) {
            sql_join_tables lt = {log_time, s};
            sql_join *j = NULL;
            e = sql_join_detect(sql, len, &lt, &j);
            if (e == STROM_OK && j && (e = check_streamable(sql, len, s->vctx.job, 0)) != STROM_OK)
                free(j);
            else if (e == STROM_OK && j)
                e = run_joined(s, sql, len, &ctx, j, stmt);
            if (e != STROM_OK || j)
                break;
        }
        if (new_job) {
            e = check_streamable(sql, len, 1, st.win.count > 0);
            if (e == STROM_OK)
                e = start_job(s, sql, len, stmt);
            break;
        }
        e = s->vctx.streaming ? check_streamable(sql, len, s->vctx.job, st.win.count > 0) : STROM_OK;
        if (e == STROM_OK && s->vctx.streaming && st.win.count > 0)
            e = run_windowed(s, sql, len, &ctx, stmt);
        else if (e == STROM_OK)
            e = prepare(s, st.sqlite, stmt, sql, len);
        break;
    }
    sql_stmt_free(&st);
    return e;
}
