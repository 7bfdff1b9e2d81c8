/* src/resources/resources.c — Mesos resources on Mesos__Resource lists:
 * copies, validation, fixed-point arithmetic, filters, text form and parsing.
 *
 * Items are deep copies made by packing and unpacking with protobuf-c's
 * default (malloc) allocator, so every sub-message is malloc'd and
 * protobuf_c_message_free_unpacked frees it; values rewritten here are
 * allocated with dr_alloc (calloc), which frees the same way.
 *
 * Values in a list are canonical: scalars rounded to thousandths, ranges
 * sorted and coalesced (adjacent ranges merge, as Mesos's coalesce does),
 * set items in insertion order without duplicates.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/proto/json.h"
#include "src/resources/resources.h"

/* `role` and `reservation` are deprecated in the generated header. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

/* dr_err_wrap for an err that may be NULL (every error here is DR_EINVAL). */
#define WRAP(err, ...) ((err) == NULL ? DR_EINVAL : dr_err_wrap((err), __VA_ARGS__))

/* ---- lifetime --------------------------------------------------------------------- */

void dr_resources_init(dr_resources *rs)
{
    memset(rs, 0, sizeof *rs);
}

void dr_resources_deinit(dr_resources *rs)
{
    for (size_t i = 0; i < rs->count; i++)
        dr_resource_free(rs->items[i]);
    dr_free(rs->items);
    dr_resources_init(rs);
}

void dr_resources_clear(dr_resources *rs)
{
    dr_resources_deinit(rs);
}

void dr_resources_copy(dr_resources *dst, const dr_resources *src)
{
    DR_ASSERT(dst != src);
    dr_resources tmp;
    dr_resources_init(&tmp);
    if (src->count > 0) {
        tmp.items = dr_alloc_array(src->count, sizeof *tmp.items);
        tmp.capacity = src->count;
        for (size_t i = 0; i < src->count; i++)
            tmp.items[tmp.count++] = dr_resource_copy(src->items[i]);
    }
    dr_resources_move(dst, &tmp);
}

void dr_resources_move(dr_resources *dst, dr_resources *src)
{
    DR_ASSERT(dst != src);
    dr_resources_deinit(dst);
    *dst = *src;
    dr_resources_init(src);
}

/* Whether r is a plain scalar (name, value, at most an allocation role;
 * nothing unknown): the resources the master and agents move around most,
 * copied field by field rather than through the codec. */
static bool plain_scalar(const Mesos__Resource *r)
{
    return r->type == MESOS__VALUE__TYPE__SCALAR && r->scalar != NULL &&
           r->scalar->base.n_unknown_fields == 0 && r->ranges == NULL && r->set == NULL &&
           (r->role == NULL || r->role == mesos__resource__role__default_value) &&
           r->reservation == NULL && r->n_reservations == 0 && r->disk == NULL &&
           r->revocable == NULL && r->shared == NULL && r->provider_id == NULL &&
           r->base.n_unknown_fields == 0 &&
           (r->allocation_info == NULL || r->allocation_info->base.n_unknown_fields == 0);
}

Mesos__Resource *dr_resource_copy(const Mesos__Resource *r)
{
    DR_ASSERT(r != NULL);
    DR_ASSERT(r->name != NULL); /* protobuf-c cannot pack a missing required string */
    if (plain_scalar(r)) {
        /* The same message the codec would rebuild, every part malloc'd
         * (dr_resource_free frees it with free_unpacked; a default role is
         * the descriptor's static string, which free_unpacked skips). */
        Mesos__Resource *c = dr_alloc(sizeof *c);
        mesos__resource__init(c);
        c->name = dr_strdup(r->name);
        c->type = r->type;
        c->role = r->role;
        c->scalar = dr_alloc(sizeof *c->scalar);
        mesos__value__scalar__init(c->scalar);
        c->scalar->value = r->scalar->value;
        if (r->allocation_info != NULL) {
            c->allocation_info = dr_alloc(sizeof *c->allocation_info);
            mesos__resource__allocation_info__init(c->allocation_info);
            if (r->allocation_info->role != NULL)
                c->allocation_info->role = dr_strdup(r->allocation_info->role);
        }
        return c;
    }
    size_t size = protobuf_c_message_get_packed_size(&r->base);
    uint8_t stack[512];
    uint8_t *buf = size <= sizeof stack ? stack : dr_alloc(size);
    size_t packed = protobuf_c_message_pack(&r->base, buf);
    DR_ASSERT(packed == size);
    Mesos__Resource *copy = mesos__resource__unpack(NULL, size, buf);
    DR_ASSERT(copy != NULL);
    if (buf != stack)
        dr_free(buf);
    return copy;
}

