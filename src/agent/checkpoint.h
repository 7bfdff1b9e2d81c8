/* src/agent/checkpoint.h — the agent's checkpoint record format: framing,
 * scanning (with torn-tail detection) and the status update record codec.
 * Pure byte handling (no env), so the fuzz harness drives it directly; the
 * files themselves are written by src/agent/checkpoint.c through the env.
 *
 * A checkpoint file is a sequence of records (docs/agent.md has the table):
 *
 *   offset  size  field
 *   0       4     magic "DRCK" (0x4B435244, little endian)
 *   4       4     payload size N (little endian), <= DR_CKPT_PAYLOAD_SIZE_MAX
 *   8       8     XXH3-64 of the payload seeded with XXH3-64 of bytes 0..8 (LE)
 *   16      N     payload
 *
 * Info files (slave.info, framework.info, ...) hold exactly one record and are
 * replaced atomically; task.updates is append-only: each record's payload
 * starts with a type byte, 1 = UPDATE (a TaskStatus in protobuf follows) or
 * 2 = ACK (the acknowledged update's uuid bytes follow).
 */
#ifndef DR_AGENT_CHECKPOINT_H
#define DR_AGENT_CHECKPOINT_H

#include "src/base/base.h"
#include "src/proto/proto.h"

#define DR_CKPT_MAGIC UINT32_C(0x4B435244)
#define DR_CKPT_HEADER_SIZE 16u
#define DR_CKPT_PAYLOAD_SIZE_MAX (16u * 1024 * 1024)

enum { DR_CKPT_UPDATE = 1, DR_CKPT_ACK = 2 };

/* Appends one framed record holding payload[size] (borrowed) to out. */
void dr_ckpt_frame(dr_buf *out, const void *payload, size_t size);

/* A record found by dr_ckpt_scan; payload borrowed from the scanned bytes. */
typedef bool dr_ckpt_record_fn(const uint8_t *payload, size_t size, uint64_t offset, void *ctx);

typedef struct dr_ckpt_scan_result {
    uint64_t record_count; /* records delivered */
    uint64_t valid_size;   /* bytes up to the end of the last good record */
    bool torn;             /* a damaged final record was found (and not delivered) */
} dr_ckpt_scan_result;

/* Walks data[size] record by record, calling fn for each good one (fn may
 * return false to stop: DR_ECANCELED). A record that is cut off, or damaged
 * and reaching the end of the data, is a torn tail: with allow_torn the scan
 * ends there (out->torn), else it is corruption. Anything else damaged is
 * corruption: DR_ECORRUPT "bad magic at offset 32", "bad checksum at offset
 * 32", "oversized record at offset 32". single: exactly one
 * record must be there ("expected one record, found 2"; an empty file is
 * "empty"). On error out->valid_size is the offset of the bad record. */
dr_code dr_ckpt_scan(const uint8_t *data, size_t size, bool single, bool allow_torn,
                     dr_ckpt_record_fn *fn, void *ctx, dr_ckpt_scan_result *out,
                     dr_err *err) DR_MUST_USE;

/* Decodes one record holding a message of desc (returns owned, malloc'd:
 * dr_proto_free). DR_ECORRUPT on anything wrong. */
dr_code dr_ckpt_decode_single(const uint8_t *data, size_t size,
                              const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out,
                              dr_err *err) DR_MUST_USE;

/* Status update records. encode: appends the framed record to out. */
dr_code dr_ckpt_encode_update(const Mesos__TaskStatus *status, dr_buf *out,
                              dr_err *err) DR_MUST_USE;
void dr_ckpt_encode_ack(const uint8_t *uuid, size_t uuid_size, dr_buf *out);

/* Decodes a task.updates payload: *type_out is DR_CKPT_UPDATE (with
 * *status_out returned owned, malloc'd) or DR_CKPT_ACK (with the uuid
 * borrowed from payload in *uuid_out, its size in *uuid_size_out). DR_ECORRUPT otherwise. */
dr_code dr_ckpt_decode_update(const uint8_t *payload, size_t size, int *type_out,
                              Mesos__TaskStatus **status_out, const uint8_t **uuid_out,
                              size_t *uuid_size_out, dr_err *err) DR_MUST_USE;

#endif /* DR_AGENT_CHECKPOINT_H */
