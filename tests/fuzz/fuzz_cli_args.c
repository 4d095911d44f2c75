/* fuzz_cli_args.c: libFuzzer target for the command line of every `strom` subcommand
 * (cli_parse, src/cli/args.c; --columns name lists, cli_split_names, cli_client.c). The
 * input, split at NUL bytes, is argv[1..] for a command with a flag, a string option, two
 * bounded integer options (suffixes k/M/G) and a name list option, and 1..2 positional
 * arguments. Never a crash; the result is -1 (parsed), 0 (--help) or 2 (a usage error,
 * printed); when parsed, the positional count is within bounds, each integer is within
 * its bounds and equals the reference reading of its text, each string is non-empty and
 * one of the arguments, and a name list splits into non-empty names that join back to it. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_client.h"
#include "common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

/* The documented reading of an integer option, digit by digit: [ws][+-]digits (fitting
 * int64), then k/K, M/m or G/g (x1000 each step), then nothing; the product fits int64. */
static int reference(const char *s, int64_t *out)
{
    while (isspace((unsigned char)*s))
        s++;
    int neg = *s == '-';
    s += *s == '-' || *s == '+';
    if (!isdigit((unsigned char)*s))
        return -1;
    __int128 v = 0;
    for (; isdigit((unsigned char)*s); s++)
        if ((v = v * 10 + (*s - '0')) > (__int128)INT64_MAX + 1)
            return -1;
    v = neg ? -v : v;
    const char *suffix = strchr("kKmMgG", *s);
    int steps = *s && suffix ? 1 + (int)(suffix - "kKmMgG") / 2 : 0;
    for (int i = 0; i < steps; i++)
        v *= 1000;
    s += steps > 0;
    if (*s || v > INT64_MAX || v < INT64_MIN)
        return -1;
    *out = (int64_t)v;
    return 0;
}

/* The text given to option name (its last occurrence), or NULL: argv read as cli_parse
 * documents it (every option but --flag takes a value, "--x v" or "--x=v"). */
static const char *given(int argc, char **argv, const char *name)
{
    const char *v = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');
        if (!strcmp(a, "--"))
            break;
        if (a[0] != '-' || a[1] == '\0')
            continue;
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const char *val = eq ? eq + 1 : NULL;
        if (!(len == 6 && !strncmp(a, "--flag", 6)) && !eq && i + 1 < argc)
            val = argv[++i];
        if (strlen(name) == len && !strncmp(a, name, len))
            v = val;
    }
    return v;
}

static void check_int(int argc, char **argv, const char *name, int64_t got, int64_t lo,
                      int64_t hi)
{
    const char *text = given(argc, argv, name);
    int64_t want;
    if (!text)
        return check(got == -99);
    check(reference(text, &want) == 0 && want == got && got >= lo && got <= hi);
}

static void check_names(const char *list)
{
    char buf[256];
    const char *names[8];
    int n = cli_split_names(list, buf, sizeof buf, names, 8);
    if (n < 0)
        return;
    strom_buf j = {0};
    for (int i = 0; i < n; i++) {
        check(names[i][0] != '\0' && strchr(names[i], ',') == NULL);
        if (i)
            strom_buf_append(&j, ",", 1);
        strom_buf_append(&j, names[i], strlen(names[i]));
    }
    check(j.len == strlen(list) && memcmp(j.data, list, j.len) == 0);
    strom_buf_free(&j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    if (!devnull) {   /* usage messages and --help text: not the fuzzer's output */
        devnull = fopen("/dev/null", "w");
        stdout = stderr = devnull;
    }
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    char *argv[66] = {"fuzz"};
    int argc = 1;
    for (size_t i = 0; i <= size && argc < 65; argc++) {
        argv[argc] = text + i;
        i += strlen(text + i) + 1;
    }
    argv[argc] = NULL;
    int flag = 0;
    const char *str = NULL, *cols = NULL, *pos[2] = {NULL, NULL};
    int64_t n = -99, m = -99;
    const cli_opt opts[] = {
        {"--flag", CLI_FLAG, &flag, NULL, "a flag", 0, 0},
        {"--name", CLI_STR, &str, "NAME", "a string", 0, 0},
        {"--n", CLI_INT, &n, "N", "an integer", 0, 1000000000},
        {"--m", CLI_INT, &m, "M", "a signed integer", -5, 5},
        {"--columns", CLI_STR, &cols, "LIST", "names", 0, 0},
    };
    const cli_usage u = {"strom fuzz A [B] [options]", "fuzzing", 1, 2, "A"};
    int npos = -1;
    int rc = cli_parse(argc, argv, &u, opts, 5, pos, &npos);
    check(rc == -1 || rc == CLI_OK || rc == CLI_USAGE);
    if (rc == -1) {
        check(npos >= 1 && npos <= 2 && pos[0] != NULL);
        check_int(argc, argv, "--n", n, 0, 1000000000);
        check_int(argc, argv, "--m", m, -5, 5);
        check(!str || str[0] != '\0');
        if (cols)
            check_names(cols);
    }
    free(text);
    return 0;
}
