/*
 * srv_int.h: internals of the server shared by its files.
 *
 * THREADS
 *   main      srv_run: opens the database, starts everything, waits for SIGTERM/SIGINT
 *             (sigwait), then drives the shutdown.
 *   I/O (N)   one epoll loop per core (loop.c). Each has its own listening socket on the
 *             same port (SO_REUSEPORT: the kernel spreads new connections), its own
 *             connections (a connection never changes loop), and an eventfd that workers
 *             and the append listener write to. No thread per connection.
 *   workers   a small pool (pool.c) running requests that may block: durable writes
 *             (PRODUCE_LOG, PUT_KV wait for the fsync), fetches and scans, DDL. A worker
 *             puts the finished slot on its loop's completion list and writes the eventfd.
 *
 * WHY EPOLL (and not libuv)
 *   The server is Linux-only like the engine (fdatasync, O_DIRECT-free pread paths); all it
 *   needs is readiness of sockets plus one eventfd per loop, which is ~300 lines over epoll.
 *   libuv would add a dependency, its own thread pool (we need ours: the requests block in
 *   the engine, not in file I/O libuv knows about), and callbacks that copy into its
 *   buffers, while we read straight into the frame reader (proto_reader_space) and write
 *   responses with writev from the slots that hold them.
 *
 * A REQUEST'S LIFE (native listener, native.c)
 *   read(2) into the connection's proto_reader -> a complete frame -> a slot appended to
 *   the connection's in-order slot list -> either handled at once on the I/O thread (cheap
 *   reads: API_VERSIONS, LIST_*, LIST_OFFSETS, STATS, small LOOKUPs) or queued to the workers (the frame stays in the reader: the connection reads nothing
 *   more until it is answered, so requests of one connection run in order) -> the response frame is encoded into slot->resp -> the loop
 *   writes the finished slots at the head of the list, in order (pipelining keeps order).
 *   A FETCH_LOG that finds no data is parked (wait.c) until an append to one of its buckets
 *   (the catalog's append listener) or its deadline, then re-run on a worker.
 *
 * LISTENERS
 *   A listener (srv_listener) is a protocol (srv_proto: frame codec + dispatch) on an
 *   address; each loop has one listening socket per listener. The loop knows only
 *   srv_proto; the native protocol is one (native.c), registered in server.c. A Kafka, RESP
 *   or HTTP listener is another srv_proto plus one entry there with its own port setting;
 *   nothing in the engine changes.
 */
#ifndef STROM_SRV_INT_H
#define STROM_SRV_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "catalog/serve.h"
#include "common/common.h"
#include "format/format.h"
#include "proto/proto.h"
#include "server.h"

typedef struct srv_server srv_server;
typedef struct srv_loop srv_loop;
typedef struct srv_conn srv_conn;
typedef struct srv_slot srv_slot;
typedef struct srv_proto srv_proto;
typedef struct srv_scratch srv_scratch;
typedef struct srv_wait srv_wait;

/* ----------------------------------------------------------------- slots */

enum {
    SLOT_NEW = 0,    /* being set up by the loop */
    SLOT_QUEUED,     /* with the workers (the conn is busy) */
    SLOT_PARKED,     /* a long-poll fetch waiting for data (wait.c) */
    SLOT_DONE,       /* resp holds the whole response frame */
};

/* One request of a connection, from its frame to its written response. Owned by the
 * connection's loop, except while SLOT_QUEUED (then the worker owns req/resp/arena). */
