/* src/agent/operator.c — the agent's operator side: POST /api/v1 (GET_HEALTH,
 * GET_FLAGS, GET_VERSION, GET_METRICS, GET_LOGGING_LEVEL, SET_LOGGING_LEVEL,
 * LIST_FILES, READ_FILE, GET_STATE, GET_CONTAINERS, GET_FRAMEWORKS,
 * GET_EXECUTORS, GET_TASKS, GET_AGENT; any other call 501 with its name),
 * the v0 sandbox endpoints /files/browse, /files/read and /files/download,
 * /metrics/snapshot (Mesos's agent metric names) and /health.
 *
 * Sandbox confinement: a path is served only if it lies inside the sandbox of
 * a known executor run (by its real path, or the virtual
 * /frameworks/<f>/executors/<e>/runs/latest), contains no ".." component,
 * and every symlink met on the way is relative and stays inside ("..", an
 * absolute target or a loop: 403). Unknown paths are 404.
 */
#include "agent_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/proto/json.h"

/* ---- metrics ------------------------------------------------------------------------ */

typedef struct metric {
    const char *name;
    double value;
} metric;

static size_t metrics_collect(const dr_agent *a, metric *out, size_t cap)
{
    size_t n = 0;
#define PUT(nm, v)                                                                               \
    do {                                                                                         \
        DR_ASSERT(n < cap);                                                                      \
        out[n++] = (metric){nm, (double)(v)};                                                    \
    } while (0)
    uint64_t staging = 0, starting = 0, running = 0, killing = 0;
    uint64_t ex_registering = 0, ex_running = 0, ex_terminating = 0;
    for (dr__agent_framework *fw = a->frameworks; fw != NULL; fw = fw->next) {
        for (dr__agent_executor *ex = fw->executors; ex != NULL; ex = ex->next) {
            if (ex->state == DR__EX_FETCHING || ex->state == DR__EX_LAUNCHED)
                ex_registering++;
            else if (ex->state == DR__EX_RUNNING)
                ex_running++;
            else if (ex->state == DR__EX_TERMINATING)
                ex_terminating++;
            for (dr__agent_task *t = ex->tasks; t != NULL; t = t->next) {
                staging += t->state == MESOS__TASK_STATE__TASK_STAGING;
                starting += t->state == MESOS__TASK_STATE__TASK_STARTING;
                running += t->state == MESOS__TASK_STATE__TASK_RUNNING;
                killing += t->state == MESOS__TASK_STATE__TASK_KILLING;
            }
        }
    }
    dr_resources used;
    dr_resources_init(&used);
    dr__agent_resources_used(a, &used);
    static const char *const res_names[] = {"cpus", "mem", "disk", "gpus"};
    static const char *const total_names[] = {"slave/cpus_total", "slave/mem_total",
                                              "slave/disk_total", "slave/gpus_total"};
    static const char *const used_names[] = {"slave/cpus_used", "slave/mem_used",
                                             "slave/disk_used", "slave/gpus_used"};
    static const char *const pct_names[] = {"slave/cpus_percent", "slave/mem_percent",
                                            "slave/disk_percent", "slave/gpus_percent"};
    for (size_t i = 0; i < DR_ARRAY_COUNT(res_names); i++) {
        double total = dr_resources_scalar(&a->total, res_names[i]);
        double u = dr_resources_scalar(&used, res_names[i]);
        PUT(total_names[i], total);
        PUT(used_names[i], u);
        PUT(pct_names[i], total > 0 ? u / total : 0);
    }
    dr_resources_deinit(&used);
    uint64_t now = dr_env_now(a->env);
    PUT("slave/registered", a->state == DR__AGENT_REGISTERED ? 1 : 0);
    PUT("slave/uptime_secs", (double)(now - a->start_ns) / 1e9);
    PUT("slave/frameworks_active", a->framework_count);
    PUT("slave/tasks_staging", staging);
    PUT("slave/tasks_starting", starting);
    PUT("slave/tasks_running", running);
    PUT("slave/tasks_killing", killing);
    PUT("slave/tasks_finished", a->counters.tasks_finished);
    PUT("slave/tasks_failed", a->counters.tasks_failed);
    PUT("slave/tasks_killed", a->counters.tasks_killed);
    PUT("slave/tasks_lost", a->counters.tasks_lost);
    PUT("slave/tasks_gone", a->counters.tasks_gone);
    PUT("slave/tasks_error", a->counters.tasks_error);
    PUT("slave/executors_registering", ex_registering);
    PUT("slave/executors_running", ex_running);
    PUT("slave/executors_terminating", ex_terminating);
    PUT("slave/executors_terminated", a->counters.executors_terminated);
    PUT("slave/valid_status_updates", a->counters.updates_valid);
    PUT("slave/invalid_status_updates", a->counters.updates_invalid);
    PUT("slave/valid_framework_messages", a->counters.messages_valid);
    PUT("slave/invalid_framework_messages", a->counters.messages_invalid);
    PUT("slave/container_launch_errors", a->counters.launch_errors);
    PUT("slave/recovery_errors", a->counters.ckpt_skipped);
    PUT("slave/executor_directory_max_allowed_age_secs",
        (double)a->opts.gc_delay_ns *
            DR_MAX(0.0, 1.0 - a->opts.gc_disk_headroom - a->disk_usage) / 1e9);
    PUT("dromos/agent/status_updates_sent", a->counters.updates_sent);
    PUT("dromos/agent/status_updates_acknowledged", a->counters.updates_acked);
    PUT("dromos/agent/registrations", a->counters.registrations);
    PUT("dromos/agent/gc_removed", a->counters.gc_removed);
#undef PUT
    return n;
}

