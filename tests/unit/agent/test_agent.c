/* tests/unit/agent/test_agent.c — the agent on the simulator against a fake
 * master and the test executor: launch, status update stream (ack, resend
 * with backoff), kill, bad tasks, restart and recovery (re-subscription,
 * re-registration timeout, reboot), torn and corrupt checkpoints, the work
 * dir lock, sandbox confinement of /files, the operator API and metrics, and
 * a determinism check (same seed, same trace hash). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "test_executor.h"

#define S DR_NS_PER_S
#define RUNNING MESOS__TASK_STATE__TASK_RUNNING
#define FINISHED MESOS__TASK_STATE__TASK_FINISHED
#define FAILED MESOS__TASK_STATE__TASK_FAILED
#define KILLED MESOS__TASK_STATE__TASK_KILLED
#define LOST MESOS__TASK_STATE__TASK_LOST

static void start_registered_with(world *w, uint64_t seed, const char *const *extra)
{
    world_init(w, seed);
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++)
        w->extra_args[i] = extra[i];
    assert_true(world_agent_start(w) > 0);
    world_run(w, 3 * S);
    dr_agent_info info;
    dr_agent_get_info(world_agent(w), &info);
    assert_true(info.registered);
    assert_string_equal(info.agent_id, "A-1");
}

static void start_registered(world *w, uint64_t seed) { start_registered_with(w, seed, NULL); }

static bool file_exists(world *w, const char *path)
{
    dr_file_stat st;
    dr_err err;
    return dr_env_stat(w->agent_host_env, path, false, &st, &err) == DR_OK;
}

static void test_task_finishes(void **state)
{
    (void)state;
    world w;
    start_registered(&w, 1);
    fm_run_task(&w, "F1", "t1", "finish", true, "cpus:1;mem:128");
    world_run(&w, 5 * S);
    assert_int_equal(fm_count(&w, "t1", RUNNING), 1);
    assert_int_equal(fm_count(&w, "t1", FINISHED), 1);
    const fm_update *u = fm_last(&w, "t1");
    assert_int_equal(u->uuid_size, 16);
    dr_agent_info info;
    dr_agent_get_info(world_agent(&w), &info);
    assert_int_equal(info.tasks_finished, 1);
    assert_int_equal(info.task_count, 0);
    assert_int_equal(info.executors_launched, 1);
    assert_int_equal(info.updates_acknowledged, 2);
    /* the command executor is shut down once its task is done (grace 1 s) */
    assert_int_equal(info.executor_count, 0);
    assert_int_equal(info.executors_terminated, 1);
    /* sandbox laid out as Mesos lays it out, runs/latest pointing at the run */
    char target[128];
    dr_err err;
    assert_int_equal(dr_env_readlink(w.agent_host_env,
                                     "/work/slaves/A-1/frameworks/F1/executors/t1/runs/latest",
                                     target, sizeof target, &err),
                     DR_OK);
    char *sandbox = dr_sprintf("/work/slaves/A-1/frameworks/F1/executors/t1/runs/%s", target);
    assert_true(file_exists(&w, sandbox));
    dr_free(sandbox);
    assert_true(file_exists(&w, "/work/meta/slaves/A-1/slave.info"));
    assert_true(file_exists(&w, "/work/meta/slaves/A-1/frameworks/F1/framework.info"));
    assert_true(file_exists(&w, "/work/meta/boot_id"));
    world_deinit(&w);
}

static void test_update_resent_with_backoff(void **state)
{
    (void)state;
    world w;
    start_registered(&w, 2);
    w.fm.auto_ack = false;
    fm_run_task(&w, "F1", "t1", "run", true, "cpus:1");
    world_run(&w, 2 * S);
    assert_int_equal(fm_count(&w, "t1", RUNNING), 1);
    uint64_t first_ns = fm_last(&w, "t1")->at_ns;
    world_run(&w, 10 * S); /* first resend after 10 s */
    assert_int_equal(fm_count(&w, "t1", RUNNING), 2);
    world_run(&w, 20 * S); /* then 20 s */
    assert_int_equal(fm_count(&w, "t1", RUNNING), 3);
    uint64_t third_ns = fm_last(&w, "t1")->at_ns;
    assert_true(third_ns - first_ns >= 30 * S - DR_NS_PER_MS); /* network jitter */
    assert_true(third_ns - first_ns < 31 * S);
    /* the same update each time */
    assert_memory_equal(w.fm.updates[0].uuid, fm_last(&w, "t1")->uuid, 16);
    /* acknowledged: no more resends; the kill's update comes next */
    fm_ack(&w, "F1", fm_last(&w, "t1"));
    world_run(&w, 100 * S);
    assert_int_equal(fm_count(&w, "t1", RUNNING), 3);
    fm_kill_task(&w, "F1", "t1");
    world_run(&w, 1 * S);
    assert_int_equal(fm_count(&w, "t1", KILLED), 1);
    fm_ack(&w, "F1", fm_last(&w, "t1"));
    world_run(&w, 5 * S);
    dr_agent_info info;
    dr_agent_get_info(world_agent(&w), &info);
    assert_int_equal(info.tasks_killed, 1);
    assert_int_equal(info.task_count, 0);
    /* an acknowledgement of an unknown update is dropped */
    fm_update bogus = {.task_id = "t1", .uuid_size = 16};
    fm_ack(&w, "F1", &bogus);
    world_run(&w, 1 * S);
    world_deinit(&w);
}

static void test_bad_tasks(void **state)
{
    (void)state;
    world w;
    start_registered(&w, 3);
    fm_run_task(&w, "F1", "big", "run", true, "cpus:64");
    fm_run_task(&w, "F1", "a/b", "run", true, "cpus:1");
    world_run(&w, 2 * S);
    const fm_update *u = fm_last(&w, "big");
    assert_non_null(u);
    assert_int_equal(u->state, MESOS__TASK_STATE__TASK_ERROR);
    assert_string_equal(u->message, "needs cpus 64.000 but the agent has 4.000 left");
    u = fm_last(&w, "a/b");
    assert_non_null(u);
    assert_int_equal(u->state, MESOS__TASK_STATE__TASK_ERROR);
    assert_string_equal(u->message, "task id is not usable as a path component");
    /* the agent goes on */
    fm_run_task(&w, "F1", "ok", "finish", true, "cpus:1");
    world_run(&w, 3 * S);
    assert_int_equal(fm_count(&w, "ok", FINISHED), 1);
    /* the same task twice: ignored (RUN_TASK is idempotent) */
    fm_run_task(&w, "F1", "twice", "run", true, "cpus:1");
    fm_run_task(&w, "F1", "twice", "run", true, "cpus:1");
    world_run(&w, 2 * S);
    assert_int_equal(fm_count(&w, "twice", RUNNING), 1);
    world_deinit(&w);
}

static void test_restart_recovers(void **state)
{
    (void)state;
    world w;
    start_registered(&w, 4);
    fm_run_task(&w, "F1", "t1", "run", true, "cpus:1");
    world_run(&w, 2 * S);
    assert_int_equal(fm_count(&w, "t1", RUNNING), 1);
    dr_pid ex_pid = dr_agent_executor_pid(world_agent(&w), "F1", "t1");
    assert_true(ex_pid > 0);
    /* the agent dies with an update unacknowledged */
    w.fm.auto_ack = false;
    fm_kill_task(&w, "F1", "t1");
    world_run(&w, 100 * DR_NS_PER_MS);
    assert_int_equal(fm_count(&w, "t1", KILLED), 1);
    world_agent_crash(&w);
    world_run(&w, 1 * S);
    assert_true(dr_sim_process_alive(w.sim, ex_pid)); /* executors outlive the agent */
    assert_true(world_agent_start(&w) > 0);
    dr_agent_info info;
    dr_agent_get_info(world_agent(&w), &info);
    assert_true(info.recovering);
    assert_string_equal(info.agent_id, "A-1");
    world_run(&w, 3 * S);
    dr_agent_get_info(world_agent(&w), &info);
    assert_true(info.registered);
    assert_int_equal(w.fm.register_count, 2);
    assert_string_equal(w.fm.agent_id, "A-1"); /* re-registered with its id */
    assert_int_equal(w.fm.last_register_tasks, 1);
    assert_int_equal(w.fm.last_register_task_state, KILLED);
    /* the pending update is sent again, same uuid, and ends the task when acked */
    assert_int_equal(fm_count(&w, "t1", KILLED), 2);
    assert_memory_equal(w.fm.updates[w.fm.update_count - 1].uuid,
                        w.fm.updates[1].uuid, 16);
    fm_ack(&w, "F1", fm_last(&w, "t1"));
    world_run(&w, 5 * S);
    dr_agent_get_info(world_agent(&w), &info);
    assert_int_equal(info.task_count, 0);
    world_deinit(&w);
}

