/* sim/scenarios/counter.c — scenario "counter": the demo replicated counter
 * (src/demo) under every fault the simulator knows.
 *
 * Goal: an acknowledged increment is never lost, the value never exceeds what
 * clients sent, reads are monotonic per client, and once faults stop every
 * operation completes and every replica converges.
 *
 * Cluster: 3 replicas (hosts replica-0..2, replica 0 leads) and 1-5 clients
 * (hosts client-N), each running a few dozen INC/GET operations.
 *
 * Faults (drawn per seed, printed): the sim's network latency tail, refused
 * and reset connections, stalls; disk EIO on write and fsync, ENOSPC, and the
 * page-cache crash model (kept, dropped, torn pages); clock offset, drift and
 * wall jumps; and from this file's nemesis: process crash (or graceful
 * stop) + restart, host
 * crash + restart (aimed at a moment with unsynced data), pause + resume,
 * one- and two-way partitions + heal. Then a quiet phase: faults off,
 * partitions healed, everything resumed and restarted; all client operations
 * must then complete and all replicas hold the same value as the truth.
 *
 * Checks run after every event (dr_sim_set_step_hook) against ground truth
 * kept here from what clients sent and were told, never from the servers'
 * claims: any replica's log value <= increments sent; the serving leader's
 * committed value >= increments acknowledged; each GET (and ACK) value within
 * [acked when the GET began, sent] and not below the client's last read.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "counter.h"
#include "src/demo/counter.h"

#define REPLICA_COUNT 3u
#define CLIENT_COUNT_MAX 5u
#define REPLICA_PORT 7000u
#define DATA_DIR "/data/counter"
#define LIVENESS_MAX_NS (120 * DR_NS_PER_S)
#define CONVERGE_MAX_NS (30 * DR_NS_PER_S)

typedef struct scen scen;

typedef struct later {
    scen *scen;
    uint32_t replica;
} later;

/* Ground truth for one client, kept by the scenario. */
typedef struct client_truth {
    uint32_t ops_total;
    uint32_t ops_done;
    uint64_t last_read;
    uint64_t get_floor; /* acked when the current GET began */
    uint64_t inc_amount;
    bool get_in_flight;
} client_truth;

/* The state of a "counter-client" process. */
typedef struct client_prog {
    dr_env *env;
    dr_counter_client *client;
    uint32_t index;
    dr_rng rng;
    dr_timer_id timer;
    scen *scen;          /* attached right after start */
    client_truth *truth; /* likewise */
} client_prog;

typedef struct replica {
    dr_sim_host_id host;
    dr_pid pid;        /* 0 while down */
    bool host_down;
    bool paused;
    bool restart_pending;
    bool crash_armed;  /* crash the host when it next holds unsynced data */
    bool crash_scheduled;
} replica;

struct scen {
    dr_sim *sim;
    FILE *out;
    const dr_counter_tweaks *tweaks;
    dr_rng rng; /* nemesis */
    dr_sim_faults faults;
    uint32_t client_count;
    uint32_t ops_per_client;
    uint64_t safety_ns;
    uint64_t nemesis_interval_ns;
    uint64_t flush_delay_ns;
    bool do_proc_crash, do_host_crash, do_pause, do_partition, do_wall_jump;
    replica replicas[REPLICA_COUNT];
    later laters[REPLICA_COUNT];
    dr_sim_host_id client_hosts[CLIENT_COUNT_MAX];
    dr_pid client_pids[CLIENT_COUNT_MAX];
    client_truth truth[CLIENT_COUNT_MAX];
    uint64_t sent;
    uint64_t acked;
    uint64_t check_count;
    bool liveness;
    bool violation;
    char why[256];
    uint32_t narrated;
    uint32_t narrate_max;
};

/* ---- programs ------------------------------------------------------------------ */

