/* tests/unit/sim/test_sim.c — the simulator core: queue order and cancel, env
 * timers on drifted clocks, streams (FIFO under latency, refused, reset,
 * partitions, back-pressure), pause, process and host crash, spawn of generic
 * and registered programs, and the trace hash.
 *
 * Tests drive processes of a "blank" program from outside through
 * dr_sim_process_env: the stream callbacks record into a `rec` the test owns.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sim/sim.h"

/* ---- a program with no behaviour of its own ------------------------------------ */

typedef struct blank {
    dr_env *env;
    int *crash_count; /* optional, from argv[1] being "count" via the test's ctx */
} blank;

static int blank_crash_count;
static int blank_stop_count;

static void *blank_start(dr_env *env, int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "fail") == 0)
        return NULL;
    blank *b = dr_alloc(sizeof *b);
    b->env = env;
    return b;
}

static void blank_crash(void *state)
{
    blank_crash_count++;
    dr_free(state);
}

static void blank_stop(void *state)
{
    blank_stop_count++;
    dr_free(state);
}

static const dr_sim_program blank_program = {"blank", blank_start, blank_crash, blank_stop};

/* ---- stream recorder -------------------------------------------------------------- */

typedef struct rec {
    dr_stream *stream;
    dr_buf data;
    int connected_count;
    int closed_count;
    dr_code closed_code;
    int drained_count;
    uint64_t first_data_ns;
    uint64_t closed_ns;
    dr_sim *sim;
    bool close_on_closed; /* release the handle from the closed callback */
} rec;

static void rec_connected(dr_env *env, dr_stream *s, void *ctx)
{
    (void)env;
    rec *r = ctx;
    assert_ptr_equal(s, r->stream);
    r->connected_count++;
}

static void rec_data(dr_env *env, dr_stream *s, const uint8_t *data, size_t size, void *ctx)
{
    (void)env;
    (void)s;
    rec *r = ctx;
    if (r->data.size == 0 && r->sim != NULL)
        r->first_data_ns = dr_sim_now(r->sim);
    dr_buf_append(&r->data, data, size);
}

static void rec_drained(dr_env *env, dr_stream *s, void *ctx)
{
    (void)env;
    (void)s;
    rec *r = ctx;
    r->drained_count++;
}

static void rec_closed(dr_env *env, dr_stream *s, const dr_err *why, void *ctx)
{
    rec *r = ctx;
    assert_int_equal(r->closed_count, 0); /* at most once */
    r->closed_count++;
    r->closed_code = why->code;
    if (r->sim != NULL)
        r->closed_ns = dr_sim_now(r->sim);
    if (r->close_on_closed) {
        dr_env_stream_close(env, s);
        r->stream = NULL;
    }
}

static const dr_stream_cbs rec_cbs = {rec_connected, rec_data, rec_drained, rec_closed};

/* accepts into a fixed pool of recorders */
typedef struct accept_pool {
    rec recs[8];
    size_t count;
    dr_sim *sim;
} accept_pool;

static void pool_accept(dr_env *env, dr_listener *l, dr_stream *s, void *ctx)
{
    (void)l;
    accept_pool *pool = ctx;
    assert_true(pool->count < 8);
    rec *r = &pool->recs[pool->count++];
    r->stream = s;
    r->sim = pool->sim;
    dr_env_stream_set_cbs(env, s, &rec_cbs, r);
}

static void rec_deinit(rec *r) { dr_buf_deinit(&r->data); }

static void pool_deinit(accept_pool *pool)
{
    for (size_t i = 0; i < pool->count; i++)
        rec_deinit(&pool->recs[i]);
}

/* ---- fixtures ------------------------------------------------------------------------ */

typedef struct world {
    dr_sim *sim;
    dr_sim_host_id ha, hb;
    dr_pid pa, pb;
    dr_env *ea, *eb;
} world;

static void world_init(world *w, uint64_t seed, const dr_sim_faults *faults)
{
    dr_sim_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.seed = seed;
    if (faults != NULL)
        opts.faults = *faults;
    opts.scenario = "unit";
    w->sim = dr_sim_create(&opts);
    dr_sim_register_program(w->sim, &blank_program);
    w->ha = dr_sim_host_add(w->sim, "host-a");
    w->hb = dr_sim_host_add(w->sim, "host-b");
    const char *argv[] = {"blank", NULL};
    dr_err err;
    w->pa = dr_sim_process_start(w->sim, w->ha, argv, &err);
    w->pb = dr_sim_process_start(w->sim, w->hb, argv, &err);
    assert_true(w->pa > 0);
    assert_true(w->pb > 0);
    w->ea = dr_sim_process_env(w->sim, w->pa);
    w->eb = dr_sim_process_env(w->sim, w->pb);
}

static dr_sim_faults latency_faults(void)
{
    dr_sim_faults f;
    memset(&f, 0, sizeof f);
    f.net_latency_min_ns = 100 * DR_NS_PER_US;
    f.net_latency_mean_ns = 2 * DR_NS_PER_MS;
    return f;
}

/* b listens on 7000 into pool; a connects with client recorder c. */
static void world_connect(world *w, accept_pool *pool, rec *c)
{
    dr_err err;
    dr_listener *l = NULL;
    pool->sim = w->sim;
    c->sim = w->sim;
    assert_int_equal(dr_env_listen(w->eb, NULL, 7000, pool_accept, pool, &l, &err), DR_OK);
    assert_int_equal(dr_env_listener_port(w->eb, l), 7000);
    assert_int_equal(dr_env_connect(w->ea, "host-b", 7000, &rec_cbs, c, &c->stream, &err), DR_OK);
    dr_sim_run_until(w->sim, dr_sim_now(w->sim) + 1 * DR_NS_PER_S);
    assert_int_equal(c->connected_count, 1);
    assert_int_equal(pool->count, 1);
}

static uint64_t fault_count(const dr_sim *sim, const char *kind)
{
    dr_sim_fault_count counts[64];
    size_t n = dr_sim_fault_counts(sim, counts, 64);
    for (size_t i = 0; i < n && i < 64; i++)
        if (strcmp(counts[i].kind, kind) == 0)
            return counts[i].count;
    fail_msg("no fault kind '%s'", kind);
    return 0;
}

/* ---- queue ------------------------------------------------------------------------------ */

typedef struct order_log {
    int values[16];
    size_t count;
} order_log;

typedef struct order_item {
    order_log *log;
    int value;
} order_item;

static void order_fn(dr_sim *sim, void *ctx)
{
    (void)sim;
    order_item *item = ctx;
    item->log->values[item->log->count++] = item->value;
}

static void queue_orders_by_time_then_schedule(void **state)
{
    (void)state;
    dr_sim_opts opts;
    memset(&opts, 0, sizeof opts);
    dr_sim *sim = dr_sim_create(&opts);
    order_log log = {{0}, 0};
    order_item items[] = {{&log, 1}, {&log, 2}, {&log, 3}, {&log, 4}, {&log, 5}};
    dr_sim_schedule(sim, 10, order_fn, &items[0]);
    dr_sim_schedule(sim, 10, order_fn, &items[1]);
    dr_sim_schedule(sim, 5, order_fn, &items[2]);
    dr_sim_schedule(sim, 10, order_fn, &items[3]);
    dr_sim_schedule(sim, 0, order_fn, &items[4]);
    assert_int_equal(dr_sim_run_until(sim, 9), 2);
    assert_int_equal(dr_sim_now(sim), 9);
    assert_true(dr_sim_step(sim));
    assert_int_equal(dr_sim_now(sim), 10);
    assert_int_equal(dr_sim_run_until(sim, UINT64_MAX), 2);
    assert_false(dr_sim_step(sim));
    int want[] = {5, 3, 1, 2, 4};
    assert_int_equal(log.count, 5);
    assert_memory_equal(log.values, want, sizeof want);
    assert_int_equal(dr_sim_event_count(sim), 5);
    dr_sim_destroy(sim);
}

