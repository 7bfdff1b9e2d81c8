/* src/master/offers.c — offers: the allocation timer (periodic, plus a
 * 0-delay timer that coalesces event-triggered allocations into one batch),
 * turning allocator grants into OFFERS events, offer timeouts, rescinds,
 * DECLINE with filters, and ACCEPT with Mesos's offer and task validation
 * (LAUNCH and LAUNCH_GROUP; reservation and volume operations are dropped
 * as Mesos drops an invalid operation: logged and counted, and reported to
 * the framework with UPDATE_OPERATION_STATUS / OPERATION_ERROR when the
 * operation carries an id).
 *
 * Every outstanding offer is in m->offers, its framework's and its agent's
 * `offers` maps, and counted in their offered_resources; its resources count
 * as allocated in the allocator until dr__offer_remove recovers them or an
 * ACCEPT turns them into tasks.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "src/master/master_int.h"

#define REFUSE_MAX_NS (UINT64_C(365) * 24 * 3600 * DR_NS_PER_S)


/* ---- the allocation timers ------------------------------------------------------- */

static void allocate_now(dr_master *m);

static void allocation_fire(dr_env *env, void *ctx)
{
    DR_UNUSED(env);
    dr_master *m = ctx;
    DR_ASSERT(m->allocation_timer != 0);
    m->allocation_timer = dr_env_timer_add(m->env, m->opts.allocation_interval_ns,
                                           allocation_fire, m);
    allocate_now(m);
}

static void allocation_soon_fire(dr_env *env, void *ctx)
{
    DR_UNUSED(env);
    dr_master *m = ctx;
    DR_ASSERT(m->allocation_soon_timer != 0);
    m->allocation_soon_timer = 0;
    allocate_now(m);
}

void dr__offers_start(dr_master *m)
{
    DR_ASSERT(m->allocation_timer == 0);
    m->allocation_timer = dr_env_timer_add(m->env, m->opts.allocation_interval_ns,
                                           allocation_fire, m);
}

void dr__offers_stop(dr_master *m)
{
    dr_env_timer_cancel(m->env, m->allocation_timer);
    m->allocation_timer = 0;
    dr_env_timer_cancel(m->env, m->allocation_soon_timer);
    m->allocation_soon_timer = 0;
}

void dr__allocate_soon(dr_master *m)
{
    if (m->allocation_soon_timer != 0 || m->allocation_timer == 0 || m->shutting_down)
        return;
    m->allocation_soon_timer = dr_env_timer_add(m->env, 0, allocation_soon_fire, m);
}

/* ---- offers ------------------------------------------------------------------------- */

static void offer_timeout_fire(dr_env *env, void *ctx);

static dr_moffer *offer_create(dr_master *m, dr_mframework *fw, dr_magent *agent,
                               const dr_alloc_grant *g)
{
    dr_moffer *o = dr_alloc(sizeof *o);
    o->master = m;
    o->id = dr_sprintf("%s-O%llu", m->id, (unsigned long long)m->next_offer_index++);
    o->framework_id = dr_strdup(fw->id);
    o->agent_id = dr_strdup(agent->id);
    o->role = dr_strdup(g->role);
    dr_resources_init(&o->resources);
    for (size_t i = 0; i < g->resource_count; i++)
        dr_resources_add_one(&o->resources, g->resources[i]);
    dr_resources_set_allocation_role(&o->resources, g->role);
    o->created_ns = dr_env_now(m->env);
    dr_idmap_put(&m->offers, o->id, o);
    dr_idmap_put(&fw->offers, o->id, o);
    dr_idmap_put(&agent->offers, o->id, o);
    dr_resources_add(&fw->offered_resources, &o->resources);
    dr_resources_add(&agent->offered_resources, &o->resources);
    if (m->opts.offer_timeout_ns > 0)
        o->timeout_timer = dr_env_timer_add(m->env, m->opts.offer_timeout_ns,
                                            offer_timeout_fire, o);
    m->counters.offers_sent++;
    return o;
}

/* Unlinks and frees an offer; its resources are the caller's business. */
static void offer_unlink(dr_master *m, dr_moffer *o)
{
    dr_mframework *fw = dr__master_framework(m, o->framework_id);
    dr_magent *agent = dr__master_agent(m, o->agent_id);
    DR_ASSERT(fw != NULL);
    DR_ASSERT(agent != NULL);
    void *r = dr_idmap_remove(&m->offers, o->id);
    DR_ASSERT(r == o);
    r = dr_idmap_remove(&fw->offers, o->id);
    DR_ASSERT(r == o);
    r = dr_idmap_remove(&agent->offers, o->id);
    DR_ASSERT(r == o);
    dr_resources_subtract(&fw->offered_resources, &o->resources);
    dr_resources_subtract(&agent->offered_resources, &o->resources);
    dr_env_timer_cancel(m->env, o->timeout_timer);
    dr_free(o->id);
    dr_free(o->framework_id);
    dr_free(o->agent_id);
    dr_free(o->role);
    dr_resources_deinit(&o->resources);
    dr_free(o);
}

