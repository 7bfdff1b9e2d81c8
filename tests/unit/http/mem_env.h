/* tests/unit/http/mem_env.h — a tiny in-memory env for driving src/http
 * without a simulator or sockets: virtual time, timers, and a loopback
 * network of stream pairs. Header-only so the fuzz harnesses can include it.
 *
 * Semantics (a subset of env.h, enough for HTTP):
 * - Events (timers, deliveries, accepts, connects, close notices) run in
 *   (due_ns, seq) order; mem_env_settle runs everything due now.
 * - Each write is delivered to the peer as one data callback (so split points
 *   chosen by a test survive), after deliver_delay_ns. A paused reader holds
 *   deliveries back; the writer's queue then grows and its writes get
 *   DR_EAGAIN once queue_size_max is reached; drained follows once the queue
 *   falls to the low-water mark.
 * - close flushes then ends the peer with closed(DR_OK); abort drops the queue
 *   and ends the peer with closed(DR_ECONNRESET). A connect to a port nobody
 *   listens on ends with closed(DR_ECONNREFUSED).
 * - Streams are freed only by mem_env_deinit (so late events stay safe).
 * Only what src/http uses is implemented; other ops are NULL.
 */
#ifndef DR_TESTS_HTTP_MEM_ENV_H
#define DR_TESTS_HTTP_MEM_ENV_H

#include <stdio.h>
#include <string.h>

#include "src/env/env.h"

#define MEM_UNUSED __attribute__((unused))

typedef struct mem_env mem_env;

struct dr_stream {
    mem_env *me;
    const dr_stream_cbs *cbs;
    void *ctx;
    dr_stream *peer;
    dr_buf out;           /* written, not yet delivered to the peer */
    size_t queue_size_max; /* writes get DR_EAGAIN at or above this */
    bool paused;          /* the owner paused reading */
    bool owner_done;      /* closed or aborted by its owner: no more callbacks */
    bool closing;         /* close requested: end the peer once out is delivered */
    bool ended;           /* closed() fired (or owner_done) */
    bool want_drain;
    bool is_connect;      /* the connecting side */
    uint16_t port;
    dr_stream *all_next;
};

struct dr_listener {
    uint16_t port;
    dr_accept_fn *fn;
    void *ctx;
    bool open;
};

enum { MEM_EV_TIMER, MEM_EV_DELIVER, MEM_EV_ACCEPT, MEM_EV_CONNECTED, MEM_EV_END };

typedef struct mem_event {
    uint64_t due_ns;
    uint64_t seq;
    dr_timer_id id;
    int kind;
    dr_timer_fn *fn;
    void *ctx;
    dr_stream *stream;
    size_t size;   /* DELIVER: bytes of this write */
    dr_code code;  /* END: why */
    dr_listener *listener;
} mem_event;

struct mem_env {
    dr_env env;
    uint64_t now_ns;
    uint64_t seq;
    dr_timer_id next_id;
    mem_event *events;
    size_t event_count;
    size_t event_capacity;
    dr_stream *all;
    dr_listener listeners[8];
    size_t listener_count;
    uint16_t next_port;
    uint64_t deliver_delay_ns;
    uint64_t random_state;
    size_t default_queue_size_max;
};

static MEM_UNUSED mem_env *mem_of(void *self) { return self; }

static MEM_UNUSED dr_timer_id mem_schedule(mem_env *me, uint64_t delay_ns, mem_event ev)
{
    if (me->event_count == me->event_capacity) {
        me->event_capacity = me->event_capacity ? me->event_capacity * 2 : 64;
        me->events = dr_realloc(me->events, me->event_capacity * sizeof me->events[0]);
    }
    ev.due_ns = me->now_ns + delay_ns;
    ev.seq = me->seq++;
    ev.id = ++me->next_id;
    me->events[me->event_count++] = ev;
    return ev.id;
}

