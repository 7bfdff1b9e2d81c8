/* src/master/operator.c — the master's v1 operator API: POST /api/v1 with
 * Mesos's master Call/Response messages in JSON or protobuf, and the
 * SUBSCRIBE event stream (RecordIO records of master Events).
 *
 * Owns: the operator state (operator.h), content negotiation for every call
 * (405/400/415/406 as Mesos answers them, Accept checked on every call),
 * decoding and validating calls, building Response messages from the model,
 * event streams with their heartbeats, SET_LOGGING_LEVEL revert timers and
 * the weights set by operators. Leaves changes of the model to the
 * dr__master_* functions (TEARDOWN, MARK_AGENT_GONE, UPDATE_WEIGHTS), the v0
 * JSON endpoints to v0.c and metric values to metrics.c.
 *
 * Responses borrow the model's protobuf values (FrameworkInfo, Task, ...):
 * they are built in an arena, encoded at once and dropped with the arena,
 * before the model can change. Calls not implemented yet answer 501 naming
 * the call ("GET_QUOTA is not implemented yet").
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "src/master/operator.h"
#include "src/proto/json.h"

struct dr_op_subscriber {
    dr_op_subscriber *next;
    dr_operator *op;
    uint64_t id;
    dr_http_response *res; /* NULL once the stream is finished */
    dr_http_codec codec;
    dr_timer_id heartbeat_timer;
    bool dead; /* finished: freed by sweep_subscribers */
};

#define PB_NEW(arena, var, type, init_fn)                                                          \
    type *var = dr_arena_alloc((arena), sizeof(type));                                             \
    init_fn(var)

static void *pb_array(dr_arena *arena, size_t count, size_t item_size)
{
    return dr_arena_alloc(arena, DR_MAX(count, (size_t)1) * item_size);
}

/* ---- model -> messages (all built in an arena; values borrowed) ------------------------- */

static Mesos__TimeInfo *time_info(dr_arena *arena, uint64_t wall_ns)
{
    PB_NEW(arena, t, Mesos__TimeInfo, mesos__time_info__init);
    t->nanoseconds = (int64_t)wall_ns;
    return t;
}

static Mesos__FrameworkID *framework_id(dr_arena *arena, const char *id)
{
    PB_NEW(arena, f, Mesos__FrameworkID, mesos__framework_id__init);
    f->value = (char *)id;
    return f;
}

static Mesos__AgentID *agent_id(dr_arena *arena, const char *id)
{
    PB_NEW(arena, a, Mesos__AgentID, mesos__agent_id__init);
    a->value = (char *)id;
    return a;
}

static Mesos__Master__Response__GetAgents__Agent *agent_model(dr_arena *arena,
                                                              const dr_magent *a)
{
    PB_NEW(arena, out, Mesos__Master__Response__GetAgents__Agent,
           mesos__master__response__get_agents__agent__init);
    out->agent_info = a->info;
    out->active = a->state == DR_MAGENT_CONNECTED;
    out->version = a->version != NULL ? a->version : (char *)"";
    out->pid = (char *)a->pid;
    out->registered_time = time_info(arena, a->registered_wall_ns);
    if (a->reregistered_wall_ns != 0)
        out->reregistered_time = time_info(arena, a->reregistered_wall_ns);
    out->total_resources = a->total_resources.items;
    out->n_total_resources = a->total_resources.count;
    out->allocated_resources = a->used_resources.items;
    out->n_allocated_resources = a->used_resources.count;
    out->offered_resources = a->offered_resources.items;
    out->n_offered_resources = a->offered_resources.count;
    out->capabilities = pb_array(arena, a->capability_count, sizeof out->capabilities[0]);
    for (size_t i = 0; i < a->capability_count; i++) {
        PB_NEW(arena, cap, Mesos__AgentInfo__Capability, mesos__agent_info__capability__init);
        cap->has_type = true;
        cap->type = a->capabilities[i];
        out->capabilities[i] = cap;
    }
    out->n_capabilities = a->capability_count;
    return out;
}

static Mesos__Offer *offer_model(dr_arena *arena, dr_master *m, const dr_moffer *o)
{
    PB_NEW(arena, out, Mesos__Offer, mesos__offer__init);
    PB_NEW(arena, oid, Mesos__OfferID, mesos__offer_id__init);
    oid->value = o->id;
    out->id = oid;
    out->framework_id = framework_id(arena, o->framework_id);
    out->agent_id = agent_id(arena, o->agent_id);
    const dr_magent *a = dr__master_agent(m, o->agent_id);
    out->hostname = a != NULL && a->hostname != NULL ? a->hostname : (char *)"";
    out->resources = o->resources.items;
    out->n_resources = o->resources.count;
    PB_NEW(arena, alloc, Mesos__Resource__AllocationInfo, mesos__resource__allocation_info__init);
    alloc->role = o->role;
    out->allocation_info = alloc;
    return out;
}

static Mesos__Master__Response__GetFrameworks__Framework *
framework_model(dr_arena *arena, dr_master *m, const dr_mframework *fw)
{
    PB_NEW(arena, out, Mesos__Master__Response__GetFrameworks__Framework,
           mesos__master__response__get_frameworks__framework__init);
    out->framework_info = fw->info;
    out->active = fw->state == DR_MFRAMEWORK_CONNECTED;
    out->connected = fw->state == DR_MFRAMEWORK_CONNECTED;
    out->recovered = false;
    out->registered_time = time_info(arena, fw->registered_wall_ns);
    if (fw->reregistered_wall_ns != 0)
        out->reregistered_time = time_info(arena, fw->reregistered_wall_ns);
    if (fw->unregistered_wall_ns != 0)
        out->unregistered_time = time_info(arena, fw->unregistered_wall_ns);
    out->offers = pb_array(arena, fw->offers.count, sizeof out->offers[0]);
    for (size_t i = 0; i < fw->offers.count; i++)
        out->offers[i] = offer_model(arena, m, fw->offers.items[i].value);
    out->n_offers = fw->offers.count;
    out->allocated_resources = fw->used_resources.items;
    out->n_allocated_resources = fw->used_resources.count;
    out->offered_resources = fw->offered_resources.items;
    out->n_offered_resources = fw->offered_resources.count;
    return out;
}

static Mesos__Master__Response__GetAgents *get_agents(dr_arena *arena, dr_master *m)
{
    PB_NEW(arena, out, Mesos__Master__Response__GetAgents,
           mesos__master__response__get_agents__init);
    out->agents = pb_array(arena, m->agents.count, sizeof out->agents[0]);
    for (size_t i = 0; i < m->agents.count; i++) {
        const dr_magent *a = m->agents.items[i].value;
        /* Unreachable agents are not registered ones, in Mesos as here. */
        if (a->state != DR_MAGENT_UNREACHABLE)
            out->agents[out->n_agents++] = agent_model(arena, a);
    }
    return out;
}

