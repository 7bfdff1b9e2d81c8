/* src/env/real/real.c — the real env's core: creation and teardown, the
 * libevent loop, clocks, timers, the random stream, host facts, logging,
 * signal handlers and the errno-to-dr_code mapping the other files share.
 *
 * Streams live in net.c, files in fs.c, processes in proc.c.
 *
 * Timers. env.h promises that timers due at the same time fire in the order
 * they were added; libevent does not. So the env keeps its own min-heap keyed
 * by (due_ns, seq), seq counting timer_add calls, and arms a single libevent
 * timer for the heap's top. A fire pops every timer that is due and was added
 * before the fire began (a timer added with delay 0 from a timer callback
 * waits for the next loop iteration, so a chain of them cannot starve I/O).
 * Timer ids are (generation << 32 | slot): cancel finds the slot in O(1) and a
 * spent or unknown id fails the generation check, so cancelling it is a no-op.
 */
#include "real_int.h"

#include <errno.h>
#include <signal.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

struct dr__real_timer {
    uint64_t due_ns;
    uint64_t seq;
    dr_timer_fn *fn;
    void *ctx;
    uint32_t generation; /* bumped when the slot is freed; never 0 */
    uint32_t heap_index; /* UINT32_MAX while the slot is free */
    uint32_t next_free;
};

struct dr__real_sighandler {
    dr__real *r;
    int signo;
    struct event *ev;
    dr_env_real_signal_fn *fn;
    void *ctx;
    dr__real_sighandler *next;
};

#define NO_INDEX UINT32_MAX

static const dr_env_ops real_ops;

static void timer_fire(evutil_socket_t fd, short what, void *arg);
static void wake_fire(evutil_socket_t fd, short what, void *arg);
static uint64_t draw_seed(void);

static dr__real *real_of(dr_env *env)
{
    DR_ASSERT(env != NULL);
    DR_ASSERT(env->ops == &real_ops);
    return env->self;
}

/* ---- creation and the loop ------------------------------------------------- */

dr_code dr_env_real_create(const dr_env_real_opts *opts, dr_env **out, dr_err *err)
{
    dr_env_real_opts defaults = {0};
    if (opts == NULL)
        opts = &defaults;
    const char *name = opts->node_name != NULL ? opts->node_name : "dromos";
    size_t name_size = strlen(name);
    if (name_size == 0 || name_size >= DR_NODE_NAME_SIZE_MAX)
        return dr_err_set(err, DR_EINVAL, "node name '%s': must be 1-%u bytes", name,
                          DR_NODE_NAME_SIZE_MAX - 1);
    if ((unsigned)opts->log_level > DR_LOG_ERROR)
        return dr_err_set(err, DR_EINVAL, "log level %d: expected DEBUG to ERROR",
                          (int)opts->log_level);

    struct event_config *cfg = event_config_new();
    if (cfg == NULL)
        return dr_err_set(err, DR_EINTERNAL, "libevent: cannot create a config");
    /* Without this flag libevent reads CLOCK_MONOTONIC_COARSE (4 ms steps). */
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (base == NULL)
        return dr_err_set(err, DR_EINTERNAL, "libevent: cannot create an event base");

    dr__real *r = dr_alloc(sizeof *r);
    r->env.ops = &real_ops;
    r->env.self = r;
    r->base = base;
    memcpy(r->node_name, name, name_size + 1);
    r->seed = opts->seed != 0 ? opts->seed : draw_seed();
    dr_rng_init(&r->rng, dr_seed_derive(r->seed, "default"));
    r->log_level = opts->log_level;
    r->log_file = opts->log_file != NULL ? opts->log_file : stderr;
    r->connect_timeout_ns =
        opts->connect_timeout_ns != 0 ? opts->connect_timeout_ns : DR_ENV_REAL_CONNECT_TIMEOUT_NS;
    r->timer_free_head = NO_INDEX;
    r->timer_ev = evtimer_new(base, timer_fire, r);
    r->wake_ev = evtimer_new(base, wake_fire, r);
    DR_ASSERT(r->timer_ev != NULL);
    DR_ASSERT(r->wake_ev != NULL);
    r->read_buf = dr_alloc(DR_STREAM_READ_CHUNK_SIZE);
    r->have_pidfd = dr__real_probe_pidfd();
    r->subreaper = dr__real_probe_subreaper();
    *out = &r->env;
    return DR_OK;
}

