/* src/daemon/cmds/local.c — `dromos local`: a whole cluster on loopback, a
 * master and N agents as child processes of this one, kept up for the user's
 * own frameworks until SIGINT/SIGTERM.
 *
 *   dromos local [--agents 2] [--port 5050] [--ip 127.0.0.1] [--work_dir DIR]
 *                [--test_agents] [--agent_resources TEXT]
 *
 * The master listens on IP:PORT, agent i on IP:PORT+i; each child's output
 * goes to DIR/master.log and DIR/agent-<i>.log, their work dirs are
 * DIR/master and DIR/agent-<i>. Without --work_dir a fresh directory under
 * $TMPDIR (or /tmp) is made, and removed at the end.
 *
 * Once every agent has registered (the master's /state counts them) it
 * prints the addresses and "ready". Stopping: SIGTERM to the agents, then to
 * the master (SIGKILL after a grace period), then any executor still running
 * with a sandbox under DIR is killed, so nothing is left behind. Exits 0
 * after a signal-driven stop, 1 when the cluster could not start or a child
 * died, 2 on bad usage.
 *
 * Process management is the outside world: this file lives in src/daemon
 * and spawns through the real env (pidfds, no SIGCHLD).
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../cmds.h"
#include "../flags.h"
#include "src/env/real/real.h"
#include "src/http/client.h"

static const char summary[] = "run a master and agents on loopback for your own frameworks";

extern char **environ;

#define AGENT_COUNT_MAX 64u
#define READY_TIMEOUT_NS (60 * DR_NS_PER_S)
#define POLL_NS (200 * DR_NS_PER_MS)
#define STOP_GRACE_NS (10 * DR_NS_PER_S)

typedef enum phase { PHASE_STARTING = 1, PHASE_UP, PHASE_STOPPING_AGENTS, PHASE_STOPPING_MASTER,
                     PHASE_DONE } phase;

typedef struct local local;

typedef struct child {
    local *owner;
    char label[32];  /* "master", "agent 1" */
    char log[4096];
    dr_pid pid;
    bool running;
    dr_exit_status status;
} child;

struct local {
    dr_env *env;
    const char *ip;
    uint16_t port;
    size_t agent_count;
    bool test_agents;
    child master;
    child agents[AGENT_COUNT_MAX];
    phase phase;
    int exit_code;
    uint64_t started_ns;
    uint64_t stop_since_ns;
    dr_http_client *client;
    dr_http_call *poll_call;
    dr_timer_id poll_timer, stop_timer;
    char why[512]; /* why we stop, when not a signal */
    child *failed;  /* the child whose death stopped the cluster, or NULL */
};

static void stop_begin(local *l, int exit_code, const char *why);
static void stop_step(local *l);

/* ---- children ------------------------------------------------------------------------- */

static void child_exit(dr_env *env, dr_pid pid, dr_exit_status status, void *ctx)
{
    (void)env;
    (void)pid;
    child *c = ctx;
    local *l = c->owner;
    c->running = false;
    c->status = status;
    if (l->phase == PHASE_STARTING || l->phase == PHASE_UP) {
        char why[600];
        snprintf(why, sizeof why, "%s (pid %lld) %s %d; see %.400s", c->label, (long long)c->pid,
                 status.signaled ? "was killed by signal" : "exited with status", status.code,
                 c->log);
        l->failed = c;
        stop_begin(l, 1, why);
        return;
    }
    stop_step(l);
}

static dr_code child_spawn(local *l, child *c, const char *const *argv, dr_err *err)
{
    dr_spawn_opts o = {
        .argv = argv,
        .envp = (const char *const *)environ,
        .stdout_path = c->log,
        .stderr_path = c->log,
        .new_session = true, /* a terminal's Ctrl-C reaches us alone; we stop them in order */
    };
    c->owner = l;
    dr_code rc = dr_env_spawn(l->env, &o, child_exit, c, &c->pid, err);
    if (rc == DR_OK)
        c->running = true;
    return rc;
}

static void child_signal(local *l, child *c, int signo)
{
    if (!c->running)
        return;
    dr_err err;
    if (dr_env_signal(l->env, c->pid, signo, true, &err) != DR_OK)
        (void)dr_env_signal(l->env, c->pid, signo, false, &err); /* gone meanwhile: fine */
}

