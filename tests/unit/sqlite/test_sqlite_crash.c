/* tests/unit/sqlite/test_sqlite_crash.c — sqlite through the VFS survives
 * host crashes on the simulator, in WAL and rollback-journal mode.
 *
 * A writer program (one simulated process) opens a database through the VFS
 * and commits one transaction per millisecond, each inserting the row
 * (seq, payload) with a payload of a few hundred to several thousand bytes
 * derived from seq. After each COMMIT that returns OK it records `committed`.
 *
 * Crash points: the writer's env is wrapped in a cut_env (test_envs.h) that
 * cuts the power at its N-th mutating file operation: from then on nothing
 * reaches the disk and every file operation fails. A dry run counts the
 * operations of the whole workload; then, for crash points spread over that
 * count (each with its own seed), the test crashes the host (unsynced pages
 * kept, dropped or torn; a random prefix of uncommitted directory changes
 * kept), restarts it, and a checker program reopens the database. Required:
 * the rows are exactly 1..n with committed <= n <= committed + 1 (the one
 * transaction in flight may or may not have become durable), every payload is
 * intact, and PRAGMA integrity_check says "ok". A run with no power cut
 * crashes after the last commit and must find every row.
 *
 * Rollback-journal mode runs with synchronous=EXTRA: with FULL, sqlite does
 * not fsync the directory after deleting the journal at commit, so a crash
 * right after a commit may resurrect the journal and roll the commit back
 * (the sqlite documentation says so); test_delete_full_loses_last_commit shows
 * the simulator finds exactly that.
 *
 * Two more sweeps add injected EIO (write, fsync) and ENOSPC while the writer
 * runs: after a failed transaction it rolls back and goes on from the highest
 * row it can read, so sqlite's error paths run with the power still on; the
 * rows must then be 1..n with committed <= n <= the highest seq tried.
 *
 * The test fails if the crashes caused no dropped or no torn pages (or the
 * fault sweeps no injected fault): a crash test whose crashes lose nothing
 * proves nothing. test_replays runs one point twice: same trace hash.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "sim/sim.h"
#include "src/env/sqlite/vfs.h"
#include "test_envs.h"

#define DB_DIR "/data"
#define DB_PATH "/data/crash.db"
#define TXN_COUNT 40
#define POINT_COUNT 200

/* A unique VFS name per process incarnation (sqlite's registry is global). */
static uint64_t vfs_serial;

/* ---- the writer ------------------------------------------------------------------- */

typedef struct writer {
    cut_env cut;
    char vfs_name[32];
    sqlite3 *db;
    uint64_t txn_target;
    uint64_t committed; /* last seq whose COMMIT returned OK */
    uint64_t attempted; /* highest seq tried */
    uint64_t next_seq;
    uint64_t try_count;
    uint64_t error_count; /* failed transactions (injected faults, the cut) */
    bool stopped;         /* gave up: the power is off, or too many errors */
    char error[256];
} writer;

static int exec(sqlite3 *db, const char *sql, char *error, size_t error_size)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK && error != NULL) {
        char *text = dr_sprintf("%s: %s", sql, msg != NULL ? msg : sqlite3_errstr(rc));
        dr_strlcpy(error, text, error_size); /* cut to fit: only a message */
        dr_free(text);
    }
    sqlite3_free(msg);
    return rc;
}

/* After a failed transaction with the power still on (an injected EIO or
 * ENOSPC): roll back and go on from what the database now holds. */
