/* src/env/env.h — the environment: the only door to the outside world.
 *
 * Time, timers, randomness, byte streams, files, processes, host facts and
 * logging all go through a dr_env. src/env/real/ implements it with libevent,
 * sockets, POSIX files and fork/exec; sim/env.c with a virtual clock, network,
 * disk and process table. Like sqlite's VFS, the env is a runtime {ops, self}
 * pair passed explicitly, never a global, so one process can host many nodes.
 *
 * Contracts that hold for every implementation:
 * - Single-threaded: every callback runs on the thread that runs the env's
 *   loop, never re-entrantly from inside the operation that registered it
 *   (a timer added with delay 0 fires later, from the loop).
 * - Callbacks receive the same dr_env * the operation was called through
 *   (an implementation embeds its dr_env and hands that pointer out).
 * - Events due at the same time run in the order they were scheduled.
 * - A function that fails never calls its callback; outputs are unchanged.
 * - Paths are plain byte strings; the env does no globbing or expansion.
 */
#ifndef DR_ENV_H
#define DR_ENV_H

#include "../base/base.h"
#include "../limits.h"

typedef struct dr_env dr_env;
typedef struct dr_file dr_file;         /* an open file; owned by the env */
typedef struct dr_stream dr_stream;     /* a connected byte stream; owned by the env */
typedef struct dr_listener dr_listener; /* a listening socket; owned by the env */

typedef uint64_t dr_timer_id; /* 0 means "no timer" */
typedef int64_t dr_pid;       /* OS pid for real, a simulated pid in the sim */

typedef void dr_timer_fn(dr_env *env, void *ctx);

/* ---- streams -------------------------------------------------------------- */

/* Stream callbacks. The struct is kept (not copied): it must outlive the
 * stream, which is why it is usually a static const. Any member may be NULL.
 * - connected: an outbound connect completed; the stream is writable.
 * - data:      bytes arrived; they are borrowed for the call.
 * - drained:   the write queue fell to DR_STREAM_WRITE_LOW_WATER_SIZE after
 *              having been above it (or after a write returned DR_EAGAIN).
 * - closed:    the stream is dead: why->code is DR_OK for an orderly end of
 *              stream from the peer, else the fault (DR_ECONNREFUSED for a
 *              refused connect, DR_ECONNRESET, DR_ETIMEDOUT, DR_EIO). Fires at
 *              most once and nothing fires after it; the owner must still call
 *              dr_env_stream_close() to free the handle. */
typedef struct dr_stream_cbs {
    void (*connected)(dr_env *env, dr_stream *stream, void *ctx);
    void (*data)(dr_env *env, dr_stream *stream, const uint8_t *data, size_t size, void *ctx);
    void (*drained)(dr_env *env, dr_stream *stream, void *ctx);
    void (*closed)(dr_env *env, dr_stream *stream, const dr_err *why, void *ctx);
} dr_stream_cbs;

/* A new inbound stream. The callee takes the stream and must set its callbacks
 * (dr_env_stream_set_cbs) before returning, or close it. */
typedef void dr_accept_fn(dr_env *env, dr_listener *listener, dr_stream *stream, void *ctx);

/* ---- files ---------------------------------------------------------------- */

enum {
    DR_OPEN_READ = 1 << 0,
    DR_OPEN_WRITE = 1 << 1,  /* read and write */
    DR_OPEN_CREATE = 1 << 2, /* create if missing (mode 0644) */
    DR_OPEN_EXCL = 1 << 3,   /* with CREATE: fail with DR_EEXIST if present */
    DR_OPEN_TRUNC = 1 << 4,  /* truncate to 0 on open */
    /* the last component must not be a symlink (else DR_EINVAL, as ELOOP):
     * for a path in a directory someone else owns, such as a sandbox */
    DR_OPEN_NOFOLLOW = 1 << 5,
};

typedef struct dr_file_stat {
    bool is_dir;
    bool is_symlink; /* only when not following links */
    uint64_t size_bytes;
    uint64_t mtime_ns; /* wall clock */
} dr_file_stat;

/* A directory listing: names (no "." or ".."), sorted by strcmp. Owned by the
 * caller; free with dr_dir_list_free(). */
