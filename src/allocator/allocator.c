/* src/allocator/allocator.c — weighted hierarchical DRF with reservations,
 * offer filters, suppress/revive and minimum allocatable resources: Mesos's
 * HierarchicalAllocatorProcess without quota, as a pure state machine.
 *
 * Representation. Resources cross the interface as Mesos__Resource lists;
 * inside, every resource is split into an interned *key* (everything but the
 * value: name, type, reservations, disk, shared, revocable, provider — the
 * identity bytes of dr_resource_identity) and a value, and a set of
 * resources is a compact vector (`avec`) of (key, value) entries sorted by
 * key: scalars as int64 thousandths (Mesos's fixed point), ranges as sorted
 * coalesced begin/end pairs, sets as sorted interned string ids. All hot-loop
 * arithmetic (allocatable subset, filter containment, add, subtract) works
 * on these small sorted arrays.
 *
 * Shares. The dominant share of a framework (per role) or a role subtree is
 * max over scalar names (fair_sharing_excluded left out) of allocated/total,
 * total being the cluster's total per name; it is computed in fixed point,
 * (allocated << 40) / total, then divided by the weight in thousandths, so
 * results never depend on the compiler's floating point.
 *
 * Order. Agents are visited in id order, starting one further each cycle
 * (a deterministic rotation in place of Mesos's shuffle); roles in
 * hierarchical DRF order (siblings by weighted subtree share, a role's own
 * frameworks competing with its children as Mesos's virtual leaf); the
 * frameworks of a role by (share, id) in a sorted array kept in order as
 * shares move. Ties end on names, never on addresses.
 *
 * Filters. A refusal stores the refused resources (interned: identical
 * vectors share one copy) and an expiry in a per-agent array indexed by the
 * dense (framework, role) slot, so the check in the hot loop is one load and,
 * when live, one containment test (memoized per candidate). A new refusal
 * for the same (framework, role, agent) replaces the old one.
 *
 * Accounting. Per agent: total == allocated + available, and allocated is
 * also kept per (framework, role) user so that removing an agent or a
 * framework untracks exactly what it held. Asserted after every mutation.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "src/allocator/allocator.h"
#include "src/limits.h"
#include "src/resources/resources.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define NONE UINT32_MAX
#define SHARE_SHIFT 40
#define REFUSE_NS_MAX (UINT64_C(365) * 24 * 3600 * DR_NS_PER_S)
#define NAMES_MAX DR_ALLOC_NAME_COUNT_MAX
#define TOTAL_MILLIS_MAX (INT64_MAX / 4)
#define AGENT_SCALAR_MAX 1e15 /* per name and agent, in units (1e18 thousandths) */

/* ---- small containers --------------------------------------------------------------- */

#define VEC_PUSH(arr, count, cap, value)                                            \
    do {                                                                            \
        if ((count) == (cap)) {                                                     \
            (cap) = (cap) == 0 ? 4 : (cap) * 2;                                     \
            (arr) = dr_realloc((arr), (size_t)(cap) * sizeof *(arr));               \
        }                                                                           \
        (arr)[(count)++] = (value);                                                 \
    } while (0)

/* Open-addressing map from byte strings (borrowed from the records they
 * name) to uint32 values. Lookups never iterate; nothing iterates it. */
typedef struct bmap_slot {
    const void *key; /* NULL: empty; &tomb: deleted */
    size_t size;
    uint64_t hash;
    uint32_t value;
} bmap_slot;

typedef struct bmap {
    bmap_slot *slots;
    size_t cap; /* power of two */
    size_t used; /* live + tombstones */
    size_t live;
} bmap;

static const char tomb;

static uint64_t hash_bytes(const void *p, size_t n)
{
    return XXH3_64bits(p, n);
}

static bmap_slot *bmap_find(const bmap *m, const void *key, size_t size, uint64_t hash)
{
    if (m->cap == 0)
        return NULL;
    for (size_t i = hash & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        bmap_slot *s = &m->slots[i];
        if (s->key == NULL)
            return NULL;
        if (s->key != &tomb && s->hash == hash && s->size == size && memcmp(s->key, key, size) == 0)
            return s;
    }
}

static void bmap_put_raw(bmap *m, const void *key, size_t size, uint64_t hash, uint32_t value)
{
    for (size_t i = hash & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        bmap_slot *s = &m->slots[i];
        if (s->key == NULL) {
            *s = (bmap_slot){key, size, hash, value};
            m->used++;
            m->live++;
            return;
        }
    }
}

static void bmap_put(bmap *m, const void *key, size_t size, uint32_t value)
{
    uint64_t hash = hash_bytes(key, size);
    DR_ASSERT(bmap_find(m, key, size, hash) == NULL);
    if ((m->used + 1) * 2 > m->cap) {
        bmap old = *m;
        size_t cap = 16;
        while (cap < (m->live + 1) * 4)
            cap *= 2;
        m->slots = dr_alloc_array(cap, sizeof *m->slots);
        m->cap = cap;
        m->used = m->live = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.slots[i].key != NULL && old.slots[i].key != &tomb)
                bmap_put_raw(m, old.slots[i].key, old.slots[i].size, old.slots[i].hash,
                             old.slots[i].value);
        dr_free(old.slots);
    }
    bmap_put_raw(m, key, size, hash, value);
}

static uint32_t bmap_get(const bmap *m, const void *key, size_t size)
{
    bmap_slot *s = bmap_find(m, key, size, hash_bytes(key, size));
    return s == NULL ? NONE : s->value;
}

static void bmap_del(bmap *m, const void *key, size_t size)
{
    bmap_slot *s = bmap_find(m, key, size, hash_bytes(key, size));
    DR_ASSERT(s != NULL);
    s->key = &tomb;
    m->live--;
}

static uint32_t smap_get(const bmap *m, const char *s)
{
    return bmap_get(m, s, strlen(s));
}

/* A stable merge sort with a context argument (qsort has none, and a
 * global context would be mutable global state). */
typedef struct dr_allocator dr_allocator;
typedef int sort_cmp_fn(const void *x, const void *y, const dr_allocator *a);

static void sort_by(void *base, size_t n, size_t size, sort_cmp_fn *cmp, const dr_allocator *a)
{
    if (n < 2)
        return;
    uint8_t *src = base, *tmp = dr_alloc_array(n, size), *dst = tmp;
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = DR_MIN(lo + width, n), hi = DR_MIN(lo + 2 * width, n);
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                if (cmp(src + j * size, src + i * size, a) < 0)
                    memcpy(dst + k++ * size, src + j++ * size, size);
                else
                    memcpy(dst + k++ * size, src + i++ * size, size);
            }
            memcpy(dst + k * size, src + i * size, (mid - i) * size);
            k += mid - i;
            memcpy(dst + k * size, src + j * size, (hi - j) * size);
        }
        uint8_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != base)
        memcpy(base, src, n * size);
    dr_free(src == base ? dst : src);
}

/* ---- types --------------------------------------------------------------------------- */

typedef struct ent {
    uint32_t key;
    uint32_t n; /* ranges: pairs; sets: items */
    union {
        int64_t millis;
        uint64_t *pairs; /* owned */
        uint32_t *items; /* owned, sorted string ids */
    } v;
} ent;

typedef struct avec {
    ent *e;
    uint32_t count, cap;
} avec;

typedef struct key {
    uint8_t *ident; /* owned identity bytes */
    size_t ident_size;
    uint32_t name;
    Mesos__Value__Type type;
    uint32_t role;  /* reservation role node, NONE when unreserved */
    bool refined;   /* more than one reservation */
    bool revocable;
    bool shared;
    bool plain;     /* nothing but name/type and at most one STATIC reservation */
    Mesos__Resource *proto; /* owned template, value and allocation_info cleared */
} key;

typedef struct rnode {
    char *name;
    uint32_t parent;
    uint32_t depth;
    uint32_t *children;
    uint32_t child_count, child_cap;
    int64_t weight_millis;
    bool weight_set;
    int64_t alloc[NAMES_MAX]; /* subtree */
    int64_t own[NAMES_MAX];   /* its own frameworks */
    uint64_t share;           /* weighted subtree share (computed when ordering) */
    uint64_t own_share;
    uint32_t *clients; /* fwrole indices by (share, framework id) */
    uint32_t client_count, client_cap;
} rnode;

typedef struct fwrole {
    bool live;
    bool subscribed;
    bool suppressed;
    uint32_t fw;
    uint32_t role;
    uint64_t share; /* weighted dominant share: the sort key */
    uint64_t stamp; /* agent visit at which it was last offered */
    int64_t *alloc; /* owned, [NAMES_MAX]: kept out of the struct the hot loop scans */
} fwrole;

typedef struct framework {
    bool live;
    bool registered;
    bool active;
    char *id;
    uint32_t caps;
    uint32_t *roles; /* fwrole indices */
    uint32_t role_count, role_cap;
} framework;

typedef struct afilter {
    uint64_t expiry_ns;
    uint32_t fvec; /* 0: no filter, else fvec index + 1 */
    uint32_t pad;
} afilter;

typedef struct ause {
    uint32_t fwrole; /* NONE: of removed frameworks */
    avec alloc;
} ause;

typedef struct agent {
    bool live;
    bool active;
    bool special;  /* has revocable, shared or refined resources */
    bool has_gpus;
    char *id;
    avec total, allocated, available;
    ause *uses;
    uint32_t use_count, use_cap;
    afilter *filters; /* indexed by fwrole */
    uint32_t filter_cap;
    uint32_t filter_count;
} agent;

typedef struct fvec {
    avec v;
    uint8_t *bytes; /* owned serialization: the interning key */
    size_t size;
    uint32_t refs;
} fvec;

struct dr_allocator {
    dr_allocator_opts opts;
    int64_t min_cpus_millis, min_mem_millis;

    char *names[NAMES_MAX];
    uint32_t name_count;
    bool excluded[NAMES_MAX];
    int64_t total[NAMES_MAX];
    uint32_t cpus_name, mem_name, gpus_name;

    key *keys;
    uint32_t key_count, key_cap;
    bmap key_map;

    char **strs; /* set items */
    uint32_t str_count, str_cap;
    bmap str_map;