void dr_resource_free(Mesos__Resource *r)
{
    if (r != NULL)
        protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void push_item(dr_resources *rs, Mesos__Resource *r) /* takes r */
{
    if (rs->count == rs->capacity) {
        rs->capacity = rs->capacity == 0 ? 4 : rs->capacity * 2;
        rs->items = dr_realloc(rs->items, rs->capacity * sizeof *rs->items);
    }
    rs->items[rs->count++] = r;
}

static void remove_item(dr_resources *rs, size_t index)
{
    DR_ASSERT(index < rs->count);
    dr_resource_free(rs->items[index]);
    /* Keep insertion order: output order must not depend on history beyond it. */
    memmove(&rs->items[index], &rs->items[index + 1],
            (rs->count - index - 1) * sizeof *rs->items);
    rs->count--;
}

/* ---- values: fixed point, ranges, sets ----------------------------------------- */

static int64_t to_millis(double value)
{
    return llround(value * 1000.0);
}

static double from_millis(int64_t millis)
{
    return (double)millis / 1000.0;
}

/* Sums saturate instead of overflowing: each value is <= 1e12 (1e15
 * thousandths), so only absurd lists of millions of them get there. */
static int64_t add_millis(int64_t x, int64_t y)
{
    int64_t sum;
    if (__builtin_add_overflow(x, y, &sum))
        return INT64_MAX;
    return sum;
}

int64_t dr_resource_millis(const Mesos__Resource *r)
{
    DR_ASSERT(r->type == MESOS__VALUE__TYPE__SCALAR);
    return r->scalar == NULL ? 0 : to_millis(r->scalar->value);
}

typedef struct pairs {
    uint64_t *v; /* begin, end, begin, end, ... */
    size_t count; /* pairs */
    size_t capacity;
} pairs;

static void pairs_push(pairs *p, uint64_t begin, uint64_t end)
{
    if (p->count == p->capacity) {
        p->capacity = p->capacity == 0 ? 4 : p->capacity * 2;
        p->v = dr_realloc(p->v, p->capacity * 2 * sizeof *p->v);
    }
    p->v[2 * p->count] = begin;
    p->v[2 * p->count + 1] = end;
    p->count++;
}

static int pair_cmp(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

/* Sorts and coalesces overlapping or adjacent ranges. */
static void pairs_normalize(pairs *p)
{
    if (p->count < 2)
        return;
    qsort(p->v, p->count, 2 * sizeof *p->v, pair_cmp);
    size_t out = 0;
    for (size_t i = 1; i < p->count; i++) {
        uint64_t b = p->v[2 * i], e = p->v[2 * i + 1];
        uint64_t *last = &p->v[2 * out];
        if (last[1] == UINT64_MAX || b <= last[1] + 1) {
            if (e > last[1])
                last[1] = e;
        } else {
            out++;
            p->v[2 * out] = b;
            p->v[2 * out + 1] = e;
        }
    }
    p->count = out + 1;
}

static void pairs_from(const Mesos__Resource *r, pairs *p)
{
    memset(p, 0, sizeof *p);
    if (r->ranges == NULL)
        return;
    for (size_t i = 0; i < r->ranges->n_range; i++)
        pairs_push(p, r->ranges->range[i]->begin, r->ranges->range[i]->end);
    pairs_normalize(p);
}

static void pairs_free(pairs *p)
{
    dr_free(p->v);
    memset(p, 0, sizeof *p);
}

/* a minus b, both normalized; result normalized. */
static void pairs_subtract(const pairs *a, const pairs *b, pairs *out)
{
    memset(out, 0, sizeof *out);
    size_t j = 0;
    for (size_t i = 0; i < a->count; i++) {
        uint64_t b0 = a->v[2 * i], e0 = a->v[2 * i + 1];
        while (j < b->count && b->v[2 * j + 1] < b0)
            j++;
        size_t k = j;
        bool alive = true;
        while (alive && k < b->count && b->v[2 * k] <= e0) {
            uint64_t sb = b->v[2 * k], se = b->v[2 * k + 1];
            if (sb > b0)
                pairs_push(out, b0, sb - 1);
            if (se >= e0)
                alive = false;
            else
                b0 = se + 1;
            k++;
        }
        if (alive)
            pairs_push(out, b0, e0);
    }
}

/* b ⊆ a, both normalized (coalesced, so each b range lies in one a range). */
static bool pairs_contains(const pairs *a, const pairs *b)
{
    size_t i = 0;
    for (size_t j = 0; j < b->count; j++) {
        while (i < a->count && a->v[2 * i + 1] < b->v[2 * j])
            i++;
        if (i == a->count || a->v[2 * i] > b->v[2 * j] || a->v[2 * i + 1] < b->v[2 * j + 1])
            return false;
    }
    return true;
}

static void ranges_store(Mesos__Resource *r, const pairs *p)
{
    if (r->ranges == NULL) {
        r->ranges = dr_alloc(sizeof *r->ranges);
        mesos__value__ranges__init(r->ranges);
    }
    Mesos__Value__Ranges *rg = r->ranges;
    for (size_t i = 0; i < rg->n_range; i++)
        dr_free(rg->range[i]);
    dr_free(rg->range);
    rg->range = NULL;
    rg->n_range = p->count;
    if (p->count == 0)
        return;
    rg->range = dr_alloc_array(p->count, sizeof *rg->range);
    for (size_t i = 0; i < p->count; i++) {
        Mesos__Value__Range *x = dr_alloc(sizeof *x);
        mesos__value__range__init(x);
        x->begin = p->v[2 * i];
        x->end = p->v[2 * i + 1];
        rg->range[i] = x;
    }
}

static bool set_has(const Mesos__Value__Set *s, const char *item)
{
    if (s == NULL)
        return false;
    for (size_t i = 0; i < s->n_item; i++)
        if (strcmp(s->item[i], item) == 0)
            return true;
    return false;
}

static void set_append(Mesos__Resource *r, const char *item)
{
    if (r->set == NULL) {
        r->set = dr_alloc(sizeof *r->set);
        mesos__value__set__init(r->set);
    }
    r->set->item = dr_realloc(r->set->item, (r->set->n_item + 1) * sizeof *r->set->item);
    r->set->item[r->set->n_item++] = dr_strdup(item);
}

static void set_remove_at(Mesos__Value__Set *s, size_t i)
{
    dr_free(s->item[i]);
    memmove(&s->item[i], &s->item[i + 1], (s->n_item - i - 1) * sizeof *s->item);
    s->n_item--;
}

/* Makes r's value canonical: scalar rounded, ranges coalesced, set deduplicated. */
static void canon_value(Mesos__Resource *r)
{
    switch (r->type) {
    case MESOS__VALUE__TYPE__SCALAR:
        if (r->scalar != NULL)
            r->scalar->value = from_millis(to_millis(r->scalar->value));
        break;
    case MESOS__VALUE__TYPE__RANGES: {
        pairs p;
        pairs_from(r, &p);
        ranges_store(r, &p);
        pairs_free(&p);
        break;
    }
    case MESOS__VALUE__TYPE__SET:
        if (r->set != NULL)
            for (size_t i = r->set->n_item; i-- > 1;)
                for (size_t j = 0; j < i; j++)
                    if (strcmp(r->set->item[i], r->set->item[j]) == 0) {
                        set_remove_at(r->set, i);
                        break;
                    }
        break;
    default:
        break;
    }
}

/* ---- one resource ------------------------------------------------------------------ */

const char *dr_resource_role(const Mesos__Resource *r)
{
    if (r->n_reservations == 0)
        return "*";
    const char *role = r->reservations[r->n_reservations - 1]->role;
    return role == NULL ? "*" : role;
}

bool dr_resource_is_reserved(const Mesos__Resource *r)
{
    return r->n_reservations > 0;
}

bool dr_resource_is_empty(const Mesos__Resource *r)
{
    switch (r->type) {
    case MESOS__VALUE__TYPE__SCALAR:
        return dr_resource_millis(r) <= 0;
    case MESOS__VALUE__TYPE__RANGES:
        return r->ranges == NULL || r->ranges->n_range == 0;
    case MESOS__VALUE__TYPE__SET:
        return r->set == NULL || r->set->n_item == 0;
    default:
        return true;
    }
}

void dr_resource_identity(const Mesos__Resource *r, dr_buf *out)
{
    Mesos__Resource tmp = *r;
    tmp.scalar = NULL;
    tmp.ranges = NULL;
    tmp.set = NULL;
    tmp.role = NULL;
    tmp.reservation = NULL;
    size_t size = protobuf_c_message_get_packed_size(&tmp.base);
    dr_buf_reserve(out, size);
    size_t packed = protobuf_c_message_pack(&tmp.base, out->data + out->size);
    DR_ASSERT(packed == size);
    out->size += size;
}

bool dr_resource_addable(const Mesos__Resource *a, const Mesos__Resource *b)
{
    if (a->type != b->type || strcmp(a->name, b->name) != 0)
        return false;
    if (a->n_reservations != b->n_reservations)
        return false;
    bool plain_a = a->n_reservations == 0 && a->disk == NULL && a->revocable == NULL &&
                   a->shared == NULL && a->provider_id == NULL && a->allocation_info == NULL;
    bool plain_b = b->n_reservations == 0 && b->disk == NULL && b->revocable == NULL &&
                   b->shared == NULL && b->provider_id == NULL && b->allocation_info == NULL;
    if (plain_a && plain_b)
        return true; /* the common case, without packing */
    if (plain_scalar(a) && plain_scalar(b)) {
        /* allocated ones: the same allocation role (both unset, or equal) */
        const char *ra = a->allocation_info != NULL ? a->allocation_info->role : NULL;
        const char *rb = b->allocation_info != NULL ? b->allocation_info->role : NULL;
        if ((a->allocation_info == NULL) != (b->allocation_info == NULL))
            return false;
        return ra == NULL ? rb == NULL : rb != NULL && strcmp(ra, rb) == 0;
    }
    dr_buf x, y;
    dr_buf_init(&x);
    dr_buf_init(&y);
    dr_resource_identity(a, &x);
    dr_resource_identity(b, &y);
    bool same = x.size == y.size && memcmp(x.data, y.data, x.size) == 0;
    dr_buf_deinit(&x);
    dr_buf_deinit(&y);
    return same;
}

static Mesos__Resource *new_resource(const char *name, const char *role, Mesos__Value__Type type)
{
    Mesos__Resource *r = dr_alloc(sizeof *r);
    mesos__resource__init(r);
    r->name = dr_strdup(name);
    r->type = type;
    r->role = NULL; /* unset; free_unpacked skips NULL */
    if (role != NULL && strcmp(role, "*") != 0) {
        Mesos__Resource__ReservationInfo *info = dr_alloc(sizeof *info);
        mesos__resource__reservation_info__init(info);
        info->has_type = 1;
        info->type = MESOS__RESOURCE__RESERVATION_INFO__TYPE__STATIC;
        info->role = dr_strdup(role);
        r->reservations = dr_alloc(sizeof *r->reservations);
        r->reservations[0] = info;
        r->n_reservations = 1;
    }
    return r;
}

Mesos__Resource *dr_resource_new_scalar(const char *name, const char *role, double value)
{
    Mesos__Resource *r = new_resource(name, role, MESOS__VALUE__TYPE__SCALAR);
    r->scalar = dr_alloc(sizeof *r->scalar);
    mesos__value__scalar__init(r->scalar);
    r->scalar->value = from_millis(to_millis(value));
    return r;
}

Mesos__Resource *dr_resource_new_ranges(const char *name, const char *role,
                                        const uint64_t *v, size_t pair_count)
{
    Mesos__Resource *r = new_resource(name, role, MESOS__VALUE__TYPE__RANGES);
    pairs p = {0};
    for (size_t i = 0; i < pair_count; i++)
        pairs_push(&p, v[2 * i], v[2 * i + 1]);
    pairs_normalize(&p);
    ranges_store(r, &p);
    pairs_free(&p);
    return r;
}

/* ---- validation ------------------------------------------------------------------- */

dr_code dr_role_validate(const char *role, dr_err *err)
{
    if (role == NULL || role[0] == '\0')
        return dr_err_set(err, DR_EINVAL, "Empty role name is invalid");
    if (strcmp(role, "*") == 0)
        return DR_OK;
    size_t size = strlen(role);
    if (role[0] == '/')
        return dr_err_set(err, DR_EINVAL, "Role '%s' cannot start with a slash", role);
    if (role[size - 1] == '/')
        return dr_err_set(err, DR_EINVAL, "Role '%s' cannot end with a slash", role);
    const char *p = role;
    while (true) {
        const char *slash = strchr(p, '/');
        size_t n = slash == NULL ? strlen(p) : (size_t)(slash - p);
        if (n == 0)
            return dr_err_set(err, DR_EINVAL, "Role '%s' cannot contain two adjacent slashes",
                              role);
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return dr_err_set(err, DR_EINVAL, "Role '%s' cannot include '%.*s' as a component",
                              role, (int)n, p);
        if (n == 1 && p[0] == '*')
            return dr_err_set(err, DR_EINVAL, "Role '%s' cannot include '*' as a component",
                              role);
        if (p[0] == '-')
            return dr_err_set(err, DR_EINVAL,
                              "Role component '%.*s' is invalid because it starts with a dash",
                              (int)n, p);
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)p[i];
            if (c <= 0x20 || c == 0x7f)
                return dr_err_set(err, DR_EINVAL,
                                  "Role component '%.*s' is invalid because it contains "
                                  "a control character or whitespace",
                                  (int)n, p);
        }
        if (slash == NULL)
            break;
        p = slash + 1;
    }
    return DR_OK;
}

