/* src/daemon/flags.c — see flags.h. The daemon layer may read the process
 * environment and files directly: it runs before any dr_env exists. */
#include "flags.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static const dr_flag *find_flag(const dr_flag *flags, size_t count, const char *name,
                                size_t name_size)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(flags[i].name) == name_size && memcmp(flags[i].name, name, name_size) == 0)
            return &flags[i];
    return NULL;
}

dr_code dr_flags_parse_duration(const char *text, uint64_t *out_ns, dr_err *err)
{
    static const struct {
        const char *unit;
        double ns;
    } units[] = {
        {"ns", 1.0},          {"us", 1e3},         {"ms", 1e6},          {"secs", 1e9},
        {"sec", 1e9},         {"s", 1e9},          {"mins", 60e9},       {"min", 60e9},
        {"hrs", 3600e9},      {"hr", 3600e9},      {"days", 86400e9},    {"day", 86400e9},
        {"weeks", 604800e9},  {"week", 604800e9},
    };
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    if (end == text || errno != 0 || !(value >= 0.0) || isinf(value))
        return dr_err_set(err, DR_EINVAL, "duration '%s': expected a number and a unit (10secs)",
                          text);
    for (size_t i = 0; i < DR_ARRAY_COUNT(units); i++) {
        if (strcmp(end, units[i].unit) == 0) {
            double ns = value * units[i].ns;
            if (ns > 1.8e19)
                return dr_err_set(err, DR_EINVAL, "duration '%s': too long", text);
            *out_ns = (uint64_t)ns;
            return DR_OK;
        }
    }
    return dr_err_set(err, DR_EINVAL,
                      "duration '%s': unknown unit '%s' (ns, us, ms, secs, mins, hrs, days, weeks)",
                      text, end);
}

/* Values read from file:// paths live as long as the process (flags are
 * configuration); they are freed at exit so leak checkers stay quiet. */
static char **file_values;
static size_t file_value_count;

static void free_file_values(void)
{
    for (size_t i = 0; i < file_value_count; i++)
        dr_free(file_values[i]);
    dr_free(file_values);
    file_values = NULL;
    file_value_count = 0;
}

static const char *keep_file_value(const char *text)
{
    if (file_values == NULL)
        atexit(free_file_values);
    file_values = dr_realloc(file_values, (file_value_count + 1) * sizeof *file_values);
    file_values[file_value_count] = dr_strdup(text);
    return file_values[file_value_count++];
}

/* Reads a file://path value into *out (kept until exit). */
static dr_code read_file_value(const dr_flag *flag, const char *path, const char **out,
                               dr_err *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return dr_err_set(err, DR_ENOENT, "flag --%s: cannot read '%s': %s", flag->name, path,
                          strerror(errno));
    dr_buf buf;
    dr_buf_init(&buf);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        dr_buf_append(&buf, chunk, n);
        if (buf.size > 1024 * 1024) {
            fclose(f);
            dr_buf_deinit(&buf);
            return dr_err_set(err, DR_ETOOBIG, "flag --%s: file '%s' is over 1 MiB", flag->name,
                              path);
        }
    }
    fclose(f);
    while (buf.size > 0 && (buf.data[buf.size - 1] == '\n' || buf.data[buf.size - 1] == '\r'))
        buf.size--;
    *out = keep_file_value(dr_buf_cstr(&buf));
    dr_buf_deinit(&buf);
    return DR_OK;
}

static dr_code set_value(const dr_flag *flag, const char *text, const char *origin, dr_err *err)
{
    if (strncmp(text, "file://", 7) == 0) {
        dr_code rc = read_file_value(flag, text + 7, &text, err);
        if (rc != DR_OK)
            return rc;
    }
    char *end = NULL;
    switch (flag->kind) {
    case DR_FLAG_STRING:
        *(const char **)flag->value = text;
        return DR_OK;
    case DR_FLAG_U64: {
        errno = 0;
        unsigned long long v = strtoull(text, &end, 10);
        if (text[0] == '\0' || text[0] == '-' || *end != '\0' || errno != 0)
            return dr_err_set(err, DR_EINVAL, "flag --%s (%s): '%s' is not a non-negative integer",
                              flag->name, origin, text);
        *(uint64_t *)flag->value = v;
        return DR_OK;
    }
    case DR_FLAG_DOUBLE: {
        errno = 0;
        double v = strtod(text, &end);
        if (text[0] == '\0' || *end != '\0' || errno != 0 || isnan(v) || isinf(v))
            return dr_err_set(err, DR_EINVAL, "flag --%s (%s): '%s' is not a number", flag->name,
                              origin, text);
        *(double *)flag->value = v;
        return DR_OK;
    }
    case DR_FLAG_BOOL:
        if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0) {
            *(bool *)flag->value = true;
        } else if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0) {
            *(bool *)flag->value = false;
        } else {
            return dr_err_set(err, DR_EINVAL, "flag --%s (%s): '%s' is not true or false",
                              flag->name, origin, text);
        }
        return DR_OK;
    case DR_FLAG_DURATION: {
        dr_code rc = dr_flags_parse_duration(text, (uint64_t *)flag->value, err);
        if (rc != DR_OK)
            return dr_err_wrap(err, "flag --%s (%s)", flag->name, origin);
        return DR_OK;
    }
    }
    DR_UNREACHABLE();
}