static Mesos__Master__Response__GetFrameworks *get_frameworks(dr_arena *arena, dr_master *m)
{
    PB_NEW(arena, out, Mesos__Master__Response__GetFrameworks,
           mesos__master__response__get_frameworks__init);
    out->frameworks = pb_array(arena, m->frameworks.count, sizeof out->frameworks[0]);
    for (size_t i = 0; i < m->frameworks.count; i++)
        out->frameworks[out->n_frameworks++] =
            framework_model(arena, m, m->frameworks.items[i].value);
    out->completed_frameworks =
        pb_array(arena, m->completed_framework_count, sizeof out->completed_frameworks[0]);
    for (size_t i = 0; i < m->completed_framework_count; i++)
        out->completed_frameworks[out->n_completed_frameworks++] =
            framework_model(arena, m, m->completed_frameworks[i]);
    return out;
}

static Mesos__Master__Response__GetExecutors *get_executors(dr_arena *arena, dr_master *m)
{
    PB_NEW(arena, out, Mesos__Master__Response__GetExecutors,
           mesos__master__response__get_executors__init);
    size_t total = 0;
    for (size_t i = 0; i < m->agents.count; i++)
        total += ((const dr_magent *)m->agents.items[i].value)->executors.count;
    out->executors = pb_array(arena, total, sizeof out->executors[0]);
    for (size_t i = 0; i < m->agents.count; i++) {
        const dr_magent *a = m->agents.items[i].value;
        for (size_t j = 0; j < a->executors.count; j++) {
            const dr_mexecutor *e = a->executors.items[j].value;
            PB_NEW(arena, ex, Mesos__Master__Response__GetExecutors__Executor,
                   mesos__master__response__get_executors__executor__init);
            ex->executor_info = e->info;
            ex->agent_id = agent_id(arena, a->id);
            out->executors[out->n_executors++] = ex;
        }
    }
    return out;
}

static void add_tasks(dr_arena *arena, const dr_mframework *fw,
                      Mesos__Master__Response__GetTasks *out, bool live)
{
    if (live) {
        for (size_t i = 0; i < fw->tasks.count; i++) {
            const dr_mtask *t = fw->tasks.items[i].value;
            if (t->unreachable)
                out->unreachable_tasks[out->n_unreachable_tasks++] = t->task;
            else
                out->tasks[out->n_tasks++] = t->task;
        }
    }
    for (size_t i = 0; i < fw->completed_count; i++)
        out->completed_tasks[out->n_completed_tasks++] = fw->completed_tasks[i]->task;
    DR_UNUSED(arena);
}

static Mesos__Master__Response__GetTasks *get_tasks(dr_arena *arena, dr_master *m)
{
    PB_NEW(arena, out, Mesos__Master__Response__GetTasks,
           mesos__master__response__get_tasks__init);
    size_t live = 0, completed = 0;
    for (size_t i = 0; i < m->frameworks.count; i++) {
        const dr_mframework *fw = m->frameworks.items[i].value;
        live += fw->tasks.count;
        completed += fw->completed_count;
    }
    for (size_t i = 0; i < m->completed_framework_count; i++)
        completed += m->completed_frameworks[i]->completed_count;
    out->tasks = pb_array(arena, live, sizeof out->tasks[0]);
    out->unreachable_tasks = pb_array(arena, live, sizeof out->unreachable_tasks[0]);
    out->completed_tasks = pb_array(arena, completed, sizeof out->completed_tasks[0]);
    for (size_t i = 0; i < m->frameworks.count; i++)
        add_tasks(arena, m->frameworks.items[i].value, out, true);
    for (size_t i = 0; i < m->completed_framework_count; i++)
        add_tasks(arena, m->completed_frameworks[i], out, false);
    return out;
}

static Mesos__Master__Response__GetState *get_state(dr_arena *arena, dr_master *m)
{
    PB_NEW(arena, out, Mesos__Master__Response__GetState,
           mesos__master__response__get_state__init);
    out->get_tasks = get_tasks(arena, m);
    out->get_executors = get_executors(arena, m);
    out->get_frameworks = get_frameworks(arena, m);
    out->get_agents = get_agents(arena, m);
    return out;
}

/* ---- flags, version, roles, weights ------------------------------------------------------- */

const char *dr__operator_version(const dr_master *m)
{
    return m->opts.version != NULL ? m->opts.version : "1.11.0";
}

/* stout's Duration output: the largest unit the value reaches, as %g. */
static void format_duration(char *out, size_t out_size, uint64_t ns)
{
    static const struct {
        uint64_t unit_ns;
        const char *name;
    } units[] = {
        {7 * 86400 * DR_NS_PER_S, "weeks"}, {86400 * DR_NS_PER_S, "days"},
        {3600 * DR_NS_PER_S, "hrs"},        {60 * DR_NS_PER_S, "mins"},
        {DR_NS_PER_S, "secs"},         {DR_NS_PER_MS, "ms"},        {DR_NS_PER_US, "us"},
    };
    for (size_t i = 0; i < DR_ARRAY_COUNT(units); i++) {
        if (ns >= units[i].unit_ns) {
            snprintf(out, out_size, "%g%s", (double)ns / (double)units[i].unit_ns, units[i].name);
            return;
        }
    }
    snprintf(out, out_size, "%lluns", (unsigned long long)ns);
}