static void test_executor_not_returning(void **state)
{
    (void)state;
    world w;
    start_registered(&w, 5);
    fm_run_task(&w, "F1", "t1", "run", true, "cpus:1");
    fm_run_task(&w, "F1", "t2", "run", true, "cpus:1");
    world_run(&w, 2 * S);
    dr_pid p1 = dr_agent_executor_pid(world_agent(&w), "F1", "t1");
    dr_pid p2 = dr_agent_executor_pid(world_agent(&w), "F1", "t2");
    world_agent_crash(&w);
    dr_sim_process_pause(w.sim, p1); /* cannot re-subscribe in time */
    dr_sim_process_crash(w.sim, p2); /* gone while the agent was down */
    world_run(&w, 1 * S);
    assert_true(world_agent_start(&w) > 0);
    world_run(&w, 500 * DR_NS_PER_MS);
    const fm_update *u = fm_last(&w, "t2");
    dr_agent_info info;
    dr_agent_get_info(world_agent(&w), &info);
    assert_true(info.recovering); /* t1's executor still has time */
    world_run(&w, 5 * S);
    u = fm_last(&w, "t2");
    assert_int_equal(u->state, FAILED);
    assert_int_equal(u->reason, MESOS__TASK_STATUS__REASON__REASON_EXECUTOR_TERMINATED);
    u = fm_last(&w, "t1");
    assert_int_equal(u->state, FAILED);
    assert_int_equal(u->reason,
                     MESOS__TASK_STATUS__REASON__REASON_EXECUTOR_REREGISTRATION_TIMEOUT);
    dr_sim_process_resume(w.sim, p1);
    world_run(&w, 1 * S);
    assert_false(dr_sim_process_alive(w.sim, p1)); /* killed by the agent */
    world_deinit(&w);
}

/* The agent's kill of an executor reaches its whole tree: the task process
 * the executor started in a session of its own (as `dromos executor` does)
 * and that task's child, not only the executor's process group; and nothing
 * outside it (the agent, a process on the same host). */
static void test_executor_kill_reaches_task_sessions(void **state)
{
    (void)state;
    world w;
    const char *extra[] = {"--executor=tree-executor", NULL};
    start_registered_with(&w, 6, extra);
    fm_run_task(&w, "F1", "t1", "run", true, "cpus:1");
    world_run(&w, 2 * S);
    assert_int_equal(fm_count(&w, "t1", RUNNING), 1);
    dr_pid ex = dr_agent_executor_pid(world_agent(&w), "F1", "t1");
    assert_true(ex > 0);
    dr_pid task = 0, task_child = 0, job = 0;
    tree_executor_pids(&w, ex, &task, &task_child, &job);
    assert_true(dr_sim_process_alive(w.sim, task));
    assert_true(dr_sim_process_alive(w.sim, task_child));
    assert_true(dr_sim_process_alive(w.sim, job));
    const char *argv[] = {"blank", NULL};
    dr_err err;
    dr_pid bystander = dr_sim_process_start(w.sim, w.agent_host, argv, &err);
    assert_true(bystander > 0);

    world_agent_crash(&w);
    dr_sim_process_pause(w.sim, ex); /* cannot re-subscribe in time */
    world_run(&w, 1 * S);
    assert_true(dr_sim_process_alive(w.sim, task)); /* tasks outlive the agent */
    assert_true(world_agent_start(&w) > 0);
    world_run(&w, 5 * S);
    const fm_update *u = fm_last(&w, "t1");
    assert_int_equal(u->state, FAILED);
    assert_int_equal(u->reason,
                     MESOS__TASK_STATUS__REASON__REASON_EXECUTOR_REREGISTRATION_TIMEOUT);
    assert_false(dr_sim_process_alive(w.sim, ex));
    assert_false(dr_sim_process_alive(w.sim, task)); /* its own session: reached too */
    assert_false(dr_sim_process_alive(w.sim, task_child));
    assert_false(dr_sim_process_alive(w.sim, job));
    assert_true(dr_sim_process_alive(w.sim, w.agent_pid));
    assert_true(dr_sim_process_alive(w.sim, bystander));
    assert_true(dr_sim_process_alive(w.sim, w.master_pid));
    world_deinit(&w);
}

/* An executor that ends on its own leaves nothing behind in its session
 * and group: the agent kills what is left there, as Mesos destroys the
 * container. */
static void test_executor_exit_kills_leftovers(void **state)
{
    (void)state;
    world w;
    const char *extra[] = {"--executor=tree-executor", NULL};
    start_registered_with(&w, 7, extra);
    fm_run_task(&w, "F1", "t1", "run", true, "cpus:1");
    world_run(&w, 2 * S);
    dr_pid ex = dr_agent_executor_pid(world_agent(&w), "F1", "t1");
    assert_true(ex > 0);
    dr_pid task = 0, task_child = 0, job = 0;
    tree_executor_pids(&w, ex, &task, &task_child, &job);
    dr_sim_process_crash(w.sim, ex);
    assert_true(dr_sim_process_alive(w.sim, job)); /* a crash takes only the executor */
    world_run(&w, 1 * S);
    const fm_update *u = fm_last(&w, "t1");
    assert_int_equal(u->state, FAILED);
    assert_int_equal(u->reason, MESOS__TASK_STATUS__REASON__REASON_EXECUTOR_TERMINATED);
    assert_false(dr_sim_process_alive(w.sim, job));
    assert_true(dr_sim_process_alive(w.sim, w.agent_pid));
    world_deinit(&w);
}

/* The built-in executors are child subreapers: a process of the container
 * whose parent died (here the task's child, once the task crashed) is
 * reparented to the executor and still dies with the container. */
static void test_executor_kill_reaches_orphans(void **state)
{
    (void)state;
    world w;
    const char *extra[] = {"--executor=tree-executor", NULL};
    start_registered_with(&w, 8, extra);
    fm_run_task(&w, "F1", "t1", "run", true, "cpus:1");
    world_run(&w, 2 * S);
    dr_pid ex = dr_agent_executor_pid(world_agent(&w), "F1", "t1");
    assert_true(ex > 0);
    dr_pid task = 0, task_child = 0, job = 0;
    tree_executor_pids(&w, ex, &task, &task_child, &job);
    dr_sim_process_crash(w.sim, task); /* its child is orphaned */
    world_run(&w, 100 * DR_NS_PER_MS);
    assert_true(dr_sim_process_alive(w.sim, task_child));
    fm_shutdown_framework(&w, "F1");
    world_run(&w, 10 * S); /* SHUTDOWN, then the kill after the grace period */
    assert_false(dr_sim_process_alive(w.sim, ex));
    assert_false(dr_sim_process_alive(w.sim, task_child));
    assert_true(dr_sim_process_alive(w.sim, w.agent_pid));
    world_deinit(&w);
}

static void test_reboot_reports_lost(void **state)
{
    (void)state;
    world w;
    start_registered(&w, 6);
    fm_run_task(&w, "F1", "t1", "run", true, "cpus:1");
    world_run(&w, 2 * S);
    dr_sim_host_crash(w.sim, w.agent_host);
    dr_sim_host_restart(w.sim, w.agent_host);
    const char *argv[] = {"blank", NULL};
    dr_err err;
    dr_pid blank = dr_sim_process_start(w.sim, w.agent_host, argv, &err);
    w.agent_host_env = dr_sim_process_env(w.sim, blank);
    assert_true(world_agent_start(&w) > 0);
    world_run(&w, 3 * S);
    const fm_update *u = fm_last(&w, "t1");
    assert_int_equal(u->state, LOST);
    assert_string_equal(u->message, "the agent's host rebooted");
    world_deinit(&w);
}

