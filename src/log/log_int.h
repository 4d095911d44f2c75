/*
 * log_int.h: internals of src/log: the on-disk files of a bucket and the in-memory
 * structures shared by the files of this folder. Nothing outside src/log includes it
 * (tests do, for the test hooks and the layouts).
 *
 * ==========================================================================================
 * A BUCKET DIRECTORY
 * ==========================================================================================
 *   00000000000000000000.log    segment: a header, then record batches (format.h) back to back
 *   00000000000000000000.index  sparse offset/time index of that segment
 *   00000000000000000000.keys   key index of that segment (only with key columns; written
 *                               when the segment is sealed or the bucket is closed)
 *   00000000000000000000.writers writers snapshot (idempotent buckets only): the writer map
 *                               as of the log offset in its name (see below)
 *   *.tmp                       leftovers of an interrupted atomic write; removed on open
 * The 20-digit decimal number is the segment's base offset (offset of its first row).
 * All integers are little-endian. CRCs are CRC-32C (strom_crc32c, seed 0).
 *
 * ------------------------------------------------------------------------------------------
 * SEGMENT FILE (.log)
 * ------------------------------------------------------------------------------------------
 * Header (32 bytes)
 *   off size field          meaning
 *   0   4    magic          0x47455453, the bytes "STEG"
 *   4   2    version        1
 *   6   2    header_size    32 (first batch starts here)
 *   8   8    base_offset    equals the number in the file name
 *   16  8    created_ms     wall clock when the segment was created
 *   24  4    reserved       0
 *   28  4    crc            CRC-32C of bytes [0, 28)
 *   32  ...  batches        record batches exactly as format.h lays them out; batch i+1
 *                           starts at 12 + length of batch i; base offsets are contiguous
 *
 * ------------------------------------------------------------------------------------------
 * SPARSE INDEX FILE (.index)
 * ------------------------------------------------------------------------------------------
 * Header (32 bytes)
 *   0   4    magic          0x58495453, the bytes "STIX"
 *   4   2    version        1
 *   6   2    entry_size     64
 *   8   8    base_offset    of the segment
 *   16  8    interval       index_interval_bytes the entries were cut at
 *   24  4    reserved       0
 *   28  4    crc            CRC-32C of bytes [0, 28)
 * Then entries of 64 bytes. Entry i covers the "span" of consecutive batches starting at
 * its position; a new span starts at the first batch boundary at least `interval` bytes
 * after the previous span's start. Spans are contiguous: pos[i+1] = pos[i] + span_bytes[i].
 * An entry is written only when its span is complete (the next span started, the segment
 * was sealed, or the bucket closed), so every entry on disk is final.
 *   0   4    rel_offset     first offset of the span - base_offset
 *   4   4    nrecords       offsets covered by the span
 *   8   4    position       file position of the span's first batch
 *   12  4    span_bytes     bytes of the span's batches
 *   16  4    nbatches       batches in the span
 *   20  4    reserved       0
 *   24  8    min_time       smallest row time in the span   (times are NOT monotonic
 *   32  8    max_time       largest row time in the span     in offsets: late data)
 *   40  8    max_commit     largest commit timestamp in the span
 *   48  8    raw_bytes      sum of the batches' arrow_size
 *   56  4    reserved       0
 *   60  4    crc            CRC-32C of bytes [0, 60)
 * Seek by time keeps, in memory, the prefix maximum of max_time over the entries so that
 * "first entry whose prefix max >= t" is a binary search.
 * A sealed segment's index is trusted when the header and every entry CRC hold, the
 * entries are contiguous, the last one ends at the file size and the batch header at the
 * last entry's position parses; otherwise it is rebuilt from the segment's batch headers.
 *
 * ------------------------------------------------------------------------------------------
 * KEY INDEX FILE (.keys)
 * ------------------------------------------------------------------------------------------
 * Header (64 bytes)
 *   0   4    magic          0x584b5453, the bytes "STKX"
 *   4   2    version        1
 *   6   2    header_size    64
 *   8   8    base_offset    of the segment
 *   16  4    nbatches       batches in the segment (B)
 *   20  4    nkeys          distinct keys (K)
 *   24  4    nslots         hash slots, a power of two > K (S)
 *   28  4    reserved       0
 *   32  8    runs_bytes     bytes of the run area (R)
 *   40  8    data_size      segment bytes the index covers (= segment file size)
 *   48  4    batch_crc      CRC-32C of the batch table
 *   52  8    reserved       0
 *   60  4    crc            CRC-32C of bytes [0, 60)
 * Batch table at 64: B entries of 32 bytes, in segment order (ordinal = index)
 *   0   4    position       file position of the batch
 *   4   4    rel_offset     base offset - segment base
 *   8   4    nrows          record_count
 *   12  4    reserved       0
 *   16  8    min_time       batch min row time
 *   24  8    max_time       batch max row time
 * Slot table at 64 + 32B: S slots of 32 bytes, open addressing, linear probing from
 * strom_hash64(key) & (S - 1); an empty slot is zero but for its CRC
 *   0   8    hash           strom_hash64 of the canonical key bytes
 *   8   8    run_off        offset of the key's run in the run area
 *   16  4    run_len        bytes of the run
 *   20  4    count          rows (postings) of the key; 0 = empty slot
 *   24  4    reserved       0
 *   28  4    crc            CRC-32C of bytes [0, 28): a damaged slot is an error, never a
 *                           silently missing key
 * Run area at 64 + 32B + 32S: R bytes, one run per key
 *   0   4    crc            CRC-32C of the run's bytes [4, run_len)
 *   4   4    key_len
 *   8   ...  key            canonical key bytes (fmt_key_from_column over the key columns)
 *   ...      postings       count entries in (batch, row) order, each three LEB128 varints:
 *                           batch - previous batch (first: batch), row within the batch,
 *                           zigzag(time - previous time) (first: zigzag(time))
 * One posting per row of the segment, carrying the row's time (time column, or commit
 * time), so key history picks its rows without decoding anything. Opening checks the
 * header and batch table CRCs (O(batches)); each lookup reads one or two slots and one run
 * with pread and checks their CRCs, so nothing else needs to be trusted or loaded.
 *
 * The active segment's key index lives in memory (24 bytes per row) and is written when
 * the segment is sealed or the bucket closes. Open never touches key indexes: on the first
 * key-history call (or at seal) the active one is loaded from its .keys when that covers
 * exactly the segment's bytes (clean close), else rebuilt by decoding only the key and
 * time columns of the segment (after a crash). A sealed segment's .keys is opened on its
 * first key-history use (header and batch table); slots and runs are read with pread per
 * lookup, so memory stays small. Missing or damaged files are rebuilt from the segment,
 * also when a slot or run fails its CRC during a lookup (then the lookup is retried).
 *
 * ------------------------------------------------------------------------------------------
 * WRITERS SNAPSHOT FILE (.writers), idempotent buckets only (writers.c)
 * ------------------------------------------------------------------------------------------
 * The map writer id -> last applied batch sequence as of log offset N (the 20 digits of the
 * name): it reflects exactly the batches with offsets < N. Written atomically (tmp, fsync,
 * rename, fsync of the directory) when a segment rolls (N = the new segment's base), every
 * writer_snapshot_bytes (64 MiB) of the active segment (after an fsync of it) and at clean
 * close (N = the end of the log): always after the batches it covers were fsynced. The
 * three newest are kept. Header (48 bytes)
 *   0   4    magic          0x52575453, the bytes "STWR"
 *   4   2    version        1
 *   6   2    entry_size     32
 *   8   8    offset         N
 *   16  8    segment        base offset of the segment holding offset N
 *   24  4    position       file position of the batch at offset N in that segment (its
 *                           size when N is the end of the log)
 *   28  4    count          entries (C)
 *   32  8    written_ms     wall clock at writing
 *   40  4    body_crc       CRC-32C of the C entries
 *   44  4    crc            CRC-32C of bytes [0, 44)
 * Then C entries of 32 bytes, in no particular order, one per writer
 *   0   8    writer_id      > 0
 *   8   4    sequence       the writer's last applied batch_sequence (>= 0)
 *   12  4    nrecords       record_count of that batch
 *   16  8    base_offset    of that batch
 *   24  8    commit_ms      its commit timestamp (the writer's last activity)
 * Open loads the newest snapshot that validates (CRCs, size = 48 + 32C, N <= end of the
 * log, its segment present, position inside it and the batch there starting at N) and
 * replays the headers of the batches from there to the end of the log (read sequentially
 * in 4 MiB chunks, headers only). A damaged one falls back to the next older one; with none
 * usable every retained segment's headers are scanned and a warning says that writers
 * whose last batch was in a removed segment may be forgotten. Snapshots past the end of
 * the log (a truncated tail) are removed at open.
 *
 * The active segment's sparse index is rewritten at open (all entries but the last, whose
 * span may still grow); recovery re-verifies every batch from the last entry on with
 * fmt_batch_verify and truncates the file at the first torn or corrupt batch.
 * ==========================================================================================
 */