void dr__offer_remove(dr_master *m, dr_moffer *o, bool rescind, uint64_t refuse_ns)
{
    dr_mframework *fw = dr__master_framework(m, o->framework_id);
    DR_ASSERT(fw != NULL);
    if (rescind) {
        Mesos__OfferID oid = MESOS__OFFER_ID__INIT;
        oid.value = o->id;
        Mesos__Scheduler__Event__Rescind r = MESOS__SCHEDULER__EVENT__RESCIND__INIT;
        r.offer_id = &oid;
        Mesos__Scheduler__Event ev = MESOS__SCHEDULER__EVENT__INIT;
        ev.has_type = true;
        ev.type = MESOS__SCHEDULER__EVENT__TYPE__RESCIND;
        ev.rescind = &r;
        dr__scheduler_send(m, fw, &ev);
        m->counters.offers_rescinded++;
    }
    dr_allocator_recover(m->allocator, o->framework_id, o->agent_id, o->role,
                         (const Mesos__Resource *const *)o->resources.items, o->resources.count,
                         refuse_ns, dr_env_now(m->env));
    offer_unlink(m, o);
}

static void offer_timeout_fire(dr_env *env, void *ctx)
{
    DR_UNUSED(env);
    dr_moffer *o = ctx;
    DR_ASSERT(o->timeout_timer != 0);
    o->timeout_timer = 0;
    dr_master *m = o->master;
    m->counters.offers_timed_out++;
    DR_INFO(m->env, "offer %s of framework %s timed out", o->id, o->framework_id);
    dr__offer_remove(m, o, true, 0);
    dr__allocate_soon(m);
}

void dr__offers_rescind_agent(dr_master *m, dr_magent *agent)
{
    while (agent->offers.count > 0)
        dr__offer_remove(m, agent->offers.items[0].value, true, 0);
}

void dr__offers_rescind_framework(dr_master *m, dr_mframework *fw, bool tell)
{
    while (fw->offers.count > 0)
        dr__offer_remove(m, fw->offers.items[0].value, tell, 0);
}

/* ---- making offers -------------------------------------------------------------------- */

/* The pieces of one Mesos__Offer built on the heap for one event. */
typedef struct offer_msg {
    Mesos__Offer offer;
    Mesos__OfferID id;
    Mesos__FrameworkID framework_id;
    Mesos__AgentID agent_id;
    Mesos__URL url;
    Mesos__Address address;
    Mesos__Resource__AllocationInfo alloc;
    Mesos__ExecutorID **executor_ids; /* borrowed from the agent's executors */
} offer_msg;

static void offer_msg_fill(dr_master *m, offer_msg *om, dr_moffer *o, dr_magent *agent)
{
    DR_UNUSED(m);
    Mesos__Offer init = MESOS__OFFER__INIT;
    om->offer = init;
    Mesos__OfferID oid = MESOS__OFFER_ID__INIT;
    om->id = oid;
    om->id.value = o->id;
    Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
    om->framework_id = fid;
    om->framework_id.value = o->framework_id;
    Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
    om->agent_id = aid;
    om->agent_id.value = o->agent_id;
    Mesos__Address addr = MESOS__ADDRESS__INIT;
    om->address = addr;
    om->address.hostname = agent->hostname;
    /* The agent's pid holds "slave(1)@<ip>:<port>". */
    char ipbuf[64];
    const char *at = strchr(agent->pid, '@');
    const char *colon = at != NULL ? strrchr(at, ':') : NULL;
    if (at != NULL && colon != NULL && (size_t)(colon - at - 1) < sizeof ipbuf) {
        memcpy(ipbuf, at + 1, (size_t)(colon - at - 1));
        ipbuf[colon - at - 1] = '\0';
    } else {
        dr_strlcpy(ipbuf, agent->hostname, sizeof ipbuf);
    }
    om->address.ip = dr_strdup(ipbuf);
    om->address.port = agent->port;
    Mesos__URL url = MESOS__URL__INIT;
    om->url = url;
    om->url.scheme = "http";
    om->url.address = &om->address;
    om->url.path = "/slave(1)";
    Mesos__Resource__AllocationInfo ai = MESOS__RESOURCE__ALLOCATION_INFO__INIT;
    om->alloc = ai;
    om->alloc.role = o->role;
    om->offer.id = &om->id;
    om->offer.framework_id = &om->framework_id;
    om->offer.agent_id = &om->agent_id;
    om->offer.hostname = agent->hostname;
    om->offer.url = &om->url;
    om->offer.n_resources = o->resources.count;
    om->offer.resources = o->resources.items;
    om->offer.n_attributes = agent->info->n_attributes;
    om->offer.attributes = agent->info->attributes;
    om->offer.allocation_info = &om->alloc;
    size_t n = 0;
    om->executor_ids = dr_alloc_array(agent->executors.count + 1, sizeof(Mesos__ExecutorID *));
    for (size_t i = 0; i < agent->executors.count; i++) {
        dr_mexecutor *e = agent->executors.items[i].value;
        if (strcmp(e->framework_id, o->framework_id) == 0)
            om->executor_ids[n++] = e->info->executor_id;
    }
    om->offer.n_executor_ids = n;
    om->offer.executor_ids = om->executor_ids;
    om->offer.domain = agent->info->domain;
}

