/* src/daemon/cmds/executor.c — `dromos executor`: Dromos's command executor
 * (and, with --default, the default executor) as its own process, as the
 * agent launches it. Everything comes from the environment the agent sets
 * (MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID, MESOS_AGENT_ENDPOINT,
 * MESOS_SANDBOX or MESOS_DIRECTORY, MESOS_CHECKPOINT, MESOS_RECOVERY_TIMEOUT,
 * MESOS_SUBSCRIPTION_BACKOFF_MAX, MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD; the
 * same names as flags win), read here and handed to src/executor as plain
 * values. The tasks get this process's environment (plus their own
 * variables). See docs/executor.md.
 *
 * Exits 0 once every task's terminal update was acknowledged, 1 when the
 * agent was lost (or never acknowledged), 2 on a bad flag or variable.
 * SIGTERM/SIGINT act as SHUTDOWN: the tasks are killed (with the shutdown
 * grace period) and reported before the executor exits, at the latest a
 * second after the grace period (exit 1 if not all was acknowledged); a
 * second signal exits at once.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../cmds.h"
#include "../flags.h"
#include "src/env/real/real.h"
#include "src/executor/executor.h"

extern char **environ;

static const char summary[] = "run the command executor (or --default: task groups); for the agent";

typedef struct run_ctx {
    int exit_code;
    bool done;
} run_ctx;

static void done_cb(dr_env *env, int exit_code, void *ctx)
{
    run_ctx *rc = ctx;
    rc->exit_code = exit_code;
    rc->done = true;
    dr_env_real_stop(env);
}

typedef struct sig_ctx {
    dr_executor *ex;
    run_ctx *run;
    uint64_t grace_ns;
    int count;
} sig_ctx;

/* After a signal, the tasks had their grace period and the agent a second
 * to acknowledge: leave even if it did not (it may be gone). */
static void leave_fire(dr_env *env, void *ctx)
{
    sig_ctx *sc = ctx;
    if (sc->run->done)
        return;
    DR_WARN(env, "executor: not done %llu ms after the signal; exiting",
            (unsigned long long)((sc->grace_ns + DR_NS_PER_S) / DR_NS_PER_MS));
    sc->run->exit_code = 1;
    dr_env_real_stop(env);
}

static void on_signal(dr_env *env, int signo, void *ctx)
{
    sig_ctx *sc = ctx;
    sc->count++;
    DR_INFO(env, "executor: signal %d: killing the tasks", signo);
    if (sc->count > 1) {
        dr_env_real_stop(env); /* a second signal: leave at once */
        return;
    }
    dr_executor_shutdown(sc->ex);
    dr_env_timer_add(env, sc->grace_ns + DR_NS_PER_S, leave_fire, sc);
}

