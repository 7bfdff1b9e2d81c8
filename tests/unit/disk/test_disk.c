/* tests/unit/disk/test_disk.c — the simulated disk (sim/disk.c), driven
 * directly with its own rng and fault settings: the page cache and fsync,
 * the crash model (kept, dropped, torn pages; journal prefixes), injected
 * EIO/ENOSPC, capacity, locks, listings, symlinks and error texts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sim/disk.h"

typedef struct harness {
    dr_rng rng;
    dr_sim_faults faults;
    dr_sim_disk_hooks hooks;
    dr_sim_disk *disk;
    const char *kinds[16];
    uint64_t counts[16];
} harness;

static void fired(void *ctx, const char *kind)
{
    harness *h = ctx;
    for (size_t i = 0; i < DR_ARRAY_COUNT(h->kinds); i++) {
        if (h->kinds[i] == NULL)
            h->kinds[i] = kind;
        if (strcmp(h->kinds[i], kind) == 0) {
            h->counts[i]++;
            return;
        }
    }
    fail_msg("too many fault kinds");
}

static uint64_t count_of(const harness *h, const char *kind)
{
    for (size_t i = 0; i < DR_ARRAY_COUNT(h->kinds); i++) {
        if (h->kinds[i] != NULL && strcmp(h->kinds[i], kind) == 0)
            return h->counts[i];
    }
    return 0;
}

static harness *harness_new(uint64_t seed, uint64_t capacity_bytes)
{
    harness *h = dr_alloc(sizeof *h);
    dr_rng_init(&h->rng, seed);
    h->hooks = (dr_sim_disk_hooks){.rng = &h->rng, .faults = &h->faults, .fired = fired, .ctx = h};
    h->disk = dr_sim_disk_create(&h->hooks, capacity_bytes);
    return h;
}

static void harness_free(harness *h)
{
    dr_sim_disk_destroy(h->disk);
    dr_free(h);
}

#define CAP (64u * 1024 * 1024)

static dr_sim_file *open_ok(harness *h, const char *path, int flags)
{
    dr_sim_file *f = NULL;
    dr_err err;
    dr_code rc = dr_sim_disk_open(h->disk, 1, path, flags, &f, &err);
    if (rc != DR_OK)
        fail_msg("%s", err.msg);
    return f;
}

static void write_ok(harness *h, dr_sim_file *f, uint64_t offset, const void *data, size_t size)
{
    dr_err err;
    if (dr_sim_disk_pwrite(h->disk, f, offset, data, size, &err) != DR_OK)
        fail_msg("%s", err.msg);
}

static void fsync_ok(harness *h, dr_sim_file *f)
{
    dr_err err;
    if (dr_sim_disk_fsync(h->disk, f, &err) != DR_OK)
        fail_msg("%s", err.msg);
}

static void fsync_dir_ok(harness *h, const char *path)
{
    dr_err err;
    if (dr_sim_disk_fsync_dir(h->disk, path, &err) != DR_OK)
        fail_msg("%s", err.msg);
}

/* Reads the whole file at path into buf (at most size bytes); returns its size. */
static size_t read_file(harness *h, const char *path, uint8_t *buf, size_t size)
{
    dr_sim_file *f = open_ok(h, path, DR_OPEN_READ);
    size_t got = 0;
    dr_err err;
    assert_int_equal(dr_sim_disk_pread(h->disk, f, 0, buf, size, &got, &err), DR_OK);
    dr_sim_disk_close(h->disk, f);
    return got;
}

static bool exists(harness *h, const char *path)
{
    dr_file_stat st;
    dr_err err;
    return dr_sim_disk_stat(h->disk, path, false, &st, &err) == DR_OK;
}

