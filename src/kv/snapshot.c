/* snapshot.c: consistent snapshot reads of a bucket's state (kv_snap_*): a RocksDB
 * snapshot taken together with the checkpoint, so the rows read are exactly the changelog
 * up to that offset applied, and a reader that then follows the changelog from it sees
 * every later change once (the "full read" of a primary-key table). */
#include "kv_int.h"

#include <stdlib.h>

struct kv_snap {
    kv_state *kv;
    const rocksdb_snapshot_t *snap;
    rocksdb_readoptions_t *ro;
    rocksdb_iterator_t *it;
    int64_t offset;
    int done;
};

strom_err kv_snap_open(kv_state *kv, kv_snap **out)
{
    *out = NULL;
    kv_snap *s = strom_calloc(1, sizeof *s);
    rocksdb_readoptions_t *ro = s ? rocksdb_readoptions_create() : NULL;
    if (!ro) {
        free(s);
        return STROM_ENOMEM;
    }
    s->kv = kv;
    s->ro = ro;
    /* Writes change the state and the checkpoint in one WriteBatch under kv->amu: taking
     * both under it pairs the snapshot with the offset it reflects. */
    pthread_mutex_lock(&kv->amu);
    s->snap = rocksdb_create_snapshot(kv->db);
    s->offset = kv->checkpoint;
    pthread_mutex_unlock(&kv->amu);
    rocksdb_readoptions_set_snapshot(ro, s->snap);
    /* Row keys of every prefix in key order, not one prefix (the prefix extractor). */
    rocksdb_readoptions_set_total_order_seek(ro, 1);
    /* A whole-table read must not push the hot lookup blocks out of the shared cache. */
    rocksdb_readoptions_set_fill_cache(ro, 0);
    s->it = rocksdb_create_iterator(kv->db, ro);
    const char tag = (char)KV_TAG_ROW;
    rocksdb_iter_seek(s->it, &tag, 1);
    *out = s;
    return STROM_OK;
}

int64_t kv_snap_offset(const kv_snap *s) { return s->offset; }

/* Checks the iterator's status after it stopped being valid. */
static strom_err iter_status(kv_snap *s)
{
    char *err = NULL;
    rocksdb_iter_get_error(s->it, &err);
    if (!err)
        return STROM_OK;
    strom_err e = strom_fail(STROM_EIO, "%s: snapshot read: %s", s->kv->name, err);
    rocksdb_free(err);
    return e;
}

strom_err kv_snap_next(kv_snap *s, strom_builder *out, int64_t max, int64_t *nread)
{
    *nread = 0;
    strom_err e = STROM_OK;
    while (!s->done && *nread < max && e == STROM_OK) {
        size_t kl = 0, vl = 0;
        const char *k = rocksdb_iter_valid(s->it) ? rocksdb_iter_key(s->it, &kl) : NULL;
        if (!k || kl < 1 || (uint8_t)k[0] != KV_TAG_ROW) {
            s->done = 1;
            e = iter_status(s);
            break;
        }
        const char *v = rocksdb_iter_value(s->it, &vl);
        e = kv_row_decode(out, s->kv->cfg.schema, (const uint8_t *)v, vl);
        if (e != STROM_OK)
            strom_fail_wrap(e, "%s: snapshot read", s->kv->name);
        *nread += e == STROM_OK;
        rocksdb_iter_next(s->it);
    }
    return e;
}

int kv_snap_done(const kv_snap *s) { return s->done; }

void kv_snap_close(kv_snap *s)
{
    if (!s)
        return;
    rocksdb_iter_destroy(s->it);
    rocksdb_readoptions_destroy(s->ro);
    rocksdb_release_snapshot(s->kv->db, s->snap);
    free(s);
}
