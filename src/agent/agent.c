/* src/agent/agent.c — the agent's lifecycle: create (work dir lock,
 * resources, recovery, HTTP endpoints), registration with the master over the
 * internal protocol (a REGISTER stream of AgentEvents, calls with the
 * session id), dispatch of the master's events, recovery of executors found
 * in the checkpoint, graceful shutdown and destroy.
 *
 * Leaves executors, tasks and the status update manager to tasks.c, the
 * executor API to executor_api.c, the operator API to operator.c and the
 * files under meta/ to checkpoint.c.
 */
#include "agent_int.h"

#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MASTER_PATH "/internal/agent"
#define PING_TIMEOUT_COUNT 5u /* missed pings before the agent registers again */
#define DEFAULT_PING_INTERVAL_NS (15 * DR_NS_PER_S)

static void register_send(dr_agent *a);
static void register_backoff(dr_agent *a);
static void recovery_done(dr_agent *a);

/* ---- helpers -------------------------------------------------------------------- */

void *dr__agent_clone(const void *msg)
{
    const ProtobufCMessage *m = msg;
    dr_buf buf;
    dr_buf_init(&buf);
    dr_err err;
    if (dr_proto_encode(m, &buf, &err) != DR_OK)
        dr_assert_fail(__FILE__, __LINE__, err.msg);
    ProtobufCMessage *out = NULL;
    if (dr_proto_decode(m->descriptor, buf.data, buf.size, NULL, &out, &err) != DR_OK)
        dr_assert_fail(__FILE__, __LINE__, err.msg);
    dr_buf_deinit(&buf);
    return out;
}

void dr__agent_fail(dr_agent *a, const char *fmt, ...)
{
    if (a->failure != NULL)
        return; /* the first failure is the one to report */
    dr_buf buf;
    dr_buf_init(&buf);
    va_list ap;
    va_start(ap, fmt);
    dr_buf_vprintf(&buf, fmt, ap);
    va_end(ap);
    a->failure = dr_strdup(dr_buf_cstr(&buf));
    dr_buf_deinit(&buf);
    DR_ERROR(a->env, "agent: %s", a->failure);
}

/* Ids become path components: refuse what could escape or confuse a path. */
bool dr__agent_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n >= DR_AGENT_ID_SIZE_MAX || strcmp(id, ".") == 0 || strcmp(id, "..") == 0 ||
        strcmp(id, "latest") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        if (c == '/' || c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

void dr__agent_new_uuid(dr_agent *a, uint8_t out[16])
{
    uint64_t hi = dr_rng_next(&a->id_rng), lo = dr_rng_next(&a->id_rng);
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(hi >> (8 * i));
        out[8 + i] = (uint8_t)(lo >> (8 * i));
    }
    out[6] = (uint8_t)((out[6] & 0x0f) | 0x40); /* version 4 */
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80); /* RFC 4122 variant */
}

static void uuid_text(const uint8_t u[16], char out[40])
{
    snprintf(out, 40,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
             u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
             u[14], u[15]);
}

