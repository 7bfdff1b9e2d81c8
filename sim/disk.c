/* sim/disk.c — a simulated host's disk: namespace, page cache, crash model.
 *
 * Owns everything sim/disk.h promises: files, directories and symlinks; each
 * file's durable image and its dirty 4 KiB pages; the ordered journal of
 * uncommitted directory changes; per-(file, owner) locks; and the disk faults
 * (EIO, ENOSPC, capacity, crash). It leaves to sim/env.c the mapping from a
 * process to an owner id, the wall clock (dr_sim_disk_set_time) and the fault
 * counter behind hooks->fired.
 *
 * Layout. Two namespaces, each a sorted array of (canonical path, kind, node):
 * `cur`, the live view every operation sees, and `dur`, what survives a crash.
 * A directory change is validated against `cur`, applied to it and appended to
 * the journal; committing replays a prefix of the journal onto `dur`. So
 * `dur` + the whole journal == `cur` at all times, and any prefix replays
 * cleanly because its operations were valid in that order.
 *
 * File data. A node keeps two page vectors of equal length: `dur` (the durable
 * image; NULL means a zero page) and `cur` (dirty pages; NULL means clean).
 * `cut` is the lowest size the file had since its last fsync: durable bytes at
 * or past it were truncated away and read as zeros unless a dirty page covers
 * them. Invariants: cut <= size and cut <= durable_size; a page that holds a
 * `cut` below durable_size strictly inside it is dirty; bytes past `size` in a
 * dirty page and past `durable_size` in a durable page are zero.
 *
 * Crash. A uniformly drawn prefix of the journal is committed, the rest
 * dropped. Then, for every file reachable in `dur` (in path order): the size
 * change since the last fsync survives unless drawn dropped (drop_p), and each
 * dirty page is kept (keep_p), dropped (drop_p) or torn (the rest: each 512-byte
 * sector new or old with even odds). All draws come from hooks->rng.
 *
 * Nodes are reference counted: entries in either namespace, journal entries and
 * open handles each hold one. Handles form a list in opening order; nothing
 * iterates by address.
 */
#include "disk.h"

#include <stdio.h>
#include <string.h>

enum {
    PAGE_SIZE = 4096,
    SECTOR_SIZE = 512,
    SYMLINK_HOPS_MAX = 40, /* Linux's MAXSYMLINKS */
};

typedef enum nkind { K_DIR = 1, K_FILE, K_LINK } nkind;

typedef struct node {
    uint32_t refs;      /* namespace entries (both), journal entries, handles */
    uint32_t live_refs; /* entries in `cur` plus handles: its bytes count as used */
    char *target;       /* symlinks only */
    uint64_t size;
    uint64_t durable_size;
    uint64_t cut;        /* see the opening paragraph */
    uint8_t **dur_pages; /* slot_count entries; NULL: zero page */
    uint8_t **cur_pages; /* slot_count entries; NULL: clean */
    size_t slot_count;
    uint64_t mtime_ns;
    uint64_t lock_owner;
    uint32_t lock_count; /* handles of lock_owner that hold the lock */
} node;

typedef struct entry {
    char *path; /* canonical: absolute, no ".", "..", "//" or trailing '/' */
    nkind kind;
    node *node; /* NULL for directories */
} entry;

typedef struct ns {
    entry *v; /* sorted by strcmp(path) */
    size_t count;
    size_t capacity;
    bool live; /* the current view: entries count toward used bytes */
} ns;

typedef enum jop { J_ADD = 1, J_REMOVE, J_RENAME } jop;

typedef struct jentry {
    jop op;
    nkind kind;   /* J_ADD */
    char *path;  /* J_RENAME: from */
    char *path2; /* J_RENAME: to */
    node *node;  /* J_ADD: the new node (NULL for a directory) */
} jentry;

struct dr_sim_file {
    dr_sim_disk *disk;
    node *node;
    uint64_t owner;
    int flags;
    bool locked;
    char *path; /* canonical path at open, for messages and fsync's commit */
    dr_sim_file *prev;
    dr_sim_file *next;
};

struct dr_sim_disk {
    const dr_sim_disk_hooks *hooks; /* kept */
    uint64_t capacity_bytes;
    uint64_t used_bytes; /* sum of sizes of nodes with live_refs > 0 */
    uint64_t wall_ns;
    ns cur;
    ns dur;
    jentry *journal;
    size_t journal_count;
    size_t journal_capacity;
    dr_sim_file *files_head; /* open handles, in opening order */
    dr_sim_file *files_tail;
};

/* What the OS would say; one row per failure this file reports. */
typedef enum fault {
    F_NOENT,
    F_EXIST,
    F_NOTDIR,
    F_ISDIR,
    F_NOTEMPTY,
    F_IO,
    F_NOSPC,
    F_AGAIN,
    F_INVAL,
    F_LOOP,
    F_TOOLONG,
    F_NOTABS,
    F_BADF,
    F_BUSY,
    F_FBIG,
} fault;

static const struct {
    dr_code code;
    const char *text;
} fault_info[] = {
    [F_NOENT] = {DR_ENOENT, "no such file or directory"},
    [F_EXIST] = {DR_EEXIST, "file exists"},
    [F_NOTDIR] = {DR_ENOTDIR, "not a directory"},
    [F_ISDIR] = {DR_EISDIR, "is a directory"},
    [F_NOTEMPTY] = {DR_ENOTEMPTY, "directory not empty"},
    [F_IO] = {DR_EIO, "input/output error"},
    [F_NOSPC] = {DR_ENOSPC, "no space left on device"},
    [F_AGAIN] = {DR_EBUSY, "resource temporarily unavailable"},
    [F_INVAL] = {DR_EINVAL, "invalid argument"},
    [F_LOOP] = {DR_EINVAL, "too many levels of symbolic links"},
    [F_TOOLONG] = {DR_ETOOBIG, "file name too long"},
    [F_NOTABS] = {DR_EINVAL, "path is not absolute"},
    [F_BADF] = {DR_EINVAL, "bad file descriptor"},
    [F_BUSY] = {DR_EBUSY, "device or resource busy"},
    [F_FBIG] = {DR_ETOOBIG, "file too large"},
};

