/* job_log.c: a continuous job's log-table sink, exactly once (jobs.c runs the job).
 *
 * A log table keeps every row it is given, so rows a job writes again after a crash would
 * be there twice. The job's sink rows therefore go out as idempotent appends
 * (strom_table_write with a writer id and a batch sequence, deduplicated per sink bucket by
 * the log: src/log/writers.c), and the sequences come from the job's source positions, so a
 * replay sends the same batches with the same sequences:
 *
 * - one writer per job and source bucket b: writer id = (hash(job id) << 8 | b) + 1;
 * - the sink rows produced from source bucket b are buffered apart (one builder per source
 *   bucket); a flush of b writes them as one append whose batch sequence is seq[b], the
 *   offset after the last source row of b read (a batch boundary of the source: the
 *   stream reports each finished batch, sql_job_sink.batch_end). A source bucket is read
 *   in offset order, so the sequences of a writer increase;
 * - before a flush the job row stores (durably) the resume positions (per source bucket,
 *   where the rows not yet written start: flushed[b]) and the pending sequences of the
 *   flush; then the appends go out; the next save stores the new resume positions.
 *
 * After a crash the job resumes at the stored positions with the pending sequences as
 * forced flush points: when the replay finishes the source batch of b that ends at
 * pending[b], it flushes b's buffer - the same rows (the statement is deterministic) with
 * the same sequence - so sink buckets that had the batch skip it and the others get it.
 * Every later flush has higher sequences. Until the forced points are passed no other
 * flush happens. So each source row's output is in the sink exactly once.
 *
 * POSITIONS (the job row's positions column) for a log sink:
 *   "<source table>:<r0>,<r1>,...;<p0>,<p1>,..."  r: resume offsets, p: pending sequences
 *   (0: none) per source bucket.
 *
 * A WINDOWED JOB (wstream.c) gives no row per source row: its rows are the aggregates of
 * the windows the watermark closes, which the stream closes one end at a time for it. All
 * the rows of the windows ending at `end` go out as one append of a writer of the job's
 * own for windows, with sequence end / slide (writer id = (hash(job id) << 8 | 64 | e) + 1,
 * e = (end / slide) >> 31 & 63, sequence = end / slide & (2^31 - 1): ends increase, so the
 * sequences of a writer do). The job row stores the window's resume positions (jobs.c:
 * the oldest rows of the open windows and the end of the last closed window) after the
 * appends; a replay closes again the windows after the stored end, each end with the same
 * writer and sequence, so a sink bucket that has it skips it: each window's rows are in the
 * sink once (the first version written, if a late row made the replay's differ).
 *
 * Limits: a source bucket past offset 2^31 - 1 (the batch sequence is 32 bits) fails the
 * job; the statement must give the same rows for the same source rows (filters,
 * projections; a lookup join against a table changed between crash and replay may not).
 */
#include "srv_int.h"

#include <stdio.h>
#include <stdlib.h>

#include "sql/engine.h"

#define JOB_LOG_ROWS 4096          /* buffered sink rows that make a flush */
#define JOB_LOG_MAXB 64

struct srv_job_log {
    char id[64];
    sql_session *sess;
    srv_job_log_save save;         /* stores the job row with positions */
    void *save_arg;
    strom_table *sink;             /* borrowed from the session's virtual table */
    int nb, started;
    strom_builder *rows[JOB_LOG_MAXB];
    int64_t seq[JOB_LOG_MAXB];     /* after the last source row read, per bucket */
    int64_t flushed[JOB_LOG_MAXB]; /* rows of b before this are written */
    int64_t pending[JOB_LOG_MAXB]; /* replay: forced flush points (0: none) */
    int npending;
    int64_t buffered;
    int64_t written;               /* rows given to the sink (duplicates included) */
    int window;                    /* a windowed job: rows go to wrows, per window end */
    strom_builder *wrows;
    char table[160];
    char positions[2048];
};

static int64_t writer_of(const srv_job_log *l, int b)
{
    uint64_t h = strom_hash64(l->id, strlen(l->id));
    return (int64_t)((h & 0x003fffffffffffffull) << 8 | (uint64_t)b) + 1;
}