void dr_env_real_destroy(dr_env *env)
{
    if (env == NULL)
        return;
    dr__real *r = real_of(env);
    DR_ASSERT(r->loop_depth == 0);
    dr__real_net_destroy_all(r);
    dr__real_proc_destroy_all(r);
    while (r->signals != NULL) {
        dr__real_sighandler *s = r->signals;
        r->signals = s->next;
        event_free(s->ev);
        dr_free(s);
    }
    event_free(r->timer_ev);
    event_free(r->wake_ev);
    event_base_free(r->base);
    dr_free(r->timers);
    dr_free(r->heap);
    dr_free(r->read_buf);
    dr_free(r);
}

dr_code dr_env_real_run(dr_env *env, dr_err *err)
{
    dr__real *r = real_of(env);
    DR_ASSERT(r->loop_depth == 0);
    r->loop_depth++;
    int rc = 0;
    if (!r->stop_requested)
        rc = event_base_loop(r->base, EVLOOP_NO_EXIT_ON_EMPTY);
    r->loop_depth--;
    r->stop_requested = false;
    if (rc < 0)
        return dr_err_set(err, DR_EINTERNAL, "event loop of '%s' failed", r->node_name);
    return DR_OK;
}

void dr_env_real_stop(dr_env *env)
{
    dr__real *r = real_of(env);
    r->stop_requested = true;
    if (r->loop_depth > 0)
        event_base_loopbreak(r->base);
}

void dr_env_real_run_once(dr_env *env, uint64_t max_wait_ns)
{
    dr__real *r = real_of(env);
    DR_ASSERT(r->loop_depth == 0);
    r->loop_depth++;
    struct timeval tv = dr__real_timeval(max_wait_ns);
    evtimer_add(r->wake_ev, &tv);
    int rc = event_base_loop(r->base, EVLOOP_ONCE);
    DR_ASSERT(rc >= 0);
    evtimer_del(r->wake_ev);
    r->loop_depth--;
}

static void wake_fire(evutil_socket_t fd, short what, void *arg)
{
    DR_UNUSED(fd);
    DR_UNUSED(what);
    DR_UNUSED(arg); /* only ends the wait of run_once */
}

static void signal_fire(evutil_socket_t fd, short what, void *arg)
{
    DR_UNUSED(fd);
    DR_UNUSED(what);
    dr__real_sighandler *s = arg;
    s->fn(&s->r->env, s->signo, s->ctx);
}

void dr_env_real_on_signal(dr_env *env, int signo, dr_env_real_signal_fn *fn, void *ctx)
{
    dr__real *r = real_of(env);
    DR_ASSERT(fn != NULL);
    DR_ASSERT(signo > 0 && signo < NSIG);
    for (dr__real_sighandler *s = r->signals; s != NULL; s = s->next)
        DR_ASSERT(s->signo != signo);
    dr__real_sighandler *s = dr_alloc(sizeof *s);
    s->r = r;
    s->signo = signo;
    s->fn = fn;
    s->ctx = ctx;
    s->ev = evsignal_new(r->base, signo, signal_fire, s);
    DR_ASSERT(s->ev != NULL);
    int rc = evsignal_add(s->ev, NULL);
    DR_ASSERT(rc == 0);
    s->next = r->signals;
    r->signals = s;
}

/* ---- time ------------------------------------------------------------------------ */

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    int rc = clock_gettime(id, &ts);
    DR_ASSERT(rc == 0);
    return (uint64_t)ts.tv_sec * DR_NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t op_now_ns(void *self)
{
    DR_UNUSED(self);
    return clock_ns(CLOCK_MONOTONIC);
}

static uint64_t op_wall_ns(void *self)
{
    DR_UNUSED(self);
    return clock_ns(CLOCK_REALTIME);
}

struct timeval dr__real_timeval(uint64_t delay_ns)
{
    uint64_t us = delay_ns / DR_NS_PER_US + (delay_ns % DR_NS_PER_US != 0); /* round up */
    uint64_t s = us / 1000000;
    if (s > (uint64_t)INT32_MAX) /* about 68 years: later than anything we wait for */
        s = (uint64_t)INT32_MAX;
    struct timeval tv = {.tv_sec = (time_t)s, .tv_usec = (suseconds_t)(us % 1000000)};
    return tv;
}

/* ---- timers ---------------------------------------------------------------------- */

static bool timer_before(const dr__real *r, uint32_t a, uint32_t b)
{
    const dr__real_timer *ta = &r->timers[a];
    const dr__real_timer *tb = &r->timers[b];
    if (ta->due_ns != tb->due_ns)
        return ta->due_ns < tb->due_ns;
    return ta->seq < tb->seq;
}

