/* test_wait.c: the long-poll wakeup primitive. (1) The catalog's append listener
 * (src/catalog/serve.h) is called after every kind of append, with the table's canonical
 * name and the bucket, once the rows are visible (the callback reads the end offset and
 * finds them). (2) The server's registry of parked fetches (src/server/wait.c): a
 * notification fires exactly the parked slots watching that table and bucket and wakes
 * their loop's eventfd; an append between a fetch's read and its parking makes the park
 * fail (no lost wakeup); cancel unregisters. (3) Both together: an engine append wakes a
 * parked slot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "server/srv_int.h"

#define MAXCALLS 64

typedef struct calls {
    pthread_mutex_t mu;
    int n;
    char table[MAXCALLS][64];
    int bucket[MAXCALLS];
    int64_t end[MAXCALLS];     /* end offset of the bucket seen inside the callback */
    strom_table *t;            /* read inside the callback */
} calls;

static void on_append(void *ctx, const char *table, int bucket)
{
    calls *c = ctx;
    pthread_mutex_lock(&c->mu);
    if (c->n < MAXCALLS) {
        snprintf(c->table[c->n], sizeof c->table[0], "%s", table);
        c->bucket[c->n] = bucket;
        int64_t e = -1, end = -1;
        if (c->t && bucket >= 0)
            strom_table_offsets(c->t, bucket, &e, &end);
        c->end[c->n] = end;
        c->n++;
    }
    pthread_mutex_unlock(&c->mu);
}

static char dir[256];

static strom_builder *rows(const strom_schema *s, int n, int64_t base)
{
    strom_builder *b = strom_builder_create(s);
    for (int i = 0; i < n; i++) {
        assert_int_equal(strom_builder_put_int(b, 0, base + i), STROM_OK);
        assert_int_equal(strom_builder_put_f64(b, 1, i * 0.5), STROM_OK);
        assert_int_equal(strom_builder_end_row(b), STROM_OK);
    }
    return b;
}

static strom_schema *schema(int pk)
{
    strom_schema *s = strom_schema_create();
    assert_int_equal(strom_schema_add(s, "k", STROM_BIGINT, 1), STROM_OK);
    assert_int_equal(strom_schema_add(s, "v", STROM_DOUBLE, 0), STROM_OK);
    const char *k = "k";
    if (pk)
        assert_int_equal(strom_schema_set_primary_key(s, &k, 1), STROM_OK);
    return s;
}

static void test_catalog_listener(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/strom-wait-XXXXXX");
    assert_non_null(mkdtemp(dir));
    strom_db *db;
    assert_int_equal(strom_db_open(dir, &db), STROM_OK);
    calls c = {.mu = PTHREAD_MUTEX_INITIALIZER};
    cat_listener l = {on_append, &c};
    cat_set_append_listener(db, &l);
    strom_schema *s = schema(0), *ps = schema(1);
    const char *opts[] = {"bucket.num", "2", NULL};
    assert_int_equal(strom_table_create(db, "grid.t", s, opts), STROM_OK);
    assert_int_equal(strom_table_create(db, "kv", ps, opts), STROM_OK);
    strom_table *t, *kv;
    assert_int_equal(strom_table_open(db, "grid.t", &t), STROM_OK);
    assert_int_equal(strom_table_open(db, "kv", &kv), STROM_OK);
    c.t = t;
    strom_builder *b = rows(s, 5, 0);
    /* append_bucket: bucket 1, the 5 rows visible inside the callback */
    assert_int_equal(strom_table_append_bucket(t, 1, b, NULL), STROM_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.table[0], "grid.t");
    assert_int_equal(c.bucket[0], 1);
    assert_int_equal(c.end[0], 5);
    /* append_encoded: bucket 0 */
    strom_scan *sc;
    const strom_batch *bt;
    assert_int_equal(strom_scan_open(t, 1, 0, NULL, &sc), STROM_OK);
    assert_int_equal(strom_scan_next(sc, &bt), STROM_OK);
    assert_non_null(bt);
    strom_scan_close(sc);
    strom_buf raw = {0};
    int64_t next;
    assert_int_equal(cat_read_encoded(t, 1, 0, 1 << 20, &raw, &next), STROM_OK);
    assert_int_equal(next, 5);
    assert_int_equal(strom_table_append_encoded(t, 0, raw.data, raw.len, NULL), STROM_OK);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.bucket[1], 0);
    assert_int_equal(c.end[1], 5);
    /* a keyless multi-bucket append: -1 (any bucket) */
    assert_int_equal(strom_table_append(t, b, NULL), STROM_OK);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.bucket[2], -1);
    /* a primary-key write */
    strom_builder *kb = rows(ps, 3, 100);
    c.t = NULL;
    assert_int_equal(strom_table_upsert(kv, kb), STROM_OK);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.table[3], "default.kv");
    assert_int_equal(c.bucket[3], -1);
    /* a failed append notifies nothing (bad bucket) */
    assert_int_not_equal(strom_table_append_bucket(t, 7, b, NULL), STROM_OK);
    assert_int_equal(c.n, 4);
    /* cleared: no more calls */
    cat_set_append_listener(db, NULL);
    assert_int_equal(strom_table_append_bucket(t, 0, b, NULL), STROM_OK);
    assert_int_equal(c.n, 4);
    strom_buf_free(&raw);
    strom_builder_destroy(b);
    strom_builder_destroy(kb);
    strom_table_close(t);
    strom_table_close(kv);
    strom_schema_destroy(s);
    strom_schema_destroy(ps);
    strom_db_close(db);
    strom_rmtree(dir);
}

