/* tests/integration/agent_sched_main.c — a small scheduler for the agent's
 * real tests (tests/integration/agent_real.sh), on src/sched:
 *
 *   agent_sched HOST:PORT COUNT COMMAND TIMEOUT_S
 *
 * Subscribes a checkpointing framework, launches COUNT tasks whose command
 * value is COMMAND (the test executor reads it: "finish", "finish4", "fail",
 * "run"), acknowledges every update once (a repeated uuid is counted, not
 * acknowledged again: the agent resends until its ack arrives), and prints
 * one line per update ("update t3 TASK_RUNNING") and a summary:
 * "done finished=N failed=N other=N duplicates=N out_of_order=N". Exits 0
 * when every task reached a terminal state, 1 on timeout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/env/real/real.h"
#include "src/resources/resources.h"
#include "src/sched/sched.h"

#define TASK_MAX 64
#define SEEN_MAX 1024

typedef struct tstate {
    char id[24];
    int state; /* -1: not launched */
    int update_count;
} tstate;

typedef struct ctx {
    dr_env *env;
    const char *command;
    size_t count;
    bool launched;
    tstate tasks[TASK_MAX];
    uint8_t seen[SEEN_MAX][16];
    size_t seen_count;
    unsigned duplicates, out_of_order, finished, failed, other, terminal;
} ctx;

static bool terminal(int s)
{
    return s == MESOS__TASK_STATE__TASK_FINISHED || s == MESOS__TASK_STATE__TASK_FAILED ||
           s == MESOS__TASK_STATE__TASK_KILLED || s == MESOS__TASK_STATE__TASK_LOST ||
           s == MESOS__TASK_STATE__TASK_ERROR || s == MESOS__TASK_STATE__TASK_DROPPED ||
           s == MESOS__TASK_STATE__TASK_GONE;
}

static void offers(dr_sched *s, const Mesos__Scheduler__Event__Offers *ev, void *arg)
{
    ctx *c = arg;
    for (size_t o = 0; o < ev->n_offers; o++) {
        const Mesos__Offer *offer = ev->offers[o];
        const char *oid = offer->id->value;
        dr_err err;
        if (c->launched) {
            if (dr_sched_decline(s, &oid, 1, 3600, &err) != DR_OK)
                fprintf(stderr, "decline: %s\n", err.msg);
            continue;
        }
        c->launched = true;
        Mesos__Offer__Operation op = MESOS__OFFER__OPERATION__INIT;
        Mesos__Offer__Operation__Launch launch = MESOS__OFFER__OPERATION__LAUNCH__INIT;
        Mesos__TaskInfo infos[TASK_MAX];
        Mesos__TaskInfo *ptrs[TASK_MAX];
        Mesos__TaskID tids[TASK_MAX];
        Mesos__CommandInfo cmd = MESOS__COMMAND_INFO__INIT;
        cmd.value = (char *)c->command;
        Mesos__Resource *cpu = dr_resource_new_scalar("cpus", NULL, 0.1);
        Mesos__Resource *mem = dr_resource_new_scalar("mem", NULL, 64);
        if (offer->n_resources > 0 && offer->resources[0]->allocation_info != NULL) {
            cpu->allocation_info = dr_alloc(sizeof *cpu->allocation_info);
            mesos__resource__allocation_info__init(cpu->allocation_info);
            cpu->allocation_info->role = dr_strdup(offer->resources[0]->allocation_info->role);
            mem->allocation_info = dr_alloc(sizeof *mem->allocation_info);
            mesos__resource__allocation_info__init(mem->allocation_info);
            mem->allocation_info->role = dr_strdup(offer->resources[0]->allocation_info->role);
        }
        Mesos__Resource *res[2] = {cpu, mem};
        for (size_t i = 0; i < c->count; i++) {
            mesos__task_info__init(&infos[i]);
            mesos__task_id__init(&tids[i]);
            snprintf(c->tasks[i].id, sizeof c->tasks[i].id, "t%u", (unsigned)i);
            c->tasks[i].state = MESOS__TASK_STATE__TASK_STAGING;
            tids[i].value = c->tasks[i].id;
            infos[i].name = c->tasks[i].id;
            infos[i].task_id = &tids[i];
            infos[i].agent_id = offer->agent_id;
            infos[i].command = &cmd;
            infos[i].n_resources = 2;
            infos[i].resources = res;
            ptrs[i] = &infos[i];
        }
        launch.n_task_infos = c->count;
        launch.task_infos = ptrs;
        op.has_type = true;
        op.type = MESOS__OFFER__OPERATION__TYPE__LAUNCH;
        op.launch = &launch;
        Mesos__Offer__Operation *ops[1] = {&op};
        if (dr_sched_accept(s, &oid, 1, ops, 1, 5, &err) != DR_OK)
            fprintf(stderr, "accept: %s\n", err.msg);
        dr_resource_free(cpu);
        dr_resource_free(mem);
    }
}