static void offer_msg_deinit(offer_msg *om)
{
    dr_free(om->address.ip);
    dr_free(om->executor_ids);
}

typedef struct fw_batch {
    dr_mframework *fw;
    dr_moffer **offers;
    size_t count;
} fw_batch;

static void send_offers(dr_master *m, fw_batch *b)
{
    offer_msg *msgs = dr_alloc_array(b->count, sizeof *msgs);
    Mesos__Offer **ptrs = dr_alloc_array(b->count, sizeof *ptrs);
    for (size_t i = 0; i < b->count; i++) {
        dr_magent *agent = dr__master_agent(m, b->offers[i]->agent_id);
        DR_ASSERT(agent != NULL);
        offer_msg_fill(m, &msgs[i], b->offers[i], agent);
        ptrs[i] = &msgs[i].offer;
    }
    Mesos__Scheduler__Event__Offers eo = MESOS__SCHEDULER__EVENT__OFFERS__INIT;
    eo.n_offers = b->count;
    eo.offers = ptrs;
    Mesos__Scheduler__Event ev = MESOS__SCHEDULER__EVENT__INIT;
    ev.has_type = true;
    ev.type = MESOS__SCHEDULER__EVENT__TYPE__OFFERS;
    ev.offers = &eo;
    dr__scheduler_send(m, b->fw, &ev);
    for (size_t i = 0; i < b->count; i++)
        offer_msg_deinit(&msgs[i]);
    dr_free(msgs);
    dr_free(ptrs);
}

static void allocate_now(dr_master *m)
{
    if (m->shutting_down)
        return;
    uint64_t t0 = dr_env_now(m->env);
    dr_alloc_grants grants;
    memset(&grants, 0, sizeof grants);
    dr_allocator_allocate(m->allocator, t0, &grants);
    m->counters.allocation_runs++;

    /* One OFFERS event per framework, frameworks in id order. */
    dr_idmap batches;
    dr_idmap_init(&batches);
    for (size_t i = 0; i < grants.count; i++) {
        const dr_alloc_grant *g = &grants.items[i];
        dr_mframework *fw = dr__master_framework(m, g->framework_id);
        dr_magent *agent = dr__master_agent(m, g->agent_id);
        if (fw == NULL || fw->state != DR_MFRAMEWORK_CONNECTED || agent == NULL ||
            agent->state != DR_MAGENT_CONNECTED) {
            /* The allocator was told of every such change; a grant for
             * them means a race inside this batch: give it back. */
            dr_allocator_recover(m->allocator, g->framework_id, g->agent_id, g->role,
                                 (const Mesos__Resource *const *)g->resources,
                                 g->resource_count, 0, t0);
            continue;
        }
        dr_moffer *o = offer_create(m, fw, agent, g);
        fw_batch *b = dr_idmap_get(&batches, fw->id);
        if (b == NULL) {
            b = dr_alloc(sizeof *b);
            b->fw = fw;
            b->offers = dr_alloc_array(grants.count, sizeof *b->offers);
            dr_idmap_put(&batches, fw->id, b);
        }
        b->offers[b->count++] = o;
    }
    dr_allocator_grants_free(&grants);
    for (size_t i = 0; i < batches.count; i++) {
        fw_batch *b = batches.items[i].value;
        send_offers(m, b);
        dr_free(b->offers);
        dr_free(b);
    }
    dr_idmap_deinit(&batches);
    uint64_t run_ns = dr_env_now(m->env) - t0;
    m->counters.allocation_run_ns_total += run_ns;
    dr__operator_note_allocation_run(m, run_ns);
}

/* ---- DECLINE ------------------------------------------------------------------------------ */

static uint64_t refuse_ns_of(dr_master *m, const Mesos__Filters *filters)
{
    if (filters == NULL || !filters->has_refuse_seconds)
        return m->opts.default_refuse_ns;
    double s = filters->refuse_seconds;
    if (!(s >= 0) || isnan(s))
        return m->opts.default_refuse_ns; /* Mesos: negative means the default */
    if (s * (double)DR_NS_PER_S >= (double)REFUSE_MAX_NS)
        return REFUSE_MAX_NS;
    return (uint64_t)(s * (double)DR_NS_PER_S);
}

void dr__scheduler_decline(dr_master *m, dr_mframework *fw, Mesos__Scheduler__Call__Decline *dec)
{
    uint64_t refuse_ns = refuse_ns_of(m, dec->filters);
    for (size_t i = 0; i < dec->n_offer_ids; i++) {
        dr_moffer *o = dr_idmap_get(&fw->offers, dec->offer_ids[i]->value);
        if (o == NULL) {
            DR_INFO(m->env, "framework %s: decline of unknown offer %s ignored", fw->id,
                    dec->offer_ids[i]->value);
            continue;
        }
        m->counters.offers_declined++;
        dr__offer_remove(m, o, false, refuse_ns);
    }
}

