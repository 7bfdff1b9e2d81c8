/* tests/unit/env_real/test_env_real.c — the real env against the real OS:
 * timers, randomness, logging, TCP streams on loopback, files in a temp dir
 * under /tmp, processes, host facts, and the env.h helpers (src/env/util.c)
 * run through the real env. Every wait is bounded by a deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/env/real/real.h"

#define WAIT_NS (10 * DR_NS_PER_S)
#define TICK_NS (20 * DR_NS_PER_MS)

typedef struct fixture {
    dr_env *env;
    char dir[64];
    char log_path[96];
    FILE *log;
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    strcpy(fx->dir, "/tmp/dr_env_real_XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    /* The log lives outside dir so listing dir sees only what a test made. */
    snprintf(fx->log_path, sizeof fx->log_path, "%s.log", fx->dir);
    fx->log = fopen(fx->log_path, "w+");
    assert_non_null(fx->log);
    dr_env_real_opts opts = {.node_name = "node-1", .seed = 42, .log_level = DR_LOG_INFO,
                             .log_file = fx->log};
    dr_err err;
    assert_int_equal(dr_env_real_create(&opts, &fx->env, &err), DR_OK);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    dr_err err;
    assert_int_equal(dr_env_remove_tree(fx->env, fx->dir, &err), DR_OK);
    dr_env_real_destroy(fx->env);
    fclose(fx->log);
    unlink(fx->log_path);
    free(fx);
    return 0;
}

/* Runs the loop until *flag is true; fails the test after WAIT_NS. */
static void run_until(dr_env *env, const bool *flag)
{
    uint64_t deadline_ns = dr_env_now(env) + WAIT_NS;
    while (!*flag) {
        assert_true(dr_env_now(env) < deadline_ns);
        dr_env_real_run_once(env, TICK_NS);
    }
}

/* Runs the loop for about duration_ns (to check that nothing happens). */
static void run_for(dr_env *env, uint64_t duration_ns)
{
    uint64_t end_ns = dr_env_now(env) + duration_ns;
    while (dr_env_now(env) < end_ns)
        dr_env_real_run_once(env, TICK_NS);
}

static char *path_in(const fixture *fx, const char *name)
{
    return dr_sprintf("%s/%s", fx->dir, name);
}

/* ---- timers, randomness, loop -------------------------------------------------- */

typedef struct timer_log {
    dr_env *env;
    int order[32];
    int count;
} timer_log;

typedef struct timer_mark {
    timer_log *log;
    int value;
} timer_mark;

static void mark_fire(dr_env *env, void *ctx)
{
    timer_mark *m = ctx;
    assert_ptr_equal(env, m->log->env);
    assert_true(m->log->count < 32);
    m->log->order[m->log->count++] = m->value;
}

static timer_mark chained_mark;

static void chain_fire(dr_env *env, void *ctx)
{
    mark_fire(env, ctx);
    /* Added from a timer with delay 0: must wait for the next turn. */
    dr_env_timer_add(env, 0, mark_fire, &chained_mark);
}

static void test_timers_order(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    timer_log log = {.env = env};
    timer_mark m[8];
    for (int i = 0; i < 8; i++)
        m[i] = (timer_mark){&log, i + 1};

    /* delay 0: never from inside timer_add; add order kept; cancel works. */
    dr_timer_id a = dr_env_timer_add(env, 0, mark_fire, &m[0]);
    dr_timer_id b = dr_env_timer_add(env, 0, mark_fire, &m[1]);
    dr_timer_id c = dr_env_timer_add(env, 0, mark_fire, &m[2]);
    assert_int_not_equal(a, 0);
    assert_int_not_equal(b, a);
    assert_int_equal(log.count, 0);
    dr_env_timer_cancel(env, b);
    dr_env_timer_cancel(env, b);     /* twice: no-op */
    dr_env_timer_cancel(env, 0);     /* "no timer": no-op */
    dr_env_timer_cancel(env, 12345); /* never handed out: no-op */
    while (log.count < 2)
        dr_env_real_run_once(env, TICK_NS);
    run_for(env, 30 * DR_NS_PER_MS);
    assert_int_equal(log.count, 2);
    assert_int_equal(log.order[0], 1);
    assert_int_equal(log.order[1], 3);
    dr_env_timer_cancel(env, c); /* spent: no-op */

    /* A delay-0 timer added by a timer runs after the ones already due. */
    log.count = 0;
    chained_mark = (timer_mark){&log, 11};
    dr_env_timer_add(env, 0, chain_fire, &m[3]);
    dr_env_timer_add(env, 0, mark_fire, &m[4]);
    while (log.count < 3)
        dr_env_real_run_once(env, TICK_NS);
    assert_int_equal(log.order[0], 4);
    assert_int_equal(log.order[1], 5);
    assert_int_equal(log.order[2], 11);

    /* Different delays fire in due order, not add order; equal delays in
     * add order. */
    log.count = 0;
    uint64_t start_ns = dr_env_now(env);
    dr_env_timer_add(env, 30 * DR_NS_PER_MS, mark_fire, &m[2]);
    dr_env_timer_add(env, 10 * DR_NS_PER_MS, mark_fire, &m[0]);
    dr_env_timer_add(env, 20 * DR_NS_PER_MS, mark_fire, &m[1]);
    dr_env_timer_add(env, 20 * DR_NS_PER_MS, mark_fire, &m[5]);
    dr_env_timer_add(env, 20 * DR_NS_PER_MS, mark_fire, &m[6]);
    dr_timer_id late = dr_env_timer_add(env, 25 * DR_NS_PER_MS, mark_fire, &m[7]);
    dr_env_timer_cancel(env, late);
    while (log.count < 5)
        dr_env_real_run_once(env, TICK_NS);
    assert_true(dr_env_now(env) - start_ns >= 30 * DR_NS_PER_MS);
    int want[] = {1, 2, 6, 7, 3};
    for (int i = 0; i < 5; i++)
        assert_int_equal(log.order[i], want[i]);
    run_for(env, 20 * DR_NS_PER_MS);
    assert_int_equal(log.count, 5);
}

enum { MANY_COUNT = 300 };

typedef struct many_timers {
    int fired[MANY_COUNT];
    int fired_count;
} many_timers;

typedef struct many_mark {
    many_timers *m;
    int index;
} many_mark;

static void many_fire(dr_env *env, void *ctx)
{
    DR_UNUSED(env);
    many_mark *mark = ctx;
    mark->m->fired[mark->index]++;
    mark->m->fired_count++;
}

static void test_timers_many(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    /* More timers than the first slot block; cancel every third one. */
    static many_timers m;
    static many_mark marks[MANY_COUNT];
    memset(&m, 0, sizeof m);
    dr_timer_id ids[MANY_COUNT];
    for (int i = 0; i < MANY_COUNT; i++) {
        marks[i] = (many_mark){&m, i};
        uint64_t delay_ns = (uint64_t)(i * 37 % 100) * 50 * DR_NS_PER_US;
        ids[i] = dr_env_timer_add(env, delay_ns, many_fire, &marks[i]);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(ids[i], ids[j]);
    }
    int want = 0;
    for (int i = 0; i < MANY_COUNT; i++) {
        if (i % 3 == 0)
            dr_env_timer_cancel(env, ids[i]);
        else
            want++;
    }
    uint64_t deadline_ns = dr_env_now(env) + WAIT_NS;
    while (m.fired_count < want) {
        assert_true(dr_env_now(env) < deadline_ns);
        dr_env_real_run_once(env, TICK_NS);
    }
    run_for(env, 10 * DR_NS_PER_MS);
    for (int i = 0; i < MANY_COUNT; i++)
        assert_int_equal(m.fired[i], i % 3 == 0 ? 0 : 1);
    /* Slots are reused with a new generation: old ids stay dead. */
    dr_timer_id fresh = dr_env_timer_add(env, DR_NS_PER_S, many_fire, &marks[0]);
    for (int i = 0; i < MANY_COUNT; i++)
        assert_int_not_equal(fresh, ids[i]);
    dr_env_timer_cancel(env, ids[1]); /* spent: must not cancel fresh */
    dr_env_timer_cancel(env, fresh);
}

static void stop_fire(dr_env *env, void *ctx)
{
    bool *fired = ctx;
    *fired = true;
    dr_env_real_stop(env);
}

static void test_run_stop(void **state)
{
    fixture *fx = *state;
    bool fired = false;
    dr_env_timer_add(fx->env, 5 * DR_NS_PER_MS, stop_fire, &fired);
    dr_err err;
    assert_int_equal(dr_env_real_run(fx->env, &err), DR_OK);
    assert_true(fired);
    /* A stop while not running makes the next run return at once. */
    dr_env_real_stop(fx->env);
    assert_int_equal(dr_env_real_run(fx->env, &err), DR_OK);
}

static void signal_seen(dr_env *env, int signo, void *ctx)
{
    DR_UNUSED(env);
    assert_int_equal(signo, SIGUSR1);
    *(bool *)ctx = true;
}

static void test_on_signal(void **state)
{
    fixture *fx = *state;
    bool seen = false;
    dr_env_real_on_signal(fx->env, SIGUSR1, signal_seen, &seen);
    assert_int_equal(raise(SIGUSR1), 0);
    run_until(fx->env, &seen);
}

