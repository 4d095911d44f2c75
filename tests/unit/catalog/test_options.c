/* Unit tests for the table option registry: every option's parsing, defaults, and
 * rejection with messages naming the option and the value. */
#include "cat_test.h"

static strom_schema *g_schema;

static strom_err parse1(const char *k, const char *v, cat_opts *o)
{
    const char *kv[] = {k, v, NULL};
    return cat_opts_parse(kv, g_schema, o);
}

static void test_defaults(void **state)
{
    (void)state;
    cat_opts o;
    CT_OK(cat_opts_parse(NULL, g_schema, &o));
    assert_int_equal(o.nbuckets, 1);
    assert_int_equal(o.nbucket_key, 0);
    assert_int_equal(o.codec, FMT_CODEC_ZSTD);
    assert_int_equal(o.zstd_level, 3);
    assert_int_equal(o.plain_only, 0);
    assert_int_equal(o.flush, LOG_FLUSH_SYNC);
    assert_int_equal(o.flush_interval_ms, 1000);
    assert_int_equal(o.segment_bytes, 256LL << 20);
    assert_int_equal(o.ttl_ms, 7LL * 24 * 3600 * 1000);
    assert_int_equal(o.nindex_key, 0);
    assert_int_equal(o.index_interval_bytes, 4096);
    assert_int_equal(o.time_col, -1);
    assert_string_equal(cat_opts_get(&o, "bucket.num"), "1");
    assert_string_equal(cat_opts_get(&o, "table.log.compression"), "ZSTD");
    assert_string_equal(cat_opts_get(&o, "table.log.ttl"), "7 d");
    assert_string_equal(cat_opts_get(&o, "bucket.key"), "");
    assert_null(cat_opts_get(&o, "no.such"));
    cat_opts_free(&o);
}

static void test_sizes_and_durations(void **state)
{
    (void)state;
    struct { const char *v; int64_t want; } sizes[] = {
        {"256mb", 256LL << 20}, {"1gb", 1LL << 30}, {"4096", 4096}, {"64 KiB", 64 << 10},
        {"2G", 2LL << 30}, {" 10 b ", 10}, {"1tb", 1LL << 40}};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        int64_t got = -1;
        CT_OK(cat_parse_size("x", sizes[i].v, &got));
        assert_int_equal(got, sizes[i].want);
    }
    struct { const char *v; int64_t want; } durs[] = {
        {"7 d", 7LL * 86400000}, {"168h", 168LL * 3600000}, {"30 min", 1800000},
        {"1000 ms", 1000}, {"5s", 5000}, {"250", 250}, {"2 days", 2LL * 86400000},
        {"1 Hour", 3600000}};
    for (size_t i = 0; i < sizeof durs / sizeof *durs; i++) {
        int64_t got = -1;
        CT_OK(cat_parse_duration("x", durs[i].v, &got));
        assert_int_equal(got, durs[i].want);
    }
    int64_t v;
    const char *bad[] = {"", "mb", "-5", "12 parsecs", "1.5gb", "99999999999999999999",
                         "9999999999999 tb"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CT_ERR(cat_parse_size("table.log.segment.bytes", bad[i], &v), STROM_EOPTION,
               "table.log.segment.bytes");
        CT_ERR(cat_parse_duration("table.log.ttl", bad[i], &v), STROM_EOPTION, "table.log.ttl");
    }
}

/* From fuzz_options: numbers from 922337203685477581 on were refused as "not a size"
 * (a check that left 9 of headroom for every digit), INT64_MAX itself included. */
static void test_sizes_up_to_int64_max(void **state)
{
    (void)state;
    int64_t v = 0;
    CT_OK(cat_parse_size("x", "9223372036854775807", &v));
    assert_true(v == INT64_MAX);
    CT_OK(cat_parse_duration("x", "0009223372036854775807 ms", &v));
    assert_true(v == INT64_MAX);
    CT_OK(cat_parse_size("x", "8388607 tb", &v));   /* (2^23 - 1) * 2^40 */
    assert_true(v == ((1LL << 23) - 1) << 40);
    CT_ERR(cat_parse_size("x", "9223372036854775808", &v), STROM_EOPTION, "is too large");
    CT_ERR(cat_parse_size("x", "8388608 tb", &v), STROM_EOPTION, "is too large");
    cat_opts o;   /* an integer option: out of range, not "not an integer" */
    CT_ERR(parse1("bucket.num", "99999999999999999999", &o), STROM_EOPTION, "out of range");
    CT_ERR(parse1("bucket.num", "99999999999999999999x", &o), STROM_EOPTION, "not an integer");
}

