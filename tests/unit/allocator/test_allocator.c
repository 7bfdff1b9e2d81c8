/* tests/unit/allocator/test_allocator.c — the allocator against Mesos's
 * semantics: DRF convergence, role weights, hierarchical roles, reservations,
 * offer filters (timeout and allocation interval), suppress/revive, inactive
 * frameworks and agents, minimum allocatable resources, GPU filtering, error
 * texts, determinism, and a seeded fairness property: at quiescence the
 * weighted dominant shares of frameworks with saturated demand differ by at
 * most the largest single task's share.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "src/allocator/allocator.h"
#include "src/resources/resources.h"

#define S DR_NS_PER_S

/* ---- helpers ------------------------------------------------------------------ */

static dr_allocator *make(uint64_t interval_ns, bool filter_gpus)
{
    dr_allocator_opts opts = {
        .min_allocatable_cpus = 0.01,
        .min_allocatable_mem_mb = 32,
        .filter_gpu_resources = filter_gpus,
        .allocation_interval_ns = interval_ns,
    };
    return dr_allocator_create(&opts);
}

static void add_agent(dr_allocator *a, const char *id, const char *resources)
{
    dr_resources rs;
    dr_resources_init(&rs);
    dr_err err = {0};
    assert_int_equal(dr_resources_parse(resources, &rs, &err), DR_OK);
    dr_code rc = dr_allocator_add_agent(a, id, (const Mesos__Resource *const *)rs.items,
                                        rs.count, NULL, 0, &err);
    if (rc != DR_OK)
        print_error("add_agent: %s\n", err.msg);
    assert_int_equal(rc, DR_OK);
    dr_resources_deinit(&rs);
}

static void add_fw_caps(dr_allocator *a, const char *id, const char *role, uint32_t caps)
{
    dr_err err = {0};
    const char *roles[] = {role};
    dr_code rc = dr_allocator_add_framework(a, id, roles, 1, caps, NULL, 0, &err);
    if (rc != DR_OK)
        print_error("add_framework: %s\n", err.msg);
    assert_int_equal(rc, DR_OK);
}

static void add_fw(dr_allocator *a, const char *id, const char *role)
{
    add_fw_caps(a, id, role, 0);
}

/* The text form of a grant's resources (allocation info dropped). */
static char *grant_text(const dr_alloc_grant *g)
{
    dr_resources rs;
    dr_resources_init(&rs);
    dr_err err = {0};
    assert_int_equal(dr_resources_from_array(&rs, (const Mesos__Resource *const *)g->resources,
                                             g->resource_count, &err),
                     DR_OK);
    for (size_t i = 0; i < rs.count; i++) {
        assert_non_null(rs.items[i]->allocation_info);
        assert_string_equal(rs.items[i]->allocation_info->role, g->role);
    }
    dr_resources_set_allocation_role(&rs, NULL);
    char *s = dr_resources_to_string(&rs);
    dr_resources_deinit(&rs);
    return s;
}

/* All grants of one cycle as "fw@agent/role=resources" lines. */
static char *cycle_text(dr_allocator *a, uint64_t now_ns)
{
    dr_alloc_grants g;
    dr_allocator_allocate(a, now_ns, &g);
    dr_buf b;
    dr_buf_init(&b);
    for (size_t i = 0; i < g.count; i++) {
        char *t = grant_text(&g.items[i]);
        dr_buf_printf(&b, "%s@%s/%s=%s\n", g.items[i].framework_id, g.items[i].agent_id,
                      g.items[i].role, t);
        dr_free(t);
    }
    dr_allocator_grants_free(&g);
    char *s = dr_strdup(dr_buf_cstr(&b));
    dr_buf_deinit(&b);
    return s;
}

static void cycle_is(dr_allocator *a, uint64_t now_ns, const char *want)
{
    char *s = cycle_text(a, now_ns);
    if (strcmp(s, want) != 0)
        print_error("cycle at %llu ns:\n got:\n%s want:\n%s", (unsigned long long)now_ns, s,
                    want);
    assert_string_equal(s, want);
    dr_free(s);
}

static void recover(dr_allocator *a, const dr_alloc_grant *g, uint64_t refuse_ns,
                    uint64_t now_ns)
{
    dr_allocator_recover(a, g->framework_id, g->agent_id, g->role,
                         (const Mesos__Resource *const *)g->resources, g->resource_count,
                         refuse_ns, now_ns);
}

/* Counts grants per framework id in fws[] (accumulating into counts[]). */
static void count_grants(const dr_alloc_grants *g, const char *const *fws, size_t n,
                         int *counts)
{
    for (size_t i = 0; i < g->count; i++)
        for (size_t j = 0; j < n; j++)
            if (strcmp(g->items[i].framework_id, fws[j]) == 0)
                counts[j]++;
}

/* ---- DRF ---------------------------------------------------------------------------- */

static void test_equal_shares(void **state)
{
    DR_UNUSED(state);
    dr_allocator *a = make(S, false);
    add_fw(a, "f1", "*");
    add_fw(a, "f2", "*");
    char id[16];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "a%02d", i);
        add_agent(a, id, "cpus:1;mem:100");
    }
    /* Frameworks keep everything: each agent is offered once, alternating. */
    dr_alloc_grants g;
    dr_allocator_allocate(a, 0, &g);
    assert_int_equal(g.count, 10);
    const char *fws[] = {"f1", "f2"};
    int counts[2] = {0};
    count_grants(&g, fws, 2, counts);
    assert_int_equal(counts[0], 5);
    assert_int_equal(counts[1], 5);
    /* One offer per agent, every resource of it. */
    char *t = grant_text(&g.items[0]);
    assert_string_equal(t, "cpus(*):1; mem(*):100");
    dr_free(t);
    dr_allocator_grants_free(&g);
    /* Nothing left to offer. */
    cycle_is(a, S, "");
    dr_allocator_destroy(a);
}

