/* tests/unit/agent/test_checkpoint.c — the checkpoint record format: framing
 * round trip, torn tails, corruption with the offending offset, single-record
 * files, and the status update record codec; and, on the simulator (the
 * harness of test_agent.c), which checkpoint files are durable: what a host
 * crash may drop or tear (forked.pid, a non-checkpointing framework's
 * executor files) is never read after the reboot, what it must keep is kept,
 * and an agent process crash loses none of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "src/agent/checkpoint.h"
#include "src/agent/agent.h"
#include "tests/unit/agent/harness.h"

#define S DR_NS_PER_S

typedef struct seen {
    size_t count;
    uint64_t offsets[8];
    size_t sizes[8];
} seen;

static bool record(const uint8_t *payload, size_t size, uint64_t offset, void *ctx)
{
    (void)payload;
    seen *s = ctx;
    if (s->count < 8) {
        s->offsets[s->count] = offset;
        s->sizes[s->count] = size;
    }
    s->count++;
    return true;
}

static void three_records(dr_buf *b)
{
    dr_buf_init(b);
    dr_ckpt_frame(b, "abc", 3);
    dr_ckpt_frame(b, "", 0);
    dr_ckpt_frame(b, "hello world", 11);
}

static void test_round_trip(void **state)
{
    (void)state;
    dr_buf b;
    three_records(&b);
    assert_int_equal(b.size, 3 * 16 + 14);
    seen s = {0};
    dr_ckpt_scan_result res;
    dr_err err;
    assert_int_equal(dr_ckpt_scan(b.data, b.size, false, true, record, &s, &res, &err), DR_OK);
    assert_int_equal(s.count, 3);
    assert_int_equal(s.offsets[1], 19);
    assert_int_equal(s.offsets[2], 35);
    assert_int_equal(s.sizes[2], 11);
    assert_false(res.torn);
    assert_int_equal(res.valid_size, b.size);
    dr_buf_deinit(&b);
}

static void test_torn_tail(void **state)
{
    (void)state;
    dr_buf b;
    three_records(&b);
    dr_err err;
    dr_ckpt_scan_result res;
    /* every cut inside the last record is a torn tail at offset 35 */
    for (size_t cut = 36; cut < b.size; cut++) {
        seen s = {0};
        assert_int_equal(dr_ckpt_scan(b.data, cut, false, true, record, &s, &res, &err), DR_OK);
        assert_true(res.torn);
        assert_int_equal(res.valid_size, 35);
        assert_int_equal(s.count, 2);
    }
    /* garbage in the last record's payload (full length): torn too */
    b.data[b.size - 1] ^= 0x55;
    assert_int_equal(dr_ckpt_scan(b.data, b.size, false, true, NULL, NULL, &res, &err), DR_OK);
    assert_true(res.torn);
    /* without allow_torn it is corruption */
    assert_int_equal(dr_ckpt_scan(b.data, b.size, false, false, NULL, NULL, &res, &err),
                     DR_ECORRUPT);
    assert_string_equal(err.msg, "bad checksum at offset 35");
    dr_buf_deinit(&b);
}

static void test_corruption_in_the_middle(void **state)
{
    (void)state;
    dr_buf b;
    three_records(&b);
    dr_err err;
    dr_ckpt_scan_result res;
    b.data[17] ^= 1; /* the first record's payload */
    assert_int_equal(dr_ckpt_scan(b.data, b.size, false, true, NULL, NULL, &res, &err),
                     DR_ECORRUPT);
    assert_string_equal(err.msg, "bad checksum at offset 0");
    assert_int_equal(res.valid_size, 0);
    b.data[17] ^= 1;
    b.data[27] ^= 1; /* the second's checksum */
    assert_int_equal(dr_ckpt_scan(b.data, b.size, false, true, NULL, NULL, &res, &err),
                     DR_ECORRUPT);
    assert_string_equal(err.msg, "bad checksum at offset 19");
    b.data[27] ^= 1;
    b.data[20] = 'x'; /* its magic: a good record follows, so not a torn tail */
    assert_int_equal(dr_ckpt_scan(b.data, b.size, false, true, NULL, NULL, &res, &err),
                     DR_ECORRUPT);
    assert_string_equal(err.msg, "bad magic at offset 19");
    assert_int_equal(res.valid_size, 19);
    dr_buf_deinit(&b);
}

