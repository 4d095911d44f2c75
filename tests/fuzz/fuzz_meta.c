/* libFuzzer target for the table metadata parser (src/catalog/meta.c): any input is
 * either rejected with ECORRUPT (and a message) or parsed into metadata that formats back
 * to bytes which parse again to the same schemas and options. */
#include <stdio.h>
#include <stdlib.h>

#include "catalog/catalog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_one(const uint8_t *data, size_t size)
{
    cat_meta m;
    if (cat_meta_parse(data, size, "fuzz.meta", &m) != STROM_OK) {
        if (strom_errmsg()[0] == '\0')
            abort(); /* every rejection says why */
        return 0;
    }
    strom_buf b = {0};
    cat_meta again;
    if (cat_meta_format(&m, &b) != STROM_OK || cat_meta_parse(b.data, b.len, "re", &again))
        abort();
    if (again.nschemas != m.nschemas || again.table_id != m.table_id)
        abort();
    for (int i = 0; i < m.nschemas; i++)
        if (!cat_schema_same_columns(again.schemas[i], m.schemas[i]) ||
            again.schemas[i]->npk != m.schemas[i]->npk ||
            memcmp(again.schemas[i]->pk, m.schemas[i]->pk, sizeof(int) * (size_t)m.schemas[i]->npk))
            abort();
    for (int i = 0; i < cat_opt_count(); i++)
        if (strcmp(cat_opts_get(&m.opts, cat_opt_name(i)),
                   cat_opts_get(&again.opts, cat_opt_name(i))))
            abort();
    if (memcmp(again.opts.agg, m.opts.agg, sizeof m.opts.agg) ||   /* merge engine options */
        again.opts.merge_engine != m.opts.merge_engine || again.opts.ver_col != m.opts.ver_col)
        abort();
    cat_meta_free(&again);
    cat_meta_free(&m);
    strom_buf_free(&b);
    return 0;
}

/* The input as is, then with a correct crc32c line appended, so that the fuzzer reaches
 * the checks behind the CRC (option validation) without having to forge CRCs. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_one(data, size);
    strom_buf b = {0};
    char line[32];
    snprintf(line, sizeof line, "crc32c %08X\n", strom_crc32c(0, data, size));
    if (strom_buf_append(&b, data, size) == STROM_OK &&
        strom_buf_append(&b, line, strlen(line)) == STROM_OK)
        check_one(b.data, b.len);
    strom_buf_free(&b);
    return 0;
}