static void test_role_weights(void **state)
{
    DR_UNUSED(state);
    dr_allocator *a = make(S, false);
    dr_err err = {0};
    assert_int_equal(dr_allocator_set_weight(a, "a", 2.0, &err), DR_OK);
    assert_true(dr_allocator_weight(a, "a") == 2.0);
    assert_true(dr_allocator_weight(a, "b") == 1.0);
    add_fw(a, "fa", "a");
    add_fw(a, "fb", "b");
    char id[16];
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof id, "a%02d", i);
        add_agent(a, id, "cpus:2;mem:100");
    }
    dr_alloc_grants g;
    dr_allocator_allocate(a, 0, &g);
    const char *fws[] = {"fa", "fb"};
    int counts[2] = {0};
    count_grants(&g, fws, 2, counts);
    dr_allocator_grants_free(&g);
    assert_int_equal(counts[0], 20);
    assert_int_equal(counts[1], 10);
    dr_allocator_destroy(a);
}

static void test_hierarchical_roles(void **state)
{
    DR_UNUSED(state);
    dr_allocator *a = make(S, false);
    add_fw(a, "f-eng-a", "eng/a");
    add_fw(a, "f-eng-b", "eng/b");
    add_fw(a, "f-ops", "ops");
    char id[16];
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof id, "a%02d", i);
        add_agent(a, id, "cpus:1;mem:100");
    }
    dr_alloc_grants g;
    dr_allocator_allocate(a, 0, &g);
    const char *fws[] = {"f-eng-a", "f-eng-b", "f-ops"};
    int counts[3] = {0};
    count_grants(&g, fws, 3, counts);
    dr_allocator_grants_free(&g);
    /* eng's children share eng's half: allocations roll up to "eng". */
    assert_int_equal(counts[0], 10);
    assert_int_equal(counts[1], 10);
    assert_int_equal(counts[2], 20);

    dr_allocator_destroy(a);
}

static void role_line(const dr_alloc_role_info *info, void *ctx)
{
    dr_buf *b = ctx;
    dr_buf_printf(b, "%s w=%g s=%.3f fws=", info->role, info->weight, info->dominant_share);
    for (size_t i = 0; i < info->framework_count; i++)
        dr_buf_printf(b, "%s%s", i > 0 ? "," : "", info->framework_ids[i]);
    dr_buf_append_str(b, "\n");
}

static void test_roles_view(void **state)
{
    DR_UNUSED(state);
    dr_allocator *a = make(S, false);
    dr_err err = {0};
    assert_int_equal(dr_allocator_set_weight(a, "ops", 3, &err), DR_OK);
    add_fw(a, "f2", "eng/a");
    add_fw(a, "f1", "eng/a");
    add_fw(a, "f3", "eng");
    for (int i = 0; i < 4; i++) {
        char id[16];
        snprintf(id, sizeof id, "a%d", i);
        add_agent(a, id, "cpus:1;mem:100");
    }
    dr_alloc_grants g;
    dr_allocator_allocate(a, 0, &g);
    assert_int_equal(g.count, 4);
    dr_allocator_grants_free(&g);
    dr_buf b;
    dr_buf_init(&b);
    dr_allocator_each_role(a, role_line, &b);
    assert_string_equal(dr_buf_cstr(&b), "eng w=1 s=1.000 fws=f3\n"
                                         "eng/a w=1 s=0.500 fws=f1,f2\n"
                                         "ops w=3 s=0.000 fws=\n");
    dr_buf_deinit(&b);
    dr_allocator_destroy(a);
}

/* ---- reservations ---------------------------------------------------------------------- */

static void test_reservations(void **state)
{
    DR_UNUSED(state);
    dr_allocator *a = make(S, false);
    add_agent(a, "a1", "cpus(r):2;mem(r):100;cpus:1;mem:64");
    add_fw(a, "fx", "x");
    /* Only the unreserved part goes to a framework of another role. */
    cycle_is(a, 0, "fx@a1/x=cpus(*):1; mem(*):64\n");
    /* A framework of r gets the reservation; one of r's subrole too. */
    add_fw(a, "fr", "r/sub");
    cycle_is(a, 0, "fr@a1/r/sub=cpus(r):2; mem(r):100\n");
    dr_allocator_destroy(a);

    a = make(S, false);
    add_agent(a, "a1", "cpus(r):2;mem(r):100;cpus:1;mem:64");
    add_fw(a, "fr", "r");
    add_fw(a, "fp", "rx"); /* a name prefix is not a subrole */
    cycle_is(a, 0, "fr@a1/r=cpus(r):2; mem(r):100; cpus(*):1; mem(*):64\n");
    dr_allocator_destroy(a);
}

/* ---- filters ------------------------------------------------------------------------------ */

