/* tests/unit/master_operator/test_operator.c — the master's operator side on
 * the simulator: every v1 operator call through HTTP in JSON and protobuf
 * (statuses, response types, error texts, 501 names, Mesos's 405/400/415/406
 * rules), the SUBSCRIBE event stream (SUBSCRIBED, HEARTBEAT every 15 s,
 * events on model changes), SET_LOGGING_LEVEL's revert timer, weights, and
 * the plain endpoints (/health, /version, /metrics/snapshot, /state,
 * /master/state, /state-summary, /redirect).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim/sim.h"
#include "src/http/client.h"
#include "src/http/recordio.h"
#include "src/master/master.h"
#include "src/master/operator.h"
#include "src/proto/json.h"
#include "src/testagent/testagent.h"

static void *blank_start(dr_env *env, int argc, char **argv)
{
    DR_UNUSED(env);
    DR_UNUSED(argc);
    DR_UNUSED(argv);
    return dr_alloc(1);
}

static void blank_end(void *state) { dr_free(state); }

static const dr_sim_program blank_program = {"blank", blank_start, blank_end, blank_end};

typedef struct world {
    dr_sim *sim;
    dr_env *master_env;
    dr_env *client_env;
    dr_master *master;
    dr_http_client *client;
} world;

static void world_init(world *w, const dr_master_opts *opts_in)
{
    memset(w, 0, sizeof *w);
    dr_sim_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.seed = 7;
    opts.scenario = "master-operator-unit";
    w->sim = dr_sim_create(&opts);
    dr_sim_register_program(w->sim, &blank_program);
    dr_sim_host_id mh = dr_sim_host_add(w->sim, "master-1");
    dr_sim_host_id ch = dr_sim_host_add(w->sim, "client-1");
    const char *argv[] = {"blank", NULL};
    dr_err err;
    dr_pid mp = dr_sim_process_start(w->sim, mh, argv, &err);
    dr_pid cp = dr_sim_process_start(w->sim, ch, argv, &err);
    assert_true(mp > 0);
    assert_true(cp > 0);
    w->master_env = dr_sim_process_env(w->sim, mp);
    w->client_env = dr_sim_process_env(w->sim, cp);
    dr_master_opts mo;
    if (opts_in != NULL) {
        mo = *opts_in;
    } else {
        dr_master_opts_default(&mo);
    }
    mo.port = 5050;
    if (dr_master_create(w->master_env, &mo, &w->master, &err) != DR_OK)
        fail_msg("dr_master_create: %s", err.msg);
    dr_http_client_opts copts = {.timeout_ns = 5 * DR_NS_PER_S};
    assert_int_equal(dr_http_client_create(w->client_env, "master-1", 5050, &copts, &w->client,
                                           &err),
                     DR_OK);
}

static void world_deinit(world *w)
{
    dr_http_client_destroy(w->client);
    dr_master_destroy(w->master);
    dr_sim_destroy(w->sim);
}

/* ---- calls -------------------------------------------------------------------------- */

typedef struct reply {
    bool done;
    dr_err err;
    int status;
    char content_type[64];
    char content_encoding[32];
    char location[128];
    char stream_id[64];
    dr_buf body;
    /* streams */
    bool head;
    bool raw; /* streaming call whose body is kept as it comes (no RecordIO) */
    dr_recordio_decoder dec;
    dr_buf records[64];
    size_t record_count;
} reply;

static void reply_init(reply *r)
{
    memset(r, 0, sizeof *r);
    dr_buf_init(&r->body);
    dr_recordio_decoder_init(&r->dec, 0);
}

static void reply_deinit(reply *r)
{
    dr_buf_deinit(&r->body);
    dr_recordio_decoder_deinit(&r->dec);
    for (size_t i = 0; i < DR_ARRAY_COUNT(r->records); i++)
        dr_buf_deinit(&r->records[i]);
}

static void copy_headers(reply *r, const dr_http_client_response *resp)
{
    r->status = resp->status;
    const char *ct = dr_http_headers_get(&resp->headers, "Content-Type");
    const char *ce = dr_http_headers_get(&resp->headers, "Content-Encoding");
    const char *loc = dr_http_headers_get(&resp->headers, "Location");
    const char *sid = dr_http_headers_get(&resp->headers, "Mesos-Stream-Id");
    snprintf(r->stream_id, sizeof r->stream_id, "%s", sid ? sid : "-");
    snprintf(r->content_type, sizeof r->content_type, "%s", ct ? ct : "-");
    snprintf(r->content_encoding, sizeof r->content_encoding, "%s", ce ? ce : "-");
    snprintf(r->location, sizeof r->location, "%s", loc ? loc : "-");
}

static bool on_record(const uint8_t *data, size_t size, void *ctx)
{
    reply *r = ctx;
    assert_true(r->record_count < DR_ARRAY_COUNT(r->records));
    dr_buf_append(&r->records[r->record_count++], data, size);
    return true;
}

static void on_head(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                    void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(call);
    reply *r = ctx;
    r->head = true;
    copy_headers(r, resp);
}

static void on_chunk(dr_env *env, dr_http_call *call, const uint8_t *data, size_t size, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(call);
    reply *r = ctx;
    if (r->status != 200 || r->raw) {
        dr_buf_append(&r->body, data, size);
        return;
    }
    dr_err err;
    assert_int_equal(dr_recordio_decoder_feed(&r->dec, data, size, on_record, r, &err), DR_OK);
}

static void on_done(dr_env *env, dr_http_call *call, const dr_http_client_response *resp,
                    const dr_err *err, void *ctx)
{
    DR_UNUSED(env);
    DR_UNUSED(call);
    reply *r = ctx;
    assert_false(r->done);
    r->done = true;
    r->err = *err;
    if (resp != NULL) {
        copy_headers(r, resp);
        dr_buf_append(&r->body, resp->body, resp->body_size);
    }
}

static const dr_http_call_cbs call_cbs = {.head = on_head, .chunk = on_chunk, .done = on_done};

static void run_until(world *w, bool *flag, uint64_t max_ns)
{
    uint64_t deadline = dr_sim_now(w->sim) + max_ns;
    while (!*flag && dr_sim_now(w->sim) < deadline)
        if (!dr_sim_step(w->sim))
            break;
}

static void run_for(world *w, uint64_t ns) { dr_sim_run_until(w->sim, dr_sim_now(w->sim) + ns); }

/* Sends a request (headers: name, value pairs, NULL-terminated) and waits
 * for the whole answer (or, with stream, for its head). */
static void request(world *w, const char *method, const char *target, const char *const *hdrs,
                    const void *body, size_t body_size, bool stream, reply *r)
{
    dr_http_header headers[8];
    size_t n = 0;
    for (; hdrs != NULL && hdrs[2 * n] != NULL; n++) {
        assert_true(n < DR_ARRAY_COUNT(headers));
        headers[n].name = (char *)hdrs[2 * n];
        headers[n].value = (char *)hdrs[2 * n + 1];
    }
    reply_init(r);
    dr_http_client_request req = {.method = method, .target = target, .headers = headers,
                                  .header_count = n, .body = body, .body_size = body_size,
                                  .stream = stream};
    dr_err err;
    assert_int_equal(dr_http_client_send(w->client, &req, &call_cbs, r, NULL, &err), DR_OK);
    run_until(w, stream ? &r->head : &r->done, 10 * DR_NS_PER_S);
    assert_true(stream ? r->head : r->done);
    if (!stream && r->err.code != DR_OK)
        fail_msg("%s %s: %s", method, target, r->err.msg);
}

static const char *const json_headers[] = {"Content-Type", "application/json", "Accept",
                                           "application/json", NULL};
static const char *const pb_headers[] = {"Content-Type", "application/x-protobuf", "Accept",
                                         "application/x-protobuf", NULL};

static void call_json(world *w, const char *body, reply *r)
{
    request(w, "POST", "/api/v1", json_headers, body, strlen(body), false, r);
}

/* Decodes a JSON operator response and checks its type. */
static Mesos__Master__Response *decode_json_response(const reply *r, dr_arena *arena,
                                                     Mesos__Master__Response__Type type)
{
    assert_int_equal(r->status, 200);
    assert_string_equal(r->content_type, "application/json");
    ProtobufCMessage *msg = NULL;
    dr_err err;
    if (dr_json_decode(&mesos__master__response__descriptor, (const char *)r->body.data,
                       r->body.size, arena, &msg, &err) != DR_OK)
        fail_msg("response: %s: %.*s", err.msg, (int)r->body.size, (const char *)r->body.data);
    Mesos__Master__Response *resp = (Mesos__Master__Response *)msg;
    assert_true(resp->has_type);
    assert_int_equal(resp->type, type);
    return resp;
}

/* The error text, without the newline the server ends it with. */
static void assert_body(const reply *r, const char *text)
{
    size_t size = r->body.size;
    if (size > 0 && r->body.data[size - 1] == '\n')
        size--;
    if (size != strlen(text) || memcmp(r->body.data, text, size) != 0)
        fail_msg("body '%.*s', expected '%s'", (int)r->body.size, (const char *)r->body.data, text);
}

/* ---- the synchronous calls ------------------------------------------------------------ */