static void heap_place(dr__real *r, uint32_t index, uint32_t slot)
{
    r->heap[index] = slot;
    r->timers[slot].heap_index = index;
}

static void heap_up(dr__real *r, uint32_t index)
{
    uint32_t slot = r->heap[index];
    while (index > 0) {
        uint32_t parent = (index - 1) / 2;
        if (!timer_before(r, slot, r->heap[parent]))
            break;
        heap_place(r, index, r->heap[parent]);
        index = parent;
    }
    heap_place(r, index, slot);
}

static void heap_down(dr__real *r, uint32_t index)
{
    uint32_t slot = r->heap[index];
    for (;;) {
        uint32_t child = 2 * index + 1;
        if (child >= r->heap_count)
            break;
        if (child + 1 < r->heap_count && timer_before(r, r->heap[child + 1], r->heap[child]))
            child++;
        if (!timer_before(r, r->heap[child], slot))
            break;
        heap_place(r, index, r->heap[child]);
        index = child;
    }
    heap_place(r, index, slot);
}

/* Removes the timer at heap position index and frees its slot. */
static void heap_remove(dr__real *r, uint32_t index)
{
    DR_ASSERT(index < r->heap_count);
    uint32_t slot = r->heap[index];
    r->heap_count--;
    if (index < r->heap_count) {
        uint32_t moved = r->heap[r->heap_count];
        heap_place(r, index, moved);
        heap_down(r, index);
        heap_up(r, r->timers[moved].heap_index); /* no-op if it went down */
    }
    dr__real_timer *t = &r->timers[slot];
    t->heap_index = NO_INDEX;
    t->fn = NULL;
    t->ctx = NULL;
    t->generation = t->generation == UINT32_MAX ? 1 : t->generation + 1;
    t->next_free = r->timer_free_head;
    r->timer_free_head = slot;
}

/* Arms the libevent timer for the heap's top (or disarms it). */
static void timer_rearm(dr__real *r)
{
    if (r->heap_count == 0) {
        evtimer_del(r->timer_ev);
        return;
    }
    uint64_t now_ns = clock_ns(CLOCK_MONOTONIC);
    uint64_t due_ns = r->timers[r->heap[0]].due_ns;
    struct timeval tv = dr__real_timeval(due_ns > now_ns ? due_ns - now_ns : 0);
    /* libevent adds tv to its cached time, which may be stale by now. */
    event_base_update_cache_time(r->base);
    evtimer_add(r->timer_ev, &tv);
}

static dr_timer_id op_timer_add(void *self, uint64_t delay_ns, dr_timer_fn *fn, void *ctx)
{
    dr__real *r = self;
    DR_ASSERT(fn != NULL);
    if (r->timer_free_head == NO_INDEX) {
        uint32_t old_count = r->timer_slot_count;
        uint32_t new_count = old_count == 0 ? 64 : old_count * 2;
        DR_ASSERT(new_count > old_count);
        r->timers = dr_realloc(r->timers, (size_t)new_count * sizeof *r->timers);
        r->heap = dr_realloc(r->heap, (size_t)new_count * sizeof *r->heap);
        for (uint32_t i = new_count; i-- > old_count;) {
            r->timers[i] = (dr__real_timer){.generation = 1, .heap_index = NO_INDEX,
                                            .next_free = r->timer_free_head};
            r->timer_free_head = i;
        }
        r->timer_slot_count = new_count;
    }
    uint32_t slot = r->timer_free_head;
    dr__real_timer *t = &r->timers[slot];
    DR_ASSERT(t->heap_index == NO_INDEX);
    r->timer_free_head = t->next_free;
    uint64_t now_ns = clock_ns(CLOCK_MONOTONIC);
    t->due_ns = delay_ns > UINT64_MAX - now_ns ? UINT64_MAX : now_ns + delay_ns;
    t->seq = r->timer_seq++;
    t->fn = fn;
    t->ctx = ctx;
    t->next_free = NO_INDEX;
    r->heap_count++;
    heap_place(r, r->heap_count - 1, slot);
    heap_up(r, r->heap_count - 1);
    if (t->heap_index == 0)
        timer_rearm(r);
    return (uint64_t)t->generation << 32 | slot;
}

static void op_timer_cancel(void *self, dr_timer_id id)
{
    dr__real *r = self;
    uint32_t slot = (uint32_t)id;
    uint32_t generation = (uint32_t)(id >> 32);
    if (id == 0 || slot >= r->timer_slot_count)
        return;
    dr__real_timer *t = &r->timers[slot];
    if (t->generation != generation || t->heap_index == NO_INDEX)
        return; /* spent, cancelled or never handed out */
    heap_remove(r, t->heap_index);
    /* The libevent timer may now fire early for nothing; timer_fire re-arms. */
}

