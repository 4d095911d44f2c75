/* result.c: a statement's result rows as storage record batches (engine.h, sql_rows), so
 * the server sends query results in the same columnar format as everything else and the
 * client decodes them with the batch decoder. Rows are stepped into a builder whose column
 * types are chosen from the first row of each batch; a later row that does not fit ends
 * the batch and starts the next one (its row is held meanwhile). */
#include "engine.h"

#include <stdlib.h>
#include <string.h>

#include "format/format.h"

struct sql_rows {
    sqlite3_stmt *st;
    int ncols;
    strom_type *types;         /* of the pending rows */
    strom_schema *schema;
    strom_builder *b;
    fmt_encoder *enc;
    int held;                  /* st holds a stepped row not yet added */
    int done;
};

static int decl_is(sqlite3_stmt *st, int i, const char *what)
{
    const char *d = sqlite3_column_decltype(st, i);
    return d && strstr(d, what) != NULL;
}

/* The column type for a value of SQLite type t in column i. */
static strom_type type_for(sqlite3_stmt *st, int i, int t)
{
    switch (t) {
    case SQLITE_INTEGER: return decl_is(st, i, "TIMESTAMP") ? STROM_TIMESTAMP : STROM_BIGINT;
    case SQLITE_FLOAT: return STROM_DOUBLE;
    case SQLITE_BLOB: return STROM_BYTES;
    case SQLITE_TEXT: return STROM_STRING;
    default: break;
    }
    if (decl_is(st, i, "TIMESTAMP"))
        return STROM_TIMESTAMP;
    if (decl_is(st, i, "INT"))
        return STROM_BIGINT;
    if (decl_is(st, i, "DOUBLE") || decl_is(st, i, "FLOAT") || decl_is(st, i, "REAL"))
        return STROM_DOUBLE;
    return decl_is(st, i, "BLOB") ? STROM_BYTES : STROM_STRING;
}

static int fits(strom_type ty, int t)
{
    switch (t) {
    case SQLITE_NULL: return 1;
    case SQLITE_INTEGER: return ty == STROM_BIGINT || ty == STROM_TIMESTAMP;
    case SQLITE_FLOAT: return ty == STROM_DOUBLE;
    case SQLITE_BLOB: return ty == STROM_BYTES;
    default: return ty == STROM_STRING;
    }
}

strom_err sql_rows_create(sqlite3_stmt *st, sql_rows **out)
{
    sql_rows *r = strom_calloc(1, sizeof *r);
    if (!r)
        return STROM_ENOMEM;
    r->st = st;
    r->ncols = sqlite3_column_count(st);
    r->types = strom_calloc((size_t)r->ncols + 1, sizeof *r->types);
    r->enc = fmt_encoder_create();
    if (!r->types || !r->enc) {
        sql_rows_free(r);
        return STROM_ENOMEM;
    }
    *out = r;
    return STROM_OK;
}

void sql_rows_free(sql_rows *r)
{
    if (!r)
        return;
    strom_builder_destroy(r->b);
    strom_schema_destroy(r->schema);
    fmt_encoder_destroy(r->enc);
    free(r->types);
    free(r);
}

int64_t sql_rows_pending(const sql_rows *r) { return r->b ? strom_builder_nrows(r->b) : 0; }
int sql_rows_done(const sql_rows *r) { return r->done; }

/* A builder whose column types are those of the current row. */
static strom_err retype(sql_rows *r)
{
    int same = r->b != NULL;
    for (int i = 0; i < r->ncols; i++) {
        strom_type ty = type_for(r->st, i, sqlite3_column_type(r->st, i));
        same &= ty == r->types[i];
        r->types[i] = ty;
    }
    if (same)
        return STROM_OK;
    strom_builder_destroy(r->b);
    strom_schema_destroy(r->schema);
    r->b = NULL;
    r->schema = strom_schema_create();
    strom_err e = r->schema ? STROM_OK : STROM_ENOMEM;
    for (int i = 0; i < r->ncols && e == STROM_OK; i++) {
        char name[16];
        snprintf(name, sizeof name, "c%d", i);
        e = strom_schema_add(r->schema, name, r->types[i], 0);
    }
    if (e == STROM_OK && !(r->b = strom_builder_create(r->schema)))
        e = STROM_ENOMEM;
    if (e == STROM_OK)
        fmt_schema_set_id((strom_schema *)fmt_builder_schema(r->b), 0);
    return e;
}

static int row_fits(const sql_rows *r)
{
    for (int i = 0; i < r->ncols; i++)
        if (!fits(r->types[i], sqlite3_column_type(r->st, i)))
            return 0;
    return 1;
}

static strom_err put_cell(sql_rows *r, int i)
{
    sqlite3_stmt *st = r->st;
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL: return strom_builder_put_null(r->b, i);
    case SQLITE_INTEGER: return strom_builder_put_int(r->b, i, sqlite3_column_int64(st, i));
    case SQLITE_FLOAT: return strom_builder_put_f64(r->b, i, sqlite3_column_double(st, i));
    case SQLITE_BLOB: {
        const void *p = sqlite3_column_blob(st, i);
        return strom_builder_put_str(r->b, i, p ? p : "", (size_t)sqlite3_column_bytes(st, i));
    }
    default: {
        const unsigned char *p = sqlite3_column_text(st, i);
        return strom_builder_put_str(r->b, i, p ? (const char *)p : "", (size_t)sqlite3_column_bytes(st, i));
    }
    }
}

static strom_err add_row(sql_rows *r)
{
    strom_err e = STROM_OK;
    for (int i = 0; i < r->ncols && e == STROM_OK; i++)
        e = put_cell(r, i);
    return e == STROM_OK ? strom_builder_end_row(r->b) : e;
}

strom_err sql_rows_flush(sql_rows *r, strom_buf *out)
{
    if (sql_rows_pending(r) == 0)
        return STROM_OK;
    fmt_encode_opts o;
    fmt_encode_opts_init(&o);
    o.codec = FMT_CODEC_LZ4;
    o.time_col = -1;
    strom_err e = fmt_encode(r->enc, r->b, NULL, 0, &o, out);
    strom_builder_reset(r->b);
    return e;
}

static strom_err step_error(sqlite3_stmt *st, int rc)
{
    if (rc == SQLITE_INTERRUPT)
        return strom_fail(STROM_ETIMEOUT, "interrupted");
    return strom_fail(STROM_EINVAL, "%s", sqlite3_errmsg(sqlite3_db_handle(st)));
}

strom_err sql_rows_step(sql_rows *r, strom_buf *out)
{
    if (r->done)
        return STROM_OK;
    if (!r->held) {
        int rc = sqlite3_step(r->st);
        if (rc == SQLITE_DONE) {
            r->done = 1;
            return sql_rows_flush(r, out);
        }
        if (rc != SQLITE_ROW)
            return step_error(r->st, rc);
        if (r->ncols == 0)
            return STROM_OK;
    }
    r->held = 0;
    if (r->b && sql_rows_pending(r) > 0 && !row_fits(r)) {
        r->held = 1;                       /* the next batch starts with this row */
        return sql_rows_flush(r, out);
    }
    strom_err e = sql_rows_pending(r) == 0 ? retype(r) : STROM_OK;
    return e == STROM_OK ? add_row(r) : e;
}
