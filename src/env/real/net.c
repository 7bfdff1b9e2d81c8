/* src/env/real/net.c — the real env's TCP streams and listeners, on
 * non-blocking sockets with raw libevent events and the env's own write
 * queues, plus name resolution (getaddrinfo, IPv4 preferred).
 *
 * A stream's life:
 *
 *   CONNECTING --connected--> OPEN --EOF or fault--> DEAD (closed cb fired)
 *        \______________________fault_________________/
 *
 * and, independently, the owner's handle: once dr_env_stream_close or _abort
 * is called (user_closed) no callback fires again and the handle is the
 * env's. close keeps the socket until the queue is flushed, sends FIN, then
 * reads and drops input until the peer's FIN (bounded by timers) so that
 * unread input does not make the kernel answer with a reset; abort resets at
 * once (SO_LINGER 0).
 *
 * Callbacks may close or abort the very stream they were called for, so every
 * entry point that can reach a callback or a free holds the stream (busy) and
 * memory is released only when the last hold goes (stream_release). A fault
 * found outside the loop (a send failing inside dr_env_stream_write, a connect
 * refused at once) is parked in `pending` and delivered from the loop through
 * ev_defer, never re-entrantly.
 *
 * Write queue: a byte queue with a consumed-prefix offset; write tries to send
 * at once when nothing is queued (no callback can fire from there), queues the
 * rest and arms EV_WRITE. drained fires from the loop when the queue falls to
 * DR_STREAM_WRITE_LOW_WATER_SIZE after being above it or after DR_EAGAIN.
 */
#include "real_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CLOSE_FLUSH_TIMEOUT_NS (30 * DR_NS_PER_S) /* close: flushing the queue */
#define CLOSE_DRAIN_TIMEOUT_NS (2 * DR_NS_PER_S)  /* close: after FIN, waiting for the peer's */
#define ACCEPT_RETRY_NS (100 * DR_NS_PER_MS)      /* after EMFILE and friends */
#define READS_PER_WAKEUP 4                        /* fairness between streams */
#define ACCEPTS_PER_WAKEUP 64
#define PEER_SIZE (DR_HOSTNAME_SIZE_MAX + 16) /* "[host]:port" */

typedef struct byteq {
    uint8_t *data;
    size_t head;     /* bytes already sent at the front */
    size_t size;     /* bytes queued after head */
    size_t capacity; /* bytes allocated */
} byteq;

typedef enum stream_state {
    S_CONNECTING,
    S_OPEN,
    S_DEAD, /* the closed callback was delivered (or the owner closed first) */
} stream_state;

struct dr_stream {
    dr__real *r;
    int fd; /* -1 once the socket is gone */
    struct event *ev_read, *ev_write, *ev_timer, *ev_defer;
    bool reading, writing; /* ev_read / ev_write are added */
    const dr_stream_cbs *cbs; /* kept */
    void *ctx;
    byteq wq;
    stream_state state;
    bool outbound;
    bool paused;
    bool read_eof;    /* the peer's FIN was read */
    bool want_drain;  /* drained is owed */
    bool user_closed; /* owner called close or abort: no more callbacks */
    bool fin_sent;
    bool freed; /* dead for good; memory goes when busy reaches 0 */
    bool has_pending;
    uint32_t busy;
    dr_err pending; /* a fault waiting for ev_defer */
    char peer[PEER_SIZE];
    dr_stream *prev, *next;
};

struct dr_listener {
    dr__real *r;
    int fd;
    uint16_t port;
    struct event *ev, *ev_retry;
    dr_accept_fn *fn;
    void *ctx;
    bool freed;
    uint32_t busy;
    char name[PEER_SIZE];
    dr_listener *prev, *next;
};

static void stream_read_fire(evutil_socket_t fd, short what, void *arg);
static void stream_write_fire(evutil_socket_t fd, short what, void *arg);
static void stream_timer_fire(evutil_socket_t fd, short what, void *arg);
static void stream_defer_fire(evutil_socket_t fd, short what, void *arg);
static void listener_accept_fire(evutil_socket_t fd, short what, void *arg);
static void listener_retry_fire(evutil_socket_t fd, short what, void *arg);
static void stream_update_events(dr_stream *s);
static void stream_release(dr_stream *s);
static void stream_flush(dr_stream *s);

