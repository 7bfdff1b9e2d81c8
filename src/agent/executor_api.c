/* src/agent/executor_api.c — the agent's executor API, POST /api/v1/executor
 * (Mesos v1): SUBSCRIBE (a RecordIO event stream answered 200 with the
 * codec's Content-Type; on re-subscription the executor's unacknowledged
 * tasks and updates are taken back), UPDATE, MESSAGE, HEARTBEAT (202).
 * Events: SUBSCRIBED, LAUNCH, LAUNCH_GROUP, KILL, ACKNOWLEDGED, MESSAGE,
 * SHUTDOWN, ERROR, HEARTBEAT.
 */
#include "agent_int.h"

#include <string.h>

#include "src/proto/json.h"

#define EXECUTOR_HEARTBEAT_NS (30 * 60 * DR_NS_PER_S) /* Mesos's default */

static void stream_gone(dr_env *env, dr_http_response *res, void *ctx)
{
    (void)env;
    dr__agent_executor *ex = ctx;
    if (ex->stream != res)
        return;
    dr_http_response_stream_end(res);
    ex->stream = NULL;
    DR_INFO(ex->agent->env, "agent: executor '%s' of framework '%s' disconnected", ex->id,
            ex->fw->id);
}

void dr__agent_executor_close_stream(dr_agent *a, dr__agent_executor *ex)
{
    (void)a;
    if (ex->stream == NULL)
        return;
    dr_http_response *res = ex->stream;
    ex->stream = NULL;
    dr_http_response_stream_end(res);
}

void dr__agent_executor_send(dr_agent *a, dr__agent_executor *ex, const Mesos__Executor__Event *ev)
{
    if (ex->stream == NULL)
        return;
    dr_buf buf;
    dr_buf_init(&buf);
    dr_err err;
    dr_code rc = ex->codec == DR_HTTP_CODEC_JSON ? dr_json_encode(&ev->base, &buf, &err)
                                                 : dr_proto_encode(&ev->base, &buf, &err);
    if (rc == DR_OK)
        rc = dr_http_response_stream_record(ex->stream, buf.data, buf.size, &err);
    dr_buf_deinit(&buf);
    if (rc != DR_OK) {
        DR_WARN(a->env, "agent: event to executor '%s': %s", ex->id, err.msg);
        dr__agent_executor_close_stream(a, ex);
    }
}

static void send_acknowledged(dr_agent *a, dr__agent_executor *ex, const Mesos__TaskStatus *st)
{
    Mesos__Executor__Event ev = MESOS__EXECUTOR__EVENT__INIT;
    Mesos__Executor__Event__Acknowledged ack = MESOS__EXECUTOR__EVENT__ACKNOWLEDGED__INIT;
    ev.has_type = true;
    ev.type = MESOS__EXECUTOR__EVENT__TYPE__ACKNOWLEDGED;
    ack.task_id = st->task_id;
    ack.uuid = st->uuid;
    ev.acknowledged = &ack;
    dr__agent_executor_send(a, ex, &ev);
}

static const char *state_name(Mesos__TaskState s)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&mesos__task_state__descriptor, (int)s);
    return v != NULL ? v->name : "TASK_UNKNOWN";
}