static void test_write_read_append_truncate(void **state)
{
    (void)state;
    harness *h = harness_new(1, CAP);
    dr_sim_file *f = open_ok(h, "/tmp/a", DR_OPEN_WRITE | DR_OPEN_CREATE);
    write_ok(h, f, 0, "hello", 5);
    dr_err err;
    assert_int_equal(dr_sim_disk_append(h->disk, f, " world", 6, &err), DR_OK);
    uint64_t size = 0;
    assert_int_equal(dr_sim_disk_file_size(h->disk, f, &size, &err), DR_OK);
    assert_int_equal(size, 11);

    char buf[64] = {0};
    size_t got = 0;
    assert_int_equal(dr_sim_disk_pread(h->disk, f, 6, buf, sizeof buf, &got, &err), DR_OK);
    assert_int_equal(got, 5); /* short only at end of file */
    assert_memory_equal(buf, "world", 5);
    assert_int_equal(dr_sim_disk_pread(h->disk, f, 100, buf, sizeof buf, &got, &err), DR_OK);
    assert_int_equal(got, 0);

    /* A sparse write across a page boundary: the gap reads as zeros. */
    write_ok(h, f, 4094, "XYZW", 4);
    uint8_t big[8192];
    assert_int_equal(dr_sim_disk_pread(h->disk, f, 0, big, sizeof big, &got, &err), DR_OK);
    assert_int_equal(got, 4098);
    assert_memory_equal(big, "hello world", 11);
    for (size_t i = 11; i < 4094; i++)
        assert_int_equal(big[i], 0);
    assert_memory_equal(big + 4094, "XYZW", 4);
    assert_int_equal(dr_sim_disk_used_bytes(h->disk), 4098);

    /* Shrink then grow: the cut-off bytes come back as zeros. */
    assert_int_equal(dr_sim_disk_truncate(h->disk, f, 3, &err), DR_OK);
    assert_int_equal(dr_sim_disk_truncate(h->disk, f, 4096 + 10, &err), DR_OK);
    assert_int_equal(dr_sim_disk_pread(h->disk, f, 0, big, sizeof big, &got, &err), DR_OK);
    assert_int_equal(got, 4106);
    assert_memory_equal(big, "hel", 3);
    for (size_t i = 3; i < got; i++)
        assert_int_equal(big[i], 0);
    assert_int_equal(dr_sim_disk_used_bytes(h->disk), 4106);

    /* A read-only handle cannot write. */
    dr_sim_file *ro = open_ok(h, "/tmp/a", DR_OPEN_READ);
    assert_int_equal(dr_sim_disk_pwrite(h->disk, ro, 0, "x", 1, &err), DR_EINVAL);
    assert_string_equal(err.msg, "write '/tmp/a': bad file descriptor");
    dr_sim_disk_close(h->disk, ro);

    /* TRUNC on open. */
    dr_sim_disk_close(h->disk, f);
    f = open_ok(h, "/tmp/a", DR_OPEN_WRITE | DR_OPEN_TRUNC);
    assert_int_equal(dr_sim_disk_file_size(h->disk, f, &size, &err), DR_OK);
    assert_int_equal(size, 0);
    dr_sim_disk_close(h->disk, f);
    harness_free(h);
}

static void test_fsync_then_crash_keeps_data(void **state)
{
    (void)state;
    harness *h = harness_new(2, CAP);
    h->faults.disk_crash_drop_p = 1.0; /* anything not synced is lost */
    dr_sim_file *f = open_ok(h, "/tmp/a", DR_OPEN_WRITE | DR_OPEN_CREATE);
    uint8_t data[10000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 1);
    write_ok(h, f, 0, data, sizeof data);
    fsync_ok(h, f); /* also commits the creation: fsync of a file in /tmp */
    dr_sim_disk_crash(h->disk);

    uint8_t back[20000];
    assert_int_equal(read_file(h, "/tmp/a", back, sizeof back), sizeof data);
    assert_memory_equal(back, data, sizeof data);
    assert_int_equal(count_of(h, "disk.crash_drop"), 0); /* nothing was dirty */
    assert_int_equal(dr_sim_disk_used_bytes(h->disk), sizeof data);
    harness_free(h);
}

