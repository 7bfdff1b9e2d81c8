/* bench/bench_sim.c — how fast the simulator runs a cluster.
 *
 * N nodes (one host and one process each) each keep a stream to the next
 * node in a ring and send it a 200-byte framed message (the demo counter's
 * frame format, checksum included) every second of their own clock; the
 * receiver decodes and checks every frame. Network latency with a tail,
 * resets and stalls are on; the trace hash covers every event (it always
 * does). Prints events per wall second, wall ns per event, and simulated
 * seconds per wall second, each the median of several runs, against the
 * targets of docs (>= 2000x for 10 nodes, >= 100x for 1,000).
 *
 *   bench_sim           full size (a few seconds per cluster)
 *   bench_sim --smoke   a tiny size that proves it runs (well under 10 s)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim/sim.h"
#include "src/demo/counter.h"

#define PORT 9000u
#define MESSAGE_SIZE 200u /* bytes on the wire, frame included */
#define PAYLOAD_SIZE (MESSAGE_SIZE - DR_COUNTER_FRAME_OVERHEAD_SIZE - 1)

typedef struct node {
    dr_env *env;
    uint32_t index;
    uint32_t count;
    dr_listener *listener;
    dr_stream *out;
    bool connected;
    dr_stream *in[8]; /* inbound streams (normally one: from the previous node) */
    dr_buf in_buf[8];
    size_t in_count;
    dr_timer_id send_timer;
    dr_timer_id connect_timer;
    uint64_t sent;
    uint64_t received;
    dr_rng rng;
} node;

static void connect_fire(dr_env *env, void *ctx);

static void out_reset(node *n, bool closed)
{
    if (n->out != NULL) {
        if (closed)
            dr_env_stream_close(n->env, n->out);
        else
            dr_env_stream_abort(n->env, n->out);
    }
    n->out = NULL;
    n->connected = false;
    if (n->connect_timer == 0)
        n->connect_timer = dr_env_timer_add(n->env, 100 * DR_NS_PER_MS +
                                                        dr_rng_below(&n->rng, 100 * DR_NS_PER_MS),
                                            connect_fire, n);
}

static void out_connected(dr_env *env, dr_stream *s, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(s);
    node *n = ctx;
    n->connected = true;
}

static void out_closed(dr_env *env, dr_stream *s, const dr_err *why, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(s);
    DR_UNUSED(why);
    out_reset(ctx, true);
}

static const dr_stream_cbs out_cbs = {.connected = out_connected, .closed = out_closed};

static void connect_fire(dr_env *env, void *ctx)
{
    node *n = ctx;
    n->connect_timer = 0;
    char host[32];
    snprintf(host, sizeof host, "n-%u", (n->index + 1) % n->count);
    dr_err err;
    if (dr_env_connect(env, host, PORT, &out_cbs, n, &n->out, &err) != DR_OK) {
        n->out = NULL;
        out_reset(n, false);
    }
}

static void send_fire(dr_env *env, void *ctx)
{
    node *n = ctx;
    n->send_timer = dr_env_timer_add(env, DR_NS_PER_S, send_fire, n);
    if (!n->connected)
        return;
    uint8_t payload[PAYLOAD_SIZE];
    memset(payload, (int)(n->sent & 0xff), sizeof payload);
    memcpy(payload, &n->sent, sizeof n->sent);
    dr_buf frame;
    dr_buf_init(&frame);
    dr_counter_frame_put(&frame, 1, payload, sizeof payload);
    DR_ASSERT(frame.size == MESSAGE_SIZE);
    dr_err err;
    if (dr_env_stream_write(env, n->out, frame.data, frame.size, &err) == DR_OK)
        n->sent++;
    else
        out_reset(n, false);
    dr_buf_deinit(&frame);
}

static size_t in_slot(node *n, dr_stream *s)
{
    for (size_t i = 0; i < n->in_count; i++)
        if (n->in[i] == s)
            return i;
    return SIZE_MAX;
}

