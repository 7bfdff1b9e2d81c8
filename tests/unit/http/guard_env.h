/* tests/unit/http/guard_env.h — an env that forwards every operation to
 * another one and, once armed, counts and names each operation it is asked
 * for instead of forwarding it.
 *
 * For crash tests: a simulated program builds its module on a guard env
 * wrapping the process's env; its crash callback arms the guard and calls
 * the module's forget. A crashed process must do no I/O (its streams and
 * timers are already gone), so after a forget the guard must have seen
 * nothing: guard->armed_calls == 0, and guard->first names the culprit
 * otherwise. Header-only, for tests of src/http and src/master.
 */
#ifndef DR_TESTS_HTTP_GUARD_ENV_H
#define DR_TESTS_HTTP_GUARD_ENV_H

#include <stdio.h>
#include <string.h>

#include "src/env/env.h"

typedef struct guard_env {
    dr_env env;   /* hand this out: ops = guard_env_ops, self = the guard */
    dr_env *inner; /* kept */
    bool armed;
    uint64_t armed_calls; /* operations asked for while armed */
    char first[32];       /* the first of them */
} guard_env;

#define GUARD_UNUSED __attribute__((unused))

/* True if the call may go on; counts it otherwise. */
static GUARD_UNUSED bool guard_pass(guard_env *g, const char *op)
{
    if (!g->armed)
        return true;
    if (g->armed_calls++ == 0)
        snprintf(g->first, sizeof g->first, "%s", op);
    return false;
}

#define GUARD_SELF guard_env *g = self
#define GUARD_IN g->inner->ops
#define GUARD_INS g->inner->self

static GUARD_UNUSED uint64_t guard_now_ns(void *self)
{
    GUARD_SELF;
    return guard_pass(g, "now_ns") ? GUARD_IN->now_ns(GUARD_INS) : 0;
}
static GUARD_UNUSED uint64_t guard_wall_ns(void *self)
{
    GUARD_SELF;
    return guard_pass(g, "wall_ns") ? GUARD_IN->wall_ns(GUARD_INS) : 0;
}
static GUARD_UNUSED dr_timer_id guard_timer_add(void *self, uint64_t delay_ns, dr_timer_fn *fn,
                                                void *ctx)
{
    GUARD_SELF;
    return guard_pass(g, "timer_add") ? GUARD_IN->timer_add(GUARD_INS, delay_ns, fn, ctx) : 0;
}
static GUARD_UNUSED void guard_timer_cancel(void *self, dr_timer_id id)
{
    GUARD_SELF;
    if (guard_pass(g, "timer_cancel"))
        GUARD_IN->timer_cancel(GUARD_INS, id);
}
static GUARD_UNUSED uint64_t guard_random_u64(void *self)
{
    GUARD_SELF;
    return guard_pass(g, "random_u64") ? GUARD_IN->random_u64(GUARD_INS) : 0;
}
static GUARD_UNUSED uint64_t guard_seed(void *self)
{
    GUARD_SELF;
    return guard_pass(g, "seed") ? GUARD_IN->seed(GUARD_INS) : 0;
}
static GUARD_UNUSED dr_code guard_listen(void *self, const char *host, uint16_t port,
                                         dr_accept_fn *fn, void *ctx, dr_listener **out,
                                         dr_err *err)
{
    GUARD_SELF;
    if (!guard_pass(g, "listen"))
        return dr_err_set(err, DR_EIO, "guard: listen after a crash");
    return GUARD_IN->listen(GUARD_INS, host, port, fn, ctx, out, err);
}
static GUARD_UNUSED uint16_t guard_listener_port(void *self, dr_listener *l)
{
    GUARD_SELF;
    return guard_pass(g, "listener_port") ? GUARD_IN->listener_port(GUARD_INS, l) : 0;
}
static GUARD_UNUSED void guard_listener_close(void *self, dr_listener *l)
{
    GUARD_SELF;
    if (guard_pass(g, "listener_close"))
        GUARD_IN->listener_close(GUARD_INS, l);
}
static GUARD_UNUSED dr_code guard_connect(void *self, const char *host, uint16_t port,
                                          const dr_stream_cbs *cbs, void *ctx, dr_stream **out,
                                          dr_err *err)
{
    GUARD_SELF;
    if (!guard_pass(g, "connect"))
        return dr_err_set(err, DR_EIO, "guard: connect after a crash");
    return GUARD_IN->connect(GUARD_INS, host, port, cbs, ctx, out, err);
}
static GUARD_UNUSED void guard_stream_set_cbs(void *self, dr_stream *s, const dr_stream_cbs *cbs,
                                              void *ctx)
{
    GUARD_SELF;
    if (guard_pass(g, "stream_set_cbs"))
        GUARD_IN->stream_set_cbs(GUARD_INS, s, cbs, ctx);
}
static GUARD_UNUSED dr_code guard_stream_write(void *self, dr_stream *s, const void *data,
                                               size_t size, dr_err *err)
{
    GUARD_SELF;
    if (!guard_pass(g, "stream_write"))
        return dr_err_set(err, DR_ECLOSED, "guard: write after a crash");
    return GUARD_IN->stream_write(GUARD_INS, s, data, size, err);
}
static GUARD_UNUSED size_t guard_stream_queued(void *self, dr_stream *s)
{
    GUARD_SELF;
    return guard_pass(g, "stream_queued") ? GUARD_IN->stream_queued(GUARD_INS, s) : 0;
}
static GUARD_UNUSED void guard_stream_pause(void *self, dr_stream *s, bool paused)
{
    GUARD_SELF;
    if (guard_pass(g, "stream_pause"))
        GUARD_IN->stream_pause(GUARD_INS, s, paused);
}
static GUARD_UNUSED void guard_stream_close(void *self, dr_stream *s)
{
    GUARD_SELF;
    if (guard_pass(g, "stream_close"))
        GUARD_IN->stream_close(GUARD_INS, s);
}
static GUARD_UNUSED void guard_stream_abort(void *self, dr_stream *s)
{
    GUARD_SELF;
    if (guard_pass(g, "stream_abort"))
        GUARD_IN->stream_abort(GUARD_INS, s);
}
static GUARD_UNUSED void guard_stream_peer(void *self, dr_stream *s, char *out, size_t out_size)
{
    GUARD_SELF;
    if (guard_pass(g, "stream_peer"))
        GUARD_IN->stream_peer(GUARD_INS, s, out, out_size);
    else if (out_size > 0)
        out[0] = '\0';
}
static GUARD_UNUSED dr_code guard_host_info(void *self, dr_host_info *out, dr_err *err)
{
    GUARD_SELF;
    if (!guard_pass(g, "host_info"))
        return dr_err_set(err, DR_EIO, "guard: host_info after a crash");
    return GUARD_IN->host_info(GUARD_INS, out, err);
}
static GUARD_UNUSED dr_code guard_resolve(void *self, const char *name, char *ip_out,
                                          size_t ip_size, dr_err *err)
{
    GUARD_SELF;
    if (!guard_pass(g, "resolve"))
        return dr_err_set(err, DR_EIO, "guard: resolve after a crash");
    return GUARD_IN->resolve(GUARD_INS, name, ip_out, ip_size, err);
}
static GUARD_UNUSED const char *guard_node_name(void *self)
{
    GUARD_SELF;
    return guard_pass(g, "node_name") ? GUARD_IN->node_name(GUARD_INS) : "crashed";
}
static GUARD_UNUSED void guard_log(void *self, dr_log_level level, const char *line)
{
    GUARD_SELF;
    if (guard_pass(g, "log"))
        GUARD_IN->log(GUARD_INS, level, line);
}
static GUARD_UNUSED dr_log_level guard_log_level(void *self)
{
    GUARD_SELF;
    return guard_pass(g, "log_level") ? GUARD_IN->log_level(GUARD_INS) : DR_LOG_ERROR;
}
static GUARD_UNUSED void guard_set_log_level(void *self, dr_log_level level)
{
    GUARD_SELF;
    if (guard_pass(g, "set_log_level"))
        GUARD_IN->set_log_level(GUARD_INS, level);
}