static void *replica_start(dr_env *env, int argc, char **argv)
{
    if (argc != 3)
        return NULL;
    uint32_t id = (uint32_t)strtoul(argv[1], NULL, 10);
    uint64_t flush_delay_ns = strtoull(argv[2], NULL, 10);
    char peers_buf[REPLICA_COUNT][32];
    const char *peers[REPLICA_COUNT];
    for (uint32_t i = 0; i < REPLICA_COUNT; i++) {
        snprintf(peers_buf[i], sizeof peers_buf[i], "replica-%u:%u", i, REPLICA_PORT);
        peers[i] = peers_buf[i];
    }
    dr_counter_server_opts opts = {
        .id = id,
        .replica_count = REPLICA_COUNT,
        .peers = peers,
        .data_dir = DATA_DIR,
        .flush_delay_ns = flush_delay_ns,
    };
    dr_counter_server *server = NULL;
    dr_err err;
    if (dr_counter_server_create(env, &opts, &server, &err) != DR_OK) {
        DR_WARN(env, "%s", err.msg);
        return NULL;
    }
    return server;
}

static void replica_crash(void *state) { dr_counter_server_drop(state); }
static void replica_stop(void *state) { dr_counter_server_destroy(state); }

static const dr_sim_program replica_program = {
    "counter-replica", replica_start, replica_crash, replica_stop,
};

static void violate(scen *s, const char *fmt, ...) DR_PRINTF(2, 3);

static void violate(scen *s, const char *fmt, ...)
{
    if (s->violation)
        return;
    s->violation = true;
    uint64_t now = dr_sim_now(s->sim);
    int n = snprintf(s->why, sizeof s->why, "t=%" PRIu64 ".%03" PRIu64 "s event %" PRIu64 ": ",
                     now / DR_NS_PER_S, (now % DR_NS_PER_S) / DR_NS_PER_MS,
                     dr_sim_event_count(s->sim));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why + n, sizeof s->why - (size_t)n, fmt, ap);
    va_end(ap);
}

static void client_next_fire(dr_env *env, void *ctx);

static void client_schedule(client_prog *p, uint64_t delay_ns)
{
    p->timer = dr_env_timer_add(p->env, delay_ns, client_next_fire, p);
}

/* A read (GET value, or the committed value an ACK carries) against the truth. */
static void check_read(client_prog *p, uint64_t value, uint64_t floor, const char *what)
{
    scen *s = p->scen;
    s->check_count++;
    if (value > s->sent)
        violate(s, "client %u: %s %" PRIu64 " exceeds the %" PRIu64 " increments sent", p->index,
                what, value, s->sent);
    if (value < floor)
        violate(s, "client %u: %s %" PRIu64 " is below the %" PRIu64
                   " increments acknowledged before it began (an acked increment was lost)",
                p->index, what, value, floor);
    if (value < p->truth->last_read)
        violate(s, "client %u: %s %" PRIu64 " went back from %" PRIu64, p->index, what, value,
                p->truth->last_read);
    p->truth->last_read = DR_MAX(p->truth->last_read, value);
}

static void client_done(dr_env *env, const dr_counter_result *result, void *ctx)
{
    DR_UNUSED(env);
    client_prog *p = ctx;
    client_truth *t = p->truth;
    DR_ASSERT(result->code == DR_OK); /* the scenario's client retries forever */
    if (t->get_in_flight) {
        check_read(p, result->value, t->get_floor, "GET");
        t->get_in_flight = false;
    } else {
        p->scen->acked += t->inc_amount;
        check_read(p, result->value, 0, "ACK value");
    }
    t->ops_done++;
    /* spread the operations over the fault phase; the last ones meet the quiet phase */
    if (t->ops_done < t->ops_total)
        client_schedule(p, dr_rng_below(&p->rng, 2 * p->scen->safety_ns / t->ops_total + 1));
}

static void client_next_fire(dr_env *env, void *ctx)
{
    DR_UNUSED(env);
    client_prog *p = ctx;
    p->timer = 0;
    scen *s = p->scen;
    client_truth *t = p->truth;
    DR_ASSERT(s != NULL);
    dr_err err;
    dr_code rc;
    if (dr_rng_chance(&p->rng, 0.7)) {
        uint64_t amount = 1 + dr_rng_below(&p->rng, 3);
        if (p->index == 0 && t->ops_done == 0 && s->tweaks->flip_one_bit)
            amount ^= 2;
        if (amount == 0)
            amount = 2;
        t->inc_amount = amount;
        s->sent += amount; /* counted before any byte leaves */
        rc = dr_counter_client_inc(p->client, amount, client_done, p, &err);
    } else {
        t->get_in_flight = true;
        t->get_floor = s->acked;
        rc = dr_counter_client_get(p->client, false, client_done, p, &err);
    }
    DR_ASSERT(rc == DR_OK);
}

