/* src/daemon/cmds/fetch.c — `dromos fetch`: Mesos's fetcher. Fetches each
 * CommandInfo.URI into a sandbox before the agent starts the executor:
 *
 *   dromos fetch --sandbox_directory=DIR --uris='[{"value":"...",...},...]'
 *
 * (--uris may also be file://PATH of a file holding the JSON array; each
 * element is a mesos.CommandInfo.URI in Mesos's JSON.)
 *
 * - value: an absolute local path, file://PATH, or http:// / https:// (libcurl,
 *   redirects followed, a status >= 400 is a failure). Relative paths are
 *   refused (Mesos resolves them against --frameworks_home, which Dromos does
 *   not have).
 * - output_file: the name in the sandbox (else the URI's last path
 *   component); it must stay inside the sandbox (no absolute path, no "..").
 * - extract (default true): .tar, .tar.gz/.tgz, .tar.bz2/.tbz2, .tar.xz/.txz
 *   and .zip are unpacked into the sandbox with libarchive (the archive itself
 *   stays); an entry that is absolute, has a ".." component, or is a link
 *   leading out of the sandbox stops the fetch.
 * - executable: the file gets mode 0755 (and is not extracted).
 * - cache: accepted, ignored (every fetch downloads).
 * - --user: accepted; files are not chowned (Dromos runs tasks as the
 *   agent's user for now).
 *
 * Prints "fetched 'URI' to 'PATH'" per URI on stdout. Exit 0 when all were
 * fetched; 1 on the first failure, after one line on stderr naming the URI
 * and the reason ("dromos fetch: 'http://x/a.tgz': HTTP status 404"); 2 on a
 * usage error. Real-world I/O is fine here: this is the daemon layer.
 *
 * libcurl and libarchive are loaded (dlopen) when a URI first needs them,
 * not linked: this binary is also every command task's executor (`dromos
 * executor`), and linking them made each executor start load some forty more
 * shared libraries (about 6 ms of CPU per task; bench/bench_agent). Missing
 * at run time, they fail the URI that needs them, naming the library.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef DR_HAVE_CURL
#include <curl/curl.h>
#endif
#ifdef DR_HAVE_ARCHIVE
#include <archive.h>
#include <archive_entry.h>
#endif
#if defined(DR_HAVE_CURL) || defined(DR_HAVE_ARCHIVE)
#include <dlfcn.h>
#endif

#include "../cmds.h"
#include "../flags.h"
#include "src/proto/json.h"

static const char summary[] = "fetch CommandInfo URIs into a sandbox (Mesos's fetcher; for the agent)";

#define FAIL(uri, ...)                                                                             \
    do {                                                                                           \
        fprintf(stderr, "dromos fetch: '%s': ", (uri));                                            \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        return false;                                                                              \
    } while (0)

#if defined(DR_HAVE_CURL) || defined(DR_HAVE_ARCHIVE)
/* Opens soname and resolves names[i] into *fns[i] (function pointers, set
 * through memcpy: ISO C has no cast from void * to a function pointer).
 * False with why filled when the library or a symbol is missing. */
static bool lib_load(const char *soname, const char *const *names, void *const *fns, size_t count,
                     char *why, size_t why_size)
{
    void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        snprintf(why, why_size, "%s", dlerror());
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        void *sym = dlsym(lib, names[i]);
        if (sym == NULL) {
            snprintf(why, why_size, "%s has no %s", soname, names[i]);
            dlclose(lib);
            return false;
        }
        memcpy(fns[i], &sym, sizeof sym);
    }
    return true; /* stays loaded until the process ends */
}
#endif

#ifdef DR_HAVE_CURL
/* libcurl.so.4, resolved by curl_load. */
static __typeof__(&curl_easy_init) curl_easy_init_fn;
static __typeof__(&curl_easy_setopt) curl_easy_setopt_fn;
static __typeof__(&curl_easy_perform) curl_easy_perform_fn;
static __typeof__(&curl_easy_getinfo) curl_easy_getinfo_fn;
static __typeof__(&curl_easy_cleanup) curl_easy_cleanup_fn;
static __typeof__(&curl_easy_strerror) curl_easy_strerror_fn;