static void test_time_and_random(void **state)
{
    fixture *fx = *state;
    uint64_t t0 = dr_env_now(fx->env);
    uint64_t t1 = dr_env_now(fx->env);
    assert_true(t1 >= t0);
    assert_true(dr_env_wall(fx->env) > UINT64_C(1600000000) * DR_NS_PER_S);

    dr_env_real_opts opts = {.node_name = "r", .seed = 7, .log_file = fx->log};
    dr_env *e1 = NULL, *e2 = NULL, *e3 = NULL;
    dr_err err;
    assert_int_equal(dr_env_real_create(&opts, &e1, &err), DR_OK);
    assert_int_equal(dr_env_real_create(&opts, &e2, &err), DR_OK);
    opts.seed = 0;
    assert_int_equal(dr_env_real_create(&opts, &e3, &err), DR_OK);
    assert_int_equal(e1->ops->seed(e1->self), 7);
    assert_int_not_equal(e3->ops->seed(e3->self), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(dr_env_random(e1), dr_env_random(e2));
    dr_rng r1, r2;
    dr_env_rng(e1, "ids", &r1);
    dr_env_rng(e2, "ids", &r2);
    assert_int_equal(dr_rng_next(&r1), dr_rng_next(&r2));
    dr_env_real_destroy(e1);
    dr_env_real_destroy(e2);
    dr_env_real_destroy(e3);

    opts.node_name = "";
    assert_int_equal(dr_env_real_create(&opts, &e1, &err), DR_EINVAL);
    assert_string_equal(err.msg, "node name '': must be 1-63 bytes");
    opts.node_name = "n";
    opts.log_level = (dr_log_level)9;
    assert_int_equal(dr_env_real_create(&opts, &e1, &err), DR_EINVAL);
    assert_string_equal(err.msg, "log level 9: expected DEBUG to ERROR");
}

static void test_log(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    assert_string_equal(dr_env_node_name(env), "node-1");
    assert_int_equal(dr_env_log_level(env), DR_LOG_INFO);
    DR_DEBUG(env, "hidden %d", 1);
    DR_INFO(env, "hello %d", 5);
    dr_env_set_log_level(env, DR_LOG_DEBUG);
    assert_int_equal(dr_env_log_level(env), DR_LOG_DEBUG);
    DR_DEBUG(env, "shown");
    DR_ERROR(env, "bad");

    fflush(fx->log);
    rewind(fx->log);
    char line[256];
    const char *want[][2] = {{"I", "hello 5"}, {"D", "shown"}, {"E", "bad"}};
    for (size_t i = 0; i < DR_ARRAY_COUNT(want); i++) {
        assert_non_null(fgets(line, sizeof line, fx->log));
        int y, mo, d, h, mi, s, ms;
        char level[2], node[64], text[128];
        int n = sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ %1s %63[^:]: %127[^\n]", &y, &mo, &d,
                       &h, &mi, &s, &ms, level, node, text);
        assert_int_equal(n, 10);
        assert_true(y >= 2024);
        assert_int_equal(line[23], 'Z');
        assert_string_equal(level, want[i][0]);
        assert_string_equal(node, "node-1");
        assert_string_equal(text, want[i][1]);
    }
    assert_null(fgets(line, sizeof line, fx->log));
}

/* ---- streams ------------------------------------------------------------------------ */

typedef struct peer {
    dr_env *env;
    dr_stream *stream;
    dr_buf received;
    uint64_t received_size;
    uint64_t mismatch_count; /* bytes that broke the pattern */
    int data_count;
    int drained_count;
    bool connected;
    bool drained;
    bool closed;
    int closed_count;
    dr_err why;
    bool keep_bytes;
    bool check_pattern;
    bool close_on_data; /* close the stream from inside the data callback */
    bool abort_on_data;
} peer;

static uint8_t pattern_byte(uint64_t offset) { return (uint8_t)((offset * 7 + offset / 4096) % 251); }

static void peer_connected(dr_env *env, dr_stream *s, void *ctx)
{
    peer *p = ctx;
    assert_ptr_equal(env, p->env);
    assert_ptr_equal(s, p->stream);
    assert_false(p->connected);
    p->connected = true;
}

static void peer_data(dr_env *env, dr_stream *s, const uint8_t *data, size_t size, void *ctx)
{
    peer *p = ctx;
    assert_ptr_equal(env, p->env);
    assert_ptr_equal(s, p->stream);
    assert_false(p->closed);
    assert_true(size > 0);
    p->data_count++;
    if (p->check_pattern)
        for (size_t i = 0; i < size; i++)
            p->mismatch_count += data[i] != pattern_byte(p->received_size + i);
    if (p->keep_bytes)
        dr_buf_append(&p->received, data, size);
    p->received_size += size;
    if (p->close_on_data) {
        dr_env_stream_close(env, s);
        p->stream = NULL;
    } else if (p->abort_on_data) {
        dr_env_stream_abort(env, s);
        p->stream = NULL;
    }
}

static void peer_drained(dr_env *env, dr_stream *s, void *ctx)
{
    peer *p = ctx;
    DR_UNUSED(env);
    assert_ptr_equal(s, p->stream);
    assert_true(dr_env_stream_queued(env, s) <= DR_STREAM_WRITE_LOW_WATER_SIZE);
    p->drained = true;
    p->drained_count++;
}

static void peer_closed(dr_env *env, dr_stream *s, const dr_err *why, void *ctx)
{
    peer *p = ctx;
    DR_UNUSED(env);
    assert_ptr_equal(s, p->stream);
    p->closed = true;
    p->closed_count++;
    p->why = *why;
}

static const dr_stream_cbs peer_cbs = {
    .connected = peer_connected,
    .data = peer_data,
    .drained = peer_drained,
    .closed = peer_closed,
};

typedef struct server {
    dr_listener *listener;
    peer p;
    bool accepted;
    bool pause_on_accept;
} server;

static void server_accept(dr_env *env, dr_listener *l, dr_stream *s, void *ctx)
{
    server *srv = ctx;
    assert_ptr_equal(l, srv->listener);
    assert_false(srv->accepted);
    srv->accepted = true;
    srv->p.stream = s;
    dr_env_stream_set_cbs(env, s, &peer_cbs, &srv->p);
    if (srv->pause_on_accept)
        dr_env_stream_pause(env, s, true);
}

static void peer_init(peer *p, dr_env *env)
{
    memset(p, 0, sizeof *p);
    p->env = env;
    dr_buf_init(&p->received);
    p->keep_bytes = true;
}

/* Listens on host:0 and connects a client to it; both ends are set up. */
static uint16_t pair_up(dr_env *env, const char *host, server *srv, peer *client)
{
    peer_init(&srv->p, env);
    peer_init(client, env);
    dr_err err;
    assert_int_equal(dr_env_listen(env, host, 0, server_accept, srv, &srv->listener, &err), DR_OK);
    uint16_t port = dr_env_listener_port(env, srv->listener);
    assert_int_not_equal(port, 0);
    assert_int_equal(dr_env_connect(env, host, port, &peer_cbs, client, &client->stream, &err),
                     DR_OK);
    assert_false(client->connected); /* never from inside connect */
    run_until(env, &client->connected);
    run_until(env, &srv->accepted);
    return port;
}

static void test_stream_exchange(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    server srv = {0};
    peer client;
    uint16_t port = pair_up(env, "127.0.0.1", &srv, &client);

    char name[64], want[64];
    dr_env_stream_peer(env, client.stream, name, sizeof name);
    snprintf(want, sizeof want, "127.0.0.1:%u", (unsigned)port);
    assert_string_equal(name, want);
    dr_env_stream_peer(env, srv.p.stream, name, sizeof name);
    assert_memory_equal(name, "127.0.0.1:", 10);

    dr_err err;
    assert_int_equal(dr_env_stream_write(env, client.stream, "ping", 4, &err), DR_OK);
    while (srv.p.received.size < 4)
        dr_env_real_run_once(env, TICK_NS);
    assert_memory_equal(srv.p.received.data, "ping", 4);
    assert_int_equal(dr_env_stream_write(env, srv.p.stream, "pong!", 5, &err), DR_OK);
    while (client.received.size < 5)
        dr_env_real_run_once(env, TICK_NS);
    assert_memory_equal(client.received.data, "pong!", 5);

    /* The client closes: the server sees an orderly end (DR_OK) once. */
    dr_env_stream_close(env, client.stream);
    run_until(env, &srv.p.closed);
    assert_int_equal(srv.p.why.code, DR_OK);
    assert_non_null(strstr(srv.p.why.msg, "closed by peer"));
    assert_int_equal(dr_env_stream_write(env, srv.p.stream, "x", 1, &err), DR_ECLOSED);
    assert_non_null(strstr(err.msg, "closed"));
    run_for(env, 20 * DR_NS_PER_MS);
    assert_int_equal(srv.p.closed_count, 1);
    assert_false(client.closed); /* nothing fires after close */
    dr_env_stream_close(env, srv.p.stream);
    dr_env_listener_close(env, srv.listener);
    dr_buf_deinit(&srv.p.received);
    dr_buf_deinit(&client.received);
}

static void test_stream_hostname_and_ipv6(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    server srv = {0};
    peer client;
    pair_up(env, "localhost", &srv, &client);
    dr_env_stream_abort(env, client.stream);
    run_until(env, &srv.p.closed);
    dr_env_stream_close(env, srv.p.stream);
    dr_env_listener_close(env, srv.listener);
    dr_buf_deinit(&srv.p.received);
    dr_buf_deinit(&client.received);

    /* IPv6 loopback, where the host has it. */
    dr_listener *l = NULL;
    dr_err err;
    if (dr_env_listen(env, "::1", 0, server_accept, &srv, &l, &err) != DR_OK) {
        print_message("no IPv6 loopback here: %s\n", err.msg);
        return;
    }
    dr_env_listener_close(env, l);
    server srv6 = {0};
    uint16_t port = pair_up(env, "::1", &srv6, &client);
    char name[64], want[64];
    dr_env_stream_peer(env, client.stream, name, sizeof name);
    snprintf(want, sizeof want, "[::1]:%u", (unsigned)port);
    assert_string_equal(name, want);
    dr_env_stream_close(env, client.stream);
    run_until(env, &srv6.p.closed);
    dr_env_stream_close(env, srv6.p.stream);
    dr_env_listener_close(env, srv6.listener);
    dr_buf_deinit(&srv6.p.received);
    dr_buf_deinit(&client.received);
}

static void test_stream_large_transfer(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    server srv = {.pause_on_accept = true};
    peer client;
    pair_up(env, "127.0.0.1", &srv, &client);
    srv.p.keep_bytes = false;
    srv.p.check_pattern = true;

    enum { CHUNK = 1024 * 1024 };
    const uint64_t total = 20u * 1024 * 1024;
    uint8_t *chunk = dr_alloc(CHUNK);
    uint64_t sent = 0;
    int eagain_count = 0;
    dr_err err;
    while (sent < total) {
        for (size_t i = 0; i < CHUNK; i++)
            chunk[i] = pattern_byte(sent + i);
        dr_code rc = dr_env_stream_write(env, client.stream, chunk, CHUNK, &err);
        if (rc == DR_OK) {
            sent += CHUNK;
            continue;
        }
        assert_int_equal(rc, DR_EAGAIN);
        assert_non_null(strstr(err.msg, "queued"));
        assert_true(dr_env_stream_queued(env, client.stream) >= DR_STREAM_WRITE_QUEUE_SIZE_MAX);
        if (eagain_count++ == 0) {
            /* Paused since accept: nothing may have been delivered. */
            run_for(env, 20 * DR_NS_PER_MS);
            assert_int_equal(srv.p.received_size, 0);
            assert_false(client.drained);
            dr_env_stream_pause(env, srv.p.stream, false);
        }
        client.drained = false;
        run_until(env, &client.drained);
    }
    assert_true(eagain_count >= 1);
    assert_true(client.drained_count >= 1);
    /* Close with bytes still queued: they are flushed, then FIN. */
    assert_true(dr_env_stream_queued(env, client.stream) > 0);
    dr_env_stream_close(env, client.stream);
    run_until(env, &srv.p.closed);
    assert_int_equal(srv.p.why.code, DR_OK);
    assert_int_equal(srv.p.received_size, total);
    assert_int_equal(srv.p.mismatch_count, 0);
    dr_env_stream_close(env, srv.p.stream);
    dr_env_listener_close(env, srv.listener);
    dr_free(chunk);
    dr_buf_deinit(&srv.p.received);
    dr_buf_deinit(&client.received);
}

