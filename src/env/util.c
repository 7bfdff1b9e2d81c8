/* src/env/util.c — helpers built only on the env's operations: formatted
 * logging, mkdir -p, whole-file reads, atomic durable writes and rm -rf.
 * Pure over the env, so they behave the same for real and in the simulator.
 */
#include "env.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

const char *dr_log_level_name(dr_log_level level)
{
    if ((unsigned)level >= DR_ARRAY_COUNT(level_names))
        return "?";
    return level_names[level];
}

dr_code dr_log_level_parse(const char *text, dr_log_level *out, dr_err *err)
{
    for (size_t i = 0; i < DR_ARRAY_COUNT(level_names); i++) {
        if (strcasecmp(text, level_names[i]) == 0) {
            *out = (dr_log_level)i;
            return DR_OK;
        }
    }
    return dr_err_set(err, DR_EINVAL, "log level '%s': expected DEBUG, INFO, WARN or ERROR", text);
}

void dr_log(dr_env *env, dr_log_level level, const char *fmt, ...)
{
    if (level < dr_env_log_level(env))
        return;
    char line[DR_LOG_LINE_SIZE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    env->ops->log(env->self, level, line);
}

void dr_dir_list_free(dr_dir_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        dr_free(list->names[i]);
    dr_free(list->names);
    list->names = NULL;
    list->count = 0;
}

dr_code dr_env_mkdir_p(dr_env *env, const char *path, dr_err *err)
{
    size_t len = strlen(path);
    if (len == 0 || len >= DR_PATH_SIZE_MAX)
        return dr_err_set(err, DR_EINVAL, "mkdir '%s': path must be 1-%u bytes", path,
                          DR_PATH_SIZE_MAX - 1);
    char buf[DR_PATH_SIZE_MAX];
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        dr_file_stat st;
        dr_err local;
        if (dr_env_stat(env, buf, true, &st, &local) == DR_OK) {
            if (!st.is_dir)
                return dr_err_set(err, DR_ENOTDIR, "mkdir '%s': '%s' is not a directory", path,
                                  buf);
        } else if (local.code == DR_ENOENT) {
            if (dr_env_mkdir(env, buf, &local) != DR_OK && local.code != DR_EEXIST) {
                *err = local;
                return err->code;
            }
        } else {
            *err = local;
            return err->code;
        }
        buf[i] = saved;
    }
    return DR_OK;
}

dr_code dr_env_read_all(dr_env *env, const char *path, size_t max_size, uint8_t **out,
                        size_t *size, dr_err *err)
{
    dr_file *f = NULL;
    dr_code rc = dr_env_open(env, path, DR_OPEN_READ, &f, err);
    if (rc != DR_OK)
        return rc;
    /* Read to end of file rather than trusting the size: files under /proc
     * report 0 and still have content. */
    dr_buf buf;
    dr_buf_init(&buf);
    for (;;) {
        size_t want = DR_MIN((size_t)64 * 1024, max_size + 1 - buf.size);
        dr_buf_reserve(&buf, want);
        size_t got = 0;
        rc = dr_env_pread(env, f, buf.size, buf.data + buf.size, want, &got, err);
        if (rc != DR_OK)
            goto fail;
        buf.size += got;
        if (buf.size > max_size) {
            rc = dr_err_set(err, DR_ETOOBIG, "file '%s': larger than the %zu bytes allowed", path,
                            max_size);
            goto fail;
        }
        if (got == 0)
            break;
    }
    dr_env_close(env, f);
    dr_buf_cstr(&buf); /* NUL-terminates, not counted */
    *out = buf.data;
    *size = buf.size;
    return DR_OK;

fail:
    dr_buf_deinit(&buf);
    dr_env_close(env, f);
    return rc;
}

static bool is_blank(char c) { return c == '\n' || c == '\r' || c == ' ' || c == '\t'; }

