/* vtab_group.c: rows grouped or ordered by key for the virtual table's PLAN_GROUP (see
 * vtab_group.h for the method, the memory budget and the canonical key bytes). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* qsort_r */
#endif
#include "vtab_group.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

enum { CL_INT, CL_DBL, CL_STR };

typedef struct gcol {
    strom_type type;
    int cls;
    int key;                   /* index into keys + 1: a key column (not kept per row) */
    int64_t *iv;               /* CL_INT values per row */
    double *dv;                /* CL_DBL values per row */
    int64_t *off;              /* CL_STR: row r is data[off[r], off[r + 1]) */
    strom_buf data;
    uint8_t *valid;            /* 1 valid, 0 NULL, per row */
} gcol;

typedef struct grec {          /* a group: 32 bytes that a probe reads together */
    uint64_t hash;
    int64_t koff;              /* its key bytes in karena */
    uint32_t klen, pad;
    int64_t count;             /* rows; sqlg_finish: the next position of the group */
} grec;

struct sqlg {
    int ncols, nkeys;
    int keys[SQLG_MAX_KEYS], desc[SQLG_MAX_KEYS];
    gcol *cols;
    int64_t rowb;              /* fixed bytes per kept row */
    /* rows of the pass */
    int64_t n, cap;
    uint32_t *gid, *perm;
    /* groups of the pass */
    int64_t ng, gcap;
    grec *gr;
    uint32_t *gorder;
    strom_buf karena;
    strom_buf kbatch;          /* the keys of the batch being added, row r at kofs[r] */
    int64_t *kofs;
    uint64_t *hs;              /* their hashes */
    uint32_t *slots;
    int64_t nslots;
    uint32_t *sel;
    int64_t selcap;
    /* spares of the per-row vectors for the reordering (sqlg_finish), spcap rows */
    void *sp8;
    uint8_t *sp1;
    uint32_t *sp4;
    int64_t *spoff;
    strom_buf spdata;
    int64_t spcap;
    /* the pass: rows whose key is after lo (when has_lo) and not after hi (when has_hi),
     * in emission order (canonical key bytes) */
    strom_buf lo, hi;
    int has_lo, has_hi;
    int64_t pos;
};

static _Atomic int64_t budget = SQLG_DEFAULT_BUDGET;
static _Atomic int64_t passes_total;

int64_t sqlg_budget(int64_t bytes)
{
    if (bytes != 0)
        atomic_store(&budget, bytes > 0 ? bytes : SQLG_DEFAULT_BUDGET);
    return atomic_load(&budget);
}

static int class_of(strom_type t)
{
    if (t == STROM_FLOAT || t == STROM_DOUBLE)
        return CL_DBL;
    return t == STROM_STRING || t == STROM_BYTES ? CL_STR : CL_INT;
}

static int is_key(const int *keys, int nkeys, int i)
{
    for (int k = 0; k < nkeys; k++)
        if (keys[k] == i)
            return k + 1;
    return 0;
}

/* Bytes per row: group id, position, and per kept column validity and value (strings:
 * offset and guess bytes of text). */
static int64_t row_bytes(const strom_type *types, int ncols, const int *keys, int nkeys, int guess)
{
    int64_t b = 2 * sizeof(uint32_t) + 8 + 1 + 4 + 8;   /* + the spares of the reordering */
    for (int i = 0; i < ncols; i++)
        if (!is_key(keys, nkeys, i))
            b += 1 + 8 + (class_of(types[i]) == CL_STR ? guess : 0);
    return b;
}

int64_t sqlg_row_bytes(const strom_type *types, int ncols, const int *keys, int nkeys)
{
    return row_bytes(types, ncols, keys, nkeys, 16);
}

