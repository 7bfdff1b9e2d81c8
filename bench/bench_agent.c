/* bench/bench_agent.c — one real agent under load: a real `dromos master` and
 * `dromos agent` (spawned processes on loopback, work dirs under a temp dir),
 * driven by a scheduler on the v1 API (src/sched, in this process, over the
 * real env). Every task runs under its own `dromos executor` process, as
 * command tasks do. Everything the program does outside goes through dr_env:
 * spawning, signals, files (/proc included) and time.
 *
 * It measures:
 *
 * 1. Trivial tasks per second: a checkpointing framework accepts one offer
 *    with M tasks running `true` (0.01 cpus, 32 MB each); the run lasts from
 *    the ACCEPT being sent to the acknowledgement of the last TASK_FINISHED
 *    being sent. K runs on the same cluster; the median is printed, the spread
 *    next to it. Then the same for a framework that does not checkpoint (the
 *    agent writes no task.info or update records for it). Target >= 100/s on
 *    a 2-core machine.
 * 2. The agent's resident memory per running task: 100 tasks `sleep 1000`
 *    are launched and followed to TASK_RUNNING, the agent's VmRSS read from
 *    /proc/<agent pid>/status (median of a few samples after the agent
 *    settled); then 900 more; the slope (RSS(1000) - RSS(100)) / 900. The
 *    executors are separate processes, so they are not counted. Target
 *    <= 64 KiB. The tasks are then killed (TASK_KILLED, acknowledged).
 *
 * Every update with a uuid is acknowledged once. A task ending in another
 * state than the expected one fails the bench (exit 1), naming the task and
 * the message, and the temp dir (with master.log and agent.log) is kept.
 *
 *   bench_agent                 full size: M = 200, K = 5; 100 -> 1,000 tasks
 *   bench_agent --smoke         M = 8, K = 1; 5 -> 20 tasks (seconds)
 *   bench_agent [--tasks M] [--runs K] [--low N] [--high N] [--dir DIR] [--keep]
 *               [--dromos PATH]
 *
 * DIR (default /tmp) is where the temp dir goes, so the disk under the work
 * dirs can be chosen (the task rate follows its fsync latency). PATH: another
 * dromos binary (to compare builds; default: the one built with the bench).
 */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/env/real/real.h"
#include "src/resources/resources.h"
#include "src/sched/sched.h"

#ifndef DR_BENCH_DROMOS
#error "bench/meson.build passes the dromos binary's path as DR_BENCH_DROMOS"
#endif

#define TASK_CPUS 0.01
#define TASK_MEM_MB 32.0
#define AGENT_RESOURCES "cpus:32;mem:131072;disk:10000;ports:[31000-32000]"
#define SPAWN_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define RUNS_MAX 64
#define TASKS_MAX 5000
#define RSS_SAMPLE_COUNT 5
#define MEM_BATCH_COUNT 100

typedef enum phase {
    P_STARTING,    /* master and agent starting; the scheduler subscribing */
    P_RATE_OFFER,  /* a rate run waits for an offer */
    P_RATE_RUN,    /* a rate run's tasks are under way */
    P_MEM_OFFER,   /* the memory step waits for an offer */
    P_MEM_RUN,     /* the memory step's tasks are starting */
    P_MEM_SETTLE,  /* all running: RSS samples are taken */
    P_KILLING,     /* the sleeping tasks are being killed */
    P_SWITCHING,   /* one framework is torn down, the next one not yet started */
    P_STOPPING,    /* the framework is torn down; the daemons are stopping */
} phase;

typedef struct task {
    char id[32];
    int state; /* -1: not launched yet */
} task;

typedef struct proc {
    const char *name;
    dr_pid pid;
    bool running;
    dr_exit_status status;
    char log_path[600];
} proc;

typedef struct bench {
    dr_env *env;
    bool smoke;
    const char *dromos; /* the binary spawned for master, agent and executors */
    bool failed;
    char dir[512]; /* the temp dir */
    proc master, agent;
    uint16_t master_port;
    dr_sched *sched;
    dr_sched *retired; /* torn down, destroyed once its TEARDOWN has gone out */
    bool checkpoint; /* the current framework's FrameworkInfo.checkpoint */
    bool mem_stage;  /* the rate runs are over */
    phase phase;
    dr_timer_id poll_timer;

    /* sizes */
    uint32_t rate_tasks;
    uint32_t run_count;
    uint32_t mem_low, mem_high;

    /* the current framework's tasks (ids are unique per framework) */
    task *tasks;
    uint32_t task_count;
    uint32_t done_count;    /* tasks in the expected state */
    uint64_t acks;
    uint64_t launched_at_ns;
    uint64_t launched_cpu_ns;

    /* results */
    uint32_t run_index;
    double rate_per_s[2][RUNS_MAX]; /* [checkpoint][run] */
    double cpu_ms_per_task[2][RUNS_MAX];
    uint32_t mem_step;              /* 0: low, 1: high */
    uint32_t mem_launched;          /* sleeping tasks launched so far */
    uint32_t rss_sample_index;
    uint64_t rss_samples_kib[RSS_SAMPLE_COUNT];
    uint64_t rss_kib[2];
} bench;

