/* fuzz_kv_row.c: libFuzzer target for what a primary-key table reads back from RocksDB
 * (layouts in src/kv/kv.h): row values (src/kv/row.c) and canonical key bytes
 * (fmt_key_to_value, src/format/key.c).
 * Input: byte 0 gives the column count (1 + b % 8), the next ncols bytes the column types
 * (all nullable), the rest is both a row value and a sequence of key columns.
 * Row value: kv_row_decode (into a builder) and kv_row_vals must agree on accept/reject
 * (a rejection says why) and on every value; an accepted value re-encodes through both
 * encoders (kv_row_encode from the builder's columns, kv_vals_encode from the values) to
 * the same bytes, which decode again to the same values (a fixed point).
 * Key bytes: read column after column with fmt_key_to_value; what reads re-encodes with
 * fmt_key_from_value to bytes that read back to the same values. Nothing may crash, leak or
 * read out of bounds (the input is copied to an exact-size buffer). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "kv/kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXC 8

static void check(int ok)
{
    if (!ok)
        abort();
}

static int same_f(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

static int same_val(strom_type t, const kv_val *a, const kv_val *b)
{
    if (a->null || b->null)
        return a->null == b->null;
    if (fmt_type_is_int(t))
        return a->i == b->i;
    if (fmt_type_is_float(t))
        return same_f(a->f, b->f);
    return a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, a->n) == 0);
}

/* Values of row 0 of builder bl (schema s) into vals. */
static void builder_vals(strom_builder *bl, const strom_schema *s, strom_column *cols,
                         kv_val *vals)
{
    for (int c = 0; c < s->ncols; c++)
        fmt_builder_view(bl, c, &cols[c]);
    kv_cols_vals(cols, s->ncols, 0, vals);
}

static void check_row(const strom_schema *s, const uint8_t *v, size_t len)
{
    strom_builder *bl = strom_builder_create(s);
    kv_val vals[MAXC], back[MAXC], again[MAXC];
    strom_err d = kv_row_decode(bl, s, v, len);
    check(d != STROM_OK ? strom_errmsg()[0] != '\0' : 1);
    strom_err e = kv_row_vals(s, v, len, vals);
    check((d == STROM_OK) == (e == STROM_OK));   /* the two decoders agree */
    if (d == STROM_OK) {
        strom_column cols[MAXC];
        builder_vals(bl, s, cols, back);
        for (int c = 0; c < s->ncols; c++)
            check(same_val(s->cols[c].type, &vals[c], &back[c]));
        strom_buf a = {0}, b = {0};
        check(kv_row_encode(&a, cols, s->ncols, 0) == STROM_OK);
        check(kv_vals_encode(&b, s, vals) == STROM_OK);
        check(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
        check(kv_row_vals(s, a.data, a.len, again) == STROM_OK);
        for (int c = 0; c < s->ncols; c++)
            check(same_val(s->cols[c].type, &vals[c], &again[c]));
        kv_times t;
        check(kv_row_times(a.data, a.len, &t) == 0 && t.wtime == 0 && t.newest == 0);
        strom_buf_free(&a);
        strom_buf_free(&b);
    }
    strom_builder_destroy(bl);
    strom_fail_clear();
}

static int same_value(const strom_value *a, const strom_value *b)
{
    if (a->is_null || b->is_null)
        return a->is_null == b->is_null;
    if (fmt_type_is_var(a->type))
        return a->v.s.len == b->v.s.len && memcmp(a->v.s.ptr, b->v.s.ptr, a->v.s.len) == 0;
    if (fmt_type_is_float(a->type))
        return same_f(a->v.d, b->v.d);
    return a->v.i == b->v.i;
}

/* Reads up to ncols key columns from p; re-encodes what was read; reads that again. */
static void check_key(const strom_schema *s, const uint8_t *p, size_t len)
{
    strom_value v[MAXC], w[MAXC];
    strom_buf enc = {0};
    size_t at = 0;
    int n = 0;
    for (; n < s->ncols; n++) {
        size_t k = fmt_key_to_value(p + at, len - at, s->cols[n].type, &v[n]);
        if (k == 0)
            break;
        check(k <= len - at);
        at += k;
        if (fmt_key_from_value(&enc, s->cols[n].type, &v[n]) != STROM_OK)
            break;  /* e.g. a BOOLEAN column's 2: not a value of the column */
    }
    size_t pos = 0;
    for (int c = 0; c < n; c++) {
        size_t k = fmt_key_to_value(enc.data + pos, enc.len - pos, s->cols[c].type, &w[c]);
        check(k > 0);
        pos += k;
        /* a FLOAT column keeps binary32 values; what was read as a wider double narrows */
        if (s->cols[c].type == STROM_FLOAT && !v[c].is_null)
            v[c].v.d = (float)v[c].v.d;
        if (!v[c].is_null && fmt_type_is_float(s->cols[c].type) && v[c].v.d == 0)
            v[c].v.d = 0.0;
        if (s->cols[c].type == STROM_BOOLEAN && !v[c].is_null)
            v[c].v.i = v[c].v.i != 0;
        check(same_value(&v[c], &w[c]));
    }
    check(pos == enc.len);
    strom_buf_free(&enc);
    strom_fail_clear();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int ncols = 1 + data[0] % MAXC;
    if (size < 1 + (size_t)ncols)
        return 0;
    strom_schema *s = strom_schema_create();
    for (int c = 0; c < ncols; c++) {
        char name[8];
        snprintf(name, sizeof name, "c%d", c);
        strom_schema_add(s, name, (strom_type)(1 + data[1 + c] % 8), 0);
    }
    size_t len = size - 1 - (size_t)ncols;
    uint8_t *v = malloc(len ? len : 1);   /* exact size: ASan sees any overread */
    memcpy(v, data + 1 + ncols, len);
    check_row(s, v, len);
    check_key(s, v, len);
    free(v);
    strom_schema_destroy(s);
    return 0;
}
