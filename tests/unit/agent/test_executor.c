/* tests/unit/agent/test_executor.c — see test_executor.h. */
#include "test_executor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/http/client.h"
#include "src/http/negotiate.h"
#include "src/http/recordio.h"
#include "src/proto/proto.h"

#define TASK_MAX 16
#define UPDATE_MAX 64

typedef struct ttask {
    struct texec *x;
    Mesos__TaskInfo *info; /* malloc'd */
    Mesos__TaskState state;
    dr_timer_id timer;
} ttask;

struct texec {
    dr_env *env;
    char endpoint_host[256];
    uint16_t endpoint_port;
    char fw_id[256];
    char ex_id[256];
    dr_http_client *client;
    dr_http_call *stream;
    int stream_status;
    dr_recordio_decoder dec;
    dr_rng rng;
    ttask tasks[TASK_MAX];
    size_t task_count;
    Mesos__TaskStatus *unacked[UPDATE_MAX]; /* malloc'd */
    size_t unacked_count;
    dr_timer_id resub_timer;
    dr_timer_id retry_timer;
    unsigned update_refused_count;
    unsigned subscribe_count;
    unsigned ack_count;
};

static void subscribe(texec *x);

static void *clone_msg(const void *msg)
{
    const ProtobufCMessage *m = msg;
    dr_buf b;
    dr_buf_init(&b);
    dr_err err;
    if (dr_proto_encode(m, &b, &err) != DR_OK)
        abort();
    ProtobufCMessage *out = NULL;
    if (dr_proto_decode(m->descriptor, b.data, b.size, NULL, &out, &err) != DR_OK)
        abort();
    dr_buf_deinit(&b);
    return out;
}

static void post(texec *x, Mesos__Executor__Call *call, bool stream, const dr_http_call_cbs *cbs,
                 dr_http_call **out);
static const dr_http_call_cbs call_cbs;

/* An UPDATE the agent did not take (503: it could not checkpoint it) is
 * sent again, with every other unacknowledged one, half a second later. */
static void retry_fire(dr_env *env, void *ctx)
{
    (void)env;
    texec *x = ctx;
    x->retry_timer = 0;
    for (size_t i = 0; i < x->unacked_count; i++) {
        Mesos__Executor__Call call = MESOS__EXECUTOR__CALL__INIT;
        Mesos__Executor__Call__Update up = MESOS__EXECUTOR__CALL__UPDATE__INIT;
        call.has_type = true;
        call.type = MESOS__EXECUTOR__CALL__TYPE__UPDATE;
        up.status = x->unacked[i];
        call.update = &up;
        post(x, &call, false, &call_cbs, NULL);
    }
}

static void call_done(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                      const dr_err *err, void *ctx)
{
    (void)call, (void)err;
    texec *x = ctx;
    if ((resp == NULL || resp->status >= 500) && x->retry_timer == 0) {
        x->update_refused_count++;
        x->retry_timer = dr_env_timer_add(env, 500 * DR_NS_PER_MS, retry_fire, x);
    }
}

static const dr_http_call_cbs call_cbs = {.done = call_done};

static void post(texec *x, Mesos__Executor__Call *call, bool stream, const dr_http_call_cbs *cbs,
                 dr_http_call **out)
{
    Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
    Mesos__ExecutorID eid = MESOS__EXECUTOR_ID__INIT;
    fid.value = x->fw_id;
    eid.value = x->ex_id;
    call->framework_id = &fid;
    call->executor_id = &eid;
    dr_buf body;
    dr_buf_init(&body);
    dr_err err;
    if (dr_proto_encode(&call->base, &body, &err) != DR_OK)
        abort();
    const dr_http_header headers[] = {
        {(char *)"Content-Type", (char *)DR_HTTP_MEDIA_PROTOBUF},
        {(char *)"Accept", (char *)DR_HTTP_MEDIA_PROTOBUF},
    };
    dr_http_client_request req = {.method = "POST",
                                  .target = "/api/v1/executor",
                                  .headers = headers,
                                  .header_count = 2,
                                  .body = body.data,
                                  .body_size = body.size,
                                  .stream = stream};
    if (dr_http_client_send(x->client, &req, cbs, x, out, &err) != DR_OK)
        DR_WARN(x->env, "test executor: %s", err.msg);
    dr_buf_deinit(&body);
}

static void send_update(texec *x, ttask *t, Mesos__TaskState state)
{
    t->state = state;
    Mesos__TaskStatus *st = dr_alloc(sizeof *st);
    mesos__task_status__init(st);
    st->task_id = clone_msg(t->info->task_id);
    st->state = state;
    st->has_uuid = true;
    st->uuid.len = 16;
    st->uuid.data = dr_alloc(16);
    for (int i = 0; i < 16; i++)
        st->uuid.data[i] = (uint8_t)dr_rng_next(&x->rng);
    st->has_source = true;
    st->source = MESOS__TASK_STATUS__SOURCE__SOURCE_EXECUTOR;
    if (x->unacked_count < UPDATE_MAX)
        x->unacked[x->unacked_count++] = st;
    Mesos__Executor__Call call = MESOS__EXECUTOR__CALL__INIT;
    Mesos__Executor__Call__Update up = MESOS__EXECUTOR__CALL__UPDATE__INIT;
    call.has_type = true;
    call.type = MESOS__EXECUTOR__CALL__TYPE__UPDATE;
    up.status = st;
    call.update = &up;
    post(x, &call, false, &call_cbs, NULL);
}