/* ---- the byte queue ------------------------------------------------------------ */

static void byteq_push(byteq *q, const void *data, size_t size)
{
    if (q->head + q->size + size > q->capacity) {
        if (q->head > 0) {
            memmove(q->data, q->data + q->head, q->size);
            q->head = 0;
        }
        if (q->size + size > q->capacity) {
            size_t capacity = q->capacity == 0 ? 16384 : q->capacity;
            while (capacity < q->size + size)
                capacity *= 2;
            q->data = dr_realloc(q->data, capacity);
            q->capacity = capacity;
        }
    }
    memcpy(q->data + q->head + q->size, data, size);
    q->size += size;
}

static void byteq_pop(byteq *q, size_t size)
{
    DR_ASSERT(size <= q->size);
    q->head += size;
    q->size -= size;
    if (q->size == 0) {
        q->head = 0;
        if (q->capacity > DR_STREAM_WRITE_LOW_WATER_SIZE) { /* give back a big burst's memory */
            dr_free(q->data);
            q->data = NULL;
            q->capacity = 0;
        }
    }
}

static void byteq_deinit(byteq *q)
{
    dr_free(q->data);
    *q = (byteq){0};
}

/* ---- addresses ---------------------------------------------------------------- */

/* "host:port", or "[host]:port" for an IPv6 literal. */
static void format_peer(char *out, size_t out_size, const char *host, uint16_t port)
{
    if (strchr(host, ':') != NULL)
        snprintf(out, out_size, "[%s]:%u", host, (unsigned)port);
    else
        snprintf(out, out_size, "%s:%u", host, (unsigned)port);
}

static void format_sockaddr(char *out, size_t out_size, const struct sockaddr_storage *ss)
{
    char host[INET6_ADDRSTRLEN] = "?";
    uint16_t port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
        port = ntohs(sin->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
        port = ntohs(sin6->sin6_port);
    }
    format_peer(out, out_size, host, port);
}

static dr_code check_host(const char *op, const char *host, dr_err *err)
{
    if (host == NULL || host[0] == '\0')
        return dr_err_set(err, DR_EINVAL, "%s: host name is empty", op);
    if (strnlen(host, DR_HOSTNAME_SIZE_MAX) >= DR_HOSTNAME_SIZE_MAX)
        return dr_err_set(err, DR_EINVAL, "%s '%.64s...': host name is longer than %u bytes", op,
                          host, DR_HOSTNAME_SIZE_MAX - 1);
    return DR_OK;
}

/* Resolves host (a name or a numeric address) and port into *addr, taking
 * the first IPv4 answer, else the first answer. `what` names the operation
 * and its argument for messages ("connect 'db:5050'"). */
static dr_code lookup(const char *what, const char *host, uint16_t port, bool passive,
                      struct sockaddr_storage *addr, socklen_t *addr_size, dr_err *err)
{
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    struct addrinfo *list = NULL;
    int rc = getaddrinfo(host, service, &hints, &list);
    if (rc == EAI_SYSTEM) {
        int e = errno;
        return dr_err_set(err, DR_ENOTFOUND, "%s: cannot resolve: %s", what, strerror(e));
    }
    if (rc != 0)
        return dr_err_set(err, DR_ENOTFOUND, "%s: cannot resolve: %s", what, gai_strerror(rc));
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *ai = list; ai != NULL && pick == NULL; ai = ai->ai_next)
        if (ai->ai_family == AF_INET)
            pick = ai;
    for (const struct addrinfo *ai = list; ai != NULL && pick == NULL; ai = ai->ai_next)
        if (ai->ai_family == AF_INET6)
            pick = ai;
    if (pick == NULL || pick->ai_addrlen > sizeof *addr) {
        freeaddrinfo(list);
        return dr_err_set(err, DR_ENOTFOUND, "%s: no IPv4 or IPv6 address", what);
    }
    memset(addr, 0, sizeof *addr);
    memcpy(addr, pick->ai_addr, pick->ai_addrlen);
    *addr_size = pick->ai_addrlen;
    freeaddrinfo(list);
    return DR_OK;
}