static void in_drop(node *n, size_t i)
{
    dr_buf_deinit(&n->in_buf[i]);
    n->in[i] = n->in[n->in_count - 1];
    n->in_buf[i] = n->in_buf[n->in_count - 1];
    n->in_count--;
}

static void in_data(dr_env *env, dr_stream *s, const uint8_t *data, size_t size, void *ctx)
{
    node *n = ctx;
    size_t i = in_slot(n, s);
    if (i == SIZE_MAX)
        return;
    dr_buf *b = &n->in_buf[i];
    dr_buf_append(b, data, size);
    for (;;) {
        size_t frame_size = 0, payload_size = 0;
        uint8_t type = 0;
        const uint8_t *payload = NULL;
        dr_err err;
        dr_code rc = dr_counter_frame_get(b->data, b->size, &frame_size, &type, &payload,
                                          &payload_size, &err);
        if (rc == DR_EAGAIN)
            return;
        if (rc != DR_OK) {
            dr_env_stream_abort(env, s);
            in_drop(n, i);
            return;
        }
        n->received++;
        dr_buf_consume(b, frame_size);
    }
}

static void in_closed(dr_env *env, dr_stream *s, const dr_err *why, void *ctx)
{
    DR_UNUSED(why);
    node *n = ctx;
    size_t i = in_slot(n, s);
    dr_env_stream_close(env, s);
    if (i != SIZE_MAX)
        in_drop(n, i);
}

static const dr_stream_cbs in_cbs = {.data = in_data, .closed = in_closed};

static void accept_fire(dr_env *env, dr_listener *l, dr_stream *s, void *ctx)
{
    DR_UNUSED(l);
    node *n = ctx;
    if (n->in_count == DR_ARRAY_COUNT(n->in)) {
        dr_env_stream_set_cbs(env, s, &in_cbs, NULL);
        dr_env_stream_abort(env, s);
        return;
    }
    n->in[n->in_count] = s;
    dr_buf_init(&n->in_buf[n->in_count]);
    n->in_count++;
    dr_env_stream_set_cbs(env, s, &in_cbs, n);
}

static void *node_start(dr_env *env, int argc, char **argv)
{
    if (argc != 3)
        return NULL;
    node *n = dr_alloc(sizeof *n);
    n->env = env;
    n->index = (uint32_t)strtoul(argv[1], NULL, 10);
    n->count = (uint32_t)strtoul(argv[2], NULL, 10);
    dr_env_rng(env, "bench", &n->rng);
    dr_err err;
    if (dr_env_listen(env, "0.0.0.0", PORT, accept_fire, n, &n->listener, &err) != DR_OK) {
        dr_free(n);
        return NULL;
    }
    n->connect_timer = dr_env_timer_add(env, dr_rng_below(&n->rng, DR_NS_PER_S), connect_fire, n);
    n->send_timer = dr_env_timer_add(env, DR_NS_PER_S + dr_rng_below(&n->rng, DR_NS_PER_S),
                                     send_fire, n);
    return n;
}

static void node_crash(void *state)
{
    node *n = state;
    for (size_t i = 0; i < n->in_count; i++)
        dr_buf_deinit(&n->in_buf[i]);
    dr_free(n);
}

static const dr_sim_program node_program = {"bench-node", node_start, node_crash, NULL};

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct result {
    double events_per_s;
    double ns_per_event;
    double speedup; /* simulated seconds per wall second */
    uint64_t hash;
    uint64_t received;
} result;

