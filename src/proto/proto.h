/*
 * proto.h: the native wire protocol of strom: frames, message bodies, their encoders and
 * validating decoders, and the incremental frame reader of a connection. No sockets
 * (src/server and src/client use this). Prefix: proto_. Full description for client
 * writers: docs/protocol.md (kept identical in substance to this comment).
 *
 * ==========================================================================================
 * ENCODING
 * ==========================================================================================
 * Little-endian fixed-width integers, like the record batch (src/format/format.h) that
 * travels inside PRODUCE/FETCH unchanged: one byte order for the whole wire, no byte
 * swapping on the (little-endian) hosts strom runs on, and a client decodes batches and
 * frames with the same primitives. Counts and lengths are unsigned LEB128 varints (uv):
 * 7 bits per byte, low group first, high bit = more; at most 10 bytes.
 *
 *   type    bytes    meaning
 *   u8      1        unsigned byte
 *   i16     2        signed, little-endian
 *   i32     4        signed, little-endian
 *   i64     8        signed, little-endian
 *   f64     8        IEEE 754 binary64, little-endian
 *   uv      1..10    unsigned LEB128 varint
 *   str     uv + n   byte length, then n bytes of UTF-8 (no NUL); n <= 65535
 *   records u32 + n  byte length n (<= frame), then n bytes: zero or more record batches
 *                    back to back, each exactly as in format.h (its length field at byte 8
 *                    says 12 + length = its size; magic "STB1" at byte 12). A decoder
 *                    checks that the batches tile the n bytes exactly.
 *   value   u8 type, u8 null, then (if null = 0) by strom_type: BOOLEAN/INT/BIGINT/
 *           TIMESTAMP: zigzag uv of the int64; FLOAT/DOUBLE: f64; STRING/BYTES: str.
 *   X[]     uv count, then count X's
 *
 * ==========================================================================================
 * FRAMES
 * ==========================================================================================
 * Request frame                         Response frame
 *   off size field                        off size field
 *   0   4    length (i32, bytes after)    0   4    length (i32, bytes after this field)
 *   4   2    api_key (i16)                4   4    request_id (i32, echoed)
 *   6   2    api_version (i16)            8   2    error (i16, strom_err; 0 = ok)
 *   8   4    request_id (i32)             10  ..   error_message (str; "" when ok)
 *   12  ..   body                         ..  ..   body (empty unless error = 0)
 *
 * length >= 8 (request) / >= 7 (response) and <= the receiver's maximum frame size
 * (PROTO_MAX_FRAME by default, 64 MiB). A frame over the limit is answered with STROM_ELIMIT
 * and the connection closed (its bytes cannot be skipped safely). Unknown api_key or
 * unsupported api_version: STROM_EUNSUPPORTED response, the connection stays. A malformed
 * body: STROM_EPROTO response naming the field (with element indexes, 'buckets[1].preds[0].op')
 * and its byte offset in the frame (counted from the first byte of the length field), the connection stays. Responses on one
 * connection come in request order. Every body must be consumed exactly (trailing bytes
 * are EPROTO).
 *
 * ==========================================================================================
 * BODIES (all api_version 0)
 * ==========================================================================================
 * key name            request body                          response body
 * 0   API_VERSIONS    (empty)                               apis[]: i16 key, i16 min_ver,
 *                                                             i16 max_ver
 * 1   CREATE_TABLE    str name; columns[] (<= 1024):         (empty)
 *                       str name, u8 type (strom_type),
 *                       u8 not_null (0|1);
 *                     primary_key[] (<= 8): uv column index
 *                       (< column count, distinct);
 *                     options[] (<= 256): str key, str value;
 *                     u8 if_not_exists (0|1)
 * 2   DROP_TABLE      str name; u8 if_exists (0|1)          (empty)
 * 3   LIST_TABLES     str database ("" = all)               names[] (<= 1,000,000): str
 * 4   GET_TABLE_INFO  str name                              str name; i32 schema_id;
 *                                                             i32 buckets; columns[]; pk[];
 *                                                             options[] (as CREATE_TABLE)
 * 5   PRODUCE_LOG     str table; i32 bucket; u8 acks        i32 bucket; i64 first_offset;
 *                       (0 none, 1 after durable append);     i64 last_offset; i64
 *                     records                                 high_watermark (-1 = unknown,
 *                                                             e.g. acks none)
 * 6   FETCH_LOG       str table; i32 max_wait_ms (>= 0);    buckets[]: i32 bucket;
 *                     i32 min_bytes (>= 0);                   i16 error; i64 high_watermark;
 *                     buckets[] (<= 4096):                    i64 log_start_offset;
 *                       i32 bucket; i64 offset;               records
 *                       i32 max_bytes (>= 0);
 *                       columns[] (<= 1024): str (projection, empty = all);
 *                       preds[] (<= 64): str column,
 *                         u8 op (strom_op 0..5), value
 * 7   LIST_OFFSETS    str table; u8 spec (0 earliest,      buckets[]: i32 bucket; i16 error;
 *                     1 latest, 2 by timestamp);              i64 offset
 *                     i64 timestamp (spec 2: first offset
 *                     whose row time >= it);
 *                     buckets[] (<= 4096): i32 bucket
 * 8   PUT_KV          str table; i32 bucket; u8 acks;      as PRODUCE_LOG
 *                     records (each row's change type says
 *                     upsert (+I/+U) or delete (-D));
 *                     columns[] (<= 1024): str (partial
 *                     update: the target columns; none =
 *                     whole rows)
 * 9   LOOKUP          str table; i32 bucket; u8 has_as_of;  found[] (<= 65536): u8 (0|1),
 *                     i64 as_of (ms; ignored if has_as_of=0); one per key in order;
 *                     columns[] (projection); keys[]          records: the found rows in key
 *                     (<= 65536): values[] (1..8): value      order
 * 10  PREFIX_LOOKUP   str table; i32 bucket; prefix values[] records
 *                     (1..8); columns[]; i32 limit (>= 0,
 *                     0 = none)
 * 11  SCAN_KV         str table; i32 bucket; columns[];     records; u8 more (0|1);
 *                     i32 limit (>= 0); str resume (""        str resume (continue from here);
 *                     = from the start)                       i64 snapshot_offset (the log
 *                                                             offset the snapshot is at: follow
 *                                                             the changelog from there)
 * 12  KEY_HISTORY     str table; key values[] (1..8);       records: newest first
 *                     i64 at_or_before (ms); i32 n (1..
 *                     1,000,000); columns[]
 * 13  STATS           str table ("" = server-wide)          stats[] (<= 1,000,000):
 *                                                             str name, i64 value
 * 14  CREATE_DATABASE str name; u8 if_not_exists (0|1)      (empty)
 * 15  DROP_DATABASE   str name; u8 if_exists (0|1);         (empty)
 *                     u8 cascade (0|1: drop its tables too)
 * 16  LIST_DATABASES  (empty)                               names[] (<= 1,000,000): str
 * 17  EXECUTE_SQL     text sql (u32 length <= 1 MiB, then   i64 cursor (0: none, the
 *                       that many bytes of UTF-8: one         statement ended in this
 *                       statement, Flink dialect);            response); columns[] (<=
 *                     settings[] (<= 64): str key, str        1024): str name; i64 changes
 *                       value (SET on this connection's       (rows written by INSERT/
 *                       session before the statement);        UPDATE/DELETE); records (the
 *                     i32 max_rows (>= 0; 0 = 4096: rows      first result rows); u8 done
 *                       per response)                         (0|1: no more rows)
 * 18  FETCH_SQL       i64 cursor (>= 1); i32 max_rows       records; u8 done (0|1)
 *                     (>= 0); i32 max_wait_ms (>= 0: a
 *                     streaming cursor waits this long
 *                     for rows)
 * 19  CANCEL_SQL      i64 cursor (>= 1)                     (empty)
 *
 * Result rows of EXECUTE_SQL / FETCH_SQL are record batches (format.h) with schema id 0,
 * one column per result column in order; each batch's directory gives its column types
 * (BIGINT for integers, TIMESTAMP for integer columns declared TIMESTAMP, DOUBLE, STRING,
 * BYTES), which may differ between batches for columns computed by expressions.
 *
 * ==========================================================================================
 * DECODED MESSAGES AND LIFETIMES
 * ==========================================================================================
 * Decoded messages borrow: every proto_str / proto_bytes / strom_value string points into
 * the frame buffer, and arrays (buckets, columns, batch views, keys) are taken from a
 * proto_arena the caller passes. A decoded message is valid while both the frame bytes and
 * the arena are untouched (for a proto_reader frame: until the next proto_reader_feed /
 * proto_reader_commit / proto_reader_next call; for the arena: until proto_arena_reset).
 * The arena keeps its memory across resets, so a connection that reuses one arena
 * allocates nothing per message in the steady state (PRODUCE and FETCH included).
 */