dr_code dr__real_resolve(void *self, const char *name, char *ip_out, size_t ip_size, dr_err *err)
{
    DR_UNUSED(self);
    dr_code rc = check_host("resolve", name, err);
    if (rc != DR_OK)
        return rc;
    char what[PEER_SIZE + 16];
    snprintf(what, sizeof what, "resolve '%s'", name);
    struct sockaddr_storage ss;
    socklen_t ss_size = 0;
    rc = lookup(what, name, 0, false, &ss, &ss_size, err);
    if (rc != DR_OK)
        return rc;
    char ip[INET6_ADDRSTRLEN];
    const void *raw = ss.ss_family == AF_INET
                          ? (const void *)&((const struct sockaddr_in *)&ss)->sin_addr
                          : (const void *)&((const struct sockaddr_in6 *)&ss)->sin6_addr;
    if (inet_ntop(ss.ss_family, raw, ip, sizeof ip) == NULL)
        return dr__real_sys_fail(err, errno, "resolve", name);
    if (!dr_strlcpy(ip_out, ip, ip_size))
        return dr_err_set(err, DR_EINVAL, "resolve '%s': address '%s' does not fit in %zu bytes",
                          name, ip, ip_size);
    return DR_OK;
}

static void set_nodelay(int fd)
{
    int one = 1;
    /* Best effort: a socket without it is slower, not wrong. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* ---- stream lifetime ------------------------------------------------------------ */

static const char *direction(const dr_stream *s) { return s->outbound ? "to" : "from"; }

static dr_stream *stream_new(dr__real *r, int fd, bool outbound, const char *peer)
{
    dr_stream *s = dr_alloc(sizeof *s);
    s->r = r;
    s->fd = fd;
    s->outbound = outbound;
    s->state = outbound ? S_CONNECTING : S_OPEN;
    dr_strlcpy(s->peer, peer, sizeof s->peer);
    s->ev_read = event_new(r->base, fd, EV_READ | EV_PERSIST, stream_read_fire, s);
    s->ev_write = event_new(r->base, fd, EV_WRITE | EV_PERSIST, stream_write_fire, s);
    s->ev_timer = evtimer_new(r->base, stream_timer_fire, s);
    s->ev_defer = event_new(r->base, -1, 0, stream_defer_fire, s);
    DR_ASSERT(s->ev_read != NULL && s->ev_write != NULL);
    DR_ASSERT(s->ev_timer != NULL && s->ev_defer != NULL);
    s->prev = r->stream_tail;
    if (r->stream_tail != NULL)
        r->stream_tail->next = s;
    else
        r->stream_head = s;
    r->stream_tail = s;
    return s;
}

/* Releases the memory; the stream must be unreferenced and its socket gone. */
static void stream_free(dr_stream *s)
{
    DR_ASSERT(s->busy == 0);
    DR_ASSERT(s->fd < 0);
    dr__real *r = s->r;
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        r->stream_head = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    else
        r->stream_tail = s->prev;
    event_free(s->ev_read);
    event_free(s->ev_write);
    event_free(s->ev_timer);
    event_free(s->ev_defer);
    byteq_deinit(&s->wq);
    dr_free(s);
}

/* Stops every event and closes the socket; the queue is dropped. */
static void stream_drop_socket(dr_stream *s)
{
    event_del(s->ev_read);
    event_del(s->ev_write);
    event_del(s->ev_timer);
    s->reading = false;
    s->writing = false;
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    byteq_deinit(&s->wq);
}

/* Ends the stream for good (the owner is done with it or never will be told
 * again); memory goes now or when the last hold is released. */
static void stream_kill(dr_stream *s)
{
    if (s->freed)
        return;
    s->freed = true;
    stream_drop_socket(s);
    event_del(s->ev_defer);
    if (s->busy == 0)
        stream_free(s);
}

static void stream_hold(dr_stream *s) { s->busy++; }

static void stream_release(dr_stream *s)
{
    DR_ASSERT(s->busy > 0);
    s->busy--;
    if (s->busy == 0 && s->freed)
        stream_free(s);
}

/* Delivers closed(why) once; the caller holds s. */
static void stream_die(dr_stream *s, const dr_err *why)
{
    DR_ASSERT(s->state != S_DEAD);
    DR_ASSERT(!s->user_closed);
    s->state = S_DEAD;
    if (s->cbs != NULL && s->cbs->closed != NULL)
        s->cbs->closed(&s->r->env, s, why, s->ctx);
}

/* The socket failed (errno e or a timeout): drop it and tell the owner. */
static void stream_fail(dr_stream *s, dr_code code, const char *detail)
{
    if (s->freed)
        return;
    stream_drop_socket(s);
    if (s->user_closed) {
        stream_kill(s);
        return;
    }
    if (s->state == S_DEAD || s->has_pending)
        return; /* the owner already has (or will get) its closed */
    dr_err why;
    dr_err_set(&why, code, "stream %s %s: %s", direction(s), s->peer, detail);
    stream_die(s, &why);
}

static void stream_fault(dr_stream *s, int e)
{
    stream_fail(s, dr__real_code_of_errno(e), strerror(e));
}

/* Like stream_fail, for faults found outside the loop: the closed callback
 * comes later from ev_defer. */
static void stream_fail_later(dr_stream *s, int e)
{
    DR_ASSERT(!s->user_closed);
    stream_drop_socket(s);
    if (s->state == S_DEAD || s->has_pending)
        return;
    s->has_pending = true;
    dr_err_set(&s->pending, dr__real_code_of_errno(e), "stream %s %s: %s", direction(s), s->peer,
               strerror(e));
    event_active(s->ev_defer, EV_TIMEOUT, 0);
}

static void arm_timer(dr_stream *s, uint64_t delay_ns)
{
    struct timeval tv = dr__real_timeval(delay_ns);
    evtimer_add(s->ev_timer, &tv);
}

/* Makes the libevent events match what the stream waits for. */
static void stream_update_events(dr_stream *s)
{
    if (s->freed || s->fd < 0)
        return;
    /* After close, input is read and dropped so the peer never blocks on us. */
    bool want_read = !s->read_eof && s->state != S_CONNECTING &&
                     (s->user_closed || (s->state == S_OPEN && !s->paused));
    bool want_write = s->state == S_CONNECTING || s->wq.size > 0;
    if (want_read != s->reading) {
        int rc = want_read ? event_add(s->ev_read, NULL) : event_del(s->ev_read);
        DR_ASSERT(rc == 0);
        s->reading = want_read;
    }
    if (want_write != s->writing) {
        int rc = want_write ? event_add(s->ev_write, NULL) : event_del(s->ev_write);
        DR_ASSERT(rc == 0);
        s->writing = want_write;
    }
}

/* The owner closed and everything is flushed: FIN, then wait for the peer's
 * (or the drain timer). */
static void stream_finish_close(dr_stream *s)
{
    DR_ASSERT(s->user_closed);
    DR_ASSERT(s->wq.size == 0);
    if (s->fd < 0 || s->read_eof) {
        stream_kill(s);
        return;
    }
    if (s->fin_sent)
        return;
    if (shutdown(s->fd, SHUT_WR) != 0) {
        stream_kill(s);
        return;
    }
    s->fin_sent = true;
    arm_timer(s, CLOSE_DRAIN_TIMEOUT_NS);
}

/* ---- stream events -------------------------------------------------------------- */

static void stream_eof(dr_stream *s)
{
    s->read_eof = true;
    if (s->user_closed) {
        if (s->fin_sent || s->wq.size == 0)
            stream_kill(s);
        return; /* else stream_flush finishes the close */
    }
    if (s->state == S_DEAD)
        return;
    dr_err why;
    dr_err_set(&why, DR_OK, "stream %s %s: closed by peer", direction(s), s->peer);
    stream_die(s, &why);
}

static void stream_read_fire(evutil_socket_t fd, short what, void *arg)
{
    DR_UNUSED(fd);
    DR_UNUSED(what);
    dr_stream *s = arg;
    dr__real *r = s->r;
    stream_hold(s);
    for (int i = 0; i < READS_PER_WAKEUP; i++) {
        if (s->freed || s->fd < 0 || s->read_eof)
            break;
        if (!s->user_closed && (s->state != S_OPEN || s->paused))
            break;
        ssize_t n = recv(s->fd, r->read_buf, DR_STREAM_READ_CHUNK_SIZE, 0);
        if (n > 0) {
            if (!s->user_closed && s->cbs != NULL && s->cbs->data != NULL)
                s->cbs->data(&r->env, s, r->read_buf, (size_t)n, s->ctx);
            continue;
        }
        if (n == 0) {
            stream_eof(s);
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
        stream_fault(s, errno);
        break;
    }
    stream_update_events(s);
    stream_release(s);
}

static void stream_connect_done(dr_stream *s)
{
    int e = 0;
    socklen_t e_size = sizeof e;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &e_size) != 0)
        e = errno;
    if (e != 0) {
        stream_fault(s, e);
        return;
    }
    s->state = S_OPEN;
    if (s->user_closed) {
        arm_timer(s, CLOSE_FLUSH_TIMEOUT_NS); /* replaces the connect timeout */
        return;
    }
    event_del(s->ev_timer);
    if (s->cbs != NULL && s->cbs->connected != NULL)
        s->cbs->connected(&s->r->env, s, s->ctx);
}