static MEM_UNUSED uint64_t mem_now(void *self) { return mem_of(self)->now_ns; }
static MEM_UNUSED uint64_t mem_wall(void *self) { return mem_of(self)->now_ns + 1700000000ull * DR_NS_PER_S; }

static MEM_UNUSED dr_timer_id mem_timer_add(void *self, uint64_t delay_ns, dr_timer_fn *fn, void *ctx)
{
    mem_event ev = {.kind = MEM_EV_TIMER, .fn = fn, .ctx = ctx};
    return mem_schedule(mem_of(self), delay_ns, ev);
}

static MEM_UNUSED void mem_timer_cancel(void *self, dr_timer_id id)
{
    mem_env *me = mem_of(self);
    for (size_t i = 0; i < me->event_count; i++) {
        if (me->events[i].id == id && me->events[i].kind == MEM_EV_TIMER) {
            me->events[i] = me->events[--me->event_count];
            return;
        }
    }
}

static MEM_UNUSED uint64_t mem_random(void *self)
{
    mem_env *me = mem_of(self);
    me->random_state = dr_mix64(me->random_state + 0x9e3779b97f4a7c15ull);
    return me->random_state;
}
static MEM_UNUSED uint64_t mem_seed(void *self) { DR_UNUSED(self); return 42; }

static MEM_UNUSED dr_stream *mem_stream_new(mem_env *me, uint16_t port)
{
    dr_stream *s = dr_alloc(sizeof *s);
    s->me = me;
    s->port = port;
    s->queue_size_max = me->default_queue_size_max;
    dr_buf_init(&s->out);
    s->all_next = me->all;
    me->all = s;
    return s;
}

static MEM_UNUSED dr_code mem_listen(void *self, const char *host, uint16_t port, dr_accept_fn *fn,
                                     void *ctx, dr_listener **out, dr_err *err)
{
    DR_UNUSED(host);
    mem_env *me = mem_of(self);
    if (port == 0)
        port = me->next_port++;
    for (size_t i = 0; i < me->listener_count; i++) {
        if (me->listeners[i].open && me->listeners[i].port == port)
            return dr_err_set(err, DR_EADDRINUSE, "port %u: address in use", (unsigned)port);
    }
    if (me->listener_count == DR_ARRAY_COUNT(me->listeners))
        return dr_err_set(err, DR_ETOOBIG, "mem env: too many listeners");
    dr_listener *l = &me->listeners[me->listener_count++];
    l->port = port;
    l->fn = fn;
    l->ctx = ctx;
    l->open = true;
    *out = l;
    return DR_OK;
}

static MEM_UNUSED uint16_t mem_listener_port(void *self, dr_listener *l)
{
    DR_UNUSED(self);
    return l->port;
}

static MEM_UNUSED void mem_listener_close(void *self, dr_listener *l)
{
    DR_UNUSED(self);
    l->open = false;
}

static MEM_UNUSED dr_code mem_connect(void *self, const char *host, uint16_t port,
                                      const dr_stream_cbs *cbs, void *ctx, dr_stream **out,
                                      dr_err *err)
{
    mem_env *me = mem_of(self);
    if (host == NULL || host[0] == '\0')
        return dr_err_set(err, DR_EINVAL, "connect: empty host");
    dr_stream *c = mem_stream_new(me, port);
    c->cbs = cbs;
    c->ctx = ctx;
    c->is_connect = true;
    dr_listener *l = NULL;
    for (size_t i = 0; i < me->listener_count; i++) {
        if (me->listeners[i].open && me->listeners[i].port == port)
            l = &me->listeners[i];
    }
    if (l == NULL) {
        mem_event ev = {.kind = MEM_EV_END, .stream = c, .code = DR_ECONNREFUSED};
        mem_schedule(me, me->deliver_delay_ns, ev);
    } else {
        dr_stream *s = mem_stream_new(me, port);
        c->peer = s;
        s->peer = c;
        mem_event acc = {.kind = MEM_EV_ACCEPT, .stream = s, .listener = l};
        mem_schedule(me, me->deliver_delay_ns, acc);
        mem_event con = {.kind = MEM_EV_CONNECTED, .stream = c};
        mem_schedule(me, me->deliver_delay_ns, con);
    }
    *out = c;
    return DR_OK;
}

