/* src/testagent/testagent.c — the test agent (see testagent.h): registration
 * over a streaming REGISTER call, pings, simulated tasks and their status
 * update streams.
 *
 * Registration has a generation number like the scheduler client: callbacks
 * of an older stream or of calls sent under an older session see a different
 * generation and do nothing. Tasks live in launch order in `tasks` and are
 * found through a small open-addressing index keyed by "framework\0task" (the
 * index is never iterated, so order stays deterministic).
 *
 * Status updates go out in batches (internal.proto's status_updates):
 * send_update queues them in `outbox`, and a 0-delay timer flushes the queue
 * in order once the current moment's events have run, as one STATUS_UPDATE
 * call. While such a call is in flight the outbox fills instead, and goes
 * out when the call is answered (as a TCP sender with data in flight does
 * with small writes), so a busy agent sends few, larger calls. An update
 * acknowledged while it waited is not sent. Each update keeps its own
 * resend timer, so batching changes only how many calls carry them.
 */
#include "src/testagent/testagent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/http/client.h"
#include "src/http/recordio.h"
#include "internal.pb-c.h"

#define DEFAULT_PATH "/internal/agent"
#define ID_SIZE_MAX 256
#define HOST_SIZE_MAX 256
#define FRAMEWORK_COUNT_MAX 4096u
#define PING_MISS_COUNT 3u
#define OUTBOX_BATCH_COUNT_MAX 256u /* updates per STATUS_UPDATE call */

typedef struct ta_task ta_task;
struct ta_task {
    dr_testagent *agent;
    char *task_id;
    char *framework_id;
    char *executor_id; /* NULL for command tasks */
    char *name;
    Mesos__TaskState state;
    bool holds;
    bool forever;
    int exit_code;
    uint64_t run_ns;
    dr_resources res;
    dr_testagent_update *updates;
    size_t update_count, update_capacity;
    size_t acked_count;
    dr_timer_id life_timer;  /* start -> running -> end */
    dr_timer_id retry_timer; /* head resend */
    uint64_t retry_ns;       /* current resend delay */
#if defined(DR_PLANTED_AGENT_RESEND_ACKED)
    size_t planted_resent_count;
#endif
};

/* An update waiting in the outbox: updates[index] of task. */
typedef struct ta_outgoing {
    ta_task *task;
    size_t index;
    bool acked_when_queued; /* a deliberate resend (planted bug): sent anyway */
} ta_outgoing;

/* A call in flight; listed so that destroy can free those the client drops. */
typedef struct call_ctx call_ctx;
struct call_ctx {
    dr_testagent *a;
    uint64_t gen;
    bool updates; /* a STATUS_UPDATE batch (counted in update_calls_in_flight) */
    call_ctx *prev, *next;
};

typedef struct ta_framework {
    char *id;
    Mesos__FrameworkInfo *info; /* owned malloc copy */
    dr_buf wire;                /* info encoded: a RUN_TASK repeating it is not copied again */
} ta_framework;

struct dr_testagent {
    dr_env *env;
    dr_testagent_opts opts;
    char master_host[HOST_SIZE_MAX];
    char master_path[256];
    char hostname[HOST_SIZE_MAX];
    char boot_id[64];
    dr_resources total;      /* the real one */
    dr_resources advertised; /* what REGISTER reports */
    dr_resources used;
    dr_http_client *client;

    /* registration */
    uint64_t gen;
    dr_http_call *stream_call;
    int stream_status;
    dr_recordio_decoder dec;
    bool registered;
    char agent_id[ID_SIZE_MAX];
    char session_id[ID_SIZE_MAX];
    uint64_t ping_interval_ns;
    uint64_t last_event_ns;
    dr_timer_id watchdog_timer;
    dr_timer_id backoff_timer;
    uint32_t attempt_count;
    dr_rng backoff_rng;
    dr_rng uuid_rng;
    dr_rng task_rng;

    ta_task **tasks;
    size_t task_count, task_capacity;
    uint32_t *index; /* task index + 1; 0 empty */
    size_t index_capacity;
    ta_framework *frameworks;
    size_t framework_count;
    call_ctx *calls; /* in flight */
    ta_outgoing *outbox; /* updates to send at flush_timer, in order */
    size_t outbox_count, outbox_capacity;
    dr_timer_id flush_timer;
    uint32_t update_calls_in_flight; /* STATUS_UPDATE calls not answered yet */

    dr_testagent_info info;
};

static void register_send(dr_testagent *a);
static void stream_lost(dr_testagent *a, const char *why);
static void task_send_head(ta_task *t);

/* ---- small helpers ---------------------------------------------------------------- */

const char *dr_testagent_state_name(Mesos__TaskState state)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&mesos__task_state__descriptor, (int)state);
    return v != NULL ? v->name : "TASK_?";
}

bool dr_testagent_state_terminal(Mesos__TaskState state)
{
    switch (state) {
    case MESOS__TASK_STATE__TASK_FINISHED:
    case MESOS__TASK_STATE__TASK_FAILED:
    case MESOS__TASK_STATE__TASK_KILLED:
    case MESOS__TASK_STATE__TASK_LOST:
    case MESOS__TASK_STATE__TASK_ERROR:
    case MESOS__TASK_STATE__TASK_DROPPED:
    case MESOS__TASK_STATE__TASK_GONE:
        return true;
    default:
        return false;
    }
}

static uint64_t key_hash(const char *fw, const char *task)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (const char *p = fw; *p != '\0'; p++)
        h = (h ^ (uint8_t)*p) * UINT64_C(0x100000001b3);
    h = (h ^ 0xff) * UINT64_C(0x100000001b3);
    for (const char *p = task; *p != '\0'; p++)
        h = (h ^ (uint8_t)*p) * UINT64_C(0x100000001b3);
    return dr_mix64(h);
}

static void index_put(dr_testagent *a, size_t task_index)
{
    if ((a->task_count + 1) * 2 > a->index_capacity) {
        size_t cap = a->index_capacity ? a->index_capacity * 2 : 64;
        dr_free(a->index);
        a->index = dr_alloc_array(cap, sizeof *a->index);
        a->index_capacity = cap;
        for (size_t i = 0; i < a->task_count; i++)
            if (i != task_index)
                index_put(a, i);
    }
    const ta_task *t = a->tasks[task_index];
    size_t mask = a->index_capacity - 1;
    size_t slot = (size_t)key_hash(t->framework_id, t->task_id) & mask;
    while (a->index[slot] != 0)
        slot = (slot + 1) & mask;
    a->index[slot] = (uint32_t)(task_index + 1);
}