static char **argv_copy(const char *const *argv, const char *a0, const char *a1)
{
    size_t n = 0;
    if (argv != NULL)
        while (argv[n] != NULL)
            n++;
    char **out = dr_alloc_array(n + 3, sizeof *out);
    if (argv == NULL) {
        out[0] = dr_strdup(a0);
        out[1] = dr_strdup(a1);
        return out;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = dr_strdup(argv[i]);
    return out;
}

static void argv_free(char **argv)
{
    for (size_t i = 0; argv != NULL && argv[i] != NULL; i++)
        dr_free(argv[i]);
    dr_free(argv);
}

static char *opt_dup(const char *s) { return s != NULL ? dr_strdup(s) : NULL; }

/* ---- resources and attributes ----------------------------------------------------- */

static dr_code detect_resources(dr_agent *a, const dr_host_info *host, dr_err *err)
{
    dr_resources_init(&a->total);
    if (a->opts.resources != NULL && a->opts.resources[0] != '\0') {
        dr_code rc = dr_resources_parse(a->opts.resources, &a->total, err);
        if (rc != DR_OK)
            return rc;
    }
    dr_resources named;
    dr_resources_init(&named);
    dr_resources_named(&a->total, "cpus", &named);
    if (dr_resources_is_empty(&named)) {
        Mesos__Resource *r = dr_resource_new_scalar("cpus", NULL, host->cpu_count);
        dr_resources_add_one(&a->total, r);
        dr_resource_free(r);
    }
    dr_resources_named(&a->total, "mem", &named);
    if (dr_resources_is_empty(&named)) {
        uint64_t mem_mb = host->mem_bytes / (1024 * 1024);
        uint64_t reserve_mb = a->opts.mem_reserve_bytes / (1024 * 1024);
        if (reserve_mb == 0)
            reserve_mb = mem_mb >= 2048 ? 1024 : mem_mb / 2;
        Mesos__Resource *r = dr_resource_new_scalar("mem", NULL, (double)(mem_mb - reserve_mb));
        dr_resources_add_one(&a->total, r);
        dr_resource_free(r);
    }
    dr_resources_named(&a->total, "disk", &named);
    if (dr_resources_is_empty(&named)) {
        uint64_t free_bytes = 0, total_bytes = 0;
        dr_err derr;
        double disk_mb = 0;
        if (dr_env_disk_space(a->env, a->opts.work_dir, &free_bytes, &total_bytes, &derr) == DR_OK) {
            uint64_t mb = total_bytes / (1024 * 1024);
            uint64_t reserve_mb = mb >= 10240 ? 5120 : mb / 2; /* Mesos keeps 5 GB or half */
            disk_mb = (double)(mb - reserve_mb);
        } else {
            DR_WARN(a->env, "agent: disk space of '%s': %s", a->opts.work_dir, derr.msg);
        }
        Mesos__Resource *r = dr_resource_new_scalar("disk", NULL, disk_mb);
        dr_resources_add_one(&a->total, r);
        dr_resource_free(r);
    }
    dr_resources_named(&a->total, "ports", &named);
    if (dr_resources_is_empty(&named)) {
        const uint64_t pairs[] = {31000, 32000};
        Mesos__Resource *r = dr_resource_new_ranges("ports", NULL, pairs, 1);
        dr_resources_add_one(&a->total, r);
        dr_resource_free(r);
    }
    dr_resources_deinit(&named);
    return DR_OK;
}

static Mesos__Attribute *attribute_new(const char *name, const char *value, dr_err *err)
{
    Mesos__Attribute *at = dr_alloc(sizeof *at);
    mesos__attribute__init(at);
    at->name = dr_strdup(name);
    char *end = NULL;
    double d = strtod(value, &end);
    if (value[0] != '[' && value[0] != '{' && end != value && *end == '\0') {
        at->type = MESOS__VALUE__TYPE__SCALAR;
        at->scalar = dr_alloc(sizeof *at->scalar);
        mesos__value__scalar__init(at->scalar);
        at->scalar->value = d;
        return at;
    }
    if (value[0] == '[' || value[0] == '{') {
        /* the resources parser knows Mesos's range and set syntax */
        char *text = dr_sprintf("x:%s", value);
        dr_resources rs;
        dr_resources_init(&rs);
        dr_code rc = dr_resources_parse(text, &rs, err);
        dr_free(text);
        if (rc != DR_OK || rs.count != 1) {
            dr_resources_deinit(&rs);
            dr_free(at->name);
            dr_free(at);
            if (rc == DR_OK)
                dr_err_set(err, DR_EINVAL, "empty value");
            return NULL;
        }
        Mesos__Resource *r = rs.items[0];
        if (r->ranges != NULL) {
            at->type = MESOS__VALUE__TYPE__RANGES;
            at->ranges = dr__agent_clone(r->ranges);
        } else {
            at->type = MESOS__VALUE__TYPE__SET;
            at->set = dr__agent_clone(r->set);
        }
        dr_resources_deinit(&rs);
        return at;
    }
    at->type = MESOS__VALUE__TYPE__TEXT;
    at->text = dr_alloc(sizeof *at->text);
    mesos__value__text__init(at->text);
    at->text->value = dr_strdup(value);
    return at;
}

/* "rack:a;zone:b;size:3;range:[1-2];set:{a,b}" into info->attributes. */
static dr_code parse_attributes(Mesos__AgentInfo *info, const char *text, dr_err *err)
{
    char *copy = dr_strdup(text);
    char *save = NULL;
    dr_code rc = DR_OK;
    for (char *tok = strtok_r(copy, ";", &save); tok != NULL && rc == DR_OK;
         tok = strtok_r(NULL, ";", &save)) {
        while (*tok == ' ')
            tok++;
        if (*tok == '\0')
            continue;
        char *colon = strchr(tok, ':');
        if (colon == NULL || colon == tok || colon[1] == '\0') {
            rc = dr_err_set(err, DR_EINVAL, "attributes '%s': expected NAME:VALUE", tok);
            break;
        }
        *colon = '\0';
        dr_err aerr;
        Mesos__Attribute *at = attribute_new(tok, colon + 1, &aerr);
        if (at == NULL) {
            rc = dr_err_set(err, DR_EINVAL, "attributes '%s:%s': %s", tok, colon + 1, aerr.msg);
            break;
        }
        info->attributes =
            dr_realloc(info->attributes, (info->n_attributes + 1) * sizeof *info->attributes);
        info->attributes[info->n_attributes++] = at;
    }
    dr_free(copy);
    return rc;
}

static void info_build(dr_agent *a)
{
    Mesos__AgentInfo *info = dr_alloc(sizeof *info);
    mesos__agent_info__init(info);
    info->hostname = dr_strdup(a->hostname);
    info->has_port = true;
    info->port = dr_http_server_port(a->server);
    info->n_resources = a->total.count;
    info->resources = dr_alloc_array(a->total.count + 1, sizeof *info->resources);
    for (size_t i = 0; i < a->total.count; i++)
        info->resources[i] = dr_resource_copy(a->total.items[i]);
    a->info = info;
}

/* Sets info->id (after REGISTERED or recovery). */
static void info_set_id(dr_agent *a)
{
    Mesos__AgentInfo *info = a->info;
    if (info->id == NULL) {
        info->id = dr_alloc(sizeof *info->id);
        mesos__agent_id__init(info->id);
    } else {
        dr_free(info->id->value);
    }
    info->id->value = dr_strdup(a->agent_id);
}

/* ---- calls to the master -------------------------------------------------------------- */

static void call_done(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                      const dr_err *err, void *ctx)
{
    (void)env, (void)call;
    dr_agent *a = ctx;
    if (resp == NULL) {
        DR_DEBUG(a->env, "agent: call to the master: %s", err->msg);
        return;
    }
    if (resp->status == 409 && a->state == DR__AGENT_REGISTERED) {
        /* a newer session exists (or the master forgot us): register again */
        DR_INFO(a->env, "agent: master refused our session (409): registering again");
        if (a->reg_call != NULL)
            dr_http_call_cancel(a->reg_call);
        a->reg_call = NULL;
        a->state = DR__AGENT_DISCONNECTED;
        register_backoff(a);
    } else if (resp->status >= 300) {
        DR_DEBUG(a->env, "agent: call to the master answered %d", resp->status);
    }
}

static const dr_http_call_cbs call_cbs = {.done = call_done};

static dr_code post(dr_agent *a, const Dromos__Internal__AgentCall *call, bool stream,
                    const dr_http_call_cbs *cbs, dr_http_call **out, dr_err *err)
{
    dr_buf body;
    dr_buf_init(&body);
    dr_code rc = dr_proto_encode(&call->base, &body, err);
    if (rc == DR_OK) {
        const dr_http_header headers[] = {
            {(char *)"Content-Type", (char *)DR_HTTP_MEDIA_PROTOBUF},
            {(char *)"Accept", (char *)DR_HTTP_MEDIA_PROTOBUF},
        };
        dr_http_client_request req = {
            .method = "POST",
            .target = MASTER_PATH,
            .headers = headers,
            .header_count = DR_ARRAY_COUNT(headers),
            .body = body.data,
            .body_size = body.size,
            .stream = stream,
        };
        rc = dr_http_client_send(a->master, &req, cbs, a, out, err);
    }
    dr_buf_deinit(&body);
    return rc;
}

void dr__agent_call(dr_agent *a, Dromos__Internal__AgentCall *call)
{
    if (a->state != DR__AGENT_REGISTERED)
        return;
    Mesos__AgentID id = MESOS__AGENT_ID__INIT;
    id.value = a->agent_id;
    call->agent_id = &id;
    call->session_id = a->session_id;
    dr_err err;
    if (post(a, call, false, &call_cbs, NULL, &err) != DR_OK)
        DR_WARN(a->env, "agent: call to the master: %s", err.msg);
    call->agent_id = NULL;
    call->session_id = NULL;
}

/* ---- registration ------------------------------------------------------------------------- */

static Mesos__Task *task_view(const dr_agent *a, const dr__agent_task *t)
{
    Mesos__Task *task = dr_alloc(sizeof *task);
    mesos__task__init(task);
    task->name = dr_strdup(t->info->name != NULL ? t->info->name : "");
    task->task_id = dr__agent_clone(t->info->task_id);
    task->framework_id = dr__agent_clone(t->ex->fw->info->id);
    task->executor_id = t->ex->generated ? NULL : dr__agent_clone(t->ex->info->executor_id);
    task->agent_id = dr_alloc(sizeof *task->agent_id);
    mesos__agent_id__init(task->agent_id);
    task->agent_id->value = dr_strdup(a->agent_id);
    task->state = t->state;
    task->n_resources = t->info->n_resources;
    task->resources = dr_alloc_array(t->info->n_resources + 1, sizeof *task->resources);
    for (size_t i = 0; i < t->info->n_resources; i++)
        task->resources[i] = dr_resource_copy(t->info->resources[i]);
    if (t->latest != NULL) {
        task->n_statuses = 1;
        task->statuses = dr_alloc(sizeof *task->statuses);
        task->statuses[0] = dr__agent_clone(t->latest);
    }
    if (t->head != NULL) {
        task->has_status_update_state = true;
        task->status_update_state = t->head->status->state;
        task->has_status_update_uuid = true;
        task->status_update_uuid.len = t->head->status->uuid.len;
        task->status_update_uuid.data = dr_alloc(t->head->status->uuid.len + 1);
        memcpy(task->status_update_uuid.data, t->head->status->uuid.data,
               t->head->status->uuid.len);
    }
    if (t->info->labels != NULL)
        task->labels = dr__agent_clone(t->info->labels);
    return task;
}

static void stream_head(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                        void *ctx)
{
    (void)env, (void)call;
    dr_agent *a = ctx;
    a->reg_status = resp->status;
}

static void send_pong(dr_agent *a, uint64_t sequence)
{
    Dromos__Internal__AgentCall call = DROMOS__INTERNAL__AGENT_CALL__INIT;
    Dromos__Internal__AgentCall__Pong pong = DROMOS__INTERNAL__AGENT_CALL__PONG__INIT;
    call.type = DROMOS__INTERNAL__AGENT_CALL__TYPE__PONG;
    pong.sequence = sequence;
    call.pong = &pong;
    dr__agent_call(a, &call);
}

static void watchdog_fire(dr_env *env, void *ctx)
{
    dr_agent *a = ctx;
    a->ping_timer = 0;
    if (a->state != DR__AGENT_REGISTERED && a->state != DR__AGENT_REGISTERING)
        return;
    uint64_t limit_ns = a->ping_interval_ns * PING_TIMEOUT_COUNT;
    uint64_t quiet_ns = dr_env_now(env) - a->last_event_ns;
    if (quiet_ns < limit_ns) {
        a->ping_timer = dr_env_timer_add(env, limit_ns - quiet_ns, watchdog_fire, a);
        return;
    }
    DR_WARN(env, "agent: no word from the master for %.1fs: registering again",
            (double)quiet_ns / 1e9);
    if (a->reg_call != NULL)
        dr_http_call_cancel(a->reg_call);
    a->reg_call = NULL;
    a->state = DR__AGENT_DISCONNECTED;
    register_backoff(a);
}

static void on_registered(dr_agent *a, const Dromos__Internal__AgentEvent__Registered *r)
{
    if (!dr__agent_id_valid(r->agent_id->value)) {
        DR_WARN(a->env, "agent: master gave an unusable agent id '%s'", r->agent_id->value);
        return;
    }
    bool new_id = strcmp(a->agent_id, r->agent_id->value) != 0;
    if (new_id && a->agent_id[0] != '\0' && a->framework_count > 0) {
        /* the master does not know us any more: Mesos would shut everything
         * down; the tasks it does not know are reported by it as lost */
        DR_WARN(a->env, "agent: registered as '%s' (was '%s')", r->agent_id->value,
                a->agent_id);
    }
    dr_strlcpy(a->agent_id, r->agent_id->value, sizeof a->agent_id);
    dr_strlcpy(a->session_id, r->session_id, sizeof a->session_id);
    info_set_id(a);
    if (new_id) {
        dr_err err;
        char *path = dr__agent_meta_path(a, "slaves/%s/slave.info", a->agent_id);
        char *latest = dr__agent_meta_path(a, "slaves/latest");
        dr_code rc = dr__agent_ckpt_write_msg(a, path, &a->info->base, &err);
        if (rc == DR_OK)
            rc = dr__agent_ckpt_symlink(a, a->agent_id, latest, true, &err);
        dr_free(latest);
        dr_free(path);
        if (rc != DR_OK)
            dr__agent_fail(a, "%s", err.msg);
    }
    double interval = r->ping_interval_seconds;
    a->ping_interval_ns = interval > 0 && interval < 3600 ? (uint64_t)(interval * 1e9)
                                                          : DEFAULT_PING_INTERVAL_NS;
    a->state = DR__AGENT_REGISTERED;
    a->reg_backoff_ns = 0;
    a->counters.registrations++;
    DR_INFO(a->env, "agent: registered with the master as '%s'", a->agent_id);
    dr__agent_sum_resend_all(a);
}

static void dispatch(dr_agent *a, const Dromos__Internal__AgentEvent *ev)
{
    if (ev->type != DROMOS__INTERNAL__AGENT_EVENT__TYPE__REGISTERED &&
        a->state != DR__AGENT_REGISTERED)
        return; /* events before REGISTERED mean nothing */
    switch (ev->type) {
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__REGISTERED:
        if (ev->registered != NULL)
            on_registered(a, ev->registered);
        break;
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__RUN_TASK:
        if (ev->run_task != NULL)
            dr__agent_run_task(a, ev->run_task, false);
        break;
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__RUN_TASK_GROUP:
        if (ev->run_task != NULL)
            dr__agent_run_task(a, ev->run_task, true);
        break;
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__KILL_TASK:
        if (ev->kill_task != NULL)
            dr__agent_kill_task(a, ev->kill_task);
        break;
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__ACKNOWLEDGE:
        if (ev->acknowledge != NULL)
            dr__agent_sum_ack(a, ev->acknowledge->framework_id->value, ev->acknowledge->task_id->value,
                        &ev->acknowledge->uuid);
        break;
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN_FRAMEWORK:
        if (ev->shutdown_framework != NULL)
            dr__agent_shutdown_framework(a, ev->shutdown_framework->framework_id->value);
        break;
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN_EXECUTOR: {
        const Dromos__Internal__AgentEvent__ShutdownExecutor *se = ev->shutdown_executor;
        if (se == NULL)
            break;
        dr__agent_framework *fw = dr__agent_framework_find(a, se->framework_id->value);
        dr__agent_executor *ex = fw != NULL ? dr__agent_executor_find(fw, se->executor_id->value) : NULL;
        if (ex == NULL) {
            DR_INFO(a->env, "agent: SHUTDOWN of executor '%s' of framework '%s': not here",
                    se->executor_id->value, se->framework_id->value);
            break;
        }
        DR_INFO(a->env, "agent: shutting down executor '%s' of framework '%s' (asked by the framework)",
                ex->id, fw->id);
        dr__agent_executor_shutdown(a, ex, MESOS__TASK_STATUS__REASON__REASON_EXECUTOR_TERMINATED,
                                    "Executor shut down by the framework");
        break;
    }
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__FRAMEWORK_MESSAGE: {
        const Dromos__Internal__AgentEvent__FrameworkMessage *m = ev->framework_message;
        if (m == NULL)
            break;
        dr__agent_framework *fw = dr__agent_framework_find(a, m->framework_id->value);
        dr__agent_executor *ex = fw != NULL ? dr__agent_executor_find(fw, m->executor_id->value) : NULL;
        if (ex == NULL || ex->stream == NULL) {
            a->counters.messages_invalid++;
            break;
        }
        Mesos__Executor__Event out = MESOS__EXECUTOR__EVENT__INIT;
        Mesos__Executor__Event__Message msg = MESOS__EXECUTOR__EVENT__MESSAGE__INIT;
        out.has_type = true;
        out.type = MESOS__EXECUTOR__EVENT__TYPE__MESSAGE;
        msg.data = m->data;
        out.message = &msg;
        dr__agent_executor_send(a, ex, &out);
        a->counters.messages_valid++;
        break;
    }
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__PING:
        if (ev->ping != NULL)
            send_pong(a, ev->ping->sequence);
        break;
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__UPDATE_FRAMEWORK: {
        if (ev->update_framework == NULL || ev->update_framework->framework_info->id == NULL)
            break;
        const Mesos__FrameworkInfo *fi = ev->update_framework->framework_info;
        dr__agent_framework *fw = dr__agent_framework_find(a, fi->id->value);
        if (fw == NULL)
            break;
        dr_proto_free(&fw->info->base);
        fw->info = dr__agent_clone(fi);
        dr_err err;
        if (fw->checkpoint && dr__agent_ckpt_framework(a, fw, &err) != DR_OK)
            DR_WARN(a->env, "agent: %s", err.msg);
        break;
    }
    case DROMOS__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN: {
        DR_WARN(a->env, "agent: the master removed this agent: %s",
                ev->shutdown != NULL && ev->shutdown->message != NULL ? ev->shutdown->message
                                                                       : "(no reason)");
        for (dr__agent_framework *fw = a->frameworks; fw != NULL; fw = fw->next)
            for (dr__agent_executor *ex = fw->executors; ex != NULL; ex = ex->next)
                dr__agent_executor_shutdown(a, ex, MESOS__TASK_STATUS__REASON__REASON_AGENT_REMOVED,
                                      "the agent was removed by the master");
        /* the next start must register as a new agent, as Mesos's does */
        char *latest = dr__agent_meta_path(a, "slaves/latest");
        char *slaves = dr__agent_meta_path(a, "slaves");
        dr_err err;
        if (dr_env_unlink(a->env, latest, &err) != DR_OK && err.code != DR_ENOENT)
            DR_WARN(a->env, "agent: %s", err.msg);
        else if (dr_env_fsync_dir(a->env, slaves, &err) != DR_OK)
            DR_WARN(a->env, "agent: %s", err.msg);
        dr_free(slaves);
        dr_free(latest);
        dr__agent_fail(a, "removed by the master");
        break;
    }
    default:
        break;
    }
}

typedef struct feed_ctx {
    dr_agent *a;
    uint64_t gen;
    dr_err err;
} feed_ctx;

static bool on_record(const uint8_t *data, size_t size, void *ctx)
{
    feed_ctx *fc = ctx;
    dr_agent *a = fc->a;
    if (a->reg_gen != fc->gen)
        return false;
    dr_arena arena;
    dr_arena_init(&arena);
    ProtobufCMessage *msg = NULL;
    if (dr_proto_decode(&dromos__internal__agent_event__descriptor, data, size, &arena, &msg,
                        &fc->err) != DR_OK) {
        dr_arena_deinit(&arena);
        return false;
    }
    a->last_event_ns = dr_env_now(a->env);
    dispatch(a, (const Dromos__Internal__AgentEvent *)msg);
    dr_arena_deinit(&arena);
    return a->reg_gen == fc->gen;
}

static void stream_chunk(dr_env *env, dr_http_call *call, const uint8_t *data, size_t size,
                         void *ctx)
{
    (void)env, (void)call;
    dr_agent *a = ctx;
    if (a->reg_status != 200)
        return;
    feed_ctx fc = {.a = a, .gen = a->reg_gen};
    dr_err_clear(&fc.err);
    dr_err ferr;
    dr_code rc = dr_recordio_decoder_feed(&a->dec, data, size, on_record, &fc, &ferr);
    if (a->reg_gen != fc.gen)
        return;
    if (fc.err.code != DR_OK || (rc != DR_OK && rc != DR_ECANCELED)) {
        DR_WARN(a->env, "agent: event stream from the master: %s",
                fc.err.code != DR_OK ? fc.err.msg : ferr.msg);
        dr_http_call_cancel(a->reg_call);
        a->reg_call = NULL;
        a->state = DR__AGENT_DISCONNECTED;
        register_backoff(a);
    }
}

static void stream_done(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                        const dr_err *err, void *ctx)
{
    (void)env, (void)call;
    dr_agent *a = ctx;
    a->reg_call = NULL;
    if (resp == NULL)
        DR_INFO(a->env, "agent: master %s:%u: %s", a->master_host, a->master_port, err->msg);
    else if (resp->status != 200)
        DR_INFO(a->env, "agent: REGISTER answered %d", resp->status);
    else
        DR_INFO(a->env, "agent: the master ended the event stream");
    if (a->state == DR__AGENT_TERMINATING)
        return;
    a->state = DR__AGENT_DISCONNECTED;
    register_backoff(a);
}

static const dr_http_call_cbs stream_cbs = {
    .head = stream_head, .chunk = stream_chunk, .done = stream_done};

static void register_send(dr_agent *a)
{
    DR_ASSERT(a->reg_call == NULL);
    DR_ASSERT(a->state == DR__AGENT_DISCONNECTED);
    a->reg_gen++;
    a->reg_status = 0;
    dr_recordio_decoder_deinit(&a->dec);
    dr_recordio_decoder_init(&a->dec, 0);

    Dromos__Internal__AgentCall call = DROMOS__INTERNAL__AGENT_CALL__INIT;
    Dromos__Internal__AgentCall__Register reg = DROMOS__INTERNAL__AGENT_CALL__REGISTER__INIT;
    call.type = DROMOS__INTERNAL__AGENT_CALL__TYPE__REGISTER;
    call.register_ = &reg;
    Mesos__AgentID id = MESOS__AGENT_ID__INIT;
    if (a->agent_id[0] != '\0') {
        id.value = a->agent_id;
        call.agent_id = &id;
    }
    reg.agent_info = a->info;
    reg.boot_id = a->boot_id;
    reg.version = (char *)(a->opts.version != NULL ? a->opts.version : "0.1.0");
    size_t fw_count = a->framework_count, ex_count = 0, task_count = 0;
    for (dr__agent_framework *fw = a->frameworks; fw != NULL; fw = fw->next) {
        ex_count += fw->executor_count;
        for (dr__agent_executor *ex = fw->executors; ex != NULL; ex = ex->next)
            task_count += ex->task_count;
    }
    reg.frameworks = dr_alloc_array(fw_count + 1, sizeof *reg.frameworks);
    reg.executors = dr_alloc_array(ex_count + 1, sizeof *reg.executors);
    reg.tasks = dr_alloc_array(task_count + 1, sizeof *reg.tasks);
    for (dr__agent_framework *fw = a->frameworks; fw != NULL; fw = fw->next) {
        reg.frameworks[reg.n_frameworks++] = fw->info;
        for (dr__agent_executor *ex = fw->executors; ex != NULL; ex = ex->next) {
            /* a terminated executor's tasks still wait for their acks: report them */
            if (ex->state != DR__EX_TERMINATED)
                reg.executors[reg.n_executors++] = ex->info;
            for (dr__agent_task *t = ex->tasks; t != NULL; t = t->next)
                reg.tasks[reg.n_tasks++] = task_view(a, t);
        }
    }
    dr_err err;
    dr_code rc = post(a, &call, true, &stream_cbs, &a->reg_call, &err);
    for (size_t i = 0; i < reg.n_tasks; i++)
        dr_proto_free(&reg.tasks[i]->base);
    dr_free(reg.tasks);
    dr_free(reg.executors);
    dr_free(reg.frameworks);
    if (rc != DR_OK) {
        DR_WARN(a->env, "agent: REGISTER: %s", err.msg);
        register_backoff(a);
        return;
    }
    a->state = DR__AGENT_REGISTERING;
    a->last_event_ns = dr_env_now(a->env);
    if (a->ping_timer == 0)
        a->ping_timer = dr_env_timer_add(a->env, a->ping_interval_ns * PING_TIMEOUT_COUNT,
                                         watchdog_fire, a);
}

static void register_fire(dr_env *env, void *ctx)
{
    (void)env;
    dr_agent *a = ctx;
    DR_ASSERT(a->reg_timer != 0);
    a->reg_timer = 0;
    if (a->state != DR__AGENT_DISCONNECTED)
        return;
    register_send(a);
}

/* Mesos: the first attempt after a random delay in [0, factor], then the
 * bound doubles up to a minute; each delay is drawn below the bound. */
static void register_backoff(dr_agent *a)
{
    DR_ASSERT(a->state == DR__AGENT_DISCONNECTED);
    if (a->reg_timer != 0)
        return;
    uint64_t factor = a->opts.registration_backoff_factor_ns;
    if (a->reg_backoff_ns == 0)
        a->reg_backoff_ns = factor;
    else
        a->reg_backoff_ns = DR_MIN(a->reg_backoff_ns * 2, DR_AGENT_REGISTER_BACKOFF_MAX_NS);
    uint64_t delay_ns = dr_rng_below(&a->backoff_rng, a->reg_backoff_ns + 1);
    a->reg_timer = dr_env_timer_add(a->env, delay_ns, register_fire, a);
}

static void start_registering(dr_agent *a)
{
    a->state = DR__AGENT_DISCONNECTED;
    register_backoff(a);
}

/* ---- recovery -------------------------------------------------------------------------- */

static void recovery_timeout_fire(dr_env *env, void *ctx)
{
    (void)env;
    dr_agent *a = ctx;
    a->recovery_timer = 0;
    for (dr__agent_framework *fw = a->frameworks; fw != NULL; fw = fw->next) {
        for (dr__agent_executor *ex = fw->executors; ex != NULL; ex = ex->next) {
            if (!ex->recovered || ex->state != DR__EX_LAUNCHED)
                continue;
            DR_WARN(a->env, "agent: executor '%s' of framework '%s' did not re-subscribe: "
                            "killing it",
                    ex->id, fw->id);
            ex->term_reason = MESOS__TASK_STATUS__REASON__REASON_EXECUTOR_REREGISTRATION_TIMEOUT;
            snprintf(ex->term_message, sizeof ex->term_message,
                     "executor did not re-register within %.1fs after the agent restarted",
                     (double)a->opts.executor_reregistration_timeout_ns / 1e9);
            dr__agent_executor_kill(a, ex);
        }
    }
    recovery_done(a);
}

static void recovery_done(dr_agent *a)
{
    if (a->state != DR__AGENT_RECOVERING)
        return;
    if (a->recovery_timer != 0)
        dr_env_timer_cancel(a->env, a->recovery_timer);
    a->recovery_timer = 0;
    DR_INFO(a->env, "agent: recovery done");
    start_registering(a);
}

/* Called by the executor API when a recovered executor re-subscribes. */
void dr__agent_recovery_check(dr_agent *a)
{
    if (a->state != DR__AGENT_RECOVERING)
        return;
    for (dr__agent_framework *fw = a->frameworks; fw != NULL; fw = fw->next)
        for (dr__agent_executor *ex = fw->executors; ex != NULL; ex = ex->next)
            if (ex->recovered && ex->state == DR__EX_LAUNCHED)
                return;
    recovery_done(a);
}

/* What to do with each executor found in the checkpoint. */
static void recover_executors(dr_agent *a, bool rebooted)
{
    bool waiting = false;
    for (dr__agent_framework *fw = a->frameworks; fw != NULL; fw = fw->next) {
        for (dr__agent_executor *ex = fw->executors, *next; ex != NULL; ex = next) {
            next = ex->next;
            DR_ASSERT(ex->recovered);
            dr_err err;
            if (rebooted || ex->pid == 0) {
                ex->term_reason = MESOS__TASK_STATUS__REASON__REASON_EXECUTOR_TERMINATED;
                snprintf(ex->term_message, sizeof ex->term_message, "%s",
                         rebooted ? "the agent's host rebooted"
                                  : "the executor never started before the agent restarted");
                if (rebooted)
                    ex->term_state = MESOS__TASK_STATE__TASK_LOST;
                ex->pid = 0;
                dr__agent_executor_exited(a, ex);
                continue;
            }
            dr_code rc = a->launcher.ops->recover(a->launcher.self, a->env, ex->pid,
                                                  dr__agent_executor_exit_cb, ex, &err);
            if (rc != DR_OK) {
                DR_INFO(a->env, "agent: executor '%s' (pid %" PRId64 ") is gone: %s", ex->id,
                        ex->pid, err.msg);
                ex->term_reason = MESOS__TASK_STATUS__REASON__REASON_EXECUTOR_TERMINATED;
                snprintf(ex->term_message, sizeof ex->term_message,
                         "executor terminated while the agent was down");
                ex->pid = 0;
                dr__agent_executor_exited(a, ex);
                continue;
            }
            if (a->opts.recover == DR_AGENT_RECOVER_CLEANUP || !fw->checkpoint) {
                ex->term_reason = MESOS__TASK_STATUS__REASON__REASON_EXECUTOR_TERMINATED;
                snprintf(ex->term_message, sizeof ex->term_message, "%s",
                         fw->checkpoint ? "killed at recovery (--recover=cleanup)"
                                        : "killed at recovery: the framework does not checkpoint");
                dr__agent_executor_kill(a, ex);
                continue;
            }
            waiting = true;
        }
    }
    if (waiting) {
        a->state = DR__AGENT_RECOVERING;
        a->recovery_timer = dr_env_timer_add(a->env, a->opts.executor_reregistration_timeout_ns,
                                             recovery_timeout_fire, a);
    } else {
        start_registering(a);
    }
}

/* ---- create and destroy -------------------------------------------------------------------- */

static dr_code parse_master(dr_agent *a, const char *master, dr_err *err)
{
    const char *colon = strrchr(master, ':');
    if (colon == NULL || colon == master)
        return dr_err_set(err, DR_EINVAL, "master '%s': expected HOST:PORT", master);
    char *end = NULL;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || port == 0 || port > 65535)
        return dr_err_set(err, DR_EINVAL, "master '%s': bad port", master);
    size_t n = (size_t)(colon - master);
    if (n >= sizeof a->master_host)
        return dr_err_set(err, DR_EINVAL, "master '%s': host too long", master);
    memcpy(a->master_host, master, n);
    a->master_host[n] = '\0';
    a->master_port = (uint16_t)port;
    return DR_OK;
}