void dr__operator_flags(dr_master *m, dr__operator_flag_fn *fn, void *ctx)
{
    const dr_master_opts *o = &m->opts;
    char buf[64];
    if (o->flag_count > 0) {
        /* The command's own table (sorted when copied): every flag, as Mesos
         * lists its flags. Only the port can differ from what was asked. */
        snprintf(buf, sizeof buf, "%u", (unsigned)dr_master_port(m));
        for (size_t i = 0; i < o->flag_count; i++)
            fn(o->flags[i].name, strcmp(o->flags[i].name, "port") == 0 ? buf : o->flags[i].value,
               ctx);
        return;
    }
    dr_buf list;
    dr_buf_init(&list);

    /* In name order, as Mesos's flags map is. */
    format_duration(buf, sizeof buf, o->agent_ping_timeout_ns);
    fn("agent_ping_timeout", buf, ctx);
    format_duration(buf, sizeof buf, o->allocation_interval_ns);
    fn("allocation_interval", buf, ctx);
    if (o->cluster != NULL)
        fn("cluster", o->cluster, ctx);
    for (size_t i = 0; i < o->fair_sharing_excluded_count; i++)
        dr_buf_printf(&list, "%s%s", i == 0 ? "" : ",", o->fair_sharing_excluded_names[i]);
    if (o->fair_sharing_excluded_count > 0)
        fn("fair_sharing_excluded_resource_names", dr_buf_cstr(&list), ctx);
    fn("filter_gpu_resources", o->filter_gpu_resources ? "true" : "false", ctx);
    if (o->hostname != NULL)
        fn("hostname", o->hostname, ctx);
    if (o->ip != NULL)
        fn("ip", o->ip, ctx);
    fn("logging_level", dr_log_level_name(dr_env_log_level(m->env)), ctx);
    snprintf(buf, sizeof buf, "%u", o->max_agent_ping_timeouts);
    fn("max_agent_ping_timeouts", buf, ctx);
    snprintf(buf, sizeof buf, "%u", o->max_completed_frameworks);
    fn("max_completed_frameworks", buf, ctx);
    snprintf(buf, sizeof buf, "%u", o->max_completed_tasks_per_framework);
    fn("max_completed_tasks_per_framework", buf, ctx);
    snprintf(buf, sizeof buf, "%u", o->max_unreachable_tasks_per_framework);
    fn("max_unreachable_tasks_per_framework", buf, ctx);
    dr_buf_reset(&list);
    if (o->min_allocatable_cpus > 0)
        dr_buf_printf(&list, "cpus:%g", o->min_allocatable_cpus);
    if (o->min_allocatable_mem_mb > 0)
        dr_buf_printf(&list, "%smem:%g", list.size > 0 ? "|" : "", o->min_allocatable_mem_mb);
    fn("min_allocatable_resources", dr_buf_cstr(&list), ctx);
    if (o->offer_timeout_ns != 0) {
        format_duration(buf, sizeof buf, o->offer_timeout_ns);
        fn("offer_timeout", buf, ctx);
    }
    snprintf(buf, sizeof buf, "%u", (unsigned)dr_master_port(m));
    fn("port", buf, ctx);
    dr_buf_reset(&list);
    for (size_t i = 0; i < o->role_count; i++)
        dr_buf_printf(&list, "%s%s", i == 0 ? "" : ",", o->roles[i]);
    if (o->role_count > 0)
        fn("roles", dr_buf_cstr(&list), ctx);
    dr_buf_reset(&list);
    dr_operator *op = dr__operator(m);
    for (size_t i = 0; i < op->weight_count; i++)
        dr_buf_printf(&list, "%s%s=%g", i == 0 ? "" : ",", op->weights[i].role,
                      op->weights[i].weight);
    if (op->weight_count > 0)
        fn("weights", dr_buf_cstr(&list), ctx);
    dr_buf_deinit(&list);
}

typedef struct flags_ctx {
    dr_arena *arena;
    Mesos__Master__Response__GetFlags *out;
    size_t capacity;
} flags_ctx;

static void add_flag(const char *name, const char *value, void *ctx)
{
    flags_ctx *fc = ctx;
    DR_ASSERT(fc->out->n_flags < fc->capacity);
    PB_NEW(fc->arena, f, Mesos__Flag, mesos__flag__init);
    size_t nsize = strlen(name) + 1, vsize = strlen(value) + 1;
    f->name = memcpy(dr_arena_alloc(fc->arena, nsize), name, nsize);
    f->value = memcpy(dr_arena_alloc(fc->arena, vsize), value, vsize);
    fc->out->flags[fc->out->n_flags++] = f;
}

/* Sets or adds role's weight in the sorted list. */
static void weight_put(dr_operator *op, const char *role, double weight)
{
    size_t at = 0;
    while (at < op->weight_count && strcmp(op->weights[at].role, role) < 0)
        at++;
    if (at < op->weight_count && strcmp(op->weights[at].role, role) == 0) {
        op->weights[at].weight = weight;
        return;
    }
    DR_ASSERT(op->weight_count < DR_OPERATOR_WEIGHT_COUNT_MAX);
    op->weights = dr_realloc(op->weights, (op->weight_count + 1) * sizeof op->weights[0]);
    memmove(&op->weights[at + 1], &op->weights[at],
            (op->weight_count - at) * sizeof op->weights[0]);
    op->weights[at].role = dr_strdup(role);
    op->weights[at].weight = weight;
    op->weight_count++;
}

/* Roles GET_ROLES lists: every role the allocator knows (frameworks), the
 * weighted ones and the --roles whitelist, merged in name order. */
typedef struct roles_ctx {
    dr_arena *arena;
    dr_master *m;
    Mesos__Role **items;
    size_t count;
    size_t capacity;
} roles_ctx;

static Mesos__Role *role_find_or_add(roles_ctx *rc, const char *name)
{
    size_t at = 0;
    while (at < rc->count && strcmp(rc->items[at]->name, name) < 0)
        at++;
    if (at < rc->count && strcmp(rc->items[at]->name, name) == 0)
        return rc->items[at];
    if (rc->count == rc->capacity) {
        size_t cap = rc->capacity == 0 ? 16 : rc->capacity * 2;
        Mesos__Role **items = dr_arena_alloc(rc->arena, cap * sizeof items[0]);
        if (rc->count > 0)
            memcpy(items, rc->items, rc->count * sizeof items[0]);
        rc->items = items;
        rc->capacity = cap;
    }
    memmove(&rc->items[at + 1], &rc->items[at], (rc->count - at) * sizeof rc->items[0]);
    PB_NEW(rc->arena, role, Mesos__Role, mesos__role__init);
    size_t size = strlen(name) + 1;
    role->name = memcpy(dr_arena_alloc(rc->arena, size), name, size);
    role->weight = dr_allocator_weight(rc->m->allocator, name);
    rc->items[at] = role;
    rc->count++;
    return role;
}

static void role_from_allocator(const dr_alloc_role_info *info, void *ctx)
{
    roles_ctx *rc = ctx;
    Mesos__Role *role = role_find_or_add(rc, info->role);
    role->weight = info->weight;
    role->frameworks = pb_array(rc->arena, info->framework_count, sizeof role->frameworks[0]);
    for (size_t i = 0; i < info->framework_count; i++) {
        size_t size = strlen(info->framework_ids[i]) + 1;
        char *id = memcpy(dr_arena_alloc(rc->arena, size), info->framework_ids[i], size);
        role->frameworks[i] = framework_id(rc->arena, id);
    }
    role->n_frameworks = info->framework_count;
}

/* ---- answering -------------------------------------------------------------------------- */