static void timer_fire(evutil_socket_t fd, short what, void *arg)
{
    DR_UNUSED(fd);
    DR_UNUSED(what);
    dr__real *r = arg;
    uint64_t now_ns = clock_ns(CLOCK_MONOTONIC);
    uint64_t seq_end = r->timer_seq; /* timers added from here on wait a turn */
    while (r->heap_count > 0) {
        dr__real_timer *t = &r->timers[r->heap[0]];
        if (t->due_ns > now_ns || t->seq >= seq_end)
            break;
        dr_timer_fn *fn = t->fn;
        void *ctx = t->ctx;
        heap_remove(r, 0);
        fn(&r->env, ctx); /* may add or cancel timers; t is stale now */
    }
    timer_rearm(r);
}

/* ---- randomness ------------------------------------------------------------------ */

static uint64_t draw_seed(void)
{
    uint64_t seed = 0;
    while (seed == 0) {
        ssize_t n = getrandom(&seed, sizeof seed, 0);
        if (n < 0 && errno == EINTR)
            continue;
        DR_ASSERT(n == (ssize_t)sizeof seed); /* getrandom on 8 bytes does not fail */
    }
    return seed;
}

static uint64_t op_random_u64(void *self)
{
    dr__real *r = self;
    return dr_rng_next(&r->rng);
}

static uint64_t op_seed(void *self)
{
    dr__real *r = self;
    return r->seed;
}

/* ---- host facts -------------------------------------------------------------------- */

static dr_code read_boot_id(char *out, size_t out_size, dr_err *err)
{
    static const char path[] = "/proc/sys/kernel/random/boot_id";
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return dr__real_sys_fail(err, errno, "read", path);
    char line[128];
    bool ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    if (!ok)
        return dr_err_set(err, DR_EIO, "read '%s': empty", path);
    line[strcspn(line, "\n")] = '\0';
    if (line[0] == '\0' || !dr_strlcpy(out, line, out_size))
        return dr_err_set(err, DR_EIO, "read '%s': unexpected content '%s'", path, line);
    return DR_OK;
}

static dr_code op_host_info(void *self, dr_host_info *out, dr_err *err)
{
    DR_UNUSED(self);
    dr_host_info info = {0};

    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) {
        info.cpu_count = (uint32_t)CPU_COUNT(&set);
    } else {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        info.cpu_count = n > 0 ? (uint32_t)n : 1;
    }

    struct sysinfo si;
    if (sysinfo(&si) != 0)
        return dr__real_sys_fail(err, errno, "sysinfo", "host");
    info.mem_bytes = (uint64_t)si.totalram * si.mem_unit;

    if (gethostname(info.hostname, sizeof info.hostname) != 0)
        return dr__real_sys_fail(err, errno, "gethostname", "host");
    info.hostname[sizeof info.hostname - 1] = '\0';

    dr_code rc = read_boot_id(info.boot_id, sizeof info.boot_id, err);
    if (rc != DR_OK)
        return rc;
    *out = info;
    return DR_OK;
}

/* ---- logging ------------------------------------------------------------------------ */

static const char *op_node_name(void *self)
{
    dr__real *r = self;
    return r->node_name;
}

/* Writes "2026-11-26T17:40:00.123Z I master-1: text\n" and flushes, so lines
 * from a crashing process are not lost in a buffer. */
static void op_log(void *self, dr_log_level level, const char *line)
{
    dr__real *r = self;
    if (level < r->log_level)
        return;
    static const char letters[] = "DIWE";
    char letter = (unsigned)level < sizeof letters - 1 ? letters[level] : '?';
    uint64_t wall_ns = clock_ns(CLOCK_REALTIME);
    time_t secs = (time_t)(wall_ns / DR_NS_PER_S);
    unsigned ms = (unsigned)(wall_ns % DR_NS_PER_S / DR_NS_PER_MS);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(r->log_file, "%s.%03uZ %c %s: %s\n", stamp, ms, letter, r->node_name, line);
    fflush(r->log_file);
}

static dr_log_level op_log_level(void *self)
{
    dr__real *r = self;
    return r->log_level;
}

static void op_set_log_level(void *self, dr_log_level level)
{
    dr__real *r = self;
    DR_ASSERT((unsigned)level <= DR_LOG_ERROR);
    r->log_level = level;
}

/* ---- errors ------------------------------------------------------------------------ */

