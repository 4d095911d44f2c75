/* vtab.c: the SQLite virtual table module "strom" over strom tables: schema declaration,
 * plan choice with pushdown (xBestIndex), the readers behind each plan (xFilter/xNext/
 * xColumn) and buffered writes (xUpdate, written at xSync). Plans: engine.h. */
#include "engine.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h"
#include "vtab_group.h"

enum { PLAN_SCAN, PLAN_POINT, PLAN_IN, PLAN_PREFIX, PLAN_HIST, PLAN_ERROR, PLAN_GROUP };

#define MAXK 8

typedef struct wseg {          /* buffered writes of one kind, in statement order */
    int del;
    strom_builder *b;
} wseg;

typedef struct svt {
    sqlite3_vtab base;
    strom_db *sdb;
    sql_vctx *ctx;             /* the session's (streaming mode, cancel) */
    strom_table *t;
    char *name;
    const strom_schema *sc;
    int ncols, is_pk;
    int pk[MAXK], npk;
    int bkey[MAXK], nbkey;     /* bucket.key columns (pk tables: when a proper prefix) */
    int ikey[MAXK], nikey;     /* log: table.log.index.key columns */
    int time_col;              /* log: table.time-column; -1 = commit time */
    int hist_one_bucket;       /* log: a key's rows are in one bucket we can name */
    wseg *segs;
    int nsegs;
} svt;

typedef struct scur {
    sqlite3_vtab_cursor base;
    int plan;
    int64_t t_at;              /* time of __as_of / __version_at; INT64_MAX: none */
    int has_as_of, has_version;
    /* projection */
    int proj[SQL_MAX_COLS];    /* table columns read, in order */
    int nproj;
    int map[SQL_MAX_COLS];     /* table column -> index into views, -1 not read */
    const char *names[SQL_MAX_COLS];
    /* source of rows */
    const strom_batch *cur;    /* borrowed (scan/snapshot) or == owned */
    strom_batch *owned;
    strom_builder *bld;        /* AS OF results */
    strom_column views[SQL_MAX_COLS];
    int64_t nrows, r, rowid;
    int eof;
    /* scan state */
    strom_read_opts ro;
    strom_pred preds[64];
    int npreds;
    int bucket;
    strom_scan *scan;
    strom_snapshot *snap;
    /* key history state */
    strom_value key[MAXK];
    int64_t hist_n, hist_skip, hist_limit;
    int64_t hist_bucket;       /* the key's bucket, -1 unknown */
    strom_buf kb;              /* scratch: canonical key bytes */
    strom_buf ptext;           /* string constants of preds (SQLite's argv dies after xFilter) */
    /* streaming scan (log table, streaming mode): per bucket the next offset to read and,
     * for the round under way, the end offset it reads to */
    int stream;
    int64_t *spos;
    int64_t send;
    /* PLAN_GROUP: the scan's rows regrouped (vtab_group.h); kept from one xFilter to the
     * next of the same plan (grp_plan: its idxStr), so an inner loop reuses its memory */
    sqlg *grp;
    const char *grp_plan;
} scur;

/* ------------------------------------------------------------ small helpers */

static int vt_fail(svt *v, strom_err e, const char *what)
{
    sqlite3_free(v->base.zErrMsg);
    v->base.zErrMsg = sqlite3_mprintf("%s: table %s: %s: %s", what, v->name, strom_strerror(e),
                                      strom_errmsg());
    return e == STROM_ENOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
}

static int vt_failf(svt *v, const char *msg)
{
    sqlite3_free(v->base.zErrMsg);
    v->base.zErrMsg = sqlite3_mprintf("%s", msg);
    return SQLITE_ERROR;
}

/* Column indexes of a comma list of names (an option's value) into cols; count or -1. */
static int parse_cols(const strom_schema *sc, const char *list, int *cols)
{
    int n = 0;
    char buf[1024];
    if (!list || !*list)
        return 0;
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        int c = strom_schema_find(sc, tok);
        if (c < 0 || n >= MAXK)
            return -1;
        cols[n++] = c;
    }
    return n;
}

static const char *decl_type(strom_type t)
{
    switch (t) {
    case STROM_STRING: return "TEXT";
    case STROM_BYTES: return "BLOB";
    case STROM_TIMESTAMP: return "TIMESTAMP";
    default: return strom_type_name(t);
    }
}

static char *declaration(const svt *v)
{
    sqlite3_str *s = sqlite3_str_new(NULL);
    sqlite3_str_appendall(s, "CREATE TABLE x(");
    for (int i = 0; i < v->ncols; i++)
        sqlite3_str_appendf(s, "%s\"%w\" %s%s", i ? ", " : "", strom_schema_col_name(v->sc, i),
                            decl_type(strom_schema_col_type(v->sc, i)),
                            strom_schema_col_nullable(v->sc, i) ? "" : " NOT NULL");
    sqlite3_str_appendall(s, ", \"__as_of\" HIDDEN, \"__version_at\" HIDDEN");
    if (v->is_pk && v->npk == 1)
        sqlite3_str_appendf(s, ", PRIMARY KEY(\"%w\")) WITHOUT ROWID",
                            strom_schema_col_name(v->sc, v->pk[0]));
    else
        sqlite3_str_appendall(s, ")");
    return sqlite3_str_finish(s);
}

static void key_setup(svt *v)
{
    v->npk = strom_schema_primary_key(v->sc, v->pk, MAXK);
    v->is_pk = v->npk > 0;
    v->time_col = -1;
    int n = parse_cols(v->sc, strom_table_option(v->t, "bucket.key"), v->bkey);
    v->nbkey = n > 0 && (!v->is_pk || n < v->npk) ? n : 0;
    if (v->is_pk)
        return;
    n = parse_cols(v->sc, strom_table_option(v->t, "table.log.index.key"), v->ikey);
    v->nikey = n > 0 ? n : 0;
    v->hist_one_bucket = strom_table_nbuckets(v->t) == 1 ||
                         (v->nbkey == v->nikey && !memcmp(v->bkey, v->ikey, sizeof(int) * (size_t)v->nikey));
    const char *tc = strom_table_option(v->t, "table.time-column");
    v->time_col = tc && *tc ? strom_schema_find(v->sc, tc) : -1;
}

/* ------------------------------------------------------- connect / destroy */

static int vt_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                      sqlite3_vtab **out, char **err)
{
    if (argc < 4) {
        *err = sqlite3_mprintf("USING strom(<table>) needs the strom table's name");
        return SQLITE_ERROR;
    }
    svt *v = sqlite3_malloc(sizeof *v);
    if (!v)
        return SQLITE_NOMEM;
    memset(v, 0, sizeof *v);
    v->ctx = aux;
    v->sdb = v->ctx->db;
    const char *a = argv[3];
    size_t n = strlen(a);
    v->name = (n >= 2 && (a[0] == '"' || a[0] == '\'')) ? sqlite3_mprintf("%.*s", (int)n - 2, a + 1)
                                                         : sqlite3_mprintf("%s", a);
    strom_err e = v->name ? strom_table_open(v->sdb, v->name, &v->t) : STROM_ENOMEM;
    if (e != STROM_OK) {
        *err = sqlite3_mprintf("table %s: %s: %s", v->name ? v->name : a, strom_strerror(e),
                               strom_errmsg());
        sqlite3_free(v->name);
        sqlite3_free(v);
        return SQLITE_ERROR;
    }
    v->sc = strom_table_schema(v->t);
    v->ncols = strom_schema_ncols(v->sc);
    key_setup(v);
    char *decl = declaration(v);
    int rc = decl ? sqlite3_declare_vtab(db, decl) : SQLITE_NOMEM;
    sqlite3_free(decl);
    if (rc != SQLITE_OK) {
        *err = sqlite3_mprintf("table %s: cannot declare it to SQLite: %s", v->name, sqlite3_errmsg(db));
        strom_table_close(v->t);
        sqlite3_free(v->name);
        sqlite3_free(v);
        return rc;
    }
    sqlite3_vtab_config(db, SQLITE_VTAB_CONSTRAINT_SUPPORT, 1);
    *out = &v->base;
    return SQLITE_OK;
}

static void segs_clear(svt *v)
{
    for (int i = 0; i < v->nsegs; i++)
        strom_builder_destroy(v->segs[i].b);
    free(v->segs);
    v->segs = NULL;
    v->nsegs = 0;
}

static int vt_disconnect(sqlite3_vtab *base)
{
    svt *v = (svt *)base;
    segs_clear(v);
    strom_table_close(v->t);
    sqlite3_free(v->name);
    sqlite3_free(v);
    return SQLITE_OK;
}

/* ------------------------------------------------------------- best index */

typedef struct cons {
    int used[SQL_MAX_COLS + 2];   /* per column: constraint index of an usable '=' + 1 */
    int hid_as_of, hid_version;   /* usable constraint index + 1 */
    int version_unusable;
    int lim, off;                 /* LIMIT / OFFSET constraint index + 1 */
} cons;

