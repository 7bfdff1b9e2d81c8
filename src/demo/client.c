/* src/demo/client.c — the counter client: one operation at a time, retried
 * until it is answered (or op_timeout_ns passes).
 *
 * It owns one stream to the replica it currently talks to. An attempt that
 * gets no answer within attempt_timeout_ns, or whose stream dies, moves on to
 * the next server after a jittered, capped backoff; REDIRECT goes straight to
 * the leader named in it. Retries reuse the operation's seq, so the leader
 * applies an increment once however often it is sent.
 */
#include <string.h>

#include "counter_int.h"

#define REDIRECT_COUNT_MAX 4u /* per attempt chain, before backing off */

struct dr_counter_client {
    dr_env *env;
    char servers[DR_COUNTER_REPLICA_COUNT_MAX][DR_COUNTER_ADDR_SIZE_MAX];
    size_t server_count;
    size_t next_server;
    char target[DR_COUNTER_ADDR_SIZE_MAX];
    uint64_t client_id;
    uint64_t seq;
    uint64_t attempt_timeout_ns;
    uint64_t op_timeout_ns;
    dr_rng rng;

    dr_stream *stream;
    bool connected;
    dr_buf in;

    /* the operation in flight */
    bool busy;
    uint8_t op_type;
    uint64_t op_seq;
    uint64_t amount;
    bool local;
    dr_counter_done_fn *fn;
    void *ctx;
    uint32_t attempt;
    uint32_t redirect_count;
    uint64_t deadline_ns;
    dr_timer_id attempt_timer;
    dr_timer_id retry_timer;
};

static void attempt_start(dr_counter_client *c);
static void retry_later(dr_counter_client *c);

dr_code dr_counter_client_create(dr_env *env, const dr_counter_client_opts *opts,
                                 dr_counter_client **out, dr_err *err)
{
    if (opts->server_count < 1 || opts->server_count > DR_COUNTER_REPLICA_COUNT_MAX)
        return dr_err_set(err, DR_EINVAL, "counter client: %zu servers, expected 1-%u",
                          opts->server_count, DR_COUNTER_REPLICA_COUNT_MAX);
    for (size_t i = 0; i < opts->server_count; i++) {
        char host[DR_COUNTER_ADDR_SIZE_MAX];
        uint16_t port = 0;
        if (dr_counter_parse_addr(opts->servers[i], host, sizeof host, &port, err) != DR_OK)
            return dr_err_wrap(err, "counter client");
    }
    dr_counter_client *c = dr_alloc(sizeof *c);
    c->env = env;
    for (size_t i = 0; i < opts->server_count; i++)
        dr_strlcpy(c->servers[i], opts->servers[i], sizeof c->servers[i]);
    c->server_count = opts->server_count;
    dr_strlcpy(c->target, c->servers[0], sizeof c->target);
    c->next_server = 1;
    c->client_id = opts->client_id != 0 ? opts->client_id : (dr_env_random(env) | 1);
    c->attempt_timeout_ns = opts->attempt_timeout_ns != 0 ? opts->attempt_timeout_ns : DR_NS_PER_S;
    c->op_timeout_ns = opts->op_timeout_ns;
    dr_env_rng(env, "counter-client-backoff", &c->rng);
    dr_buf_init(&c->in);
    *out = c;
    return DR_OK;
}

void dr_counter_client_destroy(dr_counter_client *c)
{
    if (c == NULL)
        return;
    dr_env_timer_cancel(c->env, c->attempt_timer);
    dr_env_timer_cancel(c->env, c->retry_timer);
    if (c->stream != NULL)
        dr_env_stream_close(c->env, c->stream);
    dr_counter_client_drop(c);
}

void dr_counter_client_drop(dr_counter_client *c)
{
    if (c == NULL)
        return;
    dr_buf_deinit(&c->in);
    dr_free(c);
}

uint64_t dr_counter_client_id(const dr_counter_client *c) { return c->client_id; }

