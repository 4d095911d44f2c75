/* builder.c: row builders (strom_builder_*): one Arrow-layout fmt_vec per column, grown
 * geometrically (strom_buf), with a per-row completeness check. */
#include "fmt_int.h"

#include <stdlib.h>

strom_builder *strom_builder_create(const strom_schema *s)
{
    strom_builder *b = strom_calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->schema = fmt_schema_clone(s);
    b->cols = strom_calloc((size_t)(s->ncols ? s->ncols : 1), sizeof(fmt_vec));
    if (!b->schema || !b->cols) {
        strom_builder_destroy(b);
        return NULL;
    }
    for (int i = 0; i < s->ncols; i++)
        b->cols[i].type = s->cols[i].type;
    strom_builder_reset(b);
    return b;
}

void strom_builder_destroy(strom_builder *b)
{
    if (!b)
        return;
    for (int i = 0; b->schema && i < b->schema->ncols; i++) {
        strom_buf_free(&b->cols[i].validity);
        strom_buf_free(&b->cols[i].values);
        strom_buf_free(&b->cols[i].offsets);
        strom_buf_free(&b->cols[i].data);
    }
    free(b->cols);
    strom_schema_destroy(b->schema);
    free(b);
}

void strom_builder_reset(strom_builder *b)
{
    static const int32_t zero = 0;
    for (int i = 0; i < b->schema->ncols; i++) {
        fmt_vec *v = &b->cols[i];
        v->validity.len = v->values.len = v->offsets.len = v->data.len = 0;
        v->length = v->null_count = 0;
        if (fmt_type_is_var(v->type)) { /* cap >= 256 after the first call: cannot fail */
            strom_buf_append(&v->offsets, &zero, 4);
            strom_buf_reserve(&v->data, 1); /* data is never NULL */
        }
    }
    b->nrows = 0;
}

int64_t strom_builder_nrows(const strom_builder *b) { return b->nrows; }
const strom_schema *fmt_builder_schema(const strom_builder *b) { return b->schema; }

static strom_err bad_put(const strom_builder *b, int col)
{
    if (col < 0 || col >= b->schema->ncols)
        return strom_fail(STROM_EINVAL, "builder: column index %d out of range [0, %d)", col,
                          b->schema->ncols);
    return strom_fail(STROM_ESCHEMA, "builder: column '%s' got two values in row %lld",
                      b->schema->cols[col].name, (long long)b->nrows);
}

/* The vector of col if col is valid and has no value yet in the open row, else NULL. */
static inline fmt_vec *put_target(strom_builder *b, int col)
{
    if (STROM_UNLIKELY(col < 0 || col >= b->schema->ncols))
        return NULL;
    fmt_vec *v = &b->cols[col];
    return STROM_LIKELY(v->length == b->nrows) ? v : NULL;
}

/* Appends bit number len (value bit) to a bit-packed buffer holding len bits. */
static inline strom_err push_bit(strom_buf *bm, int64_t len, int bit)
{
    if ((len & 7) == 0) {
        if (STROM_UNLIKELY(bm->len == bm->cap) && strom_buf_reserve(bm, 1))
            return strom_fail(STROM_ENOMEM, "builder: out of memory");
        bm->data[bm->len++] = 0;
    }
    bm->data[bm->len - 1] |= (uint8_t)(bit << (len & 7));
    return STROM_OK;
}

/* Closes the slot just filled: validity bit, counts. */
static inline strom_err push_valid(fmt_vec *v, int valid)
{
    if (STROM_UNLIKELY(push_bit(&v->validity, v->length, valid)))
        return STROM_ENOMEM;
    v->null_count += !valid;
    v->length++;
    return STROM_OK;
}

static inline strom_err push_fixed(fmt_vec *v, const void *p, size_t w)
{
    if (STROM_UNLIKELY(v->values.cap - v->values.len < w) && strom_buf_reserve(&v->values, w))
        return strom_fail(STROM_ENOMEM, "builder: out of memory");
    memcpy(v->values.data + v->values.len, p, w);
    v->values.len += w;
    return STROM_OK;
}

static inline strom_err push_var(fmt_vec *v, const void *s, size_t n)
{
    int32_t end = (int32_t)(v->data.len + n);
    if (strom_buf_append(&v->data, s, n) || strom_buf_append(&v->offsets, &end, 4))
        return strom_fail(STROM_ENOMEM, "builder: out of memory");
    return STROM_OK;
}

/* Appends the value slot of a NULL (zero / empty). */
static strom_err push_zero(fmt_vec *v)
{
    static const uint8_t zero[8];
    if (v->type == STROM_BOOLEAN)
        return push_bit(&v->values, v->length, 0);
    if (fmt_type_is_var(v->type))
        return push_var(v, zero, 0);
    return push_fixed(v, zero, (size_t)fmt_type_width(v->type));
}

static strom_err type_mismatch(const strom_builder *b, int col, const char *what)
{
    const fmt_column_def *c = &b->schema->cols[col];
    return strom_fail(STROM_ESCHEMA, "builder: column '%s' is %s, cannot take %s value", c->name,
                      strom_type_name(c->type), what);
}

static strom_err int_out_of_range(const strom_builder *b, int col, int64_t x)
{
    const fmt_column_def *c = &b->schema->cols[col];
    if (c->type == STROM_INT || c->type == STROM_BOOLEAN)
        return strom_fail(STROM_ESCHEMA, "builder: column '%s' is %s, %lld is out of range",
                          c->name, strom_type_name(c->type), (long long)x);
    return type_mismatch(b, col, "an integer");
}

