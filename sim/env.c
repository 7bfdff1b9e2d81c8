/* sim/env.c — the dr_env of a simulated process: every op of src/env/env.h on
 * the virtual clock (the host's drifted view of true time), the process's seeded
 * random stream, the simulated network (net.c), the host's disk (sim/disk.h)
 * and the process table and user database (proc.c).
 *
 * File operations go to the host's dr_sim_disk; in a build without sim/disk.c
 * (DR_SIM_HAVE_DISK undefined) they return DR_ENOTSUP. Logging goes to
 * opts.log_out, each line prefixed with the virtual time and the node's name.
 */
#include "sim_int.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define PROC(self) ((sim_proc *)(self))

/* ---- time and randomness -------------------------------------------------------- */

static uint64_t env_now(void *self) { return dr__sim_host_now(PROC(self)->host); }
static uint64_t env_wall(void *self) { return dr__sim_host_wall(PROC(self)->host); }

static dr_timer_id env_timer_add(void *self, uint64_t delay_ns, dr_timer_fn *fn, void *ctx)
{
    sim_proc *proc = self;
    return dr__sim_timer_add(proc->sim, proc, delay_ns, fn, ctx);
}

static void env_timer_cancel(void *self, dr_timer_id id)
{
    sim_proc *proc = self;
    dr__sim_timer_cancel(proc->sim, proc, id);
}

static uint64_t env_random(void *self) { return dr_rng_next(&PROC(self)->rng); }
static uint64_t env_seed(void *self) { return PROC(self)->seed; }

/* ---- streams ---------------------------------------------------------------------- */

static dr_code env_listen(void *self, const char *host, uint16_t port, dr_accept_fn *fn, void *ctx,
                          dr_listener **out, dr_err *err)
{
    return dr__sim_listen(self, host, port, fn, ctx, out, err);
}

static uint16_t env_listener_port(void *self, dr_listener *l)
{
    (void)self;
    return dr__sim_listener_port(l);
}

static void env_listener_close(void *self, dr_listener *l) { dr__sim_listener_close(self, l); }

static dr_code env_connect(void *self, const char *host, uint16_t port, const dr_stream_cbs *cbs,
                           void *ctx, dr_stream **out, dr_err *err)
{
    return dr__sim_connect(self, host, port, cbs, ctx, out, err);
}

static void env_stream_set_cbs(void *self, dr_stream *s, const dr_stream_cbs *cbs, void *ctx)
{
    dr__sim_stream_set_cbs(self, s, cbs, ctx);
}

static dr_code env_stream_write(void *self, dr_stream *s, const void *data, size_t size,
                                dr_err *err)
{
    return dr__sim_stream_write(self, s, data, size, err);
}

static size_t env_stream_queued(void *self, dr_stream *s)
{
    (void)self;
    return dr__sim_stream_queued(s);
}

static void env_stream_pause(void *self, dr_stream *s, bool paused)
{
    dr__sim_stream_pause(self, s, paused);
}

static void env_stream_close(void *self, dr_stream *s) { dr__sim_stream_close(self, s); }
static void env_stream_abort(void *self, dr_stream *s) { dr__sim_stream_abort(self, s); }

static void env_stream_peer(void *self, dr_stream *s, char *out, size_t out_size)
{
    (void)self;
    dr__sim_stream_peer(s, out, out_size);
}

/* ---- files ------------------------------------------------------------------------- */

#ifdef DR_SIM_HAVE_DISK

static dr_sim_disk *disk_of(sim_proc *proc)
{
    sim_host *host = proc->host;
    dr_sim_disk_set_time(host->disk, dr__sim_host_wall(host));
    return host->disk;
}

static dr_code env_open(void *self, const char *path, int flags, dr_file **out, dr_err *err)
{
    sim_proc *proc = self;
    dr_sim_file *handle = NULL;
    dr_code rc = dr_sim_disk_open(disk_of(proc), (uint64_t)proc->pid, path, flags, &handle, err);
    if (rc != DR_OK)
        return rc;
    dr_file *file = dr_alloc(sizeof *file);
    file->file = handle;
    file->pid = proc->pid;
    sim_link_push(&proc->files, &file->proc_link);
    *out = file;
    return DR_OK;
}

static void env_close(void *self, dr_file *file)
{
    sim_proc *proc = self;
    DR_ASSERT(file->pid == proc->pid);
    dr_sim_disk_close(disk_of(proc), file->file);
    sim_link_del(&file->proc_link);
    dr_free(file);
}