typedef struct dr_dir_list {
    char **names;
    size_t count;
} dr_dir_list;

/* ---- processes ------------------------------------------------------------ */

/* A resource limit (setrlimit), numbered as Mesos's RLimitInfo.RLimit.Type
 * (RLMT_AS = 1 ... RLMT_STACK = 16) so that the agent maps them one to one. */
typedef enum dr_rlimit_resource {
    DR_RLIMIT_AS = 1,
    DR_RLIMIT_CORE = 2,
    DR_RLIMIT_CPU = 3,
    DR_RLIMIT_DATA = 4,
    DR_RLIMIT_FSIZE = 5,
    DR_RLIMIT_LOCKS = 6,
    DR_RLIMIT_MEMLOCK = 7,
    DR_RLIMIT_MSGQUEUE = 8,
    DR_RLIMIT_NICE = 9,
    DR_RLIMIT_NOFILE = 10,
    DR_RLIMIT_NPROC = 11,
    DR_RLIMIT_RSS = 12,
    DR_RLIMIT_RTPRIO = 13,
    DR_RLIMIT_RTTIME = 14,
    DR_RLIMIT_SIGPENDING = 15,
    DR_RLIMIT_STACK = 16,
} dr_rlimit_resource;

#define DR_RLIMIT_RESOURCE_MAX 16 /* the highest dr_rlimit_resource */
#define DR_RLIMIT_UNLIMITED UINT64_MAX
#define DR_SPAWN_RLIMIT_COUNT_MAX 16 /* one per resource */
#define DR_USER_GROUP_COUNT_MAX 128  /* groups of one user, primary included */
#define DR_USER_NAME_SIZE_MAX 64     /* bytes, with NUL */

typedef struct dr_rlimit {
    dr_rlimit_resource resource;
    uint64_t soft; /* DR_RLIMIT_UNLIMITED: no limit; soft <= hard */
    uint64_t hard;
} dr_rlimit;

/* What a launcher asks of a new process. The child does, in this order:
 * signals reset, setsid (new_session), prctl (subreaper), setrlimit for each
 * of rlimits, then
 * (set_user) setgroups(groups), setgid(gid), setuid(uid), the stdio files,
 * chdir(cwd), prctl (parent_death_signal) and exec; any failure is an error from spawn that names the
 * step (spawn 'sh': setuid 65534: Operation not permitted), never an exit
 * callback. Limits are set before the user changes, so a privileged spawner
 * may raise hard limits the user could not. A spawner that is not root may
 * "switch" only to its own uid: then nothing changes. */
typedef struct dr_spawn_opts {
    const char *const *argv; /* argv[0]: a path, or a name searched in PATH; NULL-terminated */
    const char *const *envp; /* NULL-terminated "K=V"; NULL means an empty environment */
    const char *cwd;         /* NULL: the spawner's working directory */
    const char *stdin_path;  /* NULL: /dev/null */
    const char *stdout_path; /* NULL: /dev/null; created or appended to */
    const char *stderr_path; /* NULL: /dev/null; created or appended to */
    bool new_session;        /* setsid(): own session and process group, so a
                                group signal reaches the whole tree */
    bool subreaper;          /* PR_SET_CHILD_SUBREAPER (kept across exec): a process
                                of its tree whose parent dies is reparented to it,
                                not to init, so it stays in the tree
                                (dr_env_signal_tree) while the child lives. The
                                child must reap what it adopts: a real env does
                                when it runs in such a process (see real.h). The
                                simulator reparents as the kernel does. */
    int parent_death_signal; /* 0: none; else PR_SET_PDEATHSIG, set last before
                                exec (a user change would clear it): the child
                                gets this signal when its spawner ends, so an
                                executor's task dies with the executor, whose
                                orphans would be out of the container's reach.
                                Lost on exec of a set-user-ID program. */
    bool set_user;           /* false: the child keeps the spawner's credentials */
    uint32_t uid;            /* with set_user */
    uint32_t gid;            /* with set_user: the primary group */
    const uint32_t *groups;  /* with set_user: exactly these supplementary groups; borrowed */
    size_t group_count;      /* at most DR_USER_GROUP_COUNT_MAX */
    const dr_rlimit *rlimits; /* borrowed; each resource at most once */
    size_t rlimit_count;      /* at most DR_SPAWN_RLIMIT_COUNT_MAX */
} dr_spawn_opts;

