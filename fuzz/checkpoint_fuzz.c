/* fuzz/checkpoint_fuzz.c — the agent's checkpoint decoders
 * (src/agent/checkpoint.h) on arbitrary input.
 *
 * Byte 0 picks the mode. Even: the rest is a checkpoint file, scanned as an
 * append-only updates file (torn tail allowed) and as a single-record info
 * file; each record is decoded as a status update record and as each info
 * message. Checks: the good prefix never passes the input; a scan that
 * succeeds ends at the input's end or at a torn tail; the records found,
 * framed again, give back exactly the good prefix, which scans clean. Odd:
 * the rest is cut into payloads (byte 1 seeds the cuts) that are framed and
 * scanned back: same payloads, no tail. Any violation aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/agent/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

typedef struct sink {
    dr_buf canon;
    size_t count;
} sink;

static const ProtobufCMessageDescriptor *const infos[] = {
    &mesos__agent_info__descriptor, &mesos__framework_info__descriptor,
    &mesos__executor_info__descriptor, &mesos__task_info__descriptor};

static bool take(const uint8_t *payload, size_t size, uint64_t offset, void *ctx)
{
    (void)offset;
    sink *s = ctx;
    dr_ckpt_frame(&s->canon, payload, size);
    s->count++;
    int type = 0;
    Mesos__TaskStatus *st = NULL;
    const uint8_t *uuid = NULL;
    size_t uuid_size = 0;
    dr_err err;
    if (dr_ckpt_decode_update(payload, size, &type, &st, &uuid, &uuid_size, &err) == DR_OK) {
        check(type == DR_CKPT_UPDATE || type == DR_CKPT_ACK);
        if (type == DR_CKPT_UPDATE) {
            check(st->has_uuid && st->uuid.len > 0);
            dr_buf again;
            dr_buf_init(&again);
            check(dr_ckpt_encode_update(st, &again, &err) == DR_OK || err.code == DR_ETOOBIG);
            dr_buf_deinit(&again);
            dr_proto_free(&st->base);
        } else {
            check(uuid_size > 0 && uuid == payload + 1);
        }
    }
    return true;
}

static void scan_file(const uint8_t *data, size_t size)
{
    sink s = {.count = 0};
    dr_buf_init(&s.canon);
    dr_ckpt_scan_result res;
    dr_err err;
    dr_code rc = dr_ckpt_scan(data, size, false, true, take, &s, &res, &err);
    check(res.valid_size <= size);
    check(res.record_count == s.count);
    if (rc == DR_OK)
        check(res.torn || res.valid_size == size);
    else
        check(rc == DR_ECORRUPT && err.msg[0] != '\0');
    /* the good prefix is exactly the records framed again, and scans clean */
    check(s.canon.size == res.valid_size);
    check(res.valid_size == 0 || memcmp(s.canon.data, data, res.valid_size) == 0);
    dr_ckpt_scan_result res2;
    check(dr_ckpt_scan(data, (size_t)res.valid_size, false, false, NULL, NULL, &res2, &err) ==
          DR_OK);
    check(res2.record_count == res.record_count && !res2.torn);
    dr_buf_deinit(&s.canon);

    /* as a single-record info file */
    for (size_t i = 0; i < sizeof infos / sizeof infos[0]; i++) {
        ProtobufCMessage *msg = NULL;
        if (dr_ckpt_decode_single(data, size, infos[i], &msg, &err) == DR_OK)
            dr_proto_free(msg);
        else
            check(err.code == DR_ECORRUPT);
    }
}

static void frame_and_scan(const uint8_t *data, size_t size)
{
    if (size < 1)
        return;
    uint32_t seed = data[0];
    data++;
    size--;
    dr_buf file;
    dr_buf_init(&file);
    size_t cuts[64];
    size_t n = 0, at = 0;
    while (at < size && n < 64) {
        seed = seed * 1103515245u + 12345u;
        size_t len = (seed >> 16) % 64;
        if (len > size - at)
            len = size - at;
        dr_ckpt_frame(&file, data + at, len);
        cuts[n++] = len;
        at += len;
    }
    sink s = {.count = 0};
    dr_buf_init(&s.canon);
    dr_ckpt_scan_result res;
    dr_err err;
    check(dr_ckpt_scan(file.data, file.size, false, false, take, &s, &res, &err) == DR_OK);
    check(s.count == n && !res.torn && res.valid_size == file.size);
    check(s.canon.size == file.size);
    check(file.size == 0 || memcmp(s.canon.data, file.data, file.size) == 0);
    (void)cuts;
    dr_buf_deinit(&s.canon);
    dr_buf_deinit(&file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] % 2 == 0)
        scan_file(data + 1, size - 1);
    else
        frame_and_scan(data + 1, size - 1);
    return 0;
}
