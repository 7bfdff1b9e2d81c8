/* src/env/sqlite/vfs.h — a sqlite3 VFS over a dr_env, so sqlite runs the same
 * on real files and on the simulator's disk.
 *
 * Files go through the env's file operations, the clock through dr_env_wall,
 * randomness through dr_env_random; xSleep returns at once (nothing may block
 * an env's loop). Locks (the five levels) and WAL shared memory live in the
 * VFS's own memory, keyed by path and shared by every connection opened
 * through the same VFS: all of them live in one process of one env, so WAL
 * mode works without OS locks or mmap. Temporary files are in memory.
 *
 * The device promises nothing (xDeviceCharacteristics is 0): the simulator
 * tears pages per 512-byte sector, so neither atomic nor power-safe writes may
 * be assumed. A new journal or WAL has its directory fsynced on its first
 * sync, as the unix VFS does; rollback-journal durability across a crash right
 * after commit needs PRAGMA synchronous=EXTRA (sqlite then fsyncs the directory
 * after deleting the journal).
 *
 * Errors: ENOSPC maps to SQLITE_FULL, every other env failure to the matching
 * SQLITE_IOERR_* code; the env's message is kept for xGetLastError.
 *
 * Usage:
 *     dr_sqlite_vfs_register(env, "node1", &err);
 *     sqlite3_open_v2("/var/lib/dromos/registry.db", &db,
 *                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "node1");
 */
#ifndef DR_ENV_SQLITE_VFS_H
#define DR_ENV_SQLITE_VFS_H

#include "src/env/env.h"

/* Registers a VFS named vfs_name (copied) over env (kept: it must outlive the
 * VFS). Paths given to sqlite must be absolute. Also reseeds sqlite's
 * process-wide PRNG from dr_env_random(env), so WAL salts and temp names
 * replay under the simulator. Errors: DR_EEXIST if the name is taken,
 * DR_EINVAL for an empty name. */
dr_code dr_sqlite_vfs_register(dr_env *env, const char *vfs_name, dr_err *err) DR_MUST_USE;

/* Unregisters and frees the VFS. Every connection using it must be closed
 * first: DR_EBUSY (and nothing changes) while files are open; DR_ENOENT if no
 * VFS of ours has that name. */
dr_code dr_sqlite_vfs_unregister(const char *vfs_name, dr_err *err) DR_MUST_USE;

/* Cuts the VFS off from its env, for a simulated crash of the process that
 * owns it: from now on every file operation fails with an SQLITE_IOERR_* code
 * without reaching the env, and closing only frees memory, so the caller can
 * sqlite3_close its connections (freeing them) while nothing more reaches the
 * disk. The env's own file handles are left to the env, which drops them with
 * the process. Unknown names are ignored. */
void dr_sqlite_vfs_detach(const char *vfs_name);

#endif /* DR_ENV_SQLITE_VFS_H */