static ta_task *task_find(const dr_testagent *a, const char *fw, const char *task)
{
    if (a->index_capacity == 0)
        return NULL;
    size_t mask = a->index_capacity - 1;
    size_t slot = (size_t)key_hash(fw, task) & mask;
    while (a->index[slot] != 0) {
        ta_task *t = a->tasks[a->index[slot] - 1];
        if (strcmp(t->task_id, task) == 0 && strcmp(t->framework_id, fw) == 0)
            return t;
        slot = (slot + 1) & mask;
    }
    return NULL;
}

/* A malloc'd copy of m decoded from its encoding in wire, or NULL. */
static ProtobufCMessage *message_from_wire(const ProtobufCMessage *m, const dr_buf *wire)
{
    dr_err err;
    ProtobufCMessage *out = NULL;
    if (dr_proto_decode(m->descriptor, wire->data, wire->size, NULL, &out, &err) != DR_OK)
        return NULL;
    return out;
}

/* Keeps the latest FrameworkInfo of each framework, as an agent does. Every
 * RUN_TASK carries it, almost always unchanged: the copy is made only when
 * its encoding differs from the one kept. */
static void framework_remember(dr_testagent *a, const Mesos__FrameworkInfo *info)
{
    if (info == NULL || info->id == NULL || info->id->value == NULL)
        return;
    dr_buf wire;
    dr_buf_init(&wire);
    dr_err err;
    if (dr_proto_encode(&info->base, &wire, &err) != DR_OK) {
        dr_buf_deinit(&wire);
        return;
    }
    for (size_t i = 0; i < a->framework_count; i++) {
        ta_framework *f = &a->frameworks[i];
        if (strcmp(f->id, info->id->value) == 0) {
            if (wire.size != f->wire.size ||
                (wire.size > 0 && memcmp(wire.data, f->wire.data, wire.size) != 0)) {
                ProtobufCMessage *copy = message_from_wire(&info->base, &wire);
                if (copy != NULL) {
                    dr_proto_free(&f->info->base);
                    f->info = (Mesos__FrameworkInfo *)copy;
                    dr_buf_deinit(&f->wire);
                    f->wire = wire;
                    return;
                }
            }
            dr_buf_deinit(&wire);
            return;
        }
    }
    ProtobufCMessage *copy = NULL;
    if (a->framework_count < FRAMEWORK_COUNT_MAX)
        copy = message_from_wire(&info->base, &wire);
    if (copy == NULL) {
        dr_buf_deinit(&wire);
        return;
    }
    a->frameworks = dr_realloc(a->frameworks, (a->framework_count + 1) * sizeof *a->frameworks);
    a->frameworks[a->framework_count].id = dr_strdup(info->id->value);
    a->frameworks[a->framework_count].info = (Mesos__FrameworkInfo *)copy;
    a->frameworks[a->framework_count].wire = wire;
    a->framework_count++;
}

/* ---- lifetime --------------------------------------------------------------------- */

static void task_free(ta_task *t)
{
    dr_free(t->task_id);
    dr_free(t->framework_id);
    dr_free(t->executor_id);
    dr_free(t->name);
    dr_resources_deinit(&t->res);
    dr_free(t->updates);
    dr_free(t);
}

static void advertise(dr_testagent *a)
{
    dr_resources_copy(&a->advertised, &a->total);
#if defined(DR_PLANTED_AGENT_OVERCOMMIT)
    for (size_t i = 0; i < a->advertised.count; i++) {
        Mesos__Resource *r = a->advertised.items[i];
        if (r->scalar != NULL && (strcmp(r->name, "cpus") == 0 || strcmp(r->name, "mem") == 0))
            r->scalar->value *= 2;
    }
#endif
}

dr_code dr_testagent_create(dr_env *env, const dr_testagent_opts *opts, dr_testagent **out,
                            dr_err *err)
{
    if (opts->master_host == NULL || opts->master_host[0] == '\0' ||
        strlen(opts->master_host) >= HOST_SIZE_MAX)
        return dr_err_set(err, DR_EINVAL, "test agent: a master host is required");
    dr_host_info host;
    dr_code rc = dr_env_host_info(env, &host, err);
    if (rc != DR_OK)
        return dr_err_wrap(err, "test agent");
    dr_resources total;
    dr_resources_init(&total);
    char text[128];
    const char *res_text = opts->resources;
    if (res_text == NULL) {
        snprintf(text, sizeof text, "cpus:%u;mem:%llu;disk:10240;ports:[31000-32000]",
                 host.cpu_count, (unsigned long long)(host.mem_bytes / (1024 * 1024)));
        res_text = text;
    }
    rc = dr_resources_parse(res_text, &total, err);
    if (rc != DR_OK)
        return dr_err_wrap(err, "test agent: --resources");

    dr_testagent *a = dr_alloc(sizeof *a);
    a->env = env;
    a->opts = *opts;
    memcpy(a->master_host, opts->master_host, strlen(opts->master_host) + 1);
    dr_strlcpy(a->master_path, opts->master_path ? opts->master_path : DEFAULT_PATH,
               sizeof a->master_path);
    dr_strlcpy(a->hostname, opts->hostname ? opts->hostname : host.hostname, sizeof a->hostname);
    dr_strlcpy(a->boot_id, host.boot_id, sizeof a->boot_id);
    a->opts.master_host = a->master_host;
    a->opts.master_path = a->master_path;
    a->opts.hostname = a->hostname;
    a->opts.resources = NULL;
    if (a->opts.port == 0)
        a->opts.port = 5051;
#define DEF(f, v)                                                                             \
    if (a->opts.f == 0)                                                                       \
    a->opts.f = (v)
    DEF(task_run_min_ns, 1 * DR_NS_PER_S);
    DEF(task_run_max_ns, 5 * DR_NS_PER_S);
    DEF(task_start_ns, 10 * DR_NS_PER_MS);
    DEF(update_retry_min_ns, 10 * DR_NS_PER_S);
    DEF(update_retry_max_ns, 600 * DR_NS_PER_S);
    DEF(register_backoff_min_ns, 1 * DR_NS_PER_S);
    DEF(register_backoff_max_ns, 60 * DR_NS_PER_S);
    DEF(call_timeout_ns, 10 * DR_NS_PER_S);
#undef DEF
    if (a->opts.task_run_max_ns < a->opts.task_run_min_ns)
        a->opts.task_run_max_ns = a->opts.task_run_min_ns;
    if (a->opts.update_retry_max_ns < a->opts.update_retry_min_ns)
        a->opts.update_retry_max_ns = a->opts.update_retry_min_ns;
    if (a->opts.register_backoff_max_ns < a->opts.register_backoff_min_ns)
        a->opts.register_backoff_max_ns = a->opts.register_backoff_min_ns;
    dr_resources_init(&a->total);
    dr_resources_move(&a->total, &total);
    dr_resources_init(&a->advertised);
    dr_resources_init(&a->used);
    advertise(a);
    dr_recordio_decoder_init(&a->dec, 0);
    dr_env_rng(env, "testagent.backoff", &a->backoff_rng);
    dr_env_rng(env, "testagent.uuids", &a->uuid_rng);
    dr_env_rng(env, "testagent.tasks", &a->task_rng);
    a->agent_id[0] = '\0';
    /* One connection for the REGISTER stream and one for calls: a master
     * serves thousands of agents and caps its connections. */
    dr_http_client_opts copts = {.timeout_ns = a->opts.call_timeout_ns, .conn_count_max = 2};
    rc = dr_http_client_create(env, a->master_host, a->opts.master_port, &copts, &a->client, err);
    if (rc != DR_OK) {
        dr_testagent_destroy(a);
        return rc;
    }
    register_send(a);
    *out = a;
    return DR_OK;
}

