/* config.c: the server settings (one table shared by flags, config files and --help) and
 * the strict parser of the flat "key: value" config file (format in server.h). */
#include "server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

#define CFG_OFF(f) offsetof(srv_config, f)
#define CFG_MAX_FILE (1u << 20)
#define CFG_MAX_LINE 8192

static const srv_setting settings[] = {
    {"data.dir", "--data", "DIR", "./strom-data", "data directory (created if missing)", 0, 0,
     0, CFG_OFF(data_dir), SRV_PATH_MAX},
    {"bind.host", "--host", "ADDR", "127.0.0.1",
     "address to listen on (other than loopback only when configured)", 0, 0, 0,
     CFG_OFF(host), 256},
    {"bind.port", "--port", "N", "9123", "TCP port; 0 picks a free one (printed when ready)",
     1, 0, 65535, CFG_OFF(port), 0},
    {"server.io-threads", "--io-threads", "N", "0",
     "event-loop (epoll) threads; 0 = one per core", 1, 0, 256, CFG_OFF(io_threads), 0},
    {"server.io-sched-batch", "--io-sched-batch", "0|1", "0",
     "1: the I/O threads run as SCHED_BATCH: woken by a client's write they do not preempt "
     "the client on its core but run when it pauses (fewer switches with more threads than "
     "cores; an experiment, bench/README.md)", 1, 0, 1, CFG_OFF(io_sched_batch), 0},
    {"server.worker-threads", "--worker-threads", "N", "4",
     "threads running blocking requests (durable writes, scans)", 1, 1, 256,
     CFG_OFF(worker_threads), 0},
    {"server.max-connections", "--max-connections", "N", "10000",
     "connections beyond this get an ELIMIT response and are closed", 1, 1, 1000000,
     CFG_OFF(max_connections), 0},
    {"server.max-frame-bytes", "--max-frame-bytes", "BYTES", "64MiB",
     "largest request frame (bytes after the length field); larger: ELIMIT, then close", 1,
     64, INT32_MAX, CFG_OFF(max_frame_bytes), 0},
    {"server.max-connection-buffer-bytes", "--max-conn-buffer-bytes", "BYTES", "64MiB",
     "unsent response bytes of a connection at which it is not read (backpressure); a "
     "FETCH_LOG or SCAN_KV answer is cut to what is left of it (one batch always)", 1,
     4096, INT64_C(1) << 40, CFG_OFF(max_conn_buffer_bytes), 0},
    {"server.max-inflight-requests", "--max-inflight", "N", "1024",
     "requests of one connection being processed or answered before it is not read", 1, 1,
     1000000, CFG_OFF(max_inflight), 0},
    {"server.fetch.max-wait-ms", "--fetch-max-wait-ms", "MS", "60000",
     "upper bound on a fetch's max_wait_ms (long-poll)", 1, 0, 3600000, CFG_OFF(max_wait_ms),
     0},
    {"server.fetch.max-bytes", "--fetch-max-bytes", "BYTES", "8MiB",
     "upper bound on a fetch's bytes per bucket (a request's max_bytes 0 means this)", 1, 1,
     INT32_MAX, CFG_OFF(fetch_max_bytes), 0},
    {"server.shutdown-timeout-ms", "--shutdown-timeout-ms", "MS", "10000",
     "on SIGTERM, how long in-flight requests may take before connections are cut", 1, 0,
     3600000, CFG_OFF(shutdown_timeout_ms), 0},
    {"server.scan.cursor-timeout-ms", "--cursor-timeout-ms", "MS", "60000",
     "a SCAN_KV snapshot not continued within this is closed (its resume token expires)", 1,
     0, 86400000, CFG_OFF(cursor_timeout_ms), 0},
};
#define NSETTINGS ((int)(sizeof settings / sizeof settings[0]))

const srv_setting *srv_settings(int *n)
{
    *n = NSETTINGS;
    return settings;
}

/* ------------------------------------------------------------ values */

static const struct { const char *suffix; int64_t mul; } units[] = {
    {"KiB", INT64_C(1) << 10}, {"MiB", INT64_C(1) << 20}, {"GiB", INT64_C(1) << 30},
    {"k", 1000}, {"K", 1000}, {"M", 1000000}, {"G", 1000000000}, {"", 1},
};

/* Decimal with an optional unit suffix. 0 ok, -1 bad syntax, -2 overflow. */
static int parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || (*s != '-' && (*s < '0' || *s > '9')))
        return -1;
    if (errno == ERANGE)
        return -2;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].suffix) != 0)
            continue;
        if (v > INT64_MAX / units[i].mul || v < INT64_MIN / units[i].mul)
            return -2;
        *out = (int64_t)v * units[i].mul;
        return 0;
    }
    return -1;
}

static const srv_setting *find_setting(const char *key)
{
    int by_flag = key[0] == '-' && key[1] == '-';
    for (int i = 0; i < NSETTINGS; i++)
        if (!strcmp(by_flag ? settings[i].flag : settings[i].key, key))
            return &settings[i];
    return NULL;
}

static strom_err unknown_key(const char *key, const char *where)
{
    char known[1024];
    size_t n = 0;
    int flags = key[0] == '-' && key[1] == '-';
    known[0] = '\0';
    for (int i = 0; i < NSETTINGS && n < sizeof known; i++)
        n += (size_t)snprintf(known + n, sizeof known - n, "%s%s", i ? ", " : "",
                              flags ? settings[i].flag : settings[i].key);
    return strom_fail(STROM_EOPTION, "%s: unknown setting '%.200s' (known: %s)", where, key,
                      known);
}