typedef struct timer_log {
    int fired[8];
    uint64_t at_local[8];
    size_t count;
    dr_env *env;
    dr_timer_id to_cancel;
} timer_log;

typedef struct timer_item {
    timer_log *log;
    int value;
} timer_item;

static void timer_fn(dr_env *env, void *ctx)
{
    timer_item *item = ctx;
    timer_log *log = item->log;
    assert_ptr_equal(env, log->env);
    log->at_local[log->count] = dr_env_now(env);
    log->fired[log->count++] = item->value;
    if (log->to_cancel != 0) {
        dr_env_timer_cancel(env, log->to_cancel); /* cancel from inside a callback */
        log->to_cancel = 0;
    }
}

static void timers_fire_in_order_and_cancel(void **state)
{
    (void)state;
    world w;
    world_init(&w, 1, NULL);
    timer_log log;
    memset(&log, 0, sizeof log);
    log.env = w.ea;
    timer_item items[] = {{&log, 1}, {&log, 2}, {&log, 3}, {&log, 4}, {&log, 5}};
    dr_timer_id t1 = dr_env_timer_add(w.ea, 10 * DR_NS_PER_MS, timer_fn, &items[0]);
    dr_timer_id t2 = dr_env_timer_add(w.ea, 10 * DR_NS_PER_MS, timer_fn, &items[1]);
    dr_timer_id t3 = dr_env_timer_add(w.ea, 0, timer_fn, &items[2]); /* fires later, not now */
    dr_timer_id t4 = dr_env_timer_add(w.ea, 10 * DR_NS_PER_MS, timer_fn, &items[3]);
    dr_timer_id t5 = dr_env_timer_add(w.ea, 20 * DR_NS_PER_MS, timer_fn, &items[4]);
    assert_true(t1 != 0 && t2 != 0 && t3 != 0 && t4 != 0 && t5 != 0);
    assert_true(t1 != t2 && t2 != t3 && t3 != t4);
    assert_int_equal(log.count, 0);
    dr_env_timer_cancel(w.ea, t2);
    dr_env_timer_cancel(w.ea, t2);        /* spent id: no-op */
    dr_env_timer_cancel(w.ea, 12345);     /* unknown id: no-op */
    dr_env_timer_cancel(w.eb, t4);        /* another process's id: no-op */
    log.to_cancel = t5;                   /* t3 cancels t5 when it fires */
    dr_sim_run_until(w.sim, DR_NS_PER_S);
    int want[] = {3, 1, 4};
    assert_int_equal(log.count, 3);
    assert_memory_equal(log.fired, want, sizeof want);
    assert_true(log.at_local[1] >= 10 * DR_NS_PER_MS);
    dr_env_timer_cancel(w.ea, t1); /* spent: no-op */
    dr_sim_destroy(w.sim);
}

typedef struct many_timers {
    int fired[5000];
    uint64_t at[5000];
    size_t count;
    dr_sim *sim;
} many_timers;

typedef struct many_item {
    many_timers *log;
    int index;
} many_item;

static void many_fire(dr_env *env, void *ctx)
{
    (void)env;
    many_item *item = ctx;
    item->log->at[item->log->count] = dr_sim_now(item->log->sim);
    item->log->fired[item->log->count++] = item->index;
}

static void timers_survive_heap_compaction(void **state)
{
    (void)state;
    world w;
    world_init(&w, 47, NULL);
    static many_timers log;
    static many_item items[5000];
    static dr_timer_id ids[5000];
    memset(&log, 0, sizeof log);
    log.sim = w.sim;
    for (int i = 0; i < 5000; i++) {
        items[i].log = &log;
        items[i].index = i;
        /* few distinct due times: ties must keep scheduling order */
        ids[i] = dr_env_timer_add(w.ea, (uint64_t)(i % 7) * DR_NS_PER_MS, many_fire, &items[i]);
    }
    for (int i = 0; i < 5000; i++)
        if (i % 5 != 0)
            dr_env_timer_cancel(w.ea, ids[i]); /* compacts the heap along the way */
    dr_sim_run_until(w.sim, DR_NS_PER_S);
    assert_int_equal(log.count, 1000);
    for (size_t k = 0; k < log.count; k++) {
        assert_int_equal(log.fired[k] % 5, 0);
        if (k > 0) {
            assert_true(log.at[k] >= log.at[k - 1]);
            if (log.at[k] == log.at[k - 1])
                assert_true(log.fired[k] > log.fired[k - 1]);
        }
    }
    dr_sim_destroy(w.sim);
}

/* ---- clocks -------------------------------------------------------------------------------- */

typedef struct clock_probe {
    dr_env *env;
    uint64_t last_ns;
    uint64_t add_local_ns;
    uint64_t delay_ns;
    int fired;
    int reschedules;
} clock_probe;

static void clock_fire(dr_env *env, void *ctx)
{
    clock_probe *p = ctx;
    uint64_t now = dr_env_now(env);
    assert_true(now >= p->last_ns);                    /* monotonic */
    assert_true(now - p->add_local_ns >= p->delay_ns); /* never early on its own clock */
    assert_true(now - p->add_local_ns <= p->delay_ns + 2);
    p->last_ns = now;
    p->fired++;
    if (p->reschedules-- > 0) {
        p->add_local_ns = now;
        p->delay_ns = 1 + dr_env_random(env) % (3 * DR_NS_PER_S);
        dr_env_timer_add(env, p->delay_ns, clock_fire, p);
    }
}

static void clocks_drift_stay_monotonic(void **state)
{
    (void)state;
    dr_sim_faults f;
    memset(&f, 0, sizeof f);
    f.clock_drift_max_ppm = 500;
    f.clock_offset_max_ns = 5 * DR_NS_PER_S;
    dr_sim_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.seed = 42;
    opts.faults = f;
    dr_sim *sim = dr_sim_create(&opts);
    dr_sim_register_program(sim, &blank_program);
    clock_probe probes[6];
    memset(probes, 0, sizeof probes);
    bool saw_fast = false, saw_slow = false;
    for (int i = 0; i < 6; i++) {
        char name[16];
        snprintf(name, sizeof name, "h%d", i);
        dr_sim_host_id h = dr_sim_host_add(sim, name);
        const char *argv[] = {"blank", NULL};
        dr_err err;
        dr_pid pid = dr_sim_process_start(sim, h, argv, &err);
        dr_env *env = dr_sim_process_env(sim, pid);
        probes[i].env = env;
        probes[i].delay_ns = DR_NS_PER_S;
        probes[i].reschedules = 50;
        dr_env_timer_add(env, DR_NS_PER_S, clock_fire, &probes[i]);
        /* wall = epoch + offset (within the bound) at t=0 */
        int64_t off = (int64_t)dr_env_wall(env) - (int64_t)DR_SIM_EPOCH_WALL_NS;
        assert_true(off >= -(int64_t)(5 * DR_NS_PER_S) && off <= (int64_t)(5 * DR_NS_PER_S));
    }
    dr_sim_run_until(sim, 100 * DR_NS_PER_S);
    uint64_t t = dr_sim_now(sim);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(probes[i].fired, 51);
        uint64_t local = dr_env_now(probes[i].env);
        int64_t diff = (int64_t)local - (int64_t)t;
        assert_true(diff <= (int64_t)(t / 1000000 * 500 + 1));  /* within 500 ppm */
        assert_true(diff >= -(int64_t)(t / 1000000 * 500 + 1));
        saw_fast |= diff > 0;
        saw_slow |= diff < 0;
    }
    assert_true(saw_fast);
    assert_true(saw_slow);
    assert_true(fault_count(sim, "clock.drift") > 0);
    /* a wall jump moves the wall clock, never the monotonic one */
    dr_env *env = probes[0].env;
    uint64_t wall = dr_env_wall(env);
    uint64_t mono = dr_env_now(env);
    dr_sim_wall_jump(sim, 1, -(int64_t)(3 * DR_NS_PER_S));
    assert_int_equal(dr_env_wall(env), wall - 3 * DR_NS_PER_S);
    assert_int_equal(dr_env_now(env), mono);
    assert_int_equal(fault_count(sim, "clock.jump"), 1);
    dr_sim_destroy(sim);
}