void dr_testagent_destroy(dr_testagent *a)
{
    if (a == NULL)
        return;
    dr_http_client_destroy(a->client); /* drops calls in flight without callbacks */
    while (a->calls != NULL) {
        call_ctx *cc = a->calls;
        a->calls = cc->next;
        dr_free(cc);
    }
    if (a->watchdog_timer != 0)
        dr_env_timer_cancel(a->env, a->watchdog_timer);
    if (a->backoff_timer != 0)
        dr_env_timer_cancel(a->env, a->backoff_timer);
    if (a->flush_timer != 0)
        dr_env_timer_cancel(a->env, a->flush_timer);
    dr_free(a->outbox);
    for (size_t i = 0; i < a->task_count; i++) {
        ta_task *t = a->tasks[i];
        if (t->life_timer != 0)
            dr_env_timer_cancel(a->env, t->life_timer);
        if (t->retry_timer != 0)
            dr_env_timer_cancel(a->env, t->retry_timer);
        task_free(t);
    }
    dr_free(a->tasks);
    dr_free(a->index);
    for (size_t i = 0; i < a->framework_count; i++) {
        dr_free(a->frameworks[i].id);
        dr_proto_free(&a->frameworks[i].info->base);
        dr_buf_deinit(&a->frameworks[i].wire);
    }
    dr_free(a->frameworks);
    dr_recordio_decoder_deinit(&a->dec);
    dr_resources_deinit(&a->total);
    dr_resources_deinit(&a->advertised);
    dr_resources_deinit(&a->used);
    dr_free(a);
}

/* ---- calls ------------------------------------------------------------------------- */


static void outbox_flush(dr_testagent *a);

static void call_done(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                      const dr_err *err, void *ctx)
{
    (void)env;
    (void)call;
    call_ctx *cc = ctx;
    dr_testagent *a = cc->a;
    uint64_t gen = cc->gen;
    bool updates = cc->updates;
    if (cc->prev != NULL)
        cc->prev->next = cc->next;
    else
        a->calls = cc->next;
    if (cc->next != NULL)
        cc->next->prev = cc->prev;
    dr_free(cc);
    if (updates) {
        DR_ASSERT(a->update_calls_in_flight > 0);
        a->update_calls_in_flight--;
        /* what queued up meanwhile goes now (unless a flush is due anyway) */
        if (a->update_calls_in_flight == 0 && a->outbox_count > 0 && a->flush_timer == 0)
            outbox_flush(a);
    }
    if (resp == NULL) {
        DR_DEBUG(a->env, "test agent: call failed: %s", err->msg);
        return; /* status updates are resent by their timers */
    }
    if (resp->status == 409 && gen == a->gen && a->registered) {
        stream_lost(a, "409: stale session");
        return;
    }
    if (resp->status != 202 && resp->status != 200)
        DR_INFO(a->env, "test agent: call answered %d: %.200s", resp->status,
                 (const char *)resp->body);
}

static const dr_http_call_cbs call_cbs = {.done = call_done};

/* Sends call (borrowed) on the current session; updates marks a
 * STATUS_UPDATE batch. Nothing happens when not registered: the caller's
 * retry timer covers it. */
static void call_send(dr_testagent *a, Dromos__Internal__AgentCall *call, bool updates)
{
    if (!a->registered)
        return;
    Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
    aid.value = a->agent_id;
    call->agent_id = &aid;
    call->session_id = a->session_id;
    dr_buf body;
    dr_buf_init(&body);
    dr_err err;
    if (dr_proto_encode(&call->base, &body, &err) != DR_OK) {
        DR_ERROR(a->env, "test agent: encoding a call: %s", err.msg);
        dr_buf_deinit(&body);
        return;
    }
    static const dr_http_header headers[] = {
        {(char *)"Content-Type", (char *)"application/x-protobuf"},
        {(char *)"Accept", (char *)"application/x-protobuf"},
    };
    dr_http_client_request req = {
        .method = "POST",
        .target = a->master_path,
        .headers = headers,
        .header_count = DR_ARRAY_COUNT(headers),
        .body = body.data,
        .body_size = body.size,
    };
    call_ctx *cc = dr_alloc(sizeof *cc);
    cc->a = a;
    cc->gen = a->gen;
    cc->updates = updates;
    if (dr_http_client_send(a->client, &req, &call_cbs, cc, NULL, &err) != DR_OK) {
        DR_DEBUG(a->env, "test agent: call not sent: %s", err.msg);
        dr_free(cc);
    } else {
        if (updates)
            a->update_calls_in_flight++;
        cc->next = a->calls;
        if (a->calls != NULL)
            a->calls->prev = cc;
        a->calls = cc;
    }
    dr_buf_deinit(&body);
}

/* ---- status updates ------------------------------------------------------------- */

static void uuid_draw(dr_testagent *a, uint8_t out[16])
{
    uint64_t x = dr_rng_next(&a->uuid_rng);
    uint64_t y = dr_rng_next(&a->uuid_rng);
    memcpy(out, &x, 8);
    memcpy(out + 8, &y, 8);
    out[6] = (uint8_t)((out[6] & 0x0f) | 0x40); /* version 4 */
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80); /* RFC 4122 variant */
}

/* The wire pieces of one queued update (borrowing from its task). */
typedef struct update_msg {
    Dromos__Internal__AgentCall__StatusUpdate su;
    Mesos__FrameworkID fid;
    Mesos__TaskStatus st;
    Mesos__TaskID tid;
    Mesos__AgentID aid;
    Mesos__ExecutorID eid;
} update_msg;