/* A fake loop (eventfd only), conn and FETCH slot watching buckets of table. */
typedef struct fake {
    srv_server s;
    srv_loop l;
    srv_conn c;
    srv_slot slot;
    proto_fetch_bucket b[2];
} fake;

static void fake_init(fake *f, const char *table, int b0, int b1)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(srv_waits_init(&f->s), STROM_OK);
    f->l.srv = &f->s;
    f->l.evfd = eventfd(0, EFD_NONBLOCK);
    f->c.loop = &f->l;
    f->slot.conn = &f->c;
    f->b[0].bucket = b0;
    f->b[1].bucket = b1;
    f->slot.msg.req.fetch.nbuckets = 2;
    f->slot.msg.req.fetch.buckets = f->b;
    snprintf(f->slot.table, sizeof f->slot.table, "%s", table);
}

static int kicked(fake *f)
{
    uint64_t v;
    int r = read(f->l.evfd, &v, sizeof v) == sizeof v;
    atomic_store(&f->l.kicked, 0);
    return r;
}

static void fake_free(fake *f)
{
    close(f->l.evfd);
    srv_waits_free(&f->s);
}

static void test_registry(void **state)
{
    (void)state;
    fake f;
    fake_init(&f, "default.t", 1, 3);
    f.slot.seq = srv_wait_seq(&f.s, "default.t");
    assert_int_equal(srv_wait_park(&f.s, &f.slot), 0);
    assert_false(srv_wait_fired(&f.slot));
    srv_wait_notify(&f.s, "default.t", 2);   /* another bucket */
    srv_wait_notify(&f.s, "default.u", 1);   /* another table */
    assert_false(srv_wait_fired(&f.slot));
    assert_false(kicked(&f));
    assert_int_equal(atomic_load(&f.l.woken), 0);
    srv_wait_notify(&f.s, "default.t", 3);
    assert_true(srv_wait_fired(&f.slot));
    assert_int_equal(atomic_load(&f.l.woken), 1);
    assert_true(kicked(&f));
    srv_wait_notify(&f.s, "default.t", 1);   /* already fired: no second kick */
    assert_false(kicked(&f));
    srv_wait_cancel(&f.s, &f.slot);
    assert_null(f.slot.wait);
    /* parked again; -1 (several buckets) fires it */
    f.slot.seq = srv_wait_seq(&f.s, "default.t");
    assert_int_equal(srv_wait_park(&f.s, &f.slot), 0);
    srv_wait_notify(&f.s, "default.t", -1);
    assert_true(srv_wait_fired(&f.slot));
    srv_wait_cancel(&f.s, &f.slot);
    /* an append after the read, before parking: the park fails, the fetch reads again */
    f.slot.seq = srv_wait_seq(&f.s, "default.t");
    srv_wait_notify(&f.s, "default.t", 2);
    assert_int_equal(srv_wait_park(&f.s, &f.slot), 1);
    assert_null(f.slot.wait);
    /* cancelled: a notification reaches nobody */
    f.slot.seq = srv_wait_seq(&f.s, "default.t");
    assert_int_equal(srv_wait_park(&f.s, &f.slot), 0);
    srv_wait_cancel(&f.s, &f.slot);
    kicked(&f);
    srv_wait_notify(&f.s, "default.t", 1);
    assert_false(kicked(&f));
    fake_free(&f);
}

