/*
 * proc.h: the grid application's services as child processes (apps/grid, prefix
 * grid_proc_ and grid_ev_), for `strom demo` and `strom bench grid`.
 *
 * A real deployment runs the server, the simulator (standing in for the field devices) and
 * the dispatcher as separate services; the demo and the benchmark do the same: each is a
 * `strom` process started from this executable, and the simulator and dispatcher report
 * what happens as JSON Lines on stdout (`--events`), one flat object per line:
 *
 *   {"event": "decision", "fault": "F3/Line.L60", "latency_ms": 3.2, "opened": ["..."], ...}
 *
 * grid_ev_parse reads such a line: an object of string, number, true/false/null and
 * arrays-of-strings members; nested objects, other arrays, a member named twice and anything
 * malformed are an error (the line is then ignored by the caller, never trusted half-read).
 *
 * Ownership: a grid_proc is the caller's struct; grid_proc_start fills it, grid_proc_stop
 * reaps the child and closes its pipe (call it exactly once per started process). A
 * grid_ev borrows nothing: grid_ev_parse copies what it keeps into the struct (fixed
 * capacity; longer strings are an error). Not thread-safe.
 */
#ifndef STROM_GRID_PROC_H
#define STROM_GRID_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "grid.h"

/* ------------------------------------------------------------ child processes */

typedef struct grid_proc {
    pid_t pid;            /* 0: not running */
    int fd;               /* read end of its stdout, -1 when not captured or at EOF */
    char name[32];        /* for messages: "server", "simulator", "dispatcher" */
    char buf[1 << 16];    /* partial line */
    size_t len;
    int status;           /* wait status once reaped, -1 before */
} grid_proc;

/* The absolute path of the running executable (static buffer), or "strom" if unknown. */
const char *grid_self_exe(void);

/* Starts argv[0] (a path) with argv (NULL-terminated). stdout is piped to p->fd when capture,
 * else inherited; stderr goes to errlog (created/appended) or is inherited when NULL. The
 * child gets its own process group so a terminal's Ctrl-C reaches only the parent, which
 * stops the children in order. 0 or -1 (d->error names the program). */
int grid_proc_start(grid_proc *p, const char *name, char *const argv[], int capture,
                    const char *errlog, grid_diag *d);

/* Line callback: line is NUL-terminated without its newline, writable, valid during the
 * call. */
typedef void (*grid_line_fn)(void *ctx, grid_proc *p, char *line);

/* Waits up to timeout_ms for output of any of the n processes and calls fn for every
 * complete line read (a line longer than the buffer is cut and delivered in pieces).
 * Processes at EOF are skipped. Returns the number of lines, or -1 if every process is at
 * EOF (or none is captured). */
int grid_proc_poll(grid_proc *const *ps, int n, int timeout_ms, grid_line_fn fn, void *ctx);

/* 1 if the process has exited (reaped: p->status set), 0 if it is running. */
int grid_proc_exited(grid_proc *p);

/* Sends sig (0: none, just wait) and waits up to timeout_ms for the exit, then SIGKILL.
 * Reads and drops what is left on the pipe, closes it. Returns the exit code (128 + signal
 * when killed by one), or -1 if p was not running. */
int grid_proc_stop(grid_proc *p, int sig, int timeout_ms);

/* CPU seconds (user + system) and resident set (MB) of a running process, from /proc.
 * 0 or -1. */
int grid_proc_usage(pid_t pid, double *cpu_s, double *rss_mb);

/* Starts `strom server --data dir --port 0` (stderr into dir/../server.log when log is
 * NULL, else log) and waits up to 10 s for "listening on HOST:PORT"; addr gets
 * "127.0.0.1:PORT". 0 or -1. */
int grid_proc_server(grid_proc *p, const char *dir, const char *log, char *addr, size_t addrlen,
                     grid_diag *d);

/* ------------------------------------------------------------ event lines */

#define GRID_EV_MAX 40        /* members */
#define GRID_EV_STR 128       /* bytes of a string value (with NUL) */
#define GRID_EV_ARR 1024      /* bytes of an array's strings (NUL-separated) */

typedef enum grid_ev_type { GRID_EV_NULL = 0, GRID_EV_BOOL, GRID_EV_NUM, GRID_EV_STRV,
                            GRID_EV_ARRV } grid_ev_type;

typedef struct grid_ev_member {
    char key[32];
    uint8_t type;         /* grid_ev_type */
    double num;           /* NUM; BOOL: 0/1 */
    char str[GRID_EV_STR];/* STRV */
    char arr[GRID_EV_ARR];/* ARRV: the strings, each NUL-terminated, one after the other */
    int narr;
} grid_ev_member;

typedef struct grid_ev {
    int n;
    grid_ev_member m[GRID_EV_MAX];
} grid_ev;

/* Parses one line. 0, or -1 with err (what and at which byte). */
int grid_ev_parse(const char *line, size_t len, grid_ev *ev, char *err, size_t errlen);
/* The member of that name or NULL. */
const grid_ev_member *grid_ev_get(const grid_ev *ev, const char *key);
/* A string member's value, or dflt when absent / not a string. */
const char *grid_ev_str(const grid_ev *ev, const char *key, const char *dflt);
/* A number member's value, or dflt when absent / not a number. */
double grid_ev_num(const grid_ev *ev, const char *key, double dflt);
/* Array member: the i-th string, NULL past the end (or if absent / not an array). */
const char *grid_ev_arr(const grid_ev *ev, const char *key, int i);

#endif /* STROM_GRID_PROC_H */
