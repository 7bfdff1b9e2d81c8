/* src/env/sqlite/vfs.c — the sqlite3 VFS over a dr_env (see vfs.h).
 *
 * Owns: the sqlite3_vfs and sqlite3_io_methods tables; per-VFS tables of lock
 * records and WAL shared-memory nodes (sorted arrays keyed by path, looked up
 * by binary search, never iterated by address); in-memory temporary files.
 * Leaves to the env everything that touches a disk.
 *
 * Locking follows the unix VFS's in-process model: each path has one record
 * (readers count, reserved/pending holders, exclusive flag) shared by every
 * connection of the VFS; each open file remembers its own level. WAL shared
 * memory is one node per database path: heap regions plus, per lock slot, a
 * readers count and an exclusive holder; each file keeps masks of the slots
 * it holds, as the unix VFS does.
 */
#include "vfs.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#define SHM_LOCK_COUNT SQLITE_SHM_NLOCK

typedef struct vfile vfile;

typedef struct lockrec {
    char *path;
    uint32_t ref_count;   /* open files of this path */
    uint32_t shared_count; /* files at SHARED or above */
    vfile *reserved_by;
    vfile *pending_by;
    bool exclusive;
} lockrec;

typedef struct shmnode {
    char *path;
    uint32_t ref_count; /* files that mapped it */
    uint8_t **regions;
    size_t region_count;
    size_t region_size;
    uint32_t shared_count[SHM_LOCK_COUNT];
    vfile *exclusive_by[SHM_LOCK_COUNT];
} shmnode;

typedef struct vfs_state {
    sqlite3_vfs base; /* first: sqlite hands us a sqlite3_vfs * */
    dr_env *env;      /* kept */
    char *name;
    bool detached;
    uint32_t open_count;
    lockrec **locks; /* sorted by path */
    size_t lock_count;
    shmnode **shms; /* sorted by path */
    size_t shm_count;
    dr_err last_err;
} vfs_state;

struct vfile {
    sqlite3_file base; /* first: sqlite hands us a sqlite3_file * */
    vfs_state *vfs;
    dr_file *file; /* NULL for an in-memory temporary file */
    dr_buf mem;    /* the in-memory file's bytes */
    char *path;    /* NULL for an in-memory file */
    bool delete_on_close;
    bool dirsync_pending; /* a new journal or WAL: fsync its directory on first sync */
    int lock_level;
    lockrec *lock;
    shmnode *shm;
    uint16_t shm_shared_mask;
    uint16_t shm_exclusive_mask;
};

static const sqlite3_io_methods file_methods;
static const sqlite3_io_methods mem_methods;

/* ---- sorted tables ------------------------------------------------------------ */

/* Index of the first element whose path is >= path in an array of structs
 * whose first member is `char *path`. */
static size_t table_lower(void *const *items, size_t count, const char *path, bool *found)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(*(char *const *)items[mid], path) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < count && strcmp(*(char *const *)items[lo], path) == 0;
    return lo;
}

static void table_insert(void ***items, size_t *count, size_t at, void *item)
{
    *items = dr_realloc(*items, (*count + 1) * sizeof **items);
    memmove(&(*items)[at + 1], &(*items)[at], (*count - at) * sizeof **items);
    (*items)[at] = item;
    (*count)++;
}

static void table_remove(void **items, size_t *count, size_t at)
{
    DR_ASSERT(at < *count);
    memmove(&items[at], &items[at + 1], (*count - at - 1) * sizeof *items);
    (*count)--;
}

static lockrec *lock_get(vfs_state *vfs, const char *path)
{
    bool found;
    size_t at = table_lower((void *const *)vfs->locks, vfs->lock_count, path, &found);
    if (!found) {
        lockrec *rec = dr_alloc(sizeof *rec);
        rec->path = dr_strdup(path);
        table_insert((void ***)&vfs->locks, &vfs->lock_count, at, rec);
    }
    lockrec *rec = vfs->locks[at];
    rec->ref_count++;
    return rec;
}

