/* src/base/base.h — the vocabulary every Dromos module shares: result codes and
 * error reports, assertions that stay on in release builds, allocation that
 * aborts on exhaustion, and a seeded random stream (pure arithmetic, no I/O).
 *
 * This module touches nothing outside the process: it is allowed everywhere,
 * including core code that must stay deterministic. Reporting an assertion
 * failure goes through a hook that the simulator sets to add its seed and event.
 */
#ifndef DR_BASE_H
#define DR_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DR_MUST_USE __attribute__((warn_unused_result))
#define DR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define DR_UNUSED(x) ((void)(x))
#define DR_ARRAY_COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define DR_MIN(a, b) ((a) < (b) ? (a) : (b))
#define DR_MAX(a, b) ((a) > (b) ? (a) : (b))

#define DR_NS_PER_US UINT64_C(1000)
#define DR_NS_PER_MS UINT64_C(1000000)
#define DR_NS_PER_S UINT64_C(1000000000)

/* Result codes. DR_OK is 0; every other value is an operating error the caller
 * is expected to handle. Keep dr_code_name() in base.c in step. */
typedef enum dr_code {
    DR_OK = 0,
    DR_EINVAL,       /* bad argument or malformed input */
    DR_ENOENT,       /* no such file, id or name */
    DR_EEXIST,       /* already exists */
    DR_EIO,          /* I/O error (disk or device) */
    DR_ENOSPC,       /* no space left */
    DR_EACCES,       /* permission denied */
    DR_ENOTDIR,      /* a path component is not a directory */
    DR_EISDIR,       /* is a directory */
    DR_ENOTEMPTY,    /* directory not empty */
    DR_EBUSY,        /* resource locked or in use */
    DR_EAGAIN,       /* would block: try again after the drain callback */
    DR_ECONNREFUSED, /* connection refused */
    DR_ECONNRESET,   /* connection reset by peer */
    DR_ETIMEDOUT,    /* operation timed out */
    DR_ECLOSED,      /* the stream or handle is closed */
    DR_EADDRINUSE,   /* address already in use */
    DR_ENOTFOUND,    /* name resolution failed */
    DR_ETOOBIG,      /* a size limit from src/limits.h was exceeded */
    DR_EPROTO,       /* protocol violation by a peer */
    DR_ESRCH,        /* no such process */
    DR_ENOTSUP,      /* not supported by this implementation */
    DR_ECANCELED,    /* operation canceled */
    DR_ECORRUPT,     /* a record failed its integrity check */
    DR_EINTERNAL,    /* unexpected failure of a dependency */
    DR_CODE_COUNT
} dr_code;

/* An error report: a code and a message naming the input and the fault, such
 * as "offer 'O-17': agent 'A-4' is not registered". */
typedef struct dr_err {
    dr_code code;
    char msg[256];
} dr_err;

/* Returns the stable name of a code ("DR_EIO"); never NULL. */
const char *dr_code_name(dr_code code);

/* Fills *err (which may be NULL) and returns code. The idiom is
 * `return dr_err_set(err, DR_EINVAL, "resource '%s': ...", text);` */
dr_code dr_err_set(dr_err *err, dr_code code, const char *fmt, ...) DR_PRINTF(3, 4);

/* Prefixes err->msg with context: "reading 'x': <old message>". Returns err->code. */
dr_code dr_err_wrap(dr_err *err, const char *fmt, ...) DR_PRINTF(2, 3);

/* Resets *err to DR_OK with an empty message. */
void dr_err_clear(dr_err *err);

/* ---- assertions ---------------------------------------------------------- */

/* Called before abort() with the failed assertion; the simulator installs one
 * that prints the seed, event number and a replay command. Process-wide (the
 * one piece of mutable global state in Dromos, and only a diagnostic hook). */
typedef void dr_assert_hook_fn(const char *file, int line, const char *expr, void *ctx);
void dr_assert_set_hook(dr_assert_hook_fn *fn, void *ctx);