/* ---- streams ------------------------------------------------------------------------------- */

static void streams_deliver_fifo_under_latency(void **state)
{
    (void)state;
    dr_sim_faults f = latency_faults();
    f.net_latency_tail_p = 0.2;
    f.net_latency_tail_max_ns = 100 * DR_NS_PER_MS;
    f.net_stall_p = 0.05;
    f.net_stall_max_ns = 50 * DR_NS_PER_MS;
    world w;
    world_init(&w, 7, &f);
    accept_pool pool;
    memset(&pool, 0, sizeof pool);
    rec c;
    memset(&c, 0, sizeof c);
    world_connect(&w, &pool, &c);
    dr_err err;
    for (uint32_t i = 0; i < 2000; i++) {
        assert_int_equal(dr_env_stream_write(w.ea, c.stream, &i, sizeof i, &err), DR_OK);
        if (i % 10 == 0)
            dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_NS_PER_MS);
    }
    /* and the other way */
    const char reply[] = "reply";
    assert_int_equal(dr_env_stream_write(w.eb, pool.recs[0].stream, reply, 5, &err), DR_OK);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + 10 * DR_NS_PER_S);
    rec *s = &pool.recs[0];
    assert_int_equal(s->data.size, 2000 * 4);
    for (uint32_t i = 0; i < 2000; i++) {
        uint32_t v;
        memcpy(&v, s->data.data + 4 * i, 4);
        assert_int_equal(v, i);
    }
    assert_int_equal(c.data.size, 5);
    assert_memory_equal(c.data.data, "reply", 5);
    assert_int_equal(dr_env_stream_queued(w.ea, c.stream), 0);
    assert_true(fault_count(w.sim, "net.latency_tail") > 0);
    assert_true(fault_count(w.sim, "net.stall") > 0);
    char peer[64];
    dr_env_stream_peer(w.ea, c.stream, peer, sizeof peer);
    assert_string_equal(peer, "10.0.0.2:7000");
    /* orderly close: the peer sees end of stream (DR_OK) after the data */
    dr_env_stream_close(w.ea, c.stream);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_NS_PER_S);
    assert_int_equal(s->closed_count, 1);
    assert_int_equal(s->closed_code, DR_OK);
    assert_int_equal(dr_env_stream_write(w.eb, s->stream, "x", 1, &err), DR_ECLOSED);
    dr_env_stream_close(w.eb, s->stream);
    assert_int_equal(c.closed_count, 0); /* nothing fires after close */
    dr_sim_destroy(w.sim);
    pool_deinit(&pool);
    rec_deinit(&c);
}

static void streams_loopback_and_resolve(void **state)
{
    (void)state;
    world w;
    world_init(&w, 3, NULL);
    accept_pool pool;
    memset(&pool, 0, sizeof pool);
    pool.sim = w.sim;
    dr_err err;
    dr_listener *l = NULL;
    assert_int_equal(dr_env_listen(w.ea, "host-a", 0, pool_accept, &pool, &l, &err), DR_OK);
    uint16_t port = dr_env_listener_port(w.ea, l);
    assert_true(port >= 32768);
    dr_listener *l2 = NULL;
    assert_int_equal(dr_env_listen(w.ea, NULL, port, pool_accept, &pool, &l2, &err),
                     DR_EADDRINUSE);
    assert_int_equal(dr_env_listen(w.ea, "host-b", 9, pool_accept, &pool, &l2, &err), DR_EINVAL);
    rec c;
    memset(&c, 0, sizeof c);
    assert_int_equal(dr_env_connect(w.ea, "127.0.0.1", port, &rec_cbs, &c, &c.stream, &err),
                     DR_OK);
    assert_int_equal(dr_env_stream_write(w.ea, c.stream, "hi", 2, &err), DR_OK);
    dr_sim_run_until(w.sim, DR_NS_PER_MS);
    assert_int_equal(c.connected_count, 1);
    assert_int_equal(pool.count, 1);
    assert_int_equal(pool.recs[0].data.size, 2);
    char ip[32];
    assert_int_equal(dr_env_resolve(w.ea, "host-b", ip, sizeof ip, &err), DR_OK);
    assert_string_equal(ip, "10.0.0.2");
    assert_int_equal(dr_env_resolve(w.ea, "nowhere", ip, sizeof ip, &err), DR_ENOTFOUND);
    assert_string_equal(err.msg, "resolve 'nowhere': unknown host");
    dr_stream *s = NULL;
    assert_int_equal(dr_env_connect(w.ea, "nowhere", 80, &rec_cbs, &c, &s, &err), DR_ENOTFOUND);
    /* connect by IP */
    rec c2;
    memset(&c2, 0, sizeof c2);
    assert_int_equal(dr_env_connect(w.eb, "10.0.0.1", port, &rec_cbs, &c2, &c2.stream, &err),
                     DR_OK);
    dr_sim_run_until(w.sim, DR_NS_PER_S);
    assert_int_equal(c2.connected_count, 1);
    assert_int_equal(pool.count, 2);
    dr_env_listener_close(w.ea, l);
    dr_host_info info;
    assert_int_equal(dr_env_host_info(w.ea, &info, &err), DR_OK);
    assert_string_equal(info.hostname, "host-a");
    assert_int_equal(info.cpu_count, 8);
    assert_true(strlen(info.boot_id) == 36);
    assert_string_equal(dr_env_node_name(w.ea), "host-a:pid1");
    dr_sim_destroy(w.sim);
    pool_deinit(&pool);
    rec_deinit(&c);
    rec_deinit(&c2);
}

static void streams_refused(void **state)
{
    (void)state;
    dr_sim_faults f = latency_faults();
    world w;
    world_init(&w, 5, &f);
    dr_err err;
    rec c;
    memset(&c, 0, sizeof c);
    c.sim = w.sim;
    c.close_on_closed = true;
    assert_int_equal(dr_env_connect(w.ea, "host-b", 7000, &rec_cbs, &c, &c.stream, &err), DR_OK);
    dr_sim_run_until(w.sim, DR_NS_PER_S);
    assert_int_equal(c.connected_count, 0);
    assert_int_equal(c.closed_count, 1);
    assert_int_equal(c.closed_code, DR_ECONNREFUSED);
    assert_true(c.closed_ns > 0);
    /* someone listens, but the fault refuses */
    f.net_refuse_p = 1.0;
    dr_sim_set_faults(w.sim, &f);
    accept_pool pool;
    memset(&pool, 0, sizeof pool);
    dr_listener *l = NULL;
    assert_int_equal(dr_env_listen(w.eb, NULL, 7000, pool_accept, &pool, &l, &err), DR_OK);
    rec c2;
    memset(&c2, 0, sizeof c2);
    c2.close_on_closed = true;
    assert_int_equal(dr_env_connect(w.ea, "host-b", 7000, &rec_cbs, &c2, &c2.stream, &err), DR_OK);
    dr_sim_run_until(w.sim, 2 * DR_NS_PER_S);
    assert_int_equal(c2.closed_code, DR_ECONNREFUSED);
    assert_int_equal(pool.count, 0);
    assert_int_equal(fault_count(w.sim, "net.refuse"), 1);
    dr_sim_destroy(w.sim);
    rec_deinit(&c);
    rec_deinit(&c2);
}