static void lock_put(vfs_state *vfs, lockrec *rec)
{
    DR_ASSERT(rec->ref_count > 0);
    if (--rec->ref_count > 0)
        return;
    DR_ASSERT(rec->shared_count == 0);
    bool found;
    size_t at = table_lower((void *const *)vfs->locks, vfs->lock_count, rec->path, &found);
    DR_ASSERT(found);
    table_remove((void **)vfs->locks, &vfs->lock_count, at);
    dr_free(rec->path);
    dr_free(rec);
}

/* ---- helpers ------------------------------------------------------------------ */

static vfs_state *state_of(sqlite3_vfs *base) { return (vfs_state *)base; }

/* Keeps the env's message for xGetLastError and returns the sqlite code:
 * ENOSPC is SQLITE_FULL, anything else the I/O error given. */
static int io_fail(vfs_state *vfs, const dr_err *err, int ioerr)
{
    vfs->last_err = *err;
    return err->code == DR_ENOSPC ? SQLITE_FULL : ioerr;
}

static void parent_dir(const char *path, char *out, size_t out_size)
{
    const char *slash = strrchr(path, '/');
    size_t len = slash == NULL || slash == path ? 1 : (size_t)(slash - path);
    DR_ASSERT(len < out_size);
    memcpy(out, slash == NULL ? "/" : path, len);
    out[len] = '\0';
}

/* ---- file methods: env files -------------------------------------------------------- */

static void shm_detach(vfile *f);

static int file_close(sqlite3_file *base)
{
    vfile *f = (vfile *)base;
    vfs_state *vfs = f->vfs;
    int rc = SQLITE_OK;
    if (f->shm != NULL)
        shm_detach(f);
    if (f->lock != NULL) {
        if (f->lock_level >= SQLITE_LOCK_SHARED)
            f->lock->shared_count--;
        if (f->lock->reserved_by == f)
            f->lock->reserved_by = NULL;
        if (f->lock->pending_by == f)
            f->lock->pending_by = NULL;
        if (f->lock_level == SQLITE_LOCK_EXCLUSIVE)
            f->lock->exclusive = false;
        lock_put(vfs, f->lock);
    }
    if (!vfs->detached) {
        dr_env_close(vfs->env, f->file);
        dr_err err;
        if (f->delete_on_close && dr_env_unlink(vfs->env, f->path, &err) != DR_OK)
            rc = io_fail(vfs, &err, SQLITE_IOERR_DELETE);
    }
    dr_free(f->path);
    DR_ASSERT(vfs->open_count > 0);
    vfs->open_count--;
    f->base.pMethods = NULL;
    return rc;
}

static int file_read(sqlite3_file *base, void *buf, int amount, sqlite3_int64 offset)
{
    vfile *f = (vfile *)base;
    if (f->vfs->detached)
        return SQLITE_IOERR_READ;
    size_t got = 0;
    dr_err err;
    if (dr_env_pread(f->vfs->env, f->file, (uint64_t)offset, buf, (size_t)amount, &got, &err) !=
        DR_OK)
        return io_fail(f->vfs, &err, SQLITE_IOERR_READ);
    if (got < (size_t)amount) {
        /* sqlite requires the rest zero-filled on a short read. */
        memset((uint8_t *)buf + got, 0, (size_t)amount - got);
        return SQLITE_IOERR_SHORT_READ;
    }
    return SQLITE_OK;
}

static int file_write(sqlite3_file *base, const void *data, int amount, sqlite3_int64 offset)
{
    vfile *f = (vfile *)base;
    if (f->vfs->detached)
        return SQLITE_IOERR_WRITE;
    dr_err err;
    if (dr_env_pwrite(f->vfs->env, f->file, (uint64_t)offset, data, (size_t)amount, &err) != DR_OK)
        return io_fail(f->vfs, &err, SQLITE_IOERR_WRITE);
    return SQLITE_OK;
}

