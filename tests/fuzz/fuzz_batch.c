/* fuzz_batch.c: libFuzzer target for the record batch (src/format).
 * First input byte even: the rest is a batch: fmt_hdr_need, fmt_hdr_parse, decode every
 * column without the CRC check (so mutations reach the decoders), then fmt_batch_verify.
 * Odd: the rest drives a random builder (schema, rows, values, codec, block size,
 * selection) that is encoded, verified, decoded (whole columns and point reads) and
 * compared value by value; a mismatch aborts. Point reads of chosen rows run on every
 * mutated batch too (blocked chunks decode only some blocks there). */
#include <stdio.h>
#include <stdlib.h>

#include "format/format.h"

static fmt_dir dirs[FMT_MAX_COLUMNS];
static fmt_decoder *g_dec;   /* process-lifetime decoder state, reused like a reader's */
static strom_batch *g_batch;

static void init_state(void)
{
    if (!g_dec) {
        g_dec = fmt_decoder_create();
        g_batch = fmt_batch_create(8);
    }
}

static void decode_batch(const uint8_t *p, size_t len)
{
    fmt_hdr h;
    (void)fmt_hdr_need(p, len);
    if (fmt_hdr_parse(p, len, &h, dirs) != STROM_OK || 12 + (size_t)h.length > len)
        return;
    if (fmt_batch_reset(g_batch, &h, h.ncols) != STROM_OK)
        return;
    uint32_t rows[3] = {h.nrows - 1, 0, h.nrows / 2}; /* point reads, as key history does */
    for (int c = 0; c < h.ncols; c++) {
        strom_column one;
        (void)fmt_decode_rows(g_dec, &dirs[c], p + dirs[c].data_offset, h.nrows, rows, 3,
                              g_batch, "c", &one);
        if (fmt_decode_column(g_dec, &dirs[c], p + dirs[c].data_offset, h.nrows, g_batch, "c",
                              &g_batch->cols[c]) != STROM_OK)
            return;
    }
    (void)fmt_batch_verify(p, len, &h, dirs);
}

typedef struct src {
    const uint8_t *p;
    size_t len, pos;
} src;

static uint64_t take(src *s, int nbytes)
{
    uint64_t v = 0;
    for (int i = 0; i < nbytes; i++)
        v |= (uint64_t)(s->pos < s->len ? s->p[s->pos++] : 0) << (8 * i);
    return v;
}

static void put_random(strom_builder *b, int col, strom_type t, src *s)
{
    uint8_t kind = (uint8_t)take(s, 1);
    if ((kind & 7) == 0 && strom_builder_put_null(b, col) == STROM_OK)
        return;
    if (t == STROM_BOOLEAN)
        strom_builder_put_int(b, col, kind >> 7);
    else if (t == STROM_INT)
        strom_builder_put_int(b, col, (int32_t)(uint32_t)take(s, 1 + (kind >> 6)));
    else if (t == STROM_BIGINT || t == STROM_TIMESTAMP)
        strom_builder_put_int(b, col, (int64_t)take(s, 1 + (kind >> 5)));
    else if (t == STROM_FLOAT || t == STROM_DOUBLE) {
        uint64_t bits = take(s, 8);
        double d;
        memcpy(&d, &bits, 8);
        strom_builder_put_f64(b, col, kind & 8 ? (double)(int64_t)(bits % 100000) / 1000 : d);
    } else {
        size_t n = (kind >> 4) % 12, avail = s->len - s->pos;
        n = n > avail ? avail : n;
        strom_builder_put_str(b, col, s->p + s->pos, n);
        s->pos += n;
    }
}

