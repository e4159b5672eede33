/* rbac.h: the least-privilege Roles the switchover part needs on this site's Kubernetes API,
 * made from what each actuator declares (actuator_ops.rbac, in the namespace its rbac_namespace
 * names) and what the state ConfigMap's unit does (switchover_rbac, in the tools namespace).
 * One Role and one RoleBinding per distinct namespace, rules sorted, so the output is stable
 * and diffable against deploy/. */
#ifndef DRWATCH_RBAC_H
#define DRWATCH_RBAC_H

#include <stddef.h>

#include "buf.h"
#include "executor.h"

struct sw_rbac_names {
    const char *tools, *solution, *tekton; /* the config's namespaces (tekton NULL: tools) */
    const char *name;                      /* the Roles' and RoleBindings' name */
    const char *service_account;           /* bound, in the tools namespace */
};

/* What one namespace kind ("tools", "solution", "tekton") is given: extra (NULL-terminated,
 * may be NULL) in tools, and every actuator's rbac whose rbac_namespace is that kind. */
struct sw_rbac_source {
    const struct actuator_ops *const *actuators;
    size_t nactuators;
    const char *const *tools_extra;
};

/* Renders the Roles and RoleBindings as YAML into out. Returns 0, or -1 with err filled (a
 * namespace or name that is no Kubernetes name, a declaration that is not "group resource
 * verb", an actuator's rbac_namespace that is none of the three). */
int sw_rbac_yaml(const struct sw_rbac_names *n, const struct sw_rbac_source *src, struct buf *out,
                 char *err, size_t errlen);

#endif
