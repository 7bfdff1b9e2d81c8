/* src/run/run.c — the run-to-completion framework behind `dromos run` (see
 * run.h): placement across agents, updates and acknowledgements, output read
 * from the agents' /files/read, teardown.
 *
 * Lifecycle of the run: RUNNING (subscribing, gathering offers, tasks
 * running) -> ENDING (TEARDOWN sent, waiting for the scheduler client to go
 * idle, at most TEARDOWN_WAIT_NS) -> DONE (done called once from a 0-delay
 * timer, so the caller may destroy the run there).
 *
 * Lifecycle of a task: not launched -> launched (in an ACCEPT) -> updates ->
 * terminal update: its stdout is read from the agent, then the update is
 * acknowledged (the agent keeps the sandbox under its virtual path until the
 * terminal update is acknowledged) -> terminal_done.
 */
#include "src/run/run.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "src/http/client.h"
#include "src/resources/resources.h"
#include "src/sched/sched.h"

#define DEFAULT_GATHER_NS (500 * DR_NS_PER_MS)
#define DEFAULT_OUTPUT_SIZE_MAX 4096u
#define OUTPUT_SIZE_LIMIT (1024u * 1024u)
#define AGENT_COUNT_MAX 4096u
#define OFFER_COUNT_MAX 4096u
#define TEARDOWN_POLL_NS (50 * DR_NS_PER_MS)
#define TEARDOWN_WAIT_NS (5 * DR_NS_PER_S)
#define FETCH_TIMEOUT_NS (5 * DR_NS_PER_S)
#define NAME_SIZE_MAX 64u
#define HOST_SIZE_MAX 256u

typedef enum phase { PHASE_RUNNING = 1, PHASE_ENDING, PHASE_DONE } phase;

/* An agent we heard of through an offer, in order of first offer. */
typedef struct agent_ref {
    char id[DR_RUN_ID_SIZE_MAX];
    char name[300]; /* "hostname:port" */
    char ip[HOST_SIZE_MAX];
    uint16_t port;
    dr_http_client *client; /* for /files/read; created on first use */
    size_t task_count;      /* tasks launched there */
    /* scratch for one placement round */
    int64_t cpus_millis, mem_millis;
    size_t round_task_count;
} agent_ref;

/* An offer held during the gather window. */
typedef struct held_offer {
    char id[DR_RUN_ID_SIZE_MAX];
    size_t agent_index;
    int64_t cpus_millis, mem_millis; /* unreserved cpus and mem */
    char role[NAME_SIZE_MAX];        /* the allocation role ("*" when none) */
} held_offer;

typedef struct task_int {
    dr_run_task pub;
    dr_run *r;
    size_t agent_index;      /* SIZE_MAX until launched */
    dr_http_call *fetch;     /* reading its stdout */
    bool ack_pending;        /* acknowledge once the fetch is done */
    char ack_agent_id[DR_RUN_ID_SIZE_MAX];
    uint8_t ack_uuid[64];
    size_t ack_uuid_size;
} task_int;

struct dr_run {
    dr_env *env;
    const dr_run_cbs *cbs;
    void *ctx;
    dr_run_opts opts; /* strings point at the copies below */
    char master_host[HOST_SIZE_MAX];
    char name[NAME_SIZE_MAX];
    char *user;
    char *command;
    dr_sched *sched;

    task_int *tasks;
    size_t task_count;
    size_t launched_count;
    size_t terminal_seen_count; /* tasks with a terminal update */
    size_t terminal_done_count; /* ... whose output was read and update acknowledged */

    agent_ref *agents;
    size_t agent_count;
    held_offer *offers;
    size_t offer_count;

    dr_timer_id gather_timer, deadline_timer, teardown_timer, done_timer;
    uint64_t teardown_since_ns;
    phase phase;
    char failure[256];
    char framework_id[DR_RUN_ID_SIZE_MAX];
};

static void end_run(dr_run *r, const char *why);
static void check_complete(dr_run *r);

/* ---- helpers ---------------------------------------------------------------------- */

static void progress(dr_run *r, const char *fmt, ...) DR_PRINTF(2, 3);
static void progress(dr_run *r, const char *fmt, ...)
{
    if (r->cbs->progress == NULL)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    r->cbs->progress(r, line, r->ctx);
}

const char *dr_run_state_name(Mesos__TaskState state)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&mesos__task_state__descriptor, (int)state);
    return v != NULL ? v->name : "UNKNOWN";
}

bool dr_run_state_terminal(Mesos__TaskState s)
{
    return s == MESOS__TASK_STATE__TASK_FINISHED || s == MESOS__TASK_STATE__TASK_FAILED ||
           s == MESOS__TASK_STATE__TASK_KILLED || s == MESOS__TASK_STATE__TASK_LOST ||
           s == MESOS__TASK_STATE__TASK_ERROR || s == MESOS__TASK_STATE__TASK_DROPPED ||
           s == MESOS__TASK_STATE__TASK_GONE || s == MESOS__TASK_STATE__TASK_GONE_BY_OPERATOR ||
           s == MESOS__TASK_STATE__TASK_UNKNOWN;
}

