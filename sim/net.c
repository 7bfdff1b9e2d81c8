/* sim/net.c — the simulated network: listeners and TCP-like byte streams.
 *
 * A connection has two directions; each is a FIFO of chunks (SYN, SYNACK,
 * DATA, FIN) with due times drawn at write time (latency min + exponential +
 * rare tail) and never earlier than the chunk before, so a later chunk never
 * overtakes an earlier one. Only the head chunk of a direction has an event in
 * the queue; when it is delivered the next one is scheduled. Faults act on the
 * head when it comes due: a partition (or a dead host) holds it back and
 * retransmits every DR_SIM_RETRANSMIT_NS, until DR_SIM_CONNECT_TIMEOUT_NS /
 * DR_SIM_STREAM_TIMEOUT_NS reset the connection with DR_ETIMEDOUT; a stall
 * holds it once; a reset kills the connection (both sides see DR_ECONNRESET).
 *
 * Writes a process makes while handling one event travel together, as a TCP
 * sender's buffer coalesces a burst of small writes into segments: a write
 * appends to the tail chunk when that chunk is data written during the same
 * event (so it was drawn the same latency moments ago; writes a test makes
 * between events never merge) and the result stays
 * within DR_STREAM_READ_CHUNK_SIZE. The reader then gets the burst in one
 * data callback, as it would from one recv().
 *
 * Back-pressure: a direction's unacked_size counts bytes written and not yet
 * handed to the reader (in flight, or buffered because the reader paused the
 * stream); a write finding DR_STREAM_WRITE_QUEUE_SIZE_MAX there gets
 * DR_EAGAIN, and drained fires once it falls to DR_STREAM_WRITE_LOW_WATER_SIZE.
 * Disk and process state are elsewhere (env.c, proc.c).
 */
#include "sim_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void conn_fail(dr_sim *sim, sim_conn *conn, dr_code code, uint64_t delay0_ns,
                      uint64_t delay1_ns);
static void conn_maybe_free(sim_conn *conn);
static void schedule_head(dr_sim *sim, sim_conn *conn, unsigned d, uint64_t due_ns);
static void check_drained(dr_sim *sim, sim_conn *conn, unsigned d);

/* ---- listeners --------------------------------------------------------------- */

static bool is_local_addr(const sim_host *host, const char *addr)
{
    return addr == NULL || addr[0] == '\0' || strcmp(addr, "0.0.0.0") == 0 ||
           strcmp(addr, "*") == 0 || strcmp(addr, "::") == 0 || strcmp(addr, "127.0.0.1") == 0 ||
           strcmp(addr, "localhost") == 0 || strcmp(addr, host->name) == 0 ||
           strcmp(addr, host->ip) == 0;
}

static sim_listener *listener_find(const sim_host *host, uint16_t port)
{
    for (sim_link *l = host->listeners.next; l != &host->listeners; l = l->next) {
        sim_listener *li = SIM_CONTAINER(l, sim_listener, host_link);
        if (li->port == port)
            return li;
    }
    return NULL;
}

/* Next free ephemeral port of the host (32768-60999, wrapping). */
static uint16_t port_pick(sim_host *host)
{
    for (unsigned tries = 0; tries < 28232; tries++) {
        uint16_t port = host->next_port;
        host->next_port = port >= 60999 ? 32768 : (uint16_t)(port + 1);
        if (listener_find(host, port) == NULL)
            return port;
    }
    return 0;
}

dr_code dr__sim_listen(sim_proc *proc, const char *addr, uint16_t port, dr_accept_fn *fn,
                       void *ctx, dr_listener **out, dr_err *err)
{
    sim_host *host = proc->host;
    DR_ASSERT(fn != NULL);
    if (!is_local_addr(host, addr))
        return dr_err_set(err, DR_EINVAL, "listen '%s:%u': not an address of host '%s'", addr,
                          (unsigned)port, host->name);
    if (port == 0) {
        port = port_pick(host);
        if (port == 0)
            return dr_err_set(err, DR_EADDRINUSE, "listen on host '%s': no free port",
                              host->name);
    } else if (listener_find(host, port) != NULL) {
        return dr_err_set(err, DR_EADDRINUSE, "listen '%s:%u': address already in use",
                          addr != NULL ? addr : "", (unsigned)port);
    }
    sim_listener *li = dr_alloc(sizeof *li);
    li->host = host;
    li->pid = proc->pid;
    li->port = port;
    li->fn = fn;
    li->ctx = ctx;
    sim_link_push(&host->listeners, &li->host_link);
    sim_link_push(&proc->listeners, &li->proc_link);
    dr__sim_trace(proc->sim, "listen", proc->pid, proc->pid, port, 0);
    *out = li;
    return DR_OK;
}