static void fail(bench *b, const char *fmt, ...) DR_PRINTF(2, 3);
static void start_framework(bench *b, bool checkpoint);
static void next_step(bench *b);

static void fail(bench *b, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!b->failed)
        fprintf(stderr, "bench_agent: %s (logs in %s)\n", msg, b->dir);
    b->failed = true;
    dr_env_real_stop(b->env);
}

static bool state_terminal(int s)
{
    return s == MESOS__TASK_STATE__TASK_FINISHED || s == MESOS__TASK_STATE__TASK_FAILED ||
           s == MESOS__TASK_STATE__TASK_KILLED || s == MESOS__TASK_STATE__TASK_LOST ||
           s == MESOS__TASK_STATE__TASK_ERROR || s == MESOS__TASK_STATE__TASK_DROPPED ||
           s == MESOS__TASK_STATE__TASK_GONE || s == MESOS__TASK_STATE__TASK_GONE_BY_OPERATOR;
}

static const char *state_name(int s)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&mesos__task_state__descriptor, s);
    return v != NULL ? v->name : "?";
}

static int cmp_double(const void *x, const void *y)
{
    double p = *(const double *)x, q = *(const double *)y;
    return p < q ? -1 : p > q ? 1 : 0;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t p = *(const uint64_t *)x, q = *(const uint64_t *)y;
    return p < q ? -1 : p > q ? 1 : 0;
}

/* ---- processes ---------------------------------------------------------------- */

static void proc_exit_cb(dr_env *env, dr_pid pid, dr_exit_status status, void *ctx)
{
    (void)env;
    (void)pid;
    proc *p = ctx;
    p->running = false;
    p->status = status;
}

static dr_code proc_spawn(bench *b, proc *p, const char *const *argv, dr_err *err)
{
    static const char *const envp[] = {SPAWN_PATH, NULL};
    snprintf(p->log_path, sizeof p->log_path, "%s/%s.log", b->dir, p->name);
    dr_spawn_opts o = {.argv = argv, .envp = envp, .cwd = b->dir, .stdout_path = p->log_path,
                       .stderr_path = p->log_path, .new_session = true};
    dr_code rc = dr_env_spawn(b->env, &o, proc_exit_cb, p, &p->pid, err);
    if (rc == DR_OK)
        p->running = true;
    return rc;
}

/* The port a daemon printed after `prefix` in its log ("...listening on
 * http://127.0.0.1:PORT"): 0 while it has not. */
static uint16_t log_port(bench *b, const proc *p, const char *prefix)
{
    uint8_t *data = NULL;
    size_t size = 0;
    dr_err err;
    if (dr_env_read_all(b->env, p->log_path, 1u << 20, &data, &size, &err) != DR_OK)
        return 0;
    uint16_t port = 0;
    const char *at = strstr((const char *)data, prefix);
    if (at != NULL) {
        const char *line_end = strchr(at, '\n');
        const char *colon = NULL;
        for (const char *c = at + strlen(prefix); line_end != NULL && c < line_end && *c != ' ';
             c++)
            if (*c == ':')
                colon = c;
        if (colon != NULL) {
            unsigned long v = strtoul(colon + 1, NULL, 10);
            if (v > 0 && v <= 65535)
                port = (uint16_t)v;
        }
    }
    dr_free(data);
    return port;
}

/* Resident memory of pid in KiB from /proc/<pid>/status; 0 if unreadable. */
static uint64_t rss_kib(bench *b, dr_pid pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%" PRId64 "/status", pid);
    uint8_t *data = NULL;
    size_t size = 0;
    dr_err err;
    if (dr_env_read_all(b->env, path, 1u << 16, &data, &size, &err) != DR_OK) {
        fail(b, "%s", err.msg);
        return 0;
    }
    uint64_t kib = 0;
    const char *at = strstr((const char *)data, "\nVmRSS:");
    if (at != NULL)
        kib = strtoull(at + 7, NULL, 10);
    dr_free(data);
    if (kib == 0)
        fail(b, "no VmRSS in %s", path);
    return kib;
}