bool dr_role_is_ancestor_or_self(const char *ancestor, const char *role)
{
    size_t n = strlen(ancestor);
    if (strncmp(ancestor, role, n) != 0)
        return false;
    if (role[n] == '\0')
        return true;
    return role[n] == '/' && strcmp(ancestor, "*") != 0;
}

dr_code dr_resource_validate(const Mesos__Resource *r, dr_err *err)
{
    if (r->name == NULL || r->name[0] == '\0')
        return dr_err_set(err, DR_EINVAL, "resource '': empty resource name");
    const char *name = r->name;
    if ((r->role != NULL && strcmp(r->role, "*") != 0) || r->reservation != NULL)
        return dr_err_set(err, DR_EINVAL,
                          "resource '%s': pre-1.4 'role' must be upgraded to 'reservations'",
                          name);
    switch (r->type) {
    case MESOS__VALUE__TYPE__SCALAR:
        if (r->scalar == NULL || r->ranges != NULL || r->set != NULL)
            return dr_err_set(err, DR_EINVAL,
                              "resource '%s': a SCALAR needs 'scalar' and nothing else", name);
        if (!(r->scalar->value >= 0.0) || isinf(r->scalar->value) ||
            r->scalar->value > DR_RESOURCE_SCALAR_MAX)
            return dr_err_set(err, DR_EINVAL,
                              "resource '%s': scalar value must be finite, >= 0 and <= 1e12",
                              name);
        break;
    case MESOS__VALUE__TYPE__RANGES: {
        if (r->ranges == NULL || r->scalar != NULL || r->set != NULL)
            return dr_err_set(err, DR_EINVAL,
                              "resource '%s': RANGES needs 'ranges' and nothing else", name);
        const Mesos__Value__Ranges *rg = r->ranges;
        for (size_t i = 0; i < rg->n_range; i++) {
            if (rg->range[i]->begin > rg->range[i]->end)
                return dr_err_set(err, DR_EINVAL,
                                  "resource '%s': range %llu-%llu has begin > end", name,
                                  (unsigned long long)rg->range[i]->begin,
                                  (unsigned long long)rg->range[i]->end);
            for (size_t j = 0; j < i; j++)
                if (rg->range[j]->begin <= rg->range[i]->end &&
                    rg->range[i]->begin <= rg->range[j]->end)
                    return dr_err_set(err, DR_EINVAL,
                                      "resource '%s': ranges %llu-%llu and %llu-%llu overlap",
                                      name, (unsigned long long)rg->range[j]->begin,
                                      (unsigned long long)rg->range[j]->end,
                                      (unsigned long long)rg->range[i]->begin,
                                      (unsigned long long)rg->range[i]->end);
        }
        break;
    }
    case MESOS__VALUE__TYPE__SET:
        if (r->set == NULL || r->scalar != NULL || r->ranges != NULL)
            return dr_err_set(err, DR_EINVAL,
                              "resource '%s': SET needs 'set' and nothing else", name);
        for (size_t i = 0; i < r->set->n_item; i++)
            for (size_t j = 0; j < i; j++)
                if (strcmp(r->set->item[i], r->set->item[j]) == 0)
                    return dr_err_set(err, DR_EINVAL, "resource '%s': duplicate set item '%s'",
                                      name, r->set->item[i]);
        break;
    default:
        return dr_err_set(err, DR_EINVAL, "resource '%s': type must be SCALAR, RANGES or SET",
                          name);
    }
    for (size_t i = 0; i < r->n_reservations; i++) {
        const Mesos__Resource__ReservationInfo *info = r->reservations[i];
        if (info->role == NULL || strcmp(info->role, "*") == 0)
            return dr_err_set(err, DR_EINVAL, "resource '%s': a reservation needs a role other "
                                              "than '*'", name);
        dr_code rc = dr_role_validate(info->role, err);
        if (rc != DR_OK)
            return WRAP(err, "resource '%s'", name);
        if (i > 0 && !dr_role_is_ancestor_or_self(r->reservations[i - 1]->role, info->role))
            return dr_err_set(err, DR_EINVAL, "resource '%s': reservation role '%s' does not "
                                              "refine '%s'",
                              name, info->role, r->reservations[i - 1]->role);
    }
    if (r->allocation_info != NULL && r->allocation_info->role != NULL) {
        dr_code rc = dr_role_validate(r->allocation_info->role, err);
        if (rc != DR_OK)
            return WRAP(err, "resource '%s'", name);
    }
    return DR_OK;
}

