/* src/daemon/cmds/counter.c — `dromos counter`: the demo replicated counter
 * (src/demo) on the real env.
 *
 *   dromos counter serve --id N --peers H:P,H:P,H:P --data DIR [--port P] [--ip IP]
 *   dromos counter client --connect H:P[,H:P...] (--inc K | --get [--local])
 *
 * serve runs one replica until SIGTERM/SIGINT (exit 0) or a disk error
 * (exit 1: restart it; recovery re-reads the log). client runs one
 * operation, prints the resulting value on stdout and exits 0, or 1 if no
 * replica answered within --timeout.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../cmds.h"
#include "../flags.h"
#include "src/demo/counter.h"
#include "src/env/real/real.h"

static const char summary[] = "the demo replicated counter: serve a replica, or run a client";

/* Splits a comma list into out[] (pointers into buf, which is modified). */
static size_t split_list(char *buf, const char **out, size_t out_count)
{
    size_t n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (n == out_count)
            return out_count + 1;
        out[n++] = tok;
    }
    return n;
}

/* ---- serve ---------------------------------------------------------------------- */

typedef struct serve_ctx {
    dr_counter_server *server;
    int exit_code;
} serve_ctx;

static void serve_signal(dr_env *env, int signo, void *ctx)
{
    serve_ctx *sc = ctx;
    DR_INFO(env, "counter: signal %d, shutting down", signo);
    sc->exit_code = 0;
    dr_env_real_stop(env);
}

static void serve_watch_fire(dr_env *env, void *ctx)
{
    serve_ctx *sc = ctx;
    dr_counter_server_info info;
    dr_counter_server_get_info(sc->server, &info);
    if (info.failed) {
        sc->exit_code = 1;
        dr_env_real_stop(env);
        return;
    }
    dr_env_timer_add(env, 100 * DR_NS_PER_MS, serve_watch_fire, sc);
}