static int file_truncate(sqlite3_file *base, sqlite3_int64 size)
{
    vfile *f = (vfile *)base;
    if (f->vfs->detached)
        return SQLITE_IOERR_TRUNCATE;
    dr_err err;
    if (dr_env_truncate(f->vfs->env, f->file, (uint64_t)size, &err) != DR_OK)
        return io_fail(f->vfs, &err, SQLITE_IOERR_TRUNCATE);
    return SQLITE_OK;
}

static int file_sync(sqlite3_file *base, int flags)
{
    (void)flags; /* NORMAL, FULL and DATAONLY all get a full fsync */
    vfile *f = (vfile *)base;
    if (f->vfs->detached)
        return SQLITE_IOERR_FSYNC;
    dr_err err;
    if (dr_env_fsync(f->vfs->env, f->file, &err) != DR_OK)
        return io_fail(f->vfs, &err, SQLITE_IOERR_FSYNC);
    if (f->dirsync_pending) {
        char dir[DR_PATH_SIZE_MAX];
        parent_dir(f->path, dir, sizeof dir);
        if (dr_env_fsync_dir(f->vfs->env, dir, &err) != DR_OK)
            return io_fail(f->vfs, &err, SQLITE_IOERR_DIR_FSYNC);
        f->dirsync_pending = false;
    }
    return SQLITE_OK;
}

static int file_size(sqlite3_file *base, sqlite3_int64 *size)
{
    vfile *f = (vfile *)base;
    if (f->vfs->detached)
        return SQLITE_IOERR_FSTAT;
    uint64_t bytes = 0;
    dr_err err;
    if (dr_env_file_size(f->vfs->env, f->file, &bytes, &err) != DR_OK)
        return io_fail(f->vfs, &err, SQLITE_IOERR_FSTAT);
    *size = (sqlite3_int64)bytes;
    return SQLITE_OK;
}

/* The five levels, in memory. A reader count per path stands for the unix
 * VFS's shared byte range; PENDING keeps new readers out while a writer waits
 * for the old ones to leave. */
static int file_lock(sqlite3_file *base, int level)
{
    vfile *f = (vfile *)base;
    lockrec *rec = f->lock;
    if (f->lock_level >= level)
        return SQLITE_OK;
    switch (level) {
    case SQLITE_LOCK_SHARED:
        DR_ASSERT(f->lock_level == SQLITE_LOCK_NONE);
        if (rec->pending_by != NULL || rec->exclusive)
            return SQLITE_BUSY;
        rec->shared_count++;
        f->lock_level = SQLITE_LOCK_SHARED;
        return SQLITE_OK;
    case SQLITE_LOCK_RESERVED:
        DR_ASSERT(f->lock_level == SQLITE_LOCK_SHARED);
        if (rec->reserved_by != NULL)
            return SQLITE_BUSY;
        rec->reserved_by = f;
        f->lock_level = SQLITE_LOCK_RESERVED;
        return SQLITE_OK;
    case SQLITE_LOCK_EXCLUSIVE:
        DR_ASSERT(f->lock_level >= SQLITE_LOCK_SHARED);
        if (rec->pending_by != NULL && rec->pending_by != f)
            return SQLITE_BUSY;
        rec->pending_by = f;
        if (rec->shared_count > 1) {
            f->lock_level = SQLITE_LOCK_PENDING;
            return SQLITE_BUSY;
        }
        rec->exclusive = true;
        f->lock_level = SQLITE_LOCK_EXCLUSIVE;
        return SQLITE_OK;
    default:
        DR_UNREACHABLE(); /* sqlite never asks for PENDING itself */
    }
}

static int file_unlock(sqlite3_file *base, int level)
{
    vfile *f = (vfile *)base;
    lockrec *rec = f->lock;
    DR_ASSERT(level <= SQLITE_LOCK_SHARED);
    if (f->lock_level <= level)
        return SQLITE_OK;
    if (f->lock_level == SQLITE_LOCK_EXCLUSIVE)
        rec->exclusive = false;
    if (rec->pending_by == f)
        rec->pending_by = NULL;
    if (rec->reserved_by == f)
        rec->reserved_by = NULL;
    if (level == SQLITE_LOCK_NONE) {
        DR_ASSERT(rec->shared_count > 0);
        rec->shared_count--;
    }
    f->lock_level = level;
    return SQLITE_OK;
}