#ifndef STROM_PROTO_H
#define STROM_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "strom/strom.h"

#define PROTO_MAX_FRAME (64u << 20)   /* default maximum frame size (bytes after length) */
#define PROTO_REQ_HDR 12              /* length + key + version + request id */
#define PROTO_MAX_STR 65535u
#define PROTO_MAX_COLUMNS 1024
#define PROTO_MAX_PK 8
#define PROTO_MAX_OPTIONS 256
#define PROTO_MAX_BUCKETS 4096
#define PROTO_MAX_PREDS 64
#define PROTO_MAX_KEYS 65536
#define PROTO_MAX_NAMES 1000000
#define PROTO_MAX_HISTORY 1000000
#define PROTO_MAX_SQL (1u << 20)       /* bytes of one EXECUTE_SQL statement text */
#define PROTO_MAX_SETTINGS 64

typedef enum proto_api {
    PROTO_API_VERSIONS = 0,
    PROTO_CREATE_TABLE = 1,
    PROTO_DROP_TABLE = 2,
    PROTO_LIST_TABLES = 3,
    PROTO_GET_TABLE_INFO = 4,
    PROTO_PRODUCE_LOG = 5,
    PROTO_FETCH_LOG = 6,
    PROTO_LIST_OFFSETS = 7,
    PROTO_PUT_KV = 8,
    PROTO_LOOKUP = 9,
    PROTO_PREFIX_LOOKUP = 10,
    PROTO_SCAN_KV = 11,
    PROTO_KEY_HISTORY = 12,
    PROTO_STATS = 13,
    PROTO_CREATE_DATABASE = 14,
    PROTO_DROP_DATABASE = 15,
    PROTO_LIST_DATABASES = 16,
    PROTO_EXECUTE_SQL = 17,
    PROTO_FETCH_SQL = 18,
    PROTO_CANCEL_SQL = 19,
    PROTO_API_COUNT = 20
} proto_api;

