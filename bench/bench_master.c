/* bench/bench_master.c — the master under load, in the simulator.
 *
 * One master (src/master, the "master" program of sim/scenarios/master_cluster.c),
 * 1,000 test agents (src/testagent, 8 cpus and 16 GiB each) and 100 frameworks
 * (src/sched, protobuf) launching short tasks ("sleep 0": TASK_STARTING, then
 * TASK_RUNNING after 10 ms, then TASK_FINISHED at once), every call and event
 * through HTTP and protobuf over simulated streams, every update acknowledged.
 * No faults; network latency 100 us + exp(200 us).
 *
 * Prints: tasks per wall second and per CPU second (the process's CPU time,
 * which a loaded machine does not distort); CPU ns per task (the simulator
 * has no per-process CPU accounting, so this is the whole cluster — master,
 * agents, frameworks, codecs, simulator — divided by tasks: an upper bound on
 * the master's share; a profile puts the master's handlers near 55%); and the p99 offer-to-launch latency in virtual time (a
 * framework receiving an offer -> the agent starting the task, from the
 * STARTING update's timestamp).
 *
 *   bench_master           full size
 *   bench_master --smoke   20 agents, 5 frameworks, 500 tasks (well under 10 s)
 *   bench_master [--agents N] [--frameworks N] [--tasks PER_FRAMEWORK]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim/scenarios/master_cluster.h"
#include "sim/sim.h"
#include "src/sched/sched.h"
#include "src/testagent/testagent.h"

#define TASK_CPUS 0.5
#define TASK_MEM 64.0

typedef struct bfw {
    char name[32];
    uint32_t target;
    uint32_t launched;
    uint32_t finished;
    uint64_t acks;
    double *offer_wall_s; /* per task: when its offer arrived (wall seconds) */
    double *start_wall_s; /* per task: the STARTING update's timestamp */
} bfw;

typedef struct bsched {
    dr_env *env;
    dr_sched *s;
    bfw *fw;
} bsched;

static uint32_t task_index(const bfw *fw, const char *task_id)
{
    size_t n = strlen(fw->name);
    if (strncmp(task_id, fw->name, n) != 0 || task_id[n] != '-')
        return UINT32_MAX;
    return (uint32_t)strtoul(task_id + n + 1, NULL, 10);
}

static void on_offers(dr_sched *s, const Mesos__Scheduler__Event__Offers *ev, void *ctx)
{
    bsched *b = ctx;
    bfw *fw = b->fw;
    double now_s = (double)dr_env_wall(b->env) / 1e9;
    for (size_t i = 0; i < ev->n_offers; i++) {
        const Mesos__Offer *o = ev->offers[i];
        double cpus = 0, mem = 0;
        for (size_t r = 0; r < o->n_resources; r++) {
            const Mesos__Resource *res = o->resources[r];
            if (res->scalar == NULL)
                continue;
            if (strcmp(res->name, "cpus") == 0)
                cpus += res->scalar->value;
            else if (strcmp(res->name, "mem") == 0)
                mem += res->scalar->value;
        }
        enum { BATCH = 32 };
        Mesos__TaskInfo tis[BATCH];
        Mesos__TaskInfo *tp[BATCH];
        Mesos__TaskID tids[BATCH];
        char names[BATCH][48];
        Mesos__CommandInfo cmd = MESOS__COMMAND_INFO__INIT;
        cmd.value = (char *)"sleep 0";
        Mesos__Value__Scalar sc_cpu = MESOS__VALUE__SCALAR__INIT, sc_mem = MESOS__VALUE__SCALAR__INIT;
        sc_cpu.value = TASK_CPUS;
        sc_mem.value = TASK_MEM;
        Mesos__Resource__AllocationInfo alloc = MESOS__RESOURCE__ALLOCATION_INFO__INIT;
        alloc.role = (char *)"*";
        Mesos__Resource r_cpu = MESOS__RESOURCE__INIT, r_mem = MESOS__RESOURCE__INIT;
        r_cpu.name = (char *)"cpus";
        r_cpu.type = MESOS__VALUE__TYPE__SCALAR;
        r_cpu.scalar = &sc_cpu;
        r_cpu.allocation_info = &alloc;
        r_mem.name = (char *)"mem";
        r_mem.type = MESOS__VALUE__TYPE__SCALAR;
        r_mem.scalar = &sc_mem;
        r_mem.allocation_info = &alloc;
        Mesos__Resource *rs[2] = {&r_cpu, &r_mem};
        size_t n = 0;
        while (n < BATCH && fw->launched < fw->target && cpus >= TASK_CPUS - 1e-9 &&
               mem >= TASK_MEM - 1e-9) {
            uint32_t k = fw->launched++;
            fw->offer_wall_s[k] = now_s;
            snprintf(names[n], sizeof names[n], "%s-%u", fw->name, k);
            mesos__task_info__init(&tis[n]);
            mesos__task_id__init(&tids[n]);
            tids[n].value = names[n];
            tis[n].name = names[n];
            tis[n].task_id = &tids[n];
            tis[n].agent_id = o->agent_id;
            tis[n].command = &cmd;
            tis[n].n_resources = 2;
            tis[n].resources = rs;
            tp[n] = &tis[n];
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
            launch.task_infos = tp;
            op.has_type = true;
            op.type = MESOS__OFFER__OPERATION__TYPE__LAUNCH;
            op.launch = &launch;
            Mesos__Offer__Operation *ops[1] = {&op};
            rc = dr_sched_accept(s, ids, 1, ops, 1, 0.0, &err);
        } else {
            rc = dr_sched_decline(s, ids, 1, fw->launched < fw->target ? 0.0 : 3600.0, &err);
        }
        if (rc != DR_OK)
            fprintf(stderr, "bench_master: %s\n", err.msg);
    }
}