static void *client_start(dr_env *env, int argc, char **argv)
{
    if (argc != 3)
        return NULL;
    client_prog *p = dr_alloc(sizeof *p);
    p->env = env;
    p->index = (uint32_t)strtoul(argv[1], NULL, 10);
    uint64_t first_delay_ns = strtoull(argv[2], NULL, 10);
    /* each client starts with a different replica; redirects find the leader */
    char servers_buf[REPLICA_COUNT][32];
    const char *servers[REPLICA_COUNT];
    for (uint32_t i = 0; i < REPLICA_COUNT; i++) {
        snprintf(servers_buf[i], sizeof servers_buf[i], "replica-%u:%u",
                 (i + p->index) % REPLICA_COUNT, REPLICA_PORT);
        servers[i] = servers_buf[i];
    }
    dr_counter_client_opts opts = {
        .servers = servers,
        .server_count = REPLICA_COUNT,
        .attempt_timeout_ns = 300 * DR_NS_PER_MS,
    };
    dr_err err;
    if (dr_counter_client_create(env, &opts, &p->client, &err) != DR_OK) {
        dr_free(p);
        return NULL;
    }
    dr_env_rng(env, "workload", &p->rng);
    client_schedule(p, first_delay_ns);
    return p;
}

static void client_crash(void *state)
{
    client_prog *p = state;
    dr_counter_client_drop(p->client);
    dr_free(p);
}

static void client_stop(void *state)
{
    client_prog *p = state;
    dr_env_timer_cancel(p->env, p->timer);
    dr_counter_client_destroy(p->client);
    dr_free(p);
}

static const dr_sim_program client_program = {
    "counter-client", client_start, client_crash, client_stop,
};

/* ---- narration ---------------------------------------------------------------- */

static void narrate(scen *s, const char *fmt, ...) DR_PRINTF(2, 3);

static void narrate(scen *s, const char *fmt, ...)
{
    s->narrated++;
    if (s->out == NULL || s->narrated > s->narrate_max)
        return;
    uint64_t now = dr_sim_now(s->sim);
    fprintf(s->out, "  t=%" PRIu64 ".%03" PRIu64 "s ", now / DR_NS_PER_S,
            (now % DR_NS_PER_S) / DR_NS_PER_MS);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(s->out, fmt, ap);
    va_end(ap);
    fputc('\n', s->out);
}

static uint64_t fired(const dr_sim *sim, const char *kind)
{
    dr_sim_fault_count counts[64];
    size_t n = dr_sim_fault_counts(sim, counts, DR_ARRAY_COUNT(counts));
    for (size_t i = 0; i < n && i < DR_ARRAY_COUNT(counts); i++)
        if (strcmp(counts[i].kind, kind) == 0)
            return counts[i].count;
    return 0;
}

/* ---- nemesis ------------------------------------------------------------------- */

static void start_replica(scen *s, uint32_t i)
{
    replica *r = &s->replicas[i];
    if (r->host_down || (r->pid != 0 && dr_sim_process_alive(s->sim, r->pid)))
        return;
    char id[16], delay[32];
    snprintf(id, sizeof id, "%u", i);
    snprintf(delay, sizeof delay, "%" PRIu64, s->flush_delay_ns);
    const char *argv[] = {"counter-replica", id, delay, NULL};
    dr_err err;
    r->pid = dr_sim_process_start(s->sim, r->host, argv, &err);
    r->paused = false;
}


/* Scheduled calls about replica i share one context in the scenario, so an
 * event still queued when the simulation ends owns nothing. */
static later *later_new(scen *s, uint32_t i)
{
    DR_ASSERT(i < REPLICA_COUNT);
    return &s->laters[i];
}

