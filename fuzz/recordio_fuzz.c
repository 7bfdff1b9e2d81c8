/* fuzz/recordio_fuzz.c — the RecordIO decoder (src/http/recordio.h) on
 * arbitrary input, fed in pieces.
 *
 * Byte 0 picks the record size limit, byte 1 seeds the split points; the rest
 * is the stream. Checks: records never exceed the limit; the same stream fed
 * whole gives the same records and the same verdict; the records re-encoded
 * and decoded again are a fixed point. Any violation aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/http/recordio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

typedef struct sink {
    dr_buf canon; /* the records re-encoded */
    size_t count;
    size_t size_max;
} sink;

static bool take(const uint8_t *data, size_t size, void *ctx)
{
    sink *s = ctx;
    check(size <= s->size_max);
    dr_recordio_encode(&s->canon, data, size);
    s->count++;
    return true;
}

/* Decodes stream in pieces cut by a small LCG; returns the verdict. */
static dr_code decode(const uint8_t *stream, size_t size, size_t size_max, uint32_t cut_seed,
                      sink *s)
{
    dr_recordio_decoder d;
    dr_recordio_decoder_init(&d, size_max);
    dr_err err = {0};
    dr_code rc = DR_OK;
    size_t pos = 0;
    uint32_t x = cut_seed;
    while (pos < size && rc == DR_OK) {
        size_t piece = size - pos;
        if (cut_seed != 0) {
            x = x * 1103515245u + 12345u;
            piece = DR_MIN(piece, (size_t)(x >> 16) % 17 + 1);
        }
        rc = dr_recordio_decoder_feed(&d, stream + pos, piece, take, s, &err);
        if (rc != DR_OK)
            check(err.msg[0] != '\0');
        pos += piece;
    }
    if (rc == DR_OK)
        rc = dr_recordio_decoder_finish(&d, &err);
    dr_recordio_decoder_deinit(&d);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t size_max = (size_t)data[0] * 4 + 1;
    uint32_t cut_seed = data[1];
    const uint8_t *stream = data + 2;
    size_t stream_size = size - 2;

    sink split = {.size_max = size_max};
    sink whole = {.size_max = size_max};
    dr_buf_init(&split.canon);
    dr_buf_init(&whole.canon);
    dr_code split_rc = decode(stream, stream_size, size_max, cut_seed | 1, &split);
    dr_code whole_rc = decode(stream, stream_size, size_max, 0, &whole);
    /* Split points mean nothing. */
    check(split_rc == whole_rc);
    check(split.count == whole.count);
    check(split.canon.size == whole.canon.size);
    check(split.canon.size == 0 ||
          memcmp(split.canon.data, whole.canon.data, split.canon.size) == 0);
    /* Round trip: the canonical encoding decodes to itself. */
    sink again = {.size_max = size_max};
    dr_buf_init(&again.canon);
    check(decode(split.canon.data, split.canon.size, size_max, cut_seed, &again) == DR_OK);
    check(again.count == split.count);
    check(again.canon.size == split.canon.size);
    check(again.canon.size == 0 ||
          memcmp(again.canon.data, split.canon.data, again.canon.size) == 0);
    dr_buf_deinit(&again.canon);
    dr_buf_deinit(&split.canon);
    dr_buf_deinit(&whole.canon);
    return 0;
}
