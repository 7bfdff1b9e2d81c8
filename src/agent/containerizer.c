/* src/agent/containerizer.c — the POSIX launcher and the filesystem/posix,
 * posix/rlimits and posix/mem isolators (see containerizer.h). The user a
 * container runs as is looked up and the sandbox handed to it here, through
 * the env; the env's spawn switches user and sets limits in the child. */
#include "containerizer.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dr_container_spec_init(dr_container_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->argv = dr_alloc(sizeof *spec->argv);
    spec->envp = dr_alloc(sizeof *spec->envp);
}

void dr_container_spec_deinit(dr_container_spec *spec)
{
    for (size_t i = 0; i < spec->argc; i++)
        dr_free(spec->argv[i]);
    for (size_t i = 0; i < spec->envc; i++)
        dr_free(spec->envp[i]);
    dr_free(spec->argv);
    dr_free(spec->envp);
    memset(spec, 0, sizeof *spec);
}

void dr_container_spec_add_arg(dr_container_spec *spec, const char *arg)
{
    DR_ASSERT(spec->argc < DR_SPAWN_ARG_COUNT_MAX);
    spec->argv = dr_realloc(spec->argv, (spec->argc + 2) * sizeof *spec->argv);
    spec->argv[spec->argc++] = dr_strdup(arg);
    spec->argv[spec->argc] = NULL;
}

void dr_container_spec_set_env(dr_container_spec *spec, const char *name, const char *value)
{
    size_t name_size = strlen(name);
    char *entry = dr_sprintf("%s=%s", name, value);
    for (size_t i = 0; i < spec->envc; i++) {
        if (strncmp(spec->envp[i], name, name_size) == 0 && spec->envp[i][name_size] == '=') {
            dr_free(spec->envp[i]);
            spec->envp[i] = entry;
            return;
        }
    }
    DR_ASSERT(spec->envc < DR_SPAWN_ENV_COUNT_MAX);
    spec->envp = dr_realloc(spec->envp, (spec->envc + 2) * sizeof *spec->envp);
    spec->envp[spec->envc++] = entry;
    spec->envp[spec->envc] = NULL;
}

dr_code dr_container_spec_set_user(dr_container_spec *spec, dr_env *env, const char *user,
                                   dr_err *err)
{
    DR_ASSERT(user != NULL);
    dr_user_info *info = dr_alloc(sizeof *info); /* 5 KiB: not on the stack */
    dr_code rc = dr_env_user_lookup(env, user, info, err);
    if (rc == DR_OK) {
        DR_ASSERT(info->group_count <= DR_ARRAY_COUNT(spec->groups));
        dr_strlcpy(spec->user, info->name, sizeof spec->user);
        spec->uid = info->uid;
        spec->gid = info->gid;
        memcpy(spec->groups, info->groups, info->group_count * sizeof *info->groups);
        spec->group_count = info->group_count;
    }
    dr_free(info);
    return rc;
}

/* ---- POSIX launcher ---------------------------------------------------------- */

/* Hands the sandbox and its stdout and stderr (created if missing) to the
 * container's user, as Mesos chowns the executor directory. */
static dr_code sandbox_chown(dr_env *env, const dr_container_spec *spec, const char *out_path,
                             const char *err_path, dr_err *err)
{
    const char *paths[] = {out_path, err_path};
    for (size_t i = 0; i < DR_ARRAY_COUNT(paths); i++) {
        /* Nothing in the sandbox is followed: it may already be the user's
         * (a fetcher ran in it as them, and any process of theirs may write
         * there). A missing file is created with EXCL, which never follows a
         * symlink; one already there is left alone; chown does not follow,
         * and spawn refuses a symlinked stdout or stderr. */
        dr_file *f = NULL;
        dr_code rc = dr_env_open(env, paths[i], DR_OPEN_WRITE | DR_OPEN_CREATE | DR_OPEN_EXCL,
                                 &f, err);
        if (rc != DR_OK && rc != DR_EEXIST)
            return rc;
        if (rc == DR_OK)
            dr_env_close(env, f);
        rc = dr_env_chown(env, paths[i], spec->uid, spec->gid, err);
        if (rc != DR_OK)
            return rc;
    }
    dr_code rc = dr_env_chown(env, spec->sandbox, spec->uid, spec->gid, err);
    if (rc != DR_OK)
        return dr_err_wrap(err, "sandbox of user '%s'", spec->user);
    return DR_OK;
}