    rnode *nodes;
    uint32_t node_count, node_cap;
    bmap node_map;
    uint32_t *top; /* top-level nodes */
    uint32_t top_count, top_cap;

    fwrole *fwroles;
    uint32_t fwrole_count, fwrole_cap;
    uint32_t *fwrole_free;
    uint32_t fwrole_free_count, fwrole_free_cap;

    framework *fws;
    uint32_t fw_count, fw_cap;
    uint32_t *fw_free;
    uint32_t fw_free_count, fw_free_cap;
    bmap fw_map;

    agent *agents;
    uint32_t agent_count, agent_cap;
    uint32_t *agent_free;
    uint32_t agent_free_count, agent_free_cap;
    bmap agent_map;
    uint32_t *sorted_agents; /* live agents by id */
    uint32_t sorted_count, sorted_cap;

    fvec *fvecs;
    uint32_t fvec_count, fvec_cap;
    uint32_t *fvec_free;
    uint32_t fvec_free_count, fvec_free_cap;
    bmap fvec_map;

    bool shares_dirty; /* totals or weights changed: recompute and resort all */
    bool order_dirty;
    uint32_t *order; /* role nodes with clients, hierarchical DRF order */
    uint32_t order_count, order_cap;

    uint64_t cycle_count;
    uint64_t visit_count;
    avec scratch[3];
    dr_buf buf;
};

/* ---- names, strings, keys ------------------------------------------------------------ */

static uint32_t name_find(const dr_allocator *a, const char *name)
{
    for (uint32_t i = 0; i < a->name_count; i++)
        if (strcmp(a->names[i], name) == 0)
            return i;
    return NONE;
}

static uint32_t name_intern(dr_allocator *a, const char *name)
{
    uint32_t i = name_find(a, name);
    if (i != NONE)
        return i;
    DR_ASSERT(a->name_count < NAMES_MAX); /* callers checked */
    a->names[a->name_count] = dr_strdup(name);
    return a->name_count++;
}

static uint32_t str_intern(dr_allocator *a, const char *s)
{
    uint32_t id = smap_get(&a->str_map, s);
    if (id != NONE)
        return id;
    id = a->str_count;
    VEC_PUSH(a->strs, a->str_count, a->str_cap, dr_strdup(s));
    bmap_put(&a->str_map, a->strs[id], strlen(a->strs[id]), id);
    return id;
}

static uint32_t node_get(dr_allocator *a, const char *role);

/* The key of r (allocation_info ignored), interned. */
static uint32_t key_intern(dr_allocator *a, const Mesos__Resource *r)
{
    Mesos__Resource tmp = *r;
    tmp.allocation_info = NULL;
    dr_buf_reset(&a->buf);
    dr_resource_identity(&tmp, &a->buf);
    uint32_t id = bmap_get(&a->key_map, a->buf.data, a->buf.size);
    if (id != NONE)
        return id;
    key k = {0};
    k.ident_size = a->buf.size;
    k.ident = dr_alloc(a->buf.size == 0 ? 1 : a->buf.size);
    memcpy(k.ident, a->buf.data, a->buf.size);
    k.name = name_intern(a, r->name);
    k.type = r->type;
    k.role = r->n_reservations == 0 ? NONE : node_get(a, dr_resource_role(r));
    k.refined = r->n_reservations > 1;
    k.revocable = r->revocable != NULL;
    k.shared = r->shared != NULL;
    k.plain = r->disk == NULL && r->revocable == NULL && r->shared == NULL &&
              r->provider_id == NULL &&
              (r->n_reservations == 0 ||
               (r->n_reservations == 1 && r->reservations[0]->principal == NULL &&
                r->reservations[0]->labels == NULL &&
                r->reservations[0]->type == MESOS__RESOURCE__RESERVATION_INFO__TYPE__STATIC));
    tmp.scalar = NULL;
    tmp.ranges = NULL;
    tmp.set = NULL;
    tmp.role = NULL;
    tmp.reservation = NULL;
    k.proto = dr_resource_copy(&tmp);
    id = a->key_count;
    VEC_PUSH(a->keys, a->key_count, a->key_cap, k);
    bmap_put(&a->key_map, a->keys[id].ident, a->keys[id].ident_size, id);
    return id;
}

/* ---- ranges on pairs ------------------------------------------------------------------ */

/* out = x ∪ y (both normalized). Returns the pair count; out holds 2*(nx+ny). */
static uint32_t pairs_union(const uint64_t *x, uint32_t nx, const uint64_t *y, uint32_t ny,
                            uint64_t *out)
{
    uint32_t i = 0, j = 0, n = 0;
    while (i < nx || j < ny) {
        const uint64_t *p;
        if (j == ny || (i < nx && x[2 * i] <= y[2 * j]))
            p = &x[2 * i++];
        else
            p = &y[2 * j++];
        if (n > 0 && (out[2 * n - 1] == UINT64_MAX || p[0] <= out[2 * n - 1] + 1)) {
            if (p[1] > out[2 * n - 1])
                out[2 * n - 1] = p[1];
        } else {
            out[2 * n] = p[0];
            out[2 * n + 1] = p[1];
            n++;
        }
    }
    return n;
}

/* out = x \ y. out holds 2*(nx+ny) values. */
static uint32_t pairs_minus(const uint64_t *x, uint32_t nx, const uint64_t *y, uint32_t ny,
                            uint64_t *out)
{
    uint32_t n = 0, j = 0;
    for (uint32_t i = 0; i < nx; i++) {
        uint64_t b = x[2 * i], e = x[2 * i + 1];
        while (j < ny && y[2 * j + 1] < b)
            j++;
        bool alive = true;
        for (uint32_t k = j; alive && k < ny && y[2 * k] <= e; k++) {
            if (y[2 * k] > b) {
                out[2 * n] = b;
                out[2 * n + 1] = y[2 * k] - 1;
                n++;
            }
            if (y[2 * k + 1] >= e)
                alive = false;
            else
                b = y[2 * k + 1] + 1;
        }
        if (alive) {
            out[2 * n] = b;
            out[2 * n + 1] = e;
            n++;
        }
    }
    return n;
}

static bool pairs_within(const uint64_t *x, uint32_t nx, const uint64_t *y, uint32_t ny)
{
    uint32_t i = 0;
    for (uint32_t j = 0; j < ny; j++) {
        while (i < nx && x[2 * i + 1] < y[2 * j])
            i++;
        if (i == nx || x[2 * i] > y[2 * j] || x[2 * i + 1] < y[2 * j + 1])
            return false;
    }
    return true;
}

static uint32_t items_union(const uint32_t *x, uint32_t nx, const uint32_t *y, uint32_t ny,
                            uint32_t *out)
{
    uint32_t i = 0, j = 0, n = 0;
    while (i < nx || j < ny) {
        if (j == ny || (i < nx && x[i] < y[j]))
            out[n++] = x[i++];
        else if (i == nx || y[j] < x[i])
            out[n++] = y[j++];
        else {
            out[n++] = x[i++];
            j++;
        }
    }
    return n;
}

static uint32_t items_minus(const uint32_t *x, uint32_t nx, const uint32_t *y, uint32_t ny,
                            uint32_t *out)
{
    uint32_t n = 0, j = 0;
    for (uint32_t i = 0; i < nx; i++) {
        while (j < ny && y[j] < x[i])
            j++;
        if (j == ny || y[j] != x[i])
            out[n++] = x[i];
    }
    return n;
}

static bool items_within(const uint32_t *x, uint32_t nx, const uint32_t *y, uint32_t ny)
{
    uint32_t i = 0;
    for (uint32_t j = 0; j < ny; j++) {
        while (i < nx && x[i] < y[j])
            i++;
        if (i == nx || x[i] != y[j])
            return false;
    }
    return true;
}

/* ---- compact vectors --------------------------------------------------------------------- */

static Mesos__Value__Type ent_type(const dr_allocator *a, const ent *e)
{
    return a->keys[e->key].type;
}

static void ent_release(const dr_allocator *a, ent *e)
{
    Mesos__Value__Type t = ent_type(a, e);
    if (t == MESOS__VALUE__TYPE__RANGES)
        dr_free(e->v.pairs);
    else if (t == MESOS__VALUE__TYPE__SET)
        dr_free(e->v.items);
}

static ent ent_copy(const dr_allocator *a, const ent *e)
{
    ent c = *e;
    Mesos__Value__Type t = ent_type(a, e);
    if (t == MESOS__VALUE__TYPE__RANGES) {
        c.v.pairs = dr_alloc_array(2 * (size_t)e->n + 1, sizeof *c.v.pairs);
        memcpy(c.v.pairs, e->v.pairs, 2 * (size_t)e->n * sizeof *c.v.pairs);
    } else if (t == MESOS__VALUE__TYPE__SET) {
        c.v.items = dr_alloc_array((size_t)e->n + 1, sizeof *c.v.items);
        memcpy(c.v.items, e->v.items, (size_t)e->n * sizeof *c.v.items);
    }
    return c;
}

static bool ent_empty(const dr_allocator *a, const ent *e)
{
    return ent_type(a, e) == MESOS__VALUE__TYPE__SCALAR ? e->v.millis <= 0 : e->n == 0;
}

static void avec_clear(const dr_allocator *a, avec *v)
{
    for (uint32_t i = 0; i < v->count; i++)
        ent_release(a, &v->e[i]);
    v->count = 0;
}

static void avec_free(const dr_allocator *a, avec *v)
{
    avec_clear(a, v);
    dr_free(v->e);
    memset(v, 0, sizeof *v);
}

static void avec_copy(const dr_allocator *a, avec *dst, const avec *src)
{
    avec_clear(a, dst);
    for (uint32_t i = 0; i < src->count; i++)
        VEC_PUSH(dst->e, dst->count, dst->cap, ent_copy(a, &src->e[i]));
}

