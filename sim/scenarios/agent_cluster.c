/* sim/scenarios/agent_cluster.c — real agents in the master scenarios
 * (master_cluster.h's dr_mcluster_real): the real agent (src/agent's
 * simulator program "agent") launching the real command executor
 * (src/executor's program "executor"), whose tasks are the simulated shell of
 * this file (program "sh", what `/bin/sh -c` resolves to in the simulator);
 * and the ground truth the checkers read from them.
 *
 * Ground truth, never from the master:
 * - what runs: the simulator's process table, walked for live "sh"
 *   processes (a task's process is the only thing that holds its
 *   resources; the agent's and executor's beliefs do not count);
 * - what each agent generated: its status update streams as checkpointed on
 *   its host's simulated disk (meta/.../task.updates: UPDATE and ACK records,
 *   read with src/agent/checkpoint.h). The agent checkpoints an update before
 *   it forwards it, so an update a framework receives must be there, in
 *   order; a process crash keeps what was written, a host crash keeps what
 *   was synced.
 *
 * The shell understands the commands the simulated frameworks send:
 *   "sleep S[; exit N] # TASK"   runs S seconds (decimal, or "inf": until
 *                                killed), then exits 0 (SIGTERM to itself, a
 *                                graceful end) or, for N != 0, is killed by
 *                                SIGKILL (a failure the executor reports);
 * TASK (after "# ") names the task; SIGTERM from outside ends it at once.
 *
 * Reads the process table through sim_int.h (this file is part of sim/).
 *
 * Planted bugs (one build each, tests/unit/sim: the checkers must fire):
 *   DR_PLANTED_REAL_AGENT_OVERCOMMIT  agents are told they have twice the
 *                                     cpus and mem the truth says they have
 *   DR_PLANTED_REAL_AGENT_FSYNC_LIES  the agent's fsyncs return at once
 *                                     without syncing (a host crash loses
 *                                     what it believed durable)
 *   DR_PLANTED_REAL_AGENT_FORGET      the agent's recovery finds no
 *                                     frameworks in its checkpoint
 */
#include "sim/scenarios/master_cluster.h"

#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "sim/disk.h"
#include "sim/sim_int.h"
#include "src/agent/checkpoint.h"
#include "src/agent/sim_program.h"
#include "src/executor/sim_program.h"

#define WORK_DIR "/var/lib/dromos/agent"
#define AGENT_PORT 5051
#define HOST_MAX 16u
#define RUN_MAX 512u /* live task processes tracked */
#define DISK_OWNER UINT64_MAX /* reads of the harness (never locks) */

/* ---- the shell ------------------------------------------------------------------ */

typedef struct sh {
    dr_env *env;
    char task_id[64];
    bool fail;
    dr_timer_id timer;
} sh;

static void sh_end(dr_env *env, void *ctx)
{
    sh *s = ctx;
    s->timer = 0;
    const char *at = strstr(dr_env_node_name(env), ":pid");
    DR_ASSERT(at != NULL);
    dr_pid self = strtoll(at + 4, NULL, 10);
    dr_err err;
    if (dr_env_signal(env, self, s->fail ? SIGKILL : SIGTERM, false, &err) != DR_OK)
        DR_WARN(env, "sh: ending itself: %s", err.msg);
}

/* argv: sh -c COMMAND */
static void *sh_start(dr_env *env, int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[1], "-c") != 0)
        return NULL;
    const char *cmd = argv[2];
    sh *s = dr_alloc(sizeof *s);
    s->env = env;
    const char *mark = strstr(cmd, "# ");
    if (mark != NULL)
        dr_strlcpy(s->task_id, mark + 2, sizeof s->task_id);
    const char *exit_at = strstr(cmd, "exit ");
    s->fail = exit_at != NULL && atoi(exit_at + 5) != 0;
    double run_s = 0;
    bool forever = false;
    if (strncmp(cmd, "sleep ", 6) == 0) {
        if (strncmp(cmd + 6, "inf", 3) == 0)
            forever = true;
        else
            run_s = strtod(cmd + 6, NULL);
    }
    if (!forever)
        s->timer = dr_env_timer_add(env, (uint64_t)(run_s * 1e9), sh_end, s);
    return s;
}

