/* src/env/real/proc.c — the real env's processes: spawn with fork + execve,
 * exit notification through pidfds, watch of processes spawned by an earlier
 * incarnation, and signals.
 *
 * spawn does everything that can fail with a useful message in the parent
 * (checking the options, PATH search, opening the stdio files), then forks.
 * The child resets its signal mask and dispositions, optionally calls
 * setsid(), sets the resource limits, changes user (setgroups, setgid,
 * setuid: limits first, while it may still raise hard ones), moves the stdio
 * files onto 0-2, marks every other descriptor close-on-exec, changes
 * directory (as the new user: a sandbox it may not enter is an error) and
 * execs. If any step fails it writes {stage, errno, detail} to a
 * close-on-exec pipe and exits 127; the parent reads that pipe until exec
 * closes it, so a failed exec is an error from spawn, never an exit callback.
 * The stdio files are opened by the spawner, before the user changes: the
 * child writes to them whoever owns them.
 *
 * Users come from the passwd and group databases (getpwnam_r, getgrouplist),
 * looked up synchronously in the caller; chown is plain chown(2).
 *
 * Exits are watched with pidfd_open (Linux >= 5.3): the pidfd becomes
 * readable when the process ends, then waitpid(WNOHANG) reaps a child and
 * reads its status. This is per env (no process-wide SIGCHLD handler) and
 * never reaps children that were not spawned through this env. A watched
 * process that is not our child cannot be reaped: its status is reported as
 * {signaled = false, code = -1}.
 *
 * signal_tree walks /proc/<pid>/stat (ppid, process group, session) to find
 * a process tree as Mesos's os::killtree does, following groups and
 * sessions; it stops the tree first (SIGSTOP, rescanning until no new
 * process appears, so forks during the kill are caught), then signals it.
 *
 * argv[0] without a '/' is searched in the PATH of envp when envp sets one,
 * else in the spawner's PATH, else in /usr/local/bin:/usr/bin:/bin. The stdio
 * files are opened by the spawner, so relative stdio paths are taken from the
 * spawner's working directory; exec runs after chdir, so a relative argv[0]
 * such as "./run" is taken from opts->cwd (as Mesos sandboxes expect).
 */
#include "real_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct dr__real_proc {
    dr__real *r;
    dr_pid pid;
    int pidfd;
    struct event *ev;
    dr_exit_fn *fn;
    void *ctx;
    bool spawned; /* our child: waitpid gives the real status */
    dr__real_proc *prev, *next;
};

/* What the child reports through the pipe when a step before exec fails. */
typedef enum child_stage {
    STAGE_SETSID = 1,
    STAGE_STDIO,
    STAGE_CHDIR,
    STAGE_EXEC,
    STAGE_RLIMIT,
    STAGE_SETGROUPS,
    STAGE_SETGID,
    STAGE_SETUID,
    STAGE_SUBREAPER,
    STAGE_PDEATHSIG,
} child_stage;

typedef struct child_report {
    int stage;
    int errno_value;
    long long detail; /* the limit's index, or the gid or uid being set */
} child_report;

/* Everything the child needs, prepared before fork (the child may only make
 * async-signal-safe calls). */
typedef struct child_plan {
    const char *path;
    char *const *argv;
    char *const *envp;
    const char *cwd;
    int stdio_fds[3];
    int report_fd;
    bool new_session;
    bool subreaper;
    int parent_death_signal;
    pid_t spawner; /* getpid() of the spawner, to see whether it already ended */
    struct rlimit limits[DR_SPAWN_RLIMIT_COUNT_MAX];
    int limit_resources[DR_SPAWN_RLIMIT_COUNT_MAX];
    size_t limit_count;
    bool set_user; /* false also when the spawner already is that user */
    bool set_groups; /* only root may; others keep theirs */
    uid_t uid;
    gid_t gid;
    gid_t groups[DR_USER_GROUP_COUNT_MAX];
    size_t group_count;
} child_plan;

static const char *const default_path = "/usr/local/bin:/usr/bin:/bin";

static void proc_exit_fire(evutil_socket_t fd, short what, void *arg);