static int pushable_op(unsigned char op)
{
    return op == SQLITE_INDEX_CONSTRAINT_EQ || op == SQLITE_INDEX_CONSTRAINT_LT ||
           op == SQLITE_INDEX_CONSTRAINT_LE || op == SQLITE_INDEX_CONSTRAINT_GT ||
           op == SQLITE_INDEX_CONSTRAINT_GE;
}

static char op_char(unsigned char op)
{
    switch (op) {
    case SQLITE_INDEX_CONSTRAINT_EQ: return '=';
    case SQLITE_INDEX_CONSTRAINT_LT: return '<';
    case SQLITE_INDEX_CONSTRAINT_LE: return '{';
    case SQLITE_INDEX_CONSTRAINT_GT: return '>';
    case SQLITE_INDEX_CONSTRAINT_GE: return '}';
    case SQLITE_INDEX_CONSTRAINT_LIMIT: return 'L';
    default: return 'O';
    }
}

static void gather(const svt *v, sqlite3_index_info *ii, cons *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < ii->nConstraint; i++) {
        const struct sqlite3_index_constraint *k = &ii->aConstraint[i];
        if (k->iColumn == v->ncols + 1 && k->op == SQLITE_INDEX_CONSTRAINT_EQ && !k->usable)
            c->version_unusable = 1;
        if (!k->usable)
            continue;
        if (k->op == SQLITE_INDEX_CONSTRAINT_LIMIT)
            c->lim = i + 1;
        else if (k->op == SQLITE_INDEX_CONSTRAINT_OFFSET)
            c->off = i + 1;
        else if (k->op == SQLITE_INDEX_CONSTRAINT_EQ && k->iColumn == v->ncols)
            c->hid_as_of = i + 1;
        else if (k->op == SQLITE_INDEX_CONSTRAINT_EQ && k->iColumn == v->ncols + 1)
            c->hid_version = i + 1;
        else if (k->op == SQLITE_INDEX_CONSTRAINT_EQ && k->iColumn >= 0 && k->iColumn < v->ncols &&
                 !c->used[k->iColumn])
            c->used[k->iColumn] = i + 1;
    }
}

typedef struct planb {         /* a plan being built */
    sqlite3_index_info *ii;
    sqlite3_str *s;
    int argc;
} planb;

static void use(planb *p, int ci, int omit, int col, char op)
{
    p->ii->aConstraintUsage[ci].argvIndex = ++p->argc;
    p->ii->aConstraintUsage[ci].omit = (unsigned char)omit;
    sqlite3_str_appendf(p->s, "%d%c%s,", col, op, omit ? "!" : "");
}

static int all_eq(const cons *c, const int *cols, int n)
{
    for (int i = 0; i < n; i++)
        if (!c->used[cols[i]])
            return 0;
    return n > 0;
}

static void use_keys(planb *p, const cons *c, const int *cols, int n)
{
    for (int i = 0; i < n; i++)
        use(p, c->used[cols[i]] - 1, 1, cols[i], '=');
}

static int use_hidden(planb *p, const cons *c, int ncols)
{
    if (c->hid_version)
        use(p, c->hid_version - 1, 1, ncols + 1, '=');
    else if (c->hid_as_of)
        use(p, c->hid_as_of - 1, 1, ncols, '=');
    return c->hid_version || c->hid_as_of;
}

static int set_error_plan(sqlite3_index_info *ii, const char *msg)
{
    ii->idxNum = PLAN_ERROR;
    ii->idxStr = sqlite3_mprintf("%s", msg);
    ii->needToFreeIdxStr = 1;
    ii->estimatedCost = 1e15;
    ii->estimatedRows = 1000000000;
    return SQLITE_OK;
}

static int64_t est_rows(const svt *v)
{
    int64_t sum = 0;
    for (int b = 0; b < strom_table_nbuckets(v->t); b++) {
        int64_t lo = 0, hi = 0;
        if (strom_table_offsets(v->t, b, &lo, &hi) == STROM_OK)
            sum += hi - lo;
    }
    return sum > 0 ? sum : 1;
}

static int key_names(const svt *v, const int *cols, int n, char *buf, size_t cap)
{
    int w = 0;
    for (int i = 0; i < n && w >= 0 && (size_t)w < cap; i++)
        w += snprintf(buf + w, cap - (size_t)w, "%s%s", i ? ", " : "", strom_schema_col_name(v->sc, cols[i]));
    return w;
}

static int best_pk(svt *v, sqlite3_index_info *ii, const cons *c, planb *p)
{
    if (all_eq(c, v->pk, v->npk)) {
        int in = v->npk == 1 && !c->hid_version && sqlite3_vtab_in(ii, c->used[v->pk[0]] - 1, -1);
        if (in)
            sqlite3_vtab_in(ii, c->used[v->pk[0]] - 1, 1);
        use(p, c->used[v->pk[0]] - 1, 1, v->pk[0], in ? 'I' : '=');
        use_keys(p, c, v->pk + 1, v->npk - 1);
        use_hidden(p, c, v->ncols);
        ii->idxNum = in ? PLAN_IN : PLAN_POINT;
        ii->estimatedCost = in ? 40 : 10;
        ii->estimatedRows = in ? 10 : 1;
        if (!in)
            ii->idxFlags |= SQLITE_INDEX_SCAN_UNIQUE;
        ii->orderByConsumed = !in;
        return SQLITE_OK;
    }
    if (c->hid_version || c->hid_as_of) {
        char keys[256], msg[512];
        key_names(v, v->pk, v->npk, keys, sizeof keys);
        snprintf(msg, sizeof msg, "table %s: FOR SYSTEM_TIME AS OF on a primary-key table reads one "
                 "key's version: it needs equality on the whole primary key (%s), e.g. "
                 "ON a.%s = d.%s", v->name, keys, strom_schema_col_name(v->sc, v->pk[0]),
                 strom_schema_col_name(v->sc, v->pk[0]));
        return set_error_plan(ii, msg);
    }
    int64_t n = est_rows(v);
    if (v->nbkey && all_eq(c, v->bkey, v->nbkey)) {
        use_keys(p, c, v->bkey, v->nbkey);
        ii->idxNum = PLAN_PREFIX;
        ii->estimatedCost = 100;
        ii->estimatedRows = n / 100 + 1;
        return SQLITE_OK;
    }
    ii->idxNum = PLAN_SCAN;
    ii->estimatedCost = (double)n + 1000;
    ii->estimatedRows = n;
    return SQLITE_OK;
}

/* Whether the engine's row filter (strom_pred) gives exactly SQLite's answer for constraint
 * i, so SQLite may skip it: a constant of the column's own class - an integer for an
 * integer column (compared as int64), a text for a string column (bytewise, as BINARY). */
static int exact_pred(sqlite3_index_info *ii, int i, strom_type ty)
{
    sqlite3_value *rv = NULL;
    if (sqlite3_vtab_rhs_value(ii, i, &rv) != SQLITE_OK || !rv)
        return 0;
    int rt = sqlite3_value_type(rv);
    int intcol = ty == STROM_INT || ty == STROM_BIGINT || ty == STROM_TIMESTAMP;
    return (intcol && rt == SQLITE_INTEGER) || (ty == STROM_STRING && rt == SQLITE_TEXT);
}

/* Pushable column predicates and time bounds of a log scan or key history. */
static void use_ranges(svt *v, sqlite3_index_info *ii, planb *p, int skip_eq_keys, double *sel)
{
    for (int i = 0; i < ii->nConstraint && p->argc < 60; i++) {
        const struct sqlite3_index_constraint *k = &ii->aConstraint[i];
        if (!k->usable || k->iColumn < 0 || k->iColumn >= v->ncols || !pushable_op(k->op) ||
            ii->aConstraintUsage[i].argvIndex)
            continue;
        strom_type ty = strom_schema_col_type(v->sc, k->iColumn);
        if (ty == STROM_BOOLEAN || ty == STROM_FLOAT || ty == STROM_BYTES)
            continue;
        const char *coll = sqlite3_vtab_collation(ii, i);
        if (ty == STROM_STRING && coll && sqlite3_stricmp(coll, "BINARY"))
            continue;
        if (skip_eq_keys && k->iColumn != v->time_col)
            continue;
        int exact = !skip_eq_keys && exact_pred(ii, i, ty);
        use(p, i, exact, k->iColumn, op_char(k->op));   /* omitted: applied exactly by strom */
        *sel *= k->op == SQLITE_INDEX_CONSTRAINT_EQ ? 0.05 : 0.3;
    }
}

static int order_by_time_desc(const svt *v, const sqlite3_index_info *ii)
{
    return ii->nOrderBy == 0 ||
           (ii->nOrderBy == 1 && v->time_col >= 0 && ii->aOrderBy[0].iColumn == v->time_col &&
            ii->aOrderBy[0].desc);
}

