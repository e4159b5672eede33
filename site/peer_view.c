/* peer_view.c: this site's view for the peer (a fixed table of the latest lookups and probes,
 * rendered with jansson), and the mapping of a peer's view to drwatch_peer_* samples.
 *
 * The peer's document is outside input: it is parsed by jansson (duplicate keys refused), every
 * string is capped, every number checked finite and in range, and the number of entries is
 * capped, so a hostile or broken peer costs at most a bounded set of samples. */
#include "peer_view.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "collector.h"
#include "gslb_class.h"
#include "xalloc.h"

struct lookup_entry {
    const void *owner;
    char name[PEERVIEW_MAX_TEXT], resolver[PEERVIEW_MAX_TEXT], class_name[16], status[32];
    struct peerview_lookup v; /* strings point into the arrays above */
};

struct probe_entry {
    const void *owner;
    char site[16], probe[PEERVIEW_MAX_TEXT], status[16], reason[48];
    struct peerview_probe v;
};

struct peerview {
    struct lookup_entry lookups[PEERVIEW_MAX_LOOKUPS];
    size_t nlookups;
    struct probe_entry probes[PEERVIEW_MAX_PROBES];
    size_t nprobes;
    char state[64];
};

struct peerview *peerview_new(void)
{
    return xcalloc(1, sizeof(struct peerview));
}

void peerview_free(struct peerview *v)
{
    free(v);
}

/* ---- serving side ---- */

void peerview_put_lookup(struct peerview *view, const void *owner, const struct peerview_lookup *l)
{
    struct lookup_entry *e = NULL;
    for (size_t i = 0; i < view->nlookups && !e; i++)
        if (view->lookups[i].owner == owner) e = &view->lookups[i];
    if (!e) {
        if (view->nlookups == PEERVIEW_MAX_LOOKUPS) return;
        e = &view->lookups[view->nlookups++];
    }
    e->owner = owner;
    e->v = *l;
    snprintf(e->name, sizeof(e->name), "%s", l->name ? l->name : "");
    snprintf(e->resolver, sizeof(e->resolver), "%s", l->resolver ? l->resolver : "");
    snprintf(e->class_name, sizeof(e->class_name), "%s", l->class_name ? l->class_name : "");
    snprintf(e->status, sizeof(e->status), "%s", l->status ? l->status : "");
    e->v.name = e->name;
    e->v.resolver = e->resolver;
    e->v.class_name = e->class_name;
    e->v.status = e->status;
    if (e->v.naddrs > PEERVIEW_MAX_ADDRS) e->v.naddrs = PEERVIEW_MAX_ADDRS;
}

void peerview_put_probe(struct peerview *view, const void *owner, const struct peerview_probe *p)
{
    struct probe_entry *e = NULL;
    for (size_t i = 0; i < view->nprobes && !e; i++)
        if (view->probes[i].owner == owner) e = &view->probes[i];
    if (!e) {
        if (view->nprobes == PEERVIEW_MAX_PROBES) return;
        e = &view->probes[view->nprobes++];
    }
    e->owner = owner;
    e->v = *p;
    snprintf(e->site, sizeof(e->site), "%s", p->site ? p->site : "");
    snprintf(e->probe, sizeof(e->probe), "%s", p->probe ? p->probe : "");
    snprintf(e->status, sizeof(e->status), "%s", p->status ? p->status : "");
    snprintf(e->reason, sizeof(e->reason), "%s", p->reason ? p->reason : "");
    e->v.site = e->site;
    e->v.probe = e->probe;
    e->v.status = e->status;
    e->v.reason = e->reason;
}

void peerview_drop(struct peerview *view, const void *owner)
{
    for (size_t i = 0; i < view->nlookups; i++) {
        if (view->lookups[i].owner != owner) continue;
        memmove(&view->lookups[i], &view->lookups[i + 1],
                (view->nlookups - i - 1) * sizeof(view->lookups[0]));
        view->nlookups--;
        /* The moved entries' string pointers point into their old slots: re-point them. */
        for (size_t k = i; k < view->nlookups; k++) {
            struct lookup_entry *e = &view->lookups[k];
            e->v.name = e->name, e->v.resolver = e->resolver;
            e->v.class_name = e->class_name, e->v.status = e->status;
        }
        break;
    }
    for (size_t i = 0; i < view->nprobes; i++) {
        if (view->probes[i].owner != owner) continue;
        memmove(&view->probes[i], &view->probes[i + 1],
                (view->nprobes - i - 1) * sizeof(view->probes[0]));
        view->nprobes--;
        for (size_t k = i; k < view->nprobes; k++) {
            struct probe_entry *e = &view->probes[k];
            e->v.site = e->site, e->v.probe = e->probe;
            e->v.status = e->status, e->v.reason = e->reason;
        }
        break;
    }
}

