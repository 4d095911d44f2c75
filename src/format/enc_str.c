/* enc_str.c: STRING/BYTES encoders: PLAIN (offsets + bytes) and DICT (distinct values +
 * narrow indices) when the distinct count is at most half the rows. */
#include "fmt_int.h"

#include <stdlib.h>

typedef struct str_src {
    const int32_t *off;
    const uint8_t *data;
} str_src;

static inline uint32_t slen(const str_src *s, uint32_t r) { return (uint32_t)(s->off[r + 1] - s->off[r]); }
static inline const uint8_t *sptr(const str_src *s, uint32_t r) { return s->data + s->off[r]; }

/* Min and max over rows[0..n) of the strings (pointers stay in the builder). */
static void str_stats(const str_src *s, const uint32_t *rows, uint32_t n, fmt_colstat *st)
{
    if (n == 0)
        return;
    uint32_t mn = rows[0], mx = rows[0];
    for (uint32_t i = 1; i < n; i++) {
        uint32_t r = rows[i];
        if (fmt_strcmp(sptr(s, r), slen(s, r), sptr(s, mn), slen(s, mn)) < 0)
            mn = r;
        else if (fmt_strcmp(sptr(s, r), slen(s, r), sptr(s, mx), slen(s, mx)) > 0)
            mx = r;
    }
    st->flags |= FMT_F_STATS;
    st->smin = sptr(s, mn);
    st->smin_len = slen(s, mn);
    st->smax = sptr(s, mx);
    st->smax_len = slen(s, mx);
}

static strom_err put_plain(fmt_encoder *e, const str_src *s, const uint32_t *sel, uint32_t n)
{
    size_t bytes = 0;
    for (uint32_t i = 0; i < n; i++)
        bytes += slen(s, sel[i]);
    if (bytes > INT32_MAX)
        return strom_fail(STROM_ELIMIT, "encode: string column over 2 GiB");
    uint8_t *p = strom_buf_grow(&e->raw, 4 * ((size_t)n + 1) + bytes);
    if (!p)
        return STROM_ENOMEM;
    uint8_t *d = p + 4 * ((size_t)n + 1);
    int32_t o = 0;
    memcpy(p, &o, 4);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = slen(s, sel[i]);
        memcpy(d + o, sptr(s, sel[i]), len);
        o += (int32_t)len;
        memcpy(p + 4 * ((size_t)i + 1), &o, 4);
    }
    return STROM_OK;
}

/* ------------------------------------------------------------------ dict */

static strom_err dict_prepare(fmt_dict_tab *t, uint32_t want)
{
    uint32_t cap = 64;
    while (cap < want * 2)
        cap *= 2;
    if (cap > t->cap) {
        free(t->slots);
        t->slots = strom_malloc((size_t)cap * 4);
        t->cap = t->slots ? cap : 0;
        if (!t->slots)
            return STROM_ENOMEM;
    }
    memset(t->slots, 0, (size_t)cap * 4);
    t->mask = cap - 1;
    return STROM_OK;
}

/* Builds dictionary entries (builder rows, first occurrence) in ents and per-row indices
 * in idx. Returns the distinct count, or UINT32_MAX once it exceeds limit. */
static uint32_t dict_build(fmt_dict_tab *t, const str_src *s, const uint32_t *sel, uint32_t n,
                           const uint8_t *bm, uint32_t limit, uint32_t *ents, uint32_t *idx)
{
    uint32_t nd = 0, mask = t->mask;
    for (uint32_t i = 0; i < n; i++) {
        idx[i] = 0;
        if (bm && !fmt_bit(bm, i))
            continue;
        uint32_t r = sel[i], len = slen(s, r);
        const uint8_t *p = sptr(s, r);
        uint32_t h = (uint32_t)strom_hash64(p, len) & mask;
        for (;; h = (h + 1) & mask) {
            uint32_t slot = t->slots[h];
            if (slot == 0) {
                if (nd == limit)
                    return UINT32_MAX;
                ents[nd] = r;
                t->slots[h] = ++nd;
                idx[i] = nd - 1;
                break;
            }
            uint32_t er = ents[slot - 1];
            if (slen(s, er) == len && memcmp(sptr(s, er), p, len) == 0) {
                idx[i] = slot - 1;
                break;
            }
        }
    }
    return nd;
}