/* A user account of the host (the passwd and group databases). */
typedef struct dr_user_info {
    char name[DR_USER_NAME_SIZE_MAX];
    uint32_t uid;
    uint32_t gid;                             /* primary group */
    char home[DR_PATH_SIZE_MAX];
    uint32_t groups[DR_USER_GROUP_COUNT_MAX]; /* every group of the user, gid included */
    size_t group_count;
} dr_user_info;

typedef struct dr_exit_status {
    bool signaled; /* true: killed by signal `code`; false: exited with `code` */
    int code;
} dr_exit_status;

/* A process ended. Fires once per spawn or watch. */
typedef void dr_exit_fn(dr_env *env, dr_pid pid, dr_exit_status status, void *ctx);

/* ---- host facts and logging ---------------------------------------------------- */

typedef struct dr_host_info {
    uint32_t cpu_count;
    uint64_t mem_bytes;
    char hostname[DR_HOSTNAME_SIZE_MAX];
    char boot_id[64]; /* changes on every (real or simulated) reboot */
} dr_host_info;

typedef enum dr_log_level {
    DR_LOG_DEBUG = 0,
    DR_LOG_INFO = 1,
    DR_LOG_WARN = 2,
    DR_LOG_ERROR = 3,
} dr_log_level;

/* ---- the operations ------------------------------------------------------------ */

typedef struct dr_env_ops {
    /* time */
    uint64_t (*now_ns)(void *self);  /* monotonic: never goes back */
    uint64_t (*wall_ns)(void *self); /* ns since the Unix epoch; may jump */
    dr_timer_id (*timer_add)(void *self, uint64_t delay_ns, dr_timer_fn *fn, void *ctx);
    void (*timer_cancel)(void *self, dr_timer_id id); /* unknown or spent id: no-op */

    /* randomness */
    uint64_t (*random_u64)(void *self); /* the node's default stream */
    uint64_t (*seed)(void *self);       /* the node's root seed, for dr_env_rng() */

    /* streams */
    dr_code (*listen)(void *self, const char *host, uint16_t port, dr_accept_fn *fn, void *ctx,
                      dr_listener **out, dr_err *err);
    uint16_t (*listener_port)(void *self, dr_listener *listener);
    void (*listener_close)(void *self, dr_listener *listener);
    dr_code (*connect)(void *self, const char *host, uint16_t port, const dr_stream_cbs *cbs,
                       void *ctx, dr_stream **out, dr_err *err);
    void (*stream_set_cbs)(void *self, dr_stream *stream, const dr_stream_cbs *cbs, void *ctx);
    dr_code (*stream_write)(void *self, dr_stream *stream, const void *data, size_t size,
                            dr_err *err);
    size_t (*stream_queued)(void *self, dr_stream *stream);
    void (*stream_pause)(void *self, dr_stream *stream, bool paused);
    void (*stream_close)(void *self, dr_stream *stream);
    void (*stream_abort)(void *self, dr_stream *stream);
    void (*stream_peer)(void *self, dr_stream *stream, char *out, size_t out_size);

    /* files */
    dr_code (*open)(void *self, const char *path, int flags, dr_file **out, dr_err *err);
    void (*close)(void *self, dr_file *file);
    dr_code (*pread)(void *self, dr_file *file, uint64_t offset, void *buf, size_t size,
                     size_t *read_size, dr_err *err);
    dr_code (*pwrite)(void *self, dr_file *file, uint64_t offset, const void *data, size_t size,
                      dr_err *err);
    dr_code (*append)(void *self, dr_file *file, const void *data, size_t size, dr_err *err);
    dr_code (*fsync)(void *self, dr_file *file, dr_err *err);
    dr_code (*truncate)(void *self, dr_file *file, uint64_t size, dr_err *err);
    dr_code (*file_size)(void *self, dr_file *file, uint64_t *size, dr_err *err);
    dr_code (*lock)(void *self, dr_file *file, dr_err *err);
    dr_code (*rename)(void *self, const char *from, const char *to, dr_err *err);
    dr_code (*unlink)(void *self, const char *path, dr_err *err);
    dr_code (*mkdir)(void *self, const char *path, dr_err *err);
    dr_code (*rmdir)(void *self, const char *path, dr_err *err);
    dr_code (*list_dir)(void *self, const char *path, dr_dir_list *out, dr_err *err);
    dr_code (*fsync_dir)(void *self, const char *path, dr_err *err);
    dr_code (*stat)(void *self, const char *path, bool follow_links, dr_file_stat *out,
                    dr_err *err);
    dr_code (*symlink)(void *self, const char *target, const char *link_path, dr_err *err);
    dr_code (*readlink)(void *self, const char *path, char *out, size_t out_size, dr_err *err);

    /* processes */
    dr_code (*spawn)(void *self, const dr_spawn_opts *opts, dr_exit_fn *fn, void *ctx,
                     dr_pid *out, dr_err *err);
    dr_code (*watch)(void *self, dr_pid pid, dr_exit_fn *fn, void *ctx, dr_err *err);
    dr_code (*signal)(void *self, dr_pid pid, int signo, bool group, dr_err *err);
    dr_code (*signal_tree)(void *self, dr_pid pid, int signo, dr_err *err);

    /* users (may be NULL in an env without users: the wrappers then report
     * DR_ENOTSUP) */
    dr_code (*user_lookup)(void *self, const char *name, dr_user_info *out, dr_err *err);
    dr_code (*chown)(void *self, const char *path, uint32_t uid, uint32_t gid, dr_err *err);

    /* host facts */
    dr_code (*host_info)(void *self, dr_host_info *out, dr_err *err);
    dr_code (*disk_space)(void *self, const char *path, uint64_t *free_bytes,
                          uint64_t *total_bytes, dr_err *err);
    dr_code (*resolve)(void *self, const char *name, char *ip_out, size_t ip_size, dr_err *err);

    /* logging */
    const char *(*node_name)(void *self);
    void (*log)(void *self, dr_log_level level, const char *line);
    dr_log_level (*log_level)(void *self);
    void (*set_log_level)(void *self, dr_log_level level);
} dr_env_ops;

