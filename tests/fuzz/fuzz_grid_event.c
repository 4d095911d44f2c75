/* libFuzzer target for the event lines of the grid services (apps/grid/event.c): any input
 * parses or is refused with a message naming the byte; what parses is read back through
 * every accessor without going out of bounds. */
#include <stdlib.h>
#include <string.h>

#include "proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static grid_ev ev;
    char err[128] = "";
    if (grid_ev_parse((const char *)data, size, &ev, err, sizeof err)) {
        if (!strstr(err, "at byte"))
            abort();
        return 0;
    }
    for (int i = 0; i < ev.n; i++) {
        const grid_ev_member *m = &ev.m[i];
        if (grid_ev_get(&ev, m->key) == NULL || strlen(m->key) >= sizeof m->key)
            abort();
        for (int k = 0; grid_ev_arr(&ev, m->key, k); k++)
            if (k >= m->narr)
                abort();
        (void)grid_ev_str(&ev, m->key, NULL);
        (void)grid_ev_num(&ev, m->key, 0);
    }
    return 0;
}