static void test_stream_refused(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    server srv = {0};
    dr_listener *l = NULL;
    dr_err err;
    assert_int_equal(dr_env_listen(env, "127.0.0.1", 0, server_accept, &srv, &l, &err), DR_OK);
    uint16_t port = dr_env_listener_port(env, l);
    dr_env_listener_close(env, l);

    peer client;
    peer_init(&client, env);
    assert_int_equal(dr_env_connect(env, "127.0.0.1", port, &peer_cbs, &client, &client.stream,
                                    &err),
                     DR_OK);
    assert_false(client.closed);
    run_until(env, &client.closed);
    assert_false(client.connected);
    assert_int_equal(client.why.code, DR_ECONNREFUSED);
    char want[64];
    snprintf(want, sizeof want, "stream to 127.0.0.1:%u: Connection refused", (unsigned)port);
    assert_string_equal(client.why.msg, want);
    assert_int_equal(dr_env_stream_write(env, client.stream, "x", 1, &err), DR_ECLOSED);
    dr_env_stream_close(env, client.stream);
    dr_buf_deinit(&client.received);
}

static void test_stream_abort_resets_peer(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    server srv = {0};
    peer client;
    pair_up(env, "127.0.0.1", &srv, &client);
    dr_err err;
    assert_int_equal(dr_env_stream_write(env, client.stream, "unsent?", 7, &err), DR_OK);
    dr_env_stream_abort(env, client.stream);
    run_until(env, &srv.p.closed);
    assert_int_equal(srv.p.why.code, DR_ECONNRESET);
    assert_non_null(strstr(srv.p.why.msg, "stream from 127.0.0.1:"));
    assert_non_null(strstr(srv.p.why.msg, "reset"));
    dr_env_stream_close(env, srv.p.stream);
    dr_env_listener_close(env, srv.listener);
    dr_buf_deinit(&srv.p.received);
    dr_buf_deinit(&client.received);
}

static void test_stream_close_from_callback(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    for (int variant = 0; variant < 2; variant++) {
        server srv = {0};
        peer client;
        pair_up(env, "127.0.0.1", &srv, &client);
        srv.p.close_on_data = variant == 0;
        srv.p.abort_on_data = variant == 1;
        dr_err err;
        /* Several writes so that more data is pending when the callback closes. */
        for (int i = 0; i < 50; i++)
            assert_int_equal(dr_env_stream_write(env, client.stream, "0123456789", 10, &err),
                             DR_OK);
        run_until(env, &client.closed);
        assert_int_equal(client.why.code, variant == 0 ? DR_OK : DR_ECONNRESET);
        run_for(env, 20 * DR_NS_PER_MS);
        assert_int_equal(srv.p.data_count, 1);
        assert_false(srv.p.closed);
        dr_env_stream_close(env, client.stream);
        dr_env_listener_close(env, srv.listener);
        dr_buf_deinit(&srv.p.received);
        dr_buf_deinit(&client.received);
    }
}

static void test_stream_close_while_connecting(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    server srv = {0};
    peer_init(&srv.p, env);
    dr_err err;
    assert_int_equal(dr_env_listen(env, "127.0.0.1", 0, server_accept, &srv, &srv.listener, &err),
                     DR_OK);
    uint16_t port = dr_env_listener_port(env, srv.listener);
    peer client;
    peer_init(&client, env);
    assert_int_equal(dr_env_connect(env, "127.0.0.1", port, &peer_cbs, &client, &client.stream,
                                    &err),
                     DR_OK);
    /* Queued before the connect completes, then closed: still delivered. */
    assert_int_equal(dr_env_stream_write(env, client.stream, "early", 5, &err), DR_OK);
    assert_int_equal(dr_env_stream_queued(env, client.stream), 5);
    dr_env_stream_close(env, client.stream);
    run_until(env, &srv.p.closed);
    assert_int_equal(srv.p.why.code, DR_OK);
    assert_int_equal(srv.p.received.size, 5);
    assert_memory_equal(srv.p.received.data, "early", 5);
    assert_false(client.connected);
    dr_env_stream_close(env, srv.p.stream);
    dr_env_listener_close(env, srv.listener);
    dr_buf_deinit(&srv.p.received);
    dr_buf_deinit(&client.received);
}

static void test_stream_connect_timeout(void **state)
{
    fixture *fx = *state;
    /* A listener that never accepts, with the smallest backlog: once its
     * queue is full the kernel drops further SYNs and connects hang. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(listen(fd, 0), 0);
    socklen_t sin_size = sizeof sin;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sin_size), 0);
    uint16_t port = ntohs(sin.sin_port);

    dr_env_real_opts opts = {.node_name = "t", .seed = 1, .log_file = fx->log,
                             .connect_timeout_ns = 200 * DR_NS_PER_MS};
    dr_env *env = NULL;
    dr_err err;
    assert_int_equal(dr_env_real_create(&opts, &env, &err), DR_OK);
    enum { CLIENTS = 6 };
    peer clients[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        peer_init(&clients[i], env);
        assert_int_equal(dr_env_connect(env, "127.0.0.1", port, &peer_cbs, &clients[i],
                                        &clients[i].stream, &err),
                         DR_OK);
    }
    bool last_closed_or_connected = false;
    uint64_t deadline_ns = dr_env_now(env) + WAIT_NS;
    while (!last_closed_or_connected) {
        assert_true(dr_env_now(env) < deadline_ns);
        dr_env_real_run_once(env, TICK_NS);
        last_closed_or_connected = true;
        for (int i = 0; i < CLIENTS; i++)
            if (!clients[i].closed && !clients[i].connected)
                last_closed_or_connected = false;
    }
    int timed_out = 0;
    char want[96];
    snprintf(want, sizeof want, "stream to 127.0.0.1:%u: connect timed out after 200 ms",
             (unsigned)port);
    for (int i = 0; i < CLIENTS; i++) {
        if (clients[i].closed && !clients[i].connected) {
            assert_int_equal(clients[i].why.code, DR_ETIMEDOUT);
            assert_string_equal(clients[i].why.msg, want);
            timed_out++;
        }
        dr_env_stream_close(env, clients[i].stream);
        dr_buf_deinit(&clients[i].received);
    }
    assert_true(timed_out >= 1);
    dr_env_real_destroy(env);
    close(fd);
}

static void test_stream_write_to_reset_peer(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    server srv = {0};
    peer client;
    pair_up(env, "127.0.0.1", &srv, &client);
    /* The client does not read, so the reset is found by its next send. */
    dr_env_stream_pause(env, client.stream, true);
    dr_env_stream_abort(env, srv.p.stream);
    run_for(env, 50 * DR_NS_PER_MS);
    assert_false(client.closed);
    dr_err err;
    dr_code rc = DR_OK;
    for (int i = 0; i < 10 && rc == DR_OK && !client.closed; i++) {
        rc = dr_env_stream_write(env, client.stream, "late", 4, &err);
        assert_false(client.closed); /* never from inside write */
        dr_env_real_run_once(env, TICK_NS);
    }
    run_until(env, &client.closed);
    assert_int_equal(client.why.code, DR_ECONNRESET);
    assert_int_equal(client.closed_count, 1);
    assert_int_equal(dr_env_stream_write(env, client.stream, "x", 1, &err), DR_ECLOSED);
    dr_env_stream_close(env, client.stream);
    dr_env_listener_close(env, srv.listener);
    dr_buf_deinit(&srv.p.received);
    dr_buf_deinit(&client.received);
}

/* An echo server for many clients: each accepted stream writes back what it
 * reads and closes when its peer does. */
enum { ECHO_CLIENTS = 64, ECHO_SIZE = 3000 };

typedef struct echo_conn {
    dr_stream *stream;
    int closed_count;
} echo_conn;

typedef struct echo_server {
    echo_conn conns[ECHO_CLIENTS];
    int accepted_count;
    int closed_count;
} echo_server;

static void echo_data(dr_env *env, dr_stream *s, const uint8_t *data, size_t size, void *ctx)
{
    DR_UNUSED(ctx);
    dr_err err;
    assert_int_equal(dr_env_stream_write(env, s, data, size, &err), DR_OK);
}

static void echo_closed(dr_env *env, dr_stream *s, const dr_err *why, void *ctx)
{
    echo_conn *c = ctx;
    assert_int_equal(why->code, DR_OK);
    c->closed_count++;
    dr_env_stream_close(env, s); /* from inside its own closed callback */
}

static const dr_stream_cbs echo_cbs = {.data = echo_data, .closed = echo_closed};

static void echo_accept(dr_env *env, dr_listener *l, dr_stream *s, void *ctx)
{
    DR_UNUSED(l);
    echo_server *es = ctx;
    assert_true(es->accepted_count < ECHO_CLIENTS);
    echo_conn *c = &es->conns[es->accepted_count++];
    c->stream = s;
    dr_env_stream_set_cbs(env, s, &echo_cbs, c);
}

