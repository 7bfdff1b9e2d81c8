/* tests/unit/sqlite/test_envs.c — disk_env and cut_env (see test_envs.h). */
#include "test_envs.h"

#include <stdlib.h>
#include <string.h>

/* ---- disk_env ------------------------------------------------------------------- */

static disk_env *de_of(void *self) { return self; }

static void de_fired(void *ctx, const char *kind)
{
    disk_env *de = ctx;
    for (size_t i = 0; i < DR_ARRAY_COUNT(de->kinds); i++) {
        if (de->kinds[i] == NULL)
            de->kinds[i] = kind;
        if (strcmp(de->kinds[i], kind) == 0) {
            de->counts[i]++;
            return;
        }
    }
    abort(); /* more kinds than the table holds: grow it */
}

uint64_t disk_env_count(const disk_env *de, const char *kind)
{
    for (size_t i = 0; i < DR_ARRAY_COUNT(de->kinds); i++) {
        if (de->kinds[i] != NULL && strcmp(de->kinds[i], kind) == 0)
            return de->counts[i];
    }
    return 0;
}

static uint64_t de_now(void *self) { return DR_NS_PER_S + de_of(self)->seed; }
static uint64_t de_wall(void *self)
{
    (void)self;
    return UINT64_C(1700000000) * DR_NS_PER_S;
}
static uint64_t de_random(void *self) { return dr_rng_next(&de_of(self)->rng); }
static uint64_t de_seed(void *self) { return de_of(self)->seed; }

static dr_code de_open(void *self, const char *path, int flags, dr_file **out, dr_err *err)
{
    disk_env *de = self;
    return dr_sim_disk_open(de->disk, de->owner, path, flags, (dr_sim_file **)out, err);
}
static void de_close(void *self, dr_file *f) { dr_sim_disk_close(de_of(self)->disk, (dr_sim_file *)f); }
static dr_code de_pread(void *self, dr_file *f, uint64_t offset, void *buf, size_t size,
                        size_t *read_size, dr_err *err)
{
    return dr_sim_disk_pread(de_of(self)->disk, (dr_sim_file *)f, offset, buf, size, read_size,
                             err);
}
static dr_code de_pwrite(void *self, dr_file *f, uint64_t offset, const void *data, size_t size,
                         dr_err *err)
{
    return dr_sim_disk_pwrite(de_of(self)->disk, (dr_sim_file *)f, offset, data, size, err);
}
static dr_code de_append(void *self, dr_file *f, const void *data, size_t size, dr_err *err)
{
    return dr_sim_disk_append(de_of(self)->disk, (dr_sim_file *)f, data, size, err);
}
static dr_code de_fsync(void *self, dr_file *f, dr_err *err)
{
    return dr_sim_disk_fsync(de_of(self)->disk, (dr_sim_file *)f, err);
}
static dr_code de_truncate(void *self, dr_file *f, uint64_t size, dr_err *err)
{
    return dr_sim_disk_truncate(de_of(self)->disk, (dr_sim_file *)f, size, err);
}
static dr_code de_file_size(void *self, dr_file *f, uint64_t *size, dr_err *err)
{
    return dr_sim_disk_file_size(de_of(self)->disk, (dr_sim_file *)f, size, err);
}
static dr_code de_lock(void *self, dr_file *f, dr_err *err)
{
    return dr_sim_disk_lock(de_of(self)->disk, (dr_sim_file *)f, err);
}
static dr_code de_rename(void *self, const char *from, const char *to, dr_err *err)
{
    return dr_sim_disk_rename(de_of(self)->disk, from, to, err);
}
static dr_code de_unlink(void *self, const char *path, dr_err *err)
{
    return dr_sim_disk_unlink(de_of(self)->disk, path, err);
}
static dr_code de_mkdir(void *self, const char *path, dr_err *err)
{
    return dr_sim_disk_mkdir(de_of(self)->disk, path, err);
}
static dr_code de_rmdir(void *self, const char *path, dr_err *err)
{
    return dr_sim_disk_rmdir(de_of(self)->disk, path, err);
}
static dr_code de_list_dir(void *self, const char *path, dr_dir_list *out, dr_err *err)
{
    return dr_sim_disk_list_dir(de_of(self)->disk, path, out, err);
}
static dr_code de_fsync_dir(void *self, const char *path, dr_err *err)
{
    return dr_sim_disk_fsync_dir(de_of(self)->disk, path, err);
}
static dr_code de_stat(void *self, const char *path, bool follow, dr_file_stat *out, dr_err *err)
{
    return dr_sim_disk_stat(de_of(self)->disk, path, follow, out, err);
}
static dr_code de_symlink(void *self, const char *target, const char *link_path, dr_err *err)
{
    return dr_sim_disk_symlink(de_of(self)->disk, target, link_path, err);
}
static dr_code de_readlink(void *self, const char *path, char *out, size_t out_size, dr_err *err)
{
    return dr_sim_disk_readlink(de_of(self)->disk, path, out, out_size, err);
}
static const char *de_node_name(void *self)
{
    (void)self;
    return "disk-env";
}
static void de_log(void *self, dr_log_level level, const char *line)
{
    (void)self;
    (void)level;
    (void)line;
}
static dr_log_level de_log_level(void *self)
{
    (void)self;
    return DR_LOG_ERROR;
}
static void de_set_log_level(void *self, dr_log_level level)
{
    (void)self;
    (void)level;
}

