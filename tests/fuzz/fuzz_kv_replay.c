/* fuzz_kv_replay.c: libFuzzer target for the changelog of a primary-key bucket as its state
 * reads it back (src/kv/write.c kv_replay: the state rebuilt from the log at open).
 * Byte 0: bits 0-1 the merge engine (last_row, first_row, versioned on 'cap',
 * aggregation), bit 2 the changelog image (FULL / WAL). The rest is the body of the log's
 * only segment (after a valid segment header): the batches in it get their CRCs recomputed
 * (walking by each batch's length field), so the fuzzer reaches the change vectors, the
 * columns and the merge. With nothing after byte 0 the bucket instead gets a real
 * changelog from kv_write (upserts and a delete) and its state is deleted, so the open
 * rebuilds it (the seeds in the corpus are such logs).
 * Then the state is opened (a fresh directory: the whole log is replayed), a few keys are
 * looked up, and it is closed. Never a crash or leak; a refusal says why; an opened state
 * reflects the whole log (its checkpoint is the log's end). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "kv/kv.h"
#include "log/log_int.h"
#include "fuzz_seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_dir[256], g_log[300], g_state[300];
static strom_schema *g_schema;

static void check(int ok)
{
    if (!ok)
        abort();
}

static void init(void)
{
    if (g_schema)
        return;
    snprintf(g_dir, sizeof g_dir, "/tmp/strom_fuzz_kv_replay_%d", (int)getpid());
    snprintf(g_log, sizeof g_log, "%s/log", g_dir);
    snprintf(g_state, sizeof g_state, "%s/state", g_dir);
    g_schema = strom_schema_create();
    strom_schema_add(g_schema, "feeder", STROM_STRING, 1);
    strom_schema_add(g_schema, "dev", STROM_INT, 1);
    strom_schema_add(g_schema, "cap", STROM_BIGINT, 0);
    strom_schema_add(g_schema, "ts", STROM_TIMESTAMP, 0);
    fmt_schema_set_id(g_schema, 1);
}

static void log_cfg(log_config *c)
{
    log_config_init(c);
    c->name = "fuzz kv log";
    c->flush = LOG_FLUSH_NONE;
}

static void kv_cfg(kv_config *k, uint8_t b0)
{
    *k = (kv_config){.name = "fuzz kv", .schema = g_schema, .pk = {1, 0}, .npk = 2,
                     .bk = {0}, .nbk = 1, .image_full = !(b0 & 4), .engine = b0 & 3,
                     .ver_col = 2};
    fmt_encode_opts_init(&k->enc);
    if (k->engine == KV_ENGINE_AGGREGATION)
        k->agg[2] = KV_AGG_SUM, k->agg[3] = KV_AGG_MAX;
}

static void put_segment(const uint8_t *p, size_t len)
{
    uint8_t *seg = malloc(LOG_SEG_HDR + len + 1);
    log_seg_encode_header(seg, 0);
    memcpy(seg + LOG_SEG_HDR, p, len);
    for (size_t at = LOG_SEG_HDR; at + 12 <= LOG_SEG_HDR + len;) {
        fuzz_seal_batch(seg + at, LOG_SEG_HDR + len - at);
        uint64_t n = 12 + (uint64_t)strom_get_u32(seg + at + 8);
        if (n < FMT_HEADER_SIZE)
            break;
        at += n;
    }
    char path[400];
    snprintf(path, sizeof path, "%s/00000000000000000000.log", g_log);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(seg, 1, LOG_SEG_HDR + len, f);
        fclose(f);
    }
    free(seg);
}

/* A real changelog: three keys written twice each (+I, then -U/+U or a merge), the last
 * write a delete. */
static void write_changelog(uint8_t b0)
{
    log_config lc;
    log_cfg(&lc);
    log_bucket *log = NULL;
    kv_state *kv = NULL;
    kv_config kc;
    kv_cfg(&kc, b0);
    if (log_bucket_open(g_log, &lc, &log) != STROM_OK)
        return;
    if (kv_open(g_state, log, &kc, &kv) == STROM_OK) {
        strom_builder *b = strom_builder_create(g_schema);
        for (int r = 0; r < 6; r++) {
            strom_builder_put_str(b, 0, r % 3 % 2 ? "f1" : "f2", 2);   /* rows r, r + 3: one key */
            strom_builder_put_int(b, 1, r % 3);
            if (r == 4)
                strom_builder_put_null(b, 2);
            else
                strom_builder_put_int(b, 2, 10 * r);
            strom_builder_put_int(b, 3, 1000 + r);
            strom_builder_end_row(b);
        }
        uint8_t ops[6] = {0, 0, 0, 0, 0, KV_DELETE};
        kv_write_result res;
        kv_write(kv, b, NULL, 0, ops, &res);
        strom_builder_destroy(b);
        kv_close(kv);
    }
    log_bucket_close(log);
    strom_rmtree(g_state);   /* the open below rebuilds it from the log */
}

static void replay(uint8_t b0)
{
    log_config lc;
    log_cfg(&lc);
    log_bucket *log = NULL;
    if (log_bucket_open(g_log, &lc, &log) != STROM_OK)
        return;
    kv_config kc;
    kv_cfg(&kc, b0);
    kv_state *kv = NULL;
    strom_err e = kv_open(g_state, log, &kc, &kv);
    if (e != STROM_OK) {
        check(strom_errmsg()[0] != '\0');
        log_bucket_close(log);
        return;
    }
    int64_t earliest, end;
    log_bucket_offsets(log, &earliest, &end);
    check(kv_checkpoint(kv) == end);
    strom_builder *out = strom_builder_create(g_schema);
    for (int dev = 0; dev < 3; dev++) {
        strom_value key[2] = {{.type = STROM_INT, .v.i = dev},
                              {.type = STROM_STRING, .v.s = {dev % 2 ? "f1" : "f2", 2}}};
        int found = 0;
        (void)kv_lookup(kv, key, out, &found);
    }
    strom_builder_destroy(out);
    kv_close(kv);
    log_bucket_close(log);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    init();
    strom_rmtree(g_dir);
    strom_mkdirs(g_log, 0755);
    if (size == 1)
        write_changelog(data[0]);
    else
        put_segment(data + 1, size - 1);
    replay(data[0]);
    strom_fail_clear();
    return 0;
}
