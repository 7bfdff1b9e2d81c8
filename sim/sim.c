/* sim/sim.c — the simulator's heart: the event queue, the run loop, the trace
 * hash, fault counters, hosts (clocks, boot ids, disks) and partitions.
 *
 * The queue is a binary min-heap of sim_ev by value, keyed by (due_ns, seq);
 * seq counts schedule calls, so events due at the same time run in the order
 * they were scheduled. Timer cancel is lazy: the timer's slab slot changes
 * generation and its queued event is skipped when it comes up. Events aimed at
 * a process (ev.pid) are dropped once the process has ended and held while it
 * is paused. Processes live in proc.c, the network in net.c, the env in env.c.
 *
 * Nothing here reads the outside world: the only output is the trace and log
 * FILE*s given in dr_sim_opts, and stderr from the assertion hook.
 */
#include "sim_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Fault kinds, printed in this order; kinds reported by name that are not
 * listed (a newer disk model) are appended in first-fired order. */
static const char *const fault_kind_names[] = {
    "net.latency_tail", "net.refuse", "net.reset", "net.stall", "net.partition",
    "net.partition_drop", "net.timeout", "disk.eio_write", "disk.eio_fsync", "disk.enospc",
    "disk.crash_keep", "disk.crash_drop", "disk.crash_torn", "disk.crash_journal_drop",
    "proc.crash", "proc.stop",
    "proc.pause", "host.crash", "clock.offset", "clock.drift", "clock.jump", "inject.write",
    "inject.fsync", "inject.send", "inject.spawn",
};

static void assert_hook(const char *file, int line, const char *expr, void *ctx);
static void heap_push(dr_sim *sim, const sim_ev *ev);
static sim_ev heap_pop(dr_sim *sim);
static void on_timer(dr_sim *sim, sim_ev *ev);

/* ---- create / destroy ------------------------------------------------------ */

dr_sim *dr_sim_create(const dr_sim_opts *opts)
{
    dr_sim *sim = dr_alloc(sizeof *sim);
    sim->opts = *opts;
    sim->faults = opts->faults;
    sim->seq_next = 1;
    sim->conn_next_id = 1;
    dr_rng_init(&sim->net_rng, dr_seed_derive(opts->seed, "net"));
    sim->trace = XXH3_createState();
    DR_ASSERT(sim->trace != NULL);
    XXH3_64bits_reset_withSeed(sim->trace, opts->seed);
    for (size_t i = 0; i < DR_ARRAY_COUNT(fault_kind_names); i++)
        sim->fault_kinds[i] = fault_kind_names[i];
    sim->fault_kind_count = DR_ARRAY_COUNT(fault_kind_names);
    dr_assert_set_hook(assert_hook, sim);
    return sim;
}

void dr_sim_destroy(dr_sim *sim)
{
    if (sim == NULL)
        return;
    dr__sim_procs_end_all(sim);
    sim->destroying = true;
    while (sim->heap_count > 0) {
        sim_ev ev = heap_pop(sim);
        dr__sim_ev_discard(sim, &ev);
    }
    for (size_t i = 0; i < sim->host_count; i++) {
        sim_host *host = sim->hosts[i];
#ifdef DR_SIM_HAVE_DISK
        dr_sim_disk_destroy(host->disk);
#endif
        dr_free(host);
    }
    for (size_t i = DR_ARRAY_COUNT(fault_kind_names); i < sim->fault_kind_count; i++)
        dr_free((char *)sim->fault_kinds[i]);
    dr_free(sim->hosts);
    dr_free(sim->partition);
    dr_free(sim->procs);
    dr_free(sim->programs);
    dr_free(sim->timers);
    dr_free(sim->heap);
    dr_free(sim->checkpoints);
    XXH3_freeState(sim->trace);
    dr_assert_set_hook(NULL, NULL);
    dr_free(sim);
}

uint64_t dr_sim_seed(const dr_sim *sim) { return sim->opts.seed; }

static void assert_hook(const char *file, int line, const char *expr, void *ctx)
{
    (void)file;
    (void)line;
    (void)expr;
    const dr_sim *sim = ctx;
    fprintf(stderr, "dromos sim: seed %" PRIu64 ", event #%" PRIu64 ", t=%.6fs\n",
            sim->opts.seed, sim->event_count, (double)sim->now_ns / 1e9);
    fprintf(stderr, "dromos sim: replay: dromos sim --seed %" PRIu64 " --scenario %s\n",
            sim->opts.seed, sim->opts.scenario != NULL ? sim->opts.scenario : "<name>");
}

void dr_sim_register_program(dr_sim *sim, const dr_sim_program *program)
{
    DR_ASSERT(program != NULL);
    DR_ASSERT(program->name != NULL);
    DR_ASSERT(program->start != NULL);
    DR_ASSERT(program->crash != NULL);
    for (size_t i = 0; i < sim->program_count; i++) {
        if (strcmp(sim->programs[i]->name, program->name) == 0) {
            sim->programs[i] = program; /* the later registration wins */
            return;
        }
    }
    sim->programs = dr_realloc(sim->programs, (sim->program_count + 1) * sizeof *sim->programs);
    sim->programs[sim->program_count++] = program;
}

