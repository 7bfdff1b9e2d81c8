/* tests/unit/sched/test_sched.c — the scheduler client (src/sched) against a
 * scripted fake master on the simulator: SUBSCRIBE and the stream id, calls in
 * protobuf and JSON, the heartbeat watchdog and failover with the framework
 * id, 307 redirects, ERROR, and Location parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "sim/sim.h"
#include "src/http/recordio.h"
#include "src/http/server.h"
#include "src/proto/json.h"
#include "src/sched/sched.h"

/* ---- the fake master ----------------------------------------------------------- */

typedef struct fake_master {
    dr_env *env;
    dr_http_server *server;
    const char *redirect_to; /* answer SUBSCRIBE with 307 to this */
    bool send_error;         /* answer SUBSCRIBE with SUBSCRIBED then ERROR */
    bool silent;             /* no events after SUBSCRIBED (watchdog) */
    int subscribe_count;
    char last_subscribe_fw_id[64];
    int call_count;
    char last_stream_id[64];
    char last_call_fw_id[64];
    int last_call_type;
    dr_http_response *stream;
} fake_master;

static dr_code encode_event(dr_http_codec codec, const Mesos__Scheduler__Event *ev, dr_buf *out)
{
    dr_err err;
    return codec == DR_HTTP_CODEC_JSON ? dr_json_encode(&ev->base, out, &err)
                                       : dr_proto_encode(&ev->base, out, &err);
}

static void send_event(fake_master *fm, dr_http_codec codec, const Mesos__Scheduler__Event *ev)
{
    dr_buf b;
    dr_buf_init(&b);
    assert_int_equal(encode_event(codec, ev, &b), DR_OK);
    dr_err err;
    if (dr_http_response_stream_record(fm->stream, b.data, b.size, &err) != DR_OK)
        fm->stream = NULL; /* the client went away: nothing more to send */
    dr_buf_deinit(&b);
}

static void stream_gone(dr_env *env, dr_http_response *res, void *ctx)
{
    (void)env;
    fake_master *fm = ctx;
    if (fm->stream == res)
        fm->stream = NULL;
    dr_http_response_stream_end(res);
}