static void streams_reset(void **state)
{
    (void)state;
    dr_sim_faults f = latency_faults();
    world w;
    world_init(&w, 9, &f);
    accept_pool pool;
    memset(&pool, 0, sizeof pool);
    rec c;
    memset(&c, 0, sizeof c);
    world_connect(&w, &pool, &c);
    f.net_reset_p = 1.0;
    dr_sim_set_faults(w.sim, &f);
    dr_err err;
    assert_int_equal(dr_env_stream_write(w.ea, c.stream, "doomed", 6, &err), DR_OK);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_NS_PER_S);
    assert_int_equal(c.closed_code, DR_ECONNRESET);
    assert_int_equal(pool.recs[0].closed_code, DR_ECONNRESET);
    assert_int_equal(pool.recs[0].data.size, 0);
    assert_int_equal(fault_count(w.sim, "net.reset"), 1);
    assert_int_equal(dr_env_stream_write(w.ea, c.stream, "x", 1, &err), DR_ECLOSED);
    /* abort: the peer sees a reset; the aborting side hears nothing */
    f.net_reset_p = 0;
    dr_sim_set_faults(w.sim, &f);
    dr_env_stream_close(w.ea, c.stream);
    dr_env_stream_close(w.eb, pool.recs[0].stream);
    rec c2;
    memset(&c2, 0, sizeof c2);
    assert_int_equal(dr_env_connect(w.ea, "host-b", 7000, &rec_cbs, &c2, &c2.stream, &err), DR_OK);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_NS_PER_S);
    assert_int_equal(pool.count, 2);
    dr_env_stream_abort(w.ea, c2.stream);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_NS_PER_S);
    assert_int_equal(pool.recs[1].closed_code, DR_ECONNRESET);
    assert_int_equal(c2.closed_count, 0);
    dr_env_stream_close(w.eb, pool.recs[1].stream);
    dr_sim_destroy(w.sim);
    pool_deinit(&pool);
    rec_deinit(&c);
    rec_deinit(&c2);
}

static void streams_partition_heal_and_timeout(void **state)
{
    (void)state;
    dr_sim_faults f = latency_faults();
    world w;
    world_init(&w, 11, &f);
    accept_pool pool;
    memset(&pool, 0, sizeof pool);
    rec c;
    memset(&c, 0, sizeof c);
    world_connect(&w, &pool, &c);
    rec *s = &pool.recs[0];
    dr_err err;

    /* two-way: held back, then delivered in order after the heal */
    dr_sim_partition(w.sim, w.ha, w.hb, false);
    assert_int_equal(dr_env_stream_write(w.ea, c.stream, "one", 3, &err), DR_OK);
    assert_int_equal(dr_env_stream_write(w.ea, c.stream, "two", 3, &err), DR_OK);
    assert_int_equal(dr_env_stream_write(w.eb, s->stream, "back", 4, &err), DR_OK);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + 5 * DR_NS_PER_S);
    assert_int_equal(s->data.size, 0);
    assert_int_equal(c.data.size, 0);
    assert_true(fault_count(w.sim, "net.partition_drop") > 0);
    dr_sim_heal(w.sim);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_NS_PER_S);
    assert_int_equal(s->data.size, 6);
    assert_memory_equal(s->data.data, "onetwo", 6);
    assert_int_equal(c.data.size, 4);

    /* one-way: b -> a blocked, a -> b flows */
    dr_sim_partition(w.sim, w.hb, w.ha, true);
    assert_int_equal(dr_env_stream_write(w.ea, c.stream, "3", 1, &err), DR_OK);
    assert_int_equal(dr_env_stream_write(w.eb, s->stream, "4", 1, &err), DR_OK);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + 2 * DR_NS_PER_S);
    assert_int_equal(s->data.size, 7);
    assert_int_equal(c.data.size, 4);
    dr_sim_heal(w.sim);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_NS_PER_S);
    assert_int_equal(c.data.size, 5);

    /* beyond the stream timeout with unacked data: both sides time out */
    dr_sim_partition(w.sim, w.ha, w.hb, false);
    assert_int_equal(dr_env_stream_write(w.ea, c.stream, "lost", 4, &err), DR_OK);
    uint64_t t0 = dr_sim_now(w.sim);
    dr_sim_run_until(w.sim, t0 + DR_SIM_STREAM_TIMEOUT_NS + DR_NS_PER_S);
    assert_int_equal(c.closed_code, DR_ETIMEDOUT);
    assert_int_equal(s->closed_code, DR_ETIMEDOUT);
    assert_true(c.closed_ns >= t0 + DR_SIM_STREAM_TIMEOUT_NS);
    assert_int_equal(fault_count(w.sim, "net.timeout"), 1);

    /* a connect across the partition times out */
    rec c2;
    memset(&c2, 0, sizeof c2);
    c2.sim = w.sim;
    assert_int_equal(dr_env_connect(w.ea, "host-b", 7000, &rec_cbs, &c2, &c2.stream, &err), DR_OK);
    t0 = dr_sim_now(w.sim);
    dr_sim_run_until(w.sim, t0 + DR_SIM_CONNECT_TIMEOUT_NS + DR_NS_PER_S);
    assert_int_equal(c2.connected_count, 0);
    assert_int_equal(c2.closed_code, DR_ETIMEDOUT);
    assert_true(c2.closed_ns >= t0 + DR_SIM_CONNECT_TIMEOUT_NS);
    dr_sim_destroy(w.sim);
    pool_deinit(&pool);
    rec_deinit(&c);
    rec_deinit(&c2);
}

static void partitions_survive_adding_hosts(void **state)
{
    (void)state;
    dr_sim_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.seed = 41;
    opts.faults = latency_faults();
    dr_sim *sim = dr_sim_create(&opts);
    dr_sim_register_program(sim, &blank_program);
    char name[16];
    for (int i = 1; i <= 10; i++) {
        snprintf(name, sizeof name, "h%d", i);
        assert_int_equal(dr_sim_host_add(sim, name), i);
    }
    dr_sim_partition(sim, 3, 5, true);
    for (int i = 11; i <= 40; i++) {
        snprintf(name, sizeof name, "h%d", i);
        assert_int_equal(dr_sim_host_add(sim, name), i);
    }
    dr_sim_partition(sim, 3, 40, false);
    const char *argv[] = {"blank", NULL};
    dr_err err;
    dr_env *e3 = dr_sim_process_env(sim, dr_sim_process_start(sim, 3, argv, &err));
    dr_env *e5 = dr_sim_process_env(sim, dr_sim_process_start(sim, 5, argv, &err));
    dr_env *e40 = dr_sim_process_env(sim, dr_sim_process_start(sim, 40, argv, &err));
    dr_env *e20 = dr_sim_process_env(sim, dr_sim_process_start(sim, 20, argv, &err));
    accept_pool pool;
    memset(&pool, 0, sizeof pool);
    dr_listener *l = NULL;
    assert_int_equal(dr_env_listen(e3, NULL, 80, pool_accept, &pool, &l, &err), DR_OK);
    rec from5, from40, from20;
    memset(&from5, 0, sizeof from5);
    memset(&from40, 0, sizeof from40);
    memset(&from20, 0, sizeof from20);
    /* 5 -> 3 flows (only 3 -> 5 is cut), but the SYNACK cannot come back */
    assert_int_equal(dr_env_connect(e5, "h3", 80, &rec_cbs, &from5, &from5.stream, &err), DR_OK);
    assert_int_equal(dr_env_connect(e40, "h3", 80, &rec_cbs, &from40, &from40.stream, &err), DR_OK);
    assert_int_equal(dr_env_connect(e20, "h3", 80, &rec_cbs, &from20, &from20.stream, &err), DR_OK);
    dr_sim_run_until(sim, DR_NS_PER_S);
    assert_int_equal(from20.connected_count, 1);
    assert_int_equal(from5.connected_count, 0);
    assert_int_equal(from40.connected_count, 0);
    assert_int_equal(pool.count, 2); /* 5's SYN arrived; 40's did not */
    dr_sim_heal(sim);
    dr_sim_run_until(sim, 2 * DR_NS_PER_S);
    assert_int_equal(from5.connected_count, 1);
    assert_int_equal(from40.connected_count, 1);
    dr_sim_destroy(sim);
    pool_deinit(&pool);
    rec_deinit(&from5);
    rec_deinit(&from40);
    rec_deinit(&from20);
}

