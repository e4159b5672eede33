/* manager_config.c: the `alerting` config section and its plans.
 *
 * The section mirrors Alertmanager's YAML in Lua: a routing tree (route = { receiver,
 * group_by, group_wait, group_interval, repeat_interval, matchers, continue, routes = {...} }),
 * receivers (each names one notifier type, whose keys come from that notifier's ops->keys) and
 * inhibition rules. The schema of a receiver is made once at run time from notifier_table:
 * one CFG_OPTIONAL key per type. A route's durations and group_by record whether the file gave
 * them (CFG_PRESENT_AT), so that a child route inherits what it does not set, as in
 * Alertmanager. manager_prepare then checks what the schema cannot (receiver names, matchers,
 * group_by, one type per receiver...) and reports it with file:line through config_locate,
 * like every other config error; it also makes each receiver's notifier. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caps.h"
#include "fileio.h"
#include "manager_int.h"
#include "strutil.h"
#include "xalloc.h"

#define MAX_ROUTE_DEPTH 16
#define PATH_PARTS      40

/* ---- the schema ---- */

#define ROUTE_NKEYS 9
static const struct cfg_key route_keys[ROUTE_NKEYS];
static const struct cfg_key route_keys[ROUTE_NKEYS] = {
    {.name = "receiver",
     .type = CFG_STRING,
     .offset = offsetof(struct am_route_cfg, receiver),
     .expect = "a receiver's name; required at the root, inherited below"},
    {.name = "group_by",
     .type = CFG_STRINGS,
     .offset = offsetof(struct am_route_cfg, group_by),
     .present_at = CFG_PRESENT_AT(struct am_route_cfg, group_by_set),
     .expect = "label names, or { \"...\" } for every label"},
    {.name = "group_wait",
     .type = CFG_DURATION,
     .offset = offsetof(struct am_route_cfg, group_wait_ms),
     .present_at = CFG_PRESENT_AT(struct am_route_cfg, group_wait_set),
     .expect = "how long a new group waits before its first notification, 0s to 24h (30s)",
     .min = 0,
     .max = 86400000},
    {.name = "group_interval",
     .type = CFG_DURATION,
     .offset = offsetof(struct am_route_cfg, group_interval_ms),
     .present_at = CFG_PRESENT_AT(struct am_route_cfg, group_interval_set),
     .expect = "how often a group is looked at again, 10ms to 24h (5m)",
     .min = 10,
     .max = 86400000},
    {.name = "repeat_interval",
     .type = CFG_DURATION,
     .offset = offsetof(struct am_route_cfg, repeat_interval_ms),
     .present_at = CFG_PRESENT_AT(struct am_route_cfg, repeat_interval_set),
     .expect = "when an unchanged group is sent again, 10ms to 1y (4h)",
     .min = 10,
     .max = 31536000000.0},
    {.name = "matchers",
     .type = CFG_LABELS,
     .offset = offsetof(struct am_route_cfg, matchers),
     .expect = "label = \"value\" | \"!=value\" | \"=~regex\" | \"!~regex\""},
    {.name = "continue",
     .type = CFG_BOOL,
     .offset = offsetof(struct am_route_cfg, cont),
     .def = "false"},
    {.name = "routes",
     .type = CFG_LIST,
     .offset = offsetof(struct am_route_cfg, routes),
     .sub = route_keys,
     .sub_size = sizeof(struct am_route_cfg),
     .expect = "child routes, tried in order"},
    CFG_END,
};

static const struct cfg_key inhibit_keys[] = {
    {.name = "source_matchers",
     .type = CFG_LABELS,
     .offset = offsetof(struct am_inhibit_cfg, source_matchers),
     .required = true,
     .expect = "the alerts that inhibit: label = \"value\" | \"!=v\" | \"=~re\" | \"!~re\""},
    {.name = "target_matchers",
     .type = CFG_LABELS,
     .offset = offsetof(struct am_inhibit_cfg, target_matchers),
     .required = true,
     .expect = "the alerts that are inhibited: label = \"value\" | \"!=v\" | ..."},
    {.name = "equal",
     .type = CFG_STRINGS,
     .offset = offsetof(struct am_inhibit_cfg, equal),
     .expect = "labels that must have the same value in source and target"},
    CFG_END,
};

