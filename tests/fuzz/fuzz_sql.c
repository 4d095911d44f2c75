/* libFuzzer target for the SQL front end (src/sql): any input is either refused with
 * EINVAL and a message naming line and column, or translated; a translated query's SQLite
 * text is itself lexable (also with windows rewritten for streaming), and splitting never
 * loses a statement boundary. */
#include <stdlib.h>
#include <string.h>

#include "sql/sql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *sql = (const char *)data;
    for (int streaming = 0; streaming < 2; streaming++) {   /* windows read the source / open rows */
        sql_ctx ctx = {.now_ms = 1736782200000, .tz_ms = 0, .window_rows = streaming ? "__win_rows" : NULL};
        sql_stmt s;
        strom_err e = sql_translate(sql, size, &ctx, &s);
        if (e == STROM_EINVAL && !strstr(strom_errmsg(), "line "))
            abort();   /* every refusal says where */
        if (e == STROM_OK) {
            if (s.sqlite) {
                sql_tok *t = NULL;
                size_t n = 0;
                if (sql_lex(s.sqlite, strlen(s.sqlite), &t, &n) != STROM_OK && memchr(sql, 0, size) == NULL)
                    abort();
                free(t);
            }
            sql_stmt_free(&s);
        }
    }
    size_t *st = NULL, *ln = NULL, n = 0;
    if (sql_split(sql, size, &st, &ln, &n) == STROM_OK)
        for (size_t i = 0; i < n; i++)
            if (st[i] + ln[i] > size || ln[i] == 0)
                abort();
    free(st);
    free(ln);
    char buf[256];
    sql_error_caret(sql, size, size / 2, buf, sizeof buf);
    return 0;
}