/* ---- ACCEPT ------------------------------------------------------------------------------- */

/* Mesos's common::validation::validateID. */
dr_code dr__validate_id(const char *what, const char *id, dr_err *err)
{
    size_t len = strlen(id);
    if (len == 0)
        return dr_err_set(err, DR_EINVAL, "%s must not be empty", what);
    if (len > 255)
        return dr_err_set(err, DR_EINVAL, "%s '%.40s...' must not be greater than 255 characters",
                          what, id);
    if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return dr_err_set(err, DR_EINVAL, "%s '%s' is disallowed", what, id);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f || c == ' ')
            return dr_err_set(err, DR_EINVAL, "%s '%s' contains invalid characters", what, id);
    }
    return DR_OK;
}

/* Validates resources (borrowed) for role and adds them, with their
 * allocation role set, to out. */
static dr_code task_resources(const char *what, Mesos__Resource *const *items, size_t count,
                              const char *role, dr_resources *out, dr_err *err)
{
    dr_resources rs;
    dr_resources_init(&rs);
    dr_err rerr;
    if (dr_resources_from_array(&rs, (const Mesos__Resource *const *)items, count, &rerr) !=
        DR_OK) {
        dr_resources_deinit(&rs);
        return dr_err_set(err, DR_EINVAL, "%s uses invalid resources: %s", what, rerr.msg);
    }
    for (size_t i = 0; i < rs.count; i++) {
        const Mesos__Resource *r = rs.items[i];
        if (r->allocation_info != NULL && r->allocation_info->role != NULL &&
            strcmp(r->allocation_info->role, role) != 0) {
            dr_code rc = dr_err_set(err, DR_EINVAL,
                                    "%s uses resources allocated to role '%s' but the offers "
                                    "are allocated to role '%s'",
                                    what, r->allocation_info->role, role);
            dr_resources_deinit(&rs);
            return rc;
        }
    }
    dr_resources_set_allocation_role(&rs, role); /* leaves rs a normalised sum */
    if (out->count == 0)
        dr_resources_move(out, &rs); /* what adding it would give, without the copies */
    else
        dr_resources_add(out, &rs);
    dr_resources_deinit(&rs);
    return DR_OK;
}

static dr_mexecutor *find_executor(dr_magent *agent, const char *framework_id,
                                   const char *executor_id)
{
    char *key = dr_sprintf("%s %s", framework_id, executor_id);
    dr_mexecutor *e = dr_idmap_get(&agent->executors, key);
    dr_free(key);
    return e;
}

static bool executor_infos_equal(const Mesos__ExecutorInfo *a, const Mesos__ExecutorInfo *b)
{
    dr_buf x, y;
    dr_buf_init(&x);
    dr_buf_init(&y);
    dr_err err;
    bool eq = dr_proto_encode(&a->base, &x, &err) == DR_OK &&
              dr_proto_encode(&b->base, &y, &err) == DR_OK && x.size == y.size &&
              memcmp(x.data, y.data, x.size) == 0;
    dr_buf_deinit(&x);
    dr_buf_deinit(&y);
    return eq;
}

dr_mexecutor *dr__agent_add_executor(dr_magent *agent, const char *framework_id,
                                     const Mesos__ExecutorInfo *info)
{
    dr_mexecutor *e = find_executor(agent, framework_id, info->executor_id->value);
    if (e != NULL)
        return e;
    e = dr_alloc(sizeof *e);
    e->key = dr_sprintf("%s %s", framework_id, info->executor_id->value);
    e->framework_id = dr_strdup(framework_id);
    Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
    fid.value = (char *)framework_id;
    Mesos__ExecutorInfo copy = *info;
    copy.framework_id = &fid;
    e->info = dr__master_pb_clone(&copy);
    dr_idmap_put(&agent->executors, e->key, e);
    return e;
}

/* Checks one task against the remaining offered resources; on success adds
 * to *consumed what it takes (its resources, plus its executor's when the
 * executor is new, not already counted in *new_executor). */