static void end_fire(dr_env *env, void *ctx)
{
    (void)env;
    ttask *t = ctx;
    texec *x = t->x;
    t->timer = 0;
    if (t->state != MESOS__TASK_STATE__TASK_RUNNING)
        return;
    const char *cmd = t->info->command != NULL && t->info->command->value != NULL
                          ? t->info->command->value
                          : "";
    send_update(x, t,
                strcmp(cmd, "fail") == 0 ? MESOS__TASK_STATE__TASK_FAILED
                                         : MESOS__TASK_STATE__TASK_FINISHED);
}

static void launch(texec *x, const Mesos__TaskInfo *info)
{
    if (x->task_count == TASK_MAX)
        return;
    for (size_t i = 0; i < x->task_count; i++)
        if (strcmp(x->tasks[i].info->task_id->value, info->task_id->value) == 0)
            return;
    size_t index = x->task_count++;
    ttask *t = &x->tasks[index];
    t->x = x;
    t->info = clone_msg(info);
    send_update(x, t, MESOS__TASK_STATE__TASK_RUNNING);
    const char *cmd = info->command != NULL && info->command->value != NULL
                          ? info->command->value
                          : "";
    if (strncmp(cmd, "finish", 6) == 0 || strcmp(cmd, "fail") == 0) {
        uint64_t secs = cmd[0] == 'f' && cmd[1] == 'i' && cmd[6] != '\0'
                            ? strtoull(cmd + 6, NULL, 10) : 1;
        t->timer = dr_env_timer_add(x->env, secs * DR_NS_PER_S, end_fire, t);
    }
}

static void on_event(texec *x, const Mesos__Executor__Event *ev)
{
    switch (ev->type) {
    case MESOS__EXECUTOR__EVENT__TYPE__SUBSCRIBED:
        x->subscribe_count++;
        break;
    case MESOS__EXECUTOR__EVENT__TYPE__LAUNCH:
        launch(x, ev->launch->task);
        break;
    case MESOS__EXECUTOR__EVENT__TYPE__LAUNCH_GROUP:
        for (size_t i = 0; i < ev->launch_group->task_group->n_tasks; i++)
            launch(x, ev->launch_group->task_group->tasks[i]);
        break;
    case MESOS__EXECUTOR__EVENT__TYPE__KILL:
        for (size_t i = 0; i < x->task_count; i++)
            if (strcmp(x->tasks[i].info->task_id->value, ev->kill->task_id->value) == 0 &&
                x->tasks[i].state == MESOS__TASK_STATE__TASK_RUNNING)
                send_update(x, &x->tasks[i], MESOS__TASK_STATE__TASK_KILLED);
        break;
    case MESOS__EXECUTOR__EVENT__TYPE__SHUTDOWN:
        for (size_t i = 0; i < x->task_count; i++)
            if (x->tasks[i].state == MESOS__TASK_STATE__TASK_RUNNING)
                send_update(x, &x->tasks[i], MESOS__TASK_STATE__TASK_KILLED);
        break;
    case MESOS__EXECUTOR__EVENT__TYPE__ACKNOWLEDGED:
        for (size_t i = 0; i < x->unacked_count; i++) {
            Mesos__TaskStatus *st = x->unacked[i];
            if (st->uuid.len == ev->acknowledged->uuid.len &&
                memcmp(st->uuid.data, ev->acknowledged->uuid.data, st->uuid.len) == 0) {
                dr_proto_free(&st->base);
                memmove(&x->unacked[i], &x->unacked[i + 1],
                        (x->unacked_count - i - 1) * sizeof x->unacked[0]);
                x->unacked_count--;
                x->ack_count++;
                break;
            }
        }
        break;
    default:
        break;
    }
}

static bool on_record(const uint8_t *data, size_t size, void *ctx)
{
    texec *x = ctx;
    ProtobufCMessage *msg = NULL;
    dr_err err;
    if (dr_proto_decode(&mesos__executor__event__descriptor, data, size, NULL, &msg, &err) !=
        DR_OK)
        return false;
    on_event(x, (const Mesos__Executor__Event *)msg);
    dr_proto_free(msg);
    return true;
}

static void resub_fire(dr_env *env, void *ctx)
{
    (void)env;
    texec *x = ctx;
    x->resub_timer = 0;
    subscribe(x);
}

static void stream_lost(texec *x)
{
    x->stream = NULL;
    if (x->resub_timer == 0)
        x->resub_timer = dr_env_timer_add(x->env, 200 * DR_NS_PER_MS, resub_fire, x);
}