/* Index of key k in v, or where it would go (with *found false). */
static uint32_t avec_seek(const avec *v, uint32_t k, bool *found)
{
    uint32_t lo = 0, hi = v->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (v->e[mid].key < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < v->count && v->e[lo].key == k;
    return lo;
}

static void avec_insert_at(avec *v, uint32_t at, ent e)
{
    VEC_PUSH(v->e, v->count, v->cap, e);
    memmove(&v->e[at + 1], &v->e[at], (size_t)(v->count - 1 - at) * sizeof *v->e);
    v->e[at] = e;
}

static void avec_remove_at(const dr_allocator *a, avec *v, uint32_t at)
{
    ent_release(a, &v->e[at]);
    memmove(&v->e[at], &v->e[at + 1], (size_t)(v->count - at - 1) * sizeof *v->e);
    v->count--;
}

/* v += one entry (borrowed). */
static void avec_add_ent(const dr_allocator *a, avec *v, const ent *x)
{
    if (ent_empty(a, x))
        return;
    bool found;
    uint32_t at = avec_seek(v, x->key, &found);
    if (!found) {
        avec_insert_at(v, at, ent_copy(a, x));
        return;
    }
    ent *y = &v->e[at];
    switch (ent_type(a, x)) {
    case MESOS__VALUE__TYPE__SCALAR:
        y->v.millis += x->v.millis;
        break;
    case MESOS__VALUE__TYPE__RANGES: {
        uint64_t *out = dr_alloc_array(2 * ((size_t)x->n + y->n) + 1, sizeof *out);
        y->n = pairs_union(y->v.pairs, y->n, x->v.pairs, x->n, out);
        dr_free(y->v.pairs);
        y->v.pairs = out;
        break;
    }
    case MESOS__VALUE__TYPE__SET: {
        uint32_t *out = dr_alloc_array((size_t)x->n + y->n + 1, sizeof *out);
        y->n = items_union(y->v.items, y->n, x->v.items, x->n, out);
        dr_free(y->v.items);
        y->v.items = out;
        break;
    }
    default:
        DR_UNREACHABLE();
    }
}

static void avec_add(const dr_allocator *a, avec *v, const avec *w)
{
    DR_ASSERT(v != w);
    for (uint32_t i = 0; i < w->count; i++)
        avec_add_ent(a, v, &w->e[i]);
}

static bool ent_within(const dr_allocator *a, const ent *y, const ent *x)
{
    switch (ent_type(a, x)) {
    case MESOS__VALUE__TYPE__SCALAR:
        return y->v.millis >= x->v.millis;
    case MESOS__VALUE__TYPE__RANGES:
        return pairs_within(y->v.pairs, y->n, x->v.pairs, x->n);
    case MESOS__VALUE__TYPE__SET:
        return items_within(y->v.items, y->n, x->v.items, x->n);
    default:
        DR_UNREACHABLE();
    }
}

/* v ⊇ w: one merge over both sorted vectors. */
static bool avec_contains(const dr_allocator *a, const avec *v, const avec *w)
{
    uint32_t i = 0;
    for (uint32_t j = 0; j < w->count; j++) {
        while (i < v->count && v->e[i].key < w->e[j].key)
            i++;
        if (i == v->count || v->e[i].key != w->e[j].key)
            return false;
        if (!ent_within(a, &v->e[i], &w->e[j]))
            return false;
    }
    return true;
}

/* v -= w; w must be contained in v (asserted: accounting never goes negative). */
static void avec_sub(const dr_allocator *a, avec *v, const avec *w)
{
    DR_ASSERT(v != w);
    for (uint32_t j = 0; j < w->count; j++) {
        const ent *x = &w->e[j];
        bool found;
        uint32_t at = avec_seek(v, x->key, &found);
        DR_ASSERT(found);
        ent *y = &v->e[at];
        DR_ASSERT(ent_within(a, y, x));
        switch (ent_type(a, x)) {
        case MESOS__VALUE__TYPE__SCALAR:
            y->v.millis -= x->v.millis;
            DR_ASSERT(y->v.millis >= 0);
            break;
        case MESOS__VALUE__TYPE__RANGES: {
            uint64_t *out = dr_alloc_array(2 * ((size_t)x->n + y->n) + 1, sizeof *out);
            y->n = pairs_minus(y->v.pairs, y->n, x->v.pairs, x->n, out);
            dr_free(y->v.pairs);
            y->v.pairs = out;
            break;
        }
        case MESOS__VALUE__TYPE__SET: {
            uint32_t *out = dr_alloc_array((size_t)y->n + 1, sizeof *out);
            y->n = items_minus(y->v.items, y->n, x->v.items, x->n, out);
            dr_free(y->v.items);
            y->v.items = out;
            break;
        }
        default:
            DR_UNREACHABLE();
        }
        if (ent_empty(a, y))
            avec_remove_at(a, v, at);
    }
}

static bool avec_equal(const dr_allocator *a, const avec *v, const avec *w)
{
    return v->count == w->count && avec_contains(a, v, w) && avec_contains(a, w, v);
}

static int64_t avec_millis(const dr_allocator *a, const avec *v, uint32_t name)
{
    int64_t sum = 0;
    for (uint32_t i = 0; i < v->count; i++) {
        const key *k = &a->keys[v->e[i].key];
        if (k->name == name && k->type == MESOS__VALUE__TYPE__SCALAR)
            sum += v->e[i].v.millis;
    }
    return sum;
}

static int pair_cmp(const void *x, const void *y)
{
    const uint64_t *p = x, *q = y;
    if (p[0] != q[0])
        return p[0] < q[0] ? -1 : 1;
    return p[1] < q[1] ? -1 : p[1] > q[1];
}

static int u32_cmp(const void *x, const void *y)
{
    uint32_t p = *(const uint32_t *)x, q = *(const uint32_t *)y;
    return p < q ? -1 : p > q;
}

/* v += resources (borrowed; validated by the caller). */
static void avec_add_resources(dr_allocator *a, avec *v, const Mesos__Resource *const *rs,
                               size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const Mesos__Resource *r = rs[i];
        if (dr_resource_is_empty(r))
            continue;
        ent e = {.key = key_intern(a, r)};
        switch (r->type) {
        case MESOS__VALUE__TYPE__SCALAR:
            e.v.millis = dr_resource_millis(r);
            avec_add_ent(a, v, &e);
            break;
        case MESOS__VALUE__TYPE__RANGES: {
            uint32_t n = (uint32_t)r->ranges->n_range;
            uint64_t *p = dr_alloc_array(2 * (size_t)n + 1, sizeof *p);
            for (uint32_t j = 0; j < n; j++) {
                p[2 * j] = r->ranges->range[j]->begin;
                p[2 * j + 1] = r->ranges->range[j]->end;
            }
            qsort(p, n, 2 * sizeof *p, pair_cmp);
            uint64_t *q = dr_alloc_array(2 * (size_t)n + 1, sizeof *q);
            e.n = pairs_union(p, n, NULL, 0, q);
            e.v.pairs = q;
            avec_add_ent(a, v, &e);
            dr_free(p);
            dr_free(q);
            break;
        }
        case MESOS__VALUE__TYPE__SET: {
            uint32_t n = (uint32_t)r->set->n_item;
            uint32_t *p = dr_alloc_array((size_t)n + 1, sizeof *p);
            for (uint32_t j = 0; j < n; j++)
                p[j] = str_intern(a, r->set->item[j]);
            qsort(p, n, sizeof *p, u32_cmp);
            uint32_t *q = dr_alloc_array((size_t)n + 1, sizeof *q);
            e.n = items_union(p, n, NULL, 0, q);
            e.v.items = q;
            avec_add_ent(a, v, &e);
            dr_free(p);
            dr_free(q);
            break;
        }
        default:
            DR_UNREACHABLE();
        }
    }
}

/* One Mesos__Resource for entry e (returns owned). */
static Mesos__Resource *ent_to_resource(const dr_allocator *a, const ent *e, const char *role)
{
    const key *k = &a->keys[e->key];
    Mesos__Resource *r;
    if (k->plain) {
        const char *res_role = k->role == NONE ? NULL : a->nodes[k->role].name;
        r = dr_alloc(sizeof *r);
        mesos__resource__init(r);
        r->role = NULL;
        r->name = dr_strdup(a->names[k->name]);
        r->type = k->type;
        if (res_role != NULL) {
            Mesos__Resource__ReservationInfo *info = dr_alloc(sizeof *info);
            mesos__resource__reservation_info__init(info);
            info->has_type = 1;
            info->type = MESOS__RESOURCE__RESERVATION_INFO__TYPE__STATIC;
            info->role = dr_strdup(res_role);
            r->reservations = dr_alloc(sizeof *r->reservations);
            r->reservations[0] = info;
            r->n_reservations = 1;
        }
    } else {
        r = dr_resource_copy(k->proto);
    }
    switch (k->type) {
    case MESOS__VALUE__TYPE__SCALAR:
        r->scalar = dr_alloc(sizeof *r->scalar);
        mesos__value__scalar__init(r->scalar);
        r->scalar->value = (double)e->v.millis / 1000.0;
        break;
    case MESOS__VALUE__TYPE__RANGES:
        r->ranges = dr_alloc(sizeof *r->ranges);
        mesos__value__ranges__init(r->ranges);
        r->ranges->n_range = e->n;
        r->ranges->range = dr_alloc_array((size_t)e->n + 1, sizeof *r->ranges->range);
        for (uint32_t i = 0; i < e->n; i++) {
            Mesos__Value__Range *x = dr_alloc(sizeof *x);
            mesos__value__range__init(x);
            x->begin = e->v.pairs[2 * i];
            x->end = e->v.pairs[2 * i + 1];
            r->ranges->range[i] = x;
        }
        break;
    case MESOS__VALUE__TYPE__SET:
        r->set = dr_alloc(sizeof *r->set);
        mesos__value__set__init(r->set);
        r->set->n_item = e->n;
        r->set->item = dr_alloc_array((size_t)e->n + 1, sizeof *r->set->item);
        for (uint32_t i = 0; i < e->n; i++)
            r->set->item[i] = dr_strdup(a->strs[e->v.items[i]]);
        break;
    default:
        DR_UNREACHABLE();
    }
    if (role != NULL) {
        r->allocation_info = dr_alloc(sizeof *r->allocation_info);
        mesos__resource__allocation_info__init(r->allocation_info);
        r->allocation_info->role = dr_strdup(role);
    }
    return r;
}

/* ---- filters' interned vectors ------------------------------------------------------- */