static int serve(int argc, char **argv)
{
    uint64_t id = 0;
    uint64_t port = 0;
    const char *peers_text = NULL;
    const char *data_dir = NULL;
    const char *ip = "127.0.0.1";
    const char *log_level_text = "info";
    const dr_flag flags[] = {
        {"id", DR_FLAG_U64, &id, "this replica's index in --peers (0 leads)"},
        {"peers", DR_FLAG_STRING, &peers_text,
         "every replica's HOST:PORT, comma-separated, in id order (default: just this one)"},
        {"port", DR_FLAG_U64, &port, "port to listen on (default: this replica's in --peers)"},
        {"ip", DR_FLAG_STRING, &ip, "address to listen on"},
        {"data", DR_FLAG_STRING, &data_dir, "directory for the log (created if missing)"},
        {"log_level", DR_FLAG_STRING, &log_level_text, "debug, info, warn or error"},
    };
    dr_flags_result res;
    dr_err err;
    if (dr_flags_parse(flags, DR_ARRAY_COUNT(flags), argc, argv, &res, &err) != DR_OK)
        return dr_cmd_usage_error("counter serve", "%s", err.msg);
    if (res.help) {
        dr_flags_usage(stdout, "counter serve", "run one replica of the demo counter", flags,
                       DR_ARRAY_COUNT(flags));
        return 0;
    }
    if (res.positional_index < argc)
        return dr_cmd_usage_error("counter serve", "unexpected argument '%s'",
                                  argv[res.positional_index]);
    if (data_dir == NULL)
        return dr_cmd_usage_error("counter serve", "--data is required");
    if (port > 65535)
        return dr_cmd_usage_error("counter serve", "--port %llu is not 0-65535",
                                  (unsigned long long)port);
    dr_log_level level;
    if (dr_log_level_parse(log_level_text, &level, &err) != DR_OK)
        return dr_cmd_usage_error("counter serve", "--log_level: %s", err.msg);

    char peers_buf[DR_COUNTER_REPLICA_COUNT_MAX * DR_COUNTER_ADDR_SIZE_MAX];
    char self[32];
    const char *peers[DR_COUNTER_REPLICA_COUNT_MAX];
    size_t peer_count = 0;
    if (peers_text != NULL) {
        if (!dr_strlcpy(peers_buf, peers_text, sizeof peers_buf))
            return dr_cmd_usage_error("counter serve", "--peers is too long");
        peer_count = split_list(peers_buf, peers, DR_COUNTER_REPLICA_COUNT_MAX);
        if (peer_count == 0 || peer_count > DR_COUNTER_REPLICA_COUNT_MAX)
            return dr_cmd_usage_error("counter serve", "--peers '%s': expected 1-%u HOST:PORT",
                                      peers_text, DR_COUNTER_REPLICA_COUNT_MAX);
    } else {
        if (port == 0)
            return dr_cmd_usage_error("counter serve", "--port or --peers is required");
        snprintf(self, sizeof self, "127.0.0.1:%u", (unsigned)port);
        peers[0] = self;
        peer_count = 1;
    }
    if (id >= peer_count)
        return dr_cmd_usage_error("counter serve", "--id %llu: --peers lists %zu replicas",
                                  (unsigned long long)id, peer_count);

    char node_name[32];
    snprintf(node_name, sizeof node_name, "counter-%llu", (unsigned long long)id);
    dr_env_real_opts env_opts = {.node_name = node_name, .log_level = level};
    dr_env *env = NULL;
    if (dr_env_real_create(&env_opts, &env, &err) != DR_OK) {
        fprintf(stderr, "dromos counter serve: %s\n", err.msg);
        return 1;
    }
    dr_counter_server_opts opts = {
        .id = (uint32_t)id,
        .replica_count = (uint32_t)peer_count,
        .peers = peers,
        .listen_host = ip,
        .listen_port = (uint16_t)port,
        .data_dir = data_dir,
    };
    serve_ctx sc = {0};
    if (dr_counter_server_create(env, &opts, &sc.server, &err) != DR_OK) {
        fprintf(stderr, "dromos counter serve: %s\n", err.msg);
        dr_env_real_destroy(env);
        return 1;
    }
    dr_counter_server_info info;
    dr_counter_server_get_info(sc.server, &info);
    printf("counter replica %llu of %zu listening on %s:%u (%llu records recovered, value %llu)\n",
           (unsigned long long)id, peer_count, ip, info.port, (unsigned long long)info.length,
           (unsigned long long)info.log_value);
    fflush(stdout);
    dr_env_real_on_signal(env, SIGTERM, serve_signal, &sc);
    dr_env_real_on_signal(env, SIGINT, serve_signal, &sc);
    dr_env_timer_add(env, 100 * DR_NS_PER_MS, serve_watch_fire, &sc);
    if (dr_env_real_run(env, &err) != DR_OK) {
        fprintf(stderr, "dromos counter serve: %s\n", err.msg);
        sc.exit_code = 1;
    }
    if (sc.exit_code != 0)
        fprintf(stderr, "dromos counter serve: replica %llu stopped after a disk error\n",
                (unsigned long long)id);
    dr_counter_server_destroy(sc.server);
    dr_env_real_destroy(env);
    return sc.exit_code;
}

/* ---- client ---------------------------------------------------------------------- */

typedef struct client_ctx {
    dr_counter_result result;
    bool done;
} client_ctx;

static void client_done(dr_env *env, const dr_counter_result *result, void *ctx)
{
    client_ctx *cc = ctx;
    cc->result = *result;
    cc->done = true;
    dr_env_real_stop(env);
}

