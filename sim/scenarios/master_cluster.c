/* sim/scenarios/master_cluster.c — the master_* and agent_* scenario harness
 * (see master_cluster.h): programs wrapping the master, the test agent and a
 * simulated framework; the fault timeline; the checkers. Real agents are
 * started and read through plan->real_agents (agent_cluster.c).
 *
 * Timeline (virtual time): 0 s master, agents and frameworks start; until
 * FAULT_END faults run (per plan: latency, resets, stalls, an agent
 * partition, a framework failover, a master restart, agent process crashes,
 * agent host reboots); at FAULT_END every
 * fault stops and everything down comes back; at RECONCILE_AT every framework
 * reconciles its tasks explicitly; at END the liveness and convergence checks
 * run. Then every process is stopped gracefully.
 *
 * Framework truth (what each framework received, its offers, its tasks) lives
 * here, in the cluster, not in the framework process: a failed-over framework
 * is a new process that continues the same record.
 */
#include "sim/scenarios/master_cluster.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "src/http/client.h"
#include "src/master/master.h"
#include "src/resources/resources.h"
#include "src/sched/sched.h"
#include "src/testagent/testagent.h"

#define MASTER_PORT 5050
#define AGENT_MAX 8u
#define FW_MAX 6u
#define TASKS_PER_FW_MAX 64u
#define FAULT_END_NS (40 * DR_NS_PER_S)
#define RECONCILE_AT_NS (110 * DR_NS_PER_S)
#define STATE_AT_NS (120 * DR_NS_PER_S)
#define END_NS (125 * DR_NS_PER_S)
#define TASK_CPUS 0.5
#define TASK_MEM 128.0
#define TASK_RESOURCES "cpus:0.5;mem:128"
#define AGENT_RESOURCES "cpus:2;mem:1024;disk:1024;ports:[31000-31099]"
#define AGENT_FAULT_MAX 16u
/* With real agents a framework keeps at most this many finite tasks in
 * flight, so launches (and their updates) spread over the fault window. */
#define REAL_TASKS_IN_FLIGHT_MAX 3u

typedef struct mc mc;

/* ---- framework truth ------------------------------------------------------------ */

typedef struct mc_offer {
    char id[128];
    char agent_id[128];
    dr_resources res; /* allocation_info stripped */
} mc_offer;

typedef struct mc_task {
    char id[64];
    bool forever;        /* "sleep inf": killed by the framework or kept */
    Mesos__TaskState last_state;  /* latest uuid-bearing update received */
    bool have_state;
    bool kill_sent;
    bool ended;          /* a terminal update arrived (any source) */
    size_t received_distinct; /* updates of the agent's stream received so far */
    bool have_answer;
    Mesos__TaskState answer; /* latest reconciliation answer */
} mc_task;

typedef struct mc_fw {
    mc *c;
    uint32_t index;
    char name[32];
    char id[128];       /* "" until the first SUBSCRIBED */
    bool json;
    dr_sim_host_id host;
    dr_pid pid;
    mc_offer *offers;
    size_t offer_count, offer_capacity;
    uint64_t offer_version;
    mc_task tasks[TASKS_PER_FW_MAX];
    uint32_t task_count;  /* launched */
    uint32_t task_target;
    uint64_t updates_received;
    uint64_t offers_received;
    bool reconcile_sent;
} mc_fw;

/* The "simsched" program's state. */
typedef struct mc_sched {
    dr_env *env;
    dr_sched *s;
    mc_fw *fw; /* attached right after start */
    dr_rng rng;
    dr_timer_id timer;
} mc_sched;

typedef struct mc_agent {
    dr_sim_host_id host;
    dr_pid pid;
    bool partitioned;
    bool host_down; /* rebooting */
} mc_agent;

/* A scheduled agent crash or host reboot (its restart follows). */
typedef struct mc_agent_fault {
    mc *c;
    uint32_t agent;
    bool reboot;
    uint64_t at_ns, down_ns;
    uint64_t at_event; /* nonzero: right after this event instead of at at_ns */
    dr_pid paused;     /* an executor paused with the crash (plan->executor_pauses) */
} mc_agent_fault;

struct mc {
    dr_sim *sim;
    const dr_mcluster_plan *plan;
    FILE *out;
    dr_rng rng;
    dr_sim_host_id master_host;
    dr_pid master_pid;
    dr_sim_host_id probe_host;
    dr_pid probe_pid;
    mc_agent agents[AGENT_MAX];
    uint32_t agent_count;
    mc_fw fws[FW_MAX];
    uint32_t fw_count;
    uint64_t seen_version; /* sum of versions at the last offers/overcommit check */
    bool ended;
    dr_mcluster_report report;
    /* the schedule */
    uint64_t partition_at_ns, partition_len_ns;
    uint32_t partition_agent;
    uint64_t failover_at_ns;
    uint32_t failover_fw;
    uint64_t restart_at_ns;
    mc_agent_fault agent_faults[AGENT_FAULT_MAX];
    uint32_t agent_fault_count;
    /* real agents */
    void *rt;               /* plan->real_agents' reader */
    dr_resources agent_total; /* what each real agent is given */
    dr_resources task_res;    /* what each task holds */
};

const char *dr_mcheck_name(dr_mcheck check)
{
    static const char *const names[DR_MCHECK_COUNT] = {"offers", "overcommit", "updates",
                                                        "converge"};
    DR_ASSERT(check < DR_MCHECK_COUNT);
    return names[check];
}

static void violation(mc *c, dr_mcheck check, const char *fmt, ...) DR_PRINTF(3, 4);
static void violation(mc *c, dr_mcheck check, const char *fmt, ...)
{
    if (c->report.violation_count[check]++ == 0) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(c->report.first_violation[check], sizeof c->report.first_violation[check],
                 "t=%.3fs event %" PRIu64 ": %s", (double)dr_sim_now(c->sim) / 1e9,
                 dr_sim_event_count(c->sim), msg);
    }
}

/* Ground truth, whatever the kind of agent (the section "ground truth"). */
static const char *truth_agent_id(mc *c, uint32_t i);
static int truth_agent_by_id(mc *c, const char *agent_id);
static bool truth_task(mc *c, uint32_t i, const char *framework_id, const char *task_id,
                       dr_mtruth_task *out);
static dr_mtruth_task *truth_tasks(mc *c, uint32_t i, size_t *count);

/* ---- the master program ------------------------------------------------------------ */

static void *master_start(dr_env *env, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    dr_master_opts o;
    dr_master_opts_default(&o);
    o.port = MASTER_PORT;
    o.allocation_interval_ns = 200 * DR_NS_PER_MS;
    o.agent_ping_timeout_ns = 1 * DR_NS_PER_S;
    o.max_agent_ping_timeouts = 3;
    o.framework_heartbeat_ns = 5 * DR_NS_PER_S;
    o.default_refuse_ns = 1 * DR_NS_PER_S;
    dr_master *m = NULL;
    dr_err err;
    if (dr_master_create(env, &o, &m, &err) != DR_OK) {
        DR_ERROR(env, "master: %s", err.msg);
        return NULL;
    }
    return m;
}

/* A crash must not touch the env (its streams are already gone):
 * dr_master_forget frees the master's memory and nothing else. */
static void master_crash(void *state) { dr_master_forget(state); }

static void master_stop(void *state) { dr_master_destroy(state); }

const dr_sim_program dr_mcluster_master_program = {
    .name = "master", .start = master_start, .crash = master_crash, .stop = master_stop};

/* ---- the test agent program ------------------------------------------------------------ */