static void test_stream_many_clients(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    static echo_server es;
    static peer clients[ECHO_CLIENTS];
    memset(&es, 0, sizeof es);
    dr_listener *l = NULL;
    dr_err err;
    assert_int_equal(dr_env_listen(env, "127.0.0.1", 0, echo_accept, &es, &l, &err), DR_OK);
    uint16_t port = dr_env_listener_port(env, l);
    uint8_t payload[ECHO_SIZE];
    for (int i = 0; i < ECHO_CLIENTS; i++) {
        peer_init(&clients[i], env);
        clients[i].keep_bytes = false;
        clients[i].check_pattern = true;
        assert_int_equal(dr_env_connect(env, "127.0.0.1", port, &peer_cbs, &clients[i],
                                        &clients[i].stream, &err),
                         DR_OK);
        for (size_t j = 0; j < ECHO_SIZE; j++)
            payload[j] = pattern_byte(j);
        /* Queued while connecting, sent once connected. */
        assert_int_equal(dr_env_stream_write(env, clients[i].stream, payload, ECHO_SIZE, &err),
                         DR_OK);
    }
    uint64_t deadline_ns = dr_env_now(env) + WAIT_NS;
    for (int i = 0; i < ECHO_CLIENTS; i++) {
        while (clients[i].received_size < ECHO_SIZE) {
            assert_true(dr_env_now(env) < deadline_ns);
            dr_env_real_run_once(env, TICK_NS);
        }
        assert_true(clients[i].connected);
        assert_int_equal(clients[i].received_size, ECHO_SIZE);
        assert_int_equal(clients[i].mismatch_count, 0);
        dr_env_stream_close(env, clients[i].stream);
    }
    int closed = 0;
    while (closed < ECHO_CLIENTS) {
        assert_true(dr_env_now(env) < deadline_ns);
        dr_env_real_run_once(env, TICK_NS);
        closed = 0;
        for (int i = 0; i < es.accepted_count; i++)
            closed += es.conns[i].closed_count;
    }
    assert_int_equal(es.accepted_count, ECHO_CLIENTS);
    for (int i = 0; i < ECHO_CLIENTS; i++) {
        assert_int_equal(es.conns[i].closed_count, 1);
        assert_false(clients[i].closed);
        dr_buf_deinit(&clients[i].received);
    }
    dr_env_listener_close(env, l);
}

static void test_stream_errors(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    server srv = {0};
    dr_listener *l = NULL, *l2 = NULL;
    dr_err err;
    assert_int_equal(dr_env_listen(env, "127.0.0.1", 0, server_accept, &srv, &l, &err), DR_OK);
    uint16_t port = dr_env_listener_port(env, l);
    assert_int_equal(dr_env_listen(env, "127.0.0.1", port, server_accept, &srv, &l2, &err),
                     DR_EADDRINUSE);
    char want[64];
    snprintf(want, sizeof want, "listen '127.0.0.1:%u': Address already in use", (unsigned)port);
    assert_string_equal(err.msg, want);
    dr_env_listener_close(env, l);

    peer client;
    peer_init(&client, env);
    assert_int_equal(dr_env_connect(env, "127.0.0.1", 0, &peer_cbs, &client, &client.stream, &err),
                     DR_EINVAL);
    assert_string_equal(err.msg, "connect '127.0.0.1:0': port must be 1-65535");
    assert_int_equal(dr_env_connect(env, "", 80, &peer_cbs, &client, &client.stream, &err),
                     DR_EINVAL);
    assert_int_equal(
        dr_env_connect(env, "no-such-host.invalid", 80, &peer_cbs, &client, &client.stream, &err),
        DR_ENOTFOUND);
    assert_non_null(strstr(err.msg, "connect 'no-such-host.invalid:80': cannot resolve"));
    assert_int_equal(dr_env_listen(env, "192.0.2.1", 0, server_accept, &srv, &l, &err), DR_EINVAL);
    assert_non_null(strstr(err.msg, "listen '192.0.2.1:0'"));
    run_for(env, 10 * DR_NS_PER_MS);
    assert_false(client.closed); /* failed calls never call back */
    dr_buf_deinit(&client.received);
}

/* ---- files ------------------------------------------------------------------------- */

static void test_files_basic(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    char *a = path_in(fx, "a");
    char *b = path_in(fx, "b");
    dr_file *f = NULL;
    dr_err err;
    assert_int_equal(dr_env_open(env, a, DR_OPEN_WRITE | DR_OPEN_CREATE, &f, &err), DR_OK);
    assert_int_equal(dr_env_pwrite(env, f, 0, "hello", 5, &err), DR_OK);
    assert_int_equal(dr_env_append(env, f, " world", 6, &err), DR_OK);
    assert_int_equal(dr_env_pwrite(env, f, 0, "J", 1, &err), DR_OK); /* pwrite still at 0 */
    uint64_t size = 0;
    assert_int_equal(dr_env_file_size(env, f, &size, &err), DR_OK);
    assert_int_equal(size, 11);
    char buf[32];
    size_t got = 0;
    assert_int_equal(dr_env_pread(env, f, 0, buf, sizeof buf, &got, &err), DR_OK);
    assert_int_equal(got, 11); /* short only at end of file */
    assert_memory_equal(buf, "Jello world", 11);
    assert_int_equal(dr_env_pread(env, f, 6, buf, 3, &got, &err), DR_OK);
    assert_int_equal(got, 3);
    assert_memory_equal(buf, "wor", 3);
    assert_int_equal(dr_env_pread(env, f, 100, buf, 3, &got, &err), DR_OK);
    assert_int_equal(got, 0);
    assert_int_equal(dr_env_truncate(env, f, 5, &err), DR_OK);
    assert_int_equal(dr_env_fsync(env, f, &err), DR_OK);
    assert_int_equal(dr_env_file_size(env, f, &size, &err), DR_OK);
    assert_int_equal(size, 5);
    assert_int_equal(dr_env_append(env, f, "!", 1, &err), DR_OK);
    assert_int_equal(dr_env_file_size(env, f, &size, &err), DR_OK);
    assert_int_equal(size, 6);
    dr_env_close(env, f);

    /* rename, stat */
    assert_int_equal(dr_env_rename(env, a, b, &err), DR_OK);
    dr_file_stat st;
    assert_int_equal(dr_env_stat(env, a, true, &st, &err), DR_ENOENT);
    assert_int_equal(dr_env_stat(env, b, true, &st, &err), DR_OK);
    assert_false(st.is_dir);
    assert_false(st.is_symlink);
    assert_int_equal(st.size_bytes, 6);
    uint64_t wall_ns = dr_env_wall(env);
    assert_true(st.mtime_ns <= wall_ns + DR_NS_PER_S);
    assert_true(st.mtime_ns + 60 * DR_NS_PER_S > wall_ns);
    assert_int_equal(dr_env_stat(env, fx->dir, true, &st, &err), DR_OK);
    assert_true(st.is_dir);
    assert_int_equal(dr_env_fsync_dir(env, fx->dir, &err), DR_OK);

    /* read-only handles cannot write */
    assert_int_equal(dr_env_open(env, b, DR_OPEN_READ, &f, &err), DR_OK);
    assert_int_not_equal(dr_env_pwrite(env, f, 0, "x", 1, &err), DR_OK);
    assert_memory_equal(err.msg, "write '", 7);
    dr_env_close(env, f);

    /* EXCL and TRUNC */
    assert_int_equal(
        dr_env_open(env, b, DR_OPEN_WRITE | DR_OPEN_CREATE | DR_OPEN_EXCL, &f, &err), DR_EEXIST);
    char *want = dr_sprintf("open '%s': File exists", b);
    assert_string_equal(err.msg, want);
    dr_free(want);
    assert_int_equal(dr_env_open(env, b, DR_OPEN_WRITE | DR_OPEN_TRUNC, &f, &err), DR_OK);
    assert_int_equal(dr_env_file_size(env, f, &size, &err), DR_OK);
    assert_int_equal(size, 0);
    dr_env_close(env, f);
    dr_free(a);
    dr_free(b);
}

static void test_files_errors(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    char *missing = path_in(fx, "missing/x");
    dr_file *f = NULL;
    dr_err err;
    assert_int_equal(dr_env_open(env, missing, DR_OPEN_READ, &f, &err), DR_ENOENT);
    char *want = dr_sprintf("open '%s': No such file or directory", missing);
    assert_string_equal(err.msg, want);
    dr_free(want);
    assert_int_equal(dr_env_open(env, fx->dir, DR_OPEN_READ, &f, &err), DR_EISDIR);
    assert_non_null(strstr(err.msg, "Is a directory"));
    assert_int_equal(dr_env_open(env, missing, 0, &f, &err), DR_EINVAL);
    assert_non_null(strstr(err.msg, "bad flags"));
    assert_int_equal(dr_env_open(env, "", DR_OPEN_READ, &f, &err), DR_EINVAL);
    assert_int_equal(dr_env_unlink(env, missing, &err), DR_ENOENT);
    assert_memory_equal(err.msg, "unlink '", 8);
    assert_int_equal(dr_env_fsync_dir(env, missing, &err), DR_ENOENT);
    assert_int_equal(dr_env_rename(env, missing, fx->dir, &err), DR_ENOENT);
    assert_non_null(strstr(err.msg, "rename '"));
    assert_non_null(strstr(err.msg, "' to '"));

    char *file = path_in(fx, "file");
    assert_int_equal(dr_env_write_atomic(env, file, "x", 1, &err), DR_OK);
    dr_dir_list list = {0};
    assert_int_equal(dr_env_list_dir(env, file, &list, &err), DR_ENOTDIR);
    char *under = dr_sprintf("%s/sub", file);
    assert_int_equal(dr_env_mkdir(env, under, &err), DR_ENOTDIR);
    assert_int_equal(dr_env_mkdir(env, fx->dir, &err), DR_EEXIST);
    assert_int_equal(dr_env_rmdir(env, fx->dir, &err), DR_ENOTEMPTY);
    assert_memory_equal(err.msg, "rmdir '", 7);
    dr_free(under);
    dr_free(file);
    dr_free(missing);
}