static void test_get_calls_json(void **state)
{
    DR_UNUSED(state);
    world w;
    world_init(&w, NULL);
    dr_arena arena;
    dr_arena_init(&arena);
    reply r;

    call_json(&w, "{\"type\":\"GET_HEALTH\"}", &r);
    Mesos__Master__Response *resp =
        decode_json_response(&r, &arena, MESOS__MASTER__RESPONSE__TYPE__GET_HEALTH);
    assert_non_null(resp->get_health);
    assert_true(resp->get_health->healthy);
    reply_deinit(&r);

    call_json(&w, "{\"type\":\"GET_VERSION\"}", &r);
    resp = decode_json_response(&r, &arena, MESOS__MASTER__RESPONSE__TYPE__GET_VERSION);
    assert_string_equal(resp->get_version->version_info->version, "1.11.0");
    reply_deinit(&r);

    call_json(&w, "{\"type\":\"GET_FLAGS\"}", &r);
    resp = decode_json_response(&r, &arena, MESOS__MASTER__RESPONSE__TYPE__GET_FLAGS);
    bool saw_port = false, saw_interval = false;
    for (size_t i = 0; i < resp->get_flags->n_flags; i++) {
        const Mesos__Flag *f = resp->get_flags->flags[i];
        if (i > 0)
            assert_true(strcmp(resp->get_flags->flags[i - 1]->name, f->name) < 0);
        if (strcmp(f->name, "port") == 0) {
            saw_port = true;
            assert_string_equal(f->value, "5050");
        }
        if (strcmp(f->name, "allocation_interval") == 0) {
            saw_interval = true;
            assert_string_equal(f->value, "1secs");
        }
    }
    assert_true(saw_port);
    assert_true(saw_interval);
    reply_deinit(&r);

    call_json(&w, "{\"type\":\"GET_METRICS\",\"get_metrics\":{}}", &r);
    resp = decode_json_response(&r, &arena, MESOS__MASTER__RESPONSE__TYPE__GET_METRICS);
    bool elected = false;
    for (size_t i = 0; i < resp->get_metrics->n_metrics; i++)
        if (strcmp(resp->get_metrics->metrics[i]->name, "master/elected") == 0)
            elected = resp->get_metrics->metrics[i]->value == 1.0;
    assert_true(elected);
    reply_deinit(&r);

    call_json(&w, "{\"type\":\"GET_LOGGING_LEVEL\"}", &r);
    resp = decode_json_response(&r, &arena, MESOS__MASTER__RESPONSE__TYPE__GET_LOGGING_LEVEL);
    assert_non_null(resp->get_logging_level);
    reply_deinit(&r);

    call_json(&w, "{\"type\":\"GET_STATE\"}", &r);
    resp = decode_json_response(&r, &arena, MESOS__MASTER__RESPONSE__TYPE__GET_STATE);
    assert_non_null(resp->get_state->get_tasks);
    assert_non_null(resp->get_state->get_executors);
    assert_non_null(resp->get_state->get_frameworks);
    assert_non_null(resp->get_state->get_agents);
    assert_int_equal(resp->get_state->get_agents->n_agents, 0);
    reply_deinit(&r);

    static const struct {
        const char *call;
        Mesos__Master__Response__Type type;
    } simple[] = {
        {"GET_AGENTS", MESOS__MASTER__RESPONSE__TYPE__GET_AGENTS},
        {"GET_FRAMEWORKS", MESOS__MASTER__RESPONSE__TYPE__GET_FRAMEWORKS},
        {"GET_EXECUTORS", MESOS__MASTER__RESPONSE__TYPE__GET_EXECUTORS},
        {"GET_TASKS", MESOS__MASTER__RESPONSE__TYPE__GET_TASKS},
        {"GET_ROLES", MESOS__MASTER__RESPONSE__TYPE__GET_ROLES},
        {"GET_WEIGHTS", MESOS__MASTER__RESPONSE__TYPE__GET_WEIGHTS},
        {"GET_MASTER", MESOS__MASTER__RESPONSE__TYPE__GET_MASTER},
    };
    for (size_t i = 0; i < DR_ARRAY_COUNT(simple); i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"type\":\"%s\"}", simple[i].call);
        call_json(&w, body, &r);
        resp = decode_json_response(&r, &arena, simple[i].type);
        if (simple[i].type == MESOS__MASTER__RESPONSE__TYPE__GET_MASTER)
            assert_string_equal(resp->get_master->master_info->id, dr_master_id(w.master));
        reply_deinit(&r);
    }
    dr_arena_deinit(&arena);
    world_deinit(&w);
}