/* "FETCH_LOG", ...; NULL for an unknown key. */
const char *proto_api_name(int api_key);
/* Highest supported version of api_key, or -1 if unknown. (All minimums are 0.) */
int proto_api_max_version(int api_key);
/* OK, or EUNSUPPORTED naming the unknown api key or the unsupported version (with the
 * supported range). */
strom_err proto_check_api(int api_key, int api_version);

/* ----------------------------------------------------------------- views */

typedef struct proto_str { const char *p; uint32_t len; } proto_str;
typedef struct proto_bytes { const uint8_t *p; uint32_t len; } proto_bytes;

static inline proto_str proto_s(const char *s) { return (proto_str){s, s ? (uint32_t)strlen(s) : 0}; }
int proto_str_eq(proto_str a, const char *s);

/* "records": the bytes as they travel, and (decoded) views of each batch in them. When
 * encoding only bytes is used (nbatches/batches ignored). */
typedef struct proto_records {
    proto_bytes bytes;
    uint32_t nbatches;
    proto_bytes *batches;
} proto_records;

/* ------------------------------------------------------------- the arena */

/* Bump allocator for decoded arrays. Zero-initialise; free with proto_arena_free. */
typedef struct proto_arena_blk proto_arena_blk;
typedef struct proto_arena { proto_arena_blk *head; } proto_arena;
void *proto_arena_alloc(proto_arena *a, size_t n);   /* 16-aligned; NULL + ENOMEM */
void proto_arena_reset(proto_arena *a);              /* keeps the largest block */
void proto_arena_free(proto_arena *a);

/* -------------------------------------------------------------- messages */