/* Prints the last line_count lines of path on stderr, indented. */
static void print_tail(const char *path, int line_count)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    char buf[8192];
    long start = 0;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        start = size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0;
    }
    size_t n = fseek(f, start, SEEK_SET) == 0 ? fread(buf, 1, sizeof buf - 1, f) : 0;
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    const char *p = buf + n;
    int seen = 0;
    while (p > buf && seen < line_count) {
        p--;
        if (*p == '\n' && ++seen == line_count) {
            p++;
            break;
        }
    }
    for (const char *line = p; *line != '\0';) {
        const char *nl = strchr(line, '\n');
        int len = nl != NULL ? (int)(nl - line) : (int)strlen(line);
        fprintf(stderr, "    %.*s\n", len, line);
        line = nl != NULL ? nl + 1 : line + len;
    }
}

/* Kills every process whose sandbox lies under dir (executors and their
 * tasks that outlived their agent), by process group and by pid. Returns how
 * many it found. */
static size_t sweep(const char *dir)
{
    char want_dir[4200], want_sandbox[4200];
    snprintf(want_dir, sizeof want_dir, "MESOS_DIRECTORY=%s/", dir);
    snprintf(want_sandbox, sizeof want_sandbox, "MESOS_SANDBOX=%s/", dir);
    DIR *proc = opendir("/proc");
    if (proc == NULL)
        return 0;
    size_t found = 0;
    pid_t self = getpid();
    struct dirent *de;
    while ((de = readdir(proc)) != NULL) {
        char *end = NULL;
        long pid = strtol(de->d_name, &end, 10);
        if (end == de->d_name || *end != '\0' || pid <= 1 || pid == self)
            continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%ld/environ", pid);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        char buf[65536];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        bool match = false;
        for (size_t i = 0; i < n && !match; i += strlen(buf + i) + 1)
            match = strncmp(buf + i, want_dir, strlen(want_dir)) == 0 ||
                    strncmp(buf + i, want_sandbox, strlen(want_sandbox)) == 0;
        if (!match)
            continue;
        found++;
        pid_t pgid = getpgid((pid_t)pid);
        if (pgid > 1 && pgid != getpgid(0))
            kill(-pgid, SIGKILL);
        kill((pid_t)pid, SIGKILL);
    }
    closedir(proc);
    return found;
}

/* ---- readiness ------------------------------------------------------------------------- */

static void poll_arm(local *l);

static void poll_done(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                      const dr_err *err, void *ctx)
{
    (void)env;
    (void)call;
    (void)err;
    local *l = ctx;
    l->poll_call = NULL;
    if (l->phase != PHASE_STARTING)
        return;
    size_t active = 0;
    if (resp != NULL && resp->status == 200) {
        json_t *root = json_loadb((const char *)resp->body, resp->body_size, 0, NULL);
        json_t *n = root != NULL ? json_object_get(root, "activated_slaves") : NULL;
        if (n != NULL && json_is_number(n) && json_number_value(n) >= 0)
            active = (size_t)json_number_value(n);
        json_decref(root);
    }
    if (active >= l->agent_count) {
        l->phase = PHASE_UP;
        printf("dromos local: up: a master and %zu %sagent%s on %s\n", l->agent_count,
               l->test_agents ? "test " : "", l->agent_count == 1 ? "" : "s", l->ip);
        printf("  master   http://%s:%u   (pid %lld, log %s)\n", l->ip, l->port,
               (long long)l->master.pid, l->master.log);
        for (size_t i = 0; i < l->agent_count; i++)
            printf("  agent %-2zu %s%s:%u   (pid %lld, log %s)\n", i + 1,
                   l->test_agents ? "(test agent, no HTTP) " : "http://", l->ip,
                   (unsigned)(l->port + i + 1), (long long)l->agents[i].pid, l->agents[i].log);
        printf("ready: try  dromos run --master=%s:%u --instances=4 -- 'echo hello'\n", l->ip,
               l->port);
        printf("(Ctrl-C or SIGTERM stops the cluster)\n");
        fflush(stdout);
        return;
    }
    if (dr_env_now(l->env) - l->started_ns > READY_TIMEOUT_NS) {
        char why[300];
        snprintf(why, sizeof why, "only %zu of %zu agents registered within %llu s", active,
                 l->agent_count, (unsigned long long)(READY_TIMEOUT_NS / DR_NS_PER_S));
        stop_begin(l, 1, why);
        return;
    }
    poll_arm(l);
}