/* ---- hosts and clocks ------------------------------------------------------ */

static void boot_id_render(const dr_sim *sim, sim_host *host)
{
    uint64_t base = dr_seed_derive(sim->opts.seed, "boot");
    uint64_t a = dr_mix64(base ^ ((uint64_t)host->id << 32) ^ host->boot_count);
    uint64_t b = dr_mix64(a ^ UINT64_C(0x5bd1e9955bd1e995));
    snprintf(host->boot_id, sizeof host->boot_id, "%08" PRIx32 "-%04" PRIx32 "-%04" PRIx32
             "-%04" PRIx32 "-%012" PRIx64,
             (uint32_t)(a >> 32), (uint32_t)(a >> 16) & 0xffff, (uint32_t)a & 0xffff,
             (uint32_t)(b >> 48), b & UINT64_C(0xffffffffffff));
}

static void disk_fired(void *ctx, const char *kind)
{
    sim_host *host = ctx;
    dr_sim_fault_fired(host->sim, kind);
}

dr_sim_host_id dr_sim_host_add(dr_sim *sim, const char *hostname)
{
    DR_ASSERT(hostname != NULL);
    DR_ASSERT(hostname[0] != '\0');
    DR_ASSERT(strlen(hostname) < DR_HOSTNAME_SIZE_MAX);
    DR_ASSERT(dr__sim_host_by_addr(sim, hostname) == NULL); /* names are unique */
    DR_ASSERT(sim->host_count < 65535);
    sim_host *host = dr_alloc(sizeof *host);
    host->sim = sim;
    host->id = (dr_sim_host_id)(sim->host_count + 1);
    dr_strlcpy(host->name, hostname, sizeof host->name);
    snprintf(host->ip, sizeof host->ip, "10.0.%u.%u", (unsigned)(host->id / 256),
             (unsigned)(host->id % 256));
    host->up = true;
    host->cpu_count = 8;
    host->mem_bytes = UINT64_C(16) << 30;
    host->next_port = 32768;
    sim_link_init(&host->procs);
    sim_link_init(&host->listeners);
    boot_id_render(sim, host);

    char purpose[32];
    snprintf(purpose, sizeof purpose, "clock:%u", (unsigned)host->id);
    dr_rng clock_rng;
    dr_rng_init(&clock_rng, dr_seed_derive(sim->opts.seed, purpose));
    uint64_t offset_max = sim->faults.clock_offset_max_ns;
    if (offset_max > 0 && offset_max < INT64_MAX / 2) {
        host->wall_offset_ns = (int64_t)dr_rng_below(&clock_rng, 2 * offset_max + 1) -
                               (int64_t)offset_max;
        if (host->wall_offset_ns != 0)
            dr_sim_fault_fired(sim, "clock.offset");
    }
    double ppm = sim->faults.clock_drift_max_ppm;
    if (ppm > 0.0) {
        if (ppm > 1000.0)
            ppm = 1000.0; /* keeps the clock monotonic and the math in range */
        int64_t max_ppb = (int64_t)(ppm * 1000.0);
        host->drift_ppb = (int64_t)dr_rng_below(&clock_rng, (uint64_t)(2 * max_ppb + 1)) - max_ppb;
        if (host->drift_ppb != 0)
            dr_sim_fault_fired(sim, "clock.drift");
    }

    snprintf(purpose, sizeof purpose, "disk:%u", (unsigned)host->id);
    dr_rng_init(&host->disk_rng, dr_seed_derive(sim->opts.seed, purpose));
    host->disk_hooks.rng = &host->disk_rng;
    host->disk_hooks.faults = &sim->faults;
    host->disk_hooks.fired = disk_fired;
    host->disk_hooks.ctx = host;
#ifdef DR_SIM_HAVE_DISK
    host->disk = dr_sim_disk_create(&host->disk_hooks, UINT64_C(100) << 30);
#endif

    sim->hosts = dr_realloc(sim->hosts, (sim->host_count + 1) * sizeof *sim->hosts);
    sim->hosts[sim->host_count++] = host;
    /* grow the partition matrix by doubling, keeping what is set */
    size_t n = sim->host_count;
    if (n > sim->partition_size) {
        size_t cap = sim->partition_size < 16 ? 16 : sim->partition_size * 2;
        bool *matrix = dr_alloc_array(cap * cap, sizeof *matrix);
        for (size_t a = 0; a + 1 < n; a++)
            for (size_t b = 0; b + 1 < n; b++)
                matrix[a * cap + b] = sim->partition[a * sim->partition_size + b];
        dr_free(sim->partition);
        sim->partition = matrix;
        sim->partition_size = cap;
    }
    return host->id;
}

