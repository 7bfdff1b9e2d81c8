/* sim/disk.h — a simulated host's disk: a file system with a page cache.
 *
 * The contract between sim/env.c (which forwards every env file operation of a
 * process to its host's disk) and sim/disk.c (which owns files, directories,
 * the page cache and disk faults).
 *
 * Model:
 * - Paths are absolute ("/var/lib/x"); the disk starts with "/" and "/tmp".
 * - File data is kept per inode as a durable image plus dirty 4 KiB pages.
 *   Writes go to the page cache; fsync makes the file's pages (and its size)
 *   durable. Directory changes (create, rename, unlink, mkdir, rmdir, symlink)
 *   are durable once fsync_dir of the directory, or fsync of a file in it,
 *   commits them; uncommitted ones form an ordered journal of which a host
 *   crash keeps a random prefix (as a journaling file system would).
 * - On a host crash (dr_sim_disk_crash) each dirty page is kept, dropped or
 *   torn (per 512-byte sector: some new, some old), drawn from the disk's rng
 *   with the probabilities of dr_sim_faults; counts go to the fault counter.
 * - A process crash does not touch the disk: the page cache survives it.
 * - Faults per call: EIO on write, EIO on fsync (after a failed fsync the
 *   file's dirty pages stay undurable and a crash may drop them), ENOSPC on
 *   write; also a hard capacity (bytes) that gives ENOSPC when full.
 * - Every function follows env.h's contract for the same operation.
 * - Iteration is by path order (sorted), never by address.
 */
#ifndef DR_SIM_DISK_H
#define DR_SIM_DISK_H

#include "sim.h"

typedef struct dr_sim_disk dr_sim_disk;
typedef struct dr_sim_file dr_sim_file; /* an open handle */

/* Fault hooks the disk calls: draws come from rng (the disk's own stream);
 * each fault that fires is reported through fired(kind) (which counts and
 * traces it). The struct is kept. */
typedef struct dr_sim_disk_hooks {
    dr_rng *rng;
    const dr_sim_faults *faults; /* read at each call: changes take effect at once */
    void (*fired)(void *ctx, const char *kind);
    void *ctx;
} dr_sim_disk_hooks;

dr_sim_disk *dr_sim_disk_create(const dr_sim_disk_hooks *hooks, uint64_t capacity_bytes);
void dr_sim_disk_destroy(dr_sim_disk *disk);

/* Host crash: applies the crash model to every dirty page and uncommitted
 * directory change; all open handles become invalid (the caller has dropped
 * its processes; it must not use them after this). */
void dr_sim_disk_crash(dr_sim_disk *disk);

/* Space in use (bytes of file data, current view). */
uint64_t dr_sim_disk_used_bytes(const dr_sim_disk *disk);
uint64_t dr_sim_disk_capacity_bytes(const dr_sim_disk *disk);

/* File operations; owner identifies the process (for locks). */
dr_code dr_sim_disk_open(dr_sim_disk *disk, uint64_t owner, const char *path, int flags,
                         dr_sim_file **out, dr_err *err);
void dr_sim_disk_close(dr_sim_disk *disk, dr_sim_file *file); /* releases its lock */
dr_code dr_sim_disk_pread(dr_sim_disk *disk, dr_sim_file *file, uint64_t offset, void *buf,
                          size_t size, size_t *read_size, dr_err *err);
dr_code dr_sim_disk_pwrite(dr_sim_disk *disk, dr_sim_file *file, uint64_t offset,
                           const void *data, size_t size, dr_err *err);
dr_code dr_sim_disk_append(dr_sim_disk *disk, dr_sim_file *file, const void *data, size_t size,
                           dr_err *err);
dr_code dr_sim_disk_fsync(dr_sim_disk *disk, dr_sim_file *file, dr_err *err);
dr_code dr_sim_disk_truncate(dr_sim_disk *disk, dr_sim_file *file, uint64_t size, dr_err *err);
dr_code dr_sim_disk_file_size(dr_sim_disk *disk, dr_sim_file *file, uint64_t *size, dr_err *err);
dr_code dr_sim_disk_lock(dr_sim_disk *disk, dr_sim_file *file, dr_err *err);
dr_code dr_sim_disk_rename(dr_sim_disk *disk, const char *from, const char *to, dr_err *err);
dr_code dr_sim_disk_unlink(dr_sim_disk *disk, const char *path, dr_err *err);
dr_code dr_sim_disk_mkdir(dr_sim_disk *disk, const char *path, dr_err *err);
dr_code dr_sim_disk_rmdir(dr_sim_disk *disk, const char *path, dr_err *err);
dr_code dr_sim_disk_list_dir(dr_sim_disk *disk, const char *path, dr_dir_list *out, dr_err *err);
dr_code dr_sim_disk_fsync_dir(dr_sim_disk *disk, const char *path, dr_err *err);
dr_code dr_sim_disk_stat(dr_sim_disk *disk, const char *path, bool follow_links,
                         dr_file_stat *out, dr_err *err);
dr_code dr_sim_disk_symlink(dr_sim_disk *disk, const char *target, const char *link_path,
                            dr_err *err);
dr_code dr_sim_disk_readlink(dr_sim_disk *disk, const char *path, char *out, size_t out_size,
                             dr_err *err);

/* Sets the mtime stamped on writes (the host's wall clock, set by sim/env.c
 * before each call). */
void dr_sim_disk_set_time(dr_sim_disk *disk, uint64_t wall_ns);

#endif /* DR_SIM_DISK_H */
