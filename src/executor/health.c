/* src/executor/health.c — Mesos health checks for a task (see executor.h):
 * COMMAND (a process in the task's sandbox with its environment: exit 0 is
 * healthy), HTTP (GET http://127.0.0.1:port/path: a status in `statuses`,
 * else 200-399, is healthy; https is not supported and fails), TCP (a
 * connect to 127.0.0.1:port that succeeds is healthy). One check at a time;
 * each has timeout_seconds. All through the env.
 */
#include "executor_int.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "src/http/client.h"

/* One check in flight. A command probe may outlive its health record (the
 * process's exit callback still holds it): h is then NULL. */
typedef struct probe {
    dr__exec_health *h;
    dr_pid pid;
} probe;

struct dr__exec_health {
    dr_executor *ex;
    dr__exec_task *t;
    const Mesos__HealthCheck *hc; /* borrowed from t->info */
    uint64_t start_ns;
    bool ever_healthy;
    uint32_t failure_count; /* consecutive */
    dr_timer_id timer;      /* next check */
    dr_timer_id timeout_timer;
    probe *cmd_probe;
    dr_http_client *http;
    dr_stream *stream;
};

static uint64_t secs_ns(double s) { return s > 0 ? (uint64_t)(s * 1e9) : 0; }

static void check_fire(dr_env *env, void *ctx);

static void probe_end(dr__exec_health *h)
{
    if (h->timeout_timer != 0)
        dr_env_timer_cancel(h->ex->env, h->timeout_timer);
    h->timeout_timer = 0;
    if (h->cmd_probe != NULL) {
        probe *p = h->cmd_probe;
        h->cmd_probe = NULL;
        p->h = NULL;
        if (p->pid != 0) {
            dr_err err;
            if (dr_env_signal(h->ex->env, p->pid, SIGKILL, true, &err) != DR_OK)
                DR_DEBUG(h->ex->env, "executor: health check process: %s", err.msg);
        } else {
            dr_free(p);
        }
    }
    if (h->http != NULL)
        dr_http_client_destroy(h->http);
    h->http = NULL;
    if (h->stream != NULL)
        dr_env_stream_close(h->ex->env, h->stream);
    h->stream = NULL;
}

static void result(dr__exec_health *h, bool healthy, const char *why)
{
    probe_end(h);
    dr_executor *ex = h->ex;
    dr__exec_task *t = h->t;
    if (t->terminal || t->kill_requested)
        return;
    uint64_t now_ns = dr_env_now(ex->env);
    if (healthy) {
        h->failure_count = 0;
        h->ever_healthy = true;
        if (t->healthy != 1) {
            t->healthy = 1;
            dr__exec_task_update(ex, t, MESOS__TASK_STATE__TASK_RUNNING, "Task is healthy",
                                 MESOS__TASK_STATUS__REASON__REASON_TASK_HEALTH_CHECK_STATUS_UPDATED,
                                 1);
        }
    } else if (!h->ever_healthy && now_ns - h->start_ns < secs_ns(h->hc->grace_period_seconds)) {
        DR_DEBUG(ex->env, "executor: task '%s': health check failed in the grace period: %s",
                 t->id, why);
    } else {
        h->failure_count++;
        DR_INFO(ex->env, "executor: task '%s': health check failed (%u in a row): %s", t->id,
                h->failure_count, why);
        /* as Mesos: every counted failure is reported (successes only on
         * the first one and the first after failures) */
        t->healthy = 0;
        char msg[300];
        snprintf(msg, sizeof msg, "Task is unhealthy: %s", why);
        dr__exec_task_update(ex, t, MESOS__TASK_STATE__TASK_RUNNING, msg,
                             MESOS__TASK_STATUS__REASON__REASON_TASK_HEALTH_CHECK_STATUS_UPDATED,
                             0);
        uint32_t max = h->hc->consecutive_failures > 0 ? h->hc->consecutive_failures : 1;
        if (h->failure_count >= max) {
            t->killed_by_health = true;
            dr__exec_task_kill(ex, t, dr__exec_kill_grace_ns(ex, t, NULL));
            return;
        }
    }
    h->timer = dr_env_timer_add(ex->env, secs_ns(h->hc->interval_seconds), check_fire, h);
}

static void timeout_fire(dr_env *env, void *ctx)
{
    (void)env;
    dr__exec_health *h = ctx;
    h->timeout_timer = 0;
    char why[96];
    snprintf(why, sizeof why, "no answer within %g seconds", h->hc->timeout_seconds);
    result(h, false, why);
}

static void cmd_exit_cb(dr_env *env, dr_pid pid, dr_exit_status status, void *ctx)
{
    (void)env;
    (void)pid;
    probe *p = ctx;
    p->pid = 0;
    dr__exec_health *h = p->h;
    if (h == NULL) {
        dr_free(p);
        return;
    }
    char why[96];
    if (status.signaled)
        snprintf(why, sizeof why, "the command was killed by signal %d", status.code);
    else
        snprintf(why, sizeof why, "the command exited with status %d", status.code);
    result(h, !status.signaled && status.code == 0, why);
}