static void test_filters_expire(void **state)
{
    DR_UNUSED(state);
    dr_allocator *a = make(1 * S, false);
    add_agent(a, "a1", "cpus:1;mem:64");
    add_fw(a, "f1", "*");
    dr_alloc_grants g;
    dr_allocator_allocate(a, 0, &g);
    assert_int_equal(g.count, 1);
    recover(a, &g.items[0], 5 * S, 0); /* decline, refuse 5 s */
    dr_allocator_grants_free(&g);
    cycle_is(a, 1 * S, "");
    cycle_is(a, 5 * S - 1, "");
    cycle_is(a, 5 * S, "f1@a1/*=cpus(*):1; mem(*):64\n");

    /* A refusal shorter than the interval lasts one interval. */
    dr_allocator_recover(a, "f1", "a1", "*", NULL, 0, 0, 0); /* nothing: no-op */
    dr_resources rs;
    dr_resources_init(&rs);
    dr_err err = {0};
    assert_int_equal(dr_resources_parse("cpus:1;mem:64", &rs, &err), DR_OK);
    dr_allocator_recover(a, "f1", "a1", "*", (const Mesos__Resource *const *)rs.items, rs.count,
                         S / 5, 10 * S);
    cycle_is(a, 10 * S + S / 2, "");
    cycle_is(a, 11 * S - 1, "");
    cycle_is(a, 11 * S, "f1@a1/*=cpus(*):1; mem(*):64\n");

    /* Refusals are clamped to 365 days. */
    dr_allocator_recover(a, "f1", "a1", "*", (const Mesos__Resource *const *)rs.items, rs.count,
                         UINT64_MAX, 0);
    uint64_t year_ns = UINT64_C(365) * 24 * 3600 * S;
    cycle_is(a, year_ns - 1, "");
    cycle_is(a, year_ns, "f1@a1/*=cpus(*):1; mem(*):64\n");

    /* A filter holds back only what it refused: more is offered again. */
    dr_allocator_recover(a, "f1", "a1", "*", (const Mesos__Resource *const *)rs.items, rs.count,
                         0, 0);
    dr_resources_deinit(&rs);
    add_fw(a, "f2", "*");
    dr_alloc_use use = {.framework_id = "f2", .role = "*"};
    Mesos__Resource *half = dr_resource_new_scalar("cpus", NULL, 0.5);
    use.resources = (const Mesos__Resource *const *)&half;
    use.resource_count = 1;
    assert_int_equal(dr_allocator_add_use(a, "a1", &use, &err), DR_OK);
    const char *star[] = {"*"};
    dr_allocator_suppress(a, "f2", star, 1);
    dr_allocator_allocate(a, 0, &g);
    assert_int_equal(g.count, 1);
    char *t = grant_text(&g.items[0]);
    assert_string_equal(t, "cpus(*):0.5; mem(*):64");
    dr_free(t);
    recover(a, &g.items[0], 100 * S, 0);
    dr_allocator_grants_free(&g);
    cycle_is(a, 1 * S, "");
    dr_allocator_recover(a, "f2", "a1", "*", (const Mesos__Resource *const *)&half, 1, 0, 1 * S);
    dr_resource_free(half);
    cycle_is(a, 2 * S, "f1@a1/*=cpus(*):1; mem(*):64\n");
    dr_allocator_destroy(a);
}

static void test_suppress_revive(void **state)
{
    DR_UNUSED(state);
    dr_allocator *a = make(S, false);
    add_agent(a, "a1", "cpus:1;mem:64");
    add_fw(a, "f1", "*");
    dr_allocator_suppress(a, "f1", NULL, 0);
    cycle_is(a, 0, "");
    dr_allocator_revive(a, "f1", NULL, 0);
    dr_alloc_grants g;
    dr_allocator_allocate(a, 0, &g);
    assert_int_equal(g.count, 1);
    recover(a, &g.items[0], 1000 * S, 0);
    dr_allocator_grants_free(&g);
    cycle_is(a, 1 * S, "");
    /* Revive clears the filters of the revived roles. */
    const char *star[] = {"*"};
    dr_allocator_revive(a, "f1", star, 1);
    cycle_is(a, 2 * S, "f1@a1/*=cpus(*):1; mem(*):64\n");
    dr_allocator_destroy(a);

    /* Suppressed at subscription, per role. */
    a = make(S, false);
    add_agent(a, "a1", "cpus:1;mem:64");
    const char *roles[] = {"r1", "r2"};
    const char *sup[] = {"r1"};
    dr_err err = {0};
    assert_int_equal(dr_allocator_add_framework(a, "f1", roles, 2, 0, sup, 1, &err), DR_OK);
    cycle_is(a, 0, "f1@a1/r2=cpus(*):1; mem(*):64\n");
    dr_allocator_destroy(a);
}

static void test_inactive(void **state)
{
    DR_UNUSED(state);
    dr_allocator *a = make(S, false);
    add_agent(a, "a1", "cpus:1;mem:64");
    add_agent(a, "a2", "cpus:1;mem:64");
    add_fw(a, "f1", "*");
    dr_allocator_activate_framework(a, "f1", false);
    dr_allocator_activate_agent(a, "a1", false);
    cycle_is(a, 0, "");
    dr_allocator_activate_framework(a, "f1", true);
    cycle_is(a, 0, "f1@a2/*=cpus(*):1; mem(*):64\n");
    dr_allocator_activate_agent(a, "a1", true);
    cycle_is(a, 0, "f1@a1/*=cpus(*):1; mem(*):64\n");
    /* A removed framework's resources go back to the agent on recovery. */
    dr_allocator_remove_framework(a, "f1");
    add_fw(a, "f2", "*");
    cycle_is(a, 0, "");
    dr_resources rs;
    dr_resources_init(&rs);
    dr_err err = {0};
    assert_int_equal(dr_resources_parse("cpus:1;mem:64", &rs, &err), DR_OK);
    dr_allocator_recover(a, "f1", "a2", "*", (const Mesos__Resource *const *)rs.items, rs.count,
                         0, 0);
    cycle_is(a, 0, "f2@a2/*=cpus(*):1; mem(*):64\n");
    /* Recovery on a removed agent is ignored. */
    dr_allocator_remove_agent(a, "a1");
    dr_allocator_recover(a, "f1", "a1", "*", (const Mesos__Resource *const *)rs.items, rs.count,
                         0, 0);
    dr_resources_deinit(&rs);
    cycle_is(a, 0, "");
    dr_allocator_destroy(a);
}

static void test_min_allocatable(void **state)
{
    DR_UNUSED(state);
    dr_allocator *a = make(S, false);
    add_agent(a, "a1", "cpus:0.009;mem:31");
    add_agent(a, "a2", "cpus:0.01;mem:1");
    add_agent(a, "a3", "mem:32");
    add_agent(a, "a4", "disk:1000");
    add_fw(a, "f1", "*");
    cycle_is(a, 0, "f1@a2/*=cpus(*):0.01; mem(*):1\nf1@a3/*=mem(*):32\n");
    dr_allocator_destroy(a);
}

