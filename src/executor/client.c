/* src/executor/client.c — the v1 executor client (see client.h): the
 * SUBSCRIBE stream and its events, calls, the unacknowledged lists and the
 * reconnection schedule. */
#include "client.h"

#include <stdlib.h>
#include <string.h>

#include "src/http/client.h"
#include "src/http/recordio.h"
#include "src/proto/json.h"

#define DEFAULT_RECOVERY_TIMEOUT_NS (15 * 60 * DR_NS_PER_S)
#define DEFAULT_BACKOFF_MAX_NS (2 * DR_NS_PER_S)
#define DEFAULT_CALL_TIMEOUT_NS (10 * DR_NS_PER_S)
#define ID_SIZE_MAX 256u
#define HOST_SIZE_MAX 256u
#define RESEND_DELAY_MIN_NS (250 * DR_NS_PER_MS) /* a refused UPDATE, first time */

struct dr_exec_client {
    dr_env *env;
    const dr_exec_client_cbs *cbs;
    void *ctx;
    dr_exec_client_opts opts; /* strings point into the fields below */
    char host[HOST_SIZE_MAX];
    char path[ID_SIZE_MAX];
    char framework_id[ID_SIZE_MAX];
    char executor_id[ID_SIZE_MAX];
    dr_http_client *http;

    dr_exec_client_state state;
    bool running;      /* started, not stopped or lost */
    uint64_t gen;      /* subscription attempt */
    dr_http_call *stream_call;
    int stream_status; /* of the SUBSCRIBE answer; 0 before its head */
    dr_buf stream_text;
    dr_recordio_decoder dec;
    uint64_t up_since_ns; /* last time the stream was known up (or started) */
    dr_timer_id backoff_timer;
    dr_rng backoff_rng;
    dr_rng uuid_rng;

    Mesos__TaskStatus **updates; /* owned (malloc-decoded), oldest first */
    size_t update_count;
    size_t subscribe_update_count; /* updates[0..this) went with the last SUBSCRIBE */
    Mesos__TaskInfo **tasks;     /* owned (malloc-decoded), launch order */
    size_t task_count;
    struct pending_call *calls;  /* calls in flight, freed with the client */
    /* UPDATEs the agent refused (5xx: it could not take them now) go again
     * while subscribed, after a delay doubling from RESEND_DELAY_MIN_NS to
     * backoff_max; an accepted UPDATE resets it. */
    uint8_t (*refused)[DR_EXEC_UUID_SIZE]; /* owned; uuids to resend */
    size_t refused_count;
    dr_timer_id resend_timer;
    uint64_t resend_delay_ns;

    dr_exec_client_stats stats;
    int busy;
    bool doomed;
};

static void subscribe_send(dr_exec_client *c);
static void disconnect(dr_exec_client *c, const dr_err *why);
static void update_send(dr_exec_client *c, Mesos__TaskStatus *st);
static void resend_cancel(dr_exec_client *c);

/* ---- lifetime ------------------------------------------------------------------- */

static void enter(dr_exec_client *c) { c->busy++; }

typedef struct pending_call {
    dr_exec_client *c;
    Mesos__Executor__Call__Type type;
    bool has_uuid; /* an UPDATE: the uuid of its status */
    uint8_t uuid[DR_EXEC_UUID_SIZE];
    struct pending_call *prev, *next;
} pending_call;

static void free_all(dr_exec_client *c)
{
    while (c->calls != NULL) {
        pending_call *pc = c->calls;
        c->calls = pc->next;
        dr_free(pc);
    }
    for (size_t i = 0; i < c->update_count; i++)
        dr_proto_free(&c->updates[i]->base);
    for (size_t i = 0; i < c->task_count; i++)
        dr_proto_free(&c->tasks[i]->base);
    dr_free(c->updates);
    dr_free(c->tasks);
    dr_free(c->refused);
    dr_http_client_destroy(c->http);
    dr_recordio_decoder_deinit(&c->dec);
    dr_buf_deinit(&c->stream_text);
    dr_free(c);
}

/* Returns true if c is still alive after the frame ends. */
static bool leave(dr_exec_client *c)
{
    DR_ASSERT(c->busy > 0);
    c->busy--;
    if (c->busy == 0 && c->doomed) {
        free_all(c);
        return false;
    }
    return !c->doomed;
}

static bool copy_str(char *dst, size_t dst_size, const char *src)
{
    return src != NULL && src[0] != '\0' && dr_strlcpy(dst, src, dst_size);
}

