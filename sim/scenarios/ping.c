/* sim/scenarios/ping.c — the "ping" scenario: N nodes, each running the
 * registered program "ping", connect to every other node and send a framed,
 * checksummed message every 100 ms (jittered) on each connection.
 *
 * Goal (safety, checked after every event): on every connection each frame
 * arrives intact, exactly once and in order — the first frame a reader sees on
 * a connection has seq 0 and each next one seq + 1 — and no reader is ever
 * ahead of what its writer sent on that connection. Goal (liveness): once the
 * faults stop and everything is restarted, every node hears from every other
 * within the quiet phase.
 *
 * Faults, each switched on or off by the seed (swarm testing): network latency
 * with a tail, refused connects, resets, stalls (dr_sim_faults_draw); one- and
 * two-way partitions (some beyond the stream timeout), process crashes with
 * restart, pauses, host crashes with restart, wall-clock jumps; clock offsets
 * and drift.
 */
#include "sim/sim.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define PING_PORT 7000
#define PING_NODE_MAX 8
#define PING_IN_MAX 64
#define PING_MAGIC UINT32_C(0x50494e47) /* "PING" */
#define PING_PAYLOAD_MAX 200u
#define PING_TICK_NS (100 * DR_NS_PER_MS)

/* Frame (little-endian as laid out by memcpy on the host; the sim is one process):
 *   offset size field
 *   0      4    magic
 *   4      4    from (sender's node index)
 *   8      8    nonce (names the connection)
 *   16     8    seq
 *   24     4    payload_size (<= PING_PAYLOAD_MAX)
 *   28     n    payload
 *   28+n   8    XXH3-64 of bytes [0, 28+n)
 */
#define PING_HEADER_SIZE 28u

typedef struct ping_node ping_node;

typedef struct ping_out {
    ping_node *node;
    int peer;
    dr_stream *stream;
    bool connected;
    uint64_t nonce;
    uint64_t sent_count; /* frames written on this connection */
    dr_timer_id retry_timer;
} ping_out;

typedef struct ping_in {
    ping_node *node;
    bool used;
    dr_stream *stream;
    dr_buf buf;
    bool have_nonce;
    int from;
    uint64_t nonce;
    uint64_t next_seq;
} ping_in;

struct ping_node {
    dr_env *env;
    int index;
    int count;
    dr_listener *listener;
    dr_timer_id tick_timer;
    ping_out out[PING_NODE_MAX];
    ping_in in[PING_IN_MAX];
    uint64_t violation_count;
    char violation[160];
    uint64_t heard_count[PING_NODE_MAX]; /* frames received from each node */
};

static void out_connect(ping_out *out);

static void violation(ping_node *node, const char *fmt, ...) DR_PRINTF(2, 3);
static void violation(ping_node *node, const char *fmt, ...)
{
    if (node->violation_count++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(node->violation, sizeof node->violation, fmt, ap);
        va_end(ap);
    }
}

/* ---- inbound ---------------------------------------------------------------------- */

static void in_parse(ping_in *in)
{
    ping_node *node = in->node;
    for (;;) {
        if (in->buf.size < PING_HEADER_SIZE)
            return;
        const uint8_t *p = in->buf.data;
        uint32_t magic, from, payload_size;
        uint64_t nonce, seq;
        memcpy(&magic, p, 4);
        memcpy(&from, p + 4, 4);
        memcpy(&nonce, p + 8, 8);
        memcpy(&seq, p + 16, 8);
        memcpy(&payload_size, p + 24, 4);
        if (magic != PING_MAGIC || payload_size > PING_PAYLOAD_MAX || from >= PING_NODE_MAX) {
            violation(node, "node %d: garbled frame header", node->index);
            dr_buf_reset(&in->buf);
            return;
        }
        size_t frame_size = PING_HEADER_SIZE + payload_size + 8;
        if (in->buf.size < frame_size)
            return;
        uint64_t check;
        memcpy(&check, p + PING_HEADER_SIZE + payload_size, 8);
        if (check != XXH3_64bits(p, PING_HEADER_SIZE + payload_size))
            violation(node, "node %d: frame from %u seq %" PRIu64 " corrupted", node->index,
                      from, seq);
        if (!in->have_nonce) {
            in->have_nonce = true;
            in->nonce = nonce;
            in->from = (int)from;
        }
        if (nonce != in->nonce || (int)from != in->from)
            violation(node, "node %d: frames of two connections on one stream", node->index);
        if (seq != in->next_seq)
            violation(node, "node %d: from node %u expected seq %" PRIu64 ", got %" PRIu64,
                      node->index, from, in->next_seq, seq);
        in->next_seq = seq + 1;
        node->heard_count[from]++;
        dr_buf_consume(&in->buf, frame_size);
    }
}