static void test_get_state_protobuf(void **state)
{
    DR_UNUSED(state);
    world w;
    world_init(&w, NULL);
    Mesos__Master__Call call = MESOS__MASTER__CALL__INIT;
    call.has_type = true;
    call.type = MESOS__MASTER__CALL__TYPE__GET_STATE;
    dr_buf body;
    dr_buf_init(&body);
    dr_err err;
    assert_int_equal(dr_proto_encode(&call.base, &body, &err), DR_OK);
    reply r;
    request(&w, "POST", "/master/api/v1", pb_headers, body.data, body.size, false, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/x-protobuf");
    dr_arena arena;
    dr_arena_init(&arena);
    ProtobufCMessage *msg = NULL;
    assert_int_equal(dr_proto_decode(&mesos__master__response__descriptor, r.body.data,
                                     r.body.size, &arena, &msg, &err),
                     DR_OK);
    Mesos__Master__Response *resp = (Mesos__Master__Response *)msg;
    assert_int_equal(resp->type, MESOS__MASTER__RESPONSE__TYPE__GET_STATE);
    assert_non_null(resp->get_state);
    reply_deinit(&r);

    /* JSON in, protobuf out: the codecs are negotiated separately. */
    static const char *const mixed[] = {"Content-Type", "application/json", "Accept",
                                        "application/x-protobuf", NULL};
    const char *json = "{\"type\":\"GET_HEALTH\"}";
    request(&w, "POST", "/api/v1", mixed, json, strlen(json), false, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/x-protobuf");
    assert_int_equal(dr_proto_decode(&mesos__master__response__descriptor, r.body.data,
                                     r.body.size, &arena, &msg, &err),
                     DR_OK);
    assert_true(((Mesos__Master__Response *)msg)->get_health->healthy);
    reply_deinit(&r);

    /* gzip when asked and the body is large enough (GET_METRICS is). The
     * call streams so that the client hands over the body as sent. */
    static const char *const gz[] = {"Content-Type", "application/json", "Accept",
                                     "application/json", "Accept-Encoding", "gzip", NULL};
    json = "{\"type\":\"GET_METRICS\"}";
    reply_init(&r);
    r.raw = true;
    dr_http_header gzh[3] = {{(char *)gz[0], (char *)gz[1]}, {(char *)gz[2], (char *)gz[3]},
                             {(char *)gz[4], (char *)gz[5]}};
    dr_http_client_request req = {.method = "POST", .target = "/api/v1", .headers = gzh,
                                  .header_count = 3, .body = json, .body_size = strlen(json),
                                  .stream = true};
    assert_int_equal(dr_http_client_send(w.client, &req, &call_cbs, &r, NULL, &err), DR_OK);
    run_until(&w, &r.done, 10 * DR_NS_PER_S);
    assert_true(r.done);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_encoding, "gzip");
    assert_true(r.body.size > 2);
    assert_int_equal(r.body.data[0], 0x1f);
    assert_int_equal(r.body.data[1], 0x8b);
    reply_deinit(&r);

    /* Without Accept-Encoding the same answer comes plain. */
    request(&w, "POST", "/api/v1", json_headers, json, strlen(json), false, &r);
    assert_string_equal(r.content_encoding, "-");
    assert_int_equal(dr_json_decode(&mesos__master__response__descriptor,
                                    (const char *)r.body.data, r.body.size, &arena, &msg, &err),
                     DR_OK);
    reply_deinit(&r);
    dr_arena_deinit(&arena);
    dr_buf_deinit(&body);
    world_deinit(&w);
}

/* ---- Mesos's HTTP rules and bad input --------------------------------------------------------- */

static void test_http_rules_and_errors(void **state)
{
    DR_UNUSED(state);
    world w;
    world_init(&w, NULL);
    reply r;

    request(&w, "GET", "/api/v1", NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 405);
    reply_deinit(&r);

    const char *body = "{\"type\":\"GET_HEALTH\"}";
    request(&w, "POST", "/api/v1", NULL, body, strlen(body), false, &r);
    assert_int_equal(r.status, 400);
    reply_deinit(&r);

    static const char *const text[] = {"Content-Type", "text/plain", NULL};
    request(&w, "POST", "/api/v1", text, body, strlen(body), false, &r);
    assert_int_equal(r.status, 415);
    reply_deinit(&r);

    static const char *const html[] = {"Content-Type", "application/json", "Accept", "text/html",
                                       NULL};
    request(&w, "POST", "/api/v1", html, body, strlen(body), false, &r);
    assert_int_equal(r.status, 406);
    reply_deinit(&r);

    call_json(&w, "{\"type\":", &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr((const char *)dr_buf_cstr(&r.body), "Failed to convert JSON into Call"));
    reply_deinit(&r);

    call_json(&w, "{\"type\":\"NO_SUCH_CALL\"}", &r);
    assert_int_equal(r.status, 400);
    assert_body(&r, "Failed to validate master::Call: Expecting 'type' to be present");
    reply_deinit(&r);

    call_json(&w, "{\"type\":\"UPDATE_WEIGHTS\"}", &r);
    assert_int_equal(r.status, 400);
    assert_body(&r, "Failed to validate master::Call: Expecting 'update_weights' to be present");
    reply_deinit(&r);

    call_json(&w, "{\"type\":\"SET_LOGGING_LEVEL\",\"set_logging_level\":{\"level\":1}}", &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr((const char *)dr_buf_cstr(&r.body), "duration"));
    reply_deinit(&r);

    /* A call without the message it needs is refused as Mesos refuses it,
     * implemented or not; GET_METRICS alone may go without its message. */
    static const char *const needs[][2] = {
        {"RESERVE_RESOURCES", "reserve_resources"}, {"LIST_FILES", "list_files"},
        {"TEARDOWN", "teardown"},                   {"MARK_AGENT_GONE", "mark_agent_gone"},
        {"SET_QUOTA", "set_quota"},                 {"START_MAINTENANCE", "start_maintenance"},
    };
    for (size_t i = 0; i < DR_ARRAY_COUNT(needs); i++) {
        char call[96], expect[128];
        snprintf(call, sizeof call, "{\"type\":\"%s\"}", needs[i][0]);
        snprintf(expect, sizeof expect,
                 "Failed to validate master::Call: Expecting '%s' to be present", needs[i][1]);
        call_json(&w, call, &r);
        assert_int_equal(r.status, 400);
        assert_body(&r, expect);
        reply_deinit(&r);
    }
    call_json(&w, "{\"type\":\"GET_METRICS\"}", &r);
    assert_int_equal(r.status, 200);
    reply_deinit(&r);

    /* Known calls not implemented yet: 501 with the name. */
    static const char *const unimplemented[][2] = {
        {"GET_QUOTA", ""},
        {"RESERVE_RESOURCES", ",\"reserve_resources\":{\"agent_id\":{\"value\":\"A\"}}"},
        {"GET_MAINTENANCE_STATUS", ""},
        {"LIST_FILES", ",\"list_files\":{\"path\":\"/\"}"},
    };
    for (size_t i = 0; i < DR_ARRAY_COUNT(unimplemented); i++) {
        char call[160], expect[96];
        snprintf(call, sizeof call, "{\"type\":\"%s\"%s}", unimplemented[i][0],
                 unimplemented[i][1]);
        snprintf(expect, sizeof expect, "%s is not implemented yet", unimplemented[i][0]);
        call_json(&w, call, &r);
        assert_int_equal(r.status, 501);
        assert_body(&r, expect);
        reply_deinit(&r);
    }

    /* Protobuf garbage. */
    request(&w, "POST", "/api/v1", pb_headers, "\xff\xff\xff", 3, false, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr((const char *)dr_buf_cstr(&r.body), "Failed to parse body into Call"));
    reply_deinit(&r);

    /* Unknown ids. */
    call_json(&w, "{\"type\":\"TEARDOWN\",\"teardown\":{\"framework_id\":{\"value\":\"nope\"}}}",
              &r);
    assert_int_equal(r.status, 400);
    assert_body(&r, "No framework found with specified ID 'nope'");
    reply_deinit(&r);
    call_json(&w,
              "{\"type\":\"MARK_AGENT_GONE\",\"mark_agent_gone\":{\"agent_id\":{\"value\":\"A-9\"}}}",
              &r);
    assert_int_equal(r.status, 404);
    assert_body(&r, "Agent 'A-9' not found");
    reply_deinit(&r);
    world_deinit(&w);
}

/* ---- logging level and weights ------------------------------------------------------------------ */

static void test_set_logging_level_reverts(void **state)
{
    DR_UNUSED(state);
    world w;
    world_init(&w, NULL);
    dr_env_set_log_level(w.master_env, DR_LOG_INFO);
    reply r;
    call_json(&w,
              "{\"type\":\"SET_LOGGING_LEVEL\",\"set_logging_level\":{\"level\":2,"
              "\"duration\":{\"nanoseconds\":60000000000}}}",
              &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.size, 0);
    reply_deinit(&r);
    assert_int_equal(dr_env_log_level(w.master_env), DR_LOG_DEBUG);

    dr_arena arena;
    dr_arena_init(&arena);
    call_json(&w, "{\"type\":\"GET_LOGGING_LEVEL\"}", &r);
    Mesos__Master__Response *resp =
        decode_json_response(&r, &arena, MESOS__MASTER__RESPONSE__TYPE__GET_LOGGING_LEVEL);
    assert_int_equal(resp->get_logging_level->level, 1);
    reply_deinit(&r);

    run_for(&w, 30 * DR_NS_PER_S);
    assert_int_equal(dr_env_log_level(w.master_env), DR_LOG_DEBUG);
    run_for(&w, 31 * DR_NS_PER_S);
    assert_int_equal(dr_env_log_level(w.master_env), DR_LOG_INFO);
    call_json(&w, "{\"type\":\"GET_LOGGING_LEVEL\"}", &r);
    resp = decode_json_response(&r, &arena, MESOS__MASTER__RESPONSE__TYPE__GET_LOGGING_LEVEL);
    assert_int_equal(resp->get_logging_level->level, 0);
    reply_deinit(&r);
    dr_arena_deinit(&arena);
    world_deinit(&w);
}

static void test_weights(void **state)
{
    DR_UNUSED(state);
    dr_master_opts opts;
    dr_master_opts_default(&opts);
    static const dr_master_weight weights[] = {{"ops", 3.0}};
    opts.weights = weights;
    opts.weight_count = 1;
    world w;
    world_init(&w, &opts);
    dr_arena arena;
    dr_arena_init(&arena);
    reply r;

    call_json(&w,
              "{\"type\":\"UPDATE_WEIGHTS\",\"update_weights\":{\"weight_infos\":["
              "{\"role\":\"dev\",\"weight\":2.5},{\"role\":\"bad\",\"weight\":0}]}}",
              &r);
    assert_int_equal(r.status, 400);
    assert_body(&r, "Invalid weight 0 for role 'bad': must be positive");
    reply_deinit(&r);
    call_json(&w,
              "{\"type\":\"UPDATE_WEIGHTS\",\"update_weights\":{\"weight_infos\":["
              "{\"role\":\"-x\",\"weight\":1}]}}",
              &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr((const char *)dr_buf_cstr(&r.body), "Invalid role '-x'"));
    reply_deinit(&r);

    /* The failed call changed nothing. */
    call_json(&w, "{\"type\":\"GET_WEIGHTS\"}", &r);
    Mesos__Master__Response *resp =
        decode_json_response(&r, &arena, MESOS__MASTER__RESPONSE__TYPE__GET_WEIGHTS);
    assert_int_equal(resp->get_weights->n_weight_infos, 1);
    assert_string_equal(resp->get_weights->weight_infos[0]->role, "ops");
    reply_deinit(&r);

    call_json(&w,
              "{\"type\":\"UPDATE_WEIGHTS\",\"update_weights\":{\"weight_infos\":["
              "{\"role\":\"dev\",\"weight\":2.5}]}}",
              &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.size, 0);
    reply_deinit(&r);

    call_json(&w, "{\"type\":\"GET_WEIGHTS\"}", &r);
    resp = decode_json_response(&r, &arena, MESOS__MASTER__RESPONSE__TYPE__GET_WEIGHTS);
    assert_int_equal(resp->get_weights->n_weight_infos, 2);
    assert_string_equal(resp->get_weights->weight_infos[0]->role, "dev");
    assert_true(resp->get_weights->weight_infos[0]->weight == 2.5);
    assert_string_equal(resp->get_weights->weight_infos[1]->role, "ops");
    assert_true(resp->get_weights->weight_infos[1]->weight == 3.0);
    reply_deinit(&r);

    call_json(&w, "{\"type\":\"GET_ROLES\"}", &r);
    resp = decode_json_response(&r, &arena, MESOS__MASTER__RESPONSE__TYPE__GET_ROLES);
    bool dev = false;
    for (size_t i = 0; i < resp->get_roles->n_roles; i++)
        if (strcmp(resp->get_roles->roles[i]->name, "dev") == 0)
            dev = resp->get_roles->roles[i]->weight == 2.5;
    assert_true(dev);
    reply_deinit(&r);
    dr_arena_deinit(&arena);
    world_deinit(&w);
}

/* ---- SUBSCRIBE ------------------------------------------------------------------------------------ */

static Mesos__Master__Event *decode_event(const dr_buf *record, dr_arena *arena, bool json)
{
    ProtobufCMessage *msg = NULL;
    dr_err err;
    dr_code rc = json ? dr_json_decode(&mesos__master__event__descriptor, (const char *)record->data,
                                       record->size, arena, &msg, &err)
                      : dr_proto_decode(&mesos__master__event__descriptor, record->data,
                                        record->size, arena, &msg, &err);
    if (rc != DR_OK)
        fail_msg("event: %s", err.msg);
    return (Mesos__Master__Event *)msg;
}

static void subscribe(world *w, bool json, reply *r)
{
    if (json) {
        const char *body = "{\"type\":\"SUBSCRIBE\"}";
        request(w, "POST", "/api/v1", json_headers, body, strlen(body), true, r);
    } else {
        Mesos__Master__Call call = MESOS__MASTER__CALL__INIT;
        call.has_type = true;
        call.type = MESOS__MASTER__CALL__TYPE__SUBSCRIBE;
        dr_buf body;
        dr_buf_init(&body);
        dr_err err;
        assert_int_equal(dr_proto_encode(&call.base, &body, &err), DR_OK);
        request(w, "POST", "/api/v1", pb_headers, body.data, body.size, true, r);
        dr_buf_deinit(&body);
    }
    assert_int_equal(r->status, 200);
    assert_string_equal(r->content_type, json ? "application/json" : "application/x-protobuf");
}

static void test_subscribe_heartbeats(void **state)
{
    DR_UNUSED(state);
    for (int json = 0; json <= 1; json++) {
        world w;
        world_init(&w, NULL);
        reply r;
        subscribe(&w, json, &r);
        run_for(&w, DR_NS_PER_S);
        assert_int_equal(r.record_count, 2);
        dr_arena arena;
        dr_arena_init(&arena);
        Mesos__Master__Event *ev = decode_event(&r.records[0], &arena, json);
        assert_int_equal(ev->type, MESOS__MASTER__EVENT__TYPE__SUBSCRIBED);
        assert_non_null(ev->subscribed);
        assert_non_null(ev->subscribed->get_state);
        assert_true(ev->subscribed->has_heartbeat_interval_seconds);
        assert_true(ev->subscribed->heartbeat_interval_seconds == 15.0);
        ev = decode_event(&r.records[1], &arena, json);
        assert_int_equal(ev->type, MESOS__MASTER__EVENT__TYPE__HEARTBEAT);
        run_for(&w, 13 * DR_NS_PER_S); /* 14 s after SUBSCRIBE */
        assert_int_equal(r.record_count, 2);
        run_for(&w, 2 * DR_NS_PER_S);
        assert_int_equal(r.record_count, 3);
        ev = decode_event(&r.records[2], &arena, json);
        assert_int_equal(ev->type, MESOS__MASTER__EVENT__TYPE__HEARTBEAT);

        /* The subscriber shows in the metrics. */
        dr_metrics ms;
        dr_metrics_init(&ms);
        dr__metrics_collect(w.master, &ms);
        assert_true(dr_metrics_get(&ms, "master/operator_event_stream_subscribers") == 1.0);
        dr_metrics_deinit(&ms);

        /* Graceful shutdown ends the stream cleanly. */
        bool shut = false;
        dr_master_shutdown(w.master, NULL, NULL);
        run_until(&w, &r.done, 5 * DR_NS_PER_S);
        assert_true(r.done);
        DR_UNUSED(shut);
        dr_arena_deinit(&arena);
        reply_deinit(&r);
        world_deinit(&w);
    }
}

/* Events on model changes, through the hook the core calls (driven here
 * directly with a hand-built framework, task and agent, so that the test
 * pins the operator side alone). */
static void test_subscribe_events(void **state)
{
    DR_UNUSED(state);
    world w;
    world_init(&w, NULL);
    reply r;
    subscribe(&w, true, &r);
    run_for(&w, DR_NS_PER_S);
    assert_int_equal(r.record_count, 2);

    /* A framework. */
    Mesos__FrameworkID fid = MESOS__FRAMEWORK_ID__INIT;
    fid.value = "F-1";
    Mesos__FrameworkInfo info = MESOS__FRAMEWORK_INFO__INIT;
    info.user = "alice";
    info.name = "fw";
    info.id = &fid;
    dr_mframework fw;
    memset(&fw, 0, sizeof fw);
    fw.id = "F-1";
    fw.state = DR_MFRAMEWORK_CONNECTED;
    fw.info = &info;
    dr_idmap_init(&fw.tasks);
    dr_idmap_init(&fw.offers);
    dr_resources_init(&fw.used_resources);
    dr_resources_init(&fw.offered_resources);
    fw.registered_wall_ns = 5 * DR_NS_PER_S;

    /* A task. */
    Mesos__TaskID tid = MESOS__TASK_ID__INIT;
    tid.value = "T-1";
    Mesos__AgentID aid = MESOS__AGENT_ID__INIT;
    aid.value = "A-1";
    Mesos__Task task = MESOS__TASK__INIT;
    task.name = "t";
    task.task_id = &tid;
    task.framework_id = &fid;
    task.agent_id = &aid;
    task.state = MESOS__TASK_STATE__TASK_STAGING;
    dr_mtask t;
    memset(&t, 0, sizeof t);
    t.id = "T-1";
    t.framework_id = "F-1";
    t.agent_id = "A-1";
    t.task = &task;
    t.state = MESOS__TASK_STATE__TASK_STAGING;

    /* An agent. */
    Mesos__AgentInfo ainfo = MESOS__AGENT_INFO__INIT;
    ainfo.hostname = "agent-1";
    ainfo.id = &aid;
    dr_magent agent;
    memset(&agent, 0, sizeof agent);
    agent.id = "A-1";
    agent.state = DR_MAGENT_CONNECTED;
    agent.info = &ainfo;
    agent.hostname = "agent-1";
    agent.version = "1.11.0";
    snprintf(agent.pid, sizeof agent.pid, "slave(1)@10.0.0.2:5051");
    dr_resources_init(&agent.total_resources);
    dr_resources_init(&agent.used_resources);
    dr_resources_init(&agent.offered_resources);
    Mesos__Resource *cpus = dr_resource_new_scalar("cpus", NULL, 4);
    dr_resources_add_one(&agent.total_resources, cpus);
    dr_resource_free(cpus);

    dr__master_emit(w.master, DR_MASTER_EV_AGENT_ADDED, &agent);
    dr__master_emit(w.master, DR_MASTER_EV_FRAMEWORK_ADDED, &fw);
    dr__master_emit(w.master, DR_MASTER_EV_TASK_ADDED, &t);
    task.state = t.state = MESOS__TASK_STATE__TASK_RUNNING;
    dr__master_emit(w.master, DR_MASTER_EV_TASK_UPDATED, &t);
    dr__master_emit(w.master, DR_MASTER_EV_FRAMEWORK_UPDATED, &fw);
    fw.state = DR_MFRAMEWORK_COMPLETED;
    dr__master_emit(w.master, DR_MASTER_EV_FRAMEWORK_REMOVED, &fw);
    dr__master_emit(w.master, DR_MASTER_EV_AGENT_REMOVED, &agent);
    run_for(&w, DR_NS_PER_S);
    assert_int_equal(r.record_count, 9);

    dr_arena arena;
    dr_arena_init(&arena);
    static const Mesos__Master__Event__Type expect[] = {
        MESOS__MASTER__EVENT__TYPE__AGENT_ADDED,       MESOS__MASTER__EVENT__TYPE__FRAMEWORK_ADDED,
        MESOS__MASTER__EVENT__TYPE__TASK_ADDED,        MESOS__MASTER__EVENT__TYPE__TASK_UPDATED,
        MESOS__MASTER__EVENT__TYPE__FRAMEWORK_UPDATED, MESOS__MASTER__EVENT__TYPE__FRAMEWORK_REMOVED,
        MESOS__MASTER__EVENT__TYPE__AGENT_REMOVED,
    };
    for (size_t i = 0; i < DR_ARRAY_COUNT(expect); i++) {
        Mesos__Master__Event *ev = decode_event(&r.records[2 + i], &arena, true);
        assert_int_equal(ev->type, expect[i]);
        switch (ev->type) {
        case MESOS__MASTER__EVENT__TYPE__AGENT_ADDED:
            assert_string_equal(ev->agent_added->agent->agent_info->hostname, "agent-1");
            assert_true(ev->agent_added->agent->active);
            assert_int_equal(ev->agent_added->agent->n_total_resources, 1);
            break;
        case MESOS__MASTER__EVENT__TYPE__FRAMEWORK_ADDED:
            assert_string_equal(ev->framework_added->framework->framework_info->name, "fw");
            assert_true(ev->framework_added->framework->connected);
            break;
        case MESOS__MASTER__EVENT__TYPE__TASK_ADDED:
            assert_string_equal(ev->task_added->task->task_id->value, "T-1");
            assert_int_equal(ev->task_added->task->state, MESOS__TASK_STATE__TASK_STAGING);
            break;
        case MESOS__MASTER__EVENT__TYPE__TASK_UPDATED:
            assert_string_equal(ev->task_updated->framework_id->value, "F-1");
            assert_int_equal(ev->task_updated->state, MESOS__TASK_STATE__TASK_RUNNING);
            assert_string_equal(ev->task_updated->status->task_id->value, "T-1");
            break;
        case MESOS__MASTER__EVENT__TYPE__FRAMEWORK_REMOVED:
            assert_string_equal(ev->framework_removed->framework_info->id->value, "F-1");
            break;
        case MESOS__MASTER__EVENT__TYPE__AGENT_REMOVED:
            assert_string_equal(ev->agent_removed->agent_id->value, "A-1");
            break;
        default:
            break;
        }
    }
    dr_arena_deinit(&arena);
    dr_resources_deinit(&agent.total_resources);
    dr_idmap_deinit(&fw.tasks);
    dr_idmap_deinit(&fw.offers);

    /* A subscriber that goes away is dropped; events go on for the others. */
    reply second;
    subscribe(&w, false, &second);
    run_for(&w, DR_NS_PER_S);
    dr_http_client_destroy(w.client); /* both streams' connections aborted */
    w.client = NULL;
    run_for(&w, DR_NS_PER_S);
    dr_metrics ms;
    dr_metrics_init(&ms);
    dr__metrics_collect(w.master, &ms);
    assert_true(dr_metrics_get(&ms, "master/operator_event_stream_subscribers") == 0.0);
    dr_metrics_deinit(&ms);
    reply_deinit(&second);
    reply_deinit(&r);
    world_deinit(&w);
}

/* End to end with the core: a framework subscribing through the scheduler
 * API shows up as FRAMEWORK_ADDED and in the metrics. */
static void test_framework_subscribe_end_to_end(void **state)
{
    DR_UNUSED(state);
    world w;
    world_init(&w, NULL);
    reply ops;
    subscribe(&w, true, &ops);
    run_for(&w, DR_NS_PER_S);
    assert_int_equal(ops.record_count, 2);

    reply sched;
    const char *body = "{\"type\":\"SUBSCRIBE\",\"subscribe\":{\"framework_info\":"
                       "{\"user\":\"bob\",\"name\":\"e2e\"}}}";
    request(&w, "POST", "/api/v1/scheduler", json_headers, body, strlen(body), true, &sched);
    assert_int_equal(sched.status, 200);
    run_for(&w, DR_NS_PER_S);
    dr_arena arena;
    dr_arena_init(&arena);
    bool added = false;
    for (size_t i = 2; i < ops.record_count; i++) {
        Mesos__Master__Event *ev = decode_event(&ops.records[i], &arena, true);
        if (ev->type == MESOS__MASTER__EVENT__TYPE__FRAMEWORK_ADDED)
            added = strcmp(ev->framework_added->framework->framework_info->name, "e2e") == 0;
    }
    assert_true(added);
    dr_metrics ms;
    dr_metrics_init(&ms);
    dr__metrics_collect(w.master, &ms);
    assert_true(dr_metrics_get(&ms, "master/frameworks_active") == 1.0);
    assert_true(dr_metrics_get(&ms, "master/frameworks_connected") == 1.0);
    dr_metrics_deinit(&ms);

    /* GET_FRAMEWORKS sees it, and TEARDOWN removes it. */
    reply r;
    call_json(&w, "{\"type\":\"GET_FRAMEWORKS\"}", &r);
    Mesos__Master__Response *resp =
        decode_json_response(&r, &arena, MESOS__MASTER__RESPONSE__TYPE__GET_FRAMEWORKS);
    assert_int_equal(resp->get_frameworks->n_frameworks, 1);
    char teardown[256];
    snprintf(teardown, sizeof teardown,
             "{\"type\":\"TEARDOWN\",\"teardown\":{\"framework_id\":{\"value\":\"%s\"}}}",
             resp->get_frameworks->frameworks[0]->framework_info->id->value);
    reply_deinit(&r);
    call_json(&w, teardown, &r);
    assert_int_equal(r.status, 200);
    reply_deinit(&r);
    call_json(&w, "{\"type\":\"GET_FRAMEWORKS\"}", &r);
    resp = decode_json_response(&r, &arena, MESOS__MASTER__RESPONSE__TYPE__GET_FRAMEWORKS);
    assert_int_equal(resp->get_frameworks->n_frameworks, 0);
    assert_int_equal(resp->get_frameworks->n_completed_frameworks, 1);
    reply_deinit(&r);
    dr_arena_deinit(&arena);
    reply_deinit(&sched);
    reply_deinit(&ops);
    world_deinit(&w);
}

/* ---- a cluster: test agent, a framework by hand, one task --------------------------- */

static json_t *get_json(world *w, const char *target);

static Mesos__Scheduler__Event *decode_sched_event(const dr_buf *record, dr_arena *arena)
{
    ProtobufCMessage *msg = NULL;
    dr_err err;
    if (dr_json_decode(&mesos__scheduler__event__descriptor, (const char *)record->data,
                       record->size, arena, &msg, &err) != DR_OK)
        fail_msg("scheduler event: %s", err.msg);
    return (Mesos__Scheduler__Event *)msg;
}

/* The index of the first operator event of type at or after from, or -1. */
static long find_event(const reply *ops, size_t from, Mesos__Master__Event__Type type,
                       dr_arena *arena)
{
    for (size_t i = from; i < ops->record_count; i++)
        if (decode_event(&ops->records[i], arena, true)->type == type)
            return (long)i;
    return -1;
}

/* Acknowledges every UPDATE the scheduler stream got since *seen. */
static void ack_updates(world *w, reply *sched, const char *fid, size_t *seen, dr_arena *arena)
{
    for (; *seen < sched->record_count; (*seen)++) {
        Mesos__Scheduler__Event *ev = decode_sched_event(&sched->records[*seen], arena);
        if (ev->type != MESOS__SCHEDULER__EVENT__TYPE__UPDATE || !ev->update->status->has_uuid)
            continue;
        const Mesos__TaskStatus *st = ev->update->status;
        dr_buf uuid;
        dr_buf_init(&uuid);
        dr_base64_encode(st->uuid.data, st->uuid.len, &uuid);
        char ack[1024];
        snprintf(ack, sizeof ack,
                 "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"ACKNOWLEDGE\",\"acknowledge\":{"
                 "\"agent_id\":{\"value\":\"%s\"},\"task_id\":{\"value\":\"%s\"},"
                 "\"uuid\":\"%s\"}}",
                 fid, st->agent_id->value, st->task_id->value, dr_buf_cstr(&uuid));
        dr_buf_deinit(&uuid);
        const char *const headers[] = {"Content-Type", "application/json", "Accept",
                                       "application/json", "Mesos-Stream-Id", sched->stream_id,
                                       NULL};
        reply r;
        request(w, "POST", "/api/v1/scheduler", headers, ack, strlen(ack), false, &r);
        assert_int_equal(r.status, 202);
        reply_deinit(&r);
    }
}

static uint64_t run_cluster(void)
{
    world w;
    world_init(&w, NULL);
    dr_arena arena;
    dr_arena_init(&arena);
    reply ops;
    subscribe(&w, true, &ops);
    run_for(&w, DR_NS_PER_S);

    /* An agent with 4 cpus registers. */
    dr_sim_host_id ah = dr_sim_host_add(w.sim, "agent-1");
    const char *argv[] = {"blank", NULL};
    dr_err err;
    dr_pid ap = dr_sim_process_start(w.sim, ah, argv, &err);
    assert_true(ap > 0);
    dr_testagent_opts aopts = {.master_host = "master-1", .master_port = 5050,
                               .resources = "cpus:4;mem:4096;ports:[31000-32000]"};
    dr_testagent *agent = NULL;
    assert_int_equal(dr_testagent_create(dr_sim_process_env(w.sim, ap), &aopts, &agent, &err),
                     DR_OK);
    run_for(&w, 2 * DR_NS_PER_S);
    dr_testagent_info ainfo;
    dr_testagent_get_info(agent, &ainfo);
    assert_true(ainfo.registered);
    assert_true(find_event(&ops, 2, MESOS__MASTER__EVENT__TYPE__AGENT_ADDED, &arena) >= 0);

    /* A framework subscribes and gets an offer. */
    reply sched;
    const char *body = "{\"type\":\"SUBSCRIBE\",\"subscribe\":{\"framework_info\":"
                       "{\"user\":\"bob\",\"name\":\"views\",\"role\":\"web\"}}}";
    request(&w, "POST", "/api/v1/scheduler", json_headers, body, strlen(body), true, &sched);
    assert_int_equal(sched.status, 200);
    run_for(&w, 3 * DR_NS_PER_S);
    char fid[128] = "", oid[128] = "";
    for (size_t i = 0; i < sched.record_count; i++) {
        Mesos__Scheduler__Event *ev = decode_sched_event(&sched.records[i], &arena);
        if (ev->type == MESOS__SCHEDULER__EVENT__TYPE__SUBSCRIBED)
            snprintf(fid, sizeof fid, "%s", ev->subscribed->framework_id->value);
        if (ev->type == MESOS__SCHEDULER__EVENT__TYPE__OFFERS && oid[0] == '\0')
            snprintf(oid, sizeof oid, "%s", ev->offers->offers[0]->id->value);
    }
    if (fid[0] == '\0' || oid[0] == '\0')
        fail_msg("fid %s oid %s: %zu scheduler records (status %d): %.*s", fid, oid,
                 sched.record_count, sched.status, (int)sched.records[0].size,
                 (const char *)sched.records[0].data);

    /* /state shows the outstanding offer. */
    json_t *st = get_json(&w, "/state");
    json_t *fw0 = json_array_get(json_object_get(st, "frameworks"), 0);
    assert_string_equal(json_string_value(json_object_get(fw0, "name")), "views");
    assert_int_equal(json_array_size(json_object_get(fw0, "offers")), 1);
    json_decref(st);

    /* It launches one task of 1 cpu. */
    char accept[2048];
    snprintf(accept, sizeof accept,
             "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"ACCEPT\",\"accept\":{"
             "\"offer_ids\":[{\"value\":\"%s\"}],\"operations\":[{\"type\":\"LAUNCH\","
             "\"launch\":{\"task_infos\":[{\"name\":\"t1\",\"task_id\":{\"value\":\"t1\"},"
             "\"agent_id\":{\"value\":\"%s\"},\"resources\":["
             "{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1}},"
             "{\"name\":\"mem\",\"type\":\"SCALAR\",\"scalar\":{\"value\":128}}],"
             "\"command\":{\"value\":\"sleep inf\"}}]}}]}}",
             fid, oid, ainfo.agent_id);
    const char *const accept_headers[] = {"Content-Type", "application/json", "Accept",
                                          "application/json", "Mesos-Stream-Id", sched.stream_id,
                                          NULL};
    reply r;
    request(&w, "POST", "/api/v1/scheduler", accept_headers, accept, strlen(accept), false, &r);
    assert_int_equal(r.status, 202);
    reply_deinit(&r);
    run_for(&w, 2 * DR_NS_PER_S);
    /* Acknowledge STARTING so that the agent sends RUNNING, then that. */
    size_t seen = 0;
    for (int i = 0; i < 3; i++) {
        ack_updates(&w, &sched, fid, &seen, &arena);
        run_for(&w, DR_NS_PER_S);
    }

    long added = find_event(&ops, 2, MESOS__MASTER__EVENT__TYPE__TASK_ADDED, &arena);
    assert_true(added >= 0);
    long updated = find_event(&ops, (size_t)added, MESOS__MASTER__EVENT__TYPE__TASK_UPDATED,
                              &arena);
    assert_true(updated > added);
    bool running = false;
    for (size_t i = (size_t)updated; i < ops.record_count; i++) {
        Mesos__Master__Event *ev = decode_event(&ops.records[i], &arena, true);
        if (ev->type == MESOS__MASTER__EVENT__TYPE__TASK_UPDATED &&
            ev->task_updated->state == MESOS__TASK_STATE__TASK_RUNNING)
            running = true;
    }
    if (!running) {
        for (size_t i = 0; i < ops.record_count; i++)
            fprintf(stderr, "op event %zu: %.*s\n", i, (int)DR_MIN(ops.records[i].size, 200),
                    (const char *)ops.records[i].data);
    }
    assert_true(running);

    /* The views agree. */
    call_json(&w, "{\"type\":\"GET_TASKS\"}", &r);
    Mesos__Master__Response *resp =
        decode_json_response(&r, &arena, MESOS__MASTER__RESPONSE__TYPE__GET_TASKS);
    assert_int_equal(resp->get_tasks->n_tasks, 1);
    assert_string_equal(resp->get_tasks->tasks[0]->task_id->value, "t1");
    assert_int_equal(resp->get_tasks->tasks[0]->state, MESOS__TASK_STATE__TASK_RUNNING);
    reply_deinit(&r);
    call_json(&w, "{\"type\":\"GET_AGENTS\"}", &r);
    resp = decode_json_response(&r, &arena, MESOS__MASTER__RESPONSE__TYPE__GET_AGENTS);
    assert_int_equal(resp->get_agents->n_agents, 1);
    assert_true(resp->get_agents->agents[0]->active);
    assert_true(resp->get_agents->agents[0]->n_allocated_resources > 0);
    reply_deinit(&r);
    call_json(&w, "{\"type\":\"GET_ROLES\"}", &r);
    resp = decode_json_response(&r, &arena, MESOS__MASTER__RESPONSE__TYPE__GET_ROLES);
    bool web = false;
    for (size_t i = 0; i < resp->get_roles->n_roles; i++)
        if (strcmp(resp->get_roles->roles[i]->name, "web") == 0)
            web = resp->get_roles->roles[i]->n_frameworks == 1 &&
                  strcmp(resp->get_roles->roles[i]->frameworks[0]->value, fid) == 0;
    assert_true(web);
    reply_deinit(&r);

    dr_metrics ms;
    dr_metrics_init(&ms);
    dr__metrics_collect(w.master, &ms);
    assert_true(dr_metrics_get(&ms, "master/tasks_running") == 1.0);
    assert_true(dr_metrics_get(&ms, "master/slaves_active") == 1.0);
    assert_true(dr_metrics_get(&ms, "master/cpus_total") == 4.0);
    assert_true(dr_metrics_get(&ms, "master/cpus_used") == 1.0);
    assert_true(dr_metrics_get(&ms, "master/cpus_percent") == 0.25);
    assert_true(dr_metrics_get(&ms, "master/mem_used") == 128.0);
    dr_metrics_deinit(&ms);

    st = get_json(&w, "/state");
    assert_true(json_number_value(json_object_get(st, "activated_slaves")) == 1.0);
    json_t *slave = json_array_get(json_object_get(st, "slaves"), 0);
    assert_string_equal(json_string_value(json_object_get(slave, "hostname")), "agent-1");
    json_t *res = json_object_get(slave, "resources");
    assert_true(json_number_value(json_object_get(res, "cpus")) == 4.0);
    assert_string_equal(json_string_value(json_object_get(res, "ports")), "[31000-32000]");
    assert_true(json_number_value(json_object_get(json_object_get(slave, "used_resources"),
                                                  "cpus")) == 1.0);
    fw0 = json_array_get(json_object_get(st, "frameworks"), 0);
    assert_true(json_is_array(json_object_get(fw0, "executors")));
    assert_true(json_is_array(json_object_get(fw0, "completed_tasks")));
    assert_string_equal(json_string_value(json_object_get(fw0, "role")), "web");
    json_t *task0 = json_array_get(json_object_get(fw0, "tasks"), 0);
    assert_string_equal(json_string_value(json_object_get(task0, "id")), "t1");
    assert_string_equal(json_string_value(json_object_get(task0, "state")), "TASK_RUNNING");
    assert_string_equal(json_string_value(json_object_get(task0, "slave_id")), ainfo.agent_id);
    assert_true(json_number_value(json_object_get(json_object_get(task0, "resources"), "mem")) ==
                128.0);
    json_decref(st);
    st = get_json(&w, "/state-summary");
    slave = json_array_get(json_object_get(st, "slaves"), 0);
    assert_int_equal(json_integer_value(json_object_get(slave, "TASK_RUNNING")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(slave, "framework_ids"), 0)),
                        fid);
    json_decref(st);

    /* MARK_AGENT_GONE: 200, AGENT_REMOVED, the agent is no longer listed. */
    char gone[256];
    snprintf(gone, sizeof gone,
             "{\"type\":\"MARK_AGENT_GONE\",\"mark_agent_gone\":{\"agent_id\":{\"value\":\"%s\"}}}",
             ainfo.agent_id);
    size_t before = ops.record_count;
    call_json(&w, gone, &r);
    assert_int_equal(r.status, 200);
    reply_deinit(&r);
    run_for(&w, DR_NS_PER_S);
    assert_true(find_event(&ops, before, MESOS__MASTER__EVENT__TYPE__AGENT_REMOVED, &arena) >= 0);
    call_json(&w, "{\"type\":\"GET_AGENTS\"}", &r);
    resp = decode_json_response(&r, &arena, MESOS__MASTER__RESPONSE__TYPE__GET_AGENTS);
    assert_int_equal(resp->get_agents->n_agents, 0);
    reply_deinit(&r);
    /* Terminal states are counters of transitions (Mesos's), not gauges:
     * the task was lost with its agent (the framework is not partition-aware). */
    dr_metrics_init(&ms);
    dr__metrics_collect(w.master, &ms);
    assert_true(dr_metrics_get(&ms, "master/tasks_lost") == 1.0);
    assert_true(dr_metrics_get(&ms, "master/tasks_gone_by_operator") == 0.0);
    assert_true(dr_metrics_get(&ms, "master/tasks_running") == 0.0);
    assert_true(dr_metrics_get(&ms, "master/tasks_finished") == 0.0);
    dr_metrics_deinit(&ms);
    call_json(&w, gone, &r); /* already gone: 200 again, as Mesos */
    assert_int_equal(r.status, 200);
    reply_deinit(&r);

    dr_testagent_destroy(agent);
    dr_arena_deinit(&arena);
    reply_deinit(&sched);
    reply_deinit(&ops);
    uint64_t hash = dr_sim_trace_hash(w.sim);
    world_deinit(&w);
    return hash;
}