dr_code dr_exec_client_create(dr_env *env, const dr_exec_client_opts *opts,
                              const dr_exec_client_cbs *cbs, void *ctx, dr_exec_client **out,
                              dr_err *err)
{
    DR_ASSERT(env != NULL);
    DR_ASSERT(cbs != NULL);
    dr_exec_client *c = dr_alloc(sizeof *c);
    if (!copy_str(c->host, sizeof c->host, opts->host)) {
        dr_free(c);
        return dr_err_set(err, DR_EINVAL, "executor client: agent host missing or too long");
    }
    if (!copy_str(c->framework_id, sizeof c->framework_id, opts->framework_id) ||
        !copy_str(c->executor_id, sizeof c->executor_id, opts->executor_id)) {
        dr_free(c);
        return dr_err_set(err, DR_EINVAL,
                          "executor client: framework id and executor id are required");
    }
    if (!copy_str(c->path, sizeof c->path, opts->path != NULL ? opts->path : "/api/v1/executor")) {
        dr_free(c);
        return dr_err_set(err, DR_EINVAL, "executor client: bad path");
    }
    c->env = env;
    c->cbs = cbs;
    c->ctx = ctx;
    c->opts = *opts;
    c->opts.host = c->host;
    c->opts.path = c->path;
    c->opts.framework_id = c->framework_id;
    c->opts.executor_id = c->executor_id;
    if (c->opts.codec == DR_HTTP_CODEC_NONE)
        c->opts.codec = DR_HTTP_CODEC_PROTOBUF;
    if (c->opts.recovery_timeout_ns == 0)
        c->opts.recovery_timeout_ns = DEFAULT_RECOVERY_TIMEOUT_NS;
    if (c->opts.backoff_max_ns == 0)
        c->opts.backoff_max_ns = DEFAULT_BACKOFF_MAX_NS;
    if (c->opts.call_timeout_ns == 0)
        c->opts.call_timeout_ns = DEFAULT_CALL_TIMEOUT_NS;
    dr_http_client_opts hopts = {.timeout_ns = c->opts.call_timeout_ns};
    dr_code rc = dr_http_client_create(env, c->host, opts->port, &hopts, &c->http, err);
    if (rc != DR_OK) {
        dr_free(c);
        return rc;
    }
    dr_buf_init(&c->stream_text);
    dr_recordio_decoder_init(&c->dec, 0);
    dr_env_rng(env, "exec.backoff", &c->backoff_rng);
    dr_env_rng(env, "exec.uuid", &c->uuid_rng);
    *out = c;
    return DR_OK;
}

void dr_exec_client_destroy(dr_exec_client *c)
{
    if (c == NULL)
        return;
    if (c->backoff_timer != 0)
        dr_env_timer_cancel(c->env, c->backoff_timer);
    c->backoff_timer = 0;
    resend_cancel(c);
    if (c->stream_call != NULL)
        dr_http_call_cancel(c->stream_call);
    c->stream_call = NULL;
    c->doomed = true;
    if (c->busy == 0)
        free_all(c);
}

dr_exec_client_state dr_exec_client_get_state(const dr_exec_client *c) { return c->state; }

size_t dr_exec_client_unacked_update_count(const dr_exec_client *c) { return c->update_count; }

size_t dr_exec_client_unacked_task_count(const dr_exec_client *c) { return c->task_count; }

void dr_exec_client_get_stats(const dr_exec_client *c, dr_exec_client_stats *out)
{
    *out = c->stats;
}

/* ---- helpers ------------------------------------------------------------------- */

/* A malloc'd deep copy of msg (through its protobuf encoding). */
static ProtobufCMessage *clone_msg(const ProtobufCMessage *msg)
{
    dr_buf buf;
    dr_buf_init(&buf);
    dr_err err;
    ProtobufCMessage *out = NULL;
    dr_code rc = dr_proto_encode(msg, &buf, &err);
    if (rc == DR_OK)
        rc = dr_proto_decode(msg->descriptor, buf.data, buf.size, NULL, &out, &err);
    dr_buf_deinit(&buf);
    DR_ASSERT(rc == DR_OK); /* messages reaching here encoded once already */
    return out;
}

static dr_code encode(const dr_exec_client *c, const ProtobufCMessage *msg, dr_buf *out,
                      dr_err *err)
{
    if (c->opts.codec == DR_HTTP_CODEC_JSON)
        return dr_json_encode(msg, out, err);
    return dr_proto_encode(msg, out, err);
}