static dr_code env_pread(void *self, dr_file *f, uint64_t offset, void *buf, size_t size,
                         size_t *read_size, dr_err *err)
{
    return dr_sim_disk_pread(disk_of(self), f->file, offset, buf, size, read_size, err);
}

static dr_code env_pwrite(void *self, dr_file *f, uint64_t offset, const void *data, size_t size,
                          dr_err *err)
{
    if (dr__sim_fail_now(PROC(self)->sim, DR_SIM_OP_WRITE))
        return dr_err_set(err, DR_EIO, "pwrite: injected I/O error");
    return dr_sim_disk_pwrite(disk_of(self), f->file, offset, data, size, err);
}

static dr_code env_append(void *self, dr_file *f, const void *data, size_t size, dr_err *err)
{
    if (dr__sim_fail_now(PROC(self)->sim, DR_SIM_OP_WRITE))
        return dr_err_set(err, DR_EIO, "append: injected I/O error");
    return dr_sim_disk_append(disk_of(self), f->file, data, size, err);
}

static dr_code env_fsync(void *self, dr_file *f, dr_err *err)
{
    if (dr__sim_fail_now(PROC(self)->sim, DR_SIM_OP_FSYNC))
        return dr_err_set(err, DR_EIO, "fsync: injected I/O error");
    return dr_sim_disk_fsync(disk_of(self), f->file, err);
}

static dr_code env_truncate(void *self, dr_file *f, uint64_t size, dr_err *err)
{
    return dr_sim_disk_truncate(disk_of(self), f->file, size, err);
}

static dr_code env_file_size(void *self, dr_file *f, uint64_t *size, dr_err *err)
{
    return dr_sim_disk_file_size(disk_of(self), f->file, size, err);
}

static dr_code env_lock(void *self, dr_file *f, dr_err *err)
{
    return dr_sim_disk_lock(disk_of(self), f->file, err);
}

static dr_code env_rename(void *self, const char *from, const char *to, dr_err *err)
{
    return dr_sim_disk_rename(disk_of(self), from, to, err);
}

static dr_code env_unlink(void *self, const char *path, dr_err *err)
{
    return dr_sim_disk_unlink(disk_of(self), path, err);
}

static dr_code env_mkdir(void *self, const char *path, dr_err *err)
{
    return dr_sim_disk_mkdir(disk_of(self), path, err);
}

static dr_code env_rmdir(void *self, const char *path, dr_err *err)
{
    return dr_sim_disk_rmdir(disk_of(self), path, err);
}

static dr_code env_list_dir(void *self, const char *path, dr_dir_list *out, dr_err *err)
{
    return dr_sim_disk_list_dir(disk_of(self), path, out, err);
}

static dr_code env_fsync_dir(void *self, const char *path, dr_err *err)
{
    return dr_sim_disk_fsync_dir(disk_of(self), path, err);
}

static dr_code env_stat(void *self, const char *path, bool follow_links, dr_file_stat *out,
                        dr_err *err)
{
    return dr_sim_disk_stat(disk_of(self), path, follow_links, out, err);
}

static dr_code env_symlink(void *self, const char *target, const char *link_path, dr_err *err)
{
    return dr_sim_disk_symlink(disk_of(self), target, link_path, err);
}

static dr_code env_readlink(void *self, const char *path, char *out, size_t out_size, dr_err *err)
{
    return dr_sim_disk_readlink(disk_of(self), path, out, out_size, err);
}

void dr__sim_files_close_all(sim_proc *proc)
{
    while (!sim_link_empty(&proc->files)) {
        dr_file *file = SIM_CONTAINER(proc->files.next, dr_file, proc_link);
        env_close(proc, file);
    }
}

#else /* no sim/disk.c in this build */

static dr_code no_disk(dr_err *err, const char *op, const char *path)
{
    return dr_err_set(err, DR_ENOTSUP, "%s '%s': the simulated disk is not built in", op,
                      path != NULL ? path : "");
}

static dr_code env_open(void *self, const char *path, int flags, dr_file **out, dr_err *err)
{
    (void)self, (void)flags, (void)out;
    return no_disk(err, "open", path);
}

static void env_close(void *self, dr_file *f)
{
    (void)self, (void)f;
    DR_UNREACHABLE(); /* open never succeeds */
}