static void *agent_start(dr_env *env, int argc, char **argv)
{
    dr_testagent_opts o;
    char host[256];
    dr_err err;
    if (dr_testagent_parse_args(argc, argv, &o, host, sizeof host, &err) != DR_OK) {
        DR_ERROR(env, "testagent: %s", err.msg);
        return NULL;
    }
    dr_testagent *a = NULL;
    if (dr_testagent_create(env, &o, &a, &err) != DR_OK) {
        DR_ERROR(env, "testagent: %s", err.msg);
        return NULL;
    }
    return a;
}

static void agent_crash(void *state) { (void)state; } /* as master_crash */
static void agent_stop(void *state) { dr_testagent_destroy(state); }

const dr_sim_program dr_mcluster_agent_program = {
    .name = "testagent", .start = agent_start, .crash = agent_crash, .stop = agent_stop};

/* ---- the framework program ---------------------------------------------------------- */

static void fw_offers_clear(mc_fw *fw)
{
    for (size_t i = 0; i < fw->offer_count; i++)
        dr_resources_deinit(&fw->offers[i].res);
    if (fw->offer_count != 0)
        fw->offer_version++;
    fw->offer_count = 0;
}

static void fw_offer_remove(mc_fw *fw, const char *id)
{
    for (size_t i = 0; i < fw->offer_count; i++) {
        if (strcmp(fw->offers[i].id, id) != 0)
            continue;
        dr_resources_deinit(&fw->offers[i].res);
        memmove(&fw->offers[i], &fw->offers[i + 1], (fw->offer_count - i - 1) * sizeof *fw->offers);
        fw->offer_count--;
        fw->offer_version++;
        return;
    }
}

static mc_task *fw_task(mc_fw *fw, const char *id)
{
    for (uint32_t i = 0; i < fw->task_count; i++)
        if (strcmp(fw->tasks[i].id, id) == 0)
            return &fw->tasks[i];
    return NULL;
}

static void on_subscribed(dr_sched *s, const Mesos__Scheduler__Event__Subscribed *ev, void *ctx)
{
    (void)s;
    mc_sched *ms = ctx;
    mc_fw *fw = ms->fw;
    DR_ASSERT(fw != NULL);
    fw_offers_clear(fw);
    dr_strlcpy(fw->id, ev->framework_id->value, sizeof fw->id);
}

static void on_disconnected(dr_sched *s, const dr_err *why, void *ctx)
{
    (void)s;
    (void)why;
    mc_sched *ms = ctx;
    fw_offers_clear(ms->fw);
}

static void set_resource(Mesos__Resource *r, Mesos__Value__Scalar *sc, const char *name,
                         double value, Mesos__Resource__AllocationInfo *alloc)
{
    mesos__resource__init(r);
    mesos__value__scalar__init(sc);
    r->name = (char *)name;
    r->type = MESOS__VALUE__TYPE__SCALAR;
    sc->value = value;
    r->scalar = sc;
    r->allocation_info = alloc;
}

static uint32_t fw_in_flight(const mc_fw *fw)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < fw->task_count; i++)
        n += !fw->tasks[i].forever && !fw->tasks[i].ended;
    return n;
}

static const char *pick_command(mc_sched *ms, char *buf, size_t size, bool *forever)
{
    uint64_t roll = dr_rng_below(&ms->rng, 100);
    *forever = false;
    if (roll < 15) {
        *forever = true;
        return "sleep inf";
    }
    if (roll < 25)
        return "sleep 1; exit 1";
    if (roll < 35)
        return "sleep 0"; /* RUNNING and FINISHED back to back: two updates pending */
    snprintf(buf, size, "sleep %u.%u", (unsigned)(1 + dr_rng_below(&ms->rng, 3)),
             (unsigned)dr_rng_below(&ms->rng, 10));
    return buf;
}

static void on_offers(dr_sched *s, const Mesos__Scheduler__Event__Offers *ev, void *ctx)
{
    mc_sched *ms = ctx;
    mc_fw *fw = ms->fw;
    mc *c = fw->c;
    for (size_t i = 0; i < ev->n_offers; i++) {
        const Mesos__Offer *o = ev->offers[i];
        fw->offers_received++;
        c->report.offers_received++;
        /* one offer id, one framework: check against every other framework */
        for (uint32_t f = 0; f < c->fw_count; f++) {
            if (&c->fws[f] == fw)
                continue;
            for (size_t k = 0; k < c->fws[f].offer_count; k++)
                if (strcmp(c->fws[f].offers[k].id, o->id->value) == 0)
                    violation(c, DR_MCHECK_OFFERS, "offer '%s' outstanding to %s and %s",
                              o->id->value, c->fws[f].name, fw->name);
        }
        if (fw->offer_count == fw->offer_capacity) {
            fw->offer_capacity = fw->offer_capacity ? fw->offer_capacity * 2 : 8;
            fw->offers = dr_realloc(fw->offers, fw->offer_capacity * sizeof *fw->offers);
        }
        mc_offer *mo = &fw->offers[fw->offer_count++];
        memset(mo, 0, sizeof *mo);
        dr_strlcpy(mo->id, o->id->value, sizeof mo->id);
        dr_strlcpy(mo->agent_id, o->agent_id->value, sizeof mo->agent_id);
        dr_resources_init(&mo->res);
        dr_err err;
        if (dr_resources_from_array(&mo->res, (const Mesos__Resource *const *)o->resources,
                                    o->n_resources, &err) != DR_OK)
            DR_WARN(ms->env, "simsched: offer '%s': %s", mo->id, err.msg);
        dr_resources_set_allocation_role(&mo->res, NULL);
        fw->offer_version++;
    }
    /* Use each offer: launch what fits and is still wanted, decline the rest. */
    for (size_t i = 0; i < ev->n_offers; i++) {
        const Mesos__Offer *o = ev->offers[i];
        double cpus = 0, mem = 0;
        const char *role = "*";
        for (size_t r = 0; r < o->n_resources; r++) {
            const Mesos__Resource *res = o->resources[r];
            if (res->scalar == NULL)
                continue;
            if (strcmp(res->name, "cpus") == 0)
                cpus += res->scalar->value;
            else if (strcmp(res->name, "mem") == 0)
                mem += res->scalar->value;
            if (res->allocation_info != NULL && res->allocation_info->role != NULL)
                role = res->allocation_info->role;
        }
        Mesos__TaskInfo tis[16];
        Mesos__TaskInfo *ti_ptrs[16];
        Mesos__TaskID tids[16];
        Mesos__CommandInfo cmds[16];
        Mesos__Resource rs[16][2];
        Mesos__Resource *r_ptrs[16][2];
        Mesos__Value__Scalar scs[16][2];
        char cmd_bufs[16][32];
        char cmd_named[16][128];
        Mesos__Resource__AllocationInfo alloc = MESOS__RESOURCE__ALLOCATION_INFO__INIT;
        alloc.role = (char *)role;
        size_t n = 0;
        while (n < 16 && fw->task_count < fw->task_target && cpus >= TASK_CPUS - 1e-9 &&
               mem >= TASK_MEM - 1e-9 &&
               (c->rt == NULL || fw_in_flight(fw) < REAL_TASKS_IN_FLIGHT_MAX)) {
            mc_task *t = &fw->tasks[fw->task_count];
            memset(t, 0, sizeof *t);
            snprintf(t->id, sizeof t->id, "%s-t%u", fw->name, fw->task_count);
            fw->task_count++;
            c->report.tasks_launched++;
            mesos__task_info__init(&tis[n]);
            mesos__task_id__init(&tids[n]);
            mesos__command_info__init(&cmds[n]);
            tids[n].value = t->id;
            tis[n].name = t->id;
            tis[n].task_id = &tids[n];
            tis[n].agent_id = o->agent_id;
            cmds[n].value = (char *)pick_command(ms, cmd_bufs[n], sizeof cmd_bufs[n], &t->forever);
            if (c->rt != NULL) { /* the simulated shell learns its task from the command */
                snprintf(cmd_named[n], sizeof cmd_named[n], "%s # %s", cmds[n].value, t->id);
                cmds[n].value = cmd_named[n];
            }
            tis[n].command = &cmds[n];
            set_resource(&rs[n][0], &scs[n][0], "cpus", TASK_CPUS, &alloc);
            set_resource(&rs[n][1], &scs[n][1], "mem", TASK_MEM, &alloc);
            r_ptrs[n][0] = &rs[n][0];
            r_ptrs[n][1] = &rs[n][1];
            tis[n].n_resources = 2;
            tis[n].resources = r_ptrs[n];
            ti_ptrs[n] = &tis[n];
            cpus -= TASK_CPUS;
            mem -= TASK_MEM;
            n++;
        }
        const char *ids[1] = {o->id->value};
        dr_err err;
        dr_code rc;
        if (n > 0) {
            Mesos__Offer__Operation op = MESOS__OFFER__OPERATION__INIT;
            Mesos__Offer__Operation__Launch launch = MESOS__OFFER__OPERATION__LAUNCH__INIT;
            launch.n_task_infos = n;
            launch.task_infos = ti_ptrs;
            op.has_type = true;
            op.type = MESOS__OFFER__OPERATION__TYPE__LAUNCH;
            op.launch = &launch;
            Mesos__Offer__Operation *ops[1] = {&op};
            rc = dr_sched_accept(s, ids, 1, ops, 1, 1.0, &err);
        } else {
            rc = dr_sched_decline(s, ids, 1, 1.0, &err);
        }
        if (rc != DR_OK)
            DR_INFO(ms->env, "simsched: %s", err.msg);
#if !defined(DR_PLANTED_SCHED_KEEP_OFFER)
        fw_offer_remove(fw, o->id->value);
#else
        if (n == 0) /* planted: an accepted offer stays "outstanding" */
            fw_offer_remove(fw, o->id->value);
#endif
    }
}