dr_code dr_resources_from_array(dr_resources *out, const Mesos__Resource *const *items,
                                size_t count, dr_err *err)
{
    for (size_t i = 0; i < count; i++) {
        dr_code rc = dr_resource_validate(items[i], err);
        if (rc != DR_OK)
            return WRAP(err, "resource[%zu]", i);
    }
    for (size_t i = 0; i < count; i++)
        dr_resources_add_one(out, items[i]);
    return DR_OK;
}

/* ---- arithmetic -------------------------------------------------------------------- */

static Mesos__Resource *find_addable(const dr_resources *a, const Mesos__Resource *r,
                                     size_t *index)
{
    for (size_t i = 0; i < a->count; i++)
        if (dr_resource_addable(a->items[i], r)) {
            if (index != NULL)
                *index = i;
            return a->items[i];
        }
    return NULL;
}

void dr_resources_add_one(dr_resources *a, const Mesos__Resource *r)
{
    if (dr_resource_is_empty(r))
        return;
    Mesos__Resource *x = find_addable(a, r, NULL);
    if (x == NULL) {
        Mesos__Resource *c = dr_resource_copy(r);
        canon_value(c);
        push_item(a, c);
        return;
    }
    switch (r->type) {
    case MESOS__VALUE__TYPE__SCALAR:
        x->scalar->value = from_millis(add_millis(dr_resource_millis(x), dr_resource_millis(r)));
        break;
    case MESOS__VALUE__TYPE__RANGES: {
        pairs p;
        pairs_from(x, &p);
        for (size_t i = 0; i < r->ranges->n_range; i++)
            pairs_push(&p, r->ranges->range[i]->begin, r->ranges->range[i]->end);
        pairs_normalize(&p);
        ranges_store(x, &p);
        pairs_free(&p);
        break;
    }
    case MESOS__VALUE__TYPE__SET:
        for (size_t i = 0; i < r->set->n_item; i++)
            if (!set_has(x->set, r->set->item[i]))
                set_append(x, r->set->item[i]);
        break;
    default:
        DR_UNREACHABLE();
    }
}

