/*
 * reader.c: the incremental frame reader of one connection (proto.h). Bytes accumulate in
 * one buffer; complete frames are handed out as views into it; consumed bytes are dropped
 * by moving the tail to the front when more room is needed (so a steady stream of small
 * frames reuses one buffer and never allocates).
 */
#include <stdlib.h>

#include "proto/proto.h"

void proto_reader_init(proto_reader *r, size_t max_frame, size_t min_frame)
{
    memset(r, 0, sizeof *r);
    r->max_frame = max_frame ? max_frame : PROTO_MAX_FRAME;
    if (r->max_frame > INT32_MAX)
        r->max_frame = INT32_MAX;
    r->min_frame = min_frame;
}

void proto_reader_free(proto_reader *r)
{
    strom_buf_free(&r->buf);
    memset(r, 0, sizeof *r);
}

strom_err proto_reader_space(proto_reader *r, size_t want, uint8_t **p, size_t *cap)
{
    if (r->start) { /* drop what was consumed */
        size_t n = r->buf.len - r->start;
        memmove(r->buf.data, r->buf.data + r->start, n);
        r->buf.len = n;
        r->start = 0;
    }
    if (want == 0)
        want = 1;
    if (strom_buf_reserve(&r->buf, want) != STROM_OK)
        return STROM_ENOMEM;
    *p = r->buf.data + r->buf.len;
    *cap = r->buf.cap - r->buf.len;
    return STROM_OK;
}

void proto_reader_commit(proto_reader *r, size_t n)
{
    r->buf.len += n;
}

strom_err proto_reader_feed(proto_reader *r, const void *data, size_t len)
{
    uint8_t *p;
    size_t cap;
    if (len == 0)
        return STROM_OK;
    strom_err e = proto_reader_space(r, len, &p, &cap);
    if (e)
        return e;
    memcpy(p, data, len);
    proto_reader_commit(r, len);
    return STROM_OK;
}

strom_err proto_reader_next(proto_reader *r, const uint8_t **frame, size_t *len)
{
    *frame = NULL;
    *len = 0;
    if (r->failed)
        return strom_fail(r->failed, "connection stream already failed: frames cannot be "
                          "delimited any more; close it");
    size_t have = r->buf.len - r->start;
    if (have < 4)
        return STROM_OK;
    const uint8_t *p = r->buf.data + r->start;
    int32_t flen = (int32_t)strom_get_u32(p);
    if (flen < 0 || (size_t)flen < r->min_frame) {
        r->failed = STROM_EPROTO;
        return strom_fail(STROM_EPROTO, "frame: field 'length' at byte 0: %d is below the "
                          "minimum of %zu", flen, r->min_frame);
    }
    if ((size_t)flen > r->max_frame) {
        r->failed = STROM_ELIMIT;
        return strom_fail(STROM_ELIMIT, "frame: field 'length' at byte 0: a frame of %d bytes "
                          "is over the limit of %zu bytes", flen, r->max_frame);
    }
    if (have - 4 < (size_t)flen)
        return STROM_OK;
    *frame = p;
    *len = 4 + (size_t)flen;
    r->start += *len;
    if (r->start == r->buf.len) { /* everything consumed: cheap rewind */
        r->start = 0;
        r->buf.len = 0;
    }
    return STROM_OK;
}
