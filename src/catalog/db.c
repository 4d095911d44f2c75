/* db.c: opening a data directory (recovering every table's metadata), names, create,
 * drop and list. */
#include "cat_int.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_DB "default"

/* ------------------------------------------------------------------- names */

static int ident_char(char c, int first)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (!first && c >= '0' && c <= '9');
}

static int valid_ident(const char *s, size_t n)
{
    if (n == 0 || n > CAT_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!ident_char(s[i], i == 0))
            return 0;
    return 1;
}

strom_err cat_split_name(const char *name, char *db, char *table)
{
    const char *dot = name ? strchr(name, '.') : NULL;
    size_t n = name ? strlen(name) : 0;
    size_t dl = dot ? (size_t)(dot - name) : 0;
    const char *t = dot ? dot + 1 : name;
    size_t tl = dot ? n - dl - 1 : n;
    if (!name || (dot && !valid_ident(name, dl)) || !valid_ident(t, tl))
        return strom_fail(STROM_EINVAL, "bad table name '%.200s': expected [A-Za-z_][A-Za-z0-9_]* "
                          "(up to %d bytes), optionally as 'database.table'",
                          name ? name : "(null)", CAT_NAME_MAX);
    if (dot)
        memcpy(db, name, dl);
    else
        memcpy(db, DEFAULT_DB, dl = strlen(DEFAULT_DB));
    db[dl] = '\0';
    memcpy(table, t, tl);
    table[tl] = '\0';
    return STROM_OK;
}

strom_err cat_table_path(const strom_db *db, const char *dbname, const char *table, char *out,
                         size_t cap)
{
    return strom_path(out, cap, "%s/%s/%s", db->dir, dbname, table);
}

cat_entry *cat_find_locked(strom_db *db, const char *canonical)
{
    for (cat_entry *e = db->entries; e; e = e->next)
        if (!strcmp(e->name, canonical))
            return e;
    return NULL;
}

/* ----------------------------------------------------------------- entries */

static cat_entry *entry_new(const strom_db *db, const char *dbname, const char *table)
{
    cat_entry *e = strom_calloc(1, sizeof *e);
    char path[PATH_MAX];
    if (!e)
        return NULL;
    size_t nl = strlen(dbname) + strlen(table) + 2;
    e->name = strom_malloc(nl);
    e->display = strom_malloc(nl);
    if (cat_table_path(db, dbname, table, path, sizeof path) == STROM_OK)
        e->dir = strom_strdup(path);
    if (!e->name || !e->display || !e->dir) {
        cat_entry_free(e);
        return NULL;
    }
    snprintf(e->name, nl, "%s.%s", dbname, table);
    snprintf(e->display, nl, "%s%s%s", strcmp(dbname, DEFAULT_DB) ? dbname : "",
             strcmp(dbname, DEFAULT_DB) ? "." : "", table);
    pthread_rwlock_init(&e->lock, NULL);
    return e;
}

void cat_entry_free(cat_entry *e)
{
    if (!e)
        return;
    if (e->name)
        pthread_rwlock_destroy(&e->lock);
    cat_close_buckets(e);
    cat_meta_free(&e->meta);
    free(e->name);
    free(e->display);
    free(e->dir);
    free(e->broken);
    free(e);
}