static void opts_copy(dr_agent *a, const dr_agent_opts *opts)
{
    a->opts = *opts;
    a->opts.master = opt_dup(opts->master);
    a->opts.work_dir = opt_dup(opts->work_dir);
    a->opts.ip = opt_dup(opts->ip != NULL ? opts->ip : "127.0.0.1");
    a->opts.hostname = opt_dup(opts->hostname);
    a->opts.advertise_ip = opt_dup(opts->advertise_ip);
    a->opts.resources = opt_dup(opts->resources);
    a->opts.attributes = opt_dup(opts->attributes);
    a->opts.switch_user = opt_dup(opts->switch_user);
    a->opts.version = opt_dup(opts->version != NULL ? opts->version : "0.1.0");
    a->exec_argv = argv_copy(opts->command_executor_argv, "dromos", "executor");
    a->fetch_argv = argv_copy(opts->fetcher_argv, "dromos", "fetch");
    a->opts.command_executor_argv = (const char *const *)a->exec_argv;
    a->opts.fetcher_argv = (const char *const *)a->fetch_argv;
    a->flag_names = dr_alloc_array(opts->flag_count + 1, sizeof(char *));
    a->flag_values = dr_alloc_array(opts->flag_count + 1, sizeof(char *));
    for (size_t i = 0; i < opts->flag_count; i++) {
        a->flag_names[i] = dr_strdup(opts->flags[i].name);
        a->flag_values[i] = dr_strdup(opts->flags[i].value != NULL ? opts->flags[i].value : "");
    }
    a->opts.flags = NULL;
    if (a->opts.executor_registration_timeout_ns == 0)
        a->opts.executor_registration_timeout_ns = 60 * DR_NS_PER_S;
    if (a->opts.executor_reregistration_timeout_ns == 0)
        a->opts.executor_reregistration_timeout_ns = 2 * DR_NS_PER_S;
    if (a->opts.executor_shutdown_grace_period_ns == 0)
        a->opts.executor_shutdown_grace_period_ns = 5 * DR_NS_PER_S;
    if (a->opts.recovery_timeout_ns == 0)
        a->opts.recovery_timeout_ns = 15 * 60 * DR_NS_PER_S;
    if (a->opts.registration_backoff_factor_ns == 0)
        a->opts.registration_backoff_factor_ns = DR_NS_PER_S;
    if (a->opts.gc_delay_ns == 0)
        a->opts.gc_delay_ns = 7 * 24 * 3600 * DR_NS_PER_S;
    if (!(a->opts.gc_disk_headroom > 0) || a->opts.gc_disk_headroom > 1)
        a->opts.gc_disk_headroom = 0.1;
    if (a->opts.disk_watch_interval_ns == 0)
        a->opts.disk_watch_interval_ns = 60 * DR_NS_PER_S;
    if (a->opts.mem_watch_interval_ns == 0)
        a->opts.mem_watch_interval_ns = DR_NS_PER_S;
}