/* CPU time of pid in ns from /proc/<pid>/stat: utime + stime, plus cutime +
 * cstime (its reaped children: the agent's executors and their tasks) when
 * children. The kernel reports these in USER_HZ ticks, 100 per second on
 * Linux's ABI; 0 if unreadable. */
static uint64_t cpu_ns(bench *b, dr_pid pid, bool children)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%" PRId64 "/stat", pid);
    uint8_t *data = NULL;
    size_t size = 0;
    dr_err err;
    if (dr_env_read_all(b->env, path, 1u << 16, &data, &size, &err) != DR_OK)
        return 0;
    uint64_t ticks = 0;
    const char *at = strrchr((const char *)data, ')'); /* the name may hold spaces */
    if (at != NULL) {
        /* fields after the name: 3 state ... 14 utime 15 stime 16 cutime 17 cstime */
        char *c = (char *)at + 1;
        for (int field = 3; field <= 17 && *c != '\0'; field++) {
            long long v = strtoll(c, &c, 10);
            if (field == 3) { /* the state is a letter */
                while (*c == ' ')
                    c++;
                c++;
                continue;
            }
            if (field == 14 || field == 15 || (children && (field == 16 || field == 17)))
                ticks += (uint64_t)(v > 0 ? v : 0);
        }
    }
    dr_free(data);
    return ticks * (DR_NS_PER_S / 100);
}

/* The cluster's CPU time so far: master, agent and the agent's reaped children. */
static uint64_t cluster_cpu_ns(bench *b)
{
    return cpu_ns(b, b->master.pid, false) + cpu_ns(b, b->agent.pid, true);
}

/* ---- the scheduler -------------------------------------------------------------- */

static uint32_t task_index(const bench *b, const char *id)
{
    const char *dash = strrchr(id, '-');
    if (dash == NULL)
        return UINT32_MAX;
    char *end = NULL;
    unsigned long k = strtoul(dash + 1, &end, 10);
    if (end == dash + 1 || *end != '\0' || k >= b->task_count || strcmp(b->tasks[k].id, id) != 0)
        return UINT32_MAX;
    return (uint32_t)k;
}

static double offer_scalar(const Mesos__Offer *o, const char *name)
{
    double v = 0;
    for (size_t r = 0; r < o->n_resources; r++)
        if (o->resources[r]->scalar != NULL && strcmp(o->resources[r]->name, name) == 0)
            v += o->resources[r]->scalar->value;
    return v;
}

/* Launches tasks [from, to) of b->tasks, running command, on offer o. */
static bool launch(bench *b, dr_sched *s, const Mesos__Offer *o, uint32_t from, uint32_t to,
                   const char *command)
{
    uint32_t n = to - from;
    if (offer_scalar(o, "cpus") < TASK_CPUS * n - 1e-6 ||
        offer_scalar(o, "mem") < TASK_MEM_MB * n - 1e-6)
        return false;
    Mesos__TaskInfo *infos = dr_alloc_array(n, sizeof *infos);
    Mesos__TaskInfo **ptrs = dr_alloc_array(n, sizeof *ptrs);
    Mesos__TaskID *tids = dr_alloc_array(n, sizeof *tids);
    Mesos__CommandInfo cmd = MESOS__COMMAND_INFO__INIT;
    cmd.value = (char *)command;
    Mesos__Resource *cpu = dr_resource_new_scalar("cpus", NULL, TASK_CPUS);
    Mesos__Resource *mem = dr_resource_new_scalar("mem", NULL, TASK_MEM_MB);
    const Mesos__Resource *first = o->n_resources > 0 ? o->resources[0] : NULL;
    if (first != NULL && first->allocation_info != NULL && first->allocation_info->role != NULL) {
        Mesos__Resource *both[2] = {cpu, mem};
        for (size_t i = 0; i < 2; i++) {
            both[i]->allocation_info = dr_alloc(sizeof *both[i]->allocation_info);
            mesos__resource__allocation_info__init(both[i]->allocation_info);
            both[i]->allocation_info->role = dr_strdup(first->allocation_info->role);
        }
    }
    Mesos__Resource *res[2] = {cpu, mem};
    for (uint32_t i = 0; i < n; i++) {
        task *t = &b->tasks[from + i];
        mesos__task_info__init(&infos[i]);
        mesos__task_id__init(&tids[i]);
        tids[i].value = t->id;
        infos[i].name = t->id;
        infos[i].task_id = &tids[i];
        infos[i].agent_id = o->agent_id;
        infos[i].command = &cmd;
        infos[i].n_resources = 2;
        infos[i].resources = res;
        ptrs[i] = &infos[i];
        t->state = MESOS__TASK_STATE__TASK_STAGING;
    }
    Mesos__Offer__Operation op = MESOS__OFFER__OPERATION__INIT;
    Mesos__Offer__Operation__Launch l = MESOS__OFFER__OPERATION__LAUNCH__INIT;
    l.n_task_infos = n;
    l.task_infos = ptrs;
    op.has_type = true;
    op.type = MESOS__OFFER__OPERATION__TYPE__LAUNCH;
    op.launch = &l;
    Mesos__Offer__Operation *ops[1] = {&op};
    const char *oid = o->id->value;
    dr_err err;
    b->launched_at_ns = dr_env_now(b->env);
    b->launched_cpu_ns = cluster_cpu_ns(b);
    dr_code rc = dr_sched_accept(s, &oid, 1, ops, 1, 0.0, &err);
    dr_resource_free(cpu);
    dr_resource_free(mem);
    dr_free(tids);
    dr_free(ptrs);
    dr_free(infos);
    if (rc != DR_OK)
        fail(b, "accept: %s", err.msg);
    return true;
}

