/*
 * server.h: the strom server (`strom server`): configuration and the entry point. The
 * server speaks the native protocol (src/proto, docs/protocol.md) over TCP and runs the
 * requests against the embedded engine (include/strom/strom.h). Prefix: srv_.
 * Threads, data flow and the listener structure: srv_int.h and docs/architecture.md.
 *
 * ==========================================================================================
 * CONFIGURATION FILE (--config FILE)
 * ==========================================================================================
 * Flat "key: value" lines in the style of Fluss's server.yaml:
 *
 *   # strom server settings
 *   bind.port: 9123
 *   data.dir: "/var/lib/strom"
 *
 * One setting per line; blank lines and lines whose first non-blank byte is '#' are
 * ignored; a '#' after a blank in an unquoted value starts a comment. Keys are the names in
 * srv_settings[] (config.c; `strom server --help` lists them with flags and defaults).
 * A value may be quoted with "..." or '...' (no escapes; the quotes are removed). Integers
 * are decimal with an optional k/M/G (x1000) or KiB/MiB/GiB (x1024) suffix and must be in
 * the setting's range. An unknown key, a key given twice, a line without ':' or a bad value
 * is an error naming file, line and key. Flags given on the command line win over the file.
 */
#ifndef STROM_SERVER_H
#define STROM_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "strom/strom.h"

#define SRV_PATH_MAX 4096

typedef struct srv_config {
    char data_dir[SRV_PATH_MAX];   /* data.dir */
    char host[256];                /* bind.host: numeric IPv4/IPv6 address or a host name */
    int64_t port;                  /* bind.port, 0 = any free port */
    int64_t io_threads;            /* server.io-threads, 0 = one per core */
    int64_t io_sched_batch;        /* server.io-sched-batch: 1 = I/O threads are SCHED_BATCH */
    int64_t worker_threads;        /* server.worker-threads */
    int64_t max_connections;       /* server.max-connections */
    int64_t max_frame_bytes;       /* server.max-frame-bytes */
    int64_t max_conn_buffer_bytes; /* server.max-connection-buffer-bytes */
    int64_t max_inflight;          /* server.max-inflight-requests (per connection) */
    int64_t max_wait_ms;           /* server.fetch.max-wait-ms: cap on a fetch's max_wait */
    int64_t fetch_max_bytes;       /* server.fetch.max-bytes: cap per bucket (0 in a request) */
    int64_t shutdown_timeout_ms;   /* server.shutdown-timeout-ms */
    int64_t cursor_timeout_ms;     /* server.scan.cursor-timeout-ms */
} srv_config;

/* One setting: the key in a config file, its command-line flag, its default and help. */
typedef struct srv_setting {
    const char *key;      /* "bind.port" */
    const char *flag;     /* "--port" */
    const char *arg;      /* "N", "DIR" */
    const char *def;      /* default, as text */
    const char *help;
    int is_int;
    int64_t min, max;     /* integers */
    size_t off;           /* offset in srv_config */
    size_t cap;           /* strings: buffer size */
} srv_setting;

/* The settings, in help order; *n gets the count. Static. */
const srv_setting *srv_settings(int *n);
/* The defaults. */
void srv_config_defaults(srv_config *c);
/* Sets one setting by key (or, if key starts with "--", by flag). where prefixes error
 * messages ("server.yaml:3"). EOPTION for an unknown key, EINVAL for a bad value; the
 * message names where, the key and what is wrong. */
strom_err srv_config_set(srv_config *c, const char *key, const char *value, const char *where);
/* Parses config text (len bytes, not necessarily NUL-terminated) named fname in messages
 * into c (settings not in the text keep their values). On error c may be partly set. */
strom_err srv_config_parse(srv_config *c, const char *text, size_t len, const char *fname);
/* Reads and parses a config file (at most 1 MiB). */
strom_err srv_config_load(srv_config *c, const char *path);
/* Prints every setting with flag, key, default and help. */
void srv_config_print_help(FILE *f);

/* Runs the server until SIGTERM or SIGINT: opens the database, listens, prints
 * "strom server listening on HOST:PORT" to stdout (flushed) when ready, and on the signal
 * shuts down gracefully (stop accepting, answer parked fetches, finish in-flight requests,
 * flush, close the database). Returns 0 after a clean shutdown, 1 on a failure (the
 * message is printed to stderr). Call from the main thread; it blocks SIGTERM/SIGINT/
 * SIGPIPE in the process. */
int srv_run(const srv_config *c);

#endif