#ifndef STROM_LOG_INT_H
#define STROM_LOG_INT_H

#include <pthread.h>

#include "log/log.h"

#define LOG_SEG_MAGIC 0x47455453u
#define LOG_IDX_MAGIC 0x58495453u
#define LOG_KX_MAGIC 0x584b5453u
#define LOG_VERSION 1
#define LOG_SEG_HDR 32
#define LOG_IDX_HDR 32
#define LOG_IDX_ENTRY 64
#define LOG_KX_HDR 64
#define LOG_KX_BATCH 32
#define LOG_KX_SLOT 32
#define LOG_MAX_SEG_BYTES ((int64_t)1 << 31)   /* positions fit in u32 with batch slack */
#define LOG_MAX_SEG_RECORDS ((int64_t)1 << 31) /* relative offsets fit in u32 */
#define LOG_WR_MAGIC 0x52575453u
#define LOG_WR_HDR 48
#define LOG_WR_ENTRY 32
#define LOG_WR_MAX (1 << 24)       /* writers per bucket, upper bound of max_writers */
#define LOG_WR_KEEP 3              /* snapshots kept */

/* ------------------------------------------------------------- test hooks */

/* When > 0, counts down on every fsync/fdatasync (resp. segment write) of the log; the
 * call that brings it to 0 fails with EIO. Tests only. */
