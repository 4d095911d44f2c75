/* api_log.c: PRODUCE_LOG, FETCH_LOG (with long-poll) and LIST_OFFSETS. Batches travel as
 * stored: a produce hands each wire batch to strom_table_append_encoded, a fetch without
 * projection or filter returns the stored bytes (cat_read_encoded); only a projected or
 * filtered fetch re-encodes (wire.c). */
#include "srv_int.h"

#include <stdio.h>

/* Records bytes of one FETCH response at most (a bucket that starts below it may pass it by
 * one batch); buckets after it come back empty and the client asks again. Half the
 * default maximum frame, so that a response fits a client's default frame limit. */
#define SRV_FETCH_BUDGET ((size_t)PROTO_MAX_FRAME / 2)

#define API(name) strom_err name(srv_server *s, srv_slot *slot, srv_scratch *x, \
                                 const proto_msg *req, proto_msg *resp)

API(srv_api_produce)
{
    srv_table *h;
    strom_table *t;
    const proto_records *rec = &req->req.produce.records;
    int32_t bucket = req->req.produce.bucket;
    strom_err e = srv_table_get(s, slot, req->req.produce.table, &h, &t);
    if (e != STROM_OK)
        return e;
    int64_t first = -1, last = -1;
    for (uint32_t i = 0; e == STROM_OK && i < rec->nbatches; i++) {
        strom_encoded_result r; /* a duplicate (producer retry) is answered as a success */
        e = strom_table_append_encoded_ex(t, bucket, rec->batches[i].p, rec->batches[i].len,
                                          &r);
        if (e != STROM_OK && i > 0)
            strom_fail_wrap(e, "batch %u of %u (the %u before it were appended, offsets "
                            "%lld..%lld)", i, rec->nbatches, i, (long long)first,
                            (long long)last);
        if (e == STROM_OK && first < 0)
            first = r.first_offset;
        if (e == STROM_OK && r.first_offset >= 0)
            last = r.first_offset + r.nrows - 1;
    }
    int64_t earliest, end = -1;
    if (e == STROM_OK && req->req.produce.acks == PROTO_ACKS_DURABLE &&
        strom_table_offsets(t, bucket, &earliest, &end) != STROM_OK)
        end = -1;
    srv_table_put(s, h);
    resp->resp.produce.bucket = bucket;
    resp->resp.produce.first_offset = first;
    resp->resp.produce.last_offset = last;
    resp->resp.produce.high_watermark = end;
    return e;
}

/* --------------------------------------------------------------- fetch */

static strom_err fetch_preds(srv_slot *slot, const proto_fetch_bucket *b, strom_pred **out)
{
    *out = NULL;
    if (b->npreds == 0)
        return STROM_OK;
    strom_pred *p = proto_arena_alloc(&slot->arena, b->npreds * sizeof *p);
    for (uint32_t i = 0; p && i < b->npreds; i++) {
        p[i].op = (strom_op)b->preds[i].op;
        p[i].value = b->preds[i].value;
        if (!(p[i].column = srv_cstr(&slot->arena, b->preds[i].column)))
            p = NULL;
    }
    *out = p;
    return p ? STROM_OK : strom_fail(STROM_ENOMEM, "out of memory for predicates");
}

/* A projected or filtered read: the engine's scan (whole batches kept or skipped by their
 * statistics, so offsets stay contiguous), each batch re-encoded with the projection. */
static strom_err fetch_projected(srv_slot *slot, srv_scratch *x, strom_table *t,
                                 const proto_fetch_bucket *b, size_t max)
{
    strom_read_opts o = {0};
    const char **cols = NULL;
    strom_pred *preds = NULL;
    strom_err e = srv_cstrs(&slot->arena, b->columns, b->ncolumns, &cols);
    if (e == STROM_OK)
        e = fetch_preds(slot, b, &preds);
    o.columns = cols;
    o.ncolumns = (int)b->ncolumns;
    o.preds = preds;
    o.npreds = (int)b->npreds;
    o.batch_level_only = 1;
    strom_scan *sc = NULL;
    if (e == STROM_OK)
        e = strom_scan_open(t, b->bucket, b->offset, &o, &sc);
    size_t start = x->records.len;
    const strom_batch *bt;
    while (e == STROM_OK && x->records.len - start < max &&
           (e = strom_scan_next(sc, &bt)) == STROM_OK && bt)
        e = srv_batch_to_wire(x, bt, NULL, 0, 0, strom_batch_nrows(bt), bt->changes != NULL,
                              &x->records);
    strom_scan_close(sc);
    return e;
}

/* Reads one bucket into x->records; the result's records length is set, its pointer is
 * fixed once all buckets are read (the buffer may move). */
