/* matpower.c: MATPOWER case files (format version 2): mpc.baseMVA, mpc.bus (BUS_I, BUS_TYPE,
 * PD, ..., BASE_KV in column 10), mpc.branch (F_BUS, T_BUS, ..., RATE_A in column 6,
 * BR_STATUS in column 11). Type-3 buses are the sources. PD is in MW unless the file
 * converts it with `mpc.bus(:, [PD, QD]) = mpc.bus(:, [PD, QD]) / 1e3;` (case33bw: kW).
 * Every branch is a switchable device "FROM-TO" (bus numbers as written); status 0 is open.
 * Other statements are skipped with a warning; malformed input is an error naming the
 * file and line. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "grid.h"

#define MP_MAX_COLS 64

typedef struct mp_ctx {
    const char *file;
    char *text;            /* comments blanked, newlines kept */
    size_t len;
    grid_diag *d;
    grid_topo *t;
    int kw_units;
    double base_mva;
    /* matrices, parsed after the scan (kW units may come after them) */
    size_t bus_at, branch_at;
    int bus_line, branch_line;
} mp_ctx;

/* Blanks %-comments (outside '...' strings) so that only code remains; newlines stay. */
static void blank_comments(char *s, size_t n)
{
    int instr = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\n') {
            instr = 0;
            continue;
        }
        if (instr) {
            if (c == '\'')
                instr = 0;
            continue;
        }
        char prev = i ? s[i - 1] : ' ';
        if (c == '\'' && (isspace((unsigned char)prev) || prev == '=' || prev == '(' || prev == ',' ||
                          prev == '[')) {
            instr = 1;
        } else if (c == '%' || c == '#') {
            while (i < n && s[i] != '\n')
                s[i++] = ' ';
            i--;
        }
    }
}

/* Copies s without blanks into out (size n). */
static void squeeze(const char *s, size_t len, char *out, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < len && k + 1 < n; i++)
        if (!isspace((unsigned char)s[i]))
            out[k++] = s[i];
    out[k] = 0;
}

/* Parses one matrix starting at text[at] (just after '['), rows to cb. 0 or -1. */
typedef int (*mp_row_fn)(mp_ctx *c, int line, char cols[][48], int ncols);

static int parse_matrix(mp_ctx *c, size_t at, int line, mp_row_fn cb)
{
    char cols[MP_MAX_COLS][48];
    int ncols = 0, row_line = line;
    size_t i = at;
    for (;;) {
        while (i < c->len && (c->text[i] == ' ' || c->text[i] == '\t' || c->text[i] == ',' ||
                              c->text[i] == '\r'))
            i++;
        if (i >= c->len)
            return grid_errorf(c->d, "%s:%d: matrix not closed with ']'", c->file, row_line);
        char ch = c->text[i];
        if (ch == ']' || ch == ';' || ch == '\n') {
            if (ncols && cb(c, row_line, cols, ncols))
                return -1;
            ncols = 0;
            if (ch == '\n')
                line++;
            i++;
            row_line = line;
            if (ch == ']')
                return 0;
            continue;
        }
        if (ch == '.' && i + 2 < c->len && c->text[i + 1] == '.' && c->text[i + 2] == '.') {
            while (i < c->len && c->text[i] != '\n')
                i++;
            if (i < c->len)
                i++, line++;
            continue;
        }
        size_t s = i;
        while (i < c->len && !isspace((unsigned char)c->text[i]) && c->text[i] != ',' &&
               c->text[i] != ';' && c->text[i] != ']')
            i++;
        if (ncols == MP_MAX_COLS || i - s >= sizeof cols[0])
            return grid_errorf(c->d, "%s:%d: matrix row too wide or value too long", c->file, row_line);
        memcpy(cols[ncols], c->text + s, i - s);
        cols[ncols++][i - s] = 0;
    }
}

static int num(mp_ctx *c, int line, const char *v, const char *what, double *out)
{
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || isnan(x))
        return grid_errorf(c->d, "%s:%d: %s '%s' is not a number", c->file, line, what, v);
    *out = x;
    return 0;
}

