/* history.c: key history of a log table (KEY_HISTORY, client.h strom_client_key_history). */
#include <stdlib.h>

#include "client/client_int.h"

strom_err strom_client_key_history(strom_client *c, const char *table, const strom_value *key,
                                   int nkey, int64_t at_or_before, int32_t n,
                                   const char *const *columns, int ncolumns, strom_batch **out)
{
    *out = NULL;
    if (!key || nkey < 1 || nkey > FMT_MAX_PK || n < 1 || n > PROTO_MAX_HISTORY ||
        ncolumns < 0 || ncolumns > PROTO_MAX_COLUMNS || (ncolumns > 0 && !columns))
        return strom_fail(STROM_EINVAL, "key history of '%s': %d key values (1..%d), n %d "
                          "(1..%d), %d columns", table, nkey, FMT_MAX_PK, n, PROTO_MAX_HISTORY,
                          ncolumns);
    stc_table t;
    stc_decoder *dec = NULL;
    strom_err e = stc_table_load(c, table, &t);
    if (e != STROM_OK)
        return e;
    e = stc_decoder_create(&t, columns, ncolumns, NULL, 0, &dec);
    proto_str cols[PROTO_MAX_COLUMNS];
    for (int i = 0; i < ncolumns; i++)
        cols[i] = proto_s(columns[i]);
    proto_msg m = {0}, r;
    m.req.key_history.table = proto_s(table);
    m.req.key_history.key = (proto_key){(uint32_t)nkey, (strom_value *)key};
    m.req.key_history.at_or_before = at_or_before;
    m.req.key_history.n = n;
    m.req.key_history.ncolumns = (uint32_t)ncolumns;
    m.req.key_history.columns = cols;
    strom_buf frame = {0};
    proto_arena arena = {0};
    if (e == STROM_OK)
        e = stc_roundtrip(c, PROTO_KEY_HISTORY, &m, 0, &frame, &arena, &r);
    if (e == STROM_OK)
        e = stc_decode_all(dec, &r.resp.key_history.records, out);
    strom_buf_free(&frame);
    proto_arena_free(&arena);
    stc_decoder_free(dec);
    stc_table_free(&t);
    return e;
}