void dr_sim_host_set_resources(dr_sim *sim, dr_sim_host_id id, uint32_t cpu_count,
                               uint64_t mem_bytes)
{
    sim_host *host = dr__sim_host(sim, id);
    host->cpu_count = cpu_count;
    host->mem_bytes = mem_bytes;
}

sim_host *dr__sim_host(const dr_sim *sim, dr_sim_host_id id)
{
    DR_ASSERT(id >= 1);
    DR_ASSERT(id <= sim->host_count);
    return sim->hosts[id - 1];
}

sim_host *dr__sim_host_by_addr(const dr_sim *sim, const char *name)
{
    for (size_t i = 0; i < sim->host_count; i++) {
        sim_host *host = sim->hosts[i];
        if (strcmp(host->name, name) == 0 || strcmp(host->ip, name) == 0)
            return host;
    }
    return NULL;
}

dr_sim_host_id dr_sim_host_find(const dr_sim *sim, const char *name)
{
    sim_host *host = dr__sim_host_by_addr(sim, name);
    return host != NULL ? host->id : 0;
}

const char *dr_sim_host_name(const dr_sim *sim, dr_sim_host_id id)
{
    return dr__sim_host(sim, id)->name;
}

struct dr_sim_disk *dr_sim_host_disk(dr_sim *sim, dr_sim_host_id id)
{
    return dr__sim_host(sim, id)->disk;
}

bool dr_sim_host_up(const dr_sim *sim, dr_sim_host_id id) { return dr__sim_host(sim, id)->up; }

void dr_sim_host_crash(dr_sim *sim, dr_sim_host_id id)
{
    sim_host *host = dr__sim_host(sim, id);
    if (!host->up)
        return;
    dr_sim_fault_fired(sim, "host.crash");
    dr__sim_trace(sim, "host.crash", 0, 0, id, 0);
    /* every process ends as by kill -9; each resets its connections */
    while (!sim_link_empty(&host->procs)) {
        sim_proc *proc = SIM_CONTAINER(host->procs.next, sim_proc, host_link);
        dr_sim_process_crash(sim, proc->pid);
    }
    /* listeners are per process and went with them */
    DR_ASSERT(sim_link_empty(&host->listeners));
#ifdef DR_SIM_HAVE_DISK
    dr_sim_disk_crash(host->disk);
#endif
    host->up = false;
    host->boot_count++;
    boot_id_render(sim, host);
}

void dr_sim_host_restart(dr_sim *sim, dr_sim_host_id id)
{
    sim_host *host = dr__sim_host(sim, id);
    if (host->up)
        return;
    dr__sim_trace(sim, "host.restart", 0, 0, id, 0);
    host->up = true;
}

/* A host's view of time: true time scaled by its drift. Monotonic because
 * |drift| < 1e9 ppb. */
uint64_t dr__sim_host_now(const sim_host *host)
{
    uint64_t t = host->sim->now_ns;
    __int128 skew = (__int128)t * host->drift_ppb / 1000000000;
    return (uint64_t)((__int128)t + skew);
}

static uint64_t local_at(const sim_host *host, uint64_t true_ns)
{
    __int128 skew = (__int128)true_ns * host->drift_ppb / 1000000000;
    return (uint64_t)((__int128)true_ns + skew);
}

/* The true delay after which the host's clock has advanced by at least
 * delay_local_ns: the smallest T with local(T) >= local(now) + delay. */
uint64_t dr__sim_host_delay(const sim_host *host, uint64_t delay_local_ns)
{
    if (host->drift_ppb == 0)
        return delay_local_ns;
    uint64_t now = host->sim->now_ns;
    uint64_t target = local_at(host, now) + delay_local_ns;
    __int128 guess = (__int128)target * 1000000000 / (1000000000 + host->drift_ppb);
    uint64_t t = guess < (__int128)now ? now : (uint64_t)guess;
    while (local_at(host, t) < target)
        t++;
    while (t > now && local_at(host, t - 1) >= target)
        t--;
    return t - now;
}

uint64_t dr__sim_host_wall(const sim_host *host)
{
    int64_t wall = (int64_t)(DR_SIM_EPOCH_WALL_NS + dr__sim_host_now(host)) + host->wall_offset_ns;
    return wall < 0 ? 0 : (uint64_t)wall;
}

void dr_sim_wall_jump(dr_sim *sim, dr_sim_host_id id, int64_t delta_ns)
{
    sim_host *host = dr__sim_host(sim, id);
    host->wall_offset_ns += delta_ns;
    dr_sim_fault_fired(sim, "clock.jump");
    dr__sim_trace(sim, "clock.jump", 0, 0, id, (uint64_t)delta_ns);
}

/* ---- partitions and faults -------------------------------------------------- */

