/* src/http/recordio.h — RecordIO framing as Mesos uses it for event streams:
 * each record is `<decimal length>\n<length bytes>`, no header, no trailer.
 * Chunk boundaries of the carrying stream mean nothing: the decoder takes bytes
 * in any split (a record over several feeds, several records in one feed).
 *
 * Pure byte handling: no env, no message types (the payload is opaque).
 */
#ifndef DR_HTTP_RECORDIO_H
#define DR_HTTP_RECORDIO_H

#include "../base/base.h"
#include "../limits.h"

/* Appends `<size>\n<data>` to out. */
void dr_recordio_encode(dr_buf *out, const void *data, size_t size);

/* The longest length prefix accepted: 20 digits (UINT64_MAX has 20). */
#define DR_RECORDIO_DIGIT_COUNT_MAX 20u

typedef struct dr_recordio_decoder {
    size_t record_size_max; /* records longer are rejected with DR_ETOOBIG */
    bool in_record;         /* false: reading the length digits */
    char digits[DR_RECORDIO_DIGIT_COUNT_MAX + 1];
    size_t digit_count;
    uint64_t record_size;   /* while in_record: the announced size */
    dr_buf record;          /* while in_record: bytes received so far */
    uint64_t record_count;  /* records delivered, for error messages */
    dr_err failure;         /* code != DR_OK: the decoder is dead */
} dr_recordio_decoder;

/* record_size_max 0 means DR_RECORDIO_RECORD_SIZE_MAX; it may not exceed it. */
void dr_recordio_decoder_init(dr_recordio_decoder *dec, size_t record_size_max);
void dr_recordio_decoder_deinit(dr_recordio_decoder *dec);

/* A complete record; data is borrowed for the call. Returning false stops the
 * feed (dr_recordio_decoder_feed then returns DR_ECANCELED); the decoder stays
 * usable and the rest of that feed's bytes are dropped. */
typedef bool dr_recordio_record_fn(const uint8_t *data, size_t size, void *ctx);

/* Feeds bytes (borrowed) and calls fn for each record completed by them, in
 * order. Errors: DR_EPROTO for a malformed length (non-digit, empty, more than
 * 20 digits, garbage before the length), quoting the offending bytes;
 * DR_ETOOBIG for a record over the maximum. After an error the decoder is dead:
 * every later feed returns the same error. Records completed before the bad
 * bytes were already delivered. */
dr_code dr_recordio_decoder_feed(dr_recordio_decoder *dec, const uint8_t *data, size_t size,
                                 dr_recordio_record_fn *fn, void *ctx, dr_err *err) DR_MUST_USE;

/* End of stream: DR_OK if it ended between records, else DR_EPROTO naming what
 * was cut off ("record 3 cut off after 5 of 12 bytes"). */
dr_code dr_recordio_decoder_finish(const dr_recordio_decoder *dec, dr_err *err) DR_MUST_USE;

/* Writes a printable, quoted-safe rendering of up to 32 bytes of data into out
 * (non-printables as \n, \r, \t or \xNN; "..." when cut). For error messages
 * that quote untrusted input. */
void dr_http_quote(const uint8_t *data, size_t size, char *out, size_t out_size);

#endif /* DR_HTTP_RECORDIO_H */
