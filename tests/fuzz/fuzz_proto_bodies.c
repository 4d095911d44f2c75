/* libFuzzer target: any input decoded as the body of every request and every response of
 * every api (src/proto/proto.c). Never a crash; rejections are EPROTO with a message;
 * accepted bodies re-encode to a fixed point (fuzz_proto_common.h). */
#include "fuzz_proto_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy, so that ASan catches any read past the end */
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    for (int api = 0; api < PROTO_API_COUNT; api++) {
        check_body(api, 0, copy, size, PROTO_REQ_HDR);
        check_body(api, 1, copy, size, 11);
    }
    free(copy);
    return 0;
}
