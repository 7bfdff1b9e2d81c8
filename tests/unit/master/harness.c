/* tests/unit/master/harness.c — see harness.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "src/resources/resources.h"

static void *pb_clone(const void *msg)
{
    const ProtobufCMessage *pm = msg;
    dr_buf buf;
    dr_buf_init(&buf);
    dr_err err;
    assert_int_equal(dr_proto_encode(pm, &buf, &err), DR_OK);
    ProtobufCMessage *out = NULL;
    assert_int_equal(dr_proto_decode(pm->descriptor, buf.data, buf.size, NULL, &out, &err), DR_OK);
    dr_buf_deinit(&buf);
    return out;
}

static void *blank_start(dr_env *env, int argc, char **argv)
{
    DR_UNUSED(env);
    DR_UNUSED(argc);
    DR_UNUSED(argv);
    return dr_alloc(1);
}

static void blank_end(void *state) { dr_free(state); }

static const dr_sim_program blank_program = {"blank", blank_start, blank_end, blank_end};

static dr_env *start_host(world *w, const char *name, int slot)
{
    dr_sim_host_id h = dr_sim_host_add(w->sim, name);
    const char *argv[] = {"blank", NULL};
    dr_err err;
    dr_pid pid = dr_sim_process_start(w->sim, h, argv, &err);
    assert_true(pid > 0);
    w->host_envs[slot] = dr_sim_process_env(w->sim, pid);
    if (slot == 0)
        w->master_pid = pid;
    return w->host_envs[slot];
}

void world_init(world *w, uint64_t seed, const dr_master_opts *opts)
{
    memset(w, 0, sizeof *w);
    dr_sim_opts so;
    memset(&so, 0, sizeof so);
    so.seed = seed;
    so.scenario = "master-unit";
    if (getenv("MASTER_TEST_LOG") != NULL) {
        so.log_out = stderr;
        so.log_level = DR_LOG_DEBUG;
    }
    w->sim = dr_sim_create(&so);
    dr_sim_register_program(w->sim, &blank_program);
    w->master_env = start_host(w, "master-1", 0);
    dr_master_opts o;
    if (opts != NULL)
        o = *opts;
    else
        dr_master_opts_default(&o);
    o.listen_host = "master-1";
    o.port = 5050;
    dr_err err;
    dr_code rc = dr_master_create(w->master_env, &o, &w->master, &err);
    if (rc != DR_OK)
        fail_msg("dr_master_create: %s", err.msg);
    w->port = dr_master_port(w->master);
    assert_int_equal(w->port, 5050);
}

void world_run(world *w, uint64_t delta_ns)
{
    dr_sim_run_until(w->sim, dr_sim_now(w->sim) + delta_ns);
}

void world_deinit(world *w)
{
    for (int i = 0; i < 3; i++) {
        sched *s = &w->scheds[i];
        if (s->w == NULL)
            continue;
        dr_http_client_destroy(s->client);
        dr_recordio_decoder_deinit(&s->dec);
        sched_clear(s);
    }
    for (int i = 0; i < 3; i++) {
        fake_agent *a = &w->agents[i];
        if (a->w == NULL)
            continue;
        dr_http_client_destroy(a->client);
        dr_recordio_decoder_deinit(&a->dec);
        for (size_t k = 0; k < a->task_count; k++) {
            dr_proto_free(&a->tasks[k].info->base);
            dr_proto_free(&a->tasks[k].fwinfo->base);
        }
    }
    dr_master_destroy(w->master);
    dr_sim_destroy(w->sim);
}

/* ---- schedulers ------------------------------------------------------------------ */

sched *sched_new(world *w, int index, dr_http_codec codec)
{
    sched *s = &w->scheds[index];
    memset(s, 0, sizeof *s);
    s->w = w;
    char name[32];
    snprintf(name, sizeof name, "sched-%d", index + 1);
    s->env = start_host(w, name, 1 + index);
    s->codec = codec;
    dr_err err;
    assert_int_equal(dr_http_client_create(s->env, "master-1", w->port, NULL, &s->client, &err),
                     DR_OK);
    dr_recordio_decoder_init(&s->dec, 0);
    return s;
}

