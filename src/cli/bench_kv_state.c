/* bench_kv_state.c: state size, recovery after SIGKILL, rebuild from the log, and the
 * Redis comparison of `strom bench kv` (method: bench_kv.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_kv.h"
#include "bench_redis.h"

#define CRASH_VERSION 100
#define MAX_ACKS 4096

/* ------------------------------------------------------ state on disk */

/* nftw has no user argument: the walk's accumulators. */
static int64_t walk_bytes;
static char walk_dirs[64][4096];
static int walk_ndirs;

/* Is path inside (or is) a kv-N directory of the device table? */
static const char *state_dir_of(const char *path)
{
    const char *p = strstr(path, "/" KVB_TDEV "/kv-");
    return p ? p + strlen("/" KVB_TDEV "/") : NULL;
}

static int add_file(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)ftw;
    const char *kv = state_dir_of(path);
    if (kv && flag == FTW_F)
        walk_bytes += sb->st_size;
    if (kv && flag == FTW_D && !strchr(kv, '/') && walk_ndirs < 64)
        snprintf(walk_dirs[walk_ndirs++], sizeof walk_dirs[0], "%s", path);
    return 0;
}

/* Bytes under the device table's state directories; their paths into walk_dirs. */
static int64_t state_bytes(const char *dir)
{
    walk_bytes = 0;
    walk_ndirs = 0;
    nftw(dir, add_file, 32, FTW_PHYS);
    return walk_bytes;
}

/* ------------------------------------------------------------ recovery */

/* Rows per batch of the child: --batch, but at least 16 batches over the devices. */
static int64_t crash_batch(const kvb *c)
{
    return c->batch < c->devices / 16 ? c->batch : c->devices / 16 > 0 ? c->devices / 16 : 1;
}

/* The child: upserts batch j (devices [j*batch, (j+1)*batch), version CRASH_VERSION + j)
 * of crash_batch rows and reports j on fd once acknowledged, until killed. */
static void crash_child(kvb *c, int fd)
{
    strom_db *db;
    strom_table *t;
    if (strom_db_open(c->dir, &db) || strom_table_open(db, KVB_TDEV, &t))
        _exit(3);
    strom_builder *b = strom_builder_create(strom_table_schema(t));
    int64_t n = crash_batch(c);
    for (int32_t j = 0; b && (int64_t)(j + 1) * n <= c->devices; j++) {
        if (kvb_fill(b, &c->keys, j * n, (j + 1) * n, CRASH_VERSION + j, 0) ||
            strom_table_upsert(t, b))
            _exit(4);
        if (write(fd, &j, sizeof j) != sizeof j)
            _exit(5);
    }
    close(fd);   /* out of devices: the parent sees the end and kills us */
    for (;;)
        pause();
}

/* Forks the child, lets it acknowledge a few batches, kills it; *acks = batches acked. */
static int crash_writer(kvb *c, int32_t *acks)
{
    int fds[2];
    if (pipe(fds) != 0)
        return cli_errorf("pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return cli_errorf("fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        crash_child(c, fds[1]);
    }
    close(fds[1]);
    int32_t j;
    *acks = 0;
    while (*acks < 8 && read(fds[0], &j, sizeof j) == sizeof j)
        (*acks)++;
    usleep(20000);
    kill(pid, SIGKILL);
    while (read(fds[0], &j, sizeof j) == sizeof j)
        (*acks)++;
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    if (!WIFSIGNALED(status))
        return cli_errorf("the writing child exited (status %d) before it was killed",
                          WEXITSTATUS(status));
    return *acks > 0 ? CLI_OK : cli_errorf("the writing child acknowledged nothing");
}

/* Every acknowledged batch of the child: 20 devices each hold its version. */
static int check_acked(kvb *c, int32_t acks, int64_t *checked)
{
    uint64_t s = c->seed ^ 0xDEAD;
    *checked = 0;
    for (int32_t j = 0; j < acks; j++)
        for (int i = 0; i < 20; i++, (*checked)++) {
            int64_t n = crash_batch(c), dev = j * n + (int64_t)(kvb_rand(&s) % (uint64_t)n);
            strom_value k = kvb_key(&c->keys, dev);
            strom_batch *b = NULL;
            strom_err e = strom_table_lookup(c->t, &k, 1, &b);
            double cap = b ? strom_batch_get_f64(b, 3, 0) : -1;
            strom_batch_destroy(b);
            if (e)
                return cli_fail(e, "lookup after reopening");
            if (cap != kvb_capacity(dev, CRASH_VERSION + j))
                return cli_errorf("after reopening, %s has capacity %.1f, not the %.1f of "
                                  "acknowledged batch %d", c->keys.id[dev], cap,
                                  kvb_capacity(dev, CRASH_VERSION + j), (int)j);
        }
    return CLI_OK;
}

static int32_t crash_acks;

