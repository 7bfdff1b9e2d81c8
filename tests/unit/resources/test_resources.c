/* tests/unit/resources/test_resources.c — parsing (text and JSON, good and
 * bad input with exact error texts), role validation, Mesos arithmetic
 * (fixed point, ranges, sets, reservations), contains, filters, sums and the
 * text form's round trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "src/resources/resources.h"

/* ---- helpers ----------------------------------------------------------------- */

static void parse_ok(const char *text, dr_resources *out)
{
    dr_err err = {0};
    dr_resources_init(out);
    dr_code rc = dr_resources_parse(text, out, &err);
    if (rc != DR_OK)
        print_error("parse '%s' failed: %s\n", text, err.msg);
    assert_int_equal(rc, DR_OK);
}

/* Parsing must fail with exactly want, leaving out empty. */
static void parse_fails(const char *text, const char *want)
{
    dr_err err = {0};
    dr_resources out;
    dr_resources_init(&out);
    dr_code rc = dr_resources_parse(text, &out, &err);
    if (rc == DR_OK || strcmp(err.msg, want) != 0)
        print_error("parse '%s': rc %d, got '%s', want '%s'\n", text, rc, err.msg, want);
    assert_int_equal(rc, DR_EINVAL);
    assert_string_equal(err.msg, want);
    assert_int_equal(out.count, 0);
    dr_resources_deinit(&out);
}

/* Formats rs and compares with want. */
static void format_is(const dr_resources *rs, const char *want)
{
    char *s = dr_resources_to_string(rs);
    if (strcmp(s, want) != 0)
        print_error("format: got '%s', want '%s'\n", s, want);
    assert_string_equal(s, want);
    dr_free(s);
}

static void parse_format(const char *text, const char *want)
{
    dr_resources rs;
    parse_ok(text, &rs);
    format_is(&rs, want);
    dr_resources_deinit(&rs);
}

/* ---- parsing ------------------------------------------------------------------- */

static void test_parse_text(void **state)
{
    DR_UNUSED(state);
    dr_resources rs;
    parse_ok("cpus:4;mem:2048;ports:[31000-32000,33000-33010];disk(role):100;gpus:1", &rs);
    assert_int_equal(rs.count, 5);
    assert_true(dr_resources_cpus(&rs) == 4.0);
    assert_true(dr_resources_mem(&rs) == 2048.0);
    assert_true(dr_resources_disk(&rs) == 100.0);
    assert_true(dr_resources_gpus(&rs) == 1.0);
    assert_string_equal(dr_resource_role(rs.items[3]), "role");
    assert_int_equal(rs.items[3]->n_reservations, 1);
    assert_int_equal(rs.items[3]->reservations[0]->type,
                     MESOS__RESOURCE__RESERVATION_INFO__TYPE__STATIC);
    assert_false(dr_resource_is_reserved(rs.items[0]));
    dr_buf ports;
    dr_buf_init(&ports);
    assert_int_equal(dr_resources_ports(&rs, &ports), 2);
    const uint64_t *p = (const uint64_t *)ports.data;
    assert_true(p[0] == 31000 && p[1] == 32000 && p[2] == 33000 && p[3] == 33010);
    dr_buf_deinit(&ports);
    format_is(&rs, "cpus(*):4; mem(*):2048; ports(*):[31000-32000, 33000-33010]; disk(role):100; "
                   "gpus(*):1");
    dr_resources_deinit(&rs);

    /* Blanks, empty entries, sets, "(*)", repeated names adding up, hierarchical roles. */
    parse_format(" cpus(*) : 1.5 ; ; cpus:0.5; zones:{a, b ,c}; mem(a/b):10 ;",
                 "cpus(*):2; zones(*):{a, b, c}; mem(a/b):10");
    /* Ranges in any order, adjacent ones coalesce; an empty range list is nothing. */
    parse_format("ports:[5-6, 1-2,3-4]; p2:[]", "ports(*):[1-6]");
    parse_format("", "");
    /* Fixed point: rounded to thousandths. */
    parse_format("cpus:0.0004;mem:1.23456", "mem(*):1.235");
}

