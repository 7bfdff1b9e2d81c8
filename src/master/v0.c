/* src/master/v0.c — the master's plain HTTP endpoints that tools still poll:
 * GET /health, /version, /flags, /metrics/snapshot, and Mesos's v0 JSON views
 * /state, /state-summary and /redirect (each also under the "/master"
 * process prefix, which the master's HTTP server strips).
 *
 * Owns: the v0 JSON shape, field for field as Mesos's master/http.cpp and
 * common/http.cpp ("model") write it: resources as {"cpus":1.0,"mem":..,
 * "ports":"[31000-32000]"}, times as seconds since the epoch (doubles),
 * agents under "slaves" with "slave_id"s, keys in name order (stout's JSON
 * objects are std::maps). Leaves metric values to metrics.c and the v1
 * operator API to operator.c.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/master/operator.h"
#include "src/proto/json.h"

#define JSON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15))

/* ---- building blocks -------------------------------------------------------------------- */

static json_t *seconds(uint64_t wall_ns) { return json_real((double)wall_ns / (double)DR_NS_PER_S); }

/* Reads every range of the resources called name, sorted and merged. */
static int cmp_pair(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

static json_t *ranges_text(const dr_resources *rs, const char *name)
{
    size_t count = 0;
    for (size_t i = 0; i < rs->count; i++) {
        const Mesos__Resource *r = rs->items[i];
        if (strcmp(r->name, name) == 0 && r->ranges != NULL)
            count += r->ranges->n_range;
    }
    uint64_t *pairs = dr_alloc_array(DR_MAX(count, (size_t)1) * 2, sizeof pairs[0]);
    size_t n = 0;
    for (size_t i = 0; i < rs->count; i++) {
        const Mesos__Resource *r = rs->items[i];
        if (strcmp(r->name, name) != 0 || r->ranges == NULL)
            continue;
        for (size_t j = 0; j < r->ranges->n_range; j++) {
            pairs[2 * n] = r->ranges->range[j]->begin;
            pairs[2 * n + 1] = r->ranges->range[j]->end;
            n++;
        }
    }
    qsort(pairs, n, 2 * sizeof pairs[0], cmp_pair);
    dr_buf text;
    dr_buf_init(&text);
    dr_buf_append_str(&text, "[");
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        /* Merge overlapping and adjacent ranges, as Mesos's Ranges do. */
        if (out > 0 && pairs[2 * i] <= pairs[2 * (out - 1) + 1] + 1) {
            pairs[2 * (out - 1) + 1] = DR_MAX(pairs[2 * (out - 1) + 1], pairs[2 * i + 1]);
            continue;
        }
        pairs[2 * out] = pairs[2 * i];
        pairs[2 * out + 1] = pairs[2 * i + 1];
        out++;
    }
    for (size_t i = 0; i < out; i++)
        dr_buf_printf(&text, "%s%llu-%llu", i == 0 ? "" : ", ", (unsigned long long)pairs[2 * i],
                      (unsigned long long)pairs[2 * i + 1]);
    dr_buf_append_str(&text, "]");
    json_t *s = json_string(dr_buf_cstr(&text));
    dr_buf_deinit(&text);
    dr_free(pairs);
    return s;
}

static json_t *set_text(const dr_resources *rs, const char *name)
{
    dr_buf text;
    dr_buf_init(&text);
    dr_buf_append_str(&text, "{");
    size_t n = 0;
    for (size_t i = 0; i < rs->count; i++) {
        const Mesos__Resource *r = rs->items[i];
        if (strcmp(r->name, name) != 0 || r->set == NULL)
            continue;
        for (size_t j = 0; j < r->set->n_item; j++)
            dr_buf_printf(&text, "%s%s", n++ == 0 ? "" : ", ", r->set->item[j]);
    }
    dr_buf_append_str(&text, "}");
    json_t *s = json_string(dr_buf_cstr(&text));
    dr_buf_deinit(&text);
    return s;
}

/* Mesos's model(Resources): cpus, gpus, mem and disk always (0 if absent),
 * then every non-revocable resource by name: scalars summed, ranges and
 * sets as their text. */