#define METRIC_COUNT_MAX 64u

void dr__agent_metrics_json(const dr_agent *a, dr_buf *out)
{
    metric m[METRIC_COUNT_MAX];
    size_t n = metrics_collect(a, m, METRIC_COUNT_MAX);
    /* sorted by name, as Mesos's map prints them */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(m[j - 1].name, m[j].name) > 0; j--) {
            metric t = m[j];
            m[j] = m[j - 1];
            m[j - 1] = t;
        }
    dr_buf_append_str(out, "{");
    for (size_t i = 0; i < n; i++)
        dr_buf_printf(out, "%s\"%s\":%.17g", i > 0 ? "," : "", m[i].name, m[i].value);
    dr_buf_append_str(out, "}");
}

static void metrics_handle(dr_env *env, const dr_http_request *req, dr_http_response *res,
                           void *ctx)
{
    (void)env, (void)req;
    dr_buf body;
    dr_buf_init(&body);
    dr__agent_metrics_json(ctx, &body);
    dr_http_response_send(res, 200, "application/json", body.data, body.size);
    dr_buf_deinit(&body);
}

static void health_handle(dr_env *env, const dr_http_request *req, dr_http_response *res,
                          void *ctx)
{
    (void)env, (void)req, (void)ctx;
    dr_http_response_send(res, 200, NULL, "", 0);
}

/* ---- sandbox paths ------------------------------------------------------------------- */

/* Resolves a requested path to a real path inside a sandbox. Returns an HTTP
 * status: 200 with *out (owned), or 403/404 with why. */
