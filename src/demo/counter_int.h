/* src/demo/counter_int.h — helpers shared by the counter's own files. */
#ifndef DR_DEMO_COUNTER_INT_H
#define DR_DEMO_COUNTER_INT_H

#include "counter.h"

uint64_t dr__counter_get_u64(const uint8_t *p);
uint32_t dr__counter_get_u32(const uint8_t *p);
void dr__counter_put_u64(uint8_t *p, uint64_t v);
void dr__counter_put_u32(uint8_t *p, uint32_t v);

/* Backoff before reconnect attempt number attempt (0-based): 10 ms doubling,
 * capped at 1 s, plus up to half again of jitter drawn from rng. */
#define DR_COUNTER_BACKOFF_MIN_NS (10 * DR_NS_PER_MS)
#define DR_COUNTER_BACKOFF_SHIFT_MAX 7u
_Static_assert((DR_COUNTER_BACKOFF_MIN_NS << DR_COUNTER_BACKOFF_SHIFT_MAX) <= 2 * DR_NS_PER_S,
               "backoff stays under two seconds");

static inline uint64_t dr__counter_backoff_ns(dr_rng *rng, uint32_t attempt)
{
    uint32_t shift = attempt < DR_COUNTER_BACKOFF_SHIFT_MAX ? attempt : DR_COUNTER_BACKOFF_SHIFT_MAX;
    uint64_t base_ns = DR_COUNTER_BACKOFF_MIN_NS << shift;
    return base_ns + dr_rng_below(rng, base_ns / 2 + 1);
}

#endif /* DR_DEMO_COUNTER_INT_H */
