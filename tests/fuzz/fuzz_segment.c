/* fuzz_segment.c: libFuzzer target for the on-disk files of a log bucket (src/log).
 * First input byte selects what the rest of the input becomes, in a fresh bucket dir:
 *   0: the body of the only segment (after a valid segment header), so batch framing,
 *      torn-tail recovery and every read path see arbitrary bytes;
 *   1: the .index file of the sealed first segment of a small valid bucket;
 *   2: the .keys file of that segment;
 *   3: the .index file of the active segment
 *      (modes 1-3: when byte 0 / 5 is odd the file's CRCs are recomputed first, so
 *      mutations reach the entries, slots and runs behind them);
 *   4: the newest .writers snapshot of an idempotent bucket (its two CRCs recomputed when
 *      the input is long enough for a header, so the fuzzer reaches the entries; no input:
 *      the bucket's own), then a batch of writer 1 is appended again (a duplicate) and
 *      one of a new writer.
 * Then the bucket is opened, read completely, sought by time and asked for key history.
 * Nothing may crash or leak; errors are fine. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log/log_int.h"

static char g_dir[256];
static strom_schema *g_schema;

static void init(void)
{
    if (g_schema)
        return;
    snprintf(g_dir, sizeof g_dir, "/tmp/strom_fuzz_segment_%d", (int)getpid());
    g_schema = strom_schema_create();
    strom_schema_add(g_schema, "dev", STROM_STRING, 1);
    strom_schema_add(g_schema, "ts", STROM_TIMESTAMP, 1);
    strom_schema_add(g_schema, "v", STROM_DOUBLE, 0);
}

static int g_idempotent;   /* mode 4: the bucket deduplicates by writer */

static void config(log_config *c)
{
    log_config_init(c);
    c->idempotent = g_idempotent;
    c->name = "fuzz bucket";
    c->time_col = 1;
    c->key_cols[0] = 0;
    c->nkey_cols = 1;
    c->segment_bytes = 1024;
    c->index_interval_bytes = 200;
    c->flush = LOG_FLUSH_NONE;
}

static void put_file(const char *name, const uint8_t *p, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    if (len)
        fwrite(p, 1, len, f);
    fclose(f);
}

/* A small valid bucket: a few batches over two or more segments, chunks blocked. */
static int64_t make_valid_bucket(void)
{
    log_config c;
    config(&c);
    log_bucket *b = NULL;
    if (log_bucket_open(g_dir, &c, &b) != STROM_OK)
        return 0;
    strom_builder *bl = strom_builder_create(g_schema);
    fmt_encoder *e = fmt_encoder_create();
    fmt_encode_opts o;
    fmt_encode_opts_init(&o);
    o.time_col = 1;
    o.plain_only = 1;   /* with tiny blocks: chunks in the blocked layout (key history) */
    o.block_size = 64;
    strom_buf buf = {0};
    for (int k = 0; k < 4; k++) {
        o.writer_id = g_idempotent ? 1 + k % 2 : -1;   /* two writers, sequences 0, 0, 1, 1 */
        o.batch_seq = g_idempotent ? k / 2 : -1;
        strom_builder_reset(bl);
        for (int r = 0; r < 12; r++) {
            char d[8];
            int n = snprintf(d, sizeof d, "d%d", (r * 7 + k) % 5);
            strom_builder_put_str(bl, 0, d, (size_t)n);
            strom_builder_put_int(bl, 1, 1000 + r * 10 - k * 3);
            strom_builder_put_f64(bl, 2, r * 0.5);
            strom_builder_end_row(bl);
        }
        strom_buf_clear(&buf);
        if (fmt_encode(e, bl, NULL, 0, &o, &buf) == STROM_OK)
            log_bucket_append(b, buf.data, buf.len, NULL);
    }
    strom_buf_free(&buf);
    fmt_encoder_destroy(e);
    strom_builder_destroy(bl);
    int64_t active = b->segs[b->nsegs - 1]->base;
    log_bucket_close(b);
    return active;
}

/* The name of the newest .writers snapshot in g_dir into name (empty if none). */
static void newest_writers(char *name, size_t cap)
{
    name[0] = '\0';
    DIR *d = opendir(g_dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (n > 8 && !strcmp(e->d_name + n - 8, ".writers") && strcmp(e->d_name, name) > 0)
            snprintf(name, cap, "%s", e->d_name);
    }
    if (d)
        closedir(d);
}

/* CRC-32C of p[from, to) stored at p + at, if all of it lies in p[0, len). */
static void put_crc(uint8_t *p, size_t len, uint64_t from, uint64_t to, uint64_t at)
{
    if (from <= to && to <= len && at + 4 <= len)
        strom_put_u32(p + at, strom_crc32c(0, p + from, (size_t)(to - from)));
}

/* A sparse index (log_int.h) with its header and entry CRCs made to match. */
static void seal_index(uint8_t *p, size_t len)
{
    put_crc(p, len, 0, 28, 28);
    for (uint64_t e = 32; e + 64 <= len; e += 64)
        put_crc(p, len, e, e + 60, e + 60);
}

/* A key index (log_int.h) with its header, batch table, slot and run CRCs made to match
 * wherever the header's counts locate them inside the input. */
