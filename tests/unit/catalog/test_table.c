/* Unit tests for databases and tables: create, list, drop, reopen, names, handles,
 * crash leftovers of create and drop, schema evolution persisted in the metadata. */
#include <sys/stat.h>
#include <unistd.h>

#include "cat_test.h"

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void expect_names(strom_db *db, const char *const *want, size_t nwant)
{
    char **names;
    size_t n;
    CT_OK(strom_table_list(db, &names, &n));
    assert_int_equal(n, nwant);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(names[i], want[i]);
    strom_free_names(names, n);
}

static void test_create_list_drop_reopen(void **state)
{
    (void)state;
    char *dir = ct_tmpdir(), path[600];
    strom_schema *s = ct_schema();
    strom_db *db;
    CT_OK(strom_db_open(dir, &db));
    const char *o4[] = {"bucket.num", "4", NULL};
    CT_OK(strom_table_create(db, "zeta", s, o4));
    CT_OK(strom_table_create(db, "alpha", s, NULL));
    CT_OK(strom_table_create(db, "grid.feeders", s, NULL));
    CT_ERR(strom_table_create(db, "alpha", s, NULL), STROM_EEXIST, "alpha");
    CT_ERR(strom_table_create(db, "default.alpha", s, NULL), STROM_EEXIST, "");
    const char *want[] = {"alpha", "grid.feeders", "zeta"};
    expect_names(db, want, 3);
    snprintf(path, sizeof path, "%s/default/zeta/bucket-3", dir);
    assert_true(exists(path));
    snprintf(path, sizeof path, "%s/grid/feeders/table.meta", dir);
    assert_true(exists(path));
    strom_db_close(db);

    CT_OK(strom_db_open(dir, &db));
    strom_db *db2;
    CT_ERR(strom_db_open(dir, &db2), STROM_EBUSY, "in use"); /* one owner at a time */
    expect_names(db, want, 3);
    strom_table *t, *t2;
    CT_OK(strom_table_open(db, "default.zeta", &t));
    CT_OK(strom_table_open(db, "zeta", &t2));
    assert_int_equal(strom_table_nbuckets(t), 4);
    assert_true(cat_schema_same_columns(strom_table_schema(t), s));
    assert_int_equal(strom_schema_id(strom_table_schema(t)), 1);
    CT_ERR(strom_table_drop(db, "zeta"), STROM_EBUSY, "zeta");
    strom_table_close(t);
    CT_ERR(strom_table_drop(db, "zeta"), STROM_EBUSY, "");
    strom_table_close(t2);
    CT_OK(strom_table_drop(db, "zeta"));
    CT_ERR(strom_table_drop(db, "zeta"), STROM_ENOTFOUND, "zeta");
    CT_ERR(strom_table_open(db, "zeta", &t), STROM_ENOTFOUND, "zeta");
    snprintf(path, sizeof path, "%s/default/zeta", dir);
    assert_false(exists(path));
    CT_OK(strom_table_drop(db, "grid.feeders"));
    const char *want2[] = {"alpha"};
    expect_names(db, want2, 1);
    CT_OK(strom_table_create(db, "zeta", s, NULL)); /* the name is free again */
    strom_db_close(db);
    CT_OK(strom_db_open(dir, &db));
    const char *want3[] = {"alpha", "zeta"};
    expect_names(db, want3, 2);
    CT_OK(strom_table_open(db, "zeta", &t));
    assert_int_equal(strom_table_nbuckets(t), 1);
    strom_table_close(t);
    strom_db_close(db);
    strom_schema_destroy(s);
    ct_rmdir(dir);
}

