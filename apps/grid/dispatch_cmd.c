/* dispatch_cmd.c: `strom grid dispatch`: telemetry in (a projected subscription), alarms,
 * fault location, decisions written and applied, checkpoints, --events output
 * (docs/grid.md, "The dispatcher"). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dispatch_int.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* ---------------------------------------------------------------- arguments */

static const grid_num_opt dnum[] = {
    {"--devices", offsetof(disp_args, devices), 1, 1e8},
    {"--duration", offsetof(disp_args, duration), 0, 1e8},
    {"--timeout-ms", offsetof(disp_args, timeout_ms), 1, 1e7},
    {"--checkpoint-ms", offsetof(disp_args, checkpoint_ms), 1, 1e7},
};

static int darg_err(const char *what, const char *v)
{
    fprintf(stderr, "strom grid dispatch: %s%s (see strom grid --help)\n", what, v);
    return 2;
}

static int dparse(int argc, char **argv, disp_args *a)
{
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i];
        int *flag = !strcmp(o, "--no-ties") ? &a->no_ties : !strcmp(o, "--events") ? &a->events
                    : !strcmp(o, "--quiet") ? &a->quiet : NULL;
        if (flag) {
            *flag = 1;
            continue;
        }
        if (i + 1 >= argc || strncmp(o, "--", 2))
            return darg_err("unknown option or missing value: ", o);
        const char *v = argv[++i];
        int num = grid_num_opt_set(dnum, sizeof dnum / sizeof dnum[0], a, o, v);
        if (num > 0)
            return darg_err("not a number in range: ", o);
        if (!num)
            continue;
        if (!strcmp(o, "--server"))
            a->server = v;
        else if (!strcmp(o, "--topology"))
            a->topology = v;
        else if (!strcmp(o, "--id"))
            a->id = v;
        else
            return darg_err("unknown option ", o);
    }
    if (!a->server || !a->topology || !a->devices)
        return darg_err("missing ", !a->server ? "--server HOST:PORT" : !a->topology ? "--topology FILE" : "--devices N");
    if (!a->id[0] || strlen(a->id) > 100)
        return darg_err("--id: 1 to 100 characters: ", a->id);
    return 0;
}

/* ---------------------------------------------------------------- latency */

static void lat_add(disp *x, double ms)
{
    if (x->nlat == x->clat) {
        int64_t nc = x->clat ? x->clat * 2 : 256;
        double *n = realloc(x->lat, (size_t)nc * sizeof *n);
        if (!n)
            return;
        x->lat = n;
        x->clat = nc;
    }
    x->lat[x->nlat++] = ms;
}

/* ---------------------------------------------------------------- output */

static void print_ids(const disp *x, const grid_plan *p, int close)
{
    int first = 1;
    putchar('[');
    for (int i = 0; i < p->nsteps; i++)
        if (p->steps[i].close == close) {
            fputs(first ? "" : ", ", stdout);
            grid_json_str(stdout, grid_edge_id(x->b.topo, p->steps[i].edge));
            first = 0;
        }
    putchar(']');
}

static void clock_text(int64_t ms, char *out, size_t cap)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, cap, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static void print_decision(const disp *x, const char *id, const grid_fault_found *f, const grid_plan *p,
                           int64_t dec_ms, int64_t ack_ms)
{
    const grid_topo *t = x->b.topo;
    if (x->a.events) {
        printf("{\"event\":\"decision\",\"decision_id\":\"%s\",\"fault\":", id);
        grid_json_str(stdout, grid_edge_id(t, f->edge));
        printf(",\"feeder\":\"F%d\",\"sample_ms\":%lld,\"alarm_ms\":%lld,\"decision_ms\":%lld,"
               "\"written_ms\":%lld,\"latency_ms\":%lld,\"by_timeout\":%s,\"opened\":",
               f->copy, (long long)f->sample_ms, (long long)f->alarm_ms, (long long)dec_ms,
               (long long)ack_ms, (long long)(dec_ms - f->sample_ms), f->by_timeout ? "true" : "false");
        print_ids(x, p, 0);
        printf(",\"closed\":");
        print_ids(x, p, 1);
        printf(",\"interrupted_kw\":%.3f,\"restored_kw\":%.3f,\"lost_kw\":%.3f}\n", p->interrupted_kw,
               p->restored_kw, p->lost_kw);
        fflush(stdout);
        return;
    }
    char when[16];
    clock_text(f->sample_ms, when, sizeof when);
    printf("%s UTC  fault on %s (feeder F%d)%s: ", when, grid_edge_id(t, f->edge), f->copy,
           f->by_timeout ? " (located after the timeout: a device did not report)" : "");
    for (int i = 0; i < p->nsteps; i++)
        printf("%s%s %s (%s)", i ? ", " : "", p->steps[i].close ? "close" : "open",
               grid_edge_id(t, p->steps[i].edge), grid_reason_text((grid_reason)p->steps[i].reason));
    printf("%s; %.0f kW interrupted, %.0f kW restored, %.0f kW lost until repair; decided %lld ms after the sample [%s]\n",
           p->nsteps ? "" : "nothing to switch", p->interrupted_kw, p->restored_kw, p->lost_kw,
           (long long)(dec_ms - f->sample_ms), id);
    fflush(stdout);
}