dr_code dr__real_code_of_errno(int errno_value)
{
    switch (errno_value) {
    case 0: return DR_OK;
    case ENOENT: return DR_ENOENT;
    case EEXIST: return DR_EEXIST;
    case EIO: return DR_EIO;
    case ENOSPC:
    case EDQUOT: return DR_ENOSPC;
    case EACCES:
    case EPERM:
    case EROFS: return DR_EACCES;
    case ENOTDIR: return DR_ENOTDIR;
    case EISDIR: return DR_EISDIR;
    case ENOTEMPTY: return DR_ENOTEMPTY;
    case EBUSY:
    case ETXTBSY:
    case EWOULDBLOCK: return DR_EBUSY;
    case EINVAL:
    case ENAMETOOLONG:
    case ELOOP:
    case EXDEV:
    case EBADF: return DR_EINVAL;
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH: return DR_ECONNREFUSED;
    case ECONNRESET:
    case ECONNABORTED:
    case EPIPE: return DR_ECONNRESET;
    case ETIMEDOUT: return DR_ETIMEDOUT;
    case EADDRINUSE: return DR_EADDRINUSE;
    case ESRCH: return DR_ESRCH;
    case ENOSYS:
    case EOPNOTSUPP:
    case EAFNOSUPPORT: return DR_ENOTSUP;
    case E2BIG:
    case EFBIG:
    case EOVERFLOW: return DR_ETOOBIG;
    case ECANCELED: return DR_ECANCELED;
    default: return DR_EIO;
    }
}

dr_code dr__real_sys_fail(dr_err *err, int errno_value, const char *op, const char *path)
{
    dr_code code = dr__real_code_of_errno(errno_value);
    if (code == DR_OK)
        code = DR_EIO;
    return dr_err_set(err, code, "%s '%s': %s", op, path, strerror(errno_value));
}

dr_code dr__real_check_path(const char *op, const char *path, dr_err *err)
{
    if (path == NULL)
        return dr_err_set(err, DR_EINVAL, "%s: path is NULL", op);
    size_t size = strnlen(path, DR_PATH_SIZE_MAX);
    if (size == 0)
        return dr_err_set(err, DR_EINVAL, "%s '': path is empty", op);
    if (size >= DR_PATH_SIZE_MAX)
        return dr_err_set(err, DR_EINVAL, "%s '%.64s...': path is longer than %u bytes", op, path,
                          DR_PATH_SIZE_MAX - 1);
    return DR_OK;
}

/* ---- the ops table ------------------------------------------------------------- */

static const dr_env_ops real_ops = {
    .now_ns = op_now_ns,
    .wall_ns = op_wall_ns,
    .timer_add = op_timer_add,
    .timer_cancel = op_timer_cancel,
    .random_u64 = op_random_u64,
    .seed = op_seed,
    .listen = dr__real_listen,
    .listener_port = dr__real_listener_port,
    .listener_close = dr__real_listener_close,
    .connect = dr__real_connect,
    .stream_set_cbs = dr__real_stream_set_cbs,
    .stream_write = dr__real_stream_write,
    .stream_queued = dr__real_stream_queued,
    .stream_pause = dr__real_stream_pause,
    .stream_close = dr__real_stream_close,
    .stream_abort = dr__real_stream_abort,
    .stream_peer = dr__real_stream_peer,
    .open = dr__real_open,
    .close = dr__real_close,
    .pread = dr__real_pread,
    .pwrite = dr__real_pwrite,
    .append = dr__real_append,
    .fsync = dr__real_fsync,
    .truncate = dr__real_truncate,
    .file_size = dr__real_file_size,
    .lock = dr__real_lock,
    .rename = dr__real_rename,
    .unlink = dr__real_unlink,
    .mkdir = dr__real_mkdir,
    .rmdir = dr__real_rmdir,
    .list_dir = dr__real_list_dir,
    .fsync_dir = dr__real_fsync_dir,
    .stat = dr__real_stat,
    .symlink = dr__real_symlink,
    .readlink = dr__real_readlink,
    .spawn = dr__real_spawn,
    .watch = dr__real_watch,
    .signal = dr__real_signal,
    .signal_tree = dr__real_signal_tree,
    .user_lookup = dr__real_user_lookup,
    .chown = dr__real_chown,
    .host_info = op_host_info,
    .disk_space = dr__real_disk_space,
    .resolve = dr__real_resolve,
    .node_name = op_node_name,
    .log = op_log,
    .log_level = op_log_level,
    .set_log_level = op_set_log_level,
};
