/* event.c: one JSON Lines event of the simulator or the dispatcher (proc.h): a flat object
 * of strings, numbers, true/false/null and arrays of strings. Escapes \" \\ \/ \b \f \n \r
 * \t are decoded; \uXXXX is kept for ASCII and replaced by '?' otherwise (ids and messages
 * of these events are ASCII). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"

typedef struct evp {
    const char *s;
    size_t len, i;
    char *err;
    size_t errlen;
} evp;

static int fail(evp *p, const char *what)
{
    snprintf(p->err, p->errlen, "%s at byte %zu", what, p->i + 1);
    return -1;
}

static void ws(evp *p)
{
    while (p->i < p->len && isspace((unsigned char)p->s[p->i]))
        p->i++;
}

static int eat(evp *p, char c)
{
    ws(p);
    if (p->i < p->len && p->s[p->i] == c) {
        p->i++;
        return 1;
    }
    return 0;
}

static int unicode(evp *p, char *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++, p->i++) {
        if (p->i >= p->len || !isxdigit((unsigned char)p->s[p->i]))
            return fail(p, "bad \\u escape");
        char c = p->s[p->i];
        v = v * 16 + (unsigned)(isdigit((unsigned char)c) ? c - '0' : tolower(c) - 'a' + 10);
    }
    *out = v >= 0x20 && v < 0x7f ? (char)v : '?';
    return 0;
}

static int escape(evp *p, char *out)
{
    if (p->i >= p->len)
        return fail(p, "unterminated string");
    char c = p->s[p->i++];
    const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
    const char *k = strchr(from, c);
    if (c == 'u')
        return unicode(p, out);
    if (!k || !c)
        return fail(p, "bad escape");
    *out = to[k - from];
    return 0;
}

/* A string into out (cap bytes with the NUL); *n its length. */
static int string(evp *p, char *out, size_t cap, size_t *n)
{
    if (!eat(p, '"'))
        return fail(p, "expected a string");
    *n = 0;
    for (;;) {
        if (p->i >= p->len)
            return fail(p, "unterminated string");
        char c = p->s[p->i++];
        if (c == '"')
            break;
        if ((unsigned char)c < 0x20)
            return fail(p, "control character in a string");
        if (c == '\\' && escape(p, &c))
            return -1;
        if (*n + 1 >= cap)
            return fail(p, "string too long");
        out[(*n)++] = c;
    }
    out[*n] = 0;
    return 0;
}

static int array(evp *p, grid_ev_member *m)
{
    size_t used = 0;
    m->type = GRID_EV_ARRV;
    if (eat(p, ']'))
        return 0;
    do {
        size_t n;
        if (used >= sizeof m->arr)
            return fail(p, "array too long");
        if (string(p, m->arr + used, sizeof m->arr - used, &n))
            return -1;
        used += n + 1;
        m->narr++;
    } while (eat(p, ','));
    return eat(p, ']') ? 0 : fail(p, "expected ',' or ']' in an array");
}

static int word(evp *p, const char *w)
{
    size_t n = strlen(w);
    if (p->len - p->i >= n && !memcmp(p->s + p->i, w, n)) {
        p->i += n;
        return 1;
    }
    return 0;
}

static int number(evp *p, grid_ev_member *m)
{
    char tmp[64];
    size_t n = 0;
    while (p->i < p->len && n < sizeof tmp - 1 && strchr("+-.0123456789eE", p->s[p->i]))
        tmp[n++] = p->s[p->i++];
    tmp[n] = 0;
    char *end;
    m->num = strtod(tmp, &end);
    if (!n || *end)
        return fail(p, "bad value");
    m->type = GRID_EV_NUM;
    return 0;
}

static int value(evp *p, grid_ev_member *m)
{
    size_t n;
    ws(p);
    if (p->i < p->len && p->s[p->i] == '"') {
        m->type = GRID_EV_STRV;
        return string(p, m->str, sizeof m->str, &n);
    }
    if (eat(p, '['))
        return array(p, m);
    if (word(p, "true") || word(p, "false")) {
        m->type = GRID_EV_BOOL;
        m->num = p->s[p->i - 1] == 'e' && p->s[p->i - 2] == 'u';
        return 0;
    }
    if (word(p, "null")) {
        m->type = GRID_EV_NULL;
        return 0;
    }
    return number(p, m);
}

int grid_ev_parse(const char *line, size_t len, grid_ev *ev, char *err, size_t errlen)
{
    evp p = {line, len, 0, err, errlen};
    ev->n = 0;
    if (!eat(&p, '{'))
        return fail(&p, "expected '{'");
    if (eat(&p, '}'))
        goto end;
    do {
        if (ev->n == GRID_EV_MAX)
            return fail(&p, "too many members");
        grid_ev_member *m = &ev->m[ev->n];
        memset(m, 0, sizeof *m);
        size_t n;
        if (string(&p, m->key, sizeof m->key, &n))
            return -1;
        if (grid_ev_get(ev, m->key))
            return fail(&p, "duplicate member");
        if (!eat(&p, ':'))
            return fail(&p, "expected ':'");
        if (value(&p, m))
            return -1;
        ev->n++;
    } while (eat(&p, ','));
    if (!eat(&p, '}'))
        return fail(&p, "expected ',' or '}'");
end:
    ws(&p);
    return p.i == p.len ? 0 : fail(&p, "text after the object");
}

const grid_ev_member *grid_ev_get(const grid_ev *ev, const char *key)
{
    for (int i = 0; i < ev->n; i++)
        if (!strcmp(ev->m[i].key, key))
            return &ev->m[i];
    return NULL;
}

const char *grid_ev_str(const grid_ev *ev, const char *key, const char *dflt)
{
    const grid_ev_member *m = grid_ev_get(ev, key);
    return m && m->type == GRID_EV_STRV ? m->str : dflt;
}

double grid_ev_num(const grid_ev *ev, const char *key, double dflt)
{
    const grid_ev_member *m = grid_ev_get(ev, key);
    return m && m->type == GRID_EV_NUM ? m->num : dflt;
}

const char *grid_ev_arr(const grid_ev *ev, const char *key, int i)
{
    const grid_ev_member *m = grid_ev_get(ev, key);
    if (!m || m->type != GRID_EV_ARRV || i < 0 || i >= m->narr)
        return NULL;
    const char *s = m->arr;
    while (i--)
        s += strlen(s) + 1;
    return s;
}