static void test_gpus(void **state)
{
    DR_UNUSED(state);
    dr_allocator *a = make(S, true);
    add_agent(a, "a1", "cpus:1;mem:64;gpus:1");
    add_fw(a, "plain", "*");
    cycle_is(a, 0, "");
    add_fw_caps(a, "gpu", "*", DR_ALLOC_CAP_GPU_RESOURCES);
    cycle_is(a, 0, "gpu@a1/*=cpus(*):1; mem(*):64; gpus(*):1\n");
    dr_allocator_destroy(a);

    a = make(S, false); /* filtering off: anyone */
    add_agent(a, "a1", "cpus:1;mem:64;gpus:1");
    add_fw(a, "plain", "*");
    cycle_is(a, 0, "plain@a1/*=cpus(*):1; mem(*):64; gpus(*):1\n");
    dr_allocator_destroy(a);
}

static void test_ports_and_capabilities(void **state)
{
    DR_UNUSED(state);
    dr_allocator *a = make(S, false);
    add_agent(a, "a1", "cpus:2;mem:64;ports:[31000-32000]");
    add_fw(a, "f1", "*");
    dr_alloc_grants g;
    dr_allocator_allocate(a, 0, &g);
    assert_int_equal(g.count, 1);
    /* The framework launches a task on cpus:1;mem:32;ports:[31000-31000] and
     * returns the rest. */
    dr_resources rest;
    dr_resources_init(&rest);
    dr_err err = {0};
    assert_int_equal(dr_resources_parse("cpus:1;mem:32;ports:[31001-32000]", &rest, &err), DR_OK);
    dr_allocator_recover(a, "f1", "a1", "*", (const Mesos__Resource *const *)rest.items,
                         rest.count, 0, 0);
    dr_resources_deinit(&rest);
    dr_allocator_grants_free(&g);
    cycle_is(a, 0, "f1@a1/*=cpus(*):1; mem(*):32; ports(*):[31001-32000]\n");
    dr_allocator_destroy(a);

    /* Revocable resources only to frameworks that take them. */
    a = make(S, false);
    Mesos__Resource *rev = dr_resource_new_scalar("cpus", NULL, 4);
    rev->revocable = dr_alloc(sizeof *rev->revocable);
    mesos__resource__revocable_info__init(rev->revocable);
    Mesos__Resource *mem = dr_resource_new_scalar("mem", NULL, 64);
    const Mesos__Resource *total[] = {rev, mem};
    assert_int_equal(dr_allocator_add_agent(a, "a1", total, 2, NULL, 0, &err), DR_OK);
    add_fw(a, "plain", "*");
    cycle_is(a, 0, "plain@a1/*=mem(*):64\n");
    add_fw_caps(a, "rev", "*", DR_ALLOC_CAP_REVOCABLE_RESOURCES);
    cycle_is(a, 0, "rev@a1/*=cpus(*){REV}:4\n");
    dr_resource_free(rev);
    dr_resource_free(mem);
    dr_allocator_destroy(a);
}

static void test_errors(void **state)
{
    DR_UNUSED(state);
    dr_allocator *a = make(S, false);
    dr_err err = {0};
    assert_int_equal(dr_allocator_set_weight(a, "r", 0, &err), DR_EINVAL);
    assert_string_equal(err.msg, "role 'r': weight 0 must be > 0 and <= 1e12");
    assert_int_equal(dr_allocator_set_weight(a, "a//b", 1, &err), DR_EINVAL);
    assert_string_equal(err.msg, "Role 'a//b' cannot contain two adjacent slashes");
    const char *bad_roles[] = {"-x"};
    assert_int_equal(dr_allocator_add_framework(a, "f1", bad_roles, 1, 0, NULL, 0, &err),
                     DR_EINVAL);
    assert_string_equal(err.msg,
                        "framework 'f1': Role component '-x' is invalid because it starts "
                        "with a dash");
    const char *roles[] = {"r"};
    const char *sup[] = {"q"};
    assert_int_equal(dr_allocator_add_framework(a, "f1", roles, 1, 0, sup, 1, &err), DR_EINVAL);
    assert_string_equal(err.msg, "framework 'f1': suppressed role 'q' is not one of its roles");
    add_fw(a, "f1", "r");
    assert_int_equal(dr_allocator_add_framework(a, "f1", roles, 1, 0, NULL, 0, &err), DR_EEXIST);
    assert_string_equal(err.msg, "framework 'f1': already added");
    assert_int_equal(dr_allocator_update_framework(a, "nope", roles, 1, 0, NULL, 0, &err),
                     DR_ENOENT);
    assert_string_equal(err.msg, "framework 'nope': not added");

    Mesos__Resource *neg = dr_resource_new_scalar("cpus", NULL, 1);
    neg->scalar->value = -1;
    const Mesos__Resource *total[] = {neg};
    assert_int_equal(dr_allocator_add_agent(a, "a1", total, 1, NULL, 0, &err), DR_EINVAL);
    assert_string_equal(err.msg, "agent 'a1': total: resource 'cpus': scalar value must be "
                                 "finite, >= 0 and <= 1e12");
    neg->scalar->value = 1;
    assert_int_equal(dr_allocator_add_agent(a, "a1", total, 1, NULL, 0, &err), DR_OK);
    assert_int_equal(dr_allocator_add_agent(a, "a1", total, 1, NULL, 0, &err), DR_EEXIST);
    assert_string_equal(err.msg, "agent 'a1': already added");
    dr_alloc_use use = {.framework_id = "f9", .role = "r", .resources = total,
                        .resource_count = 1};
    neg->scalar->value = 2;
    assert_int_equal(dr_allocator_add_agent(a, "a2", total, 1, &use, 1, &err), DR_OK);
    neg->scalar->value = 3;
    assert_int_equal(dr_allocator_add_use(a, "a2", &use, &err), DR_EINVAL);
    assert_string_equal(err.msg,
                        "agent 'a2': framework 'f9' uses resources that are not available");
    assert_int_equal(dr_allocator_add_use(a, "zz", &use, &err), DR_ENOENT);
    assert_string_equal(err.msg, "agent 'zz': not added");
    assert_int_equal(dr_allocator_add_agent(a, "a3", total, 1, &use, 0, &err), DR_OK);
    neg->scalar->value = 4;
    assert_int_equal(dr_allocator_add_agent(a, "a4", total, 0, &use, 1, &err), DR_EINVAL);
    assert_string_equal(err.msg, "agent 'a4': used resources exceed its total");

    /* Too many resource names. */
    char text[64];
    int rc = DR_OK;
    for (int i = 0; i < 40 && rc == DR_OK; i++) {
        snprintf(text, sizeof text, "n%d", i);
        Mesos__Resource *r = dr_resource_new_scalar(text, NULL, 1);
        const Mesos__Resource *one[] = {r};
        snprintf(text, sizeof text, "b%d", i);
        rc = dr_allocator_add_agent(a, text, one, 1, NULL, 0, &err);
        dr_resource_free(r);
    }
    assert_int_equal(rc, DR_ETOOBIG);
    assert_non_null(strstr(err.msg, "more than 32 resource names in all"));
    dr_resource_free(neg);
    dr_allocator_destroy(a);

    /* Sums that would overflow int64 thousandths are refused. */
    a = make(S, false);
    Mesos__Resource *big = dr_resource_new_scalar("cpus", NULL, 1e12);
    const Mesos__Resource *many[1001];
    for (size_t i = 0; i < 1001; i++)
        many[i] = big;
    assert_int_equal(dr_allocator_add_agent(a, "x0", many, 1001, NULL, 0, &err), DR_ETOOBIG);
    assert_string_equal(err.msg, "agent 'x0': total 'cpus' above 1e15");
    assert_int_equal(dr_allocator_add_agent(a, "x1", many, 1000, NULL, 0, &err), DR_OK);
    assert_int_equal(dr_allocator_add_agent(a, "x2", many, 1000, NULL, 0, &err), DR_OK);
    assert_int_equal(dr_allocator_add_agent(a, "x3", many, 1000, NULL, 0, &err), DR_ETOOBIG);
    assert_string_equal(err.msg, "agent 'x3': cluster total of 'cpus' too large");
    dr_resource_free(big);
    dr_allocator_destroy(a);
}