uint16_t dr__sim_listener_port(dr_listener *listener) { return listener->port; }

void dr__sim_listener_close(sim_proc *proc, dr_listener *li)
{
    DR_ASSERT(li->pid == proc->pid);
    sim_link_del(&li->host_link);
    sim_link_del(&li->proc_link);
    dr_free(li);
}

/* ---- connections --------------------------------------------------------------- */

static void dir_free_chunks(sim_dir *dir)
{
    sim_chunk *c = dir->head;
    while (c != NULL) {
        sim_chunk *next = c->next;
        dr_free(c);
        c = next;
    }
    dir->head = dir->tail = dir->before_tail = NULL;
    dir->chunk_count = 0;
    dir->unacked_size = 0;
}

/* Invariant of a live connection's direction d: the writer's queue is what is
 * in flight plus what the reader holds back while paused. O(chunks). */
static bool dir_consistent(const sim_conn *conn, unsigned d)
{
    const sim_dir *dir = &conn->dir[d];
    if (conn->dead)
        return dir->head == NULL && dir->unacked_size == 0;
    size_t count = 0;
    size_t data_size = 0;
    const sim_chunk *last = NULL;
    for (const sim_chunk *c = dir->head; c != NULL; c = c->next) {
        count++;
        if (c->type == CHUNK_DATA)
            data_size += c->size;
        last = c;
    }
    return count == dir->chunk_count && last == dir->tail &&
           dir->unacked_size == data_size + conn->side[1 - d].rx.size;
}

static void dir_enqueue(dr_sim *sim, sim_conn *conn, unsigned d, uint8_t type, const void *data,
                        size_t size)
{
    sim_dir *dir = &conn->dir[d];
    sim_chunk *c = dr_alloc(sizeof *c + size);
    c->type = type;
    c->size = (uint32_t)size;
    c->capacity = (uint32_t)size;
    c->write_seq = sim->current_seq;
    if (size > 0)
        memcpy(c->data, data, size);
    uint64_t due = sim->now_ns + dr__sim_net_latency(sim, conn->host[d], conn->host[1 - d]);
    if (due < dir->last_due_ns)
        due = dir->last_due_ns; /* FIFO: never before the chunk ahead */
    dir->last_due_ns = due;
    c->due_ns = due;
    if (dir->tail != NULL)
        dir->tail->next = c;
    else
        dir->head = c;
    dir->before_tail = dir->tail;
    dir->tail = c;
    dir->chunk_count++;
    if (!dir->scheduled)
        schedule_head(sim, conn, d, due);
    /* (DATA's unacked_size is added by the caller after its last chunk) */
}

/* Appends data to dir's tail chunk if it is data written during the current
 * event, not held back by a fault, and stays within one read's size; false
 * (nothing done) otherwise. */
static bool dir_coalesce(dr_sim *sim, sim_dir *dir, const void *data, size_t size)
{
    sim_chunk *t = dir->tail;
    if (!sim->in_event || t == NULL || t->type != CHUNK_DATA || t->write_seq != sim->current_seq ||
        t->stalled ||
        t->due_ns < sim->now_ns || size > DR_STREAM_READ_CHUNK_SIZE - t->size)
        return false;
    if (t->size + size > t->capacity) {
        size_t cap = DR_MAX((size_t)t->capacity * 2, (size_t)t->size + size);
        cap = DR_MIN(cap, (size_t)DR_STREAM_READ_CHUNK_SIZE);
        sim_chunk *grown = dr_realloc(t, sizeof *t + cap);
        grown->capacity = (uint32_t)cap;
        if (dir->before_tail != NULL)
            dir->before_tail->next = grown;
        else
            dir->head = grown;
        dir->tail = grown;
        t = grown;
    }
    memcpy(t->data + t->size, data, size);
    t->size += (uint32_t)size;
    return true;
}

