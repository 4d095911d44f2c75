/* enc_num.c: value encoders for fixed-width columns: PLAIN, FOR, DELTA (integers,
 * timestamps), DECIMAL (FLOAT/DOUBLE) and bit-packed BOOLEAN. Each gathers the selected
 * rows into an int64/double scratch array where NULL slots repeat the previous valid
 * value (so they widen neither FOR nor DELTA), then picks the smallest layout. */
#include "fmt_int.h"

#include <math.h>

uint32_t fmt_gather_validity(const fmt_vec *v, const uint32_t *sel, uint32_t n, uint8_t *bm)
{
    memset(bm, 0, fmt_bm_bytes(n));
    uint32_t valid = 0;
    const uint8_t *src = v->validity.data;
    for (uint32_t i = 0; i < n; i++) {
        unsigned bit = fmt_bit(src, sel[i]);
        bm[i >> 3] |= (uint8_t)(bit << (i & 7));
        valid += bit;
    }
    return n - valid;
}

static void *scratch(strom_buf *b, size_t bytes)
{
    b->len = 0;
    return strom_buf_grow(b, bytes + 8) ? b->data : NULL;
}

static void gather_i64(const fmt_vec *v, const uint32_t *sel, uint32_t n, int64_t *x)
{
    if (v->type == STROM_INT) {
        const int32_t *s = (const int32_t *)(const void *)v->values.data;
        for (uint32_t i = 0; i < n; i++)
            x[i] = s[sel[i]];
    } else {
        const int64_t *s = (const int64_t *)(const void *)v->values.data;
        for (uint32_t i = 0; i < n; i++)
            x[i] = s[sel[i]];
    }
}

/* Gives NULL slots (bm bit clear) the previous valid value; leading NULLs the first. */
#define FILL_NULLS(T)                                                         \
    static void fill_nulls_##T(T *x, uint32_t n, const uint8_t *bm)           \
    {                                                                         \
        uint32_t i = 0;                                                       \
        while (i < n && !fmt_bit(bm, i))                                      \
            i++;                                                              \
        T prev = i < n ? x[i] : 0;                                            \
        for (i = 0; i < n; i++) {                                             \
            if (fmt_bit(bm, i))                                               \
                prev = x[i];                                                  \
            else                                                              \
                x[i] = prev;                                                  \
        }                                                                     \
    }
FILL_NULLS(int64_t)
FILL_NULLS(double)

typedef struct int_shape {
    int64_t min, max, dmin, dmax;
} int_shape;

static void int_shape_of(const int64_t *x, uint32_t n, int_shape *s)
{
    int64_t mn = x[0], mx = x[0];
    int64_t dmn = n > 1 ? (int64_t)((uint64_t)x[1] - (uint64_t)x[0]) : 0, dmx = dmn;
    for (uint32_t i = 1; i < n; i++) {
        int64_t d = (int64_t)((uint64_t)x[i] - (uint64_t)x[i - 1]);
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
        dmn = d < dmn ? d : dmn;
        dmx = d > dmx ? d : dmx;
    }
    *s = (int_shape){mn, mx, dmn, dmx};
}

static strom_err put_for(strom_buf *raw, const int64_t *x, size_t n, int64_t base, unsigned w)
{
    uint8_t *p = strom_buf_grow(raw, 9 + n * w);
    if (!p)
        return STROM_ENOMEM;
    strom_put_i64(p, base);
    p[8] = (uint8_t)w;
    fmt_pack(p + 9, x, n, base, w);
    return STROM_OK;
}

static strom_err put_delta(fmt_encoder *e, const int64_t *x, uint32_t n, const int_shape *s)
{
    unsigned w = fmt_width_for((uint64_t)s->dmax - (uint64_t)s->dmin);
    int64_t *d = scratch(&e->scratch2, (size_t)n * 8);
    if (!d || strom_buf_append(&e->raw, &x[0], 8) != STROM_OK)
        return STROM_ENOMEM;
    for (uint32_t i = 1; i < n; i++)
        d[i - 1] = (int64_t)((uint64_t)x[i] - (uint64_t)x[i - 1]);
    return put_for(&e->raw, d, n - 1, s->dmin, w);
}

/* Delta-of-deltas dd[i-2] = (x[i] - x[i-1]) - (x[i-1] - x[i-2]) for i in [2, n), into d;
 * returns their min and max (mod 2^64 arithmetic, as every encoding here). n >= 3. */
static void dod_of(const int64_t *x, uint32_t n, int64_t *d, int64_t *mn, int64_t *mx)
{
    uint64_t prev = (uint64_t)x[1] - (uint64_t)x[0];
    *mn = INT64_MAX, *mx = INT64_MIN;
    for (uint32_t i = 2; i < n; i++) {
        uint64_t cur = (uint64_t)x[i] - (uint64_t)x[i - 1];
        int64_t dd = (int64_t)(cur - prev);
        d[i - 2] = dd;
        *mn = dd < *mn ? dd : *mn;
        *mx = dd > *mx ? dd : *mx;
        prev = cur;
    }
}