static json_t *resources_json(const dr_resources *rs)
{
    json_t *o = json_object();
    static const char *const always[] = {"cpus", "gpus", "mem", "disk"};
    for (size_t i = 0; i < DR_ARRAY_COUNT(always); i++)
        json_object_set_new(o, always[i], json_real(0.0));
    for (size_t i = 0; i < rs->count; i++) {
        const Mesos__Resource *r = rs->items[i];
        if (r->revocable != NULL || json_object_get(o, r->name) != NULL) {
            if (r->revocable == NULL && r->type == MESOS__VALUE__TYPE__SCALAR &&
                json_real_value(json_object_get(o, r->name)) == 0.0)
                json_object_set_new(o, r->name, json_real(dr_resources_scalar(rs, r->name)));
            continue;
        }
        switch (r->type) {
        case MESOS__VALUE__TYPE__SCALAR:
            json_object_set_new(o, r->name, json_real(dr_resources_scalar(rs, r->name)));
            break;
        case MESOS__VALUE__TYPE__RANGES:
            json_object_set_new(o, r->name, ranges_text(rs, r->name));
            break;
        case MESOS__VALUE__TYPE__SET:
            json_object_set_new(o, r->name, set_text(rs, r->name));
            break;
        default:
            break;
        }
    }
    return o;
}

/* A protobuf value in Mesos's v1 JSON (JSON::protobuf), parsed back into a
 * jansson value; null if it cannot be encoded. */
static json_t *pb_json(const ProtobufCMessage *msg)
{
    dr_buf buf;
    dr_buf_init(&buf);
    dr_err err;
    json_t *v = NULL;
    if (dr_json_encode(msg, &buf, &err) == DR_OK)
        v = json_loadb((const char *)buf.data, buf.size, 0, NULL);
    dr_buf_deinit(&buf);
    return v != NULL ? v : json_null();
}

static json_t *resources_full(const dr_resources *rs)
{
    json_t *a = json_array();
    for (size_t i = 0; i < rs->count; i++)
        json_array_append_new(a, pb_json(&rs->items[i]->base));
    return a;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *enum_name(const ProtobufCEnumDescriptor *desc, int value)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(desc, value);
    return v != NULL ? v->name : "UNKNOWN";
}

/* Labels as Mesos's v0 views write them: the array of {key, value}. */
static json_t *labels_json(const Mesos__Labels *labels)
{
    json_t *l = pb_json(&labels->base);
    json_t *arr = json_object_get(l, "labels");
    json_t *out = arr != NULL ? json_incref(arr) : json_array();
    json_decref(l);
    return out;
}

static json_t *status_json(const Mesos__TaskStatus *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "state", json_string(enum_name(&mesos__task_state__descriptor,
                                                          (int)st->state)));
    json_object_set_new(o, "timestamp", json_real(st->has_timestamp ? st->timestamp : 0.0));
    if (st->has_healthy)
        json_object_set_new(o, "healthy", json_boolean(st->healthy));
    if (st->labels != NULL)
        json_object_set_new(o, "labels", labels_json(st->labels));
    if (st->container_status != NULL)
        json_object_set_new(o, "container_status", pb_json(&st->container_status->base));
    return o;
}

static json_t *task_json(const dr_mtask *t)
{
    const Mesos__Task *task = t->task;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(t->id));
    json_object_set_new(o, "name", json_string(task->name != NULL ? task->name : ""));
    json_object_set_new(o, "framework_id", json_string(t->framework_id));
    json_object_set_new(o, "executor_id",
                        json_string(task->executor_id != NULL ? task->executor_id->value : ""));
    json_object_set_new(o, "slave_id", json_string(t->agent_id));
    json_object_set_new(o, "state", json_string(enum_name(&mesos__task_state__descriptor,
                                                          (int)t->state)));
    json_object_set_new(o, "resources", resources_json(&t->resources));
    if (t->role != NULL)
        json_object_set_new(o, "role", json_string(t->role));
    if (task->user != NULL)
        json_object_set_new(o, "user", json_string(task->user));
    json_t *statuses = json_array();
    for (size_t i = 0; i < task->n_statuses; i++)
        json_array_append_new(statuses, status_json(task->statuses[i]));
    json_object_set_new(o, "statuses", statuses);
    if (task->labels != NULL)
        json_object_set_new(o, "labels", labels_json(task->labels));
    if (task->discovery != NULL)
        json_object_set_new(o, "discovery", pb_json(&task->discovery->base));
    if (task->container != NULL)
        json_object_set_new(o, "container", pb_json(&task->container->base));
    return o;
}