/* The key history may apply LIMIT/OFFSET itself only when SQLite will drop none of the rows
 * it returns: every usable constraint is consumed (omitted) or bounds the time column (the
 * history is newest first, so a time bound keeps a prefix of it). */
static int limit_safe(const svt *v, const sqlite3_index_info *ii)
{
    for (int i = 0; i < ii->nConstraint; i++) {
        const struct sqlite3_index_constraint *k = &ii->aConstraint[i];
        if (!k->usable || k->op == SQLITE_INDEX_CONSTRAINT_LIMIT || k->op == SQLITE_INDEX_CONSTRAINT_OFFSET)
            continue;
        if (ii->aConstraintUsage[i].argvIndex && ii->aConstraintUsage[i].omit)
            continue;
        if (k->iColumn == v->time_col && v->time_col >= 0 && k->op != SQLITE_INDEX_CONSTRAINT_EQ &&
            pushable_op(k->op))
            continue;
        return 0;
    }
    return 1;
}

/* GROUP BY, DISTINCT or ORDER BY over a log scan: SQLite's ORDER BY terms (aOrderBy; only
 * plain columns of their declared BINARY collation reach us) are served by a grouped read
 * (PLAN_GROUP, vtab_group.h: rows by group, groups in key order) instead of SQLite's
 * sorter, when the estimate of the memory needed is at most 8 budgets (passes). Not for
 * a plain ORDER BY with a LIMIT SQLite shows us (its top-N sort keeps only LIMIT rows),
 * nor for a DISTINCT without ORDER BY (distinct 2): SQLite 3.40 keeps its own DISTINCT
 * b-tree all the same, so grouping would only cost.
 * idxStr gets "g:<col><a|d>,..." last. */
static void claim_order(svt *v, sqlite3_index_info *ii, const cons *c, planb *p, int64_t n)
{
    if (ii->nOrderBy < 1 || ii->nOrderBy > SQLG_MAX_KEYS || v->ctx->streaming)
        return;
    for (int k = 0; k < ii->nOrderBy; k++)
        if (ii->aOrderBy[k].iColumn < 0 || ii->aOrderBy[k].iColumn >= v->ncols)
            return;
    int distinct = sqlite3_vtab_distinct(ii);
    if ((distinct == 0 && c->lim) || distinct == 2)
        return;
    strom_type types[SQL_MAX_COLS];
    int nt = 0;
    for (int i = 0; i < v->ncols && nt < SQL_MAX_COLS; i++)
        if (ii->colUsed >> (i < 63 ? i : 63) & 1)
            types[nt++] = strom_schema_col_type(v->sc, i);
    int none[1] = {-1};
    if ((double)n * (double)sqlg_row_bytes(types, nt, none, 0) > (double)sqlg_budget(0) * 8)
        return;
    sqlite3_str_appendall(p->s, "g:");
    for (int k = 0; k < ii->nOrderBy; k++)
        sqlite3_str_appendf(p->s, "%d%c,", ii->aOrderBy[k].iColumn, ii->aOrderBy[k].desc ? 'd' : 'a');
    ii->idxNum = PLAN_GROUP;
    ii->orderByConsumed = 1;
    ii->estimatedCost += (double)ii->estimatedRows;   /* a hash probe per row, no sort */
}

static int best_log(svt *v, sqlite3_index_info *ii, const cons *c, planb *p)
{
    int64_t n = est_rows(v);
    if (v->nikey && all_eq(c, v->ikey, v->nikey)) {
        use_keys(p, c, v->ikey, v->nikey);
        int hid = use_hidden(p, c, v->ncols);
        double sel = 1;
        use_ranges(v, ii, p, 1, &sel);
        int ordered = order_by_time_desc(v, ii);
        if (ordered && c->lim && !c->hid_version && limit_safe(v, ii)) {
            use(p, c->lim - 1, 1, -1, 'L');
            if (c->off)
                use(p, c->off - 1, 1, -1, 'O');
        }
        ii->idxNum = PLAN_HIST;
        ii->orderByConsumed = ordered;
        double rows = c->hid_version ? 1 : (double)n / 1000 + 1;
        ii->estimatedRows = (sqlite3_int64)rows;
        ii->estimatedCost = 20 + rows;
        if (c->hid_version)
            ii->idxFlags |= SQLITE_INDEX_SCAN_UNIQUE;
        (void)hid;
        return SQLITE_OK;
    }
    if (c->hid_version) {
        char keys[256], msg[512];
        if (v->nikey) {
            key_names(v, v->ikey, v->nikey, keys, sizeof keys);
            snprintf(msg, sizeof msg, "table %s: a temporal join (FOR SYSTEM_TIME AS OF) on a log "
                     "table needs ON equality on its index key (%s)", v->name, keys);
        } else {
            snprintf(msg, sizeof msg, "table %s: a temporal join (FOR SYSTEM_TIME AS OF) on a log "
                     "table needs a per-key index: create it with 'table.log.index.key' = "
                     "'<join key column>'", v->name);
        }
        return set_error_plan(ii, msg);
    }
    if (c->hid_as_of)
        use(p, c->hid_as_of - 1, 1, v->ncols, '=');
    double sel = 1;
    use_ranges(v, ii, p, 0, &sel);
    ii->idxNum = PLAN_SCAN;
    ii->estimatedCost = (double)n + 1000;   /* a scan reads everything, predicates or not */
    ii->estimatedRows = (sqlite3_int64)((double)n * sel) + 1;
    claim_order(v, ii, c, p, n);
    return SQLITE_OK;
}

static int vt_best_index(sqlite3_vtab *base, sqlite3_index_info *ii)
{
    svt *v = (svt *)base;
    cons c;
    gather(v, ii, &c);
    if (c.version_unusable && !c.hid_version)
        return SQLITE_CONSTRAINT;   /* a temporal join's right side is never the outer loop */
    planb p = {.ii = ii, .s = sqlite3_str_new(NULL)};
    sqlite3_str_appendf(p.s, "u%llx;", (unsigned long long)ii->colUsed);
    int rc = v->is_pk ? best_pk(v, ii, &c, &p) : best_log(v, ii, &c, &p);
    char *s = sqlite3_str_finish(p.s);
    if (ii->idxNum == PLAN_ERROR) {
        for (int i = 0; i < ii->nConstraint; i++)
            ii->aConstraintUsage[i].argvIndex = 0;
        sqlite3_free(s);
    } else {
        ii->idxStr = s;
        ii->needToFreeIdxStr = 1;
    }
    return rc;
}

/* ----------------------------------------------------------------- cursor */

static int vt_open(sqlite3_vtab *base, sqlite3_vtab_cursor **out)
{
    scur *c = sqlite3_malloc(sizeof *c);
    if (!c)
        return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    *out = &c->base;
    return SQLITE_OK;
}

static void cur_reset(scur *c)
{
    strom_scan_close(c->scan);
    strom_snapshot_close(c->snap);
    strom_batch_destroy(c->owned);
    if (c->bld)
        strom_builder_reset(c->bld);         /* kept: no allocation per outer row */
    c->scan = NULL;
    c->snap = NULL;
    c->owned = NULL;
    c->cur = NULL;
    c->nrows = c->r = 0;
    c->npreds = 0;
}

static int vt_close(sqlite3_vtab_cursor *base)
{
    scur *c = (scur *)base;
    cur_reset(c);
    sqlg_destroy(c->grp);
    strom_builder_destroy(c->bld);
    strom_buf_free(&c->kb);
    strom_buf_free(&c->ptext);
    if (c->stream != 2)
        free(c->spos);                        /* (a round's are the join's) */
    svt *v = (svt *)base->pVtab;
    if (v->ctx->stream == c) {
        v->ctx->stream = NULL;
        v->ctx->stream_pos = NULL;
        v->ctx->stream_table = NULL;
        v->ctx->stream_bucket = -1;
    }
    sqlite3_free(base);
    return SQLITE_OK;
}

/* Projection from colUsed: the table columns the statement reads (at least one). */
static void set_projection(svt *v, scur *c, sqlite3_uint64 used)
{
    c->nproj = 0;
    for (int i = 0; i < v->ncols; i++) {
        int u = i < 63 ? (int)(used >> i & 1) : (int)(used >> 63 & 1);
        c->map[i] = -1;
        if (u) {
            c->map[i] = c->nproj;
            c->proj[c->nproj] = i;
            c->names[c->nproj++] = strom_schema_col_name(v->sc, i);
        }
    }
    for (int k = 0; v->is_pk && v->npk > 1 && k < v->npk; k++)   /* the rowid is the key's hash */
        if (c->map[v->pk[k]] < 0) {
            c->map[v->pk[k]] = c->nproj;
            c->proj[c->nproj] = v->pk[k];
            c->names[c->nproj++] = strom_schema_col_name(v->sc, v->pk[k]);
        }
    if (c->nproj == 0) {                  /* count(*): read the cheapest column */
        int pick = 0;
        for (int i = 0; i < v->ncols; i++)
            if (strom_schema_col_type(v->sc, i) != STROM_STRING &&
                strom_schema_col_type(v->sc, i) != STROM_BYTES) {
                pick = i;
                break;
            }
        c->map[pick] = 0;
        c->proj[0] = pick;
        c->names[c->nproj++] = strom_schema_col_name(v->sc, pick);
    }
}