static dr_code fail(dr_err *err, fault f, const char *op, const char *path)
{
    return dr_err_set(err, fault_info[f].code, "%s '%s': %s", op, path, fault_info[f].text);
}

static dr_code fail2(dr_err *err, fault f, const char *op, const char *from, const char *to)
{
    return dr_err_set(err, fault_info[f].code, "%s '%s' to '%s': %s", op, from, to,
                      fault_info[f].text);
}

/* ---- nodes ------------------------------------------------------------------ */

static uint64_t page_count_for(uint64_t size) { return (size + PAGE_SIZE - 1) / PAGE_SIZE; }

static node *node_new(uint64_t wall_ns)
{
    node *n = dr_alloc(sizeof *n);
    n->mtime_ns = wall_ns;
    return n;
}

static void node_ref(node *n)
{
    if (n != NULL)
        n->refs++;
}

static void node_unref(node *n)
{
    if (n == NULL)
        return;
    DR_ASSERT(n->refs > 0);
    if (--n->refs > 0)
        return;
    DR_ASSERT(n->live_refs == 0);
    DR_ASSERT(n->lock_count == 0);
    for (size_t i = 0; i < n->slot_count; i++) {
        dr_free(n->dur_pages[i]);
        dr_free(n->cur_pages[i]);
    }
    dr_free(n->dur_pages);
    dr_free(n->cur_pages);
    dr_free(n->target);
    dr_free(n);
}

static void live_inc(dr_sim_disk *disk, node *n)
{
    if (n != NULL && n->live_refs++ == 0)
        disk->used_bytes += n->size;
}

static void live_dec(dr_sim_disk *disk, node *n)
{
    if (n == NULL)
        return;
    DR_ASSERT(n->live_refs > 0);
    if (--n->live_refs == 0) {
        DR_ASSERT(disk->used_bytes >= n->size);
        disk->used_bytes -= n->size;
    }
}

static void node_set_size(dr_sim_disk *disk, node *n, uint64_t size)
{
    if (n->live_refs > 0) {
        DR_ASSERT(disk->used_bytes >= n->size);
        disk->used_bytes = disk->used_bytes - n->size + size;
    }
    n->size = size;
}

/* Grows both page vectors to at least count slots (never shrinks). */
static void node_reserve(node *n, size_t count)
{
    if (count <= n->slot_count)
        return;
    n->dur_pages = dr_realloc(n->dur_pages, count * sizeof *n->dur_pages);
    n->cur_pages = dr_realloc(n->cur_pages, count * sizeof *n->cur_pages);
    for (size_t i = n->slot_count; i < count; i++) {
        n->dur_pages[i] = NULL;
        n->cur_pages[i] = NULL;
    }
    n->slot_count = count;
}

/* Shrinks both vectors to count slots; the slots dropped must be empty. */
static void node_shrink(node *n, size_t count)
{
    if (count >= n->slot_count)
        return;
    for (size_t i = count; i < n->slot_count; i++) {
        DR_ASSERT(n->dur_pages[i] == NULL);
        DR_ASSERT(n->cur_pages[i] == NULL);
    }
    n->slot_count = count;
    if (count == 0) {
        dr_free(n->dur_pages);
        dr_free(n->cur_pages);
        n->dur_pages = NULL;
        n->cur_pages = NULL;
        return;
    }
    n->dur_pages = dr_realloc(n->dur_pages, count * sizeof *n->dur_pages);
    n->cur_pages = dr_realloc(n->cur_pages, count * sizeof *n->cur_pages);
}

/* The durable page as the current view sees it, or NULL for zeros. */
static const uint8_t *visible_durable(const node *n, size_t page_index)
{
    if (page_index >= n->slot_count || (uint64_t)page_index * PAGE_SIZE >= n->cut)
        return NULL;
    /* Bytes of this page past cut must read as zeros: true past durable_size,
     * and a page that holds a lower cut strictly inside is dirty. */
    DR_ASSERT((uint64_t)(page_index + 1) * PAGE_SIZE <= n->cut || n->cut == n->durable_size ||
              n->cur_pages[page_index] != NULL);
    return n->dur_pages[page_index];
}

/* Returns the dirty page, materializing it from the current view. */
static uint8_t *page_dirty(node *n, size_t page_index)
{
    DR_ASSERT(page_index < n->slot_count);
    if (n->cur_pages[page_index] != NULL)
        return n->cur_pages[page_index];
    uint8_t *page = dr_alloc(PAGE_SIZE);
    const uint8_t *base = visible_durable(n, page_index);
    if (base != NULL)
        memcpy(page, base, PAGE_SIZE);
    n->cur_pages[page_index] = page;
    return page;
}

static void node_read(const node *n, uint64_t offset, uint8_t *buf, size_t size)
{
    DR_ASSERT(offset + size <= n->size);
    while (size > 0) {
        size_t page_index = (size_t)(offset / PAGE_SIZE);
        size_t in_page = (size_t)(offset % PAGE_SIZE);
        size_t chunk = DR_MIN(size, (size_t)PAGE_SIZE - in_page);
        const uint8_t *src = n->cur_pages[page_index];
        if (src == NULL)
            src = visible_durable(n, page_index);
        if (src != NULL)
            memcpy(buf, src + in_page, chunk);
        else
            memset(buf, 0, chunk);
        buf += chunk;
        offset += chunk;
        size -= chunk;
    }
}

