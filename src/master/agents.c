/* src/master/agents.c — POST /internal/agent: the master side of the
 * master–agent protocol (src/proto/internal.proto).
 *
 * Owns: registration and re-registration (each opens a session whose
 * streaming answer carries AgentEvents), reconciling the agent's reported
 * frameworks, executors and tasks with the master's view, pings and the
 * unreachable transition (TASK_UNREACHABLE for partition-aware frameworks,
 * TASK_LOST for others; tasks come back when the agent registers again),
 * removal (MARK_AGENT_GONE, UNREGISTER), and the session check that refuses
 * calls from stale connections with 409.
 *
 * Status updates themselves are applied in tasks.c.
 */
#include <stdio.h>
#include <string.h>

#include "src/http/recordio.h"
#include "src/master/master_int.h"

/* ---- sending ------------------------------------------------------------------ */

void dr__agent_send(dr_master *m, dr_magent *agent, const Dromos__Internal__AgentEvent *ev)
{
    if (agent->stream == NULL) {
        m->counters.dropped_messages++;
        return;
    }
    dr_buf buf;
    dr_buf_init(&buf);
    dr_err err;
    dr_code rc = dr_proto_encode(&ev->base, &buf, &err);
    DR_ASSERT(rc == DR_OK); /* built here with every required field */
    rc = dr_http_response_stream_record(agent->stream, buf.data, buf.size, &err);
    if (rc != DR_OK) {
        /* on_gone handles the disconnection. */
        DR_WARN(m->env, "agent %s: event dropped: %s", agent->id, err.msg);
        m->counters.dropped_messages++;
    }
    dr_buf_deinit(&buf);
}

/* ---- records -------------------------------------------------------------------- */

static void executors_clear(dr_magent *agent)
{
    for (size_t i = 0; i < agent->executors.count; i++) {
        dr_mexecutor *e = agent->executors.items[i].value;
        dr_free(e->key);
        dr_free(e->framework_id);
        dr_proto_free((ProtobufCMessage *)e->info);
        dr_free(e);
    }
    dr_idmap_deinit(&agent->executors); /* keys died with the values */
    dr_idmap_init(&agent->executors);
}

static void capabilities_clear(dr_magent *agent)
{
    dr_free(agent->capabilities);
    agent->capabilities = NULL;
    agent->capability_count = 0;
}

void dr__agent_free(dr_magent *agent)
{
    if (agent == NULL)
        return;
    executors_clear(agent);
    dr_idmap_deinit(&agent->executors);
    dr_idmap_deinit(&agent->tasks); /* tasks belong to their frameworks */
    dr_idmap_deinit(&agent->offers);
    capabilities_clear(agent);
    dr_resources_deinit(&agent->total_resources);
    dr_resources_deinit(&agent->used_resources);
    dr_resources_deinit(&agent->offered_resources);
    dr_proto_free((ProtobufCMessage *)agent->info);
    dr_free(agent->hostname);
    dr_free(agent->version);
    dr_free(agent->boot_id);
    dr_free(agent->id);
    dr_free(agent);
}

static void stream_end(dr_master *m, dr_magent *agent)
{
    DR_UNUSED(m);
    if (agent->stream == NULL)
        return;
    dr_http_response *res = agent->stream;
    agent->stream = NULL;
    dr_http_response_on_gone(res, NULL, NULL);
    dr_http_response_stream_end(res);
}

void dr__agents_shutdown(dr_master *m)
{
    for (size_t i = 0; i < m->agents.count; i++) {
        dr_magent *agent = m->agents.items[i].value;
        dr_env_timer_cancel(m->env, agent->ping_timer);
        agent->ping_timer = 0;
        stream_end(m, agent);
    }
}

/* ---- leaving: unreachable and removed ---------------------------------------------- */

static void allocator_remove(dr_master *m, dr_magent *agent)
{
    dr__offers_rescind_agent(m, agent);
    if (agent->in_allocator) {
        dr_allocator_remove_agent(m->allocator, agent->id);
        agent->in_allocator = false;
    }
}

static dr_mtask **tasks_snapshot(dr_magent *agent, size_t *count)
{
    *count = agent->tasks.count;
    dr_mtask **out = dr_alloc_array(*count + 1, sizeof *out);
    for (size_t i = 0; i < *count; i++)
        out[i] = agent->tasks.items[i].value;
    return out;
}