static dr_code env_pread(void *self, dr_file *f, uint64_t offset, void *buf, size_t size,
                         size_t *read_size, dr_err *err)
{
    (void)self, (void)f, (void)offset, (void)buf, (void)size, (void)read_size;
    return no_disk(err, "pread", NULL);
}

static dr_code env_pwrite(void *self, dr_file *f, uint64_t offset, const void *data, size_t size,
                          dr_err *err)
{
    (void)self, (void)f, (void)offset, (void)data, (void)size;
    return no_disk(err, "pwrite", NULL);
}

static dr_code env_append(void *self, dr_file *f, const void *data, size_t size, dr_err *err)
{
    (void)self, (void)f, (void)data, (void)size;
    return no_disk(err, "append", NULL);
}

static dr_code env_fsync(void *self, dr_file *f, dr_err *err)
{
    (void)self, (void)f;
    return no_disk(err, "fsync", NULL);
}

static dr_code env_truncate(void *self, dr_file *f, uint64_t size, dr_err *err)
{
    (void)self, (void)f, (void)size;
    return no_disk(err, "truncate", NULL);
}

static dr_code env_file_size(void *self, dr_file *f, uint64_t *size, dr_err *err)
{
    (void)self, (void)f, (void)size;
    return no_disk(err, "file_size", NULL);
}

static dr_code env_lock(void *self, dr_file *f, dr_err *err)
{
    (void)self, (void)f;
    return no_disk(err, "lock", NULL);
}

static dr_code env_rename(void *self, const char *from, const char *to, dr_err *err)
{
    (void)self, (void)to;
    return no_disk(err, "rename", from);
}

static dr_code env_unlink(void *self, const char *path, dr_err *err)
{
    (void)self;
    return no_disk(err, "unlink", path);
}

static dr_code env_mkdir(void *self, const char *path, dr_err *err)
{
    (void)self;
    return no_disk(err, "mkdir", path);
}

static dr_code env_rmdir(void *self, const char *path, dr_err *err)
{
    (void)self;
    return no_disk(err, "rmdir", path);
}

static dr_code env_list_dir(void *self, const char *path, dr_dir_list *out, dr_err *err)
{
    (void)self, (void)out;
    return no_disk(err, "list_dir", path);
}

static dr_code env_fsync_dir(void *self, const char *path, dr_err *err)
{
    (void)self;
    return no_disk(err, "fsync_dir", path);
}

static dr_code env_stat(void *self, const char *path, bool follow_links, dr_file_stat *out,
                        dr_err *err)
{
    (void)self, (void)follow_links, (void)out;
    return no_disk(err, "stat", path);
}

static dr_code env_symlink(void *self, const char *target, const char *link_path, dr_err *err)
{
    (void)self, (void)target;
    return no_disk(err, "symlink", link_path);
}

static dr_code env_readlink(void *self, const char *path, char *out, size_t out_size, dr_err *err)
{
    (void)self, (void)out, (void)out_size;
    return no_disk(err, "readlink", path);
}

void dr__sim_files_close_all(sim_proc *proc)
{
    DR_ASSERT(sim_link_empty(&proc->files));
}

#endif /* DR_SIM_HAVE_DISK */

/* ---- processes ------------------------------------------------------------------------ */

static dr_code env_spawn(void *self, const dr_spawn_opts *opts, dr_exit_fn *fn, void *ctx,
                         dr_pid *out, dr_err *err)
{
    sim_proc *proc = self; /* fn may be NULL: nobody hears the exit */
    if (dr__sim_fail_now(proc->sim, DR_SIM_OP_SPAWN))
        return dr_err_set(err, DR_EAGAIN, "spawn '%s': injected failure",
                          opts != NULL && opts->argv != NULL && opts->argv[0] != NULL
                              ? opts->argv[0]
                              : "");
    return dr__sim_spawn(proc->sim, proc->host, proc->pid, opts, fn, ctx, out, err);
}

static dr_code env_watch(void *self, dr_pid pid, dr_exit_fn *fn, void *ctx, dr_err *err)
{
    sim_proc *proc = self;
    return dr__sim_watch(proc->sim, proc, pid, fn, ctx, err);
}

static dr_code env_signal(void *self, dr_pid pid, int signo, bool group, dr_err *err)
{
    sim_proc *proc = self;
    return dr__sim_signal(proc->sim, proc, pid, signo, group, err);
}

