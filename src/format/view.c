/* view.c: a decoded batch made from a builder's completed rows (no encoding, no
 * compression: the Arrow buffers are copied into the batch's arena, projected). Used for
 * results assembled in memory (snapshot reads of primary-key tables). */
#include "fmt_int.h"

#include <string.h>

/* Copies n bytes of src into dst's arena; *out gets the copy (NULL when src is NULL). */
static strom_err copy_buf(strom_batch *dst, const void *src, size_t n, const void **out)
{
    *out = NULL;
    if (!src)
        return STROM_OK;
    void *p = fmt_batch_alloc(dst, n ? n : 1);
    if (!p)
        return STROM_ENOMEM;
    memcpy(p, src, n);
    *out = p;
    return STROM_OK;
}

/* Copies the builder view v (rows rows) into column out of dst. */
static strom_err copy_column(strom_batch *dst, const strom_column *v, int64_t rows,
                             strom_column *out)
{
    size_t nrows = (size_t)rows, bits = (nrows + 7) / 8;
    *out = *v;
    size_t nl = strlen(v->name) + 1;
    char *name = fmt_batch_alloc(dst, nl);
    if (!name)
        return STROM_ENOMEM;
    memcpy(name, v->name, nl);
    out->name = name;
    strom_err e = copy_buf(dst, v->validity, bits, (const void **)&out->validity);
    if (e == STROM_OK && fmt_type_is_var(v->type)) {
        e = copy_buf(dst, v->offsets, (nrows + 1) * sizeof(int32_t), (const void **)&out->offsets);
        if (e == STROM_OK)
            e = copy_buf(dst, v->data ? v->data : (const uint8_t *)"",
                         (size_t)v->offsets[nrows], (const void **)&out->data);
    } else if (e == STROM_OK) {
        size_t w = (size_t)fmt_type_width(v->type);
        e = copy_buf(dst, v->values, v->type == STROM_BOOLEAN ? bits : nrows * w, &out->values);
    }
    return e;
}

strom_err fmt_batch_from_builder(const strom_builder *b, const int *cols, int ncols,
                                 strom_batch *dst)
{
    const strom_schema *s = fmt_builder_schema(b);
    int n = cols ? ncols : s->ncols;
    fmt_hdr h = {.nrows = (uint32_t)strom_builder_nrows(b)};
    strom_err e = fmt_batch_reset(dst, &h, n);
    for (int i = 0; i < n && e == STROM_OK; i++) {
        strom_column v;
        fmt_builder_view(b, cols ? cols[i] : i, &v);
        e = copy_column(dst, &v, h.nrows, &dst->cols[i]);
    }
    dst->writer_id = -1;
    dst->batch_seq = -1;
    return e;
}

strom_err strom_builder_to_batch(const strom_builder *b, strom_batch **out)
{
    *out = NULL;
    strom_batch *bt = fmt_batch_create(fmt_builder_schema(b)->ncols);
    strom_err e = bt ? fmt_batch_from_builder(b, NULL, 0, bt) : STROM_ENOMEM;
    if (e != STROM_OK) {
        strom_batch_destroy(bt);
        return e;
    }
    *out = bt;
    return STROM_OK;
}
