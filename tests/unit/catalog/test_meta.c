/* Unit tests for the table metadata file: round trip, strict parsing with file and line
 * in every message, and corruption (every byte flipped, every truncation) through the
 * public API: the damaged table is skipped, the others still open. */
#include <sys/stat.h>
#include <unistd.h>

#include "cat_test.h"

static char *read_all(const char *path, size_t *len)
{
    uint8_t *buf;
    CT_OK(strom_read_file(path, 1 << 20, &buf, len));
    return (char *)buf;
}

static void write_all(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* Replaces the crc32c line so that edited text passes the CRC check. */
static char *with_crc(const char *body)
{
    size_t n = strlen(body);
    char *s = malloc(n + 32);
    snprintf(s, n + 32, "%scrc32c %08X\n", body, strom_crc32c(0, body, n));
    return s;
}

static strom_err parse_text(const char *text, cat_meta *m)
{
    return cat_meta_parse((const uint8_t *)text, strlen(text), "T.meta", m);
}

static void test_format_parse_roundtrip(void **state)
{
    (void)state;
    cat_meta m = {0};
    strom_schema *s = ct_schema();
    m.schemas = calloc(2, sizeof *m.schemas);
    m.schemas[0] = s;
    fmt_schema_set_id(s, 1);
    m.schemas[1] = fmt_schema_clone(s);
    CT_OK(strom_schema_add(m.schemas[1], "odd name %\t=", STROM_BYTES, 0));
    fmt_schema_set_id(m.schemas[1], 2);
    m.nschemas = 2;
    m.table_id = 42;
    m.created_ms = 1736776200000;
    const char *kv[] = {"bucket.num", "4", "bucket.key", "device_id", "connector", "a b%c", NULL};
    CT_OK(cat_opts_parse(kv, m.schemas[1], &m.opts));
    strom_buf b = {0};
    CT_OK(cat_meta_format(&m, &b));
    cat_meta p;
    CT_OK(cat_meta_parse(b.data, b.len, "x", &p));
    assert_int_equal(p.table_id, 42);
    assert_int_equal(p.created_ms, 1736776200000);
    assert_int_equal(p.nschemas, 2);
    assert_true(cat_schema_same_columns(p.schemas[0], m.schemas[0]));
    assert_true(cat_schema_same_columns(p.schemas[1], m.schemas[1]));
    assert_int_equal(p.schemas[1]->id, 2);
    assert_string_equal(p.schemas[1]->cols[4].name, "odd name %\t=");
    assert_string_equal(cat_opts_get(&p.opts, "connector"), "a b%c");
    assert_int_equal(p.opts.nbuckets, 4);
    strom_buf b2 = {0};
    CT_OK(cat_meta_format(&p, &b2));
    assert_int_equal(b.len, b2.len);
    assert_memory_equal(b.data, b2.data, b.len);
    assert_non_null(strstr((char *)b.data, "column odd%20name%20%25%09= BYTES NULL\n"));
    strom_buf_free(&b);
    strom_buf_free(&b2);
    cat_meta_free(&p);
    cat_meta_free(&m);
}

static const char *HEAD = "strom-table-meta 1\ntable_id 7\ncreated_ms 5\n";

static void expect_bad(const char *body, const char *needle)
{
    char *text = with_crc(body);
    cat_meta m;
    CT_ERR(parse_text(text, &m), STROM_ECORRUPT, needle);
    assert_non_null(strstr(strom_errmsg(), "T.meta"));
    free(text);
}

static void test_semantic_errors(void **state)
{
    (void)state;
    char body[1024];
    snprintf(body, sizeof body, "%sschema 1 1\ncolumn a INT NULL\n", HEAD);
    char *ok = with_crc(body);
    cat_meta m;
    CT_OK(parse_text(ok, &m)); /* options missing from the file get defaults */
    assert_int_equal(m.opts.nbuckets, 1);
    cat_meta_free(&m);
    free(ok);
    snprintf(body, sizeof body, "%sschema 1 1\ncolumn a INTEGER NULL\n", HEAD);
    expect_bad(body, "line 5: unknown column type 'INTEGER'");
    snprintf(body, sizeof body, "%sschema 2 1\ncolumn a INT NULL\n", HEAD);
    expect_bad(body, "line 4: schema id 2 where 1 was expected");
    snprintf(body, sizeof body, "%sschema 1 2\ncolumn a INT NULL\n", HEAD);
    expect_bad(body, "line 6: schema 1 has 1 columns fewer");
    snprintf(body, sizeof body, "%sschema 1 1\ncolumn a INT NULL\ncolumn b INT NULL\n", HEAD);
    expect_bad(body, "line 6: column line outside a schema");
    snprintf(body, sizeof body, "%sschema 1 1\ncolumn a INT NULL\nschema 2 2\n"
             "column b INT NULL\ncolumn c INT NULL\n", HEAD);
    expect_bad(body, "line 7: schema 2 changes column 0");
    snprintf(body, sizeof body, "%sschema 1 1\ncolumn a INT NULL\nschema 2 2\n"
             "column a INT NULL\ncolumn c INT NOT_NULL\n", HEAD);
    expect_bad(body, "adds NOT NULL column 'c'");
    snprintf(body, sizeof body, "%soption bucket.num 0\nschema 1 1\ncolumn a INT NULL\n", HEAD);
    expect_bad(body, "option 'bucket.num'");
    snprintf(body, sizeof body, "%soption bucket.key zz\nschema 1 1\ncolumn a INT NULL\n", HEAD);
    expect_bad(body, "no column 'zz'");
    snprintf(body, sizeof body, "%sfrobnicate 1\nschema 1 1\ncolumn a INT NULL\n", HEAD);
    expect_bad(body, "line 4: unknown record 'frobnicate'");
    snprintf(body, sizeof body, "%stable_id 8\nschema 1 1\ncolumn a INT NULL\n", HEAD);
    expect_bad(body, "line 4: bad or repeated table_id");
    snprintf(body, sizeof body, "strom-table-meta 2\n");
    expect_bad(body, "line 1: unsupported metadata format version '2'");
    snprintf(body, sizeof body, "%sschema 1 1\ncolumn a%%zz INT NULL\n", HEAD);
    expect_bad(body, "line 5: bad column name");
    snprintf(body, sizeof body, "%sschema 1 1\ncolumn a INT NULL\n", HEAD);
    char *text = with_crc(body);
    size_t n = strlen(text);
    char *more = malloc(n + 8);
    snprintf(more, n + 8, "%sx\n", text);
    CT_ERR(parse_text(more, &m), STROM_ECORRUPT, "data after the crc32c line");
    text[n - 3] = text[n - 3] == '0' ? '1' : '0';
    CT_ERR(parse_text(text, &m), STROM_ECORRUPT, "line 6: CRC mismatch");
    free(more);
    free(text);
}

/* Creates t1 (the victim) and t2 in dir; returns the path of t1's metadata file. */
static void make_tables(const char *dir, char *meta_path, size_t cap)
{
    strom_db *db;
    strom_schema *s = ct_schema();
    CT_OK(strom_db_open(dir, &db));
    const char *o1[] = {"bucket.num", "2", "bucket.key", "device_id", NULL};
    CT_OK(strom_table_create(db, "t1", s, o1));
    CT_OK(strom_table_create(db, "t2", s, NULL));
    strom_db_close(db);
    strom_schema_destroy(s);
    snprintf(meta_path, cap, "%s/default/t1/table.meta", dir);
}

/* Opens dir: t1 must be skipped with a message naming its file and a line, t2 must open. */
static void check_damaged(const char *dir, const char *meta_path, int need_line)
{
    strom_db *db;
    CT_OK(strom_db_open(dir, &db));
    char **names;
    size_t n;
    CT_OK(strom_table_list(db, &names, &n));
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "t2");
    strom_free_names(names, n);
    strom_table *t;
    CT_ERR(strom_table_open(db, "t1", &t), STROM_ECORRUPT, meta_path);
    if (need_line)
        assert_non_null(strstr(strom_errmsg(), " line "));
    CT_OK(strom_table_open(db, "t2", &t));
    strom_table_close(t);
    strom_db_close(db);
}