void peerview_set_state(struct peerview *view, const char *state)
{
    snprintf(view->state, sizeof(view->state), "%s", state ? state : "");
}

static json_t *json_time(double t)
{
    return isfinite(t) ? json_real(t) : json_null();
}

static json_t *render_lookup(const struct peerview_lookup *l)
{
    json_t *o = json_object(), *addrs = json_array();
    for (size_t i = 0; i < l->naddrs; i++) {
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &l->addrs[i], ip, sizeof(ip));
        json_array_append_new(addrs, json_string(ip));
    }
    json_object_set_new(o, "name", json_string(l->name));
    json_object_set_new(o, "resolver", json_string(l->resolver));
    json_object_set_new(o, "class", json_string(l->class_name));
    json_object_set_new(o, "status", json_string(l->status));
    json_object_set_new(o, "addresses", addrs);
    json_object_set_new(o, "ttl", l->ttl >= 0 ? json_integer(l->ttl) : json_null());
    json_object_set_new(o, "held", json_integer((json_int_t)l->held));
    json_object_set_new(o, "changes", json_integer((json_int_t)l->changes));
    json_object_set_new(o, "since", json_time(l->since));
    json_object_set_new(o, "observed", json_time(l->observed));
    json_object_set_new(o, "duration", json_time(l->duration_s));
    return o;
}

static json_t *render_probe(const struct peerview_probe *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "site", json_string(p->site));
    json_object_set_new(o, "probe", json_string(p->probe));
    json_object_set_new(o, "status", json_string(p->status));
    json_object_set_new(o, "reason", json_string(p->reason));
    json_object_set_new(o, "http_status", json_integer(p->http_status));
    json_object_set_new(o, "held", json_integer((json_int_t)p->held));
    json_object_set_new(o, "changes", json_integer((json_int_t)p->changes));
    json_object_set_new(o, "observed", json_time(p->observed));
    json_object_set_new(o, "duration", json_time(p->duration_s));
    return o;
}

int peerview_render(const struct peerview *view, struct buf *out, const char *site, double now)
{
    json_t *root = json_object(), *lookups = json_array(), *probes = json_array();
    json_object_set_new(root, "format", json_string(PEERVIEW_FORMAT));
    json_object_set_new(root, "site", json_string(site));
    json_object_set_new(root, "version", json_string(DRWATCH_VERSION));
    json_object_set_new(root, "revision", json_string(DRWATCH_REVISION));
    json_object_set_new(root, "time", json_time(now));
    json_object_set_new(root, "state", view->state[0] ? json_string(view->state) : json_null());
    for (size_t i = 0; i < view->nlookups; i++)
        json_array_append_new(lookups, render_lookup(&view->lookups[i].v));
    for (size_t i = 0; i < view->nprobes; i++)
        json_array_append_new(probes, render_probe(&view->probes[i].v));
    json_object_set_new(root, "gslb", lookups);
    json_object_set_new(root, "probes", probes);
    char *text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(root);
    int rc = text ? buf_puts(out, text) : -ENOMEM;
    if (rc == 0) rc = buf_putc(out, '\n');
    free(text);
    return rc;
}

/* ---- reading side ---- */

struct parse {
    const char *site;
    double time;
    const char **reason;
    char *detail;
    size_t detaillen;
};

static int bad(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct parse *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->detail, p->detaillen, fmt, ap);
    va_end(ap);
    *p->reason = "bad_view";
    return -1;
}

/* A string member: absent gives def (NULL when required); too long or not a string fails. */
static int get_str(struct parse *p, const json_t *o, const char *key, const char *def,
                   const char **out)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (!def) return bad(p, "\"%s\" is missing", key);
        *out = def;
        return 0;
    }
    if (!json_is_string(v)) return bad(p, "\"%s\" is not a string", key);
    if (json_string_length(v) > PEERVIEW_MAX_TEXT ||
        strlen(json_string_value(v)) != json_string_length(v))
        return bad(p, "\"%s\" is longer than %d bytes or holds a NUL", key, PEERVIEW_MAX_TEXT);
    *out = json_string_value(v);
    return 0;
}

