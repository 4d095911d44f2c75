/* version.c: the key history ('v' keys, layout in kv.h): AS OF lookups, single and
 * batched, and the compaction filter of 'table.kv.history.ttl'.
 *
 * The history of a key is its current row (the row key's value, at its vtime) plus its
 * 'v' keys: the rows superseded and the deletes. AS OF t: the current row answers when it
 * is the key's newest version (vtime == newest) and vtime <= t, with one get and no seek;
 * otherwise one seek to (key, inv(t)) finds the newest 'v' entry at or before t (the first
 * entry of the key at or after that position: they sort newest first), and the answer is
 * the newer of it and the current row (if its vtime <= t; the current row on a tie: it
 * was written after every 'v' entry of the same time).
 *
 * History TTL: a compaction drops a version when, among the entries of its key the
 * compaction reads, a newer one has a time <= cutoff (= now - history.ttl). Why AS OF
 * answers for t >= cutoff never change: the answer is the newest version with time <= t;
 * a dropped version X has a newer version A with time(A) <= cutoff <= t, so the answer's
 * time is >= time(A) > time(X): it is never X. Versions outside the compaction do not
 * matter (the argument needs only A, which is kept: the first entry <= cutoff of each key
 * is never dropped, nor is any entry newer than the cutoff; the current row is not in
 * the 'v' keys and never dropped). A removed key becomes a
 * deletion marker in RocksDB (older copies of the same version key in lower levels stay
 * hidden). */
#include "kv_int.h"

#include <stdlib.h>

/* ------------------------------------------------------------------ keys */

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static uint64_t ordered(int64_t t) { return (uint64_t)t ^ ((uint64_t)1 << 63); }

void kv_version_key(const uint8_t *rk, size_t klen, int64_t t, strom_buf *out)
{
    strom_buf_clear(out);
    uint8_t *p = strom_buf_grow(out, klen + 8);
    if (!p)
        return;   /* out->len stays 0: the caller's write fails on an empty key */
    memcpy(p, rk, klen);
    p[0] = KV_TAG_VERSION;
    put_be64(p + klen, ~ordered(t));
}

void kv_expiry_key(const uint8_t *rk, size_t klen, int64_t wtime, strom_buf *out)
{
    strom_buf_clear(out);
    uint8_t *p = strom_buf_grow(out, 9 + klen);
    if (!p)
        return;
    p[0] = KV_TAG_EXPIRY;
    put_be64(p + 1, ordered(wtime));
    memcpy(p + 9, rk, klen);
}

/* Time of a version key of klen + 8 bytes. */
static int64_t version_time(const uint8_t *vk, size_t vlen)
{
    return (int64_t)(~get_be64(vk + vlen - 8) ^ ((uint64_t)1 << 63));
}

rocksdb_iterator_t *kv_prefix_iter(kv_state *kv)
{
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_prefix_same_as_start(ro, 1);
    rocksdb_iterator_t *it = rocksdb_create_iterator(kv->db, ro);
    rocksdb_readoptions_destroy(ro);  /* the iterator keeps its own copy */
    return it;
}

static strom_err iter_error(kv_state *kv, rocksdb_iterator_t *it)
{
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    if (!err)
        return STROM_OK;
    strom_err e = strom_fail(STROM_EIO, "%s: state store version seek: %s", kv->name, err);
    rocksdb_free(err);
    return e;
}

/* Seeks the newest version of rk at or before t. *v, *vlen: its value (borrowed from the
 * iterator; vlen 0 = a delete), *vt its time; *hit 0 when the key has none. */
static strom_err seek_version(kv_state *kv, rocksdb_iterator_t *it, const uint8_t *rk,
                              size_t klen, int64_t t, strom_buf *vk, const char **v,
                              size_t *vlen, int64_t *vt, int *hit)
{
    *hit = 0;
    kv_version_key(rk, klen, t, vk);
    if (vk->len == 0)
        return STROM_ENOMEM;
    rocksdb_iter_seek(it, (const char *)vk->data, vk->len);
    if (!rocksdb_iter_valid(it))
        return iter_error(kv, it);
    size_t kl = 0;
    const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &kl);
    if (kl != klen + 8 || memcmp(k, vk->data, klen))
        return STROM_OK;
    *hit = 1;
    *vt = version_time(k, kl);
    *v = rocksdb_iter_value(it, vlen);
    return STROM_OK;
}

