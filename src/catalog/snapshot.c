/* snapshot.c: snapshot reads of primary-key tables (strom_snapshot_*, strom_table_scan_kv):
 * the state of a bucket at one changelog offset, projected, in batches. */
#include "cat_int.h"

#include <stdlib.h>

#define SNAP_BATCH_ROWS 4096

struct strom_snapshot {
    strom_table *t;
    kv_snap *ks;
    int *proj, nproj;
    int64_t left;                /* rows still allowed by max_rows; -1: no limit */
    strom_builder *rows;
    strom_batch *batch;
};

static strom_err check_read(const strom_table *t, int bucket, const strom_read_opts *o)
{
    const strom_schema *s = cat_meta_schema(&t->e->meta);
    if (s->npk == 0)
        return strom_fail(STROM_EUNSUPPORTED, "table %s has no primary key: a snapshot read "
                          "needs one (read a log table with strom_scan_open)", cat_tname(t));
    if (bucket < 0 || bucket >= t->e->meta.opts.nbuckets)
        return strom_fail(STROM_EINVAL, "table %s: snapshot of bucket %d: the table has buckets "
                          "0..%d", cat_tname(t), bucket, t->e->meta.opts.nbuckets - 1);
    if (o && (o->npreds || o->time_min || o->time_max || o->batch_level_only))
        return strom_fail(STROM_EUNSUPPORTED, "table %s: snapshot reads take a projection and "
                          "max_rows only (no predicates or time range yet)", cat_tname(t));
    if (o && o->max_rows < 0)
        return strom_fail(STROM_EINVAL, "table %s: snapshot read: max_rows %lld < 0",
                          cat_tname(t), (long long)o->max_rows);
    return STROM_OK;
}

strom_err strom_snapshot_open(strom_table *t, int bucket, const strom_read_opts *opts,
                              strom_snapshot **out)
{
    *out = NULL;
    strom_err e = check_read(t, bucket, opts);
    if (e != STROM_OK)
        return e;
    const strom_schema *s = cat_meta_schema(&t->e->meta);
    strom_snapshot *sn = strom_calloc(1, sizeof *sn);
    if (!sn)
        return STROM_ENOMEM;
    sn->t = t;
    sn->left = opts && opts->max_rows > 0 ? opts->max_rows : -1;
    sn->nproj = opts && opts->columns ? opts->ncolumns : 0;
    e = cat_resolve_proj(t, s, opts ? opts->columns : NULL, sn->nproj, &sn->proj);
    sn->rows = e == STROM_OK ? strom_builder_create(s) : NULL;
    sn->batch = sn->rows ? fmt_batch_create(sn->nproj ? sn->nproj : s->ncols) : NULL;
    if (e == STROM_OK && !sn->batch)
        e = STROM_ENOMEM;
    if (e == STROM_OK)
        e = kv_snap_open(t->e->kvs[bucket], &sn->ks);
    if (e != STROM_OK) {
        strom_snapshot_close(sn);
        return e;
    }
    *out = sn;
    return STROM_OK;
}

int64_t strom_snapshot_offset(const strom_snapshot *s) { return kv_snap_offset(s->ks); }

/* Makes b the batch of the builder's rows, projected, every row +I at the snapshot's
 * offset. */
static strom_err rows_to_batch(const strom_builder *rows, const int *proj, int nproj,
                               int64_t offset, strom_batch *b)
{
    strom_err e = fmt_batch_from_builder(rows, proj, nproj, b);
    uint8_t *ch = e == STROM_OK ? fmt_batch_alloc(b, (size_t)b->nrows + 1) : NULL;
    if (e == STROM_OK && !ch)
        return STROM_ENOMEM;
    if (ch) {
        memset(ch, STROM_INSERT, (size_t)b->nrows);
        b->changes = ch;
        b->base_offset = offset;
    }
    return e;
}

strom_err strom_snapshot_next(strom_snapshot *s, const strom_batch **out)
{
    *out = NULL;
    int64_t want = s->left < 0 || s->left > SNAP_BATCH_ROWS ? SNAP_BATCH_ROWS : s->left, n = 0;
    if (want == 0)
        return STROM_OK;
    strom_builder_reset(s->rows);
    strom_err e = kv_snap_next(s->ks, s->rows, want, &n);
    if (e == STROM_OK && n > 0)
        e = rows_to_batch(s->rows, s->proj, s->nproj, kv_snap_offset(s->ks), s->batch);
    if (e != STROM_OK)
        return strom_fail_wrap(e, "table %s: snapshot read", cat_tname(s->t));
    if (n > 0) {
        s->left -= s->left >= 0 ? n : 0;
        *out = s->batch;
    }
    return STROM_OK;
}

void strom_snapshot_close(strom_snapshot *s)
{
    if (!s)
        return;
    kv_snap_close(s->ks);
    strom_batch_destroy(s->batch);
    strom_builder_destroy(s->rows);
    free(s->proj);
    free(s);
}

/* Reads bucket b's snapshot into rows, up to *left rows (-1: all). */
static strom_err scan_bucket(strom_table *t, int b, strom_builder *rows, int64_t *left)
{
    kv_snap *ks = NULL;
    strom_err e = kv_snap_open(t->e->kvs[b], &ks);
    while (e == STROM_OK && *left != 0 && !kv_snap_done(ks)) {
        int64_t n = 0, want = *left < 0 || *left > SNAP_BATCH_ROWS ? SNAP_BATCH_ROWS : *left;
        e = kv_snap_next(ks, rows, want, &n);
        *left -= *left >= 0 ? n : 0;
    }
    kv_snap_close(ks);
    return e;
}

strom_err strom_table_scan_kv(strom_table *t, const strom_read_opts *opts, strom_batch **out)
{
    *out = NULL;
    strom_err e = check_read(t, 0, opts);
    if (e != STROM_OK)
        return e;
    const strom_schema *s = cat_meta_schema(&t->e->meta);
    int nproj = opts && opts->columns ? opts->ncolumns : 0, *proj = NULL;
    int64_t left = opts && opts->max_rows > 0 ? opts->max_rows : -1;
    e = cat_resolve_proj(t, s, opts ? opts->columns : NULL, nproj, &proj);
    strom_builder *rows = e == STROM_OK ? strom_builder_create(s) : NULL;
    if (e == STROM_OK && !rows)
        e = STROM_ENOMEM;
    for (int b = 0; e == STROM_OK && left != 0 && b < t->e->meta.opts.nbuckets; b++)
        e = scan_bucket(t, b, rows, &left);
    strom_batch *bt = NULL;
    if (e == STROM_OK && strom_builder_nrows(rows) > 0) {
        bt = fmt_batch_create(nproj ? nproj : s->ncols);
        e = bt ? rows_to_batch(rows, proj, nproj, 0, bt) : STROM_ENOMEM;
    }
    if (e == STROM_OK)
        *out = bt;
    else
        strom_batch_destroy(bt);
    strom_builder_destroy(rows);
    free(proj);
    return e == STROM_OK ? e : strom_fail_wrap(e, "table %s: scan", cat_tname(t));
}
