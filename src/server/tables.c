/* tables.c: the server's open table handles, shared by every thread. Opening a table costs
 * (buckets, key-index warm-up), so a handle stays open after its first use; requests take a
 * reference for their duration. A drop closes the idle handle first (the engine refuses to
 * drop a table with open handles). */
#include "srv_int.h"

#include <stdlib.h>

struct srv_table {
    srv_table *next;
    strom_table *t;
    int refs;
    char name[];           /* canonical "db.table" */
};

strom_err srv_canonical(proto_str name, char *out, size_t cap)
{
    const char *dot = name.len ? memchr(name.p, '.', name.len) : NULL;
    int n = dot ? snprintf(out, cap, "%.*s", (int)name.len, name.p)
                : snprintf(out, cap, "default.%.*s", (int)name.len, name.p);
    if (name.len == 0 || n < 0 || (size_t)n >= cap || memchr(name.p, '\0', name.len))
        return strom_fail(STROM_EINVAL, "bad table name '%.*s'", (int)STROM_MIN(name.len, 200),
                          name.p ? name.p : "");
    return STROM_OK;
}

static srv_table *find_locked(srv_server *s, const char *canon)
{
    for (srv_table *h = s->tables; h; h = h->next)
        if (!strcmp(h->name, canon))
            return h;
    return NULL;
}

strom_err srv_table_get(srv_server *s, srv_slot *slot, proto_str name, srv_table **out,
                        strom_table **t)
{
    char canon[300];
    strom_err e = srv_canonical(name, canon, sizeof canon);
    if (e != STROM_OK)
        return e;
    pthread_mutex_lock(&s->tmu);
    srv_table *h = find_locked(s, canon);
    if (!h && slot && slot->on_loop) { /* opening may take long: not on an I/O thread */
        slot->requeue = 1;
        e = strom_fail(STROM_EBUSY, "table %s is not open yet; the request moves to a worker",
                       canon);
    } else if (!h) {
        size_t n = strlen(canon) + 1;
        h = strom_calloc(1, sizeof *h + n);
        if (h)
            memcpy(h->name, canon, n);
        e = !h ? STROM_ENOMEM : strom_table_open(s->db, canon, &h->t);
        if (e == STROM_OK) {
            h->next = s->tables;
            s->tables = h;
        } else {
            free(h);
            h = NULL;
        }
    }
    if (h)
        h->refs++;
    pthread_mutex_unlock(&s->tmu);
    *out = h;
    *t = h ? h->t : NULL;
    return e;
}

void srv_table_put(srv_server *s, srv_table *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&s->tmu);
    h->refs--;
    pthread_mutex_unlock(&s->tmu);
}

/* Closes the idle handles whose canonical name starts with prefix (whole name when
 * exact). EBUSY naming the table if one is in use. Under tmu. */
static strom_err close_idle_locked(srv_server *s, const char *prefix, int exact)
{
    size_t n = strlen(prefix);
    for (srv_table *h = s->tables; h; h = h->next)
        if ((exact ? !strcmp(h->name, prefix) : !strncmp(h->name, prefix, n)) && h->refs > 0)
            return strom_fail(STROM_EBUSY, "table %s is in use by a request; retry", h->name);
    for (srv_table **p = &s->tables; *p;) {
        srv_table *h = *p;
        if (exact ? !strcmp(h->name, prefix) : !strncmp(h->name, prefix, n)) {
            *p = h->next;
            strom_table_close(h->t);
            free(h);
        } else {
            p = &h->next;
        }
    }
    return STROM_OK;
}

strom_err srv_table_drop(srv_server *s, const char *name)
{
    char canon[300];
    strom_err e = srv_canonical(proto_s(name), canon, sizeof canon);
    if (e != STROM_OK)
        return e;
    pthread_mutex_lock(&s->tmu);
    e = close_idle_locked(s, canon, 1);
    if (e == STROM_OK)
        e = strom_table_drop(s->db, name);
    pthread_mutex_unlock(&s->tmu);
    return e;
}

strom_err srv_database_drop(srv_server *s, const char *name, int if_exists, int cascade)
{
    char prefix[300];
    if (snprintf(prefix, sizeof prefix, "%s.", name) >= (int)sizeof prefix)
        return strom_fail(STROM_EINVAL, "drop database: name too long");
    pthread_mutex_lock(&s->tmu);
    strom_err e = close_idle_locked(s, prefix, 0);
    if (e == STROM_OK)
        e = cat_database_drop(s->db, name, if_exists, cascade);
    pthread_mutex_unlock(&s->tmu);
    return e;
}

void srv_tables_close(srv_server *s)
{
    pthread_mutex_lock(&s->tmu);
    while (s->tables) {
        srv_table *h = s->tables;
        s->tables = h->next;
        strom_table_flush(h->t);
        strom_table_close(h->t);
        free(h);
    }
    pthread_mutex_unlock(&s->tmu);
}