static void on_rescind(dr_sched *s, const Mesos__Scheduler__Event__Rescind *ev, void *ctx)
{
    (void)s;
    mc_sched *ms = ctx;
    if (ev->offer_id != NULL)
        fw_offer_remove(ms->fw, ev->offer_id->value);
}

static void on_update(dr_sched *s, const Mesos__Scheduler__Event__Update *ev, void *ctx)
{
    mc_sched *ms = ctx;
    mc_fw *fw = ms->fw;
    mc *c = fw->c;
    const Mesos__TaskStatus *st = ev->status;
    if (st == NULL || st->task_id == NULL)
        return;
    mc_task *t = fw_task(fw, st->task_id->value);
    if (t != NULL && dr_testagent_state_terminal(st->state) &&
        !(st->has_reason && st->reason == MESOS__TASK_STATUS__REASON__REASON_RECONCILIATION))
        t->ended = true;
    if (st->has_reason && st->reason == MESOS__TASK_STATUS__REASON__REASON_RECONCILIATION &&
        !st->has_uuid) {
        if (t != NULL) {
            t->have_answer = true;
            t->answer = st->state;
        }
        return;
    }
    if (!st->has_uuid || st->uuid.len == 0)
        return; /* generated by the master (TASK_LOST, ...): not part of a stream */
    fw->updates_received++;
    c->report.updates_received++;
    DR_DEBUG(ms->env, "simsched %s: task '%s' %s (uuid %02x%02x...)", fw->name,
             st->task_id->value, dr_testagent_state_name(st->state),
             st->uuid.len > 1 ? st->uuid.data[0] : 0, st->uuid.len > 1 ? st->uuid.data[1] : 0);
    /* The updates checker: find the agent that generated it. */
    const char *agent_id = st->agent_id != NULL ? st->agent_id->value : "";
    int agent = truth_agent_by_id(c, agent_id);
    if (agent < 0 || t == NULL) {
        violation(c, DR_MCHECK_UPDATES, "%s: update %s for task '%s' from unknown agent '%s'",
                  fw->name, dr_testagent_state_name(st->state), st->task_id->value, agent_id);
        return;
    }
    dr_mtruth_task *truth = dr_alloc(sizeof *truth);
    if (!truth_task(c, (uint32_t)agent, fw->id, t->id, truth)) {
        violation(c, DR_MCHECK_UPDATES, "%s: update for task '%s' the agent does not know",
                  fw->name, t->id);
        dr_free(truth);
        return;
    }
    size_t known = DR_MIN(truth->update_count, (size_t)DR_MTRUTH_UPDATE_MAX);
    bool dup = false;
    for (size_t k = 0; k < t->received_distinct && k < known; k++)
        if (st->uuid.len == 16 && memcmp(truth->updates[k].uuid, st->uuid.data, 16) == 0)
            dup = true;
    if (!dup) {
        size_t k = t->received_distinct;
        if (k >= known || st->uuid.len != 16 ||
            memcmp(truth->updates[k].uuid, st->uuid.data, 16) != 0) {
            violation(c, DR_MCHECK_UPDATES,
                      "%s: task '%s': received %s out of order (expected update %zu of %zu: %s)",
                      fw->name, t->id, dr_testagent_state_name(st->state), k,
                      truth->update_count,
                      k < known ? dr_testagent_state_name(truth->updates[k].state) : "none");
        } else {
            t->received_distinct++;
            t->last_state = st->state;
            t->have_state = true;
        }
    }
    dr_free(truth);
    dr_err err;
    if (dr_sched_acknowledge(s, agent_id, st->task_id->value, st->uuid.data, st->uuid.len, &err) !=
        DR_OK)
        DR_INFO(ms->env, "simsched: %s", err.msg);
}

static void sched_tick(dr_env *env, void *ctx)
{
    mc_sched *ms = ctx;
    ms->timer = dr_env_timer_add(env, 2 * DR_NS_PER_S, sched_tick, ms);
    mc_fw *fw = ms->fw;
    mc *c = fw->c;
    if (dr_sched_get_state(ms->s) != DR_SCHED_SUBSCRIBED)
        return;
    dr_err err;
    if (dr_sim_now(c->sim) >= RECONCILE_AT_NS && !fw->reconcile_sent) {
        const char *ids[TASKS_PER_FW_MAX];
        for (uint32_t i = 0; i < fw->task_count; i++) {
            ids[i] = fw->tasks[i].id;
            fw->tasks[i].have_answer = false;
        }
        if (dr_sched_reconcile(ms->s, ids, NULL, fw->task_count, &err) == DR_OK)
            fw->reconcile_sent = true;
        return;
    }
    if (!c->plan->kills || dr_sim_now(c->sim) >= FAULT_END_NS)
        return;
    /* kill one running long task now and then; keep the others for the end */
    for (uint32_t i = 0; i < fw->task_count; i++) {
        mc_task *t = &fw->tasks[i];
        if (!t->forever || t->kill_sent || !t->have_state ||
            t->last_state != MESOS__TASK_STATE__TASK_RUNNING || i % 2 != 0)
            continue;
        if (dr_rng_chance(&ms->rng, 0.3)) {
            t->kill_sent = true;
            if (dr_sched_kill(ms->s, t->id, NULL, &err) != DR_OK)
                t->kill_sent = false;
        }
        break;
    }
}

static const dr_sched_cbs sched_cbs = {
    .subscribed = on_subscribed,
    .offers = on_offers,
    .rescind = on_rescind,
    .update = on_update,
    .disconnected = on_disconnected,
};