static void on_offers(dr_sched *s, const Mesos__Scheduler__Event__Offers *ev, void *ctx)
{
    bench *b = ctx;
    if (s != b->sched || b->phase == P_STOPPING)
        return; /* torn down, or about to be */
    for (size_t i = 0; i < ev->n_offers; i++) {
        const Mesos__Offer *o = ev->offers[i];
        bool used = false;
        if (b->phase == P_RATE_OFFER) {
            uint32_t from = b->run_index * b->rate_tasks;
            used = launch(b, s, o, from, from + b->rate_tasks, "true");
            if (used)
                b->phase = P_RATE_RUN;
        } else if (b->phase == P_MEM_OFFER) {
            /* in batches, each followed to TASK_RUNNING before the next: a
             * thousand executors starting at once on two cores would outlast
             * the registration timeout */
            uint32_t from = b->mem_launched;
            uint32_t to = DR_MIN(from + MEM_BATCH_COUNT,
                                 b->mem_step == 0 ? b->mem_low : b->mem_high);
            used = launch(b, s, o, from, to, "sleep 1000");
            if (used) {
                b->mem_launched = to;
                b->phase = P_MEM_RUN;
            }
        }
        if (!used) {
            const char *oid = o->id->value;
            dr_err err;
            /* refuse briefly: the next step may want them soon */
            if (dr_sched_decline(s, &oid, 1, 0.0, &err) != DR_OK)
                fail(b, "decline: %s", err.msg);
        }
    }
}

static void settle_fire(dr_env *env, void *ctx);
static void teardown_fire(dr_env *env, void *ctx);

/* A task reached the state its step waits for. */
static void task_done(bench *b)
{
    b->done_count++;
    if (b->phase == P_RATE_RUN) {
        uint32_t need = (b->run_index + 1) * b->rate_tasks;
        if (b->done_count < need)
            return;
        double s = (double)(dr_env_now(b->env) - b->launched_at_ns) / 1e9;
        b->rate_per_s[b->checkpoint][b->run_index] = (double)b->rate_tasks / s;
        b->cpu_ms_per_task[b->checkpoint][b->run_index] =
            (double)(cluster_cpu_ns(b) - b->launched_cpu_ns) / 1e6 / (double)b->rate_tasks;
        b->run_index++;
        next_step(b);
    } else if (b->phase == P_MEM_RUN) {
        if (b->done_count < b->mem_launched)
            return;
        if (b->mem_launched < (b->mem_step == 0 ? b->mem_low : b->mem_high)) {
            b->phase = P_MEM_OFFER; /* the next batch */
            return;
        }
        b->phase = P_MEM_SETTLE;
        b->rss_sample_index = 0;
        /* let the agent finish its turn (acks, checkpoints) before sampling */
        dr_env_timer_add(b->env, (b->smoke ? 300 : 2000) * DR_NS_PER_MS, settle_fire, b);
    } else if (b->phase == P_KILLING) {
        if (b->done_count < b->mem_high)
            return;
        next_step(b);
    }
}