static const char *codec_type(const dr_exec_client *c)
{
    return dr_http_codec_media_type(c->opts.codec);
}

static void call_init(dr_exec_client *c, Mesos__Executor__Call *call,
                      Mesos__Executor__Call__Type type, Mesos__FrameworkID *fid,
                      Mesos__ExecutorID *eid)
{
    mesos__framework_id__init(fid);
    mesos__executor_id__init(eid);
    fid->value = c->framework_id;
    eid->value = c->executor_id;
    call->has_type = true;
    call->type = type;
    call->framework_id = fid;
    call->executor_id = eid;
}

/* ---- reconnection -------------------------------------------------------------- */

static void lose(dr_exec_client *c, const dr_err *why)
{
    c->running = false;
    c->state = DR_EXEC_CLIENT_IDLE;
    DR_WARN(c->env, "executor: giving up on the agent: %s", why->msg);
    if (c->cbs->lost != NULL)
        c->cbs->lost(c, why, c->ctx);
}

static void backoff_fire(dr_env *env, void *ctx)
{
    dr_exec_client *c = ctx;
    c->backoff_timer = 0;
    if (!c->running || c->state != DR_EXEC_CLIENT_BACKING_OFF)
        return;
    if (dr_env_now(env) - c->up_since_ns >= c->opts.recovery_timeout_ns) {
        dr_err why;
        dr_err_set(&why, DR_ETIMEDOUT, "agent %s:%u not back within %llu ms", c->host,
                   c->opts.port,
                   (unsigned long long)(c->opts.recovery_timeout_ns / DR_NS_PER_MS));
        enter(c);
        lose(c, &why);
        leave(c);
        return;
    }
    subscribe_send(c);
}

static void backoff_arm(dr_exec_client *c)
{
    DR_ASSERT(c->backoff_timer == 0);
    c->state = DR_EXEC_CLIENT_BACKING_OFF;
    uint64_t delay_ns = dr_rng_below(&c->backoff_rng, c->opts.backoff_max_ns + 1);
    c->backoff_timer = dr_env_timer_add(c->env, delay_ns, backoff_fire, c);
}

/* The stream is gone (why borrowed). Resubscribes or gives up. */
static void disconnect(dr_exec_client *c, const dr_err *why)
{
    bool was_up = c->state == DR_EXEC_CLIENT_SUBSCRIBED;
    if (c->stream_call != NULL)
        dr_http_call_cancel(c->stream_call);
    c->stream_call = NULL;
    resend_cancel(c); /* the next SUBSCRIBE carries every unacknowledged update */
    c->gen++;
    if (was_up)
        c->up_since_ns = dr_env_now(c->env);
    DR_INFO(c->env, "executor: disconnected from the agent: %s", why->msg);
    if (!c->running) {
        c->state = DR_EXEC_CLIENT_IDLE;
        return;
    }
    if (was_up && !c->opts.checkpoint) {
        lose(c, why);
        return;
    }
    backoff_arm(c);
    if (was_up && c->cbs->disconnected != NULL)
        c->cbs->disconnected(c, why, c->ctx);
}

/* ---- events ------------------------------------------------------------------ */

static void task_forget(dr_exec_client *c, const char *task_id)
{
    for (size_t i = 0; i < c->task_count; i++) {
        if (strcmp(c->tasks[i]->task_id->value, task_id) != 0)
            continue;
        dr_proto_free(&c->tasks[i]->base);
        memmove(&c->tasks[i], &c->tasks[i + 1], (c->task_count - i - 1) * sizeof c->tasks[0]);
        c->task_count--;
        return;
    }
}

static void on_acknowledged(dr_exec_client *c, const Mesos__Executor__Event__Acknowledged *ack)
{
    const char *task_id = ack->task_id->value;
    for (size_t i = 0; i < c->update_count; i++) {
        Mesos__TaskStatus *st = c->updates[i];
        if (strcmp(st->task_id->value, task_id) != 0 || st->uuid.len != ack->uuid.len ||
            memcmp(st->uuid.data, ack->uuid.data, ack->uuid.len) != 0)
            continue;
        dr_proto_free(&st->base);
        memmove(&c->updates[i], &c->updates[i + 1],
                (c->update_count - i - 1) * sizeof c->updates[0]);
        c->update_count--;
        task_forget(c, task_id);
        if (c->cbs->acknowledged != NULL)
            c->cbs->acknowledged(c, task_id, ack->uuid.data, ack->uuid.len, c->ctx);
        return;
    }
    DR_DEBUG(c->env, "executor: ACKNOWLEDGED for an unknown update of task '%s'", task_id);
}