static dr_code posix_launch(void *self, dr_env *env, const dr_container_spec *spec,
                            dr_exit_fn *fn, void *ctx, dr_pid *out, dr_err *err)
{
    bool env_in_argv = self != NULL;
    DR_ASSERT(spec->argc >= 1);
    char *out_path = dr_sprintf("%s/stdout", spec->sandbox);
    char *err_path = dr_sprintf("%s/stderr", spec->sandbox);
    const char **argv = dr_alloc_array(spec->argc + spec->envc + 1, sizeof *argv);
    char **extra = dr_alloc_array(spec->envc + 1, sizeof *extra);
    size_t n = 0;
    for (size_t i = 0; i < spec->argc; i++)
        argv[n++] = spec->argv[i];
    if (env_in_argv) {
        for (size_t i = 0; i < spec->envc; i++) {
            extra[i] = dr_sprintf("--env=%s", spec->envp[i]);
            argv[n++] = extra[i];
        }
    }
    argv[n] = NULL;
    dr_spawn_opts opts = {
        .argv = argv,
        .envp = (const char *const *)spec->envp,
        .cwd = spec->sandbox,
        .stdout_path = out_path,
        .stderr_path = err_path,
        .new_session = true,
        .subreaper = spec->subreaper,
        .set_user = spec->user[0] != '\0',
        .uid = spec->uid,
        .gid = spec->gid,
        .groups = spec->groups,
        .group_count = spec->group_count,
        .rlimits = spec->rlimits,
        .rlimit_count = spec->rlimit_count,
    };
    dr_code rc = DR_OK;
    if (opts.set_user)
        rc = sandbox_chown(env, spec, out_path, err_path, err);
    if (rc == DR_OK)
        rc = dr_env_spawn(env, &opts, fn, ctx, out, err);
    for (size_t i = 0; env_in_argv && i < spec->envc; i++)
        dr_free(extra[i]);
    dr_free(extra);
    dr_free(argv);
    dr_free(out_path);
    dr_free(err_path);
    return rc;
}

static dr_code posix_recover(void *self, dr_env *env, dr_pid pid, dr_exit_fn *fn, void *ctx,
                             dr_err *err)
{
    (void)self;
    if (pid <= 1)
        return dr_err_set(err, DR_ESRCH, "pid %lld is not an executor", (long long)pid);
    return dr_env_watch(env, pid, fn, ctx, err);
}

static dr_code posix_kill(void *self, dr_env *env, dr_pid pid, int signo, dr_err *err)
{
    (void)self;
    DR_ASSERT(pid > 1); /* never signal group 0 or 1: that is the agent or init */
    /* The whole tree, not only the group: executors start their tasks in
     * sessions of their own (Mesos's command executor does), and a task's
     * processes may have outlived their parent (see dr_env_signal_tree). */
    return dr_env_signal_tree(env, pid, signo, err);
}

static const dr_launcher_ops posix_ops = {
    .name = "posix",
    .launch = posix_launch,
    .recover = posix_recover,
    .kill = posix_kill,
};

void dr_launcher_posix(dr_launcher *out, bool env_in_argv)
{
    static int marker;
    out->ops = &posix_ops;
    out->self = env_in_argv ? &marker : NULL;
}

/* ---- isolators ------------------------------------------------------------------ */

static dr_code fs_prepare(void *self, dr_env *env, dr_container_spec *spec, dr_err *err)
{
    (void)self;
    dr_code rc = dr_env_mkdir_p(env, spec->sandbox, err);
    if (rc != DR_OK)
        return dr_err_wrap(err, "sandbox");
    return DR_OK;
}

static void fs_cleanup(void *self, dr_env *env, const char *container_id)
{
    (void)self, (void)env, (void)container_id; /* sandboxes go with the gc */
}

const dr_isolator_ops dr_isolator_filesystem_posix = {
    .name = "filesystem/posix", .prepare = fs_prepare, .cleanup = fs_cleanup};