static void node_write(dr_sim_disk *disk, node *n, uint64_t offset, const uint8_t *data,
                       size_t size)
{
    uint64_t end = offset + size;
    node_reserve(n, (size_t)page_count_for(DR_MAX(end, n->size)));
    while (size > 0) {
        size_t page_index = (size_t)(offset / PAGE_SIZE);
        size_t in_page = (size_t)(offset % PAGE_SIZE);
        size_t chunk = DR_MIN(size, (size_t)PAGE_SIZE - in_page);
        memcpy(page_dirty(n, page_index) + in_page, data, chunk);
        data += chunk;
        offset += chunk;
        size -= chunk;
    }
    if (end > n->size)
        node_set_size(disk, n, end);
    n->mtime_ns = disk->wall_ns;
}

static void node_truncate(dr_sim_disk *disk, node *n, uint64_t size)
{
    if (size < n->size) {
        size_t keep_count = (size_t)page_count_for(size);
        if (size % PAGE_SIZE != 0) {
            /* Materialize before lowering cut: the page keeps its head. */
            uint8_t *page = page_dirty(n, (size_t)(size / PAGE_SIZE));
            memset(page + size % PAGE_SIZE, 0, PAGE_SIZE - size % PAGE_SIZE);
        }
        for (size_t i = keep_count; i < n->slot_count; i++) {
            dr_free(n->cur_pages[i]);
            n->cur_pages[i] = NULL;
        }
        n->cut = DR_MIN(n->cut, size);
    } else {
        node_reserve(n, (size_t)page_count_for(size));
    }
    node_set_size(disk, n, size);
    n->mtime_ns = disk->wall_ns;
}

/* Makes the current view durable. */
static void node_sync(node *n)
{
    for (size_t i = 0; i < n->slot_count; i++) {
        if (n->cur_pages[i] != NULL) {
            dr_free(n->dur_pages[i]);
            n->dur_pages[i] = n->cur_pages[i];
            n->cur_pages[i] = NULL;
        } else if ((uint64_t)i * PAGE_SIZE >= n->cut) {
            dr_free(n->dur_pages[i]); /* truncated away */
            n->dur_pages[i] = NULL;
        }
    }
    n->durable_size = n->size;
    n->cut = n->size;
    node_shrink(n, (size_t)page_count_for(n->size));
}

static void fire(dr_sim_disk *disk, const char *kind)
{
    if (disk->hooks->fired != NULL)
        disk->hooks->fired(disk->hooks->ctx, kind);
}

static const dr_sim_faults *faults_of(dr_sim_disk *disk)
{
    static const dr_sim_faults none;
    return disk->hooks->faults != NULL ? disk->hooks->faults : &none;
}

/* Applies the crash model to one file (see the opening paragraph). */
static void node_crash(dr_sim_disk *disk, node *n)
{
    const dr_sim_faults *faults = faults_of(disk);
    dr_rng *rng = disk->hooks->rng;
    bool meta_dirty = n->size != n->durable_size || n->cut != n->durable_size;
    bool size_kept = !meta_dirty || !dr_rng_chance(rng, faults->disk_crash_drop_p);
    uint64_t new_size = size_kept ? n->size : n->durable_size;
    uint64_t limit = size_kept ? n->cut : n->durable_size; /* durable bytes still valid */
    for (size_t i = 0; i < n->slot_count; i++) {
        uint64_t start = (uint64_t)i * PAGE_SIZE;
        uint8_t *d = n->dur_pages[i];
        uint8_t *c = n->cur_pages[i];
        if (d != NULL && start >= limit) {
            dr_free(d);
            d = NULL;
        } else if (d != NULL && start + PAGE_SIZE > limit) {
            memset(d + (limit - start), 0, (size_t)(start + PAGE_SIZE - limit));
        }
        if (c != NULL) {
            double r = dr_rng_unit(rng);
            if (r < faults->disk_crash_keep_p) {
                fire(disk, "disk.crash_keep");
                dr_free(d);
                d = c;
            } else if (r < faults->disk_crash_keep_p + faults->disk_crash_drop_p) {
                fire(disk, "disk.crash_drop");
                dr_free(c);
            } else {
                fire(disk, "disk.crash_torn");
                if (d == NULL)
                    d = dr_alloc(PAGE_SIZE);
                for (size_t s = 0; s < PAGE_SIZE; s += SECTOR_SIZE) {
                    if (dr_rng_next(rng) & 1)
                        memcpy(d + s, c + s, SECTOR_SIZE);
                }
                dr_free(c);
            }
        }
        if (d != NULL && start >= new_size) {
            dr_free(d);
            d = NULL;
        } else if (d != NULL && start + PAGE_SIZE > new_size) {
            memset(d + (new_size - start), 0, (size_t)(start + PAGE_SIZE - new_size));
        }
        n->dur_pages[i] = d;
        n->cur_pages[i] = NULL;
    }
    DR_ASSERT(n->live_refs == 0);
    n->size = new_size;
    n->durable_size = new_size;
    n->cut = new_size;
    node_shrink(n, (size_t)page_count_for(new_size));
}

/* ---- namespaces --------------------------------------------------------------- */

/* Index of the first entry whose path is >= path; *found if equal. */
static size_t ns_lower(const ns *s, const char *path, bool *found)
{
    size_t lo = 0, hi = s->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(s->v[mid].path, path) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (found != NULL)
        *found = lo < s->count && strcmp(s->v[lo].path, path) == 0;
    return lo;
}

static entry *ns_get(const ns *s, const char *path)
{
    bool found;
    size_t i = ns_lower(s, path, &found);
    return found ? &s->v[i] : NULL;
}