typedef struct proto_column { proto_str name; uint8_t type; uint8_t not_null; } proto_column;
typedef struct proto_option { proto_str key, value; } proto_option;
typedef struct proto_api_range { int16_t key, min_ver, max_ver; } proto_api_range;
typedef struct proto_pred { proto_str column; uint8_t op; strom_value value; } proto_pred;
typedef struct proto_key { uint32_t nvalues; strom_value *values; } proto_key;
typedef struct proto_stat { proto_str name; int64_t value; } proto_stat;

typedef struct proto_schema {
    uint32_t ncolumns;
    proto_column *columns;
    uint32_t npk;
    uint32_t *pk;
    uint32_t noptions;
    proto_option *options;
} proto_schema;

typedef struct proto_fetch_bucket {
    int32_t bucket;
    int64_t offset;
    int32_t max_bytes;
    uint32_t ncolumns;
    proto_str *columns;
    uint32_t npreds;
    proto_pred *preds;
} proto_fetch_bucket;

typedef struct proto_fetch_result {
    int32_t bucket;
    int16_t error;
    int64_t high_watermark, log_start_offset;
    proto_records records;
} proto_fetch_result;

typedef struct proto_offset_result { int32_t bucket; int16_t error; int64_t offset; } proto_offset_result;

enum { PROTO_ACKS_NONE = 0, PROTO_ACKS_DURABLE = 1 };
enum { PROTO_OFFSET_EARLIEST = 0, PROTO_OFFSET_LATEST = 1, PROTO_OFFSET_TIMESTAMP = 2 };

/* One message body, request or response, of any api. Fields not used by the api are
 * ignored. */
typedef struct proto_msg {
    /* ---- requests */
    union {
        struct { proto_str name; proto_schema schema; uint8_t if_not_exists; } create_table;
        struct { proto_str name; uint8_t if_exists; } drop_table;
        struct { proto_str database; } list_tables;
        struct { proto_str name; } get_table_info;
        /* PRODUCE_LOG and PUT_KV (ncolumns/columns: PUT_KV only, partial update) */
        struct { proto_str table; int32_t bucket; uint8_t acks; proto_records records;
                 uint32_t ncolumns; proto_str *columns; } produce;
        struct { proto_str table; int32_t max_wait_ms, min_bytes; uint32_t nbuckets;
                 proto_fetch_bucket *buckets; } fetch;
        struct { proto_str table; uint8_t spec; int64_t timestamp; uint32_t nbuckets;
                 int32_t *buckets; } list_offsets;
        struct { proto_str table; int32_t bucket; uint8_t has_as_of; int64_t as_of;
                 uint32_t ncolumns; proto_str *columns; uint32_t nkeys; proto_key *keys; } lookup;
        struct { proto_str table; int32_t bucket; proto_key prefix; uint32_t ncolumns;
                 proto_str *columns; int32_t limit; } prefix_lookup;
        struct { proto_str table; int32_t bucket; uint32_t ncolumns; proto_str *columns;
                 int32_t limit; proto_str resume; } scan_kv;
        struct { proto_str table; proto_key key; int64_t at_or_before; int32_t n;
                 uint32_t ncolumns; proto_str *columns; } key_history;
        struct { proto_str table; } stats;
        struct { proto_str name; uint8_t if_not_exists; } create_database;
        struct { proto_str name; uint8_t if_exists, cascade; } drop_database;
        struct { proto_bytes sql; uint32_t nsettings; proto_option *settings;
                 int32_t max_rows; } execute_sql;
        /* FETCH_SQL (max_rows, max_wait_ms) and CANCEL_SQL (cursor only) */
        struct { int64_t cursor; int32_t max_rows, max_wait_ms; } fetch_sql;
    } req;
    /* ---- responses */
    union {
        struct { uint32_t napis; proto_api_range *apis; } api_versions;
        struct { proto_str name; int32_t schema_id, buckets; proto_schema schema; } table_info;
        struct { uint32_t nnames; proto_str *names; } list_tables; /* and LIST_DATABASES */
        struct { int32_t bucket; int64_t first_offset, last_offset, high_watermark; } produce;
        struct { uint32_t nbuckets; proto_fetch_result *buckets; } fetch;
        struct { uint32_t nbuckets; proto_offset_result *buckets; } list_offsets;
        struct { uint32_t nfound; uint8_t *found; proto_records records; } lookup;
        struct { proto_records records; } prefix_lookup;
        struct { proto_records records; uint8_t more; proto_str resume; int64_t snapshot_offset; } scan_kv;
        struct { proto_records records; } key_history;
        struct { uint32_t nstats; proto_stat *stats; } stats;
        struct { int64_t cursor; uint32_t ncolumns; proto_str *columns; int64_t changes;
                 proto_records records; uint8_t done; } execute_sql;
        struct { proto_records records; uint8_t done; } fetch_sql;
    } resp;
} proto_msg;