/* Views of the projected columns of the current batch. */
static strom_err bind_batch(scur *c, const strom_batch *b)
{
    c->cur = b;
    c->nrows = b ? strom_batch_nrows(b) : 0;
    c->r = 0;
    for (int i = 0; b && i < c->nproj; i++) {
        strom_err e = strom_batch_column(b, i, &c->views[i]);
        if (e != STROM_OK)
            return e;
    }
    return STROM_OK;
}

/* The builder's rows (AS OF answers hold every column): views by table column. */
static void bind_builder(svt *v, scur *c)
{
    for (int i = 0; i < c->nproj; i++)
        fmt_builder_view(c->bld, c->proj[i], &c->views[i]);
    c->nrows = strom_builder_nrows(c->bld);
    c->r = 0;
    c->cur = NULL;
    (void)v;
}

/* A SQLite value as a strom value of column type ty. Returns 0 when it cannot equal any
 * value of the column (NULL, or text that is no number for a numeric column). */
static int to_value(sqlite3_value *a, strom_type ty, strom_value *out)
{
    memset(out, 0, sizeof *out);
    out->type = ty;
    int at = sqlite3_value_type(a);
    if (at == SQLITE_NULL)
        return 0;
    switch (ty) {
    case STROM_STRING:
    case STROM_BYTES:
        out->v.s.ptr = ty == STROM_STRING ? (const char *)sqlite3_value_text(a)
                                          : (const char *)sqlite3_value_blob(a);
        out->v.s.len = (size_t)sqlite3_value_bytes(a);
        if (!out->v.s.ptr)
            out->v.s.ptr = "";
        return 1;
    case STROM_FLOAT:
    case STROM_DOUBLE: {
        int nt = sqlite3_value_numeric_type(a);
        out->v.d = sqlite3_value_double(a);
        return nt == SQLITE_INTEGER || nt == SQLITE_FLOAT;
    }
    default: {
        int nt = sqlite3_value_numeric_type(a);
        if (nt == SQLITE_FLOAT) {
            double d = sqlite3_value_double(a);
            out->v.i = (int64_t)d;
            return d == floor(d) && fabs(d) < 9e18;
        }
        out->v.i = sqlite3_value_int64(a);
        return nt == SQLITE_INTEGER;
    }
    }
}

/* Parsed idxStr entry. */
typedef struct arg {
    int col;
    char op;
    int exact;     /* SQLite omits it: it must be applied exactly */
} arg;

static int parse_args(const char *s, arg *a, int max, sqlite3_uint64 *used)
{
    int n = 0;
    *used = ~0ULL;
    if (s && *s == 'u') {
        char *end;
        *used = strtoull(s + 1, &end, 16);
        s = *end == ';' ? end + 1 : end;
    }
    while (s && *s && n < max) {
        char *end;
        long col = strtol(s, &end, 10);
        if (end == s || !*end)
            break;
        a[n].col = (int)col;
        a[n].op = *end;
        a[n].exact = end[1] == '!';
        s = end + 1 + a[n++].exact;
        if (*s == ',')
            s++;
    }
    return n;
}

/* ------------------------------------------------------------- the readers */

/* A stream's next bucket with rows past its position: read up to the end seen now. */
static strom_err stream_next_bucket(svt *v, scur *c)
{
    while (c->bucket < strom_table_nbuckets(v->t)) {
        int b = c->bucket++;
        int64_t lo = 0, hi = 0;
        strom_err e = strom_table_offsets(v->t, b, &lo, &hi);
        if (e != STROM_OK)
            return e;
        int64_t from = c->spos[b] < lo ? lo : c->spos[b];
        c->spos[b] = hi;
        c->send = hi;
        if (from < hi)
            return strom_scan_open(v->t, b, from, &c->ro, &c->scan);
    }
    return STROM_OK;
}

/* 1 when some bucket has rows past the stream's position. */
static int stream_has_news(svt *v, scur *c)
{
    for (int b = 0; b < strom_table_nbuckets(v->t); b++) {
        int64_t lo = 0, hi = 0;
        if (strom_table_offsets(v->t, b, &lo, &hi) == STROM_OK && hi > c->spos[b])
            return 1;
    }
    return 0;
}

/* The end of a stream's round: waits (in slices, so a cancel is seen within one) for an
 * append to the table, then starts the next round at bucket 0. */
static strom_err stream_wait(svt *v, scur *c)
{
    int idled = 0;
    for (;;) {
        uint64_t seen = sql_stream_seq();
        if (stream_has_news(v, c)) {
            c->bucket = 0;
            return STROM_OK;
        }
        if (atomic_load(&v->ctx->cancel))
            return strom_fail(STROM_ETIMEOUT, "interrupted");
        if (!idled && v->ctx->idle)
            v->ctx->idle(v->ctx->idle_arg);   /* hand out the rows so far */
        idled = 1;
        sql_stream_wait(seen, SQL_STREAM_SLICE_MS);
    }
}

static strom_err scan_next_bucket(svt *v, scur *c)
{
    if (c->stream)
        return stream_next_bucket(v, c);
    while (c->bucket < strom_table_nbuckets(v->t)) {
        int b = c->bucket++;
        if (v->is_pk) {
            strom_read_opts o = {.columns = c->names, .ncolumns = c->nproj};
            return strom_snapshot_open(v->t, b, &o, &c->snap);
        }
        int64_t off = 0;
        if (c->ro.time_min != STROM_TIME_MIN) {
            strom_err e = strom_table_seek_time(v->t, b, c->ro.time_min, &off);
            if (e != STROM_OK)
                return e;
        }
        int64_t lo = 0, hi = 0;
        strom_err e = strom_table_offsets(v->t, b, &lo, &hi);
        if (e != STROM_OK)
            return e;
        if (off >= hi)
            continue;
        return strom_scan_open(v->t, b, off < lo ? lo : off, &c->ro, &c->scan);
    }
    return STROM_OK;
}

/* Moves to the next non-empty batch of a scan plan; c->eof at the end. A job's log sink
 * hears first that the stream's batch is done (sql_job_sink.batch_end). */
static strom_err scan_advance(svt *v, scur *c)
{
    if (c->stream && c->cur && c->nrows > 0 && v->ctx->sink.batch_end) {
        strom_err e = v->ctx->sink.batch_end(v->ctx->sink.arg, c->bucket - 1,
                                             strom_batch_row_offset(c->cur, c->nrows - 1) + 1);
        if (e != STROM_OK)
            return e;
    }
    for (;;) {
        const strom_batch *b = NULL;
        strom_err e = STROM_OK;
        if (c->scan)
            e = strom_scan_next(c->scan, &b);
        else if (c->snap)
            e = strom_snapshot_next(c->snap, &b);
        if (e != STROM_OK)
            return e;
        if (b && c->stream && strom_batch_nrows(b) > 0 && strom_batch_row_offset(b, 0) >= c->send)
            b = NULL;                         /* appended after this round began */
        if (b && strom_batch_nrows(b) > 0 && c->stream)
            v->ctx->stream_bucket = c->bucket - 1;
        if (b && strom_batch_nrows(b) > 0)
            return bind_batch(c, b);
        if (c->scan || c->snap) {
            strom_scan_close(c->scan);
            strom_snapshot_close(c->snap);
            c->scan = NULL;
            c->snap = NULL;
        }
        if (c->bucket >= strom_table_nbuckets(v->t) && c->stream == 1 && (e = stream_wait(v, c)) != STROM_OK)
            return e;
        if (c->bucket >= strom_table_nbuckets(v->t)) {
            c->eof = 1;
            return STROM_OK;
        }
        if ((e = scan_next_bucket(v, c)) != STROM_OK)
            return e;
    }
}