static void in_data(dr_env *env, dr_stream *s, const uint8_t *data, size_t size, void *ctx)
{
    (void)env;
    (void)s;
    ping_in *in = ctx;
    dr_buf_append(&in->buf, data, size);
    in_parse(in);
}

static void in_release(ping_in *in)
{
    dr_env_stream_close(in->node->env, in->stream);
    dr_buf_deinit(&in->buf);
    memset(in, 0, sizeof *in);
}

static void in_closed(dr_env *env, dr_stream *s, const dr_err *why, void *ctx)
{
    (void)env;
    (void)s;
    (void)why;
    in_release(ctx);
}

static const dr_stream_cbs in_cbs = {.data = in_data, .closed = in_closed};

static void on_accept(dr_env *env, dr_listener *listener, dr_stream *stream, void *ctx)
{
    (void)listener;
    ping_node *node = ctx;
    for (size_t i = 0; i < PING_IN_MAX; i++) {
        ping_in *in = &node->in[i];
        if (in->used)
            continue;
        memset(in, 0, sizeof *in);
        in->used = true;
        in->node = node;
        in->stream = stream;
        dr_buf_init(&in->buf);
        dr_env_stream_set_cbs(env, stream, &in_cbs, in);
        return;
    }
    dr_env_stream_close(env, stream); /* full: the peer will retry */
}

/* ---- outbound --------------------------------------------------------------------- */

static void out_retry_fire(dr_env *env, void *ctx)
{
    (void)env;
    ping_out *out = ctx;
    out->retry_timer = 0;
    out_connect(out);
}

static void out_closed(dr_env *env, dr_stream *s, const dr_err *why, void *ctx)
{
    (void)s;
    (void)why;
    ping_out *out = ctx;
    dr_env_stream_close(env, out->stream);
    out->stream = NULL;
    out->connected = false;
    uint64_t delay = 100 * DR_NS_PER_MS + dr_env_random(env) % (400 * DR_NS_PER_MS);
    out->retry_timer = dr_env_timer_add(env, delay, out_retry_fire, out);
}

static void out_connected(dr_env *env, dr_stream *s, void *ctx)
{
    (void)env;
    (void)s;
    ping_out *out = ctx;
    out->connected = true;
}

static const dr_stream_cbs out_cbs = {.connected = out_connected, .closed = out_closed};

static void out_connect(ping_out *out)
{
    ping_node *node = out->node;
    char host[32];
    snprintf(host, sizeof host, "node-%d", out->peer);
    dr_err err;
    out->nonce = dr_env_random(node->env);
    out->sent_count = 0;
    out->connected = false;
    if (dr_env_connect(node->env, host, PING_PORT, &out_cbs, out, &out->stream, &err) != DR_OK) {
        out->stream = NULL;
        out->retry_timer = dr_env_timer_add(node->env, 500 * DR_NS_PER_MS, out_retry_fire, out);
    }
}

static void out_send(ping_out *out)
{
    ping_node *node = out->node;
    uint8_t frame[PING_HEADER_SIZE + PING_PAYLOAD_MAX + 8];
    uint32_t magic = PING_MAGIC;
    uint32_t from = (uint32_t)node->index;
    uint32_t payload_size = (uint32_t)(dr_env_random(node->env) % (PING_PAYLOAD_MAX + 1));
    memcpy(frame, &magic, 4);
    memcpy(frame + 4, &from, 4);
    memcpy(frame + 8, &out->nonce, 8);
    memcpy(frame + 16, &out->sent_count, 8);
    memcpy(frame + 24, &payload_size, 4);
    for (uint32_t i = 0; i < payload_size; i++)
        frame[PING_HEADER_SIZE + i] = (uint8_t)(out->sent_count * 31 + i);
    uint64_t check = XXH3_64bits(frame, PING_HEADER_SIZE + payload_size);
    memcpy(frame + PING_HEADER_SIZE + payload_size, &check, 8);
    dr_err err;
    if (dr_env_stream_write(node->env, out->stream, frame, PING_HEADER_SIZE + payload_size + 8,
                            &err) == DR_OK)
        out->sent_count++;
}