/* argv: simsched NAME FRAMEWORK_ID|- json|protobuf [checkpoint] */
static void *sched_start(dr_env *env, int argc, char **argv)
{
    if (argc != 4 && argc != 5)
        return NULL;
    Mesos__FrameworkInfo fi = MESOS__FRAMEWORK_INFO__INIT;
    Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
    fi.user = (char *)"sim";
    fi.name = argv[1];
    fi.has_failover_timeout = true;
    fi.failover_timeout = 3600;
    /* Real agents recover a checkpointing framework's executors and tasks
     * after a crash (and keep their update streams on disk, the truth). */
    if (argc == 5 && strcmp(argv[4], "checkpoint") == 0) {
        fi.has_checkpoint = true;
        fi.checkpoint = true;
    }
    if (strcmp(argv[2], "-") != 0) {
        fid.value = argv[2];
        fi.id = &fid;
    }
    dr_sched_opts o = {
        .host = "master",
        .port = MASTER_PORT,
        .codec = strcmp(argv[3], "json") == 0 ? DR_HTTP_CODEC_JSON : DR_HTTP_CODEC_PROTOBUF,
        .framework_info = &fi,
        .backoff_min_ns = 500 * DR_NS_PER_MS,
        .backoff_max_ns = 4 * DR_NS_PER_S,
    };
    mc_sched *ms = dr_alloc(sizeof *ms);
    ms->env = env;
    dr_env_rng(env, "simsched", &ms->rng);
    dr_err err;
    if (dr_sched_create(env, &o, &sched_cbs, ms, &ms->s, &err) != DR_OK) {
        DR_ERROR(env, "simsched: %s", err.msg);
        dr_free(ms);
        return NULL;
    }
    dr_sched_start(ms->s);
    ms->timer = dr_env_timer_add(env, 2 * DR_NS_PER_S, sched_tick, ms);
    return ms;
}

static void sched_crash(void *state) { (void)state; } /* as master_crash */

static void sched_stop(void *state)
{
    mc_sched *ms = state;
    if (ms->fw != NULL)
        fw_offers_clear(ms->fw);
    dr_env_timer_cancel(ms->env, ms->timer);
    dr_sched_destroy(ms->s);
    dr_free(ms);
}

const dr_sim_program dr_mcluster_sched_program = {
    .name = "simsched", .start = sched_start, .crash = sched_crash, .stop = sched_stop};

/* ---- the state probe -------------------------------------------------------------------- */

/* "stateprobe": GET /state from the master once; the harness reads the
 * answer after the run (the operator view, compared with the agents' truth). */
typedef struct mc_probe {
    dr_http_client *client;
    bool done;
    int status;
    dr_buf body;
} mc_probe;

static void probe_done(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                       const dr_err *err, void *ctx)
{
    (void)env;
    (void)call;
    (void)err;
    mc_probe *p = ctx;
    p->done = true;
    if (resp != NULL) {
        p->status = resp->status;
        dr_buf_append(&p->body, resp->body, resp->body_size);
    }
}

static const dr_http_call_cbs probe_cbs = {.done = probe_done};

static void *probe_start(dr_env *env, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    mc_probe *p = dr_alloc(sizeof *p);
    dr_buf_init(&p->body);
    dr_err err;
    dr_http_client_request req = {.method = "GET", .target = "/state"};
    if (dr_http_client_create(env, "master", MASTER_PORT, NULL, &p->client, &err) != DR_OK ||
        dr_http_client_send(p->client, &req, &probe_cbs, p, NULL, &err) != DR_OK) {
        dr_http_client_destroy(p->client);
        dr_buf_deinit(&p->body);
        dr_free(p);
        return NULL;
    }
    return p;
}

static void probe_stop(void *state)
{
    mc_probe *p = state;
    dr_http_client_destroy(p->client);
    dr_buf_deinit(&p->body);
    dr_free(p);
}

static void probe_crash(void *state) { (void)state; } /* as master_crash */

static const dr_sim_program probe_program = {"stateprobe", probe_start, probe_crash, probe_stop};

/* ---- starting things ----------------------------------------------------------------- */

static void master_launch(mc *c)
{
    const char *argv[] = {"master", NULL};
    dr_err err;
    c->master_pid = dr_sim_process_start(c->sim, c->master_host, argv, &err);
    DR_ASSERT(c->master_pid != 0);
}

static void agent_launch(mc *c, uint32_t i)
{
    char master[64];
    snprintf(master, sizeof master, "master:%d", MASTER_PORT);
    if (c->rt != NULL) {
        /* 0 only if it could not start (printed): a later restart retries */
        c->agents[i].pid =
            c->plan->real_agents->agent_start(c->rt, c->agents[i].host, master, AGENT_RESOURCES);
        return;
    }
    const char *argv[] = {"testagent",
                          "--master", master,
                          "--resources", "cpus:2;mem:1024;disk:1024;ports:[31000-31099]",
                          "--update_retry_min_ms", "1000",
                          "--update_retry_max_ms", "8000",
                          "--register_backoff_min_ms", "500",
                          "--register_backoff_max_ms", "4000",
                          NULL};
    dr_err err;
    c->agents[i].pid = dr_sim_process_start(c->sim, c->agents[i].host, argv, &err);
    DR_ASSERT(c->agents[i].pid != 0);
}

static void fw_launch(mc *c, uint32_t i)
{
    mc_fw *fw = &c->fws[i];
    const char *argv[] = {"simsched", fw->name, fw->id[0] ? fw->id : "-",
                          fw->json ? "json" : "protobuf", c->rt != NULL ? "checkpoint" : NULL,
                          NULL};
    dr_err err;
    fw->pid = dr_sim_process_start(c->sim, fw->host, argv, &err);
    DR_ASSERT(fw->pid != 0);
    mc_sched *ms = dr_sim_process_state(c->sim, fw->pid);
    ms->fw = fw; /* before any of its events runs */
}

/* ---- faults ---------------------------------------------------------------------------- */

static void partition_begin(dr_sim *sim, void *ctx)
{
    mc *c = ctx;
    mc_agent *a = &c->agents[c->partition_agent];
    dr_sim_partition(sim, c->master_host, a->host, false);
    a->partitioned = true;
    dr_sim_trace_note(sim, "mc.partition", c->partition_agent);
}

static void partition_end(dr_sim *sim, void *ctx)
{
    mc *c = ctx;
    if (!c->agents[c->partition_agent].partitioned)
        return;
    dr_sim_heal(sim);
    c->agents[c->partition_agent].partitioned = false;
}

static void failover_stop(dr_sim *sim, void *ctx)
{
    mc *c = ctx;
    mc_fw *fw = &c->fws[c->failover_fw];
    if (fw->pid != 0)
        dr_sim_process_stop(sim, fw->pid);
    fw->pid = 0;
    dr_sim_trace_note(sim, "mc.failover", c->failover_fw);
}

static void failover_start(dr_sim *sim, void *ctx)
{
    (void)sim;
    mc *c = ctx;
    if (c->fws[c->failover_fw].pid == 0)
        fw_launch(c, c->failover_fw);
}

/* The master process crashes (SIGKILL: its memory and connections are gone;
 * it keeps no state on disk) and a new one starts later. */
static void restart_stop(dr_sim *sim, void *ctx)
{
    mc *c = ctx;
    if (c->master_pid != 0)
        dr_sim_process_crash(sim, c->master_pid);
    c->master_pid = 0;
    dr_sim_trace_note(sim, "mc.master_restart", 0);
}

static void restart_start(dr_sim *sim, void *ctx)
{
    (void)sim;
    mc *c = ctx;
    if (c->master_pid == 0)
        master_launch(c);
}