static void on_update(dr_sched *s, const Mesos__Scheduler__Event__Update *ev, void *ctx)
{
    bench *b = ctx;
    const Mesos__TaskStatus *st = ev->status;
    if (st == NULL || st->task_id == NULL || s != b->sched)
        return;
    /* first the acknowledgement: a finished step may replace the scheduler */
    if (st->has_uuid && st->agent_id != NULL) {
        dr_err err;
        if (dr_sched_acknowledge(s, st->agent_id->value, st->task_id->value, st->uuid.data,
                                 st->uuid.len, &err) != DR_OK)
            fail(b, "acknowledge: %s", err.msg);
        b->acks++;
    }
    uint32_t k = task_index(b, st->task_id->value);
    if (k != UINT32_MAX) {
        task *t = &b->tasks[k];
        int was = t->state;
        int now = (int)st->state;
        bool rate = b->phase == P_RATE_RUN;
        bool want = rate ? now == MESOS__TASK_STATE__TASK_FINISHED
                         : (b->phase == P_KILLING ? now == MESOS__TASK_STATE__TASK_KILLED
                                                  : now == MESOS__TASK_STATE__TASK_RUNNING);
        if (!state_terminal(was))
            t->state = now;
        if (state_terminal(now) && !want && !state_terminal(was)) {
            fail(b, "task '%s': %s%s%s", t->id, state_name(now), st->message != NULL ? ": " : "",
                 st->message != NULL ? st->message : "");
            return;
        }
        if (want && was != now && !state_terminal(was))
            task_done(b); /* the first time it gets there; a resent update does not count */
    }
}

static void on_subscribed(dr_sched *s, const Mesos__Scheduler__Event__Subscribed *ev, void *ctx)
{
    (void)ev;
    bench *b = ctx;
    if (s == b->sched && b->phase == P_STARTING)
        next_step(b);
}

static void on_error(dr_sched *s, const Mesos__Scheduler__Event__Error *ev, void *ctx)
{
    bench *b = ctx;
    if (s == b->sched)
        fail(b, "the master refused the framework: %s", ev->message);
}

static void on_call_failed(dr_sched *s, Mesos__Scheduler__Call__Type type, int status,
                           const char *text, void *ctx)
{
    bench *b = ctx;
    if (s == b->sched && b->phase != P_STOPPING) /* calls racing the teardown may be refused */
        fail(b, "%s answered %d: %s", dr_sched_call_type_name(type), status, text);
}

static const dr_sched_cbs sched_cbs = {.subscribed = on_subscribed,
                                       .offers = on_offers,
                                       .update = on_update,
                                       .error = on_error,
                                       .call_failed = on_call_failed};

static void start_framework(bench *b, bool checkpoint)
{
    DR_ASSERT(b->sched == NULL);
    b->checkpoint = checkpoint;
    b->done_count = 0;
    for (uint32_t i = 0; i < b->task_count; i++)
        b->tasks[i].state = -1;
    Mesos__FrameworkInfo fi = MESOS__FRAMEWORK_INFO__INIT;
    fi.user = (char *)"root"; /* the agent runs with --switch_user=false */
    fi.name = (char *)(checkpoint ? "bench-agent-checkpoint" : "bench-agent");
    fi.has_checkpoint = true;
    fi.checkpoint = checkpoint;
    dr_sched_opts so = {.host = "127.0.0.1", .port = b->master_port,
                        .codec = DR_HTTP_CODEC_PROTOBUF, .framework_info = &fi,
                        .backoff_min_ns = 50 * DR_NS_PER_MS,
                        .backoff_max_ns = 500 * DR_NS_PER_MS};
    dr_err err;
    if (dr_sched_create(b->env, &so, &sched_cbs, b, &b->sched, &err) != DR_OK) {
        fail(b, "scheduler: %s", err.msg);
        return;
    }
    b->phase = P_STARTING;
    dr_sched_start(b->sched);
}

static void switch_fire(dr_env *env, void *ctx)
{
    (void)env;
    bench *b = ctx;
    dr_sched_destroy(b->retired);
    b->retired = NULL;
    start_framework(b, b->mem_stage);
}

/* Tears the current framework down (its last acknowledgements went out
 * before: calls travel on separate connections, so the teardown waits a
 * little) and starts the next one a little later. */
static void switch_framework(bench *b)
{
    DR_ASSERT(b->retired == NULL);
    b->phase = P_SWITCHING;
    b->retired = b->sched;
    b->sched = NULL;
    b->done_count = 0;
    dr_env_timer_add(b->env, 300 * DR_NS_PER_MS, teardown_fire, b);
}

