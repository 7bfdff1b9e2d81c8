/* tests/unit/master/test_master.c — the master's scheduler API, offers,
 * tasks and agents, end to end over simulated HTTP (see harness.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "src/master/master_int.h"

#define EV(t) MESOS__SCHEDULER__EVENT__TYPE__##t
#define RES_SMALL                                                                              \
    "[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1}},"                      \
    "{\"name\":\"mem\",\"type\":\"SCALAR\",\"scalar\":{\"value\":128}}]"

static const Mesos__Offer *first_offer(const sched *s, size_t index)
{
    const Mesos__Scheduler__Event *ev = sched_event(s, EV(OFFERS), index);
    if (ev == NULL || ev->offers->n_offers == 0)
        return NULL;
    return ev->offers->offers[0];
}

static const Mesos__TaskStatus *last_update(const sched *s)
{
    const Mesos__Scheduler__Event *ev = sched_last(s, EV(UPDATE));
    return ev != NULL ? ev->update->status : NULL;
}

/* ---- dr_idmap ------------------------------------------------------------------------- */

/* Random puts and removes over ids with a long shared prefix (as the master's
 * are), checked against a plain array: lookups through the hash index find
 * exactly the live keys (backward-shift deletion keeps every probe run
 * whole), and walking items visits them in strcmp order. */
static void test_idmap_index_and_order(void **state)
{
    DR_UNUSED(state);
    enum { KEY_COUNT = 600 };
    static char keys[KEY_COUNT][64];
    static bool live[KEY_COUNT];
    for (size_t i = 0; i < KEY_COUNT; i++)
        snprintf(keys[i], sizeof keys[i], "3f0c9a7e-5b1d-4c2a-9e8f-0123456789ab-O%zu", i);
    memset(live, 0, sizeof live);
    dr_idmap map;
    dr_idmap_init(&map);
    dr_rng rng;
    dr_rng_init(&rng, 7);
    size_t live_count = 0;
    for (int step = 0; step < 20000; step++) {
        size_t k = (size_t)dr_rng_below(&rng, KEY_COUNT);
        if (live[k]) {
            assert_ptr_equal(dr_idmap_remove(&map, keys[k]), keys[k]);
            assert_null(dr_idmap_remove(&map, keys[k]));
            live[k] = false;
            live_count--;
        } else {
            dr_idmap_put(&map, keys[k], keys[k]);
            live[k] = true;
            live_count++;
        }
        if (step % 997 == 0 || step == 19999) {
            assert_int_equal(map.count, live_count);
            for (size_t i = 0; i < KEY_COUNT; i++) {
                char probe[64];
                memcpy(probe, keys[i], sizeof probe); /* another pointer, same text */
                if (live[i])
                    assert_ptr_equal(dr_idmap_get(&map, probe), keys[i]);
                else
                    assert_null(dr_idmap_get(&map, probe));
            }
            for (size_t i = 1; i < map.count; i++)
                assert_true(strcmp(map.items[i - 1].key, map.items[i].key) < 0);
        }
    }
    assert_null(dr_idmap_get(&map, "3f0c9a7e-5b1d-4c2a-9e8f-0123456789ab-O600"));
    dr_idmap_deinit(&map);
    assert_null(dr_idmap_get(&map, keys[0]));
}

/* ---- subscribe ------------------------------------------------------------------------ */

static void subscribe_codec(dr_http_codec codec)
{
    world w;
    world_init(&w, 1, NULL);
    sched *s = sched_new(&w, 0, codec);
    sched_subscribe(s, "");
    assert_int_equal(s->sub_status, 200);
    assert_int_equal(strlen(s->stream_id), 36);
    const Mesos__Scheduler__Event *sub = sched_event(s, EV(SUBSCRIBED), 0);
    assert_non_null(sub);
    assert_true(strncmp(sub->subscribed->framework_id->value, dr_master_id(w.master),
                        strlen(dr_master_id(w.master))) == 0);
    assert_true(sub->subscribed->has_heartbeat_interval_seconds);
    assert_true(sub->subscribed->heartbeat_interval_seconds == 15.0);
    assert_string_equal(sub->subscribed->master_info->id, dr_master_id(w.master));
    assert_int_equal(sub->subscribed->master_info->port, 5050);
    /* A heartbeat at once, then every 15 s. */
    assert_int_equal(sched_count(s, EV(HEARTBEAT)), 1);
    world_run(&w, 31 * DR_NS_PER_S);
    assert_int_equal(sched_count(s, EV(HEARTBEAT)), 3);
    world_deinit(&w);
}

static void test_subscribe_json(void **state)
{
    DR_UNUSED(state);
    subscribe_codec(DR_HTTP_CODEC_JSON);
}

static void test_subscribe_protobuf(void **state)
{
    DR_UNUSED(state);
    subscribe_codec(DR_HTTP_CODEC_PROTOBUF);
}

static void test_subscribe_invalid_role(void **state)
{
    DR_UNUSED(state);
    world w;
    world_init(&w, 2, NULL);
    sched *s = sched_new(&w, 0, DR_HTTP_CODEC_JSON);
    sched_subscribe(s, ",\"role\":\"a//b\"");
    assert_int_equal(s->sub_status, 200);
    const Mesos__Scheduler__Event *e = sched_event(s, EV(ERROR), 0);
    assert_non_null(e);
    assert_non_null(strstr(e->error->message, "adjacent slashes"));
    assert_null(sched_event(s, EV(SUBSCRIBED), 0));
    assert_true(s->stream_done);
    /* An id that breaks Mesos's id rules. */
    sched *s2 = sched_new(&w, 1, DR_HTTP_CODEC_JSON);
    dr_strlcpy(s2->fw_id, "a b", sizeof s2->fw_id);
    sched_subscribe(s2, "");
    e = sched_event(s2, EV(ERROR), 0);
    assert_non_null(e);
    assert_string_equal(e->error->message, "Framework ID 'a b' contains invalid characters");
    /* An agent reporting such a task is refused with 400. */
    fake_agent *a = agent_new(&w, 0, "agent-1", "cpus:1;mem:512");
    a->task_count = 1;
    memset(&a->tasks[0], 0, sizeof a->tasks[0]);
    dr_strlcpy(a->tasks[0].fw_id, "f", sizeof a->tasks[0].fw_id);
    Mesos__TaskID tid = MESOS__TASK_ID__INIT;
    tid.value = "bad/id";
    Mesos__TaskInfo ti = MESOS__TASK_INFO__INIT;
    Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
    aid.value = "x";
    ti.name = "n";
    ti.task_id = &tid;
    ti.agent_id = &aid;
    Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
    fid.value = "f";
    Mesos__FrameworkInfo fi = MESOS__FRAMEWORK_INFO__INIT;
    fi.user = "u";
    fi.name = "n";
    fi.id = &fid;
    a->tasks[0].info = &ti;
    a->tasks[0].fwinfo = &fi;
    agent_register(a);
    assert_int_equal(a->reg_status, 400);
    assert_false(a->registered);
    a->task_count = 0;
    world_deinit(&w);
}

/* ---- the Mesos-Stream-Id rules and bad input ------------------------------------------------ */

