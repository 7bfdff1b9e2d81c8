/* bench/bench_codec.c — speed of the protobuf and JSON codecs on a
 * GET_STATE-sized master Response.
 *
 * Builds, from a seed, a Response{GET_STATE} with 10,000 agents, 100,000 tasks
 * (distinct ids, resources, labels, statuses), 100 frameworks and 1,000
 * executors, then times each codec's encode and decode separately (decode
 * includes validation and freeing the arena). For JSON decode it also times
 * bare jansson (json_loadb + json_decref) on the same bytes and prints
 * Dromos's overhead over it (negative: faster than jansson alone, as the
 * arena decoder parses without building a tree). Each figure is the median of
 * several runs, timed by the thread's CPU clock.
 *
 * Targets: protobuf >= 200 MB/s each way; JSON encode >= 100 MB/s; JSON decode
 * overhead over jansson <= 30%. `--smoke`: a tiny size, three runs, for CI.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <jansson.h>

#include "src/proto/json.h"
#include "src/proto/proto.h"

/* Thread CPU time, not wall time: the machines this runs on are shared, and
 * other processes' load would otherwise swing the figures several-fold. It
 * still counts this thread's page faults and kernel time. */
static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * DR_NS_PER_S + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_u64);
    return v[n / 2];
}

/* ---- building the message ---------------------------------------------------- */

typedef struct builder {
    dr_arena *arena;
    dr_rng rng;
} builder;

static void *msg_new(builder *b, const ProtobufCMessageDescriptor *d)
{
    void *m = dr_arena_alloc(b->arena, d->sizeof_message);
    protobuf_c_message_init(d, m);
    return m;
}

static char *str(builder *b, const char *fmt, ...) DR_PRINTF(2, 3);
static char *str(builder *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    DR_ASSERT(n >= 0 && (size_t)n < sizeof tmp);
    char *s = dr_arena_alloc(b->arena, (size_t)n + 1);
    memcpy(s, tmp, (size_t)n + 1);
    return s;
}

static void *array(builder *b, size_t count)
{
    return dr_arena_alloc(b->arena, count * sizeof(void *));
}

#define ID(b, T, desc, ...)                                 \
    ({                                                      \
        T *id_ = msg_new((b), &(desc));                     \
        id_->value = str((b), __VA_ARGS__);                 \
        id_;                                                \
    })

static Mesos__Resource *scalar(builder *b, const char *name, double value, const char *role)
{
    Mesos__Resource *r = msg_new(b, &mesos__resource__descriptor);
    r->name = str(b, "%s", name);
    r->type = MESOS__VALUE__TYPE__SCALAR;
    r->scalar = msg_new(b, &mesos__value__scalar__descriptor);
    r->scalar->value = value;
    if (role != NULL) {
        r->n_reservations = 1;
        r->reservations = array(b, 1);
        r->reservations[0] = msg_new(b, &mesos__resource__reservation_info__descriptor);
        r->reservations[0]->has_type = 1;
        r->reservations[0]->type = MESOS__RESOURCE__RESERVATION_INFO__TYPE__STATIC;
        r->reservations[0]->role = str(b, "%s", role);
    }
    return r;
}

static Mesos__Resource *ports(builder *b, uint64_t begin, uint64_t end)
{
    Mesos__Resource *r = msg_new(b, &mesos__resource__descriptor);
    r->name = str(b, "ports");
    r->type = MESOS__VALUE__TYPE__RANGES;
    r->ranges = msg_new(b, &mesos__value__ranges__descriptor);
    r->ranges->n_range = 1;
    r->ranges->range = array(b, 1);
    r->ranges->range[0] = msg_new(b, &mesos__value__range__descriptor);
    r->ranges->range[0]->begin = begin;
    r->ranges->range[0]->end = end;
    return r;
}