_Noreturn void dr_assert_fail(const char *file, int line, const char *expr);

#define DR_ASSERT(e) ((e) ? (void)0 : dr_assert_fail(__FILE__, __LINE__, #e))
#if defined(DR_SLOW_CHECKS)
#define DR_ASSERT_SLOW(e) DR_ASSERT(e)
#else
/* Not evaluated, but still compiled: helpers used only here stay "used". */
#define DR_ASSERT_SLOW(e) ((void)sizeof((e) ? 1 : 0))
#endif
#define DR_UNREACHABLE() dr_assert_fail(__FILE__, __LINE__, "unreachable")

/* ---- memory --------------------------------------------------------------- */

/* Allocation never returns NULL: exhaustion aborts. Sizes from untrusted input
 * must be checked against src/limits.h before they get here. dr_alloc zeroes. */
void *dr_alloc(size_t size);
void *dr_realloc(void *ptr, size_t size);
void *dr_alloc_array(size_t count, size_t size); /* zeroed, overflow-checked */
char *dr_strdup(const char *s);
char *dr_strndup(const char *s, size_t size);
char *dr_sprintf(const char *fmt, ...) DR_PRINTF(1, 2); /* returns owned */
void dr_free(void *ptr);

/* Copies src into dst[dst_size] with truncation; returns false if truncated. */
bool dr_strlcpy(char *dst, const char *src, size_t dst_size);

/* ---- growable byte buffer ----------------------------------------------- */

typedef struct dr_buf {
    uint8_t *data;
    size_t size;     /* bytes in use */
    size_t capacity; /* bytes allocated */
} dr_buf;

void dr_buf_init(dr_buf *buf);
void dr_buf_deinit(dr_buf *buf);
void dr_buf_reserve(dr_buf *buf, size_t extra_size);
void dr_buf_append(dr_buf *buf, const void *data, size_t size);
void dr_buf_append_str(dr_buf *buf, const char *s);
/* Appends value's digits in radix 10 or 16 (lowercase), as "%llu" / "%llx"
 * would, without a printf (HTTP framing writes one per message). */
void dr_buf_append_uint(dr_buf *buf, uint64_t value, unsigned radix);
void dr_buf_printf(dr_buf *buf, const char *fmt, ...) DR_PRINTF(2, 3);
void dr_buf_vprintf(dr_buf *buf, const char *fmt, va_list ap);
void dr_buf_consume(dr_buf *buf, size_t size); /* drops size bytes from the front */
void dr_buf_reset(dr_buf *buf);                /* size = 0, keeps capacity */
/* Returns a NUL-terminated C string view (appends a NUL after size, not counted). */
const char *dr_buf_cstr(dr_buf *buf);

/* ---- seeded random stream -------------------------------------------------- */

/* xoshiro256** seeded through splitmix64. Deterministic on every platform.
 * Streams are derived, never shared: dr_rng_derive() gives an independent stream
 * for a (parent seed, purpose) pair, so adding a draw in one purpose never
 * shifts the draws of another. */
typedef struct dr_rng {
    uint64_t s[4];
} dr_rng;

void dr_rng_init(dr_rng *rng, uint64_t seed);
uint64_t dr_rng_next(dr_rng *rng);
/* Uniform in [0, bound) without modulo bias; bound > 0. */
uint64_t dr_rng_below(dr_rng *rng, uint64_t bound);
/* Uniform double in [0, 1). */
double dr_rng_unit(dr_rng *rng);
/* True with probability p (p <= 0: never; p >= 1: always). */
bool dr_rng_chance(dr_rng *rng, double p);
/* A seed for an independent stream named by purpose (a short ASCII tag). */
uint64_t dr_seed_derive(uint64_t parent_seed, const char *purpose);

/* 64-bit FNV-1a-free mixing used where a small stable hash is needed (not for
 * tables keyed by outside input; those use XXH3 with a seed). */
uint64_t dr_mix64(uint64_t x);

#endif /* DR_BASE_H */