static void test_fair_sharing_excluded(void **state)
{
    DR_UNUSED(state);
    for (int excluded = 0; excluded < 2; excluded++) {
        const char *names[] = {"gpus"};
        dr_allocator_opts opts = {
            .min_allocatable_cpus = 0.01,
            .min_allocatable_mem_mb = 32,
            .allocation_interval_ns = S,
            .fair_sharing_excluded_names = names,
            .fair_sharing_excluded_count = excluded ? 1 : 0,
        };
        dr_allocator *a = dr_allocator_create(&opts);
        add_agent(a, "a0", "cpus:10;mem:1000;gpus:1");
        add_fw_caps(a, "f1", "*", DR_ALLOC_CAP_GPU_RESOURCES);
        add_fw_caps(a, "f2", "*", DR_ALLOC_CAP_GPU_RESOURCES);
        dr_err err = {0};
        Mesos__Resource *cpu = dr_resource_new_scalar("cpus", NULL, 1);
        Mesos__Resource *gpu = dr_resource_new_scalar("gpus", NULL, 1);
        dr_alloc_use u1 = {.framework_id = "f1", .role = "*",
                           .resources = (const Mesos__Resource *const *)&cpu,
                           .resource_count = 1};
        dr_alloc_use u2 = {.framework_id = "f2", .role = "*",
                           .resources = (const Mesos__Resource *const *)&gpu,
                           .resource_count = 1};
        assert_int_equal(dr_allocator_add_use(a, "a0", &u1, &err), DR_OK);
        assert_int_equal(dr_allocator_add_use(a, "a0", &u2, &err), DR_OK);
        /* f2 holds the only GPU: a share of 1 unless gpus are left out. */
        cycle_is(a, 0, excluded ? "f2@a0/*=cpus(*):9; mem(*):1000\n"
                                : "f1@a0/*=cpus(*):9; mem(*):1000\n");
        dr_resource_free(cpu);
        dr_resource_free(gpu);
        dr_allocator_destroy(a);
    }
}

static void test_used_and_update(void **state)
{
    DR_UNUSED(state);
    dr_allocator *a = make(S, false);
    Mesos__Resource *c = dr_resource_new_scalar("cpus", NULL, 2);
    Mesos__Resource *m = dr_resource_new_scalar("mem", NULL, 200);
    const Mesos__Resource *half[] = {c, m};
    /* The agent re-registers with a task of f1 before f1 subscribes. */
    dr_alloc_use use = {.framework_id = "f1", .role = "r", .resources = half,
                        .resource_count = 2};
    dr_resources total;
    dr_resources_init(&total);
    dr_err err = {0};
    assert_int_equal(dr_resources_parse("cpus:4;mem:400", &total, &err), DR_OK);
    assert_int_equal(dr_allocator_add_agent(a, "a1", (const Mesos__Resource *const *)total.items,
                                            total.count, &use, 1, &err),
                     DR_OK);
    dr_resources_deinit(&total);
    add_fw(a, "f2", "r");
    add_fw(a, "f1", "r");
    /* f1 holds half already: the rest goes to f2. */
    dr_alloc_grants g;
    dr_allocator_allocate(a, 0, &g);
    assert_int_equal(g.count, 1);
    assert_string_equal(g.items[0].framework_id, "f2");
    char *t = grant_text(&g.items[0]);
    assert_string_equal(t, "cpus(*):2; mem(*):200");
    dr_free(t);
    /* f1 moves to role q while holding resources in r; then they end. */
    const char *q[] = {"q"};
    assert_int_equal(dr_allocator_update_framework(a, "f1", q, 1, 0, NULL, 0, &err), DR_OK);
    dr_allocator_recover(a, "f1", "a1", "r", half, 2, 0, 0);
    recover(a, &g.items[0], 0, 0);
    dr_allocator_grants_free(&g);
    /* Both roles at share 0: "q" before "r". */
    cycle_is(a, 0, "f1@a1/q=cpus(*):4; mem(*):400\n");
    dr_resource_free(c);
    dr_resource_free(m);
    dr_allocator_destroy(a);
}