static int same_cell(const strom_column *a, int64_t ra, const strom_column *b, int64_t rb)
{
    int va = !a->validity || ((a->validity[ra >> 3] >> (ra & 7)) & 1);
    int vb = !b->validity || ((b->validity[rb >> 3] >> (rb & 7)) & 1);
    if (va != vb || !va)
        return va == vb;
    if (a->type == STROM_BOOLEAN)
        return ((((const uint8_t *)a->values)[ra >> 3] >> (ra & 7)) & 1) ==
               ((((const uint8_t *)b->values)[rb >> 3] >> (rb & 7)) & 1);
    if (a->offsets) {
        int32_t la = a->offsets[ra + 1] - a->offsets[ra], lb = b->offsets[rb + 1] - b->offsets[rb];
        return la == lb && memcmp(a->data + a->offsets[ra], b->data + b->offsets[rb], (size_t)la) == 0;
    }
    size_t w = (size_t)fmt_type_width(a->type);
    return memcmp((const uint8_t *)a->values + ra * (int64_t)w,
                  (const uint8_t *)b->values + rb * (int64_t)w, w) == 0;
}

static void check_roundtrip(const strom_builder *bl, const uint32_t *sel, size_t nsel,
                            const uint8_t *p, size_t len)
{
    fmt_hdr h;
    if (fmt_batch_verify(p, len, &h, dirs) != STROM_OK || fmt_batch_reset(g_batch, &h, h.ncols))
        abort();
    for (int c = 0; c < h.ncols; c++) {
        strom_column want;
        fmt_builder_view(bl, c, &want);
        if (fmt_decode_column(g_dec, &dirs[c], p + dirs[c].data_offset, h.nrows, g_batch, "c",
                              &g_batch->cols[c]) != STROM_OK)
            abort();
        for (size_t r = 0; r < nsel; r++)
            if (!same_cell(&g_batch->cols[c], (int64_t)r, &want, sel[r]))
                abort();
        uint32_t rows[2] = {h.nrows - 1, h.nrows / 3}; /* point reads give the same values */
        strom_column one;
        if (fmt_decode_rows(g_dec, &dirs[c], p + dirs[c].data_offset, h.nrows, rows, 2, g_batch,
                            "c", &one) != STROM_OK)
            abort();
        for (int k = 0; k < 2; k++)
            if (!same_cell(&one, k, &g_batch->cols[c], rows[k]))
                abort();
    }
}

static void roundtrip(const uint8_t *p, size_t len)
{
    src s = {p, len, 0};
    int ncols = 1 + (int)(take(&s, 1) % 8), nrows = 1 + (int)(take(&s, 1) % 64);
    strom_schema *sc = strom_schema_create();
    for (int c = 0; c < ncols; c++) {
        char name[8];
        snprintf(name, sizeof name, "c%d", c);
        strom_schema_add(sc, name, (strom_type)(1 + take(&s, 1) % 8), 0);
    }
    strom_builder *b = strom_builder_create(sc);
    for (int r = 0; r < nrows; r++) {
        for (int c = 0; c < ncols; c++)
            put_random(b, c, strom_schema_col_type(sc, c), &s);
        if (strom_builder_end_row(b) != STROM_OK)
            abort();
    }
    uint32_t sel[128];
    size_t nsel = (size_t)nrows;
    for (size_t i = 0; i < nsel; i++)
        sel[i] = (uint32_t)i;
    uint8_t mode = (uint8_t)take(&s, 1);
    if (mode & 1) {
        nsel = 1 + take(&s, 1) % 128;
        for (size_t i = 0; i < nsel; i++)
            sel[i] = (uint32_t)(take(&s, 1) % (uint64_t)nrows);
    }
    fmt_encode_opts o;
    fmt_encode_opts_init(&o);
    o.codec = (mode >> 1) % 3;
    o.plain_only = (mode >> 3) & 1;
    o.block_size = (mode >> 4) & 1 ? 64u << ((mode >> 5) & 3) : 0; /* blocked chunks */
    static fmt_encoder *e;
    if (!e)
        e = fmt_encoder_create();
    strom_buf out = {0};
    if (fmt_encode(e, b, (mode & 1) ? sel : NULL, nsel, &o, &out) != STROM_OK)
        abort();
    check_roundtrip(b, sel, nsel, out.data, out.len);
    strom_buf_free(&out);
    strom_builder_destroy(b);
    strom_schema_destroy(sc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    init_state();
    if (data[0] & 1)
        roundtrip(data + 1, size - 1);
    else
        decode_batch(data + 1, size - 1);
    return 0;
}
