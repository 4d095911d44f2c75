/* decode.c: fmt_decode_column: one stored chunk -> Arrow buffers in the batch arena.
 * The decompressed chunk is parsed with a cursor that fails (ECORRUPT) on any read past
 * its end; the chunk must be consumed exactly. */
#include "fmt_int.h"

#include <stdio.h>

typedef struct cursor {
    const uint8_t *p;
    size_t len, pos;
} cursor;

#define CORRUPT(cur, ...) chunk_fail((cur), __VA_ARGS__)

static strom_err STROM_PRINTF(2, 3) chunk_fail(const cursor *c, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return strom_fail(STROM_ECORRUPT, "record batch: chunk: %s (at byte %zu of %zu)", msg,
                      c->pos, c->len);
}

/* Pointer to the next n bytes, or NULL (and the error set) if the chunk is shorter. */
static const uint8_t *take(cursor *c, uint64_t n, strom_err *err)
{
    if (n > c->len - c->pos) {
        *err = CORRUPT(c, "needs %llu more bytes", (unsigned long long)n);
        return NULL;
    }
    const uint8_t *p = c->p + c->pos;
    c->pos += (size_t)n;
    return p;
}

static void *alloc_or_fail(strom_batch *b, size_t n, strom_err *err)
{
    void *p = fmt_batch_alloc(b, n);
    if (!p)
        *err = strom_fail(STROM_ENOMEM, "decode: out of memory for %zu bytes", n);
    return p;
}

/* Reads "i64 base, u8 width" and returns the packed values (n of them). */
static const uint8_t *take_packed(cursor *c, uint32_t n, int64_t *base, unsigned *w,
                                  strom_err *err)
{
    const uint8_t *h = take(c, 9, err);
    if (!h)
        return NULL;
    *base = strom_get_i64(h);
    *w = h[8];
    if (*w != 0 && *w != 1 && *w != 2 && *w != 4 && *w != 8) {
        *err = CORRUPT(c, "packed width %u", *w);
        return NULL;
    }
    return take(c, (uint64_t)n * *w, err);
}

/* DOD: i64 first, i64 first delta, FOR block of the n-2 delta-of-deltas. */
static strom_err dod_to_i64(cursor *c, uint32_t n, int64_t *out)
{
    strom_err err = STROM_OK;
    int64_t base;
    unsigned w;
    if (n < 3)
        return CORRUPT(c, "delta-of-delta encoding for %u rows (needs 3 or more)", n);
    const uint8_t *h = take(c, 16, &err), *p = h ? take_packed(c, n - 2, &base, &w, &err) : NULL;
    if (!p)
        return err;
    out[0] = strom_get_i64(h);
    uint64_t delta = strom_get_u64(h + 8);
    out[1] = (int64_t)((uint64_t)out[0] + delta);
    fmt_unpack(out + 2, p, n - 2, base, w);
    for (uint32_t i = 2; i < n; i++) {
        delta += (uint64_t)out[i];
        out[i] = (int64_t)((uint64_t)out[i - 1] + delta);
    }
    return STROM_OK;
}

/* FOR / DELTA / DOD / PLAIN integers into out[0..n) as int64. */
static strom_err ints_to_i64(cursor *c, const fmt_dir *d, strom_type t, uint32_t n, int64_t *out)
{
    strom_err err = STROM_OK;
    int64_t base;
    unsigned w;
    const uint8_t *p;
    if (d->encoding == FMT_ENC_PLAIN) {
        if (!(p = take(c, (uint64_t)n * (t == STROM_INT ? 4 : 8), &err)))
            return err;
        fmt_unpack(out, p, n, 0, t == STROM_INT ? 4 : 8);
        if (t == STROM_INT) /* sign-extend */
            for (uint32_t i = 0; i < n; i++)
                out[i] = (int32_t)(uint32_t)out[i];
        return STROM_OK;
    }
    if (d->encoding == FMT_ENC_FOR) {
        if (!(p = take_packed(c, n, &base, &w, &err)))
            return err;
        fmt_unpack(out, p, n, base, w);
        return STROM_OK;
    }
    if (d->encoding == FMT_ENC_DOD)
        return dod_to_i64(c, n, out);
    const uint8_t *first = take(c, 8, &err); /* DELTA: i64 first, FOR block of deltas */
    if (!first || !(p = take_packed(c, n - 1, &base, &w, &err)))
        return err;
    out[0] = strom_get_i64(first);
    fmt_unpack(out + 1, p, n - 1, base, w);
    for (uint32_t i = 1; i < n; i++)
        out[i] = (int64_t)((uint64_t)out[i - 1] + (uint64_t)out[i]);
    return STROM_OK;
}

