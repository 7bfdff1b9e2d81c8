/* src/master/master.c — the master's lifetime: options, ids, the HTTP server
 * and its routes, the shared helpers of master_int.h, graceful shutdown,
 * destroy, and a crash's memory-only teardown (dr_master_forget).
 *
 * The scheduler API lives in scheduler.c, the agent protocol in agents.c,
 * offers and the allocation timer in offers.c, tasks and status updates in
 * tasks.c; the operator endpoints in operator.c (another owner).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/master/master_int.h"
#if defined(DR_MASTER_HAS_OPERATOR)
#include "src/master/operator.h"
#endif

#define DEFAULT_VERSION "1.11.0"

void dr_master_opts_default(dr_master_opts *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->allocation_interval_ns = DR_NS_PER_S;
    opts->agent_ping_timeout_ns = 15 * DR_NS_PER_S;
    opts->max_agent_ping_timeouts = 5;
    opts->framework_heartbeat_ns = 15 * DR_NS_PER_S;
    opts->default_refuse_ns = 5 * DR_NS_PER_S;
    opts->max_completed_frameworks = 50;
    opts->max_completed_tasks_per_framework = 1000;
    opts->max_unreachable_tasks_per_framework = 1000;
    opts->min_allocatable_cpus = 0.01;
    opts->min_allocatable_mem_mb = 32;
}

static char *dup_or_null(const char *s) { return s == NULL ? NULL : dr_strdup(s); }

static const char **dup_strv(const char *const *v, size_t n)
{
    if (n == 0)
        return NULL;
    const char **out = dr_alloc_array(n, sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = dr_strdup(v[i]);
    return out;
}

static void free_strv(const char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dr_free((char *)v[i]);
    dr_free(v);
}

static int flag_cmp(const void *a, const void *b)
{
    return strcmp(((const dr_master_flag *)a)->name, ((const dr_master_flag *)b)->name);
}

/* Copies opts (strings owned) with defaults filled in. */
static dr_code opts_copy(const dr_master_opts *in, dr_master_opts *out, dr_err *err)
{
    dr_master_opts d;
    dr_master_opts_default(&d);
    *out = *in;
    if (out->allocation_interval_ns == 0)
        out->allocation_interval_ns = d.allocation_interval_ns;
    if (out->agent_ping_timeout_ns == 0)
        out->agent_ping_timeout_ns = d.agent_ping_timeout_ns;
    if (out->max_agent_ping_timeouts == 0)
        out->max_agent_ping_timeouts = d.max_agent_ping_timeouts;
    if (out->framework_heartbeat_ns == 0)
        out->framework_heartbeat_ns = d.framework_heartbeat_ns;
    if (out->default_refuse_ns == 0)
        out->default_refuse_ns = d.default_refuse_ns;
    if (out->max_completed_frameworks == 0)
        out->max_completed_frameworks = d.max_completed_frameworks;
    if (out->max_completed_tasks_per_framework == 0)
        out->max_completed_tasks_per_framework = d.max_completed_tasks_per_framework;
    if (out->max_unreachable_tasks_per_framework == 0)
        out->max_unreachable_tasks_per_framework = d.max_unreachable_tasks_per_framework;
    if (out->min_allocatable_cpus == 0)
        out->min_allocatable_cpus = d.min_allocatable_cpus;
    if (out->min_allocatable_mem_mb == 0)
        out->min_allocatable_mem_mb = d.min_allocatable_mem_mb;
    for (size_t i = 0; i < in->weight_count; i++) {
        if (in->weights[i].role == NULL)
            return dr_err_set(err, DR_EINVAL, "--weights: entry %zu has no role", i);
        if (!(in->weights[i].weight > 0))
            return dr_err_set(err, DR_EINVAL, "--weights: role '%s': weight must be > 0",
                              in->weights[i].role);
        dr_err rerr;
        if (dr_role_validate(in->weights[i].role, &rerr) != DR_OK)
            return dr_err_set(err, DR_EINVAL, "--weights: %s", rerr.msg);
    }
    for (size_t i = 0; i < in->role_count; i++) {
        dr_err rerr;
        if (dr_role_validate(in->roles[i], &rerr) != DR_OK)
            return dr_err_set(err, DR_EINVAL, "--roles: %s", rerr.msg);
    }
    for (size_t i = 0; i < in->flag_count; i++) {
        const dr_master_flag *f = &in->flags[i];
        if (f->name == NULL || f->name[0] == '\0' || f->value == NULL)
            return dr_err_set(err, DR_EINVAL, "flags: entry %zu has no name or no value", i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(in->flags[j].name, f->name) == 0)
                return dr_err_set(err, DR_EINVAL, "flags: '%s' is listed twice", f->name);
    }
    out->listen_host = dup_or_null(in->listen_host);
    out->hostname = dup_or_null(in->hostname);
    out->ip = dup_or_null(in->ip);
    out->cluster = dup_or_null(in->cluster);
    out->version = dr_strdup(in->version != NULL ? in->version : DEFAULT_VERSION);
    if (in->weight_count > 0) {
        dr_master_weight *w = dr_alloc_array(in->weight_count, sizeof *w);
        for (size_t i = 0; i < in->weight_count; i++) {
            w[i].role = dr_strdup(in->weights[i].role);
            w[i].weight = in->weights[i].weight;
        }
        out->weights = w;
    }
    out->roles = dup_strv(in->roles, in->role_count);
    if (in->flag_count > 0) {
        dr_master_flag *f = dr_alloc_array(in->flag_count, sizeof *f);
        for (size_t i = 0; i < in->flag_count; i++) {
            f[i].name = dr_strdup(in->flags[i].name);
            f[i].value = dr_strdup(in->flags[i].value);
        }
        qsort(f, in->flag_count, sizeof *f, flag_cmp);
        out->flags = f;
    }
    out->fair_sharing_excluded_names =
        dup_strv(in->fair_sharing_excluded_names, in->fair_sharing_excluded_count);
    return DR_OK;
}