static int client(int argc, char **argv)
{
    const char *connect_text = NULL;
    uint64_t inc = 0;
    bool get = false;
    bool local = false;
    uint64_t timeout_ns = 10 * DR_NS_PER_S;
    const dr_flag flags[] = {
        {"connect", DR_FLAG_STRING, &connect_text, "replica HOST:PORT, or a comma list tried in turn"},
        {"inc", DR_FLAG_U64, &inc, "add this much (>= 1) and print the committed value"},
        {"get", DR_FLAG_BOOL, &get, "print the committed value"},
        {"local", DR_FLAG_BOOL, &local,
         "with --get: the contacted replica's own durable value (to see a follower catch up)"},
        {"timeout", DR_FLAG_DURATION, &timeout_ns, "give up after this long"},
    };
    dr_flags_result res;
    dr_err err;
    if (dr_flags_parse(flags, DR_ARRAY_COUNT(flags), argc, argv, &res, &err) != DR_OK)
        return dr_cmd_usage_error("counter client", "%s", err.msg);
    if (res.help) {
        dr_flags_usage(stdout, "counter client", "run one operation on the demo counter", flags,
                       DR_ARRAY_COUNT(flags));
        return 0;
    }
    if (res.positional_index < argc)
        return dr_cmd_usage_error("counter client", "unexpected argument '%s'",
                                  argv[res.positional_index]);
    if (connect_text == NULL)
        return dr_cmd_usage_error("counter client", "--connect is required");
    if ((inc != 0) == get)
        return dr_cmd_usage_error("counter client", "give exactly one of --inc K or --get");
    if (local && !get)
        return dr_cmd_usage_error("counter client", "--local goes with --get");

    char buf[DR_COUNTER_REPLICA_COUNT_MAX * DR_COUNTER_ADDR_SIZE_MAX];
    const char *servers[DR_COUNTER_REPLICA_COUNT_MAX];
    if (!dr_strlcpy(buf, connect_text, sizeof buf))
        return dr_cmd_usage_error("counter client", "--connect is too long");
    size_t server_count = split_list(buf, servers, DR_COUNTER_REPLICA_COUNT_MAX);
    if (server_count == 0 || server_count > DR_COUNTER_REPLICA_COUNT_MAX)
        return dr_cmd_usage_error("counter client", "--connect '%s': expected 1-%u HOST:PORT",
                                  connect_text, DR_COUNTER_REPLICA_COUNT_MAX);

    dr_env_real_opts env_opts = {.node_name = "counter-client", .log_level = DR_LOG_WARN};
    dr_env *env = NULL;
    if (dr_env_real_create(&env_opts, &env, &err) != DR_OK) {
        fprintf(stderr, "dromos counter client: %s\n", err.msg);
        return 1;
    }
    dr_counter_client_opts opts = {
        .servers = servers,
        .server_count = server_count,
        .attempt_timeout_ns = DR_NS_PER_S,
        .op_timeout_ns = timeout_ns,
    };
    dr_counter_client *cl = NULL;
    client_ctx cc = {0};
    dr_code rc = dr_counter_client_create(env, &opts, &cl, &err);
    if (rc == DR_OK)
        rc = get ? dr_counter_client_get(cl, local, client_done, &cc, &err)
                 : dr_counter_client_inc(cl, inc, client_done, &cc, &err);
    if (rc == DR_OK)
        rc = dr_env_real_run(env, &err);
    int exit_code = 0;
    if (rc != DR_OK) {
        fprintf(stderr, "dromos counter client: %s\n", err.msg);
        exit_code = rc == DR_EINVAL ? 2 : 1;
    } else if (!cc.done || cc.result.code != DR_OK) {
        fprintf(stderr, "dromos counter client: no replica answered within %.1fs (%s)\n",
                (double)timeout_ns / 1e9, connect_text);
        exit_code = 1;
    } else {
        printf("%llu\n", (unsigned long long)cc.result.value);
    }
    dr_counter_client_destroy(cl);
    dr_env_real_destroy(env);
    return exit_code;
}

static int run(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        FILE *out = argc < 2 ? stderr : stdout;
        fprintf(out, "usage: dromos counter serve --id N --peers H:P,... --data DIR [--port P]\n"
                     "       dromos counter client --connect H:P[,...] (--inc K | --get [--local])\n"
                     "\n%s.\n'dromos counter serve --help' and 'dromos counter client --help' "
                     "list the flags.\n",
                summary);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "serve") == 0)
        return serve(argc - 1, argv + 1);
    if (strcmp(argv[1], "client") == 0)
        return client(argc - 1, argv + 1);
    return dr_cmd_usage_error("counter", "unknown subcommand '%s' (serve or client)", argv[1]);
}

const dr_cmd dr_cmd_counter = {"counter", summary, run};