static const dr_http_call_cbs poll_cbs = {.done = poll_done};

static void poll_fire(dr_env *env, void *ctx)
{
    (void)env;
    local *l = ctx;
    l->poll_timer = 0;
    if (l->phase != PHASE_STARTING)
        return;
    dr_http_client_request req = {.method = "GET", .target = "/state"};
    dr_err err;
    if (dr_http_client_send(l->client, &req, &poll_cbs, l, &l->poll_call, &err) != DR_OK) {
        l->poll_call = NULL;
        poll_arm(l);
    }
}

static void poll_arm(local *l)
{
    if (l->poll_timer == 0)
        l->poll_timer = dr_env_timer_add(l->env, POLL_NS, poll_fire, l);
}

/* ---- stopping ---------------------------------------------------------------------------- */

static void stop_fire(dr_env *env, void *ctx)
{
    (void)env;
    local *l = ctx;
    l->stop_timer = 0;
    /* grace over: SIGKILL whatever this phase waits for */
    if (l->phase == PHASE_STOPPING_AGENTS) {
        for (size_t i = 0; i < l->agent_count; i++)
            if (l->agents[i].running) {
                fprintf(stderr, "dromos local: %s did not stop; SIGKILL\n", l->agents[i].label);
                child_signal(l, &l->agents[i], SIGKILL);
            }
    } else if (l->phase == PHASE_STOPPING_MASTER && l->master.running) {
        fprintf(stderr, "dromos local: the master did not stop; SIGKILL\n");
        child_signal(l, &l->master, SIGKILL);
    }
}

/* Advances the stop: agents first, then the master, then done. */
static void stop_step(local *l)
{
    if (l->phase == PHASE_STOPPING_AGENTS) {
        for (size_t i = 0; i < l->agent_count; i++)
            if (l->agents[i].running)
                return;
        l->phase = PHASE_STOPPING_MASTER;
        if (l->stop_timer != 0)
            dr_env_timer_cancel(l->env, l->stop_timer);
        child_signal(l, &l->master, SIGTERM);
        l->stop_timer = dr_env_timer_add(l->env, STOP_GRACE_NS, stop_fire, l);
    }
    if (l->phase == PHASE_STOPPING_MASTER && !l->master.running) {
        l->phase = PHASE_DONE;
        if (l->stop_timer != 0)
            dr_env_timer_cancel(l->env, l->stop_timer);
        l->stop_timer = 0;
        dr_env_real_stop(l->env);
    }
}

static void stop_begin(local *l, int exit_code, const char *why)
{
    if (l->phase != PHASE_STARTING && l->phase != PHASE_UP)
        return;
    l->exit_code = exit_code;
    if (why != NULL) {
        dr_strlcpy(l->why, why, sizeof l->why);
        fprintf(stderr, "dromos local: %s\n", why);
    }
    if (l->poll_call != NULL)
        dr_http_call_cancel(l->poll_call);
    l->poll_call = NULL;
    if (l->poll_timer != 0)
        dr_env_timer_cancel(l->env, l->poll_timer);
    l->poll_timer = 0;
    printf("dromos local: stopping the agents, then the master\n");
    fflush(stdout);
    l->phase = PHASE_STOPPING_AGENTS;
    for (size_t i = 0; i < l->agent_count; i++)
        child_signal(l, &l->agents[i], SIGTERM);
    l->stop_timer = dr_env_timer_add(l->env, STOP_GRACE_NS, stop_fire, l);
    stop_step(l);
}

static void on_signal(dr_env *env, int signo, void *ctx)
{
    (void)env;
    local *l = ctx;
    if (l->phase == PHASE_STARTING || l->phase == PHASE_UP) {
        printf("dromos local: signal %d\n", signo);
        stop_begin(l, 0, NULL);
    }
}

/* ---- the command ------------------------------------------------------------------------- */

static void self_path(char *out, size_t out_size)
{
    ssize_t n = readlink("/proc/self/exe", out, out_size - 1);
    if (n <= 0)
        n = 0;
    out[n] = '\0';
}