sqlg *sqlg_create(const strom_type *types, int ncols, const int *keys, const int *desc, int nkeys)
{
    if (nkeys < 1 || nkeys > SQLG_MAX_KEYS)
        return NULL;
    sqlg *g = strom_calloc(1, sizeof *g);
    gcol *cols = g ? strom_calloc((size_t)ncols, sizeof *cols) : NULL;
    if (!cols) {
        free(g);
        return NULL;
    }
    g->cols = cols;
    g->ncols = ncols;
    g->nkeys = nkeys;
    memcpy(g->keys, keys, sizeof(int) * (size_t)nkeys);
    memcpy(g->desc, desc, sizeof(int) * (size_t)nkeys);
    for (int i = 0; i < ncols; i++) {
        cols[i].type = types[i];
        cols[i].cls = class_of(types[i]);
        cols[i].key = is_key(keys, nkeys, i);
    }
    g->rowb = row_bytes(types, ncols, keys, nkeys, 0);   /* the text is counted as it comes */
    g->pos = -1;
    return g;
}

void sqlg_destroy(sqlg *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->ncols; i++) {
        free(g->cols[i].iv);
        free(g->cols[i].dv);
        free(g->cols[i].off);
        free(g->cols[i].valid);
        strom_buf_free(&g->cols[i].data);
    }
    free(g->cols);
    free(g->gid);
    free(g->perm);
    free(g->gr);
    free(g->kofs);
    free(g->hs);
    free(g->gorder);
    free(g->slots);
    free(g->sel);
    free(g->sp8);
    free(g->sp1);
    free(g->sp4);
    free(g->spoff);
    strom_buf_free(&g->spdata);
    strom_buf_free(&g->karena);
    strom_buf_free(&g->lo);
    strom_buf_free(&g->hi);
    strom_buf_free(&g->kbatch);
    free(g);
}

void sqlg_restart(sqlg *g)
{
    g->has_lo = g->has_hi = 0;
    sqlg_pass_begin(g);
}

void sqlg_pass_begin(sqlg *g)
{
    g->n = 0;
    g->ng = 0;
    g->pos = -1;
    strom_buf_clear(&g->karena);
    for (int i = 0; i < g->ncols; i++)
        strom_buf_clear(&g->cols[i].data);
    if (g->slots)
        memset(g->slots, 0, sizeof *g->slots * (size_t)g->nslots);
}

/* ------------------------------------------------------------- growth */

static int grow(void **p, int64_t cap, size_t each)
{
    void *n = realloc(*p, (size_t)cap * each);
    if (!n)
        return 0;
    *p = n;
    return 1;
}

/* A capacity >= want grown by doubling from have (first when 0); 0 when have is enough. */
static int64_t new_cap(int64_t have, int64_t want, int64_t first)
{
    if (want <= have)
        return 0;
    int64_t cap = have ? 2 * have : first;
    while (cap < want)
        cap *= 2;
    return cap;
}

/* Room for need more rows in every per-row vector. */
static strom_err ensure_rows(sqlg *g, int64_t need)
{
    int64_t cap = new_cap(g->cap, g->n + need, 8192);
    if (!cap)
        return STROM_OK;
    int ok = grow((void **)&g->gid, cap, 4) && grow((void **)&g->perm, cap, 4);
    for (int i = 0; ok && i < g->ncols; i++) {
        gcol *c = &g->cols[i];
        if (c->key)
            continue;
        ok = grow((void **)&c->valid, cap, 1);
        if (ok && c->cls == CL_INT)
            ok = grow((void **)&c->iv, cap, 8);
        if (ok && c->cls == CL_DBL)
            ok = grow((void **)&c->dv, cap, 8);
        if (ok && c->cls == CL_STR)
            ok = grow((void **)&c->off, cap + 1, 8);
    }
    if (!ok)
        return strom_fail(STROM_ENOMEM, "grouped read: no memory for %lld rows", (long long)cap);
    g->cap = cap;
    return STROM_OK;
}

/* Room for more new groups. */
static strom_err ensure_groups(sqlg *g, int64_t more)
{
    int64_t cap = new_cap(g->gcap, g->ng + more, 1024);
    if (!cap)
        return STROM_OK;
    int ok = grow((void **)&g->gr, cap, sizeof(grec)) && grow((void **)&g->gorder, cap, 4);
    if (!ok)
        return strom_fail(STROM_ENOMEM, "grouped read: no memory for %lld groups", (long long)cap);
    g->gcap = cap;
    return STROM_OK;
}