/* name, send_resolved, max_alerts, timeout, one key per notifier type, the end. */
static struct cfg_key receiver_keys[4 + AM_MAX_TYPES + 1];

static const struct cfg_key alerting_keys[] = {
    {.name = "external_url",
     .type = CFG_STRING,
     .offset = offsetof(struct alerting_config, external_url),
     .expect = "drwatch's URL as people reach it, for links (default http://<host>:<port>)"},
    {.name = "grafana_url",
     .type = CFG_STRING,
     .offset = offsetof(struct alerting_config, grafana_url),
     .expect = "a Grafana dashboard URL for links in notifications"},
    {.name = "api_token_file",
     .type = CFG_STRING,
     .offset = offsetof(struct alerting_config, api_token_file),
     .expect = "a file holding the bearer token that POST/DELETE /api/v1/silences need"},
    {.name = "data_dir",
     .type = CFG_STRING,
     .offset = offsetof(struct alerting_config, data_dir),
     .required = true,
     .expect = "a directory for the outbox, alert state and silences"},
    {.name = "templates_dir",
     .type = CFG_STRING,
     .offset = offsetof(struct alerting_config, templates_dir),
     .expect = "notification templates (default alerts/templates)"},
    {.name = "resolve_timeout",
     .type = CFG_DURATION,
     .offset = offsetof(struct alerting_config, resolve_timeout_ms),
     .def = "5m",
     .expect = "an alert no longer reported for this long is resolved, 100ms to 24h",
     .min = 100,
     .max = 86400000},
    {.name = "outbox_max_entries",
     .type = CFG_INT,
     .offset = offsetof(struct alerting_config, outbox_max_entries),
     .def = "10000",
     .expect = "notifications kept for delivery before the oldest is dropped, 1 to 1000000",
     .min = 1,
     .max = 1000000},
    {.name = "outbox_max_bytes",
     .type = CFG_INT,
     .offset = offsetof(struct alerting_config, outbox_max_bytes),
     .def = "67108864",
     .expect = "payload bytes kept for delivery, 1 MiB to 1 GiB",
     .min = 1048576,
     .max = 1073741824},
    {.name = "retry_min",
     .type = CFG_DURATION,
     .offset = offsetof(struct alerting_config, retry_min_ms),
     .def = "1s",
     .expect = "the first retry delay (doubling, with jitter), 10ms to 1h",
     .min = 10,
     .max = 3600000},
    {.name = "retry_max",
     .type = CFG_DURATION,
     .offset = offsetof(struct alerting_config, retry_max_ms),
     .def = "5m",
     .expect = "the longest retry delay, 10ms to 1h",
     .min = 10,
     .max = 3600000},
    {.name = "route",
     .type = CFG_TABLE,
     .offset = offsetof(struct alerting_config, route),
     .sub = route_keys,
     .expect = "the routing tree"},
    {.name = "receivers",
     .type = CFG_LIST,
     .offset = offsetof(struct alerting_config, receivers),
     .sub = receiver_keys,
     .sub_size = sizeof(struct am_receiver_cfg),
     .expect = "{ name = ..., <type> = { ... } } for each receiver"},
    {.name = "inhibit_rules",
     .type = CFG_LIST,
     .offset = offsetof(struct alerting_config, inhibit_rules),
     .sub = inhibit_keys,
     .sub_size = sizeof(struct am_inhibit_cfg),
     .expect = "{ source_matchers = ..., target_matchers = ..., equal = {...} }"},
    CFG_END,
};

static const struct cfg_module alerting_module = {ALERTING_SECTION, alerting_keys,
                                                  sizeof(struct alerting_config), false};

static pthread_once_t schema_once = PTHREAD_ONCE_INIT;

