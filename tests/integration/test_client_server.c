/*
 * test_client_server.c: the client library and the client commands (produce, tail,
 * lookup, stats, tables/describe --server) against the real server: `strom server
 * --port 0` on a fresh data directory (STROM_BIN).
 *
 * What is checked, each against expectations computed here:
 *  - CSV and JSON Lines produced with `strom produce`, read back with `strom tail --from
 *    earliest`: the same rows (as sorted text, the header first);
 *  - `tail --from latest` gets rows produced after it started, within 2 s;
 *  - the subscriber with a projection and a filter on a column outside it;
 *  - the subscriber projecting on its side (project_here): the same rows as the server's
 *    projection; strom_producer_pending before and after a flush;
 *  - `strom lookup` of present and absent keys, and AS OF (before and after an update,
 *    before the first row); the lookuper's point, batch and concurrent lookups against a
 *    model, concurrent ones sharing requests;
 *  - idempotence: the same PUT_KV batch (writer id, sequence) sent twice to a sum
 *    aggregation table is applied once;
 *  - a stopped server (SIGSTOP): calls time out, and work again after SIGCONT; a server
 *    that is gone: EIO, and connecting fails naming the address;
 *  - bad CSV / JSONL lines: exit 1, the error names file, line and column, the rows
 *    before the bad line are in the table and none after it;
 *  - bad --server addresses and usage errors: exit 1 / 2.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "client/client_int.h"
#include "itest.h"

static char g_dir[256], g_addr[64], g_bin[512];
static pid_t g_pid;

/* ------------------------------------------------------------ server */

static void kill_server(void)
{
    if (g_pid > 0)
        kill(g_pid, SIGKILL);
}