static void test_stream_id_rules(void **state)
{
    DR_UNUSED(state);
    world w;
    world_init(&w, 3, NULL);
    sched *s = sched_new(&w, 0, DR_HTTP_CODEC_JSON);
    sched_subscribe(s, ",\"failover_timeout\":100");
    assert_non_null(sched_event(s, EV(SUBSCRIBED), 0));
    char mismatch[512];
    snprintf(mismatch, sizeof mismatch,
             "{\"type\":\"SUBSCRIBE\",\"subscribe\":{\"framework_info\":"
             "{\"user\":\"u\",\"name\":\"x\",\"id\":{\"value\":\"%s\"}}}}",
             s->fw_id);
    assert_int_equal(sched_call_raw(s, "application/json", NULL, mismatch, strlen(mismatch)),
                     400);
    assert_non_null(strstr(s->call_body, "'framework_id' differs from "
                                         "'subscribe.framework_info.id'"));
    const char *sub = "{\"type\":\"SUBSCRIBE\",\"subscribe\":{\"framework_info\":"
                      "{\"user\":\"u\",\"name\":\"x\"}}}";
    assert_int_equal(sched_call_raw(s, "application/json", "abc", sub, strlen(sub)), 400);
    assert_string_equal(s->call_body,
                        "Subscribe calls should not include the 'Mesos-Stream-Id' header");

    char body[512];
    snprintf(body, sizeof body, "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"REVIVE\"}",
             s->fw_id);
    assert_int_equal(sched_call_raw(s, "application/json", NULL, body, strlen(body)), 400);
    assert_string_equal(s->call_body,
                        "All non-subscribe calls should include the 'Mesos-Stream-Id' header");
    assert_int_equal(sched_call_raw(s, "application/json", "stale", body, strlen(body)), 400);
    assert_non_null(strstr(s->call_body, "The stream ID 'stale' included in this request "
                                         "didn't match"));
    assert_int_equal(sched_call_raw(s, "application/json", s->stream_id, body, strlen(body)), 202);

    const char *unknown = "{\"framework_id\":{\"value\":\"nope\"},\"type\":\"REVIVE\"}";
    assert_int_equal(sched_call_raw(s, "application/json", s->stream_id, unknown, strlen(unknown)),
                     400);
    assert_string_equal(s->call_body, "Framework cannot be found");
    const char *noid = "{\"type\":\"REVIVE\"}";
    assert_int_equal(sched_call_raw(s, "application/json", s->stream_id, noid, strlen(noid)), 400);
    assert_non_null(strstr(s->call_body, "Expecting 'framework_id' to be present"));
    const char *notype = "{}";
    assert_int_equal(sched_call_raw(s, "application/json", s->stream_id, notype, 2), 400);
    assert_non_null(strstr(s->call_body, "Expecting 'type' to be present"));
    snprintf(body, sizeof body, "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"ACCEPT\"}",
             s->fw_id);
    assert_int_equal(sched_call(s, "%s", body), 400);
    assert_non_null(strstr(s->call_body, "Expecting 'accept' to be present"));
    assert_int_equal(sched_call_raw(s, "application/json", s->stream_id, "{bad", 4), 400);
    assert_non_null(strstr(s->call_body, "Failed to parse body into Call JSON"));
    assert_int_equal(sched_call_raw(s, "text/plain", s->stream_id, "x", 1), 415);
    assert_int_equal(sched_call_raw(s, NULL, s->stream_id, "x", 1), 400);

    /* Disconnected within its failover timeout: 403. */
    char old_stream[64];
    dr_strlcpy(old_stream, s->stream_id, sizeof old_stream);
    sched_disconnect(s);
    snprintf(body, sizeof body, "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"REVIVE\"}",
             s->fw_id);
    assert_int_equal(sched_call_raw(s, "application/json", old_stream, body, strlen(body)), 403);
    assert_string_equal(s->call_body, "Framework is not subscribed");
    world_deinit(&w);
}

/* ---- offers ------------------------------------------------------------------------------------ */

static void test_offers_drf_two_frameworks(void **state)
{
    DR_UNUSED(state);
    world w;
    world_init(&w, 4, NULL);
    fake_agent *a1 = agent_new(&w, 0, "agent-1", "cpus:4;mem:4096");
    fake_agent *a2 = agent_new(&w, 1, "agent-2", "cpus:4;mem:4096");
    agent_register(a1);
    agent_register(a2);
    assert_true(a1->registered);
    assert_true(a2->registered);
    assert_int_equal(a1->reg_status, 200);
    assert_string_not_equal(a1->agent_id, a2->agent_id);
    sched *s1 = sched_new(&w, 0, DR_HTTP_CODEC_JSON);
    sched *s2 = sched_new(&w, 1, DR_HTTP_CODEC_PROTOBUF);
    /* Both subscribe at the same instant: one allocation batch sees both. */
    sched_subscribe_start(s1, "");
    sched_subscribe_start(s2, "");
    world_run(&w, 2 * DR_NS_PER_S);
    /* One agent each: DRF gives the second agent to the framework with the
     * smaller share. */
    assert_int_equal(sched_count(s1, EV(OFFERS)), 1);
    assert_int_equal(sched_count(s2, EV(OFFERS)), 1);
    const Mesos__Offer *o1 = first_offer(s1, 0);
    const Mesos__Offer *o2 = first_offer(s2, 0);
    assert_string_not_equal(o1->agent_id->value, o2->agent_id->value);
    /* What Mesos puts in an offer. */
    assert_string_equal(o1->framework_id->value, s1->fw_id);
    assert_true(strcmp(o1->hostname, "agent-1") == 0 || strcmp(o1->hostname, "agent-2") == 0);
    assert_string_equal(o1->url->scheme, "http");
    assert_string_equal(o1->url->path, "/slave(1)");
    assert_int_equal(o1->url->address->port, 5051);
    assert_string_equal(o1->url->address->hostname, o1->hostname);
    assert_true(o1->n_resources >= 2);
    for (size_t i = 0; i < o1->n_resources; i++) {
        assert_non_null(o1->resources[i]->allocation_info);
        assert_string_equal(o1->resources[i]->allocation_info->role, "*");
    }
    assert_non_null(strstr(o1->id->value, "-O"));
    world_deinit(&w);
}

/* A framework with one task running on agent-1. */
typedef struct launched {
    world w;
    fake_agent *a;
    sched *s;
    char agent_id[128];
} launched;

static void launch_one(launched *l, uint64_t seed, const dr_master_opts *opts, bool pa,
                       const char *extra)
{
    world_init(&l->w, seed, opts);
    l->a = agent_new(&l->w, 0, "agent-1", "cpus:4;mem:4096");
    agent_register(l->a);
    l->s = sched_new(&l->w, 0, DR_HTTP_CODEC_JSON);
    if (pa)
        sched_subscribe_pa(l->s, extra);
    else
        sched_subscribe(l->s, extra);
    world_run(&l->w, 2 * DR_NS_PER_S);
    const Mesos__Offer *o = first_offer(l->s, 0);
    assert_non_null(o);
    dr_strlcpy(l->agent_id, o->agent_id->value, sizeof l->agent_id);
    assert_int_equal(sched_accept_task(l->s, o->id->value, l->agent_id, "t1", RES_SMALL), 202);
    world_run(&l->w, 100 * DR_NS_PER_MS);
    assert_int_equal(l->a->event_counts[DROMOS__INTERNAL__AGENT_EVENT__TYPE__RUN_TASK], 1);
    const Mesos__TaskStatus *st = last_update(l->s);
    assert_non_null(st);
    assert_int_equal(st->state, MESOS__TASK_STATE__TASK_RUNNING);
    assert_string_equal(st->task_id->value, "t1");
    assert_string_equal(st->agent_id->value, l->agent_id);
    assert_true(st->has_uuid);
}