strom_err kv_newest_version(kv_state *kv, rocksdb_iterator_t *it, const uint8_t *rk,
                            size_t klen, strom_buf *scratch, int64_t *newest)
{
    const char *v;
    size_t vlen;
    int hit = 0;
    int64_t t = INT64_MIN;
    strom_err e = seek_version(kv, it, rk, klen, INT64_MAX, scratch, &v, &vlen, &t, &hit);
    *newest = hit ? t : INT64_MIN;
    return e;
}

const char kv_deletes_key[] = "\x6D" "deletes";

strom_err kv_versions_open(kv_state *kv)
{
    char *v = NULL;
    size_t vlen = 0;
    strom_err e = kv_get_raw(kv, (const uint8_t *)kv_deletes_key, KV_DELETES_KEY_LEN, &v,
                             &vlen);
    kv->any_delete = e == STROM_OK && v != NULL;
    rocksdb_free(v);
    return e;
}

/* ---------------------------------------------------------- AS OF lookups */

/* Per-thread key buffers, so a warm lookup allocates nothing (freed at thread exit). */
typedef struct asof_scratch {
    strom_buf rk, vk;
} asof_scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
    asof_scratch *s = p;
    strom_buf_free(&s->rk);
    strom_buf_free(&s->vk);
    free(s);
}

static void scratch_init(void) { (void)pthread_key_create(&scratch_key, scratch_free); }

static asof_scratch *scratch(void)
{
    pthread_once(&scratch_once, scratch_init);
    asof_scratch *s = pthread_getspecific(scratch_key);
    if (!s && (s = strom_calloc(1, sizeof *s)) && pthread_setspecific(scratch_key, s)) {
        free(s);
        s = NULL;
    }
    return s;
}

/* Does the current row value v answer AS OF t without a seek? */
static int current_answers(const char *v, size_t vlen, int64_t t)
{
    kv_times tm;
    return v && !kv_row_times((const uint8_t *)v, vlen, &tm) && tm.vtime == tm.newest &&
           tm.vtime <= t;
}

/* Version time of the current row value v (INT64_MIN: a version-1 value, unknown). */
static int64_t current_vtime(const char *v, size_t vlen)
{
    kv_times tm;
    return kv_row_times((const uint8_t *)v, vlen, &tm) ? INT64_MIN : tm.vtime;
}

/* The row value answering AS OF t of row key sc->rk whose current value is cur (NULL:
 * none): *v (borrowed from cur or the iterator; NULL: no row), *vlen. The iterator *it is
 * created on the first seek. */
static strom_err asof_find(kv_state *kv, rocksdb_iterator_t **it, asof_scratch *sc,
                           const char *cur, size_t curlen, int64_t t, const char **v,
                           size_t *vlen)
{
    *v = NULL;
    *vlen = 0;
    if (current_answers(cur, curlen, t)) {
        *v = cur;
        *vlen = curlen;
        return STROM_OK;
    }
    if (!*it && !(*it = kv_prefix_iter(kv)))
        return STROM_ENOMEM;
    int64_t vt = 0, ct = cur ? current_vtime(cur, curlen) : 0;
    int hit = 0;
    strom_err e = seek_version(kv, *it, sc->rk.data, sc->rk.len, t, &sc->vk, v, vlen, &vt,
                               &hit);
    if (e == STROM_OK && cur && ct <= t && (!hit || ct >= vt)) {
        *v = cur;    /* the current row is the newest version at or before t */
        *vlen = curlen;
    } else if (e != STROM_OK || !hit || *vlen == 0) {
        *v = NULL;
    }
    return e;
}

/* Where batch answers go: decoded into out, or (out NULL) copied raw into arena with
 * off[i]/len[i] (len -1: none). */
typedef struct asof_sink {
    strom_builder *out;
    strom_buf *arena;
    int64_t *off, *len;
} asof_sink;

static strom_err sink_put(kv_state *kv, const asof_sink *k, size_t i, const char *v,
                          size_t vlen, uint8_t *found)
{
    *found = v != NULL;
    if (k->out)
        return v ? kv_row_decode(k->out, kv->cfg.schema, (const uint8_t *)v, vlen) : STROM_OK;
    k->off[i] = (int64_t)k->arena->len;
    k->len[i] = v ? (int64_t)vlen : -1;
    return v ? strom_buf_append(k->arena, v, vlen) : STROM_OK;
}

