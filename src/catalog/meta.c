/* meta.c: the table metadata file (layout in catalog.h): formatting and a strict parser
 * that names file and line for every violation. */
#include "catalog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_FIELDS 5

/* ------------------------------------------------------------------ escaping */

static int needs_escape(unsigned char c) { return c <= 0x20 || c == 0x7f || c == '%'; }

static strom_err put_escaped(strom_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
        strom_err e = needs_escape(*p) ? strom_buf_append(out, esc, 3)
                                       : strom_buf_append(out, p, 1);
        if (e != STROM_OK)
            return e;
    }
    return STROM_OK;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Unescapes field f[0..n) into a new string; NULL on a bad escape, raw control byte or NUL. */
static char *unescape(const uint8_t *f, size_t n)
{
    char *s = malloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; s && i < n; i++) {
        int c = f[i];
        if (c == '%') {
            int hi = i + 2 < n + 1 ? hexval(f[i + 1]) : -1;
            int lo = hi >= 0 && i + 2 < n ? hexval(f[i + 2]) : -1;
            c = lo < 0 ? -1 : hi * 16 + lo;
            i += 2;
        } else if (c < 0x20 || c == 0x7f) {
            c = -1;  /* raw control bytes are always escaped */
        }
        if (c <= 0) {
            free(s);
            return NULL;
        }
        s[o++] = (char)c;
    }
    if (s)
        s[o] = '\0';
    return s;
}

/* ------------------------------------------------------------------ format */

static strom_err put_line(strom_buf *out, const char *fmt, ...) STROM_PRINTF(2, 3);
static strom_err put_line(strom_buf *out, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line)
        return strom_fail(STROM_EINVAL, "metadata line too long");
    return strom_buf_append(out, line, (size_t)n);
}

static strom_err format_schema(const strom_schema *s, strom_buf *out)
{
    strom_err e = put_line(out, "schema %" PRIu32 " %d\n", s->id, s->ncols);
    for (int i = 0; e == STROM_OK && i < s->ncols; i++) {
        e = put_line(out, "column ");
        if (e == STROM_OK)
            e = put_escaped(out, s->cols[i].name);
        if (e == STROM_OK)
            e = put_line(out, " %s %s\n", strom_type_name(s->cols[i].type),
                         s->cols[i].not_null ? "NOT_NULL" : "NULL");
    }
    return e;
}

strom_err cat_meta_format(const cat_meta *m, strom_buf *out)
{
    size_t start = out->len;
    strom_err e = put_line(out, "strom-table-meta %d\ntable_id %" PRIu64 "\ncreated_ms %" PRId64
                           "\n", CAT_META_VERSION, m->table_id, m->created_ms);
    int pk_table = cat_meta_schema(m)->npk > 0;
    for (int i = 0; e == STROM_OK && i < cat_opt_count(); i++) {
        if (cat_opt_pk_only(i) && !pk_table)
            continue;
        e = put_line(out, "option %s ", cat_opt_name(i));
        if (e == STROM_OK)
            e = put_escaped(out, m->opts.vals[i] ? m->opts.vals[i] : "");
        if (e == STROM_OK)
            e = strom_buf_append(out, "\n", 1);
    }
    const strom_schema *cs = cat_meta_schema(m);
    for (int i = 0; e == STROM_OK && pk_table && i < cs->ncols; i++) {
        const char *fn = cat_agg_name(m->opts.agg[i]);
        if (!fn)
            continue;
        size_t kl = strlen(cs->cols[i].name) + 12;
        char *key = strom_malloc(kl);
        if (!key)
            return STROM_ENOMEM;
        snprintf(key, kl, "fields.%s.agg", cs->cols[i].name);
        e = put_line(out, "option ");
        if (e == STROM_OK)
            e = put_escaped(out, key);
        if (e == STROM_OK)
            e = put_line(out, " %s\n", fn);
        free(key);
    }
    for (int i = 0; e == STROM_OK && i < m->nschemas; i++)
        e = format_schema(m->schemas[i], out);
    const strom_schema *cur = cat_meta_schema(m);
    for (int i = 0; e == STROM_OK && i < cur->npk; i++) {
        e = put_line(out, "primary_key ");
        if (e == STROM_OK)
            e = put_escaped(out, cur->cols[cur->pk[i]].name);
        if (e == STROM_OK)
            e = strom_buf_append(out, "\n", 1);
    }
    if (e == STROM_OK)
        e = put_line(out, "crc32c %08" PRIX32 "\n",
                     strom_crc32c(0, out->data + start, out->len - start));
    return e;
}