static bool curl_load(const char *uri)
{
    static const char *const names[] = {
        "curl_easy_init",
        "curl_easy_setopt",
        "curl_easy_perform",
        "curl_easy_getinfo",
        "curl_easy_cleanup",
        "curl_easy_strerror",
    };
    void *const fns[] = {
        (void *)&curl_easy_init_fn,
        (void *)&curl_easy_setopt_fn,
        (void *)&curl_easy_perform_fn,
        (void *)&curl_easy_getinfo_fn,
        (void *)&curl_easy_cleanup_fn,
        (void *)&curl_easy_strerror_fn,
    };
    _Static_assert(sizeof names / sizeof names[0] == sizeof fns / sizeof fns[0], "one each");
    char why[300];
    if (!lib_load("libcurl.so.4", names, fns, sizeof names / sizeof names[0], why, sizeof why))
        FAIL(uri, "%s", why);
    return true;
}
#endif

#ifdef DR_HAVE_ARCHIVE
/* libarchive.so.13, resolved by archive_load. */
static __typeof__(&archive_read_new) archive_read_new_fn;
static __typeof__(&archive_read_support_filter_all) archive_read_support_filter_all_fn;
static __typeof__(&archive_read_support_format_tar) archive_read_support_format_tar_fn;
static __typeof__(&archive_read_support_format_gnutar) archive_read_support_format_gnutar_fn;
static __typeof__(&archive_read_support_format_zip) archive_read_support_format_zip_fn;
static __typeof__(&archive_write_disk_new) archive_write_disk_new_fn;
static __typeof__(&archive_write_disk_set_options) archive_write_disk_set_options_fn;
static __typeof__(&archive_read_open_filename) archive_read_open_filename_fn;
static __typeof__(&archive_error_string) archive_error_string_fn;
static __typeof__(&archive_read_next_header) archive_read_next_header_fn;
static __typeof__(&archive_entry_pathname) archive_entry_pathname_fn;
static __typeof__(&archive_entry_hardlink) archive_entry_hardlink_fn;
static __typeof__(&archive_entry_symlink) archive_entry_symlink_fn;
static __typeof__(&archive_write_header) archive_write_header_fn;
static __typeof__(&archive_read_data_block) archive_read_data_block_fn;
static __typeof__(&archive_write_data_block) archive_write_data_block_fn;
static __typeof__(&archive_write_finish_entry) archive_write_finish_entry_fn;
static __typeof__(&archive_read_free) archive_read_free_fn;
static __typeof__(&archive_write_free) archive_write_free_fn;

static bool archive_load(const char *uri)
{
    static const char *const names[] = {
        "archive_read_new",
        "archive_read_support_filter_all",
        "archive_read_support_format_tar",
        "archive_read_support_format_gnutar",
        "archive_read_support_format_zip",
        "archive_write_disk_new",
        "archive_write_disk_set_options",
        "archive_read_open_filename",
        "archive_error_string",
        "archive_read_next_header",
        "archive_entry_pathname",
        "archive_entry_hardlink",
        "archive_entry_symlink",
        "archive_write_header",
        "archive_read_data_block",
        "archive_write_data_block",
        "archive_write_finish_entry",
        "archive_read_free",
        "archive_write_free",
    };
    void *const fns[] = {
        (void *)&archive_read_new_fn,
        (void *)&archive_read_support_filter_all_fn,
        (void *)&archive_read_support_format_tar_fn,
        (void *)&archive_read_support_format_gnutar_fn,
        (void *)&archive_read_support_format_zip_fn,
        (void *)&archive_write_disk_new_fn,
        (void *)&archive_write_disk_set_options_fn,
        (void *)&archive_read_open_filename_fn,
        (void *)&archive_error_string_fn,
        (void *)&archive_read_next_header_fn,
        (void *)&archive_entry_pathname_fn,
        (void *)&archive_entry_hardlink_fn,
        (void *)&archive_entry_symlink_fn,
        (void *)&archive_write_header_fn,
        (void *)&archive_read_data_block_fn,
        (void *)&archive_write_data_block_fn,
        (void *)&archive_write_finish_entry_fn,
        (void *)&archive_read_free_fn,
        (void *)&archive_write_free_fn,
    };
    _Static_assert(sizeof names / sizeof names[0] == sizeof fns / sizeof fns[0], "one each");
    char why[300];
    if (!lib_load("libarchive.so.13", names, fns, sizeof names / sizeof names[0], why, sizeof why))
        FAIL(uri, "%s", why);
    return true;
}
#endif

