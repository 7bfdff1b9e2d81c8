/* src/proto/proto.h — the Mesos v1 messages and their protobuf codec.
 *
 * The message types are generated at build time by protoc-c from Debian's
 * mesos-go v1 protos (Mesos 1.4) plus src/proto/additions.txt (what Mesos
 * added in 1.5-1.11 that Dromos speaks). Their C names carry the mesos-go
 * packages (Mesos__Scheduler__Call); packages never reach the wire.
 *
 * Memory. A decoder either allocates from a dr_arena (one block list freed
 * at once by dr_arena_deinit: what request handling uses) or, given no arena,
 * with malloc; such a message is freed with dr_proto_free(). Messages built by
 * hand and encoded are only borrowed.
 *
 * The JSON codec is in src/proto/json.h. This module leaves HTTP, RecordIO and
 * content negotiation to src/http.
 */
#ifndef DR_PROTO_H
#define DR_PROTO_H

#include <protobuf-c/protobuf-c.h>

#include "src/base/base.h"
#include "agent.pb-c.h"
#include "allocator.pb-c.h"
#include "executor.pb-c.h"
#include "maintenance.pb-c.h"
#include "master.pb-c.h"
#include "mesos.pb-c.h"
#include "quota.pb-c.h"
#include "scheduler.pb-c.h"

/* ---- arena ---------------------------------------------------------------- */

/* A bump allocator: a first chunk of ~1 KiB (most arenas hold one small
 * request), then chunks of at least DR_ARENA_CHUNK_SIZE bytes, freed all at
 * once. Allocation aborts on exhaustion like dr_alloc; sizes reaching it were
 * bounded by the decoder's input size checks. Not thread-safe. */
#define DR_ARENA_CHUNK_SIZE (64u * 1024)
#define DR_ARENA_CHUNK_SIZE_MAX (4u * 1024 * 1024)

typedef struct dr_arena_chunk dr_arena_chunk;
typedef struct dr_arena {
    ProtobufCAllocator allocator; /* hands out arena memory; free is a no-op */
    dr_arena_chunk *head;         /* newest chunk; older ones follow */
    size_t used_size;             /* bytes handed out */
    size_t size_max;              /* decoders stop past this; 0: no limit */
    bool over;                    /* the protobuf-c allocator refused past size_max */
} dr_arena;

void dr_arena_init(dr_arena *arena);
/* Bounds what the decoders may allocate in this arena (decoded messages take
 * 2-15 times their wire size, but crafted input up to ~100 times: a request
 * arena should have a limit). Past it, dr_proto_decode and dr_json_decode fail
 * with DR_ETOOBIG. 0 (the default) means no limit. */
void dr_arena_set_size_max(dr_arena *arena, size_t size_max);
/* Frees every chunk; everything allocated from the arena dies with it. */
void dr_arena_deinit(dr_arena *arena);
/* Returns zeroed memory, 16-byte aligned, owned by the arena. */
void *dr_arena_alloc(dr_arena *arena, size_t size);

/* ---- protobuf codec ---------------------------------------------------------- */

/* The short name used in errors: "mesos.scheduler.Call". */
const char *dr_proto_name(const ProtobufCMessageDescriptor *desc);

/* Decodes data[size] (borrows) as desc. *out returns owned: by the arena, or,
 * when arena is NULL, by the caller (malloc'd; free with dr_proto_free).
 * Accepts and refuses what protobuf-c's unpack does (proto2 merges, unknown
 * fields kept and re-encoded as Mesos does), and also refuses messages nested
 * deeper than DR_PROTO_DEPTH_MAX and field number 0. Errors: DR_ETOOBIG above
 * DR_PROTO_MESSAGE_SIZE_MAX or past the arena's size_max; DR_EINVAL "invalid
 * mesos.scheduler.Call protobuf (N bytes): " then what is wrong, where:
 * "'subscribe.framework_info.user' is required", "wire type 0 at byte 4,
 * expected 2 (at 'subscribe.framework_info.user')", "bad varint at byte 9",
 * "messages nested deeper than 64", "field number 0 at byte 0". On failure
 * *out is untouched. */
dr_code dr_proto_decode(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                        size_t size, dr_arena *arena, ProtobufCMessage **out,
                        dr_err *err) DR_MUST_USE;

/* Appends msg (borrows) in protobuf to out. Errors: DR_EINVAL when a
 * required field is unset (naming it); DR_ETOOBIG above the size limit. */
dr_code dr_proto_encode(const ProtobufCMessage *msg, dr_buf *out, dr_err *err) DR_MUST_USE;

/* Checks that every required field of msg and its sub-messages is set.
 * Error: "'subscribe.framework_info.user' is required". */
dr_code dr_proto_check_required(const ProtobufCMessage *msg, dr_err *err) DR_MUST_USE;

/* Frees a message decoded without an arena (takes). NULL is a no-op. */
void dr_proto_free(ProtobufCMessage *msg);

/* ---- resources ------------------------------------------------------------- */

/* Rewrites, in place, every Resource inside msg from the pre-1.4 format
 * ("pre-reservation-refinement": `role` + optional `reservation`) to
 * `reservations`, as Mesos's upgradeResources() does:
 *   role "*" (or unset), no reservation -> no reservations (unreserved)
 *   role R, no reservation              -> [{type STATIC, role R}]
 *   role R, reservation {principal,...} -> [{type DYNAMIC, role R, principal,...}]
 * and clears `role` and `reservation`. A resource already in the new format is
 * left alone. Callers run it on every decoded request, whatever its codec.
 * arena must be the one msg was decoded into (NULL for malloc'd messages).
 * Errors (DR_EINVAL, msg unchanged from the failing resource on): a resource
 * with both `reservations` and `role`/`reservation`; `reservation` with role
 * "*". The error names the path: "'accept.operations[0]...resources[1]': ...". */
dr_code dr_proto_upgrade_resources(ProtobufCMessage *msg, dr_arena *arena,
                                   dr_err *err) DR_MUST_USE;

#endif /* DR_PROTO_H */