static void opts_free(dr_master_opts *o)
{
    dr_free((char *)o->listen_host);
    dr_free((char *)o->hostname);
    dr_free((char *)o->ip);
    dr_free((char *)o->cluster);
    dr_free((char *)o->version);
    for (size_t i = 0; i < o->weight_count; i++)
        dr_free((char *)o->weights[i].role);
    dr_free((void *)o->weights);
    free_strv((const char **)o->roles, o->role_count);
    free_strv((const char **)o->fair_sharing_excluded_names, o->fair_sharing_excluded_count);
    for (size_t i = 0; i < o->flag_count; i++) {
        dr_free((char *)o->flags[i].name);
        dr_free((char *)o->flags[i].value);
    }
    dr_free((void *)o->flags);
    memset(o, 0, sizeof *o);
}

/* "a.b.c.d" in network byte order as MasterInfo.ip wants it (a uint32 whose
 * memory holds the address bytes in order); 0 for anything else. */
static uint32_t ipv4_parse(const char *s)
{
    uint8_t bytes[4];
    for (int i = 0; i < 4; i++) {
        if (*s < '0' || *s > '9')
            return 0;
        unsigned v = 0;
        int digits = 0;
        while (*s >= '0' && *s <= '9' && digits < 4) {
            v = v * 10 + (unsigned)(*s - '0');
            s++;
            digits++;
        }
        if (v > 255)
            return 0;
        bytes[i] = (uint8_t)v;
        if (i < 3) {
            if (*s != '.')
                return 0;
            s++;
        }
    }
    if (*s != '\0')
        return 0;
    uint32_t out;
    memcpy(&out, bytes, sizeof out);
    return out;
}

void dr__master_new_id(dr_master *m, char out[40])
{
    uint64_t a = dr_rng_next(&m->id_rng);
    uint64_t b = dr_rng_next(&m->id_rng);
    /* version 4, variant 10 */
    a = (a & ~UINT64_C(0xf000)) | UINT64_C(0x4000);
    b = (b & ~(UINT64_C(3) << 62)) | (UINT64_C(2) << 62);
    snprintf(out, 40, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)((a >> 16) & 0xffff), (unsigned)(a & 0xffff),
             (unsigned)(b >> 48), (unsigned long long)(b & UINT64_C(0xffffffffffff)));
}

