/* src/http/recordio.c — RecordIO encoder and incremental decoder.
 *
 * The decoder is a two-state machine: length digits up to '\n', then exactly
 * that many payload bytes. A record that arrives whole inside one feed is
 * handed out straight from the caller's buffer; only split records are copied.
 */
#include "recordio.h"

#include <stdio.h>
#include <string.h>

void dr_recordio_encode(dr_buf *out, const void *data, size_t size)
{
    DR_ASSERT(out != NULL);
    DR_ASSERT(data != NULL || size == 0);
    dr_buf_append_uint(out, size, 10);
    dr_buf_append(out, "\n", 1);
    if (size > 0)
        dr_buf_append(out, data, size);
}

void dr_recordio_decoder_init(dr_recordio_decoder *dec, size_t record_size_max)
{
    DR_ASSERT(record_size_max <= DR_RECORDIO_RECORD_SIZE_MAX);
    memset(dec, 0, sizeof *dec);
    dec->record_size_max = record_size_max == 0 ? DR_RECORDIO_RECORD_SIZE_MAX : record_size_max;
    dr_buf_init(&dec->record);
}

void dr_recordio_decoder_deinit(dr_recordio_decoder *dec)
{
    dr_buf_deinit(&dec->record);
    memset(dec, 0, sizeof *dec);
}

