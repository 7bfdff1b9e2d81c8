/* src/agent/checkpoint_codec.c — the checkpoint record format (see
 * checkpoint.h): framing, scanning with torn-tail detection, and the status
 * update record codec. Pure: no env, no I/O. */
#include "checkpoint.h"

#include <string.h>
#include <xxhash.h>

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

static uint64_t checksum(const uint8_t *header, const uint8_t *payload, size_t size)
{
    return XXH3_64bits_withSeed(payload, size, XXH3_64bits(header, 8));
}

/* True if a complete record with a good checksum starts anywhere at or
 * after from. */
static bool good_record_after(const uint8_t *data, size_t size, size_t from)
{
    for (size_t at = from; at + DR_CKPT_HEADER_SIZE <= size; at++) {
        const uint8_t *h = data + at;
        if (get_u32(h) != DR_CKPT_MAGIC)
            continue;
        uint32_t n = get_u32(h + 4);
        if (n > DR_CKPT_PAYLOAD_SIZE_MAX || (size_t)n > size - at - DR_CKPT_HEADER_SIZE)
            continue;
        if (get_u64(h + 8) == checksum(h, h + DR_CKPT_HEADER_SIZE, n))
            return true;
    }
    return false;
}

void dr_ckpt_frame(dr_buf *out, const void *payload, size_t size)
{
    DR_ASSERT(size <= DR_CKPT_PAYLOAD_SIZE_MAX);
    uint8_t header[DR_CKPT_HEADER_SIZE];
    put_u32(header, DR_CKPT_MAGIC);
    put_u32(header + 4, (uint32_t)size);
    put_u64(header + 8, checksum(header, payload, size));
    dr_buf_append(out, header, sizeof header);
    if (size > 0)
        dr_buf_append(out, payload, size);
}

dr_code dr_ckpt_scan(const uint8_t *data, size_t size, bool single, bool allow_torn,
                     dr_ckpt_record_fn *fn, void *ctx, dr_ckpt_scan_result *out, dr_err *err)
{
    memset(out, 0, sizeof *out);
    size_t offset = 0;
    while (offset < size) {
        size_t left = size - offset;
        const uint8_t *h = data + offset;
        const char *fault = NULL;
        bool reaches_end = false;
        uint32_t payload_size = 0;
        if (left < DR_CKPT_HEADER_SIZE) {
            fault = "record cut off";
            reaches_end = true;
        } else if (get_u32(h) != DR_CKPT_MAGIC) {
            fault = "bad magic";
            /* A torn tail may have garbage anywhere, its header too: it is
             * torn when no good record follows it. */
            reaches_end = !good_record_after(data, size, offset + 1);
        } else {
            payload_size = get_u32(h + 4);
            if (payload_size > DR_CKPT_PAYLOAD_SIZE_MAX) {
                fault = "oversized record";
                reaches_end = !good_record_after(data, size, offset + 1);
            } else if ((size_t)payload_size > left - DR_CKPT_HEADER_SIZE) {
                fault = "record cut off";
                reaches_end = true;
            } else {
                reaches_end = DR_CKPT_HEADER_SIZE + (size_t)payload_size == left;
                if (get_u64(h + 8) != checksum(h, h + DR_CKPT_HEADER_SIZE, payload_size))
                    fault = "bad checksum";
            }
        }
        if (fault == NULL && single && out->record_count == 1) {
            out->valid_size = offset;
            return dr_err_set(err, DR_ECORRUPT, "expected one record, found more at offset %zu",
                              offset);
        }
        if (fault != NULL) {
            out->valid_size = offset;
            if (allow_torn && !single && reaches_end) {
                out->torn = true;
                return DR_OK;
            }
            return dr_err_set(err, DR_ECORRUPT, "%s at offset %zu", fault, offset);
        }
        out->record_count++;
        if (fn != NULL && !fn(h + DR_CKPT_HEADER_SIZE, payload_size, offset, ctx)) {
            out->valid_size = offset;
            return dr_err_set(err, DR_ECANCELED, "scan stopped at offset %zu", offset);
        }
        offset += DR_CKPT_HEADER_SIZE + payload_size;
        out->valid_size = offset;
    }
    if (single && out->record_count == 0)
        return dr_err_set(err, DR_ECORRUPT, "empty at offset 0");
    DR_ASSERT(out->valid_size == size);
    return DR_OK;
}