static void test_no_fsync_drop_loses_data(void **state)
{
    (void)state;
    harness *h = harness_new(3, CAP);
    h->faults.disk_crash_drop_p = 1.0;
    dr_sim_file *f = open_ok(h, "/tmp/a", DR_OPEN_WRITE | DR_OPEN_CREATE);
    write_ok(h, f, 0, "old-old-old", 11);
    fsync_ok(h, f);
    /* Overwrite in place and extend, then truncate a second file: none synced. */
    write_ok(h, f, 0, "NEW", 3);
    uint8_t tail[5000];
    memset(tail, 'T', sizeof tail);
    write_ok(h, f, 11, tail, sizeof tail);
    dr_sim_file *g = open_ok(h, "/tmp/b", DR_OPEN_WRITE | DR_OPEN_CREATE);
    write_ok(h, g, 0, "bbbbbbbb", 8);
    fsync_ok(h, g);
    dr_err err;
    assert_int_equal(dr_sim_disk_truncate(h->disk, g, 2, &err), DR_OK);
    dr_sim_file *n = open_ok(h, "/tmp/new", DR_OPEN_WRITE | DR_OPEN_CREATE);
    write_ok(h, n, 0, "fresh", 5);
    dr_sim_disk_crash(h->disk);

    uint8_t back[8192];
    assert_int_equal(read_file(h, "/tmp/a", back, sizeof back), 11);
    assert_memory_equal(back, "old-old-old", 11);
    assert_int_equal(read_file(h, "/tmp/b", back, sizeof back), 8);
    assert_memory_equal(back, "bbbbbbbb", 8);
    assert_true(count_of(h, "disk.crash_drop") >= 2);
    assert_int_equal(count_of(h, "disk.crash_keep"), 0);
    assert_int_equal(count_of(h, "disk.crash_torn"), 0);
    /* /tmp/new's creation was never committed, or its data was dropped. */
    if (exists(h, "/tmp/new"))
        assert_int_equal(read_file(h, "/tmp/new", back, sizeof back), 0);
    harness_free(h);
}

static void test_torn_pages_mix_sectors(void **state)
{
    (void)state;
    harness *h = harness_new(4, CAP);
    /* keep_p = drop_p = 0: every dirty page is torn. */
    enum { PAGES = 32, PAGE = 4096, SECTOR = 512 };
    static uint8_t old_data[PAGES * PAGE], new_data[PAGES * PAGE], back[PAGES * PAGE];
    memset(old_data, 'o', sizeof old_data);
    memset(new_data, 'n', sizeof new_data);
    dr_sim_file *f = open_ok(h, "/tmp/t", DR_OPEN_WRITE | DR_OPEN_CREATE);
    write_ok(h, f, 0, old_data, sizeof old_data);
    fsync_ok(h, f);
    write_ok(h, f, 0, new_data, sizeof new_data);
    dr_sim_disk_crash(h->disk);

    assert_int_equal(count_of(h, "disk.crash_torn"), PAGES);
    assert_int_equal(read_file(h, "/tmp/t", back, sizeof back), sizeof back);
    size_t mixed_count = 0, new_sectors = 0, old_sectors = 0;
    for (size_t p = 0; p < PAGES; p++) {
        bool has_old = false, has_new = false;
        for (size_t s = 0; s < PAGE; s += SECTOR) {
            const uint8_t *sec = back + p * PAGE + s;
            /* A sector is wholly old or wholly new, never a blend. */
            bool is_new = memcmp(sec, new_data, SECTOR) == 0;
            bool is_old = memcmp(sec, old_data, SECTOR) == 0;
            assert_true(is_new != is_old);
            has_new |= is_new;
            has_old |= is_old;
            new_sectors += is_new;
            old_sectors += is_old;
        }
        mixed_count += has_old && has_new;
    }
    assert_true(mixed_count > PAGES / 2);
    assert_true(new_sectors > 0);
    assert_true(old_sectors > 0);
    harness_free(h);
}

/* A new entry not committed by fsync_dir may vanish in a crash, depending on
 * how much of the journal the crash keeps; across seeds both outcomes occur,
 * and the outcome always matches the reported journal drops. */
static void test_journal_prefix(void **state)
{
    (void)state;
    int gone_count = 0, kept_count = 0;
    for (uint64_t seed = 1; seed <= 64; seed++) {
        harness *h = harness_new(seed, CAP);
        dr_err err;
        assert_int_equal(dr_sim_disk_mkdir(h->disk, "/data", &err), DR_OK);
        dr_sim_file *f = open_ok(h, "/data/x", DR_OPEN_WRITE | DR_OPEN_CREATE);
        dr_sim_disk_close(h->disk, f);
        dr_sim_disk_crash(h->disk);
        uint64_t dropped = count_of(h, "disk.crash_journal_drop");
        assert_true(dropped <= 2);
        /* A prefix: /data/x never survives without /data. */
        assert_int_equal(exists(h, "/data"), dropped < 2);
        assert_int_equal(exists(h, "/data/x"), dropped == 0);
        if (dropped == 0)
            kept_count++;
        else
            gone_count++;
        harness_free(h);
    }
    assert_true(gone_count > 0);
    assert_true(kept_count > 0);

    /* Once fsync_dir commits it, the entry survives every crash. */
    for (uint64_t seed = 1; seed <= 16; seed++) {
        harness *h = harness_new(seed, CAP);
        dr_err err;
        assert_int_equal(dr_sim_disk_mkdir(h->disk, "/data", &err), DR_OK);
        dr_sim_file *f = open_ok(h, "/data/x", DR_OPEN_WRITE | DR_OPEN_CREATE);
        dr_sim_disk_close(h->disk, f);
        fsync_dir_ok(h, "/data");
        assert_int_equal(dr_sim_disk_mkdir(h->disk, "/other", &err), DR_OK);
        dr_sim_disk_crash(h->disk);
        assert_true(exists(h, "/data/x"));
        assert_true(count_of(h, "disk.crash_journal_drop") <= 1); /* only /other is at risk */
        harness_free(h);
    }
}