static strom_err decode_int(cursor *c, const fmt_dir *d, uint32_t n, strom_batch *b,
                            strom_column *out)
{
    strom_err err = STROM_OK;
    if (d->type != STROM_INT) {
        int64_t *v = alloc_or_fail(b, (size_t)n * 8, &err);
        out->values = v;
        return v ? ints_to_i64(c, d, d->type, n, v) : err;
    }
    int32_t *v = alloc_or_fail(b, (size_t)n * 4, &err);
    int64_t *tmp = v ? alloc_or_fail(b, (size_t)n * 8, &err) : NULL;
    if (!tmp || (err = ints_to_i64(c, d, STROM_INT, n, tmp)))
        return err;
    for (uint32_t i = 0; i < n; i++) {
        if (tmp[i] < INT32_MIN || tmp[i] > INT32_MAX)
            return CORRUPT(c, "INT value %lld out of range at row %u", (long long)tmp[i], i);
        v[i] = (int32_t)tmp[i];
    }
    out->values = v;
    return STROM_OK;
}

static const double pow10_dec[10] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
static const double npow10_dec[10] = {1, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9};

#define DECIMAL_LOOP(T, OP, s)                                                \
    do {                                                                      \
        T *o = out;                                                           \
        for (uint32_t i = 0; i < n; i++)                                      \
            o[i] = (T)((double)k[i] OP (s));                                  \
    } while (0)

static strom_err decode_decimal(cursor *c, uint32_t n, int64_t *k, strom_type t, void *out)
{
    strom_err err = STROM_OK;
    const uint8_t *e = take(c, 1, &err);
    int64_t base;
    unsigned w;
    const uint8_t *p = e ? take_packed(c, n, &base, &w, &err) : NULL;
    if (!p)
        return err;
    unsigned sc = *e & ~(unsigned)FMT_DECIMAL_MUL;
    if (sc > 9)
        return CORRUPT(c, "decimal scale byte 0x%02x", *e);
    fmt_unpack(k, p, n, base, w);
    double div = pow10_dec[sc], mul = npow10_dec[sc];
    if (t == STROM_DOUBLE && (*e & FMT_DECIMAL_MUL))
        DECIMAL_LOOP(double, *, mul);
    else if (t == STROM_DOUBLE)
        DECIMAL_LOOP(double, /, div);
    else if (*e & FMT_DECIMAL_MUL)
        DECIMAL_LOOP(float, *, mul);
    else
        DECIMAL_LOOP(float, /, div);
    return STROM_OK;
}

static strom_err decode_float(cursor *c, const fmt_dir *d, uint32_t n, strom_batch *b,
                              strom_column *out)
{
    strom_err err = STROM_OK;
    size_t w = (size_t)fmt_type_width(d->type);
    void *v = alloc_or_fail(b, (size_t)n * w, &err);
    if (!v)
        return err;
    out->values = v;
    if (d->encoding == FMT_ENC_DECIMAL) {
        int64_t *k = d->type == STROM_DOUBLE ? v : alloc_or_fail(b, (size_t)n * 8, &err);
        return k ? decode_decimal(c, n, k, d->type, v) : err;
    }
    const uint8_t *p = take(c, (uint64_t)n * w, &err);
    if (p)
        memcpy(v, p, (size_t)n * w);
    return err;
}

static strom_err decode_bool(cursor *c, uint32_t n, strom_batch *b, strom_column *out)
{
    strom_err err = STROM_OK;
    size_t nb = fmt_bm_bytes(n);
    uint8_t *v = alloc_or_fail(b, nb, &err);
    const uint8_t *p = v ? take(c, nb, &err) : NULL;
    if (!p)
        return err;
    memcpy(v, p, nb);
    if (n & 7)
        v[nb - 1] &= (uint8_t)((1u << (n & 7)) - 1);
    out->values = v;
    return STROM_OK;
}