static void test_single(void **state)
{
    (void)state;
    dr_buf b;
    dr_buf_init(&b);
    dr_err err;
    dr_ckpt_scan_result res;
    assert_int_equal(dr_ckpt_scan(b.data, 0, true, false, NULL, NULL, &res, &err), DR_ECORRUPT);
    assert_string_equal(err.msg, "empty at offset 0");
    dr_ckpt_frame(&b, "x", 1);
    assert_int_equal(dr_ckpt_scan(b.data, b.size, true, false, NULL, NULL, &res, &err), DR_OK);
    dr_ckpt_frame(&b, "y", 1);
    assert_int_equal(dr_ckpt_scan(b.data, b.size, true, false, NULL, NULL, &res, &err),
                     DR_ECORRUPT);
    assert_string_equal(err.msg, "expected one record, found more at offset 17");
    /* a protobuf record */
    Mesos__FrameworkID id = MESOS__FRAMEWORK_ID__INIT;
    id.value = (char *)"F1";
    dr_buf payload;
    dr_buf_init(&payload);
    assert_int_equal(dr_proto_encode(&id.base, &payload, &err), DR_OK);
    dr_buf_reset(&b);
    dr_ckpt_frame(&b, payload.data, payload.size);
    ProtobufCMessage *msg = NULL;
    assert_int_equal(dr_ckpt_decode_single(b.data, b.size, &mesos__framework_id__descriptor, &msg,
                                           &err),
                     DR_OK);
    assert_string_equal(((Mesos__FrameworkID *)msg)->value, "F1");
    dr_proto_free(msg);
    b.data[b.size - 1] ^= 0xff;
    assert_int_equal(dr_ckpt_decode_single(b.data, b.size, &mesos__framework_id__descriptor, &msg,
                                           &err),
                     DR_ECORRUPT);
    assert_string_equal(err.msg, "bad checksum at offset 0");
    dr_buf_deinit(&payload);
    dr_buf_deinit(&b);
}

static void test_update_records(void **state)
{
    (void)state;
    Mesos__TaskStatus st = MESOS__TASK_STATUS__INIT;
    Mesos__TaskID tid = MESOS__TASK_ID__INIT;
    uint8_t uuid[16] = {1, 2, 3};
    tid.value = (char *)"t1";
    st.task_id = &tid;
    st.state = MESOS__TASK_STATE__TASK_RUNNING;
    dr_buf b;
    dr_buf_init(&b);
    dr_err err;
    /* no uuid: refused when read back */
    assert_int_equal(dr_ckpt_encode_update(&st, &b, &err), DR_OK);
    int type = 0;
    Mesos__TaskStatus *out = NULL;
    const uint8_t *u = NULL;
    size_t usize = 0;
    assert_int_equal(dr_ckpt_decode_update(b.data + 16, b.size - 16, &type, &out, &u, &usize,
                                           &err),
                     DR_ECORRUPT);
    assert_string_equal(err.msg, "update record without a uuid");
    dr_buf_reset(&b);
    st.has_uuid = true;
    st.uuid.data = uuid;
    st.uuid.len = 16;
    assert_int_equal(dr_ckpt_encode_update(&st, &b, &err), DR_OK);
    assert_int_equal(dr_ckpt_decode_update(b.data + 16, b.size - 16, &type, &out, &u, &usize,
                                           &err),
                     DR_OK);
    assert_int_equal(type, DR_CKPT_UPDATE);
    assert_int_equal(out->state, MESOS__TASK_STATE__TASK_RUNNING);
    assert_memory_equal(out->uuid.data, uuid, 16);
    dr_proto_free(&out->base);
    dr_buf_reset(&b);
    dr_ckpt_encode_ack(uuid, 16, &b);
    assert_int_equal(dr_ckpt_decode_update(b.data + 16, b.size - 16, &type, &out, &u, &usize,
                                           &err),
                     DR_OK);
    assert_int_equal(type, DR_CKPT_ACK);
    assert_int_equal(usize, 16);
    assert_memory_equal(u, uuid, 16);
    const uint8_t bad[] = {7, 1};
    assert_int_equal(dr_ckpt_decode_update(bad, 2, &type, &out, &u, &usize, &err), DR_ECORRUPT);
    assert_string_equal(err.msg, "unknown update record type 7");
    dr_buf_deinit(&b);
}

/* ---- durability, on the simulator ----------------------------------------------- */

static void start_world(world *w, uint64_t seed)
{
    world_init(w, seed);
    assert_true(world_agent_start(w) > 0);
    world_run(w, 3 * S);
    dr_agent_info info;
    dr_agent_get_info(world_agent(w), &info);
    assert_true(info.registered);
}

static bool exists(world *w, const char *path)
{
    dr_file_stat st;
    dr_err err;
    return dr_env_stat(w->agent_host_env, path, false, &st, &err) == DR_OK;
}

/* Size of the file at path as the agent's host sees it; -1 if missing. */
static int64_t file_size(world *w, const char *path)
{
    dr_file_stat st;
    dr_err err;
    if (dr_env_stat(w->agent_host_env, path, false, &st, &err) != DR_OK)
        return -1;
    return (int64_t)st.size_bytes;
}

