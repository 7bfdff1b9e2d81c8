/* src/daemon/cmds/agent.c — `dromos agent`: the Dromos agent (src/agent) on
 * the real env, with Mesos's agent flags (also from DROMOS_* and MESOS_*
 * environment variables; unknown MESOS_* ones are ignored, since an agent
 * started inside a task inherits MESOS_DIRECTORY and friends).
 *
 *   dromos agent --master=HOST:PORT --work_dir=DIR [--port=5051] [--resources=...]
 *
 * Exits 0 after SIGTERM/SIGINT (executors of checkpointing frameworks keep
 * running and are recovered by the next start), 1 on a fatal error (a locked
 * work dir, a corrupt checkpoint under --strict, the master removing the
 * agent), 2 on a bad flag.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../cmds.h"
#include "../flags.h"
#include "src/agent/agent.h"
#include "src/env/real/real.h"

static const char summary[] = "run an agent: offer this machine's resources and run tasks";

typedef struct run_ctx {
    dr_agent *agent;
    int exit_code;
    bool stopping;
} run_ctx;

static void stopped(dr_env *env, void *ctx)
{
    (void)ctx;
    dr_env_real_stop(env);
}

static void on_signal(dr_env *env, int signo, void *ctx)
{
    run_ctx *rc = ctx;
    DR_INFO(env, "agent: signal %d, shutting down", signo);
    if (rc->stopping)
        return;
    rc->stopping = true;
    dr_agent_shutdown(rc->agent, stopped, rc);
}

static void watch_fire(dr_env *env, void *ctx)
{
    run_ctx *rc = ctx;
    if (dr_agent_failure(rc->agent) != NULL) {
        rc->exit_code = 1;
        dr_env_real_stop(env);
        return;
    }
    dr_env_timer_add(env, 200 * DR_NS_PER_MS, watch_fire, rc);
}

/* The directory holding this binary (for `dromos executor` and `dromos fetch`). */
static void self_dir(char *out, size_t out_size)
{
    ssize_t n = readlink("/proc/self/exe", out, out_size - 1);
    if (n <= 0) {
        dr_strlcpy(out, ".", out_size);
        return;
    }
    out[n] = '\0';
    char *slash = strrchr(out, '/');
    if (slash != NULL)
        *slash = '\0';
}

