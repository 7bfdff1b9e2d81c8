/* tests/unit/sqlite/test_vfs_real.c — the sqlite VFS on the real env (real
 * files under a fresh /tmp directory): a database in WAL and in rollback mode
 * is written, closed, reopened and checked, two connections share WAL memory,
 * and nothing is left behind but the database. The simulator cannot check
 * its own assumptions; this checks the VFS against the OS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "src/env/real/real.h"
#include "src/env/sqlite/vfs.h"

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
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

static void check_mode(const char *mode)
{
    dr_env *env = NULL;
    dr_err err;
    assert_int_equal(dr_env_real_create(NULL, &env, &err), DR_OK);
    char dir[] = "/tmp/dromos-sqlite-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(dr_sqlite_vfs_register(env, "real", &err), DR_OK);
    char path[64];
    snprintf(path, sizeof path, "%s/r.db", dir);

    sqlite3 *a = NULL, *b = NULL;
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    assert_int_equal(sqlite3_open_v2(path, &a, flags, "real"), SQLITE_OK);
    char sql[96];
    snprintf(sql, sizeof sql, "PRAGMA journal_mode=%s; PRAGMA synchronous=FULL", mode);
    exec_ok(a, sql);
    exec_ok(a, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
    for (int i = 0; i < 20; i++)
        exec_ok(a, "INSERT INTO t(v) VALUES (randomblob(5000))");
    assert_int_equal(sqlite3_open_v2(path, &b, flags, "real"), SQLITE_OK);
    assert_int_equal(query_int(b, "SELECT count(*) FROM t"), 20);
    assert_int_equal(sqlite3_close(a), SQLITE_OK);
    assert_int_equal(sqlite3_close(b), SQLITE_OK);

    assert_int_equal(sqlite3_open_v2(path, &a, flags, "real"), SQLITE_OK);
    assert_int_equal(query_int(a, "SELECT count(*) FROM t"), 20);
    assert_int_equal(query_int(a, "SELECT length(v) FROM t WHERE k = 7"), 5000);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(a, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_close(a), SQLITE_OK);

    dr_dir_list list;
    assert_int_equal(dr_env_list_dir(env, dir, &list, &err), DR_OK);
    assert_int_equal(list.count, 1);
    assert_string_equal(list.names[0], "r.db");
    dr_dir_list_free(&list);

    assert_int_equal(dr_sqlite_vfs_unregister("real", &err), DR_OK);
    assert_int_equal(dr_env_remove_tree(env, dir, &err), DR_OK);
    dr_env_real_destroy(env);
}

static void test_wal(void **state)
{
    (void)state;
    check_mode("WAL");
}

static void test_delete(void **state)
{
    (void)state;
    check_mode("DELETE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wal),
        cmocka_unit_test(test_delete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