static dr_code encode(const ProtobufCMessage *msg, dr_http_codec codec, dr_buf *out, dr_err *err)
{
    if (codec == DR_HTTP_CODEC_PROTOBUF)
        return dr_proto_encode(msg, out, err);
    return dr_json_encode(msg, out, err);
}

static void send_message(dr_http_response *res, const dr_http_negotiation *n,
                         const ProtobufCMessage *msg)
{
    dr_buf body;
    dr_buf_init(&body);
    dr_err err;
    if (encode(msg, n->response_codec, &body, &err) != DR_OK)
        dr_http_response_error(res, 500, "Failed to encode the response: %s", err.msg);
    else
        dr_http_response_send(res, 200, n->content_type, body.data, body.size);
    dr_buf_deinit(&body);
}

static Mesos__Master__Response *response(dr_arena *arena, Mesos__Master__Response__Type type)
{
    PB_NEW(arena, r, Mesos__Master__Response, mesos__master__response__init);
    r->has_type = true;
    r->type = type;
    return r;
}

/* ---- the SUBSCRIBE event stream ------------------------------------------------------------- */

static void subscriber_finish(dr_op_subscriber *sub)
{
    if (sub->heartbeat_timer != 0) {
        dr_env_timer_cancel(sub->op->m->env, sub->heartbeat_timer);
        sub->heartbeat_timer = 0;
    }
    if (sub->res != NULL) {
        dr_http_response *res = sub->res;
        sub->res = NULL;
        dr_http_response_stream_end(res);
    }
    if (!sub->dead) {
        sub->dead = true;
        DR_ASSERT(sub->op->subscriber_count > 0);
        sub->op->subscriber_count--;
    }
}

/* Frees finished subscribers, unless a broadcast is walking the list. */
static void sweep_subscribers(dr_operator *op)
{
    if (op->broadcasting)
        return;
    dr_op_subscriber **link = &op->subscribers_head;
    op->subscribers_tail = NULL;
    while (*link != NULL) {
        dr_op_subscriber *sub = *link;
        if (sub->dead) {
            *link = sub->next;
            dr_free(sub);
        } else {
            op->subscribers_tail = sub;
            link = &sub->next;
        }
    }
}

static void subscriber_gone(dr_env *env, dr_http_response *res, void *ctx)
{
    DR_UNUSED(res);
    dr_op_subscriber *sub = ctx;
    DR_DEBUG(env, "operator: event subscriber %llu went away", (unsigned long long)sub->id);
    subscriber_finish(sub);
    sweep_subscribers(sub->op);
}

/* Writes one encoded event; a subscriber that cannot take it is ended. The
 * write may fire on_gone from inside: frees wait (sub stays valid for the
 * caller, which sweeps afterwards). */
static void subscriber_write(dr_op_subscriber *sub, const dr_buf *record)
{
    if (sub->dead || sub->res == NULL)
        return;
    dr_operator *op = sub->op;
    bool outer = op->broadcasting;
    op->broadcasting = true;
    dr_err err;
    if (dr_http_response_stream_record(sub->res, record->data, record->size, &err) != DR_OK) {
        DR_INFO(op->m->env, "operator: event subscriber %llu dropped: %s",
                (unsigned long long)sub->id, err.msg);
        subscriber_finish(sub);
    } else {
        op->events_sent++;
    }
    op->broadcasting = outer;
}

/* Encodes ev once per codec in use and writes it to every live subscriber,
 * in subscription order. */
static void broadcast(dr_operator *op, const Mesos__Master__Event *ev)
{
    if (op->subscriber_count == 0)
        return;
    dr_buf enc[3];
    bool done[3] = {false, false, false};
    for (size_t i = 0; i < 3; i++)
        dr_buf_init(&enc[i]);
    op->broadcasting = true;
    for (dr_op_subscriber *sub = op->subscribers_head; sub != NULL; sub = sub->next) {
        if (sub->dead)
            continue;
        size_t c = (size_t)sub->codec;
        DR_ASSERT(c < 3);
        if (!done[c]) {
            dr_err err;
            if (encode(&ev->base, sub->codec, &enc[c], &err) != DR_OK) {
                /* Model values are valid messages: an encoding failure is a bug
                 * upstream (e.g. invalid UTF-8 from a client), not fatal here. */
                DR_WARN(op->m->env, "operator: event not sent: %s", err.msg);
                break;
            }
            done[c] = true;
        }
        subscriber_write(sub, &enc[c]);
    }
    op->broadcasting = false;
    sweep_subscribers(op);
    for (size_t i = 0; i < 3; i++)
        dr_buf_deinit(&enc[i]);
}

static void heartbeat_fire(dr_env *env, void *ctx)
{
    dr_op_subscriber *sub = ctx;
    DR_ASSERT(sub->heartbeat_timer != 0);
    sub->heartbeat_timer = 0;
    if (sub->dead)
        return;
    Mesos__Master__Event ev;
    mesos__master__event__init(&ev);
    ev.has_type = true;
    ev.type = MESOS__MASTER__EVENT__TYPE__HEARTBEAT;
    dr_buf record;
    dr_buf_init(&record);
    dr_err err;
    if (encode(&ev.base, sub->codec, &record, &err) == DR_OK)
        subscriber_write(sub, &record);
    dr_buf_deinit(&record);
    dr_operator *op = sub->op;
    if (!sub->dead)
        sub->heartbeat_timer = dr_env_timer_add(env, DR_OPERATOR_HEARTBEAT_NS, heartbeat_fire, sub);
    sweep_subscribers(op); /* may free sub */
}