/* ---- determinism and fairness ----------------------------------------------------------- */

/* A scripted run: frameworks in weighted roles accept one task per offer
 * and decline the rest; returns every cycle's grants. */
static char *scripted(uint64_t seed)
{
    dr_rng rng;
    dr_rng_init(&rng, seed);
    dr_allocator *a = make(S, false);
    dr_err err = {0};
    assert_int_equal(dr_allocator_set_weight(a, "r1", 2, &err), DR_OK);
    for (int i = 0; i < 12; i++) {
        char id[16], res[64];
        snprintf(id, sizeof id, "agent-%02d", (i * 7) % 12);
        snprintf(res, sizeof res, "cpus:%d;mem:%d", 4 + (int)dr_rng_below(&rng, 4),
                 1024 * (1 + (int)dr_rng_below(&rng, 3)));
        add_agent(a, id, res);
    }
    add_fw(a, "fw-b", "r1");
    add_fw(a, "fw-a", "r2");
    add_fw(a, "fw-c", "r2");
    dr_buf all;
    dr_buf_init(&all);
    for (int cycle = 0; cycle < 6; cycle++) {
        char *s = cycle_text(a, (uint64_t)cycle * S);
        dr_buf_append_str(&all, s);
        dr_free(s);
    }
    dr_allocator_destroy(a);
    char *out = dr_strdup(dr_buf_cstr(&all));
    dr_buf_deinit(&all);
    return out;
}

static void test_determinism(void **state)
{
    DR_UNUSED(state);
    char *x = scripted(7), *y = scripted(7);
    assert_string_equal(x, y);
    assert_true(strlen(x) > 0);
    dr_free(x);
    dr_free(y);
}

typedef struct sim_fw {
    char id[16];
    char role[32];
    int64_t weight_millis;
    int64_t alloc[2]; /* cpus, mem in thousandths */
} sim_fw;

/* The allocator's fixed-point weighted dominant share, recomputed here. */
static uint64_t test_share(const int64_t *alloc, const int64_t *total, int64_t weight_millis)
{
    uint64_t best = 0;
    for (int i = 0; i < 2; i++) {
        uint64_t s = (uint64_t)(((unsigned __int128)(uint64_t)alloc[i] << 40) / (uint64_t)total[i]);
        best = s > best ? s : best;
    }
    return (uint64_t)((unsigned __int128)best * 1000 / (uint64_t)weight_millis);
}

/* Fairness property on a random workload from seed: heterogeneous agents,
 * frameworks with saturated demand (they keep every offer: each offer is one
 * task), either all in one role or one per role with random weights (some
 * below a parent role that carries the weight). Every grant must go to a
 * framework with the least weighted dominant share at that moment, and at
 * quiescence those shares differ by at most the largest task's share. */
static void fairness_run(uint64_t seed)
{
    dr_rng rng;
    dr_rng_init(&rng, seed);
    dr_allocator *a = make(S, false);
    dr_err err = {0};
    int agent_count = 10 + (int)dr_rng_below(&rng, 90);
    int64_t total[2] = {0, 0};
    for (int i = 0; i < agent_count; i++) {
        char id[16], res[64];
        int cpus = 1 + (int)dr_rng_below(&rng, 64);
        int mem = 256 * (1 + (int)dr_rng_below(&rng, 256));
        snprintf(id, sizeof id, "a%llx", (unsigned long long)dr_rng_next(&rng));
        snprintf(res, sizeof res, "cpus:%d;mem:%d", cpus, mem);
        add_agent(a, id, res);
        total[0] += cpus * 1000;
        total[1] += (int64_t)mem * 1000;
    }
    sim_fw fws[8];
    size_t fw_count = 2 + dr_rng_below(&rng, 7);
    bool one_role = dr_rng_chance(&rng, 0.5);
    for (size_t f = 0; f < fw_count; f++) {
        sim_fw *s = &fws[f];
        memset(s, 0, sizeof *s);
        snprintf(s->id, sizeof s->id, "fw%u", (unsigned)f);
        s->weight_millis = 1000;
        if (one_role) {
            snprintf(s->role, sizeof s->role, "*");
        } else {
            s->weight_millis = 500 * (1 + (int64_t)dr_rng_below(&rng, 6));
            char top[16];
            snprintf(top, sizeof top, "r%u", (unsigned)f);
            if (f % 2 == 1)
                snprintf(s->role, sizeof s->role, "%s/leaf", top);
            else
                snprintf(s->role, sizeof s->role, "%s", top);
            assert_int_equal(
                dr_allocator_set_weight(a, top, (double)s->weight_millis / 1000.0, &err), DR_OK);
        }
        add_fw(a, s->id, s->role);
    }
    uint64_t max_task = 0;
    for (int cycle = 0; cycle < 3; cycle++) {
        dr_alloc_grants g;
        dr_allocator_allocate(a, (uint64_t)cycle * S, &g);
        if (cycle == 0)
            assert_int_equal(g.count, (size_t)agent_count);
        else
            assert_int_equal(g.count, 0);
        for (size_t i = 0; i < g.count; i++) {
            sim_fw *s = NULL;
            for (size_t f = 0; f < fw_count; f++)
                if (strcmp(fws[f].id, g.items[i].framework_id) == 0)
                    s = &fws[f];
            assert_non_null(s);
            assert_string_equal(g.items[i].role, s->role);
            uint64_t mine = test_share(s->alloc, total, s->weight_millis);
            for (size_t f = 0; f < fw_count; f++) {
                uint64_t other = test_share(fws[f].alloc, total, fws[f].weight_millis);
                if (other < mine)
                    print_error("seed %llu grant %zu to %s (share %llu) while %s has %llu\n",
                                (unsigned long long)seed, i, s->id, (unsigned long long)mine,
                                fws[f].id, (unsigned long long)other);
                assert_true(other >= mine);
            }
            dr_resources offer;
            dr_resources_init(&offer);
            assert_int_equal(dr_resources_from_array(
                                 &offer, (const Mesos__Resource *const *)g.items[i].resources,
                                 g.items[i].resource_count, &err),
                             DR_OK);
            int64_t task[2] = {dr_resources_scalar_millis(&offer, "cpus"),
                               dr_resources_scalar_millis(&offer, "mem")};
            uint64_t task_share = test_share(task, total, s->weight_millis);
            max_task = task_share > max_task ? task_share : max_task;
            s->alloc[0] += task[0];
            s->alloc[1] += task[1];
            dr_resources_deinit(&offer);
        }
        dr_allocator_grants_free(&g);
    }
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t f = 0; f < fw_count; f++) {
        uint64_t s = test_share(fws[f].alloc, total, fws[f].weight_millis);
        lo = s < lo ? s : lo;
        hi = s > hi ? s : hi;
    }
    if (hi - lo > max_task)
        print_error("seed %llu: shares differ by %llu > largest task %llu\n",
                    (unsigned long long)seed, (unsigned long long)(hi - lo),
                    (unsigned long long)max_task);
    assert_true(hi - lo <= max_task);
    dr_allocator_destroy(a);
}

