/*
 * bench_kv.h: what the files of `strom bench kv` share (bench_kv.c: rows, upserts, the
 * report; bench_kv_read.c: lookups; bench_kv_state.c: state size, recovery, rebuild and
 * the Redis comparison). The method is written at the top of bench_kv.c.
 */
#ifndef STROM_CLI_BENCH_KV_H
#define STROM_CLI_BENCH_KV_H

#include "cli.h"

#define KVB_TDEV "device_dimension"
#define KVB_HOUR_MS INT64_C(3600000)

/* The device ids "DEVICE_%05d" (and feeder ids "F%05d", 50 devices each), built once so
 * that lookups time the engine, not snprintf. */
typedef struct kvb_keys {
    int64_t n, nfeed;
    char (*id)[32];       /* id[i][31] holds the length: one cache line per key */
    char (*feeder)[24];
    size_t flen;
} kvb_keys;

#define KVB_LEN(k, i) ((size_t)(uint8_t)(k)->id[i][31])

typedef struct kvb {
    bench_opts o;
    int64_t devices, lookups, batch, buckets;
    int versions;
    uint64_t seed;
    char dir[4096];
    strom_db *db;
    strom_table *t, *tf;      /* device_dimension, feeder_device */
    kvb_keys keys;
    /* results */
    double upsert_rps, update_rps, feeder_upsert_rps, upsert_cpu, update_cpu;
    double look1_cpu, asof_cpu;   /* per CPU-second (thread / process CPU time) */
    double look1, look2, look2w, look2w_writer, batch_kps, look_p50, look_p99;
    double miss_rps, miss_p99, nocache_rps, nocache_p99;
    int asof_measured;
    double asof_rps, asof_p99;
    double prefix_p50, prefix_p99, prefix_rows;
    double state_bpr, cache_bpr, row_bytes;
    double recovery_s, rebuild_s;
    int64_t recovery_checked;
    int redis_ok;
    char redis_msg[256];
    double redis_get_rps, redis_get_p99, redis_pipe_kps, redis_load_rps, redis_bpr;
} kvb;

/* bench_kv.c */
strom_schema *kvb_schema(int with_feeder);
int kvb_keys_init(kvb_keys *k, int64_t n);
void kvb_keys_free(kvb_keys *k);
strom_value kvb_key(const kvb_keys *k, int64_t dev);
/* The same key formatted into buf (the lookups' keys: a caller has the key it looks up at
 * hand, it does not fetch it from a 16 MB table, whose cache miss the lookup figures
 * would otherwise include). buf must outlive the value. */
strom_value kvb_key_fmt(int64_t dev, char buf[24]);
/* Version v of a device: its capacity_mw and last_update. */
double kvb_capacity(int64_t dev, int version);
int64_t kvb_last_update(int64_t dev, int version);
/* Resets b and fills it with version v of devices [lo, hi). */
strom_err kvb_fill(strom_builder *b, const kvb_keys *k, int64_t lo, int64_t hi, int version,
                   int with_feeder);
/* The row as the Redis comparison stores it: fields joined by '|'. Length like snprintf. */
int kvb_row_text(const kvb_keys *k, int64_t dev, int version, char *buf, size_t n);
uint64_t kvb_rand(uint64_t *s);
int kvb_run_threads(int n, void *(*fn)(void *), void *arg, size_t size);
int kvb_open(kvb *c);
void kvb_close(kvb *c);

/* bench_kv_read.c */
int kvb_run_lookups(kvb *c);
int kvb_run_asof(kvb *c);
int kvb_run_prefix(kvb *c);
int kvb_run_nocache(kvb *c);
/* Checks n random devices: found, with version v's capacity. */
int kvb_check_sample(kvb *c, int n, int version);

/* bench_kv_state.c */
int kvb_run_recovery(kvb *c);
int kvb_run_rebuild(kvb *c);
void kvb_run_redis(kvb *c);

#endif /* STROM_CLI_BENCH_KV_H */