/* The whole run twice: the operator side adds nothing that depends on
 * addresses or the host (same trace hash). */
static void test_cluster_views(void **state)
{
    DR_UNUSED(state);
    uint64_t a = run_cluster();
    uint64_t b = run_cluster();
    assert_true(a == b);
}

/* ---- the plain endpoints ---------------------------------------------------------------------------- */

static json_t *get_json(world *w, const char *target)
{
    reply r;
    request(w, "GET", target, NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/json");
    json_error_t jerr;
    json_t *v = json_loadb((const char *)r.body.data, r.body.size, 0, &jerr);
    if (v == NULL)
        fail_msg("%s: %s", target, jerr.text);
    reply_deinit(&r);
    return v;
}

static void test_v0_endpoints(void **state)
{
    DR_UNUSED(state);
    world w;
    world_init(&w, NULL);
    reply r;
    request(&w, "GET", "/health", NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.size, 0);
    reply_deinit(&r);

    json_t *v = get_json(&w, "/version");
    assert_string_equal(json_string_value(json_object_get(v, "version")), "1.11.0");
    assert_non_null(json_object_get(v, "build_date"));
    json_decref(v);

    v = get_json(&w, "/metrics/snapshot");
    static const char *const names[] = {
        "master/elected", "master/uptime_secs", "master/slaves_active",
        "master/slaves_connected", "master/slaves_disconnected", "master/slaves_unreachable",
        "master/frameworks_active", "master/frameworks_connected",
        "master/frameworks_disconnected", "master/tasks_staging", "master/tasks_starting",
        "master/tasks_running", "master/tasks_finished", "master/tasks_failed",
        "master/tasks_killed", "master/tasks_lost", "master/tasks_unreachable",
        "master/cpus_total", "master/cpus_used", "master/cpus_percent", "master/mem_total",
        "master/mem_used", "master/mem_percent", "master/disk_total", "master/disk_used",
        "master/disk_percent", "master/gpus_total", "master/gpus_used", "master/gpus_percent",
        "master/outstanding_offers", "master/event_queue_messages",
        "master/event_queue_dispatches", "master/event_queue_http_requests",
        "master/dropped_messages", "allocator/mesos/allocation_runs",
        "allocator/mesos/allocation_run_ms", "allocator/mesos/allocation_run_ms/count",
        "allocator/mesos/allocation_run_ms/min", "allocator/mesos/allocation_run_ms/max",
        "allocator/mesos/allocation_run_ms/p50", "allocator/mesos/allocation_run_ms/p90",
        "allocator/mesos/allocation_run_ms/p99", "allocator/mesos/allocation_run_ms/p999",
        "allocator/mesos/allocation_run_ms/p9999", "master/operator_event_stream_subscribers",
    };
    for (size_t i = 0; i < DR_ARRAY_COUNT(names); i++) {
        json_t *n = json_object_get(v, names[i]);
        if (n == NULL || !json_is_number(n))
            fail_msg("metric '%s' missing", names[i]);
    }
    assert_true(json_number_value(json_object_get(v, "master/elected")) == 1.0);
    json_decref(v);

    for (int i = 0; i < 2; i++) {
        v = get_json(&w, i == 0 ? "/state" : "/master/state");
        assert_string_equal(json_string_value(json_object_get(v, "id")), dr_master_id(w.master));
        assert_string_equal(json_string_value(json_object_get(v, "version")), "1.11.0");
        static const char *const keys[] = {"pid", "hostname", "leader", "leader_info", "flags",
                                           "slaves", "frameworks", "completed_frameworks",
                                           "activated_slaves", "start_time"};
        for (size_t k = 0; k < DR_ARRAY_COUNT(keys); k++)
            if (json_object_get(v, keys[k]) == NULL)
                fail_msg("/state: '%s' missing", keys[k]);
        assert_true(json_is_array(json_object_get(v, "frameworks")));
        json_decref(v);
    }
    v = get_json(&w, "/state-summary");
    assert_true(json_is_array(json_object_get(v, "slaves")));
    assert_true(json_is_array(json_object_get(v, "frameworks")));
    json_decref(v);

    for (int i = 0; i < 2; i++) {
        request(&w, "GET", i == 0 ? "/redirect" : "/master/redirect", NULL, NULL, 0, false, &r);
        assert_int_equal(r.status, 307);
        assert_string_equal(r.location, "//master-1:5050");
        reply_deinit(&r);
    }
    world_deinit(&w);
}

/* Pre-1.4 resources (`role`, `reservation`) in a JSON LAUNCH are upgraded
 * to `reservations` before validation, as Mesos does: role "*" is
 * unreserved, role R a STATIC reservation for R (matching what the agent
 * reserved on its command line), and role R with `reservation` a DYNAMIC one
 * (not offered here, so that task alone is refused, naming it). */
static void test_launch_pre_1_4_resources(void **state)
{
    DR_UNUSED(state);
    world w;
    world_init(&w, NULL);
    dr_arena arena;
    dr_arena_init(&arena);
    dr_sim_host_id ah = dr_sim_host_add(w.sim, "agent-1");
    const char *argv[] = {"blank", NULL};
    dr_err err;
    dr_pid ap = dr_sim_process_start(w.sim, ah, argv, &err);
    dr_testagent_opts aopts = {.master_host = "master-1", .master_port = 5050,
                               .resources = "cpus:2;cpus(web):2;mem:2048",
                               .task_run_min_ns = 3600 * DR_NS_PER_S,
                               .task_run_max_ns = 3600 * DR_NS_PER_S};
    dr_testagent *agent = NULL;
    assert_int_equal(dr_testagent_create(dr_sim_process_env(w.sim, ap), &aopts, &agent, &err),
                     DR_OK);
    run_for(&w, 2 * DR_NS_PER_S);
    dr_testagent_info ainfo;
    dr_testagent_get_info(agent, &ainfo);
    assert_true(ainfo.registered);

    reply sched;
    const char *body = "{\"type\":\"SUBSCRIBE\",\"subscribe\":{\"framework_info\":"
                       "{\"user\":\"bob\",\"name\":\"old\",\"role\":\"web\"}}}";
    request(&w, "POST", "/api/v1/scheduler", json_headers, body, strlen(body), true, &sched);
    assert_int_equal(sched.status, 200);
    run_for(&w, 3 * DR_NS_PER_S);
    char fid[128] = "", oid[128] = "";
    for (size_t i = 0; i < sched.record_count; i++) {
        Mesos__Scheduler__Event *ev = decode_sched_event(&sched.records[i], &arena);
        if (ev->type == MESOS__SCHEDULER__EVENT__TYPE__SUBSCRIBED)
            snprintf(fid, sizeof fid, "%s", ev->subscribed->framework_id->value);
        if (ev->type == MESOS__SCHEDULER__EVENT__TYPE__OFFERS && oid[0] == '\0')
            snprintf(oid, sizeof oid, "%s", ev->offers->offers[0]->id->value);
    }
    assert_true(fid[0] != '\0' && oid[0] != '\0');

#define CPUS(extra) "{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1}" extra "}"
#define MEM "{\"name\":\"mem\",\"type\":\"SCALAR\",\"scalar\":{\"value\":64},\"role\":\"*\"}"
#define TASK(id, res)                                                                              \
    "{\"name\":\"" id "\",\"task_id\":{\"value\":\"" id "\"},\"agent_id\":{\"value\":\"%s\"},"     \
    "\"resources\":[" res "],\"command\":{\"value\":\"sleep inf\"}}"
    char accept[4096];
    snprintf(accept, sizeof accept,
             "{\"framework_id\":{\"value\":\"%s\"},\"type\":\"ACCEPT\",\"accept\":{"
             "\"offer_ids\":[{\"value\":\"%s\"}],\"operations\":[{\"type\":\"LAUNCH\","
             "\"launch\":{\"task_infos\":[" TASK("t-star", CPUS(",\"role\":\"*\"") "," MEM) ","
             TASK("t-static", CPUS(",\"role\":\"web\"") "," MEM) ","
             TASK("t-dynamic", CPUS(",\"role\":\"web\",\"reservation\":{\"principal\":\"ops\"}")
                  "," MEM) "]}}]}}",
             fid, oid, ainfo.agent_id, ainfo.agent_id, ainfo.agent_id);
#undef CPUS
#undef MEM
#undef TASK
    const char *const hdrs[] = {"Content-Type", "application/json", "Accept", "application/json",
                                "Mesos-Stream-Id", sched.stream_id, NULL};
    reply r;
    request(&w, "POST", "/api/v1/scheduler", hdrs, accept, strlen(accept), false, &r);
    assert_int_equal(r.status, 202);
    reply_deinit(&r);
    run_for(&w, 2 * DR_NS_PER_S);

    /* t-star and t-static start; t-dynamic gets TASK_ERROR naming the
     * dynamic reservation (role web, principal ops) the offer does not hold. */
    bool star = false, stat = false, dyn_error = false;
    for (size_t i = 0; i < sched.record_count; i++) {
        Mesos__Scheduler__Event *ev = decode_sched_event(&sched.records[i], &arena);
        if (ev->type != MESOS__SCHEDULER__EVENT__TYPE__UPDATE)
            continue;
        const Mesos__TaskStatus *st = ev->update->status;
        if (strcmp(st->task_id->value, "t-star") == 0)
            star = star || st->state == MESOS__TASK_STATE__TASK_STARTING ||
                   st->state == MESOS__TASK_STATE__TASK_RUNNING;
        if (strcmp(st->task_id->value, "t-static") == 0)
            stat = stat || st->state == MESOS__TASK_STATE__TASK_STARTING ||
                   st->state == MESOS__TASK_STATE__TASK_RUNNING;
        if (strcmp(st->task_id->value, "t-dynamic") == 0 &&
            st->state == MESOS__TASK_STATE__TASK_ERROR) {
            dyn_error = true;
            /* Mesos's text for a dynamic reservation: "cpus(web, ops):1" */
            if (st->message == NULL || strstr(st->message, "cpus(web, ops):1") == NULL)
                fail_msg("t-dynamic: '%s'", st->message != NULL ? st->message : "(none)");
        }
    }
    assert_true(star);
    assert_true(stat);
    assert_true(dyn_error);

    /* The master keeps them in the new shape. */
    call_json(&w, "{\"type\":\"GET_TASKS\"}", &r);
    Mesos__Master__Response *resp =
        decode_json_response(&r, &arena, MESOS__MASTER__RESPONSE__TYPE__GET_TASKS);
    size_t seen = 0;
    for (size_t i = 0; i < resp->get_tasks->n_tasks; i++) {
        const Mesos__Task *t = resp->get_tasks->tasks[i];
        for (size_t j = 0; j < t->n_resources; j++) {
            const Mesos__Resource *res = t->resources[j];
            if (strcmp(res->name, "cpus") != 0)
                continue;
            assert_null(res->reservation);
            if (strcmp(t->task_id->value, "t-static") == 0) {
                assert_int_equal(res->n_reservations, 1);
                assert_int_equal(res->reservations[0]->type,
                                 MESOS__RESOURCE__RESERVATION_INFO__TYPE__STATIC);
                assert_string_equal(res->reservations[0]->role, "web");
            } else {
                assert_string_equal(t->task_id->value, "t-star");
                assert_int_equal(res->n_reservations, 0);
            }
            seen++;
        }
    }
    assert_int_equal(seen, 2);
    reply_deinit(&r);

    dr_testagent_destroy(agent);
    reply_deinit(&sched);
    dr_arena_deinit(&arena);
    world_deinit(&w);
}

/* The operator API upgrades pre-1.4 resources too (calls that carry them are
 * not implemented yet: a bad mix is refused before the 501), and bounds what
 * a body may decode into: 2-byte empty messages that decode into 48 bytes
 * each are refused with 413, the master unharmed. */
static void test_operator_resources_and_arena(void **state)
{
    DR_UNUSED(state);
    world w;
    world_init(&w, NULL);
    reply r;
    call_json(&w,
              "{\"type\":\"RESERVE_RESOURCES\",\"reserve_resources\":{\"agent_id\":{\"value\":"
              "\"A\"},\"resources\":[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":"
              "1},\"role\":\"web\"}]}}",
              &r);
    assert_int_equal(r.status, 501);
    assert_body(&r, "RESERVE_RESOURCES is not implemented yet");
    reply_deinit(&r);
    call_json(&w,
              "{\"type\":\"RESERVE_RESOURCES\",\"reserve_resources\":{\"agent_id\":{\"value\":"
              "\"A\"},\"resources\":[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":"
              "1},\"role\":\"web\",\"reservations\":[{\"type\":\"STATIC\",\"role\":\"web\"}]}]}}",
              &r);
    assert_int_equal(r.status, 400);
    if (strstr((const char *)r.body.data, "reserve_resources.resources[0]") == NULL)
        fail_msg("body: %.*s", (int)r.body.size, (const char *)r.body.data);
    reply_deinit(&r);

    /* UPDATE_MAINTENANCE_SCHEDULE with 200,000 empty MachineIDs. */
    enum { N = 200000 };
    Mesos__MachineID **ids = dr_alloc_array(N, sizeof *ids);
    Mesos__MachineID empty = MESOS__MACHINE_ID__INIT;
    for (size_t i = 0; i < N; i++)
        ids[i] = &empty;
    Mesos__TimeInfo start = MESOS__TIME_INFO__INIT;
    Mesos__Unavailability un = MESOS__UNAVAILABILITY__INIT;
    un.start = &start;
    Mesos__Maintenance__Window win = MESOS__MAINTENANCE__WINDOW__INIT;
    win.machine_ids = ids;
    win.n_machine_ids = N;
    win.unavailability = &un;
    Mesos__Maintenance__Window *wins[] = {&win};
    Mesos__Maintenance__Schedule sch = MESOS__MAINTENANCE__SCHEDULE__INIT;
    sch.windows = wins;
    sch.n_windows = 1;
    Mesos__Master__Call__UpdateMaintenanceSchedule ums =
        MESOS__MASTER__CALL__UPDATE_MAINTENANCE_SCHEDULE__INIT;
    ums.schedule = &sch;
    Mesos__Master__Call call = MESOS__MASTER__CALL__INIT;
    call.has_type = true;
    call.type = MESOS__MASTER__CALL__TYPE__UPDATE_MAINTENANCE_SCHEDULE;
    call.update_maintenance_schedule = &ums;
    dr_buf body;
    dr_buf_init(&body);
    dr_err err;
    assert_int_equal(dr_proto_encode(&call.base, &body, &err), DR_OK);
    assert_true(body.size < 3 * N);
    request(&w, "POST", "/api/v1", pb_headers, body.data, body.size, false, &r);
    assert_int_equal(r.status, 413);
    if (strncmp((const char *)r.body.data, "Failed to parse body into Call protobuf: ", 41) != 0)
        fail_msg("body: %.*s", (int)r.body.size, (const char *)r.body.data);
    reply_deinit(&r);
    dr_buf_deinit(&body);
    dr_free(ids);
    call_json(&w, "{\"type\":\"GET_HEALTH\"}", &r);
    assert_int_equal(r.status, 200);
    reply_deinit(&r);
    world_deinit(&w);
}

/* The v0 endpoints' query: Mesos's jsonp (a JavaScript name, else 400) and
 * /metrics/snapshot's timeout (a stout duration, else 400 naming it). */
static void test_v0_query(void **state)
{
    DR_UNUSED(state);
    world w;
    world_init(&w, NULL);
    reply r;
    request(&w, "GET", "/master/state?jsonp=window.cb_1", NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "text/javascript");
    const char *body = dr_buf_cstr(&r.body);
    assert_true(strncmp(body, "window.cb_1({", 13) == 0);
    assert_true(r.body.size > 15 && strcmp(body + r.body.size - 3, "});") == 0);
    reply_deinit(&r);
    static const char *const bad_jsonp[] = {"/state?jsonp=alert(1)//", "/flags?jsonp=",
                                            "/version?jsonp=1x", "/state-summary?jsonp=a%3Cb"};
    for (size_t i = 0; i < DR_ARRAY_COUNT(bad_jsonp); i++) {
        request(&w, "GET", bad_jsonp[i], NULL, NULL, 0, false, &r);
        assert_int_equal(r.status, 400);
        if (strstr(dr_buf_cstr(&r.body), "Invalid jsonp callback '") != dr_buf_cstr(&r.body))
            fail_msg("%s: %s", bad_jsonp[i], dr_buf_cstr(&r.body));
        reply_deinit(&r);
    }
    request(&w, "GET", "/metrics/snapshot?timeout=5secs", NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/json");
    reply_deinit(&r);
    request(&w, "GET", "/metrics/snapshot?timeout=soon", NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 400);
    assert_body(&r, "Invalid timeout 'soon': expected a number and a unit (ns, us, ms, secs, "
                    "mins, hrs, days, weeks)");
    reply_deinit(&r);
    request(&w, "GET", "/metrics/snapshot?timeout=5", NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 400);
    reply_deinit(&r);
    world_deinit(&w);
}

/* A command's flag table (dromos master passes every flag with its
 * effective value): GET_FLAGS, /flags and /state list all of it, by name,
 * values as given but the port, which shows the one bound. */
static void test_flags_table(void **state)
{
    DR_UNUSED(state);
    static const dr_master_flag table[] = {
        {"work_dir", "/var/lib/dromos"}, {"port", "0"},
        {"allocation_interval", "1secs"}, {"registry", "in_memory"},
        {"logging_level", "INFO"},        {"filter_gpu_resources", "true"},
        {"weights", "a=2,b=0.5"},
    };
    dr_master_opts mo;
    dr_master_opts_default(&mo);
    mo.flags = table;
    mo.flag_count = DR_ARRAY_COUNT(table);
    world w;
    world_init(&w, &mo); /* port 5050 */
    static const char *const sorted[][2] = {
        {"allocation_interval", "1secs"}, {"filter_gpu_resources", "true"},
        {"logging_level", "INFO"},        {"port", "5050"},
        {"registry", "in_memory"},        {"weights", "a=2,b=0.5"},
        {"work_dir", "/var/lib/dromos"},
    };
    dr_arena arena;
    dr_arena_init(&arena);
    reply r;
    call_json(&w, "{\"type\":\"GET_FLAGS\"}", &r);
    Mesos__Master__Response *resp =
        decode_json_response(&r, &arena, MESOS__MASTER__RESPONSE__TYPE__GET_FLAGS);
    assert_int_equal(resp->get_flags->n_flags, DR_ARRAY_COUNT(sorted));
    for (size_t i = 0; i < DR_ARRAY_COUNT(sorted); i++) {
        assert_string_equal(resp->get_flags->flags[i]->name, sorted[i][0]);
        assert_string_equal(resp->get_flags->flags[i]->value, sorted[i][1]);
    }
    reply_deinit(&r);
    json_t *v = get_json(&w, "/flags");
    json_t *flags = json_object_get(v, "flags");
    assert_int_equal(json_object_size(flags), DR_ARRAY_COUNT(sorted));
    for (size_t i = 0; i < DR_ARRAY_COUNT(sorted); i++)
        assert_string_equal(json_string_value(json_object_get(flags, sorted[i][0])), sorted[i][1]);
    json_decref(v);
    v = get_json(&w, "/master/state");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(v, "flags"), "work_dir")),
        "/var/lib/dromos");
    json_decref(v);
    dr_arena_deinit(&arena);
    world_deinit(&w);

    /* A flag listed twice is a programming error of the command: refused. */
    static const dr_master_flag twice[] = {{"port", "1"}, {"ip", "x"}, {"port", "2"}};
    mo.flags = twice;
    mo.flag_count = DR_ARRAY_COUNT(twice);
    dr_sim_opts so;
    memset(&so, 0, sizeof so);
    dr_sim *sim = dr_sim_create(&so);
    dr_sim_register_program(sim, &blank_program);
    const char *argv[] = {"blank", NULL};
    dr_err err;
    dr_pid p = dr_sim_process_start(sim, dr_sim_host_add(sim, "m"), argv, &err);
    dr_master *m = NULL;
    assert_int_equal(dr_master_create(dr_sim_process_env(sim, p), &mo, &m, &err), DR_EINVAL);
    assert_string_equal(err.msg, "flags: 'port' is listed twice");
    dr_sim_destroy(sim);
}