static void sh_free(void *state) { dr_free(state); }

static void sh_stop(void *state)
{
    sh *s = state;
    if (s->timer != 0)
        dr_env_timer_cancel(s->env, s->timer);
    dr_free(s);
}

/* Graceful stop exits 0 (SIGTERM: a task ends, or is killed by its
 * executor); a crash (SIGKILL) frees memory only. */
static const dr_sim_program sh_program = {
    .name = "sh", .start = sh_start, .crash = sh_free, .stop = sh_stop};

/* ---- the agent program ------------------------------------------------------------ */

#if defined(DR_PLANTED_REAL_AGENT_FSYNC_LIES) || defined(DR_PLANTED_REAL_AGENT_FORGET)
/* The real agent over an env with a planted fault: the sim's own ops (the
 * process's env.self is its sim_proc, whose env holds them) but one. */
typedef struct planted_agent {
    dr_env env;
    dr_env_ops ops;
    void *agent; /* the real program's state */
} planted_agent;

#if defined(DR_PLANTED_REAL_AGENT_FSYNC_LIES)
static dr_code lying_fsync(void *self, dr_file *file, dr_err *err)
{
    (void)self, (void)file, (void)err;
    return DR_OK;
}

static dr_code lying_fsync_dir(void *self, const char *path, dr_err *err)
{
    (void)self, (void)path, (void)err;
    return DR_OK;
}

#else
static dr_code forgetful_list_dir(void *self, const char *path, dr_dir_list *out, dr_err *err)
{
    size_t n = strlen(path);
    if (strstr(path, "/meta/slaves/") != NULL && n > 11 && strcmp(path + n - 11, "/frameworks") == 0)
        return dr_err_set(err, DR_ENOENT, "list '%s': planted: forgotten", path);
    const sim_proc *proc = self;
    return proc->env.ops->list_dir(self, path, out, err);
}
#endif

static void *planted_start(dr_env *env, int argc, char **argv)
{
    planted_agent *p = dr_alloc(sizeof *p);
    p->ops = *env->ops;
#if defined(DR_PLANTED_REAL_AGENT_FSYNC_LIES)
    p->ops.fsync = lying_fsync;
    p->ops.fsync_dir = lying_fsync_dir;
#else
    p->ops.list_dir = forgetful_list_dir;
#endif
    p->env.ops = &p->ops;
    p->env.self = env->self;
    p->agent = dr_agent_sim_program.start(&p->env, argc, argv);
    if (p->agent == NULL) {
        dr_free(p);
        return NULL;
    }
    return p;
}

static void planted_crash(void *state)
{
    planted_agent *p = state;
    dr_agent_sim_program.crash(p->agent);
    dr_free(p);
}

static void planted_stop(void *state)
{
    planted_agent *p = state;
    dr_agent_sim_program.stop(p->agent);
    dr_free(p);
}

static const dr_sim_program agent_program = {
    .name = "agent", .start = planted_start, .crash = planted_crash, .stop = planted_stop};
#define AGENT_PROGRAM agent_program
#else
#define AGENT_PROGRAM dr_agent_sim_program
#endif

/* ---- the reader ------------------------------------------------------------------- */

typedef struct run_entry {
    dr_pid pid;
    dr_sim_host_id host;
    char task_id[64];
} run_entry;

typedef struct host_entry {
    char agent_id[128];
} host_entry;

typedef struct rt {
    dr_sim *sim;
    FILE *out;
    size_t scanned; /* processes looked at so far (pids 1..scanned) */
    run_entry runs[RUN_MAX];
    size_t run_count;
    uint64_t version;
    host_entry hosts[HOST_MAX + 1]; /* by host id */
} rt;

static void *rt_create(dr_sim *sim, FILE *out)
{
    rt *r = dr_alloc(sizeof *r);
    r->sim = sim;
    r->out = out;
    dr_sim_register_program(sim, &AGENT_PROGRAM);
    dr_sim_register_program(sim, &dr_executor_sim_program);
    dr_sim_register_program(sim, &sh_program);
    return r;
}

static void rt_destroy(void *p) { dr_free(p); }