static void print_stats(disp *x, int64_t now, const char *event, double rows_per_s)
{
    static const double q[] = {0.5, 0.99, 1.0};
    double p[3];
    grid_percentiles(x->lat, x->nlat, q, p, 3);
    grid_alarm_counts n = grid_alarms_counts(x->al);
    if (!x->a.events && strcmp(event, "summary"))
        return;
    if (x->a.events)
        printf("{\"event\":\"%s\",\"rows\":%lld,\"rows_per_s\":%.0f,\"alarms\":%lld,\"active_alarms\":%lld,"
               "\"decisions\":%lld,\"p50_ms\":%.1f,\"p99_ms\":%.1f,\"max_ms\":%.1f",
               event, (long long)x->rows, rows_per_s, (long long)x->alarms_written, (long long)n.active,
               (long long)x->decisions, p[0], p[1], p[2]);
    else
        printf("grid dispatch: %lld rows (%.0f rows/s), %lld alarms written (%lld active), %lld decision(s), "
               "latency sample -> decision p50 %.1f ms, p99 %.1f ms, max %.1f ms",
               (long long)x->rows, rows_per_s, (long long)x->alarms_written, (long long)n.active,
               (long long)x->decisions, p[0], p[1], p[2]);
    if (!strcmp(event, "summary"))
        printf(x->a.events ? ",\"late\":%lld,\"duplicates\":%lld,\"suppressed\":%lld,\"unknown_devices\":%lld,"
                             "\"stale_samples\":%lld,\"recovered_decisions\":%lld,\"replayed_alarms_skipped\":%lld,"
                             "\"seconds\":%.1f}"
                           : "; %lld late and %lld duplicate samples ignored, %lld re-raises suppressed (hold), "
                             "%lld rows of unknown devices, %lld stale bank samples ignored by the locator, "
                             "%lld decision(s) found already made, %lld alarm(s) already written, %.1f s",
               (long long)n.late, (long long)n.dup, (long long)n.suppressed, (long long)x->unknown,
               (long long)(grid_loc_stale(x->loc, 0) + grid_loc_stale(x->loc, 1)),
               (long long)x->recovered, (long long)x->alarms_suppressed, (double)(now - x->start_ms) / 1000);
    else
        putchar('}');
    putchar('\n');
    fflush(stdout);
}

/* ---------------------------------------------------------------- decisions */

static strom_err put_str(strom_builder *w, int col, const char *s)
{
    return strom_builder_put_str(w, col, s, strlen(s));
}

static strom_err dec_row(disp *x, const char *id, int step, const grid_fault_found *f,
                         const grid_plan *p, const grid_step *s, int64_t dec_ms)
{
    const grid_topo *t = x->b.topo;
    char feeder[24], reason[200];
    snprintf(feeder, sizeof feeder, "F%d", f->copy);
    if (!s)
        snprintf(reason, sizeof reason, "nothing to switch: the section is open or not fed");
    else if (s->reason == GRID_R_TRIP)
        snprintf(reason, sizeof reason, "%s (%.1f kW interrupted)", grid_reason_text((grid_reason)s->reason), s->kw);
    else if (s->reason == GRID_R_TIE)
        snprintf(reason, sizeof reason, "%s (+%.1f kW from bus %s)", grid_reason_text((grid_reason)s->reason), s->kw,
                 s->via >= 0 ? grid_bus_name(t, s->via) : "?");
    else
        snprintf(reason, sizeof reason, "%s", grid_reason_text((grid_reason)s->reason));
    strom_builder *w = x->w_dec;
    strom_err e = put_str(w, 0, id);
    e = e ? e : strom_builder_put_int(w, 1, step);
    e = e ? e : strom_builder_put_int(w, 2, f->onset_ms);
    e = e ? e : put_str(w, 3, feeder);
    e = e ? e : put_str(w, 4, grid_edge_id(t, f->edge));
    e = e ? e : put_str(w, 5, !s ? "none" : s->close ? "close" : "open");
    e = e ? e : put_str(w, 6, grid_edge_id(t, s ? s->edge : f->edge));
    e = e ? e : put_str(w, 7, reason);
    e = e ? e : strom_builder_put_int(w, 8, f->sample_ms);
    e = e ? e : strom_builder_put_int(w, 9, f->alarm_ms);
    e = e ? e : strom_builder_put_int(w, 10, dec_ms);
    e = e ? e : strom_builder_put_f64(w, 11, p->interrupted_kw);
    e = e ? e : strom_builder_put_f64(w, 12, p->restored_kw);
    e = e ? e : strom_builder_put_f64(w, 13, p->lost_kw);
    e = e ? e : put_str(w, 14, x->a.id);
    return e ? e : strom_builder_end_row(w);
}