static int64_t to_millis(double v) { return (int64_t)llround(v * 1000.0); }

static task_int *task_find(dr_run *r, const char *id)
{
    for (size_t i = 0; i < r->task_count; i++)
        if (strcmp(r->tasks[i].pub.id, id) == 0)
            return &r->tasks[i];
    return NULL;
}

static size_t agent_find(const dr_run *r, const char *id)
{
    for (size_t i = 0; i < r->agent_count; i++)
        if (strcmp(r->agents[i].id, id) == 0)
            return i;
    return SIZE_MAX;
}

/* Percent-encodes text for a query value (RFC 3986 unreserved kept, '/' too). */
static void query_encode(dr_buf *out, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~' || *p == '/')
            dr_buf_append(out, p, 1);
        else
            dr_buf_printf(out, "%%%02X", *p);
    }
}

static void set_str(char **slot, const char *text)
{
    dr_free(*slot);
    *slot = text != NULL ? dr_strdup(text) : NULL;
}

/* ---- lifetime ----------------------------------------------------------------------- */

dr_code dr_run_create(dr_env *env, const dr_run_opts *opts, const dr_run_cbs *cbs, void *ctx,
                      dr_run **out, dr_err *err)
{
    if (opts->master_host == NULL || opts->master_host[0] == '\0' ||
        strlen(opts->master_host) >= HOST_SIZE_MAX)
        return dr_err_set(err, DR_EINVAL, "run: master host must be 1-%u bytes",
                          HOST_SIZE_MAX - 1);
    if (opts->master_port == 0)
        return dr_err_set(err, DR_EINVAL, "run: master port must be 1-65535");
    if (opts->command == NULL || opts->command[0] == '\0')
        return dr_err_set(err, DR_EINVAL, "run: a command is required");
    if (opts->instance_count == 0 || opts->instance_count > DR_RUN_INSTANCE_COUNT_MAX)
        return dr_err_set(err, DR_EINVAL, "run: instances %" PRIu32 " is not 1-%u",
                          opts->instance_count, DR_RUN_INSTANCE_COUNT_MAX);
    if (!(opts->cpus > 0) || opts->cpus > DR_RESOURCE_SCALAR_MAX)
        return dr_err_set(err, DR_EINVAL, "run: cpus %g must be > 0", opts->cpus);
    if (!(opts->mem_mb > 0) || opts->mem_mb > DR_RESOURCE_SCALAR_MAX)
        return dr_err_set(err, DR_EINVAL, "run: mem %g must be > 0", opts->mem_mb);
    const char *name = opts->name != NULL ? opts->name : "dromos-run";
    size_t name_size = strlen(name);
    if (name_size == 0 || name_size >= NAME_SIZE_MAX - 8)
        return dr_err_set(err, DR_EINVAL, "run: name '%s' must be 1-%u bytes", name,
                          NAME_SIZE_MAX - 9);
    for (const char *p = name; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return dr_err_set(err, DR_EINVAL,
                              "run: name '%s': only letters, digits, '-', '_' and '.'", name);
    if (opts->output_size_max > OUTPUT_SIZE_LIMIT)
        return dr_err_set(err, DR_EINVAL, "run: output size %zu above %u", opts->output_size_max,
                          OUTPUT_SIZE_LIMIT);

    dr_run *r = dr_alloc(sizeof *r);
    r->env = env;
    r->cbs = cbs;
    r->ctx = ctx;
    r->opts = *opts;
    memcpy(r->master_host, opts->master_host, strlen(opts->master_host) + 1);
    memcpy(r->name, name, name_size + 1);
    /* default: the user running dromos run (as mesos-execute), so that an
     * agent started by that same user can run the tasks (--switch_user) */
    if (opts->user != NULL) {
        r->user = dr_strdup(opts->user);
    } else {
        dr_user_info *self = dr_alloc(sizeof *self);
        dr_err ignored;
        r->user = dr_strdup(dr_env_user_lookup(env, NULL, self, &ignored) == DR_OK ? self->name
                                                                                   : "root");
        dr_free(self);
    }
    r->command = dr_strdup(opts->command);
    r->opts.master_host = r->master_host;
    r->opts.name = r->name;
    r->opts.user = r->user;
    r->opts.command = r->command;
    if (r->opts.codec == DR_HTTP_CODEC_NONE)
        r->opts.codec = DR_HTTP_CODEC_PROTOBUF;
    if (r->opts.gather_ns == 0)
        r->opts.gather_ns = DEFAULT_GATHER_NS;
    if (r->opts.output_size_max == 0)
        r->opts.output_size_max = DEFAULT_OUTPUT_SIZE_MAX;

    /* Task ids "<name>-<index>", the index zero-padded so they sort. */
    r->task_count = opts->instance_count;
    r->tasks = dr_alloc_array(r->task_count, sizeof *r->tasks);
    int width = snprintf(NULL, 0, "%zu", r->task_count);
    for (size_t i = 0; i < r->task_count; i++) {
        task_int *t = &r->tasks[i];
        t->r = r;
        t->agent_index = SIZE_MAX;
        snprintf(t->pub.id, sizeof t->pub.id, "%s-%0*zu", r->name, width, i + 1);
    }
    r->agents = dr_alloc_array(AGENT_COUNT_MAX, sizeof *r->agents);
    r->offers = dr_alloc_array(OFFER_COUNT_MAX, sizeof *r->offers);
    r->phase = PHASE_RUNNING;
    *out = r;
    return DR_OK;
}

static void timers_cancel(dr_run *r)
{
    dr_timer_id *timers[] = {&r->gather_timer, &r->deadline_timer, &r->teardown_timer,
                             &r->done_timer};
    for (size_t i = 0; i < DR_ARRAY_COUNT(timers); i++) {
        if (*timers[i] != 0)
            dr_env_timer_cancel(r->env, *timers[i]);
        *timers[i] = 0;
    }
}

void dr_run_destroy(dr_run *r)
{
    if (r == NULL)
        return;
    timers_cancel(r);
    dr_sched_destroy(r->sched);
    for (size_t i = 0; i < r->agent_count; i++)
        dr_http_client_destroy(r->agents[i].client); /* drops fetches without callbacks */
    for (size_t i = 0; i < r->task_count; i++) {
        dr_free(r->tasks[i].pub.message);
        dr_free(r->tasks[i].pub.output);
        dr_free(r->tasks[i].pub.output_note);
    }
    dr_free(r->tasks);
    dr_free(r->agents);
    dr_free(r->offers);
    dr_free(r->user);
    dr_free(r->command);
    dr_free(r);
}

size_t dr_run_task_count(const dr_run *r) { return r->task_count; }

const dr_run_task *dr_run_task_at(const dr_run *r, size_t index)
{
    DR_ASSERT(index < r->task_count);
    return &r->tasks[index].pub;
}

bool dr_run_succeeded(const dr_run *r)
{
    if (r->failure[0] != '\0')
        return false;
    for (size_t i = 0; i < r->task_count; i++)
        if (!r->tasks[i].pub.has_state || r->tasks[i].pub.state != MESOS__TASK_STATE__TASK_FINISHED)
            return false;
    return true;
}

const char *dr_run_failure(const dr_run *r) { return r->failure; }
const char *dr_run_framework_id(const dr_run *r) { return r->framework_id; }

size_t dr_run_agent_count(const dr_run *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->agent_count; i++)
        n += r->agents[i].task_count > 0;
    return n;
}