static void schedule_head(dr_sim *sim, sim_conn *conn, unsigned d, uint64_t due_ns)
{
    sim_dir *dir = &conn->dir[d];
    DR_ASSERT(!dir->scheduled);
    DR_ASSERT(dir->head != NULL);
    dir->scheduled = true;
    conn->ev_refs++;
    dr__sim_push(sim, due_ns < sim->now_ns ? sim->now_ns : due_ns, EV_CHUNK, 0, conn, d);
}

static void notify(dr_sim *sim, sim_conn *conn, unsigned side, unsigned what, dr_code code,
                   uint64_t delay_ns)
{
    dr_stream *s = &conn->side[side];
    conn->ev_refs++;
    dr__sim_push(sim, sim->now_ns + delay_ns, EV_STREAM, s->pid, conn,
                 side | (uint64_t)what << 8 | (uint64_t)code << 16);
}

/* The connection dies: what is in flight is lost and each side still held by
 * a process hears closed(code) after its delay. */
static void conn_fail(dr_sim *sim, sim_conn *conn, dr_code code, uint64_t delay0_ns,
                      uint64_t delay1_ns)
{
    if (conn->dead)
        return;
    conn->dead = true;
    dir_free_chunks(&conn->dir[0]);
    dir_free_chunks(&conn->dir[1]);
    for (unsigned i = 0; i < 2; i++) {
        dr_stream *s = &conn->side[i];
        if (!s->exists || s->released || s->closed_fired)
            continue;
        s->closed_fired = true; /* queued: nothing else fires for it */
        notify(sim, conn, i, STREAM_CLOSED, code, i == 0 ? delay0_ns : delay1_ns);
    }
}

static void conn_maybe_free(sim_conn *conn)
{
    if (conn->ev_refs > 0)
        return;
    if (conn->side[0].exists && !conn->side[0].released)
        return;
    if (conn->side[1].exists && !conn->side[1].released)
        return;
    dir_free_chunks(&conn->dir[0]);
    dir_free_chunks(&conn->dir[1]);
    dr_buf_deinit(&conn->side[0].rx);
    dr_buf_deinit(&conn->side[1].rx);
    dr_free(conn);
}

void dr__sim_conn_unref(sim_conn *conn)
{
    DR_ASSERT(conn->ev_refs > 0);
    conn->ev_refs--;
    conn_maybe_free(conn);
}

void dr__sim_chunk_discard(dr_sim *sim, sim_ev *ev)
{
    sim_conn *conn = ev->ptr;
    sim_dir *dir = &conn->dir[ev->arg & 1];
    DR_ASSERT(dir->scheduled);
    dir->scheduled = false;
    if (!sim->destroying && !conn->dead && dir->head != NULL) {
        /* only the reader's pause dropped it: the chunk itself still travels */
        conn->ev_refs--;
        schedule_head(sim, conn, (unsigned)(ev->arg & 1), sim->now_ns);
        return;
    }
    dr__sim_conn_unref(conn);
}

dr_code dr__sim_connect(sim_proc *proc, const char *addr, uint16_t port, const dr_stream_cbs *cbs,
                        void *ctx, dr_stream **out, dr_err *err)
{
    dr_sim *sim = proc->sim;
    sim_host *target = NULL;
    if (addr == NULL)
        return dr_err_set(err, DR_EINVAL, "connect: no host given");
    if (strcmp(addr, "localhost") == 0 || strcmp(addr, "127.0.0.1") == 0)
        target = proc->host;
    else
        target = dr__sim_host_by_addr(sim, addr);
    if (target == NULL)
        return dr_err_set(err, DR_ENOTFOUND, "connect '%s:%u': unknown host", addr,
                          (unsigned)port);
    if (port == 0)
        return dr_err_set(err, DR_EINVAL, "connect '%s:0': port 0", addr);
    sim_conn *conn = dr_alloc(sizeof *conn);
    conn->sim = sim;
    conn->id = sim->conn_next_id++;
    conn->host[0] = proc->host;
    conn->host[1] = target;
    conn->port[0] = port_pick(proc->host);
    conn->port[1] = port;
    for (unsigned i = 0; i < 2; i++) {
        conn->side[i].conn = conn;
        conn->side[i].side = (uint8_t)i;
        dr_buf_init(&conn->side[i].rx);
        sim_link_init(&conn->side[i].proc_link);
    }
    dr_stream *s = &conn->side[0];
    s->exists = true;
    s->pid = proc->pid;
    s->cbs = cbs;
    s->ctx = ctx;
    sim_link_push(&proc->streams, &s->proc_link);
    dr__sim_trace(sim, "connect", proc->pid, 0, port, conn->id);
    dir_enqueue(sim, conn, 0, CHUNK_SYN, NULL, 0);
    *out = s;
    return DR_OK;
}