void dr_resources_add(dr_resources *a, const dr_resources *b)
{
    DR_ASSERT(a != b);
    for (size_t i = 0; i < b->count; i++)
        dr_resources_add_one(a, b->items[i]);
}

void dr_resources_subtract_one(dr_resources *a, const Mesos__Resource *r)
{
    if (dr_resource_is_empty(r))
        return;
    size_t index = 0;
    Mesos__Resource *x = find_addable(a, r, &index);
    if (x == NULL)
        return;
    switch (r->type) {
    case MESOS__VALUE__TYPE__SCALAR:
        x->scalar->value = from_millis(dr_resource_millis(x) - dr_resource_millis(r));
        break;
    case MESOS__VALUE__TYPE__RANGES: {
        pairs p, q, d;
        pairs_from(x, &p);
        pairs_from(r, &q);
        pairs_subtract(&p, &q, &d);
        ranges_store(x, &d);
        pairs_free(&p);
        pairs_free(&q);
        pairs_free(&d);
        break;
    }
    case MESOS__VALUE__TYPE__SET:
        for (size_t i = 0; i < r->set->n_item; i++)
            for (size_t j = 0; j < x->set->n_item; j++)
                if (strcmp(x->set->item[j], r->set->item[i]) == 0) {
                    set_remove_at(x->set, j);
                    break;
                }
        break;
    default:
        DR_UNREACHABLE();
    }
    if (dr_resource_is_empty(x))
        remove_item(a, index);
}

void dr_resources_subtract(dr_resources *a, const dr_resources *b)
{
    DR_ASSERT(a != b);
    for (size_t i = 0; i < b->count; i++)
        dr_resources_subtract_one(a, b->items[i]);
}

bool dr_resources_contains_one(const dr_resources *a, const Mesos__Resource *r)
{
    if (dr_resource_is_empty(r))
        return true;
    const Mesos__Resource *x = find_addable(a, r, NULL);
    if (x == NULL)
        return false;
    switch (r->type) {
    case MESOS__VALUE__TYPE__SCALAR:
        return dr_resource_millis(x) >= dr_resource_millis(r);
    case MESOS__VALUE__TYPE__RANGES: {
        pairs p, q;
        pairs_from(x, &p);
        pairs_from(r, &q);
        bool ok = pairs_contains(&p, &q);
        pairs_free(&p);
        pairs_free(&q);
        return ok;
    }
    case MESOS__VALUE__TYPE__SET:
        for (size_t i = 0; i < r->set->n_item; i++)
            if (!set_has(x->set, r->set->item[i]))
                return false;
        return true;
    default:
        return false;
    }
}