dr_code dr_env_read_last_line(dr_env *env, const char *path, char *out, size_t out_size,
                              dr_err *err)
{
    DR_ASSERT(out_size > 0);
    dr_file *f = NULL;
    dr_code rc = dr_env_open(env, path, DR_OPEN_READ | DR_OPEN_NOFOLLOW, &f, err);
    if (rc != DR_OK)
        return rc;
    uint64_t size = 0;
    rc = dr_env_file_size(env, f, &size, err);
    char tail[DR_ENV_TAIL_SIZE_MAX];
    size_t want = (size_t)DR_MIN(size, (uint64_t)sizeof tail);
    size_t got = 0;
    if (rc == DR_OK && want > 0)
        rc = dr_env_pread(env, f, size - want, tail, want, &got, err);
    dr_env_close(env, f);
    if (rc != DR_OK)
        return rc;
    size_t end = got;
    while (end > 0 && is_blank(tail[end - 1]))
        end--;
    size_t start = end;
    while (start > 0 && tail[start - 1] != '\n')
        start--;
    size_t n = end - start;
    if (n > out_size - 1) { /* keep the end: that is where the reason is */
        start = end - (out_size - 1);
        n = out_size - 1;
    }
    memcpy(out, tail + start, n);
    out[n] = '\0';
    return DR_OK;
}

static void dir_of(const char *path, char *out, size_t out_size)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        dr_strlcpy(out, ".", out_size);
    } else if (slash == path) {
        dr_strlcpy(out, "/", out_size);
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= out_size)
            n = out_size - 1;
        memcpy(out, path, n);
        out[n] = '\0';
    }
}

dr_code dr_env_write_replace(dr_env *env, const char *path, const void *data, size_t size,
                             bool sync, dr_err *err)
{
    char tmp[DR_PATH_SIZE_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return dr_err_set(err, DR_EINVAL, "write '%s': path too long", path);
    dr_file *f = NULL;
    dr_code rc = dr_env_open(env, tmp, DR_OPEN_WRITE | DR_OPEN_CREATE | DR_OPEN_TRUNC, &f, err);
    if (rc != DR_OK)
        return rc;
    rc = dr_env_pwrite(env, f, 0, data, size, err);
    if (rc == DR_OK && sync)
        rc = dr_env_fsync(env, f, err);
    dr_env_close(env, f);
    if (rc == DR_OK)
        rc = dr_env_rename(env, tmp, path, err);
    if (rc != DR_OK) {
        dr_err ignored;
        (void)dr_env_unlink(env, tmp, &ignored); /* best effort: the error that matters is rc */
    }
    return rc;
}

dr_code dr_env_write_atomic(dr_env *env, const char *path, const void *data, size_t size,
                            dr_err *err)
{
    dr_code rc = dr_env_write_replace(env, path, data, size, true, err);
    if (rc != DR_OK)
        return rc;
    char dir[DR_PATH_SIZE_MAX];
    dir_of(path, dir, sizeof dir);
    return dr_env_fsync_dir(env, dir, err);
}

dr_code dr_env_remove_tree(dr_env *env, const char *path, dr_err *err)
{
    dr_file_stat st;
    dr_code rc = dr_env_stat(env, path, false, &st, err);
    if (rc == DR_ENOENT) {
        dr_err_clear(err);
        return DR_OK;
    }
    if (rc != DR_OK)
        return rc;
    if (!st.is_dir || st.is_symlink)
        return dr_env_unlink(env, path, err);
    dr_dir_list list = {0};
    rc = dr_env_list_dir(env, path, &list, err);
    if (rc != DR_OK)
        return rc;
    for (size_t i = 0; i < list.count && rc == DR_OK; i++) {
        char *child = dr_sprintf("%s/%s", path, list.names[i]);
        rc = dr_env_remove_tree(env, child, err);
        dr_free(child);
    }
    dr_dir_list_free(&list);
    if (rc != DR_OK)
        return rc;
    return dr_env_rmdir(env, path, err);
}