static json_t *offer_json(const dr_moffer *offer)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(offer->id));
    json_object_set_new(o, "framework_id", json_string(offer->framework_id));
    json_object_set_new(o, "slave_id", json_string(offer->agent_id));
    json_object_set_new(o, "resources", resources_json(&offer->resources));
    json_t *alloc = json_object();
    json_object_set_new(alloc, "role", json_string(offer->role));
    json_object_set_new(o, "allocation_info", alloc);
    return o;
}

static json_t *framework_capabilities(const Mesos__FrameworkInfo *info)
{
    json_t *a = json_array();
    for (size_t i = 0; i < info->n_capabilities; i++)
        if (info->capabilities[i]->has_type)
            json_array_append_new(
                a, json_string(enum_name(&mesos__framework_info__capability__type__descriptor,
                                         (int)info->capabilities[i]->type)));
    return a;
}

/* The fields /state and /state-summary share for a framework. */
static json_t *framework_summary(const dr_mframework *fw)
{
    const Mesos__FrameworkInfo *info = fw->info;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(fw->id));
    json_object_set_new(o, "name", json_string(info->name != NULL ? info->name : ""));
    json_object_set_new(o, "used_resources", resources_json(&fw->used_resources));
    json_object_set_new(o, "offered_resources", resources_json(&fw->offered_resources));
    json_object_set_new(o, "capabilities", framework_capabilities(info));
    json_object_set_new(o, "hostname", json_string(info->hostname != NULL ? info->hostname : ""));
    json_object_set_new(o, "webui_url", json_string(info->webui_url != NULL ? info->webui_url : ""));
    json_object_set_new(o, "active", json_boolean(fw->state == DR_MFRAMEWORK_CONNECTED));
    json_object_set_new(o, "connected", json_boolean(fw->state == DR_MFRAMEWORK_CONNECTED));
    json_object_set_new(o, "recovered", json_false());
    return o;
}

/* Mesos's model(ExecutorInfo) with the agent it runs on. */
static json_t *executor_json(const dr_mexecutor *e, const char *agent_id)
{
    const Mesos__ExecutorInfo *info = e->info;
    json_t *o = json_object();
    json_object_set_new(o, "executor_id",
                        json_string(info->executor_id != NULL ? info->executor_id->value : ""));
    json_object_set_new(o, "name", json_string(info->name != NULL ? info->name : ""));
    json_object_set_new(o, "framework_id", json_string(e->framework_id));
    if (info->command != NULL)
        json_object_set_new(o, "command", pb_json(&info->command->base));
    dr_resources rs = {.items = info->resources, .count = info->n_resources};
    json_object_set_new(o, "resources", resources_json(&rs));
    if (info->labels != NULL)
        json_object_set_new(o, "labels", labels_json(info->labels));
    json_object_set_new(o, "slave_id", json_string(agent_id));
    return o;
}

/* The framework's executors on every agent, agents in id order. */
static json_t *framework_executors(dr_master *m, const dr_mframework *fw)
{
    json_t *a = json_array();
    for (size_t i = 0; i < m->agents.count; i++) {
        const dr_magent *agent = m->agents.items[i].value;
        for (size_t j = 0; j < agent->executors.count; j++) {
            const dr_mexecutor *e = agent->executors.items[j].value;
            if (strcmp(e->framework_id, fw->id) == 0)
                json_array_append_new(a, executor_json(e, agent->id));
        }
    }
    return a;
}

