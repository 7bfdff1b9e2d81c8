/* fuzz/driver.c — the replay driver: a main() for any libFuzzer-style harness
 * (fuzz/<name>_fuzz.c defines LLVMFuzzerTestOneInput), so `meson test` runs
 * every corpus without AFL++ or libFuzzer installed.
 *
 *   fuzz_<name> [--mutants N] [--seed S] [--timeout-s T] [--crash-dir DIR] PATH...
 *
 * Each PATH is a corpus file or a folder (walked recursively in name order,
 * dot files and README* skipped). Every input runs once as is, then as N
 * mutants (default 256): truncations, bit flips, interesting bytes, deleted,
 * duplicated and inserted ranges, one to three stacked. Mutants come from a
 * splitmix64 stream seeded by S and the input's contents (not its name or
 * position), so a run is the same on every machine and a given file always
 * gets the same mutants. With no corpus files, the empty input and its
 * mutants run.
 *
 * Each run gets a heap copy of exactly its size, so sanitizers catch reads past
 * the end. If a run crashes (signal, failed assertion, sanitizer report) or
 * takes over T seconds (default 10: a hang), the input is written to DIR (default: the working directory) as crash-<file>
 * or crash-<file>-m<mutant>, and the replay command is printed.
 *
 * This is a test tool, not core code: it reads files and the clock freely.
 * Exit status: 0 all inputs ran, 2 usage or unreadable input; a crash ends the
 * process by its signal (or the sanitizer's exit code).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

#define INPUT_SIZE_MAX ((size_t)16 << 20) /* larger corpus files are skipped */
#define MUTANT_SIZE_MIN ((size_t)64)      /* mutants may grow to max(2 * size, this) */
#define STACK_MAX 3                       /* mutations applied to one mutant, at most */

/* ---- what is running now, for the crash report ------------------------------- */

static struct {
    const char *argv0;
    const char *crash_dir;
    const char *path; /* the corpus file, or "(empty)" */
    long mutant;      /* -1: the input as is */
    uint64_t seed;
    const uint8_t *data;
    size_t size;
    int reported;
    unsigned timeout_s; /* per run; 0: none */
} cur = {.mutant = -1, .crash_dir = ".", .timeout_s = 10};

static void put(const char *s) { (void)!write(2, s, strlen(s)); }

/* Saves the input that crashed and prints how to replay it. Runs from a signal
 * handler or the sanitizer's death callback: sticks to write(2) and open(2). */
static void report(const char *what)
{
    if (cur.reported || cur.path == NULL)
        return;
    cur.reported = 1;
    const char *base = strrchr(cur.path, '/');
    base = base ? base + 1 : cur.path;
    char out[4096];
    if (cur.mutant < 0)
        snprintf(out, sizeof out, "%s/crash-%s", cur.crash_dir, base[0] ? base : "input");
    else
        snprintf(out, sizeof out, "%s/crash-%s-m%ld", cur.crash_dir, base[0] ? base : "input",
                 cur.mutant);
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int saved = fd >= 0 && (cur.size == 0 || write(fd, cur.data, cur.size) == (ssize_t)cur.size);
    if (fd >= 0)
        close(fd);
    char msg[8192];
    if (cur.mutant < 0)
        snprintf(msg, sizeof msg, "\nfuzz driver: %s on %s (%zu bytes)\n", what, cur.path,
                 cur.size);
    else
        snprintf(msg, sizeof msg,
                 "\nfuzz driver: %s on %s, mutant %ld of seed %" PRIu64 " (%zu bytes)\n",
                 what, cur.path, cur.mutant, cur.seed, cur.size);
    put(msg);
    if (saved)
        snprintf(msg, sizeof msg, "fuzz driver: input saved; replay: %s --mutants 0 %s\n",
                 cur.argv0, out);
    else
        snprintf(msg, sizeof msg, "fuzz driver: could not save the input to %s; replay: "
                 "%s --seed %" PRIu64 " %s\n", out, cur.argv0, cur.seed, cur.path);
    put(msg);
}

static void report_crash(void) { report("crashed"); }

static void crash_signal(int signo)
{
    report(signo == SIGALRM ? "hung (run over --timeout-s)" : "crashed");
    signal(signo, SIG_DFL);
    raise(signo);
}