static strom_err asof_one(kv_state *kv, rocksdb_iterator_t **it, asof_scratch *sc,
                          const char *cur, size_t curlen, int64_t t, strom_builder *out,
                          int *found)
{
    const char *v = NULL;
    size_t vlen = 0;
    *found = 0;
    strom_err e = asof_find(kv, it, sc, cur, curlen, t, &v, &vlen);
    if (e == STROM_OK && v)
        e = kv_row_decode(out, kv->cfg.schema, (const uint8_t *)v, vlen);
    *found = e == STROM_OK && v;
    return e;
}

strom_err kv_lookup_asof(kv_state *kv, const strom_value *key, int64_t t, strom_builder *out,
                         int *found)
{
    asof_scratch *sc = scratch();
    rocksdb_iterator_t *it = NULL;
    char *cur = NULL;
    size_t curlen = 0;
    *found = 0;
    strom_err e = sc ? kv_key_from_values(kv, key, 0, &sc->rk) : STROM_ENOMEM;
    if (e == STROM_OK)
        e = kv_get_raw(kv, sc->rk.data, sc->rk.len, &cur, &curlen);
    if (e == STROM_OK)
        e = asof_one(kv, &it, sc, cur, curlen, t, out, found);
    rocksdb_free(cur);
    if (it)
        rocksdb_iter_destroy(it);
    return e;
}

/* Row keys of the n keys, back to back in kb (klen[i] each). */
static strom_err batch_keys(kv_state *kv, const strom_value *keys, size_t n, strom_buf *kb,
                            strom_buf *one, size_t *klen)
{
    for (size_t i = 0; i < n; i++) {
        strom_err e = kv_key_from_values(kv, keys + i * (size_t)kv->cfg.npk, 0, one);
        klen[i] = one->len;
        if (e == STROM_OK)
            e = strom_buf_append(kb, one->data, one->len);
        if (e != STROM_OK)
            return e;
    }
    return STROM_OK;
}

/* The AS OF answers of the batch, the current rows fetched (vals, errs: freed here). */
static strom_err batch_answers(kv_state *kv, asof_scratch *sc, const strom_buf *kb,
                               const size_t *klen, size_t n, char **vals, size_t *vlens,
                               char **errs, const int64_t *t, int one_time,
                               const asof_sink *sink, uint8_t *found)
{
    rocksdb_iterator_t *it = NULL;
    strom_err e = STROM_OK;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const char *v = NULL;
        size_t vlen = 0;
        found[i] = 0;
        if (errs[i] && e == STROM_OK)
            e = strom_fail(STROM_EIO, "%s: state store multi-get: %s", kv->name, errs[i]);
        strom_buf_clear(&sc->rk);
        if (e == STROM_OK)
            e = strom_buf_append(&sc->rk, kb->data + off, klen[i]);
        if (e == STROM_OK)
            e = asof_find(kv, &it, sc, vals[i], vlens[i], t[one_time ? 0 : i], &v, &vlen);
        if (e == STROM_OK)
            e = sink_put(kv, sink, i, v, vlen, &found[i]);
        off += klen[i];
        rocksdb_free(errs[i]);
        rocksdb_free(vals[i]);
    }
    if (it)
        rocksdb_iter_destroy(it);
    return e;
}

static strom_err batch_asof(kv_state *kv, const strom_value *keys, size_t n, const int64_t *t,
                            int one_time, const asof_sink *sink, uint8_t *found)
{
    if (n == 0)
        return STROM_OK;
    asof_scratch *sc = scratch();
    strom_buf kb = {0};
    size_t *klen = strom_calloc(n * 2, sizeof(size_t)), *vlens = klen ? klen + n : NULL;
    char **ptrs = strom_calloc(n * 3, sizeof(char *)), **vals = ptrs ? ptrs + n : NULL;
    char **errs = ptrs ? ptrs + 2 * n : NULL;
    strom_err e = sc && klen && ptrs ? batch_keys(kv, keys, n, &kb, &sc->rk, klen) : STROM_ENOMEM;
    if (e == STROM_OK) {
        size_t off = 0;
        for (size_t i = 0; i < n; off += klen[i++])
            ptrs[i] = (char *)kb.data + off;
        rocksdb_multi_get(kv->db, kv->ro, n, (const char *const *)ptrs, klen, vals, vlens, errs);
        e = batch_answers(kv, sc, &kb, klen, n, vals, vlens, errs, t, one_time, sink, found);
    }
    free(klen);
    free(ptrs);
    strom_buf_free(&kb);
    return e;
}