/* Doubles the hash table (or makes the first) and places every group again. */
static strom_err rehash(sqlg *g)
{
    int64_t n = g->nslots ? 2 * g->nslots : 4096;
    uint32_t *s = calloc((size_t)n, sizeof *s);
    if (!s)
        return strom_fail(STROM_ENOMEM, "grouped read: no memory for the hash table");
    for (int64_t gi = 0; gi < g->ng; gi++) {
        uint64_t i = g->gr[gi].hash & (uint64_t)(n - 1);
        while (s[i])
            i = (i + 1) & (uint64_t)(n - 1);
        s[i] = (uint32_t)gi + 1;
    }
    free(g->slots);
    g->slots = s;
    g->nslots = n;
    return STROM_OK;
}

/* ------------------------------------------------------------- keys */

static int is_null(const strom_column *c, int64_t r)
{
    return c->null_count && c->validity && !(c->validity[r >> 3] >> (r & 7) & 1);
}

static int64_t int_at(const strom_column *c, int64_t r)
{
    switch (c->type) {
    case STROM_BOOLEAN: return ((const uint8_t *)c->values)[r >> 3] >> (r & 7) & 1;
    case STROM_INT: return ((const int32_t *)c->values)[r];
    default: return ((const int64_t *)c->values)[r];
    }
}

static double dbl_at(const strom_column *c, int64_t r)
{
    return c->type == STROM_FLOAT ? ((const float *)c->values)[r] : ((const double *)c->values)[r];
}

/* Appends the canonical bytes of key column c's row r to kb (room reserved by caller for
 * 9 bytes; strings reserve their own). */
static strom_err key_put(strom_buf *kb, const strom_column *c, int cls, int64_t r)
{
    uint8_t *p = kb->data + kb->len;
    if (is_null(c, r)) {
        p[0] = 0;
        kb->len += 1;
        return STROM_OK;
    }
    if (cls == CL_INT) {
        int64_t x = int_at(c, r);
        p[0] = 1;
        memcpy(p + 1, &x, 8);
        kb->len += 9;
    } else if (cls == CL_DBL) {
        double d = dbl_at(c, r);
        d = d == 0 ? 0.0 : d;                 /* -0.0 groups with 0.0, as in SQLite */
        p[0] = d == d;                        /* NaN is NULL in SQLite */
        if (d == d)
            memcpy(p + 1, &d, 8);
        kb->len += d == d ? 9 : 1;
    } else {
        uint32_t n = (uint32_t)(c->offsets[r + 1] - c->offsets[r]);
        if (strom_buf_reserve(kb, 5 + (size_t)n) != STROM_OK)
            return STROM_ENOMEM;
        p = kb->data + kb->len;
        p[0] = 1;
        memcpy(p + 1, &n, 4);
        if (n)
            memcpy(p + 5, c->data + c->offsets[r], n);
        kb->len += 5 + n;
    }
    return STROM_OK;
}

/* The canonical keys of the batch's rows into kbatch (row r at kofs[r]) and their hashes. */
static strom_err batch_keys(sqlg *g, const strom_column *views, int64_t nrows)
{
    strom_buf *kb = &g->kbatch;
    strom_buf_clear(kb);
    for (int64_t r = 0; r < nrows; r++) {
        g->kofs[r] = (int64_t)kb->len;
        for (int k = 0; k < g->nkeys; k++) {
            const gcol *c = &g->cols[g->keys[k]];
            if (strom_buf_reserve(kb, 9) != STROM_OK || key_put(kb, &views[g->keys[k]], c->cls, r) != STROM_OK)
                return strom_fail(STROM_ENOMEM, "grouped read: no memory for a key");
        }
    }
    g->kofs[nrows] = (int64_t)kb->len;
    for (int64_t r = 0; r < nrows; r++)
        g->hs[r] = strom_hash64(kb->data + g->kofs[r], (size_t)(g->kofs[r + 1] - g->kofs[r]));
    return STROM_OK;
}