static void streams_back_pressure(void **state)
{
    (void)state;
    dr_sim_faults f = latency_faults();
    world w;
    world_init(&w, 13, &f);
    accept_pool pool;
    memset(&pool, 0, sizeof pool);
    rec c;
    memset(&c, 0, sizeof c);
    world_connect(&w, &pool, &c);
    rec *s = &pool.recs[0];
    dr_env_stream_pause(w.eb, s->stream, true);
    static uint8_t block[256 * 1024];
    dr_err err;
    size_t written = 0;
    for (int i = 0; i < 100; i++) {
        memset(block, (int)(i & 0xff), sizeof block);
        dr_code rc = dr_env_stream_write(w.ea, c.stream, block, sizeof block, &err);
        if (rc == DR_EAGAIN)
            break;
        assert_int_equal(rc, DR_OK);
        written += sizeof block;
        dr_sim_run_until(w.sim, dr_sim_now(w.sim) + 10 * DR_NS_PER_MS);
    }
    assert_int_equal(written, DR_STREAM_WRITE_QUEUE_SIZE_MAX);
    assert_int_equal(s->data.size, 0); /* paused: nothing handed over */
    assert_int_equal(dr_env_stream_queued(w.ea, c.stream), DR_STREAM_WRITE_QUEUE_SIZE_MAX);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_NS_PER_S);
    assert_int_equal(c.drained_count, 0);
    dr_env_stream_pause(w.eb, s->stream, false);
    assert_int_equal(s->data.size, 0); /* never from inside the call */
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_NS_PER_S);
    assert_int_equal(s->data.size, written);
    for (size_t i = 0; i < written; i += sizeof block)
        assert_int_equal(s->data.data[i], (uint8_t)(i / sizeof block));
    assert_int_equal(c.drained_count, 1);
    assert_int_equal(dr_env_stream_queued(w.ea, c.stream), 0);
    /* a reader that closes while holding data back: the writer gets a reset */
    dr_env_stream_pause(w.eb, s->stream, true);
    assert_int_equal(dr_env_stream_write(w.ea, c.stream, block, 1000, &err), DR_OK);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_NS_PER_S);
    assert_int_equal(dr_env_stream_queued(w.ea, c.stream), 1000);
    dr_sim_partition(w.sim, w.hb, w.ha, true); /* holds b's FIN back */
    dr_env_stream_close(w.eb, s->stream);
    assert_int_equal(dr_env_stream_write(w.ea, c.stream, block, 10, &err), DR_OK);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_NS_PER_S);
    assert_int_equal(c.closed_count, 1);
    assert_int_equal(c.closed_code, DR_ECONNRESET);
    dr_sim_heal(w.sim);
    dr_sim_destroy(w.sim);
    pool_deinit(&pool);
    rec_deinit(&c);
}

/* ---- processes ------------------------------------------------------------------------------ */

static void process_pause_holds_events(void **state)
{
    (void)state;
    dr_sim_faults f = latency_faults();
    world w;
    world_init(&w, 17, &f);
    accept_pool pool;
    memset(&pool, 0, sizeof pool);
    rec c;
    memset(&c, 0, sizeof c);
    world_connect(&w, &pool, &c);
    timer_log log;
    memset(&log, 0, sizeof log);
    log.env = w.eb;
    timer_item item = {&log, 1};
    dr_env_timer_add(w.eb, 100 * DR_NS_PER_MS, timer_fn, &item);
    dr_sim_process_pause(w.sim, w.pb);
    dr_err err;
    assert_int_equal(dr_env_stream_write(w.ea, c.stream, "ping", 4, &err), DR_OK);
    uint64_t t0 = dr_sim_now(w.sim);
    dr_sim_run_until(w.sim, t0 + 3 * DR_NS_PER_S);
    assert_int_equal(log.count, 0);
    assert_int_equal(pool.recs[0].data.size, 0);
    assert_int_equal(fault_count(w.sim, "proc.pause"), 1);
    dr_sim_process_resume(w.sim, w.pb);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_NS_PER_MS);
    assert_int_equal(log.count, 1);
    assert_int_equal(pool.recs[0].data.size, 4);
    assert_true(pool.recs[0].first_data_ns >= t0 + 3 * DR_NS_PER_S);
    dr_sim_destroy(w.sim);
    pool_deinit(&pool);
    rec_deinit(&c);
}

static void process_crash_resets_peers_keeps_files(void **state)
{
    (void)state;
    dr_sim_faults f = latency_faults();
    world w;
    world_init(&w, 19, &f);
    accept_pool pool;
    memset(&pool, 0, sizeof pool);
    rec c;
    memset(&c, 0, sizeof c);
    world_connect(&w, &pool, &c);
    timer_log log;
    memset(&log, 0, sizeof log);
    log.env = w.eb;
    timer_item item = {&log, 1};
    dr_env_timer_add(w.eb, 100 * DR_NS_PER_MS, timer_fn, &item);
    dr_err err;
    dr_file *file = NULL;
    dr_code rc = dr_env_open(w.eb, "/tmp/kept", DR_OPEN_WRITE | DR_OPEN_CREATE, &file, &err);
    bool have_disk = rc == DR_OK;
    if (have_disk)
        assert_int_equal(dr_env_pwrite(w.eb, file, 0, "unsynced", 8, &err), DR_OK);
    else
        assert_int_equal(rc, DR_ENOTSUP);

    int crashes = blank_crash_count;
    uint64_t t0 = dr_sim_now(w.sim);
    dr_sim_process_crash(w.sim, w.pb);
    assert_int_equal(blank_crash_count, crashes + 1);
    assert_false(dr_sim_process_alive(w.sim, w.pb));
    assert_null(dr_sim_process_env(w.sim, w.pb));
    assert_null(dr_sim_process_state(w.sim, w.pb));
    dr_sim_run_until(w.sim, t0 + DR_NS_PER_S);
    assert_int_equal(log.count, 0); /* its timers went with it */
    assert_int_equal(c.closed_count, 1);
    assert_int_equal(c.closed_code, DR_ECONNRESET);
    assert_true(c.closed_ns > t0); /* after a delivery delay */
    assert_int_equal(fault_count(w.sim, "proc.crash"), 1);
    /* its listener is gone: a new connect is refused */
    rec c2;
    memset(&c2, 0, sizeof c2);
    assert_int_equal(dr_env_connect(w.ea, "host-b", 7000, &rec_cbs, &c2, &c2.stream, &err), DR_OK);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_NS_PER_S);
    assert_int_equal(c2.closed_code, DR_ECONNREFUSED);

    if (have_disk) {
        const char *argv[] = {"blank", NULL};
        dr_pid pid = dr_sim_process_start(w.sim, w.hb, argv, &err);
        dr_env *env = dr_sim_process_env(w.sim, pid);
        uint8_t *data = NULL;
        size_t size = 0;
        assert_int_equal(dr_env_read_all(env, "/tmp/kept", 1024, &data, &size, &err), DR_OK);
        assert_int_equal(size, 8);
        assert_memory_equal(data, "unsynced", 8);
        dr_free(data);
    }
    dr_sim_destroy(w.sim);
    pool_deinit(&pool);
    rec_deinit(&c);
    rec_deinit(&c2);
}

typedef struct stopper {
    dr_env *env;
    dr_stream *stream;
} stopper;

static void *stopper_start(dr_env *env, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    stopper *st = dr_alloc(sizeof *st);
    st->env = env;
    return st;
}

static void stopper_crash(void *state) { dr_free(state); }

static void stopper_stop(void *state)
{
    stopper *st = state;
    dr_err err;
    if (st->stream != NULL)
        assert_int_equal(dr_env_stream_write(st->env, st->stream, "bye", 3, &err), DR_OK);
    dr_free(st); /* the stream is left open: the sim closes it gracefully */
}

static const dr_sim_program stopper_program = {"stopper", stopper_start, stopper_crash,
                                               stopper_stop};

