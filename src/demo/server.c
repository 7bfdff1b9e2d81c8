/* src/demo/server.c — a counter replica: log recovery, group commit, leader
 * replication and client requests (design and formats in counter.h).
 *
 * It owns its log file, its listener, the inbound streams (clients and, on
 * the leader, followers) and, on a follower, the stream up to the leader.
 * Everything it does goes through the env, so it runs unchanged on the real
 * env and in the simulator. Inbound streams live in an array in accept order;
 * every loop that sends or decides walks that array or the replica ids.
 */
#include <stdio.h>
#include <string.h>

#include "counter_int.h"

#define TICK_NS (500 * DR_NS_PER_MS)
#define LEADER_SILENCE_NS (2 * DR_NS_PER_S)  /* follower: reconnect after this quiet */
#define CONN_IDLE_NS (10 * DR_NS_PER_S)      /* leader: drop inbound streams this quiet */
#define READ_CHUNK_COUNT 2048u               /* records per pread at recovery */

typedef enum conn_kind { CONN_NEW = 0, CONN_CLIENT, CONN_FOLLOWER } conn_kind;

typedef struct conn {
    dr_counter_server *server; /* keeps */
    dr_stream *stream;         /* NULL once dead */
    dr_buf in;                 /* bytes not yet framed */
    conn_kind kind;
    uint32_t follower_id;
    uint64_t last_rx_ns;
} conn;

typedef struct follower {
    conn *conn;        /* NULL while it is not connected */
    uint64_t acked;    /* durable length it reported (never more than we sent) */
    uint64_t sent;     /* records sent on the current stream */
} follower;

typedef struct waiter {
    conn *conn;
    uint64_t seq;
    uint64_t index;
} waiter;

typedef struct client_entry {
    uint64_t client_id;
    uint64_t seq;   /* last INC seq in the log */
    uint64_t index; /* its record */
} client_entry;

struct dr_counter_server {
    dr_env *env;
    uint32_t id;
    uint32_t replica_count;
    char peer_addr[DR_COUNTER_REPLICA_COUNT_MAX][DR_COUNTER_ADDR_SIZE_MAX];
    char leader_host[DR_COUNTER_ADDR_SIZE_MAX];
    uint16_t leader_port;
    uint64_t flush_delay_ns;

    /* the log */
    dr_file *log;
    dr_counter_record *records; /* records[i] is index i+1 */
    uint64_t *prefix;           /* prefix[i]: sum of the first i records */
    uint64_t capacity;          /* of records; prefix has one more */
    uint64_t length;            /* records written */
    uint64_t synced_length;     /* records fsynced */
    uint64_t durable_length;    /* records counted as durable (== synced unless planted) */
    uint64_t recovered_length;
    uint64_t commit_length;
    bool failed;
    bool serving;
    dr_timer_id flush_timer;
    dr_timer_id tick_timer;
    dr_timer_id reap_timer;

    /* inbound */
    dr_listener *listener;
    uint16_t port;
    conn **conns;
    size_t conn_count;
    conn **dead;
    size_t dead_count;
    follower followers[DR_COUNTER_REPLICA_COUNT_MAX];
    waiter *waiters;
    size_t waiter_count;
    client_entry *clients;
    size_t client_count;

    /* follower: the stream up to the leader */
    dr_stream *up;
    dr_buf up_in;
    bool up_connected;
    uint64_t up_last_rx_ns;
    uint32_t up_attempt;
    dr_timer_id up_timer;
    dr_rng rng;
};

static dr_code recover(dr_counter_server *s, const char *data_dir, dr_err *err);
static void server_fail(dr_counter_server *s, const dr_err *why);
static void accept_fire(dr_env *env, dr_listener *l, dr_stream *stream, void *ctx);
static void tick_fire(dr_env *env, void *ctx);
static void up_connect(dr_counter_server *s);
static void update_commit(dr_counter_server *s);
static void release_all(dr_counter_server *s, bool graceful);

/* ---- public ---------------------------------------------------------------- */

