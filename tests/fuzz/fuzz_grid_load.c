/* libFuzzer target for the grid loaders (apps/grid): the first byte picks the parser
 * (even: OpenDSS, odd: MATPOWER), the rest is the file. Any input either loads or is
 * refused with a message that names the file and line ("fuzz.dss:N:" / "fuzz.m:N:") or the
 * file alone for a missing part; a loaded topology must also give a plan for its first
 * section without crashing. */
#include <stdlib.h>
#include <string.h>

#include "grid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int mp = data[0] & 1;
    const char *name = mp ? "fuzz.m" : "fuzz.dss";
    grid_diag d = {.quiet = 1};
    grid_topo *t = NULL;
    int rc = mp ? grid_load_matpower_text(name, (const char *)data + 1, size - 1, &t, &d)
                : grid_load_opendss_text(name, (const char *)data + 1, size - 1, 0, &t, &d);
    if (rc) {
        if (strncmp(d.error, name, strlen(name)) && strcmp(d.error, "out of memory"))
            abort();   /* every refusal names the file */
        return 0;
    }
    if (t->nedge > 0 && t->nedge < 2000) {
        grid_plan p;
        if (grid_plan_make(t, 0, &p, &d) == 0) {
            if (p.restored_kw > p.interrupted_kw + 1e-6 || p.lost_kw < -1e-6)
                abort();
            grid_plan_free(&p);
        }
    }
    grid_topo_destroy(t);
    return 0;
}