static void restart_fire(dr_sim *sim, void *ctx)
{
    later *l = ctx;
    scen *s = l->scen;
    replica *r = &s->replicas[l->replica];
    r->restart_pending = false;
    if (r->host_down) {
        dr_sim_host_restart(sim, r->host);
        r->host_down = false;
    }
    start_replica(s, (uint32_t)(r - s->replicas));
    if (r->pid == 0) /* its recovery failed (a disk fault): try again */
        narrate(s, "replica-%u: restart failed, retrying", (unsigned)(r - s->replicas));
    if (r->pid == 0 && !r->restart_pending) {
        r->restart_pending = true;
        dr_sim_schedule(sim, 500 * DR_NS_PER_MS, restart_fire, later_new(s, (uint32_t)(r - s->replicas)));
    }
}

static void schedule_restart(scen *s, uint32_t i, uint64_t delay_ns)
{
    replica *r = &s->replicas[i];
    if (r->restart_pending)
        return;
    r->restart_pending = true;
    dr_sim_schedule(s->sim, delay_ns, restart_fire, later_new(s, i));
}

static void host_crash_now(scen *s, uint32_t i)
{
    replica *r = &s->replicas[i];
    r->crash_armed = false;
    r->crash_scheduled = false;
    if (r->host_down || s->liveness)
        return;
    uint64_t torn = fired(s->sim, "disk.crash_torn");
    uint64_t dropped = fired(s->sim, "disk.crash_drop");
    uint64_t kept = fired(s->sim, "disk.crash_keep");
    dr_sim_host_crash(s->sim, r->host);
    r->host_down = true;
    r->pid = 0;
    r->paused = false;
    narrate(s, "replica-%u: host crashed (unsynced pages: %" PRIu64 " torn, %" PRIu64
               " dropped, %" PRIu64 " kept)",
            i, fired(s->sim, "disk.crash_torn") - torn, fired(s->sim, "disk.crash_drop") - dropped,
            fired(s->sim, "disk.crash_keep") - kept);
    schedule_restart(s, i, 500 * DR_NS_PER_MS + dr_rng_below(&s->rng, 4 * DR_NS_PER_S));
}

static void host_crash_fire(dr_sim *sim, void *ctx)
{
    DR_UNUSED(sim);
    later *l = ctx;
    scen *s = l->scen;
    uint32_t i = l->replica;
    if (s->replicas[i].crash_scheduled)
        host_crash_now(s, i);
}

static void heal_fire(dr_sim *sim, void *ctx)
{
    scen *s = ctx;
    dr_sim_heal(sim);
    narrate(s, "network healed");
}

static void resume_fire(dr_sim *sim, void *ctx)
{
    later *l = ctx;
    scen *s = l->scen;
    replica *r = &s->replicas[l->replica];
    if (r->paused && r->pid != 0)
        dr_sim_process_resume(sim, r->pid);
    r->paused = false;
}