static void fetch_bucket(srv_server *s, srv_slot *slot, srv_scratch *x, strom_table *t,
                         const proto_fetch_bucket *b, proto_fetch_result *r)
{
    size_t start = x->records.len;
    int64_t next;
    r->bucket = b->bucket;
    strom_err e = strom_table_offsets(t, b->bucket, &r->log_start_offset, &r->high_watermark);
    if (e == STROM_OK && b->offset > r->high_watermark)
        e = strom_fail(STROM_ERANGE, "bucket %d: offset %lld is beyond the end %lld", b->bucket,
                       (long long)b->offset, (long long)r->high_watermark);
    size_t max = (size_t)s->cfg.fetch_max_bytes;
    if (b->max_bytes > 0 && (size_t)b->max_bytes < max)
        max = (size_t)b->max_bytes;
    /* the response must fit a frame and the connection's buffer budget (slot->budget) */
    size_t cap = STROM_MIN(SRV_FETCH_BUDGET, slot->budget);
    int room = start < cap;
    if (room && max > cap - start)
        max = cap - start;
    if (e == STROM_OK && room && b->offset < r->high_watermark)
        e = b->ncolumns || b->npreds ? fetch_projected(slot, x, t, b, max)
                                     : cat_read_encoded(t, b->bucket, b->offset, max,
                                                        &x->records, &next);
    if (e != STROM_OK)
        x->records.len = start;
    r->error = (int16_t)e;
    r->records.bytes.len = (uint32_t)(x->records.len - start);
}

API(srv_api_fetch)
{
    srv_table *h;
    strom_table *t;
    uint32_t n = req->req.fetch.nbuckets;
    strom_err e = srv_table_get(s, slot, req->req.fetch.table, &h, &t);
    if (e != STROM_OK)
        return e;
    snprintf(slot->table, sizeof slot->table, "%s", cat_table_canonical(t));
    slot->seq = srv_wait_seq(s, slot->table); /* before reading: see wait.c */
    proto_fetch_result *r = proto_arena_alloc(&slot->arena, (n ? n : 1) * sizeof *r);
    if (!r) {
        srv_table_put(s, h);
        return strom_fail(STROM_ENOMEM, "out of memory for a fetch");
    }
    memset(r, 0, (n ? n : 1) * sizeof *r);
    strom_buf_clear(&x->records);
    for (uint32_t i = 0; i < n; i++)
        fetch_bucket(s, slot, x, t, &req->req.fetch.buckets[i], &r[i]);
    srv_table_put(s, h);
    size_t total = x->records.len;
    int64_t now = strom_mono_ns();
    int64_t wait_ms = STROM_MIN((int64_t)req->req.fetch.max_wait_ms, s->cfg.max_wait_ms);
    if (slot->deadline_ns == 0)
        slot->deadline_ns = now + wait_ms * 1000000;
    if ((total == 0 || total < (size_t)req->req.fetch.min_bytes) && !slot->final &&
        now < slot->deadline_ns && !atomic_load(&s->stopping)) {
        slot->park = 1;
        return STROM_OK;
    }
    size_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        r[i].records.bytes.p = x->records.data + off;
        off += r[i].records.bytes.len;
    }
    resp->resp.fetch.nbuckets = n;
    resp->resp.fetch.buckets = r;
    return STROM_OK;
}

/* -------------------------------------------------------------- offsets */

API(srv_api_list_offsets)
{
    srv_table *h;
    strom_table *t;
    uint32_t n = req->req.list_offsets.nbuckets;
    strom_err e = srv_table_get(s, slot, req->req.list_offsets.table, &h, &t);
    if (e != STROM_OK)
        return e;
    proto_offset_result *r = proto_arena_alloc(&slot->arena, (n ? n : 1) * sizeof *r);
    for (uint32_t i = 0; r && i < n; i++) {
        int32_t b = req->req.list_offsets.buckets[i];
        int64_t earliest = -1, end = -1;
        strom_err be = strom_table_offsets(t, b, &earliest, &end);
        r[i].bucket = b;
        r[i].offset = req->req.list_offsets.spec == PROTO_OFFSET_EARLIEST ? earliest : end;
        if (be == STROM_OK && req->req.list_offsets.spec == PROTO_OFFSET_TIMESTAMP)
            be = strom_table_seek_time(t, b, req->req.list_offsets.timestamp, &r[i].offset);
        r[i].error = (int16_t)be;
        if (be != STROM_OK)
            r[i].offset = -1;
    }
    srv_table_put(s, h);
    if (!r)
        return strom_fail(STROM_ENOMEM, "out of memory for offsets");
    resp->resp.list_offsets.nbuckets = n;
    resp->resp.list_offsets.buckets = r;
    return STROM_OK;
}