bool dr_resources_contains(const dr_resources *a, const dr_resources *b)
{
    /* b is normalized: no two of its items draw on the same item of a. */
    for (size_t i = 0; i < b->count; i++)
        if (!dr_resources_contains_one(a, b->items[i]))
            return false;
    return true;
}

bool dr_resources_equal(const dr_resources *a, const dr_resources *b)
{
    return a->count == b->count && dr_resources_contains(a, b) && dr_resources_contains(b, a);
}

bool dr_resources_is_empty(const dr_resources *rs)
{
    return rs->count == 0;
}

/* ---- filters ------------------------------------------------------------------------ */

typedef bool keep_fn(const Mesos__Resource *r, const char *arg);

static void filter(const dr_resources *in, keep_fn *keep, const char *arg, dr_resources *out)
{
    DR_ASSERT(in != out);
    dr_resources tmp;
    dr_resources_init(&tmp);
    for (size_t i = 0; i < in->count; i++)
        if (keep(in->items[i], arg))
            push_item(&tmp, dr_resource_copy(in->items[i]));
    dr_resources_move(out, &tmp);
}

static bool keep_unreserved(const Mesos__Resource *r, const char *arg)
{
    DR_UNUSED(arg);
    return !dr_resource_is_reserved(r);
}

static bool keep_reserved(const Mesos__Resource *r, const char *role)
{
    if (!dr_resource_is_reserved(r))
        return false;
    return role == NULL || strcmp(role, "*") == 0 || strcmp(dr_resource_role(r), role) == 0;
}

static bool keep_allocatable(const Mesos__Resource *r, const char *role)
{
    return !dr_resource_is_reserved(r) || dr_role_is_ancestor_or_self(dr_resource_role(r), role);
}

static bool keep_named(const Mesos__Resource *r, const char *name)
{
    return strcmp(r->name, name) == 0;
}

void dr_resources_unreserved(const dr_resources *in, dr_resources *out)
{
    filter(in, keep_unreserved, NULL, out);
}

void dr_resources_reserved(const dr_resources *in, const char *role, dr_resources *out)
{
    filter(in, keep_reserved, role, out);
}

void dr_resources_allocatable_to(const dr_resources *in, const char *role, dr_resources *out)
{
    filter(in, keep_allocatable, role, out);
}

void dr_resources_named(const dr_resources *in, const char *name, dr_resources *out)
{
    filter(in, keep_named, name, out);
}

void dr_resources_set_allocation_role(dr_resources *rs, const char *role)
{
    dr_resources tmp;
    dr_resources_init(&tmp);
    for (size_t i = 0; i < rs->count; i++) {
        Mesos__Resource *r = rs->items[i];
        if (r->allocation_info != NULL) {
            protobuf_c_message_free_unpacked(&r->allocation_info->base, NULL);
            r->allocation_info = NULL;
        }
        if (role != NULL) {
            r->allocation_info = dr_alloc(sizeof *r->allocation_info);
            mesos__resource__allocation_info__init(r->allocation_info);
            r->allocation_info->role = dr_strdup(role);
        }
        dr_resources_add_one(&tmp, r);
    }
    dr_resources_move(rs, &tmp);
}

/* ---- sums ---------------------------------------------------------------------------- */

int64_t dr_resources_scalar_millis(const dr_resources *rs, const char *name)
{
    int64_t sum = 0;
    for (size_t i = 0; i < rs->count; i++)
        if (rs->items[i]->type == MESOS__VALUE__TYPE__SCALAR &&
            strcmp(rs->items[i]->name, name) == 0)
            sum = add_millis(sum, dr_resource_millis(rs->items[i]));
    return sum;
}

double dr_resources_scalar(const dr_resources *rs, const char *name)
{
    return from_millis(dr_resources_scalar_millis(rs, name));
}

double dr_resources_cpus(const dr_resources *rs)
{
    return dr_resources_scalar(rs, "cpus");
}

double dr_resources_mem(const dr_resources *rs)
{
    return dr_resources_scalar(rs, "mem");
}

double dr_resources_disk(const dr_resources *rs)
{
    return dr_resources_scalar(rs, "disk");
}

double dr_resources_gpus(const dr_resources *rs)
{
    return dr_resources_scalar(rs, "gpus");
}

size_t dr_resources_ports(const dr_resources *rs, dr_buf *out)
{
    pairs p = {0};
    for (size_t i = 0; i < rs->count; i++) {
        const Mesos__Resource *r = rs->items[i];
        if (r->type != MESOS__VALUE__TYPE__RANGES || strcmp(r->name, "ports") != 0)
            continue;
        for (size_t j = 0; j < r->ranges->n_range; j++)
            pairs_push(&p, r->ranges->range[j]->begin, r->ranges->range[j]->end);
    }
    pairs_normalize(&p);
    dr_buf_reset(out);
    if (p.count > 0)
        dr_buf_append(out, p.v, p.count * 2 * sizeof *p.v);
    size_t n = p.count;
    pairs_free(&p);
    return n;
}

/* ---- text form ------------------------------------------------------------------------ */

static void format_scalar(dr_buf *out, int64_t millis)
{
    char text[64];
    snprintf(text, sizeof text, "%.15g", from_millis(millis));
    dr_buf_append_str(out, text);
}

