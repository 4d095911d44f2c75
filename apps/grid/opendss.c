/* opendss.c: the OpenDSS subset strom's grid application reads (docs/grid.md):
 * New Circuit/Vsource/Line/Load/Transformer (with `~` / `more` continuations), open/close
 * Line.X, Redirect/Compile (relative to the file), BusCoords, Clear, comments (! and //).
 * Every other statement or element class is skipped with a warning naming file, line
 * and statement; malformed input is an error naming file and line. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "grid.h"

#define DSS_MAX_DEPTH 16
#define DSS_MAX_TOK 64

typedef struct dss_tok {
    char key[64];          /* "" for a positional value */
    char val[512];
} dss_tok;

typedef enum { EL_NONE, EL_SKIP, EL_CIRCUIT, EL_VSOURCE, EL_LINE, EL_LOAD, EL_XFMR } el_class;

/* The element being defined (New + its continuation lines), finished at the next statement. */
typedef struct dss_el {
    el_class cls;
    char name[128];        /* as written, after the class */
    char file[256];
    int line;
    char bus[3][128];      /* Bus1, Bus2 (transformers: windings 1..3) */
    int nwdg, wdg;         /* transformer: windings, current winding (1-based) */
    double kva[3];
    int is_switch;
    double normamps, kw, kvapower, pf, basekv;
    int has_kw, has_kva;
    int disabled;          /* enabled=no: not in the circuit */
} dss_el;

typedef struct dss_ctx {
    grid_topo *t;
    grid_diag *d;
    dss_el el;
    int allow_redirect;
    int depth;
    int nsources;
    dss_tok tok[DSS_MAX_TOK];   /* the current statement's tokens */
} dss_ctx;

/* ---------------------------------------------------------------- lexing */

/* Cuts the comment off line (in place): `!` or `//` outside brackets and quotes. */
static void strip_comment(char *s)
{
    int depth = 0;
    char q = 0;
    for (char *p = s; *p; p++) {
        if (q) {
            if (*p == q)
                q = 0;
        } else if (*p == '"' || *p == '\'') {
            q = *p;
        } else if (*p == '[' || *p == '(' || *p == '{') {
            depth++;
        } else if ((*p == ']' || *p == ')' || *p == '}') && depth > 0) {
            depth--;
        } else if (*p == '!' || (p[0] == '/' && p[1] == '/')) {
            *p = 0;
            return;
        }
    }
}

static char closer(char c)
{
    return c == '[' ? ']' : c == '(' ? ')' : c == '{' ? '}' : c;
}

/* Reads one value at *pp (a bracketed/quoted group keeps its inside). 0 or -1. */
static int lex_value(const char **pp, char *out, size_t n)
{
    const char *p = *pp;
    size_t k = 0;
    if (*p == '[' || *p == '(' || *p == '{' || *p == '"' || *p == '\'') {
        char c = closer(*p++);
        while (*p && *p != c)
            if (k + 1 < n)
                out[k++] = *p++;
            else
                return -1;
        if (*p != c)
            return -1;
        p++;
    } else {
        while (*p && !isspace((unsigned char)*p) && *p != '=')
            if (k + 1 < n)
                out[k++] = *p++;
            else
                return -1;
    }
    out[k] = 0;
    *pp = p;
    return 0;
}

/* Splits a statement into tokens (key=value or positional); count or -1 with *why set. */
static int lex_tokens(const char *s, dss_tok *tok, int max, const char **why)
{
    int n = 0;
    const char *p = s;
    for (;;) {
        while (isspace((unsigned char)*p) || *p == ',')
            p++;
        if (!*p)
            return n;
        if (n == max) {
            *why = "too many properties";
            return -1;
        }
        char first[512];
        if (lex_value(&p, first, sizeof first)) {
            *why = "unterminated bracket or quote, or a value too long";
            return -1;
        }
        const char *q = p;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q == '=') {
            p = q + 1;
            while (*p == ' ' || *p == '\t')
                p++;
            if (strlen(first) >= sizeof tok[n].key || !first[0]) {
                *why = "bad property name";
                return -1;
            }
            strcpy(tok[n].key, first);
            if (lex_value(&p, tok[n].val, sizeof tok[n].val)) {
                *why = "unterminated bracket or quote, or a value too long";
                return -1;
            }
        } else {
            tok[n].key[0] = 0;
            strcpy(tok[n].val, first);
        }
        n++;
    }
}