static void install_crash_report(void)
{
    if (__sanitizer_set_death_callback != NULL)
        __sanitizer_set_death_callback(report_crash);
    /* A sanitizer reports SEGV and friends itself (then calls the callback);
     * abort() from an assertion reaches no sanitizer, so catch it always. */
    int sigs[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    size_t count = __sanitizer_set_death_callback != NULL ? 1 : sizeof sigs / sizeof sigs[0];
    for (size_t i = 0; i < count; i++)
        signal(sigs[i], crash_signal);
    signal(SIGALRM, crash_signal);
}

/* ---- deterministic mutations ------------------------------------------------- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t *state, uint64_t bound) /* bound > 0; slight bias is fine */
{
    return splitmix64(state) % bound;
}

static uint64_t fnv1a(const uint8_t *data, size_t size)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * UINT64_C(0x100000001b3);
    return h;
}

static const uint8_t interesting[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, '"', '\\', '{', '}',
                                      '[',  ']',  ',',  ':',  '\r', '\n', '0', '9',  '-', ' '};

/* Applies one mutation to buf[*size] in place (capacity cap bytes). */
static void mutate_once(uint64_t *rng, uint8_t *buf, size_t *size, size_t cap)
{
    size_t n = *size;
    switch (below(rng, n == 0 ? 1 : 6) + (n == 0 ? 5 : 0)) {
    case 0: /* truncate */
        *size = (size_t)below(rng, n);
        break;
    case 1: { /* flip 1-4 bits */
        uint64_t flips = 1 + below(rng, 4);
        for (uint64_t i = 0; i < flips; i++) {
            uint64_t bit = below(rng, (uint64_t)n * 8);
            buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        break;
    }
    case 2: { /* overwrite 1-4 bytes with interesting values */
        uint64_t count = 1 + below(rng, 4);
        for (uint64_t i = 0; i < count; i++)
            buf[below(rng, n)] = interesting[below(rng, sizeof interesting)];
        break;
    }
    case 3: { /* delete a range */
        size_t at = (size_t)below(rng, n);
        size_t len = 1 + (size_t)below(rng, n - at < 16 ? n - at : 16);
        memmove(buf + at, buf + at + len, n - at - len);
        *size = n - len;
        break;
    }
    case 4: { /* duplicate a range somewhere else */
        size_t from = (size_t)below(rng, n);
        size_t len = 1 + (size_t)below(rng, n - from < 32 ? n - from : 32);
        if (n + len > cap)
            break;
        size_t to = (size_t)below(rng, n + 1);
        uint8_t chunk[32];
        memcpy(chunk, buf + from, len);
        memmove(buf + to + len, buf + to, n - to);
        memcpy(buf + to, chunk, len);
        *size = n + len;
        break;
    }
    default: { /* insert 1-8 random or interesting bytes */
        size_t len = 1 + (size_t)below(rng, 8);
        if (n + len > cap)
            break;
        size_t to = (size_t)below(rng, n + 1);
        memmove(buf + to + len, buf + to, n - to);
        for (size_t i = 0; i < len; i++)
            buf[to + i] = below(rng, 2) ? (uint8_t)splitmix64(rng)
                                        : interesting[below(rng, sizeof interesting)];
        *size = n + len;
        break;
    }
    }
}

/* ---- running ------------------------------------------------------------------ */

static struct {
    unsigned long files;
    unsigned long runs;
    unsigned long mutants;
    unsigned long skipped;
    unsigned long long bytes;
} stats;

static void run_one(const uint8_t *data, size_t size)
{
    /* An exact-size heap copy: the harness may not keep or write it, and a
     * read past the end is a sanitizer report rather than luck. */
    uint8_t *copy = malloc(size ? size : 1);
    if (copy == NULL) {
        fprintf(stderr, "fuzz driver: out of memory\n");
        exit(2);
    }
    memcpy(copy, data, size);
    cur.data = copy;
    cur.size = size;
    if (cur.timeout_s > 0)
        alarm(cur.timeout_s);
    LLVMFuzzerTestOneInput(copy, size);
    if (cur.timeout_s > 0)
        alarm(0);
    cur.data = NULL;
    free(copy);
    stats.runs++;
}

static void run_input(const char *path, const uint8_t *data, size_t size, long mutant_count,
                      uint64_t seed)
{
    cur.path = path;
    cur.mutant = -1;
    cur.seed = seed;
    run_one(data, size);

    size_t cap = size * 2 > MUTANT_SIZE_MIN ? size * 2 : MUTANT_SIZE_MIN;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) {
        fprintf(stderr, "fuzz driver: out of memory\n");
        exit(2);
    }
    uint64_t rng = seed ^ fnv1a(data, size);
    for (long m = 0; m < mutant_count; m++) {
        size_t n = size;
        memcpy(buf, data, size);
        uint64_t stack = 1 + below(&rng, STACK_MAX);
        for (uint64_t i = 0; i < stack; i++)
            mutate_once(&rng, buf, &n, cap);
        cur.mutant = m;
        run_one(buf, n);
        stats.mutants++;
    }
    free(buf);
    cur.path = NULL;
}

