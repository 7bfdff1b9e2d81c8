/* tests/integration/agent_test_executor_main.c — the agent tests' executor
 * (tests/unit/agent/test_executor.h) as a real process: reads the MESOS_*
 * environment the agent gives it and runs until killed. Stands in for
 * `dromos executor` in tests/integration/agent_real.sh. */
#include <stdio.h>
#include <string.h>

#include "src/env/real/real.h"
#include "tests/unit/agent/test_executor.h"

extern char **environ;

int main(void)
{
    const char *envp[256];
    size_t envc = 0;
    for (char **e = environ; *e != NULL && envc < 256; e++)
        if (strncmp(*e, "MESOS_", 6) == 0)
            envp[envc++] = *e;
    dr_env_real_opts opts = {.node_name = "test-executor", .log_level = DR_LOG_WARN};
    dr_env *env = NULL;
    dr_err err;
    if (dr_env_real_create(&opts, &env, &err) != DR_OK) {
        fprintf(stderr, "test executor: %s\n", err.msg);
        return 1;
    }
    texec *x = texec_create(env, envp, envc);
    if (x == NULL) {
        fprintf(stderr, "test executor: MESOS_AGENT_ENDPOINT, MESOS_FRAMEWORK_ID or "
                        "MESOS_EXECUTOR_ID missing\n");
        dr_env_real_destroy(env);
        return 1;
    }
    if (dr_env_real_run(env, &err) != DR_OK)
        fprintf(stderr, "test executor: %s\n", err.msg);
    texec_destroy(x);
    dr_env_real_destroy(env);
    return 0;
}
