/* src/master/scheduler.c — POST /api/v1/scheduler: Mesos's v1 scheduler API.
 *
 * Owns: decoding and validating calls (content negotiation, the
 * Mesos-Stream-Id rules, per-call field checks, with Mesos's statuses and
 * texts), the framework lifecycle (subscribe, failover with or without a
 * known id, disconnection and the failover timer, teardown, completion into
 * the bounded history), heartbeats, SUPPRESS/REVIVE/UPDATE_FRAMEWORK/MESSAGE,
 * and writing events in the codec the subscriber negotiated.
 *
 * Leaves offers (ACCEPT/DECLINE) to offers.c and tasks (KILL, ACKNOWLEDGE,
 * RECONCILE, updates) to tasks.c.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "src/master/master_int.h"
#include "src/proto/json.h"

/* ---- events ------------------------------------------------------------------- */

void dr__scheduler_send(dr_master *m, dr_mframework *fw, const Mesos__Scheduler__Event *ev)
{
    if (fw->stream == NULL) {
        m->counters.dropped_messages++;
        return;
    }
    dr_buf buf;
    dr_buf_init(&buf);
    dr_err err;
    dr_code rc = fw->codec == DR_HTTP_CODEC_PROTOBUF
                     ? dr_proto_encode(&ev->base, &buf, &err)
                     : dr_json_encode(&ev->base, &buf, &err);
    if (rc != DR_OK) {
        /* Only a string that is not UTF-8 (from an agent or a framework
         * message) gets here: drop the event, keep the stream. */
        DR_WARN(m->env, "framework %s: event not encodable: %s", fw->id, err.msg);
        m->counters.dropped_messages++;
        dr_buf_deinit(&buf);
        return;
    }
    rc = dr_http_response_stream_record(fw->stream, buf.data, buf.size, &err);
    if (rc != DR_OK) {
        /* The connection is gone or was cut for not reading: on_gone
         * handles the disconnection. */
        DR_WARN(m->env, "framework %s: event dropped: %s", fw->id, err.msg);
        m->counters.dropped_messages++;
    }
    dr_buf_deinit(&buf);
}

static void send_error_event(dr_master *m, dr_mframework *fw, const char *message)
{
    Mesos__Scheduler__Event__Error e = MESOS__SCHEDULER__EVENT__ERROR__INIT;
    e.message = (char *)message;
    Mesos__Scheduler__Event ev = MESOS__SCHEDULER__EVENT__INIT;
    ev.has_type = true;
    ev.type = MESOS__SCHEDULER__EVENT__TYPE__ERROR;
    ev.error = &e;
    dr__scheduler_send(m, fw, &ev);
}

/* ---- framework records ----------------------------------------------------------- */

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dr_free(v[i]);
    dr_free(v);
}