static void writer_recover(writer *w)
{
    w->error_count++;
    (void)exec(w->db, "ROLLBACK", NULL, 0); /* fails if sqlite already rolled back */
    if (w->cut.cut) {
        w->stopped = true;
        return;
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(w->db, "SELECT coalesce(max(seq), 0) FROM t", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        w->next_seq = (uint64_t)sqlite3_column_int64(st, 0) + 1;
    sqlite3_finalize(st);
    /* A reader that fails too is retried on the next tick. */
}

static void writer_txn(dr_env *env, void *ctx)
{
    (void)env; /* the sim's env, not the cut one: use w->cut.env */
    writer *w = ctx;
    uint64_t seq = w->next_seq;
    w->attempted = DR_MAX(w->attempted, seq);
    w->try_count++;
    /* 300..8000 bytes: from part of a page to overflow chains. */
    uint64_t size = 300 + dr_env_random(&w->cut.env) % 7700;
    char sql[256];
    snprintf(sql, sizeof sql,
             "BEGIN; INSERT INTO t(seq, len, payload) VALUES (%" PRIu64 ", %" PRIu64
             ", printf('%%.*c', %" PRIu64 ", char(65 + %" PRIu64 " %% 26))); COMMIT;",
             seq, size, size, seq);
    if (exec(w->db, sql, w->error, sizeof w->error) == SQLITE_OK) {
        w->committed = seq;
        w->next_seq = seq + 1;
    } else {
        writer_recover(w);
    }
    if (w->stopped || w->next_seq > w->txn_target || w->try_count >= 3 * w->txn_target)
        return;
    dr_env_timer_add(&w->cut.env, DR_NS_PER_MS, writer_txn, w);
}

/* Creates the directory, opens the database and its schema. On failure w->db
 * is closed again and w->error says why. */
static bool writer_setup(writer *w, const char *journal_mode, const char *synchronous)
{
    dr_err err;
    dr_file_stat st;
    if (dr_env_stat(&w->cut.env, DB_DIR, true, &st, &err) != DR_OK &&
        dr_env_mkdir(&w->cut.env, DB_DIR, &err) != DR_OK) {
        snprintf(w->error, sizeof w->error, "%s", err.msg);
        return false;
    }
    int rc = sqlite3_open_v2(DB_PATH, &w->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                             w->vfs_name);
    if (rc != SQLITE_OK) {
        snprintf(w->error, sizeof w->error, "open: %s", sqlite3_errmsg(w->db));
    } else {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "PRAGMA journal_mode=%s; PRAGMA synchronous=%s; PRAGMA wal_autocheckpoint=8;"
                 "PRAGMA cache_size=8; CREATE TABLE IF NOT EXISTS "
                 "t(seq INTEGER PRIMARY KEY, len INTEGER, payload TEXT);",
                 journal_mode, synchronous);
        if (exec(w->db, sql, w->error, sizeof w->error) == SQLITE_OK)
            return true;
        (void)exec(w->db, "ROLLBACK", NULL, 0); /* fails if nothing is open */
    }
    sqlite3_close(w->db);
    w->db = NULL;
    return false;
}

/* argv: sqlite_writer <journal mode> <synchronous> <cut_at> <txn count> */
static void *writer_start(dr_env *env, int argc, char **argv)
{
    DR_ASSERT(argc == 5);
    writer *w = dr_alloc(sizeof *w);
    cut_env_init(&w->cut, env, strtoull(argv[3], NULL, 10));
    w->txn_target = strtoull(argv[4], NULL, 10);
    w->next_seq = 1;
    snprintf(w->vfs_name, sizeof w->vfs_name, "crash-w%" PRIu64, ++vfs_serial);
    dr_err err;
    if (dr_sqlite_vfs_register(&w->cut.env, w->vfs_name, &err) != DR_OK)
        fail_msg("%s", err.msg);
    /* Injected faults may fail the setup too: try a few times, unless cut off. */
    for (int attempt = 0; attempt < 5 && !w->cut.cut; attempt++) {
        if (writer_setup(w, argv[1], argv[2])) {
            dr_env_timer_add(&w->cut.env, DR_NS_PER_MS, writer_txn, w);
            return w;
        }
        w->error_count++;
    }
    w->stopped = true;
    return w;
}

static void writer_free(writer *w)
{
    sqlite3_close(w->db); /* NULL is a no-op */
    dr_err err;
    if (w->vfs_name[0] != '\0' && dr_sqlite_vfs_unregister(w->vfs_name, &err) != DR_OK)
        fail_msg("%s", err.msg);
    dr_free(w);
}

/* The process's memory is gone: nothing more may reach the disk. */
static void writer_crash(void *state)
{
    writer *w = state;
    dr_sqlite_vfs_detach(w->vfs_name);
    writer_free(w);
}

static const dr_sim_program writer_program = {
    .name = "sqlite_writer",
    .start = writer_start,
    .crash = writer_crash,
    .stop = NULL,
};

/* ---- the checker -------------------------------------------------------------------- */

typedef struct checker {
    char vfs_name[32];
    bool table_missing;
    int64_t row_count;
    int64_t seq_min;
    int64_t seq_max;
    int64_t bad_payload_count;
    char integrity[256];
    char error[256];
} checker;

static bool query_row(sqlite3 *db, const char *sql, int64_t *out, size_t out_count,
                      char *error, size_t error_size)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        snprintf(error, error_size, "%s: %s", sql, sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return false;
    }
    for (size_t i = 0; i < out_count; i++)
        out[i] = sqlite3_column_int64(st, (int)i);
    sqlite3_finalize(st);
    return true;
}