static strom_err add_pred(svt *v, scur *c, int col, char op, int exact, sqlite3_value *a, int *empty)
{
    strom_type ty = strom_schema_col_type(v->sc, col);
    strom_value val;
    if (sqlite3_value_type(a) == SQLITE_NULL) {
        *empty = 1;               /* col <op> NULL is never true */
        return STROM_OK;
    }
    int at = sqlite3_value_type(a);
    int ok = ty == STROM_STRING ? at == SQLITE_TEXT
                                : (at == SQLITE_INTEGER || (ty == STROM_DOUBLE && at == SQLITE_FLOAT));
    if (!ok || !to_value(a, ty, &val))   /* not pushed: SQLite checks it (unless omitted) */
        return exact ? strom_fail(STROM_EINVAL, "table %s, column %s: a constant changed its type "
                                  "between planning and reading", v->name, strom_schema_col_name(v->sc, col))
                     : STROM_OK;
    if (col == v->time_col && ty != STROM_STRING) {
        int64_t t = val.v.i;
        if ((op == '<' || op == '{') && t - (op == '<') < c->ro.time_max)
            c->ro.time_max = t - (op == '<');
        if ((op == '>' || op == '}') && t + (op == '>') > c->ro.time_min)
            c->ro.time_min = t + (op == '>');
        if (op == '=') {
            c->ro.time_min = t > c->ro.time_min ? t : c->ro.time_min;
            c->ro.time_max = t < c->ro.time_max ? t : c->ro.time_max;
        }
        /* and as a predicate too: a NULL time fails it, as in SQL */
    }
    if (c->npreds >= (int)(sizeof c->preds / sizeof c->preds[0]))
        return exact ? strom_fail(STROM_ELIMIT, "table %s: more than %d predicates", v->name, c->npreds)
                     : STROM_OK;
    static const struct { char c; strom_op op; } ops[] = {
        {'=', STROM_OP_EQ}, {'<', STROM_OP_LT}, {'{', STROM_OP_LE}, {'>', STROM_OP_GT}, {'}', STROM_OP_GE}};
    strom_pred *p = &c->preds[c->npreds++];
    p->column = strom_schema_col_name(v->sc, col);
    p->value = val;
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
        if (ops[k].c == op)
            p->op = ops[k].op;
    return STROM_OK;
}

/* Copies the string constants of the predicates into the cursor: buckets after the first
 * are opened in xNext, when SQLite's argv values are gone. */
static strom_err keep_pred_strings(scur *c)
{
    strom_buf_clear(&c->ptext);
    for (int i = 0; i < c->npreds; i++) {
        strom_value *v = &c->preds[i].value;
        if (v->type != STROM_STRING && v->type != STROM_BYTES)
            continue;
        size_t at = c->ptext.len;
        if (strom_buf_append(&c->ptext, v->v.s.ptr, v->v.s.len) != STROM_OK)
            return STROM_ENOMEM;
        v->v.s.ptr = (const char *)(uintptr_t)at;
    }
    for (int i = 0; i < c->npreds; i++) {
        strom_value *v = &c->preds[i].value;
        if (v->type == STROM_STRING || v->type == STROM_BYTES)
            v->v.s.ptr = c->ptext.data ? (const char *)c->ptext.data + (uintptr_t)v->v.s.ptr : "";
    }
    return STROM_OK;
}

/* Streaming mode: this scan of a log table is the statement's stream, which reads what is
 * there (from the start, or from the end with 'scan.startup.mode' = 'latest') and then
 * waits for appends instead of ending. One stream per statement, as the outer loop. */
static strom_err stream_start(svt *v, scur *c)
{
    if (v->ctx->stream && v->ctx->stream != c)
        return strom_fail(STROM_EUNSUPPORTED, "streaming mode reads one log table as a stream; "
                          "this statement also reads log table %s in full (join a stream only "
                          "with primary-key tables, or FOR SYSTEM_TIME AS OF on an indexed log "
                          "table)", v->name);
    if (c->stream)
        return strom_fail(STROM_EUNSUPPORTED, "streaming mode: log table %s would be read again "
                          "for each row of another table; make it the first table of the FROM "
                          "clause (the stream drives the join)", v->name);
    int nb = strom_table_nbuckets(v->t);
    if (v->ctx->jstream && !v->ctx->round_pos)
        return strom_fail(STROM_EUNSUPPORTED, "streaming mode: a join of two streams reads no third log "
                          "table in full (log table %s; join it FOR SYSTEM_TIME AS OF on its index key)", v->name);
    if (v->ctx->round_pos && v->ctx->round_table && !strcmp(v->ctx->round_table, v->name)) {
        c->spos = v->ctx->round_pos;          /* a round of a join's side (jstream.c) */
        c->stream = 2;
        return STROM_OK;
    }
    free(c->spos);
    c->spos = strom_calloc((size_t)nb, sizeof *c->spos);
    if (!c->spos)
        return STROM_ENOMEM;
    int resume = v->ctx->resume_n == nb && !strcmp(v->ctx->resume_table, v->name);
    for (int b = 0; b < nb; b++) {
        int64_t lo = 0, hi = 0, off = 0;
        strom_err e = strom_table_offsets(v->t, b, &lo, &hi);
        if (e == STROM_OK && !v->ctx->from_latest && c->ro.time_min != STROM_TIME_MIN)
            e = strom_table_seek_time(v->t, b, c->ro.time_min, &off);
        if (e != STROM_OK)
            return e;
        c->spos[b] = resume ? v->ctx->resume_pos[b] : v->ctx->from_latest ? hi : off;
    }
    if (nb <= 64)
        memcpy(v->ctx->stream_from, c->spos, (size_t)nb * sizeof *c->spos);
    v->ctx->stream = c;
    v->ctx->stream_table = v->name;
    v->ctx->stream_pos = c->spos;
    v->ctx->stream_nbuckets = nb;
    c->stream = 1;
    return STROM_OK;
}

static strom_err start_scan(svt *v, scur *c, const arg *a, int na, sqlite3_value **argv, int *empty)
{
    c->ro = (strom_read_opts){.columns = c->names, .ncolumns = c->nproj, .preds = c->preds,
                              .time_min = STROM_TIME_MIN, .time_max = STROM_TIME_MAX};
    for (int i = 0; i < na; i++) {
        strom_err e = STROM_OK;
        if (a[i].col == v->ncols) {
            if (v->is_pk)
                return strom_fail(STROM_EUNSUPPORTED, "table %s: FOR SYSTEM_TIME AS OF in FROM on a "
                                  "primary-key table needs equality on the whole primary key", v->name);
            if (c->t_at < c->ro.time_max)
                c->ro.time_max = c->t_at;
        } else if (a[i].col >= 0 && a[i].col < v->ncols) {
            e = add_pred(v, c, a[i].col, a[i].op, a[i].exact, argv[i], empty);
        }
        if (e != STROM_OK)
            return e;
    }
    c->ro.npreds = c->npreds;
    strom_err ce = keep_pred_strings(c);
    if (ce != STROM_OK)
        return ce;
    if (c->ro.time_min > c->ro.time_max)
        *empty = 1;
    c->bucket = 0;
    if (!v->is_pk && v->ctx->streaming && (ce = stream_start(v, c)) != STROM_OK)
        return ce;
    if (c->stream)
        *empty = 0;                           /* a stream runs until it is cancelled */
    return *empty ? STROM_OK : scan_advance(v, c);
}

/* ----------------------------------------------- grouped scan (PLAN_GROUP) */

/* The grouper of idxStr's "g:<col><a|d>,..." over the cursor's projection. */
static strom_err group_create(svt *v, scur *c, const char *idxStr)
{
    const char *s = idxStr ? strrchr(idxStr, 'g') : NULL;
    int keys[SQLG_MAX_KEYS], desc[SQLG_MAX_KEYS], nk = 0;
    if (!s || s[1] != ':')
        return strom_fail(STROM_EINVAL, "table %s: a grouped read without its keys", v->name);
    for (s += 2; *s && nk < SQLG_MAX_KEYS;) {
        char *end;
        long col = strtol(s, &end, 10);
        if (end == s || col < 0 || col >= v->ncols || c->map[col] < 0)
            return strom_fail(STROM_EINVAL, "table %s: a grouped read on a column not read", v->name);
        keys[nk] = c->map[col];
        desc[nk++] = *end == 'd';
        s = *end && end[1] == ',' ? end + 2 : end + (*end != 0);
    }
    strom_type types[SQL_MAX_COLS];
    for (int i = 0; i < c->nproj; i++)
        types[i] = strom_schema_col_type(v->sc, c->proj[i]);
    c->grp = sqlg_create(types, c->nproj, keys, desc, nk);
    return c->grp ? STROM_OK : STROM_ENOMEM;
}

/* One pass of a grouped read: the scan's rows of the pass (again from the start, unless
 * the scan has just been opened) into the grouper, then ordered; c->eof when empty. */
static strom_err group_fill(svt *v, scur *c, int fresh)
{
    for (;;) {
        sqlg_pass_begin(c->grp);
        strom_err e = STROM_OK;
        if (!fresh) {
            strom_scan_close(c->scan);
            c->scan = NULL;
            c->bucket = 0;
            c->eof = 0;
            e = scan_advance(v, c);
        }
        fresh = 0;
        int over = 0;
        while (e == STROM_OK && !c->eof && !over) {
            e = sqlg_add(c->grp, c->views, c->nrows, &over);
            if (e == STROM_OK && !over)
                e = scan_advance(v, c);
        }
        if (e != STROM_OK)
            return e;
        if (!over)
            break;
    }
    sqlg_finish(c->grp);
    c->eof = !sqlg_next(c->grp);
    return STROM_OK;
}