static void free_all(dr_agent *a)
{
    while (a->frameworks != NULL)
        dr__agent_framework_free(a, a->frameworks);
    dr__agent_gc_free(a);
    if (a->reg_call != NULL)
        dr_http_call_cancel(a->reg_call);
    dr_http_client_destroy(a->master);
    dr_http_server_destroy(a->server);
    dr_recordio_decoder_deinit(&a->dec);
    dr_timer_id timers[] = {a->reg_timer, a->ping_timer, a->recovery_timer, a->gc_timer,
                            a->disk_timer, a->reap_timer, a->heartbeat_timer, a->mem_timer};
    for (size_t i = 0; i < DR_ARRAY_COUNT(timers); i++)
        if (timers[i] != 0)
            dr_env_timer_cancel(a->env, timers[i]);
    if (a->lock_file != NULL)
        dr_env_close(a->env, a->lock_file);
    if (a->info != NULL)
        dr_proto_free(&a->info->base);
    dr_resources_deinit(&a->total);
    argv_free(a->exec_argv);
    argv_free(a->fetch_argv);
    for (size_t i = 0; i < a->opts.flag_count; i++) {
        dr_free(a->flag_names[i]);
        dr_free(a->flag_values[i]);
    }
    dr_free(a->flag_names);
    dr_free(a->flag_values);
    dr_free((char *)a->opts.master);
    dr_free((char *)a->opts.work_dir);
    dr_free((char *)a->opts.ip);
    dr_free((char *)a->opts.hostname);
    dr_free((char *)a->opts.advertise_ip);
    dr_free((char *)a->opts.resources);
    dr_free((char *)a->opts.attributes);
    dr_free((char *)a->opts.switch_user);
    dr_free((char *)a->opts.version);
    dr_free(a->failure);
    dr_free(a);
}