static int resolve_path(const dr_agent *a, const char *path, char **out, char *why,
                        size_t why_size)
{
    if (path == NULL || path[0] != '/') {
        snprintf(why, why_size, "path must be absolute");
        return 400;
    }
    for (const char *p = path; *p != '\0';) {
        const char *slash = strchr(p, '/');
        size_t n = slash != NULL ? (size_t)(slash - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            snprintf(why, why_size, "'%s': '..' is not allowed", path);
            return 403;
        }
        p += n;
        while (*p == '/')
            p++;
    }
    /* which sandbox: a live executor's run, by real or virtual path */
    const char *root = NULL;
    size_t prefix_size = 0;
    bool virtual_from_gc = false;
    char virt[DR_PATH_SIZE_MAX];
    for (dr__agent_framework *fw = a->frameworks; fw != NULL && root == NULL; fw = fw->next) {
        for (dr__agent_executor *ex = fw->executors; ex != NULL && root == NULL; ex = ex->next) {
            size_t n = strlen(ex->sandbox);
            if (strncmp(path, ex->sandbox, n) == 0 && (path[n] == '\0' || path[n] == '/')) {
                root = ex->sandbox;
                prefix_size = n;
                break;
            }
            snprintf(virt, sizeof virt, "/frameworks/%s/executors/%s/runs/latest", fw->id,
                     ex->id);
            n = strlen(virt);
            if (strncmp(path, virt, n) == 0 && (path[n] == '\0' || path[n] == '/')) {
                root = ex->sandbox;
                prefix_size = n;
            }
        }
    }
    /* finished runs until the gc removes them; for the virtual alias the
     * newest run wins, as it was the latest when it ended */
    for (dr__agent_gc_entry *e = a->gc_head; e != NULL; e = e->next) {
        size_t n = strlen(e->sandbox);
        if (root == NULL && strncmp(path, e->sandbox, n) == 0 &&
            (path[n] == '\0' || path[n] == '/')) {
            root = e->sandbox;
            prefix_size = n;
            break;
        }
        n = e->virtual_path != NULL ? strlen(e->virtual_path) : 0;
        if ((root == NULL || virtual_from_gc) && n > 0 &&
            strncmp(path, e->virtual_path, n) == 0 && (path[n] == '\0' || path[n] == '/')) {
            root = e->sandbox;
            prefix_size = n;
            virtual_from_gc = true;
        }
    }
    if (root == NULL) {
        snprintf(why, why_size, "'%s' is not in a sandbox", path);
        return 404;
    }
    /* walk the rest, following only symlinks that stay inside */
    dr_buf cur;
    dr_buf_init(&cur);
    dr_buf_append_str(&cur, root);
    char *rest = dr_strdup(path + prefix_size);
    int status = 200;
    int link_count = 0;
    char *save = NULL;
    for (char *c = strtok_r(rest, "/", &save); c != NULL && status == 200;
         c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0)
            continue;
        size_t before = cur.size;
        dr_buf_printf(&cur, "/%s", c);
        dr_file_stat st;
        dr_err err;
        if (dr_env_stat(a->env, dr_buf_cstr(&cur), false, &st, &err) != DR_OK) {
            snprintf(why, why_size, "'%s' does not exist", path);
            status = 404;
            break;
        }
        if (!st.is_symlink)
            continue;
        char target[DR_PATH_SIZE_MAX];
        if (dr_env_readlink(a->env, dr_buf_cstr(&cur), target, sizeof target, &err) != DR_OK ||
            target[0] == '/' || strstr(target, "..") != NULL || ++link_count > 8) {
            snprintf(why, why_size, "'%s': a symlink leads out of the sandbox", path);
            status = 403;
            break;
        }
        cur.size = before;
        dr_buf_printf(&cur, "/%s", target);
        if (dr_env_stat(a->env, dr_buf_cstr(&cur), false, &st, &err) == DR_OK && st.is_symlink) {
            snprintf(why, why_size, "'%s': chained symlinks are not followed", path);
            status = 403;
        }
    }
    dr_free(rest);
    if (status == 200)
        *out = dr_strdup(dr_buf_cstr(&cur));
    dr_buf_deinit(&cur);
    return status;
}

/* Reads up to length bytes at offset (owned *data). */
static dr_code read_range(dr_env *env, const char *path, uint64_t offset, uint64_t length,
                          uint8_t **data, size_t *size, uint64_t *file_size, dr_err *err)
{
    dr_file *f = NULL;
    dr_code rc = dr_env_open(env, path, DR_OPEN_READ, &f, err);
    if (rc != DR_OK)
        return rc;
    rc = dr_env_file_size(env, f, file_size, err);
    if (rc == DR_OK) {
        uint64_t left = offset < *file_size ? *file_size - offset : 0;
        size_t n = (size_t)DR_MIN(DR_MIN(left, length), DR_AGENT_READ_FILE_SIZE_MAX);
        *data = dr_alloc(n + 1);
        rc = n > 0 ? dr_env_pread(env, f, offset, *data, n, size, err) : DR_OK;
        if (n == 0)
            *size = 0;
        if (rc != DR_OK)
            dr_free(*data);
    }
    dr_env_close(env, f);
    return rc;
}

/* Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
static bool utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                                 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (len == 0 || i + len > n)
            return false;
        uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1fu) : len == 3 ? (c & 0x0fu) : (c & 0x07u);
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3fu);
        }
        static const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

static void put_json_string(dr_buf *out, const char *s)
{
    dr_buf_append_str(out, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            dr_buf_printf(out, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f)
            dr_buf_printf(out, "\\u%04x", *p);
        else
            dr_buf_append(out, p, 1);
    }
    dr_buf_append_str(out, "\"");
}

static void files_handle(dr_env *env, const dr_http_request *req, dr_http_response *res,
                         void *ctx)
{
    dr_agent *a = ctx;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        dr_http_response_header(res, "Allow", "GET");
        dr_http_response_error(res, 405, "Expecting GET");
        return;
    }
    const char *path = dr_http_params_get(&req->query, "path");
    char why[DR_PATH_SIZE_MAX + 100];
    char *real = NULL;
    int status = resolve_path(a, path, &real, why, sizeof why);
    if (status != 200) {
        dr_http_response_error(res, status, "%s", why);
        return;
    }
    dr_file_stat st;
    dr_err err;
    if (dr_env_stat(env, real, true, &st, &err) != DR_OK) {
        dr_http_response_error(res, 404, "'%s': %s", path, err.msg);
        dr_free(real);
        return;
    }
    dr_buf body;
    dr_buf_init(&body);
    if (strncmp(req->path, "/files/browse", 13) == 0) {
        if (!st.is_dir) {
            dr_http_response_error(res, 400, "'%s' is not a directory", path);
            goto out;
        }
        dr_dir_list list = {0};
        if (dr_env_list_dir(env, real, &list, &err) != DR_OK) {
            dr_http_response_error(res, 500, "listing '%s': %s", path, err.msg);
            goto out;
        }
        dr_buf_append_str(&body, "[");
        for (size_t i = 0; i < list.count; i++) {
            char *child = dr_sprintf("%s/%s", real, list.names[i]);
            char *shown = dr_sprintf("%s%s%s", path,
                                     path[strlen(path) - 1] == '/' ? "" : "/", list.names[i]);
            dr_file_stat cst = {0};
            (void)dr_env_stat(env, child, false, &cst, &err); /* gone meanwhile: zeros */
            dr_buf_append_str(&body, i > 0 ? ",{\"path\":" : "{\"path\":");
            put_json_string(&body, shown);
            dr_buf_printf(&body, ",\"size\":%" PRIu64 ",\"mtime\":%.3f,\"nlink\":1,\"mode\":\"%s\"}",
                          cst.size_bytes, (double)cst.mtime_ns / 1e9,
                          cst.is_dir ? "drwxr-xr-x" : cst.is_symlink ? "lrwxrwxrwx" : "-rw-r--r--");
            dr_free(shown);
            dr_free(child);
        }
        dr_buf_append_str(&body, "]");
        dr_dir_list_free(&list);
        dr_http_response_send(res, 200, "application/json", body.data, body.size);
        goto out;
    }
    if (st.is_dir) {
        dr_http_response_error(res, 400, "'%s' is a directory", path);
        goto out;
    }
    bool download = strcmp(req->path, "/files/download") == 0;
    const char *off_text = dr_http_params_get(&req->query, "offset");
    const char *len_text = dr_http_params_get(&req->query, "length");
    long long offset = off_text != NULL ? strtoll(off_text, NULL, 10) : 0;
    long long length = len_text != NULL ? strtoll(len_text, NULL, 10) : -1;
    uint8_t *data = NULL;
    size_t size = 0;
    uint64_t file_size = 0;
    if (!download && offset == -1) { /* Mesos: the file's size, no data */
        if (read_range(env, real, 0, 0, &data, &size, &file_size, &err) == DR_OK) {
            dr_free(data);
            dr_buf_printf(&body, "{\"data\":\"\",\"offset\":%" PRIu64 "}", file_size);
            dr_http_response_send(res, 200, "application/json", body.data, body.size);
        } else {
            dr_http_response_error(res, 404, "'%s': %s", path, err.msg);
        }
        goto out;
    }
    if (offset < 0) {
        dr_http_response_error(res, 400, "offset %lld is negative", offset);
        goto out;
    }
    uint64_t want = length < 0 ? DR_AGENT_READ_FILE_SIZE_MAX : (uint64_t)length;
    if (read_range(env, real, (uint64_t)offset, want, &data, &size, &file_size, &err) != DR_OK) {
        dr_http_response_error(res, 404, "'%s': %s", path, err.msg);
        goto out;
    }
    if (download) {
        dr_http_response_send(res, 200, "application/octet-stream", data, size);
    } else {
        data[size] = '\0';
        dr_buf_append_str(&body, "{\"data\":");
        /* bytes as a JSON string, as Mesos sends them; UTF-8 text passes
         * through, other bytes >= 0x80 become \u00XX so the JSON stays valid */
        bool utf8 = utf8_valid(data, size);
        dr_buf_append_str(&body, "\"");
        for (size_t i = 0; i < size; i++) {
            unsigned char c = data[i];
            if (c == '"' || c == '\\')
                dr_buf_printf(&body, "\\%c", c);
            else if (c == '\n')
                dr_buf_append_str(&body, "\\n");
            else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8))
                dr_buf_printf(&body, "\\u%04x", c);
            else
                dr_buf_append(&body, &c, 1);
        }
        dr_buf_printf(&body, "\",\"offset\":%lld}", offset);
        dr_http_response_send(res, 200, "application/json", body.data, body.size);
    }
    dr_free(data);
