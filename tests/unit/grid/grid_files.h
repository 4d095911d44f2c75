/*
 * grid_files.h: the feeder files of data/grid for the grid unit tests (include cmocka.h
 * first): the tree's root from STROM_SHARED (CTest sets it; default the current
 * directory), and load(), which fails the test when a file does not load.
 */
#ifndef STROM_TEST_GRID_FILES_H
#define STROM_TEST_GRID_FILES_H

#include <stdio.h>
#include <stdlib.h>

#include "grid.h"

static char shared[1024];      /* the tree holding data/grid (STROM_SHARED) */

static void ref_set_shared(void)
{
    const char *s = getenv("STROM_SHARED");
    snprintf(shared, sizeof shared, "%s", s ? s : ".");
}

/* A feeder file of data/grid, loaded quietly (fails the test otherwise). */
static grid_topo *load(const char *rel)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/data/grid/%s", shared, rel);
    grid_diag d = {.quiet = 1};
    grid_topo *t = NULL;
    if (grid_load(p, &t, &d))
        fail_msg("%s", d.error);
    return t;
}

#endif /* STROM_TEST_GRID_FILES_H */