static void update(dr_sched *s, const Mesos__Scheduler__Event__Update *ev, void *arg)
{
    ctx *c = arg;
    const Mesos__TaskStatus *st = ev->status;
    const char *name = protobuf_c_enum_descriptor_get_value(&mesos__task_state__descriptor,
                                                           st->state)->name;
    printf("update %s %s%s%s\n", st->task_id->value, name, st->message != NULL ? " " : "",
           st->message != NULL ? st->message : "");
    fflush(stdout);
    if (st->has_uuid && st->uuid.len == 16) {
        for (size_t i = 0; i < c->seen_count; i++)
            if (memcmp(c->seen[i], st->uuid.data, 16) == 0) {
                c->duplicates++;
                goto ack; /* Mesos may redeliver; acknowledge it again */
            }
        if (c->seen_count < SEEN_MAX)
            memcpy(c->seen[c->seen_count++], st->uuid.data, 16);
    }
    for (size_t i = 0; i < c->count; i++) {
        tstate *t = &c->tasks[i];
        if (strcmp(t->id, st->task_id->value) != 0)
            continue;
        if (terminal(t->state) || (int)st->state < 0)
            c->out_of_order++;
        else if (terminal((int)st->state)) {
            c->terminal++;
            if (st->state == MESOS__TASK_STATE__TASK_FINISHED)
                c->finished++;
            else if (st->state == MESOS__TASK_STATE__TASK_FAILED)
                c->failed++;
            else
                c->other++;
        }
        t->state = (int)st->state;
    }
ack:
    if (st->has_uuid && st->agent_id != NULL) {
        dr_err err;
        if (dr_sched_acknowledge(s, st->agent_id->value, st->task_id->value, st->uuid.data,
                                 st->uuid.len, &err) != DR_OK)
            fprintf(stderr, "acknowledge: %s\n", err.msg);
    }
    if (c->terminal == c->count)
        dr_env_real_stop(c->env);
}

static void timeout_fire(dr_env *env, void *arg)
{
    (void)arg;
    dr_env_real_stop(env);
}

static const dr_sched_cbs cbs = {.offers = offers, .update = update};

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: agent_sched HOST:PORT COUNT COMMAND TIMEOUT_S\n");
        return 2;
    }
    char host[256];
    snprintf(host, sizeof host, "%s", argv[1]);
    char *colon = strrchr(host, ':');
    if (colon == NULL)
        return 2;
    *colon = '\0';
    ctx c = {.command = argv[3], .count = (size_t)atoi(argv[2])};
    if (c.count == 0 || c.count > TASK_MAX)
        return 2;
    dr_env_real_opts eo = {.node_name = "agent-sched", .log_level = DR_LOG_WARN};
    dr_err err;
    if (dr_env_real_create(&eo, &c.env, &err) != DR_OK)
        return 1;
    Mesos__FrameworkInfo fi = MESOS__FRAMEWORK_INFO__INIT;
    fi.user = (char *)"tester";
    fi.name = (char *)"agent-test";
    fi.has_checkpoint = true;
    fi.checkpoint = true;
    fi.has_failover_timeout = true;
    fi.failover_timeout = 60;
    dr_sched_opts so = {.host = host, .port = (uint16_t)atoi(colon + 1), .framework_info = &fi};
    dr_sched *s = NULL;
    if (dr_sched_create(c.env, &so, &cbs, &c, &s, &err) != DR_OK) {
        fprintf(stderr, "agent_sched: %s\n", err.msg);
        return 1;
    }
    dr_sched_start(s);
    dr_env_timer_add(c.env, (uint64_t)atoi(argv[4]) * DR_NS_PER_S, timeout_fire, &c);
    if (dr_env_real_run(c.env, &err) != DR_OK)
        fprintf(stderr, "agent_sched: %s\n", err.msg);
    printf("done finished=%u failed=%u other=%u duplicates=%u out_of_order=%u\n", c.finished,
           c.failed, c.other, c.duplicates, c.out_of_order);
    dr_sched_destroy(s);
    dr_env_real_destroy(c.env);
    return c.terminal == c.count ? 0 : 1;
}
