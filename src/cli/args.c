/* args.c: option parsing for the subcommands (see cli_parse in cli.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Parses a decimal with an optional k/M/G suffix (x1000). 0 ok, -1 bad. */
static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s)
        return -1;
    long long mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1000, end++;
    else if (*end == 'M' || *end == 'm')
        mul = 1000000, end++;
    else if (*end == 'G' || *end == 'g')
        mul = 1000000000, end++;
    if (*end != '\0')
        return -1;
    if (v > INT64_MAX / mul || v < INT64_MIN / mul)
        return -1;
    *out = (int64_t)(v * mul);
    return 0;
}

void cli_print_usage(FILE *f, const cli_usage *u, const cli_opt *opts, int nopts)
{
    fprintf(f, "usage: %s\n", u->synopsis);
    if (u->about)
        fprintf(f, "\n%s\n", u->about);
    if (nopts > 0)
        fprintf(f, "\noptions:\n");
    for (int i = 0; i < nopts; i++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", opts[i].name, opts[i].arg ? " " : "",
                 opts[i].arg ? opts[i].arg : "");
        fprintf(f, "  %-18s %s\n", left, opts[i].help);
    }
    fprintf(f, "  %-18s %s\n", "--help", "show this help");
}

static const cli_opt *find_opt(const cli_opt *opts, int nopts, const char *name, size_t len)
{
    for (int i = 0; i < nopts; i++)
        if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len))
            return &opts[i];
    return NULL;
}

static int usage_error(const cli_usage *u, const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "strom: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\nusage: %s   (--help for more)\n", u->synopsis);
    return CLI_USAGE;
}

/* Stores the value of one option. -1 on success, else an exit code. */
static int set_opt(const cli_usage *u, const cli_opt *o, const char *val)
{
    if (o->kind == CLI_STR) {
        if (val[0] == '\0')
            return usage_error(u, "option %s needs a non-empty %s", o->name, o->arg);
        *(const char **)o->dst = val;
        return -1;
    }
    int64_t v;
    if (parse_i64(val, &v) != 0)
        return usage_error(u, "option %s: '%s' is not a whole number", o->name, val);
    if (v < o->min || v > o->max) {
        char range[80];
        snprintf(range, sizeof range, "%lld..%lld", (long long)o->min, (long long)o->max);
        fprintf(stderr, "strom: option %s: %s is out of range (allowed: %s)\n", o->name, val,
                range);
        return CLI_USAGE;
    }
    *(int64_t *)o->dst = v;
    return -1;
}

/* Handles argv[*i], an option. -1 on success, else an exit code. */
static int take_opt(int argc, char **argv, int *i, const cli_usage *u, const cli_opt *opts,
                    int nopts)
{
    const char *a = argv[*i];
    const char *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    const cli_opt *o = find_opt(opts, nopts, a, len);
    if (!o) {
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(len < 60 ? len : 60), a);
        return usage_error(u, "unknown option '%s'%s", name, "");
    }
    if (o->kind == CLI_FLAG) {
        if (eq)
            return usage_error(u, "option %s takes no value (got '%s')", o->name, eq + 1);
        *(int *)o->dst = 1;
        return -1;
    }
    const char *val = eq ? eq + 1 : NULL;
    if (!val) {
        if (*i + 1 >= argc)
            return usage_error(u, "option %s needs a value (%s)", o->name, o->arg);
        val = argv[++*i];
    }
    return set_opt(u, o, val);
}

int cli_parse(int argc, char **argv, const cli_usage *u, const cli_opt *opts, int nopts,
              const char **pos, int *npos)
{
    int n = 0, only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
            cli_print_usage(stdout, u, opts, nopts);
            return CLI_OK;
        }
        if (!only_pos && !strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && a[0] == '-' && a[1] != '\0') {
            int rc = take_opt(argc, argv, &i, u, opts, nopts);
            if (rc >= 0)
                return rc;
            continue;
        }
        if (n >= u->max_pos)
            return usage_error(u, "unexpected argument '%s'%s", a, "");
        pos[n++] = a;
    }
    if (n < u->min_pos)
        return usage_error(u, "missing argument %s%s", u->pos_names ? u->pos_names : "", "");
    if (npos)
        *npos = n;
    return -1;
}