static void test_files_list_and_links(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    dr_err err;
    const char *names[] = {"b", "a", "C", "z10", "z2", "z1"};
    for (size_t i = 0; i < DR_ARRAY_COUNT(names); i++) {
        char *p = path_in(fx, names[i]);
        assert_int_equal(dr_env_write_atomic(env, p, names[i], strlen(names[i]), &err), DR_OK);
        dr_free(p);
    }
    char *sub = path_in(fx, "sub");
    assert_int_equal(dr_env_mkdir(env, sub, &err), DR_OK);
    dr_dir_list list = {0};
    assert_int_equal(dr_env_list_dir(env, fx->dir, &list, &err), DR_OK);
    const char *want[] = {"C", "a", "b", "sub", "z1", "z10", "z2"};
    assert_int_equal(list.count, DR_ARRAY_COUNT(want));
    for (size_t i = 0; i < list.count; i++)
        assert_string_equal(list.names[i], want[i]);
    dr_dir_list_free(&list);
    assert_int_equal(dr_env_rmdir(env, sub, &err), DR_OK);
    dr_free(sub);

    /* symlinks */
    char *link = path_in(fx, "link");
    assert_int_equal(dr_env_symlink(env, "z10", link, &err), DR_OK);
    char target[16];
    assert_int_equal(dr_env_readlink(env, link, target, sizeof target, &err), DR_OK);
    assert_string_equal(target, "z10");
    assert_int_equal(dr_env_readlink(env, link, target, 3, &err), DR_ETOOBIG);
    dr_file_stat st;
    assert_int_equal(dr_env_stat(env, link, false, &st, &err), DR_OK);
    assert_true(st.is_symlink);
    assert_int_equal(dr_env_stat(env, link, true, &st, &err), DR_OK);
    assert_false(st.is_symlink);
    assert_int_equal(st.size_bytes, 3);
    assert_int_equal(dr_env_symlink(env, "z10", link, &err), DR_EEXIST);
    assert_int_equal(dr_env_readlink(env, fx->dir, target, sizeof target, &err), DR_EINVAL);
    dr_free(link);

    uint64_t free_bytes = 0, total_bytes = 0;
    assert_int_equal(dr_env_disk_space(env, fx->dir, &free_bytes, &total_bytes, &err), DR_OK);
    assert_true(total_bytes > 0);
    assert_true(free_bytes <= total_bytes);
    assert_int_equal(dr_env_disk_space(env, "/no/such/dir", &free_bytes, &total_bytes, &err),
                     DR_ENOENT);
}

static void test_files_lock(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    char *p = path_in(fx, "lock");
    dr_file *f1 = NULL, *f2 = NULL, *f3 = NULL;
    dr_err err;
    assert_int_equal(dr_env_open(env, p, DR_OPEN_WRITE | DR_OPEN_CREATE, &f1, &err), DR_OK);
    assert_int_equal(dr_env_open(env, p, DR_OPEN_WRITE, &f2, &err), DR_OK);
    assert_int_equal(dr_env_lock(env, f1, &err), DR_OK);
    assert_int_equal(dr_env_lock(env, f2, &err), DR_EBUSY);
    char *want = dr_sprintf("lock '%s': locked by another open file or process", p);
    assert_string_equal(err.msg, want);
    dr_free(want);
    dr_env_close(env, f1); /* releases the lock */
    assert_int_equal(dr_env_lock(env, f2, &err), DR_OK);
    assert_int_equal(dr_env_open(env, p, DR_OPEN_READ, &f3, &err), DR_OK);
    assert_int_equal(dr_env_lock(env, f3, &err), DR_EBUSY);
    dr_env_close(env, f3);
    dr_env_close(env, f2);
    dr_free(p);
}

static void test_util_helpers(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    dr_err err;
    char *deep = path_in(fx, "x/y/z");
    assert_int_equal(dr_env_mkdir_p(env, deep, &err), DR_OK);
    assert_int_equal(dr_env_mkdir_p(env, deep, &err), DR_OK); /* again: fine */
    dr_file_stat st;
    assert_int_equal(dr_env_stat(env, deep, true, &st, &err), DR_OK);
    assert_true(st.is_dir);

    char *file = path_in(fx, "x/y/data");
    assert_int_equal(dr_env_write_atomic(env, file, "payload", 7, &err), DR_OK);
    assert_int_equal(dr_env_write_atomic(env, file, "data", 4, &err), DR_OK); /* replaces */
    uint8_t *data = NULL;
    size_t size = 0;
    assert_int_equal(dr_env_read_all(env, file, 100, &data, &size, &err), DR_OK);
    assert_int_equal(size, 4);
    assert_string_equal((char *)data, "data");
    dr_free(data);
    assert_int_equal(dr_env_read_all(env, file, 2, &data, &size, &err), DR_ETOOBIG);
    assert_non_null(strstr(err.msg, "larger than the 2 bytes allowed"));
    /* Files that report size 0 but have content (/proc) are read to the end. */
    assert_int_equal(dr_env_read_all(env, "/proc/self/status", 1 << 20, &data, &size, &err),
                     DR_OK);
    assert_true(size > 0);
    assert_non_null(strstr((char *)data, "Name:"));
    dr_free(data);
    char *tmp = dr_sprintf("%s.tmp", file);
    assert_int_equal(dr_env_stat(env, tmp, true, &st, &err), DR_ENOENT); /* renamed away */
    dr_free(tmp);

    char *blocker = dr_sprintf("%s/w", file); /* a path under a regular file */
    assert_int_equal(dr_env_mkdir_p(env, blocker, &err), DR_ENOTDIR);
    dr_free(blocker);

    char *x = path_in(fx, "x");
    assert_int_equal(dr_env_remove_tree(env, x, &err), DR_OK);
    assert_int_equal(dr_env_stat(env, x, true, &st, &err), DR_ENOENT);
    assert_int_equal(dr_env_remove_tree(env, x, &err), DR_OK); /* missing: fine */
    dr_free(x);
    dr_free(file);
    dr_free(deep);
}

/* ---- processes -------------------------------------------------------------------- */

typedef struct exit_seen {
    bool done;
    int count;
    dr_pid pid;
    dr_exit_status status;
} exit_seen;

static void exit_record(dr_env *env, dr_pid pid, dr_exit_status status, void *ctx)
{
    DR_UNUSED(env);
    exit_seen *e = ctx;
    e->done = true;
    e->count++;
    e->pid = pid;
    e->status = status;
}

static void test_spawn_exit_code(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    char *out = path_in(fx, "out");
    const char *argv[] = {"/bin/sh", "-c", "echo hi; echo $FOO >&2; exit 3", NULL};
    const char *envp[] = {"FOO=bar", NULL};
    dr_spawn_opts opts = {.argv = argv, .envp = envp, .stdout_path = out, .stderr_path = out};
    exit_seen seen = {0};
    dr_pid pid = 0;
    dr_err err;
    assert_int_equal(dr_env_spawn(env, &opts, exit_record, &seen, &pid, &err), DR_OK);
    assert_true(pid > 0);
    assert_false(seen.done);
    run_until(env, &seen.done);
    assert_int_equal(seen.pid, pid);
    assert_false(seen.status.signaled);
    assert_int_equal(seen.status.code, 3);
    uint8_t *data = NULL;
    size_t size = 0;
    assert_int_equal(dr_env_read_all(env, out, 100, &data, &size, &err), DR_OK);
    assert_string_equal((char *)data, "hi\nbar\n");
    dr_free(data);

    /* PATH search, cwd, append to the same file. */
    const char *argv2[] = {"sh", "-c", "pwd", NULL};
    opts = (dr_spawn_opts){.argv = argv2, .cwd = "/", .stdout_path = out};
    seen = (exit_seen){0};
    assert_int_equal(dr_env_spawn(env, &opts, exit_record, &seen, &pid, &err), DR_OK);
    run_until(env, &seen.done);
    assert_int_equal(seen.status.code, 0);
    assert_int_equal(dr_env_read_all(env, out, 100, &data, &size, &err), DR_OK);
    assert_string_equal((char *)data, "hi\nbar\n/\n");
    dr_free(data);
    run_for(env, 10 * DR_NS_PER_MS);
    assert_int_equal(seen.count, 1);

    /* A relative program path is taken from cwd (exec runs after chdir). */
    char *script = path_in(fx, "run.sh");
    const char *body = "#!/bin/sh\necho ran in $(pwd)\nexit 7\n";
    assert_int_equal(dr_env_write_atomic(env, script, body, strlen(body), &err), DR_OK);
    const char *argv3[] = {"./run.sh", NULL};
    opts = (dr_spawn_opts){.argv = argv3, .cwd = fx->dir, .stdout_path = out};
    seen = (exit_seen){0};
    assert_int_equal(dr_env_spawn(env, &opts, exit_record, &seen, &pid, &err), DR_EACCES);
    assert_string_equal(err.msg, "spawn './run.sh': exec './run.sh': Permission denied");
    assert_int_equal(chmod(script, 0755), 0);
    assert_int_equal(dr_env_spawn(env, &opts, exit_record, &seen, &pid, &err), DR_OK);
    run_until(env, &seen.done);
    assert_int_equal(seen.status.code, 7);
    assert_int_equal(dr_env_read_all(env, out, 1000, &data, &size, &err), DR_OK);
    char *want = dr_sprintf("hi\nbar\n/\nran in %s\n", fx->dir);
    assert_string_equal((char *)data, want);
    dr_free(want);
    dr_free(data);
    dr_free(script);
    dr_free(out);
}

static bool has_group(const dr_user_info *u, uint32_t gid)
{
    for (size_t i = 0; i < u->group_count; i++)
        if (u->groups[i] == gid)
            return true;
    return false;
}

static void test_user_lookup(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    dr_user_info *u = dr_alloc(sizeof *u);
    dr_err err;
    assert_int_equal(dr_env_user_lookup(env, "root", u, &err), DR_OK);
    assert_string_equal(u->name, "root");
    assert_int_equal(u->uid, 0);
    assert_int_equal(u->gid, 0);
    assert_string_equal(u->home, "/root");
    assert_true(has_group(u, 0));
    assert_int_equal(dr_env_user_lookup(env, NULL, u, &err), DR_OK);
    assert_int_equal(u->uid, (uint32_t)geteuid());
    assert_int_equal(dr_env_user_lookup(env, "no-such-user-dromos", u, &err), DR_ENOTFOUND);
    assert_string_equal(err.msg, "user 'no-such-user-dromos': no such user");
    assert_int_equal(dr_env_user_lookup(env, "", u, &err), DR_EINVAL);
    assert_string_equal(err.msg, "user '': name must be 1-63 bytes");
    dr_free(u);
}

/* As root: a child switched to nobody, with a descriptor limit, in a
 * sandbox chowned to it, reports its ids and limits from inside. */
