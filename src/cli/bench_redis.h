/*
 * bench_redis.h: a private redis-server for `strom bench kv` and a minimal RESP2 client
 * (written here, no libhiredis): enough to SET and GET bulk strings, one at a time or
 * pipelined. Requests are RESP arrays of bulk strings ("*2\r\n$3\r\nGET\r\n$5\r\nkey01\r\n");
 * replies read are simple strings ("+OK\r\n"), errors ("-ERR ...\r\n") and bulk strings
 * ("$<len>\r\n<bytes>\r\n", "$-1\r\n" for a missing key).
 */
#ifndef STROM_CLI_BENCH_REDIS_H
#define STROM_CLI_BENCH_REDIS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct redis_conn {
    int fd;
    pid_t pid;               /* the server we started (0: none) */
    char dir[4096];          /* its temporary directory */
    int port;
    char *out;               /* request buffer */
    size_t olen, ocap;
    char *in;                /* reply buffer */
    size_t ipos, ilen, icap;
    const char *val;         /* last bulk string read (in[]; valid until the next read) */
    char msg[256];           /* why the last call failed */
} redis_conn;

/* Starts redis-server on a free loopback port in a fresh directory under parent
 * (--save "" --appendonly no) and connects. 0, or -1 with r->msg (redis-server not
 * installed, did not start, ...). redis_stop undoes it in either case. */
int redis_start(redis_conn *r, const char *parent);
void redis_stop(redis_conn *r);
/* Queues SET key value / GET key (nothing is sent yet). */
int redis_queue_set(redis_conn *r, const char *k, size_t klen, const char *v, size_t vlen);
int redis_queue_get(redis_conn *r, const char *k, size_t klen);
/* Sends what is queued. 0 or -1. */
int redis_flush(redis_conn *r);
/* Reads one reply: 1 for a value or OK (*len = bytes of a bulk string, -1 for OK), 0 for
 * nil, -1 on an error reply or I/O failure (r->msg). */
int redis_reply(redis_conn *r, int64_t *len);
/* INFO memory's used_memory, or -1. */
int64_t redis_used_memory(redis_conn *r);

#endif /* STROM_CLI_BENCH_REDIS_H */
