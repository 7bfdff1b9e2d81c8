/* src/resources/resources.h — Mesos resources: parsing, validation,
 * arithmetic, filters and the text form, on lists of Mesos__Resource, as
 * Mesos's Resources class (common/resources.cpp) does.
 *
 * A dr_resources owns deep copies of its Mesos__Resource items (malloc'd, as
 * protobuf-c's default allocator does; freed by dr_resources_deinit). The
 * list is kept normalized, as Mesos keeps a Resources object: no empty items,
 * and no two items that are "addable" (same name, type, reservations, disk
 * info, shared, revocable, provider and allocation info): adding merges
 * values instead. Item order is insertion order, so output is deterministic.
 *
 * Reservations are in the post-refinement form only (`reservations`, the
 * stack Mesos 1.4+ uses; src/proto's dr_proto_upgrade_resources converts
 * older input). A resource's role is the role of its last reservation, or
 * "*" when it has none (unreserved).
 *
 * Scalars use Mesos's fixed point: every value is rounded to 0.001 (Mesos
 * converts to int64 thousandths) and compared exactly, so 0.1 + 0.2 == 0.3.
 *
 * Pure code: no env, clock or I/O. The allocator keeps its own compact form
 * for its hot loop and uses this module at its edges.
 */
#ifndef DR_RESOURCES_H
#define DR_RESOURCES_H

#include "src/base/base.h"
#include "src/proto/proto.h"

/* The largest scalar value accepted (1e12: an exabyte of mem in MB). */
#define DR_RESOURCE_SCALAR_MAX 1e12

typedef struct dr_resources {
    Mesos__Resource **items; /* owned, deep copies; never empty items */
    size_t count;
    size_t capacity;
} dr_resources;

/* ---- lifetime ---------------------------------------------------------------- */

void dr_resources_init(dr_resources *rs);
void dr_resources_deinit(dr_resources *rs); /* frees every item; rs is empty after */
void dr_resources_clear(dr_resources *rs);  /* same as deinit + init */
/* dst (initialized; its old items are freed) becomes a deep copy of src. */
void dr_resources_copy(dr_resources *dst, const dr_resources *src);
/* Moves src's items into dst (dst's old items are freed); src ends empty. */
void dr_resources_move(dr_resources *dst, dr_resources *src);

/* A deep copy of one resource (returns owned; free with dr_resource_free). */
Mesos__Resource *dr_resource_copy(const Mesos__Resource *r);
void dr_resource_free(Mesos__Resource *r); /* takes; NULL is a no-op */

/* Validates items[count] (borrows) and adds each to out (initialized; on
 * failure out is unchanged). Errors as dr_resource_validate, prefixed with
 * the index: "resource[2]: resource 'cpus': scalar value must be finite, >= 0
 * and <= 1e12". */
dr_code dr_resources_from_array(dr_resources *out, const Mesos__Resource *const *items,
                                size_t count, dr_err *err) DR_MUST_USE;

/* ---- parsing ------------------------------------------------------------------- */

/* Parses an agent's --resources text and adds it to out (initialized;
 * unchanged on failure). Two forms, as Mesos accepts:
 *   text: "cpus:4;mem:2048;ports:[31000-32000,33000-33010];disk(role):100;
 *          zones:{a,b}" — entries split on ';', blanks around parts ignored;
 *          "name(role)" is a STATIC reservation for role ("name(*)" and
 *          "name" are unreserved); values: a number (scalar), [b-e,...]
 *          (ranges) or {a,b,...} (set); repeated names add up;
 *   JSON: an array of Resource objects ('[' first), decoded by the proto JSON
 *          codec and upgraded to `reservations`.
 * Every resource is validated. Errors (DR_EINVAL) quote the failing entry:
 *   "resources 'cpus:x': value is not a number"
 *   "resources 'cpus': expected NAME:VALUE"
 *   "resources 'ports:[5-3]': range 5-3 has begin > end"
 *   "resources 'disk(-x):1': Role component '-x' is invalid because it
 *    starts with a dash"
 * and for JSON "resources '[...]': [2]: <codec or validation error>" (the
 * array index of the failing element). */
dr_code dr_resources_parse(const char *text, dr_resources *out, dr_err *err) DR_MUST_USE;

/* ---- validation ---------------------------------------------------------------- */

/* Mesos's Resources::validate for one resource: a non-empty name; exactly
 * the value field of its type; a scalar finite, >= 0 and at most
 * DR_RESOURCE_SCALAR_MAX (sums of thousandths then fit in int64; a sum that
 * would not saturates at INT64_MAX thousandths); ranges with begin <= end and no overlaps; a
 * set without duplicates; type TEXT refused; no pre-1.4 `role` or
 * `reservation` (upgrade first); each reservation with a valid role other
 * than "*", each refining (a subrole of) the one before. Errors (DR_EINVAL)
 * name the resource: "resource 'cpus': scalar value must be finite, >= 0 and
 * <= 1e12".
 * err may be NULL. */
dr_code dr_resource_validate(const Mesos__Resource *r, dr_err *err) DR_MUST_USE;

