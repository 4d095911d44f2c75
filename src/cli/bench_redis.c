/* bench_redis.c: the private redis-server and the RESP client (see bench_redis.h). */
#define _GNU_SOURCE
#include "bench_redis.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static int fail(redis_conn *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(redis_conn *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    return -1;
}

/* ------------------------------------------------------------ server */

/* A loopback port nobody listens on now (the kernel's pick for port 0). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static void exec_server(const redis_conn *r)
{
    char port[16];
    snprintf(port, sizeof port, "%d", r->port);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0), dup2(null, 1), dup2(null, 2);
        close(null);
    }
    execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
           "--appendonly", "no", "--dir", r->dir, "--daemonize", "no", (char *)NULL);
    _exit(127);
}

static int try_connect(redis_conn *r)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    r->fd = fd;
    return 0;
}

int redis_start(redis_conn *r, const char *parent)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    if (system("command -v redis-server >/dev/null 2>&1") != 0)
        return fail(r, "redis-server is not installed (scripts/install-deps.sh installs it)");
    int err = cli_mktemp_dir(parent, "strom-redis-", r->dir, sizeof r->dir);
    if (err)
        return fail(r, "cannot create a directory in %s: %s", parent, strerror(err));
    if ((r->port = free_port()) < 0)
        return fail(r, "no free loopback port");
    fflush(NULL);
    r->pid = fork();
    if (r->pid < 0)
        return fail(r, "fork: %s", strerror(errno));
    if (r->pid == 0)
        exec_server(r);
    for (int i = 0; i < 500; i++) {   /* up to 5 s */
        if (try_connect(r) == 0)
            return 0;
        if (waitpid(r->pid, NULL, WNOHANG) == r->pid) {
            r->pid = 0;
            return fail(r, "redis-server exited at start (port %d)", r->port);
        }
        usleep(10000);
    }
    return fail(r, "redis-server did not accept connections on port %d within 5 s", r->port);
}

void redis_stop(redis_conn *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    if (r->pid > 0) {
        kill(r->pid, SIGTERM);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
    if (r->dir[0])
        cli_rmtree(r->dir);
    r->dir[0] = '\0';
    free(r->out);
    free(r->in);
    r->out = r->in = NULL;
}

/* ------------------------------------------------------------ requests */

static int reserve(char **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 65536;
    while (n < need)
        n *= 2;
    char *q = realloc(*p, n);
    if (!q)
        return -1;
    *p = q, *cap = n;
    return 0;
}

static int put_bulk(redis_conn *r, const char *s, size_t n)
{
    if (reserve(&r->out, &r->ocap, r->olen + n + 32))
        return fail(r, "out of memory");
    r->olen += (size_t)sprintf(r->out + r->olen, "$%zu\r\n", n);
    memcpy(r->out + r->olen, s, n);
    r->olen += n;
    memcpy(r->out + r->olen, "\r\n", 2);
    r->olen += 2;
    return 0;
}

static int queue(redis_conn *r, int n, const char *const *parts, const size_t *lens)
{
    if (reserve(&r->out, &r->ocap, r->olen + 16))
        return fail(r, "out of memory");
    r->olen += (size_t)sprintf(r->out + r->olen, "*%d\r\n", n);
    for (int i = 0; i < n; i++)
        if (put_bulk(r, parts[i], lens[i]))
            return -1;
    return 0;
}

int redis_queue_set(redis_conn *r, const char *k, size_t klen, const char *v, size_t vlen)
{
    const char *p[] = {"SET", k, v};
    size_t l[] = {3, klen, vlen};
    return queue(r, 3, p, l);
}

int redis_queue_get(redis_conn *r, const char *k, size_t klen)
{
    const char *p[] = {"GET", k};
    size_t l[] = {3, klen};
    return queue(r, 2, p, l);
}

int redis_flush(redis_conn *r)
{
    for (size_t off = 0; off < r->olen;) {
        ssize_t n = write(r->fd, r->out + off, r->olen - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return fail(r, "write to redis: %s", strerror(errno));
        off += (size_t)n;
    }
    r->olen = 0;
    return 0;
}

/* ------------------------------------------------------------- replies */

/* Makes at least need bytes available from ipos on. */
static int fill(redis_conn *r, size_t need)
{
    if (r->ipos > 0 && r->ipos == r->ilen)
        r->ipos = r->ilen = 0;
    if (r->ilen - r->ipos >= need)
        return 0;
    if (r->ipos > 0) {
        memmove(r->in, r->in + r->ipos, r->ilen - r->ipos);
        r->ilen -= r->ipos, r->ipos = 0;
    }
    if (reserve(&r->in, &r->icap, need + 65536))
        return fail(r, "out of memory");
    while (r->ilen < need) {
        ssize_t n = read(r->fd, r->in + r->ilen, r->icap - r->ilen);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return fail(r, "read from redis: %s", n ? strerror(errno) : "connection closed");
        r->ilen += (size_t)n;
    }
    return 0;
}

/* One "\r\n"-terminated line from ipos; *line points at it (NUL-terminated in place). */
static int read_line(redis_conn *r, char **line)
{
    for (size_t need = 3;; need++) {
        if (fill(r, need))
            return -1;
        char *p = r->in + r->ipos;
        if (p[need - 2] == '\r' && p[need - 1] == '\n') {
            p[need - 2] = '\0';
            *line = p;
            r->ipos += need;
            return 0;
        }
    }
}

int redis_reply(redis_conn *r, int64_t *len)
{
    char *line;
    if (read_line(r, &line))
        return -1;
    if (line[0] == '+') {
        *len = -1;
        return 1;
    }
    if (line[0] != '$')
        return fail(r, "redis replied '%.200s'", line);
    long long n = strtoll(line + 1, NULL, 10);
    if (n < 0)
        return 0;
    if (fill(r, (size_t)n + 2))
        return -1;
    r->val = r->in + r->ipos;
    r->ipos += (size_t)n + 2;
    *len = n;
    return 1;
}

int64_t redis_used_memory(redis_conn *r)
{
    const char *p[] = {"INFO", "memory"};
    size_t l[] = {4, 6};
    int64_t n = 0;
    if (queue(r, 2, p, l) || redis_flush(r) || redis_reply(r, &n) != 1 || n < 0)
        return -1;
    char buf[4096];
    snprintf(buf, sizeof buf, "%.*s", (int)(n < 4095 ? n : 4095), r->val);
    const char *m = strstr(buf, "used_memory:");
    return m ? strtoll(m + 12, NULL, 10) : -1;
}