/* ---- delivery --------------------------------------------------------------------- */

static void deliver_syn(dr_sim *sim, sim_conn *conn, sim_listener *li)
{
    sim_host *src = conn->host[0];
    sim_host *dst = conn->host[1];
    bool refuse = li == NULL;
    if (!refuse && src != dst && dr_rng_chance(&sim->net_rng, sim->faults.net_refuse_p)) {
        dr_sim_fault_fired(sim, "net.refuse");
        refuse = true;
    }
    if (refuse) {
        dr__sim_trace(sim, "refused", conn->side[0].pid, 0, conn->port[1], conn->id);
        conn_fail(sim, conn, DR_ECONNREFUSED, dr__sim_net_latency(sim, dst, src), 0);
        return;
    }
    sim_proc *lproc = dr__sim_proc(sim, li->pid);
    DR_ASSERT(lproc != NULL);
    dr_stream *s = &conn->side[1];
    s->exists = true;
    s->pid = lproc->pid;
    sim_link_push(&lproc->streams, &s->proc_link);
    dr__sim_trace(sim, "accept", conn->side[0].pid, lproc->pid, conn->port[1], conn->id);
    dir_enqueue(sim, conn, 1, CHUNK_SYNACK, NULL, 0); /* first on its way back */
    dr__sim_proc_enter(lproc);
    li->fn(&lproc->env, li, s, li->ctx);
    dr__sim_proc_leave(lproc);
    DR_ASSERT(s->released || s->cbs != NULL); /* env.h: set callbacks or close */
}

static void call_data(dr_sim *sim, sim_conn *conn, unsigned r, const uint8_t *data, size_t size)
{
    dr_stream *s = &conn->side[r];
    sim_proc *proc = dr__sim_proc(sim, s->pid);
    DR_ASSERT(proc != NULL);
    conn->dir[1 - r].unacked_size -= size;
    if (s->cbs != NULL && s->cbs->data != NULL) {
        dr__sim_proc_enter(proc);
        s->cbs->data(&proc->env, s, data, size, s->ctx);
        dr__sim_proc_leave(proc);
    }
    check_drained(sim, conn, 1 - r);
}

static void call_closed(dr_sim *sim, sim_conn *conn, unsigned side, dr_code code)
{
    dr_stream *s = &conn->side[side];
    sim_proc *proc = dr__sim_proc(sim, s->pid);
    DR_ASSERT(proc != NULL);
    DR_ASSERT(!s->released);
    s->closed_fired = true;
    sim_host *peer = conn->host[1 - side];
    dr_err why;
    switch (code) {
    case DR_OK:
        dr_err_set(&why, DR_OK, "end of stream from '%s'", peer->name);
        break;
    case DR_ECONNREFUSED:
        dr_err_set(&why, code, "connect '%s:%u': connection refused", peer->name,
                   (unsigned)conn->port[1]);
        break;
    case DR_ETIMEDOUT:
        dr_err_set(&why, code, "stream to '%s': timed out", peer->name);
        break;
    default:
        dr_err_set(&why, code, "stream to '%s': connection reset", peer->name);
        break;
    }
    dr__sim_trace(sim, "closed", 0, s->pid, (uint64_t)code, conn->id);
    if (s->cbs != NULL && s->cbs->closed != NULL) {
        dr__sim_proc_enter(proc);
        s->cbs->closed(&proc->env, s, &why, s->ctx);
        dr__sim_proc_leave(proc);
    }
}

static void check_drained(dr_sim *sim, sim_conn *conn, unsigned d)
{
    dr_stream *s = &conn->side[d];
    if (!s->want_drained || s->released || s->closed_fired || conn->dead)
        return;
    if (conn->dir[d].unacked_size > DR_STREAM_WRITE_LOW_WATER_SIZE)
        return;
    s->want_drained = false;
    notify(sim, conn, d, STREAM_DRAINED, DR_OK, 0);
}