/* ---------------------------------------------------------------- values */

static int parse_num(dss_ctx *c, const char *file, int line, const char *key, const char *v, double *out)
{
    char *end;
    double x = strtod(v, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (end == v || *end || !isfinite(x))
        return grid_errorf(c->d, "%s:%d: %s=%s is not a number", file, line, key, v);
    *out = x;
    return 0;
}

/* The bus name without its phase suffix ("54.1" -> "54"), lower-cased, into out. */
static void bus_base(const char *v, char *out, size_t n)
{
    size_t k = 0;
    for (; v[k] && v[k] != '.' && k + 1 < n; k++)
        out[k] = (char)tolower((unsigned char)v[k]);
    out[k] = 0;
}

/* The i-th whitespace/comma separated item of a list value into out; 0 or -1 if absent. */
static int list_item(const char *v, int i, char *out, size_t n)
{
    const char *p = v;
    for (int k = 0;; k++) {
        while (isspace((unsigned char)*p) || *p == ',')
            p++;
        if (!*p)
            return -1;
        const char *s = p;
        while (*p && !isspace((unsigned char)*p) && *p != ',')
            p++;
        if (k == i) {
            size_t len = (size_t)(p - s) < n - 1 ? (size_t)(p - s) : n - 1;
            memcpy(out, s, len);
            out[len] = 0;
            return 0;
        }
    }
}

/* ---------------------------------------------------------------- elements */

static int32_t bus_of(dss_ctx *c, const char *name)
{
    return grid_bus_get(c->t, name, strlen(name));
}

static int finish_source(dss_ctx *c, dss_el *e)
{
    int32_t b = bus_of(c, e->bus[0][0] ? e->bus[0] : "sourcebus");
    if (b < 0)
        return grid_errorf(c->d, "out of memory");
    c->t->bus[b].source = 1;
    if (e->cls == EL_CIRCUIT) {
        free(c->t->title);
        c->t->title = strdup(e->name);
        if (e->basekv > 0)
            c->t->base_kv = e->basekv;
        else if (c->t->base_kv == 0)
            c->t->base_kv = 115;   /* OpenDSS's default basekv */
    }
    c->nsources++;
    return 0;
}

static int finish_line(dss_ctx *c, dss_el *e)
{
    if (!e->bus[0][0] || !e->bus[1][0])
        return grid_errorf(c->d, "%s:%d: Line.%s needs bus1 and bus2", e->file, e->line, e->name);
    int32_t a = bus_of(c, e->bus[0]), b = bus_of(c, e->bus[1]);
    if (a < 0 || b < 0)
        return grid_errorf(c->d, "out of memory");
    double kv = c->t->base_kv > 0 ? c->t->base_kv : 115;
    double rating = e->normamps > 0 ? sqrt(3.0) * kv * e->normamps : 0;
    char id[160];
    snprintf(id, sizeof id, "Line.%s", e->name);
    if (grid_edge_add(c->t, id, a, b, e->is_switch ? GRID_SWITCH : GRID_LINE, 1, rating, c->d) < 0)
        return grid_error_at(c->d, e->file, e->line);
    return 0;
}

static int finish_xfmr(dss_ctx *c, dss_el *e)
{
    if (!e->bus[0][0] || !e->bus[1][0])
        return grid_errorf(c->d, "%s:%d: Transformer.%s needs two winding buses", e->file, e->line,
                           e->name);
    if (e->nwdg > 2 && e->bus[2][0])
        grid_warnf(c->d, "%s:%d: Transformer.%s: windings after the second are not modelled",
                   e->file, e->line, e->name);
    int32_t a = bus_of(c, e->bus[0]), b = bus_of(c, e->bus[1]);
    if (a < 0 || b < 0)
        return grid_errorf(c->d, "out of memory");
    char id[160];
    snprintf(id, sizeof id, "Transformer.%s", e->name);
    if (grid_edge_add(c->t, id, a, b, GRID_TRANSFORMER, 1, e->kva[0], c->d) < 0)
        return grid_error_at(c->d, e->file, e->line);
    return 0;
}

static int finish_load(dss_ctx *c, dss_el *e)
{
    if (!e->bus[0][0])
        return grid_errorf(c->d, "%s:%d: Load.%s needs bus1", e->file, e->line, e->name);
    double kw = e->kw;
    if (!e->has_kw) {
        if (e->has_kva)
            kw = e->kvapower * (e->pf > 0 ? e->pf : 0.88);
        else {
            kw = 10;   /* OpenDSS's default */
            grid_warnf(c->d, "%s:%d: Load.%s has no kW; OpenDSS's default 10 kW assumed", e->file,
                       e->line, e->name);
        }
    }
    if (!(kw >= 0))   /* the plan's load balances assume consumers only */
        return grid_errorf(c->d, "%s:%d: Load.%s: negative load (generation) is not modelled",
                           e->file, e->line, e->name);
    int32_t b = bus_of(c, e->bus[0]);
    if (b < 0)
        return grid_errorf(c->d, "out of memory");
    c->t->bus[b].load_kw += kw;
    c->t->bus[b].nloads++;
    c->t->nloads++;
    return 0;
}

/* Finishes the pending element, if any. 0 or -1. */
static int el_finish(dss_ctx *c)
{
    dss_el *e = &c->el;
    int rc = 0;
    if (e->disabled && e->cls != EL_NONE && e->cls != EL_SKIP) {
        grid_warnf(c->d, "%s:%d: skipped (enabled=no): %s", e->file, e->line, e->name);
        e->cls = EL_NONE;
    }
    switch (e->cls) {
    case EL_CIRCUIT:
    case EL_VSOURCE: rc = finish_source(c, e); break;
    case EL_LINE: rc = finish_line(c, e); break;
    case EL_XFMR: rc = finish_xfmr(c, e); break;
    case EL_LOAD: rc = finish_load(c, e); break;
    default: break;
    }
    e->cls = EL_NONE;
    return rc;
}

/* Copies the kVA rating of the transformer named by like= (already defined). */
static void xfmr_like(dss_ctx *c, dss_el *e, const char *v)
{
    char id[600];
    snprintf(id, sizeof id, "Transformer.%s", v);
    int32_t x = grid_edge_find(c->t, id);
    if (x >= 0 && e->kva[0] == 0)
        e->kva[0] = c->t->edge[x].rating_kw;
}

static int set_xfmr_prop(dss_ctx *c, dss_el *e, const char *k, const char *v, int line)
{
    char item[128];
    double x;
    if (!strcasecmp(k, "windings")) {
        if (parse_num(c, e->file, line, k, v, &x))
            return -1;
        if (x < 1 || x > 3)   /* parse_num: finite; (int) of 1e112 is undefined */
            return grid_errorf(c->d, "%s:%d: windings=%s out of range 1..3", e->file, line, v);
        e->nwdg = (int)x;
    } else if (!strcasecmp(k, "wdg")) {
        if (parse_num(c, e->file, line, k, v, &x))
            return -1;
        if (x < 1 || x > 3)
            return grid_errorf(c->d, "%s:%d: wdg=%s out of range 1..3", e->file, line, v);
        e->wdg = (int)x;
    } else if (!strcasecmp(k, "bus")) {
        bus_base(v, e->bus[e->wdg - 1], sizeof e->bus[0]);
    } else if (!strcasecmp(k, "buses")) {
        for (int i = 0; i < 3 && !list_item(v, i, item, sizeof item); i++)
            bus_base(item, e->bus[i], sizeof e->bus[0]);
    } else if (!strcasecmp(k, "kva")) {
        if (parse_num(c, e->file, line, k, v, &x))
            return -1;
        e->kva[e->wdg - 1] = x;
    } else if (!strcasecmp(k, "kvas")) {
        for (int i = 0; i < 3 && !list_item(v, i, item, sizeof item); i++)
            if (parse_num(c, e->file, line, k, item, &e->kva[i]))
                return -1;
    } else if (!strcasecmp(k, "like")) {
        xfmr_like(c, e, v);
    }
    return 0;
}

static int truthy(const char *v)
{
    return !strcasecmp(v, "yes") || !strcasecmp(v, "y") || !strcasecmp(v, "true") ||
           !strcasecmp(v, "t") || !strcmp(v, "1");
}

/* One property of the pending element; unknown properties are electrical detail the
 * model does not need and are ignored. 0 or -1. */
static int el_prop(dss_ctx *c, const char *k, const char *v, int line)
{
    dss_el *e = &c->el;
    double x;
    if (!strcasecmp(k, "enabled")) {
        e->disabled = !truthy(v);
        return 0;
    }
    if (e->cls == EL_XFMR)
        return set_xfmr_prop(c, e, k, v, line);
    if (!strcasecmp(k, "bus1"))
        bus_base(v, e->bus[0], sizeof e->bus[0]);
    else if (!strcasecmp(k, "bus2"))
        bus_base(v, e->bus[1], sizeof e->bus[1]);
    else if (!strcasecmp(k, "switch"))
        e->is_switch = truthy(v);
    else if (!strcasecmp(k, "enabled"))
        e->disabled = !truthy(v);
    else if (!strcasecmp(k, "normamps") || !strcasecmp(k, "kw") || !strcasecmp(k, "kva") ||
             !strcasecmp(k, "pf") || !strcasecmp(k, "basekv")) {
        if (parse_num(c, e->file, line, k, v, &x))
            return -1;
        if (!strcasecmp(k, "normamps"))
            e->normamps = x;
        else if (!strcasecmp(k, "kw"))
            e->kw = x, e->has_kw = 1;
        else if (!strcasecmp(k, "kva"))
            e->kvapower = x, e->has_kva = 1;
        else if (!strcasecmp(k, "pf"))
            e->pf = x;
        else
            e->basekv = x;
    }
    return 0;
}

/* Applies the properties of tokens [from, n) to the pending element. Positional values
 * go to bus1 then bus2 (OpenDSS's property order for the classes read here). */
static int el_props(dss_ctx *c, dss_tok *tok, int from, int n, int line)
{
    static const char *const order[] = {"bus1", "bus2"};
    int pos = 0;
    for (int i = from; i < n; i++) {
        const char *k = tok[i].key;
        if (!k[0]) {
            if (c->el.cls == EL_SKIP || pos >= 2)
                continue;
            k = order[pos++];
        }
        if (c->el.cls != EL_SKIP && el_prop(c, k, tok[i].val, line))
            return -1;
    }
    return 0;
}

static el_class class_of(const char *cls)
{
    if (!strcasecmp(cls, "circuit"))
        return EL_CIRCUIT;
    if (!strcasecmp(cls, "vsource"))
        return EL_VSOURCE;
    if (!strcasecmp(cls, "line"))
        return EL_LINE;
    if (!strcasecmp(cls, "load"))
        return EL_LOAD;
    if (!strcasecmp(cls, "transformer"))
        return EL_XFMR;
    return EL_SKIP;
}

/* New CLASS.NAME props... (or New object=CLASS.NAME ...). */
static int stmt_new(dss_ctx *c, dss_tok *tok, int n, const char *file, int line, const char *text)
{
    if (n < 2 || (tok[1].key[0] && strcasecmp(tok[1].key, "object")))
        return grid_errorf(c->d, "%s:%d: New needs CLASS.NAME", file, line);
    const char *obj = tok[1].val;
    const char *dot = strchr(obj, '.');
    if (!dot || dot == obj || !dot[1] || strlen(dot + 1) >= sizeof c->el.name)
        return grid_errorf(c->d, "%s:%d: New needs CLASS.NAME, got '%s'", file, line, obj);
    char cls[64];
    size_t cl = (size_t)(dot - obj) < sizeof cls - 1 ? (size_t)(dot - obj) : sizeof cls - 1;
    memcpy(cls, obj, cl);
    cls[cl] = 0;
    dss_el *e = &c->el;
    memset(e, 0, sizeof *e);
    e->cls = class_of(cls);
    e->wdg = 1;
    e->nwdg = 2;
    e->line = line;
    snprintf(e->file, sizeof e->file, "%s", file);
    snprintf(e->name, sizeof e->name, "%s", dot + 1);
    if (e->cls == EL_SKIP)
        grid_warnf(c->d, "%s:%d: skipped (element class %s is not modelled): %.120s", file, line,
                   cls, text);
    return el_props(c, tok, 2, n, line);
}

/* open|close Line.X [terminal=N]: sets the normal and current state of a switchable line. */
static int stmt_switch(dss_ctx *c, dss_tok *tok, int n, int close, const char *file, int line)
{
    if (n < 2 || tok[1].key[0])
        return grid_errorf(c->d, "%s:%d: %s needs an element (Line.NAME)", file, line,
                           close ? "close" : "open");
    const char *id = tok[1].val;
    int32_t e = grid_edge_find(c->t, id);
    for (int32_t i = 0; e < 0 && i < c->t->nedge; i++)
        if (!strcasecmp(grid_edge_id(c->t, i), id))
            e = i;
    if (e < 0)
        return grid_errorf(c->d, "%s:%d: %s %s: no such element (defined above)", file, line,
                           close ? "close" : "open", id);
    grid_edge *x = &c->t->edge[e];
    if (!x->switchable && !close) {   /* an open point is operable: model it as a switch */
        grid_warnf(c->d, "%s:%d: %s is opened but has no switch=yes: treated as a switch", file,
                   line, grid_edge_id(c->t, e));
        x->kind = GRID_SWITCH;
        x->switchable = 1;
    }
    x->closed = x->normal_closed = (uint8_t)close;
    return 0;
}

static int load_file(dss_ctx *c, const char *path);
static int load_text(dss_ctx *c, const char *file, char *text);

/* The path of `ref` relative to the directory of `file`, into out. */
static void relative_path(const char *file, const char *ref, char *out, size_t n)
{
    const char *slash = strrchr(file, '/');
    if (ref[0] == '/' || !slash)
        snprintf(out, n, "%s", ref);
    else
        snprintf(out, n, "%.*s/%s", (int)(slash - file), file, ref);
}

static int stmt_redirect(dss_ctx *c, dss_tok *tok, int n, const char *file, int line)
{
    if (n < 2)
        return grid_errorf(c->d, "%s:%d: Redirect needs a file name", file, line);
    if (!c->allow_redirect)
        return grid_errorf(c->d, "%s:%d: Redirect is not allowed here", file, line);
    if (c->depth >= DSS_MAX_DEPTH)
        return grid_errorf(c->d, "%s:%d: Redirect nested deeper than %d", file, line, DSS_MAX_DEPTH);
    char path[1024];
    relative_path(file, tok[1].val, path, sizeof path);
    char *buf;
    size_t len;
    if (grid_read_file(path, &buf, &len, c->d)) {
        char tmp[sizeof c->d->error];
        snprintf(tmp, sizeof tmp, "Redirect: %.400s", c->d->error);
        snprintf(c->d->error, sizeof c->d->error, "%s", tmp);
        return grid_error_at(c->d, file, line);
    }
    int rc = memchr(buf, 0, len) ? grid_errorf(c->d, "%s:1: NUL byte in a text file", path) : 0;
    c->depth++;
    if (!rc)
        rc = load_text(c, path, buf);
    c->depth--;
    free(buf);
    return rc;
}

/* BusCoords FILE: "bus x y" per line (commas or blanks). */
static int stmt_buscoords(dss_ctx *c, dss_tok *tok, int n, const char *file, int line)
{
    if (n < 2)
        return grid_errorf(c->d, "%s:%d: BusCoords needs a file name", file, line);
    if (!c->allow_redirect)
        return grid_errorf(c->d, "%s:%d: BusCoords is not allowed here", file, line);
    char path[1024];
    relative_path(file, tok[1].val, path, sizeof path);
    char *buf;
    size_t len;
    if (grid_read_file(path, &buf, &len, c->d))
        return grid_errorf(c->d, "%s:%d: BusCoords: cannot read %s", file, line, path);
    int unknown = 0, ln = 0;
    for (char *s = buf, *nl; s && *s; s = nl ? nl + 1 : NULL) {
        nl = strchr(s, '\n');
        if (nl)
            *nl = 0;
        ln++;
        strip_comment(s);
        for (char *p = s; *p; p++)
            if (*p == ',' || *p == '\r')
                *p = ' ';
        char name[128], rest[8];
        double x, y;
        int k = sscanf(s, "%127s %lf %lf %7s", name, &x, &y, rest);
        if (k <= 0)
            continue;
        if (k != 3) {
            free(buf);
            return grid_errorf(c->d, "%s:%d: expected 'bus x y'", path, ln);
        }
        char bn[128];
        bus_base(name, bn, sizeof bn);
        int32_t b = grid_bus_find(c->t, bn);
        if (b < 0) {
            unknown++;
            continue;
        }
        c->t->bus[b].x = x;
        c->t->bus[b].y = y;
        c->t->bus[b].has_xy = 1;
    }
    free(buf);
    if (unknown)
        grid_warnf(c->d, "%s:%d: BusCoords: %d buses of %s are not in the circuit (ignored)", file,
                   line, unknown, path);
    return 0;
}

/* One statement (a line without its comment). 0 or -1. */
static int statement(dss_ctx *c, const char *file, int line, const char *text)
{
    dss_tok *tok = c->tok;
    const char *why = NULL;
    const char *s = text;
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return 0;
    int more = *s == '~';
    int n = lex_tokens(more ? s + 1 : s, tok, DSS_MAX_TOK, &why);
    if (n < 0)
        return grid_errorf(c->d, "%s:%d: %s", file, line, why);
    if (n == 0 && more)
        return 0;
    const char *cmd = tok[0].key[0] ? "" : tok[0].val;
    if (more || !strcasecmp(cmd, "more") || !strcasecmp(cmd, "m")) {
        if (c->el.cls == EL_NONE)
            return grid_errorf(c->d, "%s:%d: continuation without an element", file, line);
        return el_props(c, tok, more ? 0 : 1, n, line);
    }
    if (el_finish(c))
        return -1;
    if (!strcasecmp(cmd, "new"))
        return stmt_new(c, tok, n, file, line, s);
    if (!strcasecmp(cmd, "open") || !strcasecmp(cmd, "close"))
        return stmt_switch(c, tok, n, !strcasecmp(cmd, "close"), file, line);
    if (!strcasecmp(cmd, "redirect") || !strcasecmp(cmd, "compile"))
        return stmt_redirect(c, tok, n, file, line);
    if (!strcasecmp(cmd, "buscoords"))
        return stmt_buscoords(c, tok, n, file, line);
    if (!strcasecmp(cmd, "clear") && c->t->nbus == 0 && c->t->nedge == 0)
        return 0;
    grid_warnf(c->d, "%s:%d: skipped (statement not modelled): %.120s", file, line, s);
    return 0;
}

static int load_text(dss_ctx *c, const char *file, char *text)
{
    int line = 0;
    for (char *s = text, *nl; s; s = nl ? nl + 1 : NULL) {
        nl = strchr(s, '\n');
        if (nl)
            *nl = 0;
        line++;
        size_t l = strlen(s);
        if (l && s[l - 1] == '\r')
            s[l - 1] = 0;
        strip_comment(s);
        if (statement(c, file, line, s))
            return -1;
        if (!nl)
            break;
    }
    return el_finish(c);
}

static int load_file(dss_ctx *c, const char *path)
{
    char *buf;
    size_t len;
    if (grid_read_file(path, &buf, &len, c->d))
        return -1;
    if (memchr(buf, 0, len)) {
        free(buf);
        return grid_errorf(c->d, "%s:%d: NUL byte in a text file", path, 1);
    }
    int rc = load_text(c, path, buf);
    free(buf);
    return rc;
}

static int dss_run(dss_ctx *c, const char *name, const char *text, size_t len, int from_file,
                   grid_topo **out)
{
    c->t = grid_topo_create();
    if (!c->t)
        return grid_errorf(c->d, "out of memory");
    int rc;
    if (from_file) {
        rc = load_file(c, name);
    } else {
        char *buf = malloc(len + 1);
        if (!buf) {
            grid_topo_destroy(c->t);
            return grid_errorf(c->d, "out of memory");
        }
        memcpy(buf, text, len);
        buf[len] = 0;
        rc = memchr(text, 0, len) ? grid_errorf(c->d, "%s:1: NUL byte in a text file", name)
                                  : load_text(c, name, buf);
        free(buf);
    }
    if (!rc && c->nsources == 0)
        rc = grid_errorf(c->d, "%s: no New Circuit (the source) defined", name);
    if (!rc)
        rc = grid_topo_finish(c->t, c->d);
    if (rc) {
        grid_topo_destroy(c->t);
        return -1;
    }
    *out = c->t;
    return 0;
}

int grid_load_opendss(const char *path, grid_topo **out, grid_diag *d)
{
    dss_ctx c = {.d = d, .allow_redirect = 1};
    return dss_run(&c, path, NULL, 0, 1, out);
}

int grid_load_opendss_text(const char *name, const char *text, size_t len, int allow_redirect,
                           grid_topo **out, grid_diag *d)
{
    dss_ctx c = {.d = d, .allow_redirect = allow_redirect};
    return dss_run(&c, name, text, len, 0, out);
}
