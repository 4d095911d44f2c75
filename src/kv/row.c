/* row.c: the compact row value stored in RocksDB (layout in kv.h). */
#include "kv.h"

static int col_valid(const strom_column *c, int64_t r)
{
    return !c->validity || (c->validity[r >> 3] >> (r & 7)) & 1;
}

static int64_t col_int(const strom_column *c, int64_t r)
{
    switch (c->type) {
    case STROM_BOOLEAN: return (((const uint8_t *)c->values)[r >> 3] >> (r & 7)) & 1;
    case STROM_INT: return ((const int32_t *)c->values)[r];
    default: return ((const int64_t *)c->values)[r];
    }
}

static strom_err put_uvarint(strom_buf *out, uint64_t v)
{
    uint8_t *p = strom_buf_grow(out, 10);
    if (!p)
        return STROM_ENOMEM;
    out->len -= 10 - strom_put_uvarint(p, v);
    return STROM_OK;
}

static strom_err encode_value(strom_buf *out, const strom_column *c, int64_t r)
{
    if (c->type == STROM_BOOLEAN) {
        uint8_t b = (uint8_t)col_int(c, r);
        return strom_buf_append(out, &b, 1);
    }
    if (fmt_type_is_int(c->type))
        return put_uvarint(out, strom_zigzag(col_int(c, r)));
    if (c->type == STROM_FLOAT)
        return strom_buf_append(out, (const float *)c->values + r, 4);
    if (c->type == STROM_DOUBLE)
        return strom_buf_append(out, (const double *)c->values + r, 8);
    int32_t a = c->offsets[r], b = c->offsets[r + 1];
    strom_err e = put_uvarint(out, (uint64_t)(b - a));
    return e ? e : strom_buf_append(out, c->data + a, (size_t)(b - a));
}

/* Appends the version, zero times, ncols and a zeroed validity bitmap; *at = where the
 * bitmap is. */
static strom_err row_header(strom_buf *out, int ncols, size_t *at)
{
    uint8_t *h = strom_buf_grow(out, KV_ROW_HDR);
    if (!h)
        return STROM_ENOMEM;
    memset(h, 0, KV_ROW_HDR);
    h[0] = KV_ROW_VERSION;
    strom_err e = put_uvarint(out, (uint64_t)ncols);
    size_t nb = ((size_t)ncols + 7) / 8;
    *at = out->len;
    uint8_t *bm = e ? NULL : strom_buf_grow(out, nb);
    if (!bm)
        return STROM_ENOMEM;
    memset(bm, 0, nb);
    return STROM_OK;
}

strom_err kv_row_encode(strom_buf *out, const strom_column *cols, int ncols, int64_t r)
{
    size_t at = 0;
    strom_err e = row_header(out, ncols, &at);
    for (int i = 0; i < ncols && e == STROM_OK; i++) {
        if (!col_valid(&cols[i], r))
            continue;
        out->data[at + (size_t)i / 8] |= (uint8_t)(1u << (i & 7));
        e = encode_value(out, &cols[i], r);
    }
    return e;
}

typedef struct rd {
    const uint8_t *p, *end;
} rd;

static int rd_varint(rd *d, uint64_t *v)
{
    size_t n = strom_get_uvarint(d->p, (size_t)(d->end - d->p), v);
    d->p += n;
    return n ? 0 : -1;
}

static int rd_take(rd *d, size_t n, const uint8_t **p)
{
    if ((size_t)(d->end - d->p) < n)
        return -1;
    *p = d->p;
    d->p += n;
    return 0;
}

/* Reads one present value of type t into v (strings point into the value). */
static int read_val(rd *d, strom_type t, kv_val *v)
{
    const uint8_t *p;
    uint64_t u;
    if (t == STROM_BOOLEAN) {
        if (rd_take(d, 1, &p) || p[0] > 1)
            return -1;
        v->i = p[0];
    } else if (fmt_type_is_int(t)) {
        if (rd_varint(d, &u))
            return -1;
        v->i = strom_unzigzag(u);
        if (t == STROM_INT && (v->i < INT32_MIN || v->i > INT32_MAX))
            return -1;   /* no INT column holds it: a corrupt value, as the builder says */
    } else if (t == STROM_FLOAT) {
        float f;
        if (rd_take(d, 4, &p))
            return -1;
        memcpy(&f, p, 4);
        v->f = f;
    } else if (t == STROM_DOUBLE) {
        if (rd_take(d, 8, &p))
            return -1;
        memcpy(&v->f, p, 8);
    } else {
        if (rd_varint(d, &u) || u > (uint64_t)(d->end - d->p) || rd_take(d, (size_t)u, &p))
            return -1;
        v->p = p;
        v->n = (size_t)u;
    }
    return 0;
}

/* Reads one present value of type t and puts it into column i of b. */
static int decode_value(rd *d, strom_builder *b, int i, strom_type t)
{
    kv_val v = {0};
    if (read_val(d, t, &v))
        return -1;
    if (fmt_type_is_int(t))
        return strom_builder_put_int(b, i, v.i) ? -1 : 0;
    if (t == STROM_FLOAT || t == STROM_DOUBLE)
        return strom_builder_put_f64(b, i, v.f) ? -1 : 0;
    return strom_builder_put_str(b, i, v.p, v.n) ? -1 : 0;
}

