/* tests/unit/sqlite/test_vfs.c — the sqlite VFS over an env (src/env/sqlite),
 * on disk_env (files on one simulated disk): registration, the file methods
 * one by one, whole databases in rollback and WAL mode, locking between
 * connections, temporary files, the clock, fault mapping (ENOSPC, EIO) and
 * detaching.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "src/env/sqlite/vfs.h"
#include "test_envs.h"

#define CAP (64u * 1024 * 1024)

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, msg != NULL ? msg : sqlite3_errstr(rc));
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static sqlite3 *open_db(const char *path, const char *vfs)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs);
    if (rc != SQLITE_OK)
        fail_msg("open %s: %s", path, sqlite3_errmsg(db));
    return db;
}

static void close_db(sqlite3 *db) { assert_int_equal(sqlite3_close(db), SQLITE_OK); }

static void unregister_ok(const char *name)
{
    dr_err err;
    if (dr_sqlite_vfs_unregister(name, &err) != DR_OK)
        fail_msg("%s", err.msg);
}

static void test_register_errors(void **state)
{
    (void)state;
    disk_env *de = disk_env_create(1, CAP);
    dr_err err;
    assert_int_equal(dr_sqlite_vfs_register(&de->env, "t1", &err), DR_OK);
    assert_int_equal(dr_sqlite_vfs_register(&de->env, "t1", &err), DR_EEXIST);
    assert_string_equal(err.msg, "sqlite vfs 't1': already registered");
    assert_int_equal(dr_sqlite_vfs_register(&de->env, "", &err), DR_EINVAL);
    assert_int_equal(dr_sqlite_vfs_unregister("nope", &err), DR_ENOENT);
    assert_string_equal(err.msg, "sqlite vfs 'nope': not registered");
    /* The unix VFS is not ours to unregister. */
    assert_int_equal(dr_sqlite_vfs_unregister("unix", &err), DR_ENOENT);

    sqlite3 *db = open_db("/tmp/a.db", "t1");
    assert_int_equal(dr_sqlite_vfs_unregister("t1", &err), DR_EBUSY);
    assert_string_equal(err.msg, "sqlite vfs 't1': 1 files still open");
    close_db(db);
    unregister_ok("t1");
    assert_null(sqlite3_vfs_find("t1"));
    disk_env_destroy(de);
}

static void test_file_methods(void **state)
{
    (void)state;
    disk_env *de = disk_env_create(2, CAP);
    dr_err err;
    assert_int_equal(dr_sqlite_vfs_register(&de->env, "t2", &err), DR_OK);
    sqlite3_vfs *vfs = sqlite3_vfs_find("t2");
    assert_non_null(vfs);
    char full[64];
    assert_int_equal(vfs->xFullPathname(vfs, "rel.db", sizeof full, full),
                     SQLITE_CANTOPEN_FULLPATH);
    assert_int_equal(vfs->xFullPathname(vfs, "/tmp/x", sizeof full, full), SQLITE_OK);
    assert_string_equal(full, "/tmp/x");

    sqlite3_file *f = dr_alloc((size_t)vfs->szOsFile);
    int out_flags = 0;
    assert_int_equal(vfs->xOpen(vfs, "/tmp/x", f,
                                SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                    SQLITE_OPEN_MAIN_DB,
                                &out_flags),
                     SQLITE_OK);
    int res = -1;
    assert_int_equal(vfs->xAccess(vfs, "/tmp/x", SQLITE_ACCESS_EXISTS, &res), SQLITE_OK);
    assert_int_equal(res, 0); /* empty: like the unix VFS, not there */
    assert_int_equal(f->pMethods->xWrite(f, "abc", 3, 0), SQLITE_OK);
    assert_int_equal(vfs->xAccess(vfs, "/tmp/x", SQLITE_ACCESS_EXISTS, &res), SQLITE_OK);
    assert_int_equal(res, 1);
    char buf[8];
    memset(buf, 'z', sizeof buf);
    assert_int_equal(f->pMethods->xRead(f, buf, sizeof buf, 0), SQLITE_IOERR_SHORT_READ);
    assert_memory_equal(buf, "abc\0\0\0\0\0", 8); /* the rest zero-filled */
    sqlite3_int64 size = 0;
    assert_int_equal(f->pMethods->xFileSize(f, &size), SQLITE_OK);
    assert_int_equal(size, 3);
    assert_int_equal(f->pMethods->xTruncate(f, 1), SQLITE_OK);
    assert_int_equal(f->pMethods->xFileSize(f, &size), SQLITE_OK);
    assert_int_equal(size, 1);
    assert_int_equal(f->pMethods->xSync(f, SQLITE_SYNC_FULL), SQLITE_OK);
    assert_int_equal(f->pMethods->xDeviceCharacteristics(f), 0);
    assert_int_equal(f->pMethods->iVersion, 2);
    assert_non_null(f->pMethods->xShmMap);

    /* Lock levels within one file. */
    assert_int_equal(f->pMethods->xLock(f, SQLITE_LOCK_SHARED), SQLITE_OK);
    assert_int_equal(f->pMethods->xCheckReservedLock(f, &res), SQLITE_OK);
    assert_int_equal(res, 0);
    assert_int_equal(f->pMethods->xLock(f, SQLITE_LOCK_RESERVED), SQLITE_OK);
    assert_int_equal(f->pMethods->xCheckReservedLock(f, &res), SQLITE_OK);
    assert_int_equal(res, 1);
    assert_int_equal(f->pMethods->xLock(f, SQLITE_LOCK_EXCLUSIVE), SQLITE_OK);
    assert_int_equal(f->pMethods->xUnlock(f, SQLITE_LOCK_NONE), SQLITE_OK);
    assert_int_equal(f->pMethods->xClose(f), SQLITE_OK);

    assert_int_equal(vfs->xDelete(vfs, "/tmp/x", 1), SQLITE_OK);
    assert_int_equal(vfs->xDelete(vfs, "/tmp/x", 0), SQLITE_IOERR_DELETE_NOENT);
    char msg[256];
    vfs->xGetLastError(vfs, sizeof msg, msg);
    assert_string_equal(msg, "unlink '/tmp/x': no such file or directory");
    assert_int_equal(vfs->xOpen(vfs, "/tmp/x", f, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MAIN_DB,
                                &out_flags),
                     SQLITE_CANTOPEN);
    vfs->xGetLastError(vfs, sizeof msg, msg);
    assert_string_equal(msg, "open '/tmp/x': no such file or directory");

    /* Randomness comes from the env; sleeping returns at once. */
    char r1[16] = {0}, zero[16] = {0};
    assert_int_equal(vfs->xRandomness(vfs, sizeof r1, r1), 16);
    assert_memory_not_equal(r1, zero, sizeof r1);
    assert_int_equal(vfs->xSleep(vfs, 1000000), 1000000);
    dr_free(f);
    unregister_ok("t2");
    disk_env_destroy(de);
}