static void avec_serialize(const dr_allocator *a, const avec *v, dr_buf *out)
{
    dr_buf_reset(out);
    for (uint32_t i = 0; i < v->count; i++) {
        const ent *e = &v->e[i];
        dr_buf_append(out, &e->key, sizeof e->key);
        dr_buf_append(out, &e->n, sizeof e->n);
        switch (ent_type(a, e)) {
        case MESOS__VALUE__TYPE__SCALAR:
            dr_buf_append(out, &e->v.millis, sizeof e->v.millis);
            break;
        case MESOS__VALUE__TYPE__RANGES:
            dr_buf_append(out, e->v.pairs, 2 * (size_t)e->n * sizeof *e->v.pairs);
            break;
        case MESOS__VALUE__TYPE__SET:
            dr_buf_append(out, e->v.items, (size_t)e->n * sizeof *e->v.items);
            break;
        default:
            DR_UNREACHABLE();
        }
    }
}

/* Returns a reference (index + 1) to an interned copy of v. */
static uint32_t fvec_get(dr_allocator *a, const avec *v)
{
    avec_serialize(a, v, &a->buf);
    uint32_t id = bmap_get(&a->fvec_map, a->buf.data, a->buf.size);
    if (id != NONE) {
        a->fvecs[id].refs++;
        return id + 1;
    }
    if (a->fvec_free_count > 0) {
        id = a->fvec_free[--a->fvec_free_count];
    } else {
        fvec zero = {0};
        id = a->fvec_count;
        VEC_PUSH(a->fvecs, a->fvec_count, a->fvec_cap, zero);
    }
    fvec *f = &a->fvecs[id];
    memset(f, 0, sizeof *f);
    avec_copy(a, &f->v, v);
    f->size = a->buf.size;
    f->bytes = dr_alloc(a->buf.size + 1);
    memcpy(f->bytes, a->buf.data, a->buf.size);
    f->refs = 1;
    bmap_put(&a->fvec_map, f->bytes, f->size, id);
    return id + 1;
}

static void fvec_put(dr_allocator *a, uint32_t ref)
{
    DR_ASSERT(ref >= 1);
    DR_ASSERT(ref <= a->fvec_count);
    fvec *f = &a->fvecs[ref - 1];
    DR_ASSERT(f->refs > 0);
    if (--f->refs > 0)
        return;
    bmap_del(&a->fvec_map, f->bytes, f->size);
    avec_free(a, &f->v);
    dr_free(f->bytes);
    memset(f, 0, sizeof *f);
    VEC_PUSH(a->fvec_free, a->fvec_free_count, a->fvec_free_cap, ref - 1);
}

static void filter_clear(dr_allocator *a, agent *ag, uint32_t slot)
{
    if (slot >= ag->filter_cap || ag->filters[slot].fvec == 0)
        return;
    fvec_put(a, ag->filters[slot].fvec);
    ag->filters[slot].fvec = 0;
    DR_ASSERT(ag->filter_count > 0);
    ag->filter_count--;
}

static void filter_clear_everywhere(dr_allocator *a, uint32_t slot)
{
    for (uint32_t i = 0; i < a->agent_count; i++)
        if (a->agents[i].live)
            filter_clear(a, &a->agents[i], slot);
}

/* ---- roles ----------------------------------------------------------------------------- */

static uint32_t node_find(const dr_allocator *a, const char *role)
{
    return smap_get(&a->node_map, role);
}

/* The node of role (valid, checked by the caller), created with its ancestors. */
static uint32_t node_get(dr_allocator *a, const char *role)
{
    uint32_t id = node_find(a, role);
    if (id != NONE)
        return id;
    uint32_t parent = NONE;
    const char *slash = strrchr(role, '/');
    if (slash != NULL && strcmp(role, "*") != 0) {
        char *up = dr_strndup(role, (size_t)(slash - role));
        parent = node_get(a, up);
        dr_free(up);
    }
    rnode n = {0};
    n.name = dr_strdup(role);
    n.parent = parent;
    n.depth = parent == NONE ? 0 : a->nodes[parent].depth + 1;
    n.weight_millis = 1000;
    id = a->node_count;
    VEC_PUSH(a->nodes, a->node_count, a->node_cap, n);
    bmap_put(&a->node_map, a->nodes[id].name, strlen(a->nodes[id].name), id);
    if (parent == NONE)
        VEC_PUSH(a->top, a->top_count, a->top_cap, id);
    else
        VEC_PUSH(a->nodes[parent].children, a->nodes[parent].child_count,
                 a->nodes[parent].child_cap, id);
    a->order_dirty = true;
    return id;
}

/* True when node anc is role or one of its ancestors. */
static bool node_covers(const dr_allocator *a, uint32_t anc, uint32_t role)
{
    uint32_t da = a->nodes[anc].depth;
    while (role != NONE && a->nodes[role].depth > da)
        role = a->nodes[role].parent;
    return role == anc;
}

static dr_code check_role(const char *role, dr_err *err)
{
    dr_code rc = dr_role_validate(role, err);
    if (rc != DR_OK)
        return rc;
    uint32_t depth = 1;
    for (const char *p = role; *p != '\0'; p++)
        depth += *p == '/';
    if (depth > DR_ALLOC_ROLE_DEPTH_MAX)
        return dr_err_set(err, DR_EINVAL, "role '%.64s...': deeper than %u levels", role,
                          DR_ALLOC_ROLE_DEPTH_MAX);
    return DR_OK;
}

/* ---- shares and sorters ---------------------------------------------------------------- */

static uint64_t dominant_share(const dr_allocator *a, const int64_t *alloc, int64_t weight_millis)
{
    uint64_t best = 0;
    for (uint32_t i = 0; i < a->name_count; i++) {
        if (a->excluded[i] || a->total[i] <= 0 || alloc[i] <= 0)
            continue;
        unsigned __int128 s = ((unsigned __int128)(uint64_t)alloc[i] << SHARE_SHIFT) /
                              (uint64_t)a->total[i];
        if (s > UINT64_MAX)
            s = UINT64_MAX;
        if ((uint64_t)s > best)
            best = (uint64_t)s;
    }
    unsigned __int128 w = (unsigned __int128)best * 1000 / (uint64_t)weight_millis;
    return w > UINT64_MAX ? UINT64_MAX : (uint64_t)w;
}

static int client_cmp3(const dr_allocator *a, uint64_t share_x, uint32_t x, uint64_t share_y,
                       uint32_t y)
{
    if (share_x != share_y)
        return share_x < share_y ? -1 : 1;
    int c = strcmp(a->fws[a->fwroles[x].fw].id, a->fws[a->fwroles[y].fw].id);
    DR_ASSERT(c != 0 || x == y); /* one client per framework in a role */
    return c;
}

static int client_cmp(const void *x, const void *y, const dr_allocator *a)
{
    uint32_t p = *(const uint32_t *)x, q = *(const uint32_t *)y;
    return client_cmp3(a, a->fwroles[p].share, p, a->fwroles[q].share, q);
}

