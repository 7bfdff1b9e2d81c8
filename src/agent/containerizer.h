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

typedef struct dr_launcher dr_launcher;

/* What a container's first process is: built by the agent, extended by the
 * isolators' prepare (they may add environment entries). */
typedef struct dr_container_spec {
    const char *container_id;
    const char *sandbox;    /* absolute directory, created by filesystem/posix */
    const char *user;       /* NULL: the agent's user */
    char **argv;            /* NULL-terminated, owned by the spec */
    size_t argc;
    char **envp;            /* NULL-terminated "K=V", owned by the spec */
    size_t envc;
    uint64_t mem_limit_bytes; /* 0: none (from the executor's and tasks' resources) */
    double cpus;
} dr_container_spec;

void dr_container_spec_init(dr_container_spec *spec);
void dr_container_spec_deinit(dr_container_spec *spec);
void dr_container_spec_add_arg(dr_container_spec *spec, const char *arg);
/* Adds or replaces NAME=value. */
void dr_container_spec_set_env(dr_container_spec *spec, const char *name, const char *value);

/* A launcher. Every op reports through the env; none blocks. */
typedef struct dr_launcher_ops {
    const char *name; /* "posix" */
    /* Starts spec's process in its own session and process group, stdout and
     * stderr to files in the sandbox; fn fires once when it ends. */
    dr_code (*launch)(void *self, dr_env *env, const dr_container_spec *spec, dr_exit_fn *fn,
                      void *ctx, dr_pid *out, dr_err *err);
    /* Finds a process launched by an earlier incarnation (its checkpointed
     * pid): fn fires when it ends; DR_ESRCH if it is gone. */
    dr_code (*recover)(void *self, dr_env *env, dr_pid pid, dr_exit_fn *fn, void *ctx,
                       dr_err *err);
    /* Signals the container's whole tree (its process group). */
    dr_code (*kill)(void *self, dr_env *env, dr_pid pid, int signo, dr_err *err);
} dr_launcher_ops;

struct dr_launcher {
    const dr_launcher_ops *ops;
    void *self;
};

/* The POSIX launcher: dr_env_spawn with new_session; kill signals the group.
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
    /* May be NULL. Resident memory of the container whose first process is
     * pid (its whole session); DR_ENOTSUP where the host cannot say (the
     * simulator). */
    dr_code (*mem_usage)(void *self, dr_env *env, dr_pid pid, uint64_t *rss_bytes, dr_err *err);
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
/* posix/rlimits: passes the memory limit to the executor as
 * DROMOS_MEM_LIMIT_BYTES (setrlimit lands with the env's spawn growing
 * rlimits; until then the executor applies it to its tasks). */
extern const dr_isolator_ops dr_isolator_posix_rlimits;

#endif /* DR_AGENT_CONTAINERIZER_H */