/* A bus number as written, checked to be an integer. */
static int bus_id(mp_ctx *c, int line, const char *v, const char *what)
{
    double x;
    if (num(c, line, v, what, &x))
        return -1;
    if (x != floor(x) || x < 0 || x > 1e9)
        return grid_errorf(c->d, "%s:%d: %s '%s' is not a bus number", c->file, line, what, v);
    return 0;
}

static int bus_row(mp_ctx *c, int line, char cols[][48], int ncols)
{
    double type, pd, kv = 0;
    if (ncols < 3)
        return grid_errorf(c->d, "%s:%d: mpc.bus row has %d columns, needs at least 3", c->file,
                           line, ncols);
    if (bus_id(c, line, cols[0], "BUS_I") || num(c, line, cols[1], "BUS_TYPE", &type) ||
        num(c, line, cols[2], "PD", &pd) || (ncols >= 10 && num(c, line, cols[9], "BASE_KV", &kv)))
        return -1;
    if (pd < 0)   /* the plan's load balances assume consumers only */
        return grid_errorf(c->d, "%s:%d: bus %s: negative PD (generation) is not modelled",
                           c->file, line, cols[0]);
    if (grid_bus_find(c->t, cols[0]) >= 0)
        return grid_errorf(c->d, "%s:%d: bus %s defined twice", c->file, line, cols[0]);
    int32_t b = grid_bus_get(c->t, cols[0], strlen(cols[0]));
    if (b < 0)
        return grid_errorf(c->d, "out of memory");
    grid_bus *x = &c->t->bus[b];
    x->load_kw = c->kw_units ? pd : pd * 1000.0;
    if (pd != 0) {
        x->nloads = 1;
        c->t->nloads++;
    }
    if (type == 3) {
        x->source = 1;
        if (kv > 0 && c->t->base_kv == 0)
            c->t->base_kv = kv;
    }
    return 0;
}

static int branch_row(mp_ctx *c, int line, char cols[][48], int ncols)
{
    double rate, status;
    if (ncols < 11)
        return grid_errorf(c->d, "%s:%d: mpc.branch row has %d columns, needs at least 11",
                           c->file, line, ncols);
    if (bus_id(c, line, cols[0], "F_BUS") || bus_id(c, line, cols[1], "T_BUS") ||
        num(c, line, cols[5], "RATE_A", &rate) || num(c, line, cols[10], "BR_STATUS", &status))
        return -1;
    int32_t a = grid_bus_find(c->t, cols[0]), b = grid_bus_find(c->t, cols[1]);
    if (a < 0 || b < 0)
        return grid_errorf(c->d, "%s:%d: branch %s-%s: bus %s is not in mpc.bus", c->file, line,
                           cols[0], cols[1], a < 0 ? cols[0] : cols[1]);
    char id[112];
    snprintf(id, sizeof id, "%s-%s", cols[0], cols[1]);
    for (int k = 2; grid_edge_find(c->t, id) >= 0; k++)   /* parallel branches: "F-T#2" */
        snprintf(id, sizeof id, "%s-%s#%d", cols[0], cols[1], k);
    double kw = rate > 0 && isfinite(rate) ? rate * 1000.0 : 0;   /* MVA -> kW at pf 1 */
    if (grid_edge_add(c->t, id, a, b, GRID_SWITCH, status != 0, kw, c->d) < 0)
        return grid_error_at(c->d, c->file, line);
    return 0;
}