int kvb_run_recovery(kvb *c)
{
    kvb_close(c);
    c->state_bpr = (double)state_bytes(c->dir) / (double)c->devices;
    int rc = crash_writer(c, &crash_acks);
    if (rc != CLI_OK)
        return rc;
    double t0 = cli_now();
    rc = kvb_open(c);
    strom_value k = kvb_key(&c->keys, 0);
    strom_batch *b = NULL;
    strom_err e = rc == CLI_OK ? strom_table_lookup(c->t, &k, 1, &b) : STROM_OK;
    c->recovery_s = cli_now() - t0;
    strom_batch_destroy(b);
    if (e)
        return cli_fail(e, "first lookup after SIGKILL");
    if (rc == CLI_OK)
        rc = check_acked(c, crash_acks, &c->recovery_checked);
    printf("recovery after SIGKILL (%d batches acknowledged): %.3f s; state %.1f B/row\n",
           (int)crash_acks, c->recovery_s, c->state_bpr);
    fflush(stdout);
    return rc;
}

int kvb_run_rebuild(kvb *c)
{
    kvb_close(c);
    state_bytes(c->dir);
    if (walk_ndirs == 0)
        return cli_errorf("no state directory of %s found under %s", KVB_TDEV, c->dir);
    for (int i = 0; i < walk_ndirs; i++)
        if (cli_rmtree(walk_dirs[i]))
            return cli_errorf("cannot remove %s", walk_dirs[i]);
    double t0 = cli_now();
    int rc = kvb_open(c);
    c->rebuild_s = cli_now() - t0;
    int64_t checked = 0;
    if (rc == CLI_OK)
        rc = check_acked(c, crash_acks, &checked);
    printf("rebuild of %d state directories from the log: %.2f s\n", walk_ndirs, c->rebuild_s);
    fflush(stdout);
    return rc;
}

/* --------------------------------------------------------------- Redis */

static int redis_load(kvb *c, redis_conn *r)
{
    char v[512];
    int64_t pending = 0, len;
    double t0 = cli_now();
    for (int64_t d = 0; d < c->devices; d++) {
        int n = kvb_row_text(&c->keys, d, c->versions - 1, v, sizeof v);
        if (redis_queue_set(r, c->keys.id[d], KVB_LEN(&c->keys, d), v, (size_t)n))
            return -1;
        if (++pending == 1000 || d + 1 == c->devices) {
            if (redis_flush(r))
                return -1;
            for (; pending > 0; pending--)
                if (redis_reply(r, &len) != 1)
                    return -1;
        }
    }
    c->redis_load_rps = (double)c->devices / (cli_now() - t0);
    return 0;
}

/* n GETs of random devices, depth at a time (1: one request, one round trip). */
static int redis_gets(kvb *c, redis_conn *r, int64_t n, int depth, double *lat, double *rate)
{
    uint64_t s = c->seed ^ 0x7ED15;
    int64_t len;
    double t0 = cli_now();
    for (int64_t i = 0; i < n; i += depth) {
        double a = cli_now();
        for (int k = 0; k < depth; k++) {
            int64_t dev = (int64_t)(kvb_rand(&s) % (uint64_t)c->devices);
            if (redis_queue_get(r, c->keys.id[dev], KVB_LEN(&c->keys, dev)))
                return -1;
        }
        if (redis_flush(r))
            return -1;
        for (int k = 0; k < depth; k++)
            if (redis_reply(r, &len) != 1 || len <= 0)
                return r->msg[0] ? -1 : (snprintf(r->msg, sizeof r->msg, "a GET missed"), -1);
        if (lat)
            lat[i] = (cli_now() - a) * 1e6;
    }
    *rate = (double)(n / depth * depth) / (cli_now() - t0);
    return 0;
}

static int redis_measure(kvb *c, redis_conn *r)
{
    int64_t n = c->o.quick ? 50000 : 200000, before = redis_used_memory(r);
    double *lat = malloc(sizeof(double) * (size_t)n);
    if (!lat)
        return snprintf(r->msg, sizeof r->msg, "out of memory"), -1;
    int rc = redis_load(c, r);
    c->redis_bpr = (double)(redis_used_memory(r) - before) / (double)c->devices;
    if (rc == 0)
        rc = redis_gets(c, r, n, 1, lat, &c->redis_get_rps);
    c->redis_get_p99 = cli_percentile(lat, n, 0.99);
    if (rc == 0)
        rc = redis_gets(c, r, 4 * n, 64, NULL, &c->redis_pipe_kps);
    free(lat);
    return rc;
}

void kvb_run_redis(kvb *c)
{
    redis_conn r;
    c->redis_ok = redis_start(&r, c->o.dir) == 0 && redis_measure(c, &r) == 0;
    if (!c->redis_ok)
        snprintf(c->redis_msg, sizeof c->redis_msg, "%s", r.msg);
    redis_stop(&r);
    if (c->redis_ok)
        printf("redis (loopback): %.0f GET/s one at a time, %.0f keys/s pipelined 64\n",
               c->redis_get_rps, c->redis_pipe_kps);
    else
        printf("redis: skipped: %s\n", c->redis_msg);
    fflush(stdout);
}
