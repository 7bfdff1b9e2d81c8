/* src/agent/checkpoint.c — the agent's checkpoints under <work_dir>/meta/,
 * laid out as Mesos lays them out:
 *
 *   meta/boot_id
 *   meta/slaves/latest -> <agent id>                         (symlink)
 *   meta/slaves/<a>/slave.info                               (AgentInfo)
 *   meta/slaves/<a>/frameworks/<f>/framework.info            (FrameworkInfo)
 *   .../frameworks/<f>/executors/<e>/executor.info           (ExecutorInfo)
 *   .../executors/<e>/runs/latest -> <container id>          (symlink)
 *   .../executors/<e>/runs/<c>/pids/forked.pid               (decimal text)
 *   .../runs/<c>/tasks/<t>/task.info                         (TaskInfo)
 *   .../runs/<c>/tasks/<t>/task.updates                      (append-only)
 *
 * Every file is a sequence of framed records (checkpoint.h).
 *
 * Durability. What an acknowledgement depends on is on disk before it is
 * given; what only matters while the host stays up is not fsync'd at all:
 * - Durable (for every framework's framework.info and slave.info; for a
 *   checkpointing framework's executor.info, runs/latest, task.info and
 *   update records): info files are written to a tmp file, fsync'd and
 *   renamed; every directory that gained an entry is fsync'd. Within one
 *   call the directories are collected and each is fsync'd once, deepest
 *   first, after the files (an executor: executors/, <e>/ and runs/, not two
 *   fsyncs each for <e>/ and runs/). Each update record is appended and
 *   fsync'd before the caller acknowledges it to the executor.
 * - Written without fsync (still tmp + rename, so never torn while the host
 *   stays up): forked.pid of every executor, and executor.info and
 *   runs/latest of a framework that does not checkpoint. They exist so that
 *   an agent restarted after a crash of its process (the page cache
 *   survives) finds executors to re-adopt or kill. After a reboot (the boot
 *   id changed) every executor is gone, so recovery never reads them: a
 *   forked.pid is not read, and the executors of a framework that does not
 *   checkpoint are only handed to the garbage collector. A host crash may
 *   tear exactly those files, so they must not be read then.
 * Recovery reads it all back into the model; what to do with the executors
 * it found is agent.c's business.
 */
#include "agent_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *dr__agent_meta_path(const dr_agent *a, const char *fmt, ...)
{
    dr_buf buf;
    dr_buf_init(&buf);
    dr_buf_printf(&buf, "%s/meta/", a->opts.work_dir);
    va_list ap;
    va_start(ap, fmt);
    dr_buf_vprintf(&buf, fmt, ap);
    va_end(ap);
    char *out = dr_strdup(dr_buf_cstr(&buf));
    dr_buf_deinit(&buf);
    return out;
}

/* Directories that gained entries during one checkpoint call, fsync'd once
 * each by sync_dirs (a call touches a handful: a plain array suffices). */
#define SYNC_DIR_COUNT_MAX 16

typedef struct sync_set {
    char *dirs[SYNC_DIR_COUNT_MAX]; /* owned */
    size_t count;
} sync_set;

/* Notes that dir gained an entry (dir borrowed, copied); duplicates are kept once. */
static void sync_note(sync_set *set, const char *dir)
{
    for (size_t i = 0; i < set->count; i++)
        if (strcmp(set->dirs[i], dir) == 0)
            return;
    DR_ASSERT(set->count < SYNC_DIR_COUNT_MAX);
    set->dirs[set->count++] = dr_strdup(dir);
}

static void sync_free(sync_set *set)
{
    for (size_t i = 0; i < set->count; i++)
        dr_free(set->dirs[i]);
    set->count = 0;
}

static int cmp_deeper_first(const void *x, const void *y)
{
    const char *p = *(char *const *)x, *q = *(char *const *)y;
    size_t m = strlen(p), n = strlen(q);
    if (m != n)
        return m > n ? -1 : 1;
    return strcmp(p, q);
}

/* fsyncs every noted directory, deepest first (an entry becomes durable
 * after what it names), then frees the set. */