static strom_err start_group(svt *v, scur *c, const char *idxStr, const arg *a, int na,
                             sqlite3_value **argv, int *empty)
{
    if (v->ctx->streaming)
        return strom_fail(STROM_EUNSUPPORTED, "table %s: a grouped read was planned in batch mode "
                          "and runs in streaming mode: prepare the statement again", v->name);
    strom_err e = STROM_OK;
    if (c->grp && c->grp_plan == idxStr) {
        sqlg_restart(c->grp);
    } else {
        sqlg_destroy(c->grp);
        c->grp = NULL;
        e = group_create(v, c, idxStr);
        c->grp_plan = idxStr;
    }
    if (e == STROM_OK)
        e = start_scan(v, c, a, na, argv, empty);
    if (e != STROM_OK || *empty)
        return e;
    e = group_fill(v, c, 1);
    while (e == STROM_OK && c->eof && sqlg_more(c->grp))   /* passes with no rows */
        e = group_fill(v, c, 0);
    return e;
}

/* The next row of a grouped read: within the pass, else the next pass's first. */
static strom_err group_next(svt *v, scur *c)
{
    if (sqlg_next(c->grp))
        return STROM_OK;
    c->eof = 1;
    strom_err e = STROM_OK;
    while (e == STROM_OK && c->eof && sqlg_more(c->grp))
        e = group_fill(v, c, 0);
    return e;
}

/* Key values of the plan's '=' arguments, in key order. 0: some value can match nothing. */
static int keys_of(svt *v, scur *c, const int *cols, int n, const arg *a, int na, sqlite3_value **argv)
{
    for (int k = 0; k < n; k++)
        for (int i = 0; i < na; i++)
            if (a[i].col == cols[k] && (a[i].op == '=' || a[i].op == 'I')) {
                if (!to_value(argv[i], strom_schema_col_type(v->sc, cols[k]), &c->key[k]))
                    return 0;
            }
    return 1;
}

static strom_err start_point(svt *v, scur *c)
{
    if (c->has_as_of || c->has_version) {
        if (!c->bld)
            c->bld = strom_builder_create(v->sc);
        int found = 0;
        strom_err e = c->bld ? strom_table_lookup_asof_into(v->t, c->key, v->npk, c->t_at, c->bld, &found)
                             : STROM_ENOMEM;
        if (e == STROM_OK)
            bind_builder(v, c);
        return e;
    }
    strom_batch *b = NULL;
    strom_err e = strom_table_lookup(v->t, c->key, v->npk, &b);
    c->owned = b;
    /* the lookup's batch has every column: views by table column */
    for (int i = 0; e == STROM_OK && b && i < c->nproj; i++)
        e = strom_batch_column(b, c->proj[i], &c->views[i]);
    c->nrows = b ? strom_batch_nrows(b) : 0;
    return e;
}

static strom_err start_in(svt *v, scur *c, sqlite3_value *list)
{
    strom_type ty = strom_schema_col_type(v->sc, v->pk[0]);
    size_t n = 0, cap = 0;
    strom_value *keys = NULL;
    int64_t *times = NULL;
    sqlite3_value *x = NULL;
    strom_buf text = {0};
    strom_err e = STROM_OK;
    for (int rc = sqlite3_vtab_in_first(list, &x); rc == SQLITE_OK && x && e == STROM_OK;
         rc = sqlite3_vtab_in_next(list, &x)) {
        strom_value kv;
        if (!to_value(x, ty, &kv))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            strom_value *nk = strom_realloc(keys, cap * sizeof *keys);
            int64_t *nt = nk ? strom_realloc(times, cap * sizeof *times) : NULL;
            if (nk)
                keys = nk;
            if (nt)
                times = nt;
            if (!nk || !nt)
                e = STROM_ENOMEM;
        }
        if (e == STROM_OK && (ty == STROM_STRING || ty == STROM_BYTES)) {
            size_t at = text.len;     /* the value's memory is SQLite's until the next one */
            e = strom_buf_append(&text, kv.v.s.ptr, kv.v.s.len);
            kv.v.s.ptr = (const char *)(uintptr_t)at;
        }
        if (e == STROM_OK) {
            keys[n] = kv;
            times[n++] = c->t_at;
        }
    }
    for (size_t i = 0; i < n && (ty == STROM_STRING || ty == STROM_BYTES); i++)
        keys[i].v.s.ptr = (const char *)text.data + (uintptr_t)keys[i].v.s.ptr;
    uint8_t *found = e == STROM_OK && n ? strom_malloc(n) : NULL;
    if (n && !found)
        e = STROM_ENOMEM;
    if (e == STROM_OK && n && (c->has_as_of || c->has_version)) {
        if (!c->bld)
            c->bld = strom_builder_create(v->sc);
        e = c->bld ? strom_table_lookup_batch_asof_into(v->t, keys, 1, n, times, found, c->bld) : STROM_ENOMEM;
        if (e == STROM_OK)
            bind_builder(v, c);
    } else if (e == STROM_OK && n) {
        e = strom_table_lookup_batch(v->t, keys, 1, n, found, &c->owned);
        for (int i = 0; e == STROM_OK && c->owned && i < c->nproj; i++)
            e = strom_batch_column(c->owned, c->proj[i], &c->views[i]);
        c->nrows = c->owned ? strom_batch_nrows(c->owned) : 0;
    }
    free(found);
    free(keys);
    free(times);
    strom_buf_free(&text);
    return e;
}

static strom_err start_prefix(svt *v, scur *c)
{
    strom_err e = strom_table_prefix_lookup(v->t, c->key, v->nbkey, &c->owned);
    for (int i = 0; e == STROM_OK && c->owned && i < c->nproj; i++)
        e = strom_batch_column(c->owned, c->proj[i], &c->views[i]);
    c->nrows = c->owned ? strom_batch_nrows(c->owned) : 0;
    return e;
}

/* The bucket holding every row of the key in c->key (bucket.key = index key: the hash of
 * the canonical key bytes, as the engine places rows), or -1 when rows of the key may be
 * in several buckets. */
static int64_t hist_bucket_of(svt *v, scur *c)
{
    int nb = strom_table_nbuckets(v->t);
    if (!v->hist_one_bucket)
        return -1;
    if (nb == 1)
        return 0;
    strom_buf_clear(&c->kb);
    strom_err e = STROM_OK;
    for (int k = 0; k < v->nikey && e == STROM_OK; k++)
        e = fmt_key_from_value(&c->kb, strom_schema_col_type(v->sc, v->ikey[k]), &c->key[k]);
    return e == STROM_OK ? fmt_bucket_of(c->kb.data, c->kb.len, (int)nb) : -1;
}

/* Key history: the newest hist_n rows; rows before hist_skip were handed out already. */
static strom_err hist_fetch(svt *v, scur *c)
{
    strom_batch_destroy(c->owned);
    c->owned = NULL;
    strom_err e = strom_table_key_history(v->t, c->key, v->nikey, c->t_at, c->hist_n, c->names,
                                          c->nproj, &c->owned);
    if (e != STROM_OK)
        return e;
    e = bind_batch(c, c->owned);
    c->r = c->hist_skip < c->nrows ? c->hist_skip : c->nrows;
    return e;
}

static strom_err start_hist(svt *v, scur *c, const arg *a, int na, sqlite3_value **argv, int *empty)
{
    int64_t limit = -1, offset = 0;
    int64_t tmax = c->t_at;
    for (int i = 0; i < na; i++) {
        if (a[i].op == 'L')
            limit = sqlite3_value_int64(argv[i]);
        else if (a[i].op == 'O')
            offset = sqlite3_value_int64(argv[i]);
        else if (a[i].col == v->time_col && (a[i].op == '<' || a[i].op == '{')) {
            strom_value tv;
            if (sqlite3_value_type(argv[i]) == SQLITE_INTEGER && to_value(argv[i], STROM_BIGINT, &tv))
                tmax = tv.v.i - (a[i].op == '<') < tmax ? tv.v.i - (a[i].op == '<') : tmax;
        }
    }
    c->t_at = tmax;
    if (limit == 0) {
        *empty = 1;
        return STROM_OK;
    }
    c->hist_limit = limit;
    c->hist_bucket = hist_bucket_of(v, c);
    c->hist_n = c->has_version ? 1 : limit > 0 ? limit + (offset > 0 ? offset : 0) : 256;
    c->hist_skip = limit > 0 && offset > 0 ? offset : 0;   /* the OFFSET is ours too */
    return hist_fetch(v, c);
}