/* allocation_run_ms reports the window of real run times noted for each
 * allocation cycle: skewed samples give percentiles a mean could not. */
static void test_allocation_run_percentiles(void **state)
{
    DR_UNUSED(state);
    world w;
    world_init(&w, NULL);
    dr_metrics ms;
    dr_metrics_init(&ms);
    dr__metrics_collect(w.master, &ms);
    assert_true(dr_metrics_get(&ms, "allocator/mesos/allocation_run_ms/count") == 0.0);
    assert_true(dr_metrics_get(&ms, "allocator/mesos/allocation_run_ms/p99") == 0.0);
    /* 90 fast cycles (1 ms), 9 slow (50 ms), one very slow (2 s). The sim
     * has not run: no cycle of the master's own is in the window. */
    for (int i = 0; i < 90; i++)
        dr__operator_note_allocation_run(w.master, DR_NS_PER_MS);
    for (int i = 0; i < 9; i++)
        dr__operator_note_allocation_run(w.master, 50 * DR_NS_PER_MS);
    dr__operator_note_allocation_run(w.master, 2 * DR_NS_PER_S);
    dr__metrics_collect(w.master, &ms);
    static const struct {
        const char *name;
        double value;
    } want[] = {
        {"allocator/mesos/allocation_run_ms", 2000.0},
        {"allocator/mesos/allocation_run_ms/count", 100.0},
        {"allocator/mesos/allocation_run_ms/min", 1.0},
        {"allocator/mesos/allocation_run_ms/max", 2000.0},
        {"allocator/mesos/allocation_run_ms/p50", 1.0},
        {"allocator/mesos/allocation_run_ms/p90", 1.0},
        {"allocator/mesos/allocation_run_ms/p95", 50.0},
        {"allocator/mesos/allocation_run_ms/p99", 50.0},
        {"allocator/mesos/allocation_run_ms/p999", 2000.0},
        {"allocator/mesos/allocation_run_ms/p9999", 2000.0},
    };
    for (size_t i = 0; i < DR_ARRAY_COUNT(want); i++) {
        double got = dr_metrics_get(&ms, want[i].name);
        if (got != want[i].value)
            fail_msg("%s = %g, expected %g", want[i].name, got, want[i].value);
    }
    /* The window is bounded: a full window of newer runs pushes the old out,
     * and count is what it holds (as libprocess's Statistics). */
    for (size_t i = 0; i < DR_TIMER_STAT_SAMPLE_COUNT_MAX; i++)
        dr__operator_note_allocation_run(w.master, 3 * DR_NS_PER_MS);
    dr__metrics_collect(w.master, &ms);
    assert_true(dr_metrics_get(&ms, "allocator/mesos/allocation_run_ms/count") ==
                (double)DR_TIMER_STAT_SAMPLE_COUNT_MAX);
    assert_true(dr_metrics_get(&ms, "allocator/mesos/allocation_run_ms/max") == 3.0);
    assert_true(dr_metrics_get(&ms, "allocator/mesos/allocation_run_ms/p50") == 3.0);
    dr_metrics_deinit(&ms);
    world_deinit(&w);
}