/* The plan's rows: decisions (one per step), then grid_edges (each switched edge once,
 * in its final state), both flushed (durable). */
static int write_plan(disp *x, const char *id, const grid_fault_found *f, const grid_plan *p,
                      int64_t dec_ms)
{
    strom_err e = STROM_OK;
    for (int i = 0; e == STROM_OK && i < (p->nsteps ? p->nsteps : 1); i++)
        e = dec_row(x, id, i + 1, f, p, p->nsteps ? &p->steps[i] : NULL, dec_ms);
    e = e ? e : strom_producer_send_batch(x->p_dec, x->w_dec);
    strom_builder_reset(x->w_dec);
    grid_plan_apply(x->b.topo, p);
    for (int i = 0; e == STROM_OK && i < p->nsteps; i++) {
        int later = 0;
        for (int j = i + 1; j < p->nsteps; j++)
            later |= p->steps[j].edge == p->steps[i].edge;
        if (!later)
            e = (strom_err)grid_store_put_edge(x->w_edge, x->b.topo, p->steps[i].edge, dec_ms);
        e = e || later ? e : strom_builder_end_row(x->w_edge);
    }
    e = e ? e : strom_producer_send_batch(x->p_edge, x->w_edge);
    strom_builder_reset(x->w_edge);
    e = e ? e : strom_producer_flush(x->p_dec);
    e = e ? e : strom_producer_flush(x->p_edge);
    return e == STROM_OK ? 0 : grid_errorf(&x->d, "writing decision %s: %s", id, strom_errmsg());
}

static int decide(disp *x, const grid_fault_found *f)
{
    char id[64];
    snprintf(id, sizeof id, "D-F%d-%lld", f->copy, (long long)f->onset_ms);
    if (x->nknown_dec && disp_known_decision(x, id)) {
        x->recovered++;   /* made before a restart: already written and applied */
        return 0;
    }
    grid_plan p;
    if (grid_plan_make_ws(x->plan_ws, f->edge, &p, &x->d))
        return -1;
    int64_t dec_ms = disp_wall_ms();
    int rc = write_plan(x, id, f, &p, dec_ms);
    if (!rc) {
        int64_t ack_ms = disp_wall_ms();
        lat_add(x, (double)(dec_ms - f->sample_ms));
        x->decisions++;
        grid_loc_refresh(x->loc);
        print_decision(x, id, f, &p, dec_ms, ack_ms);
    }
    grid_plan_free(&p);
    return rc;
}

/* ---------------------------------------------------------------- telemetry */

static int ev_room(disp *x)
{
    if (x->nev + GRID_MAX_RULES <= x->cev)
        return 0;
    int nc = x->cev ? x->cev * 2 : 4096;
    grid_alarm_ev *n = realloc(x->ev, (size_t)nc * sizeof *n);
    if (!n)
        return grid_errorf(&x->d, "out of memory");
    x->ev = n;
    x->cev = nc;
    return 0;
}

static int valid(const strom_column *c, int64_t r)
{
    return !c->validity || (c->validity[r >> 3] >> (r & 7) & 1);
}

/* A fault-current sample the locator found stale (another device of its parallel bank
 * already reported the edge without fault current later): said on stderr, rare. */