static json_t *framework_json(dr_master *m, const dr_mframework *fw)
{
    const Mesos__FrameworkInfo *info = fw->info;
    json_t *o = framework_summary(fw);
    json_object_set_new(o, "user", json_string(info->user != NULL ? info->user : ""));
    json_object_set_new(o, "failover_timeout",
                        json_real(info->has_failover_timeout ? info->failover_timeout : 0.0));
    json_object_set_new(o, "checkpoint", json_boolean(info->has_checkpoint && info->checkpoint));
    json_object_set_new(o, "registered_time", seconds(fw->registered_wall_ns));
    json_object_set_new(o, "unregistered_time", seconds(fw->unregistered_wall_ns));
    if (fw->reregistered_wall_ns != 0)
        json_object_set_new(o, "reregistered_time", seconds(fw->reregistered_wall_ns));
    if (info->principal != NULL)
        json_object_set_new(o, "principal", json_string(info->principal));
    json_object_set_new(o, "resources", resources_json(&fw->used_resources));
    /* "role" for pre-MULTI_ROLE tools; "roles" for the rest, as Mesos 1.4+. */
    json_object_set_new(o, "role", json_string(fw->role_count > 0 ? fw->roles[0] : "*"));
    json_t *roles = json_array();
    for (size_t i = 0; i < fw->role_count; i++)
        json_array_append_new(roles, json_string(fw->roles[i]));
    json_object_set_new(o, "roles", roles);
    json_t *tasks = json_array(), *unreachable = json_array(), *completed = json_array();
    for (size_t i = 0; i < fw->tasks.count; i++) {
        const dr_mtask *t = fw->tasks.items[i].value;
        json_array_append_new(t->unreachable ? unreachable : tasks, task_json(t));
    }
    for (size_t i = 0; i < fw->completed_count; i++)
        json_array_append_new(completed, task_json(fw->completed_tasks[i]));
    json_object_set_new(o, "tasks", tasks);
    json_object_set_new(o, "unreachable_tasks", unreachable);
    json_object_set_new(o, "completed_tasks", completed);
    json_t *offers = json_array();
    for (size_t i = 0; i < fw->offers.count; i++)
        json_array_append_new(offers, offer_json(fw->offers.items[i].value));
    json_object_set_new(o, "offers", offers);
    json_object_set_new(o, "executors", framework_executors(m, fw));
    if (info->labels != NULL)
        json_object_set_new(o, "labels", labels_json(info->labels));
    return o;
}

static json_t *attributes_json(const Mesos__AgentInfo *info)
{
    json_t *o = json_object();
    for (size_t i = 0; i < info->n_attributes; i++) {
        const Mesos__Attribute *a = info->attributes[i];
        switch (a->type) {
        case MESOS__VALUE__TYPE__SCALAR:
            json_object_set_new(o, a->name, json_real(a->scalar != NULL ? a->scalar->value : 0));
            break;
        case MESOS__VALUE__TYPE__TEXT:
            json_object_set_new(o, a->name,
                                json_string(a->text != NULL && a->text->value != NULL
                                                ? a->text->value
                                                : ""));
            break;
        default: {
            /* Ranges and sets as Mesos's text form, through a scratch list. */
            dr_resources tmp;
            dr_resources_init(&tmp);
            Mesos__Resource r = MESOS__RESOURCE__INIT;
            r.name = a->name;
            r.type = a->type;
            r.ranges = a->ranges;
            r.set = a->set;
            tmp.items = (Mesos__Resource *[]){&r};
            tmp.count = 1;
            json_object_set_new(o, a->name, a->type == MESOS__VALUE__TYPE__RANGES
                                                ? ranges_text(&tmp, a->name)
                                                : set_text(&tmp, a->name));
            break;
        }
        }
    }
    return o;
}

static json_t *reserved_json(const dr_resources *total, bool full)
{
    json_t *o = json_object();
    dr_resources reserved, one;
    dr_resources_init(&reserved);
    dr_resources_init(&one);
    dr_resources_reserved(total, NULL, &reserved);
    for (size_t i = 0; i < reserved.count; i++) {
        const char *role = dr_resource_role(reserved.items[i]);
        if (json_object_get(o, role) != NULL)
            continue;
        dr_resources_reserved(total, role, &one);
        json_object_set_new(o, role, full ? resources_full(&one) : resources_json(&one));
    }
    dr_resources_deinit(&one);
    dr_resources_deinit(&reserved);
    return o;
}