extern int log_test_fail_fsync;
extern int log_test_fail_write;
/* Added to the wall clock by automatic retention (at roll and open). Tests only. */
extern int64_t log_test_clock_skew_ms;
/* The clock automatic retention compares commit times with. */
int64_t log_retention_clock_ms(void);

/* --------------------------------------------------------------- sparse index */

typedef struct log_ient {
    uint32_t rel_offset, nrecords, position, span_bytes, nbatches;
    int64_t min_time, max_time, max_commit;
    uint64_t raw_bytes;
} log_ient;

typedef struct log_index {
    log_ient *e;
    int64_t *pmax;         /* prefix max of e[].max_time */
    size_t n, cap;
    size_t nwritten;       /* entries already handed to the index file */
    strom_buf pending;     /* encoded entries not yet written */
} log_index;

void log_index_free(log_index *ix);
/* Accounts for a batch appended at pos (starts a new span when due). */
strom_err log_index_add(log_index *ix, int64_t seg_base, int64_t interval, uint32_t pos,
                        const fmt_hdr *h);
/* Encodes the complete entries [nwritten, upto) into ix->pending. */
void log_index_stage(log_index *ix, size_t upto);
void log_index_encode_header(uint8_t *out, int64_t base, int64_t interval);
/* Decodes an index file; entries with bad CRCs end the list (*clean = 0). */
strom_err log_index_decode(const uint8_t *p, size_t len, int64_t base, log_index *ix, int *clean);
/* First entry whose prefix max >= t, or n. */
size_t log_index_seek_time(const log_index *ix, int64_t t);
/* Last entry with rel_offset <= rel (0 when none). */
size_t log_index_find_offset(const log_index *ix, uint32_t rel);

/* ------------------------------------------------------------------ key index */

typedef struct log_kxbatch {
    uint32_t position, rel_offset, nrows;
    int64_t min_time, max_time;
} log_kxbatch;

typedef struct log_kxslot {
    uint64_t hash;
    uint32_t key_off, key_len;
    uint32_t head, count;  /* head = posting index + 1 of the key's newest row (0 = empty) */
    uint32_t kid;          /* memory form: the key's id, 0.. in order of first appearance */
} log_kxslot;

typedef struct log_kxpost {
    uint32_t batch, row;   /* batch ordinal in the segment, row in the batch */
    int64_t time;          /* the row's time */
} log_kxpost;

typedef struct log_keyidx {
    log_kxbatch *batches;
    size_t nbatches, cap_batches;
    /* memory form */
    log_kxslot *slots;
    uint32_t nslots, nkeys;
    strom_buf keys;
    log_kxpost *posts;
    uint32_t *prev;        /* per posting: the same key's previous posting + 1, 0 = none */
    uint32_t *pkid;        /* per posting: its key's id (groups postings by key at seal) */
    size_t nposts, cap_posts;
    /* file form: fd >= 0 (pread on demand) or image (whole file in memory) */
    int fd;
    uint8_t *image;
    uint64_t file_size, slots_at, runs_at, runs_bytes;
} log_keyidx;