/* Index of client c (with sort key share) in node n's array, or its insertion point. */
static uint32_t client_seek(const dr_allocator *a, const rnode *n, uint64_t share, uint32_t c,
                            bool *found)
{
    uint32_t lo = 0, hi = n->client_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint32_t m = n->clients[mid];
        if (client_cmp3(a, a->fwroles[m].share, m, share, c) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < n->client_count && n->clients[lo] == c;
    return lo;
}

static void client_insert(dr_allocator *a, uint32_t c)
{
    fwrole *fr = &a->fwroles[c];
    rnode *n = &a->nodes[fr->role];
    fr->share = dominant_share(a, fr->alloc, 1000);
    bool found;
    uint32_t at = client_seek(a, n, fr->share, c, &found);
    DR_ASSERT(!found);
    VEC_PUSH(n->clients, n->client_count, n->client_cap, c);
    memmove(&n->clients[at + 1], &n->clients[at], (size_t)(n->client_count - 1 - at) * 4);
    n->clients[at] = c;
    a->order_dirty = true;
}

static void client_remove(dr_allocator *a, uint32_t c)
{
    fwrole *fr = &a->fwroles[c];
    rnode *n = &a->nodes[fr->role];
    bool found;
    uint32_t at = client_seek(a, n, fr->share, c, &found);
    DR_ASSERT(found);
    memmove(&n->clients[at], &n->clients[at + 1], (size_t)(n->client_count - at - 1) * 4);
    n->client_count--;
    a->order_dirty = true;
}

/* Moves client c to its place for its current allocation. */
static void client_reposition(dr_allocator *a, uint32_t c)
{
    if (a->shares_dirty)
        return; /* everything is resorted before the next use */
    fwrole *fr = &a->fwroles[c];
    uint64_t share = dominant_share(a, fr->alloc, 1000);
    if (share == fr->share)
        return;
    client_remove(a, c);
    client_insert(a, c);
    DR_ASSERT(fr->share == share);
}

/* Adds sign * w's scalars to client c and its role chain. */
static void track(dr_allocator *a, uint32_t c, const avec *w, int sign)
{
    fwrole *fr = &a->fwroles[c];
    bool changed = false;
    for (uint32_t i = 0; i < w->count; i++) {
        const key *k = &a->keys[w->e[i].key];
        if (k->type != MESOS__VALUE__TYPE__SCALAR)
            continue;
        int64_t d = sign * w->e[i].v.millis;
        fr->alloc[k->name] += d;
        DR_ASSERT(fr->alloc[k->name] >= 0);
        a->nodes[fr->role].own[k->name] += d;
        DR_ASSERT(a->nodes[fr->role].own[k->name] >= 0);
        for (uint32_t n = fr->role; n != NONE; n = a->nodes[n].parent) {
            a->nodes[n].alloc[k->name] += d;
            DR_ASSERT(a->nodes[n].alloc[k->name] >= 0);
        }
        changed = true;
    }
    if (changed) {
        client_reposition(a, c);
        a->order_dirty = true;
    }
}

static void resort_all(dr_allocator *a)
{
    a->shares_dirty = false;
    for (uint32_t i = 0; i < a->node_count; i++) {
        rnode *n = &a->nodes[i];
        for (uint32_t j = 0; j < n->client_count; j++) {
            fwrole *fr = &a->fwroles[n->clients[j]];
            fr->share = dominant_share(a, fr->alloc, 1000);
        }
        sort_by(n->clients, n->client_count, sizeof *n->clients, client_cmp, a);
    }
    a->order_dirty = true;
}

/* Role ordering: siblings (and a role's own frameworks, as a virtual leaf
 * named "" that sorts first on ties) by weighted share, then name. */
typedef struct oent {
    uint64_t share;
    uint32_t node;
    bool own;
} oent;

static int oent_cmp(const void *x, const void *y, const dr_allocator *a)
{
    const oent *p = x, *q = y;
    if (p->share != q->share)
        return p->share < q->share ? -1 : 1;
    if (p->own != q->own)
        return p->own ? -1 : 1;
    return strcmp(a->nodes[p->node].name, a->nodes[q->node].name);
}

static bool subtree_has_clients(const dr_allocator *a, uint32_t n)
{
    if (a->nodes[n].client_count > 0)
        return true;
    for (uint32_t i = 0; i < a->nodes[n].child_count; i++)
        if (subtree_has_clients(a, a->nodes[n].children[i]))
            return true;
    return false;
}

static void order_level(dr_allocator *a, uint32_t parent, const uint32_t *kids, uint32_t count)
{
    oent *list = dr_alloc_array((size_t)count + 1, sizeof *list);
    uint32_t n = 0;
    if (parent != NONE && a->nodes[parent].client_count > 0) {
        rnode *p = &a->nodes[parent];
        list[n++] = (oent){dominant_share(a, p->own, p->weight_millis), parent, true};
    }
    for (uint32_t i = 0; i < count; i++) {
        rnode *k = &a->nodes[kids[i]];
        if (!subtree_has_clients(a, kids[i]))
            continue;
        k->share = dominant_share(a, k->alloc, k->weight_millis);
        list[n++] = (oent){k->share, kids[i], false};
    }
    sort_by(list, n, sizeof *list, oent_cmp, a);
    for (uint32_t i = 0; i < n; i++) {
        if (list[i].own)
            VEC_PUSH(a->order, a->order_count, a->order_cap, list[i].node);
        else
            order_level(a, list[i].node, a->nodes[list[i].node].children,
                        a->nodes[list[i].node].child_count);
    }
    dr_free(list);
}

static void build_order(dr_allocator *a)
{
    a->order_count = 0;
    order_level(a, NONE, a->top, a->top_count);
    /* A top-level role with clients and no children shows up as its own leaf. */
    a->order_dirty = false;
}

/* ---- frameworks ------------------------------------------------------------------------ */

static uint32_t fw_find(const dr_allocator *a, const char *id)
{
    return smap_get(&a->fw_map, id);
}

static uint32_t fw_new(dr_allocator *a, const char *id)
{
    uint32_t f;
    if (a->fw_free_count > 0) {
        f = a->fw_free[--a->fw_free_count];
    } else {
        framework zero = {0};
        f = a->fw_count;
        VEC_PUSH(a->fws, a->fw_count, a->fw_cap, zero);
    }
    framework *fw = &a->fws[f];
    memset(fw, 0, sizeof *fw);
    fw->live = true;
    fw->id = dr_strdup(id);
    bmap_put(&a->fw_map, fw->id, strlen(fw->id), f);
    return f;
}

static uint32_t fwrole_find(const dr_allocator *a, uint32_t f, uint32_t node)
{
    const framework *fw = &a->fws[f];
    for (uint32_t i = 0; i < fw->role_count; i++)
        if (a->fwroles[fw->roles[i]].role == node)
            return fw->roles[i];
    return NONE;
}

static uint32_t fwrole_get(dr_allocator *a, uint32_t f, uint32_t node)
{
    uint32_t c = fwrole_find(a, f, node);
    if (c != NONE)
        return c;
    if (a->fwrole_free_count > 0) {
        c = a->fwrole_free[--a->fwrole_free_count];
    } else {
        fwrole zero = {0};
        c = a->fwrole_count;
        VEC_PUSH(a->fwroles, a->fwrole_count, a->fwrole_cap, zero);
    }
    fwrole *fr = &a->fwroles[c];
    memset(fr, 0, sizeof *fr);
    fr->live = true;
    fr->fw = f;
    fr->role = node;
    fr->alloc = dr_alloc_array(NAMES_MAX, sizeof *fr->alloc);
    framework *fw = &a->fws[f];
    VEC_PUSH(fw->roles, fw->role_count, fw->role_cap, c);
    client_insert(a, c);
    return c;
}

static bool fwrole_idle(const dr_allocator *a, uint32_t c)
{
    const fwrole *fr = &a->fwroles[c];
    for (uint32_t i = 0; i < a->name_count; i++)
        if (fr->alloc[i] != 0)
            return false;
    return true;
}

/* Drops client c: its filters and, if it still holds resources, untracks
 * them (the agents keep them, as held by a removed framework). */
static void fwrole_drop(dr_allocator *a, uint32_t c)
{
    fwrole *fr = &a->fwroles[c];
    DR_ASSERT(fr->live);
    for (uint32_t i = 0; i < a->agent_count; i++) {
        agent *ag = &a->agents[i];
        if (!ag->live)
            continue;
        filter_clear(a, ag, c);
        for (uint32_t u = 0; u < ag->use_count; u++)
            if (ag->uses[u].fwrole == c) {
                ag->uses[u].fwrole = NONE;
                /* Merge into the agent's one entry of removed frameworks. */
                for (uint32_t o = 0; o < ag->use_count; o++)
                    if (o != u && ag->uses[o].fwrole == NONE) {
                        avec_add(a, &ag->uses[o].alloc, &ag->uses[u].alloc);
                        avec_free(a, &ag->uses[u].alloc);
                        ag->uses[u] = ag->uses[--ag->use_count];
                        break;
                    }
                break;
            }
    }
    client_remove(a, c);
    for (uint32_t i = 0; i < a->name_count; i++) {
        int64_t d = fr->alloc[i];
        a->nodes[fr->role].own[i] -= d;
        for (uint32_t n = fr->role; n != NONE; n = a->nodes[n].parent)
            a->nodes[n].alloc[i] -= d;
    }
    framework *fw = &a->fws[fr->fw];
    for (uint32_t i = 0; i < fw->role_count; i++)
        if (fw->roles[i] == c) {
            fw->roles[i] = fw->roles[--fw->role_count];
            break;
        }
    dr_free(fr->alloc);
    memset(fr, 0, sizeof *fr);
    VEC_PUSH(a->fwrole_free, a->fwrole_free_count, a->fwrole_free_cap, c);
    a->order_dirty = true;
}

static bool in_list(const char *s, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

static dr_code check_roles(const char *framework_id, const char *const *roles, size_t role_count,
                           const char *const *suppressed, size_t suppressed_count, dr_err *err)
{
    if (framework_id == NULL || framework_id[0] == '\0')
        return dr_err_set(err, DR_EINVAL, "framework '': empty id");
    for (size_t i = 0; i < role_count; i++) {
        dr_code rc = check_role(roles[i], err);
        if (rc != DR_OK)
            return dr_err_wrap(err, "framework '%s'", framework_id);
        if (in_list(roles[i], roles, i))
            return dr_err_set(err, DR_EINVAL, "framework '%s': role '%s' given twice",
                              framework_id, roles[i]);
    }
    for (size_t i = 0; i < suppressed_count; i++)
        if (!in_list(suppressed[i], roles, role_count))
            return dr_err_set(err, DR_EINVAL,
                              "framework '%s': suppressed role '%s' is not one of its roles",
                              framework_id, suppressed[i]);
    return DR_OK;
}

/* Sets the subscribed roles of framework f. */
static void fw_set_roles(dr_allocator *a, uint32_t f, const char *const *roles, size_t role_count,
                         const char *const *suppressed, size_t suppressed_count)
{
    for (size_t i = 0; i < role_count; i++) {
        uint32_t c = fwrole_get(a, f, node_get(a, roles[i]));
        a->fwroles[c].subscribed = true;
        a->fwroles[c].suppressed = in_list(roles[i], suppressed, suppressed_count);
    }
    framework *fw = &a->fws[f];
    for (uint32_t i = fw->role_count; i-- > 0;) {
        uint32_t c = fw->roles[i];
        if (in_list(a->nodes[a->fwroles[c].role].name, roles, role_count))
            continue;
        /* Left the role: keeps what it holds there until recovered. */
        a->fwroles[c].subscribed = false;
        if (fwrole_idle(a, c))
            fwrole_drop(a, c);
        else
            filter_clear_everywhere(a, c);
    }
    a->order_dirty = true;
}

/* ---- agents ----------------------------------------------------------------------------- */

static uint32_t agent_find(const dr_allocator *a, const char *id)
{
    return smap_get(&a->agent_map, id);
}

static void check_agent(const dr_allocator *a, const agent *ag)
{
    /* allocated + available == total, and the users add up to allocated. */
    avec sum = {0};
    avec_copy(a, &sum, &ag->allocated);
    avec_add(a, &sum, &ag->available);
    DR_ASSERT(avec_equal(a, &sum, &ag->total));
    avec_clear(a, &sum);
    for (uint32_t u = 0; u < ag->use_count; u++)
        avec_add(a, &sum, &ag->uses[u].alloc);
    DR_ASSERT(avec_equal(a, &sum, &ag->allocated));
    avec_free(a, &sum);
}

static ause *agent_use(agent *ag, uint32_t c)
{
    for (uint32_t u = 0; u < ag->use_count; u++)
        if (ag->uses[u].fwrole == c)
            return &ag->uses[u];
    ause zero = {.fwrole = c};
    VEC_PUSH(ag->uses, ag->use_count, ag->use_cap, zero);
    return &ag->uses[ag->use_count - 1];
}

/* Moves w from the agent's available to client c (NONE: a removed framework). */
static void take(dr_allocator *a, agent *ag, uint32_t c, const avec *w)
{
    DR_ASSERT(avec_contains(a, &ag->available, w));
    avec_sub(a, &ag->available, w);
    avec_add(a, &ag->allocated, w);
    avec_add(a, &agent_use(ag, c)->alloc, w);
    if (c != NONE)
        track(a, c, w, +1);
}

static void agent_remove_use(dr_allocator *a, agent *ag, uint32_t u)
{
    avec_free(a, &ag->uses[u].alloc);
    ag->uses[u] = ag->uses[--ag->use_count];
}

/* Returns w from client c's use of the agent to available. */
static uint32_t use_find(const dr_allocator *a, const agent *ag, uint32_t c, const avec *w)
{
    for (uint32_t u = 0; u < ag->use_count; u++)
        if (ag->uses[u].fwrole == c)
            return avec_contains(a, &ag->uses[u].alloc, w) ? u : NONE;
    return NONE;
}

/* Returns w from client c's use of the agent to available. What a framework
 * held before it was removed and added again is found under NONE. */
static void give_back(dr_allocator *a, agent *ag, uint32_t c, const avec *w)
{
    uint32_t u = c == NONE ? NONE : use_find(a, ag, c, w);
    if (u == NONE) {
        c = NONE;
        u = use_find(a, ag, NONE, w);
    }
    DR_ASSERT(u != NONE); /* recovering what was never allocated, or more than was */
    ause *use = &ag->uses[u];
    avec_sub(a, &use->alloc, w);
    if (use->alloc.count == 0)
        agent_remove_use(a, ag, u);
    avec_sub(a, &ag->allocated, w);
    avec_add(a, &ag->available, w);
    if (c != NONE)
        track(a, c, w, -1);
}

/* ---- public: lifetime, weights ------------------------------------------------------ */

dr_allocator *dr_allocator_create(const dr_allocator_opts *opts)
{
    dr_allocator *a = dr_alloc(sizeof *a);
    a->opts = *opts;
    a->opts.fair_sharing_excluded_names = NULL;
    a->opts.fair_sharing_excluded_count = 0;
    a->min_cpus_millis = opts->min_allocatable_cpus > 0 ? llround(opts->min_allocatable_cpus * 1000)
                                                        : 0;
    a->min_mem_millis =
        opts->min_allocatable_mem_mb > 0 ? llround(opts->min_allocatable_mem_mb * 1000) : 0;
    dr_buf_init(&a->buf);
    a->cpus_name = name_intern(a, "cpus");
    a->mem_name = name_intern(a, "mem");
    a->gpus_name = name_intern(a, "gpus");
    for (size_t i = 0; i < opts->fair_sharing_excluded_count; i++) {
        if (a->name_count == NAMES_MAX && name_find(a, opts->fair_sharing_excluded_names[i]) == NONE)
            break; /* more excluded names than any agent may bring: irrelevant */
        a->excluded[name_intern(a, opts->fair_sharing_excluded_names[i])] = true;
    }
    return a;
}

void dr_allocator_destroy(dr_allocator *a)
{
    if (a == NULL)
        return;
    for (uint32_t i = 0; i < a->agent_count; i++) {
        agent *ag = &a->agents[i];
        if (!ag->live)
            continue;
        for (uint32_t s = 0; s < ag->filter_cap; s++)
            filter_clear(a, ag, s);
        for (uint32_t u = 0; u < ag->use_count; u++)
            avec_free(a, &ag->uses[u].alloc);
        avec_free(a, &ag->total);
        avec_free(a, &ag->allocated);
        avec_free(a, &ag->available);
        dr_free(ag->uses);
        dr_free(ag->filters);
        dr_free(ag->id);
    }
    for (uint32_t i = 0; i < a->fvec_count; i++)
        DR_ASSERT(a->fvecs[i].refs == 0);
    for (uint32_t i = 0; i < a->fwrole_count; i++)
        dr_free(a->fwroles[i].alloc);
    for (uint32_t i = 0; i < a->fw_count; i++) {
        dr_free(a->fws[i].id);
        dr_free(a->fws[i].roles);
    }
    for (uint32_t i = 0; i < a->node_count; i++) {
        dr_free(a->nodes[i].name);
        dr_free(a->nodes[i].children);
        dr_free(a->nodes[i].clients);
    }
    for (uint32_t i = 0; i < a->key_count; i++) {
        dr_free(a->keys[i].ident);
        dr_resource_free(a->keys[i].proto);
    }
    for (uint32_t i = 0; i < a->str_count; i++)
        dr_free(a->strs[i]);
    for (uint32_t i = 0; i < a->name_count; i++)
        dr_free(a->names[i]);
    for (size_t i = 0; i < DR_ARRAY_COUNT(a->scratch); i++)
        avec_free(a, &a->scratch[i]);
    dr_free(a->agents);
    dr_free(a->agent_free);
    dr_free(a->sorted_agents);
    dr_free(a->fws);
    dr_free(a->fw_free);
    dr_free(a->fwroles);
    dr_free(a->fwrole_free);
    dr_free(a->nodes);
    dr_free(a->top);
    dr_free(a->order);
    dr_free(a->keys);
    dr_free(a->strs);
    dr_free(a->fvecs);
    dr_free(a->fvec_free);
    dr_free(a->key_map.slots);
    dr_free(a->str_map.slots);
    dr_free(a->node_map.slots);
    dr_free(a->fw_map.slots);
    dr_free(a->agent_map.slots);
    dr_free(a->fvec_map.slots);
    dr_buf_deinit(&a->buf);
    dr_free(a);
}

dr_code dr_allocator_set_weight(dr_allocator *a, const char *role, double weight, dr_err *err)
{
    dr_code rc = check_role(role, err);
    if (rc != DR_OK)
        return rc;
    if (!(weight > 0.0) || weight > 1e12)
        return dr_err_set(err, DR_EINVAL, "role '%s': weight %g must be > 0 and <= 1e12", role,
                          weight);
    int64_t millis = llround(weight * 1000.0);
    if (millis < 1)
        return dr_err_set(err, DR_EINVAL, "role '%s': weight %g is below 0.001", role, weight);
    uint32_t id = node_get(a, role); /* may move a->nodes */
    rnode *n = &a->nodes[id];
    n->weight_millis = millis;
    n->weight_set = true;
    a->order_dirty = true;
    return DR_OK;
}

double dr_allocator_weight(const dr_allocator *a, const char *role)
{
    uint32_t n = node_find(a, role);
    return n == NONE ? 1.0 : (double)a->nodes[n].weight_millis / 1000.0;
}

/* ---- public: agents ---------------------------------------------------------------------- */

static dr_code check_resources(dr_allocator *a, const Mesos__Resource *const *rs, size_t count,
                               uint32_t *new_names, dr_err *err)
{
    for (size_t i = 0; i < count; i++) {
        dr_code rc = dr_resource_validate(rs[i], err);
        if (rc != DR_OK)
            return rc;
        for (size_t r = 0; r < rs[i]->n_reservations; r++) {
            rc = check_role(rs[i]->reservations[r]->role, err);
            if (rc != DR_OK)
                return dr_err_wrap(err, "resource '%s'", rs[i]->name);
        }
        if (name_find(a, rs[i]->name) == NONE) {
            bool seen = false;
            for (size_t j = 0; j < i; j++)
                seen = seen || strcmp(rs[j]->name, rs[i]->name) == 0;
            if (!seen)
                (*new_names)++;
        }
    }
    return DR_OK;
}

dr_code dr_allocator_add_agent(dr_allocator *a, const char *agent_id,
                               const Mesos__Resource *const *total, size_t total_count,
                               const dr_alloc_use *used, size_t used_count, dr_err *err)
{
    if (agent_id == NULL || agent_id[0] == '\0')
        return dr_err_set(err, DR_EINVAL, "agent '': empty id");
    if (agent_find(a, agent_id) != NONE)
        return dr_err_set(err, DR_EEXIST, "agent '%s': already added", agent_id);
    uint32_t new_names = 0;
    dr_code rc = check_resources(a, total, total_count, &new_names, err);
    if (rc != DR_OK)
        return dr_err_wrap(err, "agent '%s': total", agent_id);
    for (size_t u = 0; u < used_count; u++) {
        rc = check_resources(a, used[u].resources, used[u].resource_count, &new_names, err);
        if (rc == DR_OK)
            rc = check_role(used[u].role, err);
        if (rc == DR_OK && (used[u].framework_id == NULL || used[u].framework_id[0] == '\0'))
            rc = dr_err_set(err, DR_EINVAL, "empty framework id");
        if (rc != DR_OK)
            return dr_err_wrap(err, "agent '%s': used[%zu]", agent_id, u);
    }
    if (a->name_count + new_names > NAMES_MAX)
        return dr_err_set(err, DR_ETOOBIG, "agent '%s': more than %u resource names in all",
                          agent_id, (unsigned)NAMES_MAX);
    /* Bound each name's sum before any int64 arithmetic (items are <= 1e12 each). */
    for (size_t i = 0; i < total_count; i++) {
        if (total[i]->type != MESOS__VALUE__TYPE__SCALAR)
            continue;
        double sum = 0;
        for (size_t j = 0; j < total_count; j++)
            if (total[j]->type == MESOS__VALUE__TYPE__SCALAR &&
                strcmp(total[j]->name, total[i]->name) == 0)
                sum += total[j]->scalar->value;
        if (sum > AGENT_SCALAR_MAX)
            return dr_err_set(err, DR_ETOOBIG, "agent '%s': total '%s' above 1e15", agent_id,
                              total[i]->name);
    }
    /* Validated: what may still fail are the uses and the cluster totals. */
    avec tot = {0}, use_sum = {0};
    avec_add_resources(a, &tot, total, total_count);
    for (size_t u = 0; u < used_count; u++)
        avec_add_resources(a, &use_sum, used[u].resources, used[u].resource_count);
    bool fits = avec_contains(a, &tot, &use_sum);
    avec_free(a, &use_sum);
    if (!fits) {
        avec_free(a, &tot);
        return dr_err_set(err, DR_EINVAL, "agent '%s': used resources exceed its total",
                          agent_id);
    }
    /* Cluster totals stay far from int64 overflow (so do all sums below them). */
    int64_t sums[NAMES_MAX] = {0};
    for (uint32_t i = 0; i < tot.count; i++) {
        const key *k = &a->keys[tot.e[i].key];
        if (k->type != MESOS__VALUE__TYPE__SCALAR)
            continue;
        sums[k->name] += tot.e[i].v.millis; /* <= 1e18 per name, checked above */
        if (sums[k->name] > TOTAL_MILLIS_MAX - a->total[k->name]) {
            avec_free(a, &tot);
            return dr_err_set(err, DR_ETOOBIG, "agent '%s': cluster total of '%s' too large",
                              agent_id, a->names[k->name]);
        }
    }

    uint32_t id;
    if (a->agent_free_count > 0) {
        id = a->agent_free[--a->agent_free_count];
    } else {
        agent zero = {0};
        id = a->agent_count;
        VEC_PUSH(a->agents, a->agent_count, a->agent_cap, zero);
    }
    agent *ag = &a->agents[id];
    memset(ag, 0, sizeof *ag);
    ag->live = true;
    ag->active = true;
    ag->id = dr_strdup(agent_id);
    ag->total = tot;
    avec_copy(a, &ag->available, &tot);
    for (uint32_t i = 0; i < tot.count; i++) {
        const key *k = &a->keys[tot.e[i].key];
        if (k->type == MESOS__VALUE__TYPE__SCALAR)
            a->total[k->name] += tot.e[i].v.millis;
        ag->special = ag->special || k->revocable || k->shared || k->refined;
        ag->has_gpus = ag->has_gpus || (k->name == a->gpus_name && !ent_empty(a, &tot.e[i]));
    }
    bmap_put(&a->agent_map, ag->id, strlen(ag->id), id);
    /* Keep the id-sorted visiting order. */
    uint32_t lo = 0, hi = a->sorted_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (strcmp(a->agents[a->sorted_agents[mid]].id, agent_id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    VEC_PUSH(a->sorted_agents, a->sorted_count, a->sorted_cap, id);
    memmove(&a->sorted_agents[lo + 1], &a->sorted_agents[lo],
            (size_t)(a->sorted_count - 1 - lo) * sizeof *a->sorted_agents);
    a->sorted_agents[lo] = id;
    a->shares_dirty = true;

    for (size_t u = 0; u < used_count; u++) {
        uint32_t f = fw_find(a, used[u].framework_id);
        if (f == NONE)
            f = fw_new(a, used[u].framework_id); /* known once it subscribes */
        uint32_t c = fwrole_get(a, f, node_get(a, used[u].role));
        avec w = {0};
        avec_add_resources(a, &w, used[u].resources, used[u].resource_count);
        take(a, &a->agents[id], c, &w);
        avec_free(a, &w);
    }
    check_agent(a, &a->agents[id]);
    return DR_OK;
}

void dr_allocator_remove_agent(dr_allocator *a, const char *agent_id)
{
    uint32_t id = agent_find(a, agent_id);
    if (id == NONE)
        return;
    agent *ag = &a->agents[id];
    while (ag->use_count > 0) {
        ause *use = &ag->uses[ag->use_count - 1];
        uint32_t c = use->fwrole;
        if (c != NONE) {
            track(a, c, &use->alloc, -1);
            fwrole *fr = &a->fwroles[c];
            if (!fr->subscribed && fwrole_idle(a, c)) {
                avec_free(a, &use->alloc);
                ag->use_count--;
                uint32_t f = fr->fw;
                fwrole_drop(a, c);
                if (!a->fws[f].registered && a->fws[f].role_count == 0) {
                    bmap_del(&a->fw_map, a->fws[f].id, strlen(a->fws[f].id));
                    dr_free(a->fws[f].id);
                    dr_free(a->fws[f].roles);
                    memset(&a->fws[f], 0, sizeof a->fws[f]);
                    VEC_PUSH(a->fw_free, a->fw_free_count, a->fw_free_cap, f);
                }
                continue;
            }
        }
        avec_free(a, &use->alloc);
        ag->use_count--;
    }
    for (uint32_t i = 0; i < ag->total.count; i++) {
        const key *k = &a->keys[ag->total.e[i].key];
        if (k->type == MESOS__VALUE__TYPE__SCALAR) {
            a->total[k->name] -= ag->total.e[i].v.millis;
            DR_ASSERT(a->total[k->name] >= 0);
        }
    }
    for (uint32_t s = 0; s < ag->filter_cap; s++)
        filter_clear(a, ag, s);
    DR_ASSERT(ag->filter_count == 0);
    bmap_del(&a->agent_map, ag->id, strlen(ag->id));
    for (uint32_t i = 0; i < a->sorted_count; i++)
        if (a->sorted_agents[i] == id) {
            memmove(&a->sorted_agents[i], &a->sorted_agents[i + 1],
                    (size_t)(a->sorted_count - i - 1) * sizeof *a->sorted_agents);
            a->sorted_count--;
            break;
        }
    avec_free(a, &ag->total);
    avec_free(a, &ag->allocated);
    avec_free(a, &ag->available);
    dr_free(ag->uses);
    dr_free(ag->filters);
    dr_free(ag->id);
    memset(ag, 0, sizeof *ag);
    VEC_PUSH(a->agent_free, a->agent_free_count, a->agent_free_cap, id);
    a->shares_dirty = true;
}

void dr_allocator_activate_agent(dr_allocator *a, const char *agent_id, bool active)
{
    uint32_t id = agent_find(a, agent_id);
    if (id != NONE)
        a->agents[id].active = active;
}

dr_code dr_allocator_add_use(dr_allocator *a, const char *agent_id, const dr_alloc_use *use,
                             dr_err *err)
{
    uint32_t id = agent_find(a, agent_id);
    if (id == NONE)
        return dr_err_set(err, DR_ENOENT, "agent '%s': not added", agent_id);
    uint32_t new_names = 0;
    dr_code rc = check_resources(a, use->resources, use->resource_count, &new_names, err);
    if (rc == DR_OK)
        rc = check_role(use->role, err);
    if (rc == DR_OK && a->name_count + new_names > NAMES_MAX)
        rc = dr_err_set(err, DR_ETOOBIG, "more than %u resource names in all",
                        (unsigned)NAMES_MAX);
    if (rc == DR_OK && (use->framework_id == NULL || use->framework_id[0] == '\0'))
        rc = dr_err_set(err, DR_EINVAL, "empty framework id");
    if (rc != DR_OK)
        return dr_err_wrap(err, "agent '%s': use", agent_id);
    avec w = {0};
    avec_add_resources(a, &w, use->resources, use->resource_count);
    if (!avec_contains(a, &a->agents[id].available, &w)) {
        avec_free(a, &w);
        return dr_err_set(err, DR_EINVAL,
                          "agent '%s': framework '%s' uses resources that are not available",
                          agent_id, use->framework_id);
    }
    uint32_t f = fw_find(a, use->framework_id);
    if (f == NONE)
        f = fw_new(a, use->framework_id);
    uint32_t c = fwrole_get(a, f, node_get(a, use->role));
    take(a, &a->agents[id], c, &w);
    avec_free(a, &w);
    check_agent(a, &a->agents[id]);
    return DR_OK;
}

/* ---- public: frameworks ----------------------------------------------------------------- */

dr_code dr_allocator_add_framework(dr_allocator *a, const char *framework_id,
                                   const char *const *roles, size_t role_count,
                                   uint32_t capabilities, const char *const *suppressed_roles,
                                   size_t suppressed_count, dr_err *err)
{
    dr_code rc = check_roles(framework_id, roles, role_count, suppressed_roles, suppressed_count,
                             err);
    if (rc != DR_OK)
        return rc;
    uint32_t f = fw_find(a, framework_id);
    if (f != NONE && a->fws[f].registered)
        return dr_err_set(err, DR_EEXIST, "framework '%s': already added", framework_id);
    if (f == NONE)
        f = fw_new(a, framework_id);
    framework *fw = &a->fws[f];
    fw->registered = true;
    fw->active = true;
    fw->caps = capabilities;
    fw_set_roles(a, f, roles, role_count, suppressed_roles, suppressed_count);
    return DR_OK;
}

dr_code dr_allocator_update_framework(dr_allocator *a, const char *framework_id,
                                      const char *const *roles, size_t role_count,
                                      uint32_t capabilities,
                                      const char *const *suppressed_roles,
                                      size_t suppressed_count, dr_err *err)
{
    dr_code rc = check_roles(framework_id, roles, role_count, suppressed_roles, suppressed_count,
                             err);
    if (rc != DR_OK)
        return rc;
    uint32_t f = fw_find(a, framework_id);
    if (f == NONE || !a->fws[f].registered)
        return dr_err_set(err, DR_ENOENT, "framework '%s': not added", framework_id);
    a->fws[f].caps = capabilities;
    fw_set_roles(a, f, roles, role_count, suppressed_roles, suppressed_count);
    return DR_OK;
}

void dr_allocator_remove_framework(dr_allocator *a, const char *framework_id)
{
    uint32_t f = fw_find(a, framework_id);
    if (f == NONE)
        return;
    framework *fw = &a->fws[f];
    while (fw->role_count > 0)
        fwrole_drop(a, fw->roles[fw->role_count - 1]);
    bmap_del(&a->fw_map, fw->id, strlen(fw->id));
    dr_free(fw->id);
    dr_free(fw->roles);
    memset(fw, 0, sizeof *fw);
    VEC_PUSH(a->fw_free, a->fw_free_count, a->fw_free_cap, f);
}

void dr_allocator_activate_framework(dr_allocator *a, const char *framework_id, bool active)
{
    uint32_t f = fw_find(a, framework_id);
    if (f != NONE && a->fws[f].registered)
        a->fws[f].active = active;
}

/* ---- public: allocation changes ------------------------------------------------------ */

void dr_allocator_recover(dr_allocator *a, const char *framework_id, const char *agent_id,
                          const char *role, const Mesos__Resource *const *resources,
                          size_t resource_count, uint64_t refuse_ns, uint64_t now_ns)
{
    uint32_t id = agent_find(a, agent_id);
    if (id == NONE)
        return; /* the agent was removed, and what it held with it */
    for (size_t i = 0; i < resource_count; i++)
        DR_ASSERT(dr_resource_validate(resources[i], NULL) == DR_OK);
    uint32_t f = fw_find(a, framework_id);
    uint32_t node = node_find(a, role);
    uint32_t c = f == NONE || node == NONE ? NONE : fwrole_find(a, f, node);
    agent *ag = &a->agents[id];
    avec *w = &a->scratch[0];
    avec_clear(a, w);
    avec_add_resources(a, w, resources, resource_count);
    give_back(a, ag, c, w);
    check_agent(a, ag);
    if (c != NONE && refuse_ns > 0 && a->fwroles[c].subscribed && w->count > 0) {
        if (refuse_ns > REFUSE_NS_MAX)
            refuse_ns = REFUSE_NS_MAX;
        uint64_t timeout_ns = DR_MAX(refuse_ns, a->opts.allocation_interval_ns);
        if (c >= ag->filter_cap) {
            uint32_t cap = DR_MAX(a->fwrole_count, c + 1);
            ag->filters = dr_realloc(ag->filters, (size_t)cap * sizeof *ag->filters);
            memset(&ag->filters[ag->filter_cap], 0,
                   (size_t)(cap - ag->filter_cap) * sizeof *ag->filters);
            ag->filter_cap = cap;
        }
        filter_clear(a, ag, c);
        ag->filters[c].fvec = fvec_get(a, w);
        ag->filters[c].expiry_ns = now_ns + timeout_ns;
        ag->filter_count++;
    }
    if (c != NONE && !a->fwroles[c].subscribed && fwrole_idle(a, c))
        fwrole_drop(a, c);
}

static void set_suppressed(dr_allocator *a, const char *framework_id, const char *const *roles,
                           size_t role_count, bool suppressed)
{
    uint32_t f = fw_find(a, framework_id);
    if (f == NONE)
        return;
    framework *fw = &a->fws[f];
    for (uint32_t i = 0; i < fw->role_count; i++) {
        uint32_t c = fw->roles[i];
        fwrole *fr = &a->fwroles[c];
        if (!fr->subscribed)
            continue;
        if (role_count > 0 && !in_list(a->nodes[fr->role].name, roles, role_count))
            continue;
        fr->suppressed = suppressed;
        if (!suppressed)
            filter_clear_everywhere(a, c);
    }
}

void dr_allocator_suppress(dr_allocator *a, const char *framework_id, const char *const *roles,
                           size_t role_count)
{
    set_suppressed(a, framework_id, roles, role_count, true);
}

void dr_allocator_revive(dr_allocator *a, const char *framework_id, const char *const *roles,
                         size_t role_count)
{
    set_suppressed(a, framework_id, roles, role_count, false);
}

/* ---- public: allocate ----------------------------------------------------------------- */

/* out = the part of v a framework of role node may get. */
static void allocatable(const dr_allocator *a, const avec *v, uint32_t node, avec *out)
{
    avec_clear(a, out);
    for (uint32_t i = 0; i < v->count; i++) {
        uint32_t r = a->keys[v->e[i].key].role;
        if (r == NONE || node_covers(a, r, node))
            VEC_PUSH(out->e, out->count, out->cap, ent_copy(a, &v->e[i]));
    }
}

/* out = v without what capabilities caps may not get. */
static void capable(const dr_allocator *a, const avec *v, uint32_t caps, avec *out)
{
    avec_clear(a, out);
    for (uint32_t i = 0; i < v->count; i++) {
        const key *k = &a->keys[v->e[i].key];
        if (k->revocable && !(caps & DR_ALLOC_CAP_REVOCABLE_RESOURCES))
            continue;
        if (k->shared && !(caps & DR_ALLOC_CAP_SHARED_RESOURCES))
            continue;
        if (k->refined && !(caps & DR_ALLOC_CAP_RESERVATION_REFINEMENT))
            continue;
        VEC_PUSH(out->e, out->count, out->cap, ent_copy(a, &v->e[i]));
    }
}

static bool big_enough(const dr_allocator *a, const avec *v)
{
    if (v->count == 0)
        return false;
    if (a->min_cpus_millis <= 0 && a->min_mem_millis <= 0)
        return true;
    if (a->min_cpus_millis > 0 && avec_millis(a, v, a->cpus_name) >= a->min_cpus_millis)
        return true;
    return a->min_mem_millis > 0 && avec_millis(a, v, a->mem_name) >= a->min_mem_millis;
}

static void emit(dr_allocator *a, dr_alloc_grants *out, size_t *cap, const framework *fw,
                 const agent *ag, const rnode *role, const avec *w)
{
    if (out->count == *cap) {
        *cap = *cap == 0 ? 64 : *cap * 2;
        out->items = dr_realloc(out->items, *cap * sizeof *out->items);
    }
    dr_alloc_grant *g = &out->items[out->count++];
    memset(g, 0, sizeof *g);
    g->framework_id = dr_strdup(fw->id);
    g->agent_id = dr_strdup(ag->id);
    g->role = dr_strdup(role->name);
    g->resource_count = w->count;
    g->resources = dr_alloc_array(w->count + 1, sizeof *g->resources);
    for (uint32_t i = 0; i < w->count; i++)
        g->resources[i] = ent_to_resource(a, &w->e[i], role->name);
}

void dr_allocator_allocate(dr_allocator *a, uint64_t now_ns, dr_alloc_grants *out)
{
    memset(out, 0, sizeof *out);
    size_t out_cap = 0;
    if (a->shares_dirty)
        resort_all(a);
    a->cycle_count++;
    uint32_t n = a->sorted_count;
    uint32_t start = n == 0 ? 0 : (uint32_t)(a->cycle_count % n);
    avec *cand_all = &a->scratch[1], *cand_cap = &a->scratch[2];
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id = a->sorted_agents[(start + i) % n];
        agent *ag = &a->agents[id];
        DR_ASSERT(ag->live);
        if (!ag->active || ag->available.count == 0)
            continue;
        if (a->order_dirty)
            build_order(a);
        uint64_t visit = ++a->visit_count;
        bool took = false;
        /* The order stays fixed for this agent; it is rebuilt for the next. */
        for (uint32_t o = 0; o < a->order_count && ag->available.count > 0; o++) {
            const rnode *role = &a->nodes[a->order[o]];
            allocatable(a, &ag->available, a->order[o], cand_all);
            uint32_t memo_fvec = 0;
            bool memo_filtered = false;
            for (uint32_t j = 0; cand_all->count > 0 && j < role->client_count; j++) {
                uint32_t c = role->clients[j];
                fwrole *fr = &a->fwroles[c];
                DR_ASSERT(fr->live);
                DR_ASSERT(fr->role == a->order[o]);
                if (!fr->subscribed || fr->suppressed || fr->stamp == visit)
                    continue;
                const framework *fw = &a->fws[fr->fw];
                if (!fw->registered || !fw->active)
                    continue;
                if (a->opts.filter_gpu_resources && ag->has_gpus &&
                    !(fw->caps & DR_ALLOC_CAP_GPU_RESOURCES))
                    continue;
                const avec *cand = cand_all;
                if (ag->special) {
                    capable(a, cand_all, fw->caps, cand_cap);
                    cand = cand_cap;
                }
                if (!big_enough(a, cand))
                    continue;
                if (c < ag->filter_cap && ag->filters[c].fvec != 0) {
                    afilter *flt = &ag->filters[c];
                    if (now_ns >= flt->expiry_ns) {
                        filter_clear(a, ag, c);
                    } else {
                        bool filtered;
                        if (!ag->special && flt->fvec == memo_fvec) {
                            filtered = memo_filtered;
                        } else {
                            filtered = avec_contains(a, &a->fvecs[flt->fvec - 1].v, cand);
                            if (!ag->special) {
                                memo_fvec = flt->fvec;
                                memo_filtered = filtered;
                            }
                        }
                        if (filtered)
                            continue;
                    }
                }
                /* Offer it everything it may get here. */
                fr->stamp = visit;
                emit(a, out, &out_cap, fw, ag, role, cand);
                take(a, ag, c, cand);
                took = true;
                /* The sorted clients moved: start over, skipping those offered. */
                allocatable(a, &ag->available, a->order[o], cand_all);
                memo_fvec = 0;
                j = (uint32_t)-1;
            }
        }
        if (took)
            check_agent(a, ag);
    }
}

void dr_allocator_grants_free(dr_alloc_grants *grants)
{
    for (size_t i = 0; i < grants->count; i++) {
        dr_alloc_grant *g = &grants->items[i];
        dr_free(g->framework_id);
        dr_free(g->agent_id);
        dr_free(g->role);
        for (size_t r = 0; r < g->resource_count; r++)
            dr_resource_free(g->resources[r]);
        dr_free(g->resources);
    }
    dr_free(grants->items);
    memset(grants, 0, sizeof *grants);
}

/* ---- public: views ------------------------------------------------------------------------ */

static int node_name_cmp(const void *x, const void *y, const dr_allocator *a)
{
    return strcmp(a->nodes[*(const uint32_t *)x].name, a->nodes[*(const uint32_t *)y].name);
}

static int str_cmp(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

void dr_allocator_each_role(const dr_allocator *a,
                            void (*fn)(const dr_alloc_role_info *info, void *ctx), void *ctx)
{
    uint32_t *ids = dr_alloc_array((size_t)a->node_count + 1, sizeof *ids);
    uint32_t count = 0;
    for (uint32_t i = 0; i < a->node_count; i++) {
        const rnode *n = &a->nodes[i];
        bool used = n->weight_set || n->client_count > 0;
        for (uint32_t k = 0; !used && k < a->name_count; k++)
            used = n->alloc[k] != 0;
        if (used)
            ids[count++] = i;
    }
    sort_by(ids, count, sizeof *ids, node_name_cmp, a);
    for (uint32_t i = 0; i < count; i++) {
        const rnode *n = &a->nodes[ids[i]];
        const char **fw_ids = dr_alloc_array((size_t)n->client_count + 1, sizeof *fw_ids);
        size_t fw_count = 0;
        for (uint32_t j = 0; j < n->client_count; j++) {
            const fwrole *fr = &a->fwroles[n->clients[j]];
            if (fr->subscribed)
                fw_ids[fw_count++] = a->fws[fr->fw].id;
        }
        qsort(fw_ids, fw_count, sizeof *fw_ids, str_cmp);
        dr_alloc_role_info info = {
            .role = n->name,
            .weight = (double)n->weight_millis / 1000.0,
            .dominant_share = (double)dominant_share(a, n->alloc, 1000) /
                              (double)((uint64_t)1 << SHARE_SHIFT),
            .framework_ids = fw_ids,
            .framework_count = fw_count,
        };
        fn(&info, ctx);
        dr_free(fw_ids);
    }
    dr_free(ids);
}