/* ---- acknowledgements and output ------------------------------------------------- */

static void ack_send(dr_run *r, const char *agent_id, const char *task_id, const uint8_t *uuid,
                     size_t uuid_size)
{
    dr_err err;
    if (dr_sched_acknowledge(r->sched, agent_id, task_id, uuid, uuid_size, &err) != DR_OK)
        DR_INFO(r->env, "run: acknowledging an update of '%s': %s (it will be resent)", task_id,
                err.msg);
}

/* The terminal update of t is handled: acknowledge it, count it. */
static void terminal_finish(dr_run *r, task_int *t)
{
    DR_ASSERT(!t->pub.terminal_done);
    DR_ASSERT(t->fetch == NULL);
    if (t->ack_pending && r->phase == PHASE_RUNNING)
        ack_send(r, t->ack_agent_id, t->pub.id, t->ack_uuid, t->ack_uuid_size);
    t->ack_pending = false;
    t->pub.terminal_done = true;
    r->terminal_done_count++;
    DR_ASSERT(r->terminal_done_count <= r->task_count);
    check_complete(r);
}

/* The file's bytes from /files/read's "data": the agent writes each byte
 * above 0x7e as \u00XX, which JSON decoding turned into a code point below
 * 0x100 (two UTF-8 bytes); map those back to the bytes so UTF-8 output reads
 * right. Text with other code points is kept as decoded. Returns owned. */