static void test_each_option_accepts(void **state)
{
    (void)state;
    cat_opts o;
    const char *kv[] = {"bucket.num", "16", "bucket.key", "device_id",
                        "table.log.compression", "lz4", "table.log.compression.zstd.level", "19",
                        "table.log.encoding", "PLAIN", "table.log.flush", "Interval",
                        "table.log.flush.interval", "250 ms", "table.log.segment.bytes", "1gb",
                        "table.log.ttl", "inf", "table.log.index.key", " device_id , seq ",
                        "table.log.index.interval.bytes", "64kb",
                        "table.time-column", "event_time", "connector", "fluss",
                        "bootstrap.servers", "coordinator-server:9123", NULL};
    CT_OK(cat_opts_parse(kv, g_schema, &o));
    assert_int_equal(o.nbuckets, 16);
    assert_int_equal(o.nbucket_key, 1);
    assert_int_equal(o.bucket_key[0], 0);
    assert_int_equal(o.codec, FMT_CODEC_LZ4);
    assert_string_equal(cat_opts_get(&o, "table.log.compression"), "LZ4");
    assert_int_equal(o.zstd_level, 19);
    assert_int_equal(o.plain_only, 1);
    assert_int_equal(o.flush, LOG_FLUSH_INTERVAL);
    assert_string_equal(cat_opts_get(&o, "table.log.flush"), "interval");
    assert_int_equal(o.flush_interval_ms, 250);
    assert_int_equal(o.segment_bytes, 1LL << 30);
    assert_true(o.ttl_ms < 0);
    assert_int_equal(o.nindex_key, 2);
    assert_int_equal(o.index_key[0], 0);
    assert_int_equal(o.index_key[1], 3);
    assert_int_equal(o.index_interval_bytes, 64 << 10);
    assert_int_equal(o.time_col, 1);
    assert_string_equal(cat_opts_get(&o, "bootstrap.servers"), "coordinator-server:9123");
    cat_opts_free(&o);
    CT_OK(parse1("table.log.ttl", "-1", &o));
    assert_true(o.ttl_ms < 0);
    cat_opts_free(&o);
    CT_OK(parse1("table.time-column", "seq", &o)); /* BIGINT is allowed */
    assert_int_equal(o.time_col, 3);
    cat_opts_free(&o);
    CT_OK(parse1("table.log.compression", "none", &o));
    assert_int_equal(o.codec, FMT_CODEC_NONE);
    cat_opts_free(&o);
}

