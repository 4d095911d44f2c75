/* schema.c: type names and widths, schemas (strom_schema_*, fmt_schema_*). */
#include "fmt_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <strings.h>

static const char *const type_names[] = {
    [STROM_BOOLEAN] = "BOOLEAN", [STROM_INT] = "INT",       [STROM_BIGINT] = "BIGINT",
    [STROM_FLOAT] = "FLOAT",     [STROM_DOUBLE] = "DOUBLE", [STROM_STRING] = "STRING",
    [STROM_BYTES] = "BYTES",     [STROM_TIMESTAMP] = "TIMESTAMP(3)",
};

static int type_valid(strom_type t) { return t >= STROM_BOOLEAN && t <= STROM_TIMESTAMP; }

const char *strom_type_name(strom_type t) { return type_valid(t) ? type_names[t] : NULL; }

int fmt_type_width(strom_type t)
{
    switch (t) {
    case STROM_INT: case STROM_FLOAT: return 4;
    case STROM_BIGINT: case STROM_DOUBLE: case STROM_TIMESTAMP: return 8;
    default: return 0;
    }
}

int fmt_type_is_var(strom_type t) { return t == STROM_STRING || t == STROM_BYTES; }
int fmt_type_is_float(strom_type t) { return t == STROM_FLOAT || t == STROM_DOUBLE; }
int fmt_type_is_int(strom_type t)
{
    return t == STROM_BOOLEAN || t == STROM_INT || t == STROM_BIGINT || t == STROM_TIMESTAMP;
}

/* "(digits)" exactly, with the digits' value in [lo, hi]. */
static int parse_paren_num(const char *s, long lo, long hi)
{
    if (*s != '(' || !isdigit((unsigned char)s[1]))
        return 0;
    char *end;
    long v = strtol(s + 1, &end, 10);
    return *end == ')' && end[1] == '\0' && v >= lo && v <= hi;
}

/* name matches word, optionally followed by "(n)" with n in [lo, hi]. */
static int match_word(const char *name, const char *word, long lo, long hi)
{
    size_t n = strlen(word);
    if (strncasecmp(name, word, n) != 0)
        return 0;
    return name[n] == '\0' || (hi >= lo && parse_paren_num(name + n, lo, hi));
}

strom_type strom_type_parse(const char *name)
{
    static const struct { const char *word; strom_type t; long lo, hi; } tab[] = {
        {"BOOLEAN", STROM_BOOLEAN, 1, 0}, {"BOOL", STROM_BOOLEAN, 1, 0},
        {"INTEGER", STROM_INT, 1, 0},     {"INT", STROM_INT, 1, 0},
        {"BIGINT", STROM_BIGINT, 1, 0},   {"FLOAT", STROM_FLOAT, 1, 0},
        {"DOUBLE", STROM_DOUBLE, 1, 0},   {"STRING", STROM_STRING, 1, 0},
        {"VARCHAR", STROM_STRING, 1, 2147483647L}, {"BYTES", STROM_BYTES, 1, 0},
        {"TIMESTAMP", STROM_TIMESTAMP, 3, 3},
    };
    if (!name)
        return 0;
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (match_word(name, tab[i].word, tab[i].lo, tab[i].hi))
            return tab[i].t;
    return 0;
}

/* ---------------------------------------------------------------- schemas */

strom_schema *strom_schema_create(void) { return strom_calloc(1, sizeof(strom_schema)); }

void strom_schema_destroy(strom_schema *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->ncols; i++)
        free(s->cols[i].name);
    free(s->cols);
    free(s);
}

static strom_err schema_grow(strom_schema *s)
{
    if (s->ncols < s->cap)
        return STROM_OK;
    int cap = s->cap ? s->cap * 2 : 8;
    fmt_column_def *c = strom_realloc(s->cols, (size_t)cap * sizeof *c);
    if (!c)
        return STROM_ENOMEM;
    s->cols = c;
    s->cap = cap;
    return STROM_OK;
}