/* The group of key k (len bytes, hash h), made when new. Room for it is made beforehand
 * (batch_room), so nothing moves while a batch is added. */
static uint32_t group_of(sqlg *g, const uint8_t *k, uint32_t len, uint64_t h)
{
    uint64_t mask = (uint64_t)g->nslots - 1, i = h & mask;
    for (; g->slots[i]; i = (i + 1) & mask) {
        const grec *x = &g->gr[g->slots[i] - 1];
        if (x->hash == h && x->klen == len && !memcmp(g->karena.data + x->koff, k, len))
            return g->slots[i] - 1;
    }
    grec *x = &g->gr[g->ng];
    x->hash = h;
    x->koff = (int64_t)g->karena.len;
    x->klen = len;
    x->count = 0;
    memcpy(g->karena.data + g->karena.len, k, len);
    g->karena.len += len;
    g->slots[i] = (uint32_t)g->ng + 1;
    return (uint32_t)g->ng++;
}

/* Room for every row of a batch of nrows to make a new group: groups, slots (half full at
 * most) and key bytes. */
static strom_err batch_room(sqlg *g, int64_t nrows)
{
    if (ensure_groups(g, nrows) != STROM_OK)
        return STROM_ENOMEM;
    while ((g->ng + nrows) * 2 > g->nslots)
        if (rehash(g) != STROM_OK)
            return STROM_ENOMEM;
    if (strom_buf_reserve(&g->karena, g->kbatch.len) != STROM_OK)
        return strom_fail(STROM_ENOMEM, "grouped read: no memory for the keys");
    return STROM_OK;
}

/* ------------------------------------------------------------- rows */

/* Values of non-key column i for the m selected rows of a batch. */
static strom_err keep_values(sqlg *g, int i, const strom_column *v, int64_t m)
{
    gcol *c = &g->cols[i];
    int64_t base = g->n;
    for (int64_t j = 0; j < m; j++)
        c->valid[base + j] = !is_null(v, g->sel[j]);
    if (c->cls == CL_INT) {
        for (int64_t j = 0; j < m; j++)
            c->iv[base + j] = int_at(v, g->sel[j]);
    } else if (c->cls == CL_DBL) {
        for (int64_t j = 0; j < m; j++)
            c->dv[base + j] = dbl_at(v, g->sel[j]);
    } else {
        size_t bytes = 0;
        for (int64_t j = 0; j < m; j++)
            bytes += (size_t)(v->offsets[g->sel[j] + 1] - v->offsets[g->sel[j]]);
        if (strom_buf_reserve(&c->data, bytes) != STROM_OK)
            return strom_fail(STROM_ENOMEM, "grouped read: no memory for %zu bytes of strings", bytes);
        for (int64_t j = 0; j < m; j++) {
            int64_t r = g->sel[j];
            size_t n = (size_t)(v->offsets[r + 1] - v->offsets[r]);
            c->off[base + j] = (int64_t)c->data.len;
            if (n) {
                memcpy(c->data.data + c->data.len, v->data + v->offsets[r], n);
                c->data.len += n;
            }
        }
        c->off[base + m] = (int64_t)c->data.len;
    }
    return STROM_OK;
}

static int64_t bytes_kept(const sqlg *g)
{
    int64_t b = g->n * g->rowb + (int64_t)g->karena.len + g->ng * (int64_t)(sizeof(grec) + 4) + g->nslots * 4;
    for (int i = 0; i < g->ncols; i++)
        b += (int64_t)g->cols[i].data.len;
    return b;
}

static int key_cmp(const sqlg *g, const uint8_t *a, const uint8_t *b);
static void sort_groups(sqlg *g);

/* Prefetches what the probe of row r will read: its slot 16 rows ahead, the group in
 * that slot 8 ahead, the group's key 4 ahead (the hash table does not fit the caches). */