static strom_err set_value(srv_config *c, const srv_setting *s, const char *value,
                           const char *where)
{
    char *dst = (char *)c + s->off;
    if (!s->is_int) {
        size_t n = strlen(value);
        if (n == 0 || n >= s->cap)
            return strom_fail(STROM_EINVAL, "%s: %s: value must be 1..%zu bytes, got %zu", where,
                              s->key, s->cap - 1, n);
        memcpy(dst, value, n + 1);
        return STROM_OK;
    }
    int64_t v = 0;
    int rc = parse_int(value, &v);
    if (rc == -1)
        return strom_fail(STROM_EINVAL, "%s: %s: '%.100s' is not an integer (digits with an "
                          "optional k/M/G or KiB/MiB/GiB suffix)", where, s->key, value);
    if (rc == -2 || v < s->min || v > s->max)
        return strom_fail(STROM_EINVAL, "%s: %s: '%.100s' is out of range %lld..%lld", where,
                          s->key, value, (long long)s->min, (long long)s->max);
    memcpy(dst, &v, sizeof v);
    return STROM_OK;
}

strom_err srv_config_set(srv_config *c, const char *key, const char *value, const char *where)
{
    const srv_setting *s = find_setting(key);
    return s ? set_value(c, s, value, where) : unknown_key(key, where);
}

void srv_config_defaults(srv_config *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < NSETTINGS; i++)
        set_value(c, &settings[i], settings[i].def, "default");
}

/* ------------------------------------------------------------- the file */

static int is_blank(char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; }

static char *trim(char *s)
{
    while (is_blank(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_blank(s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* The value part of a line: quotes removed, or an unquoted value with a trailing
 * " # comment" cut. NULL (message set) when a quote is not closed or text follows it. */
static char *line_value(char *v, const char *where, const char *key)
{
    v = trim(v);
    if (*v == '"' || *v == '\'') {
        char *close = strchr(v + 1, *v);
        if (!close) {
            strom_fail(STROM_EINVAL, "%s: %s: the quote %c is not closed", where, key, *v);
            return NULL;
        }
        char *rest = trim(close + 1);
        if (*rest && *rest != '#') {
            strom_fail(STROM_EINVAL, "%s: %s: unexpected text after the quoted value", where, key);
            return NULL;
        }
        *close = '\0';
        return v + 1;
    }
    for (char *p = v; *p; p++)
        if (*p == '#' && (p == v || is_blank(p[-1]))) {
            *p = '\0';
            break;
        }
    return trim(v);
}

static strom_err parse_line(srv_config *c, char *line, const char *where, uint8_t *seen)
{
    char *s = trim(line);
    if (*s == '\0' || *s == '#')
        return STROM_OK;
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 && *p != '\t')
            return strom_fail(STROM_EINVAL, "%s: control character 0x%02x in the line", where,
                              (unsigned)(unsigned char)*p);
    char *colon = strchr(s, ':');
    if (!colon)
        return strom_fail(STROM_EINVAL, "%s: expected 'key: value', got '%.100s'", where, s);
    *colon = '\0';
    char *key = trim(s);
    const srv_setting *st = *key ? find_setting(key) : NULL;
    if (!st || key[0] == '-')
        return *key ? unknown_key(key, where)
                    : strom_fail(STROM_EINVAL, "%s: the key before ':' is empty", where);
    if (seen[st - settings])
        return strom_fail(STROM_EINVAL, "%s: %s is set twice", where, key);
    seen[st - settings] = 1;
    char *v = line_value(colon + 1, where, key);
    if (!v)
        return STROM_EINVAL;
    if (*v == '\0')
        return strom_fail(STROM_EINVAL, "%s: %s: the value is empty", where, key);
    return set_value(c, st, v, where);
}

strom_err srv_config_parse(srv_config *c, const char *text, size_t len, const char *fname)
{
    uint8_t seen[NSETTINGS] = {0};
    char line[CFG_MAX_LINE + 1], where[512];
    size_t pos = 0;
    for (int lineno = 1; pos < len; lineno++) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        snprintf(where, sizeof where, "%.400s:%d", fname, lineno);
        if (n > CFG_MAX_LINE)
            return strom_fail(STROM_EINVAL, "%s: line longer than %d bytes", where, CFG_MAX_LINE);
        if (memchr(text + pos, '\0', n))
            return strom_fail(STROM_EINVAL, "%s: NUL byte in the line", where);
        memcpy(line, text + pos, n);
        line[n] = '\0';
        strom_err e = parse_line(c, line, where, seen);
        if (e != STROM_OK)
            return e;
        pos += n + 1;
    }
    return STROM_OK;
}

strom_err srv_config_load(srv_config *c, const char *path)
{
    uint8_t *data = NULL;
    size_t len = 0;
    strom_err e = strom_read_file(path, CFG_MAX_FILE, &data, &len);
    if (e != STROM_OK)
        return strom_fail_wrap(e, "config file %s", path);
    e = srv_config_parse(c, (const char *)data, len, path);
    free(data);
    return e;
}

void srv_config_print_help(FILE *f)
{
    fprintf(f, "settings (flag, config-file key, default):\n");
    for (int i = 0; i < NSETTINGS; i++) {
        char left[64];
        snprintf(left, sizeof left, "%s %s", settings[i].flag, settings[i].arg);
        fprintf(f, "  %-28s %s\n  %-28s   %s: %s (default %s)\n", left, settings[i].help, "",
                 "key", settings[i].key, settings[i].def);
    }
}