void *dr__master_pb_clone(const void *msg)
{
    const ProtobufCMessage *pm = msg;
    dr_buf buf;
    dr_buf_init(&buf);
    dr_err err;
    dr_code rc = dr_proto_encode(pm, &buf, &err);
    DR_ASSERT(rc == DR_OK);
    ProtobufCMessage *out = NULL;
    rc = dr_proto_decode(pm->descriptor, buf.data, buf.size, NULL, &out, &err);
    DR_ASSERT(rc == DR_OK);
    dr_buf_deinit(&buf);
    return out;
}

static void ending_fire(dr_env *env, void *ctx)
{
    DR_UNUSED(env);
    dr_master *m = ctx;
    DR_ASSERT(m->ending_timer != 0);
    m->ending_timer = 0;
    size_t n = m->ending_count;
    dr_http_response **list = m->ending;
    m->ending = NULL;
    m->ending_count = 0;
    for (size_t i = 0; i < n; i++)
        dr_http_response_stream_end(list[i]);
    dr_free(list);
}

void dr__master_end_later(dr_master *m, dr_http_response *res)
{
    dr_http_response_on_gone(res, NULL, NULL);
    m->ending = dr_realloc(m->ending, (m->ending_count + 1) * sizeof *m->ending);
    m->ending[m->ending_count++] = res;
    if (m->ending_timer == 0)
        m->ending_timer = dr_env_timer_add(m->env, 0, ending_fire, m);
}

dr_mframework *dr__master_framework(dr_master *m, const char *framework_id)
{
    return framework_id == NULL ? NULL : dr_idmap_get(&m->frameworks, framework_id);
}

dr_magent *dr__master_agent(dr_master *m, const char *agent_id)
{
    return agent_id == NULL ? NULL : dr_idmap_get(&m->agents, agent_id);
}

void dr__master_emit(dr_master *m, dr_master_event_kind kind, const void *subject)
{
    if (m->hooks.event != NULL)
        m->hooks.event(m, kind, subject, m->hooks.ctx);
}

dr_code dr__master_set_weight(dr_master *m, const char *role, double weight, dr_err *err)
{
    dr_code rc = dr_allocator_set_weight(m->allocator, role, weight, err);
    if (rc != DR_OK)
        return rc;
    dr__allocate_soon(m);
    return DR_OK;
}

#if !defined(DR_MASTER_HAS_OPERATOR)
dr_code dr__master_operator_init(dr_master *m, dr_err *err)
{
    DR_UNUSED(m);
    DR_UNUSED(err);
    return DR_OK;
}

void dr__operator_note_allocation_run(dr_master *m, uint64_t run_ns);
void dr__operator_note_allocation_run(dr_master *m, uint64_t run_ns)
{
    DR_UNUSED(m);
    DR_UNUSED(run_ns);
}
#endif

static dr_code master_info_init(dr_master *m, dr_err *err)
{
    dr_host_info host;
    memset(&host, 0, sizeof host);
    const char *hostname = m->opts.hostname;
    if (hostname == NULL) {
        dr_code rc = dr_env_host_info(m->env, &host, err);
        if (rc != DR_OK)
            return dr_err_wrap(err, "master: host facts");
        hostname = host.hostname;
    }
    char ip[64] = "";
    if (m->opts.ip != NULL) {
        dr_strlcpy(ip, m->opts.ip, sizeof ip);
    } else {
        dr_err rerr;
        if (dr_env_resolve(m->env, hostname, ip, sizeof ip, &rerr) != DR_OK)
            dr_strlcpy(ip, m->opts.listen_host != NULL ? m->opts.listen_host : "127.0.0.1",
                       sizeof ip);
    }
    uint16_t port = dr_http_server_port(m->server);
    Mesos__Address addr = MESOS__ADDRESS__INIT;
    addr.hostname = (char *)hostname;
    addr.ip = ip;
    addr.port = port;
    Mesos__MasterInfo info = MESOS__MASTER_INFO__INIT;
    info.id = m->id;
    info.ip = ipv4_parse(ip);
    info.port = port;
    snprintf(m->pid, sizeof m->pid, "master@%s:%u", ip, (unsigned)port);
    info.pid = m->pid;
    info.hostname = (char *)hostname;
    info.version = (char *)m->opts.version;
    info.address = &addr;
    m->info = dr__master_pb_clone(&info);
    return DR_OK;
}