static dr_code sync_dirs(dr_agent *a, sync_set *set, dr_err *err)
{
    qsort(set->dirs, set->count, sizeof set->dirs[0], cmp_deeper_first);
    dr_code rc = DR_OK;
    for (size_t i = 0; rc == DR_OK && i < set->count; i++)
        rc = dr_env_fsync_dir(a->env, set->dirs[i], err);
    sync_free(set);
    return rc;
}

/* mkdir -p; with set, each directory that gains an entry is noted in it.
 * A directory already there is taken as durable in its parent. */
static dr_code mkdir_noted(dr_agent *a, const char *dir, sync_set *set, dr_err *err)
{
    dr_file_stat st;
    dr_err ignored;
    if (dr_env_stat(a->env, dir, true, &st, &ignored) == DR_OK && st.is_dir)
        return DR_OK;
    char *parent = dr_strdup(dir);
    char *slash = strrchr(parent, '/');
    dr_code rc = DR_OK;
    if (slash != NULL && slash != parent) {
        *slash = '\0';
        rc = mkdir_noted(a, parent, set, err);
    }
    if (rc == DR_OK) {
        rc = dr_env_mkdir(a->env, dir, err);
        if (rc == DR_EEXIST) {
            dr_err_clear(err);
            rc = DR_OK;
        }
    }
    if (rc == DR_OK && set != NULL && slash != NULL && slash != parent)
        sync_note(set, parent);
    dr_free(parent);
    return rc;
}

/* Writes a one-record file at path through a tmp file and a rename, creating
 * its directory. With set: the tmp file is fsync'd before the rename and the
 * directory noted (durable once sync_dirs ran); without: nothing is fsync'd
 * (the file is whole or absent while the host stays up). */
static dr_code write_framed(dr_agent *a, const char *path, const void *payload, size_t size,
                            sync_set *set, dr_err *err)
{
    char *dir = dr_strdup(path);
    *strrchr(dir, '/') = '\0';
    dr_buf rec;
    dr_buf_init(&rec);
    dr_ckpt_frame(&rec, payload, size);
    dr_code rc = mkdir_noted(a, dir, set, err);
    if (rc == DR_OK)
        rc = dr_env_write_replace(a->env, path, rec.data, rec.size, set != NULL, err);
    if (rc == DR_OK && set != NULL)
        sync_note(set, dir);
    dr_buf_deinit(&rec);
    dr_free(dir);
    if (rc != DR_OK)
        return dr_err_wrap(err, "checkpoint '%s'", path);
    return DR_OK;
}

/* A durable write_framed on its own. */
static dr_code write_framed_durable(dr_agent *a, const char *path, const void *payload,
                                    size_t size, dr_err *err)
{
    sync_set set = {0};
    dr_code rc = write_framed(a, path, payload, size, &set, err);
    if (rc != DR_OK) {
        sync_free(&set);
        return rc;
    }
    rc = sync_dirs(a, &set, err);
    if (rc != DR_OK)
        return dr_err_wrap(err, "checkpoint '%s'", path);
    return DR_OK;
}

static dr_code encode_msg(const ProtobufCMessage *msg, dr_buf *out, dr_err *err)
{
    dr_buf_init(out);
    dr_code rc = dr_proto_encode(msg, out, err);
    if (rc != DR_OK)
        dr_buf_deinit(out);
    return rc;
}

/* Replaces the symlink link by one to target (tmp link, rename), creating
 * its directory; with set, the directories are noted as in write_framed. */
static dr_code symlink_noted(dr_agent *a, const char *target, const char *link, sync_set *set,
                             dr_err *err)
{
    char *dir = dr_strdup(link);
    *strrchr(dir, '/') = '\0';
    char *tmp = dr_sprintf("%s.tmp", link);
    dr_err ignored;
    (void)dr_env_unlink(a->env, tmp, &ignored); /* a leftover from a crash, if any */
    dr_code rc = mkdir_noted(a, dir, set, err);
    if (rc == DR_OK)
        rc = dr_env_symlink(a->env, target, tmp, err);
    if (rc == DR_OK)
        rc = dr_env_rename(a->env, tmp, link, err);
    if (rc == DR_OK && set != NULL)
        sync_note(set, dir);
    dr_free(tmp);
    dr_free(dir);
    if (rc != DR_OK)
        return dr_err_wrap(err, "symlink '%s'", link);
    return DR_OK;
}