out:
    dr_buf_deinit(&body);
    dr_free(real);
}

/* ---- /api/v1 ------------------------------------------------------------------------------ */

static Mesos__Task *task_of(const dr_agent *a, const dr__agent_task *t)
{
    Mesos__Task *task = dr_alloc(sizeof *task);
    mesos__task__init(task);
    task->name = dr_strdup(t->info->name != NULL ? t->info->name : "");
    task->task_id = dr__agent_clone(t->info->task_id);
    task->framework_id = dr__agent_clone(t->ex->fw->info->id);
    task->executor_id = dr__agent_clone(t->ex->info->executor_id);
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
    return task;
}

static Mesos__Agent__Response__GetTasks *get_tasks(const dr_agent *a)
{
    Mesos__Agent__Response__GetTasks *gt = dr_alloc(sizeof *gt);
    mesos__agent__response__get_tasks__init(gt);
    size_t n = 0;
    for (dr__agent_framework *fw = a->frameworks; fw != NULL; fw = fw->next)
        for (dr__agent_executor *ex = fw->executors; ex != NULL; ex = ex->next)
            n += ex->task_count;
    gt->queued_tasks = dr_alloc_array(n + 1, sizeof(Mesos__Task *));
    gt->launched_tasks = dr_alloc_array(n + 1, sizeof(Mesos__Task *));
    gt->terminated_tasks = dr_alloc_array(n + 1, sizeof(Mesos__Task *));
    for (dr__agent_framework *fw = a->frameworks; fw != NULL; fw = fw->next)
        for (dr__agent_executor *ex = fw->executors; ex != NULL; ex = ex->next)
            for (dr__agent_task *t = ex->tasks; t != NULL; t = t->next) {
                Mesos__Task *task = task_of(a, t);
                if (dr__agent_state_terminal(t->state))
                    gt->terminated_tasks[gt->n_terminated_tasks++] = task;
                else if (!t->launched)
                    gt->queued_tasks[gt->n_queued_tasks++] = task;
                else
                    gt->launched_tasks[gt->n_launched_tasks++] = task;
            }
    return gt;
}

static Mesos__Agent__Response__GetFrameworks *get_frameworks(const dr_agent *a)
{
    Mesos__Agent__Response__GetFrameworks *gf = dr_alloc(sizeof *gf);
    mesos__agent__response__get_frameworks__init(gf);
    gf->frameworks = dr_alloc_array(a->framework_count + 1, sizeof *gf->frameworks);
    for (dr__agent_framework *fw = a->frameworks; fw != NULL; fw = fw->next) {
        Mesos__Agent__Response__GetFrameworks__Framework *f = dr_alloc(sizeof *f);
        mesos__agent__response__get_frameworks__framework__init(f);
        f->framework_info = dr__agent_clone(fw->info);
        gf->frameworks[gf->n_frameworks++] = f;
    }
    return gf;
}

static Mesos__Agent__Response__GetExecutors *get_executors(const dr_agent *a)
{
    Mesos__Agent__Response__GetExecutors *ge = dr_alloc(sizeof *ge);
    mesos__agent__response__get_executors__init(ge);
    size_t n = 0;
    for (dr__agent_framework *fw = a->frameworks; fw != NULL; fw = fw->next)
        n += fw->executor_count;
    ge->executors = dr_alloc_array(n + 1, sizeof *ge->executors);
    ge->completed_executors = dr_alloc_array(n + 1, sizeof *ge->completed_executors);
    for (dr__agent_framework *fw = a->frameworks; fw != NULL; fw = fw->next)
        for (dr__agent_executor *ex = fw->executors; ex != NULL; ex = ex->next) {
            Mesos__Agent__Response__GetExecutors__Executor *e = dr_alloc(sizeof *e);
            mesos__agent__response__get_executors__executor__init(e);
            e->executor_info = dr__agent_clone(ex->info);
            if (ex->state == DR__EX_TERMINATED)
                ge->completed_executors[ge->n_completed_executors++] = e;
            else
                ge->executors[ge->n_executors++] = e;
        }
    return ge;
}