static int file_check_reserved(sqlite3_file *base, int *out)
{
    vfile *f = (vfile *)base;
    lockrec *rec = f->lock;
    *out = rec->reserved_by != NULL || rec->pending_by != NULL || rec->exclusive;
    return SQLITE_OK;
}

static int file_control(sqlite3_file *base, int op, void *arg)
{
    (void)base;
    (void)op;
    (void)arg;
    return SQLITE_NOTFOUND;
}

/* The simulator loses unsynced writes a whole 4 KiB page at a time. */
static int file_sector_size(sqlite3_file *base)
{
    (void)base;
    return 4096;
}

static int file_device_characteristics(sqlite3_file *base)
{
    (void)base;
    return 0;
}

/* ---- WAL shared memory ------------------------------------------------------------ */

static shmnode *shm_attach(vfile *f)
{
    vfs_state *vfs = f->vfs;
    if (f->shm != NULL)
        return f->shm;
    bool found;
    size_t at = table_lower((void *const *)vfs->shms, vfs->shm_count, f->path, &found);
    if (!found) {
        shmnode *node = dr_alloc(sizeof *node);
        node->path = dr_strdup(f->path);
        table_insert((void ***)&vfs->shms, &vfs->shm_count, at, node);
    }
    f->shm = vfs->shms[at];
    f->shm->ref_count++;
    return f->shm;
}

static void shm_release_locks(vfile *f, uint16_t mask)
{
    shmnode *node = f->shm;
    for (int i = 0; i < SHM_LOCK_COUNT; i++) {
        uint16_t bit = (uint16_t)(1u << i);
        if (!(mask & bit))
            continue;
        if (f->shm_exclusive_mask & bit) {
            DR_ASSERT(node->exclusive_by[i] == f);
            node->exclusive_by[i] = NULL;
        }
        if (f->shm_shared_mask & bit) {
            DR_ASSERT(node->shared_count[i] > 0);
            node->shared_count[i]--;
        }
    }
    f->shm_exclusive_mask &= (uint16_t)~mask;
    f->shm_shared_mask &= (uint16_t)~mask;
}

static void shm_detach(vfile *f)
{
    vfs_state *vfs = f->vfs;
    shmnode *node = f->shm;
    shm_release_locks(f, 0xff);
    f->shm = NULL;
    DR_ASSERT(node->ref_count > 0);
    if (--node->ref_count > 0)
        return;
    /* Last connection gone: the memory goes, as a process's would. */
    bool found;
    size_t at = table_lower((void *const *)vfs->shms, vfs->shm_count, node->path, &found);
    DR_ASSERT(found);
    table_remove((void **)vfs->shms, &vfs->shm_count, at);
    for (size_t i = 0; i < node->region_count; i++)
        dr_free(node->regions[i]);
    dr_free(node->regions);
    dr_free(node->path);
    dr_free(node);
}

static int file_shm_map(sqlite3_file *base, int region_index, int region_size, int extend,
                        void volatile **out)
{
    vfile *f = (vfile *)base;
    if (f->vfs->detached)
        return SQLITE_IOERR_SHMMAP;
    shmnode *node = shm_attach(f);
    DR_ASSERT(region_size > 0);
    DR_ASSERT(node->region_count == 0 || node->region_size == (size_t)region_size);
    node->region_size = (size_t)region_size;
    if ((size_t)region_index >= node->region_count) {
        if (!extend) {
            *out = NULL;
            return SQLITE_OK;
        }
        size_t count = (size_t)region_index + 1;
        node->regions = dr_realloc(node->regions, count * sizeof *node->regions);
        for (size_t i = node->region_count; i < count; i++)
            node->regions[i] = dr_alloc((size_t)region_size);
        node->region_count = count;
    }
    *out = node->regions[region_index];
    return SQLITE_OK;
}

