/* model.h: test helpers for src/format: a random table model (reference values kept
 * independently of the builder), batch decoding and comparison. Static, header-only. */
#ifndef STROM_TEST_FORMAT_MODEL_H
#define STROM_TEST_FORMAT_MODEL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "format/format.h"

static uint64_t rng_state = 88172645463325252ull;
/* Codec cases the tests encode with: the single-frame codecs (the layout before blocked
 * chunks) and the blocked ones with small and default blocks. */
typedef struct codec_case {
    int codec;
    uint32_t block;
} codec_case;
static const codec_case codec_cases[] __attribute__((unused)) = {
    {FMT_CODEC_NONE, 0}, {FMT_CODEC_ZSTD, 0}, {FMT_CODEC_LZ4, 0},
    {FMT_CODEC_ZSTD, 512}, {FMT_CODEC_LZ4, 512}, {FMT_CODEC_ZSTD, FMT_BLOCK_SIZE}};
#define NCODEC_CASES 6

static inline uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
/* Reference byte-string order: memcmp, then shorter first. */
static __attribute__((unused)) int ref_strcmp(const void *a, size_t al, const void *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? (c < 0 ? -1 : 1) : (al > bl) - (al < bl);
}

static inline uint64_t rndn(uint64_t n) { return n ? rnd() % n : 0; }

enum { P_RANDOM, P_SMALL, P_MONO, P_DECIMAL, P_SPECIAL, P_CONST, P_NPROFILES };

typedef struct mcol {
    strom_type type;
    int not_null, profile, null_pct;
    uint8_t *isnull;
    int64_t *i;
    double *d;
    char **s;
    size_t *slen;
} mcol;

typedef struct model {
    strom_schema *schema;
    strom_builder *b;
    int ncols;
    int64_t nrows;
    mcol c[24];
} model;

static int64_t gen_int(strom_type t, int profile, int64_t r)
{
    static const int64_t specials[] = {INT64_MIN, INT64_MAX, 0, -1, 1, INT64_MIN + 1};
    int64_t v;
    switch (profile) {
    case P_SMALL: v = 1000 + (int64_t)rndn(200); break;
    case P_MONO: v = 1700000000000LL + r * 1000 + (int64_t)rndn(5); break;
    case P_SPECIAL: v = specials[rndn(6)]; break;
    case P_CONST: v = 42; break;
    default: v = (int64_t)rnd(); break;
    }
    if (t == STROM_INT)
        v = (int32_t)(uint32_t)v;
    if (t == STROM_BOOLEAN)
        v &= 1;
    return v;
}

static double gen_double(strom_type t, int profile, int64_t r)
{
    static const double specials[] = {NAN, -0.0, 0.0, INFINITY, -INFINITY, 1e308, 5e-324, -1.5};
    double v;
    switch (profile) {
    case P_SMALL: case P_DECIMAL: v = (double)(10000 + (int64_t)rndn(100)) / 1000.0; break;
    case P_MONO: v = (double)r * 0.5; break;
    case P_SPECIAL: v = specials[rndn(8)]; break;
    case P_CONST: v = 230.1; break;
    default: {
        uint64_t bits = rnd();
        memcpy(&v, &bits, 8);
    }
    }
    return t == STROM_FLOAT ? (double)(float)v : v;
}

static void gen_str(mcol *c, int64_t r)
{
    char buf[200];
    size_t n;
    switch (c->profile) {
    case P_SMALL: case P_CONST: n = (size_t)snprintf(buf, sizeof buf, "dev-%03d", (int)rndn(c->profile == P_CONST ? 1 : 5)); break;
    case P_SPECIAL: n = rndn(3) ? 0 : 100 + rndn(90); memset(buf, 0xff, n); break;
    case P_MONO: n = (size_t)snprintf(buf, sizeof buf, "k%08lld", (long long)r); break;
    default:
        n = rndn(20);
        for (size_t k = 0; k < n; k++)
            buf[k] = (char)rnd();
    }
    c->s[r] = malloc(n + 1);
    memcpy(c->s[r], buf, n);
    c->slen[r] = n;
}

