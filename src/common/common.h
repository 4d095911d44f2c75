/*
 * common.h: the bottom layer every subsystem uses: errors with thread-local detail,
 * CRC-32C, hashing, clocks, growable buffers, little-endian byte access, varints and
 * small file helpers. Nothing here calls any other strom subsystem.
 */
#ifndef STROM_COMMON_H
#define STROM_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "strom/strom.h"

#define STROM_UNUSED(x) ((void)(x))
#define STROM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define STROM_MAX(a, b) ((a) > (b) ? (a) : (b))
#define STROM_LIKELY(x) __builtin_expect(!!(x), 1)
#define STROM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define STROM_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* ------------------------------------------------------------------ errors */

/* Records a detail message for the calling thread and returns err, so that failures read
 *   return strom_fail(STROM_ECORRUPT, "table %s bucket %d: bad CRC at offset %lld", ...);
 * The message is what strom_errmsg() returns. */
strom_err strom_fail(strom_err err, const char *fmt, ...) STROM_PRINTF(2, 3);
/* Like strom_fail with ": <strerror(errno_value)>" appended and the errno mapped to a code
 * (ENOSPC -> STROM_ENOSPC, ENOENT -> ENOTFOUND, EEXIST -> EEXIST, else EIO). */
strom_err strom_fail_errno(int errno_value, const char *fmt, ...) STROM_PRINTF(2, 3);
/* Prefixes the current thread's message with "<context>: " (for adding where-context when
 * an error passes up a layer). Returns err unchanged. */
strom_err strom_fail_wrap(strom_err err, const char *fmt, ...) STROM_PRINTF(2, 3);
/* Clears the thread's message. */
void strom_fail_clear(void);

/* --------------------------------------------------------------- checksums */

/* CRC-32C (Castagnoli), as in iSCSI/Kafka: crc32c(0, "123456789", 9) == 0xE3069283.
 * Pass the previous result as crc to continue a running checksum. Uses the SSE4.2
 * instruction when the CPU has it, a table otherwise. */
uint32_t strom_crc32c(uint32_t crc, const void *data, size_t len);

/* ------------------------------------------------------------------ hashing */

/* 64-bit XXH3 of bytes; stable across runs and machines (it decides bucket placement on
 * disk, so it must never change). */
uint64_t strom_hash64(const void *data, size_t len);
uint64_t strom_hash64_seed(const void *data, size_t len, uint64_t seed);

/* ------------------------------------------------------------------- clocks */

/* Wall clock, ms since the epoch (commit timestamps). */
int64_t strom_now_ms(void);
/* Monotonic clock in ns (latencies, timeouts). */
int64_t strom_mono_ns(void);

/* ------------------------------------------------------- little-endian bytes */

static inline void strom_put_u16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void strom_put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void strom_put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline void strom_put_i64(uint8_t *p, int64_t v) { memcpy(p, &v, 8); }
static inline uint16_t strom_get_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t strom_get_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t strom_get_u64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline int64_t strom_get_i64(const uint8_t *p) { int64_t v; memcpy(&v, p, 8); return v; }
/* (strom runs on little-endian hosts; strom_common_check_host() refuses others.) */

/* --------------------------------------------------------------- varints */

/* LEB128 unsigned varint. put returns bytes written (<= 10). get returns bytes read, or
 * 0 if the input ends early or the varint is longer than 10 bytes. */
size_t strom_put_uvarint(uint8_t *p, uint64_t v);
size_t strom_get_uvarint(const uint8_t *p, size_t len, uint64_t *v);
static inline uint64_t strom_zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t strom_unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* ------------------------------------------------------------------ buffers */

/* A growable byte buffer. Zero-initialise ({0}) or strom_buf_init; free with strom_buf_free. */
typedef struct strom_buf {
    uint8_t *data;
    size_t len, cap;
} strom_buf;

void strom_buf_init(strom_buf *b);
void strom_buf_free(strom_buf *b);
/* Ensures room for extra more bytes. ENOMEM on failure (b unchanged). */
strom_err strom_buf_reserve(strom_buf *b, size_t extra);
strom_err strom_buf_append(strom_buf *b, const void *p, size_t n);
/* Grows len by n and returns a pointer to the n new (uninitialised) bytes, or NULL. */
uint8_t *strom_buf_grow(strom_buf *b, size_t n);
static inline void strom_buf_clear(strom_buf *b) { b->len = 0; }

/* Allocation that reports ENOMEM with a message (returns NULL and sets the message). */
void *strom_malloc(size_t n);
void *strom_calloc(size_t n, size_t size);
void *strom_realloc(void *p, size_t n);
char *strom_strdup(const char *s);

/* ------------------------------------------------------------- file helpers */

/* Full pread/pwrite/write loops (EINTR and short transfers handled). Return 0 or errno. */
int strom_pread_full(int fd, void *buf, size_t n, uint64_t off, size_t *got);
int strom_write_full(int fd, const void *buf, size_t n);
int strom_pwrite_full(int fd, const void *buf, size_t n, uint64_t off);
/* fsync of a directory (after create/rename/unlink inside it). Returns 0 or errno. */
int strom_fsync_dir(const char *dir);
/* mkdir -p. Returns 0 or errno. */
int strom_mkdirs(const char *path, int mode);
/* Writes data to path atomically: path.tmp, fsync, rename, fsync of the directory. */
strom_err strom_write_file_atomic(const char *path, const void *data, size_t len);
/* Reads a whole file (at most max bytes). Owned: *out freed with free(). */
strom_err strom_read_file(const char *path, size_t max, uint8_t **out, size_t *len);
/* rm -rf. Returns 0 or errno. */
int strom_rmtree(const char *path);
/* snprintf into a fixed buffer; EINVAL (with message) if it would be truncated. */
strom_err strom_path(char *out, size_t cap, const char *fmt, ...) STROM_PRINTF(3, 4);

#endif /* STROM_COMMON_H */
