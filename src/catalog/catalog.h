/*
 * catalog.h: databases, tables, schema versions, table options and the metadata file.
 * Implements the strom_db_*, strom_table_* and strom_scan_* calls of strom.h on top of
 * src/log (one log bucket per table bucket) and, for primary-key tables, src/kv (one
 * state store per bucket, kvapi.c). Private to the engine. Prefix: cat_.
 *
 * ==========================================================================================
 * DATA DIRECTORY
 * ==========================================================================================
 *   <dir>/.lock                              flock'd while a strom_db has the directory open
 *                                            (a second open gets EBUSY)
 *   <dir>/<database>/<table>/table.meta      the table's metadata (below)
 *   <dir>/<database>/<table>/bucket-<N>/     log bucket N, N in [0, bucket.num)
 *   <dir>/<database>/<table>/kv-<N>/         primary-key tables: the state of bucket N (a
 *                                            RocksDB directory, layout in src/kv/kv.h); lost
 *                                            or deleted, it is rebuilt from bucket-<N>
 *   <dir>/<database>/.create-<table>-<id>/   a create in progress (removed on open)
 *   <dir>/<database>/.drop-<table>-<id>/     a drop in progress (removed on open)
 * The default database is "default"; a table name "db.t" addresses database "db". Names
 * match [A-Za-z_][A-Za-z0-9_]{0,127}, so they never collide with the dot-prefixed
 * temporaries. A create builds the whole table in .create-*, then renames it into place;
 * a drop renames the table to .drop-* first, then deletes it: a crash leaves either the
 * whole table or nothing.
 *
 * ==========================================================================================
 * TABLE METADATA FILE (table.meta), format version 1
 * ==========================================================================================
 * UTF-8 text, one record per line, fields separated by single spaces, lines end in "\n".
 * Names and values are escaped: every byte <= 0x20, 0x7f and '%' is written as %XX (two
 * upper-case hex digits), so no field contains a space or a newline. The file is written
 * whole with strom_write_file_atomic. Lines, in this order:
 *
 *   strom-table-meta 1                     magic and format version (first line)
 *   table_id <u64>                          unique in the data directory, never reused
 *   created_ms <i64>                        creation time, ms since the epoch
 *   option <key> <value>                    every log-table option of the registry (for a
 *                                           primary-key table also every primary-key option)
 *                                           (options.c), in registry order, defaults
 *                                           filled in (missing lines get defaults); an option
 *                                           without a default and not given has an empty
 *                                           value (the line ends after "<key> ")
 *   schema <id> <ncols>                     a schema version (ids 1, 2, ... increasing by
 *   column <name> <TYPE> NULL|NOT_NULL      one), followed by exactly ncols column lines;
 *                                           every version is listed in full; the last one
 *                                           is the current schema. TYPE is
 *                                           strom_type_name() ("TIMESTAMP(3)", ...).
 *   primary_key <name>                      primary-key tables only: one line per key column,
 *                                           in key order, after the schemas; each names a
 *                                           NOT NULL column present in every schema version.
 *                                           No such line: a log table (files written before
 *                                           primary keys existed read unchanged).
 *   crc32c <8 hex digits>                   CRC-32C of every byte before this line; last
 *
 * Example:
 *   strom-table-meta 1
 *   table_id 3
 *   created_ms 1736776200000
 *   option bucket.num 4
 *   option bucket.key device_id
 *   ...
 *   schema 1 2
 *   column device_id STRING NOT_NULL
 *   column voltage DOUBLE NULL
 *   crc32c 5D1F0A93
 *
 * A file that breaks any rule (bad magic, unknown record, out-of-order schema ids, a wrong
 * column count, an unknown type, an invalid option, a CRC mismatch, a missing crc line) is
 * ECORRUPT with a message naming the file and line; the db opens without that table.
 * ==========================================================================================
 */
#ifndef STROM_CATALOG_H
#define STROM_CATALOG_H

#include "kv/kv.h"
#include "log/log.h"

#define CAT_META_FILE "table.meta"
#define CAT_META_VERSION 1
#define CAT_META_MAX_BYTES (16u << 20)
#define CAT_MAX_BUCKETS 1024
#define CAT_MAX_SCHEMAS 4096
#define CAT_NAME_MAX 128

/* ----------------------------------------------------------------- options */

/* Typed view of a table's options. Column indexes refer to the current schema (columns
 * are only ever added at the end, so indexes stay valid across schema versions). */