static int file_shm_lock(sqlite3_file *base, int offset, int count, int flags)
{
    vfile *f = (vfile *)base;
    shmnode *node = f->shm;
    DR_ASSERT(node != NULL);
    DR_ASSERT(offset >= 0 && count >= 1 && offset + count <= SHM_LOCK_COUNT);
    uint16_t mask = (uint16_t)(((1u << count) - 1) << offset);
    if (flags & SQLITE_SHM_UNLOCK) {
        shm_release_locks(f, mask);
        return SQLITE_OK;
    }
    if (flags & SQLITE_SHM_SHARED) {
        DR_ASSERT(count == 1);
        if (f->shm_shared_mask & mask)
            return SQLITE_OK;
        if (node->exclusive_by[offset] != NULL && node->exclusive_by[offset] != f)
            return SQLITE_BUSY;
        node->shared_count[offset]++;
        f->shm_shared_mask |= mask;
        return SQLITE_OK;
    }
    DR_ASSERT(flags & SQLITE_SHM_EXCLUSIVE);
    for (int i = offset; i < offset + count; i++) {
        uint16_t bit = (uint16_t)(1u << i);
        uint32_t own_shared = (f->shm_shared_mask & bit) ? 1 : 0;
        if ((node->exclusive_by[i] != NULL && node->exclusive_by[i] != f) ||
            node->shared_count[i] > own_shared)
            return SQLITE_BUSY;
    }
    for (int i = offset; i < offset + count; i++)
        node->exclusive_by[i] = f;
    f->shm_exclusive_mask |= mask;
    return SQLITE_OK;
}

static void file_shm_barrier(sqlite3_file *base)
{
    (void)base;
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* one thread: only the compiler reorders */
}

static int file_shm_unmap(sqlite3_file *base, int delete_flag)
{
    (void)delete_flag; /* heap memory: nothing outlives the last mapping anyway */
    vfile *f = (vfile *)base;
    if (f->shm != NULL)
        shm_detach(f);
    return SQLITE_OK;
}

static const sqlite3_io_methods file_methods = {
    .iVersion = 2,
    .xClose = file_close,
    .xRead = file_read,
    .xWrite = file_write,
    .xTruncate = file_truncate,
    .xSync = file_sync,
    .xFileSize = file_size,
    .xLock = file_lock,
    .xUnlock = file_unlock,
    .xCheckReservedLock = file_check_reserved,
    .xFileControl = file_control,
    .xSectorSize = file_sector_size,
    .xDeviceCharacteristics = file_device_characteristics,
    .xShmMap = file_shm_map,
    .xShmLock = file_shm_lock,
    .xShmBarrier = file_shm_barrier,
    .xShmUnmap = file_shm_unmap,
};

/* ---- file methods: in-memory temporary files ------------------------------------------ */

static int mem_close(sqlite3_file *base)
{
    vfile *f = (vfile *)base;
    dr_buf_deinit(&f->mem);
    DR_ASSERT(f->vfs->open_count > 0);
    f->vfs->open_count--;
    f->base.pMethods = NULL;
    return SQLITE_OK;
}

static int mem_read(sqlite3_file *base, void *buf, int amount, sqlite3_int64 offset)
{
    vfile *f = (vfile *)base;
    size_t got = 0;
    if ((uint64_t)offset < f->mem.size)
        got = DR_MIN((size_t)amount, f->mem.size - (size_t)offset);
    if (got > 0)
        memcpy(buf, f->mem.data + offset, got);
    if (got < (size_t)amount) {
        memset((uint8_t *)buf + got, 0, (size_t)amount - got);
        return SQLITE_IOERR_SHORT_READ;
    }
    return SQLITE_OK;
}

static void mem_resize(vfile *f, size_t size)
{
    if (size > f->mem.size) {
        dr_buf_reserve(&f->mem, size - f->mem.size);
        memset(f->mem.data + f->mem.size, 0, size - f->mem.size);
    }
    f->mem.size = size;
}