static void teardown_fire(dr_env *env, void *ctx)
{
    (void)env;
    bench *b = ctx;
    dr_err err;
    if (dr_sched_teardown(b->retired, &err) != DR_OK)
        fail(b, "teardown: %s", err.msg);
    dr_env_timer_add(b->env, 300 * DR_NS_PER_MS, switch_fire, b);
}

/* After subscription and after each step: what comes next. Rate runs with a
 * checkpointing framework, then with one that does not checkpoint, then the
 * memory steps with a checkpointing framework again. */
static void next_step(bench *b)
{
    switch (b->phase) {
    case P_STARTING:
        b->phase = b->mem_stage ? P_MEM_OFFER : P_RATE_OFFER;
        return;
    case P_RATE_RUN:
        if (b->run_index < b->run_count) {
            b->phase = P_RATE_OFFER;
        } else if (b->checkpoint) {
            b->run_index = 0; /* the same runs without checkpointing */
            switch_framework(b);
        } else {
            b->mem_stage = true;
            b->mem_step = 0;
            switch_framework(b);
        }
        return;
    case P_KILLING:
        b->phase = P_STOPPING;
        dr_env_real_stop(b->env);
        return;
    default:
        DR_ASSERT(!"next_step from this phase");
    }
}

static void settle_fire(dr_env *env, void *ctx)
{
    (void)env;
    bench *b = ctx;
    if (b->phase != P_MEM_SETTLE || b->failed)
        return;
    b->rss_samples_kib[b->rss_sample_index++] = rss_kib(b, b->agent.pid);
    if (b->rss_sample_index < RSS_SAMPLE_COUNT) {
        dr_env_timer_add(b->env, 200 * DR_NS_PER_MS, settle_fire, b);
        return;
    }
    qsort(b->rss_samples_kib, RSS_SAMPLE_COUNT, sizeof b->rss_samples_kib[0], cmp_u64);
    b->rss_kib[b->mem_step] = b->rss_samples_kib[RSS_SAMPLE_COUNT / 2];
    if (b->mem_step == 0) {
        b->mem_step = 1;
        b->phase = P_MEM_OFFER;
        return;
    }
    /* kill every sleeping task; the executors exit after their TASK_KILLED */
    b->phase = P_KILLING;
    b->done_count = 0;
    for (uint32_t i = 0; i < b->mem_high && !b->failed; i++) {
        dr_err err;
        if (dr_sched_kill(b->sched, b->tasks[i].id, NULL, &err) != DR_OK)
            fail(b, "kill: %s", err.msg);
    }
}

/* ---- the cluster ---------------------------------------------------------------- */

static void start_poll_fire(dr_env *env, void *ctx)
{
    (void)env;
    bench *b = ctx;
    b->poll_timer = 0;
    if (!b->master.running || (b->agent.pid != 0 && !b->agent.running)) {
        fail(b, "the %s exited during start-up", b->master.running ? "agent" : "master");
        return;
    }
    if (b->master_port == 0) {
        b->master_port = log_port(b, &b->master, "listening on http://");
        if (b->master_port != 0) {
            char master_flag[64], work_flag[600];
            snprintf(master_flag, sizeof master_flag, "--master=127.0.0.1:%u", b->master_port);
            snprintf(work_flag, sizeof work_flag, "--work_dir=%s/agent", b->dir);
            const char *argv[] = {b->dromos, "agent", master_flag, work_flag,
                                  "--ip=127.0.0.1", "--port=0",
                                  "--resources=" AGENT_RESOURCES, "--switch_user=false",
                                  "--registration_backoff_factor=100ms",
                                  "--executor_shutdown_grace_period=1secs",
                                  "--executor_registration_timeout=5mins",
                                  "--log_level=warn", NULL};
            dr_err err;
            if (proc_spawn(b, &b->agent, argv, &err) != DR_OK) {
                fail(b, "spawning the agent: %s", err.msg);
                return;
            }
        }
    } else if (log_port(b, &b->agent, "agent listening on ") != 0) {
        start_framework(b, true);
        return;
    }
    b->poll_timer = dr_env_timer_add(b->env, 20 * DR_NS_PER_MS, start_poll_fire, b);
}

static void deadline_fire(dr_env *env, void *ctx)
{
    (void)env;
    bench *b = ctx;
    fail(b, "not done in time (phase %d, %u tasks done, run %u)", (int)b->phase, b->done_count,
         b->run_index);
}

