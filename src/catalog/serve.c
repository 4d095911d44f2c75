/* serve.c: the engine calls of serve.h: the append listener, raw batch reads and
 * databases. */
#include "cat_int.h"
#include "serve.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define SERVE_DEFAULT_DB "default"

void cat_set_append_listener(strom_db *db, const cat_listener *l)
{
    atomic_store(&db->listener, l);
}

void cat_notify_append(const strom_table *t, int bucket)
{
    const cat_listener *l = atomic_load_explicit(&t->db->listener, memory_order_acquire);
    if (l && l->fn)
        l->fn(l->ctx, t->e->name, bucket);
}

const char *cat_table_canonical(const strom_table *t) { return t->e->name; }

strom_err cat_read_encoded(strom_table *t, int bucket, int64_t offset, size_t max_bytes,
                           strom_buf *out, int64_t *next)
{
    strom_err e = cat_check_bucket(t, bucket);
    if (e == STROM_OK && (e = log_bucket_read_raw(t->e->buckets[bucket], offset, max_bytes, out,
                                                  next)) != STROM_OK)
        strom_fail_wrap(e, "table %s bucket %d", cat_tname(t), bucket);
    return e;
}

void cat_table_options_each(const strom_table *t, void (*fn)(void *ctx, const char *key,
                                                             const char *value), void *ctx)
{
    for (int i = 0; i < cat_opt_count(); i++) {
        const char *v = strom_table_option(t, cat_opt_name(i));
        if (v && v[0])
            fn(ctx, cat_opt_name(i), v);
    }
    const strom_schema *s = strom_table_schema(t);
    for (int c = 0; c < strom_schema_ncols(s); c++) {
        char key[2 * CAT_NAME_MAX + 32];
        snprintf(key, sizeof key, "fields.%s.agg", strom_schema_col_name(s, c));
        const char *v = strom_table_option(t, key);
        if (v && v[0])
            fn(ctx, key, v);
    }
}

/* ------------------------------------------------------------- databases */

static int db_ident(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CAT_NAME_MAX || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9')))
            return 0;
    return 1;
}

static strom_err db_dir(const strom_db *db, const char *name, const char *what, char *out)
{
    if (!name || !db_ident(name))
        return strom_fail(STROM_EINVAL, "%s: bad database name '%.200s': expected "
                          "[A-Za-z_][A-Za-z0-9_]* (up to %d bytes)", what, name ? name : "(null)",
                          CAT_NAME_MAX);
    return strom_path(out, PATH_MAX, "%s/%s", db->dir, name);
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

strom_err cat_database_create(strom_db *db, const char *name, int if_not_exists)
{
    char path[PATH_MAX];
    strom_err e = db_dir(db, name, "create database", path);
    if (e != STROM_OK)
        return e;
    pthread_mutex_lock(&db->mu);
    if (mkdir(path, 0755) != 0) {
        int err = errno;
        if (err != EEXIST || !if_not_exists)
            e = err == EEXIST ? strom_fail(STROM_EEXIST, "create database %s: it exists", name)
                              : strom_fail_errno(err, "create database %s: mkdir %s", name, path);
    } else if (strom_fsync_dir(db->dir) != 0) {
        e = strom_fail_errno(errno, "create database %s: fsync %s", name, db->dir);
    }
    pthread_mutex_unlock(&db->mu);
    return e;
}

/* The display names of the tables of database name. Owned (strom_free_names). */
static strom_err tables_of(strom_db *db, const char *name, char ***out, size_t *n)
{
    char **all = NULL;
    size_t nall = 0, k = 0, len = strlen(name);
    strom_err e = strom_table_list(db, &all, &nall);
    if (e != STROM_OK)
        return e;
    for (size_t i = 0; i < nall; i++) {
        int mine = !strcmp(name, SERVE_DEFAULT_DB) ? strchr(all[i], '.') == NULL
                   : !strncmp(all[i], name, len) && all[i][len] == '.';
        if (mine)
            all[k++] = all[i];
        else
            free(all[i]);
    }
    *out = all;
    *n = k;
    return STROM_OK;
}

strom_err cat_database_drop(strom_db *db, const char *name, int if_exists, int cascade)
{
    char path[PATH_MAX];
    strom_err e = db_dir(db, name, "drop database", path);
    if (e == STROM_OK && !strcmp(name, SERVE_DEFAULT_DB))
        return strom_fail(STROM_EINVAL, "drop database default: the default database cannot "
                          "be dropped");
    if (e != STROM_OK)
        return e;
    if (!is_dir(path))
        return if_exists ? STROM_OK
                         : strom_fail(STROM_ENOTFOUND, "drop database %s: no such database", name);
    char **tables = NULL;
    size_t n = 0;
    if ((e = tables_of(db, name, &tables, &n)) != STROM_OK)
        return e;
    if (n > 0 && !cascade)
        e = strom_fail(STROM_EBUSY, "drop database %s: it holds %zu table(s) (e.g. %s); drop "
                       "them first or use cascade", name, n, tables[0]);
    for (size_t i = 0; e == STROM_OK && i < n; i++)
        e = strom_table_drop(db, tables[i]);
    strom_free_names(tables, n);
    if (e != STROM_OK)
        return strom_fail_wrap(e, "drop database %s", name);
    int rc = strom_rmtree(path);
    if (rc == 0)
        rc = strom_fsync_dir(db->dir);
    return rc ? strom_fail_errno(rc, "drop database %s: remove %s", name, path) : STROM_OK;
}

static int has_name(char **names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], s))
            return 1;
    return 0;
}

static strom_err push_name(char ***names, size_t *n, size_t *cap, const char *s)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 8;
        char **p = strom_realloc(*names, c * sizeof *p);
        if (!p)
            return STROM_ENOMEM;
        *names = p;
        *cap = c;
    }
    if (!((*names)[*n] = strom_strdup(s)))
        return STROM_ENOMEM;
    (*n)++;
    return STROM_OK;
}

strom_err cat_database_list(strom_db *db, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    size_t cap = 0;
    DIR *d = opendir(db->dir);
    if (!d)
        return strom_fail_errno(errno, "list databases: open %s", db->dir);
    strom_err e = push_name(names, n, &cap, SERVE_DEFAULT_DB);
    struct dirent *de;
    while (e == STROM_OK && (de = readdir(d)) != NULL) {
        char sub[PATH_MAX];
        if (!db_ident(de->d_name) || has_name(*names, *n, de->d_name) ||
            strom_path(sub, sizeof sub, "%s/%s", db->dir, de->d_name) != STROM_OK || !is_dir(sub))
            continue;
        e = push_name(names, n, &cap, de->d_name);
    }
    closedir(d);
    if (e != STROM_OK) {
        strom_free_names(*names, *n);
        *names = NULL;
        *n = 0;
    }
    return e;
}