static json_t *agent_capabilities(const dr_magent *a)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < a->capability_count; i++)
        json_array_append_new(arr, json_string(enum_name(
                                       &mesos__agent_info__capability__type__descriptor,
                                       (int)a->capabilities[i])));
    return arr;
}

static json_t *agent_summary(const dr_magent *a)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(a->id));
    json_object_set_new(o, "pid", json_string(a->pid));
    json_object_set_new(o, "hostname", json_string(a->hostname != NULL ? a->hostname : ""));
    json_object_set_new(o, "port", json_integer(a->port));
    json_object_set_new(o, "registered_time", seconds(a->registered_wall_ns));
    if (a->reregistered_wall_ns != 0)
        json_object_set_new(o, "reregistered_time", seconds(a->reregistered_wall_ns));
    json_object_set_new(o, "resources", resources_json(&a->total_resources));
    json_object_set_new(o, "used_resources", resources_json(&a->used_resources));
    json_object_set_new(o, "offered_resources", resources_json(&a->offered_resources));
    json_object_set_new(o, "reserved_resources", reserved_json(&a->total_resources, false));
    dr_resources unreserved;
    dr_resources_init(&unreserved);
    dr_resources_unreserved(&a->total_resources, &unreserved);
    json_object_set_new(o, "unreserved_resources", resources_json(&unreserved));
    json_object_set_new(o, "attributes", attributes_json(a->info));
    json_object_set_new(o, "active", json_boolean(a->state == DR_MAGENT_CONNECTED));
    json_object_set_new(o, "version", json_string(a->version != NULL ? a->version : ""));
    json_object_set_new(o, "capabilities", agent_capabilities(a));
    json_object_set_new(o, "unreserved_resources_full", resources_full(&unreserved));
    dr_resources_deinit(&unreserved);
    return o;
}

static json_t *agent_json(const dr_magent *a)
{
    json_t *o = agent_summary(a);
    json_object_set_new(o, "reserved_resources_full", reserved_json(&a->total_resources, true));
    json_object_set_new(o, "used_resources_full", resources_full(&a->used_resources));
    json_object_set_new(o, "offered_resources_full", resources_full(&a->offered_resources));
    return o;
}

typedef struct flags_obj {
    json_t *o;
} flags_obj;

static void flag_to_json(const char *name, const char *value, void *ctx)
{
    json_object_set_new(((flags_obj *)ctx)->o, name, json_string(value));
}

static void add_version_fields(dr_master *m, json_t *o)
{
    json_object_set_new(o, "version", json_string(dr__operator_version(m)));
    json_object_set_new(o, "build_date", json_string(""));
    json_object_set_new(o, "build_time", json_real(0.0));
    json_object_set_new(o, "build_user", json_string("dromos"));
}

static void dump(json_t *root, dr_buf *out)
{
    char *text = json_dumps(root, JSON_FLAGS);
    DR_ASSERT(text != NULL);
    dr_buf_append_str(out, text);
    free(text);
    json_decref(root);
}

/* ---- the documents ------------------------------------------------------------------------- */