struct dr_env {
    const dr_env_ops *ops; /* src/env/real/ or sim/env.c */
    void *self;            /* owned by whoever built the env */
};

/* ---- one inline wrapper per op ------------------------------------------------- */

/* Time. */
static inline uint64_t dr_env_now(dr_env *env) { return env->ops->now_ns(env->self); }
static inline uint64_t dr_env_wall(dr_env *env) { return env->ops->wall_ns(env->self); }
/* Schedules fn(env, ctx) once after delay_ns; returns a nonzero id. */
static inline dr_timer_id dr_env_timer_add(dr_env *env, uint64_t delay_ns, dr_timer_fn *fn,
                                           void *ctx)
{
    return env->ops->timer_add(env->self, delay_ns, fn, ctx);
}
static inline void dr_env_timer_cancel(dr_env *env, dr_timer_id id)
{
    env->ops->timer_cancel(env->self, id);
}

/* Randomness. dr_env_random draws from the node's default stream; dr_env_rng
 * starts an independent stream for one purpose ("ids", "backoff", ...). */
static inline uint64_t dr_env_random(dr_env *env) { return env->ops->random_u64(env->self); }
static inline void dr_env_rng(dr_env *env, const char *purpose, dr_rng *out)
{
    dr_rng_init(out, dr_seed_derive(env->ops->seed(env->self), purpose));
}

/* Streams. listen: port 0 picks a free port (see dr_env_listener_port).
 * connect: immediate faults (bad address) are returned; later ones (refused,
 * timed out) arrive through cbs->closed. write: queues all of data and returns
 * DR_OK while fewer than DR_STREAM_WRITE_QUEUE_SIZE_MAX bytes were queued;
 * otherwise queues nothing and returns DR_EAGAIN (wait for drained); on a dead
 * stream returns DR_ECLOSED. close: flushes what is queued, then ends the
 * stream; no callback fires after it and the handle is gone. abort: drops the
 * queue and resets the connection; likewise final. pause: stops (or resumes)
 * delivering data, so the peer's writes back up. */