/* ---- helpers ------------------------------------------------------------------------------------------ */

static void test_timer_stat_and_numbers(void **state)
{
    DR_UNUSED(state);
    dr_timer_stat t;
    dr_timer_stat_init(&t);
    assert_int_equal(dr_timer_stat_quantile_ns(&t, 0.5), 0);
    for (uint64_t i = 1; i <= 100; i++)
        dr_timer_stat_add(&t, i * DR_NS_PER_MS);
    assert_int_equal(dr_timer_stat_min_ns(&t), DR_NS_PER_MS);
    assert_int_equal(dr_timer_stat_max_ns(&t), 100 * DR_NS_PER_MS);
    assert_int_equal(dr_timer_stat_quantile_ns(&t, 0.5), 50 * DR_NS_PER_MS);
    assert_int_equal(dr_timer_stat_quantile_ns(&t, 0.99), 99 * DR_NS_PER_MS);
    assert_int_equal(dr_timer_stat_quantile_ns(&t, 1.0), 100 * DR_NS_PER_MS);
    /* The window keeps the newest samples. */
    for (uint64_t i = 0; i < DR_TIMER_STAT_SAMPLE_COUNT_MAX; i++)
        dr_timer_stat_add(&t, 7);
    assert_int_equal(dr_timer_stat_max_ns(&t), 7);
    assert_int_equal(t.total_count, 100 + DR_TIMER_STAT_SAMPLE_COUNT_MAX);

    dr_metrics ms;
    dr_metrics_init(&ms);
    dr_metrics_set(&ms, "b", 0.1);
    dr_metrics_set(&ms, "a", 1);
    dr_metrics_set(&ms, "c", 2.5e-7);
    dr_metrics_set(&ms, "a", 2);
    dr_buf out;
    dr_buf_init(&out);
    dr_metrics_json(&ms, &out);
    assert_string_equal(dr_buf_cstr(&out), "{\"a\":2.0,\"b\":0.1,\"c\":2.5e-07}");
    assert_true(isnan(dr_metrics_get(&ms, "zz")));
    dr_buf_deinit(&out);
    dr_metrics_deinit(&ms);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer_stat_and_numbers),
        cmocka_unit_test(test_get_calls_json),
        cmocka_unit_test(test_get_state_protobuf),
        cmocka_unit_test(test_http_rules_and_errors),
        cmocka_unit_test(test_set_logging_level_reverts),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_subscribe_heartbeats),
        cmocka_unit_test(test_subscribe_events),
        cmocka_unit_test(test_framework_subscribe_end_to_end),
        cmocka_unit_test(test_v0_endpoints),
        cmocka_unit_test(test_cluster_views),
        cmocka_unit_test(test_allocation_run_percentiles),
        cmocka_unit_test(test_flags_table),
        cmocka_unit_test(test_v0_query),
        cmocka_unit_test(test_launch_pre_1_4_resources),
        cmocka_unit_test(test_operator_resources_and_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
