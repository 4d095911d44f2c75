/* sqlt.h: helpers of the SQL engine tests: a session over a fresh data directory,
 * statements that must succeed or fail, and results as sorted row strings. */
#ifndef STROM_TEST_SQLT_H
#define STROM_TEST_SQLT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql/engine.h"

/* xorshift64: the tests' deterministic random numbers (seeded per test file). */
static uint64_t sqlt_rng = 88172645463325252ULL;
static inline uint64_t rnd(void)
{
    sqlt_rng ^= sqlt_rng << 13;
    sqlt_rng ^= sqlt_rng >> 7;
    sqlt_rng ^= sqlt_rng << 17;
    return sqlt_rng;
}

typedef struct sqlt {
    char dir[256];
    strom_db *db;
    sql_session *s;
} sqlt;

static inline void sqlt_open(sqlt *t, const char *tag)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/strom_sqlt_%s_XXXXXX", tag);
    assert_non_null(mkdtemp(t->dir));
    assert_int_equal(strom_db_open(t->dir, &t->db), STROM_OK);
    assert_int_equal(sql_session_open(t->db, &t->s), STROM_OK);
}

/* Reopens the session (and the database) over the same directory. */
static inline void sqlt_reopen(sqlt *t)
{
    sql_session_close(t->s);
    strom_db_close(t->db);
    assert_int_equal(strom_db_open(t->dir, &t->db), STROM_OK);
    assert_int_equal(sql_session_open(t->db, &t->s), STROM_OK);
}

static inline void sqlt_close(sqlt *t)
{
    sql_session_close(t->s);
    strom_db_close(t->db);
    assert_int_equal(strom_rmtree(t->dir), 0);
}

/* A result: rows as "v1|v2|..." strings (NULL as "NULL", doubles %.17g). */
typedef struct rows {
    char **r;
    size_t n, cap;
} rows;

static inline void rows_add(rows *x, const char *s)
{
    if (x->n == x->cap) {
        x->cap = x->cap ? 2 * x->cap : 64;
        x->r = realloc(x->r, x->cap * sizeof *x->r);
        assert_non_null(x->r);
    }
    x->r[x->n++] = strdup(s);
}

static inline void rows_addf(rows *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void rows_addf(rows *x, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    rows_add(x, buf);
}

static inline void rows_free(rows *x)
{
    for (size_t i = 0; i < x->n; i++)
        free(x->r[i]);
    free(x->r);
    memset(x, 0, sizeof *x);
}

static int rows_cmp_(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static inline void rows_sort(rows *x)
{
    if (x->n)
        qsort(x->r, x->n, sizeof *x->r, rows_cmp_);
}

/* The row of st as a string. */
static inline void row_text(sqlite3_stmt *st, char *buf, size_t cap)
{
    size_t w = 0;
    for (int i = 0; i < sqlite3_column_count(st) && w < cap; i++) {
        const char *sep = i ? "|" : "";
        switch (sqlite3_column_type(st, i)) {
        case SQLITE_NULL: w += (size_t)snprintf(buf + w, cap - w, "%sNULL", sep); break;
        case SQLITE_INTEGER: w += (size_t)snprintf(buf + w, cap - w, "%s%lld", sep, (long long)sqlite3_column_int64(st, i)); break;
        case SQLITE_FLOAT: w += (size_t)snprintf(buf + w, cap - w, "%s%.17g", sep, sqlite3_column_double(st, i)); break;
        default: w += (size_t)snprintf(buf + w, cap - w, "%s%s", sep, (const char *)sqlite3_column_text(st, i)); break;
        }
    }
}

/* Runs a statement through the session; it must succeed. Rows (in result order) go to out
 * (may be NULL). */
static inline void sqlt_run(sqlt *t, const char *sql, rows *out)
{
    sqlite3_stmt *st = NULL;
    strom_err e = sql_session_run(t->s, sql, strlen(sql), &st);
    if (e != STROM_OK)
        fail_msg("'%s': %s: %s", sql, strom_strerror(e), strom_errmsg());
    int rc;
    char buf[4096];
    while (st && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_text(st, buf, sizeof buf);
        if (out)
            rows_add(out, buf);
    }
    if (st && rc != SQLITE_DONE)
        fail_msg("'%s': step: %s", sql, sqlite3_errmsg(sql_session_db(t->s)));
    sqlite3_finalize(st);
}

/* Runs a statement that must fail (at translation, preparation or a step) with a message
 * holding needle. */
static inline void sqlt_fails(sqlt *t, const char *sql, const char *needle)
{
    sqlite3_stmt *st = NULL;
    strom_err e = sql_session_run(t->s, sql, strlen(sql), &st);
    const char *msg = strom_errmsg();
    int rc = SQLITE_DONE;
    while (e == STROM_OK && st && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    if (e == STROM_OK && rc != SQLITE_DONE)
        msg = sqlite3_errmsg(sql_session_db(t->s));
    if (e == STROM_OK && rc == SQLITE_DONE)
        fail_msg("'%s' succeeded, want an error with '%s'", sql, needle);
    if (!strstr(msg, needle))
        fail_msg("'%s' failed with '%s', want '%s'", sql, msg, needle);
    sqlite3_finalize(st);
}

/* Compares two results as multisets (both are sorted). */
static inline void rows_equal_sorted(rows *got, rows *want, const char *what)
{
    rows_sort(got);
    rows_sort(want);
    for (size_t i = 0; i < got->n && i < want->n; i++)
        if (strcmp(got->r[i], want->r[i]))
            fail_msg("%s: row %zu of %zu: got '%s', want '%s'", what, i, want->n, got->r[i], want->r[i]);
    if (got->n != want->n)
        fail_msg("%s: %zu rows, want %zu", what, got->n, want->n);
}

/* Compares two results in order. */
static inline void rows_equal(const rows *got, const rows *want, const char *what)
{
    for (size_t i = 0; i < got->n && i < want->n; i++)
        if (strcmp(got->r[i], want->r[i]))
            fail_msg("%s: row %zu: got '%s', want '%s'", what, i, got->r[i], want->r[i]);
    if (got->n != want->n)
        fail_msg("%s: %zu rows, want %zu", what, got->n, want->n);
}

#endif /* STROM_TEST_SQLT_H */