static void format_one(const Mesos__Resource *r, dr_buf *out)
{
    dr_buf_append_str(out, r->name);
    dr_buf_printf(out, "(%s", dr_resource_role(r));
    if (r->n_reservations > 0) {
        const Mesos__Resource__ReservationInfo *last = r->reservations[r->n_reservations - 1];
        if (last->principal != NULL)
            dr_buf_printf(out, ", %s", last->principal);
    }
    dr_buf_append_str(out, ")");
    if (r->disk != NULL) {
        dr_buf_append_str(out, "[");
        if (r->disk->persistence != NULL && r->disk->persistence->id != NULL)
            dr_buf_append_str(out, r->disk->persistence->id);
        if (r->disk->volume != NULL && r->disk->volume->container_path != NULL)
            dr_buf_printf(out, ":%s", r->disk->volume->container_path);
        dr_buf_append_str(out, "]");
    }
    if (r->revocable != NULL)
        dr_buf_append_str(out, "{REV}");
    if (r->shared != NULL)
        dr_buf_append_str(out, "<SHARED>");
    dr_buf_append_str(out, ":");
    switch (r->type) {
    case MESOS__VALUE__TYPE__SCALAR:
        format_scalar(out, dr_resource_millis(r));
        break;
    case MESOS__VALUE__TYPE__RANGES:
        dr_buf_append_str(out, "[");
        for (size_t i = 0; r->ranges != NULL && i < r->ranges->n_range; i++)
            dr_buf_printf(out, "%s%llu-%llu", i > 0 ? ", " : "",
                          (unsigned long long)r->ranges->range[i]->begin,
                          (unsigned long long)r->ranges->range[i]->end);
        dr_buf_append_str(out, "]");
        break;
    case MESOS__VALUE__TYPE__SET:
        dr_buf_append_str(out, "{");
        for (size_t i = 0; r->set != NULL && i < r->set->n_item; i++)
            dr_buf_printf(out, "%s%s", i > 0 ? ", " : "", r->set->item[i]);
        dr_buf_append_str(out, "}");
        break;
    default:
        dr_buf_append_str(out, "?");
        break;
    }
}

void dr_resources_format(const dr_resources *rs, dr_buf *out)
{
    for (size_t i = 0; i < rs->count; i++) {
        if (i > 0)
            dr_buf_append_str(out, "; ");
        format_one(rs->items[i], out);
    }
}

char *dr_resources_to_string(const dr_resources *rs)
{
    dr_buf b;
    dr_buf_init(&b);
    dr_resources_format(rs, &b);
    char *s = dr_strdup(dr_buf_cstr(&b));
    dr_buf_deinit(&b);
    return s;
}

/* ---- parsing ---------------------------------------------------------------------------- */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Trims blanks from [*b, *e). */
static void trim(const char **b, const char **e)
{
    while (*b < *e && is_blank(**b))
        (*b)++;
    while (*e > *b && is_blank((*e)[-1]))
        (*e)--;
}