static dr_code start(dr_counter_client *c, uint8_t type, uint64_t amount, bool local,
                     dr_counter_done_fn *fn, void *ctx, dr_err *err)
{
    if (c->busy)
        return dr_err_set(err, DR_EBUSY, "counter client %016llx: seq %llu still in flight",
                          (unsigned long long)c->client_id, (unsigned long long)c->op_seq);
    c->busy = true;
    c->op_type = type;
    c->op_seq = ++c->seq;
    c->amount = amount;
    c->local = local;
    c->fn = fn;
    c->ctx = ctx;
    c->attempt = 0;
    c->redirect_count = 0;
    c->deadline_ns = c->op_timeout_ns != 0 ? dr_env_now(c->env) + c->op_timeout_ns : 0;
    attempt_start(c); /* never calls fn: every ending comes from a callback */
    return DR_OK;
}

dr_code dr_counter_client_inc(dr_counter_client *c, uint64_t amount, dr_counter_done_fn *fn,
                              void *ctx, dr_err *err)
{
    if (amount == 0)
        return dr_err_set(err, DR_EINVAL, "counter client: increment by 0");
    return start(c, DR_COUNTER_MSG_INC, amount, false, fn, ctx, err);
}

dr_code dr_counter_client_get(dr_counter_client *c, bool local, dr_counter_done_fn *fn, void *ctx,
                              dr_err *err)
{
    return start(c, DR_COUNTER_MSG_GET, 0, local, fn, ctx, err);
}

/* ---- helpers ----------------------------------------------------------------- */

static void finish(dr_counter_client *c, dr_code code, uint64_t value)
{
    DR_ASSERT(c->busy);
    dr_env_timer_cancel(c->env, c->attempt_timer);
    dr_env_timer_cancel(c->env, c->retry_timer);
    c->attempt_timer = c->retry_timer = 0;
    c->busy = false;
    dr_counter_result result = {code, value};
    c->fn(c->env, &result, c->ctx); /* may start the next operation */
}

static void send_request(dr_counter_client *c)
{
    uint8_t p[24];
    size_t n = 0;
    dr__counter_put_u64(p, c->client_id);
    dr__counter_put_u64(p + 8, c->op_seq);
    if (c->op_type == DR_COUNTER_MSG_INC) {
        dr__counter_put_u64(p + 16, c->amount);
        n = 24;
    } else {
        p[16] = c->local ? 1 : 0;
        n = 17;
    }
    dr_buf frame;
    dr_buf_init(&frame);
    dr_counter_frame_put(&frame, c->op_type, p, n);
    dr_err err;
    dr_code rc = dr_env_stream_write(c->env, c->stream, frame.data, frame.size, &err);
    dr_buf_deinit(&frame);
    if (rc != DR_OK) {
        dr_env_stream_abort(c->env, c->stream);
        c->stream = NULL;
        c->connected = false;
        retry_later(c);
    }
}

static void drop_stream(dr_counter_client *c, bool closed)
{
    if (c->stream != NULL) {
        if (closed)
            dr_env_stream_close(c->env, c->stream);
        else
            dr_env_stream_abort(c->env, c->stream);
    }
    c->stream = NULL;
    c->connected = false;
    dr_buf_reset(&c->in);
}

/* The current server failed us: try the next one after a backoff. */
static void move_on(dr_counter_client *c)
{
    dr_strlcpy(c->target, c->servers[c->next_server % c->server_count], sizeof c->target);
    c->next_server++;
    retry_later(c);
}

static void retry_fire(dr_env *env, void *ctx)
{
    dr_counter_client *c = ctx;
    c->retry_timer = 0;
    if (!c->busy)
        return;
    if (c->deadline_ns != 0 && dr_env_now(env) >= c->deadline_ns) {
        drop_stream(c, false);
        finish(c, DR_ETIMEDOUT, 0);
        return;
    }
    attempt_start(c);
}

static void retry_later(dr_counter_client *c)
{
    dr_env_timer_cancel(c->env, c->attempt_timer);
    c->attempt_timer = 0;
    if (c->retry_timer != 0)
        return;
    uint64_t delay_ns = dr__counter_backoff_ns(&c->rng, c->attempt);
    c->attempt++;
    c->retry_timer = dr_env_timer_add(c->env, delay_ns, retry_fire, c);
}

static void attempt_timeout_fire(dr_env *env, void *ctx)
{
    DR_UNUSED(env);
    dr_counter_client *c = ctx;
    c->attempt_timer = 0;
    if (!c->busy)
        return;
    drop_stream(c, false);
    move_on(c);
}

/* ---- stream callbacks ---------------------------------------------------------- */