static char *updates_path(world *w, const char *task)
{
    char target[128];
    dr_err err;
    char *latest = dr_sprintf("/work/meta/slaves/A-1/frameworks/F1/executors/%s/runs/latest", task);
    assert_int_equal(dr_env_readlink(w->agent_host_env, latest, target, sizeof target, &err),
                     DR_OK);
    dr_free(latest);
    return dr_sprintf("/work/meta/slaves/A-1/frameworks/F1/executors/%s/runs/%s/tasks/%s/"
                      "task.updates",
                      task, target, task);
}

static uint64_t file_size(world *w, const char *path)
{
    dr_file_stat st;
    dr_err err;
    assert_int_equal(dr_env_stat(w->agent_host_env, path, true, &st, &err), DR_OK);
    return st.size_bytes;
}

static void write_at(world *w, const char *path, uint64_t offset, const void *data, size_t size)
{
    dr_file *f = NULL;
    dr_err err;
    assert_int_equal(dr_env_open(w->agent_host_env, path, DR_OPEN_WRITE, &f, &err), DR_OK);
    assert_int_equal(dr_env_pwrite(w->agent_host_env, f, offset, data, size, &err), DR_OK);
    assert_int_equal(dr_env_fsync(w->agent_host_env, f, &err), DR_OK);
    dr_env_close(w->agent_host_env, f);
}

static void test_torn_tail_and_corruption(void **state)
{
    (void)state;
    world w;
    start_registered(&w, 7);
    fm_run_task(&w, "F1", "t1", "run", true, "cpus:1");
    world_run(&w, 2 * S);
    world_agent_crash(&w);
    char *path = updates_path(&w, "t1");
    uint64_t good = file_size(&w, path);
    assert_true(good > 16);
    /* a torn final record: half a header */
    write_at(&w, path, good, "DRCK\x40\x00", 6);
    assert_true(world_agent_start(&w) > 0);
    assert_non_null(world_agent(&w));
    assert_int_equal(file_size(&w, path), good); /* truncated back */
    world_run(&w, 3 * S);
    world_agent_crash(&w);
    /* corruption inside a record that is not the last: strict stops */
    good = file_size(&w, path);
    write_at(&w, path, 20, "\xff", 1);
    dr_agent_opts o = {.master = "master:5050", .work_dir = "/work", .port = 0, .strict = true};
    dr_agent *a = NULL;
    dr_err err;
    assert_int_equal(dr_agent_create(w.agent_host_env, &o, &a, &err), DR_ECORRUPT);
    char *want = dr_sprintf("checkpoint '%s': bad checksum at offset 0", path);
    assert_string_equal(err.msg, want);
    dr_free(want);
    /* without --strict it is skipped (and the agent starts) */
    o.strict = false;
    assert_int_equal(dr_agent_create(w.agent_host_env, &o, &a, &err), DR_OK);
    dr_agent_info info;
    dr_agent_get_info(a, &info);
    assert_int_equal(info.checkpoint_records_skipped, 1);
    dr_agent_destroy(a);
    dr_free(path);
    world_deinit(&w);
}

static void test_work_dir_locked(void **state)
{
    (void)state;
    world w;
    start_registered(&w, 8);
    dr_agent_opts o = {.master = "master:5050", .work_dir = "/work", .port = 0, .strict = true};
    dr_agent *a = NULL;
    dr_err err;
    assert_int_equal(dr_agent_create(w.agent_host_env, &o, &a, &err), DR_EBUSY);
    assert_string_equal(err.msg, "work dir '/work' is locked by another agent");
    world_deinit(&w);
}

static void test_files_and_operator_api(void **state)
{
    (void)state;
    world w;
    start_registered(&w, 9);
    fm_run_task(&w, "F1", "t1", "run", true, "cpus:1;mem:64");
    world_run(&w, 2 * S);
    const char *sandbox = dr_agent_sandbox(world_agent(&w), "F1", "t1");
    assert_true(sandbox[0] == '/');
    /* a file in the sandbox, and a symlink leading out of it */
    char *file = dr_sprintf("%s/hello.txt", sandbox);
    dr_file *f = NULL;
    dr_err err;
    assert_int_equal(dr_env_open(w.agent_host_env, file, DR_OPEN_WRITE | DR_OPEN_CREATE, &f, &err),
                     DR_OK);
    assert_int_equal(dr_env_append(w.agent_host_env, f, "hello\n", 6, &err), DR_OK);
    dr_env_close(w.agent_host_env, f);
    char *utf8 = dr_sprintf("%s/utf8.txt", sandbox);
    assert_int_equal(dr_env_open(w.agent_host_env, utf8, DR_OPEN_WRITE | DR_OPEN_CREATE, &f, &err),
                     DR_OK);
    assert_int_equal(dr_env_append(w.agent_host_env, f, "h\xc3\xa9 \xff", 5, &err), DR_OK);
    dr_env_close(w.agent_host_env, f);
    char *bin = dr_sprintf("%s/bin.txt", sandbox);
    assert_int_equal(dr_env_open(w.agent_host_env, bin, DR_OPEN_WRITE | DR_OPEN_CREATE, &f, &err),
                     DR_OK);
    assert_int_equal(dr_env_append(w.agent_host_env, f, "h\xc3\xa9", 3, &err), DR_OK);
    dr_env_close(w.agent_host_env, f);
    char *out_link = dr_sprintf("%s/escape", sandbox);
    assert_int_equal(dr_env_symlink(w.agent_host_env, "/work/meta", out_link, &err), DR_OK);
    char *in_link = dr_sprintf("%s/alias", sandbox);
    assert_int_equal(dr_env_symlink(w.agent_host_env, "hello.txt", in_link, &err), DR_OK);

    dr_buf body;
    dr_buf_init(&body);
    char *t = dr_sprintf("/files/read?path=%s/hello.txt&offset=0", sandbox);
    assert_int_equal(agent_http(&w, "GET", t, NULL, NULL, &body), 200);
    assert_string_equal(dr_buf_cstr(&body), "{\"data\":\"hello\\n\",\"offset\":0}");
    dr_free(t);
    t = dr_sprintf("/files/read?path=%s/bin.txt", sandbox); /* valid UTF-8 passes through */
    assert_int_equal(agent_http(&w, "GET", t, NULL, NULL, &body), 200);
    assert_string_equal(dr_buf_cstr(&body), "{\"data\":\"h\xc3\xa9\",\"offset\":0}");
    dr_free(t);
    t = dr_sprintf("/files/read?path=%s/utf8.txt", sandbox); /* other bytes are escaped */
    assert_int_equal(agent_http(&w, "GET", t, NULL, NULL, &body), 200);
    assert_string_equal(dr_buf_cstr(&body),
                        "{\"data\":\"h\\u00c3\\u00a9 \\u00ff\",\"offset\":0}");
    dr_free(t);
    dr_free(utf8);
    dr_free(bin);
    t = dr_sprintf("/files/read?path=/frameworks/F1/executors/t1/runs/latest/alias");
    assert_int_equal(agent_http(&w, "GET", t, NULL, NULL, &body), 200);
    dr_free(t);
    t = dr_sprintf("/files/read?path=%s/../../../../../../../meta/boot_id", sandbox);
    assert_int_equal(agent_http(&w, "GET", t, NULL, NULL, &body), 403);
    dr_free(t);
    t = dr_sprintf("/files/browse?path=%s/escape", sandbox);
    assert_int_equal(agent_http(&w, "GET", t, NULL, NULL, &body), 403);
    dr_free(t);
    assert_int_equal(agent_http(&w, "GET", "/files/read?path=/work/meta/boot_id", NULL, NULL,
                                &body),
                     404);
    t = dr_sprintf("/files/browse?path=%s", sandbox);
    assert_int_equal(agent_http(&w, "GET", t, NULL, NULL, &body), 200);
    assert_non_null(strstr(dr_buf_cstr(&body), "hello.txt"));
    dr_free(t);

    /* operator API */
    assert_int_equal(agent_http(&w, "POST", "/api/v1", "application/json",
                                "{\"type\":\"GET_TASKS\"}", &body),
                     200);
    assert_non_null(strstr(dr_buf_cstr(&body), "\"launched_tasks\""));
    assert_non_null(strstr(dr_buf_cstr(&body), "\"TASK_RUNNING\""));
    assert_int_equal(agent_http(&w, "POST", "/api/v1", "application/json",
                                "{\"type\":\"GET_HEALTH\"}", &body),
                     200);
    assert_non_null(strstr(dr_buf_cstr(&body), "\"healthy\":true"));
    assert_int_equal(agent_http(&w, "POST", "/api/v1", "application/json",
                                "{\"type\":\"LAUNCH_NESTED_CONTAINER\"}", &body),
                     501);
    assert_non_null(strstr(dr_buf_cstr(&body), "LAUNCH_NESTED_CONTAINER"));
    char *rf = dr_sprintf("{\"type\":\"READ_FILE\",\"read_file\":{\"path\":\"%s/hello.txt\","
                          "\"offset\":1,\"length\":3}}",
                          sandbox);
    assert_int_equal(agent_http(&w, "POST", "/api/v1", "application/json", rf, &body), 200);
    assert_non_null(strstr(dr_buf_cstr(&body), "\"data\":\"ZWxs\"")); /* "ell" */
    dr_free(rf);
    assert_int_equal(agent_http(&w, "POST", "/api/v1", "application/json",
                                "{\"type\":\"GET_STATE\"}", &body),
                     200);
    assert_non_null(strstr(dr_buf_cstr(&body), "\"get_frameworks\""));
    assert_int_equal(agent_http(&w, "GET", "/api/v1", NULL, NULL, &body), 405);
    assert_int_equal(agent_http(&w, "GET", "/metrics/snapshot", NULL, NULL, &body), 200);
    assert_non_null(strstr(dr_buf_cstr(&body), "\"slave/tasks_running\":1,"));
    assert_non_null(strstr(dr_buf_cstr(&body), "\"slave/registered\":1,"));
    assert_non_null(strstr(dr_buf_cstr(&body), "\"slave/cpus_used\":1,"));
    assert_non_null(strstr(dr_buf_cstr(&body), "\"slave/mem_total\":1024,"));
    dr_buf_deinit(&body);
    dr_free(file);
    dr_free(out_link);
    dr_free(in_link);
    world_deinit(&w);
}