static void s_head(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                   void *ctx)
{
    (void)env, (void)call;
    texec *x = ctx;
    x->stream_status = resp->status;
}

static void s_chunk(dr_env *env, dr_http_call *call, const uint8_t *data, size_t size, void *ctx)
{
    (void)env, (void)call;
    texec *x = ctx;
    if (x->stream_status != 200)
        return;
    dr_err err;
    if (dr_recordio_decoder_feed(&x->dec, data, size, on_record, x, &err) != DR_OK)
        DR_DEBUG(x->env, "test executor: %s", err.msg); /* the stream ends soon */
}

static void s_done(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                   const dr_err *err, void *ctx)
{
    (void)env, (void)call, (void)resp, (void)err;
    stream_lost(ctx);
}

static const dr_http_call_cbs stream_cbs = {.head = s_head, .chunk = s_chunk, .done = s_done};

static void subscribe(texec *x)
{
    dr_recordio_decoder_deinit(&x->dec);
    dr_recordio_decoder_init(&x->dec, 0);
    x->stream_status = 0;
    Mesos__Executor__Call call = MESOS__EXECUTOR__CALL__INIT;
    Mesos__Executor__Call__Subscribe sub = MESOS__EXECUTOR__CALL__SUBSCRIBE__INIT;
    call.has_type = true;
    call.type = MESOS__EXECUTOR__CALL__TYPE__SUBSCRIBE;
    Mesos__TaskInfo *tasks[TASK_MAX];
    Mesos__Executor__Call__Update ups[UPDATE_MAX];
    Mesos__Executor__Call__Update *up_ptrs[UPDATE_MAX];
    for (size_t i = 0; i < x->task_count; i++)
        if (x->tasks[i].state == MESOS__TASK_STATE__TASK_RUNNING)
            tasks[sub.n_unacknowledged_tasks++] = x->tasks[i].info;
    for (size_t i = 0; i < x->unacked_count; i++) {
        mesos__executor__call__update__init(&ups[i]);
        ups[i].status = x->unacked[i];
        up_ptrs[i] = &ups[i];
    }
    sub.unacknowledged_tasks = tasks;
    sub.n_unacknowledged_updates = x->unacked_count;
    sub.unacknowledged_updates = up_ptrs;
    call.subscribe = &sub;
    post(x, &call, true, &stream_cbs, &x->stream);
    if (x->stream == NULL)
        stream_lost(x);
}

static const char *env_get(const char *const *envp, size_t envc, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < envc; i++)
        if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=')
            return envp[i] + n + 1;
    return NULL;
}

texec *texec_create(dr_env *env, const char *const *envp, size_t envc)
{
    const char *ep = env_get(envp, envc, "MESOS_AGENT_ENDPOINT");
    const char *fw = env_get(envp, envc, "MESOS_FRAMEWORK_ID");
    const char *ex = env_get(envp, envc, "MESOS_EXECUTOR_ID");
    if (ep == NULL || fw == NULL || ex == NULL || strrchr(ep, ':') == NULL)
        return NULL;
    texec *x = dr_alloc(sizeof *x);
    x->env = env;
    const char *colon = strrchr(ep, ':');
    snprintf(x->endpoint_host, sizeof x->endpoint_host, "%.*s", (int)(colon - ep), ep);
    x->endpoint_port = (uint16_t)atoi(colon + 1);
    dr_strlcpy(x->fw_id, fw, sizeof x->fw_id);
    dr_strlcpy(x->ex_id, ex, sizeof x->ex_id);
    dr_env_rng(env, "test-executor", &x->rng);
    dr_recordio_decoder_init(&x->dec, 0);
    dr_err err;
    if (dr_http_client_create(env, x->endpoint_host, x->endpoint_port, NULL, &x->client, &err) !=
        DR_OK) {
        dr_recordio_decoder_deinit(&x->dec);
        dr_free(x);
        return NULL;
    }
    subscribe(x);
    return x;
}

void texec_destroy(texec *x)
{
    if (x == NULL)
        return;
    dr_http_client_destroy(x->client);
    if (x->resub_timer != 0)
        dr_env_timer_cancel(x->env, x->resub_timer);
    if (x->retry_timer != 0)
        dr_env_timer_cancel(x->env, x->retry_timer);
    dr_recordio_decoder_deinit(&x->dec);
    for (size_t i = 0; i < x->task_count; i++) {
        if (x->tasks[i].timer != 0)
            dr_env_timer_cancel(x->env, x->tasks[i].timer);
        dr_proto_free(&x->tasks[i].info->base);
    }
    for (size_t i = 0; i < x->unacked_count; i++)
        dr_proto_free(&x->unacked[i]->base);
    dr_free(x);
}

unsigned texec_subscribe_count(const texec *x) { return x->subscribe_count; }
unsigned texec_ack_count(const texec *x) { return x->ack_count; }
unsigned texec_update_refused_count(const texec *x) { return x->update_refused_count; }
