/* src/base/base.c — error reports, assertions, allocation, byte buffers and the
 * seeded random stream. Pure: no clock, no files, no randomness of its own.
 * (stderr is written only on a failed assertion or exhausted memory, just
 * before abort.)
 */
#include "base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const code_names[DR_CODE_COUNT] = {
    [DR_OK] = "DR_OK",
    [DR_EINVAL] = "DR_EINVAL",
    [DR_ENOENT] = "DR_ENOENT",
    [DR_EEXIST] = "DR_EEXIST",
    [DR_EIO] = "DR_EIO",
    [DR_ENOSPC] = "DR_ENOSPC",
    [DR_EACCES] = "DR_EACCES",
    [DR_ENOTDIR] = "DR_ENOTDIR",
    [DR_EISDIR] = "DR_EISDIR",
    [DR_ENOTEMPTY] = "DR_ENOTEMPTY",
    [DR_EBUSY] = "DR_EBUSY",
    [DR_EAGAIN] = "DR_EAGAIN",
    [DR_ECONNREFUSED] = "DR_ECONNREFUSED",
    [DR_ECONNRESET] = "DR_ECONNRESET",
    [DR_ETIMEDOUT] = "DR_ETIMEDOUT",
    [DR_ECLOSED] = "DR_ECLOSED",
    [DR_EADDRINUSE] = "DR_EADDRINUSE",
    [DR_ENOTFOUND] = "DR_ENOTFOUND",
    [DR_ETOOBIG] = "DR_ETOOBIG",
    [DR_EPROTO] = "DR_EPROTO",
    [DR_ESRCH] = "DR_ESRCH",
    [DR_ENOTSUP] = "DR_ENOTSUP",
    [DR_ECANCELED] = "DR_ECANCELED",
    [DR_ECORRUPT] = "DR_ECORRUPT",
    [DR_EINTERNAL] = "DR_EINTERNAL",
};

const char *dr_code_name(dr_code code)
{
    if ((unsigned)code >= DR_CODE_COUNT || code_names[code] == NULL)
        return "DR_E?";
    return code_names[code];
}

dr_code dr_err_set(dr_err *err, dr_code code, const char *fmt, ...)
{
    if (err != NULL) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

dr_code dr_err_wrap(dr_err *err, const char *fmt, ...)
{
    DR_ASSERT(err != NULL);
    char prefix[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char joined[2 * sizeof err->msg + 2]; /* room for both, then cut to fit */
    int n = snprintf(joined, sizeof joined, "%s: %s", prefix, err->msg);
    size_t size = n > 0 ? (size_t)n : 0;
    if (size < sizeof err->msg) {
        memcpy(err->msg, joined, size + 1);
        return err->code;
    }
    /* Too long (paths wrapped twice, say): the middle goes, so that both the
     * outer context and the cause at the end ("No space left on device")
     * survive: a third of the room for the head, the rest for the tail. */
    size_t room = sizeof err->msg - 1 - 3;
    size_t head = room / 3, tail = room - head;
    memcpy(err->msg, joined, head);
    memcpy(err->msg + head, "...", 3);
    memcpy(err->msg + head + 3, joined + size - tail, tail + 1);
    return err->code;
}

void dr_err_clear(dr_err *err)
{
    err->code = DR_OK;
    err->msg[0] = '\0';
}

/* ---- assertions ----------------------------------------------------------- */

static dr_assert_hook_fn *assert_hook;
static void *assert_hook_ctx;

void dr_assert_set_hook(dr_assert_hook_fn *fn, void *ctx)
{
    assert_hook = fn;
    assert_hook_ctx = ctx;
}

_Noreturn void dr_assert_fail(const char *file, int line, const char *expr)
{
    fprintf(stderr, "dromos: assertion failed at %s:%d: %s\n", file, line, expr);
    if (assert_hook != NULL)
        assert_hook(file, line, expr, assert_hook_ctx);
    fflush(stderr);
    abort();
}

/* ---- memory --------------------------------------------------------------- */

static _Noreturn void out_of_memory(size_t size)
{
    fprintf(stderr, "dromos: out of memory allocating %zu bytes\n", size);
    abort();
}

void *dr_alloc(size_t size)
{
    /* malloc + memset rather than calloc: glibc's calloc bypasses the
     * per-thread cache (tcache), and the master's small, short-lived
     * allocations then spend their time in _int_malloc's bins (bench_master:
     * _int_malloc went from 13.5% to 6.7% of the profile). */
    size_t n = size == 0 ? 1 : size;
    void *p = malloc(n);
    if (p == NULL)
        out_of_memory(size);
    memset(p, 0, n);
    return p;
}

void *dr_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size == 0 ? 1 : size);
    if (p == NULL)
        out_of_memory(size);
    return p;
}

void *dr_alloc_array(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        out_of_memory(SIZE_MAX);
    return dr_alloc(count * size);
}

char *dr_strdup(const char *s)
{
    return dr_strndup(s, strlen(s));
}