static int mem_write(sqlite3_file *base, const void *data, int amount, sqlite3_int64 offset)
{
    vfile *f = (vfile *)base;
    size_t end = (size_t)offset + (size_t)amount;
    if (end > f->mem.size)
        mem_resize(f, end);
    memcpy(f->mem.data + offset, data, (size_t)amount);
    return SQLITE_OK;
}

static int mem_truncate(sqlite3_file *base, sqlite3_int64 size)
{
    vfile *f = (vfile *)base;
    if ((size_t)size < f->mem.size)
        f->mem.size = (size_t)size;
    return SQLITE_OK;
}

static int mem_sync(sqlite3_file *base, int flags)
{
    (void)base;
    (void)flags;
    return SQLITE_OK;
}

static int mem_size(sqlite3_file *base, sqlite3_int64 *size)
{
    *size = (sqlite3_int64)((vfile *)base)->mem.size;
    return SQLITE_OK;
}

static int mem_lock(sqlite3_file *base, int level)
{
    ((vfile *)base)->lock_level = level;
    return SQLITE_OK;
}

static int mem_unlock(sqlite3_file *base, int level)
{
    ((vfile *)base)->lock_level = level;
    return SQLITE_OK;
}

static int mem_check_reserved(sqlite3_file *base, int *out)
{
    (void)base;
    *out = 0;
    return SQLITE_OK;
}

static const sqlite3_io_methods mem_methods = {
    .iVersion = 1,
    .xClose = mem_close,
    .xRead = mem_read,
    .xWrite = mem_write,
    .xTruncate = mem_truncate,
    .xSync = mem_sync,
    .xFileSize = mem_size,
    .xLock = mem_lock,
    .xUnlock = mem_unlock,
    .xCheckReservedLock = mem_check_reserved,
    .xFileControl = file_control,
    .xSectorSize = file_sector_size,
    .xDeviceCharacteristics = file_device_characteristics,
};

/* ---- VFS methods ----------------------------------------------------------------- */

static int vfs_open(sqlite3_vfs *base, sqlite3_filename name, sqlite3_file *out_base, int flags,
                    int *out_flags)
{
    vfs_state *vfs = state_of(base);
    vfile *f = (vfile *)out_base;
    memset(f, 0, sizeof *f);
    f->vfs = vfs;
    const int temp_types = SQLITE_OPEN_TEMP_DB | SQLITE_OPEN_TEMP_JOURNAL |
                           SQLITE_OPEN_SUBJOURNAL | SQLITE_OPEN_TRANSIENT_DB;
    if (name == NULL || (flags & temp_types)) {
        dr_buf_init(&f->mem);
        f->base.pMethods = &mem_methods;
        vfs->open_count++;
        if (out_flags != NULL)
            *out_flags = flags;
        return SQLITE_OK;
    }
    if (vfs->detached)
        return SQLITE_CANTOPEN;
    int env_flags = (flags & SQLITE_OPEN_READWRITE) ? DR_OPEN_WRITE : DR_OPEN_READ;
    if (flags & SQLITE_OPEN_CREATE)
        env_flags |= DR_OPEN_CREATE;
    if (flags & SQLITE_OPEN_EXCLUSIVE)
        env_flags |= DR_OPEN_EXCL;
    dr_err err;
    if (dr_env_open(vfs->env, name, env_flags, &f->file, &err) != DR_OK) {
        vfs->last_err = err;
        return err.code == DR_EISDIR ? SQLITE_CANTOPEN_ISDIR : SQLITE_CANTOPEN;
    }
    f->path = dr_strdup(name);
    f->delete_on_close = (flags & SQLITE_OPEN_DELETEONCLOSE) != 0;
    const int journal_types = SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_SUPER_JOURNAL |
                              SQLITE_OPEN_WAL;
    f->dirsync_pending = (flags & SQLITE_OPEN_CREATE) && (flags & journal_types);
    f->lock = lock_get(vfs, name);
    f->base.pMethods = &file_methods;
    vfs->open_count++;
    if (out_flags != NULL)
        *out_flags = flags;
    return SQLITE_OK;
}