/* "table:r0,r1,...;p0,p1,..." -> table, r (resume), p (pending). Returns the count of r. */
static int parse_positions(const char *s, char *table, size_t cap, int64_t *r, int64_t *p)
{
    const char *colon = strchr(s, ':');
    if (!colon || (size_t)(colon - s) >= cap)
        return 0;
    snprintf(table, cap, "%.*s", (int)(colon - s), s);
    int n = 0, np = 0;
    int64_t *dst = r;
    for (const char *q = colon + 1; *q;) {
        char *end;
        int64_t v = strtoll(q, &end, 10);
        if (end == q)
            break;
        int *k = dst == r ? &n : &np;
        if (*k < JOB_LOG_MAXB)
            dst[(*k)++] = v;
        if (*end == ';')
            dst = p;
        q = *end ? end + 1 : end;
    }
    return n;
}

strom_err srv_job_log_create(const char *id, const char *positions, srv_job_log_save save, void *arg,
                             srv_job_log **out)
{
    srv_job_log *l = strom_calloc(1, sizeof *l);
    if (!l)
        return STROM_ENOMEM;
    snprintf(l->id, sizeof l->id, "%s", id);
    l->save = save;
    l->save_arg = arg;
    int64_t r[JOB_LOG_MAXB];
    if (positions && parse_positions(positions, l->table, sizeof l->table, r, l->pending) > 0)
        for (int b = 0; b < JOB_LOG_MAXB; b++)
            l->npending += l->pending[b] > 0;
    *out = l;
    return STROM_OK;
}

void srv_job_log_free(srv_job_log *l)
{
    if (!l)
        return;
    for (int b = 0; b < JOB_LOG_MAXB; b++)
        strom_builder_destroy(l->rows[b]);
    strom_builder_destroy(l->wrows);
    free(l);
}

/* The positions text of resume offsets flushed[] and, when with_pending, the sequences of
 * the buckets with buffered rows. */
static const char *positions_text(srv_job_log *l, int with_pending)
{
    int w = snprintf(l->positions, sizeof l->positions, "%s:", l->table);
    for (int b = 0; b < l->nb && w > 0 && (size_t)w < sizeof l->positions - 24; b++)
        w += snprintf(l->positions + w, sizeof l->positions - (size_t)w, "%s%lld", b ? "," : "",
                      (long long)l->flushed[b]);
    for (int b = 0; with_pending && b < l->nb && w > 0 && (size_t)w < sizeof l->positions - 24; b++)
        w += snprintf(l->positions + w, sizeof l->positions - (size_t)w, "%s%lld", b ? "," : ";",
                      (long long)(l->rows[b] && strom_builder_nrows(l->rows[b]) ? l->seq[b] : 0));
    return l->positions;
}

/* The stream's start positions: what every bucket has done before its first batch. */
static strom_err start(srv_job_log *l)
{
    if (l->started)
        return STROM_OK;
    const char *table = NULL;
    int n = 0;
    sql_session_stream_pos(l->sess, &table, &n);
    const int64_t *from = sql_session_stream_from(l->sess, &n);
    if (!from || !table)
        return strom_fail(STROM_EUNSUPPORTED, "job %s: a job into a log table reads a log table as its "
                          "stream (at most %d buckets)", l->id, JOB_LOG_MAXB);
    if (strcmp(table, l->table))
        l->npending = 0;                /* positions of another table: not this stream's */
    snprintf(l->table, sizeof l->table, "%s", table);
    l->nb = n;
    for (int b = 0; b < n; b++)
        l->seq[b] = l->flushed[b] = from[b];
    for (int b = 0; b < JOB_LOG_MAXB; b++)
        if (!l->npending || b >= n || l->pending[b] <= from[b])
            l->pending[b] = 0;
    l->npending = 0;
    for (int b = 0; b < n; b++)
        l->npending += l->pending[b] > 0;
    int64_t closed, late;
    l->window = sql_session_window(l->sess, &closed, &late);
    l->started = 1;
    return STROM_OK;
}

/* Writes bucket b's buffered rows with sequence seq (the same on a replay). */
static strom_err flush_bucket(srv_job_log *l, int b, int64_t seq)
{
    strom_builder *r = l->rows[b];
    int64_t n = r ? strom_builder_nrows(r) : 0;
    l->flushed[b] = seq;
    if (n == 0)
        return STROM_OK;
    if (seq > INT32_MAX)
        return strom_fail(STROM_ELIMIT, "job %s: source %s bucket %d is past offset %d: the log sink's "
                          "batch sequence (32 bits) cannot follow it", l->id, l->table, b, INT32_MAX);
    strom_write_opts o = {.writer_id = writer_of(l, b), .batch_seq = (int32_t)seq};
    strom_err e = strom_table_write(l->sink, r, &o, NULL);
    if (e != STROM_OK)
        return e;
    l->buffered -= n;
    l->written += n;
    strom_builder_reset(r);
    return STROM_OK;
}