static char *file_bytes(const char *utf8, size_t size)
{
    char *out = dr_alloc(size + 1);
    size_t n = 0;
    for (size_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char)utf8[i];
        if ((c == 0xc2 || c == 0xc3) && i + 1 < size &&
            ((unsigned char)utf8[i + 1] & 0xc0) == 0x80) {
            out[n++] = (char)(((c & 0x03) << 6) | ((unsigned char)utf8[i + 1] & 0x3f));
            i++;
        } else if (c >= 0x80) {
            memcpy(out, utf8, size); /* not the agent's escaping: keep it */
            out[size] = '\0';
            return out;
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
    return out;
}

static void fetch_done(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                       const dr_err *err, void *ctx)
{
    (void)env;
    (void)call;
    task_int *t = ctx;
    dr_run *r = t->r;
    DR_ASSERT(t->fetch != NULL);
    t->fetch = NULL;
    if (resp == NULL) {
        if (err->code == DR_ECONNREFUSED)
            set_str(&t->pub.output_note, "(no output: test agent)");
        else {
            char *note = dr_sprintf("(no output: %s)", err->msg);
            set_str(&t->pub.output_note, note);
            dr_free(note);
        }
    } else if (resp->status != 200) {
        char *note = dr_sprintf("(no output: the agent answered %d: %.200s)", resp->status,
                                (const char *)resp->body);
        size_t n = strlen(note);
        while (n > 1 && (note[n - 2] == '\n' || note[n - 2] == '\r')) {
            note[n - 2] = ')';
            note[--n] = '\0';
        }
        set_str(&t->pub.output_note, note);
        dr_free(note);
    } else {
        json_error_t jerr;
        json_t *root = json_loadb((const char *)resp->body, resp->body_size, 0, &jerr);
        json_t *data = root != NULL ? json_object_get(root, "data") : NULL;
        if (data == NULL || !json_is_string(data)) {
            set_str(&t->pub.output_note, "(no output: the agent's answer has no \"data\")");
        } else {
            dr_free(t->pub.output);
            t->pub.output = file_bytes(json_string_value(data), json_string_length(data));
        }
        json_decref(root);
    }
    terminal_finish(r, t);
}

static const dr_http_call_cbs fetch_cbs = {.done = fetch_done};

/* Starts reading t's stdout from its agent; false if it cannot start (the
 * note says why). */
static bool fetch_start(dr_run *r, task_int *t, const char *executor_id)
{
    DR_ASSERT(t->fetch == NULL);
    if (t->agent_index == SIZE_MAX) {
        set_str(&t->pub.output_note, "(no output: it never reached an agent)");
        return false;
    }
    agent_ref *a = &r->agents[t->agent_index];
    dr_err err;
    if (a->client == NULL) {
        dr_http_client_opts o = {.timeout_ns = FETCH_TIMEOUT_NS};
        if (dr_http_client_create(r->env, a->ip, a->port, &o, &a->client, &err) != DR_OK) {
            char *note = dr_sprintf("(no output: %s)", err.msg);
            set_str(&t->pub.output_note, note);
            dr_free(note);
            return false;
        }
    }
    dr_buf target;
    dr_buf_init(&target);
    char *path = dr_sprintf("/frameworks/%s/executors/%s/runs/latest/stdout", r->framework_id,
                            executor_id);
    dr_buf_append_str(&target, "/files/read?path=");
    query_encode(&target, path);
    dr_buf_printf(&target, "&offset=0&length=%zu", r->opts.output_size_max);
    dr_free(path);
    dr_http_client_request req = {.method = "GET", .target = dr_buf_cstr(&target)};
    dr_code rc = dr_http_client_send(a->client, &req, &fetch_cbs, t, &t->fetch, &err);
    dr_buf_deinit(&target);
    if (rc != DR_OK) {
        t->fetch = NULL;
        char *note = dr_sprintf("(no output: %s)", err.msg);
        set_str(&t->pub.output_note, note);
        dr_free(note);
        return false;
    }
    return true;
}

/* ---- placement ---------------------------------------------------------------------- */

static Mesos__Resource *task_resource(const char *name, double value, const char *role)
{
    Mesos__Resource *res = dr_resource_new_scalar(name, NULL, value);
    res->allocation_info = dr_alloc(sizeof *res->allocation_info);
    mesos__resource__allocation_info__init(res->allocation_info);
    res->allocation_info->role = dr_strdup(role);
    return res;
}

/* Accepts agent a's held offers with the tasks placed there this round, or
 * declines them when none were. */
static void agent_answer(dr_run *r, size_t agent_index, const size_t *task_indexes,
                         size_t task_count)
{
    agent_ref *a = &r->agents[agent_index];
    const char **ids = dr_alloc_array(r->offer_count + 1, sizeof *ids);
    size_t id_count = 0;
    const char *role = "*";
    for (size_t i = 0; i < r->offer_count; i++)
        if (r->offers[i].agent_index == agent_index) {
            ids[id_count++] = r->offers[i].id;
            role = r->offers[i].role;
        }
    dr_err err;
    if (task_count == 0) {
        /* keep this agent's offers away for a while: we have nothing for it */
        if (id_count > 0 && dr_sched_decline(r->sched, ids, id_count, 5, &err) != DR_OK)
            DR_INFO(r->env, "run: decline: %s", err.msg);
        dr_free(ids);
        return;
    }
    Mesos__Resource *res[2] = {task_resource("cpus", r->opts.cpus, role),
                               task_resource("mem", r->opts.mem_mb, role)};
    Mesos__TaskInfo *infos = dr_alloc_array(task_count, sizeof *infos);
    Mesos__TaskInfo **ptrs = dr_alloc_array(task_count, sizeof *ptrs);
    Mesos__TaskID *tids = dr_alloc_array(task_count, sizeof *tids);
    Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
    aid.value = a->id;
    Mesos__CommandInfo cmd = MESOS__COMMAND_INFO__INIT;
    cmd.value = r->command;
    cmd.has_shell = true;
    cmd.shell = true;
    for (size_t i = 0; i < task_count; i++) {
        task_int *t = &r->tasks[task_indexes[i]];
        mesos__task_info__init(&infos[i]);
        mesos__task_id__init(&tids[i]);
        tids[i].value = t->pub.id;
        infos[i].name = t->pub.id;
        infos[i].task_id = &tids[i];
        infos[i].agent_id = &aid;
        infos[i].command = &cmd;
        infos[i].n_resources = 2;
        infos[i].resources = res;
        ptrs[i] = &infos[i];
    }
    Mesos__Offer__Operation__Launch launch = MESOS__OFFER__OPERATION__LAUNCH__INIT;
    launch.n_task_infos = task_count;
    launch.task_infos = ptrs;
    Mesos__Offer__Operation op = MESOS__OFFER__OPERATION__INIT;
    op.has_type = true;
    op.type = MESOS__OFFER__OPERATION__TYPE__LAUNCH;
    op.launch = &launch;
    Mesos__Offer__Operation *ops[1] = {&op};
    if (dr_sched_accept(r->sched, ids, id_count, ops, 1, -1, &err) != DR_OK) {
        /* not subscribed any more: these tasks wait for the next offers */
        progress(r, "could not launch on %s: %s", a->name, err.msg);
        for (size_t i = 0; i < task_count; i++) {
            task_int *t = &r->tasks[task_indexes[i]];
            t->pub.launched = false;
            t->agent_index = SIZE_MAX;
            t->pub.agent_id[0] = '\0';
            t->pub.agent_name[0] = '\0';
            r->launched_count--;
        }
    } else {
        a->task_count += task_count;
    }
    dr_resource_free(res[0]);
    dr_resource_free(res[1]);
    dr_free(infos);
    dr_free(ptrs);
    dr_free(tids);
    dr_free(ids);
}

/* Deals the tasks not yet launched round-robin across the agents of the held
 * offers while they fit, then answers every held offer. */
static void place(dr_run *r)
{
    for (size_t i = 0; i < r->agent_count; i++) {
        r->agents[i].cpus_millis = 0;
        r->agents[i].mem_millis = 0;
        r->agents[i].round_task_count = 0;
    }
    for (size_t i = 0; i < r->offer_count; i++) {
        agent_ref *a = &r->agents[r->offers[i].agent_index];
        a->cpus_millis += r->offers[i].cpus_millis;
        a->mem_millis += r->offers[i].mem_millis;
    }
    int64_t cpus = to_millis(r->opts.cpus), mem = to_millis(r->opts.mem_mb);
    size_t **placed = dr_alloc_array(r->agent_count + 1, sizeof *placed);
    size_t next = 0; /* the first task not launched */
    bool progressed = true;
    while (progressed) {
        progressed = false;
        for (size_t ai = 0; ai < r->agent_count; ai++) {
            while (next < r->task_count && r->tasks[next].pub.launched)
                next++;
            if (next == r->task_count)
                break;
            agent_ref *a = &r->agents[ai];
            if (a->cpus_millis < cpus || a->mem_millis < mem)
                continue;
            a->cpus_millis -= cpus;
            a->mem_millis -= mem;
            if (placed[ai] == NULL)
                placed[ai] = dr_alloc_array(r->task_count, sizeof **placed);
            placed[ai][a->round_task_count++] = next;
            task_int *t = &r->tasks[next];
            t->pub.launched = true;
            t->agent_index = ai;
            dr_strlcpy(t->pub.agent_id, a->id, sizeof t->pub.agent_id);
            dr_strlcpy(t->pub.agent_name, a->name, sizeof t->pub.agent_name);
            r->launched_count++;
            progressed = true;
        }
    }
    /* one line saying where they go */
    dr_buf line;
    dr_buf_init(&line);
    size_t total = 0;
    for (size_t ai = 0; ai < r->agent_count; ai++) {
        if (r->agents[ai].round_task_count == 0)
            continue;
        dr_buf_printf(&line, "%s%zu on %s", total > 0 ? ", " : "",
                      r->agents[ai].round_task_count, r->agents[ai].name);
        total += r->agents[ai].round_task_count;
    }
    size_t offered_agents = 0;
    for (size_t ai = 0; ai < r->agent_count; ai++) {
        bool has = false;
        for (size_t i = 0; i < r->offer_count && !has; i++)
            has = r->offers[i].agent_index == ai;
        offered_agents += has;
    }
    if (total > 0)
        progress(r, "offers from %zu agent%s: launching %zu task%s (%s)", offered_agents,
                 offered_agents == 1 ? "" : "s", total, total == 1 ? "" : "s",
                 dr_buf_cstr(&line));
    else
        progress(r, "offers from %zu agent%s: too small for a task (cpus %g, mem %g MB); waiting",
                 offered_agents, offered_agents == 1 ? "" : "s", r->opts.cpus, r->opts.mem_mb);
    dr_buf_deinit(&line);
    for (size_t ai = 0; ai < r->agent_count; ai++) {
        bool has = false;
        for (size_t i = 0; i < r->offer_count && !has; i++)
            has = r->offers[i].agent_index == ai;
        if (has)
            agent_answer(r, ai, placed[ai], r->agents[ai].round_task_count);
        dr_free(placed[ai]);
    }
    dr_free(placed);
    r->offer_count = 0;
}

static void gather_fire(dr_env *env, void *ctx)
{
    (void)env;
    dr_run *r = ctx;
    DR_ASSERT(r->gather_timer != 0);
    r->gather_timer = 0;
    if (r->phase != PHASE_RUNNING || dr_sched_get_state(r->sched) != DR_SCHED_SUBSCRIBED) {
        r->offer_count = 0;
        return;
    }
    place(r);
}

/* ---- scheduler events ------------------------------------------------------------- */

static void on_subscribed(dr_sched *s, const Mesos__Scheduler__Event__Subscribed *ev, void *ctx)
{
    (void)s;
    dr_run *r = ctx;
    bool again = r->framework_id[0] != '\0';
    dr_strlcpy(r->framework_id, ev->framework_id->value, sizeof r->framework_id);
    progress(r, "%s to the master at %s:%u as framework %s", again ? "resubscribed" : "subscribed",
             r->master_host, r->opts.master_port, r->framework_id);
}

static void offer_hold(dr_run *r, const Mesos__Offer *offer)
{
    const char *oid = offer->id != NULL ? offer->id->value : NULL;
    const char *agent_id = offer->agent_id != NULL ? offer->agent_id->value : NULL;
    dr_err err;
    if (oid == NULL || agent_id == NULL || strlen(oid) >= DR_RUN_ID_SIZE_MAX ||
        strlen(agent_id) >= DR_RUN_ID_SIZE_MAX || r->offer_count == OFFER_COUNT_MAX) {
        if (oid != NULL && dr_sched_decline(r->sched, &oid, 1, 5, &err) != DR_OK)
            DR_INFO(r->env, "run: decline: %s", err.msg);
        return;
    }
    size_t ai = agent_find(r, agent_id);
    if (ai == SIZE_MAX) {
        if (r->agent_count == AGENT_COUNT_MAX) {
            if (dr_sched_decline(r->sched, &oid, 1, 3600, &err) != DR_OK)
                DR_INFO(r->env, "run: decline: %s", err.msg);
            return;
        }
        ai = r->agent_count++;
        agent_ref *a = &r->agents[ai];
        dr_strlcpy(a->id, agent_id, sizeof a->id);
        const Mesos__Address *addr = offer->url != NULL ? offer->url->address : NULL;
        const char *ip = addr != NULL && addr->ip != NULL ? addr->ip
                         : addr != NULL && addr->hostname != NULL ? addr->hostname
                                                                  : offer->hostname;
        dr_strlcpy(a->ip, ip != NULL ? ip : "", sizeof a->ip);
        a->port = addr != NULL && addr->port > 0 && addr->port <= 65535
                      ? (uint16_t)addr->port
                      : 5051;
        snprintf(a->name, sizeof a->name, "%.200s:%u",
                 offer->hostname != NULL ? offer->hostname : a->ip, a->port);
    }
    held_offer *h = &r->offers[r->offer_count++];
    memset(h, 0, sizeof *h);
    dr_strlcpy(h->id, oid, sizeof h->id);
    h->agent_index = ai;
    dr_strlcpy(h->role, "*", sizeof h->role);
    for (size_t i = 0; i < offer->n_resources; i++) {
        const Mesos__Resource *res = offer->resources[i];
        if (res->allocation_info != NULL && res->allocation_info->role != NULL)
            dr_strlcpy(h->role, res->allocation_info->role, sizeof h->role);
        if (res->name == NULL || res->type != MESOS__VALUE__TYPE__SCALAR || res->scalar == NULL ||
            dr_resource_is_reserved(res) || res->disk != NULL || res->revocable != NULL)
            continue;
        if (strcmp(res->name, "cpus") == 0)
            h->cpus_millis += dr_resource_millis(res);
        else if (strcmp(res->name, "mem") == 0)
            h->mem_millis += dr_resource_millis(res);
    }
}

static void on_offers(dr_sched *s, const Mesos__Scheduler__Event__Offers *ev, void *ctx)
{
    dr_run *r = ctx;
    for (size_t i = 0; i < ev->n_offers; i++) {
        const Mesos__Offer *offer = ev->offers[i];
        if (r->phase != PHASE_RUNNING || r->launched_count == r->task_count) {
            const char *oid = offer->id != NULL ? offer->id->value : NULL;
            dr_err err;
            if (oid != NULL && dr_sched_decline(s, &oid, 1, 3600, &err) != DR_OK)
                DR_INFO(r->env, "run: decline: %s", err.msg);
            continue;
        }
        offer_hold(r, offer);
    }
    if (r->offer_count > 0 && r->gather_timer == 0)
        r->gather_timer = dr_env_timer_add(r->env, r->opts.gather_ns, gather_fire, r);
}

static void on_rescind(dr_sched *s, const Mesos__Scheduler__Event__Rescind *ev, void *ctx)
{
    (void)s;
    dr_run *r = ctx;
    if (ev->offer_id == NULL || ev->offer_id->value == NULL)
        return;
    for (size_t i = 0; i < r->offer_count; i++)
        if (strcmp(r->offers[i].id, ev->offer_id->value) == 0) {
            r->offers[i] = r->offers[--r->offer_count];
            return;
        }
}

static void on_update(dr_sched *s, const Mesos__Scheduler__Event__Update *ev, void *ctx)
{
    (void)s;
    dr_run *r = ctx;
    const Mesos__TaskStatus *st = ev->status;
    if (st == NULL || st->task_id == NULL || st->task_id->value == NULL)
        return;
    bool ackable = st->has_uuid && st->uuid.len > 0 && st->uuid.len <= sizeof r->tasks[0].ack_uuid &&
                   st->agent_id != NULL && st->agent_id->value != NULL &&
                   strlen(st->agent_id->value) < DR_RUN_ID_SIZE_MAX;
    task_int *t = task_find(r, st->task_id->value);
    if (t == NULL || t->pub.terminal_done || r->phase != PHASE_RUNNING) {
        /* not ours, or already handled (a resend): acknowledge it again */
        if (ackable && r->phase == PHASE_RUNNING)
            ack_send(r, st->agent_id->value, st->task_id->value, st->uuid.data, st->uuid.len);
        return;
    }
    if (t->fetch != NULL)
        return; /* a resend of the terminal update we are handling: acked when done */
    bool changed = !t->pub.has_state || t->pub.state != st->state;
    t->pub.has_state = true;
    t->pub.state = st->state;
    if (st->message != NULL && st->message[0] != '\0')
        set_str(&t->pub.message, st->message);
    bool terminal = dr_run_state_terminal(st->state);
    if (terminal)
        r->terminal_seen_count++; /* once: a handled terminal task returns above */
    DR_ASSERT(r->terminal_seen_count <= r->task_count);
    if (changed) {
        size_t done = r->terminal_seen_count;
        const char *where = t->pub.agent_name[0] != '\0' ? t->pub.agent_name : "no agent";
        /* a finished task's message ("Command exited with status 0") says nothing */
        bool say = st->message != NULL && st->message[0] != '\0' &&
                   st->state != MESOS__TASK_STATE__TASK_FINISHED;
        if (terminal)
            progress(r, "%-14s %-15s on %s  [%zu/%zu done]%s%s", t->pub.id,
                     dr_run_state_name(st->state), where, done, r->task_count, say ? "  " : "",
                     say ? st->message : "");
        else
            progress(r, "%-14s %-15s on %s", t->pub.id, dr_run_state_name(st->state), where);
    }
    if (!terminal) {
        if (ackable)
            ack_send(r, st->agent_id->value, st->task_id->value, st->uuid.data, st->uuid.len);
        return;
    }
    t->ack_pending = ackable;
    if (ackable) {
        dr_strlcpy(t->ack_agent_id, st->agent_id->value, sizeof t->ack_agent_id);
        memcpy(t->ack_uuid, st->uuid.data, st->uuid.len);
        t->ack_uuid_size = st->uuid.len;
    }
    if (st->has_source && st->source == MESOS__TASK_STATUS__SOURCE__SOURCE_MASTER) {
        /* the master ended it (a dropped launch, a lost agent): no sandbox to read */
        set_str(&t->pub.output_note, "(no output: ended by the master)");
        terminal_finish(r, t);
        return;
    }
    const char *executor_id = st->executor_id != NULL && st->executor_id->value != NULL
                                  ? st->executor_id->value
                                  : t->pub.id; /* Mesos's command executor: the task's id */
    if (!fetch_start(r, t, executor_id))
        terminal_finish(r, t);
}

static void on_error(dr_sched *s, const Mesos__Scheduler__Event__Error *ev, void *ctx)
{
    (void)s;
    dr_run *r = ctx;
    char why[300];
    snprintf(why, sizeof why, "the master refused the framework: %.200s",
             ev->message != NULL ? ev->message : "(no message)");
    end_run(r, why);
}

static void on_disconnected(dr_sched *s, const dr_err *why, void *ctx)
{
    (void)s;
    dr_run *r = ctx;
    r->offer_count = 0; /* offers die with the subscription */
    if (r->phase == PHASE_RUNNING)
        progress(r, "lost the master (%s); resubscribing", why->msg);
}

static void on_call_failed(dr_sched *s, Mesos__Scheduler__Call__Type type, int status,
                           const char *text, void *ctx)
{
    (void)s;
    dr_run *r = ctx;
    if (r->phase != PHASE_RUNNING)
        return; /* late answers during teardown */
    progress(r, "the master answered %s with %d: %s", dr_sched_call_type_name(type), status, text);
}

static const dr_sched_cbs sched_cbs = {
    .subscribed = on_subscribed,
    .offers = on_offers,
    .rescind = on_rescind,
    .update = on_update,
    .error = on_error,
    .disconnected = on_disconnected,
    .call_failed = on_call_failed,
};

/* ---- start and end ------------------------------------------------------------------ */

static void deadline_fire(dr_env *env, void *ctx)
{
    (void)env;
    dr_run *r = ctx;
    r->deadline_timer = 0;
    size_t left = r->task_count - r->terminal_done_count;
    char why[300];
    if (r->framework_id[0] == '\0')
        snprintf(why, sizeof why, "timed out after %.3g s: never subscribed to the master at %.200s:%u",
                 (double)r->opts.timeout_ns / 1e9, r->master_host, r->opts.master_port);
    else
        snprintf(why, sizeof why, "timed out after %.3g s: %zu of %zu tasks did not finish",
                 (double)r->opts.timeout_ns / 1e9, left, r->task_count);
    end_run(r, why);
}

void dr_run_start(dr_run *r)
{
    DR_ASSERT(r->sched == NULL);
    DR_ASSERT(r->phase == PHASE_RUNNING);
    Mesos__FrameworkInfo fi = MESOS__FRAMEWORK_INFO__INIT;
    fi.user = r->user;
    fi.name = r->name;
    fi.has_failover_timeout = true;
    fi.failover_timeout = 10; /* a short master hiccup keeps the tasks */
    dr_sched_opts so = {
        .host = r->master_host,
        .port = r->opts.master_port,
        .codec = r->opts.codec,
        .framework_info = &fi,
        .backoff_min_ns = 200 * DR_NS_PER_MS,
        .backoff_max_ns = 2 * DR_NS_PER_S,
    };
    dr_err err;
    if (dr_sched_create(r->env, &so, &sched_cbs, r, &r->sched, &err) != DR_OK) {
        end_run(r, err.msg); /* only a bad host gets here, and create checked it */
        return;
    }
    progress(r, "subscribing to the master at %s:%u (%s)", r->master_host, r->opts.master_port,
             r->opts.codec == DR_HTTP_CODEC_JSON ? "json" : "protobuf");
    dr_sched_start(r->sched);
    if (r->opts.timeout_ns > 0)
        r->deadline_timer = dr_env_timer_add(r->env, r->opts.timeout_ns, deadline_fire, r);
}

static void done_fire(dr_env *env, void *ctx)
{
    (void)env;
    dr_run *r = ctx;
    r->done_timer = 0;
    DR_ASSERT(r->phase == PHASE_ENDING);
    r->phase = PHASE_DONE;
    if (r->cbs->done != NULL)
        r->cbs->done(r, r->ctx); /* may destroy r */
}

static void finish(dr_run *r)
{
    if (r->teardown_timer != 0)
        dr_env_timer_cancel(r->env, r->teardown_timer);
    r->teardown_timer = 0;
    if (r->sched != NULL)
        dr_sched_stop(r->sched);
    if (r->done_timer == 0)
        r->done_timer = dr_env_timer_add(r->env, 0, done_fire, r);
}

static void teardown_poll(dr_env *env, void *ctx)
{
    dr_run *r = ctx;
    r->teardown_timer = 0;
    if (dr_sched_get_state(r->sched) == DR_SCHED_IDLE ||
        dr_env_now(env) - r->teardown_since_ns >= TEARDOWN_WAIT_NS) {
        finish(r);
        return;
    }
    r->teardown_timer = dr_env_timer_add(env, TEARDOWN_POLL_NS, teardown_poll, r);
}

static void end_run(dr_run *r, const char *why)
{
    if (r->phase != PHASE_RUNNING)
        return;
    r->phase = PHASE_ENDING;
    if (why != NULL && why[0] != '\0') {
        dr_strlcpy(r->failure, why, sizeof r->failure);
        progress(r, "%s", why);
    }
    if (r->gather_timer != 0)
        dr_env_timer_cancel(r->env, r->gather_timer);
    r->gather_timer = 0;
    if (r->deadline_timer != 0)
        dr_env_timer_cancel(r->env, r->deadline_timer);
    r->deadline_timer = 0;
    r->offer_count = 0;
    /* outputs still being read are given up */
    for (size_t i = 0; i < r->task_count; i++) {
        task_int *t = &r->tasks[i];
        if (t->fetch != NULL) {
            dr_http_call_cancel(t->fetch);
            t->fetch = NULL;
            set_str(&t->pub.output_note, "(no output: the run ended first)");
        }
    }
    dr_err err;
    if (r->sched != NULL && dr_sched_get_state(r->sched) == DR_SCHED_SUBSCRIBED &&
        dr_sched_teardown(r->sched, &err) == DR_OK) {
        progress(r, "tearing down framework %s", r->framework_id);
        r->teardown_since_ns = dr_env_now(r->env);
        r->teardown_timer = dr_env_timer_add(r->env, TEARDOWN_POLL_NS, teardown_poll, r);
        return;
    }
    finish(r);
}

void dr_run_cancel(dr_run *r, const char *why)
{
    end_run(r, why != NULL && why[0] != '\0' ? why : "canceled");
}

static void check_complete(dr_run *r)
{
    if (r->phase == PHASE_RUNNING && r->terminal_done_count == r->task_count)
        end_run(r, "");
}