static int vfs_delete(sqlite3_vfs *base, const char *name, int sync_dir)
{
    vfs_state *vfs = state_of(base);
    if (vfs->detached)
        return SQLITE_IOERR_DELETE;
    dr_err err;
    if (dr_env_unlink(vfs->env, name, &err) != DR_OK) {
        vfs->last_err = err;
        return err.code == DR_ENOENT ? SQLITE_IOERR_DELETE_NOENT : SQLITE_IOERR_DELETE;
    }
    if (sync_dir) {
        char dir[DR_PATH_SIZE_MAX];
        parent_dir(name, dir, sizeof dir);
        if (dr_env_fsync_dir(vfs->env, dir, &err) != DR_OK)
            return io_fail(vfs, &err, SQLITE_IOERR_DIR_FSYNC);
    }
    return SQLITE_OK;
}

/* Like the unix VFS, an empty regular file does not "exist": a zero-length
 * journal left by a crash is not hot. */
static int vfs_access(sqlite3_vfs *base, const char *name, int flags, int *out)
{
    (void)flags; /* no permissions in the env: readable and writable if present */
    vfs_state *vfs = state_of(base);
    if (vfs->detached)
        return SQLITE_IOERR_ACCESS;
    dr_file_stat st;
    dr_err err;
    dr_code rc = dr_env_stat(vfs->env, name, true, &st, &err);
    if (rc == DR_ENOENT) {
        *out = 0;
        return SQLITE_OK;
    }
    if (rc != DR_OK)
        return io_fail(vfs, &err, SQLITE_IOERR_ACCESS);
    *out = st.is_dir || st.size_bytes > 0;
    return SQLITE_OK;
}

/* The env has no working directory: names must already be absolute. */
static int vfs_full_pathname(sqlite3_vfs *base, const char *name, int out_size, char *out)
{
    (void)base;
    if (name[0] != '/')
        return SQLITE_CANTOPEN_FULLPATH;
    if (!dr_strlcpy(out, name, (size_t)out_size))
        return SQLITE_CANTOPEN_FULLPATH;
    return SQLITE_OK;
}

static void *vfs_dlopen(sqlite3_vfs *base, const char *name)
{
    (void)base;
    (void)name;
    return NULL;
}

static void vfs_dlerror(sqlite3_vfs *base, int size, char *out)
{
    (void)base;
    snprintf(out, (size_t)size, "loadable extensions are not supported");
}

static void (*vfs_dlsym(sqlite3_vfs *base, void *handle, const char *symbol))(void)
{
    (void)base;
    (void)handle;
    (void)symbol;
    return NULL;
}

static void vfs_dlclose(sqlite3_vfs *base, void *handle)
{
    (void)base;
    (void)handle;
}

static int vfs_randomness(sqlite3_vfs *base, int size, char *out)
{
    vfs_state *vfs = state_of(base);
    for (int i = 0; i < size; i += 8) {
        uint64_t r = dr_env_random(vfs->env);
        memcpy(out + i, &r, (size_t)DR_MIN(8, size - i));
    }
    return size;
}

/* Never blocks: an env's loop must not stall. Returns at once, claiming the
 * time asked for, so a busy handler gives up after its usual number of tries. */
static int vfs_sleep(sqlite3_vfs *base, int microseconds)
{
    (void)base;
    return microseconds;
}

/* Milliseconds since the Julian epoch (noon, 4714 BC). */
static int vfs_current_time_int64(sqlite3_vfs *base, sqlite3_int64 *out)
{
    const sqlite3_int64 unix_epoch_ms = INT64_C(210866760000000);
    *out = unix_epoch_ms + (sqlite3_int64)(dr_env_wall(state_of(base)->env) / DR_NS_PER_MS);
    return SQLITE_OK;
}