static dr_code validate_task(dr_master *m, dr_mframework *fw, dr_magent *agent, const char *role,
                             const Mesos__TaskInfo *ti, const Mesos__ExecutorInfo *group_executor,
                             const dr_idmap *launched, dr_resources *task_rs,
                             dr_resources *exec_rs, dr_err *err)
{
    DR_UNUSED(m);
    const char *id = ti->task_id->value;
    dr_err e2;
    if (dr__validate_id("Task ID", id, &e2) != DR_OK)
        return dr_err_set(err, DR_EINVAL, "%s", e2.msg);
    if (dr_idmap_get(&fw->tasks, id) != NULL || dr_idmap_get(launched, id) != NULL)
        return dr_err_set(err, DR_EINVAL, "Task has duplicate ID: %s", id);
    if (strcmp(ti->agent_id->value, agent->id) != 0)
        return dr_err_set(err, DR_EINVAL, "Task uses invalid agent: %s", ti->agent_id->value);
    if (group_executor != NULL) {
        if (ti->executor != NULL)
            return dr_err_set(err, DR_EINVAL,
                              "Task '%s' of a task group must not have 'ExecutorInfo' set", id);
    } else if ((ti->executor == NULL) == (ti->command == NULL)) {
        return dr_err_set(err, DR_EINVAL,
                          "Task should have at least one (but not both) of CommandInfo or "
                          "ExecutorInfo present");
    }
    if (task_resources("Task", ti->resources, ti->n_resources, role, task_rs, err) != DR_OK)
        return err->code;
    const Mesos__ExecutorInfo *ex = group_executor != NULL ? group_executor : ti->executor;
    if (ex != NULL) {
        if (dr__validate_id("Executor ID", ex->executor_id->value, &e2) != DR_OK)
            return dr_err_set(err, DR_EINVAL, "%s", e2.msg);
        if (ex->framework_id != NULL && strcmp(ex->framework_id->value, fw->id) != 0)
            return dr_err_set(err, DR_EINVAL,
                              "ExecutorInfo has an invalid FrameworkID (Actual: %s vs Expected: "
                              "%s)",
                              ex->framework_id->value, fw->id);
        dr_mexecutor *known = find_executor(agent, fw->id, ex->executor_id->value);
        if (known != NULL) {
            Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
            fid.value = fw->id;
            Mesos__ExecutorInfo copy = *ex;
            copy.framework_id = &fid;
            if (group_executor == NULL && !executor_infos_equal(&copy, known->info))
                return dr_err_set(err, DR_EINVAL,
                                  "ExecutorInfo is not compatible with existing ExecutorInfo "
                                  "of executor '%s'",
                                  ex->executor_id->value);
        } else if (exec_rs != NULL) {
            if (task_resources("Executor", ex->resources, ex->n_resources, role, exec_rs, err) !=
                DR_OK)
                return err->code;
        }
    }
    if (dr_resources_is_empty(task_rs) && (exec_rs == NULL || dr_resources_is_empty(exec_rs)))
        return dr_err_set(err, DR_EINVAL, "Task uses no resources");
    return DR_OK;
}

static dr_code check_fits(const dr_resources *available, const dr_resources *want, dr_err *err)
{
    if (dr_resources_contains(available, want))
        return DR_OK;
    char *w = dr_resources_to_string(want);
    char *a = dr_resources_to_string(available);
    dr_err_set(err, DR_EINVAL, "Task uses more resources %s than available %s", w, a);
    dr_free(w);
    dr_free(a);
    return DR_EINVAL;
}

static void task_error(dr_master *m, dr_mframework *fw, const char *task_id, const char *agent_id,
                       Mesos__TaskStatus__Reason reason, const char *message)
{
    m->counters.tasks_invalid++;
    dr__task_count_terminal(m, MESOS__TASK_STATE__TASK_ERROR);
    DR_INFO(m->env, "framework %s: task %s invalid: %s", fw->id, task_id, message);
    dr__task_send_generated(m, fw, task_id, agent_id, MESOS__TASK_STATE__TASK_ERROR,
                            MESOS__TASK_STATUS__SOURCE__SOURCE_MASTER, reason, true, message);
}

/* Sends RUN_TASK / RUN_TASK_GROUP and records the tasks. */
static void launch(dr_master *m, dr_mframework *fw, dr_magent *agent, const char *role,
                   Mesos__TaskInfo *const *tis, const dr_resources *task_rs, size_t count,
                   const Mesos__ExecutorInfo *group_executor)
{
    Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
    fid.value = fw->id;
    Mesos__ExecutorInfo exec_copy;
    const Mesos__ExecutorInfo *ex = group_executor;
    Mesos__TaskInfo *sent = dr_alloc_array(count, sizeof *sent);
    Mesos__TaskInfo **sent_ptrs = dr_alloc_array(count, sizeof *sent_ptrs);
    for (size_t i = 0; i < count; i++) {
        sent[i] = *tis[i];
        sent[i].n_resources = task_rs[i].count;
        sent[i].resources = task_rs[i].items;
        sent_ptrs[i] = &sent[i];
        if (group_executor == NULL && tis[i]->executor != NULL) {
            exec_copy = *tis[i]->executor;
            exec_copy.framework_id = &fid;
            sent[i].executor = &exec_copy;
            dr__agent_add_executor(agent, fw->id, &exec_copy);
        }
    }
    Mesos__ExecutorInfo group_copy;
    if (group_executor != NULL) {
        group_copy = *group_executor;
        group_copy.framework_id = &fid;
        ex = &group_copy;
        dr__agent_add_executor(agent, fw->id, ex);
    }
    for (size_t i = 0; i < count; i++) {
        Mesos__TaskInfo rec = sent[i];
        if (group_executor != NULL)
            rec.executor = (Mesos__ExecutorInfo *)ex;
        dr__task_add(m, fw, agent, &rec, &task_rs[i], role, MESOS__TASK_STATE__TASK_STAGING);
        m->counters.tasks_launched++;
    }
    Dromos__Internal__AgentEvent ev = DROMOS__INTERNAL__AGENT_EVENT__INIT;
    Dromos__Internal__AgentEvent__RunTask run = DROMOS__INTERNAL__AGENT_EVENT__RUN_TASK__INIT;
    run.framework_info = fw->info;
    ev.run_task = &run;
    if (group_executor != NULL) {
        Mesos__TaskGroupInfo group = MESOS__TASK_GROUP_INFO__INIT;
        group.n_tasks = count;
        group.tasks = sent_ptrs;
        run.executor = (Mesos__ExecutorInfo *)ex;
        run.task_group = &group;
        ev.type = DROMOS__INTERNAL__AGENT_EVENT__TYPE__RUN_TASK_GROUP;
        dr__agent_send(m, agent, &ev);
    } else {
        ev.type = DROMOS__INTERNAL__AGENT_EVENT__TYPE__RUN_TASK;
        for (size_t i = 0; i < count; i++) {
            run.task = &sent[i];
            run.executor = sent[i].executor;
            dr__agent_send(m, agent, &ev);
        }
    }
    dr_free(sent);
    dr_free(sent_ptrs);
}

