/* tests/compat/compat_check.c — differential test of Dromos's codecs against
 * mesos-go (gogo protobuf), on messages from tests/compat/mesosgo_gen.go.
 *
 * For each line "<type>\t<base64 protobuf>\t<JSON>" it checks:
 *   1. protobuf: Dromos decodes Go's bytes and re-encodes them exactly;
 *   2. JSON in: Dromos decodes Go's JSON (with the streaming decoder, and
 *      with the jansson tree decoder) and encodes exactly Go's protobuf;
 *   3. JSON out: Dromos's JSON (set fields only, DR_JSON_NO_DEFAULTS) equals
 *      Go's JSON as a value, after these normalizations of what legitimately
 *      differs:
 *        - Go writes unset fields as null and empty repeated fields as []
 *          (jsonpb EmitDefaults); Dromos leaves both out: they are dropped
 *          from Go's side before comparing;
 *        - Go writes 64-bit integers as strings (proto3 JSON), Dromos as
 *          numbers (Mesos): a string of digits equals the same number;
 *        - numbers compare by value (Dromos writes 1.0 as 1);
 *      (stout's defaults are left out with DR_JSON_NO_DEFAULTS: Go has none);
 *   4. Dromos's JSON decodes back to Go's protobuf.
 * Prints a summary per type; exits 1 on the first few mismatches.
 *
 * Usage: compat_check FILE
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "src/proto/json.h"
#include "src/proto/proto.h"

static const ProtobufCMessageDescriptor *const descriptors[] = {
    &mesos__scheduler__call__descriptor, &mesos__scheduler__event__descriptor,
    &mesos__executor__call__descriptor,  &mesos__executor__event__descriptor,
    &mesos__master__call__descriptor,    &mesos__master__response__descriptor,
    &mesos__master__event__descriptor,   &mesos__agent__call__descriptor,
    &mesos__agent__response__descriptor, &mesos__task_info__descriptor,
    &mesos__offer__descriptor,           &mesos__resource__descriptor,
    &mesos__task_status__descriptor,     &mesos__framework_info__descriptor,
};

typedef struct stats {
    size_t count;
    size_t failures;
} stats;

/* Drops nulls and empty arrays from Go's JSON (see above). Returns value. */
static json_t *normalize(json_t *v)
{
    if (json_is_object(v)) {
        const char *key;
        json_t *child;
        void *tmp;
        json_object_foreach_safe(v, tmp, key, child) {
            normalize(child);
            if (json_is_null(child) || (json_is_array(child) && json_array_size(child) == 0))
                json_object_del(v, key);
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            normalize(json_array_get(v, i));
    }
    return v;
}

static bool digits(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Go's value g equals Dromos's value d; on a difference writes where to why. */
static bool same(const json_t *g, const json_t *d, char *where, size_t where_size,
                 const char *path)
{
    char sub[512];
    if (json_is_string(g) && digits(json_string_value(g)) && json_is_integer(d)) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(d));
        if (strcmp(buf, json_string_value(g)) == 0)
            return true;
        snprintf(where, where_size, "%s: go \"%s\", dromos %s", path, json_string_value(g), buf);
        return false;
    }
    if (json_is_number(g) && json_is_number(d)) {
        if (json_is_integer(g) && json_is_integer(d) &&
            json_integer_value(g) == json_integer_value(d))
            return true;
        if (json_number_value(g) == json_number_value(d))
            return true;
        snprintf(where, where_size, "%s: go %.17g, dromos %.17g", path, json_number_value(g),
                 json_number_value(d));
        return false;
    }
    if (json_typeof(g) != json_typeof(d)) {
        snprintf(where, where_size, "%s: go type %d, dromos type %d", path, json_typeof(g),
                 json_typeof(d));
        return false;
    }
    switch (json_typeof(g)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *gv;
        json_object_foreach((json_t *)g, key, gv) {
            snprintf(sub, sizeof sub, "%s.%s", path, key);
            json_t *dv = json_object_get(d, key);
            if (dv == NULL) {
                snprintf(where, where_size, "%s: missing in dromos", sub);
                return false;
            }
            if (!same(gv, dv, where, where_size, sub))
                return false;
        }
        json_t *dv;
        json_object_foreach((json_t *)d, key, dv) {
            if (json_object_get(g, key) == NULL) {
                snprintf(where, where_size, "%s.%s: only in dromos", path, key);
                return false;
            }
        }
        return true;
    }
    case JSON_ARRAY:
        if (json_array_size(g) != json_array_size(d)) {
            snprintf(where, where_size, "%s: go %zu elements, dromos %zu", path,
                     json_array_size(g), json_array_size(d));
            return false;
        }
        for (size_t i = 0; i < json_array_size(g); i++) {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            if (!same(json_array_get(g, i), json_array_get(d, i), where, where_size, sub))
                return false;
        }
        return true;
    case JSON_STRING:
        if (json_string_length(g) == json_string_length(d) &&
            memcmp(json_string_value(g), json_string_value(d), json_string_length(g)) == 0)
            return true;
        snprintf(where, where_size, "%s: go \"%.60s\", dromos \"%.60s\"", path,
                 json_string_value(g), json_string_value(d));
        return false;
    default:
        return json_equal((json_t *)g, (json_t *)d);
    }
}

