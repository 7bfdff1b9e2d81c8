/* src/daemon/cmds/master.c — `dromos master`: the master (src/master) on the
 * real env.
 *
 *   dromos master [--ip IP] [--port 5050] [--hostname H] [--work_dir DIR] ...
 *
 * Flags are Mesos's master flags (see --help), each also read from
 * DROMOS_<FLAG> or MESOS_<FLAG>; a value may be file://path. A bad flag
 * prints one line and exits 2. Logs go to stderr at --logging_level; the
 * operator API's SET_LOGGING_LEVEL changes the level at run time. Once
 * listening it prints `dromos master: listening on http://IP:PORT` on stdout.
 * SIGTERM or SIGINT shuts down gracefully (event streams ended, connections
 * drained) and exits 0; a second signal exits at once.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cmds.h"
#include "../flags.h"
#include "src/env/real/real.h"
#include "src/master/master.h"

static const char summary[] = "run a master: scheduler, agent and operator APIs (Mesos 1.x)";

#define LIST_COUNT_MAX 1024u /* --weights, --roles, --fair_sharing_excluded_resource_names */

typedef struct master_ctx {
    dr_master *master;
    bool stopping;
    int exit_code;
} master_ctx;

static void shutdown_done(dr_env *env, void *ctx)
{
    DR_UNUSED(ctx);
    DR_INFO(env, "master: shut down");
    dr_env_real_stop(env);
}

static void on_signal(dr_env *env, int signo, void *ctx)
{
    master_ctx *mc = ctx;
    if (mc->stopping) {
        DR_WARN(env, "master: signal %d again, exiting now", signo);
        dr_env_real_stop(env);
        return;
    }
    mc->stopping = true;
    DR_INFO(env, "master: signal %d, shutting down", signo);
    dr_master_shutdown(mc->master, shutdown_done, mc);
}

/* Splits text (copied into *buf, returned owned) on sep into out[]; empty
 * pieces are errors. Returns the count, or -1 with err set. */
static long split(const char *flag, const char *text, char sep, char **buf, char **out,
                  size_t out_count, dr_err *err)
{
    *buf = dr_strdup(text);
    size_t n = 0;
    char *p = *buf;
    for (;;) {
        char *end = strchr(p, sep);
        if (end != NULL)
            *end = '\0';
        if (*p == '\0') {
            dr_err_set(err, DR_EINVAL, "--%s '%s': empty item", flag, text);
            return -1;
        }
        if (n == out_count) {
            dr_err_set(err, DR_EINVAL, "--%s: more than %zu items", flag, out_count);
            return -1;
        }
        out[n++] = p;
        if (end == NULL)
            break;
        p = end + 1;
    }
    return (long)n;
}

/* "role1=2,role2=0.5" into weights[] (roles point into *buf). */
static long parse_weights(const char *text, char **buf, dr_master_weight *weights,
                          size_t weight_count_max, dr_err *err)
{
    char **items = dr_alloc_array(weight_count_max, sizeof *items);
    long n = split("weights", text, ',', buf, items, weight_count_max, err);
    for (long i = 0; i < n; i++) {
        char *eq = strchr(items[i], '=');
        if (eq == NULL || eq == items[i]) {
            dr_err_set(err, DR_EINVAL, "--weights '%s': expected ROLE=WEIGHT in '%s'", text,
                       items[i]);
            n = -1;
            break;
        }
        *eq = '\0';
        char *end = NULL;
        double w = strtod(eq + 1, &end);
        if (end == eq + 1 || *end != '\0' || !(w > 0.0) || w > 1e15) {
            dr_err_set(err, DR_EINVAL, "--weights '%s': weight '%s' of role '%s' is not a positive number",
                       text, eq + 1, items[i]);
            n = -1;
            break;
        }
        weights[i].role = items[i];
        weights[i].weight = w;
    }
    dr_free(items);
    return n;
}

/* Mesos's --min_allocatable_resources: "cpus:0.01|mem:32" (alternatives;
 * here cpus and mem only, "" or "none" for no bound). */
static dr_code parse_min_allocatable(const char *text, double *cpus, double *mem_mb, dr_err *err)
{
    *cpus = -1;
    *mem_mb = -1;
    if (text[0] == '\0' || strcmp(text, "none") == 0)
        return DR_OK;
    char *buf = NULL;
    char *items[8];
    long n = split("min_allocatable_resources", text, '|', &buf, items, DR_ARRAY_COUNT(items), err);
    dr_code rc = n < 0 ? DR_EINVAL : DR_OK;
    for (long i = 0; i < n && rc == DR_OK; i++) {
        char *colon = strchr(items[i], ':');
        char *end = NULL;
        double v = colon != NULL ? strtod(colon + 1, &end) : 0;
        if (colon == NULL || end == colon + 1 || *end != '\0' || !(v >= 0.0)) {
            rc = dr_err_set(err, DR_EINVAL,
                            "--min_allocatable_resources '%s': expected NAME:NUMBER in '%s'", text,
                            items[i]);
            break;
        }
        *colon = '\0';
        if (strcmp(items[i], "cpus") == 0)
            *cpus = v;
        else if (strcmp(items[i], "mem") == 0)
            *mem_mb = v;
        else
            rc = dr_err_set(err, DR_EINVAL,
                            "--min_allocatable_resources '%s': only cpus and mem are supported, "
                            "not '%s'",
                            text, items[i]);
    }
    dr_free(buf);
    return rc;
}