/* The tree of root as the real env finds it (see dr_env_signal_tree): root,
 * the children of members (watches[0] is a process's parent) and every
 * process in a group of a member or led by root. A simulated process has
 * one id for its session and group (spawn's new_session sets both), so
 * groups stand for sessions. Never the caller or its group, never a group
 * led by a living process outside the tree, never another host's process.
 * No process runs during the call, so one pass to a fixpoint sees the whole
 * tree and no freeze is needed; the signals arrive as events, in pid order. */
static dr_code env_signal_tree(void *self, dr_pid pid, int signo, dr_err *err)
{
    sim_proc *from = self;
    dr_sim *sim = from->sim;
    if (pid <= 1 || pid == from->pid)
        return dr_err_set(err, DR_EINVAL, "signal %d to tree %" PRId64 ": not a valid pid", signo,
                          pid);
    size_t n = sim->proc_count;
    bool *member = dr_alloc_array(n + 1, sizeof *member);
    dr_pid *groups = dr_alloc_array(n + 2, sizeof *groups); /* followed group ids */
    size_t group_count = 0;
    groups[group_count++] = pid;
    size_t members = 0;
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t i = 0; i < n; i++) {
            const sim_proc *p = sim->procs[i];
            if (p == NULL || member[i] || p == from || p->host != from->host)
                continue;
            bool in = p->pid == pid;
            if (!in && p->watch_count > 0) {
                dr_pid parent = p->watches[0].watcher;
                in = parent > 0 && (uint64_t)parent <= n && member[parent - 1];
            }
            for (size_t k = 0; !in && k < group_count; k++) {
                const sim_proc *leader = dr__sim_proc(sim, groups[k]);
                in = p->pgid == groups[k] && groups[k] != from->pgid &&
                     (groups[k] == pid || leader == NULL || member[groups[k] - 1]);
            }
            if (!in)
                continue;
            member[i] = true;
            members++;
            changed = true;
            bool known = false;
            for (size_t k = 0; k < group_count && !known; k++)
                known = groups[k] == p->pgid;
            if (!known)
                groups[group_count++] = p->pgid;
        }
    }
    dr_code rc = DR_OK;
    if (members == 0)
        rc = dr_err_set(err, DR_ESRCH, "signal %d to tree %" PRId64 ": no such process", signo,
                        pid);
    for (size_t i = 0; i < n && signo != 0; i++) {
        if (!member[i])
            continue;
        dr_pid target = sim->procs[i]->pid;
        rc = dr__sim_signal(sim, from, target, signo, false, err);
        DR_ASSERT(rc == DR_OK); /* alive: just found */
        if (signo != SIGKILL && signo != SIGSTOP)
            (void)dr__sim_signal(sim, from, target, SIGCONT, false, err);
    }
    dr_free(groups);
    dr_free(member);
    return rc;
}

/* ---- users --------------------------------------------------------------------------------- */

static dr_code env_user_lookup(void *self, const char *name, dr_user_info *out, dr_err *err)
{
    sim_proc *proc = self;
    return dr__sim_user_lookup(proc->sim, proc, name, out, err);
}

/* The disk keeps no owners: chown checks what lchown(2), which the real env
 * calls, would (the path exists, a symlink itself; only root may give files
 * away) and changes nothing. */
static dr_code env_chown(void *self, const char *path, uint32_t uid, uint32_t gid, dr_err *err)
{
    sim_proc *proc = self;
    dr_file_stat st;
    dr_code rc = env_stat(self, path, false, &st, err);
    if (rc != DR_OK)
        return rc;
    if (proc->creds->uid != 0 && (uid != proc->creds->uid || gid != proc->creds->gid))
        return dr_err_set(err, DR_EACCES, "chown '%s': Operation not permitted", path);
    return DR_OK;
}

/* ---- host facts ------------------------------------------------------------------------- */

static dr_code env_host_info(void *self, dr_host_info *out, dr_err *err)
{
    (void)err;
    sim_host *host = PROC(self)->host;
    memset(out, 0, sizeof *out);
    out->cpu_count = host->cpu_count;
    out->mem_bytes = host->mem_bytes;
    dr_strlcpy(out->hostname, host->name, sizeof out->hostname);
    dr_strlcpy(out->boot_id, host->boot_id, sizeof out->boot_id);
    return DR_OK;
}