dr_code dr__agent_ckpt_write_msg(dr_agent *a, const char *path, const ProtobufCMessage *msg,
                           dr_err *err)
{
    dr_buf payload;
    dr_code rc = encode_msg(msg, &payload, err);
    if (rc != DR_OK)
        return rc;
    rc = write_framed_durable(a, path, payload.data, payload.size, err);
    dr_buf_deinit(&payload);
    return rc;
}

dr_code dr__agent_ckpt_write_text(dr_agent *a, const char *path, const char *text, dr_err *err)
{
    return write_framed_durable(a, path, text, strlen(text), err);
}

dr_code dr__agent_ckpt_symlink(dr_agent *a, const char *target, const char *link, bool durable,
                               dr_err *err)
{
    if (!durable)
        return symlink_noted(a, target, link, NULL, err);
    sync_set set = {0};
    dr_code rc = symlink_noted(a, target, link, &set, err);
    if (rc != DR_OK) {
        sync_free(&set);
        return rc;
    }
    rc = sync_dirs(a, &set, err);
    if (rc != DR_OK)
        return dr_err_wrap(err, "symlink '%s'", link);
    return DR_OK;
}

static char *fw_dir(const dr_agent *a, const dr__agent_framework *fw)
{
    return dr__agent_meta_path(a, "slaves/%s/frameworks/%s", a->agent_id, fw->id);
}

dr_code dr__agent_ckpt_framework(dr_agent *a, dr__agent_framework *fw, dr_err *err)
{
    char *path = dr__agent_meta_path(a, "slaves/%s/frameworks/%s/framework.info", a->agent_id, fw->id);
    dr_code rc = dr__agent_ckpt_write_msg(a, path, &fw->info->base, err);
    dr_free(path);
    return rc;
}

/* executor.info, the run's directory and runs/latest in one go: durable
 * (each directory fsync'd once) when the framework checkpoints, else written
 * without fsync (they only serve an agent restarted on the same boot). */
dr_code dr__agent_ckpt_executor(dr_agent *a, dr__agent_executor *ex, dr_err *err)
{
    char *dir = fw_dir(a, ex->fw);
    char *path = dr_sprintf("%s/executors/%s/executor.info", dir, ex->id);
    char *latest = dr_sprintf("%s/executors/%s/runs/latest", dir, ex->id);
    sync_set set = {0};
    sync_set *noted = ex->fw->checkpoint ? &set : NULL;
    dr_buf payload;
    dr_code rc = encode_msg(&ex->info->base, &payload, err);
    if (rc == DR_OK) {
        rc = write_framed(a, path, payload.data, payload.size, noted, err);
        dr_buf_deinit(&payload);
    } else {
        dr_err_wrap(err, "checkpoint '%s'", path);
    }
    if (rc == DR_OK)
        rc = mkdir_noted(a, ex->meta_run, noted, err);
    if (rc == DR_OK)
        rc = symlink_noted(a, ex->container_id, latest, noted, err);
    if (rc == DR_OK) {
        rc = sync_dirs(a, &set, err);
        if (rc != DR_OK)
            dr_err_wrap(err, "checkpoint '%s'", path);
    } else {
        sync_free(&set);
    }
    dr_free(latest);
    dr_free(path);
    dr_free(dir);
    return rc;
}

/* forked.pid is never fsync'd: a pid means nothing after a reboot, and
 * recovery after one does not read it (so a torn one does no harm). */
dr_code dr__agent_ckpt_pid(dr_agent *a, dr__agent_executor *ex, dr_err *err)
{
    char *path = dr_sprintf("%s/pids/forked.pid", ex->meta_run);
    char text[32];
    snprintf(text, sizeof text, "%" PRId64, ex->pid);
    dr_code rc = write_framed(a, path, text, strlen(text), NULL, err);
    dr_free(path);
    return rc;
}