typedef struct cat_opts {
    char **vals;                 /* one per registry entry (cat_opt_count), "" = unset */
    int nbuckets;
    int bucket_key[LOG_MAX_KEY_COLS], nbucket_key;
    int index_key[LOG_MAX_KEY_COLS], nindex_key;
    int codec, zstd_level, plain_only;
    log_flush_mode flush;
    int64_t flush_interval_ms, segment_bytes, ttl_ms, index_interval_bytes, prealloc_bytes;
    int time_col;                /* -1: commit time */
    int pk_table;                /* the schema has a primary key */
    int image_full;              /* table.changelog.image FULL (1) or WAL (0) */
    int delete_behavior;         /* CAT_DELETE_* */
    int merge_engine;            /* kv_engine */
    int ver_col;                 /* versioned: version column, -1 none */
    int64_t kv_ttl_ms;           /* table.kv.ttl: row TTL, 0 none */
    int64_t kv_hist_ttl_ms;      /* table.kv.history.ttl: -1 forever */
    int kv_vcol;                 /* table.kv.version-column, -1: commit time */
    uint8_t agg[FMT_MAX_COLUMNS]; /* aggregation: kv_agg per column (0: default) */
} cat_opts;

/* Name of aggregate function f (kv_agg), NULL for KV_AGG_DEFAULT or out of range. */
const char *cat_agg_name(int f);

enum { CAT_DELETE_ALLOW = 0, CAT_DELETE_IGNORE = 1, CAT_DELETE_DISABLE = 2 };

/* Number of registry entries and their names (for iteration and the metadata file). */
int cat_opt_count(void);
const char *cat_opt_name(int i);
/* 1 for options of primary-key tables (EOPTION on log tables, not in their metadata). */
int cat_opt_pk_only(int i);
/* Parses and validates options (NULL-terminated key, value pairs, or NULL) against schema,
 * filling in defaults. EOPTION (unknown keys list the known ones; bad values name option
 * and value; primary-key options on a table without a primary key; a bucket key that is
 * not part of the primary key; a versioned engine without a numeric/TIMESTAMP
 * ver-column; fields.<col>.agg naming an unknown column, a key column, an unknown
 * function or one that does not fit the column's type, or without table.merge-engine =
 * aggregation; delete.behavior = allow with first_row/versioned; a kv.version-column that
 * is not TIMESTAMP/BIGINT; a kv.ttl or kv.history.ttl that is not a positive duration).
 * table.delete.behavior defaults to
 * ignore for first_row, versioned and aggregation (as Fluss), allow for last_row. For a primary-key
 * table bucket.key defaults to the primary key and table.log.ttl to inf (the changelog
 * is what the state is rebuilt from). Owned: cat_opts_free. */
strom_err cat_opts_parse(const char *const *kv, const strom_schema *s, cat_opts *out);
void cat_opts_free(cat_opts *o);
/* Stored value of key ("" when unset), NULL if key is not an option. Borrowed from o. */
const char *cat_opts_get(const cat_opts *o, const char *key);

/* "256mb", "1 GiB", "4096" -> bytes; "7 d", "168h", "30 min", "1000 ms", "5s" -> ms
 * (a plain number is ms). opt names the option in error messages. EOPTION on bad input. */
strom_err cat_parse_size(const char *opt, const char *v, int64_t *out);
strom_err cat_parse_duration(const char *opt, const char *v, int64_t *out);

/* ---------------------------------------------------------------- metadata */

typedef struct cat_meta {
    uint64_t table_id;
    int64_t created_ms;
    strom_schema **schemas;      /* versions, ids 1..nschemas; last = current */
    int nschemas;
    cat_opts opts;
} cat_meta;

/* Parses a metadata file's bytes; file names it in error messages ("... line N: ...").
 * Never reads outside buf[0..len). Owned: cat_meta_free. */
strom_err cat_meta_parse(const uint8_t *buf, size_t len, const char *file, cat_meta *out);
/* Appends the file form of m to out. */
strom_err cat_meta_format(const cat_meta *m, strom_buf *out);
void cat_meta_free(cat_meta *m);
static inline const strom_schema *cat_meta_schema(const cat_meta *m)
{
    return m->schemas[m->nschemas - 1];
}

/* Same columns (names, types, NOT NULL) in the same order. */
int cat_schema_same_columns(const strom_schema *a, const strom_schema *b);

#endif /* STROM_CATALOG_H */