static void test_spawn_as_user(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    if (geteuid() != 0)
        skip(); /* only root may switch users */
    dr_user_info *nobody = dr_alloc(sizeof *nobody);
    dr_err err;
    assert_int_equal(dr_env_user_lookup(env, "nobody", nobody, &err), DR_OK);
    assert_true(nobody->uid != 0);
    assert_true(has_group(nobody, nobody->gid));
    assert_int_equal(chmod(fx->dir, 0755), 0);
    char *box = path_in(fx, "box");
    assert_int_equal(dr_env_mkdir(env, box, &err), DR_OK);
    assert_int_equal(dr_env_chown(env, box, nobody->uid, nobody->gid, &err), DR_OK);
    struct stat st;
    assert_int_equal(stat(box, &st), 0);
    assert_int_equal(st.st_uid, nobody->uid);
    assert_int_equal(st.st_gid, nobody->gid);

    const char *argv[] = {"/bin/sh", "-c",
                          "{ id -u; id -g; id -G; ulimit -n; ulimit -Hn; } > ids && touch mine",
                          NULL};
    const char *envp[] = {"PATH=/usr/bin:/bin", NULL};
    dr_rlimit limits[] = {{DR_RLIMIT_NOFILE, 100, 200}, {DR_RLIMIT_CORE, 0, 0}};
    char *out = path_in(fx, "box/stdout");
    dr_spawn_opts opts = {.argv = argv, .envp = envp, .cwd = box, .stdout_path = out,
                          .stderr_path = out, .set_user = true, .uid = nobody->uid,
                          .gid = nobody->gid, .groups = nobody->groups,
                          .group_count = nobody->group_count, .rlimits = limits,
                          .rlimit_count = 2};
    exit_seen seen = {0};
    dr_pid pid = 0;
    assert_int_equal(dr_env_spawn(env, &opts, exit_record, &seen, &pid, &err), DR_OK);
    run_until(env, &seen.done);
    assert_false(seen.status.signaled);
    assert_int_equal(seen.status.code, 0);
    char *ids_path = path_in(fx, "box/ids");
    uint8_t *data = NULL;
    size_t size = 0;
    assert_int_equal(dr_env_read_all(env, ids_path, 1000, &data, &size, &err), DR_OK);
    char want[256];
    int n = snprintf(want, sizeof want, "%u\n%u\n%u", nobody->uid, nobody->gid, nobody->gid);
    for (size_t i = 0; i < nobody->group_count; i++) /* id -G: the gid first, then the rest */
        if (nobody->groups[i] != nobody->gid)
            n += snprintf(want + n, sizeof want - (size_t)n, " %u", nobody->groups[i]);
    snprintf(want + n, sizeof want - (size_t)n, "\n100\n200\n");
    assert_string_equal((char *)data, want);
    dr_free(data);
    char *mine = path_in(fx, "box/mine");
    assert_int_equal(stat(mine, &st), 0);
    assert_int_equal(st.st_uid, nobody->uid);

    /* chdir runs as the user: a directory only root may enter is refused */
    char *private_dir = path_in(fx, "private");
    assert_int_equal(mkdir(private_dir, 0700), 0);
    opts.cwd = private_dir;
    assert_int_equal(dr_env_spawn(env, &opts, exit_record, &seen, &pid, &err), DR_EACCES);
    char *msg = dr_sprintf("spawn '/bin/sh': chdir '%s': Permission denied", private_dir);
    assert_string_equal(err.msg, msg);
    dr_free(msg);

    /* bad limits are refused before anything starts */
    opts.cwd = box;
    limits[0].soft = 300;
    assert_int_equal(dr_env_spawn(env, &opts, exit_record, &seen, &pid, &err), DR_EINVAL);
    assert_string_equal(err.msg, "spawn '/bin/sh': resource limit 10: soft 300 above hard 200");
    limits[0].soft = 100;
    limits[1].resource = DR_RLIMIT_NOFILE;
    assert_int_equal(dr_env_spawn(env, &opts, exit_record, &seen, &pid, &err), DR_EINVAL);
    assert_string_equal(err.msg, "spawn '/bin/sh': resource limit 10 set twice");
    /* a hard limit above the system's maximum fails in the child, named */
    dr_rlimit huge = {DR_RLIMIT_NOFILE, 1u << 30, 1u << 30};
    opts.rlimits = &huge;
    opts.rlimit_count = 1;
    assert_int_not_equal(dr_env_spawn(env, &opts, exit_record, &seen, &pid, &err), DR_OK);
    assert_string_equal(err.msg, "spawn '/bin/sh': setrlimit 10 (soft 1073741824, hard "
                                 "1073741824): Operation not permitted");
    dr_free(private_dir);
    dr_free(mine);
    dr_free(ids_path);
    dr_free(out);
    dr_free(box);
    dr_free(nobody);
}

static void test_read_last_line(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    dr_err err;
    char *path = path_in(fx, "log");
    char line[17];
    const char *body = "first\nfetch: 'x': gone  \n\n";
    assert_int_equal(dr_env_write_atomic(env, path, body, strlen(body), &err), DR_OK);
    assert_int_equal(dr_env_read_last_line(env, path, line, sizeof line, &err), DR_OK);
    assert_string_equal(line, "fetch: 'x': gone"); /* exactly 16 bytes fit */
    body = "0123456789abcdefghijklmnopqrstuvwxyz";
    assert_int_equal(dr_env_write_atomic(env, path, body, strlen(body), &err), DR_OK);
    assert_int_equal(dr_env_read_last_line(env, path, line, sizeof line, &err), DR_OK);
    assert_string_equal(line, "klmnopqrstuvwxyz"); /* a long line keeps its end */
    assert_int_equal(dr_env_write_atomic(env, path, "", 0, &err), DR_OK);
    assert_int_equal(dr_env_read_last_line(env, path, line, sizeof line, &err), DR_OK);
    assert_string_equal(line, "");
    char *missing = path_in(fx, "missing");
    assert_int_equal(dr_env_read_last_line(env, missing, line, sizeof line, &err), DR_ENOENT);
    /* a symlink (one a sandbox's user planted) is not followed */
    body = "secret\n";
    assert_int_equal(dr_env_write_atomic(env, path, body, strlen(body), &err), DR_OK);
    char *link = path_in(fx, "log.link");
    assert_int_equal(dr_env_symlink(env, path, link, &err), DR_OK);
    assert_int_equal(dr_env_read_last_line(env, link, line, sizeof line, &err), DR_EINVAL);
    /* nor by chown: the link changes owner, its target does not */
    if (geteuid() == 0) {
        struct stat st;
        assert_int_equal(dr_env_chown(env, link, 65534, 65534, &err), DR_OK);
        assert_int_equal(lstat(link, &st), 0);
        assert_int_equal(st.st_uid, 65534);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_uid, 0);
    }
    dr_free(link);
    dr_free(missing);
    dr_free(path);
}

static void test_spawn_errors(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    exit_seen seen = {0};
    dr_pid pid = 0;
    dr_err err;

    const char *missing[] = {"/nonexistent/prog", NULL};
    dr_spawn_opts opts = {.argv = missing};
    assert_int_equal(dr_env_spawn(env, &opts, exit_record, &seen, &pid, &err), DR_ENOENT);
    assert_string_equal(err.msg, "spawn '/nonexistent/prog': exec '/nonexistent/prog': No such "
                                 "file or directory");

    const char *unknown[] = {"no-such-program-dromos", NULL};
    const char *envp[] = {"PATH=/usr/bin:/bin", NULL};
    opts = (dr_spawn_opts){.argv = unknown, .envp = envp};
    assert_int_equal(dr_env_spawn(env, &opts, exit_record, &seen, &pid, &err), DR_ENOENT);
    assert_string_equal(err.msg,
                        "spawn 'no-such-program-dromos': not found in PATH '/usr/bin:/bin'");

    const char *sh[] = {"/bin/sh", "-c", "true", NULL};
    opts = (dr_spawn_opts){.argv = sh, .cwd = "/no/such/dir"};
    assert_int_equal(dr_env_spawn(env, &opts, exit_record, &seen, &pid, &err), DR_ENOENT);
    assert_string_equal(err.msg, "spawn '/bin/sh': chdir '/no/such/dir': No such file or directory");

    opts = (dr_spawn_opts){.argv = sh, .stdout_path = "/no/such/dir/out"};
    assert_int_equal(dr_env_spawn(env, &opts, exit_record, &seen, &pid, &err), DR_ENOENT);
    assert_string_equal(err.msg,
                        "spawn '/bin/sh': stdout '/no/such/dir/out': No such file or directory");

    char *dir_prog = dr_sprintf("%s", fx->dir); /* a directory is not executable */
    const char *not_exec[] = {dir_prog, NULL};
    opts = (dr_spawn_opts){.argv = not_exec};
    assert_int_equal(dr_env_spawn(env, &opts, exit_record, &seen, &pid, &err), DR_EACCES);
    dr_free(dir_prog);

    const char *empty[] = {NULL};
    opts = (dr_spawn_opts){.argv = empty};
    assert_int_equal(dr_env_spawn(env, &opts, exit_record, &seen, &pid, &err), DR_EINVAL);

    run_for(env, 50 * DR_NS_PER_MS);
    assert_false(seen.done); /* failed spawns never call back */

    assert_int_equal(dr_env_signal(env, 0, SIGTERM, false, &err), DR_EINVAL);
    assert_int_equal(dr_env_signal(env, 1, SIGTERM, true, &err), DR_EINVAL);
    assert_int_equal(dr_env_watch(env, -5, exit_record, &seen, &err), DR_EINVAL);
}

static void test_spawn_signal(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    const char *argv[] = {"sleep", "100", NULL};
    dr_spawn_opts opts = {.argv = argv};
    exit_seen seen = {0};
    dr_pid pid = 0;
    dr_err err;
    assert_int_equal(dr_env_spawn(env, &opts, exit_record, &seen, &pid, &err), DR_OK);
    /* A spawned child is reported by spawn; watching it too is refused. */
    assert_int_equal(dr_env_watch(env, pid, exit_record, &seen, &err), DR_EINVAL);
    assert_int_equal(dr_env_signal(env, pid, 0, false, &err), DR_OK); /* alive */
    assert_int_equal(dr_env_signal(env, pid, SIGTERM, false, &err), DR_OK);
    run_until(env, &seen.done);
    assert_true(seen.status.signaled);
    assert_int_equal(seen.status.code, SIGTERM);

    /* Gone and reaped: no such process. */
    assert_int_equal(dr_env_signal(env, pid, SIGTERM, false, &err), DR_ESRCH);
    char want[96];
    snprintf(want, sizeof want, "signal 15 to pid %lld: No such process", (long long)pid);
    assert_string_equal(err.msg, want);
    assert_int_equal(dr_env_watch(env, pid, exit_record, &seen, &err), DR_ESRCH);
}