static uint64_t run_scenario(uint64_t seed)
{
    world w;
    start_registered(&w, seed);
    fm_run_task(&w, "F1", "t1", "finish", true, "cpus:1");
    fm_run_task(&w, "F1", "t2", "fail", false, "cpus:1");
    world_run(&w, 10 * S);
    uint64_t hash = dr_sim_trace_hash(w.sim);
    assert_int_equal(fm_count(&w, "t2", FAILED), 1);
    world_deinit(&w);
    return hash;
}

static void test_same_seed_same_trace(void **state)
{
    (void)state;
    uint64_t a = run_scenario(42);
    uint64_t b = run_scenario(42);
    assert_true(a == b);
    uint64_t c = run_scenario(43);
    assert_true(a != c);
}

static void test_gc_removes_finished_sandboxes(void **state)
{
    (void)state;
    world w;
    const char *extra[] = {"--gc_delay_ms=20000", NULL};
    start_registered_with(&w, 11, extra);
    fm_run_task(&w, "F1", "t1", "finish", true, "cpus:1");
    world_run(&w, 1500 * DR_NS_PER_MS);
    char sandbox[256];
    dr_strlcpy(sandbox, dr_agent_sandbox(world_agent(&w), "F1", "t1"), sizeof sandbox);
    assert_true(sandbox[0] == '/');
    world_run(&w, 5 * S); /* finished, acknowledged, executor shut down */
    assert_true(file_exists(&w, sandbox));
    /* the sandbox is still served under its virtual path until the gc */
    dr_buf body;
    dr_buf_init(&body);
    assert_int_equal(agent_http(&w, "GET",
                                "/files/browse?path=/frameworks/F1/executors/t1/runs/latest",
                                NULL, NULL, &body),
                     200);
    /* gc_delay scaled by the free disk: 20 s * (1 - 0.1 - usage) */
    world_run(&w, 20 * S);
    assert_false(file_exists(&w, sandbox));
    assert_int_equal(agent_http(&w, "GET",
                                "/files/browse?path=/frameworks/F1/executors/t1/runs/latest",
                                NULL, NULL, &body),
                     404);
    dr_buf_deinit(&body);
    dr_agent_info info;
    dr_agent_get_info(world_agent(&w), &info);
    assert_int_equal(info.gc_removed, 1);
    world_deinit(&w);
}

static void test_task_group(void **state)
{
    (void)state;
    world w;
    start_registered(&w, 12);
    const char *ids[] = {"g1", "g2"};
    fm_run_group(&w, "F1", "E1", ids, 2, "run");
    world_run(&w, 2 * S);
    assert_int_equal(fm_count(&w, "g1", RUNNING), 1);
    assert_int_equal(fm_count(&w, "g2", RUNNING), 1);
    /* both in one executor */
    dr_agent_info info;
    dr_agent_get_info(world_agent(&w), &info);
    assert_int_equal(info.executor_count, 1);
    assert_int_equal(info.tasks_running, 2);
    /* the framework shuts down: its executor reports its tasks killed */
    fm_shutdown_framework(&w, "F1");
    world_run(&w, 3 * S);
    assert_int_equal(fm_last(&w, "g1")->state, KILLED);
    assert_int_equal(fm_last(&w, "g2")->state, KILLED);
    dr_agent_get_info(world_agent(&w), &info);
    assert_int_equal(info.executor_count, 0);
    assert_int_equal(info.task_count, 0);
    world_deinit(&w);
}

static void test_launch_failures(void **state)
{
    (void)state;
    world w;
    const char *extra[] = {"--executor_registration_timeout_ms=3000", NULL};
    start_registered_with(&w, 13, extra);
    /* a URI whose fetch fails */
    fm_run_task_uri(&w, "F1", "f1", "finish", "http://nowhere/x.tgz");
    world_run(&w, 2 * S);
    const fm_update *u = fm_last(&w, "f1");
    assert_non_null(u);
    assert_int_equal(u->state, FAILED);
    assert_int_equal(u->reason, MESOS__TASK_STATUS__REASON__REASON_CONTAINER_LAUNCH_FAILED);
    /* the fetcher's last line on stderr is quoted */
    assert_string_equal(u->message, "Failed to fetch the URIs: dromos fetch: "
                                    "'http://nowhere/x.tgz': could not resolve host 'nowhere' "
                                    "(the fetcher exited with status 1)");
    world_deinit(&w);

    /* an executor that never subscribes */
    const char *extra2[] = {"--executor_registration_timeout_ms=3000", "--executor=idle-executor",
                            NULL};
    start_registered_with(&w, 14, extra2);
    fm_run_task(&w, "F1", "t1", "finish", true, "cpus:1");
    world_run(&w, 2 * S);
    assert_int_equal(fm_count(&w, "t1", -1), 0);
    world_run(&w, 2 * S);
    u = fm_last(&w, "t1");
    assert_non_null(u);
    assert_int_equal(u->state, FAILED);
    assert_int_equal(u->reason, MESOS__TASK_STATUS__REASON__REASON_EXECUTOR_REGISTRATION_TIMEOUT);
    assert_string_equal(u->message, "Executor did not register within 3.0s");
    /* a kill before the executor has the task: TASK_KILLED at once */
    fm_run_task(&w, "F1", "t2", "finish", true, "cpus:1");
    world_run(&w, 500 * DR_NS_PER_MS);
    fm_kill_task(&w, "F1", "t2");
    world_run(&w, 500 * DR_NS_PER_MS);
    u = fm_last(&w, "t2");
    assert_int_equal(u->state, KILLED);
    assert_int_equal(u->reason, MESOS__TASK_STATUS__REASON__REASON_TASK_KILLED_DURING_LAUNCH);
    /* a kill of a task the agent does not know */
    fm_kill_task(&w, "F1", "nope");
    world_run(&w, 500 * DR_NS_PER_MS);
    assert_int_equal(fm_last(&w, "nope")->state, LOST);
    world_deinit(&w);
}