/* One statement text[s, e) starting on line `line`. 0 or -1. */
static int statement(mp_ctx *c, size_t s, size_t e, int line)
{
    char sq[160];
    while (s < e && isspace((unsigned char)c->text[s])) {
        if (c->text[s] == '\n')
            line++;
        s++;
    }
    if (s >= e)
        return 0;
    squeeze(c->text + s, e - s, sq, sizeof sq);
    if (!strncmp(sq, "function", 8) || !strncmp(sq, "mpc.version=", 12))
        return 0;
    if (!strncmp(sq, "mpc.baseMVA=", 12)) {
        char v[64];
        snprintf(v, sizeof v, "%.63s", sq + 12);
        char *semi = strchr(v, ';');
        if (semi)
            *semi = 0;
        return num(c, line, v, "baseMVA", &c->base_mva);
    }
    if (!strncmp(sq, "mpc.bus=[", 9) || !strncmp(sq, "mpc.branch=[", 12)) {
        const char *br = memchr(c->text + s, '[', e - s);
        int l = line;
        for (const char *p = c->text + s; p < br; p++)
            l += *p == '\n';
        size_t at = (size_t)(br - c->text) + 1;
        if (sq[5] == 'u')
            c->bus_at = at, c->bus_line = l;
        else
            c->branch_at = at, c->branch_line = l;
        return 0;
    }
    if (!strncmp(sq, "mpc.bus(:,[PD,QD])=mpc.bus(:,[PD,QD])/1e3", 41)) {
        c->kw_units = 1;
        return 0;
    }
    char shown[130];
    size_t k = 0;
    for (size_t i = s; i < e && k + 1 < 121; i++) {
        int sp = isspace((unsigned char)c->text[i]);
        if (!sp || (k && shown[k - 1] != ' '))
            shown[k++] = sp ? ' ' : c->text[i];
    }
    shown[k] = 0;
    grid_warnf(c->d, "%s:%d: skipped (statement not modelled): %s", c->file, line, shown);
    return 0;
}

/* Splits the text into statements: a newline ends one unless inside brackets or after
 * `...`; ';' at depth 0 ends one too. */
static int scan(mp_ctx *c)
{
    int depth = 0, line = 1, start_line = 1;
    size_t start = 0;
    for (size_t i = 0; i < c->len; i++) {
        char ch = c->text[i];
        if (ch == '[' || ch == '(' || ch == '{')
            depth++;
        else if ((ch == ']' || ch == ')' || ch == '}') && depth > 0)
            depth--;
        else if (ch == '.' && i + 2 < c->len && c->text[i + 1] == '.' && c->text[i + 2] == '.') {
            while (i < c->len && c->text[i] != '\n')
                i++;
            line++;
            continue;
        }
        if ((ch == '\n' && depth == 0) || (ch == ';' && depth == 0)) {
            if (statement(c, start, i, start_line))
                return -1;
            start = i + 1;
            start_line = line + (ch == '\n');
        }
        if (ch == '\n')
            line++;
    }
    if (depth != 0)
        return grid_errorf(c->d, "%s:%d: unclosed bracket", c->file, start_line);
    return statement(c, start, c->len, start_line);
}

int grid_load_matpower_text(const char *name, const char *text, size_t len, grid_topo **out,
                            grid_diag *d)
{
    mp_ctx c = {.file = name, .d = d, .len = len};
    if (memchr(text, 0, len))
        return grid_errorf(d, "%s:1: NUL byte in a text file", name);
    c.text = malloc(len + 1);
    c.t = grid_topo_create();
    int rc = (!c.text || !c.t) ? grid_errorf(d, "out of memory") : 0;
    if (!rc) {
        memcpy(c.text, text, len);
        c.text[len] = 0;
        blank_comments(c.text, len);
        rc = scan(&c);
    }
    if (!rc && !c.bus_at)
        rc = grid_errorf(d, "%s: no mpc.bus matrix", name);
    if (!rc && !c.branch_at)
        rc = grid_errorf(d, "%s: no mpc.branch matrix", name);
    if (!rc)
        rc = parse_matrix(&c, c.bus_at, c.bus_line, bus_row);
    if (!rc)
        rc = parse_matrix(&c, c.branch_at, c.branch_line, branch_row);
    int nsrc = 0;
    for (int32_t i = 0; !rc && i < c.t->nbus; i++)
        nsrc += c.t->bus[i].source;
    if (!rc && !nsrc)
        rc = grid_errorf(d, "%s:%d: no reference bus (BUS_TYPE 3) in mpc.bus", name, c.bus_line);
    if (!rc)
        rc = grid_topo_finish(c.t, d);
    free(c.text);
    if (rc) {
        grid_topo_destroy(c.t);
        return -1;
    }
    const char *slash = strrchr(name, '/');
    c.t->title = strdup(slash ? slash + 1 : name);
    *out = c.t;
    return 0;
}

int grid_load_matpower(const char *path, grid_topo **out, grid_diag *d)
{
    char *buf;
    size_t len;
    if (grid_read_file(path, &buf, &len, d))
        return -1;
    int rc = grid_load_matpower_text(path, buf, len, out, d);
    free(buf);
    return rc;
}