/* Checks int32 offsets[0..n] (little-endian at p): 0, non-decreasing, last <= limit. */
static strom_err check_offsets(cursor *c, const uint8_t *p, uint32_t n, uint64_t limit)
{
    int32_t prev = (int32_t)strom_get_u32(p);
    if (prev != 0)
        return CORRUPT(c, "offsets[0] = %d", prev);
    for (uint32_t i = 1; i <= n; i++) {
        int32_t o = (int32_t)strom_get_u32(p + 4 * (size_t)i);
        if (o < prev)
            return CORRUPT(c, "offsets[%u] = %d < offsets[%u] = %d", i, o, i - 1, prev);
        prev = o;
    }
    if ((uint64_t)prev > limit)
        return CORRUPT(c, "string bytes %d exceed the chunk", prev);
    return STROM_OK;
}

static strom_err decode_str_plain(cursor *c, uint32_t n, strom_batch *b, strom_column *out)
{
    strom_err err = STROM_OK;
    const uint8_t *op = take(c, 4 * ((uint64_t)n + 1), &err);
    if (!op || (err = check_offsets(c, op, n, c->len - c->pos)))
        return err;
    size_t bytes = (size_t)strom_get_u32(op + 4 * (size_t)n);
    const uint8_t *dp = take(c, bytes, &err);
    int32_t *offs = dp ? alloc_or_fail(b, 4 * ((size_t)n + 1), &err) : NULL;
    uint8_t *data = offs ? alloc_or_fail(b, bytes, &err) : NULL;
    if (!data)
        return err;
    memcpy(offs, op, 4 * ((size_t)n + 1));
    memcpy(data, dp, bytes);
    out->offsets = offs;
    out->data = data;
    return STROM_OK;
}

typedef struct dict_view {
    uint32_t nd;
    const uint8_t *offs, *bytes;  /* offs: nd+1 int32 */
    unsigned w;
    const uint8_t *idx;
} dict_view;

static strom_err take_dict(cursor *c, uint32_t n, dict_view *v)
{
    strom_err err = STROM_OK;
    const uint8_t *h = take(c, 4, &err);
    if (!h)
        return err;
    v->nd = strom_get_u32(h);
    if (v->nd == 0 || v->nd > n)
        return CORRUPT(c, "dictionary size %u for %u rows", v->nd, n);
    if (!(v->offs = take(c, 4 * ((uint64_t)v->nd + 1), &err)) ||
        (err = check_offsets(c, v->offs, v->nd, c->len - c->pos)))
        return err;
    const uint8_t *wp;
    if (!(v->bytes = take(c, strom_get_u32(v->offs + 4 * (size_t)v->nd), &err)) ||
        !(wp = take(c, 1, &err)))
        return err;
    v->w = *wp;
    if (v->w != 1 && v->w != 2 && v->w != 4)
        return CORRUPT(c, "dictionary index width %u", v->w);
    return (v->idx = take(c, (uint64_t)n * v->w, &err)) ? STROM_OK : err;
}

static inline uint32_t dict_index(const dict_view *v, uint32_t i)
{
    uint32_t x = 0;
    memcpy(&x, v->idx + (size_t)i * v->w, v->w);
    return x;
}

static strom_err decode_str_dict(cursor *c, uint32_t n, const uint8_t *valid, strom_batch *b,
                                 strom_column *out)
{
    dict_view v = {0};
    strom_err err = take_dict(c, n, &v);
    int32_t *offs = err ? NULL : alloc_or_fail(b, 4 * ((size_t)n + 1), &err);
    if (!offs)
        return err;
    uint64_t total = 0;
    offs[0] = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = dict_index(&v, i);
        if (valid && !fmt_bit(valid, i))
            k = UINT32_MAX;
        else if (k >= v.nd)
            return CORRUPT(c, "row %u: dictionary index %u >= %u", i, k, v.nd);
        if (k != UINT32_MAX)
            total += strom_get_u32(v.offs + 4 * ((size_t)k + 1)) - strom_get_u32(v.offs + 4 * (size_t)k);
        if (total > INT32_MAX)
            return CORRUPT(c, "decoded strings exceed 2 GiB");
        offs[i + 1] = (int32_t)total;
    }
    uint8_t *data = alloc_or_fail(b, (size_t)total, &err);
    if (!data)
        return err;
    for (uint32_t i = 0; i < n; i++) {
        if (offs[i + 1] == offs[i])
            continue;
        uint32_t k = dict_index(&v, i), a = strom_get_u32(v.offs + 4 * (size_t)k);
        memcpy(data + offs[i], v.bytes + a, (size_t)(offs[i + 1] - offs[i]));
    }
    out->offsets = offs;
    out->data = data;
    return STROM_OK;
}