void dr__v0_state_json(dr_master *m, dr_buf *out)
{
    json_t *o = json_object();
    add_version_fields(m, o);
    json_object_set_new(o, "start_time", seconds(m->start_wall_ns));
    json_object_set_new(o, "elected_time", seconds(m->start_wall_ns));
    json_object_set_new(o, "id", json_string(m->id));
    json_object_set_new(o, "pid", json_string(m->pid));
    json_object_set_new(o, "hostname", json_string(m->info->hostname != NULL ? m->info->hostname
                                                                            : ""));
    uint64_t active = 0, inactive = 0, unreachable = 0;
    json_t *slaves = json_array();
    for (size_t i = 0; i < m->agents.count; i++) {
        const dr_magent *a = m->agents.items[i].value;
        if (a->state == DR_MAGENT_UNREACHABLE) {
            unreachable++;
            continue;
        }
        if (a->state == DR_MAGENT_CONNECTED)
            active++;
        else
            inactive++;
        json_array_append_new(slaves, agent_json(a));
    }
    json_object_set_new(o, "activated_slaves", json_real((double)active));
    json_object_set_new(o, "deactivated_slaves", json_real((double)inactive));
    json_object_set_new(o, "unreachable_slaves", json_real((double)unreachable));
    if (m->opts.cluster != NULL)
        json_object_set_new(o, "cluster", json_string(m->opts.cluster));
    json_object_set_new(o, "leader", json_string(m->pid));
    json_object_set_new(o, "leader_info", pb_json(&m->info->base));
    flags_obj fo = {json_object()};
    dr__operator_flags(m, flag_to_json, &fo);
    json_object_set_new(o, "flags", fo.o);
    json_object_set_new(o, "slaves", slaves);
    json_t *fws = json_array();
    for (size_t i = 0; i < m->frameworks.count; i++)
        json_array_append_new(fws, framework_json(m, m->frameworks.items[i].value));
    json_object_set_new(o, "frameworks", fws);
    json_t *done = json_array();
    for (size_t i = 0; i < m->completed_framework_count; i++)
        json_array_append_new(done, framework_json(m, m->completed_frameworks[i]));
    json_object_set_new(o, "completed_frameworks", done);
    json_object_set_new(o, "orphan_tasks", json_array());
    json_object_set_new(o, "unregistered_frameworks", json_array());
    dump(o, out);
}

/* Counts tasks by state name into o ("TASK_RUNNING": n), with every state
 * Mesos lists present. */
static void task_counts(json_t *o, const dr_mtask *const *tasks, size_t count)
{
    static const char *const names[] = {"TASK_STAGING",  "TASK_STARTING", "TASK_RUNNING",
                                        "TASK_KILLING",  "TASK_FINISHED", "TASK_KILLED",
                                        "TASK_FAILED",   "TASK_LOST",     "TASK_ERROR",
                                        "TASK_UNREACHABLE"};
    for (size_t i = 0; i < DR_ARRAY_COUNT(names); i++)
        json_object_set_new(o, names[i], json_integer(0));
    for (size_t i = 0; i < count; i++) {
        Mesos__TaskState state =
            tasks[i]->unreachable ? MESOS__TASK_STATE__TASK_UNREACHABLE : tasks[i]->state;
        const char *name = enum_name(&mesos__task_state__descriptor, (int)state);
        json_t *v = json_object_get(o, name);
        json_object_set_new(o, name, json_integer(v != NULL ? json_integer_value(v) + 1 : 1));
    }
}