/* A finite number member in [min, max]; absent gives def (NAN: required). */
static int get_num(struct parse *p, const json_t *o, const char *key, double def, double min,
                   double max, double *out)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (isnan(def)) return bad(p, "\"%s\" is missing", key);
        *out = def;
        return 0;
    }
    if (!json_is_number(v)) return bad(p, "\"%s\" is not a number", key);
    double d = json_number_value(v);
    if (!isfinite(d) || d < min || d > max) return bad(p, "\"%s\" is out of range (%g)", key, d);
    *out = d;
    return 0;
}

/* A short word such as a DNS status: [a-z0-9_]{1,32}. */
static bool word_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 32) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

static struct metric_family *gauge(struct metric_set *m, const char *name, const char *help,
                                   const char *unit)
{
    struct metric_family *f = mset_family(m, name, METRIC_GAUGE, help);
    if (unit) mset_family_set_unit(m, f, unit);
    return f;
}

static int map_lookup(struct parse *p, const json_t *o, struct metric_set *m)
{
    const char *resolver, *cls, *status;
    double held, observed;
    if (!json_is_object(o)) return bad(p, "a gslb entry is not an object");
    if (get_str(p, o, "resolver", NULL, &resolver) || get_str(p, o, "class", NULL, &cls) ||
        get_str(p, o, "status", NULL, &status) || get_num(p, o, "held", 0, 0, 1e15, &held) ||
        get_num(p, o, "observed", p->time, 0, 1e11, &observed))
        return -1;
    int c = gslb_class_parse(cls, strlen(cls));
    if (c < 0) return bad(p, "unknown class \"%.32s\"", cls);
    if (!*resolver) return bad(p, "empty resolver");
    if (!word_ok(status)) return bad(p, "bad status \"%.32s\"", status);
    struct metric_family *fc = gauge(
        m, "drwatch_peer_gslb_answer_class",
        "The peer's own GSLB answer class per resolver: 1 for the class of its last answer, 0 "
        "for the others (gold, golddr, both, none, unknown, error).",
        NULL);
    for (int k = 0; k < GSLB_CLASS_COUNT; k++)
        mset_addv(m, fc, k == c, "site", p->site, "resolver", resolver, "class",
                  gslb_class_name((enum gslb_class)k), LABELS_END);
    mset_addv(m,
              mset_family(m, "drwatch_peer_gslb_lookup_info", METRIC_INFO,
                          "The DNS status of the peer's last lookup per resolver (ok, nodata, "
                          "nxdomain, servfail, refused, timeout, ...)."),
              1, "site", p->site, "resolver", resolver, "status", status, LABELS_END);
    mset_addv(m,
              gauge(m, "drwatch_peer_gslb_class_held_samples",
                    "Consecutive samples the peer's current GSLB class has held, per resolver.",
                    NULL),
              held, "site", p->site, "resolver", resolver, LABELS_END);
    mset_addv(m,
              gauge(m, "drwatch_peer_gslb_observation_age_seconds",
                    "Age of the peer's last GSLB lookup when the peer answered, per resolver.",
                    "seconds"),
              p->time - observed, "site", p->site, "resolver", resolver, LABELS_END);
    return 0;
}

