/* src/agent/sim_program.c — see sim_program.h. */
#include "sim_program.h"

#include <stdlib.h>
#include <string.h>

#include "agent.h"

/* A crashed process's memory is simply gone; under LeakSanitizer it would be
 * reported, so the dropped agent is marked as deliberately abandoned. */
extern void __lsan_ignore_object(const void *p) __attribute__((weak));

static const char *arg(int argc, char **argv, const char *name)
{
    size_t n = strlen(name);
    const char *value = NULL; /* the last one wins, as with dromos's flags */
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, name, n) == 0 &&
            argv[i][2 + n] == '=')
            value = argv[i] + 3 + n;
    return value;
}

static uint64_t arg_ms(int argc, char **argv, const char *name)
{
    const char *v = arg(argc, argv, name);
    return v != NULL ? strtoull(v, NULL, 10) * DR_NS_PER_MS : 0;
}

static void *agent_start(dr_env *env, int argc, char **argv)
{
    const char *port = arg(argc, argv, "port");
    const char *recover = arg(argc, argv, "recover");
    const char *strict = arg(argc, argv, "strict");
    const char *switch_user = arg(argc, argv, "switch_user");
    const char *executor = arg(argc, argv, "executor");
    const char *fetcher = arg(argc, argv, "fetcher");
    const char *exec_argv[] = {executor != NULL ? executor : "dromos",
                               executor != NULL ? NULL : "executor", NULL};
    const char *fetch_argv[] = {fetcher != NULL ? fetcher : "dromos",
                                fetcher != NULL ? NULL : "fetch", NULL};
    dr_agent_opts o = {
        .master = arg(argc, argv, "master"),
        .work_dir = arg(argc, argv, "work_dir"),
        .ip = arg(argc, argv, "ip"),
        .port = (uint16_t)(port != NULL ? atoi(port) : 5051),
        .resources = arg(argc, argv, "resources"),
        .attributes = arg(argc, argv, "attributes"),
        .recover = recover != NULL && strcmp(recover, "cleanup") == 0 ? DR_AGENT_RECOVER_CLEANUP
                                                                      : DR_AGENT_RECOVER_RECONNECT,
        .strict = strict == NULL || strcmp(strict, "false") != 0,
        .executor_registration_timeout_ns = arg_ms(argc, argv, "executor_registration_timeout_ms"),
        .executor_reregistration_timeout_ns =
            arg_ms(argc, argv, "executor_reregistration_timeout_ms"),
        .executor_shutdown_grace_period_ns =
            arg_ms(argc, argv, "executor_shutdown_grace_period_ms"),
        .gc_delay_ns = arg_ms(argc, argv, "gc_delay_ms"),
        .registration_backoff_factor_ns = arg_ms(argc, argv, "registration_backoff_factor_ms"),
        .command_executor_argv = exec_argv,
        .fetcher_argv = fetch_argv,
        .env_in_argv = true,
        /* off unless asked: simulated frameworks name users no host has */
        .switch_user_enabled = switch_user != NULL && strcmp(switch_user, "true") == 0,
    };
    dr_agent *agent = NULL;
    dr_err err;
    if (dr_agent_create(env, &o, &agent, &err) != DR_OK) {
        DR_ERROR(env, "agent: %s", err.msg);
        return NULL;
    }
    return agent;
}

static void agent_crash(void *state)
{
    if (__lsan_ignore_object != NULL)
        __lsan_ignore_object(state);
}

static void agent_stop(void *state) { dr_agent_destroy(state); }

const dr_sim_program dr_agent_sim_program = {
    .name = "agent", .start = agent_start, .crash = agent_crash, .stop = agent_stop};
