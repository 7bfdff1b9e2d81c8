/* sim/proc.c — the simulated process table: registered programs started
 * in-process, generic programs (seeded run time, output and exit status),
 * spawn and watch with exit callbacks, signals, crash, stop, pause and resume;
 * and the user database with each process's credentials and resource limits
 * (checked as setrlimit and setuid would check them, recorded for tests).
 *
 * A pid is never reused: events aimed at a process carry its pid, and once the
 * process has ended its table slot is NULL and those events are dropped (see
 * run_one in sim.c). Streams are torn down by net.c, files by env.c; this file
 * decides when a process ends and who hears about it.
 */
#include "sim_int.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

typedef enum end_how { END_CRASH, END_STOP, END_EXIT } end_how;

static void proc_end(dr_sim *sim, sim_proc *proc, end_how how, dr_exit_status status);

sim_proc *dr__sim_proc(const dr_sim *sim, dr_pid pid)
{
    if (pid <= 0 || (uint64_t)pid > sim->proc_count)
        return NULL;
    return sim->procs[pid - 1];
}

static const dr_sim_program *program_find(const dr_sim *sim, const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *base = slash != NULL ? slash + 1 : name;
    for (size_t i = 0; i < sim->program_count; i++)
        if (strcmp(sim->programs[i]->name, name) == 0 ||
            strcmp(sim->programs[i]->name, base) == 0)
            return sim->programs[i];
    return NULL;
}

static sim_proc *proc_new(dr_sim *sim, sim_host *host, const char *argv0)
{
    sim_proc *proc = dr_alloc(sizeof *proc);
    proc->sim = sim;
    proc->host = host;
    proc->pid = (dr_pid)(sim->proc_count + 1);
    proc->pgid = proc->pid;
    proc->log_level = sim->opts.log_level;
    snprintf(proc->name, sizeof proc->name, "%.40s:pid%" PRId64, host->name, proc->pid);
    char purpose[48];
    snprintf(purpose, sizeof purpose, "proc:%" PRId64, proc->pid);
    proc->seed = dr_seed_derive(sim->opts.seed, purpose);
    dr_rng_init(&proc->rng, proc->seed);
    proc->argv0 = dr_strdup(argv0);
    proc->creds = dr_alloc(sizeof *proc->creds); /* root, no limits */
    proc->creds->group_count = 1;
    sim_link_init(&proc->streams);
    sim_link_init(&proc->listeners);
    sim_link_init(&proc->files);
    sim_link_push(&host->procs, &proc->host_link);
    dr__sim_env_init(proc);
    if (sim->proc_count == sim->proc_capacity) {
        sim->proc_capacity = sim->proc_capacity < 16 ? 16 : sim->proc_capacity * 2;
        sim->procs = dr_realloc(sim->procs, sim->proc_capacity * sizeof *sim->procs);
    }
    sim->procs[sim->proc_count++] = proc;
    return proc;
}

static void watch_add(sim_proc *proc, dr_pid watcher, dr_exit_fn *fn, void *ctx)
{
    if (proc->watch_count == proc->watch_capacity) {
        proc->watch_capacity = proc->watch_capacity < 2 ? 2 : proc->watch_capacity * 2;
        proc->watches = dr_realloc(proc->watches, proc->watch_capacity * sizeof *proc->watches);
    }
    proc->watches[proc->watch_count++] = (sim_watch){watcher, fn, ctx};
}

/* What the child of parent (NULL: a process started by the simulator, as
 * root) runs with: its parent's credentials, then opts's limits and user,
 * refused where setrlimit or setuid would refuse (the messages are the real
 * env's). */