/* An agent process is killed (SIGKILL: its memory is gone, what it wrote
 * stays in the page cache; its executors and tasks keep running), or its
 * whole host crashes (every process on it ends; unsynced pages are dropped
 * or torn; the boot id changes). */
static void agent_fault_begin(dr_sim *sim, void *ctx)
{
    mc_agent_fault *f = ctx;
    mc *c = f->c;
    mc_agent *a = &c->agents[f->agent];
    if (a->host_down || c->ended)
        return;
    if (f->reboot) {
        dr_sim_host_crash(sim, a->host);
        a->host_down = true;
        a->pid = 0;
    } else {
        if (a->pid == 0 || !dr_sim_process_alive(sim, a->pid))
            return;
        dr_sim_process_crash(sim, a->pid);
        a->pid = 0;
        if (c->plan->executor_pauses && c->rt != NULL) {
            f->paused = c->plan->real_agents->executor_pick(c->rt, a->host,
                                                            dr_rng_next(&c->rng));
            if (f->paused != 0)
                dr_sim_process_pause(sim, f->paused);
        }
    }
    dr_sim_trace_note(sim, f->reboot ? "mc.host_reboot" : "mc.agent_crash", f->agent);
}

static void executor_resume(dr_sim *sim, void *ctx)
{
    mc_agent_fault *f = ctx;
    dr_sim_process_resume(sim, f->paused); /* a no-op if it has ended */
    f->paused = 0;
}

static void agent_fault_end(dr_sim *sim, void *ctx)
{
    mc_agent_fault *f = ctx;
    mc *c = f->c;
    mc_agent *a = &c->agents[f->agent];
    if (f->paused != 0) /* past the agent's re-registration window (2 s) */
        dr_sim_schedule(sim, 3 * DR_NS_PER_S, executor_resume, f);
    if (a->host_down) {
        dr_sim_host_restart(sim, a->host);
        a->host_down = false;
    }
    if (a->pid == 0 || !dr_sim_process_alive(sim, a->pid))
        agent_launch(c, f->agent);
}

static void probe_fire(dr_sim *sim, void *ctx)
{
    mc *c = ctx;
    const char *argv[] = {"stateprobe", NULL};
    dr_err err;
    c->probe_pid = dr_sim_process_start(sim, c->probe_host, argv, &err);
}

static void faults_end(dr_sim *sim, void *ctx)
{
    mc *c = ctx;
    dr_sim_faults none;
    memset(&none, 0, sizeof none);
    none.net_latency_min_ns = 100 * DR_NS_PER_US;
    none.net_latency_mean_ns = 500 * DR_NS_PER_US;
    dr_sim_set_faults(sim, &none);
    dr_sim_heal(sim);
    for (uint32_t i = 0; i < c->agent_count; i++) {
        mc_agent *a = &c->agents[i];
        a->partitioned = false;
        if (a->host_down) {
            dr_sim_host_restart(sim, a->host);
            a->host_down = false;
        }
        if (c->rt != NULL && (a->pid == 0 || !dr_sim_process_alive(sim, a->pid)))
            agent_launch(c, i);
    }
    if (c->master_pid == 0)
        master_launch(c);
    for (uint32_t i = 0; i < c->fw_count; i++)
        if (c->fws[i].pid == 0)
            fw_launch(c, i);
}

/* ---- ground truth ------------------------------------------------------------------------ */

/* The agent id agent i holds by its own record (the test agent's memory, the
 * real agent's checkpoint); "" when none (yet). */
static const char *truth_agent_id(mc *c, uint32_t i)
{
    if (c->rt != NULL)
        return c->plan->real_agents->agent_id(c->rt, c->agents[i].host);
    dr_testagent *a = dr_sim_process_state(c->sim, c->agents[i].pid);
    if (a == NULL)
        return "";
    dr_testagent_info info;
    dr_testagent_get_info(a, &info);
    return info.agent_id;
}

static int truth_agent_by_id(mc *c, const char *agent_id)
{
    if (agent_id[0] == '\0')
        return -1;
    for (uint32_t i = 0; i < c->agent_count; i++)
        if (strcmp(truth_agent_id(c, i), agent_id) == 0)
            return (int)i;
    return -1;
}

static void truth_from_testagent(const dr_testagent_task *t, dr_mtruth_task *out)
{
    memset(out, 0, sizeof *out);
    dr_strlcpy(out->framework_id, t->framework_id, sizeof out->framework_id);
    dr_strlcpy(out->task_id, t->task_id, sizeof out->task_id);
    out->state = t->state;
    out->update_count = t->update_count;
    out->overflow = t->update_count > DR_MTRUTH_UPDATE_MAX;
    for (size_t k = 0; k < t->update_count && k < DR_MTRUTH_UPDATE_MAX; k++) {
        out->updates[k].state = t->updates[k].state;
        memcpy(out->updates[k].uuid, t->updates[k].uuid, sizeof out->updates[k].uuid);
    }
    out->acked_count = t->acked_count;
}

static bool truth_task(mc *c, uint32_t i, const char *framework_id, const char *task_id,
                       dr_mtruth_task *out)
{
    if (c->rt != NULL)
        return c->plan->real_agents->task(c->rt, c->agents[i].host, framework_id, task_id, out);
    dr_testagent *a = dr_sim_process_state(c->sim, c->agents[i].pid);
    size_t k = a != NULL ? dr_testagent_task_find(a, framework_id, task_id) : SIZE_MAX;
    if (k == SIZE_MAX)
        return false;
    dr_testagent_task t;
    dr_testagent_task_at(a, k, &t);
    truth_from_testagent(&t, out);
    return true;
}

static dr_mtruth_task *truth_tasks(mc *c, uint32_t i, size_t *count)
{
    if (c->rt != NULL)
        return c->plan->real_agents->tasks(c->rt, c->agents[i].host, count);
    *count = 0;
    dr_testagent *a = dr_sim_process_state(c->sim, c->agents[i].pid);
    if (a == NULL)
        return NULL;
    size_t n = dr_testagent_task_count(a);
    dr_mtruth_task *out = dr_alloc_array(n + 1, sizeof *out);
    for (size_t k = 0; k < n; k++) {
        dr_testagent_task t;
        dr_testagent_task_at(a, k, &t);
        truth_from_testagent(&t, &out[k]);
    }
    *count = n;
    return out;
}

/* Whether the task is live on agent i: its agent says so (not terminal)
 * and, for real agents, its process runs. */
static bool truth_live(mc *c, uint32_t i, const dr_mtruth_task *t)
{
    if (dr_testagent_state_terminal(t->state))
        return false;
    return c->rt == NULL ||
           c->plan->real_agents->task_runs(c->rt, c->agents[i].host, t->task_id);
}

/* ---- checkers ---------------------------------------------------------------------------- */

static uint64_t versions(mc *c)
{
    uint64_t v = 0;
    for (uint32_t i = 0; i < c->fw_count; i++)
        v += c->fws[i].offer_version;
    if (c->rt != NULL)
        return v + c->plan->real_agents->step(c->rt) * 7;
    for (uint32_t i = 0; i < c->agent_count; i++) {
        dr_testagent *a = dr_sim_process_state(c->sim, c->agents[i].pid);
        if (a == NULL)
            continue;
        dr_testagent_info info;
        dr_testagent_get_info(a, &info);
        v += info.run_task_count * 7 + info.update_send_count * 3 + info.kill_count;
        /* any state change generates an update, counted by its first send or
         * not: use the task count and the sum of update counts */
        size_t n = dr_testagent_task_count(a);
        for (size_t k = 0; k < n; k++) {
            dr_testagent_task t;
            dr_testagent_task_at(a, k, &t);
            v += t.update_count;
        }
    }
    return v;
}