static void dispatch(dr_exec_client *c, const Mesos__Executor__Event *ev)
{
    const dr_exec_client_cbs *cb = c->cbs;
    switch (ev->type) {
    case MESOS__EXECUTOR__EVENT__TYPE__SUBSCRIBED:
        if (ev->subscribed == NULL)
            break;
        c->state = DR_EXEC_CLIENT_SUBSCRIBED;
        c->stats.subscribed_count++;
        DR_INFO(c->env, "executor: subscribed to %s:%u", c->host, c->opts.port);
        /* updates made while SUBSCRIBE was on its way were in no call yet */
        for (size_t i = c->subscribe_update_count; i < c->update_count; i++)
            update_send(c, c->updates[i]);
        c->subscribe_update_count = 0;
        if (cb->subscribed != NULL)
            cb->subscribed(c, ev->subscribed, c->ctx);
        break;
    case MESOS__EXECUTOR__EVENT__TYPE__LAUNCH:
        if (ev->launch == NULL || ev->launch->task == NULL)
            break;
        dr_exec_client_keep_task(c, ev->launch->task);
        if (cb->launch != NULL)
            cb->launch(c, ev->launch->task, c->ctx);
        break;
    case MESOS__EXECUTOR__EVENT__TYPE__LAUNCH_GROUP:
        if (ev->launch_group == NULL || ev->launch_group->task_group == NULL)
            break;
        for (size_t i = 0; i < ev->launch_group->task_group->n_tasks; i++)
            dr_exec_client_keep_task(c, ev->launch_group->task_group->tasks[i]);
        if (cb->launch_group != NULL)
            cb->launch_group(c, ev->launch_group->task_group, c->ctx);
        break;
    case MESOS__EXECUTOR__EVENT__TYPE__KILL:
        if (ev->kill != NULL && cb->kill != NULL)
            cb->kill(c, ev->kill, c->ctx);
        break;
    case MESOS__EXECUTOR__EVENT__TYPE__ACKNOWLEDGED:
        if (ev->acknowledged != NULL)
            on_acknowledged(c, ev->acknowledged);
        break;
    case MESOS__EXECUTOR__EVENT__TYPE__MESSAGE:
        if (ev->message != NULL && cb->message != NULL)
            cb->message(c, ev->message->data.data, ev->message->data.len, c->ctx);
        break;
    case MESOS__EXECUTOR__EVENT__TYPE__SHUTDOWN:
        if (cb->shutdown != NULL)
            cb->shutdown(c, c->ctx);
        break;
    case MESOS__EXECUTOR__EVENT__TYPE__ERROR:
        DR_WARN(c->env, "executor: ERROR from the agent: %s",
                ev->error != NULL && ev->error->message != NULL ? ev->error->message : "");
        if (cb->error != NULL)
            cb->error(c, ev->error != NULL && ev->error->message != NULL ? ev->error->message : "",
                      c->ctx);
        break;
    case MESOS__EXECUTOR__EVENT__TYPE__HEARTBEAT:
        if (cb->heartbeat != NULL)
            cb->heartbeat(c, c->ctx);
        break;
    default:
        DR_DEBUG(c->env, "executor: event type %d ignored", (int)ev->type);
        break;
    }
}

typedef struct feed_ctx {
    dr_exec_client *c;
    uint64_t gen;
    dr_err err;
} feed_ctx;

static bool on_record(const uint8_t *data, size_t size, void *ctx)
{
    feed_ctx *fc = ctx;
    dr_exec_client *c = fc->c;
    if (c->doomed || c->gen != fc->gen)
        return false;
    dr_arena arena;
    dr_arena_init(&arena);
    ProtobufCMessage *msg = NULL;
    dr_code rc;
    if (c->opts.codec == DR_HTTP_CODEC_JSON)
        rc = dr_json_decode(&mesos__executor__event__descriptor, (const char *)data, size, &arena,
                            &msg, &fc->err);
    else
        rc = dr_proto_decode(&mesos__executor__event__descriptor, data, size, &arena, &msg,
                             &fc->err);
    if (rc != DR_OK) {
        dr_arena_deinit(&arena);
        return false;
    }
    c->stats.event_count++;
    dispatch(c, (const Mesos__Executor__Event *)msg);
    dr_arena_deinit(&arena);
    return !c->doomed && c->gen == fc->gen;
}