static void on_update(dr_sched *s, const Mesos__Scheduler__Event__Update *ev, void *ctx)
{
    bsched *b = ctx;
    bfw *fw = b->fw;
    const Mesos__TaskStatus *st = ev->status;
    if (st == NULL || !st->has_uuid)
        return;
    uint32_t k = task_index(fw, st->task_id->value);
    if (k < fw->launched) {
        if (st->state == MESOS__TASK_STATE__TASK_STARTING && fw->start_wall_s[k] == 0)
            fw->start_wall_s[k] = st->timestamp;
        if (dr_testagent_state_terminal(st->state))
            fw->finished++;
    }
    dr_err err;
    if (dr_sched_acknowledge(s, st->agent_id != NULL ? st->agent_id->value : "",
                             st->task_id->value, st->uuid.data, st->uuid.len, &err) == DR_OK)
        fw->acks++;
}

static const dr_sched_cbs cbs = {.offers = on_offers, .update = on_update};

static void *bsched_start(dr_env *env, int argc, char **argv)
{
    if (argc != 2)
        return NULL;
    Mesos__FrameworkInfo fi = MESOS__FRAMEWORK_INFO__INIT;
    fi.user = (char *)"bench";
    fi.name = argv[1];
    dr_sched_opts o = {.host = "master", .port = 5050, .codec = DR_HTTP_CODEC_PROTOBUF,
                       .framework_info = &fi};
    bsched *b = dr_alloc(sizeof *b);
    b->env = env;
    dr_err err;
    if (dr_sched_create(env, &o, &cbs, b, &b->s, &err) != DR_OK) {
        dr_free(b);
        return NULL;
    }
    dr_sched_start(b->s);
    return b;
}

static void bsched_stop(void *state)
{
    bsched *b = state;
    dr_sched_destroy(b->s);
    dr_free(b);
}

static void bsched_crash(void *state) { (void)state; }

static const dr_sim_program bsched_program = {"benchsched", bsched_start, bsched_crash,
                                              bsched_stop};

static uint64_t wall_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * DR_NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * DR_NS_PER_S + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