static void nemesis_fire(dr_sim *sim, void *ctx)
{
    scen *s = ctx;
    if (s->liveness)
        return;
    /* pick one enabled action; the order of this table is part of the seed's meaning */
    enum { A_PROC, A_HOST, A_PAUSE, A_PART, A_JUMP, A_COUNT };
    bool on[A_COUNT] = {s->do_proc_crash, s->do_host_crash, s->do_pause, s->do_partition,
                        s->do_wall_jump};
    uint32_t choices[A_COUNT];
    uint32_t n = 0;
    for (uint32_t a = 0; a < A_COUNT; a++)
        if (on[a])
            choices[n++] = a;
    if (n > 0) {
        uint32_t action = choices[dr_rng_below(&s->rng, n)];
        uint32_t i = (uint32_t)dr_rng_below(&s->rng, REPLICA_COUNT);
        replica *r = &s->replicas[i];
        bool up = !r->host_down && r->pid != 0 && dr_sim_process_alive(sim, r->pid);
        switch (action) {
        case A_PROC:
            if (up) {
                /* mostly kill -9; sometimes a graceful stop (SIGTERM) */
                bool graceful = dr_rng_chance(&s->rng, 0.25);
                if (graceful)
                    dr_sim_process_stop(sim, r->pid);
                else
                    dr_sim_process_crash(sim, r->pid);
                r->pid = 0;
                r->paused = false;
                narrate(s, "replica-%u: process %s", i, graceful ? "stopped" : "crashed");
                schedule_restart(s, i, 100 * DR_NS_PER_MS + dr_rng_below(&s->rng, 3 * DR_NS_PER_S));
            }
            break;
        case A_HOST:
            if (!r->host_down && !r->crash_armed)
                r->crash_armed = true; /* the step hook picks the moment */
            break;
        case A_PAUSE:
            if (up && !r->paused) {
                dr_sim_process_pause(sim, r->pid);
                r->paused = true;
                uint64_t d = 100 * DR_NS_PER_MS + dr_rng_below(&s->rng, 4 * DR_NS_PER_S);
                narrate(s, "replica-%u: paused for %" PRIu64 "ms", i, d / DR_NS_PER_MS);
                dr_sim_schedule(sim, d, resume_fire, later_new(s, i));
            }
            break;
        case A_PART: {
            uint32_t host_total = REPLICA_COUNT + s->client_count;
            uint32_t j = (uint32_t)dr_rng_below(&s->rng, host_total - 1);
            if (j >= i)
                j++;
            dr_sim_host_id b = j < REPLICA_COUNT ? s->replicas[j].host
                                                 : s->client_hosts[j - REPLICA_COUNT];
            bool one_way = dr_rng_chance(&s->rng, 0.5);
            dr_sim_partition(sim, r->host, b, one_way);
            uint64_t d = 500 * DR_NS_PER_MS + dr_rng_below(&s->rng, 5 * DR_NS_PER_S);
            narrate(s, "partition %s replica-%u %s %s for %" PRIu64 "ms",
                    one_way ? "one-way:" : "two-way:", i, one_way ? "->" : "<->",
                    dr_sim_host_name(sim, b), d / DR_NS_PER_MS);
            dr_sim_schedule(sim, d, heal_fire, s);
            break;
        }
        case A_JUMP: {
            int64_t delta = (int64_t)dr_rng_below(&s->rng, 20 * DR_NS_PER_S) - 10 * (int64_t)DR_NS_PER_S;
            dr_sim_wall_jump(sim, r->host, delta);
            narrate(s, "replica-%u: wall clock jumps %+.3fs", i, (double)delta / 1e9);
            break;
        }
        default:
            DR_UNREACHABLE();
        }
    }
    uint64_t next = s->nemesis_interval_ns / 2 + dr_rng_below(&s->rng, s->nemesis_interval_ns);
    dr_sim_schedule(sim, next, nemesis_fire, s);
}

/* ---- the checker ------------------------------------------------------------------ */

static void step_hook(dr_sim *sim, void *ctx)
{
    scen *s = ctx;
    for (uint32_t i = 0; i < REPLICA_COUNT; i++) {
        replica *r = &s->replicas[i];
        if (r->pid == 0)
            continue;
        dr_counter_server *server = dr_sim_process_state(sim, r->pid);
        if (server == NULL) {
            r->pid = 0; /* it ended */
            if (!r->host_down)
                schedule_restart(s, i, 200 * DR_NS_PER_MS);
            continue;
        }
        dr_counter_server_info info;
        dr_counter_server_get_info(server, &info);
        s->check_count++;
        if (info.log_value > s->sent)
            violate(s, "replica %u: log value %" PRIu64 " exceeds the %" PRIu64
                       " increments sent",
                    i, info.log_value, s->sent);
        if (i == 0 && info.serving && info.commit_value < s->acked)
            violate(s, "leader: committed value %" PRIu64 " is below the %" PRIu64
                       " increments acknowledged (an acked increment was lost)",
                    info.commit_value, s->acked);
        if (info.failed && !r->restart_pending) {
            narrate(s, "replica-%u: stopped after a disk error; restarting it", i);
            dr_sim_process_crash(sim, r->pid);
            r->pid = 0;
            schedule_restart(s, i, 100 * DR_NS_PER_MS + dr_rng_below(&s->rng, DR_NS_PER_S));
            continue;
        }
        /* An armed host crash lands somewhere inside a window of unsynced data. */
        if (r->crash_armed && !r->crash_scheduled && info.length > info.synced_length) {
            r->crash_scheduled = true;
            uint64_t d = dr_rng_below(&s->rng, s->flush_delay_ns + 1);
            dr_sim_schedule(sim, d, host_crash_fire, later_new(s, i));
        }
    }
}