static void stream_head(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                        void *ctx)
{
    (void)env;
    (void)call;
    dr_exec_client *c = ctx;
    c->stream_status = resp->status;
}

static void stream_chunk(dr_env *env, dr_http_call *call, const uint8_t *data, size_t size,
                         void *ctx)
{
    (void)env;
    (void)call;
    dr_exec_client *c = ctx;
    if (c->stream_status != 200) {
        if (c->stream_text.size < 1024)
            dr_buf_append(&c->stream_text, data, DR_MIN(size, 1024 - c->stream_text.size));
        return;
    }
    enter(c);
    feed_ctx fc = {.c = c, .gen = c->gen};
    dr_err_clear(&fc.err);
    dr_err ferr;
    dr_code rc = dr_recordio_decoder_feed(&c->dec, data, size, on_record, &fc, &ferr);
    if (!c->doomed && c->gen == fc.gen) {
        if (fc.err.code != DR_OK) {
            dr_err_wrap(&fc.err, "event from %s:%u", c->host, c->opts.port);
            disconnect(c, &fc.err);
        } else if (rc != DR_OK && rc != DR_ECANCELED) {
            disconnect(c, &ferr);
        }
    }
    leave(c);
}

static void stream_done(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                        const dr_err *err, void *ctx)
{
    (void)env;
    (void)call;
    dr_exec_client *c = ctx;
    c->stream_call = NULL;
    enter(c);
    dr_err why;
    if (resp == NULL)
        why = *err;
    else if (resp->status != 200)
        dr_err_set(&why, DR_EPROTO, "SUBSCRIBE to %s:%u answered %d: %s", c->host, c->opts.port,
                   resp->status, dr_buf_cstr(&c->stream_text));
    else
        dr_err_set(&why, DR_ECLOSED, "event stream from %s:%u ended", c->host, c->opts.port);
    disconnect(c, &why);
    leave(c);
}

static const dr_http_call_cbs stream_cbs = {
    .head = stream_head, .chunk = stream_chunk, .done = stream_done};

static void subscribe_send(dr_exec_client *c)
{
    DR_ASSERT(!c->doomed);
    DR_ASSERT(c->stream_call == NULL);
    c->gen++;
    c->stream_status = 0;
    dr_buf_reset(&c->stream_text);
    dr_recordio_decoder_deinit(&c->dec);
    dr_recordio_decoder_init(&c->dec, 0);
    c->stats.subscribe_count++;

    Mesos__Executor__Call call = MESOS__EXECUTOR__CALL__INIT;
    Mesos__FrameworkID fid;
    Mesos__ExecutorID eid;
    call_init(c, &call, MESOS__EXECUTOR__CALL__TYPE__SUBSCRIBE, &fid, &eid);
    Mesos__Executor__Call__Subscribe sub = MESOS__EXECUTOR__CALL__SUBSCRIBE__INIT;
    sub.n_unacknowledged_tasks = c->task_count;
    sub.unacknowledged_tasks = c->tasks;
    Mesos__Executor__Call__Update *ups = dr_alloc_array(c->update_count + 1, sizeof *ups);
    Mesos__Executor__Call__Update **upp = dr_alloc_array(c->update_count + 1, sizeof *upp);
    for (size_t i = 0; i < c->update_count; i++) {
        mesos__executor__call__update__init(&ups[i]);
        ups[i].status = c->updates[i];
        upp[i] = &ups[i];
    }
    sub.n_unacknowledged_updates = c->update_count;
    sub.unacknowledged_updates = upp;
    c->subscribe_update_count = c->update_count;
    call.subscribe = &sub;
    DR_DEBUG(c->env, "executor: SUBSCRIBE to %s:%u%s (%zu tasks, %zu updates unacknowledged)",
             c->host, c->opts.port, c->path, c->task_count, c->update_count);

    dr_err err;
    dr_buf body;
    dr_buf_init(&body);
    dr_code rc = encode(c, &call.base, &body, &err);
    dr_free(ups);
    dr_free(upp);
    if (rc == DR_OK) {
        const dr_http_header headers[] = {
            {(char *)"Content-Type", (char *)codec_type(c)},
            {(char *)"Accept", (char *)codec_type(c)},
        };
        dr_http_client_request req = {
            .method = "POST",
            .target = c->path,
            .headers = headers,
            .header_count = DR_ARRAY_COUNT(headers),
            .body = body.data,
            .body_size = body.size,
            .stream = true,
        };
        rc = dr_http_client_send(c->http, &req, &stream_cbs, c, &c->stream_call, &err);
    }
    dr_buf_deinit(&body);
    if (rc != DR_OK) {
        DR_WARN(c->env, "executor: SUBSCRIBE: %s", err.msg);
        backoff_arm(c);
        return;
    }
    c->state = DR_EXEC_CLIENT_SUBSCRIBING;
}

