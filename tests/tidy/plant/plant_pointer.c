/* tests/tidy/plant/plant_pointer.c — planted address-derived values for the
 * source negative test: a pointer hashed as a key and printed with %p. The
 * line marked tidy:allow and the const-dropping cast must not be reported.
 */
#include <stdint.h>
#include <stdio.h>

#include "src/base/base.h"

uint64_t tidy_plant_pointer(const void *p, char *out, size_t out_size);

uint64_t tidy_plant_pointer(const void *p, char *out, size_t out_size)
{
    uint64_t bucket = dr_mix64((uint64_t)(uintptr_t)p);
    snprintf(out, out_size, "node %p", p);
    DR_ASSERT(((uintptr_t)p & 7u) == 0); /* tidy:allow alignment check, not a key */
    char *writable = (char *)(uintptr_t)p; /* drops const only: not reported */
    return bucket + (writable == NULL);
}