/* Mesos's roles::validate: "*" is valid; otherwise no empty role, no leading
 * or trailing '/', no empty, ".", ".." or "*" component, no component that
 * starts with '-', no whitespace or control characters. Errors (DR_EINVAL)
 * are Mesos's texts: "Role 'a//b' cannot contain two adjacent slashes". */
dr_code dr_role_validate(const char *role, dr_err *err) DR_MUST_USE;

/* True when ancestor == role or role lies below it ("a" is an ancestor of
 * "a/b"; "*" of nothing but itself). */
bool dr_role_is_ancestor_or_self(const char *ancestor, const char *role);

/* ---- one resource -------------------------------------------------------------- */

/* The reservation role (last in the stack), or "*" when unreserved. */
const char *dr_resource_role(const Mesos__Resource *r);
bool dr_resource_is_reserved(const Mesos__Resource *r);
bool dr_resource_is_empty(const Mesos__Resource *r);
/* Same identity (all but the value): Mesos's addable(). */
bool dr_resource_addable(const Mesos__Resource *a, const Mesos__Resource *b);
/* The identity bytes of r (every field but the value, canonical), appended to
 * out: equal bytes <=> dr_resource_addable. The allocator interns these. */
void dr_resource_identity(const Mesos__Resource *r, dr_buf *out);
/* Scalar value in thousandths (Mesos fixed point); r must be a scalar. */
int64_t dr_resource_millis(const Mesos__Resource *r);
/* Builds an unreserved or reserved resource (returns owned). role NULL or "*"
 * means unreserved, else one STATIC reservation. */
Mesos__Resource *dr_resource_new_scalar(const char *name, const char *role, double value);
Mesos__Resource *dr_resource_new_ranges(const char *name, const char *role,
                                        const uint64_t *pairs, size_t pair_count);

/* ---- arithmetic (Mesos semantics) ------------------------------------------ */

/* a += r: merges into an addable item or appends a copy; empty r is ignored. */
void dr_resources_add_one(dr_resources *a, const Mesos__Resource *r);
void dr_resources_add(dr_resources *a, const dr_resources *b);
/* a -= r: subtracts from the addable item; an item that becomes empty (or a
 * scalar <= 0) is removed. What a does not hold is ignored, as in Mesos. */
void dr_resources_subtract_one(dr_resources *a, const Mesos__Resource *r);
void dr_resources_subtract(dr_resources *a, const dr_resources *b);
/* a ⊇ b. */
bool dr_resources_contains(const dr_resources *a, const dr_resources *b);
bool dr_resources_contains_one(const dr_resources *a, const Mesos__Resource *r);
/* Same resources whatever the item order. */
bool dr_resources_equal(const dr_resources *a, const dr_resources *b);
bool dr_resources_is_empty(const dr_resources *rs);

/* ---- filters (out: initialized; its old items are freed) ------------------- */

void dr_resources_unreserved(const dr_resources *in, dr_resources *out);
/* Reserved to exactly role (role "*" or NULL: every reserved resource). */
void dr_resources_reserved(const dr_resources *in, const char *role, dr_resources *out);
/* What a framework of role may be offered: unreserved plus reserved to role
 * or one of its ancestors. */
void dr_resources_allocatable_to(const dr_resources *in, const char *role, dr_resources *out);
void dr_resources_named(const dr_resources *in, const char *name, dr_resources *out);
/* Sets (or, role NULL, clears) every item's allocation_info.role, as Mesos's
 * Resources::allocate does for offers; merges items that become addable. */
void dr_resources_set_allocation_role(dr_resources *rs, const char *role);

/* ---- sums ------------------------------------------------------------------------ */

/* Sum of the scalar resources called name, in thousandths / as a double. */
int64_t dr_resources_scalar_millis(const dr_resources *rs, const char *name);
double dr_resources_scalar(const dr_resources *rs, const char *name);
double dr_resources_cpus(const dr_resources *rs);
double dr_resources_mem(const dr_resources *rs); /* MB */
double dr_resources_disk(const dr_resources *rs); /* MB */
double dr_resources_gpus(const dr_resources *rs);
/* The union of every "ports" range, merged and sorted, as begin/end pairs
 * in out (reset first). Returns the number of ranges. */
size_t dr_resources_ports(const dr_resources *rs, dr_buf *out);

/* ---- text form ------------------------------------------------------------------- */

/* Appends Mesos's text form to out, items joined by "; ":
 *   "cpus(*):1; mem(*):128; ports(*):[31000-32000, 33000-33010]; zones(*):{a, b};
 *    disk(role):100"
 * The role in parentheses is the resource's role ("*": unreserved), as Mesos
 * 1.0-1.3 print it; a dynamic reservation adds its principal
 * ("cpus(role, alice):1"); then "[persistence-id:container-path]" for disk
 * info, "{REV}" when revocable, "<SHARED>" when shared. Scalars print with up
 * to 15 significant digits and no trailing zeros. The text form of resources
 * without dynamic reservations or disk info parses back to the same list. */
void dr_resources_format(const dr_resources *rs, dr_buf *out);
/* The same into a new string (returns owned). */
char *dr_resources_to_string(const dr_resources *rs);

#endif /* DR_RESOURCES_H */