static void update_msg_fill(dr_testagent *a, const ta_outgoing *o, update_msg *um)
{
    const ta_task *t = o->task;
    const dr_testagent_update *u = &t->updates[o->index];
    Dromos__Internal__AgentCall__StatusUpdate su = DROMOS__INTERNAL__AGENT_CALL__STATUS_UPDATE__INIT;
    Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
    Mesos__TaskStatus st = MESOS__TASK_STATUS__INIT;
    Mesos__TaskID tid = MESOS__TASK_ID__INIT;
    Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
    Mesos__ExecutorID eid = MESOS__EXECUTOR_ID__INIT;
    um->su = su;
    um->fid = fid;
    um->st = st;
    um->tid = tid;
    um->aid = aid;
    um->eid = eid;
    um->fid.value = t->framework_id;
    um->tid.value = t->task_id;
    um->aid.value = a->agent_id;
    um->st.task_id = &um->tid;
    um->st.state = u->state;
    um->st.has_source = true;
    um->st.source = MESOS__TASK_STATUS__SOURCE__SOURCE_EXECUTOR;
    um->st.agent_id = &um->aid;
    um->st.has_uuid = true;
    um->st.uuid.data = (uint8_t *)u->uuid;
    um->st.uuid.len = sizeof u->uuid;
    um->st.has_timestamp = true;
    um->st.timestamp = (double)dr_env_wall(a->env) / 1e9;
    if (u->state == MESOS__TASK_STATE__TASK_FAILED)
        um->st.message = (char *)"command exited with a non-zero status";
    if (t->executor_id != NULL) {
        um->eid.value = t->executor_id;
        um->st.executor_id = &um->eid;
        um->su.executor_id = &um->eid;
    }
    um->su.framework_id = &um->fid;
    um->su.status = &um->st;
    um->su.has_latest_state = true;
    um->su.latest_state = t->state;
}

/* Sends the outbox in order, OUTBOX_BATCH_COUNT_MAX updates per call,
 * counting each update as sent (send_count, ...) now. An update acknowledged
 * since it was queued is left out. When no longer registered the updates are
 * dropped: their resend timers send them again on the next session. */
static void outbox_flush(dr_testagent *a)
{
    size_t done = 0;
    while (done < a->outbox_count && a->registered) {
        size_t n = 0;
        size_t room = DR_MIN(a->outbox_count - done, (size_t)OUTBOX_BATCH_COUNT_MAX);
        update_msg *ums = dr_alloc_array(room, sizeof *ums);
        Dromos__Internal__AgentCall__StatusUpdate **ptrs = dr_alloc_array(room, sizeof *ptrs);
        for (; done < a->outbox_count && n < room; done++) {
            const ta_outgoing *o = &a->outbox[done];
            dr_testagent_update *u = &o->task->updates[o->index];
            if (u->acked_ns != 0 && !o->acked_when_queued)
                continue;
            u->send_count++;
            u->last_sent_ns = dr_env_now(a->env);
            if (u->acked_ns != 0) {
                u->sent_after_ack_count++;
                a->info.sent_after_ack_count++;
            }
            a->info.update_send_count++;
            update_msg_fill(a, o, &ums[n]);
            ptrs[n] = &ums[n].su;
            n++;
        }
        if (n > 0) {
            Dromos__Internal__AgentCall call = DROMOS__INTERNAL__AGENT_CALL__INIT;
            call.type = DROMOS__INTERNAL__AGENT_CALL__TYPE__STATUS_UPDATE;
            call.n_status_updates = n;
            call.status_updates = ptrs;
            call_send(a, &call, true);
        }
        dr_free(ptrs);
        dr_free(ums);
    }
    a->outbox_count = 0;
}

static void flush_fire(dr_env *env, void *ctx)
{
    (void)env;
    dr_testagent *a = ctx;
    DR_ASSERT(a->flush_timer != 0);
    a->flush_timer = 0;
    if (a->update_calls_in_flight == 0)
        outbox_flush(a);
    /* else call_done flushes once the call in flight is answered */
}

/* Queues updates[i] of t for the next flush (see the file comment). */
static void send_update(ta_task *t, size_t i)
{
    dr_testagent *a = t->agent;
    dr_testagent_update *u = &t->updates[i];
    if (!a->registered)
        return;
    for (size_t k = 0; k < a->outbox_count; k++)
        if (a->outbox[k].task == t && a->outbox[k].index == i)
            return; /* already waiting (a resend timer fired meanwhile) */
    if (a->outbox_count == a->outbox_capacity) {
        a->outbox_capacity = a->outbox_capacity ? a->outbox_capacity * 2 : 16;
        a->outbox = dr_realloc(a->outbox, a->outbox_capacity * sizeof *a->outbox);
    }
    a->outbox[a->outbox_count++] =
        (ta_outgoing){.task = t, .index = i, .acked_when_queued = u->acked_ns != 0};
    if (a->flush_timer == 0)
        a->flush_timer = dr_env_timer_add(a->env, 0, flush_fire, a);
}

static void retry_fire(dr_env *env, void *ctx)
{
    (void)env;
    ta_task *t = ctx;
    DR_ASSERT(t->retry_timer != 0);
    t->retry_timer = 0;
    t->retry_ns = DR_MIN(t->retry_ns * 2, t->agent->opts.update_retry_max_ns);
    task_send_head(t);
}

/* Sends the head of t's stream (if any) and arms its resend timer. */
static void task_send_head(ta_task *t)
{
    dr_testagent *a = t->agent;
    if (t->retry_timer != 0)
        dr_env_timer_cancel(a->env, t->retry_timer);
    t->retry_timer = 0;
#if defined(DR_PLANTED_AGENT_RESEND_ACKED)
    /* planted: the latest acknowledged update goes out once more */
    if (t->acked_count > t->planted_resent_count) {
        t->planted_resent_count = t->acked_count;
        send_update(t, t->acked_count - 1);
    }
#endif
    if (t->acked_count == t->update_count)
        return;
    send_update(t, t->acked_count);
    if (t->retry_ns == 0)
        t->retry_ns = a->opts.update_retry_min_ns;
    t->retry_timer = dr_env_timer_add(a->env, t->retry_ns, retry_fire, t);
}

static void task_release(ta_task *t)
{
    if (!t->holds)
        return;
    t->holds = false;
    dr_resources_subtract(&t->agent->used, &t->res);
}

/* Generates an update: the task's state changes now (ground truth), the
 * update joins its stream, and goes out at once if it is the head. */
static void task_update(ta_task *t, Mesos__TaskState state)
{
    dr_testagent *a = t->agent;
    DR_ASSERT(!dr_testagent_state_terminal(t->state));
    t->state = state;
    if (dr_testagent_state_terminal(state)) {
        task_release(t);
        if (t->life_timer != 0)
            dr_env_timer_cancel(a->env, t->life_timer);
        t->life_timer = 0;
    }
    if (t->update_count == t->update_capacity) {
        t->update_capacity = t->update_capacity ? t->update_capacity * 2 : 4;
        t->updates = dr_realloc(t->updates, t->update_capacity * sizeof *t->updates);
    }
    dr_testagent_update *u = &t->updates[t->update_count++];
    memset(u, 0, sizeof *u);
    u->state = state;
    u->generated_ns = dr_env_now(a->env);
    uuid_draw(a, u->uuid);
#if defined(DR_PLANTED_AGENT_OUT_OF_ORDER)
    /* planted: a new update behind others goes out at once, ahead of them;
     * a new head waits for its resend timer */
    if (t->update_count - 1 > t->acked_count)
        send_update(t, t->update_count - 1);
    if (t->retry_timer == 0) {
        t->retry_ns = a->opts.update_retry_min_ns;
        t->retry_timer = dr_env_timer_add(a->env, t->retry_ns, retry_fire, t);
    }
#else
    if (t->update_count - 1 == t->acked_count) {
        t->retry_ns = 0;
        task_send_head(t);
    }
#endif
}