void sched_clear(sched *s)
{
    for (size_t i = 0; i < s->event_count; i++)
        dr_proto_free(&s->events[i]->base);
    dr_free(s->events);
    s->events = NULL;
    s->event_count = 0;
}

static bool on_event_record(const uint8_t *data, size_t size, void *ctx)
{
    sched *s = ctx;
    ProtobufCMessage *msg = NULL;
    dr_err err;
    dr_code rc = s->codec == DR_HTTP_CODEC_PROTOBUF
                     ? dr_proto_decode(&mesos__scheduler__event__descriptor, data, size, NULL,
                                       &msg, &err)
                     : dr_json_decode(&mesos__scheduler__event__descriptor, (const char *)data,
                                      size, NULL, &msg, &err);
    if (rc != DR_OK)
        fail_msg("event does not decode: %s", err.msg);
    Mesos__Scheduler__Event *ev = (Mesos__Scheduler__Event *)msg;
    if (ev->type == MESOS__SCHEDULER__EVENT__TYPE__SUBSCRIBED)
        dr_strlcpy(s->fw_id, ev->subscribed->framework_id->value, sizeof s->fw_id);
    s->events = dr_realloc(s->events, (s->event_count + 1) * sizeof *s->events);
    s->events[s->event_count++] = ev;
    return true;
}

static void sub_head(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                     void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(call);
    sched *s = ctx;
    s->sub_status = resp->status;
    const char *id = dr_http_headers_get(&resp->headers, "Mesos-Stream-Id");
    if (id != NULL)
        dr_strlcpy(s->stream_id, id, sizeof s->stream_id);
}

static void sub_chunk(dr_env *env, dr_http_call *call, const uint8_t *data, size_t size,
                      void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(call);
    sched *s = ctx;
    dr_err err;
    dr_code rc = dr_recordio_decoder_feed(&s->dec, data, size, on_event_record, s, &err);
    if (rc != DR_OK)
        fail_msg("recordio: %s", err.msg);
}

static void sub_done(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                     const dr_err *err, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(call);
    DR_UNUSED(resp);
    DR_UNUSED(err);
    sched *s = ctx;
    s->stream_done = true;
    s->stream_call = NULL;
}

static const dr_http_call_cbs sub_cbs = {.head = sub_head, .chunk = sub_chunk, .done = sub_done};

static void subscribe_body(sched *s, const char *extra_json, bool pa, dr_buf *body)
{
    char json[2048];
    char idpart[256] = "";
    if (s->fw_id[0] != '\0')
        snprintf(idpart, sizeof idpart, ",\"id\":{\"value\":\"%s\"}", s->fw_id);
    char callid[256] = "";
    if (s->fw_id[0] != '\0')
        snprintf(callid, sizeof callid, "\"framework_id\":{\"value\":\"%s\"},", s->fw_id);
    snprintf(json, sizeof json,
             "{\"type\":\"SUBSCRIBE\",%s\"subscribe\":{\"framework_info\":{\"user\":\"u\","
             "\"name\":\"fw\"%s%s%s}}}",
             callid, idpart,
             pa ? ",\"capabilities\":[{\"type\":\"PARTITION_AWARE\"}]" : "", extra_json);
    if (s->codec == DR_HTTP_CODEC_JSON) {
        dr_buf_append_str(body, json);
        return;
    }
    ProtobufCMessage *msg = NULL;
    dr_err err;
    assert_int_equal(dr_json_decode(&mesos__scheduler__call__descriptor, json, strlen(json), NULL,
                                    &msg, &err),
                     DR_OK);
    assert_int_equal(dr_proto_encode(msg, body, &err), DR_OK);
    dr_proto_free(msg);
}