static void call_subscribe(dr_operator *op, dr_http_response *res, const dr_http_negotiation *n)
{
    dr_master *m = op->m;
    if (op->subscriber_count >= DR_OPERATOR_SUBSCRIBER_COUNT_MAX) {
        dr_http_response_error(res, 503, "Too many operator event subscribers (at most %u)",
                               DR_OPERATOR_SUBSCRIBER_COUNT_MAX);
        return;
    }
    dr_arena arena;
    dr_arena_init(&arena);
    PB_NEW(&arena, ev, Mesos__Master__Event, mesos__master__event__init);
    ev->has_type = true;
    ev->type = MESOS__MASTER__EVENT__TYPE__SUBSCRIBED;
    PB_NEW(&arena, subscribed, Mesos__Master__Event__Subscribed,
           mesos__master__event__subscribed__init);
    subscribed->get_state = get_state(&arena, m);
    subscribed->has_heartbeat_interval_seconds = true; /* Mesos 1.5, from additions.txt */
    subscribed->heartbeat_interval_seconds = (double)DR_OPERATOR_HEARTBEAT_NS / (double)DR_NS_PER_S;
    ev->subscribed = subscribed;
    dr_buf record;
    dr_buf_init(&record);
    dr_err err;
    if (encode(&ev->base, n->response_codec, &record, &err) != DR_OK) {
        dr_http_response_error(res, 500, "Failed to encode SUBSCRIBED: %s", err.msg);
        goto out;
    }

    dr_op_subscriber *sub = dr_alloc(sizeof *sub);
    sub->op = op;
    sub->id = ++op->next_subscriber_id;
    sub->res = res;
    sub->codec = n->response_codec;
    if (op->subscribers_tail != NULL)
        op->subscribers_tail->next = sub;
    else
        op->subscribers_head = sub;
    op->subscribers_tail = sub;
    op->subscriber_count++;
    dr_http_response_on_gone(res, subscriber_gone, sub);
    dr_http_negotiation_stream_start(n, res, 200);
    DR_INFO(m->env, "operator: event subscriber %llu added", (unsigned long long)sub->id);
    subscriber_write(sub, &record);
    /* As Mesos's heartbeater: one at once, then every interval. */
    if (!sub->dead)
        sub->heartbeat_timer = dr_env_timer_add(m->env, 0, heartbeat_fire, sub);
    sweep_subscribers(op); /* may free sub */
out:
    dr_buf_deinit(&record);
    dr_arena_deinit(&arena);
}

/* The event hook: one master Event per model change. */
static void event_hook(dr_master *m, dr_master_event_kind kind, const void *subject, void *ctx)
{
    dr_operator *op = ctx;
    DR_ASSERT(op->m == m);
    if (op->subscriber_count == 0)
        return;
    dr_arena arena;
    dr_arena_init(&arena);
    PB_NEW(&arena, ev, Mesos__Master__Event, mesos__master__event__init);
    ev->has_type = true;
    switch (kind) {
    case DR_MASTER_EV_TASK_ADDED: {
        const dr_mtask *t = subject;
        ev->type = MESOS__MASTER__EVENT__TYPE__TASK_ADDED;
        PB_NEW(&arena, e, Mesos__Master__Event__TaskAdded, mesos__master__event__task_added__init);
        e->task = t->task;
        ev->task_added = e;
        break;
    }
    case DR_MASTER_EV_TASK_UPDATED: {
        const dr_mtask *t = subject;
        ev->type = MESOS__MASTER__EVENT__TYPE__TASK_UPDATED;
        PB_NEW(&arena, e, Mesos__Master__Event__TaskUpdated,
               mesos__master__event__task_updated__init);
        e->framework_id = framework_id(&arena, t->framework_id);
        e->state = t->state;
        if (t->task->n_statuses > 0) {
            e->status = t->task->statuses[t->task->n_statuses - 1];
        } else {
            PB_NEW(&arena, st, Mesos__TaskStatus, mesos__task_status__init);
            st->task_id = t->task->task_id;
            st->state = t->state;
            e->status = st;
        }
        ev->task_updated = e;
        break;
    }
    case DR_MASTER_EV_AGENT_ADDED: {
        ev->type = MESOS__MASTER__EVENT__TYPE__AGENT_ADDED;
        PB_NEW(&arena, e, Mesos__Master__Event__AgentAdded, mesos__master__event__agent_added__init);
        e->agent = agent_model(&arena, subject);
        ev->agent_added = e;
        break;
    }
    case DR_MASTER_EV_AGENT_REMOVED: {
        const dr_magent *a = subject;
        ev->type = MESOS__MASTER__EVENT__TYPE__AGENT_REMOVED;
        PB_NEW(&arena, e, Mesos__Master__Event__AgentRemoved,
               mesos__master__event__agent_removed__init);
        e->agent_id = agent_id(&arena, a->id);
        ev->agent_removed = e;
        break;
    }
    case DR_MASTER_EV_FRAMEWORK_ADDED: {
        ev->type = MESOS__MASTER__EVENT__TYPE__FRAMEWORK_ADDED;
        PB_NEW(&arena, e, Mesos__Master__Event__FrameworkAdded,
               mesos__master__event__framework_added__init);
        e->framework = framework_model(&arena, m, subject);
        ev->framework_added = e;
        break;
    }
    case DR_MASTER_EV_FRAMEWORK_UPDATED: {
        ev->type = MESOS__MASTER__EVENT__TYPE__FRAMEWORK_UPDATED;
        PB_NEW(&arena, e, Mesos__Master__Event__FrameworkUpdated,
               mesos__master__event__framework_updated__init);
        e->framework = framework_model(&arena, m, subject);
        ev->framework_updated = e;
        break;
    }
    case DR_MASTER_EV_FRAMEWORK_REMOVED: {
        const dr_mframework *fw = subject;
        ev->type = MESOS__MASTER__EVENT__TYPE__FRAMEWORK_REMOVED;
        PB_NEW(&arena, e, Mesos__Master__Event__FrameworkRemoved,
               mesos__master__event__framework_removed__init);
        e->framework_info = fw->info;
        ev->framework_removed = e;
        break;
    }
    default:
        DR_UNREACHABLE();
    }
    broadcast(op, ev);
    dr_arena_deinit(&arena);
}

/* ---- the calls ------------------------------------------------------------------------------ */

static dr_log_level level_from_mesos(uint32_t level)
{
    /* glog verbosity: 0 is the default (INFO), anything above adds VLOG(n). */
    return level == 0 ? DR_LOG_INFO : DR_LOG_DEBUG;
}

static uint32_t level_to_mesos(dr_log_level level) { return level == DR_LOG_DEBUG ? 1 : 0; }

static void log_revert_fire(dr_env *env, void *ctx)
{
    dr_operator *op = ctx;
    DR_ASSERT(op->log_revert_timer != 0);
    op->log_revert_timer = 0;
    dr_env_set_log_level(env, op->log_revert_level);
    DR_INFO(env, "operator: logging level back to %s", dr_log_level_name(op->log_revert_level));
}

static void call_set_logging_level(dr_operator *op, dr_http_response *res,
                                   const Mesos__Master__Call__SetLoggingLevel *set)
{
    dr_env *env = op->m->env;
    if (set->duration == NULL || set->duration->nanoseconds < 0) {
        dr_http_response_error(res, 400, "'set_logging_level.duration' must be >= 0");
        return;
    }
    if (op->log_revert_timer != 0)
        dr_env_timer_cancel(env, op->log_revert_timer); /* keep the original level */
    else
        op->log_revert_level = dr_env_log_level(env);
    dr_log_level level = level_from_mesos(set->level);
    dr_env_set_log_level(env, level);
    op->log_revert_timer =
        dr_env_timer_add(env, (uint64_t)set->duration->nanoseconds, log_revert_fire, op);
    DR_INFO(env, "operator: logging level %s for %.3fs", dr_log_level_name(level),
            (double)set->duration->nanoseconds / 1e9);
    dr_http_response_send(res, 200, NULL, "", 0);
}