/* ---------------------------------------------------------------- encode */

/* Appends a whole request frame (header + body of api). EINVAL for an unknown api or a
 * message that breaks a limit (naming the field); ELIMIT if the frame would exceed
 * PROTO_MAX_FRAME. On failure out->len is restored. */
strom_err proto_encode_request(strom_buf *out, int api, int version, int32_t request_id,
                               const proto_msg *m);
/* Appends a whole response frame. With err != STROM_OK the body is empty and m may be
 * NULL; errmsg may be NULL (""). */
strom_err proto_encode_response(strom_buf *out, int api, int version, int32_t request_id,
                                strom_err err, const char *errmsg, const proto_msg *m);

/* ---------------------------------------------------------------- decode */

typedef struct proto_req_hdr {
    int16_t api_key, api_version;
    int32_t request_id;
    const uint8_t *body;
    size_t body_len;
} proto_req_hdr;

typedef struct proto_resp_hdr {
    int32_t request_id;
    int16_t error;
    proto_str errmsg;
    const uint8_t *body;
    size_t body_len;
} proto_resp_hdr;

/* frame/len: a whole frame including its 4-byte length field (as proto_reader_next gives
 * it). EPROTO naming the field and byte offset. */
strom_err proto_parse_request(const uint8_t *frame, size_t len, proto_req_hdr *h);
strom_err proto_parse_response(const uint8_t *frame, size_t len, proto_resp_hdr *h);

/* Decodes and validates a body of api/version (request or response). body_off: offset of
 * the body in its frame, used in messages. EUNSUPPORTED for an unknown api/version,
 * EPROTO ("API request: field 'x' at byte N: ...") for anything malformed, ENOMEM.
 * *m borrows from body and arena (see LIFETIMES above). */
strom_err proto_decode_request(int api, int version, const uint8_t *body, size_t len,
                               size_t body_off, proto_arena *arena, proto_msg *m);
strom_err proto_decode_response(int api, int version, const uint8_t *body, size_t len,
                                size_t body_off, proto_arena *arena, proto_msg *m);

/* ---------------------------------------------------------- frame reader */

/* Incremental reader of one connection's byte stream. Zero-initialise, then
 * proto_reader_init. Either copy bytes in with proto_reader_feed, or read(2) straight into
 * proto_reader_space and proto_reader_commit what was read. */
typedef struct proto_reader {
    strom_buf buf;
    size_t start;        /* first unconsumed byte */
    size_t max_frame;    /* limit on the length field */
    size_t min_frame;    /* smallest legal length field */
    strom_err failed;    /* sticky after a fatal stream error */
} proto_reader;

/* min_frame: 8 for a server reading requests, 7 for a client reading responses.
 * max_frame 0 = PROTO_MAX_FRAME. */
void proto_reader_init(proto_reader *r, size_t max_frame, size_t min_frame);
void proto_reader_free(proto_reader *r);
strom_err proto_reader_feed(proto_reader *r, const void *data, size_t len);
/* Room for at least want bytes at the end of the buffer: *p, *cap. ENOMEM. */
strom_err proto_reader_space(proto_reader *r, size_t want, uint8_t **p, size_t *cap);
void proto_reader_commit(proto_reader *r, size_t n);
/* Next complete frame: returns OK with frame and len set (including the length field,
 * borrowed until the next feed/space/next call), or OK with *frame = NULL when more bytes
 * are needed. ELIMIT (frame over max_frame) and EPROTO (negative or too small length) are
 * fatal for the stream: every later call repeats the error; close the connection. */
strom_err proto_reader_next(proto_reader *r, const uint8_t **frame, size_t *len);
/* Bytes buffered but not yet returned as frames. */
static inline size_t proto_reader_buffered(const proto_reader *r) { return r->buf.len - r->start; }

#endif