static dr_code creds_plan(const sim_proc *parent, const dr_spawn_opts *opts, dr_sim_creds *out,
                          dr_err *err)
{
    const char *program = opts->argv[0];
    memset(out, 0, sizeof *out);
    out->group_count = 1; /* root's group 0 */
    if (parent != NULL)
        *out = *parent->creds;
    if (opts->rlimit_count > DR_SPAWN_RLIMIT_COUNT_MAX)
        return dr_err_set(err, DR_ETOOBIG, "spawn '%s': more than %u resource limits", program,
                          DR_SPAWN_RLIMIT_COUNT_MAX);
    for (size_t i = 0; i < opts->rlimit_count; i++) {
        const dr_rlimit *l = &opts->rlimits[i];
        if (l->resource < DR_RLIMIT_AS || l->resource > DR_RLIMIT_RESOURCE_MAX)
            return dr_err_set(err, DR_EINVAL, "spawn '%s': unknown resource limit %d", program,
                              (int)l->resource);
        if (l->soft > l->hard)
            return dr_err_set(err, DR_EINVAL,
                              "spawn '%s': resource limit %d: soft %llu above hard %llu",
                              program, (int)l->resource, (unsigned long long)l->soft,
                              (unsigned long long)l->hard);
        size_t at = out->rlimit_count;
        for (size_t j = 0; j < out->rlimit_count; j++)
            if (out->rlimits[j].resource == l->resource)
                at = j;
        for (size_t j = 0; j < i; j++)
            if (opts->rlimits[j].resource == l->resource)
                return dr_err_set(err, DR_EINVAL, "spawn '%s': resource limit %d set twice",
                                  program, (int)l->resource);
        /* only root raises a hard limit */
        if (at < out->rlimit_count && out->uid != 0 && l->hard > out->rlimits[at].hard)
            return dr_err_set(err, DR_EACCES,
                              "spawn '%s': setrlimit %d (soft %llu, hard %llu): Operation not "
                              "permitted",
                              program, (int)l->resource, (unsigned long long)l->soft,
                              (unsigned long long)l->hard);
        out->rlimits[at] = *l;
        if (at == out->rlimit_count)
            out->rlimit_count++;
    }
    if (!opts->set_user)
        return DR_OK;
    if (opts->group_count > DR_USER_GROUP_COUNT_MAX)
        return dr_err_set(err, DR_ETOOBIG, "spawn '%s': more than %u groups", program,
                          DR_USER_GROUP_COUNT_MAX);
    if (out->uid != 0 && opts->uid == out->uid && opts->gid == out->gid)
        return DR_OK; /* already that user, as the real env */
    if (out->uid != 0)
        return dr_err_set(err, DR_EACCES, "spawn '%s': %s %u: Operation not permitted", program,
                          opts->gid != out->gid ? "setgid" : "setuid",
                          opts->gid != out->gid ? (unsigned)opts->gid : (unsigned)opts->uid);
    out->uid = opts->uid;
    out->gid = opts->gid;
    out->group_count = opts->group_count;
    for (size_t i = 0; i < opts->group_count; i++)
        out->groups[i] = opts->groups[i];
    return DR_OK;
}

dr_code dr__sim_spawn(dr_sim *sim, sim_host *host, dr_pid parent, const dr_spawn_opts *opts,
                      dr_exit_fn *fn, void *ctx, dr_pid *out, dr_err *err)
{
    if (opts == NULL || opts->argv == NULL || opts->argv[0] == NULL || opts->argv[0][0] == '\0')
        return dr_err_set(err, DR_EINVAL, "spawn: argv[0] is missing");
    size_t argc = 0;
    while (opts->argv[argc] != NULL) {
        if (argc >= DR_SPAWN_ARG_COUNT_MAX)
            return dr_err_set(err, DR_ETOOBIG, "spawn '%s': more than %u arguments",
                              opts->argv[0], DR_SPAWN_ARG_COUNT_MAX);
        argc++;
    }
    if (!host->up)
        return dr_err_set(err, DR_ESRCH, "spawn '%s': host '%s' is down", opts->argv[0],
                          host->name);
    sim_proc *parent_proc = dr__sim_proc(sim, parent);
    dr_sim_creds creds;
    dr_code rc = creds_plan(parent_proc, opts, &creds, err);
    if (rc != DR_OK)
        return rc;
    const dr_sim_program *program = program_find(sim, opts->argv[0]);
    sim_proc *proc = proc_new(sim, host, opts->argv[0]);
    *proc->creds = creds;
    if (parent_proc != NULL && !opts->new_session)
        proc->pgid = parent_proc->pgid;
    proc->subreaper = opts->subreaper;
    proc->parent_death_signal = opts->parent_death_signal;
    if (parent_proc != NULL)
        parent_proc->has_children = true;
    /* watches[0] is always the parent (watcher 0: none; fn NULL: nobody
     * hears the exit), so a process tree can be followed (signal_tree) */
    watch_add(proc, parent, fn, ctx);
    dr__sim_trace(sim, "spawn", parent, proc->pid, argc, XXH3_64bits(opts->argv[0],
                                                                      strlen(opts->argv[0])));
    *out = proc->pid;

    if (program == NULL) {
        /* generic: seeded run time, output and exit status */
        char purpose[48];
        snprintf(purpose, sizeof purpose, "generic:%" PRId64, proc->pid);
        dr_rng rng;
        dr_rng_init(&rng, dr_seed_derive(sim->opts.seed, purpose));
        uint64_t run_ns = DR_NS_PER_MS + dr_rng_below(&rng, 5 * DR_NS_PER_S);
        proc->generic = true;
        proc->generic_status.signaled = false;
        proc->generic_status.code = dr_rng_chance(&rng, 0.75) ? 0 : 1 + (int)dr_rng_below(&rng, 3);
        if (opts->stdout_path != NULL)
            proc->generic_stdout = dr_strdup(opts->stdout_path);
        dr__sim_push(sim, sim->now_ns + dr__sim_host_delay(host, run_ns), EV_GENERIC_EXIT,
                     proc->pid, NULL, 0);
        return DR_OK;
    }

    proc->program = program;
    char **argv = dr_alloc_array(argc + 1, sizeof *argv);
    for (size_t i = 0; i < argc; i++)
        argv[i] = dr_strdup(opts->argv[i]);
    dr__sim_proc_enter(proc);
    proc->state = program->start(&proc->env, (int)argc, argv);
    dr__sim_proc_leave(proc);
    for (size_t i = 0; i < argc; i++)
        dr_free(argv[i]);
    dr_free(argv);
    if (proc->state == NULL) {
        DR_INFO(&proc->env, "program '%s' failed to start", program->name);
        proc_end(sim, proc, END_EXIT, (dr_exit_status){false, 1});
        if (parent == 0)
            return dr_err_set(err, DR_EINTERNAL, "program '%s' on host '%s' failed to start",
                              program->name, host->name);
    }
    return DR_OK;
}