void dr__sim_on_chunk(dr_sim *sim, sim_ev *ev)
{
    sim_conn *conn = ev->ptr;
    unsigned d = (unsigned)(ev->arg & 1);
    unsigned r = 1 - d;
    sim_dir *dir = &conn->dir[d];
    DR_ASSERT(dir->scheduled);
    dir->scheduled = false;
    if (conn->dead || dir->head == NULL) {
        dr__sim_conn_unref(conn);
        return;
    }
    sim_chunk *c = dir->head;
    sim_host *src = conn->host[d];
    sim_host *dst = conn->host[r];
    dr_stream *rx = &conn->side[r];

    /* the reading process is paused: it sees nothing until resumed */
    sim_listener *li = NULL;
    sim_proc *rproc = NULL;
    if (c->type == CHUNK_SYN) {
        li = dst->up ? listener_find(dst, conn->port[1]) : NULL;
        rproc = li != NULL ? dr__sim_proc(sim, li->pid) : NULL;
    } else if (rx->exists && !rx->released) {
        rproc = dr__sim_proc(sim, rx->pid);
    }
    if (rproc != NULL && rproc->paused) {
        dir->scheduled = true; /* the held event keeps its reference */
        dr__sim_proc_hold(rproc, ev);
        return;
    }

    if (src != dst && dr__sim_path_blocked(sim, src, dst)) {
        if (!conn->blocked[d]) {
            conn->blocked[d] = true;
            dir->blocked_since_ns = sim->now_ns;
        }
        dr_sim_fault_fired(sim, "net.partition_drop");
        uint64_t limit = c->type == CHUNK_SYN ? DR_SIM_CONNECT_TIMEOUT_NS : DR_SIM_STREAM_TIMEOUT_NS;
        if (sim->now_ns - dir->blocked_since_ns >= limit) {
            dr_sim_fault_fired(sim, "net.timeout");
            conn_fail(sim, conn, DR_ETIMEDOUT, 0, 0);
            dr__sim_conn_unref(conn);
            return;
        }
        conn->ev_refs--;
        schedule_head(sim, conn, d, sim->now_ns + DR_SIM_RETRANSMIT_NS);
        return;
    }
    conn->blocked[d] = false;
    if (src != dst) {
        if (!c->stalled && dr_rng_chance(&sim->net_rng, sim->faults.net_stall_p)) {
            c->stalled = true;
            dr_sim_fault_fired(sim, "net.stall");
            conn->ev_refs--;
            schedule_head(sim, conn, d,
                          sim->now_ns + 1 + dr_rng_below(&sim->net_rng, sim->faults.net_stall_max_ns + 1));
            return;
        }
        if (c->type == CHUNK_DATA && dr_rng_chance(&sim->net_rng, sim->faults.net_reset_p)) {
            dr_sim_fault_fired(sim, "net.reset");
            conn_fail(sim, conn, DR_ECONNRESET, d == 0 ? dr__sim_net_latency(sim, dst, src) : 0,
                      d == 1 ? dr__sim_net_latency(sim, dst, src) : 0);
            dr__sim_conn_unref(conn);
            return;
        }
    }

    /* deliver the head */
    dir->head = c->next;
    if (dir->head == NULL)
        dir->tail = NULL;
    if (dir->before_tail == c || dir->head == NULL)
        dir->before_tail = NULL; /* the new head is the tail */
    dir->chunk_count--;
    switch (c->type) {
    case CHUNK_SYN:
        deliver_syn(sim, conn, li);
        break;
    case CHUNK_SYNACK:
        if (!rx->released) {
            rx->connected = true;
            dr__sim_trace(sim, "connected", conn->side[1].pid, rx->pid, conn->port[1], conn->id);
            if (rx->cbs != NULL && rx->cbs->connected != NULL) {
                sim_proc *proc = dr__sim_proc(sim, rx->pid);
                DR_ASSERT(proc != NULL);
                dr__sim_proc_enter(proc);
                rx->cbs->connected(&proc->env, rx, rx->ctx);
                dr__sim_proc_leave(proc);
            }
        }
        break;
    case CHUNK_DATA:
        if (rx->released) {
            /* data for a closed socket: the writer gets a reset */
            dr__sim_trace(sim, "rst", rx->pid, conn->side[d].pid, c->size, conn->id);
            conn_fail(sim, conn, DR_ECONNRESET, 0, 0);
            break;
        }
        dr__sim_trace(sim, "deliver", conn->side[d].pid, rx->pid, c->size,
                      XXH3_64bits(c->data, c->size));
        if (rx->paused || rx->rx.size > 0)
            dr_buf_append(&rx->rx, c->data, c->size); /* still counts as the writer's queue */
        else
            call_data(sim, conn, r, c->data, c->size);
        break;
    case CHUNK_FIN:
        dr__sim_trace(sim, "fin", conn->side[d].pid, rx->pid, 0, conn->id);
        if (rx->released) {
            conn->dead = true; /* both ends closed */
            dir_free_chunks(&conn->dir[r]);
        } else if (rx->paused || rx->rx.size > 0) {
            rx->fin_pending = true;
        } else {
            conn->dead = true;
            dir_free_chunks(&conn->dir[r]);
            call_closed(sim, conn, r, DR_OK);
        }
        break;
    default:
        DR_UNREACHABLE();
    }
    dr_free(c);
    if (!conn->dead && dir->head != NULL && !dir->scheduled)
        schedule_head(sim, conn, d, dir->head->due_ns);
    DR_ASSERT_SLOW(dir_consistent(conn, 0));
    DR_ASSERT_SLOW(dir_consistent(conn, 1));
    dr__sim_conn_unref(conn);
}