static dr_pid rt_agent_start(void *p, dr_sim_host_id host, const char *master,
                             const char *resources)
{
    rt *r = p;
    char master_arg[96], resources_arg[160], port_arg[32];
    snprintf(master_arg, sizeof master_arg, "--master=%s", master);
#if defined(DR_PLANTED_REAL_AGENT_OVERCOMMIT)
    (void)resources;
    snprintf(resources_arg, sizeof resources_arg,
             "--resources=cpus:4;mem:2048;disk:1024;ports:[31000-31099]");
#else
    snprintf(resources_arg, sizeof resources_arg, "--resources=%s", resources);
#endif
    snprintf(port_arg, sizeof port_arg, "--port=%d", AGENT_PORT);
    const char *argv[] = {"agent",
                          master_arg,
                          "--work_dir=" WORK_DIR,
                          port_arg,
                          resources_arg,
                          "--executor=executor",
                          "--registration_backoff_factor_ms=500",
                          "--executor_shutdown_grace_period_ms=2000",
                          NULL};
    dr_err err;
    dr_pid pid = dr_sim_process_start(r->sim, host, argv, &err);
    if (pid == 0)
        fprintf(r->out, "  agent on %s did not start: %s\n", dr_sim_host_name(r->sim, host),
                err.msg);
    return pid;
}

static uint64_t rt_step(void *p)
{
    rt *r = p;
    /* processes that ended */
    for (size_t i = 0; i < r->run_count;) {
        if (dr__sim_proc(r->sim, r->runs[i].pid) != NULL) {
            i++;
            continue;
        }
        r->runs[i] = r->runs[--r->run_count];
        r->version++;
    }
    /* processes that started (pids are never reused, so new ones are at the end) */
    for (; r->scanned < r->sim->proc_count; r->scanned++) {
        const sim_proc *proc = r->sim->procs[r->scanned];
        if (proc == NULL || proc->program != &sh_program || proc->state == NULL)
            continue;
        DR_ASSERT(r->run_count < RUN_MAX);
        const sh *s = proc->state;
        run_entry *e = &r->runs[r->run_count++];
        e->pid = proc->pid;
        e->host = proc->host->id;
        dr_strlcpy(e->task_id, s->task_id, sizeof e->task_id);
        r->version++;
    }
    return r->version;
}

/* ---- the disk -------------------------------------------------------------------- */

static dr_code disk_read(rt *r, dr_sim_host_id host, const char *path, dr_buf *out)
{
    dr_sim_disk *disk = dr_sim_host_disk(r->sim, host);
    if (disk == NULL)
        return DR_ENOTSUP;
    dr_sim_file *f = NULL;
    dr_err err;
    dr_code rc = dr_sim_disk_open(disk, DISK_OWNER, path, DR_OPEN_READ, &f, &err);
    if (rc != DR_OK)
        return rc;
    uint64_t size = 0;
    rc = dr_sim_disk_file_size(disk, f, &size, &err);
    if (rc == DR_OK) {
        dr_buf_reserve(out, (size_t)size);
        size_t got = 0;
        rc = dr_sim_disk_pread(disk, f, 0, out->data + out->size, (size_t)size, &got, &err);
        out->size += got;
    }
    dr_sim_disk_close(disk, f);
    return rc;
}

static bool disk_list(rt *r, dr_sim_host_id host, const char *path, dr_dir_list *out)
{
    dr_sim_disk *disk = dr_sim_host_disk(r->sim, host);
    dr_err err;
    memset(out, 0, sizeof *out);
    return disk != NULL && dr_sim_disk_list_dir(disk, path, out, &err) == DR_OK;
}

static const char *rt_agent_id(void *p, dr_sim_host_id host)
{
    rt *r = p;
    DR_ASSERT(host <= HOST_MAX);
    host_entry *h = &r->hosts[host];
    dr_sim_disk *disk = dr_sim_host_disk(r->sim, host);
    char id[128];
    dr_err err;
    if (disk != NULL &&
        dr_sim_disk_readlink(disk, WORK_DIR "/meta/slaves/latest", id, sizeof id, &err) == DR_OK)
        dr_strlcpy(h->agent_id, id, sizeof h->agent_id);
    return h->agent_id;
}