/* ---- options and phases ----------------------------------------------------------- */

static void draw_options(scen *s, uint64_t seed)
{
    dr_rng rng;
    dr_rng_init(&rng, dr_seed_derive(seed, "counter-options"));
    s->client_count = 1 + (uint32_t)dr_rng_below(&rng, CLIENT_COUNT_MAX);
    s->ops_per_client = 10 + (uint32_t)dr_rng_below(&rng, 40);
    s->safety_ns = (10 + dr_rng_below(&rng, 30)) * DR_NS_PER_S;
    s->nemesis_interval_ns = 300 * DR_NS_PER_MS + dr_rng_below(&rng, 2700) * DR_NS_PER_MS;
    s->flush_delay_ns = DR_NS_PER_MS + dr_rng_below(&rng, 20) * DR_NS_PER_MS;
    s->do_proc_crash = dr_rng_chance(&rng, 0.6);
    s->do_host_crash = dr_rng_chance(&rng, 0.6);
    s->do_pause = dr_rng_chance(&rng, 0.5);
    s->do_partition = dr_rng_chance(&rng, 0.5);
    s->do_wall_jump = dr_rng_chance(&rng, 0.4);
    dr_sim_faults_draw(seed, &s->faults);
}

static void print_options(const scen *s, FILE *out)
{
    fprintf(out, "counter: %u replicas, %u clients x %u operations, faults for %.1fs, "
                 "group commit %.0fms\n",
            REPLICA_COUNT, s->client_count, s->ops_per_client, (double)s->safety_ns / 1e9,
            (double)s->flush_delay_ns / 1e6);
    fprintf(out, "nemesis every ~%.2fs:%s%s%s%s%s%s\n", (double)s->nemesis_interval_ns / 1e9,
            s->do_proc_crash ? " process-crash" : "", s->do_host_crash ? " host-crash" : "",
            s->do_pause ? " pause" : "", s->do_partition ? " partition" : "",
            s->do_wall_jump ? " wall-jump" : "",
            !(s->do_proc_crash || s->do_host_crash || s->do_pause || s->do_partition ||
              s->do_wall_jump)
                ? " (none)"
                : "");
    fprintf(out, "sim faults:\n");
    dr_sim_faults_print(&s->faults, out);
}

static void start_liveness(dr_sim *sim, void *ctx)
{
    scen *s = ctx;
    s->liveness = true;
    narrate(s, "quiet phase: faults off, network healed, everything restarted");
    dr_sim_faults quiet;
    memset(&quiet, 0, sizeof quiet);
    quiet.net_latency_min_ns = s->faults.net_latency_min_ns;
    quiet.net_latency_mean_ns = s->faults.net_latency_mean_ns;
    dr_sim_set_faults(sim, &quiet);
    dr_sim_heal(sim);
    for (uint32_t i = 0; i < REPLICA_COUNT; i++) {
        replica *r = &s->replicas[i];
        r->crash_armed = false;
        r->crash_scheduled = false;
        if (r->paused && r->pid != 0)
            dr_sim_process_resume(sim, r->pid);
        r->paused = false;
        if (r->host_down || r->pid == 0)
            schedule_restart(s, i, 0);
    }
}

static bool clients_done(const scen *s)
{
    for (uint32_t c = 0; c < s->client_count; c++)
        if (s->truth[c].ops_done < s->truth[c].ops_total)
            return false;
    return true;
}