void dr__sim_on_stream(dr_sim *sim, sim_ev *ev)
{
    sim_conn *conn = ev->ptr;
    unsigned side = (unsigned)(ev->arg & 1);
    unsigned what = (unsigned)(ev->arg >> 8) & 0xff;
    dr_code code = (dr_code)(ev->arg >> 16);
    dr_stream *s = &conn->side[side];
    if (s->released)
        goto done;
    switch (what) {
    case STREAM_CLOSED:
        call_closed(sim, conn, side, code);
        break;
    case STREAM_DRAINED:
        if (conn->dead || s->closed_fired || s->cbs == NULL || s->cbs->drained == NULL)
            break;
        dr__sim_trace(sim, "drained", 0, s->pid, conn->dir[side].unacked_size, conn->id);
        {
            sim_proc *proc = dr__sim_proc(sim, s->pid);
            dr__sim_proc_enter(proc);
            s->cbs->drained(&proc->env, s, s->ctx);
            dr__sim_proc_leave(proc);
        }
        break;
    case STREAM_RX_FLUSH:
        s->flush_queued = false;
        if (s->paused || s->closed_fired || (conn->dead && !s->fin_pending))
            break;
        if (s->rx.size > 0) {
            dr_buf data = s->rx; /* taken: the callback may pause, write or close */
            dr_buf_init(&s->rx);
            dr__sim_trace(sim, "deliver", conn->side[1 - side].pid, s->pid, data.size,
                          XXH3_64bits(data.data, data.size));
            call_data(sim, conn, side, data.data, data.size);
            dr_buf_deinit(&data);
        }
        if (s->fin_pending && !s->released && !s->paused && s->rx.size == 0 && !s->closed_fired) {
            conn->dead = true;
            dir_free_chunks(&conn->dir[side]);
            call_closed(sim, conn, side, DR_OK);
        }
        break;
    default:
        DR_UNREACHABLE();
    }
done:
    dr__sim_conn_unref(conn);
}

/* ---- stream operations -------------------------------------------------------------- */

static void stream_check(const sim_proc *proc, const dr_stream *s)
{
    DR_ASSERT(s != NULL);
    DR_ASSERT(s->exists);
    DR_ASSERT(!s->released); /* no use after close */
    DR_ASSERT(s->pid == proc->pid);
}

void dr__sim_stream_set_cbs(sim_proc *proc, dr_stream *s, const dr_stream_cbs *cbs, void *ctx)
{
    stream_check(proc, s);
    s->cbs = cbs;
    s->ctx = ctx;
}