static void test_spawn_group_kill(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    char *pidfile = path_in(fx, "grandchild.pid");
    char *script = dr_sprintf("sleep 100 & echo $! > %s.tmp; mv %s.tmp %s; wait", pidfile,
                              pidfile, pidfile);
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    dr_spawn_opts opts = {.argv = argv, .new_session = true};
    exit_seen shell = {0};
    dr_pid pid = 0;
    dr_err err;
    assert_int_equal(dr_env_spawn(env, &opts, exit_record, &shell, &pid, &err), DR_OK);

    uint64_t deadline_ns = dr_env_now(env) + WAIT_NS;
    uint8_t *data = NULL;
    size_t size = 0;
    while (dr_env_read_all(env, pidfile, 64, &data, &size, &err) != DR_OK) {
        assert_true(dr_env_now(env) < deadline_ns);
        dr_env_real_run_once(env, TICK_NS);
    }
    dr_pid grandchild = strtoll((char *)data, NULL, 10);
    dr_free(data);
    assert_true(grandchild > 1);

    /* The grandchild is not ours: watch it through a pidfd. */
    exit_seen orphan = {0};
    assert_int_equal(dr_env_watch(env, grandchild, exit_record, &orphan, &err), DR_OK);
    assert_int_equal(dr_env_signal(env, pid, SIGTERM, true, &err), DR_OK);
    run_until(env, &shell.done);
    run_until(env, &orphan.done);
    assert_true(shell.status.signaled);
    assert_int_equal(shell.status.code, SIGTERM);
    assert_int_equal(orphan.pid, grandchild);
    assert_false(orphan.status.signaled);
    assert_int_equal(orphan.status.code, -1); /* a non-parent cannot know */
    dr_free(script);
    dr_free(pidfile);
}

/* Waits for the pid the shell wrote to fx's file name (written to .tmp and
 * renamed, so it is read whole). */
static dr_pid read_pid_file(fixture *fx, const char *name)
{
    dr_env *env = fx->env;
    char *path = path_in(fx, name);
    uint64_t deadline_ns = dr_env_now(env) + WAIT_NS;
    uint8_t *data = NULL;
    size_t size = 0;
    dr_err err;
    while (dr_env_read_all(env, path, 64, &data, &size, &err) != DR_OK) {
        assert_true(dr_env_now(env) < deadline_ns);
        dr_env_real_run_once(env, TICK_NS);
    }
    dr_pid pid = strtoll((char *)data, NULL, 10);
    dr_free(data);
    dr_free(path);
    assert_true(pid > 1);
    return pid;
}

/* A container's tree as an executor makes it: a shell in its own session
 * whose task went into a session of its own (setsid) and whose background
 * child was orphaned (its parent subshell exited: reparented to init). A
 * group kill misses the first; a descendants walk misses the second. The
 * tree kill reaches both and nothing else. */
static void test_signal_tree(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    char *script = dr_sprintf(
        "cd %s || exit 1\n"
        "setsid sleep 101 & echo $! > task.tmp; mv task.tmp task\n"
        "sh -c 'sleep 102 & echo $! > orphan.tmp; mv orphan.tmp orphan; echo $$ > mid'\n"
        "setsid sh -c 'sleep 103 & echo $! > deep.tmp; mv deep.tmp deep; wait' &\n"
        "wait\n",
        fx->dir);
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    dr_spawn_opts opts = {.argv = argv, .new_session = true};
    exit_seen shell = {0};
    dr_pid pid = 0;
    dr_err err;
    assert_int_equal(dr_env_spawn(env, &opts, exit_record, &shell, &pid, &err), DR_OK);
    const char *names[] = {"task", "orphan", "deep"};
    exit_seen seen[3] = {{0}};
    dr_pid pids[3];
    for (size_t i = 0; i < 3; i++) {
        pids[i] = read_pid_file(fx, names[i]);
        assert_int_equal(dr_env_watch(env, pids[i], exit_record, &seen[i], &err), DR_OK);
    }
    /* the task is in a session of its own (a group signal would miss it),
     * the orphan's parent is gone (a descendants walk would miss it) */
    assert_int_not_equal(getsid((pid_t)pids[0]), (pid_t)pid);
    assert_int_equal(getsid((pid_t)pids[1]), (pid_t)pid);
    /* "deep" is written after the orphan's parent ("mid", run in the
     * foreground) has ended: the orphan was reparented by then */
    dr_pid mid = read_pid_file(fx, "mid");
    char *orphan_stat = dr_sprintf("/proc/%lld/stat", (long long)pids[1]);
    uint8_t *text = NULL;
    size_t text_size = 0;
    assert_int_equal(dr_env_read_all(env, orphan_stat, 1024, &text, &text_size, &err), DR_OK);
    int orphan_ppid = -1;
    assert_int_equal(sscanf(strrchr((char *)text, ')') + 1, " %*c %d", &orphan_ppid), 1);
    assert_int_not_equal(orphan_ppid, (int)mid);
    assert_int_not_equal(orphan_ppid, (int)pid);
    dr_free(text);
    dr_free(orphan_stat);

    /* an unrelated process in a session of its own, and one in ours */
    const char *bystander_argv[] = {"sleep", "104", NULL};
    dr_spawn_opts bystander_opts = {.argv = bystander_argv, .new_session = true};
    exit_seen bystander = {0}, sibling = {0};
    dr_pid bystander_pid = 0, sibling_pid = 0;
    assert_int_equal(
        dr_env_spawn(env, &bystander_opts, exit_record, &bystander, &bystander_pid, &err), DR_OK);
    bystander_opts.new_session = false;
    assert_int_equal(
        dr_env_spawn(env, &bystander_opts, exit_record, &sibling, &sibling_pid, &err), DR_OK);

    assert_int_equal(dr_env_signal_tree(env, pid, 0, &err), DR_OK); /* probe: alive */
    assert_int_equal(dr_env_signal_tree(env, pid, SIGKILL, &err), DR_OK);
    run_until(env, &shell.done);
    assert_true(shell.status.signaled);
    assert_int_equal(shell.status.code, SIGKILL);
    for (size_t i = 0; i < 3; i++)
        run_until(env, &seen[i].done); /* fails the test after WAIT_NS if one lives on */

    /* nothing outside the tree was touched, not even stopped */
    run_for(env, 20 * DR_NS_PER_MS);
    assert_false(bystander.done);
    assert_false(sibling.done);
    char *stat_path = dr_sprintf("/proc/%lld/stat", (long long)bystander_pid);
    uint8_t *data = NULL;
    size_t size = 0;
    assert_int_equal(dr_env_read_all(env, stat_path, 1024, &data, &size, &err), DR_OK);
    const char *after = strrchr((const char *)data, ')');
    assert_non_null(after);
    assert_true(after[2] == 'S' || after[2] == 'R'); /* not T (stopped) */
    dr_free(data);
    dr_free(stat_path);

    /* a tree that is gone */
    assert_int_equal(dr_env_signal_tree(env, pid, SIGKILL, &err), DR_ESRCH);
    char want[96];
    snprintf(want, sizeof want, "signal 9 to tree %lld: no such process", (long long)pid);
    assert_string_equal(err.msg, want);
    assert_int_equal(dr_env_signal_tree(env, pid, 0, &err), DR_ESRCH);

    /* a process in the caller's own session and group: only it (and its
     * descendants) is signaled, never the caller's session */
    assert_int_equal(dr_env_signal_tree(env, sibling_pid, SIGTERM, &err), DR_OK);
    run_until(env, &sibling.done);
    assert_true(sibling.status.signaled);
    assert_int_equal(sibling.status.code, SIGTERM);
    assert_false(bystander.done);

    /* a stopped tree acts on SIGTERM (SIGCONT follows it) */
    assert_int_equal(dr_env_signal(env, bystander_pid, SIGSTOP, false, &err), DR_OK);
    assert_int_equal(dr_env_signal_tree(env, bystander_pid, SIGTERM, &err), DR_OK);
    run_until(env, &bystander.done);
    assert_int_equal(bystander.status.code, SIGTERM);

    assert_int_equal(dr_env_signal_tree(env, 1, SIGKILL, &err), DR_EINVAL);
    assert_int_equal(dr_env_signal_tree(env, 0, SIGKILL, &err), DR_EINVAL);
    assert_int_equal(dr_env_signal_tree(env, (dr_pid)getpid(), SIGKILL, &err), DR_EINVAL);
    assert_int_equal(dr_env_signal_tree(env, bystander_pid, 1000, &err), DR_EINVAL);
    dr_free(script);
}

/* Reads field 4 (ppid) of /proc/<pid>/stat; -1 when the process is gone
 * (reaped). */
static int ppid_of(dr_env *env, dr_pid pid)
{
    char *path = dr_sprintf("/proc/%lld/stat", (long long)pid);
    uint8_t *text = NULL;
    size_t size = 0;
    dr_err err;
    int ppid = -1;
    if (dr_env_read_all(env, path, 1024, &text, &size, &err) == DR_OK) {
        assert_int_equal(sscanf(strrchr((char *)text, ')') + 1, " %*c %d", &ppid), 1);
        dr_free(text);
    }
    dr_free(path);
    return ppid;
}

/* A process whose session leader died is out of reach of the tree (its
 * parent is init, its session's leader is gone), unless the tree's first
 * process is a child subreaper: then it is reparented there and dies with
 * the tree. */
static void test_signal_tree_subreaper(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    for (int subreaper = 0; subreaper <= 1; subreaper++) {
        char *lost_path = path_in(fx, "lost");
        (void)unlink(lost_path);
        dr_free(lost_path);
        char *script = dr_sprintf(
            "cd %s || exit 1\n"
            "setsid sh -c 'sleep 105 & echo $! > lost.tmp; mv lost.tmp lost'\n"
            "exec sleep 106\n",
            fx->dir);
        const char *argv[] = {"/bin/sh", "-c", script, NULL};
        dr_spawn_opts opts = {.argv = argv, .new_session = true, .subreaper = subreaper != 0};
        exit_seen root = {0}, lost = {0};
        dr_pid pid = 0;
        dr_err err;
        assert_int_equal(dr_env_spawn(env, &opts, exit_record, &root, &pid, &err), DR_OK);
        dr_pid lost_pid = read_pid_file(fx, "lost");
        assert_int_equal(dr_env_watch(env, lost_pid, exit_record, &lost, &err), DR_OK);
        /* its parent (the setsid'd sh) ends right after writing the file */
        uint64_t deadline_ns = dr_env_now(env) + WAIT_NS;
        for (;;) {
            int ppid = ppid_of(env, lost_pid);
            assert_true(ppid > 0);
            bool parent_alive = ppid != (int)pid && ppid_of(env, ppid) == (int)pid;
            if (!parent_alive)
                break;
            assert_true(dr_env_now(env) < deadline_ns);
            dr_env_real_run_once(env, TICK_NS);
        }
        assert_int_not_equal(getsid((pid_t)lost_pid), (pid_t)pid);
        if (subreaper)
            assert_int_equal(ppid_of(env, lost_pid), (int)pid); /* adopted by the root */
        else
            assert_int_not_equal(ppid_of(env, lost_pid), (int)pid);
        assert_int_equal(dr_env_signal_tree(env, pid, SIGKILL, &err), DR_OK);
        run_until(env, &root.done);
        if (subreaper) {
            run_until(env, &lost.done);
        } else {
            run_for(env, 20 * DR_NS_PER_MS);
            assert_false(lost.done); /* beyond the POSIX launcher's reach */
            assert_int_equal(dr_env_signal(env, lost_pid, SIGKILL, false, &err), DR_OK);
            run_until(env, &lost.done);
        }
        dr_free(script);
    }
}