strom_err kv_lookup_batch_asof(kv_state *kv, const strom_value *keys, size_t n,
                               const int64_t *t, int one_time, strom_builder *out,
                               uint8_t *found)
{
    asof_sink k = {out, NULL, NULL, NULL};
    return batch_asof(kv, keys, n, t, one_time, &k, found);
}

strom_err kv_lookup_batch_asof_raw(kv_state *kv, const strom_value *keys, size_t n,
                                   const int64_t *t, strom_buf *arena, int64_t *off,
                                   int64_t *len)
{
    uint8_t *found = strom_malloc(n ? n : 1);
    asof_sink k = {NULL, arena, off, len};
    strom_err e = found ? batch_asof(kv, keys, n, t, 0, &k, found) : STROM_ENOMEM;
    free(found);
    return e;
}

/* ------------------------------------------------------- history TTL filter */

typedef struct hist_filter {
    int64_t cutoff;
    strom_buf prev;          /* the version key (without its time) of the last entry seen */
    int done;                /* an entry of prev at or before the cutoff was seen */
} hist_filter;

static unsigned char hist_filter_fn(void *st, int level, const char *key, size_t klen,
                                    const char *val, size_t vlen, char **nv, size_t *nvlen,
                                    unsigned char *changed)
{
    hist_filter *f = st;
    const uint8_t *k = (const uint8_t *)key;
    if (klen < KV_PREFIX_LEN + 8 || k[0] != KV_TAG_VERSION)
        return 0;
    size_t base = klen - 8;
    if (f->prev.len == base && !memcmp(f->prev.data, k, base)) {
        if (f->done)
            return 1;   /* a newer version of this key is at or before the cutoff */
    } else {
        strom_buf_clear(&f->prev);
        if (strom_buf_append(&f->prev, k, base) != STROM_OK) {
            f->done = 0;
            return 0;
        }
        f->done = 0;
    }
    f->done = version_time(k, klen) <= f->cutoff;
    return 0;
}

static const char *hist_filter_name(void *st) { return "strom.kv.history"; }

static void hist_filter_destroy(void *st)
{
    hist_filter *f = st;
    strom_buf_free(&f->prev);
    free(f);
}

static rocksdb_compactionfilter_t *hist_filter_create(void *st,
                                                      rocksdb_compactionfiltercontext_t *ctx)
{
    kv_state *kv = st;
    hist_filter *f = strom_calloc(1, sizeof *f);
    if (!f)
        return NULL;
    int64_t now = __atomic_load_n(&kv->compact_now, __ATOMIC_ACQUIRE);
    f->cutoff = (now ? now : strom_now_ms()) - kv->cfg.hist_ttl_ms;
    return rocksdb_compactionfilter_create(f, hist_filter_destroy, hist_filter_fn,
                                           hist_filter_name);
}

static void hist_factory_destroy(void *st) { (void)st; }
static const char *hist_factory_name(void *st) { return "strom.kv.history.factory"; }

void kv_history_setup(kv_state *kv, rocksdb_options_t *opts)
{
    if (kv->cfg.hist_ttl_ms <= 0)
        return;
    kv->hist_filter = rocksdb_compactionfilterfactory_create(
        kv, hist_factory_destroy, hist_filter_create, hist_factory_name);
    rocksdb_options_set_compaction_filter_factory(opts, kv->hist_filter);
}

void kv_history_free(kv_state *kv)
{
    /* The options own the factory once set (rocksdb_options_destroy frees it). */
    kv->hist_filter = NULL;
}

strom_err kv_compact(kv_state *kv, int64_t now_ms)
{
    pthread_mutex_lock(&kv->mu);
    kv_drain(kv);
    __atomic_store_n(&kv->compact_now, now_ms, __ATOMIC_RELEASE);
    if (kv->cfg.hist_ttl_ms > 0 && now_ms - kv->cfg.hist_ttl_ms > kv->max_cutoff)
        __atomic_store_n(&kv->max_cutoff, now_ms - kv->cfg.hist_ttl_ms, __ATOMIC_RELEASE);
    rocksdb_compact_range(kv->db, NULL, 0, NULL, 0);
    __atomic_store_n(&kv->compact_now, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&kv->mu);
    return STROM_OK;
}