static void prefetch(const sqlg *g, int64_t r, int64_t nrows)
{
    uint64_t mask = (uint64_t)g->nslots - 1;
    if (r + 16 < nrows)
        __builtin_prefetch(&g->slots[g->hs[r + 16] & mask]);
    uint32_t s8 = r + 8 < nrows ? g->slots[g->hs[r + 8] & mask] : 0;
    if (s8)
        __builtin_prefetch(&g->gr[s8 - 1]);
    uint32_t s4 = r + 4 < nrows ? g->slots[g->hs[r + 4] & mask] : 0;
    if (s4)
        __builtin_prefetch(g->karena.data + g->gr[s4 - 1].koff);
}

/* Selects the batch's rows of this pass (sel) and gives each its group. m: how many. */
static strom_err assign_groups(sqlg *g, const strom_column *views, int64_t nrows, int64_t *m)
{
    *m = 0;
    strom_err e = batch_keys(g, views, nrows);
    if (e == STROM_OK)
        e = batch_room(g, nrows);
    for (int64_t r = 0; e == STROM_OK && r < nrows; r++) {
        prefetch(g, r, nrows);
        const uint8_t *k = g->kbatch.data + g->kofs[r];
        if ((g->has_lo && key_cmp(g, k, g->lo.data) <= 0) || (g->has_hi && key_cmp(g, k, g->hi.data) > 0))
            continue;                         /* another pass's row */
        uint32_t gi = group_of(g, k, (uint32_t)(g->kofs[r + 1] - g->kofs[r]), g->hs[r]);
        g->gr[gi].count++;
        g->gid[g->n + *m] = gi;
        g->sel[(*m)++] = (uint32_t)r;
    }
    return e;
}

/* The pass outgrew the budget: it ends, for a rescan, at the middle one of its groups so
 * far (in emission order), so that the next try holds at most about half of them. */
static strom_err split_pass(sqlg *g, int *over)
{
    sort_groups(g);
    uint32_t mid = g->gorder[(g->ng - 1) / 2];
    strom_buf_clear(&g->hi);
    if (strom_buf_append(&g->hi, g->karena.data + g->gr[mid].koff, g->gr[mid].klen) != STROM_OK)
        return strom_fail(STROM_ENOMEM, "grouped read: no memory for a key");
    g->has_hi = 1;
    *over = 1;
    return STROM_OK;
}

strom_err sqlg_add(sqlg *g, const strom_column *views, int64_t nrows, int *over)
{
    *over = 0;
    if (nrows <= 0)
        return STROM_OK;
    if (nrows > g->selcap) {
        if (!grow((void **)&g->sel, nrows, 4) || !grow((void **)&g->kofs, nrows + 1, 8) ||
            !grow((void **)&g->hs, nrows, 8))
            return strom_fail(STROM_ENOMEM, "grouped read: no memory for a batch of %lld rows", (long long)nrows);
        g->selcap = nrows;
    }
    if (g->n + nrows >= UINT32_MAX)
        return strom_fail(STROM_ELIMIT, "grouped read: more than 4 billion rows in one pass");
    strom_err e = ensure_rows(g, nrows);
    int64_t m = 0;
    if (e == STROM_OK)
        e = assign_groups(g, views, nrows, &m);
    for (int i = 0; e == STROM_OK && i < g->ncols; i++)
        if (!g->cols[i].key)
            e = keep_values(g, i, &views[i], m);
    if (e != STROM_OK)
        return e;
    g->n += m;
    if (g->ng > 1 && bytes_kept(g) > atomic_load(&budget))
        return split_pass(g, over);
    return STROM_OK;
}

/* ------------------------------------------------------------- emission */

/* Compares two 8-byte numbers of a canonical key: int64 (CL_INT) or double. */
static int num_cmp(const uint8_t *a, const uint8_t *b, int cls)
{
    int64_t x, y;
    double dx, dy;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    memcpy(&dx, a, 8);
    memcpy(&dy, b, 8);
    if (cls == CL_INT)
        return x < y ? -1 : x > y;
    return dx < dy ? -1 : dx > dy;
}