static void accept_launch(dr_master *m, dr_mframework *fw, dr_magent *agent, const char *role,
                          const Mesos__Offer__Operation__Launch *op, dr_resources *available,
                          dr_idmap *launched)
{
    for (size_t i = 0; i < op->n_task_infos; i++) {
        Mesos__TaskInfo *ti = op->task_infos[i];
        dr_resources task_rs, exec_rs, all;
        dr_resources_init(&task_rs);
        dr_resources_init(&exec_rs);
        dr_resources_init(&all);
        dr_err err;
        dr_code rc = validate_task(m, fw, agent, role, ti, NULL, launched, &task_rs, &exec_rs,
                                   &err);
        if (rc == DR_OK) {
            dr_resources_add(&all, &task_rs);
            dr_resources_add(&all, &exec_rs);
            rc = check_fits(available, &all, &err);
        }
        if (rc != DR_OK) {
            task_error(m, fw, ti->task_id->value, agent->id,
                       MESOS__TASK_STATUS__REASON__REASON_TASK_INVALID, err.msg);
        } else {
            dr_resources_subtract(available, &all);
            /* The task record carries its executor's new resources too, so
             * they return to the allocator with it. */
            launch(m, fw, agent, role, &ti, &all, 1, NULL);
            dr_idmap_put(launched, ((dr_mtask *)dr_idmap_get(&fw->tasks, ti->task_id->value))->id,
                         dr_idmap_get(&fw->tasks, ti->task_id->value));
        }
        dr_resources_deinit(&task_rs);
        dr_resources_deinit(&exec_rs);
        dr_resources_deinit(&all);
    }
}

static void accept_launch_group(dr_master *m, dr_mframework *fw, dr_magent *agent,
                                const char *role, const Mesos__Offer__Operation__LaunchGroup *op,
                                dr_resources *available, dr_idmap *launched)
{
    const Mesos__TaskGroupInfo *g = op->task_group;
    size_t n = g->n_tasks;
    dr_resources *rs = dr_alloc_array(n + 1, sizeof *rs);
    dr_resources exec_rs, all;
    dr_resources_init(&exec_rs);
    dr_resources_init(&all);
    for (size_t i = 0; i < n; i++)
        dr_resources_init(&rs[i]);
    dr_err err;
    dr_code rc = DR_OK;
    if (n == 0)
        rc = dr_err_set(&err, DR_EINVAL, "Task group must have at least one task");
    if (rc == DR_OK && op->executor->has_type &&
        op->executor->type != MESOS__EXECUTOR_INFO__TYPE__DEFAULT)
        rc = dr_err_set(&err, DR_EINVAL, "'ExecutorInfo.type' of a task group must be 'DEFAULT'");
    dr_idmap group_ids;
    dr_idmap_init(&group_ids);
    for (size_t i = 0; i < n && rc == DR_OK; i++) {
        const Mesos__TaskInfo *ti = g->tasks[i];
        if (dr_idmap_get(&group_ids, ti->task_id->value) != NULL) {
            rc = dr_err_set(&err, DR_EINVAL, "Task has duplicate ID: %s", ti->task_id->value);
            break;
        }
        rc = validate_task(m, fw, agent, role, ti, op->executor, launched, &rs[i],
                           i == 0 ? &exec_rs : NULL, &err);
        if (rc == DR_OK) {
            dr_idmap_put(&group_ids, ti->task_id->value, (void *)ti);
            dr_resources_add(&all, &rs[i]);
        }
    }
    dr_idmap_deinit(&group_ids);
    if (rc == DR_OK) {
        /* The executor's resources ride with the first task. */
        dr_resources_add(&rs[0], &exec_rs);
        dr_resources_add(&all, &exec_rs);
        rc = check_fits(available, &all, &err);
    }
    if (rc != DR_OK) {
        for (size_t i = 0; i < n; i++)
            task_error(m, fw, g->tasks[i]->task_id->value, agent->id,
                       MESOS__TASK_STATUS__REASON__REASON_TASK_GROUP_INVALID, err.msg);
    } else {
        dr_resources_subtract(available, &all);
        launch(m, fw, agent, role, g->tasks, rs, n, op->executor);
        for (size_t i = 0; i < n; i++) {
            dr_mtask *t = dr_idmap_get(&fw->tasks, g->tasks[i]->task_id->value);
            DR_ASSERT(t != NULL);
            dr_idmap_put(launched, t->id, t);
        }
    }
    for (size_t i = 0; i < n; i++)
        dr_resources_deinit(&rs[i]);
    dr_free(rs);
    dr_resources_deinit(&exec_rs);
    dr_resources_deinit(&all);
}