static void subscribe_impl(sched *s, const char *extra_json, bool pa)
{
    dr_buf body;
    dr_buf_init(&body);
    subscribe_body(s, extra_json, pa, &body);
    const char *ct = dr_http_codec_media_type(s->codec);
    dr_http_header headers[] = {{"Content-Type", (char *)ct}, {"Accept", (char *)ct}};
    dr_http_client_request req = {.method = "POST", .target = "/api/v1/scheduler",
                                  .headers = headers, .header_count = 2, .body = body.data,
                                  .body_size = body.size, .stream = true};
    s->sub_status = 0;
    s->stream_done = false;
    s->stream_id[0] = '\0';
    dr_recordio_decoder_deinit(&s->dec);
    dr_recordio_decoder_init(&s->dec, 0);
    dr_err err;
    assert_int_equal(dr_http_client_send(s->client, &req, &sub_cbs, s, &s->stream_call, &err),
                     DR_OK);
    dr_buf_deinit(&body);
}

void sched_subscribe_start(sched *s, const char *extra_json)
{
    subscribe_impl(s, extra_json, false);
}

void sched_subscribe(sched *s, const char *extra_json)
{
    subscribe_impl(s, extra_json, false);
    world_run(s->w, 100 * DR_NS_PER_MS);
}
void sched_subscribe_pa(sched *s, const char *extra_json)
{
    subscribe_impl(s, extra_json, true);
    world_run(s->w, 100 * DR_NS_PER_MS);
}

void sched_disconnect(sched *s)
{
    if (s->stream_call != NULL)
        dr_http_call_cancel(s->stream_call);
    s->stream_call = NULL;
    s->stream_id[0] = '\0';
    world_run(s->w, 100 * DR_NS_PER_MS);
}

static void call_done(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                      const dr_err *err, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(call);
    sched *s = ctx;
    s->call_done = true;
    if (resp == NULL) {
        s->call_status = -1;
        dr_strlcpy(s->call_body, err->msg, sizeof s->call_body);
        return;
    }
    s->call_status = resp->status;
    size_t n = DR_MIN(resp->body_size, sizeof s->call_body - 1);
    memcpy(s->call_body, resp->body, n);
    while (n > 0 && s->call_body[n - 1] == '\n')
        n--; /* error bodies end with a newline */
    s->call_body[n] = '\0';
}

static const dr_http_call_cbs call_cbs = {.done = call_done};

const dr_http_call_cbs *harness_sched_call_cbs(void) { return &call_cbs; }

int sched_call_raw(sched *s, const char *content_type, const char *stream_id, const void *body,
                   size_t size)
{
    dr_http_header headers[3];
    size_t n = 0;
    if (content_type != NULL)
        headers[n++] = (dr_http_header){"Content-Type", (char *)content_type};
    if (stream_id != NULL)
        headers[n++] = (dr_http_header){"Mesos-Stream-Id", (char *)stream_id};
    dr_http_client_request req = {.method = "POST", .target = "/api/v1/scheduler",
                                  .headers = headers, .header_count = n, .body = body,
                                  .body_size = size};
    s->call_done = false;
    s->call_body[0] = '\0';
    dr_err err;
    assert_int_equal(dr_http_client_send(s->client, &req, &call_cbs, s, NULL, &err), DR_OK);
    for (int i = 0; i < 1000 && !s->call_done; i++)
        world_run(s->w, DR_NS_PER_MS);
    assert_true(s->call_done);
    return s->call_status;
}

