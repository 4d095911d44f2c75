/*
 * vtab_group.h: rows delivered grouped (or ordered) by key for the virtual table's plan
 * PLAN_GROUP (vtab.c), so that SQLite needs no sorter for GROUP BY, DISTINCT or ORDER BY
 * over a log scan (xBestIndex: sqlite3_vtab_distinct, orderByConsumed).
 *
 * A grouper takes the decoded column vectors of a scan's batches (the cursor's projected
 * columns, views borrowed only during sqlg_add), gives each row the id of its key's group
 * through an open-addressing hash table over canonical key bytes, keeps the other projected
 * columns in typed vectors (int64, double, or offsets + bytes; a validity byte per row),
 * sorts the groups by key as SQLite orders them (NULL first, numbers by value, text and
 * blobs bytewise as BINARY, each key DESC when asked), counting-sorts the rows by group and
 * gathers every vector into that order once, so that the rows go out sequentially, group by
 * group, in key order. The groups are always sorted, even where SQLite asks only for rows
 * grouped (sqlite3_vtab_distinct 1): SQLite 3.40 also asks so for GROUP BY k ORDER BY k,
 * where it then trusts the groups to come in order. No allocation per row: vectors grow
 * by doubling and are kept from pass to pass.
 *
 * Memory budget (sqlg_budget, default SQLG_DEFAULT_BUDGET): a pass that outgrows it is
 * dropped and the scan done again up to the middle one of the groups it had (in key
 * order), again and again until the pass fits; the next pass starts after the last key
 * of the previous one. Each pass holds a key range whole, so the output stays in order,
 * and memory stays near the budget (one group larger than the budget is kept whole all
 * the same). Every pass reads the scan again: a read far above the budget costs several
 * scans (the plan is only chosen when the estimate is at most 8 budgets).
 *
 * Canonical key bytes (per key column, in key order; hashed and compared):
 *   offset  size  field
 *   0       1     tag: 0 NULL (nothing follows), 1 a value
 *   1       8     integer classes (BOOLEAN, INT, BIGINT, TIMESTAMP): int64, host order
 *   1       8     FLOAT/DOUBLE: the double, -0.0 stored as +0.0 (NaN is SQLite's NULL: tag 0)
 *   1       4+n   STRING/BYTES: uint32 length n, host order, then the n bytes
 */
#ifndef STROM_SQL_VTAB_GROUP_H
#define STROM_SQL_VTAB_GROUP_H

#include <sqlite3.h>
#include <stdint.h>

#include "strom/strom.h"

#define SQLG_MAX_KEYS 8
#define SQLG_DEFAULT_BUDGET ((int64_t)256 << 20)

typedef struct sqlg sqlg;

/* The process-wide memory budget of one grouped read: bytes > 0 sets it, 0 only reads it,
 * < 0 restores the default. Returns the budget in force. For tests and tuning. */
int64_t sqlg_budget(int64_t bytes);

/* Bytes per row the grouper keeps for a row of these projected columns (plan-time
 * estimate; strings counted at 16 bytes). */
int64_t sqlg_row_bytes(const strom_type *types, int ncols, const int *keys, int nkeys);

/* A grouper for rows of ncols projected columns of types types[]; keys[0..nkeys) are
 * indexes into them (the GROUP BY / ORDER BY columns), desc[k] their direction. Owned:
 * sqlg_destroy. NULL: ENOMEM, or nkeys outside 1..SQLG_MAX_KEYS. */
sqlg *sqlg_create(const strom_type *types, int ncols, const int *keys, const int *desc, int nkeys);
void sqlg_destroy(sqlg *g);

/* Makes g ready for a new read of the same columns and keys (the first pass over every
 * key again); keeps the memory. */
void sqlg_restart(sqlg *g);
/* Starts a pass (drops the rows kept; keeps the memory). */
void sqlg_pass_begin(sqlg *g);
/* Adds the rows of one batch: views[i] of projected column i (borrowed for the call).
 * *over = 1 when the pass outgrew the budget and was cut: the caller scans again from
 * the start for the smaller pass (sqlg_pass_begin then sqlg_add again). */
strom_err sqlg_add(sqlg *g, const strom_column *views, int64_t nrows, int *over);
/* Ends a pass: the rows are ordered by group; the cursor is before the first. */
strom_err sqlg_finish(sqlg *g);
/* Moves to the next row of the pass: 1, or 0 at the pass's end. */
int sqlg_next(sqlg *g);
/* After a pass's end: 1 when another pass must follow (its range is set), 0 when done. */
int sqlg_more(sqlg *g);
/* Projected column i of the current row as SQLite's result. */
void sqlg_result(const sqlg *g, sqlite3_context *ctx, int i);
/* Passes of every grouper of the process so far (statistics, tests). */
int64_t sqlg_passes_total(void);

#endif /* STROM_SQL_VTAB_GROUP_H */