static strom_err take_validity(cursor *c, const fmt_dir *d, uint32_t n, strom_batch *b,
                               strom_column *out)
{
    strom_err err = STROM_OK;
    size_t nb = fmt_bm_bytes(n);
    const uint8_t *p = take(c, nb, &err);
    uint8_t *v = p ? alloc_or_fail(b, nb, &err) : NULL;
    if (!v)
        return err;
    memcpy(v, p, nb);
    if (n & 7)
        v[nb - 1] &= (uint8_t)((1u << (n & 7)) - 1);
    uint64_t valid = 0;
    for (size_t i = 0; i < nb; i++)
        valid += (uint64_t)__builtin_popcount(v[i]);
    if (valid + d->null_count != n)
        return CORRUPT(c, "validity bitmap has %llu valid rows, null_count says %u",
                       (unsigned long long)valid, n - d->null_count);
    out->validity = v;
    return STROM_OK;
}

/* NULL slots of fixed-width columns hold 0 (the encoder stores neighbouring values). */
static void zero_null_slots(strom_column *c)
{
    size_t w = (size_t)fmt_type_width(c->type);
    if (!c->validity || w == 0)
        return;
    uint8_t *v = (uint8_t *)(uintptr_t)c->values;
    for (int64_t i = 0; i < c->length; i++)
        if (!fmt_bit(c->validity, (uint64_t)i))
            memset(v + (size_t)i * w, 0, w);
}

static strom_err decode_values(cursor *c, const fmt_dir *d, uint32_t n, strom_batch *b,
                               strom_column *out)
{
    switch (d->type) {
    case STROM_BOOLEAN: return decode_bool(c, n, b, out);
    case STROM_FLOAT: case STROM_DOUBLE: return decode_float(c, d, n, b, out);
    case STROM_STRING: case STROM_BYTES:
        return d->encoding == FMT_ENC_DICT ? decode_str_dict(c, n, out->validity, b, out)
                                           : decode_str_plain(c, n, b, out);
    default: return decode_int(c, d, n, b, out);
    }
}

strom_err fmt_decode_column(fmt_decoder *dec, const fmt_dir *d, const uint8_t *chunk,
                            uint32_t nrows, strom_batch *dst, const char *name,
                            strom_column *out)
{
    *out = (strom_column){.type = d->type, .length = nrows, .null_count = d->null_count,
                          .name = name};
    dec->raw.len = 0;
    if (nrows == 0 || !strom_buf_grow(&dec->raw, (size_t)d->raw_length + 1))
        return nrows ? strom_fail(STROM_ENOMEM, "decode: out of memory")
                     : strom_fail(STROM_ECORRUPT, "record batch: zero rows");
    strom_err err = fmt_decompress(dec, d->codec, chunk, d->data_length, dec->raw.data,
                                   d->raw_length);
    if (err)
        return strom_fail_wrap(err, "record batch: column '%s' chunk", name ? name : "?");
    cursor c = {.p = dec->raw.data, .len = d->raw_length};
    if (d->flags & FMT_F_VALIDITY)
        err = take_validity(&c, d, nrows, dst, out);
    if (!err)
        err = decode_values(&c, d, nrows, dst, out);
    if (!err && c.pos != c.len)
        err = CORRUPT(&c, "%zu trailing bytes", c.len - c.pos);
    if (err)
        return strom_fail_wrap(err, "column '%s'", name ? name : "?");
    zero_null_slots(out);
    return STROM_OK;
}