typedef struct single_ctx {
    const uint8_t *payload;
    size_t size;
} single_ctx;

static bool single_fn(const uint8_t *payload, size_t size, uint64_t offset, void *ctx)
{
    (void)offset;
    single_ctx *sc = ctx;
    sc->payload = payload;
    sc->size = size;
    return true;
}

dr_code dr_ckpt_decode_single(const uint8_t *data, size_t size,
                              const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out,
                              dr_err *err)
{
    single_ctx sc = {0};
    dr_ckpt_scan_result res;
    dr_code rc = dr_ckpt_scan(data, size, true, false, single_fn, &sc, &res, err);
    if (rc != DR_OK)
        return rc;
    DR_ASSERT(res.record_count == 1);
    rc = dr_proto_decode(desc, sc.payload, sc.size, NULL, out, err);
    if (rc != DR_OK)
        return dr_err_set(err, DR_ECORRUPT, "record at offset 0: %s", err ? err->msg : "");
    return DR_OK;
}

dr_code dr_ckpt_encode_update(const Mesos__TaskStatus *status, dr_buf *out, dr_err *err)
{
    dr_buf payload;
    dr_buf_init(&payload);
    uint8_t type = DR_CKPT_UPDATE;
    dr_buf_append(&payload, &type, 1);
    dr_code rc = dr_proto_encode(&status->base, &payload, err);
    if (rc == DR_OK && payload.size > DR_CKPT_PAYLOAD_SIZE_MAX)
        rc = dr_err_set(err, DR_ETOOBIG, "status update of %zu bytes", payload.size);
    if (rc == DR_OK)
        dr_ckpt_frame(out, payload.data, payload.size);
    dr_buf_deinit(&payload);
    return rc;
}

void dr_ckpt_encode_ack(const uint8_t *uuid, size_t uuid_size, dr_buf *out)
{
    dr_buf payload;
    dr_buf_init(&payload);
    uint8_t type = DR_CKPT_ACK;
    dr_buf_append(&payload, &type, 1);
    dr_buf_append(&payload, uuid, uuid_size);
    dr_ckpt_frame(out, payload.data, payload.size);
    dr_buf_deinit(&payload);
}

dr_code dr_ckpt_decode_update(const uint8_t *payload, size_t size, int *type_out,
                              Mesos__TaskStatus **status_out, const uint8_t **uuid_out,
                              size_t *uuid_size_out, dr_err *err)
{
    if (size < 1)
        return dr_err_set(err, DR_ECORRUPT, "empty update record");
    if (payload[0] == DR_CKPT_ACK) {
        if (size < 2)
            return dr_err_set(err, DR_ECORRUPT, "acknowledgement without a uuid");
        *type_out = DR_CKPT_ACK;
        *uuid_out = payload + 1;
        *uuid_size_out = size - 1;
        return DR_OK;
    }
    if (payload[0] != DR_CKPT_UPDATE)
        return dr_err_set(err, DR_ECORRUPT, "unknown update record type %u", payload[0]);
    ProtobufCMessage *msg = NULL;
    dr_err derr;
    if (dr_proto_decode(&mesos__task_status__descriptor, payload + 1, size - 1, NULL, &msg,
                        &derr) != DR_OK)
        return dr_err_set(err, DR_ECORRUPT, "update record: %s", derr.msg);
    Mesos__TaskStatus *st = (Mesos__TaskStatus *)msg;
    if (!st->has_uuid || st->uuid.len == 0) {
        dr_proto_free(msg);
        return dr_err_set(err, DR_ECORRUPT, "update record without a uuid");
    }
    *type_out = DR_CKPT_UPDATE;
    *status_out = st;
    return DR_OK;
}