static void handle(dr_env *env, const dr_http_request *req, dr_http_response *res, void *ctx)
{
    (void)env;
    fake_master *fm = ctx;
    const char *ct = dr_http_headers_get(&req->headers, "Content-Type");
    dr_http_codec codec = ct != NULL && dr_http_media_type_is(ct, DR_HTTP_MEDIA_JSON)
                              ? DR_HTTP_CODEC_JSON
                              : DR_HTTP_CODEC_PROTOBUF;
    ProtobufCMessage *msg = NULL;
    dr_err err;
    dr_code rc = codec == DR_HTTP_CODEC_JSON
                     ? dr_json_decode(&mesos__scheduler__call__descriptor, (const char *)req->body,
                                      req->body_size, NULL, &msg, &err)
                     : dr_proto_decode(&mesos__scheduler__call__descriptor, req->body,
                                       req->body_size, NULL, &msg, &err);
    if (rc != DR_OK) {
        dr_http_response_error(res, 400, "%s", err.msg);
        return;
    }
    Mesos__Scheduler__Call *call = (Mesos__Scheduler__Call *)msg;
    if (call->type == MESOS__SCHEDULER__CALL__TYPE__SUBSCRIBE) {
        fm->subscribe_count++;
        const Mesos__FrameworkInfo *fi = call->subscribe->framework_info;
        dr_strlcpy(fm->last_subscribe_fw_id, fi->id != NULL ? fi->id->value : "",
                   sizeof fm->last_subscribe_fw_id);
        if (fm->redirect_to != NULL) {
            dr_http_response_header(res, "Location", fm->redirect_to);
            dr_http_response_send(res, 307, NULL, "", 0);
            dr_proto_free(msg);
            return;
        }
        char sid[32];
        snprintf(sid, sizeof sid, "sid-%d", fm->subscribe_count);
        dr_http_response_header(res, "Mesos-Stream-Id", sid);
        dr_http_response_on_gone(res, stream_gone, fm);
        dr_http_response_stream_start(res, 200, dr_http_codec_media_type(codec));
        fm->stream = res;
        Mesos__Scheduler__Event ev = MESOS__SCHEDULER__EVENT__INIT;
        Mesos__Scheduler__Event__Subscribed sub = MESOS__SCHEDULER__EVENT__SUBSCRIBED__INIT;
        Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
        fid.value = (char *)"fw-1";
        sub.framework_id = &fid;
        sub.has_heartbeat_interval_seconds = true;
        sub.heartbeat_interval_seconds = 1.0;
        ev.has_type = true;
        ev.type = MESOS__SCHEDULER__EVENT__TYPE__SUBSCRIBED;
        ev.subscribed = &sub;
        send_event(fm, codec, &ev);
        if (fm->send_error) {
            Mesos__Scheduler__Event e2 = MESOS__SCHEDULER__EVENT__INIT;
            Mesos__Scheduler__Event__Error er = MESOS__SCHEDULER__EVENT__ERROR__INIT;
            er.message = (char *)"framework has been removed";
            e2.has_type = true;
            e2.type = MESOS__SCHEDULER__EVENT__TYPE__ERROR;
            e2.error = &er;
            send_event(fm, codec, &e2);
        } else if (!fm->silent) {
            Mesos__Scheduler__Event e2 = MESOS__SCHEDULER__EVENT__INIT;
            e2.has_type = true;
            e2.type = MESOS__SCHEDULER__EVENT__TYPE__HEARTBEAT;
            send_event(fm, codec, &e2);
        }
        dr_proto_free(msg);
        return;
    }
    fm->call_count++;
    const char *sid = dr_http_headers_get(&req->headers, "Mesos-Stream-Id");
    dr_strlcpy(fm->last_stream_id, sid != NULL ? sid : "", sizeof fm->last_stream_id);
    dr_strlcpy(fm->last_call_fw_id, call->framework_id != NULL ? call->framework_id->value : "",
               sizeof fm->last_call_fw_id);
    fm->last_call_type = (int)call->type;
    dr_proto_free(msg);
    if (fm->last_call_type == MESOS__SCHEDULER__CALL__TYPE__KILL) {
        dr_http_response_error(res, 400, "task 'nope' is unknown");
        return;
    }
    dr_http_response_send(res, 202, NULL, "", 0);
}

static void *fake_start(dr_env *env, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fake_master *fm = dr_alloc(sizeof *fm);
    fm->env = env;
    static const char *const prefixes[] = {"/master"};
    dr_http_server_opts o = {.host = "0.0.0.0", .port = 5050, .strip_prefixes = prefixes,
                             .strip_prefix_count = 1};
    dr_err err;
    if (dr_http_server_create(env, &o, &fm->server, &err) != DR_OK ||
        dr_http_server_route(fm->server, "/api/v1/scheduler", false, handle, fm, &err) != DR_OK) {
        dr_http_server_destroy(fm->server);
        dr_free(fm);
        return NULL;
    }
    return fm;
}

static void fake_stop(void *state)
{
    fake_master *fm = state;
    if (fm->stream != NULL)
        dr_http_response_stream_end(fm->stream);
    dr_http_server_destroy(fm->server);
    dr_free(fm);
}

static void fake_crash(void *state) { (void)state; }

static const dr_sim_program fake_program = {"fakemaster", fake_start, fake_crash, fake_stop};

/* ---- the framework under test --------------------------------------------------- */

typedef struct fw {
    dr_env *env;
    dr_sched *s;
    int subscribed_count;
    int disconnected_count;
    int heartbeat_count;
    int error_count;
    int call_failed_count;
    int call_failed_status;
    char call_failed_text[128];
} fw;

static void fw_subscribed(dr_sched *s, const Mesos__Scheduler__Event__Subscribed *ev, void *ctx)
{
    (void)s;
    (void)ev;
    ((fw *)ctx)->subscribed_count++;
}
static void fw_disconnected(dr_sched *s, const dr_err *why, void *ctx)
{
    (void)s;
    (void)why;
    ((fw *)ctx)->disconnected_count++;
}
static void fw_heartbeat(dr_sched *s, void *ctx)
{
    (void)s;
    ((fw *)ctx)->heartbeat_count++;
}
static void fw_error(dr_sched *s, const Mesos__Scheduler__Event__Error *ev, void *ctx)
{
    (void)s;
    (void)ev;
    ((fw *)ctx)->error_count++;
}
static void fw_call_failed(dr_sched *s, Mesos__Scheduler__Call__Type type, int status,
                           const char *text, void *ctx)
{
    (void)s;
    (void)type;
    fw *f = ctx;
    f->call_failed_count++;
    f->call_failed_status = status;
    dr_strlcpy(f->call_failed_text, text, sizeof f->call_failed_text);
}