static void process_stop_flushes_streams(void **state)
{
    (void)state;
    dr_sim_faults f = latency_faults();
    world w;
    world_init(&w, 43, &f);
    dr_sim_register_program(w.sim, &stopper_program);
    const char *argv[] = {"stopper", NULL};
    dr_err err;
    dr_pid pid = dr_sim_process_start(w.sim, w.ha, argv, &err);
    stopper *st = dr_sim_process_state(w.sim, pid);
    assert_non_null(st);
    accept_pool pool;
    memset(&pool, 0, sizeof pool);
    pool.sim = w.sim;
    dr_listener *l = NULL;
    assert_int_equal(dr_env_listen(w.eb, NULL, 7000, pool_accept, &pool, &l, &err), DR_OK);
    static const dr_stream_cbs quiet = {0};
    assert_int_equal(dr_env_connect(st->env, "host-b", 7000, &quiet, NULL, &st->stream, &err),
                     DR_OK);
    assert_int_equal(dr_env_stream_write(st->env, st->stream, "hi ", 3, &err), DR_OK);
    dr_sim_process_stop(w.sim, pid); /* before the SYN even arrived */
    assert_false(dr_sim_process_alive(w.sim, pid));
    assert_int_equal(fault_count(w.sim, "proc.stop"), 1);
    dr_sim_run_until(w.sim, DR_NS_PER_S);
    assert_int_equal(pool.count, 1);
    assert_int_equal(pool.recs[0].data.size, 6);
    assert_memory_equal(pool.recs[0].data.data, "hi bye", 6);
    assert_int_equal(pool.recs[0].closed_count, 1);
    assert_int_equal(pool.recs[0].closed_code, DR_OK);
    dr_sim_destroy(w.sim);
    pool_deinit(&pool);
}

static void host_crash_and_restart(void **state)
{
    (void)state;
    dr_sim_faults f = latency_faults();
    f.disk_crash_drop_p = 1.0; /* every unsynced page is lost */
    world w;
    world_init(&w, 23, &f);
    accept_pool pool;
    memset(&pool, 0, sizeof pool);
    rec c;
    memset(&c, 0, sizeof c);
    world_connect(&w, &pool, &c);
    dr_err err;
    dr_host_info before;
    assert_int_equal(dr_env_host_info(w.eb, &before, &err), DR_OK);
    const char *argv[] = {"blank", NULL};
    dr_pid second = dr_sim_process_start(w.sim, w.hb, argv, &err);
    assert_true(second > 0);
    dr_file *file = NULL;
    bool have_disk = dr_env_open(w.eb, "/tmp/state", DR_OPEN_WRITE | DR_OPEN_CREATE, &file,
                                 &err) == DR_OK;
    if (have_disk) {
        assert_int_equal(dr_env_pwrite(w.eb, file, 0, "durable", 7, &err), DR_OK);
        assert_int_equal(dr_env_fsync(w.eb, file, &err), DR_OK);
        assert_int_equal(dr_env_fsync_dir(w.eb, "/tmp", &err), DR_OK);
        assert_int_equal(dr_env_pwrite(w.eb, file, 0, "UNSYNC", 6, &err), DR_OK);
        /* left open: the crash closes it */
    }

    dr_sim_host_crash(w.sim, w.hb);
    assert_false(dr_sim_host_up(w.sim, w.hb));
    assert_false(dr_sim_process_alive(w.sim, w.pb));
    assert_false(dr_sim_process_alive(w.sim, second));
    assert_true(dr_sim_process_alive(w.sim, w.pa));
    assert_int_equal(dr_sim_process_start(w.sim, w.hb, argv, &err), 0);
    assert_int_equal(err.code, DR_ESRCH);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_NS_PER_S);
    assert_int_equal(c.closed_code, DR_ECONNRESET);
    assert_int_equal(fault_count(w.sim, "host.crash"), 1);
    /* a connect to a down host times out */
    rec c2;
    memset(&c2, 0, sizeof c2);
    assert_int_equal(dr_env_connect(w.ea, "host-b", 7000, &rec_cbs, &c2, &c2.stream, &err), DR_OK);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_SIM_CONNECT_TIMEOUT_NS + DR_NS_PER_S);
    assert_int_equal(c2.closed_code, DR_ETIMEDOUT);

    dr_sim_host_restart(w.sim, w.hb);
    dr_pid again = dr_sim_process_start(w.sim, w.hb, argv, &err);
    assert_true(again > second); /* pids are never reused */
    dr_host_info after;
    assert_int_equal(dr_env_host_info(dr_sim_process_env(w.sim, again), &after, &err), DR_OK);
    assert_string_not_equal(before.boot_id, after.boot_id);
    assert_string_equal(before.hostname, after.hostname);
    if (have_disk) {
        uint8_t *data = NULL;
        size_t size = 0;
        assert_int_equal(dr_env_read_all(dr_sim_process_env(w.sim, again), "/tmp/state", 64,
                                         &data, &size, &err),
                         DR_OK);
        assert_int_equal(size, 7);
        assert_memory_equal(data, "durable", 7); /* the unsynced write was dropped */
        dr_free(data);
        assert_true(fault_count(w.sim, "disk.crash_drop") > 0);
    }
    dr_sim_destroy(w.sim);
    pool_deinit(&pool);
    rec_deinit(&c);
    rec_deinit(&c2);
}

typedef struct exit_log {
    int count;
    dr_pid pid;
    dr_exit_status status;
} exit_log;

static void exit_fn(dr_env *env, dr_pid pid, dr_exit_status status, void *ctx)
{
    (void)env;
    exit_log *log = ctx;
    log->count++;
    log->pid = pid;
    log->status = status;
}

/* Spawns a generic program from host-a's process; returns its exit status. */
static dr_exit_status generic_run(uint64_t seed, uint64_t *hash_out)
{
    world w;
    world_init(&w, seed, NULL);
    exit_log log;
    memset(&log, 0, sizeof log);
    const char *argv[] = {"/usr/bin/make", "all", NULL};
    dr_spawn_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.argv = argv;
    opts.stdout_path = "/tmp/make.out";
    dr_pid pid = 0;
    dr_err err;
    assert_int_equal(dr_env_spawn(w.ea, &opts, exit_fn, &log, &pid, &err), DR_OK);
    assert_true(pid > 0);
    assert_true(dr_sim_process_alive(w.sim, pid));
    assert_int_equal(log.count, 0);
    dr_sim_run_until(w.sim, 10 * DR_NS_PER_S);
    assert_int_equal(log.count, 1);
    assert_int_equal(log.pid, pid);
    assert_false(dr_sim_process_alive(w.sim, pid));
    assert_false(log.status.signaled);
    uint8_t *data = NULL;
    size_t size = 0;
    dr_code rc = dr_env_read_all(w.ea, "/tmp/make.out", 4096, &data, &size, &err);
    if (rc == DR_OK) {
        assert_non_null(strstr((char *)data, "/usr/bin/make: pid"));
        dr_free(data);
    } else {
        assert_int_equal(rc, DR_ENOTSUP);
    }
    *hash_out = dr_sim_trace_hash(w.sim);
    dr_sim_destroy(w.sim);
    return log.status;
}

static void spawn_generic_seeded_status(void **state)
{
    (void)state;
    bool saw_zero = false, saw_nonzero = false;
    for (uint64_t seed = 1; seed <= 30; seed++) {
        uint64_t h1, h2;
        dr_exit_status a = generic_run(seed, &h1);
        dr_exit_status b = generic_run(seed, &h2);
        assert_int_equal(a.code, b.code);
        assert_int_equal(h1, h2);
        saw_zero |= a.code == 0;
        saw_nonzero |= a.code != 0;
    }
    assert_true(saw_zero);
    assert_true(saw_nonzero);

    /* a signal ends a generic program, reported as signaled */
    world w;
    world_init(&w, 1, NULL);
    exit_log log;
    memset(&log, 0, sizeof log);
    const char *argv[] = {"sleep", "100", NULL};
    dr_spawn_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.argv = argv;
    dr_pid pid = 0;
    dr_err err;
    assert_int_equal(dr_env_spawn(w.ea, &opts, exit_fn, &log, &pid, &err), DR_OK);
    assert_int_equal(dr_env_signal(w.ea, pid, 0, false, &err), DR_OK); /* exists */
    assert_int_equal(dr_env_signal(w.ea, pid, SIGTERM, false, &err), DR_OK);
    assert_true(dr_sim_process_alive(w.sim, pid)); /* delivered later, from the loop */
    dr_sim_run_until(w.sim, DR_NS_PER_MS);
    assert_int_equal(log.count, 1);
    assert_true(log.status.signaled);
    assert_int_equal(log.status.code, SIGTERM);
    assert_int_equal(dr_env_signal(w.ea, pid, SIGTERM, false, &err), DR_ESRCH);
    dr_sim_destroy(w.sim);
}

