/* src/env/real/real.h — the real environment: env.h's operations on the real
 * operating system (libevent loop, CLOCK_MONOTONIC, TCP sockets, POSIX files,
 * fork/exec, /proc), plus the loop that drives its callbacks.
 *
 * Only src/daemon, tests and bench use this header; everything else sees a
 * plain dr_env. One env owns one libevent base and runs on one thread. Several
 * envs may live in one process, but only one of them at a time may register
 * signal handlers (dr_env_real_on_signal): libevent delivers a signal to the
 * last base that asked for it. Child exits are watched through pidfds, not
 * SIGCHLD, so spawning works in every env.
 *
 * Choices where env.h leaves room (documented here for callers):
 * - listen: host NULL means "0.0.0.0"; SO_REUSEADDR is set; an address the
 *   host does not have is DR_EINVAL.
 * - connect: names are resolved synchronously (getaddrinfo, IPv4 preferred);
 *   a connect not done within opts.connect_timeout_ns ends in
 *   closed(DR_ETIMEDOUT).
 * - close: the queue is flushed (at most 30 s), then FIN is sent and the
 *   peer's remaining bytes are read and dropped for at most 2 s before the
 *   socket is closed, so unread input does not turn the FIN into a reset.
 * - After closed(DR_OK) (the peer's FIN) bytes already queued are still sent.
 * - watch: a process this env did not spawn is watched through pidfd_open
 *   (Linux >= 5.3, else DR_ENOTSUP); a non-parent cannot learn its exit
 *   status, so it is reported as {signaled = false, code = -1}.
 * - Processes still running when the env is destroyed keep running.
 * - In a process started with spawn's subreaper (a container's first
 *   process), orphans of its tree become its children: the env reaps those
 *   that ended whenever one of its own children ends (until then they stay
 *   zombies). Only one env should then spawn in that process: another env's
 *   ended children could be reaped too (their status then reads -1).
 */
#ifndef DR_ENV_REAL_H
#define DR_ENV_REAL_H

#include <stdio.h>

#include "../env.h"

/* A connect that has not completed after this long fails with DR_ETIMEDOUT. */
#define DR_ENV_REAL_CONNECT_TIMEOUT_NS (10 * DR_NS_PER_S)

typedef struct dr_env_real_opts {
    const char *node_name;       /* borrows (copied); NULL: "dromos"; < DR_NODE_NAME_SIZE_MAX */
    uint64_t seed;               /* 0: drawn from getrandom() */
    dr_log_level log_level;      /* lines below it are dropped */
    FILE *log_file;              /* keeps; NULL: stderr */
    uint64_t connect_timeout_ns; /* 0: DR_ENV_REAL_CONNECT_TIMEOUT_NS */
} dr_env_real_opts;

/* Creates a real env. opts may be NULL (all defaults). *out is returned owned:
 * free it with dr_env_real_destroy(). Fails with DR_EINVAL on a bad node name,
 * DR_EINTERNAL if libevent cannot start. */
dr_code dr_env_real_create(const dr_env_real_opts *opts, dr_env **out, dr_err *err) DR_MUST_USE;

/* Destroys an env made by dr_env_real_create: closes every socket, file
 * handle and pidfd it still holds (callbacks never fire again). Must not be
 * called from inside one of its callbacks. env may be NULL. */
void dr_env_real_destroy(dr_env *env);

/* Runs the loop until dr_env_real_stop() is called (from a callback), then
 * returns DR_OK. A stop requested while the loop was not running makes the
 * next run return at once. DR_EINTERNAL if libevent fails. */
dr_code dr_env_real_run(dr_env *env, dr_err *err) DR_MUST_USE;

/* Asks dr_env_real_run to return once the current callback is done. */
void dr_env_real_stop(dr_env *env);

/* One loop iteration: waits at most max_wait_ns for something to happen, then
 * runs every callback that became due. For tests and tools that poll a
 * condition against a deadline. */
void dr_env_real_run_once(dr_env *env, uint64_t max_wait_ns);

/* Calls fn(env, signo, ctx) from the loop each time signo arrives (for a
 * graceful SIGTERM/SIGINT). The handler stays until the env is destroyed; one
 * handler per signal. signo must be a valid catchable signal. */
typedef void dr_env_real_signal_fn(dr_env *env, int signo, void *ctx);
void dr_env_real_on_signal(dr_env *env, int signo, dr_env_real_signal_fn *fn, void *ctx);

#endif /* DR_ENV_REAL_H */