static MEM_UNUSED void mem_set_cbs(void *self, dr_stream *s, const dr_stream_cbs *cbs, void *ctx)
{
    DR_UNUSED(self);
    s->cbs = cbs;
    s->ctx = ctx;
}

static MEM_UNUSED dr_code mem_write(void *self, dr_stream *s, const void *data, size_t size,
                                    dr_err *err)
{
    mem_env *me = mem_of(self);
    if (s->owner_done || s->ended || s->closing)
        return dr_err_set(err, DR_ECLOSED, "stream to port %u: closed", (unsigned)s->port);
    if (s->out.size >= s->queue_size_max) {
        s->want_drain = true;
        return dr_err_set(err, DR_EAGAIN, "stream to port %u: write queue full",
                          (unsigned)s->port);
    }
    dr_buf_append(&s->out, data, size);
    mem_event ev = {.kind = MEM_EV_DELIVER, .stream = s, .size = size};
    mem_schedule(me, me->deliver_delay_ns, ev);
    return DR_OK;
}

static MEM_UNUSED size_t mem_queued(void *self, dr_stream *s)
{
    DR_UNUSED(self);
    return s->out.size;
}

static MEM_UNUSED void mem_pause(void *self, dr_stream *s, bool paused)
{
    mem_env *me = mem_of(self);
    bool was = s->paused;
    s->paused = paused;
    /* Resuming: what the peer queued meanwhile gets delivered. */
    if (was && !paused && s->peer != NULL && s->peer->out.size > 0) {
        mem_event ev = {.kind = MEM_EV_DELIVER, .stream = s->peer, .size = s->peer->out.size};
        mem_schedule(me, me->deliver_delay_ns, ev);
    }
}

static MEM_UNUSED void mem_end_peer(mem_env *me, dr_stream *s, dr_code code)
{
    if (s->peer == NULL)
        return;
    mem_event ev = {.kind = MEM_EV_END, .stream = s->peer, .code = code};
    mem_schedule(me, me->deliver_delay_ns, ev);
}

static MEM_UNUSED void mem_close(void *self, dr_stream *s)
{
    mem_env *me = mem_of(self);
    DR_ASSERT(!s->owner_done);
    s->owner_done = true;
    s->ended = true;
    s->closing = true;
    if (s->out.size == 0)
        mem_end_peer(me, s, DR_OK);
    else if (s->peer != NULL) {
        mem_event ev = {.kind = MEM_EV_DELIVER, .stream = s, .size = 0};
        mem_schedule(me, me->deliver_delay_ns, ev); /* flush, then end */
    }
}

static MEM_UNUSED void mem_abort(void *self, dr_stream *s)
{
    mem_env *me = mem_of(self);
    DR_ASSERT(!s->owner_done);
    s->owner_done = true;
    s->ended = true;
    dr_buf_reset(&s->out);
    mem_end_peer(me, s, DR_ECONNRESET);
    if (s->peer != NULL)
        s->peer->peer = NULL;
    s->peer = NULL;
}

static MEM_UNUSED void mem_peer(void *self, dr_stream *s, char *out, size_t out_size)
{
    DR_UNUSED(self);
    snprintf(out, out_size, "127.0.0.1:%u", (unsigned)(s->is_connect ? s->port : 40000 + (s->port % 1000)));
}

static MEM_UNUSED const char *mem_node_name(void *self) { DR_UNUSED(self); return "mem"; }
static MEM_UNUSED void mem_log(void *self, dr_log_level level, const char *line)
{
    DR_UNUSED(self);
    DR_UNUSED(level);
    DR_UNUSED(line);
}
static MEM_UNUSED dr_log_level mem_log_level(void *self) { DR_UNUSED(self); return DR_LOG_ERROR; }
static MEM_UNUSED void mem_set_log_level(void *self, dr_log_level level)
{
    DR_UNUSED(self);
    DR_UNUSED(level);
}

