/*
 * client_int.h: internals of src/client (the client library of include/strom/client.h).
 *
 * conn.c    the connection: connect with timeout, answers matched to calls (FIFO, checked
 *           by request id) by whichever waiting caller reads, calls with deadlines,
 *           reconnect.
 * client.c  administration calls and the table description shared by the objects.
 * decode.c  record batches from the wire -> strom_batch (projection, row filter).
 * producer.c, subscriber.c, lookuper.c: the three objects of client.h.
 *
 * Locking: strom_client.mu guards the call queue, fd and generation; wmu serialises the
 * writing of request frames (a frame is written whole, in queue order). The reading caller
 * takes mu only to hand an answer over.
 */
#ifndef STROM_CLIENT_INT_H
#define STROM_CLIENT_INT_H

#include <pthread.h>

#include "catalog/cat_int.h" /* cat_batch_gather: rows of batches into one batch */
#include "format/format.h"
#include "proto/proto.h"
#include "strom/client.h"

typedef struct stc_call stc_call;

struct strom_client {
    char server[300];          /* as given */
    char host[256], port[16];
    strom_client_opts opts;
    pthread_mutex_t mu, wmu, cmu; /* queue / writes / (re)connects */
    pthread_cond_t cv;         /* an answer arrived or the connection died */
    int fd;                    /* -1: not connected */
    int broken;                /* fd is shut down; the next call reconnects */
    strom_buf wbuf;            /* request being written (under wmu) */
    uint64_t gen;              /* connection generation */
    int reading;               /* a waiting caller reads the socket (conn.c: leader/follower) */
    proto_reader rd;           /* ... into this */
    stc_call *head, *tail;     /* calls sent, in send order */
    int32_t next_id;
    int closing;
};

/* Starts a call: encodes api's request m, (re)connects if needed, queues the call and
 * writes the frame. timeout_ms: extra time this call may take beyond the client's
 * request timeout (a fetch's max wait). Owned until stc_call_wait. */
strom_err stc_call_start(strom_client *c, int api, const proto_msg *m, int extra_ms,
                         stc_call **out);
/* Waits for the answer; frame receives the response frame bytes (swapped in, so a
 * reused buffer allocates nothing). Releases the call in every case (on timeout it is
 * abandoned to the reader, which drops the late answer). Server errors come back as
 * their code with the server's message, prefixed "server S: API: ". */
strom_err stc_call_wait(strom_client *c, stc_call *call, strom_buf *frame);
/* Decodes a frame from stc_call_wait into m (borrowing frame and arena). */
strom_err stc_decode(strom_client *c, int api, const strom_buf *frame, proto_arena *arena,
                     proto_msg *m);
/* start + wait + decode. */
strom_err stc_roundtrip(strom_client *c, int api, const proto_msg *m, int extra_ms, strom_buf *frame,
                   proto_arena *arena, proto_msg *resp);

/* ------------------------------------------------------------ tables */

/* What the objects need to know of a table. */
typedef struct stc_table {
    strom_table_info *info;
    cat_opts opts;             /* parsed with the engine's option parser */
    char *name;
} stc_table;

strom_err stc_table_load(strom_client *c, const char *table, stc_table *t);
void stc_table_free(stc_table *t);
/* Bucket of a key whose canonical bytes are in key (the engine's rule, format.h). */
int stc_bucket_of(const stc_table *t, const strom_buf *key);

/* ------------------------------------------------------------ decoding */

/* A decoder of record batches of one table with a projection and a row filter. */
typedef struct stc_decoder stc_decoder;

/* names: projection (NULL = all columns). preds: filter (column names resolved now;
 * ESCHEMA naming an unknown column). Owned: stc_decoder_free. */
strom_err stc_decoder_create(const stc_table *t, const char *const *names, int n,
                             const strom_pred *preds, int npreds, stc_decoder **out);
void stc_decoder_free(stc_decoder *d);
/* Decodes the batch bytes (verified: CRCs) into d's batch, dropping rows below min_offset
 * and rows failing the filter. *out borrowed until the next call; *last_offset = the
 * batch's last offset. A batch left with no rows gives *out with nrows 0. */
strom_err stc_decode_batch(stc_decoder *d, const uint8_t *p, size_t len, int64_t min_offset,
                           const strom_batch **out, int64_t *last_offset);
/* Every batch of records concatenated into one owned batch (NULL when no rows). */
strom_err stc_decode_all(stc_decoder *d, const proto_records *r, strom_batch **out);
int stc_decoder_ncols(const stc_decoder *d);
/* The column names to ask the server for (*names borrowed from d; 0: none = all columns,
 * stored batches forwarded as they are). */
int stc_decoder_request(const stc_decoder *d, const char *const **names);
/* Asks the server for its stored batches whole (no column list) and projects here; only
 * without filter predicates (the server skips batches by them), else nothing changes. */
void stc_decoder_fetch_stored(stc_decoder *d);

#endif /* STROM_CLIENT_INT_H */