/* Next batch of a key history read without a limit: fetch twice as many, skip the rows
 * already handed out. */
static strom_err hist_more(svt *v, scur *c)
{
    if (c->has_version || c->hist_limit > 0 || c->nrows < c->hist_n) {
        c->eof = 1;
        return STROM_OK;
    }
    c->hist_skip = c->nrows;
    c->hist_n *= 2;
    strom_err e = hist_fetch(v, c);
    if (e == STROM_OK && c->r >= c->nrows)
        c->eof = 1;
    return e;
}

static int vt_filter(sqlite3_vtab_cursor *base, int idxNum, const char *idxStr, int argc,
                     sqlite3_value **argv)
{
    scur *c = (scur *)base;
    svt *v = (svt *)base->pVtab;
    cur_reset(c);
    c->plan = idxNum;
    c->eof = 0;
    c->rowid = 0;
    if (idxNum == PLAN_ERROR)
        return vt_failf(v, idxStr ? idxStr : "no plan can answer this read");
    arg a[64];
    sqlite3_uint64 used;
    int na = parse_args(idxStr, a, argc < 64 ? argc : 64, &used);
    set_projection(v, c, used);
    c->t_at = INT64_MAX;
    c->has_as_of = c->has_version = 0;
    int empty = 0;
    for (int i = 0; i < na; i++)
        if (a[i].col == v->ncols || a[i].col == v->ncols + 1) {
            strom_value tv;
            if (!to_value(argv[i], STROM_BIGINT, &tv))
                empty = 1;
            c->t_at = tv.v.i;
            c->has_as_of |= a[i].col == v->ncols;
            c->has_version |= a[i].col == v->ncols + 1;
        }
    strom_err e = STROM_OK;
    if (!empty && (idxNum == PLAN_POINT || idxNum == PLAN_PREFIX || idxNum == PLAN_HIST)) {
        const int *cols = idxNum == PLAN_POINT ? v->pk : idxNum == PLAN_PREFIX ? v->bkey : v->ikey;
        int n = idxNum == PLAN_POINT ? v->npk : idxNum == PLAN_PREFIX ? v->nbkey : v->nikey;
        empty = !keys_of(v, c, cols, n, a, na, argv);
    }
    if (!empty) {
        switch (idxNum) {
        case PLAN_POINT: e = start_point(v, c); break;
        case PLAN_IN: e = start_in(v, c, argv[0]); break;
        case PLAN_PREFIX: e = start_prefix(v, c); break;
        case PLAN_HIST: e = start_hist(v, c, a, na, argv, &empty); break;
        case PLAN_GROUP: e = start_group(v, c, idxStr, a, na, argv, &empty); break;
        default: e = start_scan(v, c, a, na, argv, &empty); break;
        }
    }
    if (e != STROM_OK)
        return vt_fail(v, e, "read");
    if (empty || (idxNum != PLAN_SCAN && idxNum != PLAN_GROUP && c->r >= c->nrows))
        c->eof = 1;
    return SQLITE_OK;
}

static int vt_next(sqlite3_vtab_cursor *base)
{
    scur *c = (scur *)base;
    svt *v = (svt *)base->pVtab;
    c->rowid++;
    if (c->plan == PLAN_GROUP) {
        strom_err ge = group_next(v, c);
        return ge == STROM_OK ? SQLITE_OK : vt_fail(v, ge, "read");
    }
    if (++c->r < c->nrows)
        return SQLITE_OK;
    strom_err e = STROM_OK;
    if (c->plan == PLAN_SCAN)
        e = scan_advance(v, c);
    else if (c->plan == PLAN_HIST)
        e = hist_more(v, c);
    else
        c->eof = 1;
    return e == STROM_OK ? SQLITE_OK : vt_fail(v, e, "read");
}

static int vt_eof(sqlite3_vtab_cursor *base) { return ((scur *)base)->eof; }

static void result_of(sqlite3_context *ctx, const strom_column *col, int64_t r)
{
    if (col->null_count && col->validity && !(col->validity[r >> 3] >> (r & 7) & 1)) {
        sqlite3_result_null(ctx);
        return;
    }
    switch (col->type) {
    case STROM_BOOLEAN:
        sqlite3_result_int(ctx, ((const uint8_t *)col->values)[r >> 3] >> (r & 7) & 1);
        break;
    case STROM_INT:
        sqlite3_result_int(ctx, ((const int32_t *)col->values)[r]);
        break;
    case STROM_BIGINT:
    case STROM_TIMESTAMP:
        sqlite3_result_int64(ctx, ((const int64_t *)col->values)[r]);
        break;
    case STROM_FLOAT:
        sqlite3_result_double(ctx, ((const float *)col->values)[r]);
        break;
    case STROM_DOUBLE:
        sqlite3_result_double(ctx, ((const double *)col->values)[r]);
        break;
    case STROM_STRING:
        sqlite3_result_text(ctx, (const char *)col->data + col->offsets[r],
                            col->offsets[r + 1] - col->offsets[r], SQLITE_TRANSIENT);
        break;
    default:
        sqlite3_result_blob(ctx, col->data + col->offsets[r], col->offsets[r + 1] - col->offsets[r],
                            SQLITE_TRANSIENT);
        break;
    }
}

static int vt_column(sqlite3_vtab_cursor *base, sqlite3_context *ctx, int i)
{
    scur *c = (scur *)base;
    svt *v = (svt *)base->pVtab;
    if (i >= v->ncols) {
        if (c->t_at == INT64_MAX || (i == v->ncols ? !c->has_as_of : !c->has_version))
            sqlite3_result_null(ctx);
        else
            sqlite3_result_int64(ctx, c->t_at);
        return SQLITE_OK;
    }
    if (c->map[i] < 0) {
        sqlite3_result_null(ctx);
        return SQLITE_OK;
    }
    if (c->plan == PLAN_GROUP)
        sqlg_result(c->grp, ctx, c->map[i]);
    else
        result_of(ctx, &c->views[c->map[i]], c->r);
    return SQLITE_OK;
}

/* Rowids identify rows (SQLite's OR plans drop repeated rowids): a log row is its bucket
 * and offset; a composite-key row the hash of its key; a key-history row of an unknown
 * bucket gets a fresh number (such a row matching two OR terms may then come twice). */
static int vt_rowid(sqlite3_vtab_cursor *base, sqlite3_int64 *out)
{
    static int64_t fresh = 0;
    scur *c = (scur *)base;
    svt *v = (svt *)base->pVtab;
    if (v->is_pk) {
        strom_buf_clear(&c->kb);
        for (int k = 0; k < v->npk; k++)
            if (fmt_key_from_column(&c->kb, &c->views[c->map[v->pk[k]]], c->r) != STROM_OK)
                break;
        *out = (sqlite3_int64)(strom_hash64(c->kb.data, c->kb.len) >> 1);
    } else if (c->plan == PLAN_SCAN && c->scan && c->cur) {
        *out = ((sqlite3_int64)(c->bucket - 1) << 48) | strom_batch_row_offset(c->cur, c->r);
    } else if (c->plan == PLAN_HIST && c->cur && c->hist_bucket >= 0) {
        *out = ((sqlite3_int64)c->hist_bucket << 48) | strom_batch_row_offset(c->cur, c->r);
    } else {
        *out = ((sqlite3_int64)1 << 62) | __atomic_add_fetch(&fresh, 1, __ATOMIC_RELAXED);
    }
    return SQLITE_OK;
}

/* ----------------------------------------------------------------- writes */

static strom_builder *seg_for(svt *v, int del)
{
    if (v->nsegs && v->segs[v->nsegs - 1].del == del)
        return v->segs[v->nsegs - 1].b;
    wseg *n = strom_realloc(v->segs, (size_t)(v->nsegs + 1) * sizeof *n);
    if (!n)
        return NULL;
    v->segs = n;
    n[v->nsegs].del = del;
    n[v->nsegs].b = strom_builder_create(v->sc);
    return n[v->nsegs].b ? n[v->nsegs++].b : NULL;
}

/* Puts SQLite value a into column col of b, converting as SQL INSERT does; type errors
 * name the column. */