/* Applies DROMOS_<NAME> and MESOS_<NAME> for flags not set on the command line. */
static dr_code parse_environment(const dr_flag *flags, size_t count, const bool *set_on_cli,
                                 dr_err *err)
{
    static const char *const prefixes[] = {"MESOS_", "DROMOS_"}; /* later ones win */
    for (size_t p = 0; p < DR_ARRAY_COUNT(prefixes); p++) {
        size_t prefix_size = strlen(prefixes[p]);
        for (char **e = environ; *e != NULL; e++) {
            if (strncmp(*e, prefixes[p], prefix_size) != 0)
                continue;
            const char *name = *e + prefix_size;
            const char *eq = strchr(name, '=');
            if (eq == NULL)
                continue;
            char lower[128];
            size_t name_size = (size_t)(eq - name);
            if (name_size >= sizeof lower)
                continue;
            for (size_t i = 0; i < name_size; i++)
                lower[i] = (char)tolower((unsigned char)name[i]);
            const dr_flag *flag = find_flag(flags, count, lower, name_size);
            if (flag == NULL) {
                if (p == 1)
                    fprintf(stderr, "dromos: warning: ignoring unknown variable %.*s\n",
                            (int)(eq - *e), *e);
                continue;
            }
            if (set_on_cli[flag - flags])
                continue;
            char origin[160];
            snprintf(origin, sizeof origin, "from %.*s", (int)(eq - *e), *e);
            dr_code rc = set_value(flag, eq + 1, origin, err);
            if (rc != DR_OK)
                return rc;
        }
    }
    return DR_OK;
}

dr_code dr_flags_parse(const dr_flag *flags, size_t flag_count, int argc, char **argv,
                       dr_flags_result *out, dr_err *err)
{
    bool *set_on_cli = dr_alloc_array(flag_count + 1, sizeof *set_on_cli);
    out->help = false;
    out->positional_index = argc;
    dr_code rc = DR_OK;
    int i = 1;
    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (strncmp(arg, "--", 2) != 0)
            break;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            out->help = true;
            continue;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_size = eq ? (size_t)(eq - name) : strlen(name);
        const dr_flag *flag = find_flag(flags, flag_count, name, name_size);
        bool negated = false;
        if (flag == NULL && eq == NULL && strncmp(name, "no-", 3) == 0) {
            flag = find_flag(flags, flag_count, name + 3, name_size - 3);
            negated = flag != NULL && flag->kind == DR_FLAG_BOOL;
            if (!negated)
                flag = NULL;
        }
        if (flag == NULL) {
            rc = dr_err_set(err, DR_EINVAL, "unknown flag '--%.*s'", (int)name_size, name);
            goto done;
        }
        const char *value;
        if (negated) {
            value = "false";
        } else if (eq != NULL) {
            value = eq + 1;
        } else if (flag->kind == DR_FLAG_BOOL) {
            value = "true";
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            rc = dr_err_set(err, DR_EINVAL, "flag --%s needs a value", flag->name);
            goto done;
        }
        rc = set_value(flag, value, "command line", err);
        if (rc != DR_OK)
            goto done;
        set_on_cli[flag - flags] = true;
    }
    out->positional_index = i;
    rc = parse_environment(flags, flag_count, set_on_cli, err);
done:
    dr_free(set_on_cli);
    return rc;
}

void dr_flags_usage(FILE *out, const char *cmd, const char *summary, const dr_flag *flags,
                    size_t flag_count)
{
    fprintf(out, "usage: dromos %s [flags]\n%s\n\nflags (also DROMOS_<NAME> or MESOS_<NAME>):\n",
            cmd, summary);
    for (size_t i = 0; i < flag_count; i++) {
        const dr_flag *f = &flags[i];
        char def[64] = "";
        switch (f->kind) {
        case DR_FLAG_STRING: {
            const char *v = *(const char **)f->value;
            snprintf(def, sizeof def, "%s", v ? v : "");
            break;
        }
        case DR_FLAG_U64:
            snprintf(def, sizeof def, "%llu", (unsigned long long)*(uint64_t *)f->value);
            break;
        case DR_FLAG_DOUBLE:
            snprintf(def, sizeof def, "%g", *(double *)f->value);
            break;
        case DR_FLAG_BOOL:
            snprintf(def, sizeof def, "%s", *(bool *)f->value ? "true" : "false");
            break;
        case DR_FLAG_DURATION:
            snprintf(def, sizeof def, "%gsecs", (double)*(uint64_t *)f->value / 1e9);
            break;
        }
        fprintf(out, "  --%-28s %s%s%s%s\n", f->name, f->help, def[0] ? " (default: " : "", def,
                def[0] ? ")" : "");
    }
}