static void make_receiver_schema(void)
{
    size_t n = 0;
    receiver_keys[n++] = (struct cfg_key){.name = "name",
                                          .type = CFG_STRING,
                                          .offset = offsetof(struct am_receiver_cfg, name),
                                          .required = true,
                                          .expect = "the name routes use"};
    receiver_keys[n++] = (struct cfg_key){.name = "send_resolved",
                                          .type = CFG_BOOL,
                                          .offset = offsetof(struct am_receiver_cfg, send_resolved),
                                          .def = "true",
                                          .expect = "whether resolved alerts are notified"};
    receiver_keys[n++] =
        (struct cfg_key){.name = "max_alerts",
                         .type = CFG_INT,
                         .offset = offsetof(struct am_receiver_cfg, max_alerts),
                         .def = "0",
                         .expect = "alerts per notification, the rest counted as truncated; 0: all",
                         .min = 0,
                         .max = 100000};
    receiver_keys[n++] = (struct cfg_key){.name = "timeout",
                                          .type = CFG_DURATION,
                                          .offset = offsetof(struct am_receiver_cfg, timeout_ms),
                                          .def = "10s",
                                          .expect = "for one send, 100ms to 5m",
                                          .min = 100,
                                          .max = 300000};
    for (size_t i = 0; i < notifier_table_len && i < AM_MAX_TYPES; i++) {
        const struct notifier_ops *ops = notifier_table[i];
        receiver_keys[n++] =
            (struct cfg_key){.name = ops->type,
                             .type = CFG_OPTIONAL,
                             .offset = offsetof(struct am_receiver_cfg, types) + i * sizeof(void *),
                             .sub = ops->keys,
                             .sub_size = ops->config_size,
                             .expect = "this receiver's settings for that notifier type"};
    }
    receiver_keys[n] = (struct cfg_key){.name = NULL};
    if (notifier_table_len > AM_MAX_TYPES)
        log_error("alerting",
                  "notifier_table has %zu types; only the first %d can be configured "
                  "(raise AM_MAX_TYPES)",
                  notifier_table_len, AM_MAX_TYPES);
}

const struct cfg_module *manager_config_module(void)
{
    pthread_once(&schema_once, make_receiver_schema);
    return &alerting_module;
}

/* ---- errors with file:line ---- */

struct pctx {
    const char *file;
    char *src;
    size_t len;
    const char *path[PATH_PARTS];
    char items[PATH_PARTS][24];
    size_t depth;
    char *err;
    size_t errlen;
};

static void push(struct pctx *c, const char *part)
{
    if (c->depth < PATH_PARTS) c->path[c->depth] = part;
    c->depth++;
}

static void push_item(struct pctx *c, size_t i)
{
    if (c->depth < PATH_PARTS) {
        snprintf(c->items[c->depth], sizeof(c->items[0]), "[%zu]", i + 1);
        c->path[c->depth] = c->items[c->depth];
    }
    c->depth++;
}

static void pop(struct pctx *c, size_t n)
{
    c->depth -= n;
}