static void state_summary_json(dr_master *m, dr_buf *out)
{
    json_t *o = json_object();
    json_object_set_new(o, "hostname", json_string(m->info->hostname != NULL ? m->info->hostname
                                                                            : ""));
    if (m->opts.cluster != NULL)
        json_object_set_new(o, "cluster", json_string(m->opts.cluster));
    json_t *slaves = json_array();
    for (size_t i = 0; i < m->agents.count; i++) {
        const dr_magent *a = m->agents.items[i].value;
        if (a->state == DR_MAGENT_UNREACHABLE)
            continue;
        json_t *s = agent_summary(a);
        const dr_mtask **tasks = dr_alloc_array(DR_MAX(a->tasks.count, (size_t)1), sizeof *tasks);
        json_t *fw_ids = json_array();
        for (size_t j = 0; j < a->tasks.count; j++) {
            tasks[j] = a->tasks.items[j].value;
            /* Keys are "<fw> <task>", sorted: one framework's tasks are adjacent. */
            if (j == 0 || strcmp(tasks[j]->framework_id, tasks[j - 1]->framework_id) != 0)
                json_array_append_new(fw_ids, json_string(tasks[j]->framework_id));
        }
        task_counts(s, tasks, a->tasks.count);
        json_object_set_new(s, "framework_ids", fw_ids);
        dr_free(tasks);
        json_array_append_new(slaves, s);
    }
    json_object_set_new(o, "slaves", slaves);
    json_t *fws = json_array();
    for (size_t i = 0; i < m->frameworks.count; i++) {
        const dr_mframework *fw = m->frameworks.items[i].value;
        json_t *f = framework_summary(fw);
        if (fw->info->principal != NULL)
            json_object_set_new(f, "principal", json_string(fw->info->principal));
        const dr_mtask **tasks =
            dr_alloc_array(DR_MAX(fw->tasks.count + fw->completed_count, (size_t)1), sizeof *tasks);
        size_t n = 0;
        json_t *agent_ids = json_object(); /* a set, by key */
        for (size_t j = 0; j < fw->tasks.count; j++) {
            tasks[n++] = fw->tasks.items[j].value;
            json_object_set_new(agent_ids, tasks[n - 1]->agent_id, json_true());
        }
        for (size_t j = 0; j < fw->completed_count; j++)
            tasks[n++] = fw->completed_tasks[j];
        task_counts(f, tasks, n);
        dr_free(tasks);
        json_t *ids = json_array();
        const char *key;
        json_t *value;
        /* Walk in key order: jansson keeps insertion order, so sort first. */
        const char **keys = dr_alloc_array(DR_MAX(json_object_size(agent_ids), (size_t)1),
                                           sizeof *keys);
        size_t k = 0;
        json_object_foreach(agent_ids, key, value) keys[k++] = key;
        qsort(keys, k, sizeof *keys, cmp_str);
        for (size_t j = 0; j < k; j++)
            json_array_append_new(ids, json_string(keys[j]));
        dr_free(keys);
        json_decref(agent_ids);
        json_object_set_new(f, "slave_ids", ids);
        json_array_append_new(fws, f);
    }
    json_object_set_new(o, "frameworks", fws);
    dump(o, out);
}

/* ---- handlers ---------------------------------------------------------------------------------- */

/* Mesos's `?jsonp=callback`: the JSON wrapped as "callback(...);" in
 * text/javascript. Mesos echoes any name; here it must look like a
 * JavaScript name (letters, digits, '_', '$', '.'), so a request cannot make
 * the master serve script of its choosing. */
static bool jsonp_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 128 || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '$' || c == '.';
        if (!ok)
            return false;
    }
    return true;
}

/* Checks the query of a JSON endpoint; answers 400 and returns false when
 * it is bad. */
static bool query_ok(const dr_http_request *req, dr_http_response *res)
{
    const char *jsonp = dr_http_params_get(&req->query, "jsonp");
    if (jsonp != NULL && !jsonp_ok(jsonp)) {
        dr_http_response_error(res, 400,
                               "Invalid jsonp callback '%.128s': expected a JavaScript name "
                               "(letters, digits, '_', '$', '.')",
                               jsonp);
        return false;
    }
    return true;
}

/* Sends body (taken) as the answer, as JSONP when the query asks for it. */
static void send_json(const dr_http_request *req, dr_http_response *res, dr_buf *body)
{
    const char *jsonp = dr_http_params_get(&req->query, "jsonp");
    if (jsonp != NULL) {
        DR_ASSERT(jsonp_ok(jsonp)); /* query_ok ran first */
        dr_buf wrapped;
        dr_buf_init(&wrapped);
        dr_buf_printf(&wrapped, "%s(", jsonp);
        dr_buf_append(&wrapped, body->data, body->size);
        dr_buf_append_str(&wrapped, ");");
        dr_http_response_send(res, 200, "text/javascript", wrapped.data, wrapped.size);
        dr_buf_deinit(&wrapped);
    } else {
        dr_http_response_send(res, 200, "application/json", body->data, body->size);
    }
    dr_buf_deinit(body);
}

/* stout's Duration::parse: a number and one of its units ("5secs", "1.5mins"). */
static bool duration_ok(const char *text)
{
    static const char *const units[] = {"ns", "us", "ms", "secs", "mins", "hrs", "days", "weeks"};
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == text || !(v >= 0.0) || v > 1e18)
        return false;
    for (size_t i = 0; i < DR_ARRAY_COUNT(units); i++)
        if (strcmp(end, units[i]) == 0)
            return true;
    return false;
}