static void stale_note(const disp *x, int64_t dev, int64_t t_ms, int64_t now_ms)
{
    int32_t e = grid_loc_edge_of(x->loc, dev);
    fprintf(stderr, "grid dispatch: fault-current sample of %s at %lld ms (read %lld ms later) ignored: stale, "
            "its edge %s already has a sample without fault current at or after it (another device of the bank)\n",
            grid_name(x->b.topo, x->b.dev[dev].id), (long long)t_ms, (long long)(now_ms - t_ms),
            grid_edge_id(x->b.topo, e));
}

/* One sample: alarms, then the locator (in-order samples only). */
static int sample(disp *x, const strom_column *col, int64_t r, int64_t now)
{
    int64_t dev = x->drow[r];
    if (dev < 0) {
        x->unknown++;
        return 0;
    }
    grid_sample s = {.dev = dev, .t_ms = ((const int64_t *)col[TC_TIME].values)[r]};
    for (int m = 0; m < GRID_M_N; m++) {
        s.has[m] = (uint8_t)valid(&col[TC_CURRENT + m], r);
        s.v[m] = s.has[m] ? ((const double *)col[TC_CURRENT + m].values)[r] : 0;
    }
    if (ev_room(x))
        return -1;
    if (grid_alarms_feed(x->al, &s, x->ev, &x->nev) != GRID_SAMPLE_OK)
        return 0;
    if (s.t_ms > x->newest_ms)
        x->newest_ms = s.t_ms;
    const grid_rule *fr = grid_alarms_rule(x->al, x->fc_slot);
    int fc = fr && s.has[GRID_M_CURRENT] && grid_rule_test(fr, s.v[GRID_M_CURRENT]) == 1;
    grid_fault_found f;
    int64_t stale = fc ? grid_loc_stale(x->loc, 1) : 0;
    if (grid_loc_feed(x->loc, dev, s.t_ms, fc, now, &f))
        return decide(x, &f);
    if (fc && grid_loc_stale(x->loc, 1) != stale)
        stale_note(x, dev, s.t_ms, now);
    return 0;
}

/* A bucket without rows for this long is caught up (nothing unread), not behind. */
#define BUCKET_IDLE_MS 1000

/* Records how far bucket has been read: its newest sample time so far is newest. */
static void bucket_read(disp *x, int bucket, int64_t newest, int64_t now)
{
    if (bucket < 0 || bucket >= x->nbuckets)
        return;
    if (newest > x->b_newest[bucket])
        x->b_newest[bucket] = newest;
    x->b_seen_ms[bucket] = now;
}

/* The least newest sample time over the buckets that had rows in the last BUCKET_IDLE_MS
 * (INT64_MAX when none: nothing is unread anywhere). */
static int64_t stream_ms(const disp *x, int64_t now)
{
    int64_t m = INT64_MAX;
    for (int b = 0; b < x->nbuckets; b++)
        if (x->b_seen_ms[b] && now - x->b_seen_ms[b] < BUCKET_IDLE_MS && x->b_newest[b] < m)
            m = x->b_newest[b];
    return m;
}

static int batch(disp *x, const strom_batch *bt, int bucket)
{
    strom_column col[TC_N];
    for (int i = 0; i < TC_N; i++)
        if (strom_batch_column(bt, i, &col[i]) != STROM_OK)
            return grid_errorf(&x->d, "telemetry batch: column %d: %s", i, strom_errmsg());
    if (col[TC_ID].type != STROM_STRING || col[TC_TIME].type != STROM_TIMESTAMP)
        return grid_errorf(&x->d, "power_equipment_stream: unexpected column types");
    for (int i = TC_CURRENT; i < TC_N; i++)
        if (col[i].type != STROM_DOUBLE)
            return grid_errorf(&x->d, "power_equipment_stream: column %s is not DOUBLE", col[i].name ? col[i].name : "?");
    int64_t n = strom_batch_nrows(bt), now = disp_wall_ms();
    if (disp_dev_find_rows(x, &col[TC_ID], n))
        return -1;
    const int64_t *t = col[TC_TIME].values;
    int64_t newest = INT64_MIN;
    for (int64_t r = 0; r < n; r++) {
        if (sample(x, col, r, now))
            return -1;
        newest = t[r] > newest ? t[r] : newest;
    }
    if (n > 0)
        bucket_read(x, bucket, newest, now);
    x->rows += n;
    return 0;
}

/* ---------------------------------------------------------------- setup and loop */