static void server_start(const char *dir)
{
    int pfd[2];
    IT_CHECK(pipe(pfd) == 0, "pipe");
    g_pid = fork();
    if (g_pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        execl(g_bin, g_bin, "server", "--port", "0", "--data", dir, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    atexit(kill_server); /* a failed check exits: never leave the server behind */
    char buf[512];
    size_t n = 0;
    while (n < sizeof buf - 1 && !memchr(buf, '\n', n)) {
        ssize_t r = read(pfd[0], buf + n, sizeof buf - 1 - n);
        IT_CHECK(r > 0, "the server exited before saying where it listens");
        n += (size_t)r;
    }
    buf[n] = '\0';
    const char *p = strstr(buf, "listening on ");
    IT_CHECK(p, "no ready line: '%s'", buf);
    IT_CHECK(sscanf(p + 13, "%63s", g_addr) == 1, "ready line '%s'", buf);
    close(pfd[0]);
}

/* ------------------------------------------------------------ helpers */

/* Runs "strom ARGS" with stdout/stderr into files; returns the exit code. */
static int strom(const char *out, const char *err, const char *fmt, ...)
{
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "timeout 60 %s %s >%s 2>%s </dev/null", g_bin, args,
             out ? out : "/dev/null", err ? err : "/dev/null");
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static char *slurp(const char *path)
{
    uint8_t *d = NULL;
    size_t n = 0;
    if (strom_read_file(path, 64 << 20, &d, &n) != STROM_OK)
        return strdup("");
    char *s = realloc(d, n + 1);
    s[n] = '\0';
    return s;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lines of text (owned copy) sorted, the first line (header) kept first when keep_first. */
static char **sorted_lines(char *text, int keep_first, int *n)
{
    int cap = 16;
    char **v = malloc(sizeof *v * (size_t)cap);
    *n = 0;
    for (char *p = text, *line; (line = strsep(&p, "\n"));) {
        if (!*line && !p)
            break;
        if (*n == cap)
            v = realloc(v, sizeof *v * (size_t)(cap *= 2));
        v[(*n)++] = line;
    }
    qsort(v + keep_first, (size_t)(*n - keep_first), sizeof *v, cmp_str);
    return v;
}

static void same_lines(const char *want_file, const char *got_file, int keep_first)
{
    char *a = slurp(want_file), *b = slurp(got_file);
    int na, nb;
    char **la = sorted_lines(a, keep_first, &na), **lb = sorted_lines(b, keep_first, &nb);
    IT_CHECK(na == nb, "%s has %d lines, %s %d", want_file, na, got_file, nb);
    for (int i = 0; i < na; i++)
        IT_CHECK(!strcmp(la[i], lb[i]), "line %d: want '%s' got '%s'", i, la[i], lb[i]);
    free(la), free(lb), free(a), free(b);
}

static strom_client *connect_or_die(int timeout_ms)
{
    strom_client_opts o = {.request_timeout_ms = timeout_ms};
    strom_client *c;
    IT_OK(strom_client_connect(g_addr, &o, &c));
    return c;
}

static void create_tele(strom_client *c, const char *name)
{
    strom_schema *s = strom_schema_create();
    strom_schema_add(s, "device", STROM_STRING, 1);
    strom_schema_add(s, "ts", STROM_TIMESTAMP, 1);
    strom_schema_add(s, "v", STROM_DOUBLE, 0);
    strom_schema_add(s, "n", STROM_INT, 0);
    strom_schema_add(s, "ok", STROM_BOOLEAN, 0);
    strom_schema_add(s, "note", STROM_STRING, 0);
    const char *opts[] = {"bucket.num", "4", "bucket.key", "device", "table.time-column", "ts",
                          NULL};
    IT_OK(strom_client_create_table(c, name, s, opts, 0));
    strom_schema_destroy(s);
}

/* Row i of the telemetry model as CSV (the text tail prints back). */
static void tele_csv(FILE *f, int i)
{
    char ts[32];
    static const char *notes[] = {"plain", "with,comma", "with \"quote\"", "", "multi word"};
    int64_t ms = IT_T0 + (int64_t)i * 250;
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(f, "dev-%d,%s.%03d,", i % 37, ts, (int)(ms % 1000));
    if (i % 11)
        fprintf(f, "%g", i * 0.25);
    fprintf(f, ",%d,%s,", i % 13 ? i : 0, i % 3 ? "true" : "false");
    const char *nt = notes[i % 5];
    if (i % 7 == 0)
        ; /* NULL */
    else if (!*nt || strchr(nt, ',') || strchr(nt, '"')) {
        fputc('"', f);
        for (const char *p = nt; *p; p++)
            fprintf(f, *p == '"' ? "\"\"" : "%c", *p);
        fputc('"', f);
    } else {
        fputs(nt, f);
    }
    fputc('\n', f);
}

/* ------------------------------------------------------------ produce + tail */

static void test_csv_roundtrip(strom_client *c)
{
    create_tele(c, "tele");
    char in[300], out[300], err[300];
    snprintf(in, sizeof in, "%s/in.csv", g_dir);
    snprintf(out, sizeof out, "%s/out.csv", g_dir);
    snprintf(err, sizeof err, "%s/err.txt", g_dir);
    FILE *f = fopen(in, "w");
    fprintf(f, "device,ts,v,n,ok,note\n");
    for (int i = 0; i < 3000; i++)
        tele_csv(f, i);
    fclose(f);
    int rc = strom(NULL, err, "produce tele %s --server %s", in, g_addr);
    IT_CHECK(rc == 0, "produce exit %d: %s", rc, slurp(err));
    rc = strom(out, err, "tail tele --from earliest --limit 3000 --server %s", g_addr);
    IT_CHECK(rc == 0, "tail exit %d: %s", rc, slurp(err));
    same_lines(in, out, 1);
    /* the same through stdin, with a header in another order: 3000 more rows */
    f = fopen(in, "w");
    fprintf(f, "note,device,ts\n\"a,b\",dev-x,2025-01-13 14:30:00.5\n,dev-y,1736778600000\n");
    fclose(f);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s produce tele --server %s < %s 2>%s", g_bin, g_addr, in, err);
    IT_CHECK(system(cmd) == 0, "produce from stdin: %s", slurp(err));
    rc = strom(out, err, "tail tele --from earliest --limit 2 --where 'ts >= 2025-01-13 14:30' "
               "--where \"device <> dev-0\" --columns note,device --server %s", g_addr);
    IT_CHECK(rc == 0, "tail exit %d: %s", rc, slurp(err));
    char *o = slurp(out);
    IT_CHECK(strstr(o, "\"a,b\",dev-x\n") && strstr(o, ",dev-y\n"), "tail output: %s", o);
    IT_CHECK(!strstr(o, ",dev-0\n") && !strstr(o, ",dev-1\n"), "a filtered row came out: %s", o);
    free(o);
    /* 300000 blank lines before a row: skipped one call each, nested, they overflowed the
     * stack of an unoptimised build (fuzzing campaign, tests/fuzz/README.md) */
    create_tele(c, "tblank");
    f = fopen(in, "w");
    fprintf(f, "device,ts\n");
    for (int i = 0; i < 300000; i++)
        fputc('\n', f);
    fprintf(f, "dev-blank,1736778600001\n");
    fclose(f);
    rc = strom(NULL, err, "produce tblank %s --server %s", in, g_addr);
    IT_CHECK(rc == 0, "produce after blank lines: exit %d: %s", rc, slurp(err));
    rc = strom(out, err, "tail tblank --from earliest --limit 1 --where 'device = dev-blank' "
               "--columns device,ts --server %s", g_addr);
    o = slurp(out);
    IT_CHECK(rc == 0 && strstr(o, "dev-blank,2025-01-13 14:30:00.001\n"), "tail: %d %s", rc, o);
    free(o);
}

static void test_jsonl_roundtrip(strom_client *c)
{
    create_tele(c, "tj");
    char in[300], out[300], err[300];
    snprintf(in, sizeof in, "%s/in.jsonl", g_dir);
    snprintf(out, sizeof out, "%s/out.jsonl", g_dir);
    snprintf(err, sizeof err, "%s/err.txt", g_dir);
    FILE *f = fopen(in, "w");
    for (int i = 0; i < 500; i++)
        fprintf(f, "{\"device\":\"d%d\",\"ts\":\"2025-01-13 14:%02d:%02d.%03d\",\"v\":%s,"
                "\"n\":%d,\"ok\":%s,\"note\":\"tab\\there \\\"q\\\" \\u00e9\"}\n", i % 9, i / 60 % 60,
                i % 60, i % 1000, i % 4 ? "1.5" : "null", i, i % 2 ? "true" : "false");
    fclose(f);
    int rc = strom(NULL, err, "produce tj %s --server %s", in, g_addr);
    IT_CHECK(rc == 0, "produce exit %d: %s", rc, slurp(err));
    rc = strom(out, err, "tail tj --from earliest --format jsonl --limit 500 --server %s", g_addr);
    IT_CHECK(rc == 0, "tail exit %d: %s", rc, slurp(err));
    /* the expected text: what was written, with the \u00e9 escape as UTF-8 */
    char want[300];
    snprintf(want, sizeof want, "%s/want.jsonl", g_dir);
    char *text = slurp(in);
    FILE *w = fopen(want, "w");
    for (char *p = text; *p; p++) {
        if (!strncmp(p, "\\u00e9", 6)) {
            fputs("\xc3\xa9", w);
            p += 5;
        } else {
            fputc(*p, w);
        }
    }
    fclose(w);
    free(text);
    same_lines(want, out, 0);
}

typedef struct tail_run { char out[300]; int rc; } tail_run;

static void *tail_thread(void *arg)
{
    tail_run *t = arg;
    t->rc = strom(t->out, NULL, "tail tele --from latest --limit 10 --server %s", g_addr);
    return NULL;
}

static void test_tail_latest(strom_client *c)
{
    tail_run t = {0};
    snprintf(t.out, sizeof t.out, "%s/latest.csv", g_dir);
    unlink(t.out);
    pthread_t th;
    pthread_create(&th, NULL, tail_thread, &t);
    for (int i = 0; i < 500; i++) { /* the header line: tail has its start positions */
        struct stat st;
        if (stat(t.out, &st) == 0 && st.st_size > 0)
            break;
        usleep(10000);
    }
    strom_producer *p;
    IT_OK(strom_producer_create(c, "tele", NULL, NULL, 0, &p));
    int64_t t0 = strom_mono_ns();
    for (int i = 0; i < 10; i++) {
        char dev[16];
        snprintf(dev, sizeof dev, "late-%d", i);
        strom_value v[6] = {{.type = STROM_STRING, .v.s = {dev, strlen(dev)}},
                            {.type = STROM_TIMESTAMP, .v.i = 42},
                            {.type = STROM_DOUBLE, .is_null = 1}, {.type = STROM_INT, .v.i = i},
                            {.type = STROM_BOOLEAN, .v.i = 1}, {.type = STROM_STRING, .is_null = 1}};
        IT_OK(strom_producer_send(p, v, 6));
    }
    IT_OK(strom_producer_close(p));
    pthread_join(th, NULL);
    double secs = (double)(strom_mono_ns() - t0) / 1e9;
    IT_CHECK(t.rc == 0, "tail --from latest exit %d", t.rc);
    char *o = slurp(t.out);
    for (int i = 0; i < 10; i++) {
        char want[64];
        snprintf(want, sizeof want, "late-%d,1970-01-01 00:00:00.042,,%d,true,\n", i, i);
        IT_CHECK(strstr(o, want), "'%s' missing from: %s", want, o);
    }
    IT_CHECK(!strstr(o, "dev-"), "tail --from latest printed older rows");
    IT_CHECK(secs < 2.0, "rows took %.2f s to reach tail", secs);
    printf("tail --from latest: 10 rows produced and received in %.0f ms\n", secs * 1000);
    free(o);
}

/* The subscriber with a projection and a filter on a column outside it. */
static void test_subscriber(strom_client *c)
{
    const char *cols[] = {"n"};
    strom_pred pr = {"device", STROM_OP_EQ, {.type = STROM_STRING, .v.s = {"dev-5", 5}}};
    strom_subscriber_opts o = {.columns = cols, .ncolumns = 1, .preds = &pr, .npreds = 1};
    strom_subscriber *s;
    IT_OK(strom_subscriber_create(c, "tele", &o, &s));
    IT_OK(strom_subscriber_assign(s, -1, STROM_FROM_EARLIEST, 0));
    int64_t want = 0, got = 0, sum = 0, want_sum = 0;
    for (int i = 0; i < 3000; i++)
        if (i % 37 == 5)
            want++, want_sum += i % 13 ? i : 0;
    for (int tries = 0; got < want && tries < 50; tries++) {
        const strom_batch *b;
        int bucket;
        IT_OK(strom_subscriber_poll(s, 200, &b, &bucket));
        if (!b)
            continue;
        IT_CHECK(strom_batch_ncols(b) == 1, "projection: %d columns", strom_batch_ncols(b));
        for (int64_t r = 0; r < strom_batch_nrows(b); r++)
            sum += strom_batch_get_int(b, 0, r);
        got += strom_batch_nrows(b);
    }
    IT_CHECK(got == want && sum == want_sum, "filtered rows: %lld (sum %lld), want %lld (%lld)",
             (long long)got, (long long)sum, (long long)want, (long long)want_sum);
    strom_subscriber_close(s);
    /* from a timestamp: every row with a time at or after it comes (rows 2990..2999 of the
     * CSV, and the two rows of 14:30 from stdin); earlier rows may come too (the seek
     * starts at the batch holding the time), later ones exactly once */
    int64_t t = IT_T0 + 2990 * 250;
    const char *tcols[] = {"ts"};
    strom_subscriber_opts to = {.columns = tcols, .ncolumns = 1};
    IT_OK(strom_subscriber_create(c, "tele", &to, &s));
    IT_OK(strom_subscriber_assign(s, -1, STROM_FROM_TIMESTAMP, t));
    int64_t after = 0, total = 0;
    for (int tries = 0; tries < 10; tries++) {
        const strom_batch *b;
        IT_OK(strom_subscriber_poll(s, 100, &b, NULL));
        for (int64_t r = 0; b && r < strom_batch_nrows(b); r++)
            after += strom_batch_get_int(b, 0, r) >= t;
        total += b ? strom_batch_nrows(b) : 0;
    }
    IT_CHECK(after == 12 && total <= 3002, "from a timestamp: %lld rows at or after it (want "
             "12), %lld in all", (long long)after, (long long)total);
    strom_subscriber_close(s);
}

/* Every row of a subscription from the earliest offsets, folded: rows, non-NULL n, sum of
 * n, sum of device lengths, each weighted by its bucket; a batch must have 2 columns. */
typedef struct { int64_t rows, nn, sum, len; } sub_fold;

static sub_fold fold_all(strom_client *c, int here)
{
    const char *cols[] = {"n", "device"};
    strom_subscriber_opts o = {.columns = cols, .ncolumns = 2, .project_here = here};
    strom_subscriber *s;
    sub_fold f = {0};
    IT_OK(strom_subscriber_create(c, "tele", &o, &s));
    IT_OK(strom_subscriber_assign(s, -1, STROM_FROM_EARLIEST, 0));
    for (int empty = 0; empty < 3;) {
        const strom_batch *b;
        int bucket;
        IT_OK(strom_subscriber_poll(s, 100, &b, &bucket));
        empty = b ? 0 : empty + 1;
        if (!b)
            continue;
        IT_CHECK(strom_batch_ncols(b) == 2, "project_here %d: %d columns", here, strom_batch_ncols(b));
        for (int64_t r = 0; r < strom_batch_nrows(b); r++) {
            size_t len = 0;
            int null = strom_batch_is_null(b, 0, r);
            f.nn += !null;
            f.sum += null ? 0 : strom_batch_get_int(b, 0, r) * (bucket + 1);
            if (!strom_batch_is_null(b, 1, r))
                strom_batch_get_str(b, 1, r, &len);
            f.len += (int64_t)len * (bucket + 1);
        }
        f.rows += strom_batch_nrows(b);
    }
    strom_subscriber_close(s);
    return f;
}

/* project_here: the stored batches whole, projected by the client: the same rows and values
 * as the server's projection. */
static void test_subscriber_project_here(strom_client *c)
{
    sub_fold a = fold_all(c, 0), b = fold_all(c, 1);
    IT_CHECK(a.rows >= 3000 && a.nn > 0 && a.len > 0, "server projection: %lld rows",
             (long long)a.rows);
    IT_CHECK(a.rows == b.rows && a.nn == b.nn && a.sum == b.sum && a.len == b.len,
             "project_here: %lld rows, %lld non-NULL n, sum %lld, lengths %lld; the server's "
             "projection: %lld, %lld, %lld, %lld", (long long)b.rows, (long long)b.nn,
             (long long)b.sum, (long long)b.len, (long long)a.rows, (long long)a.nn,
             (long long)a.sum, (long long)a.len);
}

/* strom_producer_pending: rows lingering are pending, none once flushed (all acked). */
static void test_producer_pending(strom_client *c)
{
    create_tele(c, "tele_pending");
    strom_producer_opts o = {.linger_ms = 60000};
    strom_producer *p;
    IT_OK(strom_producer_create(c, "tele_pending", &o, NULL, 0, &p));
    IT_CHECK(strom_producer_pending(p) == 0, "a new producer: %lld pending",
             (long long)strom_producer_pending(p));
    for (int i = 0; i < 3; i++) {
        strom_value v[6] = {{.type = STROM_STRING, .v.s = {"dev-p", 5}},
                            {.type = STROM_TIMESTAMP, .v.i = 42 + i},
                            {.type = STROM_DOUBLE, .is_null = 1}, {.type = STROM_INT, .v.i = i},
                            {.type = STROM_BOOLEAN, .v.i = 1}, {.type = STROM_STRING, .is_null = 1}};
        IT_OK(strom_producer_send(p, v, 6));
    }
    IT_CHECK(strom_producer_pending(p) == 3, "3 rows lingering (60 s): %lld pending",
             (long long)strom_producer_pending(p));
    IT_OK(strom_producer_flush(p));
    IT_CHECK(strom_producer_pending(p) == 0 && strom_producer_acked(p) == 3,
             "flushed: %lld pending, %lld acked (want 0, 3)",
             (long long)strom_producer_pending(p), (long long)strom_producer_acked(p));
    IT_OK(strom_producer_close(p));
}

/* ------------------------------------------------------------ lookups */

static void create_devices(strom_client *c)
{
    strom_schema *s = strom_schema_create();
    strom_schema_add(s, "id", STROM_BIGINT, 1);
    strom_schema_add(s, "name", STROM_STRING, 0);
    strom_schema_add(s, "kw", STROM_DOUBLE, 0);
    const char *pk[] = {"id"};
    strom_schema_set_primary_key(s, pk, 1);
    const char *opts[] = {"bucket.num", "3", NULL};
    IT_OK(strom_client_create_table(c, "devs", s, opts, 0));
    strom_schema_destroy(s);
    strom_producer *p;
    IT_OK(strom_producer_create(c, "devs", NULL, NULL, 0, &p));
    for (int i = 0; i < 1000; i++) {
        char name[32];
        snprintf(name, sizeof name, "device %d", i);
        strom_value v[3] = {{.type = STROM_BIGINT, .v.i = i},
                            {.type = STROM_STRING, .v.s = {name, strlen(name)}},
                            {.type = STROM_DOUBLE, .v.d = i * 1.5}};
        IT_OK(strom_producer_send(p, v, 3));
    }
    for (int i = 0; i < 1000; i += 10) { /* delete every tenth */
        strom_value v[3] = {{.type = STROM_BIGINT, .v.i = i}, {.type = STROM_STRING, .is_null = 1},
                            {.type = STROM_DOUBLE, .is_null = 1}};
        IT_OK(strom_producer_delete(p, v, 3));
    }
    IT_OK(strom_producer_close(p));
}

/* The server's request counter (STATS "requests"; the STATS call itself counts). */
static int64_t server_requests(strom_client *c)
{
    strom_stat *st;
    size_t n;
    int64_t v = -1;
    IT_OK(strom_client_stats(c, NULL, &st, &n));
    for (size_t i = 0; i < n; i++)
        if (!strcmp(st[i].name, "requests"))
            v = st[i].value;
    strom_client_stats_free(st, n);
    IT_CHECK(v >= 0, "no 'requests' statistic");
    return v;
}

typedef struct lk_arg { strom_lookuper *l; int seed, bad; } lk_arg;

static void *lookup_thread(void *arg)
{
    lk_arg *a = arg;
    for (int k = 0; k < 300; k++) {
        int i = (a->seed * 7919 + k * 31) % 1200;
        strom_value key = {.type = STROM_BIGINT, .v.i = i};
        strom_batch *b = NULL;
        if (strom_lookuper_get(a->l, &key, 1, 0, 0, &b) != STROM_OK) {
            a->bad++;
            continue;
        }
        int want = i < 1000 && i % 10;
        double kw = i == 3 ? 333 : i * 1.5; /* key 3 was updated (AS OF check) */
        if (want != (b != NULL) || (b && strom_batch_get_f64(b, 1, 0) != kw))
            a->bad++;
        strom_batch_destroy(b);
    }
    return NULL;
}

static void test_lookups(strom_client *c)
{
    create_devices(c);
    char out[300], err[300];
    snprintf(out, sizeof out, "%s/lk.csv", g_dir);
    snprintf(err, sizeof err, "%s/lk.err", g_dir);
    int rc = strom(out, err, "lookup devs 7 10 999 5000 --server %s", g_addr);
    IT_CHECK(rc == 0, "lookup exit %d: %s", rc, slurp(err));
    char *o = slurp(out), *e = slurp(err);
    IT_CHECK(!strcmp(o, "id,name,kw\n7,device 7,10.5\n999,device 999,1498.5\n"), "lookup: %s", o);
    IT_CHECK(strstr(e, "not found: 10\n") && strstr(e, "not found: 5000\n"), "stderr: %s", e);
    free(o), free(e);
    /* AS OF: key 3 changes after time t; before t it has its first value; before the
     * table had rows, it has none */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t t = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    usleep(30000);
    strom_producer *p;
    IT_OK(strom_producer_create(c, "devs", NULL, NULL, 0, &p));
    strom_value v3[3] = {{.type = STROM_BIGINT, .v.i = 3}, {.type = STROM_STRING, .v.s = {"new", 3}},
                         {.type = STROM_DOUBLE, .v.d = 333}};
    IT_OK(strom_producer_send(p, v3, 3));
    IT_OK(strom_producer_close(p));
    rc = strom(out, err, "lookup devs 3 7 --as-of %lld --server %s", (long long)t, g_addr);
    o = slurp(out), e = slurp(err);
    IT_CHECK(rc == 0 && !strcmp(o, "id,name,kw\n3,device 3,4.5\n7,device 7,10.5\n"),
             "lookup --as-of: %d %s %s", rc, o, e);
    free(o), free(e);
    rc = strom(out, err, "lookup devs 3 --server %s", g_addr);
    o = slurp(out);
    IT_CHECK(rc == 0 && !strcmp(o, "id,name,kw\n3,new,333\n"), "lookup after the update: %s", o);
    free(o);
    rc = strom(out, err, "lookup devs 3 --as-of '2001-01-01' --server %s", g_addr);
    o = slurp(out), e = slurp(err);
    IT_CHECK(rc == 0 && !strcmp(o, "id,name,kw\n") && strstr(e, "not found: 3"), "as of 2001: %s %s",
             o, e);
    free(o), free(e);
    IT_CHECK(strom(NULL, err, "lookup devs x1 --server %s", g_addr) == 2, "a bad key is usage");
    const char *cols[] = {"name", "kw"};
    strom_lookuper *l;
    IT_OK(strom_lookuper_create(c, "devs", cols, 2, &l));
    strom_value keys[50];
    uint8_t found[50];
    for (int i = 0; i < 50; i++)
        keys[i] = (strom_value){.type = STROM_BIGINT, .v.i = i * 23};
    strom_batch *b;
    IT_OK(strom_lookuper_get_batch(l, keys, 1, 50, 0, 0, found, &b));
    int64_t r = 0;
    for (int i = 0; i < 50; i++) {
        int id = i * 23, want = id < 1000 && id % 10;
        IT_CHECK(found[i] == want, "key %d: found %d", id, found[i]);
        if (!want)
            continue;
        IT_CHECK(strom_batch_get_f64(b, 1, r) == id * 1.5, "key %d: kw", id);
        r++;
    }
    IT_CHECK(r == strom_batch_nrows(b), "rows %lld", (long long)strom_batch_nrows(b));
    strom_batch_destroy(b);
    int64_t req0 = server_requests(c);
    lk_arg a[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        a[i] = (lk_arg){l, i, 0};
        pthread_create(&th[i], NULL, lookup_thread, &a[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        IT_CHECK(a[i].bad == 0, "thread %d: %d wrong lookups", i, a[i].bad);
    }
    /* 8 threads x 300 point lookups through one lookuper: concurrent keys of a bucket
     * share requests, so the server saw fewer requests than lookups */
    int64_t reqs = server_requests(c) - req0 - 1;
    IT_CHECK(reqs > 0 && reqs < 8 * 300, "%lld requests for %d lookups", (long long)reqs, 8 * 300);
    printf("lookuper: %d concurrent point lookups in %lld requests\n", 8 * 300, (long long)reqs);
    strom_lookuper_close(l);
}

/* strom_client_key_history: 5 devices x 100 rows 10 ms apart, sent in a shuffled order;
 * the newest n rows at or before a time, newest first, projected; a short history, an
 * unknown key, bad arguments, a table without the index. */
static void test_key_history(strom_client *c)
{
    strom_schema *s = strom_schema_create();
    strom_schema_add(s, "device", STROM_STRING, 1);
    strom_schema_add(s, "ts", STROM_TIMESTAMP, 1);
    strom_schema_add(s, "v", STROM_DOUBLE, 0);
    const char *opts[] = {"bucket.num", "2", "bucket.key", "device", "table.log.index.key", "device",
                          "table.time-column", "ts", NULL};
    IT_OK(strom_client_create_table(c, "hist", s, opts, 0));
    strom_schema_destroy(s);
    strom_producer *p;
    IT_OK(strom_producer_create(c, "hist", NULL, NULL, 0, &p));
    char dev[5][8];
    for (int k = 0; k < 500; k++) {
        int j = (k * 347) % 500, d = j % 5, i = j / 5;   /* 347 is prime to 500: a shuffle */
        snprintf(dev[d], sizeof dev[d], "d%d", d);
        strom_value v[3] = {{.type = STROM_STRING, .v.s = {dev[d], 2}},
                            {.type = STROM_TIMESTAMP, .v.i = IT_T0 + i * 10},
                            {.type = STROM_DOUBLE, .v.d = d * 1000 + i}};
        IT_OK(strom_producer_send(p, v, 3));
    }
    IT_OK(strom_producer_close(p));
    strom_value key = {.type = STROM_STRING, .v.s = {"d3", 2}};
    const char *cols[] = {"v", "ts"};
    strom_batch *b;
    IT_OK(strom_client_key_history(c, "hist", &key, 1, IT_T0 + 505, 5, cols, 2, &b));
    IT_CHECK(b && strom_batch_nrows(b) == 5 && strom_batch_ncols(b) == 2, "d3: %lld rows",
             b ? (long long)strom_batch_nrows(b) : -1LL);
    for (int r = 0; r < 5; r++) {
        IT_CHECK(strom_batch_get_f64(b, 0, r) == 3050 - r, "d3 row %d: v %g", r, strom_batch_get_f64(b, 0, r));
        IT_CHECK(strom_batch_get_int(b, 1, r) == IT_T0 + (50 - r) * 10, "d3 row %d: ts", r);
    }
    strom_batch_destroy(b);
    key.v.s.ptr = "d1";   /* only rows 0 and 1 are at or before T0 + 15 */
    IT_OK(strom_client_key_history(c, "hist", &key, 1, IT_T0 + 15, 10, NULL, 0, &b));
    IT_CHECK(b && strom_batch_nrows(b) == 2 && strom_batch_ncols(b) == 3, "d1 short history");
    IT_CHECK(strom_batch_get_f64(b, 2, 0) == 1001 && strom_batch_get_f64(b, 2, 1) == 1000, "d1 values");
    strom_batch_destroy(b);
    key.v.s.ptr = "zz";
    IT_OK(strom_client_key_history(c, "hist", &key, 1, IT_T0 + 10000, 10, NULL, 0, &b));
    IT_CHECK(b == NULL, "unknown key: a batch");
    IT_CHECK(strom_client_key_history(c, "hist", &key, 1, IT_T0, 0, NULL, 0, &b) == STROM_EINVAL,
             "n = 0 accepted");
    IT_CHECK(strstr(strom_errmsg(), "key history of 'hist'"), "message: %s", strom_errmsg());
    strom_value id = {.type = STROM_BIGINT, .v.i = 3};
    IT_CHECK(strom_client_key_history(c, "devs", &id, 1, IT_T0, 5, NULL, 0, &b) != STROM_OK,
             "key history of a table without the index");
    IT_CHECK(strstr(strom_errmsg(), "devs"), "message names the table: %s", strom_errmsg());
}

/* The same PUT_KV batch twice into a sum aggregation: applied once. */
static void test_idempotent(strom_client *c)
{
    strom_schema *s = strom_schema_create();
    strom_schema_add(s, "k", STROM_BIGINT, 1);
    strom_schema_add(s, "total", STROM_BIGINT, 0);
    const char *pk[] = {"k"};
    strom_schema_set_primary_key(s, pk, 1);
    const char *opts[] = {"table.merge-engine", "aggregation", "fields.total.agg", "sum", NULL};
    IT_OK(strom_client_create_table(c, "sums", s, opts, 0));
    strom_table_info *ti;
    IT_OK(strom_client_table_info(c, "sums", &ti));
    strom_builder *b = strom_builder_create(ti->schema);
    strom_builder_put_int(b, 0, 1);
    strom_builder_put_int(b, 1, 5);
    strom_builder_end_row(b);
    fmt_encoder *enc = fmt_encoder_create();
    fmt_encode_opts eo;
    fmt_encode_opts_init(&eo);
    eo.writer_id = 777;
    eo.batch_seq = 0;
    uint8_t ch = STROM_INSERT;
    eo.changes = &ch;
    strom_buf bytes = {0}, frame = {0};
    IT_OK(fmt_encode(enc, b, NULL, 0, &eo, &bytes));
    proto_msg m = {0}, r;
    proto_arena a = {0};
    m.req.produce.table = proto_s("sums");
    m.req.produce.acks = PROTO_ACKS_DURABLE;
    m.req.produce.records.bytes = (proto_bytes){bytes.data, (uint32_t)bytes.len};
    for (int i = 0; i < 2; i++) /* a retry after a lost answer sends the same bytes */
        IT_OK(stc_roundtrip(c, PROTO_PUT_KV, &m, 0, &frame, &a, &r));
    strom_lookuper *l;
    IT_OK(strom_lookuper_create(c, "sums", NULL, 0, &l));
    strom_value key = {.type = STROM_BIGINT, .v.i = 1};
    strom_batch *row;
    IT_OK(strom_lookuper_get(l, &key, 1, 0, 0, &row));
    IT_CHECK(row && strom_batch_get_int(row, 1, 0) == 5, "sum after a duplicate: %lld",
             row ? (long long)strom_batch_get_int(row, 1, 0) : -1LL);
    strom_batch_destroy(row);
    strom_lookuper_close(l);
    strom_buf_free(&bytes);
    strom_buf_free(&frame);
    proto_arena_free(&a);
    fmt_encoder_destroy(enc);
    strom_builder_destroy(b);
    strom_table_info_free(ti);
    strom_schema_destroy(s);
}

/* ------------------------------------------------------------ bad input */

static void test_bad_lines(strom_client *c)
{
    create_tele(c, "bad");
    char in[300], out[300], err[300];
    snprintf(in, sizeof in, "%s/bad.csv", g_dir);
    snprintf(out, sizeof out, "%s/bad.out", g_dir);
    snprintf(err, sizeof err, "%s/bad.err", g_dir);
    FILE *f = fopen(in, "w");
    fprintf(f, "device,ts,v\nd1,1000,1.5\nd2,2000,2.5\nd3,3000,2.x5\nd4,4000,4.5\n");
    fclose(f);
    int rc = strom(NULL, err, "produce bad %s --server %s", in, g_addr);
    char *e = slurp(err);
    char want[400];
    snprintf(want, sizeof want, "%s:4:9: column 'v': '2.x5' is not a DOUBLE", in);
    IT_CHECK(rc == 1 && strstr(e, want), "exit %d, stderr: %s", rc, e);
    IT_CHECK(strstr(e, "the 2 rows before line 4 were sent and acknowledged"), "stderr: %s", e);
    free(e);
    rc = strom(out, NULL, "tail bad --from earliest --limit 2 --columns device --server %s", g_addr);
    char *o = slurp(out);
    int n;
    char **lines = sorted_lines(o, 1, &n);
    IT_CHECK(rc == 0 && n == 3 && !strcmp(lines[1], "d1") && !strcmp(lines[2], "d2"), "tail: %s", o);
    free(lines);
    free(o);
    snprintf(in, sizeof in, "%s/bad.jsonl", g_dir);
    f = fopen(in, "w");
    fprintf(f, "{\"device\":\"j1\",\"ts\":1}\n\n{\"device\":\"j2\",\"ts\":2,}\n");
    fclose(f);
    rc = strom(NULL, err, "produce bad %s --server %s", in, g_addr);
    e = slurp(err);
    snprintf(want, sizeof want, "%s:3:23: expected a quoted column name", in);
    IT_CHECK(rc == 1 && strstr(e, want), "exit %d, stderr: %s", rc, e);
    free(e);
    f = fopen(in, "w");
    fprintf(f, "{\"device\":\"j3\",\"ts\":1,\"nope\":2}\n");
    fclose(f);
    rc = strom(NULL, err, "produce bad %s --server %s", in, g_addr);
    e = slurp(err);
    IT_CHECK(rc == 1 && strstr(e, ":1:23: the table has no column 'nope'"), "stderr: %s", e);
    free(e);
    (void)c;
}

static void test_usage_and_addresses(void)
{
    char err[300];
    snprintf(err, sizeof err, "%s/u.err", g_dir);
    IT_CHECK(strom(NULL, NULL, "produce") == 2, "produce without TABLE");
    IT_CHECK(strom(NULL, NULL, "tail t --from yesterday --server %s", g_addr) == 2, "bad --from");
    IT_CHECK(strom(NULL, NULL, "tail t --format xml") == 2, "bad --format");
    IT_CHECK(strom(NULL, NULL, "lookup t") == 2, "lookup without a key");
    IT_CHECK(strom(NULL, NULL, "stats --help") == 0, "--help");
    IT_CHECK(strom(NULL, err, "stats --server nohost") == 1, "bad address");
    char *e = slurp(err);
    IT_CHECK(strstr(e, "server address 'nohost'"), "stderr: %s", e);
    free(e);
    IT_CHECK(strom(NULL, err, "tail t --server 127.0.0.1:1") == 1, "nobody listens");
    e = slurp(err);
    IT_CHECK(strstr(e, "127.0.0.1:1") && strstr(e, "cannot connect"), "stderr: %s", e);
    free(e);
    char out[300];
    snprintf(out, sizeof out, "%s/t.out", g_dir);
    IT_CHECK(strom(out, err, "tables --server %s", g_addr) == 0, "tables: %s", slurp(err));
    e = slurp(out);
    IT_CHECK(strstr(e, "tele ") && strstr(e, "devs ") && strstr(e, "primary key"), "tables: %s", e);
    free(e);
    IT_CHECK(strom(out, err, "describe devs --server %s", g_addr) == 0, "describe: %s", slurp(err));
    e = slurp(out);
    IT_CHECK(strstr(e, "id ") && strstr(e, "PRIMARY KEY") && strstr(e, "buckets:"), "describe: %s", e);
    free(e);
    IT_CHECK(strom(out, err, "stats --server %s", g_addr) == 0, "stats: %s", slurp(err));
    IT_CHECK(strom(out, err, "stats tele --server %s", g_addr) == 0, "stats tele: %s", slurp(err));
}

/* ------------------------------------------------------------ timeouts */

/* Waits until the process is in state T (stopped). */
static void wait_stopped(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        buf[n] = '\0';
        const char *rp = strrchr(buf, ')');
        if (rp && rp[1] == ' ' && rp[2] == 'T')
            return;
        usleep(2000);
    }
    IT_CHECK(0, "the server did not stop");
}

static void test_stopped_and_gone(void)
{
    strom_client *c = connect_or_die(400);
    strom_table_info *ti;
    IT_OK(strom_client_table_info(c, "tele", &ti));
    strom_table_info_free(ti);
    kill(g_pid, SIGSTOP);
    wait_stopped(g_pid); /* the signal is delivered asynchronously */
    int64_t t0 = strom_mono_ns();
    strom_err e = strom_client_table_info(c, "tele", &ti);
    int64_t ms = (strom_mono_ns() - t0) / 1000000;
    IT_CHECK(e == STROM_ETIMEOUT && ms >= 390 && ms < 5000, "stopped server: %s after %lld ms",
             strom_strerror(e), (long long)ms);
    IT_CHECK(strstr(strom_errmsg(), g_addr) && strstr(strom_errmsg(), "GET_TABLE_INFO"), "%s",
             strom_errmsg());
    kill(g_pid, SIGCONT);
    IT_OK(strom_client_table_info(c, "tele", &ti));
    strom_table_info_free(ti);
    kill(g_pid, SIGKILL);
    int st;
    waitpid(g_pid, &st, 0);
    g_pid = 0;
    e = strom_client_table_info(c, "tele", &ti);
    IT_CHECK(e == STROM_EIO, "gone server: %s (%s)", strom_strerror(e), strom_errmsg());
    e = strom_client_table_info(c, "tele", &ti);
    IT_CHECK(e == STROM_EIO && strstr(strom_errmsg(), "cannot connect"), "reconnect: %s",
             strom_errmsg());
    strom_client_close(c);
}

int main(void)
{
    const char *bin = getenv("STROM_BIN");
    snprintf(g_bin, sizeof g_bin, "%s", bin ? bin : "./strom");
    if (strom(NULL, NULL, "server --help") != 0) {
        printf("test_client_server: skipped: this build has no 'strom server'\n");
        return 77; /* CTest: skipped (SKIP_RETURN_CODE) */
    }
    snprintf(g_dir, sizeof g_dir, "/tmp/strom-client-itest-XXXXXX");
    IT_CHECK(mkdtemp(g_dir), "mkdtemp");
    char data[300];
    snprintf(data, sizeof data, "%s/data", g_dir);
    server_start(data);
    strom_client *c = connect_or_die(20000);
    test_csv_roundtrip(c);
    test_jsonl_roundtrip(c);
    test_tail_latest(c);
    test_subscriber(c);
    test_subscriber_project_here(c);
    test_producer_pending(c);
    test_lookups(c);
    test_key_history(c);
    test_idempotent(c);
    test_bad_lines(c);
    test_usage_and_addresses();
    strom_client_close(c);
    test_stopped_and_gone();
    strom_rmtree(g_dir);
    printf("test_client_server: ok\n");
    return 0;
}