static result run_once(uint32_t node_count, uint64_t virtual_s, uint64_t seed)
{
    dr_sim_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.seed = seed;
    opts.faults.net_latency_min_ns = 100 * DR_NS_PER_US;
    opts.faults.net_latency_mean_ns = 500 * DR_NS_PER_US;
    opts.faults.net_latency_tail_p = 0.001;
    opts.faults.net_latency_tail_max_ns = 100 * DR_NS_PER_MS;
    opts.faults.net_reset_p = 0.0001;
    opts.faults.net_stall_p = 0.001;
    opts.faults.net_stall_max_ns = 200 * DR_NS_PER_MS;
    opts.faults.clock_drift_max_ppm = 50;
    opts.scenario = "bench_sim";

    double t0 = wall_s();
    dr_sim *sim = dr_sim_create(&opts);
    dr_sim_register_program(sim, &node_program);
    dr_pid *pids = dr_alloc_array(node_count, sizeof *pids);
    for (uint32_t i = 0; i < node_count; i++) {
        char name[32], index[16], count[16];
        snprintf(name, sizeof name, "n-%u", i);
        snprintf(index, sizeof index, "%u", i);
        snprintf(count, sizeof count, "%u", node_count);
        dr_sim_host_id h = dr_sim_host_add(sim, name);
        const char *argv[] = {"bench-node", index, count, NULL};
        dr_err err;
        pids[i] = dr_sim_process_start(sim, h, argv, &err);
        DR_ASSERT(pids[i] != 0);
    }
    double t1 = wall_s();
    uint64_t events = dr_sim_run_until(sim, virtual_s * DR_NS_PER_S);
    double t2 = wall_s();
    result r;
    memset(&r, 0, sizeof r);
    for (uint32_t i = 0; i < node_count; i++) {
        node *n = dr_sim_process_state(sim, pids[i]);
        if (n != NULL)
            r.received += n->received;
    }
    double run_s = t2 - t1;
    if (run_s <= 0)
        run_s = 1e-9;
    r.events_per_s = (double)events / run_s;
    r.ns_per_event = run_s * 1e9 / (double)(events > 0 ? events : 1);
    r.speedup = (double)virtual_s / run_s;
    r.hash = dr_sim_trace_hash(sim);
    (void)t0; /* setup time is not counted: it is per cluster, not per event */
    dr_sim_destroy(sim);
    dr_free(pids);
    return r;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Returns false if the target was missed (printed, not fatal: speed targets
 * live here and are reported, never asserted in tests). */
static bool bench(uint32_t node_count, uint64_t virtual_s, size_t runs, double target)
{
    double eps[16], nspe[16], speed[16];
    uint64_t hash = 0, received = 0;
    for (size_t i = 0; i < runs; i++) {
        result r = run_once(node_count, virtual_s, 1);
        eps[i] = r.events_per_s;
        nspe[i] = r.ns_per_event;
        speed[i] = r.speedup;
        if (i > 0 && r.hash != hash) {
            fprintf(stderr, "bench_sim: run %zu of the same seed gave trace hash %016" PRIx64
                            ", run 0 gave %016" PRIx64 "\n",
                    i, r.hash, hash);
            exit(1);
        }
        hash = r.hash;
        received = r.received;
    }
    double s = median(speed, runs);
    printf("sim %u nodes: %.0f events/s, %.0f ns/event, %.0fx real time (target >= %.0fx)"
           " [%" PRIu64 " virtual s, %" PRIu64 " messages, median of %zu]\n",
           node_count, median(eps, runs), median(nspe, runs), s, target, virtual_s, received, runs);
    if (received == 0) {
        fprintf(stderr, "bench_sim: no message was delivered\n");
        exit(1);
    }
    return s >= target;
}

int main(int argc, char **argv)
{
    bool smoke = argc > 1 && strcmp(argv[1], "--smoke") == 0;
    if (argc > 1 && !smoke) {
        fprintf(stderr, "usage: bench_sim [--smoke]\n");
        return 2;
    }
    bool ok = true;
    if (smoke) {
        ok &= bench(10, 600, 3, 2000);
        ok &= bench(1000, 10, 3, 100);
    } else {
        ok &= bench(10, 36000, 5, 2000);
        ok &= bench(1000, 300, 5, 100);
    }
    if (!ok)
        printf("sim: a target was missed\n");
    return 0;
}