dr_pid dr_sim_process_start(dr_sim *sim, dr_sim_host_id host_id, const char *const *argv,
                            dr_err *err)
{
    dr_spawn_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.argv = argv;
    opts.new_session = true;
    dr_pid pid = 0;
    if (dr__sim_spawn(sim, dr__sim_host(sim, host_id), 0, &opts, NULL, NULL, &pid, err) != DR_OK)
        return 0;
    return pid;
}

dr_code dr__sim_watch(dr_sim *sim, sim_proc *watcher, dr_pid pid, dr_exit_fn *fn, void *ctx,
                      dr_err *err)
{
    sim_proc *proc = dr__sim_proc(sim, pid);
    if (proc == NULL)
        return dr_err_set(err, DR_ESRCH, "watch pid %" PRId64 ": no such process", pid);
    DR_ASSERT(fn != NULL);
    watch_add(proc, watcher->pid, fn, ctx);
    return DR_OK;
}

/* ---- ending ------------------------------------------------------------------ */

void dr__sim_proc_enter(sim_proc *proc)
{
    DR_ASSERT(!proc->running); /* callbacks never nest within one process */
    proc->running = true;
}

void dr__sim_proc_leave(sim_proc *proc)
{
    DR_ASSERT(proc->running);
    proc->running = false;
}

/* proc is ending: its children get their parent death signal (as events,
 * now) and a new parent, as the kernel reparents: the nearest living
 * ancestor that is a subreaper, else none (init). Nobody hears their exit
 * as a parent any more. */
static void children_orphan(dr_sim *sim, const sim_proc *proc)
{
    dr_pid heir = proc->watch_count > 0 ? proc->watches[0].watcher : 0;
    for (unsigned depth = 0; heir != 0 && depth < 1024; depth++) {
        const sim_proc *a = dr__sim_proc(sim, heir);
        if (a == NULL || a->subreaper)
            break;
        heir = a->watch_count > 0 ? a->watches[0].watcher : 0;
    }
    if (dr__sim_proc(sim, heir) == NULL)
        heir = 0;
    for (size_t i = 0; i < sim->proc_count; i++) {
        sim_proc *c = sim->procs[i];
        if (c == NULL || c == proc || c->watch_count == 0 || c->watches[0].watcher != proc->pid)
            continue;
        if (c->parent_death_signal != 0)
            dr__sim_push(sim, sim->now_ns, EV_SIGNAL, c->pid, NULL,
                         (uint64_t)c->parent_death_signal);
        c->watches[0] = (sim_watch){heir, NULL, NULL};
        if (heir != 0)
            dr__sim_proc(sim, heir)->has_children = true;
    }
}

