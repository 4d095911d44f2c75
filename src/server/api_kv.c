/* api_kv.c: PUT_KV, LOOKUP, PREFIX_LOOKUP, KEY_HISTORY and SCAN_KV. */
#include "srv_int.h"

#define API(name) strom_err name(srv_server *s, srv_slot *slot, srv_scratch *x, \
                                 const proto_msg *req, proto_msg *resp)

/* ---------------------------------------------------------------- PUT_KV */

static int is_delete(const strom_batch *b, int64_t r)
{
    return strom_batch_row_change(b, r) == STROM_DELETE;
}

/* Writes rows [from, to) of x->batch (all deletes or all upserts). -U rows are skipped. */
static strom_err put_run(strom_table *t, srv_scratch *x, strom_builder *bld, int64_t from,
                         int64_t to, strom_write_opts *o)
{
    strom_builder_reset(bld);
    strom_err e = STROM_OK;
    for (int64_t r = from, start = from; e == STROM_OK && r <= to; r++)
        if (r == to || strom_batch_row_change(x->batch, r) == STROM_UPDATE_BEFORE) {
            e = srv_batch_to_builder(x->batch, start, r, bld); /* the rows between -U rows */
            start = r + 1;
        }
    if (e != STROM_OK || strom_builder_nrows(bld) == 0)
        return e;
    o->delete_rows = is_delete(x->batch, from);
    return strom_table_write(t, bld, o, NULL);
}

/* One wire batch: its rows in runs of the same kind, in order. */
static strom_err put_batch(strom_table *t, srv_scratch *x, strom_builder *bld, proto_bytes b,
                           const char *const *cols, int ncols)
{
    fmt_hdr h;
    strom_err e = srv_wire_decode(x, t, b.p, b.len, &h);
    if (e != STROM_OK)
        return e;
    int64_t n = strom_batch_nrows(x->batch), runs = 1;
    for (int64_t r = 1; r < n; r++)
        runs += is_delete(x->batch, r) != is_delete(x->batch, r - 1);
    strom_write_opts o = {.columns = cols, .ncolumns = ncols};
    if (h.writer_id > 0) {
        if (runs > 1)
            return strom_fail(STROM_EINVAL, "an idempotent batch (writer_id %lld) must hold "
                              "only upserts or only deletes, this one has %lld runs",
                              (long long)h.writer_id, (long long)runs);
        o.writer_id = h.writer_id;
        o.batch_seq = h.batch_seq;
    }
    for (int64_t from = 0, r = 1; e == STROM_OK && from < n; r++)
        if (r == n || is_delete(x->batch, r) != is_delete(x->batch, from)) {
            e = put_run(t, x, bld, from, r, &o);
            from = r;
        }
    return e;
}

API(srv_api_put_kv)
{
    srv_table *h;
    strom_table *t;
    const proto_records *rec = &req->req.produce.records;
    const char **cols = NULL;
    strom_err e = srv_cstrs(&slot->arena, req->req.produce.columns, req->req.produce.ncolumns,
                            &cols);
    if (e == STROM_OK)
        e = srv_table_get(s, slot, req->req.produce.table, &h, &t);
    if (e != STROM_OK)
        return e;
    strom_builder *bld = strom_builder_create(strom_table_schema(t));
    if (!bld)
        e = strom_fail(STROM_ENOMEM, "out of memory for a builder");
    for (uint32_t i = 0; e == STROM_OK && i < rec->nbatches; i++)
        if ((e = put_batch(t, x, bld, rec->batches[i], cols, (int)req->req.produce.ncolumns)) !=
            STROM_OK)
            strom_fail_wrap(e, "PUT_KV batch %u of %u", i, rec->nbatches);
    strom_builder_destroy(bld);
    srv_table_put(s, h);
    resp->resp.produce.bucket = req->req.produce.bucket;
    resp->resp.produce.first_offset = -1; /* strom_table_write does not report offsets */
    resp->resp.produce.last_offset = -1;
    resp->resp.produce.high_watermark = -1;
    return e;
}

/* --------------------------------------------------------------- lookups */

/* Column indexes of a projection in the table's (= a lookup batch's) columns. */
static strom_err project(srv_slot *slot, strom_table *t, const proto_str *names, uint32_t n,
                         int **out)
{
    *out = NULL;
    if (n == 0)
        return STROM_OK;
    int *cols = proto_arena_alloc(&slot->arena, n * sizeof *cols);
    const strom_schema *sc = strom_table_schema(t);
    for (uint32_t i = 0; cols && i < n; i++) {
        const char *name = srv_cstr(&slot->arena, names[i]);
        if (!name)
            return STROM_ENOMEM;
        if ((cols[i] = strom_schema_find(sc, name)) < 0)
            return strom_fail(STROM_ESCHEMA, "table %s has no column '%s'",
                              cat_table_canonical(t), name);
    }
    *out = cols;
    return cols ? STROM_OK : STROM_ENOMEM;
}

