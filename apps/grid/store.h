/*
 * store.h: the grid application's tables in a strom server (apps/grid, prefix grid_store_).
 * Every table the seed's SQL names (../shared/seeds), with the seed's column names, plus
 * the topology tables, decisions and faults; docs/grid.md documents each (columns, keys,
 * options, writer). Only the public client API (include/strom/client.h) is used.
 *
 * Ownership: nothing here keeps a reference to the client or the built grid after a call
 * returns; the table definitions (grid_store_tables) are static.
 */
#ifndef STROM_GRID_STORE_H
#define STROM_GRID_STORE_H

#include <stdint.h>

#include "grid.h"
#include "strom/client.h"

typedef struct grid_col { const char *name; strom_type type; int not_null; } grid_col;

typedef struct grid_table_def {
    const char *name;
    const grid_col *cols;
    int ncols;
    const char *const *pk;      /* primary key (NULL: a log table) */
    int npk;
    const char *const *options; /* NULL-terminated key, value pairs */
    const char *writer;         /* who writes it (docs) */
} grid_table_def;

/* The tables, in creation order; *n gets their number. Static. */
const grid_table_def *grid_store_tables(int *n);
const grid_table_def *grid_store_table(const char *name);   /* NULL if not ours */
/* The table's schema (with its primary key). Owned: strom_schema_destroy; NULL on ENOMEM. */
strom_schema *grid_store_schema(const grid_table_def *t);
/* Creates every table that does not exist yet (IF NOT EXISTS). 0 or -1 (d->error). */
int grid_store_create(strom_client *c, grid_diag *d);

/* Rows written by grid_store_load, per table. */
typedef struct grid_load_counts {
    int64_t devices, nodes, edges, status;
} grid_load_counts;

/* Loads the built grid: device_dimension, device_dimension_table, grid_nodes, grid_edges
 * (one row per device, bus and edge) and one device_status_stream row per device, all
 * stamped now_ms. Batched producers (strom_producer_send_batch). 0 or -1. */
int grid_store_load(strom_client *c, const grid_built *b, int64_t now_ms, grid_load_counts *out,
                    grid_diag *d);

/* The feeder of a built id: "F3" for "F3/Line.L60", "" for a tie ("Tie.F1-F2"). */
void grid_store_feeder_of(const char *id, char *out, size_t cap);

/* Text of an edge / device state: "closed", "open". Static. */
const char *grid_state_name(int closed);

/* Appends grid_edges' row of edge i of t (updated = now) to w (grid_edges' columns).
 * STROM_OK or the builder's error. */
int grid_store_put_edge(strom_builder *w, const grid_topo *t, int32_t i, int64_t now);

/* `strom grid load`: builds the grid from the topology file (quiet: warnings counted),
 * connects to server, creates the tables and loads them. Exit code 0, 1 or 2. */
int grid_run_load(const char *server, const grid_topo *tmpl, int64_t devices, int link);

#endif /* STROM_GRID_STORE_H */