static void seal_keys(uint8_t *p, size_t len)
{
    if (len < 64)
        return;
    uint64_t nb = strom_get_u32(p + 16), ns = strom_get_u32(p + 24);
    uint64_t slots = 64 + 32 * nb, runs = slots + 32 * ns;
    for (uint64_t i = 0; i < ns && slots + 32 * (i + 1) <= len; i++) {
        uint8_t *sl = p + slots + 32 * i;
        uint64_t off = runs + strom_get_u64(sl + 8), rl = strom_get_u32(sl + 16);
        if (rl >= 4 && off < len && rl <= len - off)
            put_crc(p, len, off + 4, off + rl, off);
        put_crc(p, len, slots + 32 * i, slots + 32 * i + 28, slots + 32 * i + 28);
    }
    put_crc(p, len, 64, slots, 48);
    put_crc(p, len, 0, 60, 60);
}

/* An index file of mode 1-3, with its CRCs recomputed if seal (else as it is: damaged
 * files must be rebuilt, not trusted). */
static void put_sealed(const char *name, const uint8_t *p, size_t len, int mode, int seal)
{
    uint8_t *w = malloc(len + 1);
    memcpy(w, p, len);
    if (seal && mode == 2)
        seal_keys(w, len);
    else if (seal)
        seal_index(w, len);
    put_file(name, w, len);
    free(w);
}

/* Input as a writers snapshot, with body_crc and crc (log_int.h) made to match. */
static void put_writers(const uint8_t *p, size_t len)
{
    char name[64];
    newest_writers(name, sizeof name);
    if (!name[0])
        snprintf(name, sizeof name, "%020d.writers", 0);
    uint8_t *w = malloc(len + 1);
    memcpy(w, p, len);
    if (len >= 48) {
        strom_put_u32(w + 40, strom_crc32c(0, w + 48, len - 48));
        strom_put_u32(w + 44, strom_crc32c(0, w, 44));
    }
    put_file(name, w, len);
    free(w);
}

/* Appends again a batch of writer 1 (sequence 1: its last, a duplicate) and of writer 3
 * (new). */
static void append_again(log_bucket *b)
{
    strom_builder *bl = strom_builder_create(g_schema);
    fmt_encoder *e = fmt_encoder_create();
    fmt_encode_opts o;
    fmt_encode_opts_init(&o);
    o.time_col = 1;
    strom_buf buf = {0};
    for (int w = 1; w <= 3; w += 2) {
        strom_builder_reset(bl);
        strom_builder_put_str(bl, 0, "d1", 2);
        strom_builder_put_int(bl, 1, 1200);
        strom_builder_put_f64(bl, 2, 1.0);
        strom_builder_end_row(bl);
        o.writer_id = w;
        o.batch_seq = 1;
        strom_buf_clear(&buf);
        if (fmt_encode(e, bl, NULL, 0, &o, &buf) == STROM_OK)
            log_bucket_append(b, buf.data, buf.len, NULL);
    }
    strom_buf_free(&buf);
    fmt_encoder_destroy(e);
    strom_builder_destroy(bl);
}

static void exercise(void)
{
    log_config c;
    config(&c);
    log_bucket *b = NULL;
    if (log_bucket_open(g_dir, &c, &b) != STROM_OK)
        return;
    log_read_spec sp = {.schema = g_schema, .time_min = INT64_MIN, .time_max = INT64_MAX};
    log_reader *r = NULL;
    if (log_reader_open(b, 0, &sp, &r) == STROM_OK) {
        const strom_batch *bt;
        for (int guard = 0; guard < 10000; guard++) {
            strom_err e = log_reader_next(r, &bt);
            if (e == STROM_OK && !bt)
                break;
        }
        log_reader_close(r);
    }
    int64_t off;
    log_bucket_seek_time(b, 1050, &off);
    strom_buf key = {0};
    strom_value v = {.type = STROM_STRING, .v.s = {"d1", 2}};
    fmt_key_from_value(&key, STROM_STRING, &v);
    strom_batch *out = NULL;
    if (log_bucket_key_history(b, key.data, key.len, 2000, 5, &sp, &out) == STROM_OK)
        strom_batch_destroy(out);
    strom_buf_free(&key);
    strom_bucket_stats st;
    log_bucket_stats(b, &st);
    if (g_idempotent)
        append_again(b);
    log_bucket_close(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    strom_rmtree(g_dir);
    strom_mkdirs(g_dir, 0755);
    int mode = size ? data[0] % 5 : 0;
    g_idempotent = mode == 4;
    const uint8_t *p = size ? data + 1 : data;
    size_t len = size ? size - 1 : 0;
    if (mode == 0) {
        uint8_t *seg = malloc(LOG_SEG_HDR + len + 1);
        log_seg_encode_header(seg, 0);
        if (len)
            memcpy(seg + LOG_SEG_HDR, p, len);
        put_file("00000000000000000000.log", seg, LOG_SEG_HDR + len);
        free(seg);
    } else {
        int64_t active = make_valid_bucket();
        char name[64];
        if (mode == 1)
            snprintf(name, sizeof name, "00000000000000000000.index");
        else if (mode == 2)
            snprintf(name, sizeof name, "00000000000000000000.keys");
        else
            snprintf(name, sizeof name, "%020lld.index", (long long)active);
        if (mode != 4)
            put_sealed(name, p, len, mode, (data[0] / 5) & 1);
        else if (len > 0)   /* nothing after the mode byte: the bucket's own snapshot */
            put_writers(p, len);
    }
    exercise();
    strom_fail_clear();
    return 0;
}