static void test_names(void **state)
{
    (void)state;
    char *dir = ct_tmpdir();
    strom_schema *s = ct_schema();
    strom_db *db;
    CT_OK(strom_db_open(dir, &db));
    const char *bad[] = {"", "1abc", "a-b", "a.b.c", ".a", "a.", "a b", "../x", "x/y",
                         "ab\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CT_ERR(strom_table_create(db, bad[i], s, NULL), STROM_EINVAL, "bad table name");
    CT_ERR(strom_table_create(db, NULL, s, NULL), STROM_EINVAL, "bad table name");
    char longname[200];
    memset(longname, 'a', 129);
    longname[129] = '\0';
    CT_ERR(strom_table_create(db, longname, s, NULL), STROM_EINVAL, "bad table name");
    longname[128] = '\0';
    CT_OK(strom_table_create(db, longname, s, NULL));
    CT_OK(strom_table_create(db, "_under_score9", s, NULL));
    strom_schema *empty = strom_schema_create();
    CT_ERR(strom_table_create(db, "e", empty, NULL), STROM_ESCHEMA, "no columns");
    strom_schema_destroy(empty);
    char **names;
    size_t n;
    CT_OK(strom_table_list(db, &names, &n));
    assert_int_equal(n, 2);
    strom_free_names(names, n);
    strom_db_close(db);
    strom_schema_destroy(s);
    ct_rmdir(dir);
}

static void test_crash_leftovers(void **state)
{
    (void)state;
    char *dir = ct_tmpdir(), path[600];
    strom_schema *s = ct_schema();
    strom_db *db;
    CT_OK(strom_db_open(dir, &db));
    CT_OK(strom_table_create(db, "keep", s, NULL));
    strom_db_close(db);
    /* A create and a drop interrupted by a crash: half-written directories. */
    snprintf(path, sizeof path, "%s/default/.create-new-9/bucket-0", dir);
    assert_int_equal(strom_mkdirs(path, 0755), 0);
    snprintf(path, sizeof path, "%s/default/.drop-old-3/bucket-0", dir);
    assert_int_equal(strom_mkdirs(path, 0755), 0);
    CT_OK(strom_db_open(dir, &db));
    const char *want[] = {"keep"};
    expect_names(db, want, 1);
    snprintf(path, sizeof path, "%s/default/.create-new-9", dir);
    assert_false(exists(path));
    snprintf(path, sizeof path, "%s/default/.drop-old-3", dir);
    assert_false(exists(path));
    strom_db_close(db);
    strom_schema_destroy(s);
    ct_rmdir(dir);
}

static void test_add_column_persists(void **state)
{
    (void)state;
    char *dir = ct_tmpdir();
    strom_schema *s = ct_schema();
    strom_db *db;
    strom_table *t;
    CT_OK(strom_db_open(dir, &db));
    CT_OK(strom_table_create(db, "t", s, NULL));
    CT_OK(strom_table_open(db, "t", &t));
    uint32_t id = 0;
    CT_OK(strom_table_add_column(t, "current", STROM_DOUBLE, &id));
    assert_int_equal(id, 2);
    CT_OK(strom_table_add_column(t, "status", STROM_STRING, &id));
    assert_int_equal(id, 3);
    CT_ERR(strom_table_add_column(t, "voltage", STROM_DOUBLE, &id), STROM_EINVAL, "voltage");
    CT_ERR(strom_table_add_column(t, "bad\nname", STROM_DOUBLE, &id), STROM_EINVAL, "control");
    const strom_schema *cur = strom_table_schema(t);
    assert_int_equal(strom_schema_ncols(cur), 6);
    assert_int_equal(strom_schema_id(cur), 3);
    assert_string_equal(strom_schema_col_name(cur, 5), "status");
    assert_true(strom_schema_col_nullable(cur, 5));
    strom_table_close(t);
    strom_db_close(db);
    CT_OK(strom_db_open(dir, &db));
    CT_OK(strom_table_open(db, "t", &t));
    cur = strom_table_schema(t);
    assert_int_equal(strom_schema_ncols(cur), 6);
    assert_int_equal(strom_schema_id(cur), 3);
    assert_int_equal(strom_schema_col_type(cur, 4), STROM_DOUBLE);
    strom_table_close(t);
    strom_db_close(db);
    strom_schema_destroy(s);
    ct_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_list_drop_reopen),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_crash_leftovers),
        cmocka_unit_test(test_add_column_persists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