struct srv_slot {
    srv_slot *next;        /* connection's in-order list / free list */
    srv_slot *qnext;       /* worker queue / completion list */
    srv_conn *conn;
    int state;
    int16_t api, version;
    int32_t request_id;
    const uint8_t *frame;  /* the request frame, in the conn's reader (see loop.c) */
    size_t frame_len;
    strom_buf resp;        /* the response frame */
    size_t sent;           /* bytes of resp already written */
    proto_arena arena;
    proto_msg msg;         /* the decoded request (borrows req / the frame and arena) */
    /* long-poll (FETCH_LOG) */
    char table[300];       /* canonical name of the fetched table */
    int on_loop;           /* running on the I/O thread (not a worker) */
    int requeue;           /* set by a handler on the I/O thread: run me on a worker */
    int park;              /* set by the handler: park me instead of answering */
    int final;             /* answer whatever there is (deadline, shutdown) */
    int64_t deadline_ns;   /* strom_mono_ns() deadline of the wait */
    uint64_t seq;          /* wait.c sequence seen when the fetch read */
    srv_wait *wait;        /* registration while parked */
    /* Response bytes this request may add to its connection's unsent ones: the conn's
     * max-conn-buffer-bytes less what was unsent when the loop took or re-queued it (at
     * least 1). FETCH_LOG and SCAN_KV stop there (one stored batch always), so a conn
     * holds at most about the limit plus one batch, however many requests it pipelines. */
    size_t budget;
};

/* ----------------------------------------------------------- connections */

enum { SRV_KIND_CONN = 1, SRV_KIND_LISTEN = 2 }; /* first field of what epoll points to */

struct srv_conn {
    int kind;              /* SRV_KIND_CONN */
    srv_conn *next, *prev; /* loop's list */
    srv_loop *loop;
    const srv_proto *proto;
    int fd;
    proto_reader rd;
    srv_slot *head, *tail; /* in request order */
    int nslots;
    srv_slot *spare;       /* answered slots kept for reuse */
    int nspare;
    size_t pending_bytes;  /* response bytes encoded, not yet written */
    int refs;              /* slots with a worker or parked: the conn outlives them */
    int events;            /* current epoll interest */
    int busy;              /* a request is with a worker or parked: the next waits */
    int closing;           /* no more reading: answer what is there, then close */
    int fatal;             /* the stream broke: no more frames either */
    int dead;              /* socket closed; freed when refs drops to 0 */
    int peer_gone;         /* the peer shut its side while a request ran (loop.c) */
    struct srv_sql *sql;   /* SQL settings and cursors (api_sql.c), NULL until used */
    srv_conn *fnext;       /* loop's list of conns with answers to write (loop.c) */
    int flushq;            /* on that list */
};

/* A protocol spoken on a listener. */
struct srv_proto {
    const char *name;
    size_t min_frame;
    /* Handles one complete frame of conn: sets up slot (from conn's free list) and either
     * answers it at once or queues it. Returns 0, or -1 when the connection must be
     * closed after what is queued is answered. */
    int (*frame)(srv_conn *c, const uint8_t *frame, size_t len);
    /* Runs a queued slot on a worker (scratch: the worker's). */
    void (*run)(srv_slot *s, srv_scratch *x);
    /* Answers a fatal stream error (oversized/bad length): appends a final slot. */
    void (*fatal)(srv_conn *c, strom_err err, const char *msg);
    /* Optional: re-runs a woken parked slot on the I/O thread (scratch: the loop's) when
     * that is cheap; 1 if it did (then the slot is answered or asks to park again), 0 if
     * the slot must go to a worker. */
    int (*rerun_inline)(srv_slot *s, srv_scratch *x);
};
extern const srv_proto srv_native_proto;

/* A listener of the server: a protocol on an address. The native one is bind.host:
 * bind.port; another protocol adds an entry in server.c (with its own port setting). */
typedef struct srv_listener {
    const srv_proto *proto;
    const char *host;
    int port;              /* as configured; after start, the port bound (port 0) */
} srv_listener;

/* A loop's listening socket of one listener. */
typedef struct srv_listen {
    int kind;              /* SRV_KIND_LISTEN */
    const srv_proto *proto;
    int fd;                /* -1 when closed */
} srv_listen;

/* --------------------------------------------------------------- scratch */