log_keyidx *log_kx_create(void);
void log_kx_destroy(log_keyidx *kx);
strom_err log_kx_add_batch(log_keyidx *kx, uint32_t pos, uint32_t rel, const fmt_hdr *h);
/* Notes row `row` (time `time`) of batch ordinal `batch` under key. */
/* Hints the CPU to fetch the memory-form slot of hash (no effect on contents). */
void log_kx_prefetch(const log_keyidx *kx, uint64_t hash);
strom_err log_kx_add_row(log_keyidx *kx, const uint8_t *key, size_t len, uint64_t hash,
                         uint32_t batch, uint32_t row, int64_t time);
/* Notes n rows of one key (in (batch, row) order). */
strom_err log_kx_add_rows(log_keyidx *kx, const uint8_t *key, size_t len, uint64_t hash,
                          const log_kxpost *p, size_t n);
/* The key's postings in (batch, row) order into *out (grown with realloc). */
strom_err log_kx_lookup(const log_keyidx *kx, const uint8_t *key, size_t len, log_kxpost **out,
                        size_t *n, size_t *cap);
strom_err log_kx_encode(const log_keyidx *kx, int64_t base, uint64_t data_size, strom_buf *out);
/* Opens a .keys file: header and batch table checked and loaded, the body CRC checked once;
 * whole = 1 loads the whole file, else lookups pread. ECORRUPT when invalid. */
strom_err log_kx_open(const char *path, int64_t base, uint64_t data_size, int whole,
                      log_keyidx **out);
typedef strom_err (*log_kx_fn)(void *arg, const uint8_t *key, size_t len, uint64_t hash,
                               const log_kxpost *posts, size_t n);
/* Calls fn for every key of a file-form index. */
strom_err log_kx_each_key(const log_keyidx *kx, log_kx_fn fn, void *arg);

/* ------------------------------------------------------------------- segments */


typedef struct log_segment {
    int64_t base;
    int fd;
    int refs;              /* bucket list + readers; under bucket mu */
    int sealed;
    int removed;           /* dropped by retention: files gone, fd kept for holders */
    char path[4096];       /* .log path; .index / .keys derive from it */
    uint64_t size;         /* bytes written (header included) */
    uint64_t alloc;        /* file size preallocated beyond size (prealloc_bytes); 0: none */
    int noalloc;           /* the file system has no fallocate: do not ask again */
    uint64_t acked_size;   /* bytes visible to readers */
    int64_t end_off;       /* offset after the last written batch */
    int64_t acked_end;     /* offset after the last acknowledged batch */
    log_index ix;
    int ixfd;              /* index file, -1 when not open for appending */
    log_keyidx *kx;        /* NULL: not loaded / not built */
    int kx_state;          /* LOG_KX_* */
    uint64_t kx_disk;      /* segment bytes the .keys file on disk covers (0: none) */
    int64_t max_commit, max_time, min_time;
    uint64_t raw_bytes, nbatches;
} log_segment;

/* Preallocates the file of active segment s so that len more bytes fit without changing
 * its size (log_config.prealloc_bytes; a failure only turns it off for that write). */
void log_seg_prealloc(log_bucket *b, log_segment *s, size_t len);
/* Cuts s's file back to its data (s->size) if it was preallocated; 0 or an errno. */
int log_seg_trim(log_segment *s);

enum { LOG_KX_NONE = 0, LOG_KX_READY = 1, LOG_KX_PENDING = 2 };

/* Reusable buffers for indexing one batch's keys (keybuild.c): key bytes, their hashes
 * and where each row's key starts. One per thread that indexes (the writer, a warm-up). */
typedef struct log_kxscratch {
    strom_buf keys, hashes, starts;
} log_kxscratch;

/* -------------------------------------------------------------------- writers */

/* One writer of an idempotent bucket: its last applied batch. writer_id 0 = empty slot. */
typedef struct log_wentry {
    int64_t writer_id;
    int32_t seq;
    uint32_t nrecords;
    int64_t base_offset;
    int64_t commit_ms;
} log_wentry;

/* Open-addressing hash table (linear probing, load <= 1/2, capacity a power of two). */
typedef struct log_writers {
    log_wentry *slots;
    uint32_t cap, n;
    int64_t evicted;       /* writers dropped to stay within max_writers */
} log_writers;