static int run(int argc, char **argv)
{
    const char *framework_id = NULL;
    const char *executor_id = NULL;
    const char *agent_endpoint = NULL;
    const char *sandbox = NULL;
    const char *directory = NULL;
    bool checkpoint = false;
    uint64_t recovery_timeout_ns = 15 * 60 * DR_NS_PER_S;
    uint64_t backoff_max_ns = 2 * DR_NS_PER_S;
    uint64_t shutdown_grace_ns = 5 * DR_NS_PER_S;
    uint64_t kill_grace_ns = 3 * DR_NS_PER_S;
    uint64_t mem_limit_bytes = 0;
    bool is_default = false;
    const char *task_killing_state = "auto";
    const char *codec_text = "protobuf";
    const char *log_level_text = "info";
    const dr_flag flags[] = {
        {"framework_id", DR_FLAG_STRING, &framework_id, "the framework (MESOS_FRAMEWORK_ID)"},
        {"executor_id", DR_FLAG_STRING, &executor_id, "this executor (MESOS_EXECUTOR_ID)"},
        {"agent_endpoint", DR_FLAG_STRING, &agent_endpoint,
         "the agent's HOST:PORT (MESOS_AGENT_ENDPOINT)"},
        {"sandbox", DR_FLAG_STRING, &sandbox, "the sandbox directory (MESOS_SANDBOX)"},
        {"directory", DR_FLAG_STRING, &directory, "the sandbox on the host (MESOS_DIRECTORY)"},
        {"checkpoint", DR_FLAG_BOOL, &checkpoint,
         "the framework checkpoints: wait for a restarting agent (MESOS_CHECKPOINT)"},
        {"recovery_timeout", DR_FLAG_DURATION, &recovery_timeout_ns,
         "how long to wait for a restarting agent (MESOS_RECOVERY_TIMEOUT)"},
        {"subscription_backoff_max", DR_FLAG_DURATION, &backoff_max_ns,
         "longest wait between SUBSCRIBE attempts (MESOS_SUBSCRIPTION_BACKOFF_MAX)"},
        {"executor_shutdown_grace_period", DR_FLAG_DURATION, &shutdown_grace_ns,
         "time the agent gives us on SHUTDOWN (MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD)"},
        {"kill_grace_period", DR_FLAG_DURATION, &kill_grace_ns,
         "SIGTERM to SIGKILL for a task without a kill policy (Mesos: 3secs)"},
        {"mem_limit_bytes", DR_FLAG_U64, &mem_limit_bytes,
         "memory limit from the agent's posix/rlimits (accepted; not enforced yet)"},
        {"default", DR_FLAG_BOOL, &is_default, "be the default executor (task groups)"},
        {"task_killing_state", DR_FLAG_STRING, &task_killing_state,
         "auto (from the framework's capabilities), true or false: send TASK_KILLING"},
        {"codec", DR_FLAG_STRING, &codec_text, "protobuf or json, on the executor API"},
        {"log_level", DR_FLAG_STRING, &log_level_text, "debug, info, warn or error"},
    };
    dr_flags_result res;
    dr_err err;
    if (dr_flags_parse(flags, DR_ARRAY_COUNT(flags), argc, argv, &res, &err) != DR_OK)
        return dr_cmd_usage_error("executor", "%s", err.msg);
    if (res.help) {
        dr_flags_usage(stdout, "executor", summary, flags, DR_ARRAY_COUNT(flags));
        return 0;
    }
    if (res.positional_index < argc)
        return dr_cmd_usage_error("executor", "unexpected argument '%s'",
                                  argv[res.positional_index]);
    if (framework_id == NULL || executor_id == NULL || agent_endpoint == NULL)
        return dr_cmd_usage_error("executor", "MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID and "
                                              "MESOS_AGENT_ENDPOINT must be set");
    if (sandbox == NULL)
        sandbox = directory;
    if (sandbox == NULL)
        return dr_cmd_usage_error("executor", "MESOS_SANDBOX (or MESOS_DIRECTORY) must be set");
    char host[256];
    uint16_t port = 0;
    if (dr_exec_parse_endpoint(agent_endpoint, host, sizeof host, &port, &err) != DR_OK)
        return dr_cmd_usage_error("executor", "%s", err.msg);
    int task_killing;
    if (strcmp(task_killing_state, "auto") == 0)
        task_killing = -1;
    else if (strcmp(task_killing_state, "true") == 0 || strcmp(task_killing_state, "1") == 0)
        task_killing = 1;
    else if (strcmp(task_killing_state, "false") == 0 || strcmp(task_killing_state, "0") == 0)
        task_killing = 0;
    else
        return dr_cmd_usage_error("executor", "--task_killing_state '%s': expected auto, true "
                                              "or false", task_killing_state);
    dr_http_codec codec;
    if (strcmp(codec_text, "protobuf") == 0)
        codec = DR_HTTP_CODEC_PROTOBUF;
    else if (strcmp(codec_text, "json") == 0)
        codec = DR_HTTP_CODEC_JSON;
    else
        return dr_cmd_usage_error("executor", "--codec '%s': expected protobuf or json",
                                  codec_text);
    dr_log_level level;
    if (dr_log_level_parse(log_level_text, &level, &err) != DR_OK)
        return dr_cmd_usage_error("executor", "--log_level: %s", err.msg);

    dr_env_real_opts eo = {.node_name = "executor", .log_level = level};
    dr_env *env = NULL;
    if (dr_env_real_create(&eo, &env, &err) != DR_OK) {
        fprintf(stderr, "dromos executor: %s\n", err.msg);
        return 1;
    }
    dr_executor_opts opts = {
        .kind = is_default ? DR_EXECUTOR_DEFAULT : DR_EXECUTOR_COMMAND,
        .client =
            {
                .host = host,
                .port = port,
                .codec = codec,
                .framework_id = framework_id,
                .executor_id = executor_id,
                .checkpoint = checkpoint,
                .recovery_timeout_ns = recovery_timeout_ns,
                .backoff_max_ns = backoff_max_ns,
            },
        .sandbox = sandbox,
        .task_env = (const char *const *)environ,
        .kill_grace_period_ns = kill_grace_ns,
        .shutdown_grace_period_ns = shutdown_grace_ns,
        .task_killing = task_killing,
    };
    run_ctx rc = {.exit_code = 1};
    dr_executor *ex = NULL;
    if (dr_executor_create(env, &opts, done_cb, &rc, &ex, &err) != DR_OK) {
        fprintf(stderr, "dromos executor: %s\n", err.msg);
        dr_env_real_destroy(env);
        return 1;
    }
    sig_ctx sc = {.ex = ex, .run = &rc, .grace_ns = shutdown_grace_ns};
    dr_env_real_on_signal(env, SIGTERM, on_signal, &sc);
    dr_env_real_on_signal(env, SIGINT, on_signal, &sc);
    DR_INFO(env, "executor: %s executor '%s' of framework '%s', agent %s:%u, sandbox %s",
            is_default ? "default" : "command", executor_id, framework_id, host, port, sandbox);
    if (dr_env_real_run(env, &err) != DR_OK) {
        fprintf(stderr, "dromos executor: %s\n", err.msg);
        rc.exit_code = 1;
    }
    dr_executor_destroy(ex);
    dr_env_real_destroy(env);
    return rc.exit_code;
}

const dr_cmd dr_cmd_executor = {
    .name = "executor",
    .summary = summary,
    .run = run,
};