static void tick_fire(dr_env *env, void *ctx)
{
    ping_node *node = ctx;
    for (int j = 0; j < node->count; j++) {
        ping_out *out = &node->out[j];
        if (j != node->index && out->stream != NULL)
            out_send(out); /* writes before connected are queued behind the SYN */
    }
    uint64_t delay = PING_TICK_NS / 2 + dr_env_random(env) % PING_TICK_NS;
    node->tick_timer = dr_env_timer_add(env, delay, tick_fire, node);
}

/* ---- the program -------------------------------------------------------------------- */

static void *ping_start(dr_env *env, int argc, char **argv)
{
    if (argc != 3)
        return NULL;
    int index = atoi(argv[1]);
    int count = atoi(argv[2]);
    if (count < 1 || count > PING_NODE_MAX || index < 0 || index >= count)
        return NULL;
    ping_node *node = dr_alloc(sizeof *node);
    node->env = env;
    node->index = index;
    node->count = count;
    dr_err err;
    if (dr_env_listen(env, NULL, PING_PORT, on_accept, node, &node->listener, &err) != DR_OK) {
        DR_WARN(env, "ping: %s", err.msg);
        dr_free(node);
        return NULL;
    }
    for (int j = 0; j < count; j++) {
        node->out[j].node = node;
        node->out[j].peer = j;
        if (j != index)
            out_connect(&node->out[j]);
    }
    node->tick_timer = dr_env_timer_add(env, PING_TICK_NS, tick_fire, node);
    DR_INFO(env, "ping node %d of %d up", index, count);
    return node;
}

static void ping_crash(void *state)
{
    ping_node *node = state;
    for (size_t i = 0; i < PING_IN_MAX; i++)
        dr_buf_deinit(&node->in[i].buf);
    dr_free(node);
}

static const dr_sim_program ping_program = {"ping", ping_start, ping_crash, NULL};

/* ---- the driver ------------------------------------------------------------------------ */

typedef struct ping_run {
    dr_sim *sim;
    int count;
    dr_sim_host_id hosts[PING_NODE_MAX];
    dr_pid pids[PING_NODE_MAX];
    dr_rng rng;
    bool on_partition, on_crash, on_pause, on_host_crash, on_clock_jump;
    bool quiet; /* liveness phase: no more faults */
    bool failed;
    char failure[512];
} ping_run;

static void run_fail(ping_run *run, const char *msg)
{
    if (run->failed)
        return;
    run->failed = true;
    snprintf(run->failure, sizeof run->failure, "event #%" PRIu64 ": %s",
             dr_sim_event_count(run->sim), msg);
}

/* After every event: no violation in any node, and no reader ahead of its writer. */
static void check_step(dr_sim *sim, void *ctx)
{
    ping_run *run = ctx;
    for (int r = 0; r < run->count; r++) {
        ping_node *rn = dr_sim_process_state(sim, run->pids[r]);
        if (rn == NULL)
            continue;
        if (rn->violation_count > 0) {
            run_fail(run, rn->violation);
            continue;
        }
        for (size_t i = 0; i < PING_IN_MAX; i++) {
            const ping_in *in = &rn->in[i];
            if (!in->used || !in->have_nonce || in->from >= run->count)
                continue;
            ping_node *sn = dr_sim_process_state(sim, run->pids[in->from]);
            if (sn == NULL || sn->out[r].nonce != in->nonce)
                continue; /* that writer is gone or reconnected */
            if (in->next_seq > sn->out[r].sent_count) {
                char msg[160];
                snprintf(msg, sizeof msg, "node %d read %" PRIu64 " frames from node %d, which "
                         "sent %" PRIu64, r, in->next_seq, in->from, sn->out[r].sent_count);
                run_fail(run, msg);
            }
        }
    }
}

static void node_start(ping_run *run, int i)
{
    char index[16], count[16];
    snprintf(index, sizeof index, "%d", i);
    snprintf(count, sizeof count, "%d", run->count);
    const char *argv[] = {"ping", index, count, NULL};
    dr_err err;
    run->pids[i] = dr_sim_process_start(run->sim, run->hosts[i], argv, &err);
    if (run->pids[i] == 0)
        run_fail(run, err.msg);
}