static void proc_end(dr_sim *sim, sim_proc *proc, end_how how, dr_exit_status status)
{
    DR_ASSERT(!proc->running); /* a process never ends inside its own callback */
    DR_ASSERT(sim->procs[proc->pid - 1] == proc);
    if (how == END_STOP && proc->program != NULL && proc->program->stop != NULL &&
        proc->state != NULL) {
        dr__sim_proc_enter(proc);
        proc->program->stop(proc->state);
        dr__sim_proc_leave(proc);
        proc->state = NULL;
    }
    dr__sim_trace(sim, how == END_CRASH ? "crash" : how == END_STOP ? "stop" : "exit", proc->pid,
                  proc->pid, (uint64_t)status.code, status.signaled);
    if (proc->has_children)
        children_orphan(sim, proc);
    /* from here on the process is gone: nothing of it runs again */
    sim->procs[proc->pid - 1] = NULL;
    sim_link_del(&proc->host_link);
    dr__sim_net_proc_end(proc, how != END_CRASH);
    dr__sim_files_close_all(proc);
    for (size_t i = 0; i < proc->held_count; i++)
        dr__sim_ev_discard(sim, &proc->held[i]);
    if (proc->state != NULL) {
        DR_ASSERT(proc->program != NULL);
        proc->program->crash(proc->state); /* its memory is simply gone */
        proc->state = NULL;
    }
    for (size_t i = 0; i < proc->watch_count; i++) {
        sim_watch *w = &proc->watches[i];
        if (w->fn == NULL || dr__sim_proc(sim, w->watcher) == NULL)
            continue;
        sim_exit_note *note = dr_alloc(sizeof *note);
        note->child = proc->pid;
        note->status = status;
        note->fn = w->fn;
        note->ctx = w->ctx;
        dr__sim_push(sim, sim->now_ns, EV_EXIT_NOTIFY, w->watcher, note, 0);
    }
    dr_free(proc->held);
    dr_free(proc->watches);
    dr_free(proc->generic_stdout);
    dr_free(proc->argv0);
    dr_free(proc->creds);
    dr_free(proc);
}

void dr_sim_process_crash(dr_sim *sim, dr_pid pid)
{
    sim_proc *proc = dr__sim_proc(sim, pid);
    if (proc == NULL)
        return;
    dr_sim_fault_fired(sim, "proc.crash");
    proc_end(sim, proc, END_CRASH, (dr_exit_status){true, SIGKILL});
}

void dr_sim_process_stop(dr_sim *sim, dr_pid pid)
{
    sim_proc *proc = dr__sim_proc(sim, pid);
    if (proc == NULL)
        return;
    dr_sim_fault_fired(sim, "proc.stop");
    if (proc->generic)
        proc_end(sim, proc, END_EXIT, (dr_exit_status){true, SIGTERM});
    else if (proc->program->stop != NULL)
        proc_end(sim, proc, END_STOP, (dr_exit_status){false, 0});
    else
        proc_end(sim, proc, END_CRASH, (dr_exit_status){true, SIGTERM});
}

void dr__sim_procs_end_all(dr_sim *sim)
{
    for (size_t i = 0; i < sim->proc_count; i++)
        if (sim->procs[i] != NULL)
            proc_end(sim, sim->procs[i], END_CRASH, (dr_exit_status){true, SIGKILL});
}

/* ---- pause ------------------------------------------------------------------- */

void dr__sim_proc_hold(sim_proc *proc, const sim_ev *ev)
{
    DR_ASSERT(proc->paused);
    if (proc->held_count == proc->held_capacity) {
        proc->held_capacity = proc->held_capacity < 8 ? 8 : proc->held_capacity * 2;
        proc->held = dr_realloc(proc->held, proc->held_capacity * sizeof *proc->held);
    }
    proc->held[proc->held_count++] = *ev;
}

void dr_sim_process_pause(dr_sim *sim, dr_pid pid)
{
    sim_proc *proc = dr__sim_proc(sim, pid);
    if (proc == NULL || proc->paused)
        return;
    dr_sim_fault_fired(sim, "proc.pause");
    dr__sim_trace(sim, "pause", pid, pid, 0, 0);
    proc->paused = true;
}