/* Takes path. */
static void ns_insert(dr_sim_disk *disk, ns *s, char *path, nkind k, node *n)
{
    bool found;
    size_t i = ns_lower(s, path, &found);
    DR_ASSERT(!found);
    if (s->count == s->capacity) {
        s->capacity = s->capacity == 0 ? 16 : s->capacity * 2;
        s->v = dr_realloc(s->v, s->capacity * sizeof *s->v);
    }
    memmove(&s->v[i + 1], &s->v[i], (s->count - i) * sizeof *s->v);
    s->v[i] = (entry){.path = path, .kind = k, .node = n};
    s->count++;
    node_ref(n);
    if (s->live)
        live_inc(disk, n);
}

static void ns_remove_at(dr_sim_disk *disk, ns *s, size_t i)
{
    DR_ASSERT(i < s->count);
    entry e = s->v[i];
    memmove(&s->v[i], &s->v[i + 1], (s->count - i - 1) * sizeof *s->v);
    s->count--;
    dr_free(e.path);
    if (s->live)
        live_dec(disk, e.node);
    node_unref(e.node);
}

static void ns_clear(dr_sim_disk *disk, ns *s)
{
    while (s->count > 0)
        ns_remove_at(disk, s, s->count - 1);
}

/* The range [*lo, *hi) of entries strictly below dir (its whole subtree). */
static void ns_subtree(const ns *s, const char *dir, size_t *lo, size_t *hi)
{
    char prefix[DR_PATH_SIZE_MAX + 1];
    size_t dir_len = strlen(dir);
    if (strcmp(dir, "/") == 0)
        dir_len = 0;
    DR_ASSERT(dir_len + 1 < sizeof prefix);
    memcpy(prefix, dir, dir_len);
    prefix[dir_len] = '/';
    prefix[dir_len + 1] = '\0';
    size_t i = ns_lower(s, prefix, NULL);
    if (dir_len == 0 && i < s->count && strcmp(s->v[i].path, "/") == 0)
        i++; /* the root itself */
    *lo = i;
    while (i < s->count && strncmp(s->v[i].path, prefix, dir_len + 1) == 0)
        i++;
    *hi = i;
}

static bool ns_dir_empty(const ns *s, const char *dir)
{
    size_t lo, hi;
    ns_subtree(s, dir, &lo, &hi);
    return lo == hi;
}

/* Moves from (and its subtree) to `to`, replacing a file or empty directory there. */
static void ns_rename(dr_sim_disk *disk, ns *s, const char *from, const char *to)
{
    if (strcmp(from, to) == 0)
        return;
    bool found;
    size_t i = ns_lower(s, to, &found);
    if (found) {
        DR_ASSERT(s->v[i].kind != K_DIR || ns_dir_empty(s, to));
        ns_remove_at(disk, s, i);
    }
    size_t lo, hi;
    ns_subtree(s, from, &lo, &hi);
    size_t moved_count = hi - lo + 1;
    entry *moved = dr_alloc_array(moved_count, sizeof *moved);
    i = ns_lower(s, from, &found);
    DR_ASSERT(found);
    moved[0] = s->v[i];
    memcpy(&moved[1], &s->v[lo], (hi - lo) * sizeof *moved);
    /* Detach without touching references: the nodes move, they do not leave. */
    memmove(&s->v[lo], &s->v[hi], (s->count - hi) * sizeof *s->v);
    s->count -= hi - lo;
    i = ns_lower(s, from, &found);
    DR_ASSERT(found);
    memmove(&s->v[i], &s->v[i + 1], (s->count - i - 1) * sizeof *s->v);
    s->count--;
    size_t from_len = strlen(from);
    for (size_t k = 0; k < moved_count; k++) {
        char *path = dr_sprintf("%s%s", to, moved[k].path + from_len);
        dr_free(moved[k].path);
        size_t at = ns_lower(s, path, &found);
        DR_ASSERT(!found);
        if (s->count == s->capacity) {
            s->capacity = s->capacity == 0 ? 16 : s->capacity * 2;
            s->v = dr_realloc(s->v, s->capacity * sizeof *s->v);
        }
        memmove(&s->v[at + 1], &s->v[at], (s->count - at) * sizeof *s->v);
        s->v[at] = (entry){.path = path, .kind = moved[k].kind, .node = moved[k].node};
        s->count++;
    }
    dr_free(moved);
}

static void ns_apply(dr_sim_disk *disk, ns *s, const jentry *je)
{
    bool found;
    switch (je->op) {
    case J_ADD:
        ns_insert(disk, s, dr_strdup(je->path), je->kind, je->node);
        return;
    case J_REMOVE: {
        size_t i = ns_lower(s, je->path, &found);
        DR_ASSERT(found);
        DR_ASSERT(s->v[i].kind != K_DIR || ns_dir_empty(s, je->path));
        ns_remove_at(disk, s, i);
        return;
    }
    case J_RENAME:
        ns_rename(disk, s, je->path, je->path2);
        return;
    }
    DR_UNREACHABLE();
}

/* ---- journal ------------------------------------------------------------------ */

/* Writes the parent directory of a canonical path into out. */
static void parent_of(const char *path, char *out)
{
    const char *slash = strrchr(path, '/');
    DR_ASSERT(slash != NULL);
    if (slash == path) {
        strcpy(out, "/");
        return;
    }
    memcpy(out, path, (size_t)(slash - path));
    out[slash - path] = '\0';
}

static bool jentry_touches(const jentry *je, const char *dir)
{
    char parent[DR_PATH_SIZE_MAX];
    parent_of(je->path, parent);
    if (strcmp(parent, dir) == 0)
        return true;
    if (je->op != J_RENAME)
        return false;
    parent_of(je->path2, parent);
    return strcmp(parent, dir) == 0;
}