static void test_parse_errors(void **state)
{
    DR_UNUSED(state);
    parse_fails("cpus:x", "resources 'cpus:x': value is not a number");
    parse_fails("cpus:4;mem:12z", "resources 'mem:12z': value is not a number");
    parse_fails("cpus", "resources 'cpus': expected NAME:VALUE");
    parse_fails("cpus:", "resources 'cpus:': value is not a number");
    parse_fails(":4", "resources ':4': empty resource name");
    parse_fails("cpus:-1", "resources 'cpus:-1': value must be finite, >= 0 and <= 1e12");
    parse_fails("cpus:inf", "resources 'cpus:inf': value must be finite, >= 0 and <= 1e12");
    parse_fails("cpus:nan", "resources 'cpus:nan': value must be finite, >= 0 and <= 1e12");
    parse_fails("mem:1e13", "resources 'mem:1e13': value must be finite, >= 0 and <= 1e12");
    parse_fails("ports:[5-3]", "resources 'ports:[5-3]': range 5-3 has begin > end");
    parse_fails("ports:[1-5,4-8]", "resources 'ports:[1-5,4-8]': ranges 1-5 and 4-8 overlap");
    parse_fails("ports:[1-x]", "resources 'ports:[1-x]': range '1-x' is not BEGIN-END");
    parse_fails("ports:[1-2", "resources 'ports:[1-2': ranges must end with ']'");
    parse_fails("s:{a,b,a}", "resources 's:{a,b,a}': duplicate set item 'a'");
    parse_fails("s:{a", "resources 's:{a': a set must end with '}'");
    parse_fails("cpus(r:1", "resources 'cpus(r:1': mismatched parentheses");
    parse_fails("disk(-x):1",
                "resources 'disk(-x):1': Role component '-x' is invalid because it starts with "
                "a dash");
    parse_fails("disk(a//b):1",
                "resources 'disk(a//b):1': Role 'a//b' cannot contain two adjacent slashes");
    parse_fails("disk():1", "resources 'disk():1': Empty role name is invalid");
}

static void test_parse_json(void **state)
{
    DR_UNUSED(state);
    dr_resources rs;
    parse_ok("[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":4}},"
             " {\"name\":\"mem\",\"type\":\"SCALAR\",\"scalar\":{\"value\":64},\"role\":\"r\"},"
             " {\"name\":\"ports\",\"type\":\"RANGES\",\"ranges\":{\"range\":[{\"begin\":1,"
             "\"end\":9}]}}]",
             &rs);
    format_is(&rs, "cpus(*):4; mem(r):64; ports(*):[1-9]");
    /* The pre-1.4 role became a STATIC reservation. */
    assert_int_equal(rs.items[1]->n_reservations, 1);
    assert_int_equal(rs.items[1]->reservations[0]->type,
                     MESOS__RESOURCE__RESERVATION_INFO__TYPE__STATIC);
    dr_resources_deinit(&rs);

    parse_fails("[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":-1}}]",
                "resources '[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":-1}}]"
                "': [0]: resource 'cpus': scalar value must be finite, >= 0 and <= 1e12");
    parse_fails("[1", "resources '[1': invalid JSON at line 1, column 2: ']' expected near "
                      "end of file");
    parse_fails("[{\"type\":\"SCALAR\"}]",
                "resources '[{\"type\":\"SCALAR\"}]': [0]: mesos.Resource: 'name' is required");
}

static void test_roles(void **state)
{
    DR_UNUSED(state);
    dr_err err = {0};
    const char *good[] = {"*", "a", "a/b", "a/b/c", "a.b", "a-b", "x*"};
    for (size_t i = 0; i < DR_ARRAY_COUNT(good); i++)
        assert_int_equal(dr_role_validate(good[i], &err), DR_OK);
    struct {
        const char *role, *msg;
    } bad[] = {
        {"", "Empty role name is invalid"},
        {".", "Role '.' cannot include '.' as a component"},
        {"..", "Role '..' cannot include '..' as a component"},
        {"a/../b", "Role 'a/../b' cannot include '..' as a component"},
        {"/a", "Role '/a' cannot start with a slash"},
        {"a/", "Role 'a/' cannot end with a slash"},
        {"a//b", "Role 'a//b' cannot contain two adjacent slashes"},
        {"a/*", "Role 'a/*' cannot include '*' as a component"},
        {"-a", "Role component '-a' is invalid because it starts with a dash"},
        {"a/-b", "Role component '-b' is invalid because it starts with a dash"},
        {"a b", "Role component 'a b' is invalid because it contains a control character or "
                "whitespace"},
        {"a\tb", "Role component 'a\tb' is invalid because it contains a control character or "
                 "whitespace"},
    };
    for (size_t i = 0; i < DR_ARRAY_COUNT(bad); i++) {
        assert_int_equal(dr_role_validate(bad[i].role, &err), DR_EINVAL);
        assert_string_equal(err.msg, bad[i].msg);
    }
    assert_true(dr_role_is_ancestor_or_self("a", "a"));
    assert_true(dr_role_is_ancestor_or_self("a", "a/b"));
    assert_false(dr_role_is_ancestor_or_self("a", "ab"));
    assert_false(dr_role_is_ancestor_or_self("a/b", "a"));
    assert_false(dr_role_is_ancestor_or_self("*", "*/x"));
}