/* Per thread (each worker and each loop): reusable buffers for handlers. */
struct srv_scratch {
    fmt_encoder *enc;
    fmt_decoder *dec;
    fmt_dir *dirs;         /* FMT_MAX_COLUMNS */
    strom_batch *batch;    /* a decoded wire batch (PUT_KV) */
    strom_buf records;     /* records of a response */
    strom_buf tmp;
    strom_builder *rows;   /* lookup results (srv_scratch_rows), reused across requests */
};
strom_err srv_scratch_init(srv_scratch *x);
void srv_scratch_free(srv_scratch *x);

/* ----------------------------------------------------------------- loops */

struct srv_loop {
    srv_server *srv;
    int index;
    pthread_t thread;
    int running;           /* thread started and not yet joined */
    int epfd, evfd;        /* epoll, eventfd */
    srv_listen *ls;        /* one listening socket per listener of the server */
    int nls;
    srv_conn conns;        /* sentinel of the connection list */
    srv_conn *graveyard;   /* closed conns to free at the end of the iteration */
    int nconns;
    pthread_mutex_t mu;    /* guards done (completions) */
    srv_slot *done;        /* finished by workers, not yet taken by the loop */
    atomic_int woken;      /* wait.c fired a parked slot of this loop */
    atomic_int kicked;     /* eventfd written and not yet read */
    srv_slot **parked;     /* parked slots of this loop */
    int nparked, cap_parked;
    int64_t next_deadline; /* earliest parked deadline (INT64_MAX: none) */
    srv_scratch scratch;
    atomic_int assigned;   /* conns open or handed to this loop (balance, loop.c) */
    struct srv_handoff *hand; /* accepted by another loop for this one (under mu) */
    int nhand, cap_hand;
    int deferring;         /* handling events: answers are written after all of them */
    srv_conn *fhead, *ftail; /* conns with answers to write (deferring) */
};

/* ---------------------------------------------------------------- server */

typedef struct srv_table srv_table;

typedef struct srv_stats {
    atomic_llong requests, errors, connections_total, connections_refused, bytes_in,
        bytes_out, fetch_parked, fetch_woken, fetch_expired;
} srv_stats;

struct srv_server {
    srv_config cfg;
    strom_db *db;
    cat_listener listener;
    srv_loop *loops;
    int nloops;
    srv_listener listeners[4];
    int nlisteners;
    atomic_int nconns;
    atomic_int io_batch;   /* I/O threads running as SCHED_BATCH (server.io-sched-batch) */
    atomic_int stopping;   /* 1: no new requests parked; loops drain */
    srv_stats stats;
    int64_t started_ms;
    /* worker pool (pool.c) */
    pthread_mutex_t pmu;
    pthread_cond_t pcv;
    srv_slot *phead, *ptail;
    pthread_t *workers;
    int nworkers, pstop;
    atomic_int busy;       /* slots queued or running */
    /* open tables (tables.c) */
    pthread_mutex_t tmu;
    srv_table *tables;
    /* SCAN_KV cursors (cursor.c) */
    pthread_mutex_t cmu;
    struct srv_cursor *cursors;
    uint64_t next_cursor;
    /* long-poll registry (wait.c) */
    pthread_mutex_t wmu;
    void *waits;           /* wait.c's hash of tables */
    /* streaming SQL cursors' threads still running (api_sql.c) */
    atomic_int sql_threads;
    /* continuous SQL jobs (jobs.c) */
    struct srv_jobs *jobs;
};

/* loop.c */
strom_err srv_loops_start(srv_server *s);
void srv_loops_stop(srv_server *s);       /* after every loop drained */
void srv_loop_kick(srv_loop *l);          /* wakes the loop (eventfd) */
void srv_loop_complete(srv_slot *slot);   /* worker: slot finished or to park */
srv_slot *srv_slot_new(srv_conn *c);      /* appended to c's list; NULL on ENOMEM */
void srv_slot_done(srv_slot *slot);       /* loop thread: resp complete; flushes */
void srv_conn_queue(srv_slot *slot);      /* loop thread: give slot to the workers */
/* Initiates the shutdown of every loop and waits (up to the timeout) until all requests
 * are answered. */