static bool rt_task_runs(void *p, dr_sim_host_id host, const char *task_id)
{
    rt *r = p;
    rt_step(r);
    for (size_t i = 0; i < r->run_count; i++)
        if (r->runs[i].host == host && strcmp(r->runs[i].task_id, task_id) == 0)
            return true;
    return false;
}

static void rt_running(void *p, dr_sim_host_id host, void (*fn)(const char *, void *), void *ctx)
{
    rt *r = p;
    rt_step(r);
    for (size_t i = 0; i < r->run_count; i++)
        if (r->runs[i].host == host)
            fn(r->runs[i].task_id, ctx);
}

/* Replays a task.updates file as the agent's recovery does: UPDATE records
 * with a new uuid extend the stream; an ACK of the head acknowledges it. */
typedef struct replay {
    dr_mtruth_task *t;
    bool bad;
} replay;

static bool replay_fn(const uint8_t *payload, size_t size, uint64_t offset, void *ctx)
{
    (void)offset;
    replay *rp = ctx;
    dr_mtruth_task *t = rp->t;
    int type = 0;
    Mesos__TaskStatus *st = NULL;
    const uint8_t *uuid = NULL;
    size_t uuid_size = 0;
    dr_err err;
    if (dr_ckpt_decode_update(payload, size, &type, &st, &uuid, &uuid_size, &err) != DR_OK) {
        rp->bad = true;
        return false;
    }
    if (type == DR_CKPT_UPDATE) {
        bool seen = false;
        for (size_t i = 0; i < t->update_count && i < DR_MTRUTH_UPDATE_MAX && !seen; i++)
            seen = st->uuid.len == 16 && memcmp(t->updates[i].uuid, st->uuid.data, 16) == 0;
        if (!seen) {
            if (t->update_count < DR_MTRUTH_UPDATE_MAX) {
                dr_mtruth_update *u = &t->updates[t->update_count];
                u->state = st->state;
                memcpy(u->uuid, st->uuid.data, DR_MIN(st->uuid.len, sizeof u->uuid));
            } else {
                t->overflow = true;
            }
            t->update_count++;
            t->state = st->state;
        }
        dr_proto_free(&st->base);
        return true;
    }
    if (t->acked_count < t->update_count && t->acked_count < DR_MTRUTH_UPDATE_MAX &&
        uuid_size == 16 && memcmp(t->updates[t->acked_count].uuid, uuid, 16) == 0)
        t->acked_count++;
    return true;
}

/* Reads <run>/tasks/<task> into out (ids already set); false if the task
 * has no directory there. */
static bool read_task_dir(rt *r, dr_sim_host_id host, const char *run, const char *task_id,
                          dr_mtruth_task *out)
{
    char *info = dr_sprintf("%s/tasks/%s/task.info", run, task_id);
    char *updates = dr_sprintf("%s/tasks/%s/task.updates", run, task_id);
    dr_buf buf;
    dr_buf_init(&buf);
    bool known = disk_read(r, host, info, &buf) == DR_OK;
    dr_buf_reset(&buf);
    out->state = MESOS__TASK_STATE__TASK_STAGING;
    if (disk_read(r, host, updates, &buf) == DR_OK) {
        known = true;
        replay rp = {.t = out};
        dr_ckpt_scan_result res;
        dr_err err;
        /* a torn tail is what a crash leaves: the agent cuts it off too */
        if (dr_ckpt_scan(buf.data, buf.size, false, true, replay_fn, &rp, &res, &err) != DR_OK)
            fprintf(r->out, "  agent on %s: '%s': %s\n", dr_sim_host_name(r->sim, host),
                    updates, rp.bad ? "undecodable record" : err.msg);
    }
    dr_buf_deinit(&buf);
    dr_free(updates);
    dr_free(info);
    return known;
}

static char *runs_dir(const char *agent_id, const char *framework_id, const char *executor_id)
{
    return dr_sprintf(WORK_DIR "/meta/slaves/%s/frameworks/%s/executors/%s/runs", agent_id,
                      framework_id, executor_id);
}

