/* batchio.c: reading the header and selected column chunks of one batch of a segment,
 * with buffers reused across batches. */
#include "log_int.h"

#include <stdlib.h>

strom_err log_bio_init(log_bio *io)
{
    memset(io, 0, sizeof *io);
    io->dirs = strom_calloc(FMT_MAX_COLUMNS, sizeof *io->dirs);
    io->dec = fmt_decoder_create();
    if (!io->dirs || !io->dec) {
        log_bio_free(io);
        return strom_fail(STROM_ENOMEM, "out of memory for a batch reader");
    }
    return STROM_OK;
}

void log_bio_free(log_bio *io)
{
    strom_buf_free(&io->hdr);
    strom_buf_free(&io->io);
    free(io->dirs);
    if (io->dec)
        fmt_decoder_destroy(io->dec);
    memset(io, 0, sizeof *io);
}

static strom_err bio_fail(log_bucket *b, log_segment *s, uint64_t pos, strom_err e)
{
    return strom_fail_wrap(e, "%s: segment %020lld: batch at position %llu", b->name,
                           (long long)s->base, (unsigned long long)pos);
}

static strom_err bio_pread(log_bucket *b, log_segment *s, uint8_t *dst, size_t n, uint64_t pos)
{
    size_t got = 0;
    int rc = strom_pread_full(s->fd, dst, n, pos, &got);
    if (rc != 0)
        return strom_fail_errno(rc, "%s: segment %020lld: read at %llu", b->name,
                                (long long)s->base, (unsigned long long)pos);
    if (got != n)
        return strom_fail(STROM_ECORRUPT, "%s: segment %020lld: truncated batch at position %llu",
                          b->name, (long long)s->base, (unsigned long long)pos);
    return STROM_OK;
}

strom_err log_bio_header(log_bio *io, log_bucket *b, log_segment *s, uint64_t pos,
                         uint64_t limit)
{
    if (pos + FMT_HEADER_SIZE > limit)
        return strom_fail(STROM_ECORRUPT, "%s: segment %020lld: truncated batch at position %llu",
                          b->name, (long long)s->base, (unsigned long long)pos);
    size_t want = STROM_MIN((size_t)(limit - pos), (size_t)4096);
    strom_buf_clear(&io->hdr);
    if (!strom_buf_grow(&io->hdr, want))
        return STROM_ENOMEM;
    strom_err e = bio_pread(b, s, io->hdr.data, want, pos);
    if (e != STROM_OK)
        return e;
    size_t need = fmt_hdr_need(io->hdr.data, want);
    if (need == 0)
        return bio_fail(b, s, pos, STROM_ECORRUPT);
    if (need > want) {
        if (pos + need > limit)
            return strom_fail(STROM_ECORRUPT, "%s: segment %020lld: batch header at %llu runs "
                              "past the end", b->name, (long long)s->base, (unsigned long long)pos);
        if (!strom_buf_grow(&io->hdr, need - want))
            return STROM_ENOMEM;
        e = bio_pread(b, s, io->hdr.data + want, need - want, pos + want);
        if (e != STROM_OK)
            return e;
    }
    e = fmt_hdr_parse(io->hdr.data, STROM_MAX(need, want), &io->h, io->dirs);
    if (e != STROM_OK)
        return bio_fail(b, s, pos, e);
    if (pos + 12 + io->h.length > limit)
        return strom_fail(STROM_ECORRUPT, "%s: segment %020lld: batch at position %llu runs past "
                          "the end", b->name, (long long)s->base, (unsigned long long)pos);
    io->pos = pos;
    return STROM_OK;
}

/* Orders directory indexes by chunk position (insertion sort: few columns). */
static void sort_by_offset(const fmt_dir *dirs, int *ord, int n)
{
    for (int i = 1; i < n; i++) {
        int v = ord[i], j = i;
        while (j > 0 && dirs[ord[j - 1]].data_offset > dirs[v].data_offset) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = v;
    }
}

#define BIO_GAP 512 /* chunks this close are read with one pread */