void dr_http_quote(const uint8_t *data, size_t size, char *out, size_t out_size)
{
    DR_ASSERT(out_size >= 8);
    size_t used = 0;
    size_t shown = DR_MIN(size, (size_t)32);
    for (size_t i = 0; i < shown; i++) {
        char piece[8];
        uint8_t c = data[i];
        if (c == '\n')
            snprintf(piece, sizeof piece, "\\n");
        else if (c == '\r')
            snprintf(piece, sizeof piece, "\\r");
        else if (c == '\t')
            snprintf(piece, sizeof piece, "\\t");
        else if (c == '\\' || c == '\'')
            snprintf(piece, sizeof piece, "\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
            snprintf(piece, sizeof piece, "%c", c);
        else
            snprintf(piece, sizeof piece, "\\x%02x", c);
        size_t piece_size = strlen(piece);
        if (used + piece_size + 4 > out_size) { /* room for "..." and NUL */
            shown = i;
            break;
        }
        memcpy(out + used, piece, piece_size);
        used += piece_size;
    }
    if (shown < size) {
        memcpy(out + used, "...", 3);
        used += 3;
    }
    out[used] = '\0';
}

static dr_code fail(dr_recordio_decoder *dec, dr_err *err, dr_code code, const char *fmt, ...)
    DR_PRINTF(4, 5);

static dr_code fail(dr_recordio_decoder *dec, dr_err *err, dr_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dec->failure.code = code;
    vsnprintf(dec->failure.msg, sizeof dec->failure.msg, fmt, ap);
    va_end(ap);
    if (err != NULL)
        *err = dec->failure;
    return code;
}

/* Quotes the digits seen so far followed by the bad bytes. */
static void quote_length(const dr_recordio_decoder *dec, const uint8_t *rest, size_t rest_size,
                         char *out, size_t out_size)
{
    uint8_t seen[DR_RECORDIO_DIGIT_COUNT_MAX + 16];
    size_t n = dec->digit_count;
    memcpy(seen, dec->digits, n);
    size_t extra = DR_MIN(rest_size, sizeof seen - n);
    memcpy(seen + n, rest, extra);
    dr_http_quote(seen, n + extra, out, out_size);
}

/* Parses the complete digit string; DR_OK and *out on success. */
static dr_code length_value(dr_recordio_decoder *dec, dr_err *err)
{
    uint64_t value = 0;
    for (size_t i = 0; i < dec->digit_count; i++) {
        uint64_t digit = (uint64_t)(dec->digits[i] - '0');
        if (value > (UINT64_MAX - digit) / 10) {
            dec->digits[dec->digit_count] = '\0';
            return fail(dec, err, DR_ETOOBIG, "recordio: record %llu: length '%s' overflows",
                        (unsigned long long)dec->record_count + 1, dec->digits);
        }
        value = value * 10 + digit;
    }
    if (value > dec->record_size_max) {
        return fail(dec, err, DR_ETOOBIG,
                    "recordio: record %llu: length %llu exceeds the maximum of %zu bytes",
                    (unsigned long long)dec->record_count + 1, (unsigned long long)value,
                    dec->record_size_max);
    }
    dec->record_size = value;
    return DR_OK;
}

dr_code dr_recordio_decoder_feed(dr_recordio_decoder *dec, const uint8_t *data, size_t size,
                                 dr_recordio_record_fn *fn, void *ctx, dr_err *err)
{
    DR_ASSERT(dec->record_size_max > 0);
    DR_ASSERT(data != NULL || size == 0);
    if (dec->failure.code != DR_OK) {
        if (err != NULL)
            *err = dec->failure;
        return dec->failure.code;
    }
    size_t pos = 0;
    while (pos < size) {
        if (!dec->in_record) {
            uint8_t c = data[pos];
            if (c == '\n') {
                if (dec->digit_count == 0) {
                    char q[160];
                    quote_length(dec, data + pos, size - pos, q, sizeof q);
                    return fail(dec, err, DR_EPROTO,
                                "recordio: record %llu: empty length before '\\n' in '%s'",
                                (unsigned long long)dec->record_count + 1, q);
                }
                dr_code rc = length_value(dec, err);
                if (rc != DR_OK)
                    return rc;
                pos++;
                dec->in_record = true;
                dec->digit_count = 0;
                dr_buf_reset(&dec->record);
                /* Whole record in this feed: hand it out without copying. */
                if (dec->record_size <= size - pos) {
                    size_t record_size = (size_t)dec->record_size;
                    dec->in_record = false;
                    dec->record_count++;
                    const uint8_t *record = data + pos;
                    pos += record_size;
                    if (!fn(record, record_size, ctx))
                        return dr_err_set(err, DR_ECANCELED, "recordio: stopped by the reader");
                }
                continue;
            }
            if (c < '0' || c > '9') {
                char q[160];
                quote_length(dec, data + pos, size - pos, q, sizeof q);
                const char *what = dec->digit_count == 0 ? "expected a decimal length"
                                                         : "expected a digit or '\\n'";
                return fail(dec, err, DR_EPROTO, "recordio: record %llu: %s, got '%s'",
                            (unsigned long long)dec->record_count + 1, what, q);
            }
            if (dec->digit_count == DR_RECORDIO_DIGIT_COUNT_MAX) {
                char q[160];
                quote_length(dec, data + pos, size - pos, q, sizeof q);
                return fail(dec, err, DR_EPROTO,
                            "recordio: record %llu: length longer than %u digits: '%s'",
                            (unsigned long long)dec->record_count + 1,
                            DR_RECORDIO_DIGIT_COUNT_MAX, q);
            }
            dec->digits[dec->digit_count++] = (char)c;
            pos++;
            continue;
        }
        /* In a record that started in an earlier feed (or this one, split). */
        DR_ASSERT(dec->record.size < dec->record_size || dec->record_size == 0);
        size_t want = (size_t)dec->record_size - dec->record.size;
        size_t take = DR_MIN(want, size - pos);
        dr_buf_append(&dec->record, data + pos, take);
        pos += take;
        if (dec->record.size == dec->record_size) {
            dec->in_record = false;
            dec->record_count++;
            bool go_on = fn(dec->record.data, dec->record.size, ctx);
            dr_buf_reset(&dec->record);
            if (!go_on)
                return dr_err_set(err, DR_ECANCELED, "recordio: stopped by the reader");
        }
    }
    return DR_OK;
}

dr_code dr_recordio_decoder_finish(const dr_recordio_decoder *dec, dr_err *err)
{
    if (dec->failure.code != DR_OK) {
        if (err != NULL)
            *err = dec->failure;
        return dec->failure.code;
    }
    if (dec->in_record) {
        return dr_err_set(err, DR_EPROTO, "recordio: record %llu cut off after %zu of %llu bytes",
                          (unsigned long long)dec->record_count + 1, dec->record.size,
                          (unsigned long long)dec->record_size);
    }
    if (dec->digit_count > 0) {
        return dr_err_set(err, DR_EPROTO, "recordio: record %llu cut off inside its length '%.*s'",
                          (unsigned long long)dec->record_count + 1, (int)dec->digit_count,
                          dec->digits);
    }
    return DR_OK;
}