static bool parse_u64(const char *b, const char *e, uint64_t *out)
{
    trim(&b, &e);
    if (b == e)
        return false;
    uint64_t v = 0;
    for (const char *p = b; p < e; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Parses one "name(role):value" entry [b, e) (trimmed, non-empty) into a new
 * resource (returns owned via *out). entry is the NUL-terminated copy for
 * error texts. */
static dr_code parse_entry(const char *b, const char *e, const char *entry,
                           Mesos__Resource **out, dr_err *err)
{
    const char *colon = memchr(b, ':', (size_t)(e - b));
    if (colon == NULL)
        return dr_err_set(err, DR_EINVAL, "resources '%s': expected NAME:VALUE", entry);
    const char *nb = b, *ne = colon;
    char *role = NULL;
    const char *open = memchr(nb, '(', (size_t)(ne - nb));
    if (open != NULL) {
        const char *close = memchr(open, ')', (size_t)(ne - open));
        if (close == NULL)
            return dr_err_set(err, DR_EINVAL, "resources '%s': mismatched parentheses", entry);
        const char *after = close + 1, *after_end = ne;
        trim(&after, &after_end);
        if (after != after_end)
            return dr_err_set(err, DR_EINVAL, "resources '%s': text after ')'", entry);
        const char *rb = open + 1, *re = close;
        trim(&rb, &re);
        role = dr_strndup(rb, (size_t)(re - rb));
        ne = open;
    }
    trim(&nb, &ne);
    if (nb == ne) {
        dr_free(role);
        return dr_err_set(err, DR_EINVAL, "resources '%s': empty resource name", entry);
    }
    if (role != NULL) {
        dr_code rc = dr_role_validate(role, err);
        if (rc != DR_OK) {
            dr_free(role);
            return WRAP(err, "resources '%s'", entry);
        }
    }
    char *name = dr_strndup(nb, (size_t)(ne - nb));
    const char *vb = colon + 1, *ve = e;
    trim(&vb, &ve);
    Mesos__Resource *r = NULL;
    dr_code rc = DR_OK;
    if (vb < ve && *vb == '[') {
        if (ve[-1] != ']') {
            rc = dr_err_set(err, DR_EINVAL, "resources '%s': ranges must end with ']'", entry);
            goto done;
        }
        pairs p = {0};
        const char *q = vb + 1, *end = ve - 1;
        while (q < end) {
            const char *comma = memchr(q, ',', (size_t)(end - q));
            const char *ie = comma == NULL ? end : comma;
            const char *ib = q, *iee = ie;
            trim(&ib, &iee);
            if (ib != iee) {
                const char *dash = memchr(ib, '-', (size_t)(iee - ib));
                uint64_t lo = 0, hi = 0;
                if (dash == NULL || !parse_u64(ib, dash, &lo) || !parse_u64(dash + 1, iee, &hi)) {
                    rc = dr_err_set(err, DR_EINVAL,
                                    "resources '%s': range '%.*s' is not BEGIN-END", entry,
                                    (int)(iee - ib), ib);
                    pairs_free(&p);
                    goto done;
                }
                if (lo > hi) {
                    rc = dr_err_set(err, DR_EINVAL,
                                    "resources '%s': range %llu-%llu has begin > end", entry,
                                    (unsigned long long)lo, (unsigned long long)hi);
                    pairs_free(&p);
                    goto done;
                }
                for (size_t i = 0; i < p.count; i++)
                    if (p.v[2 * i] <= hi && lo <= p.v[2 * i + 1]) {
                        rc = dr_err_set(err, DR_EINVAL,
                                        "resources '%s': ranges %llu-%llu and %llu-%llu overlap",
                                        entry, (unsigned long long)p.v[2 * i],
                                        (unsigned long long)p.v[2 * i + 1],
                                        (unsigned long long)lo, (unsigned long long)hi);
                        pairs_free(&p);
                        goto done;
                    }
                pairs_push(&p, lo, hi);
            }
            q = comma == NULL ? end : comma + 1;
        }
        r = dr_resource_new_ranges(name, role, p.v, p.count);
        pairs_free(&p);
    } else if (vb < ve && *vb == '{') {
        if (ve[-1] != '}') {
            rc = dr_err_set(err, DR_EINVAL, "resources '%s': a set must end with '}'", entry);
            goto done;
        }
        r = new_resource(name, role, MESOS__VALUE__TYPE__SET);
        r->set = dr_alloc(sizeof *r->set);
        mesos__value__set__init(r->set);
        const char *q = vb + 1, *end = ve - 1;
        while (q < end) {
            const char *comma = memchr(q, ',', (size_t)(end - q));
            const char *ib = q, *ie = comma == NULL ? end : comma;
            trim(&ib, &ie);
            if (ib != ie) {
                char *item = dr_strndup(ib, (size_t)(ie - ib));
                bool dup = set_has(r->set, item);
                if (!dup)
                    set_append(r, item);
                if (dup) {
                    rc = dr_err_set(err, DR_EINVAL, "resources '%s': duplicate set item '%s'",
                                    entry, item);
                    dr_free(item);
                    goto done;
                }
                dr_free(item);
            }
            q = comma == NULL ? end : comma + 1;
        }
    } else {
        char *value_text = dr_strndup(vb, (size_t)(ve - vb));
        char *endp = NULL;
        double v = strtod(value_text, &endp);
        bool number = endp != value_text && *endp == '\0';
        dr_free(value_text);
        if (!number) {
            rc = dr_err_set(err, DR_EINVAL, "resources '%s': value is not a number", entry);
            goto done;
        }
        if (!(v >= 0.0) || isinf(v) || v > DR_RESOURCE_SCALAR_MAX) {
            rc = dr_err_set(err, DR_EINVAL,
                            "resources '%s': value must be finite, >= 0 and <= 1e12", entry);
            goto done;
        }
        r = dr_resource_new_scalar(name, role, v);
    }
done:
    if (rc != DR_OK) {
        dr_resource_free(r);
        r = NULL;
    }
    dr_free(name);
    dr_free(role);
    if (rc == DR_OK)
        *out = r;
    return rc;
}

static dr_code parse_json(const char *text, dr_resources *out, dr_err *err)
{
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return dr_err_set(err, DR_EINVAL, "resources '%s': invalid JSON at line %d, column %d: %s",
                          text, jerr.line, jerr.column, jerr.text);
    dr_code rc = DR_OK;
    dr_resources tmp;
    dr_resources_init(&tmp);
    if (!json_is_array(root)) {
        rc = dr_err_set(err, DR_EINVAL, "resources '%s': expected a JSON array", text);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(root); i++) {
        ProtobufCMessage *msg = NULL;
        rc = dr_json_decode_value(&mesos__resource__descriptor, json_array_get(root, i), NULL,
                                  &msg, err);
        if (rc == DR_OK) {
            rc = dr_proto_upgrade_resources(msg, NULL, err);
            if (rc == DR_OK)
                rc = dr_resource_validate((Mesos__Resource *)msg, err);
            if (rc == DR_OK)
                dr_resources_add_one(&tmp, (Mesos__Resource *)msg);
            dr_proto_free(msg);
        }
        if (rc != DR_OK) {
            WRAP(err, "resources '%s': [%zu]", text, i);
            goto out;
        }
    }
    dr_resources_add(out, &tmp);
out:
    dr_resources_deinit(&tmp);
    json_decref(root);
    return rc;
}

dr_code dr_resources_parse(const char *text, dr_resources *out, dr_err *err)
{
    const char *b = text, *e = text + strlen(text);
    trim(&b, &e);
    if (b < e && *b == '[')
        return parse_json(text, out, err);
    dr_resources tmp;
    dr_resources_init(&tmp);
    const char *p = b;
    while (p < e) {
        const char *semi = memchr(p, ';', (size_t)(e - p));
        const char *xb = p, *xe = semi == NULL ? e : semi;
        trim(&xb, &xe);
        if (xb != xe) {
            char *entry = dr_strndup(xb, (size_t)(xe - xb));
            Mesos__Resource *r = NULL;
            dr_code rc = parse_entry(xb, xe, entry, &r, err);
            dr_free(entry);
            if (rc != DR_OK) {
                dr_resources_deinit(&tmp);
                return rc;
            }
            dr_resources_add_one(&tmp, r);
            dr_resource_free(r);
        }
        p = semi == NULL ? e : semi + 1;
    }
    dr_resources_add(out, &tmp);
    dr_resources_deinit(&tmp);
    return DR_OK;
}
