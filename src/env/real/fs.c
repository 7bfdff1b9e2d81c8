/* src/env/real/fs.c — the real env's files and directories: POSIX calls on
 * the host's file system, with EINTR retried, O_CLOEXEC on every descriptor
 * and every failure reported as "<op> '<path>': <strerror>" with the closest
 * dr_code (see dr__real_code_of_errno).
 *
 * Durability is the caller's business (env.h): fsync uses fsync(2), not
 * fdatasync, because a size change must be durable too; fsync_dir opens the
 * directory and fsyncs it. lock is flock(LOCK_EX | LOCK_NB): a lock belongs to
 * the open file description, so two opens in one process contend as two
 * processes would. append writes at the current size with pwrite (O_APPEND
 * would make Linux ignore pwrite's offset on the same handle).
 */
#include "real_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

struct dr_file {
    int fd;
    char path[]; /* for messages */
};

#define OPEN_FLAGS_ALL                                                                             \
    (DR_OPEN_READ | DR_OPEN_WRITE | DR_OPEN_CREATE | DR_OPEN_EXCL | DR_OPEN_TRUNC |                \
     DR_OPEN_NOFOLLOW)

/* ---- open files ------------------------------------------------------------ */

dr_code dr__real_open(void *self, const char *path, int flags, dr_file **out, dr_err *err)
{
    DR_UNUSED(self);
    dr_code rc = dr__real_check_path("open", path, err);
    if (rc != DR_OK)
        return rc;
    if ((flags & ~OPEN_FLAGS_ALL) != 0 || (flags & (DR_OPEN_READ | DR_OPEN_WRITE)) == 0)
        return dr_err_set(err, DR_EINVAL, "open '%s': bad flags 0x%x", path, (unsigned)flags);
    if ((flags & DR_OPEN_EXCL) != 0 && (flags & DR_OPEN_CREATE) == 0)
        return dr_err_set(err, DR_EINVAL, "open '%s': EXCL without CREATE", path);

    int oflags = O_CLOEXEC | ((flags & DR_OPEN_WRITE) != 0 ? O_RDWR : O_RDONLY);
    if ((flags & DR_OPEN_CREATE) != 0)
        oflags |= O_CREAT;
    if ((flags & DR_OPEN_EXCL) != 0)
        oflags |= O_EXCL;
    if ((flags & DR_OPEN_TRUNC) != 0)
        oflags |= O_TRUNC;
    if ((flags & DR_OPEN_NOFOLLOW) != 0)
        oflags |= O_NOFOLLOW;
    int fd;
    do {
        fd = open(path, oflags, 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return dr__real_sys_fail(err, errno, "open", path);
    /* A read-only open of a directory succeeds in POSIX; env files are
     * regular files, as in the sim. */
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = dr__real_sys_fail(err, errno, "open", path);
        goto fail_close;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = dr__real_sys_fail(err, EISDIR, "open", path);
        goto fail_close;
    }
    size_t path_size = strlen(path) + 1;
    dr_file *f = dr_alloc(sizeof *f + path_size);
    f->fd = fd;
    memcpy(f->path, path, path_size);
    *out = f;
    return DR_OK;

fail_close:
    close(fd);
    return rc;
}

void dr__real_close(void *self, dr_file *file)
{
    DR_UNUSED(self);
    if (file == NULL)
        return;
    /* close(2) errors are not actionable: durability comes from fsync. */
    close(file->fd);
    dr_free(file);
}

static dr_code check_offset(const char *op, dr_file *file, uint64_t offset, size_t size,
                            dr_err *err)
{
    if (offset > (uint64_t)INT64_MAX || size > (uint64_t)INT64_MAX - offset)
        return dr_err_set(err, DR_EINVAL, "%s '%s': offset %llu + %zu bytes is out of range", op,
                          file->path, (unsigned long long)offset, size);
    return DR_OK;
}

dr_code dr__real_pread(void *self, dr_file *file, uint64_t offset, void *buf, size_t size,
                       size_t *read_size, dr_err *err)
{
    DR_UNUSED(self);
    dr_code rc = check_offset("read", file, offset, size, err);
    if (rc != DR_OK)
        return rc;
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(file->fd, (uint8_t *)buf + got, size - got, (off_t)(offset + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return dr__real_sys_fail(err, errno, "read", file->path);
        if (n == 0)
            break; /* end of file */
        got += (size_t)n;
    }
    *read_size = got;
    return DR_OK;
}

static dr_code write_all(const char *op, dr_file *file, uint64_t offset, const void *data,
                         size_t size, dr_err *err)
{
    dr_code rc = check_offset(op, file, offset, size, err);
    if (rc != DR_OK)
        return rc;
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(file->fd, (const uint8_t *)data + done, size - done,
                           (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return dr__real_sys_fail(err, errno, op, file->path);
        if (n == 0)
            return dr__real_sys_fail(err, EIO, op, file->path);
        done += (size_t)n;
    }
    return DR_OK;
}

dr_code dr__real_pwrite(void *self, dr_file *file, uint64_t offset, const void *data, size_t size,
                        dr_err *err)
{
    DR_UNUSED(self);
    return write_all("write", file, offset, data, size, err);
}

dr_code dr__real_append(void *self, dr_file *file, const void *data, size_t size, dr_err *err)
{
    DR_UNUSED(self);
    struct stat st;
    if (fstat(file->fd, &st) != 0)
        return dr__real_sys_fail(err, errno, "append", file->path);
    return write_all("append", file, (uint64_t)st.st_size, data, size, err);
}

dr_code dr__real_fsync(void *self, dr_file *file, dr_err *err)
{
    DR_UNUSED(self);
    int rc;
    do {
        rc = fsync(file->fd);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0)
        return dr__real_sys_fail(err, errno, "fsync", file->path);
    return DR_OK;
}

dr_code dr__real_truncate(void *self, dr_file *file, uint64_t size, dr_err *err)
{
    DR_UNUSED(self);
    if (size > (uint64_t)INT64_MAX)
        return dr_err_set(err, DR_EINVAL, "truncate '%s': size %llu is out of range", file->path,
                          (unsigned long long)size);
    int rc;
    do {
        rc = ftruncate(file->fd, (off_t)size);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0)
        return dr__real_sys_fail(err, errno, "truncate", file->path);
    return DR_OK;
}

dr_code dr__real_file_size(void *self, dr_file *file, uint64_t *size, dr_err *err)
{
    DR_UNUSED(self);
    struct stat st;
    if (fstat(file->fd, &st) != 0)
        return dr__real_sys_fail(err, errno, "stat", file->path);
    *size = (uint64_t)st.st_size;
    return DR_OK;
}

dr_code dr__real_lock(void *self, dr_file *file, dr_err *err)
{
    DR_UNUSED(self);
    int rc;
    do {
        rc = flock(file->fd, LOCK_EX | LOCK_NB);
    } while (rc != 0 && errno == EINTR);
    if (rc == 0)
        return DR_OK;
    if (errno == EWOULDBLOCK)
        return dr_err_set(err, DR_EBUSY, "lock '%s': locked by another open file or process",
                          file->path);
    return dr__real_sys_fail(err, errno, "lock", file->path);
}

/* ---- paths ------------------------------------------------------------------ */

dr_code dr__real_rename(void *self, const char *from, const char *to, dr_err *err)
{
    DR_UNUSED(self);
    dr_code rc = dr__real_check_path("rename", from, err);
    if (rc == DR_OK)
        rc = dr__real_check_path("rename", to, err);
    if (rc != DR_OK)
        return rc;
    if (rename(from, to) != 0) {
        int e = errno;
        return dr_err_set(err, dr__real_code_of_errno(e), "rename '%s' to '%s': %s", from, to,
                          strerror(e));
    }
    return DR_OK;
}

dr_code dr__real_unlink(void *self, const char *path, dr_err *err)
{
    DR_UNUSED(self);
    dr_code rc = dr__real_check_path("unlink", path, err);
    if (rc != DR_OK)
        return rc;
    if (unlink(path) != 0)
        return dr__real_sys_fail(err, errno, "unlink", path);
    return DR_OK;
}

dr_code dr__real_mkdir(void *self, const char *path, dr_err *err)
{
    DR_UNUSED(self);
    dr_code rc = dr__real_check_path("mkdir", path, err);
    if (rc != DR_OK)
        return rc;
    if (mkdir(path, 0755) != 0)
        return dr__real_sys_fail(err, errno, "mkdir", path);
    return DR_OK;
}

dr_code dr__real_rmdir(void *self, const char *path, dr_err *err)
{
    DR_UNUSED(self);
    dr_code rc = dr__real_check_path("rmdir", path, err);
    if (rc != DR_OK)
        return rc;
    if (rmdir(path) != 0) {
        int e = errno == EEXIST ? ENOTEMPTY : errno; /* POSIX allows either */
        return dr__real_sys_fail(err, e, "rmdir", path);
    }
    return DR_OK;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

dr_code dr__real_list_dir(void *self, const char *path, dr_dir_list *out, dr_err *err)
{
    DR_UNUSED(self);
    dr_code rc = dr__real_check_path("list", path, err);
    if (rc != DR_OK)
        return rc;
    DIR *dir = opendir(path); /* glibc opens it O_CLOEXEC */
    if (dir == NULL)
        return dr__real_sys_fail(err, errno, "list", path);
    dr_dir_list list = {0};
    size_t capacity = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dir);
        if (de == NULL) {
            if (errno != 0) {
                rc = dr__real_sys_fail(err, errno, "list", path);
                goto fail_free;
            }
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (list.count == DR_DIR_ENTRY_COUNT_MAX) {
            rc = dr_err_set(err, DR_ETOOBIG, "list '%s': more than %u entries", path,
                            DR_DIR_ENTRY_COUNT_MAX);
            goto fail_free;
        }
        if (list.count == capacity) {
            capacity = capacity == 0 ? 16 : capacity * 2;
            list.names = dr_realloc(list.names, capacity * sizeof *list.names);
        }
        list.names[list.count++] = dr_strdup(de->d_name);
    }
    closedir(dir);
    if (list.count > 0)
        qsort(list.names, list.count, sizeof *list.names, compare_names);
    *out = list;
    return DR_OK;

fail_free:
    dr_dir_list_free(&list);
    closedir(dir);
    return rc;
}

dr_code dr__real_fsync_dir(void *self, const char *path, dr_err *err)
{
    DR_UNUSED(self);
    dr_code rc = dr__real_check_path("fsync", path, err);
    if (rc != DR_OK)
        return rc;
    int fd;
    do {
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return dr__real_sys_fail(err, errno, "fsync", path);
    int sync_rc;
    do {
        sync_rc = fsync(fd);
    } while (sync_rc != 0 && errno == EINTR);
    if (sync_rc != 0)
        rc = dr__real_sys_fail(err, errno, "fsync", path);
    close(fd);
    return rc;
}

dr_code dr__real_stat(void *self, const char *path, bool follow_links, dr_file_stat *out,
                      dr_err *err)
{
    DR_UNUSED(self);
    dr_code rc = dr__real_check_path("stat", path, err);
    if (rc != DR_OK)
        return rc;
    struct stat st;
    if ((follow_links ? stat(path, &st) : lstat(path, &st)) != 0)
        return dr__real_sys_fail(err, errno, "stat", path);
    dr_file_stat result = {0};
    result.is_dir = S_ISDIR(st.st_mode);
    result.is_symlink = S_ISLNK(st.st_mode);
    result.size_bytes = (uint64_t)st.st_size;
    result.mtime_ns = (uint64_t)st.st_mtim.tv_sec * DR_NS_PER_S + (uint64_t)st.st_mtim.tv_nsec;
    *out = result;
    return DR_OK;
}

dr_code dr__real_symlink(void *self, const char *target, const char *link_path, dr_err *err)
{
    DR_UNUSED(self);
    dr_code rc = dr__real_check_path("symlink", target, err);
    if (rc == DR_OK)
        rc = dr__real_check_path("symlink", link_path, err);
    if (rc != DR_OK)
        return rc;
    if (symlink(target, link_path) != 0)
        return dr__real_sys_fail(err, errno, "symlink", link_path);
    return DR_OK;
}

dr_code dr__real_readlink(void *self, const char *path, char *out, size_t out_size, dr_err *err)
{
    DR_UNUSED(self);
    dr_code rc = dr__real_check_path("readlink", path, err);
    if (rc != DR_OK)
        return rc;
    if (out_size == 0)
        return dr_err_set(err, DR_EINVAL, "readlink '%s': no room for the target", path);
    char buf[DR_PATH_SIZE_MAX];
    ssize_t n = readlink(path, buf, sizeof buf);
    if (n < 0)
        return dr__real_sys_fail(err, errno, "readlink", path);
    if ((size_t)n >= sizeof buf || (size_t)n >= out_size)
        return dr_err_set(err, DR_ETOOBIG, "readlink '%s': target longer than %zu bytes", path,
                          DR_MIN(out_size, sizeof buf) - 1);
    memcpy(out, buf, (size_t)n);
    out[n] = '\0';
    return DR_OK;
}

dr_code dr__real_disk_space(void *self, const char *path, uint64_t *free_bytes,
                            uint64_t *total_bytes, dr_err *err)
{
    DR_UNUSED(self);
    dr_code rc = dr__real_check_path("statvfs", path, err);
    if (rc != DR_OK)
        return rc;
    struct statvfs st;
    if (statvfs(path, &st) != 0)
        return dr__real_sys_fail(err, errno, "statvfs", path);
    *free_bytes = (uint64_t)st.f_bavail * st.f_frsize;
    *total_bytes = (uint64_t)st.f_blocks * st.f_frsize;
    return DR_OK;
}