/* Validated by the caller: applies the change to `cur` and journals it. */
static void journal_add(dr_sim_disk *disk, jop op, nkind k, const char *path, const char *path2,
                        node *n)
{
    if (disk->journal_count == disk->journal_capacity) {
        disk->journal_capacity = disk->journal_capacity == 0 ? 16 : disk->journal_capacity * 2;
        disk->journal = dr_realloc(disk->journal, disk->journal_capacity * sizeof *disk->journal);
    }
    jentry *je = &disk->journal[disk->journal_count++];
    *je = (jentry){.op = op,
                   .kind = k,
                   .path = dr_strdup(path),
                   .path2 = path2 != NULL ? dr_strdup(path2) : NULL,
                   .node = n};
    node_ref(n);
    ns_apply(disk, &disk->cur, je);
}

static void jentry_free(jentry *je)
{
    dr_free(je->path);
    dr_free(je->path2);
    node_unref(je->node);
}

/* Commits the first count journal entries to `dur`. */
static void journal_commit(dr_sim_disk *disk, size_t count)
{
    DR_ASSERT(count <= disk->journal_count);
    for (size_t i = 0; i < count; i++) {
        ns_apply(disk, &disk->dur, &disk->journal[i]);
        jentry_free(&disk->journal[i]);
    }
    if (count == 0)
        return; /* also: journal may be NULL, and memmove must not see it */
    memmove(disk->journal, disk->journal + count,
            (disk->journal_count - count) * sizeof *disk->journal);
    disk->journal_count -= count;
}

/* Commits the prefix through the latest entry touching dir or naming n. */
static void journal_commit_for(dr_sim_disk *disk, const char *dir, const node *n)
{
    for (size_t i = disk->journal_count; i > 0; i--) {
        const jentry *je = &disk->journal[i - 1];
        if ((n != NULL && je->node == n) || jentry_touches(je, dir)) {
            journal_commit(disk, i);
            return;
        }
    }
}

/* ---- path resolution ------------------------------------------------------------ */

/* Resolves path in `cur` into its canonical form in out: symlinks in the
 * parent chain are followed, the final component only when follow. On success
 * *found says whether the final component exists (its parent always does and
 * is a directory). Returns -1 on success, else the fault. */
static int resolve(const dr_sim_disk *disk, const char *path, bool follow, char *out, bool *found)
{
    if (path[0] != '/')
        return F_NOTABS;
    size_t path_len = strlen(path);
    if (path_len >= DR_PATH_SIZE_MAX)
        return F_TOOLONG;
    char work[DR_PATH_SIZE_MAX];
    memcpy(work, path, path_len + 1);
    int hops = 0;
restart:;
    size_t out_len = 0;
    out[0] = '\0';
    const char *p = work;
    *found = true;
    for (;;) {
        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        const char *end = strchr(p, '/');
        if (end == NULL)
            end = p + strlen(p);
        size_t comp_len = (size_t)(end - p);
        const char *rest = end;
        while (*rest == '/')
            rest++;
        bool last = *rest == '\0';
        if (comp_len == 1 && p[0] == '.') {
            p = end;
            continue;
        }
        if (comp_len == 2 && p[0] == '.' && p[1] == '.') {
            /* out is canonical (no symlinks), so lexical ".." is the real parent. */
            char *slash = strrchr(out, '/');
            if (slash != NULL) {
                *slash = '\0';
                out_len = (size_t)(slash - out);
            }
            p = end;
            continue;
        }
        if (out_len + 1 + comp_len >= DR_PATH_SIZE_MAX)
            return F_TOOLONG;
        out[out_len++] = '/';
        memcpy(out + out_len, p, comp_len);
        out_len += comp_len;
        out[out_len] = '\0';
        const entry *e = ns_get(&disk->cur, out);
        if (e == NULL) {
            if (!last)
                return F_NOENT;
            *found = false;
            return -1;
        }
        if (e->kind == K_LINK && (!last || follow)) {
            if (++hops > SYMLINK_HOPS_MAX)
                return F_LOOP;
            char next[DR_PATH_SIZE_MAX];
            const char *target = e->node->target;
            int n;
            if (target[0] == '/') {
                n = snprintf(next, sizeof next, "%s/%s", target, rest);
            } else {
                char parent[DR_PATH_SIZE_MAX];
                parent_of(out, parent);
                n = snprintf(next, sizeof next, "%s/%s/%s", parent, target, rest);
            }
            if (n < 0 || (size_t)n >= sizeof next)
                return F_TOOLONG;
            memcpy(work, next, (size_t)n + 1);
            goto restart;
        }
        if (!last && e->kind != K_DIR)
            return F_NOTDIR;
        p = end;
    }
    if (out_len == 0)
        strcpy(out, "/");
    return -1;
}

/* ---- faults -------------------------------------------------------------------- */

static bool draw_eio_write(dr_sim_disk *disk)
{
    if (!dr_rng_chance(disk->hooks->rng, faults_of(disk)->disk_eio_write_p))
        return false;
    fire(disk, "disk.eio_write");
    return true;
}

static bool draw_enospc(dr_sim_disk *disk)
{
    if (!dr_rng_chance(disk->hooks->rng, faults_of(disk)->disk_enospc_p))
        return false;
    fire(disk, "disk.enospc");
    return true;
}

static bool draw_eio_fsync(dr_sim_disk *disk)
{
    if (!dr_rng_chance(disk->hooks->rng, faults_of(disk)->disk_eio_fsync_p))
        return false;
    fire(disk, "disk.eio_fsync");
    return true;
}

/* ---- public: lifecycle ------------------------------------------------------------ */

dr_sim_disk *dr_sim_disk_create(const dr_sim_disk_hooks *hooks, uint64_t capacity_bytes)
{
    DR_ASSERT(hooks != NULL);
    DR_ASSERT(hooks->rng != NULL);
    dr_sim_disk *disk = dr_alloc(sizeof *disk);
    disk->hooks = hooks;
    disk->capacity_bytes = capacity_bytes;
    disk->cur.live = true;
    ns_insert(disk, &disk->cur, dr_strdup("/"), K_DIR, NULL);
    ns_insert(disk, &disk->cur, dr_strdup("/tmp"), K_DIR, NULL);
    ns_insert(disk, &disk->dur, dr_strdup("/"), K_DIR, NULL);
    ns_insert(disk, &disk->dur, dr_strdup("/tmp"), K_DIR, NULL);
    return disk;
}

