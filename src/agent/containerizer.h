/* src/agent/containerizer.h — the agent's containerizer seams: a launcher
 * (how a container's first process is started, found again after a restart
 * and killed with its whole tree) and isolators (what is prepared around it
 * and cleaned up after it). Only the POSIX launcher and the filesystem/posix
 * and posix/rlimits isolators exist now; cgroups (v1, v2), namespaces,
 * images, CNI and GPUs plug in here later without touching the agent.
 *
 * Both go through the env's process operations (dr_env_spawn/watch/signal),
 * so the agent never forks or execs itself and runs over simulated processes.
 */
#ifndef DR_AGENT_CONTAINERIZER_H
#define DR_AGENT_CONTAINERIZER_H

#include "src/env/env.h"
#include "mesos.pb-c.h"

typedef struct dr_launcher dr_launcher;

/* What a container's first process is: built by the agent, extended by the
 * isolators' prepare (they may add environment entries and limits). */
typedef struct dr_container_spec {
    const char *container_id;
    const char *sandbox;    /* absolute directory, created by filesystem/posix */
    char **argv;            /* NULL-terminated, owned by the spec */
    size_t argc;
    char **envp;            /* NULL-terminated "K=V", owned by the spec */
    size_t envc;
    uint64_t mem_limit_bytes; /* 0: none (from the executor's and tasks' resources) */
    /* The first process becomes a child subreaper (dr_spawn_opts.subreaper),
     * so processes whose parent died stay in the container's tree and die
     * with it. Only for the built-in executors, which reap what they adopt;
     * a framework's own executor might not. */
    bool subreaper;
    double cpus;
    /* The user the whole container runs as (dr_container_spec_set_user);
     * user[0] == '\0': the agent's own. */
    char user[DR_USER_NAME_SIZE_MAX];
    uint32_t uid, gid;
    uint32_t groups[DR_USER_GROUP_COUNT_MAX];
    size_t group_count;
    /* Asked for by the framework (ContainerInfo.rlimit_info; borrowed, may be
     * NULL), checked and turned into rlimits by posix/rlimits. */
    const Mesos__RLimitInfo *rlimit_info;
    dr_rlimit rlimits[DR_SPAWN_RLIMIT_COUNT_MAX];
    size_t rlimit_count;
} dr_container_spec;

void dr_container_spec_init(dr_container_spec *spec);
void dr_container_spec_deinit(dr_container_spec *spec);
void dr_container_spec_add_arg(dr_container_spec *spec, const char *arg);
/* Adds or replaces NAME=value. */
void dr_container_spec_set_env(dr_container_spec *spec, const char *name, const char *value);
/* Looks user up through the env (its uid, gid and groups) for the container
 * to run as. On failure the spec is unchanged; DR_ENOTFOUND names the user:
 * "user 'ghost': no such user". */
dr_code dr_container_spec_set_user(dr_container_spec *spec, dr_env *env, const char *user,
                                   dr_err *err) DR_MUST_USE;

/* A launcher. Every op reports through the env; none blocks. */
typedef struct dr_launcher_ops {
    const char *name; /* "posix" */
    /* Starts spec's process in its own session and process group (a child
     * subreaper with spec->subreaper), stdout and
     * stderr to files in the sandbox, as spec's user (the sandbox and those
     * files are chowned to it first, as Mesos does, so the container can
     * write there) with spec's rlimits; fn fires once when it ends. */
    dr_code (*launch)(void *self, dr_env *env, const dr_container_spec *spec, dr_exit_fn *fn,
                      void *ctx, dr_pid *out, dr_err *err);
    /* Finds a process launched by an earlier incarnation (its checkpointed
     * pid): fn fires when it ends; DR_ESRCH if it is gone. */
    dr_code (*recover)(void *self, dr_env *env, dr_pid pid, dr_exit_fn *fn, void *ctx,
                       dr_err *err);
    /* Signals the container's whole tree: its first process, every
     * descendant, and everything in their sessions and process groups
     * (dr_env_signal_tree); DR_ESRCH when none of it is left. */
    dr_code (*kill)(void *self, dr_env *env, dr_pid pid, int signo, dr_err *err);
} dr_launcher_ops;

struct dr_launcher {
    const dr_launcher_ops *ops;
    void *self;
};

/* The POSIX launcher: dr_env_spawn with new_session; kill signals the tree.
 * env_in_argv: also pass the environment as "--env=K=V" arguments after
 * argv[0]'s own (for simulated programs, which receive no environment). */
void dr_launcher_posix(dr_launcher *out, bool env_in_argv);

/* An isolator (Mesos names them "posix/rlimits", "filesystem/posix", ...). */
typedef struct dr_isolator_ops {
    const char *name;
    /* Prepares the container before launch (may change spec). */
    dr_code (*prepare)(void *self, dr_env *env, dr_container_spec *spec, dr_err *err);
    /* After the container ended (or was found gone at recovery). */
    void (*cleanup)(void *self, dr_env *env, const char *container_id);
    /* May be NULL. Resident memory of count containers at once (one look at
     * the host's processes for all of them): rss_bytes[i] (caller's array)
     * for the container whose first process is pids[i] (its whole session
     * and descendants), 0 when none of its processes is left; DR_ENOTSUP
     * where the host cannot say (the simulator). */
    dr_code (*mem_usage)(void *self, dr_env *env, const dr_pid *pids, size_t count,
                         uint64_t *rss_bytes, dr_err *err);
} dr_isolator_ops;

typedef struct dr_isolator {
    const dr_isolator_ops *ops;
    void *self;
} dr_isolator;

/* filesystem/posix: creates the sandbox (mode 0755) and nothing else. */
extern const dr_isolator_ops dr_isolator_filesystem_posix;
/* posix/mem: measures a container's resident memory by summing the RSS of
 * its first process, everything in its session and every descendant, read
 * through the env from /proc (Linux procfs; 4 KiB pages assumed). The agent kills a container that exceeds
 * its memory limit (REASON_CONTAINER_LIMITATION_MEMORY). */
extern const dr_isolator_ops dr_isolator_posix_mem;
/* posix/rlimits: checks ContainerInfo.rlimit_info as Mesos does (a known
 * type; soft and hard both set, soft <= hard, or neither: unlimited; each
 * type once) and sets the limits on the container's first process, which
 * its children inherit. An invalid one fails the launch with a message
 * naming the limit: "posix/rlimits: RLMT_NOFILE: soft limit 10 is above
 * hard limit 5". Also passes the memory limit to the executor as
 * DROMOS_MEM_LIMIT_BYTES. */
extern const dr_isolator_ops dr_isolator_posix_rlimits;
/* Checks info (see dr_isolator_posix_rlimits) into out (at most
 * DR_SPAWN_RLIMIT_COUNT_MAX); on failure out is unchanged. */
dr_code dr_container_rlimits_parse(const Mesos__RLimitInfo *info, dr_rlimit *out, size_t *count,
                                   dr_err *err) DR_MUST_USE;

#endif /* DR_AGENT_CONTAINERIZER_H */