/* ------------------------------------------------------------------- the bucket */

struct log_bucket {
    char *dir;
    char *name;
    log_config cfg;
    pthread_mutex_t mu;    /* segment list, watermarks, indexes, refcounts */
    pthread_mutex_t wmu;   /* serialises writers (append, roll, flush, key builds) */
    pthread_cond_t cv;     /* group commit: durable advanced / fence */
    pthread_mutex_t kxmu;  /* in-memory key indexes (active segment) */
    log_segment **segs;
    int nsegs, cap_segs;
    int64_t written_off;   /* after the last written batch */
    int64_t durable_off;   /* after the last fsynced batch */
    int64_t hw;            /* high watermark: after the last acknowledged batch */
    int syncing;           /* a group commit leader is in fdatasync */
    int fenced;
    char fence_msg[512];
    int64_t fsyncs;
    char *warnings;        /* recovery notes (rebuilt indexes, truncations) */
    log_writers wr;        /* idempotent writers (under wmu) */
    uint64_t wr_snap_at;   /* active segment size at its last writers snapshot (under wmu) */
    int64_t wr_snap_off;   /* log offset of the newest snapshot on disk (-1: unknown) */
    /* writer scratch (under wmu) */
    fmt_hdr wh;
    fmt_dir *wdirs;
    fmt_decoder *wdec;
    strom_batch *wbatch;
    log_kxscratch wkx;
    /* key index warm-up after open (keybuild.c) */
    pthread_t kx_warm_thread;
    int kx_warm_started;
    int kx_warming;          /* under wmu */
    pthread_cond_t kx_warm_cv; /* with wmu: the warm-up ended */
    /* interval flusher */
    pthread_t flusher;
    int flusher_on, stopping;
    pthread_cond_t flush_cv;
};

/* segment.c */
strom_err log_seg_create(log_bucket *b, int64_t base, log_segment **out);
strom_err log_seg_open_file(log_bucket *b, const char *path, int64_t base, log_segment **out);
void log_seg_ref(log_bucket *b, log_segment *s);
void log_seg_unref(log_bucket *b, log_segment *s);
void log_seg_free(log_segment *s);
strom_err log_seg_side_path(const log_segment *s, const char *ext, char *out, size_t cap);
/* The error context "<bucket>: segment <base>". */
strom_err log_seg_fail(log_bucket *b, log_segment *s, strom_err e);
void log_seg_account(log_segment *s, const fmt_hdr *h, uint64_t len);
void log_seg_encode_header(uint8_t *out, int64_t base);
int log_fsync(int fd);     /* fdatasync with the test hook; returns 0 or errno */

/* index.c (files) */
strom_err log_index_file_open(log_bucket *b, log_segment *s);
strom_err log_index_file_flush(log_bucket *b, log_segment *s, int all, int sync);
strom_err log_index_file_load(log_bucket *b, log_segment *s, int *valid);
void log_seg_from_index(log_segment *s); /* segment totals and size from its entries */
strom_err log_index_rebuild(log_bucket *b, log_segment *s, uint64_t from, int verify,
                            uint64_t *valid_end);

/* keyidx.c (files and building) */
strom_err log_kx_write(log_bucket *b, log_segment *s);
strom_err log_kx_ensure(log_bucket *b, log_segment *s);  /* under wmu */
void log_kxscratch_free(log_kxscratch *ks);
/* After open: a thread prepares the active segment's key index (loaded from .keys after a
 * clean close, rebuilt after a crash) while appends go on, so the first key-history call
 * does not pay for it. wait: under wmu, until the warm-up ended (releases wmu meanwhile;
 * never call it from the append path). join: at close, without locks. */
void log_kx_warm_start(log_bucket *b);
void log_kx_warm_wait(log_bucket *b);
void log_kx_warm_join(log_bucket *b);
/* At seal (under wmu): writes the key index and switches it to its small file form. */
strom_err log_kx_seal(log_bucket *b, log_segment *s);
strom_err log_kx_index_batch(log_bucket *b, log_segment *s, const uint8_t *batch,
                             const fmt_hdr *h, const fmt_dir *dirs, uint32_t pos);