static void mark_unreachable(dr_master *m, dr_magent *agent)
{
    DR_ASSERT(agent->state != DR_MAGENT_UNREACHABLE);
    DR_WARN(m->env, "agent %s (%s) is unreachable: %u pings unanswered", agent->id,
            agent->hostname, (unsigned)agent->missed_ping_count);
    stream_end(m, agent);
    allocator_remove(m, agent);
    agent->state = DR_MAGENT_UNREACHABLE;
    agent->unreachable_wall_ns = dr_env_wall(m->env);
    m->counters.agents_unreachable++;
    char msg[400];
    snprintf(msg, sizeof msg, "Agent %s is unreachable", agent->hostname);
    size_t n;
    dr_mtask **tasks = tasks_snapshot(agent, &n);
    for (size_t i = 0; i < n; i++) {
        dr_mtask *t = tasks[i];
        if (dr__task_state_terminal(t->state) || t->unreachable)
            continue;
        dr_mframework *fw = dr__master_framework(m, t->framework_id);
        DR_ASSERT(fw != NULL);
        /* Release first: the agent is no longer in the allocator. */
        dr_resources_subtract(&fw->used_resources, &t->resources);
        dr_resources_subtract(&agent->used_resources, &t->resources);
        t->unreachable = true;
        dr__task_generated(m, t,
                           fw->partition_aware ? MESOS__TASK_STATE__TASK_UNREACHABLE
                                               : MESOS__TASK_STATE__TASK_LOST,
                           MESOS__TASK_STATUS__REASON__REASON_AGENT_REMOVED, msg);
    }
    dr_free(tasks);
}

/* Removes an agent for good; its tasks get gone_state (partition-aware) or
 * TASK_LOST, and it is told SHUTDOWN when connected. */
static void agent_remove(dr_master *m, dr_magent *agent, Mesos__TaskState gone_state,
                         Mesos__TaskStatus__Reason reason, const char *why)
{
    DR_INFO(m->env, "agent %s (%s) removed: %s", agent->id, agent->hostname, why);
    Dromos__Internal__AgentEvent__Shutdown sd = DROMOS__INTERNAL__AGENT_EVENT__SHUTDOWN__INIT;
    sd.message = (char *)why;
    Dromos__Internal__AgentEvent ev = DROMOS__INTERNAL__AGENT_EVENT__INIT;
    ev.type = DROMOS__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN;
    ev.shutdown = &sd;
    dr__agent_send(m, agent, &ev);
    stream_end(m, agent);
    dr_env_timer_cancel(m->env, agent->ping_timer);
    agent->ping_timer = 0;
    allocator_remove(m, agent);
    size_t n;
    dr_mtask **tasks = tasks_snapshot(agent, &n);
    for (size_t i = 0; i < n; i++) {
        dr_mtask *t = tasks[i];
        dr_mframework *fw = dr__master_framework(m, t->framework_id);
        DR_ASSERT(fw != NULL);
        if (!dr__task_state_terminal(t->state))
            dr__task_generated(m, t, fw->partition_aware ? gone_state : MESOS__TASK_STATE__TASK_LOST,
                               reason, why);
        dr__task_remove(m, t);
    }
    dr_free(tasks);
    void *r = dr_idmap_remove(&m->agents, agent->id);
    DR_ASSERT(r == agent);
    dr_mgone *g = dr_alloc(sizeof *g);
    g->id = dr_strdup(agent->id);
    g->gone_wall_ns = dr_env_wall(m->env);
    if (dr_idmap_get(&m->gone_agents, g->id) == NULL) {
        dr_idmap_put(&m->gone_agents, g->id, g);
    } else {
        dr_free(g->id);
        dr_free(g);
    }
    m->counters.agents_removed++;
    dr__master_emit(m, DR_MASTER_EV_AGENT_REMOVED, agent);
    dr__agent_free(agent);
    dr__allocate_soon(m);
}

dr_code dr__master_mark_agent_gone(dr_master *m, const char *agent_id, dr_err *err)
{
    if (dr_idmap_get(&m->gone_agents, agent_id) != NULL)
        return DR_OK;
    dr_magent *agent = dr__master_agent(m, agent_id);
    if (agent == NULL)
        return dr_err_set(err, DR_ENOENT, "agent '%s' is not known", agent_id);
    agent_remove(m, agent, MESOS__TASK_STATE__TASK_GONE_BY_OPERATOR,
                 MESOS__TASK_STATUS__REASON__REASON_AGENT_REMOVED_BY_OPERATOR,
                 "Agent has been marked gone by the operator");
    return DR_OK;
}