/* The executor's process of a command task t (its executor id is t). */
static bool executor_creds(world *w, const char *task_id, dr_sim_creds *out)
{
    dr_pid pid = dr_agent_executor_pid(world_agent(w), "F1", task_id);
    return pid > 0 && dr_sim_process_creds(w->sim, pid, out);
}

static void test_switch_user(void **state)
{
    (void)state;
    world w;
    const char *extra[] = {"--switch_user=true", NULL};
    world_init(&w, 40);
    const uint32_t alice_groups[] = {1000, 27};
    dr_sim_user_add(w.sim, "alice", 1000, 1000, alice_groups, 2);
    w.extra_args[0] = extra[0];
    assert_true(world_agent_start(&w) > 0);
    world_run(&w, 3 * S);

    /* the framework's user */
    fm_task_opts o = {.framework_user = "alice"};
    fm_run_task_with(&w, "F1", "t1", "run", &o);
    /* the command's user wins over the framework's */
    o.command_user = "nobody";
    fm_run_task_with(&w, "F1", "t2", "run", &o);
    world_run(&w, 2 * S);
    assert_int_equal(fm_count(&w, "t1", RUNNING), 1);
    assert_int_equal(fm_count(&w, "t2", RUNNING), 1);
    dr_sim_creds c;
    assert_true(executor_creds(&w, "t1", &c));
    assert_int_equal(c.uid, 1000);
    assert_int_equal(c.gid, 1000);
    assert_int_equal(c.group_count, 2);
    assert_int_equal(c.groups[0], 1000);
    assert_int_equal(c.groups[1], 27);
    assert_true(executor_creds(&w, "t2", &c));
    assert_int_equal(c.uid, 65534);
    assert_int_equal(c.gid, 65534);

    /* a user the host does not have: the task fails, naming the user (a
     * framework's user is the one it first ran a task with here: F2) */
    o = (fm_task_opts){.framework_user = "ghost"};
    fm_run_task_with(&w, "F2", "t3", "run", &o);
    world_run(&w, S);
    const fm_update *u = fm_last(&w, "t3");
    assert_non_null(u);
    assert_int_equal(u->state, FAILED);
    assert_int_equal(u->reason, MESOS__TASK_STATUS__REASON__REASON_CONTAINER_LAUNCH_FAILED);
    assert_string_equal(u->message, "Failed to launch the executor: user 'ghost': no such user");
    assert_int_equal(fm_count(&w, "t3", -1), 1);
    /* the same before a fetch: the fetcher runs as the user too */
    fm_run_task_uri(&w, "F3", "t4", "run", "http://nowhere/x.tgz"); /* framework user tester */
    world_run(&w, S);
    u = fm_last(&w, "t4");
    assert_non_null(u);
    assert_int_equal(u->state, FAILED);
    assert_string_equal(u->message, "Failed to launch the executor: user 'tester': no such user");
    /* the agent and its other tasks go on */
    o = (fm_task_opts){.framework_user = "root"};
    fm_run_task_with(&w, "F4", "t5", "finish", &o);
    world_run(&w, 3 * S);
    assert_int_equal(fm_last(&w, "t5")->state, FINISHED);
    assert_int_equal(fm_last(&w, "t1")->state, RUNNING);
    world_deinit(&w);

    /* without --switch_user: the agent's user (root), whatever is asked */
    start_registered(&w, 41);
    o = (fm_task_opts){.framework_user = "ghost", .command_user = "nobody"};
    fm_run_task_with(&w, "F1", "t1", "run", &o);
    world_run(&w, 2 * S);
    assert_int_equal(fm_count(&w, "t1", RUNNING), 1);
    assert_true(executor_creds(&w, "t1", &c));
    assert_int_equal(c.uid, 0);
    world_deinit(&w);
}

static Mesos__RLimitInfo__RLimit rlimit(int type, bool has_soft, uint64_t soft, bool has_hard,
                                        uint64_t hard)
{
    Mesos__RLimitInfo__RLimit l = MESOS__RLIMIT_INFO__RLIMIT__INIT;
    l.has_type = true;
    l.type = (Mesos__RLimitInfo__RLimit__Type)type;
    l.has_soft = has_soft;
    l.soft = soft;
    l.has_hard = has_hard;
    l.hard = hard;
    return l;
}

static void test_rlimits(void **state)
{
    (void)state;
    world w;
    start_registered(&w, 42);
    enum { NOFILE = MESOS__RLIMIT_INFO__RLIMIT__TYPE__RLMT_NOFILE,
           CORE = MESOS__RLIMIT_INFO__RLIMIT__TYPE__RLMT_CORE };
    Mesos__RLimitInfo__RLimit l[2] = {rlimit(NOFILE, true, 100, true, 200),
                                      rlimit(CORE, false, 0, false, 0)};
    Mesos__RLimitInfo__RLimit *lp[2] = {&l[0], &l[1]};
    Mesos__RLimitInfo info = MESOS__RLIMIT_INFO__INIT;
    info.n_rlimits = 2;
    info.rlimits = lp;
    fm_task_opts o = {.rlimit_info = &info};
    fm_run_task_with(&w, "F1", "ok", "run", &o);
    world_run(&w, 2 * S);
    assert_int_equal(fm_count(&w, "ok", RUNNING), 1);
    dr_sim_creds c;
    assert_true(executor_creds(&w, "ok", &c));
    assert_int_equal(c.rlimit_count, 2);
    assert_int_equal(c.rlimits[0].resource, DR_RLIMIT_NOFILE);
    assert_int_equal(c.rlimits[0].soft, 100);
    assert_int_equal(c.rlimits[0].hard, 200);
    assert_int_equal(c.rlimits[1].resource, DR_RLIMIT_CORE);
    assert_true(c.rlimits[1].soft == DR_RLIMIT_UNLIMITED); /* neither set: unlimited */
    assert_true(c.rlimits[1].hard == DR_RLIMIT_UNLIMITED);

    /* invalid ones end the task with the reason */
    static const struct {
        const char *task;
        size_t n;
        const char *message;
    } bad[] = {
        {"soft-above-hard", 1,
         "posix/rlimits: RLMT_NOFILE: soft limit 300 is above hard limit 200"},
        {"twice", 2, "posix/rlimits: RLMT_NOFILE: set more than once"},
        {"unknown", 1, "posix/rlimits: rlimit 0: unknown type 0"},
        {"half", 1,
         "posix/rlimits: RLMT_CORE: soft and hard limits must both be set or both be unset "
         "(unlimited)"},
    };
    Mesos__RLimitInfo__RLimit cases[4][2] = {
        {rlimit(NOFILE, true, 300, true, 200)},
        {rlimit(NOFILE, true, 1, true, 2), rlimit(NOFILE, false, 0, false, 0)},
        {rlimit(0, true, 1, true, 2)},
        {rlimit(CORE, true, 0, false, 0)},
    };
    for (size_t i = 0; i < DR_ARRAY_COUNT(bad); i++) {
        lp[0] = &cases[i][0];
        lp[1] = &cases[i][1];
        info.n_rlimits = bad[i].n;
        fm_run_task_with(&w, "F1", bad[i].task, "run", &o);
        world_run(&w, S);
        const fm_update *u = fm_last(&w, bad[i].task);
        assert_non_null(u);
        assert_int_equal(u->state, FAILED);
        assert_int_equal(u->reason, MESOS__TASK_STATUS__REASON__REASON_CONTAINER_LAUNCH_FAILED);
        char want[200];
        snprintf(want, sizeof want, "Failed to launch the executor: %s", bad[i].message);
        assert_string_equal(u->message, want);
    }
    assert_int_equal(fm_last(&w, "ok")->state, RUNNING); /* the others go on */
    world_deinit(&w);
}