static const char *operation_name(Mesos__Offer__Operation__Type t)
{
    switch (t) {
    case MESOS__OFFER__OPERATION__TYPE__RESERVE:
        return "RESERVE";
    case MESOS__OFFER__OPERATION__TYPE__UNRESERVE:
        return "UNRESERVE";
    case MESOS__OFFER__OPERATION__TYPE__CREATE:
        return "CREATE";
    case MESOS__OFFER__OPERATION__TYPE__DESTROY:
        return "DESTROY";
    case MESOS__OFFER__OPERATION__TYPE__LAUNCH:
        return "LAUNCH";
    case MESOS__OFFER__OPERATION__TYPE__LAUNCH_GROUP:
        return "LAUNCH_GROUP";
    default:
        return "UNKNOWN";
    }
}

/* Offer.Operation.id (Mesos 1.5+: the framework asks for operation
 * feedback), or NULL. */
static const char *operation_id(const Mesos__Offer__Operation *op)
{
    return op->id != NULL ? op->id->value : NULL;
}

/* Drops an operation of an ACCEPT that this master cannot apply, as Mesos's
 * Master::drop: logged, counted (counters.operations_error), and, when the
 * operation has an id, answered with UPDATE_OPERATION_STATUS in state
 * OPERATION_ERROR saying why (no agent id and no uuid: nothing to
 * acknowledge). The other operations of the call go on. */
static void drop_operation(dr_master *m, dr_mframework *fw, const Mesos__Offer__Operation *op,
                           Mesos__Offer__Operation__Type type)
{
    char why[256];
    switch (type) {
    case MESOS__OFFER__OPERATION__TYPE__LAUNCH:
        snprintf(why, sizeof why, "Invalid LAUNCH operation: expecting 'launch' to be present");
        break;
    case MESOS__OFFER__OPERATION__TYPE__LAUNCH_GROUP:
        snprintf(why, sizeof why,
                 "Invalid LAUNCH_GROUP operation: expecting 'launch_group' with 'executor' and "
                 "'task_group' to be present");
        break;
    case MESOS__OFFER__OPERATION__TYPE__RESERVE:
    case MESOS__OFFER__OPERATION__TYPE__UNRESERVE:
    case MESOS__OFFER__OPERATION__TYPE__CREATE:
    case MESOS__OFFER__OPERATION__TYPE__DESTROY:
        snprintf(why, sizeof why,
                 "%s operations are not supported by this master yet (no dynamic reservations "
                 "or persistent volumes)",
                 operation_name(type));
        break;
    default:
        snprintf(why, sizeof why, "Unknown offer operation type %d", (int)type);
        break;
    }
    const char *id = operation_id(op);
    DR_WARN(m->env, "Dropping %s operation%s%s from framework %s: %s", operation_name(type),
            id != NULL ? " " : "", id != NULL ? id : "", fw->id, why);
    unsigned slot = (unsigned)type < DR_ARRAY_COUNT(m->counters.operations_error) ? (unsigned)type : 0;
    m->counters.operations_error[slot]++;
    if (id == NULL)
        return;
    Mesos__OperationID oid = MESOS__OPERATION_ID__INIT;
    oid.value = (char *)id;
    Mesos__OperationStatus st = MESOS__OPERATION_STATUS__INIT;
    st.operation_id = &oid;
    st.state = MESOS__OPERATION_STATE__OPERATION_ERROR;
    st.message = why;
    Mesos__Scheduler__Event__UpdateOperationStatus u =
        MESOS__SCHEDULER__EVENT__UPDATE_OPERATION_STATUS__INIT;
    u.status = &st;
    Mesos__Scheduler__Event ev = MESOS__SCHEDULER__EVENT__INIT;
    ev.has_type = true;
    ev.type = MESOS__SCHEDULER__EVENT__TYPE__UPDATE_OPERATION_STATUS;
    ev.update_operation_status = &u;
    dr__scheduler_send(m, fw, &ev);
}

/* The tasks of an ACCEPT whose offers are invalid: TASK_DROPPED for a
 * partition-aware framework, TASK_LOST otherwise (as Mesos). */