static void checker_run(checker *c, dr_env *env)
{
    snprintf(c->vfs_name, sizeof c->vfs_name, "crash-c%" PRIu64, ++vfs_serial);
    dr_err err;
    if (dr_sqlite_vfs_register(env, c->vfs_name, &err) != DR_OK) {
        snprintf(c->error, sizeof c->error, "%s", err.msg);
        c->vfs_name[0] = '\0';
        return;
    }
    /* The directory itself may be lost if nothing ever committed it. */
    dr_file_stat dir_st;
    if (dr_env_stat(env, DB_DIR, true, &dir_st, &err) != DR_OK &&
        dr_env_mkdir(env, DB_DIR, &err) != DR_OK) {
        snprintf(c->error, sizeof c->error, "%s", err.msg);
        return;
    }
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(DB_PATH, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        c->vfs_name) != SQLITE_OK) {
        snprintf(c->error, sizeof c->error, "open: %s", sqlite3_errmsg(db));
        sqlite3_close(db);
        return;
    }
    int64_t exists = 0;
    if (!query_row(db, "SELECT count(*) FROM sqlite_schema WHERE name = 't'", &exists, 1,
                   c->error, sizeof c->error))
        goto done;
    if (exists == 0) {
        c->table_missing = true;
    } else {
        int64_t v[3];
        if (!query_row(db, "SELECT count(*), coalesce(min(seq), 0), coalesce(max(seq), 0) FROM t",
                       v, 3, c->error, sizeof c->error))
            goto done;
        c->row_count = v[0];
        c->seq_min = v[1];
        c->seq_max = v[2];
        if (!query_row(db,
                       "SELECT count(*) FROM t WHERE length(payload) != len OR "
                       "payload != printf('%.*c', len, char(65 + seq % 26))",
                       &c->bad_payload_count, 1, c->error, sizeof c->error))
            goto done;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        snprintf(c->integrity, sizeof c->integrity, "%s", (const char *)sqlite3_column_text(st, 0));
    else
        snprintf(c->error, sizeof c->error, "integrity_check: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
done:
    sqlite3_close(db);
}

static void *checker_start(dr_env *env, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    checker *c = dr_alloc(sizeof *c);
    checker_run(c, env);
    return c;
}

static void checker_free(void *state)
{
    checker *c = state;
    dr_err err;
    if (c->vfs_name[0] != '\0' && dr_sqlite_vfs_unregister(c->vfs_name, &err) != DR_OK)
        fail_msg("%s", err.msg);
    dr_free(c);
}

static const dr_sim_program checker_program = {
    .name = "sqlite_checker",
    .start = checker_start,
    .crash = checker_free,
    .stop = checker_free,
};

/* ---- one crash point --------------------------------------------------------------- */

typedef struct point_result {
    uint64_t op_count;  /* mutating file operations the writer made */
    uint64_t committed;
    uint64_t attempted;
    checker check;
    uint64_t drop_count; /* disk.crash_drop in this run */
    uint64_t torn_count;
    uint64_t journal_drop_count;
    uint64_t trace_hash;
    uint64_t io_fault_count; /* EIO and ENOSPC injected while the writer ran */
} point_result;

static uint64_t fault_count(const dr_sim *sim, const char *kind)
{
    dr_sim_fault_count counts[64];
    size_t n = dr_sim_fault_counts(sim, counts, DR_ARRAY_COUNT(counts));
    for (size_t i = 0; i < n && i < DR_ARRAY_COUNT(counts); i++) {
        if (strcmp(counts[i].kind, kind) == 0)
            return counts[i].count;
    }
    return 0;
}

/* io_fault_p: the chance of EIO per write and per fsync, and half that of
 * ENOSPC per write, while the writer runs. */
static void run_point(uint64_t seed, const char *mode, const char *sync, uint64_t cut_at,
                      double io_fault_p, point_result *out)
{
    dr_sim_opts opts = {.seed = seed};
    opts.faults.disk_crash_keep_p = 0.3;
    opts.faults.disk_crash_drop_p = 0.3; /* the other 0.4 torn */
    opts.faults.disk_eio_write_p = io_fault_p;
    opts.faults.disk_eio_fsync_p = io_fault_p;
    opts.faults.disk_enospc_p = io_fault_p / 2;
    dr_sim *sim = dr_sim_create(&opts);
    dr_sim_register_program(sim, &writer_program);
    dr_sim_register_program(sim, &checker_program);
    dr_sim_host_id host = dr_sim_host_add(sim, "db1");

    char cut_text[32], count_text[32];
    snprintf(cut_text, sizeof cut_text, "%" PRIu64, cut_at);
    snprintf(count_text, sizeof count_text, "%d", TXN_COUNT);
    const char *argv[] = {"sqlite_writer", mode, sync, cut_text, count_text, NULL};
    dr_err err;
    dr_pid pid = dr_sim_process_start(sim, host, argv, &err);
    if (pid == 0)
        fail_msg("start writer: %s", err.msg);
    dr_sim_run_until(sim, dr_sim_now(sim) + (3 * TXN_COUNT + 10) * DR_NS_PER_MS);
    writer *w = dr_sim_process_state(sim, pid);
    assert_non_null(w);
    if (cut_at == 0 && io_fault_p == 0 && w->error_count + w->stopped > 0)
        fail_msg("writer without faults failed: %s", w->error);
    /* The writer is done: cut off, finished, or out of tries. */
    assert_true(w->stopped || w->next_seq > TXN_COUNT || w->try_count == 3 * TXN_COUNT);
    out->io_fault_count = fault_count(sim, "disk.eio_write") + fault_count(sim, "disk.eio_fsync") +
                          fault_count(sim, "disk.enospc");
    out->op_count = w->cut.op_count;
    out->committed = w->committed;
    out->attempted = w->attempted;

    /* The checker reads without injected faults: only the crash may hurt. */
    dr_sim_faults crash_only = opts.faults;
    crash_only.disk_eio_write_p = 0;
    crash_only.disk_eio_fsync_p = 0;
    crash_only.disk_enospc_p = 0;
    dr_sim_set_faults(sim, &crash_only);
    dr_sim_host_crash(sim, host);
    dr_sim_host_restart(sim, host);
    const char *check_argv[] = {"sqlite_checker", NULL};
    dr_pid check_pid = dr_sim_process_start(sim, host, check_argv, &err);
    if (check_pid == 0)
        fail_msg("start checker: %s", err.msg);
    checker *c = dr_sim_process_state(sim, check_pid);
    assert_non_null(c);
    out->check = *c;
    out->drop_count = fault_count(sim, "disk.crash_drop");
    out->torn_count = fault_count(sim, "disk.crash_torn");
    out->journal_drop_count = fault_count(sim, "disk.crash_journal_drop");
    dr_sim_process_stop(sim, check_pid);
    out->trace_hash = dr_sim_trace_hash(sim);
    dr_sim_destroy(sim);
}

typedef enum verdict { V_OK, V_LOST_LAST_COMMIT, V_BAD } verdict;

static bool point_ok(const point_result *r, const char *what);

/* Like point_ok, but tells apart the one loss synchronous=FULL permits in
 * rollback mode: the last committed transaction rolled back, all else intact. */
static verdict point_verdict(const point_result *r, const char *what)
{
    const checker *c = &r->check;
    if (r->committed > 0 && c->error[0] == '\0' && strcmp(c->integrity, "ok") == 0 &&
        !c->table_missing && c->row_count == (int64_t)r->committed - 1 &&
        c->seq_max == c->row_count && (c->row_count == 0 || c->seq_min == 1) &&
        c->bad_payload_count == 0)
        return V_LOST_LAST_COMMIT;
    return point_ok(r, what) ? V_OK : V_BAD;
}

/* The database after the crash holds exactly the rows 1..n, committed <= n <=
 * attempted, intact. Returns false (printing why) otherwise. */
static bool point_ok(const point_result *r, const char *what)
{
    const checker *c = &r->check;
    int64_t lo = (int64_t)r->committed, hi = (int64_t)r->attempted;
    if (c->error[0] != '\0') {
        print_error("%s: %s\n", what, c->error);
        return false;
    }
    if (strcmp(c->integrity, "ok") != 0) {
        print_error("%s: integrity_check: %s\n", what, c->integrity);
        return false;
    }
    if (c->table_missing) {
        if (lo == 0)
            return true; /* nothing was committed yet; the schema itself may be lost */
        print_error("%s: table lost after %" PRId64 " commits\n", what, lo);
        return false;
    }
    if (c->row_count != c->seq_max || (c->row_count > 0 && c->seq_min != 1)) {
        print_error("%s: rows not 1..n: count %" PRId64 ", min %" PRId64 ", max %" PRId64 "\n",
                    what, c->row_count, c->seq_min, c->seq_max);
        return false;
    }
    if (c->row_count < lo || c->row_count > DR_MAX(lo, hi)) {
        print_error("%s: %" PRId64 " rows, but %" PRId64 " committed and %" PRId64
                    " attempted\n",
                    what, c->row_count, lo, hi);
        return false;
    }
    if (c->bad_payload_count != 0) {
        print_error("%s: %" PRId64 " damaged payloads\n", what, c->bad_payload_count);
        return false;
    }
    return true;
}

typedef struct sweep_totals {
    uint64_t drop_count;
    uint64_t torn_count;
    uint64_t journal_drop_count;
    uint64_t lost_in_flight_count; /* crashes where the in-flight txn vanished */
    uint64_t kept_in_flight_count; /* ... or became durable */
    uint64_t failed_count;         /* V_BAD */
    uint64_t lost_commit_count;    /* V_LOST_LAST_COMMIT */
    uint64_t io_fault_count;
} sweep_totals;

static void tally(sweep_totals *t, const point_result *r, const char *what)
{
    switch (point_verdict(r, what)) {
    case V_OK:
        break;
    case V_LOST_LAST_COMMIT:
        t->lost_commit_count++;
        break;
    case V_BAD:
        t->failed_count++;
        break;
    }
    t->drop_count += r->drop_count;
    t->torn_count += r->torn_count;
    t->journal_drop_count += r->journal_drop_count;
    t->io_fault_count += r->io_fault_count;
    if (r->attempted > r->committed) {
        if (r->check.row_count > (int64_t)r->committed)
            t->kept_in_flight_count++;
        else
            t->lost_in_flight_count++;
    }
}

static void sweep(const char *mode, const char *sync, uint64_t seed_base, double io_fault_p,
                  sweep_totals *t)
{
    /* Dry run: no cut, crash after the last commit; everything must be there
     * (it counts as one more crash point). */
    *t = (sweep_totals){0};
    point_result dry;
    run_point(seed_base, mode, sync, 0, 0.0, &dry);
    assert_int_equal(dry.committed, TXN_COUNT);
    assert_int_equal(dry.attempted, TXN_COUNT);
    char dry_what[64];
    snprintf(dry_what, sizeof dry_what, "%s/%s no power cut", mode, sync);
    tally(t, &dry, dry_what);
    uint64_t op_total = dry.op_count;
    assert_true(op_total > TXN_COUNT); /* several operations per transaction */

    for (uint64_t i = 0; i < POINT_COUNT; i++) {
        /* With I/O faults, every other run has no cut: crash after the writer is done. */
        uint64_t cut_at = 1 + i * op_total / POINT_COUNT;
        if (io_fault_p > 0 && i % 2 == 1)
            cut_at = 0;
        point_result r;
        run_point(seed_base + 1 + i, mode, sync, cut_at, io_fault_p, &r);
        char what[96];
        snprintf(what, sizeof what, "%s/%s cut at %" PRIu64 "/%" PRIu64 " (seed %" PRIu64 ")",
                 mode, sync, cut_at, op_total, seed_base + 1 + i);
        tally(t, &r, what);
    }
    print_message("%s/%s%s: %d crash points over %" PRIu64 " file operations: pages dropped %" PRIu64
                  ", torn %" PRIu64 ", journal entries dropped %" PRIu64
                  "; in-flight commit kept %" PRIu64 ", lost %" PRIu64
                  "; acknowledged commit lost %" PRIu64 ", other failures %" PRIu64
                  "; EIO/ENOSPC injected %" PRIu64 "\n",
                  mode, sync, io_fault_p > 0 ? " with I/O faults" : "", POINT_COUNT, op_total, t->drop_count, t->torn_count,
                  t->journal_drop_count, t->kept_in_flight_count, t->lost_in_flight_count,
                  t->lost_commit_count, t->failed_count, t->io_fault_count);
}

static void check_sweep(const char *mode, const char *sync, uint64_t seed_base,
                        double io_fault_p)
{
    sweep_totals t;
    sweep(mode, sync, seed_base, io_fault_p, &t);
    if (io_fault_p > 0)
        assert_true(t.io_fault_count > 0);
    assert_int_equal(t.failed_count, 0);
    assert_int_equal(t.lost_commit_count, 0);
    /* The crashes must have hurt: otherwise this test proves nothing. */
    assert_true(t.drop_count > 0);
    assert_true(t.torn_count > 0);
}

static void test_wal_full(void **state)
{
    (void)state;
    check_sweep("WAL", "FULL", 1000, 0.0);
}

static void test_delete_extra(void **state)
{
    (void)state;
    check_sweep("DELETE", "EXTRA", 2000, 0.0);
}

/* With synchronous=FULL in rollback mode the journal's deletion is not made
 * durable, so some crash after a commit rolls that commit back: the simulated
 * disk must be strict enough to show it. */
static void test_delete_full_loses_last_commit(void **state)
{
    (void)state;
    sweep_totals t;
    sweep("DELETE", "FULL", 3000, 0.0, &t);
    assert_int_equal(t.failed_count, 0); /* nothing worse than that */
    assert_true(t.lost_commit_count > 0);
}

/* Injected EIO and ENOSPC while the writer runs (it rolls back and goes on),
 * then the crash: still every acknowledged commit and nothing else. */
static void test_wal_io_faults(void **state)
{
    (void)state;
    check_sweep("WAL", "FULL", 4000, 0.02);
}

static void test_delete_io_faults(void **state)
{
    (void)state;
    check_sweep("DELETE", "EXTRA", 5000, 0.02);
}

/* One seed, one outcome: the same crash point twice gives the same trace
 * hash and the same database (sqlite's PRNG is seeded from the env). */
static void test_replays(void **state)
{
    (void)state;
    for (int with_faults = 0; with_faults <= 1; with_faults++) {
        double p = with_faults ? 0.02 : 0.0;
        point_result a, b, c;
        run_point(77, "WAL", "FULL", 200, p, &a);
        run_point(77, "WAL", "FULL", 200, p, &b);
        assert_true(a.committed > 0);
        if (!with_faults)
            assert_true(a.drop_count + a.torn_count > 0);
        assert_int_equal(a.trace_hash, b.trace_hash);
        assert_int_equal(a.committed, b.committed);
        assert_int_equal(a.check.row_count, b.check.row_count);
        assert_int_equal(a.drop_count, b.drop_count);
        assert_int_equal(a.torn_count, b.torn_count);
        assert_int_equal(a.io_fault_count, b.io_fault_count);
        run_point(78, "WAL", "FULL", 200, p, &c);
        assert_int_not_equal(a.trace_hash, c.trace_hash); /* the hash does see the seed */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wal_full),
        cmocka_unit_test(test_delete_extra),
        cmocka_unit_test(test_delete_full_loses_last_commit),
        cmocka_unit_test(test_wal_io_faults),
        cmocka_unit_test(test_delete_io_faults),
        cmocka_unit_test(test_replays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