/* ---- pings ------------------------------------------------------------------------------ */

static void ping_fire(dr_env *env, void *ctx)
{
    DR_UNUSED(env);
    dr_magent *agent = ctx;
    dr_master *m = agent->master;
    DR_ASSERT(agent->ping_timer != 0);
    agent->ping_timer = 0;
    DR_ASSERT(agent->state != DR_MAGENT_UNREACHABLE);
    if (agent->ping_sequence != agent->pong_sequence || agent->stream == NULL) {
        agent->missed_ping_count++;
        m->counters.agent_ping_timeouts++;
        if (agent->missed_ping_count >= m->opts.max_agent_ping_timeouts) {
            mark_unreachable(m, agent);
            return;
        }
    }
    if (agent->stream != NULL) {
        agent->ping_sequence++;
        Dromos__Internal__AgentEvent__Ping p = DROMOS__INTERNAL__AGENT_EVENT__PING__INIT;
        p.sequence = agent->ping_sequence;
        Dromos__Internal__AgentEvent ev = DROMOS__INTERNAL__AGENT_EVENT__INIT;
        ev.type = DROMOS__INTERNAL__AGENT_EVENT__TYPE__PING;
        ev.ping = &p;
        dr__agent_send(m, agent, &ev);
    }
    agent->ping_timer = dr_env_timer_add(m->env, m->opts.agent_ping_timeout_ns, ping_fire, agent);
}

static void agent_stream_gone(dr_env *env, dr_http_response *res, void *ctx)
{
    DR_UNUSED(env);
    dr_master *m = ctx;
    dr_magent *agent = NULL;
    for (size_t i = 0; i < m->agents.count && agent == NULL; i++) {
        dr_magent *a = m->agents.items[i].value;
        if (a->stream == res)
            agent = a;
    }
    /* This may run inside a write to res: finish it later, from the loop. */
    dr__master_end_later(m, res);
    if (agent == NULL)
        return;
    DR_ASSERT(agent->state == DR_MAGENT_CONNECTED);
    DR_INFO(m->env, "agent %s (%s) disconnected", agent->id, agent->hostname);
    agent->stream = NULL;
    agent->state = DR_MAGENT_DISCONNECTED;
    dr__offers_rescind_agent(m, agent);
    if (agent->in_allocator)
        dr_allocator_activate_agent(m->allocator, agent->id, false);
}

/* ---- REGISTER ------------------------------------------------------------------------------ */

static const char *role_of_task(dr_master *m, const Mesos__Task *task)
{
    for (size_t i = 0; i < task->n_resources; i++) {
        const Mesos__Resource *r = task->resources[i];
        if (r->allocation_info != NULL && r->allocation_info->role != NULL)
            return r->allocation_info->role;
    }
    dr_mframework *fw = dr__master_framework(m, task->framework_id->value);
    return fw != NULL && fw->role_count > 0 ? fw->roles[0] : "*";
}

/* A task the agent reports that the master does not know: adopted. */
static void task_adopt(dr_master *m, dr_mframework *fw, dr_magent *agent, const Mesos__Task *rt)
{
    const char *role = role_of_task(m, rt);
    dr_resources rs;
    dr_resources_init(&rs);
    dr_err err;
    if (dr_resources_from_array(&rs, (const Mesos__Resource *const *)rt->resources,
                                rt->n_resources, &err) != DR_OK) {
        DR_WARN(m->env, "agent %s: task %s has invalid resources (%s): counted as none",
                agent->id, rt->task_id->value, err.msg);
        dr_resources_clear(&rs);
    }
    dr_resources_set_allocation_role(&rs, role);
    Mesos__TaskInfo ti = MESOS__TASK_INFO__INIT;
    ti.name = rt->name;
    ti.task_id = rt->task_id;
    ti.n_resources = rt->n_resources;
    ti.resources = rt->resources;
    ti.labels = rt->labels;
    ti.discovery = rt->discovery;
    ti.container = rt->container;
    Mesos__ExecutorInfo ex = MESOS__EXECUTOR_INFO__INIT;
    if (rt->executor_id != NULL) {
        ex.executor_id = rt->executor_id;
        ti.executor = &ex;
    }
    dr_mtask *t = dr__task_add(m, fw, agent, &ti, &rs, role, rt->state);
    if (rt->n_statuses > 0)
        dr__task_update_latest(m, t, rt->state, rt->statuses[rt->n_statuses - 1], false);
    dr_resources_deinit(&rs);
}