static void test_rename_atomic(void **state)
{
    (void)state;
    int old_count = 0, new_count = 0;
    for (uint64_t seed = 1; seed <= 64; seed++) {
        harness *h = harness_new(seed, CAP);
        h->faults.disk_crash_drop_p = 1.0;
        dr_sim_file *f = open_ok(h, "/tmp/conf", DR_OPEN_WRITE | DR_OPEN_CREATE);
        write_ok(h, f, 0, "version-1", 9);
        fsync_ok(h, f);
        dr_sim_disk_close(h->disk, f);
        f = open_ok(h, "/tmp/conf.tmp", DR_OPEN_WRITE | DR_OPEN_CREATE);
        write_ok(h, f, 0, "version-2", 9);
        fsync_ok(h, f);
        dr_sim_disk_close(h->disk, f);
        dr_err err;
        assert_int_equal(dr_sim_disk_rename(h->disk, "/tmp/conf.tmp", "/tmp/conf", &err), DR_OK);
        bool synced = seed > 32;
        if (synced)
            fsync_dir_ok(h, "/tmp");
        dr_sim_disk_crash(h->disk);
        /* Never missing, never a blend: the old file or the new one. */
        uint8_t back[64];
        assert_int_equal(read_file(h, "/tmp/conf", back, sizeof back), 9);
        if (memcmp(back, "version-2", 9) == 0) {
            new_count++;
        } else {
            assert_memory_equal(back, "version-1", 9);
            assert_false(synced);
            old_count++;
        }
        harness_free(h);
    }
    assert_true(old_count > 0);
    assert_int_equal(old_count + new_count, 64);
}

static void test_injected_faults(void **state)
{
    (void)state;
    harness *h = harness_new(5, CAP);
    h->faults.disk_crash_drop_p = 1.0;
    dr_sim_file *f = open_ok(h, "/tmp/a", DR_OPEN_WRITE | DR_OPEN_CREATE);
    write_ok(h, f, 0, "durable", 7);
    fsync_ok(h, f);
    dr_err err;

    h->faults.disk_eio_write_p = 1.0;
    assert_int_equal(dr_sim_disk_pwrite(h->disk, f, 0, "x", 1, &err), DR_EIO);
    assert_string_equal(err.msg, "write '/tmp/a': input/output error");
    assert_int_equal(count_of(h, "disk.eio_write"), 1);
    h->faults.disk_eio_write_p = 0.0;

    h->faults.disk_enospc_p = 1.0;
    assert_int_equal(dr_sim_disk_append(h->disk, f, "x", 1, &err), DR_ENOSPC);
    assert_string_equal(err.msg, "write '/tmp/a': no space left on device");
    assert_int_equal(count_of(h, "disk.enospc"), 1);
    h->faults.disk_enospc_p = 0.0;

    /* A failed write changes nothing. */
    uint8_t back[16];
    assert_int_equal(read_file(h, "/tmp/a", back, sizeof back), 7);
    assert_memory_equal(back, "durable", 7);

    /* After a failed fsync the pages stay dirty: a crash may still drop them. */
    write_ok(h, f, 0, "CHANGED", 7);
    h->faults.disk_eio_fsync_p = 1.0;
    assert_int_equal(dr_sim_disk_fsync(h->disk, f, &err), DR_EIO);
    assert_string_equal(err.msg, "fsync '/tmp/a': input/output error");
    assert_int_equal(dr_sim_disk_fsync_dir(h->disk, "/tmp", &err), DR_EIO);
    assert_string_equal(err.msg, "fsync '/tmp': input/output error");
    assert_int_equal(count_of(h, "disk.eio_fsync"), 2);
    dr_sim_disk_crash(h->disk);
    assert_int_equal(count_of(h, "disk.crash_drop"), 1);
    assert_int_equal(read_file(h, "/tmp/a", back, sizeof back), 7);
    assert_memory_equal(back, "durable", 7);
    harness_free(h);
}

