/*
 * cli_client.h: what the client commands of `strom` share (produce, tail, lookup, stats,
 * and tables/describe with --server): connecting, values from text, rows as text.
 * Implemented in cli_client.c (text parsing) and cli_rows.c (printing).
 *
 * Text forms of values (input and output agree, so what tail prints, produce reads):
 *   BOOLEAN    true / false (also 1 / 0 on input)
 *   INT/BIGINT decimal
 *   FLOAT/DOUBLE  shortest decimal that reads back to the same value; nan, inf, -inf
 *   TIMESTAMP  "2025-01-13 14:30:00.000" (zone-less, as TIMESTAMP(3)); on input also
 *              "2025-01-13T14:30:00", "2025-01-13 14:30", "2025-01-13", fractions of 1-3
 *              digits after the seconds, or a whole number of ms since 1970 (so printed
 *              times outside the years 0000..9999). A date must exist (no 2025-02-30).
 *   STRING/BYTES  the bytes
 *   NULL       CSV: an empty unquoted field (an empty string is written ""); JSON: null
 */
#ifndef STROM_CLI_CLIENT_H
#define STROM_CLI_CLIENT_H

#include <stdio.h>

#include "cli.h"
#include "strom/client.h"

#define CLI_SERVER_HELP "server address (default " STROM_DEFAULT_SERVER ")"

int cmd_produce(int argc, char **argv);
int cmd_tail(int argc, char **argv);
int cmd_lookup(int argc, char **argv);
int cmd_stats(int argc, char **argv);
/* tables / describe against a server (cmd_tables.c calls these with --server). */
int cli_remote_tables(const char *server);
int cli_remote_describe(const char *server, const char *table);

/* Connects; on failure prints "strom: cannot connect to S: ..." and returns CLI_ERR. */
int cli_connect(const char *server, strom_client **out);

/* Parses text s[0..len) as a value of type t into *out (strings borrow s). 0 on success;
 * else -1 with a reason in err ("'abc' is not a DOUBLE"). */
int cli_parse_value(strom_type t, const char *s, size_t len, strom_value *out, char *err,
                    size_t errn);
/* Timestamp text (see above) to ms. 0 or -1. */
int cli_parse_time(const char *s, size_t len, int64_t *ms);

/* Splits one CSV record starting at line (RFC 4180: quotes, "" inside quotes). Fields go
 * to f[i] / flen[i] (pointers into buf, which receives unquoted copies; buf has room for
 * len bytes), quoted[i] says whether the field was quoted, fstart[i] is its byte offset
 * in line. Returns the field count, or -1 with *errcol (1-based byte
 * column) and err for a malformed record; -2 if a quoted field runs past the end of the
 * text (the caller appends the next line and tries again). */
int cli_csv_split(const char *line, size_t len, char *buf, const char **f, size_t *flen,
                  int *quoted, size_t *fstart, int max, int *errcol, char *err, size_t errn);

/* One JSON Lines record: an object of column: value. */
typedef enum cli_jkind { CLI_J_NULL, CLI_J_BOOL, CLI_J_NUM, CLI_J_STR } cli_jkind;
typedef struct cli_jfield {
    const char *key, *val;   /* into buf (strings unescaped) or line (other values) */
    size_t klen, vlen;
    cli_jkind kind;
    size_t col;              /* byte offset of the value in line */
    size_t kcol;             /* byte offset of the key in line */
} cli_jfield;
/* Parses an object of scalar values; buf has room for len bytes. Field count, or -1 with
 * *errcol (1-based) and err. */
int cli_json_object(const char *line, size_t len, char *buf, cli_jfield *out, int max,
                    int *errcol, char *err, size_t errn);

/* Output */
typedef enum cli_fmt { CLI_FMT_CSV = 0, CLI_FMT_JSONL = 1 } cli_fmt;
int cli_parse_format(const char *s, cli_fmt *out);   /* 0 or -1 */
void cli_print_header(FILE *f, const strom_batch *b, cli_fmt fmt);
/* Names when no batch is at hand (a CSV header before any row). */
void cli_print_names(FILE *f, const char *const *names, int n, cli_fmt fmt);
void cli_print_rows(FILE *f, const strom_batch *b, cli_fmt fmt);

/* --where 'col op value' (op: = == != <> < <= > >=) against a schema. Strings of the
 * value borrow text. 0 or -1 with a message in err. */
int cli_parse_where(const strom_schema *s, const char *text, strom_pred *out, char *err,
                    size_t errn);
/* Comma-separated names into out[] (pointers into the copy held in buf). Count or -1. */
int cli_split_names(const char *list, char *buf, size_t bufn, const char **out, int max);

#endif /* STROM_CLI_CLIENT_H */