static int run(int argc, char **argv)
{
    uint64_t agent_count = 2;
    uint64_t port = 5050;
    const char *ip = "127.0.0.1";
    const char *work_dir = NULL;
    bool test_agents = false;
    const char *agent_resources = NULL;
    const char *log_level_text = "info";
    const dr_flag flags[] = {
        {"agents", DR_FLAG_U64, &agent_count, "how many agents"},
        {"port", DR_FLAG_U64, &port, "the master's port; agent i listens on PORT+i"},
        {"ip", DR_FLAG_STRING, &ip, "address everything listens on"},
        {"work_dir", DR_FLAG_STRING, &work_dir,
         "logs and work dirs (default: a fresh directory under /tmp, removed at the end)"},
        {"test_agents", DR_FLAG_BOOL, &test_agents,
         "run test agents (simulated tasks) instead of real ones"},
        {"agent_resources", DR_FLAG_STRING, &agent_resources,
         "each agent's --resources (default: detected)"},
        {"log_level", DR_FLAG_STRING, &log_level_text, "the children's log level"},
    };
    dr_flags_result res;
    dr_err err;
    if (dr_flags_parse(flags, DR_ARRAY_COUNT(flags), argc, argv, &res, &err) != DR_OK)
        return dr_cmd_usage_error("local", "%s", err.msg);
    if (res.help) {
        dr_flags_usage(stdout, "local", summary, flags, DR_ARRAY_COUNT(flags));
        return 0;
    }
    if (res.positional_index < argc)
        return dr_cmd_usage_error("local", "unexpected argument '%s'", argv[res.positional_index]);
    if (agent_count == 0 || agent_count > AGENT_COUNT_MAX)
        return dr_cmd_usage_error("local", "--agents %llu is not 1-%u",
                                  (unsigned long long)agent_count, AGENT_COUNT_MAX);
    if (port == 0 || port + agent_count > 65535)
        return dr_cmd_usage_error("local", "--port %llu: ports %llu-%llu must lie in 1-65535",
                                  (unsigned long long)port, (unsigned long long)port,
                                  (unsigned long long)(port + agent_count));
    dr_log_level level;
    if (dr_log_level_parse(log_level_text, &level, &err) != DR_OK)
        return dr_cmd_usage_error("local", "--log_level: %s", err.msg);
    char self[4096];
    self_path(self, sizeof self);
    if (self[0] == '\0') {
        fprintf(stderr, "dromos local: cannot find this binary (/proc/self/exe)\n");
        return 1;
    }
    char dir[4096];
    bool made_dir = false;
    if (work_dir != NULL) {
        if (strlen(work_dir) >= 2900)
            return dr_cmd_usage_error("local", "--work_dir is too long");
        if (mkdir(work_dir, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "dromos local: --work_dir '%s': %s\n", work_dir, strerror(errno));
            return 1;
        }
        if (realpath(work_dir, dir) == NULL) {
            fprintf(stderr, "dromos local: --work_dir '%s': %s\n", work_dir, strerror(errno));
            return 1;
        }
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/dromos-local.XXXXXX",
                 tmp != NULL && tmp[0] == '/' && strlen(tmp) < 2000 ? tmp : "/tmp");
        if (mkdtemp(dir) == NULL) {
            fprintf(stderr, "dromos local: making '%s': %s\n", dir, strerror(errno));
            return 1;
        }
        made_dir = true;
    }

    dr_env_real_opts env_opts = {.node_name = "local", .log_level = DR_LOG_WARN};
    local *l = dr_alloc(sizeof *l);
    if (dr_env_real_create(&env_opts, &l->env, &err) != DR_OK) {
        fprintf(stderr, "dromos local: %s\n", err.msg);
        dr_free(l);
        return 1;
    }
    l->ip = ip;
    l->port = (uint16_t)port;
    l->agent_count = (size_t)agent_count;
    l->test_agents = test_agents;
    l->phase = PHASE_STARTING;
    l->started_ns = dr_env_now(l->env);
    int exit_code = 1;

    printf("dromos local: starting a master and %zu %sagent%s on %s (work dir %s)\n",
           l->agent_count, test_agents ? "test " : "", l->agent_count == 1 ? "" : "s", ip, dir);
    if (test_agents)
        printf("dromos local: warning: test agents run simulated tasks: no commands, no output\n");
    fflush(stdout);

    char *arg_log = dr_sprintf("--logging_level=%s", dr_log_level_name(level));
    char *arg_mip = dr_sprintf("--ip=%s", ip);
    char *arg_mport = dr_sprintf("--port=%u", l->port);
    char *arg_mwork = dr_sprintf("--work_dir=%s/master", dir);
    dr_strlcpy(l->master.label, "master", sizeof l->master.label);
    snprintf(l->master.log, sizeof l->master.log, "%.3000s/master.log", dir);
    const char *margv[] = {self, "master", arg_mip, arg_mport, arg_mwork, arg_log, NULL};
    dr_code rc = child_spawn(l, &l->master, margv, &err);
    dr_free(arg_mip);
    dr_free(arg_mport);
    dr_free(arg_mwork);
    if (rc != DR_OK) {
        fprintf(stderr, "dromos local: starting the master: %s\n", err.msg);
        goto out;
    }
    for (size_t i = 0; i < l->agent_count && rc == DR_OK; i++) {
        child *c = &l->agents[i];
        snprintf(c->label, sizeof c->label, "%sagent %zu", test_agents ? "test " : "", i + 1);
        snprintf(c->log, sizeof c->log, "%.3000s/agent-%zu.log", dir, i + 1);
        char *a_master = dr_sprintf("--master=%s:%u", ip, l->port);
        char *a_ip = dr_sprintf("--ip=%s", ip);
        char *a_port = dr_sprintf("--port=%u", (unsigned)(l->port + i + 1));
        char *a_work = dr_sprintf("--work_dir=%s/agent-%zu", dir, i + 1);
        char *a_res = agent_resources != NULL ? dr_sprintf("--resources=%s", agent_resources)
                                              : NULL;
        char *a_log = dr_sprintf("--log_level=%s", dr_log_level_name(level));
        const char *aargv[10];
        size_t n = 0;
        aargv[n++] = self;
        aargv[n++] = test_agents ? "test-agent" : "agent";
        aargv[n++] = a_master;
        aargv[n++] = a_port;
        if (!test_agents) {
            aargv[n++] = a_ip;
            aargv[n++] = a_work;
        }
        if (a_res != NULL)
            aargv[n++] = a_res;
        aargv[n++] = a_log;
        aargv[n] = NULL;
        rc = child_spawn(l, c, aargv, &err);
        if (rc != DR_OK)
            fprintf(stderr, "dromos local: starting %s: %s\n", c->label, err.msg);
        dr_free(a_master);
        dr_free(a_ip);
        dr_free(a_port);
        dr_free(a_work);
        dr_free(a_res);
        dr_free(a_log);
    }
    if (rc == DR_OK)
        rc = dr_http_client_create(l->env, ip, l->port, NULL, &l->client, &err);
    if (rc != DR_OK) {
        stop_begin(l, 1, NULL);
    } else {
        dr_env_real_on_signal(l->env, SIGINT, on_signal, l);
        dr_env_real_on_signal(l->env, SIGTERM, on_signal, l);
        poll_arm(l);
    }
    if (l->phase != PHASE_DONE && dr_env_real_run(l->env, &err) != DR_OK) {
        fprintf(stderr, "dromos local: %s\n", err.msg);
        l->exit_code = 1;
    }
    exit_code = l->exit_code;