/* Takes one UPDATE. Returns an HTTP status (202 or an error with text). */
static int take_update(dr_agent *a, dr__agent_executor *ex, const Mesos__TaskStatus *in, char *why,
                       size_t why_size)
{
    if (!in->has_uuid || in->uuid.len == 0) {
        snprintf(why, why_size, "status update for task '%s' has no uuid", in->task_id->value);
        return 400;
    }
    if (in->state == MESOS__TASK_STATE__TASK_STAGING) {
        snprintf(why, why_size, "executors may not send TASK_STAGING (task '%s')",
                 in->task_id->value);
        return 400;
    }
    dr__agent_task *t = dr__agent_task_find(ex->fw, in->task_id->value);
    if (t == NULL || t->ex != ex) {
        snprintf(why, why_size, "task '%s' is not a task of executor '%s'", in->task_id->value,
                 ex->id);
        return 400;
    }
    Mesos__TaskStatus *st = dr__agent_clone(in);
    st->has_source = true;
    st->source = MESOS__TASK_STATUS__SOURCE__SOURCE_EXECUTOR;
    if (st->executor_id == NULL)
        st->executor_id = dr__agent_clone(ex->info->executor_id);
    if (st->agent_id == NULL && a->agent_id[0] != '\0') {
        st->agent_id = dr_alloc(sizeof *st->agent_id);
        mesos__agent_id__init(st->agent_id);
        st->agent_id->value = dr_strdup(a->agent_id);
    }
    if (!st->has_timestamp) {
        st->has_timestamp = true;
        st->timestamp = (double)dr_env_wall(a->env) / 1e9;
    }
    bool dup = false;
    dr_err err;
    dr_code rc = dr__agent_sum_take(a, t, st, true, &dup, &err);
    if (rc != DR_OK && rc != DR_EINVAL && rc != DR_ETOOBIG) {
        /* The checkpoint failed (a full disk, an I/O error). Refusing would
         * only stall the task: the executor would resend into the same full
         * disk until it gives up, and its task would end as "executor
         * terminated" instead of with its own state and message. So the
         * update is taken in memory only, forwarded and acknowledged, as the
         * agent's own updates are; were the agent to restart before the
         * framework acknowledges it, the task's fate would be left to
         * reconciliation. Recovery reads the stream without it (an
         * acknowledgement recorded for it later is stale, hence skipped). */
        DR_WARN(a->env,
                "agent: executor '%s' of framework '%s': %s update of task '%s' taken without "
                "a checkpoint (lost if the agent restarts before it is acknowledged): %s",
                ex->id, ex->fw->id, state_name(st->state), t->id, err.msg);
        rc = dr__agent_sum_take(a, t, st, false, &dup, &err);
    }
    int status = 202;
    if (rc == DR_EINVAL || rc == DR_ETOOBIG) {
        snprintf(why, why_size, "%s", err.msg);
        status = rc == DR_ETOOBIG ? 503 : 400;
        a->counters.updates_invalid++;
    } else if (rc != DR_OK) {
        snprintf(why, why_size, "the agent could not take the update: %s", err.msg);
        status = 503;
    } else {
        a->counters.updates_valid++;
        send_acknowledged(a, ex, st); /* also for duplicates: the executor missed the first */
    }
    dr_proto_free(&st->base);
    return status;
}

