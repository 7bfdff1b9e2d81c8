/* src/daemon/cmds/run.c — `dromos run`: run a shell command as N tasks on a
 * cluster and show what happened (src/run on the real env).
 *
 *   dromos run --master HOST:PORT [--instances N] [--cpus C] [--mem M]
 *              [--name NAME] [--timeout 60secs] [--codec json|protobuf] -- 'command'
 *
 * Prints one line per task state change while the tasks run, then a table:
 * each task's id, the agent it ran on, its final state and its output (read
 * from the agent's /files/read). Exits 0 when every task finished
 * (TASK_FINISHED), 1 otherwise (a failed task, a timeout, a refused
 * framework), 2 on bad usage (one line on stderr). SIGINT/SIGTERM tears the
 * framework down (killing the tasks) and exits 1; a second one exits at once.
 */
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cmds.h"
#include "../flags.h"
#include "src/env/real/real.h"
#include "src/run/run.h"

static const char summary[] = "run a command as N tasks on a cluster and show their output";

#define OUTPUT_LINES_MAX 20

typedef struct run_ctx {
    dr_run *run;
    int signal_count;
} run_ctx;

static void on_progress(dr_run *r, const char *line, void *ctx)
{
    (void)r;
    (void)ctx;
    printf("  %s\n", line);
    fflush(stdout);
}

/* The run is over: the loop returns and run() prints the results. */
static void on_done(dr_run *r, void *ctx)
{
    (void)r;
    dr_env_real_stop(ctx);
}

static void on_signal(dr_env *env, int signo, void *ctx)
{
    run_ctx *rc = ctx;
    if (++rc->signal_count > 1) {
        fprintf(stderr, "dromos run: signal %d again, exiting now\n", signo);
        exit(1);
    }
    (void)env;
    dr_run_cancel(rc->run, signo == SIGINT ? "interrupted (SIGINT): tearing down"
                                           : "terminated (SIGTERM): tearing down");
}

/* Prints the output of one task: the first line in the row, the others
 * indented below, at most OUTPUT_LINES_MAX lines. */
static void print_output(const char *text, int indent)
{
    int line_count = 0;
    const char *p = text;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        if (line_count == OUTPUT_LINES_MAX) {
            int more = 0;
            for (const char *q = p; *q != '\0'; q++)
                more += *q == '\n';
            printf("%*s... (%d more line%s)\n", indent, "", more + 1, more == 0 ? "" : "s");
            return;
        }
        if (line_count > 0)
            printf("%*s", indent, "");
        /* control characters would garble the terminal */
        for (size_t i = 0; i < n; i++)
            putchar(((unsigned char)p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f ? '?' : p[i]);
        putchar('\n');
        line_count++;
        if (nl == NULL)
            break;
        p = nl + 1;
        if (*p == '\0')
            break;
    }
    if (line_count == 0)
        printf("(empty)\n");
}