static bool converged(scen *s)
{
    for (uint32_t i = 0; i < REPLICA_COUNT; i++) {
        replica *r = &s->replicas[i];
        dr_counter_server *server = r->pid != 0 ? dr_sim_process_state(s->sim, r->pid) : NULL;
        if (server == NULL)
            return false;
        dr_counter_server_info info;
        dr_counter_server_get_info(server, &info);
        if (info.durable_length != info.length || info.log_value != s->sent)
            return false;
        if (i == 0 && (!info.serving || info.commit_value != s->sent))
            return false;
    }
    return true;
}

static const struct {
    const char *kind;
    int option; /* index into the enabled[] computed in run */
} sweep_kinds[] = {
    {"net.latency_tail", 0}, {"net.refuse", 1},     {"net.reset", 2},
    {"net.stall", 3},        {"disk.eio_write", 4}, {"disk.eio_fsync", 5},
    {"disk.enospc", 6},      {"clock.offset", 7},   {"clock.drift", 8},
    {"proc.crash", 9},       {"host.crash", 10},    {"disk.crash_torn", 10},
    {"disk.crash_drop", 10}, {"disk.crash_keep", 10}, {"proc.pause", 11},
    {"net.partition", 12},   {"net.partition_drop", 12}, {"clock.jump", 13},
    {"proc.stop", 9},
};