/* Files, processes and disk facts: HTTP and the master never use them; any
 * call is counted and refused, armed or not (a NULL op would crash instead). */
static GUARD_UNUSED dr_code guard_refuse(guard_env *g, const char *op, dr_err *err)
{
    g->armed_calls += g->armed ? 1 : 0;
    if (g->armed && g->first[0] == '\0')
        snprintf(g->first, sizeof g->first, "%s", op);
    return dr_err_set(err, DR_ENOTSUP, "guard env: %s is not forwarded", op);
}
static GUARD_UNUSED dr_code guard_open(void *self, const char *path, int flags, dr_file **out,
                                       dr_err *err)
{
    (void)path, (void)flags, (void)out;
    return guard_refuse(self, "open", err);
}
static GUARD_UNUSED dr_code guard_spawn(void *self, const dr_spawn_opts *opts, dr_exit_fn *fn,
                                        void *ctx, dr_pid *out, dr_err *err)
{
    (void)opts, (void)fn, (void)ctx, (void)out;
    return guard_refuse(self, "spawn", err);
}
static GUARD_UNUSED dr_code guard_mkdir(void *self, const char *path, dr_err *err)
{
    (void)path;
    return guard_refuse(self, "mkdir", err);
}
static GUARD_UNUSED dr_code guard_stat(void *self, const char *path, bool follow_links,
                                       dr_file_stat *out, dr_err *err)
{
    (void)path, (void)follow_links, (void)out;
    return guard_refuse(self, "stat", err);
}

static const dr_env_ops guard_env_ops GUARD_UNUSED = {
    .now_ns = guard_now_ns,
    .wall_ns = guard_wall_ns,
    .timer_add = guard_timer_add,
    .timer_cancel = guard_timer_cancel,
    .random_u64 = guard_random_u64,
    .seed = guard_seed,
    .listen = guard_listen,
    .listener_port = guard_listener_port,
    .listener_close = guard_listener_close,
    .connect = guard_connect,
    .stream_set_cbs = guard_stream_set_cbs,
    .stream_write = guard_stream_write,
    .stream_queued = guard_stream_queued,
    .stream_pause = guard_stream_pause,
    .stream_close = guard_stream_close,
    .stream_abort = guard_stream_abort,
    .stream_peer = guard_stream_peer,
    .open = guard_open,
    .spawn = guard_spawn,
    .mkdir = guard_mkdir,
    .stat = guard_stat,
    .host_info = guard_host_info,
    .resolve = guard_resolve,
    .node_name = guard_node_name,
    .log = guard_log,
    .log_level = guard_log_level,
    .set_log_level = guard_set_log_level,
};

static GUARD_UNUSED void guard_env_init(guard_env *g, dr_env *inner)
{
    memset(g, 0, sizeof *g);
    g->env.ops = &guard_env_ops;
    g->env.self = g;
    g->inner = inner;
}

#undef GUARD_SELF
#undef GUARD_IN
#undef GUARD_INS

#endif /* DR_TESTS_HTTP_GUARD_ENV_H */