static Mesos__Labels *labels(builder *b, size_t count, uint64_t salt)
{
    Mesos__Labels *l = msg_new(b, &mesos__labels__descriptor);
    l->n_labels = count;
    l->labels = array(b, count);
    for (size_t i = 0; i < count; i++) {
        l->labels[i] = msg_new(b, &mesos__label__descriptor);
        l->labels[i]->key = str(b, "label-%zu", i);
        l->labels[i]->value = str(b, "value-%llx", (unsigned long long)(salt * 31 + i));
    }
    return l;
}

static void uuid(builder *b, ProtobufCBinaryData *out)
{
    uint8_t *d = dr_arena_alloc(b->arena, 16);
    uint64_t x = dr_rng_next(&b->rng), y = dr_rng_next(&b->rng);
    memcpy(d, &x, 8);
    memcpy(d + 8, &y, 8);
    out->data = d;
    out->len = 16;
}

static Mesos__TimeInfo *time_info(builder *b, int64_t ns)
{
    Mesos__TimeInfo *t = msg_new(b, &mesos__time_info__descriptor);
    t->nanoseconds = ns;
    return t;
}

static Mesos__Master__Response *build_state(dr_arena *arena, uint64_t seed, size_t agent_count,
                                            size_t task_count, size_t framework_count)
{
    builder bb = {.arena = arena};
    builder *b = &bb;
    dr_rng_init(&b->rng, seed);
    static const char *const roles[] = {"web", "db", "batch", "ml/train", "ml/serve"};
    static const Mesos__TaskState states[] = {
        MESOS__TASK_STATE__TASK_RUNNING, MESOS__TASK_STATE__TASK_RUNNING,
        MESOS__TASK_STATE__TASK_RUNNING, MESOS__TASK_STATE__TASK_STAGING,
        MESOS__TASK_STATE__TASK_FINISHED, MESOS__TASK_STATE__TASK_FAILED};

    Mesos__Master__Response *resp = msg_new(b, &mesos__master__response__descriptor);
    resp->has_type = 1;
    resp->type = MESOS__MASTER__RESPONSE__TYPE__GET_STATE;
    Mesos__Master__Response__GetState *st = msg_new(b, &mesos__master__response__get_state__descriptor);
    resp->get_state = st;

    /* Agents. */
    Mesos__Master__Response__GetAgents *ga = msg_new(b, &mesos__master__response__get_agents__descriptor);
    st->get_agents = ga;
    ga->n_agents = agent_count;
    ga->agents = array(b, agent_count);
    for (size_t i = 0; i < agent_count; i++) {
        Mesos__Master__Response__GetAgents__Agent *a =
            msg_new(b, &mesos__master__response__get_agents__agent__descriptor);
        ga->agents[i] = a;
        Mesos__AgentInfo *info = msg_new(b, &mesos__agent_info__descriptor);
        a->agent_info = info;
        info->hostname = str(b, "agent-%05zu.rack%02zu.dc1.example.com", i, i % 40);
        info->has_port = 1;
        info->port = 5051;
        info->id = ID(b, Mesos__AgentID, mesos__agent_id__descriptor, "6f2a1c4e-%08zx-S%zu", i, i);
        info->n_resources = 4;
        info->resources = array(b, 4);
        info->resources[0] = scalar(b, "cpus", 32, NULL);
        info->resources[1] = scalar(b, "mem", 262144, NULL);
        info->resources[2] = scalar(b, "disk", 1048576, NULL);
        info->resources[3] = ports(b, 31000, 32000);
        a->active = 1;
        a->version = str(b, "1.11.0");
        a->pid = str(b, "slave(1)@10.%zu.%zu.%zu:5051", i >> 16, (i >> 8) & 255, i & 255);
        a->registered_time = time_info(b, 1700000000000000000 + (int64_t)i * 1000);
        a->n_total_resources = 4;
        a->total_resources = info->resources;
        a->n_allocated_resources = 2;
        a->allocated_resources = array(b, 2);
        a->allocated_resources[0] = scalar(b, "cpus", 10 + (double)(i % 7), roles[i % 5]);
        a->allocated_resources[1] = scalar(b, "mem", 65536 + (double)(i % 13) * 1024, roles[i % 5]);
        a->n_capabilities = 3;
        a->capabilities = array(b, 3);
        for (size_t k = 0; k < 3; k++) {
            a->capabilities[k] = msg_new(b, &mesos__agent_info__capability__descriptor);
            a->capabilities[k]->has_type = 1;
            a->capabilities[k]->type = (Mesos__AgentInfo__Capability__Type)(k + 1);
        }
    }

    /* Frameworks. */
    Mesos__Master__Response__GetFrameworks *gf =
        msg_new(b, &mesos__master__response__get_frameworks__descriptor);
    st->get_frameworks = gf;
    gf->n_frameworks = framework_count;
    gf->frameworks = array(b, framework_count);
    for (size_t i = 0; i < framework_count; i++) {
        Mesos__Master__Response__GetFrameworks__Framework *f =
            msg_new(b, &mesos__master__response__get_frameworks__framework__descriptor);
        gf->frameworks[i] = f;
        Mesos__FrameworkInfo *fi = msg_new(b, &mesos__framework_info__descriptor);
        f->framework_info = fi;
        fi->user = str(b, "svc%zu", i);
        fi->name = str(b, "framework-%zu", i);
        fi->id = ID(b, Mesos__FrameworkID, mesos__framework_id__descriptor, "9d1e-%04zx-0000", i);
        fi->n_roles = 1;
        fi->roles = array(b, 1);
        fi->roles[0] = str(b, "%s", roles[i % 5]);
        fi->has_failover_timeout = 1;
        fi->failover_timeout = 604800;
        fi->has_checkpoint = 1;
        fi->checkpoint = 1;
        fi->hostname = str(b, "sched-%zu.example.com", i);
        f->active = 1;
        f->connected = 1;
        f->registered_time = time_info(b, 1700000000000000000 + (int64_t)i);
    }

    /* Executors: one per 100 tasks. */
    size_t executor_count = task_count / 100 + 1;
    Mesos__Master__Response__GetExecutors *ge =
        msg_new(b, &mesos__master__response__get_executors__descriptor);
    st->get_executors = ge;
    ge->n_executors = executor_count;
    ge->executors = array(b, executor_count);
    for (size_t i = 0; i < executor_count; i++) {
        Mesos__Master__Response__GetExecutors__Executor *e =
            msg_new(b, &mesos__master__response__get_executors__executor__descriptor);
        ge->executors[i] = e;
        Mesos__ExecutorInfo *ei = msg_new(b, &mesos__executor_info__descriptor);
        e->executor_info = ei;
        ei->executor_id = ID(b, Mesos__ExecutorID, mesos__executor_id__descriptor, "exec-%zu", i);
        ei->framework_id = ID(b, Mesos__FrameworkID, mesos__framework_id__descriptor, "9d1e-%04zx-0000",
                              i % framework_count);
        ei->command = msg_new(b, &mesos__command_info__descriptor);
        ei->command->value = str(b, "/usr/libexec/mesos/executor --id=%zu", i);
        e->agent_id = ID(b, Mesos__AgentID, mesos__agent_id__descriptor, "6f2a1c4e-%08zx-S%zu",
                         i % agent_count, i % agent_count);
    }

    /* Tasks. */
    Mesos__Master__Response__GetTasks *gt = msg_new(b, &mesos__master__response__get_tasks__descriptor);
    st->get_tasks = gt;
    gt->n_tasks = task_count;
    gt->tasks = array(b, task_count);
    for (size_t i = 0; i < task_count; i++) {
        Mesos__Task *t = msg_new(b, &mesos__task__descriptor);
        gt->tasks[i] = t;
        size_t agent = (size_t)dr_rng_below(&b->rng, agent_count);
        size_t fw = (size_t)dr_rng_below(&b->rng, framework_count);
        t->name = str(b, "task-%zu.app-%zu", i, fw);
        t->task_id = ID(b, Mesos__TaskID, mesos__task_id__descriptor, "app-%zu.%016llx", fw,
                        (unsigned long long)dr_rng_next(&b->rng));
        t->framework_id = ID(b, Mesos__FrameworkID, mesos__framework_id__descriptor, "9d1e-%04zx-0000", fw);
        t->agent_id = ID(b, Mesos__AgentID, mesos__agent_id__descriptor, "6f2a1c4e-%08zx-S%zu", agent, agent);
        t->state = states[dr_rng_below(&b->rng, DR_ARRAY_COUNT(states))];
        t->n_resources = 3;
        t->resources = array(b, 3);
        t->resources[0] = scalar(b, "cpus", 0.1 * (double)(1 + dr_rng_below(&b->rng, 40)), roles[fw % 5]);
        t->resources[1] = scalar(b, "mem", 32.0 * (double)(1 + dr_rng_below(&b->rng, 256)), roles[fw % 5]);
        t->resources[2] = ports(b, 31000 + i % 1000, 31000 + i % 1000);
        size_t n_statuses = 1 + (size_t)dr_rng_below(&b->rng, 2);
        t->n_statuses = n_statuses;
        t->statuses = array(b, n_statuses);
        for (size_t k = 0; k < n_statuses; k++) {
            Mesos__TaskStatus *s = msg_new(b, &mesos__task_status__descriptor);
            t->statuses[k] = s;
            s->task_id = t->task_id;
            s->state = k + 1 == n_statuses ? t->state : MESOS__TASK_STATE__TASK_STARTING;
            s->has_source = 1;
            s->source = MESOS__TASK_STATUS__SOURCE__SOURCE_EXECUTOR;
            s->agent_id = t->agent_id;
            s->has_timestamp = 1;
            s->timestamp = 1700000000.0 + (double)dr_rng_below(&b->rng, 100000000) / 1000.0;
            s->has_uuid = 1;
            uuid(b, &s->uuid);
        }
        t->has_status_update_state = 1;
        t->status_update_state = t->state;
        t->has_status_update_uuid = 1;
        t->status_update_uuid = t->statuses[n_statuses - 1]->uuid;
        t->labels = labels(b, 2, i);
    }
    return resp;
}