static void stream_write_fire(evutil_socket_t fd, short what, void *arg)
{
    DR_UNUSED(fd);
    DR_UNUSED(what);
    dr_stream *s = arg;
    stream_hold(s);
    if (s->state == S_CONNECTING)
        stream_connect_done(s);
    if (!s->freed && s->fd >= 0 && s->state != S_CONNECTING)
        stream_flush(s);
    stream_update_events(s);
    stream_release(s);
}

/* Sends what the socket takes; then finishes a close or owes drained. The
 * caller holds s. */
static void stream_flush(dr_stream *s)
{
    while (s->wq.size > 0) {
        ssize_t n = send(s->fd, s->wq.data + s->wq.head, s->wq.size, MSG_NOSIGNAL);
        if (n > 0) {
            byteq_pop(&s->wq, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        stream_fault(s, n < 0 ? errno : EIO);
        return;
    }
    if (s->user_closed) {
        if (s->wq.size == 0)
            stream_finish_close(s);
        return;
    }
    if (s->want_drain && s->wq.size <= DR_STREAM_WRITE_LOW_WATER_SIZE && s->state == S_OPEN) {
        s->want_drain = false;
        if (s->cbs != NULL && s->cbs->drained != NULL)
            s->cbs->drained(&s->r->env, s, s->ctx);
    }
}

static void stream_timer_fire(evutil_socket_t fd, short what, void *arg)
{
    DR_UNUSED(fd);
    DR_UNUSED(what);
    dr_stream *s = arg;
    stream_hold(s);
    if (s->user_closed) {
        stream_kill(s); /* flush or drain took too long */
    } else if (s->state == S_CONNECTING) {
        char detail[64];
        snprintf(detail, sizeof detail, "connect timed out after %llu ms",
                 (unsigned long long)(s->r->connect_timeout_ns / DR_NS_PER_MS));
        stream_fail(s, DR_ETIMEDOUT, detail);
    }
    stream_release(s);
}

static void stream_defer_fire(evutil_socket_t fd, short what, void *arg)
{
    DR_UNUSED(fd);
    DR_UNUSED(what);
    dr_stream *s = arg;
    stream_hold(s);
    if (!s->freed && s->has_pending && !s->user_closed && s->state != S_DEAD) {
        s->has_pending = false;
        dr_err why = s->pending;
        stream_die(s, &why);
    }
    stream_release(s);
}

/* ---- stream operations ---------------------------------------------------------- */

dr_code dr__real_connect(void *self, const char *host, uint16_t port, const dr_stream_cbs *cbs,
                         void *ctx, dr_stream **out, dr_err *err)
{
    dr__real *r = self;
    DR_ASSERT(cbs != NULL);
    dr_code rc = check_host("connect", host, err);
    if (rc != DR_OK)
        return rc;
    char peer[PEER_SIZE];
    format_peer(peer, sizeof peer, host, port);
    if (port == 0)
        return dr_err_set(err, DR_EINVAL, "connect '%s': port must be 1-65535", peer);
    char what[PEER_SIZE + 16];
    snprintf(what, sizeof what, "connect '%s'", peer);
    struct sockaddr_storage addr;
    socklen_t addr_size = 0;
    rc = lookup(what, host, port, false, &addr, &addr_size, err);
    if (rc != DR_OK)
        return rc;

    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return dr__real_sys_fail(err, errno, "connect", peer);
    set_nodelay(fd);
    /* A non-blocking connect interrupted by a signal goes on in the kernel;
     * EINTR means the same as EINPROGRESS here. */
    int e = connect(fd, (const struct sockaddr *)&addr, addr_size) == 0 ? 0 : errno;
    bool later = e == 0 || e == EINPROGRESS || e == EINTR;
    bool fails_later = e == ECONNREFUSED || e == ETIMEDOUT || e == EHOSTUNREACH ||
                       e == ENETUNREACH || e == ECONNRESET;
    if (!later && !fails_later) {
        close(fd);
        return dr__real_sys_fail(err, e, "connect", peer);
    }
    dr_stream *s = stream_new(r, fd, true, peer);
    s->cbs = cbs;
    s->ctx = ctx;
    if (fails_later) {
        stream_fail_later(s, e);
    } else {
        arm_timer(s, r->connect_timeout_ns);
        stream_update_events(s); /* EV_WRITE tells when the connect is done */
    }
    *out = s;
    return DR_OK;
}

void dr__real_stream_set_cbs(void *self, dr_stream *s, const dr_stream_cbs *cbs, void *ctx)
{
    DR_UNUSED(self);
    DR_ASSERT(cbs != NULL);
    DR_ASSERT(!s->user_closed);
    s->cbs = cbs;
    s->ctx = ctx;
}

dr_code dr__real_stream_write(void *self, dr_stream *s, const void *data, size_t size,
                              dr_err *err)
{
    DR_UNUSED(self);
    DR_ASSERT(!s->user_closed); /* the handle is gone after close or abort */
    if (s->state == S_DEAD || s->has_pending || s->fd < 0)
        return dr_err_set(err, DR_ECLOSED, "stream %s %s: closed", direction(s), s->peer);
    if (s->wq.size >= DR_STREAM_WRITE_QUEUE_SIZE_MAX) {
        s->want_drain = true;
        return dr_err_set(err, DR_EAGAIN, "stream %s %s: %zu bytes already queued", direction(s),
                          s->peer, s->wq.size);
    }
    size_t sent = 0;
    if (s->state == S_OPEN && s->wq.size == 0) {
        while (sent < size) {
            ssize_t n = send(s->fd, (const uint8_t *)data + sent, size - sent, MSG_NOSIGNAL);
            if (n > 0) {
                sent += (size_t)n;
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            stream_fail_later(s, n < 0 ? errno : EIO);
            return DR_OK; /* accepted, then lost with the stream: closed tells why */
        }
    }
    if (sent < size)
        byteq_push(&s->wq, (const uint8_t *)data + sent, size - sent);
    if (s->wq.size > DR_STREAM_WRITE_LOW_WATER_SIZE)
        s->want_drain = true;
    stream_update_events(s);
    return DR_OK;
}

size_t dr__real_stream_queued(void *self, dr_stream *s)
{
    DR_UNUSED(self);
    return s->wq.size;
}

void dr__real_stream_pause(void *self, dr_stream *s, bool paused)
{
    DR_UNUSED(self);
    DR_ASSERT(!s->user_closed);
    s->paused = paused;
    stream_update_events(s);
}

void dr__real_stream_close(void *self, dr_stream *s)
{
    DR_UNUSED(self);
    DR_ASSERT(!s->user_closed);
    DR_ASSERT(!s->freed);
    stream_hold(s);
    s->user_closed = true;
    s->cbs = NULL;
    s->ctx = NULL;
    s->has_pending = false;
    event_del(s->ev_defer);
    if (s->fd < 0 || (s->state == S_CONNECTING && s->wq.size == 0)) {
        stream_kill(s);
    } else if (s->state != S_CONNECTING) {
        /* Connecting with data queued: the connect timeout stays armed and
         * stream_connect_done arms the flush timeout. */
        arm_timer(s, CLOSE_FLUSH_TIMEOUT_NS);
        if (s->wq.size == 0)
            stream_finish_close(s);
        stream_update_events(s);
    }
    stream_release(s);
}

void dr__real_stream_abort(void *self, dr_stream *s)
{
    DR_UNUSED(self);
    DR_ASSERT(!s->user_closed);
    DR_ASSERT(!s->freed);
    s->user_closed = true;
    s->cbs = NULL;
    s->ctx = NULL;
    if (s->fd >= 0) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0}; /* close sends RST */
        (void)setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg); /* best effort */
    }
    stream_kill(s);
}