static void handle_free(dr_sim_disk *disk, dr_sim_file *f)
{
    if (f->locked) {
        DR_ASSERT(f->node->lock_count > 0);
        f->node->lock_count--;
    }
    if (f->prev != NULL)
        f->prev->next = f->next;
    else
        disk->files_head = f->next;
    if (f->next != NULL)
        f->next->prev = f->prev;
    else
        disk->files_tail = f->prev;
    live_dec(disk, f->node);
    node_unref(f->node);
    dr_free(f->path);
    dr_free(f);
}

void dr_sim_disk_destroy(dr_sim_disk *disk)
{
    if (disk == NULL)
        return;
    while (disk->files_head != NULL)
        handle_free(disk, disk->files_head);
    for (size_t i = 0; i < disk->journal_count; i++)
        jentry_free(&disk->journal[i]);
    dr_free(disk->journal);
    ns_clear(disk, &disk->cur);
    ns_clear(disk, &disk->dur);
    DR_ASSERT(disk->used_bytes == 0);
    dr_free(disk->cur.v);
    dr_free(disk->dur.v);
    dr_free(disk);
}

void dr_sim_disk_crash(dr_sim_disk *disk)
{
    while (disk->files_head != NULL)
        handle_free(disk, disk->files_head);

    size_t kept_count = (size_t)dr_rng_below(disk->hooks->rng, disk->journal_count + 1);
    for (size_t i = kept_count; i < disk->journal_count; i++)
        fire(disk, "disk.crash_journal_drop");
    journal_commit(disk, kept_count);
    for (size_t i = 0; i < disk->journal_count; i++)
        jentry_free(&disk->journal[i]);
    disk->journal_count = 0;

    ns_clear(disk, &disk->cur);
    DR_ASSERT(disk->used_bytes == 0);
    for (size_t i = 0; i < disk->dur.count; i++) {
        if (disk->dur.v[i].kind == K_FILE)
            node_crash(disk, disk->dur.v[i].node);
    }
    for (size_t i = 0; i < disk->dur.count; i++) {
        const entry *e = &disk->dur.v[i];
        ns_insert(disk, &disk->cur, dr_strdup(e->path), e->kind, e->node);
    }
}

uint64_t dr_sim_disk_used_bytes(const dr_sim_disk *disk) { return disk->used_bytes; }
uint64_t dr_sim_disk_capacity_bytes(const dr_sim_disk *disk) { return disk->capacity_bytes; }
void dr_sim_disk_set_time(dr_sim_disk *disk, uint64_t wall_ns) { disk->wall_ns = wall_ns; }

/* ---- public: file handles --------------------------------------------------------- */

dr_code dr_sim_disk_open(dr_sim_disk *disk, uint64_t owner, const char *path, int flags,
                         dr_sim_file **out, dr_err *err)
{
    char canon[DR_PATH_SIZE_MAX];
    bool found;
    int f = resolve(disk, path, (flags & DR_OPEN_NOFOLLOW) == 0, canon, &found);
    if (f >= 0)
        return fail(err, (fault)f, "open", path);
    node *n;
    if (found) {
        const entry *e = ns_get(&disk->cur, canon);
        DR_ASSERT(e != NULL);
        if (e->kind == K_LINK) /* only with NOFOLLOW: O_NOFOLLOW's ELOOP */
            return fail(err, F_LOOP, "open", path);
        if (e->kind == K_DIR)
            return fail(err, F_ISDIR, "open", path);
        DR_ASSERT(e->kind == K_FILE);
        if ((flags & DR_OPEN_CREATE) && (flags & DR_OPEN_EXCL))
            return fail(err, F_EXIST, "open", path);
        n = e->node;
        if ((flags & DR_OPEN_TRUNC) && n->size > 0)
            node_truncate(disk, n, 0);
    } else {
        if (!(flags & DR_OPEN_CREATE))
            return fail(err, F_NOENT, "open", path);
        n = node_new(disk->wall_ns);
        journal_add(disk, J_ADD, K_FILE, canon, NULL, n);
    }
    dr_sim_file *file = dr_alloc(sizeof *file);
    file->disk = disk;
    file->node = n;
    file->owner = owner;
    file->flags = flags;
    file->path = dr_strdup(canon);
    file->prev = disk->files_tail;
    if (disk->files_tail != NULL)
        disk->files_tail->next = file;
    else
        disk->files_head = file;
    disk->files_tail = file;
    node_ref(n);
    live_inc(disk, n);
    *out = file;
    return DR_OK;
}

void dr_sim_disk_close(dr_sim_disk *disk, dr_sim_file *file)
{
    if (file == NULL)
        return;
    DR_ASSERT(file->disk == disk);
    handle_free(disk, file);
}

dr_code dr_sim_disk_pread(dr_sim_disk *disk, dr_sim_file *file, uint64_t offset, void *buf,
                          size_t size, size_t *read_size, dr_err *err)
{
    DR_ASSERT(file->disk == disk);
    const node *n = file->node;
    size_t got = 0;
    if (offset < n->size)
        got = (size_t)DR_MIN((uint64_t)size, n->size - offset);
    if (got > 0)
        node_read(n, offset, buf, got);
    *read_size = got;
    DR_UNUSED(err);
    return DR_OK;
}

/* The checks every write makes, in a fixed order so draws replay: handle mode,
 * injected EIO, injected ENOSPC, then capacity for the bytes it adds. */