static const dr_sched_cbs fw_cbs = {
    .subscribed = fw_subscribed,
    .disconnected = fw_disconnected,
    .heartbeat = fw_heartbeat,
    .error = fw_error,
    .call_failed = fw_call_failed,
};

/* argv: fw HOST json|protobuf */
static void *fw_start(dr_env *env, int argc, char **argv)
{
    assert_int_equal(argc, 3);
    fw *f = dr_alloc(sizeof *f);
    f->env = env;
    Mesos__FrameworkInfo fi = MESOS__FRAMEWORK_INFO__INIT;
    fi.user = (char *)"test";
    fi.name = (char *)"test-fw";
    dr_sched_opts o = {
        .host = argv[1],
        .port = 5050,
        .codec = strcmp(argv[2], "json") == 0 ? DR_HTTP_CODEC_JSON : DR_HTTP_CODEC_PROTOBUF,
        .framework_info = &fi,
        .backoff_min_ns = 200 * DR_NS_PER_MS,
        .backoff_max_ns = DR_NS_PER_S,
    };
    dr_err err;
    assert_int_equal(dr_sched_create(env, &o, &fw_cbs, f, &f->s, &err), DR_OK);
    dr_sched_start(f->s);
    return f;
}

static void fw_stop(void *state)
{
    fw *f = state;
    dr_sched_destroy(f->s);
    dr_free(f);
}

static void fw_crash(void *state) { (void)state; }

static const dr_sim_program fw_program = {"fw", fw_start, fw_crash, fw_stop};

/* ---- a cluster --------------------------------------------------------------------- */

typedef struct cluster {
    dr_sim *sim;
    dr_pid master_pid;
    dr_pid master2_pid;
    dr_pid fw_pid;
} cluster;

static void cluster_start(cluster *c, const char *codec, const char *redirect_to)
{
    dr_sim_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.seed = 7;
    opts.faults.net_latency_min_ns = 100 * DR_NS_PER_US;
    c->sim = dr_sim_create(&opts);
    dr_sim_register_program(c->sim, &fake_program);
    dr_sim_register_program(c->sim, &fw_program);
    dr_sim_host_id m1 = dr_sim_host_add(c->sim, "m1");
    dr_sim_host_id m2 = dr_sim_host_add(c->sim, "m2");
    dr_sim_host_id f = dr_sim_host_add(c->sim, "f");
    const char *margv[] = {"fakemaster", NULL};
    dr_err err;
    c->master_pid = dr_sim_process_start(c->sim, m1, margv, &err);
    c->master2_pid = dr_sim_process_start(c->sim, m2, margv, &err);
    assert_true(c->master_pid > 0 && c->master2_pid > 0);
    fake_master *fm = dr_sim_process_state(c->sim, c->master_pid);
    fm->redirect_to = redirect_to;
    const char *fargv[] = {"fw", "m1", codec, NULL};
    c->fw_pid = dr_sim_process_start(c->sim, f, fargv, &err);
    assert_true(c->fw_pid > 0);
}

static void cluster_stop(cluster *c)
{
    dr_sim_process_stop(c->sim, c->fw_pid);
    dr_sim_process_stop(c->sim, c->master_pid);
    dr_sim_process_stop(c->sim, c->master2_pid);
    dr_sim_run_until(c->sim, dr_sim_now(c->sim) + DR_NS_PER_S);
    dr_sim_destroy(c->sim);
}

static void run_for(cluster *c, uint64_t ns) { dr_sim_run_until(c->sim, dr_sim_now(c->sim) + ns); }

/* ---- tests ------------------------------------------------------------------------- */