dr_code dr_counter_server_create(dr_env *env, const dr_counter_server_opts *opts,
                                 dr_counter_server **out, dr_err *err)
{
    if (opts->replica_count < 1 || opts->replica_count > DR_COUNTER_REPLICA_COUNT_MAX)
        return dr_err_set(err, DR_EINVAL, "counter: replica count %u is not 1-%u",
                          opts->replica_count, DR_COUNTER_REPLICA_COUNT_MAX);
    if (opts->id >= opts->replica_count)
        return dr_err_set(err, DR_EINVAL, "counter: id %u is not below the replica count %u",
                          opts->id, opts->replica_count);
    dr_counter_server *s = dr_alloc(sizeof *s);
    s->env = env;
    s->id = opts->id;
    s->replica_count = opts->replica_count;
    s->flush_delay_ns = opts->flush_delay_ns != 0 ? opts->flush_delay_ns : DR_NS_PER_MS;
    dr_buf_init(&s->up_in);
    dr_env_rng(env, "counter-backoff", &s->rng);
    uint16_t own_port = 0;
    for (uint32_t i = 0; i < opts->replica_count; i++) {
        char host[DR_COUNTER_ADDR_SIZE_MAX];
        uint16_t port = 0;
        dr_code rc = dr_counter_parse_addr(opts->peers[i], host, sizeof host, &port, err);
        if (rc != DR_OK) {
            dr_err_wrap(err, "counter: peer %u", i);
            goto fail;
        }
        dr_strlcpy(s->peer_addr[i], opts->peers[i], sizeof s->peer_addr[i]);
        if (i == 0) {
            dr_strlcpy(s->leader_host, host, sizeof s->leader_host);
            s->leader_port = port;
        }
        if (i == opts->id)
            own_port = port;
    }
    s->waiters = dr_alloc_array(DR_COUNTER_WAITER_COUNT_MAX, sizeof *s->waiters);
    s->conns = dr_alloc_array(DR_COUNTER_CONN_COUNT_MAX, sizeof *s->conns);
    s->dead = dr_alloc_array(DR_COUNTER_CONN_COUNT_MAX, sizeof *s->dead);
    s->clients = dr_alloc_array(DR_COUNTER_CLIENT_TABLE_COUNT_MAX, sizeof *s->clients);

    if (recover(s, opts->data_dir, err) != DR_OK)
        goto fail;

    uint16_t port = opts->listen_port != 0 ? opts->listen_port : own_port;
    const char *host = opts->listen_host != NULL ? opts->listen_host : "0.0.0.0";
    if (dr_env_listen(env, host, port, accept_fire, s, &s->listener, err) != DR_OK) {
        dr_err_wrap(err, "counter replica %u: listening on %s:%u", s->id, host, port);
        goto fail;
    }
    s->port = dr_env_listener_port(env, s->listener);
    DR_INFO(env, "counter replica %u/%u: listening on port %u, %llu records recovered", s->id,
            s->replica_count, s->port, (unsigned long long)s->length);
    update_commit(s); /* a lone replica serves at once */
    if (s->id != 0)
        up_connect(s);
    s->tick_timer = dr_env_timer_add(env, TICK_NS, tick_fire, s);
    *out = s;
    return DR_OK;

fail:
    if (s->log != NULL)
        dr_env_close(env, s->log);
    s->log = NULL;
    dr_counter_server_drop(s);
    return err != NULL ? err->code : DR_EINVAL;
}

void dr_counter_server_destroy(dr_counter_server *s)
{
    if (s == NULL)
        return;
    release_all(s, true);
    dr_counter_server_drop(s);
}

void dr_counter_server_drop(dr_counter_server *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->conn_count; i++) {
        dr_buf_deinit(&s->conns[i]->in);
        dr_free(s->conns[i]);
    }
    for (size_t i = 0; i < s->dead_count; i++) {
        dr_buf_deinit(&s->dead[i]->in);
        dr_free(s->dead[i]);
    }
    dr_buf_deinit(&s->up_in);
    dr_free(s->records);
    dr_free(s->prefix);
    dr_free(s->waiters);
    dr_free(s->conns);
    dr_free(s->dead);
    dr_free(s->clients);
    dr_free(s);
}

void dr_counter_server_get_info(const dr_counter_server *s, dr_counter_server_info *out)
{
    memset(out, 0, sizeof *out);
    out->failed = s->failed;
    out->serving = s->serving;
    out->length = s->length;
    out->synced_length = s->synced_length;
    out->durable_length = s->durable_length;
    out->commit_length = s->commit_length;
    out->log_value = s->prefix != NULL ? s->prefix[s->length] : 0;
    out->commit_value = s->prefix != NULL ? s->prefix[s->commit_length] : 0;
    out->port = s->port;
}

/* ---- the log ---------------------------------------------------------------- */

static void log_reserve(dr_counter_server *s, uint64_t count)
{
    if (count <= s->capacity)
        return;
    uint64_t cap = s->capacity < 64 ? 64 : s->capacity;
    while (cap < count)
        cap *= 2;
    s->records = dr_realloc(s->records, (size_t)cap * sizeof *s->records);
    s->prefix = dr_realloc(s->prefix, (size_t)(cap + 1) * sizeof *s->prefix);
    if (s->capacity == 0)
        s->prefix[0] = 0;
    s->capacity = cap;
}

/* Adds a record to memory (already written to the file by the caller). */
static void log_push(dr_counter_server *s, const dr_counter_record *rec)
{
    DR_ASSERT(rec->amount >= 1);
    DR_ASSERT(s->length < DR_COUNTER_LOG_RECORD_COUNT_MAX);
    log_reserve(s, s->length + 1);
    s->records[s->length] = *rec;
    s->prefix[s->length + 1] = s->prefix[s->length] + rec->amount;
    s->length++;
}

static client_entry *client_find(dr_counter_server *s, uint64_t client_id)
{
    for (size_t i = 0; i < s->client_count; i++)
        if (s->clients[i].client_id == client_id)
            return &s->clients[i];
    return NULL;
}

/* Remembers that client_id's INC seq is record index; evicts the entry with
 * the oldest record when the table is full (that client's retry of an old
 * request could then apply twice: the bound trades that for memory). */
