/* sql.c: SQL in the server (client.h, strom_client_sql_*): EXECUTE_SQL, then FETCH_SQL
 * while the cursor has rows, CANCEL_SQL when it is closed early. Result batches are
 * storage record batches (format.h) whose directory gives each column's type; they are
 * decoded with the storage decoder, one batch at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "client/client_int.h"

#define SQL_FETCH_ROWS 4096

struct strom_sql_cursor {
    strom_client *c;
    int64_t id;                /* 0: no cursor on the server (ended) */
    int done;                  /* no more rows from the server */
    int ncols;
    char **names;
    int64_t changes;
    strom_buf frame;           /* the last answer; records point into it */
    proto_arena arena;
    proto_records rec;
    uint32_t next;             /* next batch of rec */
    fmt_decoder *dec;
    fmt_dir *dirs;
    strom_batch *batch;
};

static __thread long error_at = -1;

long strom_client_sql_error_at(void) { return error_at; }

/* Takes a trailing " [statement byte N]" off the error message into error_at. */
static strom_err split_position(strom_err e)
{
    error_at = -1;
    if (e == STROM_OK)
        return e;
    const char *m = strom_errmsg();
    const char *p = strstr(m, " [statement byte ");
    long at;
    if (!p || sscanf(p, " [statement byte %ld]", &at) != 1)
        return e;
    char msg[1200];
    snprintf(msg, sizeof msg, "%.*s", (int)(p - m), m);
    error_at = at;
    return strom_fail(e, "%s", msg);
}

static strom_err keep_names(strom_sql_cursor *r, const proto_msg *m)
{
    r->ncols = (int)m->resp.execute_sql.ncolumns;
    r->names = strom_calloc((size_t)r->ncols + 1, sizeof *r->names);
    if (!r->names)
        return STROM_ENOMEM;
    for (int i = 0; i < r->ncols; i++) {
        proto_str n = m->resp.execute_sql.columns[i];
        if (!(r->names[i] = strom_malloc((size_t)n.len + 1)))
            return STROM_ENOMEM;
        memcpy(r->names[i], n.p, n.len);
        r->names[i][n.len] = '\0';
    }
    return STROM_OK;
}

static strom_err settings_of(const char *const *kv, proto_arena *a, proto_msg *m)
{
    uint32_t n = 0;
    while (kv && kv[2 * n] && kv[2 * n + 1])
        n++;
    proto_option *o = n ? proto_arena_alloc(a, n * sizeof *o) : NULL;
    if (n && !o)
        return STROM_ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        o[i] = (proto_option){proto_s(kv[2 * i]), proto_s(kv[2 * i + 1])};
    m->req.execute_sql.nsettings = n;
    m->req.execute_sql.settings = o;
    return STROM_OK;
}

strom_err strom_client_sql_execute(strom_client *c, const char *sql, size_t len,
                                   const char *const *settings, strom_sql_cursor **out)
{
    *out = NULL;
    error_at = -1;
    strom_sql_cursor *r = strom_calloc(1, sizeof *r);
    if (!r)
        return STROM_ENOMEM;
    r->c = c;
    r->dec = fmt_decoder_create();
    r->dirs = strom_calloc(FMT_MAX_COLUMNS, sizeof *r->dirs);
    r->batch = fmt_batch_create(8);
    proto_msg m = {0}, resp;
    strom_err e = r->dec && r->dirs && r->batch ? STROM_OK : STROM_ENOMEM;
    if (e == STROM_OK && len > PROTO_MAX_SQL)
        e = strom_fail(STROM_ELIMIT, "a statement of %zu bytes (at most %u)", len, PROTO_MAX_SQL);
    m.req.execute_sql.sql = (proto_bytes){(const uint8_t *)sql, (uint32_t)len};
    m.req.execute_sql.max_rows = SQL_FETCH_ROWS;
    if (e == STROM_OK)
        e = settings_of(settings, &r->arena, &m);
    if (e == STROM_OK)
        e = split_position(stc_roundtrip(c, PROTO_EXECUTE_SQL, &m, 0, &r->frame, &r->arena, &resp));
    if (e == STROM_OK)
        e = keep_names(r, &resp);
    if (e != STROM_OK) {
        strom_client_sql_close(r);
        return e;
    }
    r->id = resp.resp.execute_sql.cursor;
    r->done = resp.resp.execute_sql.done || r->id == 0;
    r->changes = resp.resp.execute_sql.changes;
    r->rec = resp.resp.execute_sql.records;
    *out = r;
    return STROM_OK;
}

