/* test_rbac.c: the switchover part's Roles (switchover/rbac.h): one Role and RoleBinding per
 * distinct namespace, rules grouped by group and resource with sorted verbs, each declaration
 * once; the shipped actuators all declare a namespace and well-formed lines; bad names,
 * declarations and namespaces are refused with the reason. */
#include <string.h>

#include "actuators.h"
#include "buf.h"
#include "rbac.h"
#include "switchover.h"
#include "tap.h"

static const char *const a_rbac[] = {"apps deployments patch", "apps deployments get",
                                     "\"\" secrets get", NULL};
static const char *const b_rbac[] = {"\"\" secrets get", "apps deployments get", NULL};
static const char *const bad_rbac[] = {"apps deployments", NULL};
static const struct actuator_ops a_ops = {
    .action = "a", .rbac = a_rbac, .rbac_namespace = "solution"};
static const struct actuator_ops b_ops = {
    .action = "b", .rbac = b_rbac, .rbac_namespace = "tekton"};
static const struct actuator_ops none_ops = {.action = "none"};
static const struct actuator_ops bad_ops = {
    .action = "bad", .rbac = bad_rbac, .rbac_namespace = "tools"};
static const struct actuator_ops nons_ops = {.action = "nons", .rbac = b_rbac};
static const char *const extra[] = {"\"\" configmaps watch", "\"\" configmaps get", NULL};

static int render(const struct sw_rbac_names *n, const struct actuator_ops *const *ops, size_t nops,
                  struct buf *out, char *err, size_t errlen)
{
    struct sw_rbac_source src = {.actuators = ops, .nactuators = nops, .tools_extra = extra};
    buf_reset(out);
    return sw_rbac_yaml(n, &src, out, err, errlen);
}

static void test_shape(void)
{
    struct buf out;
    buf_init(&out, 1 << 20);
    char err[256] = "";
    const struct actuator_ops *ops[] = {&a_ops, &b_ops, &none_ops};
    struct sw_rbac_names n = {.tools = "t", .solution = "s", .name = "dw", .service_account = "sa"};
    ok(render(&n, ops, 3, &out, err, sizeof(err)) == 0, "renders (%s)", err);
    const char *want =
        "# The Roles drwatch's switchover part needs (`drwatch rbac`): what each actuator "
        "declares.\n"
        "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: dw\n"
        "  namespace: t\nrules:\n"
        "- apiGroups: [\"\"]\n  resources: [\"configmaps\"]\n  verbs: [\"get\", \"watch\"]\n"
        "- apiGroups: [\"\"]\n  resources: [\"secrets\"]\n  verbs: [\"get\"]\n"
        "- apiGroups: [\"apps\"]\n  resources: [\"deployments\"]\n  verbs: [\"get\"]\n"
        "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n"
        "  name: dw\n  namespace: t\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n"
        "  kind: Role\n  name: dw\nsubjects:\n- kind: ServiceAccount\n  name: sa\n"
        "  namespace: t\n"
        "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: dw\n"
        "  namespace: s\nrules:\n"
        "- apiGroups: [\"\"]\n  resources: [\"secrets\"]\n  verbs: [\"get\"]\n"
        "- apiGroups: [\"apps\"]\n  resources: [\"deployments\"]\n  verbs: [\"get\", \"patch\"]\n"
        "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n"
        "  name: dw\n  namespace: s\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n"
        "  kind: Role\n  name: dw\nsubjects:\n- kind: ServiceAccount\n  name: sa\n"
        "  namespace: t\n";
    ok(out.data && strcmp(out.data, want) == 0,
       "tekton defaults to tools and shares its Role; verbs sorted, each once; the binding's "
       "account lives in tools");
    if (out.data && strcmp(out.data, want) != 0) diag("got:\n%s", out.data);

    n.tekton = "k";
    ok(render(&n, ops, 3, &out, err, sizeof(err)) == 0 &&
           strstr(out.data, "namespace: k\nrules:\n"),
       "a tekton namespace of its own gets its Role");
    buf_free(&out);
}

static void test_refusals(void)
{
    struct buf out;
    buf_init(&out, 1 << 20);
    char err[256] = "";
    const struct actuator_ops *bad[] = {&bad_ops};
    const struct actuator_ops *nons[] = {&nons_ops};
    struct sw_rbac_names n = {.tools = "t", .solution = "s", .name = "dw", .service_account = "sa"};
    ok(render(&n, bad, 1, &out, err, sizeof(err)) == -1 && strstr(err, "\"apps deployments\""),
       "a declaration that is not group resource verb (%s)", err);
    ok(render(&n, nons, 1, &out, err, sizeof(err)) == -1 && strstr(err, "actuator nons"),
       "an actuator without a namespace (%s)", err);
    n.solution = "Not_A_Namespace";
    ok(render(&n, NULL, 0, &out, err, sizeof(err)) == -1 && strstr(err, "namespace solution"),
       "a namespace that is no Kubernetes name (%s)", err);
    n.solution = NULL;
    ok(render(&n, NULL, 0, &out, err, sizeof(err)) == -1, "a namespace missing");
    n.solution = "s";
    n.name = "";
    ok(render(&n, NULL, 0, &out, err, sizeof(err)) == -1, "an empty name (%s)", err);
    buf_free(&out);
}

static void test_shipped(void)
{
    struct buf out;
    buf_init(&out, 1 << 20);
    char err[256] = "";
    struct sw_rbac_source src = {.actuators = actuator_table,
                                 .nactuators = actuator_table_len,
                                 .tools_extra = switchover_rbac()};
    struct sw_rbac_names n = {
        .tools = "abc-tools", .solution = "abc-prod", .name = "drwatch", .service_account = "dw"};
    ok(sw_rbac_yaml(&n, &src, &out, err, sizeof(err)) == 0,
       "every shipped actuator declares a namespace and well-formed lines (%s)", err);
    ok(out.data && strstr(out.data, "resources: [\"deployments/scale\"]") &&
           strstr(out.data, "resources: [\"pipelineruns\"]") &&
           strstr(out.data, "verbs: [\"get\", \"list\", \"patch\", \"watch\"]"),
       "the health API's scale, the PipelineRuns and the state ConfigMap's watch are there");
    buf_free(&out);
}

int main(void)
{
    test_shape();
    test_refusals();
    test_shipped();
    return done_testing();
}