char *dr_strndup(const char *s, size_t size)
{
    size_t n = strnlen(s, size);
    char *p = dr_alloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *dr_sprintf(const char *fmt, ...)
{
    dr_buf buf;
    dr_buf_init(&buf);
    va_list ap;
    va_start(ap, fmt);
    dr_buf_vprintf(&buf, fmt, ap);
    va_end(ap);
    dr_buf_cstr(&buf); /* NUL-terminates; the buffer becomes the string */
    return (char *)buf.data;
}

void dr_free(void *ptr)
{
    free(ptr);
}

bool dr_strlcpy(char *dst, const char *src, size_t dst_size)
{
    DR_ASSERT(dst_size > 0);
    size_t n = strlen(src);
    bool fits = n < dst_size;
    if (!fits)
        n = dst_size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return fits;
}

/* ---- byte buffer ---------------------------------------------------------- */

void dr_buf_init(dr_buf *buf)
{
    buf->data = NULL;
    buf->size = 0;
    buf->capacity = 0;
}

void dr_buf_deinit(dr_buf *buf)
{
    dr_free(buf->data);
    dr_buf_init(buf);
}

void dr_buf_reserve(dr_buf *buf, size_t extra_size)
{
    DR_ASSERT(buf->size <= SIZE_MAX - extra_size - 1);
    size_t need = buf->size + extra_size + 1; /* +1: room for dr_buf_cstr's NUL */
    if (need <= buf->capacity)
        return;
    size_t cap = buf->capacity < 64 ? 64 : buf->capacity;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    buf->data = dr_realloc(buf->data, cap);
    buf->capacity = cap;
}

void dr_buf_append(dr_buf *buf, const void *data, size_t size)
{
    if (size == 0)
        return;
    dr_buf_reserve(buf, size);
    memcpy(buf->data + buf->size, data, size);
    buf->size += size;
}

void dr_buf_append_str(dr_buf *buf, const char *s)
{
    dr_buf_append(buf, s, strlen(s));
}

void dr_buf_append_uint(dr_buf *buf, uint64_t value, unsigned radix)
{
    DR_ASSERT(radix == 10 || radix == 16);
    char digits[20]; /* UINT64_MAX has 20 decimal digits */
    size_t n = sizeof digits;
    do {
        digits[--n] = "0123456789abcdef"[value % radix];
        value /= radix;
    } while (value > 0);
    dr_buf_append(buf, digits + n, sizeof digits - n);
}

void dr_buf_vprintf(dr_buf *buf, const char *fmt, va_list ap)
{
    /* Format into a stack buffer first: one pass for the common short line. */
    char small[256];
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(small, sizeof small, fmt, copy);
    va_end(copy);
    DR_ASSERT(n >= 0);
    if ((size_t)n < sizeof small) {
        dr_buf_append(buf, small, (size_t)n);
        return;
    }
    dr_buf_reserve(buf, (size_t)n);
    vsnprintf((char *)buf->data + buf->size, (size_t)n + 1, fmt, ap);
    buf->size += (size_t)n;
}

void dr_buf_printf(dr_buf *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dr_buf_vprintf(buf, fmt, ap);
    va_end(ap);
}

void dr_buf_consume(dr_buf *buf, size_t size)
{
    DR_ASSERT(size <= buf->size);
    memmove(buf->data, buf->data + size, buf->size - size);
    buf->size -= size;
}

void dr_buf_reset(dr_buf *buf)
{
    buf->size = 0;
}

const char *dr_buf_cstr(dr_buf *buf)
{
    dr_buf_reserve(buf, 0);
    buf->data[buf->size] = '\0';
    return (const char *)buf->data;
}

/* ---- random --------------------------------------------------------------- */

uint64_t dr_mix64(uint64_t x)
{
    /* splitmix64 finalizer */
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

void dr_rng_init(dr_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        x = dr_mix64(x);
        rng->s[i] = x;
    }
    if ((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) == 0)
        rng->s[0] = 1; /* xoshiro's one forbidden state */
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t dr_rng_next(dr_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t dr_rng_below(dr_rng *rng, uint64_t bound)
{
    DR_ASSERT(bound > 0);
    /* Lemire's rejection on the high word would need 128-bit math; plain
     * rejection sampling is simple and exact. */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % bound);
    for (;;) {
        uint64_t x = dr_rng_next(rng);
        if (x < limit)
            return x % bound;
    }
}

double dr_rng_unit(dr_rng *rng)
{
    return (double)(dr_rng_next(rng) >> 11) * 0x1.0p-53;
}

bool dr_rng_chance(dr_rng *rng, double p)
{
    if (p <= 0.0)
        return false;
    if (p >= 1.0)
        return true;
    return dr_rng_unit(rng) < p;
}

uint64_t dr_seed_derive(uint64_t parent_seed, const char *purpose)
{
    uint64_t h = dr_mix64(parent_seed ^ UINT64_C(0x6a09e667f3bcc909));
    for (const unsigned char *p = (const unsigned char *)purpose; *p != '\0'; p++)
        h = dr_mix64(h ^ *p);
    return h;
}