static void call_update_weights(dr_operator *op, dr_http_response *res,
                                const Mesos__Master__Call__UpdateWeights *uw)
{
    dr_master *m = op->m;
    /* Validate all before changing any: a bad entry leaves every weight as it was. */
    if (uw->n_weight_infos > DR_OPERATOR_WEIGHT_COUNT_MAX) {
        dr_http_response_error(res, 400, "UPDATE_WEIGHTS: more than %u weights",
                               DR_OPERATOR_WEIGHT_COUNT_MAX);
        return;
    }
    for (size_t i = 0; i < uw->n_weight_infos; i++) {
        const Mesos__WeightInfo *w = uw->weight_infos[i];
        dr_err err;
        if (w->role == NULL) {
            dr_http_response_error(res, 400, "'update_weights.weight_infos[%zu].role' is required",
                                   i);
            return;
        }
        if (dr_role_validate(w->role, &err) != DR_OK) {
            dr_http_response_error(res, 400, "Invalid role '%s': %s", w->role, err.msg);
            return;
        }
        if (strcmp(w->role, "*") == 0) {
            dr_http_response_error(res, 400, "Invalid role '*': the default role has no weight");
            return;
        }
        if (!(w->weight > 0.0) || isinf(w->weight)) {
            dr_http_response_error(res, 400, "Invalid weight %g for role '%s': must be positive",
                                   w->weight, w->role);
            return;
        }
        if (m->opts.role_count > 0) {
            bool listed = false;
            for (size_t r = 0; r < m->opts.role_count && !listed; r++)
                listed = strcmp(m->opts.roles[r], w->role) == 0;
            if (!listed) {
                dr_http_response_error(res, 400,
                                       "Role '%s' is not present in the master's --roles",
                                       w->role);
                return;
            }
        }
    }
    for (size_t i = 0; i < uw->n_weight_infos; i++) {
        const Mesos__WeightInfo *w = uw->weight_infos[i];
        dr_err err;
        if (dr__master_set_weight(m, w->role, w->weight, &err) != DR_OK) {
            /* Validated above: the allocator refusing now is a disagreement on
             * the rules, reported rather than asserted. */
            dr_http_response_error(res, 400, "Invalid weight for role '%s': %s", w->role, err.msg);
            return;
        }
        weight_put(op, w->role, w->weight);
    }
    dr_http_response_send(res, 200, NULL, "", 0);
}

static void call_teardown(dr_operator *op, dr_http_response *res,
                          const Mesos__Master__Call__Teardown *td)
{
    dr_err err;
    const char *id = td->framework_id != NULL ? td->framework_id->value : "";
    dr_code rc = dr__master_teardown_framework(op->m, id, &err);
    if (rc == DR_ENOENT) {
        dr_http_response_error(res, 400, "No framework found with specified ID '%s'", id);
        return;
    }
    if (rc != DR_OK) {
        dr_http_response_error(res, 400, "TEARDOWN of framework '%s': %s", id, err.msg);
        return;
    }
    dr_http_response_send(res, 200, NULL, "", 0);
}

static void call_mark_agent_gone(dr_operator *op, dr_http_response *res,
                                 const Mesos__Master__Call__MarkAgentGone *mg)
{
    dr_err err;
    const char *id = mg->agent_id != NULL ? mg->agent_id->value : "";
    dr_code rc = dr__master_mark_agent_gone(op->m, id, &err);
    if (rc == DR_ENOENT) {
        dr_http_response_error(res, 404, "Agent '%s' not found", id);
        return;
    }
    if (rc != DR_OK) {
        dr_http_response_error(res, 400, "MARK_AGENT_GONE of agent '%s': %s", id, err.msg);
        return;
    }
    dr_http_response_send(res, 200, NULL, "", 0);
}