static inline dr_code dr_env_listen(dr_env *env, const char *host, uint16_t port, dr_accept_fn *fn,
                                    void *ctx, dr_listener **out, dr_err *err)
{
    return env->ops->listen(env->self, host, port, fn, ctx, out, err);
}
static inline uint16_t dr_env_listener_port(dr_env *env, dr_listener *l)
{
    return env->ops->listener_port(env->self, l);
}
static inline void dr_env_listener_close(dr_env *env, dr_listener *l)
{
    env->ops->listener_close(env->self, l);
}
static inline dr_code dr_env_connect(dr_env *env, const char *host, uint16_t port,
                                     const dr_stream_cbs *cbs, void *ctx, dr_stream **out,
                                     dr_err *err)
{
    return env->ops->connect(env->self, host, port, cbs, ctx, out, err);
}
static inline void dr_env_stream_set_cbs(dr_env *env, dr_stream *s, const dr_stream_cbs *cbs,
                                         void *ctx)
{
    env->ops->stream_set_cbs(env->self, s, cbs, ctx);
}
static inline dr_code dr_env_stream_write(dr_env *env, dr_stream *s, const void *data, size_t size,
                                          dr_err *err)
{
    return env->ops->stream_write(env->self, s, data, size, err);
}
static inline size_t dr_env_stream_queued(dr_env *env, dr_stream *s)
{
    return env->ops->stream_queued(env->self, s);
}
static inline void dr_env_stream_pause(dr_env *env, dr_stream *s, bool paused)
{
    env->ops->stream_pause(env->self, s, paused);
}
static inline void dr_env_stream_close(dr_env *env, dr_stream *s)
{
    env->ops->stream_close(env->self, s);
}
static inline void dr_env_stream_abort(dr_env *env, dr_stream *s)
{
    env->ops->stream_abort(env->self, s);
}
/* Writes "host:port" of the peer into out (for logs). */
static inline void dr_env_stream_peer(dr_env *env, dr_stream *s, char *out, size_t out_size)
{
    env->ops->stream_peer(env->self, s, out, out_size);
}

/* Files. Reads are short only at end of file. Writes are all-or-error. Data
 * written is durable only after dr_env_fsync returns DR_OK, and a new, renamed
 * or removed directory entry only after dr_env_fsync_dir on its directory.
 * After a failed fsync nothing written since the last good one is safe. */
static inline dr_code dr_env_open(dr_env *env, const char *path, int flags, dr_file **out,
                                  dr_err *err)
{
    return env->ops->open(env->self, path, flags, out, err);
}
static inline void dr_env_close(dr_env *env, dr_file *f) { env->ops->close(env->self, f); }
static inline dr_code dr_env_pread(dr_env *env, dr_file *f, uint64_t offset, void *buf,
                                   size_t size, size_t *read_size, dr_err *err)
{
    return env->ops->pread(env->self, f, offset, buf, size, read_size, err);
}
static inline dr_code dr_env_pwrite(dr_env *env, dr_file *f, uint64_t offset, const void *data,
                                    size_t size, dr_err *err)
{
    return env->ops->pwrite(env->self, f, offset, data, size, err);
}
static inline dr_code dr_env_append(dr_env *env, dr_file *f, const void *data, size_t size,
                                    dr_err *err)
{
    return env->ops->append(env->self, f, data, size, err);
}
static inline dr_code dr_env_fsync(dr_env *env, dr_file *f, dr_err *err)
{
    return env->ops->fsync(env->self, f, err);
}
static inline dr_code dr_env_truncate(dr_env *env, dr_file *f, uint64_t size, dr_err *err)
{
    return env->ops->truncate(env->self, f, size, err);
}
static inline dr_code dr_env_file_size(dr_env *env, dr_file *f, uint64_t *size, dr_err *err)
{
    return env->ops->file_size(env->self, f, size, err);
}
/* Takes an exclusive advisory lock without waiting: DR_EBUSY if another holds it.
 * Released when the file is closed or its process ends. */