dr_code dr__agent_ckpt_task(dr_agent *a, dr__agent_task *t, dr_err *err)
{
    char *path = dr_sprintf("%s/tasks/%s/task.info", t->ex->meta_run, t->id);
    dr_code rc = dr__agent_ckpt_write_msg(a, path, &t->info->base, err);
    dr_free(path);
    return rc;
}

dr_code dr__agent_ckpt_append(dr_agent *a, dr__agent_task *t, const dr_buf *record, bool sync,
                              dr_err *err)
{
    char *path = dr_sprintf("%s/tasks/%s/task.updates", t->ex->meta_run, t->id);
    dr_file *f = NULL;
    dr_code rc = dr_env_open(a->env, path, DR_OPEN_WRITE | DR_OPEN_CREATE, &f, err);
    bool created = false;
    if (rc == DR_OK) {
        uint64_t size = 0;
        rc = dr_env_file_size(a->env, f, &size, err);
        created = size == 0;
        bool appended = false;
        if (rc == DR_OK) {
            rc = dr_env_append(a->env, f, record->data, record->size, err);
            appended = true;
        }
        if (rc == DR_OK && (sync || created))
            rc = dr_env_fsync(a->env, f, err);
        if (rc != DR_OK && appended) {
            /* a partial record (a full disk) must not stay in front of later ones */
            dr_err ignored;
            if (dr_env_truncate(a->env, f, size, &ignored) == DR_OK)
                (void)dr_env_fsync(a->env, f, &ignored); /* best effort: rc is the error */
        }
        dr_env_close(a->env, f);
    }
    if (rc == DR_OK && created) {
        char *dir = dr_sprintf("%s/tasks/%s", t->ex->meta_run, t->id);
        rc = dr_env_fsync_dir(a->env, dir, err);
        dr_free(dir);
    }
    if (rc != DR_OK)
        dr_err_wrap(err, "checkpoint '%s'", path);
    dr_free(path);
    return rc;
}

/* ---- recovery ------------------------------------------------------------------- */

/* A corrupt file: under strict the agent stops; else it is logged, counted
 * and skipped (returns DR_OK with *skip). */
static dr_code corrupt(dr_agent *a, const char *path, const dr_err *why, bool *skip, dr_err *err)
{
    if (a->opts.strict)
        return dr_err_set(err, DR_ECORRUPT, "checkpoint '%s': %s", path, why->msg);
    DR_WARN(a->env, "agent: skipping checkpoint '%s': %s", path, why->msg);
    a->counters.ckpt_skipped++;
    *skip = true;
    return DR_OK;
}

/* Reads a single-record file as desc. DR_ENOENT if missing (no skip). */
static dr_code read_msg(dr_agent *a, const char *path, const ProtobufCMessageDescriptor *desc,
                        ProtobufCMessage **out, bool *skip, dr_err *err)
{
    *skip = false;
    uint8_t *data = NULL;
    size_t size = 0;
    dr_code rc = dr_env_read_all(a->env, path, DR_CKPT_PAYLOAD_SIZE_MAX + DR_CKPT_HEADER_SIZE,
                                 &data, &size, err);
    if (rc == DR_ENOENT)
        return rc;
    if (rc != DR_OK)
        return dr_err_wrap(err, "checkpoint '%s'", path);
    dr_err why;
    rc = dr_ckpt_decode_single(data, size, desc, out, &why);
    dr_free(data);
    if (rc != DR_OK)
        return corrupt(a, path, &why, skip, err);
    return DR_OK;
}

static dr_code read_text(dr_agent *a, const char *path, char *out, size_t out_size, bool *skip,
                         dr_err *err)
{
    *skip = false;
    uint8_t *data = NULL;
    size_t size = 0;
    dr_code rc = dr_env_read_all(a->env, path, 4096, &data, &size, err);
    if (rc == DR_ENOENT)
        return rc;
    if (rc != DR_OK)
        return dr_err_wrap(err, "checkpoint '%s'", path);
    dr_ckpt_scan_result res;
    dr_err why;
    const uint8_t *payload = data + DR_CKPT_HEADER_SIZE;
    rc = dr_ckpt_scan(data, size, true, false, NULL, NULL, &res, &why);
    if (rc == DR_OK && size - DR_CKPT_HEADER_SIZE >= out_size)
        rc = dr_err_set(&why, DR_ECORRUPT, "text of %zu bytes at offset 0", size);
    if (rc == DR_OK) {
        memcpy(out, payload, size - DR_CKPT_HEADER_SIZE);
        out[size - DR_CKPT_HEADER_SIZE] = '\0';
    }
    dr_free(data);
    if (rc != DR_OK)
        return corrupt(a, path, &why, skip, err);
    return DR_OK;
}