dr_code dr_container_rlimits_parse(const Mesos__RLimitInfo *info, dr_rlimit *out, size_t *count,
                                   dr_err *err)
{
    if (info->n_rlimits > DR_SPAWN_RLIMIT_COUNT_MAX)
        return dr_err_set(err, DR_EINVAL, "%zu rlimits: at most one per type (%u types)",
                          info->n_rlimits, DR_SPAWN_RLIMIT_COUNT_MAX);
    dr_rlimit parsed[DR_SPAWN_RLIMIT_COUNT_MAX];
    for (size_t i = 0; i < info->n_rlimits; i++) {
        const Mesos__RLimitInfo__RLimit *l = info->rlimits[i];
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
            &mesos__rlimit_info__rlimit__type__descriptor, (int)l->type);
        /* dr_rlimit_resource is numbered as RLimit.Type */
        if (!l->has_type || v == NULL || l->type == MESOS__RLIMIT_INFO__RLIMIT__TYPE__UNKNOWN ||
            (int)l->type > DR_RLIMIT_RESOURCE_MAX)
            return dr_err_set(err, DR_EINVAL, "rlimit %zu: unknown type %d", i,
                              l->has_type ? (int)l->type : 0);
        const char *name = v->name;
        for (size_t j = 0; j < i; j++)
            if (parsed[j].resource == (dr_rlimit_resource)l->type)
                return dr_err_set(err, DR_EINVAL, "%s: set more than once", name);
        if (l->has_soft != l->has_hard)
            return dr_err_set(err, DR_EINVAL,
                              "%s: soft and hard limits must both be set or both be unset "
                              "(unlimited)",
                              name);
        if (l->has_soft && l->soft > l->hard)
            return dr_err_set(err, DR_EINVAL, "%s: soft limit %llu is above hard limit %llu",
                              name, (unsigned long long)l->soft, (unsigned long long)l->hard);
        parsed[i].resource = (dr_rlimit_resource)l->type;
        parsed[i].soft = l->has_soft ? l->soft : DR_RLIMIT_UNLIMITED;
        parsed[i].hard = l->has_hard ? l->hard : DR_RLIMIT_UNLIMITED;
    }
    memcpy(out, parsed, info->n_rlimits * sizeof *parsed);
    *count = info->n_rlimits;
    return DR_OK;
}

static dr_code rlimits_prepare(void *self, dr_env *env, dr_container_spec *spec, dr_err *err)
{
    (void)self, (void)env;
    if (spec->rlimit_info != NULL) {
        dr_code rc = dr_container_rlimits_parse(spec->rlimit_info, spec->rlimits,
                                                &spec->rlimit_count, err);
        if (rc != DR_OK)
            return dr_err_wrap(err, "posix/rlimits");
    }
    if (spec->mem_limit_bytes > 0) {
        char text[32];
        snprintf(text, sizeof text, "%llu", (unsigned long long)spec->mem_limit_bytes);
        dr_container_spec_set_env(spec, "DROMOS_MEM_LIMIT_BYTES", text);
    }
    return DR_OK;
}

static void rlimits_cleanup(void *self, dr_env *env, const char *container_id)
{
    (void)self, (void)env, (void)container_id;
}

const dr_isolator_ops dr_isolator_posix_rlimits = {
    .name = "posix/rlimits", .prepare = rlimits_prepare, .cleanup = rlimits_cleanup};

/* ---- posix/mem ------------------------------------------------------------------ */

#define PAGE_SIZE_BYTES 4096u

/* Parses /proc/<n>/stat: ppid (field 4), session (field 6) and rss in pages
 * (field 24), counted after the last ')' so a command name with spaces
 * cannot shift them. */
static bool stat_parse(const char *text, long long *ppid, long long *session,
                       unsigned long long *rss_pages)
{
    const char *p = strrchr(text, ')');
    if (p == NULL)
        return false;
    p++;
    int field = 2;
    while (*p != '\0' && field < 24) {
        while (*p == ' ')
            p++;
        field++;
        if (field == 4)
            *ppid = strtoll(p, NULL, 10);
        if (field == 6)
            *session = strtoll(p, NULL, 10);
        if (field == 24) {
            *rss_pages = strtoull(p, NULL, 10);
            return true;
        }
        while (*p != '\0' && *p != ' ')
            p++;
    }
    return false;
}

typedef struct proc_row {
    long long pid, ppid, session;
    unsigned long long rss_pages;
    int64_t owner; /* index into the containers, -1: none, -2: not yet known */
} proc_row;

typedef struct container_key {
    long long pid;
    size_t index; /* into the caller's arrays */
} container_key;

static int cmp_row_pid(const void *x, const void *y)
{
    long long p = ((const proc_row *)x)->pid, q = ((const proc_row *)y)->pid;
    return p < q ? -1 : p > q;
}