static int fail(struct pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct pctx *c, const char *fmt, ...)
{
    size_t depth = c->depth < PATH_PARTS ? c->depth : PATH_PARTS;
    va_list ap;
    va_start(ap, fmt);
    config_verror(c->err, c->errlen, c->file, c->src, c->len, c->path, depth, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- plans ---- */

static void route_free(struct am_route *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->nkids; i++) route_free(r->kids[i]);
    free(r->kids);
    am_matchers_free(&r->matchers);
    for (size_t i = 0; i < r->ngroup_by; i++) free(r->group_by[i]);
    free(r->group_by);
    free(r->key);
    free(r);
}

void manager_plan_free(struct am_plan *p)
{
    if (!p) return;
    route_free(p->root);
    for (size_t i = 0; i < p->nreceivers; i++) {
        if (p->receivers[i].ops && p->receivers[i].state)
            p->receivers[i].ops->free(p->receivers[i].state);
        free(p->receivers[i].name);
    }
    free(p->receivers);
    for (size_t i = 0; i < p->ninhibit; i++) {
        am_matchers_free(&p->inhibit[i].source);
        am_matchers_free(&p->inhibit[i].target);
        for (size_t k = 0; k < p->inhibit[i].nequal; k++) free(p->inhibit[i].equal[k]);
        free(p->inhibit[i].equal);
    }
    free(p->inhibit);
    free(p->external_url);
    free(p->grafana_url);
    free(p->data_dir);
    free(p->templates_dir);
    if (p->token) memset(p->token, 0, strlen(p->token));
    free(p->token);
    free(p);
}

struct am_receiver *am_plan_receiver(const struct am_plan *p, const char *name)
{
    for (size_t i = 0; i < p->nreceivers; i++)
        if (strcmp(p->receivers[i].name, name) == 0) return &p->receivers[i];
    return NULL;
}

static int matchers_from(struct pctx *c, const struct cfg_labels *l, struct am_matchers *out)
{
    for (size_t i = 0; i < l->n; i++) {
        char why[256];
        if (am_matchers_add_spec(out, l->names[i], l->values[i], why, sizeof(why)) < 0) {
            push(c, l->names[i]);
            int rc = fail(c, "%s", why);
            pop(c, 1);
            return rc;
        }
    }
    return 0;
}

static int route_group_by(struct pctx *c, const struct am_route_cfg *rc, struct am_route *r)
{
    const struct am_route *parent = r->parent;
    if (!rc->group_by_set) {
        r->group_all = parent && parent->group_all;
        for (size_t i = 0; parent && i < parent->ngroup_by; i++) {
            r->group_by = xrealloc(r->group_by, (r->ngroup_by + 1) * sizeof(char *));
            r->group_by[r->ngroup_by++] = xstrdup(parent->group_by[i]);
        }
        return 0;
    }
    push(c, "group_by");
    for (size_t i = 0; i < rc->group_by.n; i++) {
        const char *name = rc->group_by.v[i];
        push_item(c, i);
        int rc2 = 0;
        if (strcmp(name, "...") == 0) {
            if (rc->group_by.n > 1)
                rc2 = fail(c, "\"...\" (every label) must be the only entry of group_by");
            r->group_all = true;
        } else if (!label_name_valid(name, strlen(name))) {
            rc2 = fail(c, "\"%.100s\" is not a label name", name);
        } else {
            for (size_t k = 0; k < i && !rc2; k++)
                if (strcmp(rc->group_by.v[k], name) == 0)
                    rc2 = fail(c, "label %s is listed twice", name);
            r->group_by = xrealloc(r->group_by, (r->ngroup_by + 1) * sizeof(char *));
            r->group_by[r->ngroup_by++] = xstrdup(name);
        }
        pop(c, 1);
        if (rc2) {
            pop(c, 1);
            return -1;
        }
    }
    pop(c, 1);
    return 0;
}

/* A receiver that drops firing alerts unless they are sent again (an Alertmanager) needs a
 * route that resends an unchanged group at least twice in that time; an unchanged group is
 * flushed every group_interval and sent again once repeat_interval has passed. */
static int check_resend(struct pctx *c, const struct am_route *r, const struct am_plan *plan)
{
    const struct am_receiver *recv = &plan->receivers[r->receiver];
    double forgets = recv->ops->forgets_after_s ? recv->ops->forgets_after_s(recv->state) : 0;
    double resend = r->group_interval > r->repeat_interval ? r->group_interval : r->repeat_interval;
    if (forgets <= 0 || 2 * resend <= forgets) return 0;
    return fail(
        c,
        "receiver \"%.100s\" drops a firing alert %gs after it last got one (Alertmanager's "
        "resolve_timeout, or firing_valid_for), but this route resends only every %gs "
        "(group_interval %gs, repeat_interval %gs): give it a route of its own with both "
        "at most %gs, or raise firing_valid_for",
        recv->name, forgets, resend, r->group_interval, r->repeat_interval, forgets / 2);
}

/* Makes the route for rc below parent (the config path is on c's stack). */
static int build_route(struct pctx *c, const struct am_route_cfg *rc, struct am_route *parent,
                       struct am_plan *plan, struct am_route **out, int depth)
{
    struct am_route *r = xcalloc(1, sizeof(*r));
    *out = r;
    r->parent = parent;
    r->cont = rc->cont;
    if (depth > MAX_ROUTE_DEPTH) return fail(c, "routes nest deeper than %d", MAX_ROUTE_DEPTH);
    if (!parent && rc->matchers.n) {
        push(c, "matchers");
        int rc2 = fail(c, "the root route matches every alert: it cannot have matchers");
        pop(c, 1);
        return rc2;
    }
    if (!parent && rc->cont) {
        push(c, "continue");
        int rc2 = fail(c, "the root route cannot have continue");
        pop(c, 1);
        return rc2;
    }
    push(c, "matchers");
    int bad = matchers_from(c, &rc->matchers, &r->matchers);
    pop(c, 1);
    if (bad) return -1;
    if (rc->receiver) {
        struct am_receiver *recv = am_plan_receiver(plan, rc->receiver);
        if (!recv) {
            push(c, "receiver");
            int rc2 = fail(c, "no receiver is named \"%.100s\"", rc->receiver);
            pop(c, 1);
            return rc2;
        }
        r->receiver = (size_t)(recv - plan->receivers);
    } else if (parent) {
        r->receiver = parent->receiver;
    } else {
        push(c, "receiver");
        int rc2 = fail(c, "missing, and required at the root route");
        pop(c, 1);
        return rc2;
    }
    if (route_group_by(c, rc, r) < 0) return -1;
    r->group_wait = rc->group_wait_set ? (double)rc->group_wait_ms / 1000.0
                    : parent           ? parent->group_wait
                                       : 30.0;
    r->group_interval = rc->group_interval_set ? (double)rc->group_interval_ms / 1000.0
                        : parent               ? parent->group_interval
                                               : 300.0;
    r->repeat_interval = rc->repeat_interval_set ? (double)rc->repeat_interval_ms / 1000.0
                         : parent                ? parent->repeat_interval
                                                 : 14400.0;
    if (check_resend(c, r, plan) < 0) return -1;
    char *mt = am_matchers_text(&r->matchers);
    if (!mt) return fail(c, "matchers: longer than %zu bytes as text", (size_t)CAP_SELECTOR_TEXT);
    r->key = parent ? xasprintf("%s/%s", parent->key, mt) : xstrdup("{}");
    free(mt);
    const struct am_route_cfg *kids = rc->routes.items;
    if (rc->routes.n) r->kids = xcalloc(rc->routes.n, sizeof(*r->kids));
    push(c, "routes");
    for (size_t i = 0; i < rc->routes.n; i++) {
        push_item(c, i);
        int rc2 = build_route(c, &kids[i], r, plan, &r->kids[r->nkids++], depth + 1);
        pop(c, 1);
        if (rc2) {
            pop(c, 1);
            return -1;
        }
    }
    pop(c, 1);
    return 0;
}

/* Makes the relative paths of a receiver's settings (keys named *_file or *_dir) relative to
 * the config file, as the section's own paths and rule files are. The loaded config owns the
 * strings and keeps owning the replacements, so a notifier may borrow them as long as it. */
static void resolve_file_keys(const struct cfg_key *keys, void *cfg, const char *dir)
{
    for (const struct cfg_key *k = keys; k->name && dir && dir[0]; k++) {
        char **p = (char **)((char *)cfg + k->offset);
        if (k->type == CFG_TABLE) {
            resolve_file_keys(k->sub, (char *)cfg + k->offset, dir);
        } else if (k->type == CFG_STRING && *p && (*p)[0] && (*p)[0] != '/' &&
                   (str_has_suffix(k->name, "_file") || str_has_suffix(k->name, "_dir"))) {
            char *abs = xasprintf("%s/%s", dir, *p);
            free(*p);
            *p = abs;
        }
    }
}

static int build_receivers(struct pctx *c, const struct alerting_config *ac,
                           const struct manager_env *env, struct am_plan *plan)
{
    const struct am_receiver_cfg *rcv = ac->receivers.items;
    plan->receivers = xcalloc(ac->receivers.n ? ac->receivers.n : 1, sizeof(*plan->receivers));
    push(c, "receivers");
    for (size_t i = 0; i < ac->receivers.n; i++) {
        const struct am_receiver_cfg *r = &rcv[i];
        push_item(c, i);
        int rc = 0;
        size_t given = 0, type = 0;
        for (size_t t = 0; t < notifier_table_len && t < AM_MAX_TYPES; t++)
            if (r->types[t]) given++, type = t;
        char types[256] = "";
        for (size_t t = 0, n = 0; t < notifier_table_len && t < AM_MAX_TYPES; t++)
            n += (size_t)snprintf(types + n, sizeof(types) - n, "%s%s", t ? ", " : "",
                                  notifier_table[t]->type);
        if (am_plan_receiver(plan, r->name)) {
            push(c, "name");
            rc = fail(c, "receiver \"%.100s\" is defined twice", r->name);
            pop(c, 1);
        } else if (given != 1) {
            rc =
                fail(c, "a receiver needs exactly one notifier type (%s), found %zu", types, given);
        }
        if (rc == 0) {
            const struct notifier_ops *ops = notifier_table[type];
            struct am_receiver *out = &plan->receivers[plan->nreceivers++];
            out->name = xstrdup(r->name);
            out->ops = ops;
            out->send_resolved = r->send_resolved;
            out->max_alerts = (size_t)r->max_alerts;
            out->timeout_ms = r->timeout_ms;
            struct notifier_env ne = {.loop = env->loop,
                                      .http = env->http,
                                      .templates_dir = plan->templates_dir,
                                      .timeout_ms = r->timeout_ms};
            char why[768] = "";
            resolve_file_keys(ops->keys, r->types[type], env->config_dir);
            if (ops->create(r->types[type], &ne, &out->state, why, sizeof(why)) < 0) {
                out->state = NULL;
                push(c, ops->type);
                rc = fail(c, "%s", why[0] ? why : "refused");
                pop(c, 1);
            }
        }
        pop(c, 1);
        if (rc) {
            pop(c, 1);
            return -1;
        }
    }
    pop(c, 1);
    return 0;
}

static int build_inhibit(struct pctx *c, const struct alerting_config *ac, struct am_plan *plan)
{
    const struct am_inhibit_cfg *ic = ac->inhibit_rules.items;
    plan->inhibit = xcalloc(ac->inhibit_rules.n ? ac->inhibit_rules.n : 1, sizeof(*plan->inhibit));
    push(c, "inhibit_rules");
    int rc = 0;
    for (size_t i = 0; i < ac->inhibit_rules.n && rc == 0; i++) {
        struct am_inhibit *r = &plan->inhibit[plan->ninhibit++];
        push_item(c, i);
        push(c, "source_matchers");
        rc = ic[i].source_matchers.n ? matchers_from(c, &ic[i].source_matchers, &r->source)
                                     : fail(c, "needs at least one matcher");
        pop(c, 1);
        push(c, "target_matchers");
        if (rc == 0)
            rc = ic[i].target_matchers.n ? matchers_from(c, &ic[i].target_matchers, &r->target)
                                         : fail(c, "needs at least one matcher");
        pop(c, 1);
        push(c, "equal");
        r->equal = xcalloc(ic[i].equal.n ? ic[i].equal.n : 1, sizeof(char *));
        for (size_t k = 0; k < ic[i].equal.n && rc == 0; k++) {
            const char *name = ic[i].equal.v[k];
            push_item(c, k);
            if (!label_name_valid(name, strlen(name)))
                rc = fail(c, "\"%.100s\" is not a label name", name);
            else
                r->equal[r->nequal++] = xstrdup(name);
            pop(c, 1);
        }
        pop(c, 2);
    }
    pop(c, 1);
    return rc;
}

/* path made absolute against dir (when relative and dir is given). */
static char *resolve_path(const char *dir, const char *path)
{
    if (path[0] == '/' || !dir || !dir[0]) return xstrdup(path);
    return xasprintf("%s/%s", dir, path);
}

static int read_token(struct pctx *c, const char *dir, const char *file, char **out)
{
    char *path = resolve_path(dir, file);
    char *data = NULL;
    size_t len = 0;
    int rc = file_read_all(path, CAP_SECRET_FILE, &data, &len);
    push(c, "api_token_file");
    if (rc < 0) {
        char why[64];
        fail(c, "%s: cannot read: %s", path,
             file_read_error(rc, CAP_SECRET_FILE, why, sizeof(why)));
    } else {
        while (len && isspace((unsigned char)data[len - 1])) data[--len] = '\0';
        size_t start = 0;
        while (start < len && isspace((unsigned char)data[start])) start++;
        if (start == len) {
            rc = fail(c, "%s is empty", path);
        } else {
            *out = xstrdup(data + start);
        }
        memset(data, 0, len);
    }
    pop(c, 1);
    free(data);
    free(path);
    return rc < 0 ? -1 : 0;
}

static char *default_external_url(unsigned port)
{
    char host[HOST_NAME_MAX + 1] = "localhost";
    if (gethostname(host, sizeof(host)) < 0 || !host[0]) snprintf(host, sizeof(host), "localhost");
    host[HOST_NAME_MAX] = '\0';
    return xasprintf("http://%s:%u", host, port ? port : 8488);
}

static int build_plan(struct pctx *c, const struct alerting_config *ac,
                      const struct manager_env *env, const struct am_manager *current,
                      struct am_plan *p)
{
    const char *dir = env->config_dir;
    p->data_dir = resolve_path(dir, ac->data_dir);
    if (current && strcmp(current->plan->data_dir, p->data_dir) != 0) {
        push(c, "data_dir");
        int rc = fail(c, "cannot change on reload (from %s): restart drwatch to move it",
                      current->plan->data_dir);
        pop(c, 1);
        return rc;
    }
    p->templates_dir =
        ac->templates_dir ? resolve_path(dir, ac->templates_dir) : xstrdup("alerts/templates");
    p->external_url =
        ac->external_url ? xstrdup(ac->external_url) : default_external_url(env->listen_port);
    size_t ul = strlen(p->external_url);
    while (ul > 1 && p->external_url[ul - 1] == '/') p->external_url[--ul] = '\0';
    p->grafana_url = ac->grafana_url ? xstrdup(ac->grafana_url) : NULL;
    p->resolve_timeout = (double)ac->resolve_timeout_ms / 1000.0;
    p->outbox_max_entries = (size_t)ac->outbox_max_entries;
    p->outbox_max_bytes = (size_t)ac->outbox_max_bytes;
    p->retry_min = (double)ac->retry_min_ms / 1000.0;
    p->retry_max = (double)ac->retry_max_ms / 1000.0;
    if (p->retry_max < p->retry_min) {
        push(c, "retry_max");
        int rc = fail(c, "is shorter than retry_min");
        pop(c, 1);
        return rc;
    }
    if (ac->api_token_file && read_token(c, dir, ac->api_token_file, &p->token) < 0) return -1;
    if (build_receivers(c, ac, env, p) < 0) return -1;
    push(c, "route");
    int rc = build_route(c, &ac->route, NULL, p, &p->root, 0);
    pop(c, 1);
    if (rc < 0) return -1;
    return build_inhibit(c, ac, p);
}

int manager_prepare(const struct config *cfg, const struct manager_env *env,
                    const struct am_manager *current, struct am_plan **out, char *err,
                    size_t errlen)
{
    bool present;
    const struct alerting_config *ac = config_module(cfg, ALERTING_SECTION, &present);
    *out = NULL;
    if (!ac || !present) return 0;
    struct pctx c = {.file = config_path(cfg), .err = err, .errlen = errlen};
    if (file_read_all(c.file, CAP_CONFIG_FILE, &c.src, &c.len) < 0) c.src = NULL;
    push(&c, ALERTING_SECTION);
    struct am_plan *p = xcalloc(1, sizeof(*p));
    int rc = build_plan(&c, ac, env, current, p);
    free(c.src);
    if (rc < 0) {
        manager_plan_free(p);
        return -1;
    }
    *out = p;
    return 0;
}