void dr__real_stream_peer(void *self, dr_stream *s, char *out, size_t out_size)
{
    DR_UNUSED(self);
    dr_strlcpy(out, s->peer, out_size);
}

/* ---- listeners ------------------------------------------------------------------ */

dr_code dr__real_listen(void *self, const char *host, uint16_t port, dr_accept_fn *fn, void *ctx,
                        dr_listener **out, dr_err *err)
{
    dr__real *r = self;
    DR_ASSERT(fn != NULL);
    if (host == NULL)
        host = "0.0.0.0";
    dr_code rc = check_host("listen", host, err);
    if (rc != DR_OK)
        return rc;
    char name[PEER_SIZE];
    format_peer(name, sizeof name, host, port);
    char what[PEER_SIZE + 16];
    snprintf(what, sizeof what, "listen '%s'", name);
    struct sockaddr_storage addr;
    socklen_t addr_size = 0;
    rc = lookup(what, host, port, true, &addr, &addr_size, err);
    if (rc != DR_OK)
        return rc;

    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return dr__real_sys_fail(err, errno, "listen", name);
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
        rc = dr__real_sys_fail(err, errno, "listen", name);
        goto fail_close;
    }
    if (bind(fd, (const struct sockaddr *)&addr, addr_size) != 0) {
        int e = errno;
        rc = e == EADDRNOTAVAIL
                 ? dr_err_set(err, DR_EINVAL, "listen '%s': %s", name, strerror(e))
                 : dr__real_sys_fail(err, e, "listen", name);
        goto fail_close;
    }
    if (listen(fd, SOMAXCONN) != 0) {
        rc = dr__real_sys_fail(err, errno, "listen", name);
        goto fail_close;
    }
    struct sockaddr_storage bound;
    socklen_t bound_size = sizeof bound;
    if (getsockname(fd, (struct sockaddr *)&bound, &bound_size) != 0) {
        rc = dr__real_sys_fail(err, errno, "listen", name);
        goto fail_close;
    }

    dr_listener *l = dr_alloc(sizeof *l);
    l->r = r;
    l->fd = fd;
    l->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                               : ((struct sockaddr_in6 *)&bound)->sin6_port);
    format_peer(l->name, sizeof l->name, host, l->port);
    l->fn = fn;
    l->ctx = ctx;
    l->ev = event_new(r->base, fd, EV_READ | EV_PERSIST, listener_accept_fire, l);
    l->ev_retry = evtimer_new(r->base, listener_retry_fire, l);
    DR_ASSERT(l->ev != NULL && l->ev_retry != NULL);
    int add_rc = event_add(l->ev, NULL);
    DR_ASSERT(add_rc == 0);
    l->prev = r->listener_tail;
    if (r->listener_tail != NULL)
        r->listener_tail->next = l;
    else
        r->listener_head = l;
    r->listener_tail = l;
    *out = l;
    return DR_OK;