/* Checks one line; on failure fills why. */
static bool check_line(const ProtobufCMessageDescriptor *desc, const char *b64, size_t b64_size,
                       const char *json, size_t json_size, char *why, size_t why_size)
{
    bool ok = false;
    dr_err err = {0};
    dr_arena arena;
    dr_arena_init(&arena);
    dr_buf out, mine;
    dr_buf_init(&out);
    dr_buf_init(&mine);
    json_t *go_json = NULL, *dr_json = NULL;
    uint8_t *pb = dr_alloc(b64_size / 4 * 3 + 3);
    size_t pb_size = 0;
    if (dr_base64_decode(b64, b64_size, pb, &pb_size, &err) != DR_OK) {
        snprintf(why, why_size, "bad base64 from Go: %s", err.msg);
        goto done;
    }
    /* 1. protobuf round trip */
    ProtobufCMessage *m = NULL;
    if (dr_proto_decode(desc, pb, pb_size, &arena, &m, &err) != DR_OK ||
        dr_proto_encode(m, &out, &err) != DR_OK) {
        snprintf(why, why_size, "protobuf: %s", err.msg);
        goto done;
    }
    if (out.size != pb_size || memcmp(out.data, pb, pb_size) != 0) {
        snprintf(why, why_size, "protobuf: re-encoded %zu bytes differ from Go's %zu", out.size,
                 pb_size);
        goto done;
    }
    /* 2. Go's JSON in */
    ProtobufCMessage *j = NULL;
    dr_buf_reset(&out);
    if (dr_json_decode(desc, json, json_size, &arena, &j, &err) != DR_OK ||
        dr_proto_encode(j, &out, &err) != DR_OK) {
        snprintf(why, why_size, "JSON in: %s", err.msg);
        goto done;
    }
    if (out.size != pb_size || memcmp(out.data, pb, pb_size) != 0) {
        snprintf(why, why_size, "JSON in: protobuf of %zu bytes differs from Go's %zu", out.size,
                 pb_size);
        goto done;
    }
    /* 2b. the same through the tree decoder (no arena: jansson, malloc) */
    ProtobufCMessage *t = NULL;
    dr_buf_reset(&out);
    if (dr_json_decode(desc, json, json_size, NULL, &t, &err) != DR_OK ||
        dr_proto_encode(t, &out, &err) != DR_OK) {
        dr_proto_free(t);
        snprintf(why, why_size, "JSON in (tree): %s", err.msg);
        goto done;
    }
    dr_proto_free(t);
    if (out.size != pb_size || memcmp(out.data, pb, pb_size) != 0) {
        snprintf(why, why_size, "JSON in (tree): protobuf differs from Go's");
        goto done;
    }
    /* 3. Dromos's JSON out, as a value */
    if (dr_json_encode_flags(m, DR_JSON_NO_DEFAULTS, &mine, &err) != DR_OK) {
        snprintf(why, why_size, "JSON out: %s", err.msg);
        goto done;
    }
    json_error_t jerr;
    go_json = json_loadb(json, json_size, 0, &jerr);
    dr_json = json_loadb((const char *)mine.data, mine.size, 0, &jerr);
    if (go_json == NULL || dr_json == NULL) {
        snprintf(why, why_size, "JSON out: unparsable: %s", jerr.text);
        goto done;
    }
    if (!same(normalize(go_json), dr_json, why, why_size, "<root>"))
        goto done;
    /* 4. Dromos's JSON back in */
    ProtobufCMessage *back = NULL;
    dr_buf_reset(&out);
    if (dr_json_decode(desc, (const char *)mine.data, mine.size, &arena, &back, &err) != DR_OK ||
        dr_proto_encode(back, &out, &err) != DR_OK) {
        snprintf(why, why_size, "JSON back: %s", err.msg);
        goto done;
    }
    if (out.size != pb_size || memcmp(out.data, pb, pb_size) != 0) {
        snprintf(why, why_size, "JSON back: protobuf differs from Go's");
        goto done;
    }
    ok = true;
done:
    json_decref(go_json);
    json_decref(dr_json);
    dr_free(pb);
    dr_buf_deinit(&out);
    dr_buf_deinit(&mine);
    dr_arena_deinit(&arena);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: compat_check FILE\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (f == NULL) {
        fprintf(stderr, "compat_check: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    stats st[DR_ARRAY_COUNT(descriptors)] = {{0, 0}};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    size_t lineno = 0, failures = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        char *tab1 = strchr(line, '\t');
        char *tab2 = tab1 != NULL ? strchr(tab1 + 1, '\t') : NULL;
        if (tab2 == NULL) {
            fprintf(stderr, "compat_check: line %zu: expected three tab-separated fields\n", lineno);
            return 1;
        }
        *tab1 = '\0';
        size_t k = 0;
        while (k < DR_ARRAY_COUNT(descriptors) && strcmp(descriptors[k]->name, line) != 0)
            k++;
        if (k == DR_ARRAY_COUNT(descriptors)) {
            fprintf(stderr, "compat_check: line %zu: unknown type '%s'\n", lineno, line);
            return 1;
        }
        char why[1024] = "";
        st[k].count++;
        if (!check_line(descriptors[k], tab1 + 1, (size_t)(tab2 - tab1 - 1), tab2 + 1,
                        (size_t)(line + n - tab2 - 1), why, sizeof why)) {
            st[k].failures++;
            if (++failures <= 10)
                fprintf(stderr, "compat_check: line %zu (%s): %s\n", lineno, line, why);
        }
    }
    free(line);
    fclose(f);
    size_t total = 0;
    for (size_t k = 0; k < DR_ARRAY_COUNT(descriptors); k++) {
        printf("%-24s %5zu messages, %zu mismatches\n", descriptors[k]->name, st[k].count,
               st[k].failures);
        total += st[k].count;
    }
    printf("compat: %zu messages, %zu mismatches\n", total, failures);
    return failures == 0 && total > 0 ? 0 : 1;
}