void dr_exec_client_start(dr_exec_client *c)
{
    if (c->state == DR_EXEC_CLIENT_SUBSCRIBING || c->state == DR_EXEC_CLIENT_SUBSCRIBED)
        return;
    c->running = true;
    c->up_since_ns = dr_env_now(c->env);
    if (c->backoff_timer != 0)
        dr_env_timer_cancel(c->env, c->backoff_timer);
    c->backoff_timer = 0;
    subscribe_send(c);
}

void dr_exec_client_stop(dr_exec_client *c)
{
    c->running = false;
    if (c->stream_call != NULL)
        dr_http_call_cancel(c->stream_call);
    c->stream_call = NULL;
    if (c->backoff_timer != 0)
        dr_env_timer_cancel(c->env, c->backoff_timer);
    c->backoff_timer = 0;
    resend_cancel(c);
    c->gen++;
    c->state = DR_EXEC_CLIENT_IDLE;
}

/* ---- calls -------------------------------------------------------------------- */

static void resend_cancel(dr_exec_client *c)
{
    if (c->resend_timer != 0)
        dr_env_timer_cancel(c->env, c->resend_timer);
    c->resend_timer = 0;
    c->refused_count = 0;
}

static void resend_fire(dr_env *env, void *ctx)
{
    dr_exec_client *c = ctx;
    c->resend_timer = 0;
    if (c->state != DR_EXEC_CLIENT_SUBSCRIBED) {
        c->refused_count = 0; /* the next SUBSCRIBE carries them */
        return;
    }
    /* Taken out first: a refusal while resending goes to a new round. */
    size_t count = c->refused_count;
    uint8_t (*uuids)[DR_EXEC_UUID_SIZE] = dr_alloc_array(count + 1, sizeof *uuids);
    memcpy(uuids, c->refused, count * sizeof *uuids);
    c->refused_count = 0;
    for (size_t i = 0; i < count; i++)
        for (size_t j = 0; j < c->update_count; j++) {
            Mesos__TaskStatus *st = c->updates[j];
            if (st->uuid.len != DR_EXEC_UUID_SIZE ||
                memcmp(st->uuid.data, uuids[i], DR_EXEC_UUID_SIZE) != 0)
                continue;
            DR_INFO(env, "executor: UPDATE of task '%s' again (the agent could not take it)",
                    st->task_id->value);
            c->stats.update_resent_count++;
            update_send(c, st);
            break;
        }
    dr_free(uuids);
}

/* The agent could not take the UPDATE with this uuid (borrowed) now: it
 * goes again after the resend delay, unless acknowledged meanwhile. */
static void refuse(dr_exec_client *c, const uint8_t *uuid)
{
    for (size_t i = 0; i < c->refused_count; i++)
        if (memcmp(c->refused[i], uuid, DR_EXEC_UUID_SIZE) == 0)
            return;
    if (c->refused_count >= DR_EXEC_UPDATE_COUNT_MAX)
        return; /* more than it can hold unacknowledged: the next SUBSCRIBE has them */
    c->refused = dr_realloc(c->refused, (c->refused_count + 1) * sizeof *c->refused);
    memcpy(c->refused[c->refused_count++], uuid, DR_EXEC_UUID_SIZE);
    if (c->resend_timer != 0)
        return;
    uint64_t max_ns = c->opts.backoff_max_ns > RESEND_DELAY_MIN_NS ? c->opts.backoff_max_ns
                                                                    : RESEND_DELAY_MIN_NS;
    c->resend_delay_ns =
        c->resend_delay_ns == 0 ? RESEND_DELAY_MIN_NS : c->resend_delay_ns * 2;
    if (c->resend_delay_ns > max_ns)
        c->resend_delay_ns = max_ns;
    c->resend_timer = dr_env_timer_add(c->env, c->resend_delay_ns, resend_fire, c);
}