static bool rt_task(void *p, dr_sim_host_id host, const char *framework_id, const char *task_id,
                    dr_mtruth_task *out)
{
    rt *r = p;
    const char *agent_id = rt_agent_id(r, host);
    if (agent_id[0] == '\0')
        return false;
    /* a command task's executor is named after it (one run) */
    char *runs = runs_dir(agent_id, framework_id, task_id);
    dr_dir_list list;
    bool found = false;
    if (disk_list(r, host, runs, &list)) {
        for (size_t i = 0; i < list.count && !found; i++) {
            if (strcmp(list.names[i], "latest") == 0)
                continue;
            memset(out, 0, sizeof *out);
            dr_strlcpy(out->framework_id, framework_id, sizeof out->framework_id);
            dr_strlcpy(out->task_id, task_id, sizeof out->task_id);
            char *run = dr_sprintf("%s/%s", runs, list.names[i]);
            found = read_task_dir(r, host, run, task_id, out);
            dr_free(run);
        }
        dr_dir_list_free(&list);
    }
    dr_free(runs);
    return found;
}

static dr_mtruth_task *rt_tasks(void *p, dr_sim_host_id host, size_t *count)
{
    rt *r = p;
    *count = 0;
    dr_mtruth_task *tasks = NULL;
    size_t capacity = 0;
    const char *agent_id = rt_agent_id(r, host);
    if (agent_id[0] == '\0')
        return NULL;
    char *fws = dr_sprintf(WORK_DIR "/meta/slaves/%s/frameworks", agent_id);
    dr_dir_list fl;
    if (!disk_list(r, host, fws, &fl)) {
        dr_free(fws);
        return NULL;
    }
    for (size_t f = 0; f < fl.count; f++) {
        char *exs = dr_sprintf("%s/%s/executors", fws, fl.names[f]);
        dr_dir_list el;
        if (disk_list(r, host, exs, &el)) {
            for (size_t e = 0; e < el.count; e++) {
                char *runs = runs_dir(agent_id, fl.names[f], el.names[e]);
                dr_dir_list rl;
                if (disk_list(r, host, runs, &rl)) {
                    for (size_t k = 0; k < rl.count; k++) {
                        if (strcmp(rl.names[k], "latest") == 0)
                            continue;
                        char *tdir = dr_sprintf("%s/%s/tasks", runs, rl.names[k]);
                        dr_dir_list tl;
                        if (disk_list(r, host, tdir, &tl)) {
                            for (size_t t = 0; t < tl.count; t++) {
                                if (*count == capacity) {
                                    capacity = capacity ? capacity * 2 : 16;
                                    tasks = dr_realloc(tasks, capacity * sizeof *tasks);
                                }
                                dr_mtruth_task *out = &tasks[*count];
                                memset(out, 0, sizeof *out);
                                dr_strlcpy(out->framework_id, fl.names[f],
                                           sizeof out->framework_id);
                                dr_strlcpy(out->task_id, tl.names[t], sizeof out->task_id);
                                char *run = dr_sprintf("%s/%s", runs, rl.names[k]);
                                if (read_task_dir(r, host, run, tl.names[t], out))
                                    (*count)++;
                                dr_free(run);
                            }
                            dr_dir_list_free(&tl);
                        }
                        dr_free(tdir);
                    }
                    dr_dir_list_free(&rl);
                }
                dr_free(runs);
            }
            dr_dir_list_free(&el);
        }
        dr_free(exs);
    }
    dr_dir_list_free(&fl);
    dr_free(fws);
    return tasks;
}

static dr_pid rt_executor_pick(void *p, dr_sim_host_id host, uint64_t draw)
{
    rt *r = p;
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t k = 0;
        for (size_t i = 0; i < r->sim->proc_count; i++) {
            const sim_proc *proc = r->sim->procs[i];
            if (proc == NULL || proc->program != &dr_executor_sim_program ||
                proc->host->id != host)
                continue;
            if (pass == 1 && k == draw % n)
                return proc->pid;
            k++;
        }
        n = k;
        if (n == 0)
            return 0;
    }
    return 0;
}

const dr_mcluster_real dr_mcluster_real_agents = {
    .create = rt_create,
    .destroy = rt_destroy,
    .agent_start = rt_agent_start,
    .step = rt_step,
    .agent_id = rt_agent_id,
    .task_runs = rt_task_runs,
    .running = rt_running,
    .task = rt_task,
    .tasks = rt_tasks,
    .executor_pick = rt_executor_pick,
};