static void add_task_res(const char *task_id, void *ctx)
{
    (void)task_id;
    void **args = ctx;
    dr_resources_add(args[0], args[1]);
}

/* What agent i really runs (fills used, initialized), its real total and
 * what it advertises; false when there is nothing to check (agent gone). */
static bool truth_resources(mc *c, uint32_t i, dr_resources *used, const dr_resources **total,
                            const dr_resources **advertised)
{
    if (c->rt != NULL) {
        /* every task process holds a task's resources until it ends, even
         * when no agent or executor accounts for it any more */
        void *args[2] = {used, &c->task_res};
        c->plan->real_agents->running(c->rt, c->agents[i].host, add_task_res, args);
        *total = &c->agent_total;
        *advertised = &c->agent_total;
        return true;
    }
    dr_testagent *a = dr_sim_process_state(c->sim, c->agents[i].pid);
    if (a == NULL)
        return false;
    dr_resources_copy(used, dr_testagent_used(a));
    *total = dr_testagent_total(a);
    *advertised = dr_testagent_advertised(a);
    return true;
}

static void check_resources(mc *c)
{
    uint64_t v = versions(c);
    if (v == c->seen_version)
        return;
    c->seen_version = v;
    for (uint32_t i = 0; i < c->agent_count; i++) {
        dr_resources used;
        dr_resources_init(&used);
        const dr_resources *total = NULL, *advertised = NULL;
        if (!truth_resources(c, i, &used, &total, &advertised)) {
            dr_resources_deinit(&used);
            continue;
        }
        if (!dr_resources_contains(total, &used)) {
            char *u = dr_resources_to_string(&used);
            char *t = dr_resources_to_string(total);
            violation(c, DR_MCHECK_OVERCOMMIT, "agent %s runs %s, more than its %s",
                      dr_sim_host_name(c->sim, c->agents[i].host), u, t);
            dr_free(u);
            dr_free(t);
        }
        const char *agent_id = truth_agent_id(c, i);
        if (agent_id[0] == '\0') {
            dr_resources_deinit(&used);
            continue;
        }
        dr_resources sum;
        dr_resources_init(&sum);
        dr_resources_copy(&sum, &used);
        bool any = false;
        for (uint32_t f = 0; f < c->fw_count; f++)
            for (size_t k = 0; k < c->fws[f].offer_count; k++)
                if (strcmp(c->fws[f].offers[k].agent_id, agent_id) == 0) {
                    dr_resources_add(&sum, &c->fws[f].offers[k].res);
                    any = true;
                }
        if (any && !dr_resources_contains(advertised, &sum)) {
            char *s = dr_resources_to_string(&sum);
            violation(c, DR_MCHECK_OFFERS,
                      "agent %s: outstanding offers plus running tasks hold %s, more than it has",
                      dr_sim_host_name(c->sim, c->agents[i].host), s);
            dr_free(s);
        }
        dr_resources_deinit(&sum);
        dr_resources_deinit(&used);
    }
}

static void check_no_resend_after_ack(mc *c)
{
    if (c->rt != NULL)
        return; /* the real agent keeps no send log; the updates checker covers order */
    for (uint32_t i = 0; i < c->agent_count; i++) {
        dr_testagent *a = dr_sim_process_state(c->sim, c->agents[i].pid);
        if (a == NULL)
            continue;
        dr_testagent_info info;
        dr_testagent_get_info(a, &info);
        if (info.sent_after_ack_count != 0)
            violation(c, DR_MCHECK_UPDATES, "agent %s resent %" PRIu64 " acknowledged updates",
                      dr_sim_host_name(c->sim, c->agents[i].host), info.sent_after_ack_count);
    }
}

static void step_hook(dr_sim *sim, void *ctx)
{
    mc *c = ctx;
    if (c->ended)
        return;
    /* crashes placed by event count land right after any step of any
     * process, busy moments weighted by how much happens in them */
    for (uint32_t k = 0; k < c->agent_fault_count; k++) {
        mc_agent_fault *f = &c->agent_faults[k];
        if (f->at_event == 0 || f->at_event != dr_sim_event_count(sim) ||
            dr_sim_now(sim) >= FAULT_END_NS - f->down_ns)
            continue;
        agent_fault_begin(sim, f);
        dr_sim_schedule(sim, f->down_ns, agent_fault_end, f);
    }
    check_resources(c);
    check_no_resend_after_ack(c);
}

static mc_fw *fw_by_id(mc *c, const char *id)
{
    for (uint32_t i = 0; i < c->fw_count; i++)
        if (strcmp(c->fws[i].id, id) == 0)
            return &c->fws[i];
    return NULL;
}

static bool state_live(Mesos__TaskState s)
{
    return s == MESOS__TASK_STATE__TASK_RUNNING || s == MESOS__TASK_STATE__TASK_STARTING ||
           s == MESOS__TASK_STATE__TASK_STAGING;
}

/* At the end: everything generated was received and acknowledged; the
 * reconciliation answers match the agents' truth; for real agents, what an
 * agent reports matches what runs. */
static void check_end(mc *c)
{
    for (uint32_t i = 0; i < c->agent_count; i++) {
        size_t n = 0;
        dr_mtruth_task *tasks = truth_tasks(c, i, &n);
        for (size_t k = 0; k < n; k++) {
            const dr_mtruth_task *t = &tasks[k];
            c->report.updates_generated += t->update_count;
            if (c->rt != NULL) {
                bool runs = c->plan->real_agents->task_runs(c->rt, c->agents[i].host, t->task_id);
                if (runs && dr_testagent_state_terminal(t->state))
                    violation(c, DR_MCHECK_CONVERGE,
                              "task '%s' is %s on its agent %s, but its process still runs",
                              t->task_id, dr_testagent_state_name(t->state),
                              dr_sim_host_name(c->sim, c->agents[i].host));
                else if (!runs && !dr_testagent_state_terminal(t->state))
                    violation(c, DR_MCHECK_CONVERGE,
                              "task '%s' is %s on its agent %s, but no process runs it",
                              t->task_id, dr_testagent_state_name(t->state),
                              dr_sim_host_name(c->sim, c->agents[i].host));
            }
            mc_fw *fw = fw_by_id(c, t->framework_id);
            if (fw == NULL)
                continue;
            mc_task *ft = fw_task(fw, t->task_id);
            if (ft == NULL)
                continue;
            if (ft->received_distinct != t->update_count || t->acked_count != t->update_count)
                violation(c, DR_MCHECK_UPDATES,
                          "task '%s': %zu updates generated, %zu received, %zu acknowledged",
                          t->task_id, t->update_count, ft->received_distinct, t->acked_count);
            if (!ft->have_answer) {
                violation(c, DR_MCHECK_CONVERGE, "task '%s' (%s on the agent): no reconcile answer",
                          t->task_id, dr_testagent_state_name(t->state));
            } else if ((!dr_testagent_state_terminal(t->state) && ft->answer != t->state) ||
                       (dr_testagent_state_terminal(t->state) && state_live(ft->answer))) {
                violation(c, DR_MCHECK_CONVERGE, "task '%s' is %s on its agent, the master says %s",
                          t->task_id, dr_testagent_state_name(t->state),
                          dr_testagent_state_name(ft->answer));
            }
        }
        dr_free(tasks);
    }
    /* tasks no agent knows must not be reported live */
    dr_mtruth_task *scratch = dr_alloc(sizeof *scratch);
    for (uint32_t f = 0; f < c->fw_count; f++) {
        mc_fw *fw = &c->fws[f];
        for (uint32_t k = 0; k < fw->task_count; k++) {
            mc_task *t = &fw->tasks[k];
            bool known = false;
            for (uint32_t i = 0; i < c->agent_count && !known; i++)
                known = truth_task(c, i, fw->id, t->id, scratch);
            if (!known && t->have_answer &&
                (t->answer == MESOS__TASK_STATE__TASK_RUNNING ||
                 t->answer == MESOS__TASK_STATE__TASK_STARTING))
                violation(c, DR_MCHECK_CONVERGE, "task '%s' runs nowhere, the master says %s",
                          t->id, dr_testagent_state_name(t->answer));
        }
    }
    dr_free(scratch);
}