static void print_results(const dr_run *r)
{
    size_t count = dr_run_task_count(r);
    int id_w = 4, agent_w = 5, state_w = 5;
    for (size_t i = 0; i < count; i++) {
        const dr_run_task *t = dr_run_task_at(r, i);
        id_w = DR_MAX(id_w, (int)strlen(t->id));
        agent_w = DR_MAX(agent_w, (int)strlen(t->agent_name[0] != '\0' ? t->agent_name : "-"));
        const char *state = t->has_state ? dr_run_state_name(t->state) : "(not launched)";
        state_w = DR_MAX(state_w, (int)strlen(state));
    }
    printf("\n%-*s  %-*s  %-*s  %s\n", id_w, "TASK", agent_w, "AGENT", state_w, "STATE", "OUTPUT");
    int indent = id_w + agent_w + state_w + 6;
    size_t finished = 0;
    for (size_t i = 0; i < count; i++) {
        const dr_run_task *t = dr_run_task_at(r, i);
        const char *state = t->has_state ? dr_run_state_name(t->state) : "(not launched)";
        finished += t->has_state && t->state == MESOS__TASK_STATE__TASK_FINISHED;
        printf("%-*s  %-*s  %-*s  ", id_w, t->id, agent_w,
               t->agent_name[0] != '\0' ? t->agent_name : "-", state_w, state);
        if (t->output != NULL)
            print_output(t->output, indent);
        else if (t->output_note != NULL)
            printf("%s\n", t->output_note);
        else
            printf("(no output)\n");
        if (t->has_state && t->state != MESOS__TASK_STATE__TASK_FINISHED && t->message != NULL)
            printf("%*s(%s)\n", indent, "", t->message);
    }
    /* agent ids, once each, in order of first use */
    printf("\n");
    for (size_t i = 0; i < count; i++) {
        const dr_run_task *t = dr_run_task_at(r, i);
        if (t->agent_id[0] == '\0')
            continue;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(dr_run_task_at(r, j)->agent_id, t->agent_id) == 0;
        if (!seen)
            printf("agent %s is %s\n", t->agent_name, t->agent_id);
    }
    printf("%zu of %zu task%s finished on %zu agent%s%s%s\n", finished, count,
           count == 1 ? "" : "s", dr_run_agent_count(r), dr_run_agent_count(r) == 1 ? "" : "s",
           dr_run_failure(r)[0] != '\0' ? "; " : "", dr_run_failure(r));
}

static int parse_host_port(const char *text, char *host, size_t host_size, uint16_t *port)
{
    const char *colon = strrchr(text, ':');
    if (colon == NULL || colon == text || (size_t)(colon - text) >= host_size)
        return -1;
    char *end = NULL;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || p == 0 || p > 65535)
        return -1;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    *port = (uint16_t)p;
    return 0;
}