dr_code dr__sim_stream_write(sim_proc *proc, dr_stream *s, const void *data, size_t size,
                             dr_err *err)
{
    stream_check(proc, s);
    sim_conn *conn = s->conn;
    if (conn->dead || s->closed_fired)
        return dr_err_set(err, DR_ECLOSED, "stream to '%s': closed",
                          conn->host[1 - s->side]->name);
    if (size == 0)
        return DR_OK;
    sim_dir *dir = &conn->dir[s->side];
    if (dir->unacked_size >= DR_STREAM_WRITE_QUEUE_SIZE_MAX) {
        s->want_drained = true;
        return dr_err_set(err, DR_EAGAIN, "stream to '%s': %zu bytes queued",
                          conn->host[1 - s->side]->name, dir->unacked_size);
    }
    if (dr__sim_fail_now(proc->sim, DR_SIM_OP_SEND)) {
        uint64_t d = dr__sim_net_latency(proc->sim, conn->host[s->side], conn->host[1 - s->side]);
        conn_fail(proc->sim, conn, DR_ECONNRESET, s->side == 0 ? 0 : d, s->side == 1 ? 0 : d);
        return DR_OK; /* the data is lost with the connection */
    }
    const uint8_t *p = data;
    size_t left = size;
    if (dir_coalesce(proc->sim, dir, p, left))
        left = 0;
    while (left > 0) {
        size_t n = DR_MIN(left, (size_t)DR_STREAM_READ_CHUNK_SIZE);
        dir_enqueue(proc->sim, conn, s->side, CHUNK_DATA, p, n);
        p += n;
        left -= n;
    }
    dir->unacked_size += size;
    if (dir->unacked_size > DR_STREAM_WRITE_LOW_WATER_SIZE)
        s->want_drained = true;
    DR_ASSERT_SLOW(dir_consistent(conn, s->side));
    return DR_OK;
}

size_t dr__sim_stream_queued(dr_stream *s)
{
    DR_ASSERT(s->exists);
    if (s->conn->dead)
        return 0;
    return s->conn->dir[s->side].unacked_size;
}

void dr__sim_stream_pause(sim_proc *proc, dr_stream *s, bool paused)
{
    stream_check(proc, s);
    s->paused = paused;
    if (!paused && !s->flush_queued && (s->rx.size > 0 || s->fin_pending)) {
        s->flush_queued = true;
        notify(proc->sim, s->conn, s->side, STREAM_RX_FLUSH, DR_OK, 0);
    }
}

static void stream_release(sim_proc *proc, dr_stream *s)
{
    (void)proc;
    s->released = true;
    s->cbs = NULL;
    s->ctx = NULL;
    sim_link_del(&s->proc_link);
    sim_dir *in = &s->conn->dir[1 - s->side];
    if (!s->conn->dead) {
        DR_ASSERT(in->unacked_size >= s->rx.size);
        in->unacked_size -= s->rx.size; /* held-back bytes die with the handle */
    }
    dr_buf_deinit(&s->rx);
}

void dr__sim_stream_close(sim_proc *proc, dr_stream *s)
{
    stream_check(proc, s);
    sim_conn *conn = s->conn;
    stream_release(proc, s);
    if (!conn->dead && !s->closed_fired)
        dir_enqueue(proc->sim, conn, s->side, CHUNK_FIN, NULL, 0); /* after what is queued */
    conn_maybe_free(conn);
}

void dr__sim_stream_abort(sim_proc *proc, dr_stream *s)
{
    stream_check(proc, s);
    sim_conn *conn = s->conn;
    stream_release(proc, s);
    if (!conn->dead) {
        uint64_t d = dr__sim_net_latency(proc->sim, conn->host[s->side], conn->host[1 - s->side]);
        conn_fail(proc->sim, conn, DR_ECONNRESET, d, d);
    }
    conn_maybe_free(conn);
}

void dr__sim_stream_peer(dr_stream *s, char *out, size_t out_size)
{
    sim_conn *conn = s->conn;
    unsigned p = 1u - s->side;
    snprintf(out, out_size, "%s:%u", conn->host[p]->ip, (unsigned)conn->port[p]);
}

void dr__sim_net_proc_end(sim_proc *proc, bool graceful)
{
    /* the process is already out of the table; its streams go in order */
    while (!sim_link_empty(&proc->streams)) {
        dr_stream *s = SIM_CONTAINER(proc->streams.next, dr_stream, proc_link);
        if (graceful)
            dr__sim_stream_close(proc, s);
        else
            dr__sim_stream_abort(proc, s);
    }
    while (!sim_link_empty(&proc->listeners)) {
        sim_listener *li = SIM_CONTAINER(proc->listeners.next, sim_listener, proc_link);
        dr__sim_listener_close(proc, li);
    }
}