/* The master's /state against the agents' truth: every task an agent runs
 * is listed, in its state, on that agent; every task listed live runs on some
 * agent. Skipped (noted) when the master has no /state (operator side not
 * built). */
static const char *jstr(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL ? s : "";
}

static void check_state(mc *c)
{
    mc_probe *p = c->probe_pid != 0 ? dr_sim_process_state(c->sim, c->probe_pid) : NULL;
    if (p == NULL || !p->done) {
        violation(c, DR_MCHECK_CONVERGE, "GET /state: no answer from the master");
        return;
    }
    if (p->status == 404) {
        fprintf(c->out, "  /state not served: operator view not checked\n");
        return;
    }
    json_error_t jerr;
    json_t *root = json_loadb((const char *)p->body.data, p->body.size, 0, &jerr);
    json_t *fws = root != NULL ? json_object_get(root, "frameworks") : NULL;
    if (p->status != 200 || !json_is_array(fws)) {
        violation(c, DR_MCHECK_CONVERGE, "GET /state answered %d without frameworks", p->status);
        json_decref(root);
        return;
    }
    size_t listed = 0;
    for (uint32_t i = 0; i < c->agent_count; i++) {
        const char *agent_id = truth_agent_id(c, i);
        size_t n = 0;
        dr_mtruth_task *tasks = truth_tasks(c, i, &n);
        for (size_t k = 0; k < n; k++) {
            const dr_mtruth_task *t = &tasks[k];
            if (!truth_live(c, i, t))
                continue;
            const char *state = NULL;
            const char *agent = NULL;
            size_t fi;
            json_t *fw;
            json_array_foreach(fws, fi, fw)
            {
                if (strcmp(jstr(fw, "id"), t->framework_id) != 0)
                    continue;
                size_t ti;
                json_t *task;
                json_array_foreach(json_object_get(fw, "tasks"), ti, task)
                {
                    if (strcmp(jstr(task, "id"), t->task_id) == 0) {
                        state = json_string_value(json_object_get(task, "state"));
                        agent = json_string_value(json_object_get(task, "slave_id"));
                    }
                }
            }
            if (state == NULL || strcmp(state, dr_testagent_state_name(t->state)) != 0 ||
                agent == NULL || strcmp(agent, agent_id) != 0)
                violation(c, DR_MCHECK_CONVERGE,
                          "task '%s' is %s on agent %s; /state says %s on %s", t->task_id,
                          dr_testagent_state_name(t->state), agent_id,
                          state != NULL ? state : "nothing", agent != NULL ? agent : "-");
        }
        dr_free(tasks);
    }
    dr_mtruth_task *scratch = dr_alloc(sizeof *scratch);
    size_t fi;
    json_t *fw;
    json_array_foreach(fws, fi, fw)
    {
        const char *fw_id = json_string_value(json_object_get(fw, "id"));
        size_t ti;
        json_t *task;
        json_array_foreach(json_object_get(fw, "tasks"), ti, task)
        {
            listed++;
            const char *id = json_string_value(json_object_get(task, "id"));
            const char *state = json_string_value(json_object_get(task, "state"));
            if (fw_id == NULL || id == NULL || state == NULL)
                continue;
            if (strcmp(state, "TASK_RUNNING") != 0 && strcmp(state, "TASK_STARTING") != 0 &&
                strcmp(state, "TASK_STAGING") != 0)
                continue;
            bool runs = false;
            for (uint32_t i = 0; i < c->agent_count && !runs; i++)
                runs = truth_task(c, i, fw_id, id, scratch) && truth_live(c, i, scratch);
            if (!runs)
                violation(c, DR_MCHECK_CONVERGE, "/state lists task '%s' as %s; no agent runs it",
                          id, state);
        }
    }
    dr_free(scratch);
    fprintf(c->out, "  /state checked: %zu tasks listed\n", listed);
    json_decref(root);
}

/* ---- the run ------------------------------------------------------------------------------ */

