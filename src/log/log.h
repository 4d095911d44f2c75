/*
 * log.h: one bucket of a log table on disk: segments of record batches (src/format), a
 * sparse offset/time index per segment, an optional per-key index, group commit,
 * retention and crash recovery. Private to the engine. Prefix: log_.
 *
 * A bucket is a directory. The file formats (segment, index, key index) are written down
 * as byte-layout tables in src/log/log_int.h.
 *
 * Concurrency: log_bucket_append may be called from many threads; appends are ordered
 * by a bucket mutex and share fsyncs (group commit). Readers (log_reader, key history)
 * run concurrently with appends and see only acknowledged data (the high watermark).
 */
#ifndef STROM_LOG_H
#define STROM_LOG_H

#include "format/format.h"

typedef enum log_flush_mode {
    LOG_FLUSH_SYNC = 0,      /* append returns after fdatasync (group commit) */
    LOG_FLUSH_INTERVAL = 1,  /* a background flush every flush_interval_ms */
    LOG_FLUSH_NONE = 2       /* the OS decides; log_bucket_flush forces */
} log_flush_mode;

#define LOG_MAX_KEY_COLS 8

typedef struct log_config {
    const char *name;           /* "table 'x' bucket 3", used in every error message */
    log_flush_mode flush;
    int64_t flush_interval_ms;  /* for LOG_FLUSH_INTERVAL (default 1000) */
    int64_t segment_bytes;      /* roll the active segment past this size (256 MiB) */
    /* Grow the active segment's file up to this many bytes ahead of the writes (fallocate;
     * the step starts at 64 KiB and grows with the segment), so that an fdatasync after an
     * append does not also allocate blocks and set a new size (on this machine's ext4 that
     * costs p99 1.5-7.5 ms against 0.45-1.7 ms: bench/README.md). The tail beyond the data
     * is zeros; it is cut when the segment is sealed or the bucket closed, and silently at
     * recovery after a crash. 0 (default): off; tables: table.log.segment.preallocate. */
    int64_t prealloc_bytes;
    int64_t ttl_ms;             /* retention; <= 0 keeps everything */
    int64_t index_interval_bytes; /* one sparse index entry per this many bytes (4096) */
    int time_col;               /* schema column of row times, -1: commit time */
    int key_cols[LOG_MAX_KEY_COLS]; /* 'table.log.index.key' columns */
    int nkey_cols;              /* 0: no key index */
    /* Idempotent appends (writers.c): 1 = deduplicate batches by writer id + batch
     * sequence (format.h header bytes 40..51) and keep the writers map durable in
     * <offset>.writers snapshots. 0 (default) = writer ids are stored but ignored. */
    int idempotent;
    int64_t writer_expiry_ms;   /* forget writers idle longer than this (7 days) */
    int64_t max_writers;        /* per bucket (100000); the least recently active go first */
    int64_t writer_snapshot_bytes; /* also snapshot the writers every this many bytes of the
                                      active segment (64 MiB; bounds the replay at open) */
} log_config;

void log_config_init(log_config *c);  /* the defaults above */

typedef struct log_bucket log_bucket;

/* Opens (creating if missing) the bucket directory dir and recovers it: a torn or corrupt
 * tail of the active segment is truncated (CRC), damaged or missing indexes are rebuilt
 * from their segment, leftover temporary files are removed. Only the active segment's
 * tail is scanned, not every segment. cfg is copied. Owned: log_bucket_close. */
strom_err log_bucket_open(const char *dir, const log_config *cfg, log_bucket **out);
/* Flushes, writes the active segment's indexes, closes. No reader may be open. */
void log_bucket_close(log_bucket *b);
/* What recovery and later index checks repaired (truncated tails, rebuilt indexes), one
 * line per event naming bucket and segment; "" when nothing. Borrowed, valid until the
 * next repair or close. */
const char *log_bucket_warnings(log_bucket *b);

/* Appends one encoded batch (validated with fmt_batch_verify; stamped in place with its
 * base offset and the commit time) and returns once it is acknowledged under the flush
 * mode. *base_offset may be NULL. EFENCED once any write or fsync has failed: the bucket
 * then refuses all writes until it is closed and reopened (recovery decides what is
 * kept). ENOSPC is reported as such and also fences. */
strom_err log_bucket_append(log_bucket *b, uint8_t *batch, size_t len, int64_t *base_offset);
/* What log_bucket_append_ex did with a batch. */
typedef struct log_append_result {
    int64_t base_offset;   /* of the appended batch; for a duplicate: of the original when
                              its sequence is the writer's last one, else -1 (unknown) */
    int64_t nrecords;      /* rows of that batch (0 when base_offset is -1) */
    int duplicate;         /* 1: nothing written (see below) */
} log_append_result;