/* bucket.c */
void log_warn(log_bucket *b, const char *fmt, ...) STROM_PRINTF(2, 3);
strom_err log_bucket_fence(log_bucket *b, strom_err e, const char *what);
log_segment *log_seg_for_offset(log_bucket *b, int64_t off); /* under mu; referenced */
strom_err log_segs_push(log_bucket *b, log_segment *s); /* appends to the list; under mu */

/* seek.c: referenced copies of the segment list and the high watermark */
strom_err log_snapshot(log_bucket *b, log_segment ***segs, int *n, int64_t *hw);
void log_snapshot_release(log_bucket *b, log_segment **segs, int n);

/* recover.c */
strom_err log_recover(log_bucket *b);
/* The numbers of the files "<20 digits><ext>" of the bucket directory, ascending (owned:
 * free); with drop_tmp (at open only) leftover *.tmp files met on the way are removed. */
strom_err log_list_numbered(log_bucket *b, const char *ext, int drop_tmp, int64_t **bases,
                            size_t *n);

/* append.c */
strom_err log_roll(log_bucket *b);
/* Removes expired sealed segments at the front ('table.log.ttl'). Caller holds wmu. */
strom_err log_retention_locked(log_bucket *b, int64_t now_ms, int *removed);
strom_err log_seal(log_bucket *b, log_segment *s);
strom_err log_flusher_start(log_bucket *b);
void log_flusher_stop(log_bucket *b);

/* writers.c (all under wmu, or before the bucket is shared) */
void log_wr_free(log_writers *m);
/* Whether h (writer_id > 0, batch_seq >= 0, cfg.idempotent) repeats an applied batch:
 * then *dup = 1, res is filled and *wait_end is the offset the duplicate's
 * acknowledgement must wait for. EINVAL when the sequence was reused with another count. */
strom_err log_wr_check(log_bucket *b, const fmt_hdr *h, log_append_result *res, int *dup,
                       int64_t *wait_end);
/* Records an appended batch (h stamped with its base offset and commit time). */
strom_err log_wr_note(log_bucket *b, const fmt_hdr *h);
/* Writes the snapshot as of the end of the log, whose last segment is s (fsynced by the
 * caller); failures are warnings (an older snapshot and the headers after it still give
 * the map). */
void log_wr_snapshot(log_bucket *b, log_segment *s);
/* After an append to the active segment s: when s grew by writer_snapshot_bytes since the
 * last snapshot, fsyncs it and writes one. An fsync failure is returned (the caller fences). */
strom_err log_wr_periodic(log_bucket *b, log_segment *s);
/* At open, after log_recover: loads the newest valid snapshot and replays the headers
 * after it. */
strom_err log_wr_recover(log_bucket *b);

/* batchio.c: reading parts of batches from a segment */
typedef struct log_bio {
    strom_buf hdr, io;
    fmt_hdr h;
    fmt_dir *dirs;
    fmt_decoder *dec;
    uint64_t pos;          /* position of the parsed batch */
} log_bio;

strom_err log_bio_init(log_bio *io);
void log_bio_free(log_bio *io);
/* Reads and parses the batch header at pos; the batch must end by limit. */
strom_err log_bio_header(log_bio *io, log_bucket *b, log_segment *s, uint64_t pos,
                         uint64_t limit);
/* Reads (coalesced), CRC-checks and decodes the chunks of directory entries dirix[0..n)
 * of the parsed batch into dst; out[i] receives column dirix[i]. */
strom_err log_bio_columns(log_bio *io, log_bucket *b, log_segment *s, const int *dirix, int n,
                          strom_batch *dst, const char *const *names, strom_column *out);
/* Like log_bio_columns, but each out[i] holds only rows rows[0..nsel) of the batch, in that
 * order (point reads: only those values are decoded where the encoding allows). */
strom_err log_bio_columns_rows(log_bio *io, log_bucket *b, log_segment *s, const int *dirix,
                               int n, const uint32_t *rows, uint32_t nsel, strom_batch *dst,
                               const char *const *names, strom_column *out);
/* The int64 row times of a decoded time column (ECORRUPT for other types). */
strom_err log_time_values(log_bucket *b, const fmt_hdr *h, const strom_column *c,
                          const int64_t **out);
/* Canonical key of row r over key columns kc[0..nk) into out (cleared first). */
strom_err log_row_key(strom_buf *out, const strom_column *kc, int nk, int64_t r);
/* Like log_row_key without clearing out first: appends the key of row r. */
strom_err log_row_key_append(strom_buf *out, const strom_column *kc, int nk, int64_t r);

#endif /* STROM_LOG_INT_H */