static dr_code write_check(dr_sim_disk *disk, dr_sim_file *file, uint64_t end, const char *op,
                           dr_err *err)
{
    if (!(file->flags & DR_OPEN_WRITE))
        return fail(err, F_BADF, op, file->path);
    if (draw_eio_write(disk))
        return fail(err, F_IO, op, file->path);
    if (draw_enospc(disk))
        return fail(err, F_NOSPC, op, file->path);
    uint64_t grow = end > file->node->size ? end - file->node->size : 0;
    if (grow > disk->capacity_bytes - DR_MIN(disk->used_bytes, disk->capacity_bytes))
        return fail(err, F_NOSPC, op, file->path);
    return DR_OK;
}

dr_code dr_sim_disk_pwrite(dr_sim_disk *disk, dr_sim_file *file, uint64_t offset,
                           const void *data, size_t size, dr_err *err)
{
    DR_ASSERT(file->disk == disk);
    if (offset > UINT64_MAX - size)
        return fail(err, F_FBIG, "write", file->path);
    dr_code rc = write_check(disk, file, offset + size, "write", err);
    if (rc != DR_OK)
        return rc;
    node_write(disk, file->node, offset, data, size);
    return DR_OK;
}

dr_code dr_sim_disk_append(dr_sim_disk *disk, dr_sim_file *file, const void *data, size_t size,
                           dr_err *err)
{
    return dr_sim_disk_pwrite(disk, file, file->node->size, data, size, err);
}

dr_code dr_sim_disk_fsync(dr_sim_disk *disk, dr_sim_file *file, dr_err *err)
{
    DR_ASSERT(file->disk == disk);
    if (draw_eio_fsync(disk))
        return fail(err, F_IO, "fsync", file->path); /* pages stay dirty */
    char parent[DR_PATH_SIZE_MAX];
    parent_of(file->path, parent);
    journal_commit_for(disk, parent, file->node);
    node_sync(file->node);
    return DR_OK;
}

dr_code dr_sim_disk_truncate(dr_sim_disk *disk, dr_sim_file *file, uint64_t size, dr_err *err)
{
    DR_ASSERT(file->disk == disk);
    if (!(file->flags & DR_OPEN_WRITE))
        return fail(err, F_INVAL, "truncate", file->path); /* ftruncate on O_RDONLY */
    uint64_t grow = size > file->node->size ? size - file->node->size : 0;
    if (grow > disk->capacity_bytes - DR_MIN(disk->used_bytes, disk->capacity_bytes))
        return fail(err, F_NOSPC, "truncate", file->path);
    node_truncate(disk, file->node, size);
    return DR_OK;
}

dr_code dr_sim_disk_file_size(dr_sim_disk *disk, dr_sim_file *file, uint64_t *size, dr_err *err)
{
    DR_ASSERT(file->disk == disk);
    DR_UNUSED(err);
    *size = file->node->size;
    return DR_OK;
}

dr_code dr_sim_disk_lock(dr_sim_disk *disk, dr_sim_file *file, dr_err *err)
{
    DR_ASSERT(file->disk == disk);
    node *n = file->node;
    if (file->locked)
        return DR_OK;
    if (n->lock_count > 0 && n->lock_owner != file->owner)
        return fail(err, F_AGAIN, "lock", file->path);
    n->lock_owner = file->owner;
    n->lock_count++;
    file->locked = true;
    return DR_OK;
}

/* ---- public: directories ------------------------------------------------------------ */

dr_code dr_sim_disk_rename(dr_sim_disk *disk, const char *from, const char *to, dr_err *err)
{
    char from_canon[DR_PATH_SIZE_MAX], to_canon[DR_PATH_SIZE_MAX];
    bool from_found, to_found;
    int f = resolve(disk, from, false, from_canon, &from_found);
    if (f < 0 && !from_found)
        f = F_NOENT;
    if (f < 0)
        f = resolve(disk, to, false, to_canon, &to_found);
    if (f >= 0)
        return fail2(err, (fault)f, "rename", from, to);
    if (strcmp(from_canon, to_canon) == 0)
        return DR_OK;
    const entry *src = ns_get(&disk->cur, from_canon);
    if (strcmp(from_canon, "/") == 0)
        return fail2(err, F_BUSY, "rename", from, to);
    if (src->kind == K_DIR) {
        size_t from_len = strlen(from_canon);
        if (strncmp(to_canon, from_canon, from_len) == 0 && to_canon[from_len] == '/')
            return fail2(err, F_INVAL, "rename", from, to); /* into its own subtree */
    }
    if (to_found) {
        const entry *dst = ns_get(&disk->cur, to_canon);
        if (src->kind == K_DIR && dst->kind != K_DIR)
            return fail2(err, F_NOTDIR, "rename", from, to);
        if (src->kind != K_DIR && dst->kind == K_DIR)
            return fail2(err, F_ISDIR, "rename", from, to);
        if (dst->kind == K_DIR && !ns_dir_empty(&disk->cur, to_canon))
            return fail2(err, F_NOTEMPTY, "rename", from, to);
    }
    journal_add(disk, J_RENAME, 0, from_canon, to_canon, NULL);
    return DR_OK;
}

dr_code dr_sim_disk_unlink(dr_sim_disk *disk, const char *path, dr_err *err)
{
    char canon[DR_PATH_SIZE_MAX];
    bool found;
    int f = resolve(disk, path, false, canon, &found);
    if (f < 0 && !found)
        f = F_NOENT;
    if (f >= 0)
        return fail(err, (fault)f, "unlink", path);
    if (ns_get(&disk->cur, canon)->kind == K_DIR)
        return fail(err, F_ISDIR, "unlink", path);
    journal_add(disk, J_REMOVE, 0, canon, NULL, NULL);
    return DR_OK;
}

dr_code dr_sim_disk_mkdir(dr_sim_disk *disk, const char *path, dr_err *err)
{
    char canon[DR_PATH_SIZE_MAX];
    bool found;
    int f = resolve(disk, path, false, canon, &found);
    if (f < 0 && found)
        f = F_EXIST;
    if (f >= 0)
        return fail(err, (fault)f, "mkdir", path);
    journal_add(disk, J_ADD, K_DIR, canon, NULL, NULL);
    return DR_OK;
}