static int vfs_current_time(sqlite3_vfs *base, double *out)
{
    sqlite3_int64 ms = 0;
    vfs_current_time_int64(base, &ms);
    *out = (double)ms / 86400000.0;
    return SQLITE_OK;
}

static int vfs_get_last_error(sqlite3_vfs *base, int size, char *out)
{
    vfs_state *vfs = state_of(base);
    if (size > 0)
        dr_strlcpy(out, vfs->last_err.msg, (size_t)size);
    return (int)vfs->last_err.code;
}

/* ---- public --------------------------------------------------------------------- */

static vfs_state *find_ours(const char *vfs_name)
{
    sqlite3_vfs *base = sqlite3_vfs_find(vfs_name);
    if (base == NULL || base->xOpen != vfs_open)
        return NULL;
    return state_of(base);
}

dr_code dr_sqlite_vfs_register(dr_env *env, const char *vfs_name, dr_err *err)
{
    if (vfs_name[0] == '\0')
        return dr_err_set(err, DR_EINVAL, "sqlite vfs '': the name must not be empty");
    if (sqlite3_initialize() != SQLITE_OK)
        return dr_err_set(err, DR_EINTERNAL, "sqlite vfs '%s': sqlite3_initialize failed",
                          vfs_name);
    if (sqlite3_vfs_find(vfs_name) != NULL)
        return dr_err_set(err, DR_EEXIST, "sqlite vfs '%s': already registered", vfs_name);
    vfs_state *vfs = dr_alloc(sizeof *vfs);
    vfs->env = env;
    vfs->name = dr_strdup(vfs_name);
    vfs->base = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(vfile),
        .mxPathname = (int)DR_PATH_SIZE_MAX - 1,
        .zName = vfs->name,
        .pAppData = vfs,
        .xOpen = vfs_open,
        .xDelete = vfs_delete,
        .xAccess = vfs_access,
        .xFullPathname = vfs_full_pathname,
        .xDlOpen = vfs_dlopen,
        .xDlError = vfs_dlerror,
        .xDlSym = vfs_dlsym,
        .xDlClose = vfs_dlclose,
        .xRandomness = vfs_randomness,
        .xSleep = vfs_sleep,
        .xCurrentTime = vfs_current_time,
        .xGetLastError = vfs_get_last_error,
        .xCurrentTimeInt64 = vfs_current_time_int64,
    };
    if (sqlite3_vfs_register(&vfs->base, 0) != SQLITE_OK) {
        dr_free(vfs->name);
        dr_free(vfs);
        return dr_err_set(err, DR_EINTERNAL, "sqlite vfs '%s': sqlite3_vfs_register failed",
                          vfs_name);
    }
    /* sqlite seeds its one PRNG from the default VFS (the real OS) unless a
     * seed is set; take it from the env so the simulator replays. Nonzero:
     * zero means "no seed". */
    int seed = (int)(dr_env_random(env) & 0x7fffffff) | 1;
    sqlite3_test_control(SQLITE_TESTCTRL_PRNG_SEED, seed, (sqlite3 *)NULL);
    return DR_OK;
}

dr_code dr_sqlite_vfs_unregister(const char *vfs_name, dr_err *err)
{
    vfs_state *vfs = find_ours(vfs_name);
    if (vfs == NULL)
        return dr_err_set(err, DR_ENOENT, "sqlite vfs '%s': not registered", vfs_name);
    if (vfs->open_count > 0)
        return dr_err_set(err, DR_EBUSY, "sqlite vfs '%s': %u files still open", vfs_name,
                          vfs->open_count);
    DR_ASSERT(vfs->lock_count == 0);
    DR_ASSERT(vfs->shm_count == 0);
    sqlite3_vfs_unregister(&vfs->base);
    dr_free(vfs->locks);
    dr_free(vfs->shms);
    dr_free(vfs->name);
    dr_free(vfs);
    return DR_OK;
}

void dr_sqlite_vfs_detach(const char *vfs_name)
{
    vfs_state *vfs = find_ours(vfs_name);
    if (vfs != NULL)
        vfs->detached = true;
}