dr_code dr_agent_create(dr_env *env, const dr_agent_opts *opts, dr_agent **out, dr_err *err)
{
    if (opts->master == NULL || opts->master[0] == '\0')
        return dr_err_set(err, DR_EINVAL, "--master is required");
    if (opts->work_dir == NULL || opts->work_dir[0] == '\0')
        return dr_err_set(err, DR_EINVAL, "--work_dir is required");
    if (strlen(opts->work_dir) > DR_PATH_SIZE_MAX / 4)
        return dr_err_set(err, DR_EINVAL, "--work_dir '%s' is too long", opts->work_dir);
    dr_agent *a = dr_alloc(sizeof *a);
    a->env = env;
    opts_copy(a, opts);
    dr_resources_init(&a->total);
    dr_recordio_decoder_init(&a->dec, 0);
    dr_env_rng(env, "agent-ids", &a->id_rng);
    dr_env_rng(env, "agent-backoff", &a->backoff_rng);
    dr_launcher_posix(&a->launcher, opts->env_in_argv);
    a->isolators[0] = (dr_isolator){&dr_isolator_filesystem_posix, NULL};
    a->isolators[1] = (dr_isolator){&dr_isolator_posix_rlimits, NULL};
    a->isolators[2] = (dr_isolator){&dr_isolator_posix_mem, NULL};
    a->isolator_count = 3;
    a->start_ns = dr_env_now(env);
    a->start_wall_ns = dr_env_wall(env);
    a->ping_interval_ns = DEFAULT_PING_INTERVAL_NS;
    a->state = DR__AGENT_DISCONNECTED;

    dr_code rc = parse_master(a, opts->master, err);
    dr_host_info host;
    if (rc == DR_OK)
        rc = dr_env_host_info(env, &host, err);
    if (rc == DR_OK) {
        dr_strlcpy(a->hostname, opts->hostname != NULL ? opts->hostname : host.hostname,
                   sizeof a->hostname);
        dr_strlcpy(a->boot_id, host.boot_id, sizeof a->boot_id);
        rc = dr_env_mkdir_p(env, opts->work_dir, err);
    }
    if (rc == DR_OK) {
        char *lock = dr_sprintf("%s/agent.lock", opts->work_dir);
        rc = dr_env_open(env, lock, DR_OPEN_WRITE | DR_OPEN_CREATE, &a->lock_file, err);
        if (rc == DR_OK) {
            rc = dr_env_lock(env, a->lock_file, err);
            if (rc == DR_EBUSY)
                rc = dr_err_set(err, DR_EBUSY, "work dir '%s' is locked by another agent",
                                opts->work_dir);
        }
        dr_free(lock);
    }
    if (rc == DR_OK)
        rc = detect_resources(a, &host, err);
    bool rebooted = false;
    if (rc == DR_OK)
        rc = dr__agent_ckpt_recover(a, &rebooted, err);
    if (rc == DR_OK) {
        dr_http_server_opts sopts = {.host = a->opts.ip, .port = opts->port};
        static const char *const prefixes[] = {"/slave(1)", "/agent"};
        sopts.strip_prefixes = prefixes;
        sopts.strip_prefix_count = DR_ARRAY_COUNT(prefixes);
        rc = dr_http_server_create(env, &sopts, &a->server, err);
    }
    if (rc == DR_OK)
        rc = dr__agent_executor_api_route(a, err);
    if (rc == DR_OK)
        rc = dr__agent_operator_route(a, err);
    if (rc == DR_OK)
        rc = dr_http_client_create(env, a->master_host, a->master_port, NULL, &a->master, err);
    if (rc == DR_OK) {
        info_build(a);
        if (opts->attributes != NULL)
            rc = parse_attributes(a->info, opts->attributes, err);
    }
    if (rc == DR_OK) {
        /* Rewritten only when its bytes would change: an agent restarted on
         * a full disk still comes up (and its gc can make room). */
        char *boot = dr__agent_meta_path(a, "boot_id");
        dr_buf want;
        dr_buf_init(&want);
        dr_ckpt_frame(&want, a->boot_id, strlen(a->boot_id));
        uint8_t *old = NULL;
        size_t old_size = 0;
        dr_err ignored;
        bool same = dr_env_read_all(env, boot, want.size + 1, &old, &old_size, &ignored) ==
                        DR_OK &&
                    old_size == want.size && memcmp(old, want.data, want.size) == 0;
        dr_free(old);
        dr_buf_deinit(&want);
        if (!same)
            rc = dr__agent_ckpt_write_text(a, boot, a->boot_id, err);
        dr_free(boot);
    }
    if (rc != DR_OK) {
        free_all(a);
        return rc;
    }
    snprintf(a->endpoint, sizeof a->endpoint, "%s:%u",
             a->opts.advertise_ip != NULL ? a->opts.advertise_ip : a->opts.ip,
             dr_http_server_port(a->server));
    if (a->agent_id[0] != '\0') {
        info_set_id(a);
        DR_INFO(env, "agent: recovered agent '%s'%s", a->agent_id,
                rebooted ? " after a reboot" : "");
    }
    recover_executors(a, rebooted);
    dr__agent_gc_start(a);
    dr__agent_mem_watch_start(a);
    *out = a;
    return DR_OK;
}