static void test_fairness_property(void **state)
{
    DR_UNUSED(state);
    for (uint64_t seed = 1; seed <= 200; seed++)
        fairness_run(seed);
}

/* ---- random operations against a model ------------------------------------------------ */

typedef struct held {
    char fw[16], agent[16], role[16];
    dr_resources res; /* without allocation info */
} held;

typedef struct model {
    dr_allocator *a;
    held *held;
    size_t held_count, held_cap;
    char agents[16][16];
    dr_resources totals[16];
    bool agent_live[16];
    bool fw_live[6];
} model;

static const char *const model_roles[] = {"*", "a", "a/b", "c"};

static void model_recover(model *m, size_t i, bool partial, uint64_t refuse_ns, uint64_t now_ns)
{
    held *h = &m->held[i];
    dr_resources part;
    dr_resources_init(&part);
    if (partial && h->res.count > 1)
        dr_resources_add_one(&part, h->res.items[0]);
    else
        dr_resources_copy(&part, &h->res);
    dr_allocator_recover(m->a, h->fw, h->agent, h->role,
                         (const Mesos__Resource *const *)part.items, part.count, refuse_ns,
                         now_ns);
    dr_resources_subtract(&h->res, &part);
    dr_resources_deinit(&part);
    if (h->res.count == 0) {
        dr_resources_deinit(&h->res);
        m->held[i] = m->held[--m->held_count];
    }
}

/* Everything held on agent index k, as the model sees it. */
static void model_used(const model *m, size_t k, dr_resources *out)
{
    for (size_t i = 0; i < m->held_count; i++)
        if (strcmp(m->held[i].agent, m->agents[k]) == 0)
            dr_resources_add(out, &m->held[i].res);
}