void srv_loops_drain(srv_server *s);

/* pool.c */
strom_err srv_pool_start(srv_server *s);
void srv_pool_submit(srv_server *s, srv_slot *slot);
void srv_pool_stop(srv_server *s);

/* wait.c: parked long-poll fetches and the append listener. */
strom_err srv_waits_init(srv_server *s);
void srv_waits_free(srv_server *s);
/* The table's append sequence now (take it before reading). */
uint64_t srv_wait_seq(srv_server *s, const char *canonical);
/* Parks slot (loop thread), a FETCH_LOG on slot->table whose buckets are in slot->msg.
 * Returns 0 when parked, 1 when an append happened since slot->seq (re-run instead), -1
 * on ENOMEM. */
int srv_wait_park(srv_server *s, srv_slot *slot);
/* 1 once an append to one of the slot's buckets fired its registration. */
int srv_wait_fired(const srv_slot *slot);
/* Removes slot's registration, if any (loop thread). */
void srv_wait_cancel(srv_server *s, srv_slot *slot);
/* The append listener (cat_listener fn): wakes the parked fetches of the table and the
 * stream reads of SQL statements (sql_stream_notify). */
void srv_wait_notify(void *ctx, const char *table, int bucket);
/* Wakes every request parked under name (any bucket): a streaming SQL cursor's rows. */
void srv_wait_wake(srv_server *s, const char *name);

/* tables.c: open table handles shared by all threads. */
/* Opens (or finds) table name; *t is borrowed until srv_table_put(s, h). For a slot
 * running on an I/O thread (slot->on_loop) a table not open yet is not opened there:
 * EBUSY with slot->requeue set (the request then runs on a worker). slot may be NULL. */
strom_err srv_table_get(srv_server *s, srv_slot *slot, proto_str name, srv_table **h,
                        strom_table **t);
void srv_table_put(srv_server *s, srv_table *h);
/* Drops a table (closing the server's idle handle first). EBUSY while a request uses it. */
strom_err srv_table_drop(srv_server *s, const char *name);
/* Drops a database (closing its idle handles first). */
strom_err srv_database_drop(srv_server *s, const char *name, int if_exists, int cascade);
/* Flushes and closes every handle (shutdown). */
void srv_tables_close(srv_server *s);
/* Canonical "db.table" of a name into out (cap >= 300); EINVAL for a bad name. */
strom_err srv_canonical(proto_str name, char *out, size_t cap);

/* cursor.c: SCAN_KV snapshots kept between pages. */
typedef struct srv_cursor srv_cursor;
/* A new cursor (in use) owning h (a table reference) and snap. */
strom_err srv_cursor_new(srv_server *s, srv_table *h, strom_table *t, strom_snapshot *snap,
                         int32_t bucket, srv_cursor **out);
/* The cursor of a resume token, marked in use. ENOTFOUND (unknown/expired), EBUSY, EINVAL
 * (another table or bucket). */
strom_err srv_cursor_take(srv_server *s, proto_str token, const char *table, int32_t bucket,
                          srv_cursor **out);
/* Ends a use; done: the scan is over, the cursor is closed. */
void srv_cursor_release(srv_server *s, srv_cursor *c, int done);
/* Closes cursors idle past server.scan.cursor-timeout-ms (all: every idle one). */
void srv_cursors_expire(srv_server *s, int all);
const char *srv_cursor_token(const srv_cursor *c);
strom_snapshot *srv_cursor_snapshot(const srv_cursor *c);
/* The cursor's current batch (NULL before the first) and its next row, to update. */
const strom_batch **srv_cursor_batch(srv_cursor *c, int64_t **row);

/* wire.c: batches between the wire and the engine. */
/* Appends one wire batch of the rows of b (columns cols[0..ncols) of b, NULL = all; rows
 * [from, to)) to out, stamped with row from's offset and b's commit time; with_changes:
 * carry the rows' change types. Nothing for an empty range or b NULL. */