dr_code dr_master_create(dr_env *env, const dr_master_opts *opts, dr_master **out, dr_err *err)
{
    dr_master *m = dr_alloc(sizeof *m);
    m->env = env;
    dr_code rc = opts_copy(opts, &m->opts, err);
    if (rc != DR_OK) {
        dr_free(m);
        return rc;
    }
    /* The env's seed alone would give a master restarted in the same
     * process the ids of its predecessor (framework ids "<id>-0000" would
     * collide): the start time is mixed in, which the sim replays too. */
    dr_rng_init(&m->id_rng, dr_seed_derive(env->ops->seed(env->self), "master-ids") ^
                                dr_mix64(dr_env_wall(env)));
    dr__master_new_id(m, m->id);
    m->start_ns = dr_env_now(env);
    m->start_wall_ns = dr_env_wall(env);
    dr_idmap_init(&m->frameworks);
    dr_idmap_init(&m->agents);
    dr_idmap_init(&m->offers);
    dr_idmap_init(&m->gone_agents);

    dr_allocator_opts aopts;
    memset(&aopts, 0, sizeof aopts);
    aopts.min_allocatable_cpus = m->opts.min_allocatable_cpus;
    aopts.min_allocatable_mem_mb = m->opts.min_allocatable_mem_mb;
    aopts.fair_sharing_excluded_names = m->opts.fair_sharing_excluded_names;
    aopts.fair_sharing_excluded_count = m->opts.fair_sharing_excluded_count;
    aopts.filter_gpu_resources = m->opts.filter_gpu_resources;
    aopts.allocation_interval_ns = m->opts.allocation_interval_ns;
    m->allocator = dr_allocator_create(&aopts);
    for (size_t i = 0; i < m->opts.weight_count; i++) {
        rc = dr_allocator_set_weight(m->allocator, m->opts.weights[i].role,
                                     m->opts.weights[i].weight, err);
        if (rc != DR_OK)
            goto fail;
    }

    static const char *const prefixes[] = {"/master"};
    dr_http_server_opts sopts;
    memset(&sopts, 0, sizeof sopts);
    sopts.host = m->opts.listen_host != NULL ? m->opts.listen_host : "0.0.0.0";
    sopts.port = m->opts.port;
    sopts.strip_prefixes = prefixes;
    sopts.strip_prefix_count = 1;
    rc = dr_http_server_create(env, &sopts, &m->server, err);
    if (rc != DR_OK)
        goto fail;
    rc = master_info_init(m, err);
    if (rc != DR_OK)
        goto fail;
    rc = dr__scheduler_route(m, err);
    if (rc == DR_OK)
        rc = dr__agents_route(m, err);
    if (rc == DR_OK)
        rc = dr__master_operator_init(m, err);
    if (rc != DR_OK)
        goto fail;
    dr__offers_start(m);
    DR_INFO(env, "master %s listening on port %u", m->id, (unsigned)dr_master_port(m));
    *out = m;
    return DR_OK;
fail:
    dr_master_destroy(m);
    return rc;
}

uint16_t dr_master_port(const dr_master *m) { return dr_http_server_port(m->server); }
const char *dr_master_id(const dr_master *m) { return m->id; }

void dr_master_shutdown(dr_master *m, void (*done)(dr_env *env, void *ctx), void *ctx)
{
    DR_ASSERT(!m->shutting_down);
    m->shutting_down = true;
    dr__offers_stop(m);
    if (m->hooks.shutdown != NULL)
        m->hooks.shutdown(m, m->hooks.ctx);
    for (size_t i = 0; i < m->frameworks.count; i++) {
        dr_mframework *fw = m->frameworks.items[i].value;
        dr__scheduler_disconnect(m, fw);
    }
    dr__agents_shutdown(m);
    /* done goes to the server as is (the same signature): nothing allocated
     * here that a crash during the shutdown would have to find. */
    dr_http_server_shutdown(m->server, done, ctx);
}

