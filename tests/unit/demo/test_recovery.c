/* tests/unit/demo/test_recovery.c — a counter replica's log recovery on the
 * sim env: valid records are kept, a record failing its checksum and a
 * partial record after it are cut off (and the file truncated), and a second
 * replica on the same data directory is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sim/sim.h"
#include "src/demo/counter.h"

#define LOG_PATH "/data/counter/counter.log"

/* Writes 3 good records, a 4th with a broken checksum and 10 stray bytes. */
static void *prep_start(dr_env *env, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    dr_err err;
    assert_int_equal(dr_env_mkdir_p(env, "/data/counter", &err), DR_OK);
    dr_file *f = NULL;
    assert_int_equal(dr_env_open(env, LOG_PATH, DR_OPEN_WRITE | DR_OPEN_CREATE, &f, &err), DR_OK);
    uint8_t bytes[4 * DR_COUNTER_RECORD_SIZE + 10];
    memset(bytes, 0xab, sizeof bytes);
    for (uint64_t i = 1; i <= 4; i++) {
        dr_counter_record rec = {100 + i, i, i * 10};
        dr_counter_record_encode(&rec, i, bytes + (i - 1) * DR_COUNTER_RECORD_SIZE);
    }
    bytes[3 * DR_COUNTER_RECORD_SIZE + 5] ^= 0x40; /* record 4 torn */
    assert_int_equal(dr_env_pwrite(env, f, 0, bytes, sizeof bytes, &err), DR_OK);
    assert_int_equal(dr_env_fsync(env, f, &err), DR_OK);
    dr_env_close(env, f);
    return dr_alloc(1);
}

static void prep_crash(void *state) { dr_free(state); }

static const dr_sim_program prep_program = {"prep", prep_start, prep_crash, NULL};

static void *replica_start(dr_env *env, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    const char *peers[] = {"host-0:7000"};
    dr_counter_server_opts opts = {
        .id = 0, .replica_count = 1, .peers = peers, .data_dir = "/data/counter"};
    dr_counter_server *server = NULL;
    dr_err err;
    if (dr_counter_server_create(env, &opts, &server, &err) != DR_OK) {
        DR_WARN(env, "%s", err.msg);
        return NULL;
    }
    return server;
}

static void replica_crash(void *state) { dr_counter_server_drop(state); }
static void replica_stop(void *state) { dr_counter_server_destroy(state); }

static const dr_sim_program replica_program = {"replica", replica_start, replica_crash,
                                               replica_stop};

static uint64_t size_seen;

static void *stat_start(dr_env *env, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    dr_file_stat st;
    dr_err err;
    assert_int_equal(dr_env_stat(env, LOG_PATH, true, &st, &err), DR_OK);
    size_seen = st.size_bytes;
    return dr_alloc(1);
}

static const dr_sim_program stat_program = {"stat", stat_start, prep_crash, NULL};

static void torn_tail_is_cut(void **state)
{
    (void)state;
    dr_sim_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.seed = 5;
    dr_sim *sim = dr_sim_create(&opts);
    dr_sim_register_program(sim, &prep_program);
    dr_sim_register_program(sim, &replica_program);
    dr_sim_register_program(sim, &stat_program);
    dr_sim_host_id h = dr_sim_host_add(sim, "host-0");
    dr_err err;
    const char *prep_argv[] = {"prep", NULL};
    assert_true(dr_sim_process_start(sim, h, prep_argv, &err) != 0);

    const char *replica_argv[] = {"replica", NULL};
    dr_pid pid = dr_sim_process_start(sim, h, replica_argv, &err);
    assert_true(pid != 0);
    dr_counter_server_info info;
    dr_counter_server_get_info(dr_sim_process_state(sim, pid), &info);
    assert_int_equal(info.length, 3);
    assert_int_equal(info.durable_length, 3);
    assert_int_equal(info.log_value, 10 + 20 + 30);
    assert_true(info.serving); /* a lone replica commits what it holds */
    assert_int_equal(info.commit_value, 60);

    const char *stat_argv[] = {"stat", NULL};
    assert_true(dr_sim_process_start(sim, h, stat_argv, &err) != 0);
    assert_int_equal(size_seen, 3 * DR_COUNTER_RECORD_SIZE);

    /* the log is locked by the running replica */
    assert_int_equal(dr_sim_process_start(sim, h, replica_argv, &err), 0);

    /* a crash and restart recovers the same (now clean) log */
    dr_sim_host_crash(sim, h);
    dr_sim_host_restart(sim, h);
    pid = dr_sim_process_start(sim, h, replica_argv, &err);
    assert_true(pid != 0);
    dr_counter_server_get_info(dr_sim_process_state(sim, pid), &info);
    assert_int_equal(info.length, 3);
    assert_int_equal(info.log_value, 60);
    dr_sim_destroy(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(torn_tail_is_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