int sched_call(sched *s, const char *fmt, ...)
{
    char body[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    return sched_call_raw(s, "application/json", s->stream_id, body, strlen(body));
}

size_t sched_count(const sched *s, Mesos__Scheduler__Event__Type type)
{
    size_t n = 0;
    for (size_t i = 0; i < s->event_count; i++)
        n += s->events[i]->type == type;
    return n;
}

const Mesos__Scheduler__Event *sched_event(const sched *s, Mesos__Scheduler__Event__Type type,
                                           size_t index)
{
    for (size_t i = 0; i < s->event_count; i++)
        if (s->events[i]->type == type && index-- == 0)
            return s->events[i];
    return NULL;
}

const Mesos__Scheduler__Event *sched_last(const sched *s, Mesos__Scheduler__Event__Type type)
{
    for (size_t i = s->event_count; i-- > 0;)
        if (s->events[i]->type == type)
            return s->events[i];
    return NULL;
}

int sched_accept_task(sched *s, const char *offer_id, const char *agent_id, const char *task_id,
                      const char *resources_json)
{
    return sched_call(
        s,
        "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"ACCEPT\",\"accept\":{\"offer_ids\":"
        "[{\"value\":\"%s\"}],\"operations\":[{\"type\":\"LAUNCH\",\"launch\":{\"task_infos\":"
        "[{\"name\":\"t\",\"task_id\":{\"value\":\"%s\"},\"agent_id\":{\"value\":\"%s\"},"
        "\"resources\":%s,\"command\":{\"value\":\"sleep 1000\"}}]}}],"
        "\"filters\":{\"refuse_seconds\":0}}}",
        s->fw_id, offer_id, task_id, agent_id, resources_json);
}

int sched_ack(sched *s, const Mesos__TaskStatus *st)
{
    dr_buf b64;
    dr_buf_init(&b64);
    dr_base64_encode(st->uuid.data, st->uuid.len, &b64);
    int rc = sched_call(s,
                        "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"ACKNOWLEDGE\","
                        "\"acknowledge\":{\"agent_id\":{\"value\":\"%s\"},\"task_id\":"
                        "{\"value\":\"%s\"},\"uuid\":\"%s\"}}",
                        s->fw_id, st->agent_id->value, st->task_id->value, dr_buf_cstr(&b64));
    dr_buf_deinit(&b64);
    return rc;
}

/* ---- the fake agent ------------------------------------------------------------------- */

static void agent_post_done(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                            const dr_err *err, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(call);
    DR_UNUSED(err);
    fake_agent *a = ctx;
    a->last_call_status = resp != NULL ? resp->status : -1;
}

static const dr_http_call_cbs agent_post_cbs = {.done = agent_post_done};

const dr_http_call_cbs *harness_agent_post_cbs(void) { return &agent_post_cbs; }

static void agent_post(fake_agent *a, Dromos__Internal__AgentCall *call)
{
    dr_buf body;
    dr_buf_init(&body);
    dr_err err;
    assert_int_equal(dr_proto_encode(&call->base, &body, &err), DR_OK);
    dr_http_header headers[] = {{"Content-Type", "application/x-protobuf"}};
    dr_http_client_request req = {.method = "POST", .target = "/internal/agent",
                                  .headers = headers, .header_count = 1, .body = body.data,
                                  .body_size = body.size};
    assert_int_equal(dr_http_client_send(a->client, &req, &agent_post_cbs, a, NULL, &err), DR_OK);
    dr_buf_deinit(&body);
}

static void agent_send_update(fake_agent *a, fa_task *t)
{
    Mesos__TaskID tid = MESOS__TASK_ID__INIT;
    tid.value = t->id;
    Mesos__TaskStatus st = MESOS__TASK_STATUS__INIT;
    st.task_id = &tid;
    st.state = t->state;
    st.has_uuid = true;
    st.uuid.len = 16;
    st.uuid.data = t->uuid;
    st.has_source = true;
    st.source = MESOS__TASK_STATUS__SOURCE__SOURCE_EXECUTOR;
    Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
    fid.value = t->fw_id;
    Dromos__Internal__AgentCall__StatusUpdate up = DROMOS__INTERNAL__AGENT_CALL__STATUS_UPDATE__INIT;
    up.framework_id = &fid;
    up.status = &st;
    Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
    aid.value = a->agent_id;
    Dromos__Internal__AgentCall call = DROMOS__INTERNAL__AGENT_CALL__INIT;
    call.type = DROMOS__INTERNAL__AGENT_CALL__TYPE__STATUS_UPDATE;
    call.agent_id = &aid;
    call.session_id = a->session;
    call.status_update = &up;
    agent_post(a, &call);
}

void agent_set_state(fake_agent *a, fa_task *t, Mesos__TaskState state)
{
    t->state = state;
    a->uuid_counter++;
    memset(t->uuid, 0, sizeof t->uuid);
    memcpy(t->uuid, &a->uuid_counter, sizeof a->uuid_counter);
    t->uuid[15] = 0x42;
    t->pending = true;
    if (a->registered)
        agent_send_update(a, t);
}

fa_task *agent_task(fake_agent *a, const char *task_id)
{
    for (size_t i = 0; i < a->task_count; i++)
        if (strcmp(a->tasks[i].id, task_id) == 0)
            return &a->tasks[i];
    return NULL;
}

static void resend_fire(dr_env *env, void *ctx)
{
    fake_agent *a = ctx;
    a->resend_timer = dr_env_timer_add(env, DR_NS_PER_S, resend_fire, a);
    if (!a->registered)
        return;
    for (size_t i = 0; i < a->task_count; i++)
        if (a->tasks[i].pending)
            agent_send_update(a, &a->tasks[i]);
}

static bool on_agent_event(const uint8_t *data, size_t size, void *ctx)
{
    fake_agent *a = ctx;
    ProtobufCMessage *msg = NULL;
    dr_err err;
    if (dr_proto_decode(&dromos__internal__agent_event__descriptor, data, size, NULL, &msg,
                        &err) != DR_OK)
        fail_msg("agent event does not decode: %s", err.msg);
    Dromos__Internal__AgentEvent *ev = (Dromos__Internal__AgentEvent *)msg;
    if ((unsigned)ev->type < 16)
        a->event_counts[ev->type]++;
    switch (ev->type) {
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__REGISTERED:
        dr_strlcpy(a->agent_id, ev->registered->agent_id->value, sizeof a->agent_id);
        dr_strlcpy(a->session, ev->registered->session_id, sizeof a->session);
        a->registered = true;
        break;
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__PING:
        if (a->answer_pings) {
            Dromos__Internal__AgentCall__Pong p = DROMOS__INTERNAL__AGENT_CALL__PONG__INIT;
            p.sequence = ev->ping->sequence;
            Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
            aid.value = a->agent_id;
            Dromos__Internal__AgentCall call = DROMOS__INTERNAL__AGENT_CALL__INIT;
            call.type = DROMOS__INTERNAL__AGENT_CALL__TYPE__PONG;
            call.agent_id = &aid;
            call.session_id = a->session;
            call.pong = &p;
            agent_post(a, &call);
        }
        break;
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__RUN_TASK:
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__RUN_TASK_GROUP: {
        Dromos__Internal__AgentEvent__RunTask *run = ev->run_task;
        Mesos__TaskInfo **tis = run->task != NULL ? &run->task : run->task_group->tasks;
        size_t n = run->task != NULL ? 1 : run->task_group->n_tasks;
        for (size_t i = 0; i < n; i++) {
            assert_true(a->task_count < DR_ARRAY_COUNT(a->tasks));
            fa_task *t = &a->tasks[a->task_count++];
            memset(t, 0, sizeof *t);
            dr_strlcpy(t->fw_id, run->framework_info->id->value, sizeof t->fw_id);
            dr_strlcpy(t->id, tis[i]->task_id->value, sizeof t->id);
            t->info = pb_clone(tis[i]);
            t->fwinfo = pb_clone(run->framework_info);
            t->state = MESOS__TASK_STATE__TASK_STAGING;
            if (a->answer_run)
                agent_set_state(a, t, MESOS__TASK_STATE__TASK_RUNNING);
        }
        break;
    }
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__KILL_TASK: {
        fa_task *t = agent_task(a, ev->kill_task->task_id->value);
        if (t != NULL && t->state != MESOS__TASK_STATE__TASK_KILLED)
            agent_set_state(a, t, MESOS__TASK_STATE__TASK_KILLED);
        break;
    }
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__ACKNOWLEDGE: {
        fa_task *t = agent_task(a, ev->acknowledge->task_id->value);
        if (t != NULL && ev->acknowledge->uuid.len == 16 &&
            memcmp(ev->acknowledge->uuid.data, t->uuid, 16) == 0)
            t->pending = false;
        break;
    }
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN:
        dr_strlcpy(a->last_shutdown,
                   ev->shutdown->message != NULL ? ev->shutdown->message : "", sizeof a->last_shutdown);
        break;
    default:
        break;
    }
    dr_proto_free(msg);
    return true;
}

static void reg_head(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                     void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(call);
    fake_agent *a = ctx;
    a->reg_status = resp->status;
}

static void reg_chunk(dr_env *env, dr_http_call *call, const uint8_t *data, size_t size, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(call);
    fake_agent *a = ctx;
    if (a->reg_status != 200)
        return; /* an error answer's text */
    dr_err err;
    if (dr_recordio_decoder_feed(&a->dec, data, size, on_agent_event, a, &err) != DR_OK)
        fail_msg("agent recordio: %s", err.msg);
}

static void reg_done(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                     const dr_err *err, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(call);
    DR_UNUSED(resp);
    DR_UNUSED(err);
    fake_agent *a = ctx;
    a->registered = false;
    a->stream_call = NULL;
}

static const dr_http_call_cbs reg_cbs = {.head = reg_head, .chunk = reg_chunk, .done = reg_done};

fake_agent *agent_new(world *w, int index, const char *hostname, const char *resources)
{
    fake_agent *a = &w->agents[index];
    memset(a, 0, sizeof *a);
    a->w = w;
    a->env = start_host(w, hostname, 4 + index);
    dr_strlcpy(a->hostname, hostname, sizeof a->hostname);
    a->resources = resources;
    a->answer_pings = true;
    a->answer_run = true;
    dr_err err;
    assert_int_equal(dr_http_client_create(a->env, "master-1", w->port, NULL, &a->client, &err),
                     DR_OK);
    dr_recordio_decoder_init(&a->dec, 0);
    a->resend_timer = dr_env_timer_add(a->env, DR_NS_PER_S, resend_fire, a);
    return a;
}

void agent_register(fake_agent *a)
{
    dr_resources rs;
    dr_resources_init(&rs);
    dr_err err;
    assert_int_equal(dr_resources_parse(a->resources, &rs, &err), DR_OK);
    Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
    aid.value = a->agent_id;
    Mesos__AgentInfo info = MESOS__AGENT_INFO__INIT;
    info.hostname = a->hostname;
    info.has_port = true;
    info.port = 5051;
    info.n_resources = rs.count;
    info.resources = rs.items;
    if (a->agent_id[0] != '\0')
        info.id = &aid;
    Mesos__Task tasks[32];
    Mesos__Task *task_ptrs[32];
    Mesos__FrameworkInfo *fws[32];
    Mesos__FrameworkID fids[32];
    Mesos__TaskStatus sts[32];
    Mesos__TaskStatus *st_ptrs[32];
    size_t fw_count = 0;
    for (size_t i = 0; i < a->task_count; i++) {
        fa_task *t = &a->tasks[i];
        Mesos__Task init = MESOS__TASK__INIT;
        tasks[i] = init;
        tasks[i].name = t->info->name;
        tasks[i].task_id = t->info->task_id;
        Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
        fids[i] = fid;
        fids[i].value = t->fw_id;
        tasks[i].framework_id = &fids[i];
        tasks[i].agent_id = &aid;
        tasks[i].state = t->state;
        tasks[i].n_resources = t->info->n_resources;
        tasks[i].resources = t->info->resources;
        Mesos__TaskStatus sinit = MESOS__TASK_STATUS__INIT;
        sts[i] = sinit;
        sts[i].task_id = t->info->task_id;
        sts[i].state = t->state;
        st_ptrs[i] = &sts[i];
        tasks[i].n_statuses = 1;
        tasks[i].statuses = &st_ptrs[i];
        task_ptrs[i] = &tasks[i];
        bool seen = false;
        for (size_t k = 0; k < fw_count; k++)
            seen = seen || strcmp(fws[k]->id->value, t->fw_id) == 0;
        if (!seen)
            fws[fw_count++] = t->fwinfo;
    }
    Dromos__Internal__AgentCall__Register reg = DROMOS__INTERNAL__AGENT_CALL__REGISTER__INIT;
    reg.agent_info = &info;
    reg.n_tasks = a->task_count;
    reg.tasks = task_ptrs;
    reg.n_frameworks = fw_count;
    reg.frameworks = fws;
    reg.version = "test";
    Dromos__Internal__AgentCall call = DROMOS__INTERNAL__AGENT_CALL__INIT;
    call.type = DROMOS__INTERNAL__AGENT_CALL__TYPE__REGISTER;
    call.register_ = &reg;
    if (a->agent_id[0] != '\0')
        call.agent_id = &aid;
    dr_buf body;
    dr_buf_init(&body);
    assert_int_equal(dr_proto_encode(&call.base, &body, &err), DR_OK);
    dr_http_header headers[] = {{"Content-Type", "application/x-protobuf"}};
    dr_http_client_request req = {.method = "POST", .target = "/internal/agent",
                                  .headers = headers, .header_count = 1, .body = body.data,
                                  .body_size = body.size, .stream = true};
    dr_recordio_decoder_deinit(&a->dec);
    dr_recordio_decoder_init(&a->dec, 0);
    assert_int_equal(dr_http_client_send(a->client, &req, &reg_cbs, a, &a->stream_call, &err),
                     DR_OK);
    dr_buf_deinit(&body);
    dr_resources_deinit(&rs);
    world_run(a->w, 100 * DR_NS_PER_MS);
}

void agent_disconnect(fake_agent *a)
{
    if (a->stream_call != NULL)
        dr_http_call_cancel(a->stream_call);
    a->stream_call = NULL;
    a->registered = false;
    world_run(a->w, 100 * DR_NS_PER_MS);
}

void agent_send_message(fake_agent *a, const char *fw_id, const char *executor_id, const char *data)
{
    Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
    fid.value = (char *)fw_id;
    Mesos__ExecutorID eid = MESOS__EXECUTOR_ID__INIT;
    eid.value = (char *)executor_id;
    Dromos__Internal__AgentCall__FrameworkMessage fm =
        DROMOS__INTERNAL__AGENT_CALL__FRAMEWORK_MESSAGE__INIT;
    fm.framework_id = &fid;
    fm.executor_id = &eid;
    fm.data.data = (uint8_t *)data;
    fm.data.len = strlen(data);
    Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
    aid.value = a->agent_id;
    Dromos__Internal__AgentCall call = DROMOS__INTERNAL__AGENT_CALL__INIT;
    call.type = DROMOS__INTERNAL__AGENT_CALL__TYPE__FRAMEWORK_MESSAGE;
    call.agent_id = &aid;
    call.session_id = a->session;
    call.framework_message = &fm;
    agent_post(a, &call);
    world_run(a->w, 100 * DR_NS_PER_MS);
}

void agent_unregister(fake_agent *a)
{
    Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
    aid.value = a->agent_id;
    Dromos__Internal__AgentCall call = DROMOS__INTERNAL__AGENT_CALL__INIT;
    call.type = DROMOS__INTERNAL__AGENT_CALL__TYPE__UNREGISTER;
    call.agent_id = &aid;
    call.session_id = a->session;
    agent_post(a, &call);
    world_run(a->w, 100 * DR_NS_PER_MS);
}

void world_restart_master(world *w)
{
    dr_master_destroy(w->master);
    dr_master_opts o;
    dr_master_opts_default(&o);
    o.listen_host = "master-1";
    o.port = 5050;
    dr_err err;
    if (dr_master_create(w->master_env, &o, &w->master, &err) != DR_OK)
        fail_msg("dr_master_create: %s", err.msg);
    world_run(w, 100 * DR_NS_PER_MS);
}

void agent_send_stale(fake_agent *a, fa_task *t, Mesos__TaskState state)
{
    Mesos__TaskState real = t->state;
    uint8_t uuid[16];
    memcpy(uuid, t->uuid, 16);
    t->state = state;
    memset(t->uuid, 0x77, 16);
    agent_send_update(a, t);
    t->state = real;
    memcpy(t->uuid, uuid, 16);
    world_run(a->w, 100 * DR_NS_PER_MS);
}