void dr_agent_destroy(dr_agent *agent)
{
    if (agent == NULL)
        return;
    free_all(agent);
}

static void shutdown_done_fire(dr_env *env, void *ctx)
{
    dr_agent *a = ctx;
    if (a->done_fn != NULL)
        a->done_fn(env, a->done_ctx);
}

void dr__agent_shutdown_check(dr_agent *a)
{
    if (!a->shutting_down || a->done_armed)
        return;
    for (dr__agent_framework *fw = a->frameworks; fw != NULL; fw = fw->next)
        for (dr__agent_executor *ex = fw->executors; ex != NULL; ex = ex->next)
            if (!fw->checkpoint && ex->state != DR__EX_TERMINATED)
                return; /* still within its grace period */
    a->done_armed = true;
    dr_env_timer_add(a->env, 0, shutdown_done_fire, a);
}

void dr_agent_shutdown(dr_agent *a, dr_agent_done_fn *done, void *ctx)
{
    a->state = DR__AGENT_TERMINATING;
    a->shutting_down = true;
    a->done_fn = done;
    a->done_ctx = ctx;
    if (a->reg_call != NULL)
        dr_http_call_cancel(a->reg_call);
    a->reg_call = NULL;
    for (dr__agent_framework *fw = a->frameworks; fw != NULL; fw = fw->next) {
        for (dr__agent_executor *ex = fw->executors; ex != NULL; ex = ex->next) {
            /* Executors of frameworks that do not checkpoint cannot be
             * recovered: as Mesos's agent shuts their frameworks down when
             * it stops, they get SHUTDOWN, and SIGKILL after the grace
             * period; done waits for them. The others keep running. */
            if (!fw->checkpoint && ex->state != DR__EX_TERMINATED)
                dr__agent_executor_shutdown(a, ex,
                                            MESOS__TASK_STATUS__REASON__REASON_EXECUTOR_TERMINATED,
                                            "the agent is shutting down");
            else
                dr__agent_executor_close_stream(a, ex);
        }
    }
    dr__agent_sum_stop_timers(a);
    dr__agent_shutdown_check(a);
}

