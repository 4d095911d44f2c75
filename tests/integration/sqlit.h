/*
 * sqlit.h: helpers of the black-box SQL tests against the real server (header-only): run
 * a statement through the client library and get its rows as text.
 */
#ifndef STROM_SQLIT_H
#define STROM_SQLIT_H

#include "srvtest.h"
#include "strom/client.h"

/* A client of the server on port (20 s request timeout). */
static inline strom_client *sqlit_client(int port)
{
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    strom_client *c;
    strom_client_opts o = {.request_timeout_ms = 20000};
    IT_OK(strom_client_connect(addr, &o, &c));
    return c;
}

/* Appends the rows of b as text ("a|b\n" per row; strings as they are, other values as
 * integers) to out (cap bytes, *w used). */
static inline void sqlit_batch_text(const strom_batch *b, char *out, size_t cap, size_t *w)
{
    for (int64_t i = 0; b && out && i < strom_batch_nrows(b); i++)
        for (int k = 0; k < strom_batch_ncols(b) && *w + 64 < cap; k++) {
            strom_column col;
            strom_batch_column(b, k, &col);
            size_t n = 0;
            const char *s = col.type == STROM_STRING ? strom_batch_get_str(b, k, i, &n) : NULL;
            *w += s ? (size_t)snprintf(out + *w, cap - *w, "%.*s", (int)n, s)
                    : (size_t)snprintf(out + *w, cap - *w, "%lld", (long long)strom_batch_get_int(b, k, i));
            out[(*w)++] = k + 1 < strom_batch_ncols(b) ? '|' : '\n';
            out[*w] = '\0';
        }
}

/* Runs q (settings: NULL-terminated key, value list, may be NULL); the text of its rows
 * into out (may be NULL). */
static inline strom_err sqlit_run(strom_client *c, const char *q, const char *const *settings, char *out, size_t cap)
{
    strom_sql_cursor *r = NULL;
    strom_err e = strom_client_sql_execute(c, q, strlen(q), settings, &r);
    size_t w = 0;
    if (out && cap)
        out[0] = '\0';
    while (e == STROM_OK && !strom_client_sql_done(r)) {
        const strom_batch *b = NULL;
        e = strom_client_sql_next(r, 1000, &b);
        sqlit_batch_text(b, out, cap, &w);
    }
    strom_client_sql_close(r);
    return e;
}

#endif /* STROM_SQLIT_H */