/* ------------------------------------------------------------------- parse */

typedef struct field { const uint8_t *p; size_t n; } field;

typedef struct parser {
    const uint8_t *buf;
    size_t len, pos, line_start;
    int line;
    const char *file;
    field f[MAX_FIELDS];
    int nf;
    char **kv;                  /* option key, value pairs, NULL-terminated */
    size_t nkv;
    int have_id, have_created, cols_left, done;
    cat_meta *m;
} parser;

static strom_err perr(parser *ps, const char *fmt, ...) STROM_PRINTF(2, 3);
static strom_err perr(parser *ps, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return strom_fail(STROM_ECORRUPT, "table metadata %s line %d: %s", ps->file,
                      ps->line ? ps->line : 1, msg);
}

/* Splits the next line into fields; 0 at the end of input, -1 on a line without "\n". */
static int next_line(parser *ps)
{
    if (ps->pos >= ps->len)
        return 0;
    const uint8_t *p = ps->buf + ps->pos, *nl = memchr(p, '\n', ps->len - ps->pos);
    ps->line++;
    ps->line_start = ps->pos;
    if (!nl)
        return -1;
    ps->nf = 0;
    const uint8_t *s = p;
    for (const uint8_t *q = p; q <= nl; q++) {
        if (*q != ' ' && q != nl)
            continue;
        if (ps->nf == MAX_FIELDS)
            return -2;
        ps->f[ps->nf++] = (field){s, (size_t)(q - s)};
        s = q + 1;
    }
    ps->pos = (size_t)(nl - ps->buf) + 1;
    return 1;
}

static int field_is(const field *f, const char *s)
{
    return f->n == strlen(s) && !memcmp(f->p, s, f->n);
}

