/* src/allocator/allocator.h — the allocator interface the master uses.
 *
 * The allocator decides which framework is offered which agent's resources.
 * It is a pure state machine: the master tells it about agents, frameworks,
 * roles and every change of allocation, and asks it to allocate; time comes
 * in as an argument (now_ns), so it runs identically for real and in the
 * simulator and never touches the env. Allocation order is deterministic:
 * ties are broken by ids (strcmp), never by addresses.
 *
 * This implementation is weighted DRF across roles, then across the
 * frameworks of each role (Mesos's hierarchical allocator without quota,
 * which a later issue adds behind this same interface), with offer filters,
 * per-role suppress/revive, static reservations and minimum allocatable
 * resources.
 *
 * Resources cross this interface as arrays of Mesos__Resource (borrowed in;
 * grants own theirs). Ownership words follow STYLE.md.
 *
 * Changes by the allocator engineer (signatures above kept):
 *   - dr_allocator_add_use() added (the "add_use" the recover comment names).
 *   - Granted resources carry allocation_info.role (= the grant's role), as
 *     Mesos's Resources::allocate() does; recover() accepts resources with or
 *     without it.
 *   - Limits: at most DR_ALLOC_NAME_COUNT_MAX resource names in all (add_agent
 *     fails with DR_ETOOBIG beyond), roles at most DR_ALLOC_ROLE_DEPTH_MAX deep.
 *   - A filter lasts max(refuse_ns, allocation_interval_ns) from recover()'s
 *     now_ns (Mesos: both must have passed); refuse_ns is clamped to 365 days.
 *     A new refusal by the same (framework, role) on the same agent replaces
 *     the older filter. Filtered means: the candidate offer is contained in
 *     the refused resources (Mesos's RefusedOfferFilter).
 *   - dr_alloc_role_info.dominant_share is the role subtree's unweighted
 *     dominant share (0..1); roles listed are those with frameworks, a weight
 *     set, or allocations (rolled up: ancestors of a role holding resources).
 *   - recover() of resources that were never allocated is a programmer error
 *     (assertion). Recovery for an unknown agent is ignored; for a framework
 *     removed meanwhile it only returns the resources to the agent.
 */
#ifndef DR_ALLOCATOR_H
#define DR_ALLOCATOR_H

#include "src/base/base.h"
#include "src/proto/proto.h"

typedef struct dr_allocator dr_allocator;

typedef struct dr_allocator_opts {
    /* Offers smaller than this are not made: "cpus:0.01|mem:32" in Mesos
     * (either is enough). <= 0 disables a bound. */
    double min_allocatable_cpus;
    double min_allocatable_mem_mb;
    /* Resource names left out of the dominant share ("gpus"). Copied. */
    const char *const *fair_sharing_excluded_names;
    size_t fair_sharing_excluded_count;
    /* Offer agents with gpus only to GPU_RESOURCES-capable frameworks. */
    bool filter_gpu_resources;
    /* A filter expires only after its timeout AND one allocation interval. */
    uint64_t allocation_interval_ns;
} dr_allocator_opts;

/* Framework capabilities that matter to allocation. */
enum {
    DR_ALLOC_CAP_GPU_RESOURCES = 1 << 0,
    DR_ALLOC_CAP_MULTI_ROLE = 1 << 1,
    DR_ALLOC_CAP_RESERVATION_REFINEMENT = 1 << 2,
    DR_ALLOC_CAP_SHARED_RESOURCES = 1 << 3,
    DR_ALLOC_CAP_REVOCABLE_RESOURCES = 1 << 4,
};

/* One offer to make: `resources` of `agent_id` to `framework_id` for `role`.
 * Strings and resources are owned by the grant list (dr_allocator_grants_free). */
typedef struct dr_alloc_grant {
    char *framework_id;
    char *agent_id;
    char *role;
    Mesos__Resource **resources;
    size_t resource_count;
} dr_alloc_grant;

typedef struct dr_alloc_grants {
    dr_alloc_grant *items;
    size_t count;
} dr_alloc_grants;

dr_allocator *dr_allocator_create(const dr_allocator_opts *opts); /* returns owned */
void dr_allocator_destroy(dr_allocator *a);