/* ---- timing --------------------------------------------------------------------- */

typedef struct result {
    const char *name;
    uint64_t ns;
} result;

static void print_rate(const char *what, size_t bytes, uint64_t ns, size_t task_count)
{
    double mb_per_s = (double)bytes / 1e6 / ((double)ns / 1e9);
    printf("codec %s: %.1f MB/s, %.0f ns/task\n", what, mb_per_s, (double)ns / (double)task_count);
}

int main(int argc, char **argv)
{
    bool smoke = argc > 1 && strcmp(argv[1], "--smoke") == 0;
    if (argc > 1 && !smoke) {
        fprintf(stderr, "usage: bench_codec [--smoke]\n");
        return 2;
    }
    size_t agent_count = smoke ? 100 : 10000;
    size_t task_count = smoke ? 1000 : 100000;
    size_t run_count = smoke ? 3 : 7;
    const ProtobufCMessageDescriptor *desc = &mesos__master__response__descriptor;

    dr_arena build_arena;
    dr_arena_init(&build_arena);
    uint64_t t0 = now_ns();
    Mesos__Master__Response *state = build_state(&build_arena, 20260101, agent_count, task_count, 100);
    uint64_t build_ns = now_ns() - t0;

    dr_buf pb, js;
    dr_buf_init(&pb);
    dr_buf_init(&js);
    dr_err err = {0};
    uint64_t pe[16], pd[16], je[16], jd[16], jp[16];
    for (size_t r = 0; r < run_count; r++) {
        dr_buf_reset(&pb);
        t0 = now_ns();
        if (dr_proto_encode(&state->base, &pb, &err) != DR_OK) {
            fprintf(stderr, "bench_codec: %s\n", err.msg);
            return 1;
        }
        pe[r] = now_ns() - t0;

        t0 = now_ns();
        dr_arena arena;
        dr_arena_init(&arena);
        ProtobufCMessage *m = NULL;
        if (dr_proto_decode(desc, pb.data, pb.size, &arena, &m, &err) != DR_OK) {
            fprintf(stderr, "bench_codec: %s\n", err.msg);
            return 1;
        }
        dr_arena_deinit(&arena);
        pd[r] = now_ns() - t0;

        dr_buf_reset(&js);
        t0 = now_ns();
        if (dr_json_encode(&state->base, &js, &err) != DR_OK) {
            fprintf(stderr, "bench_codec: %s\n", err.msg);
            return 1;
        }
        je[r] = now_ns() - t0;

        t0 = now_ns();
        dr_arena_init(&arena);
        if (dr_json_decode(desc, (const char *)js.data, js.size, &arena, &m, &err) != DR_OK) {
            fprintf(stderr, "bench_codec: %s\n", err.msg);
            return 1;
        }
        dr_arena_deinit(&arena);
        jd[r] = now_ns() - t0;
    }
    /* jansson last: freeing its millions of small nodes leaves glibc's heap
     * with work (malloc_consolidate) that would land on whatever runs next. */
    for (size_t r = 0; r < run_count; r++) {
        t0 = now_ns();
        json_error_t jerr;
        json_t *root = json_loadb((const char *)js.data, js.size, 0, &jerr);
        if (root == NULL) {
            fprintf(stderr, "bench_codec: jansson: %s\n", jerr.text);
            return 1;
        }
        json_decref(root);
        jp[r] = now_ns() - t0;
    }

    /* Check the two codecs agree before printing any speed. */
    dr_arena arena;
    dr_arena_init(&arena);
    ProtobufCMessage *back = NULL;
    dr_buf pb2;
    dr_buf_init(&pb2);
    if (dr_json_decode(desc, (const char *)js.data, js.size, &arena, &back, &err) != DR_OK ||
        dr_json_encode(back, &pb2, &err) != DR_OK || pb2.size != js.size ||
        memcmp(pb2.data, js.data, js.size) != 0) {
        fprintf(stderr, "bench_codec: JSON round trip differs\n");
        return 1;
    }
    dr_arena_deinit(&arena);
    dr_buf_deinit(&pb2);
    /* What a decoded message takes in its arena, for the page faults. */
    dr_arena_init(&arena);
    if (dr_proto_decode(desc, pb.data, pb.size, &arena, &back, &err) != DR_OK) {
        fprintf(stderr, "bench_codec: %s\n", err.msg);
        return 1;
    }
    size_t pb_arena_size = arena.used_size;
    dr_arena_deinit(&arena);

    printf("codec message: GET_STATE response, %zu agents, %zu tasks, protobuf %.1f MB, "
           "JSON %.1f MB, built in %.0f ms, median of %zu runs, thread CPU time\n",
           agent_count, task_count, (double)pb.size / 1e6, (double)js.size / 1e6,
           (double)build_ns / 1e6, run_count);
    uint64_t pe_ns = median(pe, run_count), pd_ns = median(pd, run_count);
    uint64_t je_ns = median(je, run_count), jd_ns = median(jd, run_count);
    uint64_t jp_ns = median(jp, run_count);
    print_rate("protobuf encode", pb.size, pe_ns, task_count);
    print_rate("protobuf decode", pb.size, pd_ns, task_count);
    printf("codec protobuf decode arena: %.1f MB, %.1f times the wire size\n",
           (double)pb_arena_size / 1e6, (double)pb_arena_size / (double)pb.size);
    print_rate("json encode", js.size, je_ns, task_count);
    print_rate("json decode", js.size, jd_ns, task_count);
    print_rate("jansson parse (bare)", js.size, jp_ns, task_count);
    printf("codec json decode overhead over jansson: %.1f%% (target <= 30%%)\n",
           100.0 * ((double)jd_ns - (double)jp_ns) / (double)jp_ns);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("codec peak memory: %.1f MB (maxrss)\n", (double)ru.ru_maxrss / 1024.0);
    dr_buf_deinit(&pb);
    dr_buf_deinit(&js);
    dr_arena_deinit(&build_arena);
    return 0;
}