static void health_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                           void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(req);
    DR_UNUSED(ctx);
    dr_http_response_send(res, 200, NULL, "", 0);
}

static void version_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                            void *ctx)
{
    DR_UNUSED(env);
    if (!query_ok(req, res))
        return;
    json_t *o = json_object();
    add_version_fields(ctx, o);
    dr_buf body;
    dr_buf_init(&body);
    dump(o, &body);
    send_json(req, res, &body);
}

static void metrics_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                            void *ctx)
{
    DR_UNUSED(env);
    if (!query_ok(req, res))
        return;
    /* Mesos's ?timeout= bounds how long slow metrics may take; a snapshot
     * here is immediate, but a bad value is refused as Mesos refuses it. */
    const char *timeout = dr_http_params_get(&req->query, "timeout");
    if (timeout != NULL && !duration_ok(timeout)) {
        dr_http_response_error(res, 400,
                               "Invalid timeout '%.64s': expected a number and a unit (ns, us, "
                               "ms, secs, mins, hrs, days, weeks)",
                               timeout);
        return;
    }
    dr_metrics ms;
    dr_metrics_init(&ms);
    dr__metrics_collect(ctx, &ms);
    dr_buf body;
    dr_buf_init(&body);
    dr_metrics_json(&ms, &body);
    dr_metrics_deinit(&ms);
    send_json(req, res, &body);
}

static void state_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                          void *ctx)
{
    DR_UNUSED(env);
    if (!query_ok(req, res))
        return;
    dr_buf body;
    dr_buf_init(&body);
    dr__v0_state_json(ctx, &body);
    send_json(req, res, &body);
}

static void state_summary_handler(dr_env *env, const dr_http_request *req,
                                  dr_http_response *res, void *ctx)
{
    DR_UNUSED(env);
    if (!query_ok(req, res))
        return;
    dr_buf body;
    dr_buf_init(&body);
    state_summary_json(ctx, &body);
    send_json(req, res, &body);
}

/* Mesos's /flags: {"flags": {"name": "value", ...}}, every flag of the
 * master as GET_FLAGS lists them. */
static void flags_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                          void *ctx)
{
    DR_UNUSED(env);
    if (!query_ok(req, res))
        return;
    json_t *o = json_object();
    flags_obj fo = {json_object()};
    dr__operator_flags(ctx, flag_to_json, &fo);
    json_object_set_new(o, "flags", fo.o);
    dr_buf body;
    dr_buf_init(&body);
    dump(o, &body);
    send_json(req, res, &body);
}

/* 307 to the leading master: this one until masters replicate. */
static void redirect_handler(dr_env *env, const dr_http_request *req, dr_http_response *res,
                             void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(req);
    dr_master *m = ctx;
    char location[DR_HOSTNAME_SIZE_MAX + 16];
    snprintf(location, sizeof location, "//%s:%u",
             m->info->hostname != NULL ? m->info->hostname : "localhost",
             (unsigned)dr_master_port(m));
    dr_http_response_header(res, "Location", location);
    dr_http_response_send(res, 307, NULL, "", 0);
}

dr_code dr__v0_route(dr_master *m, dr_err *err)
{
    static const struct {
        const char *path;
        dr_http_handler_fn *fn;
    } routes[] = {
        {"/health", health_handler},
        {"/version", version_handler},
        {"/metrics/snapshot", metrics_handler},
        {"/flags", flags_handler},
        {"/state", state_handler},
        {"/state.json", state_handler},
        {"/state-summary", state_summary_handler},
        {"/redirect", redirect_handler},
    };
    for (size_t i = 0; i < DR_ARRAY_COUNT(routes); i++) {
        dr_code rc = dr_http_server_route(m->server, routes[i].path, false, routes[i].fn, m, err);
        if (rc != DR_OK)
            return rc;
    }
    return DR_OK;
}