/* log_bucket_append, reporting duplicates. With cfg.idempotent and a batch whose header
 * has writer_id > 0 and batch_sequence >= 0: if the writer's last applied sequence in this
 * bucket is >= the batch's, nothing is written, res->duplicate = 1, and the call returns
 * (STROM_OK) once the writer's last batch is acknowledged under the flush mode, so a
 * retried batch whose first attempt was written but not acknowledged is acknowledged only
 * when that first copy is. Sequences must increase per writer and bucket but may skip.
 * A batch with the writer's last sequence but another row count is EINVAL (a producer
 * reused a sequence). Writers idle longer than writer_expiry_ms, or evicted beyond
 * max_writers, are forgotten: their next batch is applied whatever its sequence. */
strom_err log_bucket_append_ex(log_bucket *b, uint8_t *batch, size_t len,
                               log_append_result *res);
/* Makes everything appended so far durable. */
strom_err log_bucket_flush(log_bucket *b);
/* Pipelined appends (the primary-key write path, src/kv/write.c): appends one batch like
 * log_bucket_append but returns at once, whatever the flush mode (under flush=sync its
 * rows are not yet acknowledged: readers do not see them); *base_offset as there, *end:
 * one past the batch. log_bucket_flush_to(b, end) then returns once everything before
 * end is durable (group commit with every other waiter), and acknowledged. Together they
 * let the caller prepare its next batch while this one is being fsynced. */
strom_err log_bucket_append_nowait(log_bucket *b, uint8_t *batch, size_t len,
                                   int64_t *base_offset, int64_t *end);
strom_err log_bucket_flush_to(log_bucket *b, int64_t end);

/* First retained offset and one past the last acknowledged offset. */
void log_bucket_offsets(log_bucket *b, int64_t *earliest, int64_t *end);
/* See strom_table_seek_time: the smallest offset o such that every acknowledged row with
 * time >= t is at offset >= o; end if none. Uses the indexes only. */
strom_err log_bucket_seek_time(log_bucket *b, int64_t t, int64_t *offset);
/* Removes whole sealed segments whose newest commit time < now_ms - ttl. */
strom_err log_bucket_retention(log_bucket *b, int64_t now_ms, int *removed);
strom_err log_bucket_stats(log_bucket *b, strom_bucket_stats *out);

/* What to read. Column indexes refer to the table's current schema; columns that a batch
 * lacks (added after it was written) come back as NULL columns. */
typedef struct log_read_spec {
    const strom_schema *schema; /* current schema (names, types); borrowed */
    const int *proj;            /* projected columns; NULL = all schema columns */
    int nproj;
    const fmt_pred *preds;      /* ANDed */
    int npreds;
    int64_t time_min, time_max; /* inclusive; INT64_MIN / INT64_MAX for none */
    int batch_level_only;       /* see strom_read_opts */
    int64_t max_rows, max_bytes;/* 0 = none */
} log_read_spec;

/* Appends the acknowledged batches of the bucket from the one holding offset (clamped up to
 * the earliest retained) to out, byte for byte as stored, while they fit max_bytes (the
 * first always). *next: the offset after the last batch copied (offset if none). ERANGE
 * past the end. Used to forward batches unchanged (raw.c). */
strom_err log_bucket_read_raw(log_bucket *b, int64_t offset, size_t max_bytes, strom_buf *out,
                              int64_t *next);

typedef struct log_reader log_reader;

/* Starts reading at offset (clamped up to the earliest retained; ERANGE past the end).
 * spec and what it points to are copied. Owned: log_reader_close. */
strom_err log_reader_open(log_bucket *b, int64_t offset, const log_read_spec *spec,
                          log_reader **out);
/* Next batch with at least one row after filtering; *out borrowed until the next call or
 * close; NULL when the reader has reached the high watermark or max_rows/max_bytes. Only
 * projected columns (plus those the filters need) are read from disk and decompressed;
 * batches excluded by the index (time) or statistics (predicates) are skipped unread. */
strom_err log_reader_next(log_reader *r, const strom_batch **out);
int64_t log_reader_position(const log_reader *r);
void log_reader_close(log_reader *r);

/* Newest n rows (by row time desc, then offset desc) whose canonical key bytes (see
 * fmt_key_from_value) equal key and whose time <= t, newest first, projected by spec
 * (spec's predicates and time range are ignored). EUNSUPPORTED without a key index.
 * The key index holds every row's (batch, row, time), so the rows are chosen from the
 * index alone; then only the batches holding them are read, and only their projected
 * columns. row_offsets and row_times of the result are set. Owned result:
 * strom_batch_destroy. */
strom_err log_bucket_key_history(log_bucket *b, const uint8_t *key, size_t keylen, int64_t t,
                                 int64_t n, const log_read_spec *spec, strom_batch **out);

#endif /* STROM_LOG_H */
