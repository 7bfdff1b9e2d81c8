/* tests/unit/sqlite/test_envs.h — two small envs for the sqlite VFS tests.
 *
 * disk_env: an env whose file operations go straight to one dr_sim_disk (with
 * its own rng, fault settings and fault counts), a fixed clock and a seeded
 * random stream. Enough for sqlite; the network, process and host operations
 * are absent (NULL) and must not be called.
 *
 * cut_env: wraps another env and cuts the power at a chosen file operation:
 * from the cut_at-th mutating file operation (write, append, truncate, fsync,
 * fsync_dir, rename, unlink, mkdir, rmdir, symlink, open with CREATE or
 * TRUNC) on, every file operation but close fails with DR_EIO without
 * reaching the inner env, so the inner disk holds exactly what was done
 * before the cut. Counting with cut_at = 0 (never) gives the number of
 * mutating operations a workload makes.
 */
#ifndef DR_TEST_SQLITE_ENVS_H
#define DR_TEST_SQLITE_ENVS_H

#include "sim/disk.h"

typedef struct disk_env {
    dr_env env; /* first */
    dr_sim_disk *disk;
    dr_rng disk_rng;
    dr_rng rng;
    uint64_t seed;
    dr_sim_faults faults;
    dr_sim_disk_hooks hooks;
    uint64_t owner;
    const char *kinds[16];
    uint64_t counts[16];
} disk_env;

disk_env *disk_env_create(uint64_t seed, uint64_t capacity_bytes); /* returns owned */
void disk_env_destroy(disk_env *de);
/* A crash of the whole machine: every handle dies, unsynced state is drawn. */
void disk_env_crash(disk_env *de);
uint64_t disk_env_count(const disk_env *de, const char *kind);

typedef struct cut_env {
    dr_env env; /* first */
    dr_env *inner; /* kept */
    uint64_t cut_at;  /* 1-based; 0: never */
    uint64_t op_count; /* mutating operations seen */
    bool cut;
} cut_env;

void cut_env_init(cut_env *ce, dr_env *inner, uint64_t cut_at);

#endif /* DR_TEST_SQLITE_ENVS_H */
