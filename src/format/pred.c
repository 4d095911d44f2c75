/* pred.c: predicates "column <op> constant": batch exclusion by directory statistics
 * (fmt_dir_may_match) and row evaluation (fmt_pred_eval). Semantics are C's: NULL never
 * matches; NaN matches only NE; integer columns compared with a floating constant (or
 * the reverse) compare as double; strings compare bytewise (memcmp, shorter first). A
 * string constant against a numeric column (or the reverse) never matches. */
#include "fmt_int.h"

enum { KIND_NONE, KIND_INT, KIND_FLOAT, KIND_STR };

static int kind_of(strom_type col, strom_type val)
{
    if (fmt_type_is_var(col) != fmt_type_is_var(val))
        return KIND_NONE;
    if (fmt_type_is_var(col))
        return KIND_STR;
    if (fmt_type_is_float(col) || fmt_type_is_float(val))
        return KIND_FLOAT;
    return fmt_type_is_int(col) && fmt_type_is_int(val) ? KIND_INT : KIND_NONE;
}

/* Whether some x in [lo, hi] can satisfy x op c (cmp_lo = sign(lo - c), cmp_hi likewise). */
static int range_may_match(strom_op op, int cmp_lo, int cmp_hi, int single_eq)
{
    switch (op) {
    case STROM_OP_EQ: return cmp_lo <= 0 && cmp_hi >= 0;
    case STROM_OP_NE: return !single_eq;
    case STROM_OP_LT: return cmp_lo < 0;
    case STROM_OP_LE: return cmp_lo <= 0;
    case STROM_OP_GT: return cmp_hi > 0;
    case STROM_OP_GE: return cmp_hi >= 0;
    }
    return 1;
}

#define SIGN(a, b) (((a) > (b)) - ((a) < (b)))

static double stat_as_double(const fmt_dir *d, uint64_t raw)
{
    double x;
    if (fmt_type_is_float(d->type)) {
        memcpy(&x, &raw, 8);
        return x;
    }
    return (double)(int64_t)raw;
}

static int num_may_match(const fmt_dir *d, const fmt_pred *p, int kind)
{
    if (kind == KIND_INT) {
        int64_t lo = (int64_t)d->min, hi = (int64_t)d->max, c = p->value.v.i;
        return range_may_match(p->op, SIGN(lo, c), SIGN(hi, c), lo == c && hi == c);
    }
    double c = fmt_type_is_float(p->value.type) ? p->value.v.d : (double)p->value.v.i;
    if (c != c)
        return p->op == STROM_OP_NE;
    double lo = stat_as_double(d, d->min), hi = stat_as_double(d, d->max);
    return range_may_match(p->op, SIGN(lo, c), SIGN(hi, c), lo == c && hi == c);
}

static int has_prefix(const strom_value *v, const uint8_t *p, uint32_t plen)
{
    return v->v.s.len >= plen && memcmp(v->v.s.ptr, p, plen) == 0;
}

static int str_may_match(const fmt_dir *d, const fmt_pred *p)
{
    const uint8_t *c = (const uint8_t *)p->value.v.s.ptr;
    size_t clen = p->value.v.s.len;
    int cmp_lo = fmt_strcmp(d->smin, d->smin_len, c, clen);
    int cmp_hi = fmt_strcmp(d->smax, d->smax_len, c, clen);
    int exact = !(d->flags & FMT_F_MAX_TRUNC) && d->smin_len < FMT_STAT_STR_MAX;
    if ((d->flags & FMT_F_MAX_TRUNC) && (cmp_hi >= 0 || has_prefix(&p->value, d->smax,
                                                                   d->smax_len)))
        cmp_hi = 1; /* the true max is above c, or may be */
    return range_may_match(p->op, cmp_lo, cmp_hi, exact && cmp_lo == 0 && cmp_hi == 0);
}