static void subscribe_and_call(const char *codec)
{
    cluster c;
    cluster_start(&c, codec, NULL);
    run_for(&c, 100 * DR_NS_PER_MS);
    fw *f = dr_sim_process_state(c.sim, c.fw_pid);
    fake_master *fm = dr_sim_process_state(c.sim, c.master_pid);
    assert_int_equal(f->subscribed_count, 1);
    assert_int_equal(f->heartbeat_count, 1);
    assert_int_equal(dr_sched_get_state(f->s), DR_SCHED_SUBSCRIBED);
    assert_string_equal(dr_sched_framework_id(f->s), "fw-1");
    assert_string_equal(dr_sched_stream_id(f->s), "sid-1");
    assert_string_equal(fm->last_subscribe_fw_id, "");

    /* calls happen inside the framework's process: from a timer */
    dr_env *env = dr_sim_process_env(c.sim, c.fw_pid);
    (void)env;
    const char *ids[] = {"offer-1"};
    dr_err err;
    assert_int_equal(dr_sched_decline(f->s, ids, 1, 5.0, &err), DR_OK);
    run_for(&c, 100 * DR_NS_PER_MS);
    assert_int_equal(fm->call_count, 1);
    assert_int_equal(fm->last_call_type, MESOS__SCHEDULER__CALL__TYPE__DECLINE);
    assert_string_equal(fm->last_stream_id, "sid-1");
    assert_string_equal(fm->last_call_fw_id, "fw-1");

    /* a refused call is reported with its status and text */
    assert_int_equal(dr_sched_kill(f->s, "nope", NULL, &err), DR_OK);
    run_for(&c, 100 * DR_NS_PER_MS);
    assert_int_equal(f->call_failed_count, 1);
    assert_int_equal(f->call_failed_status, 400);
    assert_string_equal(f->call_failed_text, "task 'nope' is unknown");
    cluster_stop(&c);
}

static void test_protobuf(void **state)
{
    (void)state;
    subscribe_and_call("protobuf");
}

static void test_json(void **state)
{
    (void)state;
    subscribe_and_call("json");
}

static void test_watchdog_failover(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c, "protobuf", NULL);
    fake_master *fm = dr_sim_process_state(c.sim, c.master_pid);
    fm->silent = true;
    run_for(&c, 100 * DR_NS_PER_MS);
    fw *f = dr_sim_process_state(c.sim, c.fw_pid);
    assert_int_equal(f->subscribed_count, 1);
    /* heartbeat 1 s, 3 missed: the watchdog fires near 3 s, then backoff */
    run_for(&c, 2500 * DR_NS_PER_MS);
    assert_int_equal(f->disconnected_count, 0);
    run_for(&c, 3 * DR_NS_PER_S);
    assert_int_equal(f->disconnected_count, 1);
    assert_int_equal(fm->subscribe_count, 2);
    assert_string_equal(fm->last_subscribe_fw_id, "fw-1"); /* failover with its id */
    assert_int_equal(f->subscribed_count, 2);
    assert_string_equal(dr_sched_stream_id(f->s), "sid-2");
    dr_sched_stats st;
    dr_sched_get_stats(f->s, &st);
    assert_int_equal(st.watchdog_count, 1);
    cluster_stop(&c);
}

static void test_redirect(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c, "protobuf", "//m2:5050/master/api/v1/scheduler");
    run_for(&c, 200 * DR_NS_PER_MS);
    fw *f = dr_sim_process_state(c.sim, c.fw_pid);
    fake_master *m1 = dr_sim_process_state(c.sim, c.master_pid);
    fake_master *m2 = dr_sim_process_state(c.sim, c.master2_pid);
    assert_int_equal(m1->subscribe_count, 1);
    assert_int_equal(m2->subscribe_count, 1);
    assert_int_equal(f->subscribed_count, 1);
    assert_string_equal(dr_sched_master_host(f->s), "m2");
    cluster_stop(&c);
}

