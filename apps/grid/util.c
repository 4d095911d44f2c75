/* util.c: small helpers of the grid commands (grid.h): numeric options, percentiles. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "grid.h"

int grid_num_opt_set(const grid_num_opt *opts, size_t n, void *args, const char *name,
                     const char *value)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(name, opts[i].name))
            continue;
        char *end;
        errno = 0;
        double x = strtod(value, &end);
        if (errno || end == value || *end || !(x >= opts[i].min && x <= opts[i].max))
            return 1;
        *(double *)((char *)args + opts[i].off) = x;
        return 0;
    }
    return -1;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void grid_percentiles(const double *v, int64_t n, const double *q, double *out, int nq)
{
    double *s = n > 0 ? malloc((size_t)n * sizeof *s) : NULL;
    for (int i = 0; i < nq; i++)
        out[i] = 0;
    if (!s)
        return;
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_dbl);
    for (int i = 0; i < nq; i++) {
        int64_t k = (int64_t)ceil(q[i] * (double)n) - 1;
        out[i] = s[k < 0 ? 0 : k >= n ? n - 1 : k];
    }
    free(s);
}