void dr_sim_partition(dr_sim *sim, dr_sim_host_id a, dr_sim_host_id b, bool one_way)
{
    DR_ASSERT(a >= 1 && a <= sim->host_count);
    DR_ASSERT(b >= 1 && b <= sim->host_count);
    size_t n = sim->partition_size;
    sim->partition[(a - 1) * n + (b - 1)] = true;
    if (!one_way)
        sim->partition[(b - 1) * n + (a - 1)] = true;
    dr_sim_fault_fired(sim, "net.partition");
    dr__sim_trace(sim, "partition", 0, 0, ((uint64_t)a << 32) | b, one_way);
}

void dr_sim_heal(dr_sim *sim)
{
    if (sim->partition != NULL)
        memset(sim->partition, 0,
               sim->partition_size * sim->partition_size * sizeof *sim->partition);
    dr__sim_trace(sim, "heal", 0, 0, 0, 0);
}

void dr_sim_set_faults(dr_sim *sim, const dr_sim_faults *faults)
{
    sim->faults = *faults; /* the disks read sim->faults at each call */
    dr__sim_trace(sim, "set_faults", 0, 0, 0, XXH3_64bits(faults, sizeof *faults));
}

void dr_sim_fail_nth(dr_sim *sim, dr_sim_op op, uint64_t nth)
{
    DR_ASSERT((unsigned)op < DR_SIM_OP_COUNT);
    sim->fail_countdown[op] = nth;
}

bool dr__sim_fail_now(dr_sim *sim, dr_sim_op op)
{
    static const char *const kinds[DR_SIM_OP_COUNT] = {"inject.write", "inject.fsync",
                                                       "inject.send", "inject.spawn"};
    if (sim->fail_countdown[op] == 0 || --sim->fail_countdown[op] > 0)
        return false;
    dr_sim_fault_fired(sim, kinds[op]);
    return true;
}

size_t dr_sim_fault_counts(const dr_sim *sim, dr_sim_fault_count *out, size_t out_count)
{
    for (size_t i = 0; i < sim->fault_kind_count && i < out_count; i++) {
        out[i].kind = sim->fault_kinds[i];
        out[i].count = sim->fault_counts[i];
    }
    return sim->fault_kind_count;
}

void dr_sim_fault_fired(dr_sim *sim, const char *kind)
{
    size_t i = 0;
    while (i < sim->fault_kind_count && strcmp(sim->fault_kinds[i], kind) != 0)
        i++;
    if (i == sim->fault_kind_count) {
        DR_ASSERT(i < SIM_FAULT_KIND_MAX);
        sim->fault_kinds[i] = dr_strdup(kind);
        sim->fault_kind_count++;
    }
    sim->fault_counts[i]++;
    char label[96];
    snprintf(label, sizeof label, "fault %s", kind);
    dr__sim_trace(sim, label, 0, 0, sim->fault_counts[i], 0);
}

/* ---- the queue ----------------------------------------------------------------- */

static inline bool ev_before(const sim_ev *a, const sim_ev *b)
{
    if (a->due_ns != b->due_ns)
        return a->due_ns < b->due_ns;
    return a->seq < b->seq;
}

static void heap_push(dr_sim *sim, const sim_ev *ev)
{
    if (sim->heap_count == sim->heap_capacity) {
        sim->heap_capacity = sim->heap_capacity < 64 ? 64 : sim->heap_capacity * 2;
        sim->heap = dr_realloc(sim->heap, sim->heap_capacity * sizeof *sim->heap);
    }
    size_t i = sim->heap_count++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!ev_before(ev, &sim->heap[parent]))
            break;
        sim->heap[i] = sim->heap[parent];
        i = parent;
    }
    sim->heap[i] = *ev;
}

static sim_ev heap_pop(dr_sim *sim)
{
    DR_ASSERT(sim->heap_count > 0);
    sim_ev top = sim->heap[0];
    sim_ev last = sim->heap[--sim->heap_count];
    size_t n = sim->heap_count;
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && ev_before(&sim->heap[child + 1], &sim->heap[child]))
            child++;
        if (!ev_before(&sim->heap[child], &last))
            break;
        sim->heap[i] = sim->heap[child];
        i = child;
    }
    if (n > 0)
        sim->heap[i] = last;
    return top;
}

void dr__sim_push(dr_sim *sim, uint64_t due_ns, uint32_t kind, dr_pid pid, void *ptr, uint64_t arg)
{
    DR_ASSERT(due_ns >= sim->now_ns);
    sim_ev ev = {.due_ns = due_ns, .seq = sim->seq_next++, .ptr = ptr, .arg = arg, .pid = pid,
                 .kind = kind};
    heap_push(sim, &ev);
}

void dr_sim_schedule(dr_sim *sim, uint64_t delay_ns, dr_sim_fn *fn, void *ctx)
{
    DR_ASSERT(fn != NULL);
    DR_ASSERT(delay_ns <= UINT64_MAX - sim->now_ns);
    sim_fn_call *call = dr_alloc(sizeof *call);
    call->fn = fn;
    call->ctx = ctx;
    dr__sim_push(sim, sim->now_ns + delay_ns, EV_FN, 0, call, 0);
}