static void test_capacity(void **state)
{
    (void)state;
    harness *h = harness_new(6, 10000);
    assert_int_equal(dr_sim_disk_capacity_bytes(h->disk), 10000);
    dr_sim_file *f = open_ok(h, "/tmp/a", DR_OPEN_WRITE | DR_OPEN_CREATE);
    static uint8_t data[8000];
    write_ok(h, f, 0, data, sizeof data);
    dr_sim_file *g = open_ok(h, "/tmp/b", DR_OPEN_WRITE | DR_OPEN_CREATE);
    dr_err err;
    assert_int_equal(dr_sim_disk_pwrite(h->disk, g, 0, data, 4000, &err), DR_ENOSPC);
    assert_string_equal(err.msg, "write '/tmp/b': no space left on device");
    assert_int_equal(count_of(h, "disk.enospc"), 0); /* capacity, not an injected fault */
    assert_int_equal(dr_sim_disk_truncate(h->disk, g, 4000, &err), DR_ENOSPC);
    assert_string_equal(err.msg, "truncate '/tmp/b': no space left on device");
    write_ok(h, g, 0, data, 2000); /* exactly full */
    assert_int_equal(dr_sim_disk_used_bytes(h->disk), 10000);
    /* Overwriting in place needs no space. */
    write_ok(h, f, 0, data, sizeof data);

    /* An unlinked file holds its space until its last handle closes. */
    assert_int_equal(dr_sim_disk_unlink(h->disk, "/tmp/a", &err), DR_OK);
    assert_int_equal(dr_sim_disk_used_bytes(h->disk), 10000);
    uint8_t one;
    size_t got;
    assert_int_equal(dr_sim_disk_pread(h->disk, f, 0, &one, 1, &got, &err), DR_OK);
    assert_int_equal(got, 1);
    dr_sim_disk_close(h->disk, f);
    assert_int_equal(dr_sim_disk_used_bytes(h->disk), 2000);
    write_ok(h, g, 2000, data, 4000);
    dr_sim_disk_close(h->disk, g);
    harness_free(h);
}

static void test_locks(void **state)
{
    (void)state;
    harness *h = harness_new(7, CAP);
    dr_err err;
    dr_sim_file *a = NULL, *a2 = NULL, *b = NULL;
    assert_int_equal(dr_sim_disk_open(h->disk, 1, "/tmp/lock", DR_OPEN_WRITE | DR_OPEN_CREATE,
                                      &a, &err),
                     DR_OK);
    assert_int_equal(dr_sim_disk_open(h->disk, 1, "/tmp/lock", DR_OPEN_READ, &a2, &err), DR_OK);
    assert_int_equal(dr_sim_disk_open(h->disk, 2, "/tmp/lock", DR_OPEN_READ, &b, &err), DR_OK);
    assert_int_equal(dr_sim_disk_lock(h->disk, a, &err), DR_OK);
    assert_int_equal(dr_sim_disk_lock(h->disk, a, &err), DR_OK);  /* again: no-op */
    assert_int_equal(dr_sim_disk_lock(h->disk, a2, &err), DR_OK); /* same owner */
    assert_int_equal(dr_sim_disk_lock(h->disk, b, &err), DR_EBUSY);
    assert_string_equal(err.msg, "lock '/tmp/lock': resource temporarily unavailable");
    dr_sim_disk_close(h->disk, a);
    assert_int_equal(dr_sim_disk_lock(h->disk, b, &err), DR_EBUSY); /* a2 still holds it */
    dr_sim_disk_close(h->disk, a2);
    assert_int_equal(dr_sim_disk_lock(h->disk, b, &err), DR_OK);
    /* A crash drops every handle, and with them every lock. */
    dr_sim_disk_crash(h->disk);
    assert_int_equal(dr_sim_disk_open(h->disk, 1, "/tmp/lock", DR_OPEN_READ, &a, &err), DR_OK);
    assert_int_equal(dr_sim_disk_lock(h->disk, a, &err), DR_OK);
    dr_sim_disk_close(h->disk, a);
    harness_free(h);
}