strom_err srv_batch_to_wire(srv_scratch *x, const strom_batch *b, const int *cols, int ncols,
                            int64_t from, int64_t to, int with_changes, strom_buf *out);
/* Decodes the wire batch bytes[0..len) of table t into x->batch (verified, columns as the
 * current schema). */
strom_err srv_wire_decode(srv_scratch *x, strom_table *t, const uint8_t *bytes, size_t len,
                          fmt_hdr *h);
/* Copies rows [from, to) of x->batch into builder bld (which has the table's schema). */
strom_err srv_batch_to_builder(const strom_batch *b, int64_t from, int64_t to, strom_builder *bld);

/* x->rows emptied and of the column types and nullability of schema s (made anew only
 * when the previous request's table differed): borrowed, valid until the next call. */
strom_err srv_scratch_rows(srv_scratch *x, const strom_schema *s, strom_builder **out);
/* Appends one uncompressed wire batch of the rows of builder b (columns cols[0..ncols),
 * NULL = all) to out, offsets and commit time 0; nothing when b has no rows. Without a
 * projection it encodes straight from b through x->enc: no allocation once warm. */
strom_err srv_rows_to_wire(srv_scratch *x, const strom_builder *b, const int *cols, int ncols,
                           strom_buf *out);

/* NUL-terminated copy of a wire string, from arena a. NULL on ENOMEM. */
char *srv_cstr(proto_arena *a, proto_str s);
/* Copies names[0..n) to a NULL-terminated-string array from a (NULL when n = 0). */
strom_err srv_cstrs(proto_arena *a, const proto_str *names, uint32_t n, const char ***out);

/* api_sql.c: a connection's SQL cursors. closed: the socket closed (loop thread):
 * interrupts their statements. free: the conn is freed (no request of it runs). */
typedef struct srv_sql srv_sql;
void srv_sql_conn_closed(srv_conn *c);
void srv_sql_conn_free(srv_conn *c);
/* Waits until every streaming cursor's thread has ended (shutdown, after the loops). */
void srv_sql_wait_threads(srv_server *s);

/* jobs.c: continuous SQL jobs (INSERT INTO sink SELECT ... in streaming mode). start:
 * creates the registry and restarts the jobs left RUNNING; stop: ends every job (they stay
 * RUNNING in the job table, to be restarted); hooks: lets sess start and stop jobs. */
struct sql_session;
strom_err srv_jobs_start(srv_server *s);

/* job_log.c: a job's log-table sink, exactly once (see there). save(arg, positions) stores
 * the job row with that positions text, durably. create parses the job's stored positions
 * (may be NULL) for a replay's forced flush points; owned: srv_job_log_free. attach: the
 * sink hooks of sess (the job's session, which must outlive the next calls). idle: the
 * stream caught up: write everything, store the positions. */
typedef struct srv_job_log srv_job_log;
typedef strom_err (*srv_job_log_save)(void *arg, const char *positions);
strom_err srv_job_log_create(const char *id, const char *positions, srv_job_log_save save, void *arg,
                             srv_job_log **out);
void srv_job_log_free(srv_job_log *l);
void srv_job_log_attach(srv_job_log *l, struct sql_session *sess);
strom_err srv_job_log_idle(srv_job_log *l);
/* Rows written to the sink in this run (a replay's again). */
int64_t srv_job_log_rows(const srv_job_log *l);
void srv_jobs_stop(srv_server *s);
void srv_jobs_hooks(srv_server *s, struct sql_session *sess);

/* api_*.c: one function per api, run by native.c. req decoded; resp filled (borrowing
 * from slot/scratch). The result is the response's error code; the message is
 * strom_errmsg(). */
typedef strom_err (*srv_api_fn)(srv_server *s, srv_slot *slot, srv_scratch *x,
                                const proto_msg *req, proto_msg *resp);
srv_api_fn srv_api_handler(int api);
/* 1 if api may block (runs on a worker), 0 if it runs on the I/O thread. */
int srv_api_blocks(int api, size_t body_len);

#endif