/* ---- timers ------------------------------------------------------------------ */

dr_timer_id dr__sim_timer_add(dr_sim *sim, sim_proc *proc, uint64_t delay_ns, dr_timer_fn *fn,
                              void *ctx)
{
    DR_ASSERT(fn != NULL);
    uint32_t index;
    if (sim->timer_free != 0) {
        index = sim->timer_free - 1;
        sim->timer_free = sim->timers[index].next_free;
    } else {
        if (sim->timer_count == sim->timer_capacity) {
            sim->timer_capacity = sim->timer_capacity < 64 ? 64 : sim->timer_capacity * 2;
            sim->timers = dr_realloc(sim->timers, sim->timer_capacity * sizeof *sim->timers);
        }
        DR_ASSERT(sim->timer_count < UINT32_MAX - 1);
        index = (uint32_t)sim->timer_count++;
        sim->timers[index].gen = 0;
    }
    sim_timer *t = &sim->timers[index];
    t->gen++;
    if (t->gen == 0)
        t->gen = 1;
    t->next_free = 0;
    t->live = true;
    t->pid = proc->pid;
    t->fn = fn;
    t->ctx = ctx;
    dr_timer_id id = ((uint64_t)t->gen << 32) | (index + 1);
    if (delay_ns > DR_SIM_TIMER_DELAY_MAX_NS)
        delay_ns = DR_SIM_TIMER_DELAY_MAX_NS; /* "never" stays in range of the clock math */
    uint64_t true_delay = dr__sim_host_delay(proc->host, delay_ns);
    DR_ASSERT(true_delay <= UINT64_MAX - sim->now_ns);
    dr__sim_push(sim, sim->now_ns + true_delay, EV_TIMER, proc->pid, NULL, id);
    return id;
}

static sim_timer *timer_lookup(dr_sim *sim, dr_timer_id id)
{
    uint64_t index1 = id & UINT32_MAX;
    if (index1 == 0 || index1 > sim->timer_count)
        return NULL;
    sim_timer *t = &sim->timers[index1 - 1];
    if (!t->live || t->gen != (uint32_t)(id >> 32))
        return NULL;
    return t;
}

static void timer_free(dr_sim *sim, sim_timer *t)
{
    t->live = false;
    t->gen++; /* the queued event, if any, is now stale */
    t->next_free = sim->timer_free;
    sim->timer_free = (uint32_t)(t - sim->timers) + 1;
}

/* Drops canceled timers from the heap once they are most of it, so a program
 * that re-arms a long timeout on every message does not grow the heap without
 * bound. Pop order is a total order on (due_ns, seq): rebuilding keeps it. */
static void heap_compact(dr_sim *sim)
{
    size_t kept = 0;
    for (size_t i = 0; i < sim->heap_count; i++) {
        sim_ev *ev = &sim->heap[i];
        if (ev->kind == EV_TIMER && timer_lookup(sim, ev->arg) == NULL)
            continue;
        sim->heap[kept++] = *ev;
    }
    sim->heap_count = kept;
    sim->heap_stale_count = 0;
    for (size_t i = kept / 2; i-- > 0;) {
        size_t at = i;
        sim_ev moving = sim->heap[at];
        for (;;) {
            size_t child = 2 * at + 1;
            if (child >= kept)
                break;
            if (child + 1 < kept && ev_before(&sim->heap[child + 1], &sim->heap[child]))
                child++;
            if (!ev_before(&sim->heap[child], &moving))
                break;
            sim->heap[at] = sim->heap[child];
            at = child;
        }
        sim->heap[at] = moving;
    }
}

void dr__sim_timer_cancel(dr_sim *sim, sim_proc *proc, dr_timer_id id)
{
    sim_timer *t = timer_lookup(sim, id);
    if (t == NULL || t->pid != proc->pid)
        return; /* unknown or spent: no-op */
    timer_free(sim, t);
    if (++sim->heap_stale_count > 1024 && sim->heap_stale_count > sim->heap_count / 2)
        heap_compact(sim);
}

static void on_timer(dr_sim *sim, sim_ev *ev)
{
    sim_timer *t = timer_lookup(sim, ev->arg);
    DR_ASSERT(t != NULL); /* run_one skipped stale ones */
    sim_proc *proc = dr__sim_proc(sim, t->pid);
    DR_ASSERT(proc != NULL);
    dr_timer_fn *fn = t->fn;
    void *ctx = t->ctx;
    timer_free(sim, t);
    dr__sim_trace(sim, "timer", proc->pid, proc->pid, 0, ev->arg);
    dr__sim_proc_enter(proc);
    fn(&proc->env, ctx);
    dr__sim_proc_leave(proc);
}

