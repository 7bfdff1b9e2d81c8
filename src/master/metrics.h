/* src/master/metrics.h — the master's metrics under Mesos's names, as
 * /metrics/snapshot and the operator GET_METRICS serve them, and a small
 * timer statistic (Mesos's process::metrics::Timer: last value, count, min,
 * max and percentiles over a window of recent samples).
 *
 * Internal to src/master. Gauges are computed by walking the model when a
 * snapshot is taken; counters come from dr_master_counters. Pure over the
 * model and the env's monotonic clock.
 */
#ifndef DR_MASTER_METRICS_H
#define DR_MASTER_METRICS_H

#include "src/base/base.h"

typedef struct dr_master dr_master;

/* ---- timer statistic --------------------------------------------------------- */

/* Samples kept for percentiles: the newest ones (Mesos keeps an hour of
 * them, thinned to 1000; at one cycle a second this window is ~17 minutes). */
#define DR_TIMER_STAT_SAMPLE_COUNT_MAX 1000u

typedef struct dr_timer_stat {
    uint64_t samples_ns[DR_TIMER_STAT_SAMPLE_COUNT_MAX]; /* ring of the newest */
    size_t sample_count;  /* samples in the ring, <= DR_TIMER_STAT_SAMPLE_COUNT_MAX */
    size_t next_index;    /* where the next sample goes */
    uint64_t total_count; /* every sample ever added */
    uint64_t last_ns;
} dr_timer_stat;

void dr_timer_stat_init(dr_timer_stat *t);
void dr_timer_stat_add(dr_timer_stat *t, uint64_t sample_ns);
/* The q-quantile (0 <= q <= 1) of the window in nanoseconds, by the
 * nearest-rank method; 0 when empty. */
uint64_t dr_timer_stat_quantile_ns(const dr_timer_stat *t, double q);
uint64_t dr_timer_stat_min_ns(const dr_timer_stat *t);
uint64_t dr_timer_stat_max_ns(const dr_timer_stat *t);

/* ---- snapshots ------------------------------------------------------------------- */

typedef struct dr_metric {
    char name[96]; /* "master/tasks_running" */
    double value;
} dr_metric;

/* A snapshot: metrics sorted by name (as Mesos's JSON object is). Owns items. */
typedef struct dr_metrics {
    dr_metric *items;
    size_t count;
    size_t capacity;
} dr_metrics;

void dr_metrics_init(dr_metrics *ms);
void dr_metrics_deinit(dr_metrics *ms);
/* Adds (or replaces) name = value. name must fit dr_metric.name. */
void dr_metrics_set(dr_metrics *ms, const char *name, double value);
/* The value of name, or NAN when absent (for tests). */
double dr_metrics_get(const dr_metrics *ms, const char *name);
/* Adds a timer's metrics as libprocess's Timer<Milliseconds> does: name (the
 * last sample), then over the window name/count (samples in it), name/min,
 * name/max, name/p50, /p90, /p95, /p99, /p999, /p9999, in milliseconds.
 * Mesos leaves the statistics out below two samples; here they are 0 then, so
 * the set of names never changes. */
void dr_metrics_set_timer(dr_metrics *ms, const char *name, const dr_timer_stat *t);

/* Takes a snapshot of the master's metrics into ms (initialized; cleared
 * first), sorted by name. */
void dr__metrics_collect(dr_master *m, dr_metrics *ms);

/* Appends the flat JSON object {"name":value,...} to out. */
void dr_metrics_json(const dr_metrics *ms, dr_buf *out);

#endif /* DR_MASTER_METRICS_H */
