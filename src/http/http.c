/* src/http/http.c — header lists, query strings, status texts, Accept parsing.
 * See http.h. All loops are bounded by the input or by src/limits.h.
 */
#include "http.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "recordio.h"

void dr_http_headers_init(dr_http_headers *h) { memset(h, 0, sizeof *h); }

void dr_http_headers_deinit(dr_http_headers *h)
{
    dr_free(h->items);
    dr_free(h->store);
    memset(h, 0, sizeof *h);
}

static dr_http_header *find(const dr_http_headers *h, const char *name, size_t name_size)
{
    int first = name_size > 0 ? tolower((unsigned char)name[0]) : 0;
    for (size_t i = 0; i < h->count; i++) {
        const char *have = h->items[i].name;
        /* The first letter tells most names apart without a call. */
        if (tolower((unsigned char)have[0]) == first &&
            strncasecmp(have, name, name_size) == 0 && have[name_size] == '\0')
            return &h->items[i];
    }
    return NULL;
}

/* Makes room for `more` bytes at the end of the store; the items follow it. */
static void store_reserve(dr_http_headers *h, size_t more)
{
    if (h->store_capacity - h->store_size >= more)
        return;
    size_t cap = h->store_capacity == 0 ? 256 : h->store_capacity;
    while (cap - h->store_size < more)
        cap *= 2; /* sizes are bounded by src/limits.h long before this wraps */
    char *grown = dr_alloc(cap);
    if (h->store_size > 0)
        memcpy(grown, h->store, h->store_size);
    for (size_t i = 0; i < h->count; i++) {
        h->items[i].name = grown + (h->items[i].name - h->store);
        h->items[i].value = grown + (h->items[i].value - h->store);
    }
    dr_free(h->store);
    h->store = grown;
    h->store_capacity = cap;
}

/* Appends bytes and a NUL to the store (room reserved); returns where they start. */
static char *store_put(dr_http_headers *h, const char *bytes, size_t size)
{
    char *at = h->store + h->store_size;
    if (size > 0)
        memcpy(at, bytes, size);
    at[size] = '\0';
    h->store_size += size + 1;
    return at;
}

void dr_http_headers_addn(dr_http_headers *h, const char *name, size_t name_size,
                          const char *value, size_t value_size)
{
    if (name == NULL) /* an empty dr_buf has no data yet */
        name = "";
    if (value == NULL)
        value = "";
    DR_ASSERT(name[0] != '\0' || name_size == 0);
    dr_http_header *old = find(h, name, name_size);
    if (old != NULL) {
        /* Joined into a new copy at the end; the old value's bytes stay unused. */
        size_t old_size = strlen(old->value);
        store_reserve(h, old_size + 2 + value_size + 1); /* moves old->value */
        char *joined = h->store + h->store_size;
        memcpy(joined, old->value, old_size);
        memcpy(joined + old_size, ", ", 2);
        if (value_size > 0)
            memcpy(joined + old_size + 2, value, value_size);
        joined[old_size + 2 + value_size] = '\0';
        h->store_size += old_size + 2 + value_size + 1;
        old->value = joined;
        return;
    }
    if (h->count == h->capacity) {
        h->capacity = h->capacity == 0 ? 8 : h->capacity * 2;
        h->items = dr_realloc(h->items, h->capacity * sizeof h->items[0]);
    }
    store_reserve(h, name_size + 1 + value_size + 1);
    h->items[h->count].name = store_put(h, name, name_size);
    h->items[h->count].value = store_put(h, value, value_size);
    h->count++;
}

void dr_http_headers_add(dr_http_headers *h, const char *name, const char *value)
{
    dr_http_headers_addn(h, name, strlen(name), value, strlen(value));
}

void dr_http_headers_set(dr_http_headers *h, const char *name, const char *value)
{
    dr_http_headers_remove(h, name);
    dr_http_headers_add(h, name, value);
}

const char *dr_http_headers_get(const dr_http_headers *h, const char *name)
{
    const dr_http_header *found = find(h, name, strlen(name));
    return found == NULL ? NULL : found->value;
}

void dr_http_headers_remove(dr_http_headers *h, const char *name)
{
    dr_http_header *found = find(h, name, strlen(name));
    if (found == NULL)
        return;
    size_t index = (size_t)(found - h->items);
    memmove(&h->items[index], &h->items[index + 1], (h->count - index - 1) * sizeof h->items[0]);
    h->count--;
}