/* ---- running -------------------------------------------------------------------- */

/* Releases what an event that will not run refers to. */
void dr__sim_ev_discard(dr_sim *sim, sim_ev *ev)
{
    switch ((sim_ev_kind)ev->kind) {
    case EV_FN:
        dr_free(ev->ptr);
        break;
    case EV_TIMER: {
        sim_timer *t = timer_lookup(sim, ev->arg);
        if (t != NULL)
            timer_free(sim, t);
        break;
    }
    case EV_CHUNK:
        dr__sim_chunk_discard(sim, ev);
        break;
    case EV_STREAM:
        dr__sim_conn_unref(ev->ptr);
        break;
    case EV_EXIT_NOTIFY:
        dr_free(ev->ptr);
        break;
    case EV_GENERIC_EXIT:
    case EV_SIGNAL:
        break;
    }
}

static void checkpoint_take(dr_sim *sim)
{
    uint64_t hash = XXH3_64bits_digest(sim->trace);
    sim->checkpoints = dr_realloc(sim->checkpoints,
                                  (sim->checkpoint_count + 1) * sizeof *sim->checkpoints);
    sim->checkpoints[sim->checkpoint_count++] = hash;
    if (sim->opts.trace_out != NULL) {
        char line[64];
        snprintf(line, sizeof line, "checkpoint %zu hash=%016" PRIx64, sim->checkpoint_count,
                 hash);
        dr__sim_trace_text(sim, line);
    }
}

size_t dr_sim_trace_checkpoints(const dr_sim *sim, uint64_t *out, size_t out_count)
{
    for (size_t i = 0; i < sim->checkpoint_count && i < out_count; i++)
        out[i] = sim->checkpoints[i];
    return sim->checkpoint_count;
}

static bool run_one(dr_sim *sim)
{
    while (sim->heap_count > 0) {
        sim_ev ev = heap_pop(sim);
        DR_ASSERT(ev.due_ns >= sim->now_ns);
        sim->now_ns = ev.due_ns;
        if (ev.kind == EV_TIMER && timer_lookup(sim, ev.arg) == NULL) {
            if (sim->heap_stale_count > 0)
                sim->heap_stale_count--; /* canceled (or its process ended) */
            continue;
        }
        if (ev.pid != 0) {
            sim_proc *proc = dr__sim_proc(sim, ev.pid);
            if (proc == NULL) {
                dr__sim_ev_discard(sim, &ev); /* its process ended */
                continue;
            }
            if (proc->paused && ev.kind != EV_SIGNAL) {
                dr__sim_proc_hold(proc, &ev);
                continue;
            }
        }
        sim->event_count++;
        sim->current_seq = ev.seq;
        sim->in_event = true;
        switch ((sim_ev_kind)ev.kind) {
        case EV_FN: {
            sim_fn_call call = *(sim_fn_call *)ev.ptr;
            dr_free(ev.ptr);
            dr__sim_trace(sim, "fn", 0, 0, 0, 0);
            call.fn(sim, call.ctx);
            break;
        }
        case EV_TIMER:
            on_timer(sim, &ev);
            break;
        case EV_CHUNK:
            dr__sim_on_chunk(sim, &ev);
            break;
        case EV_STREAM:
            dr__sim_on_stream(sim, &ev);
            break;
        case EV_EXIT_NOTIFY:
            dr__sim_on_exit_notify(sim, &ev);
            break;
        case EV_GENERIC_EXIT:
            dr__sim_on_generic_exit(sim, &ev);
            break;
        case EV_SIGNAL:
            dr__sim_on_signal(sim, &ev);
            break;
        }
        sim->in_event = false;
        if ((sim->event_count & (DR_SIM_CHECKPOINT_EVENTS - 1)) == 0)
            checkpoint_take(sim);
        if (sim->step_fn != NULL)
            sim->step_fn(sim, sim->step_ctx);
        return true;
    }
    return false;
}

bool dr_sim_step(dr_sim *sim) { return run_one(sim); }

uint64_t dr_sim_run_until(dr_sim *sim, uint64_t until_ns)
{
    uint64_t before = sim->event_count;
    while (sim->heap_count > 0 && sim->heap[0].due_ns <= until_ns)
        run_one(sim);
    if (until_ns != UINT64_MAX && until_ns > sim->now_ns)
        sim->now_ns = until_ns;
    return sim->event_count - before;
}

uint64_t dr_sim_now(const dr_sim *sim) { return sim->now_ns; }

void dr_sim_set_step_hook(dr_sim *sim, dr_sim_step_fn *fn, void *ctx)
{
    sim->step_fn = fn;
    sim->step_ctx = ctx;
}

/* ---- trace ----------------------------------------------------------------------- */