static void stop_proc(bench *b, proc *p, uint64_t limit_ns)
{
    if (!p->running)
        return;
    dr_err err;
    (void)dr_env_signal(b->env, p->pid, SIGTERM, false, &err); /* gone already: fine */
    uint64_t until = dr_env_now(b->env) + limit_ns;
    while (p->running && dr_env_now(b->env) < until)
        dr_env_real_run_once(b->env, 50 * DR_NS_PER_MS);
    if (p->running) {
        fprintf(stderr, "bench_agent: the %s did not stop on SIGTERM; killing it\n", p->name);
        (void)dr_env_signal(b->env, p->pid, SIGKILL, true, &err); /* best effort */
        while (p->running)
            dr_env_real_run_once(b->env, 50 * DR_NS_PER_MS);
    }
}

/* After a failure: SIGKILL the process group of every executor the agent
 * recorded (meta/.../runs/<c>/pids/forked.pid: a 16-byte record header, then
 * the pid in decimal), so that nothing the bench started outlives it. */
static void kill_leftovers(bench *b, const char *dir, int depth)
{
    static const char *const levels[] = {"slaves", "*", "frameworks", "*", "executors", "*",
                                         "runs", "*", "pids"};
    if (depth == (int)DR_ARRAY_COUNT(levels)) {
        char *path = dr_sprintf("%s/forked.pid", dir);
        uint8_t *data = NULL;
        size_t size = 0;
        dr_err err;
        if (dr_env_read_all(b->env, path, 4096, &data, &size, &err) == DR_OK) {
            long long pid = size > 16 ? strtoll((const char *)data + 16, NULL, 10) : 0;
            if (pid > 1)
                (void)dr_env_signal(b->env, (dr_pid)pid, SIGKILL, true, &err); /* gone: fine */
            dr_free(data);
        }
        dr_free(path);
        return;
    }
    if (strcmp(levels[depth], "*") != 0) {
        char *next = dr_sprintf("%s/%s", dir, levels[depth]);
        kill_leftovers(b, next, depth + 1);
        dr_free(next);
        return;
    }
    dr_dir_list list = {0};
    dr_err err;
    if (dr_env_list_dir(b->env, dir, &list, &err) != DR_OK)
        return;
    for (size_t i = 0; i < list.count; i++) {
        if (strcmp(list.names[i], "latest") == 0)
            continue;
        char *next = dr_sprintf("%s/%s", dir, list.names[i]);
        kill_leftovers(b, next, depth + 1);
        dr_free(next);
    }
    dr_dir_list_free(&list);
}

static void print_rate(const bench *b, bool checkpoint)
{
    double sorted[RUNS_MAX], cpu[RUNS_MAX];
    memcpy(sorted, b->rate_per_s[checkpoint], b->run_count * sizeof sorted[0]);
    qsort(sorted, b->run_count, sizeof sorted[0], cmp_double);
    memcpy(cpu, b->cpu_ms_per_task[checkpoint], b->run_count * sizeof cpu[0]);
    qsort(cpu, b->run_count, sizeof cpu[0], cmp_double);
    printf("agent trivial tasks%s: %.0f per second (target >= 100) [%u tasks, median of %u "
           "runs, %.0f-%.0f; %.1f ms CPU per task in master, agent, executors and tasks]\n",
           checkpoint ? "" : " (framework not checkpointing)", sorted[b->run_count / 2],
           b->rate_tasks, b->run_count, sorted[0], sorted[b->run_count - 1],
           cpu[b->run_count / 2]);
}