fail_close:
    close(fd);
    return rc;
}

uint16_t dr__real_listener_port(void *self, dr_listener *l)
{
    DR_UNUSED(self);
    return l->port;
}

static void listener_free(dr_listener *l)
{
    DR_ASSERT(l->busy == 0);
    dr__real *r = l->r;
    if (l->prev != NULL)
        l->prev->next = l->next;
    else
        r->listener_head = l->next;
    if (l->next != NULL)
        l->next->prev = l->prev;
    else
        r->listener_tail = l->prev;
    event_free(l->ev);
    event_free(l->ev_retry);
    dr_free(l);
}

void dr__real_listener_close(void *self, dr_listener *l)
{
    DR_UNUSED(self);
    if (l == NULL)
        return;
    DR_ASSERT(!l->freed);
    l->freed = true;
    event_del(l->ev);
    event_del(l->ev_retry);
    close(l->fd);
    l->fd = -1;
    if (l->busy == 0)
        listener_free(l);
}

static void listener_accept_fire(evutil_socket_t fd, short what, void *arg)
{
    DR_UNUSED(fd);
    DR_UNUSED(what);
    dr_listener *l = arg;
    dr__real *r = l->r;
    l->busy++;
    for (int i = 0; i < ACCEPTS_PER_WAKEUP && !l->freed; i++) {
        struct sockaddr_storage ss;
        socklen_t ss_size = sizeof ss;
        int conn = accept4(l->fd, (struct sockaddr *)&ss, &ss_size, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (conn < 0) {
            int e = errno;
            if (e == EINTR || e == ECONNABORTED)
                continue;
            if (e == EAGAIN || e == EWOULDBLOCK)
                break;
            /* Out of descriptors or memory: pause accepting, or the level-
             * triggered event would spin. */
            dr_log(&r->env, DR_LOG_WARN, "listener %s: accept: %s; retrying in %llu ms", l->name,
                   strerror(e), (unsigned long long)(ACCEPT_RETRY_NS / DR_NS_PER_MS));
            event_del(l->ev);
            struct timeval tv = dr__real_timeval(ACCEPT_RETRY_NS);
            evtimer_add(l->ev_retry, &tv);
            break;
        }
        set_nodelay(conn);
        char peer[PEER_SIZE];
        format_sockaddr(peer, sizeof peer, &ss);
        dr_stream *s = stream_new(r, conn, false, peer);
        stream_hold(s);
        l->fn(&r->env, l, s, l->ctx);
        /* env.h: the acceptor sets callbacks before returning, or closes. */
        DR_ASSERT(s->cbs != NULL || s->user_closed);
        stream_update_events(s);
        stream_release(s);
    }
    l->busy--;
    if (l->busy == 0 && l->freed)
        listener_free(l);
}

static void listener_retry_fire(evutil_socket_t fd, short what, void *arg)
{
    DR_UNUSED(fd);
    DR_UNUSED(what);
    dr_listener *l = arg;
    if (!l->freed)
        event_add(l->ev, NULL);
}

/* ---- teardown -------------------------------------------------------------------- */

void dr__real_net_destroy_all(dr__real *r)
{
    while (r->stream_head != NULL) {
        dr_stream *s = r->stream_head;
        DR_ASSERT(s->busy == 0);
        stream_drop_socket(s);
        s->freed = true;
        stream_free(s);
    }
    while (r->listener_head != NULL) {
        dr_listener *l = r->listener_head;
        if (!l->freed)
            dr__real_listener_close(r, l);
        else
            listener_free(l);
    }
}