/* Mesos's --logging_level (INFO, WARNING, ERROR) and Dromos's names. */
static dr_code parse_level(const char *text, dr_log_level *out, dr_err *err)
{
    if (strcasecmp(text, "WARNING") == 0) {
        *out = DR_LOG_WARN;
        return DR_OK;
    }
    if (dr_log_level_parse(text, out, err) != DR_OK)
        return dr_err_set(err, DR_EINVAL,
                          "--logging_level '%s': expected DEBUG, INFO, WARNING or ERROR", text);
    return DR_OK;
}

static uint32_t u32_flag(uint64_t v) { return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v; }

/* stout's Duration output, as Mesos shows duration flags: the largest unit
 * the value reaches, as %g ("1secs", "15secs", "100ms"). */
static void format_duration(char *out, size_t out_size, uint64_t ns)
{
    static const struct {
        uint64_t unit_ns;
        const char *name;
    } units[] = {
        {7 * 86400 * DR_NS_PER_S, "weeks"}, {86400 * DR_NS_PER_S, "days"},
        {3600 * DR_NS_PER_S, "hrs"},        {60 * DR_NS_PER_S, "mins"},
        {DR_NS_PER_S, "secs"},              {DR_NS_PER_MS, "ms"},
        {DR_NS_PER_US, "us"},
    };
    for (size_t i = 0; i < DR_ARRAY_COUNT(units); i++) {
        if (ns >= units[i].unit_ns) {
            snprintf(out, out_size, "%g%s", (double)ns / (double)units[i].unit_ns, units[i].name);
            return;
        }
    }
    snprintf(out, out_size, "%lluns", (unsigned long long)ns);
}

/* The flag table with its effective values, for GET_FLAGS and /flags: every
 * flag that has a value (a default or one given); unset optional strings and
 * durations are left out, as Mesos leaves out unset Option flags. out and values have
 * flag_count entries; returns how many were filled. */
static size_t flags_shown(const dr_flag *flags, size_t flag_count, dr_master_flag *out,
                          char (*values)[64])
{
    size_t n = 0;
    for (size_t i = 0; i < flag_count; i++) {
        const dr_flag *f = &flags[i];
        const char *value = values[i];
        switch (f->kind) {
        case DR_FLAG_STRING:
            value = *(const char *const *)f->value;
            break;
        case DR_FLAG_U64:
            snprintf(values[i], sizeof values[i], "%llu",
                     (unsigned long long)*(const uint64_t *)f->value);
            break;
        case DR_FLAG_DOUBLE:
            snprintf(values[i], sizeof values[i], "%g", *(const double *)f->value);
            break;
        case DR_FLAG_BOOL:
            snprintf(values[i], sizeof values[i], "%s",
                     *(const bool *)f->value ? "true" : "false");
            break;
        case DR_FLAG_DURATION:
            /* 0 is "unset" for the one that may be 0 (--offer_timeout) */
            if (*(const uint64_t *)f->value == 0)
                value = NULL;
            else
                format_duration(values[i], sizeof values[i], *(const uint64_t *)f->value);
            break;
        }
        if (value == NULL)
            continue;
        out[n].name = f->name;
        out[n].value = value;
        n++;
    }
    return n;
}

