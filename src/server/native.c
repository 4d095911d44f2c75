/* native.c: the native protocol listener (docs/protocol.md): frame -> slot -> the api's
 * handler (api_*.c), on the I/O thread for cheap requests, on a worker otherwise ->
 * response frame. */
#include "srv_int.h"

#include <stdio.h>

/* Encodes the response of slot (err = the handler's result) into slot->resp. */
static void respond(srv_slot *s, strom_err err, const proto_msg *resp)
{
    srv_server *srv = s->conn->loop->srv;
    strom_buf_clear(&s->resp);
    if (err == STROM_OK &&
        proto_encode_response(&s->resp, s->api, s->version, s->request_id, STROM_OK, NULL,
                              resp) == STROM_OK)
        return;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", strom_errmsg());
    if (err == STROM_OK) /* the response could not be encoded (e.g. over the frame limit) */
        err = STROM_ELIMIT;
    strom_buf_clear(&s->resp);
    atomic_fetch_add(&srv->stats.errors, 1);
    if (proto_encode_response(&s->resp, s->api, s->version, s->request_id, err, msg, NULL) !=
        STROM_OK)
        s->resp.len = 0;
}

/* Decodes and runs the request whose frame is frame[0..len), on the calling thread. */
static void run_frame(srv_slot *s, srv_scratch *x, const uint8_t *frame, size_t len)
{
    srv_server *srv = s->conn->loop->srv;
    proto_arena_reset(&s->arena);
    memset(&s->msg, 0, sizeof s->msg);
    strom_fail_clear();
    strom_err e = proto_decode_request(s->api, s->version, frame + PROTO_REQ_HDR,
                                       len - PROTO_REQ_HDR, PROTO_REQ_HDR, &s->arena, &s->msg);
    proto_msg resp;
    memset(&resp, 0, sizeof resp);
    s->park = 0;
    if (e == STROM_OK)
        e = srv_api_handler(s->api)(srv, s, x, &s->msg, &resp);
    if (!s->park && !s->requeue)
        respond(s, e, &resp);
}

static void native_run(srv_slot *s, srv_scratch *x)
{
    run_frame(s, x, s->frame, s->frame_len);
}

/* A woken FETCH_LOG without projection or filter reads stored bytes of what was just
 * appended (page cache, at most its max_bytes): cheap enough for the I/O thread. */
static int native_rerun_inline(srv_slot *s, srv_scratch *x)
{
    if (s->api != PROTO_FETCH_LOG)
        return 0;
    for (uint32_t i = 0; i < s->msg.req.fetch.nbuckets; i++)
        if (s->msg.req.fetch.buckets[i].ncolumns || s->msg.req.fetch.buckets[i].npreds)
            return 0;
    s->on_loop = 1;
    run_frame(s, x, s->frame, s->frame_len);
    s->on_loop = 0;
    if (s->requeue) { /* the table was closed meanwhile (dropped): a worker opens it */
        s->requeue = 0;
        return 0;
    }
    return 1;
}

static int native_frame(srv_conn *c, const uint8_t *frame, size_t len)
{
    srv_slot *s = srv_slot_new(c);
    if (!s)
        return -1;
    proto_req_hdr h;
    strom_err e = proto_parse_request(frame, len, &h);
    if (e == STROM_OK) {
        s->api = h.api_key;
        s->version = h.api_version;
        s->request_id = h.request_id;
        e = proto_check_api(h.api_key, h.api_version);
    }
    if (e != STROM_OK) {
        respond(s, e, NULL);
        srv_slot_done(s);
        return 0;
    }
    if (!srv_api_blocks(s->api, h.body_len)) {
        s->on_loop = 1;
        run_frame(s, &c->loop->scratch, frame, len);
        s->on_loop = 0;
        if (!s->requeue) {
            srv_slot_done(s);
            return 0;
        }
        s->requeue = 0; /* it needs a table opened first: a worker does that */
    }
    s->frame = frame; /* stays valid: the conn reads nothing while the request runs */
    s->frame_len = len;
    srv_conn_queue(s);
    return 0;
}

/* A frame whose length cannot be accepted: the answer names it, then the conn closes. */
static void native_fatal(srv_conn *c, strom_err err, const char *msg)
{
    srv_slot *s = srv_slot_new(c);
    if (!s)
        return;
    size_t have = proto_reader_buffered(&c->rd);
    const uint8_t *p = c->rd.buf.data + c->rd.start;
    s->api = have >= 6 ? (int16_t)strom_get_u16(p + 4) : 0;
    s->request_id = have >= 12 ? (int32_t)strom_get_u32(p + 8) : 0;
    char m[1024];
    snprintf(m, sizeof m, "%s; the connection is closed", msg);
    strom_fail(err, "%s", m);
    respond(s, err, NULL);
    srv_slot_done(s);
}

const srv_proto srv_native_proto = {
    .name = "native",
    .min_frame = 8,
    .frame = native_frame,
    .run = native_run,
    .fatal = native_fatal,
    .rerun_inline = native_rerun_inline,
};