static void spawn_registered_children_survive(void **state)
{
    (void)state;
    world w;
    world_init(&w, 29, NULL);
    exit_log log;
    memset(&log, 0, sizeof log);
    const char *argv[] = {"blank", NULL};
    dr_spawn_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.argv = argv;
    dr_pid child = 0;
    dr_err err;
    assert_int_equal(dr_env_spawn(w.ea, &opts, exit_fn, &log, &child, &err), DR_OK);
    assert_non_null(dr_sim_process_state(w.sim, child));
    /* the child ends: the parent hears it */
    dr_sim_process_crash(w.sim, child);
    dr_sim_run_until(w.sim, DR_NS_PER_MS);
    assert_int_equal(log.count, 1);
    assert_true(log.status.signaled);
    assert_int_equal(log.status.code, SIGKILL);

    /* a child whose start fails exits with 1 */
    const char *bad_argv[] = {"blank", "fail", NULL};
    opts.argv = bad_argv;
    assert_int_equal(dr_env_spawn(w.ea, &opts, exit_fn, &log, &child, &err), DR_OK);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_NS_PER_MS);
    assert_int_equal(log.count, 2);
    assert_false(log.status.signaled);
    assert_int_equal(log.status.code, 1);
    assert_int_equal(dr_sim_process_start(w.sim, w.ha, bad_argv, &err), 0);
    assert_int_equal(err.code, DR_EINTERNAL);

    /* graceful stop calls the program's stop */
    opts.argv = argv;
    assert_int_equal(dr_env_spawn(w.ea, &opts, exit_fn, &log, &child, &err), DR_OK);
    int stops = blank_stop_count;
    dr_sim_process_stop(w.sim, child);
    assert_int_equal(blank_stop_count, stops + 1);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_NS_PER_MS);
    assert_int_equal(log.count, 3);
    assert_false(log.status.signaled);
    assert_int_equal(log.status.code, 0);

    /* the parent crashes: the child survives and nobody is called */
    assert_int_equal(dr_env_spawn(w.ea, &opts, exit_fn, &log, &child, &err), DR_OK);
    dr_sim_process_crash(w.sim, w.pa);
    assert_true(dr_sim_process_alive(w.sim, child));
    dr_sim_process_crash(w.sim, child);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_NS_PER_S);
    assert_int_equal(log.count, 3);

    /* watch: another process hears an exit it did not spawn */
    exit_log wlog;
    memset(&wlog, 0, sizeof wlog);
    dr_pid target = dr_sim_process_start(w.sim, w.ha, argv, &err);
    assert_int_equal(dr_env_watch(w.eb, target, exit_fn, &wlog, &err), DR_OK);
    assert_int_equal(dr_env_signal(w.eb, target, SIGKILL, false, &err), DR_OK);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_NS_PER_S);
    assert_int_equal(wlog.count, 1);
    assert_int_equal(wlog.pid, target);
    assert_int_equal(dr_env_watch(w.eb, target, exit_fn, &wlog, &err), DR_ESRCH);
    dr_sim_destroy(w.sim);
}

static void fail_nth_injects_one_fault(void **state)
{
    (void)state;
    dr_sim_faults f = latency_faults();
    world w;
    world_init(&w, 37, &f);
    accept_pool pool;
    memset(&pool, 0, sizeof pool);
    rec c;
    memset(&c, 0, sizeof c);
    world_connect(&w, &pool, &c);
    dr_err err;
    /* the second send resets the connection */
    dr_sim_fail_nth(w.sim, DR_SIM_OP_SEND, 2);
    assert_int_equal(dr_env_stream_write(w.ea, c.stream, "a", 1, &err), DR_OK);
    assert_int_equal(dr_env_stream_write(w.ea, c.stream, "b", 1, &err), DR_OK);
    assert_int_equal(dr_env_stream_write(w.ea, c.stream, "c", 1, &err), DR_ECLOSED);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_NS_PER_S);
    assert_int_equal(c.closed_code, DR_ECONNRESET);
    assert_int_equal(pool.recs[0].closed_code, DR_ECONNRESET);
    assert_int_equal(fault_count(w.sim, "inject.send"), 1);
    /* the next spawn fails; the one after works */
    dr_sim_fail_nth(w.sim, DR_SIM_OP_SPAWN, 1);
    const char *argv[] = {"true", NULL};
    dr_spawn_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.argv = argv;
    exit_log log;
    memset(&log, 0, sizeof log);
    dr_pid pid = 0;
    assert_int_equal(dr_env_spawn(w.ea, &opts, exit_fn, &log, &pid, &err), DR_EAGAIN);
    assert_string_equal(err.msg, "spawn 'true': injected failure");
    assert_int_equal(dr_env_spawn(w.ea, &opts, exit_fn, &log, &pid, &err), DR_OK);
    /* the first write and the first fsync fail, then the disk works */
    dr_file *file = NULL;
    if (dr_env_open(w.ea, "/tmp/f", DR_OPEN_WRITE | DR_OPEN_CREATE, &file, &err) == DR_OK) {
        dr_sim_fail_nth(w.sim, DR_SIM_OP_WRITE, 1);
        dr_sim_fail_nth(w.sim, DR_SIM_OP_FSYNC, 1);
        assert_int_equal(dr_env_pwrite(w.ea, file, 0, "x", 1, &err), DR_EIO);
        assert_int_equal(dr_env_append(w.ea, file, "y", 1, &err), DR_OK);
        assert_int_equal(dr_env_fsync(w.ea, file, &err), DR_EIO);
        assert_int_equal(dr_env_fsync(w.ea, file, &err), DR_OK);
        uint64_t size = 0;
        assert_int_equal(dr_env_file_size(w.ea, file, &size, &err), DR_OK);
        assert_int_equal(size, 1);
        dr_env_close(w.ea, file);
        assert_int_equal(fault_count(w.sim, "inject.write"), 1);
        assert_int_equal(fault_count(w.sim, "inject.fsync"), 1);
    }
    dr_env_stream_close(w.ea, c.stream);
    dr_sim_destroy(w.sim);
    pool_deinit(&pool);
    rec_deinit(&c);
}

/* ---- logs, trace lines, host facts -------------------------------------------------------- */