static const dr_env_ops mem_env_ops MEM_UNUSED = {
    .now_ns = mem_now,
    .wall_ns = mem_wall,
    .timer_add = mem_timer_add,
    .timer_cancel = mem_timer_cancel,
    .random_u64 = mem_random,
    .seed = mem_seed,
    .listen = mem_listen,
    .listener_port = mem_listener_port,
    .listener_close = mem_listener_close,
    .connect = mem_connect,
    .stream_set_cbs = mem_set_cbs,
    .stream_write = mem_write,
    .stream_queued = mem_queued,
    .stream_pause = mem_pause,
    .stream_close = mem_close,
    .stream_abort = mem_abort,
    .stream_peer = mem_peer,
    .node_name = mem_node_name,
    .log = mem_log,
    .log_level = mem_log_level,
    .set_log_level = mem_set_log_level,
};

static MEM_UNUSED void mem_env_init(mem_env *me)
{
    memset(me, 0, sizeof *me);
    me->env.ops = &mem_env_ops;
    me->env.self = me;
    me->next_port = 5050;
    me->default_queue_size_max = DR_STREAM_WRITE_QUEUE_SIZE_MAX;
}

static MEM_UNUSED void mem_env_deinit(mem_env *me)
{
    while (me->all != NULL) {
        dr_stream *s = me->all;
        me->all = s->all_next;
        dr_buf_deinit(&s->out);
        dr_free(s);
    }
    dr_free(me->events);
    memset(me, 0, sizeof *me);
}

/* Delivers up to size bytes of s's queue to its peer. */
static MEM_UNUSED void mem_deliver(mem_env *me, dr_stream *s, size_t size)
{
    dr_stream *p = s->peer;
    if (p == NULL || p->ended) {
        dr_buf_reset(&s->out);
        return;
    }
    if (p->paused)
        return; /* held back; mem_pause reschedules */
    size = DR_MIN(size, s->out.size);
    if (size > 0) {
        uint8_t *copy = dr_alloc(size);
        memcpy(copy, s->out.data, size);
        dr_buf_consume(&s->out, size);
        if (p->cbs != NULL && p->cbs->data != NULL && !p->owner_done)
            p->cbs->data(&me->env, p, copy, size, p->ctx);
        dr_free(copy);
    }
    if (s->want_drain && !s->owner_done && s->out.size <= DR_STREAM_WRITE_LOW_WATER_SIZE &&
        s->out.size < s->queue_size_max) {
        s->want_drain = false;
        if (s->cbs != NULL && s->cbs->drained != NULL)
            s->cbs->drained(&me->env, s, s->ctx);
    }
    if (s->closing && s->out.size == 0 && s->peer != NULL) {
        s->closing = false;
        mem_end_peer(me, s, DR_OK);
    }
}