static void test_accept_launches_and_acks(void **state)
{
    DR_UNUSED(state);
    launched l;
    launch_one(&l, 5, NULL, false, "");
    fa_task *t = agent_task(l.a, "t1");
    assert_non_null(t);
    assert_true(t->pending);
    /* Unacknowledged: the agent resends and the master forwards again. */
    size_t before = sched_count(l.s, EV(UPDATE));
    world_run(&l.w, 2 * DR_NS_PER_S + DR_NS_PER_MS);
    assert_true(sched_count(l.s, EV(UPDATE)) > before);
    assert_int_equal(sched_ack(l.s, last_update(l.s)), 202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    assert_false(t->pending);
    assert_int_equal(l.a->event_counts[DROMOS__INTERNAL__AGENT_EVENT__TYPE__ACKNOWLEDGE], 1);
    before = sched_count(l.s, EV(UPDATE));
    world_run(&l.w, 3 * DR_NS_PER_S);
    assert_int_equal(sched_count(l.s, EV(UPDATE)), before);
    /* The accepted offer is gone: accepting it again drops the task. */
    const Mesos__Offer *o = first_offer(l.s, 0);
    assert_int_equal(sched_accept_task(l.s, o->id->value, l.agent_id, "t2", RES_SMALL), 202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    const Mesos__TaskStatus *st = last_update(l.s);
    assert_string_equal(st->task_id->value, "t2");
    assert_int_equal(st->state, MESOS__TASK_STATE__TASK_LOST);
    assert_int_equal(st->reason, MESOS__TASK_STATUS__REASON__REASON_INVALID_OFFERS);
    assert_non_null(strstr(st->message, "is no longer valid"));
    assert_false(st->has_uuid);
    /* Counted as Mesos's master/tasks_lost. */
    assert_int_equal(l.w.master->counters.tasks_terminal[MESOS__TASK_STATE__TASK_LOST], 1);
    world_deinit(&l.w);
}

static void expect_task_error(sched *s, const char *task_id, const char *text)
{
    const Mesos__TaskStatus *st = last_update(s);
    assert_non_null(st);
    assert_string_equal(st->task_id->value, task_id);
    assert_int_equal(st->state, MESOS__TASK_STATE__TASK_ERROR);
    assert_int_equal(st->source, MESOS__TASK_STATUS__SOURCE__SOURCE_MASTER);
    assert_false(st->has_uuid);
    if (strstr(st->message, text) == NULL)
        fail_msg("message '%s' lacks '%s'", st->message, text);
}

static const Mesos__Offer *next_offer(launched *l)
{
    size_t before = sched_count(l->s, EV(OFFERS));
    world_run(&l->w, 2 * DR_NS_PER_S);
    assert_true(sched_count(l->s, EV(OFFERS)) > before);
    const Mesos__Scheduler__Event *ev = sched_last(l->s, EV(OFFERS));
    assert_non_null(ev);
    return ev->offers->offers[0];
}

static void test_invalid_tasks(void **state)
{
    DR_UNUSED(state);
    launched l;
    launch_one(&l, 6, NULL, false, "");
    const Mesos__Offer *o = next_offer(&l);
    assert_int_equal(sched_accept_task(l.s, o->id->value, l.agent_id, "t1", RES_SMALL), 202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    expect_task_error(l.s, "t1", "Task has duplicate ID: t1");

    o = next_offer(&l);
    assert_int_equal(sched_accept_task(l.s, o->id->value, l.agent_id, "big",
                                       "[{\"name\":\"cpus\",\"type\":\"SCALAR\","
                                       "\"scalar\":{\"value\":100}}]"),
                     202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    expect_task_error(l.s, "big", "Task uses more resources");

    o = next_offer(&l);
    assert_int_equal(sched_accept_task(l.s, o->id->value, l.agent_id, "none", "[]"), 202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    expect_task_error(l.s, "none", "Task uses no resources");

    o = next_offer(&l);
    assert_int_equal(sched_accept_task(l.s, o->id->value, "other-agent", "wrong", RES_SMALL), 202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    expect_task_error(l.s, "wrong", "Task uses invalid agent: other-agent");

    o = next_offer(&l);
    assert_int_equal(sched_accept_task(l.s, o->id->value, l.agent_id, "a/b", RES_SMALL), 202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    expect_task_error(l.s, "a/b", "contains invalid characters");

    o = next_offer(&l);
    assert_int_equal(sched_accept_task(l.s, o->id->value, l.agent_id, "neg",
                                       "[{\"name\":\"cpus\",\"type\":\"SCALAR\","
                                       "\"scalar\":{\"value\":-1}}]"),
                     202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    expect_task_error(l.s, "neg", "Task uses invalid resources");
    /* Each refusal counts as a transition to TASK_ERROR (master/tasks_error). */
    assert_int_equal(l.w.master->counters.tasks_terminal[MESOS__TASK_STATE__TASK_ERROR], 6);
    /* None reached the agent. */
    assert_int_equal(l.a->event_counts[DROMOS__INTERNAL__AGENT_EVENT__TYPE__RUN_TASK], 1);
    world_deinit(&l.w);
}

static void test_decline_filter(void **state)
{
    DR_UNUSED(state);
    world w;
    world_init(&w, 7, NULL);
    fake_agent *a = agent_new(&w, 0, "agent-1", "cpus:4;mem:4096");
    agent_register(a);
    sched *s = sched_new(&w, 0, DR_HTTP_CODEC_JSON);
    sched_subscribe(s, "");
    world_run(&w, 2 * DR_NS_PER_S);
    assert_int_equal(sched_count(s, EV(OFFERS)), 1);
    const Mesos__Offer *o = first_offer(s, 0);
    assert_int_equal(sched_call(s,
                                "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"DECLINE\","
                                "\"decline\":{\"offer_ids\":[{\"value\":\"%s\"}],"
                                "\"filters\":{\"refuse_seconds\":10}}}",
                                s->fw_id, o->id->value),
                     202);
    world_run(&w, 9 * DR_NS_PER_S);
    assert_int_equal(sched_count(s, EV(OFFERS)), 1);
    world_run(&w, 4 * DR_NS_PER_S);
    assert_int_equal(sched_count(s, EV(OFFERS)), 2);
    /* REVIVE clears filters; SUPPRESS stops offers. */
    o = first_offer(s, 1);
    assert_int_equal(sched_call(s,
                                "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"DECLINE\","
                                "\"decline\":{\"offer_ids\":[{\"value\":\"%s\"}],"
                                "\"filters\":{\"refuse_seconds\":1000}}}",
                                s->fw_id, o->id->value),
                     202);
    world_run(&w, 3 * DR_NS_PER_S);
    assert_int_equal(sched_count(s, EV(OFFERS)), 2);
    assert_int_equal(sched_call(s, "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"REVIVE\"}",
                                s->fw_id),
                     202);
    world_run(&w, 2 * DR_NS_PER_S);
    assert_int_equal(sched_count(s, EV(OFFERS)), 3);
    assert_int_equal(sched_call(s, "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"SUPPRESS\"}",
                                s->fw_id),
                     202);
    o = first_offer(s, 2);
    assert_int_equal(sched_call(s,
                                "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"DECLINE\","
                                "\"decline\":{\"offer_ids\":[{\"value\":\"%s\"}],"
                                "\"filters\":{\"refuse_seconds\":0}}}",
                                s->fw_id, o->id->value),
                     202);
    world_run(&w, 5 * DR_NS_PER_S);
    assert_int_equal(sched_count(s, EV(OFFERS)), 3);
    world_deinit(&w);
}

static void test_offer_timeout_and_agent_loss_rescind(void **state)
{
    DR_UNUSED(state);
    dr_master_opts o;
    dr_master_opts_default(&o);
    o.offer_timeout_ns = 5 * DR_NS_PER_S;
    world w;
    world_init(&w, 8, &o);
    fake_agent *a = agent_new(&w, 0, "agent-1", "cpus:4;mem:4096");
    agent_register(a);
    sched *s = sched_new(&w, 0, DR_HTTP_CODEC_JSON);
    sched_subscribe(s, "");
    world_run(&w, 2 * DR_NS_PER_S);
    assert_int_equal(sched_count(s, EV(OFFERS)), 1);
    world_run(&w, 5 * DR_NS_PER_S);
    assert_int_equal(sched_count(s, EV(RESCIND)), 1);
    assert_string_equal(sched_event(s, EV(RESCIND), 0)->rescind->offer_id->value,
                        first_offer(s, 0)->id->value);
    world_run(&w, 2 * DR_NS_PER_S);
    assert_true(sched_count(s, EV(OFFERS)) >= 2);
    size_t rescinds = sched_count(s, EV(RESCIND));
    agent_disconnect(a);
    assert_int_equal(sched_count(s, EV(RESCIND)), rescinds + 1);
    world_deinit(&w);
}

/* ---- kill and reconcile ----------------------------------------------------------------------- */

static void test_kill(void **state)
{
    DR_UNUSED(state);
    launched l;
    launch_one(&l, 9, NULL, false, "");
    assert_int_equal(sched_ack(l.s, last_update(l.s)), 202);
    assert_int_equal(sched_call(l.s,
                                "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"KILL\","
                                "\"kill\":{\"task_id\":{\"value\":\"t1\"}}}",
                                l.s->fw_id),
                     202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    assert_int_equal(l.a->event_counts[DROMOS__INTERNAL__AGENT_EVENT__TYPE__KILL_TASK], 1);
    const Mesos__TaskStatus *st = last_update(l.s);
    assert_int_equal(st->state, MESOS__TASK_STATE__TASK_KILLED);
    assert_int_equal(sched_ack(l.s, st), 202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    /* Completed: an explicit reconcile now says LOST (not partition-aware). */
    assert_int_equal(sched_call(l.s,
                                "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"RECONCILE\","
                                "\"reconcile\":{\"tasks\":[{\"task_id\":{\"value\":\"t1\"}}]}}",
                                l.s->fw_id),
                     202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    st = last_update(l.s);
    assert_int_equal(st->state, MESOS__TASK_STATE__TASK_LOST);
    assert_int_equal(st->reason, MESOS__TASK_STATUS__REASON__REASON_RECONCILIATION);
    /* Killing an unknown task answers by reconciliation. */
    assert_int_equal(sched_call(l.s,
                                "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"KILL\","
                                "\"kill\":{\"task_id\":{\"value\":\"ghost\"}}}",
                                l.s->fw_id),
                     202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    st = last_update(l.s);
    assert_string_equal(st->task_id->value, "ghost");
    assert_int_equal(st->state, MESOS__TASK_STATE__TASK_LOST);
    /* A bad uuid in an ACKNOWLEDGE is a 400. */
    assert_int_equal(sched_call(l.s,
                                "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"ACKNOWLEDGE\","
                                "\"acknowledge\":{\"agent_id\":{\"value\":\"%s\"},\"task_id\":"
                                "{\"value\":\"t1\"},\"uuid\":\"AAAA\"}}",
                                l.s->fw_id, l.agent_id),
                     400);
    assert_non_null(strstr(l.s->call_body, "is not a valid UUID"));
    world_deinit(&l.w);
}

static void test_reconcile(void **state)
{
    DR_UNUSED(state);
    launched l;
    launch_one(&l, 10, NULL, true, "");
    assert_int_equal(sched_ack(l.s, last_update(l.s)), 202);
    sched_clear(l.s);
    assert_int_equal(sched_call(l.s,
                                "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"RECONCILE\","
                                "\"reconcile\":{}}",
                                l.s->fw_id),
                     202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    assert_int_equal(sched_count(l.s, EV(UPDATE)), 1);
    const Mesos__TaskStatus *st = last_update(l.s);
    assert_string_equal(st->task_id->value, "t1");
    assert_int_equal(st->state, MESOS__TASK_STATE__TASK_RUNNING);
    assert_int_equal(st->reason, MESOS__TASK_STATUS__REASON__REASON_RECONCILIATION);
    assert_false(st->has_uuid);
    assert_int_equal(sched_call(l.s,
                                "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"RECONCILE\","
                                "\"reconcile\":{\"tasks\":[{\"task_id\":{\"value\":\"x\"}},"
                                "{\"task_id\":{\"value\":\"y\"},\"agent_id\":{\"value\":\"%s\"}},"
                                "{\"task_id\":{\"value\":\"z\"},\"agent_id\":{\"value\":\"nope\"}}"
                                "]}}",
                                l.s->fw_id, l.agent_id),
                     202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    assert_int_equal(sched_count(l.s, EV(UPDATE)), 4);
    /* Partition-aware: unknown, gone (agent registered), unknown agent. */
    assert_int_equal(sched_event(l.s, EV(UPDATE), 1)->update->status->state,
                     MESOS__TASK_STATE__TASK_UNKNOWN);
    assert_int_equal(sched_event(l.s, EV(UPDATE), 2)->update->status->state,
                     MESOS__TASK_STATE__TASK_GONE);
    assert_int_equal(sched_event(l.s, EV(UPDATE), 3)->update->status->state,
                     MESOS__TASK_STATE__TASK_UNKNOWN);
    /* RECONCILE_OPERATIONS: no operations. */
    assert_int_equal(sched_call(l.s,
                                "{\"framework_id\":{\"value\":\"%s\"},"
                                "\"type\":\"RECONCILE_OPERATIONS\","
                                "\"reconcile_operations\":{}}",
                                l.s->fw_id),
                     200);
    assert_non_null(strstr(l.s->call_body, "RECONCILE_OPERATIONS"));
    world_deinit(&l.w);
}

/* ---- agents ------------------------------------------------------------------------------------- */

static void ping_timeout(bool pa)
{
    launched l;
    launch_one(&l, pa ? 11 : 12, NULL, pa, "");
    assert_int_equal(sched_ack(l.s, last_update(l.s)), 202);
    world_run(&l.w, 40 * DR_NS_PER_S);
    assert_true(l.a->event_counts[DROMOS__INTERNAL__AGENT_EVENT__TYPE__PING] >= 2);
    assert_int_equal(last_update(l.s)->state, MESOS__TASK_STATE__TASK_RUNNING);
    l.a->answer_pings = false;
    world_run(&l.w, 60 * DR_NS_PER_S);
    assert_int_equal(last_update(l.s)->state, MESOS__TASK_STATE__TASK_RUNNING);
    world_run(&l.w, 31 * DR_NS_PER_S);
    const Mesos__TaskStatus *st = last_update(l.s);
    assert_int_equal(st->state, pa ? MESOS__TASK_STATE__TASK_UNREACHABLE
                                   : MESOS__TASK_STATE__TASK_LOST);
    assert_int_equal(st->source, MESOS__TASK_STATUS__SOURCE__SOURCE_MASTER);
    assert_false(st->has_uuid);
    assert_non_null(strstr(st->message, "unreachable"));
    assert_false(l.a->registered); /* its stream was ended */
    /* The agent comes back with its task: the task comes back too. */
    l.a->answer_pings = true;
    agent_register(l.a);
    assert_true(l.a->registered);
    assert_string_equal(l.a->agent_id, l.agent_id);
    assert_int_equal(sched_call(l.s,
                                "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"RECONCILE\","
                                "\"reconcile\":{\"tasks\":[{\"task_id\":{\"value\":\"t1\"}}]}}",
                                l.s->fw_id),
                     202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    st = last_update(l.s);
    assert_string_equal(st->task_id->value, "t1");
    assert_int_equal(st->state, MESOS__TASK_STATE__TASK_RUNNING);
    world_deinit(&l.w);
}

static void test_ping_timeout_lost(void **state)
{
    DR_UNUSED(state);
    ping_timeout(false);
}

static void test_ping_timeout_unreachable(void **state)
{
    DR_UNUSED(state);
    ping_timeout(true);
}

static void test_reregister_reports_missing_task(void **state)
{
    DR_UNUSED(state);
    launched l;
    launch_one(&l, 13, NULL, true, "");
    assert_int_equal(sched_ack(l.s, last_update(l.s)), 202);
    agent_disconnect(l.a);
    /* The agent lost the task meanwhile. */
    dr_proto_free(&l.a->tasks[0].info->base);
    dr_proto_free(&l.a->tasks[0].fwinfo->base);
    l.a->task_count = 0;
    agent_register(l.a);
    const Mesos__TaskStatus *st = last_update(l.s);
    assert_string_equal(st->task_id->value, "t1");
    assert_int_equal(st->state, MESOS__TASK_STATE__TASK_DROPPED);
    assert_false(st->has_uuid);
    /* A call on the old session is refused. */
    world_deinit(&l.w);
}

static void test_agent_bad_input(void **state)
{
    DR_UNUSED(state);
    world w;
    world_init(&w, 14, NULL);
    dr_err err;
    dr_http_header h[] = {{"Content-Type", "application/x-protobuf"}};
    /* A PONG for a session that does not exist: 409. */
    Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
    aid.value = "who";
    Dromos__Internal__AgentCall__Pong p = DROMOS__INTERNAL__AGENT_CALL__PONG__INIT;
    Dromos__Internal__AgentCall call = DROMOS__INTERNAL__AGENT_CALL__INIT;
    call.type = DROMOS__INTERNAL__AGENT_CALL__TYPE__PONG;
    call.agent_id = &aid;
    call.session_id = "s";
    call.pong = &p;
    fake_agent *a = agent_new(&w, 0, "agent-1", "cpus:1;mem:512");
    dr_buf body;
    dr_buf_init(&body);
    assert_int_equal(dr_proto_encode(&call.base, &body, &err), DR_OK);
    dr_http_client_request r2 = {.method = "POST", .target = "/internal/agent", .headers = h,
                                 .header_count = 1, .body = body.data, .body_size = body.size};
    a->last_call_status = 0;
    assert_int_equal(dr_http_client_send(a->client, &r2, harness_agent_post_cbs(), a, NULL, &err),
                     DR_OK);
    world_run(&w, 100 * DR_NS_PER_MS);
    assert_int_equal(a->last_call_status, 409);
    /* Garbage protobuf: 400. */
    dr_http_client_request r3 = {.method = "POST", .target = "/internal/agent", .headers = h,
                                 .header_count = 1, .body = "\xff\xff", .body_size = 2};
    assert_int_equal(dr_http_client_send(a->client, &r3, harness_agent_post_cbs(), a, NULL, &err),
                     DR_OK);
    world_run(&w, 100 * DR_NS_PER_MS);
    assert_int_equal(a->last_call_status, 400);
    /* JSON is refused: 415. */
    dr_http_header hj[] = {{"Content-Type", "application/json"}};
    dr_http_client_request r4 = {.method = "POST", .target = "/internal/agent", .headers = hj,
                                 .header_count = 1, .body = "{}", .body_size = 2};
    assert_int_equal(dr_http_client_send(a->client, &r4, harness_agent_post_cbs(), a, NULL, &err),
                     DR_OK);
    world_run(&w, 100 * DR_NS_PER_MS);
    assert_int_equal(a->last_call_status, 415);
    dr_buf_deinit(&body);
    world_deinit(&w);
}

static void test_mark_gone_and_unregister(void **state)
{
    DR_UNUSED(state);
    launched l;
    launch_one(&l, 15, NULL, true, "");
    dr_err err;
    /* master_int.h's entry point, as the operator's MARK_AGENT_GONE uses it. */
    assert_int_equal(dr__master_mark_agent_gone(l.w.master, "nope", &err), DR_ENOENT);
    assert_int_equal(dr__master_mark_agent_gone(l.w.master, l.agent_id, &err), DR_OK);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    const Mesos__TaskStatus *st = last_update(l.s);
    assert_int_equal(st->state, MESOS__TASK_STATE__TASK_GONE_BY_OPERATOR);
    assert_int_equal(l.a->event_counts[DROMOS__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN], 1);
    assert_non_null(strstr(l.a->last_shutdown, "marked gone"));
    assert_int_equal(dr__master_mark_agent_gone(l.w.master, l.agent_id, &err), DR_OK);
    /* It may not come back under its id. */
    agent_register(l.a);
    assert_int_equal(l.a->event_counts[DROMOS__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN], 2);
    assert_false(l.a->registered);
    world_deinit(&l.w);
}

/* ---- framework lifecycle -------------------------------------------------------------------------- */

static void test_failover_keeps_tasks(void **state)
{
    DR_UNUSED(state);
    launched l;
    launch_one(&l, 16, NULL, false, ",\"failover_timeout\":60");
    assert_int_equal(sched_ack(l.s, last_update(l.s)), 202);
    sched_disconnect(l.s);
    world_run(&l.w, 30 * DR_NS_PER_S);
    sched_clear(l.s);
    sched_subscribe(l.s, ",\"failover_timeout\":60");
    assert_int_equal(l.s->sub_status, 200);
    assert_non_null(sched_event(l.s, EV(SUBSCRIBED), 0));
    world_run(&l.w, 60 * DR_NS_PER_S);
    assert_int_equal(l.a->event_counts[DROMOS__INTERNAL__AGENT_EVENT__TYPE__KILL_TASK], 0);
    assert_int_equal(sched_call(l.s,
                                "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"RECONCILE\","
                                "\"reconcile\":{}}",
                                l.s->fw_id),
                     202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    assert_int_equal(last_update(l.s)->state, MESOS__TASK_STATE__TASK_RUNNING);
    /* A second subscriber with the id takes over; the first gets ERROR. */
    sched *s2 = sched_new(&l.w, 1, DR_HTTP_CODEC_PROTOBUF);
    dr_strlcpy(s2->fw_id, l.s->fw_id, sizeof s2->fw_id);
    sched_subscribe(s2, ",\"failover_timeout\":60");
    assert_non_null(sched_event(s2, EV(SUBSCRIBED), 0));
    const Mesos__Scheduler__Event *e = sched_last(l.s, EV(ERROR));
    assert_non_null(e);
    assert_string_equal(e->error->message, "Framework failed over");
    world_deinit(&l.w);
}

static void test_failover_expiry_kills(void **state)
{
    DR_UNUSED(state);
    launched l;
    launch_one(&l, 17, NULL, false, ",\"failover_timeout\":10");
    assert_int_equal(sched_ack(l.s, last_update(l.s)), 202);
    sched_disconnect(l.s);
    world_run(&l.w, 9 * DR_NS_PER_S);
    assert_int_equal(l.a->event_counts[DROMOS__INTERNAL__AGENT_EVENT__TYPE__KILL_TASK], 0);
    world_run(&l.w, 2 * DR_NS_PER_S);
    assert_int_equal(l.a->event_counts[DROMOS__INTERNAL__AGENT_EVENT__TYPE__KILL_TASK], 1);
    assert_int_equal(l.a->event_counts[DROMOS__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN_FRAMEWORK],
                     1);
    sched_clear(l.s);
    sched_subscribe(l.s, "");
    const Mesos__Scheduler__Event *e = sched_event(l.s, EV(ERROR), 0);
    assert_non_null(e);
    assert_string_equal(e->error->message, "Framework has been removed");
    world_deinit(&l.w);
}

static void test_teardown(void **state)
{
    DR_UNUSED(state);
    launched l;
    launch_one(&l, 18, NULL, false, ",\"failover_timeout\":1000");
    assert_int_equal(sched_call(l.s, "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"TEARDOWN\"}",
                                l.s->fw_id),
                     202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    assert_true(l.s->stream_done);
    assert_int_equal(l.a->event_counts[DROMOS__INTERNAL__AGENT_EVENT__TYPE__KILL_TASK], 1);
    assert_int_equal(l.a->event_counts[DROMOS__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN_FRAMEWORK],
                     1);
    /* Another framework now gets the whole agent. */
    sched *s2 = sched_new(&l.w, 1, DR_HTTP_CODEC_JSON);
    sched_subscribe(s2, "");
    world_run(&l.w, 2 * DR_NS_PER_S);
    const Mesos__Offer *o = first_offer(s2, 0);
    assert_non_null(o);
    double cpus = 0;
    for (size_t i = 0; i < o->n_resources; i++)
        if (strcmp(o->resources[i]->name, "cpus") == 0)
            cpus += o->resources[i]->scalar->value;
    assert_true(cpus == 4.0);
    world_deinit(&l.w);
}



static double offered_cpus(const Mesos__Offer *o)
{
    double cpus = 0;
    for (size_t i = 0; i < o->n_resources; i++)
        if (strcmp(o->resources[i]->name, "cpus") == 0)
            cpus += o->resources[i]->scalar->value;
    return cpus;
}

static void test_terminal_is_final(void **state)
{
    DR_UNUSED(state);
    launched l;
    launch_one(&l, 25, NULL, false, "");
    assert_int_equal(sched_ack(l.s, last_update(l.s)), 202);
    fa_task *t = agent_task(l.a, "t1");
    agent_set_state(l.a, t, MESOS__TASK_STATE__TASK_FINISHED);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    assert_int_equal(last_update(l.s)->state, MESOS__TASK_STATE__TASK_FINISHED);
    /* A late RUNNING copy is forwarded but changes nothing. */
    agent_send_stale(l.a, t, MESOS__TASK_STATE__TASK_RUNNING);
    assert_int_equal(last_update(l.s)->state, MESOS__TASK_STATE__TASK_RUNNING);
    assert_int_equal(sched_call(l.s,
                                "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"RECONCILE\","
                                "\"reconcile\":{}}",
                                l.s->fw_id),
                     202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    assert_int_equal(last_update(l.s)->state, MESOS__TASK_STATE__TASK_FINISHED);
    /* Its resources are free: the next offer has all 4 cpus (and only once:
     * a second terminal copy recovers nothing more). */
    agent_send_stale(l.a, t, MESOS__TASK_STATE__TASK_FINISHED);
    world_run(&l.w, 2 * DR_NS_PER_S);
    /* One task, one transition: the copies count nothing. */
    assert_int_equal(l.w.master->counters.tasks_terminal[MESOS__TASK_STATE__TASK_FINISHED], 1);
    const Mesos__Offer *o = sched_last(l.s, EV(OFFERS))->offers->offers[0];
    assert_true(offered_cpus(o) == 4.0);
    assert_int_equal(sched_call(l.s,
                                "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"DECLINE\","
                                "\"decline\":{\"offer_ids\":[{\"value\":\"%s\"}],"
                                "\"filters\":{\"refuse_seconds\":0}}}",
                                l.s->fw_id, o->id->value),
                     202);
    assert_true(offered_cpus(next_offer(&l)) == 4.0);
    world_deinit(&l.w);
}

/* master/tasks_finished counts transitions, not the bounded history: with
 * room for one completed task, two finished tasks count 2. */
static void test_terminal_counters_outlive_history(void **state)
{
    DR_UNUSED(state);
    dr_master_opts opts;
    dr_master_opts_default(&opts);
    opts.max_completed_tasks_per_framework = 1;
    launched l;
    launch_one(&l, 26, &opts, false, "");
    const dr_master_counters *c = &l.w.master->counters;
    assert_int_equal(sched_ack(l.s, last_update(l.s)), 202);
    agent_set_state(l.a, agent_task(l.a, "t1"), MESOS__TASK_STATE__TASK_FINISHED);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    assert_int_equal(last_update(l.s)->state, MESOS__TASK_STATE__TASK_FINISHED);
    assert_int_equal(c->tasks_terminal[MESOS__TASK_STATE__TASK_FINISHED], 1);
    assert_int_equal(sched_ack(l.s, last_update(l.s)), 202);
    world_run(&l.w, 100 * DR_NS_PER_MS);

    const Mesos__Offer *o = next_offer(&l);
    assert_int_equal(sched_accept_task(l.s, o->id->value, l.agent_id, "t2", RES_SMALL), 202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    assert_string_equal(last_update(l.s)->task_id->value, "t2");
    assert_int_equal(sched_ack(l.s, last_update(l.s)), 202);
    agent_set_state(l.a, agent_task(l.a, "t2"), MESOS__TASK_STATE__TASK_FINISHED);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    assert_int_equal(sched_ack(l.s, last_update(l.s)), 202);
    world_run(&l.w, 100 * DR_NS_PER_MS);

    dr_mframework *fw = dr__master_framework(l.w.master, l.s->fw_id);
    assert_non_null(fw);
    assert_int_equal(fw->completed_count, 1); /* t1 left the history */
    assert_int_equal(c->tasks_terminal[MESOS__TASK_STATE__TASK_FINISHED], 2);
    assert_int_equal(c->tasks_terminal[MESOS__TASK_STATE__TASK_FAILED], 0);
    world_deinit(&l.w);
}

/* A STATUS_UPDATE carrying a batch (status_updates): checked whole (one bad
 * uuid refuses the call with 400 and applies nothing), then each update is
 * handled as if alone, in order. */
static void post_updates(launched *l, const Mesos__TaskState *states, const size_t *uuid_sizes,
                         size_t count)
{
    fake_agent *a = l->a;
    Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
    aid.value = a->agent_id;
    Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
    fid.value = l->s->fw_id;
    Mesos__TaskID tid = MESOS__TASK_ID__INIT;
    tid.value = "t1";
    Mesos__TaskStatus st[4];
    Dromos__Internal__AgentCall__StatusUpdate su[4];
    Dromos__Internal__AgentCall__StatusUpdate *ptrs[4];
    uint8_t uuids[4][16];
    assert_true(count <= 4);
    for (size_t i = 0; i < count; i++) {
        mesos__task_status__init(&st[i]);
        st[i].task_id = &tid;
        st[i].state = states[i];
        st[i].agent_id = &aid;
        st[i].has_uuid = true;
        memset(uuids[i], 0x40 + (int)i, sizeof uuids[i]);
        st[i].uuid.data = uuids[i];
        st[i].uuid.len = uuid_sizes[i];
        dromos__internal__agent_call__status_update__init(&su[i]);
        su[i].framework_id = &fid;
        su[i].status = &st[i];
        ptrs[i] = &su[i];
    }
    Dromos__Internal__AgentCall call = DROMOS__INTERNAL__AGENT_CALL__INIT;
    call.type = DROMOS__INTERNAL__AGENT_CALL__TYPE__STATUS_UPDATE;
    call.agent_id = &aid;
    call.session_id = a->session;
    call.n_status_updates = count;
    call.status_updates = ptrs;
    dr_buf body;
    dr_buf_init(&body);
    dr_err err;
    assert_int_equal(dr_proto_encode(&call.base, &body, &err), DR_OK);
    dr_http_header h[] = {{"Content-Type", "application/x-protobuf"}};
    dr_http_client_request req = {.method = "POST", .target = "/internal/agent", .headers = h,
                                  .header_count = 1, .body = body.data, .body_size = body.size};
    a->last_call_status = 0;
    assert_int_equal(dr_http_client_send(a->client, &req, harness_agent_post_cbs(), a, NULL, &err),
                     DR_OK);
    world_run(&l->w, 100 * DR_NS_PER_MS);
    dr_buf_deinit(&body);
}

static void test_status_update_batch(void **state)
{
    DR_UNUSED(state);
    launched l;
    launch_one(&l, 28, NULL, false, "");
    size_t before = sched_count(l.s, EV(UPDATE));
    uint64_t updates_before = l.w.master->counters.status_updates;
    const Mesos__TaskState bad_states[2] = {MESOS__TASK_STATE__TASK_FINISHED,
                                            MESOS__TASK_STATE__TASK_FINISHED};
    const size_t bad_sizes[2] = {16, 3};
    post_updates(&l, bad_states, bad_sizes, 2);
    assert_int_equal(l.a->last_call_status, 400);
    assert_int_equal(sched_count(l.s, EV(UPDATE)), before); /* nothing applied */
    assert_int_equal(l.w.master->counters.status_updates, updates_before);
    dr_mframework *fw = dr__master_framework(l.w.master, l.s->fw_id);
    assert_int_equal(((dr_mtask *)dr_idmap_get(&fw->tasks, "t1"))->state,
                     MESOS__TASK_STATE__TASK_RUNNING);

    const Mesos__TaskState states[2] = {MESOS__TASK_STATE__TASK_RUNNING,
                                        MESOS__TASK_STATE__TASK_FINISHED};
    const size_t sizes[2] = {16, 16};
    post_updates(&l, states, sizes, 2);
    assert_int_equal(l.a->last_call_status, 202);
    assert_int_equal(sched_count(l.s, EV(UPDATE)), before + 2);
    const Mesos__TaskStatus *first = sched_event(l.s, EV(UPDATE), before)->update->status;
    const Mesos__TaskStatus *second = sched_event(l.s, EV(UPDATE), before + 1)->update->status;
    assert_int_equal(first->state, MESOS__TASK_STATE__TASK_RUNNING);
    assert_int_equal(second->state, MESOS__TASK_STATE__TASK_FINISHED);
    assert_int_equal(second->uuid.data[0], 0x41);
    assert_int_equal(l.w.master->counters.status_updates, updates_before + 2);
    const dr_mtask *t = dr_idmap_get(&fw->tasks, "t1");
    assert_int_equal(t->state, MESOS__TASK_STATE__TASK_FINISHED);
    /* The kept status is a faithful copy of the last one (its own memory). */
    assert_int_equal(t->task->n_statuses, 1);
    const Mesos__TaskStatus *kept = t->task->statuses[0];
    assert_string_equal(kept->task_id->value, "t1");
    assert_string_equal(kept->agent_id->value, l.agent_id);
    assert_int_equal(kept->state, MESOS__TASK_STATE__TASK_FINISHED);
    assert_true(kept->has_uuid);
    assert_int_equal(kept->uuid.len, 16);
    assert_memory_equal(kept->uuid.data, second->uuid.data, 16);
    assert_ptr_not_equal(kept->uuid.data, second->uuid.data);
    assert_false(kept->has_data);
    /* ... and the task's view is its own deep copy of the launch. */
    assert_string_equal(t->task->name, "t");
    assert_string_equal(t->task->task_id->value, "t1");
    assert_string_equal(t->task->framework_id->value, l.s->fw_id);
    assert_string_equal(t->task->agent_id->value, l.agent_id);
    assert_int_equal(t->task->n_resources, 2);
    assert_string_equal(t->task->resources[0]->name, "cpus");
    assert_true(t->task->resources[0]->scalar->value == 1.0);
    assert_string_equal(t->task->resources[1]->name, "mem");
    assert_true(t->task->resources[1]->scalar->value == 128.0);
    assert_non_null(t->task->user);
    world_deinit(&l.w);
}

/* RESERVE, UNRESERVE, CREATE and DESTROY are dropped as Mesos drops an
 * operation it cannot apply: logged and counted; the LAUNCH in the same
 * ACCEPT goes on. With an operation id (feedback, Mesos 1.5+) the framework
 * also gets UPDATE_OPERATION_STATUS / OPERATION_ERROR saying why. */
static void test_unsupported_operations_dropped(void **state)
{
    DR_UNUSED(state);
    launched l;
    launch_one(&l, 27, NULL, false, "");
    const dr_master_counters *c = &l.w.master->counters;
    const Mesos__Offer *o = next_offer(&l);
    assert_int_equal(
        sched_call(l.s,
                   "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"ACCEPT\",\"accept\":{"
                   "\"offer_ids\":[{\"value\":\"%s\"}],\"operations\":["
                   "{\"type\":\"RESERVE\",\"reserve\":{\"resources\":[]}},"
                   "{\"type\":\"LAUNCH\",\"launch\":{\"task_infos\":[{\"name\":\"t\","
                   "\"task_id\":{\"value\":\"t2\"},\"agent_id\":{\"value\":\"%s\"},"
                   "\"resources\":%s,\"command\":{\"value\":\"sleep 1000\"}}]}},"
                   "{\"type\":\"DESTROY\",\"destroy\":{\"volumes\":[]}}],"
                   "\"filters\":{\"refuse_seconds\":0}}}",
                   l.s->fw_id, o->id->value, l.agent_id, RES_SMALL),
        202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    assert_int_equal(c->operations_error[MESOS__OFFER__OPERATION__TYPE__RESERVE], 1);
    assert_int_equal(c->operations_error[MESOS__OFFER__OPERATION__TYPE__DESTROY], 1);
    assert_int_equal(l.a->event_counts[DROMOS__INTERNAL__AGENT_EVENT__TYPE__RUN_TASK], 2);
    assert_string_equal(last_update(l.s)->task_id->value, "t2");
    /* without an id there is nobody to tell */
    assert_int_equal(sched_count(l.s, EV(UPDATE_OPERATION_STATUS)), 0);

    /* With an id: the framework hears OPERATION_ERROR. */
    {
        o = next_offer(&l);
        assert_int_equal(
            sched_call(l.s,
                       "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"ACCEPT\","
                       "\"accept\":{\"offer_ids\":[{\"value\":\"%s\"}],\"operations\":["
                       "{\"type\":\"CREATE\",\"id\":{\"value\":\"op-1\"},"
                       "\"create\":{\"volumes\":[]}}]}}",
                       l.s->fw_id, o->id->value),
            202);
        world_run(&l.w, 100 * DR_NS_PER_MS);
        const Mesos__Scheduler__Event *ev = sched_last(l.s, EV(UPDATE_OPERATION_STATUS));
        assert_non_null(ev);
        const Mesos__OperationStatus *st = ev->update_operation_status->status;
        assert_string_equal(st->operation_id->value, "op-1");
        assert_int_equal(st->state, MESOS__OPERATION_STATE__OPERATION_ERROR);
        assert_non_null(strstr(st->message, "CREATE operations are not supported"));
        assert_null(st->agent_id);
        assert_null(st->uuid);
        assert_int_equal(c->operations_error[MESOS__OFFER__OPERATION__TYPE__CREATE], 1);
    }
    world_deinit(&l.w);
}

static void test_create_errors(void **state)
{
    DR_UNUSED(state);
    world w;
    world_init(&w, 26, NULL);
    dr_master_opts o;
    dr_master_opts_default(&o);
    o.listen_host = "master-1";
    o.port = 5050;
    dr_master *m2 = NULL;
    dr_err err;
    /* The port is taken by the first master. */
    assert_int_not_equal(dr_master_create(w.master_env, &o, &m2, &err), DR_OK);
    assert_null(m2);
    assert_true(strlen(err.msg) > 0);
    dr_master_weight bad[] = {{"web", 0}};
    o.port = 5051;
    o.weights = bad;
    o.weight_count = 1;
    assert_int_equal(dr_master_create(w.master_env, &o, &m2, &err), DR_EINVAL);
    assert_string_equal(err.msg, "--weights: role 'web': weight must be > 0");
    const char *roles[] = {"a//b"};
    o.weights = NULL;
    o.weight_count = 0;
    o.roles = roles;
    o.role_count = 1;
    assert_int_equal(dr_master_create(w.master_env, &o, &m2, &err), DR_EINVAL);
    assert_non_null(strstr(err.msg, "--roles: "));
    /* With a whitelist, other roles are refused at SUBSCRIBE. */
    const char *ok_roles[] = {"web"};
    o.roles = ok_roles;
    o.port = 5052;
    assert_int_equal(dr_master_create(w.master_env, &o, &m2, &err), DR_OK);
    dr_master_destroy(m2);
    world_deinit(&w);
}

static void test_process_prefix(void **state)
{
    DR_UNUSED(state);
    world w;
    world_init(&w, 27, NULL);
    sched *s = sched_new(&w, 0, DR_HTTP_CODEC_JSON);
    sched_subscribe(s, "");
    char body[256];
    snprintf(body, sizeof body, "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"REVIVE\"}",
             s->fw_id);
    dr_http_header headers[] = {{"Content-Type", "application/json"},
                                {"Mesos-Stream-Id", s->stream_id}};
    dr_http_client_request req = {.method = "POST", .target = "/master/api/v1/scheduler",
                                  .headers = headers, .header_count = 2, .body = body,
                                  .body_size = strlen(body)};
    s->call_done = false;
    dr_err err;
    assert_int_equal(dr_http_client_send(s->client, &req, harness_sched_call_cbs(), s, NULL, &err),
                     DR_OK);
    world_run(&w, 100 * DR_NS_PER_MS);
    assert_true(s->call_done);
    assert_int_equal(s->call_status, 202);
    /* GET is refused with 405. */
    dr_http_client_request get = {.method = "GET", .target = "/api/v1/scheduler"};
    s->call_done = false;
    assert_int_equal(dr_http_client_send(s->client, &get, harness_sched_call_cbs(), s, NULL, &err),
                     DR_OK);
    world_run(&w, 100 * DR_NS_PER_MS);
    assert_int_equal(s->call_status, 405);
    world_deinit(&w);
}


static void test_multi_role(void **state)
{
    DR_UNUSED(state);
    world w;
    world_init(&w, 28, NULL);
    fake_agent *a = agent_new(&w, 0, "agent-1", "cpus:4;mem:4096");
    agent_register(a);
    sched *s = sched_new(&w, 0, DR_HTTP_CODEC_JSON);
    sched_subscribe(s, ",\"roles\":[\"web\",\"db\"],\"capabilities\":[{\"type\":"
                       "\"MULTI_ROLE\"}]");
    assert_non_null(sched_event(s, EV(SUBSCRIBED), 0));
    world_run(&w, 2 * DR_NS_PER_S);
    const Mesos__Offer *o = first_offer(s, 0);
    assert_non_null(o);
    assert_non_null(o->allocation_info);
    assert_true(strcmp(o->allocation_info->role, "web") == 0 ||
                strcmp(o->allocation_info->role, "db") == 0);
    /* role and roles together are refused. */
    sched *s2 = sched_new(&w, 1, DR_HTTP_CODEC_JSON);
    sched_subscribe(s2, ",\"role\":\"x\",\"roles\":[\"web\"],\"capabilities\":[{\"type\":"
                        "\"MULTI_ROLE\"}]");
    const Mesos__Scheduler__Event *e = sched_event(s2, EV(ERROR), 0);
    assert_non_null(e);
    assert_non_null(strstr(e->error->message, "'FrameworkInfo.role' must not be set"));
    /* roles without MULTI_ROLE too. */
    sched *s3 = sched_new(&w, 2, DR_HTTP_CODEC_PROTOBUF);
    sched_subscribe(s3, ",\"roles\":[\"web\"]");
    e = sched_event(s3, EV(ERROR), 0);
    assert_non_null(e);
    assert_non_null(strstr(e->error->message, "without the MULTI_ROLE capability"));
    world_deinit(&w);
}

/* ---- more calls ------------------------------------------------------------------------------------ */

#define GROUP_TASK(id, agent)                                                                  \
    "{\"name\":\"g\",\"task_id\":{\"value\":\"" id "\"},\"agent_id\":{\"value\":\"%s\"},"     \
    "\"resources\":" RES_SMALL ",\"command\":{\"value\":\"true\"}}"

static void test_launch_group(void **state)
{
    DR_UNUSED(state);
    launched l;
    launch_one(&l, 20, NULL, false, "");
    const Mesos__Offer *o = next_offer(&l);
    assert_int_equal(
        sched_call(l.s,
                   "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"ACCEPT\",\"accept\":{"
                   "\"offer_ids\":[{\"value\":\"%s\"}],\"operations\":[{\"type\":\"LAUNCH_GROUP\","
                   "\"launch_group\":{\"executor\":{\"type\":\"DEFAULT\",\"executor_id\":{\"value\":"
                   "\"e1\"},\"resources\":" RES_SMALL "},\"task_group\":{\"tasks\":["
                   GROUP_TASK("g1", "") "," GROUP_TASK("g2", "") "]}}}],"
                   "\"filters\":{\"refuse_seconds\":0}}}",
                   l.s->fw_id, o->id->value, l.agent_id, l.agent_id),
        202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    assert_int_equal(l.a->event_counts[DROMOS__INTERNAL__AGENT_EVENT__TYPE__RUN_TASK_GROUP], 1);
    assert_non_null(agent_task(l.a, "g1"));
    assert_non_null(agent_task(l.a, "g2"));
    /* The executor now shows up in offers for this agent. */
    o = next_offer(&l);
    assert_int_equal(o->n_executor_ids, 1);
    assert_string_equal(o->executor_ids[0]->value, "e1");
    /* A group whose task carries an executor is refused as a whole. */
    assert_int_equal(
        sched_call(l.s,
                   "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"ACCEPT\",\"accept\":{"
                   "\"offer_ids\":[{\"value\":\"%s\"}],\"operations\":[{\"type\":\"LAUNCH_GROUP\","
                   "\"launch_group\":{\"executor\":{\"type\":\"DEFAULT\",\"executor_id\":{\"value\":"
                   "\"e2\"}},\"task_group\":{\"tasks\":[" GROUP_TASK("h1", "") ","
                   "{\"name\":\"h\",\"task_id\":{\"value\":\"h2\"},\"agent_id\":{\"value\":\"%s\"},"
                   "\"resources\":" RES_SMALL ",\"executor\":{\"executor_id\":{\"value\":\"x\"},"
                   "\"command\":{\"value\":\"x\"}}}]}}}]}}",
                   l.s->fw_id, o->id->value, l.agent_id, l.agent_id),
        202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    const Mesos__TaskStatus *h1 = sched_event(l.s, EV(UPDATE), sched_count(l.s, EV(UPDATE)) - 2)
                                      ->update->status;
    const Mesos__TaskStatus *h2 = last_update(l.s);
    assert_string_equal(h1->task_id->value, "h1");
    assert_string_equal(h2->task_id->value, "h2");
    assert_int_equal(h1->state, MESOS__TASK_STATE__TASK_ERROR);
    assert_int_equal(h2->reason, MESOS__TASK_STATUS__REASON__REASON_TASK_GROUP_INVALID);
    assert_non_null(strstr(h2->message, "must not have 'ExecutorInfo' set"));
    assert_int_equal(l.a->event_counts[DROMOS__INTERNAL__AGENT_EVENT__TYPE__RUN_TASK_GROUP], 1);
    world_deinit(&l.w);
}

static void test_messages_and_update_framework(void **state)
{
    DR_UNUSED(state);
    launched l;
    launch_one(&l, 21, NULL, false, "");
    assert_int_equal(sched_call(l.s,
                                "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"MESSAGE\","
                                "\"message\":{\"agent_id\":{\"value\":\"%s\"},\"executor_id\":"
                                "{\"value\":\"t1\"},\"data\":\"aGk=\"}}",
                                l.s->fw_id, l.agent_id),
                     202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    assert_int_equal(l.a->event_counts[DROMOS__INTERNAL__AGENT_EVENT__TYPE__FRAMEWORK_MESSAGE], 1);
    agent_send_message(l.a, l.s->fw_id, "t1", "hello");
    const Mesos__Scheduler__Event *m = sched_last(l.s, EV(MESSAGE));
    assert_non_null(m);
    assert_int_equal(m->message->data.len, 5);
    assert_memory_equal(m->message->data.data, "hello", 5);
    assert_string_equal(m->message->agent_id->value, l.agent_id);
    /* UPDATE_FRAMEWORK: 200, and agents running its tasks hear of it. */
    assert_int_equal(sched_call(l.s,
                                "{\"framework_id\":{\"value\":\"%s\"},\"type\":"
                                "\"UPDATE_FRAMEWORK\",\"update_framework\":{\"framework_info\":"
                                "{\"user\":\"u\",\"name\":\"renamed\",\"id\":{\"value\":\"%s\"}}}}",
                                l.s->fw_id, l.s->fw_id),
                     200);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    assert_int_equal(l.a->event_counts[DROMOS__INTERNAL__AGENT_EVENT__TYPE__UPDATE_FRAMEWORK], 1);
    assert_int_equal(sched_call(l.s,
                                "{\"framework_id\":{\"value\":\"%s\"},\"type\":"
                                "\"UPDATE_FRAMEWORK\",\"update_framework\":{\"framework_info\":"
                                "{\"user\":\"other\",\"name\":\"x\",\"id\":{\"value\":\"%s\"}}}}",
                                l.s->fw_id, l.s->fw_id),
                     400);
    assert_non_null(strstr(l.s->call_body, "'FrameworkInfo.user'"));
    /* SUPPRESS of a role it does not have. */
    assert_int_equal(sched_call(l.s,
                                "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"SUPPRESS\","
                                "\"suppress\":{\"roles\":[\"other\"]}}",
                                l.s->fw_id),
                     400);
    assert_non_null(strstr(l.s->call_body, "role 'other' is not one of the framework's roles"));
    /* REQUEST and inverse offers: accepted without effect. */
    assert_int_equal(sched_call(l.s,
                                "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"REQUEST\","
                                "\"request\":{\"requests\":[]}}",
                                l.s->fw_id),
                     202);
    assert_int_equal(sched_call(l.s,
                                "{\"framework_id\":{\"value\":\"%s\"},\"type\":"
                                "\"DECLINE_INVERSE_OFFERS\",\"decline_inverse_offers\":"
                                "{\"inverse_offer_ids\":[]}}",
                                l.s->fw_id),
                     202);
    world_deinit(&l.w);
}

static void test_unregister(void **state)
{
    DR_UNUSED(state);
    launched l;
    launch_one(&l, 22, NULL, true, "");
    agent_unregister(l.a);
    const Mesos__TaskStatus *st = last_update(l.s);
    assert_int_equal(st->state, MESOS__TASK_STATE__TASK_GONE);
    assert_int_equal(st->reason, MESOS__TASK_STATUS__REASON__REASON_AGENT_REMOVED);
    /* Reconciling against the removed agent: gone by operator's record. */
    assert_int_equal(sched_call(l.s,
                                "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"RECONCILE\","
                                "\"reconcile\":{\"tasks\":[{\"task_id\":{\"value\":\"t1\"},"
                                "\"agent_id\":{\"value\":\"%s\"}}]}}",
                                l.s->fw_id, l.agent_id),
                     202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    assert_int_equal(last_update(l.s)->state, MESOS__TASK_STATE__TASK_GONE_BY_OPERATOR);
    world_deinit(&l.w);
}

static void test_master_restart_recovers(void **state)
{
    DR_UNUSED(state);
    launched l;
    launch_one(&l, 23, NULL, false, ",\"failover_timeout\":3600");
    assert_int_equal(sched_ack(l.s, last_update(l.s)), 202);
    char old_master[64];
    dr_strlcpy(old_master, dr_master_id(l.w.master), sizeof old_master);
    world_restart_master(&l.w);
    assert_string_not_equal(dr_master_id(l.w.master), old_master);
    assert_false(l.a->registered);
    assert_true(l.s->stream_done);
    /* The agent comes back with its task; the framework with its id. */
    agent_register(l.a);
    assert_true(l.a->registered);
    assert_string_equal(l.a->agent_id, l.agent_id);
    sched_clear(l.s);
    sched_subscribe(l.s, ",\"failover_timeout\":3600");
    const Mesos__Scheduler__Event *sub = sched_event(l.s, EV(SUBSCRIBED), 0);
    assert_non_null(sub);
    assert_string_equal(sub->subscribed->framework_id->value, l.s->fw_id);
    assert_int_equal(sched_call(l.s,
                                "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"RECONCILE\","
                                "\"reconcile\":{}}",
                                l.s->fw_id),
                     202);
    world_run(&l.w, 100 * DR_NS_PER_MS);
    const Mesos__TaskStatus *st = last_update(l.s);
    assert_non_null(st);
    assert_string_equal(st->task_id->value, "t1");
    assert_int_equal(st->state, MESOS__TASK_STATE__TASK_RUNNING);
    /* Its resources are in use: the next offer has 3 cpus. */
    world_run(&l.w, 2 * DR_NS_PER_S);
    const Mesos__Offer *o = sched_last(l.s, EV(OFFERS))->offers->offers[0];
    double cpus = 0;
    for (size_t i = 0; i < o->n_resources; i++)
        if (strcmp(o->resources[i]->name, "cpus") == 0)
            cpus += o->resources[i]->scalar->value;
    assert_true(cpus == 3.0);
    world_deinit(&l.w);
}

static void shutdown_done(dr_env *env, void *ctx)
{
    DR_UNUSED(env);
    *(bool *)ctx = true;
}

static void test_graceful_shutdown(void **state)
{
    DR_UNUSED(state);
    launched l;
    launch_one(&l, 24, NULL, false, "");
    bool done = false;
    dr_master_shutdown(l.w.master, shutdown_done, &done);
    world_run(&l.w, DR_NS_PER_S);
    assert_true(done);
    assert_true(l.s->stream_done);
    assert_false(l.a->registered);
    world_deinit(&l.w);
}

static void test_same_trace_twice(void **state)
{
    DR_UNUSED(state);
    uint64_t hashes[2];
    for (int i = 0; i < 2; i++) {
        launched l;
        launch_one(&l, 99, NULL, false, "");
        assert_int_equal(sched_ack(l.s, last_update(l.s)), 202);
        world_run(&l.w, 20 * DR_NS_PER_S);
        hashes[i] = dr_sim_trace_hash(l.w.sim);
        world_deinit(&l.w);
    }
    assert_true(hashes[0] == hashes[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idmap_index_and_order),
        cmocka_unit_test(test_subscribe_json),
        cmocka_unit_test(test_subscribe_protobuf),
        cmocka_unit_test(test_subscribe_invalid_role),
        cmocka_unit_test(test_stream_id_rules),
        cmocka_unit_test(test_offers_drf_two_frameworks),
        cmocka_unit_test(test_accept_launches_and_acks),
        cmocka_unit_test(test_invalid_tasks),
        cmocka_unit_test(test_decline_filter),
        cmocka_unit_test(test_offer_timeout_and_agent_loss_rescind),
        cmocka_unit_test(test_kill),
        cmocka_unit_test(test_reconcile),
        cmocka_unit_test(test_ping_timeout_lost),
        cmocka_unit_test(test_ping_timeout_unreachable),
        cmocka_unit_test(test_reregister_reports_missing_task),
        cmocka_unit_test(test_agent_bad_input),
        cmocka_unit_test(test_mark_gone_and_unregister),
        cmocka_unit_test(test_failover_keeps_tasks),
        cmocka_unit_test(test_failover_expiry_kills),
        cmocka_unit_test(test_teardown),
        cmocka_unit_test(test_terminal_is_final),
        cmocka_unit_test(test_terminal_counters_outlive_history),
        cmocka_unit_test(test_unsupported_operations_dropped),
        cmocka_unit_test(test_status_update_batch),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_multi_role),
        cmocka_unit_test(test_process_prefix),
        cmocka_unit_test(test_launch_group),
        cmocka_unit_test(test_messages_and_update_framework),
        cmocka_unit_test(test_unregister),
        cmocka_unit_test(test_master_restart_recovers),
        cmocka_unit_test(test_graceful_shutdown),
        cmocka_unit_test(test_same_trace_twice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