static void drop_tasks(dr_master *m, dr_mframework *fw, const Mesos__Scheduler__Call__Accept *acc,
                       const char *why)
{
    char msg[320];
    snprintf(msg, sizeof msg, "Task launched with invalid offers: %s", why);
    Mesos__TaskState state =
        fw->partition_aware ? MESOS__TASK_STATE__TASK_DROPPED : MESOS__TASK_STATE__TASK_LOST;
    for (size_t i = 0; i < acc->n_operations; i++) {
        const Mesos__Offer__Operation *op = acc->operations[i];
        Mesos__TaskInfo **tis = NULL;
        size_t n = 0;
        if (op->launch != NULL) {
            tis = op->launch->task_infos;
            n = op->launch->n_task_infos;
        } else if (op->launch_group != NULL && op->launch_group->task_group != NULL) {
            tis = op->launch_group->task_group->tasks;
            n = op->launch_group->task_group->n_tasks;
        }
        for (size_t j = 0; j < n; j++) {
            dr__task_count_terminal(m, state);
            dr__task_send_generated(m, fw, tis[j]->task_id->value, tis[j]->agent_id->value,
                                    state, MESOS__TASK_STATUS__SOURCE__SOURCE_MASTER,
                                    MESOS__TASK_STATUS__REASON__REASON_INVALID_OFFERS, true, msg);
        }
    }
}

void dr__scheduler_accept(dr_master *m, dr_mframework *fw, Mesos__Scheduler__Call__Accept *acc)
{
    uint64_t refuse_ns = refuse_ns_of(m, acc->filters);
    dr_err err;
    dr_code rc = DR_OK;
    dr_moffer **offers = dr_alloc_array(acc->n_offer_ids + 1, sizeof *offers);
    size_t count = 0;
    if (acc->n_offer_ids == 0)
        rc = dr_err_set(&err, DR_EINVAL, "No offers specified");
    for (size_t i = 0; i < acc->n_offer_ids && rc == DR_OK; i++) {
        const char *id = acc->offer_ids[i]->value;
        for (size_t j = 0; j < i; j++)
            if (strcmp(acc->offer_ids[j]->value, id) == 0)
                rc = dr_err_set(&err, DR_EINVAL, "Duplicate offer %s in the same accept", id);
        if (rc != DR_OK)
            break;
        dr_moffer *o = dr_idmap_get(&m->offers, id);
        if (o == NULL) {
            rc = dr_err_set(&err, DR_EINVAL, "Offer %s is no longer valid", id);
        } else if (strcmp(o->framework_id, fw->id) != 0) {
            rc = dr_err_set(&err, DR_EINVAL, "Offer %s has invalid framework", id);
        } else {
            if (count > 0 && strcmp(o->agent_id, offers[0]->agent_id) != 0)
                rc = dr_err_set(&err, DR_EINVAL,
                                "Aggregated offers must belong to one single agent");
            else if (count > 0 && strcmp(o->role, offers[0]->role) != 0)
                rc = dr_err_set(&err, DR_EINVAL,
                                "Aggregated offers must be allocated to the same role");
            offers[count++] = o;
        }
    }
    if (rc != DR_OK) {
        DR_INFO(m->env, "framework %s: ACCEPT refused: %s", fw->id, err.msg);
        /* Its own valid offers go back without a filter, as Mesos. */
        for (size_t i = 0; i < count; i++)
            dr__offer_remove(m, offers[i], false, 0);
        dr_free(offers);
        drop_tasks(m, fw, acc, err.msg);
        return;
    }
    m->counters.offers_accepted += count;
    dr_magent *agent = dr__master_agent(m, offers[0]->agent_id);
    DR_ASSERT(agent != NULL);
    DR_ASSERT(agent->state == DR_MAGENT_CONNECTED); /* else its offers were rescinded */
    char *role = dr_strdup(offers[0]->role);
    dr_resources available;
    dr_resources_init(&available);
    for (size_t i = 0; i < count; i++) {
        dr_resources_add(&available, &offers[i]->resources);
        offer_unlink(m, offers[i]);
    }
    dr_free(offers);

    dr_idmap launched; /* task ids launched by this call (values borrowed) */
    dr_idmap_init(&launched);
    for (size_t i = 0; i < acc->n_operations; i++) {
        const Mesos__Offer__Operation *op = acc->operations[i];
        Mesos__Offer__Operation__Type type =
            op->has_type ? op->type : MESOS__OFFER__OPERATION__TYPE__UNKNOWN;
        if (type == MESOS__OFFER__OPERATION__TYPE__LAUNCH && op->launch != NULL) {
            accept_launch(m, fw, agent, role, op->launch, &available, &launched);
        } else if (type == MESOS__OFFER__OPERATION__TYPE__LAUNCH_GROUP &&
                   op->launch_group != NULL && op->launch_group->executor != NULL &&
                   op->launch_group->task_group != NULL) {
            accept_launch_group(m, fw, agent, role, op->launch_group, &available, &launched);
        } else {
            drop_operation(m, fw, op, type);
        }
    }
    dr_idmap_deinit(&launched);
    if (!dr_resources_is_empty(&available))
        dr_allocator_recover(m->allocator, fw->id, agent->id, role,
                             (const Mesos__Resource *const *)available.items, available.count,
                             refuse_ns, dr_env_now(m->env));
    dr_resources_deinit(&available);
    dr_free(role);
}