/* Runs the next event if it is due at or before until_ns. */
static MEM_UNUSED bool mem_env_step(mem_env *me, uint64_t until_ns)
{
    if (me->event_count == 0)
        return false;
    size_t best = 0;
    for (size_t i = 1; i < me->event_count; i++) {
        const mem_event *a = &me->events[i];
        const mem_event *b = &me->events[best];
        if (a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq))
            best = i;
    }
    if (me->events[best].due_ns > until_ns)
        return false;
    mem_event ev = me->events[best];
    memmove(&me->events[best], &me->events[best + 1],
            (me->event_count - best - 1) * sizeof me->events[0]);
    me->event_count--;
    if (ev.due_ns > me->now_ns)
        me->now_ns = ev.due_ns;
    dr_stream *s = ev.stream;
    switch (ev.kind) {
    case MEM_EV_TIMER:
        ev.fn(&me->env, ev.ctx);
        break;
    case MEM_EV_DELIVER:
        mem_deliver(me, s, ev.size);
        break;
    case MEM_EV_ACCEPT:
        if (!ev.listener->open || s->peer == NULL) {
            s->owner_done = s->ended = true;
            mem_end_peer(me, s, DR_ECONNREFUSED);
            break;
        }
        ev.listener->fn(&me->env, ev.listener, s, ev.listener->ctx);
        break;
    case MEM_EV_CONNECTED:
        if (!s->owner_done && !s->ended && s->peer != NULL && s->cbs != NULL &&
            s->cbs->connected != NULL)
            s->cbs->connected(&me->env, s, s->ctx);
        break;
    case MEM_EV_END:
        if (!s->owner_done && !s->ended) {
            s->ended = true;
            if (s->peer != NULL)
                s->peer->peer = NULL;
            s->peer = NULL;
            dr_err why = {.code = ev.code};
            snprintf(why.msg, sizeof why.msg, "%s", ev.code == DR_OK ? "end of stream"
                                                    : dr_code_name(ev.code));
            if (s->cbs != NULL && s->cbs->closed != NULL)
                s->cbs->closed(&me->env, s, &why, s->ctx);
        }
        break;
    default:
        DR_UNREACHABLE();
    }
    return true;
}

/* Runs every event due up to now (deliveries, zero-delay timers). */
static MEM_UNUSED void mem_env_settle(mem_env *me)
{
    for (int guard = 0; guard < 1000000 && mem_env_step(me, me->now_ns); guard++) {
    }
}

/* Advances virtual time by delta_ns, running what falls due. */
static MEM_UNUSED void mem_env_advance(mem_env *me, uint64_t delta_ns)
{
    uint64_t until = me->now_ns + delta_ns;
    while (mem_env_step(me, until)) {
    }
    me->now_ns = until;
}

/* ---- a raw client: bytes in, bytes out, for parser-level tests ---------- */

typedef struct raw_client {
    mem_env *me;
    dr_stream *stream;
    dr_buf got;
    bool connected;
    bool ended;
    dr_code end_code;
} raw_client;

static MEM_UNUSED void raw_connected(dr_env *env, dr_stream *s, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(s);
    ((raw_client *)ctx)->connected = true;
}
static MEM_UNUSED void raw_data(dr_env *env, dr_stream *s, const uint8_t *data, size_t size,
                                void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(s);
    dr_buf_append(&((raw_client *)ctx)->got, data, size);
}
static MEM_UNUSED void raw_closed(dr_env *env, dr_stream *s, const dr_err *why, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(s);
    raw_client *rc = ctx;
    rc->ended = true;
    rc->end_code = why->code;
}
static const dr_stream_cbs raw_cbs MEM_UNUSED = {
    .connected = raw_connected, .data = raw_data, .closed = raw_closed};

static MEM_UNUSED void raw_client_init(raw_client *rc, mem_env *me, uint16_t port)
{
    memset(rc, 0, sizeof *rc);
    rc->me = me;
    dr_buf_init(&rc->got);
    dr_err err;
    dr_code code = dr_env_connect(&me->env, "127.0.0.1", port, &raw_cbs, rc, &rc->stream, &err);
    DR_ASSERT(code == DR_OK);
}

static MEM_UNUSED void raw_client_deinit(raw_client *rc)
{
    if (!rc->stream->owner_done)
        dr_env_stream_close(&rc->me->env, rc->stream);
    dr_buf_deinit(&rc->got);
}

static MEM_UNUSED void raw_client_send(raw_client *rc, const void *data, size_t size)
{
    dr_err err;
    dr_code code = dr_env_stream_write(&rc->me->env, rc->stream, data, size, &err);
    DR_ASSERT(code == DR_OK);
}

static MEM_UNUSED void raw_client_sends(raw_client *rc, const char *text)
{
    raw_client_send(rc, text, strlen(text));
}

static MEM_UNUSED const char *raw_client_text(raw_client *rc) { return dr_buf_cstr(&rc->got); }

#endif /* DR_TESTS_HTTP_MEM_ENV_H */