/* Processes of the host in session sid (getsid over /proc). */
static size_t session_count(dr_env *env, pid_t sid)
{
    dr_dir_list list = {0};
    dr_err err;
    assert_int_equal(dr_env_list_dir(env, "/proc", &list, &err), DR_OK);
    size_t n = 0;
    for (size_t i = 0; i < list.count; i++) {
        pid_t p = (pid_t)strtol(list.names[i], NULL, 10);
        if (p > 0 && getsid(p) == sid && ppid_of(env, p) != -1) {
            char *path = dr_sprintf("/proc/%d/stat", (int)p);
            uint8_t *text = NULL;
            size_t size = 0;
            if (dr_env_read_all(env, path, 1024, &text, &size, &err) == DR_OK) {
                n += strrchr((char *)text, ')')[2] != 'Z'; /* zombies are gone */
                dr_free(text);
            }
            dr_free(path);
        }
    }
    dr_dir_list_free(&list);
    return n;
}

/* A tree that forks while it is killed: the freeze (SIGSTOP, rescan until
 * nothing new) leaves no process behind. */
static void test_signal_tree_forking(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    char *script = dr_sprintf("cd %s || exit 1\n"
                              "i=0\n"
                              "while [ $i -lt 20 ]; do sleep 100 & i=$((i+1)); done\n"
                              "echo $$ > started.tmp; mv started.tmp started\n"
                              "while [ $i -lt 3000 ]; do sleep 100 & i=$((i+1)); done\n"
                              "wait\n",
                              fx->dir);
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    dr_spawn_opts opts = {.argv = argv, .new_session = true};
    exit_seen root = {0};
    dr_pid pid = 0;
    dr_err err;
    assert_int_equal(dr_env_spawn(env, &opts, exit_record, &root, &pid, &err), DR_OK);
    assert_int_equal(read_pid_file(fx, "started"), pid);
    assert_true(session_count(env, (pid_t)pid) > 20);
    assert_int_equal(dr_env_signal_tree(env, pid, SIGKILL, &err), DR_OK);
    run_until(env, &root.done);
    /* SIGKILL is delivered before the next scheduling: once the tree call
     * returned, every member is dying; give init a moment to reap */
    uint64_t deadline_ns = dr_env_now(env) + WAIT_NS;
    while (session_count(env, (pid_t)pid) != 0) {
        assert_true(dr_env_now(env) < deadline_ns);
        dr_env_real_run_once(env, TICK_NS);
    }
    assert_int_equal(dr_env_signal_tree(env, pid, SIGKILL, &err), DR_ESRCH);
    dr_free(script);
}

/* A spawner that ends: a forked copy of the test makes an env, spawns
 * "sleep 107" (with signo as its parent death signal), writes its pid to
 * name and exits. Returns that pid. */
static dr_pid spawn_from_short_lived(fixture *fx, const char *name, int signo)
{
    char *path = path_in(fx, name);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        dr_env_real_opts o = {.node_name = "spawner", .seed = 3, .log_file = fx->log};
        dr_env *env = NULL;
        dr_err err;
        if (dr_env_real_create(&o, &env, &err) != DR_OK)
            _exit(1);
        const char *argv[] = {"sleep", "107", NULL};
        dr_spawn_opts opts = {.argv = argv, .parent_death_signal = signo};
        dr_pid pid = 0;
        if (dr_env_spawn(env, &opts, exit_record, NULL, &pid, &err) != DR_OK)
            _exit(2);
        char text[32];
        int n = snprintf(text, sizeof text, "%lld", (long long)pid);
        if (dr_env_write_atomic(env, path, text, (size_t)n, &err) != DR_OK)
            _exit(3);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    dr_free(path);
    return read_pid_file(fx, name);
}

/* A task spawned with a parent death signal dies when its spawner (an
 * executor) ends; without one it is orphaned and lives on. */
static void test_spawn_parent_death_signal(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    dr_err err;
    dr_pid doomed = spawn_from_short_lived(fx, "doomed", SIGKILL);
    exit_seen seen = {0};
    if (dr_env_watch(env, doomed, exit_record, &seen, &err) == DR_OK)
        run_until(env, &seen.done);
    else
        assert_int_equal(err.code, DR_ESRCH); /* already gone */

    dr_pid orphan = spawn_from_short_lived(fx, "orphan", 0);
    exit_seen orphan_seen = {0};
    assert_int_equal(dr_env_watch(env, orphan, exit_record, &orphan_seen, &err), DR_OK);
    run_for(env, 20 * DR_NS_PER_MS);
    assert_false(orphan_seen.done);
    assert_int_equal(dr_env_signal(env, orphan, SIGKILL, false, &err), DR_OK);
    run_until(env, &orphan_seen.done);

    const char *argv[] = {"true", NULL};
    dr_spawn_opts bad = {.argv = argv, .parent_death_signal = 1000};
    dr_pid pid = 0;
    assert_int_equal(dr_env_spawn(env, &bad, exit_record, &seen, &pid, &err), DR_EINVAL);
    assert_string_equal(err.msg, "spawn 'true': parent death signal 1000: not a valid signal");
}

/* An env in a child subreaper reaps the orphans it adopts when one of its
 * own children ends, so they do not stay zombies. */
static void test_subreaper_reaps_adopted(void **state)
{
    fixture *fx = *state;
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
    dr_env_real_opts o = {.node_name = "reaper", .seed = 9, .log_file = fx->log};
    dr_env *env = NULL;
    dr_err err;
    assert_int_equal(dr_env_real_create(&o, &env, &err), DR_OK);
    char *script = dr_sprintf("cd %s && (sleep 0.1) & echo $! > %s/adopted.tmp; "
                              "mv %s/adopted.tmp %s/adopted",
                              fx->dir, fx->dir, fx->dir, fx->dir);
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    dr_spawn_opts opts = {.argv = argv};
    exit_seen shell = {0};
    dr_pid pid = 0;
    assert_int_equal(dr_env_spawn(env, &opts, exit_record, &shell, &pid, &err), DR_OK);
    run_until(env, &shell.done);
    dr_pid adopted = read_pid_file(fx, "adopted");
    /* ours now; it ends, and stays a zombie until one of our children ends */
    uint64_t deadline_ns = dr_env_now(env) + WAIT_NS;
    char *stat_path = dr_sprintf("/proc/%lld/stat", (long long)adopted);
    for (;;) {
        uint8_t *text = NULL;
        size_t size = 0;
        assert_int_equal(dr_env_read_all(env, stat_path, 1024, &text, &size, &err), DR_OK);
        char st = strrchr((char *)text, ')')[2];
        dr_free(text);
        if (st == 'Z')
            break;
        assert_int_equal(ppid_of(env, adopted), (int)getpid());
        assert_true(dr_env_now(env) < deadline_ns);
        dr_env_real_run_once(env, TICK_NS);
    }
    const char *true_argv[] = {"true", NULL};
    dr_spawn_opts true_opts = {.argv = true_argv};
    exit_seen t = {0};
    assert_int_equal(dr_env_spawn(env, &true_opts, exit_record, &t, &pid, &err), DR_OK);
    run_until(env, &t.done);
    assert_false(t.status.signaled);
    assert_int_equal(t.status.code, 0); /* its own status, not stolen by the reaping */
    assert_int_equal(ppid_of(env, adopted), -1); /* reaped */
    dr_free(stat_path);
    dr_free(script);
    dr_env_real_destroy(env);
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0), 0);
}

/* ---- host facts --------------------------------------------------------------------- */

static void test_host_facts(void **state)
{
    fixture *fx = *state;
    dr_env *env = fx->env;
    dr_host_info info;
    dr_err err;
    assert_int_equal(dr_env_host_info(env, &info, &err), DR_OK);
    assert_true(info.cpu_count >= 1);
    assert_true(info.mem_bytes >= 64u * 1024 * 1024);
    assert_true(strlen(info.hostname) > 0);
    assert_int_equal(strlen(info.boot_id), 36); /* a UUID */
    dr_host_info again;
    assert_int_equal(dr_env_host_info(env, &again, &err), DR_OK);
    assert_string_equal(info.boot_id, again.boot_id);

    char ip[64];
    assert_int_equal(dr_env_resolve(env, "localhost", ip, sizeof ip, &err), DR_OK);
    assert_string_equal(ip, "127.0.0.1");
    assert_int_equal(dr_env_resolve(env, "10.1.2.3", ip, sizeof ip, &err), DR_OK);
    assert_string_equal(ip, "10.1.2.3");
    assert_int_equal(dr_env_resolve(env, "::1", ip, sizeof ip, &err), DR_OK);
    assert_string_equal(ip, "::1");
    assert_int_equal(dr_env_resolve(env, "localhost", ip, 4, &err), DR_EINVAL);
    assert_string_equal(err.msg, "resolve 'localhost': address '127.0.0.1' does not fit in 4 bytes");
    assert_int_equal(dr_env_resolve(env, "no-such-host.invalid", ip, sizeof ip, &err),
                     DR_ENOTFOUND);
    assert_memory_equal(err.msg, "resolve 'no-such-host.invalid': cannot resolve", 46);
    assert_int_equal(dr_env_resolve(env, "", ip, sizeof ip, &err), DR_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_timers_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timers_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_on_signal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_and_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_exchange, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_hostname_and_ipv6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_large_transfer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_abort_resets_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_close_from_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_close_while_connecting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_connect_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_write_to_reset_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_many_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_list_and_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_util_helpers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spawn_exit_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spawn_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spawn_as_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_last_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spawn_signal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spawn_group_kill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signal_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signal_tree_subreaper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signal_tree_forking, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spawn_parent_death_signal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subreaper_reaps_adopted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_facts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