/* The synchronous GET_* calls: a Response built in arena. */
static Mesos__Master__Response *call_get(dr_operator *op, dr_arena *arena,
                                         Mesos__Master__Call__Type type)
{
    dr_master *m = op->m;
    switch (type) {
    case MESOS__MASTER__CALL__TYPE__GET_HEALTH: {
        Mesos__Master__Response *r = response(arena, MESOS__MASTER__RESPONSE__TYPE__GET_HEALTH);
        PB_NEW(arena, h, Mesos__Master__Response__GetHealth,
               mesos__master__response__get_health__init);
        h->healthy = true;
        r->get_health = h;
        return r;
    }
    case MESOS__MASTER__CALL__TYPE__GET_FLAGS: {
        Mesos__Master__Response *r = response(arena, MESOS__MASTER__RESPONSE__TYPE__GET_FLAGS);
        PB_NEW(arena, f, Mesos__Master__Response__GetFlags,
               mesos__master__response__get_flags__init);
        flags_ctx fc = {arena, f, DR_MAX(m->opts.flag_count, (size_t)64)};
        f->flags = pb_array(arena, fc.capacity, sizeof f->flags[0]);
        dr__operator_flags(m, add_flag, &fc);
        r->get_flags = f;
        return r;
    }
    case MESOS__MASTER__CALL__TYPE__GET_VERSION: {
        Mesos__Master__Response *r = response(arena, MESOS__MASTER__RESPONSE__TYPE__GET_VERSION);
        PB_NEW(arena, v, Mesos__Master__Response__GetVersion,
               mesos__master__response__get_version__init);
        PB_NEW(arena, vi, Mesos__VersionInfo, mesos__version_info__init);
        vi->version = (char *)dr__operator_version(m);
        vi->build_user = (char *)"dromos";
        v->version_info = vi;
        r->get_version = v;
        return r;
    }
    case MESOS__MASTER__CALL__TYPE__GET_METRICS: {
        Mesos__Master__Response *r = response(arena, MESOS__MASTER__RESPONSE__TYPE__GET_METRICS);
        PB_NEW(arena, gm, Mesos__Master__Response__GetMetrics,
               mesos__master__response__get_metrics__init);
        dr_metrics ms;
        dr_metrics_init(&ms);
        dr__metrics_collect(m, &ms);
        gm->metrics = pb_array(arena, ms.count, sizeof gm->metrics[0]);
        for (size_t i = 0; i < ms.count; i++) {
            PB_NEW(arena, mt, Mesos__Metric, mesos__metric__init);
            size_t size = strlen(ms.items[i].name) + 1;
            mt->name = memcpy(dr_arena_alloc(arena, size), ms.items[i].name, size);
            mt->has_value = true;
            mt->value = ms.items[i].value;
            gm->metrics[i] = mt;
        }
        gm->n_metrics = ms.count;
        dr_metrics_deinit(&ms);
        r->get_metrics = gm;
        return r;
    }
    case MESOS__MASTER__CALL__TYPE__GET_LOGGING_LEVEL: {
        Mesos__Master__Response *r =
            response(arena, MESOS__MASTER__RESPONSE__TYPE__GET_LOGGING_LEVEL);
        PB_NEW(arena, l, Mesos__Master__Response__GetLoggingLevel,
               mesos__master__response__get_logging_level__init);
        l->level = level_to_mesos(dr_env_log_level(m->env));
        r->get_logging_level = l;
        return r;
    }
    case MESOS__MASTER__CALL__TYPE__GET_STATE: {
        Mesos__Master__Response *r = response(arena, MESOS__MASTER__RESPONSE__TYPE__GET_STATE);
        r->get_state = get_state(arena, m);
        return r;
    }
    case MESOS__MASTER__CALL__TYPE__GET_AGENTS: {
        Mesos__Master__Response *r = response(arena, MESOS__MASTER__RESPONSE__TYPE__GET_AGENTS);
        r->get_agents = get_agents(arena, m);
        return r;
    }
    case MESOS__MASTER__CALL__TYPE__GET_FRAMEWORKS: {
        Mesos__Master__Response *r =
            response(arena, MESOS__MASTER__RESPONSE__TYPE__GET_FRAMEWORKS);
        r->get_frameworks = get_frameworks(arena, m);
        return r;
    }
    case MESOS__MASTER__CALL__TYPE__GET_EXECUTORS: {
        Mesos__Master__Response *r = response(arena, MESOS__MASTER__RESPONSE__TYPE__GET_EXECUTORS);
        r->get_executors = get_executors(arena, m);
        return r;
    }
    case MESOS__MASTER__CALL__TYPE__GET_TASKS: {
        Mesos__Master__Response *r = response(arena, MESOS__MASTER__RESPONSE__TYPE__GET_TASKS);
        r->get_tasks = get_tasks(arena, m);
        return r;
    }
    case MESOS__MASTER__CALL__TYPE__GET_ROLES: {
        Mesos__Master__Response *r = response(arena, MESOS__MASTER__RESPONSE__TYPE__GET_ROLES);
        PB_NEW(arena, gr, Mesos__Master__Response__GetRoles,
               mesos__master__response__get_roles__init);
        roles_ctx rc = {.arena = arena, .m = m};
        dr_allocator_each_role(m->allocator, role_from_allocator, &rc);
        for (size_t i = 0; i < op->weight_count; i++)
            (void)role_find_or_add(&rc, op->weights[i].role); /* listed; weight set inside */
        for (size_t i = 0; i < m->opts.role_count; i++)
            (void)role_find_or_add(&rc, m->opts.roles[i]); /* listed; weight set inside */
        gr->roles = rc.items;
        gr->n_roles = rc.count;
        r->get_roles = gr;
        return r;
    }
    case MESOS__MASTER__CALL__TYPE__GET_WEIGHTS: {
        Mesos__Master__Response *r = response(arena, MESOS__MASTER__RESPONSE__TYPE__GET_WEIGHTS);
        PB_NEW(arena, gw, Mesos__Master__Response__GetWeights,
               mesos__master__response__get_weights__init);
        gw->weight_infos = pb_array(arena, op->weight_count, sizeof gw->weight_infos[0]);
        for (size_t i = 0; i < op->weight_count; i++) {
            PB_NEW(arena, w, Mesos__WeightInfo, mesos__weight_info__init);
            w->role = op->weights[i].role;
            w->weight = op->weights[i].weight;
            gw->weight_infos[i] = w;
        }
        gw->n_weight_infos = op->weight_count;
        r->get_weights = gw;
        return r;
    }
    case MESOS__MASTER__CALL__TYPE__GET_MASTER: {
        Mesos__Master__Response *r = response(arena, MESOS__MASTER__RESPONSE__TYPE__GET_MASTER);
        PB_NEW(arena, gm, Mesos__Master__Response__GetMaster,
               mesos__master__response__get_master__init);
        gm->master_info = m->info;
        r->get_master = gm;
        return r;
    }
    default:
        return NULL;
    }
}

/* Mesos's operator call validation (master/validation.cpp): the type, and
 * for each call that has one its message, named after the call
 * ("reserve_resources" for RESERVE_RESOURCES), checked through the
 * descriptor so calls added later are covered too. GET_METRICS alone may
 * leave get_metrics out (Mesos insists on it; the only field, timeout, is
 * optional, and tools send the bare call). */
static bool call_validate(const Mesos__Master__Call *call, char *why, size_t why_size)
{
    const ProtobufCEnumValue *type =
        call->has_type ? protobuf_c_enum_descriptor_get_value(
                             &mesos__master__call__type__descriptor, (int)call->type)
                       : NULL;
    if (type == NULL) {
        snprintf(why, why_size, "Expecting 'type' to be present");
        return false;
    }
    if (call->type == MESOS__MASTER__CALL__TYPE__GET_METRICS)
        return true;
    char field[64];
    size_t n = 0;
    for (const char *c = type->name; *c != '\0' && n + 1 < sizeof field; c++)
        field[n++] = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
    field[n] = '\0';
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(&mesos__master__call__descriptor, field);
    if (f == NULL || f->type != PROTOBUF_C_TYPE_MESSAGE)
        return true;
    const void *sub = *(const void *const *)((const char *)call + f->offset);
    if (sub == NULL) {
        snprintf(why, why_size, "Expecting '%s' to be present", field);
        return false;
    }
    return true;
}