static void on_acknowledge(dr_testagent *a, const Dromos__Internal__AgentEvent__Acknowledge *ack)
{
    if (ack == NULL || ack->framework_id == NULL || ack->task_id == NULL)
        return;
    ta_task *t = task_find(a, ack->framework_id->value, ack->task_id->value);
    if (t == NULL || t->acked_count == t->update_count || ack->uuid.len != 16 ||
        memcmp(t->updates[t->acked_count].uuid, ack->uuid.data, 16) != 0) {
        a->info.ack_unknown_count++;
        return;
    }
    t->updates[t->acked_count].acked_ns = dr_env_now(a->env);
    t->acked_count++;
    a->info.ack_count++;
    t->retry_ns = 0;
    task_send_head(t);
}

/* ---- tasks ------------------------------------------------------------------------ */

static void life_fire(dr_env *env, void *ctx)
{
    (void)env;
    ta_task *t = ctx;
    DR_ASSERT(t->life_timer != 0);
    t->life_timer = 0;
    dr_testagent *a = t->agent;
    if (t->state == MESOS__TASK_STATE__TASK_STARTING) {
        task_update(t, MESOS__TASK_STATE__TASK_RUNNING);
        if (!t->forever)
            t->life_timer = dr_env_timer_add(a->env, t->run_ns, life_fire, t);
        return;
    }
    if (t->state == MESOS__TASK_STATE__TASK_RUNNING)
        task_update(t, t->exit_code == 0 ? MESOS__TASK_STATE__TASK_FINISHED
                                         : MESOS__TASK_STATE__TASK_FAILED);
}

/* The command conventions (see testagent.h). */
static void parse_command(dr_testagent *a, ta_task *t, const char *cmd)
{
    t->run_ns = a->opts.task_run_min_ns +
                dr_rng_below(&a->task_rng, a->opts.task_run_max_ns - a->opts.task_run_min_ns + 1);
    if (cmd == NULL)
        return;
    const char *p = cmd;
    while (*p != '\0') {
        while (*p == ' ' || *p == ';' || *p == '&')
            p++;
        if (strncmp(p, "sleep ", 6) == 0) {
            p += 6;
            if (strncmp(p, "inf", 3) == 0) {
                t->forever = true;
            } else {
                char *end = NULL;
                double sec = strtod(p, &end);
                if (end != p && sec >= 0 && sec < 1e9)
                    t->run_ns = (uint64_t)(sec * 1e9);
                p = end != p ? end : p + 1;
                continue;
            }
        } else if (strncmp(p, "exit ", 5) == 0) {
            p += 5;
            t->exit_code = atoi(p);
        }
        while (*p != '\0' && *p != ';' && *p != '&')
            p++;
    }
}

static void task_start(dr_testagent *a, const char *framework_id, const Mesos__TaskInfo *info,
                       const char *executor_id)
{
    if (info == NULL || info->task_id == NULL || info->task_id->value == NULL)
        return;
    a->info.run_task_count++;
    if (task_find(a, framework_id, info->task_id->value) != NULL) {
        a->info.run_task_dup_count++;
        return; /* idempotent: a duplicate RUN_TASK */
    }
    ta_task *t = dr_alloc(sizeof *t);
    t->agent = a;
    t->task_id = dr_strdup(info->task_id->value);
    t->framework_id = dr_strdup(framework_id);
    t->executor_id = executor_id != NULL ? dr_strdup(executor_id) : NULL;
    t->name = dr_strdup(info->name != NULL ? info->name : "");
    t->state = MESOS__TASK_STATE__TASK_STAGING;
    dr_resources_init(&t->res);
    dr_err err;
    if (dr_resources_from_array(&t->res, (const Mesos__Resource *const *)info->resources,
                                info->n_resources, &err) != DR_OK)
        DR_WARN(a->env, "test agent: task '%s': %s", t->task_id, err.msg);
    dr_resources_set_allocation_role(&t->res, NULL);
    parse_command(a, t, info->command != NULL ? info->command->value : NULL);

    if (a->task_count == a->task_capacity) {
        a->task_capacity = a->task_capacity ? a->task_capacity * 2 : 16;
        a->tasks = dr_realloc(a->tasks, a->task_capacity * sizeof *a->tasks);
    }
    a->tasks[a->task_count] = t;
    index_put(a, a->task_count);
    a->task_count++;

    dr_resources_add(&a->used, &t->res);
    t->holds = true;
    if (!dr_resources_contains(&a->total, &a->used))
        a->info.overcommit_count++; /* run anyway: the checkers must see it */
    task_update(t, MESOS__TASK_STATE__TASK_STARTING);
    t->life_timer = dr_env_timer_add(a->env, a->opts.task_start_ns, life_fire, t);
}

static void task_kill(ta_task *t)
{
    if (dr_testagent_state_terminal(t->state))
        return;
    task_update(t, MESOS__TASK_STATE__TASK_KILLED);
}

static void on_run_task(dr_testagent *a, const Dromos__Internal__AgentEvent__RunTask *rt)
{
    if (rt == NULL || rt->framework_info == NULL || rt->framework_info->id == NULL)
        return;
    framework_remember(a, rt->framework_info);
    const char *fw = rt->framework_info->id->value;
    const char *eid = rt->executor != NULL && rt->executor->executor_id != NULL
                          ? rt->executor->executor_id->value
                          : NULL;
    if (rt->task != NULL)
        task_start(a, fw, rt->task, eid);
    if (rt->task_group != NULL)
        for (size_t i = 0; i < rt->task_group->n_tasks; i++)
            task_start(a, fw, rt->task_group->tasks[i], eid);
}