static inline dr_code dr_env_lock(dr_env *env, dr_file *f, dr_err *err)
{
    return env->ops->lock(env->self, f, err);
}
static inline dr_code dr_env_rename(dr_env *env, const char *from, const char *to, dr_err *err)
{
    return env->ops->rename(env->self, from, to, err);
}
static inline dr_code dr_env_unlink(dr_env *env, const char *path, dr_err *err)
{
    return env->ops->unlink(env->self, path, err);
}
static inline dr_code dr_env_mkdir(dr_env *env, const char *path, dr_err *err)
{
    return env->ops->mkdir(env->self, path, err);
}
static inline dr_code dr_env_rmdir(dr_env *env, const char *path, dr_err *err)
{
    return env->ops->rmdir(env->self, path, err);
}
static inline dr_code dr_env_list_dir(dr_env *env, const char *path, dr_dir_list *out, dr_err *err)
{
    return env->ops->list_dir(env->self, path, out, err);
}
static inline dr_code dr_env_fsync_dir(dr_env *env, const char *path, dr_err *err)
{
    return env->ops->fsync_dir(env->self, path, err);
}
static inline dr_code dr_env_stat(dr_env *env, const char *path, bool follow_links,
                                  dr_file_stat *out, dr_err *err)
{
    return env->ops->stat(env->self, path, follow_links, out, err);
}
static inline dr_code dr_env_symlink(dr_env *env, const char *target, const char *link_path,
                                     dr_err *err)
{
    return env->ops->symlink(env->self, target, link_path, err);
}
static inline dr_code dr_env_readlink(dr_env *env, const char *path, char *out, size_t out_size,
                                      dr_err *err)
{
    return env->ops->readlink(env->self, path, out, out_size, err);
}

/* Processes. spawn: fn fires once when the child ends (unless the spawning
 * node itself crashes first). watch: the same for a process this incarnation
 * did not spawn (after a restart); DR_ESRCH if it is already gone. signal:
 * group=true signals the process group led by pid. */
static inline dr_code dr_env_spawn(dr_env *env, const dr_spawn_opts *opts, dr_exit_fn *fn,
                                   void *ctx, dr_pid *out, dr_err *err)
{
    return env->ops->spawn(env->self, opts, fn, ctx, out, err);
}
static inline dr_code dr_env_watch(dr_env *env, dr_pid pid, dr_exit_fn *fn, void *ctx, dr_err *err)
{
    return env->ops->watch(env->self, pid, fn, ctx, err);
}
static inline dr_code dr_env_signal(dr_env *env, dr_pid pid, int signo, bool group, dr_err *err)
{
    return env->ops->signal(env->self, pid, signo, group, err);
}

/* Signals the process tree of pid, as a launcher kills a container (Mesos's
 * os::killtree following groups and sessions): pid itself (if alive), every
 * descendant, and every process in the session or process group of any of
 * them or led by pid, so a process whose parent died (reparented to init)
 * is still reached through its session or group. Never the calling process,
 * its own session or group, nor init. The tree is frozen first (SIGSTOP,
 * repeated until a scan finds no new process, so a fork during the kill
 * cannot escape), then each member gets signo, then SIGCONT (so a stopped
 * process acts on a SIGTERM; not after SIGSTOP or SIGKILL). signo 0 only
 * checks that the tree is not empty. DR_ESRCH: no process of the tree is
 * left. pid must lead its own session (spawned with new_session): else the
 * tree is only pid and its descendants. */
static inline dr_code dr_env_signal_tree(dr_env *env, dr_pid pid, int signo, dr_err *err)
{
    return env->ops->signal_tree(env->self, pid, signo, err);
}

/* Users. user_lookup: the account named name (NULL: the process's own
 * effective user), its groups from the group database; synchronous (as
 * resolve). DR_ENOTFOUND "user 'ghost': no such user"; DR_ETOOBIG when it is
 * in more than DR_USER_GROUP_COUNT_MAX groups. chown: sets the owner and
 * group of path, of a symlink itself, never of its target (lchown: the path
 * may lie in a sandbox its new owner controls); DR_EACCES when the process
 * may not. */
static inline dr_code dr_env_user_lookup(dr_env *env, const char *name, dr_user_info *out,
                                         dr_err *err)
{
    if (env->ops->user_lookup == NULL)
        return dr_err_set(err, DR_ENOTSUP, "user '%s': this env has no users",
                          name != NULL ? name : "(self)");
    return env->ops->user_lookup(env->self, name, out, err);
}
static inline dr_code dr_env_chown(dr_env *env, const char *path, uint32_t uid, uint32_t gid,
                                   dr_err *err)
{
    if (env->ops->chown == NULL)
        return dr_err_set(err, DR_ENOTSUP, "chown '%s': this env has no users", path);
    return env->ops->chown(env->self, path, uid, gid, err);
}