static void test_error_stops(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c, "json", NULL);
    fake_master *fm = dr_sim_process_state(c.sim, c.master_pid);
    fm->send_error = true;
    run_for(&c, 100 * DR_NS_PER_MS);
    fw *f = dr_sim_process_state(c.sim, c.fw_pid);
    assert_int_equal(f->error_count, 1);
    /* the master ends the stream: no resubscription follows */
    dr_sim_process_stop(c.sim, c.master_pid);
    run_for(&c, 10 * DR_NS_PER_S);
    assert_int_equal(dr_sched_get_state(f->s), DR_SCHED_IDLE);
    dr_sched_stats st;
    dr_sched_get_stats(f->s, &st);
    assert_int_equal(st.subscribe_count, 1);
    c.master_pid = 0;
    dr_sim_process_stop(c.sim, c.fw_pid);
    dr_sim_process_stop(c.sim, c.master2_pid);
    dr_sim_destroy(c.sim);
}

static void test_call_not_subscribed(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c, "protobuf", NULL);
    fw *f = dr_sim_process_state(c.sim, c.fw_pid);
    dr_err err;
    assert_int_equal(dr_sched_revive(f->s, NULL, &err), DR_ECLOSED);
    assert_string_equal(err.msg, "scheduler: REVIVE: not subscribed");
    cluster_stop(&c);
}

static void test_parse_location(void **state)
{
    (void)state;
    char host[64], path[128];
    uint16_t port = 1;
    dr_err err;
    assert_int_equal(dr_sched_parse_location("//10.0.0.2:5051/master/api/v1/scheduler", host,
                                             sizeof host, &port, path, sizeof path, &err),
                     DR_OK);
    assert_string_equal(host, "10.0.0.2");
    assert_int_equal(port, 5051);
    assert_string_equal(path, "/master/api/v1/scheduler");
    assert_int_equal(dr_sched_parse_location("http://m:80", host, sizeof host, &port, path,
                                             sizeof path, &err),
                     DR_OK);
    assert_string_equal(host, "m");
    assert_int_equal(port, 80);
    assert_string_equal(path, "/");
    assert_int_equal(dr_sched_parse_location("//leader/x", host, sizeof host, &port, path,
                                             sizeof path, &err),
                     DR_OK);
    assert_int_equal(port, 5050);
    assert_int_equal(dr_sched_parse_location("/api/v1/scheduler", host, sizeof host, &port, path,
                                             sizeof path, &err),
                     DR_OK);
    assert_string_equal(host, "");
    assert_int_equal(dr_sched_parse_location("https://m:443/", host, sizeof host, &port, path,
                                             sizeof path, &err),
                     DR_EINVAL);
    assert_string_equal(err.msg, "location 'https://m:443/': https is not supported");
    assert_int_equal(dr_sched_parse_location("//m:99999/", host, sizeof host, &port, path,
                                             sizeof path, &err),
                     DR_EINVAL);
    assert_string_equal(err.msg, "location '//m:99999/': bad port");
    assert_int_equal(dr_sched_parse_location("m:5050", host, sizeof host, &port, path,
                                             sizeof path, &err),
                     DR_EINVAL);
    assert_int_equal(dr_sched_parse_location("//:5050/", host, sizeof host, &port, path,
                                             sizeof path, &err),
                     DR_EINVAL);
}

static void test_create_errors(void **state)
{
    (void)state;
    dr_sched *s = NULL;
    dr_err err;
    dr_sched_opts o = {.host = "m", .port = 5050};
    assert_int_equal(dr_sched_create(NULL, &o, &fw_cbs, NULL, &s, &err), DR_EINVAL);
    assert_string_equal(err.msg, "scheduler: framework_info is required");
    Mesos__FrameworkInfo fi = MESOS__FRAMEWORK_INFO__INIT; /* user and name missing */
    o.framework_info = &fi;
    assert_int_equal(dr_sched_create(NULL, &o, &fw_cbs, NULL, &s, &err), DR_EINVAL);
    assert_non_null(strstr(err.msg, "scheduler: framework_info"));
    assert_string_equal(dr_sched_call_type_name(MESOS__SCHEDULER__CALL__TYPE__ACCEPT), "ACCEPT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_protobuf),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_watchdog_failover),
        cmocka_unit_test(test_redirect),
        cmocka_unit_test(test_error_stops),
        cmocka_unit_test(test_call_not_subscribed),
        cmocka_unit_test(test_parse_location),
        cmocka_unit_test(test_create_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