static void check_database(const char *journal_mode)
{
    disk_env *de = disk_env_create(3, CAP);
    dr_err err;
    assert_int_equal(dr_sqlite_vfs_register(&de->env, "t3", &err), DR_OK);
    assert_int_equal(dr_sim_disk_mkdir(de->disk, "/db", &err), DR_OK);
    sqlite3 *db = open_db("/db/main.db", "t3");
    char sql[128];
    snprintf(sql, sizeof sql, "PRAGMA journal_mode=%s", journal_mode);
    exec_ok(db, sql);
    exec_ok(db, "PRAGMA synchronous=FULL");
    exec_ok(db, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
    for (int i = 0; i < 50; i++)
        exec_ok(db, "INSERT INTO t(v) VALUES (randomblob(3000))");
    assert_int_equal(query_int(db, "SELECT count(*) FROM t"), 50);
    /* The clock is the env's wall clock. */
    assert_int_equal(query_int(db, "SELECT CAST(strftime('%s','now') AS INTEGER)"), 1700000000);
    /* A temporary table and a big sort live in memory, not on the disk. */
    exec_ok(db, "CREATE TEMP TABLE tt AS SELECT * FROM t");
    assert_int_equal(query_int(db, "SELECT count(*) FROM (SELECT v FROM tt ORDER BY v)"), 50);
    close_db(db);

    dr_dir_list list;
    assert_int_equal(dr_sim_disk_list_dir(de->disk, "/db", &list, &err), DR_OK);
    assert_int_equal(list.count, 1); /* journal and WAL gone after a clean close */
    assert_string_equal(list.names[0], "main.db");
    dr_dir_list_free(&list);

    db = open_db("/db/main.db", "t3");
    assert_int_equal(query_int(db, "SELECT count(*) FROM t"), 50);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    close_db(db);
    unregister_ok("t3");
    disk_env_destroy(de);
}

static void test_database_delete_mode(void **state)
{
    (void)state;
    check_database("DELETE");
}

static void test_database_wal_mode(void **state)
{
    (void)state;
    check_database("WAL");
}

/* Two connections of one VFS share locks (rollback mode) and shared memory (WAL). */
static void test_two_connections(void **state)
{
    (void)state;
    disk_env *de = disk_env_create(4, CAP);
    dr_err err;
    assert_int_equal(dr_sqlite_vfs_register(&de->env, "t4", &err), DR_OK);

    sqlite3 *a = open_db("/tmp/r.db", "t4");
    sqlite3 *b = open_db("/tmp/r.db", "t4");
    exec_ok(a, "CREATE TABLE t(x)");
    exec_ok(a, "BEGIN IMMEDIATE");
    assert_int_equal(sqlite3_exec(b, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_BUSY);
    exec_ok(a, "INSERT INTO t VALUES (1)");
    /* A reader may still read while a writer holds only RESERVED... */
    assert_int_equal(query_int(b, "SELECT count(*) FROM t"), 0);
    /* ...and holding SHARED keeps the writer from committing. */
    exec_ok(b, "BEGIN");
    assert_int_equal(query_int(b, "SELECT count(*) FROM t"), 0);
    assert_int_equal(sqlite3_exec(a, "COMMIT", NULL, NULL, NULL), SQLITE_BUSY);
    exec_ok(b, "COMMIT");
    exec_ok(a, "COMMIT");
    assert_int_equal(query_int(b, "SELECT count(*) FROM t"), 1);
    close_db(a);
    close_db(b);

    a = open_db("/tmp/w.db", "t4");
    exec_ok(a, "PRAGMA journal_mode=WAL");
    exec_ok(a, "CREATE TABLE t(x)");
    b = open_db("/tmp/w.db", "t4");
    exec_ok(b, "BEGIN");
    assert_int_equal(query_int(b, "SELECT count(*) FROM t"), 0);
    exec_ok(a, "INSERT INTO t VALUES (1)"); /* WAL: a writer does not wait for readers */
    assert_int_equal(query_int(b, "SELECT count(*) FROM t"), 0); /* b's snapshot */
    exec_ok(b, "COMMIT");
    assert_int_equal(query_int(b, "SELECT count(*) FROM t"), 1);
    exec_ok(a, "BEGIN IMMEDIATE");
    assert_int_equal(sqlite3_exec(b, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_BUSY);
    exec_ok(a, "COMMIT");
    close_db(a);
    close_db(b);
    unregister_ok("t4");
    disk_env_destroy(de);
}

static void test_faults_map_to_sqlite_codes(void **state)
{
    (void)state;
    disk_env *de = disk_env_create(5, 256 * 1024);
    dr_err err;
    assert_int_equal(dr_sqlite_vfs_register(&de->env, "t5", &err), DR_OK);
    sqlite3 *db = open_db("/tmp/f.db", "t5");
    exec_ok(db, "CREATE TABLE t(v BLOB)");
    /* Capacity: the disk fills up. */
    int rc = sqlite3_exec(db, "INSERT INTO t VALUES (randomblob(1000000))", NULL, NULL, NULL);
    assert_int_equal(rc, SQLITE_FULL);
    assert_string_equal(sqlite3_errmsg(db), "database or disk is full");
    exec_ok(db, "INSERT INTO t VALUES (randomblob(100))"); /* still usable */

    de->faults.disk_eio_fsync_p = 1.0;
    rc = sqlite3_exec(db, "INSERT INTO t VALUES (1)", NULL, NULL, NULL);
    assert_int_equal(rc, SQLITE_IOERR);
    assert_int_equal(sqlite3_extended_errcode(db), SQLITE_IOERR_FSYNC);
    assert_int_equal(disk_env_count(de, "disk.eio_fsync"), 1);
    de->faults.disk_eio_fsync_p = 0.0;

    de->faults.disk_eio_write_p = 1.0;
    rc = sqlite3_exec(db, "INSERT INTO t VALUES (2)", NULL, NULL, NULL);
    assert_int_equal(rc, SQLITE_IOERR);
    assert_int_equal(sqlite3_extended_errcode(db) & 0xff, SQLITE_IOERR);
    de->faults.disk_eio_write_p = 0.0;

    de->faults.disk_enospc_p = 1.0;
    rc = sqlite3_exec(db, "INSERT INTO t VALUES (3)", NULL, NULL, NULL);
    assert_int_equal(rc, SQLITE_FULL);
    de->faults.disk_enospc_p = 0.0;

    /* None of the failed inserts left a row behind. */
    assert_int_equal(query_int(db, "SELECT count(*) FROM t"), 1);
    close_db(db);

    sqlite3 *rel = NULL;
    rc = sqlite3_open_v2("relative.db", &rel, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "t5");
    assert_int_equal(rc, SQLITE_CANTOPEN);
    sqlite3_close(rel);
    unregister_ok("t5");
    disk_env_destroy(de);
}

/* After detaching, closing a connection mid-transaction frees it and writes nothing. */
static void test_detach(void **state)
{
    (void)state;
    disk_env *de = disk_env_create(6, CAP);
    dr_err err;
    assert_int_equal(dr_sqlite_vfs_register(&de->env, "t6", &err), DR_OK);
    sqlite3 *db = open_db("/tmp/d.db", "t6");
    exec_ok(db, "CREATE TABLE t(v)");
    exec_ok(db, "BEGIN");
    exec_ok(db, "INSERT INTO t VALUES (randomblob(50000))");
    uint64_t used = dr_sim_disk_used_bytes(de->disk);
    dr_sqlite_vfs_detach("t6");
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) & 0xff, SQLITE_IOERR);
    sqlite3_close(db); /* its result does not matter: the memory is freed */
    assert_int_equal(dr_sim_disk_used_bytes(de->disk), used);
    unregister_ok("t6");
    /* The env still holds the handles the VFS left behind: a crash drops them. */
    disk_env_crash(de);
    disk_env_destroy(de);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_errors),
        cmocka_unit_test(test_file_methods),
        cmocka_unit_test(test_database_delete_mode),
        cmocka_unit_test(test_database_wal_mode),
        cmocka_unit_test(test_two_connections),
        cmocka_unit_test(test_faults_map_to_sqlite_codes),
        cmocka_unit_test(test_detach),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