int dr_mcluster_run(const dr_mcluster_plan *plan, const dr_sim_opts *opts, FILE *out,
                    uint64_t *trace_hash_out, dr_mcluster_report *report)
{
    mc *c = dr_alloc(sizeof *c);
    c->plan = plan;
    c->out = out;
    dr_rng_init(&c->rng, dr_seed_derive(opts->seed, "master_cluster"));
    dr_sim_opts so = *opts;
    memset(&so.faults, 0, sizeof so.faults);
    so.faults.net_latency_min_ns = 100 * DR_NS_PER_US;
    so.faults.net_latency_mean_ns = 500 * DR_NS_PER_US;
    if (plan->net_faults) {
        dr_sim_faults drawn;
        dr_sim_faults_draw(opts->seed, &drawn);
        so.faults.net_latency_min_ns = drawn.net_latency_min_ns;
        so.faults.net_latency_mean_ns = drawn.net_latency_mean_ns;
        so.faults.net_latency_tail_p = drawn.net_latency_tail_p;
        so.faults.net_latency_tail_max_ns = DR_MIN(drawn.net_latency_tail_max_ns, DR_NS_PER_S);
        so.faults.net_reset_p = DR_MIN(drawn.net_reset_p, 0.002);
        so.faults.net_stall_p = drawn.net_stall_p;
        so.faults.net_stall_max_ns = DR_MIN(drawn.net_stall_max_ns, 2 * DR_NS_PER_S);
    }
    c->sim = dr_sim_create(&so);
    dr_sim_register_program(c->sim, &dr_mcluster_master_program);
    dr_sim_register_program(c->sim, &dr_mcluster_agent_program);
    dr_sim_register_program(c->sim, &dr_mcluster_sched_program);
    dr_sim_register_program(c->sim, &probe_program);
    dr_resources_init(&c->agent_total);
    dr_resources_init(&c->task_res);
    if (plan->real_agents != NULL) {
        c->rt = plan->real_agents->create(c->sim, out);
        dr_err err;
        if (dr_resources_parse(AGENT_RESOURCES, &c->agent_total, &err) != DR_OK ||
            dr_resources_parse(TASK_RESOURCES, &c->task_res, &err) != DR_OK)
            DR_ASSERT(!"the harness's resources parse");
    }

    c->agent_count = plan->agent_count_min +
                     (uint32_t)dr_rng_below(&c->rng, plan->agent_count_max - plan->agent_count_min + 1);
    c->fw_count = plan->framework_count_min +
                  (uint32_t)dr_rng_below(&c->rng,
                                         plan->framework_count_max - plan->framework_count_min + 1);
    DR_ASSERT(c->agent_count <= AGENT_MAX);
    DR_ASSERT(c->fw_count <= FW_MAX);
    fprintf(out, "scenario %s: seed %" PRIu64 ", %u agents, %u frameworks, %u tasks each\n",
            plan->name, opts->seed, c->agent_count, c->fw_count, plan->tasks_per_framework);
    if (plan->net_faults)
        dr_sim_faults_print(&so.faults, out);

    c->master_host = dr_sim_host_add(c->sim, "master");
    master_launch(c);
    for (uint32_t i = 0; i < c->agent_count; i++) {
        char name[32];
        snprintf(name, sizeof name, "agent-%u", i + 1);
        c->agents[i].host = dr_sim_host_add(c->sim, name);
        agent_launch(c, i);
    }
    for (uint32_t i = 0; i < c->fw_count; i++) {
        mc_fw *fw = &c->fws[i];
        fw->c = c;
        fw->index = i;
        snprintf(fw->name, sizeof fw->name, "fw%u", i + 1);
        fw->json = plan->json_frameworks && i % 2 == 1;
        fw->task_target = DR_MIN(plan->tasks_per_framework, TASKS_PER_FW_MAX);
        char host[32];
        snprintf(host, sizeof host, "fw-%u", i + 1);
        fw->host = dr_sim_host_add(c->sim, host);
        fw_launch(c, i);
    }

    /* the fault schedule, drawn from the seed and printed */
    if (plan->agent_partition) {
        c->partition_agent = (uint32_t)dr_rng_below(&c->rng, c->agent_count);
        c->partition_at_ns = (3 + dr_rng_below(&c->rng, 15)) * DR_NS_PER_S;
        c->partition_len_ns = (1 + dr_rng_below(&c->rng, 10)) * DR_NS_PER_S;
        fprintf(out, "  partition agent-%u from the master at %.1fs for %.1fs\n",
                c->partition_agent + 1, (double)c->partition_at_ns / 1e9,
                (double)c->partition_len_ns / 1e9);
        dr_sim_schedule(c->sim, c->partition_at_ns, partition_begin, c);
        dr_sim_schedule(c->sim, c->partition_at_ns + c->partition_len_ns, partition_end, c);
    }
    if (plan->framework_failover) {
        c->failover_fw = (uint32_t)dr_rng_below(&c->rng, c->fw_count);
        c->failover_at_ns = (2 + dr_rng_below(&c->rng, 20)) * DR_NS_PER_S;
        uint64_t gap_ns = (1 + dr_rng_below(&c->rng, 5)) * DR_NS_PER_S;
        fprintf(out, "  fail over fw%u at %.1fs (new process after %.1fs)\n", c->failover_fw + 1,
                (double)c->failover_at_ns / 1e9, (double)gap_ns / 1e9);
        dr_sim_schedule(c->sim, c->failover_at_ns, failover_stop, c);
        dr_sim_schedule(c->sim, c->failover_at_ns + gap_ns, failover_start, c);
    }
    if (plan->master_restart) {
        c->restart_at_ns = (5 + dr_rng_below(&c->rng, 20)) * DR_NS_PER_S;
        uint64_t gap_ns = (1 + dr_rng_below(&c->rng, 4)) * DR_NS_PER_S;
        fprintf(out, "  restart the master at %.1fs (down %.1fs)\n",
                (double)c->restart_at_ns / 1e9, (double)gap_ns / 1e9);
        dr_sim_schedule(c->sim, c->restart_at_ns, restart_stop, c);
        dr_sim_schedule(c->sim, c->restart_at_ns + gap_ns, restart_start, c);
    }
    /* agent crashes and host reboots: at any virtual nanosecond, so they
     * land in every phase of a launch, an update or a recovery */
    uint32_t crashes = plan->agent_crashes_max == 0
                           ? 0
                           : 1 + (uint32_t)dr_rng_below(&c->rng, plan->agent_crashes_max);
    uint32_t reboots = plan->host_reboots_max == 0
                           ? 0
                           : (uint32_t)dr_rng_below(&c->rng, plan->host_reboots_max + 1);
    for (uint32_t k = 0; k < crashes + reboots && c->agent_fault_count < AGENT_FAULT_MAX; k++) {
        mc_agent_fault *f = &c->agent_faults[c->agent_fault_count++];
        f->c = c;
        f->reboot = k >= crashes;
        f->agent = (uint32_t)dr_rng_below(&c->rng, c->agent_count);
        f->at_ns = DR_NS_PER_S + dr_rng_below(&c->rng, FAULT_END_NS - 6 * DR_NS_PER_S);
        f->down_ns = 100 * DR_NS_PER_MS + dr_rng_below(&c->rng, 5 * DR_NS_PER_S);
        if (plan->crash_after_events && !f->reboot && k % 2 == 1) {
            f->at_event = 100 + dr_rng_below(&c->rng, 3000);
            fprintf(out, "  crash agent-%u after event %" PRIu64 " (back after %.3fs)\n",
                    f->agent + 1, f->at_event, (double)f->down_ns / 1e9);
            continue;
        }
        fprintf(out, "  %s agent-%u at %.6fs (back after %.3fs)\n",
                f->reboot ? "reboot the host of" : "crash", f->agent + 1,
                (double)f->at_ns / 1e9, (double)f->down_ns / 1e9);
        dr_sim_schedule(c->sim, f->at_ns, agent_fault_begin, f);
        dr_sim_schedule(c->sim, f->at_ns + f->down_ns, agent_fault_end, f);
    }
    dr_sim_schedule(c->sim, FAULT_END_NS, faults_end, c);
    c->probe_host = dr_sim_host_add(c->sim, "probe");
    dr_sim_schedule(c->sim, STATE_AT_NS, probe_fire, c);
    dr_sim_set_step_hook(c->sim, step_hook, c);

    dr_sim_run_until(c->sim, END_NS);
    check_end(c);
    check_state(c);
    c->ended = true;
    c->report.events = dr_sim_event_count(c->sim);
    uint64_t hash = dr_sim_trace_hash(c->sim);

    /* stop everything gracefully (a crash could not free their memory) */
    for (uint32_t i = 0; i < c->fw_count; i++)
        if (c->fws[i].pid != 0)
            dr_sim_process_stop(c->sim, c->fws[i].pid);
    for (uint32_t i = 0; i < c->agent_count; i++)
        if (c->agents[i].pid != 0)
            dr_sim_process_stop(c->sim, c->agents[i].pid);
    if (c->master_pid != 0)
        dr_sim_process_stop(c->sim, c->master_pid);
    if (c->probe_pid != 0)
        dr_sim_process_stop(c->sim, c->probe_pid);

    int failed = 0;
    fprintf(out, "  %" PRIu64 " tasks launched, %" PRIu64 " updates generated, %" PRIu64
                 " received, %" PRIu64 " offers, %" PRIu64 " events\n",
            c->report.tasks_launched, c->report.updates_generated, c->report.updates_received,
            c->report.offers_received, c->report.events);
    for (int k = 0; k < DR_MCHECK_COUNT; k++) {
        if (c->report.violation_count[k] == 0)
            continue;
        failed = 1;
        fprintf(out, "  VIOLATION [%s] x%" PRIu64 ": %s\n", dr_mcheck_name((dr_mcheck)k),
                c->report.violation_count[k], c->report.first_violation[k]);
    }
    if (c->report.tasks_launched == 0) {
        failed = 1;
        fprintf(out, "  FAILED: no task was launched (is the master serving?)\n");
    }
    fprintf(out, "  trace hash: 0x%016" PRIx64 "\n", hash);
    if (trace_hash_out != NULL)
        *trace_hash_out = hash;
    if (report != NULL)
        *report = c->report;
    for (uint32_t i = 0; i < c->fw_count; i++) {
        fw_offers_clear(&c->fws[i]);
        dr_free(c->fws[i].offers);
    }
    dr_sim_destroy(c->sim);
    if (c->rt != NULL)
        plan->real_agents->destroy(c->rt);
    dr_resources_deinit(&c->agent_total);
    dr_resources_deinit(&c->task_res);
    dr_free(c);
    return failed;
}
