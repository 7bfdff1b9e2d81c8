/* src/master/idmap.c — dr_idmap: string id -> pointer, sorted by strcmp,
 * with a hash index for lookups.
 *
 * The master's collections iterate in key order so that what it emits and
 * decides never depends on addresses or hash layout: the sorted array is
 * what callers walk. Ids share long prefixes (the master's UUID in agent,
 * framework and offer ids), which makes every strcmp of a binary search
 * scan ~40 bytes; lookups, by far the most frequent operation, go through an
 * open-addressing index instead (linear probing, kept at most half full,
 * backward-shift deletion so no tombstones). The index is only ever probed
 * for one key, never iterated, so its layout cannot leak into any order.
 * Inserts and removals still binary-search the array for the position and
 * move its tail (O(n) memmove), cheap at the sizes a master holds.
 */
#include <string.h>

#include "src/master/master_int.h"

void dr_idmap_init(dr_idmap *map) { memset(map, 0, sizeof *map); }

void dr_idmap_deinit(dr_idmap *map)
{
    dr_free(map->items);
    dr_free(map->index);
    memset(map, 0, sizeof *map);
}

/* 64-bit hash of a NUL-terminated key, 8 bytes at a time (a multiply-xorshift
 * mix in the manner of wyhash/splitmix); never 0 (0 marks nothing here, but
 * keeping it non-zero makes a cleared slot stand out in a debugger). */
static uint64_t key_hash(const char *key)
{
    size_t n = strlen(key);
    uint64_t h = 0x9e3779b97f4a7c15u ^ (uint64_t)n;
    const unsigned char *p = (const unsigned char *)key;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9u;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0x94d049bb133111ebu;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9u;
    h ^= h >> 32;
    return h != 0 ? h : 1;
}

static size_t index_probe(const dr_idmap *map, uint64_t hash, const char *key)
{
    size_t mask = map->index_capacity - 1;
    size_t i = (size_t)hash & mask;
    while (map->index[i].key != NULL) {
        if (map->index[i].hash == hash && strcmp(map->index[i].key, key) == 0)
            return i;
        i = (i + 1) & mask;
    }
    return i; /* the empty slot ending the probe */
}

static void index_insert(dr_idmap *map, uint64_t hash, const char *key, void *value)
{
    size_t i = index_probe(map, hash, key);
    DR_ASSERT(map->index[i].key == NULL);
    map->index[i].hash = hash;
    map->index[i].key = key;
    map->index[i].value = value;
}

/* Grows the index so that it stays at most half full with count + 1 keys. */
static void index_reserve(dr_idmap *map)
{
    if (map->index != NULL && 2 * (map->count + 1) <= map->index_capacity)
        return;
    size_t cap = map->index_capacity == 0 ? 16 : map->index_capacity * 2;
    while (2 * (map->count + 1) > cap)
        cap *= 2;
    dr_idmap_slot *old = map->index;
    size_t old_cap = map->index_capacity;
    map->index = dr_alloc_array(cap, sizeof *map->index);
    map->index_capacity = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key != NULL)
            index_insert(map, old[i].hash, old[i].key, old[i].value);
    dr_free(old);
}

/* Removes slot i, shifting back the entries of its probe run that would no
 * longer be reachable (Knuth's algorithm R for linear probing). */
static void index_delete(dr_idmap *map, size_t i)
{
    size_t mask = map->index_capacity - 1;
    size_t j = i;
    for (;;) {
        map->index[i].key = NULL;
        size_t home;
        do {
            j = (j + 1) & mask;
            if (map->index[j].key == NULL)
                return;
            home = (size_t)map->index[j].hash & mask;
            /* j stays if its home lies cyclically in (i, j] */
        } while (i <= j ? (i < home && home <= j) : (i < home || home <= j));
        map->index[i] = map->index[j];
        i = j;
    }
}

/* Index in items of key, or of where it would go; *found tells which. */
static size_t find(const dr_idmap *map, const char *key, bool *found)
{
    size_t lo = 0;
    size_t hi = map->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(map->items[mid].key, key);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

void *dr_idmap_get(const dr_idmap *map, const char *key)
{
    if (map->count == 0)
        return NULL;
    size_t i = index_probe(map, key_hash(key), key);
    return map->index[i].key != NULL ? map->index[i].value : NULL;
}

void dr_idmap_put(dr_idmap *map, const char *key, void *value)
{
    DR_ASSERT(key != NULL);
    DR_ASSERT(value != NULL);
    bool found;
    size_t i = find(map, key, &found);
    DR_ASSERT(!found);
    if (map->count == map->capacity) {
        map->capacity = map->capacity == 0 ? 8 : map->capacity * 2;
        map->items = dr_realloc(map->items, map->capacity * sizeof map->items[0]);
    }
    index_reserve(map);
    index_insert(map, key_hash(key), key, value);
    memmove(&map->items[i + 1], &map->items[i], (map->count - i) * sizeof map->items[0]);
    map->items[i].key = key;
    map->items[i].value = value;
    map->count++;
    DR_ASSERT_SLOW(i == 0 || strcmp(map->items[i - 1].key, key) < 0);
    DR_ASSERT_SLOW(i + 1 == map->count || strcmp(key, map->items[i + 1].key) < 0);
}

void *dr_idmap_remove(dr_idmap *map, const char *key)
{
    if (map->count == 0)
        return NULL;
    size_t s = index_probe(map, key_hash(key), key);
    if (map->index[s].key == NULL)
        return NULL;
    bool found;
    size_t i = find(map, key, &found);
    DR_ASSERT(found);
    void *value = map->items[i].value;
    DR_ASSERT(map->index[s].value == value);
    index_delete(map, s);
    memmove(&map->items[i], &map->items[i + 1], (map->count - i - 1) * sizeof map->items[0]);
    map->count--;
    DR_ASSERT_SLOW(dr_idmap_get(map, key) == NULL);
    return value;
}