/* i64 first, i64 first delta, FOR block of the delta-of-deltas (already in d). */
static strom_err put_dod(fmt_encoder *e, const int64_t *x, uint32_t n, const int64_t *d,
                         int64_t mn, unsigned w)
{
    int64_t d0 = (int64_t)((uint64_t)x[1] - (uint64_t)x[0]);
    if (strom_buf_append(&e->raw, &x[0], 8) != STROM_OK || strom_buf_append(&e->raw, &d0, 8))
        return STROM_ENOMEM;
    return put_for(&e->raw, d, n - 2, mn, w);
}

/* Width of the delta-of-deltas, or 9 (never chosen) when n < 3 or memory is short. */
static unsigned dod_width(fmt_encoder *e, const int64_t *x, uint32_t n, int64_t **d, int64_t *mn)
{
    int64_t mx;
    if (n < 3 || !(*d = scratch(&e->scratch2, (size_t)n * 8)))
        return 9;
    dod_of(x, n, *d, mn, &mx);
    return fmt_width_for((uint64_t)mx - (uint64_t)*mn);
}

static strom_err put_plain_int(strom_buf *raw, strom_type t, const int64_t *x, uint32_t n)
{
    if (t == STROM_INT) {
        uint8_t *p = strom_buf_grow(raw, (size_t)n * 4);
        if (!p)
            return STROM_ENOMEM;
        for (uint32_t i = 0; i < n; i++) {
            int32_t y = (int32_t)x[i];
            memcpy(p + 4 * (size_t)i, &y, 4);
        }
        return STROM_OK;
    }
    return strom_buf_append(raw, x, (size_t)n * 8);
}

strom_err fmt_enc_int(fmt_encoder *e, const fmt_vec *v, const uint32_t *sel, uint32_t n,
                      const uint8_t *bm, int plain_only, fmt_colstat *st, uint8_t *enc)
{
    int64_t *x = scratch(&e->scratch, (size_t)n * 8);
    if (!x)
        return STROM_ENOMEM;
    gather_i64(v, sel, n, x);
    if (bm)
        fill_nulls_int64_t(x, n, bm);
    int_shape s;
    int_shape_of(x, n, &s);
    if (st->nulls < n) {
        st->flags |= FMT_F_STATS;
        st->min = (uint64_t)s.min;
        st->max = (uint64_t)s.max;
    }
    size_t plain = (size_t)n * (size_t)fmt_type_width(v->type);
    unsigned wf = fmt_width_for((uint64_t)s.max - (uint64_t)s.min);
    unsigned wd = fmt_width_for((uint64_t)s.dmax - (uint64_t)s.dmin);
    size_t for_size = 9 + (size_t)n * wf, delta_size = 17 + (size_t)(n - 1) * wd;
    int64_t *dd = NULL, ddmin = 0;
    unsigned wdd = !plain_only && wd > 0 ? dod_width(e, x, n, &dd, &ddmin) : 9;
    size_t dod_size = 25 + (size_t)(n - 2) * wdd;
    if (wdd < wd && wdd < wf && dod_size < plain) {
        *enc = FMT_ENC_DOD;
        return put_dod(e, x, n, dd, ddmin, wdd);
    }
    if (!plain_only && wd < wf && delta_size < plain) {
        *enc = FMT_ENC_DELTA;
        return put_delta(e, x, n, &s);
    }
    if (!plain_only && for_size < plain) {
        *enc = FMT_ENC_FOR;
        return put_for(&e->raw, x, n, s.min, wf);
    }
    *enc = FMT_ENC_PLAIN;
    return put_plain_int(&e->raw, v->type, x, n);
}

/* ------------------------------------------------------------- floating */

static const double pow10_tab[10] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
static const double npow10_tab[10] = {1, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9};

/* 1 if v == k / 10^e (mode 0) or k * 1e-e (mode FMT_DECIMAL_MUL) bit-exactly (as float
 * when is_float) for an integer |k| < 2^52. */
static inline int decimal_one(double v, int e, int mode, int is_float, int64_t *k)
{
    double t = v * pow10_tab[e];
    if (!(fabs(t) < 4503599627370496.0))
        return 0;
    int64_t r = (int64_t)(t < 0 ? t - 0.5 : t + 0.5);
    double back = mode ? (double)r * npow10_tab[e] : (double)r / pow10_tab[e];
    *k = r;
    if (is_float) {
        float a = (float)back, b = (float)v;
        uint32_t ab, bb;
        memcpy(&ab, &a, 4);
        memcpy(&bb, &b, 4);
        return ab == bb;
    }
    uint64_t ab, bb;
    memcpy(&ab, &back, 8);
    memcpy(&bb, &v, 8);
    return ab == bb;
}

/* Smallest e in 0..9 for which every x[i] is decimal_one in mode; k gets the integers. */
static int decimal_scale_mode(const double *x, uint32_t n, int mode, int is_float, int64_t *k)
{
    int e = 0;
    for (;;) {
        uint32_t i = 0;
        while (i < n && decimal_one(x[i], e, mode, is_float, &k[i]))
            i++;
        if (i == n)
            return e;
        while (e <= 9 && !decimal_one(x[i], e, mode, is_float, &k[i]))
            e++;
        if (e > 9)
            return -1;
    }
}