static bool skip_name(const char *name)
{
    size_t n = strlen(name);
    return strcmp(name, "latest") == 0 || (n > 4 && strcmp(name + n - 4, ".tmp") == 0);
}

static bool uuid_seen(const dr__agent_task *t, const uint8_t *uuid, size_t size)
{
    for (size_t at = 0; at < t->seen_uuids.size; at += 1 + t->seen_uuids.data[at]) {
        size_t n = t->seen_uuids.data[at];
        if (n == size && memcmp(t->seen_uuids.data + at + 1, uuid, n) == 0)
            return true;
    }
    return false;
}

typedef struct replay_ctx {
    dr_agent *a;
    dr__agent_task *t;
    dr_err why;
} replay_ctx;

static bool replay_fn(const uint8_t *payload, size_t size, uint64_t offset, void *ctx)
{
    replay_ctx *rc = ctx;
    dr__agent_task *t = rc->t;
    int type = 0;
    Mesos__TaskStatus *st = NULL;
    const uint8_t *uuid = NULL;
    size_t uuid_size = 0;
    if (dr_ckpt_decode_update(payload, size, &type, &st, &uuid, &uuid_size, &rc->why) != DR_OK) {
        dr_err_wrap(&rc->why, "record at offset %" PRIu64, offset);
        return false;
    }
    if (type == DR_CKPT_UPDATE) {
        if (st->uuid.len > DR_AGENT_UUID_SIZE_MAX || uuid_seen(t, st->uuid.data, st->uuid.len)) {
            dr_proto_free(&st->base);
            return true;
        }
        uint8_t n = (uint8_t)st->uuid.len;
        dr_buf_append(&t->seen_uuids, &n, 1);
        dr_buf_append(&t->seen_uuids, st->uuid.data, n);
        dr__agent_update *u = dr_alloc(sizeof *u);
        u->status = st;
        if (t->tail != NULL)
            t->tail->next = u;
        else
            t->head = u;
        t->tail = u;
        t->pending_count++;
        t->state = st->state;
        if (t->latest != NULL)
            dr_proto_free(&t->latest->base);
        t->latest = dr__agent_clone(st);
        return true;
    }
    /* an acknowledgement ends the head if it matches (else it is stale) */
    dr__agent_update *h = t->head;
    if (h != NULL && h->status->uuid.len == uuid_size &&
        memcmp(h->status->uuid.data, uuid, uuid_size) == 0) {
        t->head = h->next;
        if (t->head == NULL)
            t->tail = NULL;
        t->pending_count--;
        dr_proto_free(&h->status->base);
        dr_free(h);
    }
    return true;
}

/* Replays task.updates into t's stream; a torn tail is cut off. */
static dr_code recover_updates(dr_agent *a, dr__agent_task *t, const char *path, dr_err *err)
{
    uint8_t *data = NULL;
    size_t size = 0;
    dr_code rc = dr_env_read_all(a->env, path, DR_FILE_READ_ALL_SIZE_MAX, &data, &size, err);
    if (rc == DR_ENOENT) {
        dr_err_clear(err);
        return DR_OK;
    }
    if (rc != DR_OK)
        return dr_err_wrap(err, "checkpoint '%s'", path);
    replay_ctx ctx = {.a = a, .t = t};
    dr_err_clear(&ctx.why);
    dr_ckpt_scan_result res;
    dr_err why;
    rc = dr_ckpt_scan(data, size, false, true, replay_fn, &ctx, &res, &why);
    dr_free(data);
    bool cut = res.torn;
    if (rc != DR_OK) {
        bool skip = false;
        const dr_err *reason = rc == DR_ECANCELED ? &ctx.why : &why;
        rc = corrupt(a, path, reason, &skip, err);
        if (rc != DR_OK)
            return rc;
        cut = true;
    }
    if (cut) {
        DR_INFO(a->env, "agent: truncating '%s' to %" PRIu64 " bytes (torn or bad tail)", path,
                res.valid_size);
        dr_file *f = NULL;
        rc = dr_env_open(a->env, path, DR_OPEN_WRITE, &f, err);
        if (rc == DR_OK) {
            rc = dr_env_truncate(a->env, f, res.valid_size, err);
            if (rc == DR_OK)
                rc = dr_env_fsync(a->env, f, err);
            dr_env_close(a->env, f);
        }
        if (rc != DR_OK)
            return dr_err_wrap(err, "truncating '%s'", path);
    }
    return DR_OK;
}

