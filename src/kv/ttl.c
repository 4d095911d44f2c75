/* ttl.c: row TTL ('table.kv.ttl'): the expiry pass over the 'e' index (layout in kv.h)
 * and the background thread that runs it every min(ttl/4, 1 s) while the kv is open.
 * The deletes themselves go through the write path (kv_expire_keys in write.c): -D
 * changelog rows appended to the log, then applied, so they are durable and replayed. */
#include "kv_int.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#define EXPIRE_BATCH 4096   /* keys per changelog batch of an expiry pass */

/* The expiry entries with time <= cutoff, up to EXPIRE_BATCH, from the start of the
 * index: their row keys into keys (offsets koff/klen) and themselves into ekeys. */
typedef struct exp_scan {
    strom_buf keys, ekeys;
    size_t koff[EXPIRE_BATCH], klen[EXPIRE_BATCH], eoff[EXPIRE_BATCH], elen[EXPIRE_BATCH];
    size_t n;
} exp_scan;

static strom_err scan_add(exp_scan *x, const uint8_t *k, size_t kl)
{
    x->koff[x->n] = x->keys.len;
    x->klen[x->n] = kl - 9;
    x->eoff[x->n] = x->ekeys.len;
    x->elen[x->n] = kl;
    x->n++;
    strom_err e = strom_buf_append(&x->keys, k + 9, kl - 9);
    return e ? e : strom_buf_append(&x->ekeys, k, kl);
}

static strom_err scan_expired(kv_state *kv, int64_t cutoff, exp_scan *x)
{
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_total_order_seek(ro, 1);   /* across prefixes */
    rocksdb_iterator_t *it = rocksdb_create_iterator(kv->db, ro);
    uint8_t start = KV_TAG_EXPIRY;
    strom_err e = STROM_OK;
    strom_buf_clear(&x->keys);
    strom_buf_clear(&x->ekeys);
    x->n = 0;
    for (rocksdb_iter_seek(it, (const char *)&start, 1);
         e == STROM_OK && x->n < EXPIRE_BATCH && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl = 0;
        const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &kl);
        if (kl <= 9 + KV_PREFIX_LEN || k[0] != KV_TAG_EXPIRY)
            break;
        uint64_t o = 0;
        for (int i = 0; i < 8; i++)
            o = o << 8 | k[1 + i];
        if ((int64_t)(o ^ ((uint64_t)1 << 63)) > cutoff)
            break;
        e = scan_add(x, k, kl);
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    if (err && e == STROM_OK)
        e = strom_fail(STROM_EIO, "%s: state store expiry scan: %s", kv->name, err);
    rocksdb_free(err);
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    return e;
}

strom_err kv_expire(kv_state *kv, int64_t now_ms, int64_t *nexpired)
{
    if (nexpired)
        *nexpired = 0;
    if (kv->cfg.ttl_ms <= 0)
        return STROM_OK;
    int64_t cutoff = now_ms - kv->cfg.ttl_ms;
    exp_scan *x = strom_calloc(1, sizeof *x);
    strom_err e = x ? STROM_OK : STROM_ENOMEM;
    while (e == STROM_OK) {
        int64_t n = 0;
        e = scan_expired(kv, cutoff, x);
        if (e == STROM_OK && x->n > 0)
            e = kv_expire_keys(kv, &x->keys, x->koff, x->klen, x->n, &x->ekeys, x->eoff,
                               x->elen, cutoff, &n);
        if (nexpired)
            *nexpired += n;
        if (x->n < EXPIRE_BATCH)
            break;
    }
    if (x) {
        strom_buf_free(&x->keys);
        strom_buf_free(&x->ekeys);
    }
    free(x);
    return e;
}

/* ------------------------------------------------------ background expiry */

static int64_t ttl_period_ms(const kv_state *kv)
{
    int64_t p = kv->cfg.ttl_ms / 4;
    return p < 1 ? 1 : p > 1000 ? 1000 : p;
}

static void *ttl_main(void *arg)
{
    kv_state *kv = arg;
    pthread_mutex_lock(&kv->ttl_mu);
    while (!kv->ttl_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + ttl_period_ms(kv) * 1000000;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        int rc = 0;
        while (!kv->ttl_stop && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&kv->ttl_cv, &kv->ttl_mu, &ts);
        if (kv->ttl_stop)
            break;
        pthread_mutex_unlock(&kv->ttl_mu);
        (void)kv_expire(kv, strom_now_ms(), NULL);   /* a failure is retried next period */
        pthread_mutex_lock(&kv->ttl_mu);
    }
    pthread_mutex_unlock(&kv->ttl_mu);
    return NULL;
}

strom_err kv_ttl_start(kv_state *kv)
{
    if (kv->cfg.ttl_ms <= 0)
        return STROM_OK;
    pthread_mutex_init(&kv->ttl_mu, NULL);
    pthread_cond_init(&kv->ttl_cv, NULL);
    int rc = pthread_create(&kv->ttl_thread, NULL, ttl_main, kv);
    if (rc != 0) {
        pthread_cond_destroy(&kv->ttl_cv);
        pthread_mutex_destroy(&kv->ttl_mu);
        return strom_fail_errno(rc, "%s: cannot start the expiry thread", kv->name);
    }
    kv->ttl_running = 1;
    return STROM_OK;
}

void kv_ttl_stop(kv_state *kv)
{
    if (!kv->ttl_running)
        return;
    pthread_mutex_lock(&kv->ttl_mu);
    kv->ttl_stop = 1;
    pthread_cond_signal(&kv->ttl_cv);
    pthread_mutex_unlock(&kv->ttl_mu);
    pthread_join(kv->ttl_thread, NULL);
    pthread_cond_destroy(&kv->ttl_cv);
    pthread_mutex_destroy(&kv->ttl_mu);
    kv->ttl_running = 0;
}