/* SHUTDOWN for an executor that is not connected: as for a connected one,
 * SIGKILL only after the grace period (1 s in the harness), not at once. */
static void test_shutdown_waits_grace_period(void **state)
{
    (void)state;
    world w;
    const char *extra[] = {"--executor=idle-executor", "--executor_registration_timeout_ms=60000",
                           NULL};
    start_registered_with(&w, 43, extra);
    fm_run_task(&w, "F1", "t1", "run", true, "cpus:1");
    world_run(&w, S);
    dr_pid pid = dr_agent_executor_pid(world_agent(&w), "F1", "t1");
    assert_true(pid > 0);
    fm_shutdown_framework(&w, "F1");
    world_run(&w, 500 * DR_NS_PER_MS);
    /* the task was never delivered: killed at once; its executor still lives */
    assert_int_equal(fm_last(&w, "t1")->state, KILLED);
    assert_int_equal(fm_last(&w, "t1")->reason,
                     MESOS__TASK_STATUS__REASON__REASON_FRAMEWORK_REMOVED);
    assert_true(dr_sim_process_alive(w.sim, pid));
    world_run(&w, 700 * DR_NS_PER_MS);
    assert_false(dr_sim_process_alive(w.sim, pid));
    dr_agent_info info;
    dr_agent_get_info(world_agent(&w), &info);
    assert_int_equal(info.executor_count, 0);
    world_deinit(&w);
}

static void stopped(dr_env *env, void *ctx)
{
    (void)env;
    *(bool *)ctx = true;
}

/* A graceful stop (SIGTERM): the executor of a framework that does not
 * checkpoint gets SHUTDOWN (its task is reported killed) and SIGKILL only
 * after the grace period (1 s in the harness); done waits for it. The
 * executor of a checkpointing framework keeps running. */
static void test_graceful_stop(void **state)
{
    (void)state;
    world w;
    start_registered(&w, 44);
    fm_run_task(&w, "F1", "t1", "run", true, "cpus:1");
    fm_run_task(&w, "F2", "t2", "run", false, "cpus:1"); /* F2 does not checkpoint */
    world_run(&w, 2 * S);
    dr_pid p1 = dr_agent_executor_pid(world_agent(&w), "F1", "t1");
    dr_pid p2 = dr_agent_executor_pid(world_agent(&w), "F2", "t2");
    assert_true(p1 > 0 && p2 > 0);
    bool done = false;
    dr_agent_shutdown(world_agent(&w), stopped, &done);
    world_run(&w, 500 * DR_NS_PER_MS);
    assert_false(done);
    assert_true(dr_sim_process_alive(w.sim, p2)); /* within its grace period */
    int st = -1;
    assert_true(dr_agent_task_state(world_agent(&w), "F2", "t2", &st));
    assert_int_equal(st, KILLED); /* the executor had SHUTDOWN */
    world_run(&w, S);
    assert_true(done);
    assert_false(dr_sim_process_alive(w.sim, p2));
    assert_true(dr_sim_process_alive(w.sim, p1));
    world_deinit(&w);
}

/* An executor shut down before it subscribed still gets SHUTDOWN when it
 * subscribes within the grace period: it reports its tasks killed itself. */
static void test_shutdown_before_subscribe(void **state)
{
    (void)state;
    world w;
    const char *extra[] = {"--executor=late-executor",
                           "--executor_shutdown_grace_period_ms=5000", NULL};
    start_registered_with(&w, 45, extra);
    const char *ids[] = {"g1"};
    fm_run_group(&w, "F1", "E1", ids, 1, "run");
    world_run(&w, 500 * DR_NS_PER_MS);
    dr_pid pid = dr_agent_executor_pid(world_agent(&w), "F1", "E1");
    assert_true(pid > 0);
    fm_shutdown_framework(&w, "F1"); /* the executor has not subscribed yet */
    world_run(&w, 3 * S);
    assert_true(dr_sim_process_alive(w.sim, pid)); /* subscribed, had SHUTDOWN, waits */
    assert_int_equal(late_executor_subscribe_count(&w, pid), 1);
    assert_int_equal(fm_last(&w, "g1")->state, KILLED);
    world_run(&w, 3 * S);
    assert_false(dr_sim_process_alive(w.sim, pid)); /* killed after the grace period */
    world_deinit(&w);
}

static void test_removed_by_master(void **state)
{
    (void)state;
    world w;
    start_registered(&w, 15);
    fm_run_task(&w, "F1", "t1", "run", true, "cpus:1");
    world_run(&w, 2 * S);
    assert_true(file_exists(&w, "/work/meta/slaves/latest"));
    Dromos__Internal__AgentEvent ev = DROMOS__INTERNAL__AGENT_EVENT__INIT;
    Dromos__Internal__AgentEvent__Shutdown sd = DROMOS__INTERNAL__AGENT_EVENT__SHUTDOWN__INIT;
    sd.message = (char *)"Agent has been removed (gone): register as a new agent";
    ev.type = DROMOS__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN;
    ev.shutdown = &sd;
    fm_send(&w, &ev);
    world_run(&w, 3 * S);
    assert_string_equal(dr_agent_failure(world_agent(&w)), "removed by the master");
    assert_false(file_exists(&w, "/work/meta/slaves/latest")); /* the next start is a new agent */
    assert_int_equal(fm_last(&w, "t1")->state, KILLED); /* its executor was shut down */
    world_deinit(&w);
}

static void test_recover_cleanup_and_non_checkpointing(void **state)
{
    (void)state;
    world w;
    start_registered(&w, 16);
    fm_run_task(&w, "F1", "t1", "run", true, "cpus:1");
    fm_run_task(&w, "F2", "t2", "run", false, "cpus:1"); /* F2 does not checkpoint */
    world_run(&w, 2 * S);
    dr_pid p1 = dr_agent_executor_pid(world_agent(&w), "F1", "t1");
    dr_pid p2 = dr_agent_executor_pid(world_agent(&w), "F2", "t2");
    assert_true(p1 > 0 && p2 > 0);
    world_agent_crash(&w);
    w.extra_args[0] = "--recover=cleanup";
    assert_true(world_agent_start(&w) > 0);
    world_run(&w, 3 * S);
    assert_false(dr_sim_process_alive(w.sim, p1));
    assert_false(dr_sim_process_alive(w.sim, p2));
    const fm_update *u = fm_last(&w, "t1");
    assert_int_equal(u->state, FAILED);
    assert_string_equal(u->message, "killed at recovery (--recover=cleanup)");
    /* t2's updates were never checkpointed: the agent no longer knows it
     * (the master reports it lost at re-registration) */
    assert_int_equal(fm_last(&w, "t2")->state, RUNNING);
    assert_int_equal(w.fm.last_register_tasks, 1);
    dr_agent_info info;
    dr_agent_get_info(world_agent(&w), &info);
    assert_true(info.registered);
    world_deinit(&w);
}

/* A write fails while an update is checkpointed: the partial record is cut
 * off and the agent tries again at once, so the executor's UPDATE is taken
 * (202, as Mesos answers every UPDATE) and checkpointed, and a restart reads
 * the file back clean (strict). */