static void client_note(dr_counter_server *s, uint64_t client_id, uint64_t seq, uint64_t index)
{
    client_entry *e = client_find(s, client_id);
    if (e == NULL) {
        if (s->client_count == DR_COUNTER_CLIENT_TABLE_COUNT_MAX) {
            size_t oldest = 0;
            for (size_t i = 1; i < s->client_count; i++)
                if (s->clients[i].index < s->clients[oldest].index)
                    oldest = i;
            memmove(&s->clients[oldest], &s->clients[oldest + 1],
                    (s->client_count - oldest - 1) * sizeof *s->clients);
            s->client_count--;
        }
        e = &s->clients[s->client_count++];
        e->client_id = client_id;
    }
    e->seq = seq;
    e->index = index;
}

/* fsyncs every prefix of path ("/a/b": "/", "/a", "/a/b"), so that a new
 * directory and the log's entry in it survive a host crash. */
static dr_code sync_dirs(dr_env *env, const char *path, dr_err *err)
{
    char buf[DR_PATH_SIZE_MAX];
    if (!dr_strlcpy(buf, path, sizeof buf))
        return dr_err_set(err, DR_ETOOBIG, "counter: data dir '%s' is too long", path);
    dr_code rc = dr_env_fsync_dir(env, path[0] == '/' ? "/" : ".", err);
    for (size_t i = 1; rc == DR_OK && buf[i - 1] != '\0'; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        rc = dr_env_fsync_dir(env, buf, err);
        buf[i] = saved;
    }
    return rc;
}