static int read_file(const char *path, uint8_t **out, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "fuzz driver: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf != NULL) {
        if (n == cap) {
            uint8_t *grown = cap >= INPUT_SIZE_MAX ? NULL : realloc(buf, cap * 2);
            if (grown == NULL)
                break;
            buf = grown;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f) || buf == NULL || (n == cap && !feof(f));
    fclose(f);
    if (bad) {
        free(buf);
        fprintf(stderr, "fuzz driver: %s: unreadable or over %zu bytes, skipped\n", path,
                INPUT_SIZE_MAX);
        stats.skipped++;
        return 1;
    }
    *out = buf;
    *size = n;
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs a file, or every file under a folder in name order. Returns 0, or -1 if
 * a path could not be read at all. */
static int run_path(const char *path, long mutant_count, uint64_t seed)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "fuzz driver: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        uint8_t *data = NULL;
        size_t size = 0;
        int rc = read_file(path, &data, &size);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
        stats.files++;
        stats.bytes += size;
        run_input(path, data, size, mutant_count, seed);
        free(data);
        return 0;
    }
    DIR *dir = opendir(path);
    if (dir == NULL) {
        fprintf(stderr, "fuzz driver: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t count = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0)
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(names, cap * sizeof *names);
            if (grown == NULL) {
                fprintf(stderr, "fuzz driver: out of memory\n");
                exit(2);
            }
            names = grown;
        }
        size_t len = strlen(path) + 1 + strlen(e->d_name) + 1;
        names[count] = malloc(len);
        if (names[count] == NULL) {
            fprintf(stderr, "fuzz driver: out of memory\n");
            exit(2);
        }
        snprintf(names[count], len, "%s/%s", path, e->d_name);
        count++;
    }
    closedir(dir);
    if (count > 0)
        qsort(names, count, sizeof *names, name_cmp);
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        if (run_path(names[i], mutant_count, seed) != 0)
            rc = -1;
        free(names[i]);
    }
    free(names);
    return rc;
}

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--mutants N] [--seed S] [--timeout-s T] [--crash-dir DIR] [PATH...]\n",
            argv0);
    return 2;
}

int main(int argc, char **argv)
{
    long mutant_count = 256;
    uint64_t seed = 1;
    cur.argv0 = argv[0];
    if (LLVMFuzzerInitialize != NULL)
        LLVMFuzzerInitialize(&argc, &argv);

    int first = 1;
    for (; first < argc && strncmp(argv[first], "--", 2) == 0; first += 2) {
        if (strcmp(argv[first], "--") == 0) {
            first++;
            break;
        }
        if (first + 1 >= argc)
            return usage(argv[0]);
        char *end = NULL;
        const char *val = argv[first + 1];
        if (strcmp(argv[first], "--mutants") == 0) {
            mutant_count = strtol(val, &end, 10);
            if (*end != '\0' || end == val || mutant_count < 0)
                return usage(argv[0]);
        } else if (strcmp(argv[first], "--seed") == 0) {
            seed = strtoull(val, &end, 0);
            if (*end != '\0' || end == val)
                return usage(argv[0]);
        } else if (strcmp(argv[first], "--timeout-s") == 0) {
            unsigned long t = strtoul(val, &end, 10);
            if (*end != '\0' || end == val || t > 86400)
                return usage(argv[0]);
            cur.timeout_s = (unsigned)t;
        } else if (strcmp(argv[first], "--crash-dir") == 0) {
            cur.crash_dir = val;
        } else {
            return usage(argv[0]);
        }
    }

    install_crash_report();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = 0;
    for (int i = first; i < argc; i++)
        if (run_path(argv[i], mutant_count, seed) != 0)
            rc = 2;
    if (stats.files == 0) {
        printf("fuzz driver: no corpus files: running the empty input and its mutants\n");
        run_input("(empty)", (const uint8_t *)"", 0, mutant_count, seed);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;

    printf("fuzz driver: %lu files (%llu bytes), %lu runs: %lu as is + %lu mutants "
           "(%ld each, seed %" PRIu64 "), %lu skipped, %.0f ms\n",
           stats.files, stats.bytes, stats.runs, stats.runs - stats.mutants, stats.mutants,
           mutant_count, seed, stats.skipped, ms);
    return rc;
}