static const dr_env_ops disk_env_ops = {
    .now_ns = de_now,
    .wall_ns = de_wall,
    .random_u64 = de_random,
    .seed = de_seed,
    .open = de_open,
    .close = de_close,
    .pread = de_pread,
    .pwrite = de_pwrite,
    .append = de_append,
    .fsync = de_fsync,
    .truncate = de_truncate,
    .file_size = de_file_size,
    .lock = de_lock,
    .rename = de_rename,
    .unlink = de_unlink,
    .mkdir = de_mkdir,
    .rmdir = de_rmdir,
    .list_dir = de_list_dir,
    .fsync_dir = de_fsync_dir,
    .stat = de_stat,
    .symlink = de_symlink,
    .readlink = de_readlink,
    .node_name = de_node_name,
    .log = de_log,
    .log_level = de_log_level,
    .set_log_level = de_set_log_level,
};

disk_env *disk_env_create(uint64_t seed, uint64_t capacity_bytes)
{
    disk_env *de = dr_alloc(sizeof *de);
    de->env = (dr_env){.ops = &disk_env_ops, .self = de};
    de->seed = seed;
    de->owner = 1;
    dr_rng_init(&de->rng, dr_seed_derive(seed, "env"));
    dr_rng_init(&de->disk_rng, dr_seed_derive(seed, "disk"));
    de->hooks = (dr_sim_disk_hooks){
        .rng = &de->disk_rng, .faults = &de->faults, .fired = de_fired, .ctx = de};
    de->disk = dr_sim_disk_create(&de->hooks, capacity_bytes);
    return de;
}

void disk_env_destroy(disk_env *de)
{
    dr_sim_disk_destroy(de->disk);
    dr_free(de);
}

void disk_env_crash(disk_env *de)
{
    dr_sim_disk_crash(de->disk);
    de->owner++; /* a new boot: new processes */
}

/* ---- cut_env --------------------------------------------------------------------- */

static cut_env *ce_of(void *self) { return self; }

/* Counts a mutating operation; true if the power is (now) off. */
static bool ce_cut(cut_env *ce)
{
    if (ce->cut)
        return true;
    ce->op_count++;
    if (ce->cut_at != 0 && ce->op_count >= ce->cut_at)
        ce->cut = true;
    return ce->cut;
}

static dr_code power_off(dr_err *err, const char *op)
{
    return dr_err_set(err, DR_EIO, "%s: input/output error (power cut)", op);
}

static uint64_t ce_now(void *self) { return dr_env_now(ce_of(self)->inner); }
static uint64_t ce_wall(void *self) { return dr_env_wall(ce_of(self)->inner); }
static uint64_t ce_random(void *self) { return dr_env_random(ce_of(self)->inner); }
static uint64_t ce_seed(void *self)
{
    cut_env *ce = self;
    return ce->inner->ops->seed(ce->inner->self);
}
static dr_timer_id ce_timer_add(void *self, uint64_t delay_ns, dr_timer_fn *fn, void *ctx)
{
    /* Callbacks get the inner env: the programs here only use timers to start. */
    return dr_env_timer_add(ce_of(self)->inner, delay_ns, fn, ctx);
}
static void ce_timer_cancel(void *self, dr_timer_id id)
{
    dr_env_timer_cancel(ce_of(self)->inner, id);
}