static int run(int argc, char **argv)
{
    const char *master = NULL;
    const char *work_dir = NULL;
    const char *ip = "127.0.0.1";
    uint64_t port = 5051;
    const char *hostname = NULL;
    const char *advertise_ip = NULL;
    const char *resources = NULL;
    const char *attributes = NULL;
    const char *recover = "reconnect";
    bool strict = true;
    uint64_t reg_timeout_ns = 60 * DR_NS_PER_S;
    uint64_t rereg_timeout_ns = 2 * DR_NS_PER_S;
    uint64_t grace_ns = 5 * DR_NS_PER_S;
    uint64_t recovery_timeout_ns = 15 * 60 * DR_NS_PER_S;
    uint64_t backoff_ns = DR_NS_PER_S;
    uint64_t gc_delay_ns = 7 * 24 * 3600 * DR_NS_PER_S;
    double gc_disk_headroom = 0.1;
    uint64_t disk_watch_ns = 60 * DR_NS_PER_S;
    const char *launcher_dir = NULL;
    bool switch_user = true;
    const char *log_level_text = "info";
    const dr_flag flags[] = {
        {"master", DR_FLAG_STRING, &master, "the master's HOST:PORT (required)"},
        {"work_dir", DR_FLAG_STRING, &work_dir,
         "where sandboxes and checkpoints (meta/) live (required)"},
        {"ip", DR_FLAG_STRING, &ip, "address to listen on"},
        {"port", DR_FLAG_U64, &port, "port to listen on"},
        {"hostname", DR_FLAG_STRING, &hostname, "hostname to advertise (default: the host's)"},
        {"advertise_ip", DR_FLAG_STRING, &advertise_ip,
         "address executors use to reach the agent (default: --ip)"},
        {"resources", DR_FLAG_STRING, &resources,
         "'cpus:4;mem:2048;ports:[31000-32000]' or JSON (default: detected)"},
        {"attributes", DR_FLAG_STRING, &attributes, "'rack:a;zone:b'"},
        {"recover", DR_FLAG_STRING, &recover,
         "reconnect (to executors of checkpointing frameworks) or cleanup (kill them)"},
        {"strict", DR_FLAG_BOOL, &strict,
         "a corrupt checkpoint stops the agent (else it is skipped and logged)"},
        {"executor_registration_timeout", DR_FLAG_DURATION, &reg_timeout_ns,
         "how long a new executor has to subscribe"},
        {"executor_reregistration_timeout", DR_FLAG_DURATION, &rereg_timeout_ns,
         "how long executors have to re-subscribe after an agent restart"},
        {"executor_shutdown_grace_period", DR_FLAG_DURATION, &grace_ns,
         "between SHUTDOWN and SIGKILL of an executor"},
        {"recovery_timeout", DR_FLAG_DURATION, &recovery_timeout_ns,
         "how long executors wait for a restarting agent (MESOS_RECOVERY_TIMEOUT)"},
        {"registration_backoff_factor", DR_FLAG_DURATION, &backoff_ns,
         "first bound of the (doubling, jittered) re-registration backoff"},
        {"gc_delay", DR_FLAG_DURATION, &gc_delay_ns,
         "how long finished sandboxes are kept (less when the disk fills)"},
        {"gc_disk_headroom", DR_FLAG_DOUBLE, &gc_disk_headroom,
         "disk fraction to keep free: sandboxes age out faster as usage nears 1 - this"},
        {"disk_watch_interval", DR_FLAG_DURATION, &disk_watch_ns, "how often disk usage is checked"},
        {"launcher_dir", DR_FLAG_STRING, &launcher_dir,
         "directory of the dromos binary run as executor and fetcher (default: this one's)"},
        {"switch_user", DR_FLAG_BOOL, &switch_user,
         "run each container as its command's user, else its framework's (false: as the "
         "agent's user)"},
        {"log_level", DR_FLAG_STRING, &log_level_text, "debug, info, warn or error"},
    };
    dr_flags_result res;
    dr_err err;
    if (dr_flags_parse(flags, DR_ARRAY_COUNT(flags), argc, argv, &res, &err) != DR_OK)
        return dr_cmd_usage_error("agent", "%s", err.msg);
    if (res.help) {
        dr_flags_usage(stdout, "agent", summary, flags, DR_ARRAY_COUNT(flags));
        return 0;
    }
    if (res.positional_index < argc)
        return dr_cmd_usage_error("agent", "unexpected argument '%s'", argv[res.positional_index]);
    if (master == NULL)
        return dr_cmd_usage_error("agent", "--master is required");
    if (work_dir == NULL)
        return dr_cmd_usage_error("agent", "--work_dir is required");
    if (port > 65535)
        return dr_cmd_usage_error("agent", "--port %llu is not 0-65535",
                                  (unsigned long long)port);
    dr_agent_recover rec;
    if (strcmp(recover, "reconnect") == 0)
        rec = DR_AGENT_RECOVER_RECONNECT;
    else if (strcmp(recover, "cleanup") == 0)
        rec = DR_AGENT_RECOVER_CLEANUP;
    else
        return dr_cmd_usage_error("agent", "--recover '%s': expected reconnect or cleanup", recover);
    if (!(gc_disk_headroom >= 0 && gc_disk_headroom <= 1))
        return dr_cmd_usage_error("agent", "--gc_disk_headroom %g is not in [0, 1]",
                                  gc_disk_headroom);
    dr_log_level level;
    if (dr_log_level_parse(log_level_text, &level, &err) != DR_OK)
        return dr_cmd_usage_error("agent", "--log_level: %s", err.msg);

    char dir[4096];
    if (launcher_dir != NULL)
        dr_strlcpy(dir, launcher_dir, sizeof dir);
    else
        self_dir(dir, sizeof dir);
    char *dromos = dr_sprintf("%s/dromos", dir);
    const char *exec_argv[] = {dromos, "executor", NULL};
    const char *fetch_argv[] = {dromos, "fetch", NULL};

    /* GET_FLAGS shows every flag with its effective value */
    char values[DR_ARRAY_COUNT(flags)][64];
    dr_agent_flag shown[DR_ARRAY_COUNT(flags)];
    for (size_t i = 0; i < DR_ARRAY_COUNT(flags); i++) {
        shown[i].name = flags[i].name;
        switch (flags[i].kind) {
        case DR_FLAG_STRING: {
            const char *v = *(const char **)flags[i].value;
            shown[i].value = v != NULL ? v : "";
            continue;
        }
        case DR_FLAG_U64:
            snprintf(values[i], sizeof values[i], "%llu",
                     (unsigned long long)*(uint64_t *)flags[i].value);
            break;
        case DR_FLAG_DOUBLE:
            snprintf(values[i], sizeof values[i], "%g", *(double *)flags[i].value);
            break;
        case DR_FLAG_BOOL:
            snprintf(values[i], sizeof values[i], "%s", *(bool *)flags[i].value ? "true" : "false");
            break;
        case DR_FLAG_DURATION:
            snprintf(values[i], sizeof values[i], "%gsecs",
                     (double)*(uint64_t *)flags[i].value / 1e9);
            break;
        }
        shown[i].value = values[i];
    }

    dr_env_real_opts env_opts = {.node_name = "agent", .log_level = level};
    dr_env *env = NULL;
    if (dr_env_real_create(&env_opts, &env, &err) != DR_OK) {
        fprintf(stderr, "dromos agent: %s\n", err.msg);
        dr_free(dromos);
        return 1;
    }
    dr_agent_opts opts = {
        .master = master,
        .work_dir = work_dir,
        .ip = ip,
        .port = (uint16_t)port,
        .hostname = hostname,
        .advertise_ip = advertise_ip,
        .resources = resources,
        .attributes = attributes,
        .recover = rec,
        .strict = strict,
        .switch_user_enabled = switch_user,
        .executor_registration_timeout_ns = reg_timeout_ns,
        .executor_reregistration_timeout_ns = rereg_timeout_ns,
        .executor_shutdown_grace_period_ns = grace_ns,
        .recovery_timeout_ns = recovery_timeout_ns,
        .registration_backoff_factor_ns = backoff_ns,
        .gc_delay_ns = gc_delay_ns,
        .gc_disk_headroom = gc_disk_headroom,
        .disk_watch_interval_ns = disk_watch_ns,
        .command_executor_argv = exec_argv,
        .fetcher_argv = fetch_argv,
        .flags = shown,
        .flag_count = DR_ARRAY_COUNT(flags),
        .version = DROMOS_VERSION,
    };
    run_ctx rc = {0};
    if (dr_agent_create(env, &opts, &rc.agent, &err) != DR_OK) {
        fprintf(stderr, "dromos agent: %s\n", err.msg);
        dr_env_real_destroy(env);
        dr_free(dromos);
        return 1;
    }
    printf("agent listening on %s:%u (work dir %s, master %s)\n", ip, dr_agent_port(rc.agent),
           work_dir, master);
    fflush(stdout);
    dr_env_real_on_signal(env, SIGTERM, on_signal, &rc);
    dr_env_real_on_signal(env, SIGINT, on_signal, &rc);
    dr_env_timer_add(env, 200 * DR_NS_PER_MS, watch_fire, &rc);
    if (dr_env_real_run(env, &err) != DR_OK) {
        fprintf(stderr, "dromos agent: %s\n", err.msg);
        rc.exit_code = 1;
    }
    if (rc.exit_code != 0 && dr_agent_failure(rc.agent) != NULL)
        fprintf(stderr, "dromos agent: %s\n", dr_agent_failure(rc.agent));
    dr_agent_destroy(rc.agent);
    dr_env_real_destroy(env);
    dr_free(dromos);
    return rc.exit_code;
}

const dr_cmd dr_cmd_agent = {"agent", summary, run};
