/* libFuzzer target: the input is a connection's byte stream. The first byte chooses the
 * size of the pieces it arrives in and whether it is read as requests (server side) or
 * responses (client side); the frame reader (src/proto/reader.c, limit 64 KiB here) cuts
 * it into frames, each frame header is parsed and its body decoded as its api says. Never
 * a crash; stream errors are ELIMIT/EPROTO with a message and sticky. */
#include "fuzz_proto_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t piece = 1 + (data[0] & 0x7f);
    int responses = data[0] >> 7;
    data++;
    size--;
    proto_reader r;
    proto_reader_init(&r, 65536, responses ? 7 : 8);
    size_t fed = 0;
    for (;;) {
        const uint8_t *f;
        size_t flen;
        strom_err e = proto_reader_next(&r, &f, &flen);
        if (e != STROM_OK) {
            if ((e != STROM_EPROTO && e != STROM_ELIMIT) || strom_errmsg()[0] == '\0')
                abort();
            if (proto_reader_next(&r, &f, &flen) != e) /* sticky */
                abort();
            break;
        }
        if (!f) {
            if (fed == size)
                break;
            size_t n = size - fed < piece ? size - fed : piece;
            if (proto_reader_feed(&r, data + fed, n) != STROM_OK)
                abort();
            fed += n;
            continue;
        }
        if (!responses) {
            proto_req_hdr h;
            if (proto_parse_request(f, flen, &h) != STROM_OK)
                abort(); /* the reader delimited it: the header must parse */
            if (proto_check_api(h.api_key, h.api_version) == STROM_OK)
                check_body(h.api_key, 0, h.body, h.body_len, PROTO_REQ_HDR);
        } else {
            proto_resp_hdr h;
            if (proto_parse_response(f, flen, &h) != STROM_OK) {
                if (strom_errmsg()[0] == '\0')
                    abort();
                continue;
            }
            /* the api of a response is known from its request; try them all */
            for (int api = 0; api < PROTO_API_COUNT; api++)
                check_body(api, 1, h.body, h.body_len, (size_t)(h.body - f));
        }
    }
    proto_reader_free(&r);
    return 0;
}