strom_err strom_builder_put_int(strom_builder *b, int col, int64_t x)
{
    fmt_vec *v = put_target(b, col);
    if (STROM_UNLIKELY(!v))
        return bad_put(b, col);
    strom_err err;
    if (STROM_LIKELY(v->type == STROM_BIGINT || v->type == STROM_TIMESTAMP))
        err = push_fixed(v, &x, 8);
    else if (v->type == STROM_INT && x >= INT32_MIN && x <= INT32_MAX) {
        int32_t y = (int32_t)x;
        err = push_fixed(v, &y, 4);
    } else if (v->type == STROM_BOOLEAN && (x == 0 || x == 1))
        err = push_bit(&v->values, v->length, (int)x);
    else
        return int_out_of_range(b, col, x);
    return err ? err : push_valid(v, 1);
}

strom_err strom_builder_put_f64(strom_builder *b, int col, double x)
{
    fmt_vec *v = put_target(b, col);
    if (STROM_UNLIKELY(!v))
        return bad_put(b, col);
    strom_err err;
    if (STROM_LIKELY(v->type == STROM_DOUBLE))
        err = push_fixed(v, &x, 8);
    else if (v->type == STROM_FLOAT) {
        float f = (float)x;
        err = push_fixed(v, &f, 4);
    } else
        return type_mismatch(b, col, "a floating-point");
    return err ? err : push_valid(v, 1);
}

strom_err strom_builder_put_str(strom_builder *b, int col, const void *p, size_t len)
{
    fmt_vec *v = put_target(b, col);
    if (STROM_UNLIKELY(!v))
        return bad_put(b, col);
    if (STROM_UNLIKELY(!fmt_type_is_var(v->type)))
        return type_mismatch(b, col, "a string");
    if (STROM_UNLIKELY(len > FMT_MAX_BATCH_BYTES || v->data.len + len > INT32_MAX))
        return strom_fail(STROM_ELIMIT, "builder: column '%s' would exceed 2 GiB of bytes",
                          b->schema->cols[col].name);
    strom_err err = push_var(v, p, len);
    return err ? err : push_valid(v, 1);
}

strom_err strom_builder_put_null(strom_builder *b, int col)
{
    fmt_vec *v = put_target(b, col);
    if (STROM_UNLIKELY(!v))
        return bad_put(b, col);
    if (b->schema->cols[col].not_null)
        return strom_fail(STROM_ESCHEMA, "builder: column '%s' is NOT NULL, cannot take NULL",
                          b->schema->cols[col].name);
    strom_err err = push_zero(v);
    return err ? err : push_valid(v, 0);
}

strom_err strom_builder_put_value(strom_builder *b, int col, const strom_value *x)
{
    if (!x || x->is_null)
        return strom_builder_put_null(b, col);
    if (fmt_type_is_int(x->type))
        return strom_builder_put_int(b, col, x->v.i);
    if (fmt_type_is_float(x->type))
        return strom_builder_put_f64(b, col, x->v.d);
    if (fmt_type_is_var(x->type))
        return strom_builder_put_str(b, col, x->v.s.ptr, x->v.s.len);
    return strom_fail(STROM_EINVAL, "builder: value has unknown type code %d", (int)x->type);
}

/* Removes the value of the open row from v (v->length == row + 1). */
static void pop_slot(fmt_vec *v, int64_t row)
{
    if (!fmt_bit(v->validity.data, (uint64_t)row))
        v->null_count--;
    fmt_bit_clear(v->validity.data, (uint64_t)row);
    v->validity.len = fmt_bm_bytes((uint64_t)row);
    if (v->type == STROM_BOOLEAN)
        v->values.len = fmt_bm_bytes((uint64_t)row);
    else if (fmt_type_is_var(v->type)) {
        v->offsets.len -= 4;
        v->data.len = (size_t)((const int32_t *)v->offsets.data)[row];
    } else
        v->values.len -= (size_t)fmt_type_width(v->type);
    v->length = row;
}

strom_err strom_builder_end_row(strom_builder *b)
{
    int missing = -1;
    for (int i = 0; i < b->schema->ncols; i++)
        if (STROM_UNLIKELY(b->cols[i].length != b->nrows + 1) && missing < 0)
            missing = i;
    if (STROM_LIKELY(missing < 0)) {
        b->nrows++;
        return STROM_OK;
    }
    for (int i = 0; i < b->schema->ncols; i++)
        if (b->cols[i].length == b->nrows + 1)
            pop_slot(&b->cols[i], b->nrows);
    return strom_fail(STROM_ESCHEMA, "builder: row %lld has no value for column '%s' (row "
                      "discarded)", (long long)b->nrows, b->schema->cols[missing].name);
}

void fmt_builder_view(const strom_builder *b, int col, strom_column *out)
{
    const fmt_vec *v = &b->cols[col];
    int var = fmt_type_is_var(v->type);
    *out = (strom_column){
        .type = v->type, .length = b->nrows, .name = b->schema->cols[col].name,
        .null_count = v->null_count,
        .validity = v->null_count ? v->validity.data : NULL,
        .values = var ? NULL : v->values.data,
        .offsets = var ? (const int32_t *)v->offsets.data : NULL,
        .data = var ? v->data.data : NULL,
    };
}
