/* src/executor/sim_program.c — see sim_program.h. */
#include "sim_program.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "executor.h"

/* A crashed process's memory is simply gone; under LeakSanitizer it would be
 * reported, so the dropped executor is marked as deliberately abandoned. */
extern void __lsan_ignore_object(const void *p) __attribute__((weak));

typedef struct prog {
    dr_env *env;
    dr_executor *ex;
    char **envp; /* owned copies of the --env values */
    size_t envc;
} prog;

static const char *env_get(const prog *p, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < p->envc; i++)
        if (strncmp(p->envp[i], name, n) == 0 && p->envp[i][n] == '=')
            return p->envp[i] + n + 1;
    return NULL;
}

/* Mesos durations as the agent writes them: "500ms", "2secs", ... */
static uint64_t duration_ns(const char *text, uint64_t fallback_ns)
{
    if (text == NULL)
        return fallback_ns;
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == text || !(v >= 0))
        return fallback_ns;
    static const struct {
        const char *unit;
        double ns;
    } units[] = {{"ns", 1},        {"us", 1e3},        {"ms", 1e6},       {"secs", 1e9},
                 {"mins", 60e9},   {"hrs", 3600e9},    {"days", 86400e9}, {"weeks", 604800e9}};
    for (size_t i = 0; i < DR_ARRAY_COUNT(units); i++)
        if (strcmp(end, units[i].unit) == 0)
            return (uint64_t)(v * units[i].ns);
    return fallback_ns;
}

static void free_prog(prog *p)
{
    dr_executor_destroy(p->ex);
    for (size_t i = 0; i < p->envc; i++)
        dr_free(p->envp[i]);
    dr_free(p->envp);
    dr_free(p);
}

static void done_cb(dr_env *env, int exit_code, void *ctx)
{
    (void)ctx;
    DR_INFO(env, "executor: done (%d): ending the process", exit_code);
    const char *name = dr_env_node_name(env);
    const char *at = strstr(name, ":pid");
    if (at == NULL)
        return;
    dr_pid self = strtoll(at + 4, NULL, 10);
    dr_err err;
    if (dr_env_signal(env, self, SIGTERM, false, &err) != DR_OK)
        DR_WARN(env, "executor: ending itself: %s", err.msg);
}

static void *start(dr_env *env, int argc, char **argv)
{
    prog *p = dr_alloc(sizeof *p);
    p->env = env;
    bool is_default = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--default") == 0) {
            is_default = true;
        } else if (strncmp(argv[i], "--env=", 6) == 0 && strchr(argv[i] + 6, '=') != NULL) {
            p->envp = dr_realloc(p->envp, (p->envc + 2) * sizeof *p->envp);
            p->envp[p->envc++] = dr_strdup(argv[i] + 6);
            p->envp[p->envc] = NULL;
        }
    }
    const char *endpoint = env_get(p, "MESOS_AGENT_ENDPOINT");
    const char *sandbox = env_get(p, "MESOS_SANDBOX");
    if (sandbox == NULL)
        sandbox = env_get(p, "MESOS_DIRECTORY");
    char host[256];
    uint16_t port = 0;
    dr_err err;
    if (endpoint == NULL || dr_exec_parse_endpoint(endpoint, host, sizeof host, &port, &err) != DR_OK) {
        DR_ERROR(env, "executor: MESOS_AGENT_ENDPOINT missing or bad");
        free_prog(p);
        return NULL;
    }
    const char *checkpoint = env_get(p, "MESOS_CHECKPOINT");
    dr_executor_opts o = {
        .kind = is_default ? DR_EXECUTOR_DEFAULT : DR_EXECUTOR_COMMAND,
        .client =
            {
                .host = host,
                .port = port,
                .framework_id = env_get(p, "MESOS_FRAMEWORK_ID"),
                .executor_id = env_get(p, "MESOS_EXECUTOR_ID"),
                .checkpoint = checkpoint != NULL && (strcmp(checkpoint, "1") == 0 ||
                                                     strcmp(checkpoint, "true") == 0),
                .recovery_timeout_ns =
                    duration_ns(env_get(p, "MESOS_RECOVERY_TIMEOUT"), 15 * 60 * DR_NS_PER_S),
                .backoff_max_ns =
                    duration_ns(env_get(p, "MESOS_SUBSCRIPTION_BACKOFF_MAX"), 2 * DR_NS_PER_S),
            },
        .sandbox = sandbox,
        .task_env = (const char *const *)p->envp,
        .shutdown_grace_period_ns =
            duration_ns(env_get(p, "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"), 5 * DR_NS_PER_S),
        .task_killing = -1,
    };
    if (dr_executor_create(env, &o, done_cb, p, &p->ex, &err) != DR_OK) {
        DR_ERROR(env, "executor: %s", err.msg);
        free_prog(p);
        return NULL;
    }
    return p;
}

static void crash(void *state)
{
    if (__lsan_ignore_object != NULL)
        __lsan_ignore_object(state);
}

static void stop(void *state) { free_prog(state); }

const dr_sim_program dr_executor_sim_program = {
    .name = "executor", .start = start, .crash = crash, .stop = stop};