/* Reads the log, drops a torn tail, makes what remains durable. */
static dr_code recover(dr_counter_server *s, const char *data_dir, dr_err *err)
{
    dr_env *env = s->env;
    char path[DR_PATH_SIZE_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/counter.log", data_dir) >= sizeof path)
        return dr_err_set(err, DR_ETOOBIG, "counter: data dir '%s' is too long", data_dir);
    if (dr_env_mkdir_p(env, data_dir, err) != DR_OK)
        return dr_err_wrap(err, "counter: creating '%s'", data_dir);
    if (dr_env_open(env, path, DR_OPEN_READ | DR_OPEN_WRITE | DR_OPEN_CREATE, &s->log, err) !=
        DR_OK)
        return dr_err_wrap(err, "counter: opening '%s'", path);
    if (dr_env_lock(env, s->log, err) != DR_OK)
        return dr_err_wrap(err, "counter: '%s' is in use by another replica", path);
    uint64_t size = 0;
    if (dr_env_file_size(env, s->log, &size, err) != DR_OK)
        return dr_err_wrap(err, "counter: '%s'", path);
    uint64_t stored = size / DR_COUNTER_RECORD_SIZE;
    if (stored > DR_COUNTER_LOG_RECORD_COUNT_MAX)
        return dr_err_set(err, DR_ETOOBIG, "counter: '%s' holds %llu records, more than %u",
                          path, (unsigned long long)stored, DR_COUNTER_LOG_RECORD_COUNT_MAX);
    log_reserve(s, stored > 0 ? stored : 1);

    uint8_t *chunk = dr_alloc((size_t)READ_CHUNK_COUNT * DR_COUNTER_RECORD_SIZE);
    bool torn = false;
    dr_code rc = DR_OK;
    while (!torn && s->length < stored) {
        uint64_t want = DR_MIN(stored - s->length, (uint64_t)READ_CHUNK_COUNT);
        size_t got = 0;
        rc = dr_env_pread(env, s->log, s->length * DR_COUNTER_RECORD_SIZE, chunk,
                          (size_t)want * DR_COUNTER_RECORD_SIZE, &got, err);
        if (rc != DR_OK)
            break;
        uint64_t got_count = got / DR_COUNTER_RECORD_SIZE;
        if (got_count == 0)
            break; /* shorter than file_size said: treat the rest as torn */
        for (uint64_t i = 0; i < got_count; i++) {
            dr_counter_record rec;
            dr_err ignored;
            if (dr_counter_record_decode(chunk + i * DR_COUNTER_RECORD_SIZE, s->length + 1, &rec,
                                         &ignored) != DR_OK ||
                rec.amount == 0) {
                torn = true;
                break;
            }
            log_push(s, &rec);
            client_note(s, rec.client_id, rec.seq, s->length);
        }
    }
    dr_free(chunk);
    if (rc != DR_OK)
        return dr_err_wrap(err, "counter: reading '%s'", path);

    uint64_t keep_size = s->length * DR_COUNTER_RECORD_SIZE;
    if (keep_size != size) {
        DR_WARN(env, "counter replica %u: dropping a torn tail of %llu bytes after record %llu",
                s->id, (unsigned long long)(size - keep_size), (unsigned long long)s->length);
        if (dr_env_truncate(env, s->log, keep_size, err) != DR_OK)
            return dr_err_wrap(err, "counter: truncating '%s'", path);
    }
    /* What we read may have lived only in the page cache (a process crash
     * keeps it): make it durable before anyone is told about it. */
    if (dr_env_fsync(env, s->log, err) != DR_OK)
        return dr_err_wrap(err, "counter: syncing '%s'", path);
    if (sync_dirs(env, data_dir, err) != DR_OK)
        return dr_err_wrap(err, "counter: syncing the directories of '%s'", path);
    s->synced_length = s->length;
    s->durable_length = s->length;
    s->recovered_length = s->length;
    return DR_OK;
}

/* Writes rec as record length+1 (the page cache; durable after a flush). */
static dr_code log_write(dr_counter_server *s, const dr_counter_record *rec, dr_err *err)
{
    uint8_t bytes[DR_COUNTER_RECORD_SIZE];
    uint64_t index = s->length + 1;
    dr_counter_record_encode(rec, index, bytes);
    return dr_env_pwrite(s->env, s->log, s->length * DR_COUNTER_RECORD_SIZE, bytes, sizeof bytes,
                         err);
}

/* ---- sending ----------------------------------------------------------------- */

static void conn_kill(conn *c);

static void conn_send(conn *c, uint8_t type, const void *payload, size_t size)
{
    if (c->stream == NULL)
        return;
    dr_buf frame;
    dr_buf_init(&frame);
    dr_counter_frame_put(&frame, type, payload, size);
    dr_err err;
    dr_code rc = dr_env_stream_write(c->server->env, c->stream, frame.data, frame.size, &err);
    dr_buf_deinit(&frame);
    if (rc != DR_OK)
        conn_kill(c); /* a peer that does not read loses its stream */
}

static void send_seq_value(conn *c, uint8_t type, uint64_t seq, uint64_t value)
{
    uint8_t p[16];
    dr__counter_put_u64(p, seq);
    dr__counter_put_u64(p + 8, value);
    conn_send(c, type, p, sizeof p);
}

static void send_seq(conn *c, uint8_t type, uint64_t seq)
{
    uint8_t p[8];
    dr__counter_put_u64(p, seq);
    conn_send(c, type, p, sizeof p);
}

static void send_redirect(conn *c, uint64_t seq)
{
    dr_counter_server *s = c->server;
    uint8_t p[8 + DR_COUNTER_ADDR_SIZE_MAX];
    dr__counter_put_u64(p, seq);
    size_t n = strlen(s->peer_addr[0]);
    memcpy(p + 8, s->peer_addr[0], n);
    conn_send(c, DR_COUNTER_MSG_REDIRECT, p, 8 + n);
}

/* Sends durable records the follower lacks, keeping at most a window in flight. */
static void follower_feed(dr_counter_server *s, uint32_t id, bool heartbeat)
{
    follower *f = &s->followers[id];
    if (f->conn == NULL)
        return;
    uint8_t *p = dr_alloc(12 + (size_t)DR_COUNTER_APPEND_BATCH_COUNT_MAX * DR_COUNTER_RECORD_SIZE);
    bool sent_any = false;
    while (f->conn != NULL && f->sent < s->durable_length &&
           f->sent - f->acked < DR_COUNTER_FOLLOWER_WINDOW_COUNT) {
        uint64_t count = DR_MIN(s->durable_length - f->sent,
                                (uint64_t)DR_COUNTER_APPEND_BATCH_COUNT_MAX);
        count = DR_MIN(count, DR_COUNTER_FOLLOWER_WINDOW_COUNT - (f->sent - f->acked));
        dr__counter_put_u64(p, f->sent + 1);
        dr__counter_put_u32(p + 8, (uint32_t)count);
        for (uint64_t i = 0; i < count; i++)
            dr_counter_record_encode(&s->records[f->sent + i], f->sent + i + 1,
                                     p + 12 + i * DR_COUNTER_RECORD_SIZE);
        f->sent += count;
        conn_send(f->conn, DR_COUNTER_MSG_APPEND, p, 12 + (size_t)count * DR_COUNTER_RECORD_SIZE);
        sent_any = true;
    }
    if (heartbeat && !sent_any && f->conn != NULL) {
        dr__counter_put_u64(p, f->sent + 1);
        dr__counter_put_u32(p + 8, 0);
        conn_send(f->conn, DR_COUNTER_MSG_APPEND, p, 12);
    }
    dr_free(p);
}

static void feed_all(dr_counter_server *s)
{
    for (uint32_t id = 1; id < s->replica_count; id++)
        follower_feed(s, id, false);
}

/* ---- commit ------------------------------------------------------------------- */

/* commit = the largest length durable on a majority; it never goes back. A
 * restarted leader serves once its whole recovered log is committed, so every
 * value it ever reported (all within its durable log) is covered. */
static void update_commit(dr_counter_server *s)
{
    if (s->id != 0 || s->failed)
        return;
    uint64_t lengths[DR_COUNTER_REPLICA_COUNT_MAX];
    lengths[0] = s->durable_length;
    for (uint32_t i = 1; i < s->replica_count; i++)
        lengths[i] = DR_MIN(s->followers[i].acked, s->durable_length);
    /* insertion sort, descending: at most 7 entries */
    for (uint32_t i = 1; i < s->replica_count; i++)
        for (uint32_t j = i; j > 0 && lengths[j] > lengths[j - 1]; j--) {
            uint64_t t = lengths[j];
            lengths[j] = lengths[j - 1];
            lengths[j - 1] = t;
        }
    uint64_t majority = lengths[s->replica_count / 2];
    if (majority > s->commit_length)
        s->commit_length = majority;
    DR_ASSERT(s->commit_length <= s->durable_length);
    DR_ASSERT(s->durable_length <= s->length);
    if (!s->serving && s->commit_length >= s->recovered_length) {
        s->serving = true;
        DR_INFO(s->env, "counter leader: serving, value %llu at %llu records",
                (unsigned long long)s->prefix[s->commit_length],
                (unsigned long long)s->commit_length);
    }
    /* Answer the clients whose increments are now committed. Take them out
     * of the table first: a failed send kills its stream, which edits the
     * table (a killed conn's memory lives until the next reap). */
    size_t ready_count = 0;
    for (size_t i = 0; i < s->waiter_count; i++)
        if (s->waiters[i].index <= s->commit_length)
            ready_count++;
    if (ready_count == 0)
        return;
    waiter *ready = dr_alloc_array(ready_count, sizeof *ready);
    size_t kept = 0, taken = 0;
    for (size_t i = 0; i < s->waiter_count; i++) {
        if (s->waiters[i].index <= s->commit_length)
            ready[taken++] = s->waiters[i];
        else
            s->waiters[kept++] = s->waiters[i];
    }
    s->waiter_count = kept;
    for (size_t i = 0; i < taken; i++)
        send_seq_value(ready[i].conn, DR_COUNTER_MSG_ACK, ready[i].seq,
                       s->prefix[s->commit_length]);
    dr_free(ready);
}

/* ---- group commit ------------------------------------------------------------ */

static void flush_fire(dr_env *env, void *ctx)
{
    dr_counter_server *s = ctx;
    DR_ASSERT(s->flush_timer != 0);
    s->flush_timer = 0;
    if (s->failed || s->synced_length == s->length)
        return;
    dr_err err;
    if (dr_env_fsync(env, s->log, &err) != DR_OK) {
        server_fail(s, &err);
        return;
    }
    DR_ASSERT(s->synced_length <= s->length);
    s->synced_length = s->length;
#if !defined(DR_PLANTED_ACK_BEFORE_FSYNC)
    s->durable_length = s->length;
    if (s->id == 0) {
        feed_all(s);
        update_commit(s);
    } else if (s->up_connected) {
        uint8_t p[8];
        dr__counter_put_u64(p, s->durable_length);
        dr_buf frame;
        dr_buf_init(&frame);
        dr_counter_frame_put(&frame, DR_COUNTER_MSG_ACKED, p, sizeof p);
        (void)dr_env_stream_write(env, s->up, frame.data, frame.size, &err); /* a dead
            stream reports itself through closed */
        dr_buf_deinit(&frame);
    }
#endif
}

/* A record was written (page cache): schedule its fsync. */
static void written(dr_counter_server *s)
{
#if defined(DR_PLANTED_ACK_BEFORE_FSYNC)
    /* PLANTED BUG: counts the record as durable before its fsync. */
    s->durable_length = s->length;
#endif
    if (s->flush_timer == 0)
        s->flush_timer = dr_env_timer_add(s->env, s->flush_delay_ns, flush_fire, s);
}

/* ---- client requests (leader) -------------------------------------------- */

static void on_inc(conn *c, uint64_t client_id, uint64_t seq, uint64_t amount)
{
    dr_counter_server *s = c->server;
    if (s->id != 0) {
        send_redirect(c, seq);
        return;
    }
    if (!s->serving || s->waiter_count == DR_COUNTER_WAITER_COUNT_MAX ||
        s->length == DR_COUNTER_LOG_RECORD_COUNT_MAX) {
        send_seq(c, DR_COUNTER_MSG_UNAVAILABLE, seq);
        return;
    }
    client_entry *e = client_find(s, client_id);
    if (e != NULL && seq <= e->seq) {
        /* a retry: the increment is in the log already */
        if (seq < e->seq || e->index <= s->commit_length)
            send_seq_value(c, DR_COUNTER_MSG_ACK, seq, s->prefix[s->commit_length]);
        else
            s->waiters[s->waiter_count++] = (waiter){c, seq, e->index};
        return;
    }
    dr_counter_record rec = {client_id, seq, amount};
    dr_err err;
    if (log_write(s, &rec, &err) != DR_OK) {
        server_fail(s, &err);
        return;
    }
    log_push(s, &rec);
    client_note(s, client_id, seq, s->length);
    s->waiters[s->waiter_count++] = (waiter){c, seq, s->length};
    written(s);
#if defined(DR_PLANTED_ACK_BEFORE_FSYNC)
    feed_all(s);
    update_commit(s);
#endif
}

static void on_get(conn *c, uint64_t seq, bool local)
{
    dr_counter_server *s = c->server;
    if (local) {
        send_seq_value(c, DR_COUNTER_MSG_VALUE, seq, s->prefix[s->durable_length]);
        return;
    }
    if (s->id != 0) {
        send_redirect(c, seq);
        return;
    }
    if (!s->serving) {
        send_seq(c, DR_COUNTER_MSG_UNAVAILABLE, seq);
        return;
    }
    send_seq_value(c, DR_COUNTER_MSG_VALUE, seq, s->prefix[s->commit_length]);
}

/* ---- follower messages (leader) ------------------------------------------- */

static dr_code on_hello(conn *c, uint32_t id, uint64_t length, dr_err *err)
{
    dr_counter_server *s = c->server;
    if (s->id != 0)
        return dr_err_set(err, DR_EPROTO, "HELLO from replica %u: replica %u is no leader", id,
                          s->id);
    if (id == 0 || id >= s->replica_count)
        return dr_err_set(err, DR_EPROTO, "HELLO: replica id %u is not 1-%u", id,
                          s->replica_count - 1);
    if (c->kind != CONN_NEW)
        return dr_err_set(err, DR_EPROTO, "HELLO from replica %u: stream already in use", id);
    follower *f = &s->followers[id];
    if (f->conn != NULL)
        conn_kill(f->conn); /* a stale stream from the same replica */
    c->kind = CONN_FOLLOWER;
    c->follower_id = id;
    f->conn = c;
    /* Its durable log is a prefix of ours (we send only durable records, and
     * ours are never lost); clamp anyway: the input is not ours to trust. */
    f->acked = DR_MIN(length, s->durable_length);
    f->sent = f->acked;
    follower_feed(s, id, false);
    update_commit(s);
    return DR_OK;
}

static void on_acked(conn *c, uint64_t length)
{
    dr_counter_server *s = c->server;
    follower *f = &s->followers[c->follower_id];
    DR_ASSERT(f->conn == c);
    uint64_t len = DR_MIN(length, f->sent);
    if (len > f->acked)
        f->acked = len;
    DR_ASSERT(f->acked <= f->sent);
    DR_ASSERT(f->sent <= s->durable_length);
    update_commit(s);
    follower_feed(s, c->follower_id, false);
}

/* ---- inbound streams --------------------------------------------------------- */

static dr_code handle_frame(conn *c, uint8_t type, const uint8_t *p, size_t n, dr_err *err)
{
    switch (type) {
    case DR_COUNTER_MSG_INC:
        if (n != 24 || c->kind == CONN_FOLLOWER)
            break;
        if (dr__counter_get_u64(p + 16) == 0)
            return dr_err_set(err, DR_EPROTO, "INC: amount 0");
        c->kind = CONN_CLIENT;
        on_inc(c, dr__counter_get_u64(p), dr__counter_get_u64(p + 8), dr__counter_get_u64(p + 16));
        return DR_OK;
    case DR_COUNTER_MSG_GET:
        if (n != 17 || c->kind == CONN_FOLLOWER)
            break;
        c->kind = CONN_CLIENT;
        on_get(c, dr__counter_get_u64(p + 8), p[16] != 0);
        return DR_OK;
    case DR_COUNTER_MSG_HELLO:
        if (n != 12)
            break;
        return on_hello(c, dr__counter_get_u32(p), dr__counter_get_u64(p + 4), err);
    case DR_COUNTER_MSG_ACKED:
        if (n != 8 || c->kind != CONN_FOLLOWER)
            break;
        on_acked(c, dr__counter_get_u64(p));
        return DR_OK;
    default:
        return dr_err_set(err, DR_EPROTO, "unexpected message type %u", type);
    }
    return dr_err_set(err, DR_EPROTO, "message type %u: bad size %zu or wrong stream", type, n);
}

static void conn_data(dr_env *env, dr_stream *stream, const uint8_t *data, size_t size, void *ctx)
{
    DR_UNUSED(stream);
    conn *c = ctx;
    dr_counter_server *s = c->server;
    if (s->failed || c->stream == NULL)
        return;
    c->last_rx_ns = dr_env_now(env);
    dr_buf_append(&c->in, data, size);
    size_t used = 0;
    while (c->stream != NULL) {
        size_t frame_size = 0, payload_size = 0;
        uint8_t type = 0;
        const uint8_t *payload = NULL;
        dr_err err;
        dr_code rc = dr_counter_frame_get(c->in.data + used, c->in.size - used, &frame_size, &type,
                                          &payload, &payload_size, &err);
        if (rc == DR_EAGAIN)
            break;
        if (rc == DR_OK)
            rc = handle_frame(c, type, payload, payload_size, &err);
        if (rc != DR_OK) {
            char peer[DR_COUNTER_ADDR_SIZE_MAX];
            dr_env_stream_peer(env, c->stream, peer, sizeof peer);
            DR_WARN(env, "counter replica %u: dropping %s: %s", s->id, peer, err.msg);
            conn_kill(c);
            break;
        }
        used += frame_size;
    }
    if (c->stream != NULL)
        dr_buf_consume(&c->in, used);
}

static void conn_closed(dr_env *env, dr_stream *stream, const dr_err *why, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(stream);
    DR_UNUSED(why);
    conn_kill(ctx);
}

static const dr_stream_cbs conn_cbs = {
    .data = conn_data,
    .closed = conn_closed,
};

static void reap_fire(dr_env *env, void *ctx)
{
    DR_UNUSED(env);
    dr_counter_server *s = ctx;
    s->reap_timer = 0;
    for (size_t i = 0; i < s->dead_count; i++) {
        dr_buf_deinit(&s->dead[i]->in);
        dr_free(s->dead[i]);
    }
    s->dead_count = 0;
}

/* Ends a stream (abort: it is dead or misbehaving) and detaches it from the
 * follower table and the waiters; its memory goes at the next reap, as we may
 * be inside one of its callbacks. */
static void conn_kill(conn *c)
{
    dr_counter_server *s = c->server;
    if (c->stream == NULL)
        return;
    dr_env_stream_abort(s->env, c->stream);
    c->stream = NULL;
    if (c->kind == CONN_FOLLOWER && s->followers[c->follower_id].conn == c)
        s->followers[c->follower_id].conn = NULL;
    size_t kept = 0;
    for (size_t i = 0; i < s->waiter_count; i++)
        if (s->waiters[i].conn != c)
            s->waiters[kept++] = s->waiters[i];
    s->waiter_count = kept;
    size_t at = 0;
    while (at < s->conn_count && s->conns[at] != c)
        at++;
    DR_ASSERT(at < s->conn_count);
    memmove(&s->conns[at], &s->conns[at + 1], (s->conn_count - at - 1) * sizeof *s->conns);
    s->conn_count--;
    DR_ASSERT(s->dead_count < DR_COUNTER_CONN_COUNT_MAX);
    s->dead[s->dead_count++] = c;
    if (s->reap_timer == 0)
        s->reap_timer = dr_env_timer_add(s->env, 0, reap_fire, s);
}

static void accept_fire(dr_env *env, dr_listener *l, dr_stream *stream, void *ctx)
{
    DR_UNUSED(l);
    dr_counter_server *s = ctx;
    if (s->failed || s->conn_count + s->dead_count >= DR_COUNTER_CONN_COUNT_MAX) {
        dr_env_stream_set_cbs(env, stream, &conn_cbs, NULL);
        dr_env_stream_abort(env, stream);
        return;
    }
    conn *c = dr_alloc(sizeof *c);
    c->server = s;
    c->stream = stream;
    c->last_rx_ns = dr_env_now(env);
    dr_buf_init(&c->in);
    s->conns[s->conn_count++] = c;
    dr_env_stream_set_cbs(env, stream, &conn_cbs, c);
}

/* ---- the stream up to the leader (followers) ------------------------------------ */

static void up_reconnect_fire(dr_env *env, void *ctx)
{
    DR_UNUSED(env);
    dr_counter_server *s = ctx;
    s->up_timer = 0;
    if (!s->failed)
        up_connect(s);
}

/* Drops the stream (closed: the env already ended it) and retries later. */
static void up_reset(dr_counter_server *s, bool closed)
{
    if (s->up != NULL) {
        if (closed)
            dr_env_stream_close(s->env, s->up);
        else
            dr_env_stream_abort(s->env, s->up);
    }
    s->up = NULL;
    s->up_connected = false;
    dr_buf_reset(&s->up_in);
    if (s->failed || s->up_timer != 0)
        return;
    uint64_t delay_ns = dr__counter_backoff_ns(&s->rng, s->up_attempt);
    s->up_attempt++;
    s->up_timer = dr_env_timer_add(s->env, delay_ns, up_reconnect_fire, s);
}

static void up_send(dr_counter_server *s, uint8_t type, const void *p, size_t n)
{
    dr_buf frame;
    dr_buf_init(&frame);
    dr_counter_frame_put(&frame, type, p, n);
    dr_err err;
    dr_code rc = dr_env_stream_write(s->env, s->up, frame.data, frame.size, &err);
    dr_buf_deinit(&frame);
    if (rc != DR_OK)
        up_reset(s, false);
}

static void up_connected(dr_env *env, dr_stream *stream, void *ctx)
{
    DR_UNUSED(stream);
    dr_counter_server *s = ctx;
    s->up_connected = true;
    s->up_attempt = 0;
    s->up_last_rx_ns = dr_env_now(env);
    uint8_t p[12];
    dr__counter_put_u32(p, s->id);
    dr__counter_put_u64(p + 4, s->durable_length);
    up_send(s, DR_COUNTER_MSG_HELLO, p, sizeof p);
}

/* APPEND: first_index u64, count u32, count records. */
static dr_code on_append(dr_counter_server *s, const uint8_t *p, size_t n, dr_err *err)
{
    if (n < 12)
        return dr_err_set(err, DR_EPROTO, "APPEND of %zu bytes", n);
    uint64_t first = dr__counter_get_u64(p);
    uint32_t count = dr__counter_get_u32(p + 8);
    if (count > DR_COUNTER_APPEND_BATCH_COUNT_MAX ||
        n != 12 + (size_t)count * DR_COUNTER_RECORD_SIZE)
        return dr_err_set(err, DR_EPROTO, "APPEND of %u records in %zu bytes", count, n);
    if (first == 0 || first > s->length + 1)
        return dr_err_set(err, DR_EPROTO, "APPEND from record %llu: we hold only %llu",
                          (unsigned long long)first, (unsigned long long)s->length);
    bool wrote = false;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t index = first + i;
        if (index <= s->length)
            continue; /* sent again after a reconnect */
        if (s->length == DR_COUNTER_LOG_RECORD_COUNT_MAX)
            return dr_err_set(err, DR_ETOOBIG, "APPEND beyond %u records",
                              DR_COUNTER_LOG_RECORD_COUNT_MAX);
        dr_counter_record rec;
        if (dr_counter_record_decode(p + 12 + (size_t)i * DR_COUNTER_RECORD_SIZE, index, &rec,
                                     err) != DR_OK)
            return DR_EPROTO;
        if (rec.amount == 0)
            return dr_err_set(err, DR_EPROTO, "APPEND: record %llu adds 0",
                              (unsigned long long)index);
        dr_err werr;
        if (log_write(s, &rec, &werr) != DR_OK) {
            server_fail(s, &werr);
            return DR_OK;
        }
        log_push(s, &rec);
        wrote = true;
    }
    if (wrote)
        written(s);
#if defined(DR_PLANTED_ACK_BEFORE_FSYNC)
    uint8_t ack[8];
    dr__counter_put_u64(ack, s->durable_length);
    up_send(s, DR_COUNTER_MSG_ACKED, ack, sizeof ack);
#else
    if (!wrote) { /* a heartbeat: report where we stand */
        uint8_t ack[8];
        dr__counter_put_u64(ack, s->durable_length);
        up_send(s, DR_COUNTER_MSG_ACKED, ack, sizeof ack);
    }
#endif
    return DR_OK;
}