static void test_list_dir_sorted(void **state)
{
    (void)state;
    harness *h = harness_new(8, CAP);
    dr_err err;
    assert_int_equal(dr_sim_disk_mkdir(h->disk, "/d", &err), DR_OK);
    const char *names[] = {"b", "a", "c.d", "c-e", "A"};
    for (size_t i = 0; i < DR_ARRAY_COUNT(names); i++) {
        char path[32];
        snprintf(path, sizeof path, "/d/%s", names[i]);
        dr_sim_disk_close(h->disk, open_ok(h, path, DR_OPEN_WRITE | DR_OPEN_CREATE));
    }
    assert_int_equal(dr_sim_disk_mkdir(h->disk, "/d/c", &err), DR_OK);
    dr_sim_disk_close(h->disk, open_ok(h, "/d/c/inner", DR_OPEN_WRITE | DR_OPEN_CREATE));
    dr_dir_list list;
    assert_int_equal(dr_sim_disk_list_dir(h->disk, "/d", &list, &err), DR_OK);
    const char *want[] = {"A", "a", "b", "c", "c-e", "c.d"};
    assert_int_equal(list.count, DR_ARRAY_COUNT(want));
    for (size_t i = 0; i < list.count; i++)
        assert_string_equal(list.names[i], want[i]);
    dr_dir_list_free(&list);

    assert_int_equal(dr_sim_disk_list_dir(h->disk, "/", &list, &err), DR_OK);
    assert_int_equal(list.count, 2);
    assert_string_equal(list.names[0], "d");
    assert_string_equal(list.names[1], "tmp");
    dr_dir_list_free(&list);

    /* Renaming a directory moves its subtree. */
    assert_int_equal(dr_sim_disk_rename(h->disk, "/d/c", "/d/z", &err), DR_OK);
    assert_true(exists(h, "/d/z/inner"));
    assert_false(exists(h, "/d/c/inner"));
    assert_int_equal(dr_sim_disk_rename(h->disk, "/d", "/d/z/deeper", &err), DR_EINVAL);
    assert_string_equal(err.msg, "rename '/d' to '/d/z/deeper': invalid argument");

    assert_int_equal(dr_sim_disk_list_dir(h->disk, "/d/a", &list, &err), DR_ENOTDIR);
    assert_string_equal(err.msg, "opendir '/d/a': not a directory");
    harness_free(h);
}

static void test_symlinks(void **state)
{
    (void)state;
    harness *h = harness_new(9, CAP);
    dr_err err;
    assert_int_equal(dr_sim_disk_mkdir(h->disk, "/real", &err), DR_OK);
    dr_sim_file *f = open_ok(h, "/real/file", DR_OPEN_WRITE | DR_OPEN_CREATE);
    write_ok(h, f, 0, "abc", 3);
    dr_sim_disk_close(h->disk, f);
    assert_int_equal(dr_sim_disk_symlink(h->disk, "real", "/link", &err), DR_OK);
    uint8_t back[8];
    assert_int_equal(read_file(h, "/link/file", back, sizeof back), 3);
    assert_int_equal(read_file(h, "/link/../real/./file", back, sizeof back), 3);
    char target[16];
    assert_int_equal(dr_sim_disk_readlink(h->disk, "/link", target, sizeof target, &err), DR_OK);
    assert_string_equal(target, "real");
    assert_int_equal(dr_sim_disk_readlink(h->disk, "/link", target, 2, &err), DR_ETOOBIG);
    assert_int_equal(dr_sim_disk_readlink(h->disk, "/real", target, sizeof target, &err),
                     DR_EINVAL);
    assert_string_equal(err.msg, "readlink '/real': invalid argument");

    dr_file_stat st;
    assert_int_equal(dr_sim_disk_stat(h->disk, "/link", false, &st, &err), DR_OK);
    assert_true(st.is_symlink);
    assert_int_equal(st.size_bytes, 4);
    assert_int_equal(dr_sim_disk_stat(h->disk, "/link", true, &st, &err), DR_OK);
    assert_true(st.is_dir);
    assert_false(st.is_symlink);

    assert_int_equal(dr_sim_disk_symlink(h->disk, "/loop", "/loop", &err), DR_OK);
    assert_int_equal(dr_sim_disk_stat(h->disk, "/loop", true, &st, &err), DR_EINVAL);
    assert_string_equal(err.msg, "stat '/loop': too many levels of symbolic links");
    /* Creating through a dangling link creates its target. */
    assert_int_equal(dr_sim_disk_symlink(h->disk, "/real/made", "/dangling", &err), DR_OK);
    dr_sim_disk_close(h->disk, open_ok(h, "/dangling", DR_OPEN_WRITE | DR_OPEN_CREATE));
    assert_true(exists(h, "/real/made"));
    harness_free(h);
}

