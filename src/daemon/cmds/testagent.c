/* src/daemon/cmds/testagent.c — `dromos test-agent`: the test agent
 * (src/testagent) on the real env, playing an agent for a real master until
 * the agent issue lands.
 *
 *   dromos test-agent --master HOST:PORT [--resources TEXT] [--port P]
 *                     [--hostname H] [--task_run_min 1secs] [--task_run_max 5secs]
 *                     [--update_retry_min 10secs] [--update_retry_max 10mins]
 *
 * It connects to the master (the protocol has the agent connect; --port is
 * only advertised), runs simulated tasks (command conventions in
 * src/testagent/testagent.h: "sleep S", "sleep inf", "exit N") and runs until
 * SIGTERM/SIGINT (exit 0) or until the master shuts it down (exit 1).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cmds.h"
#include "../flags.h"
#include "src/env/real/real.h"
#include "src/testagent/testagent.h"

static const char summary[] = "run a test agent (simulated tasks) against a master";

typedef struct ta_ctx {
    dr_testagent *agent;
    int exit_code;
} ta_ctx;

static void on_signal(dr_env *env, int signo, void *ctx)
{
    ta_ctx *tc = ctx;
    DR_INFO(env, "test-agent: signal %d, shutting down", signo);
    tc->exit_code = 0;
    dr_env_real_stop(env);
}

static void watch_fire(dr_env *env, void *ctx)
{
    ta_ctx *tc = ctx;
    dr_testagent_info info;
    dr_testagent_get_info(tc->agent, &info);
    if (info.shut_down) {
        tc->exit_code = 1;
        dr_env_real_stop(env);
        return;
    }
    dr_env_timer_add(env, 200 * DR_NS_PER_MS, watch_fire, tc);
}

static int run(int argc, char **argv)
{
    const char *master = NULL;
    const char *resources = NULL;
    const char *hostname = NULL;
    const char *log_level_text = "info";
    uint64_t port = 5051;
    uint64_t run_min_ns = 1 * DR_NS_PER_S;
    uint64_t run_max_ns = 5 * DR_NS_PER_S;
    uint64_t retry_min_ns = 10 * DR_NS_PER_S;
    uint64_t retry_max_ns = 600 * DR_NS_PER_S;
    const dr_flag flags[] = {
        {"master", DR_FLAG_STRING, &master, "the master's HOST:PORT (required)"},
        {"resources", DR_FLAG_STRING, &resources,
         "total resources, Mesos text or JSON (default: the host's cpus and mem)"},
        {"port", DR_FLAG_U64, &port, "port advertised in AgentInfo (nothing listens)"},
        {"hostname", DR_FLAG_STRING, &hostname, "hostname advertised (default: this host's)"},
        {"task_run_min", DR_FLAG_DURATION, &run_min_ns, "shortest run time of a plain task"},
        {"task_run_max", DR_FLAG_DURATION, &run_max_ns, "longest run time of a plain task"},
        {"update_retry_min", DR_FLAG_DURATION, &retry_min_ns,
         "first resend delay of an unacknowledged status update"},
        {"update_retry_max", DR_FLAG_DURATION, &retry_max_ns, "longest resend delay"},
        {"log_level", DR_FLAG_STRING, &log_level_text, "debug, info, warn or error"},
    };
    dr_flags_result res;
    dr_err err;
    if (dr_flags_parse(flags, DR_ARRAY_COUNT(flags), argc, argv, &res, &err) != DR_OK)
        return dr_cmd_usage_error("test-agent", "%s", err.msg);
    if (res.help) {
        dr_flags_usage(stdout, "test-agent", summary, flags, DR_ARRAY_COUNT(flags));
        return 0;
    }
    if (res.positional_index < argc)
        return dr_cmd_usage_error("test-agent", "unexpected argument '%s'",
                                  argv[res.positional_index]);
    if (master == NULL)
        return dr_cmd_usage_error("test-agent", "--master HOST:PORT is required");
    if (port == 0 || port > 65535)
        return dr_cmd_usage_error("test-agent", "--port %llu is not 1-65535",
                                  (unsigned long long)port);
    char host[256];
    const char *colon = strrchr(master, ':');
    unsigned long master_port = 0;
    char *end = NULL;
    if (colon != NULL)
        master_port = strtoul(colon + 1, &end, 10);
    if (colon == NULL || colon == master || (size_t)(colon - master) >= sizeof host ||
        end == colon + 1 || *end != '\0' || master_port == 0 || master_port > 65535)
        return dr_cmd_usage_error("test-agent", "--master '%s': expected HOST:PORT", master);
    memcpy(host, master, (size_t)(colon - master));
    host[colon - master] = '\0';
    dr_log_level level;
    if (dr_log_level_parse(log_level_text, &level, &err) != DR_OK)
        return dr_cmd_usage_error("test-agent", "--log_level: %s", err.msg);

    dr_env_real_opts env_opts = {.node_name = "test-agent", .log_level = level};
    dr_env *env = NULL;
    if (dr_env_real_create(&env_opts, &env, &err) != DR_OK) {
        fprintf(stderr, "dromos test-agent: %s\n", err.msg);
        return 1;
    }
    dr_testagent_opts opts = {
        .master_host = host,
        .master_port = (uint16_t)master_port,
        .hostname = hostname,
        .port = (uint16_t)port,
        .resources = resources,
        .task_run_min_ns = run_min_ns,
        .task_run_max_ns = run_max_ns,
        .update_retry_min_ns = retry_min_ns,
        .update_retry_max_ns = retry_max_ns,
    };
    ta_ctx tc = {0};
    if (dr_testagent_create(env, &opts, &tc.agent, &err) != DR_OK) {
        fprintf(stderr, "dromos test-agent: %s\n", err.msg);
        dr_env_real_destroy(env);
        return err.code == DR_EINVAL ? 2 : 1;
    }
    dr_env_real_on_signal(env, SIGTERM, on_signal, &tc);
    dr_env_real_on_signal(env, SIGINT, on_signal, &tc);
    dr_env_timer_add(env, 200 * DR_NS_PER_MS, watch_fire, &tc);
    if (dr_env_real_run(env, &err) != DR_OK) {
        fprintf(stderr, "dromos test-agent: %s\n", err.msg);
        tc.exit_code = 1;
    }
    dr_testagent_destroy(tc.agent);
    dr_env_real_destroy(env);
    return tc.exit_code;
}

const dr_cmd dr_cmd_test_agent = {"test-agent", summary, run};