/* ---- arithmetic --------------------------------------------------------------------- */

static void test_fixed_point(void **state)
{
    DR_UNUSED(state);
    dr_resources a, b, c;
    parse_ok("cpus:0.1", &a);
    parse_ok("cpus:0.2", &b);
    parse_ok("cpus:0.3", &c);
    dr_resources_add(&a, &b);
    assert_true(dr_resources_equal(&a, &c));
    assert_true(dr_resources_cpus(&a) == 0.3); /* exactly, unlike 0.1 + 0.2 in doubles */
    assert_int_equal(dr_resources_scalar_millis(&a, "cpus"), 300);
    format_is(&a, "cpus(*):0.3");
    /* Subtracting everything removes the item. */
    dr_resources_subtract(&a, &c);
    assert_int_equal(a.count, 0);
    assert_true(dr_resources_is_empty(&a));
    /* Subtracting more than held leaves nothing, never a negative. */
    dr_resources_add(&a, &b);
    dr_resources_subtract(&a, &c);
    assert_int_equal(a.count, 0);
    /* Ten additions of 0.1 are exactly 1. */
    dr_resources d, one;
    dr_resources_init(&d);
    parse_ok("cpus:1", &one);
    for (int i = 0; i < 10; i++) {
        Mesos__Resource *r = dr_resource_new_scalar("cpus", NULL, 0.1);
        dr_resources_add_one(&d, r);
        dr_resource_free(r);
    }
    assert_true(dr_resources_equal(&d, &one));
    dr_resources_deinit(&a);
    dr_resources_deinit(&b);
    dr_resources_deinit(&c);
    dr_resources_deinit(&d);
    dr_resources_deinit(&one);
}

static void test_ranges_and_sets(void **state)
{
    DR_UNUSED(state);
    dr_resources a, b, c;
    parse_ok("ports:[1-10, 20-30]; s:{a,b,c}", &a);
    parse_ok("ports:[3-4, 10-10, 20-20]; s:{b}", &b);
    assert_true(dr_resources_contains(&a, &b));
    assert_false(dr_resources_contains(&b, &a));
    dr_resources_subtract(&a, &b);
    format_is(&a, "ports(*):[1-2, 5-9, 21-30]; s(*):{a, c}");
    dr_resources_add(&a, &b);
    format_is(&a, "ports(*):[1-10, 20-30]; s(*):{a, c, b}");
    parse_ok("s:{c,b,a}; ports:[20-30,1-10]", &c);
    assert_true(dr_resources_equal(&a, &c)); /* order does not matter */
    dr_resources_deinit(&b);
    parse_ok("ports:[11-11]", &b);
    assert_false(dr_resources_contains(&a, &b));
    dr_resources_add(&a, &b); /* 1-10 + 11 + 20-30: adjacent ones merge */
    format_is(&a, "ports(*):[1-11, 20-30]; s(*):{a, c, b}");
    /* Subtracting a range across two held ranges. */
    dr_resources_deinit(&b);
    parse_ok("ports:[5-25]", &b);
    dr_resources_subtract(&a, &b);
    format_is(&a, "ports(*):[1-4, 26-30]; s(*):{a, c, b}");
    dr_resources_deinit(&a);
    dr_resources_deinit(&b);
    dr_resources_deinit(&c);
}

static void test_reservations_and_filters(void **state)
{
    DR_UNUSED(state);
    dr_resources a, b, out;
    parse_ok("cpus:4; cpus(a):2; cpus(a/b):1; cpus(c):8; mem:100", &a);
    assert_int_equal(a.count, 5); /* different reservations never merge */
    assert_true(dr_resources_cpus(&a) == 15.0);
    dr_resources_init(&out);
    dr_resources_unreserved(&a, &out);
    format_is(&out, "cpus(*):4; mem(*):100");
    dr_resources_reserved(&a, "a", &out);
    format_is(&out, "cpus(a):2");
    dr_resources_reserved(&a, NULL, &out);
    format_is(&out, "cpus(a):2; cpus(a/b):1; cpus(c):8");
    dr_resources_allocatable_to(&a, "a/b", &out);
    format_is(&out, "cpus(*):4; cpus(a):2; cpus(a/b):1; mem(*):100");
    dr_resources_allocatable_to(&a, "a", &out);
    format_is(&out, "cpus(*):4; cpus(a):2; mem(*):100");
    dr_resources_allocatable_to(&a, "*", &out);
    format_is(&out, "cpus(*):4; mem(*):100");
    dr_resources_named(&a, "mem", &out);
    format_is(&out, "mem(*):100");

    /* Reserved cpus do not satisfy unreserved ones. */
    parse_ok("cpus:5", &b);
    assert_false(dr_resources_contains(&a, &b));
    dr_resources_deinit(&b);
    parse_ok("cpus(c):8; cpus:4", &b);
    assert_true(dr_resources_contains(&a, &b));
    dr_resources_subtract(&a, &b);
    format_is(&a, "cpus(a):2; cpus(a/b):1; mem(*):100");

    /* Allocation info separates items and is then merged back. */
    dr_resources_set_allocation_role(&a, "a");
    assert_non_null(a.items[0]->allocation_info);
    assert_string_equal(a.items[0]->allocation_info->role, "a");
    dr_resources_copy(&out, &a);
    assert_true(dr_resources_equal(&out, &a));
    dr_resources_set_allocation_role(&out, NULL);
    assert_false(dr_resources_contains(&out, &a));
    assert_null(out.items[0]->allocation_info);

    dr_resources_deinit(&a);
    dr_resources_deinit(&b);
    dr_resources_deinit(&out);
}