typedef struct ping_action {
    ping_run *run;
    int kind;
    int node;
} ping_action;

enum { ACT_HEAL, ACT_RESTART, ACT_RESUME, ACT_HOST_RESTART };

static void action_fire(dr_sim *sim, void *ctx)
{
    ping_action *act = ctx;
    ping_run *run = act->run;
    int i = act->node;
    switch (act->kind) {
    case ACT_HEAL:
        dr_sim_heal(sim);
        break;
    case ACT_RESTART:
        if (dr_sim_host_up(sim, run->hosts[i]) && !dr_sim_process_alive(sim, run->pids[i]))
            node_start(run, i);
        break;
    case ACT_RESUME:
        dr_sim_process_resume(sim, run->pids[i]);
        break;
    case ACT_HOST_RESTART:
        if (!dr_sim_host_up(sim, run->hosts[i])) {
            dr_sim_host_restart(sim, run->hosts[i]);
            node_start(run, i);
        }
        break;
    }
    dr_free(act);
}

static void later(ping_run *run, uint64_t delay_ns, int kind, int node)
{
    ping_action *act = dr_alloc(sizeof *act);
    act->run = run;
    act->kind = kind;
    act->node = node;
    dr_sim_schedule(run->sim, delay_ns, action_fire, act);
}

/* One fault every 0.2-1 s while not quiet. */
static void chaos_fire(dr_sim *sim, void *ctx)
{
    ping_run *run = ctx;
    if (run->quiet)
        return;
    int i = (int)dr_rng_below(&run->rng, (uint64_t)run->count);
    int j = (int)dr_rng_below(&run->rng, (uint64_t)run->count);
    switch (dr_rng_below(&run->rng, 5)) {
    case 0:
        if (run->on_partition && i != j) {
            dr_sim_partition(sim, run->hosts[i], run->hosts[j], dr_rng_chance(&run->rng, 0.5));
            later(run, DR_NS_PER_S + dr_rng_below(&run->rng, 12 * DR_NS_PER_S), ACT_HEAL, 0);
        }
        break;
    case 1:
        if (run->on_crash && dr_sim_process_alive(sim, run->pids[i])) {
            dr_sim_process_crash(sim, run->pids[i]);
            later(run, 100 * DR_NS_PER_MS + dr_rng_below(&run->rng, 3 * DR_NS_PER_S), ACT_RESTART,
                  i);
        }
        break;
    case 2:
        if (run->on_pause && dr_sim_process_alive(sim, run->pids[i])) {
            dr_sim_process_pause(sim, run->pids[i]);
            later(run, 10 * DR_NS_PER_MS + dr_rng_below(&run->rng, 3 * DR_NS_PER_S), ACT_RESUME,
                  i);
        }
        break;
    case 3:
        if (run->on_host_crash && dr_sim_host_up(sim, run->hosts[i])) {
            dr_sim_host_crash(sim, run->hosts[i]);
            later(run, 500 * DR_NS_PER_MS + dr_rng_below(&run->rng, 3 * DR_NS_PER_S),
                  ACT_HOST_RESTART, i);
        }
        break;
    case 4:
        if (run->on_clock_jump)
            dr_sim_wall_jump(sim, run->hosts[i],
                             (int64_t)dr_rng_below(&run->rng, 20 * DR_NS_PER_S) -
                                 (int64_t)(10 * DR_NS_PER_S));
        break;
    }
    dr_sim_schedule(sim, 200 * DR_NS_PER_MS + dr_rng_below(&run->rng, 800 * DR_NS_PER_MS),
                    chaos_fire, run);
}