int main(int argc, char **argv)
{
    bool smoke = argc > 1 && strcmp(argv[1], "--smoke") == 0;
    uint32_t agent_count = smoke ? 20 : 1000;
    uint32_t fw_count = smoke ? 5 : 100;
    uint32_t tasks_per_fw = smoke ? 100 : 1000;
    for (int i = 1; i + 1 < argc; i++) {
        uint32_t v = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        if (strcmp(argv[i], "--agents") == 0 && v > 0)
            agent_count = v;
        else if (strcmp(argv[i], "--frameworks") == 0 && v > 0)
            fw_count = v;
        else if (strcmp(argv[i], "--tasks") == 0 && v > 0)
            tasks_per_fw = v;
    }
    uint64_t virtual_limit_ns = (smoke ? 120 : 600) * DR_NS_PER_S;

    dr_sim_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.seed = 42;
    opts.scenario = "bench_master";
    opts.faults.net_latency_min_ns = 100 * DR_NS_PER_US;
    opts.faults.net_latency_mean_ns = 200 * DR_NS_PER_US;
    dr_sim *sim = dr_sim_create(&opts);
    dr_sim_register_program(sim, &dr_mcluster_master_program);
    dr_sim_register_program(sim, &dr_mcluster_agent_program);
    dr_sim_register_program(sim, &bsched_program);
    dr_err err;

    dr_sim_host_id mh = dr_sim_host_add(sim, "master");
    const char *margv[] = {"master", NULL};
    dr_pid master_pid = dr_sim_process_start(sim, mh, margv, &err);
    DR_ASSERT(master_pid != 0);
    dr_pid *agent_pids = dr_alloc_array(agent_count, sizeof *agent_pids);
    for (uint32_t i = 0; i < agent_count; i++) {
        char name[32];
        snprintf(name, sizeof name, "agent-%u", i + 1);
        dr_sim_host_id h = dr_sim_host_add(sim, name);
        const char *aargv[] = {"testagent", "--master", "master:5050", "--resources",
                               "cpus:8;mem:16384", NULL};
        agent_pids[i] = dr_sim_process_start(sim, h, aargv, &err);
        DR_ASSERT(agent_pids[i] != 0);
    }
    bfw *fws = dr_alloc_array(fw_count, sizeof *fws);
    dr_pid *fw_pids = dr_alloc_array(fw_count, sizeof *fw_pids);
    for (uint32_t i = 0; i < fw_count; i++) {
        bfw *fw = &fws[i];
        snprintf(fw->name, sizeof fw->name, "fw%u", i + 1);
        fw->target = tasks_per_fw;
        fw->offer_wall_s = dr_alloc_array(tasks_per_fw, sizeof(double));
        fw->start_wall_s = dr_alloc_array(tasks_per_fw, sizeof(double));
        char host[32];
        snprintf(host, sizeof host, "fw-%u", i + 1);
        dr_sim_host_id h = dr_sim_host_add(sim, host);
        const char *fargv[] = {"benchsched", fw->name, NULL};
        fw_pids[i] = dr_sim_process_start(sim, h, fargv, &err);
        DR_ASSERT(fw_pids[i] != 0);
        bsched *b = dr_sim_process_state(sim, fw_pids[i]);
        b->fw = fw;
    }

    uint64_t total = (uint64_t)fw_count * tasks_per_fw;
    uint64_t t0 = wall_now_ns();
    uint64_t c0 = cpu_now_ns();
    uint64_t finished = 0;
    while (dr_sim_now(sim) < virtual_limit_ns) {
        dr_sim_run_until(sim, dr_sim_now(sim) + 100 * DR_NS_PER_MS);
        finished = 0;
        for (uint32_t i = 0; i < fw_count; i++)
            finished += fws[i].finished;
        if (finished >= total)
            break;
    }
    uint64_t wall_ns = wall_now_ns() - t0;
    uint64_t cpu_ns = cpu_now_ns() - c0;
    uint64_t virt_ns = dr_sim_now(sim);

    /* latencies */
    double *lat = dr_alloc_array(total, sizeof(double));
    size_t lat_count = 0;
    uint64_t acks = 0;
    for (uint32_t i = 0; i < fw_count; i++) {
        acks += fws[i].acks;
        for (uint32_t k = 0; k < fws[i].launched; k++)
            if (fws[i].start_wall_s[k] > 0)
                lat[lat_count++] = fws[i].start_wall_s[k] - fws[i].offer_wall_s[k];
    }
    qsort(lat, lat_count, sizeof *lat, cmp_double);
    double p50 = lat_count ? lat[lat_count / 2] : 0;
    double p99 = lat_count ? lat[(lat_count * 99) / 100] : 0;

    printf("bench_master%s: %u agents, %u frameworks, %" PRIu64 " of %" PRIu64
           " tasks finished, %" PRIu64 " acks, %.1f s virtual, %" PRIu64 " events\n",
           smoke ? " (smoke)" : "", agent_count, fw_count, finished, total, acks,
           (double)virt_ns / 1e9, dr_sim_event_count(sim));
    printf("tasks per wall second: %.0f (target >= 20000)\n",
           (double)finished / ((double)wall_ns / 1e9));
    printf("tasks per CPU second: %.0f (the same on an unloaded core)\n",
           (double)finished / ((double)cpu_ns / 1e9));
    printf("CPU ns per task (whole simulated cluster: master, agents, frameworks, codecs, "
           "simulator; no per-process accounting): %.0f\n",
           finished ? (double)cpu_ns / (double)finished : 0.0);
    printf("offer-to-launch latency (virtual): p50 %.3f ms, p99 %.3f ms\n", p50 * 1e3,
           p99 * 1e3);

    for (uint32_t i = 0; i < fw_count; i++)
        dr_sim_process_stop(sim, fw_pids[i]);
    for (uint32_t i = 0; i < agent_count; i++)
        dr_sim_process_stop(sim, agent_pids[i]);
    dr_sim_process_stop(sim, master_pid);
    dr_sim_destroy(sim);
    for (uint32_t i = 0; i < fw_count; i++) {
        dr_free(fws[i].offer_wall_s);
        dr_free(fws[i].start_wall_s);
    }
    dr_free(lat);
    dr_free(fws);
    dr_free(fw_pids);
    dr_free(agent_pids);
    return finished >= total ? 0 : 1;
}