static void call_done(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                      const dr_err *err, void *ctx)
{
    (void)call;
    pending_call *pc = ctx;
    dr_exec_client *c = pc->c;
    if (pc->prev != NULL)
        pc->prev->next = pc->next;
    else
        c->calls = pc->next;
    if (pc->next != NULL)
        pc->next->prev = pc->prev;
    int status = resp != NULL ? resp->status : 0;
    if (status != 202 && status != 200) {
        pc->c->stats.call_failed_count++;
        /* An UPDATE the agent could not take now (5xx) goes again shortly;
         * an unanswered one (the connection failed) goes with the next
         * SUBSCRIBE; one refused for good (4xx) is only logged. */
        DR_INFO(env, "executor: call %d answered %d: %.200s", (int)pc->type, status,
                resp != NULL ? (const char *)resp->body : err->msg);
        if (pc->has_uuid && status >= 500 && status <= 599)
            refuse(c, pc->uuid);
    } else if (pc->has_uuid) {
        c->resend_delay_ns = 0;
    }
    dr_free(pc);
}

static const dr_http_call_cbs call_cbs = {.done = call_done};

/* uuid: the UPDATE's (DR_EXEC_UUID_SIZE bytes, borrowed), else NULL. */
static dr_code call_send(dr_exec_client *c, Mesos__Executor__Call *call, const uint8_t *uuid,
                         dr_err *err)
{
    dr_buf body;
    dr_buf_init(&body);
    dr_code rc = encode(c, &call->base, &body, err);
    if (rc != DR_OK) {
        dr_buf_deinit(&body);
        return rc;
    }
    const dr_http_header headers[] = {
        {(char *)"Content-Type", (char *)codec_type(c)},
        {(char *)"Accept", (char *)codec_type(c)},
    };
    dr_http_client_request req = {
        .method = "POST",
        .target = c->path,
        .headers = headers,
        .header_count = DR_ARRAY_COUNT(headers),
        .body = body.data,
        .body_size = body.size,
    };
    pending_call *pc = dr_alloc(sizeof *pc);
    pc->c = c;
    pc->type = call->type;
    if (uuid != NULL) {
        pc->has_uuid = true;
        memcpy(pc->uuid, uuid, DR_EXEC_UUID_SIZE);
    }
    rc = dr_http_client_send(c->http, &req, &call_cbs, pc, NULL, err);
    dr_buf_deinit(&body);
    if (rc != DR_OK) {
        dr_free(pc);
        return rc;
    }
    pc->next = c->calls;
    if (c->calls != NULL)
        c->calls->prev = pc;
    c->calls = pc;
    return DR_OK;
}

void dr_exec_client_keep_task(dr_exec_client *c, const Mesos__TaskInfo *task)
{
    for (size_t i = 0; i < c->task_count; i++)
        if (strcmp(c->tasks[i]->task_id->value, task->task_id->value) == 0)
            return;
    if (c->task_count >= DR_EXEC_TASK_COUNT_MAX) {
        DR_WARN(c->env, "executor: more than %u unacknowledged tasks; '%s' not kept",
                DR_EXEC_TASK_COUNT_MAX, task->task_id->value);
        return;
    }
    c->tasks = dr_realloc(c->tasks, (c->task_count + 1) * sizeof c->tasks[0]);
    c->tasks[c->task_count++] = (Mesos__TaskInfo *)clone_msg(&task->base);
}

dr_code dr_exec_client_update(dr_exec_client *c, const Mesos__TaskStatus *status,
                              uint8_t *uuid_out, dr_err *err)
{
    if (status->task_id == NULL || status->task_id->value == NULL)
        return dr_err_set(err, DR_EINVAL, "executor: status update without a task id");
    if (c->update_count >= DR_EXEC_UPDATE_COUNT_MAX)
        return dr_err_set(err, DR_ETOOBIG, "executor: task '%s': %u updates unacknowledged",
                          status->task_id->value, DR_EXEC_UPDATE_COUNT_MAX);
    uint8_t uuid[DR_EXEC_UUID_SIZE];
    for (size_t i = 0; i < sizeof uuid; i += 8) {
        uint64_t r = dr_rng_next(&c->uuid_rng);
        memcpy(uuid + i, &r, 8);
    }
    uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40); /* version 4 */
    uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80); /* RFC 4122 variant */

    Mesos__TaskStatus st = *status;
    Mesos__ExecutorID eid = MESOS__EXECUTOR_ID__INIT;
    eid.value = c->executor_id;
    st.executor_id = &eid;
    st.has_uuid = true;
    st.uuid.data = uuid;
    st.uuid.len = sizeof uuid;
    st.has_source = true;
    st.source = MESOS__TASK_STATUS__SOURCE__SOURCE_EXECUTOR;
    if (!st.has_timestamp) {
        st.has_timestamp = true;
        st.timestamp = (double)dr_env_wall(c->env) / 1e9;
    }
    dr_buf check;
    dr_buf_init(&check);
    dr_code rc = dr_proto_encode(&st.base, &check, err);
    dr_buf_deinit(&check);
    if (rc != DR_OK)
        return dr_err_wrap(err, "executor: status update of task '%s'", status->task_id->value);
    Mesos__TaskStatus *kept = (Mesos__TaskStatus *)clone_msg(&st.base);
    c->updates = dr_realloc(c->updates, (c->update_count + 1) * sizeof c->updates[0]);
    c->updates[c->update_count++] = kept;
    if (uuid_out != NULL)
        memcpy(uuid_out, uuid, sizeof uuid);
    if (c->state == DR_EXEC_CLIENT_SUBSCRIBED)
        update_send(c, kept);
    /* else it goes with the next SUBSCRIBE, or after SUBSCRIBED */
    return DR_OK;
}