out:
    dr_free(arg_log);
    /* nothing may outlive us: children first (they are stopped unless the
     * loop failed), then executors left in sandboxes under dir */
    child_signal(l, &l->master, SIGKILL);
    for (size_t i = 0; i < l->agent_count; i++)
        child_signal(l, &l->agents[i], SIGKILL);
    size_t swept = sweep(dir);
    if (swept > 0)
        printf("dromos local: killed %zu leftover executor process%s\n", swept,
               swept == 1 ? "" : "es");
    dr_http_client_destroy(l->client);
    dr_env_real_destroy(l->env);
    if (l->failed != NULL) {
        fprintf(stderr, "dromos local: the end of %s:\n", l->failed->log);
        print_tail(l->failed->log, 8);
        if (made_dir)
            fprintf(stderr, "dromos local: work dir %s kept for a look\n", dir);
        made_dir = false; /* keep it */
    }
    if (made_dir) {
        dr_env *tmp = NULL;
        if (dr_env_real_create(&env_opts, &tmp, &err) == DR_OK) {
            if (dr_env_remove_tree(tmp, dir, &err) != DR_OK)
                fprintf(stderr, "dromos local: removing '%s': %s\n", dir, err.msg);
            dr_env_real_destroy(tmp);
        }
    }
    printf("dromos local: stopped; nothing left running%s\n",
           made_dir ? " (work dir removed)" : "");
    fflush(stdout);
    dr_free(l);
    return exit_code;
}

const dr_cmd dr_cmd_local = {"local", summary, run};