static void test_rejections(void **state)
{
    (void)state;
    cat_opts o;
    struct { const char *k, *v, *needle; strom_err code; } bad[] = {
        {"bucket.num", "0", "'0'", STROM_EOPTION},
        {"bucket.num", "1025", "bucket.num", STROM_EOPTION},
        {"bucket.num", "four", "'four'", STROM_EOPTION},
        {"bucket.key", "nope", "no column 'nope'", STROM_EOPTION},
        {"bucket.key", "device_id,device_id", "twice", STROM_EOPTION},
        {"bucket.key", "device_id,,seq", "bucket.key", STROM_EOPTION},
        {"table.log.compression", "gzip", "'gzip' is not one of NONE, ZSTD, LZ4", STROM_EOPTION},
        {"table.log.compression.zstd.level", "20", "zstd.level", STROM_EOPTION},
        {"table.log.compression.zstd.level", "0", "'0'", STROM_EOPTION},
        {"table.log.encoding", "fancy", "table.log.encoding", STROM_EOPTION},
        {"table.log.flush", "always", "'always'", STROM_EOPTION},
        {"table.log.flush.interval", "0", "table.log.flush.interval", STROM_EOPTION},
        {"table.log.flush.interval", "soon", "'soon'", STROM_EOPTION},
        {"table.log.segment.bytes", "12 parsecs", "'12 parsecs'", STROM_EOPTION},
        {"table.log.segment.bytes", "10", "table.log.segment.bytes", STROM_EOPTION},
        {"table.log.ttl", "forever", "table.log.ttl", STROM_EOPTION},
        {"table.log.ttl", "0", "table.log.ttl", STROM_EOPTION},
        {"table.log.index.key", "device_id,a", "no column 'a'", STROM_EOPTION},
        {"table.log.index.interval.bytes", "0", "index.interval.bytes", STROM_EOPTION},
        {"table.time-column", "voltage", "not TIMESTAMP(3) or BIGINT", STROM_EOPTION},
        {"table.watermark.delay-ms", "5 s", "'5 s' is not an integer", STROM_EOPTION},
        {"table.watermark.idle-ms", "-1", "table.watermark.idle-ms", STROM_EOPTION},
        {"table.time-column", "event_time,seq", "more than one", STROM_EOPTION},
        {"table.time-column", "when", "no column 'when' (columns: device_id, event_time",
         STROM_EOPTION},
        {"bucket.nmu", "4", "known options: bucket.num, bucket.key", STROM_EOPTION},
        /* primary-key options on a table without a primary key (test_pk.c: with one) */
        {"table.merge-engine", "versioned", "applies to primary-key tables only", STROM_EOPTION},
        {"table.kv.ttl", "1 d", "primary-key", STROM_EOPTION},
        {"table.changelog.image", "WAL", "primary-key", STROM_EOPTION},
        {"fields.voltage.agg", "sum", "fields.voltage.agg", STROM_EOPTION},
        {"connector", "a\nb", "control character", STROM_EOPTION},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CT_ERR(parse1(bad[i].k, bad[i].v, &o), bad[i].code, bad[i].needle);
    const char *twice[] = {"bucket.num", "2", "bucket.num", "3", NULL};
    CT_ERR(cat_opts_parse(twice, g_schema, &o), STROM_EOPTION, "given twice");
    const char *noval[] = {"bucket.num", NULL};
    CT_ERR(cat_opts_parse(noval, g_schema, &o), STROM_EOPTION, "no value");
}

static void test_help_lists_all(void **state)
{
    (void)state;
    const char *h = strom_table_option_help();
    for (int i = 0; i < cat_opt_count(); i++)
        assert_non_null(strstr(h, cat_opt_name(i)));
    assert_non_null(strstr(h, "256mb"));
    assert_non_null(strstr(h, "fields.<col>.agg"));
}

static void test_create_rejects_through_api(void **state)
{
    (void)state;
    char *dir = ct_tmpdir();
    strom_db *db;
    CT_OK(strom_db_open(dir, &db));
    const char *opts[] = {"bucket.num", "4", "table.log.segmnet.bytes", "1mb", NULL};
    CT_ERR(strom_table_create(db, "t", g_schema, opts), STROM_EOPTION,
           "unknown table option 'table.log.segmnet.bytes'");
    assert_non_null(strstr(strom_errmsg(), "table.log.segment.bytes"));
    const char *pk[] = {"table.merge-engine", "first_row", NULL};
    CT_ERR(strom_table_create(db, "t", g_schema, pk), STROM_EOPTION, "primary-key");
    char **names;
    size_t n;
    CT_OK(strom_table_list(db, &names, &n));
    assert_int_equal(n, 0); /* nothing left behind */
    strom_free_names(names, n);
    const char *ok[] = {"bucket.num", "3", "table.log.compression", "lz4", NULL};
    CT_OK(strom_table_create(db, "t", g_schema, ok));
    strom_table *t;
    CT_OK(strom_table_open(db, "t", &t));
    assert_string_equal(strom_table_option(t, "table.log.compression"), "LZ4");
    assert_string_equal(strom_table_option(t, "table.log.segment.bytes"), "256mb");
    assert_null(strom_table_option(t, "bogus"));
    assert_int_equal(strom_table_nbuckets(t), 3);
    strom_table_close(t);
    strom_db_close(db);
    ct_rmdir(dir);
}

static int setup(void **state)
{
    (void)state;
    g_schema = ct_schema();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    strom_schema_destroy(g_schema);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_sizes_and_durations),
        cmocka_unit_test(test_sizes_up_to_int64_max),
        cmocka_unit_test(test_each_option_accepts),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_help_lists_all),
        cmocka_unit_test(test_create_rejects_through_api),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