static void test_disk_error_on_update(void **state)
{
    (void)state;
    world w;
    start_registered(&w, 17);
    fm_run_task(&w, "F1", "t1", "finish2", true, "cpus:1");
    world_run(&w, 300 * DR_NS_PER_MS);
    /* running and acknowledged: the next write is the FINISHED update, 2 s in */
    assert_int_equal(fm_count(&w, "t1", RUNNING), 1);
    dr_pid ex_pid = dr_agent_executor_pid(world_agent(&w), "F1", "t1");
    assert_true(ex_pid > 0);
    dr_sim_fail_nth(w.sim, DR_SIM_OP_WRITE, 1);
    world_run(&w, 2500 * DR_NS_PER_MS);
    assert_non_null(dr_sim_process_state(w.sim, ex_pid));
    assert_int_equal(texec_update_refused_count(dr_sim_process_state(w.sim, ex_pid)), 0);
    assert_int_equal(fm_count(&w, "t1", RUNNING), 1);
    assert_int_equal(fm_count(&w, "t1", FINISHED), 1);
    dr_sim_fault_count counts[64];
    size_t n = dr_sim_fault_counts(w.sim, counts, 64);
    uint64_t injected = 0;
    for (size_t i = 0; i < n && i < 64; i++)
        if (strcmp(counts[i].kind, "inject.write") == 0)
            injected = counts[i].count;
    assert_int_equal(injected, 1);
    /* a restart reads the updates back: no corruption */
    fm_run_task(&w, "F1", "t2", "run", true, "cpus:1");
    world_run(&w, 2 * S);
    world_agent_crash(&w);
    assert_true(world_agent_start(&w) > 0);
    assert_non_null(world_agent(&w));
    world_run(&w, 3 * S);
    dr_agent_info info;
    dr_agent_get_info(world_agent(&w), &info);
    assert_true(info.registered);
    assert_int_equal(info.checkpoint_records_skipped, 0);
    world_deinit(&w);
}

/* The disk stays full while an update is checkpointed (both tries fail):
 * the executor's UPDATE is still taken (202), in memory only, forwarded and
 * acknowledged, so the task ends with the executor's own state instead of
 * stalling; the stream on disk simply lacks the record, and a restart reads
 * it back clean (strict). */
static void test_disk_full_on_update(void **state)
{
    (void)state;
    world w;
    start_registered(&w, 23);
    fm_run_task(&w, "F1", "t1", "finish2", true, "cpus:1");
    world_run(&w, 300 * DR_NS_PER_MS);
    assert_int_equal(fm_count(&w, "t1", RUNNING), 1);
    dr_pid ex_pid = dr_agent_executor_pid(world_agent(&w), "F1", "t1");
    assert_true(ex_pid > 0);
    /* the FINISHED record: the first append fails (its cut-off is synced:
     * fsync 1), the second is written but its fsync (2) fails */
    dr_sim_fail_nth(w.sim, DR_SIM_OP_WRITE, 1);
    dr_sim_fail_nth(w.sim, DR_SIM_OP_FSYNC, 2);
    world_run(&w, 2500 * DR_NS_PER_MS);
    assert_int_equal(texec_update_refused_count(dr_sim_process_state(w.sim, ex_pid)), 0);
    assert_int_equal(fm_count(&w, "t1", FINISHED), 1);
    dr_sim_fault_count counts[64];
    size_t n = dr_sim_fault_counts(w.sim, counts, 64);
    uint64_t injected = 0;
    for (size_t i = 0; i < n && i < 64; i++)
        if (strcmp(counts[i].kind, "inject.write") == 0 || strcmp(counts[i].kind, "inject.fsync") == 0)
            injected += counts[i].count;
    assert_int_equal(injected, 2);
    world_agent_crash(&w);
    assert_true(world_agent_start(&w) > 0);
    assert_non_null(world_agent(&w));
    world_run(&w, 3 * S);
    dr_agent_info info;
    dr_agent_get_info(world_agent(&w), &info);
    assert_true(info.registered);
    assert_int_equal(info.checkpoint_records_skipped, 0);
    world_deinit(&w);
}

static void test_attributes_and_json_resources(void **state)
{
    (void)state;
    world w;
    const char *extra[] = {"--attributes=rack:r1;size:3;zones:{a,b};slots:[1-4]",
                           "--resources=[{\"name\":\"cpus\",\"type\":\"SCALAR\","
                           "\"scalar\":{\"value\":2}}]",
                           NULL};
    start_registered_with(&w, 18, extra);
    dr_buf body;
    dr_buf_init(&body);
    assert_int_equal(agent_http(&w, "POST", "/api/v1", "application/json",
                                "{\"type\":\"GET_AGENT\"}", &body),
                     200);
    const char *b = dr_buf_cstr(&body);
    assert_non_null(strstr(b, "\"name\":\"rack\",\"text\":{\"value\":\"r1\"},\"type\":\"TEXT\""));
    assert_non_null(strstr(b, "\"name\":\"size\",\"scalar\":{\"value\":3"));
    assert_non_null(strstr(b, "\"set\":{\"item\":[\"a\",\"b\"]}"));
    assert_non_null(strstr(b, "\"ranges\":{\"range\":[{\"begin\":1,\"end\":4}]}"));
    /* cpus from --resources; mem detected: 16 GiB host minus 1 GiB */
    assert_int_equal(agent_http(&w, "GET", "/metrics/snapshot", NULL, NULL, &body), 200);
    assert_non_null(strstr(dr_buf_cstr(&body), "\"slave/cpus_total\":2,"));
    assert_non_null(strstr(dr_buf_cstr(&body), "\"slave/mem_total\":15360,"));
    dr_buf_deinit(&body);
    world_deinit(&w);
    /* a bad attribute: the agent does not start, with one line saying why */
    world_init(&w, 19);
    dr_agent_opts o = {.master = "master:5050", .work_dir = "/w2", .strict = true,
                       .attributes = "rack"};
    dr_agent *a = NULL;
    dr_err err;
    assert_int_equal(dr_agent_create(w.agent_host_env, &o, &a, &err), DR_EINVAL);
    assert_string_equal(err.msg, "attributes 'rack': expected NAME:VALUE");
    o.attributes = NULL;
    o.resources = "cpus:x";
    assert_int_equal(dr_agent_create(w.agent_host_env, &o, &a, &err), DR_EINVAL);
    assert_string_equal(err.msg, "resources 'cpus:x': value is not a number");
    world_deinit(&w);
}

static bool state_terminal(int s)
{
    return s == FINISHED || s == FAILED || s == KILLED || s == LOST ||
           s == MESOS__TASK_STATE__TASK_ERROR;
}

/* Safety then liveness under network faults (latency tails, resets,
 * stalls): while they last nothing may be reported after a terminal state;
 * once they stop, every task ends FINISHED and nothing stays pending. */
static void test_network_fault_sweep(void **state)
{
    (void)state;
    uint64_t resets = 0;
    for (uint64_t seed = 200; seed < 216; seed++) {
        world w;
        start_registered(&w, seed);
        dr_sim_faults f;
        memset(&f, 0, sizeof f);
        f.net_latency_min_ns = 50 * DR_NS_PER_US;
        f.net_latency_mean_ns = 2 * DR_NS_PER_MS;
        f.net_latency_tail_p = 0.01;
        f.net_latency_tail_max_ns = 3 * S;
        f.net_reset_p = 0.1;
        f.net_stall_p = 0.05;
        f.net_stall_max_ns = 2 * S;
        dr_sim_set_faults(w.sim, &f);
        const char *ids[] = {"a", "b", "c"};
        for (size_t i = 0; i < 3; i++)
            fm_run_task(&w, "F1", ids[i], "finish3", true, "cpus:1");
        world_run(&w, 60 * S);
        memset(&f, 0, sizeof f);
        dr_sim_set_faults(w.sim, &f);
        world_run(&w, 15 * 60 * S); /* resends back off up to 10 minutes */
        for (size_t i = 0; i < 3; i++) {
            const fm_update *last = fm_last(&w, ids[i]);
            if (last == NULL || last->state != FINISHED) {
                /* RUN_TASK itself may have been lost with a reset stream:
                 * then the agent never had the task (the master's
                 * reconciliation covers it) */
                if (last == NULL)
                    continue;
                fail_msg("seed %llu: task %s ended in state %d", (unsigned long long)seed,
                         ids[i], last->state);
            }
            bool ended = false;
            for (size_t u = 0; u < w.fm.update_count; u++) {
                const fm_update *up = &w.fm.updates[u];
                if (strcmp(up->task_id, ids[i]) != 0)
                    continue;
                if (ended && up->state != FINISHED)
                    fail_msg("seed %llu: task %s: state %d after FINISHED",
                             (unsigned long long)seed, ids[i], up->state);
                ended = ended || up->state == FINISHED;
            }
        }
        dr_agent_info info;
        dr_agent_get_info(world_agent(&w), &info);
        dr_sim_fault_count fc[64];
        size_t fn = dr_sim_fault_counts(w.sim, fc, 64);
        for (size_t i = 0; i < fn && i < 64; i++)
            if (strcmp(fc[i].kind, "net.reset") == 0)
                resets += fc[i].count;
        if (!info.registered || info.updates_pending != 0)
            fail_msg("seed %llu: registered %d, %llu updates pending", (unsigned long long)seed,
                     info.registered, (unsigned long long)info.updates_pending);
        world_deinit(&w);
    }
    print_message("network fault sweep: %llu connection resets\n", (unsigned long long)resets);
    assert_true(resets >= 16); /* the faults did fire */
}