void dr__sim_describe(const dr_sim *sim, dr_pid pid, char *out, size_t out_size)
{
    if (pid == 0) {
        dr_strlcpy(out, "sim", out_size);
        return;
    }
    sim_proc *proc = dr__sim_proc(sim, pid);
    if (proc != NULL)
        dr_strlcpy(out, proc->name, out_size);
    else
        snprintf(out, out_size, "pid%" PRId64, pid);
}

void dr__sim_trace(dr_sim *sim, const char *kind, dr_pid src, dr_pid dst, uint64_t size,
                   uint64_t payload_hash)
{
    struct {
        uint64_t now_ns, seq, kind, src, dst, size, payload_hash;
    } record = {sim->now_ns, sim->current_seq, XXH3_64bits(kind, strlen(kind)), (uint64_t)src,
                (uint64_t)dst, size, payload_hash};
    XXH3_64bits_update(sim->trace, &record, sizeof record);
    if (sim->opts.trace_out == NULL)
        return;
    char from[DR_NODE_NAME_SIZE_MAX];
    char to[DR_NODE_NAME_SIZE_MAX];
    dr__sim_describe(sim, src, from, sizeof from);
    dr__sim_describe(sim, dst, to, sizeof to);
    char detail[96];
    if (strcmp(kind, "deliver") == 0 || strcmp(kind, "rst") == 0)
        snprintf(detail, sizeof detail, "%" PRIu64 "B hash=%016" PRIx64, size, payload_hash);
    else if (strcmp(kind, "connect") == 0 || strcmp(kind, "accept") == 0 ||
             strcmp(kind, "connected") == 0 || strcmp(kind, "refused") == 0)
        snprintf(detail, sizeof detail, "port=%" PRIu64 " conn=%" PRIu64, size, payload_hash);
    else if (strcmp(kind, "closed") == 0 || strcmp(kind, "fin") == 0)
        snprintf(detail, sizeof detail, "%s conn=%" PRIu64,
                 strcmp(kind, "fin") == 0 ? "" : dr_code_name((dr_code)size), payload_hash);
    else
        snprintf(detail, sizeof detail, "v=%" PRIu64 " x=%016" PRIx64, size, payload_hash);
    fprintf(sim->opts.trace_out, "t=%" PRIu64 ".%06" PRIu64 "s #%" PRIu64 " %s %s -> %s %s\n",
            sim->now_ns / DR_NS_PER_S, (sim->now_ns % DR_NS_PER_S) / DR_NS_PER_US,
            sim->event_count, kind, from, to, detail);
}

void dr__sim_trace_text(dr_sim *sim, const char *text)
{
    if (sim->opts.trace_out != NULL)
        fprintf(sim->opts.trace_out, "t=%" PRIu64 ".%06" PRIu64 "s #%" PRIu64 " %s\n",
                sim->now_ns / DR_NS_PER_S, (sim->now_ns % DR_NS_PER_S) / DR_NS_PER_US,
                sim->event_count, text);
}

uint64_t dr_sim_trace_hash(const dr_sim *sim) { return XXH3_64bits_digest(sim->trace); }

uint64_t dr_sim_event_count(const dr_sim *sim) { return sim->event_count; }

void dr_sim_trace_note(dr_sim *sim, const char *kind, uint64_t value)
{
    char label[96];
    snprintf(label, sizeof label, "note.%s", kind);
    dr__sim_trace(sim, label, 0, 0, 0, value);
}

/* ---- helpers for scenarios -------------------------------------------------------- */

static double draw_range(dr_rng *rng, double lo, double hi)
{
    return lo + (hi - lo) * dr_rng_unit(rng);
}

void dr_sim_faults_draw(uint64_t seed, dr_sim_faults *out)
{
    dr_rng rng;
    dr_rng_init(&rng, dr_seed_derive(seed, "faults"));
    dr_sim_faults f;
    memset(&f, 0, sizeof f);
    /* latency is always on: a network without it hides reorderings */
    f.net_latency_min_ns = (uint64_t)draw_range(&rng, 50e3, 1e6);
    f.net_latency_mean_ns = (uint64_t)draw_range(&rng, 100e3, 5e6);
    if (dr_rng_chance(&rng, 0.5)) {
        f.net_latency_tail_p = draw_range(&rng, 0.001, 0.01);
        f.net_latency_tail_max_ns = (uint64_t)draw_range(&rng, 50e6, 500e6);
    }
    if (dr_rng_chance(&rng, 0.3))
        f.net_refuse_p = draw_range(&rng, 0.01, 0.1);
    if (dr_rng_chance(&rng, 0.3))
        f.net_reset_p = draw_range(&rng, 0.0005, 0.005);
    if (dr_rng_chance(&rng, 0.3)) {
        f.net_stall_p = draw_range(&rng, 0.001, 0.02);
        f.net_stall_max_ns = (uint64_t)draw_range(&rng, 50e6, 2e9);
    }
    if (dr_rng_chance(&rng, 0.3))
        f.disk_eio_write_p = draw_range(&rng, 0.001, 0.01);
    if (dr_rng_chance(&rng, 0.3))
        f.disk_eio_fsync_p = draw_range(&rng, 0.001, 0.01);
    if (dr_rng_chance(&rng, 0.3))
        f.disk_enospc_p = draw_range(&rng, 0.001, 0.01);
    f.disk_crash_keep_p = dr_rng_unit(&rng);
    f.disk_crash_drop_p = (1.0 - f.disk_crash_keep_p) * dr_rng_unit(&rng);
    if (dr_rng_chance(&rng, 0.5))
        f.clock_offset_max_ns = (uint64_t)draw_range(&rng, 1e6, 10e9);
    if (dr_rng_chance(&rng, 0.5))
        f.clock_drift_max_ppm = draw_range(&rng, 1.0, 200.0);
    *out = f;
}