static void subscribe(dr_agent *a, dr__agent_executor *ex, const Mesos__Executor__Call__Subscribe *sub,
                      const dr_http_negotiation *n, dr_http_response *res)
{
    if (ex->stream != NULL)
        dr__agent_executor_close_stream(a, ex); /* a newer connection wins */
    dr_http_negotiation_stream_start(n, res, 200);
    ex->stream = res;
    ex->codec = n->response_codec;
    dr_http_response_on_gone(res, stream_gone, ex);
    if (ex->reg_timer != 0)
        dr_env_timer_cancel(a->env, ex->reg_timer);
    ex->reg_timer = 0;
    bool was_recovered = ex->recovered;
    ex->recovered = false;
    if (ex->state == DR__EX_LAUNCHED)
        ex->state = DR__EX_RUNNING;
    DR_INFO(a->env, "agent: executor '%s' of framework '%s' subscribed%s", ex->id, ex->fw->id,
            was_recovered ? " (recovered)" : "");

    /* tasks the executor has that the agent lost track of (checkpoint cut short) */
    for (size_t i = 0; sub != NULL && i < sub->n_unacknowledged_tasks; i++) {
        const Mesos__TaskInfo *ti = sub->unacknowledged_tasks[i];
        if (ti->task_id == NULL || !dr__agent_id_valid(ti->task_id->value) ||
            dr__agent_task_find(ex->fw, ti->task_id->value) != NULL)
            continue;
        dr__agent_task *t = dr__agent_task_new(ex, ti);
        t->launched = true;
        dr_err err;
        if (ex->fw->checkpoint && dr__agent_ckpt_task(a, t, &err) != DR_OK)
            DR_WARN(a->env, "agent: %s", err.msg);
    }
    /* A recovered task still STAGING that the executor does not list was
     * sent (or about to be sent) when the agent died: the executor never got
     * it and never will. As Mesos: TASK_DROPPED for a partition-aware
     * framework, else TASK_LOST, "Task launched during agent restart". */
    for (dr__agent_task *t = ex->tasks, *next; was_recovered && t != NULL; t = next) {
        next = t->next;
        if (t->state != MESOS__TASK_STATE__TASK_STAGING || !t->launched)
            continue;
        bool listed = false;
        for (size_t i = 0; sub != NULL && i < sub->n_unacknowledged_tasks && !listed; i++) {
            const Mesos__TaskInfo *ti = sub->unacknowledged_tasks[i];
            listed = ti->task_id != NULL && strcmp(ti->task_id->value, t->id) == 0;
        }
        if (listed)
            continue;
        bool partition_aware = false;
        for (size_t i = 0; i < ex->fw->info->n_capabilities; i++)
            partition_aware |= ex->fw->info->capabilities[i]->has_type &&
                               ex->fw->info->capabilities[i]->type ==
                                   MESOS__FRAMEWORK_INFO__CAPABILITY__TYPE__PARTITION_AWARE;
        DR_INFO(a->env, "agent: task '%s' of executor '%s' is unknown to its executor: %s",
                t->id, ex->id, partition_aware ? "TASK_DROPPED" : "TASK_LOST");
        dr__agent_task_fail(a, t,
                            partition_aware ? MESOS__TASK_STATE__TASK_DROPPED
                                            : MESOS__TASK_STATE__TASK_LOST,
                            MESOS__TASK_STATUS__REASON__REASON_AGENT_RESTARTED,
                            "Task launched during agent restart");
    }
    Mesos__Executor__Event ev = MESOS__EXECUTOR__EVENT__INIT;
    Mesos__Executor__Event__Subscribed s = MESOS__EXECUTOR__EVENT__SUBSCRIBED__INIT;
    Mesos__ContainerID cid = MESOS__CONTAINER_ID__INIT;
    cid.value = ex->container_id;
    ev.has_type = true;
    ev.type = MESOS__EXECUTOR__EVENT__TYPE__SUBSCRIBED;
    s.executor_info = ex->info;
    s.framework_info = ex->fw->info;
    s.agent_info = a->info;
    s.container_id = &cid;
    ev.subscribed = &s;
    dr__agent_executor_send(a, ex, &ev);
    if (ex->stream == NULL)
        return;
    /* updates it sent that were never acknowledged: duplicates are dropped */
    for (size_t i = 0; sub != NULL && i < sub->n_unacknowledged_updates; i++) {
        const Mesos__Executor__Call__Update *u = sub->unacknowledged_updates[i];
        char why[256];
        if (u->status != NULL && take_update(a, ex, u->status, why, sizeof why) != 202)
            DR_INFO(a->env, "agent: executor '%s': unacknowledged update: %s", ex->id, why);
    }
    if (ex->state == DR__EX_RUNNING)
        dr__agent_executor_flush(a, ex);
    if (ex->state == DR__EX_TERMINATING) {
        /* shut down before it was connected (as Mesos answers one that
         * subscribes while terminating): it still gets SHUTDOWN, within the
         * grace period that already runs */
        Mesos__Executor__Event sd = MESOS__EXECUTOR__EVENT__INIT;
        sd.has_type = true;
        sd.type = MESOS__EXECUTOR__EVENT__TYPE__SHUTDOWN;
        dr__agent_executor_send(a, ex, &sd);
    }
    dr__agent_recovery_check(a);
}