static strom_err put_dict(fmt_encoder *e, const str_src *s, const uint32_t *ents, uint32_t nd,
                          const uint32_t *idx, uint32_t n)
{
    unsigned w = nd <= 256 ? 1 : nd <= 65536 ? 2 : 4;
    size_t bytes = 0;
    for (uint32_t i = 0; i < nd; i++)
        bytes += slen(s, ents[i]);
    uint8_t *p = strom_buf_grow(&e->raw, 4 + 4 * ((size_t)nd + 1) + bytes + 1 + (size_t)n * w);
    if (!p)
        return STROM_ENOMEM;
    strom_put_u32(p, nd);
    uint8_t *offs = p + 4, *d = offs + 4 * ((size_t)nd + 1);
    uint32_t o = 0;
    strom_put_u32(offs, 0);
    for (uint32_t i = 0; i < nd; i++) {
        memcpy(d + o, sptr(s, ents[i]), slen(s, ents[i]));
        o += slen(s, ents[i]);
        strom_put_u32(offs + 4 * ((size_t)i + 1), o);
    }
    uint8_t *q = d + o;
    *q++ = (uint8_t)w;
    for (uint32_t i = 0; i < n; i++)
        memcpy(q + (size_t)i * w, &idx[i], w); /* little-endian low bytes */
    return STROM_OK;
}

/* 1 and the DICT chunk written if the column has few distinct values; 0 otherwise. */
static int try_dict(fmt_encoder *e, const str_src *s, const uint32_t *sel, uint32_t n,
                    const uint8_t *bm, fmt_colstat *st, strom_err *err)
{
    uint32_t limit = n / 2;
    uint32_t *ents = NULL, *idx = NULL;
    e->scratch2.len = e->scratch.len = 0;
    if (limit == 0 || !(ents = (uint32_t *)strom_buf_grow(&e->scratch2, (size_t)limit * 4)) ||
        !(idx = (uint32_t *)strom_buf_grow(&e->scratch, (size_t)n * 4)) ||
        dict_prepare(&e->dict, limit) != STROM_OK)
        return 0;
    uint32_t nd = dict_build(&e->dict, s, sel, n, bm, limit, ents, idx);
    if (nd == UINT32_MAX || nd == 0)
        return 0;
    str_stats(s, ents, nd, st);
    *err = put_dict(e, s, ents, nd, idx, n);
    return 1;
}

strom_err fmt_enc_str(fmt_encoder *e, const fmt_vec *v, const uint32_t *sel, uint32_t n,
                      const uint8_t *bm, int plain_only, fmt_colstat *st, uint8_t *enc)
{
    str_src s = {(const int32_t *)(const void *)v->offsets.data, v->data.data};
    strom_err err = STROM_OK;
    if (!plain_only && try_dict(e, &s, sel, n, bm, st, &err)) {
        *enc = FMT_ENC_DICT;
        return err;
    }
    *enc = FMT_ENC_PLAIN;
    const uint32_t *rows = sel;
    uint32_t nv = n;
    if (bm) { /* stats over the valid rows only */
        e->scratch.len = 0;
        uint32_t *vr = (uint32_t *)(void *)strom_buf_grow(&e->scratch, (size_t)n * 4);
        if (!vr)
            return STROM_ENOMEM;
        nv = 0;
        for (uint32_t i = 0; i < n; i++)
            if (fmt_bit(bm, i))
                vr[nv++] = sel[i];
        rows = vr;
    }
    str_stats(&s, rows, nv, st);
    return put_plain(e, &s, sel, n);
}