static void logs_trace_lines_and_host_facts(void **state)
{
    (void)state;
    char *log_text = NULL, *trace_text = NULL;
    size_t log_size = 0, trace_size = 0;
    FILE *log_out = open_memstream(&log_text, &log_size);
    FILE *trace_out = open_memstream(&trace_text, &trace_size);
    assert_non_null(log_out);
    assert_non_null(trace_out);
    dr_sim_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.seed = 31;
    opts.log_out = log_out;
    opts.trace_out = trace_out;
    opts.log_level = DR_LOG_INFO;
    opts.faults = latency_faults();
    dr_sim *sim = dr_sim_create(&opts);
    dr_sim_register_program(sim, &blank_program);
    dr_sim_host_id h = dr_sim_host_add(sim, "host-a");
    dr_sim_host_add(sim, "host-b");
    dr_sim_host_set_resources(sim, h, 32, UINT64_C(64) << 30);
    assert_int_equal(dr_sim_host_find(sim, "host-b"), 2);
    assert_int_equal(dr_sim_host_find(sim, "10.0.0.1"), 1);
    assert_int_equal(dr_sim_host_find(sim, "host-c"), 0);
    assert_string_equal(dr_sim_host_name(sim, 2), "host-b");
    const char *argv[] = {"blank", NULL};
    dr_err err;
    dr_pid pid = dr_sim_process_start(sim, h, argv, &err);
    dr_env *env = dr_sim_process_env(sim, pid);
    dr_sim_run_until(sim, 1500 * DR_NS_PER_MS);
    DR_INFO(env, "hello %d", 7);
    DR_DEBUG(env, "not shown");
    dr_env_set_log_level(env, DR_LOG_DEBUG);
    assert_int_equal(dr_env_log_level(env), DR_LOG_DEBUG);
    DR_DEBUG(env, "shown");
    dr_host_info info;
    assert_int_equal(dr_env_host_info(env, &info, &err), DR_OK);
    assert_int_equal(info.cpu_count, 32);
    assert_int_equal(info.mem_bytes, UINT64_C(64) << 30);
    uint64_t free_bytes = 0, total_bytes = 0;
    dr_code rc = dr_env_disk_space(env, "/", &free_bytes, &total_bytes, &err);
    if (rc == DR_OK) {
        assert_true(total_bytes > 0);
        assert_true(free_bytes <= total_bytes);
    } else {
        assert_int_equal(rc, DR_ENOTSUP);
    }
    dr_sim_trace_note(sim, "decision", 5);
    uint64_t before = dr_sim_trace_hash(sim);
    dr_sim_trace_note(sim, "decision", 5);
    assert_int_not_equal(dr_sim_trace_hash(sim), before);
    dr_sim_destroy(sim);
    fclose(log_out);
    fclose(trace_out);
    assert_non_null(strstr(log_text, "t=1.500000s host-a:pid1 INFO hello 7\n"));
    assert_null(strstr(log_text, "not shown"));
    assert_non_null(strstr(log_text, "host-a:pid1 DEBUG shown\n"));
    assert_non_null(strstr(trace_text, "spawn sim -> host-a:pid1"));
    assert_non_null(strstr(trace_text, "t=1.500000s #0 note.decision sim -> sim v=0 x=0000000000000005"));
    free(log_text);
    free(trace_text);
}

/* ---- trace hash ------------------------------------------------------------------------------ */

typedef struct trace_opts {
    uint64_t seed;
    bool extra_event;
    bool flip_byte;
} trace_opts;

static void noop_fn(dr_sim *sim, void *ctx)
{
    (void)sim;
    (void)ctx;
}

static uint64_t trace_run(trace_opts t)
{
    dr_sim_faults f = latency_faults();
    f.net_latency_tail_p = 0.1;
    f.net_latency_tail_max_ns = 50 * DR_NS_PER_MS;
    world w;
    world_init(&w, t.seed, &f);
    accept_pool pool;
    memset(&pool, 0, sizeof pool);
    rec c;
    memset(&c, 0, sizeof c);
    world_connect(&w, &pool, &c);
    dr_err err;
    for (int i = 0; i < 50; i++) {
        uint8_t msg[64];
        for (size_t j = 0; j < sizeof msg; j++)
            msg[j] = (uint8_t)(dr_env_random(w.ea) & 0xff);
        if (t.flip_byte && i == 25)
            msg[10] ^= 1;
        assert_int_equal(dr_env_stream_write(w.ea, c.stream, msg, sizeof msg, &err), DR_OK);
        dr_sim_run_until(w.sim, dr_sim_now(w.sim) + 3 * DR_NS_PER_MS);
    }
    if (t.extra_event)
        dr_sim_schedule(w.sim, 0, noop_fn, NULL);
    dr_sim_run_until(w.sim, dr_sim_now(w.sim) + DR_NS_PER_S);
    assert_int_equal(pool.recs[0].data.size, 50 * 64);
    uint64_t hash = dr_sim_trace_hash(w.sim);
    dr_sim_destroy(w.sim);
    pool_deinit(&pool);
    rec_deinit(&c);
    return hash;
}

static void count_fn(dr_sim *sim, void *ctx)
{
    uint64_t *left = ctx;
    if (--*left > 0)
        dr_sim_schedule(sim, 1, count_fn, ctx);
}

static void trace_checkpoints_every_2_16_events(void **state)
{
    (void)state;
    uint64_t runs[2][4];
    for (int r = 0; r < 2; r++) {
        dr_sim_opts opts;
        memset(&opts, 0, sizeof opts);
        opts.seed = 3;
        dr_sim *sim = dr_sim_create(&opts);
        uint64_t left = 3 * DR_SIM_CHECKPOINT_EVENTS + 5;
        dr_sim_schedule(sim, 0, count_fn, &left);
        assert_int_equal(dr_sim_run_until(sim, UINT64_MAX), 3 * DR_SIM_CHECKPOINT_EVENTS + 5);
        assert_int_equal(dr_sim_trace_checkpoints(sim, runs[r], 4), 3);
        assert_int_not_equal(runs[r][0], runs[r][1]);
        dr_sim_destroy(sim);
    }
    assert_memory_equal(runs[0], runs[1], 3 * sizeof runs[0][0]);
}

static void trace_hash_is_deterministic_and_sensitive(void **state)
{
    (void)state;
    uint64_t base = trace_run((trace_opts){1, false, false});
    assert_int_equal(trace_run((trace_opts){1, false, false}), base);
    assert_int_not_equal(trace_run((trace_opts){2, false, false}), base);
    assert_int_not_equal(trace_run((trace_opts){1, true, false}), base);
    assert_int_not_equal(trace_run((trace_opts){1, false, true}), base);
}

static void scenario_registry_and_ping(void **state)
{
    (void)state;
    assert_true(dr_sim_scenario_count() >= 1);
    const dr_sim_scenario *ping = dr_sim_scenario_find("ping");
    assert_non_null(ping);
    assert_null(dr_sim_scenario_find("no-such-scenario"));
    bool found = false;
    for (size_t i = 0; i < dr_sim_scenario_count(); i++)
        found |= dr_sim_scenario_at(i) == ping;
    assert_true(found);
    FILE *out = fopen("/dev/null", "w");
    assert_non_null(out);
    for (uint64_t seed = 1; seed <= 10; seed++) {
        dr_sim_opts opts;
        memset(&opts, 0, sizeof opts);
        opts.seed = seed;
        uint64_t h1 = 0, h2 = 0;
        assert_int_equal(ping->run(&opts, out, &h1), 0);
        assert_int_equal(ping->run(&opts, out, &h2), 0);
        assert_int_equal(h1, h2);
    }
    fclose(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(queue_orders_by_time_then_schedule),
        cmocka_unit_test(timers_fire_in_order_and_cancel),
        cmocka_unit_test(timers_survive_heap_compaction),
        cmocka_unit_test(clocks_drift_stay_monotonic),
        cmocka_unit_test(streams_deliver_fifo_under_latency),
        cmocka_unit_test(streams_loopback_and_resolve),
        cmocka_unit_test(streams_refused),
        cmocka_unit_test(streams_reset),
        cmocka_unit_test(streams_partition_heal_and_timeout),
        cmocka_unit_test(partitions_survive_adding_hosts),
        cmocka_unit_test(streams_back_pressure),
        cmocka_unit_test(process_pause_holds_events),
        cmocka_unit_test(process_crash_resets_peers_keeps_files),
        cmocka_unit_test(process_stop_flushes_streams),
        cmocka_unit_test(host_crash_and_restart),
        cmocka_unit_test(spawn_generic_seeded_status),
        cmocka_unit_test(spawn_registered_children_survive),
        cmocka_unit_test(fail_nth_injects_one_fault),
        cmocka_unit_test(logs_trace_lines_and_host_facts),
        cmocka_unit_test(trace_hash_is_deterministic_and_sensitive),
        cmocka_unit_test(trace_checkpoints_every_2_16_events),
        cmocka_unit_test(scenario_registry_and_ping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