/* Recovers one executor run's pid and tasks. After a reboot the pid is not
 * read: it was never fsync'd (a host crash may have torn it) and names no
 * process of this boot. */
static dr_code recover_run(dr_agent *a, dr__agent_executor *ex, bool rebooted, dr_err *err)
{
    bool skip = false;
    char text[32];
    dr_code rc = DR_ENOENT;
    char *pid_path = dr_sprintf("%s/pids/forked.pid", ex->meta_run);
    if (!rebooted) {
        rc = read_text(a, pid_path, text, sizeof text, &skip, err);
    } else {
        /* The host crash may have torn it, and a later recovery of this
         * boot (after a crash of the agent's process only) would read it:
         * it goes now. Not synced: only a process crash, which keeps the
         * page cache, leads to a recovery that reads it. */
        dr_err ignored;
        (void)dr_env_unlink(a->env, pid_path, &ignored); /* ENOENT: none was written */
    }
    dr_free(pid_path);
    if (rc == DR_OK && !skip) {
        char *end = NULL;
        long long pid = strtoll(text, &end, 10);
        if (end != text && *end == '\0' && pid > 1)
            ex->pid = (dr_pid)pid;
    } else if (rc == DR_ENOENT) {
        dr_err_clear(err);
    } else if (rc != DR_OK) {
        return rc;
    }
    char *tasks_dir = dr_sprintf("%s/tasks", ex->meta_run);
    dr_dir_list list = {0};
    rc = dr_env_list_dir(a->env, tasks_dir, &list, err);
    if (rc == DR_ENOENT) {
        dr_err_clear(err);
        rc = DR_OK;
    }
    for (size_t i = 0; rc == DR_OK && i < list.count; i++) {
        if (skip_name(list.names[i]))
            continue;
        char *info_path = dr_sprintf("%s/%s/task.info", tasks_dir, list.names[i]);
        ProtobufCMessage *msg = NULL;
        rc = read_msg(a, info_path, &mesos__task_info__descriptor, &msg, &skip, err);
        dr_free(info_path);
        if (rc == DR_ENOENT) { /* created but never written: the task never launched */
            dr_err_clear(err);
            rc = DR_OK;
            continue;
        }
        if (rc != DR_OK || skip)
            continue;
        Mesos__TaskInfo *ti = (Mesos__TaskInfo *)msg;
        if (strcmp(ti->task_id->value, list.names[i]) != 0 ||
            dr__agent_task_find(ex->fw, ti->task_id->value) != NULL) {
            dr_err why;
            dr_err_set(&why, DR_ECORRUPT, "task id '%s' does not match its directory",
                       ti->task_id->value);
            char *p = dr_sprintf("%s/%s/task.info", tasks_dir, list.names[i]);
            rc = corrupt(a, p, &why, &skip, err);
            dr_free(p);
            dr_proto_free(msg);
            continue;
        }
        dr__agent_task *t = dr__agent_task_new(ex, ti);
        t->launched = true; /* the executor has it, or will say it lacks it */
        dr_proto_free(msg);
        char *up_path = dr_sprintf("%s/%s/task.updates", tasks_dir, list.names[i]);
        rc = recover_updates(a, t, up_path, err);
        dr_free(up_path);
    }
    dr_dir_list_free(&list);
    dr_free(tasks_dir);
    if (rc != DR_OK)
        return rc;
    /* tasks whose terminal update was acknowledged are done */
    for (dr__agent_task *t = ex->tasks, *next; t != NULL; t = next) {
        next = t->next;
        if (t->pending_count == 0 && dr__agent_state_terminal(t->state))
            dr__agent_task_remove(a, t);
    }
    return DR_OK;
}