strom_err strom_schema_add(strom_schema *s, const char *name, strom_type type, int not_null)
{
    if (!s || !name || !*name)
        return strom_fail(STROM_EINVAL, "schema: empty column name");
    if (!type_valid(type))
        return strom_fail(STROM_EINVAL, "schema: column '%s' has unknown type code %d", name,
                          (int)type);
    if (strom_schema_find(s, name) >= 0)
        return strom_fail(STROM_EINVAL, "schema: duplicate column name '%s'", name);
    if (s->ncols >= FMT_MAX_COLUMNS)
        return strom_fail(STROM_EINVAL, "schema: more than %d columns (adding '%s')",
                          FMT_MAX_COLUMNS, name);
    if (schema_grow(s) != STROM_OK)
        return STROM_ENOMEM;
    char *n = strom_strdup(name);
    if (!n)
        return STROM_ENOMEM;
    s->cols[s->ncols++] = (fmt_column_def){.name = n, .type = type, .not_null = !!not_null};
    return STROM_OK;
}

int strom_schema_ncols(const strom_schema *s) { return s ? s->ncols : 0; }

const char *strom_schema_col_name(const strom_schema *s, int i)
{
    return s && i >= 0 && i < s->ncols ? s->cols[i].name : NULL;
}

strom_type strom_schema_col_type(const strom_schema *s, int i)
{
    return s && i >= 0 && i < s->ncols ? s->cols[i].type : 0;
}

int strom_schema_col_nullable(const strom_schema *s, int i)
{
    return s && i >= 0 && i < s->ncols ? !s->cols[i].not_null : 0;
}

int strom_schema_find(const strom_schema *s, const char *name)
{
    for (int i = 0; s && name && i < s->ncols; i++)
        if (strcmp(s->cols[i].name, name) == 0)
            return i;
    return -1;
}

uint32_t strom_schema_id(const strom_schema *s) { return s ? s->id : 0; }

void fmt_schema_set_id(strom_schema *s, uint32_t id) { s->id = id; }

strom_schema *fmt_schema_clone(const strom_schema *s)
{
    strom_schema *c = strom_schema_create();
    if (!c)
        return NULL;
    for (int i = 0; i < s->ncols; i++)
        if (strom_schema_add(c, s->cols[i].name, s->cols[i].type, s->cols[i].not_null)) {
            strom_schema_destroy(c);
            return NULL;
        }
    c->id = s->id;
    memcpy(c->pk, s->pk, sizeof c->pk);
    c->npk = s->npk;
    return c;
}

strom_err strom_schema_set_primary_key(strom_schema *s, const char *const *names, int n)
{
    if (!s || n < 0 || n > FMT_MAX_PK || (n > 0 && !names))
        return strom_fail(STROM_EINVAL, "schema: a primary key has 1 to %d columns (got %d)",
                          FMT_MAX_PK, n);
    int pk[FMT_MAX_PK];
    for (int i = 0; i < n; i++) {
        pk[i] = names[i] ? strom_schema_find(s, names[i]) : -1;
        if (pk[i] < 0)
            return strom_fail(STROM_EINVAL, "schema: primary key: no column '%s'",
                              names[i] ? names[i] : "(null)");
        for (int j = 0; j < i; j++)
            if (pk[j] == pk[i])
                return strom_fail(STROM_EINVAL, "schema: primary key: column '%s' named twice",
                                  names[i]);
    }
    for (int i = 0; i < n; i++)
        s->cols[pk[i]].not_null = 1;
    memcpy(s->pk, pk, sizeof(int) * (size_t)n);
    s->npk = n;
    return STROM_OK;
}

int strom_schema_primary_key(const strom_schema *s, int *cols, int max)
{
    for (int i = 0; cols && i < s->npk && i < max; i++)
        cols[i] = s->pk[i];
    return s->npk;
}