static void http_done(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                      const dr_err *err, void *ctx)
{
    (void)env;
    (void)call;
    dr__exec_health *h = ctx;
    char why[300];
    if (resp == NULL) {
        snprintf(why, sizeof why, "%s", err->msg);
        result(h, false, why);
        return;
    }
    const Mesos__HealthCheck__HTTPCheckInfo *info = h->hc->http;
    bool ok = false;
    if (info->n_statuses > 0) {
        for (size_t i = 0; i < info->n_statuses; i++)
            ok = ok || (int)info->statuses[i] == resp->status;
    } else {
        ok = resp->status >= 200 && resp->status < 400;
    }
    snprintf(why, sizeof why, "HTTP status %d", resp->status);
    result(h, ok, why);
}

static const dr_http_call_cbs http_cbs = {.done = http_done};

static void tcp_connected(dr_env *env, dr_stream *stream, void *ctx)
{
    (void)env;
    (void)stream;
    result(ctx, true, "connected");
}

static void tcp_closed(dr_env *env, dr_stream *stream, const dr_err *why, void *ctx)
{
    (void)env;
    (void)stream;
    dr__exec_health *h = ctx;
    result(h, false, why->code == DR_OK ? "connection closed" : why->msg);
}

static const dr_stream_cbs tcp_cbs = {.connected = tcp_connected, .closed = tcp_closed};

static void check_fire(dr_env *env, void *ctx)
{
    dr__exec_health *h = ctx;
    h->timer = 0;
    const Mesos__HealthCheck *hc = h->hc;
    dr_err err;
    char why[400];
    h->timeout_timer = dr_env_timer_add(env, secs_ns(hc->timeout_seconds), timeout_fire, h);
    switch (hc->has_type ? hc->type : MESOS__HEALTH_CHECK__TYPE__UNKNOWN) {
    case MESOS__HEALTH_CHECK__TYPE__COMMAND: {
        probe *p = dr_alloc(sizeof *p);
        p->h = h;
        if (hc->command == NULL ||
            !dr__exec_spawn_command(h->ex, hc->command, h->t->dir, false, cmd_exit_cb, p, &p->pid,
                                    why, sizeof why)) {
            dr_free(p);
            result(h, false, hc->command == NULL ? "no command" : why);
            return;
        }
        h->cmd_probe = p;
        return;
    }
    case MESOS__HEALTH_CHECK__TYPE__HTTP: {
        const Mesos__HealthCheck__HTTPCheckInfo *info = hc->http;
        if (info == NULL || info->port == 0 || info->port > 65535) {
            result(h, false, "no port to check");
            return;
        }
        if (info->scheme != NULL && strcmp(info->scheme, "http") != 0) {
            snprintf(why, sizeof why, "scheme '%s' is not supported", info->scheme);
            result(h, false, why);
            return;
        }
        const char *path = info->path != NULL && info->path[0] == '/' ? info->path : "/";
        dr_http_client_opts o = {.timeout_ns = secs_ns(hc->timeout_seconds) + DR_NS_PER_S};
        dr_http_client_request req = {.method = "GET", .target = path};
        dr_code rc = dr_http_client_create(env, "127.0.0.1", (uint16_t)info->port, &o, &h->http,
                                           &err);
        if (rc == DR_OK)
            rc = dr_http_client_send(h->http, &req, &http_cbs, h, NULL, &err);
        if (rc != DR_OK)
            result(h, false, err.msg);
        return;
    }
    case MESOS__HEALTH_CHECK__TYPE__TCP: {
        const Mesos__HealthCheck__TCPCheckInfo *info = hc->tcp;
        if (info == NULL || info->port == 0 || info->port > 65535) {
            result(h, false, "no port to check");
            return;
        }
        if (dr_env_connect(env, "127.0.0.1", (uint16_t)info->port, &tcp_cbs, h, &h->stream,
                           &err) != DR_OK) {
            h->stream = NULL;
            result(h, false, err.msg);
        }
        return;
    }
    default:
        result(h, false, "unknown health check type");
        return;
    }
}

void dr__exec_health_start(dr_executor *ex, dr__exec_task *t)
{
    DR_ASSERT(t->info->health_check != NULL);
    DR_ASSERT(t->health == NULL);
    dr__exec_health *h = dr_alloc(sizeof *h);
    h->ex = ex;
    h->t = t;
    h->hc = t->info->health_check;
    h->start_ns = dr_env_now(ex->env);
    t->health = h;
    h->timer = dr_env_timer_add(ex->env, secs_ns(h->hc->delay_seconds), check_fire, h);
}

void dr__exec_health_stop(dr__exec_task *t)
{
    dr__exec_health *h = t->health;
    if (h == NULL)
        return;
    t->health = NULL;
    probe_end(h);
    if (h->timer != 0)
        dr_env_timer_cancel(h->ex->env, h->timer);
    dr_free(h);
}