/* True when name is a plain relative path that stays below its base. */
static bool path_stays_inside(const char *name)
{
    if (name[0] == '\0' || name[0] == '/')
        return false;
    const char *p = name;
    while (*p != '\0') {
        const char *slash = strchr(p, '/');
        size_t n = slash != NULL ? (size_t)(slash - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return false;
        if (slash == NULL)
            break;
        p = slash + 1;
    }
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool is_archive(const char *name)
{
    static const char *const suffixes[] = {".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2",
                                           ".tar.xz", ".txz", ".zip"};
    for (size_t i = 0; i < DR_ARRAY_COUNT(suffixes); i++)
        if (ends_with(name, suffixes[i]))
            return true;
    return false;
}

/* The last path component of a URI or path, without query or fragment. */
static void base_name(const char *uri, char *out, size_t out_size)
{
    const char *start = strstr(uri, "://");
    start = start != NULL ? start + 3 : uri;
    size_t end = strcspn(start, "?#");
    while (end > 0 && start[end - 1] == '/')
        end--;
    size_t begin = end;
    while (begin > 0 && start[begin - 1] != '/')
        begin--;
    size_t n = DR_MIN(end - begin, out_size - 1);
    memcpy(out, start + begin, n);
    out[n] = '\0';
}

static bool copy_file(const char *uri, const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (in == NULL)
        FAIL(uri, "cannot open '%s': %s", from, strerror(errno));
    struct stat st;
    if (fstat(fileno(in), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(in);
        FAIL(uri, "'%s' is a directory", from);
    }
    FILE *out = fopen(to, "wb");
    if (out == NULL) {
        int e = errno;
        fclose(in);
        FAIL(uri, "cannot create '%s': %s", to, strerror(e));
    }
    char buf[65536];
    size_t n;
    bool ok = true;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) {
            ok = false;
            break;
        }
    ok = ok && !ferror(in);
    int e = errno;
    fclose(in);
    if (fclose(out) != 0)
        ok = false;
    if (!ok)
        FAIL(uri, "copying '%s' to '%s': %s", from, to, strerror(e));
    return true;
}

#ifdef DR_HAVE_CURL
static bool download(const char *uri, const char *to)
{
    if (!curl_load(uri))
        return false;
    FILE *out = fopen(to, "wb");
    if (out == NULL)
        FAIL(uri, "cannot create '%s': %s", to, strerror(errno));
    CURL *curl = curl_easy_init_fn();
    if (curl == NULL) {
        fclose(out);
        FAIL(uri, "libcurl failed to start");
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt_fn(curl, CURLOPT_URL, uri);
    curl_easy_setopt_fn(curl, CURLOPT_WRITEDATA, out);
    curl_easy_setopt_fn(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt_fn(curl, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt_fn(curl, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt_fn(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt_fn(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt_fn(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode cc = curl_easy_perform_fn(curl);
    long status = 0;
    curl_easy_getinfo_fn(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup_fn(curl);
    bool closed = fclose(out) == 0;
    if (cc != CURLE_OK)
        FAIL(uri, "%s", errbuf[0] != '\0' ? errbuf : curl_easy_strerror_fn(cc));
    if (status >= 400)
        FAIL(uri, "HTTP status %ld", status);
    if (!closed)
        FAIL(uri, "writing '%s': %s", to, strerror(errno));
    return true;
}
#endif

#ifdef DR_HAVE_ARCHIVE
/* Unpacks archive into dir; refuses entries that would land outside it.
 * libarchive writes relative to the working directory: we move into dir. */
static bool extract(const char *uri, const char *archive_path, const char *dir)
{
    if (!archive_load(uri))
        return false;
    if (chdir(dir) != 0)
        FAIL(uri, "cannot enter the sandbox '%s': %s", dir, strerror(errno));
    struct archive *a = archive_read_new_fn();
    archive_read_support_filter_all_fn(a);
    archive_read_support_format_tar_fn(a);
    archive_read_support_format_gnutar_fn(a);
    archive_read_support_format_zip_fn(a);
    struct archive *w = archive_write_disk_new_fn();
    archive_write_disk_set_options_fn(w, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
                                          ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                          ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                          ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
    bool ok = true;
    char why[512] = "";
    if (archive_read_open_filename_fn(a, archive_path, 65536) != ARCHIVE_OK) {
        snprintf(why, sizeof why, "cannot open archive: %s", archive_error_string_fn(a));
        ok = false;
    }
    struct archive_entry *e;
    while (ok) {
        int r = archive_read_next_header_fn(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            snprintf(why, sizeof why, "bad archive: %s", archive_error_string_fn(a));
            ok = false;
            break;
        }
        const char *entry_name = archive_entry_pathname_fn(e);
        char name[1024];
        dr_strlcpy(name, entry_name != NULL ? entry_name : "", sizeof name);
        if (entry_name == NULL || !path_stays_inside(name)) {
            snprintf(why, sizeof why, "archive entry '%.400s' leads outside the sandbox", name);
            ok = false;
            break;
        }
        const char *link = archive_entry_hardlink_fn(e);
        if (link != NULL && !path_stays_inside(link)) {
            snprintf(why, sizeof why, "archive entry '%.400s' links outside the sandbox", name);
            ok = false;
            break;
        }
        const char *sym = archive_entry_symlink_fn(e);
        if (sym != NULL && (sym[0] == '/' || !path_stays_inside(sym))) {
            snprintf(why, sizeof why, "archive entry '%.400s' is a symlink leading outside "
                     "the sandbox", name);
            ok = false;
            break;
        }
        r = archive_write_header_fn(w, e);
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            snprintf(why, sizeof why, "extracting '%.200s': %.200s", name, archive_error_string_fn(w));
            ok = false;
            break;
        }
        const void *buf;
        size_t size;
        la_int64_t offset;
        while ((r = archive_read_data_block_fn(a, &buf, &size, &offset)) == ARCHIVE_OK) {
            if (archive_write_data_block_fn(w, buf, size, offset) != ARCHIVE_OK) {
                snprintf(why, sizeof why, "extracting '%.200s': %.200s", name, archive_error_string_fn(w));
                ok = false;
                break;
            }
        }
        if (ok && r != ARCHIVE_EOF) {
            snprintf(why, sizeof why, "reading '%.200s': %.200s", name, archive_error_string_fn(a));
            ok = false;
        }
        if (ok && archive_write_finish_entry_fn(w) != ARCHIVE_OK) {
            snprintf(why, sizeof why, "extracting '%.200s': %.200s", name, archive_error_string_fn(w));
            ok = false;
        }
    }
    archive_read_free_fn(a);
    archive_write_free_fn(w);
    if (!ok)
        FAIL(uri, "%s", why);
    return true;
}
#endif

static bool fetch_one(const Mesos__CommandInfo__URI *u, const char *sandbox)
{
    const char *uri = u->value;
    char name[1024];
    if (u->output_file != NULL && u->output_file[0] != '\0') {
        if (!path_stays_inside(u->output_file))
            FAIL(uri, "output_file '%s' leads outside the sandbox", u->output_file);
        dr_strlcpy(name, u->output_file, sizeof name);
    } else {
        base_name(uri, name, sizeof name);
        if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            FAIL(uri, "no file name in the URI (set output_file)");
    }
    char *dest = dr_sprintf("%s/%s", sandbox, name);
    /* output_file may name a subdirectory: create it */
    for (char *p = dest + strlen(sandbox) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        if (mkdir(dest, 0755) != 0 && errno != EEXIST) {
            int e = errno;
            *p = '/';
            dr_free(dest);
            FAIL(uri, "cannot create a directory for '%s': %s", name, strerror(e));
        }
        *p = '/';
    }
    bool ok;
    if (strncmp(uri, "http://", 7) == 0 || strncmp(uri, "https://", 8) == 0) {
#ifdef DR_HAVE_CURL
        ok = download(uri, dest);
#else
        dr_free(dest);
        FAIL(uri, "http(s) URIs need libcurl, which this dromos was built without");
#endif
    } else if (strncmp(uri, "file://", 7) == 0) {
        ok = copy_file(uri, uri + 7, dest);
    } else if (strstr(uri, "://") != NULL) {
        dr_free(dest);
        FAIL(uri, "unsupported scheme (file, http and https are)");
    } else if (uri[0] == '/') {
        ok = copy_file(uri, uri, dest);
    } else {
        dr_free(dest);
        FAIL(uri, "a relative path needs --frameworks_home, which Dromos does not have");
    }
    if (ok && u->has_executable && u->executable) {
        if (chmod(dest, 0755) != 0) {
            int e = errno;
            dr_free(dest);
            FAIL(uri, "chmod '%s': %s", name, strerror(e));
        }
    } else if (ok && (!u->has_extract || u->extract) && is_archive(name)) {
#ifdef DR_HAVE_ARCHIVE
        ok = extract(uri, dest, sandbox);
#else
        dr_free(dest);
        FAIL(uri, "extracting archives needs libarchive, which this dromos was built without");
#endif
    }
    if (ok)
        printf("fetched '%s' to '%s'\n", uri, dest);
    dr_free(dest);
    return ok;
}

static int run(int argc, char **argv)
{
    const char *sandbox = NULL;
    const char *uris_text = NULL;
    const char *user = NULL;
    const dr_flag flags[] = {
        {"sandbox_directory", DR_FLAG_STRING, &sandbox, "where to put the files (required)"},
        {"uris", DR_FLAG_STRING, &uris_text,
         "JSON array of mesos.CommandInfo.URI (or file://PATH holding it)"},
        {"user", DR_FLAG_STRING, &user, "the task's user (accepted; files are not chowned)"},
    };
    dr_flags_result res;
    dr_err err;
    if (dr_flags_parse(flags, DR_ARRAY_COUNT(flags), argc, argv, &res, &err) != DR_OK)
        return dr_cmd_usage_error("fetch", "%s", err.msg);
    if (res.help) {
        dr_flags_usage(stdout, "fetch", summary, flags, DR_ARRAY_COUNT(flags));
        return 0;
    }
    if (res.positional_index < argc)
        return dr_cmd_usage_error("fetch", "unexpected argument '%s'", argv[res.positional_index]);
    if (sandbox == NULL || sandbox[0] != '/')
        return dr_cmd_usage_error("fetch", "--sandbox_directory must be an absolute path");
    if (uris_text == NULL)
        return dr_cmd_usage_error("fetch", "--uris is required");
    struct stat st;
    if (stat(sandbox, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "dromos fetch: sandbox '%s' is not a directory\n", sandbox);
        return 1;
    }
    json_error_t jerr;
    json_t *arr = json_loads(uris_text, 0, &jerr);
    if (arr == NULL || !json_is_array(arr)) {
        json_decref(arr);
        return dr_cmd_usage_error("fetch", "--uris: expected a JSON array of URIs%s%s",
                                  arr == NULL ? ": " : "", arr == NULL ? jerr.text : "");
    }
    int code = 0;
    for (size_t i = 0; i < json_array_size(arr) && code == 0; i++) {
        ProtobufCMessage *msg = NULL;
        if (dr_json_decode_value(&mesos__command_info__uri__descriptor, json_array_get(arr, i),
                                 NULL, &msg, &err) != DR_OK) {
            fprintf(stderr, "dromos fetch: URI %zu: %s\n", i, err.msg);
            code = 1;
            break;
        }
        if (!fetch_one((const Mesos__CommandInfo__URI *)msg, sandbox))
            code = 1;
        dr_proto_free(msg);
    }
    json_decref(arr);
    fflush(stdout);
    return code;
}

const dr_cmd dr_cmd_fetch = {
    .name = "fetch",
    .summary = summary,
    .run = run,
};