int strom_client_sql_ncols(const strom_sql_cursor *r) { return r->ncols; }
const char *strom_client_sql_col_name(const strom_sql_cursor *r, int i)
{
    return i >= 0 && i < r->ncols ? r->names[i] : NULL;
}
int64_t strom_client_sql_changes(const strom_sql_cursor *r) { return r->changes; }
int strom_client_sql_done(const strom_sql_cursor *r) { return r->done && r->next >= r->rec.nbatches; }

/* Decodes batch bytes p[0..len) (columns typed by its directory) into r->batch. */
static strom_err decode(strom_sql_cursor *r, const uint8_t *p, size_t len)
{
    fmt_hdr h;
    strom_err e = fmt_batch_verify(p, len, &h, r->dirs);
    if (e == STROM_OK && (int)h.ncols != r->ncols)
        e = strom_fail(STROM_EPROTO, "server %s: a SQL result batch of %u columns; the result "
                       "has %d", strom_client_server(r->c), h.ncols, r->ncols);
    if (e == STROM_OK)
        e = fmt_batch_reset(r->batch, &h, r->ncols);
    for (int i = 0; e == STROM_OK && i < r->ncols; i++)
        e = fmt_decode_column(r->dec, &r->dirs[i], p + r->dirs[i].data_offset, h.nrows, r->batch,
                              r->names[i], &r->batch->cols[i]);
    if (e == STROM_OK) {
        r->batch->ncols = r->ncols;
        e = fmt_batch_set_rows(r->batch, &h, NULL);
    }
    return e;
}

static strom_err fetch(strom_sql_cursor *r, int timeout_ms)
{
    proto_msg m = {0}, resp;
    m.req.fetch_sql.cursor = r->id;
    m.req.fetch_sql.max_rows = SQL_FETCH_ROWS;
    m.req.fetch_sql.max_wait_ms = timeout_ms > 0 ? timeout_ms : 0;
    r->rec = (proto_records){0};
    r->next = 0;
    proto_arena_reset(&r->arena);
    strom_err e = stc_roundtrip(r->c, PROTO_FETCH_SQL, &m, m.req.fetch_sql.max_wait_ms, &r->frame,
                                &r->arena, &resp);
    if (e != STROM_OK) {
        r->done = 1;       /* the server closes a cursor that failed */
        r->id = 0;
        return e;
    }
    r->rec = resp.resp.fetch_sql.records;
    if (resp.resp.fetch_sql.done) {
        r->done = 1;
        r->id = 0;
    }
    return STROM_OK;
}

strom_err strom_client_sql_next(strom_sql_cursor *r, int timeout_ms, const strom_batch **out)
{
    *out = NULL;
    if (r->next >= r->rec.nbatches && !r->done) {
        strom_err e = fetch(r, timeout_ms);
        if (e != STROM_OK)
            return e;
    }
    if (r->next >= r->rec.nbatches)
        return STROM_OK;
    proto_bytes b = r->rec.batches[r->next++];
    strom_err e = decode(r, b.p, b.len);
    if (e == STROM_OK)
        *out = r->batch;
    return e;
}

strom_err strom_client_sql_cancel(strom_sql_cursor *r)
{
    if (r->done || r->id == 0) {
        r->done = 1;
        return STROM_OK;
    }
    proto_msg m = {0}, resp;
    m.req.fetch_sql.cursor = r->id;
    r->done = 1;
    r->id = 0;
    r->rec = (proto_records){0};
    proto_arena_reset(&r->arena);
    return stc_roundtrip(r->c, PROTO_CANCEL_SQL, &m, 0, &r->frame, &r->arena, &resp);
}

void strom_client_sql_close(strom_sql_cursor *r)
{
    if (!r)
        return;
    if (!r->done && r->id)
        (void)strom_client_sql_cancel(r);
    for (int i = 0; r->names && i < r->ncols; i++)
        free(r->names[i]);
    free(r->names);
    strom_buf_free(&r->frame);
    proto_arena_free(&r->arena);
    if (r->dec)
        fmt_decoder_destroy(r->dec);
    free(r->dirs);
    strom_batch_destroy(r->batch);
    free(r);
}

void strom_client_interrupt(strom_client *c)
{
    int fd = c->fd;
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
}