static int ping_run_scenario(const dr_sim_opts *opts_in, FILE *out, uint64_t *trace_hash_out)
{
    dr_sim_opts opts = *opts_in;
    dr_sim_faults_draw(opts.seed, &opts.faults);
    if (opts.scenario == NULL)
        opts.scenario = "ping";
    ping_run run;
    memset(&run, 0, sizeof run);
    dr_rng_init(&run.rng, dr_seed_derive(opts.seed, "ping"));
    run.count = 3 + (int)dr_rng_below(&run.rng, 3);
    run.on_partition = dr_rng_chance(&run.rng, 0.6);
    run.on_crash = dr_rng_chance(&run.rng, 0.5);
    run.on_pause = dr_rng_chance(&run.rng, 0.4);
    run.on_host_crash = dr_rng_chance(&run.rng, 0.3);
    run.on_clock_jump = dr_rng_chance(&run.rng, 0.3);
    uint64_t chaos_ns = 20 * DR_NS_PER_S;
    uint64_t quiet_ns = 20 * DR_NS_PER_S;

    fprintf(out, "scenario ping, seed %" PRIu64 ": %d nodes, %.0fs of faults then %.0fs quiet\n",
            opts.seed, run.count, (double)chaos_ns / 1e9, (double)quiet_ns / 1e9);
    fprintf(out, "options:\n");
    dr_sim_faults_print(&opts.faults, out);
    fprintf(out, "  %-18s %s\n  %-18s %s\n  %-18s %s\n  %-18s %s\n  %-18s %s\n", "partitions",
            run.on_partition ? "on" : "off", "proc.crash", run.on_crash ? "on" : "off",
            "proc.pause", run.on_pause ? "on" : "off", "host.crash",
            run.on_host_crash ? "on" : "off", "clock.jump", run.on_clock_jump ? "on" : "off");

    run.sim = dr_sim_create(&opts);
    dr_sim_register_program(run.sim, &ping_program);
    for (int i = 0; i < run.count; i++) {
        char name[32];
        snprintf(name, sizeof name, "node-%d", i);
        run.hosts[i] = dr_sim_host_add(run.sim, name);
    }
    for (int i = 0; i < run.count; i++)
        node_start(&run, i);
    dr_sim_set_step_hook(run.sim, check_step, &run);
    dr_sim_schedule(run.sim, 500 * DR_NS_PER_MS, chaos_fire, &run);

    /* safety: faults everywhere */
    dr_sim_run_until(run.sim, chaos_ns);

    /* liveness: heal everything, stop faults, require every pair to talk again */
    run.quiet = true;
    dr_sim_heal(run.sim);
    dr_sim_faults calm;
    memset(&calm, 0, sizeof calm);
    calm.net_latency_min_ns = opts.faults.net_latency_min_ns;
    calm.net_latency_mean_ns = opts.faults.net_latency_mean_ns;
    dr_sim_set_faults(run.sim, &calm);
    for (int i = 0; i < run.count; i++) {
        if (!dr_sim_host_up(run.sim, run.hosts[i]))
            dr_sim_host_restart(run.sim, run.hosts[i]);
        dr_sim_process_resume(run.sim, run.pids[i]);
        if (!dr_sim_process_alive(run.sim, run.pids[i]))
            node_start(&run, i);
        ping_node *node = dr_sim_process_state(run.sim, run.pids[i]);
        if (node != NULL)
            memset(node->heard_count, 0, sizeof node->heard_count);
    }
    /* restarts scheduled during the faults must not undo the quiet phase */
    dr_sim_run_until(run.sim, chaos_ns + quiet_ns);
    for (int r = 0; r < run.count && !run.failed; r++) {
        ping_node *node = dr_sim_process_state(run.sim, run.pids[r]);
        if (node == NULL) {
            run_fail(&run, "a node is down after the quiet phase");
            break;
        }
        for (int s = 0; s < run.count; s++) {
            if (s != r && node->heard_count[s] < 10) {
                char msg[128];
                snprintf(msg, sizeof msg, "liveness: node %d heard only %" PRIu64
                         " frames from node %d in the quiet phase", r, node->heard_count[s], s);
                run_fail(&run, msg);
                break;
            }
        }
    }

    dr_sim_print_summary(run.sim, out);
    if (trace_hash_out != NULL)
        *trace_hash_out = dr_sim_trace_hash(run.sim);
    dr_sim_destroy(run.sim);
    if (run.failed) {
        fprintf(out, "result: FAILED: %s\n", run.failure);
        return 1;
    }
    fprintf(out, "result: ok\n");
    return 0;
}

const dr_sim_scenario dr_sim_scenario_ping = {
    "ping",
    "nodes exchange framed messages over streams under network, process and host faults; "
    "checks FIFO, exactly-once per connection, then liveness",
    ping_run_scenario,
};
