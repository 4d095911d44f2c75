/* cmd_server.c: `strom server`: runs the network server (src/server) until SIGTERM/SIGINT.
 * Settings come from defaults, then --config FILE, then the flags (flags win). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "server/server.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: strom server [--config FILE] [--data DIR] [--host ADDR] [--port N] "
               "[options]\n\n"
               "Serves the native protocol (docs/protocol.md) on HOST:PORT (127.0.0.1:9123 by\n"
               "default) over the data directory. Prints 'strom server listening on HOST:PORT'\n"
               "when ready; SIGTERM or SIGINT shut it down gracefully (exit 0).\n\n"
               "  --config FILE                flat 'key: value' settings (keys below); flags win\n"
               "  --help                       show this help\n\n");
    srv_config_print_help(f);
}

/* Finds --config among the arguments first (the file is applied before the flags). */
static int find_config(int argc, char **argv, const char **path)
{
    *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc)
                return -1;
            *path = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            *path = argv[i] + 9;
        }
    }
    return 0;
}

static int apply_flags(srv_config *c, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        char flag[64];
        const char *eq = strchr(a, '=');
        if (!strncmp(a, "--config", 8) && (a[8] == '\0' || a[8] == '=')) {
            i += a[8] == '\0';
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || (eq && (size_t)(eq - a) >= sizeof flag)) {
            fprintf(stderr, "strom server: unexpected argument '%s' (see --help)\n", a);
            return CLI_USAGE;
        }
        if (eq) {
            memcpy(flag, a, (size_t)(eq - a));
            flag[eq - a] = '\0';
            v = eq + 1;
        } else {
            snprintf(flag, sizeof flag, "%s", a);
            if (i + 1 >= argc) {
                fprintf(stderr, "strom server: %s needs a value (see --help)\n", a);
                return CLI_USAGE;
            }
            v = argv[++i];
        }
        if (srv_config_set(c, flag, v, "command line") != STROM_OK) {
            fprintf(stderr, "strom server: %s\n", strom_errmsg());
            return CLI_USAGE;
        }
    }
    return -1;
}

int cmd_server(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return CLI_OK;
        }
    srv_config c;
    srv_config_defaults(&c);
    const char *path;
    if (find_config(argc, argv, &path) != 0) {
        fprintf(stderr, "strom server: --config needs a file name\n");
        return CLI_USAGE;
    }
    if (path && srv_config_load(&c, path) != STROM_OK) {
        fprintf(stderr, "strom server: %s\n", strom_errmsg());
        return CLI_USAGE;
    }
    int rc = apply_flags(&c, argc, argv);
    if (rc >= 0)
        return rc;
    return srv_run(&c) == 0 ? CLI_OK : CLI_ERR;
}