const char *dr_agent_failure(const dr_agent *agent) { return agent->failure; }

uint16_t dr_agent_port(const dr_agent *agent) { return dr_http_server_port(agent->server); }

void dr_agent_get_info(const dr_agent *a, dr_agent_info *out)
{
    memset(out, 0, sizeof *out);
    out->registered = a->state == DR__AGENT_REGISTERED;
    out->recovering = a->state == DR__AGENT_RECOVERING;
    dr_strlcpy(out->agent_id, a->agent_id, sizeof out->agent_id);
    out->registration_count = a->counters.registrations;
    out->framework_count = a->framework_count;
    for (dr__agent_framework *fw = a->frameworks; fw != NULL; fw = fw->next) {
        for (dr__agent_executor *ex = fw->executors; ex != NULL; ex = ex->next) {
            if (ex->state != DR__EX_TERMINATED)
                out->executor_count++;
            for (dr__agent_task *t = ex->tasks; t != NULL; t = t->next) {
                out->task_count++;
                if (t->state == MESOS__TASK_STATE__TASK_RUNNING)
                    out->tasks_running++;
                out->updates_pending += t->pending_count;
            }
        }
    }
    out->tasks_finished = a->counters.tasks_finished;
    out->tasks_failed = a->counters.tasks_failed;
    out->tasks_killed = a->counters.tasks_killed;
    out->tasks_lost = a->counters.tasks_lost;
    out->updates_sent = a->counters.updates_sent;
    out->updates_acknowledged = a->counters.updates_acked;
    out->executors_launched = a->counters.executors_launched;
    out->executors_terminated = a->counters.executors_terminated;
    out->gc_removed = a->counters.gc_removed;
    out->checkpoint_records_skipped = a->counters.ckpt_skipped;
}

