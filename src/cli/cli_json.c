/* cli_json.c: one JSON Lines record (an object of scalars) for `strom produce`
 * (cli_json_object in cli_client.h). Nested objects and arrays are refused: a column holds
 * a scalar. Strings are unescaped (\uXXXX with surrogate pairs to UTF-8). */
#include <ctype.h>
#include <string.h>

#include "cli_client.h"

typedef struct jp {
    const char *s;
    size_t len, i, o;
    char *buf;
    int *errcol;
    char *err;
    size_t errn;
} jp;

static int jfail(jp *p, const char *what)
{
    *p->errcol = (int)(p->i < p->len ? p->i : p->len) + 1;
    snprintf(p->err, p->errn, "%s", what);
    return -1;
}

static void ws(jp *p)
{
    while (p->i < p->len && isspace((unsigned char)p->s[p->i]))
        p->i++;
}

static int hex4(jp *p, unsigned *v)
{
    *v = 0;
    for (int k = 0; k < 4; k++, p->i++) {
        if (p->i >= p->len || !isxdigit((unsigned char)p->s[p->i]))
            return jfail(p, "bad \\u escape");
        char c = p->s[p->i];
        *v = *v * 16 + (unsigned)(isdigit((unsigned char)c) ? c - '0' : (tolower(c) - 'a' + 10));
    }
    return 0;
}

static void put_utf8(jp *p, unsigned cp)
{
    if (cp < 0x80) {
        p->buf[p->o++] = (char)cp;
    } else if (cp < 0x800) {
        p->buf[p->o++] = (char)(0xC0 | cp >> 6);
        p->buf[p->o++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        p->buf[p->o++] = (char)(0xE0 | cp >> 12);
        p->buf[p->o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        p->buf[p->o++] = (char)(0x80 | (cp & 0x3F));
    } else {
        p->buf[p->o++] = (char)(0xF0 | cp >> 18);
        p->buf[p->o++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        p->buf[p->o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        p->buf[p->o++] = (char)(0x80 | (cp & 0x3F));
    }
}

static int escape(jp *p)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    if (p->i >= p->len)   /* a backslash that ends the line */
        return jfail(p, "unterminated string");
    char c = p->s[p->i++];
    const char *k = strchr(from, c);
    if (c && k) {
        p->buf[p->o++] = to[k - from];
        return 0;
    }
    if (c != 'u')
        return p->i--, jfail(p, "unknown escape in a string");
    unsigned cp, lo;
    if (hex4(p, &cp))
        return -1;
    if (cp >= 0xD800 && cp < 0xDC00) {
        if (p->i + 1 >= p->len || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u')
            return jfail(p, "a lone UTF-16 surrogate in a \\u escape");
        p->i += 2;
        if (hex4(p, &lo) || lo < 0xDC00 || lo > 0xDFFF)
            return jfail(p, "a lone UTF-16 surrogate in a \\u escape");
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    put_utf8(p, cp);
    return 0;
}

/* A string at p->i (the opening quote) into buf. */
static int jstring(jp *p, const char **out, size_t *olen)
{
    p->i++;
    size_t o0 = p->o;
    while (p->i < p->len && p->s[p->i] != '"') {
        unsigned char c = (unsigned char)p->s[p->i];
        if (c < 0x20)
            return jfail(p, "a control character inside a string");
        if (c == '\\') {
            p->i++;
            if (escape(p))
                return -1;
            continue;
        }
        p->buf[p->o++] = (char)c;
        p->i++;
    }
    if (p->i >= p->len)
        return jfail(p, "unterminated string");
    p->i++;
    *out = p->buf + o0;
    *olen = p->o - o0;
    return 0;
}

static int word(jp *p, const char *w)
{
    size_t n = strlen(w);
    if (p->len - p->i >= n && !memcmp(p->s + p->i, w, n)) {
        p->i += n;
        return 1;
    }
    return 0;
}

static int jvalue(jp *p, cli_jfield *f)
{
    f->col = p->i;
    if (p->i >= p->len)
        return jfail(p, "a value is missing");
    char c = p->s[p->i];
    if (c == '"') {
        f->kind = CLI_J_STR;
        return jstring(p, &f->val, &f->vlen);
    }
    f->val = p->s + p->i;
    if (word(p, "null"))
        f->kind = CLI_J_NULL;
    else if (word(p, "true") || word(p, "false"))
        f->kind = CLI_J_BOOL;
    else if (c == '-' || isdigit((unsigned char)c)) {
        f->kind = CLI_J_NUM;
        while (p->i < p->len && p->s[p->i] && strchr("+-.eE0123456789", p->s[p->i]))
            p->i++;
    } else if (c == '{' || c == '[') {
        return jfail(p, "nested objects and arrays are not column values");
    } else {
        return jfail(p, "not a JSON value");
    }
    f->vlen = (size_t)(p->s + p->i - f->val);
    return 0;
}

int cli_json_object(const char *line, size_t len, char *buf, cli_jfield *out, int max,
                    int *errcol, char *err, size_t errn)
{
    jp p = {line, len, 0, 0, buf, errcol, err, errn};
    int n = 0;
    ws(&p);
    if (p.i >= len || line[p.i] != '{')
        return jfail(&p, "expected '{' (one JSON object per line)");
    p.i++;
    ws(&p);
    if (p.i < len && line[p.i] == '}')
        return p.i++, ws(&p), p.i == len ? 0 : jfail(&p, "text after the object");
    for (;;) {
        ws(&p);
        if (n >= max)
            return jfail(&p, "too many fields");
        if (p.i >= len || line[p.i] != '"')
            return jfail(&p, "expected a quoted column name");
        out[n].kcol = p.i;
        if (jstring(&p, &out[n].key, &out[n].klen))
            return -1;
        ws(&p);
        if (p.i >= len || line[p.i] != ':')
            return jfail(&p, "expected ':'");
        p.i++;
        ws(&p);
        if (jvalue(&p, &out[n++]))
            return -1;
        ws(&p);
        if (p.i < len && line[p.i] == ',') {
            p.i++;
            continue;
        }
        if (p.i >= len || line[p.i] != '}')
            return jfail(&p, "expected ',' or '}'");
        p.i++;
        ws(&p);
        return p.i == len ? n : jfail(&p, "text after the object");
    }
}