/* ---- query strings ------------------------------------------------------- */

void dr_http_params_deinit(dr_http_params *p)
{
    for (size_t i = 0; i < p->count; i++) {
        dr_free(p->items[i].key);
        dr_free(p->items[i].value);
    }
    dr_free(p->items);
    memset(p, 0, sizeof *p);
}

const char *dr_http_params_get(const dr_http_params *p, const char *key)
{
    for (size_t i = 0; i < p->count; i++) {
        if (strcmp(p->items[i].key, key) == 0)
            return p->items[i].value;
    }
    return NULL;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes text[0..size) into an owned string; plus_is_space for queries. */
static dr_code decode(const char *text, size_t size, bool plus_is_space, const char *what,
                      char **out, dr_err *err)
{
    char *s = dr_alloc(size + 1);
    size_t n = 0;
    for (size_t i = 0; i < size; i++) {
        char c = text[i];
        if (c == '%') {
            int hi = i + 1 < size ? hex_value(text[i + 1]) : -1;
            int lo = i + 2 < size ? hex_value(text[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                char q[160];
                dr_http_quote((const uint8_t *)text, size, q, sizeof q);
                dr_free(s);
                return dr_err_set(err, DR_EINVAL, "%s '%s': %s at offset %zu", what, q,
                                  hi == 0 && lo == 0 ? "encoded NUL byte"
                                                     : "bad percent-encoding",
                                  i);
            }
            s[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '\0') {
            char q[160];
            dr_http_quote((const uint8_t *)text, size, q, sizeof q);
            dr_free(s);
            return dr_err_set(err, DR_EINVAL, "%s '%s': NUL byte at offset %zu", what, q, i);
        } else if (c == '+' && plus_is_space) {
            s[n++] = ' ';
        } else {
            s[n++] = c;
        }
    }
    s[n] = '\0';
    *out = s;
    return DR_OK;
}

dr_code dr_http_path_decode(const char *path, size_t path_size, char **out, dr_err *err)
{
    return decode(path, path_size, false, "path", out, err);
}

dr_code dr_http_query_parse(const char *query, size_t query_size, dr_http_params *out,
                            dr_err *err)
{
    dr_http_params p = {0};
    size_t capacity = 0;
    size_t pos = 0;
    while (pos < query_size) {
        const char *piece = query + pos;
        const char *amp = memchr(piece, '&', query_size - pos);
        size_t piece_size = amp == NULL ? query_size - pos : (size_t)(amp - piece);
        pos += piece_size + (amp == NULL ? 0 : 1);
        if (piece_size == 0)
            continue;
        if (p.count == DR_HTTP_QUERY_PARAM_COUNT_MAX) {
            dr_http_params_deinit(&p);
            return dr_err_set(err, DR_ETOOBIG, "query: more than %u parameters",
                              DR_HTTP_QUERY_PARAM_COUNT_MAX);
        }
        const char *eq = memchr(piece, '=', piece_size);
        size_t key_size = eq == NULL ? piece_size : (size_t)(eq - piece);
        char *key = NULL;
        char *value = NULL;
        dr_code rc = decode(piece, key_size, true, "query key", &key, err);
        if (rc == DR_OK && eq != NULL)
            rc = decode(eq + 1, piece_size - key_size - 1, true, "query value", &value, err);
        if (rc != DR_OK) {
            dr_free(key);
            dr_http_params_deinit(&p);
            return rc;
        }
        if (value == NULL)
            value = dr_strdup("");
        if (p.count == capacity) {
            capacity = capacity == 0 ? 4 : capacity * 2;
            p.items = dr_realloc(p.items, capacity * sizeof p.items[0]);
        }
        p.items[p.count].key = key;
        p.items[p.count].value = value;
        p.count++;
    }
    *out = p;
    return DR_OK;
}

/* ---- statuses -------------------------------------------------------------- */

int dr_http_status_of(dr_code code)
{
    switch (code) {
    case DR_OK: return 200;
    case DR_EINVAL:
    case DR_EPROTO:
    case DR_ECORRUPT: return 400;
    case DR_EACCES: return 403;
    case DR_ENOENT:
    case DR_ENOTFOUND: return 404;
    case DR_EEXIST:
    case DR_EBUSY:
    case DR_ENOTEMPTY: return 409;
    case DR_ETOOBIG: return 413;
    case DR_ENOTSUP: return 501;
    case DR_EAGAIN:
    case DR_ECONNREFUSED:
    case DR_ECONNRESET:
    case DR_ECLOSED:
    case DR_ECANCELED: return 503;
    case DR_ETIMEDOUT: return 504;
    default: return 500;
    }
}

const char *dr_http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* ---- media types and Accept ---------------------------------------------- */

static const char *skip_space(const char *s, const char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    return s;
}

static const char *trim_end(const char *start, const char *end)
{
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return end;
}

static bool span_is(const char *s, const char *end, const char *text)
{
    size_t n = strlen(text);
    return (size_t)(end - s) == n && strncasecmp(s, text, n) == 0;
}

bool dr_http_media_type_is(const char *value, const char *type)
{
    if (value == NULL)
        return false;
    const char *end = value + strlen(value);
    const char *semi = strchr(value, ';');
    if (semi != NULL)
        end = semi;
    const char *s = skip_space(value, end);
    end = trim_end(s, end);
    return span_is(s, end, type);
}

/* Parses a q parameter value "0.8" into 0..1000; -1 if malformed. */
static int parse_q(const char *s, const char *end)
{
    s = skip_space(s, end);
    end = trim_end(s, end);
    if (s == end || (*s != '0' && *s != '1'))
        return -1;
    int whole = *s - '0';
    s++;
    int frac = 0;
    int digits = 0;
    if (s < end && *s == '.') {
        s++;
        while (s < end && digits < 3 && isdigit((unsigned char)*s)) {
            frac = frac * 10 + (*s - '0');
            digits++;
            s++;
        }
    }
    if (s != end)
        return -1;
    for (; digits < 3; digits++)
        frac *= 10;
    int q = whole * 1000 + frac;
    return q > 1000 ? -1 : q;
}

int dr_http_accept_quality(const char *header, const char *type)
{
    if (header == NULL)
        return 1000;
    const char *p = header;
    const char *header_end = header + strlen(header);
    if (skip_space(p, header_end) == header_end)
        return 1000;
    const char *slash = strchr(type, '/');
    size_t major_size = slash == NULL ? strlen(type) : (size_t)(slash - type);
    int best_specificity = -1;
    int best_q = 0;
    while (p < header_end) {
        const char *comma = memchr(p, ',', (size_t)(header_end - p));
        const char *item_end = comma == NULL ? header_end : comma;
        const char *semi = memchr(p, ';', (size_t)(item_end - p));
        const char *range_end = trim_end(p, semi == NULL ? item_end : semi);
        const char *range = skip_space(p, range_end);
        int q = 1000;
        /* Parameters: only q matters; others (charset) are ignored. */
        const char *param = semi;
        while (param != NULL && param < item_end) {
            const char *next = memchr(param + 1, ';', (size_t)(item_end - param - 1));
            const char *param_end = next == NULL ? item_end : next;
            const char *name = skip_space(param + 1, param_end);
            const char *eq = memchr(name, '=', (size_t)(param_end - name));
            if (eq != NULL && span_is(name, trim_end(name, eq), "q"))
                q = parse_q(eq + 1, param_end);
            param = next;
        }
        if (q < 0)
            q = 0;
        int specificity = -1;
        if (span_is(range, range_end, "*") || span_is(range, range_end, "*/*")) {
            specificity = 0;
        } else if (slash != NULL && (size_t)(range_end - range) == major_size + 2 &&
                   strncasecmp(range, type, major_size + 1) == 0 &&
                   range[major_size + 1] == '*') {
            specificity = 1;
        } else if (span_is(range, range_end, type)) {
            specificity = 2;
        }
        if (specificity > best_specificity) {
            best_specificity = specificity;
            best_q = q;
        }
        p = comma == NULL ? header_end : comma + 1;
    }
    return best_specificity < 0 ? 0 : best_q;
}

bool dr_http_accepts_gzip(const char *accept_encoding)
{
    if (accept_encoding == NULL || accept_encoding[strspn(accept_encoding, " \t")] == '\0')
        return false; /* absent or empty: identity only */
    return dr_http_accept_quality(accept_encoding, "gzip") > 0;
}