bool dr_agent_task_state(const dr_agent *a, const char *framework_id, const char *task_id,
                         int *state_out)
{
    dr__agent_framework *fw = dr__agent_framework_find(a, framework_id);
    dr__agent_task *t = fw != NULL ? dr__agent_task_find(fw, task_id) : NULL;
    if (t == NULL)
        return false;
    *state_out = (int)t->state;
    return true;
}

const char *dr_agent_sandbox(const dr_agent *a, const char *framework_id,
                             const char *executor_id)
{
    dr__agent_framework *fw = dr__agent_framework_find(a, framework_id);
    dr__agent_executor *ex = fw != NULL ? dr__agent_executor_find(fw, executor_id) : NULL;
    return ex != NULL ? ex->sandbox : "";
}

void dr__agent_container_id(dr_agent *a, char out[40])
{
    uint8_t u[16];
    dr__agent_new_uuid(a, u);
    uuid_text(u, out);
}

dr_pid dr_agent_executor_pid(const dr_agent *a, const char *framework_id,
                             const char *executor_id)
{
    dr__agent_framework *fw = dr__agent_framework_find(a, framework_id);
    dr__agent_executor *ex = fw != NULL ? dr__agent_executor_find(fw, executor_id) : NULL;
    return ex != NULL ? ex->pid : 0;
}