/* Weights (default 1.0). Errors: DR_EINVAL for a weight <= 0 or a bad role. */
dr_code dr_allocator_set_weight(dr_allocator *a, const char *role, double weight,
                                dr_err *err) DR_MUST_USE;
double dr_allocator_weight(const dr_allocator *a, const char *role);

/* Agents. total: everything the agent has (reservations included). used: what
 * is already allocated there, per framework (on re-registration with running
 * tasks; each entry's role is the allocation role). */
typedef struct dr_alloc_use {
    const char *framework_id;
    const char *role;
    const Mesos__Resource *const *resources;
    size_t resource_count;
} dr_alloc_use;

dr_code dr_allocator_add_agent(dr_allocator *a, const char *agent_id,
                               const Mesos__Resource *const *total, size_t total_count,
                               const dr_alloc_use *used, size_t used_count,
                               dr_err *err) DR_MUST_USE;
void dr_allocator_remove_agent(dr_allocator *a, const char *agent_id);
/* An unreachable or draining agent is not offered until activated again. */
void dr_allocator_activate_agent(dr_allocator *a, const char *agent_id, bool active);

/* Frameworks. roles: the roles it subscribes with (copied). */
dr_code dr_allocator_add_framework(dr_allocator *a, const char *framework_id,
                                   const char *const *roles, size_t role_count,
                                   uint32_t capabilities, const char *const *suppressed_roles,
                                   size_t suppressed_count, dr_err *err) DR_MUST_USE;
dr_code dr_allocator_update_framework(dr_allocator *a, const char *framework_id,
                                      const char *const *roles, size_t role_count,
                                      uint32_t capabilities,
                                      const char *const *suppressed_roles,
                                      size_t suppressed_count, dr_err *err) DR_MUST_USE;
/* Removing recovers nothing by itself: the master recovers each offer and task. */
void dr_allocator_remove_framework(dr_allocator *a, const char *framework_id);
/* A disconnected framework keeps its allocation but is not offered more. */
void dr_allocator_activate_framework(dr_allocator *a, const char *framework_id, bool active);

/* Adds resources a framework uses on an agent outside allocate() (a task
 * reported by a re-registering agent). The framework need not be added yet.
 * Errors: DR_ENOENT unknown agent; DR_EINVAL invalid resources or role, or
 * resources that are not available there; DR_ETOOBIG too many names. */
dr_code dr_allocator_add_use(dr_allocator *a, const char *agent_id, const dr_alloc_use *use,
                             dr_err *err) DR_MUST_USE;

/* Allocation changes. recover: resources the framework no longer holds
 * (offer declined, rescinded or timed out; task ended), with an optional
 * filter: do not offer this agent's resources back to it for refuse_ns
 * (0: no filter). add_use: resources allocated outside allocate() (a task
 * reported by a re-registering agent). */
void dr_allocator_recover(dr_allocator *a, const char *framework_id, const char *agent_id,
                          const char *role, const Mesos__Resource *const *resources,
                          size_t resource_count, uint64_t refuse_ns, uint64_t now_ns);

/* Suppress: stop offering the framework's roles (all if role_count is 0).
 * Revive: offer them again and clear its filters for those roles. */
void dr_allocator_suppress(dr_allocator *a, const char *framework_id, const char *const *roles,
                           size_t role_count);
void dr_allocator_revive(dr_allocator *a, const char *framework_id, const char *const *roles,
                         size_t role_count);

/* Runs one allocation cycle at now_ns: returns (owned) the offers to make,
 * in a deterministic order. Granted resources count as allocated until
 * recovered. */
void dr_allocator_allocate(dr_allocator *a, uint64_t now_ns, dr_alloc_grants *out);
void dr_allocator_grants_free(dr_alloc_grants *grants);

/* Read-only views for the operator API and metrics. */
typedef struct dr_alloc_role_info {
    const char *role;
    double weight;
    double dominant_share;
    const char *const *framework_ids; /* sorted */
    size_t framework_count;
} dr_alloc_role_info;
/* Calls fn for each known role, in role-name order. */
void dr_allocator_each_role(const dr_allocator *a,
                            void (*fn)(const dr_alloc_role_info *info, void *ctx), void *ctx);

#endif /* DR_ALLOCATOR_H */