static void on_kill_task(dr_testagent *a, const Dromos__Internal__AgentEvent__KillTask *k)
{
    if (k == NULL || k->framework_id == NULL || k->task_id == NULL)
        return;
    a->info.kill_count++;
    ta_task *t = task_find(a, k->framework_id->value, k->task_id->value);
    if (t != NULL) {
        task_kill(t);
        return;
    }
    /* Unknown task: TASK_LOST through a stream of its own (a task record
     * that never held resources). */
    ta_task *lost = dr_alloc(sizeof *lost);
    lost->agent = a;
    lost->task_id = dr_strdup(k->task_id->value);
    lost->framework_id = dr_strdup(k->framework_id->value);
    lost->name = dr_strdup("");
    lost->state = MESOS__TASK_STATE__TASK_STAGING;
    dr_resources_init(&lost->res);
    if (a->task_count == a->task_capacity) {
        a->task_capacity = a->task_capacity ? a->task_capacity * 2 : 16;
        a->tasks = dr_realloc(a->tasks, a->task_capacity * sizeof *a->tasks);
    }
    a->tasks[a->task_count] = lost;
    index_put(a, a->task_count);
    a->task_count++;
    task_update(lost, MESOS__TASK_STATE__TASK_LOST);
}

/* ---- registration ------------------------------------------------------------------ */

static void backoff_fire(dr_env *env, void *ctx)
{
    (void)env;
    dr_testagent *a = ctx;
    DR_ASSERT(a->backoff_timer != 0);
    a->backoff_timer = 0;
    register_send(a);
}

static void backoff_arm(dr_testagent *a)
{
    if (a->backoff_timer != 0 || a->info.shut_down)
        return;
    uint64_t base_ns = a->opts.register_backoff_min_ns;
    for (uint32_t i = 0; i < a->attempt_count && base_ns < a->opts.register_backoff_max_ns; i++)
        base_ns *= 2;
    base_ns = DR_MIN(base_ns, a->opts.register_backoff_max_ns);
    a->attempt_count++;
    uint64_t delay_ns = base_ns / 2 + dr_rng_below(&a->backoff_rng, base_ns / 2 + 1);
    a->backoff_timer = dr_env_timer_add(a->env, delay_ns, backoff_fire, a);
}

static void stream_lost(dr_testagent *a, const char *why)
{
    DR_INFO(a->env, "test agent: master stream lost: %s", why);
    if (a->stream_call != NULL)
        dr_http_call_cancel(a->stream_call);
    a->stream_call = NULL;
    a->registered = false;
    a->gen++;
    if (a->watchdog_timer != 0)
        dr_env_timer_cancel(a->env, a->watchdog_timer);
    a->watchdog_timer = 0;
    backoff_arm(a);
}

static void watchdog_fire(dr_env *env, void *ctx)
{
    dr_testagent *a = ctx;
    DR_ASSERT(a->watchdog_timer != 0);
    a->watchdog_timer = 0;
    uint64_t limit_ns = a->ping_interval_ns * PING_MISS_COUNT;
    uint64_t idle_ns = dr_env_now(env) - a->last_event_ns;
    if (idle_ns < limit_ns) {
        a->watchdog_timer = dr_env_timer_add(env, limit_ns - idle_ns, watchdog_fire, a);
        return;
    }
    stream_lost(a, "no ping from the master");
}

static void on_registered(dr_testagent *a, const Dromos__Internal__AgentEvent__Registered *r)
{
    if (r == NULL || r->agent_id == NULL || r->agent_id->value == NULL || r->session_id == NULL)
        return;
    dr_strlcpy(a->agent_id, r->agent_id->value, sizeof a->agent_id);
    dr_strlcpy(a->session_id, r->session_id, sizeof a->session_id);
    a->registered = true;
    a->attempt_count = 0;
    a->info.registered_count++;
    double s = r->ping_interval_seconds;
    a->ping_interval_ns = (s > 0 && s < 86400) ? (uint64_t)(s * 1e9) : 15 * DR_NS_PER_S;
    if (a->watchdog_timer != 0)
        dr_env_timer_cancel(a->env, a->watchdog_timer);
    a->watchdog_timer =
        dr_env_timer_add(a->env, a->ping_interval_ns * PING_MISS_COUNT, watchdog_fire, a);
    /* every pending head goes out again on the new session */
    for (size_t i = 0; i < a->task_count; i++) {
        ta_task *t = a->tasks[i];
        if (t->acked_count < t->update_count) {
            t->retry_ns = 0;
            task_send_head(t);
        }
    }
}

static void on_event(dr_testagent *a, const Dromos__Internal__AgentEvent *ev)
{
    switch (ev->type) {
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__REGISTERED:
        on_registered(a, ev->registered);
        break;
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__RUN_TASK:
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__RUN_TASK_GROUP:
        on_run_task(a, ev->run_task);
        break;
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__KILL_TASK:
        on_kill_task(a, ev->kill_task);
        break;
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__ACKNOWLEDGE:
        on_acknowledge(a, ev->acknowledge);
        break;
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN_FRAMEWORK:
        if (ev->shutdown_framework != NULL && ev->shutdown_framework->framework_id != NULL) {
            const char *fw = ev->shutdown_framework->framework_id->value;
            for (size_t i = 0; i < a->task_count; i++)
                if (strcmp(a->tasks[i]->framework_id, fw) == 0)
                    task_kill(a->tasks[i]);
        }
        break;
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN_EXECUTOR:
        if (ev->shutdown_executor != NULL && ev->shutdown_executor->framework_id != NULL &&
            ev->shutdown_executor->executor_id != NULL) {
            const char *fw = ev->shutdown_executor->framework_id->value;
            const char *ex = ev->shutdown_executor->executor_id->value;
            for (size_t i = 0; i < a->task_count; i++)
                if (strcmp(a->tasks[i]->framework_id, fw) == 0 &&
                    a->tasks[i]->executor_id != NULL && strcmp(a->tasks[i]->executor_id, ex) == 0)
                    task_kill(a->tasks[i]);
        }
        break;
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__PING:
        if (ev->ping != NULL) {
            a->info.ping_count++;
            Dromos__Internal__AgentCall call = DROMOS__INTERNAL__AGENT_CALL__INIT;
            Dromos__Internal__AgentCall__Pong pong = DROMOS__INTERNAL__AGENT_CALL__PONG__INIT;
            pong.sequence = ev->ping->sequence;
            call.type = DROMOS__INTERNAL__AGENT_CALL__TYPE__PONG;
            call.pong = &pong;
            call_send(a, &call, false);
        }
        break;
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__UPDATE_FRAMEWORK:
        if (ev->update_framework != NULL)
            framework_remember(a, ev->update_framework->framework_info);
        break;
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN:
        DR_WARN(a->env, "test agent: the master shut this agent down: %s",
                ev->shutdown != NULL && ev->shutdown->message ? ev->shutdown->message : "");
        for (size_t i = 0; i < a->task_count; i++)
            task_kill(a->tasks[i]);
        a->info.shut_down = true;
        stream_lost(a, "shut down");
        break;
    default:
        break; /* FRAMEWORK_MESSAGE: no executor to give it to */
    }
}

typedef struct feed_ctx {
    dr_testagent *a;
    uint64_t gen;
    bool bad;
} feed_ctx;