/* Reads <dir>/table.meta into e; on failure keeps the message in e->broken. */
static void load_meta(cat_entry *e)
{
    char path[PATH_MAX];
    uint8_t *buf = NULL;
    size_t len = 0;
    strom_err err = strom_path(path, sizeof path, "%s/%s", e->dir, CAT_META_FILE);
    if (err == STROM_OK)
        err = strom_read_file(path, CAT_META_MAX_BYTES, &buf, &len);
    if (err == STROM_OK)
        err = cat_meta_parse(buf, len, path, &e->meta);
    free(buf);
    if (err != STROM_OK) {
        e->broken = strom_strdup(strom_errmsg());
        fprintf(stderr, "strom: table %s is skipped: %s\n", e->display, strom_errmsg());
    }
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int has_prefix(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

static strom_err scan_database(strom_db *db, const char *dbname)
{
    char path[PATH_MAX];
    strom_err err = strom_path(path, sizeof path, "%s/%s", db->dir, dbname);
    DIR *d = err == STROM_OK ? opendir(path) : NULL;
    if (!d)
        return err != STROM_OK ? err : strom_fail_errno(errno, "open database %s", path);
    struct dirent *de;
    while (err == STROM_OK && (de = readdir(d)) != NULL) {
        char sub[PATH_MAX];
        if (strom_path(sub, sizeof sub, "%s/%s", path, de->d_name) != STROM_OK || !is_dir(sub))
            continue;
        if (has_prefix(de->d_name, ".create-") || has_prefix(de->d_name, ".drop-")) {
            strom_rmtree(sub); /* an interrupted create or drop */
            continue;
        }
        if (!valid_ident(de->d_name, strlen(de->d_name)))
            continue;
        cat_entry *e = entry_new(db, dbname, de->d_name);
        if (!e) {
            err = STROM_ENOMEM;
            break;
        }
        load_meta(e);
        if (!e->broken && e->meta.table_id >= db->next_table_id)
            db->next_table_id = e->meta.table_id + 1;
        e->next = db->entries;
        db->entries = e;
    }
    closedir(d);
    return err;
}

static strom_err scan_root(strom_db *db)
{
    DIR *d = opendir(db->dir);
    if (!d)
        return strom_fail_errno(errno, "open data directory %s", db->dir);
    struct dirent *de;
    strom_err err = STROM_OK;
    while (err == STROM_OK && (de = readdir(d)) != NULL) {
        char sub[PATH_MAX];
        if (!valid_ident(de->d_name, strlen(de->d_name)) ||
            strom_path(sub, sizeof sub, "%s/%s", db->dir, de->d_name) != STROM_OK || !is_dir(sub))
            continue;
        err = scan_database(db, de->d_name);
    }
    closedir(d);
    return err;
}

/* One process at a time: an exclusive flock on <dir>/.lock, held until close. */
static strom_err lock_dir(strom_db *db)
{
    char path[PATH_MAX];
    strom_err err = strom_path(path, sizeof path, "%s/.lock", db->dir);
    if (err != STROM_OK)
        return err;
    db->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (db->lock_fd < 0)
        return strom_fail_errno(errno, "open %s", path);
    if (flock(db->lock_fd, LOCK_EX | LOCK_NB) < 0)
        return errno == EWOULDBLOCK
                   ? strom_fail(STROM_EBUSY, "data directory %s is in use by another strom_db "
                                "(lock %s)", db->dir, path)
                   : strom_fail_errno(errno, "lock %s", path);
    return STROM_OK;
}

strom_err strom_db_open(const char *dir, strom_db **out)
{
    *out = NULL;
    if (!dir || !dir[0])
        return strom_fail(STROM_EINVAL, "strom_db_open: no directory given");
    int rc = strom_mkdirs(dir, 0755);
    if (rc != 0)
        return strom_fail_errno(rc, "create data directory %s", dir);
    strom_db *db = strom_calloc(1, sizeof *db);
    if (!db || !(db->dir = strom_strdup(dir))) {
        free(db);
        return STROM_ENOMEM;
    }
    pthread_mutex_init(&db->mu, NULL);
    pthread_mutex_init(&db->pool.mu, NULL);
    pthread_cond_init(&db->pool.cv, NULL);
    db->next_table_id = 1;
    db->lock_fd = -1;
    strom_err err = lock_dir(db);
    if (err == STROM_OK)
        err = scan_root(db);
    if (err != STROM_OK) {
        strom_db_close(db);
        return err;
    }
    *out = db;
    return STROM_OK;
}

void strom_db_close(strom_db *db)
{
    if (!db)
        return;
    cat_pool_shutdown(db);
    cat_scratch_free_all(db);
    while (db->entries) {
        cat_entry *e = db->entries;
        db->entries = e->next;
        cat_entry_free(e);
    }
    pthread_cond_destroy(&db->pool.cv);
    pthread_mutex_destroy(&db->pool.mu);
    pthread_mutex_destroy(&db->mu);
    if (db->lock_fd >= 0)
        close(db->lock_fd);
    free(db->dir);
    free(db);
}

/* ------------------------------------------------------------------ create */

static strom_err check_schema(const strom_schema *s, const char *name)
{
    if (!s || s->ncols < 1)
        return strom_fail(STROM_ESCHEMA, "create table %s: the schema has no columns", name);
    for (int i = 0; i < s->ncols; i++) {
        const char *c = s->cols[i].name;
        if (strlen(c) > 2 * CAT_NAME_MAX)
            return strom_fail(STROM_ESCHEMA, "create table %s: column name '%.40s...' is longer "
                              "than %d bytes", name, c, 2 * CAT_NAME_MAX);
        for (const char *p = c; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return strom_fail(STROM_ESCHEMA, "create table %s: column %d name contains a "
                                  "control character", name, i);
    }
    return STROM_OK;
}

static strom_err build_meta(const char *name, const strom_schema *s, const char *const *opts,
                            cat_meta *m)
{
    memset(m, 0, sizeof *m);
    strom_err err = check_schema(s, name);
    if (err != STROM_OK)
        return err;
    m->schemas = strom_calloc(1, sizeof *m->schemas);
    if (!m->schemas || !(m->schemas[0] = fmt_schema_clone(s))) {
        free(m->schemas);
        m->schemas = NULL;
        return strom_fail(STROM_ENOMEM, "create table %s: out of memory", name);
    }
    m->nschemas = 1;
    fmt_schema_set_id(m->schemas[0], 1);
    m->created_ms = strom_now_ms();
    err = cat_opts_parse(opts, s, &m->opts);
    if (err != STROM_OK) {
        strom_fail_wrap(err, "create table %s", name);
        cat_meta_free(m);
    }
    return err;
}

/* Writes the whole table into tmp (metadata, bucket directories). */
static strom_err write_table_dir(const char *tmp, const cat_meta *m)
{
    char path[PATH_MAX];
    int rc = strom_mkdirs(tmp, 0755);
    if (rc != 0)
        return strom_fail_errno(rc, "create %s", tmp);
    strom_buf b = {0};
    strom_err err = cat_meta_format(m, &b);
    if (err == STROM_OK)
        err = strom_path(path, sizeof path, "%s/%s", tmp, CAT_META_FILE);
    if (err == STROM_OK)
        err = strom_write_file_atomic(path, b.data, b.len);
    strom_buf_free(&b);
    for (int i = 0; err == STROM_OK && i < m->opts.nbuckets; i++) {
        err = strom_path(path, sizeof path, "%s/bucket-%d", tmp, i);
        if (err == STROM_OK && mkdir(path, 0755) < 0)
            err = strom_fail_errno(errno, "create %s", path);
    }
    if (err == STROM_OK && (rc = strom_fsync_dir(tmp)) != 0)
        err = strom_fail_errno(rc, "fsync %s", tmp);
    return err;
}

static strom_err install_table(strom_db *db, const char *dbn, const char *tn, cat_meta *m,
                               cat_entry **out)
{
    char tmp[PATH_MAX], parent[PATH_MAX];
    cat_entry *e = entry_new(db, dbn, tn);
    strom_err err = e ? STROM_OK : STROM_ENOMEM;
    if (err == STROM_OK)
        err = strom_path(parent, sizeof parent, "%s/%s", db->dir, dbn);
    if (err == STROM_OK)
        err = strom_path(tmp, sizeof tmp, "%s/.create-%s-%llu", parent, tn,
                         (unsigned long long)m->table_id);
    if (err == STROM_OK)
        err = write_table_dir(tmp, m);
    if (err == STROM_OK && rename(tmp, e->dir) < 0)
        err = strom_fail_errno(errno, "rename %s to %s", tmp, e->dir);
    if (err == STROM_OK && strom_fsync_dir(parent) != 0)
        err = strom_fail_errno(errno, "fsync %s", parent);
    if (err != STROM_OK) {
        if (e)
            strom_rmtree(tmp);
        cat_entry_free(e);
        return err;
    }
    e->meta = *m;
    memset(m, 0, sizeof *m);
    *out = e;
    return STROM_OK;
}

strom_err strom_table_create(strom_db *db, const char *name, const strom_schema *schema,
                             const char *const *options)
{
    char dbn[CAT_NAME_MAX + 1], tn[CAT_NAME_MAX + 1], canon[2 * CAT_NAME_MAX + 2];
    cat_meta m;
    strom_err err = cat_split_name(name, dbn, tn);
    if (err == STROM_OK)
        err = build_meta(name, schema, options, &m);
    if (err != STROM_OK)
        return err;
    snprintf(canon, sizeof canon, "%s.%s", dbn, tn);
    pthread_mutex_lock(&db->mu);
    cat_entry *e = NULL;
    if (cat_find_locked(db, canon))
        err = strom_fail(STROM_EEXIST, "create table %s: it already exists", name);
    if (err == STROM_OK) {
        m.table_id = db->next_table_id++;
        err = install_table(db, dbn, tn, &m, &e);
    }
    if (err == STROM_OK) {
        e->next = db->entries;
        db->entries = e;
    }
    pthread_mutex_unlock(&db->mu);
    cat_meta_free(&m);
    return err;
}

/* -------------------------------------------------------------- drop, list */

static void unlink_entry(strom_db *db, cat_entry *e)
{
    for (cat_entry **p = &db->entries; *p; p = &(*p)->next)
        if (*p == e) {
            *p = e->next;
            return;
        }
}

strom_err strom_table_drop(strom_db *db, const char *name)
{
    char dbn[CAT_NAME_MAX + 1], tn[CAT_NAME_MAX + 1], canon[2 * CAT_NAME_MAX + 2];
    char tomb[PATH_MAX];
    strom_err err = cat_split_name(name, dbn, tn);
    if (err != STROM_OK)
        return err;
    snprintf(canon, sizeof canon, "%s.%s", dbn, tn);
    pthread_mutex_lock(&db->mu);
    cat_entry *e = cat_find_locked(db, canon);
    if (!e)
        err = strom_fail(STROM_ENOTFOUND, "drop table %s: no such table", name);
    else if (e->refs > 0)
        err = strom_fail(STROM_EBUSY, "drop table %s: %d handle(s) still open", name, e->refs);
    if (err == STROM_OK)
        err = strom_path(tomb, sizeof tomb, "%s/%s/.drop-%s-%llu", db->dir, dbn, tn,
                         (unsigned long long)db->next_table_id++);
    if (err == STROM_OK && rename(e->dir, tomb) < 0)
        err = strom_fail_errno(errno, "drop table %s: rename %s", name, e->dir);
    if (err == STROM_OK) {
        unlink_entry(db, e);
    }
    pthread_mutex_unlock(&db->mu);
    if (err != STROM_OK)
        return err;
    char parent[PATH_MAX];
    if (strom_path(parent, sizeof parent, "%s/%s", db->dir, dbn) == STROM_OK)
        strom_fsync_dir(parent);
    cat_entry_free(e);
    int rc = strom_rmtree(tomb);
    if (rc != 0)
        return strom_fail_errno(rc, "drop table %s: remove %s (removed on next open)", name, tomb);
    return STROM_OK;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

strom_err strom_table_list(strom_db *db, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    pthread_mutex_lock(&db->mu);
    size_t cnt = 0, i = 0;
    for (cat_entry *e = db->entries; e; e = e->next)
        cnt += !e->broken;
    char **v = strom_calloc(cnt + 1, sizeof *v);
    for (cat_entry *e = db->entries; v && e; e = e->next)
        if (!e->broken && !(v[i++] = strom_strdup(e->display))) {
            strom_free_names(v, cnt);
            v = NULL;
        }
    pthread_mutex_unlock(&db->mu);
    if (!v)
        return STROM_ENOMEM;
    qsort(v, cnt, sizeof *v, cmp_names);
    *names = v;
    *n = cnt;
    return STROM_OK;
}

void strom_free_names(char **names, size_t n)
{
    if (!names)
        return;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}