int dr_counter_scenario_run(const dr_sim_opts *opts, const dr_counter_tweaks *tweaks, FILE *out,
                            dr_counter_report *report)
{
    static const dr_counter_tweaks no_tweaks;
    scen *s = dr_alloc(sizeof *s);
    s->out = out;
    s->tweaks = tweaks != NULL ? tweaks : &no_tweaks;
    s->narrate_max = s->tweaks->narrate_max != 0 ? s->tweaks->narrate_max : 12;
    draw_options(s, opts->seed);
    for (uint32_t i = 0; i < REPLICA_COUNT; i++)
        s->laters[i] = (later){s, i};
    dr_rng_init(&s->rng, dr_seed_derive(opts->seed, "counter-nemesis"));
    if (out != NULL)
        print_options(s, out);

    dr_sim_opts sim_opts = *opts;
    sim_opts.faults = s->faults;
    if (sim_opts.scenario == NULL)
        sim_opts.scenario = "counter";
    dr_sim *sim = dr_sim_create(&sim_opts);
    s->sim = sim;
    dr_sim_register_program(sim, &replica_program);
    dr_sim_register_program(sim, &client_program);
    for (uint32_t i = 0; i < REPLICA_COUNT; i++) {
        char name[32];
        snprintf(name, sizeof name, "replica-%u", i);
        s->replicas[i].host = dr_sim_host_add(sim, name);
    }
    for (uint32_t c = 0; c < s->client_count; c++) {
        char name[32];
        snprintf(name, sizeof name, "client-%u", c);
        s->client_hosts[c] = dr_sim_host_add(sim, name);
    }
    for (uint32_t i = 0; i < REPLICA_COUNT; i++)
        start_replica(s, i);
    for (uint32_t c = 0; c < s->client_count; c++) {
        char index[16], delay[32];
        uint64_t delay_ns = 10 * DR_NS_PER_MS + c * DR_NS_PER_MS;
        if (c == 0 && s->tweaks->delay_one_ns)
            delay_ns += 1;
        snprintf(index, sizeof index, "%u", c);
        snprintf(delay, sizeof delay, "%" PRIu64, delay_ns);
        const char *argv[] = {"counter-client", index, delay, NULL};
        dr_err err;
        s->client_pids[c] = dr_sim_process_start(sim, s->client_hosts[c], argv, &err);
        DR_ASSERT(s->client_pids[c] != 0);
        client_prog *p = dr_sim_process_state(sim, s->client_pids[c]);
        s->truth[c].ops_total = s->ops_per_client;
        p->scen = s;
        p->truth = &s->truth[c];
    }
    dr_sim_set_step_hook(sim, step_hook, s);
    if (out != NULL)
        fprintf(out, "highlights:\n");
    dr_sim_schedule(sim, s->nemesis_interval_ns, nemesis_fire, s);
    dr_sim_schedule(sim, s->safety_ns, start_liveness, s);

    /* safety phase, then the quiet phase until every operation completed and
     * every replica holds the truth */
    dr_sim_run_until(sim, s->safety_ns);
    uint64_t deadline = s->safety_ns + LIVENESS_MAX_NS;
    while (!s->violation && !clients_done(s) && dr_sim_now(sim) < deadline)
        dr_sim_run_until(sim, dr_sim_now(sim) + 100 * DR_NS_PER_MS);
    bool ops_done = clients_done(s);
    uint64_t converge_deadline = dr_sim_now(sim) + CONVERGE_MAX_NS;
    while (ops_done && !s->violation && !converged(s) && dr_sim_now(sim) < converge_deadline)
        dr_sim_run_until(sim, dr_sim_now(sim) + 100 * DR_NS_PER_MS);
    bool stuck = !s->violation && (!ops_done || !converged(s));
    if (stuck) {
        if (!ops_done)
            snprintf(s->why, sizeof s->why,
                     "liveness: operations still pending %.1fs into the quiet phase",
                     (double)(dr_sim_now(sim) - s->safety_ns) / 1e9);
        else
            snprintf(s->why, sizeof s->why, "liveness: replicas did not converge on %" PRIu64,
                     s->sent);
    }
    if (!s->violation && !stuck && s->acked != s->sent)
        violate(s, "every operation completed but acked %" PRIu64 " != sent %" PRIu64, s->acked,
                s->sent);

    if (out != NULL) {
        if (s->narrated > s->narrate_max)
            fprintf(out, "  ... and %u more\n", s->narrated - s->narrate_max);
        fprintf(out, "truth: %" PRIu64 " increments sent, %" PRIu64 " acknowledged; %" PRIu64
                     " checks\n",
                s->sent, s->acked, s->check_count);
        if (s->violation)
            fprintf(out, "invariants: VIOLATED: %s\n", s->why);
        else if (stuck)
            fprintf(out, "invariants: held; %s\n", s->why);
        else
            fprintf(out, "invariants: held; all %u clients done, replicas converged on %" PRIu64
                         "\n",
                    s->client_count, s->sent);
        dr_sim_print_summary(sim, out);
    }
    int rc = (s->violation || stuck) ? 1 : 0;
    if (report != NULL) {
        memset(report, 0, sizeof *report);
        report->trace_hash = dr_sim_trace_hash(sim);
        report->event_count = dr_sim_event_count(sim);
        report->virtual_ns = dr_sim_now(sim);
        report->sent = s->sent;
        report->acked = s->acked;
        report->check_count = s->check_count;
        report->violation = s->violation;
        report->stuck = stuck;
        dr_strlcpy(report->why, s->why, sizeof report->why);
        const dr_sim_faults *f = &s->faults;
        bool enabled[14] = {
            f->net_latency_tail_p > 0, f->net_refuse_p > 0,     f->net_reset_p > 0,
            f->net_stall_p > 0,        f->disk_eio_write_p > 0, f->disk_eio_fsync_p > 0,
            f->disk_enospc_p > 0,      f->clock_offset_max_ns > 0, f->clock_drift_max_ppm > 0,
            s->do_proc_crash,          s->do_host_crash,        s->do_pause,
            s->do_partition,           s->do_wall_jump,
        };
        for (size_t k = 0; k < DR_ARRAY_COUNT(sweep_kinds); k++) {
            report->kinds[k].kind = sweep_kinds[k].kind;
            report->kinds[k].enabled = enabled[sweep_kinds[k].option];
            report->kinds[k].fired = fired(sim, sweep_kinds[k].kind);
        }
        report->kind_count = DR_ARRAY_COUNT(sweep_kinds);
    }
    dr_sim_destroy(sim);
    dr_free(s);
    return rc;
}

static int scenario_run(const dr_sim_opts *opts, FILE *out, uint64_t *trace_hash_out)
{
    dr_counter_report report;
    int rc = dr_counter_scenario_run(opts, NULL, out, &report);
    if (trace_hash_out != NULL)
        *trace_hash_out = report.trace_hash;
    return rc;
}

const dr_sim_scenario dr_sim_scenario_counter = {
    "counter",
    "the demo replicated counter under every fault; acked increments never lost",
    scenario_run,
};