/* Encodes up to limit rows (0: all) of batch b (owned, destroyed) into x->records. */
static strom_err batch_resp(srv_scratch *x, strom_batch *b, const int *cols, uint32_t ncols,
                            int64_t limit, proto_records *out)
{
    strom_buf_clear(&x->records);
    int64_t n = b ? strom_batch_nrows(b) : 0;
    if (limit > 0 && limit < n)
        n = limit;
    strom_err e = srv_batch_to_wire(x, b, cols, (int)ncols, 0, n, 0, &x->records);
    strom_batch_destroy(b);
    out->bytes = (proto_bytes){x->records.data, (uint32_t)x->records.len};
    return e;
}

static strom_err key_values(srv_slot *slot, strom_table *t, const proto_key *keys, uint32_t n,
                            strom_value **out, int *nkey)
{
    int pk[PROTO_MAX_PK];
    *nkey = strom_schema_primary_key(strom_table_schema(t), pk, PROTO_MAX_PK);
    if (*nkey == 0)
        return strom_fail(STROM_EUNSUPPORTED, "table %s has no primary key: lookups need one",
                          cat_table_canonical(t));
    strom_value *v = proto_arena_alloc(&slot->arena, (n ? n : 1) * (size_t)*nkey * sizeof *v);
    if (!v)
        return STROM_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        if (keys[i].nvalues != (uint32_t)*nkey)
            return strom_fail(STROM_EINVAL, "key %u has %u values, the primary key of %s has %d",
                              i, keys[i].nvalues, cat_table_canonical(t), *nkey);
        memcpy(v + (size_t)i * (size_t)*nkey, keys[i].values, (size_t)*nkey * sizeof *v);
    }
    *out = v;
    return STROM_OK;
}

/* The rows of keys[0..n) (at as_of when has_as_of) into the scratch builder, encoded
 * into x->records: no allocation once the thread's builder and buffers have grown. */
static strom_err lookup_rows(srv_slot *slot, srv_scratch *x, strom_table *t,
                             const strom_value *keys, int nkey, uint32_t n, const proto_msg *req,
                             const int *cols, uint8_t *found)
{
    strom_builder *b;
    strom_err e = srv_scratch_rows(x, strom_table_schema(t), &b);
    strom_buf_clear(&x->records);
    if (e != STROM_OK || n == 0)
        return e;
    if (req->req.lookup.has_as_of) {
        int64_t *times = proto_arena_alloc(&slot->arena, n * sizeof *times);
        if (!times)
            return strom_fail(STROM_ENOMEM, "out of memory for AS OF");
        for (uint32_t i = 0; i < n; i++)
            times[i] = req->req.lookup.as_of;
        e = strom_table_lookup_batch_asof_into(t, keys, nkey, n, times, found, b);
    } else {
        e = strom_table_lookup_batch_into(t, keys, nkey, n, found, b);
    }
    return e ? e : srv_rows_to_wire(x, b, cols, (int)req->req.lookup.ncolumns, &x->records);
}

API(srv_api_lookup)
{
    srv_table *h;
    strom_table *t;
    uint32_t n = req->req.lookup.nkeys;
    strom_err e = srv_table_get(s, slot, req->req.lookup.table, &h, &t);
    if (e != STROM_OK)
        return e;
    strom_value *keys = NULL;
    int nkey = 0, *cols = NULL;
    uint8_t *found = proto_arena_alloc(&slot->arena, n ? n : 1);
    e = found ? key_values(slot, t, req->req.lookup.keys, n, &keys, &nkey) : STROM_ENOMEM;
    if (e == STROM_OK)
        e = project(slot, t, req->req.lookup.columns, req->req.lookup.ncolumns, &cols);
    if (e == STROM_OK)
        e = lookup_rows(slot, x, t, keys, nkey, n, req, cols, found);
    resp->resp.lookup.nfound = n;
    resp->resp.lookup.found = found;
    resp->resp.lookup.records.bytes = (proto_bytes){x->records.data, (uint32_t)x->records.len};
    srv_table_put(s, h);
    return e;
}

API(srv_api_prefix_lookup)
{
    srv_table *h;
    strom_table *t;
    strom_err e = srv_table_get(s, slot, req->req.prefix_lookup.table, &h, &t);
    if (e != STROM_OK)
        return e;
    int *cols = NULL;
    strom_batch *b = NULL;
    const proto_key *k = &req->req.prefix_lookup.prefix;
    e = project(slot, t, req->req.prefix_lookup.columns, req->req.prefix_lookup.ncolumns, &cols);
    if (e == STROM_OK)
        e = strom_table_prefix_lookup(t, k->values, (int)k->nvalues, &b);
    if (e == STROM_OK)
        e = batch_resp(x, b, cols, req->req.prefix_lookup.ncolumns, req->req.prefix_lookup.limit,
                       &resp->resp.prefix_lookup.records);
    else
        strom_batch_destroy(b);
    srv_table_put(s, h);
    return e;
}