strom_err fmt_null_column(strom_batch *dst, strom_type type, uint32_t nrows, const char *name,
                          strom_column *out)
{
    size_t nb = fmt_bm_bytes(nrows), w = (size_t)fmt_type_width(type);
    int var = fmt_type_is_var(type);
    size_t vsize = var ? 4 * ((size_t)nrows + 1) : w ? w * nrows : nb;
    uint8_t *valid = fmt_batch_alloc(dst, nb), *vals = fmt_batch_alloc(dst, vsize);
    if (!valid || !vals)
        return strom_fail(STROM_ENOMEM, "decode: out of memory");
    memset(valid, 0, nb);
    memset(vals, 0, vsize);
    *out = (strom_column){.type = type, .length = nrows, .null_count = nrows, .name = name,
                          .validity = valid, .values = var ? NULL : vals,
                          .offsets = var ? (const int32_t *)(void *)vals : NULL,
                          .data = var ? vals : NULL};
    return STROM_OK;
}

/* ------------------------------------------------------- chosen rows only */

/* Value of row r of a packed block (width w bytes, little-endian, plus base). */
static inline int64_t packed_at(const uint8_t *p, unsigned w, int64_t base, uint32_t r)
{
    uint64_t v = 0;
    memcpy(&v, p + (size_t)r * w, w);
    return (int64_t)((uint64_t)base + v);
}

/* Row r of a DECIMAL block as a double (the same arithmetic as decode_decimal). */
static inline double decimal_at(const uint8_t *p, unsigned w, int64_t base, unsigned e,
                                uint32_t r)
{
    double k = (double)packed_at(p, w, base, r);
    unsigned sc = e & ~(unsigned)FMT_DECIMAL_MUL;
    return (e & FMT_DECIMAL_MUL) ? k * npow10_dec[sc] : k / pow10_dec[sc];
}

/* Writes value i of the output (row r of the chunk) for the fast encodings. */
static void put_fast(const fmt_dir *d, const uint8_t *p, unsigned w, int64_t base, unsigned e,
                     uint32_t r, void *vals, uint32_t i)
{
    int64_t x;
    switch (d->type) {
    case STROM_DOUBLE:
        if (d->encoding == FMT_ENC_DECIMAL)
            ((double *)vals)[i] = decimal_at(p, w, base, e, r);
        else
            memcpy(&((double *)vals)[i], p + (size_t)r * 8, 8);
        return;
    case STROM_FLOAT:
        if (d->encoding == FMT_ENC_DECIMAL)
            ((float *)vals)[i] = (float)decimal_at(p, w, base, e, r);
        else
            memcpy(&((float *)vals)[i], p + (size_t)r * 4, 4);
        return;
    case STROM_INT:
        x = d->encoding == FMT_ENC_FOR ? packed_at(p, w, base, r)
                                       : (int32_t)strom_get_u32(p + (size_t)r * 4);
        ((int32_t *)vals)[i] = (int32_t)x;
        return;
    default:
        ((int64_t *)vals)[i] = d->encoding == FMT_ENC_FOR ? packed_at(p, w, base, r)
                                                         : strom_get_i64(p + (size_t)r * 8);
    }
}

/* Whether the chosen rows of this chunk can be read without decoding the others. */
static int rows_fast_path(const fmt_dir *d)
{
    if (d->type == STROM_BOOLEAN || fmt_type_is_var(d->type))
        return 0;
    if (fmt_type_is_float(d->type))
        return d->encoding == FMT_ENC_DECIMAL || d->encoding == FMT_ENC_PLAIN;
    return d->encoding == FMT_ENC_FOR || d->encoding == FMT_ENC_PLAIN;
}

/* Parses the value block of a fast-path chunk: p, width, base, scale byte. */
static strom_err take_fast(cursor *c, const fmt_dir *d, uint32_t n, const uint8_t **p,
                           unsigned *w, int64_t *base, unsigned *e)
{
    strom_err err = STROM_OK;
    *base = 0;
    *e = 0;
    if (d->encoding == FMT_ENC_PLAIN) {
        *w = (unsigned)fmt_type_width(d->type);
        *p = take(c, (uint64_t)n * *w, &err);
        return *p ? STROM_OK : err;
    }
    if (d->encoding == FMT_ENC_DECIMAL) {
        const uint8_t *eb = take(c, 1, &err);
        if (!eb)
            return err;
        *e = *eb;
        if ((*e & ~(unsigned)FMT_DECIMAL_MUL) > 9)
            return CORRUPT(c, "decimal scale byte 0x%02x", *e);
    }
    *p = take_packed(c, n, base, w, &err);
    return *p ? STROM_OK : err;
}