/* Host facts. */
static inline dr_code dr_env_host_info(dr_env *env, dr_host_info *out, dr_err *err)
{
    return env->ops->host_info(env->self, out, err);
}
static inline dr_code dr_env_disk_space(dr_env *env, const char *path, uint64_t *free_bytes,
                                        uint64_t *total_bytes, dr_err *err)
{
    return env->ops->disk_space(env->self, path, free_bytes, total_bytes, err);
}
/* Resolves a host name to a numeric address ("127.0.0.1"); synchronous. */
static inline dr_code dr_env_resolve(dr_env *env, const char *name, char *ip_out, size_t ip_size,
                                     dr_err *err)
{
    return env->ops->resolve(env->self, name, ip_out, ip_size, err);
}

/* Logging: the env adds the time and the node's name. */
static inline const char *dr_env_node_name(dr_env *env) { return env->ops->node_name(env->self); }
static inline dr_log_level dr_env_log_level(dr_env *env) { return env->ops->log_level(env->self); }
static inline void dr_env_set_log_level(dr_env *env, dr_log_level level)
{
    env->ops->set_log_level(env->self, level);
}
void dr_log(dr_env *env, dr_log_level level, const char *fmt, ...) DR_PRINTF(3, 4);
#define DR_DEBUG(env, ...) dr_log((env), DR_LOG_DEBUG, __VA_ARGS__)
#define DR_INFO(env, ...) dr_log((env), DR_LOG_INFO, __VA_ARGS__)
#define DR_WARN(env, ...) dr_log((env), DR_LOG_WARN, __VA_ARGS__)
#define DR_ERROR(env, ...) dr_log((env), DR_LOG_ERROR, __VA_ARGS__)
const char *dr_log_level_name(dr_log_level level);
dr_code dr_log_level_parse(const char *text, dr_log_level *out, dr_err *err) DR_MUST_USE;

/* ---- helpers built on the ops (src/env/util.c; pure over the env) ---------- */

void dr_dir_list_free(dr_dir_list *list);
/* mkdir -p: creates each missing component. */
dr_code dr_env_mkdir_p(dr_env *env, const char *path, dr_err *err) DR_MUST_USE;
/* Reads a whole file (at most max_size bytes, else DR_ETOOBIG) into *out,
 * returned owned and NUL-terminated (the NUL not counted in *size). */
dr_code dr_env_read_all(dr_env *env, const char *path, size_t max_size, uint8_t **out,
                        size_t *size, dr_err *err) DR_MUST_USE;
/* Replaces a file whole: writes path.tmp, fsyncs it when sync, renames it
 * over path (the file is old or new, never torn, while the host stays up).
 * The directory is not fsync'd: a caller making several entries durable
 * fsyncs each directory once. */
dr_code dr_env_write_replace(dr_env *env, const char *path, const void *data, size_t size,
                             bool sync, dr_err *err) DR_MUST_USE;
/* Writes a file atomically and durably: dr_env_write_replace with sync, then
 * an fsync of its directory. */
dr_code dr_env_write_atomic(dr_env *env, const char *path, const void *data, size_t size,
                            dr_err *err) DR_MUST_USE;
/* The last line of a text file that has any text (trailing blank lines and
 * whitespace dropped), from its final DR_ENV_TAIL_SIZE_MAX bytes, into out
 * (NUL-terminated; a longer line keeps its end). "" for an empty file. A
 * symlink is not followed (DR_EINVAL): the file may lie in a sandbox whose
 * user could point it at a file only the reader may read. */
#define DR_ENV_TAIL_SIZE_MAX 4096u
dr_code dr_env_read_last_line(dr_env *env, const char *path, char *out, size_t out_size,
                              dr_err *err) DR_MUST_USE;
/* rm -rf: removes a file or a directory tree; a missing path is DR_OK. */
dr_code dr_env_remove_tree(dr_env *env, const char *path, dr_err *err) DR_MUST_USE;

#endif /* DR_ENV_H */