static dr_code ce_open(void *self, const char *path, int flags, dr_file **out, dr_err *err)
{
    cut_env *ce = self;
    bool mutates = (flags & (DR_OPEN_CREATE | DR_OPEN_TRUNC)) != 0;
    if (ce->cut || (mutates && ce_cut(ce)))
        return power_off(err, "open");
    return dr_env_open(ce->inner, path, flags, out, err);
}
static void ce_close(void *self, dr_file *f) { dr_env_close(ce_of(self)->inner, f); }
static dr_code ce_pread(void *self, dr_file *f, uint64_t offset, void *buf, size_t size,
                        size_t *read_size, dr_err *err)
{
    cut_env *ce = self;
    if (ce->cut)
        return power_off(err, "read");
    return dr_env_pread(ce->inner, f, offset, buf, size, read_size, err);
}
static dr_code ce_pwrite(void *self, dr_file *f, uint64_t offset, const void *data, size_t size,
                         dr_err *err)
{
    cut_env *ce = self;
    if (ce_cut(ce))
        return power_off(err, "write");
    return dr_env_pwrite(ce->inner, f, offset, data, size, err);
}
static dr_code ce_append(void *self, dr_file *f, const void *data, size_t size, dr_err *err)
{
    cut_env *ce = self;
    if (ce_cut(ce))
        return power_off(err, "write");
    return dr_env_append(ce->inner, f, data, size, err);
}
static dr_code ce_fsync(void *self, dr_file *f, dr_err *err)
{
    cut_env *ce = self;
    if (ce_cut(ce))
        return power_off(err, "fsync");
    return dr_env_fsync(ce->inner, f, err);
}
static dr_code ce_truncate(void *self, dr_file *f, uint64_t size, dr_err *err)
{
    cut_env *ce = self;
    if (ce_cut(ce))
        return power_off(err, "truncate");
    return dr_env_truncate(ce->inner, f, size, err);
}
static dr_code ce_file_size(void *self, dr_file *f, uint64_t *size, dr_err *err)
{
    cut_env *ce = self;
    if (ce->cut)
        return power_off(err, "stat");
    return dr_env_file_size(ce->inner, f, size, err);
}
static dr_code ce_lock(void *self, dr_file *f, dr_err *err)
{
    cut_env *ce = self;
    if (ce->cut)
        return power_off(err, "lock");
    return dr_env_lock(ce->inner, f, err);
}
static dr_code ce_rename(void *self, const char *from, const char *to, dr_err *err)
{
    cut_env *ce = self;
    if (ce_cut(ce))
        return power_off(err, "rename");
    return dr_env_rename(ce->inner, from, to, err);
}
static dr_code ce_unlink(void *self, const char *path, dr_err *err)
{
    cut_env *ce = self;
    if (ce_cut(ce))
        return power_off(err, "unlink");
    return dr_env_unlink(ce->inner, path, err);
}
static dr_code ce_mkdir(void *self, const char *path, dr_err *err)
{
    cut_env *ce = self;
    if (ce_cut(ce))
        return power_off(err, "mkdir");
    return dr_env_mkdir(ce->inner, path, err);
}
static dr_code ce_rmdir(void *self, const char *path, dr_err *err)
{
    cut_env *ce = self;
    if (ce_cut(ce))
        return power_off(err, "rmdir");
    return dr_env_rmdir(ce->inner, path, err);
}
static dr_code ce_list_dir(void *self, const char *path, dr_dir_list *out, dr_err *err)
{
    cut_env *ce = self;
    if (ce->cut)
        return power_off(err, "opendir");
    return dr_env_list_dir(ce->inner, path, out, err);
}
static dr_code ce_fsync_dir(void *self, const char *path, dr_err *err)
{
    cut_env *ce = self;
    if (ce_cut(ce))
        return power_off(err, "fsync");
    return dr_env_fsync_dir(ce->inner, path, err);
}
static dr_code ce_stat(void *self, const char *path, bool follow, dr_file_stat *out, dr_err *err)
{
    cut_env *ce = self;
    if (ce->cut)
        return power_off(err, "stat");
    return dr_env_stat(ce->inner, path, follow, out, err);
}
static dr_code ce_symlink(void *self, const char *target, const char *link_path, dr_err *err)
{
    cut_env *ce = self;
    if (ce_cut(ce))
        return power_off(err, "symlink");
    return dr_env_symlink(ce->inner, target, link_path, err);
}
static dr_code ce_readlink(void *self, const char *path, char *out, size_t out_size, dr_err *err)
{
    cut_env *ce = self;
    if (ce->cut)
        return power_off(err, "readlink");
    return dr_env_readlink(ce->inner, path, out, out_size, err);
}
static const char *ce_node_name(void *self) { return dr_env_node_name(ce_of(self)->inner); }
static void ce_log(void *self, dr_log_level level, const char *line)
{
    cut_env *ce = self;
    ce->inner->ops->log(ce->inner->self, level, line);
}
static dr_log_level ce_log_level(void *self) { return dr_env_log_level(ce_of(self)->inner); }
static void ce_set_log_level(void *self, dr_log_level level)
{
    dr_env_set_log_level(ce_of(self)->inner, level);
}

static const dr_env_ops cut_env_ops = {
    .now_ns = ce_now,
    .wall_ns = ce_wall,
    .timer_add = ce_timer_add,
    .timer_cancel = ce_timer_cancel,
    .random_u64 = ce_random,
    .seed = ce_seed,
    .open = ce_open,
    .close = ce_close,
    .pread = ce_pread,
    .pwrite = ce_pwrite,
    .append = ce_append,
    .fsync = ce_fsync,
    .truncate = ce_truncate,
    .file_size = ce_file_size,
    .lock = ce_lock,
    .rename = ce_rename,
    .unlink = ce_unlink,
    .mkdir = ce_mkdir,
    .rmdir = ce_rmdir,
    .list_dir = ce_list_dir,
    .fsync_dir = ce_fsync_dir,
    .stat = ce_stat,
    .symlink = ce_symlink,
    .readlink = ce_readlink,
    .node_name = ce_node_name,
    .log = ce_log,
    .log_level = ce_log_level,
    .set_log_level = ce_set_log_level,
};

void cut_env_init(cut_env *ce, dr_env *inner, uint64_t cut_at)
{
    *ce = (cut_env){.env = {.ops = &cut_env_ops, .self = ce}, .inner = inner, .cut_at = cut_at};
}