static void up_data(dr_env *env, dr_stream *stream, const uint8_t *data, size_t size, void *ctx)
{
    DR_UNUSED(stream);
    dr_counter_server *s = ctx;
    if (s->failed || s->up == NULL)
        return;
    s->up_last_rx_ns = dr_env_now(env);
    dr_buf_append(&s->up_in, data, size);
    size_t used = 0;
    while (s->up != NULL && !s->failed) {
        size_t frame_size = 0, payload_size = 0;
        uint8_t type = 0;
        const uint8_t *payload = NULL;
        dr_err err;
        dr_code rc = dr_counter_frame_get(s->up_in.data + used, s->up_in.size - used, &frame_size,
                                          &type, &payload, &payload_size, &err);
        if (rc == DR_EAGAIN)
            break;
        if (rc == DR_OK && type != DR_COUNTER_MSG_APPEND)
            rc = dr_err_set(&err, DR_EPROTO, "unexpected message type %u from the leader", type);
        if (rc == DR_OK)
            rc = on_append(s, payload, payload_size, &err);
        if (rc != DR_OK) {
            DR_WARN(env, "counter replica %u: leader stream: %s", s->id, err.msg);
            up_reset(s, false);
            return;
        }
        used += frame_size;
    }
    if (s->up != NULL)
        dr_buf_consume(&s->up_in, used);
}

