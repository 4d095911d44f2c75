/* main.c: the `strom` command. Subcommands are dispatched from the table below. */
#include <stdio.h>
#include <string.h>

#include "strom/strom.h"

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        printf("usage: strom <command> [options]\n");
        return argc < 2 ? 2 : 0;
    }
    fprintf(stderr, "strom: unknown command '%s' (see strom --help)\n", argv[1]);
    return 2;
}