static int cmp_key_pid(const void *x, const void *y)
{
    long long p = ((const container_key *)x)->pid, q = ((const container_key *)y)->pid;
    return p < q ? -1 : p > q;
}

static int64_t container_of_pid(const container_key *keys, size_t count, long long pid)
{
    container_key k = {.pid = pid};
    const container_key *hit = bsearch(&k, keys, count, sizeof *keys, cmp_key_pid);
    return hit != NULL ? (int64_t)hit->index : -1;
}

/* The container row i belongs to: its own pid or session names a container,
 * else its parent's (rows sorted by pid; memoized in owner, so the whole
 * table costs O(n log n)). Bounded: a cycle (pids reused between reads)
 * ends as "none". */
static int64_t row_owner(proc_row *rows, size_t n, size_t i, const container_key *keys,
                         size_t key_count, unsigned depth)
{
    if (rows[i].owner != -2)
        return rows[i].owner;
    int64_t owner = container_of_pid(keys, key_count, rows[i].pid);
    if (owner < 0)
        owner = container_of_pid(keys, key_count, rows[i].session);
    if (owner < 0 && rows[i].ppid > 1 && depth < 64) {
        proc_row k = {.pid = rows[i].ppid};
        const proc_row *parent = bsearch(&k, rows, n, sizeof *rows, cmp_row_pid);
        if (parent != NULL)
            owner = row_owner(rows, n, (size_t)(parent - rows), keys, key_count, depth + 1);
    }
    rows[i].owner = owner;
    return owner;
}

/* A container is its first process, everything in its session and every
 * descendant (executors put their tasks in sessions of their own). /proc is
 * read once for all containers. */
static dr_code mem_usage(void *self, dr_env *env, const dr_pid *pids, size_t count,
                         uint64_t *rss_bytes, dr_err *err)
{
    (void)self;
    dr_dir_list list = {0};
    dr_code rc = dr_env_list_dir(env, "/proc", &list, err);
    if (rc != DR_OK)
        return dr_err_set(err, DR_ENOTSUP, "no /proc: %s", err != NULL ? err->msg : "");
    proc_row *rows = dr_alloc_array(list.count + 1, sizeof *rows);
    size_t n = 0;
    for (size_t i = 0; i < list.count; i++) {
        const char *name = list.names[i];
        if (name[0] < '0' || name[0] > '9')
            continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%s/stat", name);
        /* procfs files report size 0: read what is there, not the size */
        char data[1024];
        size_t size = 0;
        dr_file *f = NULL;
        dr_err ignored;
        if (dr_env_open(env, path, DR_OPEN_READ, &f, &ignored) != DR_OK)
            continue; /* gone meanwhile */
        dr_code prc = dr_env_pread(env, f, 0, data, sizeof data - 1, &size, &ignored);
        dr_env_close(env, f);
        if (prc != DR_OK)
            continue;
        data[size] = '\0';
        proc_row r = {.pid = strtoll(name, NULL, 10), .ppid = -1, .session = -1, .owner = -2};
        if (stat_parse(data, &r.ppid, &r.session, &r.rss_pages))
            rows[n++] = r;
    }
    dr_dir_list_free(&list);
    qsort(rows, n, sizeof *rows, cmp_row_pid);
    container_key *keys = dr_alloc_array(count + 1, sizeof *keys);
    for (size_t i = 0; i < count; i++) {
        keys[i] = (container_key){.pid = (long long)pids[i], .index = i};
        rss_bytes[i] = 0;
    }
    qsort(keys, count, sizeof *keys, cmp_key_pid);
    for (size_t i = 0; i < n; i++) {
        int64_t owner = row_owner(rows, n, i, keys, count, 0);
        if (owner >= 0)
            rss_bytes[owner] += rows[i].rss_pages * PAGE_SIZE_BYTES;
    }
    dr_free(keys);
    dr_free(rows);
    return DR_OK;
}

static dr_code mem_prepare(void *self, dr_env *env, dr_container_spec *spec, dr_err *err)
{
    (void)self, (void)env, (void)spec, (void)err;
    return DR_OK;
}

static void mem_cleanup(void *self, dr_env *env, const char *container_id)
{
    (void)self, (void)env, (void)container_id;
}

const dr_isolator_ops dr_isolator_posix_mem = {
    .name = "posix/mem", .prepare = mem_prepare, .cleanup = mem_cleanup, .mem_usage = mem_usage};