static void on_connected(dr_env *env, dr_stream *stream, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(stream);
    dr_counter_client *c = ctx;
    c->connected = true;
    if (c->busy && c->retry_timer == 0)
        send_request(c);
}

static void on_reply(dr_counter_client *c, uint8_t type, const uint8_t *p, size_t n)
{
    if (!c->busy || n < 8 || dr__counter_get_u64(p) != c->op_seq)
        return; /* an answer to an attempt we gave up on */
    switch (type) {
    case DR_COUNTER_MSG_ACK:
    case DR_COUNTER_MSG_VALUE:
        if (n == 16)
            finish(c, DR_OK, dr__counter_get_u64(p + 8));
        return;
    case DR_COUNTER_MSG_UNAVAILABLE:
        retry_later(c); /* same server: it is recovering or busy */
        return;
    case DR_COUNTER_MSG_REDIRECT: {
        char addr[DR_COUNTER_ADDR_SIZE_MAX];
        char host[DR_COUNTER_ADDR_SIZE_MAX];
        uint16_t port = 0;
        size_t len = n - 8;
        dr_err err;
        if (len >= sizeof addr)
            return;
        memcpy(addr, p + 8, len);
        addr[len] = '\0';
        if (dr_counter_parse_addr(addr, host, sizeof host, &port, &err) != DR_OK)
            return;
        dr_strlcpy(c->target, addr, sizeof c->target);
        drop_stream(c, false);
        if (++c->redirect_count <= REDIRECT_COUNT_MAX) {
            dr_env_timer_cancel(c->env, c->attempt_timer);
            c->attempt_timer = 0;
            attempt_start(c);
        } else {
            c->redirect_count = 0;
            retry_later(c);
        }
        return;
    }
    default:
        return;
    }
}

static void on_data(dr_env *env, dr_stream *stream, const uint8_t *data, size_t size, void *ctx)
{
    DR_UNUSED(env);
    dr_counter_client *c = ctx;
    if (c->stream != stream)
        return;
    dr_buf_append(&c->in, data, size);
    while (c->stream == stream) {
        size_t frame_size = 0, payload_size = 0;
        uint8_t type = 0;
        const uint8_t *payload = NULL;
        dr_err err;
        dr_code rc = dr_counter_frame_get(c->in.data, c->in.size, &frame_size, &type, &payload,
                                          &payload_size, &err);
        if (rc == DR_EAGAIN)
            return;
        if (rc != DR_OK) {
            DR_WARN(c->env, "counter client: %s", err.msg);
            drop_stream(c, false);
            if (c->busy)
                move_on(c);
            return;
        }
        /* on_reply may drop the stream and c->in with it: copy the payload */
        uint8_t copy[8 + DR_COUNTER_ADDR_SIZE_MAX];
        bool fits = payload_size <= sizeof copy;
        if (fits)
            memcpy(copy, payload, payload_size);
        dr_buf_consume(&c->in, frame_size);
        if (fits) /* no reply is longer: ignore one that is */
            on_reply(c, type, copy, payload_size);
    }
}

static void on_closed(dr_env *env, dr_stream *stream, const dr_err *why, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(why);
    dr_counter_client *c = ctx;
    if (c->stream != stream) {
        dr_env_stream_close(c->env, stream);
        return;
    }
    drop_stream(c, true);
    if (c->busy)
        move_on(c);
}

static const dr_stream_cbs client_cbs = {
    .connected = on_connected,
    .data = on_data,
    .closed = on_closed,
};

static void attempt_start(dr_counter_client *c)
{
    DR_ASSERT(c->busy);
    dr_env_timer_cancel(c->env, c->attempt_timer);
    c->attempt_timer = dr_env_timer_add(c->env, c->attempt_timeout_ns, attempt_timeout_fire, c);
    if (c->stream != NULL) {
        if (c->connected)
            send_request(c);
        return; /* connecting: on_connected sends it */
    }
    char host[DR_COUNTER_ADDR_SIZE_MAX];
    uint16_t port = 0;
    dr_err err;
    if (dr_counter_parse_addr(c->target, host, sizeof host, &port, &err) != DR_OK ||
        dr_env_connect(c->env, host, port, &client_cbs, c, &c->stream, &err) != DR_OK) {
        c->stream = NULL;
        move_on(c);
    }
}