static void test_error_messages(void **state)
{
    (void)state;
    harness *h = harness_new(10, CAP);
    dr_err err;
    dr_sim_file *f = NULL;
    assert_int_equal(dr_sim_disk_open(h->disk, 1, "/data/x", DR_OPEN_READ, &f, &err), DR_ENOENT);
    assert_string_equal(err.msg, "open '/data/x': no such file or directory");
    assert_null(f);
    assert_int_equal(dr_sim_disk_open(h->disk, 1, "/tmp/x", DR_OPEN_READ, &f, &err), DR_ENOENT);
    assert_string_equal(err.msg, "open '/tmp/x': no such file or directory");
    assert_int_equal(dr_sim_disk_open(h->disk, 1, "/tmp", DR_OPEN_READ, &f, &err), DR_EISDIR);
    assert_string_equal(err.msg, "open '/tmp': is a directory");
    assert_int_equal(dr_sim_disk_open(h->disk, 1, "rel/x", DR_OPEN_READ, &f, &err), DR_EINVAL);
    assert_string_equal(err.msg, "open 'rel/x': path is not absolute");

    dr_sim_file *a = open_ok(h, "/tmp/a", DR_OPEN_WRITE | DR_OPEN_CREATE);
    dr_sim_disk_close(h->disk, a);
    assert_int_equal(
        dr_sim_disk_open(h->disk, 1, "/tmp/a", DR_OPEN_CREATE | DR_OPEN_EXCL, &f, &err),
        DR_EEXIST);
    assert_string_equal(err.msg, "open '/tmp/a': file exists");
    assert_int_equal(dr_sim_disk_open(h->disk, 1, "/tmp/a/b", DR_OPEN_READ, &f, &err),
                     DR_ENOTDIR);
    assert_string_equal(err.msg, "open '/tmp/a/b': not a directory");

    assert_int_equal(dr_sim_disk_mkdir(h->disk, "/tmp", &err), DR_EEXIST);
    assert_string_equal(err.msg, "mkdir '/tmp': file exists");
    assert_int_equal(dr_sim_disk_mkdir(h->disk, "/no/such", &err), DR_ENOENT);
    assert_string_equal(err.msg, "mkdir '/no/such': no such file or directory");
    assert_int_equal(dr_sim_disk_rmdir(h->disk, "/tmp", &err), DR_ENOTEMPTY);
    assert_string_equal(err.msg, "rmdir '/tmp': directory not empty");
    assert_int_equal(dr_sim_disk_rmdir(h->disk, "/tmp/a", &err), DR_ENOTDIR);
    assert_string_equal(err.msg, "rmdir '/tmp/a': not a directory");
    assert_int_equal(dr_sim_disk_unlink(h->disk, "/tmp", &err), DR_EISDIR);
    assert_string_equal(err.msg, "unlink '/tmp': is a directory");
    assert_int_equal(dr_sim_disk_unlink(h->disk, "/tmp/zz", &err), DR_ENOENT);
    assert_string_equal(err.msg, "unlink '/tmp/zz': no such file or directory");
    assert_int_equal(dr_sim_disk_rename(h->disk, "/tmp/zz", "/tmp/yy", &err), DR_ENOENT);
    assert_string_equal(err.msg, "rename '/tmp/zz' to '/tmp/yy': no such file or directory");
    assert_int_equal(dr_sim_disk_rename(h->disk, "/tmp/a", "/", &err), DR_EISDIR);
    assert_string_equal(err.msg, "rename '/tmp/a' to '/': is a directory");
    assert_int_equal(dr_sim_disk_rename(h->disk, "/tmp", "/tmp/a", &err), DR_EINVAL);
    assert_int_equal(dr_sim_disk_fsync_dir(h->disk, "/tmp/a", &err), DR_ENOTDIR);
    assert_string_equal(err.msg, "fsync '/tmp/a': not a directory");
    assert_int_equal(dr_sim_disk_symlink(h->disk, "x", "/tmp/a", &err), DR_EEXIST);
    assert_string_equal(err.msg, "symlink '/tmp/a': file exists");

    char long_path[DR_PATH_SIZE_MAX + 8];
    memset(long_path, 'x', sizeof long_path);
    long_path[0] = '/';
    long_path[sizeof long_path - 1] = '\0';
    assert_int_equal(dr_sim_disk_open(h->disk, 1, long_path, DR_OPEN_READ, &f, &err),
                     DR_ETOOBIG);
    assert_memory_equal(err.msg, "open '/xxx", 10); /* the message is cut at 255 bytes */

    assert_int_equal(dr_sim_disk_unlink(h->disk, "/tmp/a", &err), DR_OK);
    assert_int_equal(dr_sim_disk_rmdir(h->disk, "/tmp", &err), DR_OK);
    assert_false(exists(h, "/tmp"));
    harness_free(h);
}