/* Compares the canonical keys a and b column by column as SQLite orders them. */
static int key_cmp(const sqlg *g, const uint8_t *a, const uint8_t *b)
{
    for (int k = 0; k < g->nkeys; k++) {
        int cls = g->cols[g->keys[k]].cls, d = 0;
        size_t na = 1, nb = 1;
        if (a[0] != b[0]) {
            d = a[0] < b[0] ? -1 : 1;
        } else if (a[0] && cls != CL_STR) {
            d = num_cmp(a + 1, b + 1, cls);
            na = nb = 9;
        } else if (a[0]) {
            uint32_t la, lb;
            memcpy(&la, a + 1, 4);
            memcpy(&lb, b + 1, 4);
            int c = memcmp(a + 5, b + 5, la < lb ? la : lb);
            d = c ? c : la < lb ? -1 : la > lb;
            na = 5 + la;
            nb = 5 + lb;
        }
        if (d)
            return g->desc[k] ? -d : d;
        a += na;
        b += nb;
    }
    return 0;
}

static int order_cmp(const void *x, const void *y, void *arg)
{
    const sqlg *g = arg;
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return key_cmp(g, g->karena.data + g->gr[a].koff, g->karena.data + g->gr[b].koff);
}

static void swap_ptr(void *a, void *b)
{
    void *t;
    memcpy(&t, a, sizeof t);
    memcpy(a, b, sizeof t);
    memcpy(b, &t, sizeof t);
}

/* Text column c in emission order (through the spare offsets and bytes). */
static strom_err gather_text(sqlg *g, gcol *c)
{
    strom_buf_clear(&g->spdata);
    if (strom_buf_reserve(&g->spdata, c->data.len) != STROM_OK)
        return strom_fail(STROM_ENOMEM, "grouped read: no memory to reorder %zu bytes", c->data.len);
    for (int64_t j = 0; j < g->n; j++) {
        uint32_t r = g->perm[j];
        size_t n = (size_t)(c->off[r + 1] - c->off[r]);
        g->spoff[j] = (int64_t)g->spdata.len;
        if (n)
            memcpy(g->spdata.data + g->spdata.len, c->data.data + c->off[r], n);
        g->spdata.len += n;
    }
    g->spoff[g->n] = (int64_t)g->spdata.len;
    swap_ptr(&c->off, &g->spoff);
    strom_buf t = c->data;
    c->data = g->spdata;
    g->spdata = t;
    return STROM_OK;
}

/* Puts every per-row vector in emission order (a gather through perm in tight loops, so
 * that SQLite then reads the rows sequentially: row j of the pass is vector slot j). */
static strom_err reorder(sqlg *g)
{
    if (g->n == 0)
        return STROM_OK;
    if (g->spcap < g->cap) {
        if (!grow(&g->sp8, g->cap, 8) || !grow((void **)&g->sp1, g->cap, 1) ||
            !grow((void **)&g->sp4, g->cap, 4) || !grow((void **)&g->spoff, g->cap + 1, 8))
            return strom_fail(STROM_ENOMEM, "grouped read: no memory to reorder %lld rows", (long long)g->n);
        g->spcap = g->cap;
    }
    for (int64_t j = 0; j < g->n; j++)
        g->sp4[j] = g->gid[g->perm[j]];
    swap_ptr(&g->gid, &g->sp4);
    for (int i = 0; i < g->ncols; i++) {
        gcol *c = &g->cols[i];
        if (c->key)
            continue;
        for (int64_t j = 0; j < g->n; j++)
            g->sp1[j] = c->valid[g->perm[j]];
        swap_ptr(&c->valid, &g->sp1);
        if (c->cls == CL_INT) {
            int64_t *o = g->sp8;
            for (int64_t j = 0; j < g->n; j++)
                o[j] = c->iv[g->perm[j]];
            swap_ptr(&c->iv, &g->sp8);
        } else if (c->cls == CL_DBL) {
            double *o = g->sp8;
            for (int64_t j = 0; j < g->n; j++)
                o[j] = c->dv[g->perm[j]];
            swap_ptr(&c->dv, &g->sp8);
        } else if (gather_text(g, c) != STROM_OK) {
            return STROM_ENOMEM;
        }
    }
    return STROM_OK;
}

