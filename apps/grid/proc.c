/* proc.c: child processes of the demo and the grid benchmark (proc.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "proc.h"

const char *grid_self_exe(void)
{
    static char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0)
        return "strom";
    path[n] = 0;
    return path;
}

static void child_exec(char *const argv[], int out_fd, const char *errlog)
{
    setpgid(0, 0);
    if (out_fd >= 0 && dup2(out_fd, STDOUT_FILENO) < 0)
        _exit(127);
    if (errlog) {
        int fd = open(errlog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
            _exit(127);
    }
    execv(argv[0], argv);
    fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

int grid_proc_start(grid_proc *p, const char *name, char *const argv[], int capture,
                    const char *errlog, grid_diag *d)
{
    memset(p, 0, sizeof *p);
    p->fd = -1;
    p->status = -1;
    snprintf(p->name, sizeof p->name, "%s", name);
    int fds[2] = {-1, -1};
    if (capture && pipe2(fds, O_CLOEXEC) < 0)
        return grid_errorf(d, "%s: pipe: %s", name, strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        if (capture)
            close(fds[0]), close(fds[1]);
        return grid_errorf(d, "%s: fork: %s", name, strerror(errno));
    }
    if (pid == 0)
        child_exec(argv, capture ? fds[1] : -1, errlog);
    setpgid(pid, pid);
    p->pid = pid;
    if (capture) {
        close(fds[1]);
        p->fd = fds[0];
        fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK);
    }
    return 0;
}

/* Delivers the complete lines of p->buf; keeps the partial tail. */
static int deliver(grid_proc *p, grid_line_fn fn, void *ctx, int flush_all)
{
    int lines = 0;
    size_t start = 0;
    for (size_t i = 0; i < p->len; i++) {
        if (p->buf[i] != '\n')
            continue;
        p->buf[i] = 0;
        fn(ctx, p, p->buf + start);
        lines++;
        start = i + 1;
    }
    if (start == 0 && (p->len == sizeof p->buf - 1 || (flush_all && p->len))) {
        p->buf[p->len] = 0;   /* an over-long line, or the unterminated last one */
        fn(ctx, p, p->buf);
        lines++;
        start = p->len;
    }
    memmove(p->buf, p->buf + start, p->len - start);
    p->len -= start;
    return lines;
}

/* Reads what p has; closes the pipe at EOF. Lines delivered. */
static int drain(grid_proc *p, grid_line_fn fn, void *ctx)
{
    int lines = 0;
    for (;;) {
        ssize_t n = read(p->fd, p->buf + p->len, sizeof p->buf - 1 - p->len);
        if (n > 0) {
            p->len += (size_t)n;
            lines += deliver(p, fn, ctx, 0);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return lines;
        lines += deliver(p, fn, ctx, 1);   /* EOF or error: the pipe is done */
        close(p->fd);
        p->fd = -1;
        return lines;
    }
}

int grid_proc_poll(grid_proc *const *ps, int n, int timeout_ms, grid_line_fn fn, void *ctx)
{
    struct pollfd pf[16];
    int idx[16], k = 0;
    for (int i = 0; i < n && k < 16; i++)
        if (ps[i] && ps[i]->fd >= 0)
            pf[k] = (struct pollfd){.fd = ps[i]->fd, .events = POLLIN}, idx[k++] = i;
    if (!k)
        return -1;
    int r = poll(pf, (nfds_t)k, timeout_ms);
    if (r <= 0)
        return 0;
    int lines = 0;
    for (int j = 0; j < k; j++)
        if (pf[j].revents)
            lines += drain(ps[idx[j]], fn, ctx);
    return lines;
}

int grid_proc_exited(grid_proc *p)
{
    if (!p->pid)
        return 1;
    int st;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == p->pid) {
        p->status = st;
        p->pid = 0;
        return 1;
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void drop_line(void *ctx, grid_proc *p, char *line)
{
    (void)ctx, (void)p, (void)line;
}

int grid_proc_stop(grid_proc *p, int sig, int timeout_ms)
{
    if (p->pid && sig)
        kill(-p->pid, sig);          /* its process group: whatever it started goes too */
    double end = now_s() + timeout_ms / 1000.0;
    while (p->pid && !grid_proc_exited(p)) {
        if (p->fd >= 0)
            drain(p, drop_line, NULL);
        if (now_s() > end) {
            kill(-p->pid, SIGKILL);
            end = now_s() + 5;
        }
        usleep(5000);
    }
    if (p->fd >= 0) {
        drain(p, drop_line, NULL);
        if (p->fd >= 0)
            close(p->fd);
        p->fd = -1;
    }
    if (p->status < 0)
        return -1;
    return WIFEXITED(p->status) ? WEXITSTATUS(p->status) : 128 + WTERMSIG(p->status);
}

int grid_proc_usage(pid_t pid, double *cpu_s, double *rss_mb)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *s = strrchr(buf, ')');   /* the command name may hold blanks */
    unsigned long ut, st;
    long rss;
    /* after ")": state(3) ... utime is field 14, stime 15, rss 24 */
    if (!s || sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d "
                            "%*d %*d %*u %*u %ld", &ut, &st, &rss) != 3)
        return -1;
    double hz = (double)sysconf(_SC_CLK_TCK);
    *cpu_s = (double)(ut + st) / hz;
    *rss_mb = (double)rss * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
    return 0;
}

typedef struct listen_ctx { char *addr; size_t len; int found; } listen_ctx;

static void on_server_line(void *ctx, grid_proc *p, char *line)
{
    (void)p;
    listen_ctx *c = ctx;
    const char *k = strstr(line, "listening on ");
    if (k && !c->found) {
        snprintf(c->addr, c->len, "%s", k + 13);
        c->found = 1;
    }
}

int grid_proc_server(grid_proc *p, const char *dir, const char *log, char *addr, size_t addrlen,
                     grid_diag *d)
{
    char *argv[] = {(char *)grid_self_exe(), "server", "--data", (char *)dir, "--port", "0", NULL};
    if (grid_proc_start(p, "server", argv, 1, log, d))
        return -1;
    listen_ctx c = {addr, addrlen, 0};
    grid_proc *ps[1] = {p};
    for (double end = now_s() + 10; !c.found && now_s() < end;) {
        if (grid_proc_poll(ps, 1, 100, on_server_line, &c) < 0 || grid_proc_exited(p))
            break;
    }
    if (c.found)
        return 0;
    grid_proc_stop(p, SIGKILL, 1000);
    return grid_errorf(d, "the server did not start within 10 s%s%s", log ? "; see " : "",
                       log ? log : "");
}