static bool parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end = NULL;
    unsigned long v = strtoul(text, &end, 10);
    if (end == text || *end != '\0' || v < min || v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

int main(int argc, char **argv)
{
    bench b;
    memset(&b, 0, sizeof b);
    b.master.name = "master";
    b.agent.name = "agent";
    const char *parent = "/tmp";
    bool keep = false;
    bool smoke = argc > 1 && strcmp(argv[1], "--smoke") == 0;
    b.smoke = smoke;
    b.dromos = DR_BENCH_DROMOS;
    b.rate_tasks = smoke ? 8 : 200;
    b.run_count = smoke ? 1 : 5;
    b.mem_low = smoke ? 5 : 100;
    b.mem_high = smoke ? 20 : 1000;
    for (int i = smoke ? 2 : 1; i < argc; i++) {
        bool ok = true;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--keep") == 0) {
            keep = true;
            continue;
        }
        if (v == NULL)
            ok = false;
        else if (strcmp(argv[i], "--tasks") == 0)
            ok = parse_u32(v, 1, TASKS_MAX, &b.rate_tasks);
        else if (strcmp(argv[i], "--runs") == 0)
            ok = parse_u32(v, 1, RUNS_MAX, &b.run_count);
        else if (strcmp(argv[i], "--low") == 0)
            ok = parse_u32(v, 1, TASKS_MAX, &b.mem_low);
        else if (strcmp(argv[i], "--high") == 0)
            ok = parse_u32(v, 2, TASKS_MAX, &b.mem_high);
        else if (strcmp(argv[i], "--dir") == 0)
            parent = v;
        else if (strcmp(argv[i], "--dromos") == 0)
            b.dromos = v;
        else
            ok = false;
        if (!ok) {
            fprintf(stderr, "bench_agent: bad argument '%s'; usage: bench_agent [--smoke] "
                            "[--tasks M] [--runs K] [--low N] [--high N] [--dir DIR] [--keep] "
                            "[--dromos PATH]\n",
                    argv[i]);
            return 2;
        }
        i++;
    }
    if (b.mem_high <= b.mem_low) {
        fprintf(stderr, "bench_agent: --high must be above --low\n");
        return 2;
    }

    dr_env_real_opts eo = {.node_name = "bench-agent", .log_level = DR_LOG_ERROR};
    dr_err err;
    if (dr_env_real_create(&eo, &b.env, &err) != DR_OK) {
        fprintf(stderr, "bench_agent: %s\n", err.msg);
        return 1;
    }
    snprintf(b.dir, sizeof b.dir, "%s/dromos-bench-agent.%016" PRIx64, parent,
             dr_env_random(b.env));
    if (dr_env_mkdir(b.env, b.dir, &err) != DR_OK) {
        fprintf(stderr, "bench_agent: %s\n", err.msg);
        dr_env_real_destroy(b.env);
        return 1;
    }
    b.task_count = DR_MAX(b.rate_tasks * b.run_count, b.mem_high);
    b.tasks = dr_alloc_array(b.task_count, sizeof *b.tasks);
    for (uint32_t i = 0; i < b.task_count; i++)
        snprintf(b.tasks[i].id, sizeof b.tasks[i].id, "task-%u", i);

    char master_work[600];
    snprintf(master_work, sizeof master_work, "--work_dir=%s/master", b.dir);
    const char *margv[] = {b.dromos, "master", "--ip=127.0.0.1", "--port=0", master_work,
                           "--allocation_interval=50ms", "--logging_level=warn", NULL};
    if (proc_spawn(&b, &b.master, margv, &err) != DR_OK) {
        fail(&b, "spawning the master: %s", err.msg);
    } else {
        b.poll_timer = dr_env_timer_add(b.env, 20 * DR_NS_PER_MS, start_poll_fire, &b);
        dr_env_timer_add(b.env, (smoke ? 120 : 900) * DR_NS_PER_S, deadline_fire, &b);
        if (dr_env_real_run(b.env, &err) != DR_OK)
            fail(&b, "%s", err.msg);
    }

    if (b.sched != NULL) {
        b.phase = P_STOPPING;
        if (dr_sched_teardown(b.sched, &err) != DR_OK)
            fail(&b, "teardown: %s", err.msg);
        /* let the teardown reach the master (and, after a failure, the agent
         * kill what still runs) before the scheduler goes */
        uint64_t until = dr_env_now(b.env) + (b.failed ? 3000 : 200) * DR_NS_PER_MS;
        while (dr_env_now(b.env) < until)
            dr_env_real_run_once(b.env, 50 * DR_NS_PER_MS);
        dr_sched_destroy(b.sched);
    }
    dr_sched_destroy(b.retired);
    stop_proc(&b, &b.agent, 10 * DR_NS_PER_S);
    stop_proc(&b, &b.master, 10 * DR_NS_PER_S);
    if (b.failed) {
        char *meta = dr_sprintf("%s/agent/meta", b.dir);
        kill_leftovers(&b, meta, 0);
        dr_free(meta);
    }

    if (!b.failed) {
        print_rate(&b, true);
        print_rate(&b, false);
        double slope_kib =
            ((double)b.rss_kib[1] - (double)b.rss_kib[0]) / (double)(b.mem_high - b.mem_low);
        printf("agent memory per running task: %.1f KiB (target <= 64) [VmRSS %" PRIu64
               " KiB with %u sleeping tasks, %" PRIu64 " KiB with %u; executors excluded]\n",
               slope_kib, b.rss_kib[0], b.mem_low, b.rss_kib[1], b.mem_high);
        if (!keep && dr_env_remove_tree(b.env, b.dir, &err) != DR_OK)
            fprintf(stderr, "bench_agent: %s\n", err.msg);
    }
    dr_free(b.tasks);
    dr_env_real_destroy(b.env);
    return b.failed ? 1 : 0;
}