dr_code dr_sim_disk_rmdir(dr_sim_disk *disk, const char *path, dr_err *err)
{
    char canon[DR_PATH_SIZE_MAX];
    bool found;
    int f = resolve(disk, path, false, canon, &found);
    if (f < 0 && !found)
        f = F_NOENT;
    if (f >= 0)
        return fail(err, (fault)f, "rmdir", path);
    if (ns_get(&disk->cur, canon)->kind != K_DIR)
        return fail(err, F_NOTDIR, "rmdir", path);
    if (strcmp(canon, "/") == 0)
        return fail(err, F_BUSY, "rmdir", path);
    if (!ns_dir_empty(&disk->cur, canon))
        return fail(err, F_NOTEMPTY, "rmdir", path);
    journal_add(disk, J_REMOVE, 0, canon, NULL, NULL);
    return DR_OK;
}

/* Resolves a path that must name an existing directory (following links). */
static dr_code resolve_dir(dr_sim_disk *disk, const char *op, const char *path, char *canon,
                           dr_err *err)
{
    bool found;
    int f = resolve(disk, path, true, canon, &found);
    if (f < 0 && !found)
        f = F_NOENT;
    if (f < 0 && ns_get(&disk->cur, canon)->kind != K_DIR)
        f = F_NOTDIR;
    if (f >= 0)
        return fail(err, (fault)f, op, path);
    return DR_OK;
}

dr_code dr_sim_disk_list_dir(dr_sim_disk *disk, const char *path, dr_dir_list *out, dr_err *err)
{
    char canon[DR_PATH_SIZE_MAX];
    dr_code rc = resolve_dir(disk, "opendir", path, canon, err);
    if (rc != DR_OK)
        return rc;
    size_t lo, hi;
    ns_subtree(&disk->cur, canon, &lo, &hi);
    size_t prefix_len = strcmp(canon, "/") == 0 ? 1 : strlen(canon) + 1;
    size_t count = 0;
    for (size_t i = lo; i < hi; i++) {
        if (strchr(disk->cur.v[i].path + prefix_len, '/') == NULL)
            count++;
    }
    dr_dir_list list = {.names = dr_alloc_array(count + 1, sizeof(char *)), .count = 0};
    /* Children of a directory are contiguous in path order and, sharing the
     * prefix, already sorted by name. */
    for (size_t i = lo; i < hi; i++) {
        const char *name = disk->cur.v[i].path + prefix_len;
        if (strchr(name, '/') == NULL)
            list.names[list.count++] = dr_strdup(name);
    }
    DR_ASSERT(list.count == count);
    *out = list;
    return DR_OK;
}

dr_code dr_sim_disk_fsync_dir(dr_sim_disk *disk, const char *path, dr_err *err)
{
    char canon[DR_PATH_SIZE_MAX];
    dr_code rc = resolve_dir(disk, "fsync", path, canon, err);
    if (rc != DR_OK)
        return rc;
    if (draw_eio_fsync(disk))
        return fail(err, F_IO, "fsync", path);
    journal_commit_for(disk, canon, NULL);
    return DR_OK;
}

dr_code dr_sim_disk_stat(dr_sim_disk *disk, const char *path, bool follow_links,
                         dr_file_stat *out, dr_err *err)
{
    char canon[DR_PATH_SIZE_MAX];
    bool found;
    int f = resolve(disk, path, follow_links, canon, &found);
    if (f < 0 && !found)
        f = F_NOENT;
    if (f >= 0)
        return fail(err, (fault)f, "stat", path);
    const entry *e = ns_get(&disk->cur, canon);
    dr_file_stat st = {0};
    st.is_dir = e->kind == K_DIR;
    st.is_symlink = e->kind == K_LINK;
    if (e->kind == K_FILE)
        st.size_bytes = e->node->size;
    else if (e->kind == K_LINK)
        st.size_bytes = strlen(e->node->target);
    st.mtime_ns = e->node != NULL ? e->node->mtime_ns : 0;
    *out = st;
    return DR_OK;
}

dr_code dr_sim_disk_symlink(dr_sim_disk *disk, const char *target, const char *link_path,
                            dr_err *err)
{
    size_t target_len = strlen(target);
    if (target_len == 0)
        return fail(err, F_NOENT, "symlink", link_path);
    if (target_len >= DR_PATH_SIZE_MAX)
        return fail(err, F_TOOLONG, "symlink", link_path);
    char canon[DR_PATH_SIZE_MAX];
    bool found;
    int f = resolve(disk, link_path, false, canon, &found);
    if (f < 0 && found)
        f = F_EXIST;
    if (f >= 0)
        return fail(err, (fault)f, "symlink", link_path);
    node *n = node_new(disk->wall_ns);
    n->target = dr_strdup(target);
    journal_add(disk, J_ADD, K_LINK, canon, NULL, n);
    return DR_OK;
}

dr_code dr_sim_disk_readlink(dr_sim_disk *disk, const char *path, char *out, size_t out_size,
                             dr_err *err)
{
    char canon[DR_PATH_SIZE_MAX];
    bool found;
    int f = resolve(disk, path, false, canon, &found);
    if (f < 0 && !found)
        f = F_NOENT;
    if (f >= 0)
        return fail(err, (fault)f, "readlink", path);
    const entry *e = ns_get(&disk->cur, canon);
    if (e->kind != K_LINK)
        return fail(err, F_INVAL, "readlink", path);
    if (!dr_strlcpy(out, e->node->target, out_size))
        return dr_err_set(err, DR_ETOOBIG, "readlink '%s': target is %zu bytes, buffer holds %zu",
                          path, strlen(e->node->target), out_size);
    return DR_OK;
}