void dr_sim_process_resume(dr_sim *sim, dr_pid pid)
{
    sim_proc *proc = dr__sim_proc(sim, pid);
    if (proc == NULL || !proc->paused)
        return;
    dr__sim_trace(sim, "resume", pid, pid, proc->held_count, 0);
    proc->paused = false;
    /* what came due meanwhile runs now, in the order it came due */
    for (size_t i = 0; i < proc->held_count; i++) {
        sim_ev *ev = &proc->held[i];
        dr__sim_push(sim, sim->now_ns, ev->kind, ev->pid, ev->ptr, ev->arg);
    }
    proc->held_count = 0;
}

bool dr_sim_process_alive(const dr_sim *sim, dr_pid pid) { return dr__sim_proc(sim, pid) != NULL; }

bool dr_sim_process_creds(const dr_sim *sim, dr_pid pid, dr_sim_creds *out)
{
    sim_proc *proc = dr__sim_proc(sim, pid);
    if (proc == NULL)
        return false;
    *out = *proc->creds;
    return true;
}

/* ---- users ------------------------------------------------------------------- */

static const sim_user builtin_users[] = {
    {"root", 0, 0, {0}, 1},
    {"daemon", 1, 1, {1}, 1},
    {"nobody", 65534, 65534, {65534}, 1},
};

void dr_sim_user_add(dr_sim *sim, const char *name, uint32_t uid, uint32_t gid,
                     const uint32_t *groups, size_t group_count)
{
    DR_ASSERT(name[0] != '\0');
    DR_ASSERT(strlen(name) < sizeof sim->users[0].name);
    DR_ASSERT(group_count <= SIM_USER_GROUP_COUNT_MAX);
    size_t at = sim->user_count;
    for (size_t i = 0; i < sim->user_count; i++)
        if (strcmp(sim->users[i].name, name) == 0 || sim->users[i].uid == uid)
            at = i;
    DR_ASSERT(at < SIM_USER_COUNT_MAX);
    sim_user *u = &sim->users[at];
    memset(u, 0, sizeof *u);
    dr_strlcpy(u->name, name, sizeof u->name);
    u->uid = uid;
    u->gid = gid;
    for (size_t i = 0; i < group_count; i++)
        u->groups[i] = groups[i];
    u->group_count = group_count;
    if (at == sim->user_count)
        sim->user_count++;
}

/* Added users first: one added under a built-in name or uid replaces it. */
static const sim_user *user_find(const dr_sim *sim, const char *name, uint32_t uid)
{
    for (size_t i = 0; i < sim->user_count; i++)
        if (name != NULL ? strcmp(sim->users[i].name, name) == 0 : sim->users[i].uid == uid)
            return &sim->users[i];
    for (size_t i = 0; i < DR_ARRAY_COUNT(builtin_users); i++) {
        const sim_user *u = &builtin_users[i];
        bool shadowed = false;
        for (size_t j = 0; j < sim->user_count; j++)
            shadowed = shadowed || strcmp(sim->users[j].name, u->name) == 0 ||
                       sim->users[j].uid == u->uid;
        if (!shadowed && (name != NULL ? strcmp(u->name, name) == 0 : u->uid == uid))
            return u;
    }
    return NULL;
}

dr_code dr__sim_user_lookup(const dr_sim *sim, sim_proc *from, const char *name,
                            dr_user_info *out, dr_err *err)
{
    if (name != NULL && (name[0] == '\0' || strlen(name) >= DR_USER_NAME_SIZE_MAX))
        return dr_err_set(err, DR_EINVAL, "user '%.64s': name must be 1-%u bytes", name,
                          DR_USER_NAME_SIZE_MAX - 1);
    const sim_user *u = user_find(sim, name, from->creds->uid);
    if (u == NULL)
        return name != NULL ? dr_err_set(err, DR_ENOTFOUND, "user '%s': no such user", name)
                            : dr_err_set(err, DR_ENOTFOUND,
                                         "user id %u: not in the user database",
                                         (unsigned)from->creds->uid);
    memset(out, 0, sizeof *out);
    dr_strlcpy(out->name, u->name, sizeof out->name);
    snprintf(out->home, sizeof out->home, "%s", u->uid == 0 ? "/root" : "/nonexistent");
    out->uid = u->uid;
    out->gid = u->gid;
    for (size_t i = 0; i < u->group_count; i++)
        out->groups[i] = u->groups[i];
    out->group_count = u->group_count;
    return DR_OK;
}