/* Checks the version and reads ncols and the validity bitmap; d is then at the values. */
static strom_err read_header(const strom_schema *s, const uint8_t *v, size_t len, rd *d,
                             uint64_t *ncols, const uint8_t **bm)
{
    *d = (rd){v, v + len};
    size_t skip = len && v[0] == KV_ROW_VERSION ? KV_ROW_HDR : 1;
    if (len < skip || (v[0] != KV_ROW_VERSION && v[0] != 1) ||
        (d->p += skip, rd_varint(d, ncols)) ||
        *ncols > (uint64_t)s->ncols || rd_take(d, ((size_t)*ncols + 7) / 8, bm))
        return strom_fail(STROM_ECORRUPT, "kv: malformed row value header (%zu bytes)", len);
    return STROM_OK;
}

strom_err kv_row_decode(strom_builder *b, const strom_schema *s, const uint8_t *v, size_t len)
{
    rd d;
    uint64_t ncols = 0;
    const uint8_t *bm = NULL;
    strom_err e = read_header(s, v, len, &d, &ncols, &bm);
    if (e != STROM_OK)
        return e;
    for (int i = 0; i < s->ncols; i++) {
        int present = (uint64_t)i < ncols && (bm[i / 8] >> (i & 7)) & 1;
        int bad = present ? decode_value(&d, b, i, s->cols[i].type)
                          : strom_builder_put_null(b, i) != STROM_OK;
        if (bad) {
            (void)strom_builder_end_row(b); /* discards the half row */
            return strom_fail(STROM_ECORRUPT, "kv: malformed row value at column '%s'",
                              s->cols[i].name);
        }
    }
    return strom_builder_end_row(b);
}

int kv_row_times(const uint8_t *v, size_t len, kv_times *t)
{
    if (len < KV_ROW_HDR || v[0] != KV_ROW_VERSION)
        return -1;
    t->wtime = strom_get_i64(v + 1);
    t->vtime = strom_get_i64(v + 9);
    t->newest = strom_get_i64(v + 17);
    return 0;
}

void kv_row_set_times(uint8_t *v, const kv_times *t)
{
    strom_put_i64(v + 1, t->wtime);
    strom_put_i64(v + 9, t->vtime);
    strom_put_i64(v + 17, t->newest);
}

/* ------------------------------------------------- rows as value arrays */

strom_err kv_row_vals(const strom_schema *s, const uint8_t *v, size_t len, kv_val *vals)
{
    rd d;
    uint64_t ncols = 0;
    const uint8_t *bm = NULL;
    strom_err e = read_header(s, v, len, &d, &ncols, &bm);
    if (e != STROM_OK)
        return e;
    for (int i = 0; i < s->ncols; i++) {
        memset(&vals[i], 0, sizeof vals[i]);
        vals[i].null = !((uint64_t)i < ncols && (bm[i / 8] >> (i & 7)) & 1);
        if (!vals[i].null && read_val(&d, s->cols[i].type, &vals[i]))
            return strom_fail(STROM_ECORRUPT, "kv: malformed row value at column '%s'",
                              s->cols[i].name);
    }
    return STROM_OK;
}

void kv_cols_vals(const strom_column *cols, int ncols, int64_t r, kv_val *vals)
{
    for (int i = 0; i < ncols; i++) {
        const strom_column *c = &cols[i];
        kv_val *v = &vals[i];
        memset(v, 0, sizeof *v);
        v->null = !col_valid(c, r);
        if (v->null)
            continue;
        if (fmt_type_is_int(c->type))
            v->i = col_int(c, r);
        else if (c->type == STROM_FLOAT)
            v->f = ((const float *)c->values)[r];
        else if (c->type == STROM_DOUBLE)
            v->f = ((const double *)c->values)[r];
        else {
            v->p = c->data + c->offsets[r];
            v->n = (size_t)(c->offsets[r + 1] - c->offsets[r]);
        }
    }
}

strom_err kv_vals_encode(strom_buf *out, const strom_schema *s, const kv_val *vals)
{
    int ncols = s->ncols;
    size_t at = 0;
    strom_err e = row_header(out, ncols, &at);
    for (int i = 0; i < ncols && e == STROM_OK; i++) {
        const kv_val *v = &vals[i];
        strom_type t = s->cols[i].type;
        if (v->null)
            continue;
        out->data[at + (size_t)i / 8] |= (uint8_t)(1u << (i & 7));
        if (t == STROM_BOOLEAN) {
            uint8_t b = v->i != 0;
            e = strom_buf_append(out, &b, 1);
        } else if (fmt_type_is_int(t)) {
            e = put_uvarint(out, strom_zigzag(v->i));
        } else if (t == STROM_FLOAT) {
            float f = (float)v->f;
            e = strom_buf_append(out, &f, 4);
        } else if (t == STROM_DOUBLE) {
            e = strom_buf_append(out, &v->f, 8);
        } else {
            e = put_uvarint(out, v->n);
            if (e == STROM_OK && v->n)
                e = strom_buf_append(out, v->p, v->n);
        }
    }
    return e;
}