static int strcmp_p(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **strv_sorted_copy(char *const *v, size_t n)
{
    if (n == 0)
        return NULL;
    char **out = dr_alloc_array(n, sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = dr_strdup(v[i]);
    qsort(out, n, sizeof *out, strcmp_p);
    return out;
}

void dr__framework_free(dr_mframework *fw)
{
    if (fw == NULL)
        return;
    for (size_t i = 0; i < fw->tasks.count; i++)
        dr__task_free(fw->tasks.items[i].value);
    dr_idmap_deinit(&fw->tasks);
    dr_idmap_deinit(&fw->offers);
    for (size_t i = 0; i < fw->completed_count; i++)
        dr__task_free(fw->completed_tasks[i]);
    dr_free(fw->completed_tasks);
    strv_free(fw->roles, fw->role_count);
    strv_free(fw->suppressed_roles, fw->suppressed_count);
    dr_resources_deinit(&fw->used_resources);
    dr_resources_deinit(&fw->offered_resources);
    dr_proto_free((ProtobufCMessage *)fw->info);
    dr_free(fw->principal);
    dr_free(fw->id);
    dr_free(fw);
}

static uint32_t alloc_caps_of(const Mesos__FrameworkInfo *info, bool *partition_aware)
{
    uint32_t caps = 0;
    *partition_aware = false;
    for (size_t i = 0; i < info->n_capabilities; i++) {
        const Mesos__FrameworkInfo__Capability *c = info->capabilities[i];
        if (!c->has_type)
            continue;
        switch (c->type) {
        case MESOS__FRAMEWORK_INFO__CAPABILITY__TYPE__GPU_RESOURCES:
            caps |= DR_ALLOC_CAP_GPU_RESOURCES;
            break;
        case MESOS__FRAMEWORK_INFO__CAPABILITY__TYPE__MULTI_ROLE:
            caps |= DR_ALLOC_CAP_MULTI_ROLE;
            break;
        case MESOS__FRAMEWORK_INFO__CAPABILITY__TYPE__RESERVATION_REFINEMENT:
            caps |= DR_ALLOC_CAP_RESERVATION_REFINEMENT;
            break;
        case MESOS__FRAMEWORK_INFO__CAPABILITY__TYPE__SHARED_RESOURCES:
            caps |= DR_ALLOC_CAP_SHARED_RESOURCES;
            break;
        case MESOS__FRAMEWORK_INFO__CAPABILITY__TYPE__REVOCABLE_RESOURCES:
            caps |= DR_ALLOC_CAP_REVOCABLE_RESOURCES;
            break;
        case MESOS__FRAMEWORK_INFO__CAPABILITY__TYPE__PARTITION_AWARE:
            *partition_aware = true;
            break;
        default:
            break;
        }
    }
    return caps;
}

/* FrameworkInfo.role is deprecated in the protos but still Mesos's wire
 * contract for frameworks without MULTI_ROLE. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
/* Mesos's framework validation (subscribe and UPDATE_FRAMEWORK). Fills the
 * role list (sorted, owned) on success. */
static dr_code validate_framework_info(dr_master *m, const Mesos__FrameworkInfo *info,
                                       char *const *suppressed, size_t suppressed_count,
                                       char ***roles_out, size_t *role_count_out, dr_err *err)
{
    bool pa;
    uint32_t caps = alloc_caps_of(info, &pa);
    char *const *roles;
    size_t role_count;
    char *star = "*";
    /* protobuf-c leaves an unset `role` pointing at its default "*": only
     * another pointer means the framework set it (Mesos's has_role()). */
    bool role_set = info->role != NULL && info->role != mesos__framework_info__role__default_value;
    if (caps & DR_ALLOC_CAP_MULTI_ROLE) {
        if (role_set && info->n_roles > 0)
            return dr_err_set(err, DR_EINVAL,
                              "'FrameworkInfo.role' must not be set when "
                              "'FrameworkInfo.roles' is set (MULTI_ROLE)");
        if (role_set) {
            roles = &info->role;
            role_count = 1;
        } else {
            roles = info->roles;
            role_count = info->n_roles;
        }
    } else {
        if (info->n_roles > 0)
            return dr_err_set(err, DR_EINVAL,
                              "'FrameworkInfo.roles' is set without the MULTI_ROLE capability");
        roles = info->role != NULL ? &info->role : &star;
        role_count = 1;
    }
    for (size_t i = 0; i < role_count; i++) {
        dr_err rerr;
        if (dr_role_validate(roles[i], &rerr) != DR_OK)
            return dr_err_set(err, DR_EINVAL, "%s", rerr.msg);
        uint32_t depth = 1;
        for (const char *p = roles[i]; *p != '\0'; p++)
            depth += *p == '/';
        if (depth > DR_ALLOC_ROLE_DEPTH_MAX)
            return dr_err_set(err, DR_EINVAL, "Role '%.64s...' is deeper than %u levels",
                              roles[i], DR_ALLOC_ROLE_DEPTH_MAX);
        for (size_t j = 0; j < i; j++)
            if (strcmp(roles[i], roles[j]) == 0)
                return dr_err_set(err, DR_EINVAL,
                                  "'FrameworkInfo.roles' contains duplicate items: '%s'",
                                  roles[i]);
        if (m->opts.role_count > 0 && strcmp(roles[i], "*") != 0) {
            bool found = false;
            for (size_t k = 0; k < m->opts.role_count; k++)
                found = found || strcmp(m->opts.roles[k], roles[i]) == 0;
            if (!found)
                return dr_err_set(err, DR_EINVAL,
                                  "Role '%s' is not present in the master's --roles",
                                  roles[i]);
        }
    }
    for (size_t i = 0; i < suppressed_count; i++) {
        bool found = false;
        for (size_t k = 0; k < role_count; k++)
            found = found || strcmp(roles[k], suppressed[i]) == 0;
        if (!found)
            return dr_err_set(err, DR_EINVAL,
                              "Suppressed role '%s' is not contained in the list of roles",
                              suppressed[i]);
    }
    if (info->has_failover_timeout &&
        !(info->failover_timeout >= 0 && isfinite(info->failover_timeout)))
        return dr_err_set(err, DR_EINVAL, "'FrameworkInfo.failover_timeout' must be >= 0");
    *roles_out = strv_sorted_copy(roles, role_count);
    *role_count_out = role_count;
    return DR_OK;
}

#pragma GCC diagnostic pop

static void framework_register_in_allocator(dr_master *m, dr_mframework *fw, bool update)
{
    dr_err err;
    dr_code rc;
    if (update)
        rc = dr_allocator_update_framework(
            m->allocator, fw->id, (const char *const *)fw->roles, fw->role_count, fw->alloc_caps,
            (const char *const *)fw->suppressed_roles, fw->suppressed_count, &err);
    else
        rc = dr_allocator_add_framework(m->allocator, fw->id, (const char *const *)fw->roles,
                                        fw->role_count, fw->alloc_caps,
                                        (const char *const *)fw->suppressed_roles,
                                        fw->suppressed_count, &err);
    /* Roles were validated above with the same rules the allocator applies. */
    if (rc != DR_OK)
        DR_ERROR(m->env, "framework %s: allocator refused it: %s", fw->id, err.msg);
    DR_ASSERT(rc == DR_OK);
}

/* A framework record for id (new, in DISCONNECTED state, not yet in the
 * allocator): used by subscribe and by agents reporting unknown frameworks. */
static dr_mframework *framework_new(dr_master *m, const char *id, const Mesos__FrameworkInfo *info,
                                    char **roles, size_t role_count)
{
    dr_mframework *fw = dr_alloc(sizeof *fw);
    fw->master = m;
    fw->id = dr_strdup(id);
    fw->state = DR_MFRAMEWORK_DISCONNECTED;
    Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
    fid.value = fw->id;
    Mesos__FrameworkInfo copy = *info;
    copy.id = &fid;
    fw->info = dr__master_pb_clone(&copy);
    fw->alloc_caps = alloc_caps_of(info, &fw->partition_aware);
    fw->roles = roles;
    fw->role_count = role_count;
    fw->principal = info->principal != NULL ? dr_strdup(info->principal) : NULL;
    fw->registered_wall_ns = dr_env_wall(m->env);
    dr_idmap_init(&fw->tasks);
    dr_idmap_init(&fw->offers);
    dr_resources_init(&fw->used_resources);
    dr_resources_init(&fw->offered_resources);
    dr_idmap_put(&m->frameworks, fw->id, fw);
    return fw;
}

/* Agents report frameworks the master may not know (after a master
 * failover): they are added DISCONNECTED, without a failover timer (as Mesos
 * recovers them), waiting for their scheduler to subscribe again. */
dr_mframework *dr__framework_recover(dr_master *m, const Mesos__FrameworkInfo *info)
{
    DR_ASSERT(info->id != NULL);
    dr_mframework *fw = dr__master_framework(m, info->id->value);
    if (fw != NULL)
        return fw;
    char **roles = NULL;
    size_t role_count = 0;
    dr_err err;
    if (validate_framework_info(m, info, NULL, 0, &roles, &role_count, &err) != DR_OK) {
        /* Keep it anyway under role "*": the agent runs its tasks. */
        DR_WARN(m->env, "framework %s reported by an agent: %s", info->id->value, err.msg);
        char *star = "*";
        roles = strv_sorted_copy(&star, 1);
        role_count = 1;
    }
    fw = framework_new(m, info->id->value, info, roles, role_count);
    framework_register_in_allocator(m, fw, false);
    dr_allocator_activate_framework(m->allocator, fw->id, false);
    dr__master_emit(m, DR_MASTER_EV_FRAMEWORK_ADDED, fw);
    return fw;
}

void dr__framework_complete(dr_master *m, dr_mframework *fw)
{
    DR_ASSERT(fw->state != DR_MFRAMEWORK_COMPLETED);
    DR_ASSERT(fw->stream == NULL);
    DR_ASSERT(fw->tasks.count == 0);
    DR_ASSERT(fw->offers.count == 0);
    dr_env_timer_cancel(m->env, fw->heartbeat_timer);
    fw->heartbeat_timer = 0;
    dr_env_timer_cancel(m->env, fw->failover_timer);
    fw->failover_timer = 0;
    void *removed = dr_idmap_remove(&m->frameworks, fw->id);
    DR_ASSERT(removed == fw);
    fw->state = DR_MFRAMEWORK_COMPLETED;
    fw->unregistered_wall_ns = dr_env_wall(m->env);
    fw->stream_id[0] = '\0';
    m->counters.frameworks_removed++;
    dr__master_emit(m, DR_MASTER_EV_FRAMEWORK_REMOVED, fw);
    if (m->completed_framework_count == m->opts.max_completed_frameworks) {
        dr__framework_free(m->completed_frameworks[0]);
        memmove(&m->completed_frameworks[0], &m->completed_frameworks[1],
                (m->completed_framework_count - 1) * sizeof m->completed_frameworks[0]);
        m->completed_framework_count--;
    }
    if (m->completed_frameworks == NULL)
        m->completed_frameworks =
            dr_alloc_array(m->opts.max_completed_frameworks, sizeof(dr_mframework *));
    m->completed_frameworks[m->completed_framework_count++] = fw;
}

bool dr__framework_completed(const dr_master *m, const char *id)
{
    for (size_t i = 0; i < m->completed_framework_count; i++)
        if (strcmp(m->completed_frameworks[i]->id, id) == 0)
            return true;
    return false;
}

/* ---- the subscription stream ------------------------------------------------------------ */

static void stream_gone(dr_env *env, dr_http_response *res, void *ctx);

/* Ends fw's stream (if any) without changing its state. */
static void stream_end(dr_master *m, dr_mframework *fw)
{
    dr_env_timer_cancel(m->env, fw->heartbeat_timer);
    fw->heartbeat_timer = 0;
    if (fw->stream == NULL)
        return;
    dr_http_response *res = fw->stream;
    fw->stream = NULL;
    dr_http_response_on_gone(res, NULL, NULL);
    dr_http_response_stream_end(res);
}

void dr__scheduler_disconnect(dr_master *m, dr_mframework *fw) { stream_end(m, fw); }

static void failover_fire(dr_env *env, void *ctx);

/* The framework's scheduler went away: keep its tasks for failover_timeout. */
static void framework_disconnected(dr_master *m, dr_mframework *fw)
{
    DR_ASSERT(fw->state == DR_MFRAMEWORK_CONNECTED);
    stream_end(m, fw);
    fw->state = DR_MFRAMEWORK_DISCONNECTED;
    fw->stream_id[0] = '\0';
    dr_allocator_activate_framework(m->allocator, fw->id, false);
    dr__offers_rescind_framework(m, fw, false);
    double timeout_s = fw->info->has_failover_timeout ? fw->info->failover_timeout : 0;
    uint64_t timeout_ns = timeout_s >= 1e9 ? UINT64_C(1) << 62
                                           : (uint64_t)(timeout_s * (double)DR_NS_PER_S);
    DR_INFO(m->env, "framework %s disconnected; failover timeout %.3f s", fw->id, timeout_s);
    DR_ASSERT(fw->failover_timer == 0);
    fw->failover_timer = dr_env_timer_add(m->env, timeout_ns, failover_fire, fw);
    dr__master_emit(m, DR_MASTER_EV_FRAMEWORK_UPDATED, fw);
}

static void failover_fire(dr_env *env, void *ctx)
{
    DR_UNUSED(env);
    dr_mframework *fw = ctx;
    dr_master *m = fw->master;
    DR_ASSERT(fw->failover_timer != 0);
    fw->failover_timer = 0;
    DR_ASSERT(fw->state == DR_MFRAMEWORK_DISCONNECTED);
    DR_INFO(m->env, "framework %s: failover timeout expired; removing it", fw->id);
    dr_err err;
    dr_code rc = dr__master_teardown_framework(m, fw->id, &err);
    DR_ASSERT(rc == DR_OK);
}

static void stream_gone(dr_env *env, dr_http_response *res, void *ctx)
{
    DR_UNUSED(env);
    dr_master *m = ctx;
    /* Which framework's stream this is: compared, never iterated by address. */
    dr_mframework *fw = NULL;
    for (size_t i = 0; i < m->frameworks.count && fw == NULL; i++) {
        dr_mframework *f = m->frameworks.items[i].value;
        if (f->stream == res)
            fw = f;
    }
    /* This may run inside a write to res: finish it later, from the loop. */
    dr__master_end_later(m, res);
    if (fw != NULL) {
        fw->stream = NULL;
        framework_disconnected(m, fw);
    }
}

static void heartbeat_arm(dr_master *m, dr_mframework *fw);

static void heartbeat_fire(dr_env *env, void *ctx)
{
    DR_UNUSED(env);
    dr_mframework *fw = ctx;
    dr_master *m = fw->master;
    DR_ASSERT(fw->heartbeat_timer != 0);
    fw->heartbeat_timer = 0;
    DR_ASSERT(fw->state == DR_MFRAMEWORK_CONNECTED);
    Mesos__Scheduler__Event ev = MESOS__SCHEDULER__EVENT__INIT;
    ev.has_type = true;
    ev.type = MESOS__SCHEDULER__EVENT__TYPE__HEARTBEAT;
    dr__scheduler_send(m, fw, &ev);
    if (fw->state == DR_MFRAMEWORK_CONNECTED && fw->stream != NULL)
        heartbeat_arm(m, fw);
}

static void heartbeat_arm(dr_master *m, dr_mframework *fw)
{
    DR_ASSERT(fw->heartbeat_timer == 0);
    fw->heartbeat_timer = dr_env_timer_add(m->env, m->opts.framework_heartbeat_ns,
                                           heartbeat_fire, fw);
}

/* ---- calls --------------------------------------------------------------------------------- */

static void set_suppressed(dr_mframework *fw, char *const *roles, size_t count)
{
    strv_free(fw->suppressed_roles, fw->suppressed_count);
    fw->suppressed_roles = strv_sorted_copy(roles, count);
    fw->suppressed_count = count;
}

static void subscribe(dr_master *m, const dr_http_request *req, dr_http_response *res,
                      const dr_http_negotiation *n, Mesos__Scheduler__Call__Subscribe *sub)
{
    Mesos__FrameworkInfo *info = sub->framework_info;
    char stream_id[40];
    dr__master_new_id(m, stream_id);
    dr_http_response_header(res, "Mesos-Stream-Id", stream_id);
    dr_http_negotiation_stream_start(n, res, 200);

    /* A stand-in record for error events before the framework exists. */
    dr_mframework tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.id = "";
    tmp.stream = res;
    tmp.codec = n->response_codec;

    char **roles = NULL;
    size_t role_count = 0;
    dr_err err;
    if (validate_framework_info(m, info, sub->suppressed_roles, sub->n_suppressed_roles, &roles,
                                &role_count, &err) != DR_OK) {
        send_error_event(m, &tmp, err.msg);
        dr_http_response_stream_end(res);
        return;
    }
    const char *want_id = info->id != NULL ? info->id->value : NULL;
    if (want_id != NULL && dr__validate_id("Framework ID", want_id, &err) != DR_OK) {
        strv_free(roles, role_count);
        send_error_event(m, &tmp, err.msg);
        dr_http_response_stream_end(res);
        return;
    }
    if (want_id != NULL && dr__framework_completed(m, want_id)) {
        strv_free(roles, role_count);
        send_error_event(m, &tmp, "Framework has been removed");
        dr_http_response_stream_end(res);
        return;
    }

    dr_mframework *fw = want_id != NULL ? dr__master_framework(m, want_id) : NULL;
    bool is_new = fw == NULL;
    if (fw != NULL && fw->principal != NULL &&
        (info->principal == NULL || strcmp(info->principal, fw->principal) != 0)) {
        strv_free(roles, role_count);
        send_error_event(m, &tmp, "Framework principal cannot change on failover");
        dr_http_response_stream_end(res);
        return;
    }
    if (fw == NULL) {
        char idbuf[80];
        if (want_id == NULL) {
            snprintf(idbuf, sizeof idbuf, "%s-%04llu", m->id,
                     (unsigned long long)m->next_framework_index++);
            want_id = idbuf;
        }
        fw = framework_new(m, want_id, info, roles, role_count);
        set_suppressed(fw, sub->suppressed_roles, sub->n_suppressed_roles);
        framework_register_in_allocator(m, fw, false);
        DR_INFO(m->env, "framework %s (%s) subscribed%s", fw->id, info->name,
                info->id != NULL ? " with an id this master did not know" : "");
    } else {
        /* Failover: the new scheduler replaces the old one. */
        if (fw->state == DR_MFRAMEWORK_CONNECTED) {
            send_error_event(m, fw, "Framework failed over");
            stream_end(m, fw);
        }
        dr_env_timer_cancel(m->env, fw->failover_timer);
        fw->failover_timer = 0;
        dr__offers_rescind_framework(m, fw, false);
        Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
        fid.value = fw->id;
        Mesos__FrameworkInfo copy = *info;
        copy.id = &fid;
        dr_proto_free((ProtobufCMessage *)fw->info);
        fw->info = dr__master_pb_clone(&copy);
        fw->alloc_caps = alloc_caps_of(info, &fw->partition_aware);
        strv_free(fw->roles, fw->role_count);
        fw->roles = roles;
        fw->role_count = role_count;
        set_suppressed(fw, sub->suppressed_roles, sub->n_suppressed_roles);
        framework_register_in_allocator(m, fw, true);
        fw->reregistered_wall_ns = dr_env_wall(m->env);
        DR_INFO(m->env, "framework %s (%s) failed over", fw->id, info->name);
    }
    fw->state = DR_MFRAMEWORK_CONNECTED;
    fw->stream = res;
    fw->codec = n->response_codec;
    memcpy(fw->stream_id, stream_id, sizeof fw->stream_id);
    dr_http_response_on_gone(res, stream_gone, m);
    DR_UNUSED(req);
    dr_allocator_activate_framework(m->allocator, fw->id, true);
    m->counters.frameworks_subscribed++;

    Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
    fid.value = fw->id;
    Mesos__Scheduler__Event__Subscribed subd = MESOS__SCHEDULER__EVENT__SUBSCRIBED__INIT;
    subd.framework_id = &fid;
    subd.has_heartbeat_interval_seconds = true;
    subd.heartbeat_interval_seconds = (double)m->opts.framework_heartbeat_ns / (double)DR_NS_PER_S;
    subd.master_info = m->info;
    Mesos__Scheduler__Event ev = MESOS__SCHEDULER__EVENT__INIT;
    ev.has_type = true;
    ev.type = MESOS__SCHEDULER__EVENT__TYPE__SUBSCRIBED;
    ev.subscribed = &subd;
    dr__scheduler_send(m, fw, &ev);
    Mesos__Scheduler__Event hb = MESOS__SCHEDULER__EVENT__INIT;
    hb.has_type = true;
    hb.type = MESOS__SCHEDULER__EVENT__TYPE__HEARTBEAT;
    dr__scheduler_send(m, fw, &hb);
    if (fw->stream != NULL)
        heartbeat_arm(m, fw);
    dr__master_emit(m, is_new ? DR_MASTER_EV_FRAMEWORK_ADDED : DR_MASTER_EV_FRAMEWORK_UPDATED,
                    fw);
    dr__allocate_soon(m);
}

dr_code dr__master_teardown_framework(dr_master *m, const char *framework_id, dr_err *err)
{
    dr_mframework *fw = dr__master_framework(m, framework_id);
    if (fw == NULL)
        return dr_err_set(err, DR_ENOENT, "framework '%s' is not known", framework_id);
    DR_INFO(m->env, "framework %s: removing it", fw->id);
    stream_end(m, fw);
    dr__offers_rescind_framework(m, fw, false);
    dr_allocator_activate_framework(m->allocator, fw->id, false);

    /* Kill every task: KILL_TASK for each, then SHUTDOWN_FRAMEWORK to every
     * connected agent, as Mesos does: an agent may run the framework's
     * executors with no task left (agents ignore what they do not have).
     * Tasks become TASK_KILLED in the master's view ("Framework removed"). */
    size_t task_count = fw->tasks.count;
    dr_mtask **tasks = dr_alloc_array(task_count + 1, sizeof *tasks);
    for (size_t i = 0; i < task_count; i++)
        tasks[i] = fw->tasks.items[i].value;
    Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
    fid.value = fw->id;
    for (size_t i = 0; i < task_count; i++) {
        dr_mtask *t = tasks[i];
        dr_magent *agent = dr__master_agent(m, t->agent_id);
        if (agent != NULL && agent->stream != NULL) {
            Mesos__TaskID tid = MESOS__TASK_ID__INIT;
            tid.value = t->id;
            Dromos__Internal__AgentEvent__KillTask k = DROMOS__INTERNAL__AGENT_EVENT__KILL_TASK__INIT;
            k.framework_id = &fid;
            k.task_id = &tid;
            Dromos__Internal__AgentEvent ev = DROMOS__INTERNAL__AGENT_EVENT__INIT;
            ev.type = DROMOS__INTERNAL__AGENT_EVENT__TYPE__KILL_TASK;
            ev.kill_task = &k;
            dr__agent_send(m, agent, &ev);
        }
        if (!dr__task_state_terminal(t->state)) {
            Mesos__TaskStatus st = MESOS__TASK_STATUS__INIT;
            Mesos__TaskID tid = MESOS__TASK_ID__INIT;
            tid.value = t->id;
            st.task_id = &tid;
            st.state = MESOS__TASK_STATE__TASK_KILLED;
            st.message = "Framework removed";
            st.has_source = true;
            st.source = MESOS__TASK_STATUS__SOURCE__SOURCE_MASTER;
            st.has_reason = true;
            st.reason = MESOS__TASK_STATUS__REASON__REASON_FRAMEWORK_REMOVED;
            dr__task_update(m, t, &st, false);
        }
        dr__task_remove(m, t);
    }
    dr_free(tasks);
    for (size_t i = 0; i < m->agents.count; i++) {
        dr_magent *agent = m->agents.items[i].value;
        if (agent->stream == NULL)
            continue;
        Dromos__Internal__AgentEvent__ShutdownFramework s =
            DROMOS__INTERNAL__AGENT_EVENT__SHUTDOWN_FRAMEWORK__INIT;
        s.framework_id = &fid;
        Dromos__Internal__AgentEvent ev = DROMOS__INTERNAL__AGENT_EVENT__INIT;
        ev.type = DROMOS__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN_FRAMEWORK;
        ev.shutdown_framework = &s;
        dr__agent_send(m, agent, &ev);
    }
    /* Its executors are gone from every agent. */
    for (size_t i = 0; i < m->agents.count; i++) {
        dr_magent *agent = m->agents.items[i].value;
        size_t j = 0;
        while (j < agent->executors.count) {
            dr_mexecutor *e = agent->executors.items[j].value;
            if (strcmp(e->framework_id, fw->id) == 0) {
                dr_idmap_remove(&agent->executors, e->key);
                dr_free(e->key);
                dr_free(e->framework_id);
                dr_proto_free((ProtobufCMessage *)e->info);
                dr_free(e);
            } else {
                j++;
            }
        }
    }
    dr_allocator_remove_framework(m->allocator, fw->id);
    dr__framework_complete(m, fw);
    dr__allocate_soon(m);
    return DR_OK;
}

static void do_suppress(dr_master *m, dr_mframework *fw, char *const *roles, size_t count,
                        bool suppress)
{
    char *const *use = roles;
    size_t use_count = count;
    if (count == 0) {
        use = fw->roles;
        use_count = fw->role_count;
    }
    if (suppress)
        dr_allocator_suppress(m->allocator, fw->id, (const char *const *)roles, count);
    else
        dr_allocator_revive(m->allocator, fw->id, (const char *const *)roles, count);
    /* Keep our copy of the suppressed set in step (sorted, no duplicates). */
    size_t n = 0;
    char **out = dr_alloc_array(fw->suppressed_count + use_count + 1, sizeof *out);
    for (size_t i = 0; i < fw->suppressed_count; i++) {
        bool touched = false;
        for (size_t k = 0; k < use_count; k++)
            touched = touched || strcmp(use[k], fw->suppressed_roles[i]) == 0;
        if (!touched)
            out[n++] = dr_strdup(fw->suppressed_roles[i]);
    }
    if (suppress) {
        for (size_t k = 0; k < use_count; k++) {
            bool dup = false;
            for (size_t i = 0; i < n; i++)
                dup = dup || strcmp(out[i], use[k]) == 0;
            if (!dup)
                out[n++] = dr_strdup(use[k]);
        }
    }
    qsort(out, n, sizeof *out, strcmp_p);
    strv_free(fw->suppressed_roles, fw->suppressed_count);
    fw->suppressed_roles = n > 0 ? out : NULL;
    if (n == 0)
        dr_free(out);
    fw->suppressed_count = n;
    if (!suppress)
        dr__allocate_soon(m);
}

static bool role_subscribed(const dr_mframework *fw, const char *role)
{
    for (size_t i = 0; i < fw->role_count; i++)
        if (strcmp(fw->roles[i], role) == 0)
            return true;
    return false;
}

static int update_framework(dr_master *m, dr_mframework *fw,
                            Mesos__Scheduler__Call__UpdateFramework *up, dr_err *err)
{
    Mesos__FrameworkInfo *info = up->framework_info;
    if (info->id == NULL || strcmp(info->id->value, fw->id) != 0) {
        dr_err_set(err, DR_EINVAL,
                   "'framework_info.id' must be set and equal to 'framework_id'");
        return 400;
    }
    if ((fw->principal == NULL) != (info->principal == NULL) ||
        (fw->principal != NULL && strcmp(fw->principal, info->principal) != 0)) {
        dr_err_set(err, DR_EINVAL, "Changing 'FrameworkInfo.principal' is not allowed");
        return 400;
    }
    if (strcmp(fw->info->user, info->user) != 0) {
        dr_err_set(err, DR_EINVAL, "Updating 'FrameworkInfo.user' is unsupported");
        return 400;
    }
    char **roles = NULL;
    size_t role_count = 0;
    if (validate_framework_info(m, info, up->suppressed_roles, up->n_suppressed_roles, &roles,
                                &role_count, err) != DR_OK)
        return 400;
    /* Offers for roles it leaves are rescinded. */
    for (size_t i = fw->offers.count; i-- > 0;) {
        dr_moffer *o = fw->offers.items[i].value;
        bool kept = false;
        for (size_t k = 0; k < role_count; k++)
            kept = kept || strcmp(roles[k], o->role) == 0;
        if (!kept)
            dr__offer_remove(m, o, true, 0);
    }
    dr_proto_free((ProtobufCMessage *)fw->info);
    fw->info = dr__master_pb_clone(info);
    fw->alloc_caps = alloc_caps_of(info, &fw->partition_aware);
    strv_free(fw->roles, fw->role_count);
    fw->roles = roles;
    fw->role_count = role_count;
    set_suppressed(fw, up->suppressed_roles, up->n_suppressed_roles);
    framework_register_in_allocator(m, fw, true);
    /* Agents running its tasks learn the new FrameworkInfo. */
    Dromos__Internal__AgentEvent__UpdateFramework u =
        DROMOS__INTERNAL__AGENT_EVENT__UPDATE_FRAMEWORK__INIT;
    u.framework_info = fw->info;
    Dromos__Internal__AgentEvent ev = DROMOS__INTERNAL__AGENT_EVENT__INIT;
    ev.type = DROMOS__INTERNAL__AGENT_EVENT__TYPE__UPDATE_FRAMEWORK;
    ev.update_framework = &u;
    for (size_t i = 0; i < m->agents.count; i++) {
        dr_magent *agent = m->agents.items[i].value;
        bool has = false;
        for (size_t j = 0; j < agent->tasks.count && !has; j++) {
            dr_mtask *t = agent->tasks.items[j].value;
            has = strcmp(t->framework_id, fw->id) == 0;
        }
        if (has)
            dr__agent_send(m, agent, &ev);
    }
    dr__master_emit(m, DR_MASTER_EV_FRAMEWORK_UPDATED, fw);
    dr__allocate_soon(m);
    return 200;
}

static void send_message(dr_master *m, dr_mframework *fw, Mesos__Scheduler__Call__Message *msg)
{
    dr_magent *agent = dr__master_agent(m, msg->agent_id->value);
    if (agent == NULL || agent->stream == NULL) {
        DR_WARN(m->env, "framework %s: message for agent %s dropped: agent not connected",
                fw->id, msg->agent_id->value);
        m->counters.dropped_messages++;
        return;
    }
    Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
    fid.value = fw->id;
    Dromos__Internal__AgentEvent__FrameworkMessage fm =
        DROMOS__INTERNAL__AGENT_EVENT__FRAMEWORK_MESSAGE__INIT;
    fm.framework_id = &fid;
    fm.executor_id = msg->executor_id;
    fm.data = msg->data;
    Dromos__Internal__AgentEvent ev = DROMOS__INTERNAL__AGENT_EVENT__INIT;
    ev.type = DROMOS__INTERNAL__AGENT_EVENT__TYPE__FRAMEWORK_MESSAGE;
    ev.framework_message = &fm;
    dr__agent_send(m, agent, &ev);
    m->counters.framework_to_executor_messages++;
}

static void shutdown_executor(dr_master *m, dr_mframework *fw,
                              Mesos__Scheduler__Call__Shutdown *sh)
{
    dr_magent *agent = dr__master_agent(m, sh->agent_id->value);
    if (agent == NULL || agent->stream == NULL) {
        m->counters.dropped_messages++;
        return;
    }
    /* As Mesos's ShutdownExecutorMessage: the agent sends the executor
     * SHUTDOWN; its tasks end with the updates that follow (the executor's,
     * or the agent's once the executor is gone). */
    Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
    fid.value = fw->id;
    Dromos__Internal__AgentEvent__ShutdownExecutor se =
        DROMOS__INTERNAL__AGENT_EVENT__SHUTDOWN_EXECUTOR__INIT;
    se.framework_id = &fid;
    se.executor_id = sh->executor_id;
    Dromos__Internal__AgentEvent ev = DROMOS__INTERNAL__AGENT_EVENT__INIT;
    ev.type = DROMOS__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN_EXECUTOR;
    ev.shutdown_executor = &se;
    dr__agent_send(m, agent, &ev);
}

/* ---- the endpoint ----------------------------------------------------------------------------- */

/* Which sub-message a call type needs ("accept"), or NULL when none. */
static const char *required_field(const Mesos__Scheduler__Call *c, bool *present)
{
    *present = true;
    switch (c->type) {
    case MESOS__SCHEDULER__CALL__TYPE__SUBSCRIBE:
        *present = c->subscribe != NULL;
        return "subscribe";
    case MESOS__SCHEDULER__CALL__TYPE__ACCEPT:
        *present = c->accept != NULL;
        return "accept";
    case MESOS__SCHEDULER__CALL__TYPE__DECLINE:
        *present = c->decline != NULL;
        return "decline";
    case MESOS__SCHEDULER__CALL__TYPE__ACCEPT_INVERSE_OFFERS:
        *present = c->accept_inverse_offers != NULL;
        return "accept_inverse_offers";
    case MESOS__SCHEDULER__CALL__TYPE__DECLINE_INVERSE_OFFERS:
        *present = c->decline_inverse_offers != NULL;
        return "decline_inverse_offers";
    case MESOS__SCHEDULER__CALL__TYPE__KILL:
        *present = c->kill != NULL;
        return "kill";
    case MESOS__SCHEDULER__CALL__TYPE__SHUTDOWN:
        *present = c->shutdown != NULL;
        return "shutdown";
    case MESOS__SCHEDULER__CALL__TYPE__ACKNOWLEDGE:
        *present = c->acknowledge != NULL;
        return "acknowledge";
    case MESOS__SCHEDULER__CALL__TYPE__RECONCILE:
        *present = c->reconcile != NULL;
        return "reconcile";
    case MESOS__SCHEDULER__CALL__TYPE__MESSAGE:
        *present = c->message != NULL;
        return "message";
    case MESOS__SCHEDULER__CALL__TYPE__REQUEST:
        *present = c->request != NULL;
        return "request";
    case MESOS__SCHEDULER__CALL__TYPE__ACKNOWLEDGE_OPERATION_STATUS:
        *present = c->acknowledge_operation_status != NULL;
        return "acknowledge_operation_status";
    case MESOS__SCHEDULER__CALL__TYPE__UPDATE_FRAMEWORK:
        *present = c->update_framework != NULL;
        return "update_framework";
    default:
        return NULL;
    }
}

/* Whether the part of call that its type makes the master read can hold
 * Resources, which must then be upgraded to the post-1.4 format (see
 * dr_proto_upgrade_resources): ACCEPT (task, executor and operation
 * resources) and REQUEST; a call without a type is refused later. The other
 * calls carry none, and walking them would only cost time: fields their type
 * does not use are never read. */
static bool call_has_resources(const Mesos__Scheduler__Call *call)
{
    if (!call->has_type)
        return false;
    return call->type == MESOS__SCHEDULER__CALL__TYPE__ACCEPT ||
           call->type == MESOS__SCHEDULER__CALL__TYPE__REQUEST;
}

static void scheduler_handle(dr_env *env, const dr_http_request *req, dr_http_response *res,
                             void *ctx)
{
    DR_UNUSED(env);
    dr_master *m = ctx;
    dr_http_negotiation n;
    dr_http_negotiate_request(req->method, &req->headers, false, &n);
    if (n.status != 0) {
        m->counters.scheduler_calls_invalid++;
        dr_http_negotiation_reject(&n, res);
        return;
    }
    if (m->shutting_down) {
        dr_http_response_error(res, 503, "Master is shutting down");
        return;
    }
    dr_arena arena;
    dr_arena_init(&arena);
    dr_arena_set_size_max(&arena, DR_MASTER_ARENA_SIZE_MAX(req->body_size));
    ProtobufCMessage *msg = NULL;
    dr_err err;
    dr_code rc;
    if (n.request_codec == DR_HTTP_CODEC_PROTOBUF)
        rc = dr_proto_decode(&mesos__scheduler__call__descriptor, req->body, req->body_size,
                             &arena, &msg, &err);
    else
        rc = dr_json_decode(&mesos__scheduler__call__descriptor, (const char *)req->body,
                            req->body_size, &arena, &msg, &err);
    if (rc == DR_OK && call_has_resources((const Mesos__Scheduler__Call *)msg))
        rc = dr_proto_upgrade_resources(msg, &arena, &err);
    if (rc != DR_OK) {
        m->counters.scheduler_calls_invalid++;
        dr_http_response_error(res, rc == DR_ETOOBIG ? 413 : 400,
                               "Failed to parse body into Call %s: %s",
                               n.request_codec == DR_HTTP_CODEC_PROTOBUF ? "protobuf" : "JSON",
                               err.msg);
        goto out;
    }
    Mesos__Scheduler__Call *call = (Mesos__Scheduler__Call *)msg;
    if (!call->has_type || call->type == MESOS__SCHEDULER__CALL__TYPE__UNKNOWN) {
        m->counters.scheduler_calls_invalid++;
        dr_http_response_error(res, 400, "Failed to validate scheduler::Call: %s",
                               "Expecting 'type' to be present");
        goto out;
    }
    bool present;
    const char *field = required_field(call, &present);
    if (!present) {
        m->counters.scheduler_calls_invalid++;
        dr_http_response_error(res, 400, "Failed to validate scheduler::Call: "
                               "Expecting '%s' to be present", field);
        goto out;
    }
    if ((unsigned)call->type < DR_ARRAY_COUNT(m->counters.scheduler_calls))
        m->counters.scheduler_calls[call->type]++;

    const char *stream_header = dr_http_headers_get(&req->headers, "Mesos-Stream-Id");
    if (call->type == MESOS__SCHEDULER__CALL__TYPE__SUBSCRIBE) {
        Mesos__FrameworkInfo *info = call->subscribe->framework_info;
        /* As Mesos compares them: both unset, or both set and equal. */
        if ((call->framework_id == NULL) != (info->id == NULL) ||
            (info->id != NULL && strcmp(info->id->value, call->framework_id->value) != 0)) {
            dr_http_response_error(res, 400, "Failed to validate scheduler::Call: "
                                   "'framework_id' differs from 'subscribe.framework_info.id'");
            goto out;
        }
        if (stream_header != NULL) {
            dr_http_response_error(res, 400,
                                   "Subscribe calls should not include the 'Mesos-Stream-Id' "
                                   "header");
            goto out;
        }
        dr_http_negotiate_response(&req->headers, DR_HTTP_STREAM_CODEC, &n);
        if (n.status != 0) {
            dr_http_negotiation_reject(&n, res);
            goto out;
        }
        subscribe(m, req, res, &n, call->subscribe);
        goto out;
    }

    if (call->framework_id == NULL) {
        dr_http_response_error(res, 400, "Failed to validate scheduler::Call: "
                               "Expecting 'framework_id' to be present");
        goto out;
    }
    dr_mframework *fw = dr__master_framework(m, call->framework_id->value);
    if (fw == NULL) {
        dr_http_response_error(res, 400, "Framework cannot be found");
        goto out;
    }
    if (fw->state != DR_MFRAMEWORK_CONNECTED) {
        dr_http_response_error(res, 403, "Framework is not subscribed");
        goto out;
    }
    if (stream_header == NULL) {
        dr_http_response_error(res, 400,
                               "All non-subscribe calls should include the 'Mesos-Stream-Id' "
                               "header");
        goto out;
    }
    if (strcmp(stream_header, fw->stream_id) != 0) {
        dr_http_response_error(res, 400,
                               "The stream ID '%s' included in this request didn't match the "
                               "stream ID currently associated with framework ID %s",
                               stream_header, fw->id);
        goto out;
    }

    int status = 202;
    switch (call->type) {
    case MESOS__SCHEDULER__CALL__TYPE__TEARDOWN: {
        dr_code trc = dr__master_teardown_framework(m, fw->id, &err);
        DR_ASSERT(trc == DR_OK);
        break;
    }
    case MESOS__SCHEDULER__CALL__TYPE__ACCEPT:
        dr__scheduler_accept(m, fw, call->accept);
        break;
    case MESOS__SCHEDULER__CALL__TYPE__DECLINE:
        dr__scheduler_decline(m, fw, call->decline);
        break;
    case MESOS__SCHEDULER__CALL__TYPE__REVIVE:
    case MESOS__SCHEDULER__CALL__TYPE__SUPPRESS: {
        bool sup = call->type == MESOS__SCHEDULER__CALL__TYPE__SUPPRESS;
        char **roles = sup ? (call->suppress ? call->suppress->roles : NULL)
                           : (call->revive ? call->revive->roles : NULL);
        size_t count = sup ? (call->suppress ? call->suppress->n_roles : 0)
                           : (call->revive ? call->revive->n_roles : 0);
        for (size_t i = 0; i < count; i++) {
            if (!role_subscribed(fw, roles[i])) {
                dr_http_response_error(res, 400, "Failed to validate scheduler::Call: "
                                       "role '%s' is not one of the framework's roles",
                                       roles[i]);
                goto out;
            }
        }
        do_suppress(m, fw, roles, count, sup);
        break;
    }
    case MESOS__SCHEDULER__CALL__TYPE__KILL:
        if (call->kill->task_id == NULL) {
            dr_http_response_error(res, 400, "Failed to validate scheduler::Call: "
                                   "Expecting 'kill.task_id' to be present");
            goto out;
        }
        dr__scheduler_kill(m, fw, call->kill);
        break;
    case MESOS__SCHEDULER__CALL__TYPE__SHUTDOWN:
        shutdown_executor(m, fw, call->shutdown);
        break;
    case MESOS__SCHEDULER__CALL__TYPE__ACKNOWLEDGE: {
        int st = 202;
        dr__scheduler_acknowledge(m, fw, call->acknowledge, &err, &st);
        if (st != 202) {
            dr_http_response_error(res, st, "%s", err.msg);
            goto out;
        }
        break;
    }
    case MESOS__SCHEDULER__CALL__TYPE__RECONCILE:
        dr__scheduler_reconcile(m, fw, call->reconcile);
        break;
    case MESOS__SCHEDULER__CALL__TYPE__MESSAGE:
        send_message(m, fw, call->message);
        break;
    case MESOS__SCHEDULER__CALL__TYPE__REQUEST:
    case MESOS__SCHEDULER__CALL__TYPE__ACCEPT_INVERSE_OFFERS:
    case MESOS__SCHEDULER__CALL__TYPE__DECLINE_INVERSE_OFFERS:
    case MESOS__SCHEDULER__CALL__TYPE__ACKNOWLEDGE_OPERATION_STATUS:
        break; /* accepted without effect, as Mesos (no inverse offers, no operations) */
    case MESOS__SCHEDULER__CALL__TYPE__RECONCILE_OPERATIONS: {
        dr_http_negotiate_response(&req->headers, DR_HTTP_STREAM_NONE, &n);
        if (n.status != 0) {
            dr_http_negotiation_reject(&n, res);
            goto out;
        }
        /* scheduler.Response {type: RECONCILE_OPERATIONS, reconcile_operations: {}}
         * (the Response message is not in the generated set: written by hand). */
        if (n.response_codec == DR_HTTP_CODEC_PROTOBUF) {
            static const uint8_t pb[] = {0x08, 0x01, 0x12, 0x00};
            dr_http_response_send(res, 200, DR_HTTP_MEDIA_PROTOBUF, pb, sizeof pb);
        } else {
            static const char js[] =
                "{\"reconcile_operations\":{\"operation_statuses\":[]},"
                "\"type\":\"RECONCILE_OPERATIONS\"}";
            dr_http_response_send(res, 200, DR_HTTP_MEDIA_JSON, js, sizeof js - 1);
        }
        goto out;
    }
    case MESOS__SCHEDULER__CALL__TYPE__UPDATE_FRAMEWORK:
        status = update_framework(m, fw, call->update_framework, &err);
        if (status != 200) {
            dr_http_response_error(res, status, "%s", err.msg);
            goto out;
        }
        break;
    default:
        dr_http_response_error(res, 501, "Unsupported call type %d", (int)call->type);
        goto out;
    }
    dr_http_response_send(res, status, NULL, "", 0);
out:
    dr_arena_deinit(&arena);
}

dr_code dr__scheduler_route(dr_master *m, dr_err *err)
{
    return dr_http_server_route(m->server, "/api/v1/scheduler", false, scheduler_handle, m, err);
}