static void up_closed(dr_env *env, dr_stream *stream, const dr_err *why, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(stream);
    DR_UNUSED(why);
    up_reset(ctx, true);
}

static const dr_stream_cbs up_cbs = {
    .connected = up_connected,
    .data = up_data,
    .closed = up_closed,
};

static void up_connect(dr_counter_server *s)
{
    DR_ASSERT(s->up == NULL);
    dr_err err;
    if (dr_env_connect(s->env, s->leader_host, s->leader_port, &up_cbs, s, &s->up, &err) !=
        DR_OK) {
        s->up = NULL;
        up_reset(s, false);
    }
}

/* ---- ticks, failure, shutdown ------------------------------------------------------ */

static void tick_fire(dr_env *env, void *ctx)
{
    dr_counter_server *s = ctx;
    s->tick_timer = 0;
    if (s->failed)
        return;
    uint64_t now_ns = dr_env_now(env);
    if (s->id == 0) {
        for (uint32_t id = 1; id < s->replica_count; id++)
            follower_feed(s, id, true);
        /* drop inbound streams gone quiet (their peer may be partitioned away) */
        for (size_t i = 0; i < s->conn_count;) {
            conn *c = s->conns[i];
            if (now_ns - c->last_rx_ns > CONN_IDLE_NS) {
                conn_kill(c); /* removes it from conns */
                continue;
            }
            i++;
        }
    } else if (s->up_connected && now_ns - s->up_last_rx_ns > LEADER_SILENCE_NS) {
        DR_INFO(env, "counter replica %u: leader silent, reconnecting", s->id);
        up_reset(s, false);
    }
    s->tick_timer = dr_env_timer_add(env, TICK_NS, tick_fire, s);
}

