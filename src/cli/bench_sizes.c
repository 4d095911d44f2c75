/*
 * bench_sizes.c: part of `strom bench log`: what the encoders and codecs buy.
 *
 * The same sample of telemetry rows goes into one-bucket tables that differ only in
 * 'table.log.encoding' (plain | auto: delta, dictionary, decimal...) and
 * 'table.log.compression' (NONE | LZ4 | ZSTD), with flush = none, so the append rate of
 * each is about the cost of encoding (one thread, building rows included). Reported:
 * segment bytes per row and rows/s of each variant.
 */
#include <string.h>

#include "cli.h"
#include "telemetry.h"

static const struct {
    const char *encoding, *codec;
} variants[BENCH_SIZE_VARIANTS] = {
    {"plain", "NONE"}, {"plain", "ZSTD"}, {"auto", "NONE"}, {"auto", "LZ4"}, {"auto", "ZSTD"},
};

const char *bench_size_variant_name(int i, char *buf, size_t n)
{
    snprintf(buf, n, "%s_%s", variants[i].encoding, variants[i].codec);
    for (char *p = buf; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    return buf;
}

static strom_err create_variant(strom_db *db, const char *name, int i)
{
    const char *opts[] = {"bucket.key", "device_id", "table.log.index.key", "device_id",
                          "table.time-column", "event_time",
                          "table.log.encoding", variants[i].encoding,
                          "table.log.compression", variants[i].codec,
                          "table.log.flush", "none", NULL};
    return tele_table_create_opts(db, name, opts);
}

/* Appends rows of a fresh stream into t; returns the first error. */
static strom_err fill_table(strom_table *t, const struct tele_model *m, int64_t rows)
{
    strom_builder *b = tele_builder_create();
    if (!b)
        return STROM_ENOMEM;
    tele_stream ts;
    tele_stream_init(&ts, m, 0, tele_model_ndevices(m), 7);
    strom_err e = STROM_OK;
    for (int64_t done = 0; done < rows && !e; done += 8192) {
        strom_builder_reset(b);
        e = tele_fill(&ts, b, rows - done < 8192 ? rows - done : 8192);
        if (!e)
            e = strom_table_append(t, b, NULL);
    }
    strom_builder_destroy(b);
    return e ? e : strom_table_flush(t);
}

static int measure_variant(strom_db *db, const struct tele_model *m, int64_t rows, int i,
                           bench_size *out)
{
    char name[64], vn[32];
    snprintf(name, sizeof name, "sizes_%s", bench_size_variant_name(i, vn, sizeof vn));
    strom_table *t = NULL;
    strom_err e = create_variant(db, name, i);
    if (!e)
        e = strom_table_open(db, name, &t);
    double t0 = cli_now();
    if (!e)
        e = fill_table(t, m, rows);
    double secs = cli_now() - t0;
    strom_bucket_stats st;
    if (!e)
        e = cli_table_stats(t, &st);
    strom_table_close(t);
    if (e)
        return cli_fail(e, name);
    out->bytes_per_row[i] = (double)st.bytes_on_disk / (double)rows;
    out->rows_per_s[i] = (double)rows / secs;
    e = strom_table_drop(db, name);
    return e ? cli_fail(e, name) : CLI_OK;
}

int bench_log_sizes(strom_db *db, const struct tele_model *m, int64_t rows, bench_size *out)
{
    memset(out, 0, sizeof *out);
    out->rows = rows;
    for (int i = 0; i < BENCH_SIZE_VARIANTS; i++) {
        int rc = measure_variant(db, m, rows, i, out);
        if (rc != CLI_OK)
            return rc;
    }
    return CLI_OK;
}