static void api_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                        void *ctx)
{
    dr_operator *op = ctx;
    dr_http_negotiation n;
    dr_http_negotiate_request(req->method, &req->headers, false, &n);
    if (n.status != 0) {
        dr_http_negotiation_reject(&n, res);
        return;
    }
    dr_arena arena;
    dr_arena_init(&arena);
    dr_arena_set_size_max(&arena, DR_MASTER_ARENA_SIZE_MAX(req->body_size));
    ProtobufCMessage *msg = NULL;
    dr_err err;
    dr_code rc = n.request_codec == DR_HTTP_CODEC_PROTOBUF
                     ? dr_proto_decode(&mesos__master__call__descriptor, req->body,
                                       req->body_size, &arena, &msg, &err)
                     : dr_json_decode(&mesos__master__call__descriptor, (const char *)req->body,
                                      req->body_size, &arena, &msg, &err);
    /* Resources appear in operator calls too (RESERVE_RESOURCES, volumes,
     * quota): pre-1.4 ones are upgraded whatever the call, as Mesos does. */
    if (rc == DR_OK)
        rc = dr_proto_upgrade_resources(msg, &arena, &err);
    if (rc != DR_OK) {
        dr_http_response_error(res, rc == DR_ETOOBIG ? 413 : 400,
                               n.request_codec == DR_HTTP_CODEC_PROTOBUF
                                   ? "Failed to parse body into Call protobuf: %s"
                                   : "Failed to convert JSON into Call protobuf: %s",
                               err.msg);
        goto out;
    }
    const Mesos__Master__Call *call = (const Mesos__Master__Call *)msg;
    char why[160];
    if (!call_validate(call, why, sizeof why)) {
        dr_http_response_error(res, 400, "Failed to validate master::Call: %s", why);
        goto out;
    }
    bool subscribe = call->type == MESOS__MASTER__CALL__TYPE__SUBSCRIBE;
    dr_http_negotiate_response(&req->headers,
                               subscribe ? DR_HTTP_STREAM_CODEC : DR_HTTP_STREAM_NONE, &n);
    if (n.status != 0) {
        dr_http_negotiation_reject(&n, res);
        goto out;
    }
    const char *name = protobuf_c_enum_descriptor_get_value(
                           &mesos__master__call__type__descriptor, (int)call->type)
                           ->name;
    DR_DEBUG(env, "operator: %s from %s", name, req->peer);

    switch (call->type) {
    case MESOS__MASTER__CALL__TYPE__SUBSCRIBE:
        call_subscribe(op, res, &n);
        break;
    case MESOS__MASTER__CALL__TYPE__SET_LOGGING_LEVEL:
        call_set_logging_level(op, res, call->set_logging_level);
        break;
    case MESOS__MASTER__CALL__TYPE__UPDATE_WEIGHTS:
        call_update_weights(op, res, call->update_weights);
        break;
    case MESOS__MASTER__CALL__TYPE__TEARDOWN:
        call_teardown(op, res, call->teardown);
        break;
    case MESOS__MASTER__CALL__TYPE__MARK_AGENT_GONE:
        call_mark_agent_gone(op, res, call->mark_agent_gone);
        break;
    default: {
        Mesos__Master__Response *r = call_get(op, &arena, call->type);
        if (r == NULL)
            dr_http_response_error(res, 501, "%s is not implemented yet", name);
        else
            send_message(res, &n, &r->base);
        break;
    }
    }
out:
    dr_arena_deinit(&arena);
}

/* ---- lifetime -------------------------------------------------------------------------------- */

static void shutdown_hook(dr_master *m, void *ctx)
{
    dr_operator *op = ctx;
    DR_ASSERT(op->m == m);
    for (dr_op_subscriber *sub = op->subscribers_head; sub != NULL; sub = sub->next)
        subscriber_finish(sub);
    sweep_subscribers(op);
}

static void destroy_hook(dr_master *m, void *ctx)
{
    dr_operator *op = ctx;
    DR_ASSERT(op->m == m);
    shutdown_hook(m, op);
    DR_ASSERT(op->subscribers_head == NULL);
    if (op->log_revert_timer != 0)
        dr_env_timer_cancel(m->env, op->log_revert_timer);
    for (size_t i = 0; i < op->weight_count; i++)
        dr_free(op->weights[i].role);
    dr_free(op->weights);
    dr_free(op);
    m->operator_state = NULL;
    memset(&m->hooks, 0, sizeof m->hooks);
}

void dr__operator_forget(dr_master *m)
{
    dr_operator *op = m->operator_state;
    if (op == NULL)
        return;
    DR_ASSERT(!op->broadcasting); /* not from inside a write */
    /* The server is forgotten already: every subscriber's response is
     * detached, so ending it only frees; timers are left to the env. */
    dr_op_subscriber *sub = op->subscribers_head;
    while (sub != NULL) {
        dr_op_subscriber *next = sub->next;
        if (sub->res != NULL)
            dr_http_response_stream_end(sub->res);
        dr_free(sub);
        sub = next;
    }
    for (size_t i = 0; i < op->weight_count; i++)
        dr_free(op->weights[i].role);
    dr_free(op->weights);
    dr_free(op);
    m->operator_state = NULL;
    memset(&m->hooks, 0, sizeof m->hooks);
}

dr_operator *dr__operator(dr_master *m)
{
    DR_ASSERT(m->operator_state != NULL);
    return m->operator_state;
}

void dr__operator_note_allocation_run(dr_master *m, uint64_t run_ns)
{
    dr_operator *op = m->operator_state;
    if (op != NULL) /* none before init and after the destroy hook */
        dr_timer_stat_add(&op->allocation_run, run_ns);
}

void dr__json_number(dr_buf *out, double value)
{
    if (isnan(value) || isinf(value)) {
        dr_buf_append_str(out, "0.0"); /* JSON has no NaN; metrics never should be */
        return;
    }
    char text[40];
    int n = snprintf(text, sizeof text, "%.15g", value);
    DR_ASSERT(n > 0 && (size_t)n < sizeof text);
    dr_buf_append(out, text, (size_t)n);
    if (strpbrk(text, ".e") == NULL)
        dr_buf_append_str(out, ".0");
}

dr_code dr__master_operator_init(dr_master *m, dr_err *err)
{
    DR_ASSERT(m->operator_state == NULL);
    dr_operator *op = dr_alloc(sizeof *op);
    op->m = m;
    dr_timer_stat_init(&op->allocation_run);
    for (size_t i = 0; i < m->opts.weight_count; i++)
        weight_put(op, m->opts.weights[i].role, m->opts.weights[i].weight);
    m->operator_state = op;

    dr_code rc = dr_http_server_route(m->server, "/api/v1", false, api_handler, op, err);
    if (rc == DR_OK)
        rc = dr__v0_route(m, err);
    if (rc != DR_OK) {
        /* Routes stay (the server has no unroute) but the master fails to
         * start and destroys its server with it. */
        for (size_t i = 0; i < op->weight_count; i++)
            dr_free(op->weights[i].role);
        dr_free(op->weights);
        dr_free(op);
        m->operator_state = NULL;
        return dr_err_wrap(err, "operator API");
    }
    m->hooks.event = event_hook;
    m->hooks.shutdown = shutdown_hook;
    m->hooks.destroy = destroy_hook;
    m->hooks.ctx = op;
    return DR_OK;
}