static const char *call_name(Mesos__Agent__Call__Type type)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&mesos__agent__call__type__descriptor, (int)type);
    return v != NULL ? v->name : "UNKNOWN";
}

static void api_handle(dr_env *env, const dr_http_request *req, dr_http_response *res, void *ctx)
{
    dr_agent *a = ctx;
    dr_http_negotiation n;
    dr_http_negotiate(req->method, &req->headers, false, DR_HTTP_STREAM_NONE, &n);
    if (n.status != 0) {
        dr_http_negotiation_reject(&n, res);
        return;
    }
    dr_arena arena;
    dr_arena_init(&arena);
    ProtobufCMessage *msg = NULL;
    dr_err err;
    dr_code rc = n.request_codec == DR_HTTP_CODEC_JSON
                     ? dr_json_decode(&mesos__agent__call__descriptor, (const char *)req->body,
                                      req->body_size, &arena, &msg, &err)
                     : dr_proto_decode(&mesos__agent__call__descriptor, req->body,
                                       req->body_size, &arena, &msg, &err);
    if (rc != DR_OK) {
        dr_http_response_error(res, 400, "Failed to parse body into Call: %s", err.msg);
        dr_arena_deinit(&arena);
        return;
    }
    const Mesos__Agent__Call *call = (const Mesos__Agent__Call *)msg;
    Mesos__Agent__Response *r = dr_alloc(sizeof *r);
    mesos__agent__response__init(r);
    r->has_type = true;
    int status = 200;
    char why[DR_PATH_SIZE_MAX + 100] = "";
    switch (call->type) {
    case MESOS__AGENT__CALL__TYPE__GET_HEALTH:
        r->type = MESOS__AGENT__RESPONSE__TYPE__GET_HEALTH;
        r->get_health = dr_alloc(sizeof *r->get_health);
        mesos__agent__response__get_health__init(r->get_health);
        r->get_health->healthy = a->failure == NULL;
        break;
    case MESOS__AGENT__CALL__TYPE__GET_FLAGS:
        r->type = MESOS__AGENT__RESPONSE__TYPE__GET_FLAGS;
        r->get_flags = dr_alloc(sizeof *r->get_flags);
        mesos__agent__response__get_flags__init(r->get_flags);
        r->get_flags->flags = dr_alloc_array(a->opts.flag_count + 1, sizeof(Mesos__Flag *));
        for (size_t i = 0; i < a->opts.flag_count; i++) {
            Mesos__Flag *f = dr_alloc(sizeof *f);
            mesos__flag__init(f);
            f->name = dr_strdup(a->flag_names[i]);
            f->value = dr_strdup(a->flag_values[i]);
            r->get_flags->flags[r->get_flags->n_flags++] = f;
        }
        break;
    case MESOS__AGENT__CALL__TYPE__GET_VERSION:
        r->type = MESOS__AGENT__RESPONSE__TYPE__GET_VERSION;
        r->get_version = dr_alloc(sizeof *r->get_version);
        mesos__agent__response__get_version__init(r->get_version);
        r->get_version->version_info = dr_alloc(sizeof *r->get_version->version_info);
        mesos__version_info__init(r->get_version->version_info);
        r->get_version->version_info->version = dr_strdup(a->opts.version);
        break;
    case MESOS__AGENT__CALL__TYPE__GET_METRICS: {
        r->type = MESOS__AGENT__RESPONSE__TYPE__GET_METRICS;
        r->get_metrics = dr_alloc(sizeof *r->get_metrics);
        mesos__agent__response__get_metrics__init(r->get_metrics);
        metric m[METRIC_COUNT_MAX];
        size_t count = metrics_collect(a, m, METRIC_COUNT_MAX);
        r->get_metrics->metrics = dr_alloc_array(count + 1, sizeof(Mesos__Metric *));
        for (size_t i = 0; i < count; i++) {
            Mesos__Metric *mm = dr_alloc(sizeof *mm);
            mesos__metric__init(mm);
            mm->name = dr_strdup(m[i].name);
            mm->has_value = true;
            mm->value = m[i].value;
            r->get_metrics->metrics[r->get_metrics->n_metrics++] = mm;
        }
        break;
    }
    case MESOS__AGENT__CALL__TYPE__GET_LOGGING_LEVEL:
        r->type = MESOS__AGENT__RESPONSE__TYPE__GET_LOGGING_LEVEL;
        r->get_logging_level = dr_alloc(sizeof *r->get_logging_level);
        mesos__agent__response__get_logging_level__init(r->get_logging_level);
        /* glog verbosity: 0 = INFO and up, 1+ = DEBUG as well */
        r->get_logging_level->level = dr_env_log_level(env) == DR_LOG_DEBUG ? 1 : 0;
        break;
    case MESOS__AGENT__CALL__TYPE__SET_LOGGING_LEVEL:
        if (call->set_logging_level == NULL) {
            status = 400;
            snprintf(why, sizeof why, "Expecting 'set_logging_level' to be present");
            break;
        }
        dr_env_set_log_level(env, call->set_logging_level->level > 0 ? DR_LOG_DEBUG
                                                                      : DR_LOG_INFO);
        status = 202;
        break;
    case MESOS__AGENT__CALL__TYPE__LIST_FILES: {
        if (call->list_files == NULL) {
            status = 400;
            snprintf(why, sizeof why, "Expecting 'list_files' to be present");
            break;
        }
        char *real = NULL;
        status = resolve_path(a, call->list_files->path, &real, why, sizeof why);
        if (status != 200)
            break;
        dr_dir_list list = {0};
        if (dr_env_list_dir(env, real, &list, &err) != DR_OK) {
            status = err.code == DR_ENOTDIR ? 400 : 404;
            snprintf(why, sizeof why, "'%s': %s", call->list_files->path, err.msg);
            dr_free(real);
            break;
        }
        r->type = MESOS__AGENT__RESPONSE__TYPE__LIST_FILES;
        r->list_files = dr_alloc(sizeof *r->list_files);
        mesos__agent__response__list_files__init(r->list_files);
        r->list_files->file_infos = dr_alloc_array(list.count + 1, sizeof(Mesos__FileInfo *));
        const char *p = call->list_files->path;
        for (size_t i = 0; i < list.count; i++) {
            Mesos__FileInfo *fi = dr_alloc(sizeof *fi);
            mesos__file_info__init(fi);
            fi->path = dr_sprintf("%s%s%s", p, p[strlen(p) - 1] == '/' ? "" : "/",
                                  list.names[i]);
            char *child = dr_sprintf("%s/%s", real, list.names[i]);
            dr_file_stat st;
            if (dr_env_stat(env, child, false, &st, &err) == DR_OK) {
                fi->has_size = true;
                fi->size = st.size_bytes;
                fi->has_nlink = true;
                fi->nlink = 1;
                fi->has_mode = true;
                fi->mode = st.is_dir ? 040755 : st.is_symlink ? 0120777 : 0100644;
            }
            dr_free(child);
            r->list_files->file_infos[r->list_files->n_file_infos++] = fi;
        }
        dr_dir_list_free(&list);
        dr_free(real);
        break;
    }
    case MESOS__AGENT__CALL__TYPE__READ_FILE: {
        if (call->read_file == NULL) {
            status = 400;
            snprintf(why, sizeof why, "Expecting 'read_file' to be present");
            break;
        }
        char *real = NULL;
        status = resolve_path(a, call->read_file->path, &real, why, sizeof why);
        if (status != 200)
            break;
        uint8_t *data = NULL;
        size_t size = 0;
        uint64_t file_size = 0;
        uint64_t want = call->read_file->has_length ? call->read_file->length
                                                    : DR_AGENT_READ_FILE_SIZE_MAX;
        if (read_range(env, real, call->read_file->offset, want, &data, &size, &file_size,
                       &err) != DR_OK) {
            status = 404;
            snprintf(why, sizeof why, "'%s': %s", call->read_file->path, err.msg);
            dr_free(real);
            break;
        }
        dr_free(real);
        r->type = MESOS__AGENT__RESPONSE__TYPE__READ_FILE;
        r->read_file = dr_alloc(sizeof *r->read_file);
        mesos__agent__response__read_file__init(r->read_file);
        r->read_file->size = file_size;
        r->read_file->data.data = data;
        r->read_file->data.len = size;
        break;
    }
    case MESOS__AGENT__CALL__TYPE__GET_STATE:
        r->type = MESOS__AGENT__RESPONSE__TYPE__GET_STATE;
        r->get_state = dr_alloc(sizeof *r->get_state);
        mesos__agent__response__get_state__init(r->get_state);
        r->get_state->get_tasks = get_tasks(a);
        r->get_state->get_executors = get_executors(a);
        r->get_state->get_frameworks = get_frameworks(a);
        break;
    case MESOS__AGENT__CALL__TYPE__GET_CONTAINERS: {
        r->type = MESOS__AGENT__RESPONSE__TYPE__GET_CONTAINERS;
        r->get_containers = dr_alloc(sizeof *r->get_containers);
        mesos__agent__response__get_containers__init(r->get_containers);
        size_t count = 0;
        for (dr__agent_framework *fw = a->frameworks; fw != NULL; fw = fw->next)
            count += fw->executor_count;
        Mesos__Agent__Response__GetContainers *gc = r->get_containers;
        gc->containers = dr_alloc_array(count + 1, sizeof *gc->containers);
        for (dr__agent_framework *fw = a->frameworks; fw != NULL; fw = fw->next)
            for (dr__agent_executor *ex = fw->executors; ex != NULL; ex = ex->next) {
                if (ex->state == DR__EX_TERMINATED)
                    continue;
                Mesos__Agent__Response__GetContainers__Container *c = dr_alloc(sizeof *c);
                mesos__agent__response__get_containers__container__init(c);
                c->framework_id = dr__agent_clone(fw->info->id);
                c->executor_id = dr__agent_clone(ex->info->executor_id);
                c->executor_name = dr_strdup(ex->info->name != NULL ? ex->info->name : "");
                c->container_id = dr_alloc(sizeof *c->container_id);
                mesos__container_id__init(c->container_id);
                c->container_id->value = dr_strdup(ex->container_id);
                gc->containers[gc->n_containers++] = c;
            }
        break;
    }
    case MESOS__AGENT__CALL__TYPE__GET_FRAMEWORKS:
        r->type = MESOS__AGENT__RESPONSE__TYPE__GET_FRAMEWORKS;
        r->get_frameworks = get_frameworks(a);
        break;
    case MESOS__AGENT__CALL__TYPE__GET_EXECUTORS:
        r->type = MESOS__AGENT__RESPONSE__TYPE__GET_EXECUTORS;
        r->get_executors = get_executors(a);
        break;
    case MESOS__AGENT__CALL__TYPE__GET_TASKS:
        r->type = MESOS__AGENT__RESPONSE__TYPE__GET_TASKS;
        r->get_tasks = get_tasks(a);
        break;
    case MESOS__AGENT__CALL__TYPE__GET_AGENT:
        r->type = MESOS__AGENT__RESPONSE__TYPE__GET_AGENT;
        r->get_agent = dr_alloc(sizeof *r->get_agent);
        mesos__agent__response__get_agent__init(r->get_agent);
        r->get_agent->agent_info = dr__agent_clone(a->info);
        break;
    default:
        status = 501;
        snprintf(why, sizeof why, "Call %s is not implemented by the Dromos agent",
                 call_name(call->type));
        break;
    }
    if (status == 200) {
        dr_buf body;
        dr_buf_init(&body);
        rc = n.response_codec == DR_HTTP_CODEC_JSON ? dr_json_encode(&r->base, &body, &err)
                                                    : dr_proto_encode(&r->base, &body, &err);
        if (rc == DR_OK)
            dr_http_response_send(res, 200, n.content_type, body.data, body.size);
        else
            dr_http_response_error(res, 500, "encoding the response: %s", err.msg);
        dr_buf_deinit(&body);
    } else if (status == 202) {
        dr_http_response_send(res, 202, NULL, "", 0);
    } else {
        dr_http_response_error(res, status, "%s", why);
    }
    dr_proto_free(&r->base);
    dr_arena_deinit(&arena);
}

dr_code dr__agent_operator_route(dr_agent *a, dr_err *err)
{
    dr_code rc = dr_http_server_route(a->server, "/api/v1", false, api_handle, a, err);
    if (rc == DR_OK)
        rc = dr_http_server_route(a->server, "/metrics/snapshot", false, metrics_handle, a, err);
    if (rc == DR_OK)
        rc = dr_http_server_route(a->server, "/health", false, health_handle, a, err);
    static const char *const files[] = {"/files/browse", "/files/read", "/files/download",
                                        "/files/browse.json", "/files/read.json"};
    for (size_t i = 0; rc == DR_OK && i < DR_ARRAY_COUNT(files); i++)
        rc = dr_http_server_route(a->server, files[i], false, files_handle, a, err);
    return rc;
}