/* Closes everything this server holds in the env. */
static void release_all(dr_counter_server *s, bool graceful)
{
    dr_env *env = s->env;
    dr_env_timer_cancel(env, s->flush_timer);
    dr_env_timer_cancel(env, s->tick_timer);
    dr_env_timer_cancel(env, s->up_timer);
    s->flush_timer = s->tick_timer = s->up_timer = 0;
    if (s->listener != NULL)
        dr_env_listener_close(env, s->listener);
    s->listener = NULL;
    while (s->conn_count > 0) {
        conn *c = s->conns[0];
        if (graceful) {
            dr_env_stream_close(env, c->stream);
            c->stream = NULL;
            memmove(&s->conns[0], &s->conns[1], (s->conn_count - 1) * sizeof *s->conns);
            s->conn_count--;
            s->dead[s->dead_count++] = c;
        } else {
            conn_kill(c);
        }
    }
    s->waiter_count = 0;
    for (uint32_t i = 0; i < DR_COUNTER_REPLICA_COUNT_MAX; i++)
        s->followers[i].conn = NULL;
    if (s->up != NULL) {
        if (graceful)
            dr_env_stream_close(env, s->up);
        else
            dr_env_stream_abort(env, s->up);
    }
    s->up = NULL;
    s->up_connected = false;
    if (s->log != NULL)
        dr_env_close(env, s->log);
    s->log = NULL;
    dr_env_timer_cancel(env, s->reap_timer);
    s->reap_timer = 0;
}

/* A disk error: nothing unsynced can be trusted any more, so stop serving
 * and let the owner restart the process (recovery re-reads and re-syncs). */
static void server_fail(dr_counter_server *s, const dr_err *why)
{
    if (s->failed)
        return;
    DR_ERROR(s->env, "counter replica %u: stopping after a disk error: %s", s->id, why->msg);
    s->failed = true;
    s->serving = false;
    release_all(s, false);
}