static void test_every_flip_and_truncation(void **state)
{
    (void)state;
    char *dir = ct_tmpdir(), meta[512];
    make_tables(dir, meta, sizeof meta);
    size_t len;
    char *orig = read_all(meta, &len);
    char *copy = malloc(len);
    for (size_t i = 0; i < len; i += (i < 200 ? 1 : 7)) {
        memcpy(copy, orig, len);
        copy[i] ^= (char)(1 << (i % 8));
        write_all(meta, copy, len);
        check_damaged(dir, meta, 1);
    }
    for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : 13)) {
        write_all(meta, orig, cut);
        check_damaged(dir, meta, 1);
    }
    write_all(meta, orig, len);
    strom_db *db;
    strom_table *t;
    CT_OK(strom_db_open(dir, &db));
    CT_OK(strom_table_open(db, "t1", &t));
    assert_int_equal(strom_table_nbuckets(t), 2);
    strom_table_close(t);
    strom_db_close(db);
    free(copy);
    free(orig);
    ct_rmdir(dir);
}

static void test_missing_meta(void **state)
{
    (void)state;
    char *dir = ct_tmpdir(), meta[512];
    make_tables(dir, meta, sizeof meta);
    assert_int_equal(unlink(meta), 0);
    check_damaged(dir, meta, 0);
    ct_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_parse_roundtrip),
        cmocka_unit_test(test_semantic_errors),
        cmocka_unit_test(test_every_flip_and_truncation),
        cmocka_unit_test(test_missing_meta),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