static void update_send(dr_exec_client *c, Mesos__TaskStatus *st)
{
    Mesos__Executor__Call call = MESOS__EXECUTOR__CALL__INIT;
    Mesos__FrameworkID fid;
    Mesos__ExecutorID eid;
    call_init(c, &call, MESOS__EXECUTOR__CALL__TYPE__UPDATE, &fid, &eid);
    Mesos__Executor__Call__Update up = MESOS__EXECUTOR__CALL__UPDATE__INIT;
    up.status = st;
    call.update = &up;
    c->stats.update_count++;
    dr_err err;
    const uint8_t *uuid = st->uuid.len == DR_EXEC_UUID_SIZE ? st->uuid.data : NULL;
    if (call_send(c, &call, uuid, &err) != DR_OK)
        DR_WARN(c->env, "executor: UPDATE of task '%s': %s (resent on resubscribing)",
                st->task_id->value, err.msg);
}

dr_code dr_exec_client_message(dr_exec_client *c, const uint8_t *data, size_t size, dr_err *err)
{
    if (c->state != DR_EXEC_CLIENT_SUBSCRIBED)
        return dr_err_set(err, DR_ECLOSED, "executor: MESSAGE: not subscribed");
    Mesos__Executor__Call call = MESOS__EXECUTOR__CALL__INIT;
    Mesos__FrameworkID fid;
    Mesos__ExecutorID eid;
    call_init(c, &call, MESOS__EXECUTOR__CALL__TYPE__MESSAGE, &fid, &eid);
    Mesos__Executor__Call__Message msg = MESOS__EXECUTOR__CALL__MESSAGE__INIT;
    msg.data.data = (uint8_t *)data;
    msg.data.len = size;
    call.message = &msg;
    return call_send(c, &call, NULL, err);
}

dr_code dr_exec_client_heartbeat(dr_exec_client *c, dr_err *err)
{
    if (c->state != DR_EXEC_CLIENT_SUBSCRIBED)
        return dr_err_set(err, DR_ECLOSED, "executor: HEARTBEAT: not subscribed");
    Mesos__Executor__Call call = MESOS__EXECUTOR__CALL__INIT;
    Mesos__FrameworkID fid;
    Mesos__ExecutorID eid;
    call_init(c, &call, MESOS__EXECUTOR__CALL__TYPE__HEARTBEAT, &fid, &eid);
    return call_send(c, &call, NULL, err);
}

dr_code dr_exec_parse_endpoint(const char *text, char *host_out, size_t host_size,
                               uint16_t *port_out, dr_err *err)
{
    const char *p = text;
    if (strncmp(p, "http://", 7) == 0)
        p += 7;
    const char *colon = strrchr(p, ':');
    if (colon == NULL || colon == p)
        return dr_err_set(err, DR_EINVAL, "agent endpoint '%s': expected HOST:PORT", text);
    size_t host_size_in = (size_t)(colon - p);
    if (host_size_in >= host_size)
        return dr_err_set(err, DR_EINVAL, "agent endpoint '%s': host too long", text);
    char *end = NULL;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (end == colon + 1 || (*end != '\0' && strcmp(end, "/") != 0) || port == 0 || port > 65535)
        return dr_err_set(err, DR_EINVAL, "agent endpoint '%s': bad port", text);
    memcpy(host_out, p, host_size_in);
    host_out[host_size_in] = '\0';
    *port_out = (uint16_t)port;
    return DR_OK;
}