/* Frees the model and everything the master owns but the server, the
 * operator state and the streams: no env call (timers are the caller's
 * concern: destroy cancels them first, forget lets the env drop them). */
static void model_free(dr_master *m)
{
    for (size_t i = 0; i < m->offers.count; i++) {
        dr_moffer *o = m->offers.items[i].value;
        dr_free(o->id);
        dr_free(o->framework_id);
        dr_free(o->agent_id);
        dr_free(o->role);
        dr_resources_deinit(&o->resources);
        dr_free(o);
    }
    dr_idmap_deinit(&m->offers);
    for (size_t i = 0; i < m->frameworks.count; i++)
        dr__framework_free(m->frameworks.items[i].value);
    dr_idmap_deinit(&m->frameworks);
    for (size_t i = 0; i < m->completed_framework_count; i++)
        dr__framework_free(m->completed_frameworks[i]);
    dr_free(m->completed_frameworks);
    for (size_t i = 0; i < m->agents.count; i++)
        dr__agent_free(m->agents.items[i].value);
    dr_idmap_deinit(&m->agents);
    for (size_t i = 0; i < m->gone_agents.count; i++) {
        dr_mgone *g = m->gone_agents.items[i].value;
        dr_free(g->id);
        dr_free(g);
    }
    dr_idmap_deinit(&m->gone_agents);
    if (m->allocator != NULL)
        dr_allocator_destroy(m->allocator);
    dr_proto_free((ProtobufCMessage *)m->info);
    opts_free(&m->opts);
    dr_free(m);
}

/* Finishes every response the core holds. With the server destroyed or
 * forgotten they are all detached, so this only frees (no I/O). */
static void streams_end_detached(dr_master *m)
{
    for (size_t i = 0; i < m->ending_count; i++)
        dr_http_response_stream_end(m->ending[i]);
    dr_free(m->ending);
    m->ending = NULL;
    m->ending_count = 0;
    for (size_t i = 0; i < m->frameworks.count; i++) {
        dr_mframework *fw = m->frameworks.items[i].value;
        if (fw->stream != NULL)
            dr_http_response_stream_end(fw->stream);
        fw->stream = NULL;
    }
    for (size_t i = 0; i < m->agents.count; i++) {
        dr_magent *a = m->agents.items[i].value;
        if (a->stream != NULL)
            dr_http_response_stream_end(a->stream);
        a->stream = NULL;
    }
}

void dr_master_destroy(dr_master *m)
{
    if (m == NULL)
        return;
    if (m->hooks.destroy != NULL)
        m->hooks.destroy(m, m->hooks.ctx);
    dr__offers_stop(m);
    /* The server goes first: it detaches every response we still hold. */
    dr_http_server_destroy(m->server);
    m->server = NULL;
    dr_env_timer_cancel(m->env, m->ending_timer);
    m->ending_timer = 0;
    streams_end_detached(m);
    for (size_t i = 0; i < m->offers.count; i++) {
        dr_moffer *o = m->offers.items[i].value;
        dr_env_timer_cancel(m->env, o->timeout_timer);
    }
    for (size_t i = 0; i < m->frameworks.count; i++) {
        dr_mframework *fw = m->frameworks.items[i].value;
        dr_env_timer_cancel(m->env, fw->heartbeat_timer);
        dr_env_timer_cancel(m->env, fw->failover_timer);
    }
    for (size_t i = 0; i < m->agents.count; i++) {
        dr_magent *a = m->agents.items[i].value;
        dr_env_timer_cancel(m->env, a->ping_timer);
    }
    model_free(m);
}

void dr_master_forget(dr_master *m)
{
    if (m == NULL)
        return;
    /* The order matters only in that the server goes before the streams are
     * finished: detached, they are freed without a write. */
    dr_http_server_forget(m->server);
    m->server = NULL;
#if defined(DR_MASTER_HAS_OPERATOR)
    dr__operator_forget(m);
#endif
    streams_end_detached(m);
    model_free(m);
}
