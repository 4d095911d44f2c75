/* fuzz_proto_common.h: shared by the protocol fuzz targets. check_body decodes a body as
 * one api and direction; a rejection must say why (EPROTO with a message); an accepted
 * body must encode again, and that encoding must decode to a message that encodes to the
 * same bytes (a fixed point: decoders accept only what encoders can write). */
#include <stdio.h>
#include <stdlib.h>

#include "proto/proto.h"

static void check_body(int api, int resp, const uint8_t *body, size_t len, size_t off)
{
    static proto_arena a1, a2;
    static strom_buf e1, e2;
    proto_msg m, m2;
    proto_arena_reset(&a1);
    proto_arena_reset(&a2);
    strom_err e = resp ? proto_decode_response(api, 0, body, len, off, &a1, &m)
                       : proto_decode_request(api, 0, body, len, off, &a1, &m);
    if (e != STROM_OK) {
        if (e != STROM_EPROTO || strom_errmsg()[0] == '\0')
            abort();
        return;
    }
    e1.len = e2.len = 0;
    e = resp ? proto_encode_response(&e1, api, 0, 1, STROM_OK, NULL, &m)
             : proto_encode_request(&e1, api, 0, 1, &m);
    if (e != STROM_OK)
        abort();
    size_t hdr = resp ? 11 : PROTO_REQ_HDR;
    e = resp ? proto_decode_response(api, 0, e1.data + hdr, e1.len - hdr, hdr, &a2, &m2)
             : proto_decode_request(api, 0, e1.data + hdr, e1.len - hdr, hdr, &a2, &m2);
    if (e != STROM_OK)
        abort();
    e = resp ? proto_encode_response(&e2, api, 0, 1, STROM_OK, NULL, &m2)
             : proto_encode_request(&e2, api, 0, 1, &m2);
    if (e != STROM_OK || e1.len != e2.len || memcmp(e1.data, e2.data, e1.len) != 0)
        abort();
}