static bool on_record(const uint8_t *data, size_t size, void *ctx)
{
    feed_ctx *fc = ctx;
    dr_testagent *a = fc->a;
    if (a->gen != fc->gen)
        return false;
    dr_arena arena;
    dr_arena_init(&arena);
    ProtobufCMessage *msg = NULL;
    dr_err err;
    if (dr_proto_decode(&dromos__internal__agent_event__descriptor, data, size, &arena, &msg,
                        &err) != DR_OK) {
        DR_WARN(a->env, "test agent: bad event: %s", err.msg);
        dr_arena_deinit(&arena);
        fc->bad = true;
        return false;
    }
    a->last_event_ns = dr_env_now(a->env);
    on_event(a, (const Dromos__Internal__AgentEvent *)msg);
    dr_arena_deinit(&arena);
    return a->gen == fc->gen;
}

static void stream_head(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                        void *ctx)
{
    (void)env;
    (void)call;
    dr_testagent *a = ctx;
    a->stream_status = resp->status;
}

static void stream_chunk(dr_env *env, dr_http_call *call, const uint8_t *data, size_t size,
                         void *ctx)
{
    (void)env;
    (void)call;
    dr_testagent *a = ctx;
    if (a->stream_status != 200) {
        DR_INFO(a->env, "test agent: REGISTER answered %d: %.*s", a->stream_status,
                (int)DR_MIN(size, 200u), (const char *)data);
        return;
    }
    feed_ctx fc = {.a = a, .gen = a->gen};
    dr_err err;
    dr_code rc = dr_recordio_decoder_feed(&a->dec, data, size, on_record, &fc, &err);
    if (a->gen != fc.gen)
        return;
    if (fc.bad)
        stream_lost(a, "undecodable event");
    else if (rc != DR_OK && rc != DR_ECANCELED)
        stream_lost(a, err.msg);
}

static void stream_done(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                        const dr_err *err, void *ctx)
{
    (void)env;
    (void)call;
    dr_testagent *a = ctx;
    a->stream_call = NULL;
    char why[300];
    if (resp == NULL)
        snprintf(why, sizeof why, "%s", err->msg);
    else
        snprintf(why, sizeof why, "REGISTER stream ended (status %d)", resp->status);
    stream_lost(a, why);
}

static const dr_http_call_cbs stream_cbs = {
    .head = stream_head, .chunk = stream_chunk, .done = stream_done};

/* Builds a mesos.Task (pointers into t and the scratch arrays) for REGISTER. */
static void task_report(const dr_testagent *a, const ta_task *t, Mesos__Task *out,
                        Mesos__TaskID *tid, Mesos__FrameworkID *fid, Mesos__AgentID *aid,
                        Mesos__ExecutorID *eid)
{
    mesos__task__init(out);
    mesos__task_id__init(tid);
    mesos__framework_id__init(fid);
    mesos__agent_id__init(aid);
    mesos__executor_id__init(eid);
    tid->value = t->task_id;
    fid->value = t->framework_id;
    aid->value = (char *)a->agent_id;
    out->name = t->name;
    out->task_id = tid;
    out->framework_id = fid;
    out->agent_id = aid;
    if (t->executor_id != NULL) {
        eid->value = t->executor_id;
        out->executor_id = eid;
    }
    out->state = t->state;
    out->n_resources = t->res.count;
    out->resources = t->res.items;
    if (t->acked_count < t->update_count) {
        const dr_testagent_update *u = &t->updates[t->acked_count];
        out->has_status_update_state = true;
        out->status_update_state = u->state;
        out->has_status_update_uuid = true;
        out->status_update_uuid.data = (uint8_t *)u->uuid;
        out->status_update_uuid.len = sizeof u->uuid;
    }
}

static void register_send(dr_testagent *a)
{
    DR_ASSERT(a->stream_call == NULL);
    if (a->info.shut_down)
        return;
    a->gen++;
    a->registered = false;
    a->stream_status = 0;
    dr_recordio_decoder_deinit(&a->dec);
    dr_recordio_decoder_init(&a->dec, 0);
    a->info.register_count++;
    DR_DEBUG(a->env, "test agent: REGISTER as '%s' with %zu tasks", a->agent_id, a->task_count);

    /* what it runs: live tasks and those whose updates wait for acks */
    size_t n = 0;
    for (size_t i = 0; i < a->task_count; i++) {
        const ta_task *t = a->tasks[i];
        if (!dr_testagent_state_terminal(t->state) || t->acked_count < t->update_count)
            n++;
    }
#if defined(DR_PLANTED_AGENT_FORGET_TASKS)
    n = 0; /* planted: re-registers as if it ran nothing */
#endif
    Mesos__Task *tasks = n ? dr_alloc_array(n, sizeof *tasks) : NULL;
    Mesos__Task **task_ptrs = n ? dr_alloc_array(n, sizeof *task_ptrs) : NULL;
    Mesos__TaskID *tids = n ? dr_alloc_array(n, sizeof *tids) : NULL;
    Mesos__FrameworkID *fids = n ? dr_alloc_array(n, sizeof *fids) : NULL;
    Mesos__AgentID *aids = n ? dr_alloc_array(n, sizeof *aids) : NULL;
    Mesos__ExecutorID *eids = n ? dr_alloc_array(n, sizeof *eids) : NULL;
    size_t k = 0;
    for (size_t i = 0; i < a->task_count && k < n; i++) {
        const ta_task *t = a->tasks[i];
        if (dr_testagent_state_terminal(t->state) && t->acked_count == t->update_count)
            continue;
        task_report(a, t, &tasks[k], &tids[k], &fids[k], &aids[k], &eids[k]);
        task_ptrs[k] = &tasks[k];
        k++;
    }
    Mesos__FrameworkInfo **fws =
        a->framework_count ? dr_alloc_array(a->framework_count, sizeof *fws) : NULL;
    for (size_t i = 0; i < a->framework_count; i++)
        fws[i] = a->frameworks[i].info;

    Dromos__Internal__AgentCall call = DROMOS__INTERNAL__AGENT_CALL__INIT;
    Dromos__Internal__AgentCall__Register reg = DROMOS__INTERNAL__AGENT_CALL__REGISTER__INIT;
    Mesos__AgentInfo info = MESOS__AGENT_INFO__INIT;
    Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
    info.hostname = a->hostname;
    info.has_port = true;
    info.port = a->opts.port;
    info.n_resources = a->advertised.count;
    info.resources = a->advertised.items;
    if (a->agent_id[0] != '\0') {
        aid.value = a->agent_id;
        info.id = &aid;
        call.agent_id = &aid;
    }
    reg.agent_info = &info;
    reg.n_tasks = n;
    reg.tasks = task_ptrs;
    reg.n_frameworks = a->framework_count;
    reg.frameworks = fws;
    reg.boot_id = a->boot_id;
    reg.version = (char *)"1.11.0";
    call.type = DROMOS__INTERNAL__AGENT_CALL__TYPE__REGISTER;
    call.register_ = &reg;

    dr_buf body;
    dr_buf_init(&body);
    dr_err err;
    dr_code rc = dr_proto_encode(&call.base, &body, &err);
    if (rc == DR_OK) {
        static const dr_http_header headers[] = {
            {(char *)"Content-Type", (char *)"application/x-protobuf"},
            {(char *)"Accept", (char *)"application/x-protobuf, application/recordio"},
            {(char *)"Message-Accept", (char *)"application/x-protobuf"},
        };
        dr_http_client_request req = {
            .method = "POST",
            .target = a->master_path,
            .headers = headers,
            .header_count = DR_ARRAY_COUNT(headers),
            .body = body.data,
            .body_size = body.size,
            .stream = true,
        };
        rc = dr_http_client_send(a->client, &req, &stream_cbs, a, &a->stream_call, &err);
    }
    dr_buf_deinit(&body);
    dr_free(tasks);
    dr_free(task_ptrs);
    dr_free(tids);
    dr_free(fids);
    dr_free(aids);
    dr_free(eids);
    dr_free(fws);
    if (rc != DR_OK) {
        DR_WARN(a->env, "test agent: REGISTER not sent: %s", err.msg);
        backoff_arm(a);
    }
}