/* Hands every run of every executor under fwdir to the garbage collector
 * without reading any file: after a reboot, what a framework that does not
 * checkpoint left (written without fsync, maybe torn) is not read. */
static void gc_unread_executors(dr_agent *a, dr__agent_framework *fw, const char *fwdir)
{
    char *exdir = dr_sprintf("%s/executors", fwdir);
    dr_dir_list list = {0};
    dr_err ignored;
    if (dr_env_list_dir(a->env, exdir, &list, &ignored) == DR_OK) {
        for (size_t i = 0; i < list.count; i++) {
            if (skip_name(list.names[i]))
                continue;
            char *runs = dr_sprintf("%s/%s/runs", exdir, list.names[i]);
            dr_dir_list runs_list = {0};
            if (dr_env_list_dir(a->env, runs, &runs_list, &ignored) == DR_OK) {
                for (size_t r = 0; r < runs_list.count; r++) {
                    if (skip_name(runs_list.names[r]))
                        continue;
                    char *meta_run = dr_sprintf("%s/%s", runs, runs_list.names[r]);
                    char *sandbox = dr_sprintf("%s/slaves/%s/frameworks/%s/executors/%s/runs/%s",
                                               a->opts.work_dir, a->agent_id, fw->id,
                                               list.names[i], runs_list.names[r]);
                    dr__agent_gc_schedule(a, sandbox, meta_run, NULL);
                    dr_free(sandbox);
                    dr_free(meta_run);
                }
                dr_dir_list_free(&runs_list);
            }
            dr_free(runs);
        }
        dr_dir_list_free(&list);
    }
    dr_free(exdir);
}

static dr_code recover_executors(dr_agent *a, dr__agent_framework *fw, const char *fwdir,
                                 bool rebooted, dr_err *err)
{
    if (rebooted && !fw->checkpoint) {
        gc_unread_executors(a, fw, fwdir);
        return DR_OK;
    }
    char *exdir = dr_sprintf("%s/executors", fwdir);
    dr_dir_list list = {0};
    dr_code rc = dr_env_list_dir(a->env, exdir, &list, err);
    if (rc == DR_ENOENT) {
        dr_err_clear(err);
        rc = DR_OK;
    }
    for (size_t i = 0; rc == DR_OK && i < list.count; i++) {
        if (skip_name(list.names[i]))
            continue;
        bool skip = false;
        char *info_path = dr_sprintf("%s/%s/executor.info", exdir, list.names[i]);
        ProtobufCMessage *msg = NULL;
        rc = read_msg(a, info_path, &mesos__executor_info__descriptor, &msg, &skip, err);
        dr_free(info_path);
        if (rc == DR_ENOENT) {
            dr_err_clear(err);
            rc = DR_OK;
            continue;
        }
        if (rc != DR_OK || skip)
            continue;
        Mesos__ExecutorInfo *info = (Mesos__ExecutorInfo *)msg;
        char *runs = dr_sprintf("%s/%s/runs", exdir, list.names[i]);
        char *latest = dr_sprintf("%s/latest", runs);
        char container[64];
        dr_err lerr;
        bool have_run = strcmp(info->executor_id->value, list.names[i]) == 0 &&
                        dr_env_readlink(a->env, latest, container, sizeof container, &lerr) ==
                            DR_OK &&
                        dr__agent_id_valid(container);
        /* earlier runs of this executor: their sandboxes and meta go to the gc */
        dr_dir_list runs_list = {0};
        if (dr_env_list_dir(a->env, runs, &runs_list, &lerr) == DR_OK) {
            for (size_t r = 0; r < runs_list.count; r++) {
                if (skip_name(runs_list.names[r]) ||
                    (have_run && strcmp(runs_list.names[r], container) == 0))
                    continue;
                char *meta_run = dr_sprintf("%s/%s", runs, runs_list.names[r]);
                char *sandbox = dr_sprintf("%s/slaves/%s/frameworks/%s/executors/%s/runs/%s",
                                           a->opts.work_dir, a->agent_id, fw->id, list.names[i],
                                           runs_list.names[r]);
                dr__agent_gc_schedule(a, sandbox, meta_run, NULL);
                dr_free(sandbox);
                dr_free(meta_run);
            }
            dr_dir_list_free(&runs_list);
        }
        if (have_run && dr__agent_executor_find(fw, info->executor_id->value) == NULL) {
            dr__agent_executor *ex = dr__agent_executor_new(a, fw, info, false, container);
            ex->generated = info->name != NULL && strncmp(info->name, "Command Executor", 16) == 0;
            ex->state = DR__EX_LAUNCHED;
            ex->recovered = true;
            rc = recover_run(a, ex, rebooted, err);
        }
        dr_proto_free(msg);
        dr_free(latest);
        dr_free(runs);
    }
    dr_dir_list_free(&list);
    dr_free(exdir);
    return rc;
}