API(srv_api_key_history)
{
    srv_table *h;
    strom_table *t;
    const char **cols = NULL;
    strom_batch *b = NULL;
    const proto_key *k = &req->req.key_history.key;
    strom_err e = srv_cstrs(&slot->arena, req->req.key_history.columns,
                            req->req.key_history.ncolumns, &cols);
    if (e == STROM_OK)
        e = srv_table_get(s, slot, req->req.key_history.table, &h, &t);
    if (e != STROM_OK)
        return e;
    e = strom_table_key_history(t, k->values, (int)k->nvalues, req->req.key_history.at_or_before,
                                req->req.key_history.n, cols,
                                (int)req->req.key_history.ncolumns, &b);
    if (e == STROM_OK)
        e = batch_resp(x, b, NULL, 0, 0, &resp->resp.key_history.records);
    else
        strom_batch_destroy(b);
    srv_table_put(s, h);
    return e;
}

/* ---------------------------------------------------------------- SCAN_KV */

/* A new scan: the snapshot of the bucket (projected) under a new cursor. */
static strom_err scan_open(srv_server *s, srv_slot *slot, const proto_msg *req,
                           srv_cursor **out)
{
    srv_table *h;
    strom_table *t;
    strom_snapshot *snap = NULL;
    const char **cols = NULL;
    strom_err e = srv_cstrs(&slot->arena, req->req.scan_kv.columns, req->req.scan_kv.ncolumns,
                            &cols);
    if (e == STROM_OK)
        e = srv_table_get(s, slot, req->req.scan_kv.table, &h, &t);
    if (e != STROM_OK)
        return e;
    strom_read_opts o = {.columns = cols, .ncolumns = (int)req->req.scan_kv.ncolumns};
    e = strom_snapshot_open(t, req->req.scan_kv.bucket, &o, &snap);
    if (e == STROM_OK && (e = srv_cursor_new(s, h, t, snap, req->req.scan_kv.bucket, out)) ==
                             STROM_OK)
        return STROM_OK;
    strom_snapshot_close(snap);
    srv_table_put(s, h);
    return e;
}

/* Up to limit rows (0: up to server.fetch.max-bytes and slot's budget) from the cursor
 * into x->records.
 * *done: the snapshot is exhausted. */
static strom_err scan_page(srv_server *s, srv_slot *slot, srv_scratch *x, srv_cursor *c,
                           int64_t limit, int *done)
{
    int64_t *row, rows = 0;
    const strom_batch **cur = srv_cursor_batch(c, &row);
    strom_err e = STROM_OK;
    strom_buf_clear(&x->records);
    *done = 0;
    size_t cap = STROM_MIN((size_t)s->cfg.fetch_max_bytes, slot->budget);
    while (e == STROM_OK && (limit == 0 || rows < limit) && x->records.len < cap) {
        if (!*cur || *row >= strom_batch_nrows(*cur)) {
            *row = 0;
            if ((e = strom_snapshot_next(srv_cursor_snapshot(c), cur)) != STROM_OK || !*cur) {
                *done = e == STROM_OK;
                break;
            }
        }
        int64_t n = strom_batch_nrows(*cur) - *row;
        if (limit > 0)
            n = STROM_MIN(n, limit - rows);
        e = srv_batch_to_wire(x, *cur, NULL, 0, *row, *row + n, (*cur)->changes != NULL,
                              &x->records);
        *row += n;
        rows += n;
    }
    return e;
}

API(srv_api_scan_kv)
{
    char canon[300];
    srv_cursor *c = NULL;
    int done = 0;
    srv_cursors_expire(s, 0);
    strom_err e = srv_canonical(req->req.scan_kv.table, canon, sizeof canon);
    if (e == STROM_OK)
        e = req->req.scan_kv.resume.len
                ? srv_cursor_take(s, req->req.scan_kv.resume, canon, req->req.scan_kv.bucket, &c)
                : scan_open(s, slot, req, &c);
    if (e != STROM_OK)
        return e;
    e = scan_page(s, slot, x, c, req->req.scan_kv.limit, &done);
    resp->resp.scan_kv.records.bytes = (proto_bytes){x->records.data, (uint32_t)x->records.len};
    resp->resp.scan_kv.more = (uint8_t)(e == STROM_OK && !done);
    resp->resp.scan_kv.snapshot_offset = strom_snapshot_offset(srv_cursor_snapshot(c));
    if (resp->resp.scan_kv.more) {
        const char *tok = srv_cursor_token(c);
        char *p = proto_arena_alloc(&slot->arena, strlen(tok) + 1);
        if (p)
            memcpy(p, tok, strlen(tok) + 1);
        resp->resp.scan_kv.resume = proto_s(p);
    }
    srv_cursor_release(s, c, !resp->resp.scan_kv.more);
    return e;
}