static int open_out(disp *x, const char *table, int linger, strom_producer **p, strom_builder **w)
{
    strom_producer_opts o = {.linger_ms = linger};
    if (strom_producer_create(x->c, table, &o, NULL, 0, p) != STROM_OK)
        return grid_errorf(&x->d, "producer for %s: %s", table, strom_errmsg());
    if (w && !(*w = strom_builder_create(strom_producer_schema(*p))))
        return grid_errorf(&x->d, "out of memory");
    return 0;
}

static int open_telemetry(disp *x)
{
    static const char *const cols[TC_N] = {"device_id", "event_time", "current", "voltage",
                                           "temperature", "frequency_hz"};
    /* projected here: the server answers with its stored bytes, no re-encoding */
    strom_subscriber_opts o = {.columns = cols, .ncolumns = TC_N, .max_wait_ms = 50,
                               .project_here = 1};
    if (strom_subscriber_create(x->c, "power_equipment_stream", &o, &x->tele) != STROM_OK)
        return grid_errorf(&x->d, "subscribing to power_equipment_stream: %s", strom_errmsg());
    x->nbuckets = strom_subscriber_nbuckets(x->tele);
    int64_t from[64];
    if (x->nbuckets > 64)
        return grid_errorf(&x->d, "power_equipment_stream has %d buckets (at most 64)", x->nbuckets);
    if (disp_restore(x, from))
        return -1;
    for (int b = 0; b < x->nbuckets; b++)
        if (strom_subscriber_assign(x->tele, b, from[b] >= 0 ? STROM_FROM_OFFSET : STROM_FROM_LATEST,
                                    from[b] >= 0 ? from[b] : 0) != STROM_OK)
            return grid_errorf(&x->d, "subscribing to bucket %d: %s", b, strom_errmsg());
    if (from[0] >= 0)
        fprintf(stderr, "strom grid dispatch: continuing from the checkpoint of '%s' (%d decision(s) on record)\n",
                x->a.id, x->nknown_dec);
    return 0;
}

static int setup(disp *x, const grid_topo *tmpl)
{
    if (grid_build(tmpl, (int64_t)x->a.devices, !x->a.no_ties, &x->b, &x->d) || disp_dev_hash_build(x))
        return -1;
    uint8_t *types = malloc((size_t)x->b.ndev + 1);
    if (!types)
        return grid_errorf(&x->d, "out of memory");
    for (int64_t i = 0; i < x->b.ndev; i++)
        types[i] = x->b.dev[i].type;
    x->al = grid_alarms_create(x->b.ndev, types);
    free(types);
    if (!x->al)
        return grid_errorf(&x->d, "out of memory");
    if (strom_client_connect(x->a.server, NULL, &x->c) != STROM_OK)
        return grid_errorf(&x->d, "%s", strom_errmsg());
    if (grid_store_create(x->c, &x->d) || disp_rules_open(x) || disp_overlay_edges(x))
        return -1;
    if (!(x->loc = grid_loc_create(&x->b)) || !(x->plan_ws = grid_plan_ws_create(x->b.topo)))
        return grid_errorf(&x->d, "out of memory");
    static const char *const dcols[] = {"device_id", "device_type", "feeder", "bus", "capacity"};
    if (strom_lookuper_create(x->c, "device_dimension_table", dcols, 5, &x->dim) != STROM_OK)
        return grid_errorf(&x->d, "device_dimension_table: %s", strom_errmsg());
    if (open_out(x, "alarm_stream", 5, &x->p_alarm, &x->w_alarm) ||
        open_out(x, "current_alarms", 5, &x->p_cur, NULL) || open_out(x, "decisions", -1, &x->p_dec, &x->w_dec) ||
        open_out(x, "grid_edges", -1, &x->p_edge, &x->w_edge) ||
        open_out(x, "dispatch_checkpoints", -1, &x->p_ckpt, &x->w_ckpt))
        return -1;
    return open_telemetry(x);
}

#define ALARM_DEFER_MS 50

/* Housekeeping between polls: timeouts, alarms, rules, checkpoint (only once every alarm
 * event is written: a checkpoint's positions must not pass a sample whose alarm is not
 * queued), stats. */