static void test_from_array_and_validate(void **state)
{
    DR_UNUSED(state);
    Mesos__Resource *good = dr_resource_new_scalar("cpus", "r", 2);
    Mesos__Resource *bad = dr_resource_new_scalar("mem", NULL, 1);
    bad->scalar->value = -3;
    const Mesos__Resource *items[] = {good, bad};
    dr_resources rs;
    dr_resources_init(&rs);
    dr_err err = {0};
    assert_int_equal(dr_resources_from_array(&rs, items, 2, &err), DR_EINVAL);
    assert_string_equal(err.msg, "resource[1]: resource 'mem': scalar value must be finite, "
                                 ">= 0 and <= 1e12");
    assert_int_equal(rs.count, 0);
    assert_int_equal(dr_resources_from_array(&rs, items, 1, &err), DR_OK);
    format_is(&rs, "cpus(r):2");

    bad->scalar->value = 1;
    bad->reservations = dr_alloc(sizeof *bad->reservations);
    bad->reservations[0] = dr_alloc(sizeof *bad->reservations[0]);
    mesos__resource__reservation_info__init(bad->reservations[0]);
    bad->reservations[0]->role = dr_strdup("*");
    bad->n_reservations = 1;
    assert_int_equal(dr_resource_validate(bad, &err), DR_EINVAL);
    assert_string_equal(err.msg, "resource 'mem': a reservation needs a role other than '*'");
    dr_free(bad->reservations[0]->role);
    bad->reservations[0]->role = dr_strdup("a b");
    assert_int_equal(dr_resource_validate(bad, &err), DR_EINVAL);
    assert_string_equal(err.msg, "resource 'mem': Role component 'a b' is invalid because it "
                                 "contains a control character or whitespace");

    Mesos__Resource *rg = dr_resource_new_ranges("ports", NULL, (const uint64_t[]){1, 2}, 1);
    rg->ranges->range[0]->begin = 9;
    assert_int_equal(dr_resource_validate(rg, &err), DR_EINVAL);
    assert_string_equal(err.msg, "resource 'ports': range 9-2 has begin > end");
    rg->type = MESOS__VALUE__TYPE__TEXT;
    assert_int_equal(dr_resource_validate(rg, &err), DR_EINVAL);
    assert_string_equal(err.msg, "resource 'ports': type must be SCALAR, RANGES or SET");

    dr_resource_free(good);
    dr_resource_free(bad);
    dr_resource_free(rg);
    dr_resources_deinit(&rs);
}

static void test_format_round_trip(void **state)
{
    DR_UNUSED(state);
    const char *texts[] = {
        "cpus(*):1; mem(*):128; ports(*):[31000-32000]",
        "cpus(*):0.001; mem(a/b/c):1.5; disk(r):4096; zones(*):{x, y}; gpus(*):2",
        "ports(*):[1-1, 3-5, 7-65535]; mem(*):123456789.125",
    };
    for (size_t i = 0; i < DR_ARRAY_COUNT(texts); i++) {
        dr_resources a, b;
        parse_ok(texts[i], &a);
        format_is(&a, texts[i]);
        char *s = dr_resources_to_string(&a);
        parse_ok(s, &b);
        assert_true(dr_resources_equal(&a, &b));
        dr_free(s);
        dr_resources_deinit(&a);
        dr_resources_deinit(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_text),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_json),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_fixed_point),
        cmocka_unit_test(test_ranges_and_sets),
        cmocka_unit_test(test_reservations_and_filters),
        cmocka_unit_test(test_from_array_and_validate),
        cmocka_unit_test(test_format_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
