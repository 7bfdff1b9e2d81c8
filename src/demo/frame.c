/* src/demo/frame.c — the counter's wire frames, log records and addresses.
 *
 * Pure encoding and decoding (formats in counter.h); nothing here touches the
 * env. Decoders treat their input as untrusted: sizes are checked against the
 * limits before anything is read, and checksums before anything is believed.
 */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "counter_int.h"

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

void dr_counter_frame_put(dr_buf *out, uint8_t type, const void *payload, size_t payload_size)
{
    DR_ASSERT(payload_size < DR_COUNTER_FRAME_BODY_SIZE_MAX);
    size_t start = out->size;
    uint8_t head[5];
    put_u32(head, (uint32_t)(payload_size + 1));
    head[4] = type;
    dr_buf_append(out, head, sizeof head);
    if (payload_size > 0)
        dr_buf_append(out, payload, payload_size);
    uint8_t sum[8];
    put_u64(sum, XXH3_64bits(out->data + start, out->size - start));
    dr_buf_append(out, sum, sizeof sum);
}

dr_code dr_counter_frame_get(const uint8_t *data, size_t size, size_t *frame_size, uint8_t *type,
                             const uint8_t **payload, size_t *payload_size, dr_err *err)
{
    if (size < 4)
        return DR_EAGAIN;
    uint32_t body_size = get_u32(data);
    if (body_size == 0)
        return dr_err_set(err, DR_ECORRUPT, "counter frame: empty body (no type byte)");
    if (body_size > DR_COUNTER_FRAME_BODY_SIZE_MAX)
        return dr_err_set(err, DR_ETOOBIG, "counter frame: body of %u bytes exceeds %u",
                          body_size, DR_COUNTER_FRAME_BODY_SIZE_MAX);
    size_t total = 4 + (size_t)body_size + 8;
    if (size < total)
        return DR_EAGAIN;
    uint64_t want = get_u64(data + 4 + body_size);
    uint64_t got = XXH3_64bits(data, 4 + (size_t)body_size);
    if (want != got)
        return dr_err_set(err, DR_ECORRUPT,
                          "counter frame: checksum %016llx, expected %016llx (type %u, %u bytes)",
                          (unsigned long long)got, (unsigned long long)want, data[4], body_size);
    *frame_size = total;
    *type = data[4];
    *payload = data + 5;
    *payload_size = body_size - 1;
    return DR_OK;
}

void dr_counter_record_encode(const dr_counter_record *rec, uint64_t index, uint8_t *out)
{
    DR_ASSERT(index >= 1);
    put_u64(out, rec->client_id);
    put_u64(out + 8, rec->seq);
    put_u64(out + 16, rec->amount);
    put_u64(out + 24, XXH3_64bits_withSeed(out, 24, index));
}

dr_code dr_counter_record_decode(const uint8_t *in, uint64_t index, dr_counter_record *rec,
                                 dr_err *err)
{
    uint64_t want = get_u64(in + 24);
    if (XXH3_64bits_withSeed(in, 24, index) != want)
        return dr_err_set(err, DR_ECORRUPT, "counter log: record %llu fails its checksum",
                          (unsigned long long)index);
    rec->client_id = get_u64(in);
    rec->seq = get_u64(in + 8);
    rec->amount = get_u64(in + 16);
    return DR_OK;
}

dr_code dr_counter_parse_addr(const char *text, char *host, size_t host_size, uint16_t *port,
                              dr_err *err)
{
    const char *colon = strrchr(text, ':');
    if (colon == NULL)
        return dr_err_set(err, DR_EINVAL, "address '%s': expected HOST:PORT", text);
    size_t name_size = (size_t)(colon - text);
    if (name_size == 0 || name_size >= host_size)
        return dr_err_set(err, DR_EINVAL, "address '%s': host must be 1-%zu bytes", text,
                          host_size - 1);
    char *end = NULL;
    unsigned long value = strtoul(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || colon[1] == '-' || colon[1] == '+')
        return dr_err_set(err, DR_EINVAL, "address '%s': port is not a number", text);
    if (value < 1 || value > 65535)
        return dr_err_set(err, DR_EINVAL, "address '%s': port must be 1-65535", text);
    memcpy(host, text, name_size);
    host[name_size] = '\0';
    *port = (uint16_t)value;
    return DR_OK;
}

/* Exposed to server.c and client.c through counter_int.h. */
uint64_t dr__counter_get_u64(const uint8_t *p) { return get_u64(p); }
uint32_t dr__counter_get_u32(const uint8_t *p) { return get_u32(p); }
void dr__counter_put_u64(uint8_t *p, uint64_t v) { put_u64(p, v); }
void dr__counter_put_u32(uint8_t *p, uint32_t v) { put_u32(p, v); }