/* Decimal integer field (optional '-'); 0 on success. */
static int field_i64(const field *f, int64_t *out)
{
    size_t i = 0;
    int neg = f->n > 0 && f->p[0] == '-';
    i = (size_t)neg;
    if (i >= f->n || f->n - i > 18)
        return -1;
    int64_t v = 0;
    for (; i < f->n; i++) {
        if (f->p[i] < '0' || f->p[i] > '9')
            return -1;
        v = v * 10 + (f->p[i] - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

static strom_err add_option(parser *ps)
{
    if (ps->nf != 3)
        return perr(ps, "option line needs a key and a value");
    char **kv = realloc(ps->kv, (ps->nkv + 3) * sizeof *kv);
    if (!kv)
        return strom_fail(STROM_ENOMEM, "out of memory");
    ps->kv = kv;
    kv[ps->nkv] = unescape(ps->f[1].p, ps->f[1].n);
    kv[ps->nkv + 1] = unescape(ps->f[2].p, ps->f[2].n);
    kv[ps->nkv + 2] = NULL;
    ps->nkv += 2;
    if (!kv[ps->nkv - 2] || !kv[ps->nkv - 1] || !kv[ps->nkv - 2][0])
        return perr(ps, "bad escape or control character in option");
    return STROM_OK;
}

static strom_err add_schema(parser *ps)
{
    int64_t id, ncols;
    cat_meta *m = ps->m;
    if (ps->nf != 3 || field_i64(&ps->f[1], &id) || field_i64(&ps->f[2], &ncols))
        return perr(ps, "schema line needs an id and a column count");
    if (ps->cols_left)
        return perr(ps, "schema %d has %d columns fewer than declared", m->nschemas, ps->cols_left);
    if (id != m->nschemas + 1 || id > CAT_MAX_SCHEMAS)
        return perr(ps, "schema id %lld where %d was expected", (long long)id, m->nschemas + 1);
    int prev = m->nschemas ? m->schemas[m->nschemas - 1]->ncols : 0;
    if (ncols < 1 || ncols > FMT_MAX_COLUMNS || ncols < prev)
        return perr(ps, "schema %lld: bad column count %lld", (long long)id, (long long)ncols);
    strom_schema **ss = realloc(m->schemas, (size_t)(m->nschemas + 1) * sizeof *ss);
    if (!ss)
        return strom_fail(STROM_ENOMEM, "out of memory");
    m->schemas = ss;
    if (!(ss[m->nschemas] = strom_schema_create()))
        return strom_fail(STROM_ENOMEM, "out of memory");
    fmt_schema_set_id(ss[m->nschemas++], (uint32_t)id);
    ps->cols_left = (int)ncols;
    return STROM_OK;
}

/* The column must repeat the previous version's column at the same index, if any. */
static strom_err check_evolution(parser *ps, const strom_schema *cur)
{
    cat_meta *m = ps->m;
    int i = cur->ncols - 1;
    if (m->nschemas < 2)
        return STROM_OK;
    const strom_schema *prev = m->schemas[m->nschemas - 2];
    const fmt_column_def *c = &cur->cols[i];
    if (i < prev->ncols && (strcmp(c->name, prev->cols[i].name) || c->type != prev->cols[i].type
                            || c->not_null != prev->cols[i].not_null))
        return perr(ps, "schema %d changes column %d of schema %d", m->nschemas, i,
                    m->nschemas - 1);
    if (i >= prev->ncols && c->not_null)
        return perr(ps, "schema %d adds NOT NULL column '%s'", m->nschemas, c->name);
    return STROM_OK;
}

static strom_err add_column(parser *ps)
{
    cat_meta *m = ps->m;
    if (ps->nf != 4)
        return perr(ps, "column line needs a name, a type and NULL or NOT_NULL");
    if (!ps->cols_left)
        return perr(ps, "column line outside a schema or beyond its column count");
    char type[32] = "";
    if (ps->f[2].n < sizeof type)
        memcpy(type, ps->f[2].p, ps->f[2].n);
    strom_type t = strom_type_parse(type);
    int nn = field_is(&ps->f[3], "NOT_NULL");
    if (!t || strcmp(type, strom_type_name(t)))
        return perr(ps, "unknown column type '%.*s'", (int)STROM_MIN(ps->f[2].n, 32),
                    (const char *)ps->f[2].p);
    if (!nn && !field_is(&ps->f[3], "NULL"))
        return perr(ps, "expected NULL or NOT_NULL");
    char *name = unescape(ps->f[1].p, ps->f[1].n);
    strom_schema *s = m->schemas[m->nschemas - 1];
    strom_err e = name && name[0] && strlen(name) <= CAT_NAME_MAX * 2
                      ? strom_schema_add(s, name, t, nn) : STROM_EINVAL;
    free(name);
    if (e != STROM_OK)
        return perr(ps, "bad column name (%s)", strom_errmsg());
    ps->cols_left--;
    return check_evolution(ps, s);
}

/* "primary_key <name>": one line per key column, in key order, after the schemas. */
static strom_err add_pk(parser *ps)
{
    cat_meta *m = ps->m;
    if (ps->nf != 2 || !m->nschemas)
        return perr(ps, "primary_key line needs a column name and comes after the schemas");
    char *name = unescape(ps->f[1].p, ps->f[1].n);
    strom_schema *cur = m->schemas[m->nschemas - 1];
    int c = name ? strom_schema_find(cur, name) : -1, dup = 0;
    for (int i = 0; i < cur->npk; i++)
        dup |= cur->pk[i] == c;
    strom_err e = STROM_OK;
    if (c < 0 || dup || cur->npk == FMT_MAX_PK || !cur->cols[c].not_null)
        e = perr(ps, "primary_key '%s': no such NOT NULL column, named twice, or more than %d",
                 name ? name : "", FMT_MAX_PK);
    free(name);
    for (int i = 0; e == STROM_OK && i < m->nschemas; i++) {
        strom_schema *s = m->schemas[i];
        if (c >= s->ncols)
            return perr(ps, "primary_key column %d is missing from schema %d", c, i + 1);
        s->pk[s->npk++] = c;
    }
    return e;
}

static strom_err check_crc(parser *ps)
{
    uint32_t want = 0;
    if (ps->nf != 2 || ps->f[1].n != 8)
        return perr(ps, "crc32c line needs 8 hex digits");
    for (size_t i = 0; i < 8; i++) {
        int h = hexval(ps->f[1].p[i]);
        if (h < 0)
            return perr(ps, "crc32c line needs 8 upper-case hex digits");
        want = want << 4 | (uint32_t)h;
    }
    uint32_t got = strom_crc32c(0, ps->buf, ps->line_start);
    if (got != want)
        return perr(ps, "CRC mismatch: file says %08X, contents give %08X", want, got);
    if (ps->pos != ps->len)
        return perr(ps, "data after the crc32c line");
    ps->done = 1;
    return STROM_OK;
}

static strom_err header_field(parser *ps, int *have, int64_t *out, const char *what)
{
    if (*have || ps->nf != 2 || field_i64(&ps->f[1], out) || *out < 0)
        return perr(ps, "bad or repeated %s line", what);
    *have = 1;
    return STROM_OK;
}

static strom_err parse_record(parser *ps)
{
    const field *k = &ps->f[0];
    if (ps->cols_left && !field_is(k, "column"))
        return perr(ps, "schema %d has %d columns fewer than declared", ps->m->nschemas,
                    ps->cols_left);
    if (field_is(k, "option"))
        return add_option(ps);
    if (field_is(k, "schema"))
        return add_schema(ps);
    if (field_is(k, "column"))
        return add_column(ps);
    if (field_is(k, "crc32c"))
        return check_crc(ps);
    if (field_is(k, "primary_key"))
        return add_pk(ps);
    int64_t v = 0;
    if (field_is(k, "table_id")) {
        strom_err e = header_field(ps, &ps->have_id, &v, "table_id");
        ps->m->table_id = (uint64_t)v;
        return e;
    }
    if (field_is(k, "created_ms"))
        return header_field(ps, &ps->have_created, &ps->m->created_ms, "created_ms");
    return perr(ps, "unknown record '%.*s'", (int)STROM_MIN(k->n, 40), (const char *)k->p);
}

static strom_err parse_lines(parser *ps)
{
    int r = next_line(ps);
    if (r <= 0 || ps->nf != 2 || !field_is(&ps->f[0], "strom-table-meta"))
        return perr(ps, "not a strom table metadata file (no 'strom-table-meta' first line)");
    if (!field_is(&ps->f[1], "1"))
        return perr(ps, "unsupported metadata format version '%.*s'",
                    (int)STROM_MIN(ps->f[1].n, 20), (const char *)ps->f[1].p);
    while (!ps->done && (r = next_line(ps)) != 0) {
        if (r < 0)
            return perr(ps, r == -1 ? "truncated line (no newline)" : "too many fields");
        strom_err e = parse_record(ps);
        if (e != STROM_OK)
            return e;
    }
    if (!ps->done)
        return perr(ps, "truncated: no crc32c line");
    if (!ps->have_id || !ps->have_created || !ps->m->nschemas)
        return perr(ps, "missing table_id, created_ms or schema");
    return STROM_OK;
}

strom_err cat_meta_parse(const uint8_t *buf, size_t len, const char *file, cat_meta *out)
{
    memset(out, 0, sizeof *out);
    parser ps = {.buf = buf, .len = len, .file = file, .m = out};
    strom_err e = parse_lines(&ps);
    if (e == STROM_OK) {
        e = cat_opts_parse((const char *const *)ps.kv, cat_meta_schema(out), &out->opts);
        if (e != STROM_OK)
            e = strom_fail_wrap(STROM_ECORRUPT, "table metadata %s", file);
    }
    for (size_t i = 0; i < ps.nkv; i++)
        free(ps.kv[i]);
    free(ps.kv);
    if (e != STROM_OK)
        cat_meta_free(out);
    return e;
}

void cat_meta_free(cat_meta *m)
{
    for (int i = 0; i < m->nschemas; i++)
        strom_schema_destroy(m->schemas[i]);
    free(m->schemas);
    cat_opts_free(&m->opts);
    memset(m, 0, sizeof *m);
}

int cat_schema_same_columns(const strom_schema *a, const strom_schema *b)
{
    if (a->ncols != b->ncols)
        return 0;
    for (int i = 0; i < a->ncols; i++)
        if (strcmp(a->cols[i].name, b->cols[i].name) || a->cols[i].type != b->cols[i].type
            || a->cols[i].not_null != b->cols[i].not_null)
            return 0;
    return 1;
}
