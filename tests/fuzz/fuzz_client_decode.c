/* fuzz_client_decode.c: libFuzzer target for the client library's decoding of the record
 * batches a server sends (src/client/decode.c: stc_decode_batch, stc_decode_all), with a
 * projection and a row filter, as `strom tail --columns --where` and the subscriber use.
 * Input: byte 0 configures the decoder (bits 0-1 projection: all, the last column, the
 * first two reversed, the first; bit 2: a filter on column 0 with operator bits 3-5;
 * bit 6: the table's schema is read from the first batch's directory (so the batch fits
 * it), else a fixed one), bytes 1-2 the length of the first batch, the rest is the first
 * batch and then a second one. The CRCs of each batch are recomputed before decoding (a
 * server's bytes pass them anyway), so mutations reach the column decoders.
 * Never a crash, leak or overread; a refusal says why; a decoded batch has the projected
 * columns with the schema's types, no more rows than the batch header says, and only rows
 * that pass the filter. */
#include <stdio.h>
#include <stdlib.h>

#include "client/client_int.h"
#include "fuzz_seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

/* The table's schema: the first batch's column types (at most 8), or a fixed one. */
static strom_schema *table_schema(const uint8_t *p, size_t len, int from_batch)
{
    strom_schema *s = strom_schema_create();
    int n = from_batch && len >= FMT_HEADER_SIZE ? strom_get_u16(p + 26) : 0;
    n = n > 8 ? 8 : n;
    for (int c = 0; c < n && FMT_HEADER_SIZE + FMT_DIR_ENTRY_SIZE * (size_t)(c + 1) <= len; c++) {
        char name[8];
        snprintf(name, sizeof name, "c%d", c);
        strom_type t = (strom_type)p[FMT_HEADER_SIZE + FMT_DIR_ENTRY_SIZE * c];
        if (strom_schema_add(s, name, t >= 1 && t <= 8 ? t : STROM_BIGINT, 0) != STROM_OK)
            break;
    }
    if (strom_schema_ncols(s) == 0) {
        strom_schema_add(s, "dev", STROM_STRING, 0);
        strom_schema_add(s, "ts", STROM_TIMESTAMP, 0);
        strom_schema_add(s, "v", STROM_DOUBLE, 0);
    }
    strom_fail_clear();
    return s;
}

/* A filter value of column 0's type. */
static strom_value pred_value(strom_type t)
{
    strom_value v = {.type = t};
    if (fmt_type_is_var(t))
        v.v.s.ptr = "d1", v.v.s.len = 2;
    else if (fmt_type_is_float(t))
        v.v.d = 0.5;
    else
        v.v.i = t == STROM_BOOLEAN ? 1 : 3;
    return v;
}

/* Does a comparison with result cmp (<0, 0, >0) satisfy op? */
static int op_holds(strom_op op, int cmp)
{
    static const uint8_t holds[6][3] = {   /* [op][cmp + 1] for cmp < 0, == 0, > 0 */
        [STROM_OP_EQ] = {0, 1, 0}, [STROM_OP_NE] = {1, 0, 1}, [STROM_OP_LT] = {1, 0, 0},
        [STROM_OP_LE] = {1, 1, 0}, [STROM_OP_GT] = {0, 0, 1}, [STROM_OP_GE] = {0, 1, 1}};
    return holds[op][(cmp > 0) - (cmp < 0) + 1];
}

/* Does row r of c satisfy p? The rule of format.h (fmt_dir_may_match), computed here on
 * its own: NULL never; NaN only for NE; integers as integers; strings bytewise, a proper
 * prefix first. */
static int pass(const strom_column *c, int64_t r, const strom_pred *p)
{
    if (c->validity && !((c->validity[r >> 3] >> (r & 7)) & 1))
        return 0;
    if (c->type == STROM_FLOAT || c->type == STROM_DOUBLE) {
        double x = c->type == STROM_FLOAT ? ((const float *)c->values)[r]
                                          : ((const double *)c->values)[r];
        if (x != x)
            return p->op == STROM_OP_NE;
        return op_holds(p->op, (x > p->value.v.d) - (x < p->value.v.d));
    }
    if (c->offsets) {
        size_t n = (size_t)(c->offsets[r + 1] - c->offsets[r]), m = p->value.v.s.len;
        int k = memcmp(c->data + c->offsets[r], p->value.v.s.ptr, n < m ? n : m);
        return op_holds(p->op, k ? k : (n > m) - (n < m));
    }
    int64_t x = c->type == STROM_BOOLEAN ? (((const uint8_t *)c->values)[r >> 3] >> (r & 7)) & 1
                : c->type == STROM_INT  ? ((const int32_t *)c->values)[r]
                                        : ((const int64_t *)c->values)[r];
    return op_holds(p->op, (x > p->value.v.i) - (x < p->value.v.i));
}

