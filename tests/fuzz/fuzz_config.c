/* libFuzzer target: any input parsed as a server config file (src/server/config.c). Never a
 * crash; a rejection carries a message naming the file and line; an accepted file leaves
 * every integer setting inside its range and every string setting NUL-terminated and
 * non-empty, and parsing it again gives the same configuration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ranges(const srv_config *c)
{
    int n;
    const srv_setting *s = srv_settings(&n);
    for (int i = 0; i < n; i++) {
        const char *p = (const char *)c + s[i].off;
        if (s[i].is_int) {
            int64_t v;
            memcpy(&v, p, sizeof v);
            if (v < s[i].min || v > s[i].max)
                abort();
        } else if (strnlen(p, s[i].cap) == s[i].cap || p[0] == '\0') {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1); /* exact size: ASan sees any read past the end */
    memcpy(copy, data, size);
    srv_config a, b;
    srv_config_defaults(&a);
    if (srv_config_parse(&a, copy, size, "fuzz.yaml") != STROM_OK) {
        if (strncmp(strom_errmsg(), "fuzz.yaml:", 10) != 0)
            abort();
    } else {
        check_ranges(&a);
        srv_config_defaults(&b);
        if (srv_config_parse(&b, copy, size, "fuzz.yaml") != STROM_OK ||
            memcmp(&a, &b, sizeof a) != 0)
            abort();
    }
    free(copy);
    return 0;
}
