/* key.c: canonical key bytes (see format.h), equal for equal values from a column or a
 * strom_value. */
#include "fmt_int.h"

static strom_err put_int_key(strom_buf *out, int64_t v)
{
    uint8_t b[9] = {1};
    strom_put_i64(b + 1, v);
    return strom_buf_append(out, b, 9);
}

static strom_err put_f64_key(strom_buf *out, double d)
{
    uint8_t b[9] = {1};
    if (d == 0)
        d = 0.0; /* -0.0 and 0.0 are one key */
    memcpy(b + 1, &d, 8);
    return strom_buf_append(out, b, 9);
}

static strom_err put_str_key(strom_buf *out, const void *p, size_t len)
{
    if (len > UINT32_MAX)
        return strom_fail(STROM_ELIMIT, "key: value of %zu bytes is too long", len);
    uint8_t b[5] = {1};
    strom_put_u32(b + 1, (uint32_t)len);
    if (strom_buf_append(out, b, 5) != STROM_OK)
        return STROM_ENOMEM;
    return strom_buf_append(out, p, len);
}

static strom_err put_null_key(strom_buf *out)
{
    uint8_t z = 0;
    return strom_buf_append(out, &z, 1);
}

/* Integer value of row r of a fixed-width integer column. */
static int64_t column_int(const strom_column *c, int64_t r)
{
    switch (c->type) {
    case STROM_BOOLEAN: return fmt_bit(c->values, (uint64_t)r);
    case STROM_INT: return ((const int32_t *)c->values)[r];
    default: return ((const int64_t *)c->values)[r];
    }
}

strom_err fmt_key_from_column(strom_buf *out, const strom_column *c, int64_t row)
{
    if (row < 0 || row >= c->length)
        return strom_fail(STROM_EINVAL, "key: row %lld out of range", (long long)row);
    if (c->validity && !fmt_bit(c->validity, (uint64_t)row))
        return put_null_key(out);
    if (fmt_type_is_int(c->type))
        return put_int_key(out, column_int(c, row));
    if (c->type == STROM_FLOAT)
        return put_f64_key(out, ((const float *)c->values)[row]);
    if (c->type == STROM_DOUBLE)
        return put_f64_key(out, ((const double *)c->values)[row]);
    int32_t a = c->offsets[row], b = c->offsets[row + 1];
    return put_str_key(out, c->data + a, (size_t)(b - a));
}

strom_err fmt_key_from_value(strom_buf *out, strom_type col_type, const strom_value *v)
{
    if (v->is_null)
        return put_null_key(out);
    if (fmt_type_is_int(col_type) && fmt_type_is_int(v->type))
        return put_int_key(out, col_type == STROM_BOOLEAN ? v->v.i != 0 : v->v.i);
    if (col_type == STROM_FLOAT && fmt_type_is_float(v->type))
        return put_f64_key(out, (float)v->v.d);
    if (col_type == STROM_DOUBLE && fmt_type_is_float(v->type))
        return put_f64_key(out, v->v.d);
    if (fmt_type_is_var(col_type) && fmt_type_is_var(v->type))
        return put_str_key(out, v->v.s.ptr, v->v.s.len);
    if (fmt_type_is_float(col_type) && fmt_type_is_int(v->type))
        return put_f64_key(out, col_type == STROM_FLOAT ? (double)(float)v->v.i : (double)v->v.i);
    return strom_fail(STROM_ESCHEMA, "key: a %s value does not fit a %s column",
                      strom_type_name(v->type) ? strom_type_name(v->type) : "?",
                      strom_type_name(col_type) ? strom_type_name(col_type) : "?");
}

size_t fmt_key_to_value(const uint8_t *p, size_t len, strom_type col_type, strom_value *out)
{
    *out = (strom_value){.type = col_type};
    if (len < 1)
        return 0;
    if (p[0] == 0) {
        out->is_null = 1;
        return 1;
    }
    if (fmt_type_is_var(col_type)) {
        if (len < 5 || strom_get_u32(p + 1) > len - 5)
            return 0;
        out->v.s.ptr = (const char *)p + 5;
        out->v.s.len = strom_get_u32(p + 1);
        return 5 + out->v.s.len;
    }
    if (len < 9)
        return 0;
    if (fmt_type_is_float(col_type))
        memcpy(&out->v.d, p + 1, 8);
    else
        out->v.i = strom_get_i64(p + 1);
    return 9;
}