static int map_probe(struct parse *p, const json_t *o, struct metric_set *m)
{
    const char *site, *probe, *status;
    double held, observed;
    if (!json_is_object(o)) return bad(p, "a probe entry is not an object");
    if (get_str(p, o, "site", NULL, &site) || get_str(p, o, "probe", NULL, &probe) ||
        get_str(p, o, "status", NULL, &status) || get_num(p, o, "held", 0, 0, 1e15, &held) ||
        get_num(p, o, "observed", p->time, 0, 1e11, &observed))
        return -1;
    if (strcmp(site, "gold") != 0 && strcmp(site, "golddr") != 0)
        return bad(p, "unknown probe site \"%.32s\"", site);
    int st = gslb_probe_status_parse(status, strlen(status));
    if (st < 0) return bad(p, "unknown probe status \"%.32s\"", status);
    if (!*probe) return bad(p, "empty probe");
    struct metric_family *fs =
        gauge(m, "drwatch_peer_probe_status",
              "The peer's own /health probe of each site: 1 for its last status, 0 for the "
              "others (up, down, wrong_body).",
              NULL);
    for (int k = 0; k < GSLB_PROBE_STATUS_COUNT; k++)
        mset_addv(m, fs, k == st, "site", p->site, "probe_site", site, "probe", probe, "status",
                  gslb_probe_status_name((enum gslb_probe_status)k), LABELS_END);
    mset_addv(m,
              gauge(m, "drwatch_peer_probe_status_held_samples",
                    "Consecutive samples the peer's probe status has held.", NULL),
              held, "site", p->site, "probe_site", site, "probe", probe, LABELS_END);
    mset_addv(m,
              gauge(m, "drwatch_peer_probe_observation_age_seconds",
                    "Age of the peer's last probe when the peer answered.", "seconds"),
              p->time - observed, "site", p->site, "probe_site", site, "probe", probe, LABELS_END);
    return 0;
}

static int map_list(struct parse *p, const json_t *root, const char *key, size_t max,
                    int (*fn)(struct parse *, const json_t *, struct metric_set *),
                    struct metric_set *m)
{
    const json_t *a = json_object_get(root, key);
    if (!a || json_is_null(a)) return 0;
    if (!json_is_array(a)) return bad(p, "\"%s\" is not an array", key);
    if (json_array_size(a) > max)
        return bad(p, "\"%s\" has %zu entries, more than %zu", key, json_array_size(a), max);
    for (size_t i = 0; i < json_array_size(a); i++)
        if (fn(p, json_array_get(a, i), m)) return -1;
    return 0;
}

static int map_root(struct parse *p, const json_t *root, const char *expect_site, double local_time,
                    double rtt_s, struct metric_set *m)
{
    const char *format, *site, *version, *revision, *state;
    if (!json_is_object(root)) return bad(p, "the document is not a JSON object");
    if (get_str(p, root, "format", NULL, &format)) return -1;
    if (strcmp(format, PEERVIEW_FORMAT) != 0)
        return bad(p, "format \"%.64s\", expected \"%s\"", format, PEERVIEW_FORMAT);
    if (get_str(p, root, "site", NULL, &site) || get_num(p, root, "time", NAN, 0, 1e11, &p->time) ||
        get_str(p, root, "version", "", &version) || get_str(p, root, "revision", "", &revision) ||
        get_str(p, root, "state", "", &state))
        return -1;
    if (strcmp(site, expect_site) != 0) {
        snprintf(p->detail, p->detaillen, "the peer says it is site \"%.32s\", expected \"%s\"",
                 site, expect_site);
        *p->reason = "wrong_site";
        return -1;
    }
    p->site = expect_site;
    mset_addv(m,
              gauge(m, "drwatch_peer_rtt_seconds",
                    "Round-trip time of the last request to the peer's view over mTLS "
                    "(connection and TLS handshake included).",
                    "seconds"),
              rtt_s, "site", p->site, LABELS_END);
    mset_addv(m,
              gauge(m, "drwatch_peer_clock_skew_seconds",
                    "The peer's clock minus this drwatch's clock, estimated at the middle of "
                    "the request (accurate to about half the round trip).",
                    "seconds"),
              p->time - local_time, "site", p->site, LABELS_END);
    mset_addv(m,
              mset_family(m, "drwatch_peer_info", METRIC_INFO,
                          "The peer drwatch: its version, revision and DR state (the "
                          "last_stable_state of its site's switchover-state ConfigMap; empty "
                          "when it has none)."),
              1, "site", p->site, "version", version, "revision", revision, "state", state,
              LABELS_END);
    if (map_list(p, root, "gslb", PEERVIEW_MAX_LOOKUPS, map_lookup, m)) return -1;
    return map_list(p, root, "probes", PEERVIEW_MAX_PROBES, map_probe, m);
}

int peerview_to_metrics(const char *body, size_t len, const char *expect_site, double local_time,
                        double rtt_s, struct metric_set *m, const char **reason, char *detail,
                        size_t detaillen)
{
    struct parse p = {.reason = reason, .detail = detail, .detaillen = detaillen};
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(detail, detaillen, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        *reason = "bad_json";
        return -1;
    }
    int rc = map_root(&p, root, expect_site, local_time, rtt_s, m);
    json_decref(root);
    return rc;
}