/* Validity of rows[0..nsel) of src into a new bitmap; returns the NULL count. */
static int64_t gather_validity(const uint8_t *src, const uint32_t *rows, uint32_t nsel,
                               uint8_t *valid)
{
    int64_t nulls = 0;
    memset(valid, 0, fmt_bm_bytes(nsel));
    for (uint32_t i = 0; i < nsel; i++)
        if (!src || fmt_bit(src, rows[i]))
            valid[i >> 3] |= (uint8_t)(1u << (i & 7));
        else
            nulls++;
    return nulls;
}

static strom_err gather_var(const strom_column *src, const uint32_t *rows, uint32_t nsel,
                            strom_batch *dst, strom_column *out)
{
    strom_err err = STROM_OK;
    int32_t *offs = alloc_or_fail(dst, ((size_t)nsel + 1) * 4, &err);
    size_t total = 0;
    for (uint32_t i = 0; offs && i < nsel; i++)
        total += (size_t)(src->offsets[rows[i] + 1] - src->offsets[rows[i]]);
    uint8_t *data = offs ? alloc_or_fail(dst, total + 1, &err) : NULL;
    if (!data)
        return err;
    offs[0] = 0;
    for (uint32_t i = 0; i < nsel; i++) {
        int32_t a = src->offsets[rows[i]], len = src->offsets[rows[i] + 1] - a;
        memcpy(data + offs[i], src->data + a, (size_t)len);
        offs[i + 1] = offs[i] + len;
    }
    out->offsets = offs;
    out->data = data;
    return STROM_OK;
}

static strom_err gather_fixed(const strom_column *src, const uint32_t *rows, uint32_t nsel,
                              strom_batch *dst, strom_column *out)
{
    strom_err err = STROM_OK;
    size_t w = (size_t)fmt_type_width(src->type);
    uint8_t *vals = alloc_or_fail(dst, w ? w * nsel : fmt_bm_bytes(nsel), &err);
    if (!vals)
        return err;
    if (!w)
        memset(vals, 0, fmt_bm_bytes(nsel));
    for (uint32_t i = 0; i < nsel; i++) {
        if (w)
            memcpy(vals + (size_t)i * w, (const uint8_t *)src->values + (size_t)rows[i] * w, w);
        else if (fmt_bit(src->values, rows[i]))
            vals[i >> 3] |= (uint8_t)(1u << (i & 7));
    }
    out->values = vals;
    return STROM_OK;
}

/* Copies rows[0..nsel) of a fully decoded column src into out (buffers from dst). */
static strom_err gather_rows(const strom_column *src, const uint32_t *rows, uint32_t nsel,
                             strom_batch *dst, strom_column *out)
{
    strom_err err = STROM_OK;
    *out = (strom_column){.type = src->type, .length = nsel, .name = src->name};
    uint8_t *valid = alloc_or_fail(dst, fmt_bm_bytes(nsel), &err);
    if (!valid)
        return err;
    out->null_count = gather_validity(src->validity, rows, nsel, valid);
    out->validity = out->null_count ? valid : NULL;
    return fmt_type_is_var(src->type) ? gather_var(src, rows, nsel, dst, out)
                                      : gather_fixed(src, rows, nsel, dst, out);
}

/* Fast path: the chosen rows straight from the decompressed chunk in c. */
static strom_err decode_rows_fast(cursor *c, const fmt_dir *d, uint32_t nrows,
                                  const uint32_t *rows, uint32_t nsel, strom_batch *dst,
                                  strom_column *out)
{
    strom_err err = STROM_OK;
    const uint8_t *validity = NULL, *p;
    if ((d->flags & FMT_F_VALIDITY) && !(validity = take(c, fmt_bm_bytes(nrows), &err)))
        return err;
    unsigned w, e;
    int64_t base;
    if ((err = take_fast(c, d, nrows, &p, &w, &base, &e)) != STROM_OK)
        return err;
    if (c->pos != c->len)
        return CORRUPT(c, "%zu trailing bytes", c->len - c->pos);
    size_t tw = (size_t)fmt_type_width(d->type);
    void *vals = alloc_or_fail(dst, tw * nsel + 1, &err);
    uint8_t *valid = vals ? alloc_or_fail(dst, fmt_bm_bytes(nsel), &err) : NULL;
    if (!valid)
        return err;
    out->null_count = gather_validity(validity, rows, nsel, valid);
    for (uint32_t i = 0; i < nsel; i++) {
        if (fmt_bit(valid, i))
            put_fast(d, p, w, base, e, rows[i], vals, i);
        else
            memset((uint8_t *)vals + i * tw, 0, tw);
    }
    out->values = vals;
    out->validity = out->null_count ? valid : NULL;
    return STROM_OK;
}