/* A model with ncols random columns (type cycles through all 8) and nrows random rows. */
static model *model_new(int ncols, int64_t nrows, int force_profile)
{
    model *m = calloc(1, sizeof *m);
    m->schema = strom_schema_create();
    m->ncols = ncols;
    m->nrows = nrows;
    for (int i = 0; i < ncols; i++) {
        mcol *c = &m->c[i];
        char name[16];
        snprintf(name, sizeof name, "c%d", i);
        c->type = (strom_type)(1 + (i % 8));
        c->not_null = rndn(4) == 0;
        c->profile = force_profile >= 0 ? force_profile : (int)rndn(P_NPROFILES);
        c->null_pct = c->not_null ? 0 : (int)(rndn(3) == 0 ? 100 : rndn(3) * 20);
        strom_schema_add(m->schema, name, c->type, c->not_null);
        c->isnull = calloc((size_t)nrows + 1, 1);
        c->i = calloc((size_t)nrows + 1, 8);
        c->d = calloc((size_t)nrows + 1, 8);
        c->s = calloc((size_t)nrows + 1, sizeof(char *));
        c->slen = calloc((size_t)nrows + 1, sizeof(size_t));
    }
    m->b = strom_builder_create(m->schema);
    for (int64_t r = 0; r < nrows; r++) {
        for (int i = 0; i < ncols; i++) {
            mcol *c = &m->c[i];
            strom_err err;
            if (!c->not_null && (int)rndn(100) < c->null_pct) {
                c->isnull[r] = 1;
                err = strom_builder_put_null(m->b, i);
            } else if (fmt_type_is_int(c->type)) {
                c->i[r] = gen_int(c->type, c->profile, r);
                err = strom_builder_put_int(m->b, i, c->i[r]);
            } else if (fmt_type_is_float(c->type)) {
                c->d[r] = gen_double(c->type, c->profile, r);
                err = strom_builder_put_f64(m->b, i, c->d[r]);
            } else {
                gen_str(c, r);
                err = strom_builder_put_str(m->b, i, c->s[r], c->slen[r]);
            }
            if (err)
                fprintf(stderr, "put: %s\n", strom_errmsg());
        }
        if (strom_builder_end_row(m->b))
            fprintf(stderr, "end_row: %s\n", strom_errmsg());
    }
    return m;
}

static void model_free(model *m)
{
    for (int i = 0; i < m->ncols; i++) {
        for (int64_t r = 0; r < m->nrows; r++)
            free(m->c[i].s[r]);
        free(m->c[i].isnull), free(m->c[i].i), free(m->c[i].d), free(m->c[i].s);
        free(m->c[i].slen);
    }
    strom_builder_destroy(m->b);
    strom_schema_destroy(m->schema);
    free(m);
}

/* 1 if decoded row k of column col equals model row r (bit-exact for floats). */
static __attribute__((unused)) int cell_equal(const model *m, int col, const strom_column *c, int64_t k, int64_t r)
{
    const mcol *mc = &m->c[col];
    int valid = !c->validity || ((c->validity[k >> 3] >> (k & 7)) & 1);
    if (valid == mc->isnull[r])
        return 0;
    if (!valid)
        return 1;
    switch (c->type) {
    case STROM_BOOLEAN: return ((((const uint8_t *)c->values)[k >> 3] >> (k & 7)) & 1) == mc->i[r];
    case STROM_INT: return ((const int32_t *)c->values)[k] == mc->i[r];
    case STROM_BIGINT: case STROM_TIMESTAMP: return ((const int64_t *)c->values)[k] == mc->i[r];
    case STROM_FLOAT: { float f = (float)mc->d[r]; return memcmp(&f, (const float *)c->values + k, 4) == 0; }
    case STROM_DOUBLE: return memcmp(&mc->d[r], (const double *)c->values + k, 8) == 0;
    default: {
        size_t len = (size_t)(c->offsets[k + 1] - c->offsets[k]);
        return len == mc->slen[r] && (len == 0 || memcmp(c->data + c->offsets[k], mc->s[r], len) == 0);
    }
    }
}

#endif