typedef struct use_acc {
    char *key; /* "<framework> <role>" */
    const char *framework_id;
    const char *role;
    dr_resources rs;
} use_acc;

static void agent_register(dr_master *m, const dr_http_request *req, dr_http_response *res,
                           const Dromos__Internal__AgentCall *call)
{
    const Dromos__Internal__AgentCall__Register *reg = call->register_;
    const Mesos__AgentInfo *info = reg->agent_info;
    dr_resources total;
    dr_resources_init(&total);
    dr_err err;
    if (info->hostname == NULL || info->hostname[0] == '\0') {
        dr_http_response_error(res, 400, "REGISTER: 'agent_info.hostname' must not be empty");
        return;
    }
    if (dr_resources_from_array(&total, (const Mesos__Resource *const *)info->resources,
                                info->n_resources, &err) != DR_OK) {
        dr_http_response_error(res, 400, "REGISTER: agent resources: %s", err.msg);
        return;
    }
    for (size_t i = 0; i < reg->n_tasks; i++) {
        const Mesos__Task *t = reg->tasks[i];
        if (t->framework_id == NULL ||
            dr__validate_id("Framework ID", t->framework_id->value, &err) != DR_OK ||
            dr__validate_id("Task ID", t->task_id->value, &err) != DR_OK) {
            dr_resources_deinit(&total);
            dr_http_response_error(res, 400, "REGISTER: task %zu: %s", i,
                                   t->framework_id == NULL ? "no framework id" : err.msg);
            return;
        }
    }
    for (size_t i = 0; i < reg->n_frameworks; i++) {
        const Mesos__FrameworkInfo *fi = reg->frameworks[i];
        if (fi->id != NULL && dr__validate_id("Framework ID", fi->id->value, &err) != DR_OK) {
            dr_resources_deinit(&total);
            dr_http_response_error(res, 400, "REGISTER: framework %zu: %s", i, err.msg);
            return;
        }
    }
    for (size_t i = 0; i < reg->n_executors; i++) {
        const Mesos__ExecutorInfo *e = reg->executors[i];
        if (dr__validate_id("Executor ID", e->executor_id->value, &err) != DR_OK) {
            dr_resources_deinit(&total);
            dr_http_response_error(res, 400, "REGISTER: executor %zu: %s", i, err.msg);
            return;
        }
    }
    const char *want_id = info->id != NULL ? info->id->value
                          : call->agent_id != NULL ? call->agent_id->value
                                                   : NULL;
    if (want_id != NULL && dr__validate_id("Agent ID", want_id, &err) != DR_OK) {
        dr_resources_deinit(&total);
        dr_http_response_error(res, 400, "REGISTER: %s", err.msg);
        return;
    }
    dr_http_response_stream_start(res, 200, DR_HTTP_MEDIA_PROTOBUF);
    if (want_id != NULL && dr_idmap_get(&m->gone_agents, want_id) != NULL) {
        /* A removed agent may not come back under its old id. */
        Dromos__Internal__AgentEvent__Shutdown sd = DROMOS__INTERNAL__AGENT_EVENT__SHUTDOWN__INIT;
        sd.message = "Agent has been removed (gone): register as a new agent";
        Dromos__Internal__AgentEvent ev = DROMOS__INTERNAL__AGENT_EVENT__INIT;
        ev.type = DROMOS__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN;
        ev.shutdown = &sd;
        dr_buf buf;
        dr_buf_init(&buf);
        if (dr_proto_encode(&ev.base, &buf, &err) == DR_OK) {
            /* Best effort: the stream ends right after either way. */
            dr_code wrc = dr_http_response_stream_record(res, buf.data, buf.size, &err);
            DR_UNUSED(wrc);
        }
        dr_buf_deinit(&buf);
        dr_http_response_stream_end(res);
        dr_resources_deinit(&total);
        return;
    }

    dr_magent *agent = want_id != NULL ? dr__master_agent(m, want_id) : NULL;
    bool is_new = agent == NULL;
    if (agent == NULL) {
        agent = dr_alloc(sizeof *agent);
        agent->master = m;
        agent->id = want_id != NULL ? dr_strdup(want_id)
                                    : dr_sprintf("%s-S%llu", m->id,
                                                 (unsigned long long)m->next_agent_index++);
        dr_idmap_init(&agent->tasks);
        dr_idmap_init(&agent->executors);
        dr_idmap_init(&agent->offers);
        dr_resources_init(&agent->total_resources);
        dr_resources_init(&agent->used_resources);
        dr_resources_init(&agent->offered_resources);
        agent->registered_wall_ns = dr_env_wall(m->env);
        dr_idmap_put(&m->agents, agent->id, agent);
        if (want_id != NULL)
            m->counters.agents_reregistered++;
        else
            m->counters.agents_registered++;
    } else {
        stream_end(m, agent);
        allocator_remove(m, agent);
        agent->reregistered_wall_ns = dr_env_wall(m->env);
        m->counters.agents_reregistered++;
    }
    DR_INFO(m->env, "agent %s (%s) %s", agent->id, info->hostname,
            is_new && want_id == NULL ? "registered" : "re-registered");

    /* Its facts. */
    Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
    aid.value = agent->id;
    Mesos__AgentInfo copy = *info;
    copy.id = &aid;
    dr_proto_free((ProtobufCMessage *)agent->info);
    agent->info = dr__master_pb_clone(&copy);
    dr_free(agent->hostname);
    agent->hostname = dr_strdup(info->hostname);
    agent->port = (uint16_t)(info->has_port ? info->port : 5051);
    dr_free(agent->version);
    agent->version = dr_strdup(reg->version != NULL ? reg->version : "");
    dr_free(agent->boot_id);
    agent->boot_id = dr_strdup(reg->boot_id != NULL ? reg->boot_id : "");
    capabilities_clear(agent);
    if (reg->n_capabilities > 0) {
        agent->capabilities = dr_alloc_array(reg->n_capabilities, sizeof *agent->capabilities);
        size_t k = 0;
        for (size_t i = 0; i < reg->n_capabilities; i++)
            if (reg->capabilities[i]->has_type)
                agent->capabilities[k++] = reg->capabilities[i]->type;
        agent->capability_count = k;
    }
    char peer_host[256];
    dr_strlcpy(peer_host, req->peer != NULL ? req->peer : info->hostname, sizeof peer_host);
    char *colon = strrchr(peer_host, ':');
    if (colon != NULL)
        *colon = '\0';
    snprintf(agent->pid, sizeof agent->pid, "slave(1)@%s:%u", peer_host, (unsigned)agent->port);
    dr_resources_move(&agent->total_resources, &total);
    dr_resources_deinit(&total);

    /* Reconciliation: frameworks, executors, then tasks. */
    /* Frameworks already removed here are shut down on the agent (after
     * REGISTERED); the others are recovered if unknown. */
    const char **dead = dr_alloc_array(reg->n_frameworks + 1, sizeof *dead);
    size_t dead_count = 0;
    for (size_t i = 0; i < reg->n_frameworks; i++) {
        const Mesos__FrameworkInfo *fi = reg->frameworks[i];
        if (fi->id == NULL)
            continue;
        if (dr__framework_completed(m, fi->id->value))
            dead[dead_count++] = fi->id->value;
        else
            dr__framework_recover(m, fi);
    }
    executors_clear(agent);
    for (size_t i = 0; i < reg->n_executors; i++) {
        const Mesos__ExecutorInfo *e = reg->executors[i];
        if (e->framework_id != NULL && dr__master_framework(m, e->framework_id->value) != NULL)
            dr__agent_add_executor(agent, e->framework_id->value, e);
    }
    dr_idmap reported;
    dr_idmap_init(&reported);
    char **keys = dr_alloc_array(reg->n_tasks + 1, sizeof *keys);
    for (size_t i = 0; i < reg->n_tasks; i++) {
        keys[i] = dr_sprintf("%s %s", reg->tasks[i]->framework_id->value,
                             reg->tasks[i]->task_id->value);
        if (dr_idmap_get(&reported, keys[i]) == NULL)
            dr_idmap_put(&reported, keys[i], reg->tasks[i]);
    }
    /* Tasks the master expected there but the agent does not have. */
    size_t n;
    dr_mtask **known = tasks_snapshot(agent, &n);
    for (size_t i = 0; i < n; i++) {
        dr_mtask *t = known[i];
        if (dr_idmap_get(&reported, t->agent_key) != NULL)
            continue;
        dr_mframework *fw = dr__master_framework(m, t->framework_id);
        DR_ASSERT(fw != NULL);
        if (!dr__task_state_terminal(t->state) || t->unreachable)
            dr__task_generated(m, t,
                               fw->partition_aware ? MESOS__TASK_STATE__TASK_DROPPED
                                                   : MESOS__TASK_STATE__TASK_LOST,
                               MESOS__TASK_STATUS__REASON__REASON_RECONCILIATION,
                               "Task is not known to the agent that re-registered");
        dr__task_remove(m, t);
    }
    dr_free(known);
    /* Tasks the agent has: its view wins. */
    for (size_t i = 0; i < reported.count; i++) {
        const Mesos__Task *rt = reported.items[i].value;
        dr_mframework *fw = dr__master_framework(m, rt->framework_id->value);
        if (fw == NULL) {
            DR_WARN(m->env, "agent %s: task %s of unknown framework %s ignored", agent->id,
                    rt->task_id->value, rt->framework_id->value);
            continue;
        }
        dr_mtask *t = dr_idmap_get(&fw->tasks, rt->task_id->value);
        if (t != NULL && strcmp(t->agent_id, agent->id) != 0) {
            DR_WARN(m->env, "agent %s: task %s of framework %s is known on agent %s: ignored",
                    agent->id, t->id, fw->id, t->agent_id);
            continue;
        }
        if (t == NULL) {
            task_adopt(m, fw, agent, rt);
            continue;
        }
        bool was_unreachable = t->unreachable;
        t->unreachable = false;
        if (was_unreachable && !dr__task_state_terminal(rt->state))
            dr__task_hold(m, t);
        Mesos__TaskStatus synth = MESOS__TASK_STATUS__INIT;
        const Mesos__TaskStatus *st = rt->n_statuses > 0 ? rt->statuses[rt->n_statuses - 1] : NULL;
        if (st == NULL) {
            synth.task_id = rt->task_id;
            synth.state = rt->state;
            st = &synth;
        }
        if (was_unreachable)
            t->state = rt->state; /* resources were accounted just above */
        dr__task_update_latest(m, t, rt->state, st, false);
    }
    for (size_t i = 0; i < reg->n_tasks; i++)
        dr_free(keys[i]);
    dr_free(keys);
    dr_idmap_deinit(&reported);

    /* The allocator learns the agent with what its live tasks use. */
    dr_idmap uses;
    dr_idmap_init(&uses);
    for (size_t i = 0; i < agent->tasks.count; i++) {
        dr_mtask *t = agent->tasks.items[i].value;
        if (dr__task_state_terminal(t->state) || t->unreachable)
            continue;
        char *key = dr_sprintf("%s %s", t->framework_id, t->role);
        use_acc *u = dr_idmap_get(&uses, key);
        if (u == NULL) {
            u = dr_alloc(sizeof *u);
            u->key = key;
            u->framework_id = t->framework_id;
            u->role = t->role;
            dr_resources_init(&u->rs);
            dr_idmap_put(&uses, u->key, u);
        } else {
            dr_free(key);
        }
        dr_resources_add(&u->rs, &t->resources);
    }
    dr_alloc_use *arr = dr_alloc_array(uses.count + 1, sizeof *arr);
    for (size_t i = 0; i < uses.count; i++) {
        use_acc *u = uses.items[i].value;
        arr[i].framework_id = u->framework_id;
        arr[i].role = u->role;
        arr[i].resources = (const Mesos__Resource *const *)u->rs.items;
        arr[i].resource_count = u->rs.count;
    }
    dr_code rc = dr_allocator_add_agent(m->allocator, agent->id,
                                        (const Mesos__Resource *const *)agent->total_resources.items,
                                        agent->total_resources.count, arr, uses.count, &err);
    if (rc != DR_OK)
        DR_ERROR(m->env, "agent %s: allocator refused it: %s", agent->id, err.msg);
    agent->in_allocator = rc == DR_OK;
    for (size_t i = 0; i < uses.count; i++) {
        use_acc *u = uses.items[i].value;
        dr_resources_deinit(&u->rs);
        dr_free(u->key);
        dr_free(u);
    }
    dr_free(arr);
    dr_idmap_deinit(&uses);

    /* The session. */
    agent->state = DR_MAGENT_CONNECTED;
    agent->unreachable_wall_ns = 0;
    agent->missed_ping_count = 0;
    agent->pong_sequence = agent->ping_sequence;
    dr__master_new_id(m, agent->session_id);
    agent->stream = res;
    dr_http_response_on_gone(res, agent_stream_gone, m);
    Dromos__Internal__AgentEvent__Registered r = DROMOS__INTERNAL__AGENT_EVENT__REGISTERED__INIT;
    r.agent_id = &aid;
    r.session_id = agent->session_id;
    r.ping_interval_seconds = (double)m->opts.agent_ping_timeout_ns / (double)DR_NS_PER_S;
    r.master_info = m->info;
    Dromos__Internal__AgentEvent ev = DROMOS__INTERNAL__AGENT_EVENT__INIT;
    ev.type = DROMOS__INTERNAL__AGENT_EVENT__TYPE__REGISTERED;
    ev.registered = &r;
    dr__agent_send(m, agent, &ev);
    for (size_t i = 0; i < dead_count; i++) {
        Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
        fid.value = (char *)dead[i];
        Dromos__Internal__AgentEvent__ShutdownFramework sf =
            DROMOS__INTERNAL__AGENT_EVENT__SHUTDOWN_FRAMEWORK__INIT;
        sf.framework_id = &fid;
        Dromos__Internal__AgentEvent sev = DROMOS__INTERNAL__AGENT_EVENT__INIT;
        sev.type = DROMOS__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN_FRAMEWORK;
        sev.shutdown_framework = &sf;
        dr__agent_send(m, agent, &sev);
    }
    dr_free(dead);
    if (agent->ping_timer == 0)
        agent->ping_timer =
            dr_env_timer_add(m->env, m->opts.agent_ping_timeout_ns, ping_fire, agent);
    if (is_new)
        dr__master_emit(m, DR_MASTER_EV_AGENT_ADDED, agent);
    dr__allocate_soon(m);
}