/* Reads the chunks of ord[0..n) (sorted) into io->io; base[i] = where chunk ord[i] starts. */
static strom_err read_runs(log_bio *io, log_bucket *b, log_segment *s, const int *ord, int n,
                           size_t *base)
{
    strom_buf_clear(&io->io);
    int i = 0;
    while (i < n) {
        uint64_t start = io->dirs[ord[i]].data_offset;
        uint64_t end = start + io->dirs[ord[i]].data_length;
        int j = i + 1;
        while (j < n && io->dirs[ord[j]].data_offset <= end + BIO_GAP) {
            end = STROM_MAX(end, (uint64_t)io->dirs[ord[j]].data_offset + io->dirs[ord[j]].data_length);
            j++;
        }
        size_t at = io->io.len;
        if (!strom_buf_grow(&io->io, end - start))
            return STROM_ENOMEM;
        strom_err e = bio_pread(b, s, io->io.data + at, end - start, io->pos + start);
        if (e != STROM_OK)
            return e;
        for (int k = i; k < j; k++)
            base[k] = at + (io->dirs[ord[k]].data_offset - start);
        i = j;
    }
    return STROM_OK;
}

strom_err log_bio_columns(log_bio *io, log_bucket *b, log_segment *s, const int *dirix, int n,
                          strom_batch *dst, const char *const *names, strom_column *out)
{
    return log_bio_columns_rows(io, b, s, dirix, n, NULL, 0, dst, names, out);
}

strom_err log_bio_columns_rows(log_bio *io, log_bucket *b, log_segment *s, const int *dirix,
                               int n, const uint32_t *rows, uint32_t nsel, strom_batch *dst,
                               const char *const *names, strom_column *out)
{
    int ord[FMT_MAX_COLUMNS];
    size_t base[FMT_MAX_COLUMNS];
    if (n > FMT_MAX_COLUMNS)
        return strom_fail(STROM_EINVAL, "too many columns");
    memcpy(ord, dirix, (size_t)n * sizeof *ord);
    sort_by_offset(io->dirs, ord, n);
    strom_err e = read_runs(io, b, s, ord, n, base);
    for (int k = 0; e == STROM_OK && k < n; k++) {
        const fmt_dir *d = &io->dirs[ord[k]];
        const uint8_t *chunk = io->io.data + base[k];
        /* point reads of a blocked chunk check only the blocks they decompress */
        int skip_crc = rows && fmt_codec_blocked(d->codec);
        if (!skip_crc && strom_crc32c(0, chunk, d->data_length) != d->crc)
            return strom_fail(STROM_ECORRUPT, "%s: segment %020lld: batch at offset %lld: column "
                              "%d chunk CRC mismatch", b->name, (long long)s->base,
                              (long long)io->h.base_offset, ord[k]);
        for (int i = 0; i < n; i++) {
            if (dirix[i] != ord[k])
                continue;
            const char *nm = names ? names[i] : "";
            e = rows ? fmt_decode_rows(io->dec, d, chunk, io->h.nrows, rows, nsel, dst, nm, &out[i])
                     : fmt_decode_column(io->dec, d, chunk, io->h.nrows, dst, nm, &out[i]);
            if (e != STROM_OK)
                return strom_fail_wrap(e, "%s: segment %020lld: batch at offset %lld: column %d",
                                       b->name, (long long)s->base, (long long)io->h.base_offset,
                                       ord[k]);
            break;
        }
    }
    return e;
}

strom_err log_row_key(strom_buf *out, const strom_column *kc, int nk, int64_t r)
{
    strom_buf_clear(out);
    return log_row_key_append(out, kc, nk, r);
}

strom_err log_row_key_append(strom_buf *out, const strom_column *kc, int nk, int64_t r)
{
    for (int i = 0; i < nk; i++) {
        strom_err e = fmt_key_from_column(out, &kc[i], r);
        if (e != STROM_OK)
            return e;
    }
    return STROM_OK;
}

strom_err log_time_values(log_bucket *b, const fmt_hdr *h, const strom_column *c,
                          const int64_t **out)
{
    if (c->type != STROM_TIMESTAMP && c->type != STROM_BIGINT)
        return strom_fail(STROM_ECORRUPT, "%s: batch at offset %lld: time column of type %s",
                          b->name, (long long)h->base_offset, strom_type_name(c->type));
    *out = c->values;
    return STROM_OK;
}