static dr_code env_disk_space(void *self, const char *path, uint64_t *free_bytes,
                              uint64_t *total_bytes, dr_err *err)
{
    sim_host *host = PROC(self)->host;
#ifdef DR_SIM_HAVE_DISK
    dr_file_stat st;
    dr_code rc = dr_sim_disk_stat(host->disk, path, true, &st, err);
    if (rc != DR_OK)
        return rc;
    uint64_t total = dr_sim_disk_capacity_bytes(host->disk);
    uint64_t used = dr_sim_disk_used_bytes(host->disk);
    *total_bytes = total;
    *free_bytes = used < total ? total - used : 0;
    return DR_OK;
#else
    (void)host, (void)free_bytes, (void)total_bytes;
    return no_disk(err, "disk_space", path);
#endif
}

static dr_code env_resolve(void *self, const char *name, char *ip_out, size_t ip_size,
                           dr_err *err)
{
    sim_proc *proc = self;
    const char *ip = NULL;
    if (strcmp(name, "localhost") == 0 || strcmp(name, "127.0.0.1") == 0) {
        ip = "127.0.0.1";
    } else {
        sim_host *host = dr__sim_host_by_addr(proc->sim, name);
        if (host != NULL)
            ip = host->ip;
    }
    if (ip == NULL)
        return dr_err_set(err, DR_ENOTFOUND, "resolve '%s': unknown host", name);
    if (strlen(ip) >= ip_size)
        return dr_err_set(err, DR_EINVAL, "resolve '%s': output buffer of %zu bytes is too small",
                          name, ip_size);
    dr_strlcpy(ip_out, ip, ip_size);
    return DR_OK;
}

/* ---- logging ------------------------------------------------------------------------------- */

static const char *env_node_name(void *self) { return PROC(self)->name; }

static void env_log(void *self, dr_log_level level, const char *line)
{
    sim_proc *proc = self;
    FILE *out = proc->sim->opts.log_out;
    if (out == NULL)
        return;
    uint64_t t = proc->sim->now_ns;
    fprintf(out, "t=%" PRIu64 ".%06" PRIu64 "s %s %s %s\n", t / DR_NS_PER_S,
            (t % DR_NS_PER_S) / DR_NS_PER_US, proc->name, dr_log_level_name(level), line);
}

static dr_log_level env_log_level(void *self) { return PROC(self)->log_level; }
static void env_set_log_level(void *self, dr_log_level level) { PROC(self)->log_level = level; }

static const dr_env_ops sim_env_ops = {
    .now_ns = env_now,
    .wall_ns = env_wall,
    .timer_add = env_timer_add,
    .timer_cancel = env_timer_cancel,
    .random_u64 = env_random,
    .seed = env_seed,
    .listen = env_listen,
    .listener_port = env_listener_port,
    .listener_close = env_listener_close,
    .connect = env_connect,
    .stream_set_cbs = env_stream_set_cbs,
    .stream_write = env_stream_write,
    .stream_queued = env_stream_queued,
    .stream_pause = env_stream_pause,
    .stream_close = env_stream_close,
    .stream_abort = env_stream_abort,
    .stream_peer = env_stream_peer,
    .open = env_open,
    .close = env_close,
    .pread = env_pread,
    .pwrite = env_pwrite,
    .append = env_append,
    .fsync = env_fsync,
    .truncate = env_truncate,
    .file_size = env_file_size,
    .lock = env_lock,
    .rename = env_rename,
    .unlink = env_unlink,
    .mkdir = env_mkdir,
    .rmdir = env_rmdir,
    .list_dir = env_list_dir,
    .fsync_dir = env_fsync_dir,
    .stat = env_stat,
    .symlink = env_symlink,
    .readlink = env_readlink,
    .spawn = env_spawn,
    .watch = env_watch,
    .signal = env_signal,
    .signal_tree = env_signal_tree,
    .user_lookup = env_user_lookup,
    .chown = env_chown,
    .host_info = env_host_info,
    .disk_space = env_disk_space,
    .resolve = env_resolve,
    .node_name = env_node_name,
    .log = env_log,
    .log_level = env_log_level,
    .set_log_level = env_set_log_level,
};

void dr__sim_env_init(sim_proc *proc)
{
    proc->env.ops = &sim_env_ops;
    proc->env.self = proc;
}