static void restart_host(world *w)
{
    dr_sim_host_crash(w->sim, w->agent_host);
    dr_sim_host_restart(w->sim, w->agent_host);
    const char *argv[] = {"blank", NULL};
    dr_err err;
    dr_pid blank = dr_sim_process_start(w->sim, w->agent_host, argv, &err);
    assert_true(blank > 0);
    w->agent_host_env = dr_sim_process_env(w->sim, blank);
}

#define F1_RUN "/work/meta/slaves/A-1/frameworks/F1/executors/c1/runs"
#define F2_DIR "/work/meta/slaves/A-1/frameworks/F2"

/* A task of a checkpointing framework (F1) and one of a framework that does
 * not checkpoint (F2) run; the host crashes with every unsynced page dropped
 * (even seeds) or torn (odd ones), and the directory changes not yet fsync'd
 * cut at a seeded point. The agent must recover under --strict without
 * skipping anything: F1's executor.info, runs/latest and task.info were
 * fsync'd, F2's framework.info too; forked.pid (never fsync'd) and F2's
 * executor files are not read. F1's task is reported lost. */
static void test_host_crash_reads_only_durable_files(void **state)
{
    (void)state;
    for (uint64_t seed = 40; seed < 48; seed++) {
        world w;
        start_world(&w, seed);
        fm_run_task(&w, "F1", "c1", "run", true, "cpus:1");
        fm_run_task(&w, "F2", "n1", "run", false, "cpus:1");
        world_run(&w, 2 * S);
        assert_int_equal(fm_count(&w, "c1", MESOS__TASK_STATE__TASK_RUNNING), 1);
        assert_int_equal(fm_count(&w, "n1", MESOS__TASK_STATE__TASK_RUNNING), 1);
        /* what a process crash would find: everything, in the page cache */
        assert_true(file_size(&w, F2_DIR "/executors/n1/executor.info") > 0);
        dr_sim_faults f;
        memset(&f, 0, sizeof f);
        f.disk_crash_drop_p = seed % 2 == 0 ? 1.0 : 0.0; /* else all torn */
        dr_sim_set_faults(w.sim, &f);
        restart_host(&w);
        dr_sim_set_faults(w.sim, &(dr_sim_faults){0});
        /* fsync'd before RUNNING went out */
        assert_true(file_size(&w, F1_RUN "/../executor.info") > 0);
        assert_true(exists(&w, F1_RUN "/latest"));
        char container[64];
        dr_err err;
        assert_int_equal(dr_env_readlink(w.agent_host_env, F1_RUN "/latest", container,
                                         sizeof container, &err),
                         DR_OK);
        char *task_info = dr_sprintf(F1_RUN "/%s/tasks/c1/task.info", container);
        assert_true(file_size(&w, task_info) > 0);
        dr_free(task_info);
        assert_true(file_size(&w, F2_DIR "/framework.info") > 0);

        assert_true(world_agent_start(&w) > 0);
        world_run(&w, 5 * S);
        if (world_agent(&w) == NULL)
            fail_msg("seed %llu: the agent did not recover", (unsigned long long)seed);
        dr_agent_info info;
        dr_agent_get_info(world_agent(&w), &info);
        assert_true(info.registered);
        assert_int_equal(info.checkpoint_records_skipped, 0);
        const fm_update *u = fm_last(&w, "c1");
        assert_int_equal(u->state, MESOS__TASK_STATE__TASK_LOST);
        assert_string_equal(u->message, "the agent's host rebooted");
        assert_int_equal(info.executor_count, 0);
        world_deinit(&w);
    }
}

/* The same two tasks, but only the agent's process crashes: the files
 * written without fsync are all there (the page cache survives), so the
 * checkpointing framework's executor is adopted again (its task finishes
 * after the restart) and the other framework's executor is found and
 * killed. */
static void test_process_crash_reads_unsynced_files(void **state)
{
    (void)state;
    world w;
    start_world(&w, 50);
    fm_run_task(&w, "F1", "c1", "finish3", true, "cpus:1");
    fm_run_task(&w, "F2", "n1", "run", false, "cpus:1");
    world_run(&w, 1 * S);
    world_agent_crash(&w);
    world_run(&w, 1 * S);
    assert_true(world_agent_start(&w) > 0);
    world_run(&w, 20 * S);
    dr_agent_info info;
    dr_agent_get_info(world_agent(&w), &info);
    assert_true(info.registered);
    assert_int_equal(info.checkpoint_records_skipped, 0);
    assert_int_equal(fm_last(&w, "c1")->state, MESOS__TASK_STATE__TASK_FINISHED);
    assert_int_equal(info.executor_count, 0); /* n1's executor was killed */
    world_deinit(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_torn_tail),
        cmocka_unit_test(test_corruption_in_the_middle),
        cmocka_unit_test(test_single),
        cmocka_unit_test(test_update_records),
        cmocka_unit_test(test_host_crash_reads_only_durable_files),
        cmocka_unit_test(test_process_crash_reads_unsynced_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