static void handle(dr_env *env, const dr_http_request *req, dr_http_response *res, void *ctx)
{
    (void)env;
    dr_agent *a = ctx;
    dr_http_negotiation n;
    dr_http_negotiate_request(req->method, &req->headers, false, &n);
    if (n.status != 0) {
        dr_http_negotiation_reject(&n, res);
        return;
    }
    dr_arena arena;
    dr_arena_init(&arena);
    ProtobufCMessage *msg = NULL;
    dr_err err;
    dr_code rc = n.request_codec == DR_HTTP_CODEC_JSON
                     ? dr_json_decode(&mesos__executor__call__descriptor, (const char *)req->body,
                                      req->body_size, &arena, &msg, &err)
                     : dr_proto_decode(&mesos__executor__call__descriptor, req->body,
                                       req->body_size, &arena, &msg, &err);
    if (rc != DR_OK) {
        dr_http_response_error(res, 400, "Failed to parse body into Call: %s", err.msg);
        dr_arena_deinit(&arena);
        return;
    }
    const Mesos__Executor__Call *call = (const Mesos__Executor__Call *)msg;
    if (!call->has_type || call->type == MESOS__EXECUTOR__CALL__TYPE__UNKNOWN) {
        dr_http_response_error(res, 400, "Expecting 'type' to be present");
        goto out;
    }
    dr__agent_framework *fw = dr__agent_framework_find(a, call->framework_id->value);
    dr__agent_executor *ex = fw != NULL ? dr__agent_executor_find(fw, call->executor_id->value) : NULL;
    if (fw == NULL) {
        dr_http_response_error(res, 400, "Framework '%s' cannot be found",
                               call->framework_id->value);
        goto out;
    }
    if (ex == NULL) {
        dr_http_response_error(res, 400, "Executor '%s' cannot be found",
                               call->executor_id->value);
        goto out;
    }
    if (ex->state == DR__EX_TERMINATED) {
        dr_http_response_error(res, 400, "Executor '%s' is terminated", ex->id);
        goto out;
    }
    switch (call->type) {
    case MESOS__EXECUTOR__CALL__TYPE__SUBSCRIBE:
        dr_http_negotiate_response(&req->headers, DR_HTTP_STREAM_CODEC, &n);
        if (n.status != 0) {
            dr_http_negotiation_reject(&n, res);
            break;
        }
        if (ex->state == DR__EX_FETCHING) {
            dr_http_response_error(res, 400, "Executor '%s' is not launched yet", ex->id);
            break;
        }
        subscribe(a, ex, call->subscribe, &n, res);
        break;
    case MESOS__EXECUTOR__CALL__TYPE__UPDATE: {
        if (call->update == NULL) {
            dr_http_response_error(res, 400, "Expecting 'update' to be present");
            break;
        }
        char why[300];
        int status = take_update(a, ex, call->update->status, why, sizeof why);
        if (status == 202)
            dr_http_response_send(res, 202, NULL, "", 0);
        else
            dr_http_response_error(res, status, "%s", why);
        break;
    }
    case MESOS__EXECUTOR__CALL__TYPE__MESSAGE: {
        if (call->message == NULL) {
            dr_http_response_error(res, 400, "Expecting 'message' to be present");
            break;
        }
        Dromos__Internal__AgentCall out = DROMOS__INTERNAL__AGENT_CALL__INIT;
        Dromos__Internal__AgentCall__FrameworkMessage fm =
            DROMOS__INTERNAL__AGENT_CALL__FRAMEWORK_MESSAGE__INIT;
        out.type = DROMOS__INTERNAL__AGENT_CALL__TYPE__FRAMEWORK_MESSAGE;
        fm.framework_id = call->framework_id;
        fm.executor_id = call->executor_id;
        fm.data = call->message->data;
        out.framework_message = &fm;
        dr__agent_call(a, &out);
        a->counters.messages_valid++;
        dr_http_response_send(res, 202, NULL, "", 0);
        break;
    }
    case MESOS__EXECUTOR__CALL__TYPE__HEARTBEAT:
        dr_http_response_send(res, 202, NULL, "", 0);
        break;
    default:
        dr_http_response_error(res, 501, "Call type %d is not implemented", (int)call->type);
        break;
    }
out:
    dr_arena_deinit(&arena);
}

static void heartbeat_fire(dr_env *env, void *ctx)
{
    dr_agent *a = ctx;
    Mesos__Executor__Event ev = MESOS__EXECUTOR__EVENT__INIT;
    ev.has_type = true;
    ev.type = MESOS__EXECUTOR__EVENT__TYPE__HEARTBEAT;
    for (dr__agent_framework *fw = a->frameworks; fw != NULL; fw = fw->next)
        for (dr__agent_executor *ex = fw->executors; ex != NULL; ex = ex->next)
            dr__agent_executor_send(a, ex, &ev);
    a->heartbeat_timer = dr_env_timer_add(env, EXECUTOR_HEARTBEAT_NS, heartbeat_fire, a);
}

dr_code dr__agent_executor_api_route(dr_agent *a, dr_err *err)
{
    a->heartbeat_timer = dr_env_timer_add(a->env, EXECUTOR_HEARTBEAT_NS, heartbeat_fire, a);
    return dr_http_server_route(a->server, "/api/v1/executor", false, handle, a, err);
}