static void random_ops_run(uint64_t seed)
{
    dr_rng rng;
    dr_rng_init(&rng, seed);
    model m;
    memset(&m, 0, sizeof m);
    m.a = make(S, dr_rng_chance(&rng, 0.5));
    dr_err err = {0};
    uint64_t now_ns = 0;
    for (int step = 0; step < 400; step++) {
        now_ns += dr_rng_below(&rng, 2 * S);
        uint64_t op = dr_rng_below(&rng, 100);
        size_t k = dr_rng_below(&rng, 16), f = dr_rng_below(&rng, 6);
        char fw[16];
        snprintf(fw, sizeof fw, "f%u", (unsigned)f);
        if (op < 15 && !m.agent_live[k]) {
            static const char *const shapes[] = {
                "cpus:4;mem:1024;ports:[1000-1999]",
                "cpus:2;mem:512;cpus(a):2;mem(a):256",
                "cpus:8;mem:4096;gpus:1;disk(a/b):100",
                "cpus:1;mem:64;zone:{x,y};cpus(c):1;mem(c):64",
            };
            snprintf(m.agents[k], sizeof m.agents[k], "ag%u-%d", (unsigned)k, step);
            dr_resources_init(&m.totals[k]);
            assert_int_equal(dr_resources_parse(shapes[dr_rng_below(&rng, 4)], &m.totals[k], &err),
                             DR_OK);
            assert_int_equal(dr_allocator_add_agent(
                                 m.a, m.agents[k], (const Mesos__Resource *const *)m.totals[k].items,
                                 m.totals[k].count, NULL, 0, &err),
                             DR_OK);
            m.agent_live[k] = true;
        } else if (op < 20 && m.agent_live[k]) {
            dr_allocator_remove_agent(m.a, m.agents[k]);
            m.agent_live[k] = false;
            dr_resources_deinit(&m.totals[k]);
            for (size_t i = m.held_count; i-- > 0;)
                if (strcmp(m.held[i].agent, m.agents[k]) == 0) {
                    /* The allocator ignores recovery on a removed agent. */
                    dr_allocator_recover(m.a, m.held[i].fw, m.held[i].agent, m.held[i].role,
                                         (const Mesos__Resource *const *)m.held[i].res.items,
                                         m.held[i].res.count, 0, now_ns);
                    dr_resources_deinit(&m.held[i].res);
                    m.held[i] = m.held[--m.held_count];
                }
        } else if (op < 30 && !m.fw_live[f]) {
            const char *roles[2];
            size_t n = 1 + dr_rng_below(&rng, 2);
            roles[0] = model_roles[dr_rng_below(&rng, 4)];
            roles[1] = roles[0] == model_roles[3] ? model_roles[1] : model_roles[3];
            uint32_t caps = (uint32_t)dr_rng_below(&rng, 32);
            assert_int_equal(dr_allocator_add_framework(m.a, fw, roles, n, caps, NULL, 0, &err),
                             DR_OK);
            m.fw_live[f] = true;
        } else if (op < 34 && m.fw_live[f]) {
            dr_allocator_remove_framework(m.a, fw); /* its holdings are recovered later */
            m.fw_live[f] = false;
        } else if (op < 40 && m.fw_live[f]) {
            const char *roles[] = {model_roles[dr_rng_below(&rng, 4)]};
            assert_int_equal(dr_allocator_update_framework(m.a, fw, roles, 1,
                                                           DR_ALLOC_CAP_GPU_RESOURCES, NULL, 0,
                                                           &err),
                             DR_OK);
        } else if (op < 45) {
            dr_allocator_suppress(m.a, fw, NULL, 0);
        } else if (op < 52) {
            dr_allocator_revive(m.a, fw, NULL, 0);
        } else if (op < 56) {
            dr_allocator_activate_framework(m.a, fw, dr_rng_chance(&rng, 0.7));
        } else if (op < 60 && m.agent_live[k]) {
            dr_allocator_activate_agent(m.a, m.agents[k], dr_rng_chance(&rng, 0.7));
        } else if (op < 62) {
            assert_int_equal(dr_allocator_set_weight(m.a, model_roles[dr_rng_below(&rng, 4)],
                                                     0.5 + (double)dr_rng_below(&rng, 4), &err),
                             DR_OK);
        } else if (op < 80 && m.held_count > 0) {
            size_t i = dr_rng_below(&rng, m.held_count);
            uint64_t refuse_ns = dr_rng_chance(&rng, 0.5) ? dr_rng_below(&rng, 10 * S) : 0;
            model_recover(&m, i, dr_rng_chance(&rng, 0.3), refuse_ns, now_ns);
        } else {
            dr_alloc_grants g;
            dr_allocator_allocate(m.a, now_ns, &g);
            for (size_t i = 0; i < g.count; i++) {
                const dr_alloc_grant *gr = &g.items[i];
                size_t ak = 16;
                for (size_t j = 0; j < 16; j++)
                    if (m.agent_live[j] && strcmp(m.agents[j], gr->agent_id) == 0)
                        ak = j;
                assert_true(ak < 16);
                held h;
                memset(&h, 0, sizeof h);
                snprintf(h.fw, sizeof h.fw, "%s", gr->framework_id);
                snprintf(h.agent, sizeof h.agent, "%s", gr->agent_id);
                snprintf(h.role, sizeof h.role, "%s", gr->role);
                dr_resources_init(&h.res);
                assert_int_equal(dr_resources_from_array(
                                     &h.res, (const Mesos__Resource *const *)gr->resources,
                                     gr->resource_count, &err),
                                 DR_OK);
                dr_resources_set_allocation_role(&h.res, NULL);
                assert_true(h.res.count > 0);
                /* Never more than the agent has free: nothing offered twice. */
                dr_resources free_res, used;
                dr_resources_init(&free_res);
                dr_resources_init(&used);
                dr_resources_copy(&free_res, &m.totals[ak]);
                model_used(&m, ak, &used);
                dr_resources_subtract(&free_res, &used);
                assert_true(dr_resources_contains(&free_res, &h.res));
                /* Reserved resources only to their role or its subroles. */
                for (size_t r = 0; r < h.res.count; r++)
                    assert_true(!dr_resource_is_reserved(h.res.items[r]) ||
                                dr_role_is_ancestor_or_self(dr_resource_role(h.res.items[r]),
                                                            h.role));
                dr_resources_deinit(&free_res);
                dr_resources_deinit(&used);
                if (m.held_count == m.held_cap) {
                    m.held_cap = m.held_cap == 0 ? 16 : m.held_cap * 2;
                    m.held = dr_realloc(m.held, m.held_cap * sizeof *m.held);
                }
                m.held[m.held_count++] = h;
            }
            dr_allocator_grants_free(&g);
        }
    }
    /* Everything back: then a fresh framework may get every active agent. */
    while (m.held_count > 0)
        model_recover(&m, m.held_count - 1, false, 0, now_ns);
    dr_allocator_destroy(m.a);
    for (size_t k = 0; k < 16; k++)
        if (m.agent_live[k])
            dr_resources_deinit(&m.totals[k]);
    dr_free(m.held);
}

static void test_random_ops(void **state)
{
    DR_UNUSED(state);
    for (uint64_t seed = 1; seed <= 150; seed++)
        random_ops_run(seed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_shares),
        cmocka_unit_test(test_role_weights),
        cmocka_unit_test(test_hierarchical_roles),
        cmocka_unit_test(test_roles_view),
        cmocka_unit_test(test_reservations),
        cmocka_unit_test(test_filters_expire),
        cmocka_unit_test(test_suppress_revive),
        cmocka_unit_test(test_inactive),
        cmocka_unit_test(test_min_allocatable),
        cmocka_unit_test(test_gpus),
        cmocka_unit_test(test_ports_and_capabilities),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_fair_sharing_excluded),
        cmocka_unit_test(test_used_and_update),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_fairness_property),
        cmocka_unit_test(test_random_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