static void check_batch(const strom_batch *b, const strom_schema *s, const int *proj,
                        int nproj, const strom_pred *pred, int pred_col_out, uint32_t max_rows)
{
    check(strom_batch_ncols(b) == nproj && strom_batch_nrows(b) <= (int64_t)max_rows);
    for (int j = 0; j < nproj; j++) {
        strom_column c;
        check(strom_batch_column(b, j, &c) == STROM_OK);
        check(c.type == strom_schema_col_type(s, proj[j]) && c.length == strom_batch_nrows(b));
    }
    if (!pred || pred_col_out < 0)
        return;
    strom_column c;
    strom_batch_column(b, pred_col_out, &c);
    for (int64_t r = 0; r < c.length; r++)
        check(pass(&c, r, pred));
}

static void run(const uint8_t *cfgp, uint8_t *b1, size_t l1, uint8_t *b2, size_t l2)
{
    uint8_t cfg = cfgp[0];
    strom_schema *s = table_schema(b1, l1, cfg & 64);
    int ns = strom_schema_ncols(s);
    const char *names[2];
    int proj[2], nproj = 0, mode = cfg & 3;
    if (mode == 1)
        proj[nproj++] = ns - 1;
    else if (mode == 2 && ns >= 2)
        proj[nproj++] = 1, proj[nproj++] = 0;
    else if (mode == 3)
        proj[nproj++] = 0;
    for (int j = 0; j < nproj; j++)
        names[j] = strom_schema_col_name(s, proj[j]);
    strom_pred pred = {.column = strom_schema_col_name(s, 0), .op = (strom_op)((cfg >> 3) & 7),
                       .value = pred_value(strom_schema_col_type(s, 0))};
    int with_pred = (cfg & 4) && pred.op >= STROM_OP_EQ && pred.op <= STROM_OP_GE;
    strom_table_info info = {.name = "t", .schema_id = 1, .nbuckets = 1, .schema = s};
    stc_table t = {.info = &info, .name = "t"};
    stc_decoder *d = NULL;
    strom_err e = stc_decoder_create(&t, nproj ? names : NULL, nproj, with_pred ? &pred : NULL,
                                     with_pred, &d);
    check(e == STROM_OK);
    int all[8], pred_out = -1;
    if (nproj == 0)
        for (int c = 0; c < ns; c++)
            all[c] = c;
    const int *pj = nproj ? proj : all;
    int np = nproj ? nproj : ns;
    for (int j = 0; j < np; j++)
        if (pj[j] == 0 && pred_out < 0)
            pred_out = j;
    uint8_t *bs[2] = {b1, b2};
    size_t ls[2] = {l1, l2};
    for (int i = 0; i < 2; i++) {
        const strom_batch *out = NULL;
        int64_t last = 0;
        if (stc_decode_batch(d, bs[i], ls[i], 0, &out, &last) == STROM_OK)
            check_batch(out, s, pj, np, with_pred ? &pred : NULL, pred_out,
                        strom_get_u32(bs[i] + 32));
        else
            check(strom_errmsg()[0] != '\0');
    }
    proto_bytes pb[2] = {{b1, (uint32_t)l1}, {b2, (uint32_t)l2}};
    proto_records rec = {.batches = pb, .nbatches = l2 ? 2 : 1};
    strom_batch *all_out = NULL;
    if (stc_decode_all(d, &rec, &all_out) == STROM_OK && all_out)
        check_batch(all_out, s, pj, np, with_pred ? &pred : NULL, pred_out, UINT32_MAX);
    strom_batch_destroy(all_out);
    stc_decoder_free(d);
    strom_schema_destroy(s);
    strom_fail_clear();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t rest = size - 3, l1 = strom_get_u16(data + 1);
    l1 = l1 > rest ? rest : l1;
    size_t l2 = rest - l1;
    uint8_t *b1 = malloc(l1 ? l1 : 1), *b2 = malloc(l2 ? l2 : 1);   /* exact sizes */
    memcpy(b1, data + 3, l1);
    memcpy(b2, data + 3 + l1, l2);
    fuzz_seal_batch(b1, l1);
    fuzz_seal_batch(b2, l2);
    run(data, b1, l1, b2, l2);
    free(b1);
    free(b2);
    return 0;
}