static int run(int argc, char **argv)
{
    const char *ip = NULL;
    uint64_t port = 5050;
    const char *hostname = NULL;
    const char *advertise_ip = NULL;
    const char *work_dir = NULL;
    const char *cluster = NULL;
    uint64_t allocation_interval_ns = DR_NS_PER_S;
    uint64_t offer_timeout_ns = 0;
    uint64_t agent_ping_timeout_ns = 15 * DR_NS_PER_S;
    uint64_t max_agent_ping_timeouts = 5;
    const char *weights_text = NULL;
    const char *roles_text = NULL;
    uint64_t max_completed_frameworks = 50;
    uint64_t max_completed_tasks_per_framework = 1000;
    uint64_t max_unreachable_tasks_per_framework = 1000;
    const char *min_allocatable = "cpus:0.01|mem:32";
    const char *excluded_text = NULL;
    bool filter_gpu_resources = true;
    const char *logging_level = "INFO";
    const char *registry = "in_memory";
    const dr_flag flags[] = {
        {"ip", DR_FLAG_STRING, &ip, "IP address to listen on (default: all, 0.0.0.0)"},
        {"port", DR_FLAG_U64, &port, "port to listen on (0: any free port)"},
        {"hostname", DR_FLAG_STRING, &hostname,
         "host name to advertise (default: this host's name)"},
        {"advertise_ip", DR_FLAG_STRING, &advertise_ip,
         "IP address to advertise (default: resolved from --hostname)"},
        {"work_dir", DR_FLAG_STRING, &work_dir, "directory for the master's state (created)"},
        {"cluster", DR_FLAG_STRING, &cluster, "human readable name of the cluster"},
        {"registry", DR_FLAG_STRING, &registry,
         "in_memory (replicated_log is accepted and treated as in_memory for now)"},
        {"allocation_interval", DR_FLAG_DURATION, &allocation_interval_ns,
         "time between allocation cycles"},
        {"offer_timeout", DR_FLAG_DURATION, &offer_timeout_ns,
         "rescind offers not answered within this long (0: never)"},
        {"agent_ping_timeout", DR_FLAG_DURATION, &agent_ping_timeout_ns,
         "time an agent has to answer a ping"},
        {"max_agent_ping_timeouts", DR_FLAG_U64, &max_agent_ping_timeouts,
         "missed pings before an agent is unreachable"},
        {"weights", DR_FLAG_STRING, &weights_text, "role weights: ROLE=WEIGHT,..."},
        {"roles", DR_FLAG_STRING, &roles_text,
         "comma-separated whitelist of roles (default: any valid role)"},
        {"max_completed_frameworks", DR_FLAG_U64, &max_completed_frameworks,
         "completed frameworks kept in memory"},
        {"max_completed_tasks_per_framework", DR_FLAG_U64, &max_completed_tasks_per_framework,
         "completed tasks kept per framework"},
        {"max_unreachable_tasks_per_framework", DR_FLAG_U64,
         &max_unreachable_tasks_per_framework, "unreachable tasks kept per framework"},
        {"min_allocatable_resources", DR_FLAG_STRING, &min_allocatable,
         "smallest offer: cpus:N|mem:MB (either is enough; 'none': no bound)"},
        {"fair_sharing_excluded_resource_names", DR_FLAG_STRING, &excluded_text,
         "resources left out of dominant shares, comma-separated (e.g. gpus)"},
        {"filter_gpu_resources", DR_FLAG_BOOL, &filter_gpu_resources,
         "offer agents with GPUs only to GPU_RESOURCES frameworks"},
        {"logging_level", DR_FLAG_STRING, &logging_level,
         "DEBUG, INFO, WARNING or ERROR (changeable with SET_LOGGING_LEVEL)"},
    };
    dr_flags_result res;
    dr_err err;
    if (dr_flags_parse(flags, DR_ARRAY_COUNT(flags), argc, argv, &res, &err) != DR_OK)
        return dr_cmd_usage_error("master", "%s", err.msg);
    if (res.help) {
        dr_flags_usage(stdout, "master", summary, flags, DR_ARRAY_COUNT(flags));
        return 0;
    }
    if (res.positional_index < argc)
        return dr_cmd_usage_error("master", "unexpected argument '%s'", argv[res.positional_index]);
    if (port > 65535)
        return dr_cmd_usage_error("master", "--port %llu is not 0-65535", (unsigned long long)port);
    if (strcmp(registry, "in_memory") != 0 && strcmp(registry, "replicated_log") != 0)
        return dr_cmd_usage_error("master", "--registry '%s': expected in_memory or replicated_log",
                                  registry);
    dr_log_level level;
    if (parse_level(logging_level, &level, &err) != DR_OK)
        return dr_cmd_usage_error("master", "%s", err.msg);

    dr_master_flag shown[DR_ARRAY_COUNT(flags)];
    char shown_values[DR_ARRAY_COUNT(flags)][64];
    dr_master_opts opts;
    dr_master_opts_default(&opts);
    opts.flags = shown;
    opts.flag_count = flags_shown(flags, DR_ARRAY_COUNT(flags), shown, shown_values);
    opts.listen_host = ip;
    opts.port = (uint16_t)port;
    opts.hostname = hostname;
    opts.ip = advertise_ip != NULL ? advertise_ip : (ip != NULL && strcmp(ip, "0.0.0.0") != 0 ? ip : NULL);
    opts.cluster = cluster;
    opts.allocation_interval_ns = allocation_interval_ns;
    opts.offer_timeout_ns = offer_timeout_ns;
    opts.agent_ping_timeout_ns = agent_ping_timeout_ns;
    opts.max_agent_ping_timeouts = u32_flag(max_agent_ping_timeouts);
    opts.max_completed_frameworks = u32_flag(max_completed_frameworks);
    opts.max_completed_tasks_per_framework = u32_flag(max_completed_tasks_per_framework);
    opts.max_unreachable_tasks_per_framework = u32_flag(max_unreachable_tasks_per_framework);
    opts.filter_gpu_resources = filter_gpu_resources;
    if (allocation_interval_ns == 0)
        return dr_cmd_usage_error("master", "--allocation_interval must be > 0");
    if (agent_ping_timeout_ns == 0)
        return dr_cmd_usage_error("master", "--agent_ping_timeout must be > 0");
    if (max_agent_ping_timeouts == 0)
        return dr_cmd_usage_error("master", "--max_agent_ping_timeouts must be >= 1");
    if (parse_min_allocatable(min_allocatable, &opts.min_allocatable_cpus,
                              &opts.min_allocatable_mem_mb, &err) != DR_OK)
        return dr_cmd_usage_error("master", "%s", err.msg);

    int exit_code = 1;
    char *weights_buf = NULL, *roles_buf = NULL, *excluded_buf = NULL;
    dr_master_weight *weights = dr_alloc_array(LIST_COUNT_MAX, sizeof *weights);
    char **roles = dr_alloc_array(LIST_COUNT_MAX, sizeof *roles);
    char **excluded = dr_alloc_array(LIST_COUNT_MAX, sizeof *excluded);
    dr_env *env = NULL;
    master_ctx mc = {0};
    if (weights_text != NULL && weights_text[0] != '\0') {
        long n = parse_weights(weights_text, &weights_buf, weights, LIST_COUNT_MAX, &err);
        if (n < 0) {
            exit_code = dr_cmd_usage_error("master", "%s", err.msg);
            goto out;
        }
        opts.weights = weights;
        opts.weight_count = (size_t)n;
    }
    if (roles_text != NULL && roles_text[0] != '\0') {
        long n = split("roles", roles_text, ',', &roles_buf, roles, LIST_COUNT_MAX, &err);
        if (n < 0) {
            exit_code = dr_cmd_usage_error("master", "%s", err.msg);
            goto out;
        }
        opts.roles = (const char *const *)roles;
        opts.role_count = (size_t)n;
    }
    if (excluded_text != NULL && excluded_text[0] != '\0') {
        long n = split("fair_sharing_excluded_resource_names", excluded_text, ',', &excluded_buf,
                       excluded, LIST_COUNT_MAX, &err);
        if (n < 0) {
            exit_code = dr_cmd_usage_error("master", "%s", err.msg);
            goto out;
        }
        opts.fair_sharing_excluded_names = (const char *const *)excluded;
        opts.fair_sharing_excluded_count = (size_t)n;
    }

    dr_env_real_opts env_opts = {.node_name = "master", .log_level = level};
    if (dr_env_real_create(&env_opts, &env, &err) != DR_OK) {
        fprintf(stderr, "dromos master: %s\n", err.msg);
        goto out;
    }
    if (work_dir != NULL && dr_env_mkdir_p(env, work_dir, &err) != DR_OK) {
        fprintf(stderr, "dromos master: --work_dir '%s': %s\n", work_dir, err.msg);
        goto out;
    }
    if (strcmp(registry, "replicated_log") == 0)
        DR_WARN(env, "master: --registry=replicated_log: not replicated yet, state is in memory");
    dr_code rc = dr_master_create(env, &opts, &mc.master, &err);
    if (rc != DR_OK) {
        /* Bad option values the master itself checks (roles, weights) are
         * usage errors; anything else (address in use) is a failure. */
        if (rc == DR_EINVAL)
            exit_code = dr_cmd_usage_error("master", "%s", err.msg);
        else
            fprintf(stderr, "dromos master: %s\n", err.msg);
        goto out;
    }
    printf("dromos master: listening on http://%s:%u\n",
           ip != NULL ? ip : "0.0.0.0", (unsigned)dr_master_port(mc.master));
    fflush(stdout);
    dr_env_real_on_signal(env, SIGTERM, on_signal, &mc);
    dr_env_real_on_signal(env, SIGINT, on_signal, &mc);
    if (dr_env_real_run(env, &err) != DR_OK) {
        fprintf(stderr, "dromos master: %s\n", err.msg);
        goto out;
    }
    exit_code = 0;
out:
    dr_master_destroy(mc.master);
    dr_env_real_destroy(env);
    dr_free(weights);
    dr_free(roles);
    dr_free(excluded);
    dr_free(weights_buf);
    dr_free(roles_buf);
    dr_free(excluded_buf);
    return exit_code;
}

const dr_cmd dr_cmd_master = {"master", summary, run};