/* The DECIMAL scale byte (e | mode) for x, or -1 if no scale represents every value. */
static int decimal_scale(const double *x, uint32_t n, int is_float, int64_t *k)
{
    int e = decimal_scale_mode(x, n, 0, is_float, k);
    if (e >= 0)
        return e;
    e = decimal_scale_mode(x, n, FMT_DECIMAL_MUL, is_float, k);
    return e >= 0 ? e | FMT_DECIMAL_MUL : -1;
}

/* Min/max of the non-NaN values into st; FMT_F_NAN if any NaN. */
static void float_stats(const double *x, uint32_t n, fmt_colstat *st)
{
    double mn = INFINITY, mx = -INFINITY;
    uint32_t nans = 0;
    for (uint32_t i = 0; i < n; i++) { /* NaN compares false: never taken as min/max */
        nans += x[i] != x[i];
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
    }
    if (nans)
        st->flags |= FMT_F_NAN;
    if (nans < n && st->nulls < n) {
        st->flags |= FMT_F_STATS;
        memcpy(&st->min, &mn, 8);
        memcpy(&st->max, &mx, 8);
    }
}

static void gather_f64(const fmt_vec *v, const uint32_t *sel, uint32_t n, double *x)
{
    if (v->type == STROM_FLOAT) {
        const float *s = (const float *)(const void *)v->values.data;
        for (uint32_t i = 0; i < n; i++)
            x[i] = s[sel[i]];
    } else {
        const double *s = (const double *)(const void *)v->values.data;
        for (uint32_t i = 0; i < n; i++)
            x[i] = s[sel[i]];
    }
}

static strom_err put_plain_float(strom_buf *raw, strom_type t, const double *x, uint32_t n)
{
    if (t == STROM_DOUBLE)
        return strom_buf_append(raw, x, (size_t)n * 8);
    uint8_t *p = strom_buf_grow(raw, (size_t)n * 4);
    if (!p)
        return STROM_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        float f = (float)x[i];
        memcpy(p + 4 * (size_t)i, &f, 4);
    }
    return STROM_OK;
}

/* DECIMAL if every value is k/10^e and that packs smaller than plain; else 0. */
static int try_decimal(fmt_encoder *e, strom_type t, const double *x, uint32_t n, strom_err *err)
{
    int64_t *k = scratch(&e->scratch2, (size_t)n * 8);
    if (!k)
        return (*err = STROM_ENOMEM), 1;
    int sc = decimal_scale(x, n, t == STROM_FLOAT, k);
    if (sc < 0)
        return 0;
    int64_t mn = k[0], mx = k[0];
    for (uint32_t i = 1; i < n; i++) {
        mn = k[i] < mn ? k[i] : mn;
        mx = k[i] > mx ? k[i] : mx;
    }
    unsigned w = fmt_width_for((uint64_t)mx - (uint64_t)mn);
    if (10 + (size_t)n * w >= (size_t)n * (size_t)fmt_type_width(t))
        return 0;
    uint8_t *p = strom_buf_grow(&e->raw, 1);
    if (!p)
        return (*err = STROM_ENOMEM), 1;
    *p = (uint8_t)sc;
    *err = put_for(&e->raw, k, n, mn, w);
    return 1;
}

strom_err fmt_enc_float(fmt_encoder *e, const fmt_vec *v, const uint32_t *sel, uint32_t n,
                        const uint8_t *bm, int plain_only, fmt_colstat *st, uint8_t *enc)
{
    double *x = scratch(&e->scratch, (size_t)n * 8);
    if (!x)
        return STROM_ENOMEM;
    gather_f64(v, sel, n, x);
    if (bm)
        fill_nulls_double(x, n, bm);
    float_stats(x, n, st);
    strom_err err = STROM_OK;
    if (!plain_only && try_decimal(e, v->type, x, n, &err)) {
        *enc = FMT_ENC_DECIMAL;
        return err;
    }
    *enc = FMT_ENC_PLAIN;
    return put_plain_float(&e->raw, v->type, x, n);
}

strom_err fmt_enc_bool(fmt_encoder *e, const fmt_vec *v, const uint32_t *sel, uint32_t n,
                       const uint8_t *bm, fmt_colstat *st, uint8_t *enc)
{
    uint8_t *p = strom_buf_grow(&e->raw, fmt_bm_bytes(n));
    if (!p)
        return STROM_ENOMEM;
    memset(p, 0, fmt_bm_bytes(n));
    unsigned seen[2] = {0, 0};
    for (uint32_t i = 0; i < n; i++) {
        unsigned bit = fmt_bit(v->values.data, sel[i]);
        p[i >> 3] |= (uint8_t)(bit << (i & 7));
        seen[bit] |= !bm || fmt_bit(bm, i);
    }
    if (seen[0] | seen[1]) {
        st->flags |= FMT_F_STATS;
        st->min = !seen[0];
        st->max = seen[1];
    }
    *enc = FMT_ENC_PLAIN;
    return STROM_OK;
}