/* ---- the endpoint --------------------------------------------------------------------------- */

static void agent_handle(dr_env *env, const dr_http_request *req, dr_http_response *res,
                         void *ctx)
{
    DR_UNUSED(env);
    dr_master *m = ctx;
    dr_http_negotiation n;
    dr_http_negotiate_request(req->method, &req->headers, false, &n);
    if (n.status != 0) {
        m->counters.agent_calls_invalid++;
        dr_http_negotiation_reject(&n, res);
        return;
    }
    if (n.request_codec != DR_HTTP_CODEC_PROTOBUF) {
        m->counters.agent_calls_invalid++;
        dr_http_response_error(res, 415, "/internal/agent takes application/x-protobuf only");
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
    dr_code rc = dr_proto_decode(&dromos__internal__agent_call__descriptor, req->body,
                                 req->body_size, &arena, &msg, &err);
    /* Only REGISTER carries Resources (agent, executors, tasks); the other
     * calls' parts hold none, so they are not walked. */
    if (rc == DR_OK && ((const Dromos__Internal__AgentCall *)msg)->type ==
                           DROMOS__INTERNAL__AGENT_CALL__TYPE__REGISTER)
        rc = dr_proto_upgrade_resources(msg, &arena, &err);
    if (rc != DR_OK) {
        m->counters.agent_calls_invalid++;
        dr_http_response_error(res, rc == DR_ETOOBIG ? 413 : 400,
                               "Failed to parse body into AgentCall: %s", err.msg);
        goto out;
    }
    const Dromos__Internal__AgentCall *call = (const Dromos__Internal__AgentCall *)msg;
    if ((unsigned)call->type < DR_ARRAY_COUNT(m->counters.agent_calls))
        m->counters.agent_calls[call->type]++;
    if (call->type == DROMOS__INTERNAL__AGENT_CALL__TYPE__REGISTER) {
        if (call->register_ == NULL) {
            m->counters.agent_calls_invalid++;
            dr_http_response_error(res, 400, "Expecting 'register' to be present");
            goto out;
        }
        agent_register(m, req, res, call);
        goto out;
    }
    if (call->type == DROMOS__INTERNAL__AGENT_CALL__TYPE__UNKNOWN ||
        call->type > DROMOS__INTERNAL__AGENT_CALL__TYPE__UNREGISTER) {
        m->counters.agent_calls_invalid++;
        dr_http_response_error(res, 400, "Unknown AgentCall type %d", (int)call->type);
        goto out;
    }
    if (call->agent_id == NULL || call->session_id == NULL) {
        m->counters.agent_calls_invalid++;
        dr_http_response_error(res, 400, "Expecting 'agent_id' and 'session_id' to be present");
        goto out;
    }
    const char *agent_id = call->agent_id->value;
    if (dr_idmap_get(&m->gone_agents, agent_id) != NULL) {
        dr_http_response_error(res, 403, "Agent %s has been removed", agent_id);
        goto out;
    }
    dr_magent *agent = dr__master_agent(m, agent_id);
    if (agent == NULL || agent->stream == NULL ||
        strcmp(agent->session_id, call->session_id) != 0) {
        dr_http_response_error(res, 409,
                               "Session '%s' of agent %s is not current: register again",
                               call->session_id, agent_id);
        goto out;
    }
    switch (call->type) {
    case DROMOS__INTERNAL__AGENT_CALL__TYPE__STATUS_UPDATE:
        /* One update, a batch, or both (internal.proto): all are checked
         * before any is applied, then applied in order. */
        if (call->status_update == NULL && call->n_status_updates == 0) {
            dr_http_response_error(res, 400,
                                   "Expecting 'status_update' or 'status_updates' to be present");
            goto out;
        }
        for (size_t i = 0; i <= call->n_status_updates; i++) {
            const Dromos__Internal__AgentCall__StatusUpdate *up =
                i == 0 ? call->status_update : call->status_updates[i - 1];
            if (up != NULL && up->status->has_uuid && up->status->uuid.len != 16) {
                m->counters.invalid_status_updates++;
                dr_http_response_error(res, 400, "STATUS_UPDATE: 'status.uuid' must be 16 bytes");
                goto out;
            }
        }
        if (call->status_update != NULL)
            dr__agent_status_update(m, agent, call->status_update);
        for (size_t i = 0; i < call->n_status_updates; i++)
            dr__agent_status_update(m, agent, call->status_updates[i]);
        break;
    case DROMOS__INTERNAL__AGENT_CALL__TYPE__PONG:
        if (call->pong == NULL) {
            dr_http_response_error(res, 400, "Expecting 'pong' to be present");
            goto out;
        }
        if (call->pong->sequence == agent->ping_sequence) {
            agent->pong_sequence = agent->ping_sequence;
            agent->missed_ping_count = 0;
        }
        break;
    case DROMOS__INTERNAL__AGENT_CALL__TYPE__FRAMEWORK_MESSAGE: {
        const Dromos__Internal__AgentCall__FrameworkMessage *fm = call->framework_message;
        if (fm == NULL) {
            dr_http_response_error(res, 400, "Expecting 'framework_message' to be present");
            goto out;
        }
        dr_mframework *fw = dr__master_framework(m, fm->framework_id->value);
        if (fw == NULL) {
            m->counters.dropped_messages++;
            break;
        }
        Mesos__Scheduler__Event__Message em = MESOS__SCHEDULER__EVENT__MESSAGE__INIT;
        em.agent_id = call->agent_id;
        em.executor_id = fm->executor_id;
        em.data = fm->data;
        Mesos__Scheduler__Event ev = MESOS__SCHEDULER__EVENT__INIT;
        ev.has_type = true;
        ev.type = MESOS__SCHEDULER__EVENT__TYPE__MESSAGE;
        ev.message = &em;
        dr__scheduler_send(m, fw, &ev);
        m->counters.executor_to_framework_messages++;
        break;
    }
    case DROMOS__INTERNAL__AGENT_CALL__TYPE__UNREGISTER:
        agent_remove(m, agent, MESOS__TASK_STATE__TASK_GONE,
                     MESOS__TASK_STATUS__REASON__REASON_AGENT_REMOVED, "Agent unregistered");
        break;
    default:
        DR_UNREACHABLE();
    }
    dr_http_response_send(res, 202, NULL, "", 0);
out:
    dr_arena_deinit(&arena);
}

dr_code dr__agents_route(dr_master *m, dr_err *err)
{
    return dr_http_server_route(m->server, "/internal/agent", false, agent_handle, m, err);
}