static int pidfd_open_raw(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

bool dr__real_probe_pidfd(void)
{
    int fd = pidfd_open_raw(getpid());
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

bool dr__real_probe_subreaper(void)
{
    int value = 0;
    return prctl(PR_GET_CHILD_SUBREAPER, &value, 0, 0, 0) == 0 && value != 0;
}

/* ---- the child -------------------------------------------------------------------- */

static _Noreturn void child_fail(const child_plan *plan, child_stage stage, long long detail)
{
    child_report report = {.stage = (int)stage, .errno_value = errno, .detail = detail};
    ssize_t n = write(plan->report_fd, &report, sizeof report);
    DR_UNUSED(n); /* nothing else to do: the parent sees an empty pipe and exit 127 */
    _exit(127);
}

static _Noreturn void child_run(const child_plan *plan)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        (void)sigaction(sig, &dfl, NULL); /* fails for SIGKILL, SIGSTOP: fine */

    if (plan->new_session && setsid() < 0)
        child_fail(plan, STAGE_SETSID, 0);
    if (plan->subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
        child_fail(plan, STAGE_SUBREAPER, 0);
    for (size_t i = 0; i < plan->limit_count; i++)
        if (setrlimit((__rlimit_resource_t)plan->limit_resources[i], &plan->limits[i]) != 0)
            child_fail(plan, STAGE_RLIMIT, (long long)i);
    if (plan->set_user) {
        /* groups, then gid, then uid: each later step gives up the right to
         * do the earlier ones */
        if (plan->set_groups && setgroups(plan->group_count, plan->groups) != 0)
            child_fail(plan, STAGE_SETGROUPS, (long long)plan->gid);
        if (setgid(plan->gid) != 0)
            child_fail(plan, STAGE_SETGID, (long long)plan->gid);
        if (setuid(plan->uid) != 0)
            child_fail(plan, STAGE_SETUID, (long long)plan->uid);
    }
    for (int i = 0; i < 3; i++)
        if (dup2(plan->stdio_fds[i], i) < 0) /* dup2's copy is not close-on-exec */
            child_fail(plan, STAGE_STDIO, 0);
    /* Descriptors someone opened without O_CLOEXEC must not leak. */
    (void)close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    if (plan->cwd != NULL && chdir(plan->cwd) < 0)
        child_fail(plan, STAGE_CHDIR, 0);
    if (plan->parent_death_signal != 0) {
        /* last: a credential change clears it */
        if (prctl(PR_SET_PDEATHSIG, (unsigned long)plan->parent_death_signal, 0, 0, 0) != 0)
            child_fail(plan, STAGE_PDEATHSIG, 0);
        if (getppid() != plan->spawner)
            _exit(127); /* the spawner ended before: its report pipe reads empty */
    }
    execve(plan->path, plan->argv, plan->envp);
    child_fail(plan, STAGE_EXEC, 0);
}

/* ---- spawn ------------------------------------------------------------------------- */

static bool is_executable_file(const char *path)
{
    struct stat st;
    return access(path, X_OK) == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Finds name in the search path; out gets the path to exec. */
static dr_code find_program(const char *name, const char *const *envp, char *out, size_t out_size,
                            dr_err *err)
{
    if (strchr(name, '/') != NULL) {
        if (!dr_strlcpy(out, name, out_size))
            return dr_err_set(err, DR_EINVAL, "spawn '%.64s...': path too long", name);
        return DR_OK; /* execve reports a missing or unusable file */
    }
    const char *search = NULL;
    for (size_t i = 0; envp != NULL && envp[i] != NULL && search == NULL; i++)
        if (strncmp(envp[i], "PATH=", 5) == 0)
            search = envp[i] + 5;
    if (search == NULL)
        search = getenv("PATH");
    if (search == NULL)
        search = default_path;
    const char *dir = search;
    for (;;) {
        const char *end = strchrnul(dir, ':');
        size_t dir_size = (size_t)(end - dir);
        int n = dir_size == 0 ? snprintf(out, out_size, "./%s", name)
                              : snprintf(out, out_size, "%.*s/%s", (int)dir_size, dir, name);
        if (n > 0 && (size_t)n < out_size && is_executable_file(out))
            return DR_OK;
        if (*end == '\0')
            break;
        dir = end + 1;
    }
    return dr_err_set(err, DR_ENOENT, "spawn '%s': not found in PATH '%s'", name, search);
}

/* Opens one stdio file for the child, at a descriptor above 2 so that the
 * child's dup2 onto 0-2 cannot clobber another. nofollow: the child changes
 * user, so the file lies in a directory that user owns (a sandbox), and a
 * symlink there must not make the (root) spawner open a file of its choice. */
static dr_code open_stdio(const char *program, const char *which, const char *path, bool output,
                          bool nofollow, int *out, dr_err *err)
{
    const char *target = path != NULL ? path : "/dev/null";
    int flags = O_CLOEXEC | (output ? O_WRONLY | O_CREAT | O_APPEND : O_RDONLY);
    if (nofollow && path != NULL)
        flags |= O_NOFOLLOW;
    int fd;
    do {
        fd = open(target, flags, 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int e = errno;
        return dr_err_set(err, dr__real_code_of_errno(e), "spawn '%s': %s '%s': %s", program,
                          which, target, strerror(e));
    }
    if (fd < 3) {
        int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        int e = errno;
        close(fd);
        if (high < 0)
            return dr_err_set(err, dr__real_code_of_errno(e), "spawn '%s': %s '%s': %s", program,
                              which, target, strerror(e));
        fd = high;
    }
    *out = fd;
    return DR_OK;
}

static int rlimit_resource_of(dr_rlimit_resource r)
{
    switch (r) {
    case DR_RLIMIT_AS: return RLIMIT_AS;
    case DR_RLIMIT_CORE: return RLIMIT_CORE;
    case DR_RLIMIT_CPU: return RLIMIT_CPU;
    case DR_RLIMIT_DATA: return RLIMIT_DATA;
    case DR_RLIMIT_FSIZE: return RLIMIT_FSIZE;
    case DR_RLIMIT_LOCKS: return RLIMIT_LOCKS;
    case DR_RLIMIT_MEMLOCK: return RLIMIT_MEMLOCK;
    case DR_RLIMIT_MSGQUEUE: return RLIMIT_MSGQUEUE;
    case DR_RLIMIT_NICE: return RLIMIT_NICE;
    case DR_RLIMIT_NOFILE: return RLIMIT_NOFILE;
    case DR_RLIMIT_NPROC: return RLIMIT_NPROC;
    case DR_RLIMIT_RSS: return RLIMIT_RSS;
    case DR_RLIMIT_RTPRIO: return RLIMIT_RTPRIO;
    case DR_RLIMIT_RTTIME: return RLIMIT_RTTIME;
    case DR_RLIMIT_SIGPENDING: return RLIMIT_SIGPENDING;
    case DR_RLIMIT_STACK: return RLIMIT_STACK;
    }
    return -1;
}

static rlim_t rlim_of(uint64_t value)
{
    return value == DR_RLIMIT_UNLIMITED || value >= (uint64_t)RLIM_INFINITY ? RLIM_INFINITY
                                                                           : (rlim_t)value;
}

/* Checks the credentials and limits of opts and writes them into plan. */
static dr_code plan_credentials(const dr_spawn_opts *opts, const char *program, child_plan *plan,
                                dr_err *err)
{
    if (opts->rlimit_count > DR_SPAWN_RLIMIT_COUNT_MAX)
        return dr_err_set(err, DR_ETOOBIG, "spawn '%s': more than %u resource limits", program,
                          DR_SPAWN_RLIMIT_COUNT_MAX);
    if (opts->rlimit_count > 0 && opts->rlimits == NULL)
        return dr_err_set(err, DR_EINVAL, "spawn '%s': rlimits missing", program);
    for (size_t i = 0; i < opts->rlimit_count; i++) {
        const dr_rlimit *l = &opts->rlimits[i];
        int resource = rlimit_resource_of(l->resource);
        if (resource < 0)
            return dr_err_set(err, DR_EINVAL, "spawn '%s': unknown resource limit %d", program,
                              (int)l->resource);
        if (l->soft > l->hard)
            return dr_err_set(err, DR_EINVAL,
                              "spawn '%s': resource limit %d: soft %llu above hard %llu",
                              program, (int)l->resource, (unsigned long long)l->soft,
                              (unsigned long long)l->hard);
        for (size_t j = 0; j < i; j++)
            if (opts->rlimits[j].resource == l->resource)
                return dr_err_set(err, DR_EINVAL, "spawn '%s': resource limit %d set twice",
                                  program, (int)l->resource);
        plan->limit_resources[i] = resource;
        plan->limits[i].rlim_cur = rlim_of(l->soft);
        plan->limits[i].rlim_max = rlim_of(l->hard);
    }
    plan->limit_count = opts->rlimit_count;
    if (!opts->set_user)
        return DR_OK;
    if (opts->group_count > DR_USER_GROUP_COUNT_MAX)
        return dr_err_set(err, DR_ETOOBIG, "spawn '%s': more than %u groups", program,
                          DR_USER_GROUP_COUNT_MAX);
    if (opts->group_count > 0 && opts->groups == NULL)
        return dr_err_set(err, DR_EINVAL, "spawn '%s': groups missing", program);
    if (opts->uid == (uint32_t)-1 || opts->gid == (uint32_t)-1)
        return dr_err_set(err, DR_EINVAL, "spawn '%s': uid or gid -1 is not a user", program);
    uid_t euid = geteuid();
    if (euid != 0 && (uid_t)opts->uid == euid && (gid_t)opts->gid == getegid())
        return DR_OK; /* already that user; an unprivileged spawner cannot setgroups */
    plan->set_user = true;
    plan->set_groups = euid == 0;
    plan->uid = (uid_t)opts->uid;
    plan->gid = (gid_t)opts->gid;
    for (size_t i = 0; i < opts->group_count; i++)
        plan->groups[i] = (gid_t)opts->groups[i];
    plan->group_count = opts->group_count;
    return DR_OK;
}

static void reap_blocking(pid_t pid)
{
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
}

static dr__real_proc *proc_add(dr__real *r, dr_pid pid, int pidfd, bool spawned, dr_exit_fn *fn,
                               void *ctx)
{
    dr__real_proc *p = dr_alloc(sizeof *p);
    p->r = r;
    p->pid = pid;
    p->pidfd = pidfd;
    p->spawned = spawned;
    p->fn = fn;
    p->ctx = ctx;
    p->ev = event_new(r->base, pidfd, EV_READ, proc_exit_fire, p);
    DR_ASSERT(p->ev != NULL);
    int rc = event_add(p->ev, NULL);
    DR_ASSERT(rc == 0);
    p->prev = r->proc_tail;
    if (r->proc_tail != NULL)
        r->proc_tail->next = p;
    else
        r->proc_head = p;
    r->proc_tail = p;
    return p;
}

static void proc_remove(dr__real_proc *p)
{
    dr__real *r = p->r;
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        r->proc_head = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    else
        r->proc_tail = p->prev;
    event_free(p->ev);
    close(p->pidfd);
    dr_free(p);
}

dr_code dr__real_spawn(void *self, const dr_spawn_opts *opts, dr_exit_fn *fn, void *ctx,
                       dr_pid *out, dr_err *err)
{
    dr__real *r = self;
    DR_ASSERT(opts != NULL);
    DR_ASSERT(fn != NULL);
    if (opts->argv == NULL || opts->argv[0] == NULL || opts->argv[0][0] == '\0')
        return dr_err_set(err, DR_EINVAL, "spawn: argv[0] is missing");
    const char *program = opts->argv[0];
    size_t arg_count = 0;
    while (opts->argv[arg_count] != NULL)
        if (++arg_count > DR_SPAWN_ARG_COUNT_MAX)
            return dr_err_set(err, DR_ETOOBIG, "spawn '%s': more than %u arguments", program,
                              DR_SPAWN_ARG_COUNT_MAX);
    size_t env_count = 0;
    while (opts->envp != NULL && opts->envp[env_count] != NULL)
        if (++env_count > DR_SPAWN_ENV_COUNT_MAX)
            return dr_err_set(err, DR_ETOOBIG, "spawn '%s': more than %u environment entries",
                              program, DR_SPAWN_ENV_COUNT_MAX);
    if (!r->have_pidfd)
        return dr_err_set(err, DR_ENOTSUP, "spawn '%s': pidfd_open is not supported (Linux >= "
                                           "5.3 is needed)", program);

    char path[DR_PATH_SIZE_MAX];
    dr_code rc = find_program(program, opts->envp, path, sizeof path, err);
    if (rc != DR_OK)
        return rc;

    if (opts->parent_death_signal < 0 || opts->parent_death_signal >= NSIG)
        return dr_err_set(err, DR_EINVAL, "spawn '%s': parent death signal %d: not a valid "
                                          "signal", program, opts->parent_death_signal);
    child_plan plan = {.path = path, .cwd = opts->cwd, .new_session = opts->new_session,
                       .subreaper = opts->subreaper,
                       .parent_death_signal = opts->parent_death_signal,
                       .spawner = getpid(),
                       .stdio_fds = {-1, -1, -1}, .report_fd = -1};
    rc = plan_credentials(opts, program, &plan, err);
    if (rc != DR_OK)
        return rc;
    int report_pipe[2] = {-1, -1};
    /* execve takes char *const[]; it does not write through them. */
    static const char *const no_env[] = {NULL};
    plan.argv = (char *const *)opts->argv;
    plan.envp = (char *const *)(opts->envp != NULL ? opts->envp : no_env);
    rc = open_stdio(program, "stdin", opts->stdin_path, false, plan.set_user, &plan.stdio_fds[0], err);
    if (rc != DR_OK)
        goto fail;
    rc = open_stdio(program, "stdout", opts->stdout_path, true, plan.set_user, &plan.stdio_fds[1], err);
    if (rc != DR_OK)
        goto fail_stdin;
    rc = open_stdio(program, "stderr", opts->stderr_path, true, plan.set_user, &plan.stdio_fds[2], err);
    if (rc != DR_OK)
        goto fail_stdout;
    if (pipe2(report_pipe, O_CLOEXEC) != 0) {
        rc = dr__real_sys_fail(err, errno, "spawn", program);
        goto fail_stderr;
    }
    plan.report_fd = report_pipe[1];

    pid_t pid = fork();
    if (pid < 0) {
        rc = dr__real_sys_fail(err, errno, "spawn", program);
        goto fail_pipe;
    }
    if (pid == 0)
        child_run(&plan);

    close(report_pipe[1]);
    report_pipe[1] = -1;
    child_report report;
    ssize_t n;
    do {
        n = read(report_pipe[0], &report, sizeof report);
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof report) {
        reap_blocking(pid);
        static const char *const stage_names[] = {"?",      "setsid",    "stdio",
                                                  "chdir",  "exec",      "setrlimit",
                                                  "setgroups", "setgid", "setuid",
                                                  "prctl(PR_SET_CHILD_SUBREAPER)",
                                                  "prctl(PR_SET_PDEATHSIG)"};
        const char *stage = (unsigned)report.stage < DR_ARRAY_COUNT(stage_names)
                                ? stage_names[report.stage]
                                : "?";
        dr_code code = dr__real_code_of_errno(report.errno_value);
        const char *why = strerror(report.errno_value);
        if (report.stage == STAGE_RLIMIT && report.detail >= 0 &&
            (size_t)report.detail < opts->rlimit_count) {
            const dr_rlimit *l = &opts->rlimits[report.detail];
            rc = dr_err_set(err, code, "spawn '%s': setrlimit %d (soft %llu, hard %llu): %s",
                            program, (int)l->resource, (unsigned long long)l->soft,
                            (unsigned long long)l->hard, why);
        } else if (report.stage == STAGE_SUBREAPER || report.stage == STAGE_PDEATHSIG) {
            rc = dr_err_set(err, code, "spawn '%s': %s: %s", program, stage, why);
        } else if (report.stage >= STAGE_RLIMIT) {
            rc = dr_err_set(err, code, "spawn '%s': %s %lld: %s", program, stage, report.detail,
                            why);
        } else {
            const char *what = report.stage == STAGE_CHDIR ? opts->cwd : path;
            rc = dr_err_set(err, code, "spawn '%s': %s '%s': %s", program, stage, what, why);
        }
        goto fail_pipe;
    }
    if (n != 0) {
        /* The child died before exec without a report (a signal, or read
         * failed): treat as a failed spawn. */
        int e = n < 0 ? errno : EIO;
        kill(pid, SIGKILL);
        reap_blocking(pid);
        rc = dr__real_sys_fail(err, e, "spawn", program);
        goto fail_pipe;
    }
    int pidfd = pidfd_open_raw(pid);
    if (pidfd < 0) {
        int e = errno;
        kill(pid, SIGKILL);
        reap_blocking(pid);
        rc = dr__real_sys_fail(err, e, "spawn: pidfd_open", program);
        goto fail_pipe;
    }
    close(report_pipe[0]);
    for (int i = 0; i < 3; i++)
        close(plan.stdio_fds[i]);
    proc_add(r, pid, pidfd, true, fn, ctx);
    *out = pid;
    return DR_OK;

fail_pipe:
    close(report_pipe[0]);
    if (report_pipe[1] >= 0)
        close(report_pipe[1]);
fail_stderr:
    close(plan.stdio_fds[2]);
fail_stdout:
    close(plan.stdio_fds[1]);
fail_stdin:
    close(plan.stdio_fds[0]);
fail:
    return rc;
}

/* In a child subreaper (a container's first process), orphans of its tree
 * become its children; nobody else reaps them. Reaps every ended child this
 * env did not spawn, stopping at the first one it did (its pidfd event reaps
 * it and comes back here). Called whenever one of its own children ends. */
static void reap_adopted(dr__real *r)
{
    for (;;) {
        siginfo_t info;
        memset(&info, 0, sizeof info);
        if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0)
            return; /* no child, or none ended */
        for (const dr__real_proc *p = r->proc_head; p != NULL; p = p->next)
            if (p->spawned && p->pid == (dr_pid)info.si_pid)
                return;
        while (waitpid(info.si_pid, NULL, WNOHANG) < 0 && errno == EINTR) {
        }
    }
}

static void proc_exit_fire(evutil_socket_t fd, short what, void *arg)
{
    DR_UNUSED(fd);
    DR_UNUSED(what);
    dr__real_proc *p = arg;
    dr_exit_status status = {.signaled = false, .code = -1};
    int wstatus = 0;
    pid_t got;
    do {
        got = waitpid((pid_t)p->pid, &wstatus, WNOHANG);
    } while (got < 0 && errno == EINTR);
    if (got == 0) {
        /* Readable pidfd, yet not reapable: cannot happen for an ended child;
         * wait for the next readiness. */
        int rc = event_add(p->ev, NULL);
        DR_ASSERT(rc == 0);
        return;
    }
    if (got == (pid_t)p->pid) {
        if (WIFEXITED(wstatus)) {
            status.code = WEXITSTATUS(wstatus);
        } else if (WIFSIGNALED(wstatus)) {
            status.signaled = true;
            status.code = WTERMSIG(wstatus);
        }
    }
    /* got < 0 (ECHILD): not our child, status unknown. */
    dr_env *env = &p->r->env;
    dr_pid pid = p->pid;
    dr_exit_fn *fn = p->fn;
    void *ctx = p->ctx;
    dr__real *r = p->r;
    proc_remove(p); /* first, so fn may spawn or watch again */
    if (r->subreaper)
        reap_adopted(r);
    fn(env, pid, status, ctx);
}

dr_code dr__real_watch(void *self, dr_pid pid, dr_exit_fn *fn, void *ctx, dr_err *err)
{
    dr__real *r = self;
    DR_ASSERT(fn != NULL);
    if (pid <= 0 || pid > INT_MAX)
        return dr_err_set(err, DR_EINVAL, "watch pid %lld: not a valid pid", (long long)pid);
    for (dr__real_proc *p = r->proc_head; p != NULL; p = p->next)
        if (p->spawned && p->pid == pid)
            return dr_err_set(err, DR_EINVAL,
                              "watch pid %lld: spawned by this env, which reports its exit",
                              (long long)pid);
    if (!r->have_pidfd)
        return dr_err_set(err, DR_ENOTSUP, "watch pid %lld: pidfd_open is not supported (Linux "
                                           ">= 5.3 is needed)", (long long)pid);
    int pidfd = pidfd_open_raw((pid_t)pid);
    if (pidfd < 0) {
        int e = errno;
        return dr_err_set(err, dr__real_code_of_errno(e), "watch pid %lld: %s", (long long)pid,
                          strerror(e));
    }
    proc_add(r, pid, pidfd, false, fn, ctx);
    return DR_OK;
}

dr_code dr__real_signal(void *self, dr_pid pid, int signo, bool group, dr_err *err)
{
    DR_UNUSED(self);
    const char *what = group ? "process group" : "pid";
    /* kill(0) and kill(-1) would reach far more than one process. */
    if (pid <= 1 || pid > INT_MAX)
        return dr_err_set(err, DR_EINVAL, "signal %d to %s %lld: not a valid pid", signo, what,
                          (long long)pid);
    if (signo < 0 || signo >= NSIG)
        return dr_err_set(err, DR_EINVAL, "signal %d to %s %lld: not a valid signal", signo,
                          what, (long long)pid);
    pid_t target = group ? -(pid_t)pid : (pid_t)pid;
    if (kill(target, signo) != 0) {
        int e = errno;
        return dr_err_set(err, dr__real_code_of_errno(e), "signal %d to %s %lld: %s", signo, what,
                          (long long)pid, strerror(e));
    }
    return DR_OK;
}

/* ---- process trees ---------------------------------------------------------------- */

/* One process as /proc/<pid>/stat shows it. */
typedef struct tree_row {
    pid_t pid, ppid, pgrp, session;
    char state;   /* R, S, D, T (stopped), ... */
    bool member;  /* in the tree */
    bool stopped; /* sent SIGSTOP by this call */
} tree_row;

typedef struct tree_scan {
    tree_row *rows; /* sorted by pid */
    size_t count;
    size_t capacity;
} tree_scan;

/* Fields 4-6 of /proc/<pid>/stat (ppid, pgrp, session), counted after the
 * last ')' so that a command name with spaces or parentheses cannot shift
 * them. */
static bool stat_ids_parse(const char *text, tree_row *row)
{
    const char *p = strrchr(text, ')');
    if (p == NULL)
        return false;
    char state = 0;
    int ppid = 0, pgrp = 0, session = 0;
    if (sscanf(p + 1, " %c %d %d %d", &state, &ppid, &pgrp, &session) != 4)
        return false;
    if (state == 'Z' || state == 'X')
        return false; /* ended, not yet reaped: nothing left to signal */
    row->state = state;
    row->ppid = (pid_t)ppid;
    row->pgrp = (pid_t)pgrp;
    row->session = (pid_t)session;
    return true;
}

static int tree_row_cmp(const void *x, const void *y)
{
    pid_t p = ((const tree_row *)x)->pid, q = ((const tree_row *)y)->pid;
    return p < q ? -1 : p > q;
}

static int pid_cmp(const void *x, const void *y)
{
    pid_t p = *(const pid_t *)x, q = *(const pid_t *)y;
    return p < q ? -1 : p > q;
}

static tree_row *tree_find(const tree_scan *scan, pid_t pid)
{
    tree_row key = {.pid = pid};
    return bsearch(&key, scan->rows, scan->count, sizeof *scan->rows, tree_row_cmp);
}

/* Reads every process's ids from /proc into scan (rows sorted by pid);
 * processes that end meanwhile, and zombies, are missing. */
static dr_code tree_scan_read(tree_scan *scan, dr_err *err)
{
    scan->count = 0;
    DIR *dir = opendir("/proc");
    if (dir == NULL)
        return dr__real_sys_fail(err, errno, "signal tree: open", "/proc");
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        char *end = NULL;
        long pid = strtol(de->d_name, &end, 10);
        if (de->d_name[0] < '1' || de->d_name[0] > '9' || *end != '\0' || pid > INT_MAX)
            continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue; /* gone meanwhile */
        char text[1024];
        ssize_t n;
        do {
            n = read(fd, text, sizeof text - 1);
        } while (n < 0 && errno == EINTR);
        close(fd);
        if (n <= 0)
            continue;
        text[n] = '\0';
        tree_row row = {.pid = (pid_t)pid};
        if (!stat_ids_parse(text, &row))
            continue;
        if (scan->count == scan->capacity) {
            scan->capacity = scan->capacity < 256 ? 256 : scan->capacity * 2;
            scan->rows = dr_realloc(scan->rows, scan->capacity * sizeof *scan->rows);
        }
        scan->rows[scan->count++] = row;
    }
    closedir(dir);
    qsort(scan->rows, scan->count, sizeof *scan->rows, tree_row_cmp);
    return DR_OK;
}

/* Whether the session or group id may be followed: never ours, never an id
 * of the kernel or init, never one led by a living process outside the tree
 * (a group or session a member merely joined). */
static bool tree_id_followable(const tree_scan *scan, pid_t id, pid_t root, pid_t own_session,
                               pid_t own_group)
{
    if (id <= 1 || id == own_session || id == own_group)
        return false;
    if (id == root)
        return true;
    const tree_row *leader = tree_find(scan, id);
    return leader == NULL || leader->member;
}

/* Marks the tree of root in scan: root, the children of members, and the
 * processes in a followable session or group of a member (or root's, when
 * root is gone). Repeats until nothing changes: at most one pass per level
 * of the tree, each O(rows x followed ids). Returns the member count. */
static size_t tree_mark(tree_scan *scan, pid_t root)
{
    pid_t self = getpid(), own_session = getsid(0), own_group = getpgrp();
    size_t id_capacity = 16, id_count = 0;
    pid_t *ids = dr_alloc_array(id_capacity, sizeof *ids);
    ids[id_count++] = root; /* the session and group root leads, even once it is gone */
    size_t members = 0;
    bool changed = true;
    for (size_t pass = 0; changed && pass <= scan->count; pass++) {
        changed = false;
        for (size_t i = 0; i < scan->count; i++) {
            tree_row *row = &scan->rows[i];
            if (row->member || row->pid == self || row->pid <= 1)
                continue;
            bool in = row->pid == root;
            if (!in) {
                const tree_row *parent = tree_find(scan, row->ppid);
                in = parent != NULL && parent->member;
            }
            for (size_t k = 0; !in && k < id_count; k++)
                in = (row->session == ids[k] || row->pgrp == ids[k]) &&
                     tree_id_followable(scan, ids[k], root, own_session, own_group);
            if (!in)
                continue;
            row->member = true;
            members++;
            changed = true;
            pid_t own[2] = {row->session, row->pgrp};
            for (size_t j = 0; j < 2; j++) {
                bool known = false;
                for (size_t k = 0; k < id_count && !known; k++)
                    known = ids[k] == own[j];
                if (known || own[j] <= 1)
                    continue;
                if (id_count == id_capacity) {
                    id_capacity *= 2;
                    ids = dr_realloc(ids, id_capacity * sizeof *ids);
                }
                ids[id_count++] = own[j];
            }
        }
    }
    dr_free(ids);
    return members;
}

dr_code dr__real_signal_tree(void *self, dr_pid pid, int signo, dr_err *err)
{
    DR_UNUSED(self);
    if (pid <= 1 || pid > INT_MAX || pid == getpid())
        return dr_err_set(err, DR_EINVAL, "signal %d to tree %lld: not a valid pid", signo,
                          (long long)pid);
    if (signo < 0 || signo >= NSIG)
        return dr_err_set(err, DR_EINVAL, "signal %d to tree %lld: not a valid signal", signo,
                          (long long)pid);
    pid_t root = (pid_t)pid;
    tree_scan scan = {0};
    /* The pids stopped so far; kept across scans (a stopped process stays
     * in the tree, but a later scan builds fresh rows). */
    size_t stopped_count = 0, stopped_capacity = 64;
    size_t sorted_count = 0; /* stopped[0, sorted_count) is sorted: the earlier rounds' */
    pid_t *stopped = dr_alloc_array(stopped_capacity, sizeof *stopped);
    dr_code rc = DR_OK;
    /* Freeze: scan, stop the members not yet stopped, scan again until a
     * scan finds nobody new and every member has stopped (SIGSTOP takes
     * effect when the target returns to user space: a fork it is inside of
     * still completes, so a scan before it stopped may miss the child). A
     * stopped process forks no more, so this ends; bounded all the same
     * (about a second at most), then whatever was found is signaled. */
    for (unsigned round = 0; round < 4096; round++) {
        rc = tree_scan_read(&scan, err);
        if (rc != DR_OK)
            break;
        size_t members = tree_mark(&scan, root);
        if (members == 0 || signo == 0)
            break;
        size_t fresh = 0, running = 0;
        for (size_t i = 0; i < scan.count; i++) {
            tree_row *row = &scan.rows[i];
            if (!row->member)
                continue;
            if (bsearch(&row->pid, stopped, sorted_count, sizeof *stopped, pid_cmp) != NULL) {
                running += row->state != 'T' && row->state != 't';
                continue; /* signaled in an earlier round */
            }
            if (kill(row->pid, SIGSTOP) != 0)
                continue; /* ended meanwhile */
            if (stopped_count == stopped_capacity) {
                stopped_capacity *= 2;
                stopped = dr_realloc(stopped, stopped_capacity * sizeof *stopped);
            }
            stopped[stopped_count++] = row->pid;
            fresh++;
        }
        if (fresh == 0 && running == 0)
            break;
        if (fresh == 0) {
            /* give the signaled a moment to stop */
            struct timespec pause = {.tv_sec = 0, .tv_nsec = 250 * 1000};
            (void)nanosleep(&pause, NULL);
        }
        qsort(stopped, stopped_count, sizeof *stopped, pid_cmp);
        sorted_count = stopped_count;
    }
    if (rc == DR_OK && signo == 0) {
        bool any = false;
        for (size_t i = 0; i < scan.count && !any; i++)
            any = scan.rows[i].member;
        if (!any)
            rc = dr_err_set(err, DR_ESRCH, "signal 0 to tree %lld: no such process",
                            (long long)pid);
    } else if (rc == DR_OK && stopped_count == 0) {
        rc = dr_err_set(err, DR_ESRCH, "signal %d to tree %lld: no such process", signo,
                        (long long)pid);
    }
    /* Every member is stopped: signal them all, then let them run to act on
     * it (a pending SIGKILL needs no SIGCONT; SIGSTOP wants them stopped).
     * Even if the scan failed midway, what was stopped is released. */
    for (size_t k = 0; k < stopped_count; k++) {
        if (rc == DR_OK && signo != SIGSTOP)
            (void)kill(stopped[k], signo);
        if (signo != SIGKILL && (signo != SIGSTOP || rc != DR_OK))
            (void)kill(stopped[k], SIGCONT);
    }
    dr_free(stopped);
    dr_free(scan.rows);
    return rc;
}

void dr__real_proc_destroy_all(dr__real *r)
{
    while (r->proc_head != NULL)
        proc_remove(r->proc_head);
}

/* ---- users ------------------------------------------------------------------------- */

dr_code dr__real_user_lookup(void *self, const char *name, dr_user_info *out, dr_err *err)
{
    DR_UNUSED(self);
    const char *shown = name != NULL ? name : "(self)";
    if (name != NULL && (name[0] == '\0' || strlen(name) >= DR_USER_NAME_SIZE_MAX))
        return dr_err_set(err, DR_EINVAL, "user '%.64s': name must be 1-%u bytes", name,
                          DR_USER_NAME_SIZE_MAX - 1);
    size_t buf_size = 16 * 1024;
    char *buf = NULL;
    struct passwd pw, *found = NULL;
    int e;
    for (;;) {
        buf = dr_realloc(buf, buf_size);
        errno = 0;
        e = name != NULL ? getpwnam_r(name, &pw, buf, buf_size, &found)
                         : getpwuid_r(geteuid(), &pw, buf, buf_size, &found);
        if (e != ERANGE || buf_size >= 1024 * 1024)
            break;
        buf_size *= 2;
    }
    dr_code rc = DR_OK;
    if (e != 0 && e != ENOENT && e != ESRCH && e != EBADF && e != EPERM) {
        rc = dr_err_set(err, dr__real_code_of_errno(e), "user '%s': %s", shown, strerror(e));
        goto out;
    }
    if (found == NULL) {
        rc = name != NULL ? dr_err_set(err, DR_ENOTFOUND, "user '%s': no such user", name)
                          : dr_err_set(err, DR_ENOTFOUND, "user id %u: not in the user database",
                                       (unsigned)geteuid());
        goto out;
    }
    if (strlen(pw.pw_name) >= sizeof out->name || strlen(pw.pw_dir) >= sizeof out->home) {
        rc = dr_err_set(err, DR_ETOOBIG, "user '%s': name or home directory too long", shown);
        goto out;
    }
    gid_t groups[DR_USER_GROUP_COUNT_MAX];
    int group_count = (int)DR_ARRAY_COUNT(groups);
    if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &group_count) < 0) {
        rc = dr_err_set(err, DR_ETOOBIG, "user '%s': in more than %u groups", shown,
                        DR_USER_GROUP_COUNT_MAX);
        goto out;
    }
    memset(out, 0, sizeof *out);
    dr_strlcpy(out->name, pw.pw_name, sizeof out->name);
    dr_strlcpy(out->home, pw.pw_dir, sizeof out->home);
    out->uid = (uint32_t)pw.pw_uid;
    out->gid = (uint32_t)pw.pw_gid;
    for (int i = 0; i < group_count; i++)
        out->groups[i] = (uint32_t)groups[i];
    out->group_count = (size_t)group_count;
out:
    dr_free(buf);
    return rc;
}

dr_code dr__real_chown(void *self, const char *path, uint32_t uid, uint32_t gid, dr_err *err)
{
    DR_UNUSED(self);
    dr_code rc = dr__real_check_path("chown", path, err);
    if (rc != DR_OK)
        return rc;
    /* lchown: the path's last part may be a symlink its new owner planted
     * (a sandbox is theirs); following it would hand them its target. */
    if (lchown(path, (uid_t)uid, (gid_t)gid) != 0)
        return dr__real_sys_fail(err, errno, "chown", path);
    return DR_OK;
}
