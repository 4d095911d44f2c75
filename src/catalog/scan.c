/* scan.c: strom_scan_* over log readers: projection names and predicate columns resolved
 * against the table's current schema, predicate constants type-checked. */
#include "cat_int.h"

#include <stdio.h>
#include <stdlib.h>

#define CAT_MAX_PROJ 4096
#define CAT_MAX_PREDS 1024

struct strom_scan {
    strom_table *t;
    log_reader *r;
};

/* "a, b, c" for error messages. */
static void column_list(const strom_schema *s, char *out, size_t cap)
{
    out[0] = '\0';
    for (int i = 0; i < s->ncols && strlen(out) + 8 < cap; i++)
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? ", " : "", s->cols[i].name);
    if (strlen(out) + 8 >= cap)
        snprintf(out + strlen(out), cap - strlen(out), ", ...");
}

strom_err cat_find_column(const strom_table *t, const strom_schema *s, const char *name, int *out)
{
    int c = name ? strom_schema_find(s, name) : -1;
    if (c < 0) {
        char list[600];
        column_list(s, list, sizeof list);
        return strom_fail(STROM_EINVAL, "table %s: no column '%s' (columns: %s)", cat_tname(t),
                          name ? name : "(null)", list);
    }
    *out = c;
    return STROM_OK;
}

strom_err cat_resolve_proj(const strom_table *t, const strom_schema *s, const char *const *names,
                           int n, int **out)
{
    *out = NULL;
    if (n < 0 || n > CAT_MAX_PROJ || (n > 0 && !names))
        return strom_fail(STROM_EINVAL, "table %s: bad projection (%d columns)", cat_tname(t), n);
    if (n == 0)
        return STROM_OK;
    int *p = strom_malloc((size_t)n * sizeof *p);
    if (!p)
        return STROM_ENOMEM;
    for (int i = 0; i < n; i++) {
        strom_err err = cat_find_column(t, s, names[i], &p[i]);
        if (err != STROM_OK) {
            free(p);
            return err;
        }
    }
    *out = p;
    return STROM_OK;
}

/* Converts constant v to the type family of column c (int -> float allowed). */
strom_err cat_convert_value(const strom_table *t, const fmt_column_def *c, const strom_value *v,
                            const char *what, strom_value *out)
{
    *out = *v;
    out->type = c->type;
    if (v->is_null)
        return STROM_OK;
    int vi = fmt_type_is_int(v->type), vf = fmt_type_is_float(v->type);
    int vs = v->type == STROM_STRING || v->type == STROM_BYTES;
    if (fmt_type_is_int(c->type) && vi)
        return STROM_OK;
    if (fmt_type_is_float(c->type) && (vi || vf)) {
        if (vi)
            out->v.d = (double)v->v.i;
        return STROM_OK;
    }
    if (fmt_type_is_var(c->type) && vs && (v->v.s.ptr || v->v.s.len == 0))
        return STROM_OK;
    const char *vn = strom_type_name(v->type);
    return strom_fail(STROM_ESCHEMA, "table %s: %s: a %s value cannot be compared with column "
                      "'%s' of type %s", cat_tname(t), what, vn ? vn : "(bad type)", c->name,
                      strom_type_name(c->type));
}

static strom_err resolve_preds(const strom_table *t, const strom_schema *s, const strom_pred *in,
                               int n, fmt_pred **out)
{
    *out = NULL;
    if (n < 0 || n > CAT_MAX_PREDS || (n > 0 && !in))
        return strom_fail(STROM_EINVAL, "table %s: bad predicate list (%d)", cat_tname(t), n);
    fmt_pred *p = n ? strom_calloc((size_t)n, sizeof *p) : NULL;
    if (n && !p)
        return STROM_ENOMEM;
    strom_err err = STROM_OK;
    for (int i = 0; err == STROM_OK && i < n; i++) {
        char what[64];
        snprintf(what, sizeof what, "predicate %d", i);
        err = cat_find_column(t, s, in[i].column, &p[i].col);
        if (err == STROM_OK && (in[i].op < STROM_OP_EQ || in[i].op > STROM_OP_GE))
            err = strom_fail(STROM_EINVAL, "table %s: %s: bad operator %d", cat_tname(t), what,
                             (int)in[i].op);
        if (err == STROM_OK && in[i].value.is_null)
            err = strom_fail(STROM_EINVAL, "table %s: %s on '%s': comparing with NULL matches "
                             "nothing", cat_tname(t), what, in[i].column);
        if (err == STROM_OK)
            err = cat_convert_value(t, &s->cols[p[i].col], &in[i].value, what, &p[i].value);
        p[i].op = in[i].op;
    }
    if (err != STROM_OK)
        free(p);
    else
        *out = p;
    return err;
}

static strom_err open_reader(strom_table *t, int bucket, int64_t offset,
                             const strom_read_opts *o, log_reader **out)
{
    const strom_schema *s = cat_meta_schema(&t->e->meta);
    log_read_spec spec = {.schema = s, .time_min = INT64_MIN, .time_max = INT64_MAX};
    int *proj = NULL;
    fmt_pred *preds = NULL;
    strom_err err = STROM_OK;
    if (o) {
        err = cat_resolve_proj(t, s, o->columns, o->columns ? o->ncolumns : 0, &proj);
        if (err == STROM_OK)
            err = resolve_preds(t, s, o->preds, o->npreds, &preds);
        spec.proj = proj;
        spec.nproj = proj ? o->ncolumns : 0;
        spec.preds = preds;
        spec.npreds = preds ? o->npreds : 0;
        if (o->time_min != 0 || o->time_max != 0) {
            spec.time_min = o->time_min;
            spec.time_max = o->time_max;
        }
        spec.max_rows = o->max_rows;
        spec.max_bytes = o->max_bytes;
        spec.batch_level_only = o->batch_level_only;
    }
    if (err == STROM_OK && (err = log_reader_open(t->e->buckets[bucket], offset, &spec, out)))
        strom_fail_wrap(err, "table %s: scan bucket %d from offset %lld", cat_tname(t), bucket,
                        (long long)offset);
    free(proj);
    free(preds);
    return err;
}

strom_err strom_scan_open(strom_table *t, int bucket, int64_t offset, const strom_read_opts *opts,
                          strom_scan **out)
{
    *out = NULL;
    strom_err err = cat_check_bucket(t, bucket);
    if (err != STROM_OK)
        return err;
    strom_scan *s = strom_calloc(1, sizeof *s);
    if (!s)
        return STROM_ENOMEM;
    pthread_rwlock_rdlock(&t->e->lock);
    err = open_reader(t, bucket, offset, opts, &s->r);
    pthread_rwlock_unlock(&t->e->lock);
    if (err != STROM_OK) {
        free(s);
        return err;
    }
    s->t = t;
    *out = s;
    return STROM_OK;
}

strom_err strom_scan_next(strom_scan *s, const strom_batch **out)
{
    *out = NULL;
    return log_reader_next(s->r, out);
}

int64_t strom_scan_position(const strom_scan *s) { return log_reader_position(s->r); }

void strom_scan_close(strom_scan *s)
{
    if (!s)
        return;
    log_reader_close(s->r);
    free(s);
}
