/* src/master/idmap.c — dr_idmap: string id -> pointer, sorted by strcmp.
 *
 * The master's collections iterate in key order so that what it emits and
 * decides never depends on addresses or hash layout. A sorted array keeps
 * lookups at O(log n) and walks cache-friendly; inserts and removals move
 * the tail (O(n) memmove), which stays cheap at the sizes a master holds.
 */
#include <string.h>

#include "src/master/master_int.h"

void dr_idmap_init(dr_idmap *map) { memset(map, 0, sizeof *map); }

void dr_idmap_deinit(dr_idmap *map)
{
    dr_free(map->items);
    memset(map, 0, sizeof *map);
}

/* Index of key, or of where it would go; *found tells which. */
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
    bool found;
    size_t i = find(map, key, &found);
    return found ? map->items[i].value : NULL;
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
    memmove(&map->items[i + 1], &map->items[i], (map->count - i) * sizeof map->items[0]);
    map->items[i].key = key;
    map->items[i].value = value;
    map->count++;
    DR_ASSERT_SLOW(i == 0 || strcmp(map->items[i - 1].key, key) < 0);
    DR_ASSERT_SLOW(i + 1 == map->count || strcmp(key, map->items[i + 1].key) < 0);
}

void *dr_idmap_remove(dr_idmap *map, const char *key)
{
    bool found;
    size_t i = find(map, key, &found);
    if (!found)
        return NULL;
    void *value = map->items[i].value;
    memmove(&map->items[i], &map->items[i + 1], (map->count - i - 1) * sizeof map->items[0]);
    map->count--;
    return value;
}