static int run(int argc, char **argv)
{
    const char *master = NULL;
    uint64_t instances = 1;
    double cpus = 0.1;
    double mem = 32;
    const char *name = "dromos-run";
    const char *user = NULL;
    uint64_t timeout_ns = 60 * DR_NS_PER_S;
    const char *codec_text = "protobuf";
    uint64_t output_size = 4096;
    const char *log_level_text = "warn";
    const dr_flag flags[] = {
        {"master", DR_FLAG_STRING, &master, "the master's HOST:PORT (required)"},
        {"instances", DR_FLAG_U64, &instances, "how many tasks run the command"},
        {"cpus", DR_FLAG_DOUBLE, &cpus, "cpus per task"},
        {"mem", DR_FLAG_DOUBLE, &mem, "memory per task, MB"},
        {"name", DR_FLAG_STRING, &name, "framework name; tasks are NAME-1, NAME-2, ..."},
        {"user", DR_FLAG_STRING, &user, "user the tasks run as (default: yours)"},
        {"timeout", DR_FLAG_DURATION, &timeout_ns, "give up (and kill the tasks) after this long"},
        {"codec", DR_FLAG_STRING, &codec_text, "json or protobuf, on the scheduler API"},
        {"output_size", DR_FLAG_U64, &output_size, "bytes of each task's stdout to show"},
        {"log_level", DR_FLAG_STRING, &log_level_text, "debug, info, warn or error (stderr)"},
    };
    dr_flags_result res;
    dr_err err;
    if (dr_flags_parse(flags, DR_ARRAY_COUNT(flags), argc, argv, &res, &err) != DR_OK)
        return dr_cmd_usage_error("run", "%s", err.msg);
    if (res.help) {
        dr_flags_usage(stdout, "run", summary, flags, DR_ARRAY_COUNT(flags));
        printf("\nThe command comes last, after '--': dromos run --master=127.0.0.1:5050 "
               "--instances=3 -- 'echo hello'\n");
        return 0;
    }
    if (master == NULL)
        return dr_cmd_usage_error("run", "--master HOST:PORT is required");
    char host[256];
    uint16_t port = 0;
    if (parse_host_port(master, host, sizeof host, &port) != 0)
        return dr_cmd_usage_error("run", "--master '%s': expected HOST:PORT", master);
    if (res.positional_index >= argc)
        return dr_cmd_usage_error("run", "no command given (put it last, after '--')");
    if (instances == 0 || instances > DR_RUN_INSTANCE_COUNT_MAX)
        return dr_cmd_usage_error("run", "--instances %llu is not 1-%u",
                                  (unsigned long long)instances, DR_RUN_INSTANCE_COUNT_MAX);
    if (!(cpus > 0) || cpus > 1e6)
        return dr_cmd_usage_error("run", "--cpus %g must be > 0", cpus);
    if (!(mem > 0) || mem > 1e12)
        return dr_cmd_usage_error("run", "--mem %g must be > 0", mem);
    if (timeout_ns == 0)
        return dr_cmd_usage_error("run", "--timeout must be > 0");
    if (output_size == 0 || output_size > 1024 * 1024)
        return dr_cmd_usage_error("run", "--output_size %llu is not 1-1048576",
                                  (unsigned long long)output_size);
    dr_http_codec codec;
    if (strcmp(codec_text, "json") == 0)
        codec = DR_HTTP_CODEC_JSON;
    else if (strcmp(codec_text, "protobuf") == 0)
        codec = DR_HTTP_CODEC_PROTOBUF;
    else
        return dr_cmd_usage_error("run", "--codec '%s': expected json or protobuf", codec_text);
    dr_log_level level;
    if (dr_log_level_parse(log_level_text, &level, &err) != DR_OK)
        return dr_cmd_usage_error("run", "--log_level: %s", err.msg);
    if (user == NULL) {
        struct passwd *pw = getpwuid(geteuid());
        user = pw != NULL && pw->pw_name != NULL ? pw->pw_name : "root";
    }
    /* the command: the remaining arguments joined by spaces (as ssh does) */
    dr_buf command;
    dr_buf_init(&command);
    for (int i = res.positional_index; i < argc; i++)
        dr_buf_printf(&command, "%s%s", i > res.positional_index ? " " : "", argv[i]);
    if (command.size == 0) {
        dr_buf_deinit(&command);
        return dr_cmd_usage_error("run", "the command is empty");
    }

    dr_env_real_opts env_opts = {.node_name = "run", .log_level = level};
    dr_env *env = NULL;
    if (dr_env_real_create(&env_opts, &env, &err) != DR_OK) {
        fprintf(stderr, "dromos run: %s\n", err.msg);
        dr_buf_deinit(&command);
        return 1;
    }
    dr_run_opts opts = {
        .master_host = host,
        .master_port = port,
        .codec = codec,
        .name = name,
        .user = user,
        .command = dr_buf_cstr(&command),
        .instance_count = (uint32_t)instances,
        .cpus = cpus,
        .mem_mb = mem,
        .timeout_ns = timeout_ns,
        .output_size_max = (size_t)output_size,
    };
    static const dr_run_cbs cbs = {.progress = on_progress, .done = on_done};
    run_ctx rc = {0};
    if (dr_run_create(env, &opts, &cbs, env, &rc.run, &err) != DR_OK) {
        dr_env_real_destroy(env);
        dr_buf_deinit(&command);
        return dr_cmd_usage_error("run", "%s", err.msg);
    }
    dr_env_real_on_signal(env, SIGINT, on_signal, &rc);
    dr_env_real_on_signal(env, SIGTERM, on_signal, &rc);
    printf("dromos run: %llu task%s of '%s' (cpus %g, mem %g MB each)\n",
           (unsigned long long)instances, instances == 1 ? "" : "s", opts.command, cpus, mem);
    fflush(stdout);
    dr_buf_deinit(&command);
    dr_run_start(rc.run);
    int exit_code = 1;
    if (dr_env_real_run(env, &err) != DR_OK) {
        fprintf(stderr, "dromos run: %s\n", err.msg);
    } else {
        print_results(rc.run);
        exit_code = dr_run_succeeded(rc.run) ? 0 : 1;
    }
    fflush(stdout);
    dr_run_destroy(rc.run);
    dr_env_real_destroy(env);
    return exit_code;
}

const dr_cmd dr_cmd_run = {"run", summary, run};
