/* rbac.c: the switchover part's least-privilege Roles as YAML (see rbac.h). */
#include "rbac.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s.h"
#include "xalloc.h"

#define MAX_RULES 64 /* (namespace, group, resource, verb) declarations, far above today's */

struct rule {
    int ns; /* index into the distinct namespaces */
    char group[64], resource[64], verb[32];
};

struct roles {
    const char *ns[3]; /* distinct namespace names, in the order tools, solution, tekton */
    int nns;
    struct rule rules[MAX_RULES];
    size_t n;
};

static int ns_index(struct roles *r, const char *name)
{
    for (int i = 0; i < r->nns; i++)
        if (strcmp(r->ns[i], name) == 0) return i;
    r->ns[r->nns] = name;
    return r->nns++;
}

/* Adds "group resource verb" ("" for the core group) in namespace ns, once. */
static int add(struct roles *r, int ns, const char *decl, char *err, size_t errlen)
{
    struct rule ru = {.ns = ns};
    char g[64];
    if (sscanf(decl, "%63s %63s %31s", g, ru.resource, ru.verb) != 3) {
        snprintf(err, errlen, "rbac declaration \"%s\" is not \"group resource verb\"", decl);
        return -1;
    }
    snprintf(ru.group, sizeof(ru.group), "%s", strcmp(g, "\"\"") == 0 ? "" : g);
    for (size_t i = 0; i < r->n; i++)
        if (r->rules[i].ns == ns && !strcmp(r->rules[i].group, ru.group) &&
            !strcmp(r->rules[i].resource, ru.resource) && !strcmp(r->rules[i].verb, ru.verb))
            return 0;
    if (r->n == MAX_RULES) {
        snprintf(err, errlen, "more than %d rbac declarations", MAX_RULES);
        return -1;
    }
    r->rules[r->n++] = ru;
    return 0;
}

static int cmp_rule(const void *a, const void *b)
{
    const struct rule *x = a, *y = b;
    int c;
    if (x->ns != y->ns) return x->ns - y->ns;
    if ((c = strcmp(x->group, y->group))) return c;
    if ((c = strcmp(x->resource, y->resource))) return c;
    return strcmp(x->verb, y->verb);
}

static int collect(const struct sw_rbac_names *n, const struct sw_rbac_source *src, struct roles *r,
                   char *err, size_t errlen)
{
    const char *kinds[3] = {"tools", "solution", "tekton"};
    const char *names[3] = {n->tools, n->solution, n->tekton ? n->tekton : n->tools};
    int idx[3];
    for (int k = 0; k < 3; k++) {
        if (!names[k] || !k8s_name_valid(names[k], false)) {
            snprintf(err, errlen, "namespace %s: \"%s\" is no Kubernetes namespace name", kinds[k],
                     names[k] ? names[k] : "");
            return -1;
        }
        idx[k] = ns_index(r, names[k]);
    }
    for (const char *const *l = src->tools_extra; l && *l; l++)
        if (add(r, idx[0], *l, err, errlen) < 0) return -1;
    for (size_t i = 0; i < src->nactuators; i++) {
        const struct actuator_ops *a = src->actuators[i];
        if (!a->rbac) continue;
        int k = 0;
        while (k < 3 && !(a->rbac_namespace && strcmp(a->rbac_namespace, kinds[k]) == 0)) k++;
        if (k == 3) {
            snprintf(err, errlen,
                     "actuator %s: rbac_namespace \"%s\" is not tools, solution or "
                     "tekton",
                     a->action, a->rbac_namespace ? a->rbac_namespace : "(none)");
            return -1;
        }
        for (const char *const *l = a->rbac; *l; l++)
            if (add(r, idx[k], *l, err, errlen) < 0) return -1;
    }
    qsort(r->rules, r->n, sizeof(r->rules[0]), cmp_rule);
    return 0;
}

/* One Role's rules: a rule per (group, resource) with its verbs. */
static void print_rules(const struct roles *r, int ns, struct buf *out)
{
    const struct rule *prev = NULL;
    for (size_t i = 0; i < r->n; i++) {
        const struct rule *ru = &r->rules[i];
        if (ru->ns != ns) continue;
        bool same =
            prev && !strcmp(prev->group, ru->group) && !strcmp(prev->resource, ru->resource);
        if (!same) {
            if (prev) (void)buf_puts(out, "]\n");
            (void)buf_printf(out, "- apiGroups: [\"%s\"]\n  resources: [\"%s\"]\n  verbs: [\"%s\"",
                             ru->group, ru->resource, ru->verb);
        } else {
            (void)buf_printf(out, ", \"%s\"", ru->verb);
        }
        prev = ru;
    }
    if (prev) (void)buf_puts(out, "]\n");
}

int sw_rbac_yaml(const struct sw_rbac_names *n, const struct sw_rbac_source *src, struct buf *out,
                 char *err, size_t errlen)
{
    struct roles *r = xcalloc(1, sizeof(*r));
    int rc = -1;
    if (!k8s_name_valid(n->name, true) || !k8s_name_valid(n->service_account, true)) {
        snprintf(err, errlen, "\"%s\" or \"%s\" is no Kubernetes name", n->name,
                 n->service_account);
        goto out;
    }
    if (collect(n, src, r, err, errlen) < 0) goto out;
    (void)buf_puts(out, "# The Roles drwatch's switchover part needs (`drwatch rbac`): what each "
                        "actuator declares.\n");
    for (int i = 0; i < r->nns; i++) {
        (void)buf_printf(out,
                         "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n"
                         "  name: %s\n  namespace: %s\nrules:\n",
                         n->name, r->ns[i]);
        print_rules(r, i, out);
        (void)buf_printf(out,
                         "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n"
                         "metadata:\n  name: %s\n  namespace: %s\nroleRef:\n"
                         "  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: %s\n"
                         "subjects:\n- kind: ServiceAccount\n  name: %s\n  namespace: %s\n",
                         n->name, r->ns[i], n->name, n->service_account, r->ns[0]);
    }
    rc = buf_error(out) ? -1 : 0;
    if (rc < 0) snprintf(err, errlen, "the Roles do not fit the output buffer");
out:
    free(r);
    return rc;
}