dr_env *dr_sim_process_env(dr_sim *sim, dr_pid pid)
{
    sim_proc *proc = dr__sim_proc(sim, pid);
    return proc != NULL ? &proc->env : NULL;
}

void *dr_sim_process_state(dr_sim *sim, dr_pid pid)
{
    sim_proc *proc = dr__sim_proc(sim, pid);
    return proc != NULL ? proc->state : NULL;
}

/* ---- events ------------------------------------------------------------------ */

void dr__sim_on_exit_notify(dr_sim *sim, sim_ev *ev)
{
    sim_exit_note note = *(sim_exit_note *)ev->ptr;
    dr_free(ev->ptr);
    sim_proc *watcher = dr__sim_proc(sim, ev->pid);
    DR_ASSERT(watcher != NULL);
    dr__sim_trace(sim, "exit_notify", note.child, watcher->pid, (uint64_t)note.status.code,
                  note.status.signaled);
    dr__sim_proc_enter(watcher);
    note.fn(&watcher->env, note.child, note.status, note.ctx);
    dr__sim_proc_leave(watcher);
}

void dr__sim_on_generic_exit(dr_sim *sim, sim_ev *ev)
{
    sim_proc *proc = dr__sim_proc(sim, ev->pid);
    DR_ASSERT(proc != NULL);
    DR_ASSERT(proc->generic);
    if (proc->generic_stdout != NULL) {
        /* seeded output, written through the host's disk like any process's */
        char line[160];
        int n = snprintf(line, sizeof line, "%s: pid %" PRId64 " output %016" PRIx64 "\n",
                         proc->argv0, proc->pid, dr_rng_next(&proc->rng));
        dr_file *file = NULL;
        dr_err ignored;
        if (dr_env_open(&proc->env, proc->generic_stdout, DR_OPEN_WRITE | DR_OPEN_CREATE, &file,
                        &ignored) == DR_OK) {
            /* a failed write is the program's problem, not the spawner's */
            (void)dr_env_append(&proc->env, file, line, (size_t)n, &ignored);
            dr_env_close(&proc->env, file);
        }
    }
    proc_end(sim, proc, END_EXIT, proc->generic_status);
}

dr_code dr__sim_signal(dr_sim *sim, sim_proc *from, dr_pid pid, int signo, bool group,
                       dr_err *err)
{
    (void)from;
    size_t target_count = 0;
    if (group) {
        for (size_t i = 0; i < sim->proc_count; i++) {
            sim_proc *p = sim->procs[i];
            if (p == NULL || p->pgid != pid)
                continue;
            target_count++;
            if (signo != 0)
                dr__sim_push(sim, sim->now_ns, EV_SIGNAL, p->pid, NULL, (uint64_t)signo);
        }
    } else if (dr__sim_proc(sim, pid) != NULL) {
        target_count = 1;
        if (signo != 0)
            dr__sim_push(sim, sim->now_ns, EV_SIGNAL, pid, NULL, (uint64_t)signo);
    }
    if (target_count == 0)
        return dr_err_set(err, DR_ESRCH, "signal %d to %s %" PRId64 ": no such process", signo,
                          group ? "group" : "pid", pid);
    return DR_OK;
}

/* Signals arrive as events, so a process that signals itself ends after the
 * callback that sent it has returned. */
void dr__sim_on_signal(dr_sim *sim, sim_ev *ev)
{
    sim_proc *proc = dr__sim_proc(sim, ev->pid);
    DR_ASSERT(proc != NULL);
    int signo = (int)ev->arg;
    dr__sim_trace(sim, "signal", 0, proc->pid, (uint64_t)signo, 0);
    switch (signo) {
    case SIGKILL:
        dr_sim_process_crash(sim, proc->pid);
        break;
    case SIGTERM:
    case SIGINT:
    case SIGHUP:
    case SIGQUIT:
        if (proc->generic)
            proc_end(sim, proc, END_EXIT, (dr_exit_status){true, signo});
        else
            dr_sim_process_stop(sim, proc->pid);
        break;
    case SIGSTOP:
    case SIGTSTP:
        dr_sim_process_pause(sim, proc->pid);
        break;
    case SIGCONT:
        dr_sim_process_resume(sim, proc->pid);
        break;
    default:
        break; /* ignored, as by a process that handles it */
    }
}