static strom_err put_col(svt *v, strom_builder *b, int col, sqlite3_value *a)
{
    strom_type ty = strom_schema_col_type(v->sc, col);
    const char *cn = strom_schema_col_name(v->sc, col);
    int at = sqlite3_value_type(a);
    if (at == SQLITE_NULL) {
        strom_err e = strom_builder_put_null(b, col);
        return e == STROM_OK ? e : strom_fail(e, "table %s, column %s: NULL into a NOT NULL column", v->name, cn);
    }
    if (ty == STROM_STRING || ty == STROM_BYTES)
        return strom_builder_put_str(b, col, ty == STROM_STRING ? (const void *)sqlite3_value_text(a)
                                                                : sqlite3_value_blob(a),
                                     (size_t)sqlite3_value_bytes(a));
    if (ty == STROM_TIMESTAMP && at == SQLITE_TEXT) {
        int64_t ms;
        const char *s = (const char *)sqlite3_value_text(a);
        if (sql_parse_timestamp(s, strlen(s), &ms) != STROM_OK)
            return strom_fail(STROM_ESCHEMA, "table %s, column %s (TIMESTAMP): %s", v->name, cn, strom_errmsg());
        return strom_builder_put_int(b, col, ms);
    }
    if (ty == STROM_BOOLEAN && at == SQLITE_TEXT) {
        const char *s = (const char *)sqlite3_value_text(a);
        if (!sqlite3_stricmp(s, "true") || !sqlite3_stricmp(s, "false"))
            return strom_builder_put_int(b, col, !sqlite3_stricmp(s, "true"));
    }
    strom_value val;
    if (!to_value(a, ty, &val))
        return strom_fail(STROM_ESCHEMA, "table %s, column %s: '%.40s' is not a %s value", v->name, cn,
                          sqlite3_value_text(a) ? (const char *)sqlite3_value_text(a) : "",
                          strom_type_name(ty));
    strom_err e = ty == STROM_FLOAT || ty == STROM_DOUBLE ? strom_builder_put_f64(b, col, val.v.d)
                  : strom_builder_put_int(b, col, ty == STROM_BOOLEAN ? val.v.i != 0 : val.v.i);
    return e == STROM_OK ? e : strom_fail(e, "table %s, column %s: %s", v->name, cn, strom_errmsg());
}

/* Writes the buffered rows of v (in statement order, one call per run). *rows += them. */
static strom_err write_segs(svt *v, int64_t *rows)
{
    strom_err e = STROM_OK;
    for (int i = 0; i < v->nsegs && e == STROM_OK; i++) {
        const strom_builder *b = v->segs[i].b;
        if (strom_builder_nrows(b) == 0)
            continue;
        e = v->segs[i].del ? strom_table_delete(v->t, b)
            : v->is_pk     ? strom_table_upsert(v->t, b)
                           : strom_table_append(v->t, b, NULL);
        if (e == STROM_OK && rows)
            *rows += strom_builder_nrows(b);
        if (e == STROM_OK)
            v->ctx->rows_written += strom_builder_nrows(b);
    }
    segs_clear(v);
    return e;
}

/* A job writes while its statement runs: the table joins the session's writers (flushed
 * by sql_vtab_flush_writes) and writes itself every JOB_WRITE_ROWS rows. */
#define JOB_WRITE_ROWS 4096

static strom_err job_wrote(svt *v, strom_builder *b)
{
    sql_vctx *x = v->ctx;
    int known = 0;
    for (int i = 0; i < x->nwriters; i++)
        known |= x->writers[i] == v;
    if (!known && x->nwriters == (int)(sizeof x->writers / sizeof x->writers[0]))
        return strom_fail(STROM_ELIMIT, "a job writes at most %d tables", x->nwriters);
    if (!known)
        x->writers[x->nwriters++] = v;
    return strom_builder_nrows(b) >= JOB_WRITE_ROWS ? write_segs(v, NULL) : STROM_OK;
}

strom_err sql_vtab_flush_writes(sql_vctx *x, int64_t *rows)
{
    strom_err e = STROM_OK;
    if (rows)
        *rows = 0;
    for (int i = 0; i < x->nwriters && e == STROM_OK; i++)
        e = write_segs(x->writers[i], rows);
    x->nwriters = 0;
    return e;
}

static strom_err put_row(svt *v, int del, sqlite3_value **vals)
{
    int job_log = v->ctx->job && !v->is_pk && v->ctx->sink.rows;   /* job into a log table */
    strom_builder *b = job_log ? v->ctx->sink.rows(v->ctx->sink.arg, v->t, v->ctx->stream_bucket)
                               : seg_for(v, del);
    if (!b)
        return STROM_ENOMEM;
    strom_err e = STROM_OK;
    for (int i = 0; i < v->ncols && e == STROM_OK; i++)
        e = put_col(v, b, i, vals[i]);
    if (e == STROM_OK)
        e = strom_builder_end_row(b);
    if (e == STROM_OK && v->ctx->job && !job_log)
        e = job_wrote(v, b);
    if (e == STROM_OK)
        return e;
    strom_err keep = e;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", strom_errmsg());
    for (int i = 0; i < v->ncols; i++)       /* drop the half row */
        strom_builder_put_null(b, i);
    (void)strom_builder_end_row(b);
    return strom_fail(keep, "%s", msg);
}

static strom_err delete_key(svt *v, sqlite3_value *key)
{
    strom_builder *b = seg_for(v, 1);
    if (!b)
        return STROM_ENOMEM;
    strom_err e = STROM_OK;
    for (int i = 0; i < v->ncols && e == STROM_OK; i++) {
        strom_type ty = strom_schema_col_type(v->sc, i);
        if (i == v->pk[0])
            e = put_col(v, b, i, key);
        else if (ty == STROM_STRING || ty == STROM_BYTES)
            e = strom_builder_put_str(b, i, "", 0);
        else if (ty == STROM_FLOAT || ty == STROM_DOUBLE)
            e = strom_builder_put_f64(b, i, 0);
        else
            e = strom_builder_put_int(b, i, 0);
    }
    return e == STROM_OK ? strom_builder_end_row(b) : e;
}

static int same_value(sqlite3_value *a, sqlite3_value *b)
{
    int ta = sqlite3_value_type(a);
    if (ta != sqlite3_value_type(b))
        return 0;
    if (ta == SQLITE_INTEGER)
        return sqlite3_value_int64(a) == sqlite3_value_int64(b);
    if (ta == SQLITE_FLOAT)
        return sqlite3_value_double(a) == sqlite3_value_double(b);
    int n = sqlite3_value_bytes(a);
    return n == sqlite3_value_bytes(b) && !memcmp(sqlite3_value_blob(a), sqlite3_value_blob(b), (size_t)n);
}

static int vt_update(sqlite3_vtab *base, int argc, sqlite3_value **argv, sqlite3_int64 *rowid)
{
    svt *v = (svt *)base;
    int is_insert = argc > 1 && sqlite3_value_type(argv[0]) == SQLITE_NULL;
    if (!is_insert && !(v->is_pk && v->npk == 1)) {
        char msg[300];
        snprintf(msg, sizeof msg, "table %s: %s is not supported on %s", v->name,
                 argc == 1 ? "DELETE" : "UPDATE",
                 v->is_pk ? "a primary-key table with a composite key (write the rows with INSERT)"
                          : "a log table (it is append-only)");
        return vt_failf(v, msg);
    }
    strom_err e = STROM_OK;
    if (argc == 1) {
        e = delete_key(v, argv[0]);
    } else {
        if (!is_insert && sqlite3_value_type(argv[1]) != SQLITE_NULL &&
            !same_value(argv[0], argv[1]))
            e = delete_key(v, argv[0]);       /* the key changed: the old one goes */
        if (e == STROM_OK)
            e = put_row(v, 0, argv + 2);
    }
    (void)rowid;
    return e == STROM_OK ? SQLITE_OK : vt_fail(v, e, argc == 1 ? "delete" : "write");
}

static int vt_begin(sqlite3_vtab *base) { (void)base; return SQLITE_OK; }

static int vt_sync(sqlite3_vtab *base)
{
    svt *v = (svt *)base;
    strom_err e = write_segs(v, NULL);
    return e == STROM_OK ? SQLITE_OK : vt_fail(v, e, "commit");
}

static int vt_commit(sqlite3_vtab *base)
{
    segs_clear((svt *)base);
    return SQLITE_OK;
}

static int vt_rollback(sqlite3_vtab *base)
{
    segs_clear((svt *)base);
    return SQLITE_OK;
}

static const sqlite3_module strom_module = {
    .iVersion = 1,
    .xCreate = vt_connect,
    .xConnect = vt_connect,
    .xBestIndex = vt_best_index,
    .xDisconnect = vt_disconnect,
    .xDestroy = vt_disconnect,
    .xOpen = vt_open,
    .xClose = vt_close,
    .xFilter = vt_filter,
    .xNext = vt_next,
    .xEof = vt_eof,
    .xColumn = vt_column,
    .xRowid = vt_rowid,
    .xUpdate = vt_update,
    .xBegin = vt_begin,
    .xSync = vt_sync,
    .xCommit = vt_commit,
    .xRollback = vt_rollback,
};

strom_err sql_vtab_register(sqlite3 *db, sql_vctx *ctx)
{
    int rc = sqlite3_create_module(db, "strom", &strom_module, ctx);
    return rc == SQLITE_OK ? STROM_OK
                           : strom_fail(STROM_EINVAL, "sqlite3_create_module: %s", sqlite3_errmsg(db));
}