/* Stores the intent (resume positions + pending sequences), then writes every bucket. */
static strom_err flush_all(srv_job_log *l)
{
    if (l->buffered > 0) {
        strom_err e = l->save(l->save_arg, positions_text(l, 1));
        if (e != STROM_OK)
            return e;
    }
    for (int b = 0; b < l->nb; b++) {
        strom_err e = flush_bucket(l, b, l->seq[b]);
        if (e != STROM_OK)
            return e;
    }
    return STROM_OK;
}

/* sql_job_sink.rows */
static strom_builder *hook_rows(void *arg, strom_table *sink, int src_bucket)
{
    srv_job_log *l = arg;
    if (start(l) != STROM_OK)
        return NULL;
    if (l->sink && l->sink != sink) {
        strom_fail(STROM_EUNSUPPORTED, "job %s writes one log table", l->id);
        return NULL;
    }
    if (src_bucket < 0 || src_bucket >= l->nb) {
        strom_fail(STROM_EUNSUPPORTED, "job %s: a row for its log sink comes from no row of its stream", l->id);
        return NULL;
    }
    l->sink = sink;
    strom_builder **r = l->window ? &l->wrows : &l->rows[src_bucket];
    if (!*r && !(*r = strom_builder_create(strom_table_schema(sink))))
        strom_fail(STROM_ENOMEM, "job %s: out of memory", l->id);
    if (*r && !l->window)
        l->buffered++;                  /* the row is put next (put_row) */
    return *r;
}

/* sql_job_sink.window_end: the rows of the windows ending at end, one idempotent append. */
static strom_err hook_window_end(void *arg, int64_t end, int64_t slide)
{
    srv_job_log *l = arg;
    int64_t n = l->wrows ? strom_builder_nrows(l->wrows) : 0;
    if (n == 0)
        return STROM_OK;
    if (end < 0 || slide <= 0)
        return strom_fail(STROM_ELIMIT, "job %s: a window ending before 1970 cannot be written exactly once into "
                          "a log table", l->id);
    int64_t k = end / slide;
    uint64_t h = strom_hash64(l->id, strlen(l->id));
    strom_write_opts o = {.writer_id = (int64_t)((h & 0x003fffffffffffffull) << 8 | 64 | (uint64_t)(k >> 31 & 63)) + 1,
                          .batch_seq = (int32_t)(k & INT32_MAX)};
    strom_err e = strom_table_write(l->sink, l->wrows, &o, NULL);
    if (e != STROM_OK)
        return e;
    l->written += n;
    strom_builder_reset(l->wrows);
    return STROM_OK;
}

/* sql_job_sink.batch_end */
static strom_err hook_batch_end(void *arg, int b, int64_t next)
{
    srv_job_log *l = arg;
    strom_err e = start(l);
    if (e != STROM_OK || b < 0 || b >= l->nb)
        return e;
    l->seq[b] = next;
    if (l->pending[b] && next >= l->pending[b]) {   /* a replay reached a forced point */
        l->pending[b] = 0;              /* next > pending[b] only if the source changed */
        l->npending--;
        return flush_bucket(l, b, next);
    }
    return l->buffered >= JOB_LOG_ROWS && !l->npending ? flush_all(l) : STROM_OK;
}

void srv_job_log_attach(srv_job_log *l, sql_session *sess)
{
    l->sess = sess;
    sql_job_sink h = {hook_rows, hook_batch_end, hook_window_end, l};
    sql_session_set_job_sink(sess, &h);
}

strom_err srv_job_log_idle(srv_job_log *l)
{
    strom_err e = start(l);
    for (int b = 0; b < l->nb && e == STROM_OK; b++)
        if (l->pending[b]) {            /* not reached (the source changed): give up on it */
            l->pending[b] = 0;
            l->npending--;
        }
    if (e == STROM_OK)
        e = flush_all(l);
    const char *table = NULL;
    int n = 0;
    const int64_t *pos = e == STROM_OK ? sql_session_stream_pos(l->sess, &table, &n) : NULL;
    for (int b = 0; pos && b < n && b < l->nb; b++)   /* everything read is done */
        if (pos[b] > l->seq[b])
            l->seq[b] = l->flushed[b] = pos[b];
    return e == STROM_OK ? l->save(l->save_arg, positions_text(l, 0)) : e;
}


int64_t srv_job_log_rows(const srv_job_log *l) { return l->written; }
