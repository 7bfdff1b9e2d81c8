/* src/master/metrics.c — the master's metrics under Mesos's names
 * (/metrics/snapshot, operator GET_METRICS) and the timer statistic behind
 * allocator/mesos/allocation_run_ms.
 *
 * Owns: the list of metric names and how each value is computed. Gauges
 * (agents, frameworks and tasks by state, resources) walk the model, whose
 * maps are ordered by id; counters come from dr_master_counters. Leaves HTTP
 * and codecs to v0.c and operator.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/master/metrics.h"
#include "src/master/operator.h"

/* ---- timer statistic --------------------------------------------------------- */

void dr_timer_stat_init(dr_timer_stat *t) { memset(t, 0, sizeof *t); }

void dr_timer_stat_add(dr_timer_stat *t, uint64_t sample_ns)
{
    DR_ASSERT(t->next_index < DR_TIMER_STAT_SAMPLE_COUNT_MAX);
    t->samples_ns[t->next_index] = sample_ns;
    t->next_index = (t->next_index + 1) % DR_TIMER_STAT_SAMPLE_COUNT_MAX;
    if (t->sample_count < DR_TIMER_STAT_SAMPLE_COUNT_MAX)
        t->sample_count++;
    t->total_count++;
    t->last_ns = sample_ns;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least q of the window at or
 * below it. sorted holds count > 0 samples in ascending order. */
static uint64_t rank_of(const uint64_t *sorted, size_t count, double q)
{
    DR_ASSERT(count > 0);
    DR_ASSERT(q >= 0.0);
    DR_ASSERT(q <= 1.0);
    size_t rank = (size_t)ceil(q * (double)count);
    if (rank == 0)
        rank = 1;
    return sorted[DR_MIN(rank, count) - 1];
}

uint64_t dr_timer_stat_quantile_ns(const dr_timer_stat *t, double q)
{
    if (t->sample_count == 0)
        return 0;
    uint64_t sorted[DR_TIMER_STAT_SAMPLE_COUNT_MAX];
    memcpy(sorted, t->samples_ns, t->sample_count * sizeof sorted[0]);
    qsort(sorted, t->sample_count, sizeof sorted[0], cmp_u64);
    return rank_of(sorted, t->sample_count, q);
}

uint64_t dr_timer_stat_min_ns(const dr_timer_stat *t)
{
    uint64_t min = UINT64_MAX;
    for (size_t i = 0; i < t->sample_count; i++)
        min = DR_MIN(min, t->samples_ns[i]);
    return t->sample_count == 0 ? 0 : min;
}

uint64_t dr_timer_stat_max_ns(const dr_timer_stat *t)
{
    uint64_t max = 0;
    for (size_t i = 0; i < t->sample_count; i++)
        max = DR_MAX(max, t->samples_ns[i]);
    return max;
}

/* ---- snapshots ------------------------------------------------------------------- */

void dr_metrics_init(dr_metrics *ms) { memset(ms, 0, sizeof *ms); }

void dr_metrics_deinit(dr_metrics *ms)
{
    dr_free(ms->items);
    memset(ms, 0, sizeof *ms);
}

/* Binary search: the index of name, or where it would go. */
static size_t metrics_find(const dr_metrics *ms, const char *name, bool *found)
{
    size_t lo = 0;
    size_t hi = ms->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ms->items[mid].name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

void dr_metrics_set(dr_metrics *ms, const char *name, double value)
{
    DR_ASSERT(strlen(name) < sizeof ms->items[0].name);
    bool found;
    size_t at = metrics_find(ms, name, &found);
    if (found) {
        ms->items[at].value = value;
        return;
    }
    if (ms->count == ms->capacity) {
        ms->capacity = ms->capacity == 0 ? 64 : ms->capacity * 2;
        ms->items = dr_realloc(ms->items, ms->capacity * sizeof ms->items[0]);
    }
    memmove(&ms->items[at + 1], &ms->items[at], (ms->count - at) * sizeof ms->items[0]);
    memset(&ms->items[at], 0, sizeof ms->items[at]);
    dr_strlcpy(ms->items[at].name, name, sizeof ms->items[at].name);
    ms->items[at].value = value;
    ms->count++;
}

double dr_metrics_get(const dr_metrics *ms, const char *name)
{
    bool found;
    size_t at = metrics_find(ms, name, &found);
    return found ? ms->items[at].value : NAN;
}

static double ns_to_ms(uint64_t ns) { return (double)ns / (double)DR_NS_PER_MS; }

void dr_metrics_set_timer(dr_metrics *ms, const char *name, const dr_timer_stat *t)
{
    static const struct {
        const char *suffix;
        double q;
    } quantiles[] = {{"p50", 0.5},   {"p90", 0.9},    {"p95", 0.95},
                     {"p99", 0.99},  {"p999", 0.999}, {"p9999", 0.9999}};
    char key[96];
    dr_metrics_set(ms, name, ns_to_ms(t->last_ns));
    /* libprocess's Statistics: count is the samples in the window. */
    snprintf(key, sizeof key, "%s/count", name);
    dr_metrics_set(ms, key, (double)t->sample_count);
    /* One sort of the window for every statistic. */
    uint64_t sorted[DR_TIMER_STAT_SAMPLE_COUNT_MAX];
    size_t n = t->sample_count;
    memcpy(sorted, t->samples_ns, n * sizeof sorted[0]);
    qsort(sorted, n, sizeof sorted[0], cmp_u64);
    snprintf(key, sizeof key, "%s/min", name);
    dr_metrics_set(ms, key, n == 0 ? 0.0 : ns_to_ms(sorted[0]));
    snprintf(key, sizeof key, "%s/max", name);
    dr_metrics_set(ms, key, n == 0 ? 0.0 : ns_to_ms(sorted[n - 1]));
    for (size_t i = 0; i < DR_ARRAY_COUNT(quantiles); i++) {
        snprintf(key, sizeof key, "%s/%s", name, quantiles[i].suffix);
        dr_metrics_set(ms, key, n == 0 ? 0.0 : ns_to_ms(rank_of(sorted, n, quantiles[i].q)));
    }
}

void dr_metrics_json(const dr_metrics *ms, dr_buf *out)
{
    dr_buf_append_str(out, "{");
    for (size_t i = 0; i < ms->count; i++) {
        /* Names are ours: ASCII without quotes or backslashes. */
        dr_buf_printf(out, "%s\"%s\":", i == 0 ? "" : ",", ms->items[i].name);
        dr__json_number(out, ms->items[i].value);
    }
    dr_buf_append_str(out, "}");
}

/* ---- the master's metrics ----------------------------------------------------------- */

/* Task states by their Mesos metric suffix. */
static const struct {
    Mesos__TaskState state;
    const char *name;
} task_states[] = {
    {MESOS__TASK_STATE__TASK_STAGING, "staging"},
    {MESOS__TASK_STATE__TASK_STARTING, "starting"},
    {MESOS__TASK_STATE__TASK_RUNNING, "running"},
    {MESOS__TASK_STATE__TASK_KILLING, "killing"},
    {MESOS__TASK_STATE__TASK_FINISHED, "finished"},
    {MESOS__TASK_STATE__TASK_FAILED, "failed"},
    {MESOS__TASK_STATE__TASK_KILLED, "killed"},
    {MESOS__TASK_STATE__TASK_LOST, "lost"},
    {MESOS__TASK_STATE__TASK_ERROR, "error"},
    {MESOS__TASK_STATE__TASK_DROPPED, "dropped"},
    {MESOS__TASK_STATE__TASK_UNREACHABLE, "unreachable"},
    {MESOS__TASK_STATE__TASK_GONE, "gone"},
    {MESOS__TASK_STATE__TASK_GONE_BY_OPERATOR, "gone_by_operator"},
};

static int task_state_slot(Mesos__TaskState state)
{
    for (size_t i = 0; i < DR_ARRAY_COUNT(task_states); i++)
        if (task_states[i].state == state)
            return (int)i;
    return -1;
}

static void count_task(uint64_t *counts, const dr_mtask *t)
{
    Mesos__TaskState state = t->unreachable ? MESOS__TASK_STATE__TASK_UNREACHABLE : t->state;
    int slot = task_state_slot(state);
    if (slot >= 0)
        counts[slot]++;
}

/* Live tasks only: terminal states are counters, so the completed
 * histories (up to max_completed_tasks_per_framework each) are not walked. */
static void count_framework_tasks(uint64_t *counts, const dr_mframework *fw)
{
    for (size_t i = 0; i < fw->tasks.count; i++)
        count_task(counts, fw->tasks.items[i].value);
}

static void set_resource_metrics(dr_metrics *ms, const char *name, double total, double used)
{
    char key[96];
    snprintf(key, sizeof key, "master/%s_total", name);
    dr_metrics_set(ms, key, total);
    snprintf(key, sizeof key, "master/%s_used", name);
    dr_metrics_set(ms, key, used);
    snprintf(key, sizeof key, "master/%s_percent", name);
    dr_metrics_set(ms, key, total > 0 ? used / total : 0.0);
}

void dr__metrics_collect(dr_master *m, dr_metrics *ms)
{
    ms->count = 0;
    const dr_master_counters *c = &m->counters;
    uint64_t now_ns = dr_env_now(m->env);

    dr_metrics_set(ms, "master/elected", 1);
    dr_metrics_set(ms, "master/uptime_secs",
                   (double)(now_ns - m->start_ns) / (double)DR_NS_PER_S);

    /* Agents. Mesos counts registered (connected or not) agents as active
     * unless deactivated; a disconnected agent is deactivated. */
    uint64_t agents_connected = 0, agents_disconnected = 0, agents_unreachable = 0;
    double totals[4] = {0}, useds[4] = {0};
    static const char *const res_names[4] = {"cpus", "mem", "disk", "gpus"};
    for (size_t i = 0; i < m->agents.count; i++) {
        const dr_magent *a = m->agents.items[i].value;
        if (a->state == DR_MAGENT_UNREACHABLE) {
            agents_unreachable++;
            continue;
        }
        if (a->state == DR_MAGENT_CONNECTED)
            agents_connected++;
        else
            agents_disconnected++;
        for (size_t r = 0; r < 4; r++) {
            totals[r] += dr_resources_scalar(&a->total_resources, res_names[r]);
            useds[r] += dr_resources_scalar(&a->used_resources, res_names[r]);
        }
    }
    dr_metrics_set(ms, "master/slaves_active", (double)agents_connected);
    dr_metrics_set(ms, "master/slaves_inactive", (double)agents_disconnected);
    dr_metrics_set(ms, "master/slaves_connected", (double)agents_connected);
    dr_metrics_set(ms, "master/slaves_disconnected", (double)agents_disconnected);
    dr_metrics_set(ms, "master/slaves_unreachable", (double)agents_unreachable);
    dr_metrics_set(ms, "master/slave_registrations", (double)c->agents_registered);
    dr_metrics_set(ms, "master/slave_reregistrations", (double)c->agents_reregistered);
    dr_metrics_set(ms, "master/slave_removals", (double)c->agents_removed);
    dr_metrics_set(ms, "master/slave_unreachable_scheduled", (double)c->agents_unreachable);
    dr_metrics_set(ms, "master/slave_unreachable_completed", (double)c->agents_unreachable);
    dr_metrics_set(ms, "master/slave_ping_timeouts", (double)c->agent_ping_timeouts);
    for (size_t r = 0; r < 4; r++)
        set_resource_metrics(ms, res_names[r], totals[r], useds[r]);

    /* Frameworks. */
    uint64_t fw_connected = 0, fw_disconnected = 0;
    uint64_t task_counts[DR_ARRAY_COUNT(task_states)] = {0};
    for (size_t i = 0; i < m->frameworks.count; i++) {
        const dr_mframework *fw = m->frameworks.items[i].value;
        if (fw->state == DR_MFRAMEWORK_CONNECTED)
            fw_connected++;
        else
            fw_disconnected++;
        count_framework_tasks(task_counts, fw);
    }
    dr_metrics_set(ms, "master/frameworks_active", (double)fw_connected);
    dr_metrics_set(ms, "master/frameworks_inactive", (double)fw_disconnected);
    dr_metrics_set(ms, "master/frameworks_connected", (double)fw_connected);
    dr_metrics_set(ms, "master/frameworks_disconnected", (double)fw_disconnected);

    /* Tasks, as Mesos: gauges for the live states (staging, starting,
     * running, killing, unreachable), and for the terminal ones monotonic
     * counters of transitions (dr_master_counters.tasks_terminal), which the
     * bounded completed-task history cannot give. */
    for (size_t i = 0; i < DR_ARRAY_COUNT(task_states); i++) {
        char key[96];
        snprintf(key, sizeof key, "master/tasks_%s", task_states[i].name);
        Mesos__TaskState state = task_states[i].state;
        double value = dr__task_state_terminal(state) ? (double)c->tasks_terminal[state]
                                                      : (double)task_counts[i];
        dr_metrics_set(ms, key, value);
    }

    /* Offers and messages. */
    dr_metrics_set(ms, "master/outstanding_offers", (double)m->offers.count);
    dr_metrics_set(ms, "master/messages_launch_tasks", (double)c->tasks_launched);
    dr_metrics_set(ms, "master/messages_decline_offers", (double)c->offers_declined);
    dr_metrics_set(ms, "master/messages_status_update", (double)c->status_updates);
    dr_metrics_set(ms, "master/messages_status_update_acknowledgement",
                   (double)c->status_update_acks);
    dr_metrics_set(ms, "master/messages_framework_to_executor",
                   (double)c->framework_to_executor_messages);
    dr_metrics_set(ms, "master/messages_executor_to_framework",
                   (double)c->executor_to_framework_messages);
    dr_metrics_set(ms, "master/messages_register_framework", (double)c->frameworks_subscribed);
    dr_metrics_set(ms, "master/messages_unregister_framework", (double)c->frameworks_removed);
    dr_metrics_set(ms, "master/valid_status_updates", (double)c->status_updates);
    dr_metrics_set(ms, "master/invalid_status_updates", (double)c->invalid_status_updates);
    dr_metrics_set(ms, "master/valid_status_update_acknowledgements",
                   (double)c->status_update_acks);
    dr_metrics_set(ms, "master/dropped_messages", (double)c->dropped_messages);

    /* Offer operations dropped in ACCEPT (all end in OPERATION_ERROR), as
     * Mesos's master/operations/error and master/operations/<type>/error. */
    static const struct {
        Mesos__Offer__Operation__Type type;
        const char *name;
    } op_types[] = {
        {MESOS__OFFER__OPERATION__TYPE__LAUNCH, "launch"},
        {MESOS__OFFER__OPERATION__TYPE__LAUNCH_GROUP, "launch_group"},
        {MESOS__OFFER__OPERATION__TYPE__RESERVE, "reserve"},
        {MESOS__OFFER__OPERATION__TYPE__UNRESERVE, "unreserve"},
        {MESOS__OFFER__OPERATION__TYPE__CREATE, "create"},
        {MESOS__OFFER__OPERATION__TYPE__DESTROY, "destroy"},
    };
    uint64_t op_errors = 0;
    for (size_t i = 0; i < DR_ARRAY_COUNT(c->operations_error); i++)
        op_errors += c->operations_error[i];
    dr_metrics_set(ms, "master/operations/error", (double)op_errors);
    for (size_t i = 0; i < DR_ARRAY_COUNT(op_types); i++) {
        char key[96];
        snprintf(key, sizeof key, "master/operations/%s/error", op_types[i].name);
        dr_metrics_set(ms, key, (double)c->operations_error[op_types[i].type]);
    }
    dr_metrics_set(ms, "master/invalid_executor_to_framework_messages", 0);
    dr_metrics_set(ms, "master/invalid_framework_to_executor_messages", 0);

    /* Scheduler calls, as Mesos names them (master/messages_<call>). */
    uint64_t sched_total = 0;
    for (size_t i = 0; i < DR_ARRAY_COUNT(c->scheduler_calls); i++)
        sched_total += c->scheduler_calls[i];
    dr_metrics_set(ms, "master/valid_framework_calls", (double)sched_total);
    dr_metrics_set(ms, "master/invalid_framework_calls", (double)c->scheduler_calls_invalid);

    /* The event queue: Dromos runs on one loop with no actor mailbox, so these
     * are always 0; kept because dashboards alert on them. */
    dr_metrics_set(ms, "master/event_queue_messages", 0);
    dr_metrics_set(ms, "master/event_queue_dispatches", 0);
    dr_metrics_set(ms, "master/event_queue_http_requests", 0);

    /* Registrar: no registry yet, nothing to recover. */
    dr_metrics_set(ms, "registrar/log/recovered", 1);
    dr_metrics_set(ms, "registrar/queued_operations", 0);
    dr_metrics_set(ms, "registrar/registry_size_bytes", 0);

    /* Allocator. */
    dr_metrics_set(ms, "allocator/mesos/allocation_runs", (double)c->allocation_runs);
    /* Every cycle's duration goes through dr__operator_note_allocation_run
     * into a window of the newest DR_TIMER_STAT_SAMPLE_COUNT_MAX; the
     * percentiles are those of real runs (zeros until the first). */
    dr_operator *op = dr__operator(m);
    dr_metrics_set_timer(ms, "allocator/mesos/allocation_run_ms", &op->allocation_run);
    dr_metrics_set(ms, "allocator/mesos/event_queue_dispatches", 0);

    dr_metrics_set(ms, "master/operator_event_stream_subscribers",
                   (double)op->subscriber_count);
}