/* Truncation is a size change like any other: dropped in a crash unless synced. */
static void test_truncate_durability(void **state)
{
    (void)state;
    harness *h = harness_new(11, CAP);
    h->faults.disk_crash_drop_p = 1.0;
    static uint8_t data[3 * 4096];
    memset(data, 'd', sizeof data);
    dr_sim_file *f = open_ok(h, "/tmp/a", DR_OPEN_WRITE | DR_OPEN_CREATE);
    write_ok(h, f, 0, data, sizeof data);
    fsync_ok(h, f);
    dr_err err;
    assert_int_equal(dr_sim_disk_truncate(h->disk, f, 100, &err), DR_OK);
    dr_sim_disk_crash(h->disk);
    static uint8_t back[4 * 4096];
    assert_int_equal(read_file(h, "/tmp/a", back, sizeof back), sizeof data);
    assert_memory_equal(back, data, sizeof data);

    /* Synced: shrink, regrow, sync; the cut bytes stay zero across a crash. */
    f = open_ok(h, "/tmp/a", DR_OPEN_WRITE);
    assert_int_equal(dr_sim_disk_truncate(h->disk, f, 100, &err), DR_OK);
    assert_int_equal(dr_sim_disk_truncate(h->disk, f, sizeof data, &err), DR_OK);
    fsync_ok(h, f);
    dr_sim_disk_crash(h->disk);
    assert_int_equal(read_file(h, "/tmp/a", back, sizeof back), sizeof data);
    assert_memory_equal(back, data, 100);
    for (size_t i = 100; i < sizeof data; i++)
        assert_int_equal(back[i], 0);
    harness_free(h);
}

/* Same seed, same operations: same outcome, byte for byte. */
static void test_crash_is_deterministic(void **state)
{
    (void)state;
    static uint8_t out[2][8 * 4096];
    for (int run = 0; run < 2; run++) {
        harness *h = harness_new(42, CAP);
        h->faults.disk_crash_keep_p = 0.3;
        h->faults.disk_crash_drop_p = 0.3;
        dr_sim_file *f = open_ok(h, "/tmp/a", DR_OPEN_WRITE | DR_OPEN_CREATE);
        static uint8_t data[8 * 4096];
        memset(data, 'a', sizeof data);
        write_ok(h, f, 0, data, sizeof data);
        fsync_ok(h, f);
        for (size_t i = 0; i < sizeof data; i++)
            data[i] = (uint8_t)i;
        write_ok(h, f, 0, data, sizeof data);
        dr_sim_disk_crash(h->disk);
        assert_int_equal(read_file(h, "/tmp/a", out[run], sizeof out[run]), sizeof data);
        assert_int_equal(count_of(h, "disk.crash_keep") + count_of(h, "disk.crash_drop") +
                             count_of(h, "disk.crash_torn"),
                         8);
        harness_free(h);
    }
    assert_memory_equal(out[0], out[1], sizeof out[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_read_append_truncate),
        cmocka_unit_test(test_fsync_then_crash_keeps_data),
        cmocka_unit_test(test_no_fsync_drop_loses_data),
        cmocka_unit_test(test_torn_pages_mix_sectors),
        cmocka_unit_test(test_journal_prefix),
        cmocka_unit_test(test_rename_atomic),
        cmocka_unit_test(test_injected_faults),
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_locks),
        cmocka_unit_test(test_list_dir_sorted),
        cmocka_unit_test(test_symlinks),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_truncate_durability),
        cmocka_unit_test(test_crash_is_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
