/* fuzz_seal.h: for fuzz targets whose decoder verifies record batch CRCs (format.h):
 * recomputes the chunk CRCs, header_crc and crc of the batch at p (len bytes) wherever
 * its fields locate them inside p, so that mutated bytes reach the decoders behind the
 * CRCs (a peer or a disk that writes a bad batch writes its CRCs too). */
#ifndef STROM_FUZZ_SEAL_H
#define STROM_FUZZ_SEAL_H

#include "format/format.h"

static inline void fuzz_seal_batch(uint8_t *p, size_t len)
{
    if (len < FMT_HEADER_SIZE)
        return;
    uint64_t ncols = strom_get_u16(p + 26), nrows = strom_get_u32(p + 32);
    uint64_t body = FMT_HEADER_SIZE + FMT_DIR_ENTRY_SIZE * ncols + strom_get_u32(p + 52) +
                    (strom_get_u16(p + 24) & FMT_ATTR_CHANGES ? nrows : 0);
    if (body > len)
        return;
    for (uint64_t c = 0; c < ncols; c++) {
        uint8_t *d = p + FMT_HEADER_SIZE + FMT_DIR_ENTRY_SIZE * c;
        uint64_t off = strom_get_u32(d + 8), dl = strom_get_u32(d + 12);
        if (off + dl <= len)
            strom_put_u32(d + 20, strom_crc32c(0, p + off, (size_t)dl));
    }
    strom_put_u32(p + 20, strom_crc32c(0, p + 24, (size_t)body - 24));
    uint64_t total = 12 + (uint64_t)strom_get_u32(p + 8);
    if (total <= len && total >= 20)
        strom_put_u32(p + 16, strom_crc32c(0, p + 20, (size_t)total - 20));
}

#endif /* STROM_FUZZ_SEAL_H */