/* Blocked chunk, fast-path encoding: decompresses into dec->raw only the blocks holding
 * the value block's header and, for each chosen row, its validity byte and its value
 * (the layout is fixed by nrows, the flags and the encoding; decode_rows_fast then
 * checks it, reading only those bytes). */
static strom_err rows_blocks(fmt_decoder *dec, const fmt_dir *d, const uint8_t *chunk,
                             uint32_t nrows, const uint32_t *rows, uint32_t nsel)
{
    fmt_blkview v;
    strom_err e = fmt_blocks_open(&v, d->codec, chunk, d->data_length, d->raw_length);
    size_t nbm = fmt_bm_bytes(v.nblocks);
    if (e != STROM_OK || !strom_buf_grow(&dec->done, nbm))
        return e ? e : strom_fail(STROM_ENOMEM, "decode: out of memory");
    uint8_t *done = dec->done.data, *raw = dec->raw.data;
    memset(done, 0, nbm);
    size_t vbm = (d->flags & FMT_F_VALIDITY) ? fmt_bm_bytes(nrows) : 0, hdr = 0;
    unsigned w = (unsigned)fmt_type_width(d->type);
    if (d->encoding != FMT_ENC_PLAIN) { /* [u8 scale] i64 base, u8 width */
        hdr = d->encoding == FMT_ENC_DECIMAL ? 10 : 9;
        if ((e = fmt_blocks_need(dec, &v, done, raw, vbm, hdr)) != STROM_OK)
            return e;
        if (vbm + hdr <= v.raw_len)
            w = raw[vbm + hdr - 1];
    }
    for (uint32_t i = 0; e == STROM_OK && i < nsel; i++) {
        if (vbm)
            e = fmt_blocks_need(dec, &v, done, raw, rows[i] >> 3, 1);
        if (e == STROM_OK && w <= 8)
            e = fmt_blocks_need(dec, &v, done, raw, vbm + hdr + (size_t)rows[i] * w, w);
    }
    return e;
}

strom_err fmt_decode_rows(fmt_decoder *dec, const fmt_dir *d, const uint8_t *chunk,
                          uint32_t nrows, const uint32_t *rows, uint32_t nsel, strom_batch *dst,
                          const char *name, strom_column *out)
{
    for (uint32_t i = 0; i < nsel; i++)
        if (rows[i] >= nrows)
            return strom_fail(STROM_EINVAL, "decode: row %u of a %u-row batch", rows[i], nrows);
    if (!rows_fast_path(d)) {
        strom_column full;
        strom_err err = fmt_decode_column(dec, d, chunk, nrows, dst, name, &full);
        return err ? err : gather_rows(&full, rows, nsel, dst, out);
    }
    *out = (strom_column){.type = d->type, .length = nsel, .name = name};
    dec->raw.len = 0;
    if (!strom_buf_grow(&dec->raw, (size_t)d->raw_length + 1))
        return strom_fail(STROM_ENOMEM, "decode: out of memory");
    strom_err err = fmt_codec_blocked(d->codec)
                        ? rows_blocks(dec, d, chunk, nrows, rows, nsel)
                        : fmt_decompress(dec, d->codec, chunk, d->data_length, dec->raw.data,
                                         d->raw_length);
    if (err)
        return strom_fail_wrap(err, "record batch: column '%s' chunk", name ? name : "?");
    cursor c = {.p = dec->raw.data, .len = d->raw_length};
    err = decode_rows_fast(&c, d, nrows, rows, nsel, dst, out);
    return err ? strom_fail_wrap(err, "column '%s'", name ? name : "?") : STROM_OK;
}
