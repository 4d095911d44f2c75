/*
 * mem.h: the memory of the row cache (cache.c): entries and slot arrays, on transparent
 * huge pages. Private to src/kv. Prefix: kv_mem_.
 *
 * Why: a point lookup reads one slot and one entry at random in hundreds of MB. With
 * 4 KiB pages nearly every such read also misses the TLB and walks the page tables (in a
 * virtual machine, the guest's and the host's), which costs about as much as the read.
 * Memory in 2 MiB pages needs 512 times fewer TLB entries. Measured with the same lookups
 * on this project's 2-core VM: +15-20% lookups per second (bench/README.md).
 *
 * How:
 *   - Chunks of KV_MEM_CHUNK (2 MiB) are mapped anonymous, 2 MiB aligned, and marked
 *     MADV_HUGEPAGE before their first touch (the kernel's default THP mode "madvise"
 *     gives huge pages to exactly such ranges; if it cannot, it falls back to 4 KiB pages
 *     and nothing else changes).
 *   - Blocks come in size classes: multiples of 64 bytes up to 8 KiB, then powers of two
 *     up to KV_MEM_MAX (256 KiB). A block is 64-byte aligned, so an entry's header and
 *     key share its first cache line.
 *   - A chunk holds blocks of one class (its first 64 bytes are its header: class, blocks
 *     handed out, free list, the untouched rest). A class keeps a list of its chunks with
 *     room; a freed block goes to its chunk's free list. A chunk whose every block is free
 *     again is no longer its class's: it joins a pool of up to 8 empty chunks that any
 *     class takes from before mapping a new one, and beyond the pool it is unmapped. So
 *     memory left behind by a class (entries grow a class at a time as their key gains
 *     versions) serves the others once its chunks empty.
 *   - Fresh chunks are faulted in ahead of need by a filler thread at SCHED_IDLE priority
 *     (it keeps 4 empty chunks ready once the arena is in use), so a writer taking a chunk
 *     under its shard's write lock rarely waits for page faults. On this project's VM a
 *     huge page the host has not backed yet takes ~5 ms to fault in (the balloon's free
 *     page reporting hands freed 2 MiB blocks back to the host), against ~1 ms for the
 *     same bytes in 4 KiB pages: bulk inserts into a fresh process pay that (bench/README.md).
 *   - The waste: a chunk's header line and the tail no block fits in (under 3% up to
 *     64 KiB blocks, 12% for 256 KiB ones), and the free blocks of chunks not yet empty.
 *   - Larger blocks are malloc'ed. Under AddressSanitizer every block is malloc'ed, so
 *     ASan checks each entry as its own allocation.
 * Thread-safe: one mutex (a block costs a few tens of nanoseconds; the cache allocates
 * once per row written and per row filled after a miss, never on a lookup hit).
 */
#ifndef STROM_KV_MEM_H
#define STROM_KV_MEM_H

#include <stddef.h>

#define KV_MEM_CHUNK ((size_t)2 << 20)
#define KV_MEM_MAX ((size_t)256 << 10)

/* The bytes a block asked for with n (>= 1) bytes really has (its class's size; n above
 * KV_MEM_MAX: n). Usable in full: kv_mem_free(p, kv_mem_size(n)) frees the same block. */
size_t kv_mem_size(size_t n);
/* A block of kv_mem_size(n) bytes, 64-byte aligned (n <= KV_MEM_MAX, outside ASan).
 * Owned: kv_mem_free with the same n (or kv_mem_size(n)). NULL on ENOMEM. */
void *kv_mem_alloc(size_t n);
/* The same, zeroed. */
void *kv_mem_calloc(size_t n);
/* Frees p (NULL: nothing), a block from kv_mem_alloc(n). */
void kv_mem_free(void *p, size_t n);
/* How many empty chunks the filler keeps ready (0..8; 0: no filler, a chunk is mapped
 * when needed). Default 4. Returns the previous value. */
int kv_mem_set_ready(int n);
/* Bytes of chunks mapped now by the process (pooled empty ones included). */
size_t kv_mem_mapped(void);

#endif