void dr_sim_faults_print(const dr_sim_faults *f, FILE *out)
{
    fprintf(out, "  net.latency        min=%.3fms mean=%.3fms\n", (double)f->net_latency_min_ns / 1e6,
            (double)f->net_latency_mean_ns / 1e6);
    if (f->net_latency_tail_p > 0)
        fprintf(out, "  net.latency_tail   on  p=%.4f max=%.1fms\n", f->net_latency_tail_p,
                (double)f->net_latency_tail_max_ns / 1e6);
    else
        fprintf(out, "  net.latency_tail   off\n");
#define PRINT_P(label, p)                                                        \
    do {                                                                         \
        if ((p) > 0)                                                             \
            fprintf(out, "  %-18s on  p=%.4f\n", label, (p));                    \
        else                                                                     \
            fprintf(out, "  %-18s off\n", label);                                \
    } while (0)
    PRINT_P("net.refuse", f->net_refuse_p);
    PRINT_P("net.reset", f->net_reset_p);
    if (f->net_stall_p > 0)
        fprintf(out, "  net.stall          on  p=%.4f max=%.1fms\n", f->net_stall_p,
                (double)f->net_stall_max_ns / 1e6);
    else
        fprintf(out, "  net.stall          off\n");
    PRINT_P("disk.eio_write", f->disk_eio_write_p);
    PRINT_P("disk.eio_fsync", f->disk_eio_fsync_p);
    PRINT_P("disk.enospc", f->disk_enospc_p);
#undef PRINT_P
    fprintf(out, "  disk.crash         keep=%.3f drop=%.3f torn=%.3f\n", f->disk_crash_keep_p,
            f->disk_crash_drop_p, 1.0 - f->disk_crash_keep_p - f->disk_crash_drop_p);
    if (f->clock_offset_max_ns > 0)
        fprintf(out, "  clock.offset       on  max=%.3fs\n", (double)f->clock_offset_max_ns / 1e9);
    else
        fprintf(out, "  clock.offset       off\n");
    if (f->clock_drift_max_ppm > 0)
        fprintf(out, "  clock.drift        on  max=%.1fppm\n", f->clock_drift_max_ppm);
    else
        fprintf(out, "  clock.drift        off\n");
}

void dr_sim_print_summary(const dr_sim *sim, FILE *out)
{
    fprintf(out, "faults fired:\n");
    for (size_t i = 0; i < sim->fault_kind_count; i++)
        fprintf(out, "  %-18s %" PRIu64 "\n", sim->fault_kinds[i], sim->fault_counts[i]);
    fprintf(out, "events: %" PRIu64 ", virtual time: %.3fs\n", sim->event_count,
            (double)sim->now_ns / 1e9);
    fprintf(out, "trace hash: 0x%016" PRIx64 "\n", dr_sim_trace_hash(sim));
}

bool dr__sim_path_blocked(const dr_sim *sim, const sim_host *a, const sim_host *b)
{
    if (!a->up || !b->up)
        return true;
    return sim->partition[(a->id - 1) * sim->partition_size + (b->id - 1)];
}

/* Loopback is fast and fault-free; otherwise min + exponential(mean),
 * sometimes plus a long tail. */
uint64_t dr__sim_net_latency(dr_sim *sim, const sim_host *a, const sim_host *b)
{
    if (a == b)
        return DR_SIM_LOOPBACK_LATENCY_NS;
    const dr_sim_faults *f = &sim->faults;
    uint64_t d = f->net_latency_min_ns;
    if (f->net_latency_mean_ns > 0) {
        double u = dr_rng_unit(&sim->net_rng);
        double x = -log1p(-u) * (double)f->net_latency_mean_ns;
        if (x > 60e9)
            x = 60e9;
        d += (uint64_t)x;
    }
    if (f->net_latency_tail_p > 0 && dr_rng_chance(&sim->net_rng, f->net_latency_tail_p)) {
        dr_sim_fault_fired(sim, "net.latency_tail");
        d += dr_rng_below(&sim->net_rng, f->net_latency_tail_max_ns + 1);
    }
    return d == 0 ? 1 : d;
}