/* gorder: the groups in emission order. */
static void sort_groups(sqlg *g)
{
    for (int64_t gi = 0; gi < g->ng; gi++)
        g->gorder[gi] = (uint32_t)gi;
    if (g->ng > 1)
        qsort_r(g->gorder, (size_t)g->ng, sizeof *g->gorder, order_cmp, g);
}

strom_err sqlg_finish(sqlg *g)
{
    sort_groups(g);
    int64_t s = 0;
    for (int64_t j = 0; j < g->ng; j++) {      /* counts -> first position of each group */
        int64_t cnt = g->gr[g->gorder[j]].count;
        g->gr[g->gorder[j]].count = s;
        s += cnt;
    }
    for (int64_t r = 0; r < g->n; r++)
        g->perm[g->gr[g->gid[r]].count++] = (uint32_t)r;
    strom_err e = reorder(g);
    g->pos = -1;
    atomic_fetch_add(&passes_total, 1);
    return e;
}

int sqlg_next(sqlg *g)
{
    return ++g->pos < g->n;
}

int sqlg_more(sqlg *g)
{
    if (!g->has_hi)
        return 0;
    strom_buf t = g->lo;                       /* the next pass starts after this one's end */
    g->lo = g->hi;
    g->hi = t;
    g->has_lo = 1;
    g->has_hi = 0;
    return 1;
}

int64_t sqlg_passes_total(void) { return atomic_load(&passes_total); }

static void result_key(const sqlg *g, sqlite3_context *ctx, const gcol *c, uint32_t gi)
{
    const uint8_t *p = g->karena.data + g->gr[gi].koff;
    for (int k = 0; k + 1 < c->key; k++) {     /* skip the keys before this one */
        int cls = g->cols[g->keys[k]].cls;
        uint32_t n = 0;
        if (p[0] && cls == CL_STR)
            memcpy(&n, p + 1, 4);
        p += !p[0] ? 1 : cls == CL_STR ? 5 + n : 9;
    }
    if (!p[0]) {
        sqlite3_result_null(ctx);
    } else if (c->cls == CL_INT) {
        int64_t x;
        memcpy(&x, p + 1, 8);
        sqlite3_result_int64(ctx, x);
    } else if (c->cls == CL_DBL) {
        double d;
        memcpy(&d, p + 1, 8);
        sqlite3_result_double(ctx, d);
    } else {
        uint32_t n;
        memcpy(&n, p + 1, 4);
        if (c->type == STROM_STRING)
            sqlite3_result_text(ctx, (const char *)p + 5, (int)n, SQLITE_TRANSIENT);
        else
            sqlite3_result_blob(ctx, p + 5, (int)n, SQLITE_TRANSIENT);
    }
}

void sqlg_result(const sqlg *g, sqlite3_context *ctx, int i)
{
    int64_t r = g->pos;                        /* the vectors are in emission order */
    const gcol *c = &g->cols[i];
    if (c->key) {
        result_key(g, ctx, c, g->gid[r]);
    } else if (!c->valid[r]) {
        sqlite3_result_null(ctx);
    } else if (c->cls == CL_INT) {
        sqlite3_result_int64(ctx, c->iv[r]);
    } else if (c->cls == CL_DBL) {
        sqlite3_result_double(ctx, c->dv[r]);
    } else {
        const char *p = (const char *)c->data.data + c->off[r];
        int n = (int)(c->off[r + 1] - c->off[r]);
        if (c->type == STROM_STRING)
            sqlite3_result_text(ctx, p, n, SQLITE_TRANSIENT);
        else
            sqlite3_result_blob(ctx, p, n, SQLITE_TRANSIENT);
    }
}