static int tick(disp *x, int64_t now)
{
    grid_fault_found f;
    int rc = 0;
    grid_loc_set_stream(x->loc, stream_ms(x, now));
    while (!rc && grid_loc_timeout(x->loc, now, (int64_t)x->a.timeout_ms, &f))
        rc = decide(x, &f);
    /* A fault picture being completed goes first: the alarms (their lookups and writes)
     * wait for the next poll's samples, up to ALARM_DEFER_MS */
    if (grid_loc_pending(x->loc) == 0 || x->defer_since_ms == 0)
        x->defer_since_ms = grid_loc_pending(x->loc) ? now : 0;
    int defer = x->defer_since_ms && now - x->defer_since_ms < ALARM_DEFER_MS;
    rc = rc || defer ? rc : disp_alarms_write(x);
    rc = rc ? rc : disp_current_flush(x, 0);
    if (!rc && now - x->last_rules_ms >= 500) {
        x->last_rules_ms = now;
        rc = disp_rules_poll(x);
    }
    if (!rc && x->nev == 0 && now - x->last_ckpt_ms >= (int64_t)x->a.checkpoint_ms)
        rc = disp_checkpoint_idle(x, now);
    if (!rc && now - x->last_stats_ms >= 1000) {
        print_stats(x, now, "stats", (double)(x->rows - x->stats_rows) * 1000.0 / (double)(now - x->last_stats_ms));
        x->last_stats_ms = now;
        x->stats_rows = x->rows;
    }
    return rc;
}

static int run(disp *x)
{
    int64_t end = x->a.duration > 0 ? x->start_ms + (int64_t)(x->a.duration * 1000) : INT64_MAX;
    x->last_ckpt_ms = x->last_rules_ms = x->last_stats_ms = x->start_ms;
    int rc = 0;
    while (!rc && !stop_flag && disp_wall_ms() < end) {
        const strom_batch *bt;
        int bucket;
        if (strom_subscriber_poll(x->tele, 50, &bt, &bucket) != STROM_OK)
            return grid_errorf(&x->d, "reading power_equipment_stream: %s", strom_errmsg());
        rc = bt ? batch(x, bt, bucket) : 0;
        rc = rc ? rc : tick(x, disp_wall_ms());
    }
    rc = rc ? rc : disp_alarms_write(x);
    return rc ? rc : disp_checkpoint(x);
}

static int close_all(disp *x, int rc)
{
    strom_producer *p[] = {x->p_alarm, x->p_cur, x->p_dec, x->p_edge, x->p_ckpt};
    strom_builder *w[] = {x->w_alarm, x->w_dec, x->w_edge, x->w_ckpt};
    for (int i = 0; i < 5; i++)
        if (p[i] && strom_producer_close(p[i]) != STROM_OK && !rc)
            rc = grid_errorf(&x->d, "flushing: %s", strom_errmsg());
    for (int i = 0; i < 4; i++)
        strom_builder_destroy(w[i]);
    strom_subscriber_close(x->tele);
    strom_subscriber_close(x->rules_sub);
    strom_lookuper_close(x->dim);
    strom_client_close(x->c);
    grid_loc_destroy(x->loc);
    grid_plan_ws_destroy(x->plan_ws);
    grid_alarms_destroy(x->al);
    grid_built_free(&x->b);
    free(x->hslot);
    free(x->hrow);
    free(x->drow);
    free(x->ev);
    free(x->cur);
    free(x->lat);
    free(x->known_dec);
    free(x->known_alarm);
    return rc;
}

int grid_cmd_dispatch(int argc, char **argv)
{
    static disp x;
    memset(&x, 0, sizeof x);
    x.a = (disp_args){.id = "dispatcher-1", .timeout_ms = 500, .checkpoint_ms = 250};
    x.fc_slot = -1;
    int rc = dparse(argc, argv, &x.a);
    if (rc)
        return rc;
    grid_topo *t = NULL;
    x.d.quiet = x.a.quiet;
    if (grid_load(x.a.topology, &t, &x.d)) {
        fprintf(stderr, "strom grid dispatch: %s\n", x.d.error);
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    stop_flag = 0;
    rc = setup(&x, t);
    x.start_ms = disp_wall_ms();
    if (!rc)
        fprintf(stderr, "strom grid dispatch: %lld devices, %d feeder copies, %d alarm rule(s); following "
                        "power_equipment_stream on %s\n",
                (long long)x.b.ndev, x.b.copies, x.nrules, x.a.server);
    rc = rc ? rc : run(&x);
    int64_t now = disp_wall_ms();
    if (!rc)
        print_stats(&x, now, "summary", (double)x.rows * 1000.0 / (double)(now > x.start_ms ? now - x.start_ms : 1));
    rc = close_all(&x, rc);
    grid_topo_destroy(t);
    if (rc) {
        fprintf(stderr, "strom grid dispatch: %s\n", x.d.error);
        return 1;
    }
    return 0;
}