int fmt_dir_may_match(const fmt_dir *d, const fmt_pred *p)
{
    int kind = kind_of(d->type, p->value.type);
    if (p->value.is_null || kind == KIND_NONE)
        return 0;
    if (!(d->flags & FMT_F_STATS)) /* all NULL, or (floats) all NULL or NaN */
        return (d->flags & FMT_F_NAN) && p->op == STROM_OP_NE;
    if ((d->flags & FMT_F_NAN) && p->op == STROM_OP_NE)
        return 1;
    return kind == KIND_STR ? str_may_match(d, p) : num_may_match(d, p, kind);
}

/* keep[r] &= (GET(r) OP c) for every op, one tight loop per op. */
#define EVAL_OPS(GET, c)                                                                \
    do {                                                                                \
        switch (op) {                                                                   \
        case STROM_OP_EQ: for (int64_t r = 0; r < n; r++) keep[r] &= GET(r) == (c); break; \
        case STROM_OP_NE: for (int64_t r = 0; r < n; r++) keep[r] &= GET(r) != (c); break; \
        case STROM_OP_LT: for (int64_t r = 0; r < n; r++) keep[r] &= GET(r) < (c); break;  \
        case STROM_OP_LE: for (int64_t r = 0; r < n; r++) keep[r] &= GET(r) <= (c); break; \
        case STROM_OP_GT: for (int64_t r = 0; r < n; r++) keep[r] &= GET(r) > (c); break;  \
        case STROM_OP_GE: for (int64_t r = 0; r < n; r++) keep[r] &= GET(r) >= (c); break; \
        }                                                                               \
    } while (0)

#define GET_I32(r) ((const int32_t *)c->values)[r]
#define GET_I64(r) ((const int64_t *)c->values)[r]
#define GET_BIT(r) fmt_bit((const uint8_t *)c->values, (uint64_t)(r))
#define GET_F32(r) (double)((const float *)c->values)[r]
#define GET_F64(r) ((const double *)c->values)[r]
#define GET_I32D(r) (double)((const int32_t *)c->values)[r]
#define GET_I64D(r) (double)((const int64_t *)c->values)[r]
#define GET_BITD(r) (double)fmt_bit((const uint8_t *)c->values, (uint64_t)(r))
#define GET_STRCMP(r) fmt_strcmp(c->data + c->offsets[r], (size_t)(c->offsets[(r) + 1] - c->offsets[r]), s, slen)

static void eval_int(const strom_column *c, strom_op op, int64_t k, uint8_t *keep)
{
    int64_t n = c->length;
    if (c->type == STROM_INT)
        EVAL_OPS(GET_I32, k);
    else if (c->type == STROM_BOOLEAN)
        EVAL_OPS(GET_BIT, k);
    else
        EVAL_OPS(GET_I64, k);
}

static void eval_float(const strom_column *c, strom_op op, double k, uint8_t *keep)
{
    int64_t n = c->length;
    switch (c->type) {
    case STROM_FLOAT: EVAL_OPS(GET_F32, k); break;
    case STROM_DOUBLE: EVAL_OPS(GET_F64, k); break;
    case STROM_INT: EVAL_OPS(GET_I32D, k); break;
    case STROM_BOOLEAN: EVAL_OPS(GET_BITD, k); break;
    default: EVAL_OPS(GET_I64D, k); break;
    }
}

static void eval_str(const strom_column *c, strom_op op, const strom_value *v, uint8_t *keep)
{
    int64_t n = c->length;
    const uint8_t *s = (const uint8_t *)v->v.s.ptr;
    size_t slen = v->v.s.len;
    EVAL_OPS(GET_STRCMP, 0);
}

void fmt_pred_eval(const strom_column *c, const fmt_pred *p, uint8_t *keep)
{
    int kind = kind_of(c->type, p->value.type);
    if (p->value.is_null || kind == KIND_NONE) {
        memset(keep, 0, (size_t)c->length);
        return;
    }
    if (kind == KIND_INT)
        eval_int(c, p->op, p->value.v.i, keep);
    else if (kind == KIND_FLOAT)
        eval_float(c, p->op, fmt_type_is_float(p->value.type) ? p->value.v.d
                                                               : (double)p->value.v.i, keep);
    else
        eval_str(c, p->op, &p->value, keep);
    for (int64_t r = 0; c->validity && r < c->length; r++)
        keep[r] &= fmt_bit(c->validity, (uint64_t)r);
}