dr_code dr__agent_ckpt_recover(dr_agent *a, bool *rebooted, dr_err *err)
{
    *rebooted = false;
    bool skip = false;
    char old_boot[64];
    char *boot_path = dr__agent_meta_path(a, "boot_id");
    dr_code rc = read_text(a, boot_path, old_boot, sizeof old_boot, &skip, err);
    dr_free(boot_path);
    if (rc == DR_OK && !skip)
        *rebooted = strcmp(old_boot, a->boot_id) != 0;
    else if (rc == DR_ENOENT)
        dr_err_clear(err);
    else if (rc != DR_OK)
        return rc;

    char *latest = dr__agent_meta_path(a, "slaves/latest");
    char id[DR_AGENT_ID_SIZE_MAX];
    dr_err lerr;
    rc = dr_env_readlink(a->env, latest, id, sizeof id, &lerr);
    dr_free(latest);
    if (rc != DR_OK || !dr__agent_id_valid(id))
        return DR_OK; /* a fresh agent */

    char *info_path = dr__agent_meta_path(a, "slaves/%s/slave.info", id);
    ProtobufCMessage *msg = NULL;
    rc = read_msg(a, info_path, &mesos__agent_info__descriptor, &msg, &skip, err);
    dr_free(info_path);
    if (rc == DR_ENOENT) {
        dr_err_clear(err);
        return DR_OK;
    }
    if (rc != DR_OK)
        return rc;
    if (skip)
        return DR_OK; /* non-strict: start as a new agent */
    dr_proto_free(msg); /* the id is what matters; the info is rebuilt from flags */
    dr_strlcpy(a->agent_id, id, sizeof a->agent_id);

    char *fws = dr__agent_meta_path(a, "slaves/%s/frameworks", id);
    dr_dir_list list = {0};
    rc = dr_env_list_dir(a->env, fws, &list, err);
    if (rc == DR_ENOENT) {
        dr_err_clear(err);
        rc = DR_OK;
    }
    for (size_t i = 0; rc == DR_OK && i < list.count; i++) {
        if (skip_name(list.names[i]))
            continue;
        char *fwdir = dr_sprintf("%s/%s", fws, list.names[i]);
        char *fw_path = dr_sprintf("%s/framework.info", fwdir);
        rc = read_msg(a, fw_path, &mesos__framework_info__descriptor, &msg, &skip, err);
        dr_free(fw_path);
        if (rc == DR_ENOENT) {
            dr_err_clear(err);
            rc = DR_OK;
        } else if (rc == DR_OK && !skip) {
            Mesos__FrameworkInfo *fi = (Mesos__FrameworkInfo *)msg;
            if (fi->id != NULL && strcmp(fi->id->value, list.names[i]) == 0 &&
                dr__agent_framework_find(a, fi->id->value) == NULL) {
                dr__agent_framework *fw = dr__agent_framework_add(a, fi);
                rc = recover_executors(a, fw, fwdir, *rebooted, err);
            }
            dr_proto_free(msg);
        }
        dr_free(fwdir);
    }
    dr_dir_list_free(&list);
    dr_free(fws);
    return rc;
}