/* ---- ground truth ------------------------------------------------------------------- */

void dr_testagent_get_info(const dr_testagent *a, dr_testagent_info *out)
{
    *out = a->info;
    out->agent_id = a->agent_id;
    out->registered = a->registered;
}

size_t dr_testagent_task_count(const dr_testagent *a) { return a->task_count; }

void dr_testagent_task_at(const dr_testagent *a, size_t index, dr_testagent_task *out)
{
    DR_ASSERT(index < a->task_count);
    const ta_task *t = a->tasks[index];
    out->task_id = t->task_id;
    out->framework_id = t->framework_id;
    out->state = t->state;
    out->holds_resources = t->holds;
    out->resources = &t->res;
    out->update_count = t->update_count;
    out->updates = t->updates;
    out->acked_count = t->acked_count;
}

size_t dr_testagent_task_find(const dr_testagent *a, const char *framework_id,
                              const char *task_id)
{
    const ta_task *t = task_find(a, framework_id, task_id);
    if (t == NULL)
        return SIZE_MAX;
    for (size_t i = 0; i < a->task_count; i++)
        if (a->tasks[i] == t)
            return i;
    DR_UNREACHABLE();
}

const dr_resources *dr_testagent_total(const dr_testagent *a) { return &a->total; }
const dr_resources *dr_testagent_used(const dr_testagent *a) { return &a->used; }
const dr_resources *dr_testagent_advertised(const dr_testagent *a) { return &a->advertised; }

/* ---- command line ------------------------------------------------------------------- */

static dr_code parse_u64(const char *flag, const char *text, uint64_t max, uint64_t *out,
                         dr_err *err)
{
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || *end != '\0' || v > max || text[0] == '-')
        return dr_err_set(err, DR_EINVAL, "--%s '%s': expected a number 0-%llu", flag, text,
                          (unsigned long long)max);
    *out = v;
    return DR_OK;
}

dr_code dr_testagent_parse_args(int argc, char **argv, dr_testagent_opts *opts, char *host_buf,
                                size_t host_size, dr_err *err)
{
    memset(opts, 0, sizeof *opts);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0)
            return dr_err_set(err, DR_EINVAL, "unexpected argument '%s'", arg);
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        char key[64];
        const char *value;
        if (eq != NULL) {
            size_t len = (size_t)(eq - name);
            if (len >= sizeof key)
                return dr_err_set(err, DR_EINVAL, "unknown flag '%s'", arg);
            memcpy(key, name, len);
            key[len] = '\0';
            value = eq + 1;
        } else {
            if (!dr_strlcpy(key, name, sizeof key))
                return dr_err_set(err, DR_EINVAL, "unknown flag '%s'", arg);
            if (i + 1 >= argc)
                return dr_err_set(err, DR_EINVAL, "--%s needs a value", key);
            value = argv[++i];
        }
        uint64_t v = 0;
        dr_code rc = DR_OK;
        if (strcmp(key, "master") == 0) {
            const char *colon = strrchr(value, ':');
            if (colon == NULL || colon == value || (size_t)(colon - value) >= host_size)
                return dr_err_set(err, DR_EINVAL, "--master '%s': expected HOST:PORT", value);
            rc = parse_u64("master", colon + 1, 65535, &v, err);
            if (rc != DR_OK || v == 0)
                return dr_err_set(err, DR_EINVAL, "--master '%s': expected HOST:PORT", value);
            memcpy(host_buf, value, (size_t)(colon - value));
            host_buf[colon - value] = '\0';
            opts->master_host = host_buf;
            opts->master_port = (uint16_t)v;
        } else if (strcmp(key, "resources") == 0) {
            opts->resources = value;
        } else if (strcmp(key, "hostname") == 0) {
            opts->hostname = value;
        } else if (strcmp(key, "port") == 0) {
            rc = parse_u64(key, value, 65535, &v, err);
            opts->port = (uint16_t)v;
        } else if (strcmp(key, "task_run_min_ms") == 0) {
            rc = parse_u64(key, value, UINT64_C(1) << 40, &v, err);
            opts->task_run_min_ns = v * DR_NS_PER_MS;
        } else if (strcmp(key, "task_run_max_ms") == 0) {
            rc = parse_u64(key, value, UINT64_C(1) << 40, &v, err);
            opts->task_run_max_ns = v * DR_NS_PER_MS;
        } else if (strcmp(key, "update_retry_min_ms") == 0) {
            rc = parse_u64(key, value, UINT64_C(1) << 40, &v, err);
            opts->update_retry_min_ns = v * DR_NS_PER_MS;
        } else if (strcmp(key, "update_retry_max_ms") == 0) {
            rc = parse_u64(key, value, UINT64_C(1) << 40, &v, err);
            opts->update_retry_max_ns = v * DR_NS_PER_MS;
        } else if (strcmp(key, "register_backoff_min_ms") == 0) {
            rc = parse_u64(key, value, UINT64_C(1) << 40, &v, err);
            opts->register_backoff_min_ns = v * DR_NS_PER_MS;
        } else if (strcmp(key, "register_backoff_max_ms") == 0) {
            rc = parse_u64(key, value, UINT64_C(1) << 40, &v, err);
            opts->register_backoff_max_ns = v * DR_NS_PER_MS;
        } else {
            return dr_err_set(err, DR_EINVAL, "unknown flag '--%s'", key);
        }
        if (rc != DR_OK)
            return rc;
    }
    if (opts->master_host == NULL)
        return dr_err_set(err, DR_EINVAL, "--master HOST:PORT is required");
    return DR_OK;
}