/* The agent's host crashes at a seeded moment while tasks launch (unsynced
 * pages are kept, dropped or torn) and reboots: the agent must recover under
 * --strict (whatever the crash tore is a torn tail or an unfinished atomic
 * write, never corruption), register, and report every task it had started
 * as lost. */
static void test_host_crash_sweep(void **state)
{
    (void)state;
    unsigned lost = 0, started = 0;
    for (uint64_t seed = 300; seed < 324; seed++) {
        dr_rng rng;
        dr_rng_init(&rng, seed);
        world w;
        start_registered(&w, seed);
        dr_sim_faults f;
        memset(&f, 0, sizeof f);
        f.net_latency_min_ns = 20 * DR_NS_PER_US;
        f.net_latency_mean_ns = 300 * DR_NS_PER_US; /* spreads the launches over milliseconds */
        dr_sim_set_faults(w.sim, &f);
        const char *ids[] = {"a", "b", "c"};
        for (size_t i = 0; i < 3; i++)
            fm_run_task(&w, "F1", ids[i], "run", true, "cpus:1");
        world_run(&w, 1 + dr_rng_below(&rng, 3 * DR_NS_PER_MS)); /* amid the launches */
        size_t running_before = fm_count(&w, "a", RUNNING) + fm_count(&w, "b", RUNNING) +
                                fm_count(&w, "c", RUNNING);
        started += running_before;
        dr_sim_host_crash(w.sim, w.agent_host);
        dr_sim_host_restart(w.sim, w.agent_host);
        const char *argv[] = {"blank", NULL};
        dr_err err;
        dr_pid blank = dr_sim_process_start(w.sim, w.agent_host, argv, &err);
        w.agent_host_env = dr_sim_process_env(w.sim, blank);
        assert_true(world_agent_start(&w) > 0);
        if (world_agent(&w) == NULL)
            fail_msg("seed %llu: the agent did not recover", (unsigned long long)seed);
        world_run(&w, 5 * S);
        dr_agent_info info;
        dr_agent_get_info(world_agent(&w), &info);
        if (!info.registered || info.checkpoint_records_skipped != 0)
            fail_msg("seed %llu: registered %d, %llu records skipped", (unsigned long long)seed,
                     info.registered, (unsigned long long)info.checkpoint_records_skipped);
        for (size_t i = 0; i < 3; i++) {
            const fm_update *last = fm_last(&w, ids[i]);
            /* RUNNING went out only after its record was synced, so a task
             * the master saw running is known after the reboot: LOST */
            if (last != NULL && last->state != LOST)
                fail_msg("seed %llu: task %s in state %d", (unsigned long long)seed, ids[i],
                         last->state);
            lost += last != NULL && last->state == LOST;
        }
        world_deinit(&w);
    }
    print_message("host crash sweep: %u tasks running at the crash, %u reported lost\n", started,
                  lost);
    assert_true(lost >= started);
}

/* The agent crashes at a seeded moment while three tasks run and restarts
 * after a seeded pause; every task must end (FINISHED, or FAILED when its
 * executor was lost), no task may report anything after its terminal state,
 * and nothing may be left pending. */
static void test_crash_sweep(void **state)
{
    (void)state;
    unsigned finished = 0, failed = 0;
    for (uint64_t seed = 100; seed < 124; seed++) {
        dr_rng rng;
        dr_rng_init(&rng, seed);
        world w;
        start_registered(&w, seed);
        const char *ids[] = {"a", "b", "c"};
        for (size_t i = 0; i < 3; i++)
            fm_run_task(&w, "F1", ids[i], "finish3", true, "cpus:1");
        world_run(&w, DR_NS_PER_MS * (100 + dr_rng_below(&rng, 4000)));
        world_agent_crash(&w);
        world_run(&w, DR_NS_PER_MS * (10 + dr_rng_below(&rng, 1500)));
        assert_true(world_agent_start(&w) > 0);
        world_run(&w, 60 * S);
        for (size_t i = 0; i < 3; i++) {
            const fm_update *last = fm_last(&w, ids[i]);
            if (last == NULL)
                fail_msg("seed %llu: task %s: no update", (unsigned long long)seed, ids[i]);
            if (last->state != FINISHED && last->state != FAILED)
                fail_msg("seed %llu: task %s ended in state %d", (unsigned long long)seed, ids[i],
                         last->state);
            finished += last->state == FINISHED;
            failed += last->state == FAILED;
            bool ended = false;
            int end_state = -1;
            for (size_t u = 0; u < w.fm.update_count; u++) {
                const fm_update *up = &w.fm.updates[u];
                if (strcmp(up->task_id, ids[i]) != 0)
                    continue;
                if (ended && up->state != end_state)
                    fail_msg("seed %llu: task %s: state %d after terminal %d",
                             (unsigned long long)seed, ids[i], up->state, end_state);
                if (state_terminal(up->state)) {
                    ended = true;
                    end_state = up->state;
                }
            }
        }
        dr_agent_info info;
        dr_agent_get_info(world_agent(&w), &info);
        assert_true(info.registered);
        assert_int_equal(info.task_count, 0);
        assert_int_equal(info.updates_pending, 0);
        world_deinit(&w);
    }
    print_message("crash sweep: %u tasks finished, %u failed\n", finished, failed);
    /* most tasks survive the crash (their executors re-subscribe) */
    assert_true(finished > failed);
    assert_int_equal(finished + failed, 24 * 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task_finishes),
        cmocka_unit_test(test_update_resent_with_backoff),
        cmocka_unit_test(test_bad_tasks),
        cmocka_unit_test(test_restart_recovers),
        cmocka_unit_test(test_executor_not_returning),
        cmocka_unit_test(test_executor_kill_reaches_task_sessions),
        cmocka_unit_test(test_executor_exit_kills_leftovers),
        cmocka_unit_test(test_executor_kill_reaches_orphans),
        cmocka_unit_test(test_reboot_reports_lost),
        cmocka_unit_test(test_torn_tail_and_corruption),
        cmocka_unit_test(test_work_dir_locked),
        cmocka_unit_test(test_files_and_operator_api),
        cmocka_unit_test(test_same_seed_same_trace),
        cmocka_unit_test(test_crash_sweep),
        cmocka_unit_test(test_gc_removes_finished_sandboxes),
        cmocka_unit_test(test_task_group),
        cmocka_unit_test(test_launch_failures),
        cmocka_unit_test(test_switch_user),
        cmocka_unit_test(test_rlimits),
        cmocka_unit_test(test_shutdown_waits_grace_period),
        cmocka_unit_test(test_graceful_stop),
        cmocka_unit_test(test_shutdown_before_subscribe),
        cmocka_unit_test(test_removed_by_master),
        cmocka_unit_test(test_recover_cleanup_and_non_checkpointing),
        cmocka_unit_test(test_disk_error_on_update),
        cmocka_unit_test(test_disk_full_on_update),
        cmocka_unit_test(test_network_fault_sweep),
        cmocka_unit_test(test_host_crash_sweep),
        cmocka_unit_test(test_attributes_and_json_resources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