/* Many slots on one table: each fires only for its own buckets. */
static void test_many_slots(void **state)
{
    (void)state;
    enum { N = 40 };
    fake *f = calloc(N, sizeof *f);
    for (int i = 0; i < N; i++) {
        fake_init(&f[i], "default.t", i, i + N);
        if (i) { /* one registry for all: share the first server */
            srv_waits_free(&f[i].s);
            f[i].l.srv = &f[0].s;
        }
    }
    for (int i = 0; i < N; i++) {
        f[i].slot.seq = srv_wait_seq(&f[0].s, "default.t");
        assert_int_equal(srv_wait_park(&f[0].s, &f[i].slot), 0);
    }
    for (int b = 0; b < 2 * N; b += 3)
        srv_wait_notify(&f[0].s, "default.t", b);
    for (int i = 0; i < N; i++) {
        int want = i % 3 == 0 || (i + N) % 3 == 0;
        assert_int_equal(srv_wait_fired(&f[i].slot), want);
        assert_int_equal(kicked(&f[i]), want);
        srv_wait_cancel(&f[0].s, &f[i].slot);
    }
    for (int i = 0; i < N; i++)
        close(f[i].l.evfd);
    srv_waits_free(&f[0].s);
    free(f);
}

/* The engine's listener and the registry together, across threads. */
typedef struct appender {
    strom_table *t;
    const strom_schema *s;
} appender;

static void *append_later(void *arg)
{
    appender *a = arg;
    usleep(50000);
    strom_builder *b = rows(a->s, 2, 0);
    assert_int_equal(strom_table_append_bucket(a->t, 1, b, NULL), STROM_OK);
    strom_builder_destroy(b);
    return NULL;
}

static void test_engine_wakes_slot(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/strom-wait-XXXXXX");
    assert_non_null(mkdtemp(dir));
    strom_db *db;
    assert_int_equal(strom_db_open(dir, &db), STROM_OK);
    fake f;
    fake_init(&f, "default.t", 1, 1);
    cat_listener l = {srv_wait_notify, &f.s};
    cat_set_append_listener(db, &l);
    strom_schema *s = schema(0);
    const char *opts[] = {"bucket.num", "2", NULL};
    assert_int_equal(strom_table_create(db, "t", s, opts), STROM_OK);
    strom_table *t;
    assert_int_equal(strom_table_open(db, "t", &t), STROM_OK);
    f.slot.seq = srv_wait_seq(&f.s, "default.t");
    assert_int_equal(srv_wait_park(&f.s, &f.slot), 0);
    appender a = {t, s};
    pthread_t th;
    int64_t t0 = strom_mono_ns();
    pthread_create(&th, NULL, append_later, &a);
    struct pollfd p = {.fd = f.l.evfd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 10000), 1); /* woken by the append, not by a timeout */
    double ms = (double)(strom_mono_ns() - t0) / 1e6;
    pthread_join(th, NULL);
    assert_true(srv_wait_fired(&f.slot));
    assert_true(ms >= 40 && ms < 5000);
    int64_t e, end;
    assert_int_equal(strom_table_offsets(t, 1, &e, &end), STROM_OK);
    assert_int_equal(end, 2);
    srv_wait_cancel(&f.s, &f.slot);
    cat_set_append_listener(db, NULL);
    strom_table_close(t);
    strom_schema_destroy(s);
    strom_db_close(db);
    fake_free(&f);
    strom_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalog_listener),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_many_slots),
        cmocka_unit_test(test_engine_wakes_slot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
